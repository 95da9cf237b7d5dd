//! Idempotency-Key replays on the management API, per-principal API rate limits (429), and the
//! optional S3 rate limit (503 SlowDown).

use std::time::Duration;

use aws_sdk_s3::error::ProvideErrorMetadata;
use serde_json::{json, Value};

use crate::api_accounts::{api, api_bucket_names, create_bucket_api, mint_key, root, Api, As};
use crate::harness::Server;

const IDEMPOTENCY: &str = "Idempotency-Key";

/// `POST /storage/buckets {"name": name}` under an Idempotency-Key.
fn create_with_key(srv: &Server, who: As<'_>, name: &str, key: &str) -> Api {
    let body = json!({ "name": name }).to_string();
    api(
        srv,
        who,
        "POST",
        "/storage/buckets",
        Some(&body),
        &[(IDEMPOTENCY, key)],
    )
}

fn replayed(r: &Api) -> bool {
    r.header("idempotent-replayed") == Some("true")
}

fn key_ids(srv: &Server, bucket: &str) -> Vec<String> {
    api(
        srv,
        root(srv),
        "GET",
        &format!("/storage/buckets/{bucket}/keys"),
        None,
        &[],
    )
    .expect(200)["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["access_key_id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn idempotency_key_replays_the_first_response() {
    let mut srv = Server::start();
    if srv.skip_external("Idempotency-Key is cnx-storage's own") {
        return;
    }
    let name = srv.unique_bucket("idem");

    // Create twice under one key: one bucket, the same 201 body, marked as a replay.
    let first = create_with_key(&srv, root(&srv), &name, "create-1");
    assert_eq!(first.status, 201, "{}", first.json);
    assert!(!replayed(&first), "{:?}", first.headers);
    let second = create_with_key(&srv, root(&srv), &name, "create-1");
    assert_eq!(second.status, 201, "{}", second.json);
    assert!(replayed(&second), "{:?}", second.headers);
    assert_eq!(second.json, first.json);
    let names = api_bucket_names(&srv, root(&srv));
    assert_eq!(names.iter().filter(|n| **n == name).count(), 1);
    // Without the key the same request is not a replay: the name is taken.
    create_bucket_api(&srv, root(&srv), &name).expect_error(409);

    // Minting a bucket key: the replay returns the very same key and secret.
    let path = format!("/storage/buckets/{name}/keys");
    let body = r#"{"permission":"read-write","name":"ci"}"#;
    let mint = |srv: &Server, key: &str| {
        api(
            srv,
            root(srv),
            "POST",
            &path,
            Some(body),
            &[(IDEMPOTENCY, key)],
        )
    };
    let k1 = mint(&srv, "mint-1");
    assert_eq!(k1.status, 201, "{}", k1.json);
    let k2 = mint(&srv, "mint-1");
    assert_eq!(k2.status, 201);
    assert!(replayed(&k2));
    assert_eq!(k2.json["access_key_id"], k1.json["access_key_id"]);
    assert_eq!(k2.json["secret_access_key"], k1.json["secret_access_key"]);
    assert_eq!(k2.json, k1.json);
    let minted = k1.json["access_key_id"].as_str().unwrap().to_owned();
    assert_eq!(key_ids(&srv, &name), vec![minted.clone()]);
    // The replayed secret is a working one.
    let s3 = srv.client_with(&minted, k1.json["secret_access_key"].as_str().unwrap());
    crate::harness::put(&s3, &name, "o", b"x").await;

    // The same key for a different request: 422, nothing done.
    let other = srv.unique_bucket("idem-other");
    create_with_key(&srv, root(&srv), &other, "create-1").expect_error(422);
    assert!(!api_bucket_names(&srv, root(&srv)).contains(&other));
    let r = api(
        &srv,
        root(&srv),
        "POST",
        &path,
        Some(r#"{"permission":"read"}"#),
        &[(IDEMPOTENCY, "mint-1")],
    );
    r.expect_error(422);
    api(
        &srv,
        root(&srv),
        "POST",
        &format!("{path}?x=1"),
        Some(body),
        &[(IDEMPOTENCY, "mint-1")],
    )
    .expect_error(422);
    assert_eq!(key_ids(&srv, &name), vec![minted.clone()]);

    // Keys are per principal: alice's "create-1" is her own.
    let alice = mint_key(&srv, root(&srv), Some("alice"));
    let hers = srv.unique_bucket("idem-alice");
    let r = create_with_key(&srv, alice.who(), &hers, "create-1");
    assert_eq!(r.status, 201, "{}", r.json);
    assert!(!replayed(&r));
    assert_eq!(r.json["name"], hers.as_str());
    // …and root's request under her key is not replayed to her: she gets her own answer.
    let r = create_with_key(&srv, alice.who(), &name, "mint-1");
    assert_eq!(r.status, 409, "{}", r.json);
    assert!(!replayed(&r));

    // A refusal is kept too: the replayed 409 stays 409 after the name frees up.
    let conflict = create_with_key(&srv, root(&srv), &hers, "conflict-1");
    conflict.json["error"].as_str().expect("error body");
    assert_eq!(conflict.status, 409);
    api(
        &srv,
        alice.who(),
        "DELETE",
        &format!("/storage/buckets/{hers}"),
        None,
        &[(IDEMPOTENCY, "delete-1")],
    )
    .expect(204);
    let again = create_with_key(&srv, root(&srv), &hers, "conflict-1");
    assert_eq!(again.status, 409);
    assert!(replayed(&again));
    assert_eq!(again.json, conflict.json);
    assert!(!api_bucket_names(&srv, root(&srv)).contains(&hers));
    // A replayed 204 has no body and does not delete anything new.
    create_bucket_api(&srv, alice.who(), &hers).expect(201);
    let r = api(
        &srv,
        alice.who(),
        "DELETE",
        &format!("/storage/buckets/{hers}"),
        None,
        &[(IDEMPOTENCY, "delete-1")],
    );
    assert_eq!(r.status, 204);
    assert!(replayed(&r));
    assert_eq!(r.json, Value::Null);
    assert!(api_bucket_names(&srv, alice.who()).contains(&hers));

    // GET ignores the header, valid or not.
    for key in ["create-1", "has space"] {
        let r = api(
            &srv,
            root(&srv),
            "GET",
            "/storage/buckets",
            None,
            &[(IDEMPOTENCY, key)],
        );
        assert_eq!(r.status, 200, "{key:?}: {}", r.json);
        assert!(!replayed(&r));
        assert!(r.json["buckets"].is_array());
    }

    // Malformed keys.
    let too_long = "k".repeat(300);
    let longest = "k".repeat(255);
    for bad in ["has space", too_long.as_str(), "tab\there", "ключ"] {
        let r = create_with_key(&srv, root(&srv), &srv.unique_bucket("idem-bad"), bad);
        assert_eq!(r.status, 400, "{bad:?}: {}", r.json);
        assert!(r.json["error"].is_string());
    }
    create_with_key(&srv, root(&srv), &srv.unique_bucket("idem-255"), &longest).expect(201);

    // Replays survive a restart.
    srv.restart();
    let after = create_with_key(&srv, root(&srv), &name, "create-1");
    assert_eq!(after.status, 201, "{}", after.json);
    assert!(replayed(&after));
    assert_eq!(after.json, first.json);
    let k3 = mint(&srv, "mint-1");
    assert!(replayed(&k3));
    assert_eq!(k3.json, k1.json);
    assert_eq!(key_ids(&srv, &name), vec![minted]);
}

/// `n` management requests as `who`, all in flight at once; returns the responses.
fn burst(srv: &Server, who: As<'_>, n: usize) -> Vec<Api> {
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .map(|_| s.spawn(move || api(srv, who, "GET", "/storage/buckets", None, &[])))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("request thread"))
            .collect()
    })
}

