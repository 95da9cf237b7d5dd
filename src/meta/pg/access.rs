//! PostgreSQL implementation of `AccessStore`: access keys, the key ring and idempotency
//! records. Each call is one statement: inserts are atomic insert-if-absent, so two gateways
//! minting the same id cannot both succeed.

use super::objects::LIVE_BUCKET;
use super::session::{kinds, BUMP};
use super::Cached;
use super::{db_err, tx_err, PgMeta, TxError};
use crate::error::{Error, Result};
use crate::meta::codec::{decode, encode};
use crate::meta::gens::{CacheKind, Generations};
use crate::meta::sse::KmsKeyRecord;
use crate::meta::{AccessStore, IdempotencyClaim, IdempotencyRecord, KeyInsert, KeyRecord};

/// A claim that keeps finding its key released and taken again gives up (as `Running`).
const CLAIM_ATTEMPTS: usize = 5;

/// The bucket a key is bound to, kept beside it so the bucket's deletion finds its keys.
pub(super) fn key_bucket(rec: &KeyRecord) -> Option<&[u8]> {
    rec.scope.bucket().map(|(id, _)| &id.0[..])
}

/// Stores a key unless its id is taken: `$1` its id, `$2` [`key_bucket`], `$3` its record.
pub(super) const INSERT_KEY: &str = "INSERT INTO access_keys (access_key_id, bucket_id, doc) \
                                     VALUES ($1, $2, $3) ON CONFLICT DO NOTHING";

fn decode_rows<T: serde::de::DeserializeOwned>(rows: &[tokio_postgres::Row]) -> Result<Vec<T>> {
    rows.iter().map(|r| decode(r.get::<_, &[u8]>(0))).collect()
}

impl PgMeta {
    /// Runs `change` (one statement, `true` if it changed a row) and raises `kind`'s counter
    /// in the same transaction when it did.
    fn changing(
        &self,
        kind: CacheKind,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<bool> {
        let changed = self.run(|mut c| async move {
            let tx = c.transaction().await.map_err(db_err)?;
            let n = tx.c_execute(sql, params).await.map_err(db_err)?;
            if n == 1 {
                tx.c_execute(BUMP, &[&kinds(&[kind])])
                    .await
                    .map_err(db_err)?;
            }
            tx.commit().await.map_err(db_err)?;
            Ok(n == 1)
        })?;
        if changed {
            self.gens.bump(kind);
        }
        Ok(changed)
    }
}

impl AccessStore for PgMeta {
    fn generations(&self) -> &Generations {
        &self.gens
    }

    fn insert_key(&self, rec: &KeyRecord) -> Result<bool> {
        let doc = encode(rec)?;
        self.run(|c| async move {
            let n = c
                .c_execute(INSERT_KEY, &[&rec.access_key_id, &key_bucket(rec), &doc])
                .await
                .map_err(db_err)?;
            Ok(n == 1)
        })
    }

    fn insert_key_unless(
        &self,
        rec: &KeyRecord,
        same: &(dyn Fn(&KeyRecord) -> bool + Sync),
    ) -> Result<KeyInsert> {
        let Some((id, name)) = rec.scope.bucket() else {
            return Err(Error::Internal(
                "only a bucket's keys are minted once".into(),
            ));
        };
        let bucket = &id.0[..];
        let doc = encode(rec)?;
        self.transact(async |tx| {
            // One minter per bucket at a time, until the commit; a second waits, then finds
            // the first one's key.
            tx.c_query_one(
                "SELECT pg_advisory_xact_lock(hashtextextended('cnx managed key ' || \
                 encode($1, 'hex'), 0))",
                &[&bucket],
            )
            .await
            .map_err(tx_err)?;
            // Kept from deletion until the commit, so that a bucket deleted meanwhile gets
            // no key its deletion would miss.
            let live = tx
                .c_query_opt(LIVE_BUCKET, &[&bucket, &name])
                .await
                .map_err(tx_err)?;
            if live.is_none() {
                return Err(TxError::Fail(Error::NoSuchBucket(name.to_owned())));
            }
            let rows = tx
                .c_query(
                    "SELECT doc FROM access_keys WHERE bucket_id = $1",
                    &[&bucket],
                )
                .await
                .map_err(tx_err)?;
            for k in decode_rows::<KeyRecord>(&rows)? {
                if same(&k) {
                    return Ok(KeyInsert::Existing(k));
                }
            }
            let n = tx
                .c_execute(INSERT_KEY, &[&rec.access_key_id, &bucket, &doc])
                .await
                .map_err(tx_err)?;
            Ok(match n {
                1 => KeyInsert::Inserted,
                _ => KeyInsert::IdTaken,
            })
        })
    }

    fn get_key(&self, access_key_id: &str) -> Result<Option<KeyRecord>> {
        self.run(|c| async move {
            c.c_query_opt(
                "SELECT doc FROM access_keys WHERE access_key_id = $1",
                &[&access_key_id],
            )
            .await
            .map_err(db_err)?
            .map(|r| decode(r.get::<_, &[u8]>(0)))
            .transpose()
        })
    }

    fn list_keys(&self) -> Result<Vec<KeyRecord>> {
        self.run(|c| async move {
            let rows = c
                .c_query("SELECT doc FROM access_keys ORDER BY access_key_id", &[])
                .await
                .map_err(db_err)?;
            decode_rows(&rows)
        })
    }

