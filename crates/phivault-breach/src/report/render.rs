//! Markdown and HTML renderings of the report blocks. Every piece of text
//! is escaped for its format; the HTML is self-contained (inline style, no
//! script, a CSP that forbids loading anything).

use std::fmt::Write as _;

use super::RiskInputs;
use super::doc::{Block, build};

/// Escapes text for Markdown: the punctuation that could start markup is
/// backslash-escaped and control characters (newlines included) become
/// spaces, so operator text cannot add links, HTML, headings or table
/// cells.
pub(crate) fn md(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() {
            out.push(' ');
        } else {
            if "\\`*_[]<>|#!&~".contains(c) {
                out.push('\\');
            }
            out.push(c);
        }
    }
    out
}

/// Escapes text for HTML content and attribute values.
pub(crate) fn html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:60em;margin:2em auto;padding:0 1em;color:#111;line-height:1.45}\
h1{font-size:1.5em;border-bottom:2px solid #333}h2{font-size:1.15em;margin-top:1.6em}\
table{border-collapse:collapse;width:100%;font-size:.9em}th,td{border:1px solid #999;padding:.3em .5em;text-align:left;vertical-align:top}\
th{background:#eee}ul{padding-left:1.2em}.lead{padding:.6em;border:1px solid #333;background:#f6f6f6}";

impl RiskInputs {
    /// The report as Markdown (CommonMark with GFM tables).
    pub fn to_markdown(&self) -> String {
        let mut s = String::new();
        for block in build(self) {
            match block {
                Block::Heading(level, text) => {
                    let hashes = "#".repeat(usize::from(level));
                    let _ = writeln!(s, "{hashes} {}\n", md(&text));
                }
                Block::Lead(lead, text) => {
                    let _ = writeln!(s, "**{}** {}\n", md(&lead), md(&text));
                }
                Block::Facts(facts) => {
                    for (label, value) in facts {
                        let _ = writeln!(s, "- **{}:** {}", md(label), md(&value));
                    }
                    s.push('\n');
                }
                Block::Table(head, rows) => {
                    let cells: Vec<String> = head.iter().map(|h| md(h)).collect();
                    let _ = writeln!(s, "| {} |", cells.join(" | "));
                    let _ = writeln!(s, "|{}", "---|".repeat(head.len()));
                    for row in rows {
                        let cells: Vec<String> = row.iter().map(|c| md(c)).collect();
                        let _ = writeln!(s, "| {} |", cells.join(" | "));
                    }
                    s.push('\n');
                }
            }
        }
        s
    }

    /// The report as one self-contained HTML page.
    pub fn to_html(&self) -> String {
        let blocks = build(self);
        let title = blocks
            .iter()
            .find_map(|b| match b {
                Block::Heading(1, t) => Some(t.as_str()),
                _ => None,
            })
            .unwrap_or("Breach risk assessment");
        let mut s =
            String::from("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
        s.push_str("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n");
        let _ = writeln!(
            s,
            "<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>",
            html(title)
        );
        for block in &blocks {
            match block {
                Block::Heading(level, text) => {
                    let _ = writeln!(s, "<h{level}>{}</h{level}>", html(text));
                }
                Block::Lead(lead, text) => {
                    let _ = writeln!(
                        s,
                        "<p class=\"lead\"><strong>{}</strong> {}</p>",
                        html(lead),
                        html(text)
                    );
                }
                Block::Facts(facts) => {
                    s.push_str("<ul>\n");
                    for (label, value) in facts {
                        let _ = writeln!(
                            s,
                            "<li><strong>{}:</strong> {}</li>",
                            html(label),
                            html(value)
                        );
                    }
                    s.push_str("</ul>\n");
                }
                Block::Table(head, rows) => {
                    s.push_str("<table>\n<thead><tr>");
                    for h in head {
                        let _ = write!(s, "<th>{}</th>", html(h));
                    }
                    s.push_str("</tr></thead>\n<tbody>\n");
                    for row in rows {
                        s.push_str("<tr>");
                        for c in row {
                            let _ = write!(s, "<td>{}</td>", html(c));
                        }
                        s.push_str("</tr>\n");
                    }
                    s.push_str("</tbody>\n</table>\n");
                }
            }
        }
        s.push_str("</body>\n</html>\n");
        s
    }
}
