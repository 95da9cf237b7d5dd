//! Requests signed in the `Authorization` header.

use super::*;

pub(super) fn verify_header_auth(
    parts: &http::request::Parts,
    auth_value: &str,
    raw_query: &str,
    region: &str,
    services: &[&str],
    now: OffsetDateTime,
    lookup: &dyn SecretLookup,
) -> Result<Verification, AuthError> {
    let auth = parse_authorization(auth_value)?;
    let cred = parse_credential(auth.credential).ok_or_else(|| {
        header_malformed(
            "the Credential is mal-formed; expecting \
             \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".",
        )
    })?;
    if let Some(problem) = scope_problem(&cred, region, services) {
        return Err(header_malformed(&problem));
    }
    let signed = parse_signed_headers(auth.signed_headers)
        .ok_or_else(|| header_malformed("invalid SignedHeaders."))?;
    check_all_signed(&parts.headers, &signed)?;

    let t = request_time(&parts.headers)?;
    let amz_date = format_amz_date(t);
    if amz_date.get(..8) != Some(cred.date) {
        return Err(header_malformed(
            "Invalid credential date. Date is not the same as X-Amz-Date.",
        ));
    }
    if (now - t).abs() > MAX_SKEW {
        return Err(AuthError::RequestTimeTooSkewed);
    }

    let payload = match parts.headers.get(CONTENT_SHA256) {
        Some(v) => {
            let hash = v.to_str().map_err(|_| invalid_content_sha256())?.trim();
            Some((PayloadMode::parse(hash)?, hash.to_owned()))
        }
        None if cred.service == "s3" => {
            return Err(AuthError::InvalidRequest(MISSING_CONTENT_SHA256.to_owned()))
        }
        None => None,
    };

    let ctx = SigContext::new(
        parts,
        lookup,
        &cred,
        amz_date,
        canonical_query_candidates(raw_query, false),
        &signed,
        auth.signed_headers,
        auth.signature,
    )?;
    match payload {
        Some((mode, hash_str)) => {
            let computed = ctx.check(&hash_str)?;
            Ok(Verification::Verified(ctx.verified(mode, computed, false)))
        }
        None => Ok(Verification::NeedsBodyHash(Pending { ctx })),
    }
}
