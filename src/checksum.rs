//! Flexible checksums (`x-amz-checksum-*`) and the MD5 behind ETags, computed while bytes flow.
//!
//! See <https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html>.
//! Values travel base64-encoded, big-endian for the CRCs, as AWS sends them.

use base64::Engine as _;
use md5::Digest as _;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChecksumAlgorithm {
    Crc32,
    Crc32c,
    Crc64Nvme,
    Sha1,
    Sha256,
}

impl ChecksumAlgorithm {
    pub const ALL: [ChecksumAlgorithm; 5] = [
        Self::Crc32,
        Self::Crc32c,
        Self::Crc64Nvme,
        Self::Sha1,
        Self::Sha256,
    ];

    /// Parses the value of `x-amz-sdk-checksum-algorithm` / `x-amz-checksum-algorithm`.
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_uppercase().as_str() {
            "CRC32" => Some(Self::Crc32),
            "CRC32C" => Some(Self::Crc32c),
            "CRC64NVME" => Some(Self::Crc64Nvme),
            "SHA1" => Some(Self::Sha1),
            "SHA256" => Some(Self::Sha256),
            _ => None,
        }
    }

    /// The name in `x-amz-checksum-algorithm` and XML (`CRC64NVME`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Crc32 => "CRC32",
            Self::Crc32c => "CRC32C",
            Self::Crc64Nvme => "CRC64NVME",
            Self::Sha1 => "SHA1",
            Self::Sha256 => "SHA256",
        }
    }

    /// The header that carries a value of this algorithm.
    pub fn header(self) -> &'static str {
        match self {
            Self::Crc32 => "x-amz-checksum-crc32",
            Self::Crc32c => "x-amz-checksum-crc32c",
            Self::Crc64Nvme => "x-amz-checksum-crc64nvme",
            Self::Sha1 => "x-amz-checksum-sha1",
            Self::Sha256 => "x-amz-checksum-sha256",
        }
    }

    pub fn from_header(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.header() == name)
    }

    fn digest_len(self) -> usize {
        match self {
            Self::Crc32 | Self::Crc32c => 4,
            Self::Crc64Nvme => 8,
            Self::Sha1 => 20,
            Self::Sha256 => 32,
        }
    }

    /// Whether `value` is well-formed base64 of the right length for this algorithm.
    pub fn is_valid_value(self, value: &str) -> bool {
        base64::engine::general_purpose::STANDARD
            .decode(value)
            .is_ok_and(|d| d.len() == self.digest_len())
    }
}

impl ChecksumAlgorithm {
    /// The reflected polynomial of the CRCs, whose checksums of parts combine into the
    /// checksum of the whole (`FULL_OBJECT`); `None` for the SHAs.
    fn crc_poly(self) -> Option<(u64, u32)> {
        match self {
            Self::Crc32 => Some((0xEDB8_8320, 32)),
            Self::Crc32c => Some((0x82F6_3B78, 32)),
            Self::Crc64Nvme => Some((0x9A6C_9329_AC4B_C9B5, 64)),
            Self::Sha1 | Self::Sha256 => None,
        }
    }

    pub fn supports_full_object(self) -> bool {
        self.crc_poly().is_some()
    }

    /// The checksum over the concatenation of the given `(base64 value, length)` pieces,
    /// for the CRCs; `None` for the SHAs or a malformed value.
    pub fn combine(self, parts: &[(&str, u64)]) -> Option<String> {
        let (poly, width) = self.crc_poly()?;
        let mut acc: Option<u64> = None;
        for (value, len) in parts {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(value)
                .ok()?;
            let mut v = 0u64;
            for b in &bytes {
                v = (v << 8) | u64::from(*b);
            }
            acc = Some(match acc {
                None => v,
                Some(a) => crc_combine(poly, width, a, v, *len),
            });
        }
        let out = acc.unwrap_or(0);
        let bytes = out.to_be_bytes();
        let start = 8 - (width as usize / 8);
        Some(base64::engine::general_purpose::STANDARD.encode(&bytes[start..]))
    }

    /// A checksum of the part checksums (`COMPOSITE`), with the `-N` suffix S3 shows.
    pub fn composite(self, part_values: &[&str]) -> Option<String> {
        let mut h = ChecksumHasher::new(self);
        for v in part_values {
            h.update(&base64::engine::general_purpose::STANDARD.decode(v).ok()?);
        }
        Some(format!("{}-{}", h.finish().value, part_values.len()))
    }
}

