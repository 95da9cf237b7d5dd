//! CopyObject: encoded copy sources, metadata directives, self-copy, copy-source conditions.

use aws_sdk_s3::types::MetadataDirective;

use crate::harness::{assert_err, etag_of, get_bytes, url_encode_path, Server};

const SOURCE_KEY: &str = "dir/a b+c%d=e~f é😀.txt";

/// Creates a bucket holding `SOURCE_KEY` with a content type and metadata.
async fn source(srv: &Server, s3: &aws_sdk_s3::Client) -> String {
    let bucket = srv.bucket(s3, "copysrc").await;
    s3.put_object()
        .bucket(&bucket)
        .key(SOURCE_KEY)
        .body(b"copy me".to_vec().into())
        .content_type("text/x-source")
        .cache_control("max-age=60")
        .metadata("origin", "source")
        .send()
        .await
        .unwrap();
    bucket
}

fn copy_source(bucket: &str, key: &str) -> String {
    format!("{bucket}/{}", url_encode_path(key))
}

#[tokio::test]
async fn copy_with_encoded_source_keeps_metadata() {
    let srv = Server::start();
    let s3 = srv.client();
    let bucket = source(&srv, &s3).await;
    let dest_key = "copies/ünï code+copy.txt";
    let out = s3
        .copy_object()
        .bucket(&bucket)
        .key(dest_key)
        .copy_source(copy_source(&bucket, SOURCE_KEY))
        .send()
        .await
        .unwrap();
    let result = out.copy_object_result().expect("CopyObjectResult");
    assert_eq!(result.e_tag(), Some(etag_of(b"copy me").as_str()));
    assert!(result.last_modified().is_some());

    let got = s3
        .get_object()
        .bucket(&bucket)
        .key(dest_key)
        .send()
        .await
        .unwrap();
    assert_eq!(got.content_type(), Some("text/x-source"));
    assert_eq!(got.cache_control(), Some("max-age=60"));
    assert_eq!(
        got.metadata()
            .and_then(|m| m.get("origin"))
            .map(String::as_str),
        Some("source")
    );
    assert_eq!(got.e_tag(), Some(etag_of(b"copy me").as_str()));
    assert_eq!(
        got.body.collect().await.unwrap().into_bytes().as_ref(),
        b"copy me"
    );
    // The source is untouched.
    assert_eq!(get_bytes(&s3, &bucket, SOURCE_KEY).await, b"copy me");
}

#[tokio::test]
async fn copy_between_buckets_and_with_leading_slash() {
    let srv = Server::start();
    let s3 = srv.client();
    let src = source(&srv, &s3).await;
    let dst = srv.bucket(&s3, "copydst").await;
    s3.copy_object()
        .bucket(&dst)
        .key("plain")
        .copy_source(copy_source(&src, SOURCE_KEY))
        .send()
        .await
        .unwrap();
    assert_eq!(get_bytes(&s3, &dst, "plain").await, b"copy me");
    // Some clients send the source as `/bucket/key`.
    let slashed = format!("/{}", copy_source(&src, SOURCE_KEY));
    s3.copy_object()
        .bucket(&dst)
        .key("slashed")
        .copy_source(slashed)
        .send()
        .await
        .unwrap();
    assert_eq!(get_bytes(&s3, &dst, "slashed").await, b"copy me");
}

#[tokio::test]
async fn copy_with_replace_directive() {
    let srv = Server::start();
    let s3 = srv.client();
    let bucket = source(&srv, &s3).await;
    s3.copy_object()
        .bucket(&bucket)
        .key("replaced")
        .copy_source(copy_source(&bucket, SOURCE_KEY))
        .metadata_directive(MetadataDirective::Replace)
        .content_type("application/x-new")
        .metadata("fresh", "yes")
        .send()
        .await
        .unwrap();
    let got = s3
        .head_object()
        .bucket(&bucket)
        .key("replaced")
        .send()
        .await
        .unwrap();
    assert_eq!(got.content_type(), Some("application/x-new"));
    assert_eq!(got.cache_control(), None);
    let meta = got.metadata().cloned().unwrap_or_default();
    assert_eq!(meta.get("fresh").map(String::as_str), Some("yes"));
    assert!(!meta.contains_key("origin"), "{meta:?}");

    // COPY (the default) ignores metadata sent with the request.
    s3.copy_object()
        .bucket(&bucket)
        .key("copied")
        .copy_source(copy_source(&bucket, SOURCE_KEY))
        .metadata_directive(MetadataDirective::Copy)
        .metadata("ignored", "yes")
        .send()
        .await
        .unwrap();
    let got = s3
        .head_object()
        .bucket(&bucket)
        .key("copied")
        .send()
        .await
        .unwrap();
    let meta = got.metadata().cloned().unwrap_or_default();
    assert_eq!(meta.get("origin").map(String::as_str), Some("source"));
    assert!(!meta.contains_key("ignored"), "{meta:?}");
}

