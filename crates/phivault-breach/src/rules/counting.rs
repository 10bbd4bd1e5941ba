//! The counting rules: `volume`, `off_hours` and `denials`.

use phivault_audit::{Event, Outcome};

use super::Finding;
use super::Rule;
use super::detector::{Detector, UserState, ip_key};
use super::hours::{Hours, local_hour};
use super::state::{Counter, Distinct};
use crate::access::{bulk_count, discloses};
use crate::util::MINUTE;

impl Detector {
    /// `volume`, `off_hours` and the per-user half of `denials`.
    pub(super) fn per_user(&mut self, e: &Event, at: Option<i64>, out: &mut Vec<Finding>) {
        if e.user == "-" || e.user.is_empty() {
            // Unknown callers are counted per address only: one `-` user
            // would lump every anonymous client together.
            return;
        }
        let now = self.now;
        let bulk = bulk_count(e);
        let disclosed = e.patient_id.as_deref().filter(|_| discloses(e));
        let phi = e.outcome == Outcome::Success && (e.patient_id.is_some() || bulk.is_some());
        let denied = e.outcome == Outcome::Denied;
        if !(phi || denied) {
            return;
        }
        let (v, o, d) = (&self.cfg.volume, &self.cfg.off_hours, &self.cfg.denials);
        let volume_window = i64::from(v.window_minutes) * MINUTE;
        let denial_window = i64::from(d.window_minutes) * MINUTE;
        let cap = usize::try_from(v.max_records)
            .unwrap_or(usize::MAX)
            .saturating_add(1);
        let st = self.users.touch(&e.user, now, || UserState {
            patients: Distinct::default(),
            bulk: Counter::new(volume_window),
            denials: Counter::new(denial_window),
            hours: Hours::default(),
        });
        let mut volume = None;
        if v.enabled && (disclosed.is_some() || bulk.is_some()) {
            match (disclosed, bulk) {
                (Some(p), _) => st.patients.add(p, now, cap),
                (None, Some(n)) => st.bulk.add(now, n),
                (None, None) => {}
            }
            let distinct = st.patients.prune(now.saturating_sub(volume_window));
            let records = st.bulk.total(now);
            let total = u64::try_from(distinct)
                .unwrap_or(u64::MAX)
                .saturating_add(records);
            if total > u64::from(v.max_records) {
                volume = Some(format!(
                    "distinct_patients={distinct} bulk_records={records} max_records={} window_minutes={}",
                    v.max_records, v.window_minutes
                ));
            }
        }
        let mut hours = None;
        if let (true, true, Some(t)) = (o.enabled, phi, at) {
            let hour = local_hour(t, o.utc_offset_minutes);
            let verdict = st.hours.judge(hour, o);
            st.hours.record(hour, o.learn_after);
            if !verdict.usual {
                hours = Some(if verdict.learned {
                    format!(
                        "local_hour={hour} learned=true share_per_mille={}",
                        verdict.per_mille
                    )
                } else {
                    format!(
                        "local_hour={hour} learned=false usual={:02}-{:02}",
                        o.usual_start_hour, o.usual_end_hour
                    )
                });
            }
        }
        let mut denials = None;
        if d.enabled && denied {
            st.denials.add(now, 1);
            let n = st.denials.total(now);
            if n > u64::from(d.max) {
                denials = Some(denial_detail("user", n, e, d.max, d.window_minutes));
            }
        }
        let subject = e.user.clone();
        let (vr, or, dr) = (
            (Rule::Volume, v.severity, v.window_minutes),
            (Rule::OffHours, o.severity, o.suppress_minutes),
            (Rule::Denials, d.severity, d.window_minutes),
        );
        if let Some(detail) = volume {
            self.fire(out, e, vr, &subject, false, detail);
        }
        if let Some(detail) = hours {
            self.fire(out, e, or, &subject, true, detail);
        }
        if let Some(detail) = denials {
            self.fire(out, e, dr, &format!("user\0{subject}"), false, detail);
        }
    }

    /// The per-address half of `denials`.
    pub(super) fn per_ip(&mut self, e: &Event, out: &mut Vec<Finding>) {
        let d = &self.cfg.denials;
        if !(d.enabled && e.outcome == Outcome::Denied) {
            return;
        }
        let (max, minutes, severity) = (d.max, d.window_minutes, d.severity);
        let window = i64::from(minutes) * MINUTE;
        let key = ip_key(&e.context.ip);
        let now = self.now;
        let counter = self.ips.touch(&key, now, || Counter::new(window));
        counter.add(now, 1);
        let n = counter.total(now);
        if n > u64::from(max) {
            let detail = denial_detail("ip", n, e, max, minutes);
            let r = (Rule::Denials, severity, minutes);
            self.fire(out, e, r, &format!("ip\0{key}"), false, detail);
        }
    }
}

fn denial_detail(by: &str, n: u64, e: &Event, max: u32, minutes: u32) -> String {
    let reason = e.reason.as_deref().unwrap_or("none");
    format!("by={by} denied={n} max={max} window_minutes={minutes} last_reason={reason}")
}
