-- Consultation requests (issue 7): a hospital asks a reading hospital (its
-- radiologists as a group) or one named radiologist to read a study. The request
-- grants the reading hospital the patient's studies at the requesting hospital (the
-- study and its priors) through `grants`, like a referral; withdrawing it revokes them.

CREATE TABLE consults (
    id            INTEGER PRIMARY KEY,
    study_ref     INTEGER NOT NULL REFERENCES studies(id),
    from_hospital INTEGER NOT NULL REFERENCES hospitals(id),
    requested_by  INTEGER NOT NULL REFERENCES users(id),
    to_hospital   INTEGER NOT NULL REFERENCES hospitals(id),
    to_user       INTEGER REFERENCES users(id),     -- a named radiologist; NULL: the group
    priority      TEXT NOT NULL,                    -- stat | urgent | routine
    due_at        TEXT NOT NULL,                    -- RFC 3339 UTC
    history       TEXT NOT NULL DEFAULT '',
    question      TEXT NOT NULL DEFAULT '',
    patient_data  TEXT NOT NULL DEFAULT '{}',       -- JSON: weight, labs, allergies, prior treatment
    status        TEXT NOT NULL,                    -- requested | claimed | reported | withdrawn
    claimed_by    INTEGER REFERENCES users(id),
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
CREATE INDEX consults_to ON consults (to_hospital, status);
CREATE INDEX consults_study ON consults (study_ref);

ALTER TABLE grants ADD COLUMN consult_id INTEGER REFERENCES consults(id);
