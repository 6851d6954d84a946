-- Rangsi index, version 1. Portable SQL (SQLite now, PostgreSQL later): TEXT dates as
-- DICOM DA/TM strings, INTEGER ids, no engine-specific types.

CREATE TABLE hospitals (
    id          INTEGER PRIMARY KEY,
    code        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    created_at  TEXT NOT NULL
);

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL,
    hospital_id   INTEGER REFERENCES hospitals(id),
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    TEXT NOT NULL
);

-- API tokens and browser sessions: only a SHA-256 of the secret is stored.
CREATE TABLE credentials (
    id          INTEGER PRIMARY KEY,
    kind        TEXT NOT NULL,            -- 'token' | 'session'
    secret_hash TEXT NOT NULL UNIQUE,
    user_id     INTEGER NOT NULL REFERENCES users(id),
    created_at  TEXT NOT NULL,
    expires_at  TEXT                      -- RFC 3339, NULL = never
);

CREATE TABLE ae_titles (
    id          INTEGER PRIMARY KEY,
    ae_title    TEXT NOT NULL UNIQUE,
    hospital_id INTEGER NOT NULL REFERENCES hospitals(id),
    host        TEXT,
    port        INTEGER
);

CREATE TABLE patients (
    id           INTEGER PRIMARY KEY,
    hospital_id  INTEGER NOT NULL REFERENCES hospitals(id),
    patient_id   TEXT NOT NULL,
    issuer       TEXT NOT NULL DEFAULT '',
    patient_name TEXT NOT NULL DEFAULT '',
    -- lower-cased name components of every component group, space separated with a
    -- leading space: ' doe john สมชาย ใจดี'; fuzzy matching is LIKE '% tok%'.
    name_search  TEXT NOT NULL DEFAULT '',
    birth_date   TEXT NOT NULL DEFAULT '',
    sex          TEXT NOT NULL DEFAULT '',
    UNIQUE (hospital_id, patient_id, issuer)
);

CREATE TABLE studies (
    id                  INTEGER PRIMARY KEY,
    hospital_id         INTEGER NOT NULL REFERENCES hospitals(id),
    patient_ref         INTEGER NOT NULL REFERENCES patients(id),
    study_uid           TEXT NOT NULL,
    study_date          TEXT NOT NULL DEFAULT '',
    study_time          TEXT NOT NULL DEFAULT '',
    accession           TEXT NOT NULL DEFAULT '',
    study_id            TEXT NOT NULL DEFAULT '',
    description         TEXT NOT NULL DEFAULT '',
    referring_physician TEXT NOT NULL DEFAULT '',
    modalities          TEXT NOT NULL DEFAULT '',   -- '\'-joined, sorted
    num_series          INTEGER NOT NULL DEFAULT 0,
    num_instances       INTEGER NOT NULL DEFAULT 0,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL,
    UNIQUE (hospital_id, study_uid)
);
CREATE INDEX studies_uid ON studies (study_uid);
CREATE INDEX studies_date ON studies (study_date);
CREATE INDEX studies_patient ON studies (patient_ref);
CREATE INDEX studies_accession ON studies (accession);

CREATE TABLE series (
    id              INTEGER PRIMARY KEY,
    study_ref       INTEGER NOT NULL REFERENCES studies(id),
    series_uid      TEXT NOT NULL,
    modality        TEXT NOT NULL DEFAULT '',
    series_number   INTEGER,
    description     TEXT NOT NULL DEFAULT '',
    body_part       TEXT NOT NULL DEFAULT '',
    pps_start_date  TEXT NOT NULL DEFAULT '',
    pps_start_time  TEXT NOT NULL DEFAULT '',
    num_instances   INTEGER NOT NULL DEFAULT 0,
    UNIQUE (study_ref, series_uid)
);
CREATE INDEX series_uid ON series (series_uid);

CREATE TABLE instances (
    id               INTEGER PRIMARY KEY,
    series_ref       INTEGER NOT NULL REFERENCES series(id),
    hospital_id      INTEGER NOT NULL REFERENCES hospitals(id),
    sop_uid          TEXT NOT NULL,
    sop_class_uid    TEXT NOT NULL,
    instance_number  INTEGER,
    transfer_syntax  TEXT NOT NULL,
    rows             INTEGER,
    columns          INTEGER,
    bits_allocated   INTEGER,
    number_of_frames INTEGER,
    blob_key         TEXT NOT NULL,
    size_bytes       INTEGER NOT NULL,
    sha256           TEXT NOT NULL,
    dataset_offset   INTEGER NOT NULL,   -- where the data set starts after the file meta
    pixel_layout     TEXT,               -- JSON: frame byte ranges in the file
    metadata         TEXT NOT NULL,      -- DICOM JSON, BulkDataURIs relative ({{BASE}})
    received_at      TEXT NOT NULL,
    source           TEXT NOT NULL,      -- protocol and sender
    UNIQUE (hospital_id, sop_uid)
);
CREATE INDEX instances_series ON instances (series_ref);
CREATE INDEX instances_sop ON instances (sop_uid);

-- Instances that arrived with a SOP Instance UID already stored with other content:
-- the first is kept and served; these are kept too, never lost, for review.
CREATE TABLE instance_conflicts (
    id          INTEGER PRIMARY KEY,
    hospital_id INTEGER NOT NULL,
    sop_uid     TEXT NOT NULL,
    blob_key    TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    size_bytes  INTEGER NOT NULL,
    received_at TEXT NOT NULL,
    source      TEXT NOT NULL
);

-- Explicit access of a hospital to another hospital's study (referral, consult, later).
CREATE TABLE grants (
    id               INTEGER PRIMARY KEY,
    grantee_hospital INTEGER NOT NULL REFERENCES hospitals(id),
    study_ref        INTEGER NOT NULL REFERENCES studies(id),
    reason           TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    expires_at       TEXT,
    revoked_at       TEXT
);
CREATE INDEX grants_grantee ON grants (grantee_hospital, study_ref);

-- Append-only audit log: the triggers refuse UPDATE and DELETE.
CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY,
    at          TEXT NOT NULL,
    actor       TEXT NOT NULL,
    hospital_id INTEGER,
    protocol    TEXT NOT NULL,
    remote_addr TEXT NOT NULL DEFAULT '',
    action      TEXT NOT NULL,
    study_uid   TEXT NOT NULL DEFAULT '',
    patient_id  TEXT NOT NULL DEFAULT '',
    detail      TEXT NOT NULL DEFAULT '',
    outcome     TEXT NOT NULL
);
CREATE INDEX audit_at ON audit_log (at);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
