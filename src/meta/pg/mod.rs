//! The PostgreSQL index, for several gateways over one namespace: every commit is one
//! transaction, and what one gateway commits every other sees at once. Its calls block the
//! thread until the database answers, like RocksDB's: the store runs writes and scans on the
//! blocking pool, and a point read on an async thread moves that thread's other tasks away
//! first (`block_in_place`), so the server needs its multi-threaded runtime.

mod access;
mod buckets;
#[cfg(feature = "rocksdb")]
pub mod import;
mod ledger;
mod objects;
pub mod schema;
mod session;
#[doc(hidden)]
pub mod testing;
pub mod tls;
mod tx;
mod uploads;

use std::future::Future;

use deadpool_postgres::{ManagerConfig, Pool, RecyclingMethod};

use crate::error::{Error, Result};

/// An index on a PostgreSQL database (or one that speaks its protocol and SQL).
pub struct PgMeta {
    pool: Pool,
    /// The runtime the pool's connections are driven on.
    rt: tokio::runtime::Handle,
    /// This gateway's id, fresh for each run: the owner of the blobs it stages.
    gateway: [u8; 16],
    heartbeat: Option<tokio::task::JoinHandle<()>>,
    gens: std::sync::Arc<crate::meta::gens::Generations>,
    /// Keeps `gens` current (see [`session`]).
    poller: Option<tokio::task::JoinHandle<()>>,
    /// How connections to the database are made.
    tls: tls::DbTls,
    /// The session holding the lock on this gateway's id (see [`session::lock_gateway`]);
    /// the heartbeat opens it again if it ends.
    lock: std::sync::Arc<tokio::sync::Mutex<tokio_postgres::Client>>,
}

/// The longest a call waits for a free connection.
const POOL_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

impl Drop for PgMeta {
    fn drop(&mut self) {
        for task in [self.heartbeat.take(), self.poller.take()]
            .into_iter()
            .flatten()
        {
            task.abort();
        }
    }
}

impl std::fmt::Debug for PgMeta {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgMeta")
            .field("pool", &self.pool.status())
            .finish()
    }
}

impl PgMeta {
    /// Connects to the database at `url` with up to `pool_size` connections, and brings its
    /// schema up to date (refusing one newer than this server). Blocking: call it from the
    /// blocking pool or outside the runtime of `rt`.
    pub fn connect(url: &str, pool_size: usize, rt: tokio::runtime::Handle) -> Result<Self> {
        Self::connect_with(url, pool_size, tls::DbTls::for_url(url, None)?, rt)
    }

