//! Server access logs (S3 bucket logging): which buckets log where, a bounded queue of log
//! lines that requests drop into without waiting, and the task that delivers them as objects
//! into each target bucket, batched.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::checksum::ObjectHasher;
use crate::config::AccessLogSchedule;
use crate::meta::acl::LoggingConfig;
use crate::meta::{BucketId, BucketRecord, StoredHeaders, WriteCondition};
use crate::store::{ObjectMeta, Store};

/// A delivery happens once this much is waiting for one target, whatever the interval.
const FLUSH_BYTES: usize = 4 << 20;
/// Lines queued or batched at most, in bytes: past it new lines are dropped (and counted).
const MAX_PENDING_BYTES: usize = 64 << 20;
/// How long a shutdown waits for the last delivery.
const FINAL_DELIVERY: Duration = Duration::from_secs(10);
/// What a target prefix may take of a 1024-byte key: the partitioned form adds ~130 bytes.
pub const MAX_TARGET_PREFIX: usize = 512;

/// One logging bucket, as the request path needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub id: BucketId,
    pub owner: String,
    pub region: String,
    pub config: LoggingConfig,
}

impl Source {
    fn of(bucket: &BucketRecord) -> Option<Self> {
        Some(Source {
            id: bucket.id,
            owner: bucket.owner.clone(),
            region: bucket.region.clone(),
            config: bucket.logging.clone()?,
        })
    }
}

/// Reloads the sources whenever buckets change in the index (through any gateway), for as
/// long as the log lives. This gateway's own changes are taken at once by
/// [`AccessLog::update`] and [`AccessLog::forget`]; a reload that raced one of them is
/// followed by another, since the change raised the generation too.
async fn follow_buckets(log: std::sync::Weak<AccessLog>, store: Store) {
    use crate::meta::gens::{CacheKind, Use, POLL_EVERY};
    let mut seen = crate::meta::gens::Seen::default();
    loop {
        tokio::time::sleep(POLL_EVERY).await;
        let Some(log) = log.upgrade() else { return };
        let at = store.meta().generations().current(CacheKind::Buckets);
        if seen.check(at) == Use::Cleared {
            if let Err(e) = log.reload(&store).await {
                tracing::warn!(error = %e, "access log: could not reload the buckets that log");
                seen = Default::default();
            }
        }
    }
}

struct Line {
    source: String,
    source_id: BucketId,
    target: LoggingConfig,
    owner: String,
    region: String,
    text: String,
}

