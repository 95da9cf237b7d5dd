//! What management handlers return, and the conventions every resource shares: RFC 3339
//! timestamps, and `limit`/`cursor` paging over a listing sorted by a unique string.

use base64::Engine as _;
use http::StatusCode;

use super::error::{json_response, ApiError, ApiResult};
use super::ApiCtx;
use crate::web::body::Response;

const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;

/// A JSON resource (or no body) and its status; kept whole so idempotent replays can store it.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Option<serde_json::Value>,
}

impl Reply {
    pub fn json(status: StatusCode, body: serde_json::Value) -> Self {
        Self {
            status,
            body: Some(body),
        }
    }

    pub fn no_content() -> Self {
        Self {
            status: StatusCode::NO_CONTENT,
            body: None,
        }
    }

    pub fn into_response(self) -> Response {
        match self.body {
            Some(v) => json_response(self.status, &v),
            None => crate::web::status_only(self.status),
        }
    }
}

/// A page request: at most `limit` items sorted after `after`.
pub struct Page {
    pub limit: usize,
    pub after: Option<String>,
}

impl Page {
    pub fn from_query(ctx: &ApiCtx) -> ApiResult<Self> {
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
        let after = ctx
            .query("cursor")
            .map(|c| {
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(c)
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .ok_or_else(|| {
                        ApiError::bad_request(
                            "invalid cursor: pass back the next_cursor of a previous page",
                        )
                    })
            })
            .transpose()?;
        Ok(Self { limit, after })
    }

    /// Whether `sort_key` belongs after the cursor.
    pub fn admits(&self, sort_key: &str) -> bool {
        self.after.as_deref().is_none_or(|a| sort_key > a)
    }

    /// Cuts `items` (sorted, already past the cursor, at most `limit + 1` long) to the page and
    /// the cursor of the next one. Names sort the listing, so a cursor stays valid whatever is
    /// created meanwhile.
    pub fn finish<T>(
        &self,
        mut items: Vec<T>,
        sort_key: impl Fn(&T) -> &str,
    ) -> (Vec<T>, Option<String>) {
        let next = if items.len() > self.limit {
            items.truncate(self.limit);
            items
                .last()
                .map(|t| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sort_key(t)))
        } else {
            None
        };
        (items, next)
    }
}
