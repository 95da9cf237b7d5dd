//! Encryption at rest of object bytes: AES-256-GCM over fixed chunks.
//!
//! Every encrypted object has a 32-byte data key: a random one for SSE-S3 and SSE-KMS (kept
//! wrapped in the index), the customer's own for SSE-C (never kept). Each blob of the object
//! is encrypted under a key of its own, HMAC-SHA256(data key, blob id), so the chunk number
//! can be the nonce: a (key, nonce) pair never repeats because blob ids are never reused.
//!
//! A blob's plaintext is cut into chunks of [`CHUNK`] bytes; each is stored as its
//! ciphertext followed by its 16-byte tag, so stored chunks are exactly the 1 MiB chunks of
//! [`crate::integrity`] (and of the local backend's reads), stored chunk `i` starts at
//! `i * STORED_CHUNK`, and a ranged read opens only the chunks it needs. The last chunk is
//! sealed under a nonce of its own (a flag byte, as in the STREAM construction), so a blob cut
//! at a chunk boundary fails to open even if its recorded length were changed to match.

use std::ops::Range;

use bytes::{Bytes, BytesMut};
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};

/// Bytes the tag adds to each chunk.
pub const TAG: u64 = 16;
/// Stored bytes of a whole chunk: the integrity layer's chunk.
pub const STORED_CHUNK: u64 = crate::integrity::CHUNK;
/// Plaintext bytes per encrypted chunk.
pub const CHUNK: u64 = STORED_CHUNK - TAG;

/// An object's data key. Its `Debug` shows nothing of it, and it is wiped when dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct DataKey([u8; 32]);

impl Drop for DataKey {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(..)")
    }
}

impl DataKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// A fresh random key.
    pub fn random() -> Self {
        use rand::RngCore;
        let mut k = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut k);
        Self(k)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// HMAC-SHA256 of `msg` under this key.
    pub fn mac(&self, msg: &[u8]) -> [u8; 32] {
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &self.0);
        let tag = ring::hmac::sign(&key, msg);
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        out
    }

    /// The cipher of blob `blob` of the object.
    pub fn blob_cipher(&self, blob: &str) -> Result<BlobCipher, CipherError> {
        let mut derived = self.mac(format!("cnx-sse-v1/{blob}").as_bytes());
        let key = UnboundKey::new(&AES_256_GCM, &derived).map_err(|_| CipherError::Key);
        zeroize::Zeroize::zeroize(&mut derived);
        let key = key?;
        Ok(BlobCipher {
            key: LessSafeKey::new(key),
        })
    }
}

/// Why encrypted bytes were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CipherError {
    #[error("chunk {0} fails authentication (wrong key or damaged bytes)")]
    Auth(u64),
    #[error("the stored bytes end inside a chunk")]
    Truncated,
    #[error("more bytes than the blob's announced length")]
    Longer,
    #[error("AES-256-GCM refused the key")]
    Key,
    #[error("AES-256-GCM refused to seal a chunk")]
    Seal,
}

/// AES-256-GCM of one blob's chunks.
pub struct BlobCipher {
    key: LessSafeKey,
}

fn nonce(index: u64, last: bool) -> Nonce {
    let mut n = [0u8; 12];
    n[0] = u8::from(last);
    n[4..].copy_from_slice(&index.to_be_bytes());
    Nonce::assume_unique_for_key(n)
}

impl BlobCipher {
    /// Encrypts chunk `index` (the blob's `last`, or not) in place and appends its tag.
    pub fn seal(&self, index: u64, last: bool, chunk: &mut BytesMut) -> Result<(), CipherError> {
        let tag = self
            .key
            .seal_in_place_separate_tag(nonce(index, last), Aad::empty(), chunk)
            .map_err(|_| CipherError::Seal)?;
        chunk.extend_from_slice(tag.as_ref());
        Ok(())
    }

    /// Opens stored chunk `index` (ciphertext and tag) in place; leaves the plaintext.
    pub fn open(&self, index: u64, last: bool, stored: &mut BytesMut) -> Result<(), CipherError> {
        let plain = self
            .key
            .open_in_place(nonce(index, last), Aad::empty(), stored)
            .map_err(|_| CipherError::Auth(index))?
            .len();
        stored.truncate(plain);
        Ok(())
    }
}

