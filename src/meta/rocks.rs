//! RocksDB implementation of `MetaStore`.
//!
//! Writers that touch the same object key are serialised by a striped lock around the
//! read-check-write; different keys commit concurrently, so RocksDB's group commit lets
//! concurrent synced writers share one WAL fsync.

use std::path::Path;
use std::sync::{Mutex, RwLock};

use rocksdb::{
    ColumnFamily, ColumnFamilyDescriptor, MergeOperands, Options, WriteBatch, WriteOptions, DB,
};

use super::codec::{self, decode, encode, object_key, prefix_successor, version_key};
use super::gens::CacheKind;
use super::inline;
use super::versions::new_version_id_after;
use super::{
    counted, BlobLedger, BucketId, BucketRecord, BucketStore, Committed, Deleted, GcEntry,
    ListEntry, ListPage, ListQuery, ListedObject, NewBlob, ObjectRecord, ObjectStore, Usage,
    VersionGuard, VersionPage, VersionQuery, VersionRef, Versioning, WriteCondition,
};
use crate::error::{Error, Result};

const CF_BUCKETS: &str = "buckets";
pub(super) const CF_OBJECTS: &str = "objects";
const CF_USAGE: &str = "usage";
pub(super) const CF_STAGED: &str = "staged";
pub(super) const CF_GC: &str = "gc";
pub(super) const CF_UPLOADS: &str = "uploads";
pub(super) const CF_PARTS: &str = "parts";
pub(super) const CF_KEYS: &str = "access_keys";
pub(super) const CF_IDEMPOTENCY: &str = "idempotency";
pub(super) const CF_BLOB_SUMS: &str = "blob_sums";
pub(super) const CF_VERSIONS: &str = "versions";
const CF_INLINE: &str = "inline";
pub(super) const CF_KMS_KEYS: &str = "kms_keys";
/// Every column family, for figures summed over them.
pub(super) const ALL_CFS: [&str; 13] = [
    CF_BUCKETS,
    CF_OBJECTS,
    CF_USAGE,
    CF_STAGED,
    CF_GC,
    CF_UPLOADS,
    CF_PARTS,
    CF_KEYS,
    CF_IDEMPOTENCY,
    CF_BLOB_SUMS,
    CF_VERSIONS,
    CF_INLINE,
    CF_KMS_KEYS,
];
const STRIPES: usize = 256;

pub struct RocksMeta {
    pub(super) db: DB,
    sync: bool,
    stripes: Vec<Mutex<()>>,
    /// Object commits hold it shared; bucket create/delete hold it exclusively, so a bucket
    /// cannot be deleted between an object commit's bucket check and its write.
    pub(super) bucket_gate: RwLock<()>,
    /// Serialises changes to bucket records (create, configure, delete), and the minting of
    /// access and KMS keys, without holding up
    /// object commits: configuring a bucket never waits for, or blocks, its writers.
    pub(super) bucket_records: Mutex<()>,
    pub(super) gens: super::gens::Generations,
    /// Idempotency keys whose first request is running.
    pub(super) idempotency_claims: Mutex<std::collections::HashMap<Vec<u8>, [u8; 16]>>,
    /// Holds the engine's counters (write stalls) that `/storage/metrics` reports.
    pub(super) opts: Options,
}

fn usage_merge(_key: &[u8], existing: Option<&[u8]>, operands: &MergeOperands) -> Option<Vec<u8>> {
    let mut total = existing.map(codec::decode_usage).unwrap_or_default();
    for op in operands {
        let d = codec::decode_usage(op);
        total.bytes += d.bytes;
        total.objects += d.objects;
    }
    Some(codec::encode_usage(total).to_vec())
}

pub(super) fn lock_err<T>(_: T) -> Error {
    Error::Internal("a metadata lock was poisoned by a panic".into())
}

use crate::clock::now_ms;

/// Listing pages up to this many entries fill the block cache.
const SHORT_PAGE: usize = 100;

/// The block cache all column families share.
const BLOCK_CACHE: usize = 8 << 20;
/// One column family's memtable is flushed at this size...
const MEMTABLE: usize = 4 << 20;
/// ...and the largest ones once all of them together hold this much.
const MEMTABLES: usize = 12 << 20;
/// Write-ahead log files kept for reuse once their memtables are flushed.
const RECYCLED_LOGS: usize = 4;

impl RocksMeta {
    /// Opens (creating if needed) the index at `path`. `sync` makes every commit durable
    /// against power loss before it returns.
    pub fn open(path: &Path, sync: bool) -> Result<Self> {
        let (opts, cfs) = Self::descriptors();
        let db = DB::open_cf_descriptors(&opts, path, cfs)?;
        Ok(Self::around(db, sync, opts))
    }

