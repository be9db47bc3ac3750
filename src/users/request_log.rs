//! `requests.csv`, written so that `kill -9` loses at most a second of rows.
//!
//! Goose's logger keeps its request log in a 64 KiB buffer it flushes only
//! when full or at the attack's end, so a run killed outright lost everything
//! since the last 64 KiB (at a few hundred rows a second, tens of seconds).
//! Here every Goose user's log channel is swapped, at its first step, for one
//! whose rows one thread writes, formatted by Goose's own CSV formatter (the
//! same bytes as before), flushing at least every [`FLUSH_EVERY`] while rows
//! come: one flush a second, not one per row. Goose's other logs (debug, error,
//! transaction) are passed on to its logger untouched; its own request log is
//! pointed at a dot-file of `.partial/` that holds only its header and is
//! dropped with the folder's temporary files.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use goose::goose::GooseUser;
use goose::logger::GooseLog;
use goose::metrics::GooseRequestMetric;

use crate::error::{Error, Result};

/// The longest a logged row waits in memory while the run goes.
pub const FLUSH_EVERY: Duration = Duration::from_secs(1);

/// The header Goose writes on its CSV request log (the report finds its
/// columns by these names).
pub const HEADER: &str = "elapsed,scenario_index,scenario_name,transaction_index,transaction_name,raw,name,final_url,redirected,response_time,status_code,success,update,user,error,coordinated_omission_elapsed,user_cadence,response_time_us";

/// The name Goose's own request log gets in `.partial/`: a dot-file, so that
/// finishing the folder drops it.
pub const GOOSE_SIDE: &str = ".goose-requests.csv";

type Channel = flume::Sender<Option<GooseLog>>;

/// The run's request log: a channel the users' rows go to, and the thread
/// writing them.
#[derive(Clone)]
pub struct RequestLog {
    tx: Channel,
    /// Goose's own logger channel, taken from the first user swapped.
    goose: Arc<OnceLock<Channel>>,
    writer: Arc<Mutex<Option<JoinHandle<std::io::Result<()>>>>>,
    path: PathBuf,
}

impl RequestLog {
    /// Create `path` with Goose's header and start its writer.
    pub fn create(path: &Path) -> Result<RequestLog> {
        let file = File::create(path).map_err(|e| Error::io(path, e))?;
        let mut out = BufWriter::with_capacity(64 * 1024, file);
        writeln!(out, "{HEADER}").map_err(|e| Error::io(path, e))?;
        out.flush().map_err(|e| Error::io(path, e))?;
        let (tx, rx) = flume::unbounded::<Option<GooseLog>>();
        let goose: Arc<OnceLock<Channel>> = Arc::default();
        let forward = goose.clone();
        let writer = std::thread::Builder::new()
            .name("dashload-request-log".into())
            .spawn(move || write_rows(rx, out, &forward))
            .map_err(|e| Error::io(path, e))?;
        Ok(RequestLog {
            tx,
            goose,
            writer: Arc::new(Mutex::new(Some(writer))),
            path: path.to_path_buf(),
        })
    }

    /// Route `user`'s logs through this log (cheap once done: one pointer
    /// comparison per step).
    pub fn adopt(&self, user: &mut GooseUser) {
        match &user.logger {
            Some(l) if l.same_channel(&self.tx) => {}
            Some(goose) => {
                let _ = self.goose.set(goose.clone());
                user.logger = Some(self.tx.clone());
            }
            // Goose logs nothing (no log configured): nothing to route.
            None => {}
        }
    }

    /// Write out every row sent so far and close the file (after the attack).
    pub fn finish(&self) -> Result<()> {
        let Some(writer) = self.writer.lock().expect("request log lock").take() else {
            return Ok(());
        };
        // The users may outlive the attack: a `None` ends the writer.
        let _ = self.tx.send(None);
        match writer.join() {
            Ok(r) => r.map_err(|e| Error::io(&self.path, e)),
            Err(_) => Err(Error::Report(format!(
                "{}: the request log's writer panicked",
                self.path.display()
            ))),
        }
    }
}

fn write_rows(
    rx: flume::Receiver<Option<GooseLog>>,
    mut out: BufWriter<File>,
    goose: &OnceLock<Channel>,
) -> std::io::Result<()> {
    let mut flushed = Instant::now();
    let mut dirty = false;
    loop {
        let wait = if dirty {
            FLUSH_EVERY.saturating_sub(flushed.elapsed())
        } else {
            // Nothing to flush: sleep until a row comes.
            Duration::from_secs(3600)
        };
        match rx.recv_timeout(wait) {
            Ok(Some(GooseLog::Request(row))) => {
                write_row(&mut out, &row)?;
                if !dirty {
                    dirty = true;
                    flushed = Instant::now();
                }
            }
            Ok(Some(other)) => {
                if let Some(g) = goose.get() {
                    let _ = g.send(Some(other));
                }
            }
            Ok(None) | Err(flume::RecvTimeoutError::Disconnected) => break,
            Err(flume::RecvTimeoutError::Timeout) => {}
        }
        if dirty && flushed.elapsed() >= FLUSH_EVERY {
            out.flush()?;
            dirty = false;
        }
    }
    out.flush()
}

/// One row as Goose's CSV request log writes it (`logger.rs`, the
/// `GooseRequestMetric` CSV arm): the same fields in the same order, a field
/// quoted when it holds a quote, a comma or a newline.
fn write_row(out: &mut impl Write, m: &GooseRequestMetric) -> std::io::Result<()> {
    let fields: [String; 18] = [
        m.elapsed.to_string(),
        m.scenario_index.to_string(),
        m.scenario_name.to_string(),
        m.transaction_index.to_string(),
        m.transaction_name.name_for_request().to_string(),
        format!("{:?}", m.raw),
        m.name.to_string(),
        m.final_url.to_string(),
        m.redirected.to_string(),
        m.response_time.to_string(),
        m.status_code.to_string(),
        m.success.to_string(),
        m.update.to_string(),
        m.user.to_string(),
        m.error.to_string(),
        m.coordinated_omission_elapsed.to_string(),
        m.user_cadence.to_string(),
        m.response_time_micros().to_string(),
    ];
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        if f.contains(['"', ',', '\n']) {
            write!(out, "\"{}\"", f.replace('"', "\"\""))?;
        } else {
            out.write_all(f.as_bytes())?;
        }
    }
    out.write_all(b"\n")
}
