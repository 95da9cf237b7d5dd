//! PostgreSQL implementation of `ObjectStore`: the current version of each key in `objects`
//! (a delete marker included), the noncurrent ones in `versions` under their sort key, as in
//! the RocksDB index. A commit locks the key's current row (`FOR UPDATE`), so two gateways
//! writing one key are serialised, and a create that finds no row and loses the race to
//! insert it runs again and finds the winner's: conditional writes hold across gateways.
//! The bucket's row is locked against deletion (`FOR KEY SHARE`) for the commit's length.

use super::tx::{params, Tx};

use super::ledger::DB_NOW_MS;
use super::Cached;
use super::{db_err, tx_err, PgMeta, TxError};
use crate::clock::now_ms;
use crate::error::{Error, Result};
use crate::meta::codec::{decode, encode, prefix_successor};
use crate::meta::versions::{last_position, new_version_id_after, resume_point, sort_key};
use crate::meta::{
    counted, inline, BucketId, BucketRecord, Committed, Deleted, ListEntry, ListPage, ListQuery,
    ListedObject, NewBlob, ObjectRecord, ObjectStore, Usage, VersionEntry, VersionGuard,
    VersionPage, VersionQuery, VersionRef, Versioning, WriteCondition,
};

/// Rows of usage per bucket: concurrent commits to one bucket spread over them.
const USAGE_SHARDS: i16 = 16;

type TxResult<T> = std::result::Result<T, TxError>;

/// Where a version is: current, or noncurrent under this sort key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Current,
    Noncurrent([u8; 16]),
}

pub(super) const LIVE_BUCKET: &str =
    "SELECT doc FROM buckets WHERE id = $1 AND name = $2 FOR KEY SHARE";
pub(super) const CURRENT: &str =
    "SELECT doc FROM objects WHERE bucket_id = $1 AND key = $2 FOR UPDATE";
pub(super) const STAGED: &str =
    "SELECT 1 FROM staged WHERE blob = ANY($1) AND gateway = $2 FOR UPDATE";

/// The bucket as it is now, locked against deletion until the transaction ends; `None` if it
/// is gone (or is another bucket of the same name).
pub(super) async fn live_bucket(tx: &Tx<'_>, b: &BucketRecord) -> TxResult<Option<BucketRecord>> {
    let row = tx
        .c_query_opt(LIVE_BUCKET, &[&&b.id.0[..], &b.name])
        .await
        .map_err(tx_err)?;
    Ok(row.map(|r| decode(r.get::<_, &[u8]>(0))).transpose()?)
}

/// The key's current version, its row locked until the transaction ends.
pub(super) async fn current(
    tx: &Tx<'_>,
    b: &BucketId,
    key: &str,
) -> TxResult<Option<ObjectRecord>> {
    let row = tx
        .c_query_opt(CURRENT, &[&&b.0[..], &key.as_bytes()])
        .await
        .map_err(tx_err)?;
    Ok(row.map(|r| decode(r.get::<_, &[u8]>(0))).transpose()?)
}

/// [`live_bucket`] and [`current`] in one round trip (with the transaction's BEGIN).
pub(super) async fn bucket_and_current(
    tx: &Tx<'_>,
    b: &BucketRecord,
    key: &str,
) -> TxResult<(Option<BucketRecord>, Option<ObjectRecord>)> {
    tx.prepare(&[LIVE_BUCKET, CURRENT]).await?;
    futures::future::try_join(live_bucket(tx, b), current(tx, &b.id, key)).await
}

/// The key's noncurrent versions, newest first, locked.
async fn noncurrent(
    tx: &Tx<'_>,
    b: &BucketId,
    key: &str,
) -> TxResult<Vec<([u8; 16], ObjectRecord)>> {
    let rows = tx
        .c_query(
            "SELECT sort, doc FROM versions WHERE bucket_id = $1 AND key = $2 ORDER BY sort \
             FOR UPDATE",
            &[&&b.0[..], &key.as_bytes()],
        )
        .await
        .map_err(tx_err)?;
    rows.iter()
        .map(|r| Ok((sort_of(r.get(0))?, decode(r.get::<_, &[u8]>(1))?)))
        .collect()
}

fn sort_of(raw: &[u8]) -> Result<[u8; 16]> {
    raw.try_into()
        .map_err(|_| Error::Meta("a version's sort key is not 16 bytes".into()))
}

