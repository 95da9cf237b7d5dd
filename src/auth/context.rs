//! What header-signed and presigned requests share: the signed-header rule, and the canonical
//! request built from the parts that do not depend on the payload hash.

use super::*;

/// The only `x-amz-*` header S3 lets through unsigned: it restates the payload hash that is
/// part of the signature anyway.
pub(super) const UNSIGNED_ALLOWED: &str = "x-amz-content-sha256";

/// S3's rule for both header-signed and presigned requests: `host` and every `x-amz-*`
/// header present must be signed, so no one who merely holds a request (a presigned URL,
/// a captured plain-HTTP request) can add a header that chooses the operation
/// (`x-amz-copy-source`) or changes what is stored (`x-amz-meta-*`, checksums, tagging).
pub(super) fn check_all_signed(
    headers: &http::HeaderMap,
    signed: &[String],
) -> Result<(), AuthError> {
    let mut unsigned: Vec<String> = Vec::new();
    if !signed.iter().any(|h| h == "host") {
        unsigned.push("host".to_owned());
    }
    for name in headers.keys() {
        let n = name.as_str();
        if n.starts_with("x-amz-") && n != UNSIGNED_ALLOWED && !signed.iter().any(|h| h == n) {
            unsigned.push(n.to_owned());
        }
    }
    unsigned.sort();
    if unsigned.is_empty() {
        Ok(())
    } else {
        Err(AuthError::HeadersNotSigned(unsigned))
    }
}

/// The parts of a canonical request that do not depend on the payload hash.
pub(super) struct SigContext {
    pub(super) access_key: String,
    pub(super) key: [u8; 32],
    pub(super) amz_date: String,
    pub(super) scope: String,
    pub(super) method: String,
    pub(super) uri_candidates: Vec<String>,
    pub(super) query_candidates: Vec<String>,
    pub(super) headers: String,
    pub(super) signed_headers: String,
    pub(super) provided_signature: String,
}

impl SigContext {
    /// Everything but the payload hash, for header and presigned requests alike.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new(
        parts: &http::request::Parts,
        lookup: &dyn SecretLookup,
        cred: &Credential<'_>,
        amz_date: String,
        query_candidates: Vec<String>,
        signed: &[String],
        signed_headers: &str,
        signature: &str,
    ) -> Result<Self, AuthError> {
        let secret = lookup
            .secret_for(cred.access_key)
            .ok_or(AuthError::InvalidAccessKeyId)?;
        Ok(SigContext {
            access_key: cred.access_key.to_owned(),
            key: signing_key(&secret, cred.date, cred.region, cred.service),
            amz_date,
            scope: format!(
                "{}/{}/{}/aws4_request",
                cred.date, cred.region, cred.service
            ),
            method: parts.method.as_str().to_owned(),
            uri_candidates: canonical_uri_candidates(parts.uri.path()),
            query_candidates,
            headers: canonical_headers(
                &parts.headers,
                signed,
                parts.uri.authority().map(|a| a.as_str()),
            )?,
            signed_headers: signed_headers.to_owned(),
            provided_signature: signature.to_owned(),
        })
    }

    /// Returns the computed signature when one canonical URI and query candidate matches.
    pub(super) fn check(&self, payload_hash: &str) -> Result<[u8; 32], AuthError> {
        for uri in &self.uri_candidates {
            for query in &self.query_candidates {
                let cr = canonical_request(
                    &self.method,
                    uri,
                    query,
                    &self.headers,
                    &self.signed_headers,
                    payload_hash,
                );
                let sts = string_to_sign(&self.amz_date, &self.scope, &cr);
                let computed = hmac_sha256(&self.key, sts.as_bytes());
                if signature_matches(&computed, &self.provided_signature) {
                    return Ok(computed);
                }
            }
        }
        Err(AuthError::SignatureDoesNotMatch)
    }

    pub(super) fn verified(
        &self,
        payload: PayloadMode,
        computed: [u8; 32],
        presigned: bool,
    ) -> Verified {
        let chunk_signer = match payload {
            PayloadMode::StreamingSigned { .. } => Some(ChunkSigner::new(
                self.key,
                self.amz_date.clone(),
                self.scope.clone(),
                hex::encode(computed),
            )),
            _ => None,
        };
        Verified {
            access_key: self.access_key.clone(),
            payload,
            chunk_signer,
            presigned,
            sigv2: false,
        }
    }
}
