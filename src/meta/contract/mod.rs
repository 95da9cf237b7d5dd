//! What every index backend must do, as tests generic over the backend. A backend's test
//! module runs them through [`access_contract!`] with an expression that opens a fresh,
//! empty index and one that opens a second handle on it (another gateway, for backends
//! shared by several; the same handle for an embedded one).

pub mod objects;
pub mod uploads;
pub mod versions;

use crate::error::Error;
use crate::meta::fixtures::bucket;
use crate::meta::gens::CacheKind;
use crate::meta::sse::KmsKeyRecord;
use crate::meta::stats::IndexStatus;
use crate::meta::{
    AccessStore, BlobLedger, BucketId, BucketStore, IdempotencyRecord, KeyPermission, KeyRecord,
    KeyScope, MetaStore, ObjectStore, Usage, Versioning, RECORD_VERSION,
};

/// What the object contract needs of a backend.
pub trait Objects: BucketStore + ObjectStore + BlobLedger + IndexStatus {}
impl<T: BucketStore + ObjectStore + BlobLedger + IndexStatus> Objects for T {}

/// A fresh index for a test, and what must outlive it.
pub struct Opened<M> {
    pub store: std::sync::Arc<M>,
    /// Where a second handle connects (for a shared backend).
    pub url: String,
    pub dir: Option<tempfile::TempDir>,
}

impl<M> std::ops::Deref for Opened<M> {
    type Target = M;
    fn deref(&self) -> &M {
        &self.store
    }
}

pub fn key(id: &str, scope: KeyScope) -> KeyRecord {
    KeyRecord {
        v: RECORD_VERSION,
        access_key_id: id.into(),
        name: None,
        scope,
        sealed_secret: "sealed".into(),
        created_at_ms: 1,
        expires_at_ms: None,
    }
}

fn account_key(id: &str) -> KeyRecord {
    key(
        id,
        KeyScope::Account {
            account: "a".into(),
        },
    )
}

fn kms_key(id: &str, enabled: bool) -> KmsKeyRecord {
    KmsKeyRecord {
        v: RECORD_VERSION,
        id: id.into(),
        description: String::new(),
        created_ms: 1,
        enabled,
        sealed_material: "sealed".into(),
    }
}

pub fn keys_round_trip_in_id_order(m: &dyn AccessStore) {
    let bucket_key = key(
        "K2",
        KeyScope::Bucket {
            bucket_id: BucketId::random(),
            bucket: "b".into(),
            account: "root".into(),
            permission: KeyPermission::Read,
        },
    );
    assert!(m.insert_key(&bucket_key).unwrap());
    assert!(m.insert_key(&account_key("K10")).unwrap());
    assert!(m.insert_key(&account_key("K1")).unwrap());
    let mut taken = account_key("K2");
    taken.name = Some("another".into());
    assert!(!m.insert_key(&taken).unwrap(), "a taken id is refused");
    assert_eq!(m.get_key("K2").unwrap(), Some(bucket_key));
    assert_eq!(m.get_key("K3").unwrap(), None);
    let ids: Vec<String> = m
        .list_keys()
        .unwrap()
        .into_iter()
        .map(|k| k.access_key_id)
        .collect();
    assert_eq!(ids, ["K1", "K10", "K2"]);
    assert!(m.delete_key("K2").unwrap());
    assert!(!m.delete_key("K2").unwrap());
    assert_eq!(m.get_key("K2").unwrap(), None);
}

/// Two writers minting the same ids at once, through two handles: each id goes to exactly one.
pub fn key_ids_are_taken_once(a: &(dyn AccessStore + Sync), b: &(dyn AccessStore + Sync)) {
    const IDS: usize = 50;
    let won = |m: &dyn AccessStore| -> Vec<bool> {
        (0..IDS)
            .map(|i| m.insert_key(&account_key(&format!("RACE{i:03}"))).unwrap())
            .collect()
    };
    let (x, y) = std::thread::scope(|s| {
        let x = s.spawn(|| won(a));
        let y = s.spawn(|| won(b));
        (x.join().unwrap(), y.join().unwrap())
    });
    for i in 0..IDS {
        assert!(
            x[i] ^ y[i],
            "id {i}: taken by {} writers",
            x[i] as u8 + y[i] as u8
        );
    }
    assert_eq!(a.list_keys().unwrap().len(), IDS);
}

