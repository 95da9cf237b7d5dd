//! Cache generations: how a gateway's in-memory caches of index records (unsealed access keys,
//! KMS key states, the buckets that log) learn that another gateway changed what they hold.
//!
//! Each kind of record has a counter that every commit changing such a record raises. An index
//! shared by several gateways keeps the counters in the database and each gateway polls them;
//! a cache that finds its kind's counter moved empties itself. When the poll has not been
//! heard from recently, [`Generations::current`] answers `None` and caches are bypassed, so a
//! change is seen within [`FRESH_FOR`] plus one poll, never later — whatever the network does.
//! An index only one process writes (RocksDB) raises its counters in memory at the commit.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// What a cache holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheKind {
    /// Access keys (revocation, a bucket's keys dropped with it).
    Keys,
    /// KMS keys (enabled or disabled).
    Kms,
    /// Bucket records (deletion, settings such as logging).
    Buckets,
}

impl CacheKind {
    pub const ALL: [CacheKind; 3] = [CacheKind::Keys, CacheKind::Kms, CacheKind::Buckets];

    /// The kind's name in the database.
    pub fn name(self) -> &'static str {
        match self {
            CacheKind::Keys => "keys",
            CacheKind::Kms => "kms",
            CacheKind::Buckets => "buckets",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    fn slot(self) -> usize {
        self as usize
    }
}

/// How often a shared index's counters are read.
pub const POLL_EVERY: Duration = Duration::from_millis(250);
/// How long a poll's answer is trusted, counted from when the poll was sent: with
/// [`POLL_EVERY`] and the database's round trip this keeps a change's reach under a second.
pub const FRESH_FOR: Duration = Duration::from_millis(700);

/// The counters of one index, as this process knows them.
pub struct Generations {
    /// The database's counters as last polled (only ever raised).
    polled_gens: [AtomicU64; 3],
    /// This process's own changes, counted as it commits them. A cache's counter is the sum:
    /// both parts only grow, so every change anywhere moves it, however a poll and a local
    /// change interleave.
    local_gens: [AtomicU64; 3],
    /// `None`: only this process writes the index, its counters are always current.
    /// Otherwise nanoseconds since `epoch()` at which the last answered poll was sent, plus one
    /// (zero: no poll answered yet).
    polled: Option<AtomicU64>,
}

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

impl Generations {
    /// Counters only this process moves.
    pub fn local() -> Self {
        Self {
            polled_gens: Default::default(),
            local_gens: Default::default(),
            polled: None,
        }
    }

    /// Counters another process may move, current only while polled.
    pub fn shared() -> Self {
        epoch();
        Self {
            polled_gens: Default::default(),
            local_gens: Default::default(),
            polled: Some(AtomicU64::new(0)),
        }
    }

    /// The counter of `kind`, or `None` when it cannot be trusted (the poll is late): then a
    /// cache must neither answer from nor keep what it loads.
    pub fn current(&self, kind: CacheKind) -> Option<u64> {
        if let Some(polled) = &self.polled {
            let at = polled.load(Ordering::Acquire);
            if at == 0 {
                return None;
            }
            let sent = epoch() + Duration::from_nanos(at - 1);
            if sent.elapsed() > FRESH_FOR {
                return None;
            }
        }
        let polled = self.polled_gens[kind.slot()].load(Ordering::Acquire);
        let local = self.local_gens[kind.slot()].load(Ordering::Acquire);
        Some(polled.wrapping_add(local))
    }

    /// A change of `kind` committed by this process: its own caches see it at once.
    pub fn bump(&self, kind: CacheKind) {
        self.local_gens[kind.slot()].fetch_add(1, Ordering::AcqRel);
    }

    /// Takes the counters read by a poll sent at `sent`. This process's own changes are
    /// counted twice (in the database and locally), which only empties a cache once more.
    pub fn observe(&self, values: &[(CacheKind, u64)], sent: Instant) {
        for (kind, v) in values {
            self.polled_gens[kind.slot()].fetch_max(*v, Ordering::AcqRel);
        }
        if let Some(polled) = &self.polled {
            // A poll sent before these counters existed says nothing of them.
            if let Some(since) = sent.checked_duration_since(epoch()) {
                polled.fetch_max(since.as_nanos() as u64 + 1, Ordering::AcqRel);
            }
        }
    }
}

/// A cache's view of one kind's counter: whether to use, clear or bypass the cache.
#[derive(Debug, Default)]
pub struct Seen(Option<u64>);

/// What a cache does for one lookup.
#[derive(Debug, PartialEq, Eq)]
pub enum Use {
    /// Answer from the cache (and keep what is loaded).
    Cached,
    /// Empty the cache first: the kind changed since it was filled.
    Cleared,
    /// Leave the cache alone: the counter cannot be trusted.
    Bypass,
}

impl Seen {
    /// Compares the cache's counter with `now` (from [`Generations::current`]) and takes it.
    pub fn check(&mut self, now: Option<u64>) -> Use {
        match now {
            None => Use::Bypass,
            Some(g) if self.0 == Some(g) => Use::Cached,
            Some(g) => {
                self.0 = Some(g);
                Use::Cleared
            }
        }
    }

