//! Object versions in RocksDB. The current version of a key lives in `objects` (a delete
//! marker included); the noncurrent ones in `versions` under `bucket ‖ key ‖ 0x00 ‖ sort key`,
//! newest first. Invariant: a key with any version has a current one, so listings and the
//! emptiness check start from `objects`.

use rocksdb::WriteBatch;

use super::codec::{decode, encode, object_key, prefix_successor, version_key, versions_prefix};
use super::rocks::{lock_err, RocksMeta, CF_OBJECTS, CF_VERSIONS};
use super::versions::{last_position, resume_point, sort_key};
use super::{
    counted, BucketId, BucketRecord, Deleted, ObjectRecord, ObjectStore, Usage, VersionEntry,
    VersionGuard, VersionPage, VersionQuery, VersionRef,
};
use crate::clock::now_ms;
use crate::error::{Error, Result};

/// Where a version is: current, or noncurrent under this sort key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Place {
    Current,
    Noncurrent([u8; 16]),
}

impl RocksMeta {
    /// Keeps `old` as a noncurrent version of `key`.
    pub(super) fn demote(
        &self,
        batch: &mut WriteBatch,
        bucket: &BucketId,
        key: &str,
        old: &ObjectRecord,
    ) -> Result<()> {
        let sort = sort_key(old.version_id.as_deref(), old.last_modified_ms);
        batch.put_cf(
            self.cf(CF_VERSIONS)?,
            version_key(bucket, key, &sort),
            encode(old)?,
        );
        Ok(())
    }

    /// The noncurrent versions of `key`, newest first.
    pub(super) fn noncurrent(
        &self,
        bucket: &BucketId,
        key: &str,
    ) -> Result<Vec<([u8; 16], ObjectRecord)>> {
        let prefix = versions_prefix(bucket, key);
        let mut out = Vec::new();
        // Absent only from a read-only view of an index older than versioning.
        let Some(cf) = self.db.cf_handle(CF_VERSIONS) else {
            return Ok(out);
        };
        let mut it = self.db.raw_iterator_cf(cf);
        it.seek(&prefix);
        while it.valid() {
            let (Some(k), Some(v)) = (it.key(), it.value()) else {
                break;
            };
            if !k.starts_with(&prefix) {
                break;
            }
            // Longer keys with a 0x00 of their own share the prefix; theirs are not ours.
            if k.len() == prefix.len() + 16 {
                let mut sort = [0u8; 16];
                sort.copy_from_slice(&k[prefix.len()..]);
                out.push((sort, decode(v)?));
            }
            it.next();
        }
        it.status()?;
        Ok(out)
    }

    pub(super) fn find_version(
        &self,
        bucket: &BucketId,
        key: &str,
        v: &VersionRef,
    ) -> Result<Option<(Place, ObjectRecord)>> {
        if let Some(cur) = self.get_object(bucket, key)? {
            if cur.is_version(v) {
                return Ok(Some((Place::Current, cur)));
            }
        }
        match v {
            VersionRef::Id(id) => {
                let sort = sort_key(Some(id), 0);
                let Some(cf) = self.db.cf_handle(CF_VERSIONS) else {
                    return Ok(None);
                };
                match self.db.get_pinned_cf(cf, version_key(bucket, key, &sort))? {
                    Some(raw) => Ok(Some((Place::Noncurrent(sort), decode(&raw)?))),
                    None => Ok(None),
                }
            }
            VersionRef::Null => Ok(self
                .noncurrent(bucket, key)?
                .into_iter()
                .find(|(_, rec)| rec.version_id.is_none())
                .map(|(sort, rec)| (Place::Noncurrent(sort), rec))),
        }
    }

    pub(super) fn remove_version(
        &self,
        bucket: &BucketRecord,
        key: &str,
        v: &VersionRef,
        guard: &VersionGuard,
    ) -> Result<Deleted> {
        let _gate = self.bucket_gate.read().map_err(lock_err)?;
        let _key_lock = self.stripe(&bucket.id, key).lock().map_err(lock_err)?;
        let Some((place, rec)) = self.find_version(&bucket.id, key, v)? else {
            return Ok(Deleted::default());
        };
        if guard
            .last_modified_ms
            .is_some_and(|t| t != rec.last_modified_ms)
        {
            return Err(Error::PreconditionFailed);
        }
        if let Some(refused) = rec.delete_refusal(now_ms(), guard.bypass_governance) {
            return Err(refused);
        }
        let mut batch = WriteBatch::default();
        match place {
            Place::Current => {
                let objects = self.cf(CF_OBJECTS)?;
                // The newest noncurrent version, if any, becomes current.
                match self.noncurrent(&bucket.id, key)?.into_iter().next() {
                    Some((sort, next)) => {
                        batch.put_cf(objects, object_key(&bucket.id, key), encode(&next)?);
                        batch.delete_cf(self.cf(CF_VERSIONS)?, version_key(&bucket.id, key, &sort));
                    }
                    None => batch.delete_cf(objects, object_key(&bucket.id, key)),
                }
            }
            Place::Noncurrent(sort) => {
                batch.delete_cf(self.cf(CF_VERSIONS)?, version_key(&bucket.id, key, &sort));
            }
        }
        self.queue_blobs(&mut batch, &rec)?;
        self.usage_delta(&mut batch, &bucket.id, Usage::default() - counted(&rec))?;
        self.write(batch)?;
        Ok(Deleted {
            removed: Some(rec),
            marker: None,
        })
    }

