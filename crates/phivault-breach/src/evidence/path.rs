//! Bundle paths: relative, `/`-separated, portable.

/// Longest path, in bytes.
const MAX_PATH: usize = 1024;
/// Longest path component, in bytes.
const MAX_COMPONENT: usize = 255;

/// Why a path is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathProblem {
    /// Empty, or longer than 1024 bytes (or a component than 255).
    Length,
    /// Starts with `/` (or a drive letter with `:`).
    Absolute,
    /// Holds a `\`.
    Backslash,
    /// Holds a `..` component.
    Parent,
    /// An empty or `.` component, or one ending in `.` or a space (Windows
    /// would silently rename it).
    Component,
    /// A control character, or `:` (drive letters, alternate data streams).
    Character,
}

impl PathProblem {
    /// Lowercase text for error messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Length => "must be 1-1024 bytes with components of at most 255",
            Self::Absolute => "must be relative",
            Self::Backslash => "must use `/`, not `\\`",
            Self::Parent => "must not contain `..`",
            Self::Component => "must not have empty, `.` or dot- or space-ended components",
            Self::Character => "must not contain control characters or `:`",
        }
    }
}

/// Checks a bundle path.
pub fn check_path(p: &str) -> Result<(), PathProblem> {
    if p.is_empty() || p.len() > MAX_PATH {
        return Err(PathProblem::Length);
    }
    if p.starts_with('/') {
        return Err(PathProblem::Absolute);
    }
    if p.contains('\\') {
        return Err(PathProblem::Backslash);
    }
    for c in p.split('/') {
        if c == ".." {
            return Err(PathProblem::Parent);
        }
        if c.len() > MAX_COMPONENT {
            return Err(PathProblem::Length);
        }
        if c.is_empty() || c == "." || c.ends_with('.') || c.ends_with(' ') {
            return Err(PathProblem::Component);
        }
    }
    if p.contains(':') || p.chars().any(char::is_control) {
        return Err(PathProblem::Character);
    }
    Ok(())
}

/// A path as it may be shown in a message: non-printable characters
/// escaped, at most 200 characters.
pub(crate) fn shown(p: &str) -> String {
    p.chars().take(200).flat_map(char::escape_debug).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_portable_relative_paths_pass() {
        for ok in ["audit/events.jsonl", "a", "dir/sub/file.v1.csv", "x y/z"] {
            assert_eq!(check_path(ok), Ok(()), "{ok}");
        }
        let cases = [
            ("", PathProblem::Length),
            ("/etc/passwd", PathProblem::Absolute),
            ("a\\b", PathProblem::Backslash),
            ("..", PathProblem::Parent),
            ("a/../b", PathProblem::Parent),
            ("a//b", PathProblem::Component),
            ("./a", PathProblem::Component),
            ("a/", PathProblem::Component),
            ("a./b", PathProblem::Component),
            ("a /b", PathProblem::Component),
            ("C:/x", PathProblem::Character),
            ("a\u{0}b", PathProblem::Character),
            ("a\nb", PathProblem::Character),
        ];
        for (p, want) in cases {
            assert_eq!(check_path(p), Err(want), "{p:?}");
        }
        assert_eq!(check_path(&"a".repeat(256)), Err(PathProblem::Length));
        assert_eq!(shown("a\nb"), "a\\nb");
    }
}
