//! Finishing a run folder: the files a run writes into `.partial/` move into the
//! folder, and a folder a run left unfinished (killed, or a second signal before
//! its end) is recovered by `dashload report`.
//!
//! While a run goes it holds a lock on `<run>/.run.lock`, so `dashload report`
//! does not take the files of a run that is still writing them. A file is moved
//! as far as it is whole: a CSV log loses an incomplete last line (the process
//! died mid-write), a JSON file that does not parse is set aside as
//! `<name>.incomplete`.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use chrono::Duration as ChronoDuration;

use super::{files, RunMeta};
use crate::error::{Error, Result};

/// The folder a run writes its logs into until they are complete.
pub const PARTIAL: &str = ".partial";
/// The file a running run keeps locked.
pub const LOCK: &str = ".run.lock";

/// The lock a running run holds on its folder; released when dropped.
#[derive(Debug)]
pub struct RunLock {
    path: PathBuf,
    _file: File,
}

impl RunLock {
    /// Take the lock of `run_dir` (a new run folder: nobody else holds it).
    pub fn acquire(run_dir: &Path) -> Result<RunLock> {
        let path = run_dir.join(LOCK);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        file.try_lock()
            .map_err(|e| Error::io(&path, std::io::Error::other(e.to_string())))?;
        Ok(RunLock { path, _file: file })
    }

    /// Release the lock and remove its file: the folder is finished.
    pub fn release(self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// True when a run still holds `run_dir`'s lock.
pub fn held(run_dir: &Path) -> bool {
    let path = run_dir.join(LOCK);
    match OpenOptions::new().write(true).open(&path) {
        Ok(file) => file.try_lock().is_err(),
        Err(_) => false,
    }
}

/// What moving `.partial/` into the folder did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Moved {
    /// Files moved into the folder, by name.
    pub moved: Vec<String>,
    /// CSV files whose incomplete last line was dropped, with its bytes.
    pub cut: Vec<(String, u64)>,
    /// Files set aside as `<name>.incomplete` (a JSON file that does not parse).
    pub set_aside: Vec<String>,
}

/// Move the files of `<run_dir>/.partial/` into `run_dir` as far as each is whole,
/// then remove `.partial/`. A file already in the folder is kept, its partial
/// copy dropped; temporary files (`.name.tmp`) are dropped.
pub fn finish_partial(run_dir: &Path) -> Result<Moved> {
    let partial = run_dir.join(PARTIAL);
    let mut done = Moved::default();
    let entries = match fs::read_dir(&partial) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(done),
        Err(e) => return Err(Error::io(&partial, e)),
    };
    let mut names: Vec<String> = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(&partial, e))?;
        names.push(entry.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    for name in names {
        let from = partial.join(&name);
        let to = run_dir.join(&name);
        if name.starts_with('.') || to.exists() || !from.is_file() {
            let _ = fs::remove_file(&from);
            continue;
        }
        if name.ends_with(".json") && !json_is_whole(&from) {
            let aside = run_dir.join(format!("{name}.incomplete"));
            fs::rename(&from, &aside).map_err(|e| Error::io(&aside, e))?;
            done.set_aside.push(name);
            continue;
        }
        fs::rename(&from, &to).map_err(|e| Error::io(&to, e))?;
        if name.ends_with(".csv") {
            let cut = cut_incomplete_line(&to)?;
            if cut > 0 {
                done.cut.push((name.clone(), cut));
            }
        }
        done.moved.push(name);
    }
    fs::remove_dir(&partial).map_err(|e| Error::io(&partial, e))?;
    Ok(done)
}

fn json_is_whole(path: &Path) -> bool {
    let Ok(file) = File::open(path) else {
        return false;
    };
    serde_json::from_reader::<_, serde::de::IgnoredAny>(std::io::BufReader::new(file)).is_ok()
}

/// Truncate `path` after its last newline; returns the bytes dropped.
fn cut_incomplete_line(path: &Path) -> Result<u64> {
    let io = |e| Error::io(path, e);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    let keep = match last_newline(&mut file, len).map_err(io)? {
        Some(at) => at + 1,
        None => 0,
    };
    if keep < len {
        file.set_len(keep).map_err(io)?;
    }
    Ok(len - keep)
}

