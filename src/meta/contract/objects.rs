//! The object and deletion-queue contract: what a commit writes, queues and counts, and how
//! listings page.

use super::Objects;
use crate::error::Error;
use crate::meta::fixtures::bucket;
use crate::meta::{
    inline, GcEntry, ListEntry, ListPage, ListQuery, NewBlob, ObjectRecord, Usage, WriteCondition,
};

fn obj(size: u64, blob: &str) -> ObjectRecord {
    let mut rec = crate::meta::fixtures::object(size, blob);
    rec.last_modified_ms = 0;
    rec
}

/// An object whose blob is staged, as every blob is before the commit that takes it.
fn staged(m: &dyn Objects, size: u64, blob: &str) -> ObjectRecord {
    m.stage_blob(blob).unwrap();
    obj(size, blob)
}

fn names(p: &ListPage) -> Vec<String> {
    p.entries
        .iter()
        .map(|e| match e {
            ListEntry::Object(k, _) => k.clone(),
            ListEntry::CommonPrefix(p) => format!("P:{p}"),
        })
        .collect()
}

pub fn put_replace_delete_keeps_usage_and_gc_exact(m: &dyn Objects) {
    let b = bucket("b");
    assert!(m.insert_bucket(&b).unwrap().is_none());
    assert!(m.insert_bucket(&b).unwrap().is_some());
    m.stage_blob("x1").unwrap();
    m.put_object(&b, "k", &obj(10, "x1"), &WriteCondition::Always)
        .unwrap();
    assert_eq!(
        m.usage(&b.id).unwrap(),
        Usage {
            bytes: 10,
            objects: 1
        }
    );
    assert!(matches!(
        m.put_object(
            &b,
            "k",
            &obj(3, "x2"),
            &WriteCondition::Absent { since_ms: 1 }
        ),
        Err(Error::PreconditionFailed)
    ));
    let committed = m
        .put_object(
            &b,
            "k",
            &staged(m, 3, "x2"),
            &WriteCondition::ETag("e10".into()),
        )
        .unwrap();
    assert!(committed.freed, "the replaced object's blob is queued");
    assert_eq!(committed.rec.version_id, None);
    assert_eq!(
        m.usage(&b.id).unwrap(),
        Usage {
            bytes: 3,
            objects: 1
        }
    );
    let gc = m.pending_deletes(i64::MAX, None, 10).unwrap();
    assert_eq!(gc.len(), 1);
    assert_eq!(gc[0].blob, "x1");
    assert_eq!(
        m.stats().unwrap().gc_queued,
        Some(1),
        "the queue's length is reported"
    );
    assert!(m.pending_deletes(0, None, 10).unwrap().is_empty());
    assert!(matches!(
        m.delete_bucket("b", &b.id),
        Err(Error::BucketNotEmpty(_))
    ));
    m.delete_object(&b, "k", &WriteCondition::Always).unwrap();
    assert_eq!(m.usage(&b.id).unwrap(), Usage::default());
    assert_eq!(m.stats().unwrap().gc_queued, Some(2));
    m.deleted(&gc).unwrap();
    assert_eq!(m.stats().unwrap().gc_queued, Some(1));
    m.delete_bucket("b", &b.id).unwrap();
    assert!(matches!(
        m.put_object(&b, "k", &obj(1, "x3"), &WriteCondition::Always),
        Err(Error::NoSuchBucket(_))
    ));
    assert_eq!(m.recover_staged().unwrap(), 0);
}

