//! Blob storage behind `object_store`: opaque server-generated ids, streamed writes with a
//! bounded buffer, ranged streaming reads. User keys never become paths here.

mod aligned;
pub mod backend;
mod local_read;
mod local_write;

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use object_store::multipart::{MultipartStore, PartId};
use object_store::path::Path;
use object_store::{
    GetOptions, GetRange, MultipartId, ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart,
};

use crate::error::{Error, Result};

/// How many parts of one blob may be in flight at once; with `chunk` this bounds a writer's memory.
const PART_CONCURRENCY: usize = 2;

#[derive(Clone, Debug)]
pub struct BlobStore {
    store: Arc<dyn ObjectStore>,
    /// Set for remote stores, whose multipart uploads outlive a crash unless aborted by id.
    remote: Option<RemoteMultipart>,
    /// Bytes buffered before a write goes out as one part (or as the whole blob if it is the end).
    chunk: usize,
    /// Set for the local backend, whose files are read and written here.
    local: Option<LocalFiles>,
}

/// How the local backend's files are reached.
#[derive(Clone, Debug)]
pub struct LocalFiles {
    /// The directory blobs are files under.
    pub root: std::path::PathBuf,
    /// Whether a written blob is synced before it counts as written.
    pub fsync: bool,
    /// Files of at least this size are written and read with direct I/O; `None`: no file is.
    pub direct_from: Option<u64>,
}

impl LocalFiles {
    fn direct(&self, size: Option<u64>) -> bool {
        matches!((self.direct_from, size), (Some(from), Some(n)) if n >= from)
    }
}

impl BlobStore {
    pub fn new(store: Arc<dyn ObjectStore>, chunk: usize) -> Self {
        Self {
            store,
            remote: None,
            chunk,
            local: None,
        }
    }

    /// Reads and writes of a local store's blobs go straight to its files in large pieces
    /// (see [`local_read`], [`local_write`]); listing and deletes still go through
    /// `object_store`.
    pub fn with_local_files(mut self, local: LocalFiles) -> Self {
        self.local = Some(local);
        self
    }

    /// Large blobs go through `multipart` (the same store as `ObjectStore`, reached without
    /// `prefix`) under upload ids the caller records, so uploads a crash cut off can be
    /// aborted later.
    pub fn with_multipart(
        mut self,
        multipart: Arc<dyn MultipartStore>,
        prefix: Option<&str>,
    ) -> Self {
        self.remote = Some(RemoteMultipart {
            store: multipart,
            prefix: prefix.map(Path::from),
        });
        self
    }

    /// Aborts an upload of blob `id` that a crash cut off (see [`Written::StartedUpload`]).
    pub async fn abort_upload(&self, id: &str, upload: &str) -> Result<()> {
        if let Some(remote) = &self.remote {
            let path = remote.full(&Self::path(id));
            abort_upload(&*remote.store, &path, &upload.to_owned()).await?;
        }
        Ok(())
    }

    /// A fresh blob id; 32 hex characters.
    pub fn new_id() -> String {
        uuid::Uuid::new_v4().simple().to_string()
    }

    /// Spreads blobs over 256 directories so no directory grows without bound.
    fn path(id: &str) -> Path {
        let fan = id.get(..2).unwrap_or("00");
        Path::from(format!("{fan}/{id}"))
    }

    /// A writer of blob `id`; `size_hint` is the length announced, when known.
    pub fn writer(&self, id: &str, size_hint: Option<u64>) -> BlobWriter {
        let path = Self::path(id);
        let sink = match &self.local {
            Some(l) => Sink::File(local_write::LocalWriter::new(
                l.root.join(path.as_ref()),
                l.direct(size_hint),
                l.fsync,
            )),
            None => Sink::Buffering,
        };
        BlobWriter {
            store: self.store.clone(),
            path,
            chunk: self.chunk,
            pending: Vec::new(),
            pending_len: 0,
            remote: self.remote.clone(),
            sink,
        }
    }

