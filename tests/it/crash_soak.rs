//! kill -9 soak: concurrent PUT, multipart and DELETE load, SIGKILL at a random moment,
//! restart, and a ledger check: every acknowledged write is there byte for byte, nothing
//! unacknowledged is half there, and once the sweeper has run no orphan blob is left
//! (object_store's `#N` staging files included).
//!
//! `CNX_SOAK_CYCLES` sets the number of kill cycles (10 by default);
//! `scripts/crash-soak.sh --cycles 100` runs the long version.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use aws_sdk_s3::Client;
use rand::{Rng, SeedableRng};
use serde_json::Value;

use crate::harness::{pattern, Server};

const WRITERS: usize = 4;
const KEYS_PER_WRITER: usize = 6;

/// What a key may hold: an object made by `pattern(size, seed)`, or nothing.
type Content = Option<(usize, u64)>;

/// What the ledger knows of a key.
#[derive(Debug, Clone, PartialEq)]
enum Expect {
    Exactly(Content),
    /// A write was cut off by the kill: the old content or the new one, nothing else.
    Either(Content, Content),
}

type Ledger = Arc<Mutex<HashMap<String, Expect>>>;

fn current(ledger: &Ledger, key: &str) -> Content {
    match ledger.lock().unwrap().get(key) {
        Some(Expect::Exactly(c)) => *c,
        _ => None,
    }
}

async fn multipart(s3: &Client, bucket: &str, key: &str, seed: u64) -> Result<usize, String> {
    let e = |e: &dyn std::fmt::Debug| format!("{e:?}");
    let id = s3
        .create_multipart_upload()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|x| e(&x))?
        .upload_id()
        .unwrap_or_default()
        .to_owned();
    let size = (5 << 20) + 1000;
    let data = pattern(size, seed);
    let mut parts = Vec::new();
    for (n, chunk) in [(1, &data[..5 << 20]), (2, &data[5 << 20..])] {
        let out = s3
            .upload_part()
            .bucket(bucket)
            .key(key)
            .upload_id(&id)
            .part_number(n)
            .body(ByteStream::from(chunk.to_vec()))
            .send()
            .await
            .map_err(|x| e(&x))?;
        parts.push(
            CompletedPart::builder()
                .part_number(n)
                .e_tag(out.e_tag().unwrap_or_default())
                .build(),
        );
    }
    s3.complete_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(&id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await
        .map_err(|x| e(&x))?;
    Ok(size)
}

/// One writer: its own keys, one operation at a time, until an operation fails (the kill).
async fn writer(s3: Client, bucket: String, w: usize, ledger: Ledger, seed_base: u64) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed_base);
    for op in 0u64.. {
        let key = format!("w{w}/k{}", rng.gen_range(0..KEYS_PER_WRITER));
        let old = current(&ledger, &key);
        let seed = seed_base * 1_000_000 + op;
        let roll = rng.gen_range(0..100);
        let (new, result): (Content, Result<(), String>) = if roll < 15 {
            let r = s3.delete_object().bucket(&bucket).key(&key).send().await;
            (None, r.map(|_| ()).map_err(|e| format!("{e:?}")))
        } else if roll < 25 {
            let size = (5 << 20) + 1000;
            let r = multipart(&s3, &bucket, &key, seed).await;
            (Some((size, seed)), r.map(|_| ()))
        } else {
            let size = if roll < 35 {
                rng.gen_range(1 << 20..3 << 20)
            } else {
                rng.gen_range(0..64 << 10)
            };
            let r = s3
                .put_object()
                .bucket(&bucket)
                .key(&key)
                .body(ByteStream::from(pattern(size, seed)))
                .send()
                .await;
            (
                Some((size, seed)),
                r.map(|_| ()).map_err(|e| format!("{e:?}")),
            )
        };
        let mut l = ledger.lock().unwrap();
        match result {
            Ok(()) => {
                l.insert(key, Expect::Exactly(new));
            }
            Err(_) => {
                l.insert(key, Expect::Either(old, new));
                return;
            }
        }
    }
}