/// Writes the key's current version: an update of the row locked, or an insert that fails
/// (and so runs the transaction again) if another commit inserted the key meanwhile.
async fn set_current(
    tx: &Tx<'_>,
    b: &BucketId,
    key: &str,
    rec: &ObjectRecord,
    existed: bool,
) -> TxResult<()> {
    let sql = match existed {
        true => "UPDATE objects SET doc = $3 WHERE bucket_id = $1 AND key = $2",
        false => "INSERT INTO objects (bucket_id, key, doc) VALUES ($1, $2, $3)",
    };
    tx.write(
        sql,
        params![b.0.to_vec(), key.as_bytes().to_vec(), encode(rec)?],
    )
    .await
}

async fn remove_current(tx: &Tx<'_>, b: &BucketId, key: &str) -> TxResult<()> {
    tx.write(
        "DELETE FROM objects WHERE bucket_id = $1 AND key = $2",
        params![b.0.to_vec(), key.as_bytes().to_vec()],
    )
    .await
}

async fn set_noncurrent(
    tx: &Tx<'_>,
    b: &BucketId,
    key: &str,
    sort: &[u8; 16],
    rec: &ObjectRecord,
) -> TxResult<()> {
    tx.write(
        "INSERT INTO versions (bucket_id, key, sort, doc) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (bucket_id, key, sort) DO UPDATE SET doc = EXCLUDED.doc",
        params![
            b.0.to_vec(),
            key.as_bytes().to_vec(),
            sort.to_vec(),
            encode(rec)?
        ],
    )
    .await
}

async fn remove_noncurrent(tx: &Tx<'_>, b: &BucketId, key: &str, sort: &[u8; 16]) -> TxResult<()> {
    tx.write(
        "DELETE FROM versions WHERE bucket_id = $1 AND key = $2 AND sort = $3",
        params![b.0.to_vec(), key.as_bytes().to_vec(), sort.to_vec()],
    )
    .await
}

/// Queues a version's blobs for deletion.
async fn queue_blobs(tx: &Tx<'_>, rec: &ObjectRecord) -> TxResult<()> {
    let blobs: Vec<String> = rec.blob_ids().map(str::to_owned).collect();
    if blobs.is_empty() {
        return Ok(());
    }
    // Queued by the database's clock, as the sweepers of every gateway judge the grace by it.
    tx.write(
        &format!(
            "INSERT INTO gc (blob, queued_ms) SELECT unnest($1::text[]), {DB_NOW_MS} \
             ON CONFLICT DO NOTHING"
        ),
        params![blobs],
    )
    .await
}

pub(super) async fn add_usage(tx: &Tx<'_>, b: &BucketId, delta: Usage) -> TxResult<()> {
    if delta == Usage::default() {
        return Ok(());
    }
    let shard = rand::random::<i16>().rem_euclid(USAGE_SHARDS);
    tx.write(
        "INSERT INTO bucket_usage (bucket_id, shard, bytes, objects) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (bucket_id, shard) DO UPDATE SET bytes = bucket_usage.bytes + \
         EXCLUDED.bytes, objects = bucket_usage.objects + EXCLUDED.objects",
        params![b.0.to_vec(), shard, delta.bytes, delta.objects],
    )
    .await
}

/// The staged blobs a commit makes part of an object, their rows locked (see
/// [`lock_staged`]).
pub(super) struct Staged {
    blobs: Vec<String>,
    held: bool,
    gateway: Vec<u8>,
}

/// Locks the rows of the staged blobs a commit makes part of an object. Each must still be
/// staged by this gateway: if it was reclaimed (this gateway went unheard for too long), its
/// blob may be deleted any moment, and [`Staged::release`] refuses the commit. Counted by a
/// read, as a pipelined write's count comes back only after the commit.
pub(super) async fn lock_staged(tx: &Tx<'_>, gateway: &[u8], blobs: &[&str]) -> TxResult<Staged> {
    let blobs: Vec<String> = blobs
        .iter()
        .filter(|b| !inline::is_inline(b))
        .map(|b| (*b).to_owned())
        .collect();
    let held = blobs.is_empty()
        || tx
            .c_query(STAGED, &[&blobs, &gateway])
            .await
            .map_err(tx_err)?
            .len()
            == blobs.len();
    Ok(Staged {
        blobs,
        held,
        gateway: gateway.to_vec(),
    })
}

