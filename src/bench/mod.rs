//! `cnx-storage bench`: a load generator for any S3 endpoint. It runs workloads one after
//! another on one bucket, checks every byte it reads back, and prints ops/s, MiB/s, latency
//! percentiles, errors, and — given the server's pid — the server's CPU and peak RSS.
//! `bench/compare` runs it against cnx-storage and its peers.

mod client;
mod payload;
mod plot;
mod report;
mod stats;
mod workload;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{Method, StatusCode};

use crate::access::signer::{encode_key_path, uri_encode};
use client::{Conn, Target};
use payload::Bodies;
use report::Outcome;
use stats::Probe;
use workload::{Bench, Extent, Progress};
pub use workload::{Kind, PayloadMode};

#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// The S3 endpoint, e.g. http://127.0.0.1:9000 (path-style requests).
    #[arg(long, env = "CNX_BENCH_ENDPOINT")]
    pub endpoint: String,
    #[arg(long, env = "AWS_ACCESS_KEY_ID")]
    pub access_key: String,
    #[arg(long, env = "AWS_SECRET_ACCESS_KEY", hide_env_values = true)]
    pub secret_key: String,
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
    pub region: String,
    /// Bucket to work in; created when missing. Default: a new `cnx-bench-…` bucket, deleted
    /// with what is left in it at the end.
    #[arg(long)]
    pub bucket: Option<String>,
    /// Workloads, run in this order (reads need a `put` before them).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "put,get,head,list,delete"
    )]
    pub workloads: Vec<Kind>,
    /// Object size: bytes, or with a unit (4KiB, 1MiB, 1GiB; k/m/g mean the same).
    #[arg(long, default_value = "4KiB", value_parser = parse_size)]
    pub size: u64,
    /// Requests in flight (one connection each).
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Operations per workload (objects for put and multipart, pages for list); default 1000.
    #[arg(long)]
    pub count: Option<u64>,
    /// Run each workload for this long instead (e.g. 10s, 500ms, 2m). With --count too, put
    /// and multipart write --count objects and the other workloads run for the duration.
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Multipart part size.
    #[arg(long, default_value = "8MiB", value_parser = parse_size)]
    pub part_size: u64,
    /// Keys per ListObjectsV2 page.
    #[arg(long, default_value_t = 1000)]
    pub list_page: u32,
    /// How PUT bodies are signed.
    #[arg(long, value_enum, default_value = "unsigned")]
    pub payload: PayloadMode,
    /// GETs go through presigned URLs instead of signed headers.
    #[arg(long)]
    pub presigned: bool,
    /// The server's pid: its CPU and peak RSS are read from /proc per workload.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Writes one JSON object per workload to this file (`-` for stdout).
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Draws throughput and latency over time into this PNG (or .svg) file.
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// Names the server in the JSON lines.
    #[arg(long, default_value = "")]
    pub label: String,
    /// Seeds the object bodies; two runs with one seed write the same bytes (default: random).
    #[arg(long)]
    pub seed: Option<u64>,
    /// The bucket already holds this many objects from an earlier `--keep` run with the same
    /// `--seed` and `--size`: reads can run without a `put` (e.g. LIST over a million keys
    /// written once), and a `put` adds objects after them.
    #[arg(long, default_value_t = 0)]
    pub existing: u64,
    /// Leave the objects and the bucket in place.
    #[arg(long)]
    pub keep: bool,
    /// No progress bar (it is also off when stderr is not a terminal).
    #[arg(long)]
    pub no_progress: bool,
}

/// Operations per workload when neither --count nor --duration says.
const DEFAULT_COUNT: u64 = 1000;

/// `4096`, `4k`, `4KiB`, `1MiB`, `1.5 GiB`.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num.parse().map_err(|_| format!("not a size: {s}"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return Err(format!("unknown size unit in {s} (use B, KiB, MiB or GiB)")),
    };
    Ok((n * mult as f64).round() as u64)
}

/// `10s`, `500ms`, `2m`, or plain seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let (num, scale) = if let Some(n) = t.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 60.0)
    } else {
        (t, 1.0)
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("not a duration: {s}"))?;
    if !(v > 0.0 && v.is_finite()) {
        return Err(format!("not a positive duration: {s}"));
    }
    Ok(Duration::from_secs_f64(v * scale))
}

