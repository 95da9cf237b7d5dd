//! `POST /storage/buckets/{name}/presign`: URLs minted by the management API and used by
//! plain curl exactly as returned (with the returned headers), never re-encoded.

use std::io::Write;
use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};

use crate::api_bucket_keys::{
    api, api_raw, client_of, mint_account_key, mint_bucket_key, revoke_bucket_key, root, Creds,
};
use crate::harness::{assert_err, get_bytes, put, Server};

/// What curl got back.
#[derive(Debug)]
struct Fetched {
    status: u16,
    /// Header lines of the final response, lowercased names.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Fetched {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn code(&self) -> Option<String> {
        crate::harness::xml_tag(&self.text(), "Code")
    }
}

/// Runs curl on `url` as given (no globbing, no dot-segment squashing) with `method`, the
/// `headers` and the body (with no content-type of curl's own).
fn curl_url(
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: Option<&[u8]>,
    extra: &[&str],
) -> Fetched {
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "-g", "--path-as-is", "-i"]);
    cmd.args(extra);
    match method {
        "HEAD" => {
            cmd.arg("-I");
        }
        "GET" => {}
        m => {
            cmd.args(["-X", m]);
        }
    }
    for (k, v) in headers {
        cmd.args(["-H", &format!("{k}: {v}")]);
    }
    let file = body.map(|b| {
        let mut f = tempfile::NamedTempFile::new().expect("temp file");
        f.write_all(b).expect("write body");
        f
    });
    if let Some(f) = &file {
        // `-T` would append the file name to a URL ending in `/`.
        cmd.arg("--data-binary")
            .arg(format!("@{}", f.path().display()));
        if !headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        {
            cmd.args(["-H", "content-type:"]);
        }
    }
    cmd.arg(url);
    let out = cmd.output().expect("run curl");
    assert!(
        out.status.success(),
        "curl {url} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    parse_response(&out.stdout)
}

/// Splits curl `-i` output into the final response's status, headers and body.
fn parse_response(mut raw: &[u8]) -> Fetched {
    loop {
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or_else(|| panic!("no header block in {:?}", String::from_utf8_lossy(raw)));
        let head = String::from_utf8_lossy(&raw[..split]).into_owned();
        let rest = &raw[split + 4..];
        let mut lines = head.split("\r\n");
        let status: u16 = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad status line in {head}"));
        if status == 100 {
            raw = rest;
            continue;
        }
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        return Fetched {
            status,
            headers,
            body: rest.to_vec(),
        };
    }
}

/// Mints a URL; asserts 200 and returns the response.
fn presign(srv: &Server, creds: &Creds, bucket: &str, req: Value) -> Value {
    let (st, v) = api(
        srv,
        creds,
        "POST",
        &format!("/storage/buckets/{bucket}/presign"),
        Some(&req),
    );
    assert_eq!(st, 200, "presign {req}: {v}");
    v
}

/// The headers a minted URL must be sent with.
fn headers_of(minted: &Value) -> Vec<(String, String)> {
    minted["headers"]
        .as_object()
        .unwrap_or_else(|| panic!("headers object in {minted}"))
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().expect("header value").to_owned()))
        .collect()
}

/// Sends a minted request with curl, as a client that got the JSON would.
fn use_url(minted: &Value, body: Option<&[u8]>) -> Fetched {
    curl_url(
        minted["method"].as_str().unwrap(),
        minted["url"].as_str().unwrap(),
        &headers_of(minted),
        body,
        &[],
    )
}

fn unix(s: &str) -> i64 {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|e| panic!("{s}: {e}"))
        .unix_timestamp()
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

