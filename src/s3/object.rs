//! Object operations: PutObject, GetObject/HeadObject, DeleteObject, DeleteObjects, CopyObject.

use crate::web::body::RequestBody;
use futures::{StreamExt, TryStreamExt};
use http::{HeaderMap, HeaderValue, StatusCode};

use super::body::Payload;
use super::bucket::resolve;
use super::endpoint::S3Op;
use super::error::{S3Code, S3Error, S3Result};
use super::headers::{
    checksum_request, content_md5, header, http_date, iso_date, no_lock_configuration, object_lock,
    parse_range, quote_etag, read_condition, stored_metadata, tagging, write_condition,
    written_meta, ChecksumRequest, ReadCondition,
};
use super::lifecycle::expiration_header;
use super::lock::bypass_governance;
use super::{status_only, xml_ok, Ctx, MAX_KEY_LEN};
use crate::access::Permission;
use crate::checksum::{BodyHasher, ChecksumAlgorithm, ObjectDigests, ObjectHasher};
use crate::meta::{
    BucketRecord, ChecksumType, ObjectRecord, VersionGuard, VersionRef, WriteCondition,
};
use crate::store::{ObjectMeta, StagedBlob};
use crate::web::body::{self as rbody, Response};
use crate::xml::{self, XmlWriter};

/// S3's largest single PUT.
pub const MAX_PUT_SIZE: u64 = 5 << 30;
/// A DeleteObjects document of 1000 maximal keys fits well within this.
const MAX_DELETE_DOC: usize = 2 << 20;

pub(super) fn set(h: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        h.insert(name, v);
    }
}

/// The payload length the client announced: `x-amz-decoded-content-length` for aws-chunked
/// bodies, `Content-Length` otherwise. Checked before the body is touched.
fn declared_length(ctx: &Ctx, chunked: bool) -> S3Result<u64> {
    let name = if chunked {
        "x-amz-decoded-content-length"
    } else {
        "content-length"
    };
    let len = match ctx.header(name) {
        Some(v) => v.trim().parse::<u64>().map_err(|_| {
            S3Error::new(
                S3Code::InvalidArgument,
                format!("The {name} header is not a number."),
            )
        })?,
        None => return Err(S3Error::code(S3Code::MissingContentLength)),
    };
    if len > MAX_PUT_SIZE {
        return Err(S3Error::code(S3Code::EntityTooLarge)
            .with("ProposedSize", len.to_string())
            .with("MaxSizeAllowed", MAX_PUT_SIZE.to_string()));
    }
    Ok(len)
}

/// Checks the digests of a received body against Content-MD5 and the announced checksum.
fn verify_digests(
    payload: &Payload,
    md5: Option<[u8; 16]>,
    checksum: Option<&ChecksumRequest>,
    digests: &ObjectDigests,
) -> S3Result<()> {
    if let Some(want) = md5 {
        if want != digests.md5 {
            return Err(crate::error::Error::Md5Mismatch.into());
        }
    }
    if let Some(req) = checksum {
        let sent = match &req.value {
            Some(v) => Some(v.as_str()),
            None => payload.trailer(req.algorithm.header()),
        };
        match sent {
            Some(v) if v == digests.sent.value => {}
            Some(_) => return Err(crate::error::Error::ChecksumMismatch(req.algorithm).into()),
            None if payload.is_chunked() => {
                return Err(S3Error::new(
                    S3Code::InvalidRequest,
                    format!(
                        "The trailer {} was announced but not sent.",
                        req.algorithm.header()
                    ),
                ))
            }
            // An algorithm named without a value: compute and store it.
            None => {}
        }
    }
    Ok(())
}

/// Reads a small request document (XML configuration, a delete list) of at most `max`
/// bytes, checked against its Content-MD5 and checksum when the client sent them.
pub async fn read_document(
    ctx: &Ctx,
    body: &mut RequestBody,
    max: usize,
) -> S3Result<bytes::Bytes> {
    let h = &ctx.parts.headers;
    let md5 = content_md5(h)?;
    let checksum = checksum_request(h)?;
    let mut payload = Payload::new(body, &ctx.verified);
    let doc = payload.read_small(max).await?;
    let mut hasher = ObjectHasher::new(checksum.as_ref().map(|c| c.algorithm), None);
    hasher.update(&doc);
    verify_digests(&payload, md5, checksum.as_ref(), &hasher.finish())?;
    Ok(doc)
}

