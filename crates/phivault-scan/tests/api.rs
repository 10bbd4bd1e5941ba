//! Scanner I/O, report formats, baseline, scrubber and de-identification.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "test")]

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use phivault_core::PhiValue;
use phivault_scan::deid::{
    DeidOptions, DeidValue, Field, FieldType, PseudonymKey, Record, deidentify, write_csv,
    write_jsonl,
};
use phivault_scan::{
    Baseline, Detectors, Format, Kind, KnownValues, ScanOptions, Scrubber, ScrubbingWriter,
    scan_paths, scan_reader,
};
use zeroize::Zeroizing;

const LOG: &str = "2024-03-01T10:22:03Z info lookup ssn=123-45-6789 ok\n\
2024-03-01T10:22:04Z info request_id=7f1c2a9e-3b4d-4c5e-9f60-1a2b3c4d5e6f took 12ms\n\
2024-03-01T10:22:05Z warn notify jane.doe@example.org about Maria Garcia\n";

#[test]
fn text_report_masks_values_and_sets_exit_code() {
    let opts = ScanOptions::default();
    let mut out = Vec::new();
    let s = scan_reader("app.log", LOG.as_bytes(), &opts, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("app.log:1:38 ssn ***-**-6789"), "{text}");
    assert!(
        text.contains("app.log:3:34 email j***@example.org"),
        "{text}"
    );
    assert!(text.contains("name M*** G***"), "{text}");
    assert!(!text.contains("123-45"));
    assert!(!text.contains("jane.doe"));
    assert_eq!(s.findings, 3);
    assert_eq!(s.lines, 3);
    assert_eq!(s.exit_code(), 1);
    let clean = scan_reader("c.log", "all good\n".as_bytes(), &opts, &mut Vec::new()).unwrap();
    assert_eq!(clean.exit_code(), 0);
}

#[test]
fn json_report_for_ci() {
    let opts = ScanOptions {
        format: Format::Json,
        ..ScanOptions::default()
    };
    let mut out = Vec::new();
    scan_reader("app.log", LOG.as_bytes(), &opts, &mut out).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["summary"]["findings"], 3);
    assert_eq!(v["findings"][0]["kind"], "ssn");
    assert_eq!(v["findings"][0]["line"], 1);
    assert!(!String::from_utf8(out).unwrap().contains("123-45"));
}

#[test]
fn directories_recurse_and_gzip_is_read() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::fs::write(dir.path().join("a.log"), LOG).unwrap();
    let gz = std::fs::File::create(dir.path().join("sub/b.log.gz")).unwrap();
    let mut enc = flate2::write::GzEncoder::new(gz, flate2::Compression::fast());
    enc.write_all(b"phone=(617) 555-0123\n").unwrap();
    enc.finish().unwrap();
    let mut out = Vec::new();
    let s = scan_paths(
        &[dir.path().to_path_buf()],
        &ScanOptions::default(),
        &mut out,
    )
    .unwrap();
    assert_eq!(s.files, 2);
    assert_eq!(s.by_kind["phone"], 1);
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("b.log.gz:1:7 phone ***-***-0123"), "{text}");
    // A missing input is an error entry, not the end of the scan.
    let mut out = Vec::new();
    let s = scan_paths(
        &[PathBuf::from("/nonexistent/x")],
        &ScanOptions::default(),
        &mut out,
    )
    .unwrap();
    assert_eq!(s.errors.len(), 1);
    assert_eq!(s.errors[0].path, "/nonexistent/x");
    assert_eq!(s.exit_code(), 2);
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.contains("/nonexistent/x: unreadable (entity not found)"),
        "{text}"
    );
    assert!(text.contains("1 input(s) unreadable"), "{text}");
}

#[test]
fn unreadable_inputs_are_reported_and_the_scan_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("z.log");
    std::fs::write(&good, LOG).unwrap();
    // A gzip header followed by garbage: the decoder fails mid-stream.
    let bad = dir.path().join("a.log.gz");
    std::fs::write(
        &bad,
        b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03garbage-not-deflate",
    )
    .unwrap();
    let missing = dir.path().join("missing.log");
    let opts = ScanOptions {
        format: Format::Json,
        ..ScanOptions::default()
    };
    let mut out = Vec::new();
    let s = scan_paths(
        &[missing.clone(), dir.path().to_path_buf()],
        &opts,
        &mut out,
    )
    .unwrap();
    assert_eq!(s.findings, 3, "the readable file is still scanned");
    let paths: Vec<&str> = s.errors.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        vec![missing.to_str().unwrap(), bad.to_str().unwrap()]
    );
    // Findings take precedence over read errors.
    assert_eq!(s.exit_code(), 1);
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["summary"]["errors"].as_array().unwrap().len(), 2);
    assert!(v["summary"]["errors"][0]["error"].is_string());
    // Only read errors and nothing found: 2; nothing wrong: 0.
    let s = scan_paths(&[missing, bad], &opts, &mut Vec::new()).unwrap();
    assert_eq!((s.findings, s.errors.len(), s.exit_code()), (0, 2, 2));
    let clean = dir.path().join("clean.log");
    std::fs::write(&clean, "all good\n").unwrap();
    let s = scan_paths(&[clean], &opts, &mut Vec::new()).unwrap();
    assert_eq!(s.exit_code(), 0);
}

