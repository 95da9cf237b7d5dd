//! The multipart contract: parts counted as they arrive, replaced parts queued, uploads
//! listed in key then id order.

use crate::error::Error;
use crate::meta::{
    BucketRecord, MetaStore, ObjectRecord, PartRecord, Segment, StoredHeaders, UploadEntry,
    UploadPage, UploadQuery, UploadRecord, Usage, WriteCondition, RECORD_VERSION,
};

fn bucket(m: &dyn MetaStore) -> BucketRecord {
    let b = crate::meta::fixtures::bucket("b");
    m.insert_bucket(&b).unwrap();
    b
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

/// A part whose blob is staged, as every part's is before the commit that takes it.
fn staged_part(m: &dyn MetaStore, n: u32, size: u64, blob: &str) -> PartRecord {
    m.stage_blob(blob).unwrap();
    part(n, size, blob)
}

fn part(n: u32, size: u64, blob: &str) -> PartRecord {
    crate::meta::fixtures::part(n, size, blob)
}

fn gc_blobs(m: &dyn MetaStore) -> Vec<String> {
    let mut v: Vec<String> = m
        .pending_deletes(i64::MAX, None, 100)
        .unwrap()
        .into_iter()
        .map(|e| e.blob)
        .collect();
    v.sort();
    v
}

pub fn parts_count_in_usage_until_completed_or_aborted(m: &dyn MetaStore) {
    let b = bucket(m);
    m.create_upload(&b, &upload("k", "u1")).unwrap();
    m.put_part(&b, "k", "u1", &staged_part(m, 1, 10, "p1"), None)
        .unwrap();
    m.put_part(&b, "k", "u1", &staged_part(m, 2, 5, "p2"), None)
        .unwrap();
    // A re-uploaded part replaces the old one and queues its blob.
    m.put_part(&b, "k", "u1", &staged_part(m, 2, 7, "p2b"), None)
        .unwrap();
    assert_eq!(
        m.usage(&b.id).unwrap(),
        Usage {
            bytes: 17,
            objects: 0
        }
    );
    assert_eq!(gc_blobs(m), ["p2"]);
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
    assert_eq!(gc_blobs(m), ["p2", "p2b"]);
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
    m.put_part(&b, "k", "u2", &staged_part(m, 1, 3, "q1"), None)
        .unwrap();
    m.abort_upload(&b, "k", "u2").unwrap();
    assert_eq!(
        m.usage(&b.id).unwrap(),
        Usage {
            bytes: 10,
            objects: 1
        }
    );
    assert!(gc_blobs(m).contains(&"q1".to_string()));
    assert!(matches!(
        m.abort_upload(&b, "k", "u2"),
        Err(Error::NoSuchUpload)
    ));
    assert!(matches!(
        m.put_part(&b, "k", "u2", &staged_part(m, 1, 3, "q2"), None),
        Err(Error::NoSuchUpload)
    ));
}

pub fn uploads_list_in_key_then_id_order_with_markers(m: &dyn MetaStore) {
    let b = bucket(m);
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

/// Completing an upload of a bucket that is gone (deleted, another made under its name) is
/// `NoSuchBucket`, as for any write into it, and nothing is written.
pub fn completing_in_a_bucket_gone_is_no_such_bucket(m: &dyn MetaStore) {
    let old = bucket(m);
    m.create_upload(&old, &upload("k", "u1")).unwrap();
    m.abort_upload(&old, "k", "u1").unwrap();
    m.delete_bucket("b", &old.id).unwrap();
    let new = bucket(m);
    let rec = crate::meta::fixtures::object(0, "none");
    assert!(matches!(
        m.complete_upload(&old, "k", "u1", &rec, &[], &WriteCondition::Always),
        Err(Error::NoSuchBucket(_))
    ));
    assert_eq!(m.get_object(&new.id, "k").unwrap(), None);
}
