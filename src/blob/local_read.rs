//! Ranged reads of a local blob file in large pieces.
//!
//! `object_store`'s local reader hands out 8 KiB pieces, each read on a blocking thread: a
//! 1 MiB read costs 128 thread hand-offs and the integrity check then copies the pieces back
//! into whole chunks. Here each hand-off reads one [`PIECE`] with `pread` (the first one
//! together with the open), and the next piece is read while the current one is sent, so a
//! stream holds at most two pieces.

use std::fs::File;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};

use crate::error::{Error, Result};

/// Bytes per read: the integrity chunk, so an aligned read hands the verifier whole chunks
/// and it checks them without copying.
pub const PIECE: u64 = crate::integrity::CHUNK;

/// Whole-piece buffers kept for reuse, at most this many: a large read then neither asks
/// the allocator for a megabyte per piece (which glibc keeps in per-thread arenas long after,
/// inflating the resident set) nor zeroes one.
const POOLED: usize = 16;
/// Pieces smaller than this get a buffer of their own.
const POOL_FROM: usize = 64 * 1024;

static POOL: std::sync::Mutex<Vec<Vec<u8>>> = std::sync::Mutex::new(Vec::new());

/// A pooled buffer holding `len` bytes; dropping it (when the last `Bytes` sharing it goes)
/// puts it back.
struct Pooled {
    buf: Vec<u8>,
    len: usize,
}

impl AsRef<[u8]> for Pooled {
    fn as_ref(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        if let Ok(mut free) = POOL.lock() {
            if free.len() < POOLED {
                free.push(std::mem::take(&mut self.buf));
            }
        }
    }
}

fn pooled_buffer() -> Vec<u8> {
    POOL.lock()
        .ok()
        .and_then(|mut free| free.pop())
        .unwrap_or_else(|| vec![0u8; PIECE as usize])
}

/// Reads `range` of `file` into one buffer; a short result means the file ended.
fn read_piece(file: &File, range: Range<u64>) -> std::io::Result<Bytes> {
    let want = (range.end - range.start) as usize;
    if want >= POOL_FROM && want <= PIECE as usize {
        let mut buf = pooled_buffer();
        let len = fill(file, &mut buf[..want], range.start)?;
        return Ok(Bytes::from_owner(Pooled { buf, len }));
    }
    let mut buf = vec![0u8; want];
    let len = fill(file, &mut buf, range.start)?;
    buf.truncate(len);
    Ok(buf.into())
}

/// Reads into `buf` from `at` until it is full or the file ends; returns the bytes read.
fn fill(file: &File, buf: &mut [u8], at: u64) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read_at(&mut buf[filled..], at + filled as u64) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

fn io_error(path: &std::path::Path, e: std::io::Error) -> Error {
    match e.kind() {
        std::io::ErrorKind::NotFound => Error::Blob(format!("{} not found", path.display())),
        _ => Error::Blob(format!("{}: {e}", path.display())),
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Blob(format!("blob read task: {e}")))?
}

/// The pieces of `range`: `PIECE`-sized, cut at multiples of `PIECE` in the file.
fn pieces(range: Range<u64>) -> impl Iterator<Item = Range<u64>> {
    let mut at = range.start;
    std::iter::from_fn(move || {
        if at >= range.end {
            return None;
        }
        let end = ((at / PIECE + 1) * PIECE).min(range.end);
        let piece = at..end;
        at = end;
        Some(piece)
    })
}

/// Streams `range` of `path`; a file that ends early ends the stream early (the caller's
/// length and checksum checks catch it).
pub async fn stream(path: PathBuf, range: Range<u64>) -> Result<BoxStream<'static, Result<Bytes>>> {
    let mut all = pieces(range);
    let Some(first) = all.next() else {
        return Ok(futures::stream::empty().boxed());
    };
    let rest: Vec<Range<u64>> = all.collect();
    let (file, head) = blocking(move || {
        let file = File::open(&path).map_err(|e| io_error(&path, e))?;
        let head = read_piece(&file, first).map_err(|e| io_error(&path, e))?;
        Ok((Arc::new((file, path)), head))
    })
    .await?;
    let tail = futures::stream::iter(rest)
        .map(move |piece| {
            let file = file.clone();
            blocking(move || read_piece(&file.0, piece).map_err(|e| io_error(&file.1, e)))
        })
        // One piece read ahead while the last is sent.
        .buffered(2)
        // An empty piece: the file ended before the range did.
        .try_take_while(|p| futures::future::ready(Ok(!p.is_empty())));
    Ok(futures::stream::once(async move { Ok(head) })
        .chain(tail)
        .boxed())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranges(r: Range<u64>) -> Vec<(u64, u64)> {
        pieces(r).map(|p| (p.start, p.end)).collect()
    }

    #[test]
    fn pieces_are_cut_at_piece_boundaries() {
        assert_eq!(ranges(0..10), [(0, 10)]);
        assert_eq!(ranges(5..PIECE + 3), [(5, PIECE), (PIECE, PIECE + 3)]);
        assert_eq!(ranges(PIECE..3 * PIECE).len(), 2);
        assert!(ranges(7..7).is_empty());
    }

    #[tokio::test]
    async fn ranges_read_back_and_a_missing_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b");
        let data: Vec<u8> = (0..(2 * PIECE + 100)).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        for r in [
            0..data.len() as u64,
            3..PIECE + 9,
            PIECE..2 * PIECE + 100,
            10..11,
        ] {
            let got: Vec<Bytes> = stream(path.clone(), r.clone())
                .await
                .unwrap()
                .try_collect()
                .await
                .unwrap();
            assert_eq!(got.concat(), &data[r.start as usize..r.end as usize]);
        }
        // Past the end: the stream stops short.
        let got: Vec<Bytes> = stream(path.clone(), PIECE..4 * PIECE)
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        assert_eq!(got.concat().len() as u64, PIECE + 100);
        assert!(stream(dir.path().join("gone"), 0..5).await.is_err());
    }
}