/// Checks every key against the ledger and settles what the kill left open.
async fn check(srv: &Server, bucket: &str, ledger: &Ledger) -> usize {
    let s3 = srv.client();
    let keys: Vec<(String, Expect)> = ledger
        .lock()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut checked = 0;
    for (key, expect) in keys {
        let got: Content = match s3.get_object().bucket(bucket).key(&key).send().await {
            Ok(out) => {
                let body = out.body.collect().await.unwrap().into_bytes();
                let options = match &expect {
                    Expect::Exactly(c) => vec![*c],
                    Expect::Either(a, b) => vec![*a, *b],
                };
                let matched = options.into_iter().flatten().find(|(size, seed)| {
                    body.len() == *size && body[..] == pattern(*size, *seed)[..]
                });
                Some(matched.unwrap_or_else(|| {
                    panic!(
                        "{key}: {} bytes that match no write the ledger allows ({expect:?})",
                        body.len()
                    )
                }))
            }
            Err(e) => {
                let code = aws_sdk_s3::error::ProvideErrorMetadata::code(&e).map(str::to_owned);
                assert_eq!(code.as_deref(), Some("NoSuchKey"), "{key}: {e:?}");
                None
            }
        };
        match &expect {
            Expect::Exactly(c) => assert_eq!(&got, c, "{key}: an acknowledged write is lost"),
            Expect::Either(a, b) => {
                assert!(got == *a || got == *b, "{key}: {got:?} not in {expect:?}")
            }
        }
        ledger.lock().unwrap().insert(key, Expect::Exactly(got));
        checked += 1;
    }
    checked
}

fn scrub_report(srv: &Server) -> Value {
    let out = srv
        .command()
        .args(["scrub", "--orphans-older-than", "0", "--data-dir"])
        .arg(srv.data_dir())
        .env_remove("CNX_CONFIG")
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "scrub: {e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// Files under `blobs/` that object_store was still writing (`name#N`).
fn staging_files(srv: &Server) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![srv.data_dir().join("blobs")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else if e.file_name().to_string_lossy().contains('#') {
                out.push(e.path().display().to_string());
            }
        }
    }
    out
}

#[tokio::test]
async fn kill9_soak_loses_nothing_and_leaks_nothing() {
    let mut srv = Server::start();
    if srv.skip_external("kills the server") {
        return;
    }
    let cycles: u64 = std::env::var("CNX_SOAK_CYCLES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(10);
    let bucket = srv.bucket(&srv.client(), "soak").await;
    let ledger: Ledger = Arc::default();
    let started = Instant::now();
    let mut rng = rand::thread_rng();
    let (mut acked_total, mut checked_total) = (0usize, 0usize);
    for cycle in 0..cycles {
        let tasks: Vec<_> = (0..WRITERS)
            .map(|w| {
                tokio::spawn(writer(
                    srv.client(),
                    bucket.clone(),
                    w,
                    ledger.clone(),
                    cycle * 100 + w as u64 + 1,
                ))
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(rng.gen_range(200..1500))).await;
        srv.kill9_and_restart();
        for t in tasks {
            let _ = tokio::time::timeout(Duration::from_secs(60), t).await;
        }
        acked_total += ledger
            .lock()
            .unwrap()
            .values()
            .filter(|e| matches!(e, Expect::Exactly(Some(_))))
            .count();
        checked_total += check(&srv, &bucket, &ledger).await;
    }
    // The sweeper deletes what the kills left staged and what was replaced; then nothing
    // but referenced blobs may remain.
    let deadline = Instant::now() + Duration::from_secs(60);
    let report = loop {
        let r = scrub_report(&srv);
        let leftovers = staging_files(&srv);
        if r["pending_blobs"] == 0 && leftovers.is_empty() {
            break r;
        }
        assert!(
            Instant::now() < deadline,
            "not cleaned up: {r}\nstaging files: {leftovers:?}"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    assert_eq!(report["orphaned"], serde_json::json!([]), "{report}");
    assert_eq!(report["corrupt"], serde_json::json!([]), "{report}");
    assert_eq!(report["missing"], serde_json::json!([]), "{report}");
    println!(
        "crash soak: {cycles} kill -9 cycles, {checked_total} key checks, {acked_total} live objects seen, \
         {} blobs verified, 0 lost, 0 orphaned, {:.1} s",
        report["blobs_checked"],
        started.elapsed().as_secs_f64()
    );
}
