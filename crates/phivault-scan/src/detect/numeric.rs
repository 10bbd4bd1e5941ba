//! Digit-triggered detectors: SSN, phone, card, IPv4, ZIP (and dates via
//! [`super::date`]). Each validator looks at the bytes from a token start and
//! fails within a few bytes on the common non-matches (ports, durations,
//! counters).

use super::walk::{non_digits8, word_at};
use super::{Hit, alnum, at, context_before, date};
use crate::kind::{Kind, KindSet};
use phivault_core::validate::ssn_area_never_issued;

/// The value of exactly `n` digits at `i` (`n` is at most 4 at every call,
/// so the value fits easily).
#[inline]
pub(super) fn num(l: &[u8], i: usize, n: usize) -> Option<u32> {
    let mut v = 0u32;
    for b in l.get(i..i + n)? {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v.wrapping_mul(10).wrapping_add(u32::from(b - b'0'));
    }
    Some(v)
}

/// Number of consecutive digits from `i`.
#[inline(always)]
pub(super) fn run(l: &[u8], i: usize) -> usize {
    // Eight bytes at a time: most runs end in the first word.
    let mut n = 0;
    loop {
        let nd = non_digits8(word_at(l, i + n));
        if nd != 0 {
            return n + (nd.trailing_zeros() / 8) as usize;
        }
        n += 8;
    }
}

/// True when a number may end at `e`: not glued to a word or a longer number.
pub(super) fn right_ok(l: &[u8], e: usize) -> bool {
    let b = at(l, e);
    if alnum(b) {
        return false;
    }
    !(matches!(b, b'-' | b'.' | b'/') && at(l, e + 1).is_ascii_digit())
}

/// False when no format can begin with a run of `r` digits followed by
/// `sep` (the first test of [`at_digits`], made inline by the walk).
#[inline(always)]
pub(super) fn worth_trying(r: usize, sep: u8) -> bool {
    match r {
        1 | 2 => matches!(sep, b'/' | b'-' | b'.' | b' '),
        3 => matches!(sep, b'.' | b'-' | b' '),
        4 => matches!(sep, b'-' | b'/' | b' '),
        5 | 9..=11 | 13..=19 => true,
        _ => false,
    }
}

/// Tries every digit-triggered detector at token start `s`, a digit whose
/// run of digits is `r` long.
///
/// The first run's length and the byte after it decide which formats can
/// still match (each validator re-checks its format exactly; this only
/// avoids calling the ones that cannot): ports, counters, times and
/// versions fail at once. Among the formats that can, the order is date,
/// IPv4, SSN, phone, card, then bare numbers after a keyword.
#[inline(never)]
pub(super) fn at_digits(l: &[u8], s: usize, r: usize, k: KindSet) -> Hit {
    let sep = at(l, s + r);
    match r {
        1 | 2 => {
            if !matches!(sep, b'/' | b'-' | b'.' | b' ') {
                return Hit::None;
            }
            if k.contains(Kind::Date) {
                match date::numeric(l, s, r) {
                    Hit::None => {}
                    h => return h,
                }
            }
            if sep == b'.'
                && k.contains(Kind::Ipv4)
                && let Some(e) = ipv4(l, s)
            {
                return Hit::Found(Kind::Ipv4, e);
            }
            // `1-617-555-0123`, `1 617 555 0123`, `1.617.555.0123`.
            if r == 1
                && sep != b'/'
                && at(l, s) == b'1'
                && k.contains(Kind::Phone)
                && let Some(e) = phone(l, s)
            {
                return Hit::Found(Kind::Phone, e);
            }
            Hit::None
        }
        3 => {
            if !matches!(sep, b'.' | b'-' | b' ') {
                return Hit::None;
            }
            if sep == b'.'
                && k.contains(Kind::Ipv4)
                && let Some(e) = ipv4(l, s)
            {
                return Hit::Found(Kind::Ipv4, e);
            }
            if sep != b'.'
                && k.contains(Kind::Ssn)
                && let Some(e) = ssn_formatted(l, s)
            {
                return Hit::Found(Kind::Ssn, e);
            }
            if k.contains(Kind::Phone)
                && let Some(e) = phone(l, s)
            {
                return Hit::Found(Kind::Phone, e);
            }
            Hit::None
        }
        4 => {
            if matches!(sep, b'-' | b'/') && k.contains(Kind::Date) {
                match date::numeric(l, s, r) {
                    Hit::None => {}
                    h => return h,
                }
            }
            if matches!(sep, b'-' | b' ')
                && k.contains(Kind::Card)
                && let Some(e) = card(l, s)
            {
                return Hit::Found(Kind::Card, e);
            }
            Hit::None
        }
        13..=19 => match card(l, s) {
            Some(e) if k.contains(Kind::Card) => Hit::Found(Kind::Card, e),
            _ => Hit::None,
        },
        5 | 9 | 10 | 11 => bare(l, s, r, sep, k),
        _ => Hit::None,
    }
}

