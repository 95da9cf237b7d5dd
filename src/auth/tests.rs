#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::sigv4::{sha256_hex, uri_encode, EMPTY_SHA256_HEX};
use super::*;
use std::collections::HashMap;

const AK: &str = "AKIAIOSFODNN7EXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const REGION: &str = "us-east-1";

struct Keys(HashMap<String, String>);
impl SecretLookup for Keys {
    fn secret_for(&self, access_key: &str) -> Option<String> {
        self.0.get(access_key).cloned()
    }
}
fn keys() -> Keys {
    Keys(HashMap::from([(AK.to_owned(), SECRET.to_owned())]))
}

fn t(s: &str) -> OffsetDateTime {
    parse_amz_date(s).unwrap()
}
fn example_now() -> OffsetDateTime {
    t("20130524T000000Z")
}

fn parts(method: &str, uri: &str, headers: &[(&str, &str)]) -> http::request::Parts {
    let mut b = http::Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(()).unwrap().into_parts().0
}

fn verify(p: &http::request::Parts, now: OffsetDateTime) -> Result<Option<Verified>, AuthError> {
    verify_request(p, REGION, &["s3"], now, &keys())
}

/// Test-side signer: builds the Authorization header for `p` the way an SDK does.
fn auth_header(
    p: &http::request::Parts,
    signed: &str,
    payload_hash: &str,
    canonical_uri: &str,
    secret: &str,
    scope_region: &str,
    service: &str,
) -> String {
    let amz_date = p.headers["x-amz-date"].to_str().unwrap().to_owned();
    let date = &amz_date[..8];
    let names: Vec<String> = signed.split(';').map(str::to_owned).collect();
    let ch = canonical_headers(&p.headers, &names, p.uri.authority().map(|a| a.as_str())).unwrap();
    let cq = sigv4::canonical_query(p.uri.query().unwrap_or(""), false);
    let cr = canonical_request(
        p.method.as_str(),
        canonical_uri,
        &cq,
        &ch,
        signed,
        payload_hash,
    );
    let scope = format!("{date}/{scope_region}/{service}/aws4_request");
    let key = signing_key(secret, date, scope_region, service);
    let sig = hex::encode(hmac_sha256(
        &key,
        string_to_sign(&amz_date, &scope, &cr).as_bytes(),
    ));
    format!("AWS4-HMAC-SHA256 Credential={AK}/{scope}, SignedHeaders={signed}, Signature={sig}")
}

fn signed_get(uri: &str, amz_date: &str, canonical_uri: &str) -> http::request::Parts {
    let mut p = parts(
        "GET",
        uri,
        &[
            ("host", "localhost:9000"),
            ("x-amz-date", amz_date),
            ("x-amz-content-sha256", EMPTY_SHA256_HEX),
        ],
    );
    let h = auth_header(
        &p,
        "host;x-amz-content-sha256;x-amz-date",
        EMPTY_SHA256_HEX,
        canonical_uri,
        SECRET,
        REGION,
        "s3",
    );
    p.headers.insert("authorization", h.parse().unwrap());
    p
}

const GET_OBJECT_AUTH: &str = "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41";

fn get_object_example(auth: &str) -> http::request::Parts {
    parts(
        "GET",
        "/test.txt",
        &[
            ("host", "examplebucket.s3.amazonaws.com"),
            ("range", "bytes=0-9"),
            ("x-amz-content-sha256", EMPTY_SHA256_HEX),
            ("x-amz-date", "20130524T000000Z"),
            ("authorization", auth),
        ],
    )
}

#[test]
fn aws_get_object_example_verifies() {
    let v = verify(&get_object_example(GET_OBJECT_AUTH), example_now())
        .unwrap()
        .unwrap();
    assert_eq!(v.access_key, AK);
    assert_eq!(
        v.payload,
        PayloadMode::Sha256(hex::decode(EMPTY_SHA256_HEX).unwrap().try_into().unwrap())
    );
    assert!(v.chunk_signer.is_none() && !v.presigned);
    assert!(v
        .payload
        .check_body_sha256(&sha2::Sha256::digest(b"").into())
        .is_ok());
    assert!(matches!(
        v.payload
            .check_body_sha256(&sha2::Sha256::digest(b"x").into()),
        Err(AuthError::XAmzContentSHA256Mismatch)
    ));
    // Spacing variations of the Authorization header.
    for variant in [
        GET_OBJECT_AUTH.replace(',', ", "),
        GET_OBJECT_AUTH.replace(',', " ,  "),
        GET_OBJECT_AUTH.replace("SHA256 ", "SHA256   "),
        format!("  {GET_OBJECT_AUTH}  "),
    ] {
        assert!(
            verify(&get_object_example(&variant), example_now())
                .unwrap()
                .is_some(),
            "{variant}"
        );
    }
}

use sha2::Digest;