    /// Whether the cache may answer now that the counter reads `now` (no change to take).
    pub fn matches(&self, now: Option<u64>) -> bool {
        now.is_some() && self.0 == now
    }

    /// Whether what was loaded when the counter read `at` may be kept now that it reads
    /// `now`: only if nothing changed in between (a load that raced a change is not kept).
    pub fn keeps(&self, at: Option<u64>, now: Option<u64>) -> bool {
        at.is_some() && self.0 == at && now == at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_counters_are_always_current() {
        let g = Generations::local();
        let mut seen = Seen::default();
        assert_eq!(seen.check(g.current(CacheKind::Keys)), Use::Cleared);
        assert_eq!(seen.check(g.current(CacheKind::Keys)), Use::Cached);
        g.bump(CacheKind::Keys);
        assert_eq!(seen.check(g.current(CacheKind::Keys)), Use::Cleared);
        g.bump(CacheKind::Kms);
        assert_eq!(seen.check(g.current(CacheKind::Keys)), Use::Cached);
    }

    #[test]
    fn shared_counters_are_trusted_only_while_polled() {
        let g = Generations::shared();
        assert_eq!(g.current(CacheKind::Keys), None, "never polled");
        g.observe(&[(CacheKind::Keys, 7)], Instant::now());
        assert_eq!(g.current(CacheKind::Keys), Some(7));
        let mut seen = Seen::default();
        assert_eq!(seen.check(g.current(CacheKind::Keys)), Use::Cleared);
        assert_eq!(seen.check(g.current(CacheKind::Keys)), Use::Cached);
        // Another gateway's change, read by the next poll.
        g.observe(&[(CacheKind::Keys, 8)], Instant::now());
        assert_eq!(seen.check(g.current(CacheKind::Keys)), Use::Cleared);
        // A poll sent too long ago is not trusted.
        let old = Instant::now() - FRESH_FOR - Duration::from_millis(10);
        let late = Generations::shared();
        late.observe(&[(CacheKind::Keys, 8)], old);
        assert_eq!(late.current(CacheKind::Keys), None);
        assert_eq!(seen.check(late.current(CacheKind::Keys)), Use::Bypass);
    }

    /// A poll that lands between this process's commit and its local bump, followed by
    /// another process's change, still moves the counter (the race a single counter lost).
    #[test]
    fn every_change_moves_the_counter_whatever_the_interleaving() {
        let g = Generations::shared();
        g.observe(&[(CacheKind::Keys, 5)], Instant::now());
        // This process commits (the database goes to 6); the poll reads 6 before the bump.
        g.observe(&[(CacheKind::Keys, 6)], Instant::now());
        g.bump(CacheKind::Keys);
        let mut seen = Seen::default();
        assert_eq!(seen.check(g.current(CacheKind::Keys)), Use::Cleared);
        // Another gateway's change: the database goes to 7.
        g.observe(&[(CacheKind::Keys, 7)], Instant::now());
        assert_eq!(seen.check(g.current(CacheKind::Keys)), Use::Cleared);
        // A late answer of an older poll never moves it back.
        g.observe(&[(CacheKind::Keys, 6)], Instant::now());
        assert_eq!(seen.check(g.current(CacheKind::Keys)), Use::Cached);
    }

    #[test]
    fn a_local_bump_holds_until_the_database_is_read_again() {
        let g = Generations::shared();
        g.observe(&[(CacheKind::Keys, 3)], Instant::now());
        let mut seen = Seen::default();
        seen.check(g.current(CacheKind::Keys));
        g.bump(CacheKind::Keys);
        assert_eq!(seen.check(g.current(CacheKind::Keys)), Use::Cleared);
        // The database counted the same change and another gateway's: the poll's value
        // differs from the bumped one, so the cache is emptied again.
        g.observe(&[(CacheKind::Keys, 5)], Instant::now());
        assert_eq!(g.current(CacheKind::Keys), Some(6));
        assert_eq!(seen.check(g.current(CacheKind::Keys)), Use::Cleared);
        assert_eq!(seen.check(g.current(CacheKind::Keys)), Use::Cached);
    }
}
