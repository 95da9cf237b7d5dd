//! The metadata index: buckets, objects, usage counters and the blob bookkeeping that keeps
//! writes crash-safe. `MetaStore` is the narrow trait the store layer uses; `rocks` is the
//! RocksDB implementation. Calls are blocking: async callers run them on the blocking pool.

pub mod acl;
pub mod codec;
#[cfg(test)]
pub mod contract;
pub mod gens;
pub mod inline;
pub mod lifecycle;
pub mod lock;
#[cfg(feature = "postgres")]
pub mod pg;
#[cfg(feature = "rocksdb")]
pub mod rocks;
#[cfg(feature = "rocksdb")]
mod rocks_access;
#[cfg(feature = "rocksdb")]
mod rocks_stats;
#[cfg(feature = "rocksdb")]
mod rocks_uploads;
#[cfg(feature = "rocksdb")]
mod rocks_versions;
pub mod sse;
pub mod stats;
pub mod versions;

use serde::{Deserialize, Serialize};

use crate::checksum::{Checksum, ChecksumAlgorithm};
use crate::cors::CorsRule;
use crate::error::Result;
use crate::integrity::ChunkSums;
pub use lock::{ObjectLockConfig, Retention};

/// Opens (creating it if needed) the index `cfg` names, each commit as durable as
/// `durability` asks, for this server alone. Blocking; a PostgreSQL index needs to be opened
/// inside the server's (multi-threaded) runtime, whose tasks drive its connections.
pub fn open(
    cfg: &crate::config::Config,
    durability: crate::config::Durability,
) -> Result<std::sync::Arc<dyn MetaStore>> {
    match &cfg.meta {
        crate::config::MetaBackend::Rocksdb => open_rocks(cfg, durability),
        crate::config::MetaBackend::Postgres {
            url,
            pool_size,
            ca_file,
        } => open_postgres(url.as_ref(), *pool_size, ca_file.as_deref()),
    }
}

/// A read-only view of the index `cfg` names, for `scrub` beside a running server: of a
/// RocksDB index, a snapshot as of now (it takes no lock); a PostgreSQL one is read live.
pub fn open_snapshot(cfg: &crate::config::Config) -> Result<std::sync::Arc<dyn MetaStore>> {
    match &cfg.meta {
        crate::config::MetaBackend::Rocksdb => open_rocks_snapshot(cfg),
        crate::config::MetaBackend::Postgres {
            url,
            pool_size,
            ca_file,
        } => open_postgres(url.as_ref(), *pool_size, ca_file.as_deref()),
    }
}

#[cfg(feature = "rocksdb")]
fn open_rocks(
    cfg: &crate::config::Config,
    durability: crate::config::Durability,
) -> Result<std::sync::Arc<dyn MetaStore>> {
    let dir = cfg.meta_dir();
    std::fs::create_dir_all(&dir)
        .map_err(|e| crate::error::Error::Meta(format!("cannot create {}: {e}", dir.display())))?;
    let sync = durability == crate::config::Durability::Strict;
    Ok(std::sync::Arc::new(rocks::RocksMeta::open(&dir, sync)?))
}

#[cfg(feature = "rocksdb")]
fn open_rocks_snapshot(cfg: &crate::config::Config) -> Result<std::sync::Arc<dyn MetaStore>> {
    let dir = cfg.meta_dir();
    if !dir.is_dir() {
        return Err(crate::error::Error::Meta(format!(
            "no index at {}",
            dir.display()
        )));
    }
    Ok(std::sync::Arc::new(rocks::RocksMeta::open_read_only(&dir)?))
}

#[cfg(not(feature = "rocksdb"))]
fn open_rocks(
    _: &crate::config::Config,
    _: crate::config::Durability,
) -> Result<std::sync::Arc<dyn MetaStore>> {
    Err(crate::error::Error::Meta(
        "this build has no RocksDB index (feature rocksdb)".into(),
    ))
}

#[cfg(not(feature = "rocksdb"))]
fn open_rocks_snapshot(cfg: &crate::config::Config) -> Result<std::sync::Arc<dyn MetaStore>> {
    open_rocks(cfg, crate::config::Durability::Strict)
}

#[cfg(feature = "postgres")]
fn open_postgres(
    url: Option<&crate::config::Secret>,
    pool_size: usize,
    ca_file: Option<&std::path::Path>,
) -> Result<std::sync::Arc<dyn MetaStore>> {
    let url = url
        .ok_or_else(|| crate::error::Error::Meta("the PostgreSQL index has no URL".into()))?
        .expose();
    let rt = tokio::runtime::Handle::try_current().map_err(|_| {
        crate::error::Error::Internal("the PostgreSQL index is opened outside a runtime".into())
    })?;
    let tls = pg::tls::DbTls::for_url(url, ca_file)?;
    Ok(std::sync::Arc::new(pg::PgMeta::connect_with(
        url, pool_size, tls, rt,
    )?))
}

