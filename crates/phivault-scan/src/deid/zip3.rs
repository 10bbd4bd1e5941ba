//! ZIP code generalization (45 CFR 164.514(b)(2)(i)(B)).

use std::sync::OnceLock;

static RESTRICTED: &str = include_str!("../../data/zip3_restricted.txt");

fn restricted() -> &'static [[u8; 3]] {
    static S: OnceLock<Vec<[u8; 3]>> = OnceLock::new();
    S.get_or_init(|| {
        RESTRICTED
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| <[u8; 3]>::try_from(l.trim().as_bytes()).ok())
            .collect()
    })
}

/// The Safe Harbor form of a US ZIP code: its first three digits, or `000`
/// for the sparsely populated three-digit areas listed in
/// `data/zip3_restricted.txt`. `None` when `zip` does not start with five
/// digits (ZIP+4 is accepted).
pub fn zip3(zip: &str) -> Option<String> {
    let b = zip.trim().as_bytes();
    let five = b.get(..5)?;
    if !five.iter().all(u8::is_ascii_digit) || b.get(5).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    let p: [u8; 3] = five.get(..3)?.try_into().ok()?;
    if restricted().contains(&p) {
        return Some("000".to_owned());
    }
    Some(String::from_utf8_lossy(&p).into_owned())
}

/// The last ZIP code (five digits, optionally `-NNNN`) in an address.
pub fn zip_in_address(addr: &str) -> Option<String> {
    let b = addr.as_bytes();
    let mut found = None;
    let mut i = 0;
    while i < b.len() {
        if b.get(i).is_some_and(u8::is_ascii_digit) {
            let s = i;
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            if i - s == 5 {
                found = addr.get(s..i).and_then(zip3);
            }
        } else {
            i += 1;
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restricted_areas_become_000() {
        assert_eq!(restricted().len(), 17);
        assert_eq!(zip3("03601").as_deref(), Some("000"));
        assert_eq!(zip3("89301-1234").as_deref(), Some("000"));
        assert_eq!(zip3("02139").as_deref(), Some("021"));
        assert_eq!(zip3("0213"), None);
        assert_eq!(
            zip_in_address("1 Main St, Lebanon NH 03766").as_deref(),
            Some("037")
        );
    }
}
