-- Notifications of report events to the hospital that asked for the reading (issue 7):
-- in the app (per hospital, read per user) and, where the hospital registered one, by
-- a webhook (so it can forward to its HIS or a chat channel). A delivery row is written
-- in the same transaction as its notification and retried until delivered or given up,
-- across restarts.

CREATE TABLE notifications (
    id          INTEGER PRIMARY KEY,
    hospital_id INTEGER NOT NULL REFERENCES hospitals(id),
    kind        TEXT NOT NULL,          -- report-preliminary | report-final | report-amended
    study_uid   TEXT NOT NULL,
    report_id   INTEGER REFERENCES reports(id),
    critical    INTEGER NOT NULL DEFAULT 0,
    text        TEXT NOT NULL,
    payload     TEXT NOT NULL,          -- the webhook's JSON body
    created_at  TEXT NOT NULL
);
CREATE INDEX notifications_hospital ON notifications (hospital_id, id);

CREATE TABLE notification_reads (
    notification_id INTEGER NOT NULL REFERENCES notifications(id),
    user_id         INTEGER NOT NULL REFERENCES users(id),
    read_at         TEXT NOT NULL,
    PRIMARY KEY (notification_id, user_id)
);

CREATE TABLE hospital_webhooks (
    hospital_id INTEGER PRIMARY KEY REFERENCES hospitals(id),
    url         TEXT NOT NULL,
    secret      TEXT NOT NULL,          -- HMAC-SHA256 key of X-Rangsi-Signature
    created_at  TEXT NOT NULL
);

CREATE TABLE webhook_deliveries (
    id              INTEGER PRIMARY KEY,
    notification_id INTEGER NOT NULL REFERENCES notifications(id),
    url             TEXT NOT NULL,
    status          TEXT NOT NULL,      -- pending | delivered | failed
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT NOT NULL DEFAULT '',
    updated_at      TEXT NOT NULL
);
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (status);
