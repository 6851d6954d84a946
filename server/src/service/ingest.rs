//! Ingest: one received instance from staging file to indexed, durable, acknowledged.
//!
//! Order of events (the crash-safety invariant): staging file written → parsed and
//! validated → blob moved into the store durably (renamed into place, then file and
//! directory fsynced: `BlobStore::put_file`) → index transaction committed → audit →
//! only then the caller acknowledges. A crash anywhere before the commit leaves at most
//! an unreferenced blob or staging file, never a visible half.
//!
//! One instance costs two trips to the blocking pool (write the rest of the staging
//! file and parse it; the store's rename and fsyncs) and one to the index writer.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::{Archive, Principal, Result, ServiceError};
use crate::dicom::{self, ParseError};
use crate::index::ingest::{InsertOutcome, NewInstance};
use crate::store::key_for_sha256;

/// Bytes held in memory before a staging file is written: a typical instance (a CT slice
/// of 0.5 MiB, an 8 KiB thumbnail-sized one) costs one blocking write instead of one per
/// chunk received, and memory stays bounded per association or STOW part.
const SPILL_BYTES: usize = 1 << 20;

/// A file being received into `<data>/tmp`, hashed as it is written.
pub struct StagedWriter {
    path: PathBuf,
    /// Created when the first [`SPILL_BYTES`] are written out.
    file: Option<std::fs::File>,
    buf: Vec<u8>,
    hasher: Sha256,
    size: u64,
    limit: u64,
}

/// A complete instance being staged: the file at `path` plus the bytes still in memory
/// (`Archive::ingest` writes them out in the same blocking call that parses the file).
/// Removed on drop unless moved into the store.
pub struct StagedFile {
    pub path: PathBuf,
    pub sha256: String,
    pub size: u64,
    file: Option<std::fs::File>,
    pending: Vec<u8>,
}

impl Drop for StagedFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StageError {
    #[error("instance larger than the limit of {0} bytes")]
    TooLarge(u64),
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
}

/// Writes `buf` to the staging file at `path`, creating it first if needed.
fn write_out(
    path: &Path,
    file: Option<std::fs::File>,
    buf: &[u8],
) -> std::io::Result<std::fs::File> {
    use std::io::Write;
    let mut file = match file {
        Some(f) => f,
        None => std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)?,
    };
    file.write_all(buf)?;
    Ok(file)
}

fn joined<T>(r: Result<std::io::Result<T>, tokio::task::JoinError>) -> std::io::Result<T> {
    r.map_err(std::io::Error::other)?
}

impl StagedWriter {
    pub async fn create(archive: &Archive, limit: u64) -> std::io::Result<Self> {
        let name = format!(
            "in-{}.part",
            crate::service::auth::new_secret("").replace(['-', '_'], "x")
        );
        Ok(Self {
            path: archive.tmp_dir().join(name),
            file: None,
            buf: Vec::new(),
            hasher: Sha256::new(),
            size: 0,
            limit,
        })
    }

    pub async fn write(&mut self, bytes: &[u8]) -> Result<(), StageError> {
        self.size += bytes.len() as u64;
        if self.size > self.limit {
            self.remove().await;
            return Err(StageError::TooLarge(self.limit));
        }
        self.hasher.update(bytes);
        self.buf.extend_from_slice(bytes);
        if self.buf.len() >= SPILL_BYTES {
            let (path, file, buf) = (
                self.path.clone(),
                self.file.take(),
                std::mem::take(&mut self.buf),
            );
            let (file, mut buf) = joined(
                tokio::task::spawn_blocking(move || write_out(&path, file, &buf).map(|f| (f, buf)))
                    .await,
            )?;
            buf.clear();
            self.file = Some(file);
            self.buf = buf;
        }
        Ok(())
    }

    /// Completes the instance; what is still in memory is written out by `Archive::ingest`.
    pub async fn finish(mut self) -> Result<StagedFile, StageError> {
        Ok(StagedFile {
            path: self.path.clone(),
            sha256: hex::encode(self.hasher.clone().finalize()),
            size: self.size,
            file: self.file.take(),
            pending: std::mem::take(&mut self.buf),
        })
    }

    pub async fn abort(mut self) {
        self.remove().await;
    }

    async fn remove(&mut self) {
        if self.file.take().is_some() {
            let _ = tokio::fs::remove_file(&self.path).await;
        }
        self.buf = Vec::new();
    }
}

/// What a sender expects the instance to be (C-STORE command, STOW target study).
#[derive(Debug, Default, Clone)]
pub struct Expect {
    pub study_uid: Option<String>,
    pub sop_class_uid: Option<String>,
    pub sop_instance_uid: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// New instance, stored and indexed.
    New,
    /// Identical bytes were already stored: nothing changed.
    Duplicate,
    /// Another instance with this SOP Instance UID was stored first and is kept; these
    /// bytes were kept aside for review.
    Conflict,
}

