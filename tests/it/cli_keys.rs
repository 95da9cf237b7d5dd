//! `cnx-storage keys …` and `cnx-storage access-keys …`: the real binary against a running
//! server, and on the data dir of a stopped one; the keys it prints are used with aws-sdk-s3.

use std::process::Output;
use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use serde_json::Value;

use crate::api_bucket_keys::{api, creds_of, denied, root, unknown_key, Creds};
use crate::harness::{get_bytes, put, Server, REGION};

/// An endpoint where nothing listens (port 1 is never bound by the tests).
const NOWHERE: &str = "http://127.0.0.1:1";

/// Runs `cnx-storage GROUP --endpoint E --data-dir D ARGS…` with the server's root credentials.
fn cli(srv: &Server, endpoint: &str, group: &str, args: &[&str]) -> Output {
    srv.command()
        .arg(group)
        .arg("--endpoint")
        .arg(endpoint)
        .arg("--data-dir")
        .arg(srv.data_dir())
        .args(args)
        .env("CNX_ROOT_ACCESS_KEY", &srv.access_key)
        .env("CNX_ROOT_SECRET_KEY", &srv.secret_key)
        .env("CNX_REGION", REGION)
        .env("RUST_LOG", "warn")
        .env_remove("CNX_CONFIG")
        .env_remove("CNX_LISTEN")
        .env_remove("CNX_DATA_DIR")
        .env_remove("CNX_MASTER_KEY")
        .output()
        .expect("run cnx-storage")
}

/// Asserts success and returns stdout as JSON (`Null` when empty).
#[track_caller]
fn ok_json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    if text.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("stdout not JSON ({e}): {text}"))
    }
}

