//! The lifecycle worker: applies every bucket's lifecycle rules on a schedule (daily by
//! default). Each action is one atomic index commit made only if the version is still the one
//! the worker saw, so a pass interrupted anywhere leaves consistent state, and the next pass,
//! judging afresh, finishes the work without doing anything twice. Locked versions are left
//! alone, as S3 leaves them.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::LifecycleSchedule;
use crate::error::{Error, Result};
use crate::meta::lifecycle::Judge;
use crate::meta::{
    BucketRecord, ObjectRecord, UploadEntry, VersionEntry, VersionGuard, VersionRef, WriteCondition,
};
use crate::store::Store;

/// Entries read per listing page.
const PAGE: usize = 1000;
/// A progress line is logged every this many versions within a bucket.
const PROGRESS_EVERY: u64 = 100_000;

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PassReport {
    pub buckets: u64,
    pub versions_scanned: u64,
    /// Current objects expired (removed, or hidden behind a delete marker when versioned).
    pub expired: u64,
    pub noncurrent_removed: u64,
    pub delete_markers_removed: u64,
    pub uploads_aborted: u64,
    /// Versions a rule would remove but object lock protects.
    pub locked_skipped: u64,
    /// Versions changed by a client between the listing and the action: left for a later pass.
    pub raced: u64,
    pub seconds: f64,
}

/// Where one key's versions stand while its listing is walked, newest first.
#[derive(Default)]
struct KeyWalk {
    key: String,
    /// When the version just seen was written: the moment the next one became noncurrent.
    newer_written_ms: i64,
    /// Noncurrent versions seen (and kept) so far.
    noncurrent_kept: usize,
    /// The current version is a delete marker: (version, written at).
    marker: Option<(VersionRef, i64)>,
    /// Versions below the current one that are still there.
    survivors: usize,
}

fn version_ref(rec: &ObjectRecord) -> VersionRef {
    rec.version_id
        .clone()
        .map_or(VersionRef::Null, VersionRef::Id)
}

struct BucketPass<'a> {
    store: &'a Store,
    bucket: &'a BucketRecord,
    judge: Judge<'a>,
    now_ms: i64,
    report: &'a mut PassReport,
}

