//! Who is calling and what they may do: principals, the key ring every signature is checked
//! against, sealed secrets, JWT bearer tokens and per-principal rate limits.

pub mod acl;
pub mod admin;
pub mod jwt;
pub mod keyring;
pub mod kms;
pub mod policy;
pub mod ratelimit;
pub mod seal;
pub mod signer;

use crate::meta::{BucketId, BucketRecord, KeyPermission};

pub use keyring::KeyRing;

/// The account that root credentials act as.
pub const ROOT_ACCOUNT: &str = "root";

/// What an operation needs of the caller's rights on a bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    Read,
    Write,
    /// Bucket lifecycle and account-wide actions: the owning account only, never a bucket key.
    Owner,
}

/// A key that acts on one bucket only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketGrant {
    pub bucket_id: BucketId,
    pub bucket: String,
    /// The bucket's owner, on whose behalf the key acts.
    pub account: String,
    pub permission: KeyPermission,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    Root,
    /// An account known by JWT `sub` or by an account-level key.
    Account(String),
    BucketKey(BucketGrant),
    /// An unsigned request: only what ACLs grant to everyone.
    Anonymous,
}

impl Principal {
    pub fn account(&self) -> &str {
        match self {
            Principal::Root => ROOT_ACCOUNT,
            Principal::Account(a) => a,
            Principal::BucketKey(g) => &g.account,
            Principal::Anonymous => crate::meta::acl::ANONYMOUS_OWNER,
        }
    }

    /// Whether the caller may act on `bucket` with `need`.
    pub fn may(&self, bucket: &BucketRecord, need: Permission) -> bool {
        match self {
            Principal::Root | Principal::Account(_) => bucket.owner == self.account(),
            Principal::BucketKey(g) => {
                g.bucket_id == bucket.id
                    && match need {
                        Permission::Read => true,
                        Permission::Write => g.permission == KeyPermission::ReadWrite,
                        Permission::Owner => false,
                    }
            }
            Principal::Anonymous => false,
        }
    }

    /// Whether the caller may name `bucket` at all; a bucket key is refused other buckets
    /// before the index is consulted, so it learns nothing about them.
    pub fn may_name(&self, bucket: &str) -> bool {
        match self {
            Principal::BucketKey(g) => g.bucket == bucket,
            _ => true,
        }
    }
}

/// An authenticated caller: who, and the access key that signed (none for a bearer token).
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Principal,
    pub access_key_id: Option<String>,
}

impl Caller {
    /// Rate limits count per account, or per key for bucket keys.
    pub fn rate_key(&self) -> String {
        match (&self.principal, &self.access_key_id) {
            (Principal::BucketKey(_), Some(k)) => format!("key:{k}"),
            (Principal::Anonymous, _) => "anonymous".to_owned(),
            (p, _) => format!("account:{}", p.account()),
        }
    }
}

/// Account names (JWT `sub`, or named by root): 1–128 characters of letters, digits and
/// `-_.@+:`; `root` is the root account's own and cannot be claimed.
pub fn valid_account_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name != ROOT_ACCOUNT
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.@+:".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket(owner: &str) -> BucketRecord {
        BucketRecord {
            v: 1,
            id: BucketId([1; 16]),
            name: "b".into(),
            owner: owner.into(),
            region: "in-mum".into(),
            created_at_ms: 0,
            cors: None,
            versioning: Default::default(),
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

    #[test]
    fn bucket_keys_act_on_their_bucket_within_their_permission() {
        let grant = |permission| {
            Principal::BucketKey(BucketGrant {
                bucket_id: BucketId([1; 16]),
                bucket: "b".into(),
                account: "alice".into(),
                permission,
            })
        };
        let b = bucket("alice");
        let read = grant(KeyPermission::Read);
        let rw = grant(KeyPermission::ReadWrite);
        assert!(read.may(&b, Permission::Read));
        assert!(!read.may(&b, Permission::Write));
        assert!(rw.may(&b, Permission::Write));
        assert!(!rw.may(&b, Permission::Owner));
        let mut recreated = b.clone();
        recreated.id = BucketId([2; 16]);
        assert!(!rw.may(&recreated, Permission::Read));
        assert!(!rw.may_name("other"));
    }

    #[test]
    fn accounts_act_on_their_own_buckets() {
        let b = bucket("alice");
        assert!(Principal::Account("alice".into()).may(&b, Permission::Owner));
        assert!(!Principal::Account("bob".into()).may(&b, Permission::Read));
        assert!(!Principal::Root.may(&b, Permission::Read));
        assert!(Principal::Root.may(&bucket("root"), Permission::Owner));
    }

    #[test]
    fn account_names() {
        assert!(valid_account_name("alice@example.com"));
        assert!(valid_account_name("user_123"));
        assert!(!valid_account_name("root"));
        assert!(!valid_account_name(""));
        assert!(!valid_account_name("a b"));
        assert!(!valid_account_name(&"a".repeat(129)));
    }
}
