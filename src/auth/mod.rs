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
mod context;
mod header;
mod parse;
mod post_policy;
mod presigned;
mod sigv2;
pub mod sigv4;
#[cfg(test)]
mod tests;

use std::fmt;

use time::{Duration, OffsetDateTime};

use context::{check_all_signed, SigContext};
use header::verify_header_auth;
use parse::{
    header_malformed, parse_authorization, parse_credential, parse_signed_headers, request_time,
    scope_problem, Credential, QUERY_PARAMS_REQUIRED,
};
pub use post_policy::{verify_post_signature, PostFields};
use presigned::verify_presigned;
pub use sigv2::V2Resource;
use sigv4::{
    canonical_headers, canonical_query_candidates, canonical_request, canonical_uri_candidates,
    decode_query, format_amz_date, hmac_sha256, parse_amz_date, signature_matches, signing_key,
    string_to_sign, ALGORITHM,
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

/// Authentication failures; `Display` gives the S3 message. `s3/error.rs` maps each to its S3
/// code and status (the one table).
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
    /// Signed with Signature V2 (for access logs: S3 reports the signature version).
    pub sigv2: bool,
}

impl Verified {
    /// An unsigned request, to be served as the anonymous caller. Its body is checked only
    /// against a SHA-256 it declares itself; a request that carries part of a signature
    /// (a V2 `Signature` without its key, a chunk-signed body) is refused rather than served
    /// as anonymous.
    pub fn anonymous(parts: &http::request::Parts) -> Result<Verified, AuthError> {
        let params = decode_query(parts.uri.query().unwrap_or(""));
        if params
            .iter()
            .any(|(k, _)| k == "AWSAccessKeyId" || k == "Signature")
        {
            return Err(AuthError::AccessDenied(
                "Query-string authentication requires the Signature, Expires and \
                 AWSAccessKeyId parameters"
                    .to_owned(),
            ));
        }
        let payload = match parts.headers.get("x-amz-content-sha256") {
            None => PayloadMode::Unsigned,
            Some(v) => PayloadMode::parse(v.to_str().map_err(|_| invalid_content_sha256())?)?,
        };
        if matches!(payload, PayloadMode::StreamingSigned { .. }) {
            return Err(AuthError::AccessDenied(
                "A chunk-signed body needs a signed request".to_owned(),
            ));
        }
        Ok(Verified {
            access_key: String::new(),
            payload,
            chunk_signer: None,
            presigned: false,
            sigv2: false,
        })
    }
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
    // Signature V2 is refused here as S3 refuses it in SigV4-only regions; the S3 surface
    // accepts it through [`verify_s3_request`] when configured to.
    if sigv2::form(auth_header, &params, has_query_auth).is_some() {
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

/// Verifies a request to the S3 surface: SigV4 as [`verify_request`] does, and Signature V2
/// (header or presigned query) when `sigv2` is given, i.e. the server is configured to accept
/// it. `Ok(None)` = anonymous.
pub fn verify_s3_request(
    parts: &http::request::Parts,
    region: &str,
    now: OffsetDateTime,
    lookup: &dyn SecretLookup,
    sigv2: Option<V2Resource<'_>>,
) -> Result<Option<Verified>, AuthError> {
    if let Some(resource) = sigv2 {
        let params = decode_query(parts.uri.query().unwrap_or(""));
        let has_v4_query = params.iter().any(|(k, _)| k == "X-Amz-Algorithm");
        let mut headers = parts.headers.get_all(http::header::AUTHORIZATION).iter();
        let (first, second) = (headers.next(), headers.next());
        // A second Authorization header is refused by the SigV4 path below.
        if second.is_none() {
            match sigv2::form(first, &params, has_v4_query) {
                Some(sigv2::V2Form::Header) if has_v4_query => {
                    return Err(AuthError::InvalidArgument(
                        "Only one auth mechanism allowed; only the X-Amz-Algorithm query \
                         parameter, Signature query string parameter or the Authorization \
                         header should be specified"
                            .to_owned(),
                    ))
                }
                Some(form) => {
                    return sigv2::verify(form, parts, &params, resource, now, lookup).map(Some)
                }
                None => {}
            }
        }
    }
    verify_request(parts, region, &["s3"], now, lookup)
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
        sigv2: false,
    })
}

fn invalid_content_sha256() -> AuthError {
    AuthError::InvalidArgument(format!(
        "x-amz-content-sha256 must be {UNSIGNED_PAYLOAD}, {STREAMING_SIGNED}, \
         {STREAMING_SIGNED_TRAILER}, {STREAMING_UNSIGNED_TRAILER}, or a valid sha256 value."
    ))
}
