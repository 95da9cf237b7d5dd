//! Connections cannot be held hostage: header-read, idle, body-stall, body-rate and TLS
//! handshake deadlines, the global and per-IP connection caps (503 SlowDown, `/health` still
//! answered), the 8 KiB header section, throttled failed authentication, and a management
//! body that is never read for a request that cannot authenticate.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::harness::{
    assert_err, blob_files, presigned_put_head, raw_request, read_response, Server,
};

const TIGHT: &str = "[limits]
api_requests_per_second = 0
header_read_timeout_secs = 1
idle_timeout_secs = 1.5
send_timeout_secs = 2
body_timeout_secs = 1
body_min_bytes_per_sec = 2000
";

/// Connects from `local_ip` (any 127/8 address is this machine) to the server.
async fn connect_from(srv: &Server, local_ip: &str) -> TcpStream {
    let addr: SocketAddr = srv.addr.parse().unwrap();
    let sock = TcpSocket::new_v4().unwrap();
    sock.bind(format!("{local_ip}:0").parse().unwrap()).unwrap();
    sock.connect(addr).await.unwrap()
}

/// Reads until the server closes the connection; returns what it sent and how long that
/// took. Fails if the server keeps the socket open for `limit`.
async fn read_until_closed(s: &mut TcpStream, limit: Duration) -> (Vec<u8>, Duration) {
    let start = Instant::now();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = limit.saturating_sub(start.elapsed());
        match tokio::time::timeout(left, s.read(&mut buf)).await {
            Err(_) => panic!(
                "the server held the connection open for {limit:?}; it sent {:?}",
                String::from_utf8_lossy(&out)
            ),
            Ok(Ok(0)) | Ok(Err(_)) => return (out, start.elapsed()),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
        }
    }
}

fn health_request(srv: &Server) -> String {
    format!("GET /health HTTP/1.1\r\nHost: {}\r\n\r\n", srv.addr)
}

