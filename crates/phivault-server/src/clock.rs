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

/// A clock that stands still until moved: for tests and for
/// `phivault policy explain --at`.
#[derive(Debug)]
pub struct ManualClock(std::sync::Mutex<jiff::Timestamp>);

impl ManualClock {
    /// A clock showing `t`.
    pub fn new(t: jiff::Timestamp) -> Self {
        Self(std::sync::Mutex::new(t))
    }

    /// Sets the time.
    pub fn set(&self, t: jiff::Timestamp) {
        if let Ok(mut g) = self.0.lock() {
            *g = t;
        }
    }

    /// Moves the time forward.
    pub fn advance(&self, d: jiff::SignedDuration) {
        if let Ok(mut g) = self.0.lock() {
            *g = g.checked_add(d).unwrap_or(*g);
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> jiff::Timestamp {
        self.0
            .lock()
            .map(|g| *g)
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
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
