//! The candidate pass: one walk over the line, sixteen bytes at a time
//! (a byte-wise classification the compiler turns into SSE2 compares; no
//! `unsafe`, no intrinsics), that finds the token starts where a validator
//! may match, and gathers the colon evidence the IPv6 pass needs (so that
//! pass runs only on the rare lines that can hold an address). A phone
//! number that begins with `(` or `+` is tried at its first digit, which is
//! always a token start. The validators read eight bytes at a time with
//! [`word_at`] (SWAR over `u64`).

use super::{Finding, Hit, alnum, at, net, numeric, words};
use crate::kind::{Kind, KindSet};

/// Repeats a byte in every lane of a `u64`.
const fn lanes(b: u8) -> u64 {
    0x0101_0101_0101_0101 * b as u64
}

const HIGH: u64 = lanes(0x80);

/// The eight bytes from `base`, zero-padded past the end of the line (a
/// zero byte is neither alphanumeric nor a candidate).
#[inline(always)]
pub(super) fn word_at(l: &[u8], base: usize) -> u64 {
    if let Some(s) = l.get(base..base + 8)
        && let Ok(a) = <[u8; 8]>::try_from(s)
    {
        return u64::from_le_bytes(a);
    }
    let n = l.len();
    if base >= n {
        return 0;
    }
    if let Some(s) = l.get(n.wrapping_sub(8)..)
        && let Ok(a) = <[u8; 8]>::try_from(s)
    {
        // The line's last eight bytes, shifted so that those before `base`
        // drop out (1 to 7 bytes remain, so the shift is 8 to 56).
        return u64::from_le_bytes(a) >> (8 * (8 - (n - base)));
    }
    let mut w = 0u64;
    for (i, b) in l.get(base..).unwrap_or_default().iter().enumerate() {
        w |= u64::from(*b) << (8 * i);
    }
    w
}

/// Classifies sixteen bytes `c`, given the byte before each (`p[i]`
/// precedes `c[i]`; 0 before the line). The high bit of lane `i` of each
/// mask describes `c[i]`:
/// - candidates: a byte that may start something, at a token start (a
///   digit, a capital, or the first letter of a URL scheme, `http`, `ftp`,
///   `sftp`, `ws`, `www`, after a byte that is not an ASCII letter or
///   digit), and `@` (the middle of an email);
/// - the second colon of a `::`;
/// - a colon right after an ASCII letter or digit.
///
/// Written byte by byte without branches so that the compiler vectorizes
/// it: SSE2 compares all sixteen bytes at once, several times cheaper than
/// eight-byte word arithmetic. Non-ASCII bytes are in none of the ranges.
#[inline(always)]
fn classify16(c: &[u8; 16], p: &[u8; 16]) -> [u128; 3] {
    let mut cand = [0u8; 16];
    let mut double = [0u8; 16];
    let mut after = [0u8; 16];
    let lanes = c
        .iter()
        .zip(p)
        .zip(&mut cand)
        .zip(&mut double)
        .zip(&mut after);
    for ((((&b, &q), o), d), a) in lanes {
        let digit = b.wrapping_sub(b'0') < 10;
        let upper = b.wrapping_sub(b'A') < 26;
        let scheme = b == b'h' || b == b's' || b == b'w' || b == b'f';
        let q_alnum = q.wrapping_sub(b'0') < 10 || (q | 0x20).wrapping_sub(b'a') < 26;
        let colon = b == b':';
        *o = u8::from(((digit | upper | scheme) & !q_alnum) | (b == b'@')) << 7;
        *d = u8::from(colon & (q == b':')) << 7;
        *a = u8::from(colon & q_alnum) << 7;
    }
    [cand, double, after].map(u128::from_le_bytes)
}

/// The sixteen bytes from `base` (which must fit in `l`) and the byte
/// before each of them.
#[inline(always)]
fn chunk16(l: &[u8], base: usize) -> ([u8; 16], [u8; 16]) {
    let arr = |s: Option<&[u8]>| s.and_then(|s| <[u8; 16]>::try_from(s).ok());
    let c = arr(l.get(base..base + 16)).unwrap_or_default();
    let p = match base.checked_sub(1) {
        Some(b) => arr(l.get(b..b + 16)).unwrap_or_default(),
        // At the line's start: the bytes shifted by one lane, 0 first.
        None => (u128::from_le_bytes(c) << 8).to_le_bytes(),
    };
    (c, p)
}

/// The high-bit lanes of `w` that are not ASCII digits.
#[inline(always)]
pub(super) fn non_digits8(w: u64) -> u64 {
    let v = w | HIGH;
    let digit = v.wrapping_sub(lanes(b'0')) & !v.wrapping_sub(lanes(b':')) & !w;
    !digit & HIGH
}

