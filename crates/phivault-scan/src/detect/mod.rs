//! Detectors: one module per identifier family, combined by [`Detectors`].
//!
//! Everything works on one line of bytes and returns byte spans; nothing here
//! allocates per line (the caller owns and reuses the output vector).
//!
//! The engine classifies the line eight bytes at a time (SWAR over `u64`)
//! into token starts and the bytes `(`, `+`, `:`, and only at those
//! candidates calls the validators: digits and `(`/`+` the numeric ones,
//! capitalized words the name and month-first date ones, lowercase tokens
//! that can begin a URL scheme (`ht`, `ft`, `sf`, `ws`, `ww`) the URL one.
//! Hex groups and `::` are tried as IPv6 only on lines that can hold an
//! address ([`ipv6_possible`], found with `memchr`); `@` is found with
//! `memchr` by the email detector.

mod date;
mod net;
mod numeric;
mod words;

use std::sync::Arc;

use crate::kind::{Kind, KindSet};
use crate::known::KnownValues;

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
    /// it with `\b` and a literal prefix where possible.
    pub fn with_pattern(mut self, kind: Kind, pattern: &str) -> Result<Self, PatternError> {
        let index = self.patterns.len();
        let re = regex::bytes::Regex::new(pattern).map_err(|_| PatternError { index, kind })?;
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
        out.clear();
        let k = self.kinds;
        let v6 = k.contains(Kind::Ipv6) && ipv6_possible(line);
        walk(line, k, v6, out);
        if k.contains(Kind::Email) {
            net::emails(line, out);
        }
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
        if k.contains(Kind::Known) {
            for known in &self.known {
                known.find(line, out);
            }
        }
        resolve_overlaps(out);
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

// Byte classes; bit 8 marks alphanumerics.
const OTHER: u8 = 0;
const OPEN: u8 = 4;
const ALNUM: u8 = 8;
const DIGIT: u8 = ALNUM | 1;
const UPPER: u8 = ALNUM | 2;
const LOWER: u8 = ALNUM | 3;

#[allow(clippy::indexing_slicing, reason = "const construction, i < 256")]
static CLASS: [u8; 256] = {
    let mut t = [OTHER; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = match b {
            b'0'..=b'9' => DIGIT,
            b'A'..=b'Z' => UPPER,
            b'a'..=b'z' => LOWER,
            b'(' | b'+' => OPEN,
            _ => OTHER,
        };
        i += 1;
    }
    t
};

/// The byte at `i`, or 0 past the end: validators index freely through this.
#[inline]
pub(crate) fn at(l: &[u8], i: usize) -> u8 {
    l.get(i).copied().unwrap_or(0)
}

#[inline]
pub(crate) fn alnum(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

#[inline]
fn class(b: u8) -> u8 {
    // A u8 always indexes a 256-entry table; `get` compiles to a plain load.
    CLASS.get(usize::from(b)).copied().unwrap_or(OTHER)
}

/// True when a numeric token may start at `s`: not glued to a word or to a
/// longer number (`1.2.3`, `12-34`).
fn numeric_start(l: &[u8], s: usize) -> bool {
    if s == 0 {
        return true;
    }
    let p = at(l, s - 1);
    if alnum(p) {
        return false;
    }
    !(matches!(p, b'.' | b'-' | b'/' | b':') && s >= 2 && at(l, s - 2).is_ascii_digit())
}

/// Repeats a byte in every lane of a `u64`.
const fn lanes(b: u8) -> u64 {
    0x0101_0101_0101_0101 * b as u64
}

const HIGH: u64 = lanes(0x80);

/// SWAR classification of eight bytes: the high bit of each lane is set
/// for (alphanumerics, `:`, `(`/`)`/`*`/`+`). For an ASCII lane `x`,
/// `(x | 0x80) - c` has its high bit set exactly when `x >= c`, and no
/// lane borrows from its neighbour since `x | 0x80 >= c`; non-ASCII lanes
/// are masked out.
#[inline(always)]
fn classify8(w: u64) -> (u64, u64, u64) {
    let ascii = !w & HIGH;
    let v = w | HIGH;
    let ge = |c: u8| v.wrapping_sub(lanes(c));
    let digit = ge(b'0') & !ge(b':');
    let colon = ge(b':') & !ge(b';');
    let open = ge(b'(') & !ge(b',');
    // Case-folded: `x | 0x20` is a lowercase letter exactly for letters.
    let f = w | lanes(0x20) | HIGH;
    let alpha = f.wrapping_sub(lanes(b'a')) & !f.wrapping_sub(lanes(b'{'));
    ((digit | alpha) & ascii, colon & ascii, open & ascii)
}

// What a candidate byte may start: `R_ANY` always, `R_V6` only when the
// line may hold an IPv6 address (hex groups, `::`).
const R_ANY: u8 = 1;
const R_V6: u8 = 2;

#[allow(clippy::indexing_slicing, reason = "const construction, i < 256")]
static ROLE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = match b {
            b'0'..=b'9' | b'A'..=b'F' => R_ANY | R_V6,
            b'G'..=b'Z' | b'(' | b'+' | b'h' | b's' | b'w' => R_ANY,
            b'f' => R_ANY | R_V6,
            b'a'..=b'e' | b':' => R_V6,
            _ => 0,
        };
        i += 1;
    }
    t
};

