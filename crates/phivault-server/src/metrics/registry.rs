//! Process-wide counters and histograms behind the exposition in `mod.rs`.
//!
//! Label values come only from fixed sets chosen by the code (route
//! templates, methods, status codes, error codes, rule names): never from a
//! request. Each family holds at most [`MAX_SERIES`] label sets, so even a
//! mistake cannot grow memory without bound.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

/// Label sets a family keeps at most.
pub const MAX_SERIES: usize = 2048;

/// Histogram bucket bounds in seconds.
pub const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// A counter family: label text (`{a="b"}`) to count.
#[derive(Debug, Default)]
pub struct Counters(Mutex<BTreeMap<String, u64>>);

impl Counters {
    /// An empty family.
    pub const fn new() -> Self {
        Self(Mutex::new(BTreeMap::new()))
    }

    /// Adds one to the series with these labels.
    pub fn inc(&self, labels: &[(&str, &str)]) {
        self.add(labels, 1);
    }

    /// Adds `n` to the series with these labels.
    pub fn add(&self, labels: &[(&str, &str)], n: u64) {
        let key = label_text(labels);
        if let Ok(mut m) = self.0.lock() {
            if m.len() >= MAX_SERIES && !m.contains_key(&key) {
                return;
            }
            *m.entry(key).or_insert(0) += n;
        }
    }

    /// `name{labels} value` lines.
    pub fn render(&self, name: &str, out: &mut String) {
        if let Ok(m) = self.0.lock() {
            for (labels, v) in m.iter() {
                let _ = writeln!(out, "{name}{labels} {v}");
            }
        }
    }
}

#[derive(Debug, Clone, Default)]
struct Series {
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// A histogram family.
#[derive(Debug, Default)]
pub struct Histograms(Mutex<BTreeMap<String, Series>>);

impl Histograms {
    /// An empty family.
    pub const fn new() -> Self {
        Self(Mutex::new(BTreeMap::new()))
    }

    /// Records one observation.
    pub fn observe(&self, labels: &[(&str, &str)], d: Duration) {
        let key = label_text(labels);
        let secs = d.as_secs_f64();
        if let Ok(mut m) = self.0.lock() {
            if m.len() >= MAX_SERIES && !m.contains_key(&key) {
                return;
            }
            let s = m.entry(key).or_default();
            for (b, bound) in s.buckets.iter_mut().zip(BUCKETS) {
                if secs <= bound {
                    *b += 1;
                }
            }
            s.count += 1;
            s.sum += secs;
        }
    }

    /// `_bucket`, `_sum` and `_count` lines.
    pub fn render(&self, name: &str, out: &mut String) {
        let Ok(m) = self.0.lock() else { return };
        for (labels, s) in m.iter() {
            let inner = labels.trim_start_matches('{').trim_end_matches('}');
            let sep = if inner.is_empty() { "" } else { "," };
            for (b, bound) in s.buckets.iter().zip(BUCKETS) {
                let _ = writeln!(out, "{name}_bucket{{{inner}{sep}le=\"{bound}\"}} {b}");
            }
            let _ = writeln!(out, "{name}_bucket{{{inner}{sep}le=\"+Inf\"}} {}", s.count);
            let _ = writeln!(out, "{name}_sum{labels} {}", s.sum);
            let _ = writeln!(out, "{name}_count{labels} {}", s.count);
        }
    }
}

/// `{a="b",c="d"}` with values escaped as the exposition format requires;
/// empty for no labels.
fn label_text(labels: &[(&str, &str)]) -> String {
    if labels.is_empty() {
        return String::new();
    }
    let mut s = String::from("{");
    for (i, (k, v)) in labels.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(k);
        s.push_str("=\"");
        for c in v.chars() {
            match c {
                '\\' => s.push_str("\\\\"),
                '"' => s.push_str("\\\""),
                '\n' => s.push_str("\\n"),
                c => s.push(c),
            }
        }
        s.push('"');
    }
    s.push('}');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_histograms_render_in_the_exposition_format() {
        let c = Counters::new();
        c.inc(&[("route", "/v1/x"), ("status", "200")]);
        c.inc(&[("route", "/v1/x"), ("status", "200")]);
        c.inc(&[("route", "a\"b"), ("status", "500")]);
        let mut out = String::new();
        c.render("t_total", &mut out);
        assert!(
            out.contains("t_total{route=\"/v1/x\",status=\"200\"} 2\n"),
            "{out}"
        );
        assert!(
            out.contains("t_total{route=\"a\\\"b\",status=\"500\"} 1\n"),
            "{out}"
        );
        let h = Histograms::new();
        h.observe(&[], Duration::from_millis(3));
        h.observe(&[], Duration::from_secs(9));
        let mut out = String::new();
        h.render("t_seconds", &mut out);
        assert!(out.contains("t_seconds_bucket{le=\"0.005\"} 1\n"), "{out}");
        assert!(out.contains("t_seconds_bucket{le=\"5\"} 1\n"), "{out}");
        assert!(out.contains("t_seconds_bucket{le=\"+Inf\"} 2\n"), "{out}");
        assert!(out.contains("t_seconds_count 2\n"), "{out}");
    }

    #[test]
    fn a_family_stops_growing_at_its_series_limit() {
        let c = Counters::new();
        for i in 0..(MAX_SERIES + 10) {
            c.inc(&[("n", &i.to_string())]);
        }
        let mut out = String::new();
        c.render("t", &mut out);
        assert_eq!(out.lines().count(), MAX_SERIES);
    }
}
