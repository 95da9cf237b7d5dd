//! `cnx-storage migrate --from rocksdb:DIR --to postgres://…`: copies a single server's RocksDB
//! index into an empty PostgreSQL one (blobs stay where they are). The records are the same
//! bytes in both indexes, so each is copied as it is, with the columns SQL needs taken from
//! its key or record. It goes a thousand entries per transaction, and each transaction also
//! records how far it got, so a run that stops (or is stopped) resumes where it was, and a
//! finished one only checks again. At the end the rows of each table are counted against the
//! source, and each bucket's usage compared.

use super::{db_err, tx_err, PgMeta, TxError};
use crate::error::{Error, Result};
use crate::meta::codec::{decode, decode_usage, parse_gc_key};
use crate::meta::rocks::RocksMeta;
use crate::meta::{BucketRecord, BucketStore, IdempotencyRecord, KeyRecord, UploadRecord};

/// What is copied, in an order that keeps references valid (buckets before their objects,
/// uploads before their parts): (RocksDB column family, PostgreSQL table).
const PLAN: &[(&str, &str)] = &[
    ("buckets", "buckets"),
    ("usage", "bucket_usage"),
    ("access_keys", "access_keys"),
    ("kms_keys", "kms_keys"),
    ("objects", "objects"),
    ("versions", "versions"),
    ("uploads", "uploads"),
    ("parts", "parts"),
    ("blob_sums", "blob_sums"),
    ("inline", "inline_blobs"),
    ("gc", "gc"),
    ("idempotency", "idempotency"),
];

/// Entries per transaction.
const BATCH: usize = 1000;

/// One table's part of a migration.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TableReport {
    pub table: &'static str,
    /// Entries the source holds (for idempotency: those not yet expired).
    pub source: u64,
    /// Rows the database holds now.
    pub copied: u64,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct MigrationReport {
    pub tables: Vec<TableReport>,
    /// Buckets whose usage differs between the source and the database (none after a whole
    /// copy).
    pub usage_mismatches: Vec<String>,
}

impl MigrationReport {
    pub fn verified(&self) -> bool {
        self.usage_mismatches.is_empty() && self.tables.iter().all(|t| t.source == t.copied)
    }
}

fn bad(what: &str) -> TxError {
    TxError::Fail(Error::Meta(format!("migrate: {what}")))
}

impl PgMeta {
    /// Copies `src` (its staged blobs recovered: see [`crate::meta::migrate`]) into this
    /// (empty, or partly copied from the same source) database; `progress` hears each table's
    /// rows as they go. `source_id` names the source as it is, so a copy is never resumed
    /// from another, nor from this one changed.
    pub fn import_from(
        &self,
        src: &RocksMeta,
        source_id: &str,
        progress: &mut dyn FnMut(&str, u64),
    ) -> Result<MigrationReport> {
        self.run(|c| async move {
            c.batch_execute(
                "CREATE TABLE IF NOT EXISTS cnx_migration (cf text PRIMARY KEY, \
                 source text NOT NULL, last_key bytea, rows bigint NOT NULL DEFAULT 0, \
                 done bool NOT NULL DEFAULT false)",
            )
            .await
            .map_err(db_err)?;
            let other = c
                .query_opt(
                    "SELECT source FROM cnx_migration WHERE source <> $1 LIMIT 1",
                    &[&source_id],
                )
                .await
                .map_err(db_err)?;
            if let Some(row) = other {
                return Err(Error::Meta(format!(
                    "this database holds a copy of another index, or of this one before it \
                     changed ({}); migrate into an empty database",
                    row.get::<_, String>(0)
                )));
            }
            let started: bool = c
                .query_one("SELECT EXISTS (SELECT 1 FROM cnx_migration)", &[])
                .await
                .map_err(db_err)?
                .get(0);
            // Any record at all (a gateway started once on the database leaves its master
            // key's check value, sealed with its own key) means another index.
            let used: bool = c
                .query_one(
                    "SELECT EXISTS (SELECT 1 FROM buckets) OR EXISTS (SELECT 1 FROM access_keys) \
                     OR EXISTS (SELECT 1 FROM kms_keys) OR EXISTS (SELECT 1 FROM objects) \
                     OR EXISTS (SELECT 1 FROM uploads)",
                    &[],
                )
                .await
                .map_err(db_err)?
                .get(0);
            if used && !started {
                return Err(Error::Meta(
                    "this database already holds an index; migrate into an empty database".into(),
                ));
            }
            Ok(())
        })?;
        for (cf, table) in PLAN {
            self.copy_cf(src, source_id, cf, table, progress)?;
        }
        self.verify(src)
    }