    fn around(db: DB, sync: bool, opts: Options) -> Self {
        Self {
            db,
            sync,
            stripes: (0..STRIPES).map(|_| Mutex::new(())).collect(),
            bucket_gate: RwLock::new(()),
            bucket_records: Mutex::new(()),
            gens: super::gens::Generations::local(),
            idempotency_claims: Mutex::default(),
            opts,
        }
    }

    /// The sequence number of the last write: it moves with every change to the index.
    pub fn sequence(&self) -> u64 {
        self.db.latest_sequence_number()
    }

    fn descriptors() -> (Options, Vec<ColumnFamilyDescriptor>) {
        // Memory is bounded here, not by RocksDB's defaults (each column family with its own
        // 8 MiB block cache and up to two 64 MiB memtables): one block cache for all, and
        // memtables flushed once together they hold MEMTABLES bytes.
        let cache = rocksdb::Cache::new_lru_cache(BLOCK_CACHE);
        let mut table = rocksdb::BlockBasedOptions::default();
        table.set_block_cache(&cache);
        // Point reads of keys that are not there (a PUT of a new key, a HEAD of a missing one)
        // skip the files that cannot hold them.
        table.set_bloom_filter(10.0, false);
        table.set_cache_index_and_filter_blocks(true);
        table.set_pin_l0_filter_and_index_blocks_in_cache(true);
        // A file's index and filter are cut into 4 KiB partitions under a small top-level
        // index that stays pinned. Whole, they grow with the file (a 46 MB file of a
        // million-key bucket has a 1.7 MB index), and a listing page, which does not fill the
        // cache, read and decompressed every level's whole index at each seek; point reads
        // churned the 8 MiB cache with them.
        table.set_index_type(rocksdb::BlockBasedIndexType::TwoLevelIndexSearch);
        table.set_partition_filters(true);
        table.set_metadata_block_size(4096);
        table.set_pin_top_level_index_and_filter(true);
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        opts.set_compression_type(rocksdb::DBCompressionType::Lz4);
        opts.increase_parallelism(2);
        // A synced commit into a log file that grows must also write the file's new size
        // (a second device round trip on ext4 per fdatasync); a recycled log file is
        // overwritten in place.
        opts.set_recycle_log_file_num(RECYCLED_LOGS);
        // A log file is released (and so recycled) once every column family it holds writes
        // for has flushed; the ones that fill slowly (object records, usage) would hold old
        // logs for good, so past this much log they are flushed too.
        opts.set_max_total_wal_size(MEMTABLES as u64);
        opts.set_db_write_buffer_size(MEMTABLES);
        opts.set_write_buffer_size(MEMTABLE);
        opts.set_block_based_table_factory(&table);
        // Counters only (stall time among them): the timers and histograms of the richer
        // levels cost every read and write a clock call.
        opts.enable_statistics();
        opts.set_statistics_level(rocksdb::statistics::StatsLevel::ExceptHistogramOrTimers);
        // Object bytes: a small memtable keeps the server's memory bounded however many small
        // objects arrive (the default, 64 MiB, would be most of its footprint), and no
        // compression (object bytes are rarely worth the CPU).
        let mut inline_opts = opts.clone();
        inline_opts.set_compression_type(rocksdb::DBCompressionType::None);
        let mut usage_opts = opts.clone();
        usage_opts.set_merge_operator_associative("usage_add", usage_merge);
        let cfs = vec![
            ColumnFamilyDescriptor::new(CF_BUCKETS, opts.clone()),
            ColumnFamilyDescriptor::new(CF_OBJECTS, opts.clone()),
            ColumnFamilyDescriptor::new(CF_USAGE, usage_opts),
            ColumnFamilyDescriptor::new(CF_STAGED, opts.clone()),
            ColumnFamilyDescriptor::new(CF_GC, opts.clone()),
            ColumnFamilyDescriptor::new(CF_UPLOADS, opts.clone()),
            ColumnFamilyDescriptor::new(CF_PARTS, opts.clone()),
            ColumnFamilyDescriptor::new(CF_KEYS, opts.clone()),
            ColumnFamilyDescriptor::new(
                CF_IDEMPOTENCY,
                super::rocks_access::idempotency_options(&opts),
            ),
            ColumnFamilyDescriptor::new(CF_BLOB_SUMS, opts.clone()),
            ColumnFamilyDescriptor::new(CF_VERSIONS, opts.clone()),
            ColumnFamilyDescriptor::new(CF_INLINE, inline_opts),
            ColumnFamilyDescriptor::new(CF_KMS_KEYS, opts.clone()),
        ];
        (opts, cfs)
    }

