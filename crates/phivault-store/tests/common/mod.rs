//! Shared by the store test binaries.
#![allow(clippy::print_stderr, reason = "tests")]

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