    fn copy_cf(
        &self,
        src: &RocksMeta,
        source_id: &str,
        cf: &str,
        table: &str,
        progress: &mut dyn FnMut(&str, u64),
    ) -> Result<()> {
        let (mut last, mut rows, done) = self.run(|c| async move {
            let row = c
                .query_opt(
                    "SELECT last_key, rows, done FROM cnx_migration WHERE cf = $1",
                    &[&cf],
                )
                .await
                .map_err(db_err)?;
            Ok(row.map_or((None, 0i64, false), |r| (r.get(0), r.get(1), r.get(2))))
        })?;
        if done {
            progress(table, rows as u64);
            return Ok(());
        }
        let now = crate::clock::now_ms();
        loop {
            let batch = src.export(cf, last.as_deref(), BATCH)?;
            let n = batch.len() as i64;
            let end = batch.last().map(|(k, _)| k.clone());
            let finished = batch.is_empty();
            self.transact(async |tx| {
                for (k, v) in &batch {
                    copy_entry(tx, cf, k, v, now).await?;
                }
                tx.c_execute(
                    "INSERT INTO cnx_migration (cf, source, last_key, rows, done) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (cf) DO UPDATE SET \
                     last_key = EXCLUDED.last_key, rows = EXCLUDED.rows, done = EXCLUDED.done",
                    &[
                        &cf,
                        &source_id,
                        &end.as_deref().or(last.as_deref()),
                        &(rows + n),
                        &finished,
                    ],
                )
                .await
                .map_err(tx_err)?;
                Ok(())
            })?;
            rows += n;
            progress(table, rows as u64);
            if finished {
                return Ok(());
            }
            last = end;
        }
    }

    /// Counts each table against the source, and each bucket's usage.
    fn verify(&self, src: &RocksMeta) -> Result<MigrationReport> {
        let now = crate::clock::now_ms();
        let mut tables = Vec::new();
        for (cf, table) in PLAN {
            let mut source = 0u64;
            let mut after: Option<Vec<u8>> = None;
            loop {
                let batch = src.export(cf, after.as_deref(), 10 * BATCH)?;
                let Some((k, _)) = batch.last() else { break };
                after = Some(k.clone());
                source += batch
                    .iter()
                    .filter(|(_, v)| *cf != "idempotency" || !expired(v, now))
                    .count() as u64;
            }
            let copied: i64 = self.run(|c| async move {
                // Idempotency records count while unexpired, on both sides.
                let sql = match *table {
                    "idempotency" => format!("SELECT count(*) FROM {table} WHERE expires_ms > $1"),
                    _ => format!("SELECT count(*) FROM {table} WHERE $1::bigint IS NOT NULL"),
                };
                Ok(c.query_one(&sql, &[&now]).await.map_err(db_err)?.get(0))
            })?;
            tables.push(TableReport {
                table,
                source,
                copied: copied as u64,
            });
        }
        let mut usage_mismatches = Vec::new();
        for (k, v) in src.export("usage", None, usize::MAX)? {
            let want = decode_usage(&v);
            let got =
                self.usage(&crate::meta::BucketId(k.as_slice().try_into().map_err(
                    |_| Error::Meta("migrate: a usage key is not a bucket id".into()),
                )?))?;
            if got != want {
                usage_mismatches.push(format!(
                    "bucket {}: {} bytes / {} objects in the source, {} / {} copied",
                    hex::encode(&k),
                    want.bytes,
                    want.objects,
                    got.bytes,
                    got.objects
                ));
            }
        }
        Ok(MigrationReport {
            tables,
            usage_mismatches,
        })
    }
}

/// An idempotency entry (expiry, then the record) that has expired by `now`.
fn expired(v: &[u8], now: i64) -> bool {
    v.get(..8)
        .and_then(|b| b.try_into().ok())
        .map(i64::from_be_bytes)
        .is_none_or(|t| t <= now)
}

