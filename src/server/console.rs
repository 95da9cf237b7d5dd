//! The web console under `/storage/console/`: a few static files embedded in the binary. The
//! page signs its own requests (SigV4, in the browser) to the S3 surface and the management
//! API, so the server treats it as any other client: nothing here authenticates anyone.

use std::sync::OnceLock;

use http::{HeaderValue, StatusCode};
use sha2::Digest as _;

use crate::web::body::{self, Response};

struct Asset {
    /// Under `/storage/console/`.
    path: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

const JS: &str = "text/javascript; charset=utf-8";

/// An asset named by its path under `console/`.
macro_rules! asset {
    ($path:literal, $content_type:expr) => {
        Asset {
            path: $path,
            content_type: $content_type,
            body: include_bytes!(concat!("../../console/", $path)),
        }
    };
}

const ASSETS: &[Asset] = &[
    Asset {
        path: "",
        content_type: "text/html; charset=utf-8",
        body: include_bytes!("../../console/index.html"),
    },
    asset!("app.js", JS),
    asset!("s3.js", JS),
    asset!("upload.js", JS),
    asset!("vendor/sigv4.js", JS),
    asset!("style.css", "text/css; charset=utf-8"),
    asset!("favicon.svg", "image/svg+xml"),
];

/// Scripts and styles from this origin only, requests to it only, no framing, no inline code.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

/// Strong ETags of the assets, in `ASSETS` order, from their bytes.
fn etags() -> &'static [String] {
    static TAGS: OnceLock<Vec<String>> = OnceLock::new();
    TAGS.get_or_init(|| {
        ASSETS
            .iter()
            .map(|a| format!("\"{}\"", hex::encode(&sha2::Sha256::digest(a.body)[..12])))
            .collect()
    })
}

pub fn respond(req: &http::Request<crate::web::body::RequestBody>) -> Response {
    let method = req.method();
    if method != http::Method::GET && method != http::Method::HEAD {
        let mut r = plain(
            StatusCode::METHOD_NOT_ALLOWED,
            "the console is read with GET\n",
        );
        r.headers_mut()
            .insert(http::header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    let path = req.uri().path();
    let Some(rest) = path.strip_prefix(super::router::CONSOLE_PREFIX) else {
        // `/storage/console`: relative links need the trailing slash.
        let mut r = plain(StatusCode::PERMANENT_REDIRECT, "");
        r.headers_mut().insert(
            http::header::LOCATION,
            HeaderValue::from_static(super::router::CONSOLE_PREFIX),
        );
        return r;
    };
    let Some(i) = ASSETS.iter().position(|a| a.path == rest) else {
        return plain(StatusCode::NOT_FOUND, "no such console file\n");
    };
    let (asset, etag) = (&ASSETS[i], &etags()[i]);
    let fresh = req
        .headers()
        .get(http::header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut r = if fresh {
        let mut r = http::Response::new(body::empty());
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r
    } else {
        let mut r = http::Response::new(match method == http::Method::HEAD {
            true => body::empty(),
            false => body::full(asset.body),
        });
        r.headers_mut().insert(
            http::header::CONTENT_LENGTH,
            HeaderValue::from(asset.body.len()),
        );
        r.headers_mut().insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static(asset.content_type),
        );
        r
    };
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(http::header::ETAG, v);
    }
    // Revalidated on each load (a 304 while unchanged), so an upgrade is seen at once.
    h.insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache"),
    );
    secure(h);
    r
}

fn secure(h: &mut http::HeaderMap) {
    h.insert(
        http::header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        http::header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        http::header::X_FRAME_OPTIONS,
        HeaderValue::from_static("DENY"),
    );
    // Presigned URLs the page shows must not leak through a Referer.
    h.insert(
        http::header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

fn plain(status: StatusCode, text: &'static str) -> Response {
    let mut r = http::Response::new(body::full(text));
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    secure(r.headers_mut());
    r
}
