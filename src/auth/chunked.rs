//! Streaming decoder for `Content-Encoding: aws-chunked` request bodies.
//!
//! Framing: `hex-size[;chunk-signature=sig]\r\n<data>\r\n` … then a zero-size chunk,
//! then either the final `\r\n` or trailer lines `name:value\r\n` followed by `\r\n`.
//! Bare `\n` line endings are accepted, as is a body that ends without the final
//! empty line.
//!
//! Payload bytes are handed out as soon as they arrive (zero-copy slices of the
//! input), so with a signer a chunk's data is emitted *before* its signature has been
//! checked: callers must not commit anything until [`ChunkedDecoder::finish`] returns
//! `Ok`. At most one header or trailer line is buffered ([`MAX_LINE`] bytes).

use bytes::{Buf, Bytes, BytesMut};
use sha2::{Digest, Sha256};

use super::sigv4::{hmac_sha256, signature_matches, EMPTY_SHA256_HEX};
use super::{AuthError, ChunkSigner};

/// Longest chunk-header or trailer line accepted, excluding the line ending.
pub const MAX_LINE: usize = 4096;
/// Most trailer lines accepted.
pub const MAX_TRAILERS: usize = 64;

const TRAILER_SIGNATURE: &str = "x-amz-trailer-signature";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading a chunk header line.
    Header,
    /// Inside chunk data.
    Data {
        remaining: u64,
    },
    /// Expecting the CRLF that ends chunk data.
    DataEnd {
        seen_cr: bool,
    },
    /// After the zero-size chunk: trailer lines until an empty line.
    Trailer,
    Done,
}

/// Incremental aws-chunked decoder; see the module documentation.
pub struct ChunkedDecoder {
    signer: Option<ChunkSigner>,
    /// Signature of the previous chunk (lowercase hex), starting with the seed.
    prev_signature: String,
    expect_trailer: bool,
    state: State,
    line: Vec<u8>,
    chunk_signature: Option<String>,
    chunk_hasher: Sha256,
    trailers: Vec<(String, String)>,
    trailer_hasher: Sha256,
    trailer_signature: Option<String>,
    decoded_len: u64,
}

fn framing(msg: &str) -> AuthError {
    AuthError::InvalidRequest(format!("Malformed aws-chunked body: {msg}"))
}