/// Runs the benchmark; the outcome is printed, and `Err` when anything failed.
pub async fn run(args: BenchArgs) -> Result<(), String> {
    if args.concurrency == 0 {
        return Err("--concurrency must be at least 1".into());
    }
    if args.part_size < 5 << 20 && args.workloads.contains(&Kind::Multipart) {
        return Err("--part-size must be at least 5 MiB, as S3 requires".into());
    }
    let first_put = args.workloads.iter().position(|k| *k == Kind::Put);
    for (i, k) in args.workloads.iter().enumerate() {
        if k.reads_objects() && args.existing == 0 && first_put.is_none_or(|p| p > i) {
            return Err(format!(
                "{} needs objects: put a `put` before it, or name them with --existing",
                k.name()
            ));
        }
    }
    let target = Target::new(
        &args.endpoint,
        &args.access_key,
        &args.secret_key,
        &args.region,
    )?;
    let nonce: u64 = args.seed.unwrap_or_else(rand::random);
    let (bucket, ours) = match &args.bucket {
        Some(b) => (b.clone(), false),
        None => (format!("cnx-bench-{:08x}", rand::random::<u32>()), true),
    };
    let bench = Arc::new(Bench {
        target,
        bucket,
        bodies: Bodies::new(nonce),
        size: args.size,
        part_size: args.part_size,
        payload: args.payload,
        presigned: args.presigned,
        list_page: args.list_page,
        objects: AtomicU64::new(args.existing),
        mixed_next: AtomicU64::new(0),
    });
    let mut conn = Conn::new(&bench.target);
    ensure_bucket(&bench, &mut conn).await?;

    let mut outcomes = Vec::new();
    let began = Instant::now();
    for &kind in &args.workloads {
        let writes = matches!(kind, Kind::Put | Kind::Multipart);
        let extent = match (args.count, args.duration) {
            (Some(n), Some(_)) if writes => Extent::Count(n),
            (_, Some(d)) => Extent::Duration(d),
            (n, None) => Extent::Count(n.unwrap_or(DEFAULT_COUNT)),
        };
        let outcome = run_one(&bench, &args, kind, extent, began.elapsed().as_secs_f64()).await;
        if kind == Kind::Delete {
            bench.objects.store(0, Ordering::Relaxed);
        }
        outcomes.push(outcome);
    }

    print!("{}", report::table(&outcomes));
    if let Some(path) = &args.json {
        let mut lines = String::new();
        for o in &outcomes {
            lines.push_str(&serde_json::to_string(o).map_err(|e| e.to_string())?);
            lines.push('\n');
        }
        if path.as_os_str() == "-" {
            print!("{lines}");
        } else {
            std::fs::write(path, lines).map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }
    if let Some(path) = &args.plot {
        plot::plot(path, &outcomes)?;
        eprintln!("plot written to {}", path.display());
    }
    if !args.keep {
        empty_bucket(&bench, &mut conn, ours).await?;
    }
    let errors: u64 = outcomes.iter().map(|o| o.errors).sum();
    if errors > 0 {
        return Err(format!("{errors} operations failed"));
    }
    Ok(())
}

async fn run_one(
    bench: &Arc<Bench>,
    args: &BenchArgs,
    kind: Kind,
    extent: Extent,
    began_at: f64,
) -> Outcome {
    let server = args.server_pid.map(|p| Probe::start(&p.to_string()));
    let client = Probe::start("self");
    let progress = Arc::new(Progress::default());
    let bar = progress_bar(args, kind, extent, progress.clone());
    let started = Instant::now();
    let tally = workload::run(bench.clone(), kind, args.concurrency, extent, progress).await;
    let wall = started.elapsed();
    bar.abort();
    let secs = wall.as_secs_f64().max(1e-9);
    let ops = tally.samples.len() as u64;
    Outcome {
        label: args.label.clone(),
        workload: kind,
        size: args.size,
        concurrency: args.concurrency,
        payload: args.payload,
        presigned: args.presigned,
        ops,
        errors: tally.errors,
        bytes: tally.bytes,
        secs,
        ops_per_sec: ops as f64 / secs,
        mib_per_sec: tally.bytes as f64 / (1024.0 * 1024.0) / secs,
        latency: stats::latency(tally.samples.iter().map(|s| s.1).collect()),
        server: server.and_then(|p| p.finish(wall)),
        client: client.finish(wall),
        first_errors: tally.first_errors,
        began_at,
        samples: tally.samples,
    }
}

/// A live bar on stderr while a workload runs; the returned task stops it.
fn progress_bar(
    args: &BenchArgs,
    kind: Kind,
    extent: Extent,
    progress: Arc<Progress>,
) -> tokio::task::JoinHandle<()> {
    use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
    let (len, timed) = match extent {
        Extent::Count(n) => (n, None),
        Extent::Duration(d) => (d.as_millis() as u64, Some(d)),
    };
    let target = if args.no_progress {
        ProgressDrawTarget::hidden()
    } else {
        ProgressDrawTarget::stderr()
    };
    let bar = ProgressBar::with_draw_target(Some(len), target);
    let template = format!("{:<9} [{{bar:30}}] {{percent:>3}}% {{msg}}", kind.name());
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style.progress_chars("=> "));
    }
    tokio::spawn(async move {
        let started = Instant::now();
        let _clear = BarGuard(bar.clone());
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let secs = started.elapsed().as_secs_f64();
            let ops = progress.ops.load(Ordering::Relaxed);
            let bytes = progress.bytes.load(Ordering::Relaxed);
            bar.set_position(match timed {
                Some(_) => started.elapsed().as_millis() as u64,
                None => ops,
            });
            bar.set_message(format!(
                "{ops} ops, {:.0} ops/s, {:.1} MiB/s",
                ops as f64 / secs,
                bytes as f64 / 1048576.0 / secs
            ));
        }
    })
}

