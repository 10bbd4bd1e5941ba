//! Gzip files are decompressed on a thread of their own, so that inflating
//! and scanning overlap on two cores (inflating alone runs at about the
//! scanner's speed). Blocks of up to [`BLOCK`] bytes go through a queue of
//! [`DEPTH`]; a read error is passed on in its place in the stream, after
//! the blocks read before it. The thread ends when the stream does, or when
//! the reader is dropped (its next send fails).

use std::io::{self, BufRead, Read};
use std::sync::mpsc::{Receiver, SendError, SyncSender, sync_channel};
use std::thread::JoinHandle;

use flate2::bufread::MultiGzDecoder;

const BLOCK: usize = 64 << 10;
const DEPTH: usize = 4;

/// A decompressed gzip stream.
pub(super) enum Gunzip<R: BufRead> {
    /// Inflated by a background thread.
    Background(Background),
    /// Inflated by the caller (no thread could be started).
    Here(Box<MultiGzDecoder<R>>),
}

impl<R: BufRead + Send + 'static> Gunzip<R> {
    pub(super) fn new(r: R) -> Self {
        let (hand_tx, hand_rx) = sync_channel::<R>(1);
        let (tx, rx) = sync_channel(DEPTH);
        let spawned = std::thread::Builder::new()
            .name("pv-scan-gunzip".into())
            .spawn(move || {
                if let Ok(r) = hand_rx.recv() {
                    pump(MultiGzDecoder::new(r), &tx);
                }
            });
        // If no thread could start, the closure is gone with its receiver
        // and the send hands the reader back.
        match (spawned, hand_tx.send(r)) {
            (Ok(thread), Ok(())) => Gunzip::Background(Background {
                rx: Some(rx),
                block: Vec::new(),
                pos: 0,
                thread: Some(thread),
            }),
            (_, Err(SendError(r))) => Gunzip::Here(Box::new(MultiGzDecoder::new(r))),
            (Err(_), Ok(())) => Gunzip::Background(Background::failed()),
        }
    }
}

fn pump(mut d: impl Read, tx: &SyncSender<io::Result<Vec<u8>>>) {
    loop {
        let mut block = vec![0u8; BLOCK];
        let mut len = 0;
        let res = loop {
            match d.read(block.get_mut(len..).unwrap_or_default()) {
                Ok(0) => break Ok(()),
                Ok(n) => {
                    len += n;
                    if len == BLOCK {
                        break Ok(());
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        let end = len < BLOCK;
        block.truncate(len);
        if len > 0 && tx.send(Ok(block)).is_err() {
            return;
        }
        match res {
            Err(e) => {
                let _ = tx.send(Err(e));
                return;
            }
            Ok(()) if end => return,
            Ok(()) => {}
        }
    }
}

/// The consuming end of the queue.
pub(super) struct Background {
    rx: Option<Receiver<io::Result<Vec<u8>>>>,
    block: Vec<u8>,
    pos: usize,
    thread: Option<JoinHandle<()>>,
}

impl Background {
    fn failed() -> Self {
        Background {
            rx: None,
            block: Vec::new(),
            pos: 0,
            thread: None,
        }
    }
}

impl Read for Background {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.block.len() {
            let Some(rx) = &self.rx else {
                return Err(io::Error::other("gzip decompression thread unavailable"));
            };
            match rx.recv() {
                Ok(Ok(b)) => {
                    self.block = b;
                    self.pos = 0;
                }
                Ok(Err(e)) => return Err(e),
                // The stream ended (the thread is done).
                Err(_) => return Ok(0),
            }
        }
        let rest = self.block.get(self.pos..).unwrap_or_default();
        let n = rest.len().min(out.len());
        if let (Some(d), Some(s)) = (out.get_mut(..n), rest.get(..n)) {
            d.copy_from_slice(s);
        }
        self.pos += n;
        Ok(n)
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        // Closing the queue first makes a thread blocked on a send return.
        drop(self.rx.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl<R: BufRead> Read for Gunzip<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        match self {
            Gunzip::Background(b) => b.read(out),
            Gunzip::Here(d) => d.read(out),
        }
    }
}
