//! What access control lists allow: canned ACLs expanded to grants, grants matched against
//! the caller, and the rules object ownership and the public access block add.
//!
//! Owners are not subject to ACLs here: a bucket's owner (and its bucket keys, within their
//! limits) may do everything to the bucket and every object in it, and an object's owner
//! everything to the object. S3 lets an owner remove its own READ grant; nobody relies on it.

use sha2::{Digest as _, Sha256};

use super::Principal;
use crate::meta::acl::{Acl, AclPermission, Grant, Grantee, Group, ObjectOwnership};
use crate::meta::BucketRecord;

/// The canonical ID S3 shows for objects the anonymous caller wrote.
pub const ANONYMOUS_CANONICAL_ID: &str = "65a011a29cdf8ec533ec3d1ccaae921c";

/// The stable canonical ID S3 listings and ACLs show for an account.
pub fn canonical_id(account: &str) -> String {
    if account == crate::meta::acl::ANONYMOUS_OWNER {
        return ANONYMOUS_CANONICAL_ID.to_owned();
    }
    hex::encode(Sha256::digest(format!("cnx-storage/owner/{account}")))
}

/// Whether `id` has the form of an account's canonical ID.
pub fn is_canonical_id(id: &str) -> bool {
    id.len() == 64
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// S3's canned ACLs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CannedAcl {
    Private,
    PublicRead,
    PublicReadWrite,
    AuthenticatedRead,
    /// Read access for EC2 in S3; no such service here, so the same as `private`.
    AwsExecRead,
    BucketOwnerRead,
    BucketOwnerFullControl,
    LogDeliveryWrite,
}

impl CannedAcl {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "private" => Self::Private,
            "public-read" => Self::PublicRead,
            "public-read-write" => Self::PublicReadWrite,
            "authenticated-read" => Self::AuthenticatedRead,
            "aws-exec-read" => Self::AwsExecRead,
            "bucket-owner-read" => Self::BucketOwnerRead,
            "bucket-owner-full-control" => Self::BucketOwnerFullControl,
            "log-delivery-write" => Self::LogDeliveryWrite,
            _ => return None,
        })
    }

    /// The grants it stands for on a resource owned by `owner_id` in a bucket owned by
    /// `bucket_owner_id` (the two differ only for objects other accounts wrote).
    pub fn expand(self, owner_id: &str, bucket_owner_id: &str) -> Acl {
        let user = |id: &str, permission| Grant {
            grantee: Grantee::CanonicalUser(id.to_owned()),
            permission,
        };
        let group = |g, permission| Grant {
            grantee: Grantee::Group(g),
            permission,
        };
        let mut grants = vec![user(owner_id, AclPermission::FullControl)];
        match self {
            Self::Private | Self::AwsExecRead => {}
            Self::PublicRead => grants.push(group(Group::AllUsers, AclPermission::Read)),
            Self::PublicReadWrite => {
                grants.push(group(Group::AllUsers, AclPermission::Read));
                grants.push(group(Group::AllUsers, AclPermission::Write));
            }
            Self::AuthenticatedRead => {
                grants.push(group(Group::AuthenticatedUsers, AclPermission::Read))
            }
            Self::BucketOwnerRead if bucket_owner_id != owner_id => {
                grants.push(user(bucket_owner_id, AclPermission::Read))
            }
            Self::BucketOwnerFullControl if bucket_owner_id != owner_id => {
                grants.push(user(bucket_owner_id, AclPermission::FullControl))
            }
            Self::BucketOwnerRead | Self::BucketOwnerFullControl => {}
            Self::LogDeliveryWrite => {
                grants.push(group(Group::LogDelivery, AclPermission::Write));
                grants.push(group(Group::LogDelivery, AclPermission::ReadAcp));
            }
        }
        Acl { grants }
    }
}

