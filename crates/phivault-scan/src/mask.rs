//! Masked renderings of detected values for reports: enough to find the
//! value again in the source, too little to disclose it.

use crate::kind::Kind;

/// Where a masked value is written: a `String`, or the UTF-8 bytes of a
/// report line.
pub(crate) trait MaskOut {
    fn push_str(&mut self, s: &str);
    fn push(&mut self, c: char);
}

impl MaskOut for String {
    fn push_str(&mut self, s: &str) {
        String::push_str(self, s);
    }
    fn push(&mut self, c: char) {
        String::push(self, c);
    }
}

impl MaskOut for Vec<u8> {
    fn push_str(&mut self, s: &str) {
        self.extend_from_slice(s.as_bytes());
    }
    fn push(&mut self, c: char) {
        self.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
    }
}

/// Appends `b` decoded as UTF-8, invalid sequences replaced by U+FFFD
/// (as `String::from_utf8_lossy`, which borrows when `b` is valid).
fn push_lossy(out: &mut impl MaskOut, b: &[u8]) {
    match std::str::from_utf8(b) {
        Ok(s) => out.push_str(s),
        Err(_) => out.push_str(&String::from_utf8_lossy(b)),
    }
}

/// Appends the last `n` ASCII digits of `v`.
fn push_last_digits(out: &mut impl MaskOut, v: &[u8], n: usize) {
    let total = v.iter().filter(|b| b.is_ascii_digit()).count();
    let skip = total.saturating_sub(n);
    for &b in v.iter().filter(|b| b.is_ascii_digit()).skip(skip) {
        out.push(char::from(b));
    }
}

/// Appends the first byte of `v` decoded alone, so U+FFFD when it is not
/// ASCII (no single byte above 0x7f is valid UTF-8), or nothing.
fn push_first_char(out: &mut impl MaskOut, v: &[u8]) {
    match v.first() {
        Some(&b) if b.is_ascii() => out.push(char::from(b)),
        Some(_) => out.push(char::REPLACEMENT_CHARACTER),
        None => {}
    }
}

fn push_stars(out: &mut impl MaskOut, n: usize) {
    for _ in 0..n.min(12) {
        out.push('*');
    }
}

/// The masked form of `value` (the bytes of a finding of kind `kind`).
pub fn mask(kind: Kind, value: &[u8]) -> String {
    let mut out = String::new();
    mask_into(kind, value, &mut out);
    out
}

/// Appends the masked form of `value` (see [`mask`]) to `out`, without
/// allocating when `out` has room.
pub(crate) fn mask_into(kind: Kind, value: &[u8], out: &mut impl MaskOut) {
    match kind {
        Kind::Ssn => {
            out.push_str("***-**-");
            push_last_digits(out, value, 4);
        }
        Kind::Phone => {
            out.push_str("***-***-");
            push_last_digits(out, value, 4);
        }
        Kind::Card => {
            out.push_str("****-");
            push_last_digits(out, value, 4);
        }
        Kind::Email => {
            let at = memchr::memchr(b'@', value).unwrap_or(0);
            push_first_char(out, value);
            out.push_str("***");
            push_lossy(out, value.get(at..).unwrap_or_default());
        }
        Kind::Name => {
            let mut first = true;
            for w in value.split(|b| *b == b' ').filter(|w| !w.is_empty()) {
                if !first {
                    out.push(' ');
                }
                first = false;
                push_first_char(out, w);
                out.push_str("***");
            }
        }
        Kind::Ipv4 => {
            let first = value.split(|b| *b == b'.').next().unwrap_or_default();
            push_lossy(out, first);
            out.push_str(".*.*.*");
        }
        Kind::Ipv6 => {
            let first = value.split(|b| *b == b':').next().unwrap_or_default();
            push_lossy(out, first);
            out.push_str(":***");
        }
        Kind::Url => {
            let scheme_end = memchr::memmem::find(value, b"://").map_or(0, |p| p + 3);
            push_lossy(out, value.get(..scheme_end).unwrap_or_default());
            push_first_char(out, value.get(scheme_end..).unwrap_or_default());
            out.push_str("***");
        }
        // Bytes as Latin-1 characters, as before (`char::from(u8)`).
        Kind::Date => {
            for &b in value {
                out.push(if b.is_ascii_alphanumeric() {
                    '*'
                } else {
                    char::from(b)
                });
            }
        }
        Kind::Vin => {
            push_first_char(out, value.get(..3).unwrap_or_default());
            push_stars(out, 16);
        }
        Kind::Known => out.push_str("[known value]"),
        _ => push_stars(out, value.len()),
    }
}

