//! Audit controls: the trail verifies (tree, signed checkpoints), its last
//! checkpoint is fresh, it is streamed off-host without lag, and no CLI
//! events wait in the outbox.

use std::sync::Arc;

use phivault_audit::{Event, VerifierKey};
use phivault_store::audit::AuditStore;

use super::{Finding, Install, Safeguard, Status};
use crate::audit::outbox;
use crate::audit::verify::{VerifyStoreError, verify_store};

/// Streaming lag older than this warns; a day fails.
const STREAM_WARN_SECS: i64 = 5 * 60;
const DAY_SECS: i64 = 86_400;

pub(super) async fn check(
    i: &Install<'_>,
    audit: Result<Option<&Arc<dyn AuditStore>>, String>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let audit = match audit {
        Ok(Some(a)) => a,
        Ok(None) => {
            out.push(Finding::not_met(
                "audit.verify",
                Safeguard::AuditControls,
                Status::Warn,
                "no audit trail yet: the server has not run on this install",
                "start the server once; every PHI access is then recorded",
            ));
            out.push(no_events_to_sign());
            out.push(streaming_configured(i));
            out.push(outbox_pending(i));
            return out;
        }
        Err(e) => {
            out.push(Finding::not_met(
                "audit.verify",
                Safeguard::AuditControls,
                Status::Fail,
                format!("the audit trail cannot be opened: {e}"),
                "restore the audit store; run `phivault audit verify`",
            ));
            out.push(outbox_pending(i));
            return out;
        }
    };
    let (verify, fresh) = verify_and_fresh(i, audit).await;
    out.push(verify);
    out.push(fresh.unwrap_or_else(|| {
        Finding::unknown(
            FRESH_ID,
            Safeguard::Integrity,
            "the trail does not verify (see audit.verify)",
        )
    }));
    out.push(streaming(i, audit).await);
    out.push(outbox_pending(i));
    out
}

/// Seconds from the event's timestamp to `now` (0 when unreadable).
fn age_secs(i: &Install<'_>, event: &[u8]) -> i64 {
    Event::decode(event)
        .ok()
        .and_then(|e| e.timestamp.parse::<jiff::Timestamp>().ok())
        .map_or(0, |t| i.now.as_second() - t.as_second())
}

fn human(secs: i64) -> String {
    match secs {
        s if s < 120 => format!("{s} s"),
        s if s < 2 * 3600 => format!("{} min", s / 60),
        s if s < 2 * DAY_SECS => format!("{} h", s / 3600),
        s => format!("{} days", s / DAY_SECS),
    }
}

async fn verify_and_fresh(
    i: &Install<'_>,
    audit: &Arc<dyn AuditStore>,
) -> (Finding, Option<Finding>) {
    const ID: &str = "audit.verify";
    const S: Safeguard = Safeguard::AuditControls;
    let count = match audit.count().await {
        Ok(n) => n,
        Err(e) => return (Finding::unknown(ID, S, e), None),
    };
    let path = crate::audit::verifier_path(&i.config.data_dir);
    let key = std::fs::read_to_string(&path)
        .ok()
        .and_then(|t| VerifierKey::parse(&t).ok());
    let Some(key) = key else {
        let f = if count == 0 {
            Finding::not_met(
                ID,
                S,
                Status::Warn,
                "no audit trail yet: the server has not run on this install",
                "start the server once; every PHI access is then recorded",
            )
        } else {
            Finding::not_met(
                ID,
                S,
                Status::Fail,
                format!(
                    "the trail has {count} events but its verifier key `audit-key/verifier.txt` is missing or damaged"
                ),
                "restore audit-key/ from backup; run `phivault audit verify --public-key K`",
            )
        };
        return (f, None);
    };
    let v = match verify_store(audit, &key).await {
        Ok(v) => v,
        Err(VerifyStoreError::Bad(e)) => {
            return (
                Finding::not_met(
                    ID,
                    S,
                    Status::Fail,
                    format!("the audit trail does not verify: {e}"),
                    "treat as a security incident: preserve the store, run `phivault audit verify`, compare with the streamed copy",
                ),
                None,
            );
        }
        Err(e) => return (Finding::unknown(ID, S, e), None),
    };
    if v.events == 0 {
        let empty = Finding::not_met(
            ID,
            S,
            Status::Warn,
            "the audit trail is empty: nothing has been recorded on this install yet",
            "start the server; every PHI access and security action is then recorded",
        );
        return (empty, Some(no_events_to_sign()));
    }
    let verified = Finding::pass(
        ID,
        S,
        format!(
            "{} events and {} signed checkpoints verify (RFC 6962 tree, Ed25519 checkpoints)",
            v.events, v.checkpoints
        ),
    );
    (
        verified,
        Some(fresh(i, audit, v.events, v.signed_size).await),
    )
}

const FRESH_ID: &str = "audit.checkpoint_fresh";

fn no_events_to_sign() -> Finding {
    Finding::pass(
        FRESH_ID,
        Safeguard::Integrity,
        "no events to sign yet; the server signs a checkpoint within audit_checkpoint_seconds of each event",
    )
}