/// The offset of the last `\n` in the first `len` bytes of `file`, reading back
/// from the end in blocks.
fn last_newline(file: &mut File, len: u64) -> std::io::Result<Option<u64>> {
    const BLOCK: u64 = 64 * 1024;
    let mut end = len;
    let mut buf = vec![0u8; BLOCK as usize];
    while end > 0 {
        let start = end.saturating_sub(BLOCK);
        let n = (end - start) as usize;
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(&mut buf[..n])?;
        if let Some(i) = memchr::memrchr(b'\n', &buf[..n]) {
            return Ok(Some(start + i as u64));
        }
        end = start;
    }
    Ok(None)
}

/// What `dashload report` did to an unfinished run folder.
#[derive(Debug, Clone, PartialEq)]
pub struct Recovery {
    /// The files taken out of `.partial/`.
    pub files: Moved,
    /// When run.json had no end: the end set from the last logged row, ms since
    /// the attack started (None when nothing was logged).
    pub ended_ms: Option<Option<u64>>,
}

impl std::fmt::Display for Recovery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "recovered an unfinished run")?;
        if !self.files.moved.is_empty() {
            write!(f, "; from {PARTIAL}/: {}", self.files.moved.join(", "))?;
        }
        for (name, bytes) in &self.files.cut {
            write!(
                f,
                "; {name}: an incomplete last line ({bytes} bytes) dropped"
            )?;
        }
        for name in &self.files.set_aside {
            write!(f, "; {name} is not whole: set aside as {name}.incomplete")?;
        }
        match self.ended_ms {
            Some(Some(ms)) => write!(
                f,
                "; run.json marked interrupted, ended at {:.1} s (the last logged row)",
                ms as f64 / 1000.0
            ),
            Some(None) => write!(f, "; run.json marked interrupted (nothing was logged)"),
            None => Ok(()),
        }
    }
}

/// Recover `run_dir` if a run left it unfinished (a `.partial/` folder, or no
/// end in run.json): finish its files and mark run.json interrupted, ending at
/// its last logged row. `None` when the folder is finished. Refuses a folder
/// whose run is still going.
pub fn recover(run_dir: &Path) -> Result<Option<Recovery>> {
    let partial = run_dir.join(PARTIAL).is_dir();
    let mut meta = RunMeta::load(run_dir)?;
    if !partial && meta.ended_at.is_some() {
        return Ok(None);
    }
    if held(run_dir) {
        return Err(Error::Usage(format!(
            "{}: its run is still going (it holds {LOCK}): wait for its end, or stop it with Ctrl-C",
            run_dir.display()
        )));
    }
    let files = finish_partial(run_dir)?;
    let mut ended_ms = None;
    if meta.ended_at.is_none() {
        let last = last_logged_ms(run_dir);
        meta.interrupted = true;
        meta.ended_at = Some(
            meta.started_at
                + ChronoDuration::milliseconds(last.unwrap_or(0).min(i64::MAX as u64) as i64),
        );
        meta.store(run_dir)?;
        ended_ms = Some(last);
    }
    let _ = fs::remove_file(run_dir.join(LOCK));
    Ok(Some(Recovery { files, ended_ms }))
}

/// The latest end of a last row among every log the run writes as it goes:
/// the request log (`elapsed`: Goose stamps a row when it is recorded), the
/// ingest log (`elapsed_ms` + `duration_us`), the sync attempts and the
/// server's scrapes (`elapsed_ms`). Each log is flushed on its own clock, so
/// any of them may be the one that reached furthest.
fn last_logged_ms(run_dir: &Path) -> Option<u64> {
    let requests = last_row(&run_dir.join(files::REQUESTS), "elapsed", "", 1);
    let ingest = last_row(
        &run_dir.join(files::INGEST),
        "elapsed_ms",
        "duration_us",
        1000,
    );
    let sync = last_row(
        &run_dir.join(crate::users::ingest_log::ATTEMPTS),
        "elapsed_ms",
        "",
        1,
    );
    let server = last_row(&run_dir.join(files::SERVER), "elapsed_ms", "", 1);
    [requests, ingest, sync, server].into_iter().flatten().max()
}

