//! Range, conditional, Content-MD5, checksum and metadata headers (`name: value` lines),
//! against an object whose size comes from the first 8 bytes.
#![no_main]

use cnx_storage::meta::{ObjectRecord, StoredHeaders, RECORD_VERSION};
use cnx_storage::s3::headers::{
    checksum_request, content_md5, object_lock, parse_range, read_condition, stored_metadata,
    tagging, write_condition,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 8 {
        return;
    }
    let size = u64::from_le_bytes(data[..8].try_into().unwrap_or_default());
    let text = String::from_utf8_lossy(&data[8..]);
    let mut h = http::HeaderMap::new();
    for line in text.split('\n') {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        if let (Ok(k), Ok(v)) = (
            http::HeaderName::from_bytes(k.trim().as_bytes()),
            http::HeaderValue::from_str(v.trim()),
        ) {
            h.append(k, v);
        }
    }
    if let Ok(Some(r)) = parse_range(&h, size) {
        assert!(r.start < r.end && r.end <= size, "{r:?} of {size}");
    }
    let rec = ObjectRecord {
        v: RECORD_VERSION,
        size,
        etag: "9b2cf535f27731c974343645a3985328".into(),
        last_modified_ms: 1_369_353_600_000,
        headers: StoredHeaders::default(),
        user_meta: Vec::new(),
        checksum: None,
        checksum_type: None,
        segments: Vec::new(),
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
    let _ = read_condition(&h, "", &rec);
    let _ = read_condition(&h, "x-amz-copy-source-", &rec);
    let _ = write_condition(&h);
    let _ = content_md5(&h);
    let _ = checksum_request(&h);
    let _ = tagging(&h);
    let _ = object_lock(&h);
    let _ = stored_metadata(&h);
});
