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
    new_version_id_after(None)
}

/// A fresh version id that sorts as newer than `current` (the key's current version, read
/// under the key's lock), even when the clock of the server that wrote it ran ahead of ours.
pub fn new_version_id_after(current: Option<&super::ObjectRecord>) -> String {
    let floor = current.map_or(0, |c| {
        let sort = sort_key(c.version_id.as_deref(), c.last_modified_ms);
        let mut inverted = [0u8; 8];
        inverted.copy_from_slice(&sort[..8]);
        u64::MAX - u64::from_be_bytes(inverted)
    });
    let mut last = LAST_MICROS.load(Ordering::Relaxed);
    let micros = loop {
        let next = now_micros().max(last + 1);
        match LAST_MICROS.compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => break next,
            Err(seen) => last = seen,
        }
    };
    // Past the key's current version only: the process's other ids keep to its own clock.
    let micros = micros.max(floor.saturating_add(1));
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

/// How many of a key's versions (newest first) a listing resumed after `marker` skips.
pub fn resume_point(all: &[super::ObjectRecord], marker: &str) -> usize {
    match parse(marker) {
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
pub fn last_position(page: &super::VersionPage) -> Option<(String, Option<String>)> {
    page.entries.last().map(|e| match e {
        super::VersionEntry::Version { key, rec, .. } => {
            (key.clone(), Some(rec.version_str().to_owned()))
        }
        super::VersionEntry::CommonPrefix(p) => (p.clone(), None),
    })
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
        // An id made after a version from a clock far ahead still sorts as newer.
        let mut ahead = crate::meta::fixtures::object(1, "b");
        ahead.version_id = Some(new_version_id());
        let mut raw = [0u8; 16];
        raw[..8].copy_from_slice(&(u64::MAX - (now_micros() + 3_600_000_000)).to_be_bytes());
        ahead.version_id = Some(hex::encode(raw));
        let next = new_version_id_after(Some(&ahead));
        assert!(next < *ahead.version_id.as_ref().unwrap());
        let mut null = crate::meta::fixtures::object(1, "b");
        null.last_modified_ms = crate::clock::now_ms() + 3_600_000;
        assert!(
            sort_key(Some(&new_version_id_after(Some(&null))), 0)
                < sort_key(None, null.last_modified_ms)
        );
        // A null version written at the same time sorts with the ids made then.
        let later = sort_key(None, crate::clock::now_ms() + 1000);
        assert!(later < sort_key(Some(&new_version_id()), 0));
    }
}
