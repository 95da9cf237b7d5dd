//! Bucket policies on the S3 surface: Get/Put/DeleteBucketPolicy, GetBucketPolicyStatus, and
//! what a bucket's policy says about a request — the action S3 names the operation by, the
//! resource, and the condition keys the request carries.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use http::StatusCode;

use super::endpoint::S3Op;
use super::error::{S3Code, S3Error, S3Result};
use super::object::read_document;
use super::{status_only, Ctx};
use crate::access::acl::canonical_id;
use crate::access::policy::{Decision, Policy, Request, MAX_POLICY_BYTES};
use crate::access::Principal;
use crate::meta::{BucketRecord, ObjectRecord};
use crate::web::body::{self as rbody, RequestBody, Response};
use crate::web::query::Query;
use crate::web::AppState;
use crate::xml::XmlWriter;

/// The IAM action S3 checks for an operation (`versioned`: the request names a version).
pub fn action(op: S3Op, versioned: bool) -> &'static str {
    use S3Op::*;
    match op {
        ListBuckets => "s3:ListAllMyBuckets",
        CreateBucket => "s3:CreateBucket",
        DeleteBucket => "s3:DeleteBucket",
        HeadBucket | ListObjects | ListObjectsV2 => "s3:ListBucket",
        GetBucketLocation => "s3:GetBucketLocation",
        ListObjectVersions => "s3:ListBucketVersions",
        ListMultipartUploads => "s3:ListBucketMultipartUploads",
        GetObject | HeadObject if versioned => "s3:GetObjectVersion",
        GetObject | HeadObject => "s3:GetObject",
        PutObject
        | CopyObject
        | CreateMultipartUpload
        | UploadPart
        | UploadPartCopy
        | CompleteMultipartUpload => "s3:PutObject",
        DeleteObject | DeleteObjects if versioned => "s3:DeleteObjectVersion",
        DeleteObject | DeleteObjects => "s3:DeleteObject",
        AbortMultipartUpload => "s3:AbortMultipartUpload",
        ListParts => "s3:ListMultipartUploadParts",
        PutBucketCors | DeleteBucketCors => "s3:PutBucketCORS",
        GetBucketCors => "s3:GetBucketCORS",
        GetBucketVersioning => "s3:GetBucketVersioning",
        PutBucketVersioning => "s3:PutBucketVersioning",
        GetObjectTagging if versioned => "s3:GetObjectVersionTagging",
        GetObjectTagging => "s3:GetObjectTagging",
        PutObjectTagging if versioned => "s3:PutObjectVersionTagging",
        PutObjectTagging => "s3:PutObjectTagging",
        DeleteObjectTagging if versioned => "s3:DeleteObjectVersionTagging",
        DeleteObjectTagging => "s3:DeleteObjectTagging",
        GetBucketTagging => "s3:GetBucketTagging",
        PutBucketTagging | DeleteBucketTagging => "s3:PutBucketTagging",
        GetObjectLockConfiguration => "s3:GetBucketObjectLockConfiguration",
        PutObjectLockConfiguration => "s3:PutBucketObjectLockConfiguration",
        GetObjectRetention => "s3:GetObjectRetention",
        PutObjectRetention => "s3:PutObjectRetention",
        GetObjectLegalHold => "s3:GetObjectLegalHold",
        PutObjectLegalHold => "s3:PutObjectLegalHold",
        GetBucketLifecycleConfiguration => "s3:GetLifecycleConfiguration",
        PutBucketLifecycleConfiguration | DeleteBucketLifecycle => "s3:PutLifecycleConfiguration",
        GetObjectAttributes if versioned => "s3:GetObjectVersionAttributes",
        GetObjectAttributes => "s3:GetObjectAttributes",
        GetBucketAcl => "s3:GetBucketAcl",
        PutBucketAcl => "s3:PutBucketAcl",
        GetObjectAcl if versioned => "s3:GetObjectVersionAcl",
        GetObjectAcl => "s3:GetObjectAcl",
        PutObjectAcl if versioned => "s3:PutObjectVersionAcl",
        PutObjectAcl => "s3:PutObjectAcl",
        GetBucketOwnershipControls => "s3:GetBucketOwnershipControls",
        PutBucketOwnershipControls | DeleteBucketOwnershipControls => {
            "s3:PutBucketOwnershipControls"
        }
        GetPublicAccessBlock => "s3:GetBucketPublicAccessBlock",
        PutPublicAccessBlock | DeletePublicAccessBlock => "s3:PutBucketPublicAccessBlock",
        GetBucketPolicy => "s3:GetBucketPolicy",
        PutBucketPolicy => "s3:PutBucketPolicy",
        DeleteBucketPolicy => "s3:DeleteBucketPolicy",
        GetBucketPolicyStatus => "s3:GetBucketPolicyStatus",
        GetBucketLogging => "s3:GetBucketLogging",
        PutBucketLogging => "s3:PutBucketLogging",
        GetBucketEncryption => "s3:GetEncryptionConfiguration",
        PutBucketEncryption | DeleteBucketEncryption => "s3:PutEncryptionConfiguration",
    }
}

