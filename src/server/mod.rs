//! The HTTP server: bind, print `listening on ADDR`, accept (optionally TLS), serve each
//! connection with hyper, give every request an id, a log line and a panic guard, and drain
//! in-flight requests on SIGINT/SIGTERM. No S3 or JSON semantics live here.

pub mod conn;
mod console;
mod metrics;
mod record;
pub mod router;

use std::io::Write as _;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::FutureExt;
use http::{HeaderValue, StatusCode};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

use self::conn::{Activity, Admission, Admit, Busy, Deadlines, SendPace, Watched};
use self::record::RequestLog;
use self::router::Route;
use crate::access::jwt::JwtVerifier;
use crate::access::ratelimit::RateLimiter;
use crate::access::seal::Sealer;
use crate::access::KeyRing;
use crate::config::Config;
use crate::credentials::RootCredentials;
use crate::s3::error::{S3Code, S3Error};
use crate::store::Store;
use crate::web::body::{self, BodyDeadlines, RequestBody, Response};
use crate::web::metrics::{Flow, Metrics, Surface};
use crate::web::{AppState, ClientAddr, Handled};

/// S3's limit on a request's header section.
pub const MAX_HEADER_SECTION: usize = 8 << 10;
/// The most an HTTP/1 connection buffers from its socket (hyper's default is ~400 KiB). A
/// read buffer above the allocator's fixed mmap threshold (256 KiB, see main.rs) is a fresh
/// mapping each time it is replaced, every page faulted in and zeroed during the `recv`.
const READ_BUF_MAX: usize = 128 << 10;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("TLS: {0}")]
    Tls(String),
    #[error(transparent)]
    Store(#[from] crate::error::Error),
    #[error("JWT configuration: {0}")]
    Jwt(String),
}

#[cfg(feature = "rocksdb")]
pub async fn run(cfg: Config) -> Result<(), ServerError> {
    use tokio::signal::unix::{signal, SignalKind};
    // Registered before start-up, which can take a while (opening the index, migrating it):
    // as a container's PID 1 a signal without a handler is ignored, so a stop asked for
    // meanwhile would be lost. One that arrives then is acted on once serving begins.
    let mut term = signal(SignalKind::terminate()).ok();
    let mut int = signal(SignalKind::interrupt()).ok();
    let shutdown = async move {
        tokio::select! {
            _ = next_signal(term.as_mut()) => {}
            _ = next_signal(int.as_mut()) => {}
        }
    };
    run_until(cfg, shutdown).await
}

#[cfg(feature = "rocksdb")]
async fn next_signal(s: Option<&mut tokio::signal::unix::Signal>) {
    match s {
        Some(s) => {
            s.recv().await;
        }
        None => std::future::pending().await,
    }
}

#[cfg(feature = "rocksdb")]
pub async fn run_until(
    cfg: Config,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), ServerError> {
    let tls = match &cfg.tls {
        Some(t) => Some(tls_acceptor(t)?),
        None => None,
    };
    let (listen, grace, limits) = (cfg.listen, cfg.shutdown_grace, cfg.limits);
    // A stop asked for during start-up (a long index open or migration) ends it there.
    let shutdown = futures::FutureExt::shared(Box::pin(shutdown));
    let state = tokio::select! {
        state = build_state(cfg) => state?,
        _ = shutdown.clone() => {
            tracing::info!("stopped during start-up");
            return Ok(());
        }
    };
    let bind_err = |source| ServerError::Bind {
        addr: listen,
        source,
    };
    let listener = TcpListener::bind(listen).await.map_err(bind_err)?;
    let addr = listener.local_addr().map_err(bind_err)?;
    let (gateway, host) = gateway_id(addr);
    let _ = state.node.set(gateway.clone());
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "listening on {addr}");
        let _ = out.flush();
    }
    tracing::info!(%addr, tls = tls.is_some(), %gateway, %host, "serving");
    let access_log = state.access_log.clone();
    let conns = Arc::new(Conns::new(state, &limits, tls));
    let graceful = GracefulShutdown::new();
    accept_until(listener, &conns, &graceful, shutdown).await;
    tracing::info!("shutting down: draining in-flight requests");
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("in-flight requests did not finish within the grace period");
    }
    access_log.shutdown().await;
    Ok(())
}

