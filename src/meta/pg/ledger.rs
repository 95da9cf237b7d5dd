//! PostgreSQL implementation of `BlobLedger`. Several gateways write blobs at once, so a
//! staged blob names the gateway writing it, and only the blobs of gateways that stopped
//! beating (crashed, or stopped without finishing) are reclaimed — never another live
//! gateway's writes in progress.

use super::session::GATEWAY_LOCK_SQL;
use super::Cached;
use super::{db_err, PgMeta};
use crate::clock::now_ms;
use crate::error::{Error, Result};
use crate::integrity::ChunkSums;
use crate::meta::stats::{EngineStat, IndexStats, EXACT_GC_COUNT};
use crate::meta::{BlobLedger, GcEntry};

/// How long a sweeper's claim on the queue entries it is deleting keeps others away.
const SWEEP_CLAIM_MS: i64 = 60_000;

/// A gateway whose lock is free counts as gone once it missed a beat as well: its session
/// ended with its process (a kill) — not merely with the database restarting under every
/// gateway, after which each takes its lock again within a beat.
const LOCK_FREE_AFTER_MS: i64 = 2 * HEARTBEAT_MS as i64;

/// How often a gateway records that it is alive...
pub(super) const HEARTBEAT_MS: u64 = 5_000;
/// ...and how long after its last beat it counts as gone.
pub(super) const GATEWAY_TTL_MS: i64 = 30_000;

impl PgMeta {
    /// Records this gateway as alive (its heartbeat then keeps it so until it is dropped).
    pub(super) fn register(&self) -> Result<()> {
        let id = self.gateway.to_vec();
        self.run(|c| async move { Self::beat_once(&c, &id).await.map(drop) })
    }

    /// Records that the gateway `id` is alive, by the database's clock (so no gateway's clock
    /// decides another's fate). `true` if its row was gone: it had been counted as dead, its
    /// staged blobs reclaimed, and it registers again.
    async fn beat_once(c: &tokio_postgres::Client, id: &[u8]) -> Result<bool> {
        let row = c
            .query_one(
                &format!(
                    "INSERT INTO gateways (id, started_ms, heartbeat_ms) VALUES ($1, {DB_NOW_MS}, \
                     {DB_NOW_MS}) ON CONFLICT (id) DO UPDATE SET heartbeat_ms = {DB_NOW_MS} \
                     RETURNING xmax = 0"
                ),
                &[&id],
            )
            .await
            .map_err(db_err)?;
        Ok(row.get(0))
    }

    /// Queues the blobs of gateways gone quiet — no beat for [`GATEWAY_TTL_MS`], or none for
    /// [`LOCK_FREE_AFTER_MS`] with the lock on their id free — as of the blob's staging
    /// (nothing can be reading them); returns how many.
    pub(super) async fn reclaim(c: &tokio_postgres::Client, me: &[u8]) -> Result<usize> {
        let gone = c
            .query(
                &format!(
                    "WITH dead AS (DELETE FROM gateways WHERE id <> $2 AND \
                     (heartbeat_ms < {DB_NOW_MS} - $1 OR (heartbeat_ms < {DB_NOW_MS} - $3 \
                     AND pg_try_advisory_xact_lock({GATEWAY_LOCK_SQL}))) RETURNING id), \
                     s AS (DELETE FROM staged WHERE gateway IN (SELECT id FROM dead) \
                     OR gateway NOT IN (SELECT id FROM gateways) RETURNING blob, upload) \
                     INSERT INTO gc (blob, queued_ms, upload) SELECT blob, 0, upload FROM s \
                     ON CONFLICT DO NOTHING RETURNING blob"
                ),
                &[&GATEWAY_TTL_MS, &me, &LOCK_FREE_AFTER_MS],
            )
            .await
            .map_err(db_err)?;
        if !gone.is_empty() {
            tracing::info!(
                blobs = gone.len(),
                "queued for deletion the blobs of gateways gone quiet"
            );
        }
        Ok(gone.len())
    }

