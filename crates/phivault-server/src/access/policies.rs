//! Roles from a directory of JSON files (`policies/` in the data directory,
//! or any directory given to `phivault policy validate`). A file holds one
//! role object or an array of them.

use std::path::{Path, PathBuf};

use phivault_core::policy::{Role, RoleError};

/// Why a policy directory was rejected.
#[derive(Debug, thiserror::Error)]
pub enum PolicyDirError {
    /// The directory or a file could not be read.
    #[error("cannot read `{0}`: {1}")]
    Read(PathBuf, std::io::Error),
    /// A file is not valid JSON of the right shape.
    #[error("`{0}`: {1}")]
    Json(PathBuf, String),
    /// A role is invalid.
    #[error("`{0}`: {1}")]
    Role(PathBuf, RoleError),
    /// Two roles share a name.
    #[error("`{0}`: role `{1}` is defined twice")]
    Duplicate(PathBuf, String),
}

/// Loads and validates every `*.json` file of `dir`, in name order. A
/// missing directory holds no roles.
pub fn load_dir(dir: &Path) -> Result<Vec<(Role, String)>, PolicyDirError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(PolicyDirError::Read(dir.to_owned(), e)),
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let mut out: Vec<(Role, String)> = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).map_err(|e| PolicyDirError::Read(f.clone(), e))?;
        let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
            PolicyDirError::Json(
                f.clone(),
                format!("line {} column {}", e.line(), e.column()),
            )
        })?;
        let items = match value {
            serde_json::Value::Array(a) => a,
            v => vec![v],
        };
        for item in items {
            let json = item.to_string();
            let role = Role::from_json(&json).map_err(|e| PolicyDirError::Role(f.clone(), e))?;
            if out.iter().any(|(r, _)| r.name() == role.name()) {
                return Err(PolicyDirError::Duplicate(f.clone(), role.name().to_owned()));
            }
            out.push((role, json));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_objects_and_arrays_and_names_bad_files() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("a.json"),
            r#"{"role": "nurse", "permissions": ["view:patients"]}"#,
        )
        .unwrap();
        std::fs::write(
            d.path().join("b.json"),
            r#"[{"role": "clerk"}, {"role": "billing", "permissions": ["view:patients"]}]"#,
        )
        .unwrap();
        std::fs::write(d.path().join("notes.txt"), "ignored").unwrap();
        assert_eq!(load_dir(d.path()).unwrap().len(), 3);
        std::fs::write(
            d.path().join("c.json"),
            r#"{"role": "bad", "permissions": ["*:patients"]}"#,
        )
        .unwrap();
        let e = load_dir(d.path()).unwrap_err().to_string();
        assert!(e.contains("c.json") && e.contains("role `bad`"), "{e}");
        assert!(load_dir(&d.path().join("missing")).unwrap().is_empty());
    }
}