/// Chunk checksums and inline bytes are kept by the commit that makes their blob part of
/// an object or upload, and go with the blob when it is swept.
pub fn new_blobs_are_kept_with_their_commit(m: &dyn Objects) {
    let b = bucket("b");
    m.insert_bucket(&b).unwrap();
    let mut summer = crate::integrity::ChunkSummer::default();
    summer.update(b"some bytes");
    let sums = summer.finish();
    m.stage_blob("x1").unwrap();
    let blob = Some(NewBlob::Sums {
        blob: "x1",
        sums: &sums,
    });
    m.put_object_with(&b, "k", &obj(10, "x1"), &WriteCondition::Always, blob)
        .unwrap();
    assert_eq!(m.blob_sums("x1").unwrap(), Some(sums.clone()));
    let small = inline::new_id();
    let blob = Some(NewBlob::Inline {
        blob: &small,
        bytes: b"tiny",
    });
    m.put_object_with(&b, "k", &obj(4, &small), &WriteCondition::Always, blob)
        .unwrap();
    let framed = m.get_inline(&small).unwrap().unwrap();
    assert_eq!(&framed[inline::check_len(&framed, 4).unwrap()..], b"tiny");
    let gone = m.pending_deletes(i64::MAX, None, 10).unwrap();
    assert_eq!(gone.len(), 1);
    m.deleted(&gone).unwrap();
    assert_eq!(m.blob_sums("x1").unwrap(), None);
    m.delete_object(&b, "k", &WriteCondition::Always).unwrap();
    let gone = m.pending_deletes(i64::MAX, None, 10).unwrap();
    m.deleted(&gone).unwrap();
    assert_eq!(m.get_inline(&small).unwrap(), None);
}

pub fn listing_with_prefix_delimiter_and_resume(m: &dyn Objects) {
    let b = bucket("b");
    let other = bucket("c");
    m.insert_bucket(&b).unwrap();
    m.insert_bucket(&other).unwrap();
    for k in ["a/1", "a/2", "a/b/3", "b", "c/x", "d", "d/"] {
        m.put_object(&b, k, &staged(m, 1, k), &WriteCondition::Always)
            .unwrap();
    }
    m.put_object(&other, "a/9", &staged(m, 1, "z"), &WriteCondition::Always)
        .unwrap();
    let q = |prefix, delimiter, after, max| ListQuery {
        prefix,
        delimiter,
        after,
        max,
    };
    let all = m.list_objects(&b.id, &q("", None, None, 100)).unwrap();
    assert_eq!(names(&all), ["a/1", "a/2", "a/b/3", "b", "c/x", "d", "d/"]);
    let p = m.list_objects(&b.id, &q("", Some("/"), None, 100)).unwrap();
    assert_eq!(names(&p), ["P:a/", "b", "P:c/", "d", "P:d/"]);
    let p = m
        .list_objects(&b.id, &q("a/", Some("/"), None, 100))
        .unwrap();
    assert_eq!(names(&p), ["a/1", "a/2", "P:a/b/"]);
    let p1 = m.list_objects(&b.id, &q("", Some("/"), None, 2)).unwrap();
    assert_eq!(names(&p1), ["P:a/", "b"]);
    assert_eq!(p1.next_after.as_deref(), Some("b"));
    let p2 = m
        .list_objects(&b.id, &q("", Some("/"), Some("a/"), 2))
        .unwrap();
    assert_eq!(names(&p2), ["b", "P:c/"]);
    let p3 = m.list_objects(&b.id, &q("", None, Some("c/x"), 5)).unwrap();
    assert_eq!(names(&p3), ["d", "d/"]);
    assert!(p3.next_after.is_none());
    let exact = m.list_objects(&b.id, &q("", None, None, 7)).unwrap();
    assert!(exact.next_after.is_none());
}

pub fn the_deletion_queue_pages_past_entries_left_behind(m: &dyn Objects) {
    for b in ["g1", "g2", "g3", "g4", "g5"] {
        m.abandon_blob(b).unwrap();
    }
    let mut seen = Vec::new();
    let mut after: Option<GcEntry> = None;
    loop {
        let page = m.pending_deletes(i64::MAX, after.as_ref(), 2).unwrap();
        let Some(last) = page.last().cloned() else {
            break;
        };
        assert!(page.len() <= 2);
        seen.extend(page.into_iter().map(|e| e.blob));
        after = Some(last);
    }
    seen.sort();
    assert_eq!(seen, ["g1", "g2", "g3", "g4", "g5"]);
}