#[test]
fn header_auth_failures() {
    let now = example_now();
    // Wrong secret.
    let other = Keys(HashMap::from([(AK.to_owned(), "nope".to_owned())]));
    assert!(matches!(
        verify_request(
            &get_object_example(GET_OBJECT_AUTH),
            REGION,
            &["s3"],
            now,
            &other
        ),
        Err(AuthError::SignatureDoesNotMatch)
    ));
    // Unknown access key.
    let empty = Keys(HashMap::new());
    assert!(matches!(
        verify_request(
            &get_object_example(GET_OBJECT_AUTH),
            REGION,
            &["s3"],
            now,
            &empty
        ),
        Err(AuthError::InvalidAccessKeyId)
    ));
    // Tampered signed header.
    let mut p = get_object_example(GET_OBJECT_AUTH);
    p.headers.insert("range", "bytes=0-10".parse().unwrap());
    assert!(matches!(
        verify(&p, now),
        Err(AuthError::SignatureDoesNotMatch)
    ));
    // Unsigned standard headers may be added; unsigned x-amz-* ones may not.
    let mut p = get_object_example(GET_OBJECT_AUTH);
    p.headers
        .insert("content-type", "text/plain".parse().unwrap());
    assert!(verify(&p, now).unwrap().is_some());
    p.headers.insert("x-amz-request-id", "abc".parse().unwrap());
    assert!(matches!(
        verify(&p, now),
        Err(AuthError::HeadersNotSigned(_))
    ));
    // Tampered method and path.
    let mut p = get_object_example(GET_OBJECT_AUTH);
    p.method = http::Method::DELETE;
    assert!(matches!(
        verify(&p, now),
        Err(AuthError::SignatureDoesNotMatch)
    ));
    let mut p = get_object_example(GET_OBJECT_AUTH);
    p.uri = "/test.txt?acl".parse().unwrap();
    assert!(matches!(
        verify(&p, now),
        Err(AuthError::SignatureDoesNotMatch)
    ));
    // Signed header missing from the request.
    let mut p = get_object_example(GET_OBJECT_AUTH);
    p.headers.remove("range");
    assert!(matches!(
        verify(&p, now),
        Err(AuthError::SignatureDoesNotMatch)
    ));
    // Skew.
    let p = get_object_example(GET_OBJECT_AUTH);
    assert!(verify(&p, now + Duration::minutes(14)).unwrap().is_some());
    assert!(verify(&p, now - Duration::minutes(14)).unwrap().is_some());
    assert!(matches!(
        verify(&p, now + Duration::minutes(16)),
        Err(AuthError::RequestTimeTooSkewed)
    ));
    assert!(matches!(
        verify(&p, now - Duration::minutes(16)),
        Err(AuthError::RequestTimeTooSkewed)
    ));
    // Region.
    let e = verify_request(&p, "eu-west-1", &["s3"], now, &keys()).unwrap_err();
    assert_eq!(code(&e), "AuthorizationHeaderMalformed");
    assert_eq!(
        e.to_string(),
        "The authorization header is malformed; the region 'us-east-1' is wrong; expecting 'eu-west-1'"
    );
    // Service.
    let e = verify_request(&p, REGION, &["cloudnx"], now, &keys()).unwrap_err();
    assert!(
        matches!(e, AuthError::AuthorizationHeaderMalformed(_)),
        "{e:?}"
    );
    // Missing x-amz-content-sha256 for s3.
    let mut p = get_object_example(GET_OBJECT_AUTH);
    p.headers.remove("x-amz-content-sha256");
    let e = verify(&p, now).unwrap_err();
    assert_eq!(
        (code(&e), e.to_string().as_str()),
        ("InvalidRequest", MISSING_CONTENT_SHA256)
    );
    // Invalid x-amz-content-sha256 value.
    let mut p = get_object_example(GET_OBJECT_AUTH);
    p.headers
        .insert("x-amz-content-sha256", "nonsense".parse().unwrap());
    assert!(matches!(
        verify(&p, now),
        Err(AuthError::InvalidArgument(_))
    ));
    // Scope date differs from x-amz-date.
    let p = get_object_example(&GET_OBJECT_AUTH.replace("/20130524/", "/20130525/"));
    assert!(matches!(
        verify(&p, now),
        Err(AuthError::AuthorizationHeaderMalformed(_))
    ));
    // No date at all.
    let mut p = get_object_example(GET_OBJECT_AUTH);
    p.headers.remove("x-amz-date");
    assert!(matches!(verify(&p, now), Err(AuthError::AccessDenied(_))));
    // Malformed headers.
    for bad in [
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host",
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3, SignedHeaders=host, Signature=00",
        "AWS4-HMAC-SHA256 Credential=a/b/c/d/e, SignedHeaders=host, Signature=00",
        "AWS4-HMAC-SHA256 Credential=x, Credential=y, SignedHeaders=host, Signature=00",
        "AWS4-HMAC-SHA256 Foo",
    ] {
        let e = verify(&get_object_example(bad), now).unwrap_err();
        assert_eq!(code(&e), "AuthorizationHeaderMalformed", "{bad}: {e:?}");
    }
    for bad in ["Bearer x", "AWS4-HMAC-SHA256Credential=x"] {
        let e = verify(&get_object_example(bad), now).unwrap_err();
        assert_eq!(code(&e), "InvalidArgument", "{bad}");
    }
    // Signature V2 gets what S3 answers in SigV4-only regions.
    let v2 = "AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=";
    let e = verify(&get_object_example(v2), now).unwrap_err();
    assert_eq!(code(&e), "InvalidRequest");
    // host must be signed.
    let p = get_object_example(&GET_OBJECT_AUTH.replace("host;range", "range"));
    assert!(matches!(
        verify(&p, now),
        Err(AuthError::HeadersNotSigned(h)) if h == ["host"]
    ));
}

