//! Accounts: operator onboarding with account-level keys, bucket ownership across the S3 and
//! JSON surfaces, key minting rules, revocation, bucket-list paging at scale, and exact usage
//! under concurrent writes.
//!
//! The `api` helper here (curl, SigV4 service `cloudnx` or a Bearer token) is shared with
//! `api_jwt` and `api_limits`.

use std::collections::{BTreeSet, HashSet};
use std::process::Command;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use aws_sdk_s3::Client;
use futures::StreamExt;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::harness::{assert_err, pattern, put, random_hex, Server, REGION};

// ---- shared management-API helpers ----

/// Who a management request is made as.
#[derive(Clone, Copy, Debug)]
pub enum As<'a> {
    Anonymous,
    /// SigV4 (`curl --aws-sigv4 aws:amz:REGION:cloudnx`) with this key pair.
    Key(&'a str, &'a str),
    /// `Authorization: Bearer TOKEN`.
    Bearer(&'a str),
}

/// A management response: status, headers (lowercase names) and the JSON body
/// (`Value::Null` when there is none).
#[derive(Debug)]
pub struct Api {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub json: Value,
}

impl Api {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Asserts `status` and returns the body.
    #[track_caller]
    pub fn expect(self, status: u16) -> Value {
        assert_eq!(self.status, status, "unexpected status; body {}", self.json);
        self.json
    }

    /// Asserts an error `status` with a non-empty `{"error": …}` body.
    #[track_caller]
    pub fn expect_error(self, status: u16) {
        assert_eq!(self.status, status, "unexpected status; body {}", self.json);
        assert!(
            self.json["error"].as_str().is_some_and(|m| !m.is_empty()),
            "no {{\"error\"}} in {}",
            self.json
        );
    }
}

/// One management request with curl; `headers` are sent as given.
pub fn api(
    srv: &Server,
    who: As<'_>,
    method: &str,
    path: &str,
    body: Option<&str>,
    headers: &[(&str, &str)],
) -> Api {
    let head_file = tempfile::NamedTempFile::new().expect("temp file for headers");
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "-o", "-", "-w", "\n%{http_code}", "-X", method]);
    cmd.arg("-D").arg(head_file.path());
    match who {
        As::Anonymous => {}
        As::Key(ak, sk) => {
            cmd.args([
                "--aws-sigv4",
                &format!("aws:amz:{REGION}:cloudnx"),
                "--user",
                &format!("{ak}:{sk}"),
            ]);
        }
        As::Bearer(token) => {
            cmd.args(["-H", &format!("authorization: Bearer {token}")]);
        }
    }
    for (name, value) in headers {
        cmd.args(["-H", &format!("{name}: {value}")]);
    }
    if let Some(b) = body {
        cmd.args(["-H", "content-type: application/json", "--data-binary", b]);
    }
    cmd.arg(format!("{}{path}", srv.endpoint()));
    let out = cmd.output().expect("run curl");
    assert!(out.status.success(), "curl failed: {out:?}");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n').expect("status line");
    let json = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
    };
    let head = std::fs::read_to_string(head_file.path()).expect("read headers");
    let headers = head
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Api {
        status: status.trim().parse().expect("status"),
        headers,
        json,
    }
}

/// The server's root credentials.
pub fn root(srv: &Server) -> As<'_> {
    As::Key(&srv.access_key, &srv.secret_key)
}

/// An account-level key pair as returned by `POST /storage/access-keys`.
#[derive(Clone, Debug)]
pub struct Key {
    pub id: String,
    pub secret: String,
    pub account: String,
}

impl Key {
    pub fn who(&self) -> As<'_> {
        As::Key(&self.id, &self.secret)
    }
}

/// Mints an account-level key as `who`; `account: None` sends `{}`.
#[track_caller]
pub fn mint_key(srv: &Server, who: As<'_>, account: Option<&str>) -> Key {
    let body = match account {
        Some(a) => json!({ "account": a }).to_string(),
        None => "{}".to_owned(),
    };
    let v = api(srv, who, "POST", "/storage/access-keys", Some(&body), &[]).expect(201);
    Key {
        id: v["access_key_id"]
            .as_str()
            .expect("access_key_id")
            .to_owned(),
        secret: v["secret_access_key"]
            .as_str()
            .expect("secret_access_key")
            .to_owned(),
        account: v["account"].as_str().expect("account").to_owned(),
    }
}

