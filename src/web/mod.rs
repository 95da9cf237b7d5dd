//! Request plumbing both surfaces share, below them and below the server: the state a
//! handler works with, request and response bodies, what a path names, decoded queries.

pub mod body;
pub mod metrics;
pub mod query;
pub mod target;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::StatusCode;

use crate::access::jwt::JwtVerifier;
use crate::access::ratelimit::RateLimiter;
use crate::access::KeyRing;
use crate::config::Config;
use crate::store::Store;
use body::Response;

/// The client a request came from, in the request's extensions.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub SocketAddr);

pub struct AppState {
    pub cfg: Config,
    pub store: Store,
    pub keys: Arc<KeyRing>,
    /// Data keys of encrypted objects and the SSE-KMS key ring.
    pub kms: Arc<crate::access::kms::Kms>,
    /// Verifies bearer tokens; `None` when no JWT key is configured.
    pub jwt: Option<JwtVerifier>,
    pub api_limit: Option<RateLimiter>,
    pub s3_limit: Option<RateLimiter>,
    /// Failed authentications per client IP.
    pub auth_failures: Option<RateLimiter>,
    pub started: Instant,
    /// What the background scrubber last found.
    pub scrub: Arc<crate::scrub::ScrubStatus>,
    /// What the lifecycle worker last did.
    pub lifecycle: Arc<crate::lifecycle::LifecycleStatus>,
    /// Buckets that log their requests, and the queue their lines go to.
    pub access_log: Arc<crate::accesslog::AccessLog>,
    pub metrics: metrics::Metrics,
    /// This gateway's id in `x-amz-id-2`, set once it listens.
    pub node: std::sync::OnceLock<String>,
}

/// What a surface's handler tells the server about a request, for its log line and metrics.
#[derive(Debug, Default)]
pub struct Handled {
    /// The operation's name (`GetObject`, `CreateBucket`, …).
    pub op: Option<&'static str>,
    /// The access key the request was signed with.
    pub key_id: Option<String>,
}

impl Handled {
    pub fn op(op: &'static str) -> Self {
        Self {
            op: Some(op),
            key_id: None,
        }
    }
}

impl AppState {
    /// `x-amz-id-2` of a request: which gateway answered it, and the request, as opaque
    /// base64 the way S3 sends it (decoded: `cnx-storage GATEWAY_ID REQUEST_ID`; the
    /// `serving` log line names each gateway id's host and port).
    pub fn host_id(&self, request_id: &str) -> String {
        use base64::Engine as _;
        let node = self.node.get().map_or("-", String::as_str);
        base64::engine::general_purpose::STANDARD.encode(format!("cnx-storage {node} {request_id}"))
    }

    /// The figures `/storage/metrics` reads from the rest of the process; an index that does
    /// not answer leaves out its own.
    pub async fn metrics_snapshot(&self) -> metrics::Snapshot {
        let scrub = self
            .scrub
            .last()
            .map(|p: crate::scrub::LastPass| metrics::ScrubFigures {
                finished_at_ms: p.finished_at_ms,
                corrupt: p.report.corrupt.len() as u64,
                missing: p.report.missing.len() as u64,
            });
        let index = match self.store.index_stats().await {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!(error = %e, "metrics: the index did not answer");
                None
            }
        };
        metrics::Snapshot {
            index,
            corrupt_reads: self.store.corrupt_reads(),
            blobs_swept: self.store.blobs_swept(),
            uptime: self.started.elapsed(),
            scrub,
        }
    }

    /// How long a client IP must wait, after too many failed authentications.
    pub fn auth_throttled(&self, ip: Option<IpAddr>) -> Option<Duration> {
        let (limiter, ip) = (self.auth_failures.as_ref()?, ip?);
        limiter.peek(&ip.to_string()).err()
    }

    /// Counts a failed authentication against the client IP.
    pub fn auth_failed(&self, ip: Option<IpAddr>) {
        if let (Some(limiter), Some(ip)) = (self.auth_failures.as_ref(), ip) {
            let _ = limiter.check(&ip.to_string());
        }
    }
}

/// The client IP of a request, when it came over the network.
pub fn client_ip(parts: &http::request::Parts) -> Option<IpAddr> {
    parts.extensions.get::<ClientAddr>().map(|c| c.0.ip())
}

/// A response with a status and no body.
pub fn status_only(status: StatusCode) -> Response {
    let mut r = http::Response::new(body::empty());
    *r.status_mut() = status;
    r
}
