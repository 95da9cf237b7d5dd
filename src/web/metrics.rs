//! What `/storage/metrics` reports: request counts and latencies per surface and operation,
//! bytes in and out, connections, and on each scrape the figures of the store, the index and
//! the scrubber. OpenMetrics text, by `prometheus-client`.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::{Registry, Unit};

use crate::meta::stats::IndexStats;

/// The content type of the exposition.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Which part of the server answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Surface {
    S3,
    Api,
    Health,
    Metrics,
    Console,
}

impl Surface {
    pub fn as_str(self) -> &'static str {
        match self {
            Surface::S3 => "s3",
            Surface::Api => "api",
            Surface::Health => "health",
            Surface::Metrics => "metrics",
            Surface::Console => "console",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RequestLabels {
    surface: &'static str,
    op: &'static str,
    status: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct OpLabels {
    surface: &'static str,
    op: &'static str,
}

fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

fn latency_histogram() -> Histogram {
    // 0.5 ms to 16 s, doubling.
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

/// Scrapes closer together than this share one reading of the figures below.
const SNAPSHOT_REUSE: Duration = Duration::from_secs(1);

/// Figures read from the rest of the process at each scrape.
#[derive(Debug, Default, Clone)]
pub struct Snapshot {
    /// `None` when the index did not answer (the rest is still reported).
    pub index: Option<IndexStats>,
    pub corrupt_reads: u64,
    pub blobs_swept: u64,
    pub uptime: Duration,
    pub scrub: Option<ScrubFigures>,
}

/// What the last scrub pass found.
#[derive(Debug, Default, Clone)]
pub struct ScrubFigures {
    pub finished_at_ms: i64,
    pub corrupt: u64,
    pub missing: u64,
}

/// Writes the snapshot taken for the scrape under way.
#[derive(Debug, Default)]
struct Scraped(Mutex<Snapshot>);

impl Collector for Scraped {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let s = self.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let mut gauge = |name: &str, help: &str, unit: Option<&Unit>, v: f64| {
            let m = ConstGauge::new(v);
            m.encode(enc.encode_descriptor(name, help, unit, m.metric_type())?)
        };
        let index = s.index.clone().unwrap_or_default();
        gauge(
            "index_up",
            "1 when the metadata index answered this scrape, else 0 (its figures are then left out).",
            None,
            if index.gc_queued.is_some() { 1.0 } else { 0.0 },
        )?;
        if let Some(queued) = index.gc_queued {
            gauge(
                "gc_queue_blobs",
                "Blobs queued for deletion (replaced, deleted or abandoned), swept after a grace period.",
                None,
                queued as f64,
            )?;
        }
        gauge(
            "uptime",
            "Time since this process started.",
            Some(&Unit::Seconds),
            s.uptime.as_secs_f64(),
        )?;
        for e in index.engine.iter().filter(|e| !e.counter) {
            gauge(e.name, e.help, None, e.value)?;
        }
        if let Some(scrub) = &s.scrub {
            gauge(
                "scrub_last_finished_timestamp",
                "When the last background scrub pass finished (unix time).",
                Some(&Unit::Seconds),
                scrub.finished_at_ms as f64 / 1000.0,
            )?;
            gauge(
                "scrub_last_corrupt_blobs",
                "Blobs whose bytes failed their checksums in the last scrub pass.",
                None,
                scrub.corrupt as f64,
            )?;
            gauge(
                "scrub_last_missing_blobs",
                "Blobs the index names that were missing in the last scrub pass.",
                None,
                scrub.missing as f64,
            )?;
        }
        let mut counter = |name: &str, help: &str, v: f64| {
            let m = ConstCounter::new(v);
            m.encode(enc.encode_descriptor(name, help, None, m.metric_type())?)
        };
        counter(
            "gc_swept_blobs",
            "Blobs this process deleted from the deletion queue.",
            s.blobs_swept as f64,
        )?;
        counter(
            "checksum_failures",
            "Reads refused because a blob's bytes failed their checksums or were missing.",
            s.corrupt_reads as f64,
        )?;
        for e in index.engine.iter().filter(|e| e.counter) {
            counter(e.name, e.help, e.value)?;
        }
        Ok(())
    }
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<OpLabels, Histogram, fn() -> Histogram>,
    received: Counter,
    sent: Counter,
    open_connections: Gauge,
    connections: Counter,
    scraped: Arc<Scraped>,
    /// One scrape at a time, each reading the figures at most once a second: a flood of
    /// scrapes costs the index no more than one.
    scraping: tokio::sync::Mutex<Option<std::time::Instant>>,
}

impl Metrics {
    /// `index` names the metadata backend serving (`rocksdb` or `postgres`).
    pub fn new(index: &'static str) -> Self {
        let mut registry = Registry::with_prefix("cnx");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "requests",
            "Requests answered, by surface, operation and status class",
            requests.clone(),
        );
        let latency: Family<OpLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(latency_histogram);
        registry.register_with_unit(
            "request_duration",
            "Time from a request's head to its response's head (bodies stream after), by surface and operation",
            Unit::Seconds,
            latency.clone(),
        );
        let received = Counter::default();
        registry.register_with_unit(
            "received",
            "Request body bytes read",
            Unit::Bytes,
            received.clone(),
        );
        let sent = Counter::default();
        registry.register_with_unit(
            "sent",
            "Response body bytes sent",
            Unit::Bytes,
            sent.clone(),
        );
        let open_connections = Gauge::default();
        registry.register(
            "open_connections",
            "Client connections open now",
            open_connections.clone(),
        );
        let connections = Counter::default();
        registry.register(
            "connections",
            "Client connections accepted",
            connections.clone(),
        );
        registry.register(
            "build",
            "The running build",
            Info::new(vec![
                ("version", env!("CARGO_PKG_VERSION")),
                ("index", index),
            ]),
        );
        let scraped = Arc::new(Scraped::default());
        registry.register_collector(Box::new(scraped.clone()));
        Self {
            registry,
            requests,
            latency,
            received,
            sent,
            open_connections,
            connections,
            scraped,
            scraping: tokio::sync::Mutex::new(None),
        }
    }

    /// Counts an answered request; `elapsed` runs to its response's head.
    pub fn request(
        &self,
        surface: Surface,
        op: Option<&'static str>,
        status: u16,
        elapsed: Duration,
    ) {
        let op = op.unwrap_or("unknown");
        let surface = surface.as_str();
        self.requests
            .get_or_create(&RequestLabels {
                surface,
                op,
                status: status_class(status),
            })
            .inc();
        self.latency
            .get_or_create(&OpLabels { surface, op })
            .observe(elapsed.as_secs_f64());
    }

    /// A request's body bytes, counted here and in the server's total as they arrive.
    pub fn inflow(&self) -> Flow {
        Flow::new(self.received.clone())
    }

    /// A response's body bytes, likewise as they leave.
    pub fn outflow(&self) -> Flow {
        Flow::new(self.sent.clone())
    }

    /// Counts a connection open until the guard is dropped.
    pub fn connection(&self) -> OpenConnection {
        self.connections.inc();
        self.open_connections.inc();
        OpenConnection(self.open_connections.clone())
    }

    /// The exposition; `take` reads the scrape-time figures, unless a scrape under a second
    /// ago did.
    pub async fn scrape<F, Fut>(&self, take: F) -> Result<String, std::fmt::Error>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Snapshot>,
    {
        let mut last = self.scraping.lock().await;
        if last.is_none_or(|at| at.elapsed() >= SNAPSHOT_REUSE) {
            let snapshot = take().await;
            *self.scraped.0.lock().unwrap_or_else(|p| p.into_inner()) = snapshot;
            *last = Some(std::time::Instant::now());
        }
        let mut out = String::with_capacity(16 << 10);
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

/// Bytes of one body: this request's count and the server's total.
#[derive(Debug, Clone)]
pub struct Flow {
    this: Arc<AtomicU64>,
    all: Counter,
}

impl Flow {
    fn new(all: Counter) -> Self {
        Self {
            this: Arc::default(),
            all,
        }
    }

    pub fn add(&self, n: usize) {
        self.this.fetch_add(n as u64, Relaxed);
        self.all.inc_by(n as u64);
    }

    pub fn bytes(&self) -> u64 {
        self.this.load(Relaxed)
    }
}

pub struct OpenConnection(Gauge);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::stats::EngineStat;

    #[tokio::test]
    async fn requests_bytes_and_scraped_figures_are_exposed() {
        let m = Metrics::new("rocksdb");
        m.request(
            Surface::S3,
            Some("GetObject"),
            200,
            Duration::from_millis(3),
        );
        m.request(
            Surface::S3,
            Some("GetObject"),
            404,
            Duration::from_millis(1),
        );
        m.outflow().add(1000);
        let conn = m.connection();
        let snapshot = Snapshot {
            index: Some(IndexStats {
                gc_queued: Some(7),
                engine: vec![EngineStat::counter("rocksdb_write_stall_seconds", "h", 1.5)],
            }),
            corrupt_reads: 2,
            ..Snapshot::default()
        };
        let text = m.scrape(|| async { snapshot }).await.unwrap();
        for line in [
            r#"cnx_requests_total{surface="s3",op="GetObject",status="2xx"} 1"#,
            r#"cnx_requests_total{surface="s3",op="GetObject",status="4xx"} 1"#,
            r#"cnx_request_duration_seconds_count{surface="s3",op="GetObject"} 2"#,
            "cnx_sent_bytes_total 1000",
            "cnx_open_connections 1",
            "cnx_gc_queue_blobs 7.0",
            "cnx_checksum_failures_total 2.0",
            "cnx_rocksdb_write_stall_seconds_total 1.5",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "{line} missing from\n{text}"
            );
        }
        assert!(text.ends_with("# EOF\n"));
        assert!(text.lines().any(|l| l == "cnx_index_up 1.0"), "{text}");
        drop(conn);
        // Within a second the figures are not read again; the counters are current.
        let text = m
            .scrape(|| async { panic!("read again within a second") })
            .await
            .unwrap();
        assert!(text.lines().any(|l| l == "cnx_open_connections 0"));
        assert!(text.lines().any(|l| l == "cnx_gc_queue_blobs 7.0"));
    }

    #[tokio::test]
    async fn an_index_that_does_not_answer_leaves_the_rest() {
        let m = Metrics::new("postgres");
        m.request(
            Surface::Api,
            Some("ListBuckets"),
            200,
            Duration::from_millis(3),
        );
        let text = m.scrape(|| async { Snapshot::default() }).await.unwrap();
        assert!(text.lines().any(|l| l == "cnx_index_up 0.0"), "{text}");
        assert!(!text.contains("cnx_gc_queue_blobs"), "{text}");
        assert!(
            text.contains(r#"cnx_requests_total{surface="api",op="ListBuckets",status="2xx"} 1"#)
        );
    }
}
