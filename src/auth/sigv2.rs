//! AWS Signature Version 2: `Authorization: AWS AccessKeyId:Signature`, and presigned URLs
//! with `AWSAccessKeyId`, `Expires` and `Signature` in the query. s3cmd, boto3's `s3`
//! signature version and many older tools sign this way. It is on only when the server's
//! config says so (`[s3] sigv2`); otherwise such requests get S3's SigV4-only-region answer.
//!
//! The signature is `Base64(HMAC-SHA1(secret, StringToSign))` over
//! `VERB \n Content-MD5 \n Content-Type \n Date \n CanonicalizedAmzHeaders CanonicalizedResource`.
//! Every `x-amz-*` header is part of the string, so none can be added unsigned.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

use super::parse::request_time;
use super::presigned::query_error;
use super::{AuthError, PayloadMode, SecretLookup, Verified, MAX_SKEW};

/// Query parameters that are part of the resource a V2 signature covers: S3's original
/// sub-resources and response overrides...
const CLASSIC_SUB_RESOURCES: &[&str] = &[
    "acl",
    "delete",
    "lifecycle",
    "location",
    "logging",
    "notification",
    "partNumber",
    "policy",
    "requestPayment",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
    "torrent",
    "uploadId",
    "uploads",
    "versionId",
    "versioning",
    "versions",
    "website",
];

/// ...and the later ones. Every parameter that selects an operation must be signed, or a
/// signature for one request would verify another (`PUT ?retention` for a PUT).
const LATER_SUB_RESOURCES: &[&str] = &[
    "accelerate",
    "analytics",
    "attributes",
    "cors",
    "encryption",
    "intelligent-tiering",
    "inventory",
    "legal-hold",
    "metrics",
    "object-lock",
    "ownershipControls",
    "policyStatus",
    "publicAccessBlock",
    "replication",
    "restore",
    "retention",
    "select",
    "select-type",
    "tagging",
];

/// Which form of Signature V2 a request carries, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum V2Form {
    Header,
    Query,
}

/// Detects Signature V2: an `AWS AK:sig` Authorization header, or (without an Authorization
/// header or SigV4 query parameters) `AWSAccessKeyId` and `Signature` in the query.
pub(super) fn form(
    auth_header: Option<&http::HeaderValue>,
    params: &[(String, String)],
    has_v4_query: bool,
) -> Option<V2Form> {
    if let Some(h) = auth_header {
        let v2 = h
            .to_str()
            .ok()
            .is_some_and(|v| v.trim_start().starts_with("AWS ") && !v.contains("AWS4-"));
        return v2.then_some(V2Form::Header);
    }
    let query = !has_v4_query
        && params.iter().any(|(k, _)| k == "AWSAccessKeyId")
        && params.iter().any(|(k, _)| k == "Signature");
    query.then_some(V2Form::Query)
}

/// Where the request's resource starts: path-style requests sign their path, virtual-hosted
/// ones `/bucket` followed by it.
#[derive(Debug, Clone, Copy, Default)]
pub struct V2Resource<'a> {
    pub virtual_host_bucket: Option<&'a str>,
}

pub(super) fn verify(
    form: V2Form,
    parts: &http::request::Parts,
    params: &[(String, String)],
    resource: V2Resource<'_>,
    now: OffsetDateTime,
    lookup: &dyn SecretLookup,
) -> Result<Verified, AuthError> {
    let (access_key, signature, date_lines) = match form {
        V2Form::Header => header_credentials(parts, now)?,
        V2Form::Query => query_credentials(params, now)?,
    };
    let secret = lookup
        .secret_for(&access_key)
        .ok_or(AuthError::InvalidAccessKeyId)?;
    let provided = base64::engine::general_purpose::STANDARD
        .decode(signature.trim())
        .map_err(|_| AuthError::SignatureDoesNotMatch)?;
    let fixed = fixed_lines(parts);
    let amz = amz_headers(&parts.headers, params, form)?;
    let resources = canonical_resources(parts, params, resource);
    for date in &date_lines {
        for res in &resources {
            let sts = format!("{fixed}{date}\n{amz}{res}");
            if hmac_sha1(secret.as_bytes(), sts.as_bytes())
                .ct_eq(&provided)
                .into()
            {
                return Ok(Verified {
                    access_key,
                    payload: PayloadMode::Unsigned,
                    chunk_signer: None,
                    presigned: form == V2Form::Query,
                    sigv2: true,
                });
            }
        }
    }
    Err(AuthError::SignatureDoesNotMatch)
}

/// `AWS AK:signature`, and the Date lines it may have signed: empty when `x-amz-date` is
/// sent (S3's rule), though some clients sign the `Date` they also send.
fn header_credentials(
    parts: &http::request::Parts,
    now: OffsetDateTime,
) -> Result<(String, String, Vec<String>), AuthError> {
    let invalid = || {
        AuthError::InvalidArgument(
            "AWS authorization header is invalid.  Expected AwsAccessKeyId:signature".to_owned(),
        )
    };
    let value = parts
        .headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(invalid)?;
    let rest = value
        .trim_start()
        .strip_prefix("AWS ")
        .ok_or_else(invalid)?;
    let (ak, sig) = rest.trim().rsplit_once(':').ok_or_else(invalid)?;
    if ak.is_empty() || sig.is_empty() {
        return Err(invalid());
    }
    let at = request_time(&parts.headers)?;
    if (now - at).abs() > MAX_SKEW {
        return Err(AuthError::RequestTimeTooSkewed);
    }
    let date = parts
        .headers
        .get(http::header::DATE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_owned());
    let lines = match (parts.headers.contains_key("x-amz-date"), date) {
        (true, Some(d)) => vec![String::new(), d],
        (true, None) => vec![String::new()],
        (false, d) => vec![d.unwrap_or_default()],
    };
    Ok((ak.to_owned(), sig.to_owned(), lines))
}

