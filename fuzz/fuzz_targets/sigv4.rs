//! A request head (`METHOD URI` then `name: value` lines) through the router, SigV4
//! verification (header and presigned) and S3 operation parsing: an error, never a panic.
#![no_main]

use cnx_storage::auth::{verify_request_or_defer, SecretLookup};
use cnx_storage::s3::endpoint::parse;
use cnx_storage::server::router::{route, Route};
use cnx_storage::web::query::Query;
use libfuzzer_sys::fuzz_target;

struct Keys;

impl SecretLookup for Keys {
    fn secret_for(&self, access_key: &str) -> Option<String> {
        (access_key == "AKIAIOSFODNN7EXAMPLE")
            .then(|| "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".to_owned())
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.split('\n');
    let Some((method, uri)) = lines.next().and_then(|l| l.split_once(' ')) else {
        return;
    };
    let mut req = http::Request::builder().method(method).uri(uri);
    for line in lines {
        if let Some((k, v)) = line.split_once(':') {
            req = req.header(k.trim(), v.trim());
        }
    }
    let Ok(req) = req.body(()) else {
        return;
    };
    let (parts, ()) = req.into_parts();
    let now = time::macros::datetime!(2013-05-24 00:00:00 UTC);
    let _ = verify_request_or_defer(&parts, "us-east-1", &["s3", "cloudnx"], now, &Keys);
    let host = parts
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok());
    if let Ok(Route::S3(target)) = route(&parts.method, &parts.uri, host, Some("s3.example.com")) {
        let q = Query::parse(parts.uri.query());
        let _ = parse(
            &parts.method,
            &target,
            &q,
            parts.headers.contains_key("x-amz-copy-source"),
        );
    }
});
