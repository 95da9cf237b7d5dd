//! How an object is encrypted at rest, a bucket's default encryption, and the keys of the
//! local key ring (SSE-KMS). The bytes themselves are handled by [`crate::cipher`].

use serde::{Deserialize, Serialize};

/// S3's three kinds of server-side encryption.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SseMode {
    /// SSE-S3 (`AES256`): a data key wrapped by the server's master key.
    S3,
    /// SSE-KMS (`aws:kms`): a data key wrapped by a named key of the key ring.
    Kms,
    /// SSE-C: the customer's key, sent with every request and never kept.
    Customer,
}

impl SseMode {
    /// The `x-amz-server-side-encryption` value (SSE-C has none: its headers are others).
    pub fn as_s3(&self) -> &'static str {
        match self {
            SseMode::S3 | SseMode::Customer => "AES256",
            SseMode::Kms => "aws:kms",
        }
    }
}

/// How one object (or the parts of one upload) is encrypted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Encryption {
    pub mode: SseMode,
    /// The data key, wrapped by the master key (S3) or by `kms_key` (Kms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wrapped_key: Option<String>,
    /// The key ring's key id (Kms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key: Option<String>,
    /// SSE-C: a salted HMAC of the customer's key, which tells a wrong key from the right one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_check: Option<String>,
    /// `x-amz-server-side-encryption-bucket-key-enabled`, kept to be shown back.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub bucket_key: bool,
}

/// A bucket's default encryption (PutBucketEncryption): applied to writes that name none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketEncryption {
    /// `S3` or `Kms`.
    pub mode: SseMode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub bucket_key: bool,
}

/// A key of the local key ring, kept sealed by the master key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KmsKeyRecord {
    pub v: u8,
    pub id: String,
    #[serde(default)]
    pub description: String,
    pub created_ms: i64,
    pub enabled: bool,
    /// The key's 32 bytes, sealed by the master key and bound to the id.
    pub sealed_material: String,
}
