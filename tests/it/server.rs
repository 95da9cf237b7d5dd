//! Whole-server behaviour: health, request ids, unimplemented operations, persistence across
//! restarts and crashes, and failed uploads leaving stored data alone.

use std::time::{Duration, Instant};

use aws_sdk_s3::operation::RequestId;
use aws_sdk_s3::types::ChecksumAlgorithm;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::harness::{
    assert_err, blob_files, etag_of, get_bytes, pattern, put, put_many, raw_request, xml_tag,
    Server,
};

#[tokio::test]
async fn health_is_open_and_json() {
    let srv = Server::start();
    if srv.skip_external("/health is cnx-storage's own route") {
        return;
    }
    let response = raw_request("GET", &format!("{}/health", srv.endpoint()), &[], "").await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert!(
        response
            .header("content-type")
            .is_some_and(|t| t.starts_with("application/json")),
        "{response:?}"
    );
    let json: serde_json::Value =
        serde_json::from_slice(&response.body).expect("health body is JSON");
    assert_eq!(json["status"], "healthy", "{json}");
    assert_eq!(json["region"], "in-mum", "{json}");
    assert!(
        json.get("version").is_some() && json.get("uptime").is_some(),
        "{json}"
    );
}

#[tokio::test]
async fn every_response_has_a_request_id() {
    let srv = Server::start();
    if srv.skip_external("moto sends x-amzn-requestid instead") {
        return;
    }
    let s3 = srv.client();
    let first = s3.list_buckets().send().await.unwrap();
    let second = s3.list_buckets().send().await.unwrap();
    let (a, b) = (
        first.request_id().expect("request id"),
        second.request_id().expect("request id"),
    );
    assert!(!a.is_empty());
    assert_ne!(a, b, "request ids must differ");

    let bucket = srv.bucket(&s3, "reqid").await;
    let out = put(&s3, &bucket, "k", b"v").await;
    assert!(out.request_id().is_some());

    // Errors carry it in the header and in the XML body.
    let info = assert_err(
        s3.get_object().bucket(&bucket).key("missing").send().await,
        404,
        Some("NoSuchKey"),
    );
    let header = info
        .request_id
        .clone()
        .expect("x-amz-request-id on an error");
    let body = String::from_utf8_lossy(&info.body);
    assert_eq!(
        xml_tag(&body, "RequestId").as_deref(),
        Some(header.as_str()),
        "{body}"
    );
    assert!(
        xml_tag(&body, "Message").is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert_eq!(
        xml_tag(&body, "Resource").as_deref(),
        Some(format!("/{bucket}/missing").as_str()),
        "{body}"
    );
    // HEAD errors too (no body to carry it).
    let info = assert_err(
        s3.head_object().bucket(&bucket).key("missing").send().await,
        404,
        None,
    );
    assert!(info.request_id.is_some(), "{info:?}");

    for path in ["/health", "/", "/no-such-bucket-here/x"] {
        let response = raw_request("GET", &format!("{}{path}", srv.endpoint()), &[], "").await;
        assert!(
            response
                .header("x-amz-request-id")
                .is_some_and(|id| !id.is_empty()),
            "GET {path}: {response:?}"
        );
    }
}

#[tokio::test]
async fn unknown_operation_is_not_implemented() {
    let srv = Server::start();
    if srv.skip_external("moto answers GetBucketAnalyticsConfiguration with 200") {
        return;
    }
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "notimpl").await;
    let result = s3
        .get_bucket_analytics_configuration()
        .bucket(&bucket)
        .id("x")
        .send()
        .await;
    let info = assert_err(result, 501, Some("NotImplemented"));
    let body = String::from_utf8_lossy(&info.body);
    assert!(
        body.starts_with("<?xml") || body.starts_with("<Error>"),
        "{body}"
    );
    assert_eq!(xml_tag(&body, "Code").as_deref(), Some("NotImplemented"));
    assert!(info.request_id.is_some());
}