/// `cnx-storage migrate`: copies the RocksDB index of the data dir (or meta dir) `from`,
/// whose server must be stopped, into the PostgreSQL database at `to` (see [`pg::import`]).
#[cfg(all(feature = "postgres", feature = "rocksdb"))]
pub fn migrate(
    from: &std::path::Path,
    to: &str,
    ca_file: Option<&std::path::Path>,
    progress: &mut dyn FnMut(&str, u64),
) -> Result<pg::import::MigrationReport> {
    use crate::error::Error;
    let dir = match from.join("meta").is_dir() {
        true => from.join("meta"),
        false => from.to_owned(),
    };
    let identity = std::fs::read_to_string(dir.join("IDENTITY"))
        .map_err(|e| Error::Meta(format!("no RocksDB index in {}: {e}", dir.display())))?;
    let src = rocks::RocksMeta::open(&dir, true).map_err(|e| {
        Error::Meta(format!(
            "cannot open the index in {} (is its server still running? stop it first): {e}",
            dir.display()
        ))
    })?;
    // Its server is stopped (its lock is ours): whatever it had staged died. Recovered
    // before the sequence is read, as it writes.
    src.recover_staged()?;
    // RocksDB's own name for this index and its last write: a copy is only ever resumed
    // from the same index, unchanged since the copy began.
    let source_id = format!("{} at sequence {}", identity.trim(), src.sequence());
    let rt = tokio::runtime::Handle::try_current()
        .map_err(|_| Error::Internal("migrate runs inside a runtime".into()))?;
    let tls = pg::tls::DbTls::for_url(to, ca_file)?;
    let dst = pg::PgMeta::connect_with(to, 4, tls, rt)?;
    dst.import_from(&src, &source_id, progress)
}

#[cfg(not(feature = "postgres"))]
fn open_postgres(
    _: Option<&crate::config::Secret>,
    _: usize,
    _: Option<&std::path::Path>,
) -> Result<std::sync::Arc<dyn MetaStore>> {
    Err(crate::error::Error::Meta(
        "this build has no PostgreSQL index (feature postgres)".into(),
    ))
}

/// Current version tag of stored records; readers refuse records they do not know.
pub const RECORD_VERSION: u8 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketRecord {
    pub v: u8,
    /// Server-generated, never reused: object keys are prefixed with it, not with the name.
    pub id: BucketId,
    pub name: String,
    /// The account that owns the bucket.
    pub owner: String,
    pub region: String,
    pub created_at_ms: i64,
    /// CORS rules browsers are answered from; `None` when the bucket has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cors: Option<Vec<CorsRecord>>,
    #[serde(default, skip_serializing_if = "Versioning::is_unversioned")]
    pub versioning: Versioning,
    /// Object lock, once enabled (it cannot be turned off again).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_lock: Option<ObjectLockConfig>,
    /// The bucket's tag set; `None` when it has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Tags>,
    /// Lifecycle rules; `None` when it has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifecycle: Option<Vec<lifecycle::LifecycleRule>>,
    /// The bucket's ACL; `None` is `private` (the owner's FULL_CONTROL only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acl: Option<acl::Acl>,
    /// `None` for buckets made before ownership controls existed: no setting, which S3 reads
    /// as `ObjectWriter`. New buckets get `BucketOwnerEnforced` unless they ask otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ownership: Option<acl::ObjectOwnership>,
    /// `None`: no public access block configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_access_block: Option<acl::PublicAccessBlock>,
    /// The bucket policy as its owner put it (JSON, checked when put).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// Server access logging into another bucket; `None` when off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logging: Option<acl::LoggingConfig>,
    /// Default encryption of new objects; `None`: objects are stored as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<sse::BucketEncryption>,
}

/// Tags in the order they were given: `(key, value)`.
pub type Tags = Vec<(String, String)>;

/// A bucket's versioning state. Once enabled, a bucket can be suspended but never returns to
/// unversioned (as on S3).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Versioning {
    #[default]
    Unversioned,
    Enabled,
    Suspended,
}

impl Versioning {
    pub fn is_unversioned(&self) -> bool {
        *self == Versioning::Unversioned
    }
}

impl BucketRecord {
    /// The bucket's CORS rules, to match requests against; `None` when it has none.
    pub fn cors_rules(&self) -> Option<Vec<CorsRule>> {
        self.cors
            .as_ref()
            .map(|rules| rules.iter().map(CorsRule::from).collect())
    }
}

/// One CORS rule as stored. Its field names are the on-disk format: the XML and JSON views
/// of a rule are separate types, free to change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorsRecord {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub allowed_origins: Vec<String>,
    pub allowed_methods: Vec<String>,
    #[serde(default)]
    pub allowed_headers: Vec<String>,
    #[serde(default)]
    pub expose_headers: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age_seconds: Option<u32>,
}

impl From<&CorsRule> for CorsRecord {
    fn from(r: &CorsRule) -> Self {
        Self {
            id: r.id.clone(),
            allowed_origins: r.allowed_origins.clone(),
            allowed_methods: r.allowed_methods.clone(),
            allowed_headers: r.allowed_headers.clone(),
            expose_headers: r.expose_headers.clone(),
            max_age_seconds: r.max_age_seconds,
        }
    }
}