/// `POST /storage/buckets {"name": name}` as `who`; returns the response.
pub fn create_bucket_api(srv: &Server, who: As<'_>, name: &str) -> Api {
    let body = json!({ "name": name }).to_string();
    api(srv, who, "POST", "/storage/buckets", Some(&body), &[])
}

/// Every bucket name `who` sees on `GET /storage/buckets`, walking all pages.
pub fn api_bucket_names(srv: &Server, who: As<'_>) -> Vec<String> {
    let mut names = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/storage/buckets?limit=1000&cursor={c}"),
            None => "/storage/buckets?limit=1000".to_owned(),
        };
        let page = api(srv, who, "GET", &path, None, &[]).expect(200);
        names.extend(
            page["buckets"]
                .as_array()
                .expect("buckets")
                .iter()
                .map(|b| b["name"].as_str().expect("name").to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return names,
        }
    }
}

/// S3 Owner ID of an account.
pub fn owner_id(account: &str) -> String {
    hex::encode(Sha256::digest(format!("cnx-storage/owner/{account}")))
}

/// Bucket names on S3 ListBuckets for `client`.
async fn s3_bucket_names(client: &Client) -> BTreeSet<String> {
    let out = client.list_buckets().send().await.expect("ListBuckets");
    out.buckets()
        .iter()
        .map(|b| b.name().expect("bucket name").to_owned())
        .collect()
}

// ---- tests ----

