//! Request authentication: AWS Signature Version 4 (Authorization header and
//! presigned query string) and the aws-chunked body decoder.
//!
//! Security notes:
//! * secrets, signing keys and signatures are never logged; `Debug` on the types
//!   that hold them is redacted;
//! * signatures are compared in constant time;
//! * the server region is always supplied by the caller.
//!
//! Proxies in front of the server must preserve the `Host` header (and port): it is
//! part of every signature.

pub mod chunked;
pub mod sigv4;

use std::fmt;

use http::StatusCode;
use time::{Duration, OffsetDateTime};

use sigv4::{
    canonical_headers, canonical_query_candidates, canonical_request, canonical_uri_candidates,
    format_amz_date, hmac_sha256, parse_amz_date, signature_matches, signing_key, string_to_sign,
    ALGORITHM,
};

/// Maximum tolerated difference between the request time and the server clock.
pub const MAX_SKEW: Duration = Duration::minutes(15);
/// Largest `X-Amz-Expires` accepted (7 days).
pub const MAX_PRESIGNED_EXPIRES: u64 = 604_800;

const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
const STREAMING_SIGNED: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
const STREAMING_SIGNED_TRAILER: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
const STREAMING_UNSIGNED_TRAILER: &str = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";
const CONTENT_SHA256: &str = "x-amz-content-sha256";
const MISSING_CONTENT_SHA256: &str =
    "Missing required header for this request: x-amz-content-sha256";

/// Authentication failures. [`AuthError::code`] and [`AuthError::status`] give the
/// S3 error code and HTTP status; `Display` gives the S3 message.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// 403 SignatureDoesNotMatch (also: wrong chunk / trailer signature).
    #[error("The request signature we calculated does not match the signature you provided. Check your key and signing method.")]
    SignatureDoesNotMatch,
    /// 403 InvalidAccessKeyId.
    #[error("The AWS Access Key Id you provided does not exist in our records.")]
    InvalidAccessKeyId,
    /// 403 RequestTimeTooSkewed.
    #[error("The difference between the request time and the current time is too large.")]
    RequestTimeTooSkewed,
    /// 400 AuthorizationHeaderMalformed.
    #[error("{0}")]
    AuthorizationHeaderMalformed(String),
    /// 400 AuthorizationQueryParametersError.
    #[error("{0}")]
    AuthorizationQueryParametersError(String),
    /// 403 AccessDenied (expired presigned URL, missing date).
    #[error("{0}")]
    AccessDenied(String),
    /// 403 AccessDenied: `host` or an `x-amz-*` header is not covered by the signature.
    /// Carries the unsigned header names for S3's `<HeadersNotSigned>` element.
    #[error("There were headers present in the request which were not signed")]
    HeadersNotSigned(Vec<String>),
    /// 400 InvalidRequest (missing x-amz-content-sha256, malformed aws-chunked framing).
    #[error("{0}")]
    InvalidRequest(String),
    /// 400 XAmzContentSHA256Mismatch.
    #[error("The provided 'x-amz-content-sha256' header does not match what was computed.")]
    XAmzContentSHA256Mismatch,
    /// 400 IncompleteBody (aws-chunked body ended early).
    #[error("{0}")]
    IncompleteBody(String),
    /// 400 InvalidArgument.
    #[error("{0}")]
    InvalidArgument(String),
}

impl AuthError {
    /// The S3 error code for the `<Code>` element.
    pub fn code(&self) -> &'static str {
        match self {
            Self::SignatureDoesNotMatch => "SignatureDoesNotMatch",
            Self::InvalidAccessKeyId => "InvalidAccessKeyId",
            Self::RequestTimeTooSkewed => "RequestTimeTooSkewed",
            Self::AuthorizationHeaderMalformed(_) => "AuthorizationHeaderMalformed",
            Self::AuthorizationQueryParametersError(_) => "AuthorizationQueryParametersError",
            Self::AccessDenied(_) | Self::HeadersNotSigned(_) => "AccessDenied",
            Self::InvalidRequest(_) => "InvalidRequest",
            Self::XAmzContentSHA256Mismatch => "XAmzContentSHA256Mismatch",
            Self::IncompleteBody(_) => "IncompleteBody",
            Self::InvalidArgument(_) => "InvalidArgument",
        }
    }

    /// The HTTP status S3 uses for this error.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::SignatureDoesNotMatch
            | Self::InvalidAccessKeyId
            | Self::RequestTimeTooSkewed
            | Self::AccessDenied(_)
            | Self::HeadersNotSigned(_) => StatusCode::FORBIDDEN,
            Self::AuthorizationHeaderMalformed(_)
            | Self::AuthorizationQueryParametersError(_)
            | Self::InvalidRequest(_)
            | Self::XAmzContentSHA256Mismatch
            | Self::IncompleteBody(_)
            | Self::InvalidArgument(_) => StatusCode::BAD_REQUEST,
        }
    }
}

/// Resolves an access key to its secret key.
pub trait SecretLookup {
    fn secret_for(&self, access_key: &str) -> Option<String>;
}

/// What the signature says about the request body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadMode {
    /// The body's SHA-256 was signed; the caller must check the body against it
    /// ([`PayloadMode::check_body_sha256`]) before committing anything.
    Sha256([u8; 32]),
    /// `UNSIGNED-PAYLOAD` (also the default for presigned URLs).
    Unsigned,
    /// aws-chunked body with per-chunk signatures (use [`Verified::chunk_signer`]).
    StreamingSigned { trailer: bool },
    /// aws-chunked body without signatures, with trailers.
    StreamingUnsignedTrailer,
}

impl PayloadMode {
    /// True for the aws-chunked modes (decode the body with [`chunked::ChunkedDecoder`]).
    pub fn is_streaming(&self) -> bool {
        matches!(
            self,
            Self::StreamingSigned { .. } | Self::StreamingUnsignedTrailer
        )
    }

    /// True when the aws-chunked body ends with trailers.
    pub fn expects_trailer(&self) -> bool {
        matches!(
            self,
            Self::StreamingSigned { trailer: true } | Self::StreamingUnsignedTrailer
        )
    }

    /// For [`PayloadMode::Sha256`], compares (constant time) with the SHA-256 of the
    /// received body: mismatch → `XAmzContentSHA256Mismatch`. Other modes: `Ok`.
    pub fn check_body_sha256(&self, computed: &[u8; 32]) -> Result<(), AuthError> {
        use subtle::ConstantTimeEq;
        match self {
            Self::Sha256(expected) if !bool::from(expected.ct_eq(computed)) => {
                Err(AuthError::XAmzContentSHA256Mismatch)
            }
            _ => Ok(()),
        }
    }

    fn parse(value: &str) -> Result<Self, AuthError> {
        match value {
            UNSIGNED_PAYLOAD => Ok(Self::Unsigned),
            STREAMING_SIGNED => Ok(Self::StreamingSigned { trailer: false }),
            STREAMING_SIGNED_TRAILER => Ok(Self::StreamingSigned { trailer: true }),
            STREAMING_UNSIGNED_TRAILER => Ok(Self::StreamingUnsignedTrailer),
            _ => {
                let mut hash = [0u8; 32];
                match hex::decode_to_slice(value, &mut hash) {
                    Ok(()) => Ok(Self::Sha256(hash)),
                    Err(_) => Err(invalid_content_sha256()),
                }
            }
        }
    }
}

/// Everything needed to verify the chunk signatures of an aws-chunked body.
#[derive(Clone)]
pub struct ChunkSigner {
    key: [u8; 32],
    amz_date: String,
    scope: String,
    seed_signature: String,
}