pub fn checksum_type_name(t: Option<ChecksumType>) -> &'static str {
    match t {
        Some(ChecksumType::Composite) => "COMPOSITE",
        Some(ChecksumType::FullObject) | None => "FULL_OBJECT",
    }
}

fn checksum_headers(h: &mut HeaderMap, rec: &ObjectRecord) {
    if let Some(c) = &rec.checksum {
        set(h, c.algorithm.header(), &c.value);
        set(
            h,
            "x-amz-checksum-type",
            checksum_type_name(rec.checksum_type),
        );
    }
}

/// The XML element that carries a checksum of `alg` (`ChecksumCRC32`, …).
pub fn checksum_element(alg: ChecksumAlgorithm) -> &'static str {
    match alg {
        ChecksumAlgorithm::Crc32 => "ChecksumCRC32",
        ChecksumAlgorithm::Crc32c => "ChecksumCRC32C",
        ChecksumAlgorithm::Crc64Nvme => "ChecksumCRC64NVME",
        ChecksumAlgorithm::Sha1 => "ChecksumSHA1",
        ChecksumAlgorithm::Sha256 => "ChecksumSHA256",
    }
}

/// Receives a request body into a staged blob: checks its announced length, Content-MD5 and
/// checksum as the bytes flow (all validated before the body is first polled). The checksum
/// stored is of `store_as`, else of the algorithm the client named, else CRC64NVME. A
/// `part`'s bytes always become a blob; an object's may stay in the index.
pub async fn receive_body(
    ctx: &Ctx,
    body: &mut RequestBody,
    store_as: Option<ChecksumAlgorithm>,
    part: bool,
    key: Option<&crate::cipher::DataKey>,
) -> S3Result<(StagedBlob, ObjectDigests)> {
    let h = &ctx.parts.headers;
    let md5 = content_md5(h)?;
    let checksum = checksum_request(h)?;
    let mut payload = Payload::new(body, &ctx.verified);
    let declared = declared_length(ctx, payload.is_chunked())?;

    let mut staged = match part {
        true => ctx.state.store.stage_blob(Some(declared), key).await?,
        false => ctx.state.store.stage_object(declared, key).await?,
    };
    let sent = checksum.as_ref().map(|c| c.algorithm);
    let mut hasher = BodyHasher::new(sent, store_as, declared);
    while let Some(chunk) = payload.next().await? {
        if payload.received() > declared {
            return Err(S3Error::new(
                S3Code::InvalidRequest,
                "The body is longer than the announced length.",
            ));
        }
        hasher
            .update(&chunk)
            .await
            .map_err(crate::error::Error::from)?;
        staged.write(chunk).await?;
    }
    let digests = hasher.finish().await.map_err(crate::error::Error::from)?;
    if digests.len != declared {
        return Err(crate::error::Error::IncompleteBody {
            expected: declared,
            got: digests.len,
        }
        .into());
    }
    verify_digests(&payload, md5, checksum.as_ref(), &digests)?;
    Ok((staged, digests))
}

pub async fn put_object(ctx: &Ctx, body: &mut RequestBody) -> S3Result<Response> {
    let bucket = resolve(ctx).await?;
    let key = ctx.key()?;
    let h = &ctx.parts.headers;
    let mut written = written_meta(h, &bucket, &ctx.caller.principal)?;
    let cond = write_condition(h)?;
    let sealing = super::sse::for_write(ctx, &bucket).await?;
    written.sse = sealing.sse;
    let (staged, mut digests) = receive_body(ctx, body, None, false, sealing.key.as_ref()).await?;
    digests.md5 = super::sse::etag_md5(written.sse.as_ref(), sealing.key.as_ref(), digests.md5);
    let rec = ctx
        .state
        .store
        .commit_object(&bucket, key, staged, &digests, written, cond)
        .await?;

    let mut r = status_only(StatusCode::OK);
    set(r.headers_mut(), "etag", &quote_etag(&rec.etag));
    super::sse::response_headers(
        r.headers_mut(),
        &ctx.state.cfg.region,
        rec.sse.as_ref(),
        sealing.key.as_ref(),
    );
    checksum_headers(r.headers_mut(), &rec);
    version_header(r.headers_mut(), &bucket, &rec);
    expiration_header(r.headers_mut(), ctx, &bucket, key, &rec);
    Ok(r)
}