    /// Opens the index read-only: a snapshot as of now, which needs no lock, so it can be
    /// taken while a server works on the same index (for `scrub`).
    pub fn open_read_only(path: &Path) -> Result<Self> {
        let (opts, cfs) = Self::descriptors();
        // An index the current version has not opened yet lacks the newer column families.
        let existing = DB::list_cf(&opts, path)?;
        let cfs = cfs
            .into_iter()
            .filter(|d| existing.iter().any(|e| e == d.name()));
        let db = DB::open_cf_descriptors_read_only(&opts, path, cfs, false)?;
        Ok(Self::around(db, false, opts))
    }

    pub(super) fn cf(&self, name: &str) -> Result<&ColumnFamily> {
        self.db
            .cf_handle(name)
            .ok_or_else(|| Error::Meta(format!("column family `{name}` is missing")))
    }

    pub(super) fn write(&self, batch: WriteBatch) -> Result<()> {
        let mut wo = WriteOptions::default();
        wo.set_sync(self.sync);
        self.db.write_opt(batch, &wo)?;
        Ok(())
    }

    /// An iterator over the keys of `cf` that start with `prefix`. RocksDB is told where they
    /// end: an iterator stepping past the last of them would otherwise walk every deleted key
    /// that follows (after a mass delete in the next bucket, 100,000 tombstones per page).
    pub(super) fn prefix_iter(
        &self,
        cf: &str,
        prefix: &[u8],
        page: usize,
    ) -> Result<rocksdb::DBRawIteratorWithThreadMode<'_, DB>> {
        let mut opts = rocksdb::ReadOptions::default();
        if let Some(end) = prefix_successor(prefix) {
            opts.set_iterate_upper_bound(end);
        }
        // A long page reads each block once: caching its blocks would only evict the index,
        // filters and hot records that point reads need. Short pages are cached: clients
        // that check for a file by listing one key (S3A, s3fs) repeat the same read.
        opts.fill_cache(page <= SHORT_PAGE);
        Ok(self.db.raw_iterator_cf_opt(self.cf(cf)?, opts))
    }

    pub(super) fn stripe(&self, bucket: &BucketId, key: &str) -> &Mutex<()> {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        bucket.hash(&mut h);
        key.hash(&mut h);
        &self.stripes[(h.finish() as usize) % STRIPES]
    }

    /// The bucket named `rec.name` must still be the one with `rec.id`; returns its record as
    /// it is now (its versioning state may have changed since `rec` was read).
    pub(super) fn check_bucket_live(&self, rec: &BucketRecord) -> Result<BucketRecord> {
        match self.get_bucket(&rec.name)? {
            Some(b) if b.id == rec.id => Ok(b),
            _ => Err(Error::NoSuchBucket(rec.name.clone())),
        }
    }

    pub(super) fn queue_blobs(&self, batch: &mut WriteBatch, rec: &ObjectRecord) -> Result<()> {
        let gc = self.cf(CF_GC)?;
        let ts = now_ms();
        for blob in rec.blob_ids() {
            batch.put_cf(gc, codec::gc_key(ts, blob), []);
        }
        Ok(())
    }

    /// Writes `rec` as the current version of `key` over `old` into the batch, as the bucket's
    /// versioning state says: unversioned, `old` goes (its blobs queued); enabled, `rec` gets a
    /// version id and `old` stays as a noncurrent version; suspended, `rec` is the null
    /// version and any other null version of the key goes. Returns the record as written,
    /// the usage change and whether blobs were queued.
    pub(super) fn replace_object(
        &self,
        batch: &mut WriteBatch,
        bucket: &BucketRecord,
        key: &str,
        rec: &ObjectRecord,
        old: Option<&ObjectRecord>,
    ) -> Result<(ObjectRecord, Usage, bool)> {
        let mut rec = rec.clone();
        rec.version_id = match bucket.versioning {
            Versioning::Enabled => Some(new_version_id_after(old)),
            Versioning::Unversioned | Versioning::Suspended => None,
        };
        if let (Some(lock), false, None) = (&bucket.object_lock, rec.delete_marker, rec.retention) {
            rec.retention = lock.retention_for(rec.last_modified_ms);
        }
        batch.put_cf(
            self.cf(CF_OBJECTS)?,
            object_key(&bucket.id, key),
            encode(&rec)?,
        );
        let mut delta = counted(&rec);
        let mut freed = false;
        if let Some(old) = old {
            let keep = match bucket.versioning {
                Versioning::Unversioned => false,
                Versioning::Enabled => true,
                Versioning::Suspended => old.version_id.is_some(),
            };
            if keep {
                self.demote(batch, &bucket.id, key, old)?;
            } else {
                self.queue_blobs(batch, old)?;
                delta = delta - counted(old);
                freed |= !old.segments.is_empty();
            }
        }
        if bucket.versioning == Versioning::Suspended {
            // The null version is unique: a new one replaces an older one wherever it lies.
            for (sort, v) in self.noncurrent(&bucket.id, key)? {
                if v.version_id.is_none() {
                    batch.delete_cf(self.cf(CF_VERSIONS)?, version_key(&bucket.id, key, &sort));
                    self.queue_blobs(batch, &v)?;
                    delta = delta - counted(&v);
                    freed |= !v.segments.is_empty();
                }
            }
        }
        Ok((rec, delta, freed))
    }

    pub(super) fn usage_delta(
        &self,
        batch: &mut WriteBatch,
        bucket: &BucketId,
        delta: Usage,
    ) -> Result<()> {
        if delta != Usage::default() {
            batch.merge_cf(self.cf(CF_USAGE)?, bucket.0, codec::encode_usage(delta));
        }
        Ok(())
    }

    /// Adds what the index keeps of a new blob to the commit that makes it part of an object.
    pub(super) fn keep_new_blob(
        &self,
        batch: &mut WriteBatch,
        blob: Option<NewBlob<'_>>,
    ) -> Result<()> {
        match blob {
            Some(NewBlob::Inline { blob, bytes }) => {
                batch.put_cf(self.cf(CF_INLINE)?, blob.as_bytes(), inline::frame(bytes))
            }
            Some(NewBlob::Sums { blob, sums }) => {
                batch.put_cf(self.cf(CF_BLOB_SUMS)?, blob.as_bytes(), sums.encode())
            }
            None => {}
        }
        Ok(())
    }
}

