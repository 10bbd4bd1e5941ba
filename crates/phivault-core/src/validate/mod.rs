//! Value validation and normalization by field type.
//!
//! A validated value has two forms: the canonical text that is sealed and
//! returned to readers (`NNN-NN-NNNN`, E.164, `YYYY-MM-DD`…), and the
//! normalized text that feeds the blind index (case- and space-folded), so
//! that `John.Doe@Example.org ` and `john.doe@example.org` find each other.

mod contact;
mod date;
mod ssn;
mod text;

use std::fmt;

use crate::PhiValue;
use crate::schema::{FieldDef, FieldType};

pub use ssn::ssn_area_never_issued;

/// What validation needs from the outside world.
#[derive(Debug, Clone, Copy)]
pub struct ValidationContext {
    /// Today's date, for "not in the future" checks.
    pub today: jiff::civil::Date,
}

/// A validated value: canonical form for storage, normalized form for indexing.
#[derive(Debug, Clone)]
pub struct Validated {
    /// The canonical text sealed into the record.
    pub canonical: PhiValue,
    /// The blind-index input (present for searchable types).
    pub normalized: Option<PhiValue>,
}

/// What is wrong with a value. Messages never contain the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// The JSON type is wrong (for example a number where text was expected).
    WrongType(&'static str),
    /// Empty after trimming.
    Empty,
    /// Longer than the type allows.
    TooLong(usize),
    /// Contains control characters.
    ControlCharacters,
    /// Not `NNN-NN-NNNN`.
    SsnFormat,
    /// A number the SSA never issues (area 000, 666 or 900-999; group 00; serial 0000).
    SsnNeverIssued,
    /// Not an ISO 8601 calendar date.
    DateFormat,
    /// A date after today.
    DateInFuture,
    /// Not an email address.
    Email,
    /// Not a phone number.
    Phone,
    /// Not a medical record number.
    Mrn,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::WrongType(t) => write!(f, "expected {t}"),
            Self::Empty => f.write_str("must not be empty"),
            Self::TooLong(n) => write!(f, "longer than {n} bytes"),
            Self::ControlCharacters => f.write_str("contains control characters"),
            Self::SsnFormat => f.write_str("not a social security number (expected NNN-NN-NNNN)"),
            Self::SsnNeverIssued => f.write_str("not a social security number the SSA issues"),
            Self::DateFormat => f.write_str("not an ISO 8601 date (expected YYYY-MM-DD)"),
            Self::DateInFuture => f.write_str("date is in the future"),
            Self::Email => f.write_str("not an email address"),
            Self::Phone => f.write_str("not a phone number"),
            Self::Mrn => f.write_str("not a medical record number (letters, digits and dashes)"),
        }
    }
}

/// A value was rejected: names the field and the problem, never the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("field `{field}`: {problem}")]
pub struct ValueError {
    /// The field name.
    pub field: String,
    /// What is wrong.
    pub problem: Problem,
}

