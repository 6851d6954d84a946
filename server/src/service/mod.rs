//! The service layer: the one place where archive operations happen. DICOMweb handlers
//! (`web`) and DIMSE handlers (`dimse`) both call it and never each other, so tenancy,
//! audit and ingest rules cannot differ between the protocols.

pub mod admin;
pub mod auth;
pub mod consults;
pub mod fhir;
pub mod gateways;
pub mod ingest;
pub mod letter;
pub mod measurements;
pub mod nodes;
pub mod notify;
pub mod query;
pub mod referrals;
pub mod reports;
pub mod retrieve;
pub mod shares;
pub mod studies;
pub mod thai_id;
pub mod tier;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::index::{Index, IndexError, OwnedAudit, Scope};
use crate::store::{BlobError, BlobStore, StoreConfig, TieredBlobStore};
use auth::Role;

/// Typed errors of the service layer; the web and DIMSE layers map them once each.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    #[error("authentication required")]
    Unauthenticated,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unsupported(String),
    #[error("index: {0}")]
    Index(#[from] IndexError),
    #[error("storage: {0}")]
    Blob(#[from] BlobError),
    #[error("internal: {0}")]
    Internal(String),
    /// Too many failed attempts (share-link PINs, guessed tokens): try again later.
    #[error("{message}")]
    Throttled {
        message: String,
        retry_after_secs: u64,
    },
    /// A share link that existed but is revoked or expired.
    #[error("{0}")]
    Gone(String),
    /// The request is right but the state is not (a referral already declined, two
    /// national IDs that disagree, a report signed meanwhile).
    #[error("{0}")]
    Conflict(String),
}

impl ServiceError {
    /// Which storage is down, if that is the error (the blob store or the index
    /// database): nothing was decided, the caller should retry later (503).
    pub fn unavailable(&self) -> Option<&'static str> {
        match self {
            ServiceError::Blob(crate::store::BlobError::Unavailable { .. }) => Some("blob storage"),
            ServiceError::Index(e) if e.is_unavailable() => Some("index database"),
            _ => None,
        }
    }
}

impl From<std::io::Error> for ServiceError {
    fn from(e: std::io::Error) -> Self {
        ServiceError::Internal(format!("I/O: {e}"))
    }
}

pub type Result<T, E = ServiceError> = std::result::Result<T, E>;

/// Which protocol a request came through (for the audit log).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    DicomWeb,
    Api,
    Dimse,
    Cli,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::DicomWeb => "dicomweb",
            Protocol::Api => "api",
            Protocol::Dimse => "dimse",
            Protocol::Cli => "cli",
        }
    }
}

/// Who is asking: a user (browser, DICOMweb client, CLI) or a DICOM application entity.
#[derive(Debug, Clone)]
pub struct Principal {
    /// User name, or `AE:TITLE` for a DICOM peer.
    pub actor: String,
    pub user_id: Option<i64>,
    pub role: Role,
    pub hospital_id: Option<i64>,
    pub protocol: Protocol,
    pub remote: String,
    /// Set for the holder of a share link: exactly these studies, read-only.
    pub share: Option<ShareAccess>,
}

/// What a share-link session may read: its link's study rows, and whether it may
/// download whole studies.
#[derive(Debug, Clone)]
pub struct ShareAccess {
    pub link_id: i64,
    pub study_refs: Vec<i64>,
    pub allow_download: bool,
}

impl Principal {
    /// The studies this principal may see. The one tenancy rule of the archive: a
    /// hospital's own studies plus those granted to it (referrals), and for its
    /// radiologists those a consultation request granted them for reading; everything
    /// for the regional administrator, exactly the link's studies for a share link.
    pub fn scope(&self) -> Scope {
        if let Some(share) = &self.share {
            return Scope::Studies(share.study_refs.clone());
        }
        match (self.role, self.hospital_id) {
            (Role::Admin, None) => Scope::All,
            (Role::Radiologist, Some(hospital)) => match self.user_id {
                Some(user) => Scope::Reader { hospital, user },
                None => Scope::Hospital(hospital),
            },
            (_, Some(h)) => Scope::Hospital(h),
            (_, None) => Scope::Nothing,
        }
    }

