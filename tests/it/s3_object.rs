//! Object operations: PutObject, GetObject (metadata, ranges, overrides), HeadObject,
//! DeleteObject, DeleteObjects, and the keys real clients send.

use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::{ByteStream, DateTime};
use aws_sdk_s3::types::{Delete, ObjectIdentifier};

use crate::harness::{
    assert_err, etag_of, get_bytes, pattern, put, put_many, raw_presigned, Server,
};

/// 2037-01-01T00:00:00Z.
const EXPIRES_SECS: i64 = 2_114_380_800;
const EXPIRES_HTTP: &str = "Thu, 01 Jan 2037 00:00:00 GMT";

#[tokio::test]
async fn put_get_head_keep_metadata_byte_exact() {
    let srv = Server::start();
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "meta").await;
    let body = pattern(1000, 1);

    let put = s3
        .put_object()
        .bucket(&bucket)
        .key("doc.txt")
        .body(ByteStream::from(body.clone()))
        .content_type("text/plain; charset=utf-8")
        .content_encoding("gzip")
        .content_disposition("attachment; filename=\"report 2024.txt\"")
        .content_language("en-GB")
        .cache_control("max-age=3600, must-revalidate")
        .expires(DateTime::from_secs(EXPIRES_SECS))
        .metadata("Project", "Alpha-42")
        .metadata("mixed-Case-Name", "Value With Spaces")
        .send()
        .await
        .unwrap();
    assert_eq!(put.e_tag(), Some(etag_of(&body).as_str()));

    let got = s3
        .get_object()
        .bucket(&bucket)
        .key("doc.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(got.e_tag(), Some(etag_of(&body).as_str()));
    assert_eq!(got.content_length(), Some(1000));
    assert_eq!(got.content_type(), Some("text/plain; charset=utf-8"));
    assert_eq!(got.content_encoding(), Some("gzip"));
    assert_eq!(
        got.content_disposition(),
        Some("attachment; filename=\"report 2024.txt\"")
    );
    assert_eq!(got.content_language(), Some("en-GB"));
    assert_eq!(got.cache_control(), Some("max-age=3600, must-revalidate"));
    assert_eq!(got.expires_string(), Some(EXPIRES_HTTP));
    assert!(got.last_modified().is_some());
    let meta = got.metadata().expect("user metadata");
    assert_eq!(
        meta.get("project").map(String::as_str),
        Some("Alpha-42"),
        "{meta:?}"
    );
    assert_eq!(
        meta.get("mixed-case-name").map(String::as_str),
        Some("Value With Spaces"),
        "{meta:?}"
    );
    assert_eq!(meta.len(), 2, "{meta:?}");
    let (got_meta, got_modified) = (got.metadata().cloned(), got.last_modified().cloned());
    let got_body = got.body.collect().await.unwrap().into_bytes();
    assert_eq!(got_body.as_ref(), body.as_slice());

    let head = s3
        .head_object()
        .bucket(&bucket)
        .key("doc.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(head.e_tag(), Some(etag_of(&body).as_str()));
    assert_eq!(head.content_length(), Some(1000));
    assert_eq!(head.content_type(), Some("text/plain; charset=utf-8"));
    assert_eq!(head.content_encoding(), Some("gzip"));
    assert_eq!(
        head.content_disposition(),
        Some("attachment; filename=\"report 2024.txt\"")
    );
    assert_eq!(head.content_language(), Some("en-GB"));
    assert_eq!(head.cache_control(), Some("max-age=3600, must-revalidate"));
    assert_eq!(head.expires_string(), Some(EXPIRES_HTTP));
    assert_eq!(head.metadata(), got_meta.as_ref());
    assert_eq!(head.last_modified(), got_modified.as_ref());
}

#[tokio::test]
async fn empty_object() {
    let srv = Server::start();
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "empty").await;
    let put = put(&s3, &bucket, "empty", b"").await;
    assert_eq!(put.e_tag(), Some("\"d41d8cd98f00b204e9800998ecf8427e\""));
    let head = s3
        .head_object()
        .bucket(&bucket)
        .key("empty")
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_length(), Some(0));
    assert!(get_bytes(&s3, &bucket, "empty").await.is_empty());
}

