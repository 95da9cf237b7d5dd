//! Access-control settings as the index keeps them: access control lists on buckets and
//! objects, a bucket's object ownership setting and its public access block. What they allow
//! is decided in `access::acl`.

use serde::{Deserialize, Serialize};

/// A permission an ACL grant gives (S3's five).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AclPermission {
    Read,
    Write,
    ReadAcp,
    WriteAcp,
    FullControl,
}

impl AclPermission {
    pub const ALL: [AclPermission; 5] = [
        Self::Read,
        Self::Write,
        Self::ReadAcp,
        Self::WriteAcp,
        Self::FullControl,
    ];

    /// S3's name (`READ`, `WRITE_ACP`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "READ",
            Self::Write => "WRITE",
            Self::ReadAcp => "READ_ACP",
            Self::WriteAcp => "WRITE_ACP",
            Self::FullControl => "FULL_CONTROL",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// Whether a grant of `self` gives `wanted` (FULL_CONTROL gives every permission).
    pub fn covers(self, wanted: AclPermission) -> bool {
        self == wanted || self == Self::FullControl
    }
}

/// S3's predefined groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Group {
    /// Anyone, signed or not.
    AllUsers,
    /// Any signed request of any account of this server.
    AuthenticatedUsers,
    /// S3's log delivery group; grants to it are kept and shown, and give nobody access here.
    LogDelivery,
}

impl Group {
    pub const ALL: [Group; 3] = [Self::AllUsers, Self::AuthenticatedUsers, Self::LogDelivery];

    /// The URI S3 names the group by.
    pub fn uri(self) -> &'static str {
        match self {
            Self::AllUsers => "http://acs.amazonaws.com/groups/global/AllUsers",
            Self::AuthenticatedUsers => "http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
            Self::LogDelivery => "http://acs.amazonaws.com/groups/s3/LogDelivery",
        }
    }

    pub fn from_uri(uri: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|g| g.uri() == uri)
    }

    /// Grants to AllUsers and AuthenticatedUsers make a resource public, as S3 counts it.
    pub fn is_public(self) -> bool {
        matches!(self, Self::AllUsers | Self::AuthenticatedUsers)
    }
}

/// Who a grant is for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Grantee {
    /// An account, by the canonical ID S3 shows for it (64 hex digits).
    CanonicalUser(String),
    Group(Group),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Grant {
    pub grantee: Grantee,
    pub permission: AclPermission,
}

/// An access control list. Its owner is the bucket's or object's owner; the owner's own
/// grant (FULL_CONTROL under every canned ACL) is listed like any other.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acl {
    pub grants: Vec<Grant>,
}

impl Acl {
    /// Whether a grant goes to AllUsers or AuthenticatedUsers.
    pub fn is_public(&self) -> bool {
        self.grants
            .iter()
            .any(|g| matches!(g.grantee, Grantee::Group(group) if group.is_public()))
    }
}

/// Who owns the objects written to a bucket, and whether ACLs apply at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ObjectOwnership {
    /// ACLs are disabled: the bucket owner owns every object (S3's default for new buckets).
    BucketOwnerEnforced,
    /// The bucket owner owns objects written with the `bucket-owner-full-control` ACL.
    BucketOwnerPreferred,
    /// The writer owns what it writes.
    ObjectWriter,
}

impl ObjectOwnership {
    pub const ALL: [ObjectOwnership; 3] = [
        Self::BucketOwnerEnforced,
        Self::BucketOwnerPreferred,
        Self::ObjectWriter,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::BucketOwnerEnforced => "BucketOwnerEnforced",
            Self::BucketOwnerPreferred => "BucketOwnerPreferred",
            Self::ObjectWriter => "ObjectWriter",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.as_str() == s)
    }
}

/// S3's public access block: four switches, each off unless set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicAccessBlock {
    /// Refuse requests that would set a public ACL.
    #[serde(default)]
    pub block_public_acls: bool,
    /// Public grants give nobody access.
    #[serde(default)]
    pub ignore_public_acls: bool,
    /// Refuse bucket policies that would make the bucket public.
    #[serde(default)]
    pub block_public_policy: bool,
    /// A public policy gives access to the owner's accounts only.
    #[serde(default)]
    pub restrict_public_buckets: bool,
}

impl PublicAccessBlock {
    /// All four on: what S3 gives new buckets.
    pub const ALL_ON: Self = Self {
        block_public_acls: true,
        ignore_public_acls: true,
        block_public_policy: true,
        restrict_public_buckets: true,
    };
}

/// The access settings a bucket starts with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBucketAccess {
    pub ownership: ObjectOwnership,
    pub acl: Option<Acl>,
    pub public_access_block: PublicAccessBlock,
}

impl Default for NewBucketAccess {
    /// S3's defaults for new buckets since 2023: ACLs disabled, public access blocked.
    fn default() -> Self {
        Self {
            ownership: ObjectOwnership::BucketOwnerEnforced,
            acl: None,
            public_access_block: PublicAccessBlock::ALL_ON,
        }
    }
}

/// Where a bucket's server access log goes (S3 PutBucketLogging).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LoggingConfig {
    pub target_bucket: String,
    /// Put before every log object's name.
    #[serde(default)]
    pub target_prefix: String,
    /// S3's `PartitionedPrefix`: log objects under `account/region/bucket/YYYY/MM/DD/`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub partitioned: bool,
}

/// The owner an object record names when the anonymous caller wrote it (not an account name:
/// those never hold `*`).
pub const ANONYMOUS_OWNER: &str = "*anonymous*";
