//! Multipart uploads: parts are blobs of their own; completing an upload commits a manifest
//! of those blobs as the object's segments, so no byte is copied.

use md5::Digest as _;

use super::{now_ms, ObjectMeta, StagedBlob, Store};
use crate::checksum::{Checksum, ChecksumAlgorithm};
use crate::error::{Error, Result};
use crate::meta::{
    BucketRecord, ChecksumType, ObjectRecord, PartRecord, Segment, UploadPage, UploadQuery,
    UploadRecord, WriteCondition, RECORD_VERSION,
};

/// Every part but the last must be at least this large.
pub const MIN_PART_SIZE: u64 = 5 << 20;
/// S3's largest object: 5 TiB.
pub const MAX_OBJECT_SIZE: u64 = 5 << 40;
pub const MAX_PART_NUMBER: u32 = 10_000;

/// A part named in a CompleteMultipartUpload request.
pub struct RequestedPart {
    pub number: u32,
    /// Unquoted.
    pub etag: String,
    /// The part checksum the client listed, if any.
    pub checksum: Option<Checksum>,
}

/// Whether `id` has the form of an upload id this server makes (see [`new_upload_id`]).
pub fn is_server_upload_id(id: &str) -> bool {
    crate::meta::codec::is_hex_id(id)
}

/// Upload ids sort by creation time (S3 lists one key's uploads oldest first): 48 bits of
/// milliseconds, then 80 random bits, as 32 hex characters.
fn new_upload_id() -> String {
    let ms = u64::try_from(now_ms()).unwrap_or(0) & 0xFFFF_FFFF_FFFF;
    let random = uuid::Uuid::new_v4();
    format!("{ms:012x}{}", &random.simple().to_string()[..20])
}

impl Store {
    /// Starts an upload of `key`: the object it completes into gets `written`.
    pub async fn create_upload(
        &self,
        bucket: &BucketRecord,
        key: &str,
        written: ObjectMeta,
        checksum_algorithm: Option<ChecksumAlgorithm>,
        checksum_type: Option<ChecksumType>,
        initiator: Option<String>,
    ) -> Result<UploadRecord> {
        let rec = UploadRecord {
            v: RECORD_VERSION,
            upload_id: new_upload_id(),
            key: key.to_owned(),
            initiated_ms: now_ms(),
            headers: written.headers,
            user_meta: written.user_meta,
            checksum_algorithm,
            checksum_type,
            tags: written.tags,
            retention: written.retention,
            legal_hold: written.legal_hold,
            owner: written.owner,
            acl: written.acl,
            initiator,
            sse: written.sse,
        };
        let (b, r) = (bucket.clone(), rec.clone());
        self.blocking(move |m| m.create_upload(&b, &r)).await?;
        Ok(rec)
    }

    pub async fn upload(
        &self,
        bucket: &BucketRecord,
        key: &str,
        upload_id: &str,
    ) -> Result<UploadRecord> {
        let (id, k, u) = (bucket.id, key.to_owned(), upload_id.to_owned());
        self.blocking(move |m| m.get_upload(&id, &k, &u))
            .await?
            .ok_or(Error::NoSuchUpload)
    }

    /// Finishes `staged` and records it as part `number`.
    #[allow(clippy::too_many_arguments)]
    pub async fn commit_part(
        &self,
        bucket: &BucketRecord,
        key: &str,
        upload_id: &str,
        number: u32,
        staged: StagedBlob,
        md5: [u8; 16],
        checksum: Option<Checksum>,
        client_checksum: Option<Checksum>,
    ) -> Result<PartRecord> {
        let (this, b, k, u) = (
            self.clone(),
            bucket.clone(),
            key.to_owned(),
            upload_id.to_owned(),
        );
        // Its own task, so a dropped request cannot separate the commit from the disarm.
        tokio::spawn(async move {
            this.commit_part_now(&b, &k, &u, number, staged, md5, checksum, client_checksum)
                .await
        })
        .await?
    }

    #[allow(clippy::too_many_arguments)]
    async fn commit_part_now(
        &self,
        bucket: &BucketRecord,
        key: &str,
        upload_id: &str,
        number: u32,
        mut staged: StagedBlob,
        md5: [u8; 16],
        checksum: Option<Checksum>,
        client_checksum: Option<Checksum>,
    ) -> Result<PartRecord> {
        let blob = staged.blob_id().to_owned();
        let sums = staged.finish_blob().await?;
        let part = PartRecord {
            v: RECORD_VERSION,
            part_number: number,
            size: staged.len(),
            etag: hex::encode(md5),
            checksum,
            client_checksum,
            blob,
            last_modified_ms: now_ms(),
        };
        let (b, k, u, p) = (
            bucket.clone(),
            key.to_owned(),
            upload_id.to_owned(),
            part.clone(),
        );
        self.blocking(move |m| m.put_part(&b, &k, &u, &p, sums.as_ref()))
            .await?;
        staged.disarm();
        self.gc_kick.notify_one();
        Ok(part)
    }

