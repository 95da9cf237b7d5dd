//! Per-bucket access keys (`/storage/buckets/{name}/keys`): minted with `curl --aws-sigv4`,
//! then used on the S3 surface with aws-sdk-s3 to check exactly what a `read` and a
//! `read-write` key may do, and how revocation, expiry and bucket deletion end a key.
//!
//! The `pub(crate)` helpers here are shared with `api_presign` and `cli_keys`.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketLocationConstraint, CompletedMultipartUpload, CompletedPart, CreateBucketConfiguration,
    Delete, ObjectIdentifier,
};
use aws_sdk_s3::Client;
use serde_json::{json, Value};

use crate::harness::{assert_err, get_bytes, pattern, put, Server};

/// Access key id and secret.
pub(crate) type Creds = (String, String);

/// The server's root credentials.
pub(crate) fn root(srv: &Server) -> Creds {
    (srv.access_key.clone(), srv.secret_key.clone())
}

/// A management request with `curl --aws-sigv4 aws:amz:in-mum:cloudnx`; returns the status
/// and the JSON body (`Null` when empty).
pub(crate) fn api(
    srv: &Server,
    creds: &Creds,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> (u16, Value) {
    let body = body.map(Value::to_string);
    api_raw(srv, creds, method, path, body.as_deref())
}

/// [`api`] with a body given as text (to send what serde would not produce).
pub(crate) fn api_raw(
    srv: &Server,
    (ak, sk): &Creds,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> (u16, Value) {
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "-g", "-o", "-", "-w", "\n%{http_code}", "-X", method]);
    cmd.args([
        "--aws-sigv4",
        "aws:amz:in-mum:cloudnx",
        "--user",
        &format!("{ak}:{sk}"),
    ]);
    if let Some(b) = body {
        cmd.args(["-H", "content-type: application/json", "--data-binary", b]);
    }
    cmd.arg(format!("{}{path}", srv.endpoint()));
    let out = cmd.output().expect("run curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (json, status) = text.rsplit_once('\n').expect("status line");
    let value = if json.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(json).unwrap_or_else(|e| panic!("not JSON ({e}): {json}"))
    };
    (status.parse().expect("status"), value)
}

/// Mints a key of `bucket` with `permission` (as root) and returns its id and secret.
pub(crate) fn mint_bucket_key(srv: &Server, bucket: &str, permission: &str) -> Creds {
    let (st, k) = api(
        srv,
        &root(srv),
        "POST",
        &format!("/storage/buckets/{bucket}/keys"),
        Some(&json!({ "permission": permission })),
    );
    assert_eq!(st, 201, "mint {permission} key of {bucket}: {k}");
    creds_of(&k)
}

/// The id and secret of a freshly minted key's JSON.
pub(crate) fn creds_of(k: &Value) -> Creds {
    (
        k["access_key_id"]
            .as_str()
            .expect("access_key_id")
            .to_owned(),
        k["secret_access_key"]
            .as_str()
            .expect("secret_access_key")
            .to_owned(),
    )
}

/// Mints an account-level key for `account` (as root).
pub(crate) fn mint_account_key(srv: &Server, account: &str) -> Creds {
    let (st, k) = api(
        srv,
        &root(srv),
        "POST",
        "/storage/access-keys",
        Some(&json!({ "account": account })),
    );
    assert_eq!(st, 201, "mint key of account {account}: {k}");
    assert_eq!(k["account"], account);
    creds_of(&k)
}

/// Revokes a bucket key (as root); asserts 204.
pub(crate) fn revoke_bucket_key(srv: &Server, bucket: &str, id: &str) {
    let (st, e) = api(
        srv,
        &root(srv),
        "DELETE",
        &format!("/storage/buckets/{bucket}/keys/{id}"),
        None,
    );
    assert_eq!(st, 204, "revoke {id}: {e}");
    assert_eq!(e, Value::Null, "204 has no body");
}

/// An RFC 3339 time `secs` seconds from now (negative: in the past).
pub(crate) fn rfc3339_in(secs: i64) -> String {
    (time::OffsetDateTime::now_utc() + time::Duration::seconds(secs))
        .format(&time::format_description::well_known::Rfc3339)
        .expect("format time")
}

/// An S3 client for `creds`.
pub(crate) fn client_of(srv: &Server, (ak, sk): &Creds) -> Client {
    srv.client_with(ak, sk)
}

/// Asserts an S3 call was refused with 403 AccessDenied.
#[track_caller]
pub(crate) fn denied<
    T: std::fmt::Debug,
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::fmt::Debug,
>(
    result: Result<T, aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>>,
) {
    assert_err(result, 403, Some("AccessDenied"));
}

/// Asserts an S3 call was refused with 403 InvalidAccessKeyId.
#[track_caller]
pub(crate) fn unknown_key<
    T: std::fmt::Debug,
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::fmt::Debug,
>(
    result: Result<T, aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>>,
) {
    assert_err(result, 403, Some("InvalidAccessKeyId"));
}

/// A bucket owned by root, made through the management API.
fn api_bucket(srv: &Server, prefix: &str) -> String {
    let name = srv.unique_bucket(prefix);
    let (st, b) = api(
        srv,
        &root(srv),
        "POST",
        "/storage/buckets",
        Some(&json!({ "name": name })),
    );
    assert_eq!(st, 201, "{b}");
    name
}

