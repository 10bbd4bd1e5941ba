//! PHI detection for phivault: a log scanner (`phivault scan-logs`), a log
//! scrubber for the server's tracing output, and Safe Harbor
//! de-identification (45 CFR 164.514(b)(2)) for exports.
//!
//! Detection is pattern, checksum and word-list based: SSNs (never-issued
//! numbers excluded, rules from `phivault-core`), phone/fax numbers, emails,
//! URLs, IPv4/IPv6, dates (log event timestamps excluded, see
//! [`detect`]'s date notes), ZIP codes in context, payment cards (Luhn),
//! VINs (check digit), person names (census lists), caller-configured MRN /
//! account / licence / device patterns, and exact known values compared by
//! keyed hash ([`KnownValues`]).
//!
//! The only I/O lives in [`input`] (files, directories, stdin, gzip) and
//! [`Baseline::load`]/[`Baseline::write`].

pub mod baseline;
pub mod corpus;
pub mod deid;
pub mod detect;
pub mod input;
pub mod kind;
pub mod known;
pub mod mask;
pub mod report;
pub mod scanner;
pub mod scrub;

pub use baseline::{Baseline, BaselineEntry, BaselineError};
pub use detect::{Detectors, Finding, PatternError};
pub use input::{ScanError, scan_paths, scan_reader, scan_stdin};
pub use kind::{Kind, KindSet};
pub use known::{KnownValues, KnownValuesError};
pub use report::{Format, InputError, ReportedFinding, ScanSummary};
pub use scanner::ScanOptions;
pub use scrub::{Scrubber, ScrubbingWriter};
