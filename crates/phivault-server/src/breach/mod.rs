//! Breach detection and containment in the service.
//!
//! - [`Breach`] holds what every request consults: the active lockdowns
//!   (refreshed on PostgreSQL `NOTIFY` and by polling a generation counter,
//!   so a lockdown made by another process applies within a second) and the
//!   patient flags (honey records, VIPs, employee-patients).
//! - [`detect`] runs the rules of `phivault_breach` on the events this
//!   process commits to the audit trail; findings become `alert_raised`
//!   events, webhook deliveries and, at the configured severity, lockdowns.
//! - [`webhook`] delivers alerts from the durable queue, HMAC-signed.
//! - [`contain`] and [`incident`] are the operations the API and the CLI
//!   share: isolate, restore, declare, add a step.

pub mod config;
pub mod contain;
pub mod detect;
pub mod honey;
pub mod incident;
pub mod receiver;
pub mod webhook;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use phivault_breach::lockdown::{Lockdown, LockdownSet, RequestFacts};
use phivault_breach::rules::Flag;
use phivault_store::{LockdownRow, Store, StoreError};

pub use config::BreachConfig;

/// How often the lockdown generation is polled (SQLite, and PostgreSQL as
/// a fallback to `LISTEN`).
pub const POLL: Duration = Duration::from_millis(200);

/// How often the patient flags are reread when nothing else moved.
const FLAGS_EVERY: Duration = Duration::from_secs(5);

/// The breach state every request consults.
pub struct Breach {
    config: BreachConfig,
    store: Arc<dyn Store>,
    lockdowns: RwLock<Arc<LockdownSet>>,
    rows: RwLock<Arc<Vec<LockdownRow>>>,
    generation: AtomicU64,
    /// Patient id → `honey`, `vip` or `employee`.
    flags: RwLock<Arc<HashMap<String, String>>>,
    /// Wakes the webhook delivery task when an alert is queued.
    pub(crate) deliver: tokio::sync::Notify,
    /// One past the last audit index the detector has analysed.
    pub(crate) analysed: AtomicU64,
}

impl std::fmt::Debug for Breach {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Breach")
            .field("webhooks", &self.config.webhooks.len())
            .finish_non_exhaustive()
    }
}

/// A stored lockdown in domain form (rows whose scope no longer parses are
/// applied as vault-wide: fail closed).
pub fn lockdown_of(row: &LockdownRow) -> Lockdown {
    Lockdown {
        id: row.id.clone(),
        scope: row
            .scope
            .parse()
            .unwrap_or(phivault_breach::lockdown::Scope::Vault),
        reason: row.reason.clone(),
        incident_id: row.incident_id.clone(),
        created_by: row.created_by.clone(),
        created_at_micros: row.created_at,
    }
}

fn flag_of(s: &str) -> Option<Flag> {
    match s {
        "honey" => None,
        "vip" => Some(Flag::Vip),
        "employee" => Some(Flag::Employee),
        _ => None,
    }
}

impl Breach {
    /// Loads the active lockdowns and the patient flags.
    pub async fn open(
        store: Arc<dyn Store>,
        config: BreachConfig,
    ) -> Result<Arc<Self>, StoreError> {
        let b = Arc::new(Self {
            config,
            store,
            lockdowns: RwLock::new(Arc::new(LockdownSet::new(Vec::new()))),
            rows: RwLock::default(),
            generation: AtomicU64::new(u64::MAX),
            flags: RwLock::default(),
            deliver: tokio::sync::Notify::new(),
            analysed: AtomicU64::new(0),
        });
        b.refresh().await?;
        b.refresh_flags().await?;
        Ok(b)
    }

