//! The per-user model of usual hours for `off_hours`: 24 counters.

use super::config::OffHoursRule;
use crate::util::{DAY, MINUTE};

/// Once a user's total reaches this, every counter is halved: memory stays
/// 24 counters, old habits fade and a changed shift is learned.
const HALVE_AT: u32 = 1 << 16;

/// Hour-of-day counts of one user's successful PHI accesses.
#[derive(Debug, Default)]
pub(crate) struct Hours {
    counts: [u32; 24],
    total: u32,
    /// Set once the user had `learn_after` accesses; stays set after
    /// halving.
    learned: bool,
}

/// The local hour (0..=23) of `at` (µs since epoch) at `offset_minutes`.
pub(crate) fn local_hour(at: i64, offset_minutes: i32) -> usize {
    let local = at.saturating_add(i64::from(offset_minutes) * MINUTE);
    let hour = local.rem_euclid(DAY) / (60 * MINUTE);
    usize::try_from(hour).unwrap_or(0)
}

/// Whether `hour` lies in `[start, end)`, wrapping midnight when `start >
/// end`.
fn in_window(hour: usize, start: u8, end: u8) -> bool {
    let (s, e) = (usize::from(start), usize::from(end));
    if s < e {
        (s..e).contains(&hour)
    } else {
        hour >= s || hour < e
    }
}

/// What the model said about one access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Verdict {
    pub(crate) usual: bool,
    pub(crate) learned: bool,
    /// The hour's share of the user's accesses, in per mille (learned only).
    pub(crate) per_mille: u32,
}

impl Hours {
    /// Judges an access at `hour` against what was learned before it.
    pub(crate) fn judge(&self, hour: usize, cfg: &OffHoursRule) -> Verdict {
        if !self.learned {
            return Verdict {
                usual: in_window(hour, cfg.usual_start_hour, cfg.usual_end_hour),
                learned: false,
                per_mille: 0,
            };
        }
        let count = self.counts.get(hour).copied().unwrap_or(0);
        let total = self.total.max(1);
        let share = f64::from(count) / f64::from(total);
        Verdict {
            usual: share >= cfg.min_share,
            learned: true,
            per_mille: u32::try_from(u64::from(count) * 1000 / u64::from(total)).unwrap_or(1000),
        }
    }

    /// Counts an access at `hour`.
    pub(crate) fn record(&mut self, hour: usize, learn_after: u32) {
        if let Some(c) = self.counts.get_mut(hour) {
            *c = c.saturating_add(1);
            self.total = self.total.saturating_add(1);
        }
        if self.total >= learn_after {
            self.learned = true;
        }
        if self.total >= HALVE_AT {
            for c in &mut self.counts {
                *c /= 2;
            }
            self.total = self.counts.iter().sum();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hours_follow_the_offset() {
        // 2026-01-01T03:30:00Z
        let t = 1_767_238_200 * 1_000_000;
        assert_eq!(local_hour(t, 0), 3);
        assert_eq!(local_hour(t, -300), 22, "UTC-5 is the previous evening");
        assert_eq!(local_hour(t, 330), 9);
        assert_eq!(local_hour(-1, 0), 23, "before the epoch");
    }

    #[test]
    fn window_wraps_midnight() {
        assert!(in_window(7, 7, 19));
        assert!(!in_window(19, 7, 19));
        assert!(in_window(23, 19, 7));
        assert!(in_window(0, 19, 7));
        assert!(!in_window(12, 19, 7));
        assert!(in_window(23, 0, 24));
    }

    #[test]
    fn learning_replaces_the_window_and_halving_keeps_shares() {
        let cfg = OffHoursRule {
            learn_after: 10,
            min_share: 0.2,
            ..OffHoursRule::default()
        };
        let mut h = Hours::default();
        assert!(!h.judge(2, &cfg).usual, "night is unusual before learning");
        for _ in 0..10 {
            h.record(2, cfg.learn_after);
        }
        let v = h.judge(2, &cfg);
        assert!(v.usual && v.learned);
        assert_eq!(v.per_mille, 1000);
        assert!(
            !h.judge(10, &cfg).usual,
            "a day hour never used is unusual once learned"
        );
        for _ in 0..HALVE_AT {
            h.record(10, cfg.learn_after);
        }
        assert!(h.total < HALVE_AT);
        assert!(h.judge(10, &cfg).usual);
        assert!(
            !h.judge(2, &cfg).usual,
            "the night hour is now a small share"
        );
    }
}
