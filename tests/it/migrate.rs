//! `cnx-storage migrate`: a RocksDB server's index copied into PostgreSQL, then served from
//! there on the same data dir (the blobs stay where they were), with every object, version,
//! upload, part, key and usage counter as it was.

use std::process::Output;
use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use serde_json::Value;

use crate::api_bucket_keys::{api, mint_bucket_key, root};
use crate::harness::{enable_versioning, get_bytes, pattern, put, Server};

fn migrate(srv: &Server, url: &str) -> (Output, Value) {
    let out = srv
        .command()
        .arg("migrate")
        .arg("--from")
        .arg(format!("rocksdb:{}", srv.data_dir().display()))
        .args(["--to", url])
        .env("RUST_LOG", "warn")
        .output()
        .expect("run cnx-storage migrate");
    let report = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out, report)
}

#[tokio::test]
async fn a_rocksdb_index_moves_to_postgresql_and_serves_from_there() {
    let mut srv = Server::start();
    if srv.skip_external("migrates the spawned server's own index") || srv.meta_url().is_some() {
        return; // the source must be a RocksDB index
    }
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "mig").await;
    enable_versioning(&s3, &bucket).await;
    for i in 0..3u64 {
        put(&s3, &bucket, "versioned", &pattern(100 + i as usize, i)).await;
    }
    let big = pattern(300_000, 9);
    put(&s3, &bucket, "small", b"kept in the index").await;
    put(&s3, &bucket, "big", &big).await;
    let up = s3
        .create_multipart_upload()
        .bucket(&bucket)
        .key("in-progress")
        .send()
        .await
        .expect("create upload");
    let upload_id = up.upload_id().expect("upload id").to_owned();
    s3.upload_part()
        .bucket(&bucket)
        .key("in-progress")
        .upload_id(&upload_id)
        .part_number(1)
        .body(ByteStream::from(pattern(5 << 20, 1)))
        .send()
        .await
        .expect("part");
    let (key_id, key_secret) = mint_bucket_key(&srv, &bucket, "read");
    let (st, before) = api(
        &srv,
        &root(&srv),
        "GET",
        &format!("/storage/buckets/{bucket}"),
        None,
    );
    assert_eq!(st, 200, "{before}");

    // A running server's index is refused; once it stops, the copy goes through.
    let url = cnx_storage::meta::pg::testing::fresh_database();
    let (out, _) = migrate(&srv, &url);
    assert!(!out.status.success(), "migrated beside a running server");
    srv.sigterm();
    srv.wait_exit(Duration::from_secs(20))
        .expect("server stops");
    let (out, report) = migrate(&srv, &url);
    assert!(
        out.status.success(),
        "{}\n{report}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = |name: &str| {
        report["tables"]
            .as_array()
            .and_then(|t| t.iter().find(|r| r["table"] == name))
            .cloned()
            .unwrap_or(Value::Null)
    };
    assert_eq!(table("objects")["copied"], 3, "{report}");
    assert_eq!(table("versions")["copied"], 2, "{report}");
    assert_eq!(table("parts")["copied"], 1, "{report}");
    assert_eq!(report["usage_mismatches"], serde_json::json!([]));
    // Again: nothing left to copy, and everything still checks out.
    let (again, report_again) = migrate(&srv, &url);
    assert!(again.status.success(), "{report_again}");
    assert_eq!(report_again["tables"], report["tables"]);
    // The source changed since (same counts, same usage): the copy is stale, refused.
    srv.restart();
    let s3 = srv.client();
    put(&s3, &bucket, "small", b"KEPT IN THE INDEX").await;
    srv.sigterm();
    srv.wait_exit(Duration::from_secs(20))
        .expect("server stops");
    let (stale, _) = migrate(&srv, &url);
    let why = String::from_utf8_lossy(&stale.stderr);
    assert!(!stale.status.success() && why.contains("changed"), "{why}");

    // The same data dir served from the PostgreSQL index.
    std::fs::write(srv.data_dir().join("it-meta-url"), &url).expect("keep the meta URL");
    srv.restart();
    assert_eq!(srv.meta_url().as_deref(), Some(url.as_str()));
    let s3 = srv.client();
    assert_eq!(get_bytes(&s3, &bucket, "big").await, big);
    assert_eq!(get_bytes(&s3, &bucket, "small").await, b"kept in the index");
    assert_eq!(get_bytes(&s3, &bucket, "versioned").await, pattern(102, 2));
    let versions = s3
        .list_object_versions()
        .bucket(&bucket)
        .prefix("versioned")
        .send()
        .await
        .expect("list versions");
    assert_eq!(versions.versions().len(), 3);
    let parts = s3
        .list_parts()
        .bucket(&bucket)
        .key("in-progress")
        .upload_id(&upload_id)
        .send()
        .await
        .expect("list parts");
    assert_eq!(parts.parts().len(), 1);
    let keyed = srv.client_with(&key_id, &key_secret);
    assert_eq!(
        get_bytes(&keyed, &bucket, "small").await,
        b"kept in the index"
    );
    let (st, after) = api(
        &srv,
        &root(&srv),
        "GET",
        &format!("/storage/buckets/{bucket}"),
        None,
    );
    assert_eq!(st, 200, "{after}");
    assert_eq!(after["size_bytes"], before["size_bytes"]);
    assert_eq!(after["object_count"], before["object_count"]);
    // And it goes on taking writes.
    put(&s3, &bucket, "after", b"new").await;
    assert_eq!(get_bytes(&s3, &bucket, "after").await, b"new");
}
