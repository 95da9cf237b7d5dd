//! The JSON management surface under `/storage/`: authentication (SigV4 with service
//! `cloudnx` or `s3`), routing, and one handler module per resource. Shapes follow the
//! platform seed: resources as JSON, lists as `{"buckets": […], "next_cursor": …}`, errors as
//! `{"error": "…"}`.

pub mod access;
pub mod buckets;
pub mod error;
pub mod idempotency;
pub mod keys;
pub mod kms;
pub mod lifecycle;
pub mod presign;
pub mod reply;
pub mod whoami;

use std::sync::Arc;

use crate::web::body::RequestBody;
use bytes::Bytes;
use http::{Method, StatusCode};
use http_body_util::BodyExt;
use sha2::Digest as _;

use self::error::{ApiError, ApiResult};
use self::reply::Reply;
use crate::access::{Caller, Principal};
use crate::auth::{self, PayloadMode, Verification};
use crate::web::body::Response;
use crate::web::{AppState, Handled};

/// Management requests carry small JSON documents.
const MAX_BODY: usize = 1 << 20;

/// An authenticated management request.
pub struct ApiCtx {
    pub state: Arc<AppState>,
    pub parts: http::request::Parts,
    pub body: Bytes,
    pub caller: Caller,
}

impl ApiCtx {
    /// The account acting; owns what it creates.
    pub fn account(&self) -> &str {
        self.caller.principal.account()
    }

