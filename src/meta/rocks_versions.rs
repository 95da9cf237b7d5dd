//! Object versions in RocksDB. The current version of a key lives in `objects` (a delete
//! marker included); the noncurrent ones in `versions` under `bucket ‖ key ‖ 0x00 ‖ sort key`,
//! newest first. Invariant: a key with any version has a current one, so listings and the
//! emptiness check start from `objects`.

use rocksdb::WriteBatch;

use super::codec::{decode, encode, object_key, prefix_successor, version_key, versions_prefix};
use super::rocks::{lock_err, RocksMeta, CF_OBJECTS, CF_VERSIONS};
use super::versions::sort_key;
use super::{
    counted, BucketId, BucketRecord, Deleted, MetaStore, ObjectRecord, Usage, VersionEntry,
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

/// How many of a key's versions (newest first) a listing resumed after `marker` skips.
fn resume_point(all: &[ObjectRecord], marker: &str) -> usize {
    match crate::meta::versions::parse(marker) {
        Some(VersionRef::Id(id)) => {
            let at = sort_key(Some(&id), 0);
            all.iter()
                .take_while(|r| sort_key(r.version_id.as_deref(), r.last_modified_ms) <= at)
                .count()
        }
        _ => all
            .iter()
            .position(|r| r.version_str() == marker)
            .map_or(0, |i| i + 1),
    }
}

/// Where a full page ends: its last key (and version).
fn last_position(page: &VersionPage) -> Option<(String, Option<String>)> {
    page.entries.last().map(|e| match e {
        VersionEntry::Version { key, rec, .. } => (key.clone(), Some(rec.version_str().to_owned())),
        VersionEntry::CommonPrefix(p) => (p.clone(), None),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::meta::fixtures::object;
    use crate::meta::BucketStore;
    use crate::meta::{Versioning, WriteCondition};

    fn open() -> (tempfile::TempDir, RocksMeta) {
        let dir = tempfile::tempdir().unwrap();
        let m = RocksMeta::open(dir.path(), false).unwrap();
        (dir, m)
    }

    fn bucket(m: &RocksMeta, versioning: Versioning) -> BucketRecord {
        let b = crate::meta::fixtures::bucket("vb");
        m.insert_bucket(&b).unwrap();
        set_versioning(m, &b, versioning)
    }

    fn set_versioning(m: &RocksMeta, b: &BucketRecord, state: Versioning) -> BucketRecord {
        m.update_bucket(&b.name, &b.id, &mut |r| {
            r.versioning = state;
            Ok(())
        })
        .unwrap()
    }

    fn put(m: &RocksMeta, b: &BucketRecord, key: &str, size: u64, blob: &str) -> ObjectRecord {
        m.put_object(b, key, &object(size, blob), &WriteCondition::Always)
            .unwrap()
            .rec
    }

    /// (key, version, latest, marker) of every version, in listing order.
    fn listing(m: &RocksMeta, b: &BucketRecord) -> Vec<(String, String, bool, bool)> {
        let q = VersionQuery {
            prefix: "",
            delimiter: None,
            key_marker: None,
            version_marker: None,
            max: 1000,
        };
        m.list_versions(&b.id, &q)
            .unwrap()
            .entries
            .into_iter()
            .filter_map(|e| match e {
                VersionEntry::Version { key, rec, latest } => {
                    Some((key, rec.version_str().to_owned(), latest, rec.delete_marker))
                }
                VersionEntry::CommonPrefix(_) => None,
            })
            .collect()
    }

    fn blobs_queued(m: &RocksMeta) -> Vec<String> {
        let mut q: Vec<String> = m
            .pending_deletes(i64::MAX, None, 100)
            .unwrap()
            .into_iter()
            .map(|e| e.blob)
            .collect();
        q.sort();
        q
    }

    #[test]
    fn enabled_keeps_every_version_and_deletes_leave_markers() {
        let (_d, m) = open();
        let b = bucket(&m, Versioning::Enabled);
        let v1 = put(&m, &b, "k", 10, "b1");
        let v2 = put(&m, &b, "k", 20, "b2");
        assert!(v1.version_id.is_some() && v2.version_id.is_some());
        assert!(blobs_queued(&m).is_empty(), "no version is lost to a PUT");
        let usage = m.usage(&b.id).unwrap();
        assert_eq!(
            (usage.bytes, usage.objects),
            (30, 2),
            "every version counts"
        );

        let deleted = m.delete_object(&b, "k", &WriteCondition::Always).unwrap();
        let marker = deleted.marker.unwrap();
        assert!(marker.delete_marker && marker.version_id.is_some());
        assert!(m.get_object(&b.id, "k").unwrap().unwrap().delete_marker);
        let listed = m
            .list_objects(
                &b.id,
                &crate::meta::ListQuery {
                    prefix: "",
                    delimiter: None,
                    after: None,
                    max: 10,
                },
            )
            .unwrap();
        assert!(listed.entries.is_empty(), "a delete marker hides the key");
        assert_eq!(
            listing(&m, &b),
            [
                ("k".into(), marker.version_str().into(), true, true),
                ("k".into(), v2.version_str().into(), false, false),
                ("k".into(), v1.version_str().into(), false, false),
            ]
        );
        // Older versions stay readable by id.
        let v = VersionRef::Id(v1.version_id.clone().unwrap());
        assert_eq!(m.get_version(&b.id, "k", &v).unwrap().unwrap().size, 10);

        // Removing the marker brings v2 back as current.
        let marker_ref = VersionRef::Id(marker.version_id.clone().unwrap());
        m.delete_version(&b, "k", &marker_ref, &VersionGuard::default())
            .unwrap();
        assert_eq!(m.get_object(&b.id, "k").unwrap().unwrap().size, 20);
        // Removing a noncurrent version frees its blob and its usage.
        m.delete_version(&b, "k", &v, &VersionGuard::default())
            .unwrap();
        assert_eq!(blobs_queued(&m), ["b1"]);
        let usage = m.usage(&b.id).unwrap();
        assert_eq!((usage.bytes, usage.objects), (20, 1));
        let v2_ref = VersionRef::Id(v2.version_id.clone().unwrap());
        m.delete_version(&b, "k", &v2_ref, &VersionGuard::default())
            .unwrap();
        assert!(m.get_object(&b.id, "k").unwrap().is_none());
        assert!(listing(&m, &b).is_empty());
        m.delete_bucket("vb", &b.id).unwrap();
    }

    #[test]
    fn the_null_version_is_kept_once_under_suspended() {
        let (_d, m) = open();
        let mut b = bucket(&m, Versioning::Unversioned);
        put(&m, &b, "k", 1, "n1"); // the null version, from before versioning
        b = set_versioning(&m, &b, Versioning::Enabled);
        let v = put(&m, &b, "k", 2, "v1");
        b = set_versioning(&m, &b, Versioning::Suspended);
        // A suspended PUT writes the null version: the older null one (noncurrent) goes.
        let n2 = put(&m, &b, "k", 3, "n2");
        assert_eq!(n2.version_id, None);
        assert_eq!(blobs_queued(&m), ["n1"]);
        let versions = listing(&m, &b);
        assert_eq!(
            versions,
            [
                ("k".into(), "null".into(), true, false),
                ("k".into(), v.version_str().into(), false, false),
            ]
        );
        // And again: the current null version is replaced in place.
        put(&m, &b, "k", 4, "n3");
        assert_eq!(blobs_queued(&m), ["n1", "n2"]);
        // A suspended DELETE leaves a null delete marker in place of the null version.
        let d = m.delete_object(&b, "k", &WriteCondition::Always).unwrap();
        assert_eq!(d.marker.unwrap().version_id, None);
        assert_eq!(blobs_queued(&m), ["n1", "n2", "n3"]);
        assert_eq!(listing(&m, &b).len(), 2);
        let usage = m.usage(&b.id).unwrap();
        assert_eq!((usage.bytes, usage.objects), (2, 1));
        // The null version is addressable.
        assert!(
            m.get_version(&b.id, "k", &VersionRef::Null)
                .unwrap()
                .unwrap()
                .delete_marker
        );
    }

    #[test]
    fn version_pages_resume_inside_a_key() {
        let (_d, m) = open();
        let b = bucket(&m, Versioning::Enabled);
        for (k, n) in [("a", 3), ("b/x", 1), ("b/y", 1), ("c", 2)] {
            for i in 0..n {
                put(&m, &b, k, 1, &format!("{k}{i}"));
            }
        }
        let all = listing(&m, &b);
        assert_eq!(all.len(), 7);
        let mut seen = Vec::new();
        let (mut km, mut vm): (Option<String>, Option<String>) = (None, None);
        loop {
            let page = m
                .list_versions(
                    &b.id,
                    &VersionQuery {
                        prefix: "",
                        delimiter: None,
                        key_marker: km.as_deref(),
                        version_marker: vm.as_deref(),
                        max: 2,
                    },
                )
                .unwrap();
            for e in page.entries {
                if let VersionEntry::Version { key, rec, .. } = e {
                    seen.push((key, rec.version_str().to_owned()));
                }
            }
            match page.next {
                Some((k, v)) => (km, vm) = (Some(k), v),
                None => break,
            }
        }
        let want: Vec<(String, String)> = all.into_iter().map(|(k, v, _, _)| (k, v)).collect();
        assert_eq!(seen, want);
        // With a delimiter, b/ is one entry.
        let page = m
            .list_versions(
                &b.id,
                &VersionQuery {
                    prefix: "",
                    delimiter: Some("/"),
                    key_marker: None,
                    version_marker: None,
                    max: 100,
                },
            )
            .unwrap();
        assert!(page
            .entries
            .contains(&VersionEntry::CommonPrefix("b/".into())));
        assert_eq!(page.entries.len(), 6);
    }
}