#[tokio::test]
async fn api_rate_limit_is_per_principal_with_retry_after() {
    let srv = Server::start_with_config("[limits]\napi_requests_per_second = 2\napi_burst = 3\n");
    let alice = mint_key(&srv, root(&srv), Some("alice"));

    let responses = burst(&srv, root(&srv), 10);
    let limited: Vec<&Api> = responses.iter().filter(|r| r.status == 429).collect();
    assert!(
        !limited.is_empty(),
        "no 429 among {:?}",
        responses.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert!(
        responses.iter().all(|r| r.status == 200 || r.status == 429),
        "{responses:?}"
    );
    let mut wait = 0;
    for r in &limited {
        let secs: u64 = r
            .header("retry-after")
            .unwrap_or_else(|| panic!("no Retry-After: {r:?}"))
            .parse()
            .unwrap_or_else(|e| panic!("Retry-After not an integer ({e}): {r:?}"));
        assert!(secs >= 1, "{r:?}");
        assert!(r.json["error"].as_str().is_some_and(|m| !m.is_empty()));
        wait = wait.max(secs);
    }
    // alice has her own budget.
    api(&srv, alice.who(), "GET", "/storage/buckets", None, &[]).expect(200);
    // After Retry-After, root is served again.
    tokio::time::sleep(Duration::from_secs(wait)).await;
    api(&srv, root(&srv), "GET", "/storage/buckets", None, &[]).expect(200);
}

#[tokio::test]
async fn rate_limited_requests_are_not_kept_for_replay() {
    // One request, then one every two seconds: a second request right away is refused.
    let srv = Server::start_with_config("[limits]\napi_requests_per_second = 0.5\napi_burst = 1\n");
    let alice = mint_key(&srv, root(&srv), Some("alice"));
    api(&srv, alice.who(), "GET", "/storage/buckets", None, &[]).expect(200);
    let name = srv.unique_bucket("limited");
    let refused = create_with_key(&srv, alice.who(), &name, "rl-1");
    assert_eq!(refused.status, 429, "{}", refused.json);
    let wait: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=2).contains(&wait), "{wait}");
    tokio::time::sleep(Duration::from_secs(wait)).await;
    let r = create_with_key(&srv, alice.who(), &name, "rl-1");
    assert_eq!(r.status, 201, "{}", r.json);
    assert!(!replayed(&r), "a 429 must not be replayed");
}