impl From<&CorsRecord> for CorsRule {
    fn from(r: &CorsRecord) -> Self {
        Self {
            id: r.id.clone(),
            allowed_origins: r.allowed_origins.clone(),
            allowed_methods: r.allowed_methods.clone(),
            allowed_headers: r.allowed_headers.clone(),
            expose_headers: r.expose_headers.clone(),
            max_age_seconds: r.max_age_seconds,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BucketId(#[serde(with = "hex_bytes")] pub [u8; 16]);

impl BucketId {
    pub fn random() -> Self {
        BucketId(*uuid::Uuid::new_v4().as_bytes())
    }
}

mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(b: &[u8; 16], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(b))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 16], D::Error> {
        let s = String::deserialize(d)?;
        let mut out = [0u8; 16];
        hex::decode_to_slice(&s, &mut out).map_err(serde::de::Error::custom)?;
        Ok(out)
    }
}

/// Standard headers stored byte-exact and returned on GET/HEAD.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredHeaders {
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    pub content_disposition: Option<String>,
    pub content_language: Option<String>,
    pub cache_control: Option<String>,
    pub expires: Option<String>,
}

/// One stretch of an object's bytes, held by one blob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    pub blob: String,
    pub len: u64,
    /// The part's checksum (of the upload's algorithm), for a segment that was a part.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<Checksum>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRecord {
    pub v: u8,
    pub size: u64,
    /// Unquoted: hex MD5, or `hex-N` for multipart objects.
    pub etag: String,
    pub last_modified_ms: i64,
    pub headers: StoredHeaders,
    /// `x-amz-meta-*` pairs, names lowercased and without the prefix, in arrival order.
    pub user_meta: Vec<(String, String)>,
    pub checksum: Option<Checksum>,
    /// `None` means FULL_OBJECT (every single-part object).
    #[serde(default)]
    pub checksum_type: Option<ChecksumType>,
    /// The object's bytes in order; empty for an empty object. A multipart object has one
    /// segment per part.
    pub segments: Vec<Segment>,
    /// The multipart upload that made this object, so a retried Complete gets its 200.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_id: Option<String>,
    /// `None` is the null version: every object of an unversioned bucket, and those written
    /// while versioning is suspended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// A delete marker: no bytes, it only hides the versions below it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub delete_marker: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Tags,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<Retention>,
    /// `None` until a legal hold is first set on the version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legal_hold: Option<bool>,
    /// The account that owns the version when it is not the bucket's owner (an account
    /// writing to another's bucket under `ObjectWriter`, or [`acl::ANONYMOUS_OWNER`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// The version's ACL; `None` is `private`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acl: Option<acl::Acl>,
    /// How the version's bytes are encrypted at rest; `None`: they are not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sse: Option<sse::Encryption>,
}

impl ObjectRecord {
    /// A delete marker made now.
    pub fn new_delete_marker(version_id: Option<String>) -> Self {
        Self {
            v: RECORD_VERSION,
            size: 0,
            etag: String::new(),
            last_modified_ms: crate::clock::now_ms(),
            headers: StoredHeaders::default(),
            user_meta: Vec::new(),
            checksum: None,
            checksum_type: None,
            segments: Vec::new(),
            upload_id: None,
            version_id,
            delete_marker: true,
            tags: Tags::new(),
            retention: None,
            legal_hold: None,
            owner: None,
            acl: None,
            sse: None,
        }
    }

    /// The version id as S3 shows it (`null` for the null version).
    pub fn version_str(&self) -> &str {
        self.version_id.as_deref().unwrap_or(versions::NULL)
    }

    pub fn is_version(&self, v: &VersionRef) -> bool {
        match v {
            VersionRef::Null => self.version_id.is_none(),
            VersionRef::Id(id) => self.version_id.as_deref() == Some(id.as_str()),
        }
    }

    pub fn blob_ids(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().map(|s| s.blob.as_str())
    }

    /// Multipart objects carry an ETag with a `-N` part count.
    pub fn part_count(&self) -> Option<u32> {
        self.etag.rsplit_once('-').and_then(|(_, n)| n.parse().ok())
    }
}

/// A version named by a request's `versionId`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionRef {
    Null,
    Id(String),
}

impl VersionRef {
    /// As S3 shows it (`null` for the null version).
    pub fn as_str(&self) -> &str {
        match self {
            VersionRef::Null => versions::NULL,
            VersionRef::Id(id) => id,
        }
    }
}

/// What a commit of an object did.
#[derive(Debug, Clone)]
pub struct Committed {
    /// The record as stored, with its version id.
    pub rec: ObjectRecord,
    /// Blobs were queued for deletion (a version was replaced for good).
    pub freed: bool,
}

/// What a delete did.
#[derive(Debug, Clone, Default)]
pub struct Deleted {
    /// The version (object or delete marker) removed for good, if any.
    pub removed: Option<ObjectRecord>,
    /// The delete marker left in its place, in a versioned bucket.
    pub marker: Option<ObjectRecord>,
}

/// A page of ListObjectVersions.
pub struct VersionQuery<'a> {
    pub prefix: &'a str,
    pub delimiter: Option<&'a str>,
    /// Resume after this key (after `version_marker` within it, when given).
    pub key_marker: Option<&'a str>,
    pub version_marker: Option<&'a str>,
    pub max: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum VersionEntry {
    Version {
        key: String,
        rec: Box<ObjectRecord>,
        latest: bool,
    },
    CommonPrefix(String),
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct VersionPage {
    pub entries: Vec<VersionEntry>,
    /// Set when more entries follow: the key and (unless a common prefix ended the page) the
    /// version to resume after.
    pub next: Option<(String, Option<String>)>,
}

/// What must hold about the current object for a write to go ahead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteCondition {
    Always,
    /// `If-None-Match: *`: only if the key does not exist. `since_ms` is when the request
    /// started: an object written after it raced this one (409, not 412). Both times are
    /// whole milliseconds, so an object committed in the very millisecond the request began
    /// may have come before it: that one is a plain 412.
    Absent {
        since_ms: i64,
    },
    /// `If-Match: "etag"`: only if the current object has this ETag (unquoted).
    ETag(String),
    /// Only if the current object is still the one written at this time (the lifecycle
    /// worker's guard against acting on an object replaced since it looked).
    Unchanged {
        last_modified_ms: i64,
    },
}

/// What must hold for a version to be removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VersionGuard {
    /// Governance retention is lifted (by a caller allowed to, who asked).
    pub bypass_governance: bool,
    /// Only if the version is still the one written at this time (a null version can be
    /// replaced by another of the same id).
    pub last_modified_ms: Option<i64>,
}

