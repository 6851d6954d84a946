//! Several `rangsi serve` nodes on one database and one blob store (behind a load
//! balancer): each process has a node id, and the background work that must happen once
//! for the whole archive runs under a lease in the index (`index::leases`), on whichever
//! node holds it:
//! - `tier`: the tiering pass of `--tier-after-days` (renewed between studies, so a pass
//!   stops if the lease was lost);
//! - `webhooks`: the sweep that hands pending webhook deliveries nobody holds a live
//!   claim on (a node died mid-delivery) to this node; each delivery is still claimed
//!   one by one before it is sent (`service::notify`).
//!
//! A node that dies stops renewing; another takes its leases (and its deliveries) once
//! they expire. A clean shutdown gives them up at once. Everything else a request needs
//! (sessions, tokens, users, AE titles, share-link failure counts) is read from the
//! database on every request, so any node answers any request.
//!
//! Knobs (environment, for operators and tests): `RANGSI_LEASE_SECS` (default 60: how
//! long a lease or a delivery claim outlives its holder; the loops look every third of
//! it) and `RANGSI_TIER_INTERVAL_SECS` (default 3600: pause between tiering passes).

use std::time::{Duration, Instant};

use rand::RngCore;
use tokio_util::sync::CancellationToken;

use super::Archive;

/// The lease of the tiering pass.
pub const TIER_LEASE: &str = "tier";
/// The lease of the webhook sweep.
pub const WEBHOOK_LEASE: &str = "webhooks";

fn env_secs(name: &str, default: u64, min: u64) -> Duration {
    let secs = std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(default);
    Duration::from_secs(secs.max(min))
}

/// How long a lease (and a delivery claim) outlives its holder's last renewal.
pub fn lease_ttl() -> Duration {
    env_secs("RANGSI_LEASE_SECS", 60, 2)
}

/// The pause between two tiering passes.
fn tier_interval() -> Duration {
    env_secs("RANGSI_TIER_INTERVAL_SECS", 3600, 1)
}

/// This process's name among the nodes: host name, process id and 4 random bytes (a
/// restarted process, or a container reusing a pid, is a new node).
pub fn new_node_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "node".into());
    let mut r = [0u8; 4];
    rand::rng().fill_bytes(&mut r);
    format!("{host}-{}-{}", std::process::id(), hex::encode(r))
}

impl Archive {
    /// This process's node id.
    pub fn node_id(&self) -> &str {
        &self.inner.node_id
    }

    /// Takes or renews `lease` for this node; false when another node holds it or the
    /// database did not answer (logged).
    pub(crate) async fn hold_lease(&self, lease: &str) -> bool {
        match self
            .index()
            .try_lease(lease, self.node_id(), lease_ttl())
            .await
        {
            Ok(held) => held,
            Err(e) => {
                tracing::warn!(lease, error = %e, "cannot take or renew a lease");
                false
            }
        }
    }

    async fn give_up_lease(&self, lease: &str) {
        if let Err(e) = self.index().release_lease(lease, self.node_id()).await {
            tracing::warn!(lease, error = %e, "cannot release a lease");
        }
    }

    /// `serve --tier-after-days N`: on the node holding the `tier` lease, a tier pass
    /// when it takes the lease and then every [`tier_interval`], until shutdown.
    pub async fn tier_periodically(self, after_days: u32, shutdown: CancellationToken) {
        let tick = lease_ttl() / 3;
        let mut held = false;
        let mut next_pass = Instant::now();
        loop {
            if self.hold_lease(TIER_LEASE).await {
                if !held {
                    tracing::info!("node {} holds the tier lease", self.node_id());
                    held = true;
                    next_pass = Instant::now();
                }
                if Instant::now() >= next_pass {
                    tracing::info!("tiering pass on node {}", self.node_id());
                    match self.tier_leased(after_days).await {
                        Ok(r) if !r.failures.is_empty() => {
                            tracing::warn!(
                                failures = r.failures.len(),
                                "tiering: some blobs not moved"
                            )
                        }
                        Ok(_) => {}
                        Err(e) => tracing::error!(error = %e, "tiering run failed"),
                    }
                    next_pass = Instant::now() + tier_interval();
                }
            } else if held {
                tracing::warn!("node {} lost the tier lease", self.node_id());
                held = false;
            }
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(tick) => {}
            }
        }
        self.give_up_lease(TIER_LEASE).await;
    }

    /// On the node holding the `webhooks` lease: now and then, sends the pending
    /// deliveries that no node holds a live claim on (their node died).
    pub async fn sweep_deliveries(self, shutdown: CancellationToken) {
        let tick = lease_ttl() / 3;
        loop {
            if self.hold_lease(WEBHOOK_LEASE).await {
                match self.resume_deliveries().await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(
                        deliveries = n,
                        "node {}: webhook deliveries nobody was sending",
                        self.node_id()
                    ),
                    Err(e) => tracing::warn!(error = %e, "webhook sweep"),
                }
            }
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(tick) => {}
            }
        }
        self.give_up_lease(WEBHOOK_LEASE).await;
        if let Err(e) = self.index().release_claims(self.node_id()).await {
            tracing::warn!(error = %e, "cannot release this node's webhook delivery claims");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_ids_differ_per_process_start() {
        let (a, b) = (new_node_id(), new_node_id());
        assert_ne!(a, b);
        assert!(a.contains(&format!("-{}-", std::process::id())), "{a}");
    }
}
