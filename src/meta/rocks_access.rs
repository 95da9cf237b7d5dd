//! RocksDB implementation of `AccessStore`: access keys and idempotency records.

use rocksdb::{compaction_filter::Decision, Options, WriteBatch};

use super::codec::{decode, encode};
use super::gens::{CacheKind, Generations};
use super::rocks::{lock_err, RocksMeta, CF_IDEMPOTENCY, CF_KEYS, CF_KMS_KEYS};
use super::sse::KmsKeyRecord;
use super::{
    AccessStore, BucketId, BucketStore, IdempotencyClaim, IdempotencyRecord, KeyInsert, KeyRecord,
    KeyScope,
};
use crate::clock::now_ms;
use crate::error::Result;

/// Idempotency values start with their expiry so compaction can drop them unread.
pub(super) fn idempotency_options(base: &Options) -> Options {
    let mut o = base.clone();
    o.set_compaction_filter("idempotency_expiry", |_level, _key, value| {
        match value.get(..8).and_then(|b| <[u8; 8]>::try_from(b).ok()) {
            Some(ts) if i64::from_be_bytes(ts) < now_ms() => Decision::Remove,
            _ => Decision::Keep,
        }
    });
    o
}

impl RocksMeta {
    pub(super) fn delete_bucket_keys(
        &self,
        batch: &mut WriteBatch,
        bucket: &BucketId,
    ) -> Result<()> {
        let cf = self.cf(CF_KEYS)?;
        for rec in self.list_keys()? {
            if matches!(&rec.scope, KeyScope::Bucket { bucket_id, .. } if bucket_id == bucket) {
                batch.delete_cf(cf, rec.access_key_id.as_bytes());
            }
        }
        Ok(())
    }
}

impl RocksMeta {
    /// Stores `rec` unless its id is taken; the caller holds `bucket_records`.
    fn insert_key_locked(&self, rec: &KeyRecord) -> Result<bool> {
        let cf = self.cf(CF_KEYS)?;
        if self
            .db
            .get_pinned_cf(cf, rec.access_key_id.as_bytes())?
            .is_some()
        {
            return Ok(false);
        }
        let mut batch = WriteBatch::default();
        batch.put_cf(cf, rec.access_key_id.as_bytes(), encode(rec)?);
        self.write(batch)?;
        Ok(true)
    }
}

impl AccessStore for RocksMeta {
    fn generations(&self) -> &Generations {
        &self.gens
    }

    fn insert_key(&self, rec: &KeyRecord) -> Result<bool> {
        // Insert-if-absent must be atomic: two writers minting one id both see it free.
        let _records = self.bucket_records.lock().map_err(lock_err)?;
        self.insert_key_locked(rec)
    }

    fn insert_key_unless(
        &self,
        rec: &KeyRecord,
        same: &(dyn Fn(&KeyRecord) -> bool + Sync),
    ) -> Result<KeyInsert> {
        let Some((bucket_id, name)) = rec.scope.bucket() else {
            return Err(crate::error::Error::Internal(
                "only a bucket's keys are minted once".into(),
            ));
        };
        let _records = self.bucket_records.lock().map_err(lock_err)?;
        // Under the lock bucket deletion takes too: a bucket gone gets no key.
        if self.get_bucket(name)?.is_none_or(|b| b.id != *bucket_id) {
            return Err(crate::error::Error::NoSuchBucket(name.to_owned()));
        }
        if let Some(k) = self
            .list_keys()?
            .into_iter()
            .find(|k| k.scope.bucket().is_some_and(|(id, _)| id == bucket_id) && same(k))
        {
            return Ok(KeyInsert::Existing(k));
        }
        Ok(match self.insert_key_locked(rec)? {
            true => KeyInsert::Inserted,
            false => KeyInsert::IdTaken,
        })
    }

    fn get_key(&self, access_key_id: &str) -> Result<Option<KeyRecord>> {
        match self
            .db
            .get_pinned_cf(self.cf(CF_KEYS)?, access_key_id.as_bytes())?
        {
            Some(v) => Ok(Some(decode(&v)?)),
            None => Ok(None),
        }
    }

    fn list_keys(&self) -> Result<Vec<KeyRecord>> {
        let mut out = Vec::new();
        for item in self
            .db
            .iterator_cf(self.cf(CF_KEYS)?, rocksdb::IteratorMode::Start)
        {
            let (_, v) = item?;
            out.push(decode(&v)?);
        }
        Ok(out)
    }

