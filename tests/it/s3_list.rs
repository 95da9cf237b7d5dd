//! ListObjects (v1) and ListObjectsV2: prefixes, delimiters, paging, encoding, owners.

use std::collections::HashSet;

use aws_sdk_s3::types::EncodingType;

use crate::harness::{put_many, url_decode, Server};

fn strings(keys: &[&str]) -> Vec<String> {
    keys.iter().map(|k| k.to_string()).collect()
}

const TREE: [&str; 7] = ["a/1", "a/2", "a/b/3", "b/1", "c", "d/", "e"];

#[tokio::test]
async fn v2_prefix_and_delimiter() {
    let srv = Server::start();
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "tree").await;
    put_many(&s3, &bucket, &strings(&TREE)).await;

    let all = s3.list_objects_v2().bucket(&bucket).send().await.unwrap();
    let keys: Vec<&str> = all.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, TREE);
    assert_eq!(all.key_count(), Some(7));
    assert_eq!(all.is_truncated(), Some(false));
    assert!(all.next_continuation_token().is_none());
    let first = &all.contents()[0];
    assert_eq!(first.size(), Some(3));
    assert_eq!(
        first.e_tag(),
        Some(crate::harness::etag_of(b"a/1").as_str())
    );
    assert!(first.last_modified().is_some());

    let root = s3
        .list_objects_v2()
        .bucket(&bucket)
        .delimiter("/")
        .send()
        .await
        .unwrap();
    let keys: Vec<&str> = root.contents().iter().filter_map(|o| o.key()).collect();
    let prefixes: Vec<&str> = root
        .common_prefixes()
        .iter()
        .filter_map(|p| p.prefix())
        .collect();
    assert_eq!(keys, ["c", "e"]);
    assert_eq!(prefixes, ["a/", "b/", "d/"]);
    assert_eq!(
        root.key_count(),
        Some(5),
        "KeyCount counts contents and common prefixes"
    );
    assert_eq!(root.delimiter(), Some("/"));

    let sub = s3
        .list_objects_v2()
        .bucket(&bucket)
        .prefix("a/")
        .delimiter("/")
        .send()
        .await
        .unwrap();
    let keys: Vec<&str> = sub.contents().iter().filter_map(|o| o.key()).collect();
    let prefixes: Vec<&str> = sub
        .common_prefixes()
        .iter()
        .filter_map(|p| p.prefix())
        .collect();
    assert_eq!(keys, ["a/1", "a/2"]);
    assert_eq!(prefixes, ["a/b/"]);
    assert_eq!(sub.key_count(), Some(3));
    assert_eq!(sub.prefix(), Some("a/"));

    let none = s3
        .list_objects_v2()
        .bucket(&bucket)
        .prefix("zzz")
        .send()
        .await
        .unwrap();
    assert!(none.contents().is_empty());
    assert_eq!(none.key_count(), Some(0));
}

#[tokio::test]
async fn v2_multi_character_delimiter() {
    let srv = Server::start();
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "mdelim").await;
    put_many(&s3, &bucket, &strings(&["x--1--a", "x--2", "y-z", "y--"])).await;
    let out = s3
        .list_objects_v2()
        .bucket(&bucket)
        .delimiter("--")
        .send()
        .await
        .unwrap();
    let keys: Vec<&str> = out.contents().iter().filter_map(|o| o.key()).collect();
    let prefixes: Vec<&str> = out
        .common_prefixes()
        .iter()
        .filter_map(|p| p.prefix())
        .collect();
    assert_eq!(keys, ["y-z"]);
    assert_eq!(prefixes, ["x--", "y--"]);
}