/// Query parameters that override response headers of a GET.
const OVERRIDES: [(&str, &str); 6] = [
    ("response-content-type", "content-type"),
    ("response-content-language", "content-language"),
    ("response-expires", "expires"),
    ("response-cache-control", "cache-control"),
    ("response-content-disposition", "content-disposition"),
    ("response-content-encoding", "content-encoding"),
];

/// No `allow-same-origin`: everything else a page may need still works.
const OBJECT_SANDBOX: &str =
    "sandbox allow-downloads allow-forms allow-modals allow-popups allow-scripts";

fn object_headers(h: &mut HeaderMap, rec: &ObjectRecord) {
    set(h, "etag", &quote_etag(&rec.etag));
    set(h, "last-modified", &http_date(rec.last_modified_ms));
    let s = &rec.headers;
    set(
        h,
        "content-type",
        s.content_type.as_deref().unwrap_or("binary/octet-stream"),
    );
    for (name, v) in [
        ("content-encoding", &s.content_encoding),
        ("content-disposition", &s.content_disposition),
        ("content-language", &s.content_language),
        ("cache-control", &s.cache_control),
        ("expires", &s.expires),
    ] {
        if let Some(v) = v {
            set(h, name, v);
        }
    }
    for (k, v) in &rec.user_meta {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(format!("x-amz-meta-{k}").as_bytes()),
            HeaderValue::from_bytes(v.as_bytes()),
        ) {
            h.append(name, value);
        }
    }
    if !rec.tags.is_empty() {
        set(h, "x-amz-tagging-count", &rec.tags.len().to_string());
    }
    if let Some(r) = &rec.retention {
        set(h, "x-amz-object-lock-mode", r.mode.as_s3());
        set(
            h,
            "x-amz-object-lock-retain-until-date",
            &iso_date(r.until_ms),
        );
    }
    if let Some(on) = rec.legal_hold {
        set(
            h,
            "x-amz-object-lock-legal-hold",
            if on { "ON" } else { "OFF" },
        );
    }
}