impl ChunkSigner {
    /// `seed_signature` is the request signature (lowercase hex).
    pub fn new(
        signing_key: [u8; 32],
        amz_date: String,
        scope: String,
        seed_signature: String,
    ) -> Self {
        Self {
            key: signing_key,
            amz_date,
            scope,
            seed_signature: seed_signature.to_ascii_lowercase(),
        }
    }
}

impl fmt::Debug for ChunkSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChunkSigner")
            .field("amz_date", &self.amz_date)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// A request whose signature checked out.
#[derive(Debug, Clone)]
pub struct Verified {
    pub access_key: String,
    pub payload: PayloadMode,
    /// Present for [`PayloadMode::StreamingSigned`].
    pub chunk_signer: Option<ChunkSigner>,
    pub presigned: bool,
}

/// A header-signed request to a non-`s3` service without `x-amz-content-sha256`:
/// the signed payload hash is the SHA-256 of the body, so the signature can only be
/// checked once the body has been read. Finish with [`verify_with_body_hash`].
/// Nothing about it is trusted until then.
pub struct Pending {
    ctx: SigContext,
}

impl Pending {
    /// The access key the request claims (not yet authenticated).
    pub fn claimed_access_key(&self) -> &str {
        &self.ctx.access_key
    }
}

impl fmt::Debug for Pending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pending")
            .field("access_key", &self.ctx.access_key)
            .finish_non_exhaustive()
    }
}

/// Result of [`verify_request_or_defer`].
#[derive(Debug)]
pub enum Verification {
    /// No Authorization header and no `X-Amz-Algorithm` query parameter.
    Anonymous,
    Verified(Verified),
    /// Buffer the body, hash it, then call [`verify_with_body_hash`].
    NeedsBodyHash(Pending),
}

/// Verifies a SigV4 request (Authorization header or presigned query string).
///
/// `Ok(None)` = anonymous request (no Authorization header, no `X-Amz-Algorithm`
/// query parameter). A request that would need the body to be verified (non-`s3`
/// service without `x-amz-content-sha256`) is rejected with `InvalidRequest`; use
/// [`verify_request_or_defer`] on surfaces that accept such requests.
pub fn verify_request(
    parts: &http::request::Parts,
    region: &str,
    services: &[&str],
    now: OffsetDateTime,
    lookup: &dyn SecretLookup,
) -> Result<Option<Verified>, AuthError> {
    match verify_request_or_defer(parts, region, services, now, lookup)? {
        Verification::Anonymous => Ok(None),
        Verification::Verified(v) => Ok(Some(v)),
        Verification::NeedsBodyHash(_) => {
            Err(AuthError::InvalidRequest(MISSING_CONTENT_SHA256.to_owned()))
        }
    }
}

/// Like [`verify_request`], but a header-signed request to a non-`s3` service without
/// `x-amz-content-sha256` (e.g. `curl --aws-sigv4 aws:amz:REGION:SERVICE`, which signs
/// the body's hash without sending it) yields [`Verification::NeedsBodyHash`].
pub fn verify_request_or_defer(
    parts: &http::request::Parts,
    region: &str,
    services: &[&str],
    now: OffsetDateTime,
    lookup: &dyn SecretLookup,
) -> Result<Verification, AuthError> {
    let raw_query = parts.uri.query().unwrap_or("");
    let params = decode_query(raw_query);
    let has_query_auth = params.iter().any(|(k, _)| k == "X-Amz-Algorithm");
    let mut auth_headers = parts.headers.get_all(http::header::AUTHORIZATION).iter();
    let auth_header = auth_headers.next();
    if auth_headers.next().is_some() {
        return Err(AuthError::InvalidArgument(
            "Only one Authorization header may be specified".to_owned(),
        ));
    }
    // Signature V2 (`Authorization: AWS AK:sig`, or `AWSAccessKeyId`+`Signature` in the
    // query) is refused as S3 refuses it in SigV4-only regions.
    let sigv2_header = auth_header
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("AWS ") && !v.contains("AWS4-"));
    let sigv2_query = !has_query_auth
        && params.iter().any(|(k, _)| k == "AWSAccessKeyId")
        && params.iter().any(|(k, _)| k == "Signature");
    if sigv2_header || (auth_header.is_none() && sigv2_query) {
        return Err(AuthError::InvalidRequest(
            "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256."
                .to_owned(),
        ));
    }
    match (auth_header, has_query_auth) {
        (Some(_), true) => Err(AuthError::InvalidArgument(
            "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, \
             Signature query string parameter or the Authorization header should be specified"
                .to_owned(),
        )),
        (Some(value), false) => {
            let value = value.to_str().map_err(|_| {
                AuthError::AuthorizationHeaderMalformed(
                    "The authorization header is malformed; it is not valid ASCII.".to_owned(),
                )
            })?;
            verify_header_auth(parts, value, raw_query, region, services, now, lookup)
        }
        (None, true) => verify_presigned(parts, &params, raw_query, region, services, now, lookup)
            .map(Verification::Verified),
        (None, false) => {
            if params
                .iter()
                .any(|(k, _)| k == "X-Amz-Credential" || k == "X-Amz-Signature")
            {
                return Err(AuthError::AuthorizationQueryParametersError(
                    QUERY_PARAMS_REQUIRED.to_owned(),
                ));
            }
            Ok(Verification::Anonymous)
        }
    }
}

/// Completes a [`Pending`] verification with the SHA-256 of the full request body.
pub fn verify_with_body_hash(
    pending: &Pending,
    body_sha256: &[u8; 32],
) -> Result<Verified, AuthError> {
    pending.ctx.check(&hex::encode(body_sha256))?;
    Ok(Verified {
        access_key: pending.ctx.access_key.clone(),
        payload: PayloadMode::Sha256(*body_sha256),
        chunk_signer: None,
        presigned: false,
    })
}

// ---------------------------------------------------------------------------
// internals

fn invalid_content_sha256() -> AuthError {
    AuthError::InvalidArgument(format!(
        "x-amz-content-sha256 must be {UNSIGNED_PAYLOAD}, {STREAMING_SIGNED}, \
         {STREAMING_SIGNED_TRAILER}, {STREAMING_UNSIGNED_TRAILER}, or a valid sha256 value."
    ))
}

const QUERY_PARAMS_REQUIRED: &str = "Query-string authentication version 4 requires the \
    X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, \
    and X-Amz-Expires parameters.";
const NO_VALID_DATE: &str = "AWS authentication requires a valid Date or x-amz-date header";

/// The parts of a canonical request that do not depend on the payload hash.
struct SigContext {
    access_key: String,
    key: [u8; 32],
    amz_date: String,
    scope: String,
    method: String,
    uri_candidates: Vec<String>,
    query_candidates: Vec<String>,
    headers: String,
    signed_headers: String,
    provided_signature: String,
}

