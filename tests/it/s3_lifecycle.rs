//! Lifecycle through aws-sdk-s3 against a server whose lifecycle day is one second and whose
//! worker runs every second: the configuration round-trips, `x-amz-expiration` names the rule,
//! and the worker expires objects, versions and uploads, reporting in `/health`.

use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, ExpirationStatus,
    LifecycleExpiration, LifecycleRule, LifecycleRuleFilter, NoncurrentVersionExpiration,
};
use aws_sdk_s3::Client;

use crate::harness::{assert_err, enable_versioning, raw_request, Server};

const FAST: &str = "[lifecycle]\ninterval_secs = 1\nday_secs = 1\n";

fn rule(id: &str, prefix: &str) -> aws_sdk_s3::types::builders::LifecycleRuleBuilder {
    LifecycleRule::builder()
        .id(id)
        .status(ExpirationStatus::Enabled)
        .filter(LifecycleRuleFilter::builder().prefix(prefix).build())
}

async fn put(s3: &Client, bucket: &str, key: &str) -> Option<String> {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap()
        .expiration()
        .map(str::to_owned)
}

async fn no_configuration(s3: &Client, bucket: &str) {
    assert_err(
        s3.get_bucket_lifecycle_configuration()
            .bucket(bucket)
            .send()
            .await,
        404,
        Some("NoSuchLifecycleConfiguration"),
    );
}

async fn versions(s3: &Client, bucket: &str) -> usize {
    let page = s3
        .list_object_versions()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    page.versions().len() + page.delete_markers().len()
}