/// Stored size of `plain` bytes of plaintext.
pub fn stored_len(plain: u64) -> u64 {
    plain + TAG * plain.div_ceil(CHUNK)
}

/// The stored bytes holding plaintext `want` of a blob of `plain` bytes: whole chunks.
pub fn stored_range(want: &Range<u64>, plain: u64) -> Range<u64> {
    let first = want.start / CHUNK;
    let end_chunk = want.end.div_ceil(CHUNK);
    (first * STORED_CHUNK)..(end_chunk.saturating_mul(STORED_CHUNK)).min(stored_len(plain))
}

/// Encrypts a blob's bytes as they are written: whole chunks out. When the blob's length is
/// announced, a chunk is sealed as soon as it is full (its position tells whether it is the
/// last); otherwise a full chunk is held until more bytes come (it is not the last) or the
/// blob ends (it is), so at most two are held.
pub struct Encryptor {
    cipher: BlobCipher,
    index: u64,
    /// The plaintext length announced, if any.
    len: Option<u64>,
    /// Plaintext taken so far.
    taken: u64,
    buf: BytesMut,
    /// A full chunk not yet known to be the last.
    held: Option<BytesMut>,
}

impl Encryptor {
    /// An encryptor of a blob of `len` plaintext bytes when announced. Bytes beyond it are
    /// refused; fewer make a valid shorter blob (the caller's length check refuses it).
    pub fn new(cipher: BlobCipher, len: Option<u64>) -> Self {
        Self {
            cipher,
            index: 0,
            len,
            taken: 0,
            buf: BytesMut::new(),
            held: None,
        }
    }

    /// Takes plaintext; returns the stored bytes of every chunk it completed.
    pub fn update(&mut self, mut data: Bytes) -> Result<Vec<Bytes>, CipherError> {
        if self
            .len
            .is_some_and(|len| self.taken + data.len() as u64 > len)
        {
            return Err(CipherError::Longer);
        }
        let mut out = Vec::new();
        while !data.is_empty() {
            if self.buf.is_empty() {
                // More bytes: the chunk held is not the last.
                if let Some(full) = self.held.take() {
                    out.push(self.seal_next(full, false)?);
                }
                // Room for this chunk only: a short blob's last chunk gets what it needs.
                let left = self.len.map_or(CHUNK, |len| len.saturating_sub(self.taken));
                self.buf.reserve((left.clamp(1, CHUNK) + TAG) as usize);
            }
            let room = CHUNK as usize - self.buf.len();
            let piece = data.split_to(room.min(data.len()));
            self.taken += piece.len() as u64;
            self.buf.extend_from_slice(&piece);
            if self.buf.len() == CHUNK as usize {
                let full = std::mem::take(&mut self.buf);
                match self.len {
                    Some(len) => out.push(self.seal_next(full, self.taken == len)?),
                    None => self.held = Some(full),
                }
            }
        }
        Ok(out)
    }

    /// The stored bytes of the chunks still held, the last sealed as the last (none for an
    /// empty blob or one whose last chunk is already out).
    pub fn finish(mut self) -> Result<Vec<Bytes>, CipherError> {
        let mut out = Vec::new();
        let partial = std::mem::take(&mut self.buf);
        if let Some(full) = self.held.take() {
            let last = partial.is_empty();
            out.push(self.seal_next(full, last)?);
        }
        if !partial.is_empty() {
            out.push(self.seal_next(partial, true)?);
        }
        Ok(out)
    }

    fn seal_next(&mut self, mut chunk: BytesMut, last: bool) -> Result<Bytes, CipherError> {
        self.cipher.seal(self.index, last, &mut chunk)?;
        self.index += 1;
        Ok(chunk.freeze())
    }
}

/// Decrypts the stored bytes of a ranged read (see [`stored_range`]) chunk by chunk and hands
/// back plaintext trimmed to the range asked for. Holds at most one chunk.
pub struct Decryptor {
    cipher: BlobCipher,
    want: Range<u64>,
    /// Index of the chunk being gathered.
    index: u64,
    /// Stored size of that chunk.
    chunk_len: usize,
    plain: u64,
    buf: BytesMut,
}

