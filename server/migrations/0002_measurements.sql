-- Measurements (length, angle, Cobb, ellipse and rectangle ROIs) that a user draws in
-- the viewer, saved per user. A measurement belongs to one user and one study row, so
-- tenancy is the study's (the same Scope as retrieval) and nobody else sees it.
CREATE TABLE measurements (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users(id),
    client_id   TEXT NOT NULL,                 -- the viewer's id, the {id} of the URL
    study_ref   INTEGER NOT NULL REFERENCES studies(id),
    series_uid  TEXT NOT NULL,
    sop_uid     TEXT NOT NULL,
    frame       INTEGER NOT NULL DEFAULT 1,
    kind        TEXT NOT NULL,                 -- length | angle | cobb | ellipse | rectangle
    points      TEXT NOT NULL,                 -- JSON [[column, row], ...], image pixels
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    UNIQUE (user_id, client_id)
);
CREATE INDEX measurements_user_study ON measurements (user_id, study_ref);
