//! The storage domain: buckets and objects, their invariants and the write order.
//!
//! A write is: stage the blob id in the index → stream the blob → commit the metadata in one
//! batch (which un-stages the blob and queues the replaced one) → delete replaced blobs. If the
//! request fails or is dropped before commit, `StagedBlob`'s drop deletes the blob; if the whole
//! process dies, start-up finds the id still staged and deletes it.
//!
//! An object of at most `inline_max_bytes` skips all of that: its bytes are held in memory
//! and committed in the record's own batch (see [`crate::meta::inline`]).

mod leases;
pub mod multipart;
pub mod naming;
mod replies;
pub mod tagging;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};

use crate::blob::{BlobStore, BlobWriter, Written};
use crate::checksum::{BodyHasher, ChecksumAlgorithm, ObjectDigests};
use crate::cipher::{DataKey, Decryptor, Encryptor};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::integrity::{ChunkSummer, ChunkSums, Verifier};
use crate::meta::acl::NewBucketAccess;
use crate::meta::lifecycle::LifecycleRule;
use crate::meta::{
    BucketId, BucketRecord, CorsRecord, Deleted, GcEntry, ListPage, ListQuery, MetaStore, NewBlob,
    ObjectRecord, Segment, StoredHeaders, Usage, VersionPage, VersionQuery, VersionRef, Versioning,
    WriteCondition, RECORD_VERSION,
};
use crate::meta::{ObjectLockConfig, Retention, Tags, VersionGuard};

/// How long a replaced blob outlives its object, so that reads which started before the
/// replacement can finish.
const GC_GRACE: Duration = Duration::from_secs(10);
/// The grace when other gateways sweep the index too: their sweepers know this process's
/// reads only once leased in the index, which a read is by [`leases::LEASE_AFTER`] plus a
/// round of [`leases::KEEP_EVERY`]; the rest is margin for the database's round trips.
const SHARED_GC_GRACE: Duration = Duration::from_secs(20);
/// Queued blobs handled per sweep pass.
const SWEEP_BATCH: usize = 1000;

#[derive(Clone)]
pub struct Store {
    meta: Arc<dyn MetaStore>,
    blobs: BlobStore,
    counts: Arc<Counts>,
    /// Blobs being read right now: the sweeper leaves them for a later pass.
    leases: leases::ReadLeases,
    pub(crate) gc_kick: Arc<tokio::sync::Notify>,
    /// Objects up to this size are kept in the index.
    inline_max: u64,
}

use crate::clock::now_ms;
use std::sync::atomic::Ordering::Relaxed;

/// Counts since start-up, for `/health` and `/storage/metrics`.
#[derive(Debug, Default)]
struct Counts {
    /// Reads refused because a blob's bytes failed their checksums (or were missing).
    corrupt_reads: std::sync::atomic::AtomicU64,
    blobs_swept: std::sync::atomic::AtomicU64,
}

impl Store {
    /// Opens the index and blob backend named by `cfg`, recovers what a crash left staged, and
    /// starts the background sweeper of replaced blobs.
    #[cfg(feature = "rocksdb")]
    pub async fn open(cfg: &Config) -> Result<Self> {
        crate::credentials::secure_data_dir(&cfg.data_dir)?;
        let (c, durability) = (cfg.clone(), cfg.durability);
        let meta = tokio::task::spawn_blocking(move || crate::meta::open(&c, durability)).await??;
        if matches!(cfg.blob, crate::config::BlobBackend::Local) {
            // Staging files older than this process are writes a crash cut off. The walk
            // visits every blob file, so it runs beside serving rather than before it.
            let (dir, started) = (cfg.blob_dir(), std::time::SystemTime::now());
            tokio::task::spawn_blocking(move || {
                let removed = remove_staging_files(&dir, started);
                if removed > 0 {
                    tracing::info!(
                        files = removed,
                        "removed blob files a crash left half-written"
                    );
                }
            });
        }
        let blobs = crate::blob::backend::build(cfg)?;
        Ok(Self::with_parts(meta, blobs)
            .await
            .with_inline_max(cfg.inline_max_bytes))
    }

