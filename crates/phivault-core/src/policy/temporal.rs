//! Time-window constraints in the seed's syntax: `08:00-18:00 Mon-Fri`.
//!
//! A spec is a comma-separated list. An item starting with a digit opens a
//! window `HH:MM-HH:MM` optionally followed by days; an item starting with a
//! letter adds days to the window before it. So `08:00-18:00 Mon-Fri`,
//! `08:00-12:00 Mon,Wed,Fri` and `07:00-19:00 Mon-Fri, 09:00-13:00 Sat` all
//! parse. No days means every day. A window whose end is not after its start
//! runs over midnight (`22:00-06:00`): it belongs to the day it starts on.
//! Ends are exclusive; `24:00` is accepted as an end. Evaluation happens in
//! the role's IANA time zone, so windows follow local wall-clock time across
//! daylight-saving changes.

use jiff::civil::{Time, Weekday};
use jiff::tz::TimeZone;

/// A parsed temporal constraint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    windows: Vec<Window>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Window {
    /// Minutes after local midnight.
    start: u16,
    /// Minutes after local midnight, exclusive; 1440 for `24:00`.
    end: u16,
    /// Bit `n` set: allowed on weekday `n` (Monday = 0).
    days: u8,
}

/// Why a temporal spec is invalid (names the bad part, never more).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// The spec is empty.
    #[error("temporal constraint is empty")]
    Empty,
    /// A time is not `HH:MM`.
    #[error("`{0}` is not a time (HH:MM, 00:00 to 24:00)")]
    Time(String),
    /// A window is not `HH:MM-HH:MM`.
    #[error("`{0}` is not a window (HH:MM-HH:MM)")]
    Window(String),
    /// A day is not one of Mon..Sun, or a range of them.
    #[error("`{0}` is not a day or day range (Mon..Sun)")]
    Day(String),
    /// Days given before any window.
    #[error("days `{0}` come before any time window")]
    DaysFirst(String),
    /// A window starts and ends at the same time.
    #[error("window `{0}` is empty")]
    EmptyWindow(String),
}

const ALL_DAYS: u8 = 0b111_1111;

fn minutes(s: &str, allow_24: bool) -> Result<u16, ScheduleError> {
    let bad = || ScheduleError::Time(s.to_owned());
    let (h, m) = s.split_once(':').ok_or_else(bad)?;
    if h.len() != 2 || m.len() != 2 {
        return Err(bad());
    }
    let h: u16 = h.parse().map_err(|_| bad())?;
    let m: u16 = m.parse().map_err(|_| bad())?;
    match (h, m) {
        (24, 0) if allow_24 => Ok(1440),
        (0..=23, 0..=59) => Ok(h * 60 + m),
        _ => Err(bad()),
    }
}

fn day(s: &str) -> Option<u8> {
    const NAMES: [(&str, &str); 7] = [
        ("mon", "monday"),
        ("tue", "tuesday"),
        ("wed", "wednesday"),
        ("thu", "thursday"),
        ("fri", "friday"),
        ("sat", "saturday"),
        ("sun", "sunday"),
    ];
    let l = s.to_ascii_lowercase();
    NAMES
        .iter()
        .position(|(short, long)| l == *short || l == *long)
        .and_then(|i| u8::try_from(i).ok())
}

fn days(spec: &str) -> Result<u8, ScheduleError> {
    let bad = || ScheduleError::Day(spec.to_owned());
    let mut mask = 0u8;
    for part in spec.split_whitespace() {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (day(a).ok_or_else(bad)?, day(b).ok_or_else(bad)?);
                // Ranges wrap around the week: Fri-Mon is Fri, Sat, Sun, Mon.
                let mut d = a;
                loop {
                    mask |= 1 << d;
                    if d == b {
                        break;
                    }
                    d = (d + 1) % 7;
                }
            }
            None => mask |= 1 << day(part).ok_or_else(bad)?,
        }
    }
    if mask == 0 {
        return Err(bad());
    }
    Ok(mask)
}

impl Schedule {
    /// Parses a temporal spec.
    pub fn parse(spec: &str) -> Result<Self, ScheduleError> {
        let mut windows: Vec<Window> = Vec::new();
        for item in spec.split(',').map(str::trim) {
            if item.is_empty() {
                continue;
            }
            if item.starts_with(|c: char| c.is_ascii_digit()) {
                let (range, rest) = item.split_once(' ').unwrap_or((item, ""));
                let (a, b) = range
                    .split_once('-')
                    .ok_or_else(|| ScheduleError::Window(range.to_owned()))?;
                let (start, end) = (minutes(a, false)?, minutes(b, true)?);
                if start == end {
                    return Err(ScheduleError::EmptyWindow(range.to_owned()));
                }
                let rest = rest.trim();
                let days = if rest.is_empty() { 0 } else { days(rest)? };
                windows.push(Window { start, end, days });
            } else {
                let w = windows
                    .last_mut()
                    .ok_or_else(|| ScheduleError::DaysFirst(item.to_owned()))?;
                w.days |= days(item)?;
            }
        }
        if windows.is_empty() {
            return Err(ScheduleError::Empty);
        }
        for w in &mut windows {
            if w.days == 0 {
                w.days = ALL_DAYS;
            }
        }
        Ok(Self { windows })
    }