impl Staged {
    /// Releases the blobs from staging, in the commit that makes them part of an object.
    pub(super) async fn release(self, tx: &Tx<'_>) -> TxResult<()> {
        if !self.held {
            return Err(TxError::Fail(Error::Meta(
                "a blob of this commit is no longer staged by this gateway (it went unheard \
                 for too long and its writes were reclaimed)"
                    .into(),
            )));
        }
        if self.blobs.is_empty() {
            return Ok(());
        }
        tx.write(
            "DELETE FROM staged WHERE blob = ANY($1) AND gateway = $2",
            params![self.blobs, self.gateway],
        )
        .await
    }
}

/// Keeps what the index holds of a new blob, in the commit that makes it part of an object.
pub(super) async fn keep_new_blob(tx: &Tx<'_>, blob: Option<NewBlob<'_>>) -> TxResult<()> {
    let (sql, id, value) = match blob {
        Some(NewBlob::Inline { blob, bytes }) => (
            "INSERT INTO inline_blobs (blob, data) VALUES ($1, $2) \
             ON CONFLICT (blob) DO UPDATE SET data = EXCLUDED.data",
            blob,
            inline::frame(bytes),
        ),
        Some(NewBlob::Sums { blob, sums }) => (
            "INSERT INTO blob_sums (blob, sums) VALUES ($1, $2) \
             ON CONFLICT (blob) DO UPDATE SET sums = EXCLUDED.sums",
            blob,
            sums.encode(),
        ),
        None => return Ok(()),
    };
    tx.write(sql, params![id.to_owned(), value]).await
}

/// Writes `rec` as the current version of `key` over `old`, as the bucket's versioning state
/// says (see the RocksDB index's `replace_object`). Returns the record as written, the usage
/// change and whether blobs were queued.
pub(super) async fn replace_object(
    tx: &Tx<'_>,
    bucket: &BucketRecord,
    key: &str,
    rec: &ObjectRecord,
    old: Option<&ObjectRecord>,
) -> TxResult<(ObjectRecord, Usage, bool)> {
    let mut rec = rec.clone();
    rec.version_id = match bucket.versioning {
        Versioning::Enabled => Some(new_version_id_after(old)),
        Versioning::Unversioned | Versioning::Suspended => None,
    };
    if let (Some(lock), false, None) = (&bucket.object_lock, rec.delete_marker, rec.retention) {
        rec.retention = lock.retention_for(rec.last_modified_ms);
    }
    set_current(tx, &bucket.id, key, &rec, old.is_some()).await?;
    let mut delta = counted(&rec);
    let mut freed = false;
    if let Some(old) = old {
        let keep = match bucket.versioning {
            Versioning::Unversioned => false,
            Versioning::Enabled => true,
            Versioning::Suspended => old.version_id.is_some(),
        };
        if keep {
            let sort = sort_key(old.version_id.as_deref(), old.last_modified_ms);
            set_noncurrent(tx, &bucket.id, key, &sort, old).await?;
        } else {
            queue_blobs(tx, old).await?;
            delta = delta - counted(old);
            freed |= !old.segments.is_empty();
        }
    }
    if bucket.versioning == Versioning::Suspended {
        // The null version is unique: a new one replaces an older one wherever it lies.
        for (sort, v) in noncurrent(tx, &bucket.id, key).await? {
            if v.version_id.is_none() {
                remove_noncurrent(tx, &bucket.id, key, &sort).await?;
                queue_blobs(tx, &v).await?;
                delta = delta - counted(&v);
                freed |= !v.segments.is_empty();
            }
        }
    }
    Ok((rec, delta, freed))
}

/// Finds one version of `key` (locking its row).
async fn find_version(
    tx: &Tx<'_>,
    b: &BucketId,
    key: &str,
    v: &VersionRef,
) -> TxResult<Option<(Place, ObjectRecord)>> {
    if let Some(cur) = current(tx, b, key).await? {
        if cur.is_version(v) {
            return Ok(Some((Place::Current, cur)));
        }
    }
    Ok(noncurrent(tx, b, key)
        .await?
        .into_iter()
        .find(|(_, rec)| rec.is_version(v))
        .map(|(sort, rec)| (Place::Noncurrent(sort), rec)))
}