#[tokio::test]
async fn silent_half_sent_and_idle_connections_are_closed() {
    let srv = Server::start_with_config(TIGHT);
    if srv.skip_external("needs the server's own deadlines") {
        return;
    }
    // Nothing at all.
    let mut s = connect_from(&srv, "127.0.0.1").await;
    let (got, took) = read_until_closed(&mut s, Duration::from_secs(10)).await;
    assert!(got.is_empty(), "{got:?}");
    assert!(took >= Duration::from_millis(900), "closed after {took:?}");

    // Half a request line, then silence: the header-read deadline.
    let mut s = connect_from(&srv, "127.0.0.1").await;
    s.write_all(b"GET /hea").await.unwrap();
    let (_, took) = read_until_closed(&mut s, Duration::from_secs(10)).await;
    assert!(took < Duration::from_secs(5), "{took:?}");

    // A head that trickles in a byte at a time never completes in time either.
    let mut s = connect_from(&srv, "127.0.0.1").await;
    let start = Instant::now();
    let mut closed = false;
    for b in b"GET /health HTTP/1.1\r\nHost: x\r\nX-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n" {
        if s.write_all(&[*b]).await.is_err() {
            closed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if !closed {
        let (got, _) = read_until_closed(&mut s, Duration::from_secs(10)).await;
        assert!(got.is_empty(), "{:?}", String::from_utf8_lossy(&got));
    }
    assert!(start.elapsed() < Duration::from_secs(8));

    // A kept-alive connection is closed once it idles.
    let mut s = connect_from(&srv, "127.0.0.1").await;
    s.write_all(health_request(&srv).as_bytes()).await.unwrap();
    let resp = read_response(&mut s).await;
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    s.write_all(health_request(&srv).as_bytes()).await.unwrap();
    let resp = read_response(&mut s).await;
    assert!(
        resp.starts_with("HTTP/1.1 200"),
        "still usable while busy: {resp}"
    );
    let (got, took) = read_until_closed(&mut s, Duration::from_secs(10)).await;
    assert!(got.is_empty());
    assert!(
        took >= Duration::from_millis(1400),
        "idle close after {took:?}"
    );
}

async fn assert_nothing_stored(srv: &Server, bucket: &str, key: &str) {
    let client = srv.client();
    assert_err(
        client.head_object().bucket(bucket).key(key).send().await,
        404,
        None,
    );
    // The staged blob is discarded once the request fails.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let n = blob_files(srv.data_dir()).unwrap_or(0);
        if n == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "{n} blob files left behind");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn stalled_and_trickling_uploads_are_dropped_and_leave_nothing() {
    let srv = Server::start_with_config(TIGHT);
    if srv.skip_external("needs the server's own deadlines") {
        return;
    }
    let bucket = srv.bucket(&srv.client(), "stall").await;

    // Stalled: a part of the body, then nothing.
    let mut s = connect_from(&srv, "127.0.0.1").await;
    let head = presigned_put_head(&srv, &bucket, "stalled", 1 << 20).await;
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(&[b'x'; 5000]).await.unwrap();
    let (got, took) = read_until_closed(&mut s, Duration::from_secs(15)).await;
    let text = String::from_utf8_lossy(&got);
    assert!(
        text.is_empty() || text.contains("RequestTimeout"),
        "stalled upload answered {text}"
    );
    assert!(took < Duration::from_secs(10), "{took:?}");
    assert_nothing_stored(&srv, &bucket, "stalled").await;

    // Trickling: a byte every 100 ms is far below 2000 B/s.
    let mut s = connect_from(&srv, "127.0.0.1").await;
    let head = presigned_put_head(&srv, &bucket, "trickle", 1 << 20).await;
    s.write_all(head.as_bytes()).await.unwrap();
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if s.write_all(b"y").await.is_err() {
            break;
        }
        let mut probe = [0u8; 1024];
        match tokio::time::timeout(Duration::from_millis(100), s.read(&mut probe)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => {
                let text = String::from_utf8_lossy(&probe[..n]).into_owned();
                assert!(text.contains("RequestTimeout"), "{text}");
                break;
            }
            Err(_) => {}
        }
    }
    assert!(
        start.elapsed() < Duration::from_secs(8),
        "a trickling body was allowed to go on for {:?}",
        start.elapsed()
    );
    assert_nothing_stored(&srv, &bucket, "trickle").await;

    // A body at a normal pace still goes through.
    let mut s = connect_from(&srv, "127.0.0.1").await;
    let head = presigned_put_head(&srv, &bucket, "fine", 300_000).await;
    s.write_all(head.as_bytes()).await.unwrap();
    for _ in 0..6 {
        s.write_all(&[b'z'; 50_000]).await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let resp = read_response(&mut s).await;
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
}

#[tokio::test]
async fn connection_caps_answer_503_and_keep_health() {
    let srv = Server::start_with_config(
        "[limits]\napi_requests_per_second = 0\nmax_connections = 6\nmax_connections_per_ip = 4\n",
    );
    if srv.skip_external("needs the server's own caps") {
        return;
    }
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(connect_from(&srv, "127.0.0.1").await);
    }
    // Let the server accept them all.
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Over the per-IP cap: answered fast, 503 SlowDown, and closed; /health still answers.
    let mut s = connect_from(&srv, "127.0.0.1").await;
    s.write_all(format!("GET /b/k HTTP/1.1\r\nHost: {}\r\n\r\n", srv.addr).as_bytes())
        .await
        .unwrap();
    let (got, took) = read_until_closed(&mut s, Duration::from_secs(5)).await;
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 503"), "{text}");
    assert!(text.contains("<Code>SlowDown</Code>"), "{text}");
    // Its ids, as on every response: the one in the body, and which gateway answered.
    let lower = text.to_ascii_lowercase();
    let id = lower
        .lines()
        .find_map(|l| l.strip_prefix("x-amz-request-id: "))
        .expect("x-amz-request-id on the 503")
        .trim()
        .to_ascii_uppercase();
    assert!(
        text.contains(&format!("<RequestId>{id}</RequestId>")),
        "{text}"
    );
    assert!(lower.contains("x-amz-id-2: "), "{text}");
    assert!(took < Duration::from_secs(2), "{took:?}");
    let mut s = connect_from(&srv, "127.0.0.1").await;
    s.write_all(health_request(&srv).as_bytes()).await.unwrap();
    let (got, _) = read_until_closed(&mut s, Duration::from_secs(5)).await;
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.contains("\"healthy\""), "{text}");

    // Another client IP is still served normally (kept alive, no SlowDown).
    let mut other = connect_from(&srv, "127.0.0.2").await;
    other
        .write_all(health_request(&srv).as_bytes())
        .await
        .unwrap();
    let resp = read_response(&mut other).await;
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    assert!(
        !resp.to_ascii_lowercase().contains("connection: close"),
        "{resp}"
    );

    // Over the global cap (4 + 2 held): every IP gets 503.
    let _sixth = connect_from(&srv, "127.0.0.2").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut s = connect_from(&srv, "127.0.0.3").await;
    s.write_all(format!("GET /b HTTP/1.1\r\nHost: {}\r\n\r\n", srv.addr).as_bytes())
        .await
        .unwrap();
    let (got, _) = read_until_closed(&mut s, Duration::from_secs(5)).await;
    assert!(String::from_utf8_lossy(&got).starts_with("HTTP/1.1 503"));

    // Slots come back when connections close.
    drop(held);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut s = connect_from(&srv, "127.0.0.1").await;
    s.write_all(health_request(&srv).as_bytes()).await.unwrap();
    let resp = read_response(&mut s).await;
    assert!(
        !resp.to_ascii_lowercase().contains("connection: close"),
        "{resp}"
    );
}

