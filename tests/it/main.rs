//! Integration tests: the real `cnx-storage` binary, driven over loopback by aws-sdk-s3 and a
//! raw HTTP client. Each test starts its own server (fresh data dir, random root keys).
//!
//! `CNX_TEST_ENDPOINT=http://127.0.0.1:PORT cargo test --test it` runs the same tests against
//! an already-running S3 server (e.g. `python3 -m moto.server -p PORT`) to check the tests'
//! own expectations; checks only cnx-storage can pass are skipped in that mode.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api_accounts;
mod api_bucket_keys;
mod api_buckets;
mod api_jwt;
mod api_limits;
mod api_presign;
mod bad_input;
mod bench_tool;
mod blob_backends;
mod cli_keys;
mod conn_limits;
mod crash_soak;
mod enospc;
mod harness;
mod migrate;
mod multi_gateway;
mod operability;
mod s3_auth;
mod s3_bucket;
mod s3_checksum;
mod s3_conditional;
mod s3_copy;
mod s3_cors;
mod s3_hard_keys;
mod s3_lifecycle;
mod s3_list;
mod s3_multipart;
mod s3_multipart_presign;
mod s3_object;
mod s3_object_lock;
mod s3_presign;
mod s3_sse;
mod s3_versioning;
mod secrets_at_rest;
mod server;
mod signed_headers;
mod verified_reads;
mod xml_golden;