    pub fn cli(hospital_id: Option<i64>) -> Self {
        Principal {
            actor: "cli".into(),
            user_id: None,
            role: Role::Admin,
            hospital_id,
            protocol: Protocol::Cli,
            remote: "local".into(),
            share: None,
        }
    }
}

/// The archive: index + blob store + staging area.
#[derive(Clone)]
pub struct Archive {
    inner: Arc<Inner>,
}

struct Inner {
    index: Index,
    blobs: Arc<TieredBlobStore>,
    tmp_dir: PathBuf,
    audit_tx: tokio::sync::mpsc::UnboundedSender<AuditMsg>,
    /// When each study's opening was last written to `last_opened_at` (tiering): at
    /// most once an hour per study, so frame requests never write.
    opened: std::sync::Mutex<std::collections::HashMap<String, std::time::Instant>>,
    /// This process among the nodes sharing the database (`nodes.rs`).
    node_id: String,
    /// Cold studies opened are promoted back to hot in the background (`serve` only:
    /// `Archive::promote_on_read`).
    promote_on_read: std::sync::atomic::AtomicBool,
    /// Studies being promoted now (one task per study).
    promoting: std::sync::Mutex<std::collections::HashSet<String>>,
    /// Held while one blob changes tier (a tier move or a promotion): the two never
    /// interleave on a blob within a process.
    tier_moves: tokio::sync::Mutex<()>,
}

/// How often a study's `last_opened_at` is written while it is being read.
const OPENED_RESOLUTION: std::time::Duration = std::time::Duration::from_secs(3600);

enum AuditMsg {
    Record(OwnedAudit),
    /// A study was opened (tiering's `last_opened_at`).
    Opened(String),
    Flush(tokio::sync::oneshot::Sender<()>),
}

/// Writes queued audit records in batches: reads (queries, retrievals, frames) never wait
/// for a database write, and 16 viewers do not queue on SQLite's write lock. Stores are
/// audited in their own ingest transaction instead.
async fn audit_writer(index: Index, mut rx: tokio::sync::mpsc::UnboundedReceiver<AuditMsg>) {
    let mut batch = Vec::new();
    let mut flushes = Vec::new();
    let mut opened = Vec::new();
    while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        while let Some(msg) = next.take().or_else(|| rx.try_recv().ok()) {
            match msg {
                AuditMsg::Record(r) => batch.push(r),
                AuditMsg::Opened(uid) => opened.push(uid),
                AuditMsg::Flush(ack) => flushes.push(ack),
            }
            if batch.len() >= 1000 {
                break;
            }
        }
        if !batch.is_empty() {
            if let Err(e) = index.audit_batch(&batch).await {
                tracing::error!(error = %e, lost = batch.len(), "cannot write audit records");
            }
            crate::ops::metrics::METRICS
                .audit_queue
                .fetch_sub(batch.len() as i64, std::sync::atomic::Ordering::Relaxed);
            batch.clear();
        }
        if !opened.is_empty() {
            if let Err(e) = index
                .mark_opened(&opened, &crate::index::now_rfc3339())
                .await
            {
                tracing::warn!(error = %e, studies = opened.len(), "cannot record studies as opened");
            }
            opened.clear();
        }
        for ack in flushes.drain(..) {
            let _ = ack.send(());
        }
    }
}

impl Archive {
    /// Opens a data directory with the blob stores it records (or the default).
    #[allow(dead_code)] // the API for callers without store flags (other front ends)
    pub async fn open(data: &Path) -> anyhow::Result<Self> {
        Self::open_with(data, &StoreConfig::default()).await
    }