/// The ARN of the bucket, or of one of its objects.
pub fn resource(bucket: &str, key: Option<&str>) -> String {
    match key {
        Some(k) => format!("arn:aws:s3:::{bucket}/{k}"),
        None => format!("arn:aws:s3:::{bucket}"),
    }
}

/// What a policy sees of a request: who, over what, and how it was signed.
pub struct Facts<'a> {
    pub state: &'a AppState,
    pub parts: &'a http::request::Parts,
    pub query: &'a Query,
    pub principal: &'a Principal,
    /// `s3:signatureversion` and `s3:authType`; `None` for the anonymous caller.
    pub signed: Option<(&'static str, &'static str)>,
    /// Where `s3:x-amz-*` keys come from: the request's headers, or a POST form's fields.
    pub fields: &'a http::HeaderMap,
    /// The condition keys every action sees, built on first use.
    base: std::sync::OnceLock<Context>,
}

type Context = HashMap<String, Vec<String>>;

/// Header values longer than this are cut before a condition compares them.
const MAX_CONTEXT_VALUE: usize = 8 * 1024;

impl<'a> Facts<'a> {
    pub fn of(ctx: &'a Ctx) -> Self {
        let v = &ctx.verified;
        let version = if v.sigv2 { "AWS" } else { "AWS4-HMAC-SHA256" };
        let auth = if v.presigned {
            "REST-QUERY-STRING"
        } else {
            "REST-HEADER"
        };
        Facts {
            state: &ctx.state,
            parts: &ctx.parts,
            query: &ctx.query,
            principal: &ctx.caller.principal,
            signed: (!v.access_key.is_empty()).then_some((version, auth)),
            fields: &ctx.parts.headers,
            base: std::sync::OnceLock::new(),
        }
    }

    /// A POST upload's: signed by its policy, its `s3:x-amz-*` keys from the form's fields.
    pub fn of_post(
        state: &'a AppState,
        parts: &'a http::request::Parts,
        query: &'a Query,
        principal: &'a Principal,
        signature: &'static str,
        fields: &'a http::HeaderMap,
    ) -> Self {
        Facts {
            state,
            parts,
            query,
            principal,
            signed: Some((signature, "POST")),
            fields,
            base: std::sync::OnceLock::new(),
        }
    }

    fn base(&self) -> &Context {
        self.base.get_or_init(|| base_context(self))
    }
}

/// The last parsed policy of each bucket, with the text it was parsed from.
type PolicyCache = HashMap<String, (String, Arc<Policy>)>;

/// `bucket`'s parsed policy, parsed once per change rather than once per request.
fn parsed(bucket: &BucketRecord) -> Option<Arc<Policy>> {
    static CACHE: Mutex<Option<PolicyCache>> = Mutex::new(None);
    let text = bucket.policy.as_ref()?;
    let mut guard = CACHE.lock().ok()?;
    let map = guard.get_or_insert_with(HashMap::new);
    if let Some((seen, p)) = map.get(&bucket.name) {
        if seen == text {
            return Some(p.clone());
        }
    }
    // A stored policy was checked when it was put; one that no longer parses denies.
    let policy = Arc::new(Policy::parse(text, &bucket.name).ok()?);
    if map.len() >= 4096 {
        map.clear();
    }
    map.insert(bucket.name.clone(), (text.clone(), policy.clone()));
    Some(policy)
}

/// What `bucket`'s policy says about `action` on `key` (the bucket itself when `None`) for
/// this request; `object` supplies `s3:ExistingObjectTag/…`.
pub fn decide(
    facts: &Facts<'_>,
    bucket: &BucketRecord,
    action: &str,
    key: Option<&str>,
    object: Option<&ObjectRecord>,
) -> Decision {
    decide_with(facts, bucket, action, key, object, None)
}

