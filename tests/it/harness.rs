//! Test harness: one `cnx-storage serve` process per test, on `127.0.0.1:0` with a fresh
//! data dir and random root credentials, plus the clients the tests drive it with.
//!
//! `CNX_TEST_ENDPOINT=http://HOST:PORT` points the whole suite at a server that is already
//! running (another S3 implementation such as moto, to check the tests' own expectations).
//! Tests that need the real process (restart, kill -9) or checks the reference server cannot
//! make are skipped or narrowed in that mode; see [`Server::is_external`].

use std::fmt::Debug;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::presigning::{PresignedRequest, PresigningConfig};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
use aws_sdk_s3::Client;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use md5::{Digest, Md5};
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The region the server is started with; every client signs for it.
pub const REGION: &str = "in-mum";

/// How long the server may take to print `listening on`.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the server may take to exit after SIGTERM before it is killed.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(20);

const UNLIMITED: &str = "[limits]\napi_requests_per_second = 0\n";

/// Where the server under test comes from.
enum Launch {
    /// Spawn this binary once per test.
    Binary(PathBuf),
    /// Use a server that is already running at this base URL.
    Endpoint(String),
}

/// The only place that decides which server the suite talks to.
fn launch() -> Launch {
    if let Ok(endpoint) = std::env::var("CNX_TEST_ENDPOINT") {
        if !endpoint.is_empty() {
            return Launch::Endpoint(endpoint.trim_end_matches('/').to_owned());
        }
    }
    Launch::Binary(PathBuf::from(env!("CARGO_BIN_EXE_cnx-storage")))
}

/// A server under test. Dropping it stops the process (SIGTERM, then wait).
pub struct Server {
    /// `None` when running against `CNX_TEST_ENDPOINT`.
    process: Option<Process>,
    /// `host:port` the server listens on.
    pub addr: String,
    pub access_key: String,
    pub secret_key: String,
}

/// What only a spawned server has.
struct Process {
    binary: PathBuf,
    /// `--config` file, kept for restarts.
    config: Option<PathBuf>,
    child: Child,
    /// Kept alive as long as the server; restarts reuse it.
    data_dir: TempDir,
    /// Where stderr goes, logging at debug level (else it is inherited, at warn).
    log: Option<PathBuf>,
}

impl Server {
    /// Starts a fresh server (or attaches to `CNX_TEST_ENDPOINT`).
    pub fn start() -> Server {
        Self::start_inner(None, None)
    }

    /// Starts a spawned server with this TOML as its `--config` file (never external).
    pub fn start_with_config(toml: &str) -> Server {
        Self::start_inner(Some(toml), None)
    }

    /// Starts a spawned server that logs at debug level into `log`.
    pub fn start_logged(log: &Path) -> Server {
        Self::start_inner(Some(UNLIMITED), Some(log.to_owned()))
    }

    /// Starts a spawned server with this TOML as its config, logging at debug level into `log`.
    pub fn start_logged_with_config(toml: &str, log: &Path) -> Server {
        Self::start_inner(Some(toml), Some(log.to_owned()))
    }

    /// Starts one of several gateways over the PostgreSQL index at `meta_url`, with the root
    /// credentials every gateway shares and `toml` as its config (the shared blob store and
    /// master key go there).
    pub fn start_gateway(meta_url: &str, toml: &str, root: (&str, &str)) -> Server {
        Self::start_full(
            Some(&format!("{toml}\n{UNLIMITED}")),
            None,
            Some((meta_url, root)),
        )
    }

    fn start_inner(config_toml: Option<&str>, log: Option<PathBuf>) -> Server {
        Self::start_full(config_toml, log, None)
    }