    /// Opens a data directory; `stores` names the blob stores (`--blobs`, `--cold-blobs`),
    /// else those the directory recorded, else `DATA/blobs`.
    pub async fn open_with(data: &Path, stores: &StoreConfig) -> anyhow::Result<Self> {
        use anyhow::Context;
        std::fs::create_dir_all(data)
            .with_context(|| format!("creating data dir {}", data.display()))?;
        let tmp_dir = data.join("tmp");
        std::fs::create_dir_all(&tmp_dir)?;
        let database = stores.database(data)?;
        let index = Index::open_at(database.as_deref(), &data.join("index.sqlite"))
            .await
            .with_context(|| format!("opening index in {}", data.display()))?;
        let blobs = Arc::new(stores.open(data)?);
        let (audit_tx, rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(audit_writer(index.clone(), rx));
        Ok(Self {
            inner: Arc::new(Inner {
                index,
                blobs,
                tmp_dir,
                audit_tx,
                opened: std::sync::Mutex::default(),
                node_id: nodes::new_node_id(),
                promote_on_read: std::sync::atomic::AtomicBool::new(false),
                promoting: std::sync::Mutex::default(),
                tier_moves: tokio::sync::Mutex::new(()),
            }),
        })
    }

    pub fn index(&self) -> &Index {
        &self.inner.index
    }

    pub fn blobs(&self) -> &dyn BlobStore {
        self.inner.blobs.as_ref()
    }

    /// The hot and cold stores one by one (tiering, fsck).
    pub fn tiers(&self) -> &TieredBlobStore {
        &self.inner.blobs
    }

    pub fn tmp_dir(&self) -> &Path {
        &self.inner.tmp_dir
    }

    pub fn admin(&self) -> admin::Admin<'_> {
        admin::Admin { archive: self }
    }

    pub fn auth(&self) -> auth::Auth<'_> {
        auth::Auth { archive: self }
    }

    /// Removes staging files left by a crash (never visible: nothing indexed refers to them).
    pub fn clean_staging(&self) -> std::io::Result<usize> {
        let mut n = 0;
        for entry in std::fs::read_dir(self.tmp_dir())? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                std::fs::remove_file(entry.path())?;
                n += 1;
            }
        }
        Ok(n)
    }

    /// Queues an audit record (written within milliseconds by the batch writer).
    pub async fn audit(
        &self,
        who: &Principal,
        action: &str,
        study_uid: &str,
        patient_id: &str,
        detail: &str,
        outcome: &str,
    ) -> Result<()> {
        let rec = OwnedAudit {
            at: crate::index::now_rfc3339(),
            actor: who.actor.clone(),
            hospital_id: who.hospital_id,
            protocol: who.protocol.as_str(),
            remote_addr: who.remote.clone(),
            action: action.to_string(),
            study_uid: study_uid.to_string(),
            patient_id: patient_id.to_string(),
            detail: detail.to_string(),
            outcome: outcome.to_string(),
        };
        crate::ops::metrics::METRICS
            .audit_queue
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if outcome == "ok" && !study_uid.is_empty() && action != "store" {
            self.note_opened(study_uid);
        }
        self.inner
            .audit_tx
            .send(AuditMsg::Record(rec))
            .map_err(|_| ServiceError::Internal("audit writer stopped".into()))
    }

    /// Queues a study's `last_opened_at` unless it was written within the hour.
    fn note_opened(&self, study_uid: &str) {
        let now = std::time::Instant::now();
        let Ok(mut opened) = self.inner.opened.lock() else {
            return;
        };
        if opened
            .get(study_uid)
            .is_some_and(|t| now.duration_since(*t) < OPENED_RESOLUTION)
        {
            return;
        }
        if opened.len() > 100_000 {
            opened.retain(|_, t| now.duration_since(*t) < OPENED_RESOLUTION);
        }
        opened.insert(study_uid.to_string(), now);
        drop(opened);
        let _ = self
            .inner
            .audit_tx
            .send(AuditMsg::Opened(study_uid.to_string()));
        self.promote_in_background(study_uid);
    }

    /// Waits until every queued audit record is written (shutdown, end of a CLI command).
    pub async fn flush_audit(&self) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        if self.inner.audit_tx.send(AuditMsg::Flush(tx)).is_ok() {
            let _ = rx.await;
        }
    }

    /// Index versus blobs: every referenced blob exists with its size; counters agree.
    pub async fn fsck(&self) -> Result<FsckReport> {
        self.fsck_with(false).await
    }

    /// [`Archive::fsck`]; with `verify`, also reads every referenced blob and checks its
    /// SHA-256 against its content-address key (bit rot, tampering).
    ///
    /// The stores are listed once (one paged LIST per tier on S3, one directory walk on
    /// disk) and compared with the index in memory: no request per blob, except the
    /// reads of `verify`. A key is looked up in the tier the index names, then in the
    /// other one (as reads do); only a blob found in neither is asked for on its own.
    pub async fn fsck_with(&self, verify: bool) -> Result<FsckReport> {
        use crate::store::COLD_PREFIX;
        let referenced = self.index().all_blob_keys().await?;
        let mut report = FsckReport {
            referenced: referenced.len(),
            ..FsckReport::default()
        };
        let present: std::collections::HashMap<String, u64> =
            self.blobs().list_sizes().await?.into_iter().collect();
        report.blobs = present.len();
        let mut seen = std::collections::HashSet::new();
        let mut wanted = std::collections::HashSet::new();
        for (key, size) in referenced {
            if !seen.insert(key.clone()) {
                continue;
            }
            let other = match key.strip_prefix(COLD_PREFIX) {
                Some(hot) => hot.to_string(),
                None => format!("{COLD_PREFIX}{key}"),
            };
            let found = [&key, &other]
                .into_iter()
                .find_map(|k| present.get(k).map(|s| (k.clone(), *s)));
            match found {
                // Looked up once more on its own: a tier move or a promotion of a running
                // server may have moved it between the listings.
                None => match self.blobs().size(&key).await? {
                    Some(s) if s as i64 == size => {}
                    Some(_) => report.wrong_size.push(key.clone()),
                    None => report.missing.push(key.clone()),
                },
                Some((_, s)) if s as i64 != size => report.wrong_size.push(key.clone()),
                Some((k, _)) => {
                    if verify && !crate::store::holds_its_content(self.blobs(), &k).await? {
                        report.corrupt.push(key.clone());
                    }
                    wanted.insert(k);
                }
            }
        }
        report.orphans = present
            .into_keys()
            .filter(|k| !wanted.contains(k) && !seen.contains(k))
            .collect();
        report.counter_mismatches = self.index().counter_mismatches().await?;
        report.verified = verify;
        Ok(report)
    }
}

