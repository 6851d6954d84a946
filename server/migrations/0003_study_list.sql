-- Study list (GET /api/studies): indexes for its sorts and filters, so a page of 25
-- out of 100,000 studies is read in index order instead of sorting every row.
-- Portable SQL (SQLite now, PostgreSQL later).

-- Newest first, region-wide and per hospital (the default sort).
CREATE INDEX studies_date_time ON studies (study_date, study_time);
CREATE INDEX studies_hospital_date ON studies (hospital_id, study_date, study_time);
-- The other sortable columns (accession has studies_accession since 0001).
CREATE INDEX studies_instances ON studies (num_instances);
CREATE INDEX studies_description ON studies (description);
CREATE INDEX studies_modalities ON studies (modalities);
-- Hospital order: hospitals by name, then each one's studies by date.
CREATE INDEX hospitals_name ON hospitals (name);
-- Patient name / ID order and HN prefix search (GLOB 'HN00*' uses it).
CREATE INDEX patients_name ON patients (patient_name);
CREATE INDEX patients_id ON patients (patient_id);
