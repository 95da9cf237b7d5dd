//! What the background tasks (scrub, lifecycle) share: when a pass is next due, the record of
//! the last pass kept in the data dir, and the state `/health` shows.

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

/// How long until a task run every `every` is next due, when it last ran at `last_ms` (unix
/// millis; one full interval from now when it never ran).
pub fn due_in(every: Duration, last_ms: Option<i64>) -> Duration {
    let since = last_ms.map_or(0, |t| {
        u64::try_from(crate::clock::now_ms() - t).unwrap_or(0)
    });
    every.saturating_sub(Duration::from_millis(since))
}

/// A task's record in the data dir, if there is a readable one.
pub fn read_record<T: serde::de::DeserializeOwned>(path: &Path) -> Option<T> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

/// Keeps a task's record in the data dir; a failure is logged, never fatal.
pub fn keep_record<T: serde::Serialize>(path: &Path, record: &T) {
    let written = serde_json::to_vec_pretty(record)
        .map_err(|e| e.to_string())
        .and_then(|bytes| {
            crate::credentials::write_private(path, &bytes).map_err(|e| e.to_string())
        });
    if let Err(e) = written {
        tracing::warn!(path = %path.display(), error = %e, "could not keep a background task's record");
    }
}

/// Whether a task is running, and its last finished pass `P`.
#[derive(Debug)]
pub struct TaskStatus<P> {
    inner: Mutex<(bool, Option<P>)>,
}

impl<P> Default for TaskStatus<P> {
    fn default() -> Self {
        Self {
            inner: Mutex::new((false, None)),
        }
    }
}

impl<P: Clone> TaskStatus<P> {
    pub fn set_running(&self, running: bool) {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).0 = running;
    }

    pub fn set_last(&self, last: Option<P>) {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).1 = last;
    }

    /// The last pass's record, if one finished.
    pub fn last(&self) -> Option<P> {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .1
            .clone()
    }

    /// `{"running": …, "last_pass": view(last) or null}`.
    pub fn summary(&self, view: impl FnOnce(P) -> serde_json::Value) -> serde_json::Value {
        let (running, last) = self.inner.lock().unwrap_or_else(|p| p.into_inner()).clone();
        serde_json::json!({ "running": running, "last_pass": last.map(view) })
    }
}
