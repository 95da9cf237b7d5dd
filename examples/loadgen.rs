//! A simple load generator that prints figures: PUT/GET ops/s and latency percentiles for
//! small objects, MB/s for one large object, and the server's peak RSS when it spawned it.
//!
//! ```sh
//! cargo run --example loadgen -- --binary $CARGO_TARGET_DIR/debug/cnx-storage \
//!     --small-count 2000 --small-size 4096 --concurrency 16 --large-mib 256
//! ```
//! With `--endpoint URL --access-key AK --secret-key SK` it drives a running server instead.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use bytes::Bytes;

struct Args {
    binary: Option<String>,
    endpoint: Option<String>,
    access_key: String,
    secret_key: String,
    small_count: usize,
    small_size: usize,
    concurrency: usize,
    large_mib: usize,
}

fn parse_args() -> Args {
    let mut a = Args {
        binary: None,
        endpoint: None,
        access_key: "LOADGENACCESSKEY0001".into(),
        secret_key: "loadgen-secret-key-0000000000000000000000".into(),
        small_count: 2000,
        small_size: 4096,
        concurrency: 16,
        large_mib: 256,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < argv.len() {
        let v = argv.get(i + 1).cloned().unwrap_or_default();
        match argv[i].as_str() {
            "--binary" => a.binary = Some(v),
            "--endpoint" => a.endpoint = Some(v),
            "--access-key" => a.access_key = v,
            "--secret-key" => a.secret_key = v,
            "--small-count" => a.small_count = v.parse().expect("--small-count N"),
            "--small-size" => a.small_size = v.parse().expect("--small-size BYTES"),
            "--concurrency" => a.concurrency = v.parse().expect("--concurrency N"),
            "--large-mib" => a.large_mib = v.parse().expect("--large-mib N"),
            other => panic!("unknown argument {other}"),
        }
        i += 2;
    }
    a
}

fn peak_rss_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx].as_secs_f64() * 1000.0
}

async fn phase<F, Fut>(name: &str, count: usize, concurrency: usize, bytes_each: usize, f: F)
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let f = Arc::new(f);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (f, next) = (f.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= count {
                    break;
                }
                let t = Instant::now();
                f(i).await;
                lat.push(t.elapsed());
            }
            lat
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let secs = started.elapsed().as_secs_f64();
    all.sort();
    println!(
        "{name:<10} {count:>7} ops  {:>9.0} ops/s  {:>8.1} MB/s  p50 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms",
        count as f64 / secs,
        (count * bytes_each) as f64 / secs / 1e6,
        percentile(&all, 0.50),
        percentile(&all, 0.99),
        percentile(&all, 1.0),
    );
}

#[tokio::main]
async fn main() {
    let a = parse_args();
    let data_dir = tempfile::tempdir().unwrap();
    let mut child = None;
    let endpoint = match (&a.endpoint, &a.binary) {
        (Some(e), _) => e.clone(),
        (None, Some(bin)) => {
            let mut c = Command::new(bin)
                .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
                .arg(data_dir.path())
                .env("CNX_ROOT_ACCESS_KEY", &a.access_key)
                .env("CNX_ROOT_SECRET_KEY", &a.secret_key)
                .env("RUST_LOG", "warn")
                .stdout(Stdio::piped())
                .spawn()
                .expect("spawn server");
            let mut lines = BufReader::new(c.stdout.take().unwrap()).lines();
            let addr = loop {
                let l = lines.next().expect("server exited").unwrap();
                if let Some(addr) = l.strip_prefix("listening on ") {
                    break addr.to_owned();
                }
            };
            child = Some(c);
            format!("http://{addr}")
        }
        (None, None) => panic!("give --binary PATH or --endpoint URL"),
    };
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(&endpoint)
        .region(Region::new("in-mum"))
        .credentials_provider(Credentials::new(
            &a.access_key,
            &a.secret_key,
            None,
            None,
            "loadgen",
        ))
        .force_path_style(true)
        .build();
    let client = Client::from_conf(conf);
    let bucket = format!("loadgen-{}", std::process::id());
    client.create_bucket().bucket(&bucket).send().await.unwrap();
    println!(
        "endpoint {endpoint}  concurrency {}  small objects {} B",
        a.concurrency, a.small_size
    );

    let body = Bytes::from(vec![b'x'; a.small_size]);
    let (c, b) = (client.clone(), bucket.clone());
    phase(
        "PUT small",
        a.small_count,
        a.concurrency,
        a.small_size,
        move |i| {
            let (c, b, body) = (c.clone(), b.clone(), body.clone());
            async move {
                c.put_object()
                    .bucket(b)
                    .key(format!("k/{i:08}"))
                    .body(ByteStream::from(body))
                    .send()
                    .await
                    .unwrap();
            }
        },
    )
    .await;
    let (c, b) = (client.clone(), bucket.clone());
    phase(
        "GET small",
        a.small_count,
        a.concurrency,
        a.small_size,
        move |i| {
            let (c, b) = (c.clone(), b.clone());
            async move {
                let o = c
                    .get_object()
                    .bucket(b)
                    .key(format!("k/{i:08}"))
                    .send()
                    .await
                    .unwrap();
                o.body.collect().await.unwrap();
            }
        },
    )
    .await;

    if a.large_mib > 0 {
        let path = data_dir.path().join("large.bin");
        {
            use std::io::Write;
            let mut f = std::fs::File::create(&path).unwrap();
            let chunk = vec![7u8; 1 << 20];
            for _ in 0..a.large_mib {
                f.write_all(&chunk).unwrap();
            }
        }
        let size = (a.large_mib as u64) << 20;
        let t = Instant::now();
        client
            .put_object()
            .bucket(&bucket)
            .key("large")
            .body(ByteStream::from_path(&path).await.unwrap())
            .send()
            .await
            .unwrap();
        let up = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let mut o = client
            .get_object()
            .bucket(&bucket)
            .key("large")
            .send()
            .await
            .unwrap();
        let mut got = 0u64;
        while let Some(chunk) = o.body.try_next().await.unwrap() {
            got += chunk.len() as u64;
        }
        let down = t.elapsed().as_secs_f64();
        assert_eq!(got, size);
        println!(
            "large      {} MiB  PUT {:.1} MB/s ({up:.2} s)  GET {:.1} MB/s ({down:.2} s)",
            a.large_mib,
            size as f64 / up / 1e6,
            size as f64 / down / 1e6
        );
    }
    if let Some(mut c) = child {
        if let Some(kib) = peak_rss_kib(c.id()) {
            println!("server peak RSS {:.1} MiB", kib as f64 / 1024.0);
        }
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(c.id().to_string())
            .status();
        let _ = c.wait();
    }
}