    pub async fn with_parts(meta: Arc<dyn MetaStore>, blobs: BlobStore) -> Self {
        let store = Self {
            meta,
            blobs,
            counts: Arc::default(),
            leases: leases::ReadLeases::default(),
            gc_kick: Arc::new(tokio::sync::Notify::new()),
            inline_max: crate::config::DEFAULT_INLINE_MAX,
        };
        match store.blocking(|m| m.recover_staged()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                blobs = n,
                "queued blobs of interrupted uploads for deletion"
            ),
            Err(e) => tracing::warn!(error = %e, "could not recover staged blobs"),
        }
        tokio::spawn(store.clone().sweep_forever());
        if store.meta.is_shared() {
            tokio::spawn(store.leases.keeper(store.meta.clone()));
        }
        store
    }

    /// Objects up to `bytes` are kept in the index (0: none).
    pub fn with_inline_max(mut self, bytes: u64) -> Self {
        self.inline_max = bytes;
        self
    }

    /// The blob backend, for the scrubber.
    pub fn blobs(&self) -> &BlobStore {
        &self.blobs
    }

    /// The index, for the parts of the server that keep their own records in it.
    pub fn meta(&self) -> Arc<dyn MetaStore> {
        self.meta.clone()
    }

    /// Runs a point lookup of the index on this thread. A lookup by key is answered from
    /// memory or one block read, far cheaper than the hand-off to the blocking pool and back
    /// (profiled: for a small GET those hand-offs were most of the server's CPU). Scans and
    /// writes, which can take long or wait for a sync, go through [`Store::blocking`].
    fn point_read<T>(&self, f: impl FnOnce(&dyn MetaStore) -> Result<T>) -> Result<T> {
        f(self.meta.as_ref())
    }

    pub(crate) async fn blocking<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&dyn MetaStore) -> Result<T> + Send + 'static,
    {
        let meta = self.meta.clone();
        tokio::task::spawn_blocking(move || f(meta.as_ref())).await?
    }

    // ---- buckets ----

    /// Creates a bucket with S3's default access settings; with `object_lock`, versioning is
    /// enabled with it for good.
    pub async fn create_bucket(
        &self,
        name: &str,
        owner: &str,
        region: &str,
        object_lock: bool,
    ) -> Result<BucketRecord> {
        self.create_bucket_with(name, owner, region, object_lock, NewBucketAccess::default())
            .await
    }

    /// Creates a bucket with the access settings given.
    pub async fn create_bucket_with(
        &self,
        name: &str,
        owner: &str,
        region: &str,
        object_lock: bool,
        access: NewBucketAccess,
    ) -> Result<BucketRecord> {
        naming::validate_bucket_name(name)?;
        let rec = BucketRecord {
            v: RECORD_VERSION,
            id: BucketId::random(),
            name: name.to_owned(),
            owner: owner.to_owned(),
            region: region.to_owned(),
            created_at_ms: now_ms(),
            cors: None,
            versioning: if object_lock {
                Versioning::Enabled
            } else {
                Versioning::Unversioned
            },
            object_lock: object_lock.then(ObjectLockConfig::default),
            tags: None,
            lifecycle: None,
            acl: access.acl,
            ownership: Some(access.ownership),
            public_access_block: Some(access.public_access_block),
            policy: None,
            logging: None,
            encryption: None,
        };
        let r = rec.clone();
        match self.blocking(move |m| m.insert_bucket(&r)).await? {
            None => Ok(rec),
            Some(existing) if existing.owner == owner => {
                Err(Error::BucketAlreadyOwnedByYou(name.to_owned()))
            }
            Some(_) => Err(Error::BucketAlreadyExists(name.to_owned())),
        }
    }

    pub async fn bucket(&self, name: &str) -> Result<BucketRecord> {
        self.point_read(|m| m.get_bucket(name))?
            .ok_or_else(|| Error::NoSuchBucket(name.to_owned()))
    }

    pub async fn list_buckets(&self) -> Result<Vec<BucketRecord>> {
        self.blocking(|m| m.list_buckets()).await
    }

    /// Changes settings of `bucket` as stored now (`change` may refuse); returns the record.
    pub async fn update_bucket<F>(
        &self,
        bucket: &BucketRecord,
        mut change: F,
    ) -> Result<BucketRecord>
    where
        F: FnMut(&mut BucketRecord) -> Result<()> + Send + 'static,
    {
        let (name, id) = (bucket.name.clone(), bucket.id);
        self.blocking(move |m| m.update_bucket(&name, &id, &mut change))
            .await
    }

    /// Sets (or with `None` removes) the bucket's CORS rules.
    pub async fn set_cors(
        &self,
        bucket: &BucketRecord,
        cors: Option<Vec<crate::cors::CorsRule>>,
    ) -> Result<BucketRecord> {
        let cors: Option<Vec<CorsRecord>> =
            cors.map(|rules| rules.iter().map(CorsRecord::from).collect());
        self.update_bucket(bucket, move |b| {
            b.cors = cors.clone();
            Ok(())
        })
        .await
    }

    /// Sets (or with `None` removes) the bucket's tag set, within S3's limits.
    pub async fn set_bucket_tags(
        &self,
        bucket: &BucketRecord,
        tags: Option<Tags>,
    ) -> Result<BucketRecord> {
        if let Some(t) = &tags {
            tagging::validate(t, tagging::MAX_BUCKET_TAGS)?;
        }
        let tags = tags.filter(|t| !t.is_empty());
        self.update_bucket(bucket, move |b| {
            b.tags = tags.clone();
            Ok(())
        })
        .await
    }

    /// Sets (or with `None` removes) the bucket's lifecycle rules, checked as S3 checks them.
    pub async fn set_lifecycle(
        &self,
        bucket: &BucketRecord,
        rules: Option<Vec<LifecycleRule>>,
    ) -> Result<BucketRecord> {
        if let Some(rules) = &rules {
            crate::meta::lifecycle::validate(rules)?;
            for r in rules {
                tagging::validate(&r.filter.tags, tagging::MAX_OBJECT_TAGS)?;
            }
        }
        self.update_bucket(bucket, move |b| {
            b.lifecycle = rules.clone();
            Ok(())
        })
        .await
    }

    /// Enables object lock (on a bucket whose versioning is enabled) and sets its default
    /// retention, or with `None` removes the default (the lock stays on).
    pub async fn set_object_lock(
        &self,
        bucket: &BucketRecord,
        default: Option<crate::meta::lock::DefaultRetention>,
    ) -> Result<BucketRecord> {
        if let Some(d) = &default {
            d.period.validate()?;
        }
        self.update_bucket(bucket, move |b| {
            if b.versioning != Versioning::Enabled {
                return Err(Error::InvalidBucketState(
                    "Versioning must be 'Enabled' on the bucket to apply a Object Lock configuration".into(),
                ));
            }
            b.object_lock = Some(ObjectLockConfig {
                default_retention: default,
            });
            Ok(())
        })
        .await
    }

    /// Deletes `b` if it is empty and still the bucket of its name.
    pub async fn delete_bucket(&self, b: &BucketRecord) -> Result<()> {
        let (name, id) = (b.name.clone(), b.id);
        self.blocking(move |m| m.delete_bucket(&name, &id)).await
    }

    /// Deletes every object and aborts every upload of `b`, then the bucket itself. A bucket
    /// holding a locked version is refused before anything is deleted.
    pub async fn delete_bucket_and_contents(&self, b: &BucketRecord) -> Result<()> {
        if b.object_lock.is_some() {
            self.refuse_if_any_locked(b).await?;
        }
        loop {
            let page = self.list_versions(b, "", None, None, None, 1000).await?;
            if page.entries.is_empty() {
                break;
            }
            for e in page.entries {
                if let crate::meta::VersionEntry::Version { key, rec, .. } = e {
                    let v = match rec.version_id {
                        Some(id) => VersionRef::Id(id),
                        None => VersionRef::Null,
                    };
                    self.delete_version(b, &key, &v, VersionGuard::default())
                        .await?;
                }
            }
        }
        loop {
            let page = self.list_uploads(b, "", None, None, None, 1000).await?;
            if page.entries.is_empty() {
                break;
            }
            for e in page.entries {
                if let crate::meta::UploadEntry::Upload(u) = e {
                    match self.abort_upload(b, &u.key, &u.upload_id).await {
                        Ok(()) | Err(Error::NoSuchUpload) => {}
                        Err(e) => return Err(e),
                    }
                }
            }
        }
        self.delete_bucket(b).await
    }

    async fn refuse_if_any_locked(&self, b: &BucketRecord) -> Result<()> {
        let now = now_ms();
        let (mut key, mut version) = (None::<String>, None::<String>);
        loop {
            let page = self
                .list_versions(b, "", None, key.as_deref(), version.as_deref(), 1000)
                .await?;
            for e in &page.entries {
                if let crate::meta::VersionEntry::Version { rec, .. } = e {
                    if rec.delete_refusal(now, false).is_some() {
                        return Err(Error::ObjectLocked(
                            "the bucket holds versions under retention or legal hold",
                        ));
                    }
                }
            }
            match page.next {
                Some((k, v)) => (key, version) = (Some(k), v),
                None => return Ok(()),
            }
        }
    }

    pub async fn usage(&self, bucket: &BucketRecord) -> Result<Usage> {
        let id = bucket.id;
        self.blocking(move |m| m.usage(&id)).await
    }

    // ---- objects ----

    /// Starts a new blob of `size_hint` bytes when announced; write to it, then hand it to
    /// `commit_object`.
    /// Its bytes are encrypted under `key` when there is one (see [`crate::cipher`]).
    pub async fn stage_blob(
        &self,
        size_hint: Option<u64>,
        key: Option<&DataKey>,
    ) -> Result<StagedBlob> {
        let id = BlobStore::new_id();
        let i = id.clone();
        self.blocking(move |m| m.stage_blob(&i)).await?;
        let encryptor = encryptor(key, &id, size_hint)?;
        let stored_hint = match &encryptor {
            Some(_) => size_hint.map(crate::cipher::stored_len),
            None => size_hint,
        };
        // Stored chunks of encrypted blobs are the integrity layer's chunks.
        let sums = ChunkSummer::default();
        Ok(StagedBlob {
            writer: Some(self.blobs.writer(&id, stored_hint)),
            id,
            len: 0,
            sums: Some(sums),
            store: Some(self.clone()),
            inline: None,
            encryptor,
        })
    }

    /// Starts the bytes of an object (not a part) of `len` bytes: kept in memory for the
    /// index when small enough (no staging, nothing to clean up), else a staged blob.
    pub async fn stage_object(&self, len: u64, key: Option<&DataKey>) -> Result<StagedBlob> {
        if len > self.inline_max && len > 0 {
            return self.stage_blob(Some(len), key).await;
        }
        let id = crate::meta::inline::new_id();
        Ok(StagedBlob {
            encryptor: encryptor(key, &id, Some(len))?,
            id,
            writer: None,
            len: 0,
            sums: None,
            store: None,
            inline: Some((Vec::new(), len)),
        })
    }

    /// Copies `range` of object `src` (named `what` in logs) into a new staged blob, verifying
    /// the source as it is read and hashing the copy with `algorithm` (and MD5). A `part` is
    /// always a blob.
    pub async fn copy_to_staged(
        &self,
        what: &str,
        src: &ObjectRecord,
        range: std::ops::Range<u64>,
        algorithm: Option<ChecksumAlgorithm>,
        keys: CopyKeys<'_>,
    ) -> Result<(StagedBlob, ObjectDigests)> {
        let mut staged = if keys.part {
            self.stage_blob(Some(range.end - range.start), keys.dest)
                .await?
        } else {
            self.stage_object(range.end - range.start, keys.dest)
                .await?
        };
        let mut hasher = BodyHasher::new(None, algorithm, range.end - range.start);
        let mut data = self.read_object(what, src, range.clone(), keys.src);
        while let Some(chunk) = data.try_next().await? {
            hasher.update(&chunk).await?;
            staged.write(chunk).await?;
        }
        let digests = hasher.finish().await?;
        if digests.len != range.end - range.start {
            return Err(Error::Internal(format!(
                "the source of {what} held {} of {} bytes",
                digests.len,
                range.end - range.start
            )));
        }
        Ok((staged, digests))
    }

    /// Finishes `staged` and commits it as `key`, with the digests computed while it was
    /// written, under `cond`. Returns the committed record.
    pub async fn commit_object(
        &self,
        bucket: &BucketRecord,
        key: &str,
        staged: StagedBlob,
        digests: &ObjectDigests,
        written: ObjectMeta,
        cond: WriteCondition,
    ) -> Result<ObjectRecord> {
        let rec = ObjectRecord {
            v: RECORD_VERSION,
            size: digests.len,
            etag: hex::encode(digests.md5),
            last_modified_ms: now_ms(),
            headers: written.headers,
            user_meta: written.user_meta,
            checksum: Some(digests.checksum.clone()),
            checksum_type: None,
            segments: Vec::new(),
            upload_id: None,
            version_id: None,
            delete_marker: false,
            tags: written.tags,
            retention: written.retention,
            legal_hold: written.legal_hold,
            owner: written.owner,
            acl: written.acl,
            sse: written.sse,
        };
        if staged.inline.is_some() {
            // No blob to finish or to orphan: the commit is one call on the blocking pool,
            // which runs to its end even if this request is dropped, so the task of its own
            // below (one more spawn and wake-up per small PUT) buys nothing.
            return self.commit_object_now(bucket, key, staged, rec, cond).await;
        }
        let (this, b, k) = (self.clone(), bucket.clone(), key.to_owned());
        // A task of its own: if the request is dropped mid-commit (client gone, shutdown),
        // the commit and the disarming of the orphan guard still happen together.
        tokio::spawn(async move { this.commit_object_now(&b, &k, staged, rec, cond).await }).await?
    }

    async fn commit_object_now(
        &self,
        bucket: &BucketRecord,
        key: &str,
        mut staged: StagedBlob,
        mut rec: ObjectRecord,
        cond: WriteCondition,
    ) -> Result<ObjectRecord> {
        let sums = staged.finish_blob().await?;
        // The object exists from its commit on: a conditional create that began while this
        // blob was being synced raced it (409), one that begins after finds it (412).
        rec.last_modified_ms = now_ms();
        rec.segments = if staged.len == 0 {
            Vec::new()
        } else {
            vec![Segment {
                blob: staged.id.clone(),
                len: staged.len,
                checksum: None,
            }]
        };
        let inline = staged.take_inline().filter(|d| !d.is_empty());
        let (b, k, r, id) = (
            bucket.clone(),
            key.to_owned(),
            rec.clone(),
            staged.id.clone(),
        );
        let committed = self
            .blocking(move |m| {
                let blob = match (&inline, &sums) {
                    (Some(bytes), _) => Some(NewBlob::Inline { blob: &id, bytes }),
                    (None, Some(sums)) => Some(NewBlob::Sums { blob: &id, sums }),
                    (None, None) => None,
                };
                m.put_object_with(&b, &k, &r, &cond, blob)
            })
            .await?;
        // An empty object references no blob: the guard discards the empty one.
        if !rec.segments.is_empty() {
            staged.disarm();
        }
        if committed.freed {
            self.gc_kick.notify_one();
        }
        Ok(committed.rec)
    }

    /// Deletes `key` without a version id: gone from an unversioned bucket, hidden behind a
    /// delete marker in a versioned one.
    pub async fn delete_object(
        &self,
        bucket: &BucketRecord,
        key: &str,
        cond: WriteCondition,
    ) -> Result<Deleted> {
        let (b, k) = (bucket.clone(), key.to_owned());
        let deleted = self
            .blocking(move |m| m.delete_object(&b, &k, &cond))
            .await?;
        self.kick_if_freed(&deleted);
        Ok(deleted)
    }

    /// Removes one version of `key` for good; a locked one only as its lock and `guard`
    /// allow.
    pub async fn delete_version(
        &self,
        bucket: &BucketRecord,
        key: &str,
        v: &VersionRef,
        guard: VersionGuard,
    ) -> Result<Deleted> {
        let (b, k, v) = (bucket.clone(), key.to_owned(), v.clone());
        let deleted = self
            .blocking(move |m| m.delete_version(&b, &k, &v, &guard))
            .await?;
        self.kick_if_freed(&deleted);
        Ok(deleted)
    }

    /// Edits the tags, retention or legal hold of one version (the current one when `version`
    /// is `None`); `change` may refuse. Returns the record as written.
    pub async fn update_version<F>(
        &self,
        bucket: &BucketRecord,
        key: &str,
        version: Option<&VersionRef>,
        mut change: F,
    ) -> Result<ObjectRecord>
    where
        F: FnMut(&mut ObjectRecord) -> Result<()> + Send + 'static,
    {
        let (b, k, v) = (bucket.clone(), key.to_owned(), version.cloned());
        self.blocking(move |m| m.update_version(&b, &k, v.as_ref(), &mut change))
            .await
    }

    /// Replaces the tags of one version, within S3's limits.
    pub async fn set_object_tags(
        &self,
        bucket: &BucketRecord,
        key: &str,
        version: Option<&VersionRef>,
        tags: Tags,
    ) -> Result<ObjectRecord> {
        tagging::validate(&tags, tagging::MAX_OBJECT_TAGS)?;
        self.update_version(bucket, key, version, move |rec| {
            rec.tags = tags.clone();
            Ok(())
        })
        .await
    }

    fn kick_if_freed(&self, d: &Deleted) {
        if d.removed.as_ref().is_some_and(|r| !r.segments.is_empty()) {
            self.gc_kick.notify_one();
        }
    }

    /// The object a GET or HEAD reads: the current version, or the one `version` names. A
    /// delete marker there is `DeleteMarker`; a version that does not exist, `NoSuchVersion`.
    pub async fn object(
        &self,
        bucket: &BucketRecord,
        key: &str,
        version: Option<&VersionRef>,
    ) -> Result<ObjectRecord> {
        let id = bucket.id;
        let rec = match version {
            None => self
                .point_read(|m| m.get_object(&id, key))?
                .ok_or(Error::NoSuchKey)?,
            Some(v @ VersionRef::Id(_)) => self
                .point_read(|m| m.get_version(&id, key, v))?
                .ok_or(Error::NoSuchVersion)?,
            // The null version may lie anywhere among the key's versions: a scan.
            Some(v) => {
                let (v, k) = (v.clone(), key.to_owned());
                self.blocking(move |m| m.get_version(&id, &k, &v))
                    .await?
                    .ok_or(Error::NoSuchVersion)?
            }
        };
        if rec.delete_marker {
            return Err(Error::DeleteMarker {
                version_id: rec.version_str().to_owned(),
                requested: version.is_some(),
            });
        }
        Ok(rec)
    }

    /// Turns versioning on or suspends it. A versioned bucket never becomes unversioned.
    pub async fn set_versioning(
        &self,
        bucket: &BucketRecord,
        state: Versioning,
    ) -> Result<BucketRecord> {
        if state.is_unversioned() {
            return Err(Error::InvalidRequest(
                "versioning can be Enabled or Suspended, not turned off".into(),
            ));
        }
        self.update_bucket(bucket, move |b| {
            if b.object_lock.is_some() && state != Versioning::Enabled {
                return Err(Error::InvalidBucketState(
                    "An Object Lock configuration is present on this bucket, so the versioning state cannot be changed.".into(),
                ));
            }
            b.versioning = state;
            Ok(())
        })
        .await
    }

    /// A page of every version, each key's newest first.
    pub async fn list_versions(
        &self,
        bucket: &BucketRecord,
        prefix: &str,
        delimiter: Option<&str>,
        key_marker: Option<&str>,
        version_marker: Option<&str>,
        max: usize,
    ) -> Result<VersionPage> {
        let id = bucket.id;
        let (p, d, k, v) = (
            prefix.to_owned(),
            delimiter.map(str::to_owned),
            key_marker.map(str::to_owned),
            version_marker.map(str::to_owned),
        );
        self.blocking(move |m| {
            m.list_versions(
                &id,
                &VersionQuery {
                    prefix: &p,
                    delimiter: d.as_deref(),
                    key_marker: k.as_deref(),
                    version_marker: v.as_deref(),
                    max,
                },
            )
        })
        .await
    }

    pub async fn list_objects(
        &self,
        bucket: &BucketRecord,
        prefix: &str,
        delimiter: Option<&str>,
        after: Option<&str>,
        max: usize,
    ) -> Result<ListPage> {
        let id = bucket.id;
        let (p, d, a) = (
            prefix.to_owned(),
            delimiter.map(str::to_owned),
            after.map(str::to_owned),
        );
        self.blocking(move |m| {
            m.list_objects(
                &id,
                &ListQuery {
                    prefix: &p,
                    delimiter: d.as_deref(),
                    after: a.as_deref(),
                    max,
                },
            )
        })
        .await
    }

    /// Streams bytes `range` of an object across its segments, each checked against the
    /// chunk checksums written with its blob: bad bytes end the stream with an error instead
    /// of being passed on. `what` names the object in logs. The blobs are leased until the
    /// stream is dropped.
    ///
    /// An encrypted object is read with its data `key`, decrypted chunk by chunk.
    pub fn read_object(
        &self,
        what: &str,
        rec: &ObjectRecord,
        range: std::ops::Range<u64>,
        key: Option<&DataKey>,
    ) -> BoxStream<'static, Result<Bytes>> {
        if rec.sse.is_some() != key.is_some() {
            let e = Error::Internal(format!(
                "{what}: a read of an object {} encrypted {} a key",
                if rec.sse.is_some() { "" } else { "not" },
                if key.is_some() { "with" } else { "without" }
            ));
            return futures::stream::once(async move { Err(e) }).boxed();
        }
        let key = key.cloned();
        let mut pieces = Vec::new();
        let mut offset = 0u64;
        for seg in &rec.segments {
            let (start, end) = (offset, offset + seg.len);
            offset = end;
            let lo = range.start.max(start);
            let hi = range.end.min(end);
            if lo < hi {
                pieces.push((seg.blob.clone(), seg.len, (lo - start)..(hi - start)));
            }
        }
        let lease = self
            .leases
            .take(pieces.iter().map(|(id, _, _)| id.clone()).collect());
        let this = self.clone();
        let what: Arc<str> = what.into();
        futures::stream::iter(pieces)
            .then(move |(id, len, r)| {
                let (this, what, key) = (this.clone(), what.clone(), key.clone());
                async move { this.read_blob(what, id, len, r, key).await }
            })
            .try_flatten()
            .map(move |item| {
                let _held = &lease;
                item
            })
            .boxed()
    }

    /// One blob's part of a read, verified chunk by chunk.
    async fn read_blob(
        &self,
        what: Arc<str>,
        id: String,
        len: u64,
        want: std::ops::Range<u64>,
        key: Option<DataKey>,
    ) -> Result<BoxStream<'static, Result<Bytes>>> {
        let corrupt = {
            let (counts, what, id) = (self.counts.clone(), what.clone(), id.clone());
            move |detail: String| {
                counts.corrupt_reads.fetch_add(1, Relaxed);
                tracing::error!(object = %what, blob = %id, %detail, "refused to serve a corrupt blob");
                Error::Corrupt {
                    blob: id.clone(),
                    detail,
                }
            }
        };
        let decryptor = match &key {
            Some(k) => Some(Decryptor::new(
                k.blob_cipher(&id)
                    .map_err(|e| Error::Internal(e.to_string()))?,
                want.clone(),
                len,
            )),
            None => None,
        };
        // From here on, lengths and ranges are of the stored bytes.
        let (len, want) = match &key {
            Some(_) => (
                crate::cipher::stored_len(len),
                crate::cipher::stored_range(&want, len),
            ),
            None => (len, want),
        };
        if crate::meta::inline::is_inline(&id) {
            return self.read_inline(id, len, want, decryptor, corrupt).await;
        }
        let sums = self.point_read(|m| m.blob_sums(&id))?;
        if let Some(s) = sums.as_ref().filter(|s| s.len != len) {
            return Err(corrupt(format!(
                "its checksums cover {} bytes, the object {len}",
                s.len
            )));
        }
        let from = match &sums {
            Some(s) => s.aligned(&want),
            // Written before checksums were kept: at least its length is checked.
            None => want.clone(),
        };
        let inner = match self.blobs.read(&id, from).await {
            Ok(inner) => inner,
            // Gone or cut short is damage; anything else (a remote store's hiccup) is not.
            Err(e) => {
                return Err(match self.blobs.size(&id).await {
                    Ok(None) => corrupt("the blob is missing".into()),
                    Ok(Some(size)) if size < len => {
                        corrupt(format!("the blob holds {size} of {len} bytes"))
                    }
                    _ => e,
                })
            }
        };
        Ok(CheckedRead {
            inner,
            expected: want.end - want.start,
            seen: 0,
            verifier: sums.map(|s| Verifier::new(s, want)),
            decryptor,
            ready: std::collections::VecDeque::new(),
            corrupt: Box::new(corrupt),
            done: false,
        }
        .boxed())
    }

    /// An inline blob's part of a read: one point read, checked against its CRC.
    async fn read_inline(
        &self,
        id: String,
        len: u64,
        want: std::ops::Range<u64>,
        decryptor: Option<Decryptor>,
        corrupt: impl Fn(String) -> Error,
    ) -> Result<BoxStream<'static, Result<Bytes>>> {
        let Some(raw) = self.point_read(|m| m.get_inline(&id))? else {
            return Err(corrupt("the inline bytes are missing".into()));
        };
        let at = crate::meta::inline::check_len(&raw, len).map_err(&corrupt)?;
        let data = Bytes::from(raw).slice(at..);
        let piece = data.slice(want.start as usize..want.end as usize);
        let pieces = match decryptor {
            Some(mut d) => {
                let out = d.feed(piece).map_err(|e| corrupt(e.to_string()))?;
                d.finish().map_err(|e| corrupt(e.to_string()))?;
                out
            }
            None => vec![piece],
        };
        Ok(futures::stream::iter(pieces.into_iter().map(Ok)).boxed())
    }

    /// Reads refused as corrupt since start-up.
    pub fn corrupt_reads(&self) -> u64 {
        self.counts.corrupt_reads.load(Relaxed)
    }

    /// Blobs this process deleted from the queue since start-up.
    pub fn blobs_swept(&self) -> u64 {
        self.counts.blobs_swept.load(Relaxed)
    }

    /// What the index reports about itself: one short read, for a metrics scrape.
    pub async fn index_stats(&self) -> Result<crate::meta::stats::IndexStats> {
        self.blocking(|m| m.stats()).await
    }

    // ---- garbage ----

    async fn sweep_forever(self) {
        loop {
            if let Err(e) = self.sweep_once().await {
                tracing::warn!(error = %e, "blob sweep failed; will retry");
            }
            // Sweep soon after new work is queued (coalescing bursts), and at least once per
            // grace period so replaced blobs go as soon as they may.
            tokio::select! {
                _ = self.gc_kick.notified() => tokio::time::sleep(Duration::from_millis(100)).await,
                _ = tokio::time::sleep(GC_GRACE) => {}
            }
        }
    }

    /// Deletes every queued blob whose grace period is over, a batch at a time. A blob being
    /// read, or whose delete fails, stays queued for a later pass; the pass pages past it, so
    /// a batch of such blobs never holds up the ones queued after them.
    pub async fn sweep_once(&self) -> Result<usize> {
        let grace = match self.meta.is_shared() {
            true => SHARED_GC_GRACE,
            false => GC_GRACE,
        };
        self.sweep_queued_before(grace).await
    }

    /// [`Store::sweep_once`] for blobs queued at least `grace` ago.
    async fn sweep_queued_before(&self, grace: Duration) -> Result<usize> {
        let grace = grace.as_millis() as i64;
        let mut after: Option<GcEntry> = None;
        let mut synced = false;
        let mut n = 0;
        loop {
            let from = after.clone();
            let batch = self
                .blocking(move |m| m.claim_deletes(grace, from.as_ref(), SWEEP_BATCH))
                .await?;
            let Some(last) = batch.last().cloned() else {
                return Ok(n);
            };
            if !synced {
                // Whatever made these blobs garbage must be durable before they go (relaxed
                // mode does not sync each commit).
                self.blocking(|m| m.sync()).await?;
                synced = true;
            }
            let mut done = Vec::with_capacity(batch.len());
            let mut reading = Vec::new();
            for entry in batch {
                if self.leases.is_leased(&entry.blob) {
                    reading.push(entry.blob);
                    continue;
                }
                if let Some(upload) = &entry.upload {
                    if let Err(e) = self.blobs.abort_upload(&entry.blob, upload).await {
                        tracing::warn!(error = %e, blob = %entry.blob, "could not abort an interrupted blob upload; will retry");
                        continue;
                    }
                }
                let inline = crate::meta::inline::is_inline(&entry.blob);
                if let Err(e) = match inline {
                    // Its bytes go with the queue entry, below.
                    true => Ok(()),
                    false => self.blobs.delete(&entry.blob).await,
                } {
                    tracing::warn!(error = %e, blob = %entry.blob, "could not delete a blob; will retry");
                    continue;
                }
                done.push(entry);
            }
            n += done.len();
            if !done.is_empty() {
                let swept = done.len() as u64;
                self.blocking(move |m| m.deleted(&done)).await?;
                self.counts.blobs_swept.fetch_add(swept, Relaxed);
            }
            if !reading.is_empty() {
                // Left to whichever sweeper comes next: a read lasting past the grace is leased
                // in the index by then, so every gateway's sweeper passes it by the same way.
                self.blocking(move |m| m.unclaim_deletes(&reading)).await?;
            }
            after = Some(last);
        }
    }

    async fn discard(&self, id: String, writer: Option<BlobWriter>) {
        if let Some(w) = writer {
            w.abort().await;
        }
        // Queue first: if the delete below fails, the sweeper retries it.
        let i = id.clone();
        if let Err(e) = self.blocking(move |m| m.abandon_blob(&i)).await {
            tracing::warn!(error = %e, blob = %id, "could not queue an abandoned blob");
            return;
        }
        if let Err(e) = self.blobs.delete(&id).await {
            tracing::warn!(error = %e, blob = %id, "could not delete an abandoned blob");
        }
        // The queue entry is left for the sweeper, which finds the blob already gone.
        self.gc_kick.notify_one();
    }
}

