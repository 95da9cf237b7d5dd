//! A bucket's access settings in the management API: its ACL, object ownership and public
//! access block, shown as JSON and changed by PATCH with the same rules as S3's calls.

use http::StatusCode;
use serde::Deserialize;

use super::error::{ApiError, ApiResult};
use crate::access::acl::{self as rules, canonical_id, CannedAcl};
use crate::access::policy::Policy;
use crate::meta::acl::{
    Acl, AclPermission, Grant, Grantee, Group, ObjectOwnership, PublicAccessBlock,
};
use crate::meta::BucketRecord;

/// `object_ownership`, `public_access_block`, `acl` and `policy` as a bucket's view shows
/// them.
pub fn view(b: &BucketRecord) -> [(&'static str, serde_json::Value); 4] {
    let acl = match (&b.acl, rules::acls_enabled(b)) {
        (Some(acl), true) => acl.clone(),
        _ => rules::private(&b.owner),
    };
    let owner_id = canonical_id(&b.owner);
    let grants: Vec<serde_json::Value> = acl
        .grants
        .iter()
        .map(|g| {
            let grantee = match &g.grantee {
                Grantee::CanonicalUser(id) if *id == owner_id => {
                    serde_json::json!({ "id": id, "account": b.owner })
                }
                Grantee::CanonicalUser(id) => serde_json::json!({ "id": id }),
                Grantee::Group(group) => serde_json::json!({ "group": group_name(*group) }),
            };
            serde_json::json!({ "grantee": grantee, "permission": g.permission.as_str() })
        })
        .collect();
    [
        (
            "object_ownership",
            b.ownership
                .map_or(serde_json::Value::Null, |o| o.as_str().into()),
        ),
        (
            "public_access_block",
            b.public_access_block.map_or(serde_json::Value::Null, |p| {
                serde_json::json!(PabView::from(p))
            }),
        ),
        ("acl", serde_json::json!({ "grants": grants })),
        (
            "policy",
            b.policy
                .as_deref()
                .and_then(|t| serde_json::from_str(t).ok())
                .unwrap_or(serde_json::Value::Null),
        ),
    ]
}

fn group_name(g: Group) -> &'static str {
    match g {
        Group::AllUsers => "AllUsers",
        Group::AuthenticatedUsers => "AuthenticatedUsers",
        Group::LogDelivery => "LogDelivery",
    }
}

#[derive(Debug, Clone, Copy, serde::Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PabView {
    #[serde(default)]
    block_public_acls: bool,
    #[serde(default)]
    ignore_public_acls: bool,
    #[serde(default)]
    block_public_policy: bool,
    #[serde(default)]
    restrict_public_buckets: bool,
}

impl From<PublicAccessBlock> for PabView {
    fn from(p: PublicAccessBlock) -> Self {
        Self {
            block_public_acls: p.block_public_acls,
            ignore_public_acls: p.ignore_public_acls,
            block_public_policy: p.block_public_policy,
            restrict_public_buckets: p.restrict_public_buckets,
        }
    }
}