#[tokio::test]
async fn tls_handshake_has_a_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = crate::harness::self_signed(dir.path(), "cert");
    let srv = Server::start_with_config(&format!(
        "[tls]\ncert = {:?}\nkey = {:?}\n\n[limits]\napi_requests_per_second = 0\ntls_handshake_timeout_secs = 1\n",
        cert.display().to_string(),
        key.display().to_string()
    ));
    if srv.skip_external("needs TLS") {
        return;
    }
    let mut s = connect_from(&srv, "127.0.0.1").await;
    s.write_all(b"\x16\x03\x01").await.unwrap(); // the start of a ClientHello, then nothing
    let (_, took) = read_until_closed(&mut s, Duration::from_secs(10)).await;
    assert!(took < Duration::from_secs(5), "{took:?}");
}

#[tokio::test]
async fn header_section_over_8_kib_is_400() {
    let srv = Server::start();
    if srv.skip_external("checks cnx-storage's limit") {
        return;
    }
    let client = srv.client();
    let bucket = srv.bucket(&client, "hdr").await;
    let big = "a".repeat(9000);
    let e = client
        .put_object()
        .bucket(&bucket)
        .key("k")
        .content_type(format!("text/{big}"))
        .body(aws_sdk_s3::primitives::ByteStream::from_static(b"x"))
        .send()
        .await;
    assert_err(e, 400, Some("RequestHeaderSectionTooLarge"));
    assert_err(
        client.head_object().bucket(&bucket).key("k").send().await,
        404,
        None,
    );
    // Just under the limit is fine.
    client
        .put_object()
        .bucket(&bucket)
        .key("k")
        .content_type(format!("text/{}", "a".repeat(6000)))
        .body(aws_sdk_s3::primitives::ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();
    let url = format!("{}/storage/buckets", srv.endpoint());
    let r = raw_request("GET", &url, &[("x-pad", big.as_str())], "").await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("\"error\""), "{}", r.text());
}

