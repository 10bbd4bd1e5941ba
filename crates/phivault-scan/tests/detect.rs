//! Focused detector cases: positives per format and the hard negatives.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "test")]

use phivault_scan::{Detectors, Kind, KindSet};

fn found(line: &str) -> Vec<(Kind, String)> {
    let mut out = Vec::new();
    Detectors::new().detect(line.as_bytes(), &mut out);
    out.iter()
        .map(|f| (f.kind, line[f.start..f.end].to_owned()))
        .collect()
}

fn one(line: &str, kind: Kind, value: &str) {
    assert_eq!(found(line), vec![(kind, value.to_owned())], "{line}");
}

#[test]
fn positives() {
    one("ssn=123-45-6789;", Kind::Ssn, "123-45-6789");
    one("SSN: 123 45 6789", Kind::Ssn, "123 45 6789");
    one("ssn=123456789", Kind::Ssn, "123456789");
    one("call (617) 555-0123 now", Kind::Phone, "(617) 555-0123");
    one("fax +1-617-555-0123", Kind::Phone, "+1-617-555-0123");
    one("tel +44 20 7946 0958", Kind::Phone, "+44 20 7946 0958");
    one("phone=6175550123", Kind::Phone, "6175550123");
    one(
        "to <j.doe+x@mail.example.org>",
        Kind::Email,
        "j.doe+x@mail.example.org",
    );
    one(
        "see https://example.org/a?b=c.",
        Kind::Url,
        "https://example.org/a?b=c",
    );
    one("from 203.0.113.7:443", Kind::Ipv4, "203.0.113.7");
    one(
        "from [2001:db8::8a2e:370:7334]:443",
        Kind::Ipv6,
        "2001:db8::8a2e:370:7334",
    );
    one("dob=1961-03-04", Kind::Date, "1961-03-04");
    one("dob 03/04/1961", Kind::Date, "03/04/1961");
    one("born March 4, 1961 at home", Kind::Date, "March 4, 1961");
    one("admitted 04-Mar-1961", Kind::Date, "04-Mar-1961");
    one("\"dob\":\"1961-03-04T00:00:00Z\"", Kind::Date, "1961-03-04");
    one("Lebanon, NH 03766", Kind::Zip, "03766");
    one(
        "card 4111 1111 1111 1111 exp",
        Kind::Card,
        "4111 1111 1111 1111",
    );
    one("amex 3782-822463-10005", Kind::Card, "3782-822463-10005");
    one("vin 1M8GDM9AXKP042788", Kind::Vin, "1M8GDM9AXKP042788");
    one("seen by Maria Garcia today", Kind::Name, "Maria Garcia");
    one("Maria L. Garcia", Kind::Name, "Maria L. Garcia");
    one("ask Dr. Nguyen", Kind::Name, "Dr. Nguyen");
}

#[test]
fn hard_negatives() {
    for line in [
        "2024-03-01T10:22:03.123Z INFO started",
        "2024-03-01 10:22:03,123 WARN pool",
        "- - [01/Mar/2024:10:22:03 +0000] \"GET / HTTP/1.1\"",
        "Mar  1 10:22:03 host sshd[1234]: ok",
        "request_id=7f1c2a9e-3b4d-4c5e-9f60-1a2b3c4d5e6f",
        "sha256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "version 1.2.3 build 2024.03.15 Chrome/120.0.0.0",
        "listening on 127.0.0.1:8080 and [::1]:8080 and 0.0.0.0:9090",
        "took 1234ms, 56789 bytes, port 44321",
        "ref=000-12-3456 ref=666-12-3456 ref=912-12-3456 ref=123-00-4567 ref=123-45-0000",
        "mac aa:bb:cc:dd:ee:01 at std::io::Error in abc::def",
        "at src/main.rs:42:17",
        "Will retry; May not be null; Grant access; Bill Payment",
        "site=Virginia Beach clinic",
        "user@localhost and @Override and pkg@1.2.3",
        "txn=4111111111111111",
        "4111111111111112 is not luhn",
    ] {
        assert_eq!(found(line), vec![], "{line}");
    }
}