impl PgMeta {
    /// Current versions (key, doc) in one bucket from key `start` on, below `end`, in order.
    async fn key_rows(
        c: &tokio_postgres::Transaction<'_>,
        b: &BucketId,
        start: &[u8],
        end: Option<&[u8]>,
        limit: i64,
    ) -> Result<Vec<tokio_postgres::Row>> {
        c.query(
            "SELECT key, doc FROM objects WHERE bucket_id = $1 AND key >= $2 \
             AND ($3::bytea IS NULL OR key < $3) ORDER BY key LIMIT $4",
            &[&&b.0[..], &start, &end, &limit],
        )
        .await
        .map_err(db_err)
    }

    async fn noncurrent_of(
        c: &tokio_postgres::Transaction<'_>,
        b: &BucketId,
        key: &str,
    ) -> Result<Vec<ObjectRecord>> {
        c.query(
            "SELECT doc FROM versions WHERE bucket_id = $1 AND key = $2 ORDER BY sort",
            &[&&b.0[..], &key.as_bytes()],
        )
        .await
        .map_err(db_err)?
        .iter()
        .map(|r| decode(r.get::<_, &[u8]>(0)))
        .collect()
    }
}

/// Where a listing's next chunk of keys starts: past the common prefix the walk stopped at
/// (`skip_to`; `Some(None)`: none comes after it), else after the chunk's last key if the
/// chunk was full. `None`: the listing is at its end.
fn next_chunk(
    rows: &[tokio_postgres::Row],
    skip_to: Option<Option<Vec<u8>>>,
    chunk: i64,
) -> Option<Vec<u8>> {
    match skip_to {
        Some(past_prefix) => past_prefix,
        None if rows.len() as i64 == chunk => {
            let mut s = rows.last()?.get::<_, &[u8]>(0).to_vec();
            s.push(0);
            Some(s)
        }
        None => None,
    }
}

fn key_str(raw: &[u8]) -> Result<&str> {
    std::str::from_utf8(raw).map_err(|_| Error::Meta("stored key is not UTF-8".into()))
}

/// Where a listing of `prefix` resumes: after `after` (its immediate successor is
/// `after` + 0x00), or at the prefix.
fn resume_at(prefix: &str, after: Option<&str>) -> Vec<u8> {
    match after {
        Some(a) if a.as_bytes() >= prefix.as_bytes() => {
            let mut start = a.as_bytes().to_vec();
            start.push(0);
            start
        }
        _ => prefix.as_bytes().to_vec(),
    }
}

/// The common prefix `key` rolls up into, if any.
fn common_prefix<'k>(key: &'k str, prefix: &str, delimiter: Option<&str>) -> Option<&'k str> {
    let rest = &key[prefix.len()..];
    delimiter
        .filter(|d| !d.is_empty())
        .and_then(|d| rest.find(d).map(|i| &key[..prefix.len() + i + d.len()]))
}

impl ObjectStore for PgMeta {
    fn get_object(&self, bucket: &BucketId, key: &str) -> Result<Option<ObjectRecord>> {
        self.run(|c| async move {
            c.c_query_opt(
                "SELECT doc FROM objects WHERE bucket_id = $1 AND key = $2",
                &[&&bucket.0[..], &key.as_bytes()],
            )
            .await
            .map_err(db_err)?
            .map(|r| decode(r.get::<_, &[u8]>(0)))
            .transpose()
        })
    }

    fn put_object_with(
        &self,
        bucket: &BucketRecord,
        key: &str,
        rec: &ObjectRecord,
        cond: &WriteCondition,
        blob: Option<NewBlob<'_>>,
    ) -> Result<Committed> {
        let gateway = &self.gateway[..];
        self.transact(async |tx| {
            let blobs: Vec<&str> = rec.blob_ids().collect();
            // One round trip: the BEGIN, the bucket's lock, the key's and the staged blobs'.
            tx.prepare(&[LIVE_BUCKET, CURRENT, STAGED]).await?;
            let ((live, old), staged) = futures::future::try_join(
                bucket_and_current(tx, bucket, key),
                lock_staged(tx, gateway, &blobs),
            )
            .await?;
            let Some(live) = live else {
                return Err(Error::NoSuchBucket(bucket.name.clone()).into());
            };
            cond.check(old.as_ref())?;
            staged.release(tx).await?;
            keep_new_blob(tx, blob).await?;
            let (rec, delta, freed) = replace_object(tx, &live, key, rec, old.as_ref()).await?;
            add_usage(tx, &bucket.id, delta).await?;
            Ok(Committed { rec, freed })
        })
    }