    /// [`PgMeta::connect`], with TLS to the database made as `tls` says.
    pub fn connect_with(
        url: &str,
        pool_size: usize,
        tls: tls::DbTls,
        rt: tokio::runtime::Handle,
    ) -> Result<Self> {
        let manager = tls.manager(
            tls::parse(url)?,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(pool_size.max(1))
            // A request that cannot get a connection soon is answered 503, not held.
            .wait_timeout(Some(POOL_WAIT))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()
            .map_err(|e| Error::Meta(format!("PostgreSQL pool: {e}")))?;
        let (gateway, lock) = tokio::task::block_in_place(|| {
            rt.block_on(async {
                for _ in 0..4 {
                    let id = *uuid::Uuid::new_v4().as_bytes();
                    if let Some(lock) = session::lock_gateway(url, &tls, &id).await? {
                        return Ok((id, lock));
                    }
                }
                Err(Error::Meta("could not find a free gateway id".into()))
            })
        })?;
        let mut meta = Self {
            pool,
            rt,
            gateway,
            heartbeat: None,
            gens: std::sync::Arc::new(crate::meta::gens::Generations::shared()),
            poller: None,
            lock: std::sync::Arc::new(tokio::sync::Mutex::new(lock)),
            tls,
        };
        meta.run(|mut client| async move { schema::migrate(&mut client).await })?;
        meta.register()?;
        let sent = std::time::Instant::now();
        let first = meta.run(|c| async move { session::read_generations(&c).await })?;
        meta.gens.observe(&first, sent);
        meta.poller = Some(meta.rt.spawn(session::poll_generations(
            url.to_owned(),
            meta.tls.clone(),
            meta.gens.clone(),
        )));
        let (pool, id, lock, url, tls) = (
            meta.pool.clone(),
            meta.gateway,
            meta.lock.clone(),
            url.to_owned(),
            meta.tls.clone(),
        );
        meta.heartbeat = Some(meta.rt.spawn(async move {
            let every = std::time::Duration::from_millis(ledger::HEARTBEAT_MS);
            loop {
                tokio::time::sleep(every).await;
                if let Err(e) = PgMeta::keep_lock(&lock, &url, &tls, &id).await {
                    tracing::warn!(error = %e, "could not take this gateway's lock again");
                }
                if let Err(e) = PgMeta::beat(&pool, &id).await {
                    tracing::warn!(error = %e, "could not record this gateway's heartbeat");
                }
            }
        }));
        Ok(meta)
    }

    /// Takes the gateway's lock again if its session ended (the database restarted, or the
    /// network dropped it). Meanwhile other gateways may have counted this one as gone; the
    /// beat that follows registers it again.
    async fn keep_lock(
        lock: &tokio::sync::Mutex<tokio_postgres::Client>,
        url: &str,
        tls: &tls::DbTls,
        id: &[u8; 16],
    ) -> Result<()> {
        let mut held = lock.lock().await;
        if !held.is_closed() {
            return Ok(());
        }
        tracing::warn!("the session holding this gateway's lock ended; taking the lock again");
        match session::lock_gateway(url, tls, id).await? {
            Some(client) => {
                *held = client;
                Ok(())
            }
            None => Err(Error::Meta(
                "this gateway's lock is held by another session".into(),
            )),
        }
    }

    /// Runs `f` on the session holding the gateway's lock, apart from the pool.
    fn on_own_session<T, F>(&self, f: F) -> Result<T>
    where
        F: AsyncFnOnce(&tokio_postgres::Client) -> Result<T>,
    {
        tokio::task::block_in_place(|| {
            self.rt.block_on(async {
                let session = self.lock.lock().await;
                f(&session).await
            })
        })
    }

    /// Runs `f` on one snapshot of the database (a read-only repeatable-read transaction):
    /// its statements see one moment, as a RocksDB iterator does.
    fn snapshot<T, F>(&self, f: F) -> Result<T>
    where
        F: AsyncFnOnce(&tokio_postgres::Transaction<'_>) -> Result<T>,
    {
        self.run(|mut c| async move {
            let tx = c
                .build_transaction()
                .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .await
                .map_err(db_err)?;
            let v = f(&tx).await?;
            tx.commit().await.map_err(db_err)?;
            Ok(v)
        })
    }

    /// Runs `f` with a pooled connection and waits for it. Called from one of the runtime's
    /// async threads (a point read), that thread first hands its other tasks to another, so
    /// nothing waits behind the database's answer.
    fn run<T, F, Fut>(&self, f: F) -> Result<T>
    where
        F: FnOnce(deadpool_postgres::Object) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        tokio::task::block_in_place(|| self.wait(f))
    }

    fn wait<T, F, Fut>(&self, f: F) -> Result<T>
    where
        F: FnOnce(deadpool_postgres::Object) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        self.rt.block_on(async {
            let client =
                self.pool.get().await.map_err(|e| {
                    Error::MetaUnavailable(format!("no PostgreSQL connection: {e}"))
                })?;
            let statements = client.statement_cache.clone();
            let r = f(client).await;
            if let Err(Error::MetaUnavailable(_)) = &r {
                // Among these, a statement gone stale (see `stale_statement`): this call
                // failed, the connection's next ones prepare their statements anew.
                statements.clear();
            }
            r
        })
    }
}

