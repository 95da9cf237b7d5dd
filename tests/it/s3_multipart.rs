//! Multipart uploads: create / upload part (+ copy) / complete / abort, ListParts,
//! ListMultipartUploads, GET and HEAD by part number, checksums of completed uploads, blob
//! cleanup, and an upload that survives `kill -9`.

use std::path::Path;
use std::time::{Duration, Instant};

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::config::RequestChecksumCalculation;
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::operation::complete_multipart_upload::{
    CompleteMultipartUploadError, CompleteMultipartUploadOutput,
};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    ChecksumAlgorithm, ChecksumMode, ChecksumType, CompletedMultipartUpload, CompletedPart,
};
use aws_sdk_s3::Client;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use md5::{Digest, Md5};

use crate::harness::{assert_err, etag_of, get_bytes, pattern, put, Server};

const MIB: usize = 1 << 20;
/// The smallest size of every part but the last.
const PART: usize = 5 * MIB;

// ---- helpers ----

async fn create(s3: &Client, bucket: &str, key: &str) -> String {
    s3.create_multipart_upload()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("create upload {bucket}/{key}: {e:?}"))
        .upload_id()
        .expect("UploadId")
        .to_owned()
}

/// Uploads part `n` and returns its (quoted) ETag, checked against the body's MD5.
async fn upload_part(
    s3: &Client,
    bucket: &str,
    key: &str,
    upload_id: &str,
    n: i32,
    data: &[u8],
) -> String {
    let out = s3
        .upload_part()
        .bucket(bucket)
        .key(key)
        .upload_id(upload_id)
        .part_number(n)
        .body(ByteStream::from(data.to_vec()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("upload part {n} of {bucket}/{key}: {e:?}"));
    let etag = out.e_tag().expect("part ETag").to_owned();
    assert_eq!(etag, etag_of(data), "ETag of part {n}");
    etag
}

fn completed(parts: &[(i32, String)]) -> CompletedMultipartUpload {
    CompletedMultipartUpload::builder()
        .set_parts(Some(
            parts
                .iter()
                .map(|(n, etag)| CompletedPart::builder().part_number(*n).e_tag(etag).build())
                .collect(),
        ))
        .build()
}

async fn complete(
    s3: &Client,
    bucket: &str,
    key: &str,
    upload_id: &str,
    parts: &[(i32, String)],
) -> Result<CompleteMultipartUploadOutput, SdkError<CompleteMultipartUploadError, HttpResponse>> {
    s3.complete_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(upload_id)
        .multipart_upload(completed(parts))
        .send()
        .await
}

/// The ETag S3 gives a multipart object: MD5 of the concatenated binary part MD5s, "-N".
fn multipart_etag<P: AsRef<[u8]>>(parts: &[P]) -> String {
    let mut md5s = Md5::new();
    for p in parts {
        md5s.update(Md5::digest(p.as_ref()));
    }
    format!("\"{}-{}\"", hex::encode(md5s.finalize()), parts.len())
}

fn crc32(data: &[u8]) -> u32 {
    crc32fast::hash(data)
}

fn crc64nvme_b64(data: &[u8]) -> String {
    let mut digest = crc64fast_nvme::Digest::new();
    digest.write(data);
    B64.encode(digest.sum64().to_be_bytes())
}

/// A client that sends no flexible checksum unless an operation requires one.
fn client_without_checksums(s3: &Client) -> Client {
    Client::from_conf(
        s3.config()
            .to_builder()
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .build(),
    )
}

/// Regular files under `DIR/blobs`.
fn blob_files(data_dir: &Path) -> usize {
    crate::harness::blob_files(data_dir).unwrap_or(0)
}

/// Waits until the blob store holds exactly `want` files; returns how long that took.
async fn wait_for_blobs(srv: &Server, want: usize, within: Duration) -> Duration {
    let start = Instant::now();
    loop {
        let now = blob_files(srv.data_dir());
        if now == want {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < within,
            "{now} blob files after {:?}, expected {want}",
            start.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Blobs are deleted by the sweeper after a 10 s grace period. A sweep follows 10.1 s after a
/// kick, and every UploadPart kicks it, so blobs queued just after a part upload wait for a
/// second cycle: about 20 s in practice (not the ~15 s one might expect).
const BLOB_CLEANUP: Duration = Duration::from_secs(25);

/// Sizes of the parts of [`three_part_object`]: two full parts and an odd-sized last one.
fn three_parts() -> Vec<Vec<u8>> {
    vec![pattern(PART, 11), pattern(PART, 12), pattern(MIB + 7, 13)]
}

/// Uploads [`three_parts`] to `bucket/key` and completes them; returns the parts.
async fn three_part_object(s3: &Client, bucket: &str, key: &str) -> Vec<Vec<u8>> {
    let parts = three_parts();
    let id = create(s3, bucket, key).await;
    let mut named = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        let n = i as i32 + 1;
        named.push((n, upload_part(s3, bucket, key, &id, n, p).await));
    }
    let out = complete(s3, bucket, key, &id, &named).await.unwrap();
    assert_eq!(out.e_tag(), Some(multipart_etag(&parts).as_str()));
    parts
}

// ---- round trip, reads ----

#[tokio::test]
async fn round_trip_keeps_metadata_and_content_type() {
    let srv = Server::start();
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "mp-round").await;
    let key = "videos/clip one.bin";
    let created = s3
        .create_multipart_upload()
        .bucket(&bucket)
        .key(key)
        .content_type("video/x-test")
        .cache_control("max-age=300")
        .metadata("origin", "multipart")
        .metadata("take", "2")
        .send()
        .await
        .unwrap();
    assert_eq!(created.bucket(), Some(bucket.as_str()));
    assert_eq!(created.key(), Some(key));
    let id = created.upload_id().expect("UploadId").to_owned();

    let parts = three_parts();
    let mut named = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        let n = i as i32 + 1;
        named.push((n, upload_part(&s3, &bucket, key, &id, n, p).await));
    }
    // Nothing is visible before Complete.
    assert_err(
        s3.head_object().bucket(&bucket).key(key).send().await,
        404,
        None,
    );
    let out = complete(&s3, &bucket, key, &id, &named).await.unwrap();
    let want_etag = multipart_etag(&parts);
    assert!(want_etag.ends_with("-3\""), "{want_etag}");
    assert_eq!(out.e_tag(), Some(want_etag.as_str()));
    assert_eq!(out.bucket(), Some(bucket.as_str()));
    assert_eq!(out.key(), Some(key));
    assert!(out.location().is_some_and(|l| l.contains(&bucket)));

    let data = parts.concat();
    let head = s3
        .head_object()
        .bucket(&bucket)
        .key(key)
        .send()
        .await
        .unwrap();
    assert_eq!(head.e_tag(), Some(want_etag.as_str()));
    assert_eq!(head.content_length(), Some(data.len() as i64));
    assert_eq!(head.content_type(), Some("video/x-test"));
    assert_eq!(head.cache_control(), Some("max-age=300"));
    let meta = head.metadata().expect("metadata");
    assert_eq!(meta.get("origin").map(String::as_str), Some("multipart"));
    assert_eq!(meta.get("take").map(String::as_str), Some("2"));

    let got = s3
        .get_object()
        .bucket(&bucket)
        .key(key)
        .send()
        .await
        .unwrap();
    assert_eq!(got.e_tag(), Some(want_etag.as_str()));
    assert_eq!(got.content_type(), Some("video/x-test"));
    let body = got.body.collect().await.unwrap().into_bytes();
    assert!(body.as_ref() == data.as_slice(), "body differs");

    // The object is listed with the multipart ETag and its full size; the upload is gone.
    let listed = s3.list_objects_v2().bucket(&bucket).send().await.unwrap();
    let obj = &listed.contents()[0];
    assert_eq!(obj.key(), Some(key));
    assert_eq!(obj.size(), Some(data.len() as i64));
    assert_eq!(obj.e_tag(), Some(want_etag.as_str()));
    let uploads = s3
        .list_multipart_uploads()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    assert!(uploads.uploads().is_empty(), "{uploads:?}");
}

#[tokio::test]
async fn ranged_get_across_part_boundaries() {
    let srv = Server::start();
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "mp-range").await;
    let parts = three_part_object(&s3, &bucket, "obj").await;
    let data = parts.concat();
    let total = data.len();
    for (first, last) in [
        (PART - 10, PART + 9),        // across the first boundary
        (PART - 1, 2 * PART),         // the whole of part 2 and one byte either side
        (10, total - 10),             // all three parts
        (2 * PART, total - 1),        // exactly the last part
        (2 * PART - 3, 2 * PART + 2), // across the second boundary
    ] {
        let got = s3
            .get_object()
            .bucket(&bucket)
            .key("obj")
            .range(format!("bytes={first}-{last}"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            got.content_range(),
            Some(format!("bytes {first}-{last}/{total}").as_str())
        );
        assert_eq!(got.content_length(), Some((last - first + 1) as i64));
        let body = got.body.collect().await.unwrap().into_bytes();
        assert!(
            body.as_ref() == &data[first..=last],
            "bytes {first}-{last} differ"
        );
    }
    // A suffix range ending in the last part.
    let got = s3
        .get_object()
        .bucket(&bucket)
        .key("obj")
        .range("bytes=-100")
        .send()
        .await
        .unwrap();
    let body = got.body.collect().await.unwrap().into_bytes();
    assert!(body.as_ref() == &data[total - 100..]);
}

#[tokio::test]
async fn get_and_head_by_part_number() {
    let srv = Server::start();
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "mp-partnum").await;
    let parts = three_part_object(&s3, &bucket, "obj").await;
    let total: usize = parts.iter().map(Vec::len).sum();
    let etag = multipart_etag(&parts);
    let mut start = 0;
    for (i, p) in parts.iter().enumerate() {
        let n = i as i32 + 1;
        let range = format!("bytes {start}-{}/{total}", start + p.len() - 1);
        let got = s3
            .get_object()
            .bucket(&bucket)
            .key("obj")
            .part_number(n)
            .send()
            .await
            .unwrap();
        assert_eq!(got.content_range(), Some(range.as_str()), "part {n}");
        assert_eq!(got.content_length(), Some(p.len() as i64), "part {n}");
        assert_eq!(got.parts_count(), Some(3), "part {n}");
        assert_eq!(got.e_tag(), Some(etag.as_str()), "part {n}");
        let body = got.body.collect().await.unwrap().into_bytes();
        assert!(body.as_ref() == p.as_slice(), "body of part {n}");

        let head = s3
            .head_object()
            .bucket(&bucket)
            .key("obj")
            .part_number(n)
            .send()
            .await
            .unwrap();
        assert_eq!(head.content_range(), Some(range.as_str()), "HEAD part {n}");
        assert_eq!(head.content_length(), Some(p.len() as i64), "HEAD part {n}");
        assert_eq!(head.parts_count(), Some(3), "HEAD part {n}");
        start += p.len();
    }
    // Past the last part.
    let result = s3
        .get_object()
        .bucket(&bucket)
        .key("obj")
        .part_number(4)
        .send()
        .await;
    assert_err(result, 416, None);
    // A plain HEAD carries no part count.
    let head = s3
        .head_object()
        .bucket(&bucket)
        .key("obj")
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_length(), Some(total as i64));
    assert_eq!(head.parts_count(), None);
}