#[tokio::test]
async fn five_mib_object() {
    let srv = Server::start();
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "big").await;
    let body = pattern(5 * 1024 * 1024 + 17, 5);
    let put = put(&s3, &bucket, "big.bin", &body).await;
    assert_eq!(put.e_tag(), Some(etag_of(&body).as_str()));
    let got = get_bytes(&s3, &bucket, "big.bin").await;
    assert!(
        got == body,
        "5 MiB body differs (len {} vs {})",
        got.len(),
        body.len()
    );
}

#[tokio::test]
async fn overwrite_replaces_body_and_metadata() {
    let srv = Server::start();
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "over").await;
    s3.put_object()
        .bucket(&bucket)
        .key("k")
        .body(b"one".to_vec().into())
        .metadata("a", "1")
        .send()
        .await
        .unwrap();
    s3.put_object()
        .bucket(&bucket)
        .key("k")
        .body(b"second".to_vec().into())
        .metadata("b", "2")
        .send()
        .await
        .unwrap();
    let got = s3
        .get_object()
        .bucket(&bucket)
        .key("k")
        .send()
        .await
        .unwrap();
    assert_eq!(got.e_tag(), Some(etag_of(b"second").as_str()));
    let meta = got.metadata().cloned().unwrap_or_default();
    assert_eq!(meta.get("b").map(String::as_str), Some("2"));
    assert!(!meta.contains_key("a"), "{meta:?}");
    assert_eq!(
        got.body.collect().await.unwrap().into_bytes().as_ref(),
        b"second"
    );
}

/// Keys that trip up canonical-URI handling (S3-PITFALLS 4).
fn awkward_keys() -> Vec<String> {
    vec![
        "with space.txt".into(),
        "plus+sign".into(),
        "percent%41literal".into(),
        "equals=sign&amp".into(),
        "tilde~name".into(),
        "unicodé/ǅ/日本語".into(),
        "emoji 😀🚀".into(),
        "double//slash".into(),
        "/leading-slash".into(),
        "trailing-slash/".into(),
        "dots/./and/../x".into(),
        "q?uery#hash".into(),
        "semi;colon,comma:colon@at$dollar!bang'quote(paren)*star".into(),
        "x".repeat(1024),
    ]
}

#[tokio::test]
async fn awkward_keys_round_trip() {
    let srv = Server::start();
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "keys").await;
    let keys = awkward_keys();
    for key in &keys {
        put(&s3, &bucket, key, key.as_bytes()).await;
    }
    for key in &keys {
        assert_eq!(
            get_bytes(&s3, &bucket, key).await,
            key.as_bytes(),
            "key {key:?}"
        );
        let head = s3
            .head_object()
            .bucket(&bucket)
            .key(key)
            .send()
            .await
            .unwrap_or_else(|e| panic!("head {key:?}: {e:?}"));
        assert_eq!(head.content_length(), Some(key.len() as i64));
    }
    let listed = s3.list_objects_v2().bucket(&bucket).send().await.unwrap();
    let mut listed: Vec<String> = listed
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect();
    let mut expected = keys.clone();
    expected.sort();
    listed.sort();
    assert_eq!(listed, expected);
    for key in &keys {
        s3.delete_object()
            .bucket(&bucket)
            .key(key)
            .send()
            .await
            .unwrap();
        assert_err(
            s3.get_object().bucket(&bucket).key(key).send().await,
            404,
            Some("NoSuchKey"),
        );
    }
}

#[tokio::test]
async fn key_longer_than_1024_bytes_is_rejected() {
    let srv = Server::start();
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "longkey").await;
    // 1024 bytes of UTF-8 (two-byte characters) is fine; one more byte is not.
    let ok = "é".repeat(512);
    put(&s3, &bucket, &ok, b"ok").await;
    assert_eq!(get_bytes(&s3, &bucket, &ok).await, b"ok");

    if srv.skip_external("moto does not limit key length") {
        return;
    }
    let too_long = "k".repeat(1025);
    let result = s3
        .put_object()
        .bucket(&bucket)
        .key(&too_long)
        .body(b"no".to_vec().into())
        .send()
        .await;
    assert_err(result, 400, Some("KeyTooLongError"));
}

