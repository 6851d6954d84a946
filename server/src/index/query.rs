//! Queries (QIDO-RS and C-FIND share this) and instance look-ups for retrieval.
//! Every query carries a [`Scope`]: the tenancy filter is part of the SQL, never applied
//! afterwards, so no code path can forget it.

use futures::StreamExt;
use sqlx::Arguments;
use sqlx::Row;
use tokio::sync::mpsc;

use super::db;
use super::{Index, IndexError, Result, Scope};

/// Hits read ahead of a slow consumer: what a streamed answer holds in memory at most
/// (plus SQLite's own row channel).
const HITS_AHEAD: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Patient,
    Study,
    Series,
    Instance,
}

/// Columns that can be matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Col {
    PatientName,
    PatientId,
    Issuer,
    BirthDate,
    Sex,
    StudyUid,
    StudyDate,
    StudyTime,
    Accession,
    StudyId,
    StudyDescription,
    ReferringPhysician,
    ModalitiesInStudy,
    SeriesUid,
    Modality,
    SeriesNumber,
    SeriesDescription,
    BodyPart,
    PpsStartDate,
    PpsStartTime,
    SopUid,
    SopClassUid,
    InstanceNumber,
}

impl Col {
    fn sql(self) -> &'static str {
        match self {
            Col::PatientName => "p.patient_name",
            Col::PatientId => "p.patient_id",
            Col::Issuer => "p.issuer",
            Col::BirthDate => "p.birth_date",
            Col::Sex => "p.sex",
            Col::StudyUid => "st.study_uid",
            Col::StudyDate => "st.study_date",
            Col::StudyTime => "st.study_time",
            Col::Accession => "st.accession",
            Col::StudyId => "st.study_id",
            Col::StudyDescription => "st.description",
            Col::ReferringPhysician => "st.referring_physician",
            Col::ModalitiesInStudy => "st.modalities",
            Col::SeriesUid => "se.series_uid",
            Col::Modality => "se.modality",
            Col::SeriesNumber => "se.series_number",
            Col::SeriesDescription => "se.description",
            Col::BodyPart => "se.body_part",
            Col::PpsStartDate => "se.pps_start_date",
            Col::PpsStartTime => "se.pps_start_time",
            Col::SopUid => "i.sop_uid",
            Col::SopClassUid => "i.sop_class_uid",
            Col::InstanceNumber => "i.instance_number",
        }
    }

    /// The lowest level whose tables hold this column.
    pub fn level(self) -> Level {
        match self {
            Col::PatientName | Col::PatientId | Col::Issuer | Col::BirthDate | Col::Sex => {
                Level::Patient
            }
            Col::StudyUid
            | Col::StudyDate
            | Col::StudyTime
            | Col::Accession
            | Col::StudyId
            | Col::StudyDescription
            | Col::ReferringPhysician
            | Col::ModalitiesInStudy => Level::Study,
            Col::SeriesUid
            | Col::Modality
            | Col::SeriesNumber
            | Col::SeriesDescription
            | Col::BodyPart
            | Col::PpsStartDate
            | Col::PpsStartTime => Level::Series,
            Col::SopUid | Col::SopClassUid | Col::InstanceNumber => Level::Instance,
        }
    }
}

/// How one column is matched (PS3.4 C.2.2.2).
#[derive(Debug, Clone, PartialEq)]
pub enum Matcher {
    /// Single value matching (case-insensitive for names).
    Equals(String),
    /// Wild card matching with `*` and `?` (given in DICOM syntax).
    Wildcard(String),
    /// Range matching on DA/TM strings; either side open.
    Range(Option<String>, Option<String>),
    /// List of UID matching.
    UidList(Vec<String>),
    Int(i64),
    /// Person name: DICOM wildcard pattern against any component group, or fuzzy
    /// (every whitespace/`^`-separated token is a case-insensitive prefix of a component).
    PersonName {
        pattern: String,
        fuzzy: bool,
    },
    /// ModalitiesInStudy: any of these modalities in the study.
    AnyModality(Vec<String>),
}

#[derive(Debug, Clone)]
pub struct Query {
    pub level: Level,
    pub conds: Vec<(Col, Matcher)>,
    pub limit: Option<i64>,
    pub offset: i64,
    /// Fetch a representative instance's DICOM JSON for attributes the index lacks.
    pub want_metadata: bool,
}