// ---- uploading parts ----

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parts_uploaded_in_parallel() {
    let srv = Server::start();
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "mp-parallel").await;
    let id = create(&s3, &bucket, "big").await;
    let parts: Vec<Vec<u8>> = (0..6)
        .map(|i| pattern(if i == 5 { 100_003 } else { PART }, 100 + i))
        .collect();
    let mut tasks = tokio::task::JoinSet::new();
    // Started in reverse order so the server does not see them ascending.
    for (i, p) in parts.iter().enumerate().rev() {
        let (s3, bucket, id, p) = (s3.clone(), bucket.clone(), id.clone(), p.clone());
        let n = i as i32 + 1;
        tasks.spawn(async move { (n, upload_part(&s3, &bucket, "big", &id, n, &p).await) });
    }
    let mut named = Vec::new();
    while let Some(done) = tasks.join_next().await {
        named.push(done.expect("upload task"));
    }
    named.sort();
    let listed = s3
        .list_parts()
        .bucket(&bucket)
        .key("big")
        .upload_id(&id)
        .send()
        .await
        .unwrap();
    let listed: Vec<(i32, String, i64)> = listed
        .parts()
        .iter()
        .map(|p| {
            (
                p.part_number().unwrap(),
                p.e_tag().unwrap().to_owned(),
                p.size().unwrap(),
            )
        })
        .collect();
    let want: Vec<(i32, String, i64)> = named
        .iter()
        .zip(&parts)
        .map(|((n, e), p)| (*n, e.clone(), p.len() as i64))
        .collect();
    assert_eq!(listed, want);

    let out = complete(&s3, &bucket, "big", &id, &named).await.unwrap();
    assert_eq!(out.e_tag(), Some(multipart_etag(&parts).as_str()));
    let body = get_bytes(&s3, &bucket, "big").await;
    assert!(body == parts.concat(), "body differs");
}