fn location() -> CreateBucketConfiguration {
    CreateBucketConfiguration::builder()
        .location_constraint(BucketLocationConstraint::from(crate::harness::REGION))
        .build()
}

#[tokio::test]
async fn create_list_and_fields() {
    let srv = Server::start();
    if srv.skip_external("bucket keys are cnx-storage's own") {
        return;
    }
    let bucket = api_bucket(&srv, "bk-fields");
    let path = format!("/storage/buckets/{bucket}/keys");
    let expires = rfc3339_in(3600);

    let (st, ro) = api(
        &srv,
        &root(&srv),
        "POST",
        &path,
        Some(&json!({ "permission": "read", "name": "reader", "expires_at": expires })),
    );
    assert_eq!(st, 201, "{ro}");
    assert_eq!(ro["bucket"], bucket.as_str());
    assert_eq!(ro["permission"], "read");
    assert_eq!(ro["name"], "reader");
    assert!(
        ro["created_at"].as_str().is_some_and(|t| t.ends_with('Z')),
        "{ro}"
    );
    // The same instant, whatever the sub-second precision of the two renderings.
    let parse = |s: &str| {
        time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
            .unwrap_or_else(|e| panic!("{s}: {e}"))
            .unix_timestamp()
    };
    assert_eq!(parse(ro["expires_at"].as_str().unwrap()), parse(&expires));
    let (ro_id, ro_secret) = creds_of(&ro);
    assert!(ro_id.len() >= 16 && ro_secret.len() >= 32, "{ro}");

    let (st, rw) = api(
        &srv,
        &root(&srv),
        "POST",
        &path,
        Some(&json!({ "permission": "read-write" })),
    );
    assert_eq!(st, 201, "{rw}");
    assert_eq!(rw["permission"], "read-write");
    assert_eq!(rw["name"], Value::Null);
    assert_eq!(rw["expires_at"], Value::Null);
    assert!(
        rw.get("name").is_some() && rw.get("expires_at").is_some(),
        "{rw}"
    );
    let (rw_id, rw_secret) = creds_of(&rw);
    assert_ne!(ro_id, rw_id);
    assert_ne!(ro_secret, rw_secret);

    // Listings carry every field but the secret.
    let (st, list) = api(&srv, &root(&srv), "GET", &path, None);
    assert_eq!(st, 200, "{list}");
    let keys = list["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2, "{list}");
    assert_eq!(list["next_cursor"], Value::Null);
    for k in keys {
        assert!(k.get("secret_access_key").is_none(), "secret listed: {k}");
        assert!(!k.to_string().contains(&ro_secret) && !k.to_string().contains(&rw_secret));
        assert_eq!(k["bucket"], bucket.as_str());
        assert!(k["created_at"].is_string());
    }
    let listed = |id: &str| {
        keys.iter()
            .find(|k| k["access_key_id"] == id)
            .unwrap_or_else(|| panic!("{id} not in {list}"))
            .clone()
    };
    let lro = listed(&ro_id);
    assert_eq!(
        (&lro["permission"], &lro["name"], &lro["expires_at"]),
        (&ro["permission"], &ro["name"], &ro["expires_at"])
    );
    let lrw = listed(&rw_id);
    assert_eq!(lrw["permission"], "read-write");
    assert_eq!(lrw["expires_at"], Value::Null);

    // Pagination over keys.
    let (st, page) = api(&srv, &root(&srv), "GET", &format!("{path}?limit=1"), None);
    assert_eq!(st, 200, "{page}");
    assert_eq!(page["keys"].as_array().unwrap().len(), 1);
    let cursor = page["next_cursor"]
        .as_str()
        .expect("next_cursor")
        .to_owned();
    let (st, page2) = api(
        &srv,
        &root(&srv),
        "GET",
        &format!("{path}?limit=1&cursor={cursor}"),
        None,
    );
    assert_eq!(st, 200, "{page2}");
    assert_eq!(page2["keys"].as_array().unwrap().len(), 1);
    assert_ne!(
        page["keys"][0]["access_key_id"],
        page2["keys"][0]["access_key_id"]
    );

    // Keys of one bucket are not listed under another.
    let other = api_bucket(&srv, "bk-other");
    let (st, list) = api(
        &srv,
        &root(&srv),
        "GET",
        &format!("/storage/buckets/{other}/keys"),
        None,
    );
    assert_eq!(st, 200, "{list}");
    assert_eq!(list["keys"], json!([]));
    let (st, e) = api(
        &srv,
        &root(&srv),
        "GET",
        "/storage/buckets/no-such-bkt/keys",
        None,
    );
    assert_eq!(st, 404, "{e}");
    let (st, e) = api(
        &srv,
        &root(&srv),
        "POST",
        "/storage/buckets/no-such-bkt/keys",
        Some(&json!({ "permission": "read" })),
    );
    assert_eq!(st, 404, "{e}");
}

#[tokio::test]
async fn bad_input_is_400() {
    let srv = Server::start();
    if srv.skip_external("bucket keys are cnx-storage's own") {
        return;
    }
    let bucket = api_bucket(&srv, "bk-bad");
    let path = format!("/storage/buckets/{bucket}/keys");
    let long_name = "n".repeat(129);
    let past = rfc3339_in(-60);
    for body in [
        json!({ "permission": "write" }).to_string(),
        json!({ "permission": "READ" }).to_string(),
        json!({ "permission": "" }).to_string(),
        json!({}).to_string(),
        json!({ "permission": "read", "expires_at": past }).to_string(),
        json!({ "permission": "read", "expires_at": "tomorrow" }).to_string(),
        json!({ "permission": "read", "expires_at": "2999-01-01" }).to_string(),
        json!({ "permission": "read", "scope": "all" }).to_string(),
        json!({ "permission": "read", "name": "" }).to_string(),
        json!({ "permission": "read", "name": long_name }).to_string(),
        "not json".to_owned(),
    ] {
        let (st, e) = api_raw(&srv, &root(&srv), "POST", &path, Some(&body));
        assert_eq!(st, 400, "{body}: {e}");
        assert!(
            e["error"].as_str().is_some_and(|m| !m.is_empty()),
            "{body}: {e}"
        );
    }
    // Nothing was minted by the refused requests.
    let (st, list) = api(&srv, &root(&srv), "GET", &path, None);
    assert_eq!(st, 200);
    assert_eq!(list["keys"], json!([]), "{list}");
    for q in ["limit=0", "limit=1001", "limit=x"] {
        let (st, e) = api(&srv, &root(&srv), "GET", &format!("{path}?{q}"), None);
        assert_eq!(st, 400, "{q}: {e}");
    }

    // Any RFC 3339 offset is accepted, and answered in UTC.
    let (st, k) = api(
        &srv,
        &root(&srv),
        "POST",
        &path,
        Some(&json!({ "permission": "read", "expires_at": "2099-01-01T05:30:00+05:30" })),
    );
    assert_eq!(st, 201, "{k}");
    let at = k["expires_at"].as_str().unwrap();
    assert!(
        at.starts_with("2099-01-01T00:00:00") && at.ends_with('Z'),
        "{k}"
    );
}

#[tokio::test]
async fn read_key_permission_matrix() {
    let srv = Server::start();
    if srv.skip_external("bucket keys are cnx-storage's own") {
        return;
    }
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "bk-read").await;
    let other = srv.bucket(&s3, "bk-read-other").await;
    put(&s3, &bucket, "obj", b"hello").await;
    put(&s3, &other, "obj", b"other").await;
    let upload = s3
        .create_multipart_upload()
        .bucket(&bucket)
        .key("mp")
        .send()
        .await
        .unwrap();
    let upload_id = upload.upload_id().unwrap().to_owned();

    let rk = client_of(&srv, &mint_bucket_key(&srv, &bucket, "read"));

    // Allowed.
    assert_eq!(get_bytes(&rk, &bucket, "obj").await, b"hello");
    let head = rk
        .head_object()
        .bucket(&bucket)
        .key("obj")
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_length(), Some(5));
    let list = rk.list_objects_v2().bucket(&bucket).send().await.unwrap();
    let keys: Vec<_> = list.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["obj"]);
    let list = rk.list_objects().bucket(&bucket).send().await.unwrap();
    assert_eq!(list.contents().len(), 1);
    rk.head_bucket().bucket(&bucket).send().await.unwrap();
    let loc = rk
        .get_bucket_location()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    assert_eq!(
        loc.location_constraint().map(|c| c.as_str()),
        Some(crate::harness::REGION)
    );
    let uploads = rk
        .list_multipart_uploads()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    assert_eq!(uploads.uploads().len(), 1);
    rk.list_parts()
        .bucket(&bucket)
        .key("mp")
        .upload_id(&upload_id)
        .send()
        .await
        .unwrap();

    // Writes are refused, and change nothing.
    denied(
        rk.put_object()
            .bucket(&bucket)
            .key("new")
            .body(ByteStream::from_static(b"x"))
            .send()
            .await,
    );
    denied(
        rk.put_object()
            .bucket(&bucket)
            .key("obj")
            .body(ByteStream::from_static(b"overwritten"))
            .send()
            .await,
    );
    denied(rk.delete_object().bucket(&bucket).key("obj").send().await);
    denied(
        rk.delete_objects()
            .bucket(&bucket)
            .delete(
                Delete::builder()
                    .objects(ObjectIdentifier::builder().key("obj").build().unwrap())
                    .build()
                    .unwrap(),
            )
            .send()
            .await,
    );
    denied(
        rk.copy_object()
            .bucket(&bucket)
            .key("copy")
            .copy_source(format!("{bucket}/obj"))
            .send()
            .await,
    );
    denied(
        rk.create_multipart_upload()
            .bucket(&bucket)
            .key("mp2")
            .send()
            .await,
    );
    denied(
        rk.upload_part()
            .bucket(&bucket)
            .key("mp")
            .upload_id(&upload_id)
            .part_number(1)
            .body(ByteStream::from_static(b"part"))
            .send()
            .await,
    );
    denied(
        rk.abort_multipart_upload()
            .bucket(&bucket)
            .key("mp")
            .upload_id(&upload_id)
            .send()
            .await,
    );
    assert_eq!(get_bytes(&s3, &bucket, "obj").await, b"hello");
    let list = s3.list_objects_v2().bucket(&bucket).send().await.unwrap();
    assert_eq!(list.key_count(), Some(1));
    assert_eq!(
        s3.list_multipart_uploads()
            .bucket(&bucket)
            .send()
            .await
            .unwrap()
            .uploads()
            .len(),
        1
    );

    outside_its_bucket_is_denied(&srv, &rk, &bucket, &other).await;
}

