//! A bounded local read cache in front of an object store (`serve --blob-cache DIR
//! --blob-cache-gb N`): frames of an archive on S3 are served from local disk after the
//! first read of their object.
//!
//! - **Whole objects, by content address.** An entry is the whole blob under its SHA-256
//!   (`DIR/ab/cd/<sha256>.dcm`). Keys are content addresses, so an entry never goes stale;
//!   it is dropped when its blob is deleted (tier moves and promotions delete) and when
//!   least recently used beyond the size budget.
//! - **Filled in the background, verified.** A read that misses is answered by the store
//!   (a ranged GET for a frame), and one background task per object streams the whole
//!   object into `DIR/tmp`, hashes it (it must hash to its key), fsyncs it and renames it
//!   into place. Only then is it an entry. A crash leaves at most a temporary file, which
//!   the next start removes; a renamed file was fsynced first, so it is never partial.
//!   `read_all` fills from the bytes it already read (no second GET). Whole-object
//!   streams (WADO instance retrieval, tier moves, fsck --verify) and `size` always ask
//!   the store: they verify the store itself, and bulk jobs would only evict what
//!   viewers read.
//! - **Safe with concurrent readers.** Entries are only ever created by rename and removed
//!   by unlink: a reader that opened a file keeps reading it after eviction; one that finds
//!   it gone reads from the store instead (and forgets the entry).
//! - **Bounded.** The sum of entry sizes stays at most the budget; objects larger than a
//!   quarter of it are never cached; at most `MAX_FILLS` fills run at once (more misses
//!   are answered by the store alone and fill on a later read).

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use bytes::Bytes;

use super::{BlobError, BlobStore, ByteStream, key_for_sha256, sha256_of_key};

/// Default budget of the cache, in GB (10⁹ bytes).
pub const DEFAULT_CACHE_GB: u64 = 20;
/// Fills running at once.
const MAX_FILLS: usize = 4;
/// Temporary files of fills, under the cache folder.
const TMP: &str = "tmp";
/// The file that marks a folder as a blob cache.
const MARKER: &str = "RANGSI-BLOB-CACHE";

/// Where the cache lives and how large it may grow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheSettings {
    pub dir: PathBuf,
    pub max_bytes: u64,
}

#[derive(Debug)]
struct Entry {
    size: u64,
    used: u64,
}

#[derive(Debug, Default)]
struct State {
    entries: HashMap<String, Entry>,
    /// Use tick → SHA-256: the least recently used first.
    by_use: BTreeMap<u64, String>,
    tick: u64,
    bytes: u64,
    /// Fills in flight: SHA-256 → cancelled (its blob was deleted meanwhile).
    filling: HashMap<String, bool>,
}

impl State {
    fn touch(&mut self, sha: &str) -> Option<u64> {
        self.tick += 1;
        let tick = self.tick;
        let e = self.entries.get_mut(sha)?;
        self.by_use.remove(&e.used);
        e.used = tick;
        self.by_use.insert(tick, sha.to_string());
        Some(e.size)
    }

    fn forget(&mut self, sha: &str) -> bool {
        match self.entries.remove(sha) {
            Some(e) => {
                self.by_use.remove(&e.used);
                self.bytes -= e.size;
                true
            }
            None => false,
        }
    }
}

/// The cache folder and its LRU bookkeeping (shared by every cached store of a process).
pub struct BlobCache {
    dir: PathBuf,
    max_bytes: u64,
    state: Mutex<State>,
    fills: Arc<tokio::sync::Semaphore>,
}

/// A SHA-256 in hex, as cache entries are named (anything else is not cached).
fn cacheable(key: &str) -> Option<&str> {
    let sha = sha256_of_key(key);
    (sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_hexdigit())).then_some(sha)
}