/// The access log: shared by every request, fed without blocking.
pub struct AccessLog {
    sources: RwLock<HashMap<String, Source>>,
    tx: mpsc::Sender<Line>,
    dropped: AtomicU64,
    /// Bytes of lines queued or batched, not yet delivered.
    pending: Arc<AtomicUsize>,
    stop: Arc<tokio::sync::Notify>,
    task: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl AccessLog {
    /// Loads the buckets that log and starts the delivery task on the current runtime.
    pub async fn start(
        store: Store,
        kms: Arc<crate::access::kms::Kms>,
        schedule: AccessLogSchedule,
    ) -> crate::error::Result<Arc<Self>> {
        let (tx, rx) = mpsc::channel(schedule.max_pending_lines.max(1));
        let pending = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(tokio::sync::Notify::new());
        let log = Arc::new(Self {
            sources: RwLock::new(HashMap::new()),
            tx,
            dropped: AtomicU64::new(0),
            pending: pending.clone(),
            stop: stop.clone(),
            task: std::sync::Mutex::new(None),
        });
        log.reload(&store).await?;
        tokio::spawn(follow_buckets(Arc::downgrade(&log), store.clone()));
        let every = Duration::from_secs(schedule.flush_secs.max(1));
        let task = tokio::spawn(deliver(store, kms, rx, every, pending, stop));
        if let Ok(mut slot) = log.task.lock() {
            *slot = Some(task);
        }
        Ok(log)
    }

    /// Takes every bucket's logging setting from the index.
    async fn reload(&self, store: &Store) -> crate::error::Result<()> {
        let mut map = HashMap::new();
        for b in store.list_buckets().await? {
            if let Some(source) = Source::of(&b) {
                map.insert(b.name.clone(), source);
            }
        }
        if let Ok(mut sources) = self.sources.write() {
            *sources = map;
        }
        Ok(())
    }

    /// Delivers what is waiting, once the server has stopped taking requests.
    pub async fn shutdown(&self) {
        let task = self.task.lock().ok().and_then(|mut t| t.take());
        if let Some(task) = task {
            self.stop.notify_one();
            if tokio::time::timeout(FINAL_DELIVERY, task).await.is_err() {
                tracing::warn!("access log: the last delivery did not finish in time");
            }
        }
    }

    /// Where `bucket`'s requests are logged, if they are.
    pub fn source(&self, bucket: &str) -> Option<Source> {
        self.sources.read().ok()?.get(bucket).cloned()
    }

    /// Takes `bucket`'s logging setting as it is now (after a change or a creation).
    pub fn update(&self, bucket: &BucketRecord) {
        if let Ok(mut map) = self.sources.write() {
            match Source::of(bucket) {
                Some(source) => map.insert(bucket.name.clone(), source),
                None => map.remove(&bucket.name),
            };
        }
    }

    /// Stops logging a deleted bucket.
    pub fn forget(&self, bucket: &str) {
        if let Ok(mut map) = self.sources.write() {
            map.remove(bucket);
        }
    }

    /// Queues one line for `bucket`'s log; when the queue is full the line is dropped (and
    /// counted), never waited for.
    pub fn record(&self, bucket: &str, source: &Source, text: String) {
        let size = text.len() + 1;
        let over = self.pending.fetch_add(size, Ordering::Relaxed) + size > MAX_PENDING_BYTES;
        let line = Line {
            source: bucket.to_owned(),
            source_id: source.id,
            target: source.config.clone(),
            owner: source.owner.clone(),
            region: source.region.clone(),
            text,
        };
        if over || self.tx.try_send(line).is_err() {
            self.pending.fetch_sub(size, Ordering::Relaxed);
            let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if n.is_power_of_two() {
                tracing::warn!(dropped = n, "access log queue full: lines dropped");
            }
        }
    }

    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// Lines waiting for one log object: one source bucket (by id: a bucket deleted and made
/// again under its name is another source) into one target and prefix.
#[derive(Clone, PartialEq, Eq, Hash)]
struct BatchKey {
    source: String,
    source_id: BucketId,
    owner: String,
    region: String,
    target: LoggingConfig,
}

/// Adds `line` to its batch; the batch's size after it.
fn batch(batches: &mut HashMap<BatchKey, String>, line: Line) -> usize {
    let key = BatchKey {
        source: line.source,
        source_id: line.source_id,
        owner: line.owner,
        region: line.region,
        target: line.target,
    };
    let text = batches.entry(key).or_default();
    text.push_str(&line.text);
    text.push('\n');
    text.len()
}

async fn deliver(
    store: Store,
    kms: Arc<crate::access::kms::Kms>,
    mut rx: mpsc::Receiver<Line>,
    every: Duration,
    pending: Arc<AtomicUsize>,
    stop: Arc<tokio::sync::Notify>,
) {
    let mut batches: HashMap<BatchKey, String> = HashMap::new();
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        let stopping = tokio::select! {
            line = rx.recv() => match line {
                Some(line) => {
                    if batch(&mut batches, line) < FLUSH_BYTES {
                        continue;
                    }
                    false
                }
                None => true,
            },
            _ = tick.tick() => false,
            _ = stop.notified() => true,
        };
        if stopping {
            // What requests queued before the server stopped taking them goes out too.
            while let Ok(line) = rx.try_recv() {
                batch(&mut batches, line);
            }
        }
        for (key, text) in batches.drain() {
            let size = text.len();
            if let Err(e) = put_log(&store, &kms, &key, text).await {
                tracing::warn!(target = %key.target.target_bucket, source = %key.source, error = %e, "access log not delivered");
            }
            pending.fetch_sub(size.min(pending.load(Ordering::Relaxed)), Ordering::Relaxed);
        }
        if stopping {
            return;
        }
    }
}

/// `prefix` + `YYYY-MM-DD-hh-mm-ss-UNIQUE`, or S3's partitioned form
/// `prefix` + `owner/region/bucket/YYYY/MM/DD/` before it.
fn object_key(prefix: &str, partitioned: bool, owner: &str, region: &str, bucket: &str) -> String {
    let now = time::OffsetDateTime::now_utc();
    let unique = uuid::Uuid::new_v4().simple().to_string()[..16].to_ascii_uppercase();
    let stamp = format!(
        "{:04}-{:02}-{:02}-{:02}-{:02}-{:02}-{unique}",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    );
    if partitioned {
        let account = crate::access::acl::canonical_id(owner);
        format!(
            "{prefix}{account}/{region}/{bucket}/{:04}/{:02}/{:02}/{stamp}",
            now.year(),
            u8::from(now.month()),
            now.day()
        )
    } else {
        format!("{prefix}{stamp}")
    }
}

/// Writes one log object into the batch's target, if the source bucket is still the one that
/// logged (same id, logging still into this target) and the target is still its owner's.
async fn put_log(
    store: &Store,
    kms: &Arc<crate::access::kms::Kms>,
    batch: &BatchKey,
    text: String,
) -> crate::error::Result<()> {
    let refused = |why: String| Err(crate::error::Error::InvalidRequest(why));
    match store.bucket(&batch.source).await {
        Ok(s) if s.id == batch.source_id && s.logging.as_ref() == Some(&batch.target) => {}
        Ok(_) | Err(crate::error::Error::NoSuchBucket(_)) => {
            return refused("the source bucket no longer logs there".into())
        }
        Err(e) => return Err(e),
    }
    let target = &batch.target.target_bucket;
    let bucket = store.bucket(target).await?;
    if bucket.owner != batch.owner {
        return refused(format!(
            "the target bucket `{target}` now belongs to another account"
        ));
    }
    let key = object_key(
        &batch.target.target_prefix,
        batch.target.partitioned,
        &batch.owner,
        &batch.region,
        &batch.source,
    );
    let data = Bytes::from(text);
    let mut hasher = ObjectHasher::new(None, None);
    hasher.update(&data);
    let digests = hasher.finish();
    // Logs are encrypted when the target bucket encrypts by default: with SSE-S3, the one
    // encryption S3 delivers logs under (a KMS default's key may be disabled or gone).
    let k = kms.clone();
    let wanted = bucket.encryption.is_some();
    let sealed = tokio::task::spawn_blocking(move || {
        wanted
            .then(|| k.new_key(&crate::access::kms::SseRequest::S3 { bucket_key: false }))
            .transpose()
    })
    .await??;
    let (key_of_data, sse) = match sealed {
        Some((k, e)) => (Some(k), Some(e)),
        None => (None, None),
    };
    let mut staged = store
        .stage_object(data.len() as u64, key_of_data.as_ref())
        .await?;
    staged.write(data).await?;
    let meta = ObjectMeta {
        headers: StoredHeaders {
            content_type: Some("text/plain".to_owned()),
            ..StoredHeaders::default()
        },
        sse,
        ..ObjectMeta::default()
    };
    store
        .commit_object(
            &bucket,
            &key,
            staged,
            &digests,
            meta,
            WriteCondition::Always,
        )
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_keys() {
        let simple = object_key("logs/", false, "alice", "in-mum", "src");
        assert!(simple.starts_with("logs/20"), "{simple}");
        assert_eq!(simple.len(), "logs/".len() + 19 + 1 + 16, "{simple}");
        let parted = object_key("", true, "alice", "in-mum", "src");
        let id = crate::access::acl::canonical_id("alice");
        assert!(
            parted.starts_with(&format!("{id}/in-mum/src/20")),
            "{parted}"
        );
    }

    #[tokio::test]
    async fn lines_are_delivered_to_the_target_bucket() {
        let (_dir, store) = crate::store::testing::store().await;
        let target = store
            .create_bucket("logs", "root", "in-mum", false)
            .await
            .unwrap();
        let source = store
            .create_bucket("src", "root", "in-mum", false)
            .await
            .unwrap();
        let config = LoggingConfig {
            target_bucket: "logs".into(),
            target_prefix: "access/".into(),
            partitioned: false,
        };
        let schedule = AccessLogSchedule {
            flush_secs: 1,
            max_pending_lines: 4,
        };
        let kms = crate::access::kms::Kms::new(
            &Default::default(),
            store.meta(),
            crate::access::seal::Sealer::new([1; 32]),
        )
        .unwrap();
        let log = AccessLog::start(store.clone(), Arc::new(kms), schedule)
            .await
            .unwrap();
        assert!(log.source("src").is_none(), "not logging when it started");
        let source = store
            .update_bucket(&source, move |b| {
                b.logging = Some(config.clone());
                Ok(())
            })
            .await
            .unwrap();
        log.update(&source);
        let s = log.source("src").unwrap();
        for i in 0..10 {
            log.record("src", &s, format!("line {i}"));
        }
        assert!(
            log.dropped() > 0,
            "a full queue drops lines instead of waiting"
        );
        let mut found = Vec::new();
        for _ in 0..50 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let page = store
                .list_objects(&target, "access/", None, None, 10)
                .await
                .unwrap();
            found = page.entries;
            if !found.is_empty() {
                break;
            }
        }
        assert_eq!(found.len(), 1, "one object per delivery");
        log.forget("src");
        assert!(log.source("src").is_none());
    }
}