/// What neither kind of bucket key may do: account-level operations and other buckets.
async fn outside_its_bucket_is_denied(srv: &Server, key: &Client, bucket: &str, other: &str) {
    denied(key.list_buckets().send().await);
    let fresh = srv.unique_bucket("bk-never");
    denied(
        key.create_bucket()
            .bucket(&fresh)
            .create_bucket_configuration(location())
            .send()
            .await,
    );
    // Creating its own bucket again is an account operation too.
    denied(
        key.create_bucket()
            .bucket(bucket)
            .create_bucket_configuration(location())
            .send()
            .await,
    );
    denied(key.delete_bucket().bucket(bucket).send().await);

    // Another existing bucket of the same account, for every kind of request.
    denied(key.get_object().bucket(other).key("obj").send().await);
    denied(key.list_objects_v2().bucket(other).send().await);
    denied(key.get_bucket_location().bucket(other).send().await);
    denied(
        key.put_object()
            .bucket(other)
            .key("x")
            .body(ByteStream::from_static(b"x"))
            .send()
            .await,
    );
    denied(key.delete_object().bucket(other).key("obj").send().await);
    denied(key.delete_bucket().bucket(other).send().await);
    let info = crate::harness::err_info(key.head_bucket().bucket(other).send().await);
    assert_eq!(info.status, 403, "{info:?}");
    let info = crate::harness::err_info(key.head_object().bucket(other).key("obj").send().await);
    assert_eq!(info.status, 403, "{info:?}");

    // A bucket that does not exist: denied, not NoSuchBucket (a key learns nothing else).
    let missing = srv.unique_bucket("bk-missing");
    denied(key.list_objects_v2().bucket(&missing).send().await);
    denied(key.get_object().bucket(&missing).key("obj").send().await);
    denied(
        key.put_object()
            .bucket(&missing)
            .key("x")
            .body(ByteStream::from_static(b"x"))
            .send()
            .await,
    );
    let info = crate::harness::err_info(key.head_bucket().bucket(&missing).send().await);
    assert_eq!(info.status, 403, "{info:?}");

    // Copying out of another bucket into its own.
    denied(
        key.copy_object()
            .bucket(bucket)
            .key("stolen")
            .copy_source(format!("{other}/obj"))
            .send()
            .await,
    );
    let root = srv.client();
    assert_err(
        root.head_object().bucket(bucket).key("stolen").send().await,
        404,
        None,
    );
    // Both buckets are still there.
    root.head_bucket().bucket(bucket).send().await.unwrap();
    root.head_bucket().bucket(other).send().await.unwrap();
    assert_err(root.head_bucket().bucket(&fresh).send().await, 404, None);
}

