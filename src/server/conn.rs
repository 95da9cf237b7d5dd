//! Connection admission and deadlines, so that no socket can hold a slot it does not use:
//! a global and a per-client-IP cap (over either, a connection is answered 503 SlowDown, or
//! `/health`, and closed), and a watchdog per connection that closes it when the client is
//! too slow to send a request head, idles between requests, or stops reading a response.
//! Request bodies have their own stall and rate limits ([`super::body::RequestBody`]),
//! because only the handler knows when it is waiting for one.

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::config::Limits;

/// Deadlines a connection lives by.
#[derive(Debug, Clone, Copy)]
pub struct Deadlines {
    /// From the first byte of a request head to the whole head.
    pub header_read: Duration,
    /// A connection with no request in flight and no bytes moving.
    pub idle: Duration,
    /// A response the client has stopped reading.
    pub send: Duration,
    /// Slowest a client may read a response, averaged over the time spent waiting for it,
    /// once that time reaches `send`; 0 = off.
    pub send_min_bytes_per_sec: f64,
    pub tls_handshake: Duration,
}

impl Deadlines {
    pub fn from_limits(l: &Limits) -> Self {
        Self {
            header_read: secs(l.header_read_timeout_secs),
            idle: secs(l.idle_timeout_secs),
            send: secs(l.send_timeout_secs),
            send_min_bytes_per_sec: l.send_min_bytes_per_sec,
            tls_handshake: secs(l.tls_handshake_timeout_secs),
        }
    }

    /// The tight deadlines of a connection admitted over a cap: one quick answer, then closed.
    pub fn overflow(&self) -> Self {
        let short = Duration::from_secs(2);
        Self {
            header_read: self.header_read.min(short),
            idle: self.idle.min(short),
            send: self.send.min(short),
            send_min_bytes_per_sec: self.send_min_bytes_per_sec,
            tls_handshake: self.tls_handshake.min(short),
        }
    }

    /// How often the watchdog looks: a fraction of the shortest deadline.
    pub fn tick(&self) -> Duration {
        let shortest = self.header_read.min(self.idle).min(self.send);
        (shortest / 4).clamp(Duration::from_millis(50), Duration::from_secs(1))
    }
}

fn secs(s: f64) -> Duration {
    Duration::try_from_secs_f64(s.max(0.001)).unwrap_or(Duration::from_secs(3600))
}

/// Counts open connections, in all and per client IP.
pub struct Admission {
    max_total: usize,
    max_per_ip: usize,
    /// Connections let in over a cap only to be answered 503; beyond this they are closed.
    max_overflow: usize,
    total: AtomicUsize,
    overflow: AtomicUsize,
    per_ip: Mutex<HashMap<IpAddr, usize>>,
}

/// What to do with a new connection.
pub enum Admit {
    /// Serve it; the slot is given back when the value is dropped.
    Serve(Slot),
    /// Over a cap: answer 503 SlowDown (or `/health`) and close.
    Overflow(Slot),
    /// Far over the cap: close at once.
    Refuse,
}

pub struct Slot {
    admission: Arc<Admission>,
    ip: Option<IpAddr>,
    overflow: bool,
}

impl Admission {
    pub fn new(l: &Limits) -> Arc<Self> {
        let max_total = l.max_connections.max(1);
        Arc::new(Self {
            max_total,
            max_per_ip: l.max_connections_per_ip.max(1),
            max_overflow: max_total / 8 + 64,
            total: AtomicUsize::new(0),
            overflow: AtomicUsize::new(0),
            per_ip: Mutex::default(),
        })
    }

    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Admit {
        let mut per_ip = self.per_ip.lock().unwrap_or_else(|p| p.into_inner());
        let mine = per_ip.get(&ip).copied().unwrap_or(0);
        if mine < self.max_per_ip && self.total.load(Ordering::Relaxed) < self.max_total {
            *per_ip.entry(ip).or_insert(0) += 1;
            self.total.fetch_add(1, Ordering::Relaxed);
            return Admit::Serve(Slot {
                admission: self.clone(),
                ip: Some(ip),
                overflow: false,
            });
        }
        drop(per_ip);
        if self.overflow.fetch_add(1, Ordering::Relaxed) < self.max_overflow {
            Admit::Overflow(Slot {
                admission: self.clone(),
                ip: None,
                overflow: true,
            })
        } else {
            self.overflow.fetch_sub(1, Ordering::Relaxed);
            Admit::Refuse
        }
    }

