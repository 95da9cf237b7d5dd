//! Access control lists on the S3 surface: Get/PutBucketAcl, Get/PutObjectAcl, the ACL
//! headers of writes (`x-amz-acl`, `x-amz-grant-*`), object ownership controls and the public
//! access block, and the gate that lets callers other than the owner reach an object through
//! its ACL.

use http::{HeaderMap, StatusCode};
use serde::Deserialize;

use super::endpoint::AclRule;
use super::error::{S3Code, S3Error, S3Result};
use super::headers::header;
use super::object::{read_document, version_header, version_param};
use super::{status_only, xml_ok, Ctx};
use crate::access::acl::{self as rules, canonical_id, owner_only, CannedAcl};
use crate::access::Principal;
use crate::meta::acl::{
    Acl, AclPermission, Grant, Grantee, Group, ObjectOwnership, PublicAccessBlock, ANONYMOUS_OWNER,
};

use crate::meta::{BucketRecord, ObjectRecord, VersionRef};
use crate::web::body::{RequestBody, Response};
use crate::xml::{self, XmlWriter};

/// An AccessControlPolicy of 100 grants is a few tens of KiB.
const MAX_ACL_DOC: usize = 64 * 1024;
/// S3's limit on grants in one ACL.
const MAX_GRANTS: usize = 100;

const XSI_NS: &str = "http://www.w3.org/2001/XMLSchema-instance";

pub(crate) const GRANT_HEADERS: [(&str, AclPermission); 5] = [
    ("x-amz-grant-read", AclPermission::Read),
    ("x-amz-grant-write", AclPermission::Write),
    ("x-amz-grant-read-acp", AclPermission::ReadAcp),
    ("x-amz-grant-write-acp", AclPermission::WriteAcp),
    ("x-amz-grant-full-control", AclPermission::FullControl),
];

/// The ACL a request asks for in its headers.
#[derive(Debug, Clone, PartialEq)]
pub enum Requested {
    Canned(CannedAcl),
    /// `x-amz-grant-*`: exactly these grants (the owner's FULL_CONTROL only if named).
    Grants(Acl),
}

impl Requested {
    /// The ACL it stands for on a resource owned by `owner` in a bucket owned by
    /// `bucket_owner`.
    fn resolve(&self, owner: &str, bucket_owner: &str) -> Acl {
        match self {
            Self::Canned(c) => c.expand(&canonical_id(owner), &canonical_id(bucket_owner)),
            Self::Grants(acl) => acl.clone(),
        }
    }
}

/// `x-amz-acl` or `x-amz-grant-*`, if the request has either (not both, as on S3).
pub fn requested(h: &HeaderMap) -> S3Result<Option<Requested>> {
    let canned = match header(h, "x-amz-acl") {
        None => None,
        Some(v) => Some(CannedAcl::parse(v.trim()).ok_or_else(|| {
            S3Error::new(
                S3Code::InvalidArgument,
                format!("Unknown canned ACL `{v}`."),
            )
            .with("ArgumentName", "x-amz-acl")
        })?),
    };
    let mut grants = Vec::new();
    for (name, permission) in GRANT_HEADERS {
        for value in h.get_all(name) {
            let value = value.to_str().map_err(|_| {
                S3Error::new(S3Code::InvalidArgument, format!("{name} is not ASCII"))
            })?;
            for grantee in parse_grantees(name, value)? {
                grants.push(Grant {
                    grantee,
                    permission,
                });
            }
        }
    }
    match (canned, grants.is_empty()) {
        (Some(_), false) => Err(S3Error::new(
            S3Code::InvalidRequest,
            "Specifying both Canned ACLs and Header Grants is not allowed",
        )),
        (Some(c), true) => Ok(Some(Requested::Canned(c))),
        (None, false) => {
            check_grant_count(grants.len())?;
            Ok(Some(Requested::Grants(Acl { grants })))
        }
        (None, true) => Ok(None),
    }
}

/// `id="…", uri="…", emailAddress="…"` as the grant headers list grantees.
fn parse_grantees(name: &str, value: &str) -> S3Result<Vec<Grantee>> {
    let bad = || {
        S3Error::new(
            S3Code::InvalidArgument,
            format!("{name} must list grantees as id=\"…\" or uri=\"…\", comma-separated."),
        )
        .with("ArgumentName", name)
    };
    let mut out = Vec::new();
    for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (kind, v) = item.split_once('=').ok_or_else(bad)?;
        let v = v.trim();
        let v = v
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(v);
        out.push(match kind.trim().to_ascii_lowercase().as_str() {
            "id" => user(v)?,
            "uri" => group(v)?,
            "emailaddress" => return Err(S3Error::code(S3Code::UnresolvableGrantByEmailAddress)),
            _ => return Err(bad()),
        });
    }
    if out.is_empty() {
        return Err(bad());
    }
    Ok(out)
}

