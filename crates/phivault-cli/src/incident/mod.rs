//! `phivault incident`: declare and track an incident, isolate and restore,
//! collect and verify evidence, list the affected patients, write the risk
//! assessment. Works on the data directory (and its store) beside a running
//! server; every step is an audit event (through the outbox when the
//! server holds the log).

pub mod affected;
pub mod evidence;
mod report;

use std::path::PathBuf;

use phivault_breach::affected::{Actor, AffectedQuery};
use phivault_breach::incident::StepKind;
use phivault_breach::lockdown::Scope;
use phivault_breach::rules::Severity;
use phivault_server::audit::Who;
use phivault_server::breach::contain::{self, Restored};
use phivault_server::breach::incident as inc;

use crate::keys::{At, record_events};
use crate::out::{self, CliResult};

/// Incident response.
#[derive(Debug, clap::Subcommand)]
pub enum IncidentCmd {
    /// Open an incident.
    Declare {
        #[command(flatten)]
        at: At,
        /// low, medium, high or critical.
        #[arg(long)]
        severity: String,
        /// What happened (ids and facts, never PHI: scrubbed anyway).
        #[arg(long)]
        summary: String,
    },
    /// One incident's timeline and deadlines, or every incident.
    Status {
        #[command(flatten)]
        at: At,
        /// The incident (default: list them all).
        #[arg(long)]
        incident: Option<String>,
        /// `text` or `json`.
        #[arg(long, default_value = "text")]
        format: String,
    },
    /// Record a step (`compliance_alerted`, `individuals_notified`, …).
    Step {
        #[command(flatten)]
        at: At,
        /// The incident.
        #[arg(long)]
        incident: String,
        /// The step kind.
        #[arg(long)]
        kind: String,
        /// Detail (no PHI).
        #[arg(long, default_value = "")]
        detail: String,
    },
    /// Lock down a user, a token, an address range, a collection or the
    /// whole vault: effective on every server within a second.
    Isolate {
        #[command(flatten)]
        at: At,
        /// `user:ID`, `token:ID`, `ip:CIDR`, `collection:NAME` or `vault`.
        #[arg(long)]
        scope: String,
        /// Why (recorded).
        #[arg(long)]
        reason: String,
        /// The incident this belongs to.
        #[arg(long)]
        incident: Option<String>,
    },
    /// Lift a lockdown (a second responder confirms when
    /// `restore_requires_two` is set in `breach.toml`).
    Restore {
        #[command(flatten)]
        at: At,
        /// The lockdown id.
        #[arg(long)]
        lockdown: String,
        /// The responder (default `cli:$USER`).
        #[arg(long = "as")]
        responder: Option<String>,
    },
    /// The active lockdowns.
    Lockdowns {
        #[command(flatten)]
        at: At,
    },
    /// Write a sealed evidence bundle for an incident.
    Evidence {
        #[command(flatten)]
        at: At,
        /// The incident.
        #[arg(long)]
        incident: String,
        /// Output directory (new or empty).
        #[arg(long)]
        out: PathBuf,
        /// Window start (RFC 3339; default: 24 h before the declaration).
        #[arg(long)]
        since: Option<String>,
        /// Window end (RFC 3339; default: now).
        #[arg(long)]
        until: Option<String>,
    },
    /// Check a bundle; the check is appended to its chain of custody.
    VerifyEvidence {
        /// The bundle directory.
        dir: PathBuf,
        /// The audit public key (text or file; default: the data directory's).
        #[arg(long)]
        public_key: Option<String>,
        /// Data directory (for the default key).
        #[arg(long, env = "PHIVAULT_DATA_DIR", default_value = "phivault-data")]
        data_dir: PathBuf,
    },
    /// Every patient whose PHI an actor accessed, from the verified log.
    Affected {
        #[command(flatten)]
        at: At,
        #[command(flatten)]
        actor: ActorArgs,
        /// Window start (RFC 3339).
        #[arg(long)]
        since: String,
        /// Window end (RFC 3339; default: now).
        #[arg(long)]
        until: Option<String>,
        /// Write the list as CSV here.
        #[arg(long)]
        csv: Option<PathBuf>,
        /// Do not read addresses for per-state counts.
        #[arg(long)]
        no_states: bool,
        /// Record the count on this incident.
        #[arg(long)]
        incident: Option<String>,
    },
    /// The §164.402 four-factor risk assessment, as Markdown or HTML.
    Report {
        #[command(flatten)]
        at: At,
        /// The incident.
        #[arg(long)]
        incident: String,
        #[command(flatten)]
        actor: ActorArgs,
        /// Window start (RFC 3339; default: 24 h before the declaration).
        #[arg(long)]
        since: Option<String>,
        /// Output file: `.md` or `.html`.
        #[arg(long)]
        out: PathBuf,
    },
}