#[tokio::test]
async fn read_write_key_permission_matrix() {
    let srv = Server::start();
    if srv.skip_external("bucket keys are cnx-storage's own") {
        return;
    }
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "bk-rw").await;
    let other = srv.bucket(&s3, "bk-rw-other").await;
    put(&s3, &other, "obj", b"other").await;
    let wk = client_of(&srv, &mint_bucket_key(&srv, &bucket, "read-write"));

    // Put, read back, copy within its bucket.
    put(&wk, &bucket, "obj", b"written by key").await;
    assert_eq!(get_bytes(&s3, &bucket, "obj").await, b"written by key");
    assert_eq!(get_bytes(&wk, &bucket, "obj").await, b"written by key");
    wk.head_object()
        .bucket(&bucket)
        .key("obj")
        .send()
        .await
        .unwrap();
    wk.copy_object()
        .bucket(&bucket)
        .key("copy")
        .copy_source(format!("{bucket}/obj"))
        .send()
        .await
        .unwrap();
    assert_eq!(get_bytes(&s3, &bucket, "copy").await, b"written by key");

    // Full multipart upload: a 5 MiB part and a short last one.
    let big = pattern(5 * 1024 * 1024, 7);
    let tail = pattern(1000, 8);
    let up = wk
        .create_multipart_upload()
        .bucket(&bucket)
        .key("mp")
        .send()
        .await
        .unwrap();
    let id = up.upload_id().unwrap();
    let mut parts = Vec::new();
    for (n, data) in [(1, &big), (2, &tail)] {
        let out = wk
            .upload_part()
            .bucket(&bucket)
            .key("mp")
            .upload_id(id)
            .part_number(n)
            .body(ByteStream::from(data.clone()))
            .send()
            .await
            .unwrap();
        parts.push(
            CompletedPart::builder()
                .part_number(n)
                .e_tag(out.e_tag().unwrap())
                .build(),
        );
    }
    let listed = wk
        .list_parts()
        .bucket(&bucket)
        .key("mp")
        .upload_id(id)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.parts().len(), 2);
    wk.complete_multipart_upload()
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
    let mut whole = big.clone();
    whole.extend_from_slice(&tail);
    assert!(
        get_bytes(&s3, &bucket, "mp").await == whole,
        "multipart body"
    );
    // And an aborted one.
    let up = wk
        .create_multipart_upload()
        .bucket(&bucket)
        .key("aborted")
        .send()
        .await
        .unwrap();
    wk.abort_multipart_upload()
        .bucket(&bucket)
        .key("aborted")
        .upload_id(up.upload_id().unwrap())
        .send()
        .await
        .unwrap();

    // Deletes.
    wk.delete_object()
        .bucket(&bucket)
        .key("obj")
        .send()
        .await
        .unwrap();
    assert_err(
        s3.head_object().bucket(&bucket).key("obj").send().await,
        404,
        None,
    );
    let out = wk
        .delete_objects()
        .bucket(&bucket)
        .delete(
            Delete::builder()
                .objects(ObjectIdentifier::builder().key("copy").build().unwrap())
                .objects(ObjectIdentifier::builder().key("mp").build().unwrap())
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(out.deleted().len(), 2, "{out:?}");
    assert!(out.errors().is_empty(), "{out:?}");
    let list = s3.list_objects_v2().bucket(&bucket).send().await.unwrap();
    assert_eq!(list.key_count(), Some(0));

    outside_its_bucket_is_denied(&srv, &wk, &bucket, &other).await;
    // UploadPartCopy checks its source like CopyObject.
    let up = wk
        .create_multipart_upload()
        .bucket(&bucket)
        .key("pc")
        .send()
        .await
        .unwrap();
    let id = up.upload_id().unwrap();
    denied(
        wk.upload_part_copy()
            .bucket(&bucket)
            .key("pc")
            .upload_id(id)
            .part_number(1)
            .copy_source(format!("{other}/obj"))
            .send()
            .await,
    );
    wk.abort_multipart_upload()
        .bucket(&bucket)
        .key("pc")
        .upload_id(id)
        .send()
        .await
        .unwrap();
    // The other bucket's object was not touched.
    assert_eq!(get_bytes(&s3, &other, "obj").await, b"other");
}

