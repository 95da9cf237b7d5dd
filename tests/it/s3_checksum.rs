//! Flexible checksums (header and aws-chunked trailer) and Content-MD5.

use std::io::Write;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, ChecksumMode};
use aws_sdk_s3::Client;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use md5::{Digest, Md5};

use crate::harness::{assert_err, get_bytes, pattern, put, Server};

const ALGORITHMS: [ChecksumAlgorithm; 5] = [
    ChecksumAlgorithm::Crc32,
    ChecksumAlgorithm::Crc32C,
    ChecksumAlgorithm::Crc64Nvme,
    ChecksumAlgorithm::Sha1,
    ChecksumAlgorithm::Sha256,
];

/// The base64 checksum S3 reports for `data` under `algorithm`.
fn checksum(algorithm: &ChecksumAlgorithm, data: &[u8]) -> String {
    match algorithm {
        ChecksumAlgorithm::Crc32 => B64.encode(crc32fast::hash(data).to_be_bytes()),
        ChecksumAlgorithm::Crc32C => B64.encode(crc32c::crc32c(data).to_be_bytes()),
        ChecksumAlgorithm::Crc64Nvme => {
            let mut digest = crc64fast_nvme::Digest::new();
            digest.write(data);
            B64.encode(digest.sum64().to_be_bytes())
        }
        ChecksumAlgorithm::Sha1 => B64.encode(sha1::Sha1::digest(data)),
        ChecksumAlgorithm::Sha256 => B64.encode(sha2::Sha256::digest(data)),
        other => panic!("no checksum for {other:?}"),
    }
}

/// The checksum of `algorithm` a response carries, whichever output type it is.
macro_rules! reported {
    ($out:expr, $algorithm:expr) => {
        match $algorithm {
            ChecksumAlgorithm::Crc32 => $out.checksum_crc32(),
            ChecksumAlgorithm::Crc32C => $out.checksum_crc32_c(),
            ChecksumAlgorithm::Crc64Nvme => $out.checksum_crc64_nvme(),
            ChecksumAlgorithm::Sha1 => $out.checksum_sha1(),
            ChecksumAlgorithm::Sha256 => $out.checksum_sha256(),
            other => panic!("no checksum for {other:?}"),
        }
        .map(str::to_owned)
    };
}

/// A body the SDK has to stream (so it sends aws-chunked with a checksum trailer).
async fn streaming_body(data: &[u8]) -> (ByteStream, tempfile::NamedTempFile) {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(data).unwrap();
    file.flush().unwrap();
    let body = ByteStream::from_path(file.path()).await.unwrap();
    (body, file)
}

async fn get_with_checksums(
    s3: &Client,
    bucket: &str,
    key: &str,
) -> aws_sdk_s3::operation::get_object::GetObjectOutput {
    s3.get_object()
        .bucket(bucket)
        .key(key)
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn default_crc32_in_memory_body() {
    let srv = Server::start();
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "crcmem").await;
    let data = pattern(10_000, 11);
    let out = put(&s3, &bucket, "k", &data).await;
    let expected = checksum(&ChecksumAlgorithm::Crc32, &data);
    assert_eq!(out.checksum_crc32(), Some(expected.as_str()));
    let got = get_with_checksums(&s3, &bucket, "k").await;
    assert_eq!(got.checksum_crc32(), Some(expected.as_str()));
    assert_eq!(
        got.body.collect().await.unwrap().into_bytes().as_ref(),
        data.as_slice()
    );
}

#[tokio::test]
async fn default_crc32_streaming_aws_chunked_trailer() {
    let srv = Server::start();
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "crcstream").await;
    // Several aws-chunked frames, and a size that is not a multiple of any chunk size.
    let data = pattern(300 * 1024 + 3, 12);
    let expected = checksum(&ChecksumAlgorithm::Crc32, &data);

    let (body, _file) = streaming_body(&data).await;
    let out = s3
        .put_object()
        .bucket(&bucket)
        .key("plain")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(out.checksum_crc32(), Some(expected.as_str()));
    assert_eq!(out.e_tag(), Some(crate::harness::etag_of(&data).as_str()));
    let got = get_with_checksums(&s3, &bucket, "plain").await;
    assert_eq!(got.checksum_crc32(), Some(expected.as_str()));
    assert_eq!(
        got.content_length(),
        Some(data.len() as i64),
        "the framing must not be stored"
    );
    assert_eq!(
        got.content_encoding(),
        None,
        "aws-chunked must not be stored as Content-Encoding"
    );
    assert!(got.body.collect().await.unwrap().into_bytes().as_ref() == data.as_slice());

    // A user Content-Encoding survives, without the aws-chunked the SDK adds to it.
    let (body, _file) = streaming_body(&data).await;
    s3.put_object()
        .bucket(&bucket)
        .key("gz")
        .body(body)
        .content_encoding("gzip")
        .send()
        .await
        .unwrap();
    let head = s3
        .head_object()
        .bucket(&bucket)
        .key("gz")
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_encoding(), Some("gzip"));
    assert_eq!(head.content_length(), Some(data.len() as i64));
}

