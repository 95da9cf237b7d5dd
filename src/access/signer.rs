//! Client-side SigV4 with AWS's own signer (aws-sigv4): presigned URLs minted by the
//! management surface, and the header signatures of the `cnx-storage keys` CLI.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest,
    SignatureLocation, SigningSettings, UriPathNormalizationMode,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;

/// One path segment or query value, encoded as SigV4 and S3 expect.
pub fn uri_encode(s: &str) -> String {
    crate::auth::sigv4::uri_encode(s, true)
}

/// An object key as a URL path: each `/`-separated segment encoded, the slashes kept.
pub fn encode_key_path(key: &str) -> String {
    key.split('/').map(uri_encode).collect::<Vec<_>>().join("/")
}

pub struct Signing<'a> {
    pub access_key: &'a str,
    pub secret: &'a str,
    pub region: &'a str,
    pub service: &'a str,
    pub time: SystemTime,
}

fn settings(location: SignatureLocation, expires_in: Option<Duration>) -> SigningSettings {
    let mut s = SigningSettings::default();
    // S3 signs the path as sent: no double encoding, no dot-segment normalisation.
    s.percent_encoding_mode = PercentEncodingMode::Single;
    s.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    s.signature_location = location;
    s.expires_in = expires_in;
    s
}

fn run(
    who: &Signing<'_>,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: SignableBody<'_>,
    settings: SigningSettings,
) -> Result<aws_sigv4::http_request::SigningInstructions, String> {
    let identity: Identity =
        Credentials::new(who.access_key, who.secret, None, None, "cnx-storage").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(who.region)
        .name(who.service)
        .time(who.time)
        .settings(settings)
        .build()
        .map_err(|e| e.to_string())?
        .into();
    let request = SignableRequest::new(method, url, headers.iter().copied(), body)
        .map_err(|e| e.to_string())?;
    Ok(sign(request, &params)
        .map_err(|e| e.to_string())?
        .into_parts()
        .0)
}

/// `url` (already encoded; a query it has is signed too) presigned for `method`; `headers` are signed and
/// must be sent with the URL.
pub fn presign(
    who: &Signing<'_>,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    expires_in: Duration,
) -> Result<String, String> {
    let instructions = run(
        who,
        method,
        url,
        headers,
        SignableBody::UnsignedPayload,
        settings(SignatureLocation::QueryParams, Some(expires_in)),
    )?;
    let query: Vec<String> = instructions
        .params()
        .iter()
        .map(|(k, v)| format!("{}={}", uri_encode(k), uri_encode(v)))
        .collect();
    let sep = if url.contains('?') { '&' } else { '?' };
    Ok(format!("{url}{sep}{}", query.join("&")))
}

/// The headers that sign a request whose body is `body` (`url` already encoded).
pub fn sign_headers(
    who: &Signing<'_>,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<Vec<(String, String)>, String> {
    let instructions = run(
        who,
        method,
        url,
        headers,
        SignableBody::Bytes(body),
        settings(SignatureLocation::Headers, None),
    )?;
    Ok(instructions
        .headers()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect())
}

/// What `x-amz-content-sha256` says about an S3 request's body.
pub enum Payload<'a> {
    /// The whole body, hashed here.
    Bytes(&'a [u8]),
    /// The body's SHA-256, in hex, hashed by the caller while it streamed.
    Sha256(String),
    /// `UNSIGNED-PAYLOAD`: the body is not covered by the signature.
    Unsigned,
}

/// The headers that sign an S3 request (`x-amz-content-sha256` included, as S3 requires).
pub fn sign_s3_headers(
    who: &Signing<'_>,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    payload: Payload<'_>,
) -> Result<Vec<(String, String)>, String> {
    let body = match payload {
        Payload::Bytes(b) => SignableBody::Bytes(b),
        Payload::Sha256(hex) => SignableBody::Precomputed(hex),
        Payload::Unsigned => SignableBody::UnsignedPayload,
    };
    let mut s = settings(SignatureLocation::Headers, None);
    s.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    let instructions = run(who, method, url, headers, body, s)?;
    Ok(instructions
        .headers()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::SecretLookup;

    struct One;
    impl SecretLookup for One {
        fn secret_for(&self, access_key: &str) -> Option<String> {
            (access_key == "AK").then(|| "SK".to_owned())
        }
    }

    #[test]
    fn presigned_urls_verify_with_our_verifier() {
        let now = SystemTime::now();
        let who = Signing {
            access_key: "AK",
            secret: "SK",
            region: "in-mum",
            service: "s3",
            time: now,
        };
        let key = "dir/a b+c%/ü.txt";
        let url = format!("http://127.0.0.1:9000/bkt/{}", encode_key_path(key));
        let signed = presign(&who, "GET", &url, &[], Duration::from_secs(60)).unwrap();
        assert!(signed.contains("X-Amz-Signature="));
        let uri: http::Uri = signed.parse().unwrap();
        let req = http::Request::get(uri)
            .header("host", "127.0.0.1:9000")
            .body(())
            .unwrap();
        let (parts, _) = req.into_parts();
        let v = crate::auth::verify_request(
            &parts,
            "in-mum",
            &["s3"],
            time::OffsetDateTime::from(now),
            &One,
        )
        .unwrap()
        .unwrap();
        assert_eq!(v.access_key, "AK");
        assert!(v.presigned);
    }

    #[test]
    fn keys_encode_per_segment() {
        assert_eq!(encode_key_path("a b/c+d/~x"), "a%20b/c%2Bd/~x");
    }
}