pub async fn get_object(ctx: &Ctx, head: bool) -> S3Result<Response> {
    // As on S3: a public object cannot be served as another type (a page under this origin).
    let anonymous = matches!(ctx.caller.principal, crate::access::Principal::Anonymous);
    if anonymous && ctx.query.0.iter().any(|(k, _)| k.starts_with("response-")) {
        return Err(S3Error::new(
            S3Code::InvalidRequest,
            "Request specific response headers cannot be used for anonymous GET requests.",
        ));
    }
    let (bucket, rec) = super::acl::authorized_object(ctx).await?;
    let key = ctx.key()?;
    let store = &ctx.state.store;
    let version = version_param(ctx)?;
    let h = &ctx.parts.headers;
    super::sse::refuse_write_headers(ctx)?;
    // The key is checked before anything of the object is told; it is unwrapped only to
    // read the body.
    let customer = super::sse::check_customer(ctx, rec.sse.as_ref(), super::sse::CUSTOMER)?;
    match read_condition(h, "", &rec) {
        ReadCondition::Proceed => {}
        ReadCondition::Failed => return Err(S3Error::code(S3Code::PreconditionFailed)),
        ReadCondition::NotModified => {
            let mut r = status_only(StatusCode::NOT_MODIFIED);
            set(r.headers_mut(), "etag", &quote_etag(&rec.etag));
            set(
                r.headers_mut(),
                "last-modified",
                &http_date(rec.last_modified_ms),
            );
            return Ok(r);
        }
    }
    let range = match ctx.query.get("partNumber") {
        Some(n) => Some(part_range(&rec, n)?),
        None => parse_range(h, rec.size)?,
    };
    let mut r = status_only(StatusCode::OK);
    let hm = r.headers_mut();
    object_headers(hm, &rec);
    // The web console shares this origin: an object a browser opens as a page (an uploaded
    // HTML file) runs in an opaque origin of its own, so it cannot reach the console's window.
    // Browsers read the header only for documents; images, scripts and downloads are as before.
    set(hm, "content-security-policy", OBJECT_SANDBOX);
    version_header(hm, &bucket, &rec);
    super::sse::response_headers(
        hm,
        &ctx.state.cfg.region,
        rec.sse.as_ref(),
        customer.as_ref(),
    );
    // Readers through an ACL see the object, not its tags, lock or the bucket's lifecycle
    // (on S3 those take rights of their own).
    let bucket_reader = ctx.caller.principal.may(&bucket, Permission::Read);
    if !bucket_reader {
        for name in [
            "x-amz-tagging-count",
            "x-amz-object-lock-mode",
            "x-amz-object-lock-retain-until-date",
            "x-amz-object-lock-legal-hold",
        ] {
            hm.remove(name);
        }
    }
    if version.is_none() && bucket_reader {
        expiration_header(hm, ctx, &bucket, key, &rec);
    }
    set(hm, "accept-ranges", "bytes");
    let served = match &range {
        Some(rg) => {
            *r.status_mut() = StatusCode::PARTIAL_CONTENT;
            set(
                r.headers_mut(),
                "content-range",
                &format!("bytes {}-{}/{}", rg.start, rg.end - 1, rec.size),
            );
            rg.clone()
        }
        None => 0..rec.size,
    };
    let hm = r.headers_mut();
    if ctx.query.has("partNumber") {
        if let Some(n) = rec.part_count() {
            set(hm, "x-amz-mp-parts-count", &n.to_string());
        }
    }
    let checksum_mode =
        header(h, "x-amz-checksum-mode").is_some_and(|m| m.eq_ignore_ascii_case("enabled"));
    if checksum_mode && range.is_none() {
        checksum_headers(hm, &rec);
    } else if let (true, Some(n)) = (checksum_mode, ctx.query.get("partNumber")) {
        // A part of a multipart object: that part's own checksum, as S3 gives it.
        let part = n.parse::<usize>().ok().and_then(|n| n.checked_sub(1));
        if let Some(c) = part.and_then(|i| rec.segments.get(i)?.checksum.as_ref()) {
            set(hm, c.algorithm.header(), &c.value);
        }
    }
    for (param, name) in OVERRIDES {
        if let Some(v) = ctx.query.get(param) {
            set(hm, name, v);
        }
    }
    set(
        hm,
        "content-length",
        &(served.end - served.start).to_string(),
    );
    if !head && served.end > served.start {
        let what = format!("{}/{}", bucket.name, key);
        let data_key = super::sse::data_key(ctx, rec.sse.as_ref(), customer).await?;
        let mut data = store.read_object(&what, &rec, served, data_key.as_ref());
        // The first piece is read before the headers go out: a missing, short or corrupt
        // start of the object is a clean 500, not a 200 that breaks off.
        let first = data.try_next().await?;
        let rest = futures::stream::iter(first.map(Ok)).chain(data).boxed();
        *r.body_mut() = rbody::stream(rest);
    }
    Ok(r)
}

/// The byte range of part `n` (1-based): a segment of a multipart object, or the whole of a
/// single-part one, which has exactly one part.
fn part_range(rec: &ObjectRecord, n: &str) -> S3Result<std::ops::Range<u64>> {
    let bad = || {
        S3Error::new(
            S3Code::InvalidRange,
            "The requested partnumber is not satisfiable",
        )
        .with("ActualObjectSize", rec.size.to_string())
    };
    let n: usize = n
        .parse()
        .ok()
        .filter(|n| (1..=10_000).contains(n))
        .ok_or_else(|| {
            S3Error::new(
                S3Code::InvalidArgument,
                "Part number must be an integer between 1 and 10000, inclusive",
            )
        })?;
    if rec.part_count().is_none() {
        return if n == 1 { Ok(0..rec.size) } else { Err(bad()) };
    }
    let idx = n.checked_sub(1).ok_or_else(bad)?;
    let seg = rec.segments.get(idx).ok_or_else(bad)?;
    let start: u64 = rec.segments[..idx].iter().map(|s| s.len).sum();
    Ok(start..start + seg.len)
}

