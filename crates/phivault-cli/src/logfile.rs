//! The server's operational log, kept beside stderr in
//! `<data-dir>/logs/phivault.log` (scrubbed like every line, capped at
//! [`CAP`] bytes with one rotated predecessor): what `incident evidence`
//! collects as the recent operational logs.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Largest size of the current file before it is rotated to `.1`.
pub const CAP: u64 = 8 * 1024 * 1024;

/// The log file's path in a data directory.
pub fn path_in(data_dir: &Path) -> PathBuf {
    data_dir.join("logs").join("phivault.log")
}

/// An append-only, size-capped log file shared by every writer.
#[derive(Debug)]
pub struct LogFile {
    path: PathBuf,
    state: Mutex<Option<(File, u64)>>,
}

impl LogFile {
    /// Opens (creating `logs/`, mode 0700) the data directory's log file.
    pub fn open(data_dir: &Path) -> std::io::Result<Arc<Self>> {
        let path = path_in(data_dir);
        if let Some(dir) = path.parent() {
            use std::os::unix::fs::DirBuilderExt;
            // The data directory itself, when this is its first run, too.
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)?;
            set_mode(dir, 0o700)?;
        }
        let file = open_append(&path)?;
        let len = file.metadata()?.len();
        Ok(Arc::new(Self {
            path,
            state: Mutex::new(Some((file, len))),
        }))
    }

    fn write_line(&self, buf: &[u8]) {
        let Ok(mut st) = self.state.lock() else {
            return;
        };
        if st.as_ref().is_some_and(|(_, len)| *len >= CAP) {
            *st = None;
            let _ = std::fs::rename(&self.path, self.path.with_extension("log.1"));
            *st = open_append(&self.path).ok().map(|f| (f, 0));
        }
        if let Some((f, len)) = st.as_mut()
            && f.write_all(buf).is_ok()
        {
            *len += buf.len() as u64;
        }
    }
}

fn open_append(path: &Path) -> std::io::Result<File> {
    let f = OpenOptions::new().create(true).append(true).open(path)?;
    set_mode(path, 0o600)?;
    Ok(f)
}

fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

/// Writes each (already scrubbed) line to an inner writer and the file.
#[derive(Debug)]
pub struct Tee<W> {
    inner: W,
    file: Option<Arc<LogFile>>,
}

impl<W> Tee<W> {
    /// A writer to `inner` and, when given, to `file`.
    pub fn new(inner: W, file: Option<Arc<LogFile>>) -> Self {
        Self { inner, file }
    }
}

impl<W: Write> Write for Tee<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Some(f) = &self.file {
            f.write_line(buf);
        }
        self.inner.write_all(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn lines_reach_the_file_and_it_rotates_at_the_cap() {
        let dir = tempfile::tempdir().unwrap();
        let f = LogFile::open(dir.path()).unwrap();
        let mut tee = Tee::new(Vec::new(), Some(Arc::clone(&f)));
        tee.write_all(b"first line\n").unwrap();
        assert_eq!(tee.inner, b"first line\n");
        let text = std::fs::read_to_string(path_in(dir.path())).unwrap();
        assert_eq!(text, "first line\n");
        let big = vec![b'x'; usize::try_from(CAP).unwrap()];
        tee.write_all(&big).unwrap();
        tee.write_all(b"after\n").unwrap();
        let rotated = path_in(dir.path()).with_extension("log.1");
        assert!(std::fs::metadata(&rotated).unwrap().len() > CAP);
        assert_eq!(
            std::fs::read_to_string(path_in(dir.path())).unwrap(),
            "after\n"
        );
    }
}