/// Small objects live in the index's write-ahead log until a flush, and the index reuses
/// flushed log files in place. Enough objects to flush several times (so the logs written
/// after are recycled ones), SIGKILL, restart, twice over: every acknowledged object is there,
/// byte for byte.
#[tokio::test]
async fn acknowledged_small_objects_survive_sigkill_after_logs_are_recycled() {
    use futures::StreamExt;
    // 16 KiB objects are kept in the index; 1,200 of them are ~19 MiB, several memtables.
    const SIZE: usize = 16 * 1024;
    const PER_ROUND: u64 = 1_200;
    let mut srv = Server::start();
    if srv.skip_external("killing needs a spawned server") {
        return;
    }
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "recycled-logs").await;
    let key = |i: u64| format!("o/{i:05}");
    for round in 0..2u64 {
        let s3 = srv.client();
        let written = round * PER_ROUND..(round + 1) * PER_ROUND;
        futures::stream::iter(written)
            .map(|i| {
                let (s3, bucket) = (s3.clone(), bucket.clone());
                async move { put(&s3, &bucket, &key(i), &pattern(SIZE, i)).await }
            })
            .buffer_unordered(16)
            .collect::<Vec<_>>()
            .await;
        srv.kill9_and_restart();
        let s3 = srv.client();
        let bad: Vec<u64> =
            futures::stream::iter(0..(round + 1) * PER_ROUND)
                .map(|i| {
                    let (s3, bucket) = (s3.clone(), bucket.clone());
                    async move {
                        (get_bytes(&s3, &bucket, &key(i)).await != pattern(SIZE, i)).then_some(i)
                    }
                })
                .buffer_unordered(16)
                .filter_map(|bad| async move { bad })
                .collect()
                .await;
        assert!(
            bad.is_empty(),
            "round {round}: objects changed by the kill: {bad:?}"
        );
    }
}

#[tokio::test]
async fn restart_keeps_buckets_objects_and_metadata() {
    let mut srv = Server::start();
    if srv.skip_external("restarting needs a spawned server") {
        return;
    }
    let s3 = srv.client();
    let a = srv.bucket(&s3, "persist-a").await;
    let b = srv.bucket(&s3, "persist-b").await;
    let big = pattern(3 * 1024 * 1024, 41);
    put(&s3, &a, "big", &big).await;
    s3.put_object()
        .bucket(&a)
        .key("meta é")
        .body(b"m".to_vec().into())
        .content_type("text/x-kept")
        .metadata("kept", "yes")
        .checksum_algorithm(ChecksumAlgorithm::Sha256)
        .send()
        .await
        .unwrap();
    let keys: Vec<String> = (0..50).map(|i| format!("many/{i:03}")).collect();
    put_many(&s3, &b, &keys).await;
    s3.delete_object()
        .bucket(&b)
        .key("many/007")
        .send()
        .await
        .unwrap();

    srv.restart();
    let s3 = srv.client();

    let mut names: Vec<String> = s3
        .list_buckets()
        .send()
        .await
        .unwrap()
        .buckets()
        .iter()
        .filter_map(|x| x.name().map(str::to_owned))
        .collect();
    names.sort();
    assert_eq!(names, [a.clone(), b.clone()]);
    assert!(get_bytes(&s3, &a, "big").await == big);
    let head = s3
        .head_object()
        .bucket(&a)
        .key("meta é")
        .checksum_mode(aws_sdk_s3::types::ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_type(), Some("text/x-kept"));
    assert_eq!(
        head.metadata()
            .and_then(|m| m.get("kept"))
            .map(String::as_str),
        Some("yes")
    );
    assert!(head.checksum_sha256().is_some());
    let listed = s3.list_objects_v2().bucket(&b).send().await.unwrap();
    assert_eq!(listed.key_count(), Some(49));
    assert_err(
        s3.head_object().bucket(&b).key("many/007").send().await,
        404,
        None,
    );

    // And the restarted server takes writes.
    put(&s3, &b, "after-restart", b"new").await;
    srv.restart();
    assert_eq!(get_bytes(&srv.client(), &b, "after-restart").await, b"new");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_after_acknowledged_writes_loses_nothing() {
    let mut srv = Server::start();
    if srv.skip_external("kill -9 needs a spawned server") {
        return;
    }
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "durable").await;
    put(&s3, &bucket, "deleted", b"to delete").await;
    put(&s3, &bucket, "overwritten", b"old").await;
    let mut bodies = Vec::new();
    for i in 0..20 {
        let body = pattern(1000 + i * 4099, i as u64);
        put(&s3, &bucket, &format!("obj-{i}"), &body).await;
        bodies.push(body);
    }
    s3.delete_object()
        .bucket(&bucket)
        .key("deleted")
        .send()
        .await
        .unwrap();
    put(&s3, &bucket, "overwritten", b"new").await;
    // The last acknowledged write comes right before the kill.
    let last = pattern(200_000, 99);
    put(&s3, &bucket, "last", &last).await;

    srv.kill9_and_restart();
    let s3 = srv.client();

    for (i, body) in bodies.iter().enumerate() {
        let key = format!("obj-{i}");
        let got = s3
            .get_object()
            .bucket(&bucket)
            .key(&key)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{key} lost: {e:?}"));
        assert_eq!(got.e_tag(), Some(etag_of(body).as_str()), "{key}");
        assert!(
            got.body.collect().await.unwrap().into_bytes().as_ref() == body.as_slice(),
            "{key} body"
        );
    }
    assert!(
        get_bytes(&s3, &bucket, "last").await == last,
        "last write lost"
    );
    assert_eq!(get_bytes(&s3, &bucket, "overwritten").await, b"new");
    assert_err(
        s3.head_object().bucket(&bucket).key("deleted").send().await,
        404,
        None,
    );
    let listed = s3.list_objects_v2().bucket(&bucket).send().await.unwrap();
    assert_eq!(listed.key_count(), Some(22));
}