/// A bucket's managed key asked for through two handles at once (two gateways minting its
/// presign key): one key is stored, and both are given it.
pub fn managed_keys_are_minted_once(a: &dyn MetaStore, b: &dyn MetaStore) {
    const ROUNDS: usize = 20;
    let buckets: Vec<_> = (0..ROUNDS).map(|i| bucket(&format!("b{i}"))).collect();
    for rec in &buckets {
        a.insert_bucket(rec).unwrap();
    }
    let scope = |i: usize| KeyScope::Bucket {
        bucket_id: buckets[i].id,
        bucket: buckets[i].name.clone(),
        account: "a".into(),
        permission: KeyPermission::Read,
    };
    let mint = |m: &dyn MetaStore, tag: &str| -> Vec<String> {
        (0..ROUNDS)
            .map(|i| {
                let mut rec = key(&format!("{tag}{i:03}"), scope(i));
                rec.name = Some("presign-read".into());
                let same = |k: &KeyRecord| k.name.as_deref() == Some("presign-read");
                match m.insert_key_unless(&rec, &same).unwrap() {
                    crate::meta::KeyInsert::Inserted => rec.access_key_id,
                    crate::meta::KeyInsert::Existing(k) => k.access_key_id,
                    crate::meta::KeyInsert::IdTaken => panic!("ids differ"),
                }
            })
            .collect()
    };
    let (x, y) = std::thread::scope(|s| {
        let x = s.spawn(|| mint(a, "A"));
        let y = s.spawn(|| mint(b, "B"));
        (x.join().unwrap(), y.join().unwrap())
    });
    assert_eq!(x, y, "both handles are given the same key for each bucket");
    assert_eq!(a.list_keys().unwrap().len(), ROUNDS);
    // Another name, or another bucket, is another key.
    let mut other = key("C000", scope(0));
    other.name = Some("presign-read-write".into());
    let same = |k: &KeyRecord| k.name.as_deref() == Some("presign-read-write");
    assert_eq!(
        a.insert_key_unless(&other, &same).unwrap(),
        crate::meta::KeyInsert::Inserted
    );
    // A bucket gone (or another under its name) gets none.
    let gone = KeyScope::Bucket {
        bucket_id: BucketId::random(),
        bucket: "b0".into(),
        account: "a".into(),
        permission: KeyPermission::Read,
    };
    assert!(matches!(
        a.insert_key_unless(&key("D000", gone), &same),
        Err(Error::NoSuchBucket(_))
    ));
}

pub fn kms_keys_insert_once_and_update(m: &dyn AccessStore) {
    let k = kms_key("k1", true);
    assert!(m.insert_kms_key(&k).unwrap());
    assert!(!m.insert_kms_key(&kms_key("k1", false)).unwrap());
    assert_eq!(m.get_kms_key("k1").unwrap(), Some(k));
    let disabled = kms_key("k1", false);
    assert!(m.update_kms_key(&disabled).unwrap());
    assert!(!m.update_kms_key(&kms_key("k2", true)).unwrap());
    assert!(m.insert_kms_key(&kms_key("k0", true)).unwrap());
    let ids: Vec<String> = m
        .list_kms_keys()
        .unwrap()
        .into_iter()
        .map(|k| k.id)
        .collect();
    assert_eq!(ids, ["k0", "k1"]);
    assert_eq!(m.get_kms_key("k1").unwrap(), Some(disabled));
}

pub fn idempotency_records_expire(m: &dyn AccessStore) {
    let rec = |expires_at_ms, status| IdempotencyRecord {
        v: RECORD_VERSION,
        fingerprint: "f".into(),
        status,
        body: "{}".into(),
        expires_at_ms,
    };
    m.put_idempotency(b"k\0\xff", &rec(1000, 201)).unwrap();
    assert_eq!(
        m.get_idempotency(b"k\0\xff", 999).unwrap(),
        Some(rec(1000, 201))
    );
    assert_eq!(m.get_idempotency(b"k\0\xff", 1000).unwrap(), None);
    assert_eq!(m.get_idempotency(b"k", 0).unwrap(), None);
    m.put_idempotency(b"k\0\xff", &rec(2000, 200)).unwrap();
    assert_eq!(
        m.get_idempotency(b"k\0\xff", 1500).unwrap(),
        Some(rec(2000, 200))
    );
}