/// A blob read that passes on only bytes that checked out: verified chunk by chunk when the
/// blob has checksums, else at least of the right length. The first bad byte ends it with an
/// error, so a response built on it is cut off rather than ended cleanly.
struct CheckedRead {
    inner: BoxStream<'static, Result<Bytes>>,
    expected: u64,
    seen: u64,
    verifier: Option<Verifier>,
    /// Set for an encrypted blob: opens the verified stored bytes.
    decryptor: Option<Decryptor>,
    ready: std::collections::VecDeque<Bytes>,
    corrupt: Box<dyn Fn(String) -> Error + Send>,
    done: bool,
}

impl CheckedRead {
    /// Queues bytes that passed their checksums, decrypted when the blob is encrypted.
    fn pass(&mut self, data: Vec<Bytes>) -> std::result::Result<(), String> {
        match self.decryptor.as_mut() {
            Some(d) => {
                for piece in data {
                    self.ready.extend(d.feed(piece).map_err(|e| e.to_string())?);
                }
            }
            None => self.ready.extend(data),
        }
        Ok(())
    }
}

impl futures::Stream for CheckedRead {
    type Item = Result<Bytes>;

    fn poll_next(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        use std::task::Poll;
        let this = self.get_mut();
        loop {
            if let Some(b) = this.ready.pop_front() {
                return Poll::Ready(Some(Ok(b)));
            }
            if this.done {
                return Poll::Ready(None);
            }
            let failure = match futures::ready!(this.inner.poll_next_unpin(cx)) {
                Some(Ok(data)) => match this.verifier.as_mut() {
                    Some(v) => match v.feed(data).map_err(|m| m.to_string()) {
                        Ok(out) => match this.pass(out) {
                            Ok(()) => continue,
                            Err(detail) => detail,
                        },
                        Err(detail) => detail,
                    },
                    None => {
                        this.seen += data.len() as u64;
                        if this.seen <= this.expected {
                            match this.pass(vec![data]) {
                                Ok(()) => continue,
                                Err(detail) => detail,
                            }
                        } else {
                            format!(
                                "the blob is longer than the {} bytes recorded",
                                this.expected
                            )
                        }
                    }
                },
                Some(Err(e)) => {
                    // The store failed mid-read: not the blob's fault, so not counted.
                    this.done = true;
                    return Poll::Ready(Some(Err(e)));
                }
                None => {
                    this.done = true;
                    let short = match &this.verifier {
                        Some(v) => v.finish().err().map(|m| m.to_string()),
                        None => (this.seen < this.expected).then(|| {
                            format!(
                                "the blob ends after {} of {} bytes",
                                this.seen, this.expected
                            )
                        }),
                    };
                    let short = short.or_else(|| {
                        let d = this.decryptor.as_ref()?;
                        d.finish().err().map(|e| e.to_string())
                    });
                    match short {
                        Some(detail) => detail,
                        None => return Poll::Ready(None),
                    }
                }
            };
            this.done = true;
            return Poll::Ready(Some(Err((this.corrupt)(failure))));
        }
    }
}

