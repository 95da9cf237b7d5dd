//! Small objects kept in the index itself: their bytes are a value in the `inline` column
//! family, written in the same batch as the object's record. A small PUT is then one synced
//! write and a small GET one point read, where a blob file costs a staging marker, a file
//! write, its fsync and a rename.
//!
//! Inline blobs share the blob id space (segments, parts, the deletion queue and read leases
//! all carry ids), told apart by their first character: blob files have 32 hex digits.

/// The value stored: CRC32C of the bytes (big-endian), then the bytes.
pub fn frame(data: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(4 + data.len());
    v.extend_from_slice(&crc32c::crc32c(data).to_be_bytes());
    v.extend_from_slice(data);
    v
}

/// Checks a stored value against its CRC and the object's length `len`; `Ok` holds the
/// offset of the bytes in `raw`.
pub fn check_len(raw: &[u8], len: u64) -> Result<usize, String> {
    let at = check(raw)?;
    let held = (raw.len() - at) as u64;
    if held != len {
        return Err(format!("the index holds {held} of {len} bytes"));
    }
    Ok(at)
}

/// Checks a stored value against its CRC; `Ok` holds the offset of the bytes in `raw`.
pub fn check(raw: &[u8]) -> Result<usize, String> {
    let Some((crc, data)) = raw.split_first_chunk::<4>() else {
        return Err(format!(
            "the stored value is {} bytes, shorter than its header",
            raw.len()
        ));
    };
    if crc32c::crc32c(data) != u32::from_be_bytes(*crc) {
        return Err("the bytes fail their CRC32C".into());
    }
    Ok(4)
}

const PREFIX: char = 'i';

/// A fresh id for an inline blob: the time in ms (12 hex digits), then 74 random bits.
/// Ids in time order keep each flush of new values to a narrow key range. With random ids
/// every flush overlapped every stored value, and RocksDB rewrote all of them each time
/// (a 10 s burst of 4 KiB PUTs compacted 230 MB of values fifteen times over).
pub fn new_id() -> String {
    let ms = u64::try_from(crate::clock::now_ms()).unwrap_or(0) & 0xffff_ffff_ffff;
    let random = uuid::Uuid::new_v4().simple().to_string();
    // The last 19 hex digits of a v4 UUID: all random but two bits of its variant.
    format!("{PREFIX}{ms:012x}{}", &random[13..])
}

/// Whether a blob id names bytes kept in the index.
pub fn is_inline(blob: &str) -> bool {
    blob.starts_with(PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framed_bytes_check_out_and_a_flip_is_caught() {
        let mut v = frame(b"hello");
        assert_eq!(check(&v), Ok(4));
        assert_eq!(&v[4..], b"hello");
        v[6] ^= 1;
        assert!(check(&v).is_err());
        assert!(check(&[1, 2]).is_err());
        assert_eq!(check(&frame(b"")), Ok(4));
        assert_eq!(check_len(&frame(b"abc"), 3), Ok(4));
        assert!(check_len(&frame(b"abc"), 4).is_err());
    }

    #[test]
    fn inline_ids_never_look_like_blob_files() {
        let id = new_id();
        assert_eq!(id.len(), 32);
        assert!(is_inline(&id));
        assert!(!crate::meta::codec::is_hex_id(&id));
        assert!(!is_inline(&uuid::Uuid::new_v4().simple().to_string()));
    }

    #[test]
    fn inline_ids_sort_by_time() {
        let first = new_id();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let second = new_id();
        assert!(first < second, "{first} {second}");
        assert_ne!(new_id(), new_id());
    }
}