#[tokio::test]
async fn explicit_algorithms_in_header_and_trailer() {
    let srv = Server::start();
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "algos").await;
    let data = pattern(70_000, 13);
    for algorithm in &ALGORITHMS {
        let expected = checksum(algorithm, &data);

        let key = format!("mem-{algorithm}");
        let out = s3
            .put_object()
            .bucket(&bucket)
            .key(&key)
            .checksum_algorithm(algorithm.clone())
            .body(data.clone().into())
            .send()
            .await
            .unwrap();
        assert_eq!(
            reported!(out, algorithm),
            Some(expected.clone()),
            "{key} PUT"
        );
        let got = get_with_checksums(&s3, &bucket, &key).await;
        assert_eq!(
            reported!(got, algorithm),
            Some(expected.clone()),
            "{key} GET"
        );
        let head = s3
            .head_object()
            .bucket(&bucket)
            .key(&key)
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await
            .unwrap();
        assert_eq!(
            reported!(head, algorithm),
            Some(expected.clone()),
            "{key} HEAD"
        );

        let key = format!("stream-{algorithm}");
        let (body, _file) = streaming_body(&data).await;
        let out = s3
            .put_object()
            .bucket(&bucket)
            .key(&key)
            .checksum_algorithm(algorithm.clone())
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(
            reported!(out, algorithm),
            Some(expected.clone()),
            "{key} PUT"
        );
        let got = get_with_checksums(&s3, &bucket, &key).await;
        assert_eq!(
            reported!(got, algorithm),
            Some(expected.clone()),
            "{key} GET"
        );
        assert!(
            got.body.collect().await.unwrap().into_bytes().as_ref() == data.as_slice(),
            "{key} body"
        );
    }
}

#[tokio::test]
async fn wrong_checksum_is_bad_digest() {
    let srv = Server::start();
    if srv.skip_external("moto does not verify x-amz-checksum-* values") {
        return;
    }
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "baddigest").await;
    let data = b"the real body".to_vec();
    for algorithm in &ALGORITHMS {
        let wrong = checksum(algorithm, b"another body");
        let request = s3
            .put_object()
            .bucket(&bucket)
            .key("k")
            .body(data.clone().into());
        let request = match algorithm {
            ChecksumAlgorithm::Crc32 => request.checksum_crc32(wrong),
            ChecksumAlgorithm::Crc32C => request.checksum_crc32_c(wrong),
            ChecksumAlgorithm::Crc64Nvme => request.checksum_crc64_nvme(wrong),
            ChecksumAlgorithm::Sha1 => request.checksum_sha1(wrong),
            ChecksumAlgorithm::Sha256 => request.checksum_sha256(wrong),
            other => panic!("{other:?}"),
        };
        assert_err(request.send().await, 400, Some("BadDigest"));
        assert_err(
            s3.head_object().bucket(&bucket).key("k").send().await,
            404,
            None,
        );
    }
}

#[tokio::test]
async fn no_checksum_on_ranged_get() {
    let srv = Server::start();
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "rangesum").await;
    let data = pattern(4096, 14);
    s3.put_object()
        .bucket(&bucket)
        .key("k")
        .checksum_algorithm(ChecksumAlgorithm::Sha256)
        .body(data.clone().into())
        .send()
        .await
        .unwrap();
    let ranged = s3
        .get_object()
        .bucket(&bucket)
        .key("k")
        .range("bytes=0-99")
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    for algorithm in &ALGORITHMS {
        assert_eq!(
            reported!(ranged, algorithm),
            None,
            "{algorithm} on a ranged GET"
        );
    }
    assert_eq!(
        ranged.body.collect().await.unwrap().into_bytes().as_ref(),
        &data[..100]
    );
}

#[tokio::test]
async fn content_md5() {
    let srv = Server::start();
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "md5").await;
    let data = b"content-md5 body".to_vec();

    let right = B64.encode(Md5::digest(&data));
    s3.put_object()
        .bucket(&bucket)
        .key("ok")
        .body(data.clone().into())
        .content_md5(&right)
        .send()
        .await
        .unwrap();
    assert_eq!(get_bytes(&s3, &bucket, "ok").await, data);
    if srv.skip_external("moto does not verify Content-MD5") {
        return;
    }

    let wrong = B64.encode(Md5::digest(b"other"));
    let result = s3
        .put_object()
        .bucket(&bucket)
        .key("bad")
        .body(data.clone().into())
        .content_md5(wrong)
        .send()
        .await;
    assert_err(result, 400, Some("BadDigest"));
    assert_err(
        s3.head_object().bucket(&bucket).key("bad").send().await,
        404,
        None,
    );

    for malformed in ["not base64!", "AAAA"] {
        let result = s3
            .put_object()
            .bucket(&bucket)
            .key("bad")
            .body(data.clone().into())
            .content_md5(malformed)
            .send()
            .await;
        assert_err(result, 400, Some("InvalidDigest"));
    }
    assert_err(
        s3.head_object().bucket(&bucket).key("bad").send().await,
        404,
        None,
    );
}
