//! Presigned URLs made by the SDK and fetched by a plain HTTP client.

use std::time::{Duration, SystemTime};

use aws_sdk_s3::presigning::{PresignedRequest, PresigningConfig};

use crate::harness::{etag_of, get_bytes, put, raw_presigned, raw_request, raw_tcp, Server};

fn five_minutes() -> PresigningConfig {
    PresigningConfig::expires_in(Duration::from_secs(300)).unwrap()
}

#[tokio::test]
async fn presigned_get() {
    let srv = Server::start();
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "psget").await;
    put(&s3, &bucket, "dir/a file+é.txt", b"presigned body").await;
    let url = s3
        .get_object()
        .bucket(&bucket)
        .key("dir/a file+é.txt")
        .presigned(five_minutes())
        .await
        .unwrap();
    assert_eq!(url.method(), "GET");
    let response = raw_presigned(&url, &[], "").await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.body.as_ref(), b"presigned body");
    assert_eq!(
        response.header("etag"),
        Some(etag_of(b"presigned body").as_str())
    );
    assert_eq!(response.header("content-length"), Some("14"));

    let ranged = raw_presigned(&url, &[("range", "bytes=0-8")], "").await;
    assert_eq!(ranged.status, 206);
    assert_eq!(ranged.body.as_ref(), b"presigned");
    assert_eq!(ranged.header("content-range"), Some("bytes 0-8/14"));

    if srv.is_external() {
        // Moto ignores response-* overrides.
        return;
    }
    // response-* overrides are signed query parameters.
    let url = s3
        .get_object()
        .bucket(&bucket)
        .key("dir/a file+é.txt")
        .response_content_disposition("attachment; filename=\"x.txt\"")
        .presigned(five_minutes())
        .await
        .unwrap();
    let response = raw_presigned(&url, &[], "").await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(
        response.header("content-disposition"),
        Some("attachment; filename=\"x.txt\"")
    );
}

#[tokio::test]
async fn presigned_get_missing_key() {
    let srv = Server::start();
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "psmiss").await;
    let url = s3
        .get_object()
        .bucket(&bucket)
        .key("missing")
        .presigned(five_minutes())
        .await
        .unwrap();
    let response = raw_presigned(&url, &[], "").await;
    assert_eq!(response.status, 404);
    assert_eq!(
        response.error_code().as_deref(),
        Some("NoSuchKey"),
        "{}",
        response.text()
    );
}

#[tokio::test]
async fn presigned_put() {
    let srv = Server::start();
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "psput").await;
    let url = s3
        .put_object()
        .bucket(&bucket)
        .key("uploaded/by url.bin")
        .content_type("application/x-presigned")
        .presigned(five_minutes())
        .await
        .unwrap();
    assert_eq!(url.method(), "PUT");
    let body = crate::harness::pattern(100_000, 21);
    let response = raw_presigned(&url, &[], body.clone()).await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.header("etag"), Some(etag_of(&body).as_str()));

    let head = s3
        .head_object()
        .bucket(&bucket)
        .key("uploaded/by url.bin")
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_type(), Some("application/x-presigned"));
    assert_eq!(get_bytes(&s3, &bucket, "uploaded/by url.bin").await, body);
}

#[tokio::test]
async fn presigned_head_and_head_errors_have_no_body() {
    let srv = Server::start();
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "pshead").await;
    put(&s3, &bucket, "h", b"0123456789").await;
    let url = s3
        .head_object()
        .bucket(&bucket)
        .key("h")
        .presigned(five_minutes())
        .await
        .unwrap();
    assert_eq!(url.method(), "HEAD");
    let response = raw_presigned(&url, &[], "").await;
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-length"), Some("10"));
    assert_eq!(
        response.header("etag"),
        Some(etag_of(b"0123456789").as_str())
    );

    // On the wire: no body after the headers, found or not.
    let (status, _, rest) = raw_tcp("HEAD", url.uri()).await;
    assert!(status.contains(" 200"), "{status}");
    assert!(
        rest.is_empty(),
        "HEAD 200 sent a body: {:?}",
        String::from_utf8_lossy(&rest)
    );
    let missing = s3
        .head_object()
        .bucket(&bucket)
        .key("missing")
        .presigned(five_minutes())
        .await
        .unwrap();
    let (status, headers, rest) = raw_tcp("HEAD", missing.uri()).await;
    assert!(status.contains(" 404"), "{status}");
    assert!(
        rest.is_empty(),
        "HEAD 404 sent a body: {:?}",
        String::from_utf8_lossy(&rest)
    );
    if !srv.is_external() {
        // Moto names its header x-amzn-requestid.
        assert!(
            headers.to_ascii_lowercase().contains("x-amz-request-id:"),
            "{headers}"
        );
    }
}