impl BucketPass<'_> {
    /// Counts the outcome of one removal; errors other than a lock or a race end the pass.
    fn tally(&mut self, r: Result<()>, done: fn(&mut PassReport)) -> Result<bool> {
        match r {
            Ok(()) => {
                done(self.report);
                Ok(true)
            }
            Err(Error::ObjectLocked(_)) => {
                self.report.locked_skipped += 1;
                Ok(false)
            }
            Err(Error::PreconditionFailed | Error::NoSuchKey) => {
                self.report.raced += 1;
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    async fn remove_version(&mut self, key: &str, rec: &ObjectRecord) -> Result<()> {
        let guard = VersionGuard {
            bypass_governance: false,
            last_modified_ms: Some(rec.last_modified_ms),
        };
        self.store
            .delete_version(self.bucket, key, &version_ref(rec), guard)
            .await
            .map(|_| ())
    }

    /// Ends a key's walk: a delete marker with nothing left below it goes, if a rule says so.
    async fn finish_key(&mut self, walk: KeyWalk) -> Result<()> {
        let Some((v, written)) = walk.marker else {
            return Ok(());
        };
        if walk.survivors > 0 || !self.judge.removes_lone_marker(&walk.key) {
            return Ok(());
        }
        let guard = VersionGuard {
            bypass_governance: false,
            last_modified_ms: Some(written),
        };
        let r = self
            .store
            .delete_version(self.bucket, &walk.key, &v, guard)
            .await
            .map(|_| ());
        self.tally(r, |p| p.delete_markers_removed += 1)?;
        Ok(())
    }

    async fn visit(
        &mut self,
        walk: &mut KeyWalk,
        key: &str,
        rec: ObjectRecord,
        latest: bool,
    ) -> Result<()> {
        self.report.versions_scanned += 1;
        if latest {
            walk.marker = rec
                .delete_marker
                .then(|| (version_ref(&rec), rec.last_modified_ms));
            walk.newer_written_ms = rec.last_modified_ms;
            let expired = self
                .judge
                .current_expiry(key, &rec)
                .is_some_and(|(at, _)| at <= self.now_ms);
            if expired {
                let cond = WriteCondition::Unchanged {
                    last_modified_ms: rec.last_modified_ms,
                };
                let r = self
                    .store
                    .delete_object(self.bucket, key, cond)
                    .await
                    .map(|_| ());
                self.tally(r, |p| p.expired += 1)?;
            }
            return Ok(());
        }
        let since = walk.newer_written_ms;
        walk.newer_written_ms = rec.last_modified_ms;
        let expired =
            self.judge
                .noncurrent_expired(key, &rec, since, walk.noncurrent_kept, self.now_ms);
        let removed = expired && {
            let r = self.remove_version(key, &rec).await;
            self.tally(r, |p| p.noncurrent_removed += 1)?
        };
        if !removed {
            walk.noncurrent_kept += 1;
            walk.survivors += 1;
        }
        Ok(())
    }

    async fn versions(&mut self) -> Result<()> {
        let mut walk = KeyWalk::default();
        let (mut key_marker, mut version_marker) = (None::<String>, None::<String>);
        loop {
            let page = self
                .store
                .list_versions(
                    self.bucket,
                    "",
                    None,
                    key_marker.as_deref(),
                    version_marker.as_deref(),
                    PAGE,
                )
                .await?;
            for e in page.entries {
                let VersionEntry::Version { key, rec, latest } = e else {
                    continue;
                };
                // A key's walk starts at its current version (a page may list it again if a
                // client changed it meanwhile: judging it afresh is safe).
                if latest {
                    let done = std::mem::take(&mut walk);
                    self.finish_key(done).await?;
                    walk.key = key.clone();
                }
                self.visit(&mut walk, &key, *rec, latest).await?;
                if self.report.versions_scanned % PROGRESS_EVERY == 0 {
                    tracing::info!(
                        bucket = %self.bucket.name,
                        scanned = self.report.versions_scanned,
                        at = %key,
                        "lifecycle pass in progress"
                    );
                }
            }
            match page.next {
                Some((k, v)) => (key_marker, version_marker) = (Some(k), v),
                None => break,
            }
        }
        self.finish_key(walk).await
    }

    async fn uploads(&mut self) -> Result<()> {
        let (mut key_marker, mut id_marker) = (None::<String>, None::<String>);
        loop {
            let page = self
                .store
                .list_uploads(
                    self.bucket,
                    "",
                    None,
                    key_marker.as_deref(),
                    id_marker.as_deref(),
                    PAGE,
                )
                .await?;
            for e in page.entries {
                let UploadEntry::Upload(u) = e else {
                    continue;
                };
                if !self
                    .judge
                    .upload_expired(&u.key, u.initiated_ms, self.now_ms)
                {
                    continue;
                }
                match self
                    .store
                    .abort_upload(self.bucket, &u.key, &u.upload_id)
                    .await
                {
                    Ok(()) => self.report.uploads_aborted += 1,
                    Err(Error::NoSuchUpload) => self.report.raced += 1,
                    Err(e) => return Err(e),
                }
            }
            match page.next {
                Some((k, u)) => (key_marker, id_marker) = (Some(k), Some(u)),
                None => return Ok(()),
            }
        }
    }
}

/// Applies every bucket's rules once, as of now.
pub async fn run_pass(store: &Store, day_ms: i64) -> Result<PassReport> {
    let started = std::time::Instant::now();
    let mut report = PassReport::default();
    for bucket in store.list_buckets().await? {
        let Some(rules) = bucket.lifecycle.as_deref() else {
            continue;
        };
        if !rules.iter().any(|r| r.enabled) {
            continue;
        }
        let before = report.clone();
        report.buckets += 1;
        let mut pass = BucketPass {
            store,
            bucket: &bucket,
            judge: Judge { rules, day_ms },
            now_ms: crate::clock::now_ms(),
            report: &mut report,
        };
        let outcome = async {
            pass.versions().await?;
            pass.uploads().await
        }
        .await;
        match outcome {
            Ok(()) => {}
            // Deleted while the pass ran: nothing left to expire.
            Err(Error::NoSuchBucket(_)) => continue,
            Err(e) => return Err(e),
        }
        tracing::info!(
            bucket = %bucket.name,
            scanned = report.versions_scanned - before.versions_scanned,
            expired = report.expired - before.expired,
            noncurrent_removed = report.noncurrent_removed - before.noncurrent_removed,
            delete_markers_removed = report.delete_markers_removed - before.delete_markers_removed,
            uploads_aborted = report.uploads_aborted - before.uploads_aborted,
            locked_skipped = report.locked_skipped - before.locked_skipped,
            "lifecycle rules applied"
        );
    }
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// The worker's state for `/health`.
pub type LifecycleStatus = crate::schedule::TaskStatus<LastPass>;

/// The record of a finished pass, kept in the data dir so the schedule survives restarts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LastPass {
    pub started_at_ms: i64,
    pub finished_at_ms: i64,
    pub report: PassReport,
}

impl LastPass {
    /// The report's counts and when the pass finished, for `/health`.
    pub fn summary(self) -> serde_json::Value {
        let mut v = serde_json::to_value(&self.report).unwrap_or_default();
        if let Some(m) = v.as_object_mut() {
            m.insert(
                "finished_at".into(),
                crate::clock::rfc3339(self.finished_at_ms).into(),
            );
        }
        v
    }
}

pub fn state_path(data_dir: &Path) -> PathBuf {
    data_dir.join("lifecycle-state.json")
}

/// Runs a pass every `schedule.interval_secs` (start to start) on a task of its own. The first
/// is due one interval after the last recorded start, or one interval after start-up when
/// none is recorded. The recorded pass is in `status` when this returns, so `/health` shows
/// it from the first request on.
pub fn start(
    store: Store,
    data_dir: PathBuf,
    schedule: LifecycleSchedule,
    status: Arc<LifecycleStatus>,
) {
    let Some(every) = schedule.interval() else {
        return;
    };
    let path = state_path(&data_dir);
    let last: Option<LastPass> = crate::schedule::read_record(&path);
    let wait = crate::schedule::due_in(every, last.as_ref().map(|p| p.started_at_ms));
    status.set_last(last);
    tokio::spawn(run_in_background(
        store, path, every, wait, schedule, status,
    ));
}

async fn run_in_background(
    store: Store,
    path: PathBuf,
    every: Duration,
    wait: Duration,
    schedule: LifecycleSchedule,
    status: Arc<LifecycleStatus>,
) {
    let mut next = tokio::time::Instant::now() + wait;
    loop {
        tokio::time::sleep_until(next).await;
        next = tokio::time::Instant::now() + every;
        let _lead = match crate::meta::lead_pass(store.meta(), "lifecycle", every).await {
            Ok(crate::meta::Lead::Mine(keeper)) => keeper,
            Ok(crate::meta::Lead::Theirs(left)) => {
                tracing::debug!("another gateway runs this lifecycle pass");
                next = tokio::time::Instant::now() + left;
                continue;
            }
            Err(e) => {
                tracing::warn!(error = %e, "lifecycle pass skipped: the index is out of reach");
                continue;
            }
        };
        let started_at_ms = crate::clock::now_ms();
        status.set_running(true);
        tracing::info!("lifecycle pass starting");
        let outcome = run_pass(&store, schedule.day_ms()).await;
        status.set_running(false);
        match outcome {
            Ok(report) => {
                tracing::info!(
                    buckets = report.buckets,
                    scanned = report.versions_scanned,
                    expired = report.expired,
                    noncurrent_removed = report.noncurrent_removed,
                    delete_markers_removed = report.delete_markers_removed,
                    uploads_aborted = report.uploads_aborted,
                    locked_skipped = report.locked_skipped,
                    raced = report.raced,
                    seconds = report.seconds,
                    "lifecycle pass finished"
                );
                let pass = LastPass {
                    started_at_ms,
                    finished_at_ms: crate::clock::now_ms(),
                    report,
                };
                crate::schedule::keep_record(&path, &pass);
                status.set_last(Some(pass));
            }
            Err(e) => tracing::warn!(error = %e, "lifecycle pass failed; will retry next interval"),
        }
    }
}

#[cfg(all(test, feature = "rocksdb"))]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::meta::lifecycle::{Expiration, LifecycleRule, NoncurrentExpiration, RuleFilter};
    use crate::meta::lock::LockMode;
    use crate::meta::{Retention, Versioning};
    use crate::store::testing::{put, put_with, store};
    use crate::store::ObjectMeta;
    use std::time::Duration;

    /// A lifecycle day of one millisecond: rules in days act at once.
    const DAY_MS: i64 = 1;

    fn rule(id: &str, prefix: &str) -> LifecycleRule {
        LifecycleRule {
            id: id.into(),
            enabled: true,
            filter: RuleFilter {
                prefix: prefix.into(),
                ..RuleFilter::default()
            },
            expiration: None,
            noncurrent_expiration: None,
            abort_incomplete_upload_days: None,
            legacy_prefix: false,
        }
    }

    async fn bucket(s: &Store, name: &str, rules: Vec<LifecycleRule>) -> BucketRecord {
        let b = s
            .create_bucket(name, "root", "in-mum", false)
            .await
            .unwrap();
        s.set_lifecycle(&b, Some(rules)).await.unwrap()
    }

    async fn keys(s: &Store, b: &BucketRecord) -> Vec<(String, bool)> {
        let page = s
            .list_versions(b, "", None, None, None, 1000)
            .await
            .unwrap();
        page.entries
            .into_iter()
            .filter_map(|e| match e {
                VersionEntry::Version { key, rec, .. } => Some((key, rec.delete_marker)),
                VersionEntry::CommonPrefix(_) => None,
            })
            .collect()
    }

    async fn settle() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    #[tokio::test]
    async fn current_objects_expire_by_prefix_and_tag_once() {
        let (_d, s) = store().await;
        let mut tagged = rule("tagged", "");
        tagged.filter.tags = vec![("ttl".into(), "short".into())];
        tagged.expiration = Some(Expiration::Days(1));
        let mut logs = rule("logs", "logs/");
        logs.expiration = Some(Expiration::Days(1));
        let b = bucket(&s, "lc-current", vec![logs, tagged]).await;
        put(&s, &b, "logs/a", b"a").await;
        put(&s, &b, "keep/b", b"b").await;
        let meta = ObjectMeta {
            tags: vec![("ttl".into(), "short".into())],
            ..ObjectMeta::default()
        };
        put_with(&s, &b, "keep/tagged", b"t", meta).await;
        // A real day has not passed: nothing goes.
        let report = run_pass(&s, 86_400_000).await.unwrap();
        assert_eq!((report.buckets, report.expired), (1, 0));
        settle().await;
        let report = run_pass(&s, DAY_MS).await.unwrap();
        assert_eq!(report.expired, 2, "{report:?}");
        assert_eq!(keys(&s, &b).await, [("keep/b".to_string(), false)]);
        let again = run_pass(&s, DAY_MS).await.unwrap();
        assert_eq!(again.expired, 0, "a second pass finds nothing left to do");
        assert_eq!(s.usage(&b).await.unwrap().objects, 1);
    }

    #[tokio::test]
    async fn versions_age_out_and_a_lone_marker_goes_last() {
        let (_d, s) = store().await;
        let mut r = rule("all", "");
        r.expiration = Some(Expiration::Days(1));
        r.noncurrent_expiration = Some(NoncurrentExpiration {
            days: 1,
            keep_newer: Some(1),
        });
        let mut markers = rule("markers", "");
        markers.expiration = Some(Expiration::ExpiredObjectDeleteMarker);
        let b = bucket(&s, "lc-versions", vec![r, markers]).await;
        let b = s.set_versioning(&b, Versioning::Enabled).await.unwrap();
        for body in [b"1", b"2", b"3"] {
            put(&s, &b, "k", body).await;
        }
        settle().await;
        // The current version expires behind a marker; of the noncurrent ones the newest is
        // kept, the older goes.
        let report = run_pass(&s, DAY_MS).await.unwrap();
        assert_eq!(
            (report.expired, report.noncurrent_removed),
            (1, 1),
            "{report:?}"
        );
        assert_eq!(
            keys(&s, &b).await,
            [("k".into(), true), ("k".into(), false), ("k".into(), false)]
        );
        settle().await;
        let report = run_pass(&s, DAY_MS).await.unwrap();
        assert_eq!(report.noncurrent_removed, 1, "{report:?}");
        assert_eq!(
            report.delete_markers_removed, 0,
            "a version is still below it"
        );
        assert_eq!(keys(&s, &b).await.len(), 2);
        // Once no rule keeps a version below it, the lone marker goes too.
        let mut r = rule("all", "");
        r.noncurrent_expiration = Some(NoncurrentExpiration {
            days: 1,
            keep_newer: None,
        });
        let mut markers = rule("markers", "");
        markers.expiration = Some(Expiration::ExpiredObjectDeleteMarker);
        s.set_lifecycle(&b, Some(vec![r, markers])).await.unwrap();
        settle().await;
        let report = run_pass(&s, DAY_MS).await.unwrap();
        assert_eq!(
            (report.noncurrent_removed, report.delete_markers_removed),
            (1, 1),
            "{report:?}"
        );
        assert!(keys(&s, &b).await.is_empty());
        assert_eq!(s.usage(&b).await.unwrap(), crate::meta::Usage::default());
    }

    #[tokio::test]
    async fn stale_uploads_are_aborted_and_locked_versions_kept() {
        let (_d, s) = store().await;
        let mut r = rule("r", "");
        r.abort_incomplete_upload_days = Some(1);
        r.noncurrent_expiration = Some(NoncurrentExpiration {
            days: 1,
            keep_newer: None,
        });
        let b = s
            .create_bucket("lc-locked", "root", "in-mum", true)
            .await
            .unwrap();
        let b = s.set_lifecycle(&b, Some(vec![r])).await.unwrap();
        let held = ObjectMeta {
            retention: Some(Retention {
                mode: LockMode::Governance,
                until_ms: crate::clock::now_ms() + 3_600_000,
            }),
            ..ObjectMeta::default()
        };
        put_with(&s, &b, "k", b"old", held).await;
        put(&s, &b, "k", b"new").await;
        s.create_upload(&b, "mp", ObjectMeta::default(), None, None, None)
            .await
            .unwrap();
        settle().await;
        let report = run_pass(&s, DAY_MS).await.unwrap();
        assert_eq!(
            (
                report.uploads_aborted,
                report.locked_skipped,
                report.noncurrent_removed
            ),
            (1, 1, 0),
            "{report:?}"
        );
        assert_eq!(keys(&s, &b).await.len(), 2, "the locked version stays");
        let uploads = s.list_uploads(&b, "", None, None, None, 10).await.unwrap();
        assert!(uploads.entries.is_empty());
    }

    #[tokio::test]
    async fn an_object_replaced_since_it_was_judged_is_left_alone() {
        let (_d, s) = store().await;
        let b = bucket(
            &s,
            "lc-race",
            vec![{
                let mut r = rule("r", "");
                r.expiration = Some(Expiration::Days(1));
                r
            }],
        )
        .await;
        let old = put(&s, &b, "k", b"old").await;
        settle().await;
        put(&s, &b, "k", b"new").await;
        let cond = WriteCondition::Unchanged {
            last_modified_ms: old.last_modified_ms,
        };
        let r = s.delete_object(&b, "k", cond).await;
        assert!(matches!(r, Err(Error::PreconditionFailed)), "{r:?}");
        assert_eq!(keys(&s, &b).await.len(), 1);
    }
}
