//! Deterministic synthetic patients (valid for every validator).

const FIRST: &[&str] = &[
    "Ada", "Bela", "Cyrus", "Dana", "Elio", "Fern", "Gus", "Hana", "Ivo", "Jun", "Kira", "Lev",
];
const LAST: &[&str] = &[
    "Abara", "Brisco", "Castell", "Dunmore", "Eskin", "Farrow", "Gale", "Hollis", "Iver", "Jansen",
];

/// One synthetic patient's 8 fields, in schema order.
#[derive(Debug, Clone)]
pub struct Patient {
    pub fields: [(&'static str, String); 8],
}

impl Patient {
    pub fn get(&self, name: &str) -> &str {
        self.fields
            .iter()
            .find(|(k, _)| *k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Map<String, serde_json::Value> {
        self.fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), serde_json::Value::String(v.clone())))
            .collect()
    }
}

fn pick<'a>(list: &[&'a str], i: usize) -> &'a str {
    list.get(i % list.len().max(1)).copied().unwrap_or("X")
}

/// `n` distinct patients; SSNs are unique and in issued ranges.
pub fn patients(n: usize) -> Vec<Patient> {
    (0..n)
        .map(|i| {
            let area = 100 + (i / 9_999) % 500;
            let serial = 1 + i % 9_999;
            let group = 10 + (i / 4_999_500) % 80;
            Patient {
                fields: [
                    (
                        "name",
                        format!("{} {} {i}", pick(FIRST, i), pick(LAST, i / 7)),
                    ),
                    (
                        "birth_date",
                        format!("{}-{:02}-{:02}", 1930 + i % 90, 1 + i % 12, 1 + i % 28),
                    ),
                    ("ssn", format!("{area:03}-{group:02}-{serial:04}")),
                    ("mrn", format!("MRN-{i:08}")),
                    (
                        "address",
                        format!(
                            "{} Elm Street, Springfield, IL 627{:02}",
                            1 + i % 900,
                            i % 100
                        ),
                    ),
                    ("phone", format!("+1217555{:04}", i % 10_000)),
                    ("email", format!("patient{i}@example.org")),
                    (
                        "notes",
                        "Seasonal allergies; annual follow-up recommended.".to_owned(),
                    ),
                ],
            }
        })
        .collect()
}
