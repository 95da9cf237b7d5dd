//! The load generator's HTTP side: one kept-alive HTTP/1.1 connection per worker, every
//! request signed (SigV4 in headers, or a presigned URL) as an SDK would sign it.

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures::StreamExt;
use http::{Method, Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use sha2::{Digest, Sha256};

use super::payload::{Bodies, Checker};
use crate::access::signer::{self, Payload, Signing};

pub type ReqBody = BoxBody<Bytes, std::io::Error>;

/// Bodies up to this size are built whole; larger ones stream in pieces of `PIECE`.
pub const WHOLE_LIMIT: u64 = 8 << 20;
const PIECE: usize = 1 << 20;

/// Where requests go and who signs them.
pub struct Target {
    /// `http://host:port`, no trailing slash.
    pub base: String,
    pub authority: String,
    pub access_key: String,
    pub secret_key: String,
    pub region: String,
}

impl Target {
    pub fn new(
        endpoint: &str,
        access_key: &str,
        secret_key: &str,
        region: &str,
    ) -> Result<Target, String> {
        let base = endpoint.trim_end_matches('/').to_owned();
        let uri: http::Uri = base
            .parse()
            .map_err(|e| format!("--endpoint {endpoint}: {e}"))?;
        if uri.scheme_str() != Some("http") {
            return Err(format!(
                "--endpoint {endpoint}: only http:// endpoints are measured (TLS would measure the \
                 TLS library as much as the server)"
            ));
        }
        let authority = uri
            .authority()
            .map(|a| a.to_string())
            .ok_or_else(|| format!("--endpoint {endpoint}: no host"))?;
        Ok(Target {
            base,
            authority,
            access_key: access_key.to_owned(),
            secret_key: secret_key.to_owned(),
            region: region.to_owned(),
        })
    }

    fn signing(&self) -> Signing<'_> {
        Signing {
            access_key: &self.access_key,
            secret: &self.secret_key,
            region: &self.region,
            service: "s3",
            time: SystemTime::now(),
        }
    }

    /// `path_and_query` already encoded.
    pub fn url(&self, path_and_query: &str) -> String {
        format!("{}{}", self.base, path_and_query)
    }

    /// A request signed in its headers.
    pub fn signed(
        &self,
        method: Method,
        path_and_query: &str,
        headers: &[(&str, &str)],
        payload: Payload<'_>,
        body: ReqBody,
    ) -> Result<Request<ReqBody>, String> {
        let url = self.url(path_and_query);
        let mut all: Vec<(&str, &str)> = vec![("host", &self.authority)];
        all.extend_from_slice(headers);
        let auth = signer::sign_s3_headers(&self.signing(), method.as_str(), &url, &all, payload)?;
        let mut req = Request::builder().method(method).uri(path_and_query);
        for (k, v) in all
            .iter()
            .copied()
            .chain(auth.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        {
            req = req.header(k, v);
        }
        req.body(body).map_err(|e| e.to_string())
    }

    /// A signed request without a body.
    pub fn bodiless(
        &self,
        method: Method,
        path_and_query: &str,
    ) -> Result<Request<ReqBody>, String> {
        self.signed(method, path_and_query, &[], Payload::Bytes(&[]), empty())
    }

    /// A GET through a presigned URL, as a browser or curl would send it.
    pub fn presigned_get(&self, path: &str) -> Result<Request<ReqBody>, String> {
        let url = signer::presign(
            &self.signing(),
            "GET",
            &self.url(path),
            &[("host", &self.authority)],
            Duration::from_secs(3600),
        )?;
        let path_and_query = url.strip_prefix(&self.base).unwrap_or(&url).to_owned();
        Request::get(path_and_query)
            .header("host", &self.authority)
            .body(empty())
            .map_err(|e| e.to_string())
    }
}

pub fn empty() -> ReqBody {
    Empty::new().map_err(|never| match never {}).boxed()
}

pub fn full(b: Bytes) -> ReqBody {
    Full::new(b).map_err(|never| match never {}).boxed()
}

/// Object `index`'s bytes `offset..offset + len`, generated as they are sent.
pub fn streamed(bodies: &Bodies, index: u64, offset: u64, len: u64) -> ReqBody {
    let bodies = bodies.clone();
    let pieces = futures::stream::unfold(0u64, move |sent| {
        let bodies = bodies.clone();
        async move {
            if sent >= len {
                return None;
            }
            let n = (len - sent).min(PIECE as u64) as usize;
            let mut piece = vec![0; n];
            bodies.fill(index, offset + sent, &mut piece);
            Some((
                Ok::<_, std::io::Error>(Frame::data(Bytes::from(piece))),
                sent + n as u64,
            ))
        }
    });
    BodyExt::boxed(StreamBody::new(pieces))
}

/// SHA-256 (hex) of object `index`'s bytes `offset..offset + len`, for signed payloads too
/// large to build whole: a client that signs its payload reads it twice, as SDKs do.
pub fn sha256_of(bodies: &Bodies, index: u64, offset: u64, len: u64) -> String {
    let mut h = Sha256::new();
    let mut piece = vec![0; PIECE];
    let mut done = 0;
    while done < len {
        let n = (len - done).min(PIECE as u64) as usize;
        bodies.fill(index, offset + done, &mut piece[..n]);
        h.update(&piece[..n]);
        done += n as u64;
    }
    hex::encode(h.finalize())
}

/// A client socket that re-arms TCP quick ACK after every read. Linux falls back to delayed
/// ACKs (up to 40 ms) on a connection that looks interactive; a server that writes a response
/// in two small segments without TCP_NODELAY then waits for that ACK under Nagle, and a small
/// GET takes 40 ms. Real clients rarely meet it (their requests overlap); a closed-loop load
/// generator meets it on every request, which would measure the stall and not the server.
struct QuickAck(tokio::net::TcpStream);

impl tokio::io::AsyncRead for QuickAck {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let polled = std::pin::Pin::new(&mut self.0).poll_read(cx, buf);
        if let std::task::Poll::Ready(Ok(())) = polled {
            // Best effort: a socket that refuses only keeps its delayed ACKs.
            let _ = rustix::net::sockopt::set_tcp_quickack(&self.0, true);
        }
        polled
    }
}

