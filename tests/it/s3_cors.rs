//! Bucket CORS: Put/Get/DeleteBucketCors with aws-sdk-s3, the management API's `cors` setting,
//! preflight OPTIONS answered without credentials, and CORS headers on actual responses.

use aws_sdk_s3::types::{CorsConfiguration, CorsRule};
use serde_json::json;

use crate::api_bucket_keys::{api, client_of, denied, mint_bucket_key, root};
use crate::harness::{assert_err, put, raw_request, Server};

const PAGE: &str = "http://127.0.0.1:8000";

fn rule(origin: &str, methods: &[&str]) -> CorsRule {
    let mut b = CorsRule::builder()
        .allowed_origins(origin)
        .allowed_headers("*")
        .expose_headers("ETag")
        .max_age_seconds(600);
    for m in methods {
        b = b.allowed_methods(*m);
    }
    b.build().unwrap()
}

async fn preflight(
    srv: &Server,
    path: &str,
    origin: &str,
    method: &str,
    headers: Option<&str>,
) -> crate::harness::RawResponse {
    let mut h = vec![
        ("origin", origin),
        ("access-control-request-method", method),
    ];
    if let Some(x) = headers {
        h.push(("access-control-request-headers", x));
    }
    raw_request(
        "OPTIONS",
        &format!("{}{path}", srv.endpoint()),
        &h,
        Vec::new(),
    )
    .await
}