/// Opens the store and loads the keys, secrets and verifiers every request needs; starts
/// the background scrubber and the lifecycle worker.
#[cfg(feature = "rocksdb")]
async fn build_state(cfg: Config) -> Result<Arc<AppState>, ServerError> {
    let store = Store::open(&cfg).await?;
    let root = RootCredentials::load_or_create(&cfg)?;
    let sealer = Sealer::load_or_create(&cfg, store.meta().as_ref())?;
    let jwt = JwtVerifier::load(&cfg.jwt).map_err(ServerError::Jwt)?;
    let kms = Arc::new(crate::access::kms::Kms::new(
        &cfg.encryption,
        store.meta(),
        sealer.clone(),
    )?);
    let keys = Arc::new(KeyRing::new(root, store.meta(), sealer));
    let scrub = Arc::new(crate::scrub::ScrubStatus::default());
    crate::scrub::start(
        store.meta(),
        store.blobs().clone(),
        cfg.data_dir.clone(),
        cfg.scrub.clone(),
        scrub.clone(),
    );
    let lifecycle = Arc::new(crate::lifecycle::LifecycleStatus::default());
    crate::lifecycle::start(
        store.clone(),
        cfg.data_dir.clone(),
        cfg.lifecycle,
        lifecycle.clone(),
    );
    let access_log =
        crate::accesslog::AccessLog::start(store.clone(), kms.clone(), cfg.access_log).await?;
    let l = cfg.limits;
    Ok(Arc::new(AppState {
        store,
        keys,
        kms,
        jwt,
        api_limit: RateLimiter::new(l.api_requests_per_second, l.api_burst),
        s3_limit: RateLimiter::new(l.s3_requests_per_second, l.s3_burst),
        auth_failures: RateLimiter::new(l.auth_failures_per_second, l.auth_failure_burst),
        started: Instant::now(),
        scrub,
        lifecycle,
        access_log,
        metrics: Metrics::new(match cfg.meta {
            crate::config::MetaBackend::Rocksdb => "rocksdb",
            crate::config::MetaBackend::Postgres { .. } => "postgres",
        }),
        node: std::sync::OnceLock::new(),
        cfg,
    }))
}

/// Accepts connections until `shutdown`, each served on a task of its own.
async fn accept_until(
    listener: TcpListener,
    conns: &Arc<Conns>,
    graceful: &GracefulShutdown,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let mut backoff = Duration::from_millis(5);
    loop {
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => break,
            r = listener.accept() => match r {
                Ok(x) => { backoff = Duration::from_millis(5); x }
                Err(e) => {
                    // EMFILE and friends are transient: back off, never stop serving.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                    continue;
                }
            },
        };
        let admit = conns.admission.admit(peer.ip());
        if matches!(admit, Admit::Refuse) {
            tracing::debug!(%peer, "connection refused: far over the connection caps");
            continue;
        }
        // Without it, small responses wait ~40 ms on peers' delayed ACKs.
        let _ = stream.set_nodelay(true);
        tokio::spawn(conns.clone().serve(stream, peer, admit, graceful.watcher()));
    }
}

/// What every connection task shares.
struct Conns {
    state: Arc<AppState>,
    admission: Arc<Admission>,
    deadlines: Deadlines,
    body: BodyDeadlines,
    builder: auto::Builder<TokioExecutor>,
    /// For connections over a cap: one answer, no keep-alive.
    overflow_builder: auto::Builder<TokioExecutor>,
    tls: Option<tokio_rustls::TlsAcceptor>,
}

