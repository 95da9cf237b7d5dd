//! `/storage/buckets`: the caller's buckets as JSON. These are the same buckets the S3
//! surface serves.

use http::StatusCode;
use serde::Deserialize;

use super::error::{ApiError, ApiResult};
use super::lifecycle::RuleView;
use super::reply::{Page, Reply};
use super::ApiCtx;
use crate::clock::rfc3339;
use crate::cors::CorsRule;
use crate::meta::lock::{DefaultRetention, LockMode, RetentionPeriod};
use crate::meta::{BucketRecord, Tags, Versioning};

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
    let mut doc = serde_json::json!({
        "id": hex::encode(b.id.0),
        "name": b.name,
        "region": b.region,
        "created_at": rfc3339(b.created_at_ms),
        "size_bytes": usage.bytes.max(0),
        "object_count": usage.objects.max(0),
        "versioning": versioning_name(b.versioning),
        "cors": b.cors_rules().map(|rules| rules.iter().map(CorsRuleView::from).collect::<Vec<_>>()),
        "tags": b.tags.as_ref().map(|t| t.iter().cloned().collect::<std::collections::BTreeMap<String, String>>()),
        "lifecycle": b.lifecycle.as_ref().map(|rules| rules.iter().map(RuleView::from).collect::<Vec<_>>()),
        "object_lock": b.object_lock.as_ref().map(|l| serde_json::json!({
            "enabled": true,
            "default_retention": l.default_retention.map(DefaultRetentionView::from),
        })),
    });
    if let Some(map) = doc.as_object_mut() {
        for (k, v) in super::access::view(b) {
            map.insert(k.to_owned(), v);
        }
        let logging = b.logging.as_ref().map_or(serde_json::Value::Null, |l| {
            serde_json::json!({
                "target_bucket": l.target_bucket,
                "target_prefix": l.target_prefix,
                "partitioned": l.partitioned,
            })
        });
        map.insert("logging".to_owned(), logging);
        map.insert(
            "encryption".to_owned(),
            super::kms::encryption_view(ctx, b.encryption.as_ref()),
        );
    }
    Ok(doc)
}

/// A default retention as the management API shows and takes it.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct DefaultRetentionView {
    mode: LockModeView,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    days: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    years: Option<u32>,
}

#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
enum LockModeView {
    Governance,
    Compliance,
}

impl From<DefaultRetention> for DefaultRetentionView {
    fn from(d: DefaultRetention) -> Self {
        let (days, years) = match d.period {
            RetentionPeriod::Days(n) => (Some(n), None),
            RetentionPeriod::Years(n) => (None, Some(n)),
        };
        Self {
            mode: match d.mode {
                LockMode::Governance => LockModeView::Governance,
                LockMode::Compliance => LockModeView::Compliance,
            },
            days,
            years,
        }
    }
}

impl TryFrom<DefaultRetentionView> for DefaultRetention {
    type Error = ApiError;
    fn try_from(v: DefaultRetentionView) -> ApiResult<Self> {
        let period = match (v.days, v.years) {
            (Some(d), None) => RetentionPeriod::Days(d),
            (None, Some(y)) => RetentionPeriod::Years(y),
            _ => {
                return Err(ApiError::bad_request(
                    "default_retention names exactly one of `days` and `years`",
                ))
            }
        };
        Ok(DefaultRetention {
            mode: match v.mode {
                LockModeView::Governance => LockMode::Governance,
                LockModeView::Compliance => LockMode::Compliance,
            },
            period,
        })
    }
}