#[tokio::test]
async fn operator_onboards_accounts_that_see_only_their_own_buckets() {
    let srv = Server::start();
    if srv.skip_external("accounts are cnx-storage's own") {
        return;
    }
    let accounts = ["alice", "bob", "carol"];
    let keys: Vec<Key> = accounts
        .iter()
        .map(|a| mint_key(&srv, root(&srv), Some(a)))
        .collect();
    for (k, a) in keys.iter().zip(accounts) {
        assert_eq!(k.account, a);
        assert!(!k.id.is_empty() && !k.secret.is_empty());
    }

    // Each account makes one bucket over S3 and one over JSON.
    let mut owned: Vec<BTreeSet<String>> = Vec::new();
    for (k, a) in keys.iter().zip(accounts) {
        let s3 = srv.client_with(&k.id, &k.secret);
        let via_s3 = srv.bucket(&s3, &format!("{a}-s3")).await;
        let via_api = srv.unique_bucket(&format!("{a}-api"));
        let b = create_bucket_api(&srv, k.who(), &via_api).expect(201);
        assert_eq!(b["name"], via_api.as_str());
        put(&s3, &via_s3, "obj", b"hello").await;
        put(&s3, &via_api, "obj", b"hello").await;
        owned.push([via_s3, via_api].into_iter().collect());
    }
    // Root has a bucket of its own too, invisible to the accounts.
    let root_bucket = srv.bucket(&srv.client(), "root-own").await;

    let mut ids = HashSet::new();
    for ((k, a), mine) in keys.iter().zip(accounts).zip(&owned) {
        let s3 = srv.client_with(&k.id, &k.secret);
        let out = s3.list_buckets().send().await.expect("ListBuckets");
        let names: BTreeSet<String> = out
            .buckets()
            .iter()
            .map(|b| b.name().unwrap().to_owned())
            .collect();
        assert_eq!(&names, mine, "{a}'s ListBuckets");
        let owner = out.owner().expect("Owner");
        assert_eq!(owner.id(), Some(owner_id(a).as_str()), "{a}'s owner id");
        assert_eq!(owner.display_name(), Some(a));
        ids.insert(owner.id().unwrap().to_owned());

        let api_names: BTreeSet<String> = api_bucket_names(&srv, k.who()).into_iter().collect();
        assert_eq!(&api_names, mine, "{a}'s GET /storage/buckets");

        // The object listings name the bucket owner.
        for b in mine {
            let v2 = s3
                .list_objects_v2()
                .bucket(b)
                .fetch_owner(true)
                .send()
                .await
                .unwrap();
            let o = v2.contents()[0].owner().expect("fetch-owner Owner");
            assert_eq!(o.id(), Some(owner_id(a).as_str()));
            assert_eq!(o.display_name(), Some(a));
            let v2_plain = s3.list_objects_v2().bucket(b).send().await.unwrap();
            assert!(
                v2_plain.contents()[0].owner().is_none(),
                "V2 without fetch-owner"
            );
            let v1 = s3.list_objects().bucket(b).send().await.unwrap();
            let o = v1.contents()[0].owner().expect("V1 Owner");
            assert_eq!(o.id(), Some(owner_id(a).as_str()));
            assert_eq!(o.display_name(), Some(a));
        }
    }
    assert_eq!(ids.len(), 3, "owner ids are distinct per account");
    let root_list = srv.client().list_buckets().send().await.unwrap();
    let root_owner = root_list.owner().expect("root Owner");
    assert_eq!(root_owner.id(), Some(owner_id("root").as_str()));
    assert_eq!(root_owner.display_name(), Some("root"));
    assert!(root_list
        .buckets()
        .iter()
        .any(|b| b.name() == Some(root_bucket.as_str())));
    for k in &keys {
        let s3 = srv.client_with(&k.id, &k.secret);
        assert!(!s3_bucket_names(&s3).await.contains(&root_bucket));
    }

    // alice against bob's buckets: AccessDenied on S3, 404 on JSON.
    let (alice, bob) = (&keys[0], &keys[1]);
    let alice_s3 = srv.client_with(&alice.id, &alice.secret);
    let bobs = owned[1].iter().next().unwrap().clone();
    assert_err(
        alice_s3.list_objects_v2().bucket(&bobs).send().await,
        403,
        Some("AccessDenied"),
    );
    assert_err(
        alice_s3.get_object().bucket(&bobs).key("obj").send().await,
        403,
        Some("AccessDenied"),
    );
    assert_err(
        alice_s3
            .put_object()
            .bucket(&bobs)
            .key("intruder")
            .body(ByteStream::from_static(b"x"))
            .send()
            .await,
        403,
        Some("AccessDenied"),
    );
    assert_err(
        alice_s3.delete_bucket().bucket(&bobs).send().await,
        403,
        Some("AccessDenied"),
    );
    assert_err(alice_s3.head_bucket().bucket(&bobs).send().await, 403, None);
    for (method, path, body) in [
        ("GET", format!("/storage/buckets/{bobs}"), None),
        (
            "DELETE",
            format!("/storage/buckets/{bobs}?force=true"),
            None,
        ),
        ("GET", format!("/storage/buckets/{bobs}/keys"), None),
        (
            "POST",
            format!("/storage/buckets/{bobs}/keys"),
            Some(r#"{"permission":"read"}"#),
        ),
        (
            "POST",
            format!("/storage/buckets/{bobs}/presign"),
            Some(r#"{"key":"obj","method":"GET"}"#),
        ),
    ] {
        api(&srv, alice.who(), method, &path, body, &[]).expect_error(404);
    }
    // Nothing of bob's changed.
    let bob_s3 = srv.client_with(&bob.id, &bob.secret);
    assert_eq!(
        crate::harness::get_bytes(&bob_s3, &bobs, "obj").await,
        b"hello"
    );
    assert!(bob_s3
        .head_object()
        .bucket(&bobs)
        .key("intruder")
        .send()
        .await
        .is_err());

    // A name another account holds is taken, on both surfaces.
    create_bucket_api(&srv, alice.who(), &bobs).expect_error(409);
    assert_err(
        alice_s3
            .create_bucket()
            .bucket(&bobs)
            .create_bucket_configuration(
                aws_sdk_s3::types::CreateBucketConfiguration::builder()
                    .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(REGION))
                    .build(),
            )
            .send()
            .await,
        409,
        Some("BucketAlreadyExists"),
    );
    assert!(!s3_bucket_names(&alice_s3).await.contains(&bobs));
}

#[tokio::test]
async fn account_key_minting_listing_and_revocation() {
    let srv = Server::start();
    if srv.skip_external("accounts are cnx-storage's own") {
        return;
    }
    let alice = mint_key(&srv, root(&srv), Some("alice"));
    let bob = mint_key(&srv, root(&srv), Some("bob"));
    let bob2 = mint_key(&srv, root(&srv), Some("bob"));

    // Nobody mints or lists keys without credentials.
    api(
        &srv,
        As::Anonymous,
        "POST",
        "/storage/access-keys",
        Some(r#"{"account":"alice"}"#),
        &[],
    )
    .expect_error(401);
    api(
        &srv,
        As::Anonymous,
        "GET",
        "/storage/access-keys",
        None,
        &[],
    )
    .expect_error(401);

    // An account mints keys for itself only.
    let alice2 = mint_key(&srv, alice.who(), None);
    assert_eq!(alice2.account, "alice");
    let alice3 = mint_key(&srv, alice.who(), Some("alice"));
    assert_eq!(alice3.account, "alice");
    for other in ["bob", "root", "carol"] {
        let body = json!({ "account": other }).to_string();
        api(
            &srv,
            alice.who(),
            "POST",
            "/storage/access-keys",
            Some(&body),
            &[],
        )
        .expect_error(403);
    }
    // The new key acts as alice.
    let s3 = srv.client_with(&alice2.id, &alice2.secret);
    let b = srv.bucket(&s3, "alice-k2").await;
    assert!(api_bucket_names(&srv, alice.who()).contains(&b));

    // Root mints for itself either way.
    let r1 = mint_key(&srv, root(&srv), Some("root"));
    let r2 = mint_key(&srv, root(&srv), None);
    assert_eq!((r1.account.as_str(), r2.account.as_str()), ("root", "root"));
    let rb = srv
        .bucket(&srv.client_with(&r1.id, &r1.secret), "root-k")
        .await;
    assert!(api_bucket_names(&srv, root(&srv)).contains(&rb));

    // Invalid account names.
    let long = "x".repeat(129);
    for bad in ["a b", "", "slash/y", "tab\t", long.as_str()] {
        let body = json!({ "account": bad }).to_string();
        api(
            &srv,
            root(&srv),
            "POST",
            "/storage/access-keys",
            Some(&body),
            &[],
        )
        .expect_error(400);
    }
    // The longest valid name and the allowed punctuation.
    let edge = format!("{}-_.@+:", "y".repeat(122));
    assert_eq!(edge.len(), 128);
    assert_eq!(mint_key(&srv, root(&srv), Some(&edge)).account, edge);
    api(
        &srv,
        root(&srv),
        "POST",
        "/storage/access-keys",
        Some(r#"{"account":"x","bogus":1}"#),
        &[],
    )
    .expect_error(400);

    // Listings: root sees every account's keys, an account its own; never a secret.
    let list = |who: As<'_>, query: &str| -> Vec<(String, String)> {
        let v = api(
            &srv,
            who,
            "GET",
            &format!("/storage/access-keys{query}"),
            None,
            &[],
        )
        .expect(200);
        assert!(v["next_cursor"].is_null(), "{v}");
        v["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| {
                assert!(k.get("secret_access_key").is_none(), "secret listed: {k}");
                (
                    k["access_key_id"].as_str().unwrap().to_owned(),
                    k["account"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let all = list(root(&srv), "");
    for k in [&alice, &alice2, &alice3, &bob, &bob2, &r1, &r2] {
        assert!(
            all.contains(&(k.id.clone(), k.account.clone())),
            "{k:?} in {all:?}"
        );
    }
    let mine: BTreeSet<_> = list(alice.who(), "").into_iter().collect();
    let want: BTreeSet<_> = [&alice, &alice2, &alice3]
        .iter()
        .map(|k| (k.id.clone(), "alice".to_owned()))
        .collect();
    assert_eq!(mine, want);
    let bobs: BTreeSet<_> = list(root(&srv), "?account=bob").into_iter().collect();
    let want: BTreeSet<_> = [&bob, &bob2]
        .iter()
        .map(|k| (k.id.clone(), "bob".to_owned()))
        .collect();
    assert_eq!(bobs, want);
    // An account's filter cannot widen its view.
    assert!(list(alice.who(), "?account=bob").is_empty());

    // alice cannot revoke bob's key; bob's key keeps working.
    api(
        &srv,
        alice.who(),
        "DELETE",
        &format!("/storage/access-keys/{}", bob.id),
        None,
        &[],
    )
    .expect_error(404);
    api(&srv, bob.who(), "GET", "/storage/buckets", None, &[]).expect(200);
    api(
        &srv,
        alice.who(),
        "DELETE",
        "/storage/access-keys/AKNOSUCHKEY",
        None,
        &[],
    )
    .expect_error(404);

    // An account revokes its own key; root revokes anyone's.
    api(
        &srv,
        alice.who(),
        "DELETE",
        &format!("/storage/access-keys/{}", alice3.id),
        None,
        &[],
    )
    .expect(204);
    api(&srv, alice3.who(), "GET", "/storage/buckets", None, &[]).expect_error(401);

    let alice_s3 = srv.client_with(&alice.id, &alice.secret);
    alice_s3.list_buckets().send().await.expect("before revoke");
    api(
        &srv,
        root(&srv),
        "DELETE",
        &format!("/storage/access-keys/{}", alice.id),
        None,
        &[],
    )
    .expect(204);
    assert_err(
        alice_s3.list_buckets().send().await,
        403,
        Some("InvalidAccessKeyId"),
    );
    api(&srv, alice.who(), "GET", "/storage/buckets", None, &[]).expect_error(401);
    // Revoked keys leave the listing; alice's other key still works on both surfaces.
    assert!(!list(root(&srv), "").iter().any(|(id, _)| *id == alice.id));
    api(&srv, alice2.who(), "GET", "/storage/buckets", None, &[]).expect(200);
    assert!(s3_bucket_names(&s3).await.contains(&b));
    // Revoking twice: gone.
    api(
        &srv,
        root(&srv),
        "DELETE",
        &format!("/storage/access-keys/{}", alice.id),
        None,
        &[],
    )
    .expect_error(404);
}

#[tokio::test]
async fn bucket_listing_pages_through_thousands_of_buckets() {
    const COUNT: usize = 2500;
    let srv = Server::start();
    if srv.skip_external("management surface is cnx-storage's own") {
        return;
    }
    let dave = mint_key(&srv, root(&srv), Some("dave"));
    let s3 = srv.client_with(&dave.id, &dave.secret);
    // Another account's buckets interleave in name order but never show up.
    let eve = mint_key(&srv, root(&srv), Some("eve"));
    let eve_s3 = srv.client_with(&eve.id, &eve.secret);
    let tag = random_hex(3);
    for i in [0usize, 1234, 2499] {
        eve_s3
            .create_bucket()
            .bucket(format!("p{i:05}a-{tag}"))
            .send()
            .await
            .unwrap();
    }

    let expected: Vec<String> = (0..COUNT).map(|i| format!("p{i:05}-{tag}")).collect();
    futures::stream::iter(expected.clone())
        .map(|name| {
            let s3 = s3.clone();
            async move {
                s3.create_bucket()
                    .bucket(&name)
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("create {name}: {e:?}"));
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<()>>()
        .await;

    let page = |path: &str| api(&srv, dave.who(), "GET", path, None, &[]).expect(200);
    let names_of = |v: &Value| -> Vec<String> {
        v["buckets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["name"].as_str().unwrap().to_owned())
            .collect()
    };

    // limit=1000: three pages, a bucket created mid-walk on either side of the cursor.
    let mut seen: Vec<String> = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    let (before, after) = (format!("a-early-{tag}"), format!("p02000-{tag}-late"));
    loop {
        let v = page(&match &cursor {
            Some(c) => format!("/storage/buckets?limit=1000&cursor={c}"),
            None => "/storage/buckets?limit=1000".to_owned(),
        });
        let names = names_of(&v);
        assert!(names.len() <= 1000);
        seen.extend(names);
        pages += 1;
        if pages == 1 {
            for n in [&before, &after] {
                create_bucket_api(&srv, dave.who(), n).expect(201);
            }
        }
        match v["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => {
                assert!(
                    v.get("next_cursor").is_some(),
                    "next_cursor: null, not absent"
                );
                break;
            }
        }
        assert!(pages < 10, "runaway paging");
    }
    assert_eq!(pages, 3);
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "sorted, no duplicate");
    assert!(
        !seen.contains(&before),
        "sorts before the cursor: not on later pages"
    );
    assert!(seen.contains(&after), "sorts after the cursor: listed once");
    let pre_existing: Vec<&String> = seen.iter().filter(|n| **n != after).collect();
    assert_eq!(pre_existing.len(), COUNT);
    assert!(pre_existing.iter().zip(&expected).all(|(a, b)| *a == b));

    // Everything, in order: the 2,500, and both buckets made mid-walk.
    let all = api_bucket_names(&srv, dave.who());
    let mut want = expected.clone();
    want.extend([before.clone(), after.clone()]);
    want.sort();
    assert_eq!(all, want);

    // limit=7: a slice walked with cursors.
    let first = page("/storage/buckets?limit=7");
    assert_eq!(names_of(&first), all[..7].to_vec());
    let mut cursor = first["next_cursor"].as_str().unwrap().to_owned();
    let mut slice = names_of(&first);
    for _ in 0..4 {
        let v = page(&format!("/storage/buckets?limit=7&cursor={cursor}"));
        let names = names_of(&v);
        assert_eq!(names.len(), 7);
        slice.extend(names);
        cursor = v["next_cursor"].as_str().unwrap().to_owned();
    }
    assert_eq!(slice, all[..35].to_vec());
    // Default page size is 100.
    assert_eq!(names_of(&page("/storage/buckets")).len(), 100);

    for bad in [
        "limit=0",
        "limit=1001",
        "limit=abc",
        "limit=-1",
        "cursor=%21%21%21",
        "cursor=a.b",
        "cursor=_w",
    ] {
        api(
            &srv,
            dave.who(),
            "GET",
            &format!("/storage/buckets?{bad}"),
            None,
            &[],
        )
        .expect_error(400);
    }
}

#[tokio::test]
async fn usage_is_exact_after_concurrent_writes() {
    let srv = Server::start();
    if srv.skip_external("usage is cnx-storage's own") {
        return;
    }
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "usage").await;
    const WORKERS: u64 = 6;
    const ROUNDS: u64 = 15;
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..WORKERS {
        let (s3, bucket) = (s3.clone(), bucket.clone());
        tasks.spawn(async move {
            for r in 0..ROUNDS {
                // Workers collide on a small key space.
                let key = format!("k{}", (w * 7 + r * 3) % 9);
                let len = ((w * 131 + r * 977) % 5000) as usize;
                match (w + r) % 5 {
                    0 | 1 => {
                        put(&s3, &bucket, &key, &pattern(len, w * 100 + r)).await;
                    }
                    2 => {
                        // Deleting a missing key must not count.
                        s3.delete_object()
                            .bucket(&bucket)
                            .key(&key)
                            .send()
                            .await
                            .unwrap();
                    }
                    3 | 4 => {
                        let up = s3
                            .create_multipart_upload()
                            .bucket(&bucket)
                            .key(&key)
                            .send()
                            .await
                            .unwrap();
                        let id = up.upload_id().unwrap().to_owned();
                        let part = s3
                            .upload_part()
                            .bucket(&bucket)
                            .key(&key)
                            .upload_id(&id)
                            .part_number(1)
                            .body(ByteStream::from(pattern(len + 1, r)))
                            .send()
                            .await
                            .unwrap();
                        if (w + r) % 5 == 3 {
                            s3.complete_multipart_upload()
                                .bucket(&bucket)
                                .key(&key)
                                .upload_id(&id)
                                .multipart_upload(
                                    CompletedMultipartUpload::builder()
                                        .parts(
                                            CompletedPart::builder()
                                                .part_number(1)
                                                .e_tag(part.e_tag().unwrap())
                                                .build(),
                                        )
                                        .build(),
                                )
                                .send()
                                .await
                                .unwrap();
                        } else {
                            s3.abort_multipart_upload()
                                .bucket(&bucket)
                                .key(&key)
                                .upload_id(&id)
                                .send()
                                .await
                                .unwrap();
                        }
                    }
                    _ => unreachable!(),
                }
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("worker");
    }
    // An upload left open counts for nothing either.
    s3.create_multipart_upload()
        .bucket(&bucket)
        .key("open")
        .send()
        .await
        .unwrap();

    let mut total = 0i64;
    let mut count = 0i64;
    let mut token: Option<String> = None;
    loop {
        let out = s3
            .list_objects_v2()
            .bucket(&bucket)
            .set_continuation_token(token.clone())
            .send()
            .await
            .unwrap();
        for o in out.contents() {
            total += o.size().unwrap();
            count += 1;
        }
        match out.next_continuation_token() {
            Some(t) => token = Some(t.to_owned()),
            None => break,
        }
    }
    assert!(count > 0);
    let b = api(
        &srv,
        root(&srv),
        "GET",
        &format!("/storage/buckets/{bucket}"),
        None,
        &[],
    )
    .expect(200);
    assert_eq!(
        (b["size_bytes"].as_i64(), b["object_count"].as_i64()),
        (Some(total), Some(count)),
        "{b}"
    );
    // The listing reports the same usage.
    let list = api(&srv, root(&srv), "GET", "/storage/buckets", None, &[]).expect(200);
    let entry = list["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == bucket.as_str())
        .unwrap()
        .clone();
    assert_eq!(entry["size_bytes"], b["size_bytes"]);
    assert_eq!(entry["object_count"], b["object_count"]);
}