#[tokio::test]
async fn bucket_key_on_management_routes_is_403() {
    let srv = Server::start();
    if srv.skip_external("bucket keys are cnx-storage's own") {
        return;
    }
    let bucket = api_bucket(&srv, "bk-mgmt");
    for permission in ["read", "read-write"] {
        let key = mint_bucket_key(&srv, &bucket, permission);
        let keys = format!("/storage/buckets/{bucket}/keys");
        let mint = json!({ "permission": "read" });
        let presign = json!({ "key": "k", "method": "GET" });
        let account = json!({});
        let cases: [(&str, String, Option<&Value>); 8] = [
            ("GET", "/storage/buckets".into(), None),
            ("GET", format!("/storage/buckets/{bucket}"), None),
            ("GET", keys.clone(), None),
            ("POST", keys.clone(), Some(&mint)),
            ("DELETE", format!("{keys}/{}", key.0), None),
            (
                "POST",
                format!("/storage/buckets/{bucket}/presign"),
                Some(&presign),
            ),
            ("GET", "/storage/access-keys".into(), None),
            ("POST", "/storage/access-keys".into(), Some(&account)),
        ];
        for (method, path, body) in cases {
            let (st, e) = api(&srv, &key, method, &path, body);
            assert_eq!(st, 403, "{permission} key: {method} {path}: {e}");
            assert!(e["error"].as_str().is_some_and(|m| !m.is_empty()), "{e}");
        }
        let (st, e) = api(
            &srv,
            &key,
            "DELETE",
            &format!("/storage/buckets/{bucket}"),
            None,
        );
        assert_eq!(st, 403, "{e}");
        // Whoami alone answers a bucket key: what it is and may do (the console asks it).
        let (st, me) = api(&srv, &key, "GET", "/storage/whoami", None);
        assert_eq!(st, 200, "{me}");
        assert_eq!(me["kind"], "bucket", "{me}");
        assert_eq!(me["bucket"], bucket.as_str(), "{me}");
        assert_eq!(me["permission"], permission, "{me}");
        assert_eq!(me["access_key_id"], key.0.as_str(), "{me}");
        let (st, e) = api(&srv, &key, "GET", "/storage/whoami/", None);
        assert_eq!(st, 403, "only the exact path: {e}");
    }
    let (st, me) = api(&srv, &root(&srv), "GET", "/storage/whoami", None);
    assert_eq!(st, 200, "{me}");
    assert_eq!(me["kind"], "root", "{me}");
    assert_eq!(me["permission"], "full", "{me}");
    // None of that minted, revoked or deleted anything.
    let (st, list) = api(
        &srv,
        &root(&srv),
        "GET",
        &format!("/storage/buckets/{bucket}/keys"),
        None,
    );
    assert_eq!(st, 200);
    assert_eq!(list["keys"].as_array().unwrap().len(), 2, "{list}");
    let (st, accounts) = api(&srv, &root(&srv), "GET", "/storage/access-keys", None);
    assert_eq!(st, 200);
    assert_eq!(accounts["keys"], json!([]), "{accounts}");
}