    /// One beat of the gateway `id`, and the chores any gateway may do: reclaiming the blobs
    /// of gateways gone quiet, and dropping expired idempotency records (which RocksDB's
    /// compaction drops).
    pub(super) async fn beat(pool: &deadpool_postgres::Pool, id: &[u8]) -> Result<()> {
        let c = pool
            .get()
            .await
            .map_err(|e| Error::MetaUnavailable(format!("no PostgreSQL connection: {e}")))?;
        if Self::beat_once(&c, id).await? {
            tracing::error!(
                "this gateway went unheard for too long and was counted as gone: the blobs it \
                 was writing were reclaimed (their commits fail); it is registered again"
            );
        }
        Self::reclaim(&c, id).await?;
        c.c_execute(
            "DELETE FROM idempotency WHERE slot IN (SELECT slot FROM idempotency \
             WHERE expires_ms < $1 LIMIT 1000)",
            &[&now_ms()],
        )
        .await
        .map_err(db_err)?;
        // Leases lapse on their own (a dead gateway's included); their rows go later.
        c.c_execute(
            &format!("DELETE FROM blob_leases WHERE until_ms < {DB_NOW_MS} - 60000"),
            &[],
        )
        .await
        .map_err(db_err)?;
        Ok(())
    }
}

/// The database's clock in unix milliseconds, for times that gateways compare.
pub(super) const DB_NOW_MS: &str = "(extract(epoch from clock_timestamp()) * 1000)::bigint";

/// Where a page of the deletion queue starts: after `after`, else at its beginning.
fn resume_after(after: Option<&GcEntry>) -> (i64, &str) {
    match after {
        Some(e) => (e.queued_ms, e.blob.as_str()),
        None => (i64::MIN, ""),
    }
}

fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

fn entry(r: &tokio_postgres::Row) -> GcEntry {
    GcEntry {
        blob: r.get(0),
        queued_ms: r.get(1),
        upload: r.get(2),
    }
}

impl BlobLedger for PgMeta {
    fn get_inline(&self, blob: &str) -> Result<Option<Vec<u8>>> {
        self.run(|c| async move {
            Ok(
                c.c_query_opt("SELECT data FROM inline_blobs WHERE blob = $1", &[&blob])
                    .await
                    .map_err(db_err)?
                    .map(|r| r.get(0)),
            )
        })
    }

    fn stage_blob(&self, blob: &str) -> Result<()> {
        let gateway = &self.gateway[..];
        self.run(|c| async move {
            // Only while this gateway counts as alive: a row staged after it was counted as
            // gone would be reclaimed under its writer.
            let n = c
                .c_execute(
                    "INSERT INTO staged (blob, gateway, staged_ms) SELECT $1, $2, $3 \
                     WHERE EXISTS (SELECT 1 FROM gateways WHERE id = $2)",
                    &[&blob, &gateway, &now_ms()],
                )
                .await
                .map_err(db_err)?;
            match n {
                1 => Ok(()),
                _ => Err(Error::MetaUnavailable(
                    "this gateway is not registered with the index (it went unheard for too \
                     long); it registers again with its next heartbeat"
                        .into(),
                )),
            }
        })
    }

    fn note_blob_upload(&self, blob: &str, upload: &str) -> Result<()> {
        self.run(|c| async move {
            let n = c
                .c_execute(
                    "UPDATE staged SET upload = $2 WHERE blob = $1",
                    &[&blob, &upload],
                )
                .await
                .map_err(db_err)?;
            match n {
                1 => Ok(()),
                _ => Err(Error::Meta(format!("blob {blob} is no longer staged"))),
            }
        })
    }

    fn abandon_blob(&self, blob: &str) -> Result<()> {
        self.transact(async |tx| {
            tx.c_execute("DELETE FROM staged WHERE blob = $1", &[&blob])
                .await
                .map_err(super::tx_err)?;
            tx.c_execute(
                &format!(
                    "INSERT INTO gc (blob, queued_ms) VALUES ($1, {DB_NOW_MS}) \
                     ON CONFLICT DO NOTHING"
                ),
                &[&blob],
            )
            .await
            .map_err(super::tx_err)?;
            Ok(())
        })
    }

    fn pending_deletes(
        &self,
        until_ms: i64,
        after: Option<&GcEntry>,
        limit: usize,
    ) -> Result<Vec<GcEntry>> {
        let ((after_ms, after_blob), limit) = (resume_after(after), sql_limit(limit));
        self.run(|c| async move {
            let rows = c
                .c_query(
                    "SELECT blob, queued_ms, upload FROM gc WHERE queued_ms <= $1 \
                     AND (queued_ms, blob) > ($2, $3) ORDER BY queued_ms, blob LIMIT $4",
                    &[&until_ms, &after_ms, &after_blob, &limit],
                )
                .await
                .map_err(db_err)?;
            Ok(rows.iter().map(entry).collect())
        })
    }

