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
