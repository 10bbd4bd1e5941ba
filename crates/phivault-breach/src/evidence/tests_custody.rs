use super::*;
use crate::util::parse_micros;

const DIGEST: &str = "3f0a0d6c29b1f1e0b7b5a0c8ab4ab1f7c0f4d1e6a2b3c4d5e6f708192a3b4c5d";

fn t(s: &str) -> i64 {
    parse_micros(s).unwrap()
}

fn three() -> String {
    let mut log = CustodyLog::new(DIGEST).unwrap();
    let mut text = String::new();
    text += &log
        .append(t("2026-03-03T09:00:00Z"), "ciso", "sealed")
        .unwrap();
    text += &log
        .append(
            t("2026-03-03T09:05:00Z"),
            "responder1",
            "copied to case share",
        )
        .unwrap();
    text += &log
        .append(t("2026-03-04T14:00:00Z"), "counsel@example.org", "received")
        .unwrap();
    text
}

fn broken(text: &str) -> Result<CustodyReport, CustodyError> {
    verify_custody(text, DIGEST)
}

fn at(seq: u64, reason: CustodyBreak) -> Result<CustodyReport, CustodyError> {
    Err(CustodyError::Broken { seq, reason })
}

#[test]
fn a_chain_verifies_and_resumes() {
    let text = three();
    let first = text.lines().next().unwrap();
    assert!(first.starts_with(&format!(
        r#"{{"seq":1,"at":"2026-03-03T09:00:00.000000Z","actor":"ciso","action":"sealed","prev":"{DIGEST}","hash":""#
    )));
    let r = broken(&text).unwrap();
    assert_eq!(r.entries, 3);
    let mut log = CustodyLog::resume(&text, DIGEST).unwrap();
    assert_eq!(log.report(), r);
    let line = log
        .append(t("2026-03-05T00:00:00Z"), "ciso", "archived")
        .unwrap();
    assert!(line.starts_with(r#"{"seq":4,"#));
    assert!(line.contains(&format!(r#""prev":"{}""#, r.last_hash)));
    assert_eq!(broken(&(text + &line)).unwrap().entries, 4);
    assert_eq!(
        broken("").unwrap(),
        CustodyReport {
            entries: 0,
            last_hash: DIGEST.into()
        }
    );
}

#[test]
fn every_alteration_names_the_first_broken_entry() {
    let text = three();
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    // An edited action.
    let edited = text.replacen("copied to case share", "copied to usb stick", 1);
    assert_eq!(broken(&edited), at(2, CustodyBreak::Hash));
    // An edited action with its hash recomputed: the next link breaks.
    let mut log = CustodyLog::resume(lines[0], DIGEST).unwrap();
    let forged = log
        .append(
            t("2026-03-03T09:05:00Z"),
            "responder1",
            "copied to usb stick",
        )
        .unwrap();
    let rehashed = format!("{}{forged}{}", lines[0], lines[2]);
    assert_eq!(broken(&rehashed), at(3, CustodyBreak::Prev));
    // A removed, a swapped and a truncated entry.
    assert_eq!(
        broken(&format!("{}{}", lines[0], lines[2])),
        at(2, CustodyBreak::Sequence)
    );
    assert_eq!(
        broken(&format!("{}{}{}", lines[1], lines[0], lines[2])),
        at(1, CustodyBreak::Sequence)
    );
    assert_eq!(broken(text.trim_end()), at(3, CustodyBreak::Malformed));
    // Another bundle's manifest.
    let other = DIGEST.replacen('3', "4", 1);
    assert_eq!(verify_custody(&text, &other), at(1, CustodyBreak::Prev));
    assert_eq!(verify_custody(&text, "xyz"), Err(CustodyError::Digest));
    // Re-encoded (whitespace) or with a member added.
    let spaced = text.replacen("\"seq\":2", "\"seq\": 2", 1);
    assert_eq!(broken(&spaced), at(2, CustodyBreak::NotCanonical));
    let extra = text.replacen("{\"seq\":2", "{\"note\":1,\"seq\":2", 1);
    assert_eq!(broken(&extra), at(2, CustodyBreak::Malformed));
    assert_eq!(
        broken(&format!("{text}not json\n")),
        at(4, CustodyBreak::Malformed)
    );
}

#[test]
fn appends_are_checked() {
    let mut log = CustodyLog::new(DIGEST).unwrap();
    log.append(t("2026-03-03T09:00:00Z"), "ciso", "sealed")
        .unwrap();
    assert_eq!(
        log.append(t("2026-03-03T08:00:00Z"), "ciso", "x"),
        Err(CustodyError::Invalid("at"))
    );
    assert_eq!(
        log.append(t("2026-03-03T10:00:00Z"), "a b", "x"),
        Err(CustodyError::Invalid("actor"))
    );
    assert_eq!(
        log.append(t("2026-03-03T10:00:00Z"), "ciso", "a\nb"),
        Err(CustodyError::Invalid("action"))
    );
    assert_eq!(
        log.append(t("2026-03-03T10:00:00Z"), "ciso", " "),
        Err(CustodyError::Invalid("action"))
    );
    assert_eq!(
        log.report().entries,
        1,
        "refused appends leave the log as it was"
    );
    assert_eq!(
        CustodyError::Broken {
            seq: 2,
            reason: CustodyBreak::Hash
        }
        .to_string(),
        "custody entry 2 has a wrong hash"
    );
}