    pub async fn list_parts(
        &self,
        upload_id: &str,
        after: u32,
        max: usize,
    ) -> Result<(Vec<PartRecord>, bool)> {
        let u = upload_id.to_owned();
        self.blocking(move |m| m.list_parts(&u, after, max)).await
    }

    pub async fn abort_upload(
        &self,
        bucket: &BucketRecord,
        key: &str,
        upload_id: &str,
    ) -> Result<()> {
        let (b, k, u) = (bucket.clone(), key.to_owned(), upload_id.to_owned());
        self.blocking(move |m| m.abort_upload(&b, &k, &u)).await?;
        self.gc_kick.notify_one();
        Ok(())
    }

    pub async fn list_uploads(
        &self,
        bucket: &BucketRecord,
        prefix: &str,
        delimiter: Option<&str>,
        key_marker: Option<&str>,
        upload_id_marker: Option<&str>,
        max: usize,
    ) -> Result<UploadPage> {
        let id = bucket.id;
        let (p, d, km, um) = (
            prefix.to_owned(),
            delimiter.map(str::to_owned),
            key_marker.map(str::to_owned),
            upload_id_marker.map(str::to_owned),
        );
        self.blocking(move |m| {
            m.list_uploads(
                &id,
                &UploadQuery {
                    prefix: &p,
                    delimiter: d.as_deref(),
                    key_marker: km.as_deref(),
                    upload_id_marker: um.as_deref(),
                    max,
                },
            )
        })
        .await
    }

    /// Checks the requested parts against the uploaded ones and commits the object as a
    /// manifest of their blobs. Parts not named are deleted.
    pub async fn complete_upload(
        &self,
        bucket: &BucketRecord,
        upload: &UploadRecord,
        requested: &[RequestedPart],
        expected: Option<&Checksum>,
        cond: WriteCondition,
    ) -> Result<ObjectRecord> {
        let (uploaded, _) = self.list_parts(&upload.upload_id, 0, usize::MAX).await?;
        if uploaded.is_empty() {
            // A concurrent Complete or Abort may have just removed the upload with its parts.
            let (id, k, u) = (bucket.id, upload.key.clone(), upload.upload_id.clone());
            if self
                .blocking(move |m| m.get_upload(&id, &k, &u))
                .await?
                .is_none()
            {
                return Err(Error::NoSuchUpload);
            }
        }
        let chosen = choose_parts(upload, &uploaded, requested)?;
        let rec = manifest(upload, &chosen, expected)?;
        let used: Vec<(u32, String)> = chosen
            .iter()
            .map(|p| (p.part_number, p.blob.clone()))
            .collect();
        let (b, k, u, r) = (
            bucket.clone(),
            upload.key.clone(),
            upload.upload_id.clone(),
            rec.clone(),
        );
        let committed = self
            .blocking(move |m| m.complete_upload(&b, &k, &u, &r, &used, &cond))
            .await?;
        if committed.freed {
            self.gc_kick.notify_one();
        }
        Ok(committed.rec)
    }
}

/// The uploaded parts a Complete names, in its order, checked as S3 checks them: ascending
/// part numbers, each uploaded with that ETag (and checksum, if listed), every part but the
/// last at least 5 MiB.
fn choose_parts<'a>(
    upload: &UploadRecord,
    uploaded: &'a [PartRecord],
    requested: &[RequestedPart],
) -> Result<Vec<&'a PartRecord>> {
    // The list's shape first: an unordered list is refused whatever parts it names.
    if requested.windows(2).any(|w| w[1].number <= w[0].number) {
        return Err(Error::InvalidPartOrder);
    }
    let mut chosen: Vec<&PartRecord> = Vec::with_capacity(requested.len());
    for r in requested {
        let part = uploaded
            .iter()
            .find(|p| p.part_number == r.number && p.etag == r.etag)
            .ok_or_else(|| {
                Error::InvalidPart(format!(
                    "Part {} with ETag \"{}\" was not uploaded.",
                    r.number, r.etag
                ))
            })?;
        check_part_checksum(upload, part, r.checksum.as_ref())?;
        chosen.push(part);
    }
    if let Some((_, init)) = chosen.split_last() {
        if let Some(small) = init.iter().find(|p| p.size < MIN_PART_SIZE) {
            return Err(Error::EntityTooSmall {
                part: small.part_number,
                size: small.size,
            });
        }
    }
    Ok(chosen)
}

