//! Several gateways over one namespace: three `cnx-storage serve` processes over one private
//! PostgreSQL index and one blob store, which is a fourth cnx-storage reached as an S3
//! upstream. Requests are spread round-robin across the gateways; what one commits every
//! other sees at once, a conditional write has one winner, usage stays exact, a revoked key
//! is refused everywhere within a second, and a gateway killed mid-load loses nothing it
//! acknowledged.

use std::process::Command;
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use serde_json::{json, Value};

use crate::api_bucket_keys::{api, mint_bucket_key, revoke_bucket_key, root, unknown_key};
use crate::harness::{
    err_info, get_bytes, pattern, put, random_hex, upload_in_parts, wait_until_empty, Server,
    REGION,
};

/// The gateways, their shared index and blob store.
struct Cluster {
    gateways: Vec<Server>,
    /// The S3 upstream holding every gateway's blobs.
    upstream: Server,
    blob_bucket: String,
    meta_url: String,
}

impl Cluster {
    async fn start(n: usize) -> Cluster {
        let meta_url = cnx_storage::meta::pg::testing::fresh_database();
        let upstream = Server::start_with_config("");
        let blob_bucket = upstream.bucket(&upstream.client(), "gw-blobs").await;
        let config = format!(
            "[blob]\nbackend = \"s3\"\nbucket = \"{blob_bucket}\"\n\
             endpoint = \"http://{}\"\nregion = \"{REGION}\"\n\
             access_key_id = \"{}\"\nsecret_access_key = \"{}\"\nallow_http = true\n\
             [auth]\nmaster_key = \"{}\"\n",
            upstream.addr,
            upstream.access_key,
            upstream.secret_key,
            random_hex(32),
        );
        let ak = format!("AKGW{}", random_hex(8).to_uppercase());
        let sk = random_hex(20);
        let gateways = (0..n)
            .map(|_| Server::start_gateway(&meta_url, &config, (&ak, &sk)))
            .collect();
        Cluster {
            gateways,
            upstream,
            blob_bucket,
            meta_url,
        }
    }

    fn clients(&self) -> Vec<Client> {
        self.gateways.iter().map(Server::client).collect()
    }

    /// Rows of `table` in the shared index.
    async fn rows(&self, table: &str) -> i64 {
        let (client, conn) = tokio_postgres::connect(&self.meta_url, tokio_postgres::NoTls)
            .await
            .expect("connect to the index");
        tokio::spawn(conn);
        client
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .await
            .expect("count rows")
            .get(0)
    }
}

/// Every object of `bucket` (key, size), through all its listing pages.
async fn list_all(client: &Client, bucket: &str) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let page = client
            .list_objects_v2()
            .bucket(bucket)
            .set_continuation_token(token)
            .send()
            .await
            .expect("list");
        out.extend(page.contents().iter().map(|o| {
            (
                o.key().unwrap_or_default().to_owned(),
                o.size().unwrap_or(0) as u64,
            )
        }));
        token = page.next_continuation_token().map(str::to_owned);
        if token.is_none() {
            return out;
        }
    }
}

/// Sizes that cover an object kept in the index, one blob upstream, and a blob streamed
/// upstream as a multipart upload (over 8 MiB).
const SIZES: [usize; 3] = [1_000, 300_000, 9 << 20];

