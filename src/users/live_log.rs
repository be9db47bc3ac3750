//! `live.csv`: what the live viewers saw, one row per event of a Grafana Live
//! session (connect, subscribe, each publication received, the server closing
//! it, the viewer leaving). The report reads it for its Live section
//! (`report::live`). Written under `.partial/` beside `ingest.csv` and moved
//! into the run folder with it.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};

/// The file's name in the run folder.
pub const LIVE: &str = "live.csv";

/// Its columns.
pub const LIVE_HEADER: [&str; 9] = [
    "elapsed_ms",
    "viewer",
    "event",
    "channel",
    "duration_us",
    "offset",
    "missed",
    "ok",
    "reason",
];

/// What a row records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiveEvent {
    /// The WebSocket handshake and `connect` command: `duration_us` from the
    /// first byte sent to the connect reply; `reason` why it failed.
    Connect,
    /// One channel's `subscribe` command, to its reply.
    Subscribe,
    /// One publication received: `duration_us` is its delivery latency (push
    /// sent → received, empty when the data carries no send time), `missed`
    /// the publications its offset says were skipped before it.
    Delivery,
    /// The server closed the session (`reason`: its code and reason).
    Disconnect,
    /// The viewer left and closed the session.
    Close,
    /// Back after a lost connection: `duration_us` from the loss to the
    /// connect reply (follows the attempt's `connect` row).
    Reconnect,
    /// The publisher's push (`viewer` is its push number): `duration_us` the
    /// HTTP call, `reason` the status of a failed one.
    Push,
}

impl LiveEvent {
    /// The word in `live.csv`.
    pub fn key(self) -> &'static str {
        match self {
            LiveEvent::Connect => "connect",
            LiveEvent::Subscribe => "subscribe",
            LiveEvent::Delivery => "delivery",
            LiveEvent::Disconnect => "disconnect",
            LiveEvent::Close => "close",
            LiveEvent::Reconnect => "reconnect",
            LiveEvent::Push => "push",
        }
    }

    /// The event a word names.
    pub fn from_key(key: &str) -> Option<LiveEvent> {
        [
            LiveEvent::Connect,
            LiveEvent::Subscribe,
            LiveEvent::Delivery,
            LiveEvent::Disconnect,
            LiveEvent::Close,
            LiveEvent::Reconnect,
            LiveEvent::Push,
        ]
        .into_iter()
        .find(|e| e.key() == key)
    }
}

/// One row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveRow {
    /// ms since the attack started.
    pub elapsed_ms: u64,
    /// The viewer's number in the run (0 for the first).
    pub viewer: u64,
    /// What happened.
    pub event: LiveEvent,
    /// The channel, for subscribe and delivery rows.
    pub channel: String,
    /// See [`LiveEvent`].
    pub duration_us: Option<u64>,
    /// The publication's offset (0 when the server sends none).
    pub offset: u64,
    /// Publications skipped before this one.
    pub missed: u64,
    /// False for a failed connect or subscribe.
    pub ok: bool,
    /// The server's reason for a failure or a disconnect.
    pub reason: String,
}

/// A shared, buffered writer of `live.csv`.
#[derive(Clone)]
pub struct LiveLog {
    path: PathBuf,
    out: Arc<Mutex<Option<csv::Writer<BufWriter<File>>>>>,
}

impl LiveLog {
    /// Create the file and write its header.
    pub fn create(path: &Path) -> Result<LiveLog> {
        let file = File::create(path).map_err(|e| Error::io(path, e))?;
        let mut out = csv::Writer::from_writer(BufWriter::new(file));
        out.write_record(LIVE_HEADER)
            .map_err(|e| Error::Other(anyhow::anyhow!("{}: {e}", path.display())))?;
        Ok(LiveLog {
            path: path.to_path_buf(),
            out: Arc::new(Mutex::new(Some(out))),
        })
    }

