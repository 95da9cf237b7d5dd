//! The workloads: what one operation of each does, and the worker pool that runs them for a
//! count or a duration.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, StatusCode};

use super::client::{self, Conn, Target, WHOLE_LIMIT};
use super::payload::Bodies;
use super::stats::Tally;
use crate::access::signer::{encode_key_path, uri_encode, Payload};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// PUT distinct objects.
    Put,
    /// GET the objects PUT wrote, every byte checked.
    Get,
    /// HEAD them, the length checked.
    Head,
    /// ListObjectsV2 pages over the bucket; a full pass must see every object.
    List,
    /// DELETE the objects PUT wrote, each once (whatever the count or duration).
    Delete,
    /// Multipart uploads of distinct objects (`--part-size` parts), then completed.
    Multipart,
    /// 70 % GET, 20 % PUT of new keys, 10 % HEAD, over the objects PUT wrote.
    Mixed,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Put => "put",
            Kind::Get => "get",
            Kind::Head => "head",
            Kind::List => "list",
            Kind::Delete => "delete",
            Kind::Multipart => "multipart",
            Kind::Mixed => "mixed",
        }
    }

    /// Whether the workload needs the objects a PUT workload wrote.
    pub fn reads_objects(self) -> bool {
        matches!(self, Kind::Get | Kind::Head | Kind::Delete | Kind::Mixed)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PayloadMode {
    /// `UNSIGNED-PAYLOAD`, as SDKs send over HTTPS and presigned PUTs do.
    Unsigned,
    /// The body's SHA-256 in the signature, as SDKs send over plain HTTP.
    Signed,
}

/// Everything a workload's operations share.
pub struct Bench {
    pub target: Target,
    pub bucket: String,
    pub bodies: Bodies,
    pub size: u64,
    pub part_size: u64,
    pub payload: PayloadMode,
    pub presigned: bool,
    pub list_page: u32,
    /// Objects the PUT workload wrote: `obj(0) .. obj(objects)`.
    pub objects: AtomicU64,
    /// Keys made by mixed PUTs, so they do not collide with PUT's.
    pub mixed_next: AtomicU64,
}

/// Index offsets that keep each workload's bodies apart (no two objects share bytes).
const MULTIPART_BASE: u64 = 1 << 40;
const MIXED_BASE: u64 = 2 << 40;

impl Bench {
    pub fn key(&self, index: u64) -> String {
        format!("obj-{index:010}")
    }

    fn object_path(&self, key: &str) -> String {
        format!("/{}/{}", uri_encode(&self.bucket), encode_key_path(key))
    }

    /// PUTs object `index` under `key`; returns the bytes sent.
    async fn put(&self, conn: &mut Conn, key: &str, index: u64) -> Result<u64, String> {
        let path = self.object_path(key);
        let len = self.size.to_string();
        let headers = [("content-length", len.as_str())];
        let req = if self.size <= WHOLE_LIMIT {
            let body = self.bodies.whole(index, self.size);
            let payload = match self.payload {
                PayloadMode::Signed => Payload::Bytes(&body),
                PayloadMode::Unsigned => Payload::Unsigned,
            };
            self.target.signed(
                Method::PUT,
                &path,
                &headers,
                payload,
                client::full(body.clone()),
            )?
        } else {
            let payload = match self.payload {
                PayloadMode::Signed => {
                    Payload::Sha256(client::sha256_of(&self.bodies, index, 0, self.size))
                }
                PayloadMode::Unsigned => Payload::Unsigned,
            };
            let body = client::streamed(&self.bodies, index, 0, self.size);
            self.target
                .signed(Method::PUT, &path, &headers, payload, body)?
        };
        expect_ok(conn, req, StatusCode::OK).await?;
        Ok(self.size)
    }

    async fn get(&self, conn: &mut Conn, index: u64) -> Result<u64, String> {
        let path = self.object_path(&self.key(index));
        let req = if self.presigned {
            self.target.presigned_get(&path)?
        } else {
            self.target.bodiless(Method::GET, &path)?
        };
        let resp = conn.send(req).await?;
        if resp.status() != StatusCode::OK {
            let (status, body) = client::read_all(resp).await?;
            return Err(client::error_of(status, &body));
        }
        let got = client::read_checked(resp, self.bodies.checker(index, 0)).await?;
        if got != self.size {
            return Err(format!("GET returned {got} bytes of {}", self.size));
        }
        Ok(got)
    }

    async fn head(&self, conn: &mut Conn, index: u64) -> Result<u64, String> {
        let path = self.object_path(&self.key(index));
        let req = self.target.bodiless(Method::HEAD, &path)?;
        let resp = conn.send(req).await?;
        let status = resp.status();
        let length = resp
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        client::read_all(resp).await?;
        if status != StatusCode::OK {
            return Err(format!("HTTP {}", status.as_u16()));
        }
        if length != Some(self.size) {
            return Err(format!("HEAD says {length:?} bytes, not {}", self.size));
        }
        Ok(0)
    }

    async fn delete(&self, conn: &mut Conn, index: u64) -> Result<u64, String> {
        let path = self.object_path(&self.key(index));
        let req = self.target.bodiless(Method::DELETE, &path)?;
        expect_ok(conn, req, StatusCode::NO_CONTENT).await?;
        Ok(0)
    }

    /// One ListObjectsV2 page after `token`: (keys on it, the next token when truncated).
    pub async fn list_page(
        &self,
        conn: &mut Conn,
        token: Option<&str>,
    ) -> Result<(Vec<String>, Option<String>), String> {
        let mut path = format!(
            "/{}?list-type=2&max-keys={}",
            uri_encode(&self.bucket),
            self.list_page
        );
        if let Some(t) = token {
            path.push_str("&continuation-token=");
            path.push_str(&uri_encode(t));
        }
        let req = self.target.bodiless(Method::GET, &path)?;
        let resp = conn.send(req).await?;
        let (status, body) = client::read_all(resp).await?;
        if status != StatusCode::OK {
            return Err(client::error_of(status, &body));
        }
        let text = String::from_utf8_lossy(&body);
        let keys = super::xml_fields(&text, "Key");
        let truncated = super::xml_field(&text, "IsTruncated").as_deref() == Some("true");
        let next = super::xml_field(&text, "NextContinuationToken");
        if truncated && next.is_none() {
            return Err("a truncated page without NextContinuationToken".into());
        }
        Ok((keys, next.filter(|_| truncated)))
    }

    async fn multipart(&self, conn: &mut Conn, index: u64) -> Result<u64, String> {
        let key = format!("mp-{index:010}");
        let path = self.object_path(&key);
        let body_index = MULTIPART_BASE + index;
        let req = self
            .target
            .bodiless(Method::POST, &format!("{path}?uploads="))?;
        let (status, body) = client::read_all(conn.send(req).await?).await?;
        if status != StatusCode::OK {
            return Err(format!(
                "create upload: {}",
                client::error_of(status, &body)
            ));
        }
        let upload_id = super::xml_field(&String::from_utf8_lossy(&body), "UploadId")
            .ok_or("create upload: no UploadId")?;
        let result = self.upload_parts(conn, &path, &upload_id, body_index).await;
        let etags = match result {
            Ok(etags) => etags,
            Err(e) => {
                let abort = format!("{path}?uploadId={}", uri_encode(&upload_id));
                if let Ok(req) = self.target.bodiless(Method::DELETE, &abort) {
                    let _ = conn.send(req).await;
                }
                return Err(e);
            }
        };
        let mut doc = String::from("<CompleteMultipartUpload>");
        for (n, etag) in etags.iter().enumerate() {
            doc.push_str(&format!(
                "<Part><PartNumber>{}</PartNumber><ETag>{}</ETag></Part>",
                n + 1,
                etag.replace('"', "&quot;")
            ));
        }
        doc.push_str("</CompleteMultipartUpload>");
        let doc = Bytes::from(doc);
        let req = self.target.signed(
            Method::POST,
            &format!("{path}?uploadId={}", uri_encode(&upload_id)),
            &[],
            Payload::Bytes(&doc),
            client::full(doc.clone()),
        )?;
        let (status, body) = client::read_all(conn.send(req).await?).await?;
        // Complete may answer 200 with an error document.
        if status != StatusCode::OK || String::from_utf8_lossy(&body).contains("<Error>") {
            return Err(format!("complete: {}", client::error_of(status, &body)));
        }
        Ok(self.size)
    }

    async fn upload_parts(
        &self,
        conn: &mut Conn,
        path: &str,
        upload_id: &str,
        body_index: u64,
    ) -> Result<Vec<String>, String> {
        let mut etags = Vec::new();
        let mut offset = 0;
        let mut number = 1;
        while offset < self.size || number == 1 {
            let len = (self.size - offset).min(self.part_size);
            let payload = match self.payload {
                PayloadMode::Signed => {
                    Payload::Sha256(client::sha256_of(&self.bodies, body_index, offset, len))
                }
                PayloadMode::Unsigned => Payload::Unsigned,
            };
            let len_text = len.to_string();
            let req = self.target.signed(
                Method::PUT,
                &format!(
                    "{path}?partNumber={number}&uploadId={}",
                    uri_encode(upload_id)
                ),
                &[("content-length", &len_text)],
                payload,
                client::streamed(&self.bodies, body_index, offset, len),
            )?;
            let resp = conn.send(req).await?;
            let etag = resp
                .headers()
                .get(http::header::ETAG)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let (status, body) = client::read_all(resp).await?;
            if status != StatusCode::OK {
                return Err(format!(
                    "part {number}: {}",
                    client::error_of(status, &body)
                ));
            }
            etags.push(etag.ok_or(format!("part {number}: no ETag"))?);
            offset += len;
            number += 1;
        }
        Ok(etags)
    }

    /// One operation of the mixed workload, picked by `roll` (0..100).
    async fn mixed(&self, conn: &mut Conn, roll: u64, index: u64) -> Result<u64, String> {
        match roll {
            0..70 => self.get(conn, index).await,
            70..90 => {
                let n = self.mixed_next.fetch_add(1, Ordering::Relaxed);
                self.put(conn, &format!("mixed-{n:010}"), MIXED_BASE + n)
                    .await
            }
            _ => self.head(conn, index).await,
        }
    }
}

async fn expect_ok(
    conn: &mut Conn,
    req: http::Request<client::ReqBody>,
    want: StatusCode,
) -> Result<(), String> {
    let (status, body) = client::read_all(conn.send(req).await?).await?;
    if status != want {
        return Err(client::error_of(status, &body));
    }
    Ok(())
}

/// How long a workload runs.
#[derive(Debug, Clone, Copy)]
pub enum Extent {
    Count(u64),
    Duration(Duration),
}

/// Shared progress: operations done and bytes moved so far.
#[derive(Default)]
pub struct Progress {
    pub ops: AtomicU64,
    pub bytes: AtomicU64,
}

/// Runs `kind` on `concurrency` workers; returns the merged tally.
pub async fn run(
    bench: Arc<Bench>,
    kind: Kind,
    concurrency: usize,
    extent: Extent,
    progress: Arc<Progress>,
) -> Tally {
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let written = bench.objects.load(Ordering::Relaxed);
    let objects = written.max(1);
    let extent = match kind {
        Kind::Delete => Extent::Count(written),
        _ => extent,
    };
    let mut workers = Vec::new();
    for worker in 0..concurrency {
        let bench = bench.clone();
        let next = next.clone();
        let progress = progress.clone();
        workers.push(tokio::spawn(async move {
            let mut conn = Conn::new(&bench.target);
            let mut tally = Tally::default();
            let mut list = ListCursor::default();
            let mut rng = Rng(0x5DEE_CE66 ^ worker as u64);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                match extent {
                    Extent::Count(n) if i >= n => break,
                    Extent::Duration(d) if started.elapsed() >= d => break,
                    _ => {}
                }
                let t0 = Instant::now();
                let result = match kind {
                    Kind::Put => {
                        // New objects go after those already there (`--existing`).
                        let index = written + i;
                        let r = bench.put(&mut conn, &bench.key(index), index).await;
                        if r.is_ok() {
                            bench.objects.fetch_max(index + 1, Ordering::Relaxed);
                        }
                        r
                    }
                    Kind::Get => bench.get(&mut conn, i % objects).await,
                    Kind::Head => bench.head(&mut conn, i % objects).await,
                    Kind::Delete => bench.delete(&mut conn, i % objects).await,
                    Kind::List => list.step(&bench, &mut conn, written).await,
                    Kind::Multipart => bench.multipart(&mut conn, i).await,
                    Kind::Mixed => {
                        let roll = rng.next() % 100;
                        let index = rng.next() % objects;
                        bench.mixed(&mut conn, roll, index).await
                    }
                };
                match result {
                    Ok(bytes) => {
                        tally.ok(started.elapsed(), t0.elapsed(), bytes);
                        progress.bytes.fetch_add(bytes, Ordering::Relaxed);
                    }
                    Err(e) => tally.failed(format!("{} #{i}: {e}", kind.name())),
                }
                progress.ops.fetch_add(1, Ordering::Relaxed);
            }
            tally
        }));
    }
    let mut total = Tally::default();
    for w in workers {
        match w.await {
            Ok(t) => total.merge(t),
            Err(e) => total.failed(format!("worker stopped: {e}")),
        }
    }
    total
}

/// A worker's place in its own pass over the bucket.
#[derive(Default)]
struct ListCursor {
    token: Option<String>,
    seen: u64,
}

impl ListCursor {
    /// Lists the next page; at the end of a pass, checks that it saw every object.
    async fn step(&mut self, bench: &Bench, conn: &mut Conn, objects: u64) -> Result<u64, String> {
        let (keys, next) = bench.list_page(conn, self.token.as_deref()).await?;
        self.seen += keys.len() as u64;
        self.token = next;
        if self.token.is_none() {
            let seen = std::mem::take(&mut self.seen);
            // Other workloads may have added keys (mixed, multipart), never removed any.
            if seen < objects {
                return Err(format!("a full listing saw {seen} keys of {objects}"));
            }
        }
        Ok(0)
    }
}

/// splitmix64: the mixed workload's dice, seeded per worker so runs repeat.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}
