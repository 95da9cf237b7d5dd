//! The PostgreSQL index, for several gateways over one namespace: every commit is one
//! transaction, and what one gateway commits every other sees at once. Its calls block the
//! thread until the database answers, so like RocksDB's writes they run on the blocking pool
//! (never on the async threads, where waiting on the runtime would deadlock it).

mod access;
mod buckets;
pub mod schema;
#[cfg(test)]
pub mod testing;

use std::future::Future;
use std::str::FromStr;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};

use crate::error::{Error, Result};

/// An index on a PostgreSQL database (or one that speaks its protocol and SQL).
pub struct PgMeta {
    pool: Pool,
    /// The runtime the pool's connections are driven on.
    rt: tokio::runtime::Handle,
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
        let config = tokio_postgres::Config::from_str(url)
            .map_err(|e| Error::Meta(format!("bad PostgreSQL URL: {e}")))?;
        let manager = Manager::from_config(
            config,
            tokio_postgres::NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(pool_size.max(1))
            .build()
            .map_err(|e| Error::Meta(format!("PostgreSQL pool: {e}")))?;
        let meta = Self { pool, rt };
        meta.run(|mut client| async move { schema::migrate(&mut client).await })?;
        Ok(meta)
    }

    /// Runs `f` with a pooled connection and waits for it.
    fn run<T, F, Fut>(&self, f: F) -> Result<T>
    where
        F: FnOnce(deadpool_postgres::Object) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        self.rt.block_on(async {
            let client =
                self.pool.get().await.map_err(|e| {
                    Error::MetaUnavailable(format!("no PostgreSQL connection: {e}"))
                })?;
            f(client).await
        })
    }
}

/// What a database error means to a client: the database unreachable is a retry later (503),
/// anything else a fault of the server.
pub(crate) fn db_err(e: tokio_postgres::Error) -> Error {
    match e.as_db_error() {
        Some(db) => Error::Meta(format!("PostgreSQL {}: {}", db.code().code(), db.message())),
        None => Error::MetaUnavailable(format!("PostgreSQL: {e}")),
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
        assert_eq!(versions, [schema::current_version()]);
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