    fn start_full(
        config_toml: Option<&str>,
        log: Option<PathBuf>,
        shared: Option<(&str, (&str, &str))>,
    ) -> Server {
        // Tests fire management requests faster than the default 30/s; a test that exercises
        // the limit sets its own `[limits]`.
        let with_limits;
        let config_toml = match config_toml {
            Some(t) if t.contains("[limits]") => Some(t),
            Some(t) => {
                with_limits = format!("{t}\n{UNLIMITED}");
                Some(with_limits.as_str())
            }
            None if matches!(launch(), Launch::Binary(_)) => Some(UNLIMITED),
            None => None,
        };
        let launch = match (launch(), config_toml) {
            (Launch::Endpoint(_), Some(_)) => {
                Launch::Binary(PathBuf::from(env!("CARGO_BIN_EXE_cnx-storage")))
            }
            (l, _) => l,
        };
        match launch {
            Launch::Endpoint(endpoint) => {
                let addr = endpoint.trim_start_matches("http://").to_owned();
                let access_key =
                    std::env::var("CNX_TEST_ACCESS_KEY").unwrap_or_else(|_| "testing".into());
                let secret_key =
                    std::env::var("CNX_TEST_SECRET_KEY").unwrap_or_else(|_| "testing".into());
                Server {
                    process: None,
                    addr,
                    access_key,
                    secret_key,
                }
            }
            Launch::Binary(binary) => {
                let data_dir = tempfile::Builder::new()
                    .prefix("cnx-it-")
                    .tempdir()
                    .expect("create data dir");
                let (access_key, secret_key) = match shared {
                    Some((url, (ak, sk))) => {
                        // Read by `meta_url` at every (re)start.
                        std::fs::write(data_dir.path().join("it-meta-url"), url)
                            .expect("keep the meta URL");
                        (ak.to_owned(), sk.to_owned())
                    }
                    None => (
                        format!("AKIT{}", random_hex(8).to_uppercase()),
                        random_hex(20),
                    ),
                };
                let config = config_toml.map(|t| {
                    let p = data_dir.path().join("it-config.toml");
                    std::fs::write(&p, t).expect("write config");
                    p
                });
                let (child, addr) = spawn(
                    &binary,
                    data_dir.path(),
                    &access_key,
                    &secret_key,
                    config.as_deref(),
                    log.as_deref(),
                );
                Server {
                    process: Some(Process {
                        binary,
                        config,
                        child,
                        data_dir,
                        log,
                    }),
                    addr,
                    access_key,
                    secret_key,
                }
            }
        }
    }

    /// The URL of the server's PostgreSQL index (`CNX_TEST_META=postgres`), else `None`.
    pub fn meta_url(&self) -> Option<String> {
        let p = self.process.as_ref()?;
        std::fs::read_to_string(p.data_dir.path().join("it-meta-url")).ok()
    }

    /// Every value the server's PostgreSQL index holds, bytes as stored (see
    /// `meta::pg::testing::dump`); `None` with a RocksDB index, which is files in the data dir.
    pub fn index_dump(&self) -> Option<Vec<u8>> {
        self.meta_url()
            .map(|url| cnx_storage::meta::pg::testing::dump(&url))
    }