/// Which actor an affected list is about (exactly one).
#[derive(Debug, Clone, clap::Args)]
#[group(required = true, multiple = false)]
pub struct ActorArgs {
    /// A user id.
    #[arg(long)]
    actor: Option<String>,
    /// A token's public id.
    #[arg(long)]
    token: Option<String>,
    /// An address range.
    #[arg(long)]
    ip: Option<String>,
}

type Error = Box<dyn std::error::Error + Send + Sync>;

impl ActorArgs {
    fn actor(&self) -> Result<Actor, Error> {
        Ok(match (&self.actor, &self.token, &self.ip) {
            (Some(u), _, _) => Actor::User(u.clone()),
            (_, Some(t), _) => Actor::Token(t.clone()),
            (_, _, Some(ip)) => Actor::Ip(ip.parse().map_err(|_| "--ip must be a CIDR")?),
            _ => return Err("give --actor, --token or --ip".into()),
        })
    }
}

fn time(name: &str, v: Option<&str>) -> Result<Option<i64>, Error> {
    v.map(|s| {
        s.parse::<jiff::Timestamp>()
            .map(|t| t.as_microsecond())
            .map_err(|_| format!("--{name} must be an RFC 3339 time").into())
    })
    .transpose()
}

fn responder(name: Option<String>) -> Who {
    match name {
        Some(n) => Who::operator(&n),
        None => crate::keys::cli_who(),
    }
}

async fn open(
    at: &At,
) -> Result<
    (
        phivault_server::Config,
        std::sync::Arc<dyn phivault_store::Store>,
    ),
    Error,
> {
    use phivault_server::config::{Config, FileConfig};
    let over = FileConfig {
        database: at.database.clone(),
        ..Default::default()
    };
    let config = Config::resolve(at.data_dir.clone(), over, FileConfig::load(&at.data_dir)?)?;
    let store = phivault_store::open(&config.store_location()).await?;
    Ok((config, store))
}

