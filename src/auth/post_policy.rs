//! The signature of a browser POST upload: the form carries a base64 policy document and its
//! signature, SigV4 (`x-amz-algorithm`, `x-amz-credential`, `x-amz-date`, `x-amz-signature`:
//! hex HMAC-SHA256 of the policy under the scope's signing key) or, when the server accepts
//! Signature V2, `AWSAccessKeyId` and `signature` (base64 HMAC-SHA1 of the policy). What the
//! policy allows is checked by the S3 surface once the signature holds.

use base64::Engine as _;
use subtle::ConstantTimeEq;

use super::parse::{parse_credential, scope_problem};
use super::sigv2::hmac_sha1;
use super::sigv4::{hmac_sha256, parse_amz_date, signature_matches, signing_key, ALGORITHM};
use super::{AuthError, SecretLookup};

/// The form fields that authenticate a POST upload, names lowercased.
pub trait PostFields {
    fn field(&self, lowercase_name: &str) -> Option<&str>;
}

fn missing(name: &str) -> AuthError {
    AuthError::InvalidArgument(format!(
        "Bucket POST must contain a field named '{name}'.  If it is specified, please check the order of the fields."
    ))
}

/// Verifies the policy's signature and returns the access key that signed it. `sigv2` allows
/// the V2 form. The caller has already refused a form without a policy.
pub fn verify_post_signature(
    fields: &dyn PostFields,
    policy_b64: &str,
    region: &str,
    sigv2: bool,
    lookup: &dyn SecretLookup,
) -> Result<String, AuthError> {
    if fields.field("x-amz-signature").is_none() && fields.field("x-amz-algorithm").is_none() {
        if let Some(ak) = fields.field("awsaccesskeyid") {
            if !sigv2 {
                return Err(AuthError::InvalidRequest(
                    "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256."
                        .to_owned(),
                ));
            }
            let sig = fields
                .field("signature")
                .ok_or_else(|| missing("signature"))?;
            return verify_v2(ak, sig, policy_b64, lookup);
        }
    }
    let algorithm = fields
        .field("x-amz-algorithm")
        .ok_or_else(|| missing("x-amz-algorithm"))?;
    if algorithm != ALGORITHM {
        return Err(AuthError::InvalidArgument(format!(
            "X-Amz-Algorithm only supports \"{ALGORITHM}\""
        )));
    }
    let credential = fields
        .field("x-amz-credential")
        .ok_or_else(|| missing("x-amz-credential"))?;
    let date = fields
        .field("x-amz-date")
        .ok_or_else(|| missing("x-amz-date"))?;
    let signature = fields
        .field("x-amz-signature")
        .ok_or_else(|| missing("x-amz-signature"))?;
    let cred = parse_credential(credential).ok_or_else(|| {
        AuthError::InvalidArgument(format!(
            "Invalid argument: x-amz-credential '{credential}' is malformed"
        ))
    })?;
    if let Some(problem) = scope_problem(&cred, region, &["s3"]) {
        return Err(AuthError::InvalidArgument(format!(
            "Invalid argument: x-amz-credential: {problem}"
        )));
    }
    parse_amz_date(date).ok_or_else(|| {
        AuthError::InvalidArgument("Invalid argument: x-amz-date is malformed".to_owned())
    })?;
    if !date.starts_with(cred.date) {
        return Err(AuthError::InvalidArgument(
            "Invalid argument: x-amz-date does not match the credential's date".to_owned(),
        ));
    }
    let secret = lookup
        .secret_for(cred.access_key)
        .ok_or(AuthError::InvalidAccessKeyId)?;
    let key = signing_key(&secret, cred.date, cred.region, cred.service);
    let computed = hmac_sha256(&key, policy_b64.as_bytes());
    if !signature_matches(&computed, signature.trim()) {
        return Err(AuthError::SignatureDoesNotMatch);
    }
    Ok(cred.access_key.to_owned())
}

fn verify_v2(
    access_key: &str,
    signature: &str,
    policy_b64: &str,
    lookup: &dyn SecretLookup,
) -> Result<String, AuthError> {
    let provided = base64::engine::general_purpose::STANDARD
        .decode(signature.trim())
        .map_err(|_| AuthError::SignatureDoesNotMatch)?;
    let secret = lookup
        .secret_for(access_key)
        .ok_or(AuthError::InvalidAccessKeyId)?;
    let computed = hmac_sha1(secret.as_bytes(), policy_b64.as_bytes());
    if !bool::from(computed.ct_eq(&provided)) {
        return Err(AuthError::SignatureDoesNotMatch);
    }
    Ok(access_key.to_owned())
}
