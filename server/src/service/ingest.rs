//! Ingest: one received instance from staging file to indexed, durable, acknowledged.
//!
//! Order of events (the crash-safety invariant): staging file written and fsynced →
//! parsed and validated → blob moved into the store durably → index transaction
//! committed → audit → only then the caller acknowledges. A crash anywhere before the
//! commit leaves at most an unreferenced blob or staging file, never a visible half.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use super::{Archive, Principal, Result, ServiceError};
use crate::dicom::{self, ParseError};
use crate::index::ingest::{InsertOutcome, NewInstance};
use crate::store::key_for_sha256;

/// A file being received into `<data>/tmp`, hashed as it is written.
pub struct StagedWriter {
    path: PathBuf,
    file: tokio::io::BufWriter<tokio::fs::File>,
    hasher: Sha256,
    size: u64,
    limit: u64,
}

/// A complete, fsynced staging file. Removed on drop unless moved into the store.
pub struct StagedFile {
    pub path: PathBuf,
    pub sha256: String,
    pub size: u64,
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

impl StagedWriter {
    pub async fn create(archive: &Archive, limit: u64) -> std::io::Result<Self> {
        let name = format!(
            "in-{}.part",
            crate::service::auth::new_secret("").replace(['-', '_'], "x")
        );
        let path = archive.tmp_dir().join(name);
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .await?;
        Ok(Self {
            path,
            file: tokio::io::BufWriter::with_capacity(256 * 1024, file),
            hasher: Sha256::new(),
            size: 0,
            limit,
        })
    }

    pub async fn write(&mut self, bytes: &[u8]) -> Result<(), StageError> {
        self.size += bytes.len() as u64;
        if self.size > self.limit {
            let _ = tokio::fs::remove_file(&self.path).await;
            return Err(StageError::TooLarge(self.limit));
        }
        self.hasher.update(bytes);
        self.file.write_all(bytes).await?;
        Ok(())
    }

    /// Completes the file. It is fsynced by `Archive::ingest`, overlapped with parsing.
    pub async fn finish(mut self) -> Result<StagedFile, StageError> {
        self.file.flush().await?;
        Ok(StagedFile {
            path: self.path.clone(),
            sha256: hex::encode(self.hasher.clone().finalize()),
            size: self.size,
        })
    }

    pub async fn abort(self) {
        let _ = tokio::fs::remove_file(&self.path).await;
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

fn parse_blocking(
    path: &Path,
) -> impl FnOnce() -> Result<(dicom::Parsed, dicom::IndexAttrs), ParseError> + use<> {
    let path = path.to_path_buf();
    move || {
        let parsed = dicom::parse_stored(&path)?;
        let attrs = dicom::index_attrs(&parsed)?;
        Ok((parsed, attrs))
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
    /// Stores one staged Part 10 file for `who`'s hospital.
    pub async fn ingest(
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
        // fsync the staging file while parsing it (from the page cache).
        let path = staged.path.clone();
        let sync = async move { tokio::fs::File::open(&path).await?.sync_all().await };
        let parse = tokio::task::spawn_blocking(parse_blocking(&staged.path));
        let (synced, parsed) = tokio::join!(sync, parse);
        synced.map_err(ServiceError::from)?;
        let (_parsed, attrs) = parsed.map_err(|e| ServiceError::Internal(e.to_string()))??;
        let outcome = |stored| StoreOutcome {
            stored,
            sop_class_uid: attrs.instance.sop_class_uid.clone(),
            sop_instance_uid: attrs.instance.sop_uid.clone(),
            study_uid: attrs.study.study_uid.clone(),
            series_uid: attrs.series.series_uid.clone(),
        };
        if let Some(s) = &expect.study_uid {
            if *s != attrs.study.study_uid {
                return Err(mismatch(
                    &attrs,
                    format!(
                        "instance belongs to study {} but was sent to study {s}",
                        attrs.study.study_uid
                    ),
                ));
            }
        }
        if let Some(s) = &expect.sop_instance_uid {
            if *s != attrs.instance.sop_uid {
                return Err(mismatch(
                    &attrs,
                    format!(
                        "SOP Instance UID {} in the data set differs from {s} in the request",
                        attrs.instance.sop_uid
                    ),
                ));
            }
        }
        if let Some(s) = &expect.sop_class_uid {
            if *s != attrs.instance.sop_class_uid {
                return Err(mismatch(
                    &attrs,
                    format!(
                        "SOP Class UID {} in the data set differs from {s} in the request",
                        attrs.instance.sop_class_uid
                    ),
                ));
            }
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
        let audit = crate::index::AuditRecord {
            actor: &who.actor,
            hospital_id: who.hospital_id,
            protocol: who.protocol.as_str(),
            remote_addr: &who.remote,
            action: "store",
            study_uid: &attrs.study.study_uid,
            patient_id: &attrs.patient.patient_id,
            detail: &attrs.instance.sop_uid,
            outcome: "ok",
        };
        match self
            .index()
            .insert_instance(&rec, &audit)
            .await
            .map_err(ServiceError::from)?
        {
            InsertOutcome::Inserted => Ok(outcome(Stored::New)),
            InsertOutcome::AlreadyPresent(existing) => {
                self.settle_existing(
                    who,
                    hospital_id,
                    &staged,
                    &key,
                    &source,
                    existing.sha256,
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
        key: &str,
        source: &str,
        existing_sha: String,
        outcome: impl Fn(Stored) -> StoreOutcome,
    ) -> Result<StoreOutcome, IngestError> {
        let o = if existing_sha == staged.sha256 {
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
}
