//! Version ids: 32 hex characters that sort newest first, so a key's versions lie in the
//! index in the order S3 lists them.

use std::sync::atomic::{AtomicU64, Ordering};

use super::VersionRef;

/// The version id S3 shows for the null version.
pub const NULL: &str = "null";

/// The last time (microseconds) handed out, so ids made in one process strictly descend.
static LAST_MICROS: AtomicU64 = AtomicU64::new(0);

fn now_micros() -> u64 {
    u64::try_from(time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1000).unwrap_or(0)
}

/// A fresh version id: the inverted creation time (µs), then 64 random bits.
pub fn new_version_id() -> String {
    let mut last = LAST_MICROS.load(Ordering::Relaxed);
    let micros = loop {
        let next = now_micros().max(last + 1);
        match LAST_MICROS.compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => break next,
            Err(seen) => last = seen,
        }
    };
    let mut raw = [0u8; 16];
    raw[..8].copy_from_slice(&(u64::MAX - micros).to_be_bytes());
    raw[8..].copy_from_slice(&uuid::Uuid::new_v4().as_bytes()[..8]);
    hex::encode(raw)
}

/// Where a version sorts among its key's versions: its id's bytes, or for the null version
/// the inverted time it was written (and zeros).
pub fn sort_key(version_id: Option<&str>, last_modified_ms: i64) -> [u8; 16] {
    let mut raw = [0u8; 16];
    match version_id.and_then(parse_id) {
        Some(id) => raw = id,
        None => {
            let micros = u64::try_from(last_modified_ms)
                .unwrap_or(0)
                .saturating_mul(1000);
            raw[..8].copy_from_slice(&(u64::MAX - micros).to_be_bytes());
        }
    }
    raw
}

fn parse_id(s: &str) -> Option<[u8; 16]> {
    let mut raw = [0u8; 16];
    super::codec::is_hex_id(s)
        .then(|| hex::decode_to_slice(s, &mut raw).ok())
        .flatten()
        .map(|()| raw)
}

/// A `versionId` from a request: `null`, or an id this server could have made.
pub fn parse(s: &str) -> Option<VersionRef> {
    if s == NULL {
        return Some(VersionRef::Null);
    }
    parse_id(s).map(|_| VersionRef::Id(s.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_sort_newest_first_and_parse_back() {
        let ids: Vec<String> = (0..100).map(|_| new_version_id()).collect();
        for w in ids.windows(2) {
            assert!(w[1] < w[0], "{} !< {}", w[1], w[0]);
        }
        assert_eq!(parse(&ids[0]), Some(VersionRef::Id(ids[0].clone())));
        assert_eq!(parse("null"), Some(VersionRef::Null));
        for bad in ["", "NULL", "x", &ids[0].to_uppercase(), &ids[0][1..]] {
            assert_eq!(parse(bad), None, "{bad}");
        }
        // A null version written at the same time sorts with the ids made then.
        let later = sort_key(None, crate::clock::now_ms() + 1000);
        assert!(later < sort_key(Some(&new_version_id()), 0));
    }
}
