//! The storage domain: buckets and objects, their invariants and the write order.
//!
//! A write is: stage the blob id in the index → stream the blob → commit the metadata in one
//! batch (which un-stages the blob and queues the replaced one) → delete replaced blobs. If the
//! request fails or is dropped before commit, `StagedBlob`'s drop deletes the blob; if the whole
//! process dies, start-up finds the id still staged and deletes it.

pub mod multipart;
pub mod naming;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};

use crate::blob::{BlobStore, BlobWriter};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::meta::rocks::RocksMeta;
use crate::meta::{
    BucketId, BucketRecord, ListPage, ListQuery, MetaStore, ObjectRecord, Segment, Usage,
    WriteCondition, RECORD_VERSION,
};

/// How long a replaced blob outlives its object, so that reads which started before the
/// replacement can finish.
const GC_GRACE: Duration = Duration::from_secs(10);
/// Queued blobs handled per sweep pass.
const SWEEP_BATCH: usize = 1000;

#[derive(Clone)]
pub struct Store {
    meta: Arc<dyn MetaStore>,
    blobs: BlobStore,
    /// Blobs being read right now (id → readers): the sweeper leaves them for a later pass,
    /// so a long GET of a replaced multipart object never loses a segment mid-stream.
    leases: Arc<std::sync::Mutex<std::collections::HashMap<String, usize>>>,
    pub(crate) gc_kick: Arc<tokio::sync::Notify>,
}

pub fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

impl Store {
    /// Opens the index and blob backend named by `cfg`, recovers what a crash left staged, and
    /// starts the background sweeper of replaced blobs.
    pub async fn open(cfg: &Config) -> Result<Self> {
        let meta_dir = cfg.meta_dir();
        let sync = cfg.durability == crate::config::Durability::Strict;
        let meta = tokio::task::spawn_blocking(move || -> Result<RocksMeta> {
            std::fs::create_dir_all(&meta_dir)
                .map_err(|e| Error::Meta(format!("cannot create {}: {e}", meta_dir.display())))?;
            RocksMeta::open(&meta_dir, sync)
        })
        .await??;
        let blobs = crate::blob::backend::build(cfg)?;
        Ok(Self::with_parts(Arc::new(meta), blobs).await)
    }