/// `private` on a resource owned by `owner`: what a missing ACL means.
pub fn private(owner: &str) -> Acl {
    let id = canonical_id(owner);
    CannedAcl::Private.expand(&id, &id)
}

/// Whether `acl` gives nothing to anyone but its owner `owner` (what S3 still accepts where
/// ACLs are disabled).
pub fn owner_only(acl: &Acl, owner: &str) -> bool {
    let id = canonical_id(owner);
    acl.grants
        .iter()
        .all(|g| matches!(&g.grantee, Grantee::CanonicalUser(g) if *g == id))
}

/// Whether ACLs decide anything in `bucket` (not under `BucketOwnerEnforced`).
pub fn acls_enabled(bucket: &BucketRecord) -> bool {
    bucket.ownership != Some(ObjectOwnership::BucketOwnerEnforced)
}

/// Whether the bucket's public access block refuses requests that set public ACLs.
pub fn blocks_public_acls(bucket: &BucketRecord) -> bool {
    bucket
        .public_access_block
        .is_some_and(|p| p.block_public_acls)
}

/// Whether `acl` gives `principal` the permission `wanted` in `bucket`: never under
/// `BucketOwnerEnforced`, never to a bucket key (keys keep their own limits), and not through
/// public grants when the public access block ignores them.
pub fn grants(
    principal: &Principal,
    bucket: &BucketRecord,
    acl: Option<&Acl>,
    wanted: AclPermission,
) -> bool {
    let Some(acl) = acl else { return false };
    if !acls_enabled(bucket) {
        return false;
    }
    let caller_id = match principal {
        Principal::BucketKey(_) => return false,
        Principal::Anonymous => None,
        Principal::Root | Principal::Account(_) => Some(canonical_id(principal.account())),
    };
    let ignore_public = bucket
        .public_access_block
        .is_some_and(|p| p.ignore_public_acls);
    acl.grants.iter().any(|g| {
        g.permission.covers(wanted)
            && match &g.grantee {
                Grantee::CanonicalUser(id) => caller_id.as_deref() == Some(id.as_str()),
                Grantee::Group(Group::AllUsers) => !ignore_public,
                Grantee::Group(Group::AuthenticatedUsers) => !ignore_public && caller_id.is_some(),
                Grantee::Group(Group::LogDelivery) => false,
            }
    })
}