impl Decryptor {
    /// `want` is plaintext of a blob of `plain` bytes; the stored bytes fed must start at
    /// `stored_range(&want, plain).start`.
    pub fn new(cipher: BlobCipher, want: Range<u64>, plain: u64) -> Self {
        let index = want.start / CHUNK;
        let mut d = Self {
            cipher,
            want,
            index,
            chunk_len: 0,
            plain,
            buf: BytesMut::new(),
        };
        d.chunk_len = d.stored_chunk_len();
        d
    }

    fn stored_chunk_len(&self) -> usize {
        let start = self.index * CHUNK;
        let plain = self.plain.saturating_sub(start).min(CHUNK);
        (plain + TAG) as usize
    }

    /// Feeds stored bytes; returns the plaintext that is ready.
    pub fn feed(&mut self, mut data: Bytes) -> Result<Vec<Bytes>, CipherError> {
        let mut out = Vec::new();
        while !data.is_empty() {
            if self.buf.is_empty() {
                self.buf.reserve(self.chunk_len);
            }
            let need = self.chunk_len - self.buf.len();
            let piece = data.split_to(need.min(data.len()));
            self.buf.extend_from_slice(&piece);
            if self.buf.len() == self.chunk_len {
                let mut chunk = std::mem::take(&mut self.buf);
                let last = (self.index + 1) * CHUNK >= self.plain;
                self.cipher.open(self.index, last, &mut chunk)?;
                let start = self.index * CHUNK;
                let end = start + chunk.len() as u64;
                let lo = self.want.start.max(start);
                let hi = self.want.end.min(end);
                if lo < hi {
                    let chunk = chunk.freeze();
                    out.push(chunk.slice((lo - start) as usize..(hi - start) as usize));
                }
                self.index += 1;
                self.chunk_len = self.stored_chunk_len();
            }
        }
        Ok(out)
    }

    /// The stored bytes ended: nothing may be left half-gathered.
    pub fn finish(&self) -> Result<(), CipherError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(CipherError::Truncated)
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn encrypt(key: &DataKey, blob: &str, data: &[u8], piece: usize) -> Vec<u8> {
        encrypt_as(key, blob, data, piece, None)
    }

    fn encrypt_as(
        key: &DataKey,
        blob: &str,
        data: &[u8],
        piece: usize,
        len: Option<u64>,
    ) -> Vec<u8> {
        let mut e = Encryptor::new(key.blob_cipher(blob).unwrap(), len);
        let mut out = Vec::new();
        for p in data.chunks(piece.max(1)) {
            for b in e.update(Bytes::copy_from_slice(p)).unwrap() {
                out.extend_from_slice(&b);
            }
        }
        for b in e.finish().unwrap() {
            out.extend_from_slice(&b);
        }
        out
    }

    fn decrypt(key: &DataKey, blob: &str, stored: &[u8], want: Range<u64>, plain: u64) -> Vec<u8> {
        let r = stored_range(&want, plain);
        let mut d = Decryptor::new(key.blob_cipher(blob).unwrap(), want, plain);
        let mut out = Vec::new();
        for p in stored[r.start as usize..r.end as usize].chunks(300_001) {
            for b in d.feed(Bytes::copy_from_slice(p)).unwrap() {
                out.extend_from_slice(&b);
            }
        }
        d.finish().unwrap();
        out
    }

    /// An announced length seals each chunk as it fills, into the same bytes as holding it
    /// until the end; a byte beyond the announced length is refused.
    #[test]
    fn an_announced_length_seals_early_into_the_same_bytes() {
        let key = DataKey::random();
        for len in [
            0usize,
            5,
            CHUNK as usize,
            CHUNK as usize + 16,
            2 * CHUNK as usize,
        ] {
            let data: Vec<u8> = (0..len).map(|i| (i * 7 % 253) as u8).collect();
            for piece in [1000, CHUNK as usize, 3 * CHUNK as usize] {
                let held = encrypt(&key, "b", &data, piece);
                let early = encrypt_as(&key, "b", &data, piece, Some(len as u64));
                assert!(held == early, "{len} in pieces of {piece}");
            }
        }
        let mut e = Encryptor::new(key.blob_cipher("b").unwrap(), Some(CHUNK));
        let out = e.update(Bytes::from(vec![1u8; CHUNK as usize])).unwrap();
        assert_eq!(out.len(), 1, "sealed at once, not held");
        assert!(matches!(
            e.update(Bytes::from_static(b"x")),
            Err(CipherError::Longer)
        ));
        let mut e = Encryptor::new(key.blob_cipher("b").unwrap(), Some(CHUNK));
        let over = Bytes::from(vec![1u8; CHUNK as usize + 1]);
        assert!(matches!(e.update(over), Err(CipherError::Longer)));
    }