#[tokio::test]
async fn v2_max_keys_start_after_and_continuation() {
    let srv = Server::start();
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "pages").await;
    put_many(&s3, &bucket, &strings(&TREE)).await;

    let page1 = s3
        .list_objects_v2()
        .bucket(&bucket)
        .max_keys(3)
        .send()
        .await
        .unwrap();
    let keys: Vec<&str> = page1.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["a/1", "a/2", "a/b/3"]);
    assert_eq!(page1.is_truncated(), Some(true));
    assert_eq!(page1.key_count(), Some(3));
    assert_eq!(page1.max_keys(), Some(3));
    let token = page1
        .next_continuation_token()
        .expect("NextContinuationToken")
        .to_owned();

    let page2 = s3
        .list_objects_v2()
        .bucket(&bucket)
        .max_keys(3)
        .continuation_token(&token)
        .send()
        .await
        .unwrap();
    let keys: Vec<&str> = page2.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["b/1", "c", "d/"]);
    if !srv.is_external() {
        // Moto does not echo ContinuationToken.
        assert_eq!(page2.continuation_token(), Some(token.as_str()));
    }
    let token2 = page2
        .next_continuation_token()
        .expect("second token")
        .to_owned();
    assert_ne!(token, token2);

    let page3 = s3
        .list_objects_v2()
        .bucket(&bucket)
        .max_keys(3)
        .continuation_token(&token2)
        .send()
        .await
        .unwrap();
    let keys: Vec<&str> = page3.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["e"]);
    assert_eq!(page3.is_truncated(), Some(false));
    assert!(page3.next_continuation_token().is_none());

    let after = s3
        .list_objects_v2()
        .bucket(&bucket)
        .start_after("b/1")
        .send()
        .await
        .unwrap();
    let keys: Vec<&str> = after.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["c", "d/", "e"]);
    assert_eq!(after.start_after(), Some("b/1"));

    // Truncation counts common prefixes too.
    let grouped = s3
        .list_objects_v2()
        .bucket(&bucket)
        .delimiter("/")
        .max_keys(2)
        .send()
        .await
        .unwrap();
    let prefixes: Vec<&str> = grouped
        .common_prefixes()
        .iter()
        .filter_map(|p| p.prefix())
        .collect();
    assert_eq!(prefixes, ["a/", "b/"]);
    assert!(grouped.contents().is_empty());
    assert_eq!(grouped.is_truncated(), Some(true));
    let token = grouped.next_continuation_token().expect("token").to_owned();
    let rest = s3
        .list_objects_v2()
        .bucket(&bucket)
        .delimiter("/")
        .max_keys(2)
        .continuation_token(token)
        .send()
        .await
        .unwrap();
    let keys: Vec<&str> = rest.contents().iter().filter_map(|o| o.key()).collect();
    let prefixes: Vec<&str> = rest
        .common_prefixes()
        .iter()
        .filter_map(|p| p.prefix())
        .collect();
    assert_eq!((keys, prefixes), (vec!["c"], vec!["d/"]));
}

#[tokio::test]
async fn v2_encoding_type_url() {
    let srv = Server::start();
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "enc").await;
    let keys = strings(&["enc dir/a b&c<d>é.txt", "enc dir/sub/x", "plain"]);
    put_many(&s3, &bucket, &keys).await;

    let out = s3
        .list_objects_v2()
        .bucket(&bucket)
        .prefix("enc dir/")
        .delimiter("/")
        .encoding_type(EncodingType::Url)
        .send()
        .await
        .unwrap();
    assert_eq!(out.encoding_type(), Some(&EncodingType::Url));
    let raw_keys: Vec<&str> = out.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(raw_keys.len(), 1, "{raw_keys:?}");
    assert_ne!(raw_keys[0], keys[0], "key came back unencoded");
    assert!(
        !raw_keys[0].contains('é') && !raw_keys[0].contains('&'),
        "{raw_keys:?}"
    );
    assert_eq!(url_decode(raw_keys[0]), keys[0]);
    let prefixes: Vec<&str> = out
        .common_prefixes()
        .iter()
        .filter_map(|p| p.prefix())
        .collect();
    assert_eq!(
        prefixes.iter().map(|p| url_decode(p)).collect::<Vec<_>>(),
        ["enc dir/sub/"]
    );
    assert_eq!(out.prefix().map(url_decode).as_deref(), Some("enc dir/"));

    // Without encoding-type the same keys come back verbatim.
    let plain = s3
        .list_objects_v2()
        .bucket(&bucket)
        .prefix("enc dir/")
        .delimiter("/")
        .send()
        .await
        .unwrap();
    assert_eq!(plain.contents()[0].key(), Some(keys[0].as_str()));

    // v1 encodes too.
    let v1 = s3
        .list_objects()
        .bucket(&bucket)
        .prefix("enc dir/")
        .encoding_type(EncodingType::Url)
        .send()
        .await
        .unwrap();
    let decoded: Vec<String> = v1
        .contents()
        .iter()
        .filter_map(|o| o.key())
        .map(url_decode)
        .collect();
    assert_eq!(decoded, keys[..2]);
}