/// The record of the object `chosen` completes into: S3's multipart ETag (MD5 of the part
/// MD5s, `-N`), the combined checksum (which must match `expected`, if sent), one segment per
/// part.
fn manifest(
    upload: &UploadRecord,
    chosen: &[&PartRecord],
    expected: Option<&Checksum>,
) -> Result<ObjectRecord> {
    let mut md5s = md5::Md5::new();
    for p in chosen {
        let mut raw = [0u8; 16];
        hex::decode_to_slice(&p.etag, &mut raw)
            .map_err(|_| Error::Internal(format!("stored part ETag `{}` is not hex", p.etag)))?;
        md5s.update(raw);
    }
    let (checksum, checksum_type) = combined_checksum(upload, chosen);
    // A whole-object checksum sent with Complete must match what the parts add up to.
    if let Some(want) = expected {
        let same = checksum.as_ref().is_some_and(|c| {
            c.algorithm == want.algorithm
                && c.value.split('-').next() == want.value.split('-').next()
        });
        if !same {
            return Err(Error::ChecksumMismatch(want.algorithm));
        }
    }
    Ok(ObjectRecord {
        v: RECORD_VERSION,
        upload_id: Some(upload.upload_id.clone()),
        size: object_size(chosen.iter().map(|p| p.size))?,
        etag: format!("{}-{}", hex::encode(md5s.finalize()), chosen.len()),
        last_modified_ms: now_ms(),
        headers: upload.headers.clone(),
        user_meta: upload.user_meta.clone(),
        checksum,
        checksum_type,
        // One segment per part, empty ones included, so part N is segment N-1.
        segments: chosen
            .iter()
            .map(|p| Segment {
                blob: p.blob.clone(),
                len: p.size,
                checksum: p.checksum.clone(),
            })
            .collect(),
        version_id: None,
        delete_marker: false,
        tags: upload.tags.clone(),
        retention: upload.retention,
        legal_hold: upload.legal_hold,
        owner: upload.owner.clone(),
        acl: upload.acl.clone(),
        sse: upload.sse.clone(),
    })
}

/// The size of an object made of these parts, at most S3's 5 TiB.
fn object_size(parts: impl Iterator<Item = u64>) -> Result<u64> {
    let size = parts.fold(0u64, u64::saturating_add);
    if size > MAX_OBJECT_SIZE {
        return Err(Error::EntityTooLarge {
            size,
            max: MAX_OBJECT_SIZE,
        });
    }
    Ok(size)
}

/// A part checksum listed in Complete must match the stored one; an upload created with a
/// composite checksum algorithm must list one for every part, as S3 requires.
fn check_part_checksum(
    upload: &UploadRecord,
    part: &PartRecord,
    listed: Option<&Checksum>,
) -> Result<()> {
    match listed {
        Some(l) => {
            let matches = [&part.checksum, &part.client_checksum]
                .into_iter()
                .flatten()
                .any(|c| c.algorithm == l.algorithm && c.value == l.value);
            if matches {
                Ok(())
            } else {
                Err(Error::InvalidPart(format!(
                    "The {} checksum listed for part {} does not match the part's.",
                    l.algorithm.as_str(),
                    part.part_number
                )))
            }
        }
        None => match upload.checksum_algorithm {
            Some(a) if upload.checksum_type != Some(ChecksumType::FullObject) && a != ChecksumAlgorithm::Crc64Nvme => {
                Err(Error::InvalidRequest(format!(
                    "The upload was created using a {} checksum. The complete request must include the checksum for each part. It was missing for part {} in the request.",
                    a.as_str().to_ascii_lowercase(),
                    part.part_number
                )))
            }
            _ => Ok(()),
        },
    }
}

