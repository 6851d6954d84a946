//! Blobs on S3-compatible object storage (AWS S3, Garage, Ceph RGW, MinIO…) through
//! `object_store`.
//!
//! Keys are content addresses, so a put of a key that already exists writes the same
//! bytes again: puts are idempotent and need no create-if-absent (Garage ignores
//! `If-None-Match` anyway). Which instance owns which bytes is decided by the index,
//! never here. `put_file` returns once the PUT (or the multipart upload's completion)
//! has been acknowledged by the store, which is when S3 makes an object durable; a
//! failed multipart upload is aborted so no parts are left behind. Reads stream the
//! object in the chunks the HTTP body arrives in: a 2 GB multi-frame file never sits in
//! memory. Retries are few and short so an outage becomes a clear error (HTTP 503, a
//! DIMSE failure status) within seconds rather than a hung request.

use std::collections::VecDeque;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::{
    BackoffConfig, ClientOptions, GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutPayload,
    RetryConfig,
};
use tokio::io::AsyncReadExt;

use super::{BlobError, BlobStore, ByteStream};

/// Files up to this size are sent in one PUT; larger ones as a multipart upload of
/// parts this size (S3 wants parts of at least 5 MiB, except the last).
pub const MULTIPART_THRESHOLD: u64 = 8 * 1024 * 1024;
const PART_BYTES: usize = 8 * 1024 * 1024;
/// Parts uploading at once: bounds memory at this many parts.
const PARTS_IN_FLIGHT: usize = 2;

/// How to reach the object store (not the bucket: that is in the `s3://` location).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct S3Settings {
    /// `http(s)://host:port` of an S3-compatible server; None: AWS (or `AWS_ENDPOINT`).
    pub endpoint: Option<String>,
    /// Region name the server expects in signatures (Garage: its `s3_region`).
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
}

impl S3Settings {
    /// Credentials from `RANGSI_S3_ACCESS_KEY_ID` / `RANGSI_S3_SECRET_ACCESS_KEY`, where
    /// set (else object_store reads the standard `AWS_*` variables itself).
    pub fn with_env_credentials(mut self) -> Self {
        if let Ok(k) = std::env::var("RANGSI_S3_ACCESS_KEY_ID") {
            self.access_key_id = Some(k);
        }
        if let Ok(s) = std::env::var("RANGSI_S3_SECRET_ACCESS_KEY") {
            self.secret_access_key = Some(s);
        }
        self
    }
}

pub struct S3BlobStore {
    store: Arc<dyn ObjectStore>,
    /// `bucket/prefix` for messages.
    name: String,
    /// "" or "some/prefix/".
    prefix: String,
}

impl S3BlobStore {
    pub fn new(bucket: &str, prefix: &str, settings: &S3Settings) -> anyhow::Result<Self> {
        // reqwest (object_store's HTTP client) is built without a TLS crypto provider of
        // its own; ring is the one already in the binary. Installing twice is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut options = ClientOptions::new()
            .with_connect_timeout(Duration::from_secs(5))
            // A whole request including its body: generous for multi-GB streams.
            .with_timeout(Duration::from_secs(600));
        let mut builder = AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .with_virtual_hosted_style_request(false)
            .with_retry(RetryConfig {
                backoff: BackoffConfig {
                    init_backoff: Duration::from_millis(100),
                    max_backoff: Duration::from_secs(2),
                    base: 2.0,
                },
                max_retries: 3,
                retry_timeout: Duration::from_secs(10),
            });
        if let Some(endpoint) = &settings.endpoint {
            if endpoint.starts_with("http://") {
                builder = builder.with_allow_http(true);
                options = options.with_allow_http(true);
            }
            builder = builder.with_endpoint(endpoint);
        }
        if let Some(region) = &settings.region {
            builder = builder.with_region(region);
        }
        if let Some(k) = &settings.access_key_id {
            builder = builder.with_access_key_id(k);
        }
        if let Some(s) = &settings.secret_access_key {
            builder = builder.with_secret_access_key(s);
        }
        let store = builder
            .with_client_options(options)
            .build()
            .map_err(|e| anyhow::anyhow!("S3 bucket {bucket}: {e}"))?;
        let prefix = prefix.trim_matches('/');
        Ok(Self {
            store: Arc::new(store),
            name: if prefix.is_empty() {
                format!("s3://{bucket}")
            } else {
                format!("s3://{bucket}/{prefix}")
            },
            prefix: if prefix.is_empty() {
                String::new()
            } else {
                format!("{prefix}/")
            },
        })
    }

