//! What an operator relies on: the metrics scrape and its token, JSON log lines that match
//! the ids every response carries, `--version`, shell completions and the `health` command.
//! (The scrape parsed by Prometheus' own parser is in s3-compat/boto3/test_metrics.py.)

use std::time::{Duration, Instant};

use aws_sdk_s3::operation::{RequestId, RequestIdExt};
use base64::Engine as _;

use crate::harness::{put, raw_request, root_request, self_signed, Server};

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[tokio::test]
async fn metrics_need_the_configured_token() {
    let srv = Server::start_with_config("[metrics]\ntoken = \"tok-3b9f\"\n");
    let url = format!("{}/storage/metrics", srv.endpoint());
    let none = raw_request("GET", &url, &[], "").await;
    assert_eq!(none.status, 401, "{}", none.text());
    assert!(
        none.header("www-authenticate")
            .is_some_and(|v| v.starts_with("Bearer")),
        "{:?}",
        none.headers
    );
    assert!(none.text().contains("\"error\""), "{}", none.text());
    let wrong = raw_request("GET", &url, &[("authorization", "Bearer tok-3b9")], "").await;
    assert_eq!(wrong.status, 401);
    // The root key's signature is no substitute for the token.
    let signed = raw_request("GET", &url, &[("authorization", "Basic dG9rLTNiOWY=")], "").await;
    assert_eq!(signed.status, 401);
    let ok = raw_request("GET", &url, &[("authorization", "Bearer tok-3b9f")], "").await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(ok.header("content-type"), Some(OPENMETRICS));
    assert!(ok.text().ends_with("# EOF\n"), "{}", ok.text());
    let post = raw_request("POST", &url, &[("authorization", "Bearer tok-3b9f")], "").await;
    assert_eq!(post.status, 405);
}

#[tokio::test]
async fn metrics_are_open_without_a_token_and_count_requests() {
    let srv = Server::start();
    if srv.skip_external("/storage/metrics is cnx-storage's own route") {
        return;
    }
    let url = format!("{}/storage/metrics", srv.endpoint());
    let sample = |text: &str, series: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or(0.0)
    };
    let before = raw_request("GET", &url, &[], "").await;
    assert_eq!(before.status, 200, "{}", before.text());
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "metrics").await;
    put(&s3, &bucket, "k", &[7u8; 4096]).await;
    let _ = s3.get_object().bucket(&bucket).key("missing").send().await;
    let after = raw_request("GET", &url, &[], "").await.text();
    let before = before.text();
    let put_ok = r#"cnx_requests_total{surface="s3",op="PutObject",status="2xx"}"#;
    let get_missing = r#"cnx_requests_total{surface="s3",op="GetObject",status="4xx"}"#;
    assert_eq!(
        sample(&after, put_ok) - sample(&before, put_ok),
        1.0,
        "{after}"
    );
    assert_eq!(
        sample(&after, get_missing) - sample(&before, get_missing),
        1.0
    );
    let received =
        sample(&after, "cnx_received_bytes_total") - sample(&before, "cnx_received_bytes_total");
    assert!(received >= 4096.0, "{received}");
    assert!(sample(&after, "cnx_open_connections") >= 1.0, "{after}");
    for family in [
        "# TYPE cnx_request_duration_seconds histogram",
        "# TYPE cnx_gc_queue_blobs gauge",
        "# TYPE cnx_gc_swept_blobs counter",
        "# TYPE cnx_checksum_failures counter",
        "# TYPE cnx_build info",
    ] {
        assert!(after.contains(family), "{family} missing:\n{after}");
    }
}

