//! What an index reports about itself for `/storage/metrics`: the deletion queue's length,
//! and the figures of its engine an operator watches (compaction debt and write stalls for
//! RocksDB, the connection pool for PostgreSQL).

use crate::error::Result;

/// How far a deletion queue is counted one entry at a time.
pub const EXACT_GC_COUNT: usize = 10_000;

/// One figure of the engine, named without the server's metric prefix.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineStat {
    pub name: &'static str,
    pub help: &'static str,
    /// A count that only grows (else a level that moves both ways).
    pub counter: bool,
    pub value: f64,
}

impl EngineStat {
    pub fn gauge(name: &'static str, help: &'static str, value: f64) -> Self {
        Self {
            name,
            help,
            counter: false,
            value,
        }
    }

    pub fn counter(name: &'static str, help: &'static str, value: f64) -> Self {
        Self {
            name,
            help,
            counter: true,
            value,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct IndexStats {
    /// Blobs queued for deletion, swept once their grace period is over: exact up to
    /// [`EXACT_GC_COUNT`], an engine's estimate beyond (never below it). `None` when the
    /// index could not be asked (the engine's own figures may still be known).
    pub gc_queued: Option<u64>,
    pub engine: Vec<EngineStat>,
}

/// Read on each scrape, so cheap enough for that: nothing walks more than
/// [`EXACT_GC_COUNT`] records.
pub trait IndexStatus {
    fn stats(&self) -> Result<IndexStats>;
}