#[tokio::test]
async fn copy_onto_itself_needs_replace() {
    let srv = Server::start();
    let s3 = srv.client();
    let bucket = source(&srv, &s3).await;
    let result = s3
        .copy_object()
        .bucket(&bucket)
        .key(SOURCE_KEY)
        .copy_source(copy_source(&bucket, SOURCE_KEY))
        .send()
        .await;
    assert_err(result, 400, Some("InvalidRequest"));

    s3.copy_object()
        .bucket(&bucket)
        .key(SOURCE_KEY)
        .copy_source(copy_source(&bucket, SOURCE_KEY))
        .metadata_directive(MetadataDirective::Replace)
        .metadata("origin", "rewritten")
        .content_type("text/x-rewritten")
        .send()
        .await
        .unwrap();
    let got = s3
        .get_object()
        .bucket(&bucket)
        .key(SOURCE_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(got.content_type(), Some("text/x-rewritten"));
    assert_eq!(
        got.metadata()
            .and_then(|m| m.get("origin"))
            .map(String::as_str),
        Some("rewritten")
    );
    assert_eq!(
        got.body.collect().await.unwrap().into_bytes().as_ref(),
        b"copy me"
    );
}

#[tokio::test]
async fn copy_source_conditions() {
    let srv = Server::start();
    let s3 = srv.client();
    let bucket = source(&srv, &s3).await;
    let etag = etag_of(b"copy me");
    let src = copy_source(&bucket, SOURCE_KEY);

    if !srv.is_external() {
        // Moto ignores x-amz-copy-source-if-* headers.
        let result = s3
            .copy_object()
            .bucket(&bucket)
            .key("c1")
            .copy_source(&src)
            .copy_source_if_match(etag_of(b"other"))
            .send()
            .await;
        assert_err(result, 412, Some("PreconditionFailed"));
        let result = s3
            .copy_object()
            .bucket(&bucket)
            .key("c2")
            .copy_source(&src)
            .copy_source_if_none_match(&etag)
            .send()
            .await;
        assert_err(result, 412, Some("PreconditionFailed"));
        assert_err(
            s3.head_object().bucket(&bucket).key("c1").send().await,
            404,
            None,
        );
        assert_err(
            s3.head_object().bucket(&bucket).key("c2").send().await,
            404,
            None,
        );
    }

    s3.copy_object()
        .bucket(&bucket)
        .key("c3")
        .copy_source(&src)
        .copy_source_if_match(&etag)
        .send()
        .await
        .unwrap();
    s3.copy_object()
        .bucket(&bucket)
        .key("c4")
        .copy_source(&src)
        .copy_source_if_none_match(etag_of(b"other"))
        .send()
        .await
        .unwrap();
    assert_eq!(get_bytes(&s3, &bucket, "c3").await, b"copy me");
    assert_eq!(get_bytes(&s3, &bucket, "c4").await, b"copy me");
}

#[tokio::test]
async fn copy_missing_source() {
    let srv = Server::start();
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "copymiss").await;
    let result = s3
        .copy_object()
        .bucket(&bucket)
        .key("d")
        .copy_source(copy_source(&bucket, "no such key"))
        .send()
        .await;
    assert_err(result, 404, Some("NoSuchKey"));
    let result = s3
        .copy_object()
        .bucket(&bucket)
        .key("d")
        .copy_source(copy_source(&srv.unique_bucket("nob"), "k"))
        .send()
        .await;
    assert_err(result, 404, Some("NoSuchBucket"));
}