/// Inserts one source entry of `cf` (key `k`, value `v`); one already there is left alone.
async fn copy_entry(
    tx: &super::tx::Tx<'_>,
    cf: &str,
    k: &[u8],
    v: &[u8],
    now: i64,
) -> std::result::Result<(), TxError> {
    let bucket = |k: &[u8]| {
        k.get(..16)
            .map(<[u8]>::to_vec)
            .ok_or_else(|| bad("a key without its bucket"))
    };
    let text = |b: &[u8]| String::from_utf8(b.to_vec()).map_err(|_| bad("a key that is not UTF-8"));
    match cf {
        "buckets" => {
            let rec: BucketRecord = decode(v)?;
            tx.c_execute(
                "INSERT INTO buckets (id, name, doc) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                &[&&rec.id.0[..], &rec.name, &v],
            )
            .await
        }
        "usage" => {
            let u = decode_usage(v);
            tx.c_execute(
                "INSERT INTO bucket_usage (bucket_id, shard, bytes, objects) \
                 SELECT $1, 0, $2, $3 WHERE EXISTS (SELECT 1 FROM buckets WHERE id = $1) \
                 ON CONFLICT DO NOTHING",
                &[&k, &u.bytes, &u.objects],
            )
            .await
        }
        "access_keys" => {
            let rec: KeyRecord = decode(v)?;
            tx.c_execute(
                super::access::INSERT_KEY,
                &[&rec.access_key_id, &super::access::key_bucket(&rec), &v],
            )
            .await
        }
        "kms_keys" => {
            tx.c_execute(
                "INSERT INTO kms_keys (id, doc) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[&text(k)?, &v],
            )
            .await
        }
        "objects" => {
            tx.c_execute(
                "INSERT INTO objects (bucket_id, key, doc) VALUES ($1, $2, $3) \
                 ON CONFLICT DO NOTHING",
                &[&bucket(k)?, &&k[16..], &v],
            )
            .await
        }
        "versions" => {
            // bucket ‖ key ‖ 0x00 ‖ 16-byte sort key.
            let key_end = k
                .len()
                .checked_sub(17)
                .filter(|e| *e >= 16)
                .ok_or_else(|| bad("a short version key"))?;
            tx.c_execute(
                "INSERT INTO versions (bucket_id, key, sort, doc) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT DO NOTHING",
                &[&bucket(k)?, &&k[16..key_end], &&k[key_end + 1..], &v],
            )
            .await
        }
        "uploads" => {
            let rec: UploadRecord = decode(v)?;
            tx.c_execute(
                "INSERT INTO uploads (upload_id, bucket_id, key, doc) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT DO NOTHING",
                &[&rec.upload_id, &bucket(k)?, &rec.key.as_bytes(), &v],
            )
            .await
        }
        "parts" => {
            // upload id ‖ part number (big-endian u32).
            let split = k
                .len()
                .checked_sub(4)
                .ok_or_else(|| bad("a short part key"))?;
            let number =
                u32::from_be_bytes(k[split..].try_into().map_err(|_| bad("a short part key"))?);
            tx.c_execute(
                "INSERT INTO parts (upload_id, part_number, doc) VALUES ($1, $2, $3) \
                 ON CONFLICT DO NOTHING",
                &[&text(&k[..split])?, &(number as i32), &v],
            )
            .await
        }
        "blob_sums" => {
            tx.c_execute(
                "INSERT INTO blob_sums (blob, sums) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[&text(k)?, &v],
            )
            .await
        }
        "inline" => {
            tx.c_execute(
                "INSERT INTO inline_blobs (blob, data) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[&text(k)?, &v],
            )
            .await
        }
        "gc" => {
            let (queued_ms, blob) = parse_gc_key(k).ok_or_else(|| bad("a bad queue key"))?;
            let upload = (!v.is_empty()).then(|| text(v)).transpose()?;
            tx.c_execute(
                "INSERT INTO gc (blob, queued_ms, upload) VALUES ($1, $2, $3) \
                 ON CONFLICT DO NOTHING",
                &[&blob, &queued_ms, &upload],
            )
            .await
        }
        "idempotency" => {
            if expired(v, now) {
                return Ok(());
            }
            let doc = &v[8..];
            let rec: IdempotencyRecord = decode(doc)?;
            tx.c_execute(
                "INSERT INTO idempotency (slot, expires_ms, doc) VALUES ($1, $2, $3) \
                 ON CONFLICT DO NOTHING",
                &[&k, &rec.expires_at_ms, &doc],
            )
            .await
        }
        other => return Err(bad(&format!("no plan for column family {other}"))),
    }
    .map(drop)
    .map_err(tx_err)
}
