//! One lookup table for every word list the detectors consult: census first
//! and last names, common English words that are also names, place words,
//! month names. A word is looked up once and its flags say which lists
//! hold it.
//!
//! Words of up to [`PACKED_MAX`] ASCII letters are packed five bits per
//! letter (`b & 31`, the same for both cases) into a `u64`, which is both
//! the exact key and the input of the table's hash: no byte comparison and
//! no lowercasing. The few longer names go to a sorted list.

use std::sync::OnceLock;

/// In the census first-name list.
pub(super) const FIRST: u8 = 1;
/// In the census last-name list.
pub(super) const LAST: u8 = 2;
/// A common English word that is also a name (`Will`, `Wood`).
pub(super) const COMMON: u8 = 4;
/// A surname that in logs is mostly the second word of a place (`Beach`).
pub(super) const PLACE_LAST: u8 = 8;
/// A word that makes the preceding pair a place or organization (`Clinic`).
pub(super) const PLACE_NEXT: u8 = 16;
/// A month name or abbreviation (`Mar`, `March`, `Sept`).
pub(super) const MONTH: u8 = 32;

/// Longest word packed into a `u64` key (12 × 5 = 60 bits).
const PACKED_MAX: usize = 12;

const SLOTS_LOG2: u32 = 16;

static FIRST_NAMES: &str = include_str!("../../data/first_names.txt");
static LAST_NAMES: &str = include_str!("../../data/last_names.txt");

/// English words that are also census names; a pair made only of these is
/// not reported.
const COMMON_WORDS: &[&str] = &[
    "will", "may", "june", "grant", "bill", "mark", "hope", "rose", "april", "art", "page", "long",
    "young", "white", "brown", "green", "black", "king", "hall", "wood", "case", "price", "lane",
    "field", "ray", "joy", "faith", "summer", "dawn", "guy", "jack", "frank", "rich", "chance",
    "chase", "ward", "bond", "best", "sharp", "hill", "stone", "rock", "miles", "major", "early",
    "love", "new", "north", "south", "west", "east", "max", "son", "day", "see", "don", "van",
    "lee", "ok", "dean", "carol", "ivy", "sky", "star", "storm", "iris", "penny", "general",
    "power", "street", "house", "cross", "park", "mason", "parker", "cook", "baker", "key", "else",
    "read", "set", "post", "get", "put", "patch", "file", "job", "user", "test", "service",
    "client", "server", "worker", "queue", "cache",
];

/// Census surnames that in logs are mostly the second word of a place
/// (`Virginia Beach`, `Jordan Valley`).
const PLACE_LAST_WORDS: &[&str] = &[
    "beach", "valley", "harbour", "harbor", "springs", "falls", "heights", "county", "city", "bay",
    "lake", "river", "port", "power", "island", "creek",
];

/// Words that make the preceding capitalized pair a place or organization
/// (`Washington Hospital Center`, `Dean Street clinic`).
const PLACE_NEXT_WORDS: &[&str] = &[
    "clinic",
    "campus",
    "office",
    "center",
    "centre",
    "hospital",
    "street",
    "st",
    "avenue",
    "ave",
    "road",
    "rd",
    "county",
    "lab",
    "wing",
    "building",
    "hall",
    "university",
    "college",
    "school",
    "inc",
    "llc",
    "corp",
    "company",
    "bank",
    "medical",
    "health",
    "outage",
    "region",
    "regional",
    "station",
    "airport",
    "park",
];

const MONTH_WORDS: &[&str] = &[
    "jan",
    "feb",
    "mar",
    "apr",
    "may",
    "jun",
    "jul",
    "aug",
    "sep",
    "oct",
    "nov",
    "dec",
    "january",
    "february",
    "march",
    "april",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
    "sept",
];

/// The packed key of `w` if it is 1 to [`PACKED_MAX`] ASCII letters.
#[inline]
fn pack(w: &[u8]) -> Option<u64> {
    if w.is_empty() || w.len() > PACKED_MAX {
        return None;
    }
    let mut key = 0u64;
    for &b in w {
        if !b.is_ascii_alphabetic() {
            return None;
        }
        key = (key << 5) | u64::from(b & 31);
    }
    Some(key)
}

#[inline]
fn slot(key: u64) -> usize {
    (key.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - SLOTS_LOG2)) as usize
}

/// The word lists behind one open-addressing table (linear probing; a zero
/// key marks a free slot, and no packed word is zero).
pub(super) struct Lexicon {
    keys: Box<[u64]>,
    flags: Box<[u8]>,
    /// Lowercase words longer than [`PACKED_MAX`], sorted, with flags.
    long: Vec<(Vec<u8>, u8)>,
}