/// An idempotency key is claimed by one request at a time, through any handle; a kept reply
/// answers later claims until it expires.
pub fn idempotency_claims_are_exclusive(a: &dyn AccessStore, b: &dyn AccessStore) {
    use crate::meta::IdempotencyClaim::{Claimed, Kept, Running};
    let slot = b"slot\0\xff";
    let (one, two, three) = ([1u8; 16], [2u8; 16], [3u8; 16]);
    assert_eq!(
        a.claim_idempotency(slot, &one, 100, 60_000).unwrap(),
        Claimed
    );
    assert_eq!(
        b.claim_idempotency(slot, &two, 100, 60_000).unwrap(),
        Running
    );
    assert_eq!(
        a.get_idempotency(slot, 100).unwrap(),
        None,
        "a claim is no reply"
    );
    // Only the claim's own token releases it.
    a.release_idempotency(slot, &two).unwrap();
    assert_eq!(
        b.claim_idempotency(slot, &two, 100, 60_000).unwrap(),
        Running
    );
    a.release_idempotency(slot, &one).unwrap();
    assert_eq!(
        b.claim_idempotency(slot, &two, 200, 60_000).unwrap(),
        Claimed
    );
    let rec = IdempotencyRecord {
        v: RECORD_VERSION,
        fingerprint: "f".into(),
        status: 201,
        body: "{}".into(),
        expires_at_ms: 5_000,
    };
    b.put_idempotency(slot, &rec).unwrap();
    b.release_idempotency(slot, &two).unwrap();
    assert_eq!(
        a.claim_idempotency(slot, &three, 300, 60_000).unwrap(),
        Kept(rec)
    );
    // An expired reply is claimed like a free key.
    assert_eq!(
        a.claim_idempotency(slot, &three, 5_000, 60_000).unwrap(),
        Claimed
    );
    assert_eq!(
        b.claim_idempotency(b"other", &one, 5_000, 60_000).unwrap(),
        Claimed
    );
}

pub fn buckets_are_named_once_and_listed_by_name(m: &dyn BucketStore) {
    let b = bucket("b-1");
    assert_eq!(m.insert_bucket(&b).unwrap(), None);
    assert_eq!(m.insert_bucket(&bucket("b-1")).unwrap(), Some(b.clone()));
    for name in ["b.2", "a", "b-10"] {
        assert_eq!(m.insert_bucket(&bucket(name)).unwrap(), None);
    }
    assert_eq!(m.get_bucket("b-1").unwrap(), Some(b.clone()));
    assert_eq!(m.get_bucket("b-2").unwrap(), None);
    let names: Vec<String> = m
        .list_buckets()
        .unwrap()
        .into_iter()
        .map(|b| b.name)
        .collect();
    assert_eq!(names, ["a", "b-1", "b-10", "b.2"]);
    assert_eq!(m.usage(&b.id).unwrap(), Usage::default());
}

pub fn bucket_updates_apply_to_the_named_bucket_only(m: &dyn BucketStore) {
    let b = bucket("b");
    m.insert_bucket(&b).unwrap();
    let written = m
        .update_bucket("b", &b.id, &mut |r| {
            r.versioning = Versioning::Enabled;
            Ok(())
        })
        .unwrap();
    assert_eq!(written.versioning, Versioning::Enabled);
    assert_eq!(m.get_bucket("b").unwrap(), Some(written.clone()));
    let refused = m.update_bucket("b", &b.id, &mut |r| {
        r.versioning = Versioning::Suspended;
        Err(Error::InvalidBucketState("no".into()))
    });
    assert!(matches!(refused, Err(Error::InvalidBucketState(_))));
    assert_eq!(m.get_bucket("b").unwrap(), Some(written));
    let other = BucketId::random();
    assert!(matches!(
        m.update_bucket("b", &other, &mut |_| Ok(())),
        Err(Error::NoSuchBucket(_))
    ));
    assert!(matches!(
        m.update_bucket("none", &b.id, &mut |_| Ok(())),
        Err(Error::NoSuchBucket(_))
    ));
}

/// A delete meant for a bucket that was deleted and made again under its name (by another
/// request meanwhile) leaves the new one alone.
pub fn delete_bucket_spares_a_new_bucket_of_the_same_name(m: &dyn BucketStore) {
    let old = bucket("b");
    m.insert_bucket(&old).unwrap();
    m.delete_bucket("b", &old.id).unwrap();
    assert_eq!(m.get_bucket("b").unwrap(), None);
    let new = bucket("b");
    m.insert_bucket(&new).unwrap();
    assert!(matches!(
        m.delete_bucket("b", &old.id),
        Err(Error::NoSuchBucket(_))
    ));
    assert_eq!(m.get_bucket("b").unwrap(), Some(new));
}