impl WriteCondition {
    /// Checks the condition against the current version, failing as S3 does: `If-Match` on a
    /// missing key is `NoSuchKey`, a create that lost a race is `ConditionalRequestConflict`,
    /// any other miss is `PreconditionFailed`.
    pub fn check(&self, current: Option<&ObjectRecord>) -> crate::error::Result<()> {
        use crate::error::Error;
        // Behind a delete marker the key has no object: a create may go ahead.
        let current = current.filter(|c| !c.delete_marker);
        match (self, current) {
            (WriteCondition::Always, _) | (WriteCondition::Absent { .. }, None) => Ok(()),
            (WriteCondition::Absent { since_ms }, Some(cur))
                if cur.last_modified_ms > *since_ms =>
            {
                Err(Error::ConditionalRequestConflict)
            }
            (WriteCondition::ETag(_), None) => Err(Error::NoSuchKey),
            (WriteCondition::ETag(want), Some(cur)) if want == "*" || *want == cur.etag => Ok(()),
            (WriteCondition::Unchanged { last_modified_ms }, Some(cur))
                if cur.last_modified_ms == *last_modified_ms =>
            {
                Ok(())
            }
            _ => Err(Error::PreconditionFailed),
        }
    }
}

/// Exact per-bucket totals, maintained by the same batch that writes object metadata.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub bytes: i64,
    pub objects: i64,
}

impl std::ops::Sub for Usage {
    type Output = Usage;
    fn sub(self, other: Usage) -> Usage {
        Usage {
            bytes: self.bytes - other.bytes,
            objects: self.objects - other.objects,
        }
    }
}

/// What one stored version adds to its bucket's usage: its bytes and one object; a delete
/// marker adds nothing.
pub fn counted(rec: &ObjectRecord) -> Usage {
    if rec.delete_marker {
        Usage::default()
    } else {
        Usage {
            bytes: i64::try_from(rec.size).unwrap_or(i64::MAX),
            objects: 1,
        }
    }
}

/// A blob waiting in the deletion queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GcEntry {
    pub blob: String,
    pub queued_ms: i64,
    /// A remote multipart upload of the blob that a crash cut off, to abort before deleting.
    pub upload: Option<String>,
}

/// One entry of a listing page.
#[derive(Debug, Clone, PartialEq)]
pub enum ListEntry {
    Object(String, ListedObject),
    CommonPrefix(String),
}

/// What a listing shows of an object: decoded from its record without the headers,
/// metadata, segments and tags a listing never shows (a page decodes a thousand records).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(from = "ListedRecord")]
pub struct ListedObject {
    pub size: u64,
    /// Unquoted, as in [`ObjectRecord::etag`].
    pub etag: String,
    pub last_modified_ms: i64,
    pub checksum_algorithm: Option<crate::checksum::ChecksumAlgorithm>,
    pub delete_marker: bool,
}

/// The fields of an `ObjectRecord` a listing reads; serde skips the rest unparsed.
#[derive(Deserialize)]
struct ListedRecord {
    size: u64,
    etag: String,
    last_modified_ms: i64,
    checksum: Option<ListedChecksum>,
    #[serde(default)]
    delete_marker: bool,
}

#[derive(Deserialize)]
struct ListedChecksum {
    algorithm: crate::checksum::ChecksumAlgorithm,
}

impl From<ListedRecord> for ListedObject {
    fn from(r: ListedRecord) -> Self {
        Self {
            size: r.size,
            etag: r.etag,
            last_modified_ms: r.last_modified_ms,
            checksum_algorithm: r.checksum.map(|c| c.algorithm),
            delete_marker: r.delete_marker,
        }
    }
}

impl From<&ObjectRecord> for ListedObject {
    fn from(r: &ObjectRecord) -> Self {
        Self {
            size: r.size,
            etag: r.etag.clone(),
            last_modified_ms: r.last_modified_ms,
            checksum_algorithm: r.checksum.as_ref().map(|c| c.algorithm),
            delete_marker: r.delete_marker,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListPage {
    pub entries: Vec<ListEntry>,
    /// Set when more entries follow; the key or prefix to resume after.
    pub next_after: Option<String>,
}

pub struct ListQuery<'a> {
    pub prefix: &'a str,
    pub delimiter: Option<&'a str>,
    /// Return only keys strictly greater than this.
    pub after: Option<&'a str>,
    pub max: usize,
}

/// How the checksum of a multipart object is formed from its parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChecksumType {
    /// A checksum of the part checksums, shown with a `-N` suffix.
    Composite,
    /// The checksum of the whole object, combined from the part CRCs.
    FullObject,
}

/// An in-progress multipart upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadRecord {
    pub v: u8,
    pub upload_id: String,
    pub key: String,
    pub initiated_ms: i64,
    /// Metadata fixed at creation and given to the completed object.
    pub headers: StoredHeaders,
    pub user_meta: Vec<(String, String)>,
    pub checksum_algorithm: Option<ChecksumAlgorithm>,
    pub checksum_type: Option<ChecksumType>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Tags,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<Retention>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legal_hold: Option<bool>,
    /// The owner and ACL the completed object gets (see [`ObjectRecord`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acl: Option<acl::Acl>,
    /// The account that started the upload through an ACL grant: only it and the bucket's
    /// owner may go on with it. `None`: the bucket's owner (or one of its keys).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initiator: Option<String>,
    /// How the parts are encrypted, and so the completed object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sse: Option<sse::Encryption>,
}