/// Deletes the local backend's staging files (`blob#N`, which object_store writes and then
/// renames into place) under `dir` last written before `before`; returns how many.
#[cfg(feature = "rocksdb")]
fn remove_staging_files(dir: &std::path::Path, before: std::time::SystemTime) -> usize {
    let mut removed = 0;
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let is_dir = e.file_type().map(|t| t.is_dir()).unwrap_or(false);
            if is_dir {
                stack.push(e.path());
            } else if e.file_name().to_string_lossy().contains('#')
                && e.metadata()
                    .and_then(|m| m.modified())
                    .is_ok_and(|t| t < before)
                && std::fs::remove_file(e.path()).is_ok()
            {
                removed += 1;
            }
        }
    }
    removed
}

/// Counts a reader on each of its blobs until dropped.
/// What a client's write says about the object beyond its bytes.
#[derive(Debug, Clone, Default)]
pub struct ObjectMeta {
    pub headers: StoredHeaders,
    /// `x-amz-meta-*`, names without the prefix.
    pub user_meta: Vec<(String, String)>,
    pub tags: Tags,
    /// Retention asked for; a bucket's default applies when there is none.
    pub retention: Option<Retention>,
    pub legal_hold: Option<bool>,
    /// The writer, when it is not to be the bucket's owner (see `ObjectRecord::owner`).
    pub owner: Option<String>,
    pub acl: Option<crate::meta::acl::Acl>,
    /// How the bytes are encrypted (their key is given to the staging call).
    pub sse: Option<crate::meta::sse::Encryption>,
}