async fn fresh(i: &Install<'_>, audit: &Arc<dyn AuditStore>, events: u64, signed: u64) -> Finding {
    const ID: &str = FRESH_ID;
    const S: Safeguard = Safeguard::Integrity;
    if events <= signed {
        return Finding::pass(
            ID,
            S,
            format!("the newest signed checkpoint covers all {events} events"),
        );
    }
    let first = match audit.read(signed, 1).await {
        Ok(p) => p,
        Err(e) => return Finding::unknown(ID, S, e),
    };
    let age = first.first().map_or(0, |f| age_secs(i, &f.event));
    let every = i64::try_from(i.config.checkpoints.every.as_secs()).unwrap_or(i64::MAX);
    let unsigned = events - signed;
    let summary = format!(
        "{unsigned} events after the newest checkpoint (size {signed}) are unsigned; the oldest is {} old (checkpoints every {every} s)",
        human(age)
    );
    let fix = "start the server (it signs pending events within audit_checkpoint_seconds); if it runs, look for checkpoint errors in its log";
    if age > DAY_SECS {
        Finding::not_met(ID, S, Status::Fail, summary, fix)
    } else if age > every.saturating_mul(2) {
        Finding::not_met(ID, S, Status::Warn, summary, fix)
    } else {
        Finding::pass(ID, S, summary)
    }
}

const STREAM_ID: &str = "audit.streaming";

/// Whether a broker is configured at all (before there are events).
fn streaming_configured(i: &Install<'_>) -> Finding {
    let sinks = i.config.sinks();
    if sinks.is_empty() {
        return Finding::not_met(
            STREAM_ID,
            Safeguard::AuditControls,
            Status::Warn,
            "no broker is configured: events are not streamed off-host, so whoever controls this host controls the only copy of the trail",
            "set `nats_url` (or `kafka_brokers`) in config.toml",
        );
    }
    Finding::pass(
        STREAM_ID,
        Safeguard::AuditControls,
        format!("the trail is streamed to {}", sinks.join(", ")),
    )
}

async fn streaming(i: &Install<'_>, audit: &Arc<dyn AuditStore>) -> Finding {
    const ID: &str = STREAM_ID;
    const S: Safeguard = Safeguard::AuditControls;
    let sinks = i.config.sinks();
    if sinks.is_empty() {
        return streaming_configured(i);
    }
    let count = match audit.count().await {
        Ok(n) => n,
        Err(e) => return Finding::unknown(ID, S, e),
    };
    let (mut parts, mut worst) = (Vec::new(), Status::Pass);
    for sink in sinks {
        let cursor = match audit.outbox_cursor(sink).await {
            Ok(c) => c,
            Err(e) => return Finding::unknown(ID, S, e),
        };
        let lag = count.saturating_sub(cursor);
        if lag == 0 {
            parts.push(format!("`{sink}` is up to date"));
            continue;
        }
        let age = match audit.read(cursor, 1).await {
            Ok(p) => p.first().map_or(0, |f| age_secs(i, &f.event)),
            Err(e) => return Finding::unknown(ID, S, e),
        };
        let status = if age > DAY_SECS {
            Status::Fail
        } else if age > STREAM_WARN_SECS {
            Status::Warn
        } else {
            Status::Pass
        };
        worst = worst.max(status);
        parts.push(format!(
            "`{sink}` lags {lag} events (oldest unacknowledged {} old)",
            human(age)
        ));
    }
    let summary = format!("audit streaming: {}", parts.join("; "));
    if worst == Status::Pass {
        return Finding::pass(ID, S, summary);
    }
    Finding::not_met(
        ID,
        S,
        worst,
        summary,
        "check that the broker is reachable from the server; the events wait in the log and go out in order when it is",
    )
}

fn outbox_pending(i: &Install<'_>) -> Finding {
    const ID: &str = "audit.outbox_pending";
    const S: Safeguard = Safeguard::AuditControls;
    let dir = outbox::dir(&i.config.data_dir);
    let limit = i64::try_from(outbox::DRAIN_PERIOD.as_secs()).unwrap_or(30) * 2;
    let mut stale = 0usize;
    let mut oldest = 0i64;
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for e in entries.flatten() {
            let name = e.file_name();
            let Some(micros) = name
                .to_str()
                .and_then(|n| n.split('-').next())
                .and_then(|n| n.parse::<i64>().ok())
            else {
                continue;
            };
            let age = i.now.as_second() - micros / 1_000_000;
            if age > limit {
                stale += 1;
                oldest = oldest.max(age);
            }
        }
    }
    if stale == 0 {
        return Finding::pass(
            ID,
            S,
            "no events from command-line tools wait in audit-outbox/",
        );
    }
    Finding::not_met(
        ID,
        S,
        Status::Warn,
        format!(
            "{stale} files of events from command-line tools wait in audit-outbox/ (oldest {} old): they are durable but not yet in the signed trail",
            human(oldest)
        ),
        "start the server: it appends them at start and every 30 s",
    )
}
