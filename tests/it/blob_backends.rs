//! The S3 blob backend against moto's server on loopback, and the relaxed durability mode.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::primitives::ByteStream;

use tokio::io::AsyncWriteExt;

use crate::harness::{get_bytes, pattern, presigned_put_head, wait_until_empty, Server};

/// `python3 -m moto.server` on a free loopback port; killed on drop.
struct Moto {
    child: Child,
    endpoint: String,
}

impl Moto {
    fn start() -> Moto {
        let mut child = Command::new("python3")
            .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start moto (pip install 'moto[server]')");
        let stderr = child.stderr.take().expect("piped stderr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if !sent {
                    if let Some(at) = line.find("http://127.0.0.1:") {
                        sent = tx.send(line[at..].trim().to_owned()).is_ok();
                    }
                }
            }
        });
        let endpoint = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("moto did not announce its address");
        Moto { child, endpoint }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn s3_blob_backend_against_moto() {
    let moto = Moto::start();
    let upstream = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(&moto.endpoint)
            .credentials_provider(Credentials::new("test", "test", None, None, "moto"))
            .force_path_style(true)
            .build(),
    );
    upstream
        .create_bucket()
        .bucket("cnx-blobs")
        .send()
        .await
        .expect("create upstream bucket");
    let server = Server::start_with_config(&format!(
        "[blob]\nbackend = \"s3\"\nbucket = \"cnx-blobs\"\nregion = \"us-east-1\"\nendpoint = \"{}\"\nallow_http = true\naccess_key_id = \"test\"\nsecret_access_key = \"test\"\nprefix = \"cnx\"\n",
        moto.endpoint
    ));
    let client = server.client();
    let bucket = server.bucket(&client, "upstream").await;
    // Tiny (kept in the index, never upstream), small (one put) and larger than one 8 MiB
    // part (streamed as a multipart upload upstream).
    for (key, len) in [
        ("tiny.txt", 1000usize),
        ("small.txt", 100_000),
        ("big.bin", (8 << 20) + 12345),
    ] {
        let data = pattern(len, len as u64);
        client
            .put_object()
            .bucket(&bucket)
            .key(key)
            .body(ByteStream::from(data.clone()))
            .send()
            .await
            .expect("put through the s3 backend");
        assert_eq!(get_bytes(&client, &bucket, key).await, data, "{key}");
    }
    let ranged = client
        .get_object()
        .bucket(&bucket)
        .key("big.bin")
        .range("bytes=8388600-8388620")
        .send()
        .await
        .expect("ranged get")
        .body
        .collect()
        .await
        .expect("body")
        .into_bytes();
    assert_eq!(
        &ranged[..],
        &pattern((8 << 20) + 12345, ((8 << 20) + 12345) as u64)[8388600..=8388620]
    );

    // The bytes live upstream under the prefix and opaque ids, never under the user's key.
    let listed = upstream
        .list_objects_v2()
        .bucket("cnx-blobs")
        .send()
        .await
        .expect("list upstream");
    let keys: Vec<String> = listed
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect();
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert!(keys
        .iter()
        .all(|k| k.starts_with("cnx/") && !k.contains("big") && !k.contains("small")));
    client
        .delete_object()
        .bucket(&bucket)
        .key("tiny.txt")
        .send()
        .await
        .expect("delete");

    // Deleting the objects removes the upstream blobs (after the sweeper's grace period).
    client
        .delete_object()
        .bucket(&bucket)
        .key("small.txt")
        .send()
        .await
        .expect("delete");
    client
        .delete_object()
        .bucket(&bucket)
        .key("big.bin")
        .send()
        .await
        .expect("delete");
    // The grace is 10 s, 20 s when the index is shared (PostgreSQL).
    wait_until_empty(
        &upstream,
        "cnx-blobs",
        Duration::from_secs(45),
        "upstream blobs",
    )
    .await;
}

#[tokio::test]
async fn relaxed_durability_serves_and_survives_restart() {
    let mut server = Server::start_with_config("durability = \"relaxed\"\n");
    let client = server.client();
    let bucket = server.bucket(&client, "relaxed").await;
    client
        .put_object()
        .bucket(&bucket)
        .key("k")
        .body(ByteStream::from_static(b"relaxed"))
        .send()
        .await
        .expect("put");
    server.restart();
    let client = server.client();
    assert_eq!(get_bytes(&client, &bucket, "k").await, b"relaxed");
}

#[tokio::test]
async fn sigterm_lets_an_in_flight_download_finish() {
    let mut server = Server::start();
    if server.skip_external("needs a spawned server") {
        return;
    }
    let client = server.client();
    let bucket = server.bucket(&client, "drain").await;
    let data = pattern(24 << 20, 7);
    client
        .put_object()
        .bucket(&bucket)
        .key("big")
        .body(ByteStream::from(data.clone()))
        .send()
        .await
        .expect("put");
    let mut resp = client
        .get_object()
        .bucket(&bucket)
        .key("big")
        .send()
        .await
        .expect("get");
    let first = resp
        .body
        .try_next()
        .await
        .expect("first chunk")
        .expect("some bytes");
    server.sigterm();
    let mut got = first.to_vec();
    while let Some(chunk) = resp.body.try_next().await.expect("body keeps flowing") {
        got.extend_from_slice(&chunk);
    }
    assert!(
        got == data,
        "download after SIGTERM was cut short: {} bytes",
        got.len()
    );
    let status = tokio::task::spawn_blocking(move || server.wait_exit(Duration::from_secs(20)))
        .await
        .expect("join");
    assert!(
        status.is_some_and(|s| s.success()),
        "server exit: {status:?}"
    );
}