/// [`decide`] for a listing of `prefix` (what a key lookup amounts to), whatever the
/// request's own `prefix` parameter.
pub fn decide_listing(facts: &Facts<'_>, bucket: &BucketRecord, prefix: &str) -> Decision {
    decide_with(facts, bucket, "s3:ListBucket", None, None, Some(prefix))
}

fn decide_with(
    facts: &Facts<'_>,
    bucket: &BucketRecord,
    action: &str,
    key: Option<&str>,
    object: Option<&ObjectRecord>,
    listed_prefix: Option<&str>,
) -> Decision {
    if bucket.policy.is_none() {
        return Decision::NotApplicable;
    }
    let Some(policy) = parsed(bucket) else {
        return Decision::Deny;
    };
    let context = context(facts, action, object, listed_prefix);
    let caller = match facts.principal {
        Principal::Anonymous => None,
        p => Some(canonical_id(p.account())),
    };
    policy.evaluate(&Request {
        caller: caller.as_deref(),
        action,
        resource: &resource(&bucket.name, key),
        context: &context,
    })
}

fn put(c: &mut Context, k: &str, v: &str) {
    let v = match v.char_indices().nth(MAX_CONTEXT_VALUE) {
        Some((cut, _)) => &v[..cut],
        None => v,
    };
    c.entry(k.to_owned()).or_default().push(v.to_owned());
}

/// The keys every action sees: who, from where, over what, when, how signed.
fn base_context(facts: &Facts<'_>) -> Context {
    let mut c = Context::new();
    if let Some(ip) = crate::web::client_ip(facts.parts) {
        put(&mut c, "aws:sourceip", &ip.to_string());
    }
    // One listener serves either TLS or plain HTTP; no forwarded header is trusted.
    let secure = facts.state.cfg.tls.is_some();
    put(
        &mut c,
        "aws:securetransport",
        if secure { "true" } else { "false" },
    );
    let now = crate::clock::now_ms();
    put(&mut c, "aws:currenttime", &super::headers::iso_date(now));
    put(&mut c, "aws:epochtime", &(now / 1000).to_string());
    match facts.principal {
        Principal::Anonymous => put(&mut c, "aws:principaltype", "Anonymous"),
        p => {
            put(&mut c, "aws:principaltype", "Account");
            put(&mut c, "aws:principalaccount", p.account());
            put(&mut c, "aws:username", p.account());
        }
    }
    for (header, key) in [("user-agent", "aws:useragent"), ("referer", "aws:referer")] {
        if let Some(v) = super::headers::header(&facts.parts.headers, header) {
            put(&mut c, key, v);
        }
    }
    if let Some((version, auth)) = facts.signed {
        put(&mut c, "s3:signatureversion", version);
        put(&mut c, "s3:authtype", auth);
    }
    c
}

/// The condition keys `action` sees: the base ones, and those S3 defines for the action —
/// a key another action would carry is absent, as on S3.
fn context(
    facts: &Facts<'_>,
    action: &str,
    object: Option<&ObjectRecord>,
    listed_prefix: Option<&str>,
) -> Context {
    let mut c = facts.base().clone();
    let header = |name: &str| super::headers::header(facts.fields, name);
    let listing = matches!(
        action,
        "s3:ListBucket" | "s3:ListBucketVersions" | "s3:ListBucketMultipartUploads"
    );
    if listing {
        let prefix = listed_prefix.or_else(|| facts.query.get("prefix"));
        if let Some(p) = prefix {
            put(&mut c, "s3:prefix", p);
        }
        if listed_prefix.is_none() {
            for (param, key) in [("delimiter", "s3:delimiter"), ("max-keys", "s3:max-keys")] {
                if let Some(v) = facts.query.get(param) {
                    put(&mut c, key, v);
                }
            }
        }
    }
    if action.contains("Version") {
        if let Some(v) = facts.query.get("versionId") {
            put(&mut c, "s3:versionid", v);
        }
    }
    if matches!(
        action,
        "s3:PutObject" | "s3:PutObjectAcl" | "s3:PutBucketAcl" | "s3:CreateBucket"
    ) {
        for (name, key) in [
            ("x-amz-acl", "s3:x-amz-acl"),
            ("x-amz-grant-read", "s3:x-amz-grant-read"),
            ("x-amz-grant-write", "s3:x-amz-grant-write"),
            ("x-amz-grant-read-acp", "s3:x-amz-grant-read-acp"),
            ("x-amz-grant-write-acp", "s3:x-amz-grant-write-acp"),
            ("x-amz-grant-full-control", "s3:x-amz-grant-full-control"),
        ] {
            if let Some(v) = header(name) {
                put(&mut c, key, v);
            }
        }
    }
    if action == "s3:PutObject" {
        for (name, key) in [
            ("x-amz-metadata-directive", "s3:x-amz-metadata-directive"),
            ("x-amz-content-sha256", "s3:x-amz-content-sha256"),
            ("x-amz-storage-class", "s3:x-amz-storage-class"),
            (
                "x-amz-server-side-encryption",
                "s3:x-amz-server-side-encryption",
            ),
            (
                "x-amz-server-side-encryption-aws-kms-key-id",
                "s3:x-amz-server-side-encryption-aws-kms-key-id",
            ),
            (
                "x-amz-server-side-encryption-customer-algorithm",
                "s3:x-amz-server-side-encryption-customer-algorithm",
            ),
            ("x-amz-object-lock-mode", "s3:object-lock-mode"),
            ("x-amz-object-lock-legal-hold", "s3:object-lock-legal-hold"),
        ] {
            if let Some(v) = header(name) {
                put(&mut c, key, v);
            }
        }
        // The source as the copy reads it: `bucket/key`, decoded.
        if let Some(source) = header("x-amz-copy-source") {
            if let Ok((b, k, _)) = super::object::parse_copy_source(source) {
                put(&mut c, "s3:x-amz-copy-source", &format!("{b}/{k}"));
            }
        }
    }
    if let Some(rec) = object {
        for (k, v) in &rec.tags {
            put(&mut c, &format!("s3:existingobjecttag/{k}"), v);
        }
    }
    c
}