/// Asserts exit code 1 with `error: …` on stderr; returns stderr.
#[track_caller]
fn failed(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(1),
        "stdout: {}\nstderr: {stderr}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(stderr.contains("error:"), "{stderr}");
    stderr
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn ids(list: &Value) -> Vec<String> {
    list["keys"]
        .as_array()
        .unwrap_or_else(|| panic!("keys array in {list}"))
        .iter()
        .map(|k| k["access_key_id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn bucket_keys_against_a_running_server() {
    let srv = Server::start();
    if srv.skip_external("runs the cnx-storage binary on the server's data dir") {
        return;
    }
    let ep = srv.endpoint();
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "cli-keys").await;
    put(&s3, &bucket, "obj", b"from root").await;

    let out = cli(
        &srv,
        &ep,
        "keys",
        &[
            "create",
            "--bucket",
            &bucket,
            "--permission",
            "read-write",
            "--name",
            "cli made",
        ],
    );
    let rw = ok_json(&out);
    assert_eq!(rw["bucket"], bucket.as_str());
    assert_eq!(rw["permission"], "read-write");
    assert_eq!(rw["name"], "cli made");
    let rw_creds = creds_of(&rw);
    assert!(
        !stderr(&out).contains("worked on"),
        "a running server is called, not the data dir: {}",
        stderr(&out)
    );
    let rw_s3 = srv.client_with(&rw_creds.0, &rw_creds.1);
    assert_eq!(get_bytes(&rw_s3, &bucket, "obj").await, b"from root");
    put(&rw_s3, &bucket, "by-cli-key", b"written").await;
    assert_eq!(get_bytes(&s3, &bucket, "by-cli-key").await, b"written");
    denied(rw_s3.list_buckets().send().await);

    let expires = crate::api_bucket_keys::rfc3339_in(3600);
    let ro = ok_json(&cli(
        &srv,
        &ep,
        "keys",
        &[
            "create",
            "--bucket",
            &bucket,
            "--permission",
            "read",
            "--expires-at",
            &expires,
        ],
    ));
    assert_eq!(ro["permission"], "read");
    assert!(ro["expires_at"].is_string(), "{ro}");
    let ro_creds = creds_of(&ro);
    let ro_s3 = srv.client_with(&ro_creds.0, &ro_creds.1);
    assert_eq!(get_bytes(&ro_s3, &bucket, "by-cli-key").await, b"written");
    denied(
        ro_s3
            .put_object()
            .bucket(&bucket)
            .key("x")
            .body(ByteStream::from_static(b"x"))
            .send()
            .await,
    );

    // The CLI's keys are the API's keys.
    let list = ok_json(&cli(&srv, &ep, "keys", &["list", "--bucket", &bucket]));
    let mut listed = ids(&list);
    listed.sort();
    let mut want = vec![rw_creds.0.clone(), ro_creds.0.clone()];
    want.sort();
    assert_eq!(listed, want);
    assert!(!list.to_string().contains("secret"), "{list}");
    let (st, api_list) = api(
        &srv,
        &root(&srv),
        "GET",
        &format!("/storage/buckets/{bucket}/keys"),
        None,
    );
    assert_eq!(st, 200);
    let mut api_ids = ids(&api_list);
    api_ids.sort();
    assert_eq!(api_ids, want);

    // Revoke: nothing on stdout, and the key is dead on the next request.
    let out = cli(
        &srv,
        &ep,
        "keys",
        &["revoke", "--bucket", &bucket, &rw_creds.0],
    );
    assert_eq!(ok_json(&out), Value::Null);
    unknown_key(rw_s3.get_object().bucket(&bucket).key("obj").send().await);
    assert_eq!(
        ids(&ok_json(&cli(
            &srv,
            &ep,
            "keys",
            &["list", "--bucket", &bucket]
        ))),
        [ro_creds.0.as_str()]
    );
    // Revoking it again: 404.
    let err = failed(&cli(
        &srv,
        &ep,
        "keys",
        &["revoke", "--bucket", &bucket, &rw_creds.0],
    ));
    assert!(err.contains("404"), "{err}");
}

#[tokio::test]
async fn cli_errors_exit_1() {
    let srv = Server::start();
    if srv.skip_external("runs the cnx-storage binary on the server's data dir") {
        return;
    }
    let ep = srv.endpoint();
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "cli-err").await;
    let missing = srv.unique_bucket("cli-missing");

    for args in [
        vec![
            "create",
            "--bucket",
            missing.as_str(),
            "--permission",
            "read",
        ],
        vec!["list", "--bucket", missing.as_str()],
        vec![
            "revoke",
            "--bucket",
            missing.as_str(),
            "CNXNOSUCHKEY000000000",
        ],
        vec![
            "revoke",
            "--bucket",
            bucket.as_str(),
            "CNXNOSUCHKEY000000000",
        ],
    ] {
        let err = failed(&cli(&srv, &ep, "keys", &args));
        assert!(err.contains("404"), "{args:?}: {err}");
    }
    for args in [
        vec![
            "create",
            "--bucket",
            bucket.as_str(),
            "--permission",
            "write",
        ],
        vec![
            "create",
            "--bucket",
            bucket.as_str(),
            "--permission",
            "read",
            "--expires-at",
            "2001-01-01T00:00:00Z",
        ],
    ] {
        let err = failed(&cli(&srv, &ep, "keys", &args));
        assert!(err.contains("400"), "{args:?}: {err}");
    }
    let err = failed(&cli(
        &srv,
        &ep,
        "access-keys",
        &["revoke", "CNXNOSUCHKEY000000000"],
    ));
    assert!(err.contains("404"), "{err}");

    // Wrong root credentials: the server refuses them.
    let out = srv
        .command()
        .args(["keys", "--endpoint", &ep, "--data-dir"])
        .arg(srv.data_dir())
        .args(["list", "--bucket", &bucket])
        .env("CNX_ROOT_ACCESS_KEY", &srv.access_key)
        .env("CNX_ROOT_SECRET_KEY", "not-the-secret")
        .env("CNX_REGION", REGION)
        .env_remove("CNX_CONFIG")
        .env_remove("CNX_LISTEN")
        .env_remove("CNX_DATA_DIR")
        .output()
        .unwrap();
    let err = failed(&out);
    assert!(err.contains("401"), "{err}");

    let offline = cli(
        &srv,
        NOWHERE,
        "keys",
        &["create", "--bucket", &bucket, "--permission", "read"],
    );
    let minted = if srv.meta_url().is_some() {
        // A PostgreSQL index is shared: the command works on it as one more gateway would,
        // and the server sees the key at once.
        vec![ok_json(&offline)["access_key_id"]
            .as_str()
            .unwrap()
            .to_owned()]
    } else {
        // No server at the endpoint while one holds the data dir: refused, with a hint, and
        // nothing minted behind the server's back.
        let err = failed(&offline);
        assert!(err.contains("--endpoint"), "{err}");
        Vec::new()
    };
    let (st, list) = api(
        &srv,
        &root(&srv),
        "GET",
        &format!("/storage/buckets/{bucket}/keys"),
        None,
    );
    assert_eq!(st, 200);
    assert_eq!(ids(&list), minted);
}

#[tokio::test]
async fn access_keys_against_a_running_server() {
    let srv = Server::start();
    if srv.skip_external("runs the cnx-storage binary on the server's data dir") {
        return;
    }
    let ep = srv.endpoint();
    let s3 = srv.client();
    let root_bucket = srv.bucket(&s3, "cli-root").await;

    let bob = ok_json(&cli(
        &srv,
        &ep,
        "access-keys",
        &["create", "--account", "bob", "--name", "bob's laptop"],
    ));
    assert_eq!(bob["account"], "bob");
    assert_eq!(bob["name"], "bob's laptop");
    let bob_creds: Creds = creds_of(&bob);
    let bob_s3 = srv.client_with(&bob_creds.0, &bob_creds.1);
    let bob_bucket = srv.bucket(&bob_s3, "cli-bob").await;
    put(&bob_s3, &bob_bucket, "b", b"bob's").await;
    let names: Vec<_> = bob_s3
        .list_buckets()
        .send()
        .await
        .unwrap()
        .buckets()
        .iter()
        .filter_map(|b| b.name().map(str::to_owned))
        .collect();
    assert_eq!(names, [bob_bucket.as_str()]);
    denied(bob_s3.list_objects_v2().bucket(&root_bucket).send().await);

    // Root's own account key (no --account) acts as root.
    let own = ok_json(&cli(&srv, &ep, "access-keys", &["create"]));
    assert_eq!(own["account"], "root");
    let own_creds = creds_of(&own);
    let own_s3 = srv.client_with(&own_creds.0, &own_creds.1);
    put(&own_s3, &root_bucket, "r", b"root's").await;

    let all = ok_json(&cli(&srv, &ep, "access-keys", &["list"]));
    let all_ids = ids(&all);
    assert!(
        all_ids.contains(&bob_creds.0) && all_ids.contains(&own_creds.0),
        "{all}"
    );
    assert!(!all.to_string().contains(&bob_creds.1), "{all}");
    let only_bob = ok_json(&cli(
        &srv,
        &ep,
        "access-keys",
        &["list", "--account", "bob"],
    ));
    assert_eq!(ids(&only_bob), [bob_creds.0.as_str()]);

    let err = failed(&cli(
        &srv,
        &ep,
        "access-keys",
        &["create", "--account", "no spaces allowed"],
    ));
    assert!(err.contains("400"), "{err}");

    let out = cli(&srv, &ep, "access-keys", &["revoke", &bob_creds.0]);
    assert_eq!(ok_json(&out), Value::Null);
    unknown_key(bob_s3.list_buckets().send().await);
    assert_eq!(
        ids(&ok_json(&cli(
            &srv,
            &ep,
            "access-keys",
            &["list", "--account", "bob"]
        ))),
        Vec::<String>::new()
    );
    // Bob's bucket is still there, for root to see it is not root's.
    put(&own_s3, &root_bucket, "r2", b"still root").await;
}

#[tokio::test]
async fn keys_on_the_data_dir_of_a_stopped_server() {
    let mut srv = Server::start();
    if srv.skip_external("stops the server and opens its data dir") {
        return;
    }
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "cli-offline").await;
    put(&s3, &bucket, "obj", b"made online").await;
    let online = ok_json(&cli(
        &srv,
        &srv.endpoint(),
        "keys",
        &["create", "--bucket", &bucket, "--permission", "read"],
    ));
    let online_creds = creds_of(&online);

    srv.sigterm();
    let status = srv
        .wait_exit(Duration::from_secs(30))
        .expect("server exits on SIGTERM");
    assert!(status.success(), "{status:?}");

    let out = cli(
        &srv,
        NOWHERE,
        "keys",
        &[
            "create",
            "--bucket",
            &bucket,
            "--permission",
            "read-write",
            "--name",
            "offline",
        ],
    );
    let offline = ok_json(&out);
    let err = stderr(&out);
    assert!(
        err.contains("worked on") && err.contains(&srv.data_dir().display().to_string()),
        "stderr must say the data dir was used: {err}"
    );
    assert_eq!(offline["bucket"], bucket.as_str());
    assert_eq!(offline["name"], "offline");
    let offline_creds = creds_of(&offline);

    // The data dir answers the other commands too.
    let list = ok_json(&cli(&srv, NOWHERE, "keys", &["list", "--bucket", &bucket]));
    let mut listed = ids(&list);
    listed.sort();
    let mut want = vec![online_creds.0.clone(), offline_creds.0.clone()];
    want.sort();
    assert_eq!(listed, want);
    assert!(!list.to_string().contains(&offline_creds.1), "{list}");
    let acct = ok_json(&cli(
        &srv,
        NOWHERE,
        "access-keys",
        &["create", "--account", "dora"],
    ));
    let acct_creds = creds_of(&acct);
    let doomed = ok_json(&cli(
        &srv,
        NOWHERE,
        "keys",
        &["create", "--bucket", &bucket, "--permission", "read"],
    ));
    let doomed_creds = creds_of(&doomed);
    assert_eq!(
        ok_json(&cli(
            &srv,
            NOWHERE,
            "keys",
            &["revoke", "--bucket", &bucket, &doomed_creds.0],
        )),
        Value::Null
    );
    // Offline errors exit 1 as well.
    let missing = srv.unique_bucket("cli-missing");
    let err = failed(&cli(
        &srv,
        NOWHERE,
        "keys",
        &["create", "--bucket", &missing, "--permission", "read"],
    ));
    assert!(err.contains("404"), "{err}");
    let err = failed(&cli(
        &srv,
        NOWHERE,
        "keys",
        &["create", "--bucket", &bucket, "--permission", "all"],
    ));
    assert!(err.contains("400"), "{err}");

    srv.restart();
    let rw = srv.client_with(&offline_creds.0, &offline_creds.1);
    assert_eq!(get_bytes(&rw, &bucket, "obj").await, b"made online");
    put(&rw, &bucket, "offline-key", b"written with the offline key").await;
    let ro = srv.client_with(&online_creds.0, &online_creds.1);
    assert_eq!(
        get_bytes(&ro, &bucket, "offline-key").await,
        b"written with the offline key"
    );
    let dora = srv.client_with(&acct_creds.0, &acct_creds.1);
    let dora_bucket = srv.bucket(&dora, "cli-dora").await;
    put(&dora, &dora_bucket, "d", b"dora").await;
    let doomed_s3 = srv.client_with(&doomed_creds.0, &doomed_creds.1);
    unknown_key(
        doomed_s3
            .get_object()
            .bucket(&bucket)
            .key("obj")
            .send()
            .await,
    );
    // The running server lists what was done offline.
    let (st, list) = api(
        &srv,
        &root(&srv),
        "GET",
        &format!("/storage/buckets/{bucket}/keys"),
        None,
    );
    assert_eq!(st, 200);
    let mut listed = ids(&list);
    listed.sort();
    assert_eq!(listed, want);
}

