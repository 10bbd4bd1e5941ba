//! Safe Harbor de-identification (45 CFR 164.514(b)(2)) as pure functions.
//!
//! Per field type:
//! - `ssn`, `mrn`, `email`, `phone`: dropped (direct identifiers).
//! - `string` / `text` whose field name denotes a person name or another
//!   direct identifier (`name`, `first_name`, `account`, `licence`, `vin`,
//!   `device_serial`, `url`, `ip`...): dropped.
//! - `string` named `zip`/`postal_code`: three-digit ZIP ([`zip3`]).
//!   `string` named `age`: over 89 becomes `90+`.
//! - `address`: dropped, except its ZIP code generalized to `<name>_zip3`.
//! - `date`: the year only; a birth date (`dob`, `birth*`) that implies an
//!   age over 89 at the reference year becomes the category `90+`.
//! - `text` and other `string`s: scrubbed by every detector plus the record's
//!   own identifier values (names, SSN, MRN, email, phone, address, patient
//!   id, and each word of a name) matched exactly by keyed hash.
//! - `json`: identifier keys removed, date-like keys reduced to the year,
//!   string leaves scrubbed as text.
//!
//! With a [`PseudonymKey`] the output carries `pseudonym`, an HMAC-SHA256 of
//! the patient id: consistent across exports under the same key, not
//! reversible without it.

mod output;
mod zip3;

use std::sync::Arc;

use aws_lc_rs::hmac;
use phivault_core::PhiValue;
use zeroize::Zeroizing;

use crate::detect::Detectors;
use crate::known::KnownValues;
use crate::scrub::Scrubber;

pub use output::{write_csv, write_jsonl};
pub use zip3::{zip_in_address, zip3};

/// The declared type of a record field: the vault schema's own.
pub use phivault_core::schema::FieldType;

/// One field of a source record. The value is PHI and never prints.
#[derive(Debug)]
pub struct Field {
    /// Field name (schema name, not PHI).
    pub name: String,
    /// Declared type.
    pub ty: FieldType,
    /// Plaintext value.
    pub value: PhiValue,
}

/// A source record: the patient's id and fields.
#[derive(Debug)]
pub struct Record {
    /// The patient identifier (pseudonymized when a key is given, else dropped).
    pub patient_id: PhiValue,
    /// The fields.
    pub fields: Vec<Field>,
}

/// The dedicated key for pseudonyms. Zeroized on drop; never prints.
pub struct PseudonymKey(hmac::Key);

impl std::fmt::Debug for PseudonymKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PseudonymKey").finish_non_exhaustive()
    }
}

impl PseudonymKey {
    /// A key from secret bytes (at least 32 recommended).
    pub fn new(bytes: &Zeroizing<Vec<u8>>) -> Self {
        PseudonymKey(hmac::Key::new(hmac::HMAC_SHA256, bytes))
    }

    /// `p_` and 128 bits of HMAC-SHA256(key, domain || patient id), hex.
    pub fn pseudonym(&self, patient_id: &PhiValue) -> String {
        let mut ctx = hmac::Context::with_key(&self.0);
        ctx.update(b"phivault-pseudonym-v1\0");
        ctx.update(patient_id.expose().as_bytes()); // hashed, never output
        let tag = ctx.sign();
        let hex: String = tag
            .as_ref()
            .iter()
            .take(16)
            .map(|b| format!("{b:02x}"))
            .collect();
        format!("p_{hex}")
    }
}

/// Options for [`deidentify`].
#[derive(Debug)]
pub struct DeidOptions {
    /// The year ages are computed against (the export's year).
    pub reference_year: i32,
    /// When set, each output carries a keyed pseudonym of the patient id.
    pub pseudonym_key: Option<PseudonymKey>,
    /// Detectors used to scrub free text.
    pub detectors: Arc<Detectors>,
}

/// A de-identified output value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeidValue {
    /// Scrubbed or generalized text.
    Text(String),
    /// A year.
    Year(i32),
    /// An aggregated category (`90+`).
    Category(&'static str),
    /// A JSON document with identifiers removed.
    Json(serde_json::Value),
}

/// The output of [`deidentify`]. Holds no identifier, so it may print and
/// serialize.
#[derive(Clone, Debug, PartialEq)]
pub struct DeidentifiedRecord {
    /// Keyed pseudonym of the patient, with `--pseudonymize`.
    pub pseudonym: Option<String>,
    /// Kept fields, in source order.
    pub fields: Vec<(String, DeidValue)>,
}

/// De-identification failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeidError {
    /// The per-record key for identifier matching could not be generated.
    #[error("random key generation failed")]
    Random,
}

const NAME_WORDS: &[&str] = &[
    "name", "given", "family", "surname", "forename", "initials", "alias", "nickname",
];
const ID_WORDS: &[&str] = &[
    "ssn",
    "social",
    "mrn",
    "email",
    "phone",
    "fax",
    "mobile",
    "account",
    "licence",
    "license",
    "certificate",
    "vin",
    "vehicle",
    "plate",
    "device",
    "serial",
    "url",
    "website",
    "ip",
    "biometric",
    "photo",
    "fingerprint",
    "beneficiary",
    "insurance_id",
    "member_id",
    "street",
    "address",
    "city",
    "patient_id",
    "passport",
];
const BIRTH_WORDS: &[&str] = &["dob", "birth", "born"];

fn has_word(name: &str, words: &[&str]) -> bool {
    let n = name.to_ascii_lowercase();
    n.split(|c: char| !c.is_ascii_alphanumeric())
        .any(|part| words.contains(&part))
        || words.iter().any(|w| w.len() > 3 && n.contains(w))
        || words.contains(&n.as_str())
}

