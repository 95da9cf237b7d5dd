//! RS256 bearer tokens on `/storage/`: the token's `sub` is an account, the same account an
//! account-level key names; everything else a token could be is refused with 401.

use std::path::PathBuf;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

use crate::api_accounts::{api, api_bucket_names, create_bucket_api, mint_key, owner_id, root, As};
use crate::harness::{assert_err, get_bytes, put, Server};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/jwt")
        .join(name)
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64
}

/// A server trusting the issuer's public key (PEM).
fn jwt_server() -> Server {
    Server::start_with_config(&format!(
        "[auth.jwt]\npublic_key = {:?}\n",
        fixture("issuer-public.pem")
    ))
}

/// Claims for `sub` valid for an hour.
fn claims(sub: &str) -> Value {
    json!({ "sub": sub, "iat": now(), "exp": now() + 3600 })
}

/// `claims` signed RS256 with a fixture private key, with an optional `kid`.
fn sign_with(private_pem: &str, kid: Option<&str>, claims: &Value) -> String {
    let pem = std::fs::read(fixture(private_pem)).expect("read private key");
    let key = EncodingKey::from_rsa_pem(&pem).expect("RSA private key");
    let mut header = Header::new(Algorithm::RS256);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, &key).expect("sign token")
}

/// A valid token for `sub`, signed by the trusted issuer.
fn token(sub: &str) -> String {
    sign_with("issuer-private.pem", None, &claims(sub))
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// `curl` to a presigned URL; returns (status, body).
fn curl_url(method: &str, url: &str, body: Option<&[u8]>) -> (u16, Vec<u8>) {
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "-o", "-", "-w", "\n%{http_code}", "-X", method]);
    let file;
    if let Some(b) = body {
        file = tempfile::NamedTempFile::new().expect("temp file");
        std::fs::write(file.path(), b).expect("write body");
        cmd.arg("--data-binary")
            .arg(format!("@{}", file.path().display()));
        // curl would send form-encoding otherwise; the URL signs no content type.
        cmd.args(["-H", "content-type:"]);
    }
    let out = cmd.arg(url).output().expect("run curl");
    let split = out
        .stdout
        .iter()
        .rposition(|b| *b == b'\n')
        .expect("status line");
    let status = String::from_utf8_lossy(&out.stdout[split + 1..])
        .trim()
        .parse()
        .expect("status");
    (status, out.stdout[..split].to_vec())
}