#[derive(Debug, Default)]
pub struct FsckReport {
    pub referenced: usize,
    pub blobs: usize,
    pub missing: Vec<String>,
    pub wrong_size: Vec<String>,
    /// Blobs whose bytes no longer hash to their key (`fsck --verify`).
    pub corrupt: Vec<String>,
    /// Blobs nobody refers to: left by a crash between blob write and index commit.
    /// Harmless (never acknowledged, never visible); reported, not an inconsistency.
    pub orphans: Vec<String>,
    pub counter_mismatches: Vec<String>,
    /// Whether blob contents were hashed.
    pub verified: bool,
}

impl FsckReport {
    pub fn is_consistent(&self) -> bool {
        self.missing.is_empty()
            && self.wrong_size.is_empty()
            && self.counter_mismatches.is_empty()
            && self.corrupt.is_empty()
    }
}

impl std::fmt::Display for FsckReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "indexed blobs: {}, blobs on storage: {}",
            self.referenced, self.blobs
        )?;
        for k in &self.missing {
            writeln!(f, "MISSING blob {k}")?;
        }
        for k in &self.wrong_size {
            writeln!(f, "WRONG SIZE blob {k}")?;
        }
        for k in &self.corrupt {
            writeln!(f, "CORRUPT blob {k} (SHA-256 differs from its key)")?;
        }
        if self.verified {
            writeln!(f, "blob contents verified against their SHA-256 keys")?;
        }
        for c in &self.counter_mismatches {
            writeln!(f, "COUNTER mismatch: {c}")?;
        }
        if !self.orphans.is_empty() {
            writeln!(
                f,
                "unreferenced blobs: {} (normally left by a crash before the index commit, never acknowledged, harmless; after a restore from an older index they are instances stored since that backup, to be sent again)",
                self.orphans.len()
            )?;
        }
        writeln!(
            f,
            "{}",
            if self.is_consistent() {
                "consistent"
            } else {
                "INCONSISTENT"
            }
        )
    }
}