impl BucketStore for RocksMeta {
    fn get_bucket(&self, name: &str) -> Result<Option<BucketRecord>> {
        match self
            .db
            .get_pinned_cf(self.cf(CF_BUCKETS)?, name.as_bytes())?
        {
            Some(v) => Ok(Some(decode(&v)?)),
            None => Ok(None),
        }
    }

    fn list_buckets(&self) -> Result<Vec<BucketRecord>> {
        let mut out = Vec::new();
        for item in self
            .db
            .iterator_cf(self.cf(CF_BUCKETS)?, rocksdb::IteratorMode::Start)
        {
            let (_, v) = item?;
            out.push(decode(&v)?);
        }
        Ok(out)
    }

    fn insert_bucket(&self, rec: &BucketRecord) -> Result<Option<BucketRecord>> {
        let _records = self.bucket_records.lock().map_err(lock_err)?;
        if let Some(existing) = self.get_bucket(&rec.name)? {
            return Ok(Some(existing));
        }
        let mut batch = WriteBatch::default();
        batch.put_cf(self.cf(CF_BUCKETS)?, rec.name.as_bytes(), encode(rec)?);
        self.write(batch)?;
        Ok(None)
    }

    fn update_bucket(
        &self,
        name: &str,
        id: &BucketId,
        change: &mut dyn FnMut(&mut BucketRecord) -> Result<()>,
    ) -> Result<BucketRecord> {
        let _records = self.bucket_records.lock().map_err(lock_err)?;
        let mut rec = match self.get_bucket(name)? {
            Some(b) if b.id == *id => b,
            _ => return Err(Error::NoSuchBucket(name.to_owned())),
        };
        change(&mut rec)?;
        let mut batch = WriteBatch::default();
        batch.put_cf(self.cf(CF_BUCKETS)?, rec.name.as_bytes(), encode(&rec)?);
        self.write(batch)?;
        self.gens.bump(CacheKind::Buckets);
        Ok(rec)
    }

