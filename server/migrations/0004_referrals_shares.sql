-- Referral and sharing (issue 6). Portable SQL (SQLite now, PostgreSQL later).

-- Hospitals as the region's admin data: names in Thai and English, what they can do
-- (comma-separated capabilities: CT, MRI, cath lab, ...) and whom to call.
ALTER TABLE hospitals ADD COLUMN name_th TEXT NOT NULL DEFAULT '';
ALTER TABLE hospitals ADD COLUMN name_en TEXT NOT NULL DEFAULT '';
ALTER TABLE hospitals ADD COLUMN capabilities TEXT NOT NULL DEFAULT '';
ALTER TABLE hospitals ADD COLUMN contact TEXT NOT NULL DEFAULT '';

-- A referral of one patient from one hospital to another, with the studies it sends.
CREATE TABLE referrals (
    id               INTEGER PRIMARY KEY,
    from_hospital    INTEGER NOT NULL REFERENCES hospitals(id),
    to_hospital      INTEGER NOT NULL REFERENCES hospitals(id),
    patient_ref      INTEGER NOT NULL REFERENCES patients(id),
    reason           TEXT NOT NULL,
    urgency          TEXT NOT NULL,            -- routine | urgent | emergency
    clinical_summary TEXT NOT NULL DEFAULT '',
    status           TEXT NOT NULL,            -- sent | received | accepted | completed | declined
    created_by       TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);
CREATE INDEX referrals_from ON referrals (from_hospital, created_at);
CREATE INDEX referrals_to ON referrals (to_hospital, created_at);

CREATE TABLE referral_studies (
    referral_id INTEGER NOT NULL REFERENCES referrals(id),
    study_ref   INTEGER NOT NULL REFERENCES studies(id),
    PRIMARY KEY (referral_id, study_ref)
);

-- The grant a referral gives its receiving hospital (grants already feed Scope::Hospital).
ALTER TABLE grants ADD COLUMN referral_id INTEGER REFERENCES referrals(id);

-- Share links: only a SHA-256 of the token is stored, like credentials.
CREATE TABLE share_links (
    id                 INTEGER PRIMARY KEY,
    token_hash         TEXT NOT NULL UNIQUE,
    hospital_id        INTEGER REFERENCES hospitals(id),  -- the creator's hospital
    created_by         TEXT NOT NULL,
    referral_id        INTEGER REFERENCES referrals(id),
    audience           TEXT NOT NULL,             -- clinician | patient
    pin_hash           TEXT,                      -- argon2id; NULL = no PIN
    birth_date_check   INTEGER NOT NULL DEFAULT 0, -- 1: the patient's birth date is asked
    allow_download     INTEGER NOT NULL DEFAULT 0,
    label              TEXT NOT NULL DEFAULT '',
    created_at         TEXT NOT NULL,
    expires_at         TEXT NOT NULL,
    revoked_at         TEXT
);
CREATE INDEX share_links_hospital ON share_links (hospital_id, created_at);

CREATE TABLE share_link_studies (
    link_id   INTEGER NOT NULL REFERENCES share_links(id),
    study_ref INTEGER NOT NULL REFERENCES studies(id),
    PRIMARY KEY (link_id, study_ref)
);

-- A browser that opened a link (after its PIN or birth date): a random secret in a
-- cookie, stored as SHA-256; it dies with the link (revoked, expired).
CREATE TABLE share_sessions (
    id          INTEGER PRIMARY KEY,
    secret_hash TEXT NOT NULL UNIQUE,
    link_id     INTEGER NOT NULL REFERENCES share_links(id),
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);