fn user(id: &str) -> S3Result<Grantee> {
    let id = id.trim().to_ascii_lowercase();
    if rules::is_canonical_id(&id) || id == rules::ANONYMOUS_CANONICAL_ID {
        Ok(Grantee::CanonicalUser(id))
    } else {
        Err(S3Error::new(S3Code::InvalidArgument, "Invalid id")
            .with("ArgumentName", "CanonicalUser/ID"))
    }
}

fn group(uri: &str) -> S3Result<Grantee> {
    Group::from_uri(uri.trim())
        .map(Grantee::Group)
        .ok_or_else(|| {
            S3Error::new(S3Code::InvalidArgument, "Invalid group uri")
                .with("ArgumentName", "Group/URI")
        })
}

fn check_grant_count(n: usize) -> S3Result<()> {
    if n > MAX_GRANTS {
        return Err(S3Error::new(
            S3Code::MalformedACLError,
            format!("An ACL may hold at most {MAX_GRANTS} grants."),
        ));
    }
    Ok(())
}

/// Whether the caller acts as the bucket's owner (its account, or one of its bucket keys).
fn acts_as_bucket_owner(p: &Principal, bucket: &BucketRecord) -> bool {
    match p {
        Principal::BucketKey(g) => g.bucket_id == bucket.id,
        Principal::Root | Principal::Account(_) => p.account() == bucket.owner,
        Principal::Anonymous => false,
    }
}

/// The owner and ACL an object written now by `principal` gets, from the request's ACL
/// headers, the bucket's object ownership and its public access block. `None` owner: the
/// bucket's owner; `None` ACL: `private`.
pub fn for_write(
    h: &HeaderMap,
    bucket: &BucketRecord,
    principal: &Principal,
) -> S3Result<(Option<String>, Option<Acl>)> {
    let requested = requested(h)?;
    if !rules::acls_enabled(bucket) {
        // Only `bucket-owner-full-control`, or what amounts to it, passes where ACLs are off.
        let accepted = match &requested {
            None => true,
            Some(Requested::Canned(c)) => {
                matches!(c, CannedAcl::Private | CannedAcl::BucketOwnerFullControl)
            }
            Some(Requested::Grants(acl)) => owner_only(acl, &bucket.owner),
        };
        if !accepted {
            return Err(S3Error::code(S3Code::AccessControlListNotSupported));
        }
        return Ok((None, None));
    }
    let owner = if acts_as_bucket_owner(principal, bucket) {
        None
    } else {
        let preferred = bucket.ownership == Some(ObjectOwnership::BucketOwnerPreferred)
            && requested == Some(Requested::Canned(CannedAcl::BucketOwnerFullControl));
        (!preferred).then(|| principal.account().to_owned())
    };
    let Some(requested) = requested else {
        return Ok((owner, None));
    };
    let acl = requested.resolve(owner.as_deref().unwrap_or(&bucket.owner), &bucket.owner);
    refuse_public(bucket, &acl)?;
    Ok((owner, Some(acl)))
}

fn refuse_public(bucket: &BucketRecord, acl: &Acl) -> S3Result<()> {
    if acl.is_public() && rules::blocks_public_acls(bucket) {
        return Err(S3Error::new(
            S3Code::AccessDenied,
            "Access Denied: the bucket's public access block refuses public ACLs.",
        ));
    }
    Ok(())
}

/// The ACL and ownership CreateBucket asks for (`x-amz-acl`/`x-amz-grant-*` and
/// `x-amz-object-ownership`), checked as S3 checks them for a new bucket, whose public access
/// block is on.
pub fn for_new_bucket(h: &HeaderMap, owner: &str) -> S3Result<(ObjectOwnership, Option<Acl>)> {
    let ownership = match header(h, "x-amz-object-ownership") {
        None => ObjectOwnership::BucketOwnerEnforced,
        Some(v) => ObjectOwnership::parse(v.trim()).ok_or_else(|| {
            S3Error::new(
                S3Code::InvalidArgument,
                format!("Invalid x-amz-object-ownership `{v}`."),
            )
            .with("ArgumentName", "x-amz-object-ownership")
        })?,
    };
    let Some(requested) = requested(h)? else {
        return Ok((ownership, None));
    };
    let acl = requested.resolve(owner, owner);
    if owner_only(&acl, owner) {
        return Ok((ownership, None));
    }
    if ownership == ObjectOwnership::BucketOwnerEnforced {
        return Err(S3Error::code(S3Code::InvalidBucketAclWithObjectOwnership));
    }
    if acl.is_public() {
        return Err(S3Error::code(
            S3Code::InvalidBucketAclWithBlockPublicAccessError,
        ));
    }
    Ok((ownership, Some(acl)))
}

