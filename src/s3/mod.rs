//! The S3 surface: authenticate, parse the operation, check the bucket and the caller's
//! rights, then dispatch to one handler per operation. Every error becomes an S3 XML error here.

pub mod acl;
pub mod attributes;
pub mod body;
pub mod bucket;
pub mod cors;
pub mod endpoint;
pub mod error;
pub mod headers;
pub mod lifecycle;
pub mod list;
pub mod lock;
pub mod logging;
pub mod multipart;
pub mod object;
pub mod policy;
pub mod post;
pub mod post_policy;
pub mod sse;
pub mod tagging;

use std::sync::Arc;

use crate::web::body::RequestBody;
use http::{header, HeaderValue, Method, StatusCode};

use self::endpoint::S3Op;
use self::error::{S3Code, S3Error, S3Result};
use crate::access::{Caller, Permission, Principal};
use crate::auth::{self, Verified};
use crate::store::naming::MAX_KEY_LEN;
use crate::web::body::{self as rbody, Response};
use crate::web::query::Query;
use crate::web::status_only;
use crate::web::target::S3Target;
use crate::web::{AppState, Handled};

/// How much of a refused request body is read and discarded before the error is sent; a
/// larger one is cut off with the connection.
const DRAIN_LIMIT: u64 = 16 << 20;

/// One authenticated S3 request on its way to a handler.
pub struct Ctx {
    pub state: Arc<AppState>,
    pub parts: http::request::Parts,
    pub query: Query,
    pub bucket: Option<String>,
    pub key: Option<String>,
    pub verified: Verified,
    pub caller: Caller,
    pub op: S3Op,
    /// What the operation needs of the caller's rights on the bucket it names.
    pub need: Permission,
    pub request_id: String,
}

impl Ctx {
    pub fn bucket_name(&self) -> S3Result<&str> {
        self.bucket
            .as_deref()
            .ok_or_else(|| S3Error::code(S3Code::InvalidRequest))
    }

    pub fn key(&self) -> S3Result<&str> {
        self.key
            .as_deref()
            .ok_or_else(|| S3Error::code(S3Code::InvalidRequest))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        headers::header(&self.parts.headers, name)
    }

    /// The account acting; owns what it creates.
    pub fn account(&self) -> &str {
        self.caller.principal.account()
    }
}

/// The stable canonical ID S3 listings show for an account.
pub fn owner_id(account: &str) -> String {
    crate::access::acl::canonical_id(account)
}