#[tokio::test]
async fn v2_fetch_owner_and_v1_owner() {
    let srv = Server::start();
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "owner").await;
    put_many(&s3, &bucket, &strings(&["o"])).await;

    let without = s3.list_objects_v2().bucket(&bucket).send().await.unwrap();
    assert!(
        without.contents()[0].owner().is_none(),
        "v2 lists owners only with fetch-owner"
    );
    let with = s3
        .list_objects_v2()
        .bucket(&bucket)
        .fetch_owner(true)
        .send()
        .await
        .unwrap();
    let owner = with.contents()[0]
        .owner()
        .expect("Owner with fetch-owner=true");
    assert!(owner.id().is_some_and(|id| !id.is_empty()), "{owner:?}");

    let v1 = s3.list_objects().bucket(&bucket).send().await.unwrap();
    let v1_owner = v1.contents()[0].owner().expect("v1 always lists owners");
    assert!(
        v1_owner.id().is_some_and(|id| !id.is_empty()),
        "{v1_owner:?}"
    );
    if !srv.is_external() {
        // Moto uses a different owner id in v1 listings; S3 uses one id per account.
        assert_eq!(v1_owner.id(), owner.id());
        let buckets_owner = s3.list_buckets().send().await.unwrap();
        assert_eq!(buckets_owner.owner().and_then(|o| o.id()), owner.id());
    }
}