impl BlobCache {
    /// Opens (creates) the cache folder: removes temporary files a crash left, takes the
    /// entries there (oldest modification first), and evicts down to the budget. A
    /// folder that is not empty and was never a cache (no `MARKER`) is refused: eviction
    /// deletes files, so it must never adopt someone else's.
    pub fn open(settings: &CacheSettings) -> std::io::Result<Arc<Self>> {
        let dir = settings.dir.clone();
        let marker = dir.join(MARKER);
        let is_empty = match std::fs::read_dir(&dir) {
            Ok(mut d) => d.next().is_none(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
            Err(e) => return Err(e),
        };
        if !is_empty && !marker.is_file() {
            return Err(std::io::Error::other(format!(
                "{} is not empty and is not a blob cache (no {MARKER}): give an empty or new folder",
                dir.display()
            )));
        }
        std::fs::create_dir_all(dir.join(TMP))?;
        std::fs::write(
            &marker,
            "rangsi blob cache: files here are copies of S3 objects and may be deleted at any time\n",
        )?;
        for entry in std::fs::read_dir(dir.join(TMP))? {
            let entry = entry?;
            if entry.file_type()?.is_file() && entry.file_name().to_string_lossy().ends_with(".tmp")
            {
                std::fs::remove_file(entry.path())?;
            }
        }
        let mut found = Vec::new();
        for entry in walkdir::WalkDir::new(&dir).min_depth(3).max_depth(3) {
            let entry = entry.map_err(std::io::Error::from)?;
            let name = entry.file_name().to_string_lossy().to_string();
            if !entry.file_type().is_file() || entry.path().starts_with(dir.join(TMP)) {
                continue;
            }
            // Only names the cache itself gives (`ab/cd/<sha256>.dcm`).
            if let Some(sha) = cacheable(&name)
                && name.ends_with(".dcm")
                && entry.path() == dir.join(key_for_sha256(sha))
            {
                let meta = entry.metadata().map_err(std::io::Error::from)?;
                let modified = meta.modified().unwrap_or(std::time::UNIX_EPOCH);
                found.push((modified, sha.to_string(), meta.len()));
            }
        }
        found.sort();
        let cache = Self {
            dir,
            max_bytes: settings.max_bytes,
            state: Mutex::new(State::default()),
            fills: Arc::new(tokio::sync::Semaphore::new(MAX_FILLS)),
        };
        {
            let mut st = cache.lock();
            for (_, sha, size) in found {
                st.tick += 1;
                let tick = st.tick;
                st.by_use.insert(tick, sha.clone());
                st.entries.insert(sha, Entry { size, used: tick });
                st.bytes += size;
            }
            cache.evict(&mut st, 0);
        }
        Ok(Arc::new(cache))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn path(&self, sha: &str) -> PathBuf {
        self.dir.join(key_for_sha256(sha))
    }

    /// Bytes held now (tests, logs).
    pub fn bytes(&self) -> u64 {
        self.lock().bytes
    }

    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Removes least recently used entries until `extra` more bytes fit. Called with the
    /// lock held: a rename into place and an unlink never interleave for one name.
    fn evict(&self, st: &mut State, extra: u64) {
        while st.bytes + extra > self.max_bytes {
            let Some((_, sha)) = st.by_use.pop_first() else {
                break;
            };
            if let Some(e) = st.entries.remove(&sha) {
                st.bytes -= e.size;
            }
            if let Err(e) = std::fs::remove_file(self.path(&sha))
                && e.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!(error = %e, "blob cache: cannot remove an evicted entry");
            }
        }
    }

    /// The entry's file and size, if cached (and marks it used).
    fn hit(&self, key: &str) -> Option<(PathBuf, u64)> {
        let sha = cacheable(key)?;
        let size = self.lock().touch(sha);
        count(size.is_some());
        size.map(|s| (self.path(sha), s))
    }

    /// Drops an entry whose file vanished (it is read from the store instead).
    fn lost(&self, key: &str) {
        if let Some(sha) = cacheable(key) {
            let mut st = self.lock();
            // A fill may have put it back since: keep what is there.
            if !self.path(sha).is_file() {
                st.forget(sha);
            }
        }
    }

    /// Drops a blob's entry and cancels fills in flight (its blob is being deleted).
    pub fn remove(&self, key: &str) {
        let Some(sha) = cacheable(key) else { return };
        let mut st = self.lock();
        if let Some(cancelled) = st.filling.get_mut(sha) {
            *cancelled = true;
        }
        if st.forget(sha)
            && let Err(e) = std::fs::remove_file(self.path(sha))
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(error = %e, "blob cache: cannot remove an entry");
        }
    }