/// Whether a policy's Allow may let `principal` run `op`: not a bucket key (keys keep their
/// limits), only operations ACLs could grant too (a bucket's configuration stays its
/// owner's), and not when the public access block restricts a public policy to the owner.
pub fn allow_extends(principal: &Principal, op: S3Op, bucket: &BucketRecord) -> bool {
    if matches!(principal, Principal::BucketKey(_)) || op.acl_rule().is_none() {
        return false;
    }
    let restricted = bucket
        .public_access_block
        .is_some_and(|p| p.restrict_public_buckets);
    !(restricted && is_public(bucket))
}

/// Whether the bucket's policy is public as S3 counts it.
pub fn is_public(bucket: &BucketRecord) -> bool {
    parsed(bucket).is_some_and(|p| p.is_public())
}

/// Whether some Allow of the bucket's policy could let the caller run `action` somewhere.
pub fn may_allow(facts: &Facts<'_>, bucket: &BucketRecord, action: &str) -> bool {
    let caller = match facts.principal {
        Principal::Anonymous => None,
        p => Some(canonical_id(p.account())),
    };
    parsed(bucket).is_some_and(|p| p.may_allow(caller.as_deref(), action))
}

/// Whether a Deny may stop this caller: the bucket's own account can always read, replace
/// or remove the policy, so no policy locks its owner out for good.
pub fn deny_binds(op: S3Op, principal: &Principal, bucket: &BucketRecord) -> bool {
    let policy_op = matches!(
        op,
        S3Op::GetBucketPolicy | S3Op::PutBucketPolicy | S3Op::DeleteBucketPolicy
    );
    let owner_account = matches!(principal, Principal::Root | Principal::Account(_))
        && principal.account() == bucket.owner;
    !(policy_op && owner_account)
}

/// The actions a write asks for beside `s3:PutObject` when it carries an ACL, tags or a
/// lock: a Deny of any of them refuses the write, as on S3.
fn write_side_actions(fields: &http::HeaderMap) -> Vec<&'static str> {
    let has = |n: &str| fields.contains_key(n);
    let mut out = Vec::new();
    if has("x-amz-acl") || super::acl::GRANT_HEADERS.iter().any(|(n, _)| has(n)) {
        out.push("s3:PutObjectAcl");
    }
    if has("x-amz-tagging") {
        out.push("s3:PutObjectTagging");
    }
    if has("x-amz-object-lock-mode") || has("x-amz-object-lock-retain-until-date") {
        out.push("s3:PutObjectRetention");
    }
    if has("x-amz-object-lock-legal-hold") {
        out.push("s3:PutObjectLegalHold");
    }
    out
}

/// The policy's verdict on the request's own operation, on `key` (or the bucket): `Err` for
/// a binding Deny, else whether an Allow lets a caller other than the owner in.
pub fn verdict(
    facts: &Facts<'_>,
    op: S3Op,
    bucket: &BucketRecord,
    key: Option<&str>,
    object: Option<&ObjectRecord>,
) -> S3Result<bool> {
    let versioned = facts.query.has("versionId");
    verdict_on(facts, op, versioned, bucket, key, object)
}