/// One uploaded part; its bytes are one blob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartRecord {
    pub v: u8,
    pub part_number: u32,
    pub size: u64,
    /// Hex MD5 of the part, unquoted.
    pub etag: String,
    /// Of the upload's algorithm (CRC64NVME by default): what Complete combines.
    pub checksum: Option<Checksum>,
    /// The client's own, when it verified the part with another algorithm.
    #[serde(default)]
    pub client_checksum: Option<Checksum>,
    pub blob: String,
    pub last_modified_ms: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum UploadEntry {
    Upload(Box<UploadRecord>),
    CommonPrefix(String),
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct UploadPage {
    pub entries: Vec<UploadEntry>,
    /// Set when more follow: the (key, upload id) to resume after.
    pub next: Option<(String, String)>,
}

pub struct UploadQuery<'a> {
    pub prefix: &'a str,
    pub delimiter: Option<&'a str>,
    /// Resume after this key (and, within it, after this upload id).
    pub key_marker: Option<&'a str>,
    pub upload_id_marker: Option<&'a str>,
    pub max: usize,
}

/// What the index keeps of a new blob, in the commit that makes it part of an object.
#[derive(Debug, Clone, Copy)]
pub enum NewBlob<'a> {
    /// An object small enough for the index: its bytes, kept under the blob's id (see
    /// [`inline`]).
    Inline { blob: &'a str, bytes: &'a [u8] },
    /// A blob's chunk checksums, which reads verify its bytes against.
    Sums { blob: &'a str, sums: &'a ChunkSums },
}

/// Multipart uploads. Calls on one (bucket, key) are serialised with its object writes.
pub trait UploadStore {
    fn create_upload(&self, bucket: &BucketRecord, rec: &UploadRecord) -> Result<()>;
    fn get_upload(
        &self,
        bucket: &BucketId,
        key: &str,
        upload_id: &str,
    ) -> Result<Option<UploadRecord>>;
    /// Records a part (replacing one with the same number, whose blob is queued for deletion)
    /// and releases its staged blob, keeping the blob's chunk checksums with it;
    /// `NoSuchUpload` if the upload is gone.
    fn put_part(
        &self,
        bucket: &BucketRecord,
        key: &str,
        upload_id: &str,
        part: &PartRecord,
        sums: Option<&ChunkSums>,
    ) -> Result<()>;
    /// Parts with numbers above `after`, ascending; the bool says whether more follow.
    fn list_parts(
        &self,
        upload_id: &str,
        after: u32,
        max: usize,
    ) -> Result<(Vec<PartRecord>, bool)>;
    /// Commits `rec` (whose segments are the parts named by `used`, as `(number, blob)`) and
    /// removes the upload; unused parts' blobs and the replaced object's are queued for deletion.
    /// `NoSuchUpload` if the upload is gone, `InvalidPart` if a used part changed meanwhile.
    #[allow(clippy::too_many_arguments)]
    fn complete_upload(
        &self,
        bucket: &BucketRecord,
        key: &str,
        upload_id: &str,
        rec: &ObjectRecord,
        used: &[(u32, String)],
        cond: &WriteCondition,
    ) -> Result<Committed>;
    /// Removes the upload and queues all its part blobs for deletion.
    fn abort_upload(&self, bucket: &BucketRecord, key: &str, upload_id: &str) -> Result<()>;
    fn list_uploads(&self, bucket: &BucketId, q: &UploadQuery<'_>) -> Result<UploadPage>;
}

/// What an access key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyPermission {
    Read,
    ReadWrite,
}

impl KeyPermission {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyPermission::Read => "read",
            KeyPermission::ReadWrite => "read-write",
        }
    }
}

/// Where an access key acts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum KeyScope {
    /// On one bucket only (bound to its id, so a new bucket of the same name is not reached).
    Bucket {
        bucket_id: BucketId,
        bucket: String,
        /// The bucket's owner, who minted the key.
        account: String,
        permission: KeyPermission,
    },
    /// As the account itself, on the S3 and management surfaces.
    Account { account: String },
}

impl KeyScope {
    /// The bucket (id and name) a bucket key is bound to.
    pub fn bucket(&self) -> Option<(&BucketId, &str)> {
        match self {
            KeyScope::Bucket {
                bucket_id, bucket, ..
            } => Some((bucket_id, bucket)),
            KeyScope::Account { .. } => None,
        }
    }
}

/// An access key; its secret is sealed with the server's master key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    pub v: u8,
    pub access_key_id: String,
    pub name: Option<String>,
    pub scope: KeyScope,
    pub sealed_secret: String,
    pub created_at_ms: i64,
    pub expires_at_ms: Option<i64>,
}

/// A management response kept for replay under its `Idempotency-Key`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    pub v: u8,
    /// SHA-256 of the request (method, path, query, body): a different request under the
    /// same key is refused.
    pub fingerprint: String,
    pub status: u16,
    pub body: String,
    pub expires_at_ms: i64,
}

/// What [`AccessStore::claim_idempotency`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyClaim {
    /// The caller runs the request, then keeps its reply or releases the claim.
    Claimed,
    /// The reply of the request that ran under the key.
    Kept(IdempotencyRecord),
    /// Another request under the key is running now.
    Running,
}

/// Access keys and idempotency records.
/// What [`AccessStore::insert_key_unless`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyInsert {
    Inserted,
    /// Nothing stored: the id is taken.
    IdTaken,
    /// Nothing stored: this key of the bucket is already what the new one was for.
    Existing(KeyRecord),
}

