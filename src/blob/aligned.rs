//! Page-aligned 1 MiB buffers, pooled, for the local backend's reads and writes.
//!
//! Direct I/O (`O_DIRECT`) needs buffers, offsets and lengths aligned to the device's block;
//! the pool also keeps a busy server from asking the allocator for a megabyte per piece
//! (which glibc keeps in per-thread arenas long after, inflating the resident set) and from
//! zeroing one each time.

use bytes::Bytes;

/// The alignment direct I/O needs on every Linux filesystem in use (4 KiB pages and blocks).
pub const ALIGN: usize = 4096;
/// Bytes per buffer: the integrity chunk, so a read of one chunk fills one buffer.
pub const SIZE: usize = crate::integrity::CHUNK as usize;
/// Buffers kept for reuse, at most.
const POOLED: usize = 8;

static POOL: std::sync::Mutex<Vec<Vec<u8>>> = std::sync::Mutex::new(Vec::new());

/// `SIZE` bytes starting at an `ALIGN` boundary, inside an allocation a little larger (so no
/// unsafe allocator call is needed to get the alignment).
pub struct AlignedBuf {
    raw: Vec<u8>,
    start: usize,
}

impl AlignedBuf {
    /// A buffer from the pool, else a new one (zeroed, as a new allocation is).
    pub fn take() -> Self {
        let raw = POOL
            .lock()
            .ok()
            .and_then(|mut free| free.pop())
            .unwrap_or_else(|| vec![0u8; SIZE + ALIGN]);
        let start = raw.as_ptr().align_offset(ALIGN);
        Self { raw, start }
    }

    pub fn as_slice(&self) -> &[u8] {
        &self.raw[self.start..self.start + SIZE]
    }

    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        &mut self.raw[self.start..self.start + SIZE]
    }

    /// `range` of the buffer as `Bytes` without a copy; the buffer returns to the pool when
    /// the last of them is dropped.
    pub fn into_bytes(self, range: std::ops::Range<usize>) -> Bytes {
        let range = range.start.min(SIZE)..range.end.min(SIZE);
        Bytes::from_owner(Shared { buf: self, range })
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        if let Ok(mut free) = POOL.lock() {
            if free.len() < POOLED {
                free.push(std::mem::take(&mut self.raw));
            }
        }
    }
}

/// An `AlignedBuf` shared as `Bytes`.
struct Shared {
    buf: AlignedBuf,
    range: std::ops::Range<usize>,
}

impl AsRef<[u8]> for Shared {
    fn as_ref(&self) -> &[u8] {
        &self.buf.as_slice()[self.range.clone()]
    }
}

/// `n` rounded up to a multiple of `ALIGN`.
pub fn align_up(n: usize) -> usize {
    n.div_ceil(ALIGN) * ALIGN
}

/// `n` rounded down to a multiple of `ALIGN`.
pub fn align_down(n: u64) -> u64 {
    n - n % ALIGN as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_are_aligned_and_come_back() {
        let mut b = AlignedBuf::take();
        assert_eq!(b.as_slice().as_ptr() as usize % ALIGN, 0);
        assert_eq!(b.as_slice().len(), SIZE);
        b.as_mut_slice()[..3].copy_from_slice(b"abc");
        let bytes = b.into_bytes(1..3);
        assert_eq!(&bytes[..], b"bc");
        let again = AlignedBuf::take();
        assert_eq!(again.as_slice().as_ptr() as usize % ALIGN, 0);
        assert_eq!(align_up(1), ALIGN);
        assert_eq!(align_up(ALIGN), ALIGN);
        assert_eq!(align_down(ALIGN as u64 + 5), ALIGN as u64);
    }
}