    fn delete_bucket(&self, name: &str, id: &BucketId) -> Result<()> {
        let _records = self.bucket_records.lock().map_err(lock_err)?;
        let _gate = self.bucket_gate.write().map_err(lock_err)?;
        let rec = self
            .get_bucket(name)?
            .filter(|rec| rec.id == *id)
            .ok_or_else(|| Error::NoSuchBucket(name.to_owned()))?;
        // In-progress multipart uploads hold blobs too: they must be aborted first.
        for cf in [CF_OBJECTS, CF_UPLOADS] {
            let mut it = self.db.raw_iterator_cf(self.cf(cf)?);
            it.seek(rec.id.0);
            if it.valid() && it.key().is_some_and(|k| k.starts_with(&rec.id.0)) {
                return Err(Error::BucketNotEmpty(name.to_owned()));
            }
            it.status()?;
        }
        let mut batch = WriteBatch::default();
        batch.delete_cf(self.cf(CF_BUCKETS)?, name.as_bytes());
        batch.delete_cf(self.cf(CF_USAGE)?, rec.id.0);
        // The bucket's keys die with it; a new bucket of the same name starts with none.
        self.delete_bucket_keys(&mut batch, &rec.id)?;
        self.write(batch)?;
        self.gens.bump(CacheKind::Buckets);
        self.gens.bump(CacheKind::Keys);
        Ok(())
    }

    fn usage(&self, bucket: &BucketId) -> Result<Usage> {
        Ok(self
            .db
            .get_pinned_cf(self.cf(CF_USAGE)?, bucket.0)?
            .map(|v| codec::decode_usage(&v))
            .unwrap_or_default())
    }
}

impl ObjectStore for RocksMeta {
    fn get_object(&self, bucket: &BucketId, key: &str) -> Result<Option<ObjectRecord>> {
        match self
            .db
            .get_pinned_cf(self.cf(CF_OBJECTS)?, object_key(bucket, key))?
        {
            Some(v) => Ok(Some(decode(&v)?)),
            None => Ok(None),
        }
    }

    fn put_object_with(
        &self,
        bucket: &BucketRecord,
        key: &str,
        rec: &ObjectRecord,
        cond: &WriteCondition,
        blob: Option<NewBlob<'_>>,
    ) -> Result<Committed> {
        let _gate = self.bucket_gate.read().map_err(lock_err)?;
        let live = self.check_bucket_live(bucket)?;
        let _key_lock = self.stripe(&bucket.id, key).lock().map_err(lock_err)?;
        let old = self.get_object(&bucket.id, key)?;
        cond.check(old.as_ref())?;
        let mut batch = WriteBatch::default();
        let staged = self.cf(CF_STAGED)?;
        for blob in rec.blob_ids() {
            if !inline::is_inline(blob) {
                batch.delete_cf(staged, blob.as_bytes());
            }
        }
        self.keep_new_blob(&mut batch, blob)?;
        let (rec, delta, freed) = self.replace_object(&mut batch, &live, key, rec, old.as_ref())?;
        self.usage_delta(&mut batch, &bucket.id, delta)?;
        self.write(batch)?;
        Ok(Committed { rec, freed })
    }

    fn delete_object(
        &self,
        bucket: &BucketRecord,
        key: &str,
        cond: &WriteCondition,
    ) -> Result<Deleted> {
        let _gate = self.bucket_gate.read().map_err(lock_err)?;
        let live = match self.check_bucket_live(bucket) {
            Ok(b) => b,
            // A bucket deleted meanwhile holds nothing to delete.
            Err(Error::NoSuchBucket(_)) => return Ok(Deleted::default()),
            Err(e) => return Err(e),
        };
        let _key_lock = self.stripe(&bucket.id, key).lock().map_err(lock_err)?;
        let old = self.get_object(&bucket.id, key)?;
        if *cond != WriteCondition::Always {
            cond.check(old.as_ref())?;
        }
        let mut batch = WriteBatch::default();
        if live.versioning.is_unversioned() {
            let Some(old) = old else {
                return Ok(Deleted::default());
            };
            batch.delete_cf(self.cf(CF_OBJECTS)?, object_key(&bucket.id, key));
            self.queue_blobs(&mut batch, &old)?;
            self.usage_delta(&mut batch, &bucket.id, Usage::default() - counted(&old))?;
            self.write(batch)?;
            return Ok(Deleted {
                removed: Some(old),
                marker: None,
            });
        }
        // Versioned: a delete marker becomes the current version (even of a missing key).
        let marker = ObjectRecord::new_delete_marker(None);
        let (marker, delta, _) =
            self.replace_object(&mut batch, &live, key, &marker, old.as_ref())?;
        self.usage_delta(&mut batch, &bucket.id, delta)?;
        self.write(batch)?;
        Ok(Deleted {
            removed: None,
            marker: Some(marker),
        })
    }

    fn delete_version(
        &self,
        bucket: &BucketRecord,
        key: &str,
        v: &VersionRef,
        guard: &VersionGuard,
    ) -> Result<Deleted> {
        self.remove_version(bucket, key, v, guard)
    }

