//! Ranged reads of a local blob file in large pieces.
//!
//! `object_store`'s local reader hands out 8 KiB pieces, each read on a blocking thread: a
//! 1 MiB read costs 128 thread hand-offs and the integrity check then copies the pieces back
//! into whole chunks. Here each hand-off reads one [`PIECE`] with `pread` (the first one
//! together with the open) into a pooled buffer, and the next piece is read while the current
//! one is sent, so a stream holds at most two pieces.
//!
//! A large blob (written directly, see `local_write`) is read directly from the device too,
//! so streaming it neither fills the page cache with fresh pages (slow to touch where free
//! memory goes back to a hypervisor) nor evicts the small objects that live there. Probing
//! the cache first does not work: a `RWF_NOWAIT` read that misses still starts the read
//! into the cache (measured: the device then serves every byte twice, 1.7 → 0.7 GB/s).

use std::fs::{File, OpenOptions};
use std::ops::Range;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};

use super::aligned::{self, AlignedBuf};
use crate::error::{Error, Result};

/// Bytes per read: the integrity chunk, so an aligned read hands the verifier whole chunks
/// and it checks them without copying.
pub const PIECE: u64 = crate::integrity::CHUNK;

/// Pieces in flight per stream: a large blob read from the device gains from four (1 MiB
/// direct reads take ~2 ms each here, the device serves several at once).
const READ_AHEAD: usize = 4;

/// Pieces smaller than this get a buffer of their own.
const POOL_FROM: usize = 64 * 1024;

/// One open blob file.
struct Source {
    path: PathBuf,
    file: File,
    /// Whether reads bypass the page cache.
    direct_io: bool,
    /// The same file opened with `O_DIRECT`, on the first read of a large blob; `None`
    /// inside when the filesystem refuses direct I/O.
    direct: std::sync::OnceLock<Option<File>>,
}

impl Source {
    fn open(path: PathBuf, direct_from: Option<u64>) -> Result<Self> {
        let file = File::open(&path).map_err(|e| io_error(&path, e))?;
        let len = file.metadata().map_err(|e| io_error(&path, e))?.len();
        Ok(Self {
            path,
            file,
            direct_io: direct_from.is_some_and(|from| len >= from),
            direct: std::sync::OnceLock::new(),
        })
    }

    fn direct(&self) -> Option<&File> {
        self.direct
            .get_or_init(|| {
                OpenOptions::new()
                    .read(true)
                    .custom_flags(libc::O_DIRECT)
                    .open(&self.path)
                    .ok()
            })
            .as_ref()
    }

    /// Reads `range` into one buffer; a short result means the file ended.
    fn read_piece(&self, range: Range<u64>) -> std::io::Result<Bytes> {
        let want = (range.end - range.start) as usize;
        if !(POOL_FROM..=aligned::SIZE).contains(&want) {
            let mut buf = vec![0u8; want];
            let len = fill(&self.file, &mut buf, range.start)?;
            buf.truncate(len);
            return Ok(buf.into());
        }
        let mut buf = AlignedBuf::take();
        if self.direct_io {
            if let Some(direct) = self.direct() {
                // Whole blocks around the range; they stay within the piece's chunk, so
                // within one buffer.
                let from = aligned::align_down(range.start);
                let skip = (range.start - from) as usize;
                let span = aligned::align_up(skip + want).min(aligned::SIZE);
                let got = fill_direct(direct, &mut buf.as_mut_slice()[..span], from)?;
                return Ok(buf.into_bytes(skip.min(got)..got.min(skip + want)));
            }
        }
        let len = fill(&self.file, &mut buf.as_mut_slice()[..want], range.start)?;
        Ok(buf.into_bytes(0..len))
    }
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

/// `fill` for a file opened with `O_DIRECT`: a read that ends off a block boundary is the
/// end of the file (the next one, at an unaligned offset, would be refused).
fn fill_direct(file: &File, buf: &mut [u8], at: u64) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read_at(&mut buf[filled..], at + filled as u64) {
            Ok(0) => break,
            Ok(n) => {
                filled += n;
                if filled % aligned::ALIGN != 0 {
                    break;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

fn io_error(path: &std::path::Path, e: std::io::Error) -> Error {
    Error::blob_io(path, &e)
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
pub async fn stream(
    path: PathBuf,
    range: Range<u64>,
    direct_from: Option<u64>,
) -> Result<BoxStream<'static, Result<Bytes>>> {
    let mut all = pieces(range);
    let Some(first) = all.next() else {
        return Ok(futures::stream::empty().boxed());
    };
    let rest: Vec<Range<u64>> = all.collect();
    let (src, head) = blocking(move || {
        let src = Source::open(path, direct_from)?;
        let head = src.read_piece(first).map_err(|e| io_error(&src.path, e))?;
        Ok((Arc::new(src), head))
    })
    .await?;
    let tail = futures::stream::iter(rest)
        .map(move |piece| {
            let src = src.clone();
            blocking(move || src.read_piece(piece).map_err(|e| io_error(&src.path, e)))
        })
        // One piece read ahead while the last is sent.
        .buffered(READ_AHEAD)
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

    async fn read(path: &std::path::Path, r: Range<u64>, direct_from: Option<u64>) -> Vec<u8> {
        let got: Vec<Bytes> = stream(path.to_owned(), r, direct_from)
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        got.concat()
    }

    /// Ranges of every shape, and one past the end (the stream stops short).
    async fn check_ranges(path: &std::path::Path, data: &[u8], direct_from: Option<u64>) {
        let len = data.len() as u64;
        for r in [
            0..len,
            3..PIECE + 9,
            PIECE..len,
            10..11,
            4097..2 * PIECE - 5,
            len - 5000..len,
        ] {
            let got = read(path, r.clone(), direct_from).await;
            assert!(got == data[r.start as usize..r.end as usize], "{r:?}");
        }
        let got = read(path, PIECE..len + 4 * PIECE, direct_from).await;
        assert_eq!(got.len() as u64, len - PIECE);
    }

    #[tokio::test]
    async fn ranges_read_back_and_a_missing_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b");
        let data: Vec<u8> = (0..(2 * PIECE + 100)).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        check_ranges(&path, &data, None).await;
        assert!(stream(dir.path().join("gone"), 0..5, None).await.is_err());
    }

    #[tokio::test]
    async fn a_large_blob_reads_back_from_the_device_even_when_cached() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big");
        let data: Vec<u8> = (0..(4 * PIECE + 100)).map(|i| (i % 249) as u8).collect();
        // Written directly, so none of it is in the page cache.
        let mut w = super::super::local_write::LocalWriter::new(path.clone(), true, false);
        w.write(Bytes::from(data.clone())).await.unwrap();
        w.finish().await.unwrap();
        check_ranges(&path, &data, Some(1)).await;
        assert!(std::fs::read(&path).unwrap() == data);
        check_ranges(&path, &data, Some(1)).await;
    }
}
