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
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::task::{Context, Poll};

use deadpool_postgres::Client as Pooled;
use futures::FutureExt;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use super::{tx_err, Cached, TxError};
use crate::error::Error;

type TxResult<T> = std::result::Result<T, TxError>;
type DbResult<T> = std::result::Result<T, tokio_postgres::Error>;
type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

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

enum Answer<'c> {
    Waiting(Sent<'c>),
    Read(TxResult<()>),
}

/// A transaction on one pooled connection (see the module's note). Reads are answered at
/// once; [`Tx::write`] pipelines.
pub(crate) struct Tx<'c> {
    client: &'c Pooled,
    answers: Mutex<Vec<Answer<'c>>>,
    /// A statement could not even be sent: the transaction must not commit.
    broken: AtomicBool,
    /// Set once the transaction ended with a COMMIT or ROLLBACK this side awaited.
    ended: bool,
}

impl<'c> Tx<'c> {
    /// Starts a transaction: its `BEGIN` goes out with the statements that follow.
    pub(crate) fn begin(client: &'c Pooled) -> Tx<'c> {
        let tx = Tx {
            client,
            answers: Mutex::new(Vec::new()),
            broken: AtomicBool::new(false),
            ended: false,
        };
        // Read committed whatever the database's default: a statement that waited for a
        // lock sees what the holder committed (a managed key, a row another gateway wrote).
        let _ = tx.send(simple(client, "BEGIN ISOLATION LEVEL READ COMMITTED"));
        tx
    }

    /// Prepares `sqls` on this connection unless it has them already. Done before reads are
    /// sent together, so they go out in their order: a read whose statement still had to be
    /// prepared would go out after those behind it.
    pub(crate) async fn prepare(&self, sqls: &[&str]) -> TxResult<()> {
        for sql in sqls {
            self.drive(self.client.prepare_cached(sql))
                .await
                .map_err(tx_err)?;
        }
        Ok(())
    }

    pub(crate) async fn c_query(&self, sql: &str, params: Params<'_>) -> DbResult<Vec<Row>> {
        self.drive(self.client.c_query(sql, params)).await
    }

    pub(crate) async fn c_query_opt(&self, sql: &str, params: Params<'_>) -> DbResult<Option<Row>> {
        self.drive(self.client.c_query_opt(sql, params)).await
    }

    pub(crate) async fn c_query_one(&self, sql: &str, params: Params<'_>) -> DbResult<Row> {
        self.drive(self.client.c_query_one(sql, params)).await
    }

    pub(crate) async fn c_execute(&self, sql: &str, params: Params<'_>) -> DbResult<u64> {
        self.drive(self.client.c_execute(sql, params)).await
    }

    /// Sends a statement whose answer the transaction needs only at its commit: that it did
    /// not fail (a count of rows it changed comes too late to stop the commit).
    pub(crate) async fn write(&self, sql: &str, params: Vec<Param>) -> TxResult<()> {
        // Prepared first (at once when the connection has it cached): the execute must go
        // out now, behind what was sent before it.
        let st = self
            .drive(self.client.prepare_cached(sql))
            .await
            .map_err(tx_err)?;
        let client = self.client;
        self.send(Box::pin(async move {
            let refs: Vec<&(dyn ToSql + Sync)> =
                params.iter().map(|p| &**p as &(dyn ToSql + Sync)).collect();
            client.execute(&st, &refs).await.map(drop).map_err(tx_err)
        }))
    }

    /// Polls `fut` once, which puts its statement on the wire, and keeps it for its answer.
    /// A statement answered at once failed before it was sent (its values could not be
    /// encoded, the connection is gone): the transaction is then rolled back.
    fn send(&self, mut fut: Sent<'c>) -> TxResult<()> {
        let answer = match (&mut fut).now_or_never() {
            Some(Err(e)) => {
                self.broken.store(true, Ordering::Relaxed);
                Err(e)
            }
            Some(Ok(())) => Ok(()),
            None => {
                self.keep(Answer::Waiting(fut));
                return Ok(());
            }
        };
        let failed = answer.as_ref().err().map(copy_failure);
        self.keep(Answer::Read(answer));
        failed.map_or(Ok(()), Err)
    }

    fn keep(&self, answer: Answer<'c>) {
        if let Ok(mut answers) = self.answers.lock() {
            answers.push(answer);
        } else {
            self.broken.store(true, Ordering::Relaxed);
        }
    }

    /// Runs `fut` while reading the answers of statements sent before: the connection hands
    /// each answer to its statement through a queue of two messages, and stops reading the
    /// socket while one is full, so an answer nobody reads would hold back `fut`'s for good.
    async fn drive<T>(&self, fut: impl Future<Output = T>) -> T {
        let mut fut = std::pin::pin!(fut);
        std::future::poll_fn(|cx| match fut.as_mut().poll(cx) {
            Poll::Ready(v) => Poll::Ready(v),
            Poll::Pending => {
                self.read_answers(cx);
                Poll::Pending
            }
        })
        .await
    }

    fn read_answers(&self, cx: &mut Context<'_>) {
        let Ok(mut answers) = self.answers.lock() else {
            return;
        };
        for answer in answers.iter_mut() {
            if let Answer::Waiting(sent) = answer {
                if let Poll::Ready(r) = sent.as_mut().poll(cx) {
                    *answer = Answer::Read(r);
                }
            }
        }
    }

    /// Commits, or rolls back when `outcome` failed, and reads every answer. What the
    /// transaction ended with is the first failure among its statements, else `outcome`.
    pub(crate) async fn finish<T>(mut self, outcome: TxResult<T>) -> TxResult<T> {
        let commit = outcome.is_ok() && !self.broken.load(Ordering::Relaxed);
        let _ = self.send(simple(
            self.client,
            if commit { "COMMIT" } else { "ROLLBACK" },
        ));
        let answers = match self.answers.lock() {
            Ok(mut a) => std::mem::take(&mut *a),
            Err(_) => {
                return Err(TxError::Fail(Error::Meta(
                    "a transaction's answers were lost".into(),
                )))
            }
        };
        let mut first = None;
        for answer in answers {
            let r = match answer {
                Answer::Waiting(sent) => sent.await,
                Answer::Read(r) => r,
            };
            if let Err(e) = r {
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

/// The same failure again, for the caller of a statement that failed before it was sent
/// (the transaction keeps the first).
fn copy_failure(e: &TxError) -> TxError {
    match e {
        TxError::Retry => TxError::Retry,
        TxError::Stale(e) | TxError::Fail(e) => TxError::Fail(Error::Meta(e.to_string())),
    }
}