pub async fn delete_object(ctx: &Ctx) -> S3Result<Response> {
    let bucket = resolve(ctx).await?;
    let key = ctx.key()?;
    let bypass = bypass_governance(ctx, &bucket);
    let mut r = status_only(StatusCode::NO_CONTENT);
    let hm = r.headers_mut();
    match version_param(ctx)? {
        // A WRITE grant deletes objects, not their history (S3's DeleteObjectVersion).
        Some(_) if may_delete_key(ctx, &bucket, key, true).is_err() => {
            return Err(S3Error::code(S3Code::AccessDenied))
        }
        Some(v) => {
            let guard = VersionGuard {
                bypass_governance: bypass,
                last_modified_ms: None,
            };
            let d = ctx
                .state
                .store
                .delete_version(&bucket, key, &v, guard)
                .await?;
            set(hm, "x-amz-version-id", v.as_str());
            if d.removed.is_some_and(|rec| rec.delete_marker) {
                set(hm, "x-amz-delete-marker", "true");
            }
        }
        None => {
            let cond = write_condition(&ctx.parts.headers)?;
            if matches!(cond, WriteCondition::Absent { .. }) {
                return Err(S3Error::new(
                    S3Code::NotImplemented,
                    "If-None-Match is not supported on DeleteObject.",
                ));
            }
            let d = ctx.state.store.delete_object(&bucket, key, cond).await?;
            if let Some(marker) = d.marker {
                set(hm, "x-amz-delete-marker", "true");
                set(hm, "x-amz-version-id", marker.version_str());
            }
        }
    }
    Ok(r)
}

/// The version of the request's key that its `versionId` names (the current one without).
pub async fn named_version(ctx: &Ctx, bucket: &BucketRecord) -> S3Result<ObjectRecord> {
    let version = version_param(ctx)?;
    Ok(ctx
        .state
        .store
        .object(bucket, ctx.key()?, version.as_ref())
        .await?)
}

/// The `versionId` a request names; one this server cannot have made is refused.
pub fn version_param(ctx: &Ctx) -> S3Result<Option<VersionRef>> {
    ctx.query.get("versionId").map(parse_version).transpose()
}

pub fn parse_version(v: &str) -> S3Result<VersionRef> {
    crate::meta::versions::parse(v)
        .ok_or_else(|| S3Error::new(S3Code::InvalidArgument, "Invalid version id specified"))
}

/// `x-amz-version-id`, on buckets that have had versioning (S3 shows `null` there for the
/// null version) and for versions asked for by id.
pub fn version_header(h: &mut HeaderMap, bucket: &BucketRecord, rec: &ObjectRecord) {
    if !bucket.versioning.is_unversioned() || rec.version_id.is_some() {
        set(h, "x-amz-version-id", rec.version_str());
    }
}

/// Whether the caller may delete `key` (or, `versioned`, a version of it: the owner's right
/// unless the bucket's policy allows it): `Err` for a Deny of the bucket's policy. DeleteObjects
/// asks for each key it names.
fn may_delete_key(ctx: &Ctx, bucket: &BucketRecord, key: &str, versioned: bool) -> S3Result<()> {
    use crate::access::policy::Decision;
    let p = &ctx.caller.principal;
    let facts = super::policy::Facts::of(ctx);
    let action = super::policy::action(S3Op::DeleteObject, versioned);
    let allowed = match super::policy::decide(&facts, bucket, action, Some(key), None) {
        Decision::Deny if super::policy::deny_binds(S3Op::DeleteObject, p, bucket) => false,
        Decision::Allow if super::policy::allow_extends(p, S3Op::DeleteObject, bucket) => true,
        _ if versioned => p.may(bucket, Permission::Write),
        _ => {
            p.may(bucket, Permission::Write)
                || crate::access::acl::grants(
                    p,
                    bucket,
                    bucket.acl.as_ref(),
                    crate::meta::acl::AclPermission::Write,
                )
        }
    };
    if allowed {
        Ok(())
    } else {
        Err(S3Error::code(S3Code::AccessDenied))
    }
}