    /// True when `at` falls inside a window, in time zone `tz`.
    pub fn contains(&self, at: jiff::Timestamp, tz: &TimeZone) -> bool {
        let local = at.to_zoned_datetime(tz.clone());
        let t = local.time();
        let now = minutes_of(t);
        let today = weekday_index(local.weekday());
        let yesterday = (today + 6) % 7;
        self.windows.iter().any(|w| {
            let on = |d: u8| w.days & (1 << d) != 0;
            if w.start < w.end {
                on(today) && now >= w.start && now < w.end
            } else {
                (on(today) && now >= w.start) || (on(yesterday) && now < w.end)
            }
        })
    }
}

fn minutes_of(t: Time) -> u16 {
    let h = u16::try_from(t.hour()).unwrap_or(0);
    let m = u16::try_from(t.minute()).unwrap_or(0);
    h * 60 + m
}

fn weekday_index(d: Weekday) -> u8 {
    u8::try_from(d.to_monday_zero_offset()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str, tz: &str) -> (jiff::Timestamp, TimeZone) {
        let tz = TimeZone::get(tz).unwrap();
        let dt: jiff::civil::DateTime = s.parse().unwrap();
        (dt.to_zoned_datetime(tz.clone()).unwrap().timestamp(), tz)
    }

    fn ok(spec: &str, when: &str, tz: &str) -> bool {
        let (t, tz) = at(when, tz);
        Schedule::parse(spec).unwrap().contains(t, &tz)
    }

    #[test]
    fn business_hours_with_edges() {
        let s = "08:00-18:00 Mon-Fri";
        // 2026-11-23 is a Monday.
        assert!(ok(s, "2026-11-23T08:00", "UTC"));
        assert!(ok(s, "2026-11-23T17:59", "UTC"));
        assert!(!ok(s, "2026-11-23T18:00", "UTC"));
        assert!(!ok(s, "2026-11-23T07:59", "UTC"));
        assert!(!ok(s, "2026-11-28T12:00", "UTC")); // Saturday
    }

    #[test]
    fn lists_and_overnight_windows() {
        assert!(ok("08:00-12:00 Mon,Wed,Fri", "2026-11-25T09:00", "UTC"));
        assert!(!ok("08:00-12:00 Mon,Wed,Fri", "2026-11-24T09:00", "UTC"));
        let s = "07:00-19:00 Mon-Fri, 09:00-13:00 Sat";
        assert!(ok(s, "2026-11-28T10:00", "UTC"));
        assert!(!ok(s, "2026-11-29T10:00", "UTC"));
        // Friday night shift runs into Saturday morning, not Monday morning's.
        let night = "22:00-06:00 Mon-Fri";
        assert!(ok(night, "2026-11-27T23:00", "UTC"));
        assert!(ok(night, "2026-11-28T05:59", "UTC"));
        assert!(!ok(night, "2026-11-23T05:00", "UTC")); // Monday early: Sunday night not listed
        assert!(!ok(night, "2026-11-23T06:00", "UTC"));
        assert!(ok("22:00-06:00", "2026-11-23T02:00", "UTC"));
        assert!(ok("00:00-24:00 Sun", "2026-11-29T23:59", "UTC"));
        assert!(!ok("18:00-09:00 Fri-Mon", "2026-11-29T12:00", "UTC"));
    }

    #[test]
    fn follows_local_time_across_dst() {
        let s = "08:00-18:00 Mon-Fri";
        // New York: EDT (UTC-4) before 2026-11-01, EST (UTC-5) after.
        let ny = TimeZone::get("America/New_York").unwrap();
        let summer: jiff::Timestamp = "2026-10-30T12:30:00Z".parse().unwrap(); // 08:30 EDT
        let winter: jiff::Timestamp = "2026-11-02T12:30:00Z".parse().unwrap(); // 07:30 EST
        let p = Schedule::parse(s).unwrap();
        assert!(p.contains(summer, &ny));
        assert!(!p.contains(winter, &ny));
        // The nonexistent 02:30 on spring-forward day is simply not in 02:00-03:00.
        let spring: jiff::Timestamp = "2026-03-08T07:30:00Z".parse().unwrap(); // 03:30 EDT
        assert!(
            !Schedule::parse("02:00-03:00")
                .unwrap()
                .contains(spring, &ny)
        );
        assert!(
            Schedule::parse("03:00-04:00")
                .unwrap()
                .contains(spring, &ny)
        );
    }

    #[test]
    fn invalid_specs_name_the_bad_part() {
        let e = |s: &str| Schedule::parse(s).unwrap_err().to_string();
        assert!(e("25:00-26:00").contains("25:00"));
        assert!(e("08:00-18:00 Mon-Fryday").contains("Mon-Fryday"));
        assert!(e("Mon-Fri").contains("Mon-Fri"));
        assert!(e("08:00").contains("08:00"));
        assert!(e("").contains("empty"));
        assert!(e("09:00-09:00").contains("empty"));
        assert!(Schedule::parse("8:00-18:00").is_err());
        assert!(Schedule::parse("08:00-18:00 monday-friday").is_ok());
    }
}