/// The object checksum of a completed upload, when every chosen part carries one of the
/// upload's algorithm.
fn combined_checksum(
    upload: &UploadRecord,
    parts: &[&PartRecord],
) -> (Option<Checksum>, Option<ChecksumType>) {
    let algorithm = upload
        .checksum_algorithm
        .unwrap_or(ChecksumAlgorithm::Crc64Nvme);
    let values: Option<Vec<(&str, u64)>> = parts
        .iter()
        .map(|p| match &p.checksum {
            Some(c) if c.algorithm == algorithm => Some((c.value.as_str(), p.size)),
            _ => None,
        })
        .collect();
    let Some(values) = values else {
        return (None, None);
    };
    // S3's defaults: CRC64NVME (also what it stores when no algorithm was named) is always
    // full-object; the other algorithms are composite unless the upload asked otherwise.
    let kind = upload.checksum_type.unwrap_or(
        if upload.checksum_algorithm.is_none() || algorithm == ChecksumAlgorithm::Crc64Nvme {
            ChecksumType::FullObject
        } else {
            ChecksumType::Composite
        },
    );
    let value = match kind {
        ChecksumType::FullObject => algorithm.combine(&values),
        ChecksumType::Composite => {
            algorithm.composite(&values.iter().map(|(v, _)| *v).collect::<Vec<_>>())
        }
    };
    match value {
        Some(value) => (Some(Checksum { algorithm, value }), Some(kind)),
        None => (None, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completed_objects_are_capped_at_5_tib() {
        let part = 5u64 << 30;
        assert_eq!(object_size([part; 1024].into_iter()).ok(), Some(5 << 40));
        assert!(matches!(
            object_size([part; 1024].into_iter().chain([1])),
            Err(Error::EntityTooLarge { size, max }) if size == (5 << 40) + 1 && max == 5 << 40
        ));
        assert!(
            object_size([u64::MAX, 1].into_iter()).is_err(),
            "no overflow"
        );
    }

    fn upload() -> UploadRecord {
        UploadRecord {
            v: RECORD_VERSION,
            upload_id: new_upload_id(),
            key: "k".into(),
            initiated_ms: 0,
            headers: Default::default(),
            user_meta: Vec::new(),
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

    fn part(n: u32, size: u64) -> PartRecord {
        crate::meta::fixtures::part(n, size, &format!("blob{n}"))
    }

    fn asked(n: u32) -> RequestedPart {
        RequestedPart {
            number: n,
            etag: format!("{n:032x}"),
            checksum: None,
        }
    }

    #[test]
    fn a_complete_names_uploaded_parts_in_order_all_but_the_last_5_mib() {
        let up = upload();
        let uploaded = [
            part(1, MIN_PART_SIZE),
            part(2, 10),
            part(3, MIN_PART_SIZE),
            part(5, 1),
        ];
        // A subset, skipping part numbers, is fine; so is a small last part.
        let chosen = choose_parts(&up, &uploaded, &[asked(1), asked(3), asked(5)]).unwrap();
        let numbers: Vec<u32> = chosen.iter().map(|p| p.part_number).collect();
        assert_eq!(numbers, [1, 3, 5]);
        let rec = manifest(&up, &chosen, None).unwrap();
        assert_eq!(rec.size, 2 * MIN_PART_SIZE + 1);
        assert!(rec.etag.ends_with("-3"), "{}", rec.etag);
        let blobs: Vec<&str> = rec.segments.iter().map(|s| s.blob.as_str()).collect();
        assert_eq!(blobs, ["blob1", "blob3", "blob5"]);
        assert_eq!(rec.upload_id.as_deref(), Some(up.upload_id.as_str()));

        assert!(matches!(
            choose_parts(&up, &uploaded, &[asked(3), asked(1)]),
            Err(Error::InvalidPartOrder)
        ));
        assert!(matches!(
            choose_parts(&up, &uploaded, &[asked(1), asked(1)]),
            Err(Error::InvalidPartOrder)
        ));
        assert!(matches!(
            choose_parts(&up, &uploaded, &[asked(4)]),
            Err(Error::InvalidPart(_))
        ));
        let mut wrong_etag = asked(1);
        wrong_etag.etag = "0".repeat(32);
        assert!(matches!(
            choose_parts(&up, &uploaded, &[wrong_etag]),
            Err(Error::InvalidPart(_))
        ));
        assert!(matches!(
            choose_parts(&up, &uploaded, &[asked(2), asked(3)]),
            Err(Error::EntityTooSmall { part: 2, size: 10 })
        ));
    }

    #[test]
    fn upload_ids_are_recognised_and_sort_by_creation() {
        let a = new_upload_id();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = new_upload_id();
        assert!(is_server_upload_id(&a) && is_server_upload_id(&b));
        assert!(a < b, "{a} !< {b}");
        for bad in [
            "",
            "x",
            &a.to_uppercase(),
            &format!("{a}0"),
            &a[1..],
            "../../etc/passwd",
        ] {
            assert!(!is_server_upload_id(bad), "{bad}");
        }
    }
}
