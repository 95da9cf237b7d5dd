//! RocksDB implementation of `IndexStatus`: the deletion queue's length and the engine's
//! figures that warn of trouble before latency shows it (compaction debt, level-0 files,
//! write stalls).

use rocksdb::statistics::Ticker;

use super::rocks::{RocksMeta, ALL_CFS, CF_GC};
use super::stats::{EngineStat, IndexStats, IndexStatus, EXACT_GC_COUNT};
use crate::error::Result;

impl RocksMeta {
    /// A property summed over every column family (RocksDB reports most per family).
    fn summed(&self, property: &str) -> Result<u64> {
        let mut total = 0;
        for name in ALL_CFS {
            let cf = self.cf(name)?;
            total += self.db.property_int_value_cf(cf, property)?.unwrap_or(0);
        }
        Ok(total)
    }

    fn db_property(&self, property: &str) -> Result<u64> {
        Ok(self.db.property_int_value(property)?.unwrap_or(0))
    }

    fn gc_queued(&self) -> Result<u64> {
        let cf = self.cf(CF_GC)?;
        // A count must not push the records requests need out of the block cache.
        let mut opts = rocksdb::ReadOptions::default();
        opts.fill_cache(false);
        let mut it = self.db.raw_iterator_cf_opt(cf, opts);
        it.seek_to_first();
        let mut n = 0;
        while it.valid() && n < EXACT_GC_COUNT {
            n += 1;
            it.next();
        }
        it.status()?;
        if n < EXACT_GC_COUNT {
            return Ok(n as u64);
        }
        let estimate = self
            .db
            .property_int_value_cf(cf, "rocksdb.estimate-num-keys")?
            .unwrap_or(0);
        Ok(estimate.max(n as u64))
    }
}

impl IndexStatus for RocksMeta {
    fn stats(&self) -> Result<IndexStats> {
        let f = |v: u64| v as f64;
        let engine = vec![
            EngineStat::gauge(
                "rocksdb_pending_compaction_bytes",
                "Bytes RocksDB estimates compaction must rewrite to settle its levels; writes slow down once this grows past its limits.",
                f(self.summed("rocksdb.estimate-pending-compaction-bytes")?),
            ),
            EngineStat::gauge(
                "rocksdb_running_compactions",
                "Compactions running now.",
                f(self.db_property("rocksdb.num-running-compactions")?),
            ),
            EngineStat::gauge(
                "rocksdb_level0_files",
                "SST files in level 0 over all column families; too many slow or stop writes.",
                f(self.summed("rocksdb.num-files-at-level0")?),
            ),
            EngineStat::gauge(
                "rocksdb_write_stopped",
                "1 while RocksDB stops writes until compaction catches up.",
                f(self.db_property("rocksdb.is-write-stopped")?),
            ),
            EngineStat::counter(
                "rocksdb_write_stall_seconds",
                "Time writes were delayed or stopped by RocksDB's write controller.",
                self.opts.get_ticker_count(Ticker::StallMicros) as f64 / 1e6,
            ),
            EngineStat::gauge(
                "rocksdb_live_sst_bytes",
                "Bytes of the SST files the current version of the index uses.",
                f(self.summed("rocksdb.live-sst-files-size")?),
            ),
            EngineStat::gauge(
                "rocksdb_memtable_bytes",
                "Bytes held in memtables (active and waiting to flush).",
                f(self.summed("rocksdb.cur-size-all-mem-tables")?),
            ),
            EngineStat::gauge(
                "rocksdb_block_cache_bytes",
                "Bytes in the block cache all column families share.",
                f(self.db_property("rocksdb.block-cache-usage")?),
            ),
        ];
        Ok(IndexStats {
            gc_queued: Some(self.gc_queued()?),
            engine,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_engine_reports_write_stalls() {
        let dir = tempfile::tempdir().unwrap();
        let m = RocksMeta::open(dir.path(), false).unwrap();
        let names: Vec<_> = m.stats().unwrap().engine.iter().map(|s| s.name).collect();
        assert!(names.contains(&"rocksdb_write_stall_seconds"), "{names:?}");
    }

    #[test]
    fn every_column_family_is_summed() {
        let dir = tempfile::tempdir().unwrap();
        drop(RocksMeta::open(dir.path(), false).unwrap());
        let mut opened = rocksdb::DB::list_cf(&rocksdb::Options::default(), dir.path()).unwrap();
        opened.retain(|n| n != "default");
        opened.sort();
        let mut listed: Vec<_> = ALL_CFS.iter().map(|s| s.to_string()).collect();
        listed.sort();
        assert_eq!(opened, listed);
    }
}