#[test]
fn binary_inputs_are_skipped_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let mut bin = b"ELF\x00\x01".to_vec();
    bin.extend_from_slice(b" ssn=123-45-6789\n");
    std::fs::write(dir.path().join("a.bin"), &bin).unwrap();
    // A NUL after the first 8 KiB does not make a log binary.
    let mut late = vec![b'x'; 9000];
    late.extend_from_slice(b"\x00 ssn=123-45-6789\n");
    std::fs::write(dir.path().join("b.log"), &late).unwrap();
    // Binary content inside gzip is skipped too (checked after decompression).
    let gz = std::fs::File::create(dir.path().join("c.bin.gz")).unwrap();
    let mut enc = flate2::write::GzEncoder::new(gz, flate2::Compression::fast());
    enc.write_all(&bin).unwrap();
    enc.finish().unwrap();
    // A plain gzip log is not binary although its bytes hold NULs.
    let gz = std::fs::File::create(dir.path().join("d.log.gz")).unwrap();
    let mut enc = flate2::write::GzEncoder::new(gz, flate2::Compression::fast());
    enc.write_all(b"ssn=123-45-6789\n").unwrap();
    enc.finish().unwrap();
    let mut out = Vec::new();
    let s = scan_paths(
        &[dir.path().to_path_buf()],
        &ScanOptions::default(),
        &mut out,
    )
    .unwrap();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(s.skipped, 2, "{text}");
    assert_eq!(s.files, 2, "{text}");
    assert_eq!(s.findings, 2, "{text}");
    assert!(text.contains("a.bin: skipped (binary)"), "{text}");
    assert!(text.contains("2 binary input(s) skipped"), "{text}");
    assert_eq!(s.exit_code(), 1);
}

#[test]
fn scrubbing_writer_does_not_split_values_of_long_lines() {
    let s = Arc::new(Scrubber::new(Arc::new(Detectors::new())));
    for (value, kind) in [
        ("123-45-6789", "ssn"),
        ("ssn: 123456789", "ssn"),
        ("(617) 555-0123", "phone"),
        ("jane.doe@example.org", "email"),
    ] {
        // Place the value across the 64 KiB boundary at every offset, in
        // writes that end exactly inside it.
        for split in 1..value.len() {
            let mut buf = Vec::new();
            {
                let mut w = ScrubbingWriter::new(&mut buf, s.clone());
                // The first write ends inside the value and takes the
                // buffer past 64 KiB.
                let pad = 64 * 1024 + 1 - split;
                let mut head = "a ".repeat(pad / 2).into_bytes();
                head.resize(pad, b' ');
                head.extend_from_slice(&value.as_bytes()[..split]);
                w.write_all(&head).unwrap();
                w.write_all(&value.as_bytes()[split..]).unwrap();
                w.write_all(&b" b".repeat(40 * 1024)).unwrap();
                w.write_all(b" end\n").unwrap();
            }
            let text = String::from_utf8(buf).unwrap();
            let secret = value.rsplit(' ').next().unwrap();
            assert!(!text.contains(secret), "{value} split at {split} escaped");
            assert!(
                text.contains(&format!("[REDACTED:{kind}]")),
                "{value} at {split}"
            );
            assert!(text.ends_with(" end\n"));
            assert_eq!(text.matches('\n').count(), 1);
        }
    }
    // A single huge token is still forwarded (not buffered without bound).
    let mut buf = Vec::new();
    {
        let mut w = ScrubbingWriter::new(&mut buf, s.clone());
        w.write_all(&vec![b'x'; 200 * 1024]).unwrap();
        assert!(format!("{w:?}").contains("pending_bytes"));
    }
    assert_eq!(buf.len(), 200 * 1024);
}