#[tokio::test]
async fn reuploaded_part_replaces_the_old_one() {
    let srv = Server::start();
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "mp-replace").await;
    let id = create(&s3, &bucket, "k").await;
    let (old1, p2, new1) = (pattern(PART, 21), pattern(1000, 22), pattern(PART, 23));
    let old_etag = upload_part(&s3, &bucket, "k", &id, 1, &old1).await;
    let e2 = upload_part(&s3, &bucket, "k", &id, 2, &p2).await;
    let new_etag = upload_part(&s3, &bucket, "k", &id, 1, &new1).await;
    assert_ne!(old_etag, new_etag);

    let listed = s3
        .list_parts()
        .bucket(&bucket)
        .key("k")
        .upload_id(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.parts().len(), 2);
    assert_eq!(listed.parts()[0].part_number(), Some(1));
    assert_eq!(listed.parts()[0].e_tag(), Some(new_etag.as_str()));

    // The replaced part can no longer be named.
    let result = complete(&s3, &bucket, "k", &id, &[(1, old_etag), (2, e2.clone())]).await;
    assert_err(result, 400, Some("InvalidPart"));

    let out = complete(&s3, &bucket, "k", &id, &[(1, new_etag), (2, e2)])
        .await
        .unwrap();
    assert_eq!(
        out.e_tag(),
        Some(multipart_etag(&[&new1[..], &p2[..]]).as_str())
    );
    assert!(get_bytes(&s3, &bucket, "k").await == [new1, p2].concat());

    if !srv.is_external() {
        // The object's two part blobs remain; the replaced one goes after the grace period.
        let took = wait_for_blobs(&srv, 2, BLOB_CLEANUP).await;
        eprintln!("replaced part blob removed after {took:?}");
    }
}

#[tokio::test]
async fn complete_naming_some_parts_deletes_the_others() {
    let srv = Server::start();
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "mp-subset").await;
    let id = create(&s3, &bucket, "k").await;
    let parts = [pattern(PART, 31), pattern(PART, 32), pattern(4096, 33)];
    let mut etags = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        etags.push(upload_part(&s3, &bucket, "k", &id, i as i32 + 1, p).await);
    }
    if !srv.is_external() {
        assert_eq!(blob_files(srv.data_dir()), 3);
    }
    let out = complete(
        &s3,
        &bucket,
        "k",
        &id,
        &[(1, etags[0].clone()), (3, etags[2].clone())],
    )
    .await
    .unwrap();
    assert_eq!(
        out.e_tag(),
        Some(multipart_etag(&[&parts[0][..], &parts[2][..]]).as_str())
    );
    assert!(get_bytes(&s3, &bucket, "k").await == [&parts[0][..], &parts[2][..]].concat());
    // Part 2 of the object is what was uploaded as part 3.
    let got = s3
        .get_object()
        .bucket(&bucket)
        .key("k")
        .part_number(2)
        .send()
        .await
        .unwrap();
    assert_eq!(got.parts_count(), Some(2));
    assert!(got.body.collect().await.unwrap().into_bytes().as_ref() == parts[2].as_slice());

    assert_err(
        s3.list_parts()
            .bucket(&bucket)
            .key("k")
            .upload_id(&id)
            .send()
            .await,
        404,
        Some("NoSuchUpload"),
    );
    if !srv.is_external() {
        let took = wait_for_blobs(&srv, 2, BLOB_CLEANUP).await;
        eprintln!("unnamed part blob removed after {took:?}");
    }
}

#[tokio::test]
async fn part_numbers_outside_1_to_10000_are_invalid() {
    let srv = Server::start();
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "mp-partno").await;
    put(&s3, &bucket, "src", b"source").await;
    let id = create(&s3, &bucket, "k").await;
    for n in [0, 10_001, -1] {
        let result = s3
            .upload_part()
            .bucket(&bucket)
            .key("k")
            .upload_id(&id)
            .part_number(n)
            .body(ByteStream::from_static(b"data"))
            .send()
            .await;
        assert_err(result, 400, Some("InvalidArgument"));
        let result = s3
            .upload_part_copy()
            .bucket(&bucket)
            .key("k")
            .upload_id(&id)
            .part_number(n)
            .copy_source(format!("{bucket}/src"))
            .send()
            .await;
        assert_err(result, 400, Some("InvalidArgument"));
    }
    for n in [1, 10_000] {
        upload_part(&s3, &bucket, "k", &id, n, b"data").await;
    }
    let listed = s3
        .list_parts()
        .bucket(&bucket)
        .key("k")
        .upload_id(&id)
        .send()
        .await
        .unwrap();
    let numbers: Vec<i32> = listed
        .parts()
        .iter()
        .filter_map(|p| p.part_number())
        .collect();
    assert_eq!(numbers, [1, 10_000]);
    // UploadPart into an upload that does not exist.
    let result = s3
        .upload_part()
        .bucket(&bucket)
        .key("k")
        .upload_id("no-such-upload")
        .part_number(1)
        .body(ByteStream::from_static(b"data"))
        .send()
        .await;
    assert_err(result, 404, Some("NoSuchUpload"));
}