/// The JSON log line of each request, found by its id.
fn log_line(log: &std::path::Path, request_id: &str) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let found = text
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|v| v["message"] == "request" && v["request_id"] == request_id);
        match found {
            Some(v) => return v,
            None if Instant::now() > deadline => panic!("no log line for {request_id}:\n{text}"),
            None => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

#[tokio::test]
async fn json_log_lines_match_the_ids_of_each_response() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("server.log");
    let srv = Server::start_logged_with_config("[log]\nformat = \"json\"\n", &log);
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "jsonlog").await;
    let body = vec![3u8; 5000];
    let out = put(&s3, &bucket, "dir/k", &body).await;
    let got = s3
        .get_object()
        .bucket(&bucket)
        .key("dir/k")
        .send()
        .await
        .unwrap();
    let (id, id2) = (
        got.request_id().unwrap().to_owned(),
        got.extended_request_id().unwrap().to_owned(),
    );
    let bytes = got.body.collect().await.unwrap().into_bytes();
    assert_eq!(bytes.len(), 5000);

    let line = log_line(&log, &id);
    assert_eq!(line["host_id"], id2.as_str(), "{line}");
    assert_eq!(line["op"], "GetObject", "{line}");
    assert_eq!(line["bucket"], bucket.as_str(), "{line}");
    assert_eq!(line["status"], 200, "{line}");
    assert_eq!(line["bytes_out"], 5000, "{line}");
    assert_eq!(line["complete"], true, "{line}");
    assert_eq!(line["key_id"], srv.access_key.as_str(), "{line}");
    assert!(line["elapsed_ms"].as_f64().is_some(), "{line}");
    // x-amz-id-2 names the gateway that answered, and the request.
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(&id2)
        .expect("x-amz-id-2 is base64");
    let decoded = String::from_utf8(decoded).unwrap();
    let serving = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["message"] == "serving")
        .expect("a serving line");
    let gateway = serving["gateway"].as_str().unwrap();
    let port = srv.addr.rsplit(':').next().unwrap();
    assert!(
        serving["host"]
            .as_str()
            .unwrap()
            .ends_with(&format!(":{port}")),
        "{serving}"
    );
    assert_eq!(decoded, format!("cnx-storage {gateway} {id}"));

    let put_line = log_line(&log, out.request_id().unwrap());
    assert_eq!(put_line["op"], "PutObject", "{put_line}");
    assert!(put_line["bytes_in"].as_u64().unwrap() >= 5000, "{put_line}");
    assert_eq!(put_line["path"], format!("/{bucket}/dir/k"), "{put_line}");

    // Every line is one JSON object, and no secret is in any.
    let text = std::fs::read_to_string(&log).unwrap();
    for l in text.lines() {
        serde_json::from_str::<serde_json::Value>(l).unwrap_or_else(|e| panic!("{e}: {l}"));
    }
    assert!(
        !text.contains(&srv.secret_key),
        "the root secret is in the log"
    );
}

