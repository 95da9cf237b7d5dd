//! Bucket operations: ListBuckets, CreateBucket, HeadBucket, DeleteBucket, GetBucketLocation.

use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};

use crate::harness::{assert_err, err_info, put, Server, REGION};

fn constraint(region: &str) -> CreateBucketConfiguration {
    CreateBucketConfiguration::builder()
        .location_constraint(BucketLocationConstraint::from(region))
        .build()
}

#[tokio::test]
async fn list_buckets_shows_created_buckets() {
    let srv = Server::start();
    let s3 = srv.client();
    let a = srv.bucket(&s3, "list-a").await;
    let b = srv.bucket(&s3, "list-b").await;

    let out = s3.list_buckets().send().await.unwrap();
    let names: Vec<&str> = out.buckets().iter().filter_map(|b| b.name()).collect();
    assert!(
        names.contains(&a.as_str()) && names.contains(&b.as_str()),
        "{names:?}"
    );
    for bucket in out
        .buckets()
        .iter()
        .filter(|x| x.name() == Some(&a) || x.name() == Some(&b))
    {
        assert!(bucket.creation_date().is_some(), "{bucket:?}");
    }
    let owner = out.owner().expect("ListBuckets has an Owner");
    assert!(owner.id().is_some_and(|id| !id.is_empty()), "{owner:?}");
    if !srv.is_external() {
        // A fresh server holds exactly the two buckets, in name order.
        let mut sorted = vec![a.clone(), b.clone()];
        sorted.sort();
        assert_eq!(names, sorted);
    }
}

