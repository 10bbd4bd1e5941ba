//! The alert hook: break-glass grants and uses (and, later, breach rules)
//! raise alerts through one trait. The default keeps recent alerts in memory
//! and writes one log line each, naming users and record pseudonyms only.

use std::collections::VecDeque;
use std::sync::Mutex;

/// One alert. No PHI: ids and pseudonyms only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    /// What happened, e.g. `break_glass_granted`, `break_glass_used`.
    pub kind: &'static str,
    /// The user concerned.
    pub user: String,
    /// The patient record id (a pseudonym), when one is concerned.
    pub patient_id: Option<String>,
    /// When (RFC 3339).
    pub at: String,
}

/// Where alerts go.
pub trait AlertHook: Send + Sync + std::fmt::Debug {
    /// Raises an alert. Must not block for long.
    fn raise(&self, alert: Alert);
}

/// Logs alerts and keeps the most recent ones for inspection.
#[derive(Debug, Default)]
pub struct AlertLog {
    recent: Mutex<VecDeque<Alert>>,
}

const KEEP: usize = 1_000;

impl AlertLog {
    /// The alerts kept, oldest first.
    pub fn recent(&self) -> Vec<Alert> {
        self.recent
            .lock()
            .map(|q| q.iter().cloned().collect())
            .unwrap_or_default()
    }
}

impl AlertHook for AlertLog {
    fn raise(&self, alert: Alert) {
        crate::metrics::count_alert(alert.kind);
        tracing::warn!(
            kind = alert.kind,
            user = %alert.user,
            patient_id = alert.patient_id.as_deref().unwrap_or("-"),
            "security alert"
        );
        if let Ok(mut q) = self.recent.lock() {
            if q.len() == KEEP {
                q.pop_front();
            }
            q.push_back(alert);
        }
    }
}
