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

use super::{Hit, alnum, at, date};
use crate::kind::{Kind, KindSet};
use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::OnceLock;

static FIRST: &str = include_str!("../../data/first_names.txt");
static LAST: &str = include_str!("../../data/last_names.txt");

/// FNV-1a: the keys are public census words, so no DoS-resistant hash is
/// needed, and this is several times faster than SipHash on short keys.
#[derive(Default)]
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

type WordSet = HashSet<&'static [u8], BuildHasherDefault<Fnv>>;

fn load(text: &'static str) -> WordSet {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(str::as_bytes)
        .collect()
}

fn first_names() -> &'static WordSet {
    static S: OnceLock<WordSet> = OnceLock::new();
    S.get_or_init(|| load(FIRST))
}

fn last_names() -> &'static WordSet {
    static S: OnceLock<WordSet> = OnceLock::new();
    S.get_or_init(|| load(LAST))
}

/// English words that are also census names; a pair made only of these is
/// not reported.
const COMMON: &[&[u8]] = &[
    b"will", b"may", b"june", b"grant", b"bill", b"mark", b"hope", b"rose", b"april", b"art",
    b"page", b"long", b"young", b"white", b"brown", b"green", b"black", b"king", b"hall", b"wood",
    b"case", b"price", b"lane", b"field", b"ray", b"joy", b"faith", b"summer", b"dawn", b"guy",
    b"jack", b"frank", b"rich", b"chance", b"chase", b"ward", b"bond", b"best", b"sharp", b"hill",
    b"stone", b"rock", b"miles", b"major", b"early", b"love", b"new", b"north", b"south", b"west",
    b"east", b"max", b"son", b"day", b"see", b"don", b"van", b"lee", b"ok", b"dean", b"carol",
    b"ivy", b"sky", b"star", b"storm", b"iris", b"penny", b"general", b"power", b"street",
    b"house", b"cross", b"park", b"mason", b"parker", b"cook", b"baker", b"key", b"son", b"else",
    b"read", b"set", b"post", b"get", b"put", b"patch", b"file", b"job", b"user", b"test",
    b"service", b"client", b"server", b"worker", b"queue", b"cache",
];

/// Capitalized ASCII word (`Garcia`) at `s`: its length, or 0.
fn capitalized(l: &[u8], s: usize) -> usize {
    if !at(l, s).is_ascii_uppercase() {
        return 0;
    }
    let n = 1 + l
        .get(s + 1..)
        .unwrap_or_default()
        .iter()
        .take_while(|b| b.is_ascii_lowercase())
        .count();
    if !(2..=20).contains(&n) || alnum(at(l, s + n)) {
        return 0;
    }
    n
}

/// Looks the word up lowercased, through a stack buffer.
fn in_set(set: &WordSet, w: &[u8]) -> bool {
    let mut buf = [0u8; 20];
    let Some(dst) = buf.get_mut(..w.len()) else {
        return false;
    };
    for (d, b) in dst.iter_mut().zip(w) {
        *d = b.to_ascii_lowercase();
    }
    set.contains(&*dst)
}

fn common(w: &[u8]) -> bool {
    COMMON.iter().any(|c| c.eq_ignore_ascii_case(w))
}

/// The end of `First [M.] Last` starting at `s`, if it is one.
fn name_pair(l: &[u8], s: usize, flen: usize) -> Option<usize> {
    // The last name (or middle initial) is capitalized: checked before the
    // lookup, which costs more.
    if at(l, s + flen) != b' ' || !at(l, s + flen + 1).is_ascii_uppercase() {
        return None;
    }
    let first = l.get(s..s + flen)?;
    if !in_set(first_names(), first) {
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
    let last = l.get(p..p + llen)?;
    if !in_set(last_names(), last) || (common(first) && common(last)) {
        return None;
    }
    if PLACE_LAST.iter().any(|w| w.eq_ignore_ascii_case(last)) {
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

/// Census surnames that in logs are mostly the second word of a place
/// (`Virginia Beach`, `Jordan Valley`).
const PLACE_LAST: &[&[u8]] = &[
    b"beach", b"valley", b"harbour", b"harbor", b"springs", b"falls", b"heights", b"county",
    b"city", b"bay", b"lake", b"river", b"port", b"power", b"island", b"creek",
];

/// Words that make the preceding capitalized pair a place or organization
/// (`Washington Hospital Center`, `Dean Street clinic`).
const PLACE_NEXT: &[&[u8]] = &[
    b"clinic",
    b"campus",
    b"office",
    b"center",
    b"centre",
    b"hospital",
    b"street",
    b"st",
    b"avenue",
    b"ave",
    b"road",
    b"rd",
    b"county",
    b"lab",
    b"wing",
    b"building",
    b"hall",
    b"university",
    b"college",
    b"school",
    b"inc",
    b"llc",
    b"corp",
    b"company",
    b"bank",
    b"medical",
    b"health",
    b"outage",
    b"region",
    b"regional",
    b"station",
    b"airport",
    b"park",
];

fn followed_by_place(l: &[u8], p: usize) -> bool {
    let n = l
        .get(p..)
        .unwrap_or_default()
        .iter()
        .take_while(|b| b.is_ascii_alphabetic())
        .count();
    let w = l.get(p..p + n).unwrap_or_default();
    PLACE_NEXT.iter().any(|x| x.eq_ignore_ascii_case(w))
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
    (llen > 0 && in_set(last_names(), last)).then_some(p + llen)
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
pub(super) fn at_start(l: &[u8], s: usize, k: KindSet) -> Hit {
    let clen = capitalized(l, s);
    if clen == 0 {
        return Hit::None;
    }
    // Month names start with one of these letters and are followed by a
    // space or `.` (checked again by `month_first`).
    if k.contains(Kind::Date)
        && (3..=9).contains(&clen)
        && matches!(
            at(l, s),
            b'J' | b'F' | b'M' | b'A' | b'S' | b'O' | b'N' | b'D'
        )
        && matches!(at(l, s + clen), b' ' | b'.')
    {
        match date::month_first(l, s) {
            Hit::None => {}
            h => return h,
        }
    }
    if k.contains(Kind::Name)
        && let Some(e) = name_pair(l, s, clen).or_else(|| titled(l, s, clen))
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
    fn lists_load() {
        assert!(first_names().contains(b"maria".as_slice()));
        assert!(last_names().contains(b"garcia".as_slice()));
        assert!(!first_names().iter().any(|w| w.starts_with(b"#")));
    }
}
