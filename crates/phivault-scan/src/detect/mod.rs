//! Detectors: one module per identifier family, combined by [`Detectors`].
//!
//! Everything works on one line of bytes and returns byte spans; nothing here
//! allocates per line (the caller owns and reuses the output vector).
//!
//! The engine ([`walk`]) classifies the line sixteen bytes at a time
//! (vectorized by the compiler) into the token starts where something can
//! begin, and only at those candidates calls the validators: digits and
//! `(`/`+` the numeric ones,
//! capitalized words the name and month-first date ones, lowercase tokens
//! that can begin a URL scheme (`ht`, `ft`, `sf`, `ws`, `ww`) the URL one.
//! The same walk counts colons, so hex groups and `::` are tried as IPv6 in
//! a second pass only on lines that can hold an address; emails are tried
//! at each `@` the walk reaches. Configured patterns run per line, or once
//! per block of lines for the scanner when that gives the same matches
//! ([`patterns`]).

mod date;
mod lexicon;
mod net;
mod numeric;
mod patterns;
mod walk;
mod words;

use std::sync::Arc;

use crate::kind::{Kind, KindSet};
use crate::known::KnownValues;

pub(crate) use patterns::BlockHits;

/// One detection: a kind and a byte span of the scanned line. It holds no
/// value, so it may be printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Finding {
    /// What was found.
    pub kind: Kind,
    /// Byte offset of the first byte.
    pub start: usize,
    /// Byte offset one past the last byte.
    pub end: usize,
}

/// A configured pattern is not a valid regular expression.
#[derive(Debug, thiserror::Error)]
#[error("pattern {index} for kind `{kind}` is not a valid regular expression")]
pub struct PatternError {
    index: usize,
    kind: Kind,
}

/// The configured set of detectors. Cheap to share behind an `Arc`.
#[derive(Clone)]
pub struct Detectors {
    kinds: KindSet,
    patterns: Vec<(Kind, regex::bytes::Regex)>,
    /// All patterns as one alternation: one search per line instead of one
    /// per pattern when nothing matches (the common case).
    any_pattern: Option<regex::bytes::Regex>,
    /// No pattern can hold an anchor, so they may run once over a block
    /// of lines (see [`patterns`]).
    block_patterns: bool,
    known: Vec<Arc<KnownValues>>,
}

impl std::fmt::Debug for Detectors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Detectors")
            .field("kinds", &self.kinds)
            .field("patterns", &self.patterns.len())
            .field("known", &self.known.len())
            .finish_non_exhaustive()
    }
}

impl Default for Detectors {
    fn default() -> Self {
        Self::new()
    }
}

impl Detectors {
    /// Every built-in detector, no configured pattern, no known values.
    pub fn new() -> Self {
        Detectors {
            kinds: KindSet::all(),
            patterns: Vec::new(),
            any_pattern: None,
            block_patterns: true,
            known: Vec::new(),
        }
    }

    /// Restricts detection to `kinds`.
    #[must_use]
    pub fn with_kinds(mut self, kinds: KindSet) -> Self {
        self.kinds = kinds;
        self
    }

    /// Adds a caller-supplied pattern (MRN, account, licence or device serial
    /// formats are site-specific). The regex runs over every line, so anchor
    /// it with `\b` and a literal prefix where possible. `^` and `$` match
    /// at the line's ends, but a pattern holding them (or `\A`, `\z`, or
    /// just a `^`/`$` character) makes the scanner search line by line
    /// instead of once per block of lines, which is slower.
    pub fn with_pattern(mut self, kind: Kind, pattern: &str) -> Result<Self, PatternError> {
        let index = self.patterns.len();
        let re = regex::bytes::Regex::new(pattern).map_err(|_| PatternError { index, kind })?;
        self.block_patterns &= patterns::anchor_free(pattern);
        self.patterns.push((kind, re));
        let joined: Vec<String> = self
            .patterns
            .iter()
            .map(|(_, r)| format!("(?:{})", r.as_str()))
            .collect();
        self.any_pattern = regex::bytes::Regex::new(&joined.join("|")).ok();
        Ok(self)
    }

