//! Scrubbing: reads every blob the index refers to, checks it against the chunk checksums
//! written with it, and reports corrupt, missing and orphaned blobs as JSON.
//!
//! `cnx-storage scrub` works on the data dir. While a server runs on it, the index is opened
//! read-only (a snapshot as of the start). The server's own background scrubber reads its live
//! index, at a capped rate. Either way each finding is checked again against the index at the
//! end, so blobs the server replaced or wrote meanwhile are not reported.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use futures::TryStreamExt;
use serde::Serialize;

use crate::blob::BlobStore;
use crate::config::{Config, ScrubSchedule};
use crate::error::{Error, Result};
use crate::integrity::ChunkSummer;
use crate::meta::{GcEntry, MetaStore, UploadEntry, UploadQuery, VersionEntry, VersionQuery};

/// By default a blob younger than this is never called an orphan: it may be on its way to
/// a commit.
pub const ORPHAN_GRACE: Duration = Duration::from_secs(3600);
const PAGE: usize = 1000;

/// Where a blob is referred to from.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct BlobRef {
    pub bucket: String,
    pub key: String,
    /// Set for a part of an upload in progress.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upload_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub part: Option<u32>,
    pub blob: String,
    /// Bytes the index says the blob holds (for an encrypted one, with its tags).
    #[serde(skip)]
    pub len: u64,
}

/// Stored bytes of `plain` bytes of an object, `encrypted` or not.
fn stored(plain: u64, encrypted: bool) -> u64 {
    if encrypted {
        crate::cipher::stored_len(plain)
    } else {
        plain
    }
}

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Finding {
    #[serde(flatten)]
    pub at: BlobRef,
    pub detail: String,
}

#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
pub struct Report {
    pub blobs_checked: u64,
    pub bytes_checked: u64,
    /// Blobs written before checksums were kept: only their length could be checked.
    pub unverified: u64,
    pub corrupt: Vec<Finding>,
    pub missing: Vec<Finding>,
    /// Blob ids in the blob store that nothing refers to (`null` with `--bucket`).
    pub orphaned: Option<Vec<String>>,
    /// Blobs being written or queued for deletion: the sweeper's work in hand.
    pub pending_blobs: u64,
    pub seconds: f64,
}

impl Report {
    pub fn clean(&self) -> bool {
        self.corrupt.is_empty()
            && self.missing.is_empty()
            && self.orphaned.as_ref().is_none_or(Vec::is_empty)
    }
}

/// Progress so far, handed to the caller every few seconds.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub blobs: u64,
    pub bytes: u64,
    pub problems: usize,
}

/// Runs a walk of the index off the async threads.
async fn walk<T: Send + 'static>(
    meta: &Arc<dyn MetaStore>,
    f: impl FnOnce(&dyn MetaStore) -> Result<T> + Send + 'static,
) -> Result<T> {
    let meta = meta.clone();
    tokio::task::spawn_blocking(move || f(meta.as_ref())).await?
}

/// Every blob the index refers to, with where from.
fn references(meta: &dyn MetaStore, only: Option<&str>) -> Result<Vec<BlobRef>> {
    let mut out = Vec::new();
    for bucket in meta.list_buckets()? {
        if only.is_some_and(|b| b != bucket.name) {
            continue;
        }
        // Every version, noncurrent ones included: each holds its own blobs.
        let (mut key_marker, mut version_marker): (Option<String>, Option<String>) = (None, None);
        loop {
            let page = meta.list_versions(
                &bucket.id,
                &VersionQuery {
                    prefix: "",
                    delimiter: None,
                    key_marker: key_marker.as_deref(),
                    version_marker: version_marker.as_deref(),
                    max: PAGE,
                },
            )?;
            for e in page.entries {
                if let VersionEntry::Version { key, rec, .. } = e {
                    let encrypted = rec.sse.is_some();
                    for seg in &rec.segments {
                        out.push(BlobRef {
                            bucket: bucket.name.clone(),
                            key: key.clone(),
                            upload_id: None,
                            part: None,
                            blob: seg.blob.clone(),
                            len: stored(seg.len, encrypted),
                        });
                    }
                }
            }
            match page.next {
                Some((k, v)) => (key_marker, version_marker) = (Some(k), v),
                None => break,
            }
        }
        let (mut key_marker, mut id_marker): (Option<String>, Option<String>) = (None, None);
        loop {
            let page = meta.list_uploads(
                &bucket.id,
                &UploadQuery {
                    prefix: "",
                    delimiter: None,
                    key_marker: key_marker.as_deref(),
                    upload_id_marker: id_marker.as_deref(),
                    max: PAGE,
                },
            )?;
            for e in page.entries {
                let UploadEntry::Upload(up) = e else { continue };
                let (parts, _) = meta.list_parts(&up.upload_id, 0, usize::MAX)?;
                for p in parts {
                    out.push(BlobRef {
                        bucket: bucket.name.clone(),
                        key: up.key.clone(),
                        upload_id: Some(up.upload_id.clone()),
                        part: Some(p.part_number),
                        blob: p.blob,
                        len: stored(p.size, up.sse.is_some()),
                    });
                }
            }
            match page.next {
                Some((k, u)) => {
                    key_marker = Some(k);
                    id_marker = Some(u);
                }
                None => break,
            }
        }
    }
    Ok(out)
}