    pub(super) fn edit_version(
        &self,
        bucket: &BucketRecord,
        key: &str,
        v: Option<&VersionRef>,
        change: &mut dyn FnMut(&mut ObjectRecord) -> Result<()>,
    ) -> Result<ObjectRecord> {
        let _gate = self.bucket_gate.read().map_err(lock_err)?;
        self.check_bucket_live(bucket)?;
        let _key_lock = self.stripe(&bucket.id, key).lock().map_err(lock_err)?;
        let (place, mut rec) = match v {
            None => (
                Place::Current,
                self.get_object(&bucket.id, key)?.ok_or(Error::NoSuchKey)?,
            ),
            Some(v) => self
                .find_version(&bucket.id, key, v)?
                .ok_or(Error::NoSuchVersion)?,
        };
        if rec.delete_marker {
            return Err(Error::DeleteMarker {
                version_id: rec.version_str().to_owned(),
                requested: v.is_some(),
            });
        }
        change(&mut rec)?;
        let mut batch = WriteBatch::default();
        match place {
            Place::Current => batch.put_cf(
                self.cf(CF_OBJECTS)?,
                object_key(&bucket.id, key),
                encode(&rec)?,
            ),
            Place::Noncurrent(sort) => batch.put_cf(
                self.cf(CF_VERSIONS)?,
                version_key(&bucket.id, key, &sort),
                encode(&rec)?,
            ),
        }
        self.write(batch)?;
        Ok(rec)
    }

    pub(super) fn versions_page(
        &self,
        bucket: &BucketId,
        q: &VersionQuery<'_>,
    ) -> Result<VersionPage> {
        let mut page = VersionPage::default();
        if q.max == 0 {
            return Ok(page);
        }
        let full_prefix = object_key(bucket, q.prefix);
        let end = prefix_successor(&full_prefix);
        // With a version marker, the marker's key still has versions to come.
        let mut start = full_prefix.clone();
        if let Some(marker) = q.key_marker.filter(|m| !m.is_empty()) {
            let mk = object_key(bucket, marker);
            if mk >= start {
                start = mk;
                if q.version_marker.is_none() {
                    start.push(0);
                }
            }
        }
        let mut it = self.prefix_iter(CF_OBJECTS, &full_prefix, q.max)?;
        it.seek(&start);
        while it.valid() {
            let (Some(k), Some(v)) = (it.key(), it.value()) else {
                break;
            };
            if !k.starts_with(&full_prefix) || end.as_deref().is_some_and(|e| k >= e) {
                break;
            }
            let key = std::str::from_utf8(&k[bucket.0.len()..])
                .map_err(|_| Error::Meta("stored key is not UTF-8".into()))?
                .to_owned();
            let rest = &key[q.prefix.len()..];
            let common = q.delimiter.filter(|d| !d.is_empty()).and_then(|d| {
                rest.find(d)
                    .map(|i| key[..q.prefix.len() + i + d.len()].to_owned())
            });
            if let Some(cp) = common {
                if !q.key_marker.is_some_and(|m| m.starts_with(cp.as_str())) {
                    if page.entries.len() == q.max {
                        page.next = last_position(&page);
                        return Ok(page);
                    }
                    page.entries.push(VersionEntry::CommonPrefix(cp.clone()));
                }
                match prefix_successor(&object_key(bucket, &cp)) {
                    Some(s) => it.seek(&s),
                    None => break,
                }
                continue;
            }
            let current: ObjectRecord = decode(v)?;
            let mut all = vec![current];
            all.extend(self.noncurrent(bucket, &key)?.into_iter().map(|(_, r)| r));
            // Resuming inside this key: skip up to and including the marker version, by its
            // place in the order (so a marker version deleted meanwhile still resumes right).
            let skip = match (q.key_marker, q.version_marker) {
                (Some(m), Some(vm)) if m == key => resume_point(&all, vm),
                _ => 0,
            };
            for (i, rec) in all.into_iter().enumerate().skip(skip) {
                if page.entries.len() == q.max {
                    page.next = last_position(&page);
                    return Ok(page);
                }
                page.entries.push(VersionEntry::Version {
                    key: key.clone(),
                    rec: Box::new(rec),
                    latest: i == 0,
                });
            }
            it.next();
        }
        it.status()?;
        Ok(page)
    }
}