/// `start + span / divisor` of the last row of a CSV log, by header names.
fn last_row(path: &Path, start: &str, span: &str, divisor: u64) -> Option<u64> {
    let mut file = super::input::open_regular(path).ok()??;
    let len = file.metadata().ok()?.len();
    let mut header = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(&mut file), &mut header).ok()?;
    // The last whole line: between the newline before the last one and the last.
    let end = last_newline(&mut file, len).ok()??;
    let before = last_newline(&mut file, end).ok()?.map_or(0, |at| at + 1);
    if before < header.len() as u64 {
        return None;
    }
    let mut line = vec![0u8; (end - before) as usize];
    file.seek(SeekFrom::Start(before)).ok()?;
    file.read_exact(&mut line).ok()?;
    let mut text = header.into_bytes();
    text.extend_from_slice(&line);
    let mut reader = csv::Reader::from_reader(text.as_slice());
    let headers = reader.headers().ok()?.clone();
    let record = reader.records().next()?.ok()?;
    let field = |name: &str| -> Option<u64> {
        let i = headers.iter().position(|h| h == name)?;
        record.get(i)?.trim().parse().ok()
    };
    Some(field(start)? + field(span).unwrap_or(0) / divisor)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn meta() -> RunMeta {
        serde_json::from_value(serde_json::json!({
            "dashload_version": "0", "scenario": "s", "scenario_file": "s.toml",
            "scenario_digest": "", "seed": 1,
            "target": {"kind": "sandbox", "url": "http://127.0.0.1:1"},
            "test_plan": "1,1s", "sync_users": 0, "windows": [], "slos": [],
            "started_at": Utc::now(),
        }))
        .unwrap()
    }

    #[test]
    fn the_end_is_taken_from_every_log_the_server_scrapes_too() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path();
        meta().store(run).unwrap();
        let partial = run.join(PARTIAL);
        fs::create_dir(&partial).unwrap();
        // The request log was empty at the kill; the scrapes went on to 12 s.
        fs::write(partial.join(files::REQUESTS), "elapsed,name\n").unwrap();
        fs::write(
            partial.join(files::SERVER),
            "elapsed_ms,metric,value\n1000,queries,3\n12000,queries,40\n",
        )
        .unwrap();
        fs::write(
            partial.join(crate::users::ingest_log::ATTEMPTS),
            "elapsed_ms,batch\n9000,1\n",
        )
        .unwrap();
        let r = recover(run).unwrap().expect("recovered");
        assert_eq!(r.ended_ms, Some(Some(12_000)));
    }

    #[test]
    fn an_unfinished_folder_is_recovered_as_far_as_its_files_are_whole() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path();
        meta().store(run).unwrap();
        let partial = run.join(PARTIAL);
        fs::create_dir(&partial).unwrap();
        fs::write(
            partial.join(files::REQUESTS),
            "elapsed,name,response_time,error\n100,panel A,20,\n2500,panel B,300,\n2900,pan",
        )
        .unwrap();
        fs::write(
            partial.join(files::INGEST),
            "elapsed_ms,duration_us\n1000,5000\n",
        )
        .unwrap();
        fs::write(partial.join(files::GOOSE_JSON), "{\"raw_metrics\": {").unwrap();
        fs::write(partial.join(".x.tmp"), "x").unwrap();
        // A lock file left by a dead run is not held.
        fs::write(run.join(LOCK), "").unwrap();

        let r = recover(run).unwrap().expect("recovered");
        assert_eq!(r.files.moved, [files::INGEST, files::REQUESTS]);
        assert_eq!(r.files.cut, [(files::REQUESTS.to_string(), 8)]);
        assert_eq!(r.files.set_aside, [files::GOOSE_JSON]);
        assert_eq!(r.ended_ms, Some(Some(2500)));
        assert!(!partial.exists() && !run.join(LOCK).exists());
        assert!(fs::read_to_string(run.join(files::REQUESTS))
            .unwrap()
            .ends_with("2500,panel B,300,\n"));
        assert!(run.join("report.json.incomplete").is_file());
        let m = RunMeta::load(run).unwrap();
        assert!(m.interrupted);
        assert_eq!(
            (m.ended_at.unwrap() - m.started_at).num_milliseconds(),
            2500
        );
        let text = r.to_string();
        assert!(
            text.contains("requests.csv: an incomplete last line (8 bytes) dropped"),
            "{text}"
        );
        assert!(text.contains("ended at 2.5 s"), "{text}");
        assert_eq!(
            recover(run).unwrap(),
            None,
            "a finished folder is left alone"
        );
    }

    #[test]
    fn a_folder_whose_run_holds_the_lock_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path();
        meta().store(run).unwrap();
        fs::create_dir(run.join(PARTIAL)).unwrap();
        let lock = RunLock::acquire(run).unwrap();
        let e = recover(run).unwrap_err();
        assert!(e.to_string().contains("still going"), "{e}");
        assert!(run.join(PARTIAL).is_dir(), "nothing taken");
        lock.release();
        assert!(recover(run).unwrap().is_some());
    }
}