/// Validates one JSON value for a field, consuming it so PHI strings are moved
/// into [`PhiValue`] rather than copied.
pub fn validate(
    def: &FieldDef,
    value: serde_json::Value,
    ctx: &ValidationContext,
) -> Result<Validated, ValueError> {
    let err = |problem| ValueError {
        field: def.name.clone(),
        problem,
    };
    if def.ty == FieldType::Json {
        return text::json(value).map_err(err);
    }
    let serde_json::Value::String(s) = value else {
        return Err(err(Problem::WrongType("a string")));
    };
    let s = PhiValue::new(s);
    let (canonical, normalized) = match def.ty {
        FieldType::String => text::string(&s, 256),
        FieldType::Address => text::string(&s, 512),
        FieldType::Text => text::free_text(&s),
        FieldType::Ssn => ssn::ssn(&s),
        FieldType::Date => date::date(&s, ctx.today),
        FieldType::Email => contact::email(&s),
        FieldType::Phone => contact::phone(&s),
        FieldType::Mrn => text::mrn(&s),
        FieldType::Json => Err(Problem::WrongType("json")),
    }
    .map_err(err)?;
    Ok(Validated {
        canonical,
        normalized: def.ty.searchable().then_some(normalized),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn def(ty: FieldType) -> FieldDef {
        FieldDef {
            name: "f".into(),
            ty,
            phi: true,
            search: true,
            required: false,
        }
    }

    fn ctx() -> ValidationContext {
        ValidationContext {
            today: jiff::civil::date(2026, 1, 15),
        }
    }

    fn ok(ty: FieldType, v: &str) -> (String, Option<String>) {
        let out = validate(&def(ty), json!(v), &ctx()).unwrap();
        (
            out.canonical.expose().to_owned(),
            out.normalized.map(|n| n.expose().to_owned()),
        )
    }

    fn bad(ty: FieldType, v: serde_json::Value) -> Problem {
        validate(&def(ty), v, &ctx()).unwrap_err().problem
    }

    #[test]
    fn normalizes_for_the_index() {
        assert_eq!(ok(FieldType::Ssn, "123456789").0, "123-45-6789");
        assert_eq!(
            ok(FieldType::Ssn, " 123-45-6789 ").1.unwrap(),
            "123-45-6789"
        );
        let (c, n) = ok(FieldType::Email, " John.Doe@Example.ORG ");
        assert_eq!(
            (c.as_str(), n.unwrap().as_str()),
            ("John.Doe@Example.ORG", "john.doe@example.org")
        );
        assert_eq!(ok(FieldType::Phone, "(555) 234-5678").0, "+15552345678");
        assert_eq!(ok(FieldType::Phone, "+44 20 7946 0958").0, "+442079460958");
        assert_eq!(
            ok(FieldType::String, "  Jane   Q.  Doe ").1.unwrap(),
            "jane q. doe"
        );
        assert_eq!(ok(FieldType::Mrn, " mrn-0042 ").0, "MRN-0042");
        assert_eq!(ok(FieldType::Date, "1980-02-29").0, "1980-02-29");
    }

    #[test]
    fn rejects_with_a_named_problem() {
        assert_eq!(
            bad(FieldType::Ssn, json!("000-12-3456")),
            Problem::SsnNeverIssued
        );
        assert_eq!(
            bad(FieldType::Ssn, json!("666-12-3456")),
            Problem::SsnNeverIssued
        );
        assert_eq!(
            bad(FieldType::Ssn, json!("912-12-3456")),
            Problem::SsnNeverIssued
        );
        assert_eq!(
            bad(FieldType::Ssn, json!("123-00-3456")),
            Problem::SsnNeverIssued
        );
        assert_eq!(
            bad(FieldType::Ssn, json!("123-45-0000")),
            Problem::SsnNeverIssued
        );
        assert_eq!(
            bad(FieldType::Ssn, json!("12-345-6789")),
            Problem::SsnFormat
        );
        assert_eq!(
            bad(FieldType::Ssn, json!(123456789)),
            Problem::WrongType("a string")
        );
        assert_eq!(
            bad(FieldType::Date, json!("2026-01-16")),
            Problem::DateInFuture
        );
        assert_eq!(
            bad(FieldType::Date, json!("1981-02-29")),
            Problem::DateFormat
        );
        assert_eq!(
            bad(FieldType::Date, json!("01/02/1980")),
            Problem::DateFormat
        );
        assert_eq!(bad(FieldType::Email, json!("not-an-email")), Problem::Email);
        assert_eq!(bad(FieldType::Email, json!("a@b")), Problem::Email);
        assert_eq!(bad(FieldType::Phone, json!("12")), Problem::Phone);
        assert_eq!(bad(FieldType::String, json!("   ")), Problem::Empty);
        assert_eq!(
            bad(FieldType::String, json!("a\u{7}b")),
            Problem::ControlCharacters
        );
        assert_eq!(
            bad(FieldType::String, json!("x".repeat(300))),
            Problem::TooLong(256)
        );
    }

    #[test]
    fn error_message_names_field_not_value() {
        let e = validate(&def(FieldType::Ssn), json!("666-12-3456"), &ctx()).unwrap_err();
        let msg = e.to_string();
        assert!(msg.starts_with("field `f`:"), "{msg}");
        assert!(!msg.contains("666"), "{msg}");
    }
}