    fn path(&self, key: &str) -> Result<ObjectPath, BlobError> {
        if key.is_empty()
            || key
                .split('/')
                .any(|c| c.is_empty() || c == "." || c == "..")
        {
            return Err(BlobError::NotFound(key.to_string()));
        }
        ObjectPath::parse(format!("{}{key}", self.prefix))
            .map_err(|_| BlobError::NotFound(key.to_string()))
    }

    fn err(&self, key: &str) -> impl FnOnce(object_store::Error) -> BlobError + '_ {
        let name = self.name.clone();
        let key = key.to_string();
        move |e| match e {
            object_store::Error::NotFound { .. } => BlobError::NotFound(key),
            other => BlobError::Unavailable {
                key: format!("{name}/{key}"),
                message: other.to_string(),
            },
        }
    }

    fn bad_range(key: &str, r: &Range<u64>, size: u64) -> BlobError {
        BlobError::BadRange {
            key: key.into(),
            start: r.start,
            end: r.end,
            size,
        }
    }

    async fn checked_size(&self, key: &str, r: &Range<u64>) -> Result<u64, BlobError> {
        let size = self
            .size(key)
            .await?
            .ok_or_else(|| BlobError::NotFound(key.to_string()))?;
        if r.start > r.end || r.end > size {
            return Err(Self::bad_range(key, r, size));
        }
        Ok(size)
    }

    async fn put_multipart(
        &self,
        key: &str,
        path: &ObjectPath,
        staged: &Path,
    ) -> Result<(), BlobError> {
        let local = |source| BlobError::Io {
            key: key.to_string(),
            source,
        };
        let mut file = tokio::fs::File::open(staged).await.map_err(local)?;
        let mut upload = self
            .store
            .put_multipart(path)
            .await
            .map_err(self.err(key))?;
        let mut in_flight: VecDeque<object_store::UploadPart> = VecDeque::new();
        let sent: Result<(), BlobError> = async {
            loop {
                let mut part = Vec::with_capacity(PART_BYTES);
                (&mut file)
                    .take(PART_BYTES as u64)
                    .read_to_end(&mut part)
                    .await
                    .map_err(local)?;
                if part.is_empty() {
                    break;
                }
                if in_flight.len() >= PARTS_IN_FLIGHT
                    && let Some(oldest) = in_flight.pop_front()
                {
                    oldest.await.map_err(self.err(key))?;
                }
                in_flight.push_back(upload.put_part(PutPayload::from(part)));
            }
            for part in in_flight.drain(..) {
                part.await.map_err(self.err(key))?;
            }
            upload.complete().await.map_err(self.err(key))?;
            Ok(())
        }
        .await;
        if let Err(e) = sent {
            // Drop the parts already uploaded; if the store is down this fails too and
            // its lifecycle rule for incomplete uploads cleans up later.
            if let Err(abort) = upload.abort().await {
                tracing::warn!(key, error = %abort, "cannot abort multipart upload");
            }
            return Err(e);
        }
        Ok(())
    }
}

