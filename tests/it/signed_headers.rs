//! No unsigned header steers a request: a presigned URL's holder cannot add
//! `x-amz-copy-source`, metadata, checksums or tagging, and the management surface mints
//! URLs with the narrowest key that can do the method.

use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;
use serde_json::json;

use crate::api_bucket_keys::{api, root};
use crate::harness::{assert_err, get_bytes, put, raw_presigned, xml_tag, Server};

#[tokio::test]
async fn presigned_put_cannot_be_turned_into_a_copy_or_carry_unsigned_headers() {
    let srv = Server::start();
    let client = srv.client();
    let b1 = srv.bucket(&client, "sh-pub").await;
    let b2 = srv.bucket(&client, "sh-private").await;
    put(&client, &b2, "private", b"top secret").await;

    let url = client
        .put_object()
        .bucket(&b1)
        .key("x")
        .presigned(PresigningConfig::expires_in(Duration::from_secs(600)).unwrap())
        .await
        .unwrap();
    let copy_source = format!("{b2}/private");
    for (name, value) in [
        ("x-amz-copy-source", copy_source.as_str()),
        ("x-amz-meta-owner", "mallory"),
        ("x-amz-metadata-directive", "REPLACE"),
        ("x-amz-checksum-crc32", "AAAAAA=="),
        ("x-amz-tagging", "a=b"),
        ("x-amz-storage-class", "STANDARD"),
    ] {
        let r = raw_presigned(&url, &[(name, value)], "payload").await;
        assert_eq!(r.status, 403, "{name}: {}", r.text());
        assert_eq!(r.error_code().as_deref(), Some("AccessDenied"), "{name}");
        assert_eq!(
            xml_tag(&r.text(), "HeadersNotSigned").as_deref(),
            Some(name),
            "{}",
            r.text()
        );
        if srv.is_external() {
            continue;
        }
        assert_err(
            client.head_object().bucket(&b1).key("x").send().await,
            404,
            None,
        );
    }
    // The URL as minted still works, and the private object was never copied.
    let r = raw_presigned(&url, &[], "payload").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(get_bytes(&client, &b1, "x").await, b"payload");
    let head = client
        .head_object()
        .bucket(&b1)
        .key("x")
        .send()
        .await
        .unwrap();
    assert!(head.metadata().is_none_or(|m| m.is_empty()), "{head:?}");
}

#[tokio::test]
async fn presigned_get_ignores_nothing_it_did_not_sign() {
    let srv = Server::start();
    let client = srv.client();
    let b = srv.bucket(&client, "sh-get").await;
    put(&client, &b, "k", b"hello").await;
    let url = client
        .get_object()
        .bucket(&b)
        .key("k")
        .presigned(PresigningConfig::expires_in(Duration::from_secs(600)).unwrap())
        .await
        .unwrap();
    // Ordinary headers a browser or curl adds are fine; x-amz-* ones are not.
    let r = raw_presigned(&url, &[("range", "bytes=0-1"), ("user-agent", "curl")], "").await;
    assert_eq!(r.status, 206, "{}", r.text());
    let r = raw_presigned(&url, &[("x-amz-request-payer", "requester")], "").await;
    assert_eq!(r.status, 403, "{}", r.text());
    // The payload-hash header is the one S3 lets through unsigned.
    let r = raw_presigned(&url, &[("x-amz-content-sha256", "UNSIGNED-PAYLOAD")], "").await;
    assert_eq!(r.status, 200, "{}", r.text());
}

#[tokio::test]
async fn minted_urls_are_signed_with_a_key_of_that_bucket_only() {
    let srv = Server::start();
    if srv.skip_external("management API") {
        return;
    }
    let client = srv.client();
    let b = srv.bucket(&client, "sh-mint").await;
    put(&client, &b, "k", b"v").await;
    let me = root(&srv);
    let mint = |method: &str| {
        let (st, v) = api(
            &srv,
            &me,
            "POST",
            &format!("/storage/buckets/{b}/presign"),
            Some(&json!({ "key": "k", "method": method })),
        );
        assert_eq!(st, 200, "{v}");
        v["access_key_id"].as_str().unwrap().to_owned()
    };
    let get_key = mint("GET");
    let head_key = mint("HEAD");
    let put_key = mint("PUT");
    let delete_key = mint("DELETE");
    assert_ne!(get_key, srv.access_key, "never the root key");
    assert_eq!(get_key, head_key, "one managed read key per bucket");
    assert_eq!(put_key, delete_key, "one managed read-write key per bucket");
    assert_ne!(get_key, put_key);
    let (st, keys) = api(
        &srv,
        &me,
        "GET",
        &format!("/storage/buckets/{b}/keys"),
        None,
    );
    assert_eq!(st, 200, "{keys}");
    let perm = |id: &str| {
        keys["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["access_key_id"] == id)
            .unwrap_or_else(|| panic!("{id} is not a key of {b}: {keys}"))["permission"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(perm(&get_key), "read");
    assert_eq!(perm(&put_key), "read-write");
}