/// Two writers creating the same buckets at once, through two handles: each name goes to
/// exactly one, and the other is shown the winner's record.
pub fn bucket_names_are_taken_once(a: &(dyn BucketStore + Sync), b: &(dyn BucketStore + Sync)) {
    const NAMES: usize = 30;
    let create = |m: &dyn BucketStore| -> Vec<(BucketId, Option<BucketId>)> {
        (0..NAMES)
            .map(|i| {
                let rec = bucket(&format!("race-{i:02}"));
                let existing = m.insert_bucket(&rec).unwrap();
                (rec.id, existing.map(|e| e.id))
            })
            .collect()
    };
    let (x, y) = std::thread::scope(|s| {
        let x = s.spawn(|| create(a));
        let y = s.spawn(|| create(b));
        (x.join().unwrap(), y.join().unwrap())
    });
    for i in 0..NAMES {
        let winner = match (x[i].1, y[i].1) {
            (None, Some(shown)) => {
                assert_eq!(shown, x[i].0);
                x[i].0
            }
            (Some(shown), None) => {
                assert_eq!(shown, y[i].0);
                y[i].0
            }
            both => panic!("name {i}: {both:?}"),
        };
        let name = format!("race-{i:02}");
        assert_eq!(a.get_bucket(&name).unwrap().map(|r| r.id), Some(winner));
    }
}

pub fn keys_die_with_their_bucket<M: BucketStore + AccessStore>(m: &M) {
    let b = bucket("b");
    m.insert_bucket(&b).unwrap();
    let bucket_key = key(
        "K1",
        KeyScope::Bucket {
            bucket_id: b.id,
            bucket: "b".into(),
            account: "root".into(),
            permission: KeyPermission::Read,
        },
    );
    assert!(m.insert_key(&bucket_key).unwrap());
    assert!(m.insert_key(&account_key("K2")).unwrap());
    m.delete_bucket("b", &b.id).unwrap();
    assert!(m.get_key("K1").unwrap().is_none());
    assert!(m.get_key("K2").unwrap().is_some());
}

/// Waits until `b`'s counter of `kind` differs from `before`; panics after a second (the
/// bound every gateway's caches are held to).
fn moves_within_a_second(b: &dyn AccessStore, kind: CacheKind, before: u64, what: &str) -> u64 {
    let start = std::time::Instant::now();
    loop {
        match b.generations().current(kind) {
            Some(now) if now != before => return now,
            _ if start.elapsed() > std::time::Duration::from_secs(1) => {
                panic!("{what}: the other handle's {kind:?} generation did not move within 1 s")
            }
            _ => std::thread::sleep(std::time::Duration::from_millis(10)),
        }
    }
}