    fn delete_object(
        &self,
        bucket: &BucketRecord,
        key: &str,
        cond: &WriteCondition,
    ) -> Result<Deleted> {
        self.transact(async |tx| {
            let (live, old) = bucket_and_current(tx, bucket, key).await?;
            // A bucket deleted meanwhile holds nothing to delete.
            let Some(live) = live else {
                return Ok(Deleted::default());
            };
            if *cond != WriteCondition::Always {
                cond.check(old.as_ref())?;
            }
            if live.versioning.is_unversioned() {
                let Some(old) = old else {
                    return Ok(Deleted::default());
                };
                remove_current(tx, &bucket.id, key).await?;
                queue_blobs(tx, &old).await?;
                add_usage(tx, &bucket.id, Usage::default() - counted(&old)).await?;
                return Ok(Deleted {
                    removed: Some(old),
                    marker: None,
                });
            }
            // Versioned: a delete marker becomes the current version (even of a missing key).
            let marker = ObjectRecord::new_delete_marker(None);
            let (marker, delta, _) = replace_object(tx, &live, key, &marker, old.as_ref()).await?;
            add_usage(tx, &bucket.id, delta).await?;
            Ok(Deleted {
                removed: None,
                marker: Some(marker),
            })
        })
    }

    fn delete_version(
        &self,
        bucket: &BucketRecord,
        key: &str,
        v: &VersionRef,
        guard: &VersionGuard,
    ) -> Result<Deleted> {
        self.transact(async |tx| {
            if live_bucket(tx, bucket).await?.is_none() {
                return Ok(Deleted::default());
            }
            let Some((place, rec)) = find_version(tx, &bucket.id, key, v).await? else {
                return Ok(Deleted::default());
            };
            if guard
                .last_modified_ms
                .is_some_and(|t| t != rec.last_modified_ms)
            {
                return Err(Error::PreconditionFailed.into());
            }
            if let Some(refused) = rec.delete_refusal(now_ms(), guard.bypass_governance) {
                return Err(refused.into());
            }
            match place {
                Place::Current => {
                    // The newest noncurrent version, if any, becomes current.
                    match noncurrent(tx, &bucket.id, key).await?.into_iter().next() {
                        Some((sort, next)) => {
                            set_current(tx, &bucket.id, key, &next, true).await?;
                            remove_noncurrent(tx, &bucket.id, key, &sort).await?;
                        }
                        None => remove_current(tx, &bucket.id, key).await?,
                    }
                }
                Place::Noncurrent(sort) => remove_noncurrent(tx, &bucket.id, key, &sort).await?,
            }
            queue_blobs(tx, &rec).await?;
            add_usage(tx, &bucket.id, Usage::default() - counted(&rec)).await?;
            Ok(Deleted {
                removed: Some(rec),
                marker: None,
            })
        })
    }

    fn update_version(
        &self,
        bucket: &BucketRecord,
        key: &str,
        v: Option<&VersionRef>,
        change: &mut dyn FnMut(&mut ObjectRecord) -> Result<()>,
    ) -> Result<ObjectRecord> {
        self.transact(async |tx| {
            if live_bucket(tx, bucket).await?.is_none() {
                return Err(Error::NoSuchBucket(bucket.name.clone()).into());
            }
            let (place, mut rec) = match v {
                None => (
                    Place::Current,
                    current(tx, &bucket.id, key)
                        .await?
                        .ok_or(Error::NoSuchKey)?,
                ),
                Some(v) => find_version(tx, &bucket.id, key, v)
                    .await?
                    .ok_or(Error::NoSuchVersion)?,
            };
            if rec.delete_marker {
                return Err(Error::DeleteMarker {
                    version_id: rec.version_str().to_owned(),
                    requested: v.is_some(),
                }
                .into());
            }
            change(&mut rec)?;
            match place {
                Place::Current => set_current(tx, &bucket.id, key, &rec, true).await?,
                Place::Noncurrent(sort) => set_noncurrent(tx, &bucket.id, key, &sort, &rec).await?,
            }
            Ok(rec)
        })
    }

    fn get_version(
        &self,
        bucket: &BucketId,
        key: &str,
        v: &VersionRef,
    ) -> Result<Option<ObjectRecord>> {
        // One snapshot: a version promoted to current meanwhile is found in one place or
        // the other, never in neither.
        self.snapshot(async move |c| {
            let cur = c
                .query_opt(
                    "SELECT doc FROM objects WHERE bucket_id = $1 AND key = $2",
                    &[&&bucket.0[..], &key.as_bytes()],
                )
                .await
                .map_err(db_err)?
                .map(|r| decode::<ObjectRecord>(r.get::<_, &[u8]>(0)))
                .transpose()?;
            if let Some(cur) = cur.filter(|c| c.is_version(v)) {
                return Ok(Some(cur));
            }
            Ok(Self::noncurrent_of(c, bucket, key)
                .await?
                .into_iter()
                .find(|rec| rec.is_version(v)))
        })
    }

