//! `POST /storage/buckets/{name}/presign`: a SigV4 presigned URL for one object operation,
//! signed by aws-sigv4 with a key that may do that operation on that bucket, so the URL stops
//! working when the key is revoked or expires.

use std::time::{Duration, SystemTime};

use http::StatusCode;
use serde::Deserialize;

use super::buckets::owned;
use super::error::{ApiError, ApiResult};
use super::reply::Reply;
use super::ApiCtx;
use crate::access::signer::{self, Signing};
use crate::access::{Permission, Principal};
use crate::clock::rfc3339;
use crate::meta::{BucketRecord, KeyPermission, KeyRecord, KeyScope};

/// S3's limit for presigned URLs: 7 days.
const MAX_EXPIRES: u64 = 604_800;
const DEFAULT_EXPIRES: u64 = 3600;
/// The bucket keys that sign when the caller names none: the narrowest key that can do the
/// method, so a URL (or a flaw in how one is checked) never reaches past its bucket.
const PRESIGN_READ_KEY: &str = "presign-read";
const PRESIGN_WRITE_KEY: &str = "presign-read-write";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PresignRequest {
    key: String,
    method: String,
    #[serde(default)]
    expires_in: Option<u64>,
    #[serde(default)]
    content_type: Option<String>,
    /// Sign with this key (one of the caller's, or a key of this bucket).
    #[serde(default)]
    access_key_id: Option<String>,
}

/// The key that signs: the one asked for (the caller's own, a key of this bucket, or a key
/// of the caller's account), else the bucket's managed `presign-read` / `presign-read-write`
/// key, minted on first use.
async fn signing_key(
    ctx: &ApiCtx,
    bucket: &BucketRecord,
    asked: Option<String>,
    need: Permission,
) -> ApiResult<String> {
    let Some(id) = asked else {
        return bucket_presign_key(ctx, bucket, need).await;
    };
    if ctx.caller.access_key_id.as_deref() == Some(id.as_str()) {
        return Ok(id);
    }
    let lookup = id.clone();
    let rec = ctx
        .state
        .keys
        .blocking(move |k| k.get_blocking(&lookup))
        .await?;
    let usable = match rec.as_ref().map(|r| &r.scope) {
        Some(KeyScope::Bucket {
            bucket_id,
            permission,
            ..
        }) if *bucket_id == bucket.id => {
            if need == Permission::Write && *permission == KeyPermission::Read {
                return Err(ApiError::forbidden(format!(
                    "access key `{id}` may only read this bucket"
                )));
            }
            true
        }
        Some(KeyScope::Account { account }) => {
            *account == ctx.account()
                || (ctx.caller.principal == Principal::Root
                    && account == crate::access::ROOT_ACCOUNT)
        }
        _ => false,
    };
    if usable {
        Ok(id)
    } else {
        Err(ApiError::not_found(format!(
            "no access key `{id}` that can sign for bucket `{}`",
            bucket.name
        )))
    }
}

async fn bucket_presign_key(
    ctx: &ApiCtx,
    bucket: &BucketRecord,
    need: Permission,
) -> ApiResult<String> {
    let (permission, name) = if need == Permission::Read {
        (KeyPermission::Read, PRESIGN_READ_KEY)
    } else {
        (KeyPermission::ReadWrite, PRESIGN_WRITE_KEY)
    };
    let scope = KeyScope::Bucket {
        bucket_id: bucket.id,
        bucket: bucket.name.clone(),
        account: bucket.owner.clone(),
        permission,
    };
    let id = ctx
        .state
        .keys
        .blocking(move |k| {
            let same = |r: &KeyRecord| {
                r.name.as_deref() == Some(name) && r.expires_at_ms.is_none() && r.scope == scope
            };
            k.find_or_create_blocking(scope.clone(), name, &same)
                .map(|r| r.access_key_id)
        })
        .await?;
    Ok(id)
}

/// The port of a `Host` header value (`name:port`, `[v6]:port`), if it has one.
fn host_port(host: &str) -> Option<&str> {
    let (_, port) = host.rsplit_once(':')?;
    (!port.is_empty() && !port.contains(']') && port.bytes().all(|b| b.is_ascii_digit()))
        .then_some(port)
}

