//! `cnx-storage scrub`: reads every blob the index refers to, checks it against the chunk
//! checksums written with it, and reports corrupt, missing and orphaned blobs as JSON.
//!
//! It works on the data dir. While a server runs on it, the index is opened read-only (a
//! snapshot as of the start), and each finding is checked again against a fresh snapshot at
//! the end, so blobs the server replaced or wrote meanwhile are not reported.

use std::collections::HashSet;
use std::time::{Duration, Instant, SystemTime};

use futures::TryStreamExt;
use serde::Serialize;

use crate::blob::BlobStore;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::integrity::ChunkSummer;
use crate::meta::rocks::RocksMeta;
use crate::meta::{
    GcEntry, ListEntry, ListQuery, MetaStore, UploadEntry, UploadQuery, UploadStore,
};

/// By default a blob younger than this is never called an orphan: it may be on its way to
/// a commit.
pub const ORPHAN_GRACE: Duration = Duration::from_secs(3600);
const PAGE: usize = 1000;

/// Where a blob is referred to from.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct BlobRef {
    pub bucket: String,
    pub key: String,
    /// Set for a part of an upload in progress.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upload_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub part: Option<u32>,
    pub blob: String,
    /// Bytes the index says the blob holds.
    #[serde(skip)]
    pub len: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    #[serde(flatten)]
    pub at: BlobRef,
    pub detail: String,
}

#[derive(Debug, Default, Serialize)]
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

/// A read-only snapshot of the index: it needs no lock, so a running server can keep going.
fn open_meta(cfg: &Config) -> Result<RocksMeta> {
    let dir = cfg.meta_dir();
    if !dir.is_dir() {
        return Err(Error::Meta(format!("no index at {}", dir.display())));
    }
    RocksMeta::open_read_only(&dir)
}

/// Every blob the index refers to, with where from.
fn references(meta: &RocksMeta, only: Option<&str>) -> Result<Vec<BlobRef>> {
    let mut out = Vec::new();
    for bucket in meta.list_buckets()? {
        if only.is_some_and(|b| b != bucket.name) {
            continue;
        }
        let mut after: Option<String> = None;
        loop {
            let page = meta.list_objects(
                &bucket.id,
                &ListQuery {
                    prefix: "",
                    delimiter: None,
                    after: after.as_deref(),
                    max: PAGE,
                },
            )?;
            for e in page.entries {
                if let ListEntry::Object(key, rec) = e {
                    for seg in &rec.segments {
                        out.push(BlobRef {
                            bucket: bucket.name.clone(),
                            key: key.clone(),
                            upload_id: None,
                            part: None,
                            blob: seg.blob.clone(),
                            len: seg.len,
                        });
                    }
                }
            }
            match page.next_after {
                Some(a) => after = Some(a),
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
                        len: p.size,
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
fn pending_blobs(meta: &RocksMeta) -> Result<HashSet<String>> {
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

/// Reads one blob whole and compares it with its recorded checksums and length.
async fn check_blob(
    meta: &RocksMeta,
    blobs: &BlobStore,
    id: &str,
    len: u64,
) -> std::result::Result<(u64, bool), (bool, String)> {
    let sums = meta.blob_sums(id).map_err(|e| (false, e.to_string()))?;
    let opened = blobs.read(id, 0..len).await;
    let mut stream = match opened {
        Ok(s) => s,
        Err(e) => {
            let gone = matches!(blobs.exists(id).await, Ok(false));
            return Err((gone, e.to_string()));
        }
    };
    let mut summer = ChunkSummer::default();
    let mut got = 0u64;
    while let Some(data) = stream
        .try_next()
        .await
        .map_err(|e| (false, e.to_string()))?
    {
        got += data.len() as u64;
        summer.update(&data);
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

/// Scrubs the data dir of `cfg` (one bucket with `only`).
pub async fn scrub(
    cfg: &Config,
    only: Option<&str>,
    orphan_grace: Duration,
    mut progress: impl FnMut(Progress),
) -> Result<Report> {
    let started = Instant::now();
    let snapshot_time = SystemTime::now();
    let blobs = crate::blob::backend::build(cfg)?;
    let meta = open_meta(cfg)?;
    let refs = references(&meta, only)?;
    let pending = pending_blobs(&meta)?;
    let mut report = Report {
        pending_blobs: pending.len() as u64,
        ..Report::default()
    };
    let mut last_progress = Instant::now();
    for r in &refs {
        match check_blob(&meta, &blobs, &r.blob, r.len).await {
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
    if only.is_none() {
        let known: HashSet<&str> = refs.iter().map(|r| r.blob.as_str()).collect();
        let mut orphaned = Vec::new();
        let old_enough = snapshot_time
            .checked_sub(orphan_grace)
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
    drop(meta);
    recheck(cfg, only, &mut report)?;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// Drops findings the server has made moot since the scrub started: the object was
/// replaced or deleted, or an orphan turned out to be committed after all.
fn recheck(cfg: &Config, only: Option<&str>, report: &mut Report) -> Result<()> {
    if report.clean() {
        return Ok(());
    }
    let meta = open_meta(cfg)?;
    let now: HashSet<String> = references(&meta, only)?
        .into_iter()
        .map(|r| r.blob)
        .chain(pending_blobs(&meta)?)
        .collect();
    report.corrupt.retain(|f| now.contains(&f.at.blob));
    report.missing.retain(|f| now.contains(&f.at.blob));
    if let Some(o) = report.orphaned.as_mut() {
        o.retain(|b| !now.contains(b));
    }
    Ok(())
}
