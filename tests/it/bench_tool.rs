//! `cnx-storage bench`: the real binary measuring a real server, every workload, with the
//! figures it writes as JSON lines checked against what it was asked to do.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use crate::harness::{Server, REGION};

fn bench(srv: &Server, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cnx-storage"))
        .arg("bench")
        .args(["--endpoint", &srv.endpoint(), "--region", REGION])
        .args([
            "--access-key",
            &srv.access_key,
            "--secret-key",
            &srv.secret_key,
        ])
        .arg("--no-progress")
        .args(args)
        .env_remove("AWS_REGION")
        .output()
        .expect("run cnx-storage bench")
}

fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[track_caller]
fn assert_ok(out: &Output) {
    assert!(
        out.status.success(),
        "bench failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn bucket_names(srv: &Server) -> Vec<String> {
    let listed = srv.client().list_buckets().send().await.unwrap();
    listed
        .buckets()
        .iter()
        .filter_map(|b| b.name().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn every_workload_runs_checked_and_reported() {
    let srv = Server::start();
    if srv.skip_external("reads the server's pid") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("small.jsonl");
    let png = dir.path().join("small.png");
    let pid = srv.pid().unwrap().to_string();
    let out = bench(
        &srv,
        &[
            "--workloads",
            "put,get,head,list,multipart,mixed,delete",
            "--count",
            "40",
            "--size",
            "10KiB",
            "--concurrency",
            "4",
            "--list-page",
            "7",
            "--part-size",
            "5MiB",
            "--server-pid",
            &pid,
            "--label",
            "it",
            "--json",
            json.to_str().unwrap(),
            "--plot",
            png.to_str().unwrap(),
        ],
    );
    assert_ok(&out);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.starts_with("workload"), "{table}");
    let rows = lines(&json);
    let names: Vec<&str> = rows
        .iter()
        .map(|r| r["workload"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["put", "get", "head", "list", "multipart", "mixed", "delete"]
    );
    for r in &rows {
        assert_eq!(r["label"], "it");
        assert_eq!(r["ops"], 40, "{r}");
        assert_eq!(r["errors"], 0, "{r}");
        assert!(r["latency"]["p50_ms"].as_f64().unwrap() > 0.0, "{r}");
        assert!(
            r["latency"]["max_ms"].as_f64() >= r["latency"]["p99_ms"].as_f64(),
            "{r}"
        );
        assert!(r["server"]["peak_rss_mib"].as_f64().unwrap() > 1.0, "{r}");
    }
    let bytes = |i: usize| rows[i]["bytes"].as_u64().unwrap();
    // Every byte PUT was read back by GET; HEAD, LIST and DELETE move none.
    assert_eq!(bytes(0), 40 * 10240);
    assert_eq!(bytes(1), 40 * 10240);
    assert_eq!((bytes(2), bytes(3), bytes(6)), (0, 0, 0));
    assert_eq!(bytes(4), 40 * 10240);
    let png = std::fs::read(&png).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    // The run's own bucket is gone, with everything in it.
    assert!(!bucket_names(&srv)
        .await
        .iter()
        .any(|b| b.starts_with("cnx-bench-")));
}

#[tokio::test]
async fn large_objects_stream_signed_and_presigned() {
    let srv = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("large.jsonl");
    // 12 MiB is past the size sent in one piece: bodies stream, signed payloads are hashed
    // first, multipart sends 5 + 5 + 2 MiB.
    let out = bench(
        &srv,
        &[
            "--workloads",
            "put,get,multipart",
            "--count",
            "2",
            "--size",
            "12MiB",
            "--concurrency",
            "2",
            "--part-size",
            "5MiB",
            "--payload",
            "signed",
            "--presigned",
            "--json",
            json.to_str().unwrap(),
        ],
    );
    assert_ok(&out);
    for r in lines(&json) {
        assert_eq!(r["errors"], 0, "{r}");
        assert_eq!(r["bytes"], 2 * 12 * 1048576, "{r}");
        assert_eq!(r["payload"], "signed");
        assert_eq!(r["presigned"], true);
    }
}

#[tokio::test]
async fn bytes_that_differ_from_what_was_written_are_errors() {
    let srv = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("wrong.jsonl");
    let bucket = srv.unique_bucket("bench-kept");
    let common = [
        "--bucket",
        &bucket,
        "--count",
        "6",
        "--size",
        "5000",
        "--concurrency",
        "2",
    ];
    // Written with one seed and kept...
    let out = bench(
        &srv,
        &[
            &common[..],
            &["--workloads", "put", "--seed", "1", "--keep"],
        ]
        .concat(),
    );
    assert_ok(&out);
    // ...read back as seed 1 they check out, as seed 2 every one is wrong.
    let read = |seed: &'static str| {
        let args = [
            &common[..],
            &[
                "--workloads",
                "get,head",
                "--existing",
                "6",
                "--seed",
                seed,
                "--keep",
            ],
            &["--json", json.to_str().unwrap()],
        ]
        .concat();
        bench(&srv, &args)
    };
    assert_ok(&read("1"));
    // A put after --existing adds objects after those there; all of them read back.
    let grow = |workloads: &'static str, existing: &'static str, count: &'static str| {
        let args = [
            "--bucket",
            &bucket,
            "--size",
            "5000",
            "--concurrency",
            "2",
            "--seed",
            "1",
            "--keep",
            "--workloads",
            workloads,
            "--existing",
            existing,
            "--count",
            count,
        ];
        bench(&srv, &args)
    };
    assert_ok(&grow("put", "6", "3"));
    assert_ok(&grow("get", "9", "9"));
    assert_eq!(key_count(&srv, &bucket).await, Some(9));
    let out = read("2");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("6 operations failed"), "{stderr}");
    let rows = lines(&json);
    assert_eq!(rows[0]["errors"], 6);
    assert_eq!(rows[0]["ops"], 0);
    let first = rows[0]["first_errors"][0].as_str().unwrap();
    assert!(
        first.contains("body differs from what was written at byte "),
        "{first}"
    );
    // HEAD checks only the length, which matches.
    assert_eq!(rows[1]["errors"], 0);
    // A bucket named with --bucket is emptied at the end but kept.
    let out = bench(&srv, &[&common[..], &["--workloads", "put"]].concat());
    assert_ok(&out);
    assert!(bucket_names(&srv).await.contains(&bucket));
    assert_eq!(key_count(&srv, &bucket).await, Some(0));
}

/// Keys in `bucket`, as the first ListObjectsV2 page counts them.
async fn key_count(srv: &Server, bucket: &str) -> Option<i32> {
    let listed = srv
        .client()
        .list_objects_v2()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    listed.key_count()
}

#[test]
fn bad_arguments_are_refused_before_any_request() {
    let srv = Server::start();
    let out = bench(&srv, &["--workloads", "get"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("get needs objects"));
    let out = bench(&srv, &["--size", "4 parsecs"]);
    assert_eq!(out.status.code(), Some(2), "clap refuses it");
    let wrong_region = Command::new(env!("CARGO_BIN_EXE_cnx-storage"))
        .args([
            "bench",
            "--endpoint",
            &srv.endpoint(),
            "--region",
            "xx-nowhere-1",
        ])
        .args([
            "--access-key",
            &srv.access_key,
            "--secret-key",
            &srv.secret_key,
        ])
        .output()
        .unwrap();
    assert_eq!(wrong_region.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&wrong_region.stderr).contains("AuthorizationHeaderMalformed"));
}