    fn claim_deletes(
        &self,
        grace_ms: i64,
        after: Option<&GcEntry>,
        limit: usize,
    ) -> Result<Vec<GcEntry>> {
        let ((after_ms, after_blob), limit) = (resume_after(after), sql_limit(limit));
        self.run(|c| async move {
            // Entries another sweeper is at (locked, or claimed a moment ago) are skipped,
            // as are blobs a reader on any gateway holds a lease on.
            let rows = c
                .c_query(
                    &format!(
                        "UPDATE gc SET claimed_until_ms = {DB_NOW_MS} + $5 WHERE blob IN ( \
                         SELECT blob FROM gc WHERE queued_ms <= {DB_NOW_MS} - $1 \
                         AND claimed_until_ms < {DB_NOW_MS} \
                         AND (queued_ms, blob) > ($2, $3) \
                         AND NOT EXISTS (SELECT 1 FROM blob_leases l WHERE l.blob = gc.blob \
                         AND l.until_ms > {DB_NOW_MS}) \
                         ORDER BY queued_ms, blob LIMIT $4 FOR UPDATE SKIP LOCKED) \
                         RETURNING blob, queued_ms, upload"
                    ),
                    &[&grace_ms, &after_ms, &after_blob, &limit, &SWEEP_CLAIM_MS],
                )
                .await
                .map_err(db_err)?;
            let mut out: Vec<GcEntry> = rows.iter().map(entry).collect();
            out.sort_by(|a, b| (a.queued_ms, &a.blob).cmp(&(b.queued_ms, &b.blob)));
            Ok(out)
        })
    }

    fn unclaim_deletes(&self, blobs: &[String]) -> Result<()> {
        self.run(|c| async move {
            c.c_execute(
                "UPDATE gc SET claimed_until_ms = 0 WHERE blob = ANY($1)",
                &[&blobs],
            )
            .await
            .map_err(db_err)?;
            Ok(())
        })
    }

    fn is_shared(&self) -> bool {
        true
    }

    fn lease_blobs(&self, blobs: &[String], ttl_ms: i64) -> Result<()> {
        let me = &self.gateway[..];
        // On the gateway's own session: a busy pool must not hold a lease up past the grace.
        self.on_own_session(async |c| {
            c.execute(
                &format!(
                    "INSERT INTO blob_leases (blob, gateway, until_ms) \
                     SELECT unnest($1::text[]), $2, {DB_NOW_MS} + $3 \
                     ON CONFLICT (blob, gateway) DO UPDATE SET until_ms = EXCLUDED.until_ms"
                ),
                &[&blobs, &me, &ttl_ms],
            )
            .await
            .map_err(db_err)?;
            Ok(())
        })
    }

    fn release_blob_leases(&self, blobs: &[String]) -> Result<()> {
        let me = &self.gateway[..];
        self.on_own_session(async |c| {
            c.execute(
                "DELETE FROM blob_leases WHERE blob = ANY($1) AND gateway = $2",
                &[&blobs, &me],
            )
            .await
            .map_err(db_err)?;
            Ok(())
        })
    }

    fn deleted(&self, entries: &[GcEntry]) -> Result<()> {
        let blobs: Vec<&str> = entries.iter().map(|e| e.blob.as_str()).collect();
        let blobs = &blobs;
        self.transact(async |tx| {
            for table in ["gc", "inline_blobs", "blob_sums"] {
                tx.c_execute(
                    &format!("DELETE FROM {table} WHERE blob = ANY($1)"),
                    &[blobs],
                )
                .await
                .map_err(super::tx_err)?;
            }
            Ok(())
        })
    }

    fn blob_sums(&self, blob: &str) -> Result<Option<ChunkSums>> {
        self.run(|c| async move {
            match c
                .c_query_opt("SELECT sums FROM blob_sums WHERE blob = $1", &[&blob])
                .await
                .map_err(db_err)?
            {
                Some(r) => ChunkSums::decode(r.get::<_, &[u8]>(0))
                    .map(Some)
                    .ok_or_else(|| {
                        Error::Meta(format!("chunk checksums of blob {blob} are unreadable"))
                    }),
                None => Ok(None),
            }
        })
    }

    fn staged_blobs(&self) -> Result<Vec<String>> {
        self.run(|c| async move {
            let rows = c
                .c_query("SELECT blob FROM staged ORDER BY blob", &[])
                .await
                .map_err(db_err)?;
            Ok(rows.iter().map(|r| r.get(0)).collect())
        })
    }

