//! The domain error that `store/` and below return. No HTTP, XML or JSON here: each surface maps
//! these to its own dialect in one place, each an exhaustive match (`s3/error.rs`,
//! `api/error.rs`), so a new variant cannot be given a status by accident.

use crate::checksum::ChecksumAlgorithm;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the bucket `{0}` does not exist")]
    NoSuchBucket(String),
    #[error("the key does not exist")]
    NoSuchKey,
    #[error("the bucket `{0}` already exists and is yours")]
    BucketAlreadyOwnedByYou(String),
    #[error("the bucket `{0}` already exists and belongs to another account")]
    BucketAlreadyExists(String),
    #[error("the bucket `{0}` is not empty")]
    BucketNotEmpty(String),
    #[error("invalid bucket name `{name}`: {why}")]
    InvalidBucketName { name: String, why: &'static str },
    #[error("a precondition on the write did not hold")]
    PreconditionFailed,
    #[error("a concurrent write to the same key raced this conditional write")]
    ConditionalRequestConflict,
    #[error("the {0:?} checksum of the body does not match the one sent")]
    ChecksumMismatch(ChecksumAlgorithm),
    #[error("the Content-MD5 of the body does not match the one sent")]
    Md5Mismatch,
    #[error("the body ended after {got} bytes; {expected} were announced")]
    IncompleteBody { expected: u64, got: u64 },
    #[error("the multipart upload does not exist")]
    NoSuchUpload,
    #[error("the version does not exist")]
    NoSuchVersion,
    /// The current version (or the one asked for) is a delete marker.
    #[error("the key's current version is a delete marker")]
    DeleteMarker {
        version_id: String,
        /// The request named this version (S3 answers 405), rather than the current one (404).
        requested: bool,
    },
    #[error("invalid part: {0}")]
    InvalidPart(String),
    #[error("{0}")]
    InvalidRequest(String),
    #[error("{0}")]
    InvalidArgument(String),
    #[error("invalid tag: {0}")]
    InvalidTag(String),
    #[error("a tag set holds at most {max} tags")]
    TooManyTags { max: usize },
    /// Object lock forbids this: deleting a locked version, or weakening its retention.
    #[error("object lock: {0}")]
    ObjectLocked(&'static str),
    /// The bucket's state does not allow this (suspending versioning under object lock, …).
    #[error("{0}")]
    InvalidBucketState(String),
    #[error("the list of parts was not in ascending order")]
    InvalidPartOrder,
    #[error("part {part} is {size} bytes; every part but the last must be at least 5 MiB")]
    EntityTooSmall { part: u32, size: u64 },
    #[error("the object would be {size} bytes; at most {max} are allowed")]
    EntityTooLarge { size: u64, max: u64 },
    #[error("the blob store is out of space: {0}")]
    NoSpace(String),
    #[error("blob {blob} is corrupt: {detail}")]
    Corrupt { blob: String, detail: String },
    /// SSE-KMS named a key the key ring does not hold.
    #[error("the KMS key `{0}` does not exist")]
    KmsKeyNotFound(String),
    /// SSE-KMS named (or an object was encrypted with) a key that is disabled.
    #[error("the KMS key `{0}` is disabled")]
    KmsKeyDisabled(String),
    /// A key of the key ring is being made under an id that is taken.
    #[error("the KMS key `{0}` exists")]
    KmsKeyExists(String),
    /// An SSE-C object was asked for with another key than the one it was written with.
    #[error("the customer key does not match the one the object was encrypted with")]
    WrongCustomerKey,
    #[error("metadata index: {0}")]
    Meta(String),
    /// The index is out of reach for now (its database down or every connection busy).
    #[error("metadata index unavailable: {0}")]
    MetaUnavailable(String),
    #[error("blob store: {0}")]
    Blob(String),
    #[error("internal: {0}")]
    Internal(String),
}

/// A full disk is the operator's to fix and the client's to retry, not a server bug.
fn is_full(io: &std::io::Error) -> bool {
    matches!(
        io.kind(),
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
    )
}

impl Error {
    /// A failed read or write of blob file `path`.
    pub fn blob_io(path: &std::path::Path, e: &std::io::Error) -> Self {
        let what = format!("{}: {e}", path.display());
        match e.kind() {
            _ if is_full(e) => Error::NoSpace(what),
            std::io::ErrorKind::NotFound => Error::Blob(format!("{} not found", path.display())),
            _ => Error::Blob(what),
        }
    }
}

impl From<object_store::Error> for Error {
    fn from(e: object_store::Error) -> Self {
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        while let Some(c) = cause {
            if c.downcast_ref::<std::io::Error>().is_some_and(is_full) {
                return Error::NoSpace(e.to_string());
            }
            cause = c.source();
        }
        Error::Blob(e.to_string())
    }
}

#[cfg(feature = "rocksdb")]
impl From<rocksdb::Error> for Error {
    fn from(e: rocksdb::Error) -> Self {
        Error::Meta(e.to_string())
    }
}

impl From<crate::checksum::HashError> for Error {
    fn from(e: crate::checksum::HashError) -> Self {
        Error::Internal(e.to_string())
    }
}

impl From<tokio::task::JoinError> for Error {
    fn from(e: tokio::task::JoinError) -> Self {
        Error::Internal(format!("blocking task failed: {e}"))
    }
}
