//! ISO 8601 calendar dates (`YYYY-MM-DD`), never in the future.

use super::Problem;
use crate::PhiValue;

pub(super) fn date(
    v: &PhiValue,
    today: jiff::civil::Date,
) -> Result<(PhiValue, PhiValue), Problem> {
    let s = v.expose().trim();
    let b = s.as_bytes();
    let shape = b.len() == 10
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            _ => c.is_ascii_digit(),
        });
    if !shape {
        return Err(Problem::DateFormat);
    }
    let d: jiff::civil::Date = s.parse().map_err(|_| Problem::DateFormat)?;
    if d > today {
        return Err(Problem::DateInFuture);
    }
    let canonical = d.to_string();
    Ok((PhiValue::new(canonical.clone()), PhiValue::new(canonical)))
}