#[tokio::test]
async fn get_put_head_delete_urls_work_with_curl() {
    let srv = Server::start();
    if srv.skip_external("presign minting is cnx-storage's own") {
        return;
    }
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "ps-crud").await;
    let rootc = root(&srv);

    // PUT with a content type: the URL comes with the header the client must send.
    let before = now();
    let minted = presign(
        &srv,
        &rootc,
        &bucket,
        json!({ "key": "doc.txt", "method": "PUT", "content_type": "text/plain; charset=utf-8" }),
    );
    assert_eq!(minted["method"], "PUT");
    // Signed by the bucket's own read-write presign key, never by the caller's root key.
    assert_ne!(minted["access_key_id"], srv.access_key.as_str());
    assert_eq!(
        minted["headers"],
        json!({ "content-type": "text/plain; charset=utf-8" })
    );
    let url = minted["url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("http://{}/{bucket}/doc.txt?", srv.addr)),
        "{url}"
    );
    assert!(url.contains("X-Amz-Signature="), "{url}");
    assert!(url.contains("X-Amz-Expires=3600"), "default expiry: {url}");
    let expires_at = unix(minted["expires_at"].as_str().unwrap());
    assert!(
        (before + 3595..=now() + 3605).contains(&expires_at),
        "{minted}"
    );
    // Without the returned header the signature does not match.
    let refused = curl_url("PUT", url, &[], Some(b"no type"), &[]);
    assert_eq!(refused.status, 403, "{}", refused.text());
    let wrong = curl_url(
        "PUT",
        url,
        &[("content-type".into(), "text/html".into())],
        Some(b"wrong type"),
        &[],
    );
    assert_eq!(wrong.status, 403, "{}", wrong.text());
    assert_err(
        s3.head_object().bucket(&bucket).key("doc.txt").send().await,
        404,
        None,
    );
    let done = use_url(&minted, Some(b"hello presigned"));
    assert_eq!(done.status, 200, "{}", done.text());
    assert!(done.header("etag").is_some(), "{done:?}");
    let head = s3
        .head_object()
        .bucket(&bucket)
        .key("doc.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_type(), Some("text/plain; charset=utf-8"));
    assert_eq!(get_bytes(&s3, &bucket, "doc.txt").await, b"hello presigned");

    // PUT without a content type: no headers to send.
    let minted = presign(
        &srv,
        &rootc,
        &bucket,
        json!({ "key": "plain", "method": "PUT" }),
    );
    assert_eq!(minted["headers"], json!({}));
    let done = use_url(&minted, Some(b"plain body"));
    assert_eq!(done.status, 200, "{}", done.text());
    assert_eq!(get_bytes(&s3, &bucket, "plain").await, b"plain body");

    // GET.
    let minted = presign(
        &srv,
        &rootc,
        &bucket,
        json!({ "key": "doc.txt", "method": "GET", "expires_in": 120 }),
    );
    assert_eq!(minted["method"], "GET");
    assert_eq!(minted["headers"], json!({}));
    assert!(minted["url"]
        .as_str()
        .unwrap()
        .contains("X-Amz-Expires=120"));
    let got = use_url(&minted, None);
    assert_eq!(got.status, 200, "{}", got.text());
    assert_eq!(got.body, b"hello presigned");
    assert_eq!(
        got.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    // A GET URL is not a PUT URL.
    let misuse = curl_url("PUT", minted["url"].as_str().unwrap(), &[], Some(b"x"), &[]);
    assert_eq!(misuse.status, 403, "{}", misuse.text());

    // HEAD.
    let minted = presign(
        &srv,
        &rootc,
        &bucket,
        json!({ "key": "doc.txt", "method": "HEAD" }),
    );
    let head = use_url(&minted, None);
    assert_eq!(head.status, 200, "{head:?}");
    assert_eq!(head.header("content-length"), Some("15"));
    assert!(head.body.is_empty());

    // DELETE.
    let minted = presign(
        &srv,
        &rootc,
        &bucket,
        json!({ "key": "doc.txt", "method": "DELETE" }),
    );
    let gone = use_url(&minted, None);
    assert_eq!(gone.status, 204, "{}", gone.text());
    assert_err(
        s3.head_object().bucket(&bucket).key("doc.txt").send().await,
        404,
        None,
    );

    // The longest allowed expiry.
    let minted = presign(
        &srv,
        &rootc,
        &bucket,
        json!({ "key": "plain", "method": "GET", "expires_in": 604_800 }),
    );
    assert!(minted["url"]
        .as_str()
        .unwrap()
        .contains("X-Amz-Expires=604800"));
    let expires_at = unix(minted["expires_at"].as_str().unwrap());
    assert!((now() + 604_790..=now() + 604_810).contains(&expires_at));
    assert_eq!(use_url(&minted, None).body, b"plain body");
}

#[tokio::test]
async fn awkward_keys() {
    let srv = Server::start();
    if srv.skip_external("presign minting is cnx-storage's own") {
        return;
    }
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "ps-keys").await;
    let rootc = root(&srv);
    for (i, key) in [
        "with space.txt",
        "dir/a b+c=d&e.txt",
        "plus+plus",
        "ünïcødé/日本語 €.bin",
        "q?uestion#hash%25percent",
        "semi;colon,comma'quote\"(paren)*!@$",
        "tilde~/under_score-dash.dot",
        "dots/../x",
        "slashes//double/",
        "../up",
    ]
    .into_iter()
    .enumerate()
    {
        let body = format!("body {i} of {key}");
        let minted = presign(
            &srv,
            &rootc,
            &bucket,
            json!({ "key": key, "method": "PUT" }),
        );
        let url = minted["url"].as_str().unwrap();
        assert!(
            url.is_ascii() && !url.contains(' '),
            "URL must be percent-encoded: {url}"
        );
        let done = use_url(&minted, Some(body.as_bytes()));
        assert_eq!(done.status, 200, "{key}: {}", done.text());
        // It landed under exactly that key.
        assert_eq!(get_bytes(&s3, &bucket, key).await, body.as_bytes(), "{key}");

        let minted = presign(
            &srv,
            &rootc,
            &bucket,
            json!({ "key": key, "method": "GET" }),
        );
        let got = use_url(&minted, None);
        assert_eq!(got.status, 200, "{key}: {}", got.text());
        assert_eq!(got.text(), body, "{key}");
    }
    let list = s3.list_objects_v2().bucket(&bucket).send().await.unwrap();
    assert_eq!(list.key_count(), Some(10));
}