impl SigContext {
    /// Everything but the payload hash, for header and presigned requests alike.
    #[allow(clippy::too_many_arguments)]
    fn new(
        parts: &http::request::Parts,
        lookup: &dyn SecretLookup,
        cred: &Credential<'_>,
        amz_date: String,
        query_candidates: Vec<String>,
        signed: &[String],
        signed_headers: &str,
        signature: &str,
    ) -> Result<Self, AuthError> {
        let secret = lookup
            .secret_for(cred.access_key)
            .ok_or(AuthError::InvalidAccessKeyId)?;
        Ok(SigContext {
            access_key: cred.access_key.to_owned(),
            key: signing_key(&secret, cred.date, cred.region, cred.service),
            amz_date,
            scope: format!(
                "{}/{}/{}/aws4_request",
                cred.date, cred.region, cred.service
            ),
            method: parts.method.as_str().to_owned(),
            uri_candidates: canonical_uri_candidates(parts.uri.path()),
            query_candidates,
            headers: canonical_headers(
                &parts.headers,
                signed,
                parts.uri.authority().map(|a| a.as_str()),
            )?,
            signed_headers: signed_headers.to_owned(),
            provided_signature: signature.to_owned(),
        })
    }

    /// Returns the computed signature when one canonical URI and query candidate matches.
    fn check(&self, payload_hash: &str) -> Result<[u8; 32], AuthError> {
        for uri in &self.uri_candidates {
            for query in &self.query_candidates {
                let cr = canonical_request(
                    &self.method,
                    uri,
                    query,
                    &self.headers,
                    &self.signed_headers,
                    payload_hash,
                );
                let sts = string_to_sign(&self.amz_date, &self.scope, &cr);
                let computed = hmac_sha256(&self.key, sts.as_bytes());
                if signature_matches(&computed, &self.provided_signature) {
                    return Ok(computed);
                }
            }
        }
        Err(AuthError::SignatureDoesNotMatch)
    }

    fn verified(&self, payload: PayloadMode, computed: [u8; 32], presigned: bool) -> Verified {
        let chunk_signer = match payload {
            PayloadMode::StreamingSigned { .. } => Some(ChunkSigner::new(
                self.key,
                self.amz_date.clone(),
                self.scope.clone(),
                hex::encode(computed),
            )),
            _ => None,
        };
        Verified {
            access_key: self.access_key.clone(),
            payload,
            chunk_signer,
            presigned,
        }
    }
}

struct Credential<'a> {
    access_key: &'a str,
    date: &'a str,
    region: &'a str,
    service: &'a str,
}

/// `AK/YYYYMMDD/REGION/SERVICE/aws4_request`
fn parse_credential(s: &str) -> Option<Credential<'_>> {
    let mut it = s.rsplitn(5, '/');
    let terminator = it.next()?;
    let service = it.next()?;
    let region = it.next()?;
    let date = it.next()?;
    let access_key = it.next()?;
    let date_ok = date.len() == 8 && date.bytes().all(|b| b.is_ascii_digit());
    if terminator != "aws4_request"
        || !date_ok
        || access_key.is_empty()
        || region.is_empty()
        || service.is_empty()
    {
        return None;
    }
    Some(Credential {
        access_key,
        date,
        region,
        service,
    })
}

/// The only `x-amz-*` header S3 lets through unsigned: it restates the payload hash that is
/// part of the signature anyway.
const UNSIGNED_ALLOWED: &str = "x-amz-content-sha256";

/// S3's rule for both header-signed and presigned requests: `host` and every `x-amz-*`
/// header present must be signed, so no one who merely holds a request (a presigned URL,
/// a captured plain-HTTP request) can add a header that chooses the operation
/// (`x-amz-copy-source`) or changes what is stored (`x-amz-meta-*`, checksums, tagging).
fn check_all_signed(headers: &http::HeaderMap, signed: &[String]) -> Result<(), AuthError> {
    let mut unsigned: Vec<String> = Vec::new();
    if !signed.iter().any(|h| h == "host") {
        unsigned.push("host".to_owned());
    }
    for name in headers.keys() {
        let n = name.as_str();
        if n.starts_with("x-amz-") && n != UNSIGNED_ALLOWED && !signed.iter().any(|h| h == n) {
            unsigned.push(n.to_owned());
        }
    }
    unsigned.sort();
    if unsigned.is_empty() {
        Ok(())
    } else {
        Err(AuthError::HeadersNotSigned(unsigned))
    }
}

/// Lowercased signed header names; `None` if empty or containing an empty name.
fn parse_signed_headers(s: &str) -> Option<Vec<String>> {
    let names: Vec<String> = s.split(';').map(str::to_ascii_lowercase).collect();
    if names.iter().any(String::is_empty) {
        return None;
    }
    Some(names)
}

fn decode_query(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode_component(k), decode_component(v))
        })
        .collect()
}

fn decode_component(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

struct AuthHeader<'a> {
    credential: &'a str,
    signed_headers: &'a str,
    signature: &'a str,
}

fn header_malformed(detail: &str) -> AuthError {
    AuthError::AuthorizationHeaderMalformed(format!(
        "The authorization header is malformed; {detail}"
    ))
}

fn parse_authorization(value: &str) -> Result<AuthHeader<'_>, AuthError> {
    let value = value.trim();
    let rest = match value.strip_prefix(ALGORITHM) {
        Some(rest) if rest.starts_with([' ', '\t', ',']) => rest,
        _ => {
            return Err(AuthError::InvalidArgument(
                "Unsupported Authorization Type".to_owned(),
            ))
        }
    };
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for token in rest.split([',', ' ', '\t']).filter(|t| !t.is_empty()) {
        let (name, val) = token
            .split_once('=')
            .ok_or_else(|| header_malformed("expected name=value components."))?;
        let slot = match name {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            _ => return Err(header_malformed("unexpected component.")),
        };
        if slot.replace(val).is_some() {
            return Err(header_malformed("duplicate component."));
        }
    }
    Ok(AuthHeader {
        credential: credential.ok_or_else(|| header_malformed("missing Credential."))?,
        signed_headers: signed_headers.ok_or_else(|| header_malformed("missing SignedHeaders."))?,
        signature: signature.ok_or_else(|| header_malformed("missing Signature."))?,
    })
}

/// Request time from `x-amz-date` (ISO 8601 basic, or RFC 1123 as SigV2-era clients
/// send it), falling back to `Date` only when `x-amz-date` is absent.
fn request_time(headers: &http::HeaderMap) -> Result<OffsetDateTime, AuthError> {
    let denied = || AuthError::AccessDenied(NO_VALID_DATE.to_owned());
    if let Some(v) = headers.get("x-amz-date") {
        let v = v.to_str().map_err(|_| denied())?.trim();
        return parse_amz_date(v)
            .or_else(|| parse_http_date(v))
            .ok_or_else(denied);
    }
    let v = headers.get(http::header::DATE).ok_or_else(denied)?;
    parse_http_date(v.to_str().map_err(|_| denied())?.trim()).ok_or_else(denied)
}

fn parse_http_date(s: &str) -> Option<OffsetDateTime> {
    httpdate::parse_http_date(s).ok().map(OffsetDateTime::from)
}

