-- Several `rangsi serve` nodes on one database (issue 8): leases that let exactly one
-- node run a background job at a time, claims on webhook deliveries so that one node
-- sends each, and the share-link failure counters every node reads. Portable SQL.
-- Times here are Unix milliseconds (integers compare the same on both engines); the
-- nodes' clocks are assumed NTP-synchronised to well within a lease's lifetime.

-- A named lease ('tier', 'webhooks'): held by `holder` (a node id) until `expires_at`.
-- Taken or renewed by one atomic INSERT … ON CONFLICT … WHERE statement (index/leases.rs).
CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);

-- The node sending a delivery, and until when its claim holds (a node that died leaves
-- a claim that expires; the sweep under the 'webhooks' lease hands it to a live node).
ALTER TABLE webhook_deliveries ADD COLUMN claimed_by TEXT;
ALTER TABLE webhook_deliveries ADD COLUMN claimed_until INTEGER;

-- Failed share-link openings (wrong PIN / birth date per token hash, failures per
-- address), counted in a sliding window by every node alike.
CREATE TABLE share_failures (
    id  INTEGER PRIMARY KEY,
    subject TEXT NOT NULL,  -- "t:" token hash or "a:" address
    at  INTEGER NOT NULL
);
CREATE INDEX share_failures_key ON share_failures (subject, at);
