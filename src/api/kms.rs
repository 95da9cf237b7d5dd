//! The SSE-KMS key ring in the management API: list, make, show, enable and disable keys
//! (root only for changes), and a bucket's default encryption as JSON.

use http::StatusCode;
use serde::Deserialize;

use super::error::{ApiError, ApiResult};
use super::reply::Reply;
use super::ApiCtx;
use crate::access::kms::{key_arn, key_id_of};
use crate::access::Principal;
use crate::clock::rfc3339;
use crate::meta::sse::{BucketEncryption, KmsKeyRecord, SseMode};

fn root_only(ctx: &ApiCtx) -> ApiResult<()> {
    if ctx.caller.principal == Principal::Root {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "only the root credentials manage the key ring",
        ))
    }
}

fn view(ctx: &ApiCtx, k: &KmsKeyRecord) -> serde_json::Value {
    let from_config = k.sealed_material.is_empty();
    serde_json::json!({
        "id": k.id,
        "arn": key_arn(&ctx.state.cfg.region, &k.id),
        "description": k.description,
        "enabled": k.enabled,
        "source": if from_config { "config" } else { "api" },
        "created_at": if from_config { serde_json::Value::Null } else { rfc3339(k.created_ms).into() },
    })
}

pub async fn list(ctx: &ApiCtx) -> ApiResult<Reply> {
    let keys = ctx.state.kms.blocking(|k| k.list()).await?;
    let out: Vec<_> = keys.iter().map(|k| view(ctx, k)).collect();
    Ok(Reply::json(
        StatusCode::OK,
        serde_json::json!({ "keys": out }),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateKey {
    id: String,
    #[serde(default)]
    description: String,
}

pub async fn create(ctx: &ApiCtx) -> ApiResult<Reply> {
    root_only(ctx)?;
    let req: CreateKey = ctx.json()?;
    if req.description.len() > 256 {
        return Err(ApiError::bad_request(
            "a key's description is at most 256 bytes",
        ));
    }
    let rec = ctx
        .state
        .kms
        .blocking(move |k| k.create(&req.id, &req.description))
        .await?;
    Ok(Reply::json(StatusCode::CREATED, view(ctx, &rec)))
}

pub async fn get(ctx: &ApiCtx, id: &str) -> ApiResult<Reply> {
    let id = id.to_owned();
    let rec = ctx.state.kms.blocking(move |k| k.get(&id)).await?;
    Ok(Reply::json(StatusCode::OK, view(ctx, &rec)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchKey {
    enabled: bool,
}

pub async fn patch(ctx: &ApiCtx, id: &str) -> ApiResult<Reply> {
    root_only(ctx)?;
    let req: PatchKey = ctx.json()?;
    let id = id.to_owned();
    let rec = ctx
        .state
        .kms
        .blocking(move |k| k.set_enabled(&id, req.enabled))
        .await?;
    Ok(Reply::json(StatusCode::OK, view(ctx, &rec)))
}

/// A bucket's default encryption as its view shows it.
pub fn encryption_view(ctx: &ApiCtx, e: Option<&BucketEncryption>) -> serde_json::Value {
    match e {
        None => serde_json::Value::Null,
        Some(e) => serde_json::json!({
            "algorithm": e.mode.as_s3(),
            "kms_key_id": e.kms_key.as_deref().map(|id| key_arn(&ctx.state.cfg.region, id)),
            "bucket_key": e.bucket_key,
        }),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EncryptionPatch {
    algorithm: String,
    #[serde(default)]
    kms_key_id: Option<String>,
    #[serde(default)]
    bucket_key: bool,
}

/// The `encryption` of a PATCH (`null` removes it), checked against the key ring.
pub async fn encryption_from_json(
    ctx: &ApiCtx,
    v: &serde_json::Value,
) -> ApiResult<Option<BucketEncryption>> {
    let Some(p) = serde_json::from_value::<Option<EncryptionPatch>>(v.clone())
        .map_err(|e| ApiError::bad_request(format!("invalid encryption: {e}")))?
    else {
        return Ok(None);
    };
    let kms_key = match p.kms_key_id.as_deref() {
        None => None,
        Some(r) => Some(
            key_id_of(r)
                .ok_or_else(|| ApiError::bad_request(format!("`{r}` is not a KMS key id")))?
                .to_owned(),
        ),
    };
    let mode = match (p.algorithm.as_str(), &kms_key) {
        ("AES256", None) => SseMode::S3,
        ("AES256", Some(_)) => {
            return Err(ApiError::bad_request(
                "kms_key_id goes with algorithm aws:kms only",
            ))
        }
        ("aws:kms", _) => SseMode::Kms,
        (other, _) => {
            return Err(ApiError::bad_request(format!(
                "encryption algorithm must be AES256 or aws:kms, not `{other}`"
            )))
        }
    };
    if let Some(id) = kms_key.clone() {
        // The key must exist and be enabled now, so writes do not fail later for it.
        ctx.state
            .kms
            .blocking(move |k| k.ensure_usable(&id))
            .await?;
    }
    Ok(Some(BucketEncryption {
        mode,
        kms_key,
        bucket_key: p.bucket_key,
    }))
}
