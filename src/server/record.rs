//! The one log line each request gets. It is written once the response has been sent, or
//! cut off, so it carries the bytes that really went each way and the whole time taken.

use std::time::{Duration, Instant};

use crate::web::metrics::{Flow, Surface};

pub struct RequestLog {
    pub request_id: String,
    /// `x-amz-id-2`, as sent.
    pub host_id: String,
    pub method: http::Method,
    /// The path alone: a presigned URL's query carries its signature.
    pub path: String,
    pub surface: Surface,
    pub op: Option<&'static str>,
    pub bucket: Option<String>,
    /// The access key that signed the request; never its secret.
    pub key_id: Option<String>,
    pub status: u16,
    pub started: Instant,
    /// Until the response's head was ready.
    pub head_after: Duration,
    pub received: Flow,
}

impl RequestLog {
    /// `complete`: the response body reached its end (else the client left, or sending
    /// failed, part way).
    pub fn finish(self, sent: u64, complete: bool) {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        tracing::info!(
            target: "cnx_storage::request",
            request_id = %self.request_id,
            host_id = %self.host_id,
            method = %self.method,
            path = %self.path,
            surface = self.surface.as_str(),
            op = self.op.unwrap_or("-"),
            bucket = self.bucket.as_deref(),
            key_id = self.key_id.as_deref(),
            status = self.status,
            bytes_in = self.received.bytes(),
            bytes_out = sent,
            complete,
            head_ms = ms(self.head_after),
            elapsed_ms = ms(self.started.elapsed()),
            "request"
        );
    }
}