#[test]
fn baseline_suppresses_accepted_findings_without_storing_values() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("baseline.json");
    let opts = ScanOptions {
        baseline: Some(Baseline::generate().unwrap()),
        collect_baseline: true,
        ..ScanOptions::default()
    };
    let first = scan_reader("app.log", LOG.as_bytes(), &opts, &mut Vec::new()).unwrap();
    assert_eq!(first.baseline_entries.len(), 3);
    opts.baseline
        .as_ref()
        .unwrap()
        .write(&path, first.baseline_entries)
        .unwrap();
    let stored = std::fs::read_to_string(&path).unwrap();
    for secret in ["123-45-6789", "6789", "jane", "Garcia"] {
        assert!(!stored.contains(secret));
    }
    let opts2 = ScanOptions {
        baseline: Some(Baseline::load(&path).unwrap()),
        ..ScanOptions::default()
    };
    // Same content, shifted down one line: still accepted.
    let shifted = format!("new first line\n{LOG}");
    let again = scan_reader("app.log", shifted.as_bytes(), &opts2, &mut Vec::new()).unwrap();
    assert_eq!(again.findings, 0);
    assert_eq!(again.suppressed, 3);
    // A fresh key cannot overwrite a baseline whose key file exists.
    let other = Baseline::generate().unwrap();
    assert!(other.write(&path, Vec::new()).is_err());
    assert_eq!(Baseline::load_or_generate(&path).unwrap().len(), 3);
    // A new finding elsewhere is still reported.
    let more = format!("{LOG}dob=1961-03-04\n");
    let r = scan_reader("app.log", more.as_bytes(), &opts2, &mut Vec::new()).unwrap();
    assert_eq!(r.findings, 1);
}

#[test]
fn known_values_and_configured_patterns() {
    let kv = KnownValues::from_reader("A-99812\nOlga Brzezinska\n".as_bytes()).unwrap();
    let d = Detectors::new()
        .with_known(Arc::new(kv))
        .with_pattern(Kind::Mrn, r"\bMRN\d{6}\b")
        .unwrap();
    let mut out = Vec::new();
    d.detect(b"chart A-99812 for olga brzezinska mrn MRN004211", &mut out);
    let kinds: Vec<Kind> = out.iter().map(|f| f.kind).collect();
    assert_eq!(kinds, vec![Kind::Known, Kind::Known, Kind::Mrn]);
    assert!(Detectors::new().with_pattern(Kind::Mrn, "(").is_err());
}

#[test]
fn scrubber_and_writer_redact_and_count() {
    let s = Arc::new(Scrubber::new(Arc::new(Detectors::new())));
    assert!(matches!(
        s.scrub("nothing here"),
        std::borrow::Cow::Borrowed(_)
    ));
    assert_eq!(
        s.scrub("ssn 123-45-6789\nmail a@b.io"),
        "ssn [REDACTED:ssn]\nmail [REDACTED:email]"
    );
    let mut w = ScrubbingWriter::new(Vec::new(), s.clone());
    w.write_all(b"call 617-555-0123 now\nand jo").unwrap();
    w.write_all(b"hn@example.org\n").unwrap();
    w.flush().unwrap();
    assert_eq!(s.redactions(), 4);
    let inner = String::from_utf8(w.scrubber().scrub("x").into_owned().into_bytes()).unwrap();
    assert_eq!(inner, "x");
}

#[test]
fn scrubbing_writer_output() {
    let s = Arc::new(Scrubber::new(Arc::new(Detectors::new())));
    let mut buf = Vec::new();
    {
        let mut w = ScrubbingWriter::new(&mut buf, s.clone());
        write!(w, "user jane@example.org ").unwrap();
        writeln!(w, "from 203.0.113.9").unwrap();
        write!(w, "tail 123-45-6789").unwrap();
    }
    assert_eq!(
        String::from_utf8(buf).unwrap(),
        "user [REDACTED:email] from [REDACTED:ipv4]\ntail [REDACTED:ssn]"
    );
}

fn field(name: &str, ty: FieldType, v: &str) -> Field {
    Field {
        name: name.to_owned(),
        ty,
        value: PhiValue::new(v.to_owned()),
    }
}

