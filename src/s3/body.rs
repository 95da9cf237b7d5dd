//! The request payload of an S3 call, decoded and verified while it streams: plain bodies with
//! a signed SHA-256, unsigned bodies, and aws-chunked bodies with chunk signatures and trailers.
//! Nothing here holds more than one network frame.

use std::collections::VecDeque;

use crate::web::body::RequestBody;
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use sha2::{Digest, Sha256};

use super::error::{S3Code, S3Error, S3Result};
use crate::auth::chunked::ChunkedDecoder;
use crate::auth::{PayloadMode, Verified};

pub struct Payload<'a> {
    body: &'a mut RequestBody,
    sha256: Option<(Sha256, [u8; 32])>,
    decoder: Option<ChunkedDecoder>,
    buf: BytesMut,
    ready: VecDeque<Bytes>,
    trailers: Vec<(String, String)>,
    done: bool,
    received: u64,
}

impl<'a> Payload<'a> {
    pub fn new(body: &'a mut RequestBody, verified: &Verified) -> Self {
        let (sha256, decoder) = match &verified.payload {
            PayloadMode::Sha256(h) => (Some((Sha256::new(), *h)), None),
            PayloadMode::Unsigned => (None, None),
            PayloadMode::StreamingSigned { trailer } => (
                None,
                Some(ChunkedDecoder::new(verified.chunk_signer.clone(), *trailer)),
            ),
            PayloadMode::StreamingUnsignedTrailer => (None, Some(ChunkedDecoder::new(None, true))),
        };
        Self {
            body,
            sha256,
            decoder,
            buf: BytesMut::new(),
            ready: VecDeque::new(),
            trailers: Vec::new(),
            done: false,
            received: 0,
        }
    }

    /// Whether the body is aws-chunked framed (its decoded length comes from a header).
    pub fn is_chunked(&self) -> bool {
        self.decoder.is_some()
    }

    /// The next piece of decoded payload; `None` once the body ended and verified.
    pub async fn next(&mut self) -> S3Result<Option<Bytes>> {
        loop {
            if let Some(b) = self.ready.pop_front() {
                self.received += b.len() as u64;
                return Ok(Some(b));
            }
            if self.done {
                return Ok(None);
            }
            match self.body.frame().await {
                Some(Ok(frame)) => {
                    let Ok(data) = frame.into_data() else {
                        continue; // HTTP trailers of the transfer encoding carry nothing we use
                    };
                    match self.decoder.as_mut() {
                        Some(dec) => {
                            if self.buf.is_empty() {
                                // Takes the frame's buffer without copying when it is unshared.
                                self.buf = BytesMut::from(data);
                            } else {
                                self.buf.extend_from_slice(&data);
                            }
                            let mut out = Vec::new();
                            dec.feed(&mut self.buf, &mut out).map_err(S3Error::from)?;
                            self.ready.extend(out.into_iter().filter(|b| !b.is_empty()));
                        }
                        None => {
                            if let Some((h, _)) = self.sha256.as_mut() {
                                h.update(&data);
                            }
                            if !data.is_empty() {
                                self.ready.push_back(data);
                            }
                        }
                    }
                }
                Some(Err(e)) if e.is_timeout() => {
                    return Err(S3Error::new(
                        S3Code::RequestTimeout,
                        format!(
                            "{} ({e}).",
                            S3Code::RequestTimeout
                                .default_message()
                                .trim_end_matches('.')
                        ),
                    ))
                }
                Some(Err(e)) => {
                    return Err(S3Error::new(
                        S3Code::IncompleteBody,
                        format!("The request body could not be read: {e}"),
                    ))
                }
                None => self.end()?,
            }
        }
    }

    fn end(&mut self) -> S3Result<()> {
        self.done = true;
        if let Some(dec) = self.decoder.take() {
            self.trailers = dec.finish().map_err(S3Error::from)?;
        }
        if let Some((h, want)) = self.sha256.take() {
            let got: [u8; 32] = h.finalize().into();
            if got != want {
                return Err(S3Error::code(S3Code::XAmzContentSHA256Mismatch)
                    .with("ClientComputedContentSHA256", hex::encode(want))
                    .with("S3ComputedContentSHA256", hex::encode(got)));
            }
        }
        Ok(())
    }

    /// Trailer fields sent after an aws-chunked body (names lowercase).
    pub fn trailer(&self, name: &str) -> Option<&str> {
        self.trailers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn received(&self) -> u64 {
        self.received
    }

    /// Reads a small body whole (XML of bucket operations), refusing more than `limit` bytes.
    pub async fn read_small(&mut self, limit: usize) -> S3Result<Bytes> {
        let mut out = BytesMut::new();
        while let Some(b) = self.next().await? {
            if out.len() + b.len() > limit {
                return Err(S3Error::new(
                    S3Code::MalformedXML,
                    format!("The request body is larger than {limit} bytes."),
                ));
            }
            out.extend_from_slice(&b);
        }
        Ok(out.freeze())
    }
}

/// Reads and discards what is left of a request body the handler refused, up to `limit`
/// bytes, so that a client still sending it reads the error instead of a reset connection.
pub async fn drain(body: &mut RequestBody, limit: u64) {
    use http_body::Body as _;
    let mut seen = 0u64;
    while !body.is_end_stream() && seen <= limit {
        match body.frame().await {
            Some(Ok(f)) => seen += f.data_ref().map_or(0, |d| d.len() as u64),
            _ => return,
        }
    }
}