pub async fn handle(
    state: Arc<AppState>,
    req: http::Request<RequestBody>,
    target: S3Target,
    request_id: &str,
) -> (Response, Handled) {
    let (parts, mut body) = req.into_parts();
    let resource = parts.uri.path().to_owned();
    if parts.method == Method::OPTIONS {
        let resp = cors::preflight(&state, &parts.headers, target.bucket.as_deref())
            .await
            .unwrap_or_else(|e| error_response(&e, &resource, request_id, false));
        return (resp, Handled::op("PreflightCors"));
    }
    let origin = parts
        .headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let method = parts.method.clone();
    let cors_bucket = target.bucket.clone();
    let head = parts.method == Method::HEAD;
    let expect_continue = parts
        .headers
        .get(header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    let mut op_name = None;
    // Requests to a bucket that logs become a line of its access log.
    let log_source = target
        .bucket
        .as_deref()
        .and_then(|b| state.access_log.source(b));
    let log_request = log_source.as_ref().map(|_| logging::Request::of(&parts));
    let log_key = log_source.as_ref().and(target.key.clone());
    let mut requester = logging::Requester::default();
    let result = run(
        state.clone(),
        parts,
        &mut body,
        target,
        request_id,
        &mut op_name,
        &mut requester,
    )
    .await;
    let error_code = result.as_ref().err().map(|e| e.code.as_str());
    let resp = match result {
        Ok(r) => r,
        Err(e) => {
            // A client that announced 100-continue has not sent its body and never will; the
            // connection closes after the answer, so no byte of the next request is taken
            // for the body that never came.
            let mut resp = error_response(&e, &resource, request_id, head);
            if expect_continue {
                resp.headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
            } else {
                let drain = body::drain(&mut body, DRAIN_LIMIT);
                let _ = tokio::time::timeout(std::time::Duration::from_secs(30), drain).await;
            }
            resp
        }
    };
    let mut resp = resp;
    if let (Some(origin), Some(bucket)) = (origin, &cors_bucket) {
        cors::decorate(&state, &origin, &method, bucket, &mut resp).await;
    }
    if let (Some(source), Some(req), Some(bucket)) = (log_source, log_request, &cors_bucket) {
        let host_id = state.host_id(request_id);
        let outcome = logging::Outcome {
            op: op_name,
            key: log_key.as_deref(),
            status: resp.status(),
            error_code,
            response: resp.headers(),
            request_id,
            host_id: &host_id,
        };
        let text = logging::line(&source.owner, bucket, &req, &requester, &outcome);
        state.access_log.record(bucket, &source, text);
    }
    let handled = Handled {
        op: op_name,
        key_id: requester.access_key_id,
    };
    (resp, handled)
}

async fn run(
    state: Arc<AppState>,
    mut parts: http::request::Parts,
    body: &mut RequestBody,
    target: S3Target,
    request_id: &str,
    op_name: &mut Option<&'static str>,
    requester: &mut logging::Requester,
) -> S3Result<Response> {
    // A browser form upload authenticates with the policy it carries, not the request's
    // signature.
    if parts.method == Method::POST && target.key.is_none() && post::is_form_upload(&parts) {
        if let Some(bucket) = target.bucket.as_deref() {
            *op_name = Some("PostObject");
            return post::post_object(state.clone(), &parts, body, bucket, requester).await;
        }
    }
    let ip = crate::web::client_ip(&parts);
    let (verified, caller) = throttled_auth(&state, ip, || authenticate(&state, &parts))?;
    if !matches!(caller.principal, Principal::Anonymous) {
        requester.canonical_id = Some(owner_id(caller.principal.account()));
        requester.access_key_id = caller.access_key_id.clone();
        requester.signature = Some(if verified.sigv2 { "SigV2" } else { "SigV4" });
        requester.auth = Some(if verified.presigned {
            "QueryString"
        } else {
            "AuthHeader"
        });
    }
    rate_limit(&state, &caller, ip)?;
    let query = Query::parse(parts.uri.query());
    // Signed either way: SigV4 signs the whole query, V2 every `x-amz-*` parameter.
    if verified.presigned {
        hoisted_metadata(&mut parts.headers, &query);
    }
    let has_copy_source = parts.headers.contains_key("x-amz-copy-source");
    let op = endpoint::parse(&parts.method, &target, &query, has_copy_source)?;
    *op_name = Some(op.name());
    let need = op.required_permission();
    let bucket_key = matches!(caller.principal, Principal::BucketKey(_));
    let named_elsewhere = target
        .bucket
        .as_deref()
        .is_some_and(|b| !caller.principal.may_name(b));
    // The anonymous caller gets only what an ACL can grant: never ListBuckets, CreateBucket
    // or a bucket's configuration.
    let anonymous_owner_op =
        matches!(caller.principal, Principal::Anonymous) && op.acl_rule().is_none();
    if (bucket_key && need == Permission::Owner) || named_elsewhere || anonymous_owner_op {
        return Err(S3Error::code(S3Code::AccessDenied));
    }
    if let Some(k) = &target.key {
        if k.len() > MAX_KEY_LEN {
            return Err(S3Error::code(S3Code::KeyTooLongError)
                .with("MaxSizeAllowed", MAX_KEY_LEN.to_string())
                .with("Size", k.len().to_string()));
        }
    }
    let ctx = Ctx {
        state,
        parts,
        query,
        bucket: target.bucket,
        key: target.key,
        verified,
        caller,
        op,
        need,
        request_id: request_id.to_owned(),
    };
    dispatch(ctx, op, body).await
}

/// Runs an authentication. A failure counts against the client's address; an address that
/// keeps failing learns nothing more (no signature or key oracle), while its good requests
/// still go through.
pub(crate) fn throttled_auth<T>(
    state: &AppState,
    ip: Option<std::net::IpAddr>,
    attempt: impl FnOnce() -> S3Result<T>,
) -> S3Result<T> {
    let e = match attempt() {
        Ok(v) => return Ok(v),
        Err(e) => e,
    };
    if let Some(wait) = state.auth_throttled(ip) {
        let mut e = S3Error::new(
            S3Code::SlowDown,
            "Too many failed authentications from your address. Please reduce your request rate.",
        );
        e.retry_after = Some(crate::access::ratelimit::retry_after_secs(wait));
        return Err(e);
    }
    state.auth_failed(ip);
    Err(e)
}

/// The per-caller S3 request rate (503 SlowDown past it); anonymous callers count per address.
pub(crate) fn rate_limit(
    state: &AppState,
    caller: &Caller,
    ip: Option<std::net::IpAddr>,
) -> S3Result<()> {
    if let Some(limit) = &state.s3_limit {
        let key = match (&caller.principal, ip) {
            // One host commonly holds a whole IPv6 /64.
            (Principal::Anonymous, Some(std::net::IpAddr::V6(v6))) => {
                let net = u128::from(v6) >> 64;
                format!("anonymous:{net:x}::/64")
            }
            (Principal::Anonymous, Some(ip)) => format!("anonymous:{ip}"),
            _ => caller.rate_key(),
        };
        if let Err(wait) = limit.check(&key) {
            let mut e = S3Error::code(S3Code::SlowDown);
            e.retry_after = Some(crate::access::ratelimit::retry_after_secs(wait));
            return Err(e);
        }
    }
    Ok(())
}

fn authenticate(state: &AppState, parts: &http::request::Parts) -> S3Result<(Verified, Caller)> {
    let now = time::OffsetDateTime::now_utc();
    let host = crate::web::target::request_host(parts);
    let vhost = crate::web::target::virtual_host_bucket(host, state.cfg.s3_domain.as_deref());
    let sigv2 = state.cfg.sigv2.then_some(auth::V2Resource {
        virtual_host_bucket: vhost.as_deref(),
    });
    let verified =
        auth::verify_s3_request(parts, &state.cfg.region, now, state.keys.as_ref(), sigv2)
            .map_err(S3Error::from)?;
    let Some(verified) = verified else {
        // Unsigned: served as the anonymous caller, who gets what ACLs grant everyone.
        let anonymous = Verified::anonymous(parts).map_err(S3Error::from)?;
        let caller = Caller {
            principal: Principal::Anonymous,
            access_key_id: None,
        };
        return Ok((anonymous, caller));
    };
    let caller = state
        .keys
        .caller(&verified.access_key)
        .ok_or_else(|| S3Error::code(S3Code::InvalidAccessKeyId))?;
    Ok((verified, caller))
}

/// Presigners move `x-amz-meta-*` headers into the signed query string; S3 stores them as if
/// they had been sent as headers (a header of the same name wins).
fn hoisted_metadata(headers: &mut http::HeaderMap, query: &Query) {
    for (name, value) in &query.0 {
        let lower = name.to_ascii_lowercase();
        if !lower.starts_with("x-amz-meta-") || headers.contains_key(lower.as_str()) {
            continue;
        }
        if let (Ok(n), Ok(v)) = (
            http::HeaderName::from_bytes(lower.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            headers.insert(n, v);
        }
    }
}

async fn dispatch(ctx: Ctx, op: S3Op, body: &mut RequestBody) -> S3Result<Response> {
    use S3Op::*;
    match op {
        ListBuckets => bucket::list_buckets(&ctx).await,
        CreateBucket => bucket::create_bucket(&ctx, body).await,
        HeadBucket => bucket::head_bucket(&ctx).await,
        DeleteBucket => bucket::delete_bucket(&ctx).await,
        GetBucketLocation => bucket::get_bucket_location(&ctx).await,
        ListObjects => list::list_objects(&ctx, false).await,
        ListObjectsV2 => list::list_objects(&ctx, true).await,
        DeleteObjects => object::delete_objects(&ctx, body).await,
        GetObject => object::get_object(&ctx, false).await,
        HeadObject => object::get_object(&ctx, true).await,
        PutObject => object::put_object(&ctx, body).await,
        CopyObject => object::copy_object(&ctx).await,
        DeleteObject => object::delete_object(&ctx).await,
        CreateMultipartUpload => multipart::create(&ctx).await,
        UploadPart => multipart::upload_part(&ctx, body).await,
        UploadPartCopy => multipart::upload_part_copy(&ctx).await,
        CompleteMultipartUpload => multipart::complete(&ctx, body).await,
        AbortMultipartUpload => multipart::abort(&ctx).await,
        ListParts => multipart::list_parts(&ctx).await,
        ListMultipartUploads => multipart::list_uploads(&ctx).await,
        PutBucketCors => bucket::put_bucket_cors(&ctx, body).await,
        GetBucketCors => bucket::get_bucket_cors(&ctx).await,
        DeleteBucketCors => bucket::delete_bucket_cors(&ctx).await,
        GetBucketVersioning => bucket::get_bucket_versioning(&ctx).await,
        PutBucketVersioning => bucket::put_bucket_versioning(&ctx, body).await,
        ListObjectVersions => list::list_object_versions(&ctx).await,
        GetObjectTagging => tagging::get_object_tagging(&ctx).await,
        PutObjectTagging => tagging::put_object_tagging(&ctx, body).await,
        DeleteObjectTagging => tagging::delete_object_tagging(&ctx).await,
        GetBucketTagging => tagging::get_bucket_tagging(&ctx).await,
        PutBucketTagging => tagging::put_bucket_tagging(&ctx, body).await,
        DeleteBucketTagging => tagging::delete_bucket_tagging(&ctx).await,
        GetObjectLockConfiguration => lock::get_object_lock_configuration(&ctx).await,
        PutObjectLockConfiguration => lock::put_object_lock_configuration(&ctx, body).await,
        GetObjectRetention => lock::get_object_retention(&ctx).await,
        PutObjectRetention => lock::put_object_retention(&ctx, body).await,
        GetObjectLegalHold => lock::get_object_legal_hold(&ctx).await,
        PutObjectLegalHold => lock::put_object_legal_hold(&ctx, body).await,
        GetBucketLifecycleConfiguration => lifecycle::get_bucket_lifecycle(&ctx).await,
        PutBucketLifecycleConfiguration => lifecycle::put_bucket_lifecycle(&ctx, body).await,
        DeleteBucketLifecycle => lifecycle::delete_bucket_lifecycle(&ctx).await,
        GetObjectAttributes => attributes::get_object_attributes(&ctx).await,
        GetBucketAcl => acl::get_bucket_acl(&ctx).await,
        PutBucketAcl => acl::put_bucket_acl(&ctx, body).await,
        GetObjectAcl => acl::get_object_acl(&ctx).await,
        PutObjectAcl => acl::put_object_acl(&ctx, body).await,
        GetBucketOwnershipControls => acl::get_ownership_controls(&ctx).await,
        PutBucketOwnershipControls => acl::put_ownership_controls(&ctx, body).await,
        DeleteBucketOwnershipControls => acl::delete_ownership_controls(&ctx).await,
        GetPublicAccessBlock => acl::get_public_access_block(&ctx).await,
        PutPublicAccessBlock => acl::put_public_access_block(&ctx, body).await,
        DeletePublicAccessBlock => acl::delete_public_access_block(&ctx).await,
        GetBucketPolicy => policy::get_bucket_policy(&ctx).await,
        PutBucketPolicy => policy::put_bucket_policy(&ctx, body).await,
        DeleteBucketPolicy => policy::delete_bucket_policy(&ctx).await,
        GetBucketPolicyStatus => policy::get_bucket_policy_status(&ctx).await,
        GetBucketLogging => logging::get_bucket_logging(&ctx).await,
        PutBucketLogging => logging::put_bucket_logging(&ctx, body).await,
        GetBucketEncryption => sse::get_bucket_encryption(&ctx).await,
        PutBucketEncryption => sse::put_bucket_encryption(&ctx, body).await,
        DeleteBucketEncryption => sse::delete_bucket_encryption(&ctx).await,
    }
}

pub fn error_response(e: &S3Error, resource: &str, request_id: &str, head: bool) -> Response {
    let status = e.status();
    let no_body = head || status == StatusCode::NOT_MODIFIED;
    let mut builder = http::Response::builder().status(status);
    if !no_body {
        builder = builder.header(header::CONTENT_TYPE, "application/xml");
    }
    if let Some(secs) = e.retry_after {
        builder = builder.header(header::RETRY_AFTER, secs.to_string());
    }
    for (name, value) in &e.headers {
        builder = builder.header(*name, value.as_str());
    }
    if e.code == S3Code::InvalidRange {
        if let Some((_, size)) = e.extra.iter().find(|(k, _)| *k == "ActualObjectSize") {
            builder = builder.header(header::CONTENT_RANGE, format!("bytes */{size}"));
        }
    }
    let body = if no_body {
        rbody::empty()
    } else {
        rbody::full(e.to_xml(resource, request_id))
    };
    builder.body(body).unwrap_or_else(|_| {
        let mut r = http::Response::new(rbody::empty());
        *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        r
    })
}

/// A 200 with an XML document.
pub fn xml_ok(doc: String) -> Response {
    let mut r = http::Response::new(rbody::full(doc));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    r
}

/// A page-size parameter (`max-keys`, `max-parts`, `max-uploads`): `ceiling` when absent,
/// larger values capped to it, anything but a non-negative integer refused.
fn max_param(q: &Query, name: &str, ceiling: usize) -> S3Result<usize> {
    match q.get(name) {
        None => Ok(ceiling),
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .map(|n| usize::try_from(n).unwrap_or(ceiling).min(ceiling))
            .ok_or_else(|| {
                S3Error::new(
                    S3Code::InvalidArgument,
                    format!("Provided {name} not an integer or within integer range"),
                )
            }),
    }
}
