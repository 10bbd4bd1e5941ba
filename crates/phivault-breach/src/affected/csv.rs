//! The list as CSV (RFC 4180: CRLF line ends, fields quoted when they hold
//! `,`, `"`, CR or LF, quotes doubled).
//!
//! A cell that a spreadsheet would run as a formula (starting with `=`,
//! `+`, `-`, `@`, tab or CR) is prefixed with `'` (OWASP CSV injection
//! advice): compliance officers open these files in spreadsheets.

use super::AffectedList;
use crate::util::rfc3339;

/// The header row's columns.
pub const CSV_COLUMNS: [&str; 7] = [
    "patient_id",
    "state",
    "fields",
    "first_access",
    "last_access",
    "events",
    "disclosed",
];

fn cell(out: &mut String, raw: &str) {
    let defused;
    let v = if raw.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        defused = format!("'{raw}");
        defused.as_str()
    } else {
        raw
    };
    if v.contains([',', '"', '\r', '\n']) {
        out.push('"');
        out.push_str(&v.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(v);
    }
}

fn row(out: &mut String, cells: &[&str]) {
    for (i, c) in cells.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        cell(out, c);
    }
    out.push_str("\r\n");
}

impl AffectedList {
    /// Every patient on the list, by patient id, with the header row.
    /// `fields` is `;`-separated; times are RFC 3339 (empty when unknown);
    /// `disclosed` is `yes`, `modified`, `attempted` or `no`.
    pub fn to_csv(&self, state_of: impl Fn(&str) -> Option<String>) -> String {
        let mut out = String::new();
        row(&mut out, &CSV_COLUMNS);
        for e in self.entries.values() {
            let state = state_of(&e.patient_id).unwrap_or_else(|| "unknown".to_owned());
            let fields = e
                .fields
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(";");
            let first = e.first_access_micros.map(rfc3339).unwrap_or_default();
            let last = e.last_access_micros.map(rfc3339).unwrap_or_default();
            let events = e.events.to_string();
            row(
                &mut out,
                &[
                    &e.patient_id,
                    &state,
                    &fields,
                    &first,
                    &last,
                    &events,
                    e.access().as_str(),
                ],
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_quoted_and_defused() {
        let mut s = String::new();
        row(
            &mut s,
            &[
                "plain",
                "a,b",
                "say \"hi\"",
                "line\nbreak",
                "=HYPERLINK(\"x\")",
                "-1",
            ],
        );
        assert_eq!(
            s,
            "plain,\"a,b\",\"say \"\"hi\"\"\",\"line\nbreak\",\"'=HYPERLINK(\"\"x\"\")\",'-1\r\n"
        );
    }
}