/// The counter of `kind` once it can be trusted (a shared index's first poll).
fn trusted(b: &dyn AccessStore, kind: CacheKind) -> u64 {
    for _ in 0..200 {
        if let Some(g) = b.generations().current(kind) {
            return g;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("the {kind:?} generation is never current");
}

/// What caches hold, changed through one handle, is seen as changed by the other within a
/// second: a key's revocation, a KMS key's state, a bucket's settings and its deletion.
pub fn changes_reach_every_handles_caches<M: BucketStore + AccessStore>(a: &M, b: &M) {
    assert!(a.insert_key(&account_key("K1")).unwrap());
    let keys = trusted(b, CacheKind::Keys);
    assert!(a.delete_key("K1").unwrap());
    let keys = moves_within_a_second(b, CacheKind::Keys, keys, "a revocation");

    assert!(a.insert_kms_key(&kms_key("k", true)).unwrap());
    let kms = trusted(b, CacheKind::Kms);
    assert!(a.update_kms_key(&kms_key("k", false)).unwrap());
    moves_within_a_second(b, CacheKind::Kms, kms, "a KMS key disabled");

    let rec = bucket("b");
    a.insert_bucket(&rec).unwrap();
    let buckets = trusted(b, CacheKind::Buckets);
    a.update_bucket("b", &rec.id, &mut |r| {
        r.owner = "someone".into();
        Ok(())
    })
    .unwrap();
    let buckets = moves_within_a_second(b, CacheKind::Buckets, buckets, "a bucket changed");
    a.delete_bucket("b", &rec.id).unwrap();
    moves_within_a_second(b, CacheKind::Buckets, buckets, "a bucket deleted");
    // Its keys went with it.
    moves_within_a_second(b, CacheKind::Keys, keys, "a bucket's keys deleted");
}

/// The bucket contract's tests: as [`access_contract!`].
macro_rules! bucket_contract {
    ($open:expr, $second:expr) => {
        #[test]
        fn contract_buckets_are_named_once_and_listed_by_name() {
            let m = $open;
            $crate::meta::contract::buckets_are_named_once_and_listed_by_name(&*m);
        }
        #[test]
        fn contract_bucket_updates_apply_to_the_named_bucket_only() {
            let m = $open;
            $crate::meta::contract::bucket_updates_apply_to_the_named_bucket_only(&*m);
        }
        #[test]
        fn contract_delete_bucket_spares_a_new_bucket_of_the_same_name() {
            let m = $open;
            $crate::meta::contract::delete_bucket_spares_a_new_bucket_of_the_same_name(&*m);
        }
        #[test]
        fn contract_bucket_names_are_taken_once() {
            let m = $open;
            let second = $second(&m);
            $crate::meta::contract::bucket_names_are_taken_once(&*m, &*second);
        }
        #[test]
        fn contract_keys_die_with_their_bucket() {
            let m = $open;
            $crate::meta::contract::keys_die_with_their_bucket(&*m);
        }
        #[test]
        fn contract_changes_reach_every_handles_caches() {
            let m = $open;
            let second = $second(&m);
            $crate::meta::contract::changes_reach_every_handles_caches(&*m, &*second);
        }
    };
}

/// The access contract's tests, for a backend: `$open` makes a fresh index (an [`Opened`]),
/// `$second` makes from it a second handle on the same index (an `Arc` of the store).
macro_rules! access_contract {
    ($open:expr, $second:expr) => {
        #[test]
        fn contract_keys_round_trip_in_id_order() {
            let m = $open;
            $crate::meta::contract::keys_round_trip_in_id_order(&*m);
        }
        #[test]
        fn contract_key_ids_are_taken_once() {
            let m = $open;
            let second = $second(&m);
            $crate::meta::contract::key_ids_are_taken_once(&*m, &*second);
        }
        #[test]
        fn contract_managed_keys_are_minted_once() {
            let m = $open;
            let second = $second(&m);
            $crate::meta::contract::managed_keys_are_minted_once(&*m, &*second);
        }
        #[test]
        fn contract_kms_keys_insert_once_and_update() {
            let m = $open;
            $crate::meta::contract::kms_keys_insert_once_and_update(&*m);
        }
        #[test]
        fn contract_idempotency_claims_are_exclusive() {
            let m = $open;
            let second = $second(&m);
            $crate::meta::contract::idempotency_claims_are_exclusive(&*m, &*second);
        }
        #[test]
        fn contract_idempotency_records_expire() {
            let m = $open;
            $crate::meta::contract::idempotency_records_expire(&*m);
        }
    };
}

/// The object and versioning contract's tests: as [`access_contract!`].
macro_rules! object_contract {
    ($open:expr) => {
        $crate::meta::contract::object_contract!(
            $open;
            objects::put_replace_delete_keeps_usage_and_gc_exact,
            objects::new_blobs_are_kept_with_their_commit,
            objects::listing_with_prefix_delimiter_and_resume,
            objects::the_deletion_queue_pages_past_entries_left_behind,
            versions::enabled_keeps_every_version_and_deletes_leave_markers,
            versions::the_null_version_is_kept_once_under_suspended,
            versions::version_pages_resume_inside_a_key,
            uploads::parts_count_in_usage_until_completed_or_aborted,
            uploads::uploads_list_in_key_then_id_order_with_markers,
            uploads::completing_in_a_bucket_gone_is_no_such_bucket
        );
    };
    ($open:expr; $($module:ident :: $name:ident),*) => {
        $(
            #[test]
            fn $name() {
                let m = $open;
                $crate::meta::contract::$module::$name(&*m);
            }
        )*
    };
}
pub(crate) use {access_contract, bucket_contract, object_contract};
