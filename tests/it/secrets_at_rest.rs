//! Secrets are never at rest in the clear: replayed key mints are sealed, the data dir is
//! private, a missing or wrong master key stops the server instead of locking keys out, and
//! logs carry neither secrets nor signatures.

use std::io::Read as _;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_s3::presigning::PresigningConfig;
use serde_json::Value;

use crate::api_bucket_keys::{client_of, creds_of, root, Creds};
use crate::harness::{get_bytes, put, raw_presigned, Server, REGION};

/// `POST path` with an `Idempotency-Key`, signed by curl as root; returns status and JSON.
fn post_idempotent(srv: &Server, path: &str, body: &str, key: &str) -> (u16, Value) {
    let (ak, sk) = root(srv);
    let out = Command::new("curl")
        .args(["-s", "-o", "-", "-w", "\n%{http_code}", "-X", "POST"])
        .args(["--aws-sigv4", "aws:amz:in-mum:cloudnx", "--user"])
        .arg(format!("{ak}:{sk}"))
        .args(["-H", "content-type: application/json", "-H"])
        .arg(format!("idempotency-key: {key}"))
        .args(["--data-binary", body])
        .arg(format!("{}{path}", srv.endpoint()))
        .output()
        .expect("run curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (json, status) = text.rsplit_once('\n').expect("status line");
    (
        status.parse().unwrap(),
        serde_json::from_str(json).unwrap_or(Value::Null),
    )
}

/// Every file and directory under `dir`.
pub(crate) fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        out.push(entry.path());
        if entry.file_type().unwrap().is_dir() {
            walk(&entry.path(), out);
        }
    }
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn replayed_key_mints_are_sealed_and_the_data_dir_is_private() {
    let mut srv = Server::start();
    if srv.skip_external("reads the server's data dir") {
        return;
    }
    let client = srv.client();
    let bucket = srv.bucket(&client, "sealed").await;
    let path = format!("/storage/buckets/{bucket}/keys");
    let body = r#"{"permission":"read-write","name":"ci"}"#;
    let (st, first) = post_idempotent(&srv, &path, body, "mint-1");
    assert_eq!(st, 201, "{first}");
    let (st, again) = post_idempotent(&srv, &path, body, "mint-1");
    assert_eq!(st, 201, "{again}");
    assert_eq!(first, again, "the replay returns the same key and secret");
    let key: Creds = creds_of(&first);
    put(&client_of(&srv, &key), &bucket, "o", b"v").await;

    // Twice, so the first run's WAL is flushed into table files as well.
    srv.restart();
    srv.restart();
    let (st, replay) = post_idempotent(&srv, &path, body, "mint-1");
    assert_eq!((st, &replay), (201, &first), "replay survives a restart");

    let data = srv.data_dir().to_owned();
    let mut all = Vec::new();
    walk(&data, &mut all);
    match srv.meta_url() {
        // The index is a database: its dump holds no secret in clear either.
        Some(url) => {
            let dump = cnx_storage::meta::pg::testing::dump(&url);
            assert!(
                contains(&dump, &key.0),
                "the dump ({} bytes) lacks the key {}",
                dump.len(),
                key.0
            );
            assert!(
                !contains(&dump, &key.1),
                "secret in clear in the PostgreSQL index"
            );
        }
        None => assert!(all.iter().any(|p| p.starts_with(data.join("meta")))),
    }
    for p in &all {
        if p.is_file() {
            let bytes = std::fs::read(p).unwrap_or_default();
            assert!(
                !contains(&bytes, &key.1),
                "secret in clear in {}",
                p.display()
            );
        }
    }
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700, "data dir");
    for p in &all {
        // The harness writes its own files there; everything else is the server's.
        if p.file_name()
            .is_some_and(|n| n == "it-config.toml" || n == "it-meta-url")
        {
            continue;
        }
        assert_eq!(mode(p) & 0o077, 0, "{} is {:o}", p.display(), mode(p));
    }
}

/// Runs `serve` on `data_dir` as the harness would, and waits for it to exit (it must).
fn serve_expecting_refusal(srv: &Server, data_dir: &Path, master_key: Option<&str>) -> String {
    let mut cmd = srv.command();
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .env("CNX_ROOT_ACCESS_KEY", &srv.access_key)
        .env("CNX_ROOT_SECRET_KEY", &srv.secret_key)
        .env("CNX_REGION", REGION)
        .env_remove("CNX_MASTER_KEY")
        .env_remove("CNX_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(k) = master_key {
        cmd.env("CNX_MASTER_KEY", k);
    }
    let mut child = cmd.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the server started although its master key cannot open the stored keys");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(!status.success(), "{err}");
    err
}