/// [`verdict`] for an operation on `key` that names a version (`versioned`) whether or not
/// the request's own query does (a copy's source names its version in a header).
pub fn verdict_on(
    facts: &Facts<'_>,
    op: S3Op,
    versioned: bool,
    bucket: &BucketRecord,
    key: Option<&str>,
    object: Option<&ObjectRecord>,
) -> S3Result<bool> {
    if bucket.policy.is_none() {
        return Ok(false);
    }
    let binds = deny_binds(op, facts.principal, bucket);
    let writes = matches!(
        op,
        S3Op::PutObject | S3Op::CopyObject | S3Op::CreateMultipartUpload
    );
    if writes && binds {
        for extra in write_side_actions(facts.fields) {
            if decide(facts, bucket, extra, key, object) == Decision::Deny {
                return Err(S3Error::code(S3Code::AccessDenied));
            }
        }
    }
    match decide(facts, bucket, action(op, versioned), key, object) {
        Decision::Deny if binds => Err(S3Error::code(S3Code::AccessDenied)),
        Decision::Allow => Ok(allow_extends(facts.principal, op, bucket)),
        _ => Ok(false),
    }
}

// ---- handlers ----

pub async fn get_bucket_policy(ctx: &Ctx) -> S3Result<Response> {
    let b = super::bucket::resolve(ctx).await?;
    let Some(text) = b.policy else {
        return Err(S3Error::code(S3Code::NoSuchBucketPolicy).with("BucketName", b.name));
    };
    let mut r = http::Response::new(rbody::full(text));
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    Ok(r)
}

/// Checks a policy for `bucket` as PutBucketPolicy does: well formed, and not public while
/// the bucket's public access block refuses public policies.
pub fn check_policy(bucket: &BucketRecord, text: &str) -> S3Result<()> {
    let policy = Policy::parse(text, &bucket.name)
        .map_err(|e| S3Error::new(S3Code::MalformedPolicy, e.0))?;
    let blocks = bucket
        .public_access_block
        .is_some_and(|p| p.block_public_policy);
    if blocks && policy.is_public() {
        return Err(S3Error::new(
            S3Code::AccessDenied,
            "Access Denied: the bucket's public access block refuses public policies (BlockPublicPolicy).",
        ));
    }
    Ok(())
}

pub async fn put_bucket_policy(ctx: &Ctx, body: &mut RequestBody) -> S3Result<Response> {
    let b = super::bucket::resolve(ctx).await?;
    // Read past the limit, so an oversized policy is told so (MalformedPolicy) by the parser.
    let doc = read_document(ctx, body, 4 * MAX_POLICY_BYTES).await?;
    let text = std::str::from_utf8(&doc)
        .map_err(|_| S3Error::new(S3Code::MalformedPolicy, "Policies must be UTF-8 JSON"))?
        .to_owned();
    check_policy(&b, &text)?;
    let (name, stored) = (b.name.clone(), text.clone());
    ctx.state
        .store
        .update_bucket(&b, move |rec| {
            // The block may have been turned on while the body came in.
            let blocks = rec
                .public_access_block
                .is_some_and(|p| p.block_public_policy);
            let public = Policy::parse(&stored, &name).is_ok_and(|p| p.is_public());
            if blocks && public {
                return Err(crate::error::Error::ConditionalRequestConflict);
            }
            rec.policy = Some(stored.clone());
            Ok(())
        })
        .await?;
    Ok(status_only(StatusCode::NO_CONTENT))
}

pub async fn delete_bucket_policy(ctx: &Ctx) -> S3Result<Response> {
    let b = super::bucket::resolve(ctx).await?;
    ctx.state
        .store
        .update_bucket(&b, |rec| {
            rec.policy = None;
            Ok(())
        })
        .await?;
    Ok(status_only(StatusCode::NO_CONTENT))
}

pub async fn get_bucket_policy_status(ctx: &Ctx) -> S3Result<Response> {
    let b = super::bucket::resolve(ctx).await?;
    if b.policy.is_none() {
        return Err(S3Error::code(S3Code::NoSuchBucketPolicy).with("BucketName", b.name));
    }
    let mut w = XmlWriter::new("PolicyStatus");
    w.elem("IsPublic", if is_public(&b) { "true" } else { "false" });
    Ok(super::xml_ok(w.finish()))
}