/// True when the run of hex digits, `:` and `.` around `p` holds a digit
/// (an address is such a run and must hold one: `crate::detect` is none).
fn v6_run_has_digit(l: &[u8], p: usize) -> bool {
    let v6 = |b: &u8| b.is_ascii_hexdigit() || matches!(b, b':' | b'.');
    let before = l.get(..p).unwrap_or_default();
    let after = l.get(p..).unwrap_or_default();
    before
        .iter()
        .rev()
        .take_while(|b| v6(b))
        .any(u8::is_ascii_digit)
        || after.iter().take_while(|b| v6(b)).any(u8::is_ascii_digit)
}

/// True when `l` may contain an IPv6 address: one needs a `::` in a run
/// holding a digit, or seven
/// colons in a row separated by groups of one to four hex digits (with a
/// hex digit before the first and after the last; see [`net::ipv6_at`]).
/// Times, JSON keys and MAC addresses fail this.
fn ipv6_possible(l: &[u8]) -> bool {
    let mut run = 0;
    let mut prev: Option<usize> = None;
    for p in memchr::memchr_iter(b':', l) {
        let next = at(l, p + 1);
        if next == b':' && v6_run_has_digit(l, p) {
            return true;
        }
        let chained = prev.is_some_and(|q| {
            let gap = l.get(q + 1..p).unwrap_or_default();
            (1..=4).contains(&gap.len()) && gap.iter().all(u8::is_ascii_hexdigit)
        });
        run = if chained {
            run + 1
        } else {
            usize::from(p > 0 && at(l, p - 1).is_ascii_hexdigit())
        };
        if run >= 7 && next.is_ascii_hexdigit() {
            return true;
        }
        prev = Some(p);
    }
    false
}

/// One pass over the line for digit- and capital-triggered detectors.
///
/// Candidate positions are found eight bytes at a time ([`classify8`]):
/// token starts (an alphanumeric byte after a non-alphanumeric one) and the
/// bytes `(`, `+` (and `:` when the line may hold an IPv6 address). A
/// byte-role table drops candidates that cannot start anything (most
/// lowercase words); the rest not inside an earlier match go to
/// [`candidate`].
fn walk(l: &[u8], k: KindSet, v6: bool, out: &mut Vec<Finding>) {
    let want = if v6 { R_ANY | R_V6 } else { R_ANY };
    let colon_keep = if v6 { u64::MAX } else { 0 };
    // Everything before `next` is inside a match or a skipped timestamp.
    let mut next = 0usize;
    let mut carry = 0u64;
    let mut base = 0usize;
    let mut chunks = l.chunks_exact(8);
    let mut pad = [0u8; 8];
    let mut last = false;
    loop {
        let w = match chunks.next() {
            Some(ch) => u64::from_le_bytes(<[u8; 8]>::try_from(ch).unwrap_or_default()),
            None if !last => {
                last = true;
                let rest = chunks.remainder();
                if rest.is_empty() {
                    break;
                }
                for (d, s) in pad.iter_mut().zip(rest) {
                    *d = *s;
                }
                u64::from_le_bytes(pad)
            }
            None => break,
        };
        let (alnum8, colon, open) = classify8(w);
        let starts = alnum8 & !((alnum8 << 8) | (carry >> 56));
        carry = alnum8;
        if next < base + 8 {
            let mut cand = starts | open | (colon & colon_keep);
            while cand != 0 {
                let pos = base + (cand.trailing_zeros() / 8) as usize;
                cand &= cand - 1;
                let role = ROLE.get(usize::from(at(l, pos))).copied().unwrap_or(0);
                if role & want != 0
                    && pos >= next
                    && let Some(end) = candidate(l, pos, k, v6, out)
                {
                    next = end;
                }
            }
        }
        base += 8;
    }
}

