//! Pure routing: which surface a request is for and, for S3, which bucket and key it names.
//! Path style always; virtual-hosted style (`bucket.DOMAIN`) when a base domain is configured.

use http::{Method, Uri};

use crate::web::target::{decode_path, virtual_host_bucket, InvalidUri, S3Target};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Health,
    /// `/storage/metrics`: Prometheus' scrape.
    Metrics,
    /// `/storage/console` and the files under it: the web console.
    Console,
    /// The JSON management surface under `/storage/`.
    Api,
    S3(S3Target),
}

pub const METRICS_PATH: &str = "/storage/metrics";
pub const CONSOLE_PATH: &str = "/storage/console";
pub const CONSOLE_PREFIX: &str = "/storage/console/";

/// The bucket a management path names (`/storage/buckets/{name}…`), for the log line.
pub fn api_bucket(path: &str) -> Option<String> {
    let rest = path.strip_prefix("/storage/buckets/")?;
    let name = rest.split('/').next().filter(|n| !n.is_empty())?;
    decode_path(name).ok()
}

pub fn route(
    method: &Method,
    uri: &Uri,
    host: Option<&str>,
    s3_domain: Option<&str>,
) -> Result<Route, InvalidUri> {
    let path = uri.path();
    if path == "/health" && (method == Method::GET || method == Method::HEAD) {
        return Ok(Route::Health);
    }
    if let Some(bucket) = virtual_host_bucket(host, s3_domain) {
        let rest = path.strip_prefix('/').unwrap_or(path);
        let key = if rest.is_empty() {
            None
        } else {
            Some(decode_path(rest)?)
        };
        return Ok(Route::S3(S3Target {
            bucket: Some(bucket),
            key,
        }));
    }
    if path == METRICS_PATH {
        return Ok(Route::Metrics);
    }
    if path == CONSOLE_PATH || path.starts_with(CONSOLE_PREFIX) {
        return Ok(Route::Console);
    }
    // `/storage` and `/storage/` alone stay S3: bucket `storage`, reserved, never exists.
    if path.len() > "/storage/".len() && path.starts_with("/storage/") {
        return Ok(Route::Api);
    }
    let rest = path.strip_prefix('/').unwrap_or(path);
    if rest.is_empty() {
        return Ok(Route::S3(S3Target {
            bucket: None,
            key: None,
        }));
    }
    let (bucket, key) = match rest.split_once('/') {
        Some((b, k)) => (b, k),
        None => (rest, ""),
    };
    Ok(Route::S3(S3Target {
        bucket: Some(decode_path(bucket)?),
        key: if key.is_empty() {
            None
        } else {
            Some(decode_path(key)?)
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(method: Method, uri: &str, host: Option<&str>, domain: Option<&str>) -> Route {
        route(&method, &uri.parse().unwrap(), host, domain).unwrap()
    }

    fn s3(bucket: Option<&str>, key: Option<&str>) -> Route {
        Route::S3(S3Target {
            bucket: bucket.map(Into::into),
            key: key.map(Into::into),
        })
    }

    #[test]
    fn management_paths_name_their_bucket() {
        assert_eq!(
            api_bucket("/storage/buckets/b1/keys").as_deref(),
            Some("b1")
        );
        assert_eq!(api_bucket("/storage/buckets/b1").as_deref(), Some("b1"));
        assert_eq!(api_bucket("/storage/buckets"), None);
        assert_eq!(api_bucket("/storage/buckets/"), None);
        assert_eq!(api_bucket("/storage/access-keys"), None);
        assert_eq!(
            r(Method::GET, "/storage/metrics", None, None),
            Route::Metrics
        );
        assert_eq!(r(Method::GET, "/storage/metricsx", None, None), Route::Api);
        assert_eq!(
            r(Method::GET, "/storage/console", None, None),
            Route::Console
        );
        assert_eq!(
            r(Method::GET, "/storage/console/app.js", None, None),
            Route::Console
        );
        assert_eq!(r(Method::GET, "/storage/consoles", None, None), Route::Api);
    }

    #[test]
    fn table() {
        let cases: &[(Method, &str, Option<&str>, Route)] = &[
            (Method::GET, "/health", None, Route::Health),
            (Method::GET, "/storage/buckets", None, Route::Api),
            (Method::GET, "/", None, s3(None, None)),
            (Method::PUT, "/b", None, s3(Some("b"), None)),
            (Method::GET, "/b/?list-type=2", None, s3(Some("b"), None)),
            (
                Method::GET,
                "/b/a%20b%2Bc+d",
                None,
                s3(Some("b"), Some("a b+c+d")),
            ),
            (Method::GET, "/b//lead", None, s3(Some("b"), Some("/lead"))),
            (
                Method::GET,
                "/b/x//y/./../z",
                None,
                s3(Some("b"), Some("x//y/./../z")),
            ),
            (Method::GET, "/b/%E2%9C%93", None, s3(Some("b"), Some("✓"))),
            (
                Method::GET,
                "/examplebucket/photos/p.jpg",
                Some("examplebucket.s3.local:9000"),
                s3(Some("examplebucket"), Some("photos/p.jpg")),
            ),
        ];
        for (m, uri, host, want) in cases {
            assert_eq!(&r(m.clone(), uri, *host, None), want, "{uri}");
        }
    }

    #[test]
    fn virtual_hosted() {
        let d = Some("s3.example.com");
        assert_eq!(
            r(Method::GET, "/k/x", Some("bkt.s3.example.com:9000"), d),
            s3(Some("bkt"), Some("k/x"))
        );
        assert_eq!(
            r(Method::GET, "/", Some("bkt.s3.example.com"), d),
            s3(Some("bkt"), None)
        );
        assert_eq!(
            r(Method::GET, "/b/k", Some("s3.example.com"), d),
            s3(Some("b"), Some("k"))
        );
        assert_eq!(
            r(Method::GET, "/b/k", Some("other.com"), d),
            s3(Some("b"), Some("k"))
        );
    }

    #[test]
    fn bad_utf8_is_invalid() {
        assert!(route(&Method::GET, &"/b/%FF".parse().unwrap(), None, None).is_err());
    }
}