fn record() -> Record {
    Record {
        patient_id: PhiValue::new("pat-000123".to_owned()),
        fields: vec![
            field("full_name", FieldType::String, "Zbigniew Okonkwo"),
            field("ssn", FieldType::Ssn, "123-45-6789"),
            field("mrn", FieldType::Mrn, "MRN998877"),
            field("email", FieldType::Email, "zokonkwo@example.org"),
            field("phone", FieldType::Phone, "617-555-0123"),
            field("home", FieldType::Address, "12 Elm St, Lebanon, NH 03766"),
            field("zip", FieldType::String, "89301"),
            field("dob", FieldType::Date, "1931-05-17"),
            field("admitted", FieldType::Date, "2023-11-02"),
            field("age", FieldType::String, "93"),
            field("diagnosis", FieldType::String, "J45.909"),
            field(
                "notes",
                FieldType::Text,
                "Zbigniew (MRN998877) seen 2023-11-02; Okonkwo, Z. reports cough. Call 617-555-0123 or zokonkwo@example.org. Lives at 12 Elm St.",
            ),
            field(
                "extra",
                FieldType::Json,
                r#"{"contact":{"email":"zokonkwo@example.org"},"visit_date":"2023-11-02","comment":"ssn 123-45-6789 on file","age":93}"#,
            ),
        ],
    }
}

#[test]
fn deidentify_leaves_no_source_identifier() {
    let opts = DeidOptions {
        reference_year: 2025,
        pseudonym_key: Some(PseudonymKey::new(&Zeroizing::new(vec![7u8; 32]))),
        detectors: Arc::new(Detectors::new()),
    };
    let rec = record();
    let out = deidentify(&rec, &opts).unwrap();
    let mut jsonl = Vec::new();
    write_jsonl(std::slice::from_ref(&out), &mut jsonl).unwrap();
    let mut csv = Vec::new();
    write_csv(std::slice::from_ref(&out), &mut csv).unwrap();
    let all = format!(
        "{}\n{}\n{out:?}",
        String::from_utf8(jsonl.clone()).unwrap(),
        String::from_utf8(csv).unwrap()
    );
    for ident in [
        "Zbigniew",
        "Okonkwo",
        "okonkwo",
        "123-45-6789",
        "MRN998877",
        "617-555-0123",
        "12 Elm",
        "Elm St",
        "Lebanon",
        "03766",
        "89301",
        "1931",
        "05-17",
        "2023-11-02",
        "11-02",
        "pat-000123",
        "93",
    ] {
        assert!(!all.contains(ident), "`{ident}` survived: {all}");
    }
    let get = |k: &str| {
        out.fields
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(get("home_zip3"), Some(DeidValue::Text("037".into())));
    assert_eq!(get("zip"), Some(DeidValue::Text("000".into())));
    assert_eq!(get("dob"), Some(DeidValue::Category("90+")));
    assert_eq!(get("admitted"), Some(DeidValue::Year(2023)));
    assert_eq!(get("age"), Some(DeidValue::Category("90+")));
    assert_eq!(get("diagnosis"), Some(DeidValue::Text("J45.909".into())));
    assert!(get("full_name").is_none() && get("ssn").is_none() && get("email").is_none());
    let v: serde_json::Value = serde_json::from_slice(&jsonl).unwrap();
    assert_eq!(v["extra"]["visit_date"], 2023);
    assert!(v["extra"]["contact"].get("email").is_none());
    assert_eq!(v["extra"]["age"], "90+");
    // Pseudonyms are consistent per patient under one key, different per key.
    let again = deidentify(&record(), &opts).unwrap();
    assert_eq!(out.pseudonym, again.pseudonym);
    assert!(out.pseudonym.as_ref().unwrap().starts_with("p_"));
    let other = DeidOptions {
        pseudonym_key: Some(PseudonymKey::new(&Zeroizing::new(vec![8u8; 32]))),
        ..opts
    };
    assert_ne!(
        deidentify(&record(), &other).unwrap().pseudonym,
        out.pseudonym
    );
}

#[test]
fn deidentify_many_records_leaves_no_identifier() {
    let firsts = [
        "Amara",
        "Bartholomew",
        "Consuelo",
        "Dmitri",
        "Esperanza",
        "Fitzgerald",
        "Guadalupe",
        "Horatio",
    ];
    let lasts = [
        "Villanueva",
        "Oyelaran",
        "Kowalczyk",
        "Thistlewood",
        "Abernathy",
        "Quintanilla",
        "Rasmussen",
        "Zielinski",
    ];
    let opts = DeidOptions {
        reference_year: 2025,
        pseudonym_key: None,
        detectors: Arc::new(Detectors::new()),
    };
    let mut seed = 0x1234_5678_u64;
    let mut next = move |n: u64| {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) % n
    };
    for i in 0..64 {
        let first = firsts[next(8) as usize];
        let last = lasts[next(8) as usize];
        let ssn = format!(
            "{:03}-{:02}-{:04}",
            100 + next(500),
            10 + next(80),
            1000 + next(8000)
        );
        let mrn = format!("MRN{:06}", next(1_000_000));
        let phone = format!(
            "({}) {}-{:04}",
            201 + next(700),
            201 + next(700),
            next(10000)
        );
        let email = format!(
            "{}.{}{i}@example.org",
            first.to_lowercase(),
            last.to_lowercase()
        );
        let notes = format!(
            "{first} {last} ({mrn}) called from {phone}; {}, {} confirmed ssn {ssn} and email {email}. Mr. {last} to follow up.",
            last.to_uppercase(),
            first
        );
        let rec = Record {
            patient_id: PhiValue::new(format!("pt-{i:05}")),
            fields: vec![
                field("first_name", FieldType::String, first),
                field("last_name", FieldType::String, last),
                field("ssn", FieldType::Ssn, &ssn),
                field("mrn", FieldType::Mrn, &mrn),
                field("phone", FieldType::Phone, &phone),
                field("email", FieldType::Email, &email),
                field("notes", FieldType::Text, &notes),
            ],
        };
        let out = deidentify(&rec, &opts).unwrap();
        let mut buf = Vec::new();
        write_jsonl(std::slice::from_ref(&out), &mut buf).unwrap();
        let text = String::from_utf8(buf).unwrap().to_lowercase();
        for ident in [
            first,
            last,
            &ssn,
            &mrn,
            &phone,
            &email,
            &format!("pt-{i:05}"),
        ] {
            assert!(
                !text.contains(&ident.to_lowercase()),
                "`{ident}` survived: {text}"
            );
        }
        assert!(text.contains("confirmed ssn"), "{text}");
    }
}

