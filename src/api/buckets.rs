//! `/storage/buckets`: the caller's buckets as JSON. These are the same buckets the S3
//! surface serves.

use base64::Engine as _;
use http::StatusCode;
use serde::Deserialize;

use super::error::{json_response, ApiError, ApiResult};
use super::ApiCtx;
use crate::meta::{BucketRecord, ListEntry, UploadEntry};
use crate::server::body::Response;

const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;

fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

async fn view(ctx: &ApiCtx, b: &BucketRecord) -> ApiResult<serde_json::Value> {
    let usage = ctx.state.store.usage(b).await?;
    Ok(serde_json::json!({
        "id": hex::encode(b.id.0),
        "name": b.name,
        "region": b.region,
        "created_at": rfc3339(b.created_at_ms),
        "size_bytes": usage.bytes.max(0),
        "object_count": usage.objects.max(0),
        "versioning": "disabled",
    }))
}

/// The caller's bucket; another account's bucket is reported as missing (404), not 403.
async fn owned(ctx: &ApiCtx, name: &str) -> ApiResult<BucketRecord> {
    let not_found = || ApiError::not_found(format!("bucket `{name}` not found"));
    match ctx.state.store.bucket(name).await {
        Ok(b) if b.owner == ctx.account => Ok(b),
        Ok(_) | Err(crate::error::Error::NoSuchBucket(_)) => Err(not_found()),
        Err(e) => Err(e.into()),
    }
}

fn encode_cursor(name: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(name)
}

fn decode_cursor(c: &str) -> ApiResult<String> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(c)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| {
            ApiError::bad_request("invalid cursor: pass back the next_cursor of a previous page")
        })
}

pub async fn list(ctx: &ApiCtx) -> ApiResult<Response> {
    let limit = match ctx.query("limit") {
        None => DEFAULT_LIMIT,
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                ApiError::bad_request(format!("limit must be an integer from 1 to {MAX_LIMIT}"))
            })?,
    };
    let after = ctx.query("cursor").map(|c| decode_cursor(&c)).transpose()?;
    // Names sort the listing, so a cursor stays valid whatever is created meanwhile.
    let mine: Vec<BucketRecord> = ctx
        .state
        .store
        .list_buckets()
        .await?
        .into_iter()
        .filter(|b| b.owner == ctx.account && after.as_deref().is_none_or(|a| b.name.as_str() > a))
        .take(limit + 1)
        .collect();
    let more = mine.len() > limit;
    let mut out = Vec::with_capacity(limit);
    for b in mine.iter().take(limit) {
        out.push(view(ctx, b).await?);
    }
    let next = if more {
        mine.get(limit - 1).map(|b| encode_cursor(&b.name))
    } else {
        None
    };
    Ok(json_response(
        StatusCode::OK,
        &serde_json::json!({ "buckets": out, "next_cursor": next }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBucket {
    name: String,
    #[serde(default)]
    region: Option<String>,
}

pub async fn create(ctx: &ApiCtx) -> ApiResult<Response> {
    let req: CreateBucket = ctx.json()?;
    let region = &ctx.state.cfg.region;
    if let Some(r) = req.region.as_deref().filter(|r| r != region) {
        return Err(ApiError::bad_request(format!(
            "region `{r}` is not served here; this server is in `{region}`"
        )));
    }
    let b = ctx
        .state
        .store
        .create_bucket(&req.name, &ctx.account, region)
        .await?;
    Ok(json_response(StatusCode::CREATED, &view(ctx, &b).await?))
}

pub async fn get(ctx: &ApiCtx, name: &str) -> ApiResult<Response> {
    let b = owned(ctx, name).await?;
    Ok(json_response(StatusCode::OK, &view(ctx, &b).await?))
}

pub async fn patch(ctx: &ApiCtx, name: &str) -> ApiResult<Response> {
    owned(ctx, name).await?;
    let doc: serde_json::Map<String, serde_json::Value> = ctx.json()?;
    match doc.keys().next() {
        // No bucket setting is changeable yet: each arrives with the capability behind it.
        Some(k) => Err(ApiError::bad_request(format!(
            "setting `{k}` cannot be changed on this server"
        ))),
        None => Err(ApiError::bad_request("the body names no setting to change")),
    }
}

pub async fn delete(ctx: &ApiCtx, name: &str) -> ApiResult<Response> {
    let b = owned(ctx, name).await?;
    let store = &ctx.state.store;
    if ctx.query("force").as_deref() == Some("true") {
        loop {
            let page = store.list_objects(&b, "", None, None, 1000).await?;
            if page.entries.is_empty() {
                break;
            }
            for e in page.entries {
                if let ListEntry::Object(key, _) = e {
                    store.delete_object(&b, &key).await?;
                }
            }
        }
        loop {
            let page = store.list_uploads(&b, "", None, None, None, 1000).await?;
            if page.entries.is_empty() {
                break;
            }
            for e in page.entries {
                if let UploadEntry::Upload(u) = e {
                    match store.abort_upload(&b, &u.key, &u.upload_id).await {
                        Ok(()) | Err(crate::error::Error::NoSuchUpload) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
            }
        }
    }
    store.delete_bucket(&b.name).await?;
    Ok(crate::s3::status_only(StatusCode::NO_CONTENT))
}
