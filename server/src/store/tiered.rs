//! A hot and an optional cold blob store behind one `BlobStore`: what the archive reads
//! and writes through.
//!
//! The index records per blob key which tier holds it (`blob_tiers`, migration 0016) and
//! hands out tier-qualified keys: `cold:ab/cd/abcd….dcm` for a blob in the cold store, the
//! bare key for the hot one. This store routes by that prefix, so retrieval code stays
//! unaware of tiers. A read that misses in the named tier tries the other one: a blob is
//! copied to cold before the index says cold and deleted from hot only after, and a
//! concurrent ingest of the same bytes may put a fresh hot copy at any time, so whichever
//! copy exists is served. New blobs always go to the hot store.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;

use super::{BlobError, BlobLocation, BlobStore, ByteStream};

/// Prefix of a key that the index places in the cold tier.
pub const COLD_PREFIX: &str = "cold:";

pub struct TieredBlobStore {
    hot: (BlobLocation, Arc<dyn BlobStore>),
    cold: Option<(BlobLocation, Arc<dyn BlobStore>)>,
    /// "read cache in DIR (N GB)" when `serve` reads S3 through the blob cache.
    cache_note: Option<String>,
}

/// Where one key is looked up first, and where next.
struct Route<'a> {
    first: Option<&'a dyn BlobStore>,
    key: &'a str,
    then: Option<&'a dyn BlobStore>,
}

impl TieredBlobStore {
    pub fn new(
        hot: (BlobLocation, Arc<dyn BlobStore>),
        cold: Option<(BlobLocation, Arc<dyn BlobStore>)>,
    ) -> Self {
        Self {
            hot,
            cold,
            cache_note: None,
        }
    }

    /// Names the read cache in `describe` (the server's start-up line).
    pub fn with_cache_note(mut self, note: String) -> Self {
        self.cache_note = Some(note);
        self
    }

    pub fn hot(&self) -> &dyn BlobStore {
        self.hot.1.as_ref()
    }

    pub fn cold(&self) -> Option<&dyn BlobStore> {
        self.cold.as_ref().map(|(_, s)| s.as_ref())
    }

    pub fn has_cold(&self) -> bool {
        self.cold.is_some()
    }

    /// "hot: LOCATION, cold: LOCATION" for logs.
    pub fn describe(&self) -> String {
        let stores = match &self.cold {
            Some((c, _)) => format!("blobs in {}, cold tier in {c}", self.hot.0),
            None => format!("blobs in {}", self.hot.0),
        };
        match &self.cache_note {
            Some(note) => format!("{stores}, {note}"),
            None => stores,
        }
    }

    fn route<'a>(&'a self, key: &'a str) -> Route<'a> {
        match key.strip_prefix(COLD_PREFIX) {
            Some(plain) => Route {
                first: self.cold(),
                key: plain,
                then: Some(self.hot()),
            },
            None => Route {
                first: Some(self.hot()),
                key,
                then: self.cold(),
            },
        }
    }
}

/// Runs `op` on the tier the key names, then (not found there) on the other one.
macro_rules! either_tier {
    ($self:ident, $key:ident, |$store:ident, $k:ident| $op:expr) => {{
        let route = $self.route($key);
        let mut last = BlobError::NotFound($key.to_string());
        let mut answer = None;
        for $store in [route.first, route.then].into_iter().flatten() {
            let $k = route.key;
            match $op {
                Err(BlobError::NotFound(_)) => {
                    last = BlobError::NotFound($key.to_string());
                }
                other => {
                    answer = Some(other);
                    break;
                }
            }
        }
        match answer {
            Some(a) => a,
            None if route.first.is_none() => Err(BlobError::Unavailable {
                key: $key.to_string(),
                message: "the index places this blob in the cold tier, but no cold store is configured (--cold-blobs)".into(),
            }),
            None => Err(last),
        }
    }};
}

#[async_trait]
impl BlobStore for TieredBlobStore {
    /// Ready when the hot store is: new instances go there.
    async fn check_ready(&self) -> Result<(), BlobError> {
        self.hot().check_ready().await
    }

    async fn put_file(&self, key: &str, staged: &Path) -> Result<(), BlobError> {
        let route = self.route(key);
        match route.first {
            Some(store) => store.put_file(route.key, staged).await,
            None => Err(BlobError::Unavailable {
                key: key.to_string(),
                message: "no cold store is configured (--cold-blobs)".into(),
            }),
        }
    }