#[tokio::test]
async fn revocation_is_immediate() {
    let srv = Server::start();
    if srv.skip_external("bucket keys are cnx-storage's own") {
        return;
    }
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "bk-revoke").await;
    let other = srv.bucket(&s3, "bk-revoke-other").await;
    put(&s3, &bucket, "obj", b"data").await;
    let (id, secret) = mint_bucket_key(&srv, &bucket, "read-write");
    let keep = mint_bucket_key(&srv, &bucket, "read");
    let key = srv.client_with(&id, &secret);
    // Used first, so the server has it unsealed in memory.
    assert_eq!(get_bytes(&key, &bucket, "obj").await, b"data");

    // Unknown id, and the right id through another bucket's path: 404, key untouched.
    let (st, e) = api(
        &srv,
        &root(&srv),
        "DELETE",
        &format!("/storage/buckets/{bucket}/keys/CNXNOSUCHKEY0000000"),
        None,
    );
    assert_eq!(st, 404, "{e}");
    let (st, e) = api(
        &srv,
        &root(&srv),
        "DELETE",
        &format!("/storage/buckets/{other}/keys/{id}"),
        None,
    );
    assert_eq!(st, 404, "{e}");
    assert!(e["error"].is_string(), "{e}");
    // The root key is not a bucket key either.
    let (st, e) = api(
        &srv,
        &root(&srv),
        "DELETE",
        &format!("/storage/buckets/{bucket}/keys/{}", srv.access_key),
        None,
    );
    assert_eq!(st, 404, "{e}");
    assert_eq!(get_bytes(&key, &bucket, "obj").await, b"data");

    revoke_bucket_key(&srv, &bucket, &id);
    unknown_key(key.get_object().bucket(&bucket).key("obj").send().await);
    unknown_key(
        key.put_object()
            .bucket(&bucket)
            .key("after")
            .body(ByteStream::from_static(b"x"))
            .send()
            .await,
    );
    unknown_key(key.list_objects_v2().bucket(&bucket).send().await);
    // On the management surface the key is unknown now: 401, not 403.
    let (st, e) = api(
        &srv,
        &(id.clone(), secret.clone()),
        "GET",
        "/storage/buckets",
        None,
    );
    assert_eq!(st, 401, "{e}");

    // Revoking twice: gone.
    let (st, e) = api(
        &srv,
        &root(&srv),
        "DELETE",
        &format!("/storage/buckets/{bucket}/keys/{id}"),
        None,
    );
    assert_eq!(st, 404, "{e}");
    // Only the revoked key is gone.
    let (st, list) = api(
        &srv,
        &root(&srv),
        "GET",
        &format!("/storage/buckets/{bucket}/keys"),
        None,
    );
    assert_eq!(st, 200);
    let ids: Vec<_> = list["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["access_key_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, [keep.0.as_str()]);
    assert_eq!(
        get_bytes(&client_of(&srv, &keep), &bucket, "obj").await,
        b"data"
    );
}