/// Blobs the index knows of without an object: being written, or queued for deletion.
fn pending_blobs(meta: &dyn MetaStore) -> Result<HashSet<String>> {
    let mut out: HashSet<String> = meta.staged_blobs()?.into_iter().collect();
    let mut after: Option<GcEntry> = None;
    loop {
        let page = meta.pending_deletes(i64::MAX, after.as_ref(), PAGE)?;
        let Some(last) = page.last().cloned() else {
            break;
        };
        out.extend(page.into_iter().map(|e| e.blob));
        after = Some(last);
    }
    Ok(out)
}

/// Caps the bytes read per second, over the whole pass.
struct Pacer {
    max_bytes_per_sec: Option<f64>,
    started: Instant,
    bytes: u64,
}

impl Pacer {
    fn new(max_bytes_per_sec: Option<f64>) -> Self {
        Self {
            max_bytes_per_sec: max_bytes_per_sec.filter(|r| *r > 0.0),
            started: Instant::now(),
            bytes: 0,
        }
    }

    async fn took(&mut self, n: usize) {
        self.bytes += n as u64;
        if let Some(rate) = self.max_bytes_per_sec {
            let due = Duration::from_secs_f64(self.bytes as f64 / rate);
            if let Some(ahead) = due.checked_sub(self.started.elapsed()) {
                tokio::time::sleep(ahead).await;
            }
        }
    }
}

/// Reads one blob whole and compares it with its recorded checksums and length.
async fn check_blob(
    meta: &Arc<dyn MetaStore>,
    blobs: &BlobStore,
    id: &str,
    len: u64,
    pacer: &mut Pacer,
) -> std::result::Result<(u64, bool), (bool, String)> {
    if crate::meta::inline::is_inline(id) {
        return check_inline(meta, id, len).await;
    }
    let i = id.to_owned();
    let sums = walk(meta, move |m| m.blob_sums(&i))
        .await
        .map_err(|e| (false, e.to_string()))?;
    let opened = blobs.read(id, 0..len).await;
    let mut stream = match opened {
        Ok(s) => s,
        Err(e) => {
            let gone = matches!(blobs.exists(id).await, Ok(false));
            return Err((gone, e.to_string()));
        }
    };
    let mut summer = match &sums {
        Some(s) => ChunkSummer::with_chunk(s.chunk),
        None => ChunkSummer::default(),
    };
    let mut got = 0u64;
    while let Some(data) = stream
        .try_next()
        .await
        .map_err(|e| (false, e.to_string()))?
    {
        got += data.len() as u64;
        summer.update(&data);
        pacer.took(data.len()).await;
    }
    if got != len {
        return Err((false, format!("{got} of {len} bytes")));
    }
    match sums {
        None => Ok((got, false)),
        Some(want) => {
            let have = summer.finish();
            if want.len != len {
                return Err((
                    false,
                    format!("checksums cover {} bytes, object {len}", want.len),
                ));
            }
            match want.crcs.iter().zip(&have.crcs).position(|(a, b)| a != b) {
                None => Ok((got, true)),
                Some(i) => Err((
                    false,
                    format!(
                        "chunk {i} (bytes {}..) fails its CRC32C",
                        i as u64 * want.chunk
                    ),
                )),
            }
        }
    }
}