/// The keys of a copy: the source's (when it is encrypted), the copy's, and whether the copy
/// is a part (always a blob) or an object.
#[derive(Clone, Copy, Default)]
pub struct CopyKeys<'a> {
    pub src: Option<&'a DataKey>,
    pub dest: Option<&'a DataKey>,
    pub part: bool,
}

fn encryptor(key: Option<&DataKey>, blob: &str, len: Option<u64>) -> Result<Option<Encryptor>> {
    match key {
        Some(k) => Ok(Some(Encryptor::new(
            k.blob_cipher(blob)
                .map_err(|e| Error::Internal(e.to_string()))?,
            len,
        ))),
        None => Ok(None),
    }
}

/// A blob being written for a commit that has not happened yet. Dropping it without a commit
/// (an error, a client that went away) deletes the blob.
pub struct StagedBlob {
    id: String,
    writer: Option<BlobWriter>,
    len: u64,
    /// Chunk checksums of what was written, kept in the index when the blob is finished.
    sums: Option<ChunkSummer>,
    store: Option<Store>,
    /// An object small enough for the index: its bytes so far, and the length announced.
    inline: Option<(Vec<Bytes>, u64)>,
    /// Set when the bytes are encrypted on their way in.
    encryptor: Option<Encryptor>,
}

