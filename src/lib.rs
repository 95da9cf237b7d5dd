//! cnx-storage: an S3-compatible object storage gateway with a JSON management surface.
//!
//! The layers, the write path and the key layout are in `docs/ARCHITECTURE.md`; the layer of
//! each module is in [`layering::LAYERS`], which a test holds every import to.

// The parser-only build (for the fuzz targets) leaves the server's wiring unused.
#![cfg_attr(not(feature = "rocksdb"), allow(unused))]

pub mod access;
pub mod accesslog;
pub mod api;
pub mod auth;
pub mod bench;
pub mod blob;
pub mod checksum;
pub mod cipher;
#[cfg(feature = "rocksdb")]
pub mod cli;
pub mod clock;
pub mod config;
pub mod cors;
pub mod credentials;
pub mod error;
pub mod integrity;
pub mod layering;
pub mod lifecycle;
pub mod meta;
pub mod s3;
pub mod schedule;
pub mod scrub;
pub mod server;
pub mod store;
pub mod web;
pub mod xml;
