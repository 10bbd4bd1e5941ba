//! US social security numbers.

use super::Problem;
use crate::PhiValue;

/// True for SSN areas the SSA has never issued: 000, 666 and 900-999.
pub fn ssn_area_never_issued(area: u16) -> bool {
    area == 0 || area == 666 || area >= 900
}

/// Accepts `NNN-NN-NNNN` or nine digits; canonical and normalized forms are
/// both `NNN-NN-NNNN`.
pub(super) fn ssn(v: &PhiValue) -> Result<(PhiValue, PhiValue), Problem> {
    let s = v.expose().trim();
    let b = s.as_bytes();
    let digits: Vec<u8> = match b.len() {
        11 if b.get(3) == Some(&b'-') && b.get(6) == Some(&b'-') => b
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != 3 && *i != 6)
            .map(|(_, d)| *d)
            .collect(),
        9 => b.to_vec(),
        _ => return Err(Problem::SsnFormat),
    };
    if digits.len() != 9 || !digits.iter().all(u8::is_ascii_digit) {
        return Err(Problem::SsnFormat);
    }
    let num = |r: std::ops::Range<usize>| {
        digits
            .get(r)
            .map(|d| d.iter().fold(0u16, |acc, x| acc * 10 + u16::from(x - b'0')))
            .unwrap_or(0)
    };
    if ssn_area_never_issued(num(0..3)) || num(3..5) == 0 || num(5..9) == 0 {
        return Err(Problem::SsnNeverIssued);
    }
    let d = String::from_utf8_lossy(&digits);
    let canonical = format!(
        "{}-{}-{}",
        d.get(0..3).unwrap_or_default(),
        d.get(3..5).unwrap_or_default(),
        d.get(5..9).unwrap_or_default()
    );
    Ok((PhiValue::new(canonical.clone()), PhiValue::new(canonical)))
}