/// Clears the bar when the task ends (aborted or not).
struct BarGuard(indicatif::ProgressBar);

impl Drop for BarGuard {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}

async fn ensure_bucket(bench: &Bench, conn: &mut Conn) -> Result<(), String> {
    let path = format!("/{}", uri_encode(&bench.bucket));
    let req = bench.target.bodiless(Method::PUT, &path)?;
    let (status, body) = client::read_all(conn.send(req).await?).await?;
    let code = xml_field(&String::from_utf8_lossy(&body), "Code");
    if status == StatusCode::OK || code.as_deref() == Some("BucketAlreadyOwnedByYou") {
        return Ok(());
    }
    Err(format!(
        "creating bucket {}: {}",
        bench.bucket,
        client::error_of(status, &body)
    ))
}

/// Deletes what the run left (and the bucket, when the run made it).
async fn empty_bucket(bench: &Bench, conn: &mut Conn, delete_bucket: bool) -> Result<(), String> {
    loop {
        let (keys, _) = bench.list_page(conn, None).await?;
        if keys.is_empty() {
            break;
        }
        for key in keys {
            let path = format!("/{}/{}", uri_encode(&bench.bucket), encode_key_path(&key));
            let req = bench.target.bodiless(Method::DELETE, &path)?;
            client::read_all(conn.send(req).await?).await?;
        }
    }
    if delete_bucket {
        let req = bench
            .target
            .bodiless(Method::DELETE, &format!("/{}", uri_encode(&bench.bucket)))?;
        let (status, body) = client::read_all(conn.send(req).await?).await?;
        if status != StatusCode::NO_CONTENT {
            return Err(format!(
                "deleting bucket {}: {}",
                bench.bucket,
                client::error_of(status, &body)
            ));
        }
    }
    Ok(())
}

/// The text of the first `<name>…</name>` in an XML document (entities decoded).
fn xml_field(doc: &str, name: &str) -> Option<String> {
    xml_fields_iter(doc, name).next()
}

/// The text of every `<name>…</name>`.
fn xml_fields(doc: &str, name: &str) -> Vec<String> {
    xml_fields_iter(doc, name).collect()
}

fn xml_fields_iter<'a>(doc: &'a str, name: &str) -> impl Iterator<Item = String> + 'a {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let mut rest = doc;
    std::iter::from_fn(move || {
        let start = rest.find(&open)? + open.len();
        let len = rest[start..].find(&close)?;
        let text = &rest[start..start + len];
        rest = &rest[start + len + close.len()..];
        Some(
            text.replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&quot;", "\"")
                .replace("&apos;", "'")
                .replace("&amp;", "&"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations_parse_as_written() {
        assert_eq!(parse_size("4KiB"), Ok(4096));
        assert_eq!(parse_size("4k"), Ok(4096));
        assert_eq!(parse_size("1 MiB"), Ok(1 << 20));
        assert_eq!(parse_size("1.5GiB"), Ok(3 << 29));
        assert_eq!(parse_size("100"), Ok(100));
        assert!(parse_size("4 parsecs").is_err());
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert!(parse_duration("0s").is_err());
    }

    #[test]
    fn xml_fields_are_found_and_decoded() {
        let doc = "<R><Key>a&amp;b</Key><Key>c</Key><IsTruncated>false</IsTruncated></R>";
        assert_eq!(xml_fields(doc, "Key"), ["a&b", "c"]);
        assert_eq!(xml_field(doc, "IsTruncated").as_deref(), Some("false"));
        assert_eq!(xml_field(doc, "Missing"), None);
    }
}
