//! Email, URL and IPv6 detectors, triggered by sparse bytes found with
//! `memchr`.

use super::{Finding, alnum, at};
use crate::kind::Kind;
use memchr::memmem;
use std::net::Ipv6Addr;

fn local_char(b: u8) -> bool {
    alnum(b) || matches!(b, b'.' | b'_' | b'%' | b'+' | b'-')
}

fn domain_char(b: u8) -> bool {
    alnum(b) || matches!(b, b'.' | b'-')
}

/// `local@domain.tld` with an alphabetic TLD of two or more letters.
pub(super) fn emails(l: &[u8], out: &mut Vec<Finding>) {
    let mut from = 0;
    while let Some(off) = memchr::memchr(b'@', l.get(from..).unwrap_or_default()) {
        let a = from + off;
        from = a + 1;
        let mut s = a;
        while s > 0 && local_char(at(l, s - 1)) {
            s -= 1;
        }
        while s < a && !alnum(at(l, s)) {
            s += 1;
        }
        if s == a {
            continue;
        }
        let mut e = a + 1;
        while domain_char(at(l, e)) {
            e += 1;
        }
        while e > a + 1 && !alnum(at(l, e - 1)) {
            e -= 1;
        }
        let domain = l.get(a + 1..e).unwrap_or_default();
        let Some(dot) = memchr::memrchr(b'.', domain) else {
            continue;
        };
        let tld = domain.get(dot + 1..).unwrap_or_default();
        if tld.len() < 2 || !tld.iter().all(u8::is_ascii_alphabetic) || domain.contains(&b'@') {
            continue;
        }
        if domain.windows(2).any(|w| w == b"..") || at(l, a + 1) == b'.' {
            continue;
        }
        out.push(Finding {
            kind: Kind::Email,
            start: s,
            end: e,
        });
        from = e;
    }
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

/// `scheme://host...` for web schemes, and `www.host...`.
pub(super) fn urls(l: &[u8], out: &mut Vec<Finding>) {
    for c in memmem::find_iter(l, b"://") {
        let mut s = c;
        while s > 0 && at(l, s - 1).is_ascii_alphabetic() {
            s -= 1;
        }
        let scheme = l.get(s..c).unwrap_or_default();
        if !SCHEMES.iter().any(|x| x.eq_ignore_ascii_case(scheme)) {
            continue;
        }
        if !alnum(at(l, c + 3)) && at(l, c + 3) != b'[' {
            continue;
        }
        let e = url_end(l, c + 3);
        out.push(Finding {
            kind: Kind::Url,
            start: s,
            end: e,
        });
    }
    for s in memmem::find_iter(l, b"www.") {
        if s > 0 && (alnum(at(l, s - 1)) || matches!(at(l, s - 1), b'/' | b'.' | b'@')) {
            continue;
        }
        if !alnum(at(l, s + 4)) {
            continue;
        }
        let e = url_end(l, s + 4);
        let host = l.get(s + 4..e).unwrap_or_default();
        if !host.contains(&b'.') {
            continue;
        }
        out.push(Finding {
            kind: Kind::Url,
            start: s,
            end: e,
        });
    }
}

fn v6_char(b: u8) -> bool {
    b.is_ascii_hexdigit() || b == b':' || b == b'.'
}

/// IPv6 addresses, validated by the standard library parser. Must contain a
/// digit (so `abc::def` C++ paths are not addresses); loopback and
/// unspecified are not identifiers. Timestamps (`10:22:03`) and MAC
/// addresses fail the parser.
pub(super) fn ipv6(l: &[u8], out: &mut Vec<Finding>) {
    let mut from = 0;
    while let Some(off) = memchr::memchr(b':', l.get(from..).unwrap_or_default()) {
        let c = from + off;
        from = c + 1;
        // Cheap reject: an address needs a hex digit or ':' beside the colon.
        let next = at(l, c + 1);
        if !(next.is_ascii_hexdigit() || next == b':') {
            continue;
        }
        let mut s = c;
        while s > 0 && v6_char(at(l, s - 1)) {
            s -= 1;
        }
        let mut e = c + 1;
        while v6_char(at(l, e)) {
            e += 1;
        }
        from = e;
        while e > s && at(l, e - 1) == b'.' {
            e -= 1;
        }
        if e - s < 3 || (s > 0 && alnum(at(l, s - 1))) || alnum(at(l, e)) {
            continue;
        }
        let cand = l.get(s..e).unwrap_or_default();
        let colons = cand.iter().filter(|&&b| b == b':').count();
        if colons < 2 || !cand.iter().any(u8::is_ascii_digit) {
            continue;
        }
        let Some(addr) = std::str::from_utf8(cand)
            .ok()
            .and_then(|t| t.parse::<Ipv6Addr>().ok())
        else {
            continue;
        };
        if addr.is_loopback() || addr.is_unspecified() {
            continue;
        }
        out.push(Finding {
            kind: Kind::Ipv6,
            start: s,
            end: e,
        });
    }
}