/// Bare numbers only count with a keyword just before them (a ZIP code
/// also after a state abbreviation).
fn bare(l: &[u8], s: usize, r: usize, sep: u8, k: KindSet) -> Hit {
    if !right_ok(l, s + r) && sep != b'-' {
        return Hit::None;
    }
    match r {
        9 if k.contains(Kind::Ssn)
            && right_ok(l, s + 9)
            && ssn_parts_ok(l, s, s + 3, s + 5)
            && context_before(l, s, 24, &[b"ssn", b"social", b"ss#", b"tin"]) =>
        {
            Hit::Found(Kind::Ssn, s + 9)
        }
        10 | 11
            if k.contains(Kind::Phone)
                && right_ok(l, s + r)
                && nanp_digits(l, s + r - 10)
                && (r == 10 || at(l, s) == b'1')
                && context_before(
                    l,
                    s,
                    24,
                    &[
                        b"phone", b"tel", b"fax", b"mobile", b"cell", b"call", b"sms",
                    ],
                ) =>
        {
            Hit::Found(Kind::Phone, s + r)
        }
        5 if k.contains(Kind::Zip) => zip(l, s),
        _ => Hit::None,
    }
}

fn ssn_parts_ok(l: &[u8], a: usize, g: usize, sn: usize) -> bool {
    let (Some(area), Some(group), Some(serial)) = (num(l, a, 3), num(l, g, 2), num(l, sn, 4))
    else {
        return false;
    };
    let area = u16::try_from(area).unwrap_or(0);
    !ssn_area_never_issued(area) && group != 0 && serial != 0
}

/// `NNN-NN-NNNN` or `NNN NN NNNN`.
fn ssn_formatted(l: &[u8], s: usize) -> Option<usize> {
    let sep = at(l, s + 3);
    if !(sep == b'-' || sep == b' ') || run(l, s + 4) != 2 || at(l, s + 6) != sep {
        return None;
    }
    if run(l, s + 7) != 4 || !right_ok(l, s + 11) {
        return None;
    }
    ssn_parts_ok(l, s, s + 4, s + 7).then_some(s + 11)
}

/// NANP: area and exchange codes start with 2-9.
fn nanp_ok(area_first: u8, exch_first: u8) -> bool {
    (b'2'..=b'9').contains(&area_first) && (b'2'..=b'9').contains(&exch_first)
}

fn nanp_digits(l: &[u8], s: usize) -> bool {
    run(l, s) >= 10 && nanp_ok(at(l, s), at(l, s + 3))
}

/// `ddd-ddd-dddd`, `ddd.ddd.dddd`, `ddd ddd dddd` or `(ddd) ddd-dddd` at `s`.
fn nanp(l: &[u8], s: usize) -> Option<usize> {
    let (area, rest) = if at(l, s) == b'(' {
        if run(l, s + 1) != 3 || at(l, s + 4) != b')' {
            return None;
        }
        let r = if at(l, s + 5) == b' ' { s + 6 } else { s + 5 };
        (s + 1, r)
    } else {
        if run(l, s) != 3 {
            return None;
        }
        let sep = at(l, s + 3);
        if !matches!(sep, b'-' | b'.' | b' ') || run(l, s + 4) != 3 || at(l, s + 7) != sep {
            return None;
        }
        if run(l, s + 8) != 4 || !right_ok(l, s + 12) {
            return None;
        }
        return nanp_ok(at(l, s), at(l, s + 4)).then_some(s + 12);
    };
    if run(l, rest) != 3 || !matches!(at(l, rest + 3), b'-' | b'.' | b' ') {
        return None;
    }
    if run(l, rest + 4) != 4 || !right_ok(l, rest + 8) {
        return None;
    }
    nanp_ok(at(l, area), at(l, rest)).then_some(rest + 8)
}

