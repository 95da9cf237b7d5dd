//! `GET /storage/metrics`: the Prometheus scrape, open unless `[metrics] token` is set, then
//! for `Authorization: Bearer TOKEN` only.

use http::{HeaderValue, StatusCode};
use subtle::ConstantTimeEq;

use super::json;
use crate::web::body::{self, RequestBody, Response};
use crate::web::metrics::CONTENT_TYPE;
use crate::web::AppState;

pub async fn respond(state: &AppState, req: &http::Request<RequestBody>) -> Response {
    if req.method() != http::Method::GET && req.method() != http::Method::HEAD {
        let mut r = error(
            StatusCode::METHOD_NOT_ALLOWED,
            "the metrics are read with GET",
        );
        r.headers_mut()
            .insert(http::header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    if let Some(token) = &state.cfg.metrics_token {
        // The token first: a scraper that has it is never held up by others at its address.
        if !bearer_matches(req.headers(), token.expose()) {
            let ip = req
                .extensions()
                .get::<crate::web::ClientAddr>()
                .map(|c| c.0.ip());
            if let Some(wait) = state.auth_throttled(ip) {
                let mut r = error(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too many failed authentications from this address",
                );
                if let Ok(v) = HeaderValue::from_str(&wait.as_secs().max(1).to_string()) {
                    r.headers_mut().insert(http::header::RETRY_AFTER, v);
                }
                return r;
            }
            state.auth_failed(ip);
            let mut r = error(
                StatusCode::UNAUTHORIZED,
                "the metrics need `Authorization: Bearer TOKEN`, the token in [metrics] token",
            );
            r.headers_mut().insert(
                http::header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"cnx-storage metrics\""),
            );
            return r;
        }
    }
    let head = req.method() == http::Method::HEAD;
    match state.metrics.scrape(|| state.metrics_snapshot()).await {
        Ok(text) => {
            let len = text.len();
            let mut r = http::Response::new(match head {
                true => body::empty(),
                false => body::full(text),
            });
            r.headers_mut().insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static(CONTENT_TYPE),
            );
            r.headers_mut()
                .insert(http::header::CONTENT_LENGTH, HeaderValue::from(len));
            r.headers_mut().insert(
                http::header::CACHE_CONTROL,
                HeaderValue::from_static("no-store"),
            );
            r
        }
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("could not encode the metrics: {e}"),
        ),
    }
}

fn bearer_matches(headers: &http::HeaderMap, token: &str) -> bool {
    let Some(v) = headers.get(http::header::AUTHORIZATION) else {
        return false;
    };
    let Some((scheme, given)) = v.to_str().ok().and_then(|v| v.split_once(' ')) else {
        return false;
    };
    scheme.eq_ignore_ascii_case("bearer")
        && bool::from(given.trim().as_bytes().ct_eq(token.as_bytes()))
}

fn error(status: StatusCode, message: &str) -> Response {
    json(status, &serde_json::json!({ "error": message }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_configured_bearer_token_opens_the_metrics() {
        let with = |v: &str| {
            let mut h = http::HeaderMap::new();
            h.insert(http::header::AUTHORIZATION, v.parse().unwrap());
            h
        };
        assert!(bearer_matches(&with("Bearer s3cret"), "s3cret"));
        assert!(bearer_matches(&with("bearer s3cret"), "s3cret"));
        assert!(!bearer_matches(&with("Bearer s3cre"), "s3cret"));
        assert!(!bearer_matches(&with("Bearer s3cretx"), "s3cret"));
        assert!(!bearer_matches(&with("Basic s3cret"), "s3cret"));
        assert!(!bearer_matches(&http::HeaderMap::new(), "s3cret"));
    }
}