pub async fn delete_objects(ctx: &Ctx, body: &mut RequestBody) -> S3Result<Response> {
    let bucket = resolve(ctx).await?;
    let doc = read_document(ctx, body, MAX_DELETE_DOC).await?;
    let req: xml::Delete = xml::parse(&doc).map_err(|m| S3Error::new(S3Code::MalformedXML, m))?;
    if req.objects.is_empty() || req.objects.len() > 1000 {
        return Err(S3Error::new(
            S3Code::MalformedXML,
            "A DeleteObjects request names 1 to 1000 keys.",
        ));
    }
    let quiet = req.quiet.unwrap_or(false);
    let bypass = bypass_governance(ctx, &bucket);
    let mut w = XmlWriter::new("DeleteResult");
    for obj in &req.objects {
        let outcome = if obj.key.is_empty() || obj.key.len() > MAX_KEY_LEN {
            Err(S3Error::code(S3Code::KeyTooLongError))
        } else if let Err(e) = may_delete_key(ctx, &bucket, &obj.key, obj.version_id.is_some()) {
            Err(e)
        } else {
            match obj.version_id.as_deref().map(parse_version).transpose() {
                Err(e) => Err(e),
                Ok(Some(v)) => ctx
                    .state
                    .store
                    .delete_version(
                        &bucket,
                        &obj.key,
                        &v,
                        VersionGuard {
                            bypass_governance: bypass,
                            last_modified_ms: None,
                        },
                    )
                    .await
                    .map(|d| (Some(v.as_str().to_owned()), d))
                    .map_err(S3Error::from),
                Ok(None) => ctx
                    .state
                    .store
                    .delete_object(&bucket, &obj.key, WriteCondition::Always)
                    .await
                    .map(|d| (None, d))
                    .map_err(S3Error::from),
            }
        };
        match outcome {
            Ok(_) if quiet => {}
            Ok((version, d)) => {
                w.open("Deleted").elem("Key", &obj.key);
                w.opt("VersionId", version.as_deref());
                if let Some(marker) = &d.marker {
                    w.elem("DeleteMarker", "true")
                        .elem("DeleteMarkerVersionId", marker.version_str());
                } else if d.removed.as_ref().is_some_and(|r| r.delete_marker) {
                    w.elem("DeleteMarker", "true").opt(
                        "DeleteMarkerVersionId",
                        d.removed.as_ref().map(ObjectRecord::version_str),
                    );
                }
                w.close();
            }
            Err(e) => {
                w.open("Error").elem("Key", &obj.key);
                w.opt("VersionId", obj.version_id.as_deref());
                w.elem("Code", e.code.as_str())
                    .elem("Message", &e.message)
                    .close();
            }
        }
    }
    Ok(xml_ok(w.finish()))
}

/// `x-amz-copy-source`: `[/]bucket/key[?versionId=…]`, URL-encoded.
pub fn parse_copy_source(raw: &str) -> S3Result<(String, String, Option<VersionRef>)> {
    let bad = || {
        S3Error::new(
            S3Code::InvalidArgument,
            "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
        )
    };
    let (path, version) = match raw.split_once('?') {
        Some((p, q)) => (p, q.strip_prefix("versionId=")),
        None => (raw, None),
    };
    let version = version.map(parse_version).transpose()?;
    let decoded = crate::web::target::decode_path(path).map_err(|_| bad())?;
    let decoded = decoded.strip_prefix('/').unwrap_or(&decoded);
    let (b, k) = decoded.split_once('/').ok_or_else(bad)?;
    if b.is_empty() || k.is_empty() {
        return Err(bad());
    }
    Ok((b.to_owned(), k.to_owned(), version))
}