#[tokio::test]
async fn bad_requests_are_400() {
    let srv = Server::start();
    if srv.skip_external("presign minting is cnx-storage's own") {
        return;
    }
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "ps-bad").await;
    let path = format!("/storage/buckets/{bucket}/presign");
    let long_key = "k".repeat(1025);
    for body in [
        json!({ "key": "k", "method": "GET", "expires_in": 604_801 }).to_string(),
        json!({ "key": "k", "method": "GET", "expires_in": 0 }).to_string(),
        json!({ "key": "k", "method": "GET", "expires_in": -5 }).to_string(),
        json!({ "key": "k", "method": "GET", "expires_in": "60" }).to_string(),
        json!({ "key": "k", "method": "POST" }).to_string(),
        json!({ "key": "k", "method": "PATCH" }).to_string(),
        json!({ "key": "k", "method": "" }).to_string(),
        json!({ "key": "k" }).to_string(),
        json!({ "method": "GET" }).to_string(),
        json!({ "key": "", "method": "GET" }).to_string(),
        json!({ "key": long_key, "method": "GET" }).to_string(),
        json!({ "key": "k", "method": "GET", "content_type": "text/plain" }).to_string(),
        json!({ "key": "k", "method": "PUT", "content_type": "a\nb" }).to_string(),
        json!({ "key": "k", "method": "GET", "bucket": "other" }).to_string(),
        "{".to_owned(),
    ] {
        let (st, e) = api_raw(&srv, &root(&srv), "POST", &path, Some(&body));
        assert_eq!(st, 400, "{body}: {e}");
        assert!(
            e["error"].as_str().is_some_and(|m| !m.is_empty()),
            "{body}: {e}"
        );
    }
    let (st, e) = api(
        &srv,
        &root(&srv),
        "POST",
        "/storage/buckets/no-such-bucket-here/presign",
        Some(&json!({ "key": "k", "method": "GET" })),
    );
    assert_eq!(st, 404, "{e}");
    let (st, e) = api(&srv, &root(&srv), "GET", &path, None);
    assert_eq!(st, 405, "{e}");
}

#[tokio::test]
async fn short_expiry_ends_the_url() {
    let srv = Server::start();
    if srv.skip_external("presign minting is cnx-storage's own") {
        return;
    }
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "ps-short").await;
    put(&s3, &bucket, "obj", b"short lived").await;
    let minted = presign(
        &srv,
        &root(&srv),
        &bucket,
        json!({ "key": "obj", "method": "GET", "expires_in": 2 }),
    );
    let put_url = presign(
        &srv,
        &root(&srv),
        &bucket,
        json!({ "key": "late", "method": "PUT", "expires_in": 2 }),
    );
    let expires_at = unix(minted["expires_at"].as_str().unwrap());
    assert!(expires_at <= now() + 3, "{minted}");
    tokio::time::sleep(Duration::from_secs(4)).await;
    let late = use_url(&minted, None);
    assert_eq!(late.status, 403, "{}", late.text());
    assert_eq!(
        late.code().as_deref(),
        Some("AccessDenied"),
        "{}",
        late.text()
    );
    let late = use_url(&put_url, Some(b"too late"));
    assert_eq!(late.status, 403, "{}", late.text());
    assert_err(
        s3.head_object().bucket(&bucket).key("late").send().await,
        404,
        None,
    );
}

