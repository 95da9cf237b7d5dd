//! POST Object: uploads from an HTML form. The form's fields come first (the key, a policy
//! document and its signature, headers to store), the file last; the policy is checked before
//! a byte of the file is stored, and the file streams into the store like a PUT's body.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use futures::StreamExt as _;

use bytes::Bytes;
use http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};

use super::endpoint::S3Op;
use super::error::{S3Code, S3Error, S3Result};
use super::headers::{quote_etag, written_meta};
use super::object::MAX_PUT_SIZE;
use super::post_policy::Policy;
use super::MAX_KEY_LEN;
use crate::auth::PostFields as _;
use crate::checksum::BodyHasher;
use crate::meta::WriteCondition;
use crate::web::body::{self as rbody, RequestBody, Response};
use crate::web::AppState;

/// Largest value of one form field, and of all of them together (S3 allows a 20 KB policy).
const MAX_FIELD: usize = 64 << 10;
const MAX_FIELDS: usize = 1 << 20;
/// Bytes of the body read before the file's part begins (the fields with their names and part
/// headers, boundaries, a preamble): past it the form is refused, before anything is
/// authenticated, so an endless preamble or part header cannot grow the parser's buffer.
const MAX_BEFORE_FILE: i64 = (MAX_FIELDS + (256 << 10)) as i64;
/// What is read of the body after the file (fields there are ignored) to keep the connection.
const MAX_AFTER_FILE: u64 = 64 << 10;

/// Form fields this server does not store yet: refused rather than signed and dropped.
fn unsupported_field(name: &str) -> bool {
    matches!(
        name,
        "tagging" | "content-md5" | "x-amz-website-redirect-location"
    ) || name.starts_with("x-amz-checksum-")
        || name.starts_with("x-amz-grant-")
}

#[derive(Debug, thiserror::Error)]
#[error("the form's fields are too large")]
struct FieldsTooLarge;

/// What a URL component keeps unencoded (RFC 3986's unreserved characters).
const UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Fields that sign a form: present without a policy, the form is refused rather than taken
/// as anonymous.
const SIGNATURE_FIELDS: &[&str] = &[
    "x-amz-signature",
    "x-amz-credential",
    "x-amz-algorithm",
    "x-amz-date",
    "x-amz-security-token",
    "signature",
    "awsaccesskeyid",
];

/// Fields stored with the object as the headers of the same name.
const STORED: &[&str] = &[
    "cache-control",
    "content-disposition",
    "content-encoding",
    "content-language",
    "content-type",
    "expires",
    "x-amz-object-lock-legal-hold",
    "x-amz-object-lock-mode",
    "x-amz-object-lock-retain-until-date",
];

/// True for a POST to a bucket that carries a form: S3's browser upload.
pub fn is_form_upload(parts: &http::request::Parts) -> bool {
    parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/form-data")
        })
}

fn malformed(why: impl std::fmt::Display) -> S3Error {
    S3Error::new(
        S3Code::MalformedPOSTRequest,
        format!(
            "{} ({why})",
            S3Code::MalformedPOSTRequest
                .default_message()
                .trim_end_matches('.')
        ),
    )
}

/// A failure reading the form: the body's own (timeouts) where there is one.
fn form_error(e: multer::Error) -> S3Error {
    if let multer::Error::StreamReadFailed(inner) = &e {
        if inner.downcast_ref::<FieldsTooLarge>().is_some() {
            return S3Error::code(S3Code::MaxPostPreDataLengthExceededError);
        }
        if let Some(b) = inner.downcast_ref::<rbody::BodyError>() {
            if b.is_timeout() {
                return S3Error::new(S3Code::RequestTimeout, format!("{b}"));
            }
        }
    }
    malformed(e)
}

struct Form(BTreeMap<String, String>);

