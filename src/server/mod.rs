//! The HTTP server: bind, print `listening on ADDR`, accept (optionally TLS), serve each
//! connection with hyper, give every request an id, a log line and a panic guard, and drain
//! in-flight requests on SIGINT/SIGTERM. No S3 or JSON semantics live here.

pub mod body;
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

use self::body::Response;
use self::router::Route;
use crate::access::jwt::JwtVerifier;
use crate::access::ratelimit::RateLimiter;
use crate::access::seal::Sealer;
use crate::access::KeyRing;
use crate::config::Config;
use crate::credentials::RootCredentials;
use crate::s3::error::{S3Code, S3Error};
use crate::store::Store;

/// Concurrent connections beyond this wait in the kernel's accept queue.
const MAX_CONNECTIONS: usize = 4096;

pub struct AppState {
    pub cfg: Config,
    pub store: Store,
    pub keys: Arc<KeyRing>,
    /// Verifies bearer tokens; `None` when no JWT key is configured.
    pub jwt: Option<JwtVerifier>,
    pub api_limit: Option<RateLimiter>,
    pub s3_limit: Option<RateLimiter>,
    /// Idempotency keys whose first request is still running.
    pub idempotency_inflight: std::sync::Mutex<std::collections::HashSet<[u8; 32]>>,
    pub started: Instant,
}

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

pub async fn run(cfg: Config) -> Result<(), ServerError> {
    let shutdown = async {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
        }
    };
    run_until(cfg, shutdown).await
}

pub async fn run_until(
    cfg: Config,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), ServerError> {
    let tls = match &cfg.tls {
        Some(t) => Some(tls_acceptor(t)?),
        None => None,
    };
    let store = Store::open(&cfg).await?;
    let root = RootCredentials::load_or_create(&cfg)?;
    let sealer = Sealer::load_or_create(&cfg)?;
    let jwt = JwtVerifier::load(&cfg.jwt).map_err(ServerError::Jwt)?;
    let listener = TcpListener::bind(cfg.listen)
        .await
        .map_err(|source| ServerError::Bind {
            addr: cfg.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| ServerError::Bind {
        addr: cfg.listen,
        source,
    })?;
    let grace = cfg.shutdown_grace;
    let keys = Arc::new(KeyRing::new(root, store.meta(), sealer));
    let state = Arc::new(AppState {
        store,
        keys,
        jwt,
        api_limit: RateLimiter::new(cfg.limits.api_requests_per_second, cfg.limits.api_burst),
        s3_limit: RateLimiter::new(cfg.limits.s3_requests_per_second, cfg.limits.s3_burst),
        idempotency_inflight: Default::default(),
        started: Instant::now(),
        cfg,
    });
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "listening on {addr}");
        let _ = out.flush();
    }
    tracing::info!(%addr, tls = tls.is_some(), "serving");

    let builder = auto::Builder::new(TokioExecutor::new());
    let graceful = GracefulShutdown::new();
    let limit = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    tokio::pin!(shutdown);
    let mut backoff = Duration::from_millis(5);
    loop {
        let permit = tokio::select! {
            _ = &mut shutdown => break,
            p = limit.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
        };
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
        // Without it, small responses wait ~40 ms on peers' delayed ACKs.
        let _ = stream.set_nodelay(true);
        let state = state.clone();
        let builder = builder.clone();
        let watcher = graceful.watcher();
        let tls = tls.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let svc = service_fn(move |req| {
                let state = state.clone();
                async move { Ok::<_, std::convert::Infallible>(handle(state, req).await) }
            });
            let result = match tls {
                Some(acceptor) => match acceptor.accept(stream).await {
                    Ok(s) => {
                        watcher
                            .watch(builder.serve_connection(TokioIo::new(s), svc).into_owned())
                            .await
                    }
                    Err(e) => {
                        tracing::debug!(%peer, error = %e, "TLS handshake failed");
                        return;
                    }
                },
                None => {
                    watcher
                        .watch(
                            builder
                                .serve_connection(TokioIo::new(stream), svc)
                                .into_owned(),
                        )
                        .await
                }
            };
            if let Err(e) = result {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    tracing::info!("shutting down: draining in-flight requests");
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("in-flight requests did not finish within the grace period");
    }
    Ok(())
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

async fn handle(state: Arc<AppState>, req: http::Request<Incoming>) -> Response {
    let started = Instant::now();
    let request_id = new_request_id();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let head = method == http::Method::HEAD;
    let (mut resp, op) = guarded(dispatch(state, req, &request_id), || {
        tracing::error!(request_id = %request_id, "handler panicked");
        let e = S3Error::code(S3Code::InternalError);
        (
            crate::s3::error_response(&e, &path, &request_id, head),
            None,
        )
    })
    .await;
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        h.insert("x-amz-request-id", v.clone());
        h.insert("x-amz-id-2", v);
    }
    h.insert("server", HeaderValue::from_static("cnx-storage"));
    let bytes = h
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    tracing::info!(
        request_id = %request_id,
        method = %method,
        path = %path,
        op = op.unwrap_or("-"),
        status = resp.status().as_u16(),
        bytes,
        elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
        "request"
    );
    resp
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
    req: http::Request<Incoming>,
    request_id: &str,
) -> (Response, Option<&'static str>) {
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
    match route {
        Ok(Route::Health) => (health(&state), Some("Health")),
        Ok(Route::Api) => crate::api::handle(state, req, request_id).await,
        Ok(Route::S3(target)) => crate::s3::handle(state, req, target, request_id).await,
        Err(e) => {
            let err = S3Error::new(S3Code::InvalidURI, e.to_string());
            let head = req.method() == http::Method::HEAD;
            (
                crate::s3::error_response(&err, req.uri().path(), request_id, head),
                None,
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
