//! The CLI's output: the one place that writes to stdout and stderr.

use std::fmt::Display;
use std::io::Write;

/// A line on stdout.
pub fn line(s: impl Display) {
    let _ = writeln!(std::io::stdout(), "{s}");
}

/// A line on stderr.
pub fn err(s: impl Display) {
    let _ = writeln!(std::io::stderr(), "{s}");
}

/// A boxed error with a message for the operator.
pub type CliResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;
