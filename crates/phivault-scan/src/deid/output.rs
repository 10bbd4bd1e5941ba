//! JSONL and CSV serialization of de-identified records.

use std::io::Write;

use super::{DeidValue, DeidentifiedRecord};

fn to_json(v: &DeidValue) -> serde_json::Value {
    match v {
        DeidValue::Text(t) => serde_json::Value::from(t.as_str()),
        DeidValue::Year(y) => serde_json::Value::from(*y),
        DeidValue::Category(c) => serde_json::Value::from(*c),
        DeidValue::Json(j) => j.clone(),
    }
}

fn to_cell(v: &DeidValue) -> String {
    match v {
        DeidValue::Text(t) => t.clone(),
        DeidValue::Year(y) => y.to_string(),
        DeidValue::Category(c) => (*c).to_owned(),
        DeidValue::Json(j) => j.to_string(),
    }
}

impl DeidentifiedRecord {
    /// The record as one JSON object (`pseudonym` first when present).
    pub fn to_json(&self) -> serde_json::Value {
        let mut m = serde_json::Map::new();
        if let Some(p) = &self.pseudonym {
            m.insert("pseudonym".to_owned(), serde_json::Value::from(p.as_str()));
        }
        for (k, v) in &self.fields {
            m.insert(k.clone(), to_json(v));
        }
        serde_json::Value::Object(m)
    }
}

/// One JSON object per line.
pub fn write_jsonl(records: &[DeidentifiedRecord], out: &mut dyn Write) -> std::io::Result<()> {
    for r in records {
        serde_json::to_writer(&mut *out, &r.to_json()).map_err(std::io::Error::other)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

fn csv_cell(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// RFC 4180 CSV: a header with the union of field names in first-seen
/// order (`pseudonym` first when any record has one), then one row each.
pub fn write_csv(records: &[DeidentifiedRecord], out: &mut dyn Write) -> std::io::Result<()> {
    let mut cols: Vec<String> = Vec::new();
    if records.iter().any(|r| r.pseudonym.is_some()) {
        cols.push("pseudonym".to_owned());
    }
    for r in records {
        for (k, _) in &r.fields {
            if !cols.contains(k) {
                cols.push(k.clone());
            }
        }
    }
    let header: Vec<String> = cols.iter().map(|c| csv_cell(c)).collect();
    out.write_all(header.join(",").as_bytes())?;
    out.write_all(b"\r\n")?;
    for r in records {
        let row: Vec<String> = cols
            .iter()
            .map(|c| {
                if c == "pseudonym" && r.pseudonym.is_some() {
                    return csv_cell(r.pseudonym.as_deref().unwrap_or_default());
                }
                r.fields
                    .iter()
                    .find(|(k, _)| k == c)
                    .map(|(_, v)| csv_cell(&to_cell(v)))
                    .unwrap_or_default()
            })
            .collect();
        out.write_all(row.join(",").as_bytes())?;
        out.write_all(b"\r\n")?;
    }
    Ok(())
}
