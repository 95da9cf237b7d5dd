//! RocksDB implementation of `UploadStore`: multipart uploads and their parts.

use rocksdb::WriteBatch;

use super::codec::{self, decode, encode, object_key, part_key, prefix_successor, upload_key};
use super::rocks::{lock_err, RocksMeta, CF_GC, CF_PARTS, CF_STAGED, CF_UPLOADS};
use super::{
    BucketId, BucketRecord, Committed, MetaStore, NewBlob, ObjectRecord, PartRecord, UploadEntry,
    UploadPage, UploadQuery, UploadRecord, UploadStore, Usage, WriteCondition,
};
use crate::error::{Error, Result};
use crate::integrity::ChunkSums;

/// No reader can hold a part blob that is not in a completed object (GET reads objects
/// only), so dropped parts are queued as already past their grace period.
const PART_GC_TS: i64 = 0;

impl RocksMeta {
    fn all_parts(&self, upload_id: &str) -> Result<Vec<PartRecord>> {
        Ok(self.list_parts(upload_id, 0, usize::MAX)?.0)
    }

    /// Deletes the upload record and every part record, queueing the blobs of parts whose
    /// numbers are not in `keep`. Returns the bytes of all parts.
    fn remove_upload(
        &self,
        batch: &mut WriteBatch,
        bucket: &BucketId,
        key: &str,
        upload_id: &str,
        keep: &[(u32, String)],
    ) -> Result<u64> {
        batch.delete_cf(self.cf(CF_UPLOADS)?, upload_key(bucket, key, upload_id));
        let parts_cf = self.cf(CF_PARTS)?;
        let mut bytes = 0;
        for p in self.all_parts(upload_id)? {
            bytes += p.size;
            batch.delete_cf(parts_cf, part_key(upload_id, p.part_number));
            if !keep.iter().any(|(n, _)| *n == p.part_number) {
                batch.put_cf(self.cf(CF_GC)?, codec::gc_key(PART_GC_TS, &p.blob), []);
            }
        }
        Ok(bytes)
    }
}

impl UploadStore for RocksMeta {
    fn create_upload(&self, bucket: &BucketRecord, rec: &UploadRecord) -> Result<()> {
        let _gate = self.bucket_gate.read().map_err(lock_err)?;
        self.check_bucket_live(bucket)?;
        let mut batch = WriteBatch::default();
        batch.put_cf(
            self.cf(CF_UPLOADS)?,
            upload_key(&bucket.id, &rec.key, &rec.upload_id),
            encode(rec)?,
        );
        self.write(batch)
    }

    fn get_upload(
        &self,
        bucket: &BucketId,
        key: &str,
        upload_id: &str,
    ) -> Result<Option<UploadRecord>> {
        match self
            .db
            .get_pinned_cf(self.cf(CF_UPLOADS)?, upload_key(bucket, key, upload_id))?
        {
            Some(v) => Ok(Some(decode(&v)?)),
            None => Ok(None),
        }
    }

    fn put_part(
        &self,
        bucket: &BucketRecord,
        key: &str,
        upload_id: &str,
        part: &PartRecord,
        sums: Option<&ChunkSums>,
    ) -> Result<()> {
        let _gate = self.bucket_gate.read().map_err(lock_err)?;
        let _lock = self.stripe(&bucket.id, key).lock().map_err(lock_err)?;
        if self.get_upload(&bucket.id, key, upload_id)?.is_none() {
            return Err(Error::NoSuchUpload);
        }
        let pk = part_key(upload_id, part.part_number);
        let parts_cf = self.cf(CF_PARTS)?;
        let old: Option<PartRecord> = match self.db.get_pinned_cf(parts_cf, &pk)? {
            Some(v) => Some(decode(&v)?),
            None => None,
        };
        let mut batch = WriteBatch::default();
        batch.put_cf(parts_cf, &pk, encode(part)?);
        batch.delete_cf(self.cf(CF_STAGED)?, part.blob.as_bytes());
        let sums = sums.map(|sums| NewBlob::Sums {
            blob: &part.blob,
            sums,
        });
        self.keep_new_blob(&mut batch, sums)?;
        let mut delta = part.size as i64;
        if let Some(old) = old {
            batch.put_cf(self.cf(CF_GC)?, codec::gc_key(PART_GC_TS, &old.blob), []);
            delta -= old.size as i64;
        }
        self.usage_delta(
            &mut batch,
            &bucket.id,
            Usage {
                bytes: delta,
                objects: 0,
            },
        )?;
        self.write(batch)
    }

