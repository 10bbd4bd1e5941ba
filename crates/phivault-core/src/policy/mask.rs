//! Masked forms of PHI values for roles that may see a field only in part
//! (minimum necessary). Masks reveal at most what a front desk needs to
//! confirm identity: the last four SSN digits, the first letter and domain of
//! an email, the year of a date, the last four digits of a phone number or MRN.

use crate::PhiValue;
use crate::schema::FieldType;

/// The masked form of a normalized value of type `ty`.
pub fn mask(ty: FieldType, value: &PhiValue) -> PhiValue {
    // Why exposing is fine: the result keeps only what the mask shows.
    let v = value.expose();
    let out = match ty {
        FieldType::Ssn => format!("***-**-{}", last_chars(v, 4)),
        FieldType::Email => match v.split_once('@') {
            Some((local, domain)) => {
                let first: String = local.chars().take(1).collect();
                format!("{first}***@{domain}")
            }
            None => "***".to_owned(),
        },
        FieldType::Date => {
            let year: String = v.chars().take(4).collect();
            if year.len() == 4 && year.chars().all(|c| c.is_ascii_digit()) {
                year
            } else {
                "***".to_owned()
            }
        }
        FieldType::Phone => format!("***-***-{}", last_chars(v, 4)),
        FieldType::Mrn => format!("***{}", last_chars(v, 4)),
        _ => "***".to_owned(),
    };
    PhiValue::new(out)
}

fn last_chars(v: &str, n: usize) -> String {
    let count = v.chars().count();
    if count <= n {
        // A value this short would be shown whole: show nothing instead.
        return "*".repeat(n);
    }
    v.chars().skip(count - n).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(ty: FieldType, v: &str) -> String {
        mask(ty, &PhiValue::new(v.to_owned())).expose().to_owned()
    }

    #[test]
    fn masks_show_only_the_confirming_part() {
        assert_eq!(m(FieldType::Ssn, "123-45-6789"), "***-**-6789");
        assert_eq!(
            m(FieldType::Email, "jane.doe@example.org"),
            "j***@example.org"
        );
        assert_eq!(m(FieldType::Date, "1984-07-19"), "1984");
        assert_eq!(m(FieldType::Phone, "+16175550134"), "***-***-0134");
        assert_eq!(m(FieldType::Mrn, "MRN-0042"), "***0042");
        assert_eq!(m(FieldType::Mrn, "42"), "*******");
        assert_eq!(m(FieldType::Text, "diabetic, on insulin"), "***");
        assert_eq!(m(FieldType::Address, "1 Main St"), "***");
        assert_eq!(m(FieldType::String, "Maria Garcia"), "***");
    }
}