#[tokio::test]
async fn get_and_head_missing_key() {
    let srv = Server::start();
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "nokey").await;
    assert_err(
        s3.get_object().bucket(&bucket).key("nope").send().await,
        404,
        Some("NoSuchKey"),
    );
    let info = assert_err(
        s3.head_object().bucket(&bucket).key("nope").send().await,
        404,
        None,
    );
    assert!(info.body.is_empty(), "{info:?}");
}

#[tokio::test]
async fn range_requests() {
    let srv = Server::start();
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "range").await;
    let body = pattern(100, 7);
    put(&s3, &bucket, "r", &body).await;

    let cases: [(&str, std::ops::Range<usize>); 5] = [
        ("bytes=0-9", 0..10),
        ("bytes=10-10", 10..11),
        ("bytes=-10", 90..100),
        ("bytes=95-", 95..100),
        ("bytes=90-200", 90..100),
    ];
    for (range, expected) in cases {
        let got = s3
            .get_object()
            .bucket(&bucket)
            .key("r")
            .range(range)
            .send()
            .await
            .unwrap();
        let content_range = format!("bytes {}-{}/100", expected.start, expected.end - 1);
        assert_eq!(got.content_range(), Some(content_range.as_str()), "{range}");
        assert_eq!(got.content_length(), Some(expected.len() as i64), "{range}");
        assert_eq!(got.e_tag(), Some(etag_of(&body).as_str()), "{range}");
        let got_body = got.body.collect().await.unwrap().into_bytes();
        assert_eq!(got_body.as_ref(), &body[expected], "{range}");
    }

    for range in ["bytes=100-", "bytes=150-200"] {
        let result = s3
            .get_object()
            .bucket(&bucket)
            .key("r")
            .range(range)
            .send()
            .await;
        assert_err(result, 416, Some("InvalidRange"));
    }

    // The status codes themselves, which the SDK does not expose on success.
    let presign = PresigningConfig::expires_in(Duration::from_secs(300)).unwrap();
    let url = s3
        .get_object()
        .bucket(&bucket)
        .key("r")
        .presigned(presign)
        .await
        .unwrap();
    let partial = raw_presigned(&url, &[("range", "bytes=1-3")], "").await;
    assert_eq!(partial.status, 206, "{partial:?}");
    assert_eq!(partial.header("content-range"), Some("bytes 1-3/100"));
    assert_eq!(partial.body.as_ref(), &body[1..4]);
    let whole = raw_presigned(&url, &[], "").await;
    assert_eq!(whole.status, 200);
    assert_eq!(whole.body.as_ref(), body.as_slice());
    let unsatisfiable = raw_presigned(&url, &[("range", "bytes=500-")], "").await;
    assert_eq!(unsatisfiable.status, 416, "{unsatisfiable:?}");
    assert_eq!(unsatisfiable.error_code().as_deref(), Some("InvalidRange"));
}

#[tokio::test]
async fn response_header_overrides() {
    let srv = Server::start();
    if srv.skip_external("moto ignores response-* overrides") {
        return;
    }
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "override").await;
    s3.put_object()
        .bucket(&bucket)
        .key("o")
        .body(b"data".to_vec().into())
        .content_type("text/plain")
        .send()
        .await
        .unwrap();
    let got = s3
        .get_object()
        .bucket(&bucket)
        .key("o")
        .response_content_type("application/x-custom")
        .response_content_disposition("attachment; filename=\"o.bin\"")
        .response_content_language("mr-IN")
        .response_cache_control("no-cache")
        .response_content_encoding("identity")
        .response_expires(DateTime::from_secs(EXPIRES_SECS))
        .send()
        .await
        .unwrap();
    assert_eq!(got.content_type(), Some("application/x-custom"));
    assert_eq!(
        got.content_disposition(),
        Some("attachment; filename=\"o.bin\"")
    );
    assert_eq!(got.content_language(), Some("mr-IN"));
    assert_eq!(got.cache_control(), Some("no-cache"));
    assert_eq!(got.content_encoding(), Some("identity"));
    assert_eq!(got.expires_string(), Some(EXPIRES_HTTP));
    // Overrides change that response only.
    let plain = s3
        .head_object()
        .bucket(&bucket)
        .key("o")
        .send()
        .await
        .unwrap();
    assert_eq!(plain.content_type(), Some("text/plain"));
    assert_eq!(plain.cache_control(), None);
}

