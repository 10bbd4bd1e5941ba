//! Small shared helpers: time conversion, hex, SHA-256 and text checks.
//! None of them is cryptography of our own: digests come from aws-lc-rs.

use aws_lc_rs::digest::{SHA256, digest};

/// Microseconds in one second.
pub(crate) const SECOND: i64 = 1_000_000;
/// Microseconds in one minute.
pub(crate) const MINUTE: i64 = 60 * SECOND;
/// Microseconds in one day.
pub(crate) const DAY: i64 = 24 * 60 * MINUTE;

/// Parses RFC 3339 text into microseconds since the Unix epoch.
pub(crate) fn parse_micros(s: &str) -> Option<i64> {
    s.parse::<jiff::Timestamp>()
        .ok()
        .map(|t| t.as_microsecond())
}

/// RFC 3339 UTC text with six fractional digits, as the audit trail writes
/// it; an out-of-range value prints as `invalid-time` (never panics).
pub(crate) fn rfc3339(us: i64) -> String {
    jiff::Timestamp::from_microsecond(us)
        .map(|t| format!("{t:.6}"))
        .unwrap_or_else(|_| "invalid-time".to_owned())
}

/// Lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(char::from(
            DIGITS.get(usize::from(b >> 4)).copied().unwrap_or(b'0'),
        ));
        s.push(char::from(
            DIGITS.get(usize::from(b & 15)).copied().unwrap_or(b'0'),
        ));
    }
    s
}

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

/// Decodes lowercase hex (uppercase is refused: one spelling per value).
pub(crate) fn unhex(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    if !b.len().is_multiple_of(2) {
        return None;
    }
    b.chunks_exact(2)
        .map(|pair| match pair {
            [hi, lo] => Some(nibble(*hi)? << 4 | nibble(*lo)?),
            _ => None,
        })
        .collect()
}

/// SHA-256 of `data`.
pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    let d = digest(&SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// Whether `s` is one line of printable text: no control characters
/// (newline and tab included), no Unicode bidi overrides.
pub(crate) fn printable_line(s: &str) -> bool {
    s.chars().all(|c| {
        !c.is_control()
            && !matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200b}'..='\u{200f}')
    })
}

/// Whether `s` is a short identifier: 1..=`max` ASCII characters from
/// `[A-Za-z0-9._:@-]`.
pub(crate) fn ident(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':' | b'@'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_refuses_other_spellings() {
        assert_eq!(hex(&[0, 0xab, 0xff]), "00abff");
        assert_eq!(unhex("00abff"), Some(vec![0, 0xab, 0xff]));
        assert_eq!(unhex("00ABFF"), None);
        assert_eq!(unhex("abc"), None);
        assert_eq!(unhex("zz"), None);
    }

    #[test]
    fn time_round_trips_with_microseconds() {
        let us = parse_micros("2026-11-24T10:00:00.000001Z").unwrap();
        assert_eq!(rfc3339(us), "2026-11-24T10:00:00.000001Z");
        assert_eq!(parse_micros("yesterday"), None);
        assert_eq!(rfc3339(i64::MAX), "invalid-time");
    }

    #[test]
    fn text_checks() {
        assert!(printable_line("Lost laptop, ward 3 (é)"));
        assert!(!printable_line("a\nb"));
        assert!(!printable_line("a\u{202e}b"));
        assert!(ident("inc-2026_01", 64));
        assert!(!ident("", 64));
        assert!(!ident("a b", 64));
        assert!(!ident("abc", 2));
    }
}