#[tokio::test]
async fn upload_part_copy_with_range() {
    let srv = Server::start();
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "mp-copy").await;
    let source = pattern(7 * MIB, 41);
    put(&s3, &bucket, "source.bin", &source).await;
    let id = create(&s3, &bucket, "dest").await;

    let first = pattern(PART, 42);
    let e1 = upload_part(&s3, &bucket, "dest", &id, 1, &first).await;
    let mut named = vec![(1, e1)];
    let ranges = [(MIB, MIB + PART - 1), (0, 99)];
    for (i, (a, b)) in ranges.iter().enumerate() {
        let n = i as i32 + 2;
        let out = s3
            .upload_part_copy()
            .bucket(&bucket)
            .key("dest")
            .upload_id(&id)
            .part_number(n)
            .copy_source(format!("{bucket}/source.bin"))
            .copy_source_range(format!("bytes={a}-{b}"))
            .send()
            .await
            .unwrap();
        let result = out.copy_part_result().expect("CopyPartResult");
        assert_eq!(result.e_tag(), Some(etag_of(&source[*a..=*b]).as_str()));
        assert!(result.last_modified().is_some());
        named.push((n, result.e_tag().unwrap().to_owned()));
    }
    // A range past the end of the source is refused.
    let result = s3
        .upload_part_copy()
        .bucket(&bucket)
        .key("dest")
        .upload_id(&id)
        .part_number(4)
        .copy_source(format!("{bucket}/source.bin"))
        .copy_source_range(format!("bytes=0-{}", source.len()))
        .send()
        .await;
    let info = crate::harness::err_info(result);
    assert!(matches!(info.status, 400 | 416), "{info:?}");

    let out = complete(&s3, &bucket, "dest", &id, &named).await.unwrap();
    let want: Vec<&[u8]> = vec![
        &first,
        &source[ranges[0].0..=ranges[0].1],
        &source[ranges[1].0..=ranges[1].1],
    ];
    assert_eq!(out.e_tag(), Some(multipart_etag(&want).as_str()));
    assert!(get_bytes(&s3, &bucket, "dest").await == want.concat());
    // The source is untouched.
    assert!(get_bytes(&s3, &bucket, "source.bin").await == source);
}

// ---- Complete errors, concurrency, abort ----

#[tokio::test]
async fn complete_errors() {
    let srv = Server::start();
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "mp-errors").await;
    let id = create(&s3, &bucket, "k").await;
    let p1 = pattern(PART, 51);
    let (p2, p3) = (pattern(1024, 52), pattern(2048, 53));
    let e1 = upload_part(&s3, &bucket, "k", &id, 1, &p1).await;
    let e2 = upload_part(&s3, &bucket, "k", &id, 2, &p2).await;
    let e3 = upload_part(&s3, &bucket, "k", &id, 3, &p3).await;

    // Out of order, and a repeated part number.
    for parts in [
        vec![(2, e2.clone()), (1, e1.clone())],
        vec![(1, e1.clone()), (1, e1.clone())],
    ] {
        let result = complete(&s3, &bucket, "k", &id, &parts).await;
        assert_err(result, 400, Some("InvalidPartOrder"));
    }
    // A wrong ETag, a part never uploaded.
    let wrong = etag_of(b"something else");
    for parts in [
        vec![(1, wrong.clone())],
        vec![(1, e1.clone()), (4, e3.clone())],
        vec![(1, e1.clone()), (2, e3.clone())],
    ] {
        let result = complete(&s3, &bucket, "k", &id, &parts).await;
        assert_err(result, 400, Some("InvalidPart"));
    }
    // A part without an ETag.
    let result = s3
        .complete_multipart_upload()
        .bucket(&bucket)
        .key("k")
        .upload_id(&id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .parts(CompletedPart::builder().part_number(1).build())
                .build(),
        )
        .send()
        .await;
    // What AWS answers for a Part missing its ETag (or PartNumber): the schema requires both.
    assert_err(result, 400, Some("MalformedXML"));
    // Part 2 (1 KiB) is not the last part.
    let result = complete(
        &s3,
        &bucket,
        "k",
        &id,
        &[(1, e1.clone()), (2, e2.clone()), (3, e3.clone())],
    )
    .await;
    assert_err(result, 400, Some("EntityTooSmall"));
    // No parts at all.
    let result = complete(&s3, &bucket, "k", &id, &[]).await;
    assert_err(result, 400, Some("MalformedXML"));

    // None of those consumed the upload.
    let out = complete(&s3, &bucket, "k", &id, &[(1, e1.clone()), (2, e2.clone())])
        .await
        .unwrap();
    assert_eq!(
        out.e_tag(),
        Some(multipart_etag(&[&p1[..], &p2[..]]).as_str())
    );
    assert!(get_bytes(&s3, &bucket, "k").await == [p1, p2].concat());

    // Completed, then completed again (an SDK retry): the same 200. An id that never existed.
    let again = complete(&s3, &bucket, "k", &id, &[(1, e1.clone())])
        .await
        .unwrap();
    assert_eq!(again.e_tag(), out.e_tag());
    let result = complete(&s3, &bucket, "k", "0123456789abcdef", &[(1, e1.clone())]).await;
    assert_err(result, 404, Some("NoSuchUpload"));

    // Aborted, then completed.
    let id = create(&s3, &bucket, "k2").await;
    let e = upload_part(&s3, &bucket, "k2", &id, 1, b"tiny").await;
    s3.abort_multipart_upload()
        .bucket(&bucket)
        .key("k2")
        .upload_id(&id)
        .send()
        .await
        .unwrap();
    let result = complete(&s3, &bucket, "k2", &id, &[(1, e)]).await;
    assert_err(result, 404, Some("NoSuchUpload"));
    assert_err(
        s3.head_object().bucket(&bucket).key("k2").send().await,
        404,
        None,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_completes_of_one_upload() {
    let srv = Server::start();
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "mp-race").await;
    let p1 = pattern(PART, 61);
    for round in 0..3 {
        let p2 = pattern(10_000 + round, 62 + round as u64);
        let id = create(&s3, &bucket, "k").await;
        let e1 = upload_part(&s3, &bucket, "k", &id, 1, &p1).await;
        let e2 = upload_part(&s3, &bucket, "k", &id, 2, &p2).await;
        let parts = [(1, e1), (2, e2)];
        let want = multipart_etag(&[&p1[..], &p2[..]]);
        let (a, b) = tokio::join!(
            complete(&s3, &bucket, "k", &id, &parts),
            complete(&s3, &bucket, "k", &id, &parts)
        );
        let mut ok = 0;
        for result in [a, b] {
            match result {
                Ok(out) => {
                    assert_eq!(out.e_tag(), Some(want.as_str()), "round {round}");
                    ok += 1;
                }
                Err(e) => {
                    assert_err::<(), _>(Err(e), 404, Some("NoSuchUpload"));
                }
            }
        }
        assert!(ok >= 1, "round {round}: neither Complete succeeded");
        eprintln!("round {round}: {ok} of 2 concurrent Completes succeeded");
        let head = s3
            .head_object()
            .bucket(&bucket)
            .key("k")
            .send()
            .await
            .unwrap();
        assert_eq!(head.e_tag(), Some(want.as_str()));
        assert!(get_bytes(&s3, &bucket, "k").await == [&p1[..], &p2[..]].concat());
    }
}

