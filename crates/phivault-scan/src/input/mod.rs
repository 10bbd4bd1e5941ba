//! The only I/O of the scanner: files, directories (recursive), stdin and
//! gzip streams, read in chunks of whole lines.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

mod inflate;

use crate::report::{InputError, ScanSummary};
use crate::scanner::{Engine, ScanOptions};

/// A scan failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScanError {
    /// An input could not be opened or read (or a gzip stream is corrupt).
    #[error("input `{path}` could not be read")]
    Read {
        /// The input (`-` for stdin).
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The report could not be written.
    #[error("report could not be written")]
    Output(#[source] std::io::Error),
}

impl ScanError {
    /// The exit code the CLI should use for a failed scan.
    pub const EXIT_CODE: i32 = 2;
}

/// The read buffer's size: input is scanned a block of whole lines at a
/// time, at most this long unless a line is longer. One buffer serves every
/// input of a scan.
const CHUNK: usize = 64 << 10;
/// A line longer than this is scanned in pieces.
const MAX_LINE: usize = 16 << 20;
/// An input with a NUL byte in its first `SNIFF` bytes (after gzip
/// decompression) is binary and skipped.
const SNIFF: usize = 8 << 10;

/// Scans every path (`-` is stdin; directories are walked recursively in
/// name order, symbolic links are not followed; gzip files are recognized
/// by their magic bytes) and writes the report to `out`.
///
/// An input that cannot be opened or read (or a corrupt gzip stream) does
/// not stop the scan: it is reported by path (text: `path: unreadable
/// (kind)`; JSON: `summary.errors`), findings made before the error are
/// kept, and the scan goes on with the next input; see
/// [`ScanSummary::exit_code`] for the resulting exit code. Binary inputs (a
/// NUL byte in the first 8 KiB) are skipped and counted in
/// `summary.skipped`. Only a failure to write the report is an `Err`.
pub fn scan_paths(
    paths: &[PathBuf],
    opts: &ScanOptions,
    out: &mut dyn Write,
) -> Result<ScanSummary, ScanError> {
    let mut engine = Engine::new(opts, out);
    for p in paths {
        let res = if p.as_os_str() == "-" {
            let stdin = std::io::stdin();
            scan_one(&mut engine, p, stdin.lock())
        } else {
            walk(&mut engine, p)
        };
        record(&mut engine, res)?;
    }
    finish(engine)
}

/// Scans one reader (stdin, a socket, a test buffer) reported as `name`.
/// Unlike [`scan_paths`], a read error here is returned as
/// [`ScanError::Read`] (there is no other input to go on with).
pub fn scan_reader(
    name: &str,
    reader: impl Read,
    opts: &ScanOptions,
    out: &mut dyn Write,
) -> Result<ScanSummary, ScanError> {
    let mut engine = Engine::new(opts, out);
    scan_one(&mut engine, Path::new(name), BufReader::new(reader))?;
    finish(engine)
}

/// Scans standard input, reported as `-`.
pub fn scan_stdin(opts: &ScanOptions, out: &mut dyn Write) -> Result<ScanSummary, ScanError> {
    scan_paths(&[PathBuf::from("-")], opts, out)
}

fn finish(engine: Engine<'_>) -> Result<ScanSummary, ScanError> {
    let summary = engine.summary;
    engine
        .reporter
        .finish(&summary)
        .map_err(ScanError::Output)?;
    Ok(summary)
}

/// Turns a read error into an entry of the summary (and a report line);
/// output errors still abort.
fn record(engine: &mut Engine<'_>, res: Result<(), ScanError>) -> Result<(), ScanError> {
    match res {
        Err(ScanError::Read { path, source }) => {
            let path = path.to_string_lossy().into_owned();
            let error = source.kind().to_string();
            engine
                .reporter
                .note(&path, &format!("unreadable ({error})"))
                .map_err(ScanError::Output)?;
            engine.summary.errors.push(InputError { path, error });
            Ok(())
        }
        other => other,
    }
}

fn read_err(path: &Path) -> impl FnOnce(std::io::Error) -> ScanError + '_ {
    move |source| ScanError::Read {
        path: path.to_owned(),
        source,
    }
}