#[test]
fn crlf_long_lines_and_invalid_utf8() {
    let mut data = b"ssn=123-45-6789\r\n".to_vec();
    data.extend(std::iter::repeat_n(b'x', 3 << 20));
    data.extend_from_slice(b" a@b.io\n\xff\xfe phone=617-555-0123\n");
    let mut out = Vec::new();
    let s = scan_reader("big.log", &data[..], &ScanOptions::default(), &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(s.lines, 3);
    assert!(text.contains("big.log:1:5 ssn ***-**-6789\n"), "{text}");
    assert!(text.contains("big.log:2:3145730 email a***@b.io"), "{text}");
    assert!(text.contains("big.log:3:10 phone ***-***-0123"), "{text}");
}

/// Large gzip files are inflated on a thread of their own: the report is
/// the plain file's, line for line, across many blocks and two gzip
/// members; a stream corrupt after many blocks keeps what came before.
#[test]
fn large_gzip_files_report_like_the_plain_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::new();
    for i in 0..60_000 {
        if i % 7_919 == 0 {
            text.push_str(&format!("{i} call (617) 555-0{:03} now\n", i % 1000));
        } else {
            text.push_str(&format!("{i} request ok took {}ms\n", i % 97));
        }
    }
    let plain = dir.path().join("a.log");
    std::fs::write(&plain, &text).unwrap();
    let (first, second) = text.split_at(text.len() / 2);
    let gz = dir.path().join("a.log.gz");
    let mut f = std::fs::File::create(&gz).unwrap();
    for part in [first, second] {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(part.as_bytes()).unwrap();
        f.write_all(&enc.finish().unwrap()).unwrap();
    }
    drop(f);
    let opts = ScanOptions::default();
    let report = |p: &PathBuf| {
        let mut out = Vec::new();
        let s = scan_paths(std::slice::from_ref(p), &opts, &mut out).unwrap();
        (s, String::from_utf8(out).unwrap())
    };
    let (ps, pt) = report(&plain);
    let (gs, gt) = report(&gz);
    assert!(text.len() > 16 * (64 << 10), "spans many blocks");
    assert_eq!(
        (gs.findings, gs.lines, gs.bytes),
        (ps.findings, ps.lines, ps.bytes)
    );
    assert_eq!(ps.findings, 8);
    assert_eq!(gt.replace("a.log.gz", "a.log"), pt);
    assert!(pt.contains("a.log:55434:"), "{pt}");

    // Cut the second member short: the first member's findings stay and
    // the file is reported unreadable.
    let bytes = std::fs::read(&gz).unwrap();
    let cut = dir.path().join("cut.log.gz");
    std::fs::write(&cut, &bytes[..bytes.len() * 3 / 4]).unwrap();
    let (cs, _) = report(&cut);
    assert_eq!(cs.errors.len(), 1);
    assert!(cs.findings >= 4 && cs.findings < 8, "{}", cs.findings);
}