impl From<PabView> for PublicAccessBlock {
    fn from(p: PabView) -> Self {
        Self {
            block_public_acls: p.block_public_acls,
            ignore_public_acls: p.ignore_public_acls,
            block_public_policy: p.block_public_policy,
            restrict_public_buckets: p.restrict_public_buckets,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GrantView {
    grantee: GranteeView,
    permission: String,
}

/// One of `account` (a name on this server), `id` (a canonical ID) or `group`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GranteeView {
    #[serde(default)]
    account: Option<String>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    group: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum AclInput {
    Canned(String),
    Grants { grants: Vec<GrantView> },
}

/// The access settings one PATCH changes; `Some(None)` removes a setting.
#[derive(Debug, Default)]
pub struct AccessPatch {
    ownership: Option<Option<ObjectOwnership>>,
    public_access_block: Option<Option<PublicAccessBlock>>,
    acl: Option<Acl>,
    /// The policy's text and whether it is public.
    policy: Option<Option<(String, bool)>>,
}

impl AccessPatch {
    pub const KEYS: [&'static str; 4] =
        ["object_ownership", "public_access_block", "acl", "policy"];

    pub fn parse(
        doc: &serde_json::Map<String, serde_json::Value>,
        bucket: &BucketRecord,
    ) -> ApiResult<Option<Self>> {
        let owner = bucket.owner.as_str();
        let mut p = Self::default();
        if let Some(v) = doc.get("object_ownership") {
            p.ownership = Some(match v {
                serde_json::Value::Null => None,
                v => Some(v.as_str().and_then(ObjectOwnership::parse).ok_or_else(|| {
                    ApiError::bad_request(
                        "object_ownership must be BucketOwnerEnforced, BucketOwnerPreferred, ObjectWriter or null",
                    )
                })?),
            });
        }
        if let Some(v) = doc.get("public_access_block") {
            let view: Option<PabView> = serde_json::from_value(v.clone()).map_err(|e| {
                ApiError::bad_request(format!(
                    "public_access_block must be an object of four booleans or null: {e}"
                ))
            })?;
            p.public_access_block = Some(view.map(PublicAccessBlock::from));
        }
        if let Some(v) = doc.get("acl") {
            p.acl = Some(acl_from_json(v, owner)?);
        }
        if let Some(v) = doc.get("policy") {
            p.policy = Some(match v {
                serde_json::Value::Null => None,
                v => {
                    let text = v.to_string();
                    let policy = Policy::parse(&text, &bucket.name)
                        .map_err(|e| ApiError::bad_request(format!("invalid policy: {e}")))?;
                    Some((text, policy.is_public()))
                }
            });
        }
        let any = p.ownership.is_some()
            || p.public_access_block.is_some()
            || p.acl.is_some()
            || p.policy.is_some();
        Ok(any.then_some(p))
    }

    /// Applies the changes to `rec` as S3's calls would, in the order that lets one PATCH
    /// open a bucket up (ownership and block first, then the ACL) or close it down.
    fn apply_to(&self, rec: &mut BucketRecord) -> Result<(), String> {
        if let Some(o) = self.ownership {
            rec.ownership = o;
        }
        if let Some(p) = self.public_access_block {
            rec.public_access_block = p;
        }
        if let Some(acl) = &self.acl {
            rec.acl = (!rules::owner_only(acl, &rec.owner)).then(|| acl.clone());
            if rec.acl.as_ref().is_some_and(Acl::is_public) && rules::blocks_public_acls(rec) {
                return Err(
                    "the bucket's public access block refuses public ACLs (block_public_acls)"
                        .into(),
                );
            }
        }
        if let Some(policy) = &self.policy {
            let blocks = rec
                .public_access_block
                .is_some_and(|p| p.block_public_policy);
            if policy.as_ref().is_some_and(|(_, public)| *public) && blocks {
                return Err(
                    "the bucket's public access block refuses public policies (block_public_policy)"
                        .into(),
                );
            }
            rec.policy = policy.as_ref().map(|(text, _)| text.clone());
        }
        if rec.acl.is_some() && !rules::acls_enabled(rec) {
            return Err(
                "ACLs are disabled under object_ownership BucketOwnerEnforced: make the ACL private or choose another ownership"
                    .into(),
            );
        }
        Ok(())
    }

    /// Refuses the changes if `b` as it is now could not take them.
    pub fn check(&self, b: &BucketRecord) -> ApiResult<()> {
        let mut preview = b.clone();
        self.apply_to(&mut preview)
            .map_err(|m| ApiError::new(StatusCode::BAD_REQUEST, m))
    }

    pub async fn apply(
        self,
        store: &crate::store::Store,
        b: &BucketRecord,
    ) -> ApiResult<BucketRecord> {
        self.check(b)?;
        Ok(store
            .update_bucket(b, move |rec| {
                self.apply_to(rec)
                    .map_err(crate::error::Error::InvalidRequest)
            })
            .await?)
    }
}

fn acl_from_json(v: &serde_json::Value, owner: &str) -> ApiResult<Acl> {
    let input: AclInput = serde_json::from_value(v.clone()).map_err(|e| {
        ApiError::bad_request(format!(
            "acl must be a canned ACL name or {{\"grants\": [...]}}: {e}"
        ))
    })?;
    let owner_id = canonical_id(owner);
    match input {
        AclInput::Canned(name) => CannedAcl::parse(&name)
            .map(|c| c.expand(&owner_id, &owner_id))
            .ok_or_else(|| ApiError::bad_request(format!("unknown canned ACL `{name}`"))),
        AclInput::Grants { grants } => {
            if grants.len() > 100 {
                return Err(ApiError::bad_request("an ACL holds at most 100 grants"));
            }
            let mut out = Vec::with_capacity(grants.len());
            for g in grants {
                let permission = AclPermission::parse(&g.permission).ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "permission `{}` is not READ, WRITE, READ_ACP, WRITE_ACP or FULL_CONTROL",
                        g.permission
                    ))
                })?;
                let grantee = match (g.grantee.account, g.grantee.id, g.grantee.group) {
                    (Some(a), None, None) if crate::access::valid_account_name(&a) || a == crate::access::ROOT_ACCOUNT => {
                        Grantee::CanonicalUser(canonical_id(&a))
                    }
                    (None, Some(id), None) if rules::is_canonical_id(&id) => {
                        Grantee::CanonicalUser(id)
                    }
                    (None, None, Some(name)) => Grantee::Group(
                        Group::ALL
                            .into_iter()
                            .find(|g| group_name(*g) == name)
                            .ok_or_else(|| {
                                ApiError::bad_request(format!(
                                    "group `{name}` is not AllUsers, AuthenticatedUsers or LogDelivery"
                                ))
                            })?,
                    ),
                    _ => {
                        return Err(ApiError::bad_request(
                            "a grantee is one of {\"account\": name}, {\"id\": canonical id} or {\"group\": name}",
                        ))
                    }
                };
                out.push(Grant {
                    grantee,
                    permission,
                });
            }
            Ok(Acl { grants: out })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(v: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn patches_open_and_close_a_bucket() {
        let mut b = crate::meta::fixtures::bucket("b");
        b.ownership = Some(ObjectOwnership::BucketOwnerEnforced);
        b.public_access_block = Some(PublicAccessBlock::ALL_ON);
        let public = doc(serde_json::json!({"acl": "public-read"}));
        let p = AccessPatch::parse(&public, &b).unwrap().unwrap();
        assert!(p
            .apply_to(&mut b.clone())
            .unwrap_err()
            .contains("block_public_acls"));
        let open = doc(serde_json::json!({
            "acl": "public-read", "object_ownership": "ObjectWriter", "public_access_block": null
        }));
        let mut opened = b.clone();
        AccessPatch::parse(&open, &b)
            .unwrap()
            .unwrap()
            .apply_to(&mut opened)
            .unwrap();
        assert!(opened.acl.as_ref().unwrap().is_public());
        let enforce = doc(serde_json::json!({"object_ownership": "BucketOwnerEnforced"}));
        let p = AccessPatch::parse(&enforce, &b).unwrap().unwrap();
        assert!(p
            .apply_to(&mut opened.clone())
            .unwrap_err()
            .contains("disabled"));
        let close =
            doc(serde_json::json!({"object_ownership": "BucketOwnerEnforced", "acl": "private"}));
        AccessPatch::parse(&close, &b)
            .unwrap()
            .unwrap()
            .apply_to(&mut opened)
            .unwrap();
        assert_eq!(opened.acl, None);
        assert!(
            AccessPatch::parse(&doc(serde_json::json!({"cors": null})), &b)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn policies_are_checked_against_the_block() {
        let mut b = crate::meta::fixtures::bucket("b");
        b.public_access_block = Some(PublicAccessBlock::ALL_ON);
        let public = doc(
            serde_json::json!({"policy": {"Statement": [{"Effect": "Allow",
            "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}]}}),
        );
        let p = AccessPatch::parse(&public, &b).unwrap().unwrap();
        assert!(p
            .apply_to(&mut b.clone())
            .unwrap_err()
            .contains("block_public_policy"));
        b.public_access_block = None;
        let mut opened = b.clone();
        p.apply_to(&mut opened).unwrap();
        assert!(opened.policy.unwrap().contains("s3:GetObject"));
        let other = doc(
            serde_json::json!({"policy": {"Statement": [{"Effect": "Allow",
            "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::x/*"}]}}),
        );
        assert!(AccessPatch::parse(&other, &b).is_err());
    }

    #[test]
    fn grants_by_account_id_and_group() {
        let v = serde_json::json!({"grants": [
            {"grantee": {"account": "bob"}, "permission": "READ"},
            {"grantee": {"group": "AuthenticatedUsers"}, "permission": "READ_ACP"},
            {"grantee": {"id": canonical_id("carol")}, "permission": "FULL_CONTROL"},
        ]});
        let acl = acl_from_json(&v, "alice").unwrap();
        assert_eq!(
            acl.grants[0].grantee,
            Grantee::CanonicalUser(canonical_id("bob"))
        );
        assert!(acl.is_public());
        for bad in [
            serde_json::json!("world-readable"),
            serde_json::json!({"grants": [{"grantee": {"id": "x"}, "permission": "READ"}]}),
            serde_json::json!({"grants": [{"grantee": {"group": "Everyone"}, "permission": "READ"}]}),
            serde_json::json!({"grants": [{"grantee": {"account": "bob"}, "permission": "LOOK"}]}),
            serde_json::json!({"grants": [{"grantee": {"account": "bob", "group": "AllUsers"}, "permission": "READ"}]}),
        ] {
            assert!(acl_from_json(&bad, "alice").is_err(), "{bad}");
        }
    }
}
