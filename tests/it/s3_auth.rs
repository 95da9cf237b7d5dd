//! SigV4 authentication failures on the S3 surface. Moto accepts any credentials, so these
//! tests run against cnx-storage only.

use crate::harness::{assert_err, get_bytes, put, raw_request, raw_tcp, Server};

#[tokio::test]
async fn wrong_secret_is_signature_does_not_match() {
    let srv = Server::start();
    if srv.skip_external("moto does not verify signatures") {
        return;
    }
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "wrongsk").await;
    put(&s3, &bucket, "k", b"original").await;
    let bad = srv.client_with(&srv.access_key, "definitely-not-the-secret-key-0000000000");

    let info = assert_err(
        bad.list_buckets().send().await,
        403,
        Some("SignatureDoesNotMatch"),
    );
    assert!(info.request_id.is_some(), "{info:?}");
    assert_err(
        bad.get_object().bucket(&bucket).key("k").send().await,
        403,
        Some("SignatureDoesNotMatch"),
    );
    assert_err(
        bad.head_object().bucket(&bucket).key("k").send().await,
        403,
        None,
    );
    let result = bad
        .put_object()
        .bucket(&bucket)
        .key("k")
        .body(b"overwritten".to_vec().into())
        .send()
        .await;
    assert_err(result, 403, Some("SignatureDoesNotMatch"));
    assert_err(
        bad.delete_object().bucket(&bucket).key("k").send().await,
        403,
        Some("SignatureDoesNotMatch"),
    );
    assert_eq!(get_bytes(&s3, &bucket, "k").await, b"original");
}

#[tokio::test]
async fn streaming_upload_with_wrong_secret_is_refused() {
    let srv = Server::start();
    if srv.skip_external("moto does not verify signatures") {
        return;
    }
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "wrongsk-stream").await;
    let data = crate::harness::pattern(200_000, 31);
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &data).unwrap();
    let body = aws_sdk_s3::primitives::ByteStream::from_path(file.path())
        .await
        .unwrap();
    let bad = srv.client_with(&srv.access_key, "definitely-not-the-secret-key-0000000000");
    let result = bad
        .put_object()
        .bucket(&bucket)
        .key("s")
        .body(body)
        .send()
        .await;
    assert_err(result, 403, Some("SignatureDoesNotMatch"));
    assert_err(
        s3.head_object().bucket(&bucket).key("s").send().await,
        404,
        None,
    );
}

#[tokio::test]
async fn unknown_access_key_is_invalid_access_key_id() {
    let srv = Server::start();
    if srv.skip_external("moto does not verify access keys") {
        return;
    }
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "unknownak").await;
    let stranger = srv.client_with("AKIANOTKNOWNANYWHERE", &srv.secret_key);
    assert_err(
        stranger.list_buckets().send().await,
        403,
        Some("InvalidAccessKeyId"),
    );
    assert_err(
        stranger.list_objects_v2().bucket(&bucket).send().await,
        403,
        Some("InvalidAccessKeyId"),
    );
}

#[tokio::test]
async fn anonymous_requests_are_access_denied() {
    let srv = Server::start();
    if srv.skip_external("moto allows anonymous access") {
        return;
    }
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "anon").await;
    put(&s3, &bucket, "k", b"private").await;
    let base = srv.endpoint();
    for (method, path) in [
        ("GET", "/".to_owned()),
        ("GET", format!("/{bucket}")),
        ("GET", format!("/{bucket}/k")),
        ("PUT", format!("/{bucket}/k")),
        ("DELETE", format!("/{bucket}/k")),
    ] {
        let response = raw_request(method, &format!("{base}{path}"), &[], "anonymous").await;
        assert_eq!(response.status, 403, "{method} {path}: {}", response.text());
        assert_eq!(
            response.error_code().as_deref(),
            Some("AccessDenied"),
            "{method} {path}"
        );
        assert!(
            response
                .header("content-type")
                .is_some_and(|t| t.contains("xml")),
            "{method} {path}"
        );
        assert!(
            response.header("x-amz-request-id").is_some(),
            "{method} {path}"
        );
    }
    assert_eq!(get_bytes(&s3, &bucket, "k").await, b"private");

    // HEAD: the same refusal, and no body on the wire.
    for path in [format!("/{bucket}"), format!("/{bucket}/k")] {
        let (status, headers, rest) = raw_tcp("HEAD", &format!("{base}{path}")).await;
        assert!(status.contains(" 403"), "HEAD {path}: {status}");
        assert!(
            rest.is_empty(),
            "HEAD {path} sent a body: {:?}",
            String::from_utf8_lossy(&rest)
        );
        assert!(
            headers.to_ascii_lowercase().contains("x-amz-request-id:"),
            "HEAD {path}: {headers}"
        );
    }
}