/// 1-based column, counted in characters, of byte offset `start` in `line`.
pub fn column(line: &[u8], start: usize) -> usize {
    let prefix = line.get(..start).unwrap_or_default();
    // UTF-8 continuation bytes (`10xxxxxx`) are not characters; counted
    // eight at a time: bit 7 set and bit 6 clear, lane bits summed into the
    // top byte by the multiplication.
    let mut continuations = 0usize;
    let mut chunks = prefix.chunks_exact(8);
    for ch in chunks.by_ref() {
        let w = u64::from_le_bytes(<[u8; 8]>::try_from(ch).unwrap_or_default());
        let m = w & !(w << 1) & 0x8080_8080_8080_8080;
        continuations += ((m >> 7).wrapping_mul(0x0101_0101_0101_0101) >> 56) as usize;
    }
    continuations += chunks
        .remainder()
        .iter()
        .filter(|&&b| (b & 0xC0) == 0x80)
        .count();
    prefix.len() - continuations + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_count_characters() {
        let naive = |l: &[u8], s: usize| l[..s].iter().filter(|&&b| (b & 0xC0) != 0x80).count() + 1;
        let line = "héllo wörld — ünïcode 日本語 and ascii tail 0123456789".as_bytes();
        for s in 0..=line.len() {
            assert_eq!(column(line, s), naive(line, s), "{s}");
        }
        assert_eq!(column(b"abc", 0), 1);
        assert_eq!(column(b"abc", 2), 3);
        // Past the end: the whole line.
        assert_eq!(column(b"abc", 9), 1);
    }

    /// The allocating implementation `mask_into` replaced.
    fn mask_before(kind: Kind, value: &[u8]) -> String {
        let last_digits = |v: &[u8], n: usize| {
            let d: Vec<u8> = v.iter().copied().filter(u8::is_ascii_digit).collect();
            String::from_utf8_lossy(&d[d.len().saturating_sub(n)..]).into_owned()
        };
        let first_char =
            |v: &[u8]| String::from_utf8_lossy(v.get(..1).unwrap_or_default()).into_owned();
        let stars = |n: usize| "*".repeat(n.min(12));
        match kind {
            Kind::Ssn => format!("***-**-{}", last_digits(value, 4)),
            Kind::Phone => format!("***-***-{}", last_digits(value, 4)),
            Kind::Card => format!("****-{}", last_digits(value, 4)),
            Kind::Email => {
                let at = memchr::memchr(b'@', value).unwrap_or(0);
                let domain = String::from_utf8_lossy(&value[at..]);
                format!("{}***{domain}", first_char(value))
            }
            Kind::Name => value
                .split(|b| *b == b' ')
                .filter(|w| !w.is_empty())
                .map(|w| format!("{}***", first_char(w)))
                .collect::<Vec<_>>()
                .join(" "),
            Kind::Ipv4 => {
                let first = value.split(|b| *b == b'.').next().unwrap_or_default();
                format!("{}.*.*.*", String::from_utf8_lossy(first))
            }
            Kind::Ipv6 => {
                let first = value.split(|b| *b == b':').next().unwrap_or_default();
                format!("{}:***", String::from_utf8_lossy(first))
            }
            Kind::Url => {
                let scheme_end = memchr::memmem::find(value, b"://").map_or(0, |p| p + 3);
                let scheme = String::from_utf8_lossy(&value[..scheme_end]);
                format!("{scheme}{}***", first_char(&value[scheme_end..]))
            }
            Kind::Date => value
                .iter()
                .map(|&b| {
                    if b.is_ascii_alphanumeric() {
                        '*'
                    } else {
                        char::from(b)
                    }
                })
                .collect(),
            Kind::Vin => format!(
                "{}{}",
                first_char(value.get(..3).unwrap_or_default()),
                stars(16)
            ),
            Kind::Known => "[known value]".to_owned(),
            _ => stars(value.len()),
        }
    }

    #[test]
    fn mask_into_matches_the_allocating_version() {
        let values: &[&[u8]] = &[
            b"",
            b"1",
            b"12",
            b"123-45-6789",
            b"(617) 555-0123",
            b"4111 1111 1111 1111",
            b"jane@example.org",
            b"\xc3\xa9l\xc3\xa8ne@ex\xffample.org",
            b"@x",
            b"Jane  Doe",
            b" Jane Doe ",
            b"\xc3\x89mile Zola",
            b"10.1.2.3",
            b"\xff.1.2.3",
            b"2001:db8::1",
            b"https://jane.example/p?id=1",
            b"www.example.org",
            b"ftp://\xe2\x82\xac",
            b"1961-03-04",
            b"4 M\xc3\xa4rz 1961\xff",
            b"1HGCM82633A004352",
            b"1H",
            b"\xe2\x82\xacHGCM82633A004352",
            b"MRN-1234567",
            b"x\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8\xf7\xf6\xf5\xf4\xf3",
        ];
        let mut buf = String::from("prefix ");
        let mut bytes = b"prefix ".to_vec();
        for k in Kind::ALL {
            for v in values {
                let want = mask_before(k, v);
                assert_eq!(mask(k, v), want, "{k} {v:?}");
                buf.truncate(7);
                mask_into(k, v, &mut buf);
                assert_eq!(&buf[7..], want, "{k} {v:?}");
                bytes.truncate(7);
                mask_into(k, v, &mut bytes);
                assert_eq!(&bytes[7..], want.as_bytes(), "{k} {v:?}");
            }
        }
    }

    #[test]
    fn masks_keep_little() {
        assert_eq!(mask(Kind::Ssn, b"123-45-6789"), "***-**-6789");
        assert_eq!(mask(Kind::Email, b"jane@example.org"), "j***@example.org");
        assert_eq!(mask(Kind::Name, b"Jane Doe"), "J*** D***");
        assert_eq!(mask(Kind::Date, b"1961-03-04"), "****-**-**");
        assert_eq!(
            mask(Kind::Url, b"https://jane.example/p?id=1"),
            "https://j***"
        );
        assert_eq!(mask(Kind::Mrn, b"MRN-1234567"), "***********");
        assert_eq!(column("é ab".as_bytes(), 3), 3);
    }
}
