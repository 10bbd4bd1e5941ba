//! Strings, free text, addresses, medical record numbers and JSON values.

use super::{Problem, Validated};
use crate::PhiValue;

/// Index form of text: trimmed, inner whitespace collapsed, lowercase.
pub(crate) fn fold(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

pub(super) fn string(v: &PhiValue, max: usize) -> Result<(PhiValue, PhiValue), Problem> {
    let s = v.expose().trim();
    if s.is_empty() {
        return Err(Problem::Empty);
    }
    if s.len() > max {
        return Err(Problem::TooLong(max));
    }
    if s.chars().any(char::is_control) {
        return Err(Problem::ControlCharacters);
    }
    Ok((PhiValue::new(s.to_owned()), PhiValue::new(fold(s))))
}

pub(super) fn free_text(v: &PhiValue) -> Result<(PhiValue, PhiValue), Problem> {
    const MAX: usize = 64 * 1024;
    let s = v.expose();
    if s.len() > MAX {
        return Err(Problem::TooLong(MAX));
    }
    if s.chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return Err(Problem::ControlCharacters);
    }
    Ok((v.clone(), PhiValue::new(String::new())))
}

pub(super) fn mrn(v: &PhiValue) -> Result<(PhiValue, PhiValue), Problem> {
    let s = v.expose().trim();
    if s.is_empty() || s.len() > 32 || !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(Problem::Mrn);
    }
    let up = s.to_ascii_uppercase();
    Ok((PhiValue::new(up.clone()), PhiValue::new(up)))
}

pub(super) fn json(v: serde_json::Value) -> Result<Validated, Problem> {
    const MAX: usize = 16 * 1024;
    let text = serde_json::to_string(&v).map_err(|_| Problem::WrongType("json"))?;
    if text.len() > MAX {
        return Err(Problem::TooLong(MAX));
    }
    Ok(Validated {
        canonical: PhiValue::new(text),
        normalized: None,
    })
}