/// An object kept in the index: its bytes against their CRC and the object's length.
async fn check_inline(
    meta: &Arc<dyn MetaStore>,
    id: &str,
    len: u64,
) -> std::result::Result<(u64, bool), (bool, String)> {
    let i = id.to_owned();
    let raw = walk(meta, move |m| m.get_inline(&i))
        .await
        .map_err(|e| (false, e.to_string()))?
        .ok_or((true, "the inline bytes are missing".to_owned()))?;
    crate::meta::inline::check_len(&raw, len).map_err(|e| (false, e))?;
    Ok((len, true))
}

/// What a pass covers and how fast it may read.
#[derive(Debug, Clone, Default)]
pub struct ScanOptions {
    /// One bucket only (orphans are then not looked for).
    pub only: Option<String>,
    pub orphan_grace: Duration,
    pub max_bytes_per_sec: Option<f64>,
}

/// Scrubs the data dir of `cfg` (one bucket with `only`), on a snapshot of its index.
#[cfg(feature = "rocksdb")]
pub async fn scrub(
    cfg: &Config,
    only: Option<&str>,
    orphan_grace: Duration,
    progress: impl FnMut(Progress),
) -> Result<Report> {
    let blobs = crate::blob::backend::build(cfg)?;
    let opts = ScanOptions {
        only: only.map(str::to_owned),
        orphan_grace,
        max_bytes_per_sec: None,
    };
    let mut report = scan(crate::meta::open_snapshot(cfg)?, &blobs, &opts, progress).await?;
    if !report.clean() {
        recheck(crate::meta::open_snapshot(cfg)?, only, &mut report).await?;
    }
    Ok(report)
}

/// One pass over the blobs `meta` refers to.
async fn scan(
    meta: Arc<dyn MetaStore>,
    blobs: &BlobStore,
    opts: &ScanOptions,
    mut progress: impl FnMut(Progress),
) -> Result<Report> {
    let started = Instant::now();
    let snapshot_time = SystemTime::now();
    let only = opts.only.clone();
    let refs = walk(&meta, move |m| references(m, only.as_deref())).await?;
    let pending = walk(&meta, pending_blobs).await?;
    let mut report = Report {
        pending_blobs: pending.len() as u64,
        ..Report::default()
    };
    let mut pacer = Pacer::new(opts.max_bytes_per_sec);
    let mut last_progress = Instant::now();
    for r in &refs {
        match check_blob(&meta, blobs, &r.blob, r.len, &mut pacer).await {
            Ok((bytes, verified)) => {
                report.blobs_checked += 1;
                report.bytes_checked += bytes;
                report.unverified += u64::from(!verified);
            }
            Err((missing, detail)) => {
                let f = Finding {
                    at: r.clone(),
                    detail,
                };
                if missing {
                    report.missing.push(f);
                } else {
                    report.corrupt.push(f);
                }
            }
        }
        if last_progress.elapsed() >= Duration::from_secs(2) {
            last_progress = Instant::now();
            progress(Progress {
                blobs: report.blobs_checked,
                bytes: report.bytes_checked,
                problems: report.corrupt.len() + report.missing.len(),
            });
        }
    }
    if opts.only.is_none() {
        let known: HashSet<&str> = refs.iter().map(|r| r.blob.as_str()).collect();
        let mut orphaned = Vec::new();
        let old_enough = snapshot_time
            .checked_sub(opts.orphan_grace)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let mut listing = blobs.list();
        while let Some((id, modified)) = listing.try_next().await? {
            if !known.contains(id.as_str()) && !pending.contains(&id) && modified <= old_enough {
                orphaned.push(id);
            }
        }
        orphaned.sort();
        report.orphaned = Some(orphaned);
    }
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// Drops findings the server has made moot since the scrub started: the object was
/// replaced or deleted, or an orphan turned out to be committed after all.
async fn recheck(meta: Arc<dyn MetaStore>, only: Option<&str>, report: &mut Report) -> Result<()> {
    let only = only.map(str::to_owned);
    let now: HashSet<String> = walk(&meta, move |m| {
        Ok(references(m, only.as_deref())?
            .into_iter()
            .map(|r| r.blob)
            .chain(pending_blobs(m)?)
            .collect())
    })
    .await?;
    report.corrupt.retain(|f| now.contains(&f.at.blob));
    report.missing.retain(|f| now.contains(&f.at.blob));
    if let Some(o) = report.orphaned.as_mut() {
        o.retain(|b| !now.contains(b));
    }
    Ok(())
}

/// What the background scrubber last found, for `/health`.
pub type ScrubStatus = crate::schedule::TaskStatus<LastPass>;

/// The record of a finished pass, kept in the data dir so the schedule survives restarts.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct LastPass {
    pub finished_at_ms: i64,
    pub report: Report,
}

