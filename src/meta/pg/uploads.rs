//! PostgreSQL implementation of `UploadStore`. The upload's row is locked by every commit
//! of it (a part, its completion, its abort), so commits through different gateways are
//! serialised per upload while the parts' bytes stream in parallel.

use super::tx::{params, Tx};

use super::objects::{
    add_usage, current, keep_new_blob, live_bucket, lock_staged, replace_object, CURRENT,
    LIVE_BUCKET, STAGED,
};
use super::Cached;
use super::{db_err, tx_err, PgMeta, TxError};
use crate::error::{Error, Result};
use crate::integrity::ChunkSums;
use crate::meta::codec::{decode, encode, prefix_successor};
use crate::meta::{
    BucketId, BucketRecord, Committed, NewBlob, ObjectRecord, PartRecord, UploadEntry, UploadPage,
    UploadQuery, UploadRecord, UploadStore, Usage, WriteCondition,
};

/// No reader can hold a part blob that is not in a completed object (GET reads objects
/// only), so dropped parts are queued as already past their grace period.
const PART_GC_TS: i64 = 0;

type TxResult<T> = std::result::Result<T, TxError>;

const LOCK_UPLOAD: &str = "SELECT 1 FROM uploads WHERE upload_id = $1 AND bucket_id = $2 \
                           AND key = $3 FOR NO KEY UPDATE";
const PARTS: &str = "SELECT doc FROM parts WHERE upload_id = $1 ORDER BY part_number";
const PART: &str = "SELECT doc FROM parts WHERE upload_id = $1 AND part_number = $2";

/// Locks the upload's row; false if it is gone.
async fn lock_upload(tx: &Tx<'_>, bucket: &BucketId, key: &str, upload_id: &str) -> TxResult<bool> {
    Ok(tx
        .c_query_opt(LOCK_UPLOAD, &[&upload_id, &&bucket.0[..], &key.as_bytes()])
        .await
        .map_err(tx_err)?
        .is_some())
}

fn no_such_upload() -> TxError {
    TxError::Fail(Error::NoSuchUpload)
}

async fn parts_of(tx: &Tx<'_>, upload_id: &str) -> TxResult<Vec<PartRecord>> {
    let rows = tx.c_query(PARTS, &[&upload_id]).await.map_err(tx_err)?;
    Ok(rows
        .iter()
        .map(|r| decode(r.get::<_, &[u8]>(0)))
        .collect::<Result<_>>()?)
}

/// Deletes the upload and its `parts`, queueing the blobs of parts whose numbers are not in
/// `keep`. Returns the bytes of all parts.
async fn remove_upload(
    tx: &Tx<'_>,
    upload_id: &str,
    parts: &[PartRecord],
    keep: &[(u32, String)],
) -> TxResult<u64> {
    let dropped: Vec<String> = parts
        .iter()
        .filter(|p| !keep.iter().any(|(n, _)| *n == p.part_number))
        .map(|p| p.blob.clone())
        .collect();
    tx.write(
        "DELETE FROM uploads WHERE upload_id = $1",
        params![upload_id.to_owned()],
    )
    .await?;
    if !dropped.is_empty() {
        tx.write(
            "INSERT INTO gc (blob, queued_ms) SELECT unnest($1::text[]), $2 \
             ON CONFLICT DO NOTHING",
            params![dropped, PART_GC_TS],
        )
        .await?;
    }
    Ok(parts.iter().map(|p| p.size).sum())
}