/// A phone number starting at `s` (a digit, `(` or `+`).
pub(super) fn phone(l: &[u8], s: usize) -> Option<usize> {
    match at(l, s) {
        b'+' => {
            if at(l, s + 1) == b'1' {
                let mut p = s + 2;
                if matches!(at(l, p), b' ' | b'-' | b'.') {
                    p += 1;
                }
                if let Some(e) = nanp(l, p) {
                    return Some(e);
                }
                if run(l, p) == 10 && nanp_digits(l, p) && right_ok(l, p + 10) {
                    return Some(p + 10);
                }
            }
            international(l, s)
        }
        b'1' if matches!(at(l, s + 1), b'-' | b' ' | b'.') => nanp(l, s + 2),
        _ => nanp(l, s),
    }
}

/// `+CC` then 8 to 14 more digits in groups separated by single spaces or
/// dashes.
fn international(l: &[u8], s: usize) -> Option<usize> {
    let mut p = s + 1;
    let mut digits = 0;
    let mut groups = 0;
    loop {
        let r = run(l, p);
        if r == 0 {
            break;
        }
        digits += r;
        groups += 1;
        p += r;
        if matches!(at(l, p), b' ' | b'-') && at(l, p + 1).is_ascii_digit() && groups < 6 {
            p += 1;
        } else {
            break;
        }
    }
    ((9..=15).contains(&digits) && right_ok(l, p) && at(l, s + 1) != b'0').then_some(p)
}

/// Four dotted decimal octets, each at most 255; loopback, unspecified and
/// broadcast are not identifiers.
fn ipv4(l: &[u8], s: usize) -> Option<usize> {
    // `Chrome/120.0.0.0` is a product version, not an address.
    if s >= 2 && at(l, s - 1) == b'/' && at(l, s - 2).is_ascii_alphabetic() {
        return None;
    }
    let mut p = s;
    let mut oct = [0u32; 4];
    for (idx, o) in oct.iter_mut().enumerate() {
        // One to three digits (a fourth one fails).
        let mut r = 0;
        let mut v = 0u32;
        while r < 4 {
            let b = at(l, p + r);
            if !b.is_ascii_digit() {
                break;
            }
            v = v * 10 + u32::from(b - b'0');
            r += 1;
        }
        if r == 0 || r > 3 || v > 255 {
            return None;
        }
        *o = v;
        p += r;
        if idx < 3 {
            if at(l, p) != b'.' {
                return None;
            }
            p += 1;
        }
    }
    if alnum(at(l, p)) || (at(l, p) == b'.' && at(l, p + 1).is_ascii_digit()) {
        return None;
    }
    let [a, b, c, d] = oct;
    let non_identifying =
        a == 127 || (a, b, c, d) == (0, 0, 0, 0) || (a, b, c, d) == (255, 255, 255, 255);
    (!non_identifying).then_some(p)
}

/// 13 to 19 digits, bare or in groups of four (Amex 4-6-5), with a known
/// issuer prefix and a valid Luhn check digit.
fn card(l: &[u8], s: usize) -> Option<usize> {
    let mut digits = [0u8; 19];
    let mut n = 0usize;
    let mut groups: [(usize, usize); 5] = [(0, 0); 5]; // (digits so far, end offset)
    let mut g = 0usize;
    let mut p = s;
    let mut sep = 0u8;
    loop {
        let r = run(l, p);
        if r == 0 || n + r > 19 || g >= groups.len() {
            break;
        }
        for (d, b) in digits
            .iter_mut()
            .skip(n)
            .zip(l.get(p..p + r).unwrap_or_default())
        {
            *d = b - b'0';
        }
        n += r;
        p += r;
        if let Some(slot) = groups.get_mut(g) {
            *slot = (n, p);
        }
        g += 1;
        let c = at(l, p);
        if (c == b' ' || c == b'-') && (sep == 0 || sep == c) && at(l, p + 1).is_ascii_digit() {
            sep = c;
            p += 1;
        } else {
            break;
        }
    }
    // Longest grouping first.
    for used in (1..=g).rev() {
        let (total, end) = groups.get(used - 1).copied()?;
        if !(13..=19).contains(&total) || !right_ok(l, end) {
            continue;
        }
        let sizes_ok = used == 1 || {
            let mut prev = 0;
            let mut sizes = [0usize; 5];
            for (sz, (t, _)) in sizes.iter_mut().zip(groups.iter().take(used)) {
                *sz = t - prev;
                prev = *t;
            }
            let sizes = sizes.get(..used).unwrap_or_default();
            let fours = sizes.iter().take(used - 1).all(|&x| x == 4);
            fours || sizes == [4, 6, 5] || sizes == [4, 6, 4]
        };
        let d = digits.get(..total).unwrap_or_default();
        // One in ten random numbers passes Luhn: a bare run right after an
        // id-like key (`txn=`, `order_id=`) is taken for an id.
        if sizes_ok && issuer_ok(d) && luhn(d) && !(used == 1 && context_before(l, s, 12, ID_KEYS))
        {
            return Some(end);
        }
    }
    None
}