#[tokio::test]
async fn abort_removes_the_parts() {
    let srv = Server::start();
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "mp-abort").await;
    put(&s3, &bucket, "unrelated", b"stays").await;
    let baseline = if srv.is_external() {
        0
    } else {
        blob_files(srv.data_dir())
    };
    let id = create(&s3, &bucket, "k").await;
    upload_part(&s3, &bucket, "k", &id, 1, &pattern(PART, 71)).await;
    upload_part(&s3, &bucket, "k", &id, 2, &pattern(MIB, 72)).await;
    upload_part(&s3, &bucket, "k", &id, 2, &pattern(MIB, 73)).await;
    if !srv.is_external() {
        // Part 1, part 2 and (until the sweeper runs) the replaced part 2.
        assert!(blob_files(srv.data_dir()) >= baseline + 2);
    }
    s3.abort_multipart_upload()
        .bucket(&bucket)
        .key("k")
        .upload_id(&id)
        .send()
        .await
        .unwrap();
    assert_err(
        s3.list_parts()
            .bucket(&bucket)
            .key("k")
            .upload_id(&id)
            .send()
            .await,
        404,
        Some("NoSuchUpload"),
    );
    assert_err(
        s3.abort_multipart_upload()
            .bucket(&bucket)
            .key("k")
            .upload_id(&id)
            .send()
            .await,
        404,
        Some("NoSuchUpload"),
    );
    let uploads = s3
        .list_multipart_uploads()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    assert!(uploads.uploads().is_empty());
    assert_err(
        s3.head_object().bucket(&bucket).key("k").send().await,
        404,
        None,
    );
    if !srv.is_external() {
        let took = wait_for_blobs(&srv, baseline, BLOB_CLEANUP).await;
        eprintln!("aborted upload's blobs removed after {took:?}");
    }
    assert_eq!(get_bytes(&s3, &bucket, "unrelated").await, b"stays");
}

#[tokio::test]
async fn delete_bucket_with_an_upload_in_progress() {
    let srv = Server::start();
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "mp-delbucket").await;
    let id = create(&s3, &bucket, "k").await;
    // Even an upload without parts holds the bucket.
    let result = s3.delete_bucket().bucket(&bucket).send().await;
    assert_err(result, 409, Some("BucketNotEmpty"));
    upload_part(&s3, &bucket, "k", &id, 1, b"part").await;
    let result = s3.delete_bucket().bucket(&bucket).send().await;
    assert_err(result, 409, Some("BucketNotEmpty"));
    s3.abort_multipart_upload()
        .bucket(&bucket)
        .key("k")
        .upload_id(&id)
        .send()
        .await
        .unwrap();
    s3.delete_bucket().bucket(&bucket).send().await.unwrap();
    assert_err(s3.head_bucket().bucket(&bucket).send().await, 404, None);
}

// ---- listings ----

#[tokio::test]
async fn list_parts_pagination() {
    let srv = Server::start();
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "mp-listparts").await;
    let id = create(&s3, &bucket, "k").await;
    let mut want = Vec::new();
    for n in 1..=5 {
        let data = pattern(1000 + n as usize, 80 + n as u64);
        let etag = upload_part(&s3, &bucket, "k", &id, n, &data).await;
        want.push((n, etag, data.len() as i64));
    }
    let mut got = Vec::new();
    let mut marker: Option<String> = None;
    let mut pages = Vec::new();
    loop {
        let page = s3
            .list_parts()
            .bucket(&bucket)
            .key("k")
            .upload_id(&id)
            .max_parts(2)
            .set_part_number_marker(marker.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(page.max_parts(), Some(2));
        assert_eq!(page.upload_id(), Some(id.as_str()));
        let numbers: Vec<i32> = page
            .parts()
            .iter()
            .filter_map(|p| p.part_number())
            .collect();
        pages.push(numbers);
        for p in page.parts() {
            got.push((
                p.part_number().unwrap(),
                p.e_tag().unwrap().to_owned(),
                p.size().unwrap(),
            ));
            assert!(p.last_modified().is_some());
        }
        if page.is_truncated() != Some(true) {
            break;
        }
        marker = page.next_part_number_marker().map(str::to_owned);
        assert!(marker.is_some(), "truncated page without a marker");
        assert!(pages.len() < 10, "no end to the listing: {pages:?}");
    }
    assert_eq!(pages, [vec![1, 2], vec![3, 4], vec![5]]);
    assert_eq!(got, want);

    // Starting after part 3 directly; after the last part there is nothing.
    let page = s3
        .list_parts()
        .bucket(&bucket)
        .key("k")
        .upload_id(&id)
        .part_number_marker("3")
        .send()
        .await
        .unwrap();
    let numbers: Vec<i32> = page
        .parts()
        .iter()
        .filter_map(|p| p.part_number())
        .collect();
    assert_eq!(numbers, [4, 5]);
    assert_eq!(page.is_truncated(), Some(false));
    let page = s3
        .list_parts()
        .bucket(&bucket)
        .key("k")
        .upload_id(&id)
        .part_number_marker("5")
        .send()
        .await
        .unwrap();
    assert!(page.parts().is_empty());
    assert_eq!(page.is_truncated(), Some(false));
    // ListParts of an upload id under another key is NoSuchUpload.
    assert_err(
        s3.list_parts()
            .bucket(&bucket)
            .key("other")
            .upload_id(&id)
            .send()
            .await,
        404,
        Some("NoSuchUpload"),
    );
}

/// One page of ListMultipartUploads: (uploads as (key, id), common prefixes, next markers).
type UploadsPage = (Vec<(String, String)>, Vec<String>, Option<(String, String)>);