    /// Streams `range` of blob `id`. An empty range yields an empty stream without I/O.
    pub async fn read(
        &self,
        id: &str,
        range: Range<u64>,
    ) -> Result<BoxStream<'static, Result<Bytes>>> {
        if range.is_empty() {
            return Ok(futures::stream::empty().boxed());
        }
        if let Some(l) = &self.local {
            let file = l.root.join(Self::path(id).as_ref());
            return local_read::stream(file, range, l.direct_from).await;
        }
        let opts = GetOptions::new().with_range(Some(GetRange::Bounded(range)));
        let res = self.store.get_opts(&Self::path(id), opts).await?;
        Ok(res.into_stream().map_err(Error::from).boxed())
    }

    /// Whether a blob exists.
    pub async fn exists(&self, id: &str) -> Result<bool> {
        Ok(self.size(id).await?.is_some())
    }

    /// A blob's size; `None` when it does not exist.
    pub async fn size(&self, id: &str) -> Result<Option<u64>> {
        match self.store.head(&Self::path(id)).await {
            Ok(m) => Ok(Some(m.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Every blob in the store, with when it was last written.
    pub fn list(&self) -> BoxStream<'static, Result<(String, std::time::SystemTime)>> {
        self.store
            .list(None)
            .map_ok(|m| {
                let id = m.location.filename().unwrap_or_default().to_owned();
                (id, std::time::SystemTime::from(m.last_modified))
            })
            .map_err(Error::from)
            .boxed()
    }

    /// Deletes a blob; one that is already gone counts as deleted.
    pub async fn delete(&self, id: &str) -> Result<()> {
        match self.store.delete(&Self::path(id)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

/// Writes one blob. Small blobs go out in one put at `finish`; larger ones switch to a
/// multipart upload whose in-flight parts are capped, so memory stays bounded.
pub struct BlobWriter {
    store: Arc<dyn ObjectStore>,
    path: Path,
    chunk: usize,
    /// Bytes not yet handed to an upload; at most about one chunk.
    pending: Vec<Bytes>,
    pending_len: usize,
    remote: Option<RemoteMultipart>,
    sink: Sink,
}

enum Sink {
    /// The local backend's files, written directly.
    File(local_write::LocalWriter),
    /// Nothing sent yet: the blob may still fit one put.
    Buffering,
    /// Local and in-memory stores: `object_store`'s own multipart writer.
    Local(WriteMultipart),
    /// Remote stores: parts sent under an upload id the caller has recorded.
    Remote(RemoteUpload),
}

/// What a write did, for the caller to act on before the next one.
#[derive(Debug, PartialEq, Eq)]
pub enum Written {
    Buffered,
    /// A remote multipart upload was created under this id, and none of its parts is sent
    /// yet: record it, so that a crash from here on leaves an upload that can be aborted.
    StartedUpload(String),
}

impl BlobWriter {
    pub async fn write(&mut self, data: Bytes) -> Result<Written> {
        if data.is_empty() {
            return Ok(Written::Buffered);
        }
        match &mut self.sink {
            Sink::File(w) => {
                w.write(data).await?;
                return Ok(Written::Buffered);
            }
            Sink::Local(up) => {
                up.wait_for_capacity(PART_CONCURRENCY).await?;
                up.put(data);
                return Ok(Written::Buffered);
            }
            Sink::Remote(_) | Sink::Buffering => {
                self.pending_len += data.len();
                self.pending.push(data);
            }
        }
        if self.pending_len <= self.chunk {
            return Ok(Written::Buffered);
        }
        match &mut self.sink {
            Sink::Remote(up) => {
                while self.pending_len >= self.chunk {
                    let part = take_front(&mut self.pending, &mut self.pending_len, self.chunk);
                    up.send(part).await?;
                }
                Ok(Written::Buffered)
            }
            Sink::Buffering => match &self.remote {
                Some(remote) => {
                    let up = RemoteUpload::create(remote.clone(), &self.path).await?;
                    let id = up.id.clone();
                    // Parts go out from the next write (or `finish`), after the caller
                    // recorded the id.
                    self.sink = Sink::Remote(up);
                    Ok(Written::StartedUpload(id))
                }
                None => {
                    let upload = self.store.put_multipart(&self.path).await?;
                    let mut up = WriteMultipart::new_with_chunk_size(upload, self.chunk);
                    for b in self.pending.drain(..) {
                        up.wait_for_capacity(PART_CONCURRENCY).await?;
                        up.put(b);
                    }
                    self.pending_len = 0;
                    self.sink = Sink::Local(up);
                    Ok(Written::Buffered)
                }
            },
            Sink::Local(_) | Sink::File(_) => Ok(Written::Buffered),
        }
    }

    /// Makes the blob visible (and durable, where the backend was built so).
    pub async fn finish(mut self) -> Result<()> {
        match std::mem::replace(&mut self.sink, Sink::Buffering) {
            Sink::File(w) => w.finish().await?,
            Sink::Local(up) => {
                up.finish().await?;
            }
            Sink::Remote(mut up) => {
                while !self.pending.is_empty() {
                    let n = self.pending_len.min(self.chunk);
                    let part = take_front(&mut self.pending, &mut self.pending_len, n);
                    up.send(part).await?;
                }
                up.finish().await?;
            }
            Sink::Buffering => {
                let payload: PutPayload = std::mem::take(&mut self.pending).into_iter().collect();
                self.store.put(&self.path, payload).await?;
            }
        }
        Ok(())
    }

    /// Discards a blob that will never be committed.
    pub async fn abort(mut self) {
        let done = match std::mem::replace(&mut self.sink, Sink::Buffering) {
            Sink::File(w) => {
                w.abort().await;
                Ok(())
            }
            Sink::Local(up) => up.abort().await,
            Sink::Remote(up) => up.abort().await,
            Sink::Buffering => Ok(()),
        };
        if let Err(e) = done {
            tracing::warn!(error = %e, "could not abort a blob upload");
        }
    }
}

/// Removes the first `n` bytes of `pending` as one payload, splitting a piece without copying.
fn take_front(pending: &mut Vec<Bytes>, pending_len: &mut usize, n: usize) -> PutPayload {
    let mut out = Vec::new();
    let mut need = n;
    let mut used = 0;
    for piece in pending.iter_mut() {
        if need == 0 {
            break;
        }
        if piece.len() <= need {
            need -= piece.len();
            out.push(std::mem::take(piece));
            used += 1;
        } else {
            out.push(piece.split_to(need));
            need = 0;
        }
    }
    pending.drain(..used);
    *pending_len -= n - need;
    out.into_iter().collect()
}

/// The multipart side of a remote store, and the prefix its paths take.
#[derive(Clone)]
struct RemoteMultipart {
    store: Arc<dyn MultipartStore>,
    prefix: Option<Path>,
}

impl std::fmt::Debug for RemoteMultipart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteMultipart")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RemoteMultipart {
    /// The path the `ObjectStore` side reaches through its prefix wrapper.
    fn full(&self, path: &Path) -> Path {
        match &self.prefix {
            Some(p) => p.parts().chain(path.parts()).collect(),
            None => path.clone(),
        }
    }
}

/// One remote multipart upload: equal-size parts, at most `PART_CONCURRENCY` in flight.
struct RemoteUpload {
    remote: RemoteMultipart,
    path: Path,
    id: MultipartId,
    in_flight: tokio::task::JoinSet<(usize, object_store::Result<PartId>)>,
    parts: Vec<Option<PartId>>,
}

impl RemoteUpload {
    async fn create(remote: RemoteMultipart, path: &Path) -> Result<Self> {
        let path = remote.full(path);
        let id = remote.store.create_multipart(&path).await?;
        Ok(Self {
            remote,
            path,
            id,
            in_flight: tokio::task::JoinSet::new(),
            parts: Vec::new(),
        })
    }

    async fn send(&mut self, payload: PutPayload) -> Result<()> {
        while self.in_flight.len() >= PART_CONCURRENCY {
            self.join_one().await?;
        }
        let idx = self.parts.len();
        self.parts.push(None);
        let (store, path, id) = (
            self.remote.store.clone(),
            self.path.clone(),
            self.id.clone(),
        );
        self.in_flight
            .spawn(async move { (idx, store.put_part(&path, &id, idx, payload).await) });
        Ok(())
    }

    async fn join_one(&mut self) -> Result<()> {
        if let Some(done) = self.in_flight.join_next().await {
            let (idx, part) = done?;
            if let Some(slot) = self.parts.get_mut(idx) {
                *slot = Some(part?);
            }
        }
        Ok(())
    }

    async fn finish(mut self) -> Result<()> {
        while !self.in_flight.is_empty() {
            self.join_one().await?;
        }
        let parts = std::mem::take(&mut self.parts)
            .into_iter()
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| Error::Blob("a part of a blob upload went missing".into()))?;
        self.remote
            .store
            .complete_multipart(&self.path, &self.id, parts)
            .await?;
        Ok(())
    }

    async fn abort(mut self) -> object_store::Result<()> {
        self.in_flight.abort_all();
        while self.in_flight.join_next().await.is_some() {}
        abort_upload(&*self.remote.store, &self.path, &self.id).await
    }
}

/// Aborts an upload; one the store no longer knows counts as aborted.
async fn abort_upload(
    store: &dyn MultipartStore,
    path: &Path,
    id: &MultipartId,
) -> object_store::Result<()> {
    match store.abort_multipart(path, id).await {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn roundtrip(store: Arc<dyn ObjectStore>) {
        roundtrip_through(BlobStore::new(store, 1024)).await;
    }

    async fn roundtrip_through(blobs: BlobStore) {
        for size in [0usize, 10, 1024, 1025, 5000] {
            let id = BlobStore::new_id();
            let data: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
            let mut w = blobs.writer(&id, None);
            let mut started = 0;
            for piece in data.chunks(300) {
                if let Written::StartedUpload(_) =
                    w.write(Bytes::copy_from_slice(piece)).await.unwrap()
                {
                    started += 1;
                }
            }
            w.finish().await.unwrap();
            let remote_multipart = blobs.remote.is_some() && size > 1024;
            assert_eq!(started, usize::from(remote_multipart), "size {size}");
            let whole: Vec<Bytes> = blobs
                .read(&id, 0..size as u64)
                .await
                .unwrap()
                .try_collect()
                .await
                .unwrap();
            assert_eq!(whole.concat(), data);
            if size > 10 {
                let part: Vec<Bytes> = blobs
                    .read(&id, 3..9)
                    .await
                    .unwrap()
                    .try_collect()
                    .await
                    .unwrap();
                assert_eq!(part.concat(), &data[3..9]);
            }
            blobs.delete(&id).await.unwrap();
            blobs.delete(&id).await.unwrap();
        }
    }

    #[tokio::test]
    async fn in_memory_roundtrip() {
        roundtrip(Arc::new(object_store::memory::InMemory::new())).await;
    }

    #[tokio::test]
    async fn remote_multipart_roundtrip_under_a_prefix() {
        let whole = Arc::new(object_store::memory::InMemory::new());
        let objects: Arc<dyn ObjectStore> = Arc::new(object_store::prefix::PrefixStore::new(
            whole.clone() as Arc<dyn ObjectStore>,
            "pre",
        ));
        roundtrip_through(BlobStore::new(objects, 1024).with_multipart(whole, Some("pre"))).await;
    }

    #[tokio::test]
    async fn parts_are_equal_sized_whatever_the_writes() {
        let mut pending: Vec<Bytes> = [300usize, 5, 700, 1024, 10]
            .iter()
            .map(|&n| Bytes::from(vec![1u8; n]))
            .collect();
        let mut len = pending.iter().map(Bytes::len).sum::<usize>();
        let first = take_front(&mut pending, &mut len, 1024);
        assert_eq!(first.content_length(), 1024);
        assert_eq!(len, 2039 - 1024);
        let second = take_front(&mut pending, &mut len, 1000);
        assert_eq!(second.content_length(), 1000);
        assert_eq!(len, 15);
        assert_eq!(pending.iter().map(Bytes::len).sum::<usize>(), 15);
    }

    #[tokio::test]
    async fn an_aborted_remote_upload_is_gone_and_a_recorded_one_can_be_aborted_later() {
        let whole = Arc::new(object_store::memory::InMemory::new());
        let blobs = BlobStore::new(whole.clone(), 1024).with_multipart(whole.clone(), None);

        // Aborted by the writer (a request that failed).
        let id = BlobStore::new_id();
        let mut w = blobs.writer(&id, None);
        let Written::StartedUpload(upload) = w.write(Bytes::from(vec![7u8; 3000])).await.unwrap()
        else {
            panic!("no upload started");
        };
        w.write(Bytes::from(vec![8u8; 10])).await.unwrap();
        w.abort().await;
        assert!(
            blobs.abort_upload(&id, &upload).await.is_err(),
            "still open"
        );
        assert!(!blobs.exists(&id).await.unwrap());

        // Left behind (a crash), aborted by its recorded id.
        let id = BlobStore::new_id();
        let mut w = blobs.writer(&id, None);
        let Written::StartedUpload(upload) = w.write(Bytes::from(vec![7u8; 3000])).await.unwrap()
        else {
            panic!("no upload started");
        };
        std::mem::forget(w);
        blobs.abort_upload(&id, &upload).await.unwrap();
        assert!(
            blobs.abort_upload(&id, &upload).await.is_err(),
            "aborted twice"
        );
    }

    #[tokio::test]
    async fn local_roundtrip() {
        let dir = tempfile::tempdir().unwrap();
        let fs = object_store::local::LocalFileSystem::new_with_prefix(dir.path())
            .unwrap()
            .with_fsync(true);
        roundtrip(Arc::new(fs)).await;
    }

    #[tokio::test]
    async fn a_local_blob_being_written_is_not_listed() {
        let dir = tempfile::tempdir().unwrap();
        let fs = object_store::local::LocalFileSystem::new_with_prefix(dir.path()).unwrap();
        let blobs = BlobStore::new(Arc::new(fs), 1024).with_local_files(LocalFiles {
            root: dir.path().into(),
            fsync: false,
            direct_from: Some(1),
        });
        let id = BlobStore::new_id();
        let mut w = blobs.writer(&id, Some(3 << 20));
        w.write(Bytes::from(vec![5u8; 3 << 20])).await.unwrap();
        let listed = |blobs: BlobStore| async move {
            blobs
                .list()
                .map_ok(|(id, _)| id)
                .try_collect::<Vec<_>>()
                .await
                .unwrap()
        };
        assert!(listed(blobs.clone()).await.is_empty());
        w.finish().await.unwrap();
        assert_eq!(listed(blobs.clone()).await, [id]);
    }

    #[tokio::test]
    async fn local_roundtrip_through_its_files() {
        let dir = tempfile::tempdir().unwrap();
        let fs = object_store::local::LocalFileSystem::new_with_prefix(dir.path()).unwrap();
        for direct_from in [None, Some(1024)] {
            let blobs = BlobStore::new(Arc::new(fs.clone()), 1024).with_local_files(LocalFiles {
                root: dir.path().into(),
                fsync: true,
                direct_from,
            });
            roundtrip_through(blobs).await;
        }
    }
}