#[tokio::test]
async fn s3_rate_limit_answers_slowdown_with_retry_after() {
    let srv = Server::start_with_config(
        "[limits]\napi_requests_per_second = 0\ns3_requests_per_second = 1\ns3_burst = 2\n",
    );
    let alice = mint_key(&srv, root(&srv), Some("alice"));
    let s3 = srv.client();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let s3 = s3.clone();
        tasks.spawn(async move { s3.list_buckets().send().await });
    }
    let mut slowdowns = 0;
    let mut wait = 0u64;
    while let Some(done) = tasks.join_next().await {
        let Err(e) = done.expect("task") else {
            continue;
        };
        let raw = e.raw_response().expect("an HTTP response");
        assert_eq!(raw.status().as_u16(), 503, "{e:?}");
        assert_eq!(e.code(), Some("SlowDown"), "{e:?}");
        let secs: u64 = raw
            .headers()
            .get("retry-after")
            .expect("Retry-After on SlowDown")
            .parse()
            .expect("integer Retry-After");
        assert!(secs >= 1);
        wait = wait.max(secs);
        slowdowns += 1;
    }
    assert!(slowdowns >= 1, "8 requests at once against a burst of 2");
    // Another principal has its own budget.
    let alice_s3 = srv.client_with(&alice.id, &alice.secret);
    alice_s3
        .list_buckets()
        .send()
        .await
        .expect("alice is not limited");
    // The management API is not limited by the S3 budget.
    api(&srv, root(&srv), "GET", "/storage/buckets", None, &[]).expect(200);
    tokio::time::sleep(Duration::from_secs(wait)).await;
    s3.list_buckets()
        .send()
        .await
        .expect("served after Retry-After");
}

#[tokio::test]
async fn default_config_never_slows_s3_down() {
    let srv = Server::start();
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "no-limit").await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..150 {
        let (s3, bucket) = (s3.clone(), bucket.clone());
        tasks.spawn(async move {
            if i % 2 == 0 {
                s3.list_buckets()
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| format!("{e:?}"))
            } else {
                s3.head_bucket()
                    .bucket(&bucket)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| format!("{e:?}"))
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("task")
            .expect("no SlowDown without [limits] s3");
    }
}
