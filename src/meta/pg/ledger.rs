//! PostgreSQL implementation of `BlobLedger`. Several gateways write blobs at once, so a
//! staged blob names the gateway writing it, and only the blobs of gateways that stopped
//! beating (crashed, or stopped without finishing) are reclaimed — never another live
//! gateway's writes in progress.

use super::{db_err, PgMeta};
use crate::clock::now_ms;
use crate::error::{Error, Result};
use crate::integrity::ChunkSums;
use crate::meta::{BlobLedger, GcEntry};

/// How often a gateway records that it is alive...
pub(super) const HEARTBEAT_MS: u64 = 5_000;
/// ...and how long after its last beat it counts as gone.
pub(super) const GATEWAY_TTL_MS: i64 = 30_000;

impl PgMeta {
    /// Records this gateway as alive, and keeps doing so until it is dropped.
    pub(super) fn register(&self) -> Result<()> {
        let id = self.gateway.to_vec();
        self.run(|c| async move {
            let now = now_ms();
            c.execute(
                "INSERT INTO gateways (id, started_ms, heartbeat_ms) VALUES ($1, $2, $2)",
                &[&id, &now],
            )
            .await
            .map_err(db_err)?;
            Ok(())
        })
    }

    /// Queues the blobs of gateways gone quiet, as of the blob's staging (nothing can be
    /// reading them); returns how many.
    pub(super) async fn reclaim(c: &tokio_postgres::Client) -> Result<usize> {
        let gone = c
            .query(
                "WITH dead AS (DELETE FROM gateways WHERE heartbeat_ms < $1 RETURNING id), \
                 s AS (DELETE FROM staged WHERE gateway IN (SELECT id FROM dead) \
                 OR gateway NOT IN (SELECT id FROM gateways) RETURNING blob, upload) \
                 INSERT INTO gc (blob, queued_ms, upload) SELECT blob, 0, upload FROM s \
                 ON CONFLICT DO NOTHING RETURNING blob",
                &[&(now_ms() - GATEWAY_TTL_MS)],
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

    /// One beat: `false` once the row is gone (the gateway was counted as dead and its staged
    /// blobs reclaimed), when it must not commit what it staged before.
    pub(super) async fn beat(pool: &deadpool_postgres::Pool, id: &[u8]) -> Result<bool> {
        let c = pool
            .get()
            .await
            .map_err(|e| Error::MetaUnavailable(format!("no PostgreSQL connection: {e}")))?;
        let n = c
            .execute(
                "UPDATE gateways SET heartbeat_ms = $2 WHERE id = $1",
                &[&id, &now_ms()],
            )
            .await
            .map_err(db_err)?;
        Self::reclaim(&c).await?;
        Ok(n == 1)
    }
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
                c.query_opt("SELECT data FROM inline_blobs WHERE blob = $1", &[&blob])
                    .await
                    .map_err(db_err)?
                    .map(|r| r.get(0)),
            )
        })
    }

    fn stage_blob(&self, blob: &str) -> Result<()> {
        let gateway = &self.gateway[..];
        self.run(|c| async move {
            c.execute(
                "INSERT INTO staged (blob, gateway, staged_ms) VALUES ($1, $2, $3)",
                &[&blob, &gateway, &now_ms()],
            )
            .await
            .map_err(db_err)?;
            Ok(())
        })
    }

    fn note_blob_upload(&self, blob: &str, upload: &str) -> Result<()> {
        self.run(|c| async move {
            let n = c
                .execute(
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
            tx.execute("DELETE FROM staged WHERE blob = $1", &[&blob])
                .await
                .map_err(super::tx_err)?;
            tx.execute(
                "INSERT INTO gc (blob, queued_ms) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[&blob, &now_ms()],
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
        let (after_ms, after_blob) = match after {
            Some(e) => (e.queued_ms, e.blob.as_str()),
            None => (i64::MIN, ""),
        };
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.run(|c| async move {
            let rows = c
                .query(
                    "SELECT blob, queued_ms, upload FROM gc WHERE queued_ms <= $1 \
                     AND (queued_ms, blob) > ($2, $3) ORDER BY queued_ms, blob LIMIT $4",
                    &[&until_ms, &after_ms, &after_blob, &limit],
                )
                .await
                .map_err(db_err)?;
            Ok(rows.iter().map(entry).collect())
        })
    }

    fn deleted(&self, entries: &[GcEntry]) -> Result<()> {
        let blobs: Vec<&str> = entries.iter().map(|e| e.blob.as_str()).collect();
        let blobs = &blobs;
        self.transact(async |tx| {
            for table in ["gc", "inline_blobs", "blob_sums"] {
                tx.execute(
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
                .query_opt("SELECT sums FROM blob_sums WHERE blob = $1", &[&blob])
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
                .query("SELECT blob FROM staged ORDER BY blob", &[])
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
        self.run(|c| async move { PgMeta::reclaim(&c).await })
    }
}