    /// `cnx-storage` for a command on this server's data dir and index (the caller adds the
    /// subcommand, `--data-dir` and credentials).
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_cnx-storage"));
        cmd.env_remove("CNX_CONFIG").env_remove("CNX_META_URL");
        if let Some(url) = self.meta_url() {
            cmd.env("CNX_META_URL", url);
        }
        cmd
    }

    /// True when the suite runs against `CNX_TEST_ENDPOINT` rather than a spawned cnx-storage.
    pub fn is_external(&self) -> bool {
        self.process.is_none()
    }

    /// For tests that only make sense against cnx-storage itself: prints why and returns
    /// true when they should be skipped.
    pub fn skip_external(&self, why: &str) -> bool {
        if self.is_external() {
            eprintln!("skipped against CNX_TEST_ENDPOINT: {why}");
        }
        self.is_external()
    }

    /// The spawned server's process id.
    pub fn pid(&self) -> Option<u32> {
        self.process.as_ref().map(|p| p.child.id())
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Directory holding the server's data (spawned servers only).
    pub fn data_dir(&self) -> &Path {
        self.process
            .as_ref()
            .expect("no data dir for an external server")
            .data_dir
            .path()
    }

    /// An S3 client with the root credentials.
    pub fn client(&self) -> Client {
        self.client_with(&self.access_key, &self.secret_key)
    }

    /// An S3 client with the given credentials.
    pub fn client_with(&self, access_key: &str, secret_key: &str) -> Client {
        self.client_in_region(access_key, secret_key, REGION)
    }

    /// An S3 client signing for `region` (to test region mismatches).
    pub fn client_in_region(&self, access_key: &str, secret_key: &str, region: &str) -> Client {
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(region.to_owned()))
            .endpoint_url(self.endpoint())
            .credentials_provider(Credentials::new(
                access_key, secret_key, None, None, "cnx-it",
            ))
            .force_path_style(true)
            // A retried request would hide the first failure from the test.
            .retry_config(RetryConfig::disabled())
            .timeout_config(
                TimeoutConfig::builder()
                    .operation_timeout(Duration::from_secs(120))
                    .build(),
            )
            .build();
        Client::from_conf(config)
    }

    /// Sends SIGTERM and returns at once (to observe a graceful shutdown).
    pub fn sigterm(&self) {
        let process = self.process.as_ref().expect("needs a spawned server");
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(process.child.id().to_string())
            .status();
    }

    /// Waits for the spawned server to exit, at most `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let process = self.process.as_mut().expect("needs a spawned server");
        let deadline = Instant::now() + timeout;
        loop {
            match process.child.try_wait() {
                Ok(Some(status)) => return Some(status),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                _ => return None,
            }
        }
    }

    /// Stops the server with SIGTERM, waits, and starts it again on the same data dir.
    pub fn restart(&mut self) {
        self.stop_process(false);
        self.respawn();
    }

    /// Kills the server with SIGKILL, mid-whatever it was doing, and leaves it dead.
    pub fn kill9(&mut self) {
        self.stop_process(true);
    }

    /// Kills the server with SIGKILL (no chance to flush) and starts it again.
    pub fn kill9_and_restart(&mut self) {
        self.stop_process(true);
        self.respawn();
    }

    /// A bucket name no other test (or earlier run against an external server) uses.
    pub fn unique_bucket(&self, prefix: &str) -> String {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let mut name = format!("{prefix}-{n}-{}", random_hex(4));
        name.truncate(63);
        name.to_lowercase()
    }

    /// Creates a uniquely named bucket (with location constraint = the server's region) and
    /// returns its name.
    pub async fn bucket(&self, client: &Client, prefix: &str) -> String {
        let name = self.unique_bucket(prefix);
        client
            .create_bucket()
            .bucket(&name)
            .create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(REGION))
                    .build(),
            )
            .send()
            .await
            .unwrap_or_else(|e| panic!("create bucket {name}: {e:?}"));
        name
    }

    fn stop_process(&mut self, kill9: bool) {
        let process = self
            .process
            .as_mut()
            .expect("restart needs a spawned server");
        if kill9 {
            process.child.kill().expect("SIGKILL server");
            process.child.wait().expect("wait for killed server");
        } else {
            terminate(&mut process.child);
        }
    }

    fn respawn(&mut self) {
        let process = self
            .process
            .as_mut()
            .expect("restart needs a spawned server");
        let (child, addr) = spawn(
            &process.binary,
            process.data_dir.path(),
            &self.access_key,
            &self.secret_key,
            process.config.as_deref(),
            process.log.as_deref(),
        );
        process.child = child;
        self.addr = addr;
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(process) = self.process.as_mut() {
            if matches!(process.child.try_wait(), Ok(None)) {
                terminate(&mut process.child);
            }
        }
    }
}

