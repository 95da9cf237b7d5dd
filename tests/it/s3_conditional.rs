//! Conditional reads (If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since on
//! GET and HEAD) and conditional writes (If-None-Match: * and If-Match on PUT).

use aws_sdk_s3::primitives::DateTime;

use crate::harness::{
    assert_err, etag_of, get_bytes, presigned_put_head_with, put, read_response, Server,
};

const DAY: i64 = 86_400;

/// Puts `body` and returns (bucket, etag, last-modified in whole seconds).
async fn setup(srv: &Server, s3: &aws_sdk_s3::Client, body: &[u8]) -> (String, String, i64) {
    let bucket = srv.bucket(s3, "cond").await;
    put(s3, &bucket, "k", body).await;
    let head = s3
        .head_object()
        .bucket(&bucket)
        .key("k")
        .send()
        .await
        .unwrap();
    let last_modified = head.last_modified().expect("Last-Modified").secs();
    (bucket, etag_of(body), last_modified)
}

#[tokio::test]
async fn get_if_match() {
    let srv = Server::start();
    let s3 = srv.client();
    let (bucket, etag, _) = setup(&srv, &s3, b"if-match").await;
    let got = s3
        .get_object()
        .bucket(&bucket)
        .key("k")
        .if_match(&etag)
        .send()
        .await
        .unwrap();
    assert_eq!(got.e_tag(), Some(etag.as_str()));
    let result = s3
        .get_object()
        .bucket(&bucket)
        .key("k")
        .if_match("\"0123456789abcdef0123456789abcdef\"")
        .send()
        .await;
    assert_err(result, 412, Some("PreconditionFailed"));
}