/// One matched entity with every attribute of its level and above.
#[derive(Debug, Clone, Default)]
pub struct Hit {
    /// The owning hospital (for admin views; not a DICOM attribute).
    #[allow(dead_code)]
    pub hospital_code: String,
    pub patient_name: String,
    pub patient_id: String,
    pub issuer: String,
    pub birth_date: String,
    pub sex: String,
    pub num_patient_studies: i64,
    pub study_uid: String,
    pub study_date: String,
    pub study_time: String,
    pub accession: String,
    pub study_id: String,
    pub study_description: String,
    pub referring_physician: String,
    pub modalities: String,
    pub num_study_series: i64,
    pub num_study_instances: i64,
    pub series_uid: String,
    pub modality: String,
    pub series_number: Option<i64>,
    pub series_description: String,
    pub body_part: String,
    pub pps_start_date: String,
    pub pps_start_time: String,
    pub num_series_instances: i64,
    pub sop_uid: String,
    pub sop_class_uid: String,
    pub instance_number: Option<i64>,
    pub rows: Option<i64>,
    pub columns: Option<i64>,
    pub bits_allocated: Option<i64>,
    pub number_of_frames: Option<i64>,
    pub transfer_syntax: String,
    pub metadata: Option<String>,
}

/// Where an instance's bytes are, and what a retrieval needs to know about it.
#[derive(Debug, Clone)]
pub struct InstanceLoc {
    #[allow(dead_code)]
    pub hospital_id: i64,
    pub study_uid: String,
    pub series_uid: String,
    pub sop_uid: String,
    pub sop_class_uid: String,
    pub transfer_syntax: String,
    /// Tier-qualified (`cold:KEY` for a blob in the cold store).
    pub blob_key: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub dataset_offset: i64,
    pub pixel_layout: Option<String>,
    pub patient_id: String,
}