#[derive(Debug, Clone)]
pub struct StoreOutcome {
    pub stored: Stored,
    pub sop_class_uid: String,
    pub sop_instance_uid: String,
    pub study_uid: String,
    pub series_uid: String,
}

/// Why an instance was refused, mapped to DIMSE / STOW failure codes by the caller.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IngestError {
    #[error("cannot understand the instance: {0}")]
    Invalid(String),
    #[error("{why}")]
    Mismatch {
        sop_class_uid: String,
        sop_instance_uid: String,
        why: String,
    },
    #[error("{0}")]
    NotAllowed(String),
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl From<ParseError> for IngestError {
    fn from(e: ParseError) -> Self {
        IngestError::Invalid(e.to_string())
    }
}

/// Why the blocking half of ingest failed.
enum Blocking {
    Write(std::io::Error),
    Parse(ParseError),
}

/// Writes what is still in memory to the staging file and parses it (from the page
/// cache), in one trip to the blocking pool. No fsync here: the blob store makes the
/// file durable after renaming it into place, its fsync beside its directory's.
async fn write_and_parse(
    path: &Path,
    file: Option<std::fs::File>,
    pending: Vec<u8>,
) -> Result<dicom::IndexAttrs, IngestError> {
    let path = path.to_path_buf();
    let done = tokio::task::spawn_blocking(move || {
        drop(write_out(&path, file, &pending).map_err(Blocking::Write)?);
        let parsed = dicom::parse_stored(&path).map_err(Blocking::Parse)?;
        dicom::index_attrs(&parsed).map_err(Blocking::Parse)
    })
    .await;
    match done {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(Blocking::Parse(e))) => Err(IngestError::from(e)),
        Ok(Err(Blocking::Write(e))) => Err(ServiceError::from(e).into()),
        Err(e) => Err(ServiceError::Internal(e.to_string()).into()),
    }
}

fn mismatch(attrs: &dicom::IndexAttrs, why: String) -> IngestError {
    IngestError::Mismatch {
        sop_class_uid: attrs.instance.sop_class_uid.clone(),
        sop_instance_uid: attrs.instance.sop_uid.clone(),
        why,
    }
}

impl Archive {
    /// Stores one staged Part 10 file for `who`'s hospital (counted in the metrics).
    pub async fn ingest(
        &self,
        who: &Principal,
        staged: StagedFile,
        expect: &Expect,
    ) -> Result<StoreOutcome, IngestError> {
        let size = staged.size;
        let protocol = who.protocol.as_str();
        let r = self.ingest_uncounted(who, staged, expect).await;
        let (outcome, failed) = match &r {
            Ok(o) => match o.stored {
                Stored::New => ("new", false),
                Stored::Duplicate => ("duplicate", false),
                Stored::Conflict => ("conflict", false),
            },
            Err(IngestError::Invalid(_)) => ("invalid", true),
            Err(IngestError::Mismatch { .. }) => ("mismatch", true),
            Err(IngestError::NotAllowed(_)) => ("not_allowed", true),
            Err(IngestError::Service(_)) => ("internal", true),
        };
        crate::ops::metrics::ingest(protocol, outcome, failed, size);
        r
    }