#[test]
fn kinds_can_be_switched_off() {
    let d = Detectors::new().with_kinds(KindSet::all().without(Kind::Ipv4));
    let mut out = Vec::new();
    d.detect(b"from 203.0.113.7", &mut out);
    assert!(out.is_empty());
}

/// Cases that exercise the engine's shortcuts: a `(`/`+` phone tried at its
/// first digit, the IPv6 pass and its gate, emails at the `@` the walk
/// reaches, capitalized words that skip the lexicon, long census names.
#[test]
fn engine_edge_cases() {
    // `(` and `+` after a separator, after a previous finding, glued.
    one("tel:(617) 555-0123", Kind::Phone, "(617) 555-0123");
    one("[+1 617 555 0123]", Kind::Phone, "+1 617 555 0123");
    assert_eq!(
        found("ssn=123-45-6789 (617) 555-0123"),
        vec![
            (Kind::Ssn, "123-45-6789".to_owned()),
            (Kind::Phone, "(617) 555-0123".to_owned())
        ]
    );
    assert_eq!(found("x(617) 555-0123"), vec![]);
    // A failed `(` leaves its digits to the other detectors.
    one("(03/04/1961)", Kind::Date, "03/04/1961");

    // IPv6: `::` with a digit, eight groups, not inside a log timestamp,
    // not from Rust paths alone.
    one(
        "at phivault::api::Error from fe80::1ff:fe23:4567:890a",
        Kind::Ipv6,
        "fe80::1ff:fe23:4567:890a",
    );
    one(
        "peer 2001:0db8:85a3:0000:0000:8a2e:0370:7334 closed",
        Kind::Ipv6,
        "2001:0db8:85a3:0000:0000:8a2e:0370:7334",
    );
    assert_eq!(found("at phivault::api::Error and std::io"), vec![]);
    assert_eq!(found("time=2024-09-15T22:32::5 level=info"), vec![]);
    assert_eq!(
        found("2024-09-15T22:32:05Z client=2001:db8::7"),
        vec![(Kind::Ipv6, "2001:db8::7".to_owned())]
    );
    assert_eq!(found("mac aa:bb:cc:dd:ee:01 at 10:22:03"), vec![]);

    // Emails: at every `@` outside earlier matches.
    one(
        "to j.doe@mail.example.org.",
        Kind::Email,
        "j.doe@mail.example.org",
    );
    assert_eq!(
        found("a@b.example.com c@d.example.com"),
        vec![
            (Kind::Email, "a@b.example.com".to_owned()),
            (Kind::Email, "c@d.example.com".to_owned())
        ]
    );
    one(
        "see https://user@example.com/x",
        Kind::Url,
        "https://user@example.com/x",
    );
    assert_eq!(found("@ alone, x@y, `quoted` and @@"), vec![]);

    // Capitalized words: names, titles and month-first dates still found
    // when the lexicon is skipped for the other words.
    one("Linux x86_64 by Maria Garcia", Kind::Name, "Maria Garcia");
    one("ask Mr Nguyen", Kind::Name, "Mr Nguyen");
    one("born Mar. 3, 1961", Kind::Date, "Mar. 3, 1961");
    one("born March 3rd, 1961", Kind::Date, "March 3rd, 1961");
    assert_eq!(found("Connection reset by Peer Review"), vec![]);

    // Census names longer than the lexicon's packed keys.
    one("by Maria Hollingsworth", Kind::Name, "Maria Hollingsworth");
    assert_eq!(found("by Maria Hollingsworths"), vec![]);

    // VINs starting with a digit or a capital.
    one("vin=1M8GDM9AXKP042788", Kind::Vin, "1M8GDM9AXKP042788");
    one("vin 2T1BURHE0JC014568;", Kind::Vin, "2T1BURHE0JC014568");
}