/// With `CNX_TEST_META=postgres` each server keeps its index in a database of its own on a
/// private PostgreSQL (the same one across restarts); otherwise in RocksDB in its data dir,
/// unless it is a gateway over a shared one ([`Server::start_gateway`]).
fn meta_url(data_dir: &Path) -> Option<String> {
    let kept = data_dir.join("it-meta-url");
    if let Ok(url) = std::fs::read_to_string(&kept) {
        return Some(url);
    }
    if std::env::var("CNX_TEST_META").ok()? != "postgres" {
        return None;
    }
    let url = cnx_storage::meta::pg::testing::fresh_database();
    std::fs::write(&kept, &url).expect("keep the meta URL");
    Some(url)
}

/// Spawns `serve` and waits for its `listening on ADDR` line; returns the child and ADDR.
fn spawn(
    binary: &Path,
    data_dir: &Path,
    access_key: &str,
    secret_key: &str,
    config: Option<&Path>,
    log: Option<&Path>,
) -> (Child, String) {
    let mut cmd = Command::new(binary);
    cmd.arg("serve");
    if let Some(c) = config {
        cmd.arg("--config").arg(c);
    }
    cmd.env_remove("CNX_META_URL");
    if let Some(url) = meta_url(data_dir) {
        cmd.env("CNX_META_URL", url);
    }
    let mut child = cmd
        .arg("--listen")
        .arg("127.0.0.1:0")
        .arg("--data-dir")
        .arg(data_dir)
        .env("CNX_ROOT_ACCESS_KEY", access_key)
        .env("CNX_ROOT_SECRET_KEY", secret_key)
        .env("CNX_REGION", REGION)
        .env("RUST_LOG", if log.is_some() { "debug" } else { "warn" })
        .env_remove("CNX_CONFIG")
        .env_remove("CNX_LISTEN")
        .env_remove("CNX_DATA_DIR")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(match log {
            Some(p) => Stdio::from(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)
                    .expect("open log file"),
            ),
            None => Stdio::inherit(),
        })
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {}: {e}", binary.display()));

    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel::<String>();
    // Reads until the readiness line, then keeps draining so the server never blocks on a
    // full pipe.
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        let mut announced = false;
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            if !announced {
                if let Some(at) = line.find("listening on ") {
                    let rest = &line[at + "listening on ".len()..];
                    let addr = rest
                        .split_whitespace()
                        .next()
                        .unwrap_or("")
                        .trim_start_matches("http://");
                    announced = tx.send(addr.to_owned()).is_ok();
                }
            }
            if announced {
                let _ = std::io::copy(&mut reader, &mut std::io::sink());
                return;
            }
        }
    });

    match rx.recv_timeout(STARTUP_TIMEOUT) {
        Ok(addr) => (child, addr),
        Err(e) => {
            let _ = child.kill();
            let status = child.wait();
            panic!("server did not print `listening on ADDR` ({e:?}); exit status {status:?}");
        }
    }
}

