//! The detector: per-event rule evaluation with bounded state.

use std::net::IpAddr;

use phivault_audit::{Event, Outcome};

use super::config::RulesConfig;
use super::hours::Hours;
use super::state::{Counter, Distinct, Lru};
use super::{Facts, Finding, Rule, Severity};
use crate::access::is_break_glass;
use crate::util::{DAY, MINUTE, parse_micros};

/// Events between two sweeps of idle state.
const SWEEP_EVERY: u64 = 4096;

#[derive(Debug)]
pub(super) struct UserState {
    pub(super) patients: Distinct,
    pub(super) bulk: Counter,
    pub(super) denials: Counter,
    pub(super) hours: Hours,
}

/// Stateful detection over the audit stream; see the [module
/// docs](super).
#[derive(Debug)]
pub struct Detector {
    pub(super) cfg: RulesConfig,
    pub(super) users: Lru<UserState>,
    pub(super) ips: Lru<Counter>,
    /// `rule \0 subject` → end of suppression (µs).
    pub(super) quiet: Lru<i64>,
    /// The detector's time: the latest event time seen (µs).
    pub(super) now: i64,
    pub(super) seen: u64,
}

/// The key the `denials` rule counts an address under: an IPv6 client is
/// counted per /64 (one host can hold a whole /64), IPv4-mapped addresses as
/// IPv4, and an unparsable address as its text.
pub(super) fn ip_key(ip: &str) -> String {
    match ip.parse::<IpAddr>().map(|a| a.to_canonical()) {
        Ok(IpAddr::V6(v6)) => {
            let s = v6.segments();
            let [a, b, c, d, ..] = s;
            format!("{a:x}:{b:x}:{c:x}:{d:x}::/64")
        }
        Ok(a) => a.to_string(),
        Err(_) => ip.chars().take(64).collect(),
    }
}

impl Detector {
    /// A detector for `cfg` (call [`RulesConfig::validate`] first; out of
    /// range values are clamped, never panicked on).
    pub fn new(cfg: RulesConfig) -> Self {
        let users = usize::try_from(cfg.limits.max_users).unwrap_or(usize::MAX);
        let ips = usize::try_from(cfg.limits.max_ips).unwrap_or(usize::MAX);
        Self {
            users: Lru::new(users),
            ips: Lru::new(ips),
            quiet: Lru::new(users.saturating_add(ips).saturating_mul(4)),
            cfg,
            now: i64::MIN,
            seen: 0,
        }
    }

    /// Number of users currently tracked (for metrics and tests).
    pub fn tracked_users(&self) -> usize {
        self.users.len()
    }

    /// Number of client addresses currently tracked.
    pub fn tracked_ips(&self) -> usize {
        self.ips.len()
    }

    /// The detector's time (the latest event time seen), µs; `None` before
    /// the first event. Timestamps come from the server's clock: if that
    /// clock ran far ahead and was corrected, this stays in the future and
    /// windows stop sliding, so the server compares it with its clock and
    /// starts a new detector when it is ahead.
    pub fn now_micros(&self) -> Option<i64> {
        (self.now != i64::MIN).then_some(self.now)
    }

    /// Evaluates every rule on one event. Time is the event's timestamp,
    /// clamped so that it never goes back (an unparsable or earlier
    /// timestamp takes the latest time seen).
    pub fn observe(&mut self, event: &Event, facts: &Facts) -> Vec<Finding> {
        let at = parse_micros(&event.timestamp);
        self.now = at.map_or(self.now, |t| t.max(self.now));
        if self.now == i64::MIN {
            // No time known yet: nothing time-based can be evaluated.
            self.now = at.unwrap_or(0);
        }
        self.seen = self.seen.wrapping_add(1);
        if self.seen.is_multiple_of(SWEEP_EVERY) {
            self.sweep();
        }
        let mut out = Vec::new();
        self.per_record(event, facts, &mut out);
        self.per_user(event, at, &mut out);
        self.per_ip(event, &mut out);
        out
    }

    fn sweep(&mut self) {
        let idle = i64::from(self.cfg.limits.idle_days).saturating_mul(DAY);
        let cutoff = self.now.saturating_sub(idle);
        self.users.evict_idle(cutoff);
        self.ips.evict_idle(cutoff);
        let now = self.now;
        // Suppressions last at most a day.
        self.quiet.evict_idle(now.saturating_sub(DAY));
    }

    /// Records a finding unless `(rule, subject)` is suppressed.
    pub(super) fn fire(
        &mut self,
        out: &mut Vec<Finding>,
        e: &Event,
        (rule, severity, minutes): (Rule, Severity, u32),
        subject: &str,
        patient: bool,
        detail: String,
    ) {
        let key = format!("{}\0{subject}", rule.as_str());
        let now = self.now;
        let until = self.quiet.touch(&key, now, || i64::MIN);
        if *until > now {
            return;
        }
        *until = now.saturating_add(i64::from(minutes).saturating_mul(MINUTE));
        out.push(Finding {
            rule,
            severity,
            user: e.user.clone(),
            token: e.token.clone(),
            ip: e.context.ip.clone(),
            patient_id: if patient { e.patient_id.clone() } else { None },
            at_micros: now,
            event_index: e.index,
            detail,
            isolate: severity >= self.cfg.auto_isolate_at,
        });
    }

    /// Stateless rules on the record the event touches.
    fn per_record(&mut self, e: &Event, facts: &Facts, out: &mut Vec<Finding>) {
        let record = e.patient_id.as_deref().unwrap_or(&e.resource);
        let subject = format!("{}\0{record}", e.user);
        let outcome = e.outcome.as_str();
        let c = &self.cfg;
        let honey = (c.honey.enabled && facts.honey).then_some((
            Rule::Honey,
            c.honey.severity,
            c.honey.suppress_minutes,
        ));
        let flagged = match facts.flag {
            Some(flag) if c.flagged.enabled && e.patient_id.is_some() => Some((
                (
                    Rule::Flagged,
                    c.flagged.severity,
                    c.flagged.suppress_minutes,
                ),
                flag,
            )),
            _ => None,
        };
        let glass = is_break_glass(e);
        let break_glass = (c.break_glass.enabled && glass).then(|| {
            let r = &c.break_glass;
            (Rule::BreakGlass, r.severity, r.suppress_minutes)
        });
        // A break-glass access is the sanctioned way past the care team: the
        // `break_glass` finding covers it, `care_team` would only repeat it.
        let care_team = (c.care_team.enabled
            && !glass
            && e.outcome == Outcome::Success
            && e.patient_id.is_some()
            && facts.on_care_team == Some(false))
        .then(|| {
            let r = &c.care_team;
            (Rule::CareTeam, r.severity, r.suppress_minutes)
        });
        let action = &e.action;
        if let Some(r) = honey {
            let detail = format!("action={action} outcome={outcome}");
            self.fire(out, e, r, &subject, true, detail);
        }
        if let Some((r, flag)) = flagged {
            let detail = format!("flag={} action={action} outcome={outcome}", flag.as_str());
            self.fire(out, e, r, &subject, true, detail);
        }
        if let Some(r) = break_glass {
            let detail = format!("action={action} outcome={outcome}");
            self.fire(out, e, r, &subject, true, detail);
        }
        if let Some(r) = care_team {
            let detail = format!("action={action} reason=not_on_care_team");
            self.fire(out, e, r, &subject, true, detail);
        }
    }
}
