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
    let mut scratch = String::new();
    loop {
        // Drain what came, then sleep: a receiver blocked on the channel would
        // be woken (a context switch) for every row, which on a generator
        // pinned to one core cost more than formatting the row.
        loop {
            match rx.try_recv() {
                Ok(Some(GooseLog::Request(row))) => {
                    write_row(&mut out, &row, &mut scratch)?;
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
                Ok(None) | Err(flume::TryRecvError::Disconnected) => return out.flush(),
                Err(flume::TryRecvError::Empty) => break,
            }
        }
        if dirty && flushed.elapsed() >= FLUSH_EVERY {
            out.flush()?;
            dirty = false;
        }
        std::thread::sleep(DRAIN_EVERY);
    }
}

/// How long the writer sleeps between drains of its channel: well under
/// [`FLUSH_EVERY`], so a row still reaches the file within about a second.
const DRAIN_EVERY: Duration = Duration::from_millis(50);

/// One row as Goose's CSV request log writes it (`logger.rs`, the
/// `GooseRequestMetric` CSV arm): the same fields in the same order, a field
/// quoted when it holds a quote, a comma or a newline. Numbers and flags are
/// written straight out; `scratch` holds the one field that must be formatted
/// first, reused from row to row.
fn write_row(
    out: &mut impl Write,
    m: &GooseRequestMetric,
    scratch: &mut String,
) -> std::io::Result<()> {
    use std::fmt::Write as _;
    write!(out, "{},{},", m.elapsed, m.scenario_index)?;
    text_field(out, &m.scenario_name)?;
    write!(out, ",{},", m.transaction_index)?;
    text_field(out, m.transaction_name.name_for_request())?;
    out.write_all(b",")?;
    scratch.clear();
    let _ = write!(scratch, "{:?}", m.raw);
    text_field(out, scratch)?;
    out.write_all(b",")?;
    text_field(out, &m.name)?;
    out.write_all(b",")?;
    text_field(out, &m.final_url)?;
    write!(
        out,
        ",{},{},{},{},{},{},",
        m.redirected, m.response_time, m.status_code, m.success, m.update, m.user
    )?;
    text_field(out, &m.error)?;
    writeln!(
        out,
        ",{},{},{}",
        m.coordinated_omission_elapsed,
        m.user_cadence,
        m.response_time_micros()
    )
}

/// A text field, quoted (its quotes doubled) when it holds a quote, a comma or
/// a newline.
fn text_field(out: &mut impl Write, f: &str) -> std::io::Result<()> {
    if f.contains(['"', ',', '\n']) {
        write!(out, "\"{}\"", f.replace('"', "\"\""))
    } else {
        out.write_all(f.as_bytes())
    }
}
