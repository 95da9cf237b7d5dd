//! PostgreSQL implementation of `BucketStore`. A bucket's name is unique among live buckets
//! (the database enforces it), and its objects and uploads reference it, so a bucket cannot
//! be deleted while a commit into it is under way on any gateway.

use super::session::{kinds, BUMP};
use super::Cached;
use super::{db_err, PgMeta};
use crate::error::{Error, Result};
use crate::meta::codec::{decode, encode};
use crate::meta::gens::CacheKind;
use crate::meta::{BucketId, BucketRecord, BucketStore, Usage};

/// A name taken and freed again between our insert and our look at the record is retried.
const INSERT_ATTEMPTS: usize = 5;

impl BucketStore for PgMeta {
    fn get_bucket(&self, name: &str) -> Result<Option<BucketRecord>> {
        self.run(|c| async move {
            c.c_query_opt("SELECT doc FROM buckets WHERE name = $1", &[&name])
                .await
                .map_err(db_err)?
                .map(|r| decode(r.get::<_, &[u8]>(0)))
                .transpose()
        })
    }

    fn list_buckets(&self) -> Result<Vec<BucketRecord>> {
        self.run(|c| async move {
            c.c_query("SELECT doc FROM buckets ORDER BY name", &[])
                .await
                .map_err(db_err)?
                .iter()
                .map(|r| decode(r.get::<_, &[u8]>(0)))
                .collect()
        })
    }

    fn insert_bucket(&self, rec: &BucketRecord) -> Result<Option<BucketRecord>> {
        let doc = encode(rec)?;
        self.run(|c| async move {
            for _ in 0..INSERT_ATTEMPTS {
                let inserted = c
                    .c_execute(
                        "INSERT INTO buckets (id, name, doc) VALUES ($1, $2, $3) \
                         ON CONFLICT (name) DO NOTHING",
                        &[&&rec.id.0[..], &rec.name, &doc],
                    )
                    .await
                    .map_err(db_err)?;
                if inserted == 1 {
                    return Ok(None);
                }
                // A statement of its own: its snapshot sees the commit the insert waited for.
                if let Some(row) = c
                    .c_query_opt("SELECT doc FROM buckets WHERE name = $1", &[&rec.name])
                    .await
                    .map_err(db_err)?
                {
                    return Ok(Some(decode(row.get::<_, &[u8]>(0))?));
                }
            }
            Err(Error::Meta(format!(
                "bucket name `{}` keeps being taken and freed",
                rec.name
            )))
        })
    }

    fn update_bucket(
        &self,
        name: &str,
        id: &BucketId,
        change: &mut dyn FnMut(&mut BucketRecord) -> Result<()>,
    ) -> Result<BucketRecord> {
        self.run(|mut c| async move {
            let tx = c.transaction().await.map_err(db_err)?;
            // NO KEY UPDATE: commits into the bucket (which hold KEY SHARE) go on meanwhile.
            let Some(row) = tx
                .c_query_opt(
                    "SELECT doc FROM buckets WHERE name = $1 AND id = $2 FOR NO KEY UPDATE",
                    &[&name, &&id.0[..]],
                )
                .await
                .map_err(db_err)?
            else {
                return Err(Error::NoSuchBucket(name.to_owned()));
            };
            let mut rec: BucketRecord = decode(row.get::<_, &[u8]>(0))?;
            change(&mut rec)?;
            tx.c_execute(
                "UPDATE buckets SET doc = $2 WHERE id = $1",
                &[&&id.0[..], &encode(&rec)?],
            )
            .await
            .map_err(db_err)?;
            tx.c_execute(BUMP, &[&kinds(&[CacheKind::Buckets])])
                .await
                .map_err(db_err)?;
            tx.commit().await.map_err(db_err)?;
            Ok(rec)
        })
        .inspect(|_| self.gens.bump(CacheKind::Buckets))
    }

    fn delete_bucket(&self, name: &str, id: &BucketId) -> Result<()> {
        let id = &id.0[..];
        self.run(|mut c| async move {
            let tx = c.transaction().await.map_err(db_err)?;
            // Waits for commits into the bucket under way; those that come later find it gone.
            if tx
                .c_query_opt(
                    "SELECT 1 FROM buckets WHERE name = $1 AND id = $2 FOR UPDATE",
                    &[&name, &id],
                )
                .await
                .map_err(db_err)?
                .is_none()
            {
                return Err(Error::NoSuchBucket(name.to_owned()));
            }
            // In-progress multipart uploads hold blobs too: they must be aborted first.
            let used: bool = tx
                .c_query_one(
                    "SELECT EXISTS (SELECT 1 FROM objects WHERE bucket_id = $1) \
                     OR EXISTS (SELECT 1 FROM uploads WHERE bucket_id = $1)",
                    &[&id],
                )
                .await
                .map_err(db_err)?
                .get(0);
            if used {
                return Err(Error::BucketNotEmpty(name.to_owned()));
            }
            // The bucket's keys die with it; a new bucket of the same name starts with none.
            tx.c_execute("DELETE FROM access_keys WHERE bucket_id = $1", &[&id])
                .await
                .map_err(db_err)?;
            tx.c_execute("DELETE FROM buckets WHERE id = $1", &[&id])
                .await
                .map_err(db_err)?;
            tx.c_execute(BUMP, &[&kinds(&[CacheKind::Buckets, CacheKind::Keys])])
                .await
                .map_err(db_err)?;
            tx.commit().await.map_err(db_err)
        })?;
        self.gens.bump(CacheKind::Buckets);
        self.gens.bump(CacheKind::Keys);
        Ok(())
    }

    fn usage(&self, bucket: &BucketId) -> Result<Usage> {
        self.run(|c| async move {
            let row = c
                .c_query_one(
                    "SELECT coalesce(sum(bytes), 0)::bigint, coalesce(sum(objects), 0)::bigint \
                     FROM bucket_usage WHERE bucket_id = $1",
                    &[&&bucket.0[..]],
                )
                .await
                .map_err(db_err)?;
            Ok(Usage {
                bytes: row.get(0),
                objects: row.get(1),
            })
        })
    }
}