#[tokio::test]
async fn a_download_outlives_the_deletion_of_its_multipart_object() {
    use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
    let srv = Server::start();
    if srv.skip_external("blob leases are cnx-storage's own") {
        return;
    }
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "lease").await;
    let data = pattern((10 << 20) + 777, 5);
    let up = s3
        .create_multipart_upload()
        .bucket(&bucket)
        .key("mp")
        .send()
        .await
        .unwrap();
    let id = up.upload_id().unwrap();
    let mut parts = Vec::new();
    for (i, chunk) in data.chunks(5 << 20).enumerate() {
        let n = i as i32 + 1;
        let r = s3
            .upload_part()
            .bucket(&bucket)
            .key("mp")
            .upload_id(id)
            .part_number(n)
            .body(ByteStream::from(chunk.to_vec()))
            .send()
            .await
            .unwrap();
        parts.push(
            CompletedPart::builder()
                .part_number(n)
                .set_e_tag(r.e_tag().map(str::to_owned))
                .build(),
        );
    }
    s3.complete_multipart_upload()
        .bucket(&bucket)
        .key("mp")
        .upload_id(id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let mut resp = s3
        .get_object()
        .bucket(&bucket)
        .key("mp")
        .send()
        .await
        .unwrap();
    let mut got = resp.body.try_next().await.unwrap().unwrap().to_vec();
    // Deleted while being read, then left long enough for the sweeper's grace to pass.
    s3.delete_object()
        .bucket(&bucket)
        .key("mp")
        .send()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(12)).await;
    while let Some(chunk) = resp
        .body
        .try_next()
        .await
        .expect("the download keeps flowing")
    {
        got.extend_from_slice(&chunk);
    }
    assert!(got == data, "download cut short at {} bytes", got.len());
}

/// Uploads upstream that are still open.
async fn open_uploads(upstream: &aws_sdk_s3::Client, bucket: &str) -> usize {
    upstream
        .list_multipart_uploads()
        .bucket(bucket)
        .send()
        .await
        .expect("list upstream uploads")
        .uploads()
        .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_mid_upload_leaves_no_multipart_upload_upstream() {
    // The upstream is a second cnx-storage: S3-compatible, and it lists multipart uploads.
    let upstream_srv = Server::start();
    if upstream_srv.skip_external("kills the gateway with SIGKILL") {
        return;
    }
    let upstream = upstream_srv.client();
    let blobs_bucket = upstream_srv.bucket(&upstream, "blobs").await;
    let mut gateway = Server::start_with_config(&format!(
        "[blob]\nbackend = \"s3\"\nbucket = \"{blobs_bucket}\"\nregion = \"{}\"\nendpoint = \"{}\"\nallow_http = true\naccess_key_id = \"{}\"\nsecret_access_key = \"{}\"\nprefix = \"gw\"\n",
        crate::harness::REGION,
        upstream_srv.endpoint(),
        upstream_srv.access_key,
        upstream_srv.secret_key,
    ));
    let bucket = gateway.bucket(&gateway.client(), "crash").await;

    // More than one 8 MiB part arrives, then the client holds the rest back.
    let len = 24 << 20;
    let head = presigned_put_head(&gateway, &bucket, "cut", len).await;
    let mut s = tokio::net::TcpStream::connect(&gateway.addr).await.unwrap();
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(&pattern(10 << 20, 3)).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while open_uploads(&upstream, &blobs_bucket).await == 0 {
        assert!(
            Instant::now() < deadline,
            "the gateway never began an upload"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    tokio::task::block_in_place(|| gateway.kill9_and_restart());
    drop(s);

    // Recovery aborts the upload and leaves nothing upstream.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let uploads = open_uploads(&upstream, &blobs_bucket).await;
        let objects = upstream
            .list_objects_v2()
            .bucket(&blobs_bucket)
            .send()
            .await
            .expect("list upstream")
            .key_count()
            .unwrap_or(0);
        if uploads == 0 && objects == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{uploads} uploads and {objects} blobs left upstream"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    // The gateway still works through the same upstream, multipart included.
    let client = gateway.client();
    let data = pattern((8 << 20) + 99, 4);
    client
        .put_object()
        .bucket(&bucket)
        .key("after")
        .body(ByteStream::from(data.clone()))
        .send()
        .await
        .expect("put after recovery");
    assert_eq!(get_bytes(&client, &bucket, "after").await, data);
    assert_eq!(open_uploads(&upstream, &blobs_bucket).await, 0);
}
