//! The JSON management surface under `/storage/`: authentication (SigV4 with service
//! `cloudnx` or `s3`), routing, and one handler module per resource. Shapes follow the
//! platform seed: resources as JSON, lists as `{"buckets": […], "next_cursor": …}`, errors as
//! `{"error": "…"}`.

pub mod buckets;
pub mod error;

use std::sync::Arc;

use bytes::Bytes;
use http::{Method, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use sha2::Digest as _;

use self::error::{ApiError, ApiResult};
use crate::auth::{self, PayloadMode, Verification};
use crate::server::body::Response;
use crate::server::AppState;

/// Management requests carry small JSON documents.
const MAX_BODY: usize = 1 << 20;

/// An authenticated management request.
pub struct ApiCtx {
    pub state: Arc<AppState>,
    pub parts: http::request::Parts,
    pub body: Bytes,
    /// The account acting.
    pub account: String,
}

impl ApiCtx {
    pub fn query(&self, name: &str) -> Option<String> {
        crate::s3::endpoint::Query::parse(self.parts.uri.query())
            .get(name)
            .map(str::to_owned)
    }

    /// The body as a JSON document of type `T`.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> ApiResult<T> {
        serde_json::from_slice(&self.body)
            .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))
    }
}

pub async fn handle(
    state: Arc<AppState>,
    req: http::Request<Incoming>,
    request_id: &str,
) -> (Response, Option<&'static str>) {
    let (parts, body) = req.into_parts();
    let mut op = None;
    let resp = match run(state, parts, body, &mut op).await {
        Ok(r) => r,
        Err(e) => e.into_response(request_id),
    };
    (resp, op)
}

async fn read_body(body: Incoming) -> ApiResult<Bytes> {
    let limited = http_body_util::Limited::new(body, MAX_BODY);
    limited.collect().await.map(|c| c.to_bytes()).map_err(|e| {
        ApiError::bad_request(format!(
            "could not read the request body (at most 1 MiB): {e}"
        ))
    })
}

async fn authenticate(
    state: &AppState,
    parts: &http::request::Parts,
    body: &Bytes,
) -> ApiResult<String> {
    let now = time::OffsetDateTime::now_utc();
    let unauthorized = |e: auth::AuthError| ApiError::unauthorized(e.to_string());
    let verified = match auth::verify_request_or_defer(
        parts,
        &state.cfg.region,
        &["cloudnx", "s3"],
        now,
        state.keys.as_ref(),
    )
    .map_err(unauthorized)?
    {
        Verification::Anonymous => {
            return Err(ApiError::unauthorized(
                "missing credentials: sign the request with SigV4 (service `cloudnx`)",
            ))
        }
        Verification::NeedsBodyHash(pending) => {
            let hash: [u8; 32] = sha2::Sha256::digest(body).into();
            auth::verify_with_body_hash(&pending, &hash).map_err(unauthorized)?
        }
        Verification::Verified(v) => v,
    };
    match verified.payload {
        PayloadMode::Sha256(want) => {
            let got: [u8; 32] = sha2::Sha256::digest(body).into();
            if got != want {
                return Err(ApiError::bad_request(
                    "the body does not match its signed x-amz-content-sha256",
                ));
            }
        }
        PayloadMode::Unsigned => {}
        PayloadMode::StreamingSigned { .. } | PayloadMode::StreamingUnsignedTrailer => {
            return Err(ApiError::bad_request(
                "aws-chunked bodies are not accepted by the management API",
            ))
        }
    }
    state
        .keys
        .account_of(&verified.access_key)
        .ok_or_else(|| ApiError::unauthorized("unknown access key"))
}

async fn run(
    state: Arc<AppState>,
    parts: http::request::Parts,
    body: Incoming,
    op: &mut Option<&'static str>,
) -> ApiResult<Response> {
    let body = read_body(body).await?;
    let account = authenticate(&state, &parts, &body).await?;
    let path = parts.uri.path().to_owned();
    let segments: Vec<&str> = path
        .trim_start_matches("/storage/")
        .trim_end_matches('/')
        .split('/')
        .collect();
    let method = parts.method.clone();
    let ctx = ApiCtx {
        state,
        parts,
        body,
        account,
    };
    let decode = |s: &str| {
        crate::server::router::decode_path(s)
            .map_err(|_| ApiError::bad_request("the path is not valid percent-encoded UTF-8"))
    };
    let (name, result) = match (&method, segments.as_slice()) {
        (&Method::GET, ["buckets"]) => ("ListBuckets", buckets::list(&ctx).await),
        (&Method::POST, ["buckets"]) => ("CreateBucket", buckets::create(&ctx).await),
        (&Method::GET, ["buckets", b]) => ("GetBucket", buckets::get(&ctx, &decode(b)?).await),
        (&Method::PATCH, ["buckets", b]) => {
            ("PatchBucket", buckets::patch(&ctx, &decode(b)?).await)
        }
        (&Method::DELETE, ["buckets", b]) => {
            ("DeleteBucket", buckets::delete(&ctx, &decode(b)?).await)
        }
        (_, ["buckets"] | ["buckets", _]) => {
            return Err(ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                format!("{method} is not allowed on {path}"),
            ))
        }
        (_, ["buckets", _, "keys" | "presign", ..] | ["access-keys", ..]) => {
            return Err(ApiError::new(
                StatusCode::NOT_IMPLEMENTED,
                format!("{method} {path} is not available in this version yet"),
            ))
        }
        _ => {
            return Err(ApiError::not_found(format!(
                "no management route {method} {path}"
            )))
        }
    };
    *op = Some(name);
    result
}