    fn list_parts(
        &self,
        upload_id: &str,
        after: u32,
        max: usize,
    ) -> Result<(Vec<PartRecord>, bool)> {
        let mut it = self.db.raw_iterator_cf(self.cf(CF_PARTS)?);
        let start = match after.checked_add(1) {
            Some(n) => part_key(upload_id, n),
            None => return Ok((Vec::new(), false)),
        };
        it.seek(&start);
        let mut out = Vec::new();
        while it.valid() {
            let (Some(k), Some(v)) = (it.key(), it.value()) else {
                break;
            };
            if k.len() != upload_id.len() + 4 || !k.starts_with(upload_id.as_bytes()) {
                break;
            }
            if out.len() == max {
                return Ok((out, true));
            }
            out.push(decode(v)?);
            it.next();
        }
        it.status()?;
        Ok((out, false))
    }

    fn complete_upload(
        &self,
        bucket: &BucketRecord,
        key: &str,
        upload_id: &str,
        rec: &ObjectRecord,
        used: &[(u32, String)],
        cond: &WriteCondition,
    ) -> Result<Committed> {
        let _gate = self.bucket_gate.read().map_err(lock_err)?;
        let live = self.check_bucket_live(bucket)?;
        let _lock = self.stripe(&bucket.id, key).lock().map_err(lock_err)?;
        if self.get_upload(&bucket.id, key, upload_id)?.is_none() {
            return Err(Error::NoSuchUpload);
        }
        let current = self.all_parts(upload_id)?;
        for (n, blob) in used {
            if !current
                .iter()
                .any(|p| p.part_number == *n && p.blob == *blob)
            {
                return Err(Error::InvalidPart(format!(
                    "Part {n} was replaced while the upload was being completed."
                )));
            }
        }
        let old = self.get_object(&bucket.id, key)?;
        cond.check(old.as_ref())?;
        let mut batch = WriteBatch::default();
        let part_bytes = self.remove_upload(&mut batch, &bucket.id, key, upload_id, used)?;
        let (rec, mut delta, freed) =
            self.replace_object(&mut batch, &live, key, rec, old.as_ref())?;
        // The parts' bytes were counted as they arrived; the object now holds them.
        delta.bytes -= part_bytes as i64;
        self.usage_delta(&mut batch, &bucket.id, delta)?;
        self.write(batch)?;
        Ok(Committed { rec, freed })
    }

    fn abort_upload(&self, bucket: &BucketRecord, key: &str, upload_id: &str) -> Result<()> {
        let _gate = self.bucket_gate.read().map_err(lock_err)?;
        let _lock = self.stripe(&bucket.id, key).lock().map_err(lock_err)?;
        if self.get_upload(&bucket.id, key, upload_id)?.is_none() {
            return Err(Error::NoSuchUpload);
        }
        let mut batch = WriteBatch::default();
        let bytes = self.remove_upload(&mut batch, &bucket.id, key, upload_id, &[])?;
        self.usage_delta(
            &mut batch,
            &bucket.id,
            Usage {
                bytes: -(bytes as i64),
                objects: 0,
            },
        )?;
        self.write(batch)
    }