    fn delete_key(&self, access_key_id: &str) -> Result<bool> {
        let cf = self.cf(CF_KEYS)?;
        if self
            .db
            .get_pinned_cf(cf, access_key_id.as_bytes())?
            .is_none()
        {
            return Ok(false);
        }
        let mut batch = WriteBatch::default();
        batch.delete_cf(cf, access_key_id.as_bytes());
        self.write(batch)?;
        self.gens.bump(CacheKind::Keys);
        Ok(true)
    }

    fn claim_idempotency(
        &self,
        key: &[u8],
        claim: &[u8; 16],
        now_ms: i64,
        _hold_ms: i64,
    ) -> Result<IdempotencyClaim> {
        // One process writes this index: its claims live as long as it does, in memory.
        let mut claims = self.idempotency_claims.lock().map_err(lock_err)?;
        if let Some(rec) = self.get_idempotency(key, now_ms)? {
            return Ok(IdempotencyClaim::Kept(rec));
        }
        if claims.contains_key(key) {
            return Ok(IdempotencyClaim::Running);
        }
        claims.insert(key.to_vec(), *claim);
        Ok(IdempotencyClaim::Claimed)
    }

    fn release_idempotency(&self, key: &[u8], claim: &[u8; 16]) -> Result<()> {
        let mut claims = self.idempotency_claims.lock().map_err(lock_err)?;
        if claims.get(key) == Some(claim) {
            claims.remove(key);
        }
        Ok(())
    }

    fn insert_kms_key(&self, rec: &KmsKeyRecord) -> Result<bool> {
        let _records = self.bucket_records.lock().map_err(lock_err)?;
        let cf = self.cf(CF_KMS_KEYS)?;
        if self.db.get_pinned_cf(cf, rec.id.as_bytes())?.is_some() {
            return Ok(false);
        }
        let mut batch = WriteBatch::default();
        batch.put_cf(cf, rec.id.as_bytes(), encode(rec)?);
        self.write(batch)?;
        Ok(true)
    }

    fn update_kms_key(&self, rec: &KmsKeyRecord) -> Result<bool> {
        let cf = self.cf(CF_KMS_KEYS)?;
        if self.db.get_pinned_cf(cf, rec.id.as_bytes())?.is_none() {
            return Ok(false);
        }
        let mut batch = WriteBatch::default();
        batch.put_cf(cf, rec.id.as_bytes(), encode(rec)?);
        self.write(batch)?;
        self.gens.bump(CacheKind::Kms);
        Ok(true)
    }

    fn get_kms_key(&self, id: &str) -> Result<Option<KmsKeyRecord>> {
        match self
            .db
            .get_pinned_cf(self.cf(CF_KMS_KEYS)?, id.as_bytes())?
        {
            Some(v) => Ok(Some(decode(&v)?)),
            None => Ok(None),
        }
    }

    fn list_kms_keys(&self) -> Result<Vec<KmsKeyRecord>> {
        let mut out = Vec::new();
        for item in self
            .db
            .iterator_cf(self.cf(CF_KMS_KEYS)?, rocksdb::IteratorMode::Start)
        {
            let (_, v) = item?;
            out.push(decode(&v)?);
        }
        Ok(out)
    }

    fn get_idempotency(&self, key: &[u8], now: i64) -> Result<Option<IdempotencyRecord>> {
        let Some(v) = self.db.get_pinned_cf(self.cf(CF_IDEMPOTENCY)?, key)? else {
            return Ok(None);
        };
        let rec: IdempotencyRecord = decode(v.get(8..).unwrap_or_default())?;
        Ok((rec.expires_at_ms > now).then_some(rec))
    }

    fn put_idempotency(&self, key: &[u8], rec: &IdempotencyRecord) -> Result<()> {
        let mut value = rec.expires_at_ms.to_be_bytes().to_vec();
        value.extend_from_slice(&encode(rec)?);
        let mut batch = WriteBatch::default();
        batch.put_cf(self.cf(CF_IDEMPOTENCY)?, key, value);
        self.write(batch)?;
        // The reply answers from now on, whichever claim ran the request.
        self.idempotency_claims
            .lock()
            .map_err(lock_err)?
            .remove(key);
        Ok(())
    }
}