/// What the walk learned for the IPv6 pass: whether the line may hold an
/// address (a `::` in a run holding a digit, or a chain of seven colons,
/// which needs seven colons each right after an alphanumeric byte), and
/// the log timestamps it skipped (no address is tried inside one).
pub(super) struct Colons {
    double: bool,
    after_alnum: u64,
    skips: [(usize, usize); 4],
    nskips: usize,
}

impl Colons {
    pub(super) fn new() -> Self {
        Colons {
            double: false,
            after_alnum: 0,
            skips: [(0, 0); 4],
            nskips: 0,
        }
    }

    pub(super) fn may_hold_ipv6(&self, l: &[u8]) -> bool {
        self.double || (self.after_alnum >= 7 && net::colon_chain(l))
    }

    /// The skipped spans, in order. More than four in a line are merged
    /// into the last, which then also covers the bytes between them.
    pub(super) fn skips(&self) -> &[(usize, usize)] {
        self.skips.get(..self.nskips).unwrap_or_default()
    }

    fn skip(&mut self, start: usize, end: usize) {
        if let Some(slot) = self.skips.get_mut(self.nskips) {
            *slot = (start, end);
            self.nskips += 1;
        } else if let Some(last) = self.skips.last_mut() {
            last.1 = end;
        }
    }
}

/// One pass over the line for the digit-, capital- and scheme-triggered
/// detectors.
///
/// Candidate positions are found sixteen bytes at a time
/// ([`classify16`]): token starts where something may begin, and `@`; the
/// last chunk overlaps the one before it (its first lanes are dropped),
/// and a line shorter than sixteen bytes is padded with zeros. Candidates
/// not inside an earlier match go to [`candidate`].
#[inline(always)]
pub(super) fn walk(l: &[u8], k: KindSet, out: &mut Vec<Finding>, colons: &mut Colons) {
    let n = l.len();
    let mut w = Walk { next: 0, colons };
    let mut base = 0usize;
    while base + 16 <= n {
        let (c, p) = chunk16(l, base);
        w.chunk(l, base, classify16(&c, &p), k, out);
        base += 16;
    }
    if base < n {
        let masks = if let Some(start) = n.checked_sub(16) {
            // The last sixteen bytes, without the lanes already walked.
            let (c, p) = chunk16(l, start);
            let keep = u128::MAX << (8 * (base - start));
            base = start;
            classify16(&c, &p).map(|m| m & keep)
        } else {
            let mut c = [0u8; 16];
            if let Some(d) = c.get_mut(..n) {
                d.copy_from_slice(l);
            }
            let p = (u128::from_le_bytes(c) << 8).to_le_bytes();
            classify16(&c, &p)
        };
        w.chunk(l, base, masks, k, out);
    }
}

/// The walk's state between chunks.
struct Walk<'c> {
    /// Everything before `next` is inside a match or a skipped timestamp.
    next: usize,
    colons: &'c mut Colons,
}

impl Walk<'_> {
    /// Takes the sixteen bytes at `base`, classified by [`classify16`].
    #[inline(always)]
    fn chunk(
        &mut self,
        l: &[u8],
        base: usize,
        [cand, double, after]: [u128; 3],
        k: KindSet,
        out: &mut Vec<Finding>,
    ) {
        if (double | after) != 0 {
            let colons = &mut *self.colons;
            let mut double = double;
            while double != 0 && !colons.double {
                let p = base + (double.trailing_zeros() >> 3) as usize;
                double &= double - 1;
                colons.double = net::v6_run_has_digit(l, p);
            }
            // Lane count per half: each lane's bit moved to the lane's low
            // bit, summed into the top byte by the multiplication.
            let after = after >> 7;
            for half in [after as u64, (after >> 64) as u64] {
                colons.after_alnum += half.wrapping_mul(lanes(1)) >> 56;
            }
        }
        self.half(l, base, cand as u64, k, out);
        self.half(l, base + 8, (cand >> 64) as u64, k, out);
    }

    /// Visits the candidate lanes `cand` of the eight bytes at `base`.
    #[inline(always)]
    fn half(&mut self, l: &[u8], base: usize, mut cand: u64, k: KindSet, out: &mut Vec<Finding>) {
        if self.next >= base + 8 {
            return;
        }
        while cand != 0 {
            let bit = cand.trailing_zeros();
            cand &= cand - 1;
            // `bit` is 7 + 8 * lane: the candidate byte is that lane.
            let pos = base + (bit >> 3) as usize;
            if pos < self.next {
                continue;
            }
            if let Some(end) = candidate(l, pos, at(l, pos), self.next, k, out) {
                if end & SKIPPED != 0 {
                    self.colons.skip(pos, end & !SKIPPED);
                }
                self.next = end & !SKIPPED;
            }
        }
    }
}

/// Set in the offset [`candidate`] returns when the span was skipped (a log
/// timestamp), not found; offsets are far below it.
const SKIPPED: usize = 1 << (usize::BITS - 1);

