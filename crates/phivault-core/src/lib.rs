//! The phivault domain, with no I/O: collection schemas and value validation,
//! the record model, the envelope (ciphertext) format, blind indexes, bearer
//! tokens and the single authorization decision point.
//!
//! Adapters (storage, key providers, HTTP, CLI) live in other crates and reach
//! PHI only through the types defined here: plaintext values are [`PhiValue`],
//! data keys are [`envelope::DataKey`], and neither prints its contents.

pub mod blind_index;
pub mod envelope;
pub mod ids;
pub mod policy;
pub mod record;
pub mod schema;
mod secret;
pub mod token;
pub mod validate;

pub use secret::PhiValue;