impl StagedBlob {
    pub async fn write(&mut self, data: Bytes) -> Result<()> {
        self.len += data.len() as u64;
        if let Some((_, announced)) = &self.inline {
            // Callers refuse bodies longer than announced before writing them; this keeps
            // memory bounded should one not.
            if self.len > *announced {
                return Err(Error::Internal(format!(
                    "{} bytes written to an object announced as {announced}",
                    self.len
                )));
            }
        }
        match self.encryptor.as_mut() {
            Some(e) => {
                let sealed = e.update(data).map_err(|e| Error::Internal(e.to_string()))?;
                for piece in sealed {
                    self.store_bytes(piece).await?;
                }
                Ok(())
            }
            None => self.store_bytes(data).await,
        }
    }

    /// Hands bytes as they are stored (encrypted if they are) to the index or the blob.
    async fn store_bytes(&mut self, data: Bytes) -> Result<()> {
        if let Some((held, _)) = self.inline.as_mut() {
            held.push(data);
            return Ok(());
        }
        if let Some(s) = self.sums.as_mut() {
            s.update(&data);
        }
        let written = match self.writer.as_mut() {
            Some(w) => w.write(data).await?,
            None => return Err(Error::Internal("blob writer already finished".into())),
        };
        if let (Written::StartedUpload(upload), Some(store)) = (written, &self.store) {
            let id = self.id.clone();
            store
                .blocking(move |m| m.note_blob_upload(&id, &upload))
                .await?;
        }
        Ok(())
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn blob_id(&self) -> &str {
        &self.id
    }

    /// Makes the blob visible (and durable) ahead of its commit. Returns its chunk checksums,
    /// for the commit to keep (`None` for an object kept in the index and an empty blob).
    pub async fn finish_blob(&mut self) -> Result<Option<ChunkSums>> {
        if let Some(e) = self.encryptor.take() {
            for piece in e.finish().map_err(|e| Error::Internal(e.to_string()))? {
                self.store_bytes(piece).await?;
            }
        }
        if self.inline.is_some() {
            return Ok(None);
        }
        match self.writer.take() {
            Some(w) => w.finish().await?,
            None => return Err(Error::Internal("blob writer already finished".into())),
        }
        Ok(self
            .sums
            .take()
            .filter(|_| self.len > 0)
            .map(ChunkSummer::finish))
    }

    /// The bytes of an object kept in the index (`None` for a blob).
    fn take_inline(&mut self) -> Option<Vec<u8>> {
        let (held, _) = self.inline.take()?;
        Some(held.concat())
    }

    /// The commit took ownership of the blob: dropping must no longer delete it.
    pub fn disarm(&mut self) {
        self.store = None;
    }
}

impl Drop for StagedBlob {
    fn drop(&mut self) {
        if let Some(store) = self.store.take() {
            let id = std::mem::take(&mut self.id);
            let writer = self.writer.take();
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn(async move { store.discard(id, writer).await });
            }
        }
    }
}