/// `AWSAccessKeyId`, `Signature` and `Expires` (seconds since the epoch, signed in the
/// Date line's place).
fn query_credentials(
    params: &[(String, String)],
    now: OffsetDateTime,
) -> Result<(String, String, Vec<String>), AuthError> {
    let one = |name: &str| -> Result<&str, AuthError> {
        let mut found = params.iter().filter(|(k, _)| k == name).map(|(_, v)| v);
        let first = found.next().ok_or_else(|| {
            AuthError::AccessDenied(
                "Query-string authentication requires the Signature, Expires and \
                 AWSAccessKeyId parameters"
                    .to_owned(),
            )
        })?;
        if found.next().is_some() {
            return Err(query_error(format!("{name} must be specified only once.")));
        }
        Ok(first.as_str())
    };
    let (ak, sig, expires) = (one("AWSAccessKeyId")?, one("Signature")?, one("Expires")?);
    if expires.is_empty() || !expires.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AuthError::AccessDenied(format!(
            "Invalid date (should be seconds since epoch): {expires}"
        )));
    }
    let at: i64 = expires.parse().unwrap_or(i64::MAX);
    if now.unix_timestamp() > at {
        return Err(AuthError::AccessDenied("Request has expired".to_owned()));
    }
    Ok((ak.to_owned(), sig.to_owned(), vec![expires.to_owned()]))
}

/// `VERB\nContent-MD5\nContent-Type\n`, from the headers only (as S3 does): a presigner
/// that signed them leaves it to the uploader to send the same headers.
fn fixed_lines(parts: &http::request::Parts) -> String {
    let h = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .unwrap_or("")
    };
    format!(
        "{}\n{}\n{}\n",
        parts.method.as_str(),
        h("content-md5"),
        h("content-type")
    )
}

/// `name:value\n` for every `x-amz-*` header (and, in a presigned URL, every `x-amz-*`
/// query parameter: presigners move the headers they signed there), names lowercased and
/// sorted, the values of a repeated name trimmed and joined by commas (as botocore and s3cmd
/// sign them).
fn amz_headers(
    headers: &http::HeaderMap,
    params: &[(String, String)],
    form: V2Form,
) -> Result<String, AuthError> {
    let mut all: Vec<(String, String)> = Vec::new();
    for (name, v) in headers {
        if name.as_str().starts_with("x-amz-") {
            let v = v.to_str().map_err(|_| AuthError::SignatureDoesNotMatch)?;
            all.push((name.as_str().to_owned(), v.to_owned()));
        }
    }
    if form == V2Form::Query {
        for (k, v) in params {
            let k = k.to_ascii_lowercase();
            if k.starts_with("x-amz-") {
                all.push((k, v.clone()));
            }
        }
    }
    // Stable: the values of one name keep the order they came in.
    all.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out = String::new();
    let mut i = 0;
    while i < all.len() {
        let name = &all[i].0;
        let mut values = Vec::new();
        while i < all.len() && all[i].0 == *name {
            values.push(all[i].1.trim().to_owned());
            i += 1;
        }
        out.push_str(name);
        out.push(':');
        out.push_str(&values.join(","));
        out.push('\n');
    }
    Ok(out)
}

/// The resource strings a client may have signed: the path as sent (clients sign it encoded:
/// a decoded candidate would let an encoded `?` move sub-resources into the key), with every
/// query parameter that selects an operation.
fn canonical_resources(
    parts: &http::request::Parts,
    params: &[(String, String)],
    resource: V2Resource<'_>,
) -> Vec<String> {
    let raw = parts.uri.path();
    let mut paths = vec![raw.to_owned()];
    // botocore signs a bucket's path-style resource with a trailing slash, `/bucket/`, while
    // it sends `/bucket`.
    let bucket_only = raw.len() > 1 && !raw[1..].contains('/');
    if bucket_only && resource.virtual_host_bucket.is_none() {
        paths.push(format!("{raw}/"));
    }
    if let Some(bucket) = resource.virtual_host_bucket {
        for p in &mut paths {
            *p = format!("/{bucket}{p}");
        }
    }
    let subs = sub_resources(params);
    paths.into_iter().map(|p| format!("{p}{subs}")).collect()
}

/// `?name[=value]&...` of the sub-resources, sorted by name, values decoded.
fn sub_resources(params: &[(String, String)]) -> String {
    let signed = |k: &str| CLASSIC_SUB_RESOURCES.contains(&k) || LATER_SUB_RESOURCES.contains(&k);
    let mut found: Vec<&(String, String)> = params.iter().filter(|(k, _)| signed(k)).collect();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out = String::new();
    for (i, (k, v)) in found.into_iter().enumerate() {
        out.push(if i == 0 { '?' } else { '&' });
        out.push_str(k);
        if !v.is_empty() {
            out.push('=');
            out.push_str(v);
        }
    }
    out
}

pub(super) fn hmac_sha1(key: &[u8], data: &[u8]) -> [u8; 20] {
    let mut mac = match <Hmac<Sha1> as Mac>::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC-SHA1 accepts keys of any length"),
    };
    mac.update(data);
    mac.finalize().into_bytes().into()
}