/// The object `x-amz-copy-source` names, if the caller may read it and the
/// `x-amz-copy-source-if-*` conditions hold. Shared by CopyObject and UploadPartCopy.
pub async fn copy_source(ctx: &Ctx) -> S3Result<(crate::meta::BucketRecord, String, ObjectRecord)> {
    let (bucket_name, key, version) =
        parse_copy_source(ctx.header("x-amz-copy-source").unwrap_or(""))?;
    let store = &ctx.state.store;
    if !ctx.caller.principal.may_name(&bucket_name) {
        return Err(S3Error::code(S3Code::AccessDenied));
    }
    let bucket = store.bucket(&bucket_name).await?;
    // Others may copy what an object's ACL or the bucket's policy lets them read; who may
    // not list the bucket learns nothing of what is not there.
    let may_list = super::acl::may_list_key(ctx, &bucket, &key);
    // A delete marker named as a copy source is refused as S3 does (400 InvalidRequest).
    let src = match store.object(&bucket, &key, version.as_ref()).await {
        Err(_) if !may_list => return Err(S3Error::code(S3Code::AccessDenied)),
        Err(crate::error::Error::DeleteMarker {
            requested: true, ..
        }) => {
            return Err(S3Error::new(
                S3Code::InvalidRequest,
                "The source of a copy request may not specifically refer to a delete marker by version id.",
            ))
        }
        other => other?,
    };
    if !super::acl::may_read(ctx, &bucket, &key, &src, version.is_some())? {
        return Err(S3Error::code(S3Code::AccessDenied));
    }
    // An SSE-C source's key comes first: its conditions would tell of it otherwise.
    super::sse::check_customer(ctx, src.sse.as_ref(), super::sse::COPY_SOURCE_CUSTOMER)?;
    if read_condition(&ctx.parts.headers, "x-amz-copy-source-", &src) != ReadCondition::Proceed {
        return Err(S3Error::code(S3Code::PreconditionFailed));
    }
    Ok((bucket, key, src))
}

/// S3 copies at most 5 GiB in one CopyObject; larger objects take UploadPartCopy.
fn check_copy_source_size(size: u64) -> S3Result<()> {
    if size > MAX_PUT_SIZE {
        return Err(S3Error::new(
            S3Code::InvalidRequest,
            format!(
                "The specified copy source is larger than the maximum allowable size for a copy source: {MAX_PUT_SIZE}"
            ),
        ));
    }
    Ok(())
}

