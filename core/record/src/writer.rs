//! Writing recordings on a background thread.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::time::{Duration, Instant};

use periscope_protocol::{Value, encode_value};

use crate::{Kind, MAGIC, Record, VERSION};

/// Records waiting for the disk before the viewer waits for it (their frames
/// are shared with the scene, so this bounds bookkeeping, not payload copies).
const CHANNEL: usize = 1024;
/// A crash loses at most this much.
const FLUSH_EVERY: Duration = Duration::from_secs(1);

/// Why recording failed.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("cannot write the recording {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Writes records to a `.psr` file on a named thread.
pub struct Recorder {
    path: PathBuf,
    tx: Option<SyncSender<Record>>,
    thread: Option<std::thread::JoinHandle<Result<u64, RecordError>>>,
    start: Instant,
    /// Records handed over.
    pub records: u64,
}

fn meta(r: &Record) -> Vec<u8> {
    let mut fields = vec![
        ("t", Value::Float(r.t)),
        ("kind", Value::from(r.kind.name())),
        ("client", Value::from(r.client)),
        ("name", Value::from(r.name.as_str())),
    ];
    if let Some(s) = r.seq {
        fields.push(("seq", Value::from(s)));
    }
    encode_value(&Value::map(fields))
}

/// Writes one record (meta and frame, length-prefixed).
pub fn write_record(w: &mut impl Write, r: &Record) -> std::io::Result<()> {
    let m = meta(r);
    w.write_all(&(m.len() as u32).to_le_bytes())?;
    w.write_all(&m)?;
    w.write_all(&(r.frame.len() as u64).to_le_bytes())?;
    w.write_all(&r.frame)
}

/// Writes the file header.
pub fn write_header(w: &mut impl Write) -> std::io::Result<()> {
    let created = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
    let header = encode_value(&Value::map([
        ("created", Value::Float(created)),
        ("viewer", Value::from(concat!("periscope ", env!("CARGO_PKG_VERSION")))),
        ("protocol", Value::from(u64::from(periscope_protocol::PROTOCOL_VERSION))),
    ]));
    w.write_all(MAGIC)?;
    w.write_all(&VERSION.to_le_bytes())?;
    w.write_all(&(header.len() as u32).to_le_bytes())?;
    w.write_all(&header)
}

impl Recorder {
    /// Creates (or truncates) `path` and starts the writer thread.
    pub fn create(path: &Path) -> Result<Self, RecordError> {
        let io = |source| RecordError::Io { path: path.to_owned(), source };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        Self::with_file(std::fs::File::create(path).map_err(io)?, path)
    }

    /// Starts the writer thread on a file already open for writing (e.g. a
    /// temporary file created exclusively); `path` names it in messages.
    pub fn with_file(file: std::fs::File, path: &Path) -> Result<Self, RecordError> {
        let io = |source| RecordError::Io { path: path.to_owned(), source };
        let mut out = BufWriter::with_capacity(1 << 20, file);
        write_header(&mut out).and_then(|()| out.flush()).map_err(io)?;
        let (tx, rx) = sync_channel(CHANNEL);
        let p = path.to_owned();
        let thread = std::thread::Builder::new()
            .name("periscope-recorder".into())
            .spawn(move || write_loop(out, &rx).map_err(|source| RecordError::Io { path: p, source }))
            .map_err(io)?;
        tracing::info!(path = %path.display(), "recording");
        Ok(Self { path: path.to_owned(), tx: Some(tx), thread: Some(thread), start: Instant::now(), records: 0 })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Seconds since recording started.
    pub fn elapsed(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    /// Queues one event. Waits only if the disk is behind by [`CHANNEL`] records.
    /// False if the writer stopped (its error is returned by [`Self::finish`]).
    pub fn record(&mut self, kind: Kind, client: u64, name: &str, seq: Option<u64>, frame: bytes::Bytes) -> bool {
        let r = Record { t: self.elapsed(), kind, client, name: name.to_owned(), seq, frame };
        let ok = self.tx.as_ref().is_some_and(|tx| tx.send(r).is_ok());
        self.records += u64::from(ok);
        ok
    }

    /// Stops, flushes and closes the file; returns how many records were written.
    pub fn finish(mut self) -> Result<u64, RecordError> {
        self.stop()
    }

    fn stop(&mut self) -> Result<u64, RecordError> {
        self.tx.take();
        match self.thread.take() {
            Some(t) => t.join().unwrap_or(Ok(0)),
            None => Ok(0),
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            tracing::error!("{e}");
        }
    }
}

fn write_loop(mut out: BufWriter<std::fs::File>, rx: &Receiver<Record>) -> std::io::Result<u64> {
    let mut n = 0u64;
    let mut last_flush = Instant::now();
    loop {
        match rx.recv_timeout(FLUSH_EVERY) {
            Ok(r) => {
                write_record(&mut out, &r)?;
                n += 1;
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        if last_flush.elapsed() >= FLUSH_EVERY {
            out.flush()?;
            last_flush = Instant::now();
        }
    }
    out.flush()?;
    Ok(n)
}
