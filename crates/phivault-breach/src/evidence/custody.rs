//! The chain-of-custody log, `custody.jsonl`: one canonical JSON entry a
//! line, `{"seq","at","actor","action","prev","hash"}`, where
//! `hash = SHA-256(prev ‖ canonical entry without hash)` (prev as its 32
//! bytes) and the first entry's `prev` is the manifest's digest.
//!
//! The chain shows that no entry was changed, removed or inserted; it
//! cannot show that entries were cut off the end. The server therefore also
//! records [`CustodyReport::last_hash`] in the audit trail after each
//! append, and a verifier compares it.

use serde::{Deserialize, Serialize};

use crate::lockdown::valid_user_id;
use crate::util::{hex, parse_micros, printable_line, rfc3339, sha256, unhex};

/// Longest action text, in characters.
const MAX_ACTION: usize = 200;

/// One custody entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustodyEntry {
    /// 1, 2, 3, … without gaps.
    pub seq: u64,
    /// RFC 3339, UTC, µs; never before the previous entry.
    pub at: String,
    /// Who handled the bundle (a user id).
    pub actor: String,
    /// What was done (`sealed`, `copied to case share`, `handed to counsel`).
    pub action: String,
    /// The previous entry's hash (the manifest digest for the first).
    pub prev: String,
    /// This entry's hash.
    pub hash: String,
}

/// The part of an entry that is hashed.
#[derive(Serialize)]
struct Hashed<'a> {
    seq: u64,
    at: &'a str,
    actor: &'a str,
    action: &'a str,
    prev: &'a str,
}

fn entry_hash(
    prev: &[u8; 32],
    seq: u64,
    at: &str,
    actor: &str,
    action: &str,
    prev_hex: &str,
) -> String {
    let body = Hashed {
        seq,
        at,
        actor,
        action,
        prev: prev_hex,
    };
    let mut data = prev.to_vec();
    // A struct of strings and integers always serializes.
    data.extend(serde_json::to_vec(&body).unwrap_or_default());
    hex(&sha256(&data))
}

fn digest_bytes(hex_digest: &str) -> Option<[u8; 32]> {
    unhex(hex_digest).and_then(|v| <[u8; 32]>::try_from(v).ok())
}

/// Why an entry breaks the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CustodyBreak {
    /// Not a custody entry, or not newline-terminated.
    Malformed,
    /// Not in canonical form.
    NotCanonical,
    /// `seq` is not the next number.
    Sequence,
    /// `prev` is not the previous hash.
    Prev,
    /// `hash` is not the entry's hash.
    Hash,
    /// `at` is not RFC 3339 or goes back in time.
    Time,
    /// `actor` or `action` breaks the text rules.
    Text,
}

impl CustodyBreak {
    fn as_str(self) -> &'static str {
        match self {
            Self::Malformed => "is malformed",
            Self::NotCanonical => "is not in canonical form",
            Self::Sequence => "is out of sequence",
            Self::Prev => "does not link to the previous entry",
            Self::Hash => "has a wrong hash",
            Self::Time => "has a bad or earlier time",
            Self::Text => "has an invalid actor or action",
        }
    }
}

/// The custody log does not verify, or an entry cannot be appended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CustodyError {
    /// The manifest digest given is not 64 lowercase hex digits.
    #[error("manifest digest must be 64 lowercase hex digits")]
    Digest,
    /// The first broken entry, by the sequence number it should have.
    #[error("custody entry {seq} {}", reason.as_str())]
    Broken {
        /// The expected sequence number (1-based position).
        seq: u64,
        /// What is wrong.
        reason: CustodyBreak,
    },
    /// An entry to append is invalid.
    #[error("custody entry `{0}` is invalid")]
    Invalid(&'static str),
}

/// A verified log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustodyReport {
    /// Number of entries.
    pub entries: u64,
    /// The last entry's hash (the manifest digest when empty).
    pub last_hash: String,
}

/// An open custody log, ready to append to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustodyLog {
    next: u64,
    last: [u8; 32],
    last_at: i64,
}