// ---- the gate for objects reached through their ACL ----

/// The object a GetObject, HeadObject, Get/PutObjectAcl names, with the bucket, once the
/// caller may act on it: as the bucket's owner, as the object's owner, or through the
/// object's ACL. A caller who may not list the bucket learns nothing of what is not there
/// (403, not 404).
pub async fn authorized_object(ctx: &Ctx) -> S3Result<(BucketRecord, ObjectRecord)> {
    let bucket = ctx.state.store.bucket(ctx.bucket_name()?).await?;
    let version = version_param(ctx)?;
    let principal = &ctx.caller.principal;
    let owner_access = principal.may(&bucket, ctx.need);
    let Some(AclRule::Object(wanted)) = ctx.op.acl_rule() else {
        return Err(S3Error::new(
            S3Code::InternalError,
            format!("{} does not reach objects through their ACL", ctx.op.name()),
        ));
    };
    if !owner_access && matches!(principal, Principal::BucketKey(_)) {
        return Err(S3Error::code(S3Code::AccessDenied));
    }
    let key = ctx.key()?;
    let found = ctx.state.store.object(&bucket, key, version.as_ref()).await;
    let facts = super::policy::Facts::of(ctx);
    let by_policy =
        super::policy::verdict(&facts, ctx.op, &bucket, Some(key), found.as_ref().ok())?;
    if owner_access {
        return Ok((bucket, found?));
    }
    let rec = match found {
        Ok(rec) => rec,
        Err(e) => {
            return Err(if may_list(ctx, &bucket) {
                e.into()
            } else {
                S3Error::code(S3Code::AccessDenied)
            });
        }
    };
    let allowed = by_policy
        || rules::owns_object(principal, &bucket, rec.owner.as_deref())
        || rules::grants(principal, &bucket, rec.acl.as_ref(), wanted);
    if !allowed {
        return Err(S3Error::code(S3Code::AccessDenied));
    }
    Ok((bucket, rec))
}

/// Whether the caller may list `bucket` (and so learn which keys are missing): as its owner,
/// through its ACL or through its policy.
pub fn may_list(ctx: &Ctx, bucket: &BucketRecord) -> bool {
    may_list_key(ctx, bucket, ctx.key.as_deref().unwrap_or(""))
}

/// [`may_list`] for `key` of `bucket` (a copy's source names its own).
pub fn may_list_key(ctx: &Ctx, bucket: &BucketRecord, key: &str) -> bool {
    let p = &ctx.caller.principal;
    if matches!(p, Principal::BucketKey(_)) && !p.may(bucket, crate::access::Permission::Read) {
        return false;
    }
    let facts = super::policy::Facts::of(ctx);
    // Asked as a listing of the key itself: the request's own `prefix` proves nothing.
    let by_policy = match super::policy::decide_listing(&facts, bucket, key) {
        crate::access::policy::Decision::Deny => return false,
        _ if p.may(bucket, crate::access::Permission::Read) => return true,
        crate::access::policy::Decision::Allow => {
            super::policy::allow_extends(p, super::endpoint::S3Op::ListObjects, bucket)
        }
        crate::access::policy::Decision::NotApplicable => false,
    };
    by_policy || rules::grants(p, bucket, bucket.acl.as_ref(), AclPermission::Read)
}

/// Whether the caller may read `rec`, `key` of `bucket` (a copy's source, `versioned` when
/// named by version id): `Err` when the bucket's policy denies it.
pub fn may_read(
    ctx: &Ctx,
    bucket: &BucketRecord,
    key: &str,
    rec: &ObjectRecord,
    versioned: bool,
) -> S3Result<bool> {
    let principal = &ctx.caller.principal;
    let facts = super::policy::Facts::of(ctx);
    let read = super::endpoint::S3Op::GetObject;
    let by_policy =
        super::policy::verdict_on(&facts, read, versioned, bucket, Some(key), Some(rec))?;
    Ok(principal.may(bucket, crate::access::Permission::Read)
        || (!matches!(principal, Principal::BucketKey(_))
            && (by_policy
                || rules::owns_object(principal, bucket, rec.owner.as_deref())
                || rules::grants(principal, bucket, rec.acl.as_ref(), AclPermission::Read))))
}

// ---- documents ----