impl Lexicon {
    fn build() -> Lexicon {
        let mut lex = Lexicon {
            keys: vec![0u64; 1 << SLOTS_LOG2].into_boxed_slice(),
            flags: vec![0u8; 1 << SLOTS_LOG2].into_boxed_slice(),
            long: Vec::new(),
        };
        let listed = |text: &'static str| {
            text.lines()
                .filter(|l| !l.starts_with('#') && !l.is_empty())
        };
        for w in listed(FIRST_NAMES) {
            lex.add(w, FIRST);
        }
        for w in listed(LAST_NAMES) {
            lex.add(w, LAST);
        }
        for (words, flag) in [
            (COMMON_WORDS, COMMON),
            (PLACE_LAST_WORDS, PLACE_LAST),
            (PLACE_NEXT_WORDS, PLACE_NEXT),
            (MONTH_WORDS, MONTH),
        ] {
            for w in words {
                lex.add(w, flag);
            }
        }
        lex.long.sort();
        lex
    }

    fn add(&mut self, word: &str, flag: u8) {
        let w = word.as_bytes();
        let Some(key) = pack(w) else {
            let lower = w.to_ascii_lowercase();
            match self.long.iter_mut().find(|(x, _)| *x == lower) {
                Some((_, f)) => *f |= flag,
                None => self.long.push((lower, flag)),
            }
            return;
        };
        let mask = self.keys.len() - 1;
        let mut i = slot(key);
        // INVARIANT: the table has 65,536 slots for about 30,000 words, so a
        // free slot is always found.
        while let Some(k) = self.keys.get_mut(i) {
            if *k == 0 || *k == key {
                *k = key;
                if let Some(f) = self.flags.get_mut(i) {
                    *f |= flag;
                }
                return;
            }
            i = (i + 1) & mask;
        }
    }

    /// The flags of `w` (ASCII case-insensitive), 0 when no list holds it.
    #[inline]
    pub(super) fn flags(&self, w: &[u8]) -> u8 {
        let Some(key) = pack(w) else {
            return self.long_flags(w);
        };
        let mask = self.keys.len() - 1;
        let mut i = slot(key);
        while let Some(&k) = self.keys.get(i) {
            if k == key {
                return self.flags.get(i).copied().unwrap_or(0);
            }
            if k == 0 {
                return 0;
            }
            i = (i + 1) & mask;
        }
        0
    }

    #[cold]
    fn long_flags(&self, w: &[u8]) -> u8 {
        if w.len() <= PACKED_MAX {
            return 0;
        }
        // Compared lowercased on the fly (no allocation on this path).
        self.long
            .binary_search_by(|(x, _)| x.iter().copied().cmp(w.iter().map(u8::to_ascii_lowercase)))
            .ok()
            .and_then(|i| self.long.get(i))
            .map_or(0, |(_, f)| *f)
    }
}

/// The table, built on first use.
pub(super) fn lexicon() -> &'static Lexicon {
    static L: OnceLock<Lexicon> = OnceLock::new();
    L.get_or_init(Lexicon::build)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_per_list() {
        let l = lexicon();
        assert_eq!(l.flags(b"Maria") & FIRST, FIRST);
        assert_eq!(l.flags(b"GARCIA") & LAST, LAST);
        assert_eq!(l.flags(b"garcia") & FIRST, 0);
        assert_ne!(l.flags(b"will") & COMMON, 0);
        assert_ne!(l.flags(b"Beach") & PLACE_LAST, 0);
        assert_ne!(l.flags(b"clinic") & PLACE_NEXT, 0);
        assert_ne!(l.flags(b"Sept") & MONTH, 0);
        assert_eq!(l.flags(b"Septe"), 0);
        // `may` is a first name, a common word and a month.
        assert_eq!(
            l.flags(b"May") & (FIRST | COMMON | MONTH),
            FIRST | COMMON | MONTH
        );
        assert_eq!(l.flags(b"xq"), 0);
        assert_eq!(l.flags(b""), 0);
        assert_eq!(l.flags(b"ma1ia"), 0);
    }

    #[test]
    fn every_listed_name_is_found() {
        let l = lexicon();
        for (text, flag) in [(FIRST_NAMES, FIRST), (LAST_NAMES, LAST)] {
            for w in text
                .lines()
                .filter(|w| !w.starts_with('#') && !w.is_empty())
            {
                assert_eq!(l.flags(w.as_bytes()) & flag, flag, "{w}");
                assert_eq!(
                    l.flags(w.to_ascii_uppercase().as_bytes()) & flag,
                    flag,
                    "{w}"
                );
            }
        }
    }

    #[test]
    fn long_words_are_exact() {
        let l = lexicon();
        let long = l.long.first().map(|(w, _)| w.clone()).unwrap_or_default();
        if !long.is_empty() {
            assert_ne!(l.flags(&long), 0);
            let mut other = long.clone();
            other.push(b'x');
            assert_eq!(l.flags(&other), 0);
        }
    }
}
