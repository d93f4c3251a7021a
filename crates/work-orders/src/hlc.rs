//! Hybrid logical clock: physical milliseconds plus a logical counter, with the node id as the
//! final tie-break, so that stamps are totally ordered and never go backwards on a node even when
//! its wall clock does.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The node that issued a stamp (a client install's `client_id`, or a server id).
///
/// Compared byte-wise: this is the deterministic tie-break between stamps with equal physical and
/// logical parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct NodeId(pub Uuid);

impl std::fmt::Display for NodeId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// One hybrid-logical-clock stamp.
///
/// The derived order compares `physical_ms`, then `logical`, then `node`: a total order in which
/// two stamps are equal only if they were issued by the same node at the same tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Hlc {
    /// Milliseconds since the Unix epoch (the highest physical time this node had seen).
    pub physical_ms: u64,
    /// Counter for events within the same physical millisecond.
    pub logical: u32,
    /// Issuing node (tie-break).
    pub node: NodeId,
}

impl Hlc {
    /// The smallest stamp a node can issue (before any event).
    pub const fn zero(node: NodeId) -> Self {
        Self {
            physical_ms: 0,
            logical: 0,
            node,
        }
    }

    /// The stamp right after `(physical_ms, logical)`, carrying into the physical part if the
    /// counter is exhausted (keeps the clock strictly monotonic in every case).
    fn tick(physical_ms: u64, logical: u32, node: NodeId) -> Self {
        match logical.checked_add(1) {
            Some(logical) => Self {
                physical_ms,
                logical,
                node,
            },
            None => Self {
                physical_ms: physical_ms.saturating_add(1),
                logical: 0,
                node,
            },
        }
    }
}

impl std::fmt::Display for Hlc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}@{}", self.physical_ms, self.logical, self.node)
    }
}

/// A node's clock. Sans-IO: the caller passes the wall-clock reading on every call. Persist
/// [`HlcClock::last`] with the outbox and rebuild with [`HlcClock::resume`] so the clock stays
/// monotonic across restarts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HlcClock {
    last: Hlc,
}

impl HlcClock {
    /// A fresh clock for `node`.
    pub const fn new(node: NodeId) -> Self {
        Self {
            last: Hlc::zero(node),
        }
    }

    /// Continue from a persisted last stamp.
    pub const fn resume(last: Hlc) -> Self {
        Self { last }
    }

    /// The last stamp issued or observed.
    pub const fn last(&self) -> Hlc {
        self.last
    }

    /// This clock's node.
    pub const fn node(&self) -> NodeId {
        self.last.node
    }

    /// Stamp a local event. `physical_ms` is the current wall-clock reading; if it is behind
    /// (clock set back, NTP step, skew) the logical counter advances instead.
    pub fn now(&mut self, physical_ms: u64) -> Hlc {
        let node = self.last.node;
        self.last = if physical_ms > self.last.physical_ms {
            Hlc {
                physical_ms,
                logical: 0,
                node,
            }
        } else {
            Hlc::tick(self.last.physical_ms, self.last.logical, node)
        };
        self.last
    }