/// Stops `srv`, checks that it will not start without its master key (nor make a new one)
/// or with a wrong one, then puts the key back and starts it again.
fn refuses_a_missing_or_wrong_master_key(srv: &mut Server) {
    srv.sigterm();
    assert!(srv.wait_exit(Duration::from_secs(20)).is_some());
    let data = srv.data_dir().to_owned();
    let (master, saved) = (data.join("master.key"), data.join("master.key.saved"));
    std::fs::rename(&master, &saved).unwrap();
    let err = serve_expecting_refusal(srv, &data, None);
    assert!(
        err.contains("master key") && err.contains("missing"),
        "{err}"
    );
    assert!(!master.exists(), "no new master key was generated");
    let err = serve_expecting_refusal(srv, &data, Some(&"0".repeat(64)));
    assert!(err.contains("does not open"), "{err}");
    std::fs::rename(&saved, &master).unwrap();
    srv.restart();
}

#[tokio::test]
async fn a_missing_or_wrong_master_key_stops_the_server() {
    let mut srv = Server::start();
    if srv.skip_external("restarts the server") {
        return;
    }
    let client = srv.client();
    let bucket = srv.bucket(&client, "mk").await;
    let (st, k) = post_idempotent(
        &srv,
        &format!("/storage/buckets/{bucket}/keys"),
        r#"{"permission":"read"}"#,
        "mk-1",
    );
    assert_eq!(st, 201, "{k}");
    let key = creds_of(&k);
    put(&client, &bucket, "o", b"kept").await;
    refuses_a_missing_or_wrong_master_key(&mut srv);
    assert_eq!(
        get_bytes(&client_of(&srv, &key), &bucket, "o").await,
        b"kept"
    );
}

#[tokio::test]
async fn encrypted_objects_keep_a_missing_master_key_from_being_replaced() {
    let mut srv = Server::start();
    if srv.skip_external("restarts the server") {
        return;
    }
    // No access key is sealed here: only the SSE-S3 object needs the master key.
    let client = srv.client();
    let bucket = srv.bucket(&client, "mk-sse").await;
    client
        .put_object()
        .bucket(&bucket)
        .key("o")
        .server_side_encryption(aws_sdk_s3::types::ServerSideEncryption::Aes256)
        .body(aws_sdk_s3::primitives::ByteStream::from_static(b"sealed"))
        .send()
        .await
        .unwrap();
    // Nothing else sealed exists: the index's own check tells a wrong key.
    refuses_a_missing_or_wrong_master_key(&mut srv);
    assert_eq!(get_bytes(&srv.client(), &bucket, "o").await, b"sealed");
}

#[tokio::test]
async fn logs_carry_no_secret_or_signature() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("server.log");
    let logged = Server::start_logged(&log);
    if logged.skip_external("reads the server's log") {
        return;
    }
    let client = logged.client();
    let bucket = logged.bucket(&client, "logs").await;
    put(&client, &bucket, "k", b"v").await;
    let url = client
        .get_object()
        .bucket(&bucket)
        .key("k")
        .presigned(PresigningConfig::expires_in(Duration::from_secs(60)).unwrap())
        .await
        .unwrap();
    assert_eq!(raw_presigned(&url, &[], "").await.status, 200);
    let signature = url
        .uri()
        .split("X-Amz-Signature=")
        .nth(1)
        .unwrap()
        .to_owned();
    let (st, k) = post_idempotent(
        &logged,
        &format!("/storage/buckets/{bucket}/keys"),
        r#"{"permission":"read"}"#,
        "log-1",
    );
    assert_eq!(st, 201, "{k}");
    let minted = creds_of(&k).1;
    let bad = logged.client_with(&logged.access_key, "not-the-secret");
    let _ = bad.list_buckets().send().await;
    let root_secret = logged.secret_key.clone();
    drop(logged);

    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("request"), "the log is empty: {text}");
    for (what, secret) in [
        ("root secret", root_secret.as_str()),
        ("minted secret", minted.as_str()),
        ("presigned signature", signature.as_str()),
    ] {
        assert!(!text.contains(secret), "{what} in the log");
    }
}
