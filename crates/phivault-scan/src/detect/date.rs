//! Dates.
//!
//! Safe Harbor removes dates *relating to an individual* (birth, admission,
//! discharge, death). A log line's own event timestamp is not such a date, so
//! a date immediately followed by a time of day (`2024-03-01T10:22:03Z`,
//! `2024-03-01 10:22:03`, nginx `[01/Mar/2024:10:22:03 +0000]`) is treated
//! as a timestamp and skipped, except at exactly midnight (`T00:00:00`),
//! which is how date-only values such as birth dates get serialized. Syslog's
//! `Mar  1 10:22:03` has no year and never matches.

use super::lexicon::{MONTH, lexicon};
use super::numeric::{num, right_ok, run};
use super::{Hit, alnum, at};
use crate::kind::Kind;

/// The length of a month name (`Mar`, `March`, `Sept`) at `s`, if any.
pub(super) fn month_name(l: &[u8], s: usize) -> Option<usize> {
    // Every month name starts with one of these letters.
    if !matches!(
        at(l, s) | 0x20,
        b'j' | b'f' | b'm' | b'a' | b's' | b'o' | b'n' | b'd'
    ) {
        return None;
    }
    let word_len = l
        .get(s..)
        .unwrap_or_default()
        .iter()
        .take_while(|b| b.is_ascii_alphabetic())
        .count();
    if !(3..=9).contains(&word_len) {
        return None;
    }
    let w = l.get(s..s + word_len)?;
    (lexicon().flags(w) & MONTH != 0).then_some(word_len)
}

fn year_ok(y: u32) -> bool {
    (1900..=2099).contains(&y)
}

/// After a date ending at `e`: a time of day means "event timestamp".
fn timestamp_after(l: &[u8], e: usize) -> Option<usize> {
    if !matches!(at(l, e), b'T' | b' ' | b':' | b'_') || run(l, e + 1) != 2 || at(l, e + 3) != b':'
    {
        return None;
    }
    if l.get(e + 1..e + 9) == Some(b"00:00:00".as_slice()) {
        return None;
    }
    // Consume the time so its digits are not re-examined.
    let mut p = e + 1;
    while matches!(at(l, p), b'0'..=b'9' | b':' | b'.' | b',') {
        p += 1;
    }
    Some(p)
}

fn finish(l: &[u8], e: usize) -> Hit {
    if let Some(skip) = timestamp_after(l, e) {
        return Hit::Skip(skip);
    }
    if matches!(at(l, e), b'T' | b' ') && l.get(e + 1..e + 9) == Some(b"00:00:00".as_slice()) {
        return Hit::Found(Kind::Date, e);
    }
    if !right_ok(l, e) {
        return Hit::None;
    }
    Hit::Found(Kind::Date, e)
}

/// A numeric date at token start `s`, whose first digit run has `r` digits:
/// `yyyy-mm-dd` (also `/`), `mm/dd/yyyy`, `dd.mm.yyyy`,
/// `mm-dd-yyyy`, `dd/Mon/yyyy`, `dd-Mon-yyyy`, `d Month yyyy`.
pub(super) fn numeric(l: &[u8], s: usize, r: usize) -> Hit {
    let sep = at(l, s + r);
    // Year-first with dots (`2024.03.15`) is CalVer far more often than a
    // date, so only `-` and `/` count there.
    if r == 4 && matches!(sep, b'-' | b'/') {
        let (Some(y), Some(m), Some(d)) = (num(l, s, 4), num(l, s + 5, 2), num(l, s + 8, 2)) else {
            return Hit::None;
        };
        if year_ok(y) && at(l, s + 7) == sep && (1..=12).contains(&m) && (1..=31).contains(&d) {
            return finish(l, s + 10);
        }
        return Hit::None;
    }
    if !(1..=2).contains(&r) {
        return Hit::None;
    }
    let Some(a) = num(l, s, r) else {
        return Hit::None;
    };
    let p = s + r + 1;
    if matches!(sep, b'/' | b'-' | b'.') {
        let r2 = run(l, p);
        if (1..=2).contains(&r2) && at(l, p + r2) == sep && run(l, p + r2 + 1) == 4 {
            let (Some(b), Some(y)) = (num(l, p, r2), num(l, p + r2 + 1, 4)) else {
                return Hit::None;
            };
            let valid =
                year_ok(y) && a >= 1 && b >= 1 && a <= 31 && b <= 31 && (a <= 12 || b <= 12);
            return if valid {
                finish(l, p + r2 + 5)
            } else {
                Hit::None
            };
        }
    }
    if matches!(sep, b'/' | b'-' | b' ')
        && (1..=31).contains(&a)
        && let Some(mlen) = month_name(l, p)
    {
        let q = p + mlen;
        let sep2 = if sep == b' ' && at(l, q) == b',' {
            q + 1
        } else {
            q
        };
        if at(l, sep2) == sep
            && run(l, sep2 + 1) == 4
            && let Some(y) = num(l, sep2 + 1, 4)
            && year_ok(y)
        {
            return finish(l, sep2 + 5);
        }
    }
    Hit::None
}

/// `March 3, 1961`, `Mar 3 1961`, `Mar 3rd, 1961` at a capitalized word.
pub(super) fn month_first(l: &[u8], s: usize) -> Hit {
    let Some(mlen) = month_name(l, s) else {
        return Hit::None;
    };
    let mut p = s + mlen;
    if at(l, p) == b'.' {
        p += 1;
    }
    if at(l, p) != b' ' {
        return Hit::None;
    }
    p += 1;
    let r = run(l, p);
    if !(1..=2).contains(&r) || !num(l, p, r).is_some_and(|d| (1..=31).contains(&d)) {
        return Hit::None;
    }
    p += r;
    if let Some(suf) = l.get(p..p + 2)
        && matches!(suf, b"st" | b"nd" | b"rd" | b"th")
    {
        p += 2;
    }
    if at(l, p) == b',' {
        p += 1;
    }
    if at(l, p) != b' ' || run(l, p + 1) != 4 || alnum(at(l, p + 5)) {
        return Hit::None;
    }
    match num(l, p + 1, 4) {
        Some(y) if year_ok(y) => finish(l, p + 5),
        _ => Hit::None,
    }
}