/// Escapes a DICOM wildcard pattern into a SQL LIKE pattern (escape char `\`).
pub fn like_pattern(dicom: &str) -> String {
    let mut out = String::with_capacity(dicom.len() + 4);
    for c in dicom.chars() {
        match c {
            '*' => out.push('%'),
            '?' => out.push('_'),
            '%' | '_' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// Name search tokens: lower-cased components of every group, space-separated, with a
/// leading space so that `LIKE '% tok%'` is a component-prefix match.
pub fn name_search_key(pn: &str) -> String {
    let mut key = String::new();
    for token in pn.split(['^', '=', ' ', ',']).filter(|t| !t.is_empty()) {
        key.push(' ');
        key.push_str(&token.to_lowercase());
    }
    key
}

struct Sql {
    text: String,
    args: db::Args,
}

impl Sql {
    fn bind_str(&mut self, v: &str) {
        // Arguments::add only fails for types that cannot encode; strings always can.
        let _ = self.args.add(v.to_string());
    }
    fn bind_i64(&mut self, v: i64) {
        let _ = self.args.add(v);
    }
}

/// Matching is case-sensitive on both engines (PS3.4 C.2.2.2), except for the PN
/// attributes, whose literal and wild card matching ignore ASCII case on both
/// (`Dialect::like_ascii_nocase`).
fn push_cond(sql: &mut Sql, col: Col, m: &Matcher, dialect: db::Dialect) {
    let c = col.sql();
    let person_name = col == Col::PatientName || col == Col::ReferringPhysician;
    match m {
        Matcher::Equals(v) => {
            if person_name {
                sql.text
                    .push_str(&format!(" AND {}", dialect.like_ascii_nocase(c)));
                sql.bind_str(&like_pattern(v));
            } else {
                sql.text.push_str(&format!(" AND {c} = ?"));
                sql.bind_str(v);
            }
        }
        Matcher::Wildcard(v) if person_name => {
            sql.text
                .push_str(&format!(" AND {}", dialect.like_ascii_nocase(c)));
            sql.bind_str(&like_pattern(v));
        }
        Matcher::Wildcard(v) => {
            let (cond, pattern) = dialect.wildcard_case_sensitive(c, v);
            sql.text.push_str(&format!(" AND {cond}"));
            sql.bind_str(&pattern);
        }
        Matcher::Range(from, to) => {
            if let Some(f) = from {
                sql.text.push_str(&format!(" AND {c} != '' AND {c} >= ?"));
                sql.bind_str(f);
            }
            if let Some(t) = to {
                // "-20201231" includes the whole last day; times compare by prefix.
                sql.text.push_str(&format!(
                    " AND {c} != '' AND substr({c}, 1, CAST(? AS INTEGER)) <= ?"
                ));
                sql.bind_i64(t.len() as i64);
                sql.bind_str(t);
            }
        }
        Matcher::UidList(uids) => {
            sql.text.push_str(&format!(" AND {c} IN ("));
            for (n, u) in uids.iter().enumerate() {
                sql.text.push_str(if n == 0 { "?" } else { ", ?" });
                sql.bind_str(u);
            }
            sql.text.push(')');
        }
        Matcher::Int(v) => {
            sql.text.push_str(&format!(" AND {c} = ?"));
            sql.bind_i64(*v);
        }
        Matcher::PersonName { pattern, fuzzy } => {
            if *fuzzy {
                for token in pattern
                    .split(['^', '=', ' ', ','])
                    .filter(|t| !t.is_empty())
                {
                    let t = token.to_lowercase();
                    let t = t.trim_end_matches('*');
                    sql.text.push_str(" AND p.name_search LIKE ? ESCAPE '\\'");
                    sql.bind_str(&format!("% {}%", like_pattern(t)));
                }
            } else {
                let p = like_pattern(pattern);
                let target = if col == Col::PatientName {
                    "p.patient_name"
                } else {
                    c
                };
                let like = dialect.like_ascii_nocase(target);
                sql.text
                    .push_str(&format!(" AND ({like} OR {like} OR {like})"));
                sql.bind_str(&p);
                sql.bind_str(&format!("{p}=%"));
                sql.bind_str(&format!("%={p}"));
            }
        }
        Matcher::AnyModality(mods) => {
            sql.text.push_str(" AND EXISTS (SELECT 1 FROM series sm WHERE sm.study_ref = st.id AND sm.modality IN (");
            for (n, m) in mods.iter().enumerate() {
                sql.text.push_str(if n == 0 { "?" } else { ", ?" });
                sql.bind_str(m);
            }
            sql.text.push_str("))");
        }
    }
}

impl Index {
    /// Every hit of `q`, collected (small answers; see [`Index::query_stream`]).
    pub async fn query(&self, scope: &Scope, q: &Query) -> Result<Vec<Hit>> {
        let mut hits = Vec::new();
        let mut rx = self.query_stream(scope, q);
        while let Some(h) = rx.recv().await {
            hits.push(h?);
        }
        Ok(hits)
    }

    /// The hits of `q` as they are read: memory stays bounded whatever the number of
    /// matches (an unbounded `/studies` over a whole region). Rows are read by a task
    /// that stops as soon as the receiver is dropped; an error ends the stream.
    pub fn query_stream(&self, scope: &Scope, q: &Query) -> mpsc::Receiver<Result<Hit>> {
        let level = q.level;
        stream_rows(
            self.pool.clone(),
            query_sql(scope, q, self.dialect),
            move |r| hit_from_row(level, r),
        )
    }
}

/// Runs `sql` in a task that sends each row, mapped, as it is read; the task stops when
/// the receiver is dropped, and after the first error.
fn stream_rows<T: Send + 'static>(
    pool: db::Pool,
    sql: Sql,
    map: impl Fn(&db::Row) -> T + Send + 'static,
) -> mpsc::Receiver<Result<T>> {
    let (tx, rx) = mpsc::channel(HITS_AHEAD);
    tokio::spawn(async move {
        let mut rows = db::query_with(&(sql.text), sql.args).fetch(&pool);
        while let Some(row) = rows.next().await {
            let item = row.map(|r| map(&r)).map_err(IndexError::from);
            let failed = item.is_err();
            if tx.send(item).await.is_err() || failed {
                break;
            }
        }
    });
    rx
}

/// The SQL of one query, tenancy filter included.
fn query_sql(scope: &Scope, q: &Query, dialect: db::Dialect) -> Sql {
    let (scope_sql, scope_args) = scope.sql();
    let mut sql = Sql {
        text: String::new(),
        args: db::Args::default(),
    };
    let meta_sql = |level: Level| -> &'static str {
        match level {
            Level::Instance => "i.metadata",
            Level::Series => {
                "(SELECT mi.metadata FROM instances mi WHERE mi.series_ref = se.id ORDER BY mi.instance_number NULLS FIRST, mi.id LIMIT 1)"
            }
            _ => {
                "(SELECT mi.metadata FROM instances mi JOIN series ms ON ms.id = mi.series_ref WHERE ms.study_ref = st.id ORDER BY ms.series_number NULLS FIRST, ms.id, mi.instance_number NULLS FIRST, mi.id LIMIT 1)"
            }
        }
    };
    let meta = if q.want_metadata && q.level != Level::Patient {
        meta_sql(q.level)
    } else {
        "NULL"
    };
    let (select, from, group, order) = match q.level {
            Level::Patient => (
                "h.code, p.patient_name, p.patient_id, p.issuer, p.birth_date, p.sex, COUNT(DISTINCT st.id)".to_string(),
                "patients p JOIN studies st ON st.patient_ref = p.id JOIN hospitals h ON h.id = p.hospital_id",
                " GROUP BY p.id, h.code",
                " ORDER BY p.patient_name, p.id",
            ),
            Level::Study => (
                format!(
                    "h.code, p.patient_name, p.patient_id, p.issuer, p.birth_date, p.sex, 0, st.study_uid, st.study_date, \
                     st.study_time, st.accession, st.study_id, st.description, st.referring_physician, st.modalities, \
                     st.num_series, st.num_instances, {meta}"
                ),
                "studies st JOIN patients p ON p.id = st.patient_ref JOIN hospitals h ON h.id = st.hospital_id",
                "",
                " ORDER BY st.study_date DESC, st.study_time DESC, st.id DESC",
            ),
            Level::Series => (
                format!(
                    "h.code, p.patient_name, p.patient_id, p.issuer, p.birth_date, p.sex, 0, st.study_uid, st.study_date, \
                     st.study_time, st.accession, st.study_id, st.description, st.referring_physician, st.modalities, \
                     st.num_series, st.num_instances, {meta}, se.series_uid, se.modality, se.series_number, se.description, \
                     se.body_part, se.pps_start_date, se.pps_start_time, se.num_instances"
                ),
                "series se JOIN studies st ON st.id = se.study_ref JOIN patients p ON p.id = st.patient_ref \
                 JOIN hospitals h ON h.id = st.hospital_id",
                "",
                " ORDER BY st.id, se.series_number NULLS FIRST, se.id",
            ),
            Level::Instance => (
                format!(
                    "h.code, p.patient_name, p.patient_id, p.issuer, p.birth_date, p.sex, 0, st.study_uid, st.study_date, \
                     st.study_time, st.accession, st.study_id, st.description, st.referring_physician, st.modalities, \
                     st.num_series, st.num_instances, {meta}, se.series_uid, se.modality, se.series_number, se.description, \
                     se.body_part, se.pps_start_date, se.pps_start_time, se.num_instances, i.sop_uid, i.sop_class_uid, \
                     i.instance_number, i.rows, i.columns, i.bits_allocated, i.number_of_frames, i.transfer_syntax"
                ),
                "instances i JOIN series se ON se.id = i.series_ref JOIN studies st ON st.id = se.study_ref \
                 JOIN patients p ON p.id = st.patient_ref JOIN hospitals h ON h.id = st.hospital_id",
                "",
                " ORDER BY st.id, se.series_number NULLS FIRST, se.id, i.instance_number NULLS FIRST, i.id",
            ),
        };
    sql.text = format!("SELECT {select} FROM {from} WHERE {scope_sql}");
    for a in scope_args {
        sql.bind_i64(a);
    }
    for (col, m) in &q.conds {
        push_cond(&mut sql, *col, m, dialect);
    }
    sql.text.push_str(group);
    sql.text.push_str(order);
    if let Some(limit) = q.limit {
        sql.text.push_str(" LIMIT ? OFFSET ?");
        sql.bind_i64(limit);
        sql.bind_i64(q.offset);
    } else if q.offset > 0 {
        // An offset without a limit: SQLite wants a LIMIT before OFFSET, and a negative
        // one (its "none") is an error on PostgreSQL; the largest integer suits both.
        sql.text.push_str(" LIMIT ? OFFSET ?");
        sql.bind_i64(i64::MAX);
        sql.bind_i64(q.offset);
    }
    sql
}

fn hit_from_row(level: Level, r: &db::Row) -> Hit {
    let mut h = Hit {
        hospital_code: r.get(0),
        patient_name: r.get(1),
        patient_id: r.get(2),
        issuer: r.get(3),
        birth_date: r.get(4),
        sex: r.get(5),
        num_patient_studies: r.get(6),
        ..Hit::default()
    };
    if level != Level::Patient {
        h.study_uid = r.get(7);
        h.study_date = r.get(8);
        h.study_time = r.get(9);
        h.accession = r.get(10);
        h.study_id = r.get(11);
        h.study_description = r.get(12);
        h.referring_physician = r.get(13);
        h.modalities = r.get(14);
        h.num_study_series = r.get(15);
        h.num_study_instances = r.get(16);
        h.metadata = r.get(17);
    }
    if matches!(level, Level::Series | Level::Instance) {
        h.series_uid = r.get(18);
        h.modality = r.get(19);
        h.series_number = r.get(20);
        h.series_description = r.get(21);
        h.body_part = r.get(22);
        h.pps_start_date = r.get(23);
        h.pps_start_time = r.get(24);
        h.num_series_instances = r.get(25);
    }
    if level == Level::Instance {
        h.sop_uid = r.get(26);
        h.sop_class_uid = r.get(27);
        h.instance_number = r.get(28);
        h.rows = r.get(29);
        h.columns = r.get(30);
        h.bits_allocated = r.get(31);
        h.number_of_frames = r.get(32);
        h.transfer_syntax = r.get(33);
    }
    h
}

impl Index {
    /// Instances of a study (optionally one series, one instance) visible in `scope`,
    /// in series then instance order.
    pub async fn locate(
        &self,
        scope: &Scope,
        study_uid: Option<&str>,
        series_uid: Option<&str>,
        sop_uid: Option<&str>,
    ) -> Result<Vec<InstanceLoc>> {
        let (scope_sql, scope_args) = scope.sql();
        let mut sql = Sql {
            text: format!(
                "SELECT i.hospital_id, st.study_uid, se.series_uid, i.sop_uid, i.sop_class_uid, i.transfer_syntax, {}, \
                 i.size_bytes, i.sha256, i.dataset_offset, i.pixel_layout, p.patient_id \
                 FROM instances i JOIN series se ON se.id = i.series_ref JOIN studies st ON st.id = se.study_ref \
                 JOIN patients p ON p.id = st.patient_ref WHERE {scope_sql}",
                // The tier-qualified key: `store::TieredBlobStore` routes it.
                super::tiers::tiered_key_sql("i.blob_key")
            ),
            args: db::Args::default(),
        };
        for a in scope_args {
            sql.bind_i64(a);
        }
        if let Some(s) = study_uid {
            sql.text.push_str(" AND st.study_uid = ?");
            sql.bind_str(s);
        }
        if let Some(s) = series_uid {
            sql.text.push_str(" AND se.series_uid = ?");
            sql.bind_str(s);
        }
        if let Some(s) = sop_uid {
            sql.text.push_str(" AND i.sop_uid = ?");
            sql.bind_str(s);
        }
        sql.text
            .push_str(" ORDER BY st.id, se.series_number NULLS FIRST, se.id, i.instance_number NULLS FIRST, i.id");
        let rows = db::query_with(&(sql.text), sql.args)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .map(|r| InstanceLoc {
                hospital_id: r.get(0),
                study_uid: r.get(1),
                series_uid: r.get(2),
                sop_uid: r.get(3),
                sop_class_uid: r.get(4),
                transfer_syntax: r.get(5),
                blob_key: r.get(6),
                size_bytes: r.get(7),
                sha256: r.get(8),
                dataset_offset: r.get(9),
                pixel_layout: r.get(10),
                patient_id: r.get(11),
            })
            .collect())
    }

    /// DICOM JSON of instances (series metadata), in order, visible in `scope`.
    /// The stored DICOM JSON of each instance of a study, series or instance, in series
    /// then instance order, as it is read (memory stays flat for a 1,000-slice series).
    pub fn metadata_stream(
        &self,
        scope: &Scope,
        study_uid: &str,
        series_uid: Option<&str>,
        sop_uid: Option<&str>,
    ) -> mpsc::Receiver<Result<String>> {
        let (scope_sql, scope_args) = scope.sql();
        let mut sql = Sql {
            text: format!(
                "SELECT i.metadata FROM instances i JOIN series se ON se.id = i.series_ref \
                 JOIN studies st ON st.id = se.study_ref WHERE {scope_sql} AND st.study_uid = ?"
            ),
            args: db::Args::default(),
        };
        for a in scope_args {
            sql.bind_i64(a);
        }
        sql.bind_str(study_uid);
        if let Some(s) = series_uid {
            sql.text.push_str(" AND se.series_uid = ?");
            sql.bind_str(s);
        }
        if let Some(s) = sop_uid {
            sql.text.push_str(" AND i.sop_uid = ?");
            sql.bind_str(s);
        }
        sql.text
            .push_str(" ORDER BY st.id, se.series_number NULLS FIRST, se.id, i.instance_number NULLS FIRST, i.id");
        stream_rows(self.pool.clone(), sql, |r| r.get::<String, _>(0))
    }
}