impl Conns {
    fn new(
        state: Arc<AppState>,
        limits: &crate::config::Limits,
        tls: Option<tokio_rustls::TlsAcceptor>,
    ) -> Self {
        let mut builder = auto::Builder::new(TokioExecutor::new());
        // Our watchdog owns the header-read and idle deadlines (for HTTP/2 too).
        builder
            .http1()
            .header_read_timeout(None)
            .max_buf_size(READ_BUF_MAX);
        let mut overflow_builder = auto::Builder::new(TokioExecutor::new());
        overflow_builder
            .http1()
            .header_read_timeout(None)
            .keep_alive(false);
        Self {
            state,
            admission: Admission::new(limits),
            deadlines: Deadlines::from_limits(limits),
            body: BodyDeadlines {
                stall: Duration::try_from_secs_f64(limits.body_timeout_secs.max(0.001))
                    .unwrap_or(Duration::from_secs(3600)),
                min_bytes_per_sec: limits.body_min_bytes_per_sec,
            },
            builder,
            overflow_builder,
            tls,
        }
    }

    async fn serve(
        self: Arc<Self>,
        stream: tokio::net::TcpStream,
        peer: SocketAddr,
        admit: Admit,
        watcher: hyper_util::server::graceful::Watcher,
    ) {
        let (_slot, overflow) = match admit {
            Admit::Serve(s) => (s, false),
            Admit::Overflow(s) => (s, true),
            Admit::Refuse => return,
        };
        let deadlines = if overflow {
            self.deadlines.overflow()
        } else {
            self.deadlines
        };
        let _open = self.state.metrics.connection();
        let activity = Activity::new();
        let io = Watched::new(stream, activity.clone());
        let svc = {
            let conns = self.clone();
            let activity = activity.clone();
            service_fn(move |req: http::Request<Incoming>| {
                let busy = activity.handling();
                let conns = conns.clone();
                let activity = activity.clone();
                async move {
                    let metrics = &conns.state.metrics;
                    let (resp, log) = if overflow {
                        over_capacity(&conns.state, &req)
                    } else {
                        let inflow = metrics.inflow();
                        let mut req = req.map(|b| RequestBody::new(b, conns.body, inflow.clone()));
                        req.extensions_mut().insert(ClientAddr(peer));
                        handle(conns.state.clone(), req, inflow).await
                    };
                    Ok::<_, std::convert::Infallible>(sending(
                        resp,
                        Outgoing {
                            busy: activity.responding(),
                            pace: SendPace::new(&deadlines),
                            flow: metrics.outflow(),
                            log,
                            ended: false,
                            length: None,
                        },
                        busy,
                    ))
                }
            })
        };
        let builder = if overflow {
            &self.overflow_builder
        } else {
            &self.builder
        };
        let result = match &self.tls {
            Some(acceptor) => {
                let handshake =
                    tokio::time::timeout(deadlines.tls_handshake, acceptor.accept(io)).await;
                let tls_stream = match handshake {
                    Ok(Ok(s)) => s,
                    Ok(Err(e)) => {
                        tracing::debug!(%peer, error = %e, "TLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(%peer, "TLS handshake timed out");
                        return;
                    }
                };
                activity.reset();
                if tls_stream.get_ref().1.alpn_protocol() == Some(b"h2") {
                    activity.set_h2();
                }
                let conn = builder
                    .serve_connection(TokioIo::new(tls_stream), svc)
                    .into_owned();
                watchdog(watcher.watch(conn), &activity, &deadlines).await
            }
            None => {
                let conn = builder.serve_connection(TokioIo::new(io), svc).into_owned();
                watchdog(watcher.watch(conn), &activity, &deadlines).await
            }
        };
        if let Err(e) = result {
            tracing::debug!(%peer, error = %e, "connection ended with an error");
        }
    }
}

/// Runs a connection until it ends or its watchdog finds a deadline passed (then the
/// connection is dropped, which closes the socket).
async fn watchdog<E>(
    conn: impl std::future::Future<Output = Result<(), E>>,
    activity: &Activity,
    deadlines: &Deadlines,
) -> Result<(), E> {
    tokio::pin!(conn);
    let mut tick = tokio::time::interval(deadlines.tick());
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            r = &mut conn => return r,
            _ = tick.tick() => {
                if let Some(why) = activity.expired(deadlines) {
                    tracing::debug!(?why, "closing connection: deadline passed");
                    return Ok(());
                }
            }
        }
    }
}

