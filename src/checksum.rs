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
    len: u64,
}

/// What an `ObjectHasher` produced.
pub struct ObjectDigests {
    pub md5: [u8; 16],
    pub checksum: Checksum,
    pub len: u64,
}

impl ObjectHasher {
    /// `algorithm` is the one the client asked for; S3 stores CRC64NVME when none was named.
    pub fn new(algorithm: Option<ChecksumAlgorithm>) -> Self {
        Self {
            md5: md5::Md5::new(),
            checksum: ChecksumHasher::new(algorithm.unwrap_or(ChecksumAlgorithm::Crc64Nvme)),
            len: 0,
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        self.md5.update(data);
        self.checksum.update(data);
        self.len += data.len() as u64;
    }

    pub fn finish(self) -> ObjectDigests {
        ObjectDigests {
            md5: self.md5.finalize().into(),
            checksum: self.checksum.finish(),
            len: self.len,
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