#[tokio::test]
async fn get_if_none_match() {
    let srv = Server::start();
    let s3 = srv.client();
    let (bucket, etag, _) = setup(&srv, &s3, b"if-none-match").await;
    let info = assert_err(
        s3.get_object()
            .bucket(&bucket)
            .key("k")
            .if_none_match(&etag)
            .send()
            .await,
        304,
        None,
    );
    assert!(info.body.is_empty(), "304 with a body: {info:?}");
    s3.get_object()
        .bucket(&bucket)
        .key("k")
        .if_none_match("\"0123456789abcdef0123456789abcdef\"")
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn get_if_modified_since() {
    let srv = Server::start();
    let s3 = srv.client();
    let (bucket, _, modified) = setup(&srv, &s3, b"ims").await;
    let result = s3
        .get_object()
        .bucket(&bucket)
        .key("k")
        .if_modified_since(DateTime::from_secs(modified))
        .send()
        .await;
    assert_err(result, 304, None);
    let earlier = DateTime::from_secs(modified - DAY);
    s3.get_object()
        .bucket(&bucket)
        .key("k")
        .if_modified_since(earlier)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn get_if_unmodified_since() {
    let srv = Server::start();
    let s3 = srv.client();
    let (bucket, _, modified) = setup(&srv, &s3, b"ius").await;
    let earlier = DateTime::from_secs(modified - DAY);
    let result = s3
        .get_object()
        .bucket(&bucket)
        .key("k")
        .if_unmodified_since(earlier)
        .send()
        .await;
    assert_err(result, 412, Some("PreconditionFailed"));
    s3.get_object()
        .bucket(&bucket)
        .key("k")
        .if_unmodified_since(DateTime::from_secs(modified))
        .send()
        .await
        .unwrap();
    s3.get_object()
        .bucket(&bucket)
        .key("k")
        .if_unmodified_since(DateTime::from_secs(modified + DAY))
        .send()
        .await
        .unwrap();
}

/// S3's precedence rules: a true If-Match wins over a false If-Unmodified-Since, and a false
/// If-None-Match (→ 304) wins over a true If-Modified-Since.
#[tokio::test]
async fn get_condition_precedence() {
    let srv = Server::start();
    if srv.skip_external("moto answers 412 when If-Match holds but If-Unmodified-Since does not") {
        return;
    }
    let s3 = srv.client();
    let (bucket, etag, modified) = setup(&srv, &s3, b"precedence").await;
    s3.get_object()
        .bucket(&bucket)
        .key("k")
        .if_match(&etag)
        .if_unmodified_since(DateTime::from_secs(modified - DAY))
        .send()
        .await
        .unwrap();
    let result = s3
        .get_object()
        .bucket(&bucket)
        .key("k")
        .if_none_match(&etag)
        .if_modified_since(DateTime::from_secs(modified - DAY))
        .send()
        .await;
    assert_err(result, 304, None);
}

#[tokio::test]
async fn head_conditions() {
    let srv = Server::start();
    let s3 = srv.client();
    let (bucket, etag, modified) = setup(&srv, &s3, b"head-cond").await;
    assert_err(
        s3.head_object()
            .bucket(&bucket)
            .key("k")
            .if_none_match(&etag)
            .send()
            .await,
        304,
        None,
    );
    let info = assert_err(
        s3.head_object()
            .bucket(&bucket)
            .key("k")
            .if_match("\"nope\"")
            .send()
            .await,
        412,
        None,
    );
    assert!(info.body.is_empty(), "{info:?}");
    assert_err(
        s3.head_object()
            .bucket(&bucket)
            .key("k")
            .if_modified_since(DateTime::from_secs(modified))
            .send()
            .await,
        304,
        None,
    );
    let earlier = DateTime::from_secs(modified - DAY);
    assert_err(
        s3.head_object()
            .bucket(&bucket)
            .key("k")
            .if_unmodified_since(earlier)
            .send()
            .await,
        412,
        None,
    );
    s3.head_object()
        .bucket(&bucket)
        .key("k")
        .if_match(&etag)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn put_if_none_match_star() {
    let srv = Server::start();
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "cput").await;
    s3.put_object()
        .bucket(&bucket)
        .key("new")
        .body(b"first".to_vec().into())
        .if_none_match("*")
        .send()
        .await
        .unwrap();
    let result = s3
        .put_object()
        .bucket(&bucket)
        .key("new")
        .body(b"second".to_vec().into())
        .if_none_match("*")
        .send()
        .await;
    assert_err(result, 412, Some("PreconditionFailed"));
    assert_eq!(get_bytes(&s3, &bucket, "new").await, b"first");
}

#[tokio::test]
async fn put_if_match() {
    let srv = Server::start();
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "cputm").await;
    put(&s3, &bucket, "k", b"v1").await;
    let wrong = etag_of(b"something else");
    let result = s3
        .put_object()
        .bucket(&bucket)
        .key("k")
        .body(b"v2".to_vec().into())
        .if_match(&wrong)
        .send()
        .await;
    assert_err(result, 412, Some("PreconditionFailed"));
    assert_eq!(get_bytes(&s3, &bucket, "k").await, b"v1");

    let right = etag_of(b"v1");
    let out = s3
        .put_object()
        .bucket(&bucket)
        .key("k")
        .body(b"v2".to_vec().into())
        .if_match(&right)
        .send()
        .await
        .unwrap();
    assert_eq!(out.e_tag(), Some(etag_of(b"v2").as_str()));
    assert_eq!(get_bytes(&s3, &bucket, "k").await, b"v2");

    // If-Match on a key that does not exist: S3 answers 404 NoSuchKey.
    let result = s3
        .put_object()
        .bucket(&bucket)
        .key("absent")
        .body(b"x".to_vec().into())
        .if_match(&right)
        .send()
        .await;
    assert_err(result, 404, Some("NoSuchKey"));
    assert_err(
        s3.head_object().bucket(&bucket).key("absent").send().await,
        404,
        None,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_creates_with_if_none_match_conflict() {
    use tokio::io::AsyncWriteExt;
    let srv = Server::start();
    if srv.skip_external("409 on racing conditional creates is checked on cnx-storage only") {
        return;
    }
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "race-create").await;
    // Both requests are under way (their heads sent, half their bodies too) before either
    // commits: the test paces the bodies itself rather than hoping two uploads overlap.
    let len = 1 << 20;
    let mut conns = Vec::new();
    for seed in [1, 2] {
        let head = presigned_put_head_with(&srv, &bucket, "k", len, Some("*")).await;
        let body = crate::harness::pattern(len, seed);
        let mut conn = tokio::net::TcpStream::connect(&srv.addr).await.unwrap();
        conn.write_all(head.as_bytes()).await.unwrap();
        conn.write_all(&body[..len / 2]).await.unwrap();
        conns.push((conn, body));
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let mut statuses = Vec::new();
    for (conn, body) in &mut conns {
        conn.write_all(&body[len / 2..]).await.unwrap();
        let response = read_response(conn).await;
        statuses.push(response[9..12].to_owned());
    }
    assert_eq!(
        statuses,
        ["200", "409"],
        "the first to finish wins, the racing one conflicts"
    );
    assert_eq!(
        get_bytes(&s3, &bucket, "k").await,
        crate::harness::pattern(len, 1)
    );
}