const ID_KEYS: &[&[u8]] = &[
    b"txn", b"id=", b"id\":", b"id\":\"", b"_id", b"order", b"trace", b"seq", b"epoch", b"nonce",
    b"offset", b"ts=",
];

fn issuer_ok(d: &[u8]) -> bool {
    let p2 = d.iter().take(2).fold(0u32, |a, &x| a * 10 + u32::from(x));
    let p4 = d.iter().take(4).fold(0u32, |a, &x| a * 10 + u32::from(x));
    let len = d.len();
    match d.first() {
        Some(4) => matches!(len, 13 | 16 | 19),
        Some(5) => (51..=55).contains(&p2) && len == 16,
        Some(2) => (2221..=2720).contains(&p4) && len == 16,
        Some(3) => match p2 {
            34 | 37 => len == 15,
            35 => (16..=19).contains(&len),
            30 | 36 | 38 | 39 => (14..=19).contains(&len),
            _ => false,
        },
        Some(6) => {
            (p4 == 6011 || p2 == 65 || p2 == 62 || (644..=649).contains(&(p4 / 10)))
                && (16..=19).contains(&len)
        }
        _ => false,
    }
}

/// The Luhn mod-10 check over digit values.
pub(crate) fn luhn(d: &[u8]) -> bool {
    let mut sum = 0u32;
    for (i, &x) in d.iter().rev().enumerate() {
        let mut v = u32::from(x);
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum.is_multiple_of(10)
}

const STATES: &[&[u8; 2]] = &[
    b"AL", b"AK", b"AZ", b"AR", b"CA", b"CO", b"CT", b"DE", b"DC", b"FL", b"GA", b"HI", b"ID",
    b"IL", b"IN", b"IA", b"KS", b"KY", b"LA", b"ME", b"MD", b"MA", b"MI", b"MN", b"MS", b"MO",
    b"MT", b"NE", b"NV", b"NH", b"NJ", b"NM", b"NY", b"NC", b"ND", b"OH", b"OK", b"OR", b"PA",
    b"RI", b"SC", b"SD", b"TN", b"TX", b"UT", b"VT", b"VA", b"WA", b"WV", b"WI", b"WY", b"PR",
    b"GU", b"VI",
];

/// True when `zip` or `postal` (any case) is among the 16 bytes before `s`.
/// Most five-digit numbers are ports and pids: this is [`context_before`]
/// specialized, one test per byte.
fn zip_keyword_before(l: &[u8], s: usize) -> bool {
    let win = l.get(s.saturating_sub(16)..s).unwrap_or_default();
    win.iter().enumerate().any(|(p, &b)| {
        // `| 0x20` maps only `Z`/`z` to `z` and `P`/`p` to `p`.
        let rest: &[u8] = match b | 0x20 {
            b'z' => b"ip",
            b'p' => b"ostal",
            _ => return false,
        };
        win.get(p + 1..p + 1 + rest.len())
            .is_some_and(|t| t.eq_ignore_ascii_case(rest))
    })
}

/// Five digits (or ZIP+4) after a state abbreviation (`MA 02139`) or a
/// `zip`/`postal` keyword. Bare five-digit numbers are ports and counters.
fn zip(l: &[u8], s: usize) -> Hit {
    let e = if at(l, s + 5) == b'-' && run(l, s + 6) == 4 {
        s + 10
    } else {
        s + 5
    };
    if !right_ok(l, e) {
        return Hit::None;
    }
    let state = s >= 3
        && at(l, s - 1) == b' '
        && at(l, s - 2).is_ascii_uppercase()
        && at(l, s - 3).is_ascii_uppercase()
        && (s == 3 || !alnum(at(l, s - 4)))
        && STATES
            .iter()
            .any(|st| at(l, s - 3) == st[0] && at(l, s - 2) == st[1]);
    if state || zip_keyword_before(l, s) {
        Hit::Found(Kind::Zip, e)
    } else {
        Hit::None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_known_answers() {
        let v = |s: &str| s.bytes().map(|b| b - b'0').collect::<Vec<_>>();
        assert!(luhn(&v("4111111111111111")));
        assert!(luhn(&v("378282246310005")));
        assert!(!luhn(&v("4111111111111112")));
    }
}