    /// Merge a stamp received from another node (a pulled field stamp, a server response), so
    /// that every later local stamp orders after it. Returns the new local stamp.
    pub fn observe(&mut self, remote: Hlc, physical_ms: u64) -> Hlc {
        let node = self.last.node;
        let local = self.last;
        let max_physical = physical_ms.max(local.physical_ms).max(remote.physical_ms);
        self.last = if max_physical == local.physical_ms && max_physical == remote.physical_ms {
            Hlc::tick(max_physical, local.logical.max(remote.logical), node)
        } else if max_physical == local.physical_ms {
            Hlc::tick(max_physical, local.logical, node)
        } else if max_physical == remote.physical_ms {
            Hlc::tick(max_physical, remote.logical, node)
        } else {
            Hlc {
                physical_ms: max_physical,
                logical: 0,
                node,
            }
        };
        self.last
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR_MS: u64 = 3_600_000;

    fn node(n: u8) -> NodeId {
        NodeId(Uuid::from_bytes([n; 16]))
    }

    #[test]
    fn now_is_monotonic_when_the_wall_clock_goes_back_hours() {
        let mut clock = HlcClock::new(node(1));
        let t0 = 1_780_000_000_000;
        let a = clock.now(t0);
        // The agent's PC steps back three hours (bad NTP, manual change).
        let b = clock.now(t0 - 3 * HOUR_MS);
        let c = clock.now(t0 - 3 * HOUR_MS + 10);
        assert!(a < b && b < c);
        assert_eq!(b.physical_ms, t0);
        assert_eq!((b.logical, c.logical), (1, 2));
        // Once the wall clock passes the old high-water mark, physical time takes over again.
        let d = clock.now(t0 + 5);
        assert_eq!((d.physical_ms, d.logical), (t0 + 5, 0));
        assert!(c < d);
    }

    #[test]
    fn observe_orders_after_a_remote_stamp_from_a_clock_hours_ahead() {
        let t0 = 1_780_000_000_000;
        let mut fast = HlcClock::new(node(2));
        let remote = fast.now(t0 + 5 * HOUR_MS); // five hours ahead
        let mut slow = HlcClock::new(node(1));
        let local = slow.now(t0);
        let merged = slow.observe(remote, t0 + 1);
        assert!(merged > remote && merged > local);
        assert_eq!(merged.physical_ms, remote.physical_ms);
        assert_eq!(merged.logical, remote.logical + 1);
        assert_eq!(merged.node, node(1));
        let next = slow.now(t0 + 2);
        assert!(next > merged);
    }

    #[test]
    fn observe_with_equal_physical_takes_max_logical() {
        let t = 1_000;
        let mut clock = HlcClock::resume(Hlc {
            physical_ms: t,
            logical: 4,
            node: node(1),
        });
        let remote = Hlc {
            physical_ms: t,
            logical: 9,
            node: node(2),
        };
        let merged = clock.observe(remote, t - 500);
        assert_eq!((merged.physical_ms, merged.logical), (t, 10));
        let remote_behind = Hlc {
            physical_ms: 10,
            logical: 50,
            node: node(3),
        };
        let merged2 = clock.observe(remote_behind, 5);
        assert_eq!((merged2.physical_ms, merged2.logical), (t, 11));
        let fresh = clock.observe(remote_behind, t + 100);
        assert_eq!((fresh.physical_ms, fresh.logical), (t + 100, 0));
    }

    #[test]
    fn logical_overflow_carries_into_physical() {
        let mut clock = HlcClock::resume(Hlc {
            physical_ms: 7,
            logical: u32::MAX,
            node: node(1),
        });
        let before = clock.last();
        let next = clock.now(0);
        assert_eq!((next.physical_ms, next.logical), (8, 0));
        assert!(next > before);
    }

    #[test]
    fn node_id_breaks_ties_and_order_is_total() {
        let a = Hlc {
            physical_ms: 5,
            logical: 1,
            node: node(1),
        };
        let b = Hlc {
            physical_ms: 5,
            logical: 1,
            node: node(2),
        };
        let c = Hlc {
            physical_ms: 5,
            logical: 2,
            node: node(0),
        };
        let d = Hlc {
            physical_ms: 6,
            logical: 0,
            node: node(0),
        };
        let mut v = vec![d, c, b, a];
        v.sort();
        assert_eq!(v, vec![a, b, c, d]);
    }

    #[test]
    fn stamps_and_clocks_round_trip_through_json() {
        let mut clock = HlcClock::new(node(7));
        let s = clock.now(1_780_000_000_123);
        let json = serde_json::to_string(&s).unwrap();
        assert!(json.contains("\"physical_ms\":1780000000123"));
        let back: Hlc = serde_json::from_str(&json).unwrap();
        assert_eq!(back, s);
        let saved = serde_json::to_string(&clock).unwrap();
        let mut restored: HlcClock = serde_json::from_str(&saved).unwrap();
        assert!(restored.now(0) > s);
    }
}
