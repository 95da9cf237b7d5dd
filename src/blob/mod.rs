//! Blob storage behind `object_store`: opaque server-generated ids, streamed writes with a
//! bounded buffer, ranged streaming reads. User keys never become paths here.

pub mod backend;

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};

use crate::error::{Error, Result};

/// How many parts of one blob may be in flight at once; with `chunk` this bounds a writer's memory.
const PART_CONCURRENCY: usize = 2;

#[derive(Clone, Debug)]
pub struct BlobStore {
    store: Arc<dyn ObjectStore>,
    /// Bytes buffered before a write goes out as one part (or as the whole blob if it is the end).
    chunk: usize,
}

impl BlobStore {
    pub fn new(store: Arc<dyn ObjectStore>, chunk: usize) -> Self {
        Self { store, chunk }
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

    pub fn writer(&self, id: &str) -> BlobWriter {
        BlobWriter {
            store: self.store.clone(),
            path: Self::path(id),
            chunk: self.chunk,
            pending: Vec::new(),
            pending_len: 0,
            upload: None,
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
    pending: Vec<Bytes>,
    pending_len: usize,
    upload: Option<WriteMultipart>,
}

impl BlobWriter {
    pub async fn write(&mut self, data: Bytes) -> Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        if let Some(up) = self.upload.as_mut() {
            up.wait_for_capacity(PART_CONCURRENCY).await?;
            up.put(data);
            return Ok(());
        }
        self.pending_len += data.len();
        self.pending.push(data);
        if self.pending_len > self.chunk {
            let upload = self.store.put_multipart(&self.path).await?;
            let mut up = WriteMultipart::new_with_chunk_size(upload, self.chunk);
            for b in self.pending.drain(..) {
                up.wait_for_capacity(PART_CONCURRENCY).await?;
                up.put(b);
            }
            self.pending_len = 0;
            self.upload = Some(up);
        }
        Ok(())
    }

    /// Makes the blob visible (and durable, where the backend was built so).
    pub async fn finish(mut self) -> Result<()> {
        match self.upload.take() {
            Some(up) => {
                up.finish().await?;
            }
            None => {
                let payload: PutPayload = std::mem::take(&mut self.pending).into_iter().collect();
                self.store.put(&self.path, payload).await?;
            }
        }
        Ok(())
    }

    /// Discards a blob that will never be committed.
    pub async fn abort(mut self) {
        if let Some(up) = self.upload.take() {
            if let Err(e) = up.abort().await {
                tracing::warn!(error = %e, "could not abort a blob upload");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn roundtrip(store: Arc<dyn ObjectStore>) {
        let blobs = BlobStore::new(store, 1024);
        for size in [0usize, 10, 1024, 1025, 5000] {
            let id = BlobStore::new_id();
            let data: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
            let mut w = blobs.writer(&id);
            for piece in data.chunks(300) {
                w.write(Bytes::copy_from_slice(piece)).await.unwrap();
            }
            w.finish().await.unwrap();
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
    async fn local_roundtrip() {
        let dir = tempfile::tempdir().unwrap();
        let fs = object_store::local::LocalFileSystem::new_with_prefix(dir.path())
            .unwrap()
            .with_fsync(true);
        roundtrip(Arc::new(fs)).await;
    }
}
