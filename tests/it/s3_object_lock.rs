//! Object lock through aws-sdk-s3: locked versions survive a restart, only the bucket's owner
//! may bypass governance retention, compliance binds everyone, and a force delete through the
//! management API stops at a locked version.

use aws_sdk_s3::primitives::{ByteStream, DateTime};
use aws_sdk_s3::types::{
    BucketLocationConstraint, CreateBucketConfiguration, ObjectLockLegalHoldStatus, ObjectLockMode,
};

use crate::api_bucket_keys::{api, mint_bucket_key, root};
use crate::harness::{assert_err, Server, REGION};

fn in_secs(s: i64) -> DateTime {
    DateTime::from_secs(time::OffsetDateTime::now_utc().unix_timestamp() + s)
}

#[tokio::test]
async fn locked_versions_hold_across_restarts_and_against_bucket_keys() {
    let mut srv = Server::start();
    if srv.skip_external("restarts the server and uses the management API") {
        return;
    }
    let s3 = srv.client();
    let bucket = srv.unique_bucket("lock");
    s3.create_bucket()
        .bucket(&bucket)
        .object_lock_enabled_for_bucket(true)
        .create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(REGION))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let governed = s3
        .put_object()
        .bucket(&bucket)
        .key("g")
        .body(ByteStream::from_static(b"governed"))
        .object_lock_mode(ObjectLockMode::Governance)
        .object_lock_retain_until_date(in_secs(3600))
        .tagging("kept=yes")
        .send()
        .await
        .unwrap();
    let governed = governed.version_id().unwrap().to_owned();
    let held = s3
        .put_object()
        .bucket(&bucket)
        .key("h")
        .body(ByteStream::from_static(b"held"))
        .object_lock_legal_hold_status(ObjectLockLegalHoldStatus::On)
        .send()
        .await
        .unwrap();
    let held = held.version_id().unwrap().to_owned();

    srv.kill9_and_restart();
    let s3 = srv.client();
    let head = s3
        .head_object()
        .bucket(&bucket)
        .key("g")
        .send()
        .await
        .unwrap();
    assert_eq!(head.object_lock_mode(), Some(&ObjectLockMode::Governance));
    assert!(head.object_lock_retain_until_date().is_some());
    let tags = s3
        .get_object_tagging()
        .bucket(&bucket)
        .key("g")
        .send()
        .await
        .unwrap();
    assert_eq!(tags.tag_set().len(), 1, "tags survive the restart");

    // A read-write bucket key may write, but it is not the owner: no governance bypass.
    let (id, secret) = mint_bucket_key(&srv, &bucket, "read-write");
    let rw = srv.client_with(&id, &secret);
    assert_err(
        rw.delete_object()
            .bucket(&bucket)
            .key("g")
            .version_id(&governed)
            .bypass_governance_retention(true)
            .send()
            .await,
        403,
        Some("AccessDenied"),
    );
    // Its plain delete only hides the key behind a delete marker, as S3 allows.
    let marker = rw
        .delete_object()
        .bucket(&bucket)
        .key("g")
        .send()
        .await
        .unwrap();
    assert_eq!(marker.delete_marker(), Some(true));

    // The management API's force delete stops at a locked version and leaves it.
    let (st, body) = api(
        &srv,
        &root(&srv),
        "DELETE",
        &format!("/storage/buckets/{bucket}?force=true"),
        None,
    );
    assert_eq!(st, 409, "{body}");
    assert!(body["error"].as_str().unwrap().contains("lock"), "{body}");
    let old = s3
        .get_object()
        .bucket(&bucket)
        .key("g")
        .version_id(&governed)
        .send()
        .await
        .unwrap();
    assert_eq!(old.body.collect().await.unwrap().to_vec(), b"governed");
    let still_hidden = s3.head_object().bucket(&bucket).key("g").send().await;
    assert_err(still_hidden, 404, None);

    // The owner bypasses governance; a legal hold yields to nobody until it is lifted.
    s3.delete_object()
        .bucket(&bucket)
        .key("g")
        .version_id(&governed)
        .bypass_governance_retention(true)
        .send()
        .await
        .unwrap();
    assert_err(
        s3.delete_object()
            .bucket(&bucket)
            .key("h")
            .version_id(&held)
            .bypass_governance_retention(true)
            .send()
            .await,
        403,
        Some("AccessDenied"),
    );
    s3.put_object_legal_hold()
        .bucket(&bucket)
        .key("h")
        .version_id(&held)
        .legal_hold(
            aws_sdk_s3::types::ObjectLockLegalHold::builder()
                .status(ObjectLockLegalHoldStatus::Off)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let (st, body) = api(
        &srv,
        &root(&srv),
        "DELETE",
        &format!("/storage/buckets/{bucket}?force=true"),
        None,
    );
    assert_eq!(st, 204, "{body}");
}
