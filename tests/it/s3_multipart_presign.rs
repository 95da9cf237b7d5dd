//! Browser-style multipart: parts sent to presigned UploadPart URLs.

use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};

use crate::harness::{get_bytes, pattern, raw_presigned, Server};

#[tokio::test]
async fn presigned_upload_part_urls_build_an_object() {
    let srv = Server::start();
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "mp-presign").await;
    let created = s3
        .create_multipart_upload()
        .bucket(&bucket)
        .key("browser upload.bin")
        .content_type("video/mp4")
        .send()
        .await
        .unwrap();
    let upload_id = created.upload_id().unwrap().to_owned();
    let data = pattern((5 << 20) + 4321, 99);
    let mut completed = Vec::new();
    for (i, chunk) in data.chunks(5 << 20).enumerate() {
        let n = i as i32 + 1;
        let presigned = s3
            .upload_part()
            .bucket(&bucket)
            .key("browser upload.bin")
            .upload_id(&upload_id)
            .part_number(n)
            .presigned(PresigningConfig::expires_in(Duration::from_secs(600)).unwrap())
            .await
            .unwrap();
        let resp = raw_presigned(&presigned, &[], chunk.to_vec()).await;
        assert_eq!(resp.status, 200, "part {n}: {}", resp.text());
        let etag = resp.header("etag").expect("part ETag").to_owned();
        completed.push(CompletedPart::builder().part_number(n).e_tag(etag).build());
    }
    let done = s3
        .complete_multipart_upload()
        .bucket(&bucket)
        .key("browser upload.bin")
        .upload_id(&upload_id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(completed))
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert!(
        done.e_tag().unwrap().ends_with("-2\""),
        "{:?}",
        done.e_tag()
    );
    assert_eq!(get_bytes(&s3, &bucket, "browser upload.bin").await, data);
    let head = s3
        .head_object()
        .bucket(&bucket)
        .key("browser upload.bin")
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_type(), Some("video/mp4"));
}