/// The response body, counted as being sent until it ends or is dropped; then its request's
/// log line is written.
struct Sending {
    inner: body::Body,
    out: Outgoing,
}

/// What is tracked while a response body is sent.
struct Outgoing {
    busy: Busy,
    pace: SendPace,
    flow: Flow,
    log: Option<RequestLog>,
    ended: bool,
    /// The body's announced length: hyper stops asking once it is sent, so the end may
    /// never be polled.
    length: Option<u64>,
}

impl http_body::Body for Sending {
    type Data = bytes::Bytes;
    type Error = body::BoxError;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        if let Err(e) = self.out.pace.asked() {
            tracing::debug!(error = %e, "cutting off a response");
            return std::task::Poll::Ready(Some(Err(e.into())));
        }
        let r = std::pin::Pin::new(&mut self.inner).poll_frame(cx);
        match &r {
            std::task::Poll::Ready(Some(Ok(frame))) => {
                self.out.busy.progressed();
                let n = frame.data_ref().map_or(0, bytes::Bytes::len);
                self.out.pace.handed(n);
                self.out.flow.add(n);
            }
            std::task::Poll::Ready(None) => self.out.ended = true,
            _ => {}
        }
        r
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for Sending {
    fn drop(&mut self) {
        if let Some(log) = self.out.log.take() {
            let sent = self.out.flow.bytes();
            let complete = self.out.ended
                || http_body::Body::is_end_stream(&self.inner)
                || self.out.length.is_some_and(|n| sent >= n);
            log.finish(sent, complete);
        }
    }
}

fn sending(resp: Response, mut out: Outgoing, handling: Busy) -> Response {
    drop(handling);
    out.length = resp
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse().ok());
    resp.map(|inner| http_body_util::BodyExt::boxed_unsync(Sending { inner, out }))
}

/// The one answer a connection over a cap gets: `/health` still works, anything else is
/// 503 SlowDown, and the connection closes.
fn over_capacity(
    state: &AppState,
    req: &http::Request<Incoming>,
) -> (Response, Option<RequestLog>) {
    let started = Instant::now();
    let request_id = new_request_id();
    let health_check = req.uri().path() == "/health" && req.method() == http::Method::GET;
    let (mut resp, surface, op) = if health_check {
        (health(state), Surface::Health, "Health")
    } else {
        let e = S3Error::new(
            S3Code::SlowDown,
            "The server is at its connection limit. Please reduce your request rate.",
        );
        let mut r = crate::s3::error_response(&e, req.uri().path(), &request_id, false);
        r.headers_mut()
            .insert(http::header::RETRY_AFTER, HeaderValue::from_static("1"));
        (r, Surface::S3, "ConnectionLimit")
    };
    let host_id = state.host_id(&request_id);
    let h = resp.headers_mut();
    h.insert(http::header::CONNECTION, HeaderValue::from_static("close"));
    set_ids(h, &request_id, &host_id);
    let status = resp.status().as_u16();
    state
        .metrics
        .request(surface, Some(op), status, started.elapsed());
    let log = RequestLog {
        request_id,
        host_id,
        method: req.method().clone(),
        path: req.uri().path().to_owned(),
        surface,
        op: Some(op),
        bucket: None,
        key_id: None,
        status,
        started,
        head_after: started.elapsed(),
        received: state.metrics.inflow(),
    };
    (resp, Some(log))
}

/// Bytes of the header section as sent: `name: value\r\n` per field.
fn header_section_len(headers: &http::HeaderMap) -> usize {
    headers
        .iter()
        .map(|(n, v)| n.as_str().len() + v.len() + 4)
        .sum()
}