async fn uploads_page(
    s3: &Client,
    bucket: &str,
    prefix: Option<&str>,
    delimiter: Option<&str>,
    max: Option<i32>,
    marker: Option<&(String, String)>,
) -> UploadsPage {
    let out = s3
        .list_multipart_uploads()
        .bucket(bucket)
        .set_prefix(prefix.map(str::to_owned))
        .set_delimiter(delimiter.map(str::to_owned))
        .set_max_uploads(max)
        .set_key_marker(marker.map(|m| m.0.clone()))
        .set_upload_id_marker(marker.map(|m| m.1.clone()).filter(|u| !u.is_empty()))
        .send()
        .await
        .unwrap();
    let uploads = out
        .uploads()
        .iter()
        .map(|u| {
            assert!(u.initiated().is_some());
            (
                u.key().unwrap().to_owned(),
                u.upload_id().unwrap().to_owned(),
            )
        })
        .collect();
    let prefixes = out
        .common_prefixes()
        .iter()
        .map(|p| p.prefix().unwrap().to_owned())
        .collect();
    let next = if out.is_truncated() == Some(true) {
        Some((
            out.next_key_marker().expect("NextKeyMarker").to_owned(),
            out.next_upload_id_marker().unwrap_or("").to_owned(),
        ))
    } else {
        None
    };
    (uploads, prefixes, next)
}

/// Every page of a listing, concatenated; also returns the number of pages.
async fn all_uploads(
    s3: &Client,
    bucket: &str,
    prefix: Option<&str>,
    delimiter: Option<&str>,
    max: i32,
) -> (Vec<(String, String)>, Vec<String>, usize) {
    let (mut uploads, mut prefixes, mut pages) = (Vec::new(), Vec::new(), 0);
    let mut marker = None;
    loop {
        let (u, p, next) =
            uploads_page(s3, bucket, prefix, delimiter, Some(max), marker.as_ref()).await;
        assert!(
            u.len() + p.len() <= max as usize,
            "page over max: {u:?} {p:?}"
        );
        uploads.extend(u);
        prefixes.extend(p);
        pages += 1;
        assert!(pages < 20, "no end to the listing");
        match next {
            Some(n) => marker = Some(n),
            None => return (uploads, prefixes, pages),
        }
    }
}

#[tokio::test]
async fn list_multipart_uploads_pagination_prefix_delimiter() {
    let srv = Server::start();
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "mp-listuploads").await;
    let keys = ["a/1", "a/2", "b", "b", "b", "c/x/y", "d"];
    let mut all = Vec::new();
    for k in keys {
        all.push((k.to_owned(), create(&s3, &bucket, k).await));
    }
    // Keys ascending; uploads of one key in the order the server lists them.
    let (everything, prefixes, _) = all_uploads(&s3, &bucket, None, None, 1000).await;
    assert!(prefixes.is_empty());
    let mut sorted = all.clone();
    sorted.sort();
    let mut listed_sorted = everything.clone();
    listed_sorted.sort();
    assert_eq!(listed_sorted, sorted);
    assert!(
        everything.windows(2).all(|w| w[0].0 <= w[1].0),
        "keys not ascending: {everything:?}"
    );

    // Pages of 2 (and of 1, so one key's uploads straddle pages) give the same list.
    for max in [1, 2, 3] {
        let (paged, prefixes, pages) = all_uploads(&s3, &bucket, None, None, max).await;
        assert_eq!(paged, everything, "max-uploads={max}");
        assert!(prefixes.is_empty());
        assert_eq!(
            pages,
            keys.len().div_ceil(max as usize),
            "max-uploads={max}"
        );
    }
    let (first, _, next) = uploads_page(&s3, &bucket, None, None, Some(2), None).await;
    assert_eq!(first, everything[..2]);
    assert_eq!(
        next,
        Some(everything[1].clone()),
        "NextKeyMarker/NextUploadIdMarker"
    );
    // A key marker alone skips every upload of that key.
    let (after_b, _, _) = uploads_page(
        &s3,
        &bucket,
        None,
        None,
        None,
        Some(&("b".to_owned(), String::new())),
    )
    .await;
    assert_eq!(after_b, everything[5..]);

    // Prefix.
    let (under_a, prefixes, _) = all_uploads(&s3, &bucket, Some("a/"), None, 1).await;
    assert_eq!(under_a, everything[..2]);
    assert!(prefixes.is_empty());

    // Delimiter: a/ and c/ roll up; b's three uploads and d are listed.
    let want_uploads: Vec<(String, String)> = everything
        .iter()
        .filter(|(k, _)| !k.contains('/'))
        .cloned()
        .collect();
    for max in [1, 2, 1000] {
        let (uploads, prefixes, _) = all_uploads(&s3, &bucket, None, Some("/"), max).await;
        assert_eq!(uploads, want_uploads, "delimiter, max-uploads={max}");
        assert_eq!(prefixes, ["a/", "c/"], "delimiter, max-uploads={max}");
    }
    let (uploads, prefixes, _) = all_uploads(&s3, &bucket, Some("c/"), Some("/"), 1000).await;
    assert!(uploads.is_empty());
    assert_eq!(prefixes, ["c/x/"]);
}

// ---- checksums ----

#[tokio::test]
async fn crc32_composite_checksum() {
    let srv = Server::start();
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "mp-crc32").await;
    let created = s3
        .create_multipart_upload()
        .bucket(&bucket)
        .key("k")
        .checksum_algorithm(ChecksumAlgorithm::Crc32)
        .send()
        .await
        .unwrap();
    assert_eq!(
        created.checksum_algorithm(),
        Some(&ChecksumAlgorithm::Crc32)
    );
    let id = created.upload_id().unwrap().to_owned();
    let parts = [pattern(PART, 91), pattern(MIB + 3, 92)];
    let mut completed_parts = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        let n = i as i32 + 1;
        let want = B64.encode(crc32(p).to_be_bytes());
        let out = s3
            .upload_part()
            .bucket(&bucket)
            .key("k")
            .upload_id(&id)
            .part_number(n)
            .checksum_algorithm(ChecksumAlgorithm::Crc32)
            .body(ByteStream::from(p.clone()))
            .send()
            .await
            .unwrap();
        assert_eq!(out.checksum_crc32(), Some(want.as_str()), "part {n}");
        completed_parts.push(
            CompletedPart::builder()
                .part_number(n)
                .e_tag(out.e_tag().unwrap())
                .checksum_crc32(want)
                .build(),
        );
    }
    // crc32 of the concatenated big-endian part crc32s.
    let mut of_crcs = crc32fast::Hasher::new();
    for p in &parts {
        of_crcs.update(&crc32(p).to_be_bytes());
    }
    let composite = format!("{}-2", B64.encode(of_crcs.finalize().to_be_bytes()));

    let out = s3
        .complete_multipart_upload()
        .bucket(&bucket)
        .key("k")
        .upload_id(&id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(completed_parts))
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(out.checksum_crc32(), Some(composite.as_str()));
    assert_eq!(out.checksum_type(), Some(&ChecksumType::Composite));

    let head = s3
        .head_object()
        .bucket(&bucket)
        .key("k")
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    assert_eq!(head.checksum_crc32(), Some(composite.as_str()));
    assert_eq!(head.checksum_type(), Some(&ChecksumType::Composite));
    // The SDK skips validating a composite checksum on GET; the body is still whole.
    assert!(get_bytes(&s3, &bucket, "k").await == parts.concat());
}