    /// Connections being served (not counting overflow ones).
    pub fn open(&self) -> usize {
        self.total.load(Ordering::Relaxed)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let a = &self.admission;
        if self.overflow {
            a.overflow.fetch_sub(1, Ordering::Relaxed);
            return;
        }
        a.total.fetch_sub(1, Ordering::Relaxed);
        if let Some(ip) = self.ip {
            let mut per_ip = a.per_ip.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(n) = per_ip.get_mut(&ip) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    per_ip.remove(&ip);
                }
            }
        }
    }
}

/// What a connection has been doing, for its watchdog. Times are milliseconds since `start`.
pub struct Activity {
    start: Instant,
    last_io: AtomicU64,
    /// When a response body last handed hyper a frame: the send deadline is about progress
    /// of responses, which HTTP/2 control frames written meanwhile do not show.
    last_write: AtomicU64,
    /// HTTP/2 control frames (PING, SETTINGS) arrive between requests: no request head.
    h2: std::sync::atomic::AtomicBool,
    /// 1 + the time the first byte of a request head arrived; 0 when none is pending.
    head_started: AtomicU64,
    /// Requests whose handler is running.
    handling: AtomicUsize,
    /// Responses whose body is still being sent.
    responding: AtomicUsize,
}

/// Why the watchdog closed a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expired {
    HeaderRead,
    Idle,
    Send,
}

impl Activity {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            start: Instant::now(),
            last_io: AtomicU64::new(0),
            last_write: AtomicU64::new(0),
            h2: std::sync::atomic::AtomicBool::new(false),
            head_started: AtomicU64::new(0),
            handling: AtomicUsize::new(0),
            responding: AtomicUsize::new(0),
        })
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn on_read(&self, n: usize) {
        if n == 0 {
            return;
        }
        let now = self.now_ms();
        self.last_io.store(now, Ordering::Relaxed);
        if self.handling.load(Ordering::Relaxed) == 0
            && self.responding.load(Ordering::Relaxed) == 0
        {
            let _ = self.head_started.compare_exchange(
                0,
                now + 1,
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
        }
    }

    fn on_write(&self, n: usize) {
        if n > 0 {
            self.last_io.store(self.now_ms(), Ordering::Relaxed);
        }
    }

    /// The connection speaks HTTP/2: only the idle deadline applies between requests.
    pub fn set_h2(&self) {
        self.h2.store(true, Ordering::Relaxed);
    }

    /// Starts the clocks afresh (after a TLS handshake, whose bytes are no request head).
    pub fn reset(&self) {
        let now = self.now_ms();
        self.last_io.store(now, Ordering::Relaxed);
        self.head_started.store(0, Ordering::Relaxed);
    }

    /// A request's head has arrived and its handler runs until the guard is dropped.
    pub fn handling(self: &Arc<Self>) -> Busy {
        self.handling.fetch_add(1, Ordering::Relaxed);
        self.head_started.store(0, Ordering::Relaxed);
        Busy {
            activity: self.clone(),
            responding: false,
        }
    }

    /// A response body is being sent until the guard is dropped.
    pub fn responding(self: &Arc<Self>) -> Busy {
        self.responding.fetch_add(1, Ordering::Relaxed);
        self.last_write.store(self.now_ms(), Ordering::Relaxed);
        Busy {
            activity: self.clone(),
            responding: true,
        }
    }

    /// Whether a deadline has passed. A running handler is never cut here: it is waiting on
    /// a request body (which has its own limits) or working for the client.
    pub fn expired(&self, d: &Deadlines) -> Option<Expired> {
        if self.handling.load(Ordering::Relaxed) > 0 {
            return None;
        }
        let now = self.now_ms();
        let since = |t: u64| Duration::from_millis(now.saturating_sub(t));
        if self.responding.load(Ordering::Relaxed) > 0 {
            return (since(self.last_write.load(Ordering::Relaxed)) > d.send)
                .then_some(Expired::Send);
        }
        match self.head_started.load(Ordering::Relaxed) {
            0 => (since(self.last_io.load(Ordering::Relaxed)) > d.idle).then_some(Expired::Idle),
            t => (since(t - 1) > d.header_read).then_some(Expired::HeaderRead),
        }
    }
}

