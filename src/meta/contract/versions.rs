//! The versioning contract: versions kept, replaced and removed as S3 does, and version
//! listings that resume inside a key.

use super::Objects;
use crate::meta::fixtures::object;
use crate::meta::{
    BucketRecord, ObjectRecord, VersionEntry, VersionGuard, VersionQuery, VersionRef, Versioning,
    WriteCondition,
};

fn bucket(m: &dyn Objects, versioning: Versioning) -> BucketRecord {
    let b = crate::meta::fixtures::bucket("vb");
    m.insert_bucket(&b).unwrap();
    set_versioning(m, &b, versioning)
}

fn set_versioning(m: &dyn Objects, b: &BucketRecord, state: Versioning) -> BucketRecord {
    m.update_bucket(&b.name, &b.id, &mut |r| {
        r.versioning = state;
        Ok(())
    })
    .unwrap()
}

fn put(m: &dyn Objects, b: &BucketRecord, key: &str, size: u64, blob: &str) -> ObjectRecord {
    m.stage_blob(blob).unwrap();
    m.put_object(b, key, &object(size, blob), &WriteCondition::Always)
        .unwrap()
        .rec
}

/// (key, version, latest, marker) of every version, in listing order.
fn listing(m: &dyn Objects, b: &BucketRecord) -> Vec<(String, String, bool, bool)> {
    let q = VersionQuery {
        prefix: "",
        delimiter: None,
        key_marker: None,
        version_marker: None,
        max: 1000,
    };
    m.list_versions(&b.id, &q)
        .unwrap()
        .entries
        .into_iter()
        .filter_map(|e| match e {
            VersionEntry::Version { key, rec, latest } => {
                Some((key, rec.version_str().to_owned(), latest, rec.delete_marker))
            }
            VersionEntry::CommonPrefix(_) => None,
        })
        .collect()
}

fn blobs_queued(m: &dyn Objects) -> Vec<String> {
    let mut q: Vec<String> = m
        .pending_deletes(i64::MAX, None, 100)
        .unwrap()
        .into_iter()
        .map(|e| e.blob)
        .collect();
    q.sort();
    q
}

pub fn enabled_keeps_every_version_and_deletes_leave_markers(m: &dyn Objects) {
    let b = bucket(m, Versioning::Enabled);
    let v1 = put(m, &b, "k", 10, "b1");
    let v2 = put(m, &b, "k", 20, "b2");
    assert!(v1.version_id.is_some() && v2.version_id.is_some());
    assert!(blobs_queued(m).is_empty(), "no version is lost to a PUT");
    let usage = m.usage(&b.id).unwrap();
    assert_eq!(
        (usage.bytes, usage.objects),
        (30, 2),
        "every version counts"
    );

    let deleted = m.delete_object(&b, "k", &WriteCondition::Always).unwrap();
    let marker = deleted.marker.unwrap();
    assert!(marker.delete_marker && marker.version_id.is_some());
    assert!(m.get_object(&b.id, "k").unwrap().unwrap().delete_marker);
    let listed = m
        .list_objects(
            &b.id,
            &crate::meta::ListQuery {
                prefix: "",
                delimiter: None,
                after: None,
                max: 10,
            },
        )
        .unwrap();
    assert!(listed.entries.is_empty(), "a delete marker hides the key");
    assert_eq!(
        listing(m, &b),
        [
            ("k".into(), marker.version_str().into(), true, true),
            ("k".into(), v2.version_str().into(), false, false),
            ("k".into(), v1.version_str().into(), false, false),
        ]
    );
    // Older versions stay readable by id.
    let v = VersionRef::Id(v1.version_id.clone().unwrap());
    assert_eq!(m.get_version(&b.id, "k", &v).unwrap().unwrap().size, 10);

    // Removing the marker brings v2 back as current.
    let marker_ref = VersionRef::Id(marker.version_id.clone().unwrap());
    m.delete_version(&b, "k", &marker_ref, &VersionGuard::default())
        .unwrap();
    assert_eq!(m.get_object(&b.id, "k").unwrap().unwrap().size, 20);
    // Removing a noncurrent version frees its blob and its usage.
    m.delete_version(&b, "k", &v, &VersionGuard::default())
        .unwrap();
    assert_eq!(blobs_queued(m), ["b1"]);
    let usage = m.usage(&b.id).unwrap();
    assert_eq!((usage.bytes, usage.objects), (20, 1));
    let v2_ref = VersionRef::Id(v2.version_id.clone().unwrap());
    m.delete_version(&b, "k", &v2_ref, &VersionGuard::default())
        .unwrap();
    assert!(m.get_object(&b.id, "k").unwrap().is_none());
    assert!(listing(m, &b).is_empty());
    m.delete_bucket("vb", &b.id).unwrap();
}