/// Waits (up to 40 s) for `check` to hold.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !check().await {
        assert!(
            start.elapsed() < Duration::from_secs(40),
            "the lifecycle worker did not get there: {what}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn rules_round_trip_and_the_worker_applies_them() {
    let mut srv = Server::start_with_config(FAST);
    if srv.skip_external("needs a server with a one-second lifecycle day") {
        return;
    }
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "lc").await;
    no_configuration(&s3, &bucket).await;
    let conf = BucketLifecycleConfiguration::builder()
        .rules(
            rule("tmp", "tmp/")
                .expiration(LifecycleExpiration::builder().days(2).build())
                .build()
                .unwrap(),
        )
        .rules(
            rule("history", "")
                .noncurrent_version_expiration(
                    NoncurrentVersionExpiration::builder()
                        .noncurrent_days(1)
                        .build(),
                )
                .abort_incomplete_multipart_upload(
                    AbortIncompleteMultipartUpload::builder()
                        .days_after_initiation(1)
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    s3.put_bucket_lifecycle_configuration()
        .bucket(&bucket)
        .lifecycle_configuration(conf)
        .send()
        .await
        .unwrap();
    let got = s3
        .get_bucket_lifecycle_configuration()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    let ids: Vec<&str> = got.rules().iter().filter_map(|r| r.id()).collect();
    assert_eq!(ids, ["tmp", "history"]);
    assert_eq!(got.rules()[0].expiration().and_then(|e| e.days()), Some(2));

    // The header names the rule that will expire the object, and when.
    let header = put(&s3, &bucket, "tmp/a").await.expect("x-amz-expiration");
    assert!(header.contains("rule-id=\"tmp\""), "{header}");
    assert!(header.starts_with("expiry-date=\""), "{header}");
    assert_eq!(put(&s3, &bucket, "keep").await, None);
    let head = s3
        .head_object()
        .bucket(&bucket)
        .key("tmp/a")
        .send()
        .await
        .unwrap();
    assert_eq!(head.expiration(), Some(header.as_str()));

    enable_versioning(&s3, &bucket).await;
    put(&s3, &bucket, "keep").await;
    s3.create_multipart_upload()
        .bucket(&bucket)
        .key("stale")
        .send()
        .await
        .unwrap();

    // tmp/a goes behind a delete marker, keep's older version goes, the upload is aborted.
    eventually("expire, prune and abort", || async {
        let listed = s3.list_objects_v2().bucket(&bucket).send().await.unwrap();
        let keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
        let uploads = s3
            .list_multipart_uploads()
            .bucket(&bucket)
            .send()
            .await
            .unwrap();
        keys == ["keep"] && uploads.uploads().is_empty()
    })
    .await;
    // Then tmp/a's version, noncurrent for a day, goes too: its marker and keep remain.
    eventually("the noncurrent versions go", || async {
        versions(&s3, &bucket).await == 2
    })
    .await;

    let health = raw_request("GET", &format!("{}/health", srv.endpoint()), &[], "").await;
    let doc: serde_json::Value = serde_json::from_slice(&health.body).unwrap();
    let last = &doc["lifecycle"]["last_pass"];
    assert!(last["expired"].as_u64().is_some(), "{doc}");
    assert!(last["finished_at"].is_string(), "{doc}");

    // The schedule and the last pass survive a restart.
    srv.restart();
    let health = raw_request("GET", &format!("{}/health", srv.endpoint()), &[], "").await;
    let doc: serde_json::Value = serde_json::from_slice(&health.body).unwrap();
    assert!(
        doc["lifecycle"]["last_pass"]["finished_at"].is_string(),
        "{doc}"
    );

    let s3 = srv.client();
    s3.delete_bucket_lifecycle()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    no_configuration(&s3, &bucket).await;
}

/// The bucket's exact object count, from the management API.
fn object_count(srv: &Server, bucket: &str) -> i64 {
    let (st, doc) = crate::api_bucket_keys::api(
        srv,
        &crate::api_bucket_keys::root(srv),
        "GET",
        &format!("/storage/buckets/{bucket}"),
        None,
    );
    assert_eq!(st, 200, "{doc}");
    doc["object_count"].as_i64().unwrap()
}

/// A pass killed with SIGKILL halfway leaves every object either expired or intact, never
/// half-deleted: after a restart the next pass finishes the work, the usage counters are exact
/// and no blob is left behind.
#[tokio::test]
async fn a_pass_killed_midway_is_finished_by_the_next() {
    const DOOMED: usize = 4000;
    // Every object a blob file, so the files left behind can be counted.
    let mut srv = Server::start_with_config(&format!("inline_max_bytes = 0\n{FAST}"));
    if srv.skip_external("kills the server") {
        return;
    }
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "lc-crash").await;
    let doomed: Vec<String> = (0..DOOMED).map(|i| format!("gone/{i:05}")).collect();
    crate::harness::put_many(&s3, &bucket, &doomed).await;
    put(&s3, &bucket, "kept").await;
    let all = i64::try_from(DOOMED + 1).unwrap();
    assert_eq!(object_count(&srv, &bucket), all);

    // A date in the past: the next pass expires everything under gone/.
    let yesterday = aws_sdk_s3::primitives::DateTime::from_secs(
        (time::OffsetDateTime::now_utc().unix_timestamp() / 86_400 - 1) * 86_400,
    );
    let conf = BucketLifecycleConfiguration::builder()
        .rules(
            rule("gone", "gone/")
                .expiration(LifecycleExpiration::builder().date(yesterday).build())
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    s3.put_bucket_lifecycle_configuration()
        .bucket(&bucket)
        .lifecycle_configuration(conf)
        .send()
        .await
        .unwrap();
    let start = Instant::now();
    let seen = loop {
        let n = object_count(&srv, &bucket);
        if n < all {
            break n;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "no pass started");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert!(
        seen > 1,
        "the pass ended before it could be interrupted ({seen} left)"
    );
    srv.kill9_and_restart();

    let s3 = srv.client();
    eventually("the next pass finishes", || async {
        object_count(&srv, &bucket) == 1
    })
    .await;
    let listed = s3.list_objects_v2().bucket(&bucket).send().await.unwrap();
    let keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["kept"]);
    // Expired blobs are swept once their grace has passed: one blob stays, for "kept".
    let data = srv.data_dir().to_owned();
    eventually("the expired blobs are swept", || {
        let n = crate::harness::blob_files(&data);
        async move { n == Some(1) }
    })
    .await;
}
