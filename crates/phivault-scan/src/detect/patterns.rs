//! Configured patterns over a block of lines.
//!
//! Searching each line costs the regex engine's set-up per search, which on
//! log lines of a hundred bytes is most of the cost. The scanner hands over
//! blocks of whole lines (its read chunks), so each pattern is searched once
//! per block instead, and its matches are handed out line by line
//! ([`BlockHits::take`]). That gives the same matches as searching each line
//! (the contract of [`super::Detectors::detect`]) under two conditions:
//!
//! - No pattern holds an anchor (`^`, `$`, `\A`, `\z`; tested on the pattern
//!   text, so `[^x]` and `\$` count too, which only costs the speed-up):
//!   what is left are word-boundary assertions, and at a line's ends they
//!   see the same in the block as in the line, since neither a line
//!   terminator nor the end of the text is a word character. So every match
//!   in a line is one in the block, at the same place, and a match in the
//!   block that stays within one line's content is one in that line.
//! - Every match the block search reports, empty ones included, stays
//!   within one line's content (it neither covers nor sits inside a `\n` or
//!   the `\r` of a `\r\n`, which the line does not have). Checked on every
//!   match; when one does not, the whole block goes the per-line way.
//!
//! Then leftmost-first search finds the same leftmost match and the same
//! preferred end in the block as in the line (the block can only add
//! matches that leave the line, and there are none), and the iteration
//! after a match (resume at its end, step over an empty match at that end)
//! does the same in both, also where one line ends and the next begins.

use super::{Detectors, Finding};
use crate::kind::Kind;

/// True when `pattern` cannot hold an anchor assertion.
pub(super) fn anchor_free(pattern: &str) -> bool {
    !pattern.contains(['^', '$']) && !pattern.contains("\\A") && !pattern.contains("\\z")
}

/// One pattern's matches in a block.
#[derive(Debug)]
struct PatternHits {
    kind: Kind,
    /// The non-empty matches (block offsets), in order.
    spans: Vec<(usize, usize)>,
    /// How many were handed out.
    done: usize,
}

/// The configured patterns' matches in one block, for [`Detectors::detect_in_block`].
#[derive(Debug, Default)]
pub(crate) struct BlockHits {
    /// Per pattern whose kind is enabled, in the patterns' order.
    per: Vec<PatternHits>,
    /// The smallest start not handed out yet (`usize::MAX` when none).
    next: usize,
    /// The matches are valid for the block (else search each line).
    active: bool,
}

impl BlockHits {
    pub(super) fn active(&self) -> bool {
        self.active
    }

    /// Adds the matches within the line at block offset `at` (`len` bytes,
    /// without its terminator), as line offsets: pattern by pattern, each in
    /// order, as [`Detectors::detect`] adds them.
    #[inline]
    pub(super) fn take(&mut self, at: usize, len: usize, out: &mut Vec<Finding>) {
        if self.next <= at + len {
            self.take_some(at, at + len, out);
        }
    }

    fn take_some(&mut self, at: usize, end: usize, out: &mut Vec<Finding>) {
        let mut next = usize::MAX;
        for p in &mut self.per {
            while let Some(&(s, e)) = p.spans.get(p.done)
                && s <= end
            {
                out.push(Finding {
                    kind: p.kind,
                    start: s.saturating_sub(at),
                    end: e.saturating_sub(at),
                });
                p.done += 1;
            }
            if let Some(&(s, _)) = p.spans.get(p.done) {
                next = next.min(s);
            }
        }
        self.next = next;
    }
}

impl Detectors {
    /// Searches `block` (whole lines, the last one possibly without its
    /// terminator) for every configured pattern into `hits`, or leaves
    /// `hits` inactive when the per-line search must be used (see the
    /// module documentation).
    pub(crate) fn find_block_patterns(&self, block: &[u8], hits: &mut BlockHits) {
        hits.active = false;
        hits.next = usize::MAX;
        hits.per.clear();
        if !self.block_patterns {
            return;
        }
        if self
            .any_pattern
            .as_ref()
            .is_none_or(|re| re.is_match(block))
        {
            for (kind, re) in &self.patterns {
                if !self.kinds.contains(*kind) {
                    continue;
                }
                let mut spans = Vec::new();
                let mut line = LineBounds::default();
                for m in re.find_iter(block) {
                    if !line.holds(block, m.start(), m.end()) {
                        return;
                    }
                    if m.end() > m.start() {
                        spans.push((m.start(), m.end()));
                    }
                }
                if let Some(&(s, _)) = spans.first() {
                    hits.next = hits.next.min(s);
                }
                hits.per.push(PatternHits {
                    kind: *kind,
                    spans,
                    done: 0,
                });
            }
        }
        hits.active = true;
    }
}

/// The line of a block that holds the last position asked about.
#[derive(Default)]
struct LineBounds {
    /// Offset of its `\n` (or the block's length), once known.
    newline: Option<usize>,
    /// Where its content ends (before a `\r` that precedes the `\n`).
    content_end: usize,
}

impl LineBounds {
    /// True when `start..end` lies within the content of the line holding
    /// `start`. Starts must come in ascending order (one pass per block).
    fn holds(&mut self, block: &[u8], start: usize, end: usize) -> bool {
        if self.newline.is_none_or(|nl| start > nl) {
            let nl = memchr::memchr(b'\n', block.get(start..).unwrap_or_default())
                .map_or(block.len(), |p| start + p);
            self.newline = Some(nl);
            // A `\r` just before the newline (or the block's end) is the
            // line's, and the scanner strips it from the line.
            self.content_end = match nl.checked_sub(1) {
                Some(r) if block.get(r) == Some(&b'\r') => r,
                _ => nl,
            };
        }
        start <= self.content_end && end <= self.content_end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_are_recognized_in_the_pattern_text() {
        assert!(anchor_free(r"\bMRN-?\d{7}\b"));
        assert!(anchor_free(r"(?i)acct\s*\d+"));
        for p in [r"^MRN", r"\d$", r"\Ax", r"x\z", r"[^a]", r"\$\d+"] {
            assert!(!anchor_free(p), "{p}");
        }
    }

    #[test]
    fn matches_must_stay_within_a_line() {
        let block = b"ab\r\ncd\nef";
        let mut l = LineBounds::default();
        assert!(l.holds(block, 0, 2));
        assert!(l.holds(block, 2, 2));
        // Inside or over `\r\n`.
        assert!(!LineBounds::default().holds(block, 3, 3));
        assert!(!LineBounds::default().holds(block, 1, 3));
        let mut l = LineBounds::default();
        assert!(l.holds(block, 4, 6));
        assert!(l.holds(block, 6, 6));
        assert!(!l.holds(block, 5, 7));
        assert!(l.holds(block, 7, 9));
        let mut l = LineBounds::default();
        assert!(l.holds(b"x\r", 1, 1));
        assert!(!l.holds(b"x\r", 1, 2));
    }
}
