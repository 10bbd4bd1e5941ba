//! Sealing a bundle and verifying one.

use std::collections::{BTreeMap, HashSet};

use phivault_audit::{Signer, VerifierKey};

use super::path::shown;
use super::{
    EvidenceError, FORMAT, FileEntry, Manifest, Window, check_path, is_reserved, is_reserved_exact,
};
use crate::util::{hex, ident, parse_micros, rfc3339, sha256, unhex};

/// What a manifest says besides its files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealMeta {
    /// The incident (1-64 of `[A-Za-z0-9._:@-]`).
    pub incident_id: String,
    /// When the bundle is sealed, µs.
    pub created_at_micros: i64,
    /// Start of the period covered, µs.
    pub since_micros: i64,
    /// End of the period covered, µs.
    pub until_micros: i64,
}

/// The result of sealing: write `manifest_json` to
/// [`MANIFEST_FILE`](super::MANIFEST_FILE) and `signature_note` to
/// [`SIGNATURE_FILE`](super::SIGNATURE_FILE); `manifest_digest` starts the
/// custody chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedManifest {
    /// Canonical manifest JSON (newline-terminated).
    pub manifest_json: String,
    /// The C2SP signed note over the evidence body.
    pub signature_note: String,
    /// Hex SHA-256 of `manifest_json`.
    pub manifest_digest: String,
}

/// A bundle that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedBundle {
    /// The manifest.
    pub manifest: Manifest,
    /// Hex SHA-256 of the manifest (the custody chain's anchor).
    pub manifest_digest: String,
    /// Total bytes of evidence.
    pub bytes: u64,
}

/// Why a bundle could not be sealed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// A path is not a valid bundle path.
    #[error("path `{path}` {reason}")]
    InvalidPath {
        /// The path, escaped.
        path: String,
        /// The rule broken.
        reason: &'static str,
    },
    /// Two files share a path (compared ignoring ASCII case, since a
    /// case-insensitive file system would merge them).
    #[error("file `{0}` is given twice")]
    Duplicate(String),
    /// A file uses a reserved bundle name.
    #[error("file `{0}` uses a reserved bundle name")]
    Reserved(String),
    /// A metadata field is out of range.
    #[error("seal `{0}` is invalid")]
    Meta(&'static str),
}

/// The note body that binds a manifest.
fn note_body(incident: &str, digest: &str) -> String {
    format!("{FORMAT}\n{incident}\n{digest}\n")
}

/// The canonical encoding of a manifest.
fn canonical(m: &Manifest) -> String {
    // A struct of strings and integers always serializes.
    let mut s = serde_json::to_string(m).unwrap_or_default();
    s.push('\n');
    s
}

/// Seals `files` for `meta`, signing with the audit key.
pub fn seal<P: AsRef<str>, B: AsRef<[u8]>>(
    files: &[(P, B)],
    meta: &SealMeta,
    signer: &Signer,
) -> Result<SealedManifest, SealError> {
    if !ident(&meta.incident_id, 64) {
        return Err(SealError::Meta("incident_id"));
    }
    if meta.since_micros > meta.until_micros {
        return Err(SealError::Meta("since_micros"));
    }
    let created_at = rfc3339(meta.created_at_micros);
    let (since, until) = (rfc3339(meta.since_micros), rfc3339(meta.until_micros));
    if [&created_at, &since, &until]
        .iter()
        .any(|t| parse_micros(t).is_none())
    {
        return Err(SealError::Meta("created_at_micros"));
    }
    let mut entries = BTreeMap::new();
    let mut folded = HashSet::new();
    for (p, bytes) in files {
        let (p, bytes) = (p.as_ref(), bytes.as_ref());
        check_path(p).map_err(|e| SealError::InvalidPath {
            path: shown(p),
            reason: e.as_str(),
        })?;
        if is_reserved(p) {
            return Err(SealError::Reserved(shown(p)));
        }
        if !folded.insert(p.to_ascii_lowercase()) {
            return Err(SealError::Duplicate(shown(p)));
        }
        let size = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
        entries.insert(p.to_owned(), (size, hex(&sha256(bytes))));
    }
    let manifest = Manifest {
        format: FORMAT.to_owned(),
        incident_id: meta.incident_id.clone(),
        created_at,
        window: Window { since, until },
        files: entries
            .into_iter()
            .map(|(path, (size, sha256))| FileEntry { path, size, sha256 })
            .collect(),
    };
    let manifest_json = canonical(&manifest);
    let manifest_digest = hex(&sha256(manifest_json.as_bytes()));
    let signature_note = signer.sign_note(&note_body(&manifest.incident_id, &manifest_digest));
    Ok(SealedManifest {
        manifest_json,
        signature_note,
        manifest_digest,
    })
}

