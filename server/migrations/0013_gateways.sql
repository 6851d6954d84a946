-- Hospital gateways (issue 8).
--
-- On the regional server: `gateways`, one row per gateway token holder (a user of role
-- 'gateway' of one hospital), with the last status report it sent.
--
-- On a gateway (`rangsi gateway`, which keeps its queue in an index of its own):
-- `gateway_queue`, one row per received instance with its forwarding state, and
-- `gateway_state`, a few named values (last error, last success). Both tables exist
-- in every index and stay empty where unused.

CREATE TABLE gateways (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL UNIQUE,
    hospital_id  INTEGER NOT NULL REFERENCES hospitals(id),
    user_id      INTEGER NOT NULL REFERENCES users(id),
    created_at   TEXT NOT NULL,
    reported_at  TEXT,                    -- RFC 3339 of the last report, NULL = never
    report       TEXT                     -- the last report, JSON (wire GatewayReport)
);

CREATE TABLE gateway_queue (
    instance_id  INTEGER PRIMARY KEY,     -- instances.id in the gateway's own index
    state        TEXT NOT NULL,           -- 'pending' | 'done' | 'failed'
    solo         INTEGER NOT NULL DEFAULT 0,  -- send alone (a batch could not tell it apart)
    attempts     INTEGER NOT NULL DEFAULT 0,
    enqueued_at  TEXT NOT NULL,
    done_at      TEXT,
    last_error   TEXT
);
CREATE INDEX gateway_queue_state ON gateway_queue (state, instance_id);

CREATE TABLE gateway_state (
    name   TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);
