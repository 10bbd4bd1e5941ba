//! Baselines: accepted findings (known false positives) that later scans
//! suppress.
//!
//! # Fingerprint
//!
//! An entry must let a later scan recognize the same finding without the
//! baseline file ever holding a PHI value or anything a value can be
//! recovered from. A plain SHA-256 of an SSN is not enough: there are only
//! ~10^9 SSNs, so it is brute-forced in seconds. The fingerprint is
//!
//! ```text
//! HMAC-SHA256(baseline_key, "phivault-scan-baseline-v1" 0 kind 0 path 0 redacted_line 0 ordinal)
//! ```
//!
//! truncated to 128 bits, where `redacted_line` is the line with *every*
//! detection replaced by `[REDACTED:<kind>]` and `ordinal` is the finding's
//! index among findings of its kind on that line. So:
//! - the hashed input contains no detected value at all, only the line's
//!   surrounding text, and it is keyed as well, in case that text holds a
//!   value the detectors missed;
//! - the line number is not part of it, so inserting lines above does not
//!   invalidate the baseline (the number is stored beside it for humans);
//! - a changed value in the same line template stays accepted: the baseline
//!   accepts a *place*, not a value. That is the price of never storing a
//!   value hash.
//!
//! The 32-byte key lives in a file beside the baseline (`<baseline>.key`,
//! hex, created mode 0600). Commit the baseline; keep the key with the CI
//! secrets. Without the key the baseline is useless, not dangerous.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use aws_lc_rs::hmac;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::kind::Kind;

/// Loading or writing a baseline failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BaselineError {
    /// A file could not be read or written.
    #[error("baseline file `{path}` could not be accessed")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The baseline is not in the expected format.
    #[error("baseline file `{path}` is malformed")]
    Malformed {
        /// The file.
        path: PathBuf,
    },
    /// The key file is not 64 hex digits.
    #[error("baseline key file `{path}` is malformed")]
    BadKey {
        /// The key file.
        path: PathBuf,
    },
    /// The key file beside the baseline holds another key than the one the
    /// fingerprints were computed with.
    #[error("baseline key file `{path}` holds a different key")]
    KeyMismatch {
        /// The key file.
        path: PathBuf,
    },
    /// The random key could not be generated.
    #[error("random key generation failed")]
    Random,
}

/// One accepted finding. Holds no PHI: a keyed fingerprint, a kind, a path
/// and a line number.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaselineEntry {
    /// Hex HMAC fingerprint, see the module documentation.
    pub fingerprint: String,
    /// The finding's kind.
    pub kind: String,
    /// The path as given to the scanner.
    pub path: String,
    /// Line number when the entry was recorded (informational).
    pub line: u64,
}

#[derive(Serialize, Deserialize)]
struct File {
    version: u32,
    fingerprint: String,
    entries: Vec<BaselineEntry>,
}

const SCHEME: &str = "hmac-sha256-128(key, kind|path|redacted line|ordinal)";

/// A baseline key and the set of accepted fingerprints.
pub struct Baseline {
    raw: Zeroizing<[u8; 32]>,
    key: hmac::Key,
    accepted: HashSet<String>,
}

impl std::fmt::Debug for Baseline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Baseline")
            .field("entries", &self.accepted.len())
            .finish_non_exhaustive()
    }
}

fn key_path(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".key");
    PathBuf::from(p)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &[u8]) -> Option<Zeroizing<[u8; 32]>> {
    let s = s.trim_ascii();
    if s.len() != 64 {
        return None;
    }
    let mut out = Zeroizing::new([0u8; 32]);
    for (o, pair) in out.iter_mut().zip(s.chunks_exact(2)) {
        let txt = std::str::from_utf8(pair).ok()?;
        *o = u8::from_str_radix(txt, 16).ok()?;
    }
    Some(out)
}

impl Baseline {
    /// A new, empty baseline under a fresh random key.
    pub fn generate() -> Result<Self, BaselineError> {
        let mut raw = Zeroizing::new([0u8; 32]);
        aws_lc_rs::rand::fill(&mut *raw).map_err(|_| BaselineError::Random)?;
        Ok(Self::with_key(raw))
    }

    fn with_key(raw: Zeroizing<[u8; 32]>) -> Self {
        let key = hmac::Key::new(hmac::HMAC_SHA256, &*raw);
        Baseline {
            raw,
            key,
            accepted: HashSet::new(),
        }
    }