/// SIGTERM, then wait up to [`SHUTDOWN_TIMEOUT`] before SIGKILL.
fn terminate(child: &mut Child) {
    // `std` only sends SIGKILL; the graceful path needs `kill(1)` (unsafe code is forbidden).
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let deadline = Instant::now() + SHUTDOWN_TIMEOUT;
    loop {
        match child.try_wait() {
            Ok(Some(_)) | Err(_) => return,
            Ok(None) if Instant::now() >= deadline => {
                eprintln!("server ignored SIGTERM for {SHUTDOWN_TIMEOUT:?}; killing it");
                let _ = child.kill();
                let _ = child.wait();
                return;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// `n` random bytes as lowercase hex.
/// A self-signed certificate and key for `localhost`, made by openssl.
pub fn self_signed(dir: &std::path::Path, name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let (cert, key) = (
        dir.join(format!("{name}.pem")),
        dir.join(format!("{name}.key")),
    );
    let ok = std::process::Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args(["-subj", "/CN=localhost", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("run openssl")
        .status
        .success();
    assert!(ok, "openssl could not make a certificate");
    (cert, key)
}

pub fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .expect("read /dev/urandom");
    hex::encode(bytes)
}

// ---- data helpers ----

/// Deterministic pseudo-random bytes (xorshift), so large bodies are not all one value.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// The ETag S3 gives a single-part object: the quoted hex MD5 of its body.
pub fn etag_of(data: &[u8]) -> String {
    format!("\"{}\"", hex::encode(Md5::digest(data)))
}

/// Percent-encodes everything but RFC 3986 unreserved characters and `/`
/// (the form `x-amz-copy-source` wants).
pub fn url_encode_path(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes `%XX` and `+` (form encoding), for `encoding-type=url` listings.
pub fn url_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).expect("ascii");
                out.push(
                    u8::from_str_radix(hex, 16).unwrap_or_else(|_| panic!("bad escape in {s:?}")),
                );
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).expect("utf-8 after decoding")
}

// ---- SDK helpers ----

/// Puts `data` under `key` (in-memory body) and panics on failure.
pub async fn put(
    client: &Client,
    bucket: &str,
    key: &str,
    data: &[u8],
) -> aws_sdk_s3::operation::put_object::PutObjectOutput {
    client
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(data.to_vec()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("put {bucket}/{key}: {e:?}"))
}

/// Waits until `bucket` holds no object, for `within` at most (then panics with `what`).
pub async fn wait_until_empty(client: &Client, bucket: &str, within: Duration, what: &str) {
    let deadline = Instant::now() + within;
    loop {
        let n = client
            .list_objects_v2()
            .bucket(bucket)
            .send()
            .await
            .expect("list")
            .key_count()
            .unwrap_or(0);
        if n == 0 {
            return;
        }
        assert!(Instant::now() < deadline, "{n} {what} left in {bucket}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Uploads `data` as a multipart object of `part_size` parts, part `n` (from 1) through
/// `client_of(n)`, completed through `client_of(0)`.
pub async fn upload_in_parts<'a>(
    client_of: impl Fn(usize) -> &'a Client,
    bucket: &str,
    key: &str,
    data: &[u8],
    part_size: usize,
) {
    use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
    let up = client_of(0)
        .create_multipart_upload()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .expect("create multipart upload");
    let id = up.upload_id().expect("upload id");
    let mut parts = Vec::new();
    for (i, chunk) in data.chunks(part_size).enumerate() {
        let n = i + 1;
        let out = client_of(n)
            .upload_part()
            .bucket(bucket)
            .key(key)
            .upload_id(id)
            .part_number(n as i32)
            .body(ByteStream::from(chunk.to_vec()))
            .send()
            .await
            .expect("upload part");
        parts.push(
            CompletedPart::builder()
                .part_number(n as i32)
                .set_e_tag(out.e_tag().map(str::to_owned))
                .build(),
        );
    }
    client_of(0)
        .complete_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await
        .expect("complete multipart upload");
}

/// Gets `key` and returns its body, panicking on failure.
pub async fn get_bytes(client: &Client, bucket: &str, key: &str) -> Vec<u8> {
    let out = client
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("get {bucket}/{key}: {e:?}"));
    out.body
        .collect()
        .await
        .expect("read body")
        .into_bytes()
        .to_vec()
}

/// Puts many small objects (body = key), a few dozen requests in flight at a time.
pub async fn put_many(client: &Client, bucket: &str, keys: &[String]) {
    for chunk in keys.chunks(32) {
        let mut tasks = tokio::task::JoinSet::new();
        for key in chunk {
            let (client, bucket, key) = (client.clone(), bucket.to_owned(), key.clone());
            tasks.spawn(async move { put(&client, &bucket, &key, key.as_bytes()).await });
        }
        while let Some(done) = tasks.join_next().await {
            done.expect("put task");
        }
    }
}

/// What a failed SDK call left for the test to look at.
#[derive(Debug)]
pub struct ErrInfo {
    pub status: u16,
    pub code: Option<String>,
    pub message: Option<String>,
    pub request_id: Option<String>,
    pub body: Vec<u8>,
}

/// Unwraps the error of a call that must have failed with an HTTP response.
#[track_caller]
pub fn err_info<T: Debug, E: ProvideErrorMetadata + Debug>(
    result: Result<T, SdkError<E, HttpResponse>>,
) -> ErrInfo {
    let err = match result {
        Ok(v) => panic!("expected an error response, got success: {v:?}"),
        Err(e) => e,
    };
    let Some(raw) = err.raw_response() else {
        panic!("expected an error response from the server, got {err:?}");
    };
    ErrInfo {
        status: raw.status().as_u16(),
        code: err.code().map(str::to_owned),
        message: err.message().map(str::to_owned),
        request_id: raw.headers().get("x-amz-request-id").map(str::to_owned),
        body: raw.body().bytes().map(<[u8]>::to_vec).unwrap_or_default(),
    }
}

/// Asserts a call failed with `status` and (when given) the S3 error `code`.
#[track_caller]
pub fn assert_err<T: Debug, E: ProvideErrorMetadata + Debug>(
    result: Result<T, SdkError<E, HttpResponse>>,
    status: u16,
    code: Option<&str>,
) -> ErrInfo {
    let info = err_info(result);
    assert_eq!(info.status, status, "status of {info:?}");
    if let Some(code) = code {
        assert_eq!(
            info.code.as_deref(),
            Some(code),
            "code of {info:?} (body {})",
            String::from_utf8_lossy(&info.body)
        );
    }
    info
}

// ---- raw HTTP ----

/// A response read by the raw client.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// `<Code>` of an S3 XML error body.
    pub fn error_code(&self) -> Option<String> {
        xml_tag(&self.text(), "Code")
    }
}

/// The text of the first `<tag>…</tag>` in `xml`.
pub fn xml_tag(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&close)? + start;
    Some(xml[start..end].to_owned())
}

/// Sends one request over a fresh HTTP/1.1 connection; `url` is absolute (`http://host:port/…`).
pub async fn raw_request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> RawResponse {
    let uri: http::Uri = url.parse().unwrap_or_else(|e| panic!("bad url {url}: {e}"));
    let authority = uri.authority().expect("absolute url").as_str().to_owned();
    let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();

    let stream = tokio::net::TcpStream::connect(&authority)
        .await
        .unwrap_or_else(|e| panic!("connect {authority}: {e}"));
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .expect("http handshake");
    tokio::spawn(connection);

    let mut request = http::Request::builder().method(method).uri(path);
    let mut has_host = false;
    for (name, value) in headers {
        has_host |= name.eq_ignore_ascii_case("host");
        request = request.header(*name, *value);
    }
    if !has_host {
        request = request.header("host", &authority);
    }
    let request = request.body(Full::new(body.into())).expect("build request");
    let response = sender
        .send_request(request)
        .await
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let (parts, body) = response.into_parts();
    let body = body.collect().await.expect("read response body").to_bytes();
    RawResponse {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body,
    }
}

/// Reads one response head (and the `Content-Length` body that follows) off a kept-alive
/// connection.
pub async fn read_response(s: &mut tokio::net::TcpStream) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf))
            .await
            .expect("response in time")
            .unwrap();
        assert!(
            n > 0,
            "closed before a response: {:?}",
            String::from_utf8_lossy(&out)
        );
        out.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&out).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let len = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap())
                })
                .unwrap_or(0);
            if out.len() >= end + 4 + len {
                return text;
            }
        }
    }
}

