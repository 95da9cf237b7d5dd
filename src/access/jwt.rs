//! RS256 bearer tokens: the platform's JWTs, whose `sub` is the account.
//!
//! Only RS256 is accepted, whatever the token's header claims; `exp` is required and `nbf`
//! honoured (30 s leeway for clock skew).

use std::path::Path;

use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use crate::config::JwtConfig;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JwtError {
    #[error("bearer tokens are not accepted: no JWT public key is configured")]
    NotConfigured,
    #[error("the token is not a JWT")]
    Malformed,
    #[error("the token is signed with {0}; only RS256 is accepted")]
    Algorithm(String),
    #[error("no configured key matches the token's key id")]
    UnknownKey,
    #[error("invalid token: {0}")]
    Invalid(String),
    #[error("the token's `sub` is not a usable account name")]
    Subject,
}

pub struct JwtVerifier {
    keys: Vec<(Option<String>, DecodingKey)>,
    validation: Validation,
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

impl JwtVerifier {
    /// `None` when no key is configured: bearer tokens are then refused.
    pub fn load(cfg: &JwtConfig) -> Result<Option<Self>, String> {
        let mut keys = Vec::new();
        if let Some(p) = &cfg.public_key {
            let key = DecodingKey::from_rsa_pem(&read(p)?)
                .map_err(|e| format!("{}: not an RSA public key in PEM: {e}", p.display()))?;
            keys.push((None, key));
        }
        if let Some(p) = &cfg.jwks {
            let set: jsonwebtoken::jwk::JwkSet = serde_json::from_slice(&read(p)?)
                .map_err(|e| format!("{}: not a JWKS document: {e}", p.display()))?;
            for jwk in &set.keys {
                let rsa = matches!(
                    jwk.algorithm,
                    jsonwebtoken::jwk::AlgorithmParameters::RSA(_)
                );
                let alg_ok = jwk
                    .common
                    .key_algorithm
                    .is_none_or(|a| matches!(a, jsonwebtoken::jwk::KeyAlgorithm::RS256));
                if rsa && alg_ok {
                    let key = DecodingKey::from_jwk(jwk)
                        .map_err(|e| format!("{}: unusable key: {e}", p.display()))?;
                    keys.push((jwk.common.key_id.clone(), key));
                }
            }
            if keys.is_empty() {
                return Err(format!("{}: holds no RS256 key", p.display()));
            }
        }
        if keys.is_empty() {
            return Ok(None);
        }
        let mut validation = Validation::new(Algorithm::RS256);
        validation.leeway = 30;
        validation.validate_nbf = true;
        // jsonwebtoken checks `iss`/`aud` only when present unless they are required.
        let mut required = vec!["exp", "sub"];
        if cfg.issuer.is_some() {
            required.push("iss");
        }
        if cfg.audience.is_some() {
            required.push("aud");
        }
        validation.set_required_spec_claims(&required);
        validation.validate_aud = cfg.audience.is_some();
        if let Some(aud) = &cfg.audience {
            validation.set_audience(&[aud]);
        }
        if let Some(iss) = &cfg.issuer {
            validation.set_issuer(&[iss]);
        }
        Ok(Some(Self { keys, validation }))
    }

    /// The account (`sub`) of a valid token.
    pub fn verify(&self, token: &str) -> Result<String, JwtError> {
        let header = decode_header(token).map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::Json(_)
            | jsonwebtoken::errors::ErrorKind::Base64(_)
            | jsonwebtoken::errors::ErrorKind::Utf8(_)
            | jsonwebtoken::errors::ErrorKind::InvalidToken => JwtError::Malformed,
            // An `alg` jsonwebtoken has no name for (`none`, …) fails header parsing.
            _ => JwtError::Algorithm("an unsupported algorithm".into()),
        })?;
        if header.alg != Algorithm::RS256 {
            return Err(JwtError::Algorithm(format!("{:?}", header.alg)));
        }
        let candidates: Vec<&DecodingKey> = match &header.kid {
            Some(kid) if self.keys.iter().any(|(k, _)| k.as_ref() == Some(kid)) => self
                .keys
                .iter()
                .filter(|(k, _)| k.as_ref() == Some(kid))
                .map(|(_, key)| key)
                .collect(),
            Some(_) if self.keys.iter().all(|(k, _)| k.is_some()) => {
                return Err(JwtError::UnknownKey)
            }
            _ => self.keys.iter().map(|(_, key)| key).collect(),
        };
        let mut last = JwtError::UnknownKey;
        for key in candidates {
            match decode::<Claims>(token, key, &self.validation) {
                Ok(data) => {
                    let sub = data.claims.sub;
                    return if super::valid_account_name(&sub) {
                        Ok(sub)
                    } else {
                        Err(JwtError::Subject)
                    };
                }
                Err(e) => last = JwtError::Invalid(e.to_string()),
            }
        }
        Err(last)
    }
}
