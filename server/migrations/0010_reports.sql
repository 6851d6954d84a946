-- Radiology reports (issue 7). A report belongs to one study row (so tenancy is the
-- study's Scope, grants included) and moves draft → preliminary → final (signed) →
-- amended (signed addenda). Nothing is overwritten once signed: the signed text stays
-- in `reports`, addenda are rows of their own, and every change is an event with a
-- snapshot of what was saved. Version 10 leaves 4–9 to features built beside it.

CREATE TABLE report_templates (
    id             INTEGER PRIMARY KEY,
    name           TEXT NOT NULL,
    lang           TEXT NOT NULL,                  -- 'th' | 'en'
    modality       TEXT NOT NULL DEFAULT '',       -- '' = any
    body_part      TEXT NOT NULL DEFAULT '',       -- '' = any
    findings       TEXT NOT NULL DEFAULT '',
    impression     TEXT NOT NULL DEFAULT '',
    recommendation TEXT NOT NULL DEFAULT '',
    updated_at     TEXT NOT NULL,
    UNIQUE (name, lang)
);

CREATE TABLE reports (
    id             INTEGER PRIMARY KEY,
    study_ref      INTEGER NOT NULL UNIQUE REFERENCES studies(id),
    author_id      INTEGER NOT NULL REFERENCES users(id),
    state          TEXT NOT NULL,                  -- draft | preliminary | final | amended
    findings       TEXT NOT NULL DEFAULT '',
    impression     TEXT NOT NULL DEFAULT '',
    recommendation TEXT NOT NULL DEFAULT '',
    critical       INTEGER NOT NULL DEFAULT 0,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    signed_by      INTEGER REFERENCES users(id),
    signed_at      TEXT,
    critical_ack_by INTEGER REFERENCES users(id),
    critical_ack_at TEXT,
    sr_sop_uid     TEXT                            -- the latest SR stored into the study
);

CREATE TABLE report_addenda (
    id          INTEGER PRIMARY KEY,
    report_id   INTEGER NOT NULL REFERENCES reports(id),
    author_id   INTEGER NOT NULL REFERENCES users(id),
    text        TEXT NOT NULL,
    signed_at   TEXT NOT NULL,
    sr_sop_uid  TEXT NOT NULL
);
CREATE INDEX report_addenda_report ON report_addenda (report_id);

CREATE TABLE report_events (
    id          INTEGER PRIMARY KEY,
    report_id   INTEGER NOT NULL REFERENCES reports(id),
    at          TEXT NOT NULL,
    user_id     INTEGER NOT NULL REFERENCES users(id),
    action      TEXT NOT NULL,                     -- create | save | sign | addendum | acknowledge
    snapshot    TEXT NOT NULL                      -- JSON of the fields after the action
);
CREATE INDEX report_events_report ON report_events (report_id);

INSERT INTO report_templates (name, lang, modality, body_part, findings, impression, recommendation, updated_at) VALUES
('CT brain (non-contrast)', 'en', 'CT', 'HEAD',
 'No intracranial haemorrhage. No mass effect or midline shift. Grey-white matter differentiation is preserved. Ventricles and sulci are normal for age. Basal cisterns are patent. Calvarium intact.',
 'No acute intracranial abnormality.', '', '2026-11-27T00:00:00Z'),
('CT สมอง (ไม่ฉีดสารทึบรังสี)', 'th', 'CT', 'HEAD',
 'ไม่พบเลือดออกในกะโหลกศีรษะ ไม่พบก้อนหรือการเบียดของเนื้อสมอง เส้นกึ่งกลางไม่เคลื่อน แยกเนื้อสมองสีเทาและสีขาวได้ชัดเจน โพรงสมองและร่องสมองปกติตามวัย กะโหลกศีรษะปกติ',
 'ไม่พบความผิดปกติเฉียบพลันในกะโหลกศีรษะ', '', '2026-11-27T00:00:00Z'),
('CT chest', 'en', 'CT', 'CHEST',
 'Lungs: no consolidation, nodule or effusion. Airways patent. Mediastinum: no lymphadenopathy. Heart size normal. No pericardial effusion. Bones: no destructive lesion.',
 'No acute cardiopulmonary abnormality.', '', '2026-11-27T00:00:00Z'),
('CT ทรวงอก', 'th', 'CT', 'CHEST',
 'ปอด: ไม่พบการอักเสบ ก้อน หรือน้ำในช่องเยื่อหุ้มปอด หลอดลมปกติ ช่องกลางทรวงอก: ไม่พบต่อมน้ำเหลืองโต หัวใจขนาดปกติ ไม่พบน้ำในเยื่อหุ้มหัวใจ กระดูก: ไม่พบรอยโรคทำลายกระดูก',
 'ไม่พบความผิดปกติเฉียบพลันของหัวใจและปอด', '', '2026-11-27T00:00:00Z'),
('Chest radiograph', 'en', '', 'CHEST',
 'Heart size normal. Lungs clear. No pleural effusion or pneumothorax. Bony thorax intact.',
 'Normal chest radiograph.', '', '2026-11-27T00:00:00Z'),
('ภาพรังสีทรวงอก', 'th', '', 'CHEST',
 'หัวใจขนาดปกติ ปอดทั้งสองข้างใส ไม่พบน้ำหรือลมในช่องเยื่อหุ้มปอด กระดูกทรวงอกปกติ',
 'ภาพรังสีทรวงอกปกติ', '', '2026-11-27T00:00:00Z'),
('Ultrasound abdomen', 'en', 'US', 'ABDOMEN',
 'Liver normal in size and echotexture, no focal lesion. Gallbladder without stones. CBD not dilated. Pancreas, spleen and both kidneys normal. No ascites.',
 'Normal abdominal ultrasound.', '', '2026-11-27T00:00:00Z'),
('อัลตราซาวด์ช่องท้อง', 'th', 'US', 'ABDOMEN',
 'ตับขนาดและเนื้อปกติ ไม่พบก้อน ถุงน้ำดีไม่มีนิ่ว ท่อน้ำดีไม่ขยาย ตับอ่อน ม้าม และไตทั้งสองข้างปกติ ไม่พบน้ำในช่องท้อง',
 'อัลตราซาวด์ช่องท้องปกติ', '', '2026-11-27T00:00:00Z'),
('General', 'en', '', '', '', '', '', '2026-11-27T00:00:00Z'),
('ทั่วไป', 'th', '', '', '', '', '', '2026-11-27T00:00:00Z');