    fn update_version(
        &self,
        bucket: &BucketRecord,
        key: &str,
        v: Option<&VersionRef>,
        change: &mut dyn FnMut(&mut ObjectRecord) -> Result<()>,
    ) -> Result<ObjectRecord> {
        self.edit_version(bucket, key, v, change)
    }

    fn get_version(
        &self,
        bucket: &BucketId,
        key: &str,
        v: &VersionRef,
    ) -> Result<Option<ObjectRecord>> {
        self.find_version(bucket, key, v)
            .map(|found| found.map(|(_, rec)| rec))
    }

    fn list_versions(&self, bucket: &BucketId, q: &VersionQuery<'_>) -> Result<VersionPage> {
        self.versions_page(bucket, q)
    }

    fn list_objects(&self, bucket: &BucketId, q: &ListQuery<'_>) -> Result<ListPage> {
        let base = bucket.0;
        let full_prefix = object_key(bucket, q.prefix);
        // Everything in this bucket sorts below the successor of its id.
        let end = prefix_successor(&full_prefix);
        let mut start = full_prefix.clone();
        if let Some(after) = q.after {
            let after_key = object_key(bucket, after);
            if after_key >= start {
                // Strictly greater than `after`: its immediate successor is `after` + 0x00.
                start = after_key;
                start.push(0);
            }
        }
        let mut page = ListPage::default();
        if q.max == 0 {
            return Ok(page);
        }
        let mut it = self.prefix_iter(CF_OBJECTS, &full_prefix, q.max)?;
        it.seek(&start);
        let mut last: Option<String> = None;
        loop {
            let (k, v) = match (it.key(), it.value()) {
                (Some(k), Some(v)) if it.valid() => (k, v),
                _ => break,
            };
            if !k.starts_with(&full_prefix) || end.as_deref().is_some_and(|e| k >= e) {
                break;
            }
            let key = std::str::from_utf8(&k[base.len()..])
                .map_err(|_| Error::Meta("stored key is not UTF-8".into()))?;
            if page.entries.len() == q.max {
                page.next_after = last;
                return Ok(page);
            }
            let rest = &key[q.prefix.len()..];
            let common = q
                .delimiter
                .filter(|d| !d.is_empty())
                .and_then(|d| rest.find(d).map(|i| &key[..q.prefix.len() + i + d.len()]));
            match common {
                Some(cp) => {
                    let cp = cp.to_owned();
                    let skip_to = prefix_successor(&object_key(bucket, &cp));
                    // A resume point inside this prefix means it was already returned.
                    if !q.after.is_some_and(|a| a.starts_with(cp.as_str())) {
                        page.entries.push(ListEntry::CommonPrefix(cp.clone()));
                        last = Some(cp);
                    }
                    match skip_to {
                        Some(s) => it.seek(&s),
                        None => break,
                    }
                }
                None => {
                    let rec: ListedObject = decode(v)?;
                    if !rec.delete_marker {
                        page.entries.push(ListEntry::Object(key.to_owned(), rec));
                    }
                    // One buffer for the resume point, not a new string per record.
                    match &mut last {
                        Some(l) => {
                            l.clear();
                            l.push_str(key);
                        }
                        None => last = Some(key.to_owned()),
                    }
                    it.next();
                }
            }
        }
        it.status()?;
        Ok(page)
    }
}

impl BlobLedger for RocksMeta {
    fn stage_blob(&self, blob: &str) -> Result<()> {
        let mut batch = WriteBatch::default();
        batch.put_cf(self.cf(CF_STAGED)?, blob.as_bytes(), now_ms().to_be_bytes());
        // Synced (under strict durability) before any byte of the blob is written: a power
        // loss after the blob's fsync but before its commit must still find the marker, or the
        // blob would leak.
        self.write(batch)
    }

    fn note_blob_upload(&self, blob: &str, upload: &str) -> Result<()> {
        let mut value = now_ms().to_be_bytes().to_vec();
        value.extend_from_slice(upload.as_bytes());
        let mut batch = WriteBatch::default();
        batch.put_cf(self.cf(CF_STAGED)?, blob.as_bytes(), value);
        self.write(batch)
    }

    fn abandon_blob(&self, blob: &str) -> Result<()> {
        let mut batch = WriteBatch::default();
        batch.delete_cf(self.cf(CF_STAGED)?, blob.as_bytes());
        batch.put_cf(self.cf(CF_GC)?, codec::gc_key(now_ms(), blob), []);
        self.db.write(batch)?;
        Ok(())
    }

    fn claim_deletes(
        &self,
        grace_ms: i64,
        after: Option<&GcEntry>,
        limit: usize,
    ) -> Result<Vec<GcEntry>> {
        // Only this process sweeps, and its readers' leases are its own.
        self.pending_deletes(now_ms().saturating_sub(grace_ms), after, limit)
    }