#[tokio::test]
async fn presigned_delete() {
    let srv = Server::start();
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "psdel").await;
    put(&s3, &bucket, "d", b"bye").await;
    let url = s3
        .delete_object()
        .bucket(&bucket)
        .key("d")
        .presigned(five_minutes())
        .await
        .unwrap();
    assert_eq!(url.method(), "DELETE");
    let response = raw_presigned(&url, &[], "").await;
    assert_eq!(response.status, 204, "{}", response.text());
    assert!(response.body.is_empty());
    crate::harness::assert_err(
        s3.head_object().bucket(&bucket).key("d").send().await,
        404,
        None,
    );
    // Deleting again is still 204.
    let again = raw_presigned(&url, &[], "").await;
    assert_eq!(again.status, 204, "{}", again.text());
}

/// The URL with the last hex digit of its signature changed.
fn tampered(url: &PresignedRequest) -> String {
    let uri = url.uri();
    let at = uri.find("X-Amz-Signature=").expect("signature parameter") + "X-Amz-Signature=".len();
    let end = uri[at..].find('&').map_or(uri.len(), |i| at + i);
    let mut signature = uri[at..end].to_owned();
    let last = signature.pop().expect("non-empty signature");
    signature.push(if last == '0' { '1' } else { '0' });
    format!("{}{}{}", &uri[..at], signature, &uri[end..])
}

#[tokio::test]
async fn tampered_presigned_url_is_signature_does_not_match() {
    let srv = Server::start();
    if srv.skip_external("moto does not verify signatures") {
        return;
    }
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "pstamper").await;
    put(&s3, &bucket, "k", b"secret").await;
    let url = s3
        .get_object()
        .bucket(&bucket)
        .key("k")
        .presigned(five_minutes())
        .await
        .unwrap();
    let response = raw_request("GET", &tampered(&url), &[], "").await;
    assert_eq!(response.status, 403, "{}", response.text());
    assert_eq!(
        response.error_code().as_deref(),
        Some("SignatureDoesNotMatch")
    );
    assert!(!response.text().contains("secret"));

    // A signed URL for one key does not open another.
    let other = url.uri().replacen("/k?", "/other?", 1);
    put(&s3, &bucket, "other", b"other").await;
    let response = raw_request("GET", &other, &[], "").await;
    assert_eq!(response.status, 403);
    assert_eq!(
        response.error_code().as_deref(),
        Some("SignatureDoesNotMatch")
    );

    // Nor does a presigned GET allow a PUT.
    let response = raw_request("PUT", url.uri(), &[], "overwrite").await;
    assert_eq!(response.status, 403);
    assert_eq!(get_bytes(&s3, &bucket, "k").await, b"secret");
}

#[tokio::test]
async fn expired_presigned_url_is_access_denied() {
    let srv = Server::start();
    if srv.skip_external("moto does not check presigned expiry") {
        return;
    }
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "psexp").await;
    put(&s3, &bucket, "k", b"v").await;
    let config = PresigningConfig::builder()
        .start_time(SystemTime::now() - Duration::from_secs(3600))
        .expires_in(Duration::from_secs(60))
        .build()
        .unwrap();
    let url = s3
        .get_object()
        .bucket(&bucket)
        .key("k")
        .presigned(config)
        .await
        .unwrap();
    let response = raw_presigned(&url, &[], "").await;
    assert_eq!(response.status, 403, "{}", response.text());
    assert_eq!(response.error_code().as_deref(), Some("AccessDenied"));
    assert!(response.header("x-amz-request-id").is_some());
}

/// Presigners (aws-sdk-js among them) move `x-amz-meta-*` into the signed query string; S3
/// stores them as metadata as if they had been headers.
#[tokio::test]
async fn presigned_put_stores_metadata_hoisted_into_the_query() {
    use cnx_storage::access::signer::{presign, Signing};
    let srv = Server::start();
    let client = srv.client();
    let bucket = srv.bucket(&client, "hoist").await;
    let url = format!(
        "{}/{bucket}/meta.txt?x-amz-meta-origin=presigned&x-id=PutObject",
        srv.endpoint()
    );
    let signed = presign(
        &Signing {
            access_key: &srv.access_key,
            secret: &srv.secret_key,
            region: "in-mum",
            service: "s3",
            time: SystemTime::now(),
        },
        "PUT",
        &url,
        &[],
        Duration::from_secs(300),
    )
    .unwrap();
    let r = raw_request("PUT", &signed, &[], "hello").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let head = client
        .head_object()
        .bucket(&bucket)
        .key("meta.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(
        head.metadata()
            .and_then(|m| m.get("origin"))
            .map(String::as_str),
        Some("presigned")
    );
}
