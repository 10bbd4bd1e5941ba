//! The report as one self-contained HTML page for a compliance officer:
//! inline CSS, no scripts, no external resources; every string escaped.

use std::fmt::Write;

use super::{Pitfall, Report, Safeguard, Status};

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = r#"
body{font:15px/1.45 -apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:#1d2330;margin:0;background:#f4f5f7}
main{max-width:1100px;margin:0 auto;padding:28px 32px 40px;background:#fff}
h1{font-size:24px;margin:0 0 4px}
h2{font-size:17px;margin:28px 0 8px}
.sub{color:#5a6172;margin:0 0 16px}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:0 0 18px;font-size:14px}
dl.meta dt{color:#5a6172}
dl.meta dd{margin:0;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:13px;word-break:break-all}
.verdict{padding:12px 16px;border-radius:6px;font-weight:600;margin:0 0 14px}
.verdict.fail{background:#fdecea;color:#8a1c12;border:1px solid #f3b8b1}
.verdict.warn{background:#fff6e0;color:#7a5200;border:1px solid #f0d48a}
.verdict.pass{background:#e7f6ec;color:#145c2e;border:1px solid #a8dcb9}
.cards{display:flex;gap:12px;margin:0 0 8px}
.card{flex:1;border-radius:6px;padding:10px 14px;border:1px solid #dde0e6}
.card b{display:block;font-size:26px;line-height:1.1}
.card.fail b{color:#b42318}.card.warn b{color:#9a6700}.card.pass b{color:#1a7f37}
table{width:100%;border-collapse:collapse;font-size:14px}
th,td{text-align:left;vertical-align:top;padding:7px 8px;border-bottom:1px solid #e4e6eb}
thead th{font-size:12px;text-transform:uppercase;letter-spacing:.04em;color:#5a6172;border-bottom:2px solid #c9cdd6}
tr.group th{background:#eef1f6;font-size:14px;text-transform:none;letter-spacing:0;color:#1d2330;padding:8px}
tr.group th span{color:#5a6172;font-weight:normal}
td.none{color:#7a8091;font-style:italic}
.badge{display:inline-block;min-width:42px;text-align:center;padding:2px 6px;border-radius:4px;font-size:12px;font-weight:700;color:#fff}
.badge.pass{background:#1a7f37}.badge.warn{background:#b07800}.badge.fail{background:#b42318}
code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12.5px;background:#f1f3f6;padding:1px 4px;border-radius:3px}
.pit{display:inline-block;font-size:12px;background:#efe9fb;color:#4b2d8f;border-radius:10px;padding:1px 8px;white-space:nowrap}
.rem{color:#3a4150}
footer{margin-top:26px;font-size:13px;color:#5a6172}
@media print{body{background:#fff}main{padding:0}tr{page-break-inside:avoid}}
"#;

/// Escapes `s` and shows its `backticked` names as code.
fn prose(s: &str) -> String {
    let escaped = escape(s);
    if !escaped.matches('`').count().is_multiple_of(2) {
        return escaped;
    }
    let mut out = String::with_capacity(escaped.len() + 32);
    for (n, part) in escaped.split('`').enumerate() {
        if n % 2 == 1 {
            let _ = write!(out, "<code>{part}</code>");
        } else {
            out.push_str(part);
        }
    }
    out
}

fn badge(s: Status) -> String {
    let class = match s {
        Status::Pass => "pass",
        Status::Warn => "warn",
        Status::Fail => "fail",
    };
    format!("<span class=\"badge {class}\">{}</span>", s.label())
}

/// Renders the report.
pub fn render(r: &Report) -> String {
    let mut h = String::with_capacity(16 * 1024);
    h.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    h.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
    h.push_str("<title>phivault compliance report</title><style>");
    h.push_str(STYLE);
    h.push_str("</style></head><body><main>\n");
    h.push_str("<h1>HIPAA technical safeguards report</h1>");
    h.push_str("<p class=\"sub\">45 CFR §164.312, checked by <code>phivault compliance check</code> against the live configuration, keys, store, audit trail, certificate and logs.</p>\n");
    let i = &r.install;
    h.push_str("<dl class=\"meta\">");
    for (k, v) in [
        ("Generated", r.generated_at.as_str()),
        ("Time checks evaluated at", r.evaluated_at.as_str()),
        ("Data directory", i.data_dir.as_str()),
        ("Store", i.store),
        ("Key provider", i.key_provider),
        ("Tenant", i.tenant.as_str()),
        ("phivault version", i.version),
    ] {
        let _ = write!(h, "<dt>{}</dt><dd>{}</dd>", escape(k), escape(v));
    }
    h.push_str("</dl>\n");
    let c = r.summary;
    let (class, verdict) = if c.fail > 0 {
        (
            "fail",
            format!(
                "Not met: {} safeguard check(s) fail. Exit status 1.",
                c.fail
            ),
        )
    } else if c.warn > 0 {
        (
            "warn",
            format!("Met, with {} warning(s) to review.", c.warn),
        )
    } else {
        ("pass", "Met: every check passes.".to_owned())
    };
    let _ = write!(
        h,
        "<div class=\"verdict {class}\">{}</div>",
        escape(&verdict)
    );
    let _ = writeln!(
        h,
        "<div class=\"cards\"><div class=\"card fail\"><b>{}</b>fail</div><div class=\"card warn\"><b>{}</b>warn</div><div class=\"card pass\"><b>{}</b>pass</div></div>",
        c.fail, c.warn, c.pass
    );
    pitfalls(&mut h, r);
    h.push_str("<h2>Findings by safeguard</h2>\n<table><thead><tr><th style=\"width:64px\">Status</th><th style=\"width:200px\">Check</th><th>Finding</th><th style=\"width:30%\">Remediation</th></tr></thead>\n");
    for s in Safeguard::ALL {
        group(&mut h, r, s);
    }
    h.push_str("</table>\n<footer><p><b>Pitfalls</b> are those the project brief names: its three compliance pitfalls (The \u{201c}Temporary\u{201d} Backdoor, Outdated Encryption Practices, Overpermissioned Accounts) and its two cautionary stories (PHI in log files \u{201c}just for debugging\u{201d}, keys stored with PHI).</p><p>Findings name checks, counts, roles, permissions and files; they never contain a PHI value. A warn is a weakness to review; a fail means the safeguard is not in place.</p></footer>\n</main></body></html>\n");
    h
}

/// One line per pitfall of the brief: how many checks guard against it and
/// the worst verdict among them.
fn pitfalls(h: &mut String, r: &Report) {
    h.push_str("<h2>The brief's pitfalls</h2>\n<table><thead><tr><th style=\"width:64px\">Status</th><th>Pitfall</th><th style=\"width:55%\">Checks</th></tr></thead><tbody>\n");
    for p in Pitfall::ALL {
        let checks: Vec<_> = r.findings.iter().filter(|f| f.pitfall == Some(p)).collect();
        let Some(worst) = checks.iter().map(|f| f.status).max() else {
            continue;
        };
        let ids = checks
            .iter()
            .map(|f| format!("<code>{}</code>", escape(f.id)))
            .collect::<Vec<_>>()
            .join(" ");
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{ids}</td></tr>",
            badge(worst),
            escape(p.title())
        );
    }
    h.push_str("</tbody></table>\n");
}

fn group(h: &mut String, r: &Report, s: Safeguard) {
    let _ = writeln!(
        h,
        "<tbody><tr class=\"group\"><th colspan=\"4\">§{} <span>{}</span></th></tr>",
        escape(s.paragraph()),
        escape(s.title())
    );
    let mut any = false;
    for f in r.findings.iter().filter(|f| f.safeguard == s) {
        any = true;
        let pitfall = f.pitfall.map_or_else(String::new, |p| {
            format!("<br><span class=\"pit\">{}</span>", escape(p.title()))
        });
        let rem = if f.status == Status::Pass {
            String::from("—")
        } else {
            prose(&f.remediation)
        };
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td><code>{}</code>{pitfall}</td><td>{}</td><td class=\"rem\">{rem}</td></tr>",
            badge(f.status),
            escape(f.id),
            prose(&f.summary)
        );
    }
    if !any {
        h.push_str("<tr><td></td><td class=\"none\" colspan=\"3\">Not checked on this install; document this safeguard in your policies.</td></tr>\n");
    }
    h.push_str("</tbody>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backticks_become_code_after_escaping() {
        assert_eq!(prose("set `a<b`"), "set <code>a&lt;b</code>");
        assert_eq!(prose("odd ` tick"), "odd ` tick");
    }

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape(r#"<script>"a" & 'b'</script>"#),
            "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;"
        );
    }
}