/// Statements prepared once per connection and kept by the pool: each call then costs one
/// round trip to the database instead of two (a parse, then the bind and execute).
pub(crate) trait Cached: deadpool_postgres::GenericClient {
    fn c_query(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> impl Future<Output = std::result::Result<Vec<tokio_postgres::Row>, tokio_postgres::Error>> + Send
    {
        async move {
            let st = self.prepare_cached(sql).await?;
            self.query(&st, params).await
        }
    }

    fn c_query_opt(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> impl Future<Output = std::result::Result<Option<tokio_postgres::Row>, tokio_postgres::Error>>
           + Send {
        async move {
            let st = self.prepare_cached(sql).await?;
            self.query_opt(&st, params).await
        }
    }

    fn c_query_one(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> impl Future<Output = std::result::Result<tokio_postgres::Row, tokio_postgres::Error>> + Send
    {
        async move {
            let st = self.prepare_cached(sql).await?;
            self.query_one(&st, params).await
        }
    }

    fn c_execute(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> impl Future<Output = std::result::Result<u64, tokio_postgres::Error>> + Send {
        async move {
            let st = self.prepare_cached(sql).await?;
            self.execute(&st, params).await
        }
    }
}

impl<C: deadpool_postgres::GenericClient> Cached for C {}

/// Why a transaction stopped: to be run again from the start (it lost a race with another
/// one), or for good.
pub(crate) enum TxError {
    Retry,
    /// A statement this connection prepared and kept is no longer valid (see
    /// [`stale_statement`]): run again once, its statements prepared anew.
    Stale(Error),
    Fail(Error),
}

/// A prepared statement the server no longer takes as it was prepared: a later migration
/// changed what it returns ("cached plan must not change result type"), or the session under
/// it is not the one that prepared it (behind a pooler, "prepared statement … does not exist").
fn stale_statement(db: &tokio_postgres::error::DbError) -> bool {
    use tokio_postgres::error::SqlState;
    let (code, message) = (db.code(), db.message());
    (*code == SqlState::FEATURE_NOT_SUPPORTED
        && message.starts_with("cached plan must not change result type"))
        || (*code == SqlState::INVALID_SQL_STATEMENT_NAME
            && message.starts_with("prepared statement")
            && message.ends_with("does not exist"))
}

impl From<Error> for TxError {
    fn from(e: Error) -> Self {
        TxError::Fail(e)
    }
}

/// A database error inside a transaction: a serialization failure, a deadlock, and the
/// insert of a key another commit inserted first are races, run again; the rest fail.
pub(crate) fn tx_err(e: tokio_postgres::Error) -> TxError {
    use tokio_postgres::error::SqlState;
    if e.as_db_error().is_some_and(stale_statement) {
        return TxError::Stale(db_err(e));
    }
    match e.code() {
        Some(c)
            if *c == SqlState::T_R_SERIALIZATION_FAILURE
                || *c == SqlState::T_R_DEADLOCK_DETECTED =>
        {
            TxError::Retry
        }
        // Two creators of one key: the loser runs again and finds the winner's row.
        Some(c)
            if *c == SqlState::UNIQUE_VIOLATION
                && e.as_db_error().and_then(|d| d.constraint()) == Some("objects_pkey") =>
        {
            TxError::Retry
        }
        _ => TxError::Fail(db_err(e)),
    }
}

/// Transactions that lost a race this many times in a row give up.
const TX_ATTEMPTS: u32 = 10;

impl PgMeta {
    /// Runs `f` in a transaction and commits it, from the start again when it lost a race.
    pub(crate) fn transact<T, F>(&self, mut f: F) -> Result<T>
    where
        F: AsyncFnMut(&tx::Tx<'_>) -> Result<T, TxError>,
    {
        self.run(|c| async move {
            let mut prepared_anew = false;
            for attempt in 0..TX_ATTEMPTS {
                let tx = tx::Tx::begin(&c);
                let outcome = f(&tx).await;
                match tx.finish(outcome).await {
                    Ok(v) => return Ok(v),
                    Err(TxError::Fail(e)) => return Err(e),
                    Err(TxError::Stale(e)) if prepared_anew => return Err(e),
                    Err(TxError::Stale(_)) => {
                        c.statement_cache.clear();
                        prepared_anew = true;
                    }
                    Err(TxError::Retry) => {
                        // Jittered, so the racers do not meet again at once.
                        let ms = rand::random::<u64>() % (1 << attempt.min(6));
                        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
                    }
                }
            }
            Err(Error::Meta(format!(
                "a transaction lost {TX_ATTEMPTS} races in a row"
            )))
        })
    }
}

/// What a database error means to a client: the database out of reach is a retry later
/// (503), anything else a fault of the server.
pub(crate) fn db_err(e: tokio_postgres::Error) -> Error {
    use std::error::Error as _;
    if let Some(db) = e.as_db_error() {
        let what = format!("PostgreSQL {}: {}", db.code().code(), db.message());
        return match stale_statement(db) {
            // Over once the statement is prepared anew: try again.
            true => Error::MetaUnavailable(what),
            false => Error::Meta(what),
        };
    }
    let io = e.source().is_some_and(|s| s.is::<std::io::Error>());
    match e.is_closed() || io {
        true => Error::MetaUnavailable(format!("PostgreSQL: {e}")),
        false => Error::Meta(format!("PostgreSQL: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, OnceLock};

    use super::*;
    use crate::meta::contract::Opened;

    /// Drives the pools' connections for every test of this process.
    fn runtime() -> tokio::runtime::Handle {
        static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
        RT.get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap()
        })
        .handle()
        .clone()
    }

    fn open() -> Opened<PgMeta> {
        let url = testing::fresh_database();
        Opened {
            store: Arc::new(PgMeta::connect(&url, 4, runtime()).unwrap()),
            url,
            dir: None,
        }
    }

    fn second(m: &Opened<PgMeta>) -> Arc<PgMeta> {
        Arc::new(PgMeta::connect(&m.url, 4, runtime()).unwrap())
    }

    crate::meta::contract::access_contract!(open(), second);
    crate::meta::contract::bucket_contract!(open(), second);
    crate::meta::contract::object_contract!(open());

    /// Gateways that start together on an empty database apply the schema once, and one that
    /// starts later finds it current.
    #[test]
    fn schema_is_made_once_by_servers_starting_together() {
        let url = testing::fresh_database();
        std::thread::scope(|s| {
            let starting: Vec<_> = (0..4)
                .map(|_| s.spawn(|| PgMeta::connect(&url, 1, runtime()).map(drop)))
                .collect();
            for t in starting {
                t.join().unwrap().unwrap();
            }
        });
        let m = PgMeta::connect(&url, 1, runtime()).unwrap();
        let versions: Vec<i32> = m
            .run(|c| async move {
                let rows = c
                    .query("SELECT version FROM cnx_schema ORDER BY version", &[])
                    .await
                    .map_err(db_err)?;
                Ok(rows.iter().map(|r| r.get(0)).collect())
            })
            .unwrap();
        assert_eq!(
            versions,
            (1..=schema::current_version()).collect::<Vec<_>>()
        );
    }

    fn queued(m: &PgMeta, blob: &'static str) -> i64 {
        m.run(|c| async move {
            let row = c
                .query_one("SELECT count(*) FROM gc WHERE blob = $1", &[&blob])
                .await
                .map_err(db_err)?;
            Ok(row.get(0))
        })
        .unwrap()
    }

    const QUEUE: &str = "INSERT INTO gc (blob, queued_ms) VALUES ($1, 0)";

    /// A pipelined write that fails undoes the whole transaction, the writes sent before it
    /// included, and leaves the connection out of any transaction.
    #[test]
    fn a_failed_pipelined_write_rolls_back_its_transaction() {
        use tx::params;
        let url = testing::fresh_database();
        let m = PgMeta::connect(&url, 1, runtime()).unwrap();
        let r: Result<()> = m.transact(async |tx| {
            for blob in ["before", "twice", "twice", "after"] {
                tx.write(QUEUE, params![blob.to_owned()]).await?;
            }
            Ok(())
        });
        assert!(
            matches!(&r, Err(Error::Meta(e)) if e.contains("23505")),
            "{r:?}"
        );
        for blob in ["before", "twice", "after"] {
            assert_eq!(queued(&m, blob), 0, "{blob}");
        }
        // The pool's one connection again: a statement on it commits by itself.
        m.run(|c| async move {
            c.execute(QUEUE, &[&"later"]).await.map_err(db_err)?;
            Ok(())
        })
        .unwrap();
        let other = PgMeta::connect(&url, 1, runtime()).unwrap();
        assert_eq!(queued(&other, "later"), 1);
    }

    /// A statement that fails before it is sent (a value of the wrong type) rolls back its
    /// transaction, even when the caller goes on as if it had not.
    #[test]
    fn a_write_that_cannot_be_sent_rolls_back_its_transaction() {
        use tx::params;
        let url = testing::fresh_database();
        let m = PgMeta::connect(&url, 1, runtime()).unwrap();
        let r: Result<()> = m.transact(async |tx| {
            tx.write(QUEUE, params!["sent".to_owned()]).await?;
            let unsendable = tx
                .write(
                    "INSERT INTO gc (blob, queued_ms) VALUES ($1, $2)",
                    params!["unsent".to_owned(), "not a number".to_owned()],
                )
                .await;
            assert!(unsendable.is_err());
            Ok(())
        });
        assert!(r.is_err());
        assert_eq!(queued(&m, "sent"), 0);
    }

    /// A transaction dropped unfinished (a panic on its way) is rolled back, and its
    /// connection goes back to the pool out of it.
    #[test]
    fn a_dropped_transaction_is_rolled_back() {
        use tx::params;
        let url = testing::fresh_database();
        let m = PgMeta::connect(&url, 1, runtime()).unwrap();
        m.run(|c| async move {
            let tx = tx::Tx::begin(&c);
            tx.write(QUEUE, params!["dropped".to_owned()])
                .await
                .map_err(|_| Error::Meta("write".into()))?;
            drop(tx);
            c.execute(QUEUE, &[&"autocommitted"])
                .await
                .map_err(db_err)?;
            Ok(())
        })
        .unwrap();
        let other = PgMeta::connect(&url, 1, runtime()).unwrap();
        assert_eq!(queued(&other, "dropped"), 0);
        assert_eq!(queued(&other, "autocommitted"), 1);
    }

    /// A statement kept prepared goes stale when a migration changes what it returns: the
    /// call that meets it fails as a retry-later, a transaction runs again at once, and the
    /// connection prepares its statements anew.
    #[test]
    fn a_stale_prepared_statement_is_prepared_anew() {
        const READ: &str = "SELECT queued_ms FROM gc WHERE blob = 'none'";
        let url = testing::fresh_database();
        let m = PgMeta::connect(&url, 1, runtime()).unwrap();
        let read = || m.run(|c| async move { c.c_query(READ, &[]).await.map_err(db_err) });
        let change = |to: &'static str| {
            m.run(|c| async move {
                c.batch_execute(&format!("ALTER TABLE gc ALTER COLUMN queued_ms TYPE {to}"))
                    .await
                    .map_err(db_err)
            })
            .unwrap()
        };
        read().unwrap();
        change("numeric");
        assert!(matches!(read(), Err(Error::MetaUnavailable(_))));
        read().unwrap();
        change("bigint");
        let rows = m.transact(async |tx| tx.c_query(READ, &[]).await.map_err(tx_err));
        assert!(rows.unwrap().is_empty());
    }

    /// A database a newer server migrated is refused, not written to.
    #[test]
    fn a_newer_schema_is_refused() {
        let url = testing::fresh_database();
        let m = PgMeta::connect(&url, 1, runtime()).unwrap();
        m.run(|c| async move {
            c.execute(
                "INSERT INTO cnx_schema VALUES ($1, 'from the future', 'x', 0)",
                &[&(schema::current_version() + 1)],
            )
            .await
            .map_err(db_err)
        })
        .unwrap();
        let e = PgMeta::connect(&url, 1, runtime()).unwrap_err().to_string();
        assert!(e.contains("newer than this server"), "{e}");
    }

    /// The blobs a gateway stages are reclaimed only once it has gone quiet, and then a
    /// commit of one of them is refused: its bytes may be deleted any moment.
    #[test]
    fn only_the_blobs_of_gateways_gone_quiet_are_reclaimed() {
        use crate::meta::{BlobLedger, BucketStore, ObjectStore, WriteCondition};
        let a = open();
        let b = second(&a);
        a.stage_blob("a1").unwrap();
        b.stage_blob("b1").unwrap();
        assert_eq!(a.recover_staged().unwrap(), 0, "both gateways beat");
        let quiet = b.gateway.to_vec();
        a.run(|c| async move {
            c.execute(
                "UPDATE gateways SET heartbeat_ms = 0 WHERE id = $1",
                &[&quiet],
            )
            .await
            .map_err(db_err)
        })
        .unwrap();
        assert_eq!(a.recover_staged().unwrap(), 1);
        assert_eq!(a.staged_blobs().unwrap(), ["a1"]);
        let queued = a.pending_deletes(0, None, 10).unwrap();
        assert_eq!((queued[0].blob.as_str(), queued[0].queued_ms), ("b1", 0));
        let bucket = crate::meta::fixtures::bucket("b");
        a.insert_bucket(&bucket).unwrap();
        let late = b.put_object(
            &bucket,
            "k",
            &crate::meta::fixtures::object(1, "b1"),
            &WriteCondition::Always,
        );
        assert!(matches!(late, Err(Error::Meta(m)) if m.contains("no longer staged")));
        assert_eq!(b.get_object(&bucket.id, "k").unwrap(), None);
        a.put_object(
            &bucket,
            "k",
            &crate::meta::fixtures::object(1, "a1"),
            &WriteCondition::Always,
        )
        .unwrap();
        assert!(a.staged_blobs().unwrap().is_empty());
    }

    /// Several gateways share the database. One that missed beats but still holds the lock
    /// on its id is alive (the database may have been away); one whose lock went with its
    /// session and that missed a beat is gone, and the blobs it was writing are reclaimed by
    /// the next gateway to look, long before its heartbeats would be overdue.
    #[test]
    fn a_gateway_gone_is_known_by_its_lock() {
        use crate::meta::BlobLedger;
        let a = open();
        let b = second(&a);
        b.stage_blob("b1").unwrap();
        a.stage_blob("a1").unwrap();
        assert_eq!(a.recover_staged().unwrap(), 0, "both gateways run");
        let age = |id: Vec<u8>| {
            a.run(|c| async move {
                c.execute(
                    "UPDATE gateways SET heartbeat_ms = heartbeat_ms - 11000 WHERE id = $1",
                    &[&id],
                )
                .await
                .map_err(db_err)
            })
            .unwrap()
        };
        age(b.gateway.to_vec());
        assert_eq!(a.recover_staged().unwrap(), 0, "b holds its lock");
        let b_id = b.gateway.to_vec();
        drop(b);
        age(b_id);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while a.recover_staged().unwrap() == 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "the gone gateway's blobs were never reclaimed"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        assert_eq!(a.staged_blobs().unwrap(), ["a1"]);
    }

    /// A periodic task is led by one gateway per interval: the others are told how long the
    /// holder's lease has left, and take it once it lapsed.
    #[test]
    fn one_gateway_leads_a_task_per_interval() {
        use crate::meta::TaskLeases;
        let a = open();
        let b = second(&a);
        assert_eq!(a.try_lead("scrub", 60_000).unwrap(), None);
        let left = b.try_lead("scrub", 60_000).unwrap().expect("held by a");
        assert!((50_000..=60_000).contains(&left), "{left}");
        assert!(
            b.try_lead("scrub", 60_000).unwrap().is_some(),
            "held for the whole interval"
        );
        assert_eq!(
            a.try_lead("scrub", 60_000).unwrap(),
            None,
            "its holder's next pass is its own (a lease renewed through a long pass outlasts it)"
        );
        assert_eq!(b.try_lead("lifecycle", 100).unwrap(), None);
        std::thread::sleep(std::time::Duration::from_millis(150));
        assert_eq!(a.try_lead("lifecycle", 100).unwrap(), None, "lapsed");
        // Its holder renews a lease while its pass runs; no one else can.
        assert!(!b.renew_lead("lifecycle", 60_000).unwrap());
        assert!(a.renew_lead("lifecycle", 60_000).unwrap());
        std::thread::sleep(std::time::Duration::from_millis(150));
        let left = b.try_lead("lifecycle", 100).unwrap().expect("renewed by a");
        assert!(left > 50_000, "{left}");
    }

    /// `sslmode=require` connects over TLS, verified against the CA file; a server whose
    /// certificate no trusted CA signed is refused.
    #[test]
    fn tls_to_the_database_is_verified() {
        let Some(ca) = testing::server().ca_file.clone() else {
            return; // a server this process did not start (CNX_TEST_PG): no CA known
        };
        let url = format!("{}?sslmode=require", testing::fresh_database());
        let tls = tls::DbTls::for_url(&url, Some(&ca)).unwrap();
        let m = PgMeta::connect_with(&url, 2, tls, runtime()).unwrap();
        let encrypted: bool = m
            .run(|c| async move {
                let row = c
                    .query_one(
                        "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                        &[],
                    )
                    .await
                    .map_err(db_err)?;
                Ok(row.get(0))
            })
            .unwrap();
        assert!(encrypted);
        // Against the system's CAs only: the test server's own certificate is not trusted.
        let untrusted = tls::DbTls::for_url(&url, None).unwrap();
        assert!(PgMeta::connect_with(&url, 1, untrusted, runtime()).is_err());
        // Without sslmode=require and without a CA file, plain as before; a CA file without
        // sslmode=require is refused (a server could answer that it has no TLS).
        let plain = testing::fresh_database();
        assert!(matches!(
            tls::DbTls::for_url(&plain, None).unwrap(),
            tls::DbTls::Plain
        ));
        assert!(tls::DbTls::for_url(&plain, Some(&ca)).is_err());
    }

    /// A database that cannot be reached is the client's to retry (503), not a server fault.
    #[test]
    fn an_unreachable_database_is_unavailable() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("postgres://postgres@127.0.0.1:{port}/none");
        assert!(matches!(
            PgMeta::connect(&url, 1, runtime()),
            Err(Error::MetaUnavailable(_))
        ));
    }
}