#[tokio::test]
async fn failed_authentication_is_throttled_per_ip() {
    let srv = Server::start_with_config(
        "[limits]\napi_requests_per_second = 0\nauth_failures_per_second = 0.2\nauth_failure_burst = 3\n",
    );
    if srv.skip_external("checks cnx-storage's throttle") {
        return;
    }
    let bad = srv.client_with(&srv.access_key, "wrong-secret");
    for _ in 0..3 {
        assert_err(
            bad.list_buckets().send().await,
            403,
            Some("SignatureDoesNotMatch"),
        );
    }
    // Unsigned requests are the anonymous caller's, not failed authentications: a broken
    // signature is what stays throttled.
    let broken = [("authorization", "AWS4-HMAC-SHA256 Credential=x")];
    let r = raw_request("GET", &format!("{}/", srv.endpoint()), &broken, "").await;
    assert_eq!(r.status, 503, "{}", r.text());
    assert_eq!(r.error_code().as_deref(), Some("SlowDown"));
    assert!(r.header("retry-after").is_some());
    let url = format!("{}/storage/buckets", srv.endpoint());
    let r = raw_request("GET", &url, &[], "").await;
    assert_eq!(r.status, 429, "{}", r.text());
    // Good requests from the same address still go through.
    srv.client().list_buckets().send().await.unwrap();
    // Another address is not affected.
    let mut s = connect_from(&srv, "127.0.0.2").await;
    s.write_all(format!("GET / HTTP/1.1\r\nHost: {}\r\n\r\n", srv.addr).as_bytes())
        .await
        .unwrap();
    let resp = read_response(&mut s).await;
    assert!(resp.starts_with("HTTP/1.1 403"), "{resp}");
}

#[tokio::test]
async fn management_body_is_not_read_before_authentication() {
    let srv = Server::start();
    if srv.skip_external("management API") {
        return;
    }
    // An unknown key announcing 1 MiB and sending none of it is refused at once.
    let mut s = connect_from(&srv, "127.0.0.1").await;
    let head = format!(
        "POST /storage/buckets HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
         Content-Length: 1048576\r\nx-amz-date: 20260101T000000Z\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=NOSUCHKEY/20260101/in-mum/cloudnx/aws4_request, \
         SignedHeaders=host;x-amz-date, Signature=00\r\n\r\n",
        srv.addr
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
        .await
        .expect("answered without waiting for the body")
        .unwrap();
    let text = String::from_utf8_lossy(&buf[..n]);
    assert!(text.starts_with("HTTP/1.1 401"), "{text}");
}

#[tokio::test]
async fn a_response_read_a_little_at_a_time_is_cut_off() {
    let srv = Server::start_with_config(
        "[limits]\napi_requests_per_second = 0\nsend_timeout_secs = 3\nsend_min_bytes_per_sec = 2000000\n",
    );
    if srv.skip_external("needs the server's own deadlines") {
        return;
    }
    let client = srv.client();
    let bucket = srv.bucket(&client, "slowread").await;
    let len = 64usize << 20;
    client
        .put_object()
        .bucket(&bucket)
        .key("big")
        .body(aws_sdk_s3::primitives::ByteStream::from(vec![b'r'; len]))
        .send()
        .await
        .unwrap();
    let url = client
        .get_object()
        .bucket(&bucket)
        .key("big")
        .presigned(
            aws_sdk_s3::presigning::PresigningConfig::expires_in(Duration::from_secs(600)).unwrap(),
        )
        .await
        .unwrap();
    let uri: http::Uri = url.uri().parse().unwrap();
    let head = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\n\r\n",
        uri.path_and_query().unwrap(),
        srv.addr
    );

    // Steady, but far below the floor: 64 KiB every 100 ms. Each read keeps the response
    // moving, so only the rate floor can end it; at this pace it would take 100 s.
    let sock = TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(64 << 10).unwrap();
    let mut s = sock.connect(srv.addr.parse().unwrap()).await.unwrap();
    s.write_all(head.as_bytes()).await.unwrap();
    let start = Instant::now();
    let mut got = 0usize;
    let mut buf = vec![0u8; 64 << 10];
    let mut closed = false;
    while start.elapsed() < Duration::from_secs(30) {
        match tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                closed = true;
                break;
            }
            Ok(Ok(n)) => got += n,
            Err(_) => panic!("no bytes for 5 s after {got}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        closed,
        "a slow reader held the response for {:?}",
        start.elapsed()
    );
    assert!(got < len, "{got}");
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "cut after {:?}",
        start.elapsed()
    );

    // A client that reads at its own pace gets the whole object.
    let whole = crate::harness::get_bytes(&client, &bucket, "big").await;
    assert_eq!(whole.len(), len);
}
