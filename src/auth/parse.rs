//! Parsing the pieces of a SigV4 request: credential scope, signed headers, the
//! Authorization header, query strings and dates.

use super::*;

pub(super) const QUERY_PARAMS_REQUIRED: &str =
    "Query-string authentication version 4 requires the \
    X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, \
    and X-Amz-Expires parameters.";
pub(super) const NO_VALID_DATE: &str =
    "AWS authentication requires a valid Date or x-amz-date header";

pub(super) struct Credential<'a> {
    pub(super) access_key: &'a str,
    pub(super) date: &'a str,
    pub(super) region: &'a str,
    pub(super) service: &'a str,
}

/// `AK/YYYYMMDD/REGION/SERVICE/aws4_request`
pub(super) fn parse_credential(s: &str) -> Option<Credential<'_>> {
    let mut it = s.rsplitn(5, '/');
    let terminator = it.next()?;
    let service = it.next()?;
    let region = it.next()?;
    let date = it.next()?;
    let access_key = it.next()?;
    let date_ok = date.len() == 8 && date.bytes().all(|b| b.is_ascii_digit());
    if terminator != "aws4_request"
        || !date_ok
        || access_key.is_empty()
        || region.is_empty()
        || service.is_empty()
    {
        return None;
    }
    Some(Credential {
        access_key,
        date,
        region,
        service,
    })
}

/// Why a credential scope does not name this server's region and one of its services.
pub(super) fn scope_problem(
    cred: &Credential<'_>,
    region: &str,
    services: &[&str],
) -> Option<String> {
    if cred.region != region {
        return Some(format!(
            "the region '{}' is wrong; expecting '{region}'",
            cred.region
        ));
    }
    if !services.contains(&cred.service) {
        return Some(format!(
            "incorrect service '{}'. This endpoint belongs to '{}'.",
            cred.service,
            services.first().copied().unwrap_or("")
        ));
    }
    None
}

/// Lowercased signed header names; `None` if empty or containing an empty name.
pub(super) fn parse_signed_headers(s: &str) -> Option<Vec<String>> {
    let names: Vec<String> = s.split(';').map(str::to_ascii_lowercase).collect();
    if names.iter().any(String::is_empty) {
        return None;
    }
    Some(names)
}

pub(super) struct AuthHeader<'a> {
    pub(super) credential: &'a str,
    pub(super) signed_headers: &'a str,
    pub(super) signature: &'a str,
}

pub(super) fn header_malformed(detail: &str) -> AuthError {
    AuthError::AuthorizationHeaderMalformed(format!(
        "The authorization header is malformed; {detail}"
    ))
}

pub(super) fn parse_authorization(value: &str) -> Result<AuthHeader<'_>, AuthError> {
    let value = value.trim();
    let rest = match value.strip_prefix(ALGORITHM) {
        Some(rest) if rest.starts_with([' ', '\t', ',']) => rest,
        _ => {
            return Err(AuthError::InvalidArgument(
                "Unsupported Authorization Type".to_owned(),
            ))
        }
    };
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for token in rest.split([',', ' ', '\t']).filter(|t| !t.is_empty()) {
        let (name, val) = token
            .split_once('=')
            .ok_or_else(|| header_malformed("expected name=value components."))?;
        let slot = match name {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            _ => return Err(header_malformed("unexpected component.")),
        };
        if slot.replace(val).is_some() {
            return Err(header_malformed("duplicate component."));
        }
    }
    Ok(AuthHeader {
        credential: credential.ok_or_else(|| header_malformed("missing Credential."))?,
        signed_headers: signed_headers.ok_or_else(|| header_malformed("missing SignedHeaders."))?,
        signature: signature.ok_or_else(|| header_malformed("missing Signature."))?,
    })
}

/// Request time from `x-amz-date` (ISO 8601 basic, or RFC 1123 as SigV2-era clients
/// send it), falling back to `Date` only when `x-amz-date` is absent.
pub(super) fn request_time(headers: &http::HeaderMap) -> Result<OffsetDateTime, AuthError> {
    let denied = || AuthError::AccessDenied(NO_VALID_DATE.to_owned());
    if let Some(v) = headers.get("x-amz-date") {
        let v = v.to_str().map_err(|_| denied())?.trim();
        return parse_amz_date(v)
            .or_else(|| parse_http_date(v))
            .ok_or_else(denied);
    }
    let v = headers.get(http::header::DATE).ok_or_else(denied)?;
    parse_http_date(v.to_str().map_err(|_| denied())?.trim()).ok_or_else(denied)
}

/// An HTTP date (`Tue, 27 Mar 2007 19:36:42 GMT`), or RFC 2822 with a numeric zone
/// (`... +0000`), which s3cmd sends.
pub(super) fn parse_http_date(s: &str) -> Option<OffsetDateTime> {
    httpdate::parse_http_date(s)
        .ok()
        .map(OffsetDateTime::from)
        .or_else(|| OffsetDateTime::parse(s, &time::format_description::well_known::Rfc2822).ok())
}