#[tokio::test]
async fn garbage_authorization_header_is_a_clean_error() {
    let srv = Server::start();
    if srv.skip_external("moto ignores the Authorization header") {
        return;
    }
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "garbage").await;
    let url = format!("{}/{bucket}", srv.endpoint());
    for garbage in [
        "garbage",
        "AWS4-HMAC-SHA256",
        "AWS4-HMAC-SHA256 Credential=, SignedHeaders=, Signature=",
        "AWS4-HMAC-SHA256 Credential=AKIA/20200101/in-mum/s3/aws4_request, SignedHeaders=host, Signature=zz",
        "AWS AKIA:c2lnbmF0dXJl",
        "Bearer not.a.jwt",
    ] {
        let response = raw_request("GET", &url, &[("authorization", garbage)], "").await;
        assert!(matches!(response.status, 400 | 403), "{garbage:?}: {} {}", response.status, response.text());
        let code = response.error_code();
        assert!(code.as_deref().is_some_and(|c| !c.is_empty()), "{garbage:?}: {}", response.text());
        assert!(response.header("x-amz-request-id").is_some(), "{garbage:?}");
    }
}

#[tokio::test]
async fn credential_scope_for_another_region_is_rejected() {
    let srv = Server::start();
    if srv.skip_external("moto does not check the signing region") {
        return;
    }
    let elsewhere = srv.client_in_region(&srv.access_key, &srv.secret_key, "eu-west-1");
    let info = assert_err(
        elsewhere.list_buckets().send().await,
        400,
        Some("AuthorizationHeaderMalformed"),
    );
    let text = format!(
        "{} {}",
        info.message.as_deref().unwrap_or(""),
        String::from_utf8_lossy(&info.body)
    );
    assert!(
        text.contains("in-mum"),
        "the error should name the expected region: {text}"
    );
}

/// Sends only the headers of a PUT with `Expect: 100-continue` and returns the first status
/// line the server answers with.
async fn first_status_for_expect_continue(addr: &str, path_and_query: &str, len: u64) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut sock = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "PUT {path_and_query} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {len}\r\nExpect: 100-continue\r\n\r\n"
    );
    sock.write_all(head.as_bytes()).await.expect("send headers");
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    let read = async {
        while !buf.windows(2).any(|w| w == b"\r\n") {
            let n = sock.read(&mut chunk).await.expect("read");
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(10), read)
        .await
        .expect("the server answered the headers");
    let text = String::from_utf8_lossy(&buf).into_owned();
    text.lines().next().unwrap_or("").to_owned()
}

#[tokio::test]
async fn refused_uploads_never_ask_for_their_body() {
    use aws_sdk_s3::presigning::PresigningConfig;
    let srv = Server::start();
    if srv.skip_external("100-continue handling is checked on cnx-storage only") {
        return;
    }
    let client = srv.client();
    let bucket = srv.bucket(&client, "expect").await;
    let presign = |bucket: String| {
        let client = client.clone();
        async move {
            client
                .put_object()
                .bucket(bucket)
                .key("k")
                .presigned(
                    PresigningConfig::expires_in(std::time::Duration::from_secs(300)).unwrap(),
                )
                .await
                .unwrap()
        }
    };
    let path_of = |uri: &str| {
        let u: http::Uri = uri.parse().unwrap();
        u.path_and_query().unwrap().to_string()
    };
    let missing = path_of(presign(format!("{bucket}-missing")).await.uri());
    let good = path_of(presign(bucket.clone()).await.uri());
    let tampered = good.replace("X-Amz-Signature=", "X-Amz-Signature=0");
    for (path, want) in [(missing, " 404 "), (tampered, " 403 ")] {
        let status = first_status_for_expect_continue(&srv.addr, &path, 1 << 20).await;
        assert!(status.contains(want), "{path}: {status}");
    }
    // An accepted upload is invited to send its body.
    let status = first_status_for_expect_continue(&srv.addr, &good, 1 << 20).await;
    assert!(status.contains(" 100 "), "{status}");
}

/// Signature V2 (s3cmd's `signurl`, `--signature-v2`) is refused as S3 refuses it in
/// SigV4-only regions: 400 InvalidRequest naming AWS4-HMAC-SHA256.
#[tokio::test]
async fn signature_v2_is_refused_with_invalid_request() {
    let srv = Server::start();
    if srv.skip_external("moto accepts any signature") {
        return;
    }
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "sigv2").await;
    let header = raw_request(
        "GET",
        &format!("{}/{bucket}", srv.endpoint()),
        &[("authorization", "AWS AKIAEXAMPLE:c2lnbmF0dXJl")],
        "",
    )
    .await;
    let query = raw_request(
        "GET",
        &format!(
            "{}/{bucket}/k?AWSAccessKeyId=AKIAEXAMPLE&Expires=2000000000&Signature=c2ln",
            srv.endpoint()
        ),
        &[],
        "",
    )
    .await;
    for r in [header, query] {
        assert_eq!(r.status, 400, "{}", r.text());
        assert_eq!(r.error_code().as_deref(), Some("InvalidRequest"));
        assert!(r.text().contains("AWS4-HMAC-SHA256"), "{}", r.text());
    }
}