    fn unclaim_deletes(&self, _blobs: &[String]) -> Result<()> {
        Ok(())
    }

    fn is_shared(&self) -> bool {
        false
    }

    fn lease_blobs(&self, _blobs: &[String], _ttl_ms: i64) -> Result<()> {
        Ok(())
    }

    fn release_blob_leases(&self, _blobs: &[String]) -> Result<()> {
        Ok(())
    }

    fn pending_deletes(
        &self,
        until_ms: i64,
        after: Option<&GcEntry>,
        limit: usize,
    ) -> Result<Vec<GcEntry>> {
        let mut out = Vec::new();
        let from = after.map(|e| {
            let mut k = codec::gc_key(e.queued_ms, &e.blob);
            k.push(0);
            k
        });
        let mode = match &from {
            Some(k) => rocksdb::IteratorMode::From(k, rocksdb::Direction::Forward),
            None => rocksdb::IteratorMode::Start,
        };
        for item in self.db.iterator_cf(self.cf(CF_GC)?, mode) {
            let (k, v) = item?;
            let Some((queued_ms, blob)) = codec::parse_gc_key(&k) else {
                continue;
            };
            if queued_ms > until_ms || out.len() == limit {
                break;
            }
            let upload = (!v.is_empty()).then(|| String::from_utf8_lossy(&v).into_owned());
            out.push(GcEntry {
                blob,
                queued_ms,
                upload,
            });
        }
        Ok(out)
    }

    fn deleted(&self, entries: &[GcEntry]) -> Result<()> {
        let mut batch = WriteBatch::default();
        for entry in entries {
            batch.delete_cf(self.cf(CF_GC)?, codec::gc_key(entry.queued_ms, &entry.blob));
            if inline::is_inline(&entry.blob) {
                batch.delete_cf(self.cf(CF_INLINE)?, entry.blob.as_bytes());
            } else {
                batch.delete_cf(self.cf(CF_BLOB_SUMS)?, entry.blob.as_bytes());
            }
        }
        // Unsynced: an entry whose removal a crash loses is swept again.
        self.db.write(batch)?;
        Ok(())
    }

    fn get_inline(&self, blob: &str) -> Result<Option<Vec<u8>>> {
        // Absent only from a read-only view of an index older than inline objects.
        let Some(cf) = self.db.cf_handle(CF_INLINE) else {
            return Ok(None);
        };
        Ok(self.db.get_cf(cf, blob.as_bytes())?)
    }

    fn blob_sums(&self, blob: &str) -> Result<Option<crate::integrity::ChunkSums>> {
        // Absent only from a read-only view of an index older than checksums.
        let Some(cf) = self.db.cf_handle(CF_BLOB_SUMS) else {
            return Ok(None);
        };
        match self.db.get_pinned_cf(cf, blob.as_bytes())? {
            Some(v) => crate::integrity::ChunkSums::decode(&v)
                .map(Some)
                .ok_or_else(|| {
                    Error::Meta(format!("chunk checksums of blob {blob} are unreadable"))
                }),
            None => Ok(None),
        }
    }

    fn staged_blobs(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for item in self
            .db
            .iterator_cf(self.cf(CF_STAGED)?, rocksdb::IteratorMode::Start)
        {
            let (k, _) = item?;
            out.push(String::from_utf8_lossy(&k).into_owned());
        }
        Ok(out)
    }

    fn sync(&self) -> Result<()> {
        self.db.flush_wal(true)?;
        Ok(())
    }