#[tokio::test]
async fn expires_at_ends_the_key() {
    let srv = Server::start();
    if srv.skip_external("bucket keys are cnx-storage's own") {
        return;
    }
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "bk-expiry").await;
    put(&s3, &bucket, "obj", b"data").await;
    let (st, k) = api(
        &srv,
        &root(&srv),
        "POST",
        &format!("/storage/buckets/{bucket}/keys"),
        Some(&json!({ "permission": "read", "expires_at": rfc3339_in(4) })),
    );
    assert_eq!(st, 201, "{k}");
    let expires_at = time::OffsetDateTime::parse(
        k["expires_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let creds = creds_of(&k);
    let key = client_of(&srv, &creds);
    assert_eq!(get_bytes(&key, &bucket, "obj").await, b"data");

    // Past the expiry, with a generous margin.
    let left = expires_at - time::OffsetDateTime::now_utc();
    let wait = Duration::try_from(left).unwrap_or_default() + Duration::from_millis(1500);
    tokio::time::sleep(wait).await;
    unknown_key(key.get_object().bucket(&bucket).key("obj").send().await);
    unknown_key(key.list_objects_v2().bucket(&bucket).send().await);
    // HEAD has no error body: the status only.
    let info = crate::harness::err_info(key.head_bucket().bucket(&bucket).send().await);
    assert_eq!(info.status, 403, "{info:?}");
    let (st, e) = api(&srv, &creds, "GET", "/storage/buckets", None);
    assert_eq!(st, 401, "{e}");
    // Root may still see it listed (with its expiry), or not at all.
    let (st, list) = api(
        &srv,
        &root(&srv),
        "GET",
        &format!("/storage/buckets/{bucket}/keys"),
        None,
    );
    assert_eq!(st, 200, "{list}");
    for listed in list["keys"].as_array().unwrap() {
        assert_eq!(listed["access_key_id"], creds.0.as_str(), "{list}");
        assert_eq!(listed["expires_at"], k["expires_at"], "{list}");
    }
}

#[tokio::test]
async fn other_accounts_cannot_see_or_mint_keys() {
    let srv = Server::start();
    if srv.skip_external("bucket keys are cnx-storage's own") {
        return;
    }
    let bucket = api_bucket(&srv, "bk-root-owned");
    let root_key = mint_bucket_key(&srv, &bucket, "read");
    let alice = mint_account_key(&srv, "alice");
    let keys = format!("/storage/buckets/{bucket}/keys");

    let (st, e) = api(&srv, &alice, "GET", &keys, None);
    assert_eq!(st, 404, "{e}");
    let (st, e) = api(
        &srv,
        &alice,
        "POST",
        &keys,
        Some(&json!({ "permission": "read-write" })),
    );
    assert_eq!(st, 404, "{e}");
    let (st, e) = api(
        &srv,
        &alice,
        "DELETE",
        &format!("{keys}/{}", root_key.0),
        None,
    );
    assert_eq!(st, 404, "{e}");
    let (st, e) = api(
        &srv,
        &alice,
        "GET",
        &format!("/storage/buckets/{bucket}"),
        None,
    );
    assert_eq!(st, 404, "{e}");
    // Root's key still works and only it is listed.
    let (st, list) = api(&srv, &root(&srv), "GET", &keys, None);
    assert_eq!(st, 200);
    assert_eq!(list["keys"].as_array().unwrap().len(), 1, "{list}");
    client_of(&srv, &root_key)
        .head_bucket()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();

    // Alice mints keys for her own bucket; root cannot see them under root's buckets, and
    // alice's bucket key does not reach root's bucket.
    let (st, b) = api(
        &srv,
        &alice,
        "POST",
        "/storage/buckets",
        Some(&json!({ "name": srv.unique_bucket("bk-alice") })),
    );
    assert_eq!(st, 201, "{b}");
    let alice_bucket = b["name"].as_str().unwrap().to_owned();
    let (st, k) = api(
        &srv,
        &alice,
        "POST",
        &format!("/storage/buckets/{alice_bucket}/keys"),
        Some(&json!({ "permission": "read-write" })),
    );
    assert_eq!(st, 201, "{k}");
    let alice_bk = client_of(&srv, &creds_of(&k));
    put(&alice_bk, &alice_bucket, "a", b"alice").await;
    denied(alice_bk.get_object().bucket(&bucket).key("a").send().await);
    let (st, list) = api(
        &srv,
        &alice,
        "GET",
        &format!("/storage/buckets/{alice_bucket}/keys"),
        None,
    );
    assert_eq!(st, 200);
    assert_eq!(list["keys"].as_array().unwrap().len(), 1, "{list}");
    let (st, e) = api(
        &srv,
        &root(&srv),
        "GET",
        &format!("/storage/buckets/{alice_bucket}/keys"),
        None,
    );
    assert_eq!(st, 404, "root acts as its own account here: {e}");
}

#[tokio::test]
async fn deleting_a_bucket_kills_its_keys() {
    let srv = Server::start();
    if srv.skip_external("bucket keys are cnx-storage's own") {
        return;
    }
    let s3 = srv.client();
    // Through the management API (force) and through S3 DeleteBucket.
    for via_s3 in [false, true] {
        let bucket = api_bucket(&srv, "bk-doomed");
        let creds = mint_bucket_key(&srv, &bucket, "read-write");
        let key = client_of(&srv, &creds);
        put(&key, &bucket, "obj", b"data").await;
        if via_s3 {
            s3.delete_object()
                .bucket(&bucket)
                .key("obj")
                .send()
                .await
                .unwrap();
            s3.delete_bucket().bucket(&bucket).send().await.unwrap();
        } else {
            let (st, e) = api(
                &srv,
                &root(&srv),
                "DELETE",
                &format!("/storage/buckets/{bucket}?force=true"),
                None,
            );
            assert_eq!(st, 204, "{e}");
        }
        // Same name again: a new bucket, with no keys, that the old key cannot touch.
        s3.create_bucket()
            .bucket(&bucket)
            .create_bucket_configuration(location())
            .send()
            .await
            .unwrap();
        put(&s3, &bucket, "obj", b"new").await;
        let (st, list) = api(
            &srv,
            &root(&srv),
            "GET",
            &format!("/storage/buckets/{bucket}/keys"),
            None,
        );
        assert_eq!(st, 200);
        assert_eq!(list["keys"], json!([]), "{list}");
        for info in [
            crate::harness::err_info(key.get_object().bucket(&bucket).key("obj").send().await),
            crate::harness::err_info(
                key.put_object()
                    .bucket(&bucket)
                    .key("obj")
                    .body(ByteStream::from_static(b"old key"))
                    .send()
                    .await,
            ),
            crate::harness::err_info(key.list_objects_v2().bucket(&bucket).send().await),
        ] {
            assert_eq!(info.status, 403, "{info:?}");
            assert!(
                matches!(
                    info.code.as_deref(),
                    Some("AccessDenied" | "InvalidAccessKeyId")
                ),
                "{info:?}"
            );
        }
        assert_eq!(get_bytes(&s3, &bucket, "obj").await, b"new");
        // The old key cannot be revoked through the new bucket: it is not its key.
        let (st, e) = api(
            &srv,
            &root(&srv),
            "DELETE",
            &format!("/storage/buckets/{bucket}/keys/{}", creds.0),
            None,
        );
        assert_eq!(st, 404, "{e}");
    }
}

/// A deleted bucket's keys are gone from the index; like revoked keys they must be refused as
/// unknown from the next request on, even when the server had them cached from earlier use.
///
/// The index drops them in the deletion's commit and the key ring drops its cached copies.
#[tokio::test]
async fn deleted_bucket_keys_are_unknown_at_once() {
    let srv = Server::start();
    if srv.skip_external("bucket keys are cnx-storage's own") {
        return;
    }
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "bk-gone").await;
    let used = mint_bucket_key(&srv, &bucket, "read-write");
    let unused = mint_bucket_key(&srv, &bucket, "read-write");
    let used_s3 = client_of(&srv, &used);
    put(&used_s3, &bucket, "obj", b"data").await;
    s3.delete_object()
        .bucket(&bucket)
        .key("obj")
        .send()
        .await
        .unwrap();
    s3.delete_bucket().bucket(&bucket).send().await.unwrap();

    // The key the server never unsealed is refused as unknown.
    unknown_key(
        client_of(&srv, &unused)
            .list_objects_v2()
            .bucket(&bucket)
            .send()
            .await,
    );
    let (st, e) = api(&srv, &unused, "GET", "/storage/buckets", None);
    assert_eq!(st, 401, "{e}");

    // The one it had cached must be too.
    let s3_answer =
        crate::harness::err_info(used_s3.list_objects_v2().bucket(&bucket).send().await);
    let (api_status, api_body) = api(&srv, &used, "GET", "/storage/buckets", None);
    assert!(
        s3_answer.status == 403
            && s3_answer.code.as_deref() == Some("InvalidAccessKeyId")
            && api_status == 401,
        "a deleted bucket's key that was used before the deletion still authenticates: S3 ListObjectsV2 got {} {:?} (want 403 InvalidAccessKeyId), \
         GET /storage/buckets got {api_status} {api_body} (want 401)",
        s3_answer.status,
        s3_answer.code,
    );
}

