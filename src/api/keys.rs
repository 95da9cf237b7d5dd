//! Access keys: per-bucket keys (`/storage/buckets/{name}/keys`) that act on one bucket of
//! the S3 surface, and account-level keys (`/storage/access-keys`) that act as an account.
//! A secret is returned once, at creation; listings never carry it.

use http::StatusCode;
use serde::Deserialize;

use super::buckets::owned;
use super::error::ApiResult;
use super::reply::{Page, Reply};
use super::ApiCtx;
use crate::access::admin::{self, AdminResult, KeyTerms, Manager};
use crate::access::KeyRing;
use crate::clock::rfc3339;
use crate::meta::{KeyRecord, KeyScope};

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

/// Runs a key administration step on the blocking pool (it reads and writes the index).
async fn admin<T: Send + 'static>(
    ctx: &ApiCtx,
    f: impl FnOnce(&KeyRing) -> AdminResult<T> + Send + 'static,
) -> ApiResult<T> {
    Ok(ctx.state.keys.blocking(move |k| Ok(f(k))).await??)
}

fn minted((rec, secret): (KeyRecord, String)) -> Reply {
    Reply::json(StatusCode::CREATED, view(&rec, Some(&secret)))
}

fn page_of(page: &Page, keys: Vec<KeyRecord>) -> Reply {
    let picked: Vec<KeyRecord> = keys
        .into_iter()
        .filter(|k| page.admits(&k.access_key_id))
        .take(page.limit + 1)
        .collect();
    let (picked, next) = page.finish(picked, |k| &k.access_key_id);
    let out: Vec<_> = picked.iter().map(|k| view(k, None)).collect();
    Reply::json(
        StatusCode::OK,
        serde_json::json!({ "keys": out, "next_cursor": next }),
    )
}

fn manager(ctx: &ApiCtx) -> Manager {
    Manager::of(&ctx.caller.principal, ctx.account())
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
    let terms = KeyTerms {
        name: req.name,
        expires_at: req.expires_at,
    };
    let key = admin(ctx, move |r| {
        admin::mint_bucket_key(r, &b, &req.permission, &terms)
    })
    .await?;
    Ok(minted(key))
}

pub async fn list_bucket_keys(ctx: &ApiCtx, bucket: &str) -> ApiResult<Reply> {
    let b = owned(ctx, bucket).await?;
    let page = Page::from_query(ctx)?;
    let keys = admin(ctx, move |r| admin::bucket_keys(r, &b)).await?;
    Ok(page_of(&page, keys))
}

pub async fn revoke_bucket_key(ctx: &ApiCtx, bucket: &str, id: &str) -> ApiResult<Reply> {
    let b = owned(ctx, bucket).await?;
    let id = id.to_owned();
    admin(ctx, move |r| admin::revoke_bucket_key(r, &b, &id)).await?;
    Ok(Reply::no_content())
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

pub async fn create_account_key(ctx: &ApiCtx) -> ApiResult<Reply> {
    let req: CreateAccountKey = ctx.json()?;
    let by = manager(ctx);
    let terms = KeyTerms {
        name: req.name,
        expires_at: req.expires_at,
    };
    let key = admin(ctx, move |r| {
        admin::mint_account_key(r, &by, req.account.as_deref(), &terms)
    })
    .await?;
    Ok(minted(key))
}

pub async fn list_account_keys(ctx: &ApiCtx) -> ApiResult<Reply> {
    let page = Page::from_query(ctx)?;
    let (by, only) = (manager(ctx), ctx.query("account"));
    let keys = admin(ctx, move |r| admin::account_keys(r, &by, only.as_deref())).await?;
    Ok(page_of(&page, keys))
}

pub async fn revoke_account_key(ctx: &ApiCtx, id: &str) -> ApiResult<Reply> {
    let (by, id) = (manager(ctx), id.to_owned());
    admin(ctx, move |r| admin::revoke_account_key(r, &by, &id)).await?;
    Ok(Reply::no_content())
}