#[tokio::test]
async fn create_bucket_rejects_invalid_names() {
    let srv = Server::start();
    let s3 = srv.client();
    let too_long = "a".repeat(64);
    let mut invalid = vec!["ab", too_long.as_str()];
    if !srv.is_external() {
        // Moto checks only the length; these are refused by S3 and by cnx-storage.
        invalid.extend([
            "UpperCase",
            "under_score",
            "-leading-dash",
            "trailing-dash-",
            "double..dot",
            "192.168.10.20",
            "a b c",
        ]);
    }
    for name in invalid {
        let result = s3
            .create_bucket()
            .bucket(name)
            .create_bucket_configuration(constraint(REGION))
            .send()
            .await;
        let info = err_info(result);
        assert_eq!(
            (info.status, info.code.as_deref()),
            (400, Some("InvalidBucketName")),
            "bucket name {name:?}: {info:?}"
        );
    }
    // 63 characters is the longest valid name.
    let longest = format!("{}{}", "b".repeat(55), crate::harness::random_hex(4));
    assert_eq!(longest.len(), 63);
    s3.create_bucket()
        .bucket(&longest)
        .create_bucket_configuration(constraint(REGION))
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn bucket_name_storage_is_reserved() {
    let srv = Server::start();
    if srv.skip_external("`storage` is reserved by cnx-storage's management surface only") {
        return;
    }
    let result = srv
        .client()
        .create_bucket()
        .bucket("storage")
        .create_bucket_configuration(constraint(REGION))
        .send()
        .await;
    let info = err_info(result);
    assert!((400..500).contains(&info.status), "{info:?}");
}

#[tokio::test]
async fn create_existing_bucket_is_already_owned_by_you() {
    let srv = Server::start();
    let s3 = srv.client();
    let name = srv.bucket(&s3, "twice").await;
    let result = s3
        .create_bucket()
        .bucket(&name)
        .create_bucket_configuration(constraint(REGION))
        .send()
        .await;
    assert_err(result, 409, Some("BucketAlreadyOwnedByYou"));
}

#[tokio::test]
async fn location_constraint_must_be_the_server_region() {
    let srv = Server::start();
    let s3 = srv.client();
    let name = srv.bucket(&s3, "loc").await;
    let location = s3.get_bucket_location().bucket(&name).send().await.unwrap();
    assert_eq!(
        location
            .location_constraint()
            .map(BucketLocationConstraint::as_str),
        Some(REGION)
    );

    let other = srv.unique_bucket("loc-other");
    let result = s3
        .create_bucket()
        .bucket(&other)
        .create_bucket_configuration(constraint("eu-west-1"))
        .send()
        .await;
    let info = err_info(result);
    assert_eq!(info.status, 400, "{info:?}");
    assert!(
        matches!(
            info.code.as_deref(),
            Some("IllegalLocationConstraintException" | "InvalidLocationConstraint")
        ),
        "{info:?}"
    );
    assert_err(s3.head_bucket().bucket(&other).send().await, 404, None);
}

#[tokio::test]
async fn create_bucket_without_location_constraint() {
    let srv = Server::start();
    // AWS (and moto) refuse this on a regional endpoint; MinIO and Garage accept it, and so
    // does cnx-storage (the SDK sends no constraint unless asked).
    if srv.skip_external(
        "the reference server refuses CreateBucket without a constraint outside us-east-1",
    ) {
        return;
    }
    let s3 = srv.client();
    let name = srv.unique_bucket("noloc");
    s3.create_bucket().bucket(&name).send().await.unwrap();
    let location = s3.get_bucket_location().bucket(&name).send().await.unwrap();
    assert_eq!(
        location
            .location_constraint()
            .map(BucketLocationConstraint::as_str),
        Some(REGION)
    );
}

#[tokio::test]
async fn head_bucket_existing_and_missing() {
    let srv = Server::start();
    let s3 = srv.client();
    let name = srv.bucket(&s3, "head").await;
    s3.head_bucket().bucket(&name).send().await.unwrap();

    let info = assert_err(
        s3.head_bucket()
            .bucket(srv.unique_bucket("missing"))
            .send()
            .await,
        404,
        None,
    );
    assert!(info.body.is_empty(), "HEAD error with a body: {info:?}");
}

#[tokio::test]
async fn delete_bucket_not_empty_missing_and_empty() {
    let srv = Server::start();
    let s3 = srv.client();
    let name = srv.bucket(&s3, "del").await;
    put(&s3, &name, "k", b"v").await;

    assert_err(
        s3.delete_bucket().bucket(&name).send().await,
        409,
        Some("BucketNotEmpty"),
    );
    s3.head_bucket().bucket(&name).send().await.unwrap();

    s3.delete_object()
        .bucket(&name)
        .key("k")
        .send()
        .await
        .unwrap();
    s3.delete_bucket().bucket(&name).send().await.unwrap();
    assert_err(s3.head_bucket().bucket(&name).send().await, 404, None);
    let listed = s3.list_buckets().send().await.unwrap();
    assert!(listed.buckets().iter().all(|b| b.name() != Some(&name)));

    assert_err(
        s3.delete_bucket().bucket(&name).send().await,
        404,
        Some("NoSuchBucket"),
    );
    // The name is free again.
    s3.create_bucket()
        .bucket(&name)
        .create_bucket_configuration(constraint(REGION))
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn missing_bucket_is_no_such_bucket_everywhere() {
    let srv = Server::start();
    let s3 = srv.client();
    let missing = srv.unique_bucket("nobucket");
    assert_err(
        s3.get_bucket_location().bucket(&missing).send().await,
        404,
        Some("NoSuchBucket"),
    );
    assert_err(
        s3.list_objects_v2().bucket(&missing).send().await,
        404,
        Some("NoSuchBucket"),
    );
    assert_err(
        s3.list_objects().bucket(&missing).send().await,
        404,
        Some("NoSuchBucket"),
    );
    let put = s3
        .put_object()
        .bucket(&missing)
        .key("k")
        .body(b"v".to_vec().into())
        .send()
        .await;
    assert_err(put, 404, Some("NoSuchBucket"));
    assert_err(
        s3.get_object().bucket(&missing).key("k").send().await,
        404,
        Some("NoSuchBucket"),
    );
}