impl tokio::io::AsyncWrite for QuickAck {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// One worker's connection, opened on first use and again after it fails.
pub struct Conn {
    authority: String,
    sender: Option<SendRequest<ReqBody>>,
}

impl Conn {
    pub fn new(target: &Target) -> Conn {
        Conn {
            authority: target.authority.clone(),
            sender: None,
        }
    }

    async fn ready(&mut self) -> Result<&mut SendRequest<ReqBody>, String> {
        if let Some(mut s) = self.sender.take() {
            if s.ready().await.is_ok() {
                return Ok(self.sender.insert(s));
            }
        }
        let stream = tokio::net::TcpStream::connect(&self.authority)
            .await
            .map_err(|e| format!("connect {}: {e}", self.authority))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(QuickAck(stream)))
            .await
            .map_err(|e| format!("handshake: {e}"))?;
        tokio::spawn(async move {
            // The connection ends when its sender is dropped or the server closes it.
            let _ = conn.await;
        });
        Ok(self.sender.insert(sender))
    }

    /// Sends `req`; a failed send drops the connection so the next request opens a new one.
    pub async fn send(&mut self, req: Request<ReqBody>) -> Result<Response<Incoming>, String> {
        let sender = self.ready().await?;
        match sender.send_request(req).await {
            Ok(r) => Ok(r),
            Err(e) => {
                self.sender = None;
                Err(format!("request: {e}"))
            }
        }
    }
}

/// Reads a whole (small) response body.
pub async fn read_all(resp: Response<Incoming>) -> Result<(StatusCode, Bytes), String> {
    let status = resp.status();
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("reading body: {e}"))?
        .to_bytes();
    Ok((status, body))
}

/// Reads a body as it streams, checking each piece; returns the byte count.
pub async fn read_checked(resp: Response<Incoming>, mut checker: Checker) -> Result<u64, String> {
    let start = checker.position();
    let mut body = resp.into_body().into_data_stream();
    while let Some(piece) = body.next().await {
        let piece = piece.map_err(|e| format!("reading body: {e}"))?;
        checker.check(&piece)?;
    }
    Ok(checker.position() - start)
}

/// The S3 error code in an error response, for messages.
pub fn error_of(status: StatusCode, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let code = super::xml_field(&text, "Code").unwrap_or_default();
    match super::xml_field(&text, "Message") {
        Some(m) => format!("HTTP {} {code}: {m}", status.as_u16()),
        None => format!("HTTP {} {code}", status.as_u16()),
    }
}
