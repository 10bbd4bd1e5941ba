//! PostgreSQL pushes lockdown changes: a store's watch hears changes made
//! through another store on its schema, not on another schema, and recovers
//! from a dropped connection.

use std::time::Duration;

use phivault_store::BreachStore;
use phivault_store::postgres::PgStore;
use tokio::sync::watch::Receiver;
use tokio::time::timeout;

/// The brief: a change made elsewhere is heard within this.
const HEARD_WITHIN: Duration = Duration::from_secs(1);
/// Connecting (or reconnecting after the backoff) takes at most this here.
const CONNECTED_WITHIN: Duration = Duration::from_secs(10);
/// How long a change that must not be heard is waited for.
const QUIET_FOR: Duration = Duration::from_millis(300);

async fn heard(rx: &mut Receiver<u64>, within: Duration, what: &str) -> u64 {
    timeout(within, rx.changed())
        .await
        .unwrap_or_else(|_| panic!("not heard within {within:?}: {what}"))
        .unwrap();
    *rx.borrow_and_update()
}

async fn quiet(rx: &mut Receiver<u64>, what: &str) {
    assert!(timeout(QUIET_FOR, rx.changed()).await.is_err(), "{what}");
}

async fn second_store(schema: &str) -> PgStore {
    PgStore::connect(&super::common::postgres_url().unwrap(), schema)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_watch_hears_its_schema_only() {
    let Some((schema, client, s)) = super::common::fresh_postgres("pv_bwatch").await else {
        return;
    };
    let (other_schema, _, other) = super::common::fresh_postgres("pv_bwatch_x").await.unwrap();
    assert_ne!(s.lockdown_channel(), other.lockdown_channel());
    let second = second_store(&schema).await;
    let mut rx = s.watch_lockdowns().expect("postgres pushes changes");
    let mut rx2 = s.watch_lockdowns().unwrap();
    // Marked once the listener is listening (changes before may be missed).
    let base = heard(&mut rx, CONNECTED_WITHIN, "listener up").await;

    other
        .insert_lockdown(super::lockdown("x1", "vault:", 1))
        .await
        .unwrap();
    quiet(&mut rx, "a change on another schema is not heard").await;

    second
        .insert_lockdown(super::lockdown("l1", "vault:", 2))
        .await
        .unwrap();
    assert_eq!(heard(&mut rx, HEARD_WITHIN, "insert").await, base + 1);
    assert!(second.request_lift("l1", "alice", 3).await.unwrap());
    assert_eq!(heard(&mut rx, HEARD_WITHIN, "request").await, base + 2);
    assert!(!second.request_lift("l1", "bob", 4).await.unwrap());
    quiet(&mut rx, "a no-op is not notified").await;
    assert!(second.lift_lockdown("l1", "bob", 5).await.unwrap());
    assert_eq!(heard(&mut rx, HEARD_WITHIN, "lift").await, base + 3);
    // A second subscriber shares the one listener.
    heard(&mut rx2, HEARD_WITHIN, "second subscriber").await;
    let listeners: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE query = $1",
            &[&format!("LISTEN \"{}\"", s.lockdown_channel())],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(listeners, 1, "one listening connection per store");

    drop((s, second, other));
    client
        .batch_execute(&format!(
            "DROP SCHEMA {schema} CASCADE; DROP SCHEMA {other_schema} CASCADE"
        ))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_watch_reconnects() {
    let Some((schema, client, s)) = super::common::fresh_postgres("pv_bwatch_re").await else {
        return;
    };
    let second = second_store(&schema).await;
    let mut rx = s.watch_lockdowns().unwrap();
    let base = heard(&mut rx, CONNECTED_WITHIN, "listener up").await;
    let killed = client
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = $1",
            &[&format!("LISTEN \"{}\"", s.lockdown_channel())],
        )
        .await
        .unwrap();
    assert_eq!(killed, 1, "the listening connection was found");
    // Changes made while it was away are lost: the reconnect marks the receiver.
    let again = heard(&mut rx, CONNECTED_WITHIN, "reconnected").await;
    assert_eq!(again, base + 1);
    second
        .insert_lockdown(super::lockdown("l1", "vault:", 1))
        .await
        .unwrap();
    assert_eq!(
        heard(&mut rx, HEARD_WITHIN, "listening again").await,
        base + 2
    );
    drop((s, second));
    client
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .await
        .unwrap();
}