#[test]
fn unsigned_amz_headers_are_refused_on_header_signed_requests() {
    let now = example_now();
    for (name, value) in [
        ("x-amz-copy-source", "other/private"),
        ("x-amz-meta-owner", "mallory"),
        ("x-amz-metadata-directive", "REPLACE"),
        ("x-amz-checksum-crc32", "AAAAAA=="),
        ("x-amz-tagging", "a=b"),
    ] {
        let mut p = get_object_example(GET_OBJECT_AUTH);
        p.headers.insert(name, value.parse().unwrap());
        let e = verify(&p, now).unwrap_err();
        assert!(
            matches!(&e, AuthError::HeadersNotSigned(h) if h == &[name.to_owned()]),
            "{name}: {e:?}"
        );
        assert_eq!(code(&e), "AccessDenied");
    }
    // Not x-amz-*: S3 lets these through unsigned, and so do we.
    let mut p = get_object_example(GET_OBJECT_AUTH);
    p.headers
        .insert("x-amzn-trace-id", "Root=1".parse().unwrap());
    p.headers.insert("user-agent", "curl".parse().unwrap());
    assert!(verify(&p, now).unwrap().is_some());
}

#[test]
fn unsigned_amz_headers_are_refused_on_presigned_requests() {
    let now = example_now();
    let mut p = presign("PUT", "/b1/x", "", 60);
    p.headers
        .insert("x-amz-copy-source", "b2/private".parse().unwrap());
    p.headers.insert("x-amz-meta-a", "1".parse().unwrap());
    let e = verify(&p, now).unwrap_err();
    assert!(
        matches!(&e, AuthError::HeadersNotSigned(h)
            if h == &["x-amz-copy-source".to_owned(), "x-amz-meta-a".to_owned()]),
        "{e:?}"
    );
    // The payload-hash header is the one S3 exempts.
    let mut p = presign("PUT", "/b1/x", "", 60);
    p.headers
        .insert(CONTENT_SHA256, UNSIGNED_PAYLOAD.parse().unwrap());
    assert!(verify(&p, now).unwrap().is_some());
}

#[test]
fn aws_put_object_example_with_date_header() {
    let body_hash = sha256_hex(b"Welcome to Amazon S3.");
    let p = parts(
        "PUT",
        "/test$file.text",
        &[
            ("host", "examplebucket.s3.amazonaws.com"),
            ("date", "Fri, 24 May 2013 00:00:00 GMT"),
            ("x-amz-date", "20130524T000000Z"),
            ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
            ("x-amz-content-sha256", &body_hash),
            ("authorization", "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class,Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"),
        ],
    );
    let v = verify(&p, example_now()).unwrap().unwrap();
    assert!(v
        .payload
        .check_body_sha256(&sha2::Sha256::digest(b"Welcome to Amazon S3.").into())
        .is_ok());
}

#[test]
fn date_header_fallback() {
    // Signed with only a Date header: the string to sign uses its ISO 8601 form.
    let mut p = parts(
        "GET",
        "/b/k",
        &[
            ("host", "localhost"),
            ("date", "Fri, 24 May 2013 00:00:00 GMT"),
            ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
        ],
    );
    let names = vec![
        "date".to_owned(),
        "host".to_owned(),
        "x-amz-content-sha256".to_owned(),
    ];
    let ch = canonical_headers(&p.headers, &names, None).unwrap();
    let cr = canonical_request(
        "GET",
        "/b/k",
        "",
        &ch,
        "date;host;x-amz-content-sha256",
        "UNSIGNED-PAYLOAD",
    );
    let scope = "20130524/us-east-1/s3/aws4_request";
    let key = signing_key(SECRET, "20130524", REGION, "s3");
    let sig = hex::encode(hmac_sha256(
        &key,
        string_to_sign("20130524T000000Z", scope, &cr).as_bytes(),
    ));
    let h = format!("AWS4-HMAC-SHA256 Credential={AK}/{scope}, SignedHeaders=date;host;x-amz-content-sha256, Signature={sig}");
    p.headers.insert("authorization", h.parse().unwrap());
    let v = verify(&p, example_now()).unwrap().unwrap();
    assert_eq!(v.payload, PayloadMode::Unsigned);
    assert!(matches!(
        verify(&p, example_now() + Duration::hours(1)),
        Err(AuthError::RequestTimeTooSkewed)
    ));
    // x-amz-date present takes precedence over Date.
    p.headers
        .insert("x-amz-date", "20130525T000000Z".parse().unwrap());
    assert!(verify(&p, example_now()).is_err());
}

#[test]
fn streaming_seed_signature() {
    // AWS streaming example: the seed signature of the request.
    let p = parts(
        "PUT",
        "/examplebucket/chunkObject.txt",
        &[
            ("host", "s3.amazonaws.com"),
            ("x-amz-date", "20130524T000000Z"),
            ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
            ("x-amz-content-sha256", STREAMING_SIGNED),
            ("content-encoding", "aws-chunked"),
            ("x-amz-decoded-content-length", "66560"),
            ("content-length", "66824"),
            ("authorization", "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"),
        ],
    );
    let v = verify(&p, example_now()).unwrap().unwrap();
    assert_eq!(v.payload, PayloadMode::StreamingSigned { trailer: false });
    assert!(v.payload.is_streaming() && !v.payload.expects_trailer());
    let signer = v.chunk_signer.unwrap();
    assert_eq!(
        signer.seed_signature,
        "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
    );
    // Debug never shows key or signature.
    let dbg = format!("{signer:?}");
    assert!(!dbg.contains("4f232c43") && !dbg.contains("key:"), "{dbg}");
}

