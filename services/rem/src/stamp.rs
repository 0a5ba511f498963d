//! Hybrid logical clock and the `(hlc, node_id)` stamps that order writes.

use std::cmp::Ordering;
use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Bits of an HLC value that hold the logical counter.
const LOGICAL_BITS: u32 = 16;

/// The version of a write: its hybrid logical clock value and the node that
/// made it. Later stamps win (last-writer-wins); the node id breaks ties.
#[derive(Clone, PartialEq, Eq, Hash, prost::Message)]
pub struct Stamp {
    /// Physical milliseconds << 16 | logical counter.
    #[prost(uint64, tag = "1")]
    pub hlc: u64,
    /// Id of the node that accepted the write.
    #[prost(string, tag = "2")]
    pub node: String,
}

impl Stamp {
    /// A stamp with the given clock value and node.
    pub fn new(hlc: u64, node: impl Into<String>) -> Self {
        Self { hlc, node: node.into() }
    }

    /// Wall-clock time of the stamp, in microseconds since the Unix epoch.
    pub fn micros(&self) -> i64 {
        ((self.hlc >> LOGICAL_BITS) as i64).saturating_mul(1000)
    }
}

impl Ord for Stamp {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.hlc, &self.node).cmp(&(other.hlc, &other.node))
    }
}

impl PartialOrd for Stamp {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A hybrid logical clock: monotonic, close to wall-clock time, and advanced
/// past every remote value it observes.
#[derive(Debug, Default)]
pub struct HybridClock {
    last: AtomicU64,
}

impl HybridClock {
    /// A clock starting at the current time.
    pub fn new() -> Self {
        Self::default()
    }

    /// The next clock value, greater than every value seen so far.
    pub fn now(&self) -> u64 {
        let physical = physical_now();
        let mut last = self.last.load(AtomicOrdering::Relaxed);
        loop {
            let next = physical.max(last + 1);
            match self.last.compare_exchange_weak(last, next, AtomicOrdering::AcqRel, AtomicOrdering::Relaxed) {
                Ok(_) => return next,
                Err(seen) => last = seen,
            }
        }
    }

    /// Advances the clock past a value seen in a replicated write.
    pub fn observe(&self, remote: u64) {
        self.last.fetch_max(remote, AtomicOrdering::AcqRel);
    }
}

fn physical_now() -> u64 {
    let millis = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
    millis << LOGICAL_BITS
}

/// Current wall-clock time in microseconds since the Unix epoch.
pub fn now_micros() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros() as i64).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_is_strictly_monotonic_and_observes_remote() {
        let clock = HybridClock::new();
        let a = clock.now();
        let b = clock.now();
        assert!(b > a);
        clock.observe(b + 1_000_000);
        assert!(clock.now() > b + 1_000_000);
    }

    #[test]
    fn node_id_breaks_ties() {
        assert!(Stamp::new(5, "b") > Stamp::new(5, "a"));
        assert!(Stamp::new(6, "a") > Stamp::new(5, "b"));
    }
}
