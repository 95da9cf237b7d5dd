//! Reads are verified: a blob whose bytes changed on disk is never served as a good object,
//! and `cnx-storage scrub` finds corrupt, missing and orphaned blobs.

use std::path::{Path, PathBuf};

use aws_sdk_s3::primitives::ByteStream;
use serde_json::Value;

use crate::harness::{assert_err, get_bytes, pattern, Server};

const MIB: usize = 1 << 20;

/// The blob files under the data dir, by path.
fn blob_paths(data: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![data.join("blobs")];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                out.push(e.path());
            }
        }
    }
    out
}

/// Puts `data` as the only object of a new bucket; returns the bucket and its blob's path.
async fn single_blob(srv: &Server, prefix: &str, data: &[u8]) -> (String, PathBuf) {
    let client = srv.client();
    let bucket = srv.bucket(&client, prefix).await;
    let before = blob_paths(srv.data_dir());
    client
        .put_object()
        .bucket(&bucket)
        .key("obj")
        .body(ByteStream::from(data.to_vec()))
        .send()
        .await
        .unwrap();
    let after = blob_paths(srv.data_dir());
    let new: Vec<PathBuf> = after.into_iter().filter(|p| !before.contains(p)).collect();
    assert_eq!(new.len(), 1, "{new:?}");
    (bucket, new[0].clone())
}

fn flip(path: &Path, at: usize) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[at] ^= 0x01;
    std::fs::write(path, bytes).unwrap();
}

/// GET through aws-sdk-s3: the status, or the error of reading the body.
async fn get(srv: &Server, bucket: &str, range: Option<&str>) -> Result<Vec<u8>, String> {
    let mut req = srv.client().get_object().bucket(bucket).key("obj");
    if let Some(r) = range {
        req = req.range(r);
    }
    let out = req.send().await.map_err(|e| {
        let code = aws_sdk_s3::error::ProvideErrorMetadata::code(&e)
            .unwrap_or("?")
            .to_owned();
        let status = e.raw_response().map_or(0, |r| r.status().as_u16());
        format!("{status} {code}")
    })?;
    match out.body.collect().await {
        Ok(b) => Ok(b.into_bytes().to_vec()),
        Err(e) => Err(format!("body cut off: {e}")),
    }
}

async fn corrupt_reads(srv: &Server) -> u64 {
    let r =
        crate::harness::raw_request("GET", &format!("{}/health", srv.endpoint()), &[], "").await;
    let v: Value = serde_json::from_slice(&r.body).unwrap();
    v["corrupt_reads"].as_u64().unwrap()
}

#[tokio::test]
async fn a_flipped_byte_is_never_served() {
    let srv = Server::start();
    if srv.skip_external("corrupts the server's own files") {
        return;
    }
    let data = pattern(3 * MIB + 100, 7);
    let (bucket, blob) = single_blob(&srv, "flip", &data).await;
    assert_eq!(get(&srv, &bucket, None).await.unwrap(), data);

    // A flip in the second chunk: the first MiB may go out, the response never ends cleanly.
    flip(&blob, MIB + MIB / 2);
    let whole = get(&srv, &bucket, None).await;
    assert!(whole.is_err(), "a corrupt object was served whole");
    // Ranges in good chunks are still served, and exactly.
    assert_eq!(
        get(&srv, &bucket, Some("bytes=10-1009")).await.unwrap(),
        &data[10..1010]
    );
    assert_eq!(
        get(&srv, &bucket, Some("bytes=2097152-2097251"))
            .await
            .unwrap(),
        &data[2 * MIB..2 * MIB + 100]
    );
    // A range that starts in the bad chunk is refused before any header: a clean 500.
    let bad = get(&srv, &bucket, Some("bytes=1572864-1572900")).await;
    assert_eq!(bad.unwrap_err(), "500 InternalError");

    // A flip in the first chunk: the whole GET is a clean 500.
    let (bucket2, blob2) = single_blob(&srv, "flip0", &data).await;
    flip(&blob2, 5);
    assert_eq!(
        get(&srv, &bucket2, None).await.unwrap_err(),
        "500 InternalError"
    );
    assert!(corrupt_reads(&srv).await >= 3);

    // The server keeps serving everything else.
    let client = srv.client();
    crate::harness::put(&client, &bucket, "fine", b"still fine").await;
    assert_eq!(get_bytes(&client, &bucket, "fine").await, b"still fine");
}

#[tokio::test]
async fn truncated_and_missing_blobs_are_500() {
    let srv = Server::start();
    if srv.skip_external("corrupts the server's own files") {
        return;
    }
    let data = pattern(2 * MIB + 5, 9);
    let (bucket, blob) = single_blob(&srv, "trunc", &data).await;
    let f = std::fs::OpenOptions::new().write(true).open(&blob).unwrap();
    f.set_len((MIB + 10) as u64).unwrap();
    drop(f);
    assert!(get(&srv, &bucket, None).await.is_err());
    assert_eq!(
        get(&srv, &bucket, Some("bytes=1048576-1048580"))
            .await
            .unwrap_err(),
        "500 InternalError"
    );
    assert_eq!(
        get(&srv, &bucket, Some("bytes=0-99")).await.unwrap(),
        &data[..100]
    );

    let (bucket2, blob2) = single_blob(&srv, "gone", &data).await;
    std::fs::remove_file(&blob2).unwrap();
    assert_eq!(
        get(&srv, &bucket2, None).await.unwrap_err(),
        "500 InternalError"
    );
    // HEAD needs no bytes and still answers from the index.
    srv.client()
        .head_object()
        .bucket(&bucket2)
        .key("obj")
        .send()
        .await
        .unwrap();
    // Copying a corrupt object fails rather than spreading the damage.
    let e = srv
        .client()
        .copy_object()
        .bucket(&bucket2)
        .key("copy")
        .copy_source(format!("{bucket2}/obj"))
        .send()
        .await;
    assert_err(e, 500, Some("InternalError"));
}