    fn list_uploads(&self, bucket: &BucketId, q: &UploadQuery<'_>) -> Result<UploadPage> {
        let full_prefix = object_key(bucket, q.prefix);
        let mut start = full_prefix.clone();
        if let Some(km) = q.key_marker.filter(|k| !k.is_empty()) {
            let after = match q.upload_id_marker.filter(|u| !u.is_empty()) {
                // Within the marker key, after that upload id.
                Some(uid) => {
                    let mut k = upload_key(bucket, km, uid);
                    k.push(0);
                    k
                }
                // Past every upload of the marker key.
                None => {
                    let mut k = object_key(bucket, km);
                    k.push(1);
                    k
                }
            };
            start = start.max(after);
        }
        let mut page = UploadPage::default();
        if q.max == 0 {
            return Ok(page);
        }
        let mut it = self.prefix_iter(CF_UPLOADS, &full_prefix, q.max)?;
        it.seek(&start);
        let mut last: Option<(String, String)> = None;
        while it.valid() {
            let (Some(k), Some(v)) = (it.key(), it.value()) else {
                break;
            };
            if !k.starts_with(&full_prefix) {
                break;
            }
            let rec: UploadRecord = decode(v)?;
            if page.entries.len() == q.max {
                page.next = last;
                return Ok(page);
            }
            let rest = &rec.key[q.prefix.len().min(rec.key.len())..];
            let common = q.delimiter.filter(|d| !d.is_empty()).and_then(|d| {
                rest.find(d)
                    .map(|i| rec.key[..q.prefix.len() + i + d.len()].to_owned())
            });
            match common {
                Some(cp) => {
                    if !q.key_marker.is_some_and(|m| m.starts_with(cp.as_str())) {
                        page.entries.push(UploadEntry::CommonPrefix(cp.clone()));
                        last = Some((cp.clone(), String::new()));
                    }
                    match prefix_successor(&object_key(bucket, &cp)) {
                        Some(s) => it.seek(&s),
                        None => break,
                    }
                }
                None => {
                    last = Some((rec.key.clone(), rec.upload_id.clone()));
                    page.entries.push(UploadEntry::Upload(Box::new(rec)));
                    it.next();
                }
            }
        }
        it.status()?;
        Ok(page)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::BucketStore;
    use crate::meta::{Segment, StoredHeaders, RECORD_VERSION};

    fn open() -> (tempfile::TempDir, RocksMeta, BucketRecord) {
        let dir = tempfile::tempdir().unwrap();
        let m = RocksMeta::open(dir.path(), false).unwrap();
        let b = BucketRecord {
            v: RECORD_VERSION,
            id: BucketId::random(),
            name: "b".into(),
            owner: "root".into(),
            region: "in-mum".into(),
            created_at_ms: 0,
            cors: None,
            versioning: Default::default(),
            object_lock: None,
            tags: None,
            lifecycle: None,
            acl: None,
            ownership: None,
            public_access_block: None,
            policy: None,
            logging: None,
            encryption: None,
        };
        m.insert_bucket(&b).unwrap();
        (dir, m, b)
    }

    fn upload(key: &str, id: &str) -> UploadRecord {
        UploadRecord {
            v: RECORD_VERSION,
            upload_id: id.into(),
            key: key.into(),
            initiated_ms: 0,
            headers: StoredHeaders::default(),
            user_meta: vec![],
            checksum_algorithm: None,
            checksum_type: None,
            tags: Vec::new(),
            retention: None,
            legal_hold: None,
            owner: None,
            acl: None,
            initiator: None,
            sse: None,
        }
    }

    fn part(n: u32, size: u64, blob: &str) -> PartRecord {
        crate::meta::fixtures::part(n, size, blob)
    }

    fn gc_blobs(m: &RocksMeta) -> Vec<String> {
        let mut v: Vec<String> = m
            .pending_deletes(i64::MAX, None, 100)
            .unwrap()
            .into_iter()
            .map(|e| e.blob)
            .collect();
        v.sort();
        v
    }

    #[test]
    fn parts_count_in_usage_until_completed_or_aborted() {
        let (_d, m, b) = open();
        m.create_upload(&b, &upload("k", "u1")).unwrap();
        m.put_part(&b, "k", "u1", &part(1, 10, "p1"), None).unwrap();
        m.put_part(&b, "k", "u1", &part(2, 5, "p2"), None).unwrap();
        // A re-uploaded part replaces the old one and queues its blob.
        m.put_part(&b, "k", "u1", &part(2, 7, "p2b"), None).unwrap();
        assert_eq!(
            m.usage(&b.id).unwrap(),
            Usage {
                bytes: 17,
                objects: 0
            }
        );
        assert_eq!(gc_blobs(&m), ["p2"]);
        assert!(matches!(
            m.delete_bucket("b", &b.id),
            Err(Error::BucketNotEmpty(_))
        ));

        let rec = ObjectRecord {
            v: RECORD_VERSION,
            size: 10,
            etag: "x-1".into(),
            last_modified_ms: 0,
            headers: StoredHeaders::default(),
            user_meta: vec![],
            checksum: None,
            checksum_type: None,
            segments: vec![Segment {
                blob: "p1".into(),
                len: 10,
                checksum: None,
            }],
            upload_id: None,
            version_id: None,
            delete_marker: false,
            tags: Vec::new(),
            retention: None,
            legal_hold: None,
            owner: None,
            acl: None,
            sse: None,
        };
        let used = [(1, "p1".to_string())];
        // A part replaced since the caller validated it is refused.
        assert!(matches!(
            m.complete_upload(
                &b,
                "k",
                "u1",
                &rec,
                &[(1, "old".into())],
                &WriteCondition::Always
            ),
            Err(Error::InvalidPart(_))
        ));
        m.complete_upload(&b, "k", "u1", &rec, &used, &WriteCondition::Always)
            .unwrap();
        // Part 2 was not named: its blob goes, and only the object's bytes remain counted.
        assert_eq!(gc_blobs(&m), ["p2", "p2b"]);
        assert_eq!(
            m.usage(&b.id).unwrap(),
            Usage {
                bytes: 10,
                objects: 1
            }
        );
        assert!(matches!(
            m.complete_upload(&b, "k", "u1", &rec, &used, &WriteCondition::Always),
            Err(Error::NoSuchUpload)
        ));
        assert!(m.list_parts("u1", 0, 10).unwrap().0.is_empty());

        m.create_upload(&b, &upload("k", "u2")).unwrap();
        m.put_part(&b, "k", "u2", &part(1, 3, "q1"), None).unwrap();
        m.abort_upload(&b, "k", "u2").unwrap();
        assert_eq!(
            m.usage(&b.id).unwrap(),
            Usage {
                bytes: 10,
                objects: 1
            }
        );
        assert!(gc_blobs(&m).contains(&"q1".to_string()));
        assert!(matches!(
            m.abort_upload(&b, "k", "u2"),
            Err(Error::NoSuchUpload)
        ));
        assert!(matches!(
            m.put_part(&b, "k", "u2", &part(1, 3, "q2"), None),
            Err(Error::NoSuchUpload)
        ));
    }

    #[test]
    fn uploads_list_in_key_then_id_order_with_markers() {
        let (_d, m, b) = open();
        for (k, u) in [
            ("a/1", "u1"),
            ("a/1", "u2"),
            ("a/2", "u3"),
            ("b", "u4"),
            ("c/x", "u5"),
        ] {
            m.create_upload(&b, &upload(k, u)).unwrap();
        }
        let q = |prefix, delimiter, key_marker, upload_id_marker, max| UploadQuery {
            prefix,
            delimiter,
            key_marker,
            upload_id_marker,
            max,
        };
        let names = |p: &UploadPage| -> Vec<String> {
            p.entries
                .iter()
                .map(|e| match e {
                    UploadEntry::Upload(u) => format!("{}:{}", u.key, u.upload_id),
                    UploadEntry::CommonPrefix(p) => format!("P:{p}"),
                })
                .collect()
        };
        let all = m.list_uploads(&b.id, &q("", None, None, None, 10)).unwrap();
        assert_eq!(
            names(&all),
            ["a/1:u1", "a/1:u2", "a/2:u3", "b:u4", "c/x:u5"]
        );
        let p1 = m.list_uploads(&b.id, &q("", None, None, None, 2)).unwrap();
        assert_eq!(p1.next, Some(("a/1".to_string(), "u2".to_string())));
        let p2 = m
            .list_uploads(&b.id, &q("", None, Some("a/1"), Some("u2"), 2))
            .unwrap();
        assert_eq!(names(&p2), ["a/2:u3", "b:u4"]);
        let after_key = m
            .list_uploads(&b.id, &q("", None, Some("a/1"), None, 10))
            .unwrap();
        assert_eq!(names(&after_key), ["a/2:u3", "b:u4", "c/x:u5"]);
        let delim = m
            .list_uploads(&b.id, &q("", Some("/"), None, None, 10))
            .unwrap();
        assert_eq!(names(&delim), ["P:a/", "b:u4", "P:c/"]);
        let pre = m
            .list_uploads(&b.id, &q("a/", None, None, None, 10))
            .unwrap();
        assert_eq!(names(&pre), ["a/1:u1", "a/1:u2", "a/2:u3"]);
    }
}