    /// The configuration.
    pub fn config(&self) -> &BreachConfig {
        &self.config
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The lockdown that refuses this request, if any.
    pub fn check(&self, req: &RequestFacts<'_>) -> Option<Lockdown> {
        let set = self.lockdowns.read().ok()?.clone();
        set.check(req).cloned()
    }

    /// Whether the detector has analysed every event below `size` that
    /// this process committed (tests and drills wait on it).
    pub fn detector_caught_up(&self, size: u64) -> bool {
        self.analysed.load(Ordering::Acquire) >= size
    }

    /// True while any lockdown is active (skips the responder lookup).
    pub fn any_active(&self) -> bool {
        self.rows.read().is_ok_and(|s| !s.is_empty())
    }

    /// The active lockdowns as last loaded.
    pub fn active(&self) -> Arc<Vec<LockdownRow>> {
        self.rows.read().map(|r| Arc::clone(&r)).unwrap_or_default()
    }

    /// Whether a lockdown with exactly this scope is active.
    pub fn check_scope_active(&self, scope: &phivault_breach::lockdown::Scope) -> bool {
        let text = scope.to_string();
        self.active().iter().any(|r| r.scope == text)
    }

    /// Re-reads the active lockdowns when the generation moved.
    pub async fn refresh(&self) -> Result<bool, StoreError> {
        let generation = self.store.lockdown_generation().await?;
        if generation == self.generation.load(Ordering::Acquire) {
            return Ok(false);
        }
        let rows = self.store.active_lockdowns().await?;
        let set = Arc::new(LockdownSet::new(rows.iter().map(lockdown_of).collect()));
        if let Ok(mut l) = self.lockdowns.write() {
            *l = set;
        }
        if let Ok(mut r) = self.rows.write() {
            *r = Arc::new(rows);
        }
        self.generation.store(generation, Ordering::Release);
        Ok(true)
    }

    /// Re-reads the patient flags.
    pub async fn refresh_flags(&self) -> Result<(), StoreError> {
        let map: HashMap<String, String> = self.store.patient_flags().await?.into_iter().collect();
        if let Ok(mut l) = self.flags.write() {
            *l = Arc::new(map);
        }
        Ok(())
    }

    fn flag_text(&self, patient_id: &str) -> Option<String> {
        self.flags.read().ok()?.get(patient_id).cloned()
    }

    /// The VIP or employee-patient flag of a record, for the rules.
    pub fn flag(&self, patient_id: &str) -> Option<Flag> {
        self.flag_text(patient_id).as_deref().and_then(flag_of)
    }

    /// Whether a patient record is a honey record.
    pub fn is_honey(&self, patient_id: &str) -> bool {
        self.flag_text(patient_id).as_deref() == Some("honey")
    }

    /// Keeps the lockdowns current: wakes on the store's change feed
    /// (PostgreSQL `LISTEN`) and polls the generation every [`POLL`]; also
    /// reloads the patient flags and drains the CLI's audit outbox when a
    /// change is seen, so a CLI isolation is recorded promptly.
    pub fn spawn_watcher(self: &Arc<Self>, on_change: Arc<dyn Fn() + Send + Sync>) {
        // Weak: the task ends with the server that owns this state.
        let weak = Arc::downgrade(self);
        let mut feed = self.store.watch_lockdowns();
        tokio::spawn(async move {
            let mut flags_read = std::time::Instant::now();
            loop {
                match feed.as_mut() {
                    Some(rx) => {
                        if let Ok(Err(_)) = tokio::time::timeout(POLL * 5, rx.changed()).await {
                            // The feed ended: poll from now on.
                            feed = None;
                        }
                    }
                    None => tokio::time::sleep(POLL).await,
                }
                let Some(me) = weak.upgrade() else {
                    return;
                };
                match me.refresh().await {
                    Ok(true) => {
                        if let Err(e) = me.refresh_flags().await {
                            tracing::warn!(error = %e, "patient flags not reloaded");
                        }
                        on_change();
                    }
                    Ok(false) => {
                        // Flags set by `phivault honey create` do not move
                        // the generation: reread them every few seconds.
                        if flags_read.elapsed() >= FLAGS_EVERY {
                            flags_read = std::time::Instant::now();
                            if let Err(e) = me.refresh_flags().await {
                                tracing::warn!(error = %e, "patient flags not reloaded");
                            }
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "lockdowns not refreshed"),
                }
            }
        });
    }
}

/// Opens the breach state for a server and starts its tasks: the lockdown
/// watcher (which also drains the CLI's audit outbox on a change), the
/// detector on this process's audit tap, and webhook delivery.
pub async fn start(
    vault: &Arc<crate::Vault>,
    config: &Arc<crate::Config>,
    alerts: &Arc<dyn crate::access::AlertHook>,
) -> Result<Arc<Breach>, crate::datadir::DataDirError> {
    use crate::datadir::DataDirError;
    let cfg =
        BreachConfig::load(&config.data_dir).map_err(|e| DataDirError::Config(e.to_string()))?;
    let breach = Breach::open(Arc::clone(vault.store()), cfg).await?;
    let (data_dir, audit) = (config.data_dir.clone(), Arc::downgrade(vault.audit()));
    breach.spawn_watcher(Arc::new(move || {
        let Some(a) = audit.upgrade() else { return };
        let d = data_dir.clone();
        tokio::spawn(async move {
            if let Err(e) = crate::audit::outbox::drain(&d, &a).await {
                tracing::error!(error = %e, "audit outbox: drain failed");
            }
        });
    }));
    if let Some(rx) = vault.audit().subscribe() {
        let r = detect::Responder {
            breach: Arc::clone(&breach),
            audit: Arc::downgrade(vault.audit()),
            alerts: Arc::clone(alerts),
            clock: Arc::clone(vault.clock()),
        };
        tokio::spawn(detect::run(r, rx));
    }
    tokio::spawn(webhook::run(
        Arc::downgrade(&breach),
        Arc::clone(vault.clock()),
    ));
    Ok(breach)
}