    /// Append a row. A write error is reported once and the log closes: losing
    /// the side log must not stop the run.
    pub fn append(&self, row: &LiveRow) {
        let mut guard = self.out.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(out) = guard.as_mut() {
            let duration = row.duration_us.map(|d| d.to_string()).unwrap_or_default();
            // Reasons come from the server: redacted, one line, bounded.
            let reason = crate::redact::for_log(&row.reason);
            let written = out.write_record([
                row.elapsed_ms.to_string().as_str(),
                &row.viewer.to_string(),
                row.event.key(),
                &row.channel,
                &duration,
                &row.offset.to_string(),
                &row.missed.to_string(),
                if row.ok { "true" } else { "false" },
                &reason,
            ]);
            if let Err(e) = written {
                eprintln!(
                    "dashload: {}: {e}; the live log stops here",
                    self.path.display()
                );
                *guard = None;
            }
        }
    }

    /// Write out what is buffered.
    pub fn flush(&self) {
        let mut guard = self.out.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(out) = guard.as_mut() {
            if let Err(e) = out.flush() {
                eprintln!(
                    "dashload: {}: {e}; the live log stops here",
                    self.path.display()
                );
                *guard = None;
            }
        }
    }
}

/// Read `live.csv` back (the report's side).
pub fn read(path: &Path) -> Result<Vec<LiveRow>> {
    // A folder found in the reports dir is untrusted: a FIFO or a device
    // named live.csv must not hang or feed the report (runfolder::input).
    let file = crate::runfolder::input::open_regular(path)
        .map_err(|e| Error::Other(anyhow::anyhow!("{}: {e}", path.display())))?
        .ok_or_else(|| Error::Other(anyhow::anyhow!("{}: no such file", path.display())))?;
    let mut reader = csv::Reader::from_reader(std::io::BufReader::new(file));
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let bad = |what: &str| Error::Other(anyhow::anyhow!("{}:{line}: {what}", path.display()));
        let r = record.map_err(|e| bad(&e.to_string()))?;
        let field = |n: usize| r.get(n).unwrap_or("");
        let number = |n: usize| -> Result<u64> {
            field(n)
                .parse()
                .map_err(|_| bad(&format!("`{}` is not a count", field(n))))
        };
        rows.push(LiveRow {
            elapsed_ms: number(0)?,
            viewer: number(1)?,
            event: LiveEvent::from_key(field(2))
                .ok_or_else(|| bad(&format!("unknown event `{}`", field(2))))?,
            channel: field(3).to_string(),
            duration_us: match field(4) {
                "" => None,
                _ => Some(number(4)?),
            },
            offset: number(5)?,
            missed: number(6)?,
            ok: field(7) == "true",
            reason: field(8).to_string(),
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run folder's live.csv that is a FIFO is refused, not waited on.
    #[test]
    fn a_fifo_named_live_csv_is_refused_not_waited_on() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("live.csv");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(made.is_ok_and(|s| s.success()), "mkfifo (coreutils)");
        let e = read(&fifo).expect_err("a FIFO is no log");
        assert!(e.to_string().contains("a FIFO, not a regular file"), "{e}");
    }

    #[test]
    fn rows_read_back_as_written_even_with_commas_in_reasons() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(LIVE);
        let log = LiveLog::create(&path).unwrap();
        let rows = vec![
            LiveRow {
                elapsed_ms: 12,
                viewer: 3,
                event: LiveEvent::Connect,
                channel: String::new(),
                duration_us: None,
                offset: 0,
                missed: 0,
                ok: false,
                reason: "3504 connection limit, \"later\"".into(),
            },
            LiveRow {
                elapsed_ms: 40,
                viewer: 3,
                event: LiveEvent::Delivery,
                channel: "stream/s/probe".into(),
                duration_us: Some(812),
                offset: 7,
                missed: 2,
                ok: true,
                reason: String::new(),
            },
        ];
        for r in &rows {
            log.append(r);
        }
        log.flush();
        assert_eq!(read(&path).unwrap(), rows);
        std::fs::write(&path, "elapsed_ms,viewer,event,channel,duration_us,offset,missed,ok,reason\n1,0,jump,,,0,0,true,\n").unwrap();
        let e = read(&path).unwrap_err().to_string();
        assert!(e.ends_with("live.csv:2: unknown event `jump`"), "{e}");
    }
}