/// zlib's crc32_combine, generalised to any reflected CRC whose init and final xor are all
/// ones: the CRC of A‖B from crc(A), crc(B) and len(B), by applying len(B) zero bytes to
/// crc(A) as repeated squaring of the shift operator over GF(2).
fn crc_combine(poly: u64, width: u32, crc1: u64, crc2: u64, len2: u64) -> u64 {
    fn times(mat: &[u64; 64], mut vec: u64) -> u64 {
        let mut sum = 0;
        let mut i = 0;
        while vec != 0 {
            if vec & 1 != 0 {
                sum ^= mat[i];
            }
            vec >>= 1;
            i += 1;
        }
        sum
    }
    fn square(mat: &[u64; 64], width: usize) -> [u64; 64] {
        let mut out = [0u64; 64];
        for n in 0..width {
            out[n] = times(mat, mat[n]);
        }
        out
    }
    if len2 == 0 {
        return crc1;
    }
    let w = width as usize;
    // The operator for one zero bit, then two, then four.
    let mut odd = [0u64; 64];
    odd[0] = poly;
    for (n, slot) in odd.iter_mut().enumerate().take(w).skip(1) {
        *slot = 1u64 << (n - 1);
    }
    let mut even = square(&odd, w);
    odd = square(&even, w);
    let mut crc1 = crc1;
    let mut len = len2;
    loop {
        even = square(&odd, w);
        if len & 1 != 0 {
            crc1 = times(&even, crc1);
        }
        len >>= 1;
        if len == 0 {
            break;
        }
        odd = square(&even, w);
        if len & 1 != 0 {
            crc1 = times(&odd, crc1);
        }
        len >>= 1;
        if len == 0 {
            break;
        }
    }
    crc1 ^ crc2
}

/// A checksum as stored with an object and returned to clients.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checksum {
    pub algorithm: ChecksumAlgorithm,
    /// base64 of the digest.
    pub value: String,
}

enum State {
    Crc32(crc32fast::Hasher),
    Crc32c(u32),
    Crc64Nvme(crc64fast_nvme::Digest),
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
}

/// An incremental checksum of one algorithm.
pub struct ChecksumHasher {
    algorithm: ChecksumAlgorithm,
    state: State,
}

impl ChecksumHasher {
    pub fn new(algorithm: ChecksumAlgorithm) -> Self {
        let state = match algorithm {
            ChecksumAlgorithm::Crc32 => State::Crc32(crc32fast::Hasher::new()),
            ChecksumAlgorithm::Crc32c => State::Crc32c(0),
            ChecksumAlgorithm::Crc64Nvme => State::Crc64Nvme(crc64fast_nvme::Digest::new()),
            ChecksumAlgorithm::Sha1 => State::Sha1(sha1::Sha1::new()),
            ChecksumAlgorithm::Sha256 => State::Sha256(sha2::Sha256::new()),
        };
        Self { algorithm, state }
    }

    pub fn update(&mut self, data: &[u8]) {
        match &mut self.state {
            State::Crc32(h) => h.update(data),
            State::Crc32c(c) => *c = crc32c::crc32c_append(*c, data),
            State::Crc64Nvme(h) => h.write(data),
            State::Sha1(h) => h.update(data),
            State::Sha256(h) => h.update(data),
        }
    }

    pub fn finish(self) -> Checksum {
        let bytes: Vec<u8> = match self.state {
            State::Crc32(h) => h.finalize().to_be_bytes().to_vec(),
            State::Crc32c(c) => c.to_be_bytes().to_vec(),
            State::Crc64Nvme(h) => h.sum64().to_be_bytes().to_vec(),
            State::Sha1(h) => h.finalize().to_vec(),
            State::Sha256(h) => h.finalize().to_vec(),
        };
        Checksum {
            algorithm: self.algorithm,
            value: base64::engine::general_purpose::STANDARD.encode(bytes),
        }
    }
}

/// Everything a PUT computes over the object bytes in one pass.
pub struct ObjectHasher {
    md5: md5::Md5,
    checksum: ChecksumHasher,
    /// The client's algorithm when it differs from the one stored.
    sent: Option<ChecksumHasher>,
    len: u64,
}

/// What an `ObjectHasher` produced.
pub struct ObjectDigests {
    pub md5: [u8; 16],
    /// The checksum to store.
    pub checksum: Checksum,
    /// The checksum of the client's algorithm, to verify what it sent.
    pub sent: Checksum,
    pub len: u64,
}