    pub fn query(&self, name: &str) -> Option<String> {
        crate::web::query::Query::parse(self.parts.uri.query())
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
    req: http::Request<RequestBody>,
    request_id: &str,
) -> (Response, Handled) {
    let (parts, body) = req.into_parts();
    let mut done = Handled::default();
    let resp = match run(state, parts, body, &mut done).await {
        Ok(r) => r,
        Err(e) => e.into_response(request_id),
    };
    (resp, done)
}

async fn read_body(body: RequestBody) -> ApiResult<Bytes> {
    let limited = http_body_util::Limited::new(body, MAX_BODY);
    limited.collect().await.map(|c| c.to_bytes()).map_err(|e| {
        ApiError::bad_request(format!(
            "could not read the request body (at most 1 MiB): {e}"
        ))
    })
}

fn bearer_token(parts: &http::request::Parts) -> Option<&str> {
    let v = parts
        .headers
        .get(http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// What can be known of the caller before the body is read.
enum PreAuth {
    Bearer(Caller),
    /// Signature checked; the body must still match a signed SHA-256, if one was signed.
    Signed(auth::Verified),
    /// Signature covers the body's hash, which is not sent: checked once the body is read.
    NeedsBody(auth::Pending),
}

fn unauthorized(e: auth::AuthError) -> ApiError {
    ApiError::unauthorized(e.to_string())
}

/// Everything that can be checked from the head alone, so that a request that cannot
/// authenticate is refused before its body is read.
fn pre_authenticate(state: &AppState, parts: &http::request::Parts) -> ApiResult<PreAuth> {
    if let Some(token) = bearer_token(parts) {
        let verifier = state.jwt.as_ref().ok_or_else(|| {
            ApiError::unauthorized(crate::access::jwt::JwtError::NotConfigured.to_string())
        })?;
        let account = verifier
            .verify(token)
            .map_err(|e| ApiError::unauthorized(e.to_string()))?;
        return Ok(PreAuth::Bearer(Caller {
            principal: Principal::Account(account),
            access_key_id: None,
        }));
    }
    let now = time::OffsetDateTime::now_utc();
    match auth::verify_request_or_defer(
        parts,
        &state.cfg.region,
        &["cloudnx", "s3"],
        now,
        state.keys.as_ref(),
    )
    .map_err(unauthorized)?
    {
        Verification::Anonymous => Err(ApiError::unauthorized(
            "missing credentials: sign the request with SigV4 (service `cloudnx`) or send a Bearer token",
        )),
        Verification::NeedsBodyHash(pending) => {
            // The key exists (its secret was found): only its signature is still unknown.
            Ok(PreAuth::NeedsBody(pending))
        }
        Verification::Verified(v) => Ok(PreAuth::Signed(v)),
    }
}

fn authenticate(
    state: &AppState,
    parts: &http::request::Parts,
    pre: PreAuth,
    body: &Bytes,
) -> ApiResult<Caller> {
    let verified = match pre {
        PreAuth::Bearer(caller) => return Ok(caller),
        PreAuth::NeedsBody(pending) => {
            let hash: [u8; 32] = sha2::Sha256::digest(body).into();
            auth::verify_with_body_hash(&pending, &hash).map_err(unauthorized)?
        }
        PreAuth::Signed(v) => v,
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
    let caller = state
        .keys
        .caller(&verified.access_key)
        .ok_or_else(|| ApiError::unauthorized("unknown, revoked or expired access key"))?;
    // Whoami alone, so the console learns what a bucket key may do before showing a button.
    if matches!(caller.principal, Principal::BucketKey(_)) && !whoami::is_whoami(parts) {
        return Err(ApiError::forbidden(
            "a bucket access key acts on its bucket through the S3 surface only, never on /storage/",
        ));
    }
    Ok(caller)
}

async fn run(
    state: Arc<AppState>,
    parts: http::request::Parts,
    body: RequestBody,
    done: &mut Handled,
) -> ApiResult<Response> {
    let ip = crate::web::client_ip(&parts);
    let count_failure = |e: ApiError| throttle_failure(&state, ip, e);
    let pre = pre_authenticate(&state, &parts).map_err(count_failure)?;
    // The key is in the log line even when what it asks is refused (a bucket key on a
    // management route, a body that does not match its signature).
    done.key_id = match &pre {
        PreAuth::Signed(v) => Some(v.access_key.clone()),
        PreAuth::NeedsBody(p) => Some(p.claimed_access_key().to_owned()),
        PreAuth::Bearer(_) => None,
    };
    // Only a request that may be genuine gets its body read (and at most MAX_BODY of it).
    let body = read_body(body).await?;
    let caller = authenticate(&state, &parts, pre, &body).map_err(count_failure)?;
    done.key_id = caller.access_key_id.clone();
    rate_limit(&state, &caller)?;
    let mutating = matches!(
        parts.method,
        Method::POST | Method::PATCH | Method::DELETE | Method::PUT
    );
    let idempotency_key = parts
        .headers
        .get("idempotency-key")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .filter(|_| mutating);
    let ctx = ApiCtx {
        state,
        parts,
        body,
        caller,
    };
    let claim = match &idempotency_key {
        None => None,
        Some(k) => match claim_or_replay(&ctx, k).await? {
            Ok(claim) => Some(claim),
            Err(replay) => {
                done.op = Some("IdempotentReplay");
                return Ok(replay);
            }
        },
    };
    let result = route(&ctx, &mut done.op).await;
    if let Some(claim) = claim {
        claim.finish(&result).await?;
    }
    result.map(Reply::into_response)
}

/// A failed authentication counts against the client's address; an address that keeps
/// failing learns nothing more (429), while its good requests still go through.
fn throttle_failure(state: &AppState, ip: Option<std::net::IpAddr>, e: ApiError) -> ApiError {
    if e.status != StatusCode::UNAUTHORIZED {
        return e;
    }
    match state.auth_throttled(ip) {
        Some(wait) => {
            let secs = crate::access::ratelimit::retry_after_secs(wait);
            let mut e = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!("too many failed authentications from your address; retry after {secs} s"),
            );
            e.retry_after = Some(secs);
            e
        }
        None => {
            state.auth_failed(ip);
            e
        }
    }
}

/// The seed's soft limit per principal.
fn rate_limit(state: &AppState, caller: &Caller) -> ApiResult<()> {
    if let Some(limit) = &state.api_limit {
        if let Err(wait) = limit.check(&caller.rate_key()) {
            let secs = crate::access::ratelimit::retry_after_secs(wait);
            let mut e = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!("rate limit exceeded; retry after {secs} s"),
            );
            e.retry_after = Some(secs);
            return Err(e);
        }
    }
    Ok(())
}

/// Claims `key` for this request, or (`Err`) the reply kept for the same request before.
async fn claim_or_replay(
    ctx: &ApiCtx,
    key: &str,
) -> ApiResult<Result<idempotency::Claim, Response>> {
    let target = ctx
        .parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let request: [&[u8]; 3] = [
        ctx.parts.method.as_str().as_bytes(),
        target.as_bytes(),
        &ctx.body,
    ];
    Ok(
        match idempotency::begin(&ctx.state, &ctx.caller.rate_key(), key, &request).await? {
            idempotency::Outcome::Replay(reply) => {
                let mut r = reply.into_response();
                r.headers_mut().insert(
                    "idempotent-replayed",
                    http::HeaderValue::from_static("true"),
                );
                Err(r)
            }
            idempotency::Outcome::Run(claim) => Ok(claim),
        },
    )
}

async fn route(ctx: &ApiCtx, op: &mut Option<&'static str>) -> ApiResult<Reply> {
    let path = ctx.parts.uri.path().to_owned();
    let segments: Vec<&str> = path
        .trim_start_matches("/storage/")
        .trim_end_matches('/')
        .split('/')
        .collect();
    let method = ctx.parts.method.clone();
    let decode = |s: &str| {
        crate::web::target::decode_path(s)
            .map_err(|_| ApiError::bad_request("the path is not valid percent-encoded UTF-8"))
    };
    let not_allowed = |allow: &'static str| {
        let mut e = ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("{method} is not allowed on {path}; use {allow}"),
        );
        e.allow = Some(allow);
        Err(e)
    };
    let (name, result) = match (&method, segments.as_slice()) {
        (&Method::GET, ["whoami"]) => ("WhoAmI", Ok(whoami::whoami(ctx))),
        (_, ["whoami"]) => return not_allowed("GET"),
        (&Method::GET, ["buckets"]) => ("ListBuckets", buckets::list(ctx).await),
        (&Method::POST, ["buckets"]) => ("CreateBucket", buckets::create(ctx).await),
        (&Method::GET, ["buckets", b]) => ("GetBucket", buckets::get(ctx, &decode(b)?).await),
        (&Method::PATCH, ["buckets", b]) => ("PatchBucket", buckets::patch(ctx, &decode(b)?).await),
        (&Method::DELETE, ["buckets", b]) => {
            ("DeleteBucket", buckets::delete(ctx, &decode(b)?).await)
        }
        (&Method::POST, ["buckets", b, "keys"]) => (
            "CreateBucketKey",
            keys::create_bucket_key(ctx, &decode(b)?).await,
        ),
        (&Method::GET, ["buckets", b, "keys"]) => (
            "ListBucketKeys",
            keys::list_bucket_keys(ctx, &decode(b)?).await,
        ),
        (&Method::DELETE, ["buckets", b, "keys", id]) => (
            "RevokeBucketKey",
            keys::revoke_bucket_key(ctx, &decode(b)?, &decode(id)?).await,
        ),
        (&Method::POST, ["buckets", b, "presign"]) => {
            ("Presign", presign::presign(ctx, &decode(b)?).await)
        }
        (&Method::POST, ["access-keys"]) => {
            ("CreateAccessKey", keys::create_account_key(ctx).await)
        }
        (&Method::GET, ["access-keys"]) => ("ListAccessKeys", keys::list_account_keys(ctx).await),
        (&Method::DELETE, ["access-keys", id]) => (
            "RevokeAccessKey",
            keys::revoke_account_key(ctx, &decode(id)?).await,
        ),
        (&Method::GET, ["kms", "keys"]) => ("ListKmsKeys", kms::list(ctx).await),
        (&Method::POST, ["kms", "keys"]) => ("CreateKmsKey", kms::create(ctx).await),
        (&Method::GET, ["kms", "keys", id]) => ("GetKmsKey", kms::get(ctx, &decode(id)?).await),
        (&Method::PATCH, ["kms", "keys", id]) => {
            ("PatchKmsKey", kms::patch(ctx, &decode(id)?).await)
        }
        (_, ["kms", "keys"]) => return not_allowed("GET, POST"),
        (_, ["kms", "keys", _]) => return not_allowed("GET, PATCH"),
        (_, ["buckets"] | ["buckets", _, "keys"] | ["access-keys"]) => {
            return not_allowed("GET, POST")
        }
        (_, ["buckets", _]) => return not_allowed("GET, PATCH, DELETE"),
        (_, ["buckets", _, "presign"]) => return not_allowed("POST"),
        (_, ["buckets", _, "keys", _] | ["access-keys", _]) => return not_allowed("DELETE"),
        _ => {
            return Err(ApiError::not_found(format!(
                "no management route {method} {path}"
            )))
        }
    };
    *op = Some(name);
    result
}