#[tokio::test]
async fn writes_are_read_and_listed_at_once_on_every_gateway() {
    let cluster = Cluster::start(3).await;
    let c = cluster.clients();
    let bucket = cluster.gateways[0].bucket(&c[0], "gw-raw").await;
    for (i, size) in SIZES.into_iter().enumerate() {
        let key = format!("obj-{i}");
        let data = pattern(size, i as u64);
        put(&c[i % 3], &bucket, &key, &data).await;
        // Read and listed through the two others, at once.
        for other in [(i + 1) % 3, (i + 2) % 3] {
            assert_eq!(
                get_bytes(&c[other], &bucket, &key).await,
                data,
                "{key} via {other}"
            );
            let listed = c[other]
                .list_objects_v2()
                .bucket(&bucket)
                .send()
                .await
                .expect("list");
            assert!(
                listed.contents().iter().any(|o| o.key() == Some(&key)),
                "{key} not listed via gateway {other}"
            );
        }
    }
    // Replaced through one gateway, read new through the others; deleted, gone everywhere.
    let newer = pattern(300_000, 99);
    put(&c[2], &bucket, "obj-1", &newer).await;
    assert_eq!(get_bytes(&c[0], &bucket, "obj-1").await, newer);
    c[1].delete_object()
        .bucket(&bucket)
        .key("obj-1")
        .send()
        .await
        .expect("delete");
    for client in &c {
        let gone = client
            .get_object()
            .bucket(&bucket)
            .key("obj-1")
            .send()
            .await;
        assert_eq!(err_info(gone).status, 404);
    }
    // The bytes live upstream, under opaque ids.
    let upstream = cluster.upstream.client();
    let held = upstream
        .list_objects_v2()
        .bucket(&cluster.blob_bucket)
        .send()
        .await
        .expect("list upstream");
    assert!(held.key_count().unwrap_or(0) >= 2, "{held:?}");
}

/// PUTs `key` through every gateway at once, each with `condition` set on its request and a
/// body of its own (`fill` + the gateway's number); returns each one's outcome (its number,
/// or the error status).
async fn put_through_all(
    c: &[Client],
    bucket: &str,
    key: &str,
    condition: (&str, &str),
    fill: u8,
    len: usize,
) -> Vec<Result<usize, Option<u16>>> {
    let tries = c.iter().enumerate().map(|(i, client)| {
        let put = client
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(ByteStream::from(vec![fill + i as u8; len]));
        let put = match condition {
            ("If-None-Match", v) => put.if_none_match(v),
            (_, v) => put.if_match(v),
        };
        async move {
            put.send()
                .await
                .map(|_| i)
                .map_err(|e| e.raw_response().map(|r| r.status().as_u16()))
        }
    });
    futures::future::join_all(tries).await
}

/// The one winner among `outcomes`; every loser was refused as S3 refuses a lost race.
#[track_caller]
fn one_winner(outcomes: &[Result<usize, Option<u16>>]) -> usize {
    let winners: Vec<usize> = outcomes
        .iter()
        .filter_map(|o| o.as_ref().ok().copied())
        .collect();
    assert_eq!(winners.len(), 1, "{outcomes:?}");
    for o in outcomes {
        if let Err(status) = o {
            assert!(matches!(status, Some(409 | 412)), "{outcomes:?}");
        }
    }
    winners[0]
}

#[tokio::test]
async fn racing_conditional_writes_have_one_winner() {
    let cluster = Cluster::start(3).await;
    let c = cluster.clients();
    let bucket = cluster.gateways[0].bucket(&c[0], "gw-race").await;
    for round in 0..8 {
        // Three creates of one key at once, one through each gateway.
        let key = format!("create-{round}");
        let created = put_through_all(&c, &bucket, &key, ("If-None-Match", "*"), 0, 100_000).await;
        let winner = one_winner(&created);
        let got = get_bytes(&c[(round + 1) % 3], &bucket, &key).await;
        assert_eq!(got, vec![winner as u8; 100_000], "round {round}");

        // Three replacements of that version at once (If-Match): one wins.
        let etag = c[0]
            .head_object()
            .bucket(&bucket)
            .key(&key)
            .send()
            .await
            .expect("head")
            .e_tag()
            .expect("etag")
            .to_owned();
        let replaced = put_through_all(&c, &bucket, &key, ("If-Match", &etag), 10, 1_000).await;
        let winner = one_winner(&replaced);
        let got = get_bytes(&c[round % 3], &bucket, &key).await;
        assert_eq!(got, vec![10 + winner as u8; 1_000], "round {round}");
    }
}

