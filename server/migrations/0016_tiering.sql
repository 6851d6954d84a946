-- Tiering (issue 8): when each study was last opened, and which blobs live in the cold
-- store. Portable SQL (SQLite and PostgreSQL).

-- RFC 3339 UTC; NULL: never opened since this migration (the policy then uses updated_at).
-- Written at most once an hour per study, in batches with the audit records.
ALTER TABLE studies ADD COLUMN last_opened_at TEXT;

-- Blobs moved to the cold tier (a blob key absent here is hot). Per key, not per
-- instance: every instance with these bytes (a taken-over copy, a kept conflict) reads
-- the same copy. A row is inserted only after the cold copy is written and its SHA-256
-- verified; the hot copy is deleted only after the row is committed.
CREATE TABLE blob_tiers (
    blob_key  TEXT PRIMARY KEY,
    tier      TEXT NOT NULL,   -- 'cold'
    moved_at  TEXT NOT NULL
);
