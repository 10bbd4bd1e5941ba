//! Breach detection and containment for phivault, as domain logic only: no
//! files, sockets, clocks, threads or environment. The server feeds it
//! audit events and facts and acts on its answers; the CLI renders them.
//!
//! | module | what |
//! |---|---|
//! | [`rules`] | the [`Detector`](rules::Detector): seven rules over the live audit stream, suppressed per subject, bounded memory |
//! | [`lockdown`] | [`Scope`](lockdown::Scope)s, the per-request [`LockdownSet::check`](lockdown::LockdownSet::check), two-person restore |
//! | [`incident`] | the incident record (a JSON document), HIPAA and plan [`deadlines`](incident::deadlines), status rendering |
//! | [`evidence`] | sealed evidence bundles (manifest signed with the audit key) and the chain-of-custody log |
//! | [`affected`] | the notification list from audit events, per-state counts, CSV |
//! | [`report`] | the four-factor risk assessment of 45 CFR §164.402(2), Markdown and HTML |
//! | [`drill`] | scoring breach drills against their targets |
//! | [`webhook`] | alert payloads, their HMAC signature header, retry schedule |
//!
//! ```
//! use phivault_audit::{Event, EventContext, Outcome};
//! use phivault_breach::rules::{Detector, Facts, Rule, RulesConfig};
//!
//! let cfg = RulesConfig::default();
//! cfg.validate()?;
//! let mut detector = Detector::new(cfg);
//! let event = Event {
//!     index: 42,
//!     timestamp: "2026-03-02T10:00:00.000000Z".into(),
//!     user: "billing.bob".into(),
//!     action: "viewed".into(),
//!     resource: "/v1/collections/patients/records/canary-1".into(),
//!     context: EventContext { ip: "10.0.0.9".into(), device_id: None, location: None },
//!     outcome: Outcome::Success,
//!     reason: None,
//!     request_id: None,
//!     token: Some("pv_00000000000000aa".into()),
//!     patient_id: Some("canary-1".into()),
//!     fields: vec!["name".into()],
//!     purpose: None,
//!     query: vec![],
//!     count: None,
//!     flags: vec![],
//!     permission: None,
//! };
//! let facts = Facts { honey: true, ..Facts::default() };
//! let findings = detector.observe(&event, &facts);
//! assert_eq!(findings.len(), 1);
//! assert_eq!(findings[0].rule, Rule::Honey);
//! assert!(findings[0].isolate, "honey is critical, and critical isolates by default");
//! # Ok::<(), phivault_breach::rules::ConfigError>(())
//! ```
//!
//! # Design choices
//!
//! Where the brief was silent, these choices were made; each errs towards
//! detecting, refusing or notifying rather than towards silence.
//!
//! **Detection** ([`rules`])
//! - Time is the event's timestamp, clamped so it never goes back; an
//!   unparsable timestamp takes the latest time seen. Off-hours uses the
//!   event's own hour. Timestamps are the server's clock: if it ran far
//!   ahead, the server sees it in [`Detector::now_micros`](rules::Detector::now_micros)
//!   and starts a new detector.
//! - A *disclosure* is [`Event::is_disclosure`](phivault_audit::Event::is_disclosure)
//!   minus the break-glass grant `custom:break_glass`, which only opens
//!   access. Successful searches and exports that name no patient add their
//!   `count` to `volume`; failed ones add nothing.
//! - `volume` keeps the `max_records + 1` most recent distinct patients per
//!   user (exact for "more than N"), bulk counts in 32 buckets per window,
//!   which may count events up to 1/32 of the window too old: it errs
//!   towards firing.
//! - A *PHI access* (for `off_hours`) is a successful event naming a
//!   patient, or a successful search or export. The learned model is 24
//!   counters per user, halved at 65 536 accesses so habits can change; once
//!   learned it stays learned. Accesses that fired are still learned (a
//!   changed shift must become usual); the first ones at a new hour alert.
//! - `care_team` stays quiet on break-glass events: `break_glass` reports
//!   them and the emergency path is the sanctioned way past the care team.
//!   `flagged` fires on every access to a VIP or employee-patient record,
//!   care team included, as VIP access monitoring requires.
//! - `denials` counts the `denied` outcome only (a `failure` is ours, not
//!   the caller's). Unauthenticated events (`-`) count per address only; an
//!   IPv6 client counts per /64, an IPv4-mapped one as IPv4.
//! - Rules without a window (`off_hours`, `care_team`, `flagged`,
//!   `break_glass`, `honey`) suppress for `suppress_minutes` (default 60)
//!   per subject: the user for `off_hours`, the user and record for the
//!   per-record rules. Per-record findings carry the patient id; the
//!   aggregate ones (`volume`, `denials`) do not.
//! - Default severities: `honey` critical; `volume`, `care_team` and
//!   `flagged` high; `off_hours`, `denials` and `break_glass` medium. With
//!   `auto_isolate_at = critical` only honey isolates by default.
//! - Memory: at most `limits.max_users` users and `limits.max_ips`
//!   addresses (least recently seen forgotten first), anything idle for
//!   `limits.idle_days` forgotten in a sweep every 4096 events, suppression
//!   entries capped at four times users plus addresses.
//!
//! **Lockdowns** ([`lockdown`])
//! - Scopes have one spelling: an `ip:` network has its host bits cleared
//!   and IPv4-mapped networks become IPv4; a bare address is a host route.
//!   A `token:` value must be a public id (`pv_` and 16 hex digits), so a
//!   pasted secret is refused; errors never echo the input. Networks
//!   broader than /8 (IPv4) or /16 (IPv6) are refused: an `ip:` lockdown
//!   binds responders too, so such a lockdown would shut them out as well
//!   (`vault` does the job without that risk).
//! - `check` reports the most specific match: user, token, host address,
//!   longest network, then (for non-responders) vault and collection; among
//!   equals, the oldest. Lockdowns never expire by themselves.
//! - Restore: two responders by default; a pending approval counts for 60
//!   minutes and only if made after the lockdown; user ids are compared
//!   ignoring ASCII case; the subject of a `user:` or `token:` lockdown can
//!   never lift or approve it.
//!
//! **Incidents** ([`incident`])
//! - An optional `discovered_at_micros` starts HIPAA's clocks (discovery
//!   may precede declaration); the plan's 15 and 60 minutes run from
//!   declaration. 60 days are 60 × 24 h from discovery; the annual HHS log
//!   is due 60 days after 1 January (UTC) following discovery.
//! - Until the affected individuals are computed, every notice is assumed
//!   required at the earliest date. Residents of unknown state count as one
//!   state for the media notice.
//! - The record refuses unknown members; steps are in time order, `declared`
//!   only first, nothing after `closed`; `per_state` must add up to `count`.
//!   Summary: one printable line of at most 500 characters (no control or
//!   bidi characters), detail at most 1000.
//!
//! **Evidence** ([`evidence`])
//! - Canonical manifest = compact JSON of [`Manifest`](evidence::Manifest)
//!   in field order, files sorted by path, then a newline; verification
//!   re-encodes and compares bytes, so one manifest has one encoding.
//! - Verification order: signature, manifest digest, manifest rules, files
//!   in manifest order (missing or modified), then extra files in path
//!   order. `MANIFEST.json`, `MANIFEST.json.sig` and `custody.jsonl` are
//!   reserved: refused at sealing (in any ASCII case), skipped in a
//!   verified listing (exact names only; `Custody.jsonl` is an extra file).
//! - Paths: besides relative, no `..`, no backslash, also no `:`, control
//!   characters, empty or `.` components or components ending in a dot or
//!   space; names equal ignoring ASCII case are refused at sealing (they
//!   would merge on a case-insensitive file system).
//! - Custody entries start at 1, times never go back, lines are canonical.
//!   Cutting entries off the end cannot be seen in the chain itself: the
//!   server records each new last hash in the audit trail.
//!
//! **Affected individuals** ([`affected`])
//! - *Compromised* (counted for notification) = PHI disclosed or record
//!   written; denied or failed attempts are listed but not counted. Fields
//!   come from successful disclosures and writes only. The window is
//!   inclusive at both ends. Events with unreadable timestamps are kept and
//!   counted. CSV `disclosed` is `yes`, `modified`, `attempted` or `no`;
//!   cells a spreadsheet would run as formulas are prefixed with `'`.
//!
//! **Risk assessment** ([`report`])
//! - *Low probability* only when no PHI was acquired or viewed, or when all
//!   four factors rate low; inconsistent inputs and unidentified persons
//!   rate high. Field kinds are guessed from names when no schema says.
//!
//! **Drills** ([`drill`])
//! - Stages that never happened are `None` and fail their targets;
//!   isolation and alert are measured from detection; a drill passes only
//!   with an alert sent and the affected set exact.
//!
//! **Webhooks** ([`webhook`])
//! - Secrets are at least 32 bytes. Several `v1` signatures are accepted
//!   (rotation); other schemes are ignored; the tolerance applies both ways.
//!   Alert ids derive from the finding, so retries keep their id. Backoff
//!   is 1 s doubling to 15 min, 20 attempts; the server adds jitter.

mod access;
pub mod affected;
pub mod drill;
pub mod evidence;
pub mod incident;
pub mod lockdown;
pub mod report;
pub mod rules;
#[cfg(test)]
mod testing;
mod util;
pub mod webhook;