/// A real store for tests of this layer and those above it.
#[cfg(all(test, feature = "rocksdb"))]
#[allow(clippy::unwrap_used)]
pub(crate) mod testing {
    use super::*;
    use crate::checksum::{ChecksumAlgorithm, ObjectHasher};
    use crate::meta::WriteCondition;

    /// A store over a RocksDB index in a temp dir and in-memory blobs.
    pub async fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let meta = crate::meta::rocks::RocksMeta::open(dir.path(), false).unwrap();
        let blobs = BlobStore::new(Arc::new(object_store::memory::InMemory::new()), 1024);
        (dir, Store::with_parts(Arc::new(meta), blobs).await)
    }

    /// A store over a private PostgreSQL database and in-memory blobs. Needs a multi-threaded
    /// runtime (see `meta::pg`).
    #[cfg(feature = "postgres")]
    pub async fn pg_store() -> Store {
        let rt = tokio::runtime::Handle::current();
        let meta = tokio::task::spawn_blocking(move || {
            let url = crate::meta::pg::testing::fresh_database();
            crate::meta::pg::PgMeta::connect(&url, 4, rt)
        })
        .await
        .unwrap()
        .unwrap();
        let blobs = BlobStore::new(Arc::new(object_store::memory::InMemory::new()), 1024);
        Store::with_parts(Arc::new(meta), blobs).await
    }

    /// Writes `data` as `key` with `meta`.
    pub async fn put_with(
        s: &Store,
        b: &BucketRecord,
        key: &str,
        data: &[u8],
        meta: ObjectMeta,
    ) -> ObjectRecord {
        let mut staged = s.stage_blob(None, None).await.unwrap();
        let mut hasher = ObjectHasher::new(None, Some(ChecksumAlgorithm::Crc32c));
        hasher.update(data);
        staged.write(Bytes::copy_from_slice(data)).await.unwrap();
        let digests = hasher.finish();
        s.commit_object(b, key, staged, &digests, meta, WriteCondition::Always)
            .await
            .unwrap()
    }

    pub async fn put(s: &Store, b: &BucketRecord, key: &str, data: &[u8]) -> ObjectRecord {
        put_with(s, b, key, data, ObjectMeta::default()).await
    }
}