#[tokio::test]
async fn v1_prefix_delimiter_marker_and_next_marker() {
    let srv = Server::start();
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "v1").await;
    put_many(&s3, &bucket, &strings(&TREE)).await;

    let all = s3.list_objects().bucket(&bucket).send().await.unwrap();
    let keys: Vec<&str> = all.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, TREE);
    assert_eq!(all.is_truncated(), Some(false));

    let sub = s3
        .list_objects()
        .bucket(&bucket)
        .prefix("a/")
        .delimiter("/")
        .send()
        .await
        .unwrap();
    let keys: Vec<&str> = sub.contents().iter().filter_map(|o| o.key()).collect();
    let prefixes: Vec<&str> = sub
        .common_prefixes()
        .iter()
        .filter_map(|p| p.prefix())
        .collect();
    assert_eq!(keys, ["a/1", "a/2"]);
    assert_eq!(prefixes, ["a/b/"]);

    // Without a delimiter: truncated, but no NextMarker (clients use the last key).
    let page = s3
        .list_objects()
        .bucket(&bucket)
        .max_keys(2)
        .send()
        .await
        .unwrap();
    let keys: Vec<&str> = page.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["a/1", "a/2"]);
    assert_eq!(page.is_truncated(), Some(true));
    if !srv.is_external() {
        // Moto always sends NextMarker; S3 only with a delimiter (S3-PITFALLS 11).
        assert_eq!(
            page.next_marker(),
            None,
            "NextMarker only comes with a delimiter"
        );
    }
    let next = s3
        .list_objects()
        .bucket(&bucket)
        .max_keys(2)
        .marker("a/2")
        .send()
        .await
        .unwrap();
    let keys: Vec<&str> = next.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["a/b/3", "b/1"]);
    if !srv.is_external() {
        // Moto does not echo Marker.
        assert_eq!(next.marker(), Some("a/2"));
    }

    if srv.is_external() {
        // Moto's v1 does not count common prefixes against max-keys.
        return;
    }
    // With a delimiter: NextMarker is the last key or common prefix returned.
    let grouped = s3
        .list_objects()
        .bucket(&bucket)
        .delimiter("/")
        .max_keys(2)
        .send()
        .await
        .unwrap();
    let prefixes: Vec<&str> = grouped
        .common_prefixes()
        .iter()
        .filter_map(|p| p.prefix())
        .collect();
    assert_eq!(prefixes, ["a/", "b/"]);
    assert_eq!(grouped.is_truncated(), Some(true));
    assert_eq!(grouped.next_marker(), Some("b/"));
    let rest = s3
        .list_objects()
        .bucket(&bucket)
        .delimiter("/")
        .max_keys(2)
        .marker("b/")
        .send()
        .await
        .unwrap();
    let keys: Vec<&str> = rest.contents().iter().filter_map(|o| o.key()).collect();
    let prefixes: Vec<&str> = rest
        .common_prefixes()
        .iter()
        .filter_map(|p| p.prefix())
        .collect();
    assert_eq!((keys, prefixes), (vec!["c"], vec!["d/"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paging_through_2500_keys_v1_and_v2() {
    let srv = Server::start();
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "many").await;
    let mut keys: Vec<String> = (0..2500)
        .map(|i| format!("k/{:05}-{}", (i * 7919) % 2500, i % 3))
        .collect();
    put_many(&s3, &bucket, &keys).await;
    keys.sort();

    // v2, default page size (1000), continuation tokens.
    let mut seen = Vec::new();
    let mut tokens = HashSet::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let out = s3
            .list_objects_v2()
            .bucket(&bucket)
            .set_continuation_token(token.clone())
            .send()
            .await
            .unwrap();
        pages += 1;
        assert!(out.contents().len() <= 1000);
        assert_eq!(out.key_count(), Some(out.contents().len() as i32));
        seen.extend(
            out.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned)),
        );
        if out.is_truncated() == Some(true) {
            let next = out
                .next_continuation_token()
                .expect("truncated page has a token")
                .to_owned();
            assert!(tokens.insert(next.clone()), "token {next:?} repeated");
            token = Some(next);
        } else {
            assert!(out.next_continuation_token().is_none());
            break;
        }
        assert!(pages < 10, "listing does not end");
    }
    assert_eq!(pages, 3);
    assert!(
        seen == keys,
        "v2 paging lost, repeated or reordered keys ({} seen)",
        seen.len()
    );

    if !srv.is_external() {
        // max-keys above 1000 is capped (moto does not cap).
        let capped = s3
            .list_objects_v2()
            .bucket(&bucket)
            .max_keys(5000)
            .send()
            .await
            .unwrap();
        assert_eq!(capped.contents().len(), 1000);
        assert_eq!(capped.is_truncated(), Some(true));
    }

    // v2 with small pages and start-after in the middle.
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = s3
            .list_objects_v2()
            .bucket(&bucket)
            .start_after(&keys[1999])
            .max_keys(137)
            .set_continuation_token(token.clone())
            .send()
            .await
            .unwrap();
        seen.extend(
            out.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned)),
        );
        token = out.next_continuation_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    assert!(
        seen == keys[2000..],
        "start-after paging gave {} keys",
        seen.len()
    );

    // v1, markers.
    let mut seen: Vec<String> = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let out = s3
            .list_objects()
            .bucket(&bucket)
            .set_marker(marker.clone())
            .send()
            .await
            .unwrap();
        assert!(out.contents().len() <= 1000);
        seen.extend(
            out.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned)),
        );
        if out.is_truncated() != Some(true) {
            break;
        }
        marker = Some(seen.last().expect("truncated page has keys").clone());
        assert!(seen.len() < 5000, "listing does not end");
    }
    assert!(
        seen == keys,
        "v1 paging lost, repeated or reordered keys ({} seen)",
        seen.len()
    );
}
