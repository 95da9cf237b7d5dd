//! cnx-storage: an S3-compatible object storage gateway with a JSON management surface.
//!
//! Layers (dependencies point down only):
//!
//! ```text
//! server (accept, router, request ids, panic guard)
//!   ├─ s3 (endpoint → handler per operation, XML errors)     auth (SigV4, presign, aws-chunked)
//!   └─ api (JSON management surface under /storage/)
//!        └─ store (buckets, objects, write order, orphan guard)
//!             ├─ meta (MetaStore trait; RocksDB)
//!             └─ blob (object_store: local, memory, S3, GCS, Azure)
//! ```
//! `config`, `error`, `checksum`, `integrity` and `xml` are shared by all layers.

// The parser-only build (for the fuzz targets) leaves the server's wiring unused.
#![cfg_attr(not(feature = "rocksdb"), allow(unused))]

pub mod access;
pub mod api;
pub mod auth;
pub mod blob;
pub mod checksum;
#[cfg(feature = "rocksdb")]
pub mod cli;
pub mod config;
pub mod cors;
pub mod credentials;
pub mod error;
pub mod integrity;
pub mod meta;
pub mod s3;
pub mod scrub;
pub mod server;
pub mod store;
pub mod xml;
