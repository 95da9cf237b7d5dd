//! `/storage/buckets`: the caller's buckets as JSON. These are the same buckets the S3
//! surface serves.

use http::StatusCode;
use serde::Deserialize;

use super::error::{ApiError, ApiResult};
use super::reply::{Page, Reply};
use super::ApiCtx;
use crate::clock::rfc3339;
use crate::cors::CorsRule;
use crate::meta::{BucketRecord, Versioning};

/// A CORS rule as the management API shows and takes it (the seed's snake_case fields).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorsRuleView {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub allowed_origins: Vec<String>,
    pub allowed_methods: Vec<String>,
    #[serde(default)]
    pub allowed_headers: Vec<String>,
    #[serde(default)]
    pub expose_headers: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age_seconds: Option<u32>,
}

impl From<&CorsRule> for CorsRuleView {
    fn from(r: &CorsRule) -> Self {
        Self {
            id: r.id.clone(),
            allowed_origins: r.allowed_origins.clone(),
            allowed_methods: r.allowed_methods.clone(),
            allowed_headers: r.allowed_headers.clone(),
            expose_headers: r.expose_headers.clone(),
            max_age_seconds: r.max_age_seconds,
        }
    }
}

impl From<CorsRuleView> for CorsRule {
    fn from(r: CorsRuleView) -> Self {
        Self {
            id: r.id,
            allowed_origins: r.allowed_origins,
            allowed_methods: r.allowed_methods,
            allowed_headers: r.allowed_headers,
            expose_headers: r.expose_headers,
            max_age_seconds: r.max_age_seconds,
        }
    }
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
        "versioning": versioning_name(b.versioning),
        "cors": b.cors_rules().map(|rules| rules.iter().map(CorsRuleView::from).collect::<Vec<_>>()),
    }))
}

fn versioning_name(v: Versioning) -> &'static str {
    match v {
        Versioning::Unversioned => "disabled",
        Versioning::Enabled => "enabled",
        Versioning::Suspended => "suspended",
    }
}

/// The caller's bucket; another account's bucket is reported as missing (404), not 403.
pub async fn owned(ctx: &ApiCtx, name: &str) -> ApiResult<BucketRecord> {
    let not_found = || ApiError::not_found(format!("bucket `{name}` not found"));
    match ctx.state.store.bucket(name).await {
        Ok(b) if b.owner == ctx.account() => Ok(b),
        Ok(_) | Err(crate::error::Error::NoSuchBucket(_)) => Err(not_found()),
        Err(e) => Err(e.into()),
    }
}

pub async fn list(ctx: &ApiCtx) -> ApiResult<Reply> {
    let page = Page::from_query(ctx)?;
    let mine: Vec<BucketRecord> = ctx
        .state
        .store
        .list_buckets()
        .await?
        .into_iter()
        .filter(|b| b.owner == ctx.account() && page.admits(&b.name))
        .take(page.limit + 1)
        .collect();
    let (mine, next) = page.finish(mine, |b| &b.name);
    let mut out = Vec::with_capacity(mine.len());
    for b in &mine {
        out.push(view(ctx, b).await?);
    }
    Ok(Reply::json(
        StatusCode::OK,
        serde_json::json!({ "buckets": out, "next_cursor": next }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBucket {
    name: String,
    #[serde(default)]
    region: Option<String>,
}

pub async fn create(ctx: &ApiCtx) -> ApiResult<Reply> {
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
        .create_bucket(&req.name, ctx.account(), region)
        .await?;
    Ok(Reply::json(StatusCode::CREATED, view(ctx, &b).await?))
}

pub async fn get(ctx: &ApiCtx, name: &str) -> ApiResult<Reply> {
    let b = owned(ctx, name).await?;
    Ok(Reply::json(StatusCode::OK, view(ctx, &b).await?))
}

pub async fn patch(ctx: &ApiCtx, name: &str) -> ApiResult<Reply> {
    let mut b = owned(ctx, name).await?;
    let doc: serde_json::Map<String, serde_json::Value> = ctx.json()?;
    if doc.is_empty() {
        return Err(ApiError::bad_request("the body names no setting to change"));
    }
    // A setting is accepted only once the capability behind it works.
    if let Some(k) = doc
        .keys()
        .find(|k| !matches!(k.as_str(), "cors" | "versioning"))
    {
        return Err(ApiError::bad_request(format!(
            "setting `{k}` cannot be changed on this server"
        )));
    }
    if let Some(v) = doc.get("versioning") {
        let want = match v.as_str() {
            Some("enabled") => Versioning::Enabled,
            Some("suspended") => Versioning::Suspended,
            Some("disabled") if b.versioning.is_unversioned() => Versioning::Unversioned,
            Some("disabled") => {
                return Err(ApiError::bad_request(
                    "versioning cannot be disabled once enabled; suspend it instead",
                ))
            }
            _ => {
                return Err(ApiError::bad_request(
                    "versioning must be `enabled`, `suspended` or `disabled`",
                ))
            }
        };
        if want != b.versioning {
            b = ctx.state.store.set_versioning(&b, want).await?;
        }
    }
    if let Some(v) = doc.get("cors") {
        let rules: Option<Vec<CorsRuleView>> = serde_json::from_value(v.clone())
            .map_err(|e| ApiError::bad_request(format!("invalid cors rules: {e}")))?;
        let rules: Option<Vec<CorsRule>> =
            rules.map(|r| r.into_iter().map(CorsRule::from).collect());
        if let Some(r) = &rules {
            crate::cors::validate(r).map_err(ApiError::bad_request)?;
        }
        b = ctx.state.store.set_cors(&b, rules).await?;
    }
    Ok(Reply::json(StatusCode::OK, view(ctx, &b).await?))
}

pub async fn delete(ctx: &ApiCtx, name: &str) -> ApiResult<Reply> {
    let b = owned(ctx, name).await?;
    if ctx.query("force").as_deref() == Some("true") {
        ctx.state.store.delete_bucket_and_contents(&b).await?;
    } else {
        ctx.state.store.delete_bucket(&b.name).await?;
    }
    ctx.state.keys.forget_bucket(&b.id);
    Ok(Reply::no_content())
}
