//! Abuse resistance: a request rate limit per client address (token
//! bucket) and a temporary lockout after repeated authentication failures,
//! per client address and per token id (a token's public prefix).
//!
//! Lockouts run on the vault's clock (tests move it); the rate limit on
//! the monotonic clock. Memory is bounded: each table holds at most
//! [`MAX_KEYS`] keys; when one is full, keys gone quiet are swept, and if
//! none has, a new address is refused (429) rather than the table growing.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::Instant;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{ApiError, AppState};

/// Keys each table holds at most.
pub const MAX_KEYS: usize = 100_000;

/// The limits, from `config.toml`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LimitSettings {
    /// Requests per second per client address (0: no rate limit).
    pub rate_per_second: f64,
    /// Requests a client address may send at once above the rate.
    pub burst: f64,
    /// Authentication failures within `failure_window_micros` that lock out.
    pub failures: u32,
    /// The window failures are counted in.
    pub failure_window_micros: i64,
    /// How long a lockout lasts.
    pub lockout_micros: i64,
}

/// What a client is locked out by.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FailKey {
    /// A client address.
    Addr(IpAddr),
    /// A token id (the public part of `pv_<id>_<secret>`).
    Token(String),
}

impl FailKey {
    /// `address` or `token`, for events and logs (never the key itself).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Addr(_) => "address",
            Self::Token(_) => "token",
        }
    }
}

impl From<crate::config::AbuseLimits> for LimitSettings {
    fn from(c: crate::config::AbuseLimits) -> Self {
        Self {
            rate_per_second: f64::from(c.rate_per_second),
            burst: f64::from(c.burst),
            failures: c.auth_failures,
            failure_window_micros: i64::from(c.auth_window_seconds) * 1_000_000,
            lockout_micros: i64::from(c.lockout_seconds) * 1_000_000,
        }
    }
}

/// 429 with `Retry-After`.
pub fn too_many(code: &'static str, message: &str, retry_after: u64) -> Response {
    let mut e = ApiError::new(StatusCode::TOO_MANY_REQUESTS, code, message);
    e.retry_after = Some(retry_after);
    e.into_response()
}

/// The rate limit, on every route.
pub async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if let Some(peer) = req.extensions().get::<ConnectInfo<SocketAddr>>() {
        let ip = super::client_ip(peer, req.headers(), &state.config.trusted_proxies);
        if let Err(wait) = state.limits.allow(ip) {
            crate::metrics::count_rate_limited();
            return too_many("rate_limited", "too many requests; retry later", wait);
        }
    }
    next.run(req).await
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    first: i64,
    locked_until: i64,
}

/// The limiter shared by every request.
#[derive(Debug)]
pub struct Limits {
    settings: LimitSettings,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
    failures: Mutex<HashMap<FailKey, Failures>>,
}

fn secs_until(until: i64, now: i64) -> u64 {
    u64::try_from((until - now).max(0))
        .unwrap_or(0)
        .div_ceil(1_000_000)
}

impl Limits {
    /// A limiter with these settings.
    pub fn new(settings: LimitSettings) -> Self {
        Self {
            settings,
            buckets: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request from `ip`'s bucket; `Err(seconds)` to wait.
    pub fn allow(&self, ip: IpAddr) -> Result<(), u64> {
        let s = self.settings;
        if s.rate_per_second <= 0.0 {
            return Ok(());
        }
        let now = Instant::now();
        let Ok(mut map) = self.buckets.lock() else {
            return Ok(());
        };
        if map.len() >= MAX_KEYS && !map.contains_key(&ip) {
            // Full buckets are as good as absent.
            map.retain(|_, b| {
                b.tokens + now.duration_since(b.at).as_secs_f64() * s.rate_per_second < s.burst
            });
            if map.len() >= MAX_KEYS {
                return Err(1);
            }
        }
        let b = map.entry(ip).or_insert(Bucket {
            tokens: s.burst,
            at: now,
        });
        let refill = now.duration_since(b.at).as_secs_f64() * s.rate_per_second;
        b.tokens = (b.tokens + refill).min(s.burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - b.tokens) / s.rate_per_second).ceil().max(1.0) as u64)
        }
    }

    /// The first of `keys` that is locked out at `now`, with the seconds
    /// left.
    pub fn locked<'a>(&self, keys: &'a [FailKey], now: i64) -> Option<(&'a FailKey, u64)> {
        let map = self.failures.lock().ok()?;
        keys.iter().find_map(|k| {
            map.get(k)
                .filter(|f| f.locked_until > now)
                .map(|f| (k, secs_until(f.locked_until, now)))
        })
    }

    /// Counts a failed authentication against each key; returns the keys
    /// this failure locked out.
    pub fn failed(&self, keys: &[FailKey], now: i64) -> Vec<FailKey> {
        let s = self.settings;
        let mut locked = Vec::new();
        let Ok(mut map) = self.failures.lock() else {
            return locked;
        };
        for k in keys {
            if map.len() >= MAX_KEYS && !map.contains_key(k) {
                map.retain(|_, f| f.locked_until > now || now - f.first < s.failure_window_micros);
                if map.len() >= MAX_KEYS {
                    continue;
                }
            }
            let f = map.entry(k.clone()).or_insert(Failures {
                count: 0,
                first: now,
                locked_until: 0,
            });
            if now - f.first >= s.failure_window_micros {
                *f = Failures {
                    count: 0,
                    first: now,
                    locked_until: f.locked_until,
                };
            }
            f.count = f.count.saturating_add(1);
            if s.failures > 0 && f.count >= s.failures && f.locked_until <= now {
                f.locked_until = now + s.lockout_micros;
                f.count = 0;
                f.first = now;
                locked.push(k.clone());
            }
        }
        locked
    }

    /// A successful authentication clears its keys' failure counts.
    pub fn succeeded(&self, keys: &[FailKey], now: i64) {
        if let Ok(mut map) = self.failures.lock() {
            for k in keys {
                if map.get(k).is_some_and(|f| f.locked_until <= now) {
                    map.remove(k);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> LimitSettings {
        LimitSettings {
            rate_per_second: 10.0,
            burst: 3.0,
            failures: 3,
            failure_window_micros: 60_000_000,
            lockout_micros: 600_000_000,
        }
    }

    #[test]
    fn the_bucket_allows_a_burst_then_refuses_with_a_wait() {
        let l = Limits::new(settings());
        let ip: IpAddr = "192.0.2.1".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]));
        assert!((0..3).all(|_| l.allow(ip).is_ok()));
        assert_eq!(l.allow(ip), Err(1));
        let other: IpAddr = "192.0.2.2".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]));
        assert!(l.allow(other).is_ok());
    }

    #[test]
    fn failures_lock_out_for_the_lockout_period_then_expire() {
        let l = Limits::new(settings());
        let keys = [FailKey::Token("abc".into())];
        assert!(l.failed(&keys, 0).is_empty());
        assert!(l.failed(&keys, 1).is_empty());
        assert_eq!(l.failed(&keys, 2), keys.to_vec());
        assert_eq!(l.locked(&keys, 3).map(|(_, s)| s), Some(600));
        assert!(l.locked(&keys, 600_000_002).is_none());
        // Failures outside the window do not add up.
        let other = [FailKey::Token("def".into())];
        l.failed(&other, 0);
        l.failed(&other, 1);
        assert!(l.failed(&other, 60_000_001).is_empty());
        l.succeeded(&other, 60_000_001);
        assert!(l.failed(&other, 60_000_002).is_empty());
    }
}