    /// Every commit is durable once the database acknowledged it: nothing to wait for.
    fn sync(&self) -> Result<()> {
        Ok(())
    }

    /// Queues the blobs staged by gateways that stopped beating (this one's earlier runs
    /// among them: each run registers under a fresh id), and forgets those gateways. Every
    /// gateway also does this on each heartbeat, so a gateway killed mid-write is cleaned up
    /// after by the others.
    fn recover_staged(&self) -> Result<usize> {
        let me = &self.gateway[..];
        self.run(|c| async move { PgMeta::reclaim(&c, me).await })
    }
}

impl crate::meta::TaskLeases for PgMeta {
    fn try_lead(&self, task: &str, hold_ms: i64) -> Result<Option<i64>> {
        let me = &self.gateway[..];
        self.run(|c| async move {
            // Taken when free or lapsed, or by its holder (whose keeper renewed it through
            // a long pass, and whose next pass is due).
            let taken = c
                .c_query_opt(
                    &format!(
                        "INSERT INTO leader_leases AS l (name, holder, until_ms) \
                         VALUES ($1, $2, {DB_NOW_MS} + $3) ON CONFLICT (name) DO UPDATE \
                         SET holder = EXCLUDED.holder, until_ms = EXCLUDED.until_ms \
                         WHERE l.until_ms <= {DB_NOW_MS} OR l.holder = EXCLUDED.holder \
                         RETURNING 1"
                    ),
                    &[&task, &me, &hold_ms],
                )
                .await
                .map_err(db_err)?;
            if taken.is_some() {
                return Ok(None);
            }
            let left = c
                .c_query_opt(
                    &format!("SELECT until_ms - {DB_NOW_MS} FROM leader_leases WHERE name = $1"),
                    &[&task],
                )
                .await
                .map_err(db_err)?;
            // Gone meanwhile: free again, for the next try.
            Ok(Some(left.map_or(0, |r| r.get::<_, i64>(0).max(0))))
        })
    }

    fn renew_lead(&self, task: &str, hold_ms: i64) -> Result<bool> {
        let me = &self.gateway[..];
        self.run(|c| async move {
            let n = c
                .c_execute(
                    &format!(
                        "UPDATE leader_leases SET until_ms = {DB_NOW_MS} + $3 \
                         WHERE name = $1 AND holder = $2"
                    ),
                    &[&task, &me, &hold_ms],
                )
                .await
                .map_err(db_err)?;
            Ok(n == 1)
        })
    }
}

impl crate::meta::stats::IndexStatus for PgMeta {
    fn stats(&self) -> Result<IndexStats> {
        let cap = EXACT_GC_COUNT as i64;
        // The pool's figures are known without a connection, and matter most when the
        // database does not answer: a failed count leaves them in.
        let counted = self.run(|c| async move {
            let counted: i64 = c
                .c_query_one(
                    "SELECT count(*) FROM (SELECT 1 FROM gc LIMIT $1) AS q",
                    &[&cap],
                )
                .await
                .map_err(db_err)?
                .get(0);
            if counted < cap {
                return Ok(counted as u64);
            }
            // The planner's row estimate, from the last ANALYZE or autovacuum.
            let estimate: f32 = c
                .c_query_one(
                    "SELECT greatest(reltuples, 0)::real FROM pg_class WHERE oid = 'gc'::regclass",
                    &[],
                )
                .await
                .map_err(db_err)?
                .get(0);
            Ok((estimate as u64).max(counted as u64))
        });
        let gc_queued = match counted {
            Ok(n) => Some(n),
            Err(e) => {
                tracing::warn!(error = %e, "metrics: could not count the deletion queue");
                None
            }
        };
        let pool = self.pool.status();
        let f = |v: usize| v as f64;
        Ok(IndexStats {
            gc_queued,
            engine: vec![
                EngineStat::gauge(
                    "postgres_pool_connections",
                    "Connections this gateway's pool holds open to PostgreSQL.",
                    f(pool.size),
                ),
                EngineStat::gauge(
                    "postgres_pool_idle_connections",
                    "Of those, the ones free for the next call.",
                    f(pool.available),
                ),
                EngineStat::gauge(
                    "postgres_pool_waiting_calls",
                    "Calls waiting for a free connection: a pool too small, or a database too slow.",
                    f(pool.waiting),
                ),
            ],
        })
    }
}