/// Mints an account key for `account` through the management API.
async fn mint_account_key(srv: &Server, account: &str) {
    let body = serde_json::json!({ "account": account }).to_string();
    let r = crate::harness::root_request(
        srv,
        "POST",
        "/storage/access-keys",
        &[("content-type", "application/json")],
        body,
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listings_past_one_page_are_whole_online_and_offline() {
    let mut srv = Server::start();
    if srv.skip_external("runs the cnx-storage binary on the server's data dir") {
        return;
    }
    // More than one 1,000-key page.
    let n = 1003;
    let srv_ref = &srv;
    use futures::StreamExt as _;
    futures::stream::iter(0..n)
        .for_each_concurrent(8, |_| mint_account_key(srv_ref, "many"))
        .await;
    let ep = srv.endpoint();
    let online = ok_json(&cli(
        &srv,
        &ep,
        "access-keys",
        &["list", "--account", "many"],
    ));
    let online_ids = ids(&online);
    assert_eq!(online_ids.len(), n, "online listing stopped at a page");
    assert!(online["next_cursor"].is_null());

    tokio::task::block_in_place(|| srv.sigterm());
    tokio::task::block_in_place(|| srv.wait_exit(Duration::from_secs(20)));
    let offline = ok_json(&cli(
        &srv,
        NOWHERE,
        "access-keys",
        &["list", "--account", "many"],
    ));
    assert_eq!(
        ids(&offline),
        online_ids,
        "online and offline list the same keys"
    );
}
