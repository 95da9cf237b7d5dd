//! Access keys: per-bucket keys (`/storage/buckets/{name}/keys`) that act on one bucket of
//! the S3 surface, and account-level keys (`/storage/access-keys`) that act as an account.
//! A secret is returned once, at creation; listings never carry it.

use http::StatusCode;
use serde::Deserialize;

use super::buckets::owned;
use super::error::{ApiError, ApiResult};
use super::reply::{parse_rfc3339, rfc3339, Page, Reply};
use super::ApiCtx;
use crate::access::{valid_account_name, Principal, ROOT_ACCOUNT};
use crate::meta::{KeyPermission, KeyRecord, KeyScope};

const MAX_NAME: usize = 128;

/// A key as JSON; the secret only when it was just minted.
pub fn view(rec: &KeyRecord, secret: Option<&str>) -> serde_json::Value {
    let mut v = serde_json::json!({
        "access_key_id": rec.access_key_id,
        "name": rec.name,
        "created_at": rfc3339(rec.created_at_ms),
        "expires_at": rec.expires_at_ms.map(rfc3339),
    });
    match &rec.scope {
        KeyScope::Bucket {
            bucket, permission, ..
        } => {
            v["bucket"] = bucket.as_str().into();
            v["permission"] = permission.as_str().into();
        }
        KeyScope::Account { account } => v["account"] = account.as_str().into(),
    }
    if let Some(s) = secret {
        v["secret_access_key"] = s.into();
    }
    v
}

pub fn check_name(name: &Option<String>) -> ApiResult<()> {
    match name {
        Some(n)
            if n.is_empty() || n.chars().count() > MAX_NAME || n.chars().any(char::is_control) =>
        {
            Err(ApiError::bad_request(format!(
                "name must be 1 to {MAX_NAME} printable characters"
            )))
        }
        _ => Ok(()),
    }
}

pub fn check_expiry(expires_at: &Option<String>) -> ApiResult<Option<i64>> {
    let Some(s) = expires_at else { return Ok(None) };
    let ms = parse_rfc3339("expires_at", s)?;
    if ms <= crate::store::now_ms() {
        return Err(ApiError::bad_request("expires_at must be in the future"));
    }
    Ok(Some(ms))
}

pub fn parse_permission(p: &str) -> ApiResult<KeyPermission> {
    match p {
        "read" => Ok(KeyPermission::Read),
        "read-write" => Ok(KeyPermission::ReadWrite),
        other => Err(ApiError::bad_request(format!(
            "permission `{other}` is not one of `read`, `read-write`"
        ))),
    }
}

async fn mint(
    ctx: &ApiCtx,
    scope: KeyScope,
    name: Option<String>,
    expires_at_ms: Option<i64>,
) -> ApiResult<Reply> {
    let (rec, secret) = ctx
        .state
        .keys
        .blocking(move |k| k.create_blocking(scope, name, expires_at_ms))
        .await?;
    Ok(Reply::json(StatusCode::CREATED, view(&rec, Some(&secret))))
}

async fn all_keys(ctx: &ApiCtx) -> ApiResult<Vec<KeyRecord>> {
    Ok(ctx.state.keys.blocking(|k| k.list_blocking()).await?)
}

fn page_of(page: &Page, keys: Vec<KeyRecord>, keep: impl Fn(&KeyRecord) -> bool) -> Reply {
    let picked: Vec<KeyRecord> = keys
        .into_iter()
        .filter(|k| keep(k) && page.admits(&k.access_key_id))
        .take(page.limit + 1)
        .collect();
    let (picked, next) = page.finish(picked, |k| &k.access_key_id);
    let out: Vec<_> = picked.iter().map(|k| view(k, None)).collect();
    Reply::json(
        StatusCode::OK,
        serde_json::json!({ "keys": out, "next_cursor": next }),
    )
}

async fn revoke(ctx: &ApiCtx, rec: &KeyRecord) -> ApiResult<Reply> {
    let id = rec.access_key_id.clone();
    ctx.state
        .keys
        .blocking(move |k| k.revoke_blocking(&id))
        .await?;
    Ok(Reply::no_content())
}