/// A presigned PUT's request head, announcing `len` body bytes.
pub async fn presigned_put_head(srv: &Server, bucket: &str, key: &str, len: usize) -> String {
    presigned_put_head_with(srv, bucket, key, len, None).await
}

/// `presigned_put_head` with a signed `If-None-Match` header.
pub async fn presigned_put_head_with(
    srv: &Server,
    bucket: &str,
    key: &str,
    len: usize,
    if_none_match: Option<&str>,
) -> String {
    let client = srv.client();
    let req = client
        .put_object()
        .bucket(bucket)
        .key(key)
        .set_if_none_match(if_none_match.map(str::to_owned))
        .presigned(PresigningConfig::expires_in(Duration::from_secs(600)).unwrap())
        .await
        .unwrap();
    let uri: http::Uri = req.uri().parse().unwrap();
    let mut head = format!(
        "PUT {} HTTP/1.1\r\nHost: {}\r\nContent-Length: {len}\r\n",
        uri.path_and_query().unwrap(),
        uri.authority().unwrap()
    );
    for (k, v) in req.headers() {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    head
}

/// Sends a request signed (SigV4, in headers) with the server's root credentials: service
/// `cloudnx` under `/storage/`, else `s3` with the body's SHA-256 as payload hash.
pub async fn root_request(
    srv: &Server,
    method: &str,
    path_and_query: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> RawResponse {
    use sha2::Digest as _;
    let body: Bytes = body.into();
    let url = format!("{}{path_and_query}", srv.endpoint());
    let service = if path_and_query.starts_with("/storage/") {
        "cloudnx"
    } else {
        "s3"
    };
    let sha = hex::encode(sha2::Sha256::digest(&body));
    let mut all: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    all.push(("host".into(), srv.addr.clone()));
    if service == "s3" {
        all.push(("x-amz-content-sha256".into(), sha));
    }
    let borrowed: Vec<(&str, &str)> = all.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let signed = cnx_storage::access::signer::sign_headers(
        &cnx_storage::access::signer::Signing {
            access_key: &srv.access_key,
            secret: &srv.secret_key,
            region: REGION,
            service,
            time: std::time::SystemTime::now(),
        },
        method,
        &url,
        &borrowed,
        &body,
    )
    .unwrap_or_else(|e| panic!("cannot sign {method} {url}: {e}"));
    all.extend(signed);
    let borrowed: Vec<(&str, &str)> = all.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    raw_request(method, &url, &borrowed, body).await
}

/// Sends a presigned request (its method, URL and headers) with `body`.
pub async fn raw_presigned(
    presigned: &PresignedRequest,
    extra_headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> RawResponse {
    let mut headers: Vec<(&str, &str)> = presigned.headers().collect();
    headers.extend_from_slice(extra_headers);
    raw_request(presigned.method(), presigned.uri(), &headers, body).await
}

/// Sends a bodiless request over raw TCP with `Connection: close` and returns the status
/// line, the header block and every byte the server sent after it. For HEAD, HTTP clients
/// never read a body, so this is the only way to see one the server should not have sent.
pub async fn raw_tcp(method: &str, url: &str) -> (String, String, Vec<u8>) {
    let uri: http::Uri = url.parse().unwrap_or_else(|e| panic!("bad url {url}: {e}"));
    let authority = uri.authority().expect("absolute url").as_str().to_owned();
    let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
    let mut stream = tokio::net::TcpStream::connect(&authority)
        .await
        .expect("connect");
    let request =
        format!("{method} {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .expect("write request");
    let mut received = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut received))
        .await
        .expect("server did not close the connection")
        .expect("read response");
    let split = received
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of headers");
    let head = String::from_utf8_lossy(&received[..split]).into_owned();
    let (status_line, headers) = head.split_once("\r\n").unwrap_or((head.as_str(), ""));
    (
        status_line.to_owned(),
        headers.to_owned(),
        received[split + 4..].to_vec(),
    )
}

/// Regular files under `DIR/blobs` (the blob store's layout per PRODUCT.md), or `None`.
pub fn blob_files(data_dir: &Path) -> Option<usize> {
    fn walk(dir: &Path, count: &mut usize) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            match entry.file_type() {
                Ok(t) if t.is_dir() => walk(&entry.path(), count),
                Ok(t) if t.is_file() => *count += 1,
                _ => {}
            }
        }
    }
    let blobs = data_dir.join("blobs");
    if !blobs.is_dir() {
        return None;
    }
    let mut count = 0;
    walk(&blobs, &mut count);
    Some(count)
}

/// Turns versioning on for `bucket`.
pub async fn enable_versioning(client: &Client, bucket: &str) {
    use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
    client
        .put_bucket_versioning()
        .bucket(bucket)
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("enable versioning on {bucket}: {e:?}"));
}