#[async_trait]
impl BlobStore for S3BlobStore {
    async fn put_file(&self, key: &str, staged: &Path) -> Result<(), BlobError> {
        let path = self.path(key)?;
        let local = |source| BlobError::Io {
            key: key.to_string(),
            source,
        };
        let size = tokio::fs::metadata(staged).await.map_err(local)?.len();
        if size <= MULTIPART_THRESHOLD {
            let bytes = tokio::fs::read(staged).await.map_err(local)?;
            self.store
                .put(&path, PutPayload::from(bytes))
                .await
                .map_err(self.err(key))?;
        } else {
            self.put_multipart(key, &path, staged).await?;
        }
        // Stored: the staging file has done its job (as the filesystem store's rename).
        match tokio::fs::remove_file(staged).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(local(e)),
            _ => Ok(()),
        }
    }

    async fn size(&self, key: &str) -> Result<Option<u64>, BlobError> {
        match self.store.head(&self.path(key)?).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.err(key)(e)),
        }
    }

    async fn stream(&self, key: &str, range: Option<Range<u64>>) -> Result<ByteStream, BlobError> {
        let path = self.path(key)?;
        if let Some(r) = &range
            && r.start == r.end
        {
            self.checked_size(key, r).await?;
            return Ok(futures::stream::empty().boxed());
        }
        let options = GetOptions {
            range: range.clone().map(GetRange::Bounded),
            ..GetOptions::default()
        };
        let got = match self.store.get_opts(&path, options).await {
            Ok(got) => got,
            Err(object_store::Error::NotFound { .. }) => {
                return Err(BlobError::NotFound(key.to_string()));
            }
            Err(e) => {
                // A range past the end is refused by the store: say so as a range error.
                if let Some(r) = &range {
                    self.checked_size(key, r).await?;
                }
                return Err(self.err(key)(e));
            }
        };
        if let Some(r) = &range
            && r.end > got.meta.size
        {
            return Err(Self::bad_range(key, r, got.meta.size));
        }
        let name = format!("{}/{key}", self.name);
        Ok(got
            .into_stream()
            .map_err(move |e| std::io::Error::other(format!("{name}: {e}")))
            .boxed())
    }

    async fn read_range(&self, key: &str, range: Range<u64>) -> Result<Bytes, BlobError> {
        if range.start >= range.end {
            self.checked_size(key, &range).await?;
            return Ok(Bytes::new());
        }
        let got = match self.store.get_range(&self.path(key)?, range.clone()).await {
            Ok(got) => got,
            Err(object_store::Error::NotFound { .. }) => {
                return Err(BlobError::NotFound(key.to_string()));
            }
            Err(e) => {
                self.checked_size(key, &range).await?;
                return Err(self.err(key)(e));
            }
        };
        if got.len() as u64 != range.end - range.start {
            // The store clamps a range past the end.
            let size = self.checked_size(key, &range).await?;
            return Err(Self::bad_range(key, &range, size));
        }
        Ok(got)
    }

    async fn read_all(&self, key: &str) -> Result<Bytes, BlobError> {
        let got = self
            .store
            .get(&self.path(key)?)
            .await
            .map_err(self.err(key))?;
        got.bytes().await.map_err(self.err(key))
    }

    /// One LIST of the bucket/prefix (paged by the store): keys and sizes together.
    async fn list_sizes(&self) -> Result<Vec<(String, u64)>, BlobError> {
        let prefix = if self.prefix.is_empty() {
            None
        } else {
            Some(
                ObjectPath::parse(&self.prefix).map_err(|e| BlobError::Unavailable {
                    key: self.name.clone(),
                    message: e.to_string(),
                })?,
            )
        };
        let metas: Vec<_> = self
            .store
            .list(prefix.as_ref())
            .try_collect()
            .await
            .map_err(self.err(""))?;
        Ok(metas
            .into_iter()
            .filter_map(|m| {
                m.location
                    .as_ref()
                    .strip_prefix(&self.prefix)
                    .map(|k| (k.to_string(), m.size))
            })
            .filter(|(k, _)| k.ends_with(".dcm"))
            .collect())
    }

    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        match self.store.delete(&self.path(key)?).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.err(key)(e)),
        }
    }
}
