//! RocksDB implementation of `UploadStore`: multipart uploads and their parts.

use rocksdb::WriteBatch;

use super::codec::{self, decode, encode, object_key, part_key, prefix_successor, upload_key};
use super::rocks::{lock_err, RocksMeta, CF_GC, CF_PARTS, CF_STAGED, CF_UPLOADS};
use super::{
    BucketId, BucketRecord, Committed, NewBlob, ObjectRecord, ObjectStore, PartRecord, UploadEntry,
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
