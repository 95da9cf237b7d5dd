//! `GET /storage/whoami`: what the signing key is and may do. The one management route a
//! bucket key may call, so that a client (the web console) can show only what will work; the
//! server checks every request all the same.

use http::StatusCode;
use serde_json::json;

use super::reply::Reply;
use super::ApiCtx;
use crate::access::Principal;

pub const PATH: &str = "/storage/whoami";

pub fn is_whoami(parts: &http::request::Parts) -> bool {
    parts.method == http::Method::GET && parts.uri.path() == PATH
}

pub fn whoami(ctx: &ApiCtx) -> Reply {
    let key = ctx.caller.access_key_id.as_deref();
    let body = match &ctx.caller.principal {
        Principal::Root => json!({
            "access_key_id": key, "kind": "root", "account": crate::access::ROOT_ACCOUNT,
            "bucket": null, "permission": "full",
        }),
        Principal::Account(account) => json!({
            "access_key_id": key, "kind": "account", "account": account,
            "bucket": null, "permission": "full",
        }),
        Principal::BucketKey(g) => json!({
            "access_key_id": key, "kind": "bucket", "account": g.account,
            "bucket": g.bucket, "permission": g.permission.as_str(),
        }),
        Principal::Anonymous => json!({
            "access_key_id": null, "kind": "anonymous", "account": null,
            "bucket": null, "permission": "none",
        }),
    };
    Reply::json(StatusCode::OK, body)
}