fn bytes(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl UploadStore for PgMeta {
    fn create_upload(&self, bucket: &BucketRecord, rec: &UploadRecord) -> Result<()> {
        let doc = encode(rec)?;
        self.transact(async |tx| {
            if live_bucket(tx, bucket).await?.is_none() {
                return Err(Error::NoSuchBucket(bucket.name.clone()).into());
            }
            tx.write(
                "INSERT INTO uploads (upload_id, bucket_id, key, doc) VALUES ($1, $2, $3, $4)",
                params![
                    rec.upload_id.clone(),
                    bucket.id.0.to_vec(),
                    rec.key.as_bytes().to_vec(),
                    doc.clone()
                ],
            )
            .await
        })
    }

    fn get_upload(
        &self,
        bucket: &BucketId,
        key: &str,
        upload_id: &str,
    ) -> Result<Option<UploadRecord>> {
        self.run(|c| async move {
            c.c_query_opt(
                "SELECT doc FROM uploads WHERE upload_id = $1 AND bucket_id = $2 AND key = $3",
                &[&upload_id, &&bucket.0[..], &key.as_bytes()],
            )
            .await
            .map_err(db_err)?
            .map(|r| decode(r.get::<_, &[u8]>(0)))
            .transpose()
        })
    }

    fn put_part(
        &self,
        bucket: &BucketRecord,
        key: &str,
        upload_id: &str,
        part: &PartRecord,
        sums: Option<&ChunkSums>,
    ) -> Result<()> {
        let gateway = &self.gateway[..];
        let doc = encode(part)?;
        let number = i32::try_from(part.part_number)
            .map_err(|_| Error::Meta(format!("part number {} too large", part.part_number)))?;
        self.transact(async |tx| {
            // One round trip: the BEGIN, the upload's lock, the part it replaces and the
            // part's staged blob.
            let blob = [part.blob.as_str()];
            tx.prepare(&[LOCK_UPLOAD, PART, STAGED]).await?;
            let (locked, old, staged) = futures::try_join!(
                lock_upload(tx, &bucket.id, key, upload_id),
                async {
                    tx.c_query_opt(PART, &[&upload_id, &number])
                        .await
                        .map_err(tx_err)
                },
                lock_staged(tx, gateway, &blob),
            )?;
            if !locked {
                return Err(no_such_upload());
            }
            staged.release(tx).await?;
            let old: Option<PartRecord> = old.map(|r| decode(r.get::<_, &[u8]>(0))).transpose()?;
            let sums = sums.map(|sums| NewBlob::Sums {
                blob: &part.blob,
                sums,
            });
            keep_new_blob(tx, sums).await?;
            tx.write(
                "INSERT INTO parts (upload_id, part_number, doc) VALUES ($1, $2, $3) \
                 ON CONFLICT (upload_id, part_number) DO UPDATE SET doc = EXCLUDED.doc",
                params![upload_id.to_owned(), number, doc.clone()],
            )
            .await?;
            let mut delta = bytes(part.size);
            if let Some(old) = old {
                tx.write(
                    "INSERT INTO gc (blob, queued_ms) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                    params![old.blob.clone(), PART_GC_TS],
                )
                .await?;
                delta -= bytes(old.size);
            }
            let delta = Usage {
                bytes: delta,
                objects: 0,
            };
            add_usage(tx, &bucket.id, delta).await?;
            Ok(())
        })
    }

    fn list_parts(
        &self,
        upload_id: &str,
        after: u32,
        max: usize,
    ) -> Result<(Vec<PartRecord>, bool)> {
        let after = i64::from(after);
        let limit = i64::try_from(max.saturating_add(1)).unwrap_or(i64::MAX);
        self.run(|c| async move {
            let rows = c
                .c_query(
                    "SELECT doc FROM parts WHERE upload_id = $1 AND part_number > $2::bigint \
                     ORDER BY part_number LIMIT $3",
                    &[&upload_id, &after, &limit],
                )
                .await
                .map_err(db_err)?;
            let more = rows.len() > max;
            let parts = rows
                .iter()
                .take(max)
                .map(|r| decode(r.get::<_, &[u8]>(0)))
                .collect::<Result<_>>()?;
            Ok((parts, more))
        })
    }

    fn complete_upload(
        &self,
        bucket: &BucketRecord,
        key: &str,
        upload_id: &str,
        rec: &ObjectRecord,
        used: &[(u32, String)],
        cond: &WriteCondition,
    ) -> Result<Committed> {
        self.transact(async |tx| {
            // One round trip: the statements run in this order all the same (the parts are
            // read once the upload is locked).
            tx.prepare(&[LIVE_BUCKET, LOCK_UPLOAD, PARTS, CURRENT])
                .await?;
            let (live, locked, parts, old) = futures::try_join!(
                live_bucket(tx, bucket),
                lock_upload(tx, &bucket.id, key, upload_id),
                parts_of(tx, upload_id),
                current(tx, &bucket.id, key),
            )?;
            let Some(live) = live else {
                return Err(Error::NoSuchBucket(bucket.name.clone()).into());
            };
            if !locked {
                return Err(no_such_upload());
            }
            for (n, blob) in used {
                if !parts.iter().any(|p| p.part_number == *n && p.blob == *blob) {
                    return Err(Error::InvalidPart(format!(
                        "Part {n} was replaced while the upload was being completed."
                    ))
                    .into());
                }
            }
            cond.check(old.as_ref())?;
            let part_bytes = remove_upload(tx, upload_id, &parts, used).await?;
            let (rec, mut delta, freed) = replace_object(tx, &live, key, rec, old.as_ref()).await?;
            // The parts' bytes were counted as they arrived; the object now holds them.
            delta.bytes -= bytes(part_bytes);
            add_usage(tx, &bucket.id, delta).await?;
            Ok(Committed { rec, freed })
        })
    }

    fn abort_upload(&self, bucket: &BucketRecord, key: &str, upload_id: &str) -> Result<()> {
        self.transact(async |tx| {
            tx.prepare(&[LOCK_UPLOAD, PARTS]).await?;
            let (locked, parts) = futures::future::try_join(
                lock_upload(tx, &bucket.id, key, upload_id),
                parts_of(tx, upload_id),
            )
            .await?;
            if !locked {
                return Err(no_such_upload());
            }
            let part_bytes = remove_upload(tx, upload_id, &parts, &[]).await?;
            let delta = Usage {
                bytes: -bytes(part_bytes),
                objects: 0,
            };
            add_usage(tx, &bucket.id, delta).await?;
            Ok(())
        })
    }

    fn list_uploads(&self, bucket: &BucketId, q: &UploadQuery<'_>) -> Result<UploadPage> {
        let mut page = UploadPage::default();
        if q.max == 0 {
            return Ok(page);
        }
        let end = prefix_successor(q.prefix.as_bytes());
        // A position in (key, upload id) order: rows strictly after it are listed.
        let mut start: (Vec<u8>, String) = (q.prefix.as_bytes().to_vec(), String::new());
        if let Some(km) = q.key_marker.filter(|k| !k.is_empty()) {
            let after = match q.upload_id_marker.filter(|u| !u.is_empty()) {
                // Within the marker key, after that upload id.
                Some(uid) => (km.as_bytes().to_vec(), uid.to_owned()),
                // Past every upload of the marker key.
                None => {
                    let mut k = km.as_bytes().to_vec();
                    k.push(0);
                    (k, String::new())
                }
            };
            start = start.max(after);
        }
        let chunk = i64::try_from(q.max.saturating_add(1)).unwrap_or(i64::MAX);
        self.snapshot(async move |c| {
            let mut last: Option<(String, String)> = None;
            loop {
                let rows = c
                    .query(
                        "SELECT doc FROM uploads WHERE bucket_id = $1 \
                         AND (key, upload_id) > ($2, $3) AND ($4::bytea IS NULL OR key < $4) \
                         ORDER BY key, upload_id LIMIT $5",
                        &[&&bucket.0[..], &start.0, &start.1, &end, &chunk],
                    )
                    .await
                    .map_err(db_err)?;
                let mut next = None;
                for row in &rows {
                    let rec: UploadRecord = decode(row.get::<_, &[u8]>(0))?;
                    if page.entries.len() == q.max {
                        page.next = last;
                        return Ok(page);
                    }
                    let rest = &rec.key[q.prefix.len().min(rec.key.len())..];
                    let common = q.delimiter.filter(|d| !d.is_empty()).and_then(|d| {
                        rest.find(d)
                            .map(|i| rec.key[..q.prefix.len() + i + d.len()].to_owned())
                    });
                    if let Some(cp) = common {
                        if !q.key_marker.is_some_and(|m| m.starts_with(cp.as_str())) {
                            page.entries.push(UploadEntry::CommonPrefix(cp.clone()));
                            last = Some((cp.clone(), String::new()));
                        }
                        next = Some(prefix_successor(cp.as_bytes()).map(|s| (s, String::new())));
                        break;
                    }
                    last = Some((rec.key.clone(), rec.upload_id.clone()));
                    start = (rec.key.as_bytes().to_vec(), rec.upload_id.clone());
                    page.entries.push(UploadEntry::Upload(Box::new(rec)));
                }
                match next {
                    Some(Some(s)) => start = s,
                    Some(None) => return Ok(page),
                    None if rows.len() as i64 == chunk => {}
                    None => return Ok(page),
                }
            }
        })
    }
}
