//! `ingest.csv`: one row per sync batch write, the figures the request log cannot
//! carry (points and bytes per batch). Written under `.partial/` and moved into
//! the run folder with Goose's files when the run ends.

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

/// A shared, buffered writer of `ingest.csv` (a handful of rows per second at most).
#[derive(Clone)]
pub struct IngestLog {
    path: PathBuf,
    out: Arc<Mutex<Option<BufWriter<File>>>>,
}

impl IngestLog {
    /// Create the file and write its header.
    pub fn create(path: &Path) -> Result<IngestLog> {
        let file = File::create(path).map_err(|e| Error::io(path, e))?;
        let mut out = BufWriter::new(file);
        writeln!(out, "{INGEST_HEADER}").map_err(|e| Error::io(path, e))?;
        Ok(IngestLog {
            path: path.to_path_buf(),
            out: Arc::new(Mutex::new(Some(out))),
        })
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

    /// Flush and close.
    pub fn finish(&self) -> Result<()> {
        if let Some(mut out) = self.out.lock().expect("ingest log lock").take() {
            out.flush().map_err(|e| Error::io(&self.path, e))?;
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