    pub async fn with_parts(meta: Arc<dyn MetaStore>, blobs: BlobStore) -> Self {
        let store = Self {
            meta,
            blobs,
            leases: Arc::default(),
            gc_kick: Arc::new(tokio::sync::Notify::new()),
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
        store
    }

    /// The index, for the parts of the server that keep their own records in it.
    pub fn meta(&self) -> Arc<dyn MetaStore> {
        self.meta.clone()
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

    pub async fn create_bucket(
        &self,
        name: &str,
        owner: &str,
        region: &str,
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
        let n = name.to_owned();
        self.blocking(move |m| m.get_bucket(&n))
            .await?
            .ok_or_else(|| Error::NoSuchBucket(name.to_owned()))
    }

    pub async fn list_buckets(&self) -> Result<Vec<BucketRecord>> {
        self.blocking(|m| m.list_buckets()).await
    }

    /// Sets (or with `None` removes) the bucket's CORS rules.
    pub async fn set_cors(
        &self,
        bucket: &BucketRecord,
        cors: Option<Vec<crate::cors::CorsRule>>,
    ) -> Result<BucketRecord> {
        let mut rec = bucket.clone();
        rec.cors = cors;
        let r = rec.clone();
        self.blocking(move |m| m.update_bucket(&r)).await?;
        Ok(rec)
    }

    pub async fn delete_bucket(&self, name: &str) -> Result<()> {
        let n = name.to_owned();
        self.blocking(move |m| m.delete_bucket(&n)).await
    }

    pub async fn usage(&self, bucket: &BucketRecord) -> Result<Usage> {
        let id = bucket.id;
        self.blocking(move |m| m.usage(&id)).await
    }

    // ---- objects ----

    pub async fn head_object(&self, bucket: &BucketRecord, key: &str) -> Result<ObjectRecord> {
        let (id, k) = (bucket.id, key.to_owned());
        self.blocking(move |m| m.get_object(&id, &k))
            .await?
            .ok_or(Error::NoSuchKey)
    }

    /// Starts a new blob; write to it, then hand it to `commit_object`.
    pub async fn stage_blob(&self) -> Result<StagedBlob> {
        let id = BlobStore::new_id();
        let i = id.clone();
        self.blocking(move |m| m.stage_blob(&i)).await?;
        Ok(StagedBlob {
            writer: Some(self.blobs.writer(&id)),
            id,
            len: 0,
            store: Some(self.clone()),
        })
    }

    /// Finishes `staged` and commits `rec` (whose segments are filled in here) under `cond`.
    /// Returns the committed record.
    pub async fn commit_object(
        &self,
        bucket: &BucketRecord,
        key: &str,
        staged: StagedBlob,
        rec: ObjectRecord,
        cond: WriteCondition,
    ) -> Result<ObjectRecord> {
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
        staged.finish_blob().await?;
        rec.segments = if staged.len == 0 {
            Vec::new()
        } else {
            vec![Segment {
                blob: staged.id.clone(),
                len: staged.len,
            }]
        };
        let (b, k, r) = (bucket.clone(), key.to_owned(), rec.clone());
        let replaced = self
            .blocking(move |m| m.put_object(&b, &k, &r, &cond))
            .await?;
        // An empty object references no blob: the guard discards the empty one.
        if !rec.segments.is_empty() {
            staged.disarm();
        }
        if replaced.is_some() {
            self.gc_kick.notify_one();
        }
        Ok(rec)
    }

    pub async fn delete_object(&self, bucket: &BucketRecord, key: &str) -> Result<bool> {
        let (b, k) = (bucket.clone(), key.to_owned());
        let removed = self.blocking(move |m| m.delete_object(&b, &k)).await?;
        if removed.is_some() {
            self.gc_kick.notify_one();
        }
        Ok(removed.is_some())
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

    /// Streams bytes `range` of an object across its segments. The blobs are leased until the
    /// stream is dropped.
    pub fn read_object(
        &self,
        rec: &ObjectRecord,
        range: std::ops::Range<u64>,
    ) -> BoxStream<'static, Result<Bytes>> {
        let mut pieces = Vec::new();
        let mut offset = 0u64;
        for seg in &rec.segments {
            let (start, end) = (offset, offset + seg.len);
            offset = end;
            let lo = range.start.max(start);
            let hi = range.end.min(end);
            if lo < hi {
                pieces.push((seg.blob.clone(), (lo - start)..(hi - start)));
            }
        }
        let lease = Lease::take(
            &self.leases,
            pieces.iter().map(|(id, _)| id.clone()).collect(),
        );
        let blobs = self.blobs.clone();
        futures::stream::iter(pieces)
            .then(move |(id, r)| {
                let blobs = blobs.clone();
                async move { blobs.read(&id, r).await }
            })
            .try_flatten()
            .map(move |item| {
                let _held = &lease;
                item
            })
            .boxed()
    }

    fn is_leased(&self, blob: &str) -> bool {
        self.leases
            .lock()
            .map(|l| l.contains_key(blob))
            .unwrap_or(false)
    }

    // ---- garbage ----

    async fn sweep_forever(self) {
        loop {
            match self.sweep_once().await {
                // A full batch: more may be waiting.
                Ok(n) if n >= SWEEP_BATCH => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "blob sweep failed; will retry"),
            }
            // Sweep soon after new work is queued (coalescing bursts), and at least once per
            // grace period so replaced blobs go as soon as they may.
            tokio::select! {
                _ = self.gc_kick.notified() => tokio::time::sleep(Duration::from_millis(100)).await,
                _ = tokio::time::sleep(GC_GRACE) => {}
            }
        }
    }

    /// Deletes queued blobs whose grace period is over. A blob being read, or whose delete
    /// fails, stays queued for a later pass and does not hold up the others.
    pub async fn sweep_once(&self) -> Result<usize> {
        let until = now_ms() - GC_GRACE.as_millis() as i64;
        let batch = self
            .blocking(move |m| m.pending_deletes(until, SWEEP_BATCH))
            .await?;
        if batch.is_empty() {
            return Ok(0);
        }
        // Whatever made these blobs garbage must be durable before they go (relaxed mode
        // does not sync each commit).
        self.blocking(|m| m.sync()).await?;
        let mut n = 0;
        for entry in batch {
            if self.is_leased(&entry.blob) {
                continue;
            }
            if let Err(e) = self.blobs.delete(&entry.blob).await {
                tracing::warn!(error = %e, blob = %entry.blob, "could not delete a blob; will retry");
                continue;
            }
            self.blocking(move |m| m.deleted(&entry)).await?;
            n += 1;
        }
        Ok(n)
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

/// Counts a reader on each of its blobs until dropped.
struct Lease {
    table: Arc<std::sync::Mutex<std::collections::HashMap<String, usize>>>,
    ids: Vec<String>,
}

impl Lease {
    fn take(
        table: &Arc<std::sync::Mutex<std::collections::HashMap<String, usize>>>,
        ids: Vec<String>,
    ) -> Self {
        if let Ok(mut t) = table.lock() {
            for id in &ids {
                *t.entry(id.clone()).or_insert(0) += 1;
            }
        }
        Self {
            table: table.clone(),
            ids,
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Ok(mut t) = self.table.lock() {
            for id in &self.ids {
                if let Some(n) = t.get_mut(id) {
                    *n -= 1;
                    if *n == 0 {
                        t.remove(id);
                    }
                }
            }
        }
    }
}

/// A blob being written for a commit that has not happened yet. Dropping it without a commit
/// (an error, a client that went away) deletes the blob.
pub struct StagedBlob {
    id: String,
    writer: Option<BlobWriter>,
    len: u64,
    store: Option<Store>,
}

impl StagedBlob {
    pub async fn write(&mut self, data: Bytes) -> Result<()> {
        self.len += data.len() as u64;
        match self.writer.as_mut() {
            Some(w) => w.write(data).await,
            None => Err(Error::Internal("blob writer already finished".into())),
        }
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

    /// Makes the blob visible (and durable) ahead of its commit.
    pub async fn finish_blob(&mut self) -> Result<()> {
        match self.writer.take() {
            Some(w) => w.finish().await,
            None => Err(Error::Internal("blob writer already finished".into())),
        }
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