#[tokio::test]
async fn failed_uploads_leave_the_previous_object_intact() {
    let srv = Server::start();
    if srv.skip_external("moto verifies neither checksums nor Content-MD5") {
        return;
    }
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "intact").await;
    let original = pattern(50_000, 51);
    s3.put_object()
        .bucket(&bucket)
        .key("k")
        .body(original.clone().into())
        .content_type("text/x-original")
        .metadata("version", "1")
        .send()
        .await
        .unwrap();
    let blobs_before = blob_files(srv.data_dir());

    let replacement = pattern(60_000, 52);
    let wrong_sha = crate::harness::random_hex(32);
    let wrong_sha = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        hex::decode(wrong_sha).unwrap(),
    );
    let result = s3
        .put_object()
        .bucket(&bucket)
        .key("k")
        .body(replacement.clone().into())
        .content_type("text/x-replacement")
        .checksum_sha256(wrong_sha)
        .send()
        .await;
    assert_err(result, 400, None);
    let wrong_md5 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [0u8; 16]);
    let result = s3
        .put_object()
        .bucket(&bucket)
        .key("k")
        .body(replacement.clone().into())
        .content_md5(wrong_md5)
        .send()
        .await;
    assert_err(result, 400, Some("BadDigest"));

    let check = |got: aws_sdk_s3::operation::get_object::GetObjectOutput| {
        assert_eq!(got.e_tag(), Some(etag_of(&original).as_str()));
        assert_eq!(got.content_type(), Some("text/x-original"));
        assert_eq!(
            got.metadata()
                .and_then(|m| m.get("version"))
                .map(String::as_str),
            Some("1")
        );
        got.body
    };
    let body = check(
        s3.get_object()
            .bucket(&bucket)
            .key("k")
            .send()
            .await
            .unwrap(),
    );
    assert!(body.collect().await.unwrap().into_bytes().as_ref() == original.as_slice());

    // A presigned PUT whose connection dies half-way through the body.
    let url = s3
        .put_object()
        .bucket(&bucket)
        .key("k")
        .presigned(
            aws_sdk_s3::presigning::PresigningConfig::expires_in(Duration::from_secs(300)).unwrap(),
        )
        .await
        .unwrap();
    let uri: http::Uri = url.uri().parse().unwrap();
    let mut stream = tokio::net::TcpStream::connect(&srv.addr).await.unwrap();
    let mut head = format!(
        "PUT {} HTTP/1.1\r\nHost: {}\r\nContent-Length: 100000\r\n",
        uri.path_and_query().unwrap(),
        srv.addr
    );
    for (name, value) in url.headers() {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&replacement[..40_000]).await.unwrap();
    stream.shutdown().await.unwrap();
    let mut response = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut response)).await;
    let response = String::from_utf8_lossy(&response);
    assert!(
        !response.starts_with("HTTP/1.1 200"),
        "truncated upload accepted: {response}"
    );
    drop(stream);

    let body = check(
        s3.get_object()
            .bucket(&bucket)
            .key("k")
            .send()
            .await
            .unwrap(),
    );
    assert!(body.collect().await.unwrap().into_bytes().as_ref() == original.as_slice());

    // No orphan blob left behind (cleanup may finish just after the connection drops).
    if let Some(before) = blobs_before {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let now = blob_files(srv.data_dir()).unwrap_or(0);
            if now == before {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{now} blob files after failed uploads, {before} before"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    } else {
        eprintln!(
            "no {}/blobs directory: orphan-blob check skipped",
            srv.data_dir().display()
        );
    }
}
