//! Presigned requests: the signature and its parameters in the query string.

use super::*;

pub(super) fn query_error(msg: impl Into<String>) -> AuthError {
    AuthError::AuthorizationQueryParametersError(msg.into())
}

/// The one value of query parameter `name`; refused if given twice.
fn param<'p>(
    params: &'p [(String, String)],
    name: &str,
    ignore_case: bool,
) -> Result<Option<&'p str>, AuthError> {
    let mut found = params.iter().filter(|(k, _)| {
        if ignore_case {
            k.eq_ignore_ascii_case(name)
        } else {
            k == name
        }
    });
    let first = found.next().map(|(_, v)| v.as_str());
    if found.next().is_some() {
        return Err(query_error(format!("{name} must be specified only once.")));
    }
    Ok(first)
}

/// `X-Amz-Expires`: whole seconds, from 1 to a week.
fn parse_expires(expires: &str) -> Result<u64, AuthError> {
    if expires.is_empty() || !expires.bytes().all(|b| b.is_ascii_digit()) {
        return Err(query_error("X-Amz-Expires should be a number"));
    }
    let expires: u64 = expires.parse().unwrap_or(u64::MAX);
    if expires == 0 {
        return Err(query_error("X-Amz-Expires must be greater than 0"));
    }
    if expires > MAX_PRESIGNED_EXPIRES {
        return Err(query_error(
            "X-Amz-Expires must be less than a week (in seconds) that is 604800",
        ));
    }
    Ok(expires)
}

pub(super) fn verify_presigned(
    parts: &http::request::Parts,
    params: &[(String, String)],
    raw_query: &str,
    region: &str,
    services: &[&str],
    now: OffsetDateTime,
    lookup: &dyn SecretLookup,
) -> Result<Verified, AuthError> {
    let get = |name: &str, ignore_case: bool| param(params, name, ignore_case);
    let required = |name: &str| -> Result<&str, AuthError> {
        get(name, false)?.ok_or_else(|| query_error(QUERY_PARAMS_REQUIRED))
    };
    let algorithm = required("X-Amz-Algorithm")?;
    let credential = required("X-Amz-Credential")?;
    let date = required("X-Amz-Date")?;
    let expires = required("X-Amz-Expires")?;
    let signed_headers = required("X-Amz-SignedHeaders")?;
    let signature = required("X-Amz-Signature")?;
    if algorithm != ALGORITHM {
        return Err(query_error(
            "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"",
        ));
    }
    let cred = parse_credential(credential).ok_or_else(|| {
        query_error(
            "Error parsing the X-Amz-Credential parameter; the Credential is mal-formed; \
             expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".",
        )
    })?;
    if let Some(problem) = scope_problem(&cred, region, services) {
        return Err(query_error(format!(
            "Error parsing the X-Amz-Credential parameter; {problem}"
        )));
    }
    let t = parse_amz_date(date).ok_or_else(|| {
        query_error("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"")
    })?;
    if date.get(..8) != Some(cred.date) {
        return Err(query_error(
            "Invalid credential date. Date is not the same as X-Amz-Date.",
        ));
    }
    let expires = parse_expires(expires)?;
    let signed = parse_signed_headers(signed_headers)
        .ok_or_else(|| query_error("X-Amz-SignedHeaders is invalid."))?;
    check_all_signed(&parts.headers, &signed)?;
    if t - now > MAX_SKEW {
        return Err(AuthError::RequestTimeTooSkewed);
    }
    // expires ≤ 604800, so the conversion cannot fail.
    let lifetime = Duration::seconds(i64::try_from(expires).unwrap_or(i64::MAX));
    if now > t + lifetime {
        return Err(AuthError::AccessDenied("Request has expired".to_owned()));
    }
    let payload_hash = get(CONTENT_SHA256, true)?.unwrap_or(UNSIGNED_PAYLOAD);
    let mode = PayloadMode::parse(payload_hash)?;

    let ctx = SigContext::new(
        parts,
        lookup,
        &cred,
        date.to_owned(),
        canonical_query_candidates(raw_query, true),
        &signed,
        signed_headers,
        signature,
    )?;
    let computed = ctx.check(payload_hash)?;
    Ok(ctx.verified(mode, computed, true))
}