pub(crate) fn scrub(srv: &Server, extra: &[&str]) -> (i32, Value) {
    let out = srv
        .command()
        .arg("scrub")
        .arg("--data-dir")
        .arg(srv.data_dir())
        .args(extra)
        .env_remove("CNX_CONFIG")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!(
            "scrub printed no JSON ({e}): {text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), v)
}

#[tokio::test]
async fn scrub_reports_corrupt_missing_and_orphaned_blobs() {
    let srv = Server::start();
    if srv.skip_external("scrubs the server's own data dir") {
        return;
    }
    let data = pattern(MIB + 3, 11);
    let (good, _) = single_blob(&srv, "s-good", &data).await;
    let (flipped, flipped_blob) = single_blob(&srv, "s-flip", &data).await;
    let (gone, gone_blob) = single_blob(&srv, "s-gone", &data).await;

    // Clean first, while the server runs.
    let (code, report) = scrub(&srv, &["--orphans-older-than", "0"]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["blobs_checked"], 3, "{report}");
    assert_eq!(report["orphaned"], serde_json::json!([]), "{report}");

    flip(&flipped_blob, MIB + 1);
    std::fs::remove_file(&gone_blob).unwrap();
    let orphan_id = "0123456789abcdef0123456789abcdef";
    let orphan = srv.data_dir().join("blobs/01").join(orphan_id);
    std::fs::create_dir_all(orphan.parent().unwrap()).unwrap();
    std::fs::write(&orphan, b"nobody's").unwrap();

    let (code, report) = scrub(&srv, &["--orphans-older-than", "0"]);
    assert_eq!(code, 3, "{report}");
    let corrupt = report["corrupt"].as_array().unwrap();
    assert_eq!(corrupt.len(), 1, "{report}");
    assert_eq!(corrupt[0]["bucket"], flipped.as_str());
    assert_eq!(corrupt[0]["key"], "obj");
    assert!(
        corrupt[0]["detail"].as_str().unwrap().contains("chunk 1"),
        "{report}"
    );
    let missing = report["missing"].as_array().unwrap();
    assert_eq!(missing.len(), 1, "{report}");
    assert_eq!(missing[0]["bucket"], gone.as_str());
    assert_eq!(
        report["orphaned"],
        serde_json::json!([orphan_id]),
        "{report}"
    );

    // One bucket only: its objects, no orphan search.
    let (code, report) = scrub(&srv, &["--bucket", &good]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["blobs_checked"], 1);
    assert!(report["orphaned"].is_null());
}

/// The scrubber's last pass as `/health` shows it.
async fn last_scrub_pass(srv: &Server) -> Value {
    let r =
        crate::harness::raw_request("GET", &format!("{}/health", srv.endpoint()), &[], "").await;
    let v: Value = serde_json::from_slice(&r.body).unwrap();
    v["scrub"]["last_pass"].clone()
}

#[tokio::test]
async fn the_background_scrubber_finds_bad_blobs_at_its_own_pace() {
    // A pass every 3.6 s, reading at most 4 MiB/s.
    let mut srv = Server::start_with_config(
        "[scrub]\nevery_hours = 0.001\nmax_mib_per_sec = 4\norphans_older_than_secs = 0\n",
    );
    if srv.skip_external("scrubs the server's own data dir") {
        return;
    }
    single_blob(&srv, "bg-good", &pattern(8 * MIB, 1)).await;
    let data = pattern(MIB + 3, 2);
    let (flipped, flipped_blob) = single_blob(&srv, "bg-flip", &data).await;
    let (gone, gone_blob) = single_blob(&srv, "bg-gone", &data).await;
    flip(&flipped_blob, 7);
    std::fs::remove_file(&gone_blob).unwrap();

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let pass = loop {
        let pass = last_scrub_pass(&srv).await;
        if pass["corrupt"] == 1 && pass["missing"] == 1 {
            break pass;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no pass found the bad blobs: {pass}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    };
    // The 8 MiB good blob was read whole, and no faster than the cap allows.
    assert!(
        pass["bytes_checked"].as_u64().unwrap() >= 8 * MIB as u64,
        "{pass}"
    );
    assert!(pass["seconds"].as_f64().unwrap() >= 1.5, "{pass}");
    assert_eq!(pass["orphaned"], 0, "{pass}");

    // The findings, by object, are in the data dir, and survive a restart.
    let report: Value =
        serde_json::from_slice(&std::fs::read(srv.data_dir().join("scrub-report.json")).unwrap())
            .unwrap();
    assert_eq!(report["report"]["corrupt"][0]["bucket"], flipped.as_str());
    assert_eq!(report["report"]["missing"][0]["bucket"], gone.as_str());
    assert_eq!(report["report"]["corrupt"][0]["key"], "obj");
    srv.restart();
    let after = last_scrub_pass(&srv).await;
    assert!(after["finished_at"].is_string(), "{after}");
}