impl crate::auth::PostFields for Form {
    fn field(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
}

pub async fn post_object(
    state: Arc<AppState>,
    parts: &http::request::Parts,
    body: &mut RequestBody,
    bucket_name: &str,
    requester: &mut super::logging::Requester,
) -> S3Result<Response> {
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let boundary = multer::parse_boundary(content_type).map_err(malformed)?;
    // The parser borrows the body until the file has been read; the rest is drained after.
    let (form_fields, bucket, key, written, staged, digests, customer) = {
        // Counts down the bytes allowed before the file; lifted once the file's part is reached.
        let budget = Arc::new(AtomicI64::new(MAX_BEFORE_FILE));
        let left = budget.clone();
        let stream = http_body_util::BodyDataStream::new(&mut *body).map(move |r| {
            type BoxError = Box<dyn std::error::Error + Send + Sync>;
            let data = r.map_err(|e| -> BoxError { Box::new(e) })?;
            let n = data.len() as i64;
            if left.fetch_sub(n, Ordering::Relaxed) - n < 0 {
                return Err(Box::new(FieldsTooLarge) as BoxError);
            }
            Ok(data)
        });
        let mut form = multer::Multipart::new(stream, boundary);

        // The fields, up to the file.
        let mut fields = BTreeMap::new();
        let mut total = 0usize;
        let mut file = None;
        while let Some(mut field) = form.next_field().await.map_err(form_error)? {
            let name = field.name().unwrap_or("").to_ascii_lowercase();
            if name == "file" {
                budget.store(i64::MAX / 2, Ordering::Relaxed);
                file = Some(field);
                break;
            }
            total += name.len();
            let mut value = Vec::new();
            while let Some(chunk) = field.chunk().await.map_err(form_error)? {
                value.extend_from_slice(&chunk);
                total += chunk.len();
                if value.len() > MAX_FIELD || total > MAX_FIELDS {
                    return Err(S3Error::code(S3Code::MaxPostPreDataLengthExceededError));
                }
            }
            let value = String::from_utf8(value)
                .map_err(|_| malformed(format!("the field '{name}' is not UTF-8")))?;
            if fields.insert(name.clone(), value).is_some() {
                return Err(S3Error::new(
                    S3Code::InvalidArgument,
                    format!("The form field '{name}' is given more than once."),
                ));
            }
        }
        let Some(mut file) = file else {
            return Err(S3Error::new(
                S3Code::InvalidArgument,
                "POST requires exactly one file upload per request.",
            ));
        };
        let file_name = file.file_name().unwrap_or("").to_owned();
        let form_fields = Form(fields);

        // Who signed the policy, and what it allows; a form with no policy and no signature
        // is the anonymous caller's, which may upload only where the bucket lets everyone.
        let ip = crate::web::client_ip(parts);
        let (caller, length_range) = match form_fields.field("policy") {
            Some(policy_b64) => {
                let caller = super::throttled_auth(&state, ip, || {
                    let access_key = crate::auth::verify_post_signature(
                        &form_fields,
                        policy_b64,
                        &state.cfg.region,
                        state.cfg.sigv2,
                        state.keys.as_ref(),
                    )?;
                    state
                        .keys
                        .caller(&access_key)
                        .ok_or_else(|| S3Error::code(S3Code::InvalidAccessKeyId))
                })?;
                super::rate_limit(&state, &caller, ip)?;
                requester.canonical_id = Some(super::owner_id(caller.principal.account()));
                requester.access_key_id = caller.access_key_id.clone();
                requester.auth = Some("POST");
                let policy = Policy::parse(policy_b64)?;
                policy.check(time::OffsetDateTime::now_utc(), &form_fields.0, bucket_name)?;
                (caller, policy.length_range)
            }
            None if form_fields
                .0
                .keys()
                .any(|k| SIGNATURE_FIELDS.contains(&k.as_str())) =>
            {
                return Err(S3Error::new(
                    S3Code::AccessDenied,
                    "Access Denied: a signed POST upload needs the policy it signed.",
                ));
            }
            None => {
                let caller = crate::access::Caller {
                    principal: crate::access::Principal::Anonymous,
                    access_key_id: None,
                };
                super::rate_limit(&state, &caller, ip)?;
                (caller, None)
            }
        };
        if !caller.principal.may_name(bucket_name) {
            return Err(S3Error::code(S3Code::AccessDenied));
        }
        let bucket = state.store.bucket(bucket_name).await?;
        if let Some(name) = form_fields.0.keys().find(|n| unsupported_field(n)) {
            return Err(S3Error::new(
                S3Code::NotImplemented,
                format!(
                    "The form field '{name}' is not implemented by this server's POST uploads."
                ),
            ));
        }
        let key = form_fields
        .field("key")
        .ok_or_else(|| {
            S3Error::new(
                S3Code::InvalidArgument,
                "Bucket POST must contain a field named 'key'.  If it is specified, please check the order of the fields.",
            )
        })?
        .replace("${filename}", &file_name);
        if key.is_empty() {
            return Err(S3Error::new(
                S3Code::InvalidArgument,
                "The key must not be empty.",
            ));
        }
        if key.len() > MAX_KEY_LEN {
            return Err(S3Error::code(S3Code::KeyTooLongError)
                .with("MaxSizeAllowed", MAX_KEY_LEN.to_string())
                .with("Size", key.len().to_string()));
        }
        // The signer's rights, as a PUT of the key would need them.
        let query = crate::web::query::Query::parse(parts.uri.query());
        let version = if form_fields.field("AWSAccessKeyId").is_some() {
            "AWS"
        } else {
            "AWS4-HMAC-SHA256"
        };
        // The policy judges what the form asks for (its `acl`, lock fields), not headers the
        // form's signature does not cover.
        let fields = stored_headers(&form_fields.0)?;
        let facts = super::policy::Facts::of_post(
            &state,
            parts,
            &query,
            &caller.principal,
            version,
            &fields,
        );
        let by_policy = super::policy::verdict(&facts, S3Op::PutObject, &bucket, Some(&key), None)?;
        let granted = crate::access::acl::grants(
            &caller.principal,
            &bucket,
            bucket.acl.as_ref(),
            crate::meta::acl::AclPermission::Write,
        );
        if !caller
            .principal
            .may(&bucket, S3Op::PutObject.required_permission())
            && !granted
            && !by_policy
        {
            return Err(S3Error::code(S3Code::AccessDenied));
        }
        let mut written = written_meta(&fields, &bucket, &caller.principal)?;
        let requested = super::sse::requested(&fields, &state.cfg)?;
        let customer = match &requested {
            Some(crate::access::kms::SseRequest::Customer(k)) => Some(k.clone()),
            _ => None,
        };
        let sealing = super::sse::seal_with(&state.kms, &bucket, requested).await?;
        written.sse = sealing.sse;

        // The file: held in memory while it may still be small enough for the index.
        let (min, max) = length_range.unwrap_or((0, MAX_PUT_SIZE));
        let max = max.min(MAX_PUT_SIZE);
        let too_large = || {
            S3Error::new(
                S3Code::EntityTooLarge,
                "Your proposed upload exceeds the maximum allowed size",
            )
            .with("MaxSizeAllowed", max.to_string())
        };
        let probe = state.cfg.inline_max_bytes as usize + 1;
        let mut head: Vec<Bytes> = Vec::new();
        let mut head_len = 0usize;
        let mut ended = true;
        while let Some(chunk) = file.chunk().await.map_err(form_error)? {
            head_len += chunk.len();
            head.push(chunk);
            if head_len as u64 > max {
                return Err(too_large());
            }
            if head_len >= probe {
                ended = false;
                break;
            }
        }
        let hint = content_length(parts).unwrap_or(head_len as u64);
        let mut staged = if ended {
            state
                .store
                .stage_object(head_len as u64, sealing.key.as_ref())
                .await?
        } else {
            state
                .store
                .stage_blob(Some(hint), sealing.key.as_ref())
                .await?
        };
        let mut hasher = BodyHasher::new(None, None, if ended { head_len as u64 } else { hint });
        let mut len = 0u64;
        for chunk in head {
            len += chunk.len() as u64;
            hasher
                .update(&chunk)
                .await
                .map_err(crate::error::Error::from)?;
            staged.write(chunk).await?;
        }
        if !ended {
            while let Some(chunk) = file.chunk().await.map_err(form_error)? {
                len += chunk.len() as u64;
                if len > max {
                    return Err(too_large());
                }
                hasher
                    .update(&chunk)
                    .await
                    .map_err(crate::error::Error::from)?;
                staged.write(chunk).await?;
            }
        }
        if len < min {
            return Err(S3Error::new(
                S3Code::EntityTooSmall,
                "Your proposed upload is smaller than the minimum allowed size",
            )
            .with("MinSizeAllowed", min.to_string()));
        }
        let mut digests = hasher.finish().await.map_err(crate::error::Error::from)?;
        digests.md5 = super::sse::etag_md5(written.sse.as_ref(), sealing.key.as_ref(), digests.md5);
        (form_fields, bucket, key, written, staged, digests, customer)
    };
    // Fields after the file are ignored, as on S3; a little of them is read so the connection
    // can serve the next request, more and it is closed.
    super::body::drain(body, MAX_AFTER_FILE).await;
    let rec = state
        .store
        .commit_object(
            &bucket,
            &key,
            staged,
            &digests,
            written,
            WriteCondition::Always,
        )
        .await?;
    let site = Site {
        tls: state.cfg.tls.is_some(),
        virtual_host: crate::web::target::virtual_host_bucket(
            crate::web::target::request_host(parts),
            state.cfg.s3_domain.as_deref(),
        )
        .is_some(),
    };
    let mut r = reply(site, parts, &form_fields.0, bucket_name, &key, &rec.etag);
    super::object::version_header(r.headers_mut(), &bucket, &rec);
    super::sse::response_headers(
        r.headers_mut(),
        &state.cfg.region,
        rec.sse.as_ref(),
        customer.as_ref(),
    );
    Ok(r)
}

/// How the client addressed the server, for the object's URL in replies.
#[derive(Debug, Clone, Copy)]
struct Site {
    tls: bool,
    virtual_host: bool,
}

fn content_length(parts: &http::request::Parts) -> Option<u64> {
    parts
        .headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// The form's header fields as the headers a PUT would have sent.
fn stored_headers(fields: &BTreeMap<String, String>) -> S3Result<HeaderMap> {
    let mut h = HeaderMap::new();
    for (name, value) in fields {
        // Encryption fields are kept for the write's encryption and the bucket policy's
        // conditions, as the headers of a PUT.
        if !(STORED.contains(&name.as_str())
            || name == "acl"
            || name.starts_with("x-amz-meta-")
            || name.starts_with("x-amz-server-side-encryption"))
        {
            continue;
        }
        let bad = || {
            S3Error::new(
                S3Code::InvalidArgument,
                format!("The form field '{name}' is not a valid header value."),
            )
        };
        // The form's `acl` is the header's `x-amz-acl`.
        let name = if name == "acl" { "x-amz-acl" } else { name };
        let n = HeaderName::from_bytes(name.as_bytes()).map_err(|_| bad())?;
        let v = HeaderValue::from_str(value).map_err(|_| bad())?;
        h.insert(n, v);
    }
    Ok(h)
}

/// `success_action_redirect` (303 to it, with the bucket, key and ETag), else
/// `success_action_status` 200 or 201 (with a `PostResponse` document), else 204.
fn reply(
    site: Site,
    parts: &http::request::Parts,
    fields: &BTreeMap<String, String>,
    bucket: &str,
    key: &str,
    etag: &str,
) -> Response {
    let etag = quote_etag(etag);
    let enc = |s: &str| percent_encoding::utf8_percent_encode(s, UNRESERVED).to_string();
    let host = crate::web::target::request_host(parts).unwrap_or("localhost");
    let scheme = if site.tls { "https" } else { "http" };
    let location = if site.virtual_host {
        format!("{scheme}://{host}/{}", key_path(key))
    } else {
        format!("{scheme}://{host}/{}/{}", enc(bucket), key_path(key))
    };
    let redirect = fields
        .get("success_action_redirect")
        .or_else(|| fields.get("redirect"))
        .filter(|u| u.starts_with("http://") || u.starts_with("https://"));
    let builder = http::Response::builder().header(header::ETAG, &etag);
    let resp = if let Some(url) = redirect {
        let sep = if url.contains('?') { '&' } else { '?' };
        let to = format!(
            "{url}{sep}bucket={}&key={}&etag={}",
            enc(bucket),
            enc(key),
            enc(&etag)
        );
        builder
            .status(StatusCode::SEE_OTHER)
            .header(header::LOCATION, to)
            .body(rbody::empty())
    } else {
        let builder = builder.header(header::LOCATION, &location);
        match fields.get("success_action_status").map(String::as_str) {
            Some("200") => builder.status(StatusCode::OK).body(rbody::empty()),
            Some("201") => {
                let mut w = crate::xml::XmlWriter::new_plain("PostResponse");
                w.elem("Location", &location)
                    .elem("Bucket", bucket)
                    .elem("Key", key)
                    .elem("ETag", &etag);
                builder
                    .status(StatusCode::CREATED)
                    .header(header::CONTENT_TYPE, "application/xml")
                    .body(rbody::full(w.finish()))
            }
            _ => builder.status(StatusCode::NO_CONTENT).body(rbody::empty()),
        }
    };
    resp.unwrap_or_else(|_| {
        let mut r = http::Response::new(rbody::empty());
        *r.status_mut() = StatusCode::NO_CONTENT;
        r
    })
}

/// A key as a URL path: each segment percent-encoded, the slashes kept.
fn key_path(key: &str) -> String {
    key.split('/')
        .map(|s| percent_encoding::utf8_percent_encode(s, UNRESERVED).to_string())
        .collect::<Vec<_>>()
        .join("/")
}