#[tokio::test]
async fn bearer_accounts_own_their_buckets_and_share_them_with_account_keys() {
    let srv = jwt_server();
    let (one, two) = (token("acct-one"), token("acct-two"));
    let b1 = srv.unique_bucket("jwt-one");
    let b2 = srv.unique_bucket("jwt-two");
    let made = create_bucket_api(&srv, As::Bearer(&one), &b1).expect(201);
    assert_eq!(made["name"], b1.as_str());
    create_bucket_api(&srv, As::Bearer(&two), &b2).expect(201);

    assert_eq!(api_bucket_names(&srv, As::Bearer(&one)), vec![b1.clone()]);
    assert_eq!(api_bucket_names(&srv, As::Bearer(&two)), vec![b2.clone()]);
    api(
        &srv,
        As::Bearer(&one),
        "GET",
        &format!("/storage/buckets/{b2}"),
        None,
        &[],
    )
    .expect_error(404);
    api(
        &srv,
        As::Bearer(&two),
        "DELETE",
        &format!("/storage/buckets/{b1}"),
        None,
        &[],
    )
    .expect_error(404);
    // Taken names stay taken across accounts.
    create_bucket_api(&srv, As::Bearer(&two), &b1).expect_error(409);
    // Root does not see account buckets in its own listing.
    assert!(!api_bucket_names(&srv, root(&srv)).contains(&b1));

    // Root mints a key for the same account name: same account, same buckets.
    let key = mint_key(&srv, root(&srv), Some("acct-one"));
    let s3 = srv.client_with(&key.id, &key.secret);
    let listed = s3.list_buckets().send().await.unwrap();
    let names: Vec<&str> = listed.buckets().iter().filter_map(|b| b.name()).collect();
    assert_eq!(names, vec![b1.as_str()]);
    assert_eq!(
        listed.owner().and_then(|o| o.id()),
        Some(owner_id("acct-one").as_str())
    );
    assert_eq!(
        listed.owner().and_then(|o| o.display_name()),
        Some("acct-one")
    );
    put(&s3, &b1, "via-key", b"from the key").await;
    let from_s3 = srv.bucket(&s3, "jwt-s3").await;
    let mut want = vec![b1.clone(), from_s3.clone()];
    want.sort();
    assert_eq!(api_bucket_names(&srv, As::Bearer(&one)), want);
    let b = api(
        &srv,
        As::Bearer(&one),
        "GET",
        &format!("/storage/buckets/{b1}"),
        None,
        &[],
    )
    .expect(200);
    assert_eq!(b["object_count"], 1);
    assert_eq!(b["size_bytes"], b"from the key".len());
    assert_err(
        s3.list_objects_v2().bucket(&b2).send().await,
        403,
        Some("AccessDenied"),
    );

    // A bearer caller mints keys for its own account only.
    let own = mint_key(&srv, As::Bearer(&two), None);
    assert_eq!(own.account, "acct-two");
    let s3_two = srv.client_with(&own.id, &own.secret);
    put(&s3_two, &b2, "mine", b"two").await;
    assert_eq!(get_bytes(&s3_two, &b2, "mine").await, b"two");
    let names: Vec<String> = s3_two
        .list_buckets()
        .send()
        .await
        .unwrap()
        .buckets()
        .iter()
        .filter_map(|b| b.name().map(str::to_owned))
        .collect();
    assert_eq!(names, vec![b2.clone()]);
    api(
        &srv,
        As::Bearer(&two),
        "POST",
        "/storage/access-keys",
        Some(r#"{"account":"acct-one"}"#),
        &[],
    )
    .expect_error(403);
    let listed = api(
        &srv,
        As::Bearer(&two),
        "GET",
        "/storage/access-keys",
        None,
        &[],
    )
    .expect(200);
    let ids: Vec<&str> = listed["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["access_key_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![own.id.as_str()]);
    // Bucket keys of its own buckets, too.
    api(
        &srv,
        As::Bearer(&two),
        "POST",
        &format!("/storage/buckets/{b2}/keys"),
        Some(r#"{"permission":"read"}"#),
        &[],
    )
    .expect(201);
}

#[tokio::test]
async fn bearer_callers_presign_with_the_buckets_own_presign_keys() {
    let srv = jwt_server();
    let one = token("acct-one");
    let bucket = srv.unique_bucket("jwt-presign");
    create_bucket_api(&srv, As::Bearer(&one), &bucket).expect(201);

    let presign = |body: &str| {
        api(
            &srv,
            As::Bearer(&one),
            "POST",
            &format!("/storage/buckets/{bucket}/presign"),
            Some(body),
            &[],
        )
        .expect(200)
    };
    let put_url = presign(r#"{"key":"doc.txt","method":"PUT","expires_in":600}"#);
    assert_eq!(put_url["method"], "PUT");
    let put_key = put_url["access_key_id"].as_str().unwrap().to_owned();
    let (status, body) = curl_url("PUT", put_url["url"].as_str().unwrap(), Some(b"presigned!"));
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));

    let get_url = presign(r#"{"key":"doc.txt","method":"GET"}"#);
    let key_id = get_url["access_key_id"].as_str().unwrap().to_owned();
    assert_ne!(key_id, put_key, "a read URL is signed by a read-only key");
    let head_url = presign(r#"{"key":"doc.txt","method":"HEAD"}"#);
    assert_eq!(
        head_url["access_key_id"].as_str(),
        Some(key_id.as_str()),
        "the same presign key signs again"
    );
    let url = get_url["url"].as_str().unwrap().to_owned();
    let (status, body) = curl_url("GET", &url, None);
    assert_eq!((status, body.as_slice()), (200, b"presigned!".as_slice()));

    // The keys are the bucket's, never the account's, listed without their secrets.
    let listed = api(
        &srv,
        As::Bearer(&one),
        "GET",
        &format!("/storage/buckets/{bucket}/keys"),
        None,
        &[],
    )
    .expect(200);
    let mut keys: Vec<(String, String, String)> = listed["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            assert!(k.get("secret_access_key").is_none());
            (
                k["access_key_id"].as_str().unwrap().to_owned(),
                k["name"].as_str().unwrap().to_owned(),
                k["permission"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    keys.sort_by(|a, b| a.1.cmp(&b.1));
    assert_eq!(
        keys,
        vec![
            (key_id.clone(), "presign-read".into(), "read".into()),
            (
                put_key.clone(),
                "presign-read-write".into(),
                "read-write".into()
            ),
        ],
        "{listed}"
    );
    let account_keys = api(
        &srv,
        As::Bearer(&one),
        "GET",
        "/storage/access-keys",
        None,
        &[],
    )
    .expect(200);
    assert_eq!(account_keys["keys"], json!([]));

    // Revoking it kills the URLs it signed.
    api(
        &srv,
        As::Bearer(&one),
        "DELETE",
        &format!("/storage/buckets/{bucket}/keys/{key_id}"),
        None,
        &[],
    )
    .expect(204);
    let (status, body) = curl_url("GET", &url, None);
    assert_eq!(status, 403, "{}", String::from_utf8_lossy(&body));
    assert!(String::from_utf8_lossy(&body).contains("InvalidAccessKeyId"));
    // The next presign mints a fresh key.
    let again = presign(r#"{"key":"doc.txt","method":"GET"}"#);
    assert_ne!(again["access_key_id"].as_str(), Some(key_id.as_str()));
    let (status, body) = curl_url("GET", again["url"].as_str().unwrap(), None);
    assert_eq!((status, body.as_slice()), (200, b"presigned!".as_slice()));
}

#[tokio::test]
async fn bad_tokens_are_refused_with_401() {
    let srv = jwt_server();
    // Sanity: a good token works, so every 401 below is the token's fault.
    api(
        &srv,
        As::Bearer(&token("acct-one")),
        "GET",
        "/storage/buckets",
        None,
        &[],
    )
    .expect(200);

    let public_pem = std::fs::read(fixture("issuer-public.pem")).unwrap();
    let hs256 = |secret: &[u8]| {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims("acct-one"),
            &EncodingKey::from_secret(secret),
        )
        .unwrap()
    };
    let alg_none = format!(
        "{}.{}.",
        b64(br#"{"alg":"none","typ":"JWT"}"#),
        b64(claims("acct-one").to_string().as_bytes())
    );
    // A valid token with its payload swapped for another account's.
    let good = token("acct-one");
    let mut parts: Vec<&str> = good.split('.').collect();
    let forged_payload = b64(claims("acct-two").to_string().as_bytes());
    parts[1] = &forged_payload;
    let tampered = parts.join(".");

    let t = now();
    let cases: Vec<(&str, String)> = vec![
        ("HS256 with a guessable secret", hs256(b"secret")),
        ("HS256 keyed with the public key", hs256(&public_pem)),
        ("alg none", alg_none),
        (
            "signed by an untrusted key",
            sign_with("other-private.pem", None, &claims("acct-one")),
        ),
        ("payload tampered", tampered),
        (
            "expired an hour ago",
            sign_with(
                "issuer-private.pem",
                None,
                &json!({"sub": "acct-one", "exp": t - 3600}),
            ),
        ),
        (
            "not valid for another hour",
            sign_with(
                "issuer-private.pem",
                None,
                &json!({"sub": "acct-one", "exp": t + 7200, "nbf": t + 3600}),
            ),
        ),
        (
            "no exp",
            sign_with("issuer-private.pem", None, &json!({"sub": "acct-one"})),
        ),
        (
            "no sub",
            sign_with("issuer-private.pem", None, &json!({"exp": t + 3600})),
        ),
        ("sub root", token("root")),
        ("sub with a space", token("a b")),
        ("empty sub", token("")),
        ("malformed", "not-a-jwt".to_owned()),
        ("three garbage parts", "a.b.c".to_owned()),
        ("empty", String::new()),
    ];
    for (what, tok) in &cases {
        let r = api(&srv, As::Bearer(tok), "GET", "/storage/buckets", None, &[]);
        assert_eq!(r.status, 401, "{what}: {}", r.json);
        assert!(
            r.json["error"].as_str().is_some_and(|m| !m.is_empty()),
            "{what}: {}",
            r.json
        );
        // Refused on a mutating route as well, with no side effect.
        let name = srv.unique_bucket("jwt-bad");
        let r = create_bucket_api(&srv, As::Bearer(tok), &name);
        assert_eq!(r.status, 401, "{what}: {}", r.json);
    }
    assert!(api_bucket_names(&srv, As::Bearer(&token("acct-two"))).is_empty());
    assert_eq!(
        api_bucket_names(&srv, As::Bearer(&good)),
        Vec::<String>::new()
    );

    // Within the 30 s leeway a just-expired token still works.
    let barely = sign_with(
        "issuer-private.pem",
        None,
        &json!({"sub": "acct-one", "exp": t - 5}),
    );
    api(
        &srv,
        As::Bearer(&barely),
        "GET",
        "/storage/buckets",
        None,
        &[],
    )
    .expect(200);

    // Without [auth.jwt], even a well-signed token is refused.
    let plain = Server::start();
    if plain.is_external() {
        return;
    }
    api(
        &plain,
        As::Bearer(&good),
        "GET",
        "/storage/buckets",
        None,
        &[],
    )
    .expect_error(401);
}

#[tokio::test]
async fn jwks_keys_are_chosen_by_kid() {
    let srv =
        Server::start_with_config(&format!("[auth.jwt]\njwks = {:?}\n", fixture("jwks.json")));
    let ok = sign_with("issuer-private.pem", Some("issuer-1"), &claims("acct-k"));
    let b = srv.unique_bucket("jwks");
    create_bucket_api(&srv, As::Bearer(&ok), &b).expect(201);
    assert_eq!(api_bucket_names(&srv, As::Bearer(&ok)), vec![b]);

    for (what, tok) in [
        (
            "unknown kid",
            sign_with("issuer-private.pem", Some("nope"), &claims("acct-k")),
        ),
        (
            "right kid, wrong key",
            sign_with("other-private.pem", Some("issuer-1"), &claims("acct-k")),
        ),
        (
            "no kid, untrusted key",
            sign_with("other-private.pem", None, &claims("acct-k")),
        ),
    ] {
        let r = api(&srv, As::Bearer(&tok), "GET", "/storage/buckets", None, &[]);
        assert_eq!(r.status, 401, "{what}: {}", r.json);
        assert!(r.json["error"].as_str().is_some(), "{what}: {}", r.json);
    }
}

#[tokio::test]
async fn issuer_and_audience_are_enforced_when_configured() {
    let srv = Server::start_with_config(&format!(
        "[auth.jwt]\npublic_key = {:?}\nissuer = \"https://id.example.test\"\naudience = \"cnx-storage\"\n",
        fixture("issuer-public.pem")
    ));
    let t = now();
    let with = |extra: Value| {
        let mut c = json!({"sub": "acct-i", "exp": t + 600});
        for (k, v) in extra.as_object().unwrap() {
            c[k] = v.clone();
        }
        sign_with("issuer-private.pem", None, &c)
    };
    let good = with(json!({"iss": "https://id.example.test", "aud": "cnx-storage"}));
    api(
        &srv,
        As::Bearer(&good),
        "GET",
        "/storage/buckets",
        None,
        &[],
    )
    .expect(200);
    let mut accepted = Vec::new();
    for (what, tok) in [
        ("no iss", with(json!({"aud": "cnx-storage"}))),
        (
            "wrong iss",
            with(json!({"iss": "https://evil.test", "aud": "cnx-storage"})),
        ),
        ("no aud", with(json!({"iss": "https://id.example.test"}))),
        (
            "wrong aud",
            with(json!({"iss": "https://id.example.test", "aud": "other"})),
        ),
    ] {
        let r = api(&srv, As::Bearer(&tok), "GET", "/storage/buckets", None, &[]);
        if r.status != 401 {
            accepted.push(format!("{what}: {} {}", r.status, r.json));
        }
    }
    assert!(
        accepted.is_empty(),
        "tokens accepted despite the configured issuer/audience: {accepted:#?}"
    );
}