/// True when a digit at token start `s` (so after a non-alphanumeric
/// byte) begins a number, not the tail of a longer one (`1.2.3`, `12-34`).
#[inline(always)]
fn numeric_start(l: &[u8], s: usize) -> bool {
    s < 2 || !(matches!(at(l, s - 1), b'.' | b'-' | b'/' | b':') && at(l, s - 2).is_ascii_digit())
}

/// True when a `(` or `+` at `p` may begin a phone number: not glued to a
/// word or to a longer number.
fn open_start(l: &[u8], p: usize) -> bool {
    if p == 0 {
        return true;
    }
    let q = at(l, p - 1);
    if alnum(q) {
        return false;
    }
    !(matches!(q, b'.' | b'-' | b'/' | b':') && p >= 2 && at(l, p - 2).is_ascii_digit())
}

fn vin_char(b: u8) -> bool {
    b.is_ascii_digit() || b.is_ascii_uppercase()
}

/// Tries the detectors at token start `i`, whose byte is `b`; `next` is
/// where the walk stands (a `(` or `+` before `i` is tried only at or
/// after it). Returns the offset the walk resumes from when something was
/// found or skipped (then with [`SKIPPED`] set).
///
/// Inlined into the walk, so it does the cheap rejections itself and calls
/// out only for the validators.
#[inline(always)]
fn candidate(
    l: &[u8],
    i: usize,
    b: u8,
    next: usize,
    k: KindSet,
    out: &mut Vec<Finding>,
) -> Option<usize> {
    let hit = match b {
        // Every numeric format needs its first digit run to end at a
        // separator: `7f1c2a9e` and `2xx` are skipped cheaply, and a digit
        // token that does end there cannot be a VIN (it has no letter).
        b'0'..=b'9' => {
            if i > next && matches!(at(l, i - 1), b'(' | b'+') {
                return phone_open(l, i - 1, k, out);
            }
            if !numeric_start(l, i) {
                return vin(l, i, k, out);
            }
            let r = numeric::run(l, i);
            let sep = at(l, i + r);
            if alnum(sep) {
                return vin(l, i, k, out);
            }
            if !numeric::worth_trying(r, sep) {
                return None;
            }
            numeric::at_digits(l, i, r, k)
        }
        // Names and month-first dates need a capitalized word; other
        // capitals (`GET`, `INFO`) can only begin a VIN.
        b'A'..=b'Z' => {
            let b1 = at(l, i + 1);
            if b1.is_ascii_lowercase() {
                words::at_start(l, i, k)
            } else if vin_char(b1) {
                return vin(l, i, k, out);
            } else {
                Hit::None
            }
        }
        b'@' => {
            if !k.contains(Kind::Email) {
                return None;
            }
            let (start, end) = net::email_at(l, i)?;
            out.push(Finding {
                kind: Kind::Email,
                start,
                end,
            });
            return Some(end);
        }
        // Schemes `http(s)`, `ftp(s)`, `sftp`, `ws(s)` and `www.`: the second
        // letter already rules out most words.
        _ if matches!(
            (b, at(l, i + 1)),
            (b'h' | b'f', b't') | (b's', b'f') | (b'w', b's' | b'w')
        ) && k.contains(Kind::Url) =>
        {
            net::url_at(l, i).map_or(Hit::None, |e| Hit::Found(Kind::Url, e))
        }
        _ => Hit::None,
    };
    match hit {
        Hit::Found(kind, end) => {
            out.push(Finding {
                kind,
                start: i,
                end,
            });
            Some(end)
        }
        Hit::Skip(end) => Some(end | SKIPPED),
        Hit::None => None,
    }
}

/// A phone number at the `(` or `+` at `p`, just before a digit at a token
/// start; when there is none the digit is tried as usual.
#[inline(never)]
fn phone_open(l: &[u8], p: usize, k: KindSet, out: &mut Vec<Finding>) -> Option<usize> {
    if open_start(l, p)
        && k.contains(Kind::Phone)
        && let Some(end) = numeric::phone(l, p)
    {
        out.push(Finding {
            kind: Kind::Phone,
            start: p,
            end,
        });
        return Some(end);
    }
    digit(l, p + 1, k, out)
}

/// [`candidate`] at a digit, out of line (after a `(` or `+`).
fn digit(l: &[u8], i: usize, k: KindSet, out: &mut Vec<Finding>) -> Option<usize> {
    // `i` is not after `next` here, so no `(`/`+` check again.
    candidate(l, i, at(l, i), i, k, out)
}

/// A VIN is one whole 17-character token.
#[inline(always)]
fn vin(l: &[u8], i: usize, k: KindSet, out: &mut Vec<Finding>) -> Option<usize> {
    if alnum(at(l, i + 16)) && !alnum(at(l, i + 17)) {
        vin17(l, i, k, out)
    } else {
        None
    }
}

#[inline(never)]
fn vin17(l: &[u8], i: usize, k: KindSet, out: &mut Vec<Finding>) -> Option<usize> {
    if !alnum(at(l, i + 17))
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