impl ObjectHasher {
    /// Computes `sent` (the client's algorithm) and stores `store`; either may be absent,
    /// and S3 stores CRC64NVME when none is named.
    pub fn new(sent: Option<ChecksumAlgorithm>, store: Option<ChecksumAlgorithm>) -> Self {
        let stored = store.or(sent).unwrap_or(ChecksumAlgorithm::Crc64Nvme);
        Self {
            md5: md5::Md5::new(),
            checksum: ChecksumHasher::new(stored),
            sent: sent.filter(|s| *s != stored).map(ChecksumHasher::new),
            len: 0,
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        self.md5.update(data);
        self.checksum.update(data);
        if let Some(s) = self.sent.as_mut() {
            s.update(data);
        }
        self.len += data.len() as u64;
    }

    pub fn finish(self) -> ObjectDigests {
        let checksum = self.checksum.finish();
        ObjectDigests {
            md5: self.md5.finalize().into(),
            sent: self
                .sent
                .map_or_else(|| checksum.clone(), ChecksumHasher::finish),
            checksum,
            len: self.len,
        }
    }
}

/// Bodies announced at least this large are hashed beside the receiving task.
pub const HASH_BESIDE_FROM: u64 = 4 << 20;
/// Bytes handed to the hashing thread at a time.
const BATCH: usize = 1 << 20;

/// An [`ObjectHasher`] for a request body: on the receiving task for small bodies, beside it
/// for large ones. MD5 runs at ~600 MB/s on one core and cannot be split, so a large PUT that
/// hashes where it receives is held to that speed less the receiving; beside it, receiving
/// and hashing use a core each. Each 1 MiB batch is hashed by a blocking task of its own
/// while the next one arrives: no thread waits on a client (a thread held per upload would
/// let slow uploads exhaust the blocking pool), and at most two batches are held.
pub struct BodyHasher(Hashing);

/// A large body's hashing task failed (it panicked, or the runtime is shutting down).
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("hashing task: {0}")]
    Task(#[from] tokio::task::JoinError),
    #[error("the body's hasher was lost to an earlier failure")]
    Lost,
}

enum Hashing {
    Here(Box<ObjectHasher>),
    Beside {
        batch: Vec<bytes::Bytes>,
        batch_len: usize,
        /// The hasher, when no task holds it.
        idle: Option<Box<ObjectHasher>>,
        /// The task hashing the previous batch; it hands the hasher back.
        busy: Option<tokio::task::JoinHandle<Box<ObjectHasher>>>,
    },
}

impl BodyHasher {
    /// As [`ObjectHasher::new`], for a body of `len` bytes.
    pub fn new(
        sent: Option<ChecksumAlgorithm>,
        store: Option<ChecksumAlgorithm>,
        len: u64,
    ) -> Self {
        let hasher = Box::new(ObjectHasher::new(sent, store));
        if len < HASH_BESIDE_FROM {
            return Self(Hashing::Here(hasher));
        }
        Self(Hashing::Beside {
            batch: Vec::new(),
            batch_len: 0,
            idle: Some(hasher),
            busy: None,
        })
    }

    pub async fn update(&mut self, data: &bytes::Bytes) -> Result<(), HashError> {
        match &mut self.0 {
            Hashing::Here(h) => h.update(data),
            Hashing::Beside {
                batch, batch_len, ..
            } => {
                *batch_len += data.len();
                batch.push(data.clone());
                if *batch_len >= BATCH {
                    self.hash_batch().await?;
                }
            }
        }
        Ok(())
    }

    /// Hands the batch gathered so far to a blocking task, once the previous one is done.
    async fn hash_batch(&mut self) -> Result<(), HashError> {
        if let Hashing::Beside {
            batch,
            batch_len,
            idle,
            busy,
        } = &mut self.0
        {
            let mut hasher = match (busy.as_mut(), idle.take()) {
                (Some(task), _) => {
                    let h = task.await;
                    *busy = None;
                    h?
                }
                (None, Some(h)) => h,
                (None, None) => return Err(HashError::Lost),
            };
            let pieces = std::mem::take(batch);
            *batch_len = 0;
            *busy = Some(tokio::task::spawn_blocking(move || {
                for piece in pieces {
                    hasher.update(&piece);
                }
                hasher
            }));
        }
        Ok(())
    }

