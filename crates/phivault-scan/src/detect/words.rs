//! Capital-triggered detectors: person names, month-first dates; and the
//! VIN check digit (the engine tries it on every 17-character token).
//!
//! Names come from the 1990 US Census lists in `data/` (source in their
//! headers). A single capitalized word is far too weak (`Will`, `May`,
//! `Grant` are names and words), so a name is reported only as a pair:
//! a capitalized first name, an optional middle initial, then a capitalized
//! last name (`Maria Garcia`, `John Q. Public`), or an honorific followed by
//! a capitalized last name (`Dr. Garcia`). Pairs in which both words are
//! common English words (`Will Wood`) are dropped, and so are place and
//! organization names (`Virginia Beach`, `Washington Hospital Center`).

use super::lexicon::{COMMON, FIRST, LAST, MONTH, PLACE_LAST, PLACE_NEXT, lexicon};
use super::walk::word_at;
use super::{Hit, alnum, at, date};
use crate::kind::{Kind, KindSet};

/// The high-bit lanes of `w` that are not ASCII lowercase letters.
#[inline(always)]
fn non_lower8(w: u64) -> u64 {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let v = w | HIGH;
    let lower = v.wrapping_sub(0x6161_6161_6161_6161) & !v.wrapping_sub(0x7b7b_7b7b_7b7b_7b7b) & !w;
    !lower & HIGH
}

/// Capitalized ASCII word (`Garcia`) at `s`: its length, or 0.
fn capitalized(l: &[u8], s: usize) -> usize {
    if !at(l, s).is_ascii_uppercase() {
        return 0;
    }
    // The lowercase run after the capital, eight bytes at a time.
    let mut n = 1;
    loop {
        let nl = non_lower8(word_at(l, s + n));
        if nl != 0 {
            n += (nl.trailing_zeros() / 8) as usize;
            break;
        }
        n += 8;
    }
    if !(2..=20).contains(&n) || alnum(at(l, s + n)) {
        return 0;
    }
    n
}

/// The end of `First [M.] Last` starting at `s`, if it is one.
fn name_pair(l: &[u8], s: usize, flen: usize, first: u8) -> Option<usize> {
    // The last name (or middle initial) is capitalized: checked before the
    // lookup, which costs more.
    if at(l, s + flen) != b' ' || !at(l, s + flen + 1).is_ascii_uppercase() {
        return None;
    }
    if first & FIRST == 0 {
        return None;
    }
    let mut p = s + flen + 1;
    // Optional middle initial: `Q. ` or `Q `.
    if at(l, p).is_ascii_uppercase() && !alnum(at(l, p + 1)) {
        let q = if at(l, p + 1) == b'.' { p + 2 } else { p + 1 };
        if at(l, q) == b' ' && at(l, q + 1).is_ascii_uppercase() {
            p = q + 1;
        }
    }
    let llen = capitalized(l, p);
    if llen == 0 {
        return None;
    }
    let last = lexicon().flags(l.get(p..p + llen)?);
    if last & LAST == 0 || (first & last & COMMON != 0) || last & PLACE_LAST != 0 {
        return None;
    }
    // Hyphenated double last names: `Garcia-Lopez`.
    let mut e = p + llen;
    if at(l, e) == b'-' {
        let more = capitalized(l, e + 1);
        if more > 0 {
            e += 1 + more;
        }
    }
    if at(l, e) == b' ' && followed_by_place(l, e + 1) {
        return None;
    }
    Some(e)
}

fn followed_by_place(l: &[u8], p: usize) -> bool {
    let n = l
        .get(p..)
        .unwrap_or_default()
        .iter()
        .take_while(|b| b.is_ascii_alphabetic())
        .count();
    lexicon().flags(l.get(p..p + n).unwrap_or_default()) & PLACE_NEXT != 0
}

const TITLES: &[&[u8]] = &[b"Dr", b"Mr", b"Mrs", b"Ms", b"Miss", b"Mx"];

