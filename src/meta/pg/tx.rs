//! Pipelined transactions. A statement whose answer the commit needs only to know that it
//! succeeded is sent at once and its answer read at the commit, so the writes of a commit,
//! and its `BEGIN` with the first reads, share one round trip to the database: a PUT waits
//! for two (the reads that lock the bucket and the key, then the writes and the `COMMIT`)
//! where each statement used to be one.
//!
//! Sent statements run in the order they were sent, on one connection. When one of them
//! fails, PostgreSQL refuses the rest of the transaction and answers the `COMMIT` with a
//! rollback, so the first failure read back is what the transaction ended with.

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

use deadpool_postgres::Client as Pooled;
use futures::FutureExt;
use tokio_postgres::types::ToSql;

use super::{tx_err, TxError};
use crate::error::Error;

type TxResult<T> = std::result::Result<T, TxError>;

/// A value bound to a pipelined statement: owned, as the statement outlives the call that
/// sends it.
pub(crate) type Param = Box<dyn ToSql + Sync + Send>;

/// The owned parameters of a pipelined statement.
macro_rules! params {
    ($($p:expr),* $(,)?) => {
        vec![$(Box::new($p) as $crate::meta::pg::tx::Param),*]
    };
}
pub(crate) use params;

/// A statement sent, its answer not read yet.
type Sent<'c> = Pin<Box<dyn Future<Output = TxResult<()>> + Send + 'c>>;

/// A transaction on one pooled connection (see the module's note). Reads go through the
/// connection (`Deref`) and are answered at once; [`Tx::write`] pipelines.
pub(crate) struct Tx<'c> {
    client: &'c Pooled,
    sent: Mutex<Vec<Sent<'c>>>,
    /// Set once the transaction ended with a COMMIT or ROLLBACK this side awaited.
    ended: bool,
}

impl std::ops::Deref for Tx<'_> {
    type Target = Pooled;

    fn deref(&self) -> &Pooled {
        self.client
    }
}

impl<'c> Tx<'c> {
    /// Starts a transaction: its `BEGIN` goes out with the statements that follow.
    pub(crate) fn begin(client: &'c Pooled) -> Tx<'c> {
        let tx = Tx {
            client,
            sent: Mutex::new(Vec::new()),
            ended: false,
        };
        tx.send(simple(client, "BEGIN"));
        tx
    }

    /// Sends a statement whose answer the transaction needs only at its commit: that it did
    /// not fail (a count of rows it changed comes too late to stop the commit).
    pub(crate) async fn write(&self, sql: &str, params: Vec<Param>) -> TxResult<()> {
        // Prepared first (at once when the connection has it cached): the execute must go
        // out now, behind what was sent before it.
        let st = self.client.prepare_cached(sql).await.map_err(tx_err)?;
        let client = self.client;
        self.send(Box::pin(async move {
            let refs: Vec<&(dyn ToSql + Sync)> =
                params.iter().map(|p| &**p as &(dyn ToSql + Sync)).collect();
            client.execute(&st, &refs).await.map(drop).map_err(tx_err)
        }));
        Ok(())
    }

    /// Polls `fut` once, which puts its statement on the wire, and keeps it for its answer.
    fn send(&self, mut fut: Sent<'c>) {
        let first = (&mut fut).now_or_never();
        let done: Sent<'c> = match first {
            // Answered already: only a failure to send is.
            Some(r) => Box::pin(std::future::ready(r)),
            None => fut,
        };
        if let Ok(mut sent) = self.sent.lock() {
            sent.push(done);
        }
    }

    /// Commits, or rolls back when `outcome` failed, and reads every answer. What the
    /// transaction ended with is the first failure among its statements, else `outcome`.
    pub(crate) async fn finish<T>(mut self, outcome: TxResult<T>) -> TxResult<T> {
        let end = if outcome.is_ok() {
            "COMMIT"
        } else {
            "ROLLBACK"
        };
        self.send(simple(self.client, end));
        let sent = std::mem::take(&mut *self.sent.lock().map_err(|_| poisoned())?);
        let mut first = None;
        for answer in sent {
            if let Err(e) = answer.await {
                first.get_or_insert(e);
            }
        }
        self.ended = true;
        match first {
            Some(e) => Err(e),
            None => outcome,
        }
    }
}

impl Drop for Tx<'_> {
    /// A transaction dropped unfinished (a panic on the way) must not stay open on a
    /// connection the pool hands out again.
    fn drop(&mut self) {
        if !self.ended {
            let _ = self.client.batch_execute("ROLLBACK").now_or_never();
        }
    }
}

fn simple<'c>(client: &'c Pooled, sql: &'static str) -> Sent<'c> {
    Box::pin(async move { client.batch_execute(sql).await.map_err(tx_err) })
}

fn poisoned() -> TxError {
    TxError::Fail(Error::Meta(
        "a transaction's list of statements was poisoned".into(),
    ))
}