// ---- per-bucket keys ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBucketKey {
    #[serde(default)]
    name: Option<String>,
    permission: String,
    #[serde(default)]
    expires_at: Option<String>,
}

pub async fn create_bucket_key(ctx: &ApiCtx, bucket: &str) -> ApiResult<Reply> {
    let b = owned(ctx, bucket).await?;
    let req: CreateBucketKey = ctx.json()?;
    let permission = parse_permission(&req.permission)?;
    check_name(&req.name)?;
    let expires = check_expiry(&req.expires_at)?;
    let scope = KeyScope::Bucket {
        bucket_id: b.id,
        bucket: b.name.clone(),
        account: b.owner.clone(),
        permission,
    };
    mint(ctx, scope, req.name, expires).await
}

fn of_bucket(rec: &KeyRecord, b: &crate::meta::BucketRecord) -> bool {
    matches!(&rec.scope, KeyScope::Bucket { bucket_id, .. } if *bucket_id == b.id)
}

pub async fn list_bucket_keys(ctx: &ApiCtx, bucket: &str) -> ApiResult<Reply> {
    let b = owned(ctx, bucket).await?;
    let page = Page::from_query(ctx)?;
    Ok(page_of(&page, all_keys(ctx).await?, |k| of_bucket(k, &b)))
}

pub async fn revoke_bucket_key(ctx: &ApiCtx, bucket: &str, id: &str) -> ApiResult<Reply> {
    let b = owned(ctx, bucket).await?;
    let id_owned = id.to_owned();
    let rec = ctx
        .state
        .keys
        .blocking(move |k| k.get_blocking(&id_owned))
        .await?
        .filter(|r| of_bucket(r, &b))
        .ok_or_else(|| {
            ApiError::not_found(format!("bucket `{bucket}` has no access key `{id}`"))
        })?;
    revoke(ctx, &rec).await
}

// ---- account-level keys ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateAccountKey {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    account: Option<String>,
    #[serde(default)]
    expires_at: Option<String>,
}

/// Whether the caller may see and revoke keys of `account`: its own, or any for root.
fn manages(ctx: &ApiCtx, account: &str) -> bool {
    ctx.caller.principal == Principal::Root || ctx.account() == account
}

fn account_of(rec: &KeyRecord) -> Option<&str> {
    match &rec.scope {
        KeyScope::Account { account } => Some(account),
        KeyScope::Bucket { .. } => None,
    }
}

pub async fn create_account_key(ctx: &ApiCtx) -> ApiResult<Reply> {
    let req: CreateAccountKey = ctx.json()?;
    check_name(&req.name)?;
    let expires = check_expiry(&req.expires_at)?;
    let account = match req.account {
        None => ctx.account().to_owned(),
        Some(a) if a == ctx.account() => a,
        Some(a) if ctx.caller.principal != Principal::Root => {
            return Err(ApiError::forbidden(format!(
                "only root can mint keys for another account (`{a}`)"
            )))
        }
        Some(a) if a != ROOT_ACCOUNT && !valid_account_name(&a) => {
            return Err(ApiError::bad_request(format!(
                "invalid account `{a}`: use 1 to 128 letters, digits and -_.@+:"
            )))
        }
        Some(a) => a,
    };
    mint(ctx, KeyScope::Account { account }, req.name, expires).await
}

pub async fn list_account_keys(ctx: &ApiCtx) -> ApiResult<Reply> {
    let page = Page::from_query(ctx)?;
    let only = ctx.query("account");
    Ok(page_of(&page, all_keys(ctx).await?, |k| {
        account_of(k).is_some_and(|a| manages(ctx, a) && only.as_deref().is_none_or(|o| o == a))
    }))
}

pub async fn revoke_account_key(ctx: &ApiCtx, id: &str) -> ApiResult<Reply> {
    let id_owned = id.to_owned();
    let rec = ctx
        .state
        .keys
        .blocking(move |k| k.get_blocking(&id_owned))
        .await?
        .filter(|r| account_of(r).is_some_and(|a| manages(ctx, a)))
        .ok_or_else(|| ApiError::not_found(format!("no access key `{id}`")))?;
    revoke(ctx, &rec).await
}