#[cfg(all(test, feature = "rocksdb"))]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::checksum::{ChecksumAlgorithm, ObjectHasher};
    use crate::meta::{ListEntry, WriteCondition};

    use super::testing::{put, store};

    async fn read(s: &Store, rec: &ObjectRecord) -> Vec<u8> {
        let pieces: Vec<Bytes> = s
            .read_object("t", rec, 0..rec.size, None)
            .try_collect()
            .await
            .unwrap();
        pieces.concat()
    }

    async fn a_commit_builds_the_record_and_counts_usage(s: Store) {
        let b = s
            .create_bucket("bkt", "alice", "in-mum", false)
            .await
            .unwrap();
        let rec = put(&s, &b, "k", b"hello").await;
        assert_eq!(
            (rec.size, rec.etag.as_str()),
            (5, "5d41402abc4b2a76b9719d911017c592")
        );
        assert_eq!(rec.segments.len(), 1);
        assert_eq!(
            rec.checksum.as_ref().map(|c| c.algorithm),
            Some(ChecksumAlgorithm::Crc32c)
        );
        assert_eq!(read(&s, &rec).await, b"hello");
        let usage = s.usage(&b).await.unwrap();
        assert_eq!((usage.bytes, usage.objects), (5, 1));
        // Replacing keeps one object; its old blob is queued for the sweeper.
        put(&s, &b, "k", b"bye").await;
        let usage = s.usage(&b).await.unwrap();
        assert_eq!((usage.bytes, usage.objects), (3, 1));
        let queued = s.meta().pending_deletes(i64::MAX, None, 10).unwrap();
        assert_eq!(queued.len(), 1);
        assert_eq!(queued[0].blob, rec.segments[0].blob);
    }

    /// Writes `data` as `key` the way PutObject does (kept in the index when small).
    async fn put_object(s: &Store, b: &BucketRecord, key: &str, data: &[u8]) -> ObjectRecord {
        let mut staged = s.stage_object(data.len() as u64, None).await.unwrap();
        let mut hasher = ObjectHasher::new(None, None);
        hasher.update(data);
        staged.write(Bytes::copy_from_slice(data)).await.unwrap();
        let meta = ObjectMeta::default();
        s.commit_object(
            b,
            key,
            staged,
            &hasher.finish(),
            meta,
            WriteCondition::Always,
        )
        .await
        .unwrap()
    }

    async fn small_objects_live_in_the_index_until_swept(s: Store) {
        let s = s.with_inline_max(8);
        let b = s
            .create_bucket("bkt", "alice", "in-mum", false)
            .await
            .unwrap();
        let small = put_object(&s, &b, "small", b"hello").await;
        let id = small.segments[0].blob.clone();
        assert!(crate::meta::inline::is_inline(&id));
        assert_eq!(read(&s, &small).await, b"hello");
        let middle: Vec<Bytes> = s
            .read_object("t", &small, 1..3, None)
            .try_collect()
            .await
            .unwrap();
        assert_eq!(middle.concat(), b"el");
        // Nothing staged, no blob written, usage counted as for any object.
        assert!(s.meta().staged_blobs().unwrap().is_empty());
        assert_eq!(
            s.blobs()
                .list()
                .try_collect::<Vec<_>>()
                .await
                .unwrap()
                .len(),
            0
        );
        assert_eq!(s.usage(&b).await.unwrap().bytes, 5);
        // One byte over the limit is a blob; an empty object is neither.
        let big = put_object(&s, &b, "big", b"123456789").await;
        assert!(!crate::meta::inline::is_inline(&big.segments[0].blob));
        assert!(put_object(&s, &b, "empty", b"").await.segments.is_empty());
        // Replaced, the old bytes wait in the queue (readers keep them till then), then go.
        put_object(&s, &b, "small", b"bye").await;
        assert!(s.meta().get_inline(&id).unwrap().is_some());
        let queued = s.meta().pending_deletes(i64::MAX, None, 10).unwrap();
        assert_eq!(
            queued.iter().map(|e| e.blob.as_str()).collect::<Vec<_>>(),
            [id.as_str()]
        );
        assert_eq!(s.sweep_queued_before(Duration::ZERO).await.unwrap(), 1);
        assert!(s.meta().get_inline(&id).unwrap().is_none());
        assert!(s
            .meta()
            .pending_deletes(i64::MAX, None, 10)
            .unwrap()
            .is_empty());
    }

    async fn a_copy_of_a_small_object_is_small_and_a_part_never_is(s: Store) {
        let b = s
            .create_bucket("bkt", "alice", "in-mum", false)
            .await
            .unwrap();
        let src = put_object(&s, &b, "src", b"0123456789").await;
        let (copy, _) = s
            .copy_to_staged("bkt/src", &src, 2..6, None, CopyKeys::default())
            .await
            .unwrap();
        assert!(crate::meta::inline::is_inline(copy.blob_id()));
        let (part, _) = s
            .copy_to_staged(
                "bkt/src",
                &src,
                2..6,
                None,
                CopyKeys {
                    part: true,
                    ..CopyKeys::default()
                },
            )
            .await
            .unwrap();
        assert!(!crate::meta::inline::is_inline(part.blob_id()));
    }

    async fn a_dropped_staged_blob_leaves_nothing_staged(s: Store) {
        let mut staged = s.stage_blob(None, None).await.unwrap();
        staged
            .write(Bytes::from_static(b"abandoned"))
            .await
            .unwrap();
        let id = staged.blob_id().to_owned();
        assert_eq!(s.meta().staged_blobs().unwrap(), std::slice::from_ref(&id));
        drop(staged);
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while !s.meta().staged_blobs().unwrap().is_empty() {
            assert!(std::time::Instant::now() < deadline, "still staged");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(!s.blobs().exists(&id).await.unwrap());
    }

    async fn encrypted_objects_read_back_whole_and_ranged_only_with_their_key(s: Store) {
        let s = s.with_inline_max(4096);
        let b = s
            .create_bucket("bkt", "alice", "in-mum", false)
            .await
            .unwrap();
        let key = DataKey::random();
        for len in [100usize, 4096, 3 * (1 << 20) + 5] {
            let data: Vec<u8> = (0..len).map(|i| (i % 253) as u8).collect();
            let mut staged = s.stage_object(len as u64, Some(&key)).await.unwrap();
            let mut hasher = ObjectHasher::new(None, None);
            hasher.update(&data);
            for piece in data.chunks(100_000) {
                staged.write(Bytes::copy_from_slice(piece)).await.unwrap();
            }
            let meta = ObjectMeta {
                sse: Some(crate::meta::sse::Encryption {
                    mode: crate::meta::sse::SseMode::S3,
                    wrapped_key: Some("w".into()),
                    kms_key: None,
                    key_check: None,
                    bucket_key: false,
                }),
                ..ObjectMeta::default()
            };
            let rec = s
                .commit_object(
                    &b,
                    "k",
                    staged,
                    &hasher.finish(),
                    meta,
                    WriteCondition::Always,
                )
                .await
                .unwrap();
            let blob = &rec.segments[0].blob;
            let stored = match s.meta().get_inline(blob).unwrap() {
                Some(raw) => raw,
                None => s
                    .blobs()
                    .read(blob, 0..crate::cipher::stored_len(len as u64))
                    .await
                    .unwrap()
                    .try_collect::<Vec<Bytes>>()
                    .await
                    .unwrap()
                    .concat(),
            };
            assert!(
                !stored.windows(64).any(|w| w == &data[..64]),
                "{len}: in clear"
            );
            let n = len as u64;
            for want in [0..n, 1..n - 1, n / 2..n / 2 + 7, n - 3..n] {
                let got: Vec<Bytes> = s
                    .read_object("t", &rec, want.clone(), Some(&key))
                    .try_collect()
                    .await
                    .unwrap();
                assert_eq!(got.concat(), &data[want.start as usize..want.end as usize]);
            }
            let wrong: Result<Vec<Bytes>> = s
                .read_object("t", &rec, 0..n, Some(&DataKey::random()))
                .try_collect()
                .await;
            assert!(matches!(wrong, Err(Error::Corrupt { .. })), "{len}");
            let keyless: Result<Vec<Bytes>> =
                s.read_object("t", &rec, 0..n, None).try_collect().await;
            assert!(keyless.is_err());
        }
    }

    async fn a_copy_hashes_what_it_copies(s: Store) {
        let b = s
            .create_bucket("bkt", "alice", "in-mum", false)
            .await
            .unwrap();
        let src = put(&s, &b, "src", b"0123456789").await;
        let (staged, digests) = s
            .copy_to_staged(
                "bkt/src",
                &src,
                2..6,
                Some(ChecksumAlgorithm::Sha256),
                CopyKeys::default(),
            )
            .await
            .unwrap();
        assert_eq!(digests.len, 4);
        let copy = s
            .commit_object(
                &b,
                "copy",
                staged,
                &digests,
                ObjectMeta::default(),
                WriteCondition::Always,
            )
            .await
            .unwrap();
        assert_eq!(read(&s, &copy).await, b"2345");
        assert_eq!(copy.checksum.unwrap().algorithm, ChecksumAlgorithm::Sha256);
    }

    async fn a_forced_bucket_delete_takes_objects_and_uploads_with_it(s: Store) {
        let b = s
            .create_bucket("full", "alice", "in-mum", false)
            .await
            .unwrap();
        for i in 0..3 {
            put(&s, &b, &format!("k{i}"), b"x").await;
        }
        s.create_upload(&b, "mp", ObjectMeta::default(), None, None, None)
            .await
            .unwrap();
        assert!(matches!(
            s.delete_bucket(&b).await,
            Err(Error::BucketNotEmpty(_))
        ));
        s.delete_bucket_and_contents(&b).await.unwrap();
        assert!(matches!(
            s.bucket("full").await,
            Err(Error::NoSuchBucket(_))
        ));
        let b2 = s
            .create_bucket("full", "alice", "in-mum", false)
            .await
            .unwrap();
        let page = s.list_objects(&b2, "", None, None, 10).await.unwrap();
        assert!(
            page.entries
                .iter()
                .all(|e| !matches!(e, ListEntry::Object(..))),
            "a new bucket of the same name starts empty"
        );
    }

    #[test]
    fn only_staging_files_older_than_the_process_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let fan = dir.path().join("ab");
        std::fs::create_dir_all(&fan).unwrap();
        for name in ["abcd#1", "abcd", "abef#7"] {
            std::fs::write(fan.join(name), b"x").unwrap();
        }
        // Written after the cut-off: a write in flight now, left alone.
        assert_eq!(
            remove_staging_files(dir.path(), std::time::SystemTime::UNIX_EPOCH),
            0
        );
        let later = std::time::SystemTime::now() + Duration::from_secs(1);
        assert_eq!(remove_staging_files(dir.path(), later), 2);
        let left: Vec<String> = std::fs::read_dir(&fan)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(left, ["abcd"]);
    }

    /// Each test above, on RocksDB and on PostgreSQL.
    macro_rules! on_both_indexes {
        ($($name:ident),*) => {
            mod rocks {
                $(
                    #[tokio::test]
                    async fn $name() {
                        let (_d, s) = super::store().await;
                        super::$name(s).await
                    }
                )*
            }
            #[cfg(feature = "postgres")]
            mod postgres {
                $(
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $name() {
                        super::$name(crate::store::testing::pg_store().await).await
                    }
                )*
            }
        };
    }

    on_both_indexes!(
        a_commit_builds_the_record_and_counts_usage,
        small_objects_live_in_the_index_until_swept,
        a_copy_of_a_small_object_is_small_and_a_part_never_is,
        a_dropped_staged_blob_leaves_nothing_staged,
        encrypted_objects_read_back_whole_and_ranged_only_with_their_key,
        a_copy_hashes_what_it_copies,
        a_forced_bucket_delete_takes_objects_and_uploads_with_it
    );
}