#[tokio::test]
async fn bucket_keys_sign_and_revocation_kills_urls() {
    let srv = Server::start();
    if srv.skip_external("presign minting is cnx-storage's own") {
        return;
    }
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "ps-bkey").await;
    put(&s3, &bucket, "obj", b"signed by a bucket key").await;
    let rw = mint_bucket_key(&srv, &bucket, "read-write");
    let ro = mint_bucket_key(&srv, &bucket, "read");

    // Signed by the read-write key, at root's request.
    let get = presign(
        &srv,
        &root(&srv),
        &bucket,
        json!({ "key": "obj", "method": "GET", "access_key_id": rw.0 }),
    );
    assert_eq!(get["access_key_id"], rw.0.as_str());
    let url = get["url"].as_str().unwrap();
    assert!(
        url.contains(&format!("X-Amz-Credential={}%2F", rw.0)),
        "{url}"
    );
    let put_url = presign(
        &srv,
        &root(&srv),
        &bucket,
        json!({ "key": "new", "method": "PUT", "access_key_id": rw.0 }),
    );
    let del_url = presign(
        &srv,
        &root(&srv),
        &bucket,
        json!({ "key": "obj", "method": "DELETE", "access_key_id": rw.0 }),
    );
    let got = use_url(&get, None);
    assert_eq!(got.status, 200, "{}", got.text());
    assert_eq!(got.body, b"signed by a bucket key");

    // The read key signs GET and HEAD, never PUT or DELETE.
    let ro_get = presign(
        &srv,
        &root(&srv),
        &bucket,
        json!({ "key": "obj", "method": "GET", "access_key_id": ro.0 }),
    );
    assert_eq!(ro_get["access_key_id"], ro.0.as_str());
    assert_eq!(use_url(&ro_get, None).body, b"signed by a bucket key");
    let ro_head = presign(
        &srv,
        &root(&srv),
        &bucket,
        json!({ "key": "obj", "method": "HEAD", "access_key_id": ro.0 }),
    );
    assert_eq!(use_url(&ro_head, None).status, 200);
    for method in ["PUT", "DELETE"] {
        let (st, e) = api(
            &srv,
            &root(&srv),
            "POST",
            &format!("/storage/buckets/{bucket}/presign"),
            Some(&json!({ "key": "obj", "method": method, "access_key_id": ro.0 })),
        );
        assert_eq!(st, 403, "read key signing {method}: {e}");
        assert!(e["error"].is_string(), "{e}");
    }

    // Revoking the signing key kills every URL it signed, at once.
    revoke_bucket_key(&srv, &bucket, &rw.0);
    let dead = use_url(&get, None);
    assert_eq!(dead.status, 403, "{}", dead.text());
    assert_eq!(
        dead.code().as_deref(),
        Some("InvalidAccessKeyId"),
        "{}",
        dead.text()
    );
    let dead = use_url(&put_url, Some(b"after revocation"));
    assert_eq!(dead.status, 403, "{}", dead.text());
    assert_eq!(dead.code().as_deref(), Some("InvalidAccessKeyId"));
    let dead = use_url(&del_url, None);
    assert_eq!(dead.status, 403, "{}", dead.text());
    assert_eq!(
        get_bytes(&s3, &bucket, "obj").await,
        b"signed by a bucket key"
    );
    assert_err(
        s3.head_object().bucket(&bucket).key("new").send().await,
        404,
        None,
    );
    // Nor can it sign anything more.
    let (st, e) = api(
        &srv,
        &root(&srv),
        "POST",
        &format!("/storage/buckets/{bucket}/presign"),
        Some(&json!({ "key": "obj", "method": "GET", "access_key_id": rw.0 })),
    );
    assert!(st == 404 || st == 409, "{st}: {e}");
    // URLs of the other key still work.
    assert_eq!(use_url(&ro_get, None).status, 200);
}