    fn recover_staged(&self) -> Result<usize> {
        let mut batch = WriteBatch::default();
        let staged = self.cf(CF_STAGED)?;
        let gc = self.cf(CF_GC)?;
        let mut n = 0;
        for item in self.db.iterator_cf(staged, rocksdb::IteratorMode::Start) {
            let (k, v) = item?;
            batch.delete_cf(staged, &k);
            // A marker is the staging time, then the id of a remote upload if one was begun.
            let upload = v.get(8..).unwrap_or_default();
            batch.put_cf(gc, codec::gc_key(0, &String::from_utf8_lossy(&k)), upload);
            n += 1;
        }
        self.write(batch)?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket(name: &str) -> BucketRecord {
        crate::meta::fixtures::bucket(name)
    }

    fn obj(size: u64, blob: &str) -> ObjectRecord {
        let mut rec = crate::meta::fixtures::object(size, blob);
        rec.last_modified_ms = 0;
        rec
    }

    fn open() -> (tempfile::TempDir, RocksMeta) {
        let dir = tempfile::tempdir().unwrap();
        let m = RocksMeta::open(dir.path(), false).unwrap();
        (dir, m)
    }

    /// A seek reads one small index partition per file, not the file's whole index (which
    /// grows with the file: reads in a restarted million-key index were 7 times slower).
    #[test]
    fn object_index_files_have_partitioned_indexes() {
        let (_d, m) = open();
        let b = bucket("b");
        m.insert_bucket(&b).unwrap();
        for i in 0..6000 {
            let key = format!("some/longer/prefix/key-{i:08}");
            m.put_object(&b, &key, &obj(1, &key), &WriteCondition::Always)
                .unwrap();
        }
        let cf = m.cf(CF_OBJECTS).unwrap();
        m.db.flush_cf(cf).unwrap();
        let props =
            m.db.property_value_cf(cf, "rocksdb.aggregated-table-properties")
                .unwrap()
                .unwrap();
        let partitions: u64 = props
            .split(';')
            .find_map(|p| p.trim().strip_prefix("# index partitions="))
            .unwrap_or_else(|| panic!("no partition count in {props}"))
            .trim()
            .parse()
            .unwrap();
        assert!(partitions >= 2, "{props}");
    }

    #[test]
    fn staged_blobs_are_recovered_into_gc() {
        let (_d, m) = open();
        m.stage_blob("s1").unwrap();
        m.stage_blob("s2").unwrap();
        m.stage_blob("s3").unwrap();
        m.note_blob_upload("s3", "upload-of-s3").unwrap();
        m.abandon_blob("s2").unwrap();
        assert_eq!(m.recover_staged().unwrap(), 2);
        let gc = m.pending_deletes(i64::MAX, None, 10).unwrap();
        let names: Vec<&str> = gc.iter().map(|e| e.blob.as_str()).collect();
        // Recovered blobs are queued as oldest: nothing can be reading them.
        assert_eq!(names, ["s1", "s3", "s2"]);
        // A remote upload a crash cut off goes with its blob, to be aborted.
        let uploads: Vec<Option<&str>> = gc.iter().map(|e| e.upload.as_deref()).collect();
        assert_eq!(uploads, [None, Some("upload-of-s3"), None]);
        m.deleted(&gc[1..2]).unwrap();
        m.deleted(&gc[..1]).unwrap();
        let left = m.pending_deletes(i64::MAX, None, 10).unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].blob, "s2");
    }
}

/// The backend contract (`meta::contract`), on RocksDB. One process owns the index, so the
/// "second handle" of the contract's races is the same one.
#[cfg(test)]
mod contract_tests {
    use super::RocksMeta;
    use crate::meta::contract::Opened;

    fn open() -> Opened<RocksMeta> {
        let dir = tempfile::tempdir().unwrap();
        Opened {
            store: std::sync::Arc::new(RocksMeta::open(dir.path(), false).unwrap()),
            url: String::new(),
            dir: Some(dir),
        }
    }

    fn second(m: &Opened<RocksMeta>) -> std::sync::Arc<RocksMeta> {
        m.store.clone()
    }

    crate::meta::contract::access_contract!(open(), second);
    crate::meta::contract::bucket_contract!(open(), second);
    crate::meta::contract::object_contract!(open());
}

impl RocksMeta {
    /// Up to `limit` raw entries of the column family `cf` after the key `after`, in key
    /// order: what `cnx-storage migrate` copies. Column families: buckets, usage,
    /// access_keys, kms_keys, objects, versions, uploads, parts, blob_sums, inline, gc,
    /// idempotency (staged blobs are queued first: see [`BlobLedger::recover_staged`]).
    pub fn export(
        &self,
        cf: &str,
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut it = self.db.raw_iterator_cf(self.cf(cf)?);
        match after {
            Some(k) => {
                it.seek(k);
                if it.key() == Some(k) {
                    it.next();
                }
            }
            None => it.seek_to_first(),
        }
        let mut out = Vec::new();
        while out.len() < limit {
            let (Some(k), Some(v)) = (it.key(), it.value()) else {
                break;
            };
            out.push((k.to_vec(), v.to_vec()));
            it.next();
        }
        it.status()?;
        Ok(out)
    }
}

impl super::TaskLeases for RocksMeta {
    fn try_lead(&self, _task: &str, _hold_ms: i64) -> Result<Option<i64>> {
        // Only this process works on the index.
        Ok(None)
    }

    fn renew_lead(&self, _task: &str, _hold_ms: i64) -> Result<bool> {
        Ok(true)
    }
}
