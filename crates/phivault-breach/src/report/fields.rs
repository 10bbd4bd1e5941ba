//! What kind of PHI a field name holds, for factor (i).

/// Kinds of PHI, from the least to the most damaging.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FieldKind {
    /// Nothing identifying or clinical by its name.
    Other,
    /// Demographics and the Safe Harbor identifiers (names, geography,
    /// dates, contact details, record numbers): re-identification.
    Identifier,
    /// Clinical information (diagnoses, medications, results, notes).
    Clinical,
    /// Government or financial identifiers (SSN, licence, card, account):
    /// identity theft and fraud.
    Financial,
    /// Specially protected clinical categories (mental health, substance
    /// use, HIV and sexual health, genetics, reproductive health).
    SensitiveClinical,
}

// A key starting with `=` must be a whole `_`-separated word of the name;
// the others match anywhere in it.
const SENSITIVE: &[&str] = &[
    "=hiv",
    "=aids",
    "psych",
    "mental",
    "substance",
    "alcohol",
    "drug_use",
    "opioid",
    "genetic",
    "genom",
    "reproductive",
    "abortion",
    "pregnan",
    "=std",
    "=sti",
    "sexual",
];
const FINANCIAL: &[&str] = &[
    "=ssn",
    "social_security",
    "passport",
    "licence",
    "license",
    "=card",
    "credit",
    "account",
    "=bank",
    "=iban",
    "routing",
    "insurance",
    "member_id",
    "policy_number",
];
const CLINICAL: &[&str] = &[
    "diagnos",
    "condition",
    "medication",
    "prescription",
    "allerg",
    "=lab",
    "result",
    "procedure",
    "note",
    "vital",
    "treatment",
    "problem",
    "immuniz",
    "vaccin",
    "imaging",
    "=icd",
    "symptom",
];
const IDENTIFIER: &[&str] = &[
    "name",
    "address",
    "street",
    "city",
    "=zip",
    "postal",
    "phone",
    "=fax",
    "email",
    "=dob",
    "birth",
    "=mrn",
    "record_number",
    "date",
    "=age",
    "gender",
    "=sex",
    "photo",
    "device",
    "=url",
    "=ip",
    "biometric",
    "vehicle",
];

impl FieldKind {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Other => "other",
            Self::Identifier => "identifier",
            Self::Clinical => "clinical",
            Self::Financial => "financial",
            Self::SensitiveClinical => "sensitive_clinical",
        }
    }

    /// A best guess from a field name (lowercased, matched on `_`-separated
    /// words and known stems); the most damaging match wins.
    pub fn classify(name: &str) -> Self {
        let n = name.to_ascii_lowercase();
        let words: Vec<&str> = n.split(|c: char| !c.is_ascii_alphanumeric()).collect();
        let hit = |list: &[&str]| {
            list.iter().any(|k| match k.strip_prefix('=') {
                Some(word) => words.contains(&word),
                None => n.contains(k),
            })
        };
        if hit(SENSITIVE) {
            Self::SensitiveClinical
        } else if hit(FINANCIAL) {
            Self::Financial
        } else if hit(CLINICAL) {
            Self::Clinical
        } else if hit(IDENTIFIER) {
            Self::Identifier
        } else {
            Self::Other
        }
    }
}

#[cfg(test)]
mod tests {
    use super::FieldKind::*;
    use super::*;

    #[test]
    fn field_names_are_classified_by_the_most_damaging_match() {
        let cases = [
            ("ssn", Financial),
            ("patient_ssn", Financial),
            ("hiv_status", SensitiveClinical),
            ("psych_notes", SensitiveClinical),
            ("diagnosis", Clinical),
            ("medications", Clinical),
            ("name", Identifier),
            ("dob", Identifier),
            ("home_address", Identifier),
            ("mrn", Identifier),
            ("favourite_colour", Other),
            ("ship", Other),
            ("zipper", Other),
            ("cardiology_referral", Other),
            ("card_number", Financial),
            ("lab_results", Clinical),
            ("lastname", Identifier),
        ];
        for (name, kind) in cases {
            assert_eq!(FieldKind::classify(name), kind, "{name}");
        }
        assert!(SensitiveClinical > Financial && Financial > Clinical && Clinical > Identifier);
    }
}