pub trait AccessStore {
    /// The counters of changes that in-memory caches of this index's records must see: every
    /// commit that revokes a key, changes a KMS key's state or changes or deletes a bucket
    /// raises its kind's counter (see [`gens`]).
    fn generations(&self) -> &gens::Generations;
    /// Stores a new key; `false` (and nothing stored) if its id is taken.
    fn insert_key(&self, rec: &KeyRecord) -> Result<bool>;
    /// Stores a new key of a bucket unless one of that bucket's keys is `same` as what it is
    /// for (that one is returned instead): checked and stored as one step for every process
    /// sharing the index, so a bucket's managed keys are minted once.
    fn insert_key_unless(
        &self,
        rec: &KeyRecord,
        same: &(dyn Fn(&KeyRecord) -> bool + Sync),
    ) -> Result<KeyInsert>;
    fn get_key(&self, access_key_id: &str) -> Result<Option<KeyRecord>>;
    /// Every key, in access key id order.
    fn list_keys(&self) -> Result<Vec<KeyRecord>>;
    /// Removes a key; false if there was none.
    fn delete_key(&self, access_key_id: &str) -> Result<bool>;
    /// The record under `key` if it has not expired at `now_ms`.
    fn get_idempotency(&self, key: &[u8], now_ms: i64) -> Result<Option<IdempotencyRecord>>;
    /// Stores the reply under `key` (replacing the running request's claim).
    fn put_idempotency(&self, key: &[u8], rec: &IdempotencyRecord) -> Result<()>;
    /// Claims `key` for a request about to run, as `claim` (a random token naming this one
    /// claim), for `hold_ms` at most: unless a reply is kept under it, or another request
    /// holds a claim that has neither lapsed nor lost its holder (a gateway gone).
    fn claim_idempotency(
        &self,
        key: &[u8],
        claim: &[u8; 16],
        now_ms: i64,
        hold_ms: i64,
    ) -> Result<IdempotencyClaim>;
    /// Drops the claim `claim` on `key`, if it still stands (a kept reply stays, as does a
    /// claim another request took over).
    fn release_idempotency(&self, key: &[u8], claim: &[u8; 16]) -> Result<()>;
    /// Stores a key of the key ring; `false` (and nothing stored) if its id is taken.
    fn insert_kms_key(&self, rec: &sse::KmsKeyRecord) -> Result<bool>;
    /// Replaces a key of the key ring (its state); `false` if there is none.
    fn update_kms_key(&self, rec: &sse::KmsKeyRecord) -> Result<bool>;
    fn get_kms_key(&self, id: &str) -> Result<Option<sse::KmsKeyRecord>>;
    /// Every key of the key ring, in id order.
    fn list_kms_keys(&self) -> Result<Vec<sse::KmsKeyRecord>>;
}

/// Buckets and their usage counters.
pub trait BucketStore {
    fn get_bucket(&self, name: &str) -> Result<Option<BucketRecord>>;
    fn list_buckets(&self) -> Result<Vec<BucketRecord>>;
    /// Inserts unless the name is taken; returns the existing record when it is.
    fn insert_bucket(&self, rec: &BucketRecord) -> Result<Option<BucketRecord>>;
    /// Changes the settings of the bucket named `name` if it is still the one with `id`:
    /// `change` edits the record as stored now (so concurrent changes of different settings
    /// are not lost) and may refuse. Returns the record as written.
    fn update_bucket(
        &self,
        name: &str,
        id: &BucketId,
        change: &mut dyn FnMut(&mut BucketRecord) -> Result<()>,
    ) -> Result<BucketRecord>;
    /// Removes the bucket named `name` if it is still the one with `id` (`NoSuchBucket`
    /// otherwise) and empty (`BucketNotEmpty` otherwise).
    fn delete_bucket(&self, name: &str, id: &BucketId) -> Result<()>;
    fn usage(&self, bucket: &BucketId) -> Result<Usage>;
}