/// Whether `principal` owns an object of `bucket` whose record names `owner` (`None`: the
/// bucket's owner, whose rights are checked on the bucket). Under `BucketOwnerEnforced` the
/// bucket's owner owns everything, whoever wrote it.
pub fn owns_object(principal: &Principal, bucket: &BucketRecord, owner: Option<&str>) -> bool {
    if !acls_enabled(bucket) {
        return false;
    }
    match (principal, owner) {
        (Principal::Root | Principal::Account(_), Some(o)) => o == principal.account(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::acl::PublicAccessBlock;
    use crate::meta::BucketId;

    fn bucket(ownership: Option<ObjectOwnership>) -> BucketRecord {
        let mut b = crate::meta::fixtures::bucket("b");
        b.owner = "alice".into();
        b.ownership = ownership;
        b
    }

    fn bob() -> Principal {
        Principal::Account("bob".into())
    }

    #[test]
    fn canned_acls_expand_as_s3_documents() {
        let (a, b) = (canonical_id("alice"), canonical_id("bob"));
        let acl = CannedAcl::PublicReadWrite.expand(&a, &a);
        assert_eq!(acl.grants.len(), 3);
        assert!(acl.is_public());
        assert!(!CannedAcl::Private.expand(&a, &a).is_public());
        // the bucket owner's grant appears only when someone else owns the object
        assert_eq!(
            CannedAcl::BucketOwnerFullControl
                .expand(&a, &a)
                .grants
                .len(),
            1
        );
        let written_by_bob = CannedAcl::BucketOwnerFullControl.expand(&b, &a);
        assert_eq!(written_by_bob.grants[1].grantee, Grantee::CanonicalUser(a));
        assert_eq!(CannedAcl::parse("public-read"), Some(CannedAcl::PublicRead));
        assert_eq!(CannedAcl::parse("Public-Read"), None);
    }

    #[test]
    fn grants_match_accounts_groups_and_anonymous() {
        let owner = canonical_id("alice");
        let b = bucket(Some(ObjectOwnership::ObjectWriter));
        let public = CannedAcl::PublicRead.expand(&owner, &owner);
        assert!(grants(
            &Principal::Anonymous,
            &b,
            Some(&public),
            AclPermission::Read
        ));
        assert!(!grants(
            &Principal::Anonymous,
            &b,
            Some(&public),
            AclPermission::Write
        ));
        let authenticated = CannedAcl::AuthenticatedRead.expand(&owner, &owner);
        assert!(grants(
            &bob(),
            &b,
            Some(&authenticated),
            AclPermission::Read
        ));
        assert!(!grants(
            &Principal::Anonymous,
            &b,
            Some(&authenticated),
            AclPermission::Read
        ));
        let to_bob = Acl {
            grants: vec![Grant {
                grantee: Grantee::CanonicalUser(canonical_id("bob")),
                permission: AclPermission::FullControl,
            }],
        };
        assert!(grants(&bob(), &b, Some(&to_bob), AclPermission::WriteAcp));
        assert!(!grants(
            &Principal::Account("carol".into()),
            &b,
            Some(&to_bob),
            AclPermission::Read
        ));
        assert!(!grants(
            &Principal::Anonymous,
            &b,
            None,
            AclPermission::Read
        ));
    }

    #[test]
    fn ownership_and_public_access_block_limit_grants() {
        let owner = canonical_id("alice");
        let public = CannedAcl::PublicRead.expand(&owner, &owner);
        let enforced = bucket(Some(ObjectOwnership::BucketOwnerEnforced));
        assert!(!grants(
            &Principal::Anonymous,
            &enforced,
            Some(&public),
            AclPermission::Read
        ));
        // buckets made before ownership controls have none: ACLs apply, as on S3
        assert!(grants(
            &Principal::Anonymous,
            &bucket(None),
            Some(&public),
            AclPermission::Read
        ));
        let mut ignoring = bucket(Some(ObjectOwnership::ObjectWriter));
        ignoring.public_access_block = Some(PublicAccessBlock {
            ignore_public_acls: true,
            ..Default::default()
        });
        assert!(!grants(
            &Principal::Anonymous,
            &ignoring,
            Some(&public),
            AclPermission::Read
        ));
        let grant = |p| {
            Principal::BucketKey(crate::access::BucketGrant {
                bucket_id: BucketId([9; 16]),
                bucket: "other".into(),
                account: "bob".into(),
                permission: p,
            })
        };
        let authenticated = CannedAcl::AuthenticatedRead.expand(&owner, &owner);
        let open = bucket(Some(ObjectOwnership::ObjectWriter));
        assert!(!grants(
            &grant(crate::meta::KeyPermission::ReadWrite),
            &open,
            Some(&authenticated),
            AclPermission::Read
        ));
    }

    #[test]
    fn object_owners() {
        let b = bucket(Some(ObjectOwnership::ObjectWriter));
        assert!(owns_object(&bob(), &b, Some("bob")));
        assert!(!owns_object(&bob(), &b, None));
        let anonymous = Some(crate::meta::acl::ANONYMOUS_OWNER);
        assert!(!owns_object(&Principal::Anonymous, &b, anonymous));
        let enforced = bucket(Some(ObjectOwnership::BucketOwnerEnforced));
        assert!(
            !owns_object(&bob(), &enforced, Some("bob")),
            "the writer lost it"
        );
        assert_eq!(
            canonical_id(crate::meta::acl::ANONYMOUS_OWNER),
            ANONYMOUS_CANONICAL_ID
        );
    }
}
