//! Email, URL and IPv6 detectors: emails at the `@` the walk reaches,
//! URLs at scheme words, IPv6 in a second pass over lines that can hold an
//! address.

use super::{Finding, alnum, at};
use crate::kind::Kind;
use std::net::Ipv6Addr;

fn local_char(b: u8) -> bool {
    alnum(b) || matches!(b, b'.' | b'_' | b'%' | b'+' | b'-')
}

fn domain_char(b: u8) -> bool {
    alnum(b) || matches!(b, b'.' | b'-')
}

/// The email around the `@` at `a`, as `(start, end)`: `local@domain.tld`
/// with an alphabetic TLD of two or more letters. The walk calls this at
/// every `@` it reaches (one inside an earlier match is not reached).
#[inline(never)]
pub(super) fn email_at(l: &[u8], a: usize) -> Option<(usize, usize)> {
    let mut s = a;
    while s > 0 && local_char(at(l, s - 1)) {
        s -= 1;
    }
    while s < a && !alnum(at(l, s)) {
        s += 1;
    }
    if s == a {
        return None;
    }
    let mut e = a + 1;
    while domain_char(at(l, e)) {
        e += 1;
    }
    while e > a + 1 && !alnum(at(l, e - 1)) {
        e -= 1;
    }
    let domain = l.get(a + 1..e).unwrap_or_default();
    let dot = memchr::memrchr(b'.', domain)?;
    let tld = domain.get(dot + 1..).unwrap_or_default();
    if tld.len() < 2 || !tld.iter().all(u8::is_ascii_alphabetic) {
        return None;
    }
    if domain.windows(2).any(|w| w == b"..") || at(l, a + 1) == b'.' {
        return None;
    }
    Some((s, e))
}

const SCHEMES: [&[u8]; 7] = [b"http", b"https", b"ftp", b"ftps", b"sftp", b"ws", b"wss"];

fn url_end(l: &[u8], mut e: usize) -> usize {
    while e < l.len() {
        let b = at(l, e);
        if b <= b' ' || matches!(b, b'"' | b'\'' | b'<' | b'>' | b'`' | b'\\' | b'|' | b']') {
            break;
        }
        e += 1;
    }
    while e > 0 && matches!(at(l, e - 1), b'.' | b',' | b';' | b':' | b')' | b'!' | b'?') {
        e -= 1;
    }
    e
}

/// `scheme://host...` for web schemes, or `www.host...`, at token start `s`
/// (called by the engine for lowercase tokens starting `h`, `f`, `s`, `w`).
#[inline(never)]
pub(super) fn url_at(l: &[u8], s: usize) -> Option<usize> {
    let n = l
        .get(s..)
        .unwrap_or_default()
        .iter()
        .take_while(|b| b.is_ascii_lowercase())
        .count();
    let word = l.get(s..s + n)?;
    if l.get(s + n..s + n + 3) == Some(b"://".as_slice()) {
        if !SCHEMES.contains(&word) {
            return None;
        }
        let h = s + n + 3;
        if !alnum(at(l, h)) && at(l, h) != b'[' {
            return None;
        }
        return Some(url_end(l, h));
    }
    if word == b"www" && at(l, s + 3) == b'.' {
        if s > 0 && matches!(at(l, s - 1), b'/' | b'.' | b'@') {
            return None;
        }
        let e = url_end(l, s + 4);
        let host = l.get(s + 4..e).unwrap_or_default();
        return (alnum(at(l, s + 4)) && host.contains(&b'.')).then_some(e);
    }
    None
}

fn v6_char(b: u8) -> bool {
    b.is_ascii_hexdigit() || b == b':' || b == b'.'
}

/// An IPv6 address starting at token start `s` (a hex digit or `::`),
/// validated by the standard library parser. Must contain a digit (so
/// `abc::def` C++ paths are not addresses) and eight groups or a `::`
/// (so `10:22:03` is not one); loopback and unspecified are not
/// identifiers; MAC addresses fail the parser.
pub(super) fn ipv6_at(l: &[u8], s: usize) -> Option<usize> {
    let mut e = s;
    while v6_char(at(l, e)) {
        e += 1;
    }
    while e > s
        && matches!(at(l, e - 1), b'.' | b':')
        && !(at(l, e - 2) == b':' && at(l, e - 1) == b':')
    {
        e -= 1;
    }
    if e - s < 3 || alnum(at(l, e)) {
        return None;
    }
    let cand = l.get(s..e)?;
    let colons = cand.iter().filter(|&&b| b == b':').count();
    let abbreviated = cand.windows(2).any(|w| w == b"::");
    if colons < 2 || !(abbreviated || colons == 7) || !cand.iter().any(u8::is_ascii_digit) {
        return None;
    }
    let addr = std::str::from_utf8(cand).ok()?.parse::<Ipv6Addr>().ok()?;
    (!addr.is_loopback() && !addr.is_unspecified()).then_some(e)
}

/// True when the run of hex digits, `:` and `.` around `p` holds a digit
/// (an address is such a run and must hold one: `crate::detect` is none).
pub(super) fn v6_run_has_digit(l: &[u8], p: usize) -> bool {
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

/// True when `l` has seven colons in a row separated by groups of one to
/// four hex digits (with a hex digit before the first and after the last;
/// see [`ipv6_at`]), as a full eight-group address has. Times, JSON keys
/// and MAC addresses fail this. The other way a line may hold an address,
/// a `::` in a run holding a digit ([`v6_run_has_digit`]), is checked by
/// the walk.
pub(super) fn colon_chain(l: &[u8]) -> bool {
    let mut run = 0;
    let mut prev: Option<usize> = None;
    for p in memchr::memchr_iter(b':', l) {
        let next = at(l, p + 1);
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

/// Every IPv6 address in `l` (call only when the line may hold one): tried at
/// each `::` not glued to a word and at each token start made of one to four
/// hex digits followed by `:`, outside the `skips` (log timestamps).
pub(super) fn ipv6s(l: &[u8], skips: &[(usize, usize)], out: &mut Vec<Finding>) {
    // Every such position is a colon or at most four bytes before one, so
    // only the bytes just before each colon are visited (in order).
    let mut from = 0;
    let mut skips = skips.iter().peekable();
    while let Some(off) = memchr::memchr(b':', l.get(from..).unwrap_or_default()) {
        let c = from + off;
        let mut i = from.max(c.saturating_sub(4));
        from = c + 1;
        while i <= c {
            while skips.next_if(|(_, e)| *e <= i).is_some() {}
            if let Some(&&(s, e)) = skips.peek()
                && s <= i
            {
                // Inside a skipped timestamp: resume after it.
                i = e;
                from = from.max(e);
                continue;
            }
            if ipv6_try_here(l, i)
                && let Some(end) = ipv6_at(l, i)
            {
                out.push(Finding {
                    kind: Kind::Ipv6,
                    start: i,
                    end,
                });
                from = end;
                break;
            }
            i += 1;
        }
    }
}

fn ipv6_try_here(l: &[u8], i: usize) -> bool {
    if i > 0 && alnum(at(l, i - 1)) {
        return false;
    }
    if at(l, i) == b':' {
        return at(l, i + 1) == b':';
    }
    let g = l
        .get(i..)
        .unwrap_or_default()
        .iter()
        .take(5)
        .take_while(|x| x.is_ascii_hexdigit())
        .count();
    (1..=4).contains(&g) && at(l, i + g) == b':'
}