pub async fn copy_object(ctx: &Ctx) -> S3Result<Response> {
    let dest_bucket = resolve(ctx).await?;
    let dest_key = ctx.key()?;
    let h = &ctx.parts.headers;
    let store = &ctx.state.store;
    let (src_bucket, src_key, src) = copy_source(ctx).await?;
    check_copy_source_size(src.size)?;
    let replace = match ctx.header("x-amz-metadata-directive") {
        None => false,
        Some(d) if d.eq_ignore_ascii_case("COPY") => false,
        Some(d) if d.eq_ignore_ascii_case("REPLACE") => true,
        Some(d) => {
            return Err(S3Error::new(
                S3Code::InvalidArgument,
                format!("Unknown metadata directive `{d}`."),
            ))
        }
    };
    let algorithm = match ctx.header("x-amz-checksum-algorithm") {
        Some(a) => Some(ChecksumAlgorithm::parse(a).ok_or_else(|| {
            S3Error::new(
                S3Code::InvalidRequest,
                format!("Checksum algorithm `{a}` is not supported."),
            )
        })?),
        None => None,
    };
    let requested_sse = super::sse::requested(h, &ctx.state.cfg)?;
    if src_bucket.id == dest_bucket.id
        && src_key == dest_key
        && !replace
        && algorithm.is_none()
        && requested_sse.is_none()
    {
        return Err(S3Error::new(
            S3Code::InvalidRequest,
            "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
        ));
    }
    let (headers, user_meta) = if replace {
        stored_metadata(h)?
    } else {
        (src.headers.clone(), src.user_meta.clone())
    };
    let principal = &ctx.caller.principal;
    // Tags travel only between buckets the caller owns: reading them takes the source's
    // owner rights, setting them the destination's.
    let source_tags = if principal.may(&src_bucket, Permission::Read) {
        src.tags.clone()
    } else {
        Vec::new()
    };
    let tags = match ctx.header("x-amz-tagging-directive") {
        None => source_tags,
        Some(d) if d.eq_ignore_ascii_case("COPY") => source_tags,
        Some(d) if d.eq_ignore_ascii_case("REPLACE") => tagging(h)?,
        Some(d) => {
            return Err(S3Error::new(
                S3Code::InvalidArgument,
                format!("Unknown tagging directive `{d}`."),
            ))
        }
    };
    // Lock settings are the request's own (or the bucket's default), never the source's.
    let (retention, legal_hold) = object_lock(h)?;
    if (retention.is_some() || legal_hold.is_some()) && dest_bucket.object_lock.is_none() {
        return Err(no_lock_configuration());
    }
    let by_owner = principal.may(&dest_bucket, Permission::Write);
    if !by_owner && (!tags.is_empty() || retention.is_some() || legal_hold.is_some()) {
        return Err(S3Error::new(
            S3Code::AccessDenied,
            "Access Denied: only the bucket's owner may tag or lock objects as it writes them.",
        ));
    }
    let cond = write_condition(h)?;
    let algorithm = algorithm.or(src.checksum.as_ref().map(|c| c.algorithm));
    // The copy is a new object: its owner and ACL come from this request, not the source.
    let (owner, acl) = super::acl::for_write(h, &dest_bucket, &ctx.caller.principal)?;

    // The copy is encrypted as this request (or the destination's default) says, whatever
    // the source's encryption.
    let src_key_data =
        super::sse::for_read(ctx, src.sse.as_ref(), super::sse::COPY_SOURCE_CUSTOMER).await?;
    let sealing = super::sse::seal_with(&ctx.state.kms, &dest_bucket, requested_sse).await?;
    let what = format!("{}/{}", src_bucket.name, src_key);
    let keys = crate::store::CopyKeys {
        src: src_key_data.as_ref(),
        dest: sealing.key.as_ref(),
        part: false,
    };
    let (staged, mut digests) = store
        .copy_to_staged(&what, &src, 0..src.size, algorithm, keys)
        .await?;
    digests.md5 = super::sse::etag_md5(sealing.sse.as_ref(), sealing.key.as_ref(), digests.md5);
    let written = ObjectMeta {
        headers,
        user_meta,
        tags,
        retention,
        legal_hold,
        owner,
        acl,
        sse: sealing.sse,
    };
    let rec = store
        .commit_object(&dest_bucket, dest_key, staged, &digests, written, cond)
        .await?;

    let mut w = XmlWriter::new("CopyObjectResult");
    w.elem("LastModified", &iso_date(rec.last_modified_ms))
        .elem("ETag", &quote_etag(&rec.etag));
    if let Some(c) = &rec.checksum {
        w.elem("ChecksumType", checksum_type_name(rec.checksum_type))
            .elem(checksum_element(c.algorithm), &c.value);
    }
    let mut r = xml_ok(w.finish());
    version_header(r.headers_mut(), &dest_bucket, &rec);
    super::sse::response_headers(
        r.headers_mut(),
        &ctx.state.cfg.region,
        rec.sse.as_ref(),
        sealing.key.as_ref(),
    );
    expiration_header(r.headers_mut(), ctx, &dest_bucket, dest_key, &rec);
    if !src_bucket.versioning.is_unversioned() || src.version_id.is_some() {
        set(
            r.headers_mut(),
            "x-amz-copy-source-version-id",
            src.version_str(),
        );
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_sources_over_5_gib_are_refused() {
        assert!(check_copy_source_size(5 << 30).is_ok());
        let e = check_copy_source_size((5 << 30) + 1).unwrap_err();
        assert_eq!(e.code, S3Code::InvalidRequest);
        assert!(e.message.contains("5368709120"), "{}", e.message);
    }

    #[test]
    fn copy_sources() {
        assert_eq!(
            parse_copy_source("/b/a%20b%2Bc").unwrap(),
            ("b".into(), "a b+c".into(), None)
        );
        assert_eq!(
            parse_copy_source("b//x").unwrap(),
            ("b".into(), "/x".into(), None)
        );
        assert_eq!(
            parse_copy_source("b/k?versionId=null").unwrap(),
            ("b".into(), "k".into(), Some(VersionRef::Null))
        );
        let id = crate::meta::versions::new_version_id();
        assert_eq!(
            parse_copy_source(&format!("b/k?versionId={id}")).unwrap().2,
            Some(VersionRef::Id(id))
        );
        assert!(parse_copy_source("b/k?versionId=nope").is_err());
        assert!(parse_copy_source("b").is_err());
        assert!(parse_copy_source("/b/").is_err());
    }
}
