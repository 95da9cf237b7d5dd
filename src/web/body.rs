//! The response body type and its constructors.

use std::future::Future as _;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::TryStreamExt;
use http_body_util::{combinators::UnsyncBoxBody, BodyExt, Empty, Full, StreamBody};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub type Body = UnsyncBoxBody<Bytes, BoxError>;
pub type Response = http::Response<Body>;

pub fn empty() -> Body {
    Empty::new().map_err(|never| match never {}).boxed_unsync()
}

pub fn full(data: impl Into<Bytes>) -> Body {
    Full::new(data.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// Streams a body whose bytes are produced as the client reads them.
pub fn stream<E>(s: BoxStream<'static, Result<Bytes, E>>) -> Body
where
    E: Into<BoxError> + 'static,
{
    StreamBody::new(s.map_ok(http_body::Frame::data).map_err(Into::into)).boxed_unsync()
}

/// Limits on how a request body may arrive.
#[derive(Debug, Clone, Copy)]
pub struct BodyDeadlines {
    /// Longest wait for the next bytes.
    pub stall: std::time::Duration,
    /// Slowest average rate over the time spent waiting, checked once `stall` has been
    /// waited in all; 0 = off.
    pub min_bytes_per_sec: f64,
}

/// Why a request body was cut off.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("{0}")]
    Read(#[from] hyper::Error),
    #[error("no request body data arrived for {0:?}")]
    Stalled(std::time::Duration),
    #[error("the request body arrived slower than {0} bytes per second")]
    TooSlow(f64),
}

impl BodyError {
    /// A timeout of ours, rather than a broken or malformed body.
    pub fn is_timeout(&self) -> bool {
        !matches!(self, Self::Read(_))
    }
}

/// The request body handlers read: hyper's, cut off when it stalls or trickles, so a client
/// cannot hold a handler (and a half-written blob) open by sending slowly.
pub struct RequestBody {
    inner: hyper::body::Incoming,
    limits: BodyDeadlines,
    /// When the current wait for bytes began.
    waiting_since: Option<tokio::time::Instant>,
    waited: std::time::Duration,
    bytes: u64,
    timer: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
    /// Set once cut off: every later poll gets the same error, never a clean end.
    failed: Option<fn(&BodyDeadlines) -> BodyError>,
    flow: super::metrics::Flow,
}

impl RequestBody {
    /// `flow` counts the bytes read, for the request's log line and the metrics.
    pub fn new(
        inner: hyper::body::Incoming,
        limits: BodyDeadlines,
        flow: super::metrics::Flow,
    ) -> Self {
        Self {
            inner,
            limits,
            waiting_since: None,
            waited: std::time::Duration::ZERO,
            bytes: 0,
            timer: None,
            failed: None,
            flow,
        }
    }

    fn too_slow(&self) -> bool {
        let min = self.limits.min_bytes_per_sec;
        min > 0.0
            && self.waited >= self.limits.stall
            && (self.bytes as f64) < min * self.waited.as_secs_f64()
    }
}

impl http_body::Body for RequestBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, BodyError>>> {
        use std::task::Poll;
        let this = &mut *self;
        if let Some(again) = this.failed {
            return Poll::Ready(Some(Err(again(&this.limits))));
        }
        match std::pin::Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                if let Some(since) = this.waiting_since.take() {
                    this.waited += since.elapsed();
                }
                this.timer = None;
                if let Some(Ok(f)) = &frame {
                    let n = f.data_ref().map_or(0, Bytes::len);
                    this.bytes += n as u64;
                    this.flow.add(n);
                }
                if this.too_slow() {
                    let fail: fn(&BodyDeadlines) -> BodyError =
                        |l| BodyError::TooSlow(l.min_bytes_per_sec);
                    this.failed = Some(fail);
                    return Poll::Ready(Some(Err(fail(&this.limits))));
                }
                Poll::Ready(frame.map(|r| r.map_err(BodyError::Read)))
            }
            Poll::Pending => {
                let now = tokio::time::Instant::now();
                let since = *this.waiting_since.get_or_insert(now);
                let deadline = since + this.limits.stall;
                let timer = this
                    .timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                if timer.as_mut().poll(cx).is_ready() {
                    let fail: fn(&BodyDeadlines) -> BodyError = |l| BodyError::Stalled(l.stall);
                    this.failed = Some(fail);
                    return Poll::Ready(Some(Err(fail(&this.limits))));
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.failed.is_none() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
