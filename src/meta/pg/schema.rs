//! The database schema, created and brought up to date by the server: numbered migrations
//! embedded in the binary, each applied once in a transaction of its own and recorded with
//! its checksum. A database migrated by a newer server, or one whose recorded migrations
//! differ from these, is refused rather than written to.

use sha2::{Digest, Sha256};

use super::db_err;
use crate::error::{Error, Result};

/// Every migration, in order: (version, name, SQL).
const MIGRATIONS: &[(i32, &str, &str)] = &[
    (1, "init", include_str!("migrations/0001_init.sql")),
    (2, "gateways", include_str!("migrations/0002_gateways.sql")),
];

/// Serialises servers that start together on an empty database (any constant will do).
const MIGRATION_LOCK: i64 = 0x636e_785f_6d69_6772;

fn checksum(sql: &str) -> String {
    hex::encode(Sha256::digest(sql.as_bytes()))
}

/// The schema version this server writes.
pub fn current_version() -> i32 {
    MIGRATIONS.last().map_or(0, |m| m.0)
}

/// Applies the migrations the database lacks; refuses a schema this server does not know.
pub async fn migrate(client: &mut tokio_postgres::Client) -> Result<()> {
    let tx = client.transaction().await.map_err(db_err)?;
    // Held to the end of this transaction: a second server starting now waits, then finds
    // the schema up to date (two creating the table at once could both fail).
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(db_err)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS cnx_schema (version int PRIMARY KEY, name text NOT NULL, \
         checksum text NOT NULL, applied_ms bigint NOT NULL)",
    )
    .await
    .map_err(db_err)?;
    let applied: Vec<(i32, String)> = tx
        .query(
            "SELECT version, checksum FROM cnx_schema ORDER BY version",
            &[],
        )
        .await
        .map_err(db_err)?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    check_applied(&applied)?;
    for (version, name, sql) in MIGRATIONS.iter().skip(applied.len()) {
        tx.batch_execute(sql).await.map_err(|e| {
            Error::Meta(format!(
                "schema migration {version} ({name}): {}",
                db_err(e)
            ))
        })?;
        tx.execute(
            "INSERT INTO cnx_schema VALUES ($1, $2, $3, (extract(epoch from now()) * 1000)::bigint)",
            &[version, name, &checksum(sql)],
        )
        .await
        .map_err(db_err)?;
        tracing::info!(
            version,
            name,
            "applied a schema migration to the PostgreSQL index"
        );
    }
    tx.commit().await.map_err(db_err)
}

/// The migrations recorded must be a prefix of this server's, unchanged.
fn check_applied(applied: &[(i32, String)]) -> Result<()> {
    if let Some((newest, _)) = applied.last().filter(|(v, _)| *v > current_version()) {
        return Err(Error::Meta(format!(
            "the database's schema is version {newest}, newer than this server's \
             ({}): upgrade the server",
            current_version()
        )));
    }
    for (i, (version, sum)) in applied.iter().enumerate() {
        match MIGRATIONS.get(i) {
            Some((v, _, sql)) if v == version && checksum(sql) == *sum => {}
            Some((v, name, _)) if v == version => {
                return Err(Error::Meta(format!(
                    "schema migration {v} ({name}) recorded in the database differs from this \
                     server's"
                )))
            }
            _ => {
                return Err(Error::Meta(format!(
                    "the database records schema migration {version}, which this server does \
                     not have in that place"
                )))
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recorded(n: usize) -> Vec<(i32, String)> {
        MIGRATIONS[..n]
            .iter()
            .map(|(v, _, sql)| (*v, checksum(sql)))
            .collect()
    }

    #[test]
    fn known_prefixes_pass_and_anything_else_is_refused() {
        for n in 0..=MIGRATIONS.len() {
            check_applied(&recorded(n)).unwrap();
        }
        let mut newer = recorded(MIGRATIONS.len());
        newer.push((current_version() + 1, "x".into()));
        let e = check_applied(&newer).unwrap_err().to_string();
        assert!(e.contains("newer than this server"), "{e}");
        let mut changed = recorded(1);
        changed[0].1 = checksum("something else");
        let e = check_applied(&changed).unwrap_err().to_string();
        assert!(e.contains("differs"), "{e}");
    }
}
