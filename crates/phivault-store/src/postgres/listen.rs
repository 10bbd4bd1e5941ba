//! Lockdown changes pushed by PostgreSQL. Every lockdown change runs
//! `pg_notify` on a channel named after the schema, in the change's own
//! transaction (so a notification means a committed change, and stores on
//! other schemas do not hear it). One task per store LISTENs on a dedicated
//! connection and marks a watch channel changed; when the connection drops
//! it reconnects with backoff and marks it changed once more, since
//! notifications sent while it was away are lost.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use tokio_postgres::{AsyncMessage, Config, NoTls};

use crate::{ErrorKind, StoreError};

const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// PostgreSQL's identifier limit (NAMEDATALEN - 1), which channel names obey.
const MAX_CHANNEL: usize = 63;

/// The channel for `schema`: `SCHEMA_lockdowns` when that fits, otherwise
/// `lockdowns_` and the FNV-1a hash of the schema in hex. The two forms
/// cannot collide (the first ends in `s`, the second in a hex digit), and
/// every process derives the same name (no per-build hasher).
pub(super) fn channel_for(schema: &str) -> String {
    let plain = format!("{schema}_lockdowns");
    if plain.len() <= MAX_CHANNEL {
        return plain;
    }
    let hash = schema.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("lockdowns_{hash:016x}")
}

/// The listener of one store (shared by its clones).
pub(super) struct Listener {
    config: Config,
    channel: String,
    running: Mutex<Option<Running>>,
}

struct Running {
    tx: Arc<watch::Sender<u64>>,
    task: JoinHandle<()>,
    /// Dropped with the store: the task ends.
    _stop: oneshot::Sender<()>,
}

impl Listener {
    /// `config` is the store's own (same server, user, schema).
    pub(super) fn new(mut config: Config, schema: &str) -> Self {
        // The connection is idle by design: a vanished peer is found by TCP
        // keepalives, not by a failing query.
        config
            .application_name("phivault-listen")
            .connect_timeout(Duration::from_secs(10))
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(15))
            .keepalives_interval(Duration::from_secs(5))
            .keepalives_retries(3);
        Self {
            config,
            channel: channel_for(schema),
            running: Mutex::new(None),
        }
    }

    /// The NOTIFY channel.
    pub(super) fn channel(&self) -> &str {
        &self.channel
    }

    /// A receiver; starts the task on first use (or again if the runtime it
    /// ran on is gone). `None` outside a tokio runtime.
    pub(super) fn watch(&self) -> Option<watch::Receiver<u64>> {
        let mut running = self.running.lock().ok()?;
        if let Some(r) = running.as_ref().filter(|r| !r.task.is_finished()) {
            return Some(r.tx.subscribe());
        }
        let rt = tokio::runtime::Handle::try_current().ok()?;
        // Receivers of a task that ended keep their sender, so they hear the new task.
        let tx = match running.take() {
            Some(old) => old.tx,
            None => Arc::new(watch::channel(0).0),
        };
        let rx = tx.subscribe();
        let (stop, stopped) = oneshot::channel();
        let task = rt.spawn(run(
            self.config.clone(),
            self.channel.clone(),
            Arc::clone(&tx),
            stopped,
        ));
        *running = Some(Running {
            tx,
            task,
            _stop: stop,
        });
        Some(rx)
    }
}

fn bump(tx: &watch::Sender<u64>) {
    tx.send_modify(|v| *v = v.wrapping_add(1));
}

async fn run(
    config: Config,
    channel: String,
    tx: Arc<watch::Sender<u64>>,
    mut stop: oneshot::Receiver<()>,
) {
    let mut backoff = MIN_BACKOFF;
    loop {
        let (listened, why) = tokio::select! {
            _ = &mut stop => return,
            ended = listen(&config, &channel, &tx) => ended,
        };
        if listened {
            backoff = MIN_BACKOFF;
        }
        tracing::warn!(error = %why, listened, "lockdown listener disconnected; reconnecting");
        tokio::select! {
            _ = &mut stop => return,
            () = tokio::time::sleep(backoff) => {}
        }
        backoff = backoff.saturating_mul(2).min(MAX_BACKOFF);
    }
}

/// One connection's life: connect, LISTEN, bump once, then bump on every
/// notification until the connection ends. Returns whether the LISTEN took
/// effect, and why it ended.
async fn listen(config: &Config, channel: &str, tx: &watch::Sender<u64>) -> (bool, StoreError) {
    let (client, mut conn) = match config.connect(NoTls).await {
        Ok(pair) => pair,
        Err(e) => return (false, e.into()),
    };
    // INVARIANT: `channel` is lowercase letters, digits and `_` (a checked
    // schema name plus a fixed suffix, or hex), so quoting cannot be escaped.
    let sql = format!("LISTEN \"{channel}\"");
    let mut listening = std::pin::pin!(client.batch_execute(&sql));
    let mut listened = false;
    loop {
        tokio::select! {
            done = &mut listening, if !listened => match done {
                // Changes made before the LISTEN took effect were not heard.
                Ok(()) => {
                    listened = true;
                    bump(tx);
                }
                Err(e) => return (false, e.into()),
            },
            msg = std::future::poll_fn(|cx| conn.poll_message(cx)) => match msg {
                Some(Ok(AsyncMessage::Notification(n))) if n.channel() == channel => bump(tx),
                Some(Ok(_)) => {}
                Some(Err(e)) => return (listened, e.into()),
                None => {
                    let closed = StoreError::new(ErrorKind::Unavailable, "postgres connection closed");
                    return (listened, closed);
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_names_fit_and_stay_apart() {
        assert_eq!(channel_for("phivault"), "phivault_lockdowns");
        let long = "a".repeat(63);
        let hashed = channel_for(&long);
        assert!(hashed.starts_with("lockdowns_") && hashed.len() <= MAX_CHANNEL);
        assert_eq!(hashed, channel_for(&long), "deterministic");
        assert_ne!(hashed, channel_for(&"b".repeat(63)));
        assert!(channel_for(&"a".repeat(53)).len() <= MAX_CHANNEL);
        assert!(channel_for(&"a".repeat(54)).starts_with("lockdowns_"));
    }
}