/// `object_lock` in a PATCH: `{"enabled": true, "default_retention": {…} | null}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ObjectLockPatch {
    enabled: bool,
    #[serde(default)]
    default_retention: Option<DefaultRetentionView>,
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
    /// Object lock from the start (versioning enabled with it, for good).
    #[serde(default)]
    object_lock: bool,
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
        .create_bucket(&req.name, ctx.account(), region, req.object_lock)
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
    if let Some(k) = doc.keys().find(|k| {
        !matches!(
            k.as_str(),
            "cors" | "versioning" | "tags" | "object_lock" | "lifecycle" | "logging" | "encryption"
        ) && !super::access::AccessPatch::KEYS.contains(&k.as_str())
    }) {
        return Err(ApiError::bad_request(format!(
            "setting `{k}` cannot be changed on this server"
        )));
    }
    // Checked before anything changes, so a refused ACL leaves the other settings as they were.
    let access = super::access::AccessPatch::parse(&doc, &b)?;
    if let Some(a) = &access {
        a.check(&b)?;
    }
    let logging = match doc.get("logging") {
        None => None,
        Some(v) => Some(logging_from_json(ctx, &b, v).await?),
    };
    let encryption = match doc.get("encryption") {
        None => None,
        Some(v) => Some(super::kms::encryption_from_json(ctx, v).await?),
    };
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
    if let Some(v) = doc.get("tags") {
        let tags: Option<std::collections::BTreeMap<String, String>> =
            serde_json::from_value(v.clone()).map_err(|e| {
                ApiError::bad_request(format!("tags must be an object of strings: {e}"))
            })?;
        let tags: Option<Tags> = tags.map(|t| t.into_iter().collect());
        b = ctx.state.store.set_bucket_tags(&b, tags).await?;
    }
    if let Some(v) = doc.get("lifecycle") {
        let rules = super::lifecycle::rules_from_json(v)?;
        b = ctx.state.store.set_lifecycle(&b, rules).await?;
    }
    if let Some(v) = doc.get("object_lock") {
        let patch: ObjectLockPatch = serde_json::from_value(v.clone())
            .map_err(|e| ApiError::bad_request(format!("invalid object_lock: {e}")))?;
        if !patch.enabled {
            return Err(ApiError::bad_request(
                "object lock cannot be turned off once enabled",
            ));
        }
        let default = patch
            .default_retention
            .map(DefaultRetention::try_from)
            .transpose()?;
        b = ctx.state.store.set_object_lock(&b, default).await?;
    }
    if let Some(access) = access {
        b = access.apply(&ctx.state.store, &b).await?;
    }
    if let Some(logging) = logging {
        b = ctx
            .state
            .store
            .update_bucket(&b, move |rec| {
                rec.logging = logging.clone();
                Ok(())
            })
            .await?;
        ctx.state.access_log.update(&b);
    }
    if let Some(encryption) = encryption {
        b = ctx
            .state
            .store
            .update_bucket(&b, move |rec| {
                rec.encryption = encryption.clone();
                Ok(())
            })
            .await?;
    }
    Ok(Reply::json(StatusCode::OK, view(ctx, &b).await?))
}

/// Where the bucket's access log goes (S3 PutBucketLogging): a bucket of the same owner.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct LoggingView {
    target_bucket: String,
    #[serde(default)]
    target_prefix: String,
    #[serde(default)]
    partitioned: bool,
}

async fn logging_from_json(
    ctx: &ApiCtx,
    b: &BucketRecord,
    v: &serde_json::Value,
) -> ApiResult<Option<crate::meta::acl::LoggingConfig>> {
    let Some(view) = serde_json::from_value::<Option<LoggingView>>(v.clone())
        .map_err(|e| ApiError::bad_request(format!("invalid logging: {e}")))?
    else {
        return Ok(None);
    };
    if view.target_prefix.len() > crate::accesslog::MAX_TARGET_PREFIX {
        return Err(ApiError::bad_request(format!(
            "logging target_prefix may be at most {} bytes",
            crate::accesslog::MAX_TARGET_PREFIX
        )));
    }
    match ctx.state.store.bucket(&view.target_bucket).await {
        Ok(t) if t.owner == b.owner => {}
        Ok(_) | Err(crate::error::Error::NoSuchBucket(_)) => {
            return Err(ApiError::bad_request(format!(
                "logging target bucket `{}` is not one of this account's buckets",
                view.target_bucket
            )))
        }
        Err(e) => return Err(e.into()),
    }
    Ok(Some(crate::meta::acl::LoggingConfig {
        target_bucket: view.target_bucket,
        target_prefix: view.target_prefix,
        partitioned: view.partitioned,
    }))
}

pub async fn delete(ctx: &ApiCtx, name: &str) -> ApiResult<Reply> {
    let b = owned(ctx, name).await?;
    if ctx.query("force").as_deref() == Some("true") {
        ctx.state.store.delete_bucket_and_contents(&b).await?;
    } else {
        ctx.state.store.delete_bucket(&b).await?;
    }
    ctx.state.access_log.forget(&b.name);
    Ok(Reply::no_content())
}
