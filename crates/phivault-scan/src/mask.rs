//! Masked renderings of detected values for reports: enough to find the
//! value again in the source, too little to disclose it.

use crate::kind::Kind;

fn last_digits(v: &[u8], n: usize) -> String {
    let d: Vec<u8> = v.iter().copied().filter(u8::is_ascii_digit).collect();
    let from = d.len().saturating_sub(n);
    String::from_utf8_lossy(d.get(from..).unwrap_or_default()).into_owned()
}

fn first_char(v: &[u8]) -> String {
    String::from_utf8_lossy(v.get(..1).unwrap_or_default()).into_owned()
}

fn stars(n: usize) -> String {
    "*".repeat(n.min(12))
}

/// The masked form of `value` (the bytes of a finding of kind `kind`).
pub fn mask(kind: Kind, value: &[u8]) -> String {
    match kind {
        Kind::Ssn => format!("***-**-{}", last_digits(value, 4)),
        Kind::Phone => format!("***-***-{}", last_digits(value, 4)),
        Kind::Card => format!("****-{}", last_digits(value, 4)),
        Kind::Email => {
            let at = memchr::memchr(b'@', value).unwrap_or(0);
            let domain = String::from_utf8_lossy(value.get(at..).unwrap_or_default());
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
            let scheme = String::from_utf8_lossy(value.get(..scheme_end).unwrap_or_default());
            let host = value.get(scheme_end..).unwrap_or_default();
            format!("{scheme}{}***", first_char(host))
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