/// Runs an `incident` subcommand.
pub async fn run(cmd: IncidentCmd) -> CliResult {
    let now = jiff::Timestamp::now();
    match cmd {
        IncidentCmd::Declare {
            at,
            severity,
            summary,
        } => {
            let (config, store) = open(&at).await?;
            let severity: Severity = inc::parse_name(&severity)
                .ok_or("--severity must be low, medium, high or critical")?;
            let (i, e) = inc::declare(
                store.as_ref(),
                severity,
                &summary,
                &crate::keys::cli_who(),
                now,
            )
            .await?;
            record_events(&config, &store, vec![e]).await?;
            out::line(format_args!("declared {} ({})", i.id, i.severity.as_str()));
            out::line("deadlines: isolate within 15 min, alert compliance within 60 min");
            Ok(())
        }
        IncidentCmd::Status {
            at,
            incident,
            format,
        } => {
            let (_, store) = open(&at).await?;
            report::status(store.as_ref(), incident.as_deref(), &format, now).await
        }
        IncidentCmd::Step {
            at,
            incident,
            kind,
            detail,
        } => {
            let (config, store) = open(&at).await?;
            let kind: StepKind = inc::parse_name(&kind).ok_or("--kind is not a step kind")?;
            let (_, e) = inc::add_step(
                store.as_ref(),
                &incident,
                kind,
                &detail,
                &crate::keys::cli_who(),
                now,
            )
            .await?;
            record_events(&config, &store, vec![e]).await?;
            out::line("step recorded");
            Ok(())
        }
        IncidentCmd::Isolate {
            at,
            scope,
            reason,
            incident,
        } => {
            let (config, store) = open(&at).await?;
            let scope: Scope = scope
                .parse()
                .map_err(|_| "--scope must be `vault`, `user:ID`, `token:ID`, `ip:CIDR` or `collection:NAME`")?;
            let reason = inc::scrub(&reason);
            let who = crate::keys::cli_who();
            let done =
                contain::isolate(store.as_ref(), &scope, &reason, incident.clone(), &who, now)
                    .await?;
            let mut events = vec![done.event];
            if let Some(id) = &incident {
                let (_, e) = inc::add_step(
                    store.as_ref(),
                    id,
                    StepKind::Isolated,
                    &done.row.id,
                    &who,
                    now,
                )
                .await?;
                events.push(e);
            }
            record_events(&config, &store, events).await?;
            out::line(format_args!(
                "lockdown {} on {scope}: {} session(s) revoked; every server applies it within a second",
                done.row.id, done.sessions_revoked
            ));
            Ok(())
        }
        IncidentCmd::Restore {
            at,
            lockdown,
            responder: name,
        } => {
            let (config, store) = open(&at).await?;
            let two =
                phivault_server::breach::BreachConfig::load(&config.data_dir)?.restore_requires_two;
            let who = responder(name);
            match contain::restore(store.as_ref(), &lockdown, &who, now, two).await? {
                Restored::Lifted(e) => {
                    record_events(&config, &store, vec![e]).await?;
                    out::line(format_args!("lockdown {lockdown} lifted"));
                }
                Restored::Pending(e) => {
                    record_events(&config, &store, vec![e]).await?;
                    out::line(format_args!(
                        "lockdown {lockdown}: restore recorded for {}; a second responder must confirm",
                        who.user
                    ));
                }
            }
            Ok(())
        }
        IncidentCmd::Lockdowns { at } => {
            let (_, store) = open(&at).await?;
            let rows = store.active_lockdowns().await?;
            if rows.is_empty() {
                out::line("no active lockdown");
            }
            for r in rows {
                out::line(format_args!(
                    "{}  {}  since {}  by {}  ({}){}",
                    r.id,
                    r.scope,
                    phivault_server::clock::rfc3339_micros(r.created_at),
                    r.created_by,
                    r.reason,
                    r.lift_requested_by
                        .map(|b| format!("; restore requested by {b}"))
                        .unwrap_or_default()
                ));
            }
            Ok(())
        }
        IncidentCmd::Evidence {
            at,
            incident,
            out: dir,
            since,
            until,
        } => {
            let ctx = crate::keys::open(&at).await?;
            let (i, _) = inc::load(ctx.store.as_ref(), &incident).await?;
            let since =
                time("since", since.as_deref())?.unwrap_or(i.declared_at_micros - 86_400_000_000);
            let until = time("until", until.as_deref())?.unwrap_or(now.as_microsecond() + 1);
            let who = crate::keys::cli_who();
            let written = evidence::collect(
                evidence::Collect {
                    config: &ctx.config,
                    incident_id: &incident,
                    since,
                    until,
                    out: &dir,
                    actor: &who.user,
                },
                crate::keys::metadata(&ctx).await?,
            )
            .await?;
            let (_, e) = inc::add_step(
                ctx.store.as_ref(),
                &incident,
                StepKind::EvidenceCollected,
                &format!("manifest sha256 {}", written.manifest_digest),
                &who,
                now,
            )
            .await?;
            record_events(&ctx.config, &ctx.store, vec![e]).await?;
            out::line(format_args!(
                "sealed {} files, {} events with inclusion proofs at tree size {}; manifest sha256 {}",
                written.files, written.events, written.tree_size, written.manifest_digest
            ));
            Ok(())
        }
        IncidentCmd::VerifyEvidence {
            dir,
            public_key,
            data_dir,
        } => {
            let text = match public_key {
                Some(k) => std::fs::read_to_string(&k).unwrap_or(k),
                None => std::fs::read_to_string(phivault_server::audit::verifier_path(&data_dir))
                    .map_err(|_| "no --public-key and no audit key in the data directory")?,
            };
            let key = phivault_audit::VerifierKey::parse(&text)
                .map_err(|e| format!("--public-key: {e}"))?;
            let who = crate::keys::cli_who();
            let c = evidence::verify(&dir, &key, &who.user)?;
            // The access itself goes into the trail with the chain's new
            // head, through the outbox of the data directory it came from.
            if phivault_server::datadir::is_initialized(&data_dir) {
                let mut e = who.event(
                    now,
                    "evidence_verified",
                    format!("/v1/incidents/{}/evidence", c.incident_id),
                    phivault_audit::Outcome::Success,
                );
                e.flags = vec![format!("custody:{}", c.custody_hash)];
                phivault_server::audit::outbox::write(&data_dir, &[e])?;
            }
            out::line(format_args!(
                "evidence verified: {} files, {} events proven in the signed log; custody chain of {} entries intact (this check appended)",
                c.files, c.events, c.custody
            ));
            Ok(())
        }
        IncidentCmd::Affected {
            at,
            actor,
            since,
            until,
            csv,
            no_states,
            incident,
        } => {
            let (config, store) = open(&at).await?;
            let q = AffectedQuery {
                actor: actor.actor()?,
                since_micros: time("since", Some(&since))?.unwrap_or(0),
                until_micros: time("until", until.as_deref())?.unwrap_or(now.as_microsecond() + 1),
            };
            let c = affected::compute(&config, &store, &q, !no_states).await?;
            report::print_affected(&c);
            if let Some(path) = csv {
                let states = c.states.clone();
                let text = c.list.to_csv(|id| states.get(id).cloned());
                phivault_server::datadir::write_private(&path, text.as_bytes())?;
                out::line(format_args!("wrote {}", path.display()));
            }
            if let Some(id) = incident {
                let states = c.states.clone();
                let kind = c.list.step_kind(|p| states.get(p).cloned());
                let (_, e) =
                    inc::add_step(store.as_ref(), &id, kind, "", &crate::keys::cli_who(), now)
                        .await?;
                record_events(&config, &store, vec![e]).await?;
            }
            Ok(())
        }
        IncidentCmd::Report {
            at,
            incident,
            actor,
            since,
            out: path,
        } => {
            let (config, store) = open(&at).await?;
            let (i, _) = inc::load(store.as_ref(), &incident).await?;
            let q = AffectedQuery {
                actor: actor.actor()?,
                since_micros: time("since", since.as_deref())?
                    .unwrap_or(i.declared_at_micros - 86_400_000_000),
                until_micros: now.as_microsecond() + 1,
            };
            let c = affected::compute(&config, &store, &q, false).await?;
            let lockdowns = store.active_lockdowns().await?;
            let text = report::risk(
                store.as_ref(),
                &i,
                &c,
                &q.actor,
                &lockdowns,
                &path,
                now.as_microsecond(),
            )
            .await?;
            phivault_server::datadir::write_private(&path, text.as_bytes())?;
            out::line(format_args!("wrote {}", path.display()));
            Ok(())
        }
    }
}
