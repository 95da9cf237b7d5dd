//! The gateway's own session with the database, apart from the pool: it reads the cache
//! generations every [`POLL_EVERY`], so a change committed through another gateway empties
//! this one's caches within a second, however busy the pool is.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::db_err;
use super::tls::DbTls;
use crate::error::{Error, Result};
use crate::meta::gens::{CacheKind, Generations, POLL_EVERY};

/// How long a poll may take before its connection is given up.
const POLL_TIMEOUT: Duration = Duration::from_secs(2);

/// Reads every counter once.
pub(super) async fn read_generations(c: &tokio_postgres::Client) -> Result<Vec<(CacheKind, u64)>> {
    let rows = c
        .query("SELECT kind, gen FROM cache_gen", &[])
        .await
        .map_err(db_err)?;
    Ok(rows
        .iter()
        .filter_map(|r| {
            let kind = CacheKind::from_name(r.get(0))?;
            Some((kind, r.get::<_, i64>(1) as u64))
        })
        .collect())
}

/// Polls the counters into `gens` until the task is aborted, connecting again after a failure
/// (meanwhile the counters go stale and caches are bypassed).
pub(super) async fn poll_generations(url: String, tls: DbTls, gens: Arc<Generations>) {
    let mut client: Option<tokio_postgres::Client> = None;
    let mut complained = false;
    loop {
        let sent = Instant::now();
        let read = async {
            match &client {
                Some(c) if !c.is_closed() => read_generations(c).await,
                _ => {
                    let c = tls.connect(&url).await?;
                    let r = read_generations(&c).await;
                    client = Some(c);
                    r
                }
            }
        };
        // A connection that went quiet without closing is dropped, not waited on.
        let polled = match tokio::time::timeout(POLL_TIMEOUT, read).await {
            Ok(r) => r,
            Err(_) => Err(Error::MetaUnavailable("no answer to the poll".into())),
        };
        match polled {
            Ok(values) => {
                gens.observe(&values, sent);
                complained = false;
            }
            Err(e) => {
                client = None;
                if !complained {
                    tracing::warn!(error = %e, "cannot read the cache generations: caches are bypassed until it can");
                    complained = true;
                }
            }
        }
        tokio::time::sleep(POLL_EVERY.saturating_sub(sent.elapsed())).await;
        if client.is_none() {
            tokio::time::sleep(Duration::from_millis(750)).await;
        }
    }
}

/// The statement that raises the counters named by its one parameter (a text array), for a
/// commit that changes what caches hold.
pub(super) const BUMP: &str = "UPDATE cache_gen SET gen = gen + 1 WHERE kind = ANY($1)";

/// The kinds' names, as [`BUMP`]'s parameter.
pub(super) fn kinds(kinds: &[CacheKind]) -> Vec<&'static str> {
    kinds.iter().map(|k| k.name()).collect()
}

/// The advisory lock key of the gateway `id`, as the SQL of [`GATEWAY_LOCK_SQL`] computes it.
pub(super) fn gateway_lock_key(id: &[u8; 16]) -> i64 {
    let mut first = [0u8; 8];
    first.copy_from_slice(&id[..8]);
    i64::from_be_bytes(first)
}

/// A gateway row's lock key in SQL (the first 8 bytes of its id, big-endian).
pub(super) const GATEWAY_LOCK_SQL: &str =
    "('x' || encode(substring(id from 1 for 8), 'hex'))::bit(64)::bigint";

/// Opens the session that holds the lock on this gateway's id for as long as the gateway
/// runs: while it is held the gateway is alive to every other one, and it goes with the
/// process however that ends, so a gateway killed is known to be gone at once (its staged
/// blobs reclaimed then) rather than when its heartbeats are overdue. `None` if the id is
/// already locked (a clash of ids: take another).
pub(super) async fn lock_gateway(
    url: &str,
    tls: &DbTls,
    id: &[u8; 16],
) -> Result<Option<tokio_postgres::Client>> {
    let client = tls.connect(url).await?;
    // Servers from before several gateways could share a database hold this lock alone.
    let shared = client
        .query_one(
            "SELECT pg_try_advisory_lock_shared($1)",
            &[&ONE_SERVER_LOCK],
        )
        .await
        .map_err(db_err)?;
    if !shared.get::<_, bool>(0) {
        return Err(Error::Meta(
            "an older cnx-storage server, which must have the database to itself, works on it; \
             stop it before starting gateways of this version"
                .into(),
        ));
    }
    let row = client
        .query_one("SELECT pg_try_advisory_lock($1)", &[&gateway_lock_key(id)])
        .await
        .map_err(db_err)?;
    Ok(row.get::<_, bool>(0).then_some(client))
}

/// The lock the servers of the first PostgreSQL release took alone (one server per
/// database); gateways hold it shared, so neither kind starts beside the other.
const ONE_SERVER_LOCK: i64 = 0x636e_785f_7365_7276;