#[tokio::test]
async fn cors_configuration_round_trips_and_answers_preflights() {
    let srv = Server::start();
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "cors").await;

    assert_err(
        s3.get_bucket_cors().bucket(&bucket).send().await,
        404,
        Some("NoSuchCORSConfiguration"),
    );
    let r = preflight(&srv, &format!("/{bucket}/k"), PAGE, "GET", None).await;
    assert_eq!(r.status, 403, "no CORS configured: {}", r.text());
    assert_eq!(r.error_code().as_deref(), Some("AccessForbidden"));

    s3.put_bucket_cors()
        .bucket(&bucket)
        .cors_configuration(
            CorsConfiguration::builder()
                .cors_rules(rule(PAGE, &["GET", "PUT"]))
                .cors_rules(rule("*", &["GET"]))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let got = s3.get_bucket_cors().bucket(&bucket).send().await.unwrap();
    let rules = got.cors_rules();
    assert_eq!(rules.len(), 2);
    assert_eq!(rules[0].allowed_origins(), [PAGE]);
    assert_eq!(rules[0].allowed_methods(), ["GET", "PUT"]);
    assert_eq!(rules[0].expose_headers(), ["ETag"]);
    assert_eq!(rules[0].max_age_seconds(), Some(600));

    // A preflight needs no credentials and is answered from the first matching rule.
    let r = preflight(
        &srv,
        &format!("/{bucket}/some%20key"),
        PAGE,
        "PUT",
        Some("Content-Type, X-Amz-Meta-A"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("access-control-allow-origin"), Some(PAGE));
    assert_eq!(r.header("access-control-allow-methods"), Some("GET, PUT"));
    assert_eq!(
        r.header("access-control-allow-headers"),
        Some("content-type, x-amz-meta-a")
    );
    assert_eq!(r.header("access-control-max-age"), Some("600"));
    assert_eq!(r.header("access-control-expose-headers"), Some("ETag"));

    // Another origin may only GET, through the open rule.
    let r = preflight(
        &srv,
        &format!("/{bucket}/k"),
        "https://elsewhere.test",
        "GET",
        None,
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    let r = preflight(
        &srv,
        &format!("/{bucket}/k"),
        "https://elsewhere.test",
        "PUT",
        None,
    )
    .await;
    assert_eq!(r.status, 403);
    assert_eq!(r.error_code().as_deref(), Some("AccessForbidden"));

    // Malformed preflights and unknown buckets.
    let r = raw_request(
        "OPTIONS",
        &format!("{}/{bucket}/k", srv.endpoint()),
        &[("access-control-request-method", "GET")],
        Vec::new(),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text());
    let r = preflight(&srv, "/no-such-bucket-cors/k", PAGE, "GET", None).await;
    assert_eq!(r.status, 403);

    // Actual responses carry the headers, errors included, so a page can read them.
    put(&s3, &bucket, "k", b"hello").await;
    let r = raw_request(
        "GET",
        &format!("{}/{bucket}/k", srv.endpoint()),
        &[("origin", PAGE)],
        Vec::new(),
    )
    .await;
    assert_eq!(r.status, 403, "unsigned GET is refused: {}", r.text());
    assert_eq!(r.header("access-control-allow-origin"), Some(PAGE));
    assert_eq!(r.header("access-control-expose-headers"), Some("ETag"));
    let r = raw_request(
        "GET",
        &format!("{}/{bucket}/k", srv.endpoint()),
        &[("origin", "https://elsewhere.test")],
        Vec::new(),
    )
    .await;
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    let r = raw_request(
        "GET",
        &format!("{}/{bucket}/k", srv.endpoint()),
        &[],
        Vec::new(),
    )
    .await;
    assert_eq!(
        r.header("access-control-allow-origin"),
        None,
        "no Origin, no CORS"
    );

    s3.delete_bucket_cors()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    assert_err(
        s3.get_bucket_cors().bucket(&bucket).send().await,
        404,
        Some("NoSuchCORSConfiguration"),
    );
    let r = preflight(&srv, &format!("/{bucket}/k"), PAGE, "GET", None).await;
    assert_eq!(r.status, 403);
}

#[tokio::test]
async fn invalid_configurations_and_bucket_keys_are_refused() {
    let srv = Server::start();
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "corsbad").await;
    let err = s3
        .put_bucket_cors()
        .bucket(&bucket)
        .cors_configuration(
            CorsConfiguration::builder()
                .cors_rules(rule(PAGE, &["PATCH"]))
                .build()
                .unwrap(),
        )
        .send()
        .await;
    assert_err(err, 400, Some("InvalidRequest"));
    let err = s3
        .put_bucket_cors()
        .bucket(&bucket)
        .cors_configuration(
            CorsConfiguration::builder()
                .cors_rules(rule("http://*.*", &["GET"]))
                .build()
                .unwrap(),
        )
        .send()
        .await;
    assert_err(err, 400, Some("InvalidRequest"));

    // Bucket configuration belongs to the owner: a read-write bucket key may not touch it.
    let key = mint_bucket_key(&srv, &bucket, "read-write");
    let kc = client_of(&srv, &key);
    denied(kc.get_bucket_cors().bucket(&bucket).send().await);
    denied(
        kc.put_bucket_cors()
            .bucket(&bucket)
            .cors_configuration(
                CorsConfiguration::builder()
                    .cors_rules(rule("*", &["GET"]))
                    .build()
                    .unwrap(),
            )
            .send()
            .await,
    );
    denied(kc.delete_bucket_cors().bucket(&bucket).send().await);
}

#[tokio::test]
async fn management_patch_sets_the_same_rules() {
    let srv = Server::start();
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "corsapi").await;
    let path = format!("/storage/buckets/{bucket}");
    let rules = json!([{
        "allowed_origins": [PAGE],
        "allowed_methods": ["GET", "PUT"],
        "allowed_headers": ["*"],
        "expose_headers": ["ETag"],
        "max_age_seconds": 60
    }]);
    let (st, b) = api(
        &srv,
        &root(&srv),
        "PATCH",
        &path,
        Some(&json!({ "cors": rules })),
    );
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["cors"], rules);
    let (_, b) = api(&srv, &root(&srv), "GET", &path, None);
    assert_eq!(b["cors"], rules);
    let got = s3.get_bucket_cors().bucket(&bucket).send().await.unwrap();
    assert_eq!(got.cors_rules()[0].allowed_origins(), [PAGE]);
    let r = preflight(
        &srv,
        &format!("/{bucket}/k"),
        PAGE,
        "PUT",
        Some("content-type"),
    )
    .await;
    assert_eq!(r.status, 200);

    for bad in [
        json!({ "cors": [{ "allowed_origins": ["*"], "allowed_methods": ["PATCH"] }] }),
        json!({ "cors": [{ "allowed_origins": ["*"] }] }),
        json!({ "cors": [{ "allowed_origins": ["*"], "allowed_methods": ["GET"], "nope": 1 }] }),
        json!({ "cors": "yes" }),
        json!({ "cors": null, "versioning": "on" }),
    ] {
        let (st, e) = api(&srv, &root(&srv), "PATCH", &path, Some(&bad));
        assert_eq!(st, 400, "{bad}: {e}");
    }
    let (st, b) = api(
        &srv,
        &root(&srv),
        "PATCH",
        &path,
        Some(&json!({ "cors": null })),
    );
    assert_eq!(st, 200, "{b}");
    assert!(b["cors"].is_null());
    assert_err(
        s3.get_bucket_cors().bucket(&bucket).send().await,
        404,
        Some("NoSuchCORSConfiguration"),
    );
}