    /// Loads `path` and its key file `<path>.key`.
    pub fn load(path: &Path) -> Result<Self, BaselineError> {
        let kp = key_path(path);
        let key = Zeroizing::new(std::fs::read(&kp).map_err(|source| BaselineError::Io {
            path: kp.clone(),
            source,
        })?);
        let raw = unhex(&key).ok_or(BaselineError::BadKey { path: kp })?;
        let json = std::fs::read(path).map_err(|source| BaselineError::Io {
            path: path.to_owned(),
            source,
        })?;
        let file: File = serde_json::from_slice(&json).map_err(|_| BaselineError::Malformed {
            path: path.to_owned(),
        })?;
        if file.version != 1 {
            return Err(BaselineError::Malformed {
                path: path.to_owned(),
            });
        }
        let mut b = Self::with_key(raw);
        b.accepted = file.entries.into_iter().map(|e| e.fingerprint).collect();
        Ok(b)
    }

    /// For `--write-baseline`: the existing key (and entries) when
    /// `<path>.key` exists, else a fresh key.
    pub fn load_or_generate(path: &Path) -> Result<Self, BaselineError> {
        if !key_path(path).exists() {
            return Self::generate();
        }
        if path.exists() {
            return Self::load(path);
        }
        let kp = key_path(path);
        let key = Zeroizing::new(std::fs::read(&kp).map_err(|source| BaselineError::Io {
            path: kp.clone(),
            source,
        })?);
        let raw = unhex(&key).ok_or(BaselineError::BadKey { path: kp })?;
        Ok(Self::with_key(raw))
    }

    /// Writes `entries` to `path` and, when it does not exist yet, the key to
    /// `<path>.key` (mode 0600 on Unix). Refuses to write when an existing
    /// key file holds another key (the fingerprints would never match).
    pub fn write(&self, path: &Path, entries: Vec<BaselineEntry>) -> Result<(), BaselineError> {
        let kp = key_path(path);
        if kp.exists() {
            let existing =
                Zeroizing::new(std::fs::read(&kp).map_err(|source| BaselineError::Io {
                    path: kp.clone(),
                    source,
                })?);
            let same = unhex(&existing).is_some_and(|k| *k == *self.raw);
            if !same {
                return Err(BaselineError::KeyMismatch { path: kp });
            }
        } else {
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
            let mut f = opts.open(&kp).map_err(|source| BaselineError::Io {
                path: kp.clone(),
                source,
            })?;
            let h = Zeroizing::new(hex(&*self.raw));
            std::io::Write::write_all(&mut f, h.as_bytes()).map_err(|source| {
                BaselineError::Io {
                    path: kp.clone(),
                    source,
                }
            })?;
        }
        let file = File {
            version: 1,
            fingerprint: SCHEME.to_owned(),
            entries,
        };
        let json = serde_json::to_vec_pretty(&file).map_err(|_| BaselineError::Malformed {
            path: path.to_owned(),
        })?;
        std::fs::write(path, json).map_err(|source| BaselineError::Io {
            path: path.to_owned(),
            source,
        })
    }

    /// The fingerprint of one finding (see the module documentation).
    pub fn fingerprint(
        &self,
        kind: Kind,
        path: &str,
        redacted_line: &str,
        ordinal: usize,
    ) -> String {
        let mut ctx = hmac::Context::with_key(&self.key);
        for part in [
            b"phivault-scan-baseline-v1".as_slice(),
            kind.as_str().as_bytes(),
            path.as_bytes(),
            redacted_line.as_bytes(),
        ] {
            ctx.update(part);
            ctx.update(&[0]);
        }
        ctx.update(&(ordinal as u64).to_be_bytes());
        let tag = ctx.sign();
        hex(tag.as_ref().get(..16).unwrap_or_default())
    }

    /// True when the fingerprint is accepted.
    pub fn contains(&self, fingerprint: &str) -> bool {
        self.accepted.contains(fingerprint)
    }

    /// Number of accepted fingerprints.
    pub fn len(&self) -> usize {
        self.accepted.len()
    }

    /// True when nothing is accepted.
    pub fn is_empty(&self) -> bool {
        self.accepted.is_empty()
    }
}