/// Tries the detectors at candidate `i` (a token start, `(`, `+`, or `:`
/// when `v6`). Returns the offset the walk resumes from when something was
/// found or skipped.
#[inline]
fn candidate(l: &[u8], i: usize, k: KindSet, v6: bool, out: &mut Vec<Finding>) -> Option<usize> {
    let b = at(l, i);
    let c = class(b);
    if c == OTHER || c == OPEN {
        if b == b':' {
            if at(l, i + 1) == b':'
                && (i == 0 || !alnum(at(l, i - 1)))
                && let Some(end) = net::ipv6_at(l, i)
            {
                out.push(Finding {
                    kind: Kind::Ipv6,
                    start: i,
                    end,
                });
                return Some(end);
            }
            return None;
        }
        if c == OPEN
            && numeric_start(l, i)
            && let Hit::Found(kind, end) = numeric::at_start(l, i, k)
        {
            out.push(Finding {
                kind,
                start: i,
                end,
            });
            return Some(end);
        }
        return None;
    }
    let mut hit = match c {
        // Every numeric format needs its first digit run to end at
        // a separator: `7f1c2a9e` and `2xx` are skipped cheaply.
        DIGIT if numeric_start(l, i) => {
            let r = numeric::run(l, i);
            if alnum(at(l, i + r)) {
                Hit::None
            } else {
                numeric::at_digits(l, i, r, k)
            }
        }
        UPPER => words::at_start(l, i, k),
        // Schemes `http(s)`, `ftp(s)`, `sftp`, `ws(s)` and `www.`: the second
        // letter already rules out most words.
        LOWER
            if matches!(
                (b, at(l, i + 1)),
                (b'h' | b'f', b't') | (b's', b'f') | (b'w', b's' | b'w')
            ) && k.contains(Kind::Url) =>
        {
            net::url_at(l, i).map_or(Hit::None, |e| Hit::Found(Kind::Url, e))
        }
        _ => Hit::None,
    };
    // IPv6: a hex group of at most four digits followed by `:`.
    if v6 && matches!(hit, Hit::None) && b.is_ascii_hexdigit() {
        let g = l
            .get(i..)
            .unwrap_or_default()
            .iter()
            .take(5)
            .take_while(|x| x.is_ascii_hexdigit())
            .count();
        if g <= 4
            && at(l, i + g) == b':'
            && let Some(end) = net::ipv6_at(l, i)
        {
            hit = Hit::Found(Kind::Ipv6, end);
        }
    }
    match hit {
        Hit::Found(kind, end) => {
            out.push(Finding {
                kind,
                start: i,
                end,
            });
            Some(end)
        }
        Hit::Skip(end) => Some(end),
        Hit::None => {
            // A VIN is one whole 17-character token.
            if c != LOWER
                && !alnum(at(l, i + 17))
                && alnum(at(l, i + 16))
                && k.contains(Kind::Vin)
                && let Some(tok) = l.get(i..i + 17)
                && tok.iter().all(|&x| alnum(x))
                && words::vin_ok(tok)
            {
                out.push(Finding {
                    kind: Kind::Vin,
                    start: i,
                    end: i + 17,
                });
                return Some(i + 17);
            }
            None
        }
    }
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

/// True when the `width` bytes before `s` contain one of `words`
/// (ASCII case-insensitive). Called only for weak candidates.
pub(crate) fn context_before(l: &[u8], s: usize, width: usize, words: &[&[u8]]) -> bool {
    let from = s.saturating_sub(width);
    let win = l.get(from..s).unwrap_or_default();
    let mut buf = [0u8; 32];
    let len = win.len().min(buf.len());
    for (d, b) in buf.iter_mut().zip(win.iter()) {
        *d = b.to_ascii_lowercase();
    }
    let hay = buf.get(..len).unwrap_or_default();
    words.iter().any(|w| hay.windows(w.len()).any(|x| x == *w))
}