/// Uploads two parts under `algorithm` (with `kind` when given) and returns the HeadObject.
async fn full_object_upload(
    s3: &Client,
    bucket: &str,
    key: &str,
    algorithm: ChecksumAlgorithm,
    kind: Option<ChecksumType>,
    parts: &[Vec<u8>],
) -> aws_sdk_s3::operation::head_object::HeadObjectOutput {
    let created = s3
        .create_multipart_upload()
        .bucket(bucket)
        .key(key)
        .checksum_algorithm(algorithm.clone())
        .set_checksum_type(kind)
        .send()
        .await
        .unwrap();
    assert_eq!(created.checksum_type(), Some(&ChecksumType::FullObject));
    let id = created.upload_id().unwrap().to_owned();
    let mut named = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        let n = i as i32 + 1;
        let out = s3
            .upload_part()
            .bucket(bucket)
            .key(key)
            .upload_id(&id)
            .part_number(n)
            .checksum_algorithm(algorithm.clone())
            .body(ByteStream::from(p.clone()))
            .send()
            .await
            .unwrap();
        named.push((n, out.e_tag().unwrap().to_owned()));
    }
    let out = complete(s3, bucket, key, &id, &named).await.unwrap();
    assert_eq!(out.checksum_type(), Some(&ChecksumType::FullObject));
    s3.head_object()
        .bucket(bucket)
        .key(key)
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn full_object_checksums() {
    let srv = Server::start();
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "mp-fullobj").await;
    let parts = vec![pattern(PART, 101), pattern(333_333, 102)];
    let data = parts.concat();

    let head = full_object_upload(
        &s3,
        &bucket,
        "crc64",
        ChecksumAlgorithm::Crc64Nvme,
        None,
        &parts,
    )
    .await;
    assert_eq!(
        head.checksum_crc64_nvme(),
        Some(crc64nvme_b64(&data).as_str())
    );
    assert_eq!(head.checksum_type(), Some(&ChecksumType::FullObject));

    let head = full_object_upload(
        &s3,
        &bucket,
        "crc32",
        ChecksumAlgorithm::Crc32,
        Some(ChecksumType::FullObject),
        &parts,
    )
    .await;
    let want = B64.encode(crc32(&data).to_be_bytes());
    assert_eq!(head.checksum_crc32(), Some(want.as_str()));
    assert_eq!(head.checksum_type(), Some(&ChecksumType::FullObject));

    // GET with checksum mode lets the SDK validate the full-object CRC64NVME itself.
    let got = s3
        .get_object()
        .bucket(&bucket)
        .key("crc64")
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.checksum_crc64_nvme(),
        Some(crc64nvme_b64(&data).as_str())
    );
    assert!(got.body.collect().await.unwrap().into_bytes().as_ref() == data.as_slice());
}

/// Uploads two parts with `s3` to an upload created without a checksum algorithm, completes
/// it and returns (the CRC64NVME HeadObject reports, its checksum type, the expected value).
async fn default_checksum_case(
    s3: &Client,
    bucket: &str,
    key: &str,
) -> (Option<String>, Option<ChecksumType>, String) {
    let parts = [pattern(PART, 111), pattern(12_345, 112)];
    let id = create(s3, bucket, key).await;
    let mut named = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        let n = i as i32 + 1;
        named.push((n, upload_part(s3, bucket, key, &id, n, p).await));
    }
    complete(s3, bucket, key, &id, &named).await.unwrap();
    let head = s3
        .head_object()
        .bucket(bucket)
        .key(key)
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    (
        head.checksum_crc64_nvme().map(str::to_owned),
        head.checksum_type().cloned(),
        crc64nvme_b64(&parts.concat()),
    )
}

#[tokio::test]
async fn default_checksum_is_full_object_crc64nvme() {
    let srv = Server::start();
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "mp-default").await;
    // Parts sent without any checksum header.
    let (got, kind, want) =
        default_checksum_case(&client_without_checksums(&s3), &bucket, "bare").await;
    assert_eq!(got, Some(want));
    assert_eq!(kind, Some(ChecksumType::FullObject));
}

/// The same with the SDK's default request checksums: aws-sdk-s3 sends
/// `x-amz-checksum-crc32` with every UploadPart even though the upload named no algorithm.
#[tokio::test]
async fn default_checksum_with_sdk_default_part_checksums() {
    let srv = Server::start();
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "mp-default-sdk").await;
    let (got, kind, want) = default_checksum_case(&s3, &bucket, "sdk-default").await;
    assert_eq!(got, Some(want));
    assert_eq!(kind, Some(ChecksumType::FullObject));
}

// ---- crash safety ----