#[tokio::test]
async fn delete_object_is_idempotent() {
    let srv = Server::start();
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "delobj").await;
    put(&s3, &bucket, "gone", b"x").await;
    s3.delete_object()
        .bucket(&bucket)
        .key("gone")
        .send()
        .await
        .unwrap();
    assert_err(
        s3.get_object().bucket(&bucket).key("gone").send().await,
        404,
        Some("NoSuchKey"),
    );
    s3.delete_object()
        .bucket(&bucket)
        .key("gone")
        .send()
        .await
        .unwrap();
    s3.delete_object()
        .bucket(&bucket)
        .key("never-existed")
        .send()
        .await
        .unwrap();
    assert_err(
        s3.delete_object()
            .bucket(srv.unique_bucket("nob"))
            .key("k")
            .send()
            .await,
        404,
        Some("NoSuchBucket"),
    );
}

fn delete_request(keys: &[String], quiet: bool) -> Delete {
    let objects = keys
        .iter()
        .map(|k| ObjectIdentifier::builder().key(k).build().unwrap())
        .collect();
    Delete::builder()
        .set_objects(Some(objects))
        .quiet(quiet)
        .build()
        .unwrap()
}

#[tokio::test]
async fn delete_objects_existing_and_missing() {
    let srv = Server::start();
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "delmany").await;
    let existing: Vec<String> = ["a", "b c", "d/é"].iter().map(|s| s.to_string()).collect();
    put_many(&s3, &bucket, &existing).await;
    put(&s3, &bucket, "keep", b"k").await;

    let mut targets = existing.clone();
    targets.extend(["missing-1".to_string(), "missing/2".to_string()]);
    let out = s3
        .delete_objects()
        .bucket(&bucket)
        .delete(delete_request(&targets, false))
        .send()
        .await
        .unwrap();
    assert!(out.errors().is_empty(), "{:?}", out.errors());
    let mut deleted: Vec<&str> = out.deleted().iter().filter_map(|d| d.key()).collect();
    deleted.sort();
    let mut expected: Vec<&str> = targets.iter().map(String::as_str).collect();
    expected.sort();
    // S3 reports a missing key as deleted.
    assert_eq!(deleted, expected);

    let left = s3.list_objects_v2().bucket(&bucket).send().await.unwrap();
    let left: Vec<&str> = left.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(left, ["keep"]);
}

#[tokio::test]
async fn delete_objects_quiet_reports_nothing() {
    let srv = Server::start();
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "quiet").await;
    let keys: Vec<String> = (0..10).map(|i| format!("q/{i}")).collect();
    put_many(&s3, &bucket, &keys).await;
    let out = s3
        .delete_objects()
        .bucket(&bucket)
        .delete(delete_request(&keys, true))
        .send()
        .await
        .unwrap();
    if !srv.is_external() {
        // Moto ignores Quiet.
        assert!(out.deleted().is_empty(), "{:?}", out.deleted());
    }
    assert!(out.errors().is_empty(), "{:?}", out.errors());
    let left = s3.list_objects_v2().bucket(&bucket).send().await.unwrap();
    assert_eq!(left.key_count(), Some(0));
}

#[tokio::test]
async fn delete_objects_more_than_1000_keys_is_malformed() {
    let srv = Server::start();
    if srv.skip_external("moto accepts more than 1000 keys") {
        return;
    }
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "del1001").await;
    put(&s3, &bucket, "k-0", b"survives").await;
    let keys: Vec<String> = (0..1001).map(|i| format!("k-{i}")).collect();
    let result = s3
        .delete_objects()
        .bucket(&bucket)
        .delete(delete_request(&keys, false))
        .send()
        .await;
    assert_err(result, 400, Some("MalformedXML"));
    // Nothing was deleted.
    assert_eq!(get_bytes(&s3, &bucket, "k-0").await, b"survives");

    // Exactly 1000 is allowed.
    let out = s3
        .delete_objects()
        .bucket(&bucket)
        .delete(delete_request(&keys[..1000], true))
        .send()
        .await
        .unwrap();
    assert!(out.errors().is_empty());
    assert_err(
        s3.head_object().bucket(&bucket).key("k-0").send().await,
        404,
        None,
    );
}