impl LastPass {
    /// A summary for `/health`: counts, not the findings themselves.
    pub fn summary(self) -> serde_json::Value {
        let p = self;
        serde_json::json!({
                "finished_at": crate::clock::rfc3339(p.finished_at_ms),
                "blobs_checked": p.report.blobs_checked,
                "bytes_checked": p.report.bytes_checked,
                "corrupt": p.report.corrupt.len(),
                "missing": p.report.missing.len(),
                "orphaned": p.report.orphaned.as_ref().map_or(0, Vec::len),
                "seconds": p.report.seconds,
        })
    }
}

/// Where the last pass's report is kept.
pub fn report_path(data_dir: &Path) -> PathBuf {
    data_dir.join("scrub-report.json")
}

/// Logs a finished pass's findings and keeps its report in the data dir.
fn record_pass(path: &Path, report: Report) -> LastPass {
    for f in report.corrupt.iter().chain(&report.missing) {
        tracing::error!(
            bucket = %f.at.bucket,
            key = %f.at.key,
            blob = %f.at.blob,
            detail = %f.detail,
            "scrub found a bad blob"
        );
    }
    tracing::info!(
        blobs = report.blobs_checked,
        bytes = report.bytes_checked,
        corrupt = report.corrupt.len(),
        missing = report.missing.len(),
        orphaned = report.orphaned.as_ref().map_or(0, Vec::len),
        "scrub pass finished"
    );
    let pass = LastPass {
        finished_at_ms: crate::clock::now_ms(),
        report,
    };
    crate::schedule::keep_record(path, &pass);
    pass
}

/// Scrubs the live index every `schedule.every_hours`, reading at most `max_mib_per_sec`, on
/// a task of its own. The first pass is due one interval after the last recorded one (or
/// after start-up); the recorded pass is in `status` when this returns.
pub fn start(
    meta: Arc<dyn MetaStore>,
    blobs: BlobStore,
    data_dir: PathBuf,
    schedule: ScrubSchedule,
    status: Arc<ScrubStatus>,
) {
    let Some(every) = schedule.interval() else {
        return;
    };
    let path = report_path(&data_dir);
    let last: Option<LastPass> = crate::schedule::read_record(&path);
    let wait = crate::schedule::due_in(every, last.as_ref().map(|p| p.finished_at_ms));
    status.set_last(last);
    tokio::spawn(run_in_background(
        meta, blobs, path, every, wait, schedule, status,
    ));
}

async fn run_in_background(
    meta: Arc<dyn MetaStore>,
    blobs: BlobStore,
    path: PathBuf,
    every: Duration,
    mut wait: Duration,
    schedule: ScrubSchedule,
    status: Arc<ScrubStatus>,
) {
    let opts = ScanOptions {
        only: None,
        orphan_grace: Duration::from_secs(schedule.orphans_older_than_secs),
        max_bytes_per_sec: Some(schedule.max_mib_per_sec * 1048576.0),
    };
    loop {
        tokio::time::sleep(wait).await;
        wait = every;
        let _lead = match crate::meta::lead_pass(meta.clone(), "scrub", every).await {
            Ok(crate::meta::Lead::Mine(keeper)) => keeper,
            Ok(crate::meta::Lead::Theirs(left)) => {
                tracing::debug!("another gateway runs this scrub pass");
                wait = left;
                continue;
            }
            Err(e) => {
                tracing::warn!(error = %e, "scrub pass skipped: the index is out of reach");
                continue;
            }
        };
        status.set_running(true);
        tracing::info!("scrub pass starting");
        let pass = async {
            let mut report = scan(meta.clone(), &blobs, &opts, |_| {}).await?;
            if !report.clean() {
                recheck(meta.clone(), None, &mut report).await?;
            }
            Ok::<_, Error>(report)
        }
        .await;
        status.set_running(false);
        let report = match pass {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "scrub pass failed; will retry next interval");
                continue;
            }
        };
        let pass = record_pass(&path, report);
        status.set_last(Some(pass));
    }
}
