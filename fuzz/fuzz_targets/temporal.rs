//! The temporal syntax (`phivault_core::policy::Schedule::parse`): role
//! constraints such as `08:00-18:00 Mon-Fri, 09:00-13:00 Sat`.
//!
//! Asserts:
//! - day names are ASCII case-insensitive and times are digits, so the
//!   ASCII-uppercased spec parses to the same schedule (or fails too);
//! - empty items are skipped, so a trailing `,` changes nothing;
//! - `contains` never panics for a parsed schedule, at instants around a
//!   DST change in three time zones and at the ends of jiff's range.
#![no_main]

use jiff::Timestamp;
use jiff::tz::TimeZone;
use libfuzzer_sys::fuzz_target;
use phivault_core::policy::Schedule;

fuzz_target!(|data: &[u8]| {
    let Ok(spec) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = Schedule::parse(spec);
    assert_eq!(
        parsed.as_ref().ok(),
        Schedule::parse(&spec.to_ascii_uppercase()).as_ref().ok()
    );
    assert_eq!(
        parsed.as_ref().ok(),
        Schedule::parse(&format!("{spec},")).as_ref().ok()
    );
    let Ok(s) = parsed else {
        return;
    };
    let zones = [
        TimeZone::UTC,
        TimeZone::get("America/New_York").unwrap_or(TimeZone::UTC),
        TimeZone::get("Pacific/Chatham").unwrap_or(TimeZone::UTC),
    ];
    let instants = [
        Timestamp::MIN,
        Timestamp::MAX,
        Timestamp::UNIX_EPOCH,
        // 2026-03-08 06:30 UTC, 01:30 in New York just before spring-forward.
        Timestamp::from_second(1_772_951_400).unwrap_or(Timestamp::UNIX_EPOCH),
        Timestamp::from_second(1_772_958_600).unwrap_or(Timestamp::UNIX_EPOCH),
    ];
    for tz in &zones {
        for at in instants {
            let _ = s.contains(at, tz);
        }
    }
});