/// Keeps a request counted as in flight while it lives.
pub struct Busy {
    activity: Arc<Activity>,
    responding: bool,
}

impl Busy {
    /// A response made progress: the client took more of it.
    pub fn progressed(&self) {
        let a = &self.activity;
        a.last_write.store(a.now_ms(), Ordering::Relaxed);
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        let a = &self.activity;
        let now = a.now_ms();
        a.last_io.store(now, Ordering::Relaxed);
        if self.responding {
            a.responding.fetch_sub(1, Ordering::Relaxed);
        } else {
            a.handling.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// How fast a client takes a response: the time spent waiting for it to ask for more, against
/// the bytes it took. The send deadline cuts a client that stops reading; this cuts one that
/// reads just often enough to stay inside it, a few bytes at a time.
pub struct SendPace {
    grace: Duration,
    min_bytes_per_sec: f64,
    /// When the last frame was handed over; hyper asks again once the client took it.
    handed_at: Option<Instant>,
    waited: Duration,
    sent: u64,
}

/// A client read a response too slowly.
#[derive(Debug, thiserror::Error)]
#[error("the client read the response slower than {0} bytes per second")]
pub struct SlowReader(pub f64);

impl SendPace {
    pub fn new(d: &Deadlines) -> Self {
        Self {
            grace: d.send,
            min_bytes_per_sec: d.send_min_bytes_per_sec,
            handed_at: None,
            waited: Duration::ZERO,
            sent: 0,
        }
    }

    /// hyper asks for the next frame.
    pub fn asked(&mut self) -> Result<(), SlowReader> {
        if let Some(at) = self.handed_at.take() {
            self.waited += at.elapsed();
        }
        self.check()
    }

    /// A frame of `n` bytes was handed over.
    pub fn handed(&mut self, n: usize) {
        self.sent += n as u64;
        self.handed_at = Some(Instant::now());
    }

    fn check(&self) -> Result<(), SlowReader> {
        let min = self.min_bytes_per_sec;
        let slow = min > 0.0
            && self.waited >= self.grace
            && (self.sent as f64) < min * self.waited.as_secs_f64();
        if slow {
            Err(SlowReader(min))
        } else {
            Ok(())
        }
    }
}

/// A socket that reports its reads and writes to an [`Activity`].
pub struct Watched<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S> Watched<S> {
    pub fn new(inner: S, activity: Arc<Activity>) -> Self {
        Self { inner, activity }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = r {
            self.activity.on_read(buf.filled().len() - before);
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = r {
            self.activity.on_write(n);
        }
        r
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = r {
            self.activity.on_write(n);
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn limits(total: usize, per_ip: usize) -> Limits {
        Limits {
            max_connections: total,
            max_connections_per_ip: per_ip,
            ..Limits::default()
        }
    }

    #[test]
    fn caps_in_all_and_per_ip() {
        let a = Admission::new(&limits(3, 2));
        let ip1: IpAddr = "127.0.0.1".parse().unwrap();
        let ip2: IpAddr = "127.0.0.2".parse().unwrap();
        let s1 = a.admit(ip1);
        let s2 = a.admit(ip1);
        assert!(matches!(s1, Admit::Serve(_)) && matches!(s2, Admit::Serve(_)));
        assert!(matches!(a.admit(ip1), Admit::Overflow(_)), "per-IP cap");
        let s3 = a.admit(ip2);
        assert!(matches!(s3, Admit::Serve(_)));
        assert!(matches!(a.admit(ip2), Admit::Overflow(_)), "global cap");
        assert_eq!(a.open(), 3);
        drop(s1);
        assert!(matches!(a.admit(ip2), Admit::Serve(_)));
        assert_eq!(a.open(), 2, "every dropped slot was given back");
    }

    #[test]
    fn overflow_is_bounded() {
        let a = Admission::new(&limits(1, 1));
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let _held = a.admit(ip);
        let over: Vec<_> = (0..64).map(|_| a.admit(ip)).collect();
        assert!(over.iter().all(|x| matches!(x, Admit::Overflow(_))));
        assert!(matches!(a.admit(ip), Admit::Refuse));
        drop(over);
        assert!(matches!(a.admit(ip), Admit::Overflow(_)));
    }

    #[test]
    fn watchdog_rules() {
        let d = Deadlines {
            header_read: Duration::from_millis(20),
            idle: Duration::from_millis(40),
            send: Duration::from_millis(20),
            send_min_bytes_per_sec: 0.0,
            tls_handshake: Duration::from_millis(20),
        };
        let a = Activity::new();
        assert_eq!(a.expired(&d), None);
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(a.expired(&d), Some(Expired::Idle));
        a.on_read(3); // half a request line
        assert_eq!(a.expired(&d), None);
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(a.expired(&d), Some(Expired::HeaderRead));
        let busy = a.handling();
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(a.expired(&d), None, "a running handler is never cut");
        let sending = a.responding();
        drop(busy);
        sending.progressed();
        assert_eq!(a.expired(&d), None);
        std::thread::sleep(Duration::from_millis(15));
        a.on_write(10); // e.g. a PING answer: not progress of the response
        std::thread::sleep(Duration::from_millis(15));
        assert_eq!(a.expired(&d), Some(Expired::Send));
        drop(sending);
        assert_eq!(
            a.expired(&d),
            None,
            "idle clock starts when the response ends"
        );
    }

    #[test]
    fn send_pace_cuts_only_a_reader_slow_over_the_whole_wait() {
        let d = Deadlines {
            header_read: Duration::from_secs(1),
            idle: Duration::from_secs(1),
            send: Duration::from_millis(30),
            send_min_bytes_per_sec: 10_000.0,
            tls_handshake: Duration::from_secs(1),
        };
        // Fast enough: 1000 bytes per 10 ms of waiting is 100 kB/s.
        let mut p = SendPace::new(&d);
        for _ in 0..6 {
            p.asked().unwrap();
            p.handed(1000);
            std::thread::sleep(Duration::from_millis(10));
        }
        p.asked().unwrap();
        // Too slow: 10 bytes per 10 ms is 1 kB/s; cut once the grace is waited.
        let mut p = SendPace::new(&d);
        let mut cut = None;
        for i in 0..10 {
            if p.asked().is_err() {
                cut = Some(i);
                break;
            }
            p.handed(10);
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(matches!(cut, Some(3..=5)), "{cut:?}");
        // Time the server spends producing frames is not the client's.
        let mut p = SendPace::new(&d);
        p.asked().unwrap();
        std::thread::sleep(Duration::from_millis(40));
        p.handed(1);
        p.asked().unwrap();
        // Off.
        let mut p = SendPace::new(&Deadlines {
            send_min_bytes_per_sec: 0.0,
            ..d
        });
        p.handed(0);
        std::thread::sleep(Duration::from_millis(40));
        p.asked().unwrap();
    }
}
