//! Email addresses and phone numbers.

use super::Problem;
use crate::PhiValue;

/// A pragmatic check (RFC 5321 lengths, one `@`, a dotted domain of
/// letters, digits and dashes); the index form is lowercase.
pub(super) fn email(v: &PhiValue) -> Result<(PhiValue, PhiValue), Problem> {
    let s = v.expose().trim();
    if s.len() > 254 {
        return Err(Problem::TooLong(254));
    }
    let (local, domain) = s.split_once('@').ok_or(Problem::Email)?;
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c))
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..");
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic()));
    if !local_ok || !domain_ok {
        return Err(Problem::Email);
    }
    Ok((
        PhiValue::new(s.to_owned()),
        PhiValue::new(s.to_ascii_lowercase()),
    ))
}

/// Accepts digits with spaces, dots, dashes and parentheses; a leading `+`
/// means international (8-15 digits, E.164), otherwise a 10-digit North
/// American number (an optional leading 1 is dropped). Canonical: E.164.
pub(super) fn phone(v: &PhiValue) -> Result<(PhiValue, PhiValue), Problem> {
    let s = v.expose().trim();
    let international = s.starts_with('+');
    let body = s.strip_prefix('+').unwrap_or(s);
    if !body
        .chars()
        .all(|c| c.is_ascii_digit() || " .-()".contains(c))
    {
        return Err(Problem::Phone);
    }
    let digits: String = body.chars().filter(char::is_ascii_digit).collect();
    let e164 = if international {
        if !(8..=15).contains(&digits.len()) || digits.starts_with('0') {
            return Err(Problem::Phone);
        }
        format!("+{digits}")
    } else {
        let national = match digits.len() {
            11 if digits.starts_with('1') => digits.get(1..).unwrap_or_default().to_owned(),
            10 => digits,
            _ => return Err(Problem::Phone),
        };
        // NANP: area code and exchange cannot start with 0 or 1.
        let bad = |i: usize| matches!(national.as_bytes().get(i), Some(b'0' | b'1') | None);
        if bad(0) || bad(3) {
            return Err(Problem::Phone);
        }
        format!("+1{national}")
    };
    Ok((PhiValue::new(e164.clone()), PhiValue::new(e164)))
}