fn malformed(reason: &'static str) -> EvidenceError {
    EvidenceError::MalformedManifest(reason)
}

/// Parses and checks a manifest's own rules.
fn parse_manifest(json: &str) -> Result<Manifest, EvidenceError> {
    let m: Manifest =
        serde_json::from_str(json).map_err(|_| malformed("not a manifest document"))?;
    if m.format != FORMAT {
        return Err(malformed("unknown format"));
    }
    if canonical(&m) != json {
        return Err(malformed("not in canonical form"));
    }
    let since = parse_micros(&m.window.since);
    let until = parse_micros(&m.window.until);
    if parse_micros(&m.created_at).is_none() || since.is_none() || until.is_none() || since > until
    {
        return Err(malformed(
            "times must be RFC 3339 with since not after until",
        ));
    }
    let mut folded = HashSet::new();
    let mut prev: Option<&str> = None;
    for f in &m.files {
        check_path(&f.path).map_err(|e| EvidenceError::InvalidPath {
            path: shown(&f.path),
            reason: e.as_str(),
        })?;
        if prev.is_some_and(|p| p >= f.path.as_str()) {
            return Err(malformed("files must be sorted by path without repeats"));
        }
        if is_reserved(&f.path) || !folded.insert(f.path.to_ascii_lowercase()) {
            return Err(malformed(
                "files must not repeat a path or use a reserved name",
            ));
        }
        if f.sha256.len() != 64 || unhex(&f.sha256).is_none() {
            return Err(malformed("digests must be 64 lowercase hex digits"));
        }
        prev = Some(&f.path);
    }
    Ok(m)
}

/// Verifies a bundle: the note's signature by `verifier`, the manifest it
/// binds, then every file. `listing` is every file of the bundle; the three
/// reserved files in it are skipped. The error names the first bad file in
/// manifest order (modified or missing), then the first extra file.
pub fn verify<P: AsRef<str>, B: AsRef<[u8]>>(
    listing: &[(P, B)],
    manifest_json: &str,
    note: &str,
    verifier: &VerifierKey,
) -> Result<VerifiedBundle, EvidenceError> {
    let body = verifier.open_note(note).map_err(|e| match e {
        phivault_audit::CheckpointError::Malformed(m) => EvidenceError::MalformedNote(m),
        _ => EvidenceError::BadSignature,
    })?;
    let mut lines = body.split_terminator('\n');
    let (Some(FORMAT), Some(incident), Some(digest), None) =
        (lines.next(), lines.next(), lines.next(), lines.next())
    else {
        return Err(EvidenceError::MalformedNote(
            "body must be format, incident and digest",
        ));
    };
    let manifest_digest = hex(&sha256(manifest_json.as_bytes()));
    if digest != manifest_digest {
        return Err(EvidenceError::ManifestMismatch);
    }
    let manifest = parse_manifest(manifest_json)?;
    if manifest.incident_id != incident {
        return Err(EvidenceError::ManifestMismatch);
    }
    let mut given: BTreeMap<&str, &[u8]> = BTreeMap::new();
    for (p, bytes) in listing {
        let p = p.as_ref();
        check_path(p).map_err(|e| EvidenceError::InvalidPath {
            path: shown(p),
            reason: e.as_str(),
        })?;
        if is_reserved_exact(p) {
            continue;
        }
        if given.insert(p, bytes.as_ref()).is_some() {
            return Err(EvidenceError::Duplicate(shown(p)));
        }
    }
    let mut bytes = 0u64;
    for f in &manifest.files {
        let Some(data) = given.remove(f.path.as_str()) else {
            return Err(EvidenceError::Missing(shown(&f.path)));
        };
        let size = u64::try_from(data.len()).unwrap_or(u64::MAX);
        if size != f.size || hex(&sha256(data)) != f.sha256 {
            return Err(EvidenceError::Modified(shown(&f.path)));
        }
        bytes = bytes.saturating_add(size);
    }
    if let Some((p, _)) = given.first_key_value() {
        return Err(EvidenceError::Extra(shown(p)));
    }
    Ok(VerifiedBundle {
        manifest,
        manifest_digest,
        bytes,
    })
}
