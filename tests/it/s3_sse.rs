//! Server-side encryption at rest: what SSE-S3 writes is nowhere under the data dir in the
//! clear (objects kept in the index included), and SSE-C keys are refused on plain HTTP.

use std::path::{Path, PathBuf};

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    CompletedMultipartUpload, CompletedPart, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
};

use crate::harness::{assert_err, get_bytes, random_hex, Server};

/// The files under `dir` holding `needle`.
fn holders(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    let mut all = Vec::new();
    crate::secrets_at_rest::walk(dir, &mut all);
    // Directories are listed too; reading one fails and it holds nothing.
    all.into_iter()
        .filter(|p| {
            std::fs::read(p)
                .map(|b| b.windows(needle.len()).any(|w| w == needle))
                .unwrap_or(false)
        })
        .collect()
}

/// A body that carries `marker` at several offsets amid random bytes, `len` long.
fn body(marker: &str, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        out.extend_from_slice(marker.as_bytes());
        out.extend_from_slice(random_hex(300).as_bytes());
    }
    out.truncate(len);
    out
}

#[tokio::test]
async fn sse_s3_objects_are_nowhere_in_the_clear_under_the_data_dir() {
    let mut srv = Server::start();
    if srv.skip_external("reads the server's data dir") {
        return;
    }
    let c = srv.client();
    let bucket = srv.bucket(&c, "sse-at-rest").await;
    let defaulted = srv.bucket(&c, "sse-default").await;
    let secret = format!("SECRET-{}", random_hex(24));
    let clear = format!("CLEAR-{}", random_hex(24));

    let mut expected = Vec::new();
    // Small (kept in the index) and large (a blob file), asked for by header.
    for (key, len) in [("small", 1000usize), ("large", (3 << 20) + 11)] {
        let data = body(&secret, len);
        let out = c
            .put_object()
            .bucket(&bucket)
            .key(key)
            .server_side_encryption(ServerSideEncryption::Aes256)
            .body(ByteStream::from(data.clone()))
            .send()
            .await
            .unwrap();
        assert_eq!(
            out.server_side_encryption(),
            Some(&ServerSideEncryption::Aes256)
        );
        expected.push((bucket.clone(), key.to_owned(), data));
    }
    // By the bucket's default.
    c.put_bucket_encryption()
        .bucket(&defaulted)
        .server_side_encryption_configuration(
            ServerSideEncryptionConfiguration::builder()
                .rules(
                    ServerSideEncryptionRule::builder()
                        .apply_server_side_encryption_by_default(
                            ServerSideEncryptionByDefault::builder()
                                .sse_algorithm(ServerSideEncryption::Aes256)
                                .build()
                                .unwrap(),
                        )
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let data = body(&secret, 2000);
    c.put_object()
        .bucket(&defaulted)
        .key("by-default")
        .body(ByteStream::from(data.clone()))
        .send()
        .await
        .unwrap();
    expected.push((defaulted.clone(), "by-default".into(), data));
    // Multipart: two parts, the first of 5 MiB.
    let up = c
        .create_multipart_upload()
        .bucket(&bucket)
        .key("multi")
        .server_side_encryption(ServerSideEncryption::Aes256)
        .send()
        .await
        .unwrap();
    let id = up.upload_id().unwrap();
    let whole = body(&secret, (5 << 20) + 4000);
    let mut parts = Vec::new();
    for (n, piece) in [(1, &whole[..5 << 20]), (2, &whole[5 << 20..])] {
        let p = c
            .upload_part()
            .bucket(&bucket)
            .key("multi")
            .upload_id(id)
            .part_number(n)
            .body(ByteStream::from(piece.to_vec()))
            .send()
            .await
            .unwrap();
        parts.push(
            CompletedPart::builder()
                .part_number(n)
                .e_tag(p.e_tag().unwrap())
                .build(),
        );
    }
    c.complete_multipart_upload()
        .bucket(&bucket)
        .key("multi")
        .upload_id(id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await
        .unwrap();
    expected.push((bucket.clone(), "multi".into(), whole));
    // The control: an object stored as sent, which the search must find.
    let plain = body(&clear, 1000);
    crate::harness::put(&c, &bucket, "plain", &plain).await;

    // Twice, so the first run's WAL is flushed into table files as well.
    srv.restart();
    srv.restart();
    let c = srv.client();
    for (b, k, data) in &expected {
        assert!(get_bytes(&c, b, k).await == *data, "{b}/{k} reads back");
        let head = c.head_object().bucket(b).key(k).send().await.unwrap();
        assert_eq!(
            head.server_side_encryption(),
            Some(&ServerSideEncryption::Aes256),
            "{b}/{k}"
        );
    }
    let data_dir = srv.data_dir().to_owned();
    let index = srv.index_dump().unwrap_or_default();
    let in_index = |needle: &[u8]| index.windows(needle.len()).any(|w| w == needle);
    assert!(
        !holders(&data_dir, clear.as_bytes()).is_empty() || in_index(clear.as_bytes()),
        "the unencrypted control object is found, so the search works"
    );
    let found = holders(&data_dir, secret.as_bytes());
    assert!(found.is_empty(), "SSE-S3 bytes in the clear in {found:?}");
    assert!(
        !in_index(secret.as_bytes()),
        "SSE-S3 bytes in the clear in the index"
    );
}

#[tokio::test]
async fn customer_keys_are_refused_over_plain_http() {
    let srv = Server::start();
    let c = srv.client();
    let bucket = srv.bucket(&c, "sse-c-http").await;
    let key = [7u8; 32];
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let md5 = {
        use md5::Digest as _;
        b64.encode(md5::Md5::digest(key))
    };
    let r = c
        .put_object()
        .bucket(&bucket)
        .key("k")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(b64.encode(key))
        .sse_customer_key_md5(md5)
        .body(ByteStream::from_static(b"data"))
        .send()
        .await;
    assert_err(r, 400, Some("InvalidRequest"));
}
