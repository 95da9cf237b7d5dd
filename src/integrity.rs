//! Chunk checksums of blobs: computed while a blob is written, kept in the index, and checked
//! on every read, so a flipped or missing byte on disk is never served as a good object.
//!
//! A blob is cut into fixed chunks of [`CHUNK`] bytes (the last one shorter); each has a
//! CRC32C. A reader fetches whole chunks, checks each before passing any of its bytes on, and
//! trims them to the range asked for. Memory per reader is one chunk.

use bytes::{Bytes, BytesMut};

/// Bytes per checksummed chunk.
pub const CHUNK: u64 = 1 << 20;

const FORMAT: u8 = 1;

/// The chunk checksums of one blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkSums {
    pub chunk: u64,
    pub len: u64,
    pub crcs: Vec<u32>,
}

impl ChunkSums {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(17 + 4 * self.crcs.len());
        out.push(FORMAT);
        out.extend_from_slice(&self.chunk.to_be_bytes());
        out.extend_from_slice(&self.len.to_be_bytes());
        for c in &self.crcs {
            out.extend_from_slice(&c.to_be_bytes());
        }
        out
    }

    pub fn decode(raw: &[u8]) -> Option<Self> {
        let (&format, rest) = raw.split_first()?;
        if format != FORMAT || rest.len() < 16 || (rest.len() - 16) % 4 != 0 {
            return None;
        }
        let chunk = u64::from_be_bytes(rest[..8].try_into().ok()?);
        let len = u64::from_be_bytes(rest[8..16].try_into().ok()?);
        let crcs: Vec<u32> = rest[16..]
            .chunks_exact(4)
            .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        let ok = chunk > 0 && crcs.len() as u64 == len.div_ceil(chunk);
        ok.then_some(Self { chunk, len, crcs })
    }

    /// The whole chunks covering `range`, as a byte range of the blob.
    pub fn aligned(&self, range: &std::ops::Range<u64>) -> std::ops::Range<u64> {
        let start = range.start / self.chunk * self.chunk;
        let end = range.end.div_ceil(self.chunk).saturating_mul(self.chunk);
        start..end.min(self.len)
    }
}

/// Computes [`ChunkSums`] over bytes as they are written.
#[derive(Debug)]
pub struct ChunkSummer {
    chunk: u64,
    crcs: Vec<u32>,
    current: u32,
    in_chunk: u64,
    len: u64,
}

impl Default for ChunkSummer {
    fn default() -> Self {
        Self::with_chunk(CHUNK)
    }
}

impl ChunkSummer {
    /// A summer of chunks of `chunk` bytes (encrypted blobs have larger ones: each chunk of
    /// plaintext plus its tag).
    pub fn with_chunk(chunk: u64) -> Self {
        Self {
            chunk: chunk.max(1),
            crcs: Vec::new(),
            current: 0,
            in_chunk: 0,
            len: 0,
        }
    }

    pub fn update(&mut self, mut data: &[u8]) {
        self.len += data.len() as u64;
        while !data.is_empty() {
            let room = usize::try_from(self.chunk - self.in_chunk).unwrap_or(usize::MAX);
            let (now, rest) = data.split_at(room.min(data.len()));
            self.current = crc32c::crc32c_append(self.current, now);
            self.in_chunk += now.len() as u64;
            if self.in_chunk == self.chunk {
                self.crcs.push(self.current);
                self.current = 0;
                self.in_chunk = 0;
            }
            data = rest;
        }
    }

    pub fn finish(mut self) -> ChunkSums {
        if self.in_chunk > 0 {
            self.crcs.push(self.current);
        }
        ChunkSums {
            chunk: self.chunk,
            len: self.len,
            crcs: self.crcs,
        }
    }
}

/// Why a blob's bytes were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Mismatch {
    #[error("chunk {chunk} (bytes {start}..{end}) fails its CRC32C")]
    Checksum { chunk: u64, start: u64, end: u64 },
    #[error("the blob ends at byte {got}; {want} bytes were written")]
    Truncated { got: u64, want: u64 },
    #[error("the blob is longer than the {want} bytes written")]
    Overlong { want: u64 },
}

/// Checks the bytes of an aligned read (see [`ChunkSums::aligned`]) chunk by chunk and hands
/// back only verified bytes, trimmed to `want`.
pub struct Verifier {
    sums: ChunkSums,
    want: std::ops::Range<u64>,
    /// Blob offset of the first byte in `buf`.
    at: u64,
    end: u64,
    buf: BytesMut,
}

impl Verifier {
    /// `want` is the range the caller asked for; the bytes fed must start at
    /// `sums.aligned(&want).start`.
    pub fn new(sums: ChunkSums, want: std::ops::Range<u64>) -> Self {
        let aligned = sums.aligned(&want);
        Self {
            want,
            at: aligned.start,
            end: aligned.end,
            buf: BytesMut::new(),
            sums,
        }
    }

    fn chunk_end(&self) -> u64 {
        (self.at + self.sums.chunk).min(self.end)
    }

    /// Feeds bytes as they arrive; returns the verified bytes that are ready.
    pub fn feed(&mut self, data: Bytes) -> Result<Vec<Bytes>, Mismatch> {
        let mut out = Vec::new();
        let mut data = data;
        while !data.is_empty() {
            if self.at >= self.end {
                return Err(Mismatch::Overlong { want: self.end });
            }
            let chunk_len = usize::try_from(self.chunk_end() - self.at).unwrap_or(usize::MAX);
            let need = chunk_len - self.buf.len();
            let piece = data.split_to(need.min(data.len()));
            if self.buf.is_empty() && piece.len() == chunk_len {
                // A whole chunk in one piece: checked without a copy.
                self.check(&piece)?;
                self.emit(piece, &mut out);
            } else {
                if self.buf.is_empty() {
                    self.buf.reserve(chunk_len);
                }
                self.buf.extend_from_slice(&piece);
                if self.buf.len() == chunk_len {
                    let whole = std::mem::take(&mut self.buf).freeze();
                    self.check(&whole)?;
                    self.emit(whole, &mut out);
                }
            }
        }
        Ok(out)
    }