#[tokio::test]
async fn usage_is_exact_under_writes_on_every_gateway() {
    let cluster = Cluster::start(3).await;
    let c = cluster.clients();
    let bucket = cluster.gateways[0].bucket(&c[0], "gw-usage").await;
    // Each gateway writes keys of its own and keys every gateway writes, replacing each
    // other's, some deleted after.
    let work = (0..3).map(|g| {
        let (client, bucket) = (c[g].clone(), bucket.clone());
        async move {
            for i in 0..24 {
                let key = match i % 3 {
                    0 => format!("shared-{}", i % 6),
                    _ => format!("own-{g}-{i}"),
                };
                let size = 500 + (g * 7_919 + i * 104_729) % 40_000;
                client
                    .put_object()
                    .bucket(&bucket)
                    .key(&key)
                    .body(ByteStream::from(pattern(size, i as u64)))
                    .send()
                    .await
                    .expect("put");
                if i % 5 == 4 {
                    client
                        .delete_object()
                        .bucket(&bucket)
                        .key(&key)
                        .send()
                        .await
                        .expect("delete");
                }
            }
        }
    });
    futures::future::join_all(work).await;
    let listed = list_all(&c[1], &bucket).await;
    let objects = listed.len() as u64;
    let bytes: u64 = listed.iter().map(|(_, size)| *size).sum();
    for g in &cluster.gateways {
        let (st, b) = api(
            g,
            &root(g),
            "GET",
            &format!("/storage/buckets/{bucket}"),
            None,
        );
        assert_eq!(st, 200, "{b}");
        assert_eq!(b["object_count"], json!(objects), "{b}");
        assert_eq!(b["size_bytes"], json!(bytes), "{b}");
    }
}

#[tokio::test]
async fn a_multipart_upload_spans_gateways() {
    let cluster = Cluster::start(3).await;
    let c = cluster.clients();
    let bucket = cluster.gateways[0].bucket(&c[0], "gw-mpu").await;
    // Part 1 through gateway 1, part 2 through gateway 2, part 3 through gateway 0; created
    // and completed through gateway 0.
    let parts = [pattern(5 << 20, 1), pattern(5 << 20, 2)].concat();
    let data = [parts, pattern(1_234, 3)].concat();
    upload_in_parts(|n| &c[n % 3], &bucket, "big", &data, 5 << 20).await;
    assert_eq!(get_bytes(&c[2], &bucket, "big").await, data);
}

/// `curl` a management route with an `Idempotency-Key`; (status, JSON body).
fn post_idempotent(srv: &Server, path: &str, key: &str, body: &Value) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-s", "-o", "-", "-w", "\n%{http_code}", "-X", "POST"])
        .args([
            "--aws-sigv4",
            "aws:amz:in-mum:cloudnx",
            "--user",
            &format!("{}:{}", srv.access_key, srv.secret_key),
        ])
        .args(["-H", "content-type: application/json"])
        .args(["-H", &format!("Idempotency-Key: {key}")])
        .args(["--data-binary", &body.to_string()])
        .arg(format!("{}{path}", srv.endpoint()))
        .output()
        .expect("run curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (json, status) = text.rsplit_once('\n').expect("status line");
    (status.parse().expect("status"), json.to_owned())
}

