//! Versioning through aws-sdk-s3: version ids, delete markers, the version listing, usage
//! that counts every version, and a scrub that knows noncurrent versions hold blobs too.

use aws_sdk_s3::primitives::ByteStream;

use crate::api_bucket_keys::{api, root};
use crate::harness::{assert_err, enable_versioning, get_bytes, Server};

#[tokio::test]
async fn versions_delete_markers_usage_and_scrub() {
    let srv = Server::start();
    if srv.skip_external("checks usage and scrubs the data dir") {
        return;
    }
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "ver").await;
    enable_versioning(&s3, &bucket).await;
    let mut ids = Vec::new();
    for body in ["one", "two!"] {
        let put = s3
            .put_object()
            .bucket(&bucket)
            .key("k")
            .body(ByteStream::from_static(body.as_bytes()))
            .send()
            .await
            .unwrap();
        ids.push(put.version_id().unwrap().to_owned());
    }
    let del = s3
        .delete_object()
        .bucket(&bucket)
        .key("k")
        .send()
        .await
        .unwrap();
    assert_eq!(del.delete_marker(), Some(true));
    assert_err(
        s3.get_object().bucket(&bucket).key("k").send().await,
        404,
        Some("NoSuchKey"),
    );
    let old = s3
        .get_object()
        .bucket(&bucket)
        .key("k")
        .version_id(&ids[0])
        .send()
        .await
        .unwrap();
    assert_eq!(old.version_id(), Some(ids[0].as_str()));
    assert_eq!(&old.body.collect().await.unwrap().into_bytes()[..], b"one");

    let listed = s3
        .list_object_versions()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    let versions: Vec<(&str, bool)> = listed
        .versions()
        .iter()
        .map(|v| (v.version_id().unwrap(), v.is_latest().unwrap()))
        .collect();
    assert_eq!(
        versions,
        [(ids[1].as_str(), false), (ids[0].as_str(), false)]
    );
    assert_eq!(listed.delete_markers().len(), 1);
    assert_eq!(listed.delete_markers()[0].is_latest(), Some(true));

    // Usage counts every stored version (delete markers hold nothing).
    let (st, b) = api(
        &srv,
        &root(&srv),
        "GET",
        &format!("/storage/buckets/{bucket}"),
        None,
    );
    assert_eq!(st, 200, "{b}");
    assert_eq!(
        (b["size_bytes"].as_i64(), b["object_count"].as_i64()),
        (Some(7), Some(2))
    );
    assert_eq!(b["versioning"], "enabled");

    // Noncurrent versions are referenced blobs, not orphans.
    let (code, report) = crate::verified_reads::scrub(&srv, &["--orphans-older-than", "0"]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["blobs_checked"], 2, "{report}");

    // Removing the marker by id brings the newest version back.
    let marker = listed.delete_markers()[0].version_id().unwrap();
    s3.delete_object()
        .bucket(&bucket)
        .key("k")
        .version_id(marker)
        .send()
        .await
        .unwrap();
    assert_eq!(get_bytes(&s3, &bucket, "k").await, b"two!");
}
