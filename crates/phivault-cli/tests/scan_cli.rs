//! `phivault scan-logs` as CI would run it: exit codes, masked reports,
//! JSON, gzip, directories, stdin, baselines, known values, bad options.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr,
    reason = "tests"
)]

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

fn scan(args: &[&str]) -> (i32, String, String) {
    let o = Command::new(common::BIN)
        .arg("scan-logs")
        .args(args)
        .output()
        .unwrap();
    (
        o.status.code().unwrap(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

const LEAKY: &str = concat!(
    "2026-12-01T10:00:00.123Z INFO request done status=200 route=/v1/collections/{collection}/records\n",
    r#"{"level":"debug","msg":"patient lookup","ssn":"219-09-9999","email":"jane.roe@example.org"}"#,
    "\n",
    "10.1.2.3 - - [01/Dec/2026:10:00:00 +0000] \"GET /api/patients?phone=617-555-0134 HTTP/1.1\" 200 12\n",
);

#[test]
fn finds_masks_and_exits_one() {
    let d = tempfile::tempdir().unwrap();
    let f = common::write(d.path(), "app.log", LEAKY.as_bytes());
    let (code, out, _) = scan(&[f.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("app.log:2:"), "{out}");
    assert!(
        out.contains(" ssn ") && out.contains("***-**-9999"),
        "{out}"
    );
    assert!(
        out.contains(" email ") && out.contains("j***@example.org"),
        "{out}"
    );
    assert!(out.contains(" phone "), "{out}");
    // The report never repeats a value it found.
    for raw in ["219-09-9999", "jane.roe@example.org", "617-555-0134"] {
        assert!(!out.contains(raw), "`{raw}` echoed: {out}");
    }
    // A clean log exits 0.
    let clean = common::write(
        d.path(),
        "clean.log",
        b"2026-12-01T10:00:00Z INFO started port=8443\n",
    );
    assert_eq!(scan(&[clean.to_str().unwrap()]).0, 0);
}

#[test]
fn json_gzip_directories_and_stdin() {
    let d = tempfile::tempdir().unwrap();
    let sub = d.path().join("nested");
    std::fs::create_dir_all(&sub).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(LEAKY.as_bytes()).unwrap();
    common::write(&sub, "old.log.gz", &gz.finish().unwrap());
    let (code, out, _) = scan(&["--format", "json", d.path().to_str().unwrap()]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let kinds: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"ssn") && kinds.contains(&"email"), "{out}");
    assert!(!out.contains("219-09-9999"));

    let mut child = Command::new(common::BIN)
        .args(["scan-logs", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"user email bob.smith@example.com\n")
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn baseline_known_values_and_patterns() {
    let d = tempfile::tempdir().unwrap();
    let f = common::write(d.path(), "app.log", LEAKY.as_bytes());
    let base = d.path().join("baseline.json");
    let (code, _, err) = scan(&[
        "--write-baseline",
        base.to_str().unwrap(),
        f.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(&base).unwrap();
    assert!(
        !text.contains("219-09-9999") && !text.contains("jane.roe"),
        "{text}"
    );
    let (code, out, _) = scan(&["--baseline", base.to_str().unwrap(), f.to_str().unwrap()]);
    assert_eq!(code, 0, "accepted findings are not reported: {out}");
    // A new leak on top of the baseline is still reported.
    let mut more = LEAKY.to_owned();
    more.push_str("retry for ssn 078-05-1121\n");
    std::fs::write(&f, more).unwrap();
    assert_eq!(
        scan(&["--baseline", base.to_str().unwrap(), f.to_str().unwrap()]).0,
        1
    );

    // Exact known values, and configured identifier formats.
    let known = common::write(d.path(), "known.txt", b"MRN-CANARY-9931\n");
    let log = common::write(
        d.path(),
        "k.log",
        b"2026-12-01 INFO chart MRN-CANARY-9931 opened\n",
    );
    let (code, out, _) = scan(&[
        "--known-values",
        known.to_str().unwrap(),
        log.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("known"), "{out}");
    assert!(!out.contains("MRN-CANARY-9931"), "{out}");
    let mrn = common::write(
        d.path(),
        "m.log",
        b"2026-12-01 INFO chart MRN-OTHER-1234 opened\n",
    );
    let (code, out, _) = scan(&["--pattern", "mrn=MRN-[A-Z0-9-]+", mrn.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(" mrn "), "{out}");

    // Bad options: exit 2 with an error naming the option.
    let (code, _, err) = scan(&["--pattern", "shoe=x+", mrn.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("--pattern"), "{err}");
    let (code, _, err) = scan(&["--format", "xml", mrn.to_str().unwrap()]);
    assert_eq!((code, err.contains("--format")), (2, true));
    let (code, _, err) = scan(&[d.path().join("missing.log").to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
}