    /// Claims the fill of `key`: None if it is cached, being filled, or not cacheable,
    /// or if `MAX_FILLS` are already running.
    fn claim(self: &Arc<Self>, key: &str) -> Option<FillClaim> {
        let sha = cacheable(key)?.to_string();
        let permit = Arc::clone(&self.fills).try_acquire_owned().ok()?;
        let mut st = self.lock();
        if st.entries.contains_key(&sha) || st.filling.contains_key(&sha) {
            return None;
        }
        st.filling.insert(sha.clone(), false);
        Some(FillClaim {
            cache: Arc::clone(self),
            sha,
            _permit: permit,
        })
    }

    fn too_large(&self, size: u64) -> bool {
        size > self.max_bytes / 4
    }
}

fn count(hit: bool) {
    crate::ops::metrics::METRICS.inc(
        "rangsi_blob_cache_reads_total",
        vec![("result", if hit { "hit" } else { "miss" }.into())],
        1,
    );
}

/// One fill in flight; dropping it (done, failed or abandoned) releases the claim.
struct FillClaim {
    cache: Arc<BlobCache>,
    sha: String,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl Drop for FillClaim {
    fn drop(&mut self) {
        self.cache.lock().filling.remove(&self.sha);
    }
}

impl FillClaim {
    fn tmp_path(&self) -> PathBuf {
        self.cache
            .dir
            .join(TMP)
            .join(format!("{}.{}.tmp", self.sha, rand::random::<u64>()))
    }

    /// Streams the whole object from `store` into the cache.
    async fn fill_from_store(self, store: Arc<dyn BlobStore>, key: String) {
        use futures::StreamExt;
        use sha2::{Digest, Sha256};
        use tokio::io::AsyncWriteExt;
        let tmp = self.tmp_path();
        let written: std::io::Result<Option<u64>> = async {
            let mut stream = match store.stream(&key, None).await {
                Ok(s) => s,
                Err(e) => return Err(std::io::Error::other(e.to_string())),
            };
            let mut file = tokio::fs::File::create(&tmp).await?;
            let mut hasher = Sha256::new();
            let mut size = 0u64;
            while let Some(chunk) = stream.next().await {
                let chunk = chunk?;
                size += chunk.len() as u64;
                if self.cache.too_large(size) {
                    return Ok(None);
                }
                hasher.update(&chunk);
                file.write_all(&chunk).await?;
            }
            file.flush().await?;
            file.sync_all().await?;
            if hex::encode(hasher.finalize()) != self.sha {
                return Err(std::io::Error::other("object does not hash to its key"));
            }
            Ok(Some(size))
        }
        .await;
        match written {
            Ok(Some(size)) => self.commit(&tmp, size),
            Ok(None) => {}
            Err(e) => tracing::warn!(key, error = %e, "blob cache: not filled"),
        }
        let _ = tokio::fs::remove_file(&tmp).await;
    }

    /// Writes bytes already read (a whole object) into the cache.
    async fn fill_from_bytes(self, bytes: Bytes) {
        use sha2::{Digest, Sha256};
        if self.cache.too_large(bytes.len() as u64) {
            return;
        }
        let tmp = self.tmp_path();
        let expected = self.sha.clone();
        let path = tmp.clone();
        let written = tokio::task::spawn_blocking(move || -> std::io::Result<u64> {
            if hex::encode(Sha256::digest(&bytes)) != expected {
                return Err(std::io::Error::other("object does not hash to its key"));
            }
            let mut file = std::fs::File::create(&path)?;
            std::io::Write::write_all(&mut file, &bytes)?;
            file.sync_all()?;
            Ok(bytes.len() as u64)
        })
        .await
        .map_err(std::io::Error::other)
        .and_then(|r| r);
        match written {
            Ok(size) => self.commit(&tmp, size),
            Err(e) => tracing::warn!(sha = self.sha, error = %e, "blob cache: not filled"),
        }
        let _ = tokio::fs::remove_file(&tmp).await;
    }