#[tokio::test]
async fn signing_keys_and_buckets_of_other_accounts_are_404() {
    let srv = Server::start();
    if srv.skip_external("presign minting is cnx-storage's own") {
        return;
    }
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "ps-root").await;
    let other = srv.bucket(&s3, "ps-root-other").await;
    put(&s3, &bucket, "obj", b"root data").await;
    let alice = mint_account_key(&srv, "alice");
    let path = format!("/storage/buckets/{bucket}/presign");

    // Alice cannot mint for root's bucket.
    let (st, e) = api(
        &srv,
        &alice,
        "POST",
        &path,
        Some(&json!({ "key": "obj", "method": "GET" })),
    );
    assert_eq!(st, 404, "{e}");
    // Root cannot sign with alice's key, a key of another bucket, or a key that does not exist.
    let other_key = mint_bucket_key(&srv, &other, "read-write");
    for id in [
        alice.0.as_str(),
        other_key.0.as_str(),
        "CNXNOSUCHKEY000000000",
    ] {
        let (st, e) = api(
            &srv,
            &root(&srv),
            "POST",
            &path,
            Some(&json!({ "key": "obj", "method": "GET", "access_key_id": id })),
        );
        assert_eq!(st, 404, "signing with {id}: {e}");
    }

    // Alice mints for her own bucket; the URL works and names a key of that bucket.
    let alice_s3 = client_of(&srv, &alice);
    let alice_bucket = srv.bucket(&alice_s3, "ps-alice").await;
    put(&alice_s3, &alice_bucket, "a", b"alice data").await;
    let minted = presign(
        &srv,
        &alice,
        &alice_bucket,
        json!({ "key": "a", "method": "GET" }),
    );
    assert_ne!(minted["access_key_id"], alice.0.as_str());
    assert_eq!(use_url(&minted, None).body, b"alice data");
    // She cannot have root's key sign for her.
    let (st, e) = api(
        &srv,
        &alice,
        "POST",
        &format!("/storage/buckets/{alice_bucket}/presign"),
        Some(&json!({ "key": "a", "method": "GET", "access_key_id": srv.access_key })),
    );
    assert_eq!(st, 404, "alice signing with root's key: {e}");
    // Root's own buckets are not alice's: root gets 404 minting for hers.
    let (st, e) = api(
        &srv,
        &root(&srv),
        "POST",
        &format!("/storage/buckets/{alice_bucket}/presign"),
        Some(&json!({ "key": "a", "method": "GET" })),
    );
    assert_eq!(st, 404, "{e}");
    // An account key of root's own account signs for root.
    let (st, k) = api(
        &srv,
        &root(&srv),
        "POST",
        "/storage/access-keys",
        Some(&json!({ "name": "signer" })),
    );
    assert_eq!(st, 201, "{k}");
    let own = k["access_key_id"].as_str().unwrap();
    let minted = presign(
        &srv,
        &root(&srv),
        &bucket,
        json!({ "key": "obj", "method": "GET", "access_key_id": own }),
    );
    assert_eq!(minted["access_key_id"], own);
    assert_eq!(use_url(&minted, None).body, b"root data");
}

#[tokio::test]
async fn virtual_hosted_urls() {
    let srv = Server::start_with_config("[s3]\ndomain = \"s3.example.test\"\n");
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "ps-vhost").await;
    let port = srv.addr.rsplit_once(':').unwrap().1.to_owned();
    let host = format!("{bucket}.s3.example.test:{port}");
    let connect_to = format!("{host}:127.0.0.1:{port}");

    let minted = presign(
        &srv,
        &root(&srv),
        &bucket,
        json!({ "key": "dir/v host+é.txt", "method": "PUT", "content_type": "application/json" }),
    );
    let url = minted["url"].as_str().unwrap();
    let uri: http::Uri = url.parse().unwrap();
    assert_eq!(
        uri.authority().map(|a| a.as_str()),
        Some(host.as_str()),
        "{url}"
    );
    assert!(
        !uri.path().contains(&bucket),
        "bucket in the host, not the path: {url}"
    );
    let done = curl_url(
        "PUT",
        url,
        &headers_of(&minted),
        Some(b"{\"v\":1}"),
        &["--connect-to", &connect_to],
    );
    assert_eq!(done.status, 200, "{}", done.text());
    let head = s3
        .head_object()
        .bucket(&bucket)
        .key("dir/v host+é.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_type(), Some("application/json"));

    for method in ["GET", "HEAD"] {
        let minted = presign(
            &srv,
            &root(&srv),
            &bucket,
            json!({ "key": "dir/v host+é.txt", "method": method }),
        );
        let url = minted["url"].as_str().unwrap();
        assert!(url.starts_with(&format!("http://{host}/")), "{url}");
        let got = curl_url(method, url, &[], None, &["--connect-to", &connect_to]);
        assert_eq!(got.status, 200, "{method}: {}", got.text());
        if method == "GET" {
            assert_eq!(got.body, b"{\"v\":1}");
        } else {
            assert_eq!(got.header("content-length"), Some("7"));
        }
    }
    let minted = presign(
        &srv,
        &root(&srv),
        &bucket,
        json!({ "key": "dir/v host+é.txt", "method": "DELETE" }),
    );
    let gone = curl_url(
        "DELETE",
        minted["url"].as_str().unwrap(),
        &[],
        None,
        &["--connect-to", &connect_to],
    );
    assert_eq!(gone.status, 204, "{}", gone.text());
    let list = s3.list_objects_v2().bucket(&bucket).send().await.unwrap();
    assert_eq!(list.key_count(), Some(0));
}