    pub async fn finish(mut self) -> Result<ObjectDigests, HashError> {
        self.hash_batch().await?;
        match self.0 {
            Hashing::Here(h) => Ok(h.finish()),
            Hashing::Beside { busy, idle, .. } => {
                let hasher = match (busy, idle) {
                    (Some(task), _) => task.await?,
                    (None, Some(h)) => h,
                    (None, None) => return Err(HashError::Lost),
                };
                Ok(hasher.finish())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(alg: ChecksumAlgorithm, data: &[u8]) -> String {
        let mut h = ChecksumHasher::new(alg);
        for part in data.chunks(3) {
            h.update(part);
        }
        h.finish().value
    }

    #[tokio::test]
    async fn a_body_hashed_beside_gets_the_digests_of_one_hashed_here() {
        let data: Vec<u8> = (0..HASH_BESIDE_FROM + 12_345)
            .map(|i| (i % 241) as u8)
            .collect();
        let mut here = ObjectHasher::new(Some(ChecksumAlgorithm::Sha1), None);
        here.update(&data);
        let here = here.finish();
        let mut beside = BodyHasher::new(Some(ChecksumAlgorithm::Sha1), None, data.len() as u64);
        assert!(matches!(beside.0, Hashing::Beside { .. }));
        for piece in data.chunks(70_000) {
            beside
                .update(&bytes::Bytes::copy_from_slice(piece))
                .await
                .unwrap();
        }
        let beside = beside.finish().await.unwrap();
        assert_eq!(here.md5, beside.md5);
        assert_eq!(here.checksum.value, beside.checksum.value);
        assert_eq!(here.sent.value, beside.sent.value);
        assert_eq!(here.len, beside.len);
    }

    #[test]
    fn known_values() {
        // "hello world" digests as the AWS CLI prints them.
        let d = b"hello world";
        assert_eq!(of(ChecksumAlgorithm::Crc32, d), "DUoRhQ==");
        assert_eq!(of(ChecksumAlgorithm::Crc32c, d), "yZRlqg==");
        assert_eq!(
            of(ChecksumAlgorithm::Sha1, d),
            "Kq5sNclPz7QV2+lfQIuc6R7oRu0="
        );
        assert_eq!(
            of(ChecksumAlgorithm::Sha256, d),
            "uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek="
        );
        assert_eq!(of(ChecksumAlgorithm::Crc64Nvme, d), "jSnVw/bqjr4=");
    }

    #[test]
    fn crcs_of_parts_combine_into_the_whole() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 251) as u8).collect();
        for alg in [
            ChecksumAlgorithm::Crc32,
            ChecksumAlgorithm::Crc32c,
            ChecksumAlgorithm::Crc64Nvme,
        ] {
            let whole = of(alg, &data);
            for cuts in [vec![1usize], vec![5000], vec![1, 2, 3333, 9999]] {
                let mut pieces = Vec::new();
                let mut start = 0;
                for &c in cuts.iter().chain(std::iter::once(&data.len())) {
                    pieces.push((of(alg, &data[start..c]), (c - start) as u64));
                    start = c;
                }
                let refs: Vec<(&str, u64)> = pieces.iter().map(|(v, l)| (v.as_str(), *l)).collect();
                assert_eq!(
                    alg.combine(&refs).as_deref(),
                    Some(whole.as_str()),
                    "{alg:?} {cuts:?}"
                );
            }
        }
        assert_eq!(ChecksumAlgorithm::Sha256.combine(&[("x", 1)]), None);
    }

    #[test]
    fn composite_has_part_count_suffix() {
        let a = of(ChecksumAlgorithm::Crc32, b"a");
        let b = of(ChecksumAlgorithm::Crc32, b"b");
        let c = ChecksumAlgorithm::Crc32.composite(&[&a, &b]).unwrap();
        assert!(c.ends_with("-2"), "{c}");
    }

    #[test]
    fn value_validation() {
        assert!(ChecksumAlgorithm::Crc32.is_valid_value("DUoRhQ=="));
        assert!(!ChecksumAlgorithm::Crc32.is_valid_value("DUoRhQ"));
        assert!(!ChecksumAlgorithm::Sha1.is_valid_value("DUoRhQ=="));
        assert_eq!(
            ChecksumAlgorithm::from_header("x-amz-checksum-crc64nvme"),
            Some(ChecksumAlgorithm::Crc64Nvme)
        );
    }
}