    /// Adds a set of exact known values (matched by keyed hash).
    #[must_use]
    pub fn with_known(mut self, known: Arc<KnownValues>) -> Self {
        self.known.push(known);
        self
    }

    /// Detects identifiers in `line` (without its line terminator). `out` is
    /// cleared, then filled with non-overlapping findings sorted by start.
    pub fn detect(&self, line: &[u8], out: &mut Vec<Finding>) {
        self.detect_with(line, out, |out| {
            if !self.patterns.is_empty() {
                self.line_patterns(line, out);
            }
        });
    }

    /// [`Self::detect`] for a line that starts at offset `at` of a block
    /// whose pattern matches are in `hits` ([`Self::find_block_patterns`]).
    pub(crate) fn detect_in_block(
        &self,
        line: &[u8],
        at: usize,
        hits: &mut BlockHits,
        out: &mut Vec<Finding>,
    ) {
        self.detect_with(line, out, |out| {
            if hits.active() {
                hits.take(at, line.len(), out);
            } else {
                self.line_patterns(line, out);
            }
        });
    }

    /// The body of both; `patterns` adds the configured patterns' matches.
    /// Inlined, so each has its own copy of the walk.
    #[inline(always)]
    fn detect_with(
        &self,
        line: &[u8],
        out: &mut Vec<Finding>,
        patterns: impl FnOnce(&mut Vec<Finding>),
    ) {
        out.clear();
        let k = self.kinds;
        let mut colons = walk::Colons::new();
        walk::walk(line, k, out, &mut colons);
        if k.contains(Kind::Ipv6) && colons.may_hold_ipv6(line) {
            net::ipv6s(line, colons.skips(), out);
        }
        patterns(out);
        if k.contains(Kind::Known) {
            for known in &self.known {
                known.find(line, out);
            }
        }
        resolve_overlaps(out);
    }

    /// Adds the configured patterns' matches in `line`: pattern by pattern,
    /// each in order of its matches (the order [`resolve_overlaps`] breaks
    /// ties by).
    fn line_patterns(&self, line: &[u8], out: &mut Vec<Finding>) {
        let k = self.kinds;
        let any = self.any_pattern.as_ref().is_none_or(|re| re.is_match(line));
        for (kind, re) in self.patterns.iter().filter(|_| any) {
            if k.contains(*kind) {
                for m in re.find_iter(line) {
                    if m.end() > m.start() {
                        out.push(Finding {
                            kind: *kind,
                            start: m.start(),
                            end: m.end(),
                        });
                    }
                }
            }
        }
    }
}

/// Sorts by start and keeps, among overlapping findings, the one that
/// starts first (the longer one on a tie).
fn resolve_overlaps(out: &mut Vec<Finding>) {
    if out.len() < 2 {
        return;
    }
    out.sort_unstable_by(|a, b| a.start.cmp(&b.start).then(b.end.cmp(&a.end)));
    let mut last_end = 0usize;
    let mut first = true;
    out.retain(|f| {
        if first || f.start >= last_end {
            first = false;
            last_end = f.end;
            true
        } else {
            false
        }
    });
}

/// The byte at `i`, or 0 past the end: validators index freely through this.
#[inline]
pub(crate) fn at(l: &[u8], i: usize) -> u8 {
    l.get(i).copied().unwrap_or(0)
}

#[inline]
pub(crate) fn alnum(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

/// What a validator made of a candidate position.
pub(crate) enum Hit {
    /// An identifier of this kind ends at this offset.
    Found(Kind, usize),
    /// Not an identifier, and nothing up to this offset is (a log timestamp).
    Skip(usize),
    /// Nothing here.
    None,
}

/// True when the `width` bytes before `s` contain one of `words` (given in
/// lowercase; matched ASCII case-insensitively). Called only for weak
/// candidates.
pub(crate) fn context_before(l: &[u8], s: usize, width: usize, words: &[&[u8]]) -> bool {
    let win = l.get(s.saturating_sub(width)..s).unwrap_or_default();
    win.iter().enumerate().any(|(p, b)| {
        let c = b.to_ascii_lowercase();
        words.iter().any(|w| {
            w.first() == Some(&c)
                && win
                    .get(p..p + w.len())
                    .is_some_and(|t| t.eq_ignore_ascii_case(w))
        })
    })
}
