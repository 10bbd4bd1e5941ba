//! Shared by the store test binaries.
#![allow(clippy::print_stderr, clippy::unwrap_used, reason = "tests")]

/// The PostgreSQL URL for tests, or `None` to skip (failing instead when CI
/// requires PostgreSQL).
pub fn postgres_url() -> Option<String> {
    match std::env::var("PHIVAULT_TEST_POSTGRES_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            assert!(
                std::env::var("PHIVAULT_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                "PHIVAULT_REQUIRE_POSTGRES=1 but PHIVAULT_TEST_POSTGRES_URL is not set: the PostgreSQL suite would be skipped"
            );
            eprintln!("skipping PostgreSQL suite: PHIVAULT_TEST_POSTGRES_URL is not set");
            None
        }
    }
}

/// A fresh schema `name` and a store on it, plus a client for checks and
/// cleanup; `None` when PostgreSQL is not configured (see [`postgres_url`]).
pub async fn fresh_postgres(
    name: &str,
) -> Option<(
    String,
    tokio_postgres::Client,
    phivault_store::postgres::PgStore,
)> {
    let url = postgres_url()?;
    let schema = format!("{name}_{}", std::process::id());
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
        .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .await
        .unwrap();
    let store = phivault_store::postgres::PgStore::connect(&url, &schema)
        .await
        .unwrap();
    Some((schema, client, store))
}