#[test]
fn streaming_trailer_seed_signature() {
    let p = parts(
        "PUT",
        "/examplebucket/chunkObject.txt",
        &[
            ("host", "s3.amazonaws.com"),
            ("x-amz-date", "20130524T000000Z"),
            ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
            ("x-amz-content-sha256", STREAMING_SIGNED_TRAILER),
            ("content-encoding", "aws-chunked"),
            ("x-amz-decoded-content-length", "66560"),
            ("x-amz-trailer", "x-amz-checksum-crc32c"),
            ("authorization", "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=content-encoding;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class;x-amz-trailer,Signature=106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e"),
        ],
    );
    let v = verify(&p, example_now()).unwrap().unwrap();
    assert_eq!(v.payload, PayloadMode::StreamingSigned { trailer: true });
    assert!(v.chunk_signer.is_some());
}

#[test]
fn unsigned_trailer_mode() {
    let mut p = parts(
        "PUT",
        "/b/k",
        &[
            ("host", "localhost:9000"),
            ("x-amz-date", "20130524T000000Z"),
            ("x-amz-content-sha256", STREAMING_UNSIGNED_TRAILER),
            ("x-amz-trailer", "x-amz-checksum-crc32"),
        ],
    );
    let signed = "host;x-amz-content-sha256;x-amz-date;x-amz-trailer";
    let h = auth_header(
        &p,
        signed,
        STREAMING_UNSIGNED_TRAILER,
        "/b/k",
        SECRET,
        REGION,
        "s3",
    );
    p.headers.insert("authorization", h.parse().unwrap());
    let v = verify(&p, example_now()).unwrap().unwrap();
    assert_eq!(v.payload, PayloadMode::StreamingUnsignedTrailer);
    assert!(v.payload.expects_trailer() && v.chunk_signer.is_none());
}

#[test]
fn special_keys_and_paths() {
    let now = example_now();
    for key in [
        "my key with spaces",
        "a+b",
        "100%",
        "a=b&c",
        "tilde~x",
        "unicodé/日本語",
        "dir//double",
        "/leading",
        "dots/./../x",
        "*!'()",
    ] {
        // SDK style: bucket + encoded key, canonical URI == path on the wire.
        let path = format!("/bucket/{}", uri_encode(key, false));
        let p = signed_get(&path, "20130524T000000Z", &path);
        assert!(verify(&p, now).unwrap().is_some(), "{key}");
    }
    // A client that sent a literal '+' and '=' in the path and signed it raw.
    let p = signed_get("/bucket/a+b=c", "20130524T000000Z", "/bucket/a+b=c");
    assert!(verify(&p, now).unwrap().is_some());
    // The same wire path signed after normalisation.
    let p = signed_get("/bucket/a+b=c", "20130524T000000Z", "/bucket/a%2Bb%3Dc");
    assert!(verify(&p, now).unwrap().is_some());
    // '+' is not a space.
    let p = signed_get("/bucket/a+b", "20130524T000000Z", "/bucket/a%20b");
    assert!(matches!(
        verify(&p, now),
        Err(AuthError::SignatureDoesNotMatch)
    ));
    // '//' is not collapsed.
    let p = signed_get("/bucket//k", "20130524T000000Z", "/bucket/k");
    assert!(matches!(
        verify(&p, now),
        Err(AuthError::SignatureDoesNotMatch)
    ));
    // Query: spaces, plus, tilde, valueless sub-resources, SDK x-id.
    let q =
        "/bucket?list-type=2&continuation-token=a%20b%2Bc~&prefix=x+y&x-id=ListObjectsV2&uploads";
    let p = signed_get(q, "20130524T000000Z", "/bucket");
    assert!(verify(&p, now).unwrap().is_some());
}

#[test]
fn http2_authority_without_host() {
    let mut p = parts(
        "GET",
        "https://localhost:9000/bucket/key",
        &[
            ("x-amz-date", "20130524T000000Z"),
            ("x-amz-content-sha256", EMPTY_SHA256_HEX),
        ],
    );
    let h = auth_header(
        &p,
        "host;x-amz-content-sha256;x-amz-date",
        EMPTY_SHA256_HEX,
        "/bucket/key",
        SECRET,
        REGION,
        "s3",
    );
    p.headers.insert("authorization", h.parse().unwrap());
    assert!(!p.headers.contains_key("host"));
    assert!(verify(&p, example_now()).unwrap().is_some());
}

#[test]
fn anonymous_and_mixed() {
    let p = parts("GET", "/bucket/key?versionId=3", &[("host", "x")]);
    assert!(verify(&p, example_now()).unwrap().is_none());
    let p = parts(
        "GET",
        "/bucket/key?X-Amz-Algorithm=AWS4-HMAC-SHA256",
        &[("authorization", GET_OBJECT_AUTH)],
    );
    assert_eq!(
        code(&verify(&p, example_now()).unwrap_err()),
        "InvalidArgument"
    );
    let p = parts("GET", "/bucket/key?X-Amz-Signature=00", &[]);
    assert_eq!(
        code(&verify(&p, example_now()).unwrap_err()),
        "AuthorizationQueryParametersError"
    );
}

const PRESIGNED: &str = "/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";

fn presigned(uri: &str) -> http::request::Parts {
    parts("GET", uri, &[("host", "examplebucket.s3.amazonaws.com")])
}