pub fn the_null_version_is_kept_once_under_suspended(m: &dyn Objects) {
    let mut b = bucket(m, Versioning::Unversioned);
    put(m, &b, "k", 1, "n1"); // the null version, from before versioning
    b = set_versioning(m, &b, Versioning::Enabled);
    let v = put(m, &b, "k", 2, "v1");
    b = set_versioning(m, &b, Versioning::Suspended);
    // A suspended PUT writes the null version: the older null one (noncurrent) goes.
    let n2 = put(m, &b, "k", 3, "n2");
    assert_eq!(n2.version_id, None);
    assert_eq!(blobs_queued(m), ["n1"]);
    let versions = listing(m, &b);
    assert_eq!(
        versions,
        [
            ("k".into(), "null".into(), true, false),
            ("k".into(), v.version_str().into(), false, false),
        ]
    );
    // And again: the current null version is replaced in place.
    put(m, &b, "k", 4, "n3");
    assert_eq!(blobs_queued(m), ["n1", "n2"]);
    // A suspended DELETE leaves a null delete marker in place of the null version.
    let d = m.delete_object(&b, "k", &WriteCondition::Always).unwrap();
    assert_eq!(d.marker.unwrap().version_id, None);
    assert_eq!(blobs_queued(m), ["n1", "n2", "n3"]);
    assert_eq!(listing(m, &b).len(), 2);
    let usage = m.usage(&b.id).unwrap();
    assert_eq!((usage.bytes, usage.objects), (2, 1));
    // The null version is addressable.
    assert!(
        m.get_version(&b.id, "k", &VersionRef::Null)
            .unwrap()
            .unwrap()
            .delete_marker
    );
}

pub fn version_pages_resume_inside_a_key(m: &dyn Objects) {
    let b = bucket(m, Versioning::Enabled);
    for (k, n) in [("a", 3), ("b/x", 1), ("b/y", 1), ("c", 2)] {
        for i in 0..n {
            put(m, &b, k, 1, &format!("{k}{i}"));
        }
    }
    let all = listing(m, &b);
    assert_eq!(all.len(), 7);
    let mut seen = Vec::new();
    let (mut km, mut vm): (Option<String>, Option<String>) = (None, None);
    loop {
        let page = m
            .list_versions(
                &b.id,
                &VersionQuery {
                    prefix: "",
                    delimiter: None,
                    key_marker: km.as_deref(),
                    version_marker: vm.as_deref(),
                    max: 2,
                },
            )
            .unwrap();
        for e in page.entries {
            if let VersionEntry::Version { key, rec, .. } = e {
                seen.push((key, rec.version_str().to_owned()));
            }
        }
        match page.next {
            Some((k, v)) => (km, vm) = (Some(k), v),
            None => break,
        }
    }
    let want: Vec<(String, String)> = all.into_iter().map(|(k, v, _, _)| (k, v)).collect();
    assert_eq!(seen, want);
    // With a delimiter, b/ is one entry.
    let page = m
        .list_versions(
            &b.id,
            &VersionQuery {
                prefix: "",
                delimiter: Some("/"),
                key_marker: None,
                version_marker: None,
                max: 100,
            },
        )
        .unwrap();
    assert!(page
        .entries
        .contains(&VersionEntry::CommonPrefix("b/".into())));
    assert_eq!(page.entries.len(), 6);
}