#[tokio::test]
async fn an_idempotent_retry_on_another_gateway_replays() {
    let cluster = Cluster::start(3).await;
    let g = &cluster.gateways;
    let name = g[0].unique_bucket("gw-idem");
    let key = random_hex(8);
    let body = json!({ "name": name });
    let first = post_idempotent(&g[0], "/storage/buckets", &key, &body);
    assert_eq!(first.0, 201, "{}", first.1);
    // The retry lands elsewhere: the same reply, and no second bucket.
    let again = post_idempotent(&g[1], "/storage/buckets", &key, &body);
    assert_eq!(again, first);
    // A different request under the key is refused, on a third gateway.
    let other = json!({ "name": g[0].unique_bucket("gw-idem-other") });
    let (st, e) = post_idempotent(&g[2], "/storage/buckets", &key, &other);
    assert_eq!(st, 422, "{e}");
    // Minting a key under one Idempotency-Key gives one key, wherever the retry goes.
    let mint = json!({ "permission": "read" });
    let path = format!("/storage/buckets/{name}/keys");
    let key = random_hex(8);
    let minted = post_idempotent(&g[2], &path, &key, &mint);
    assert_eq!(minted.0, 201, "{}", minted.1);
    assert_eq!(post_idempotent(&g[0], &path, &key, &mint), minted);
    // The same mint sent to every gateway at once: it runs once; the others are told it is
    // in progress (409) or get its reply.
    let key = random_hex(8);
    let replies: Vec<(u16, String)> = std::thread::scope(|s| {
        let sent: Vec<_> = g
            .iter()
            .map(|gw| s.spawn(|| post_idempotent(gw, &path, &key, &mint)))
            .collect();
        sent.into_iter().map(|t| t.join().expect("curl")).collect()
    });
    let created: Vec<&(u16, String)> = replies.iter().filter(|r| r.0 == 201).collect();
    assert!(!created.is_empty(), "{replies:?}");
    assert!(created.iter().all(|r| *r == created[0]), "{replies:?}");
    assert!(
        replies.iter().all(|r| [201, 409].contains(&r.0)),
        "{replies:?}"
    );
    let (st, keys) = api(&g[1], &root(&g[1]), "GET", &path, None);
    assert_eq!(st, 200, "{keys}");
    assert_eq!(keys["keys"].as_array().map(Vec::len), Some(2), "{keys}");
}

#[tokio::test]
async fn revocation_and_bucket_deletion_reach_every_gateway_within_a_second() {
    let cluster = Cluster::start(3).await;
    let g = &cluster.gateways;
    let c = cluster.clients();
    let bucket = g[0].bucket(&c[0], "gw-revoke").await;
    put(&c[0], &bucket, "obj", b"data").await;
    let (id, secret) = mint_bucket_key(&g[0], &bucket, "read");
    // Used through every gateway first, so each holds it unsealed in memory.
    let keyed: Vec<Client> = g.iter().map(|s| s.client_with(&id, &secret)).collect();
    for k in &keyed {
        assert_eq!(get_bytes(k, &bucket, "obj").await, b"data");
    }
    revoke_bucket_key(&g[1], &bucket, &id);
    let revoked = Instant::now();
    // Refused through the gateway that revoked it at once, through the others within 1 s.
    unknown_key(
        keyed[1]
            .get_object()
            .bucket(&bucket)
            .key("obj")
            .send()
            .await,
    );
    tokio::time::sleep(Duration::from_secs(1).saturating_sub(revoked.elapsed())).await;
    for k in [&keyed[0], &keyed[2]] {
        unknown_key(k.get_object().bucket(&bucket).key("obj").send().await);
    }

    // A bucket deleted through one gateway is gone through every other at once, and its
    // keys with it.
    let doomed = g[0].bucket(&c[0], "gw-doomed").await;
    let (id, secret) = mint_bucket_key(&g[0], &doomed, "read");
    let keyed: Vec<Client> = g.iter().map(|s| s.client_with(&id, &secret)).collect();
    for k in &keyed {
        k.list_objects_v2()
            .bucket(&doomed)
            .send()
            .await
            .expect("list with the bucket key");
    }
    c[2].delete_bucket()
        .bucket(&doomed)
        .send()
        .await
        .expect("delete bucket");
    let deleted = Instant::now();
    for client in &c {
        let gone = client.head_bucket().bucket(&doomed).send().await;
        assert_eq!(err_info(gone).status, 404);
    }
    tokio::time::sleep(Duration::from_secs(1).saturating_sub(deleted.elapsed())).await;
    for k in &keyed {
        unknown_key(k.list_objects_v2().bucket(&doomed).send().await);
    }
}

