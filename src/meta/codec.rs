//! Key layout and value encoding of the RocksDB index.
//!
//! - `buckets`: bucket name → `BucketRecord` (JSON, version-tagged)
//! - `objects`: bucket id (16 bytes) ‖ key (UTF-8) → `ObjectRecord`; one bucket's keys are one
//!   contiguous range in S3's binary key order, so a listing page is one range scan.
//! - `usage`: bucket id → two little-endian i64 (bytes, objects), summed by a merge operator.
//! - `uploads`: bucket id ‖ key ‖ 0x00 ‖ upload id → `UploadRecord`.
//! - `parts`: upload id ‖ part number (u32, big-endian) → `PartRecord`.
//! - `staged`: blob id → unix millis when staged.
//! - `gc`: unix millis (8 bytes, big-endian) ‖ blob id → empty; oldest first.
//! - `access_keys`: access key id → `KeyRecord` (secret sealed).
//! - `idempotency`: SHA-256 of (principal, Idempotency-Key) → expiry (unix millis, 8 bytes,
//!   big-endian) ‖ `IdempotencyRecord`; a compaction filter drops expired entries.

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{BucketId, Usage, RECORD_VERSION};
use crate::error::{Error, Result};

/// Whether `s` is 32 lowercase hex digits: the form of the ids this server makes (blobs,
/// uploads, versions), checked before any id from a request reaches the index.
pub fn is_hex_id(s: &str) -> bool {
    s.len() == 32
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

pub fn object_key(bucket: &BucketId, key: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(16 + key.len());
    k.extend_from_slice(&bucket.0);
    k.extend_from_slice(key.as_bytes());
    k
}

/// bucket id ‖ key ‖ 0x00: the prefix of one key's noncurrent versions.
pub fn versions_prefix(bucket: &BucketId, key: &str) -> Vec<u8> {
    let mut k = object_key(bucket, key);
    k.push(0);
    k
}

/// bucket id ‖ key ‖ 0x00 ‖ 16-byte sort key (newest first). Keys may hold 0x00 themselves:
/// an entry belongs to `key` only if it is exactly 16 bytes longer than its prefix.
pub fn version_key(bucket: &BucketId, key: &str, sort: &[u8; 16]) -> Vec<u8> {
    let mut k = versions_prefix(bucket, key);
    k.extend_from_slice(sort);
    k
}

/// The smallest byte string greater than every string that starts with `prefix`, if any.
pub fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut p = prefix.to_vec();
    while let Some(last) = p.pop() {
        if last < 0xff {
            p.push(last + 1);
            return Some(p);
        }
    }
    None
}

pub fn encode<T: Serialize>(v: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(v).map_err(|e| Error::Meta(format!("encode: {e}")))
}

#[derive(serde::Deserialize)]
struct VersionProbe {
    v: u8,
}

/// The version of a record, read from its first field where the encoder puts it, else by
/// parsing the document (which costs a second parse of every record read).
fn version_of(bytes: &[u8]) -> Result<u8> {
    if let Some(rest) = bytes.strip_prefix(b"{\"v\":") {
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        let after = rest.get(digits).copied();
        if (1..=3).contains(&digits) && matches!(after, Some(b',' | b'}')) {
            let v = std::str::from_utf8(&rest[..digits])
                .ok()
                .and_then(|d| d.parse::<u8>().ok());
            if let Some(v) = v {
                return Ok(v);
            }
        }
    }
    let probe: VersionProbe =
        serde_json::from_slice(bytes).map_err(|e| Error::Meta(format!("decode: {e}")))?;
    Ok(probe.v)
}

pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    let v = version_of(bytes)?;
    if v != RECORD_VERSION {
        return Err(Error::Meta(format!(
            "record version {v} is newer than this server understands"
        )));
    }
    serde_json::from_slice(bytes).map_err(|e| Error::Meta(format!("decode: {e}")))
}

/// bucket id ‖ key ‖ 0x00 ‖ upload id: one bucket's uploads in key order, then upload id.
pub fn upload_key(bucket: &BucketId, key: &str, upload_id: &str) -> Vec<u8> {
    let mut k = object_key(bucket, key);
    k.push(0);
    k.extend_from_slice(upload_id.as_bytes());
    k
}

/// upload id ‖ part number (big-endian): one upload's parts in part order.
pub fn part_key(upload_id: &str, part: u32) -> Vec<u8> {
    let mut k = Vec::with_capacity(upload_id.len() + 4);
    k.extend_from_slice(upload_id.as_bytes());
    k.extend_from_slice(&part.to_be_bytes());
    k
}

pub fn gc_key(queued_ms: i64, blob: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(8 + blob.len());
    k.extend_from_slice(&queued_ms.max(0).to_be_bytes());
    k.extend_from_slice(blob.as_bytes());
    k
}

pub fn parse_gc_key(k: &[u8]) -> Option<(i64, String)> {
    let ts = i64::from_be_bytes(k.get(..8)?.try_into().ok()?);
    let blob = std::str::from_utf8(k.get(8..)?).ok()?;
    Some((ts, blob.to_owned()))
}

pub fn encode_usage(u: Usage) -> [u8; 16] {
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&u.bytes.to_le_bytes());
    out[8..].copy_from_slice(&u.objects.to_le_bytes());
    out
}

pub fn decode_usage(b: &[u8]) -> Usage {
    let mut bytes = [0u8; 8];
    let mut objects = [0u8; 8];
    if b.len() == 16 {
        bytes.copy_from_slice(&b[..8]);
        objects.copy_from_slice(&b[8..]);
    }
    Usage {
        bytes: i64::from_le_bytes(bytes),
        objects: i64::from_le_bytes(objects),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::{ListedObject, ObjectRecord};

    #[test]
    fn a_record_is_checked_for_its_version_and_listed_from_the_same_bytes() {
        let mut rec = crate::meta::fixtures::object(7, "b1");
        rec.checksum = Some(crate::checksum::Checksum {
            algorithm: crate::checksum::ChecksumAlgorithm::Crc32c,
            value: "AAAAAA==".into(),
        });
        rec.user_meta = vec![("k".into(), "v".into())];
        let bytes = encode(&rec).unwrap();
        assert!(bytes.starts_with(b"{\"v\":"));
        let back: ObjectRecord = decode(&bytes).unwrap();
        assert_eq!(back, rec);
        let listed: ListedObject = decode(&bytes).unwrap();
        assert_eq!(listed, ListedObject::from(&rec));

        // Another field order: the version is found by parsing.
        let reordered = br#"{"x":1,"v":1}"#;
        assert_eq!(version_of(reordered).unwrap(), 1);
        // A newer record is refused, whichever way its version is found.
        let newer = String::from_utf8(bytes).unwrap().replacen(
            &format!("{{\"v\":{RECORD_VERSION},"),
            "{\"v\":200,",
            1,
        );
        assert!(decode::<ObjectRecord>(newer.as_bytes()).is_err());
        assert!(version_of(br#"{"v":1x}"#).is_err());
    }

    #[test]
    fn successor() {
        assert_eq!(prefix_successor(b"a/"), Some(b"a0".to_vec()));
        assert_eq!(prefix_successor(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_successor(b"\xff\xff"), None);
    }

    #[test]
    fn usage_roundtrip() {
        let u = Usage {
            bytes: -5,
            objects: 7,
        };
        assert_eq!(decode_usage(&encode_usage(u)), u);
    }
}
