//! `ingest.csv`: one row per sync batch write, the figures the request log cannot
//! carry (points and bytes per batch). Written under `.partial/` and moved into
//! the run folder with Goose's files when the run ends.
//!
//! Beside it, `sync.csv`: one row per write attempt of a batch ([`SyncAttempt`]),
//! so the report can tell retries (and whether their delays followed the back-off),
//! split, dropped and possibly doubled batches, the backlog and the freshness lag.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};
use crate::runfolder::INGEST_HEADER;

/// One batch write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IngestRow {
    /// ms since the attack started, when the write finished.
    pub elapsed_ms: u64,
    /// Points in the batch.
    pub points: u64,
    /// Body bytes sent.
    pub bytes: u64,
    /// How long the write took.
    pub duration_us: u64,
    /// HTTP status (0 when there was no answer).
    pub status: u16,
    /// True when the batch was stored.
    pub success: bool,
}

/// The file of write attempts, beside `ingest.csv`.
pub const ATTEMPTS: &str = "sync.csv";

/// The header of `sync.csv`.
pub const ATTEMPTS_HEADER: &str =
    "elapsed_ms,batch,attempt,points,status,outcome,waited_ms,asked_ms";

/// What came of one write attempt of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// The batch was stored.
    Stored,
    /// It failed and is tried again.
    Retry,
    /// It was too large (413): cut in two new batches.
    Split,
    /// It failed for good (not retried, or out of tries).
    Dropped,
}

impl AttemptOutcome {
    /// The word in `sync.csv`.
    pub fn key(self) -> &'static str {
        match self {
            AttemptOutcome::Stored => "stored",
            AttemptOutcome::Retry => "retry",
            AttemptOutcome::Split => "split",
            AttemptOutcome::Dropped => "dropped",
        }
    }
}

/// One write attempt of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncAttempt {
    /// ms since the attack started, when the attempt ended.
    pub elapsed_ms: u64,
    /// The batch (1, 2, … in the run; the halves of a split batch are new batches).
    pub batch: u64,
    /// 1 for the first try.
    pub attempt: u32,
    /// Points in the batch.
    pub points: u64,
    /// HTTP status (0 when there was no answer).
    pub status: u16,
    /// What came of it.
    pub outcome: AttemptOutcome,
    /// How long the job waited before this attempt (0 for the first).
    pub waited_ms: u64,
    /// How long the back-off asked for (Retry-After, else the configured step).
    pub asked_ms: u64,
}

/// A shared, buffered writer of `ingest.csv` (a handful of rows per second at most).
#[derive(Clone)]
pub struct IngestLog {
    path: PathBuf,
    out: Arc<Mutex<Option<BufWriter<File>>>>,
    attempts: Arc<Mutex<Option<BufWriter<File>>>>,
    batches: Arc<std::sync::atomic::AtomicU64>,
}

impl IngestLog {
    /// Create the file and write its header.
    pub fn create(path: &Path) -> Result<IngestLog> {
        let file = File::create(path).map_err(|e| Error::io(path, e))?;
        let mut out = BufWriter::new(file);
        writeln!(out, "{INGEST_HEADER}").map_err(|e| Error::io(path, e))?;
        let attempts_path = path.with_file_name(ATTEMPTS);
        let file = File::create(&attempts_path).map_err(|e| Error::io(&attempts_path, e))?;
        let mut attempts = BufWriter::new(file);
        writeln!(attempts, "{ATTEMPTS_HEADER}").map_err(|e| Error::io(&attempts_path, e))?;
        Ok(IngestLog {
            path: path.to_path_buf(),
            out: Arc::new(Mutex::new(Some(out))),
            attempts: Arc::new(Mutex::new(Some(attempts))),
            batches: Arc::default(),
        })
    }

    /// Where `ingest.csv` is written (the other side logs go beside it).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A new batch's number.
    pub fn next_batch(&self) -> u64 {
        self.batches
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1
    }

    /// Append a write attempt to `sync.csv` (closed, like `ingest.csv`, on an error).
    pub fn attempt(&self, a: SyncAttempt) {
        let mut guard = self.attempts.lock().expect("sync log lock");
        if let Some(out) = guard.as_mut() {
            if let Err(e) = writeln!(
                out,
                "{},{},{},{},{},{},{},{}",
                a.elapsed_ms,
                a.batch,
                a.attempt,
                a.points,
                a.status,
                a.outcome.key(),
                a.waited_ms,
                a.asked_ms
            ) {
                eprintln!("dashload: {ATTEMPTS}: {e}; the sync attempt log stops here");
                *guard = None;
            }
        }
    }

    /// Append a row. A write error is reported once and the log closes: losing the
    /// side log must not stop the run.
    pub fn append(&self, row: IngestRow) {
        let mut guard = self.out.lock().expect("ingest log lock");
        if let Some(out) = guard.as_mut() {
            let line = format!(
                "{},{},{},{},{},{}",
                row.elapsed_ms, row.points, row.bytes, row.duration_us, row.status, row.success
            );
            if let Err(e) = writeln!(out, "{line}") {
                eprintln!(
                    "dashload: {}: {e}; the ingest log stops here",
                    self.path.display()
                );
                *guard = None;
            }
        }
    }

    /// Write out what is buffered (both logs): the run calls it every second,
    /// so `kill -9` loses at most a second of rows. An error closes that log,
    /// as in [`IngestLog::append`].
    pub fn flush(&self) {
        for (log, name) in [(&self.out, "ingest"), (&self.attempts, "sync attempt")] {
            let mut guard = log.lock().expect("ingest log lock");
            if let Some(out) = guard.as_mut() {
                if let Err(e) = out.flush() {
                    eprintln!("dashload: the {name} log: {e}; it stops here");
                    *guard = None;
                }
            }
        }
    }

    /// Flush and close.
    pub fn finish(&self) -> Result<()> {
        if let Some(mut out) = self.out.lock().expect("ingest log lock").take() {
            out.flush().map_err(|e| Error::io(&self.path, e))?;
        }
        if let Some(mut out) = self.attempts.lock().expect("sync log lock").take() {
            let path = self.path.with_file_name(ATTEMPTS);
            out.flush().map_err(|e| Error::io(&path, e))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_follow_the_header() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ingest.csv");
        let log = IngestLog::create(&path).unwrap();
        log.append(IngestRow {
            elapsed_ms: 1500,
            points: 5000,
            bytes: 81234,
            duration_us: 120_000,
            status: 204,
            success: true,
        });
        log.finish().unwrap();
        log.append(IngestRow {
            elapsed_ms: 1,
            points: 1,
            bytes: 1,
            duration_us: 1,
            status: 0,
            success: false,
        });
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            format!("{INGEST_HEADER}\n1500,5000,81234,120000,204,true\n")
        );
    }
}
