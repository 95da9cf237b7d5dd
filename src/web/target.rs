//! What an S3 request names: its bucket and key, decoded from the path.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Target {
    pub bucket: Option<String>,
    /// Percent-decoded; `None` for service and bucket requests.
    pub key: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the request path is not valid percent-encoded UTF-8")]
pub struct InvalidUri;

/// Decodes `%XX` escapes (a literal `+` stays a plus) into UTF-8.
pub fn decode_path(s: &str) -> Result<String, InvalidUri> {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| InvalidUri)
}

/// `bucket.DOMAIN[:port]` → `bucket`, matched against the configured base domain only.
pub fn virtual_host_bucket(host: Option<&str>, domain: Option<&str>) -> Option<String> {
    let (host, domain) = (host?, domain?);
    let host = match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    };
    let host = host.to_ascii_lowercase();
    let bucket = host.strip_suffix(domain)?.strip_suffix('.')?;
    (!bucket.is_empty()).then(|| bucket.to_owned())
}

/// The host a request names: its `Host` header, else the authority of its target.
pub fn request_host(parts: &http::request::Parts) -> Option<&str> {
    parts
        .headers
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| parts.uri.authority().map(|a| a.as_str()))
}