fn titled(l: &[u8], s: usize, tlen: usize) -> Option<usize> {
    let t = l.get(s..s + tlen)?;
    if !TITLES.contains(&t) {
        return None;
    }
    let mut p = s + tlen;
    if at(l, p) == b'.' {
        p += 1;
    }
    if at(l, p) != b' ' {
        return None;
    }
    p += 1;
    let llen = capitalized(l, p);
    let last = l.get(p..p + llen)?;
    (llen > 0 && lexicon().flags(last) & LAST != 0).then_some(p + llen)
}

/// ISO 3779 VIN check digit (position 9) over 17 characters.
pub(crate) fn vin_ok(v: &[u8]) -> bool {
    const W: [u32; 17] = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2];
    if v.len() != 17 {
        return false;
    }
    let mut sum = 0u32;
    let (mut letters, mut digits) = (0, 0);
    for (&b, w) in v.iter().zip(W) {
        let val = match b {
            b'0'..=b'9' => {
                digits += 1;
                u32::from(b - b'0')
            }
            b'A'..=b'H' => u32::from(b - b'A') + 1,
            b'J'..=b'N' => u32::from(b - b'J') + 1,
            b'P' => 7,
            b'R' => 9,
            b'S'..=b'Z' => u32::from(b - b'S') + 2,
            _ => return false,
        };
        if b.is_ascii_uppercase() {
            letters += 1;
        }
        sum += val * w;
    }
    let check = match sum % 11 {
        10 => b'X',
        d => b'0' + u8::try_from(d).unwrap_or(0),
    };
    letters >= 2 && digits >= 5 && v.get(8) == Some(&check)
}

/// Tries the capital-triggered detectors at word start `s`.
#[inline(never)]
pub(super) fn at_start(l: &[u8], s: usize, k: KindSet) -> Hit {
    let clen = capitalized(l, s);
    if clen == 0 {
        return Hit::None;
    }
    // What may follow: a capitalized word (a name pair), a day of the month
    // (`Mar 3`, `Mar. 3`), or anything after a title (`Dr.`, `Mr`). Most
    // capitalized words in logs are none of these and skip the lookup.
    let (nx, nx1) = (at(l, s + clen), at(l, s + clen + 1));
    let pair = nx == b' ' && nx1.is_ascii_uppercase();
    let day = (nx == b' ' && nx1.is_ascii_digit())
        || (nx == b'.' && nx1 == b' ' && at(l, s + clen + 2).is_ascii_digit());
    let title = clen <= 4 && matches!(at(l, s), b'D' | b'M') && matches!(nx, b' ' | b'.');
    if !(pair || day || title) {
        return Hit::None;
    }
    let flags = lexicon().flags(l.get(s..s + clen).unwrap_or_default());
    if k.contains(Kind::Date) && flags & MONTH != 0 {
        match date::month_first(l, s) {
            Hit::None => {}
            h => return h,
        }
    }
    if k.contains(Kind::Name)
        && let Some(e) = name_pair(l, s, clen, flags).or_else(|| titled(l, s, clen))
    {
        return Hit::Found(Kind::Name, e);
    }
    Hit::None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vin_check_digit() {
        assert!(vin_ok(b"1M8GDM9AXKP042788"));
        assert!(!vin_ok(b"1M8GDM9A1KP042788"));
    }

    #[test]
    fn capitalized_words() {
        assert_eq!(capitalized(b"Garcia", 0), 6);
        assert_eq!(capitalized(b"x Garcia-Lopez", 2), 6);
        // Longer than one eight-byte word.
        assert_eq!(capitalized(b"Abcdefghijklmnop qq", 0), 16);
        assert_eq!(capitalized(b"GARCIA", 0), 0);
        assert_eq!(capitalized(b"Garcia2", 0), 0);
        assert_eq!(capitalized(b"A", 0), 0);
        assert_eq!(capitalized(b"Abcdefghijklmnopqrstu", 0), 0);
    }
}