/// `scheme://host` the URL points at: the host the caller reached us by, or the bucket's
/// virtual host under `s3.domain`.
fn base_url(ctx: &ApiCtx, bucket: &str) -> (String, bool) {
    let scheme = if ctx.state.cfg.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let host = ctx
        .parts
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| ctx.parts.uri.authority().map(|a| a.to_string()))
        .unwrap_or_else(|| ctx.state.cfg.listen.to_string());
    if let Some(domain) = &ctx.state.cfg.s3_domain {
        // A dotted bucket name cannot match a TLS wildcard certificate: path style then.
        if !(scheme == "https" && bucket.contains('.')) {
            let port = host_port(&host)
                .map(|p| format!(":{p}"))
                .unwrap_or_default();
            return (format!("{scheme}://{bucket}.{domain}{port}"), true);
        }
    }
    (format!("{scheme}://{host}"), false)
}

/// A presign request, checked.
struct Checked {
    method: String,
    need: Permission,
    expires_in: u64,
    content_type: Option<String>,
}

fn check(req: &PresignRequest) -> ApiResult<Checked> {
    let method = req.method.to_ascii_uppercase();
    let need = match method.as_str() {
        "GET" | "HEAD" => Permission::Read,
        "PUT" | "DELETE" => Permission::Write,
        _ => {
            return Err(ApiError::bad_request(format!(
                "method `{}` is not one of GET, PUT, HEAD, DELETE",
                req.method
            )))
        }
    };
    if req.key.is_empty() || req.key.len() > crate::store::naming::MAX_KEY_LEN {
        return Err(ApiError::bad_request(format!(
            "key must be 1 to {} bytes",
            crate::store::naming::MAX_KEY_LEN
        )));
    }
    let expires_in = req.expires_in.unwrap_or(DEFAULT_EXPIRES);
    if !(1..=MAX_EXPIRES).contains(&expires_in) {
        return Err(ApiError::bad_request(format!(
            "expires_in must be from 1 to {MAX_EXPIRES} seconds (7 days)"
        )));
    }
    let content_type = match (&req.content_type, method.as_str()) {
        (Some(ct), "PUT") if http::HeaderValue::from_str(ct).is_err() => {
            return Err(ApiError::bad_request(
                "content_type is not a valid header value",
            ))
        }
        (Some(ct), "PUT") => Some(ct.clone()),
        (Some(_), _) => {
            return Err(ApiError::bad_request(
                "content_type applies to PUT URLs only",
            ))
        }
        (None, _) => None,
    };
    Ok(Checked {
        method,
        need,
        expires_in,
        content_type,
    })
}

pub async fn presign(ctx: &ApiCtx, bucket_name: &str) -> ApiResult<Reply> {
    let bucket = owned(ctx, bucket_name).await?;
    let req: PresignRequest = ctx.json()?;
    let c = check(&req)?;
    let key_id = signing_key(ctx, &bucket, req.access_key_id, c.need).await?;
    let lookup = key_id.clone();
    let secret = ctx
        .state
        .keys
        .blocking(move |k| Ok(k.secret(&lookup)))
        .await?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::CONFLICT,
                format!("access key `{key_id}` is revoked or expired"),
            )
        })?;
    let (base, virtual_host) = base_url(ctx, &bucket.name);
    let path = signer::encode_key_path(&req.key);
    let url = if virtual_host {
        format!("{base}/{path}")
    } else {
        format!("{base}/{}/{path}", bucket.name)
    };
    let headers: Vec<(&str, &str)> = c
        .content_type
        .as_deref()
        .map(|ct| ("content-type", ct))
        .into_iter()
        .collect();
    let signed = signer::presign(
        &Signing {
            access_key: &key_id,
            secret: &secret,
            region: &ctx.state.cfg.region,
            service: "s3",
            time: SystemTime::now(),
        },
        &c.method,
        &url,
        &headers,
        Duration::from_secs(c.expires_in),
    )
    .map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("signing failed: {e}"),
        )
    })?;
    let expires_at = crate::clock::now_ms() + i64::try_from(c.expires_in).unwrap_or(0) * 1000;
    let header_map: serde_json::Map<String, serde_json::Value> = headers
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).into()))
        .collect();
    Ok(Reply::json(
        StatusCode::OK,
        serde_json::json!({
            "url": signed,
            "method": c.method,
            "expires_at": rfc3339(expires_at),
            "headers": header_map,
            "access_key_id": key_id,
        }),
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn host_ports() {
        assert_eq!(super::host_port("localhost:9000"), Some("9000"));
        assert_eq!(super::host_port("[::1]:9000"), Some("9000"));
        assert_eq!(super::host_port("[::1]"), None);
        assert_eq!(super::host_port("s3.example.com"), None);
    }
}