    /// Renames a complete, fsynced file into place and records it, unless its blob was
    /// deleted meanwhile.
    fn commit(&self, tmp: &Path, size: u64) {
        let cache = &self.cache;
        let mut st = cache.lock();
        if st.filling.get(&self.sha).copied().unwrap_or(true) || st.entries.contains_key(&self.sha)
        {
            return;
        }
        cache.evict(&mut st, size);
        let path = cache.path(&self.sha);
        let renamed = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::rename(tmp, &path));
        if let Err(e) = renamed {
            tracing::warn!(error = %e, "blob cache: cannot place an entry");
            return;
        }
        st.tick += 1;
        let tick = st.tick;
        st.by_use.insert(tick, self.sha.clone());
        st.entries
            .insert(self.sha.clone(), Entry { size, used: tick });
        st.bytes += size;
    }
}

/// A store with the read cache in front of it.
pub struct CachedBlobStore {
    inner: Arc<dyn BlobStore>,
    cache: Arc<BlobCache>,
}

impl CachedBlobStore {
    pub fn new(inner: Arc<dyn BlobStore>, cache: Arc<BlobCache>) -> Self {
        Self { inner, cache }
    }

    /// Starts filling `key` in the background (a miss of a read that fills).
    fn fill(&self, key: &str) {
        if let Some(claim) = self.cache.claim(key) {
            let store = Arc::clone(&self.inner);
            tokio::spawn(claim.fill_from_store(store, key.to_string()));
        }
    }

    fn bad_range(key: &str, r: &Range<u64>, size: u64) -> BlobError {
        BlobError::BadRange {
            key: key.to_string(),
            start: r.start,
            end: r.end,
            size,
        }
    }

    /// A range of a cached file; None when the file is gone (evicted meanwhile).
    async fn read_cached(
        &self,
        key: &str,
        path: PathBuf,
        range: Range<u64>,
    ) -> Result<Option<Bytes>, BlobError> {
        let r = tokio::task::spawn_blocking(move || -> std::io::Result<Bytes> {
            use std::os::unix::fs::FileExt;
            let file = std::fs::File::open(&path)?;
            let mut buf = vec![0u8; (range.end - range.start) as usize];
            file.read_exact_at(&mut buf, range.start)?;
            Ok(Bytes::from(buf))
        })
        .await
        .map_err(|e| BlobError::Io {
            key: key.to_string(),
            source: std::io::Error::other(e),
        })?;
        match r {
            Ok(b) => Ok(Some(b)),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::UnexpectedEof
                ) =>
            {
                self.cache.lost(key);
                Ok(None)
            }
            Err(source) => Err(BlobError::Io {
                key: key.to_string(),
                source,
            }),
        }
    }
}

#[async_trait]
impl BlobStore for CachedBlobStore {
    async fn put_file(&self, key: &str, staged: &Path) -> Result<(), BlobError> {
        self.inner.put_file(key, staged).await
    }

    /// Asks the store: whether the object is there (promotion and tier moves check it).
    async fn size(&self, key: &str) -> Result<Option<u64>, BlobError> {
        self.inner.size(key).await
    }

