//! The phivault server: the vault service (core + keys + store), the HTTP API
//! over rustls, configuration and the data directory.

pub mod access;
pub mod audit;
pub mod breach;
pub mod clock;
pub mod compliance;
pub mod config;
pub mod datadir;
pub mod embedded;
pub mod http;
pub mod metrics;
pub mod providers;
pub mod rekey;
pub mod telehealth;
pub mod tls;
pub mod vault;

pub use clock::{Clock, ManualClock, SystemClock};
pub use config::Config;
pub use vault::Vault;
