//! Honey records: decoy patients, made like real intake (every field of
//! the default schema, plausible values, created through the API), so
//! nothing a caller sees tells them apart. Which ids are decoys lives only
//! in the store's flag table, read by the server's detector.
//!
//! The values are synthetic: common census names, random but well-formed
//! SSNs (a never-issued number would give a decoy away, and the vault
//! refuses them anyway), `555` phone numbers, `example.com` addresses. A
//! decoy SSN may coincide with a real person's number; it is never linked
//! to that person's name or any other fact about them.

const FIRST: &[&str] = &[
    "James",
    "Mary",
    "Robert",
    "Patricia",
    "John",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "William",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Charles",
    "Karen",
    "Daniel",
    "Lisa",
    "Matthew",
    "Nancy",
    "Anthony",
    "Betty",
    "Mark",
    "Sandra",
];

const LAST: &[&str] = &[
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Clark",
];

const STREETS: &[&str] = &[
    "Maple Ave",
    "Oak St",
    "Cedar Ln",
    "Elm St",
    "Pine Rd",
    "Washington Blvd",
    "Lake Dr",
    "Hill St",
    "Park Ave",
    "Main St",
];

const CITIES: &[(&str, &str, &str)] = &[
    ("Springfield", "IL", "627"),
    ("Columbus", "OH", "432"),
    ("Madison", "WI", "537"),
    ("Austin", "TX", "787"),
    ("Sacramento", "CA", "958"),
    ("Albany", "NY", "122"),
    ("Raleigh", "NC", "276"),
    ("Denver", "CO", "802"),
];

const NOTES: &[&str] = &[
    "Follow-up in 3 months.",
    "Annual physical, no concerns.",
    "Seasonal allergies; continue current plan.",
    "Blood pressure within normal range.",
    "Referred to physical therapy.",
];

fn pick<'a>(list: &'a [&'a str], r: u32) -> &'a str {
    list.get(r as usize % list.len().max(1))
        .copied()
        .unwrap_or("")
}

/// Randomness for one decoy (from the system generator, through uuid v4).
fn random_words() -> [u32; 8] {
    let a = uuid::Uuid::new_v4();
    let b = uuid::Uuid::new_v4();
    let mut out = [0u32; 8];
    for (i, chunk) in a
        .as_bytes()
        .chunks(4)
        .chain(b.as_bytes().chunks(4))
        .enumerate()
    {
        if let (Some(slot), Ok(bytes)) = (out.get_mut(i), <[u8; 4]>::try_from(chunk)) {
            *slot = u32::from_le_bytes(bytes);
        }
    }
    out
}

/// One decoy patient's fields (the default `patients` schema).
pub fn decoy() -> serde_json::Map<String, serde_json::Value> {
    let r = random_words();
    let w = |i: usize| r.get(i).copied().unwrap_or(0);
    let first = pick(FIRST, w(0));
    let last = pick(LAST, w(1));
    let (city, state, zip3) = CITIES
        .get(w(2) as usize % CITIES.len())
        .copied()
        .unwrap_or(("Springfield", "IL", "627"));
    let year = 1940 + w(3) % 60;
    let month = 1 + w(3) / 60 % 12;
    let day = 1 + w(4) % 28;
    // Area 001-665 or 667-899, group 01-99, serial 0001-9999.
    let mut area = 1 + w(5) % 898;
    if area == 666 {
        area = 667;
    }
    let group = 1 + (w(5) >> 16) % 99;
    let serial = 1 + w(6) % 9999;
    let mut m = serde_json::Map::new();
    let mut put = |k: &str, v: String| {
        m.insert(k.to_owned(), serde_json::Value::String(v));
    };
    put("name", format!("{first} {last}"));
    put("birth_date", format!("{year:04}-{month:02}-{day:02}"));
    put("ssn", format!("{area:03}-{group:02}-{serial:04}"));
    put("mrn", format!("MRN-{:08}", w(7) % 100_000_000));
    put(
        "address",
        format!(
            "{} {}, {city}, {state} {zip3}{:02}",
            10 + w(4) % 9000,
            pick(STREETS, w(5) >> 8),
            w(6) % 100
        ),
    );
    put(
        "phone",
        format!("+1 {}-555-{:04}", 200 + w(7) % 800, w(0) % 10_000),
    );
    put(
        "email",
        format!(
            "{}.{}{}@example.com",
            first.to_lowercase(),
            last.to_lowercase(),
            w(1) % 100
        ),
    );
    put("notes", pick(NOTES, w(2) >> 8).to_owned());
    m
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn decoys_differ_and_pass_the_default_schema() {
        let schema =
            phivault_core::schema::Schema::from_toml(phivault_core::schema::Schema::default_toml())
                .unwrap();
        let coll = schema.collection("patients").unwrap();
        let a = decoy();
        assert_ne!(a, decoy());
        for _ in 0..200 {
            let d = decoy();
            assert_eq!(d.len(), 8);
            let ctx = phivault_core::validate::ValidationContext {
                today: jiff::civil::date(2026, 12, 1),
            };
            phivault_core::record::validate_create(coll, d, &ctx).unwrap();
        }
    }
}