impl ChunkedDecoder {
    /// `signer`: verify chunk (and trailer) signatures; `None` for
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`. `expect_trailer`: trailer lines may follow
    /// the final chunk (and with a signer, `x-amz-trailer-signature` is required).
    pub fn new(signer: Option<ChunkSigner>, expect_trailer: bool) -> Self {
        let prev_signature = signer
            .as_ref()
            .map(|s| s.seed_signature.clone())
            .unwrap_or_default();
        Self {
            signer,
            prev_signature,
            expect_trailer,
            state: State::Header,
            line: Vec::new(),
            chunk_signature: None,
            chunk_hasher: Sha256::new(),
            trailers: Vec::new(),
            trailer_hasher: Sha256::new(),
            trailer_signature: None,
            decoded_len: 0,
        }
    }

    /// Consume as much of `input` as possible, pushing decoded payload slices to `out`.
    /// On return `input` is empty unless an error occurred.
    pub fn feed(&mut self, input: &mut BytesMut, out: &mut Vec<Bytes>) -> Result<(), AuthError> {
        while !input.is_empty() {
            match self.state {
                State::Header | State::Trailer => {
                    let Some(pos) = input.iter().position(|&b| b == b'\n') else {
                        self.buffer_line(input)?;
                        input.clear();
                        break;
                    };
                    self.buffer_line(&input[..pos])?;
                    input.advance(pos + 1);
                    let mut line = std::mem::take(&mut self.line);
                    if line.last() == Some(&b'\r') {
                        line.pop();
                    }
                    if self.state == State::Header {
                        self.on_chunk_header(&line)?;
                    } else {
                        self.on_trailer_line(&line)?;
                    }
                    // Reuse the allocation for the next line.
                    line.clear();
                    self.line = line;
                }
                State::Data { remaining } => {
                    let n = usize::try_from(remaining).map_or(input.len(), |r| r.min(input.len()));
                    let data = input.split_to(n).freeze();
                    if self.signer.is_some() {
                        self.chunk_hasher.update(&data);
                    }
                    // n ≤ remaining, so these cannot overflow / underflow.
                    let n = n as u64;
                    self.decoded_len = self.decoded_len.saturating_add(n);
                    let remaining = remaining - n;
                    out.push(data);
                    if remaining == 0 {
                        let hash = hex::encode(self.chunk_hasher.finalize_reset());
                        self.verify_chunk(&hash)?;
                        self.state = State::DataEnd { seen_cr: false };
                    } else {
                        self.state = State::Data { remaining };
                    }
                }
                State::DataEnd { seen_cr } => {
                    let b = input[0];
                    input.advance(1);
                    self.state = match (seen_cr, b) {
                        (false, b'\r') => State::DataEnd { seen_cr: true },
                        (_, b'\n') => State::Header,
                        _ => return Err(framing("chunk data is not followed by CRLF")),
                    };
                }
                State::Done => {
                    // Tolerate stray line endings after the final empty line.
                    if input.iter().all(|&b| b == b'\r' || b == b'\n') {
                        input.clear();
                    } else {
                        return Err(framing("data after the final chunk"));
                    }
                }
            }
        }
        Ok(())
    }

    /// True once the final chunk and its trailers (if any) have been fully read.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Number of payload bytes decoded so far (compare with
    /// `x-amz-decoded-content-length`).
    pub fn decoded_len(&self) -> u64 {
        self.decoded_len
    }

    /// Call at end of the request body: errors if the final chunk / trailers are
    /// incomplete or the trailer signature is wrong. Returns the trailers (lowercase
    /// names, trimmed values), excluding `x-amz-trailer-signature`.
    pub fn finish(mut self) -> Result<Vec<(String, String)>, AuthError> {
        match self.state {
            State::Done => {}
            State::Trailer => {
                // EOF without the final empty line: accept a last unterminated line.
                if !self.line.is_empty() {
                    let mut line = std::mem::take(&mut self.line);
                    if line.last() == Some(&b'\r') {
                        line.pop();
                    }
                    self.on_trailer_line(&line)?;
                }
                if self.state == State::Trailer {
                    self.on_trailer_line(&[])?;
                }
            }
            State::Header | State::Data { .. } | State::DataEnd { .. } => {
                return Err(AuthError::IncompleteBody(
                    "You did not provide the number of bytes specified by the Content-Length \
                     HTTP header."
                        .to_owned(),
                ))
            }
        }
        Ok(self.trailers)
    }

    fn buffer_line(&mut self, bytes: &[u8]) -> Result<(), AuthError> {
        if self.line.len() + bytes.len() > MAX_LINE + 1 {
            return Err(framing("chunk header or trailer line too long"));
        }
        self.line.extend_from_slice(bytes);
        Ok(())
    }

    fn on_chunk_header(&mut self, line: &[u8]) -> Result<(), AuthError> {
        let line = std::str::from_utf8(line).map_err(|_| framing("invalid chunk header"))?;
        let mut parts = line.split(';');
        let size = parts.next().unwrap_or("").trim();
        if size.is_empty() || size.len() > 16 || !size.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(framing("invalid chunk size"));
        }
        let size = u64::from_str_radix(size, 16).map_err(|_| framing("invalid chunk size"))?;
        let mut signature = None;
        for ext in parts {
            let (name, value) = ext.split_once('=').unwrap_or((ext, ""));
            if name.trim() == "chunk-signature" && signature.replace(value.trim()).is_some() {
                return Err(framing("duplicate chunk-signature"));
            }
        }
        if self.signer.is_some() {
            let sig = signature.ok_or(AuthError::SignatureDoesNotMatch)?;
            self.chunk_signature = Some(sig.to_owned());
        }
        if size == 0 {
            self.verify_chunk(EMPTY_SHA256_HEX)?;
            self.state = State::Trailer;
        } else {
            self.state = State::Data { remaining: size };
        }
        Ok(())
    }

    /// Checks the current chunk's signature against the hex SHA-256 of its data.
    fn verify_chunk(&mut self, data_sha256_hex: &str) -> Result<(), AuthError> {
        let Some(signer) = &self.signer else {
            return Ok(());
        };
        let provided = self
            .chunk_signature
            .take()
            .ok_or(AuthError::SignatureDoesNotMatch)?;
        let sts = format!(
            "AWS4-HMAC-SHA256-PAYLOAD\n{}\n{}\n{}\n{EMPTY_SHA256_HEX}\n{data_sha256_hex}",
            signer.amz_date, signer.scope, self.prev_signature
        );
        let computed = hmac_sha256(&signer.key, sts.as_bytes());
        if !signature_matches(&computed, &provided) {
            return Err(AuthError::SignatureDoesNotMatch);
        }
        self.prev_signature = hex::encode(computed);
        Ok(())
    }

    fn on_trailer_line(&mut self, line: &[u8]) -> Result<(), AuthError> {
        if line.is_empty() {
            self.verify_trailer()?;
            self.state = State::Done;
            return Ok(());
        }
        if !self.expect_trailer {
            return Err(framing("unexpected trailer after the final chunk"));
        }
        if self.trailers.len() >= MAX_TRAILERS {
            return Err(framing("too many trailers"));
        }
        let line = std::str::from_utf8(line).map_err(|_| framing("invalid trailer"))?;
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| framing("invalid trailer"))?;
        let name = name.trim().to_ascii_lowercase();
        let value = value.trim();
        if name.is_empty() {
            return Err(framing("invalid trailer"));
        }
        if name == TRAILER_SIGNATURE {
            if self.trailer_signature.replace(value.to_owned()).is_some() {
                return Err(framing("duplicate x-amz-trailer-signature"));
            }
        } else {
            self.trailer_hasher.update(name.as_bytes());
            self.trailer_hasher.update(b":");
            self.trailer_hasher.update(value.as_bytes());
            self.trailer_hasher.update(b"\n");
            self.trailers.push((name, value.to_owned()));
        }
        Ok(())
    }

    fn verify_trailer(&mut self) -> Result<(), AuthError> {
        let Some(signer) = &self.signer else {
            return Ok(());
        };
        if !self.expect_trailer {
            return Ok(());
        }
        let provided = self
            .trailer_signature
            .as_deref()
            .ok_or(AuthError::SignatureDoesNotMatch)?;
        let trailer_hash = hex::encode(self.trailer_hasher.finalize_reset());
        let sts = format!(
            "AWS4-HMAC-SHA256-TRAILER\n{}\n{}\n{}\n{trailer_hash}",
            signer.amz_date, signer.scope, self.prev_signature
        );
        let computed = hmac_sha256(&signer.key, sts.as_bytes());
        if !signature_matches(&computed, provided) {
            return Err(AuthError::SignatureDoesNotMatch);
        }
        self.prev_signature = hex::encode(computed);
        Ok(())
    }
}

impl std::fmt::Debug for ChunkedDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChunkedDecoder")
            .field("signed", &self.signer.is_some())
            .field("expect_trailer", &self.expect_trailer)
            .field("state", &self.state)
            .field("decoded_len", &self.decoded_len)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::auth::sigv4::signing_key;

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    const DATE: &str = "20130524T000000Z";
    const SCOPE: &str = "20130524/us-east-1/s3/aws4_request";

    fn example_signer(seed: &str) -> ChunkSigner {
        ChunkSigner::new(
            signing_key(SECRET, "20130524", "us-east-1", "s3"),
            DATE.to_owned(),
            SCOPE.to_owned(),
            seed.to_owned(),
        )
    }

    /// Test-side encoder: signs chunks of `sizes` bytes of 'a' as an SDK would.
    fn encode_signed(
        signer: &ChunkSigner,
        data: &[u8],
        chunk: usize,
        trailers: &[(&str, &str)],
    ) -> Vec<u8> {
        let mut prev = signer.seed_signature.clone();
        let mut out = Vec::new();
        let mut pieces: Vec<&[u8]> = data.chunks(chunk).collect();
        pieces.push(&[]);
        for piece in pieces {
            let sts = format!(
                "AWS4-HMAC-SHA256-PAYLOAD\n{DATE}\n{SCOPE}\n{prev}\n{EMPTY_SHA256_HEX}\n{}",
                hex::encode(Sha256::digest(piece))
            );
            prev = hex::encode(hmac_sha256(&signer.key, sts.as_bytes()));
            out.extend_from_slice(
                format!("{:x};chunk-signature={prev}\r\n", piece.len()).as_bytes(),
            );
            out.extend_from_slice(piece);
            if !piece.is_empty() {
                out.extend_from_slice(b"\r\n");
            }
        }
        if !trailers.is_empty() {
            let mut canon = String::new();
            for (k, v) in trailers {
                canon.push_str(&format!("{k}:{v}\n"));
                out.extend_from_slice(format!("{k}:{v}\r\n").as_bytes());
            }
            let sts = format!(
                "AWS4-HMAC-SHA256-TRAILER\n{DATE}\n{SCOPE}\n{prev}\n{}",
                hex::encode(Sha256::digest(canon.as_bytes()))
            );
            let sig = hex::encode(hmac_sha256(&signer.key, sts.as_bytes()));
            out.extend_from_slice(format!("x-amz-trailer-signature:{sig}\r\n").as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        out
    }

    type Decoded = Result<(Vec<u8>, Vec<(String, String)>), AuthError>;

    /// Feeds `body` split at the given sizes (cycled); returns payload and trailers.
    fn decode_split(
        signer: Option<ChunkSigner>,
        trailer: bool,
        body: &[u8],
        splits: &mut dyn FnMut() -> usize,
    ) -> Decoded {
        let mut dec = ChunkedDecoder::new(signer, trailer);
        let mut out = Vec::new();
        let mut payload = Vec::new();
        let mut rest = body;
        while !rest.is_empty() {
            let n = splits().clamp(1, rest.len());
            let mut buf = BytesMut::from(&rest[..n]);
            rest = &rest[n..];
            dec.feed(&mut buf, &mut out)?;
            assert!(buf.is_empty());
            for b in out.drain(..) {
                payload.extend_from_slice(&b);
            }
        }
        let trailers = dec.finish()?;
        Ok((payload, trailers))
    }

    fn decode_all(signer: Option<ChunkSigner>, trailer: bool, body: &[u8]) -> Decoded {
        decode_split(signer, trailer, body, &mut || usize::MAX)
    }

    /// Tiny deterministic PRNG for split sizes.
    fn lcg(seed: u64) -> impl FnMut() -> usize {
        let mut s = seed;
        move || {
            s = s
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            // Mostly small splits, sometimes large ones.
            let r = (s >> 33) as usize;
            if r % 7 == 0 {
                r % 70_000
            } else {
                r % 97 + 1
            }
        }
    }

    const SEED: &str = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";
    const SIG1: &str = "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648";
    const SIG2: &str = "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497";
    const SIG3: &str = "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9";

    fn aws_example_body() -> Vec<u8> {
        let mut body = Vec::new();
        body.extend_from_slice(format!("10000;chunk-signature={SIG1}\r\n").as_bytes());
        body.extend_from_slice(&[b'a'; 65536]);
        body.extend_from_slice(format!("\r\n400;chunk-signature={SIG2}\r\n").as_bytes());
        body.extend_from_slice(&[b'a'; 1024]);
        body.extend_from_slice(format!("\r\n0;chunk-signature={SIG3}\r\n\r\n").as_bytes());
        body
    }

    #[test]
    fn aws_streaming_example_whole() {
        let body = aws_example_body();
        assert_eq!(body.len(), 66824); // the example's Content-Length
        let (payload, trailers) = decode_all(Some(example_signer(SEED)), false, &body).unwrap();
        assert_eq!(payload, vec![b'a'; 66560]);
        assert!(trailers.is_empty());
        // Our test encoder reproduces the published framing byte for byte.
        assert_eq!(
            encode_signed(&example_signer(SEED), &[b'a'; 66560], 65536, &[]),
            body
        );
    }

    #[test]
    fn aws_streaming_example_byte_by_byte_and_random_splits() {
        let body = aws_example_body();
        let (payload, _) =
            decode_split(Some(example_signer(SEED)), false, &body, &mut || 1).unwrap();
        assert_eq!(payload.len(), 66560);
        for seed in 0..20 {
            let (payload, _) =
                decode_split(Some(example_signer(SEED)), false, &body, &mut lcg(seed)).unwrap();
            assert_eq!(payload, vec![b'a'; 66560], "seed {seed}");
        }
    }

    #[test]
    fn zero_copy_slices() {
        let body = aws_example_body();
        let mut dec = ChunkedDecoder::new(Some(example_signer(SEED)), false);
        let mut buf = BytesMut::from(&body[..]);
        let base = buf.as_ptr() as usize;
        let mut out = Vec::new();
        dec.feed(&mut buf, &mut out).unwrap();
        assert!(dec.is_done());
        assert_eq!(dec.decoded_len(), 66560);
        assert_eq!(out.len(), 2);
        // The first slice starts right after the 88-byte chunk header, inside the input.
        assert_eq!(out[0].as_ptr() as usize, base + 88);
        assert_eq!(out[0].len(), 65536);
        dec.finish().unwrap();
    }

    #[test]
    fn aws_streaming_example_tampering() {
        let body = aws_example_body();
        // Wrong seed.
        let other = "0".repeat(64);
        assert!(matches!(
            decode_all(Some(example_signer(&other)), false, &body),
            Err(AuthError::SignatureDoesNotMatch)
        ));
        // Flipped payload byte in each chunk.
        for pos in [100, 65536 + 88 + 2 + 86 + 5] {
            let mut bad = body.clone();
            bad[pos] = b'b';
            assert!(matches!(
                decode_all(Some(example_signer(SEED)), false, &bad),
                Err(AuthError::SignatureDoesNotMatch)
            ));
        }
        // Wrong final-chunk signature.
        let bad = String::from_utf8(body.clone()).unwrap().replace(SIG3, SIG2);
        assert!(matches!(
            decode_all(Some(example_signer(SEED)), false, bad.as_bytes()),
            Err(AuthError::SignatureDoesNotMatch)
        ));
        // Missing chunk signature in signed mode.
        assert!(decode_all(Some(example_signer(SEED)), false, b"0\r\n\r\n").is_err());
        // Truncated body.
        for cut in [0, 10, 88, 5000, 65536 + 88 + 1, body.len() - 40] {
            let r = decode_all(Some(example_signer(SEED)), false, &body[..cut]);
            assert!(
                matches!(r, Err(AuthError::IncompleteBody(_))),
                "cut {cut}: {r:?}"
            );
        }
        // Missing only the final empty line is accepted.
        let (p, _) =
            decode_all(Some(example_signer(SEED)), false, &body[..body.len() - 2]).unwrap();
        assert_eq!(p.len(), 66560);
    }

    #[test]
    fn aws_trailer_example() {
        // AWS "signature calculations for trailing headers" example (same request as
        // the streaming example, with x-amz-trailer: x-amz-checksum-crc32c).
        let seed = "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e";
        let mut body = Vec::new();
        body.extend_from_slice(
            b"10000;chunk-signature=b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2\r\n",
        );
        body.extend_from_slice(&[b'a'; 65536]);
        body.extend_from_slice(
            b"\r\n400;chunk-signature=1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7\r\n",
        );
        body.extend_from_slice(&[b'a'; 1024]);
        body.extend_from_slice(
            b"\r\n0;chunk-signature=2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992\r\n\
              x-amz-checksum-crc32c:sOO8/Q==\r\n\
              x-amz-trailer-signature:d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435\r\n\r\n",
        );
        let expect = vec![("x-amz-checksum-crc32c".to_owned(), "sOO8/Q==".to_owned())];
        let (p, t) = decode_all(Some(example_signer(seed)), true, &body).unwrap();
        assert_eq!((p.len(), &t), (66560, &expect));
        let (_, t) = decode_split(Some(example_signer(seed)), true, &body, &mut || 1).unwrap();
        assert_eq!(t, expect);
        for s in 0..10 {
            let (p, t) =
                decode_split(Some(example_signer(seed)), true, &body, &mut lcg(s)).unwrap();
            assert_eq!((p, &t), (vec![b'a'; 66560], &expect));
        }
        // Same bytes from the test encoder.
        let ours = encode_signed(
            &example_signer(seed),
            &[b'a'; 66560],
            65536,
            &[("x-amz-checksum-crc32c", "sOO8/Q==")],
        );
        assert_eq!(ours, body);
        // Without trailer support the trailer lines are rejected.
        assert!(decode_all(Some(example_signer(seed)), false, &body).is_err());
    }

    #[test]
    fn signed_trailer_roundtrip() {
        let signer = example_signer(SEED);
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let trailers = [("x-amz-checksum-crc32c", "sOO8/Q==")];
        let body = encode_signed(&signer, &data, 65536, &trailers);
        for seed in 0..5 {
            let (payload, got) =
                decode_split(Some(signer.clone()), true, &body, &mut lcg(seed)).unwrap();
            assert_eq!(payload, data);
            assert_eq!(
                got,
                vec![("x-amz-checksum-crc32c".to_owned(), "sOO8/Q==".to_owned())]
            );
        }
        // Tampered trailer value.
        let bad = String::from_utf8_lossy(&body).replace("sOO8/Q==", "AAAAAA==");
        let mut bad_bytes = body.clone();
        let idx = body.windows(8).position(|w| w == b"sOO8/Q==").unwrap();
        bad_bytes[idx..idx + 8].copy_from_slice(b"AAAAAA==");
        assert!(bad.len() > 10);
        assert!(matches!(
            decode_all(Some(signer.clone()), true, &bad_bytes),
            Err(AuthError::SignatureDoesNotMatch)
        ));
        // Missing trailer signature.
        let text = String::from_utf8_lossy(&body[body.len() - 200..]).into_owned();
        let sig_start = body.len() - 200 + text.find("x-amz-trailer-signature").unwrap();
        let mut no_sig = body[..sig_start].to_vec();
        no_sig.extend_from_slice(b"\r\n");
        assert!(matches!(
            decode_all(Some(signer), true, &no_sig),
            Err(AuthError::SignatureDoesNotMatch)
        ));
    }

    #[test]
    fn unsigned_trailer_as_sdks_send_it() {
        let data = vec![b'x'; 70_000];
        let mut body = Vec::new();
        body.extend_from_slice(b"10000\r\n");
        body.extend_from_slice(&data[..65536]);
        body.extend_from_slice(b"\r\n1170\r\n");
        body.extend_from_slice(&data[65536..]);
        body.extend_from_slice(b"\r\n0\r\nx-amz-checksum-crc32:AbCdEf==\r\n\r\n");
        let expect = vec![("x-amz-checksum-crc32".to_owned(), "AbCdEf==".to_owned())];
        let (p, t) = decode_all(None, true, &body).unwrap();
        assert_eq!((p.len(), &t), (70_000, &expect));
        let (p, t) = decode_split(None, true, &body, &mut || 1).unwrap();
        assert_eq!((p, &t), (data.clone(), &expect));
        for seed in 0..10 {
            let (_, t) = decode_split(None, true, &body, &mut lcg(seed)).unwrap();
            assert_eq!(t, expect);
        }
        // Variants: bare \n endings, no final empty line, extra line ending, mixed-case
        // name, spaces around the value.
        for tail in [
            &b"0\nx-amz-checksum-crc32:AbCdEf==\n\n"[..],
            b"0\r\nx-amz-checksum-crc32:AbCdEf==\r\n",
            b"0\r\nx-amz-checksum-crc32:AbCdEf==",
            b"0\r\nx-amz-checksum-crc32:AbCdEf==\n\r\n",
            b"0\r\nx-amz-checksum-crc32:AbCdEf==\r\n\r\n\r\n",
            b"0\r\nX-Amz-Checksum-CRC32: AbCdEf== \r\n\r\n",
        ] {
            let mut b = b"5\r\nhello\r\n".to_vec();
            b.extend_from_slice(tail);
            let (p, t) = decode_split(None, true, &b, &mut || 1).unwrap();
            assert_eq!((p.as_slice(), &t), (&b"hello"[..], &expect), "{tail:?}");
        }
        // A chunk-signature extension is ignored when unsigned.
        let (p, _) = decode_all(None, true, b"3;chunk-signature=abc\r\nabc\r\n0\r\n\r\n").unwrap();
        assert_eq!(p, b"abc");
    }

    #[test]
    fn malformed_framing() {
        let cases: &[&[u8]] = &[
            b"zz\r\n",                     // bad hex
            b"+5\r\nhello\r\n0\r\n\r\n",   // sign not allowed
            b"\r\n",                       // empty size
            b"11111111111111111\r\n",      // > 16 hex digits
            b"5\r\nhelloX\r\n0\r\n\r\n",   // data longer than declared
            b"0\r\n\r\ngarbage",           // data after end
            b"0\r\nnot-a-trailer\r\n\r\n", // trailer without ':'
            b"0\r\n:v\r\n\r\n",            // empty trailer name
        ];
        for case in cases {
            let r = decode_all(None, true, case);
            assert!(
                matches!(r, Err(AuthError::InvalidRequest(_))),
                "{:?}: {r:?}",
                String::from_utf8_lossy(case)
            );
        }
        // Trailers when none are expected.
        assert!(decode_all(None, false, b"0\r\nx-amz-checksum-crc32:AA==\r\n\r\n").is_err());
        // Overlong header line, even when split.
        let long = vec![b'1'; MAX_LINE + 10];
        assert!(decode_split(None, false, &long, &mut || 100).is_err());
        // Incomplete.
        for case in [
            &b""[..],
            b"5\r\nhel",
            b"5\r\nhello",
            b"5\r\nhello\r",
            b"5\r\nhello\r\n",
            b"5",
        ] {
            let r = decode_all(None, false, case);
            assert!(
                matches!(r, Err(AuthError::IncompleteBody(_))),
                "{case:?}: {r:?}"
            );
        }
        // Huge declared size is fine to start (streams) but incomplete at EOF.
        let r = decode_all(None, false, b"ffffffffffffffff\r\nabc");
        assert!(matches!(r, Err(AuthError::IncompleteBody(_))));
    }
}
