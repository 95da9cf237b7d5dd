//! The shared list of keys that break servers (s3-compat/keys/hard-keys.json), round-tripped
//! with aws-sdk-s3: put, list (plain and `encoding-type=url`), get, copy, presigned GET, delete.

use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::EncodingType;

use crate::harness::{get_bytes, raw_presigned, url_decode, url_encode_path, Server};

fn hard_keys() -> Vec<(String, String)> {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("s3-compat/keys/hard-keys.json");
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    doc["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["name"].as_str().unwrap().to_owned(),
                k["key"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn hard_keys_round_trip() {
    let srv = Server::start();
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "hardkeys").await;
    let keys = hard_keys();
    assert!(keys.len() >= 20);
    for (name, key) in &keys {
        let body = format!("body of {name}").into_bytes();
        s3.put_object()
            .bucket(&bucket)
            .key(key)
            .metadata("name", name)
            .body(ByteStream::from(body.clone()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{name}: put: {e:?}"));

        let plain = s3.list_objects_v2().bucket(&bucket).send().await.unwrap();
        let listed: Vec<&str> = plain.contents().iter().filter_map(|o| o.key()).collect();
        assert_eq!(listed, [key.as_str()], "{name}: plain listing");
        let encoded = s3
            .list_objects_v2()
            .bucket(&bucket)
            .encoding_type(EncodingType::Url)
            .send()
            .await
            .unwrap();
        let listed: Vec<String> = encoded
            .contents()
            .iter()
            .filter_map(|o| o.key())
            .map(url_decode)
            .collect();
        assert_eq!(
            listed,
            std::slice::from_ref(key),
            "{name}: url-encoded listing"
        );

        assert_eq!(get_bytes(&s3, &bucket, key).await, body, "{name}: get");
        let head = s3
            .head_object()
            .bucket(&bucket)
            .key(key)
            .send()
            .await
            .unwrap();
        assert_eq!(
            head.metadata().and_then(|m| m.get("name")),
            Some(name),
            "{name}: metadata"
        );

        let copy = if key.len() < 1019 {
            format!("{key}.copy")
        } else {
            format!("{}-copy", &key[..key.len() - 10])
        };
        s3.copy_object()
            .bucket(&bucket)
            .key(&copy)
            .copy_source(format!("{bucket}/{}", url_encode_path(key)))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{name}: copy: {e:?}"));
        assert_eq!(get_bytes(&s3, &bucket, &copy).await, body, "{name}: copy");

        let presigned = s3
            .get_object()
            .bucket(&bucket)
            .key(key)
            .presigned(PresigningConfig::expires_in(Duration::from_secs(300)).unwrap())
            .await
            .unwrap();
        let r = raw_presigned(&presigned, &[], Vec::new()).await;
        assert_eq!(r.status, 200, "{name}: presigned GET: {}", r.text());
        assert_eq!(r.body.as_ref(), body.as_slice(), "{name}: presigned body");

        for k in [key.as_str(), copy.as_str()] {
            s3.delete_object()
                .bucket(&bucket)
                .key(k)
                .send()
                .await
                .unwrap();
        }
        let left = s3.list_objects_v2().bucket(&bucket).send().await.unwrap();
        assert_eq!(left.key_count(), Some(0), "{name}: delete");
    }
}