    #[test]
    fn round_trips_any_range_of_any_length() {
        let key = DataKey::random();
        for len in [
            0usize,
            1,
            100,
            CHUNK as usize,
            CHUNK as usize + 1,
            2 * CHUNK as usize,
            3 * CHUNK as usize - 7,
        ] {
            let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            let stored = encrypt(&key, "b1", &data, 70_000);
            assert_eq!(stored.len() as u64, stored_len(len as u64), "{len}");
            if len >= 16 {
                assert!(
                    !stored.windows(16).any(|w| w == &data[..16]),
                    "no plaintext"
                );
            }
            let n = len as u64;
            for want in [
                0..n,
                n / 3..n,
                0..n / 2,
                n / 2..n / 2 + 1,
                n.saturating_sub(1)..n,
            ] {
                if want.is_empty() || want.end > n {
                    continue;
                }
                let got = decrypt(&key, "b1", &stored, want.clone(), n);
                assert_eq!(
                    got,
                    &data[want.start as usize..want.end as usize],
                    "{len} {want:?}"
                );
            }
        }
    }

    #[test]
    fn a_wrong_key_another_blob_or_a_flipped_byte_fail() {
        let key = DataKey::random();
        let data = vec![7u8; 5000];
        let stored = encrypt(&key, "b1", &data, 5000);
        let open = |k: &DataKey, blob: &str, s: &[u8]| {
            let mut d = Decryptor::new(k.blob_cipher(blob).unwrap(), 0..5000, 5000);
            d.feed(Bytes::copy_from_slice(s)).map(|_| ())
        };
        assert!(open(&key, "b1", &stored).is_ok());
        assert_eq!(
            open(&DataKey::random(), "b1", &stored),
            Err(CipherError::Auth(0))
        );
        assert_eq!(open(&key, "b2", &stored), Err(CipherError::Auth(0)));
        let mut bad = stored.clone();
        bad[10] ^= 1;
        assert_eq!(open(&key, "b1", &bad), Err(CipherError::Auth(0)));
        let mut d = Decryptor::new(key.blob_cipher("b1").unwrap(), 0..5000, 5000);
        d.feed(Bytes::copy_from_slice(&stored[..100])).unwrap();
        assert_eq!(d.finish(), Err(CipherError::Truncated));
    }

    #[test]
    fn a_blob_cut_at_a_chunk_boundary_does_not_open_as_a_shorter_one() {
        let key = DataKey::random();
        let n = 2 * CHUNK as usize + 10;
        let stored = encrypt(&key, "b1", &vec![5u8; n], n);
        let cut = &stored[..2 * STORED_CHUNK as usize];
        let mut d = Decryptor::new(key.blob_cipher("b1").unwrap(), 0..2 * CHUNK, 2 * CHUNK);
        assert_eq!(
            d.feed(Bytes::copy_from_slice(cut)).map(|_| ()),
            Err(CipherError::Auth(1))
        );
    }

    #[test]
    fn stored_ranges_cover_whole_chunks() {
        let n = 2 * CHUNK + 10;
        assert_eq!(stored_range(&(0..1), n), 0..STORED_CHUNK);
        assert_eq!(
            stored_range(&(CHUNK..CHUNK + 1), n),
            STORED_CHUNK..2 * STORED_CHUNK
        );
        assert_eq!(stored_range(&(0..n), n), 0..stored_len(n));
        assert_eq!(stored_len(n), n + 3 * TAG);
    }
}