    async fn ingest_uncounted(
        &self,
        who: &Principal,
        staged: StagedFile,
        expect: &Expect,
    ) -> Result<StoreOutcome, IngestError> {
        let hospital_id = who.hospital_id.ok_or_else(|| {
            IngestError::NotAllowed(
                "this account belongs to no hospital, so it cannot store studies".into(),
            )
        })?;
        let mut staged = staged;
        let (file, pending) = (staged.file.take(), std::mem::take(&mut staged.pending));
        let attrs = write_and_parse(&staged.path, file, pending).await?;
        let outcome = |stored| StoreOutcome {
            stored,
            sop_class_uid: attrs.instance.sop_class_uid.clone(),
            sop_instance_uid: attrs.instance.sop_uid.clone(),
            study_uid: attrs.study.study_uid.clone(),
            series_uid: attrs.series.series_uid.clone(),
        };
        if let Some(s) = &expect.study_uid
            && *s != attrs.study.study_uid
        {
            return Err(mismatch(
                &attrs,
                format!(
                    "instance belongs to study {} but was sent to study {s}",
                    attrs.study.study_uid
                ),
            ));
        }
        if let Some(s) = &expect.sop_instance_uid
            && *s != attrs.instance.sop_uid
        {
            return Err(mismatch(
                &attrs,
                format!(
                    "SOP Instance UID {} in the data set differs from {s} in the request",
                    attrs.instance.sop_uid
                ),
            ));
        }
        if let Some(s) = &expect.sop_class_uid
            && *s != attrs.instance.sop_class_uid
        {
            return Err(mismatch(
                &attrs,
                format!(
                    "SOP Class UID {} in the data set differs from {s} in the request",
                    attrs.instance.sop_class_uid
                ),
            ));
        }
        let key = key_for_sha256(&staged.sha256);
        let source = format!("{}:{}@{}", who.protocol.as_str(), who.actor, who.remote);

        // No look-up first: the blob is content-addressed (a duplicate or a conflicting
        // instance cannot overwrite anything) and the insert decides uniqueness.
        self.blobs()
            .put_file(&key, &staged.path)
            .await
            .map_err(ServiceError::from)?;
        let rec = NewInstance {
            hospital_id,
            patient: attrs.patient.clone(),
            study: attrs.study.clone(),
            series: attrs.series.clone(),
            instance: attrs.instance.clone(),
            blob_key: key.clone(),
            size_bytes: staged.size as i64,
            sha256: staged.sha256.clone(),
            source: source.clone(),
        };
        let audit = crate::index::OwnedAudit {
            at: crate::index::now_rfc3339(),
            actor: who.actor.clone(),
            hospital_id: who.hospital_id,
            protocol: who.protocol.as_str(),
            remote_addr: who.remote.clone(),
            action: "store".into(),
            study_uid: attrs.study.study_uid.clone(),
            patient_id: attrs.patient.patient_id.clone(),
            detail: attrs.instance.sop_uid.clone(),
            outcome: "ok".into(),
        };
        match self
            .index()
            .insert_instance(rec, audit)
            .await
            .map_err(ServiceError::from)?
        {
            InsertOutcome::Inserted => Ok(outcome(Stored::New)),
            InsertOutcome::AlreadyPresent(existing) => {
                self.settle_existing(
                    who,
                    hospital_id,
                    &staged,
                    &attrs.instance,
                    &key,
                    &source,
                    existing,
                    outcome,
                )
                .await
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn settle_existing(
        &self,
        who: &Principal,
        hospital_id: i64,
        staged: &StagedFile,
        instance: &crate::index::ingest::InstanceAttrs,
        key: &str,
        source: &str,
        existing: crate::index::ingest::ExistingInstance,
        outcome: impl Fn(Stored) -> StoreOutcome,
    ) -> Result<StoreOutcome, IngestError> {
        let o = if existing.sha256 == staged.sha256
            || self.same_data_set(&existing, key, instance).await?
        {
            // The same data set in another file is a duplicate too: what differs is
            // the File Meta Information (C-STORE's is made by the receiver, a STOW or
            // a gateway brings the modality's). Its new blob, written before the
            // insert decided, stays unreferenced (fsck lists it as harmless): deleting
            // it could race an identical file stored for another hospital.
            outcome(Stored::Duplicate)
        } else {
            // Keep the new bytes aside (content-addressed, so they cannot overwrite).
            if std::path::Path::new(&staged.path).exists() {
                self.blobs()
                    .put_file(key, &staged.path)
                    .await
                    .map_err(ServiceError::from)?;
            }
            let o = outcome(Stored::Conflict);
            self.index()
                .insert_conflict(
                    hospital_id,
                    &o.sop_instance_uid,
                    key,
                    &staged.sha256,
                    staged.size as i64,
                    source,
                )
                .await
                .map_err(ServiceError::from)?;
            o
        };
        let what = if o.stored == Stored::Duplicate {
            "duplicate"
        } else {
            "conflict-kept-first"
        };
        self.audit(who, "store", &o.study_uid, "", &o.sop_instance_uid, what)
            .await?;
        Ok(o)
    }

    /// Whether the stored instance and the one just written under `key` (the staged
    /// file's bytes) hold the same data set: the same transfer syntax and the same bytes
    /// after their File Meta Information.
    async fn same_data_set(
        &self,
        existing: &crate::index::ingest::ExistingInstance,
        key: &str,
        instance: &crate::index::ingest::InstanceAttrs,
    ) -> Result<bool, IngestError> {
        if existing.transfer_syntax != instance.transfer_syntax {
            return Ok(false);
        }
        let old = self
            .data_set_sha256(&existing.blob_key, existing.dataset_offset)
            .await?;
        let new = self.data_set_sha256(key, instance.dataset_offset).await?;
        Ok(old.is_some() && old == new)
    }

    /// SHA-256 of a blob's bytes from `offset` on (None: no such blob or offset).
    async fn data_set_sha256(
        &self,
        key: &str,
        offset: i64,
    ) -> Result<Option<Vec<u8>>, IngestError> {
        use futures::StreamExt;
        use sha2::{Digest, Sha256};
        let Ok(from) = u64::try_from(offset) else {
            return Ok(None);
        };
        let size = self.blobs().size(key).await.map_err(ServiceError::from)?;
        let Some(size) = size.filter(|s| *s >= from) else {
            return Ok(None);
        };
        let mut stream = self
            .blobs()
            .stream(key, Some(from..size))
            .await
            .map_err(ServiceError::from)?;
        let mut h = Sha256::new();
        while let Some(chunk) = stream.next().await {
            let chunk =
                chunk.map_err(|e| ServiceError::Internal(format!("reading blob {key}: {e}")))?;
            h.update(&chunk);
        }
        Ok(Some(h.finalize().to_vec()))
    }
}