fn verify_header_auth(
    parts: &http::request::Parts,
    auth_value: &str,
    raw_query: &str,
    region: &str,
    services: &[&str],
    now: OffsetDateTime,
    lookup: &dyn SecretLookup,
) -> Result<Verification, AuthError> {
    let auth = parse_authorization(auth_value)?;
    let cred = parse_credential(auth.credential).ok_or_else(|| {
        header_malformed(
            "the Credential is mal-formed; expecting \
             \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".",
        )
    })?;
    if cred.region != region {
        return Err(header_malformed(&format!(
            "the region '{}' is wrong; expecting '{region}'",
            cred.region
        )));
    }
    if !services.contains(&cred.service) {
        return Err(header_malformed(&format!(
            "incorrect service '{}'. This endpoint belongs to '{}'.",
            cred.service,
            services.first().copied().unwrap_or("")
        )));
    }
    let signed = parse_signed_headers(auth.signed_headers)
        .ok_or_else(|| header_malformed("invalid SignedHeaders."))?;
    check_all_signed(&parts.headers, &signed)?;

    let t = request_time(&parts.headers)?;
    let amz_date = format_amz_date(t);
    if amz_date.get(..8) != Some(cred.date) {
        return Err(header_malformed(
            "Invalid credential date. Date is not the same as X-Amz-Date.",
        ));
    }
    if (now - t).abs() > MAX_SKEW {
        return Err(AuthError::RequestTimeTooSkewed);
    }

    let payload = match parts.headers.get(CONTENT_SHA256) {
        Some(v) => {
            let hash = v.to_str().map_err(|_| invalid_content_sha256())?.trim();
            Some((PayloadMode::parse(hash)?, hash.to_owned()))
        }
        None if cred.service == "s3" => {
            return Err(AuthError::InvalidRequest(MISSING_CONTENT_SHA256.to_owned()))
        }
        None => None,
    };

    let ctx = SigContext::new(
        parts,
        lookup,
        &cred,
        amz_date,
        canonical_query_candidates(raw_query, false),
        &signed,
        auth.signed_headers,
        auth.signature,
    )?;
    match payload {
        Some((mode, hash_str)) => {
            let computed = ctx.check(&hash_str)?;
            Ok(Verification::Verified(ctx.verified(mode, computed, false)))
        }
        None => Ok(Verification::NeedsBodyHash(Pending { ctx })),
    }
}

fn query_error(msg: impl Into<String>) -> AuthError {
    AuthError::AuthorizationQueryParametersError(msg.into())
}