fn grantee_xml(w: &mut XmlWriter, grantee: &Grantee, owner: &str) {
    match grantee {
        Grantee::CanonicalUser(id) => {
            w.open_with_attrs(
                "Grantee",
                &[("xmlns:xsi", XSI_NS), ("xsi:type", "CanonicalUser")],
            );
            w.elem("ID", id);
            if *id == canonical_id(owner) && owner != ANONYMOUS_OWNER {
                w.elem("DisplayName", owner);
            }
            w.close();
        }
        Grantee::Group(g) => {
            w.open_with_attrs("Grantee", &[("xmlns:xsi", XSI_NS), ("xsi:type", "Group")]);
            w.elem("URI", g.uri()).close();
        }
    }
}

/// S3's AccessControlPolicy document for a resource owned by `owner`.
pub fn acl_document(owner: &str, acl: &Acl) -> String {
    let mut w = XmlWriter::new("AccessControlPolicy");
    w.open("Owner").elem("ID", &canonical_id(owner));
    if owner != ANONYMOUS_OWNER {
        w.elem("DisplayName", owner);
    }
    w.close();
    w.open("AccessControlList");
    for g in &acl.grants {
        w.open("Grant");
        grantee_xml(&mut w, &g.grantee, owner);
        w.elem("Permission", g.permission.as_str()).close();
    }
    w.close();
    w.finish()
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AccessControlPolicy {
    #[serde(default)]
    owner: Option<PolicyOwner>,
    #[serde(default)]
    access_control_list: Option<AccessControlList>,
}

#[derive(Debug, Default, Deserialize)]
struct PolicyOwner {
    #[serde(rename = "ID", default)]
    id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct AccessControlList {
    #[serde(rename = "Grant", default)]
    grants: Vec<PolicyGrant>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PolicyGrant {
    #[serde(default)]
    grantee: Option<PolicyGrantee>,
    #[serde(default)]
    permission: Option<String>,
}

/// The grantee's kind is told by which element it has (`xsi:type` says the same, under
/// whatever prefix the client chose).
#[derive(Debug, Default, Deserialize)]
struct PolicyGrantee {
    #[serde(rename = "ID", default)]
    id: Option<String>,
    #[serde(rename = "URI", default)]
    uri: Option<String>,
    #[serde(rename = "EmailAddress", default)]
    email: Option<String>,
}

/// An AccessControlPolicy body for a resource owned by `owner`.
pub fn parse_acl_document(doc: &[u8], owner: &str) -> S3Result<Acl> {
    let malformed = |m: &str| S3Error::new(S3Code::MalformedACLError, m.to_owned());
    let policy: AccessControlPolicy =
        xml::parse(doc).map_err(|m| malformed(&format!("AccessControlPolicy: {m}")))?;
    if let Some(id) = policy.owner.and_then(|o| o.id) {
        if id.trim() != canonical_id(owner) {
            return Err(S3Error::new(
                S3Code::AccessDenied,
                "Access Denied: the Owner of an ACL cannot be changed.",
            ));
        }
    }
    let list = policy
        .access_control_list
        .ok_or_else(|| malformed("AccessControlPolicy needs an AccessControlList."))?;
    check_grant_count(list.grants.len())?;
    let mut grants = Vec::with_capacity(list.grants.len());
    for g in list.grants {
        let permission = g
            .permission
            .as_deref()
            .map(str::trim)
            .and_then(AclPermission::parse)
            .ok_or_else(|| malformed("Each Grant needs a Permission: READ, WRITE, READ_ACP, WRITE_ACP or FULL_CONTROL."))?;
        let grantee = g
            .grantee
            .ok_or_else(|| malformed("Each Grant needs a Grantee."))?;
        let grantee = match (grantee.id, grantee.uri, grantee.email) {
            (Some(id), None, None) => user(&id)?,
            (None, Some(uri), None) => group(&uri)?,
            (None, None, Some(_)) => {
                return Err(S3Error::code(S3Code::UnresolvableGrantByEmailAddress))
            }
            _ => {
                return Err(malformed(
                    "A Grantee needs exactly one of ID, URI or EmailAddress.",
                ))
            }
        };
        grants.push(Grant {
            grantee,
            permission,
        });
    }
    Ok(Acl { grants })
}

/// The ACL a PutBucketAcl or PutObjectAcl sets: from its headers or its body, never both.
async fn acl_to_set(
    ctx: &Ctx,
    body: &mut RequestBody,
    owner: &str,
    bucket_owner: &str,
) -> S3Result<Acl> {
    let from_headers = requested(&ctx.parts.headers)?;
    let doc = read_document(ctx, body, MAX_ACL_DOC).await?;
    match (from_headers, doc.is_empty()) {
        (Some(_), false) => Err(S3Error::code(S3Code::UnexpectedContent)),
        (Some(r), true) => Ok(r.resolve(owner, bucket_owner)),
        (None, false) => parse_acl_document(&doc, owner),
        (None, true) => Err(S3Error::new(
            S3Code::MissingSecurityHeader,
            "PutAcl needs x-amz-acl, x-amz-grant-* headers or an AccessControlPolicy body.",
        )),
    }
}

// ---- handlers ----

pub async fn get_bucket_acl(ctx: &Ctx) -> S3Result<Response> {
    let b = super::bucket::resolve(ctx).await?;
    let acl = match (&b.acl, rules::acls_enabled(&b)) {
        (Some(acl), true) => acl.clone(),
        _ => rules::private(&b.owner),
    };
    Ok(xml_ok(acl_document(&b.owner, &acl)))
}

pub async fn put_bucket_acl(ctx: &Ctx, body: &mut RequestBody) -> S3Result<Response> {
    let b = super::bucket::resolve(ctx).await?;
    let acl = acl_to_set(ctx, body, &b.owner, &b.owner).await?;
    // The body may have taken a while: the caller's right and the bucket's settings are
    // judged again as they are now, and the write lands only if they have not moved since.
    let now = ctx.state.store.bucket(&b.name).await?;
    if now.id != b.id {
        return Err(S3Error::code(S3Code::NoSuchBucket).with("BucketName", b.name));
    }
    super::bucket::check_access(ctx, &now)?;
    let stored = acl_to_store(&now, acl, &now.owner)?;
    let seen = (now.acl.clone(), now.ownership, now.public_access_block);
    ctx.state
        .store
        .update_bucket(&now, move |rec| {
            if (rec.acl.clone(), rec.ownership, rec.public_access_block) != seen {
                return Err(crate::error::Error::ConditionalRequestConflict);
            }
            rec.acl = stored.clone();
            Ok(())
        })
        .await?;
    Ok(status_only(StatusCode::OK))
}

/// What an ACL set on a resource owned by `owner` in `bucket` is stored as: `None` for the
/// owner's FULL_CONTROL alone (what S3 still takes where ACLs are disabled).
fn acl_to_store(bucket: &BucketRecord, acl: Acl, owner: &str) -> S3Result<Option<Acl>> {
    if owner_only(&acl, owner) && acl.grants.len() <= 1 {
        return Ok(None);
    }
    if !rules::acls_enabled(bucket) {
        return Err(S3Error::code(S3Code::AccessControlListNotSupported));
    }
    refuse_public(bucket, &acl)?;
    Ok(Some(acl))
}

pub async fn get_object_acl(ctx: &Ctx) -> S3Result<Response> {
    let (b, rec) = authorized_object(ctx).await?;
    let (owner, acl) = if rules::acls_enabled(&b) {
        let owner = rec.owner.clone().unwrap_or_else(|| b.owner.clone());
        let acl = rec.acl.clone().unwrap_or_else(|| rules::private(&owner));
        (owner, acl)
    } else {
        (b.owner.clone(), rules::private(&b.owner))
    };
    let mut r = xml_ok(acl_document(&owner, &acl));
    version_header(r.headers_mut(), &b, &rec);
    Ok(r)
}

pub async fn put_object_acl(ctx: &Ctx, body: &mut RequestBody) -> S3Result<Response> {
    let (b, checked) = authorized_object(ctx).await?;
    let owner = checked.owner.clone().unwrap_or_else(|| b.owner.clone());
    let acl = acl_to_set(ctx, body, &owner, &b.owner).await?;
    // Judged again after the body, on the bucket and the version as they are now; the write
    // lands only on that same version with the same owner and ACL.
    let (b, now) = authorized_object(ctx).await?;
    let same = move |r: &ObjectRecord| {
        r.version_id == checked.version_id
            && r.etag == checked.etag
            && r.last_modified_ms == checked.last_modified_ms
    };
    if !same(&now) {
        return Err(S3Error::code(S3Code::ConditionalRequestConflict));
    }
    let owner = now.owner.clone().unwrap_or_else(|| b.owner.clone());
    let stored = acl_to_store(&b, acl, &owner)?;
    let version = match &now.version_id {
        Some(id) => VersionRef::Id(id.clone()),
        None => VersionRef::Null,
    };
    let seen = (now.owner.clone(), now.acl.clone());
    let rec = ctx
        .state
        .store
        .update_version(&b, ctx.key()?, Some(&version), move |rec| {
            if !same(rec) || (rec.owner.clone(), rec.acl.clone()) != seen {
                return Err(crate::error::Error::ConditionalRequestConflict);
            }
            rec.acl = stored.clone();
            Ok(())
        })
        .await?;
    let mut r = status_only(StatusCode::OK);
    version_header(r.headers_mut(), &b, &rec);
    Ok(r)
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct OwnershipControls {
    #[serde(rename = "Rule", default)]
    rules: Vec<OwnershipRule>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct OwnershipRule {
    #[serde(default)]
    object_ownership: Option<String>,
}

pub async fn get_ownership_controls(ctx: &Ctx) -> S3Result<Response> {
    let b = super::bucket::resolve(ctx).await?;
    let Some(o) = b.ownership else {
        return Err(
            S3Error::code(S3Code::OwnershipControlsNotFoundError).with("BucketName", b.name)
        );
    };
    let mut w = XmlWriter::new("OwnershipControls");
    w.open("Rule").elem("ObjectOwnership", o.as_str()).close();
    Ok(xml_ok(w.finish()))
}

pub async fn put_ownership_controls(ctx: &Ctx, body: &mut RequestBody) -> S3Result<Response> {
    let b = super::bucket::resolve(ctx).await?;
    let doc = read_document(ctx, body, MAX_ACL_DOC).await?;
    let controls: OwnershipControls = xml::parse(&doc)
        .map_err(|m| S3Error::new(S3Code::MalformedXML, format!("OwnershipControls: {m}")))?;
    let [rule] = controls.rules.as_slice() else {
        return Err(S3Error::new(
            S3Code::MalformedXML,
            "OwnershipControls needs exactly one Rule.",
        ));
    };
    let ownership = rule
        .object_ownership
        .as_deref()
        .map(str::trim)
        .and_then(ObjectOwnership::parse)
        .ok_or_else(|| {
            S3Error::new(
                S3Code::MalformedXML,
                "ObjectOwnership must be BucketOwnerEnforced, BucketOwnerPreferred or ObjectWriter.",
            )
        })?;
    let shared = |rec: &BucketRecord| rec.acl.as_ref().is_some_and(|a| !owner_only(a, &rec.owner));
    if ownership == ObjectOwnership::BucketOwnerEnforced && shared(&b) {
        return Err(S3Error::code(S3Code::InvalidBucketAclWithObjectOwnership));
    }
    ctx.state
        .store
        .update_bucket(&b, move |rec| {
            if ownership == ObjectOwnership::BucketOwnerEnforced && shared(rec) {
                return Err(crate::error::Error::InvalidRequest(
                    "The bucket's ACL was changed meanwhile; retry.".into(),
                ));
            }
            rec.ownership = Some(ownership);
            Ok(())
        })
        .await?;
    Ok(status_only(StatusCode::OK))
}

pub async fn delete_ownership_controls(ctx: &Ctx) -> S3Result<Response> {
    let b = super::bucket::resolve(ctx).await?;
    ctx.state
        .store
        .update_bucket(&b, |rec| {
            rec.ownership = None;
            Ok(())
        })
        .await?;
    Ok(status_only(StatusCode::NO_CONTENT))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PublicAccessBlockConfiguration {
    #[serde(default)]
    block_public_acls: Option<String>,
    #[serde(default)]
    ignore_public_acls: Option<String>,
    #[serde(default)]
    block_public_policy: Option<String>,
    #[serde(default)]
    restrict_public_buckets: Option<String>,
}

fn xml_bool(name: &str, v: Option<&str>) -> S3Result<bool> {
    match v.map(str::trim) {
        None => Ok(false),
        Some(s) if s.eq_ignore_ascii_case("true") => Ok(true),
        Some(s) if s.eq_ignore_ascii_case("false") => Ok(false),
        Some(s) => Err(S3Error::new(
            S3Code::MalformedXML,
            format!("{name} must be true or false, not `{s}`."),
        )),
    }
}

pub fn parse_public_access_block(doc: &[u8]) -> S3Result<PublicAccessBlock> {
    let c: PublicAccessBlockConfiguration = xml::parse(doc).map_err(|m| {
        S3Error::new(
            S3Code::MalformedXML,
            format!("PublicAccessBlockConfiguration: {m}"),
        )
    })?;
    Ok(PublicAccessBlock {
        block_public_acls: xml_bool("BlockPublicAcls", c.block_public_acls.as_deref())?,
        ignore_public_acls: xml_bool("IgnorePublicAcls", c.ignore_public_acls.as_deref())?,
        block_public_policy: xml_bool("BlockPublicPolicy", c.block_public_policy.as_deref())?,
        restrict_public_buckets: xml_bool(
            "RestrictPublicBuckets",
            c.restrict_public_buckets.as_deref(),
        )?,
    })
}

pub async fn get_public_access_block(ctx: &Ctx) -> S3Result<Response> {
    let b = super::bucket::resolve(ctx).await?;
    let Some(p) = b.public_access_block else {
        return Err(
            S3Error::code(S3Code::NoSuchPublicAccessBlockConfiguration).with("BucketName", b.name)
        );
    };
    let s = |v: bool| if v { "true" } else { "false" };
    let mut w = XmlWriter::new("PublicAccessBlockConfiguration");
    w.elem("BlockPublicAcls", s(p.block_public_acls))
        .elem("IgnorePublicAcls", s(p.ignore_public_acls))
        .elem("BlockPublicPolicy", s(p.block_public_policy))
        .elem("RestrictPublicBuckets", s(p.restrict_public_buckets));
    Ok(xml_ok(w.finish()))
}

pub async fn put_public_access_block(ctx: &Ctx, body: &mut RequestBody) -> S3Result<Response> {
    let b = super::bucket::resolve(ctx).await?;
    let doc = read_document(ctx, body, MAX_ACL_DOC).await?;
    let pab = parse_public_access_block(&doc)?;
    ctx.state
        .store
        .update_bucket(&b, move |rec| {
            rec.public_access_block = Some(pab);
            Ok(())
        })
        .await?;
    Ok(status_only(StatusCode::OK))
}

pub async fn delete_public_access_block(ctx: &Ctx) -> S3Result<Response> {
    let b = super::bucket::resolve(ctx).await?;
    ctx.state
        .store
        .update_bucket(&b, |rec| {
            rec.public_access_block = None;
            Ok(())
        })
        .await?;
    Ok(status_only(StatusCode::NO_CONTENT))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    #[test]
    fn grant_headers() {
        let bob = canonical_id("bob");
        let h = headers(&[
            (
                "x-amz-grant-read",
                &format!("id=\"{bob}\", uri=\"{}\"", Group::AllUsers.uri()),
            ),
            ("x-amz-grant-write-acp", &format!("id={bob}")),
        ]);
        let Some(Requested::Grants(acl)) = requested(&h).unwrap() else {
            panic!("grants expected")
        };
        assert_eq!(acl.grants.len(), 3);
        assert_eq!(acl.grants[1].grantee, Grantee::Group(Group::AllUsers));
        assert_eq!(acl.grants[2].permission, AclPermission::WriteAcp);
        let both = headers(&[
            ("x-amz-acl", "private"),
            ("x-amz-grant-read", &format!("id={bob}")),
        ]);
        assert_eq!(requested(&both).unwrap_err().code, S3Code::InvalidRequest);
        for bad in ["id=\"nope\"", "uri=\"http://example.com/g\"", "who=x", ""] {
            let h = headers(&[("x-amz-grant-read", bad)]);
            assert_eq!(
                requested(&h).unwrap_err().code,
                S3Code::InvalidArgument,
                "{bad}"
            );
        }
        let email = headers(&[("x-amz-grant-read", "emailAddress=\"a@b.c\"")]);
        assert_eq!(
            requested(&email).unwrap_err().code,
            S3Code::UnresolvableGrantByEmailAddress
        );
        assert_eq!(
            requested(&headers(&[("x-amz-acl", "public")]))
                .unwrap_err()
                .code,
            S3Code::InvalidArgument
        );
    }

    #[test]
    fn acl_documents_round_trip() {
        let bob = canonical_id("bob");
        let acl = CannedAcl::PublicRead.expand(&canonical_id("alice"), &canonical_id("alice"));
        let mut acl = acl;
        acl.grants.push(Grant {
            grantee: Grantee::CanonicalUser(bob),
            permission: AclPermission::WriteAcp,
        });
        let doc = acl_document("alice", &acl);
        assert!(doc.contains("xsi:type=\"Group\""), "{doc}");
        assert!(doc.contains("<DisplayName>alice</DisplayName>"), "{doc}");
        assert_eq!(parse_acl_document(doc.as_bytes(), "alice").unwrap(), acl);
        assert_eq!(
            parse_acl_document(doc.as_bytes(), "carol")
                .unwrap_err()
                .code,
            S3Code::AccessDenied,
            "the owner named must be the owner"
        );
        let no_list = b"<AccessControlPolicy><Owner><ID>x</ID></Owner></AccessControlPolicy>";
        assert_eq!(
            parse_acl_document(no_list, "alice").unwrap_err().code,
            S3Code::AccessDenied
        );
        let bare = format!(
            "<AccessControlPolicy><AccessControlList><Grant><Grantee><ID>{}</ID></Grantee><Permission>READ</Permission></Grant></AccessControlList></AccessControlPolicy>",
            canonical_id("bob")
        );
        assert_eq!(
            parse_acl_document(bare.as_bytes(), "alice")
                .unwrap()
                .grants
                .len(),
            1
        );
        let bad_perm = bare.replace("READ<", "LOOK<");
        assert_eq!(
            parse_acl_document(bad_perm.as_bytes(), "alice")
                .unwrap_err()
                .code,
            S3Code::MalformedACLError
        );
    }

    fn bucket(ownership: Option<ObjectOwnership>, pab: Option<PublicAccessBlock>) -> BucketRecord {
        let mut b = crate::meta::fixtures::bucket("b");
        b.owner = "alice".into();
        b.ownership = ownership;
        b.public_access_block = pab;
        b
    }

    #[test]
    fn writes_under_each_ownership_setting() {
        let alice = Principal::Account("alice".into());
        let bob = Principal::Account("bob".into());
        let public = headers(&[("x-amz-acl", "public-read")]);
        let enforced = bucket(Some(ObjectOwnership::BucketOwnerEnforced), None);
        assert_eq!(
            for_write(&public, &enforced, &alice).unwrap_err().code,
            S3Code::AccessControlListNotSupported
        );
        let bofc = headers(&[("x-amz-acl", "bucket-owner-full-control")]);
        assert_eq!(for_write(&bofc, &enforced, &bob).unwrap(), (None, None));
        let writer = bucket(Some(ObjectOwnership::ObjectWriter), None);
        let (owner, acl) = for_write(&public, &writer, &bob).unwrap();
        assert_eq!(owner.as_deref(), Some("bob"));
        assert!(acl.unwrap().is_public());
        assert_eq!(for_write(&public, &writer, &alice).unwrap().0, None);
        let preferred = bucket(Some(ObjectOwnership::BucketOwnerPreferred), None);
        assert_eq!(for_write(&bofc, &preferred, &bob).unwrap().0, None);
        assert_eq!(
            for_write(&HeaderMap::new(), &preferred, &bob)
                .unwrap()
                .0
                .as_deref(),
            Some("bob")
        );
        let blocked = bucket(
            Some(ObjectOwnership::ObjectWriter),
            Some(PublicAccessBlock {
                block_public_acls: true,
                ..Default::default()
            }),
        );
        assert_eq!(
            for_write(&public, &blocked, &alice).unwrap_err().code,
            S3Code::AccessDenied
        );
    }

    #[test]
    fn new_buckets() {
        let none = HeaderMap::new();
        assert_eq!(
            for_new_bucket(&none, "alice").unwrap(),
            (ObjectOwnership::BucketOwnerEnforced, None)
        );
        let private = headers(&[("x-amz-acl", "private")]);
        assert!(for_new_bucket(&private, "alice").is_ok());
        let read = headers(&[("x-amz-acl", "authenticated-read")]);
        assert_eq!(
            for_new_bucket(&read, "alice").unwrap_err().code,
            S3Code::InvalidBucketAclWithObjectOwnership
        );
        let mut writer = read.clone();
        writer.insert("x-amz-object-ownership", "ObjectWriter".parse().unwrap());
        assert_eq!(
            for_new_bucket(&writer, "alice").unwrap_err().code,
            S3Code::InvalidBucketAclWithBlockPublicAccessError
        );
        let mut granted = headers(&[("x-amz-grant-read", &format!("id={}", canonical_id("bob")))]);
        granted.insert("x-amz-object-ownership", "ObjectWriter".parse().unwrap());
        let (o, acl) = for_new_bucket(&granted, "alice").unwrap();
        assert_eq!(o, ObjectOwnership::ObjectWriter);
        assert_eq!(acl.unwrap().grants.len(), 1);
    }

    #[test]
    fn public_access_block_documents() {
        let doc = b"<PublicAccessBlockConfiguration><BlockPublicAcls>true</BlockPublicAcls></PublicAccessBlockConfiguration>";
        let p = parse_public_access_block(doc).unwrap();
        assert!(p.block_public_acls && !p.ignore_public_acls);
        let bad = b"<PublicAccessBlockConfiguration><BlockPublicAcls>yes</BlockPublicAcls></PublicAccessBlockConfiguration>";
        assert_eq!(
            parse_public_access_block(bad).unwrap_err().code,
            S3Code::MalformedXML
        );
    }
}