    async fn size(&self, key: &str) -> Result<Option<u64>, BlobError> {
        let r: Result<u64, BlobError> =
            either_tier!(self, key, |store, k| match store.size(k).await {
                Ok(Some(s)) => Ok(s),
                Ok(None) => Err(BlobError::NotFound(k.to_string())),
                Err(e) => Err(e),
            });
        match r {
            Ok(s) => Ok(Some(s)),
            Err(BlobError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn stream(&self, key: &str, range: Option<Range<u64>>) -> Result<ByteStream, BlobError> {
        either_tier!(self, key, |store, k| store.stream(k, range.clone()).await)
    }

    async fn read_range(&self, key: &str, range: Range<u64>) -> Result<Bytes, BlobError> {
        either_tier!(self, key, |store, k| store
            .read_range(k, range.clone())
            .await)
    }

    async fn read_all(&self, key: &str) -> Result<Bytes, BlobError> {
        either_tier!(self, key, |store, k| store.read_all(k).await)
    }

    /// Hot keys bare, cold keys with `cold:`.
    async fn list_keys(&self) -> Result<Vec<String>, BlobError> {
        let mut keys = self.hot().list_keys().await?;
        if let Some(cold) = self.cold() {
            keys.extend(
                cold.list_keys()
                    .await?
                    .into_iter()
                    .map(|k| format!("{COLD_PREFIX}{k}")),
            );
        }
        Ok(keys)
    }

    /// Hot keys bare, cold keys with `cold:`, each with its size: one listing per tier.
    async fn list_sizes(&self) -> Result<Vec<(String, u64)>, BlobError> {
        let mut keys = self.hot().list_sizes().await?;
        if let Some(cold) = self.cold() {
            keys.extend(
                cold.list_sizes()
                    .await?
                    .into_iter()
                    .map(|(k, s)| (format!("{COLD_PREFIX}{k}"), s)),
            );
        }
        Ok(keys)
    }

    /// Deletes in the named tier only.
    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        let route = self.route(key);
        match route.first {
            Some(store) => store.delete(route.key).await,
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::FsBlobStore;

    fn store(dir: &Path, name: &str) -> (BlobLocation, Arc<dyn BlobStore>) {
        let root = dir.join(name);
        let fs: Arc<dyn BlobStore> = Arc::new(FsBlobStore::new(root.clone()).expect("store"));
        (BlobLocation::Dir(root), fs)
    }

    fn key_of(bytes: &[u8]) -> String {
        use sha2::{Digest, Sha256};
        crate::store::key_for_sha256(&hex::encode(Sha256::digest(bytes)))
    }

    #[tokio::test]
    async fn keys_route_by_tier_and_fall_back_to_the_other() {
        let dir = std::env::temp_dir().join(format!("rangsi-tiered-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("tmp")).expect("tmp");
        let tiers = TieredBlobStore::new(store(&dir, "hot"), Some(store(&dir, "cold")));
        let bytes = b"DICM cold bytes".to_vec();
        let key = key_of(&bytes);
        let staged = dir.join("tmp").join("a.part");
        std::fs::write(&staged, &bytes).expect("staged");
        let cold_key = format!("{COLD_PREFIX}{key}");
        tiers.put_file(&cold_key, &staged).await.expect("put cold");
        assert!(dir.join("cold").join(&key).is_file());
        assert!(!dir.join("hot").join(&key).exists());
        // Named cold: found there; named hot (a row written before the move): found too.
        assert_eq!(
            tiers.read_all(&cold_key).await.expect("cold").as_ref(),
            &bytes[..]
        );
        assert_eq!(
            tiers.read_all(&key).await.expect("fallback").as_ref(),
            &bytes[..]
        );
        assert_eq!(
            tiers.size(&key).await.expect("size"),
            Some(bytes.len() as u64)
        );
        assert_eq!(
            tiers.list_keys().await.expect("list"),
            vec![cold_key.clone()],
            "cold keys are listed tier-qualified"
        );
        tiers
            .delete(&key)
            .await
            .expect("deleting an absent hot copy is fine");
        assert!(tiers.read_all(&cold_key).await.is_ok());
        assert!(matches!(
            tiers.read_all(&key_of(b"other")).await,
            Err(BlobError::NotFound(_))
        ));
        // Without a cold store, a cold key is a clear error, not "not found".
        let hot_only = TieredBlobStore::new(store(&dir, "hot2"), None);
        assert!(matches!(
            hot_only.read_all(&cold_key).await,
            Err(BlobError::Unavailable { .. })
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