    fn delete_key(&self, access_key_id: &str) -> Result<bool> {
        self.changing(
            CacheKind::Keys,
            "DELETE FROM access_keys WHERE access_key_id = $1",
            &[&access_key_id],
        )
    }

    fn get_idempotency(&self, key: &[u8], now_ms: i64) -> Result<Option<IdempotencyRecord>> {
        self.run(|c| async move {
            c.c_query_opt(
                "SELECT doc FROM idempotency WHERE slot = $1 AND expires_ms > $2 \
                 AND length(doc) > 0",
                &[&key, &now_ms],
            )
            .await
            .map_err(db_err)?
            .map(|r| decode(r.get::<_, &[u8]>(0)))
            .transpose()
        })
    }

    fn put_idempotency(&self, key: &[u8], rec: &IdempotencyRecord) -> Result<()> {
        let doc = encode(rec)?;
        self.run(|c| async move {
            c.c_execute(
                "INSERT INTO idempotency (slot, expires_ms, doc) VALUES ($1, $2, $3) \
                 ON CONFLICT (slot) DO UPDATE SET expires_ms = EXCLUDED.expires_ms, \
                 doc = EXCLUDED.doc",
                &[&key, &rec.expires_at_ms, &doc],
            )
            .await
            .map_err(db_err)?;
            Ok(())
        })
    }

    fn claim_idempotency(
        &self,
        key: &[u8],
        claim: &[u8; 16],
        now_ms: i64,
        hold_ms: i64,
    ) -> Result<IdempotencyClaim> {
        // The holder is the gateway's id (whose row says it is alive) and the claim's token.
        let me = &[&self.gateway[..], &claim[..]].concat();
        self.run(|c| async move {
            // A claim's row has an empty doc. It is taken over when it lapsed or its gateway
            // is gone (counted out by the heartbeats), as is a kept reply that expired.
            for _ in 0..CLAIM_ATTEMPTS {
                let claimed = c
                    .c_query_opt(
                        "INSERT INTO idempotency AS i (slot, expires_ms, doc, holder) \
                         VALUES ($1, $2::bigint + $3::bigint, '', $4) \
                         ON CONFLICT (slot) DO UPDATE SET expires_ms = EXCLUDED.expires_ms, \
                         doc = '', holder = EXCLUDED.holder \
                         WHERE i.expires_ms <= $2 OR (length(i.doc) = 0 AND \
                         NOT EXISTS (SELECT 1 FROM gateways g \
                         WHERE g.id = substring(i.holder from 1 for 16))) \
                         RETURNING 1",
                        &[&key, &now_ms, &hold_ms, &me],
                    )
                    .await
                    .map_err(db_err)?;
                if claimed.is_some() {
                    return Ok(IdempotencyClaim::Claimed);
                }
                let held = c
                    .c_query_opt("SELECT doc FROM idempotency WHERE slot = $1", &[&key])
                    .await
                    .map_err(db_err)?;
                match held.as_ref().map(|r| r.get::<_, &[u8]>(0)) {
                    Some([]) => return Ok(IdempotencyClaim::Running),
                    Some(doc) => return Ok(IdempotencyClaim::Kept(decode(doc)?)),
                    // Released between the two statements: claim it again.
                    None => continue,
                }
            }
            Ok(IdempotencyClaim::Running)
        })
    }

    fn release_idempotency(&self, key: &[u8], claim: &[u8; 16]) -> Result<()> {
        let me = &[&self.gateway[..], &claim[..]].concat();
        self.run(|c| async move {
            c.c_execute(
                "DELETE FROM idempotency WHERE slot = $1 AND length(doc) = 0 AND holder = $2",
                &[&key, &me],
            )
            .await
            .map_err(db_err)?;
            Ok(())
        })
    }

    fn insert_kms_key(&self, rec: &KmsKeyRecord) -> Result<bool> {
        let doc = encode(rec)?;
        self.run(|c| async move {
            let n = c
                .c_execute(
                    "INSERT INTO kms_keys (id, doc) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                    &[&rec.id, &doc],
                )
                .await
                .map_err(db_err)?;
            Ok(n == 1)
        })
    }

    fn update_kms_key(&self, rec: &KmsKeyRecord) -> Result<bool> {
        let doc = encode(rec)?;
        self.changing(
            CacheKind::Kms,
            "UPDATE kms_keys SET doc = $2 WHERE id = $1",
            &[&rec.id, &doc],
        )
    }

    fn get_kms_key(&self, id: &str) -> Result<Option<KmsKeyRecord>> {
        self.run(|c| async move {
            c.c_query_opt("SELECT doc FROM kms_keys WHERE id = $1", &[&id])
                .await
                .map_err(db_err)?
                .map(|r| decode(r.get::<_, &[u8]>(0)))
                .transpose()
        })
    }

    fn list_kms_keys(&self) -> Result<Vec<KmsKeyRecord>> {
        self.run(|c| async move {
            let rows = c
                .c_query("SELECT doc FROM kms_keys ORDER BY id", &[])
                .await
                .map_err(db_err)?;
            decode_rows(&rows)
        })
    }
}