#[test]
fn aws_presigned_example() {
    let now = example_now();
    let v = verify(&presigned(PRESIGNED), now + Duration::hours(1))
        .unwrap()
        .unwrap();
    assert!(v.presigned);
    assert_eq!(
        (v.access_key.as_str(), v.payload),
        (AK, PayloadMode::Unsigned)
    );
    // Valid until exactly date + expires.
    assert!(verify(&presigned(PRESIGNED), now + Duration::seconds(86400)).is_ok());
    let e = verify(&presigned(PRESIGNED), now + Duration::seconds(86401)).unwrap_err();
    assert_eq!(
        (code(&e), e.to_string().as_str()),
        ("AccessDenied", "Request has expired")
    );
    // Future date within / beyond the skew.
    assert!(verify(&presigned(PRESIGNED), now - Duration::minutes(14)).is_ok());
    assert!(matches!(
        verify(&presigned(PRESIGNED), now - Duration::minutes(16)),
        Err(AuthError::RequestTimeTooSkewed)
    ));
    // Method is signed.
    let mut p = presigned(PRESIGNED);
    p.method = http::Method::PUT;
    assert!(matches!(
        verify(&p, now),
        Err(AuthError::SignatureDoesNotMatch)
    ));
    // Any extra / changed query parameter breaks the signature.
    let p = presigned(&format!("{PRESIGNED}&x-amz-acl=public-read"));
    assert!(matches!(
        verify(&p, now),
        Err(AuthError::SignatureDoesNotMatch)
    ));
    // Wrong region.
    let e =
        verify_request(&presigned(PRESIGNED), "eu-central-1", &["s3"], now, &keys()).unwrap_err();
    assert_eq!(code(&e), "AuthorizationQueryParametersError");
    assert!(e
        .to_string()
        .contains("'us-east-1' is wrong; expecting 'eu-central-1'"));
}

#[test]
fn presigned_parameter_errors() {
    let now = example_now();
    for (from, to) in [
        ("X-Amz-Expires=86400", "X-Amz-Expires=0"),
        ("X-Amz-Expires=86400", "X-Amz-Expires=604801"),
        ("X-Amz-Expires=86400", "X-Amz-Expires=abc"),
        ("X-Amz-Expires=86400", "X-Amz-Expires=-5"),
        (
            "X-Amz-Expires=86400",
            "X-Amz-Expires=99999999999999999999999",
        ),
        ("X-Amz-Expires=86400&", ""),
        (
            "X-Amz-Algorithm=AWS4-HMAC-SHA256",
            "X-Amz-Algorithm=AWS4-HMAC-SHA1",
        ),
        ("X-Amz-Date=20130524T000000Z", "X-Amz-Date=2013-05-24"),
        ("X-Amz-Date=20130524T000000Z", "X-Amz-Date=20130525T000000Z"),
        ("%2Fs3%2F", "%2F"),
        (
            "X-Amz-SignedHeaders=host&",
            "X-Amz-SignedHeaders=host&X-Amz-SignedHeaders=host&",
        ),
    ] {
        let uri = PRESIGNED.replace(from, to);
        assert_ne!(uri, PRESIGNED);
        let e = verify(&presigned(&uri), now).unwrap_err();
        assert_eq!(code(&e), "AuthorizationQueryParametersError", "{to}: {e:?}");
    }
    // Expires at the upper bound is accepted syntactically (signature then fails).
    let uri = PRESIGNED.replace("X-Amz-Expires=86400", "X-Amz-Expires=604800");
    assert!(matches!(
        verify(&presigned(&uri), now),
        Err(AuthError::SignatureDoesNotMatch)
    ));
}

/// Presigns `method path?extra` with host signed, like the SDK presigners do.
fn presign(method: &str, path: &str, extra: &str, expires: u32) -> http::request::Parts {
    let mut q = format!(
        "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={AK}%2F20130524%2Fus-east-1%2Fs3%2Faws4_request\
         &X-Amz-Date=20130524T000000Z&X-Amz-Expires={expires}&X-Amz-SignedHeaders=host"
    );
    if !extra.is_empty() {
        q = format!("{extra}&{q}");
    }
    let payload = decode_query(&q)
        .into_iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(CONTENT_SHA256))
        .map_or(UNSIGNED_PAYLOAD.to_owned(), |(_, v)| v);
    let p = parts(
        method,
        &format!("{path}?{q}"),
        &[("host", "localhost:9000")],
    );
    let ch = canonical_headers(&p.headers, &["host".to_owned()], None).unwrap();
    let cr = canonical_request(
        method,
        path,
        &sigv4::canonical_query(&q, true),
        &ch,
        "host",
        &payload,
    );
    let key = signing_key(SECRET, "20130524", REGION, "s3");
    let sts = string_to_sign(
        "20130524T000000Z",
        "20130524/us-east-1/s3/aws4_request",
        &cr,
    );
    let sig = hex::encode(hmac_sha256(&key, sts.as_bytes()));
    parts(
        method,
        &format!("{path}?{q}&X-Amz-Signature={sig}"),
        &[("host", "localhost:9000")],
    )
}

