//! Bounded per-subject state: an LRU map, a distinct-patient window and a
//! bucketed counter window.

use std::collections::{BTreeMap, HashMap, VecDeque};

/// A map with a size cap that forgets its least recently touched entry
/// first. Touches happen in (clamped, non-decreasing) event time, so the
/// LRU order is also the last-seen order and idle entries sit at the front.
#[derive(Debug)]
pub(crate) struct Lru<V> {
    map: HashMap<String, Slot<V>>,
    order: BTreeMap<u64, String>,
    next: u64,
    cap: usize,
}

#[derive(Debug)]
struct Slot<V> {
    stamp: u64,
    last_seen: i64,
    value: V,
}

impl<V> Lru<V> {
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            map: HashMap::new(),
            order: BTreeMap::new(),
            next: 0,
            cap: cap.max(1),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// The entry for `key`, marked as seen at `now`; created with `make`
    /// (evicting the least recently seen entry when full).
    pub(crate) fn touch(&mut self, key: &str, now: i64, make: impl FnOnce() -> V) -> &mut V {
        let stamp = self.next;
        self.next = self.next.wrapping_add(1);
        if !self.map.contains_key(key) {
            while self.map.len() >= self.cap {
                let Some((_, old)) = self.order.pop_first() else {
                    break;
                };
                self.map.remove(&old);
            }
        }
        let slot = self.map.entry(key.to_owned()).or_insert_with(|| Slot {
            stamp,
            last_seen: now,
            value: make(),
        });
        // A new slot's stamp is not in `order` yet: removing it is a no-op.
        self.order.remove(&slot.stamp);
        slot.stamp = stamp;
        slot.last_seen = now;
        self.order.insert(stamp, key.to_owned());
        &mut slot.value
    }

    /// The entry for `key`, without touching it.
    #[cfg(test)]
    pub(crate) fn get(&self, key: &str) -> Option<&V> {
        self.map.get(key).map(|s| &s.value)
    }

    /// Forgets every entry last seen before `cutoff`.
    pub(crate) fn evict_idle(&mut self, cutoff: i64) {
        while let Some((&stamp, key)) = self.order.first_key_value() {
            match self.map.get(key) {
                Some(slot) if slot.last_seen >= cutoff => break,
                _ => {}
            }
            if let Some(key) = self.order.remove(&stamp) {
                self.map.remove(&key);
            }
        }
    }
}

/// The distinct patients a user touched within a sliding window, keeping at
/// most `cap` of them (the most recent): with `cap = max + 1` the count
/// still tells whether `max` was exceeded, and memory stays bounded.
#[derive(Debug, Default)]
pub(crate) struct Distinct {
    by_patient: HashMap<String, u64>,
    by_seq: BTreeMap<u64, (i64, String)>,
    next: u64,
}

impl Distinct {
    /// Records `patient` at `now`.
    pub(crate) fn add(&mut self, patient: &str, now: i64, cap: usize) {
        let seq = self.next;
        self.next = self.next.wrapping_add(1);
        if let Some(old) = self.by_patient.insert(patient.to_owned(), seq) {
            self.by_seq.remove(&old);
        }
        self.by_seq.insert(seq, (now, patient.to_owned()));
        while self.by_seq.len() > cap.max(1) {
            if let Some((_, (_, p))) = self.by_seq.pop_first() {
                self.by_patient.remove(&p);
            }
        }
    }

    /// Forgets accesses at or before `cutoff`; returns how many distinct
    /// patients remain.
    pub(crate) fn prune(&mut self, cutoff: i64) -> usize {
        while let Some((_, (t, _))) = self.by_seq.first_key_value() {
            if *t > cutoff {
                break;
            }
            if let Some((_, (_, p))) = self.by_seq.pop_first() {
                self.by_patient.remove(&p);
            }
        }
        self.by_seq.len()
    }
}

/// Buckets per window in [`Counter`].
const BUCKETS: i64 = 32;

/// A sum over a sliding window in `BUCKETS` buckets: memory is at most
/// `BUCKETS + 1` pairs whatever the rate. A bucket is dropped only once it
/// lies wholly outside the window, so the sum may include events up to
/// one bucket (1/32 of the window) older than the window: it errs towards
/// firing, never towards silence.
#[derive(Debug)]
pub(crate) struct Counter {
    window: i64,
    width: i64,
    buckets: VecDeque<(i64, u64)>,
}

impl Counter {
    pub(crate) fn new(window: i64) -> Self {
        Self {
            window,
            width: (window / BUCKETS).max(1),
            buckets: VecDeque::new(),
        }
    }

    /// Adds `n` at `now` (times never go back: the detector clamps them).
    pub(crate) fn add(&mut self, now: i64, n: u64) {
        let b = now.div_euclid(self.width);
        match self.buckets.back_mut() {
            Some((last, sum)) if *last >= b => *sum = sum.saturating_add(n),
            _ => self.buckets.push_back((b, n)),
        }
    }

    /// The sum over the window ending at `now`.
    pub(crate) fn total(&mut self, now: i64) -> u64 {
        let cutoff = now.saturating_sub(self.window);
        while let Some(&(b, _)) = self.buckets.front() {
            // The bucket covers [b*w, (b+1)*w).
            if b.saturating_add(1).saturating_mul(self.width) > cutoff {
                break;
            }
            self.buckets.pop_front();
        }
        self.buckets
            .iter()
            .fold(0u64, |a, (_, n)| a.saturating_add(*n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lru_forgets_least_recent_and_idle() {
        let mut l: Lru<u32> = Lru::new(2);
        *l.touch("a", 1, || 0) += 1;
        *l.touch("b", 2, || 0) += 1;
        *l.touch("a", 3, || 0) += 1; // a is now the most recent
        *l.touch("c", 4, || 0) += 1; // evicts b
        assert_eq!(l.len(), 2);
        assert_eq!(l.get("a"), Some(&2));
        assert_eq!(l.get("b"), None);
        l.evict_idle(4);
        assert_eq!(l.get("a"), None);
        assert_eq!(l.get("c"), Some(&1));
    }

    #[test]
    fn distinct_counts_patients_once_and_caps() {
        let mut d = Distinct::default();
        d.add("p1", 10, 3);
        d.add("p1", 11, 3);
        d.add("p2", 12, 3);
        assert_eq!(d.prune(0), 2);
        d.add("p3", 13, 3);
        d.add("p4", 14, 3);
        assert_eq!(d.prune(0), 3, "capped at 3");
        // p1 (11) was evicted as the oldest; p2 (12) goes next.
        assert_eq!(d.prune(12), 2);
        assert_eq!(d.prune(14), 0);
        assert!(d.by_patient.is_empty());
    }

    #[test]
    fn counter_slides() {
        let mut c = Counter::new(320);
        c.add(0, 1);
        c.add(5, 2);
        c.add(100, 3);
        assert_eq!(c.total(100), 6);
        // At 330 the window is (10, 330]: the bucket [0, 10) is gone.
        assert_eq!(c.total(330), 3);
        assert_eq!(c.total(1000), 0);
        assert!(c.buckets.is_empty());
    }
}