fn tls_acceptor(t: &crate::config::TlsConfig) -> Result<tokio_rustls::TlsAcceptor, ServerError> {
    let read = |p: &std::path::Path| {
        std::fs::read(p).map_err(|e| ServerError::Tls(format!("cannot read {}: {e}", p.display())))
    };
    let cert_pem = read(&t.cert)?;
    let key_pem = read(&t.key)?;
    let certs = rustls_pemfile::certs(&mut cert_pem.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ServerError::Tls(format!("bad certificate PEM: {e}")))?;
    let key = rustls_pemfile::private_key(&mut key_pem.as_slice())
        .map_err(|e| ServerError::Tls(format!("bad key PEM: {e}")))?
        .ok_or_else(|| ServerError::Tls(format!("no private key in {}", t.key.display())))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ServerError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| ServerError::Tls(e.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

fn new_request_id() -> String {
    let id = uuid::Uuid::new_v4();
    hex::encode_upper(&id.as_bytes()[..8])
}

/// This gateway's id in `x-amz-id-2`: opaque to clients (a digest of its host and port), and
/// named beside its host and port in the `serving` log line, for operators.
fn gateway_id(addr: SocketAddr) -> (String, String) {
    use sha2::Digest as _;
    let uname = rustix::system::uname();
    let host = format!("{}:{}", uname.nodename().to_string_lossy(), addr.port());
    let id = hex::encode(&sha2::Sha256::digest(host.as_bytes())[..6]);
    (id, host)
}

async fn handle(
    state: Arc<AppState>,
    req: http::Request<RequestBody>,
    received: Flow,
) -> (Response, Option<RequestLog>) {
    let started = Instant::now();
    let request_id = new_request_id();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let head = method == http::Method::HEAD;
    let host = req
        .headers()
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| req.uri().authority().map(|a| a.to_string()));
    let route = router::route(
        req.method(),
        req.uri(),
        host.as_deref(),
        state.cfg.s3_domain.as_deref(),
    );
    let (surface, bucket) = match &route {
        Ok(Route::Health) => (Surface::Health, None),
        Ok(Route::Metrics) => (Surface::Metrics, None),
        Ok(Route::Console) => (Surface::Console, None),
        Ok(Route::Api) => (Surface::Api, router::api_bucket(&path)),
        Ok(Route::S3(t)) => (Surface::S3, t.bucket.clone()),
        Err(_) => (Surface::S3, None),
    };
    let host_id = state.host_id(&request_id);
    // Until the response is ready the line is owed: a request whose client leaves (or whose
    // connection is closed) before then is still logged and counted, as 499.
    let mut owed = Unanswered {
        log: Some(RequestLog {
            request_id: request_id.clone(),
            host_id,
            method,
            path: path.clone(),
            surface,
            op: None,
            bucket,
            key_id: None,
            status: CLIENT_GONE,
            started,
            head_after: Duration::ZERO,
            received,
        }),
        state: state.clone(),
    };
    let (mut resp, handled) = guarded(dispatch(state.clone(), req, route, &request_id), || {
        tracing::error!(request_id = %request_id, "handler panicked");
        let e = S3Error::code(S3Code::InternalError);
        (
            crate::s3::error_response(&e, &path, &request_id, head),
            Handled::default(),
        )
    })
    .await;
    let h = resp.headers_mut();
    if let Some(log) = &owed.log {
        set_ids(h, &request_id, &log.host_id);
    }
    h.insert("server", HeaderValue::from_static("cnx-storage"));
    let mut log = owed.log.take();
    if let Some(log) = &mut log {
        log.status = resp.status().as_u16();
        log.head_after = started.elapsed();
        log.op = handled.op;
        log.key_id = handled.key_id;
        state
            .metrics
            .request(surface, log.op, log.status, log.head_after);
    }
    (resp, log)
}

/// `x-amz-request-id` and `x-amz-id-2`, on every response the server sends.
fn set_ids(h: &mut http::HeaderMap, request_id: &str, host_id: &str) {
    if let (Ok(id), Ok(id2)) = (
        HeaderValue::from_str(request_id),
        HeaderValue::from_str(host_id),
    ) {
        h.insert("x-amz-request-id", id);
        h.insert("x-amz-id-2", id2);
    }
}

/// nginx's status for a request whose client closed the connection before the answer.
const CLIENT_GONE: u16 = 499;

/// The log line of a request still being handled; written (as [`CLIENT_GONE`]) if the
/// handler is dropped before it answers.
struct Unanswered {
    log: Option<RequestLog>,
    state: Arc<AppState>,
}

impl Drop for Unanswered {
    fn drop(&mut self) {
        if let Some(mut log) = self.log.take() {
            log.head_after = log.started.elapsed();
            self.state
                .metrics
                .request(log.surface, log.op, log.status, log.head_after);
            log.finish(0, false);
        }
    }
}

/// Runs a handler; a panic inside it becomes `on_panic()`'s response instead of a dropped
/// connection, and the server keeps serving.
async fn guarded<T>(fut: impl std::future::Future<Output = T>, on_panic: impl FnOnce() -> T) -> T {
    match AssertUnwindSafe(fut).catch_unwind().await {
        Ok(r) => r,
        Err(_) => on_panic(),
    }
}

async fn dispatch(
    state: Arc<AppState>,
    req: http::Request<RequestBody>,
    route: Result<Route, crate::web::target::InvalidUri>,
    request_id: &str,
) -> (Response, Handled) {
    let too_large = header_section_len(req.headers()) > MAX_HEADER_SECTION;
    match route {
        Ok(Route::Health) => (health(&state), Handled::op("Health")),
        Ok(Route::Metrics) => (
            self::metrics::respond(&state, &req).await,
            Handled::op("Metrics"),
        ),
        Ok(Route::Console) => (self::console::respond(&req), Handled::op("Console")),
        Ok(Route::Api) if too_large => (
            json(
                StatusCode::BAD_REQUEST,
                &serde_json::json!({
                    "error": format!("the request header section exceeds {MAX_HEADER_SECTION} bytes")
                }),
            ),
            Handled::default(),
        ),
        Ok(Route::S3(_)) if too_large => {
            let err = S3Error::code(S3Code::RequestHeaderSectionTooLarge)
                .with("MaxSizeAllowed", MAX_HEADER_SECTION.to_string());
            let head = req.method() == http::Method::HEAD;
            (
                crate::s3::error_response(&err, req.uri().path(), request_id, head),
                Handled::default(),
            )
        }
        Ok(Route::Api) => crate::api::handle(state, req, request_id).await,
        Ok(Route::S3(target)) => crate::s3::handle(state, req, target, request_id).await,
        Err(e) => {
            let err = S3Error::new(S3Code::InvalidURI, e.to_string());
            let head = req.method() == http::Method::HEAD;
            (
                crate::s3::error_response(&err, req.uri().path(), request_id, head),
                Handled::default(),
            )
        }
    }
}

fn json(status: StatusCode, value: &serde_json::Value) -> Response {
    let mut r = http::Response::new(body::full(value.to_string()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

fn health(state: &AppState) -> Response {
    json(
        StatusCode::OK,
        &serde_json::json!({
            "status": "healthy",
            "version": env!("CARGO_PKG_VERSION"),
            "uptime": state.started.elapsed().as_secs(),
            "region": state.cfg.region,
            "corrupt_reads": state.store.corrupt_reads(),
            "scrub": state.scrub.summary(crate::scrub::LastPass::summary),
            "lifecycle": state.lifecycle.summary(crate::lifecycle::LastPass::summary),
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_handler_becomes_a_500() {
        let fut = async {
            if std::hint::black_box(true) {
                panic!("handler bug");
            }
            StatusCode::OK
        };
        let status = guarded(fut, || StatusCode::INTERNAL_SERVER_ERROR).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        let ok = guarded(async { StatusCode::OK }, || {
            StatusCode::INTERNAL_SERVER_ERROR
        })
        .await;
        assert_eq!(ok, StatusCode::OK);
    }
}