#[tokio::test]
async fn keys_survive_restart_and_secrets_are_sealed() {
    let mut srv = Server::start();
    if srv.skip_external("needs to restart the server and read its data dir") {
        return;
    }
    let bucket = api_bucket(&srv, "bk-restart");
    let (st, k) = api(
        &srv,
        &root(&srv),
        "POST",
        &format!("/storage/buckets/{bucket}/keys"),
        Some(&json!({ "permission": "read-write", "name": "survivor" })),
    );
    assert_eq!(st, 201, "{k}");
    let rw = creds_of(&k);
    let ro = mint_bucket_key(&srv, &bucket, "read");
    let acct = mint_account_key(&srv, "carol");
    put(&client_of(&srv, &rw), &bucket, "obj", b"before restart").await;

    // Twice, so the WAL of the first run is flushed into table files too.
    srv.restart();
    srv.restart();

    let rwc = client_of(&srv, &rw);
    assert_eq!(get_bytes(&rwc, &bucket, "obj").await, b"before restart");
    put(&rwc, &bucket, "after", b"after restart").await;
    let roc = client_of(&srv, &ro);
    assert_eq!(get_bytes(&roc, &bucket, "after").await, b"after restart");
    denied(
        roc.put_object()
            .bucket(&bucket)
            .key("x")
            .body(ByteStream::from_static(b"x"))
            .send()
            .await,
    );
    let (st, list) = api(
        &srv,
        &root(&srv),
        "GET",
        &format!("/storage/buckets/{bucket}/keys"),
        None,
    );
    assert_eq!(st, 200);
    let survivor = list["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["access_key_id"] == rw.0.as_str())
        .unwrap_or_else(|| panic!("{list}"));
    assert_eq!(survivor["name"], "survivor");
    assert_eq!(survivor["permission"], "read-write");
    let (st, _) = api(&srv, &acct, "GET", "/storage/buckets", None);
    assert_eq!(st, 200);

    // No secret is stored in the clear anywhere under the data dir.
    let data = srv.data_dir().to_owned();
    let files = all_files(&data);
    match srv.index_dump() {
        Some(index) => {
            let has = |s: &str| index.windows(s.len()).any(|w| w == s.as_bytes());
            assert!(has(&rw.0), "the index's dump holds the keys");
            for secret in [&rw.1, &ro.1, &acct.1] {
                assert!(!has(secret), "secret in clear in the index");
            }
        }
        None => assert!(
            files.iter().any(|f| f.starts_with(data.join("meta"))),
            "no meta files under {}: {files:?}",
            data.display()
        ),
    }
    for secret in [&rw.1, &ro.1, &acct.1] {
        for f in &files {
            let bytes = std::fs::read(f).unwrap_or_default();
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "secret in clear in {}",
                f.display()
            );
        }
    }
    let master = data.join("master.key");
    let mode = std::fs::metadata(&master)
        .unwrap_or_else(|e| panic!("{}: {e}", master.display()))
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "mode of {}", master.display());
}

/// Every regular file under `dir`.
fn all_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let t = entry.file_type().unwrap();
            if t.is_dir() {
                stack.push(entry.path());
            } else if t.is_file() {
                out.push(entry.path());
            }
        }
    }
    out
}