#[tokio::test]
async fn a_gateway_killed_mid_load_loses_nothing_acknowledged() {
    let mut cluster = Cluster::start(3).await;
    let c = cluster.clients();
    let bucket = cluster.gateways[0].bucket(&c[0], "gw-kill").await;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Four writers, each sending its PUTs round-robin across the gateways.
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (c, bucket, stop) = (c.clone(), bucket.clone(), stop.clone());
            tokio::spawn(async move {
                let (mut acked, mut tried) = (Vec::new(), Vec::new());
                let mut i = 0usize;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let key = format!("w{w}-{i:05}");
                    let data = pattern(20_000 + (i * 37) % 200_000, (w * 100_000 + i) as u64);
                    tried.push(key.clone());
                    let sent = c[(w + i) % 3]
                        .put_object()
                        .bucket(&bucket)
                        .key(&key)
                        .body(ByteStream::from(data.clone()))
                        .send()
                        .await;
                    if sent.is_ok() {
                        acked.push((key, data));
                    }
                    i += 1;
                }
                (acked, tried)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    cluster.gateways[2].kill9();
    // Usually the killed gateway was writing a blob or two (the count includes the others').
    eprintln!(
        "staged right after the kill: {}",
        cluster.rows("staged").await
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (mut acked, mut tried) = (Vec::new(), std::collections::BTreeSet::new());
    for w in writers {
        let (a, t) = w.await.expect("writer");
        acked.extend(a);
        tried.extend(t);
    }
    assert!(
        acked.len() > 20,
        "too little load: {} acknowledged",
        acked.len()
    );
    // Every acknowledged write reads back whole through both survivors...
    for (key, data) in &acked {
        for client in &c[..2] {
            assert_eq!(&get_bytes(client, &bucket, key).await, data, "{key}");
        }
    }
    // ...and the listing holds nothing that was never tried.
    let listed: Vec<String> = list_all(&c[1], &bucket)
        .await
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    for (key, _) in &acked {
        assert!(listed.contains(key), "{key} acknowledged but not listed");
    }
    for key in &listed {
        assert!(tried.contains(key), "{key} listed but never written");
    }
    // What the killed gateway was writing is reclaimed by a survivor: nothing stays staged.
    let deadline = Instant::now() + Duration::from_secs(20);
    while cluster.rows("staged").await > 0 {
        assert!(
            Instant::now() < deadline,
            "the killed gateway's staged blobs were never reclaimed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The survivors go on.
    put(&c[0], &bucket, "after", b"still here").await;
    assert_eq!(get_bytes(&c[1], &bucket, "after").await, b"still here");
}

#[tokio::test]
async fn a_long_read_on_one_gateway_outlives_a_replace_and_the_sweeps_of_the_others() {
    let cluster = Cluster::start(3).await;
    let c = cluster.clients();
    let bucket = cluster.gateways[0].bucket(&c[0], "gw-lease").await;
    // Four 5 MiB parts: four blobs upstream, each opened when the read reaches it, long
    // after the socket buffers filled.
    let data = pattern(20 << 20, 7);
    upload_in_parts(|_| &c[1], &bucket, "big", &data, 5 << 20).await;
    let mut read = c[0]
        .get_object()
        .bucket(&bucket)
        .key("big")
        .send()
        .await
        .expect("get");
    let mut got = read
        .body
        .try_next()
        .await
        .expect("first bytes")
        .unwrap_or_default()
        .to_vec();
    // Replaced through another gateway: the old blobs are queued, due after the 15 s grace,
    // and the other gateways sweep every 10 s; the reader's gateway leased them meanwhile.
    put(&c[2], &bucket, "big", b"replaced").await;
    tokio::time::sleep(Duration::from_secs(24)).await;
    while let Some(chunk) = read.body.try_next().await.expect("the read keeps flowing") {
        got.extend_from_slice(&chunk);
    }
    assert!(
        got == data,
        "read cut short at {} of {} bytes",
        got.len(),
        data.len()
    );
    assert_eq!(get_bytes(&c[1], &bucket, "big").await, b"replaced");
    // Once the read is over its lease goes, and so do the replaced blobs.
    let upstream = cluster.upstream.client();
    let blobs = &cluster.blob_bucket;
    wait_until_empty(&upstream, blobs, Duration::from_secs(60), "replaced blobs").await;
}