fn walk(engine: &mut Engine<'_>, path: &Path) -> Result<(), ScanError> {
    let meta = std::fs::symlink_metadata(path).map_err(read_err(path))?;
    if meta.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(read_err(path))?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()
            .map_err(read_err(path))?;
        entries.sort();
        for e in entries {
            let res = std::fs::symlink_metadata(&e)
                .map_err(read_err(&e))
                .and_then(|m| {
                    if m.is_dir() || m.is_file() {
                        walk(engine, &e)
                    } else {
                        Ok(())
                    }
                });
            record(engine, res)?;
        }
        Ok(())
    } else {
        let f = File::open(path).map_err(read_err(path))?;
        // The default capacity: reads of a block bypass its buffer, which
        // only holds what the gzip test looked at (and the decoder's input).
        let mut r = BufReader::new(f);
        let name = path.to_string_lossy();
        if is_gzip(&mut r, path)? {
            scan_stream(engine, path, &name, inflate::Gunzip::new(r))
        } else {
            scan_stream(engine, path, &name, r)
        }
    }
}

fn is_gzip(r: &mut impl BufRead, path: &Path) -> Result<bool, ScanError> {
    Ok(r.fill_buf()
        .map_err(read_err(path))?
        .starts_with(&[0x1f, 0x8b]))
}

/// Stdin and callers' readers: decompressed on the scanning thread.
fn scan_one(engine: &mut Engine<'_>, path: &Path, mut r: impl BufRead) -> Result<(), ScanError> {
    let name = path.to_string_lossy();
    if is_gzip(&mut r, path)? {
        scan_stream(engine, path, &name, flate2::bufread::MultiGzDecoder::new(r))
    } else {
        scan_stream(engine, path, &name, r)
    }
}

/// Reads until `buf[..len]` holds at least `want` bytes or the input ends.
fn fill(r: &mut impl Read, buf: &mut [u8], mut len: usize, want: usize) -> std::io::Result<usize> {
    while len < want {
        match r.read(buf.get_mut(len..).unwrap_or_default()) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(len)
}

fn scan_stream(
    engine: &mut Engine<'_>,
    path: &Path,
    name: &str,
    r: impl Read,
) -> Result<(), ScanError> {
    let mut buf = std::mem::take(&mut engine.buf);
    if buf.len() != CHUNK {
        // New, or grown for a long line: back to the usual size.
        buf = vec![0u8; CHUNK];
    }
    let res = scan_stream_with(engine, path, name, r, &mut buf);
    engine.buf = buf;
    res
}

fn scan_stream_with(
    engine: &mut Engine<'_>,
    path: &Path,
    name: &str,
    mut r: impl Read,
    buf: &mut Vec<u8>,
) -> Result<(), ScanError> {
    let mut len = fill(&mut r, buf, 0, SNIFF).map_err(read_err(path))?;
    let head = buf.get(..len.min(SNIFF)).unwrap_or_default();
    if memchr::memchr(0, head).is_some() {
        engine.summary.skipped += 1;
        return engine
            .reporter
            .note(name, "skipped (binary)")
            .map_err(ScanError::Output);
    }
    engine.summary.files += 1;
    let mut lineno = 1u64;
    // `len` bytes are buffered and not yet scanned; `old` of them were
    // already searched for a newline.
    let mut old = 0usize;
    loop {
        let filled = buf.get(..len).unwrap_or_default();
        // Only the new bytes can hold the last newline.
        let cut = match memchr::memrchr(b'\n', filled.get(old..).unwrap_or_default()) {
            Some(p) => Some(old + p + 1),
            None if len >= MAX_LINE => Some(len),
            None => None,
        };
        if let Some(cut) = cut {
            lineno += engine
                .scan_lines(name, filled.get(..cut).unwrap_or_default(), lineno)
                .map_err(ScanError::Output)?;
            buf.copy_within(cut..len, 0);
            len -= cut;
        }
        old = len;
        if len == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        let n = loop {
            match r.read(buf.get_mut(len..).unwrap_or_default()) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                other => break other,
            }
        };
        let n = match n {
            Ok(n) => n,
            Err(e) => {
                // Scan what was read, then report the error.
                if len > 0 {
                    engine
                        .scan_lines(name, buf.get(..len).unwrap_or_default(), lineno)
                        .map_err(ScanError::Output)?;
                }
                return Err(read_err(path)(e));
            }
        };
        if n == 0 {
            break;
        }
        len += n;
    }
    if len > 0 {
        engine
            .scan_lines(name, buf.get(..len).unwrap_or_default(), lineno)
            .map_err(ScanError::Output)?;
    }
    Ok(())
}