/// Objects and their versions.
pub trait ObjectStore {
    fn get_object(&self, bucket: &BucketId, key: &str) -> Result<Option<ObjectRecord>>;
    /// Writes `rec` if `cond` holds, in one batch with: the usage delta, the release of the
    /// staged blobs `rec` now owns, and the queueing of the replaced object's blobs for deletion.
    /// Returns the replaced record.
    /// Commits `rec` as the current version of `key`: it replaces the current object in an
    /// unversioned bucket; in a versioned one it gets a version id (the null version while
    /// suspended) and the old current version stays below it.
    fn put_object(
        &self,
        bucket: &BucketRecord,
        key: &str,
        rec: &ObjectRecord,
        cond: &WriteCondition,
    ) -> Result<Committed> {
        self.put_object_with(bucket, key, rec, cond, None)
    }
    /// [`MetaStore::put_object`], with what the index keeps of the blob `rec` was written
    /// to, committed together with it.
    fn put_object_with(
        &self,
        bucket: &BucketRecord,
        key: &str,
        rec: &ObjectRecord,
        cond: &WriteCondition,
        blob: Option<NewBlob<'_>>,
    ) -> Result<Committed>;
    /// Deletes `key` as S3 does without a version id, if `cond` holds: removes the current
    /// object of an unversioned bucket (queueing its blobs), or puts a delete marker on top
    /// of a versioned one.
    fn delete_object(
        &self,
        bucket: &BucketRecord,
        key: &str,
        cond: &WriteCondition,
    ) -> Result<Deleted>;
    /// Removes one version for good (queueing its blobs); the newest remaining version, if
    /// any, becomes current. A locked version is refused (`ObjectLocked`) unless the guard
    /// lifts its governance retention; one changed since the guard's time is left alone
    /// (`PreconditionFailed`).
    fn delete_version(
        &self,
        bucket: &BucketRecord,
        key: &str,
        v: &VersionRef,
        guard: &VersionGuard,
    ) -> Result<Deleted>;
    /// Edits one version of `key` in place (the current one when `v` is `None`): its tags,
    /// retention or legal hold. A delete marker there is `DeleteMarker`, a missing version
    /// `NoSuchKey`/`NoSuchVersion`; `change` may refuse. Returns the record as written.
    fn update_version(
        &self,
        bucket: &BucketRecord,
        key: &str,
        v: Option<&VersionRef>,
        change: &mut dyn FnMut(&mut ObjectRecord) -> Result<()>,
    ) -> Result<ObjectRecord>;
    /// One version of `key`, current or not.
    fn get_version(
        &self,
        bucket: &BucketId,
        key: &str,
        v: &VersionRef,
    ) -> Result<Option<ObjectRecord>>;
    /// Current objects in key order; delete markers are left out.
    fn list_objects(&self, bucket: &BucketId, q: &ListQuery<'_>) -> Result<ListPage>;
    /// Every version in key order, each key's newest first.
    fn list_versions(&self, bucket: &BucketId, q: &VersionQuery<'_>) -> Result<VersionPage>;
}

/// The bookkeeping of blobs that keeps writes crash-safe: blobs being written (staged), blobs
/// queued for deletion, and their chunk checksums.
pub trait BlobLedger {
    /// The stored value of an inline blob (framed: see [`inline::check`]).
    fn get_inline(&self, blob: &str) -> Result<Option<Vec<u8>>>;
    /// Records that a blob is being written, so a crash before commit cannot orphan it.
    fn stage_blob(&self, blob: &str) -> Result<()>;
    /// Notes the remote multipart upload a staged blob is written through, so recovery after
    /// a crash can abort it. Synced like the marker, before any part is sent.
    fn note_blob_upload(&self, blob: &str, upload: &str) -> Result<()>;
    /// Drops a staged blob that was abandoned before commit, queueing it for deletion.
    fn abandon_blob(&self, blob: &str) -> Result<()>;
    /// Blobs queued for deletion at or before `until_ms` (unix millis), oldest first,
    /// starting after `after` (to page past entries that cannot go yet).
    fn pending_deletes(
        &self,
        until_ms: i64,
        after: Option<&GcEntry>,
        limit: usize,
    ) -> Result<Vec<GcEntry>>;
    /// Forgets queued blobs (and their chunk checksums) once they are deleted, in one write;
    /// an inline blob's bytes go with it.
    fn deleted(&self, entries: &[GcEntry]) -> Result<()>;
    /// The chunk checksums of a blob; `None` for blobs written before they were kept.
    fn blob_sums(&self, blob: &str) -> Result<Option<ChunkSums>>;
    /// Every blob still staged (being written, or left by a request that died).
    fn staged_blobs(&self) -> Result<Vec<String>>;
    /// Makes every commit so far durable (a WAL fsync), whatever the durability mode.
    fn sync(&self) -> Result<()>;
    /// At start-up: every blob still staged belonged to a request that died; queue it.
    fn recover_staged(&self) -> Result<usize>;
    /// The blobs for a sweeper to delete now: as [`BlobLedger::pending_deletes`] for those
    /// queued at least `grace_ms` ago by the index's clock, less any a reader holds a lease on
    /// ([`BlobLedger::lease_blobs`]). A shared index claims them for this caller for a while,
    /// so other gateways' sweepers pass them by.
    fn claim_deletes(
        &self,
        grace_ms: i64,
        after: Option<&GcEntry>,
        limit: usize,
    ) -> Result<Vec<GcEntry>>;
    /// Gives up this caller's claims on queued `blobs` it did not delete, for the next
    /// sweeper to look at.
    fn unclaim_deletes(&self, blobs: &[String]) -> Result<()>;
    /// Whether other processes work on this index too (their reads are not in this one's
    /// leases, so the sweeper waits longer and reads lease their blobs in the index).
    fn is_shared(&self) -> bool;
    /// Leases `blobs` to this process's readers for `ttl_ms` more, by the index's clock
    /// (renewing leases it holds); no other process's sweeper deletes them meanwhile.
    fn lease_blobs(&self, blobs: &[String], ttl_ms: i64) -> Result<()>;
    /// Gives up this process's leases on `blobs`.
    fn release_blob_leases(&self, blobs: &[String]) -> Result<()>;
}

/// Periodic work (lifecycle, scrub) that one process does for every process sharing the
/// index.
pub trait TaskLeases {
    /// Takes the lease on `task` for `hold_ms` from now, by the index's clock, unless another
    /// process holds it (its holder takes it again): `None` when taken, else how many
    /// milliseconds the holder's lease has left. An index only this process works on always
    /// grants it.
    fn try_lead(&self, task: &str, hold_ms: i64) -> Result<Option<i64>>;
    /// Moves the end of this process's lease on `task` to `hold_ms` from now, while its pass
    /// runs; false if the lease is no longer its own.
    fn renew_lead(&self, task: &str, hold_ms: i64) -> Result<bool>;
}

/// Whether this process runs `task`'s periodic pass now, taking the lease on it for one
/// interval `every` (so the processes sharing the index run one pass per interval between
/// them); else how long until another may.
pub async fn lead_pass(
    meta: std::sync::Arc<dyn MetaStore>,
    task: &'static str,
    every: std::time::Duration,
) -> Result<Lead> {
    let hold = i64::try_from(every.as_millis()).unwrap_or(i64::MAX);
    let m = meta.clone();
    let left = tokio::task::spawn_blocking(move || m.try_lead(task, hold)).await??;
    Ok(match left {
        // A moment past the holder's end, so the next try does not land just before it.
        Some(ms) => Lead::Theirs(std::time::Duration::from_millis(ms.max(0) as u64 + 500)),
        None => Lead::Mine(LeadKeeper(Some(tokio::spawn(keep_lead(
            meta, task, every, hold,
        ))))),
    })
}

/// The answer of [`lead_pass`].
pub enum Lead {
    /// This process runs the pass; the lease is renewed until the keeper is dropped.
    Mine(LeadKeeper),
    /// Another runs it; try again after this long.
    Theirs(std::time::Duration),
}

/// Renews a lease taken by [`lead_pass`] while the pass it is for runs (a pass longer than
/// its interval would otherwise let another process start the next one beside it).
pub struct LeadKeeper(Option<tokio::task::JoinHandle<()>>);

impl Drop for LeadKeeper {
    fn drop(&mut self) {
        if let Some(task) = self.0.take() {
            task.abort();
        }
    }
}

async fn keep_lead(
    meta: std::sync::Arc<dyn MetaStore>,
    task: &'static str,
    every: std::time::Duration,
    hold: i64,
) {
    let beat = (every / 2).clamp(
        std::time::Duration::from_millis(500),
        std::time::Duration::from_secs(60),
    );
    // Three beats at least, so one slow renewal does not let the lease lapse mid-pass.
    let hold = hold.max(3 * i64::try_from(beat.as_millis()).unwrap_or(i64::MAX / 4));
    loop {
        tokio::time::sleep(beat).await;
        let m = meta.clone();
        match tokio::task::spawn_blocking(move || m.renew_lead(task, hold)).await {
            Ok(Ok(true)) => {}
            Ok(Ok(false)) => {
                tracing::warn!(task, "the lease on this pass went to another gateway");
                return;
            }
            Ok(Err(e)) => {
                tracing::warn!(task, error = %e, "could not renew the lease on this pass")
            }
            Err(_) => return,
        }
    }
}

/// The index operations the store needs. Each mutating call is one atomic commit.
pub trait MetaStore:
    BucketStore
    + ObjectStore
    + UploadStore
    + AccessStore
    + BlobLedger
    + TaskLeases
    + stats::IndexStatus
    + Send
    + Sync
    + 'static
{
}

impl<T> MetaStore for T where
    T: BucketStore
        + ObjectStore
        + UploadStore
        + AccessStore
        + BlobLedger
        + TaskLeases
        + stats::IndexStatus
        + Send
        + Sync
        + 'static
{
}

/// Records for tests, so each test names only the fields it cares about.
#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;

    pub fn bucket(name: &str) -> BucketRecord {
        BucketRecord {
            v: RECORD_VERSION,
            id: BucketId::random(),
            name: name.into(),
            owner: "root".into(),
            region: "in-mum".into(),
            created_at_ms: 0,
            cors: None,
            versioning: Versioning::Unversioned,
            object_lock: None,
            tags: None,
            lifecycle: None,
            acl: None,
            ownership: None,
            public_access_block: None,
            policy: None,
            logging: None,
            encryption: None,
        }
    }

    /// An object of `size` bytes in one blob (none when `blob` is empty), ETag `e{size}`.
    pub fn object(size: u64, blob: &str) -> ObjectRecord {
        ObjectRecord {
            v: RECORD_VERSION,
            size,
            etag: format!("e{size}"),
            last_modified_ms: crate::clock::now_ms(),
            headers: StoredHeaders::default(),
            user_meta: Vec::new(),
            checksum: None,
            checksum_type: None,
            segments: if blob.is_empty() {
                Vec::new()
            } else {
                vec![Segment {
                    blob: blob.into(),
                    len: size,
                    checksum: None,
                }]
            },
            upload_id: None,
            version_id: None,
            delete_marker: false,
            tags: Tags::new(),
            retention: None,
            legal_hold: None,
            owner: None,
            acl: None,
            sse: None,
        }
    }

    /// Part `n` of `size` bytes, ETag `n` as 32 hex digits.
    pub fn part(n: u32, size: u64, blob: &str) -> PartRecord {
        PartRecord {
            v: RECORD_VERSION,
            part_number: n,
            size,
            etag: format!("{n:032x}"),
            checksum: None,
            client_checksum: None,
            blob: blob.into(),
            last_modified_ms: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_create_loses_a_race_only_to_an_object_committed_after_it_began() {
        let mut cur = fixtures::object(5, "b1");
        cur.last_modified_ms = 1_000;
        let absent = |since_ms| WriteCondition::Absent { since_ms };
        assert!(absent(1_000).check(None).is_ok());
        // Committed in the millisecond the request began: it may have come first.
        assert!(matches!(
            absent(1_000).check(Some(&cur)),
            Err(crate::error::Error::PreconditionFailed)
        ));
        assert!(matches!(
            absent(999).check(Some(&cur)),
            Err(crate::error::Error::ConditionalRequestConflict)
        ));
        cur.delete_marker = true;
        assert!(absent(1_000).check(Some(&cur)).is_ok());
    }

    #[test]
    fn a_stored_cors_rule_keeps_its_on_disk_form() {
        let stored = r#"{"id":"r1","allowed_origins":["https://a.example"],"allowed_methods":["GET","PUT"],"allowed_headers":["*"],"expose_headers":["ETag"],"max_age_seconds":600}"#;
        let rec: CorsRecord = serde_json::from_str(stored).unwrap();
        assert_eq!(serde_json::to_string(&rec).unwrap(), stored);
        let rule = CorsRule::from(&rec);
        assert_eq!(rule.allowed_methods, ["GET", "PUT"]);
        assert_eq!(CorsRecord::from(&rule), rec);
        // Optional fields stay out when unset, as records written before them expect.
        let bare: CorsRecord =
            serde_json::from_str(r#"{"allowed_origins":["*"],"allowed_methods":["GET"]}"#).unwrap();
        assert_eq!(
            serde_json::to_string(&bare).unwrap(),
            r#"{"allowed_origins":["*"],"allowed_methods":["GET"],"allowed_headers":[],"expose_headers":[]}"#
        );
    }
}
