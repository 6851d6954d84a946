//! Blob storage: where the bytes of every instance live.
//!
//! The index never holds pixel data; it holds a blob key. Keys are content addresses
//! (SHA-256 of the Part 10 file), so the same bytes are stored once and a different
//! instance with the same SOP Instance UID can never overwrite the first.
//!
//! Invariant: `put_file` returns only once the blob is durable (fsync of file and
//! directory on disk; a completed PUT on object storage). Ingest commits the index only
//! after that, and acknowledges only after the commit.

pub mod cache;
mod fs;
pub mod location;
mod s3;
mod tiered;

use std::ops::Range;
use std::path::Path;
use std::pin::Pin;

use async_trait::async_trait;
use bytes::Bytes;
use futures::Stream;

pub use cache::{BlobCache, CacheSettings, CachedBlobStore};
pub use fs::FsBlobStore;
pub use location::{BlobLocation, CacheFlags, StoreConfig};
pub use s3::{S3BlobStore, S3Settings};
pub use tiered::{COLD_PREFIX, TieredBlobStore};

/// A stream of chunks of one blob.
pub type ByteStream = Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send>>;

/// A blob's stream read as `std::io::Read` on a blocking thread (inside
/// `spawn_blocking`): each chunk is awaited on the runtime it was made on, so
/// memory holds one chunk at a time. Made on the runtime, read off it.
pub struct BlockingBlobReader {
    runtime: tokio::runtime::Handle,
    stream: ByteStream,
    chunk: Bytes,
}

impl BlockingBlobReader {
    /// Must be called from within the Tokio runtime.
    pub fn new(stream: ByteStream) -> Self {
        Self {
            runtime: tokio::runtime::Handle::current(),
            stream,
            chunk: Bytes::new(),
        }
    }
}

impl std::io::Read for BlockingBlobReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use futures::StreamExt;
        while self.chunk.is_empty() {
            match self.runtime.block_on(self.stream.next()) {
                Some(chunk) => self.chunk = chunk?,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk.split_to(n));
        Ok(n)
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BlobError {
    #[error("blob {0} not found")]
    NotFound(String),
    #[error("blob {key}: range {start}..{end} outside its {size} bytes")]
    BadRange {
        key: String,
        start: u64,
        end: u64,
        size: u64,
    },
    #[error("blob store I/O on {key}: {source}")]
    Io { key: String, source: std::io::Error },
    /// The object store did not answer (down, unreachable, timing out): nothing was
    /// stored or read; the caller may try again later.
    #[error("blob store unavailable for {key}: {message}")]
    Unavailable { key: String, message: String },
}

/// Storage of immutable blobs by key. Implemented by the local filesystem (`fs.rs`) and
/// by S3-compatible object storage through object_store (`s3.rs`); `tiered.rs` puts a
/// hot and a cold one behind the same trait. Ingest and retrieval only see this.
#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// Moves a finished staging file (written, not necessarily fsynced) into the store
    /// under `key`, durably: on return the blob's bytes and its name survive a power cut.
    /// If the key already holds these bytes, the staging file is just removed.
    async fn put_file(&self, key: &str, staged: &Path) -> Result<(), BlobError>;
    /// The size of a blob, or None if absent.
    async fn size(&self, key: &str) -> Result<Option<u64>, BlobError>;
    /// Streams a whole blob (or a byte range of it).
    async fn stream(&self, key: &str, range: Option<Range<u64>>) -> Result<ByteStream, BlobError>;
    /// Reads a byte range into memory (frames, fragments): bounded by the caller.
    async fn read_range(&self, key: &str, range: Range<u64>) -> Result<Bytes, BlobError>;
    /// Reads a whole blob into memory (decoding, re-encoding); bounded by the caller.
    async fn read_all(&self, key: &str) -> Result<Bytes, BlobError>;
    /// Every key in the store with its size, from one listing (fsck: no request per
    /// blob).
    async fn list_sizes(&self) -> Result<Vec<(String, u64)>, BlobError>;
    /// Every key in the store (fsck).
    async fn list_keys(&self) -> Result<Vec<String>, BlobError> {
        Ok(self
            .list_sizes()
            .await?
            .into_iter()
            .map(|(k, _)| k)
            .collect())
    }
    /// Readiness probe (`/readyz`): the store can be written and read back now.
    async fn check_ready(&self) -> Result<(), BlobError> {
        Ok(())
    }
    /// Removes a blob (tiering, after its copy in the colder store is verified and
    /// indexed); an absent blob is not an error.
    async fn delete(&self, key: &str) -> Result<(), BlobError>;
}

/// The key of a Part 10 file with this SHA-256 (hex).
pub fn key_for_sha256(hex: &str) -> String {
    format!("{}/{}/{}.dcm", &hex[0..2], &hex[2..4], hex)
}

/// The SHA-256 (hex) a key names: `ab/cd/<hex>.dcm`, also tier-qualified.
pub fn sha256_of_key(key: &str) -> &str {
    let name = key.rsplit('/').next().unwrap_or(key);
    name.strip_suffix(".dcm").unwrap_or(name)
}

/// Reads a blob back as a stream and hashes it: whether its bytes are those its content
/// address names. Memory holds one chunk at a time.
pub async fn holds_its_content(store: &dyn BlobStore, key: &str) -> Result<bool, BlobError> {
    Ok(sha256_of_stream(store, key).await? == sha256_of_key(key))
}

/// The SHA-256 (hex) of a blob's bytes, read as a stream.
pub async fn sha256_of_stream(store: &dyn BlobStore, key: &str) -> Result<String, BlobError> {
    use futures::StreamExt;
    use sha2::{Digest, Sha256};
    let mut stream = store.stream(key, None).await?;
    let mut hasher = Sha256::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|source| BlobError::Io {
            key: key.to_string(),
            source,
        })?;
        hasher.update(&chunk);
    }
    Ok(hex::encode(hasher.finalize()))
}