    fn list_objects(&self, bucket: &BucketId, q: &ListQuery<'_>) -> Result<ListPage> {
        let mut page = ListPage::default();
        if q.max == 0 {
            return Ok(page);
        }
        let end = prefix_successor(q.prefix.as_bytes());
        // Delete markers are walked but not shown: a chunk a little longer than the page.
        let chunk = i64::try_from(q.max.saturating_add(16)).unwrap_or(i64::MAX);
        self.snapshot(async move |c| {
            let mut start = resume_at(q.prefix, q.after);
            let mut last: Option<String> = None;
            loop {
                let rows = Self::key_rows(c, bucket, &start, end.as_deref(), chunk).await?;
                let mut next_start = None;
                for row in &rows {
                    let key = key_str(row.get(0))?;
                    if page.entries.len() == q.max {
                        page.next_after = last;
                        return Ok(page);
                    }
                    if let Some(cp) = common_prefix(key, q.prefix, q.delimiter) {
                        // A resume point inside this prefix means it was already returned.
                        if !q.after.is_some_and(|a| a.starts_with(cp)) {
                            page.entries.push(ListEntry::CommonPrefix(cp.to_owned()));
                            last = Some(cp.to_owned());
                        }
                        next_start = Some(prefix_successor(cp.as_bytes()));
                        break;
                    }
                    let rec: ListedObject = decode(row.get::<_, &[u8]>(1))?;
                    if !rec.delete_marker {
                        page.entries.push(ListEntry::Object(key.to_owned(), rec));
                    }
                    last = Some(key.to_owned());
                }
                start = match next_chunk(&rows, next_start, chunk) {
                    Some(s) => s,
                    None => return Ok(page),
                };
            }
        })
    }

    fn list_versions(&self, bucket: &BucketId, q: &VersionQuery<'_>) -> Result<VersionPage> {
        let mut page = VersionPage::default();
        if q.max == 0 {
            return Ok(page);
        }
        let end = prefix_successor(q.prefix.as_bytes());
        let chunk = i64::try_from(q.max.saturating_add(1)).unwrap_or(i64::MAX);
        self.snapshot(async move |c| {
            // With a version marker, the marker's key still has versions to come.
            let mut start = match (q.key_marker.filter(|m| !m.is_empty()), q.version_marker) {
                (Some(m), Some(_)) if m >= q.prefix => m.as_bytes().to_vec(),
                (marker, _) => resume_at(q.prefix, marker),
            };
            loop {
                let rows = Self::key_rows(c, bucket, &start, end.as_deref(), chunk).await?;
                let mut next_start = None;
                for row in &rows {
                    let key = key_str(row.get(0))?;
                    if let Some(cp) = common_prefix(key, q.prefix, q.delimiter) {
                        if !q.key_marker.is_some_and(|m| m.starts_with(cp)) {
                            if page.entries.len() == q.max {
                                page.next = last_position(&page);
                                return Ok(page);
                            }
                            page.entries.push(VersionEntry::CommonPrefix(cp.to_owned()));
                        }
                        next_start = Some(prefix_successor(cp.as_bytes()));
                        break;
                    }
                    let mut all: Vec<ObjectRecord> = vec![decode(row.get::<_, &[u8]>(1))?];
                    all.extend(Self::noncurrent_of(c, bucket, key).await?);
                    // Resuming inside this key: skip up to and including the marker version.
                    let skip = match (q.key_marker, q.version_marker) {
                        (Some(m), Some(vm)) if m == key => resume_point(&all, vm),
                        _ => 0,
                    };
                    for (i, rec) in all.into_iter().enumerate().skip(skip) {
                        if page.entries.len() == q.max {
                            page.next = last_position(&page);
                            return Ok(page);
                        }
                        page.entries.push(VersionEntry::Version {
                            key: key.to_owned(),
                            rec: Box::new(rec),
                            latest: i == 0,
                        });
                    }
                }
                start = match next_chunk(&rows, next_start, chunk) {
                    Some(s) => s,
                    None => return Ok(page),
                };
            }
        })
    }
}