fn verify_presigned(
    parts: &http::request::Parts,
    params: &[(String, String)],
    raw_query: &str,
    region: &str,
    services: &[&str],
    now: OffsetDateTime,
    lookup: &dyn SecretLookup,
) -> Result<Verified, AuthError> {
    let get = |name: &str, ignore_case: bool| -> Result<Option<&str>, AuthError> {
        let mut found = params.iter().filter(|(k, _)| {
            if ignore_case {
                k.eq_ignore_ascii_case(name)
            } else {
                k == name
            }
        });
        let first = found.next().map(|(_, v)| v.as_str());
        if found.next().is_some() {
            return Err(query_error(format!("{name} must be specified only once.")));
        }
        Ok(first)
    };
    let required = |name: &str| -> Result<&str, AuthError> {
        get(name, false)?.ok_or_else(|| query_error(QUERY_PARAMS_REQUIRED))
    };
    let algorithm = required("X-Amz-Algorithm")?;
    let credential = required("X-Amz-Credential")?;
    let date = required("X-Amz-Date")?;
    let expires = required("X-Amz-Expires")?;
    let signed_headers = required("X-Amz-SignedHeaders")?;
    let signature = required("X-Amz-Signature")?;
    if algorithm != ALGORITHM {
        return Err(query_error(
            "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"",
        ));
    }
    let cred = parse_credential(credential).ok_or_else(|| {
        query_error(
            "Error parsing the X-Amz-Credential parameter; the Credential is mal-formed; \
             expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".",
        )
    })?;
    if cred.region != region {
        return Err(query_error(format!(
            "Error parsing the X-Amz-Credential parameter; the region '{}' is wrong; \
             expecting '{region}'",
            cred.region
        )));
    }
    if !services.contains(&cred.service) {
        return Err(query_error(format!(
            "Error parsing the X-Amz-Credential parameter; incorrect service '{}'. \
             This endpoint belongs to '{}'.",
            cred.service,
            services.first().copied().unwrap_or("")
        )));
    }
    let t = parse_amz_date(date).ok_or_else(|| {
        query_error("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"")
    })?;
    if date.get(..8) != Some(cred.date) {
        return Err(query_error(
            "Invalid credential date. Date is not the same as X-Amz-Date.",
        ));
    }
    let expires: u64 = if !expires.is_empty() && expires.bytes().all(|b| b.is_ascii_digit()) {
        expires.parse().unwrap_or(u64::MAX)
    } else {
        return Err(query_error("X-Amz-Expires should be a number"));
    };
    if expires == 0 {
        return Err(query_error("X-Amz-Expires must be greater than 0"));
    }
    if expires > MAX_PRESIGNED_EXPIRES {
        return Err(query_error(
            "X-Amz-Expires must be less than a week (in seconds) that is 604800",
        ));
    }
    let signed = parse_signed_headers(signed_headers)
        .ok_or_else(|| query_error("X-Amz-SignedHeaders is invalid."))?;
    check_all_signed(&parts.headers, &signed)?;
    if t - now > MAX_SKEW {
        return Err(AuthError::RequestTimeTooSkewed);
    }
    // expires ≤ 604800, so the conversion cannot fail.
    let lifetime = Duration::seconds(i64::try_from(expires).unwrap_or(i64::MAX));
    if now > t + lifetime {
        return Err(AuthError::AccessDenied("Request has expired".to_owned()));
    }
    let payload_hash = get(CONTENT_SHA256, true)?.unwrap_or(UNSIGNED_PAYLOAD);
    let mode = PayloadMode::parse(payload_hash)?;

    let ctx = SigContext::new(
        parts,
        lookup,
        &cred,
        date.to_owned(),
        canonical_query_candidates(raw_query, true),
        &signed,
        signed_headers,
        signature,
    )?;
    let computed = ctx.check(payload_hash)?;
    Ok(ctx.verified(mode, computed, true))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::sigv4::{sha256_hex, uri_encode, EMPTY_SHA256_HEX};
    use super::*;
    use std::collections::HashMap;

    const AK: &str = "AKIAIOSFODNN7EXAMPLE";
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    const REGION: &str = "us-east-1";

    struct Keys(HashMap<String, String>);
    impl SecretLookup for Keys {
        fn secret_for(&self, access_key: &str) -> Option<String> {
            self.0.get(access_key).cloned()
        }
    }
    fn keys() -> Keys {
        Keys(HashMap::from([(AK.to_owned(), SECRET.to_owned())]))
    }

    fn t(s: &str) -> OffsetDateTime {
        parse_amz_date(s).unwrap()
    }
    fn example_now() -> OffsetDateTime {
        t("20130524T000000Z")
    }

    fn parts(method: &str, uri: &str, headers: &[(&str, &str)]) -> http::request::Parts {
        let mut b = http::Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap().into_parts().0
    }

    fn verify(
        p: &http::request::Parts,
        now: OffsetDateTime,
    ) -> Result<Option<Verified>, AuthError> {
        verify_request(p, REGION, &["s3"], now, &keys())
    }

    /// Test-side signer: builds the Authorization header for `p` the way an SDK does.
    fn auth_header(
        p: &http::request::Parts,
        signed: &str,
        payload_hash: &str,
        canonical_uri: &str,
        secret: &str,
        scope_region: &str,
        service: &str,
    ) -> String {
        let amz_date = p.headers["x-amz-date"].to_str().unwrap().to_owned();
        let date = &amz_date[..8];
        let names: Vec<String> = signed.split(';').map(str::to_owned).collect();
        let ch =
            canonical_headers(&p.headers, &names, p.uri.authority().map(|a| a.as_str())).unwrap();
        let cq = sigv4::canonical_query(p.uri.query().unwrap_or(""), false);
        let cr = canonical_request(
            p.method.as_str(),
            canonical_uri,
            &cq,
            &ch,
            signed,
            payload_hash,
        );
        let scope = format!("{date}/{scope_region}/{service}/aws4_request");
        let key = signing_key(secret, date, scope_region, service);
        let sig = hex::encode(hmac_sha256(
            &key,
            string_to_sign(&amz_date, &scope, &cr).as_bytes(),
        ));
        format!("AWS4-HMAC-SHA256 Credential={AK}/{scope}, SignedHeaders={signed}, Signature={sig}")
    }

    fn signed_get(uri: &str, amz_date: &str, canonical_uri: &str) -> http::request::Parts {
        let mut p = parts(
            "GET",
            uri,
            &[
                ("host", "localhost:9000"),
                ("x-amz-date", amz_date),
                ("x-amz-content-sha256", EMPTY_SHA256_HEX),
            ],
        );
        let h = auth_header(
            &p,
            "host;x-amz-content-sha256;x-amz-date",
            EMPTY_SHA256_HEX,
            canonical_uri,
            SECRET,
            REGION,
            "s3",
        );
        p.headers.insert("authorization", h.parse().unwrap());
        p
    }

    const GET_OBJECT_AUTH: &str = "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41";

    fn get_object_example(auth: &str) -> http::request::Parts {
        parts(
            "GET",
            "/test.txt",
            &[
                ("host", "examplebucket.s3.amazonaws.com"),
                ("range", "bytes=0-9"),
                ("x-amz-content-sha256", EMPTY_SHA256_HEX),
                ("x-amz-date", "20130524T000000Z"),
                ("authorization", auth),
            ],
        )
    }

    #[test]
    fn aws_get_object_example_verifies() {
        let v = verify(&get_object_example(GET_OBJECT_AUTH), example_now())
            .unwrap()
            .unwrap();
        assert_eq!(v.access_key, AK);
        assert_eq!(
            v.payload,
            PayloadMode::Sha256(hex::decode(EMPTY_SHA256_HEX).unwrap().try_into().unwrap())
        );
        assert!(v.chunk_signer.is_none() && !v.presigned);
        assert!(v
            .payload
            .check_body_sha256(&sha2::Sha256::digest(b"").into())
            .is_ok());
        assert!(matches!(
            v.payload
                .check_body_sha256(&sha2::Sha256::digest(b"x").into()),
            Err(AuthError::XAmzContentSHA256Mismatch)
        ));
        // Spacing variations of the Authorization header.
        for variant in [
            GET_OBJECT_AUTH.replace(',', ", "),
            GET_OBJECT_AUTH.replace(',', " ,  "),
            GET_OBJECT_AUTH.replace("SHA256 ", "SHA256   "),
            format!("  {GET_OBJECT_AUTH}  "),
        ] {
            assert!(
                verify(&get_object_example(&variant), example_now())
                    .unwrap()
                    .is_some(),
                "{variant}"
            );
        }
    }

    use sha2::Digest;

    #[test]
    fn header_auth_failures() {
        let now = example_now();
        // Wrong secret.
        let other = Keys(HashMap::from([(AK.to_owned(), "nope".to_owned())]));
        assert!(matches!(
            verify_request(
                &get_object_example(GET_OBJECT_AUTH),
                REGION,
                &["s3"],
                now,
                &other
            ),
            Err(AuthError::SignatureDoesNotMatch)
        ));
        // Unknown access key.
        let empty = Keys(HashMap::new());
        assert!(matches!(
            verify_request(
                &get_object_example(GET_OBJECT_AUTH),
                REGION,
                &["s3"],
                now,
                &empty
            ),
            Err(AuthError::InvalidAccessKeyId)
        ));
        // Tampered signed header.
        let mut p = get_object_example(GET_OBJECT_AUTH);
        p.headers.insert("range", "bytes=0-10".parse().unwrap());
        assert!(matches!(
            verify(&p, now),
            Err(AuthError::SignatureDoesNotMatch)
        ));
        // Unsigned standard headers may be added; unsigned x-amz-* ones may not.
        let mut p = get_object_example(GET_OBJECT_AUTH);
        p.headers
            .insert("content-type", "text/plain".parse().unwrap());
        assert!(verify(&p, now).unwrap().is_some());
        p.headers.insert("x-amz-request-id", "abc".parse().unwrap());
        assert!(matches!(
            verify(&p, now),
            Err(AuthError::HeadersNotSigned(_))
        ));
        // Tampered method and path.
        let mut p = get_object_example(GET_OBJECT_AUTH);
        p.method = http::Method::DELETE;
        assert!(matches!(
            verify(&p, now),
            Err(AuthError::SignatureDoesNotMatch)
        ));
        let mut p = get_object_example(GET_OBJECT_AUTH);
        p.uri = "/test.txt?acl".parse().unwrap();
        assert!(matches!(
            verify(&p, now),
            Err(AuthError::SignatureDoesNotMatch)
        ));
        // Signed header missing from the request.
        let mut p = get_object_example(GET_OBJECT_AUTH);
        p.headers.remove("range");
        assert!(matches!(
            verify(&p, now),
            Err(AuthError::SignatureDoesNotMatch)
        ));
        // Skew.
        let p = get_object_example(GET_OBJECT_AUTH);
        assert!(verify(&p, now + Duration::minutes(14)).unwrap().is_some());
        assert!(verify(&p, now - Duration::minutes(14)).unwrap().is_some());
        assert!(matches!(
            verify(&p, now + Duration::minutes(16)),
            Err(AuthError::RequestTimeTooSkewed)
        ));
        assert!(matches!(
            verify(&p, now - Duration::minutes(16)),
            Err(AuthError::RequestTimeTooSkewed)
        ));
        // Region.
        let e = verify_request(&p, "eu-west-1", &["s3"], now, &keys()).unwrap_err();
        assert_eq!(e.code(), "AuthorizationHeaderMalformed");
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            e.to_string(),
            "The authorization header is malformed; the region 'us-east-1' is wrong; expecting 'eu-west-1'"
        );
        // Service.
        let e = verify_request(&p, REGION, &["cloudnx"], now, &keys()).unwrap_err();
        assert!(
            matches!(e, AuthError::AuthorizationHeaderMalformed(_)),
            "{e:?}"
        );
        // Missing x-amz-content-sha256 for s3.
        let mut p = get_object_example(GET_OBJECT_AUTH);
        p.headers.remove("x-amz-content-sha256");
        let e = verify(&p, now).unwrap_err();
        assert_eq!(
            (e.code(), e.to_string().as_str()),
            ("InvalidRequest", MISSING_CONTENT_SHA256)
        );
        // Invalid x-amz-content-sha256 value.
        let mut p = get_object_example(GET_OBJECT_AUTH);
        p.headers
            .insert("x-amz-content-sha256", "nonsense".parse().unwrap());
        assert!(matches!(
            verify(&p, now),
            Err(AuthError::InvalidArgument(_))
        ));
        // Scope date differs from x-amz-date.
        let p = get_object_example(&GET_OBJECT_AUTH.replace("/20130524/", "/20130525/"));
        assert!(matches!(
            verify(&p, now),
            Err(AuthError::AuthorizationHeaderMalformed(_))
        ));
        // No date at all.
        let mut p = get_object_example(GET_OBJECT_AUTH);
        p.headers.remove("x-amz-date");
        assert!(matches!(verify(&p, now), Err(AuthError::AccessDenied(_))));
        // Malformed headers.
        for bad in [
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host",
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3, SignedHeaders=host, Signature=00",
            "AWS4-HMAC-SHA256 Credential=a/b/c/d/e, SignedHeaders=host, Signature=00",
            "AWS4-HMAC-SHA256 Credential=x, Credential=y, SignedHeaders=host, Signature=00",
            "AWS4-HMAC-SHA256 Foo",
        ] {
            let e = verify(&get_object_example(bad), now).unwrap_err();
            assert_eq!(e.code(), "AuthorizationHeaderMalformed", "{bad}: {e:?}");
        }
        for bad in ["Bearer x", "AWS4-HMAC-SHA256Credential=x"] {
            let e = verify(&get_object_example(bad), now).unwrap_err();
            assert_eq!(e.code(), "InvalidArgument", "{bad}");
        }
        // Signature V2 gets what S3 answers in SigV4-only regions.
        let v2 = "AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=";
        let e = verify(&get_object_example(v2), now).unwrap_err();
        assert_eq!(e.code(), "InvalidRequest");
        // host must be signed.
        let p = get_object_example(&GET_OBJECT_AUTH.replace("host;range", "range"));
        assert!(matches!(
            verify(&p, now),
            Err(AuthError::HeadersNotSigned(h)) if h == ["host"]
        ));
    }

    #[test]
    fn unsigned_amz_headers_are_refused_on_header_signed_requests() {
        let now = example_now();
        for (name, value) in [
            ("x-amz-copy-source", "other/private"),
            ("x-amz-meta-owner", "mallory"),
            ("x-amz-metadata-directive", "REPLACE"),
            ("x-amz-checksum-crc32", "AAAAAA=="),
            ("x-amz-tagging", "a=b"),
        ] {
            let mut p = get_object_example(GET_OBJECT_AUTH);
            p.headers.insert(name, value.parse().unwrap());
            let e = verify(&p, now).unwrap_err();
            assert!(
                matches!(&e, AuthError::HeadersNotSigned(h) if h == &[name.to_owned()]),
                "{name}: {e:?}"
            );
            assert_eq!((e.code(), e.status().as_u16()), ("AccessDenied", 403));
        }
        // Not x-amz-*: S3 lets these through unsigned, and so do we.
        let mut p = get_object_example(GET_OBJECT_AUTH);
        p.headers
            .insert("x-amzn-trace-id", "Root=1".parse().unwrap());
        p.headers.insert("user-agent", "curl".parse().unwrap());
        assert!(verify(&p, now).unwrap().is_some());
    }

    #[test]
    fn unsigned_amz_headers_are_refused_on_presigned_requests() {
        let now = example_now();
        let mut p = presign("PUT", "/b1/x", "", 60);
        p.headers
            .insert("x-amz-copy-source", "b2/private".parse().unwrap());
        p.headers.insert("x-amz-meta-a", "1".parse().unwrap());
        let e = verify(&p, now).unwrap_err();
        assert!(
            matches!(&e, AuthError::HeadersNotSigned(h)
                if h == &["x-amz-copy-source".to_owned(), "x-amz-meta-a".to_owned()]),
            "{e:?}"
        );
        let s3 = crate::s3::error::S3Error::from(e);
        assert!(s3
            .to_xml("/b1/x", "R")
            .contains("<HeadersNotSigned>x-amz-copy-source, x-amz-meta-a</HeadersNotSigned>"));
        // The payload-hash header is the one S3 exempts.
        let mut p = presign("PUT", "/b1/x", "", 60);
        p.headers
            .insert(CONTENT_SHA256, UNSIGNED_PAYLOAD.parse().unwrap());
        assert!(verify(&p, now).unwrap().is_some());
    }

    #[test]
    fn aws_put_object_example_with_date_header() {
        let body_hash = sha256_hex(b"Welcome to Amazon S3.");
        let p = parts(
            "PUT",
            "/test$file.text",
            &[
                ("host", "examplebucket.s3.amazonaws.com"),
                ("date", "Fri, 24 May 2013 00:00:00 GMT"),
                ("x-amz-date", "20130524T000000Z"),
                ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
                ("x-amz-content-sha256", &body_hash),
                ("authorization", "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class,Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"),
            ],
        );
        let v = verify(&p, example_now()).unwrap().unwrap();
        assert!(v
            .payload
            .check_body_sha256(&sha2::Sha256::digest(b"Welcome to Amazon S3.").into())
            .is_ok());
    }

    #[test]
    fn date_header_fallback() {
        // Signed with only a Date header: the string to sign uses its ISO 8601 form.
        let mut p = parts(
            "GET",
            "/b/k",
            &[
                ("host", "localhost"),
                ("date", "Fri, 24 May 2013 00:00:00 GMT"),
                ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
            ],
        );
        let names = vec![
            "date".to_owned(),
            "host".to_owned(),
            "x-amz-content-sha256".to_owned(),
        ];
        let ch = canonical_headers(&p.headers, &names, None).unwrap();
        let cr = canonical_request(
            "GET",
            "/b/k",
            "",
            &ch,
            "date;host;x-amz-content-sha256",
            "UNSIGNED-PAYLOAD",
        );
        let scope = "20130524/us-east-1/s3/aws4_request";
        let key = signing_key(SECRET, "20130524", REGION, "s3");
        let sig = hex::encode(hmac_sha256(
            &key,
            string_to_sign("20130524T000000Z", scope, &cr).as_bytes(),
        ));
        let h = format!("AWS4-HMAC-SHA256 Credential={AK}/{scope}, SignedHeaders=date;host;x-amz-content-sha256, Signature={sig}");
        p.headers.insert("authorization", h.parse().unwrap());
        let v = verify(&p, example_now()).unwrap().unwrap();
        assert_eq!(v.payload, PayloadMode::Unsigned);
        assert!(matches!(
            verify(&p, example_now() + Duration::hours(1)),
            Err(AuthError::RequestTimeTooSkewed)
        ));
        // x-amz-date present takes precedence over Date.
        p.headers
            .insert("x-amz-date", "20130525T000000Z".parse().unwrap());
        assert!(verify(&p, example_now()).is_err());
    }

    #[test]
    fn streaming_seed_signature() {
        // AWS streaming example: the seed signature of the request.
        let p = parts(
            "PUT",
            "/examplebucket/chunkObject.txt",
            &[
                ("host", "s3.amazonaws.com"),
                ("x-amz-date", "20130524T000000Z"),
                ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
                ("x-amz-content-sha256", STREAMING_SIGNED),
                ("content-encoding", "aws-chunked"),
                ("x-amz-decoded-content-length", "66560"),
                ("content-length", "66824"),
                ("authorization", "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"),
            ],
        );
        let v = verify(&p, example_now()).unwrap().unwrap();
        assert_eq!(v.payload, PayloadMode::StreamingSigned { trailer: false });
        assert!(v.payload.is_streaming() && !v.payload.expects_trailer());
        let signer = v.chunk_signer.unwrap();
        assert_eq!(
            signer.seed_signature,
            "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
        );
        // Debug never shows key or signature.
        let dbg = format!("{signer:?}");
        assert!(!dbg.contains("4f232c43") && !dbg.contains("key:"), "{dbg}");
    }

    #[test]
    fn streaming_trailer_seed_signature() {
        let p = parts(
            "PUT",
            "/examplebucket/chunkObject.txt",
            &[
                ("host", "s3.amazonaws.com"),
                ("x-amz-date", "20130524T000000Z"),
                ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
                ("x-amz-content-sha256", STREAMING_SIGNED_TRAILER),
                ("content-encoding", "aws-chunked"),
                ("x-amz-decoded-content-length", "66560"),
                ("x-amz-trailer", "x-amz-checksum-crc32c"),
                ("authorization", "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=content-encoding;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class;x-amz-trailer,Signature=106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e"),
            ],
        );
        let v = verify(&p, example_now()).unwrap().unwrap();
        assert_eq!(v.payload, PayloadMode::StreamingSigned { trailer: true });
        assert!(v.chunk_signer.is_some());
    }

    #[test]
    fn unsigned_trailer_mode() {
        let mut p = parts(
            "PUT",
            "/b/k",
            &[
                ("host", "localhost:9000"),
                ("x-amz-date", "20130524T000000Z"),
                ("x-amz-content-sha256", STREAMING_UNSIGNED_TRAILER),
                ("x-amz-trailer", "x-amz-checksum-crc32"),
            ],
        );
        let signed = "host;x-amz-content-sha256;x-amz-date;x-amz-trailer";
        let h = auth_header(
            &p,
            signed,
            STREAMING_UNSIGNED_TRAILER,
            "/b/k",
            SECRET,
            REGION,
            "s3",
        );
        p.headers.insert("authorization", h.parse().unwrap());
        let v = verify(&p, example_now()).unwrap().unwrap();
        assert_eq!(v.payload, PayloadMode::StreamingUnsignedTrailer);
        assert!(v.payload.expects_trailer() && v.chunk_signer.is_none());
    }

    #[test]
    fn special_keys_and_paths() {
        let now = example_now();
        for key in [
            "my key with spaces",
            "a+b",
            "100%",
            "a=b&c",
            "tilde~x",
            "unicodé/日本語",
            "dir//double",
            "/leading",
            "dots/./../x",
            "*!'()",
        ] {
            // SDK style: bucket + encoded key, canonical URI == path on the wire.
            let path = format!("/bucket/{}", uri_encode(key, false));
            let p = signed_get(&path, "20130524T000000Z", &path);
            assert!(verify(&p, now).unwrap().is_some(), "{key}");
        }
        // A client that sent a literal '+' and '=' in the path and signed it raw.
        let p = signed_get("/bucket/a+b=c", "20130524T000000Z", "/bucket/a+b=c");
        assert!(verify(&p, now).unwrap().is_some());
        // The same wire path signed after normalisation.
        let p = signed_get("/bucket/a+b=c", "20130524T000000Z", "/bucket/a%2Bb%3Dc");
        assert!(verify(&p, now).unwrap().is_some());
        // '+' is not a space.
        let p = signed_get("/bucket/a+b", "20130524T000000Z", "/bucket/a%20b");
        assert!(matches!(
            verify(&p, now),
            Err(AuthError::SignatureDoesNotMatch)
        ));
        // '//' is not collapsed.
        let p = signed_get("/bucket//k", "20130524T000000Z", "/bucket/k");
        assert!(matches!(
            verify(&p, now),
            Err(AuthError::SignatureDoesNotMatch)
        ));
        // Query: spaces, plus, tilde, valueless sub-resources, SDK x-id.
        let q = "/bucket?list-type=2&continuation-token=a%20b%2Bc~&prefix=x+y&x-id=ListObjectsV2&uploads";
        let p = signed_get(q, "20130524T000000Z", "/bucket");
        assert!(verify(&p, now).unwrap().is_some());
    }

    #[test]
    fn http2_authority_without_host() {
        let mut p = parts(
            "GET",
            "https://localhost:9000/bucket/key",
            &[
                ("x-amz-date", "20130524T000000Z"),
                ("x-amz-content-sha256", EMPTY_SHA256_HEX),
            ],
        );
        let h = auth_header(
            &p,
            "host;x-amz-content-sha256;x-amz-date",
            EMPTY_SHA256_HEX,
            "/bucket/key",
            SECRET,
            REGION,
            "s3",
        );
        p.headers.insert("authorization", h.parse().unwrap());
        assert!(!p.headers.contains_key("host"));
        assert!(verify(&p, example_now()).unwrap().is_some());
    }

    #[test]
    fn anonymous_and_mixed() {
        let p = parts("GET", "/bucket/key?versionId=3", &[("host", "x")]);
        assert!(verify(&p, example_now()).unwrap().is_none());
        let p = parts(
            "GET",
            "/bucket/key?X-Amz-Algorithm=AWS4-HMAC-SHA256",
            &[("authorization", GET_OBJECT_AUTH)],
        );
        assert_eq!(
            verify(&p, example_now()).unwrap_err().code(),
            "InvalidArgument"
        );
        let p = parts("GET", "/bucket/key?X-Amz-Signature=00", &[]);
        assert_eq!(
            verify(&p, example_now()).unwrap_err().code(),
            "AuthorizationQueryParametersError"
        );
    }

    const PRESIGNED: &str = "/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";

    fn presigned(uri: &str) -> http::request::Parts {
        parts("GET", uri, &[("host", "examplebucket.s3.amazonaws.com")])
    }

    #[test]
    fn aws_presigned_example() {
        let now = example_now();
        let v = verify(&presigned(PRESIGNED), now + Duration::hours(1))
            .unwrap()
            .unwrap();
        assert!(v.presigned);
        assert_eq!(
            (v.access_key.as_str(), v.payload),
            (AK, PayloadMode::Unsigned)
        );
        // Valid until exactly date + expires.
        assert!(verify(&presigned(PRESIGNED), now + Duration::seconds(86400)).is_ok());
        let e = verify(&presigned(PRESIGNED), now + Duration::seconds(86401)).unwrap_err();
        assert_eq!(
            (e.code(), e.to_string().as_str()),
            ("AccessDenied", "Request has expired")
        );
        assert_eq!(e.status(), StatusCode::FORBIDDEN);
        // Future date within / beyond the skew.
        assert!(verify(&presigned(PRESIGNED), now - Duration::minutes(14)).is_ok());
        assert!(matches!(
            verify(&presigned(PRESIGNED), now - Duration::minutes(16)),
            Err(AuthError::RequestTimeTooSkewed)
        ));
        // Method is signed.
        let mut p = presigned(PRESIGNED);
        p.method = http::Method::PUT;
        assert!(matches!(
            verify(&p, now),
            Err(AuthError::SignatureDoesNotMatch)
        ));
        // Any extra / changed query parameter breaks the signature.
        let p = presigned(&format!("{PRESIGNED}&x-amz-acl=public-read"));
        assert!(matches!(
            verify(&p, now),
            Err(AuthError::SignatureDoesNotMatch)
        ));
        // Wrong region.
        let e = verify_request(&presigned(PRESIGNED), "eu-central-1", &["s3"], now, &keys())
            .unwrap_err();
        assert_eq!(e.code(), "AuthorizationQueryParametersError");
        assert!(e
            .to_string()
            .contains("'us-east-1' is wrong; expecting 'eu-central-1'"));
    }

    #[test]
    fn presigned_parameter_errors() {
        let now = example_now();
        for (from, to) in [
            ("X-Amz-Expires=86400", "X-Amz-Expires=0"),
            ("X-Amz-Expires=86400", "X-Amz-Expires=604801"),
            ("X-Amz-Expires=86400", "X-Amz-Expires=abc"),
            ("X-Amz-Expires=86400", "X-Amz-Expires=-5"),
            (
                "X-Amz-Expires=86400",
                "X-Amz-Expires=99999999999999999999999",
            ),
            ("X-Amz-Expires=86400&", ""),
            (
                "X-Amz-Algorithm=AWS4-HMAC-SHA256",
                "X-Amz-Algorithm=AWS4-HMAC-SHA1",
            ),
            ("X-Amz-Date=20130524T000000Z", "X-Amz-Date=2013-05-24"),
            ("X-Amz-Date=20130524T000000Z", "X-Amz-Date=20130525T000000Z"),
            ("%2Fs3%2F", "%2F"),
            (
                "X-Amz-SignedHeaders=host&",
                "X-Amz-SignedHeaders=host&X-Amz-SignedHeaders=host&",
            ),
        ] {
            let uri = PRESIGNED.replace(from, to);
            assert_ne!(uri, PRESIGNED);
            let e = verify(&presigned(&uri), now).unwrap_err();
            assert_eq!(e.code(), "AuthorizationQueryParametersError", "{to}: {e:?}");
        }
        // Expires at the upper bound is accepted syntactically (signature then fails).
        let uri = PRESIGNED.replace("X-Amz-Expires=86400", "X-Amz-Expires=604800");
        assert!(matches!(
            verify(&presigned(&uri), now),
            Err(AuthError::SignatureDoesNotMatch)
        ));
    }

    /// Presigns `method path?extra` with host signed, like the SDK presigners do.
    fn presign(method: &str, path: &str, extra: &str, expires: u32) -> http::request::Parts {
        let mut q = format!(
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={AK}%2F20130524%2Fus-east-1%2Fs3%2Faws4_request\
             &X-Amz-Date=20130524T000000Z&X-Amz-Expires={expires}&X-Amz-SignedHeaders=host"
        );
        if !extra.is_empty() {
            q = format!("{extra}&{q}");
        }
        let payload = decode_query(&q)
            .into_iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(CONTENT_SHA256))
            .map_or(UNSIGNED_PAYLOAD.to_owned(), |(_, v)| v);
        let p = parts(
            method,
            &format!("{path}?{q}"),
            &[("host", "localhost:9000")],
        );
        let ch = canonical_headers(&p.headers, &["host".to_owned()], None).unwrap();
        let cr = canonical_request(
            method,
            path,
            &sigv4::canonical_query(&q, true),
            &ch,
            "host",
            &payload,
        );
        let key = signing_key(SECRET, "20130524", REGION, "s3");
        let sts = string_to_sign(
            "20130524T000000Z",
            "20130524/us-east-1/s3/aws4_request",
            &cr,
        );
        let sig = hex::encode(hmac_sha256(&key, sts.as_bytes()));
        parts(
            method,
            &format!("{path}?{q}&X-Amz-Signature={sig}"),
            &[("host", "localhost:9000")],
        )
    }

    #[test]
    fn presigned_methods_and_hoisted_params() {
        let now = example_now();
        for method in ["HEAD", "DELETE", "PUT", "GET"] {
            let v = verify(&presign(method, "/b/my%20key", "", 60), now)
                .unwrap()
                .unwrap();
            assert!(v.presigned, "{method}");
        }
        // UploadPart with hoisted checksum and SDK x-id.
        let p = presign(
            "PUT",
            "/b/k",
            "partNumber=1&uploadId=a%2Bb&x-amz-checksum-crc32=AAAAAA%3D%3D&x-id=UploadPart",
            60,
        );
        assert!(verify(&p, now).unwrap().is_some());
        // x-amz-content-sha256 in the query: the body must match it.
        let empty = sha256_hex(b"");
        let p = presign("PUT", "/b/k", &format!("X-Amz-Content-Sha256={empty}"), 60);
        let v = verify(&p, now).unwrap().unwrap();
        assert!(matches!(
            v.payload
                .check_body_sha256(&sha2::Sha256::digest(b"not empty").into()),
            Err(AuthError::XAmzContentSHA256Mismatch)
        ));
        // Expiry with a short lifetime.
        let p = presign("GET", "/b/k", "", 1);
        assert!(verify(&p, now + Duration::seconds(1)).is_ok());
        assert!(matches!(
            verify(&p, now + Duration::seconds(2)),
            Err(AuthError::AccessDenied(_))
        ));
    }

    #[test]
    fn deferred_body_hash_for_other_services() {
        // curl --aws-sigv4 "aws:amz:us-east-1:cloudnx": signs the body hash, does not send it.
        let body = br#"{"name":"bucket-1"}"#;
        let mut p = parts(
            "POST",
            "/admin/buckets",
            &[
                ("host", "localhost:9001"),
                ("x-amz-date", "20130524T000000Z"),
                ("content-type", "application/json"),
            ],
        );
        let signed = "content-type;host;x-amz-date";
        let h = auth_header(
            &p,
            signed,
            &sha256_hex(body),
            "/admin/buckets",
            SECRET,
            REGION,
            "cloudnx",
        );
        p.headers.insert("authorization", h.parse().unwrap());
        let services = ["cloudnx"];
        let now = example_now();
        let e = verify_request(&p, REGION, &services, now, &keys()).unwrap_err();
        assert_eq!(e.code(), "InvalidRequest");
        let Verification::NeedsBodyHash(pending) =
            verify_request_or_defer(&p, REGION, &services, now, &keys()).unwrap()
        else {
            panic!("expected NeedsBodyHash");
        };
        assert_eq!(pending.claimed_access_key(), AK);
        assert!(!format!("{pending:?}").contains("Signature"));
        let good: [u8; 32] = sha2::Sha256::digest(body).into();
        let v = verify_with_body_hash(&pending, &good).unwrap();
        assert_eq!(
            (v.access_key.as_str(), v.payload, v.presigned),
            (AK, PayloadMode::Sha256(good), false)
        );
        let bad: [u8; 32] = sha2::Sha256::digest(b"{}").into();
        assert!(matches!(
            verify_with_body_hash(&pending, &bad),
            Err(AuthError::SignatureDoesNotMatch)
        ));
        // With s3 in the list the same request is rejected (header required for s3 scope only).
        let e = verify_request_or_defer(&p, REGION, &["s3"], now, &keys()).unwrap_err();
        assert_eq!(e.code(), "AuthorizationHeaderMalformed");
        // Unknown key / bad region are reported before any body is read.
        let e =
            verify_request_or_defer(&p, REGION, &services, now, &Keys(HashMap::new())).unwrap_err();
        assert_eq!(e.code(), "InvalidAccessKeyId");
    }

    #[test]
    fn error_codes_and_statuses() {
        let all = [
            (
                AuthError::SignatureDoesNotMatch,
                "SignatureDoesNotMatch",
                403,
            ),
            (AuthError::InvalidAccessKeyId, "InvalidAccessKeyId", 403),
            (AuthError::RequestTimeTooSkewed, "RequestTimeTooSkewed", 403),
            (
                AuthError::AuthorizationHeaderMalformed(String::new()),
                "AuthorizationHeaderMalformed",
                400,
            ),
            (
                AuthError::AuthorizationQueryParametersError(String::new()),
                "AuthorizationQueryParametersError",
                400,
            ),
            (AuthError::AccessDenied(String::new()), "AccessDenied", 403),
            (
                AuthError::InvalidRequest(String::new()),
                "InvalidRequest",
                400,
            ),
            (
                AuthError::XAmzContentSHA256Mismatch,
                "XAmzContentSHA256Mismatch",
                400,
            ),
            (
                AuthError::IncompleteBody(String::new()),
                "IncompleteBody",
                400,
            ),
            (
                AuthError::InvalidArgument(String::new()),
                "InvalidArgument",
                400,
            ),
        ];
        for (e, code, status) in all {
            assert_eq!((e.code(), e.status().as_u16()), (code, status));
        }
    }
}