    async fn stream(&self, key: &str, range: Option<Range<u64>>) -> Result<ByteStream, BlobError> {
        use futures::StreamExt;
        use tokio::io::{AsyncReadExt, AsyncSeekExt};
        // A whole-object stream reads the store itself: it is what verifies the store
        // (fsck --verify, tier moves' read-back) and bulk retrieval, which would only
        // evict what viewers read.
        if let Some(r) = &range
            && let Some((path, size)) = self.cache.hit(key)
        {
            let r = r.clone();
            if r.start > r.end || r.end > size {
                return Err(Self::bad_range(key, &r, size));
            }
            match tokio::fs::File::open(&path).await {
                Ok(mut file) => {
                    file.seek(std::io::SeekFrom::Start(r.start))
                        .await
                        .map_err(|source| BlobError::Io {
                            key: key.to_string(),
                            source,
                        })?;
                    let reader = file.take(r.end - r.start);
                    return Ok(
                        tokio_util::io::ReaderStream::with_capacity(reader, 256 * 1024).boxed(),
                    );
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => self.cache.lost(key),
                Err(source) => {
                    return Err(BlobError::Io {
                        key: key.to_string(),
                        source,
                    });
                }
            }
        }
        let s = self.inner.stream(key, range.clone()).await?;
        if range.is_some() {
            self.fill(key);
        }
        Ok(s)
    }

    async fn read_range(&self, key: &str, range: Range<u64>) -> Result<Bytes, BlobError> {
        if let Some((path, size)) = self.cache.hit(key) {
            if range.start > range.end || range.end > size {
                return Err(Self::bad_range(key, &range, size));
            }
            if let Some(b) = self.read_cached(key, path, range.clone()).await? {
                return Ok(b);
            }
        }
        let b = self.inner.read_range(key, range).await?;
        self.fill(key);
        Ok(b)
    }

    async fn read_all(&self, key: &str) -> Result<Bytes, BlobError> {
        if let Some((path, size)) = self.cache.hit(key)
            && let Some(b) = self.read_cached(key, path, 0..size).await?
        {
            return Ok(b);
        }
        let b = self.inner.read_all(key).await?;
        if let Some(claim) = self.cache.claim(key) {
            tokio::spawn(claim.fill_from_bytes(b.clone()));
        }
        Ok(b)
    }

    async fn list_keys(&self) -> Result<Vec<String>, BlobError> {
        self.inner.list_keys().await
    }

    async fn list_sizes(&self) -> Result<Vec<(String, u64)>, BlobError> {
        self.inner.list_sizes().await
    }

    async fn check_ready(&self) -> Result<(), BlobError> {
        self.inner.check_ready().await
    }

    /// Drops the entry before and after the store's delete: a fill that started before
    /// is cancelled, one that starts after finds no object.
    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        self.cache.remove(key);
        let r = self.inner.delete(key).await;
        self.cache.remove(key);
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::FsBlobStore;

    fn key_of(bytes: &[u8]) -> String {
        use sha2::{Digest, Sha256};
        key_for_sha256(&hex::encode(Sha256::digest(bytes)))
    }

    async fn put(store: &dyn BlobStore, tmp: &Path, bytes: &[u8]) -> String {
        let key = key_of(bytes);
        let staged = tmp.join("staged.part");
        std::fs::write(&staged, bytes).expect("staged");
        store.put_file(&key, &staged).await.expect("put");
        key
    }

    /// Waits for the background fill of `key` (bounded: fills of a few bytes).
    async fn filled(cache: &BlobCache, key: &str) -> bool {
        let sha = sha256_of_key(key).to_string();
        for _ in 0..500 {
            {
                let st = cache.lock();
                if st.entries.contains_key(&sha) && !st.filling.contains_key(&sha) {
                    return true;
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        false
    }

    fn setup(name: &str, max_bytes: u64) -> (PathBuf, Arc<FsBlobStore>, Arc<BlobCache>) {
        let dir = std::env::temp_dir().join(format!("rangsi-cache-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("tmp")).expect("tmp");
        let origin = Arc::new(FsBlobStore::new(dir.join("origin")).expect("origin"));
        let cache = BlobCache::open(&CacheSettings {
            dir: dir.join("cache"),
            max_bytes,
        })
        .expect("cache");
        (dir, origin, cache)
    }

    #[tokio::test]
    async fn a_range_read_fills_the_cache_and_later_reads_hit_it() {
        let (dir, origin, cache) = setup("fill", 1 << 20);
        let store = CachedBlobStore::new(origin.clone(), Arc::clone(&cache));
        let bytes: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
        let key = put(&store, &dir.join("tmp"), &bytes).await;
        assert_eq!(
            store.read_range(&key, 10..20).await.expect("miss"),
            &bytes[10..20]
        );
        assert!(filled(&cache, &key).await, "the first read fills the cache");
        // The origin's copy is gone: reads are served by the cache alone.
        std::fs::remove_file(dir.join("origin").join(&key)).expect("rm origin");
        assert_eq!(
            store.read_range(&key, 100..4000).await.expect("hit"),
            &bytes[100..4000]
        );
        assert_eq!(store.read_all(&key).await.expect("all"), &bytes[..]);
        assert!(matches!(
            store.read_range(&key, 4000..6000).await,
            Err(BlobError::BadRange { .. })
        ));
        // Deleting the blob drops the entry.
        store.delete(&key).await.expect("delete");
        assert_eq!(cache.bytes(), 0);
        assert!(matches!(
            store.read_range(&key, 0..10).await,
            Err(BlobError::NotFound(_))
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn least_recently_used_entries_go_first_and_a_restart_keeps_the_rest() {
        let (dir, origin, cache) = setup("lru", 10_000);
        let store = CachedBlobStore::new(origin.clone(), Arc::clone(&cache));
        let blobs: Vec<Vec<u8>> = (0..4u8).map(|i| vec![i; 2_400]).collect();
        let mut keys = Vec::new();
        for b in &blobs {
            let key = put(&store, &dir.join("tmp"), b).await;
            store.read_all(&key).await.expect("read");
            assert!(filled(&cache, &key).await);
            keys.push(key);
        }
        assert_eq!(cache.bytes(), 9_600);
        // Use the first again, then add a fifth: the second (least recently used) goes.
        store.read_range(&keys[0], 0..1).await.expect("hit");
        let key = put(&store, &dir.join("tmp"), &[9u8; 2_400]).await;
        store.read_all(&key).await.expect("read");
        assert!(filled(&cache, &key).await);
        assert_eq!(cache.bytes(), 9_600);
        let held = |k: &str| dir.join("cache").join(k).is_file();
        assert!(held(&keys[0]) && !held(&keys[1]) && held(&keys[2]) && held(&key));
        // Objects larger than a quarter of the budget are not cached.
        let big = put(&store, &dir.join("tmp"), &[7u8; 3_000]).await;
        store.read_all(&big).await.expect("read");
        assert!(!filled(&cache, &big).await);
        // A crash's temporary file is removed on start; complete entries are kept.
        std::fs::write(dir.join("cache/tmp/x.tmp"), b"partial").expect("tmp");
        drop(store);
        let again = BlobCache::open(&CacheSettings {
            dir: dir.join("cache"),
            max_bytes: 10_000,
        })
        .expect("reopen");
        assert_eq!(again.bytes(), 9_600);
        assert!(!dir.join("cache/tmp/x.tmp").exists());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_folder_that_is_not_a_cache_is_refused() {
        let dir = std::env::temp_dir().join(format!("rangsi-cache-foreign-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("ab/cd")).expect("dir");
        let precious = dir.join("ab/cd").join(format!("{}.dcm", "a".repeat(64)));
        std::fs::write(&precious, b"someone else's file").expect("file");
        let open = |max_bytes| {
            BlobCache::open(&CacheSettings {
                dir: dir.clone(),
                max_bytes,
            })
        };
        assert!(
            open(1).is_err(),
            "a non-empty folder without the marker is refused"
        );
        assert!(precious.is_file());
        let _ = std::fs::remove_dir_all(&dir);
        // An empty folder becomes a cache; reopening it is fine.
        std::fs::create_dir_all(&dir).expect("dir");
        open(1000).expect("empty folder");
        open(1000).expect("reopen");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn bytes_that_do_not_hash_to_their_key_are_never_cached() {
        let (dir, origin, cache) = setup("verify", 1 << 20);
        let store = CachedBlobStore::new(origin.clone(), Arc::clone(&cache));
        let key = key_of(b"the real bytes");
        // A corrupt object in the store under that key.
        let staged = dir.join("tmp").join("bad.part");
        std::fs::write(&staged, b"other bytes").expect("staged");
        origin.put_file(&key, &staged).await.expect("put");
        store.read_range(&key, 0..5).await.expect("read");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        assert_eq!(cache.bytes(), 0);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