#[test]
fn version_and_completions_print() {
    let bin = env!("CARGO_BIN_EXE_cnx-storage");
    let run = |args: &[&str]| {
        let out = std::process::Command::new(bin).args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(
        run(&["--version"]),
        format!("cnx-storage {}\n", env!("CARGO_PKG_VERSION"))
    );
    let bash = run(&["completions", "bash"]);
    assert!(
        bash.contains("complete -F _cnx-storage") || bash.contains("cnx-storage"),
        "{bash}"
    );
    assert!(
        bash.contains("access-keys") && bash.contains("--data-dir"),
        "{bash}"
    );
    assert!(run(&["completions", "zsh"]).starts_with("#compdef cnx-storage"));
    assert!(run(&["completions", "fish"]).contains("complete -c cnx-storage"));
    let bad = std::process::Command::new(bin)
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
}

#[test]
fn the_health_command_checks_a_running_server() {
    let srv = Server::start();
    if srv.skip_external("the health command is cnx-storage's own") {
        return;
    }
    let out = srv
        .command()
        .args(["health", "--endpoint", &srv.endpoint()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["status"], "healthy");
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let out = srv
        .command()
        .args(["health", "--endpoint", &format!("http://127.0.0.1:{port}")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
}

#[tokio::test]
async fn the_console_is_served_with_types_etags_and_a_strict_csp() {
    let srv = Server::start();
    if srv.skip_external("the console is cnx-storage's own") {
        return;
    }
    let base = format!("{}/storage/console", srv.endpoint());
    let bare = raw_request("GET", &base, &[], "").await;
    assert_eq!(bare.status, 308);
    assert_eq!(bare.header("location"), Some("/storage/console/"));
    let index = raw_request("GET", &format!("{base}/"), &[], "").await;
    assert_eq!(index.status, 200);
    assert_eq!(
        index.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let csp = index.header("content-security-policy").unwrap_or_default();
    assert!(
        csp.contains("default-src 'none'")
            && csp.contains("script-src 'self'")
            && !csp.contains("unsafe"),
        "{csp}"
    );
    assert_eq!(index.header("x-frame-options"), Some("DENY"));
    assert_eq!(index.header("cache-control"), Some("no-cache"));
    assert!(index
        .text()
        .contains(r#"<script type="module" src="app.js">"#));
    let etag = index.header("etag").expect("an ETag").to_owned();
    let again = raw_request("GET", &format!("{base}/"), &[("if-none-match", &etag)], "").await;
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
    for (file, kind) in [
        ("app.js", "text/javascript; charset=utf-8"),
        ("s3.js", "text/javascript; charset=utf-8"),
        ("upload.js", "text/javascript; charset=utf-8"),
        ("vendor/sigv4.js", "text/javascript; charset=utf-8"),
        ("style.css", "text/css; charset=utf-8"),
        ("favicon.svg", "image/svg+xml"),
    ] {
        let r = raw_request("GET", &format!("{base}/{file}"), &[], "").await;
        assert_eq!(r.status, 200, "{file}");
        assert_eq!(r.header("content-type"), Some(kind), "{file}");
        assert_eq!(
            r.header("x-content-type-options"),
            Some("nosniff"),
            "{file}"
        );
        assert!(!r.body.is_empty(), "{file}");
        assert_ne!(
            r.header("etag"),
            Some(etag.as_str()),
            "{file} has an ETag of its own"
        );
    }
    let head = raw_request("HEAD", &format!("{base}/app.js"), &[], "").await;
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(
        raw_request("GET", &format!("{base}/nope.js"), &[], "")
            .await
            .status,
        404
    );
    assert_eq!(
        raw_request("POST", &format!("{base}/"), &[], "")
            .await
            .status,
        405
    );
}

#[tokio::test]
async fn an_object_opened_as_a_page_cannot_reach_the_console() {
    let srv = Server::start();
    if srv.skip_external("the sandbox header is cnx-storage's own") {
        return;
    }
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "sandbox").await;
    s3.put_object()
        .bucket(&bucket)
        .key("page.html")
        .content_type("text/html")
        .body(b"<script>opener.document</script>".to_vec().into())
        .send()
        .await
        .unwrap();
    for method in ["GET", "HEAD"] {
        let r = root_request(&srv, method, &format!("/{bucket}/page.html"), &[], "").await;
        assert_eq!(r.status, 200);
        let csp = r.header("content-security-policy").unwrap_or_default();
        assert!(
            csp.starts_with("sandbox") && !csp.contains("allow-same-origin"),
            "{method}: {csp}"
        );
    }
}

#[test]
fn the_health_command_checks_a_tls_server_by_its_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed(dir.path(), "server");
    let tls = format!(
        "[tls]\ncert = {:?}\nkey = {:?}\n",
        cert.display().to_string(),
        key.display().to_string()
    );
    let srv = Server::start_with_config(&tls);
    if srv.skip_external("needs TLS") {
        return;
    }
    let endpoint = format!("https://{}", srv.addr);
    let config = dir.path().join("health.toml");
    std::fs::write(&config, &tls).unwrap();
    let health = |config: &std::path::Path| {
        srv.command()
            .arg("health")
            .arg("--config")
            .arg(config)
            .args(["--endpoint", &endpoint])
            .output()
            .unwrap()
    };
    let out = health(&config);
    assert!(out.status.success(), "{out:?}");
    // Another certificate configured: the server is not the one it names.
    let (other, other_key) = self_signed(dir.path(), "other");
    std::fs::write(
        &config,
        format!(
            "[tls]\ncert = {:?}\nkey = {:?}\n",
            other.display().to_string(),
            other_key.display().to_string()
        ),
    )
    .unwrap();
    let out = health(&config);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
}
