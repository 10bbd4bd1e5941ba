//! The audit trail's algorithms, with no I/O: what an event is and how it is
//! encoded ([`event`]), the RFC 6962 Merkle tree over the encoded events
//! ([`merkle`]), signed checkpoints in the C2SP `tlog-checkpoint` signed-note
//! format ([`checkpoint`]), whole-log verification that names the first bad
//! index ([`verify`]) and the export formats ([`export`]).
//!
//! Storage (segment files, PostgreSQL) and streaming (NATS) live in other
//! crates; they hand this crate bytes and hashes.

pub mod checkpoint;
pub mod event;
pub mod export;
pub mod merkle;
pub mod verify;

pub use checkpoint::{Checkpoint, CheckpointError, Signer, VerifierKey};
pub use event::{Event, EventContext, Outcome};
pub use merkle::{Hash, leaf_hash, node_hash};
