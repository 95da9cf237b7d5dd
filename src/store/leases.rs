//! Read leases: the blobs being read right now. The sweeper leaves a leased blob for a later
//! pass, so a long GET of a replaced object never loses a segment mid-stream.
//!
//! In-process leases protect reads from this process's sweeper only. When other gateways sweep
//! the same index, reads that last (longer than [`LEASE_AFTER`]) are also leased in the index,
//! renewed every [`KEEP_EVERY`] until they end; shorter ones are covered by the sweep's grace,
//! which on a shared index is longer than [`LEASE_AFTER`] plus a renewal round.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use crate::meta::MetaStore;

/// How old a read is when it is first leased in a shared index.
pub const LEASE_AFTER: Duration = Duration::from_secs(2);
/// How often leases in the index are taken and renewed...
pub const KEEP_EVERY: Duration = Duration::from_secs(2);
/// ...and how long each renewal holds: several rounds, so a slow round loses nothing.
const LEASE_TTL: Duration = Duration::from_secs(30);

struct Held {
    readers: usize,
    since: Instant,
}

/// This process's read leases, shared by every clone of the store.
#[derive(Clone, Default)]
pub struct ReadLeases(Arc<Mutex<HashMap<String, Held>>>);

/// Held by a read for as long as it streams; dropping it ends the lease.
pub struct Lease {
    table: ReadLeases,
    ids: Vec<String>,
}

impl ReadLeases {
    pub fn take(&self, ids: Vec<String>) -> Lease {
        let mut t = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        for id in &ids {
            t.entry(id.clone())
                .or_insert(Held {
                    readers: 0,
                    since: now,
                })
                .readers += 1;
        }
        Lease {
            table: self.clone(),
            ids,
        }
    }

    pub fn is_leased(&self, blob: &str) -> bool {
        let t = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        t.contains_key(blob)
    }

    /// Blobs read since at least `age` ago.
    fn held_since(&self, age: Duration) -> HashSet<String> {
        let t = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        t.iter()
            .filter(|(_, h)| h.since.elapsed() >= age)
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Keeps the leases of long reads in a shared index, for as long as any clone of these
    /// leases lives.
    pub fn keeper(
        &self,
        meta: Arc<dyn MetaStore>,
    ) -> impl std::future::Future<Output = ()> + Send + 'static {
        let leases: Weak<Mutex<HashMap<String, Held>>> = Arc::downgrade(&self.0);
        async move {
            let mut in_index: HashSet<String> = HashSet::new();
            loop {
                tokio::time::sleep(KEEP_EVERY).await;
                let Some(table) = leases.upgrade() else {
                    return;
                };
                let long = ReadLeases(table).held_since(LEASE_AFTER);
                let ended: Vec<String> = in_index.difference(&long).cloned().collect();
                let renew: Vec<String> = long.iter().cloned().collect();
                let m = meta.clone();
                let ttl = LEASE_TTL.as_millis() as i64;
                let done = tokio::task::spawn_blocking(move || {
                    if !renew.is_empty() {
                        m.lease_blobs(&renew, ttl)?;
                    }
                    if !ended.is_empty() {
                        m.release_blob_leases(&ended)?;
                    }
                    Ok::<_, crate::error::Error>(())
                })
                .await;
                match done {
                    Ok(Ok(())) => in_index = long,
                    Ok(Err(e)) => {
                        tracing::warn!(error = %e, "could not lease the blobs of long reads in the index; will retry")
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "the lease keeper's call failed; will retry")
                    }
                }
            }
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let mut t = self.table.0.lock().unwrap_or_else(PoisonError::into_inner);
        for id in &self.ids {
            if let Some(h) = t.get_mut(id) {
                h.readers -= 1;
                if h.readers == 0 {
                    t.remove(id);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blob_is_leased_while_any_reader_holds_it() {
        let leases = ReadLeases::default();
        let a = leases.take(vec!["b1".into(), "b2".into()]);
        let b = leases.take(vec!["b1".into()]);
        assert!(leases.is_leased("b1") && leases.is_leased("b2"));
        drop(a);
        assert!(leases.is_leased("b1") && !leases.is_leased("b2"));
        assert_eq!(leases.held_since(Duration::ZERO).len(), 1);
        assert!(leases.held_since(Duration::from_secs(3600)).is_empty());
        drop(b);
        assert!(!leases.is_leased("b1"));
    }
}