impl CustodyLog {
    /// An empty log for a bundle with this manifest digest.
    pub fn new(manifest_digest: &str) -> Result<Self, CustodyError> {
        Ok(Self {
            next: 1,
            last: digest_bytes(manifest_digest).ok_or(CustodyError::Digest)?,
            last_at: i64::MIN,
        })
    }

    /// Verifies an existing log and opens it for appending.
    pub fn resume(text: &str, manifest_digest: &str) -> Result<Self, CustodyError> {
        let mut log = Self::new(manifest_digest)?;
        // Each line keeps its newline: a last line without one is refused.
        for line in text.split_inclusive('\n') {
            log.accept(line)?;
        }
        Ok(log)
    }

    /// Appends an entry; returns its line (newline-terminated) to write.
    pub fn append(
        &mut self,
        at_micros: i64,
        actor: &str,
        action: &str,
    ) -> Result<String, CustodyError> {
        if !valid_user_id(actor) {
            return Err(CustodyError::Invalid("actor"));
        }
        if !valid_action(action) {
            return Err(CustodyError::Invalid("action"));
        }
        if at_micros < self.last_at || jiff::Timestamp::from_microsecond(at_micros).is_err() {
            return Err(CustodyError::Invalid("at"));
        }
        let prev = hex(&self.last);
        let at = rfc3339(at_micros);
        let hash = entry_hash(&self.last, self.next, &at, actor, action, &prev);
        let entry = CustodyEntry {
            seq: self.next,
            at,
            actor: actor.to_owned(),
            action: action.to_owned(),
            prev,
            hash,
        };
        let line = canonical(&entry);
        self.accept(&line)?;
        Ok(line)
    }

    /// The report for the entries so far.
    pub fn report(&self) -> CustodyReport {
        CustodyReport {
            entries: self.next.saturating_sub(1),
            last_hash: hex(&self.last),
        }
    }

    /// Checks one line (with its newline) as the next entry.
    fn accept(&mut self, line: &str) -> Result<(), CustodyError> {
        let broken = |reason| CustodyError::Broken {
            seq: self.next,
            reason,
        };
        let body = line
            .strip_suffix('\n')
            .ok_or(broken(CustodyBreak::Malformed))?;
        let e: CustodyEntry =
            serde_json::from_str(body).map_err(|_| broken(CustodyBreak::Malformed))?;
        if canonical(&e) != line {
            return Err(broken(CustodyBreak::NotCanonical));
        }
        if e.seq != self.next {
            return Err(broken(CustodyBreak::Sequence));
        }
        if e.prev != hex(&self.last) {
            return Err(broken(CustodyBreak::Prev));
        }
        let at = parse_micros(&e.at).filter(|&t| t >= self.last_at && rfc3339(t) == e.at);
        let Some(at) = at else {
            return Err(broken(CustodyBreak::Time));
        };
        if !valid_user_id(&e.actor) || !valid_action(&e.action) {
            return Err(broken(CustodyBreak::Text));
        }
        let want = entry_hash(&self.last, e.seq, &e.at, &e.actor, &e.action, &e.prev);
        if e.hash != want {
            return Err(broken(CustodyBreak::Hash));
        }
        self.last = digest_bytes(&e.hash).ok_or(broken(CustodyBreak::Hash))?;
        self.next = self.next.saturating_add(1);
        self.last_at = at;
        Ok(())
    }
}

fn valid_action(a: &str) -> bool {
    !a.trim().is_empty() && a.chars().count() <= MAX_ACTION && printable_line(a)
}

fn canonical(e: &CustodyEntry) -> String {
    let mut s = serde_json::to_string(e).unwrap_or_default();
    s.push('\n');
    s
}

/// Verifies a whole custody log against the manifest digest; the error
/// names the first broken entry.
pub fn verify_custody(text: &str, manifest_digest: &str) -> Result<CustodyReport, CustodyError> {
    CustodyLog::resume(text, manifest_digest).map(|log| log.report())
}
