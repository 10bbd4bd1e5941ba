//! Time as an injected dependency, so tests control it.

/// A source of the current time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Now.
    fn now(&self) -> jiff::Timestamp;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> jiff::Timestamp {
        jiff::Timestamp::now()
    }
}

/// Microseconds since the Unix epoch, as stored.
pub fn micros(t: jiff::Timestamp) -> i64 {
    t.as_microsecond()
}

/// RFC 3339 UTC text with microseconds, as the API and audit trail print it.
pub fn rfc3339_micros(us: i64) -> String {
    jiff::Timestamp::from_microsecond(us)
        .map(|t| format!("{t:.6}"))
        .unwrap_or_default()
}
