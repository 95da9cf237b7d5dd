//! CORS on the S3 surface: preflight `OPTIONS` answered from the bucket's rules without
//! authentication (browsers send no credentials on a preflight), and the CORS headers added to
//! actual responses, errors included, so a page can read what S3 said.

use http::{HeaderValue, StatusCode};

use super::error::{S3Code, S3Error, S3Result};
use super::status_only;
use crate::web::body::Response;
use crate::web::AppState;

fn forbidden(why: &str) -> S3Error {
    S3Error::new(S3Code::AccessForbidden, format!("CORSResponse: {why}"))
}

pub async fn preflight(
    state: &AppState,
    headers: &http::HeaderMap,
    bucket: Option<&str>,
) -> S3Result<Response> {
    let h = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let origin = h("origin").ok_or_else(|| S3Error::code(S3Code::BadRequest))?;
    let method = h("access-control-request-method").ok_or_else(|| {
        S3Error::new(
            S3Code::BadRequest,
            "Invalid Access-Control-Request-Method: null",
        )
    })?;
    let bucket = bucket.ok_or_else(|| forbidden("This CORS request is not allowed."))?;
    let rules = match state.store.bucket(bucket).await {
        Ok(b) => b.cors_rules(),
        Err(crate::error::Error::NoSuchBucket(_)) => None,
        Err(e) => return Err(e.into()),
    }
    .ok_or_else(|| forbidden("CORS is not enabled for this bucket."))?;
    let requested = crate::cors::requested_headers(h("access-control-request-headers"));
    let names: Vec<&str> = requested.iter().map(String::as_str).collect();
    let rule = crate::cors::find(&rules, origin, method, &names)
        .ok_or_else(|| S3Error::code(S3Code::AccessForbidden))?;
    let mut r = status_only(StatusCode::OK);
    apply(
        &mut r,
        crate::cors::preflight_headers(rule, origin, &requested),
    );
    Ok(r)
}

fn apply(r: &mut Response, headers: Vec<(&'static str, String)>) {
    for (name, value) in headers {
        if let Ok(v) = HeaderValue::from_str(&value) {
            r.headers_mut().insert(name, v);
        }
    }
}

/// Adds the CORS headers of the bucket's first rule that allows `origin` and `method`.
pub async fn decorate(
    state: &AppState,
    origin: &str,
    method: &http::Method,
    bucket: &str,
    resp: &mut Response,
) {
    let Ok(b) = state.store.bucket(bucket).await else {
        return;
    };
    let Some(rules) = b.cors_rules() else { return };
    if let Some(rule) = crate::cors::find(&rules, origin, method.as_str(), &[]) {
        apply(resp, crate::cors::response_headers(rule, origin));
    }
}
