//! The detector: the rules of `phivault_breach` on every event this
//! process commits to the audit trail (the live access stream).
//!
//! A finding is answered in order: an `alert_raised` event in the trail, the
//! alert hook, one queued webhook delivery per destination, and, at or above
//! `auto_isolate_at`, a lockdown of the user (`lockdown_applied`).

use std::collections::HashMap;
use std::sync::Arc;

use phivault_audit::{Event, Outcome};
use phivault_breach::lockdown::Scope;
use phivault_breach::rules::{Detector, Facts, Finding};
use phivault_breach::webhook::AlertPayload;
use phivault_store::AlertRow;
use tokio::sync::mpsc;

use super::Breach;
use crate::access::{Alert, AlertHook};
use crate::audit::{AuditLog, Who};
use crate::clock::Clock;

/// Actions the detector itself produces (never analysed again).
const OWN: &[&str] = &["alert_raised", "lockdown_applied"];

/// How far ahead of the clock the detector's time may be.
const AHEAD_MICROS: i64 = 5 * 60 * 1_000_000;

/// The detector's name as the acting user of what it records.
pub const DETECTOR: &str = "phivault.detector";

/// What a response needs.
#[derive(Clone)]
pub struct Responder {
    /// Breach state.
    pub breach: Arc<Breach>,
    /// The trail (weak: the detector ends when the server's log does).
    pub audit: std::sync::Weak<AuditLog>,
    /// The alert hook.
    pub alerts: Arc<dyn AlertHook>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Responder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Responder").finish_non_exhaustive()
    }
}

/// Runs the detector until the tap closes.
pub async fn run(r: Responder, mut rx: mpsc::Receiver<Vec<Event>>) {
    let mut detector = Detector::new(r.breach.config().rules.clone());
    while let Some(batch) = rx.recv().await {
        let end = batch.last().map(|e| e.index + 1);
        // A clock that once ran far ahead would freeze the windows: start
        // afresh when the detector's time is ahead of the server's.
        let now = crate::clock::micros(r.clock.now());
        if detector
            .now_micros()
            .is_some_and(|t| t > now.saturating_add(AHEAD_MICROS))
        {
            tracing::warn!("detector time ran ahead of the clock; its windows start afresh");
            detector = Detector::new(r.breach.config().rules.clone());
        }
        let batch: Vec<Event> = batch
            .into_iter()
            .filter(|e| !OWN.contains(&e.action.as_str()))
            .collect();
        let facts = facts(&r.breach, &batch).await;
        for (e, facts) in batch.iter().zip(facts) {
            for f in detector.observe(e, &facts) {
                respond(&r, f).await;
            }
        }
        if let Some(end) = end {
            r.breach
                .analysed
                .fetch_max(end, std::sync::atomic::Ordering::AcqRel);
        }
    }
}

/// The facts of each event of a batch. Care-team membership is looked up
/// for successful disclosures only, all in one store round trip (one per
/// event fell behind the read rate under load); a failed lookup leaves it
/// unknown, as the rules expect.
async fn facts(b: &Breach, batch: &[Event]) -> Vec<Facts> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut slot: HashMap<(&str, &str), usize> = HashMap::new();
    let asks: Vec<Option<usize>> = batch
        .iter()
        .map(|e| {
            let p = e.patient_id.as_deref()?;
            if !(e.outcome == Outcome::Success && e.is_disclosure()) {
                return None;
            }
            Some(*slot.entry((p, e.user.as_str())).or_insert_with(|| {
                pairs.push((p.to_owned(), e.user.clone()));
                pairs.len() - 1
            }))
        })
        .collect();
    let teams = if pairs.is_empty() {
        Vec::new()
    } else {
        b.store().on_care_teams(pairs).await.unwrap_or_default()
    };
    batch
        .iter()
        .zip(asks)
        .map(|(e, ask)| match e.patient_id.as_deref() {
            None => Facts::default(),
            Some(p) => Facts {
                honey: b.is_honey(p),
                flag: b.flag(p),
                on_care_team: ask.and_then(|i| teams.get(i).copied()),
            },
        })
        .collect()
}

/// Records, raises, queues and (when the finding asks) isolates.
pub async fn respond(r: &Responder, f: Finding) {
    let now = r.clock.now();
    let at = crate::clock::micros(now);
    let who = Who {
        user: f.user.clone(),
        ip: f.ip.clone(),
        token: f.token.clone(),
        ..Who::default()
    };
    let mut e = who.event(
        now,
        "alert_raised",
        format!("/v1/alerts/{}", f.rule.as_str()),
        Outcome::Success,
    );
    e.reason = Some(f.rule.as_str().to_owned());
    e.patient_id = f.patient_id.clone();
    e.flags = vec![format!("severity:{}", f.severity.as_str())];
    record(r, e).await;
    r.alerts.raise(Alert {
        kind: f.rule.as_str(),
        user: f.user.clone(),
        patient_id: f.patient_id.clone(),
        at: now.to_string(),
    });
    let payload = AlertPayload::from_finding(&f, None);
    let body = String::from_utf8(payload.to_json()).unwrap_or_default();
    for w in &r.breach.config().webhooks {
        let row = AlertRow {
            id: format!("{}-{}", payload.id, w.name),
            destination: w.name.clone(),
            payload: body.clone(),
            created_at: at,
            attempts: 0,
            next_attempt_at: at,
            delivered_at: None,
            last_error: None,
        };
        if let Err(err) = r.breach.store().enqueue_alert(row).await {
            tracing::error!(error = %err, webhook = %w.name, "alert not queued");
        }
    }
    r.breach.deliver.notify_one();
    if f.isolate {
        isolate_actor(r, &f, now).await;
    }
}

async fn isolate_actor(r: &Responder, f: &Finding, now: jiff::Timestamp) {
    let scope = Scope::User(f.user.clone());
    if r.breach.check_scope_active(&scope) {
        return;
    }
    let by = Who::operator(DETECTOR);
    let reason = format!("automatic: {} rule", f.rule.as_str());
    match super::contain::isolate(r.breach.store().as_ref(), &scope, &reason, None, &by, now).await
    {
        Ok(done) => {
            if let Err(e) = r.breach.refresh().await {
                tracing::warn!(error = %e, "lockdown stored but not yet applied here");
            }
            record(r, done.event).await;
            tracing::warn!(rule = f.rule.as_str(), lockdown = %done.row.id, "actor isolated automatically");
        }
        Err(e) => tracing::error!(error = %e, "automatic isolation failed"),
    }
}

async fn record(r: &Responder, e: Event) {
    let Some(audit) = r.audit.upgrade() else {
        return;
    };
    if let Err(err) = audit.append(vec![e]).await {
        tracing::error!(error = %err, "detector event not recorded in the audit trail");
    }
}
