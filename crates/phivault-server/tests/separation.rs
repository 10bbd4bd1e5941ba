//! Key/PHI separation on PostgreSQL: key material inside the database
//! server's own data files is refused; apart from them it is accepted.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr,
    reason = "tests"
)]

mod common;

use phivault_server::config::{Config, FileConfig};
use phivault_server::datadir::{self, DataDirError};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyring_inside_the_postgres_data_directory_is_refused() {
    let Some(url) = common::postgres_url() else {
        return;
    };
    let url = format!(
        "{url}{}schema=pv_sep{}",
        if url.contains('?') { '&' } else { '?' },
        std::process::id()
    );
    let store = phivault_store::open(&url).await.unwrap();
    let pgdata = store
        .server_data_directory()
        .await
        .unwrap()
        .expect("the test role may read data_directory (superuser)");
    let config = |dir: &std::path::Path| {
        let over = FileConfig {
            database: Some(url.clone()),
            ..Default::default()
        };
        Config::resolve(dir.to_owned(), over, FileConfig::default()).unwrap()
    };
    // Apart from the database files: accepted.
    let apart = tempfile::tempdir().unwrap();
    let c = config(apart.path());
    datadir::check_store_separation(&c, &store, &apart.path().join("keys/keyring.json"))
        .await
        .unwrap();
    // A data directory inside PostgreSQL's own: refused, naming the problem.
    let inside = tempfile::tempdir_in(&pgdata).unwrap();
    let c = config(inside.path());
    let err = datadir::check_store_separation(&c, &store, &inside.path().join("keys/keyring.json"))
        .await
        .unwrap_err();
    assert!(matches!(err, DataDirError::Separation(_)), "{err}");
    assert!(
        err.to_string()
            .contains("the keyring lies inside the PostgreSQL data directory"),
        "{err}"
    );
    // And the server refuses to start there.
    std::fs::create_dir_all(inside.path().join("data")).unwrap();
    let clock = std::sync::Arc::new(phivault_server::ManualClock::new(jiff::Timestamp::now()));
    let started =
        phivault_server::embedded::start(&inside.path().join("data"), Some(url.clone()), clock)
            .await;
    let Err(err) = started else {
        panic!("start must be refused")
    };
    assert!(err.to_string().contains("refusing to start"), "{err}");
}