#[tokio::test]
async fn upload_survives_kill9_mid_upload() {
    let mut srv = Server::start();
    if srv.skip_external("needs a spawned server to kill") {
        return;
    }
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "mp-kill9").await;
    let id = create(&s3, &bucket, "k").await;
    let parts = [pattern(PART, 121), pattern(PART, 122), pattern(777, 123)];
    let e1 = upload_part(&s3, &bucket, "k", &id, 1, &parts[0]).await;
    let e2 = upload_part(&s3, &bucket, "k", &id, 2, &parts[1]).await;

    srv.kill9_and_restart();
    let s3 = srv.client();
    let (uploads, _, _) = uploads_page(&s3, &bucket, None, None, None, None).await;
    assert_eq!(uploads, [("k".to_owned(), id.clone())]);
    let listed = s3
        .list_parts()
        .bucket(&bucket)
        .key("k")
        .upload_id(&id)
        .send()
        .await
        .unwrap();
    let listed: Vec<(i32, String)> = listed
        .parts()
        .iter()
        .map(|p| (p.part_number().unwrap(), p.e_tag().unwrap().to_owned()))
        .collect();
    assert_eq!(listed, [(1, e1.clone()), (2, e2.clone())]);

    let e3 = upload_part(&s3, &bucket, "k", &id, 3, &parts[2]).await;
    let out = complete(&s3, &bucket, "k", &id, &[(1, e1), (2, e2), (3, e3)])
        .await
        .unwrap();
    assert_eq!(out.e_tag(), Some(multipart_etag(&parts).as_str()));
    assert!(get_bytes(&s3, &bucket, "k").await == parts.concat());
}

// ---- scale ----

/// 1,000 parts of 5 MiB, each an UploadPartCopy of one source object (5,000 MiB written on
/// the server), then one Complete. Run with `--ignored`; prints its timings.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "about 85 s here (5,000 MiB of part blobs written); run with --ignored to time it"]
async fn thousand_part_upload_timed() {
    const PARTS: usize = 1000;
    let run = Instant::now();
    let srv = Server::start();
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "mp-thousand").await;
    let source = pattern(PART, 131);
    put(&s3, &bucket, "source", &source).await;
    let id = create(&s3, &bucket, "big").await;

    let copies = Instant::now();
    let mut named = Vec::with_capacity(PARTS);
    let numbers: Vec<i32> = (1..=PARTS as i32).collect();
    for chunk in numbers.chunks(8) {
        let mut tasks = tokio::task::JoinSet::new();
        for &n in chunk {
            let (s3, bucket, id) = (s3.clone(), bucket.clone(), id.clone());
            tasks.spawn(async move {
                let out = s3
                    .upload_part_copy()
                    .bucket(&bucket)
                    .key("big")
                    .upload_id(&id)
                    .part_number(n)
                    .copy_source(format!("{bucket}/source"))
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("copy part {n}: {e:?}"));
                let etag = out.copy_part_result().unwrap().e_tag().unwrap().to_owned();
                (n, etag)
            });
        }
        while let Some(done) = tasks.join_next().await {
            named.push(done.expect("copy task"));
        }
    }
    named.sort();
    let copies = copies.elapsed();

    let completing = Instant::now();
    let out = complete(&s3, &bucket, "big", &id, &named).await.unwrap();
    let completing = completing.elapsed();
    // multipart_etag over 1,000 copies would hash 5,000 MiB locally: hash the source once.
    let part_md5 = Md5::digest(&source);
    let mut md5s = Md5::new();
    for _ in 0..PARTS {
        md5s.update(part_md5);
    }
    let want = format!("\"{}-{PARTS}\"", hex::encode(md5s.finalize()));
    assert_eq!(out.e_tag(), Some(want.as_str()));

    let total = (PARTS * PART) as i64;
    let head = s3
        .head_object()
        .bucket(&bucket)
        .key("big")
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_length(), Some(total));
    let got = s3
        .get_object()
        .bucket(&bucket)
        .key("big")
        .part_number(PARTS as i32)
        .send()
        .await
        .unwrap();
    assert_eq!(got.parts_count(), Some(PARTS as i32));
    assert_eq!(
        got.content_range(),
        Some(format!("bytes {}-{}/{total}", (PARTS - 1) * PART, total - 1).as_str())
    );
    assert!(got.body.collect().await.unwrap().into_bytes().as_ref() == source.as_slice());
    // Across the boundary between parts 500 and 501.
    let at = 500 * PART;
    let got = s3
        .get_object()
        .bucket(&bucket)
        .key("big")
        .range(format!("bytes={}-{}", at - 5, at + 4))
        .send()
        .await
        .unwrap();
    let body = got.body.collect().await.unwrap().into_bytes();
    assert!(body.as_ref() == [&source[PART - 5..], &source[..5]].concat().as_slice());
    eprintln!(
        "1,000-part upload: {copies:?} for the UploadPartCopy calls, {completing:?} for \
         CompleteMultipartUpload, {:?} for the whole run",
        run.elapsed()
    );
}

#[tokio::test]
async fn a_retried_complete_gets_the_same_200_and_foreign_upload_ids_are_refused() {
    let srv = Server::start();
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "mp-retry").await;
    let id = create(&s3, &bucket, "k").await;
    let p1 = pattern(PART, 81);
    let p2 = pattern(777, 82);
    let e1 = upload_part(&s3, &bucket, "k", &id, 1, &p1).await;
    let e2 = upload_part(&s3, &bucket, "k", &id, 2, &p2).await;
    let parts = [(1, e1), (2, e2)];
    let first = complete(&s3, &bucket, "k", &id, &parts).await.unwrap();
    // The SDK lost the answer and sends the same Complete again.
    let again = complete(&s3, &bucket, "k", &id, &parts).await.unwrap();
    assert_eq!(again.e_tag(), first.e_tag());
    assert_eq!(again.key(), Some("k"));
    assert!(get_bytes(&s3, &bucket, "k").await == [&p1[..], &p2[..]].concat());
    if srv.is_external() {
        return;
    }
    // Once another write replaced the object, the upload is really gone.
    crate::harness::put(&s3, &bucket, "k", b"newer").await;
    assert_err(
        complete(&s3, &bucket, "k", &id, &parts).await,
        404,
        Some("NoSuchUpload"),
    );
    // Upload ids this server never made are refused before they reach the index.
    for bogus in [
        "x",
        "../../etc",
        &id[..16],
        id.to_uppercase().as_str(),
        "0123456789abcdef0123456789abcdeg",
    ] {
        let r = s3
            .upload_part()
            .bucket(&bucket)
            .key("k")
            .upload_id(bogus)
            .part_number(1)
            .body(ByteStream::from_static(b"x"))
            .send()
            .await;
        assert_err(r, 404, Some("NoSuchUpload"));
        let r = s3
            .list_parts()
            .bucket(&bucket)
            .key("k")
            .upload_id(bogus)
            .send()
            .await;
        assert_err(r, 404, Some("NoSuchUpload"));
    }
}
