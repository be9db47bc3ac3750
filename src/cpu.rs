//! The generator's own CPU: sampled once a second during the attack and left in
//! the run folder as `cpu.csv`, so the report can say when dashload was busy
//! enough that its figures measure the generator rather than the target.
//!
//! CPU time is the process's user + system time over all threads, read from
//! `/proc/self/stat` (Linux); elsewhere nothing is sampled and no file is written.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::error::Result;
use crate::runfolder::{files, write_atomic, CPU_HEADER};

/// Clock ticks per second of `/proc/<pid>/stat` times: USER_HZ, fixed at 100 by
/// the Linux ABI on every architecture dashload builds for.
const USER_HZ: u64 = 100;

/// One second's sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CpuSample {
    /// ms since the attack started.
    pub elapsed_ms: u64,
    /// The process's CPU time so far, ms.
    pub cpu_ms: u64,
    /// Cores busy since the previous sample (CPU time / wall time).
    pub cores_used: f64,
}

/// Cores this process may run on (affinity and cgroup limits included).
pub fn cores_available() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The process's CPU time, or `None` where `/proc/self/stat` cannot be read.
pub fn process_cpu() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/self/stat").ok()?;
    let ticks = parse_stat_ticks(&text)?;
    Some(Duration::from_millis(ticks * 1000 / USER_HZ))
}

/// utime + stime (clock ticks) from a `/proc/<pid>/stat` line. The command name
/// may hold spaces and parentheses, so fields are counted after the last `)`.
fn parse_stat_ticks(text: &str) -> Option<u64> {
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    // After ')' come field 3 (state) … field 14 (utime), field 15 (stime).
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// The samples of one run.
#[derive(Debug, Default)]
pub struct CpuLog {
    samples: Vec<CpuSample>,
    start_cpu_ms: Option<u64>,
}

impl CpuLog {
    /// Add a sample taken `elapsed` after the attack started with `cpu` used so far.
    /// The first call sets the zero: CPU spent before the attack is not counted.
    pub fn push(&mut self, elapsed: Duration, cpu: Duration) {
        let total_ms = cpu.as_millis() as u64;
        let zero = *self.start_cpu_ms.get_or_insert(total_ms);
        let cpu_ms = total_ms.saturating_sub(zero);
        let elapsed_ms = elapsed.as_millis() as u64;
        let (prev_elapsed, prev_cpu) = self
            .samples
            .last()
            .map_or((0, 0), |s| (s.elapsed_ms, s.cpu_ms));
        let wall = elapsed_ms.saturating_sub(prev_elapsed);
        let cores_used = if wall == 0 {
            0.0
        } else {
            cpu_ms.saturating_sub(prev_cpu) as f64 / wall as f64
        };
        self.samples.push(CpuSample {
            elapsed_ms,
            cpu_ms,
            cores_used,
        });
    }

    /// The samples so far.
    pub fn samples(&self) -> &[CpuSample] {
        &self.samples
    }

    /// `cpu.csv`: the header, then one row per sample.
    pub fn to_csv(&self, cores: usize) -> String {
        let mut out = format!("{CPU_HEADER}\n");
        for s in &self.samples {
            let _ = writeln!(
                out,
                "{},{},{:.3},{cores}",
                s.elapsed_ms, s.cpu_ms, s.cores_used
            );
        }
        out
    }
}

/// Sample every second from `clock` (the attack's start) into `log`, until aborted.
pub async fn sample(clock: Instant, log: Arc<Mutex<CpuLog>>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(cpu) = process_cpu() else { return };
        log.lock().expect("cpu log lock").push(clock.elapsed(), cpu);
    }
}

/// Write `cpu.csv` into the run folder (atomically), when anything was sampled.
pub fn store(log: &CpuLog, run_dir: &Path) -> Result<()> {
    if log.samples.is_empty() {
        return Ok(());
    }
    write_atomic(
        &run_dir.join(files::CPU),
        log.to_csv(cores_available()).as_bytes(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_times_are_read_after_the_command_name() {
        // A command name with a space and a parenthesis must not shift the fields.
        let line =
            "4242 (dash load) x) S 1 4242 4242 0 -1 4194560 900 0 0 0 250 37 0 0 20 0 9 0 1 1 1";
        assert_eq!(parse_stat_ticks(line), Some(287));
        assert_eq!(parse_stat_ticks("garbage"), None);
        assert!(process_cpu().is_some(), "readable on Linux");
    }

    #[test]
    fn samples_count_from_the_first_and_give_cores_per_interval() {
        let mut log = CpuLog::default();
        let s = Duration::from_secs;
        log.push(s(0), Duration::from_millis(5_000));
        log.push(s(1), Duration::from_millis(5_500));
        log.push(s(3), Duration::from_millis(9_500));
        let cores: Vec<f64> = log.samples().iter().map(|x| x.cores_used).collect();
        assert_eq!(cores, [0.0, 0.5, 2.0]);
        assert_eq!(log.samples()[2].cpu_ms, 4_500);
        assert_eq!(
            log.to_csv(4),
            "elapsed_ms,cpu_ms,cores_used,cores_available\n0,0,0.000,4\n1000,500,0.500,4\n3000,4500,2.000,4\n"
        );
    }
}