#[test]
fn presigned_methods_and_hoisted_params() {
    let now = example_now();
    for method in ["HEAD", "DELETE", "PUT", "GET"] {
        let v = verify(&presign(method, "/b/my%20key", "", 60), now)
            .unwrap()
            .unwrap();
        assert!(v.presigned, "{method}");
    }
    // UploadPart with hoisted checksum and SDK x-id.
    let p = presign(
        "PUT",
        "/b/k",
        "partNumber=1&uploadId=a%2Bb&x-amz-checksum-crc32=AAAAAA%3D%3D&x-id=UploadPart",
        60,
    );
    assert!(verify(&p, now).unwrap().is_some());
    // x-amz-content-sha256 in the query: the body must match it.
    let empty = sha256_hex(b"");
    let p = presign("PUT", "/b/k", &format!("X-Amz-Content-Sha256={empty}"), 60);
    let v = verify(&p, now).unwrap().unwrap();
    assert!(matches!(
        v.payload
            .check_body_sha256(&sha2::Sha256::digest(b"not empty").into()),
        Err(AuthError::XAmzContentSHA256Mismatch)
    ));
    // Expiry with a short lifetime.
    let p = presign("GET", "/b/k", "", 1);
    assert!(verify(&p, now + Duration::seconds(1)).is_ok());
    assert!(matches!(
        verify(&p, now + Duration::seconds(2)),
        Err(AuthError::AccessDenied(_))
    ));
}

#[test]
fn deferred_body_hash_for_other_services() {
    // curl --aws-sigv4 "aws:amz:us-east-1:cloudnx": signs the body hash, does not send it.
    let body = br#"{"name":"bucket-1"}"#;
    let mut p = parts(
        "POST",
        "/admin/buckets",
        &[
            ("host", "localhost:9001"),
            ("x-amz-date", "20130524T000000Z"),
            ("content-type", "application/json"),
        ],
    );
    let signed = "content-type;host;x-amz-date";
    let h = auth_header(
        &p,
        signed,
        &sha256_hex(body),
        "/admin/buckets",
        SECRET,
        REGION,
        "cloudnx",
    );
    p.headers.insert("authorization", h.parse().unwrap());
    let services = ["cloudnx"];
    let now = example_now();
    let e = verify_request(&p, REGION, &services, now, &keys()).unwrap_err();
    assert_eq!(code(&e), "InvalidRequest");
    let Verification::NeedsBodyHash(pending) =
        verify_request_or_defer(&p, REGION, &services, now, &keys()).unwrap()
    else {
        panic!("expected NeedsBodyHash");
    };
    assert_eq!(pending.claimed_access_key(), AK);
    assert!(!format!("{pending:?}").contains("Signature"));
    let good: [u8; 32] = sha2::Sha256::digest(body).into();
    let v = verify_with_body_hash(&pending, &good).unwrap();
    assert_eq!(
        (v.access_key.as_str(), v.payload, v.presigned),
        (AK, PayloadMode::Sha256(good), false)
    );
    let bad: [u8; 32] = sha2::Sha256::digest(b"{}").into();
    assert!(matches!(
        verify_with_body_hash(&pending, &bad),
        Err(AuthError::SignatureDoesNotMatch)
    ));
    // With s3 in the list the same request is rejected (header required for s3 scope only).
    let e = verify_request_or_defer(&p, REGION, &["s3"], now, &keys()).unwrap_err();
    assert_eq!(code(&e), "AuthorizationHeaderMalformed");
    // Unknown key / bad region are reported before any body is read.
    let e = verify_request_or_defer(&p, REGION, &services, now, &Keys(HashMap::new())).unwrap_err();
    assert_eq!(code(&e), "InvalidAccessKeyId");
}

/// A failure's S3 code: the variant's name (`HeadersNotSigned` is an AccessDenied).
/// `s3/error.rs` holds the one table from failures to codes and statuses.
fn code(e: &AuthError) -> &'static str {
    match e {
        AuthError::SignatureDoesNotMatch => "SignatureDoesNotMatch",
        AuthError::InvalidAccessKeyId => "InvalidAccessKeyId",
        AuthError::RequestTimeTooSkewed => "RequestTimeTooSkewed",
        AuthError::AuthorizationHeaderMalformed(_) => "AuthorizationHeaderMalformed",
        AuthError::AuthorizationQueryParametersError(_) => "AuthorizationQueryParametersError",
        AuthError::AccessDenied(_) | AuthError::HeadersNotSigned(_) => "AccessDenied",
        AuthError::InvalidRequest(_) => "InvalidRequest",
        AuthError::XAmzContentSHA256Mismatch => "XAmzContentSHA256Mismatch",
        AuthError::IncompleteBody(_) => "IncompleteBody",
        AuthError::InvalidArgument(_) => "InvalidArgument",
    }
}

// ---- Signature V2 ----

fn v2_now() -> OffsetDateTime {
    parse::parse_http_date("Tue, 27 Mar 2007 19:40:00 GMT").unwrap()
}

fn verify_v2(p: &http::request::Parts, now: OffsetDateTime) -> Result<Option<Verified>, AuthError> {
    verify_s3_request(p, REGION, now, &keys(), Some(V2Resource::default()))
}

