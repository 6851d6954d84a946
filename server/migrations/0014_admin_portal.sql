-- Admin portal (issue 8). Portable SQL (SQLite now, PostgreSQL later).

-- The hospital's province (the seven of Health Region 8, or another).
ALTER TABLE hospitals ADD COLUMN province TEXT NOT NULL DEFAULT '';

-- What an API token is for, as its administrator wrote it.
ALTER TABLE credentials ADD COLUMN note TEXT NOT NULL DEFAULT '';
CREATE INDEX credentials_user ON credentials (user_id, kind);

-- The audit search's filters.
CREATE INDEX audit_actor ON audit_log (actor, at);
CREATE INDEX audit_patient ON audit_log (patient_id, at);
CREATE INDEX audit_study ON audit_log (study_uid, at);

-- Per-hospital statistics: instances per day.
CREATE INDEX instances_hospital_received ON instances (hospital_id, received_at);
