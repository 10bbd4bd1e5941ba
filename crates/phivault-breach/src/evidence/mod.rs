//! Sealed evidence bundles: a manifest of every file's size and SHA-256,
//! signed as a C2SP signed note with the audit key, and a hash-chained
//! chain-of-custody log. Verification is pure over the bytes given.
//!
//! A bundle holds the evidence files, [`MANIFEST_FILE`] (canonical JSON),
//! [`SIGNATURE_FILE`] (the signed note) and [`CUSTODY_FILE`] (appended to
//! after sealing, so not in the manifest). The note body binds the manifest
//! by its digest:
//!
//! ```text
//! phivault-evidence/1
//! <incident id>
//! <hex SHA-256 of MANIFEST.json>
//! ```

mod custody;
mod path;
mod seal;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_custody;

use serde::{Deserialize, Serialize};

pub use custody::{
    CustodyBreak, CustodyEntry, CustodyError, CustodyLog, CustodyReport, verify_custody,
};
pub use path::{PathProblem, check_path};
pub use seal::{SealError, SealMeta, SealedManifest, VerifiedBundle, seal, verify};

/// The format line of manifests and notes.
pub const FORMAT: &str = "phivault-evidence/1";
/// The manifest's file name in a bundle.
pub const MANIFEST_FILE: &str = "MANIFEST.json";
/// The signed note's file name in a bundle.
pub const SIGNATURE_FILE: &str = "MANIFEST.json.sig";
/// The custody log's file name in a bundle.
pub const CUSTODY_FILE: &str = "custody.jsonl";

/// Whether a bundle path is one of the three reserved files, ignoring ASCII
/// case (what sealing refuses: a case-insensitive file system would merge
/// them).
pub fn is_reserved(path: &str) -> bool {
    [MANIFEST_FILE, SIGNATURE_FILE, CUSTODY_FILE]
        .iter()
        .any(|r| r.eq_ignore_ascii_case(path))
}

/// Whether a bundle path is exactly a reserved file (what verification
/// skips: `Custody.jsonl` beside `custody.jsonl` is an extra file).
fn is_reserved_exact(path: &str) -> bool {
    [MANIFEST_FILE, SIGNATURE_FILE, CUSTODY_FILE].contains(&path)
}

/// The manifest: canonical JSON is the compact serialization of this struct
/// (fields in this order, files sorted by path) followed by a newline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: String,
    /// The incident the evidence is for.
    pub incident_id: String,
    /// When the bundle was sealed (RFC 3339, UTC, µs).
    pub created_at: String,
    /// The period the evidence covers.
    pub window: Window,
    /// Every evidence file, sorted by path.
    pub files: Vec<FileEntry>,
}

/// A period, as RFC 3339 UTC text with microseconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Window {
    /// Start (inclusive).
    pub since: String,
    /// End (inclusive).
    pub until: String,
}

/// One evidence file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    /// Relative `/`-separated path.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// Lowercase hex SHA-256.
    pub sha256: String,
}

/// Why a bundle does not verify. A path is shown escaped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvidenceError {
    /// The note is not signed by the key, or the signature is wrong.
    #[error("evidence signature does not verify")]
    BadSignature,
    /// The note's body is not an evidence note.
    #[error("evidence signature note is malformed: {0}")]
    MalformedNote(&'static str),
    /// The manifest is not the one the note signs.
    #[error("manifest does not match its signature")]
    ManifestMismatch,
    /// The manifest cannot be parsed or breaks a rule.
    #[error("manifest is malformed: {0}")]
    MalformedManifest(&'static str),
    /// A listed or manifest path is not a valid bundle path.
    #[error("path `{path}` {reason}")]
    InvalidPath {
        /// The path, escaped.
        path: String,
        /// The rule broken.
        reason: &'static str,
    },
    /// The listing holds the same path twice.
    #[error("file `{0}` is listed twice")]
    Duplicate(String),
    /// A file's size or digest differs from the manifest's.
    #[error("file `{0}` was modified")]
    Modified(String),
    /// A manifest file is not in the listing.
    #[error("file `{0}` is missing")]
    Missing(String),
    /// A listed file is not in the manifest.
    #[error("file `{0}` is not in the manifest")]
    Extra(String),
}