fn sign_v2(string_to_sign: &str) -> String {
    use base64::Engine as _;
    use hmac::{Hmac, Mac};
    let mut mac = <Hmac<sha1::Sha1> as Mac>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(string_to_sign.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

#[test]
fn sigv2_header_matches_the_documented_example() {
    // S3's SigV2 documentation: GET of a virtual-hosted object, signed with the example key.
    let p = parts(
        "GET",
        "http://awsexamplebucket1.s3.us-west-1.amazonaws.com/photos/puppy.jpg",
        &[
            ("host", "awsexamplebucket1.s3.us-west-1.amazonaws.com"),
            ("date", "Tue, 27 Mar 2007 19:36:42 +0000"),
            (
                "authorization",
                "AWS AKIAIOSFODNN7EXAMPLE:qgk2+6Sv9/oM7G3qLEjTH1a1l1g=",
            ),
        ],
    );
    let vhost = V2Resource {
        virtual_host_bucket: Some("awsexamplebucket1"),
    };
    let v = verify_s3_request(&p, REGION, v2_now(), &keys(), Some(vhost))
        .unwrap()
        .unwrap();
    assert_eq!(v.access_key, AK);
    assert_eq!(v.payload, PayloadMode::Unsigned);
    assert!(!v.presigned);
    // Path style: the same signature covers `/bucket/key` sent as the path.
    let p = parts(
        "GET",
        "/awsexamplebucket1/photos/puppy.jpg",
        &[
            ("date", "Tue, 27 Mar 2007 19:36:42 +0000"),
            (
                "authorization",
                "AWS AKIAIOSFODNN7EXAMPLE:qgk2+6Sv9/oM7G3qLEjTH1a1l1g=",
            ),
        ],
    );
    verify_v2(&p, v2_now()).unwrap().unwrap();
    // Without the switch, the answer of S3's SigV4-only regions.
    let e = verify_s3_request(&p, REGION, v2_now(), &keys(), None).unwrap_err();
    assert_eq!(code(&e), "InvalidRequest");
    // Skew, wrong secret, unknown key.
    let late = v2_now() + time::Duration::minutes(20);
    assert!(matches!(
        verify_v2(&p, late),
        Err(AuthError::RequestTimeTooSkewed)
    ));
    let bad = parts(
        "GET",
        "/awsexamplebucket1/photos/puppy.jpg",
        &[
            ("date", "Tue, 27 Mar 2007 19:36:42 +0000"),
            (
                "authorization",
                "AWS AKIAIOSFODNN7EXAMPLE:AAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            ),
        ],
    );
    assert!(matches!(
        verify_v2(&bad, v2_now()),
        Err(AuthError::SignatureDoesNotMatch)
    ));
    let unknown = parts(
        "GET",
        "/awsexamplebucket1/photos/puppy.jpg",
        &[
            ("date", "Tue, 27 Mar 2007 19:36:42 +0000"),
            (
                "authorization",
                "AWS NOSUCHKEY:qgk2+6Sv9/oM7G3qLEjTH1a1l1g=",
            ),
        ],
    );
    assert!(matches!(
        verify_v2(&unknown, v2_now()),
        Err(AuthError::InvalidAccessKeyId)
    ));
    for malformed in ["AWS ", "AWS AKIAIOSFODNN7EXAMPLE", "AWS :sig"] {
        let p = parts(
            "GET",
            "/b/k",
            &[
                ("date", "Tue, 27 Mar 2007 19:36:42 +0000"),
                ("authorization", malformed),
            ],
        );
        assert_eq!(
            code(&verify_v2(&p, v2_now()).unwrap_err()),
            "InvalidArgument",
            "{malformed}"
        );
    }
}

#[test]
fn sigv2_signs_every_amz_header_and_the_sub_resources() {
    let sts = "PUT\n\ntext/plain\n\nx-amz-date:Tue, 27 Mar 2007 19:36:42 +0000\n\
               x-amz-meta-a:one,two\nx-amz-meta-b:x   y\n/b/k%20x?tagging&versionId=v 1";
    let headers = |sig: &str| {
        vec![
            ("content-type", "text/plain".to_owned()),
            ("x-amz-date", "Tue, 27 Mar 2007 19:36:42 +0000".to_owned()),
            ("x-amz-meta-a", "one".to_owned()),
            ("X-Amz-Meta-A", "two".to_owned()),
            ("x-amz-meta-b", "  x   y ".to_owned()),
            ("authorization", format!("AWS {AK}:{sig}")),
        ]
    };
    let build = |extra: &[(&str, &str)], sig: &str| {
        let mut h: Vec<(&str, String)> = headers(sig);
        for (k, v) in extra {
            h.push((k, (*v).to_owned()));
        }
        let refs: Vec<(&str, &str)> = h.iter().map(|(k, v)| (*k, v.as_str())).collect();
        // `uploads`-style flags, values decoded, parameters that are not sub-resources left out.
        parts("PUT", "/b/k%20x?versionId=v%201&tagging&foo=bar", &refs)
    };
    let sig = sign_v2(sts);
    verify_v2(&build(&[], &sig), v2_now()).unwrap().unwrap();
    // An x-amz-* header the client did not sign cannot be slipped in.
    let e = verify_v2(
        &build(&[("x-amz-copy-source", "other/secret")], &sig),
        v2_now(),
    );
    assert!(matches!(e, Err(AuthError::SignatureDoesNotMatch)));
    // Nor can the content type be changed.
    let mut p = build(&[], &sig);
    p.headers
        .insert("content-type", "text/html".parse().unwrap());
    assert!(matches!(
        verify_v2(&p, v2_now()),
        Err(AuthError::SignatureDoesNotMatch)
    ));
}

#[test]
fn sigv2_presigned_urls_expire() {
    let expires = v2_now().unix_timestamp() + 60;
    let sig = sign_v2(&format!("GET\n\n\n{expires}\n/b/k"));
    let enc = percent_encoding::utf8_percent_encode(&sig, percent_encoding::NON_ALPHANUMERIC);
    let uri = format!("/b/k?AWSAccessKeyId={AK}&Expires={expires}&Signature={enc}");
    let p = parts("GET", &uri, &[]);
    let v = verify_v2(&p, v2_now()).unwrap().unwrap();
    assert!(v.presigned);
    let e = verify_v2(&p, v2_now() + time::Duration::seconds(61)).unwrap_err();
    assert!(matches!(e, AuthError::AccessDenied(ref m) if m == "Request has expired"));
    // Another key in the same URL does not verify.
    let other = parts("GET", &uri.replace("/b/k?", "/b/other?"), &[]);
    assert!(matches!(
        verify_v2(&other, v2_now()),
        Err(AuthError::SignatureDoesNotMatch)
    ));
    let missing = parts(
        "GET",
        &format!("/b/k?AWSAccessKeyId={AK}&Signature={enc}"),
        &[],
    );
    assert_eq!(
        code(&verify_v2(&missing, v2_now()).unwrap_err()),
        "AccessDenied"
    );
    let bad_date = parts(
        "GET",
        &format!("/b/k?AWSAccessKeyId={AK}&Expires=soon&Signature={enc}"),
        &[],
    );
    let e = verify_v2(&bad_date, v2_now()).unwrap_err();
    assert!(matches!(e, AuthError::AccessDenied(ref m) if m.starts_with("Invalid date")));
    // With the switch off: S3's SigV4-only-region answer.
    let e = verify_s3_request(&p, REGION, v2_now(), &keys(), None).unwrap_err();
    assert_eq!(code(&e), "InvalidRequest");
}

#[test]
fn sigv2_presigned_query_signs_its_amz_parameters() {
    // What botocore's V2 presigner does with a PUT's metadata: signed, then moved to the
    // query. A content type it signed must come back as a header, as on S3.
    let expires = v2_now().unix_timestamp() + 60;
    let sig = sign_v2(&format!(
        "PUT\n\ntext/plain\n{expires}\nx-amz-meta-owner:alice\n/b/k"
    ));
    let enc = percent_encoding::utf8_percent_encode(&sig, percent_encoding::NON_ALPHANUMERIC);
    let base = format!("/b/k?AWSAccessKeyId={AK}&Expires={expires}&Signature={enc}");
    let url = format!("{base}&x-amz-meta-owner=alice");
    let typed = [("content-type", "text/plain")];
    verify_v2(&parts("PUT", &url, &typed), v2_now())
        .unwrap()
        .unwrap();
    for bad in [
        url.replace("owner=alice", "owner=mallory"),
        format!("{url}&x-amz-meta-extra=1"),
        base.clone(),
    ] {
        let e = verify_v2(&parts("PUT", &bad, &typed), v2_now());
        assert!(matches!(e, Err(AuthError::SignatureDoesNotMatch)), "{bad}");
    }
    let in_query = format!("{url}&content-type=text%2Fplain");
    let e = verify_v2(&parts("PUT", &in_query, &[]), v2_now());
    assert!(matches!(e, Err(AuthError::SignatureDoesNotMatch)));
    let e = verify_v2(
        &parts("PUT", &url, &[("content-type", "text/html")]),
        v2_now(),
    );
    assert!(matches!(e, Err(AuthError::SignatureDoesNotMatch)));
}

#[test]
fn sigv2_signatures_do_not_stretch_to_other_operations_or_keys() {
    let date = ("date", "Tue, 27 Mar 2007 19:36:42 GMT");
    let auth = |sts: &str| format!("AWS {AK}:{}", sign_v2(sts));
    // A signed PUT of an object does not become a PUT of its retention, legal hold or tags,
    // nor anything else a sub-resource selects.
    let put = auth("PUT\n\n\nTue, 27 Mar 2007 19:36:42 GMT\n/b/k");
    verify_v2(
        &parts("PUT", "/b/k", &[date, ("authorization", &put)]),
        v2_now(),
    )
    .unwrap()
    .unwrap();
    for q in [
        "retention",
        "legal-hold",
        "tagging",
        "acl",
        "attributes",
        "uploads",
    ] {
        let p = parts(
            "PUT",
            &format!("/b/k?{q}"),
            &[date, ("authorization", &put)],
        );
        let e = verify_v2(&p, v2_now());
        assert!(matches!(e, Err(AuthError::SignatureDoesNotMatch)), "?{q}");
    }
    // A signed upload of part 1 does not become a PUT of a key spelled with an encoded `?`.
    let part = auth("PUT\n\n\nTue, 27 Mar 2007 19:36:42 GMT\n/b/k?partNumber=1&uploadId=U");
    let p = parts(
        "PUT",
        "/b/k%3FpartNumber=1%26uploadId=U",
        &[date, ("authorization", &part)],
    );
    assert!(matches!(
        verify_v2(&p, v2_now()),
        Err(AuthError::SignatureDoesNotMatch)
    ));
    // A signed Content-MD5 must be sent: leaving the header out breaks the signature.
    let md5 = auth("PUT\nXrY7u+Ae7tCTyyK7j1rNww==\n\nTue, 27 Mar 2007 19:36:42 GMT\n/b/k");
    let with = parts(
        "PUT",
        "/b/k",
        &[
            date,
            ("content-md5", "XrY7u+Ae7tCTyyK7j1rNww=="),
            ("authorization", &md5),
        ],
    );
    verify_v2(&with, v2_now()).unwrap().unwrap();
    let without = parts(
        "PUT",
        "/b/k?content-md5=XrY7u%2BAe7tCTyyK7j1rNww%3D%3D",
        &[date, ("authorization", &md5)],
    );
    assert!(matches!(
        verify_v2(&without, v2_now()),
        Err(AuthError::SignatureDoesNotMatch)
    ));
}