    /// The read ended: it must have covered every chunk it started on.
    pub fn finish(&self) -> Result<(), Mismatch> {
        if self.at < self.end {
            return Err(Mismatch::Truncated {
                got: self.at + self.buf.len() as u64,
                want: self.end,
            });
        }
        Ok(())
    }

    fn check(&self, chunk: &[u8]) -> Result<(), Mismatch> {
        let index = self.at / self.sums.chunk;
        let want = usize::try_from(index)
            .ok()
            .and_then(|i| self.sums.crcs.get(i));
        match want {
            Some(&crc) if crc32c::crc32c(chunk) == crc => Ok(()),
            _ => Err(Mismatch::Checksum {
                chunk: index,
                start: self.at,
                end: self.at + chunk.len() as u64,
            }),
        }
    }

    /// Passes on the part of a verified chunk that lies in `want`.
    fn emit(&mut self, chunk: Bytes, out: &mut Vec<Bytes>) {
        let (start, end) = (self.at, self.at + chunk.len() as u64);
        self.at = end;
        let lo = self.want.start.max(start);
        let hi = self.want.end.min(end);
        if lo < hi {
            let (a, b) = ((lo - start) as usize, (hi - start) as usize);
            out.push(chunk.slice(a..b));
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn data(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 % 251) as u8).collect()
    }

    fn sums_of(d: &[u8], pieces: usize) -> ChunkSums {
        let mut s = ChunkSummer::default();
        for p in d.chunks(pieces.max(1)) {
            s.update(p);
        }
        s.finish()
    }

    fn read(
        d: &[u8],
        sums: &ChunkSums,
        want: std::ops::Range<u64>,
        piece: usize,
    ) -> Result<Vec<u8>, Mismatch> {
        let a = sums.aligned(&want);
        let mut v = Verifier::new(sums.clone(), want);
        let mut out = Vec::new();
        for p in d[a.start as usize..a.end as usize].chunks(piece) {
            for b in v.feed(Bytes::copy_from_slice(p))? {
                out.extend_from_slice(&b);
            }
        }
        v.finish()?;
        Ok(out)
    }

    #[test]
    fn sums_do_not_depend_on_how_bytes_arrive() {
        let d = data(3 * CHUNK as usize + 12345);
        let a = sums_of(&d, 1000);
        let b = sums_of(&d, CHUNK as usize);
        assert_eq!(a, b);
        assert_eq!(a.crcs.len(), 4);
        assert_eq!(ChunkSums::decode(&a.encode()), Some(a.clone()));
        assert_eq!(ChunkSums::decode(&a.encode()[1..]), None);
        let empty = ChunkSummer::default().finish();
        assert_eq!((empty.len, empty.crcs.len()), (0, 0));
        assert_eq!(ChunkSums::decode(&empty.encode()), Some(empty));
    }

    #[test]
    fn verified_ranges_are_exact() {
        let n = 2 * CHUNK as usize + 999;
        let d = data(n);
        let s = sums_of(&d, 4096);
        let c = CHUNK;
        for want in [
            0..n as u64,
            0..1,
            5..6,
            c - 1..c + 1,
            c..2 * c,
            2 * c..n as u64,
            n as u64 - 1..n as u64,
            123..2 * c + 5,
        ] {
            for piece in [1usize << 20, 65536, 1000, 7] {
                if piece == 7 && want.end - want.start > 100_000 {
                    continue;
                }
                let got = read(&d, &s, want.clone(), piece).unwrap();
                assert_eq!(
                    got,
                    &d[want.start as usize..want.end as usize],
                    "{want:?} by {piece}"
                );
            }
        }
    }

    #[test]
    fn a_flipped_byte_or_a_short_blob_is_refused() {
        let n = 2 * CHUNK as usize + 10;
        let d = data(n);
        let s = sums_of(&d, 4096);
        let mut bad = d.clone();
        bad[CHUNK as usize + 5] ^= 0x40;
        // The chunk before the flip is still served; the bad one never is.
        let a = s.aligned(&(0..n as u64));
        let mut v = Verifier::new(s.clone(), 0..n as u64);
        let mut served = 0;
        let mut err = None;
        for p in bad[a.start as usize..a.end as usize].chunks(65536) {
            match v.feed(Bytes::copy_from_slice(p)) {
                Ok(out) => served += out.iter().map(Bytes::len).sum::<usize>(),
                Err(e) => {
                    err = Some(e);
                    break;
                }
            }
        }
        assert_eq!(served, CHUNK as usize);
        assert!(
            matches!(err, Some(Mismatch::Checksum { chunk: 1, .. })),
            "{err:?}"
        );
        // Truncated: the read ends early.
        let mut v = Verifier::new(s.clone(), 0..n as u64);
        v.feed(Bytes::copy_from_slice(&d[..n - 3])).unwrap();
        assert!(matches!(v.finish(), Err(Mismatch::Truncated { .. })));
        // Overlong.
        let mut v = Verifier::new(s, 0..n as u64);
        let mut long = d.clone();
        long.push(0);
        assert!(v.feed(Bytes::from(long)).is_err());
    }
}