fn is_identifier_name(name: &str) -> bool {
    has_word(name, NAME_WORDS) || has_word(name, ID_WORDS)
}

/// The first plausible four-digit year (1800-2199) in a date string.
pub fn year_of(date: &str) -> Option<i32> {
    let b = date.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let s = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i - s == 4 {
            let y: i32 = date.get(s..i)?.parse().ok()?;
            if (1800..=2199).contains(&y) {
                return Some(y);
            }
        }
        if i == s {
            i += 1;
        }
    }
    None
}

fn age_value(v: &str) -> Option<DeidValue> {
    let age: u32 = v.trim().parse().ok()?;
    Some(if age > 89 {
        DeidValue::Category("90+")
    } else {
        DeidValue::Text(age.to_string())
    })
}

fn date_value(name: &str, v: &str, reference_year: i32) -> Option<DeidValue> {
    let y = year_of(v)?;
    if has_word(name, BIRTH_WORDS) && reference_year - y > 89 {
        return Some(DeidValue::Category("90+"));
    }
    Some(DeidValue::Year(y))
}

/// The record's own identifier values, to be scrubbed from its free text.
fn own_identifiers(record: &Record) -> Result<KnownValues, DeidError> {
    let mut vals: Vec<&str> = vec![record.patient_id.expose()];
    for f in &record.fields {
        let direct = matches!(
            f.ty,
            FieldType::Ssn
                | FieldType::Mrn
                | FieldType::Email
                | FieldType::Phone
                | FieldType::Address
        );
        let named =
            matches!(f.ty, FieldType::String | FieldType::Text) && is_identifier_name(&f.name);
        if direct || named {
            // Exposed only to be hashed under a random per-record key.
            let v = f.value.expose();
            vals.push(v);
            vals.extend(
                v.split(|c: char| !c.is_alphanumeric())
                    .filter(|w| w.len() >= 2),
            );
        }
    }
    KnownValues::from_values(vals).map_err(|_| DeidError::Random)
}

/// De-identifies one record (see the module documentation for the rules).
pub fn deidentify(record: &Record, opts: &DeidOptions) -> Result<DeidentifiedRecord, DeidError> {
    let known = own_identifiers(record)?;
    let dets = (*opts.detectors).clone().with_known(Arc::new(known));
    let scrubber = Scrubber::new(Arc::new(dets));
    let mut fields = Vec::new();
    for f in &record.fields {
        let v = f.value.expose(); // transformed below; only derived values leave
        let lname = f.name.to_ascii_lowercase();
        let out = match f.ty {
            FieldType::Ssn | FieldType::Mrn | FieldType::Email | FieldType::Phone => None,
            FieldType::Address => {
                if let Some(z) = zip_in_address(v) {
                    fields.push((format!("{}_zip3", f.name), DeidValue::Text(z)));
                }
                None
            }
            FieldType::Date => date_value(&f.name, v, opts.reference_year),
            FieldType::String
                if matches!(
                    lname.as_str(),
                    "zip" | "zipcode" | "zip_code" | "postal_code" | "postcode"
                ) =>
            {
                zip3(v).map(DeidValue::Text)
            }
            FieldType::String if matches!(lname.as_str(), "age" | "age_years") => age_value(v),
            FieldType::String | FieldType::Text if is_identifier_name(&f.name) => None,
            FieldType::String | FieldType::Text => {
                Some(DeidValue::Text(scrubber.scrub(v).into_owned()))
            }
            FieldType::Json => Some(match serde_json::from_str::<serde_json::Value>(v) {
                Ok(j) => DeidValue::Json(json_value(j, "", &scrubber, opts.reference_year)),
                Err(_) => DeidValue::Text(scrubber.scrub(v).into_owned()),
            }),
        };
        if let Some(o) = out {
            fields.push((f.name.clone(), o));
        }
    }
    Ok(DeidentifiedRecord {
        pseudonym: opts
            .pseudonym_key
            .as_ref()
            .map(|k| k.pseudonym(&record.patient_id)),
        fields,
    })
}

fn json_value(v: serde_json::Value, key: &str, s: &Scrubber, year: i32) -> serde_json::Value {
    use serde_json::Value;
    let lkey = key.to_ascii_lowercase();
    let dateish = lkey == "date"
        || lkey.ends_with("_date")
        || lkey.ends_with("_at")
        || has_word(key, BIRTH_WORDS);
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .filter(|(k, _)| !is_identifier_name(k))
                .map(|(k, v)| {
                    let nv = json_value(v, &k, s, year);
                    (k, nv)
                })
                .collect(),
        ),
        Value::Array(a) => {
            Value::Array(a.into_iter().map(|x| json_value(x, key, s, year)).collect())
        }
        Value::String(t) if dateish => match date_value(key, &t, year) {
            Some(DeidValue::Year(y)) => Value::from(y),
            Some(DeidValue::Category(c)) => Value::from(c),
            _ => Value::from(s.scrub(&t).into_owned()),
        },
        Value::String(t) if matches!(lkey.as_str(), "zip" | "zipcode" | "postal_code") => {
            zip3(&t).map_or(Value::Null, Value::from)
        }
        Value::String(t) => Value::from(s.scrub(&t).into_owned()),
        Value::Number(n) if lkey == "age" && n.as_u64().is_some_and(|a| a > 89) => {
            Value::from("90+")
        }
        other => other,
    }
}
