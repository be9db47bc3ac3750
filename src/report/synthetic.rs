//! A synthetic run folder generator, for tests and the report benchmark.
//!
//! It writes what a real run leaves (`run.json`, `requests.csv` in Goose's
//! CSV format with quoted raw requests, `ingest.csv`) for a staged run
//! followed by a stress ladder: two ramp+hold stages (20 and 40 viewers) and
//! four stress steps (60 to 120 viewers). Throughput grows with viewers up to
//! 80 and then flattens; latency starts climbing above 60 viewers, and shed
//! load (503) appears above 100. Everything derives from the seed, so the
//! same arguments give the same bytes. Rows are written as they are made:
//! memory does not grow with the number of rows.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use chrono::{DateTime, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::error::{Error, Result};
use crate::runfolder::{
    files, RequestClass, RunCounters, RunMeta, Slo, SloMetric, StageWindow, TargetSummary,
    WindowKind, INGEST_HEADER,
};

/// The request log's header, as Goose writes it.
pub const REQUESTS_HEADER: &str = "elapsed,scenario_index,scenario_name,transaction_index,transaction_name,raw,name,final_url,redirected,response_time,status_code,success,update,user,error,coordinated_omission_elapsed,user_cadence,response_time_us";

/// How to make a synthetic run.
#[derive(Debug, Clone, PartialEq)]
pub struct Synthetic {
    /// Request rows to write.
    pub rows: u64,
    /// Seed of every random choice.
    pub seed: u64,
    /// Multiplies every latency (1.0 = the normal run; 1.5 = a slower build).
    pub latency_factor: f64,
    /// Added to the probability that a request fails with a 500.
    pub extra_error_rate: f64,
}

impl Synthetic {
    /// A normal run of `rows` requests.
    pub fn new(rows: u64, seed: u64) -> Synthetic {
        Synthetic {
            rows,
            seed,
            latency_factor: 1.0,
            extra_error_rate: 0.0,
        }
    }
}

/// Write a normal synthetic run of `rows` requests into `dir` (which must exist).
pub fn write_run(dir: &Path, rows: u64, seed: u64) -> Result<RunMeta> {
    Synthetic::new(rows, seed).write(dir)
}

const PANELS: [&str; 6] = [
    "Hours per project",
    "Hours per client",
    "Billable ratio",
    "Top tags",
    "Entries per day",
    "Longest entries",
];
const RANGES: [&str; 5] = ["1h", "24h", "7d", "30d", "90d"];
/// Viewers where throughput stops growing.
const SATURATION: usize = 80;

/// The windows of a synthetic run lasting `seconds`.
fn windows(seconds: u64) -> Vec<StageWindow> {
    let plan: [(&str, WindowKind, usize); 8] = [
        ("stage 1 ramp", WindowKind::Ramp, 20),
        ("stage 1 hold", WindowKind::Hold, 20),
        ("stage 2 ramp", WindowKind::Ramp, 40),
        ("stage 2 hold", WindowKind::Hold, 40),
        ("step 1", WindowKind::StressStep, 60),
        ("step 2", WindowKind::StressStep, 80),
        ("step 3", WindowKind::StressStep, 100),
        ("step 4", WindowKind::StressStep, 120),
    ];
    let len = seconds * 1000 / plan.len() as u64;
    plan.iter()
        .enumerate()
        .map(|(i, (name, kind, viewers))| StageWindow {
            name: name.to_string(),
            kind: *kind,
            viewers: *viewers,
            start_ms: i as u64 * len,
            end_ms: (i as u64 + 1) * len,
        })
        .collect()
}

/// Viewers at `t` ms: linear over ramps, flat otherwise.
fn viewers_at(windows: &[StageWindow], t: u64) -> f64 {
    let mut before = 0.0;
    for w in windows {
        if t < w.end_ms {
            return match w.kind {
                WindowKind::Ramp => {
                    let f = (t - w.start_ms) as f64 / (w.end_ms - w.start_ms).max(1) as f64;
                    before + (w.viewers as f64 - before) * f
                }
                _ => w.viewers as f64,
            };
        }
        before = w.viewers as f64;
    }
    before
}

fn meta(seconds: u64, seed: u64) -> RunMeta {
    let started: DateTime<Utc> = DateTime::parse_from_rfc3339("2026-11-23T10:00:00Z")
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default();
    RunMeta {
        dashload_version: env!("CARGO_PKG_VERSION").to_string(),
        scenario: "synthetic".into(),
        scenario_file: "scenarios/synthetic.toml".into(),
        scenario_digest: format!("{seed:064x}"),
        seed,
        target: TargetSummary {
            kind: "sandbox".into(),
            url: "http://127.0.0.1:8086".into(),
            database: Some("toggl".into()),
        },
        test_plan: "20,1m;20,1m;40,1m;40,1m;60,1m;80,1m;100,1m;120,1m;0,0s".into(),
        sync_users: 1,
        windows: windows(seconds),
        slos: vec![
            Slo {
                class: RequestClass::DashboardLoad,
                metric: SloMetric::P95,
                max: 900.0,
            },
            Slo {
                class: RequestClass::PanelQuery,
                metric: SloMetric::P95,
                max: 250.0,
            },
            Slo {
                class: RequestClass::PanelQuery,
                metric: SloMetric::P99,
                max: 400.0,
            },
            Slo {
                class: RequestClass::PanelQuery,
                metric: SloMetric::ErrorRate,
                max: 0.01,
            },
            Slo {
                class: RequestClass::IngestBatch,
                metric: SloMetric::MsPerPoint,
                max: 0.05,
            },
        ],
        started_at: started,
        ended_at: Some(started + chrono::Duration::seconds(seconds as i64)),
        interrupted: false,
        ladder_stop: None,
        counters: RunCounters::default(),
        regression: Default::default(),
        overrides: Vec::new(),
        past_capacity: Default::default(),
        skipped: Vec::new(),
        judged_holds: Default::default(),
    }
}

/// A request name and its base latency (ms), drawn with the run's mix.
fn pick_name(rng: &mut ChaCha8Rng, buf: &mut String) -> f64 {
    use std::fmt::Write as _;
    buf.clear();
    let r: f64 = rng.random();
    let range = RANGES[rng.random_range(0..RANGES.len())];
    let range_cost = 1.0 + RANGES.iter().position(|x| *x == range).unwrap_or(0) as f64 * 0.3;
    if r < 0.70 {
        let panel = rng.random_range(0..PANELS.len());
        let _ = write!(buf, "panel {} [{range}]", PANELS[panel]);
        30.0 * range_cost * (1.0 + panel as f64 * 0.1)
    } else if r < 0.80 {
        let _ = write!(buf, "load Toggl overview [{range}]");
        150.0 * range_cost
    } else if r < 0.88 {
        buf.push_str(if rng.random::<bool>() {
            "variable project"
        } else {
            "variable client"
        });
        8.0
    } else if r < 0.90 {
        buf.push_str("dashboard toggl-overview");
        5.0
    } else if r < 0.96 {
        buf.push_str("sync write");
        60.0
    } else if r < 0.98 {
        buf.push_str("sync fetch");
        20.0
    } else {
        buf.push_str("sync transform");
        2.0
    }
}

impl Synthetic {
    /// Write the run folder into `dir` (which must exist); returns its `run.json`.
    pub fn write(&self, dir: &Path) -> Result<RunMeta> {
        let seconds = (self.rows / 2000).max(120);
        let mut meta = meta(seconds, self.seed);
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        // Expected rate ∝ min(viewers, SATURATION), integrated over time: rows
        // are placed at equal steps of that integral so elapsed stays sorted.
        let step_ms = 100u64;
        let end_ms = seconds * 1000;
        let rate = |t: u64| viewers_at(&meta.windows, t).min(SATURATION as f64).max(0.5);
        let total: f64 = (0..end_ms / step_ms).map(|i| rate(i * step_ms)).sum();
        let path = dir.join(files::REQUESTS);
        let file = File::create(&path).map_err(|e| Error::io(&path, e))?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        let io = |e| Error::io(&path, e);
        writeln!(out, "{REQUESTS_HEADER}").map_err(io)?;
        let mut name = String::new();
        let mut written = 0u64;
        let mut acc = 0.0;
        let mut counters = RunCounters::default();
        for slot in 0..end_ms / step_ms {
            let t0 = slot * step_ms;
            let viewers = viewers_at(&meta.windows, t0);
            acc += rate(t0) / total * self.rows as f64;
            let due = (acc.round() as u64).min(self.rows);
            let slow = 1.0 + (viewers - 60.0).max(0.0) / 15.0;
            while written < due {
                let elapsed = t0 + rng.random_range(0..step_ms);
                let base = pick_name(&mut rng, &mut name);
                let u: f64 = rng.random::<f64>().max(1e-12);
                let ms = base * slow * self.latency_factor * (0.6 + 0.6 * -u.ln());
                let us = (ms * 1000.0) as u64;
                let e: f64 = rng.random();
                let shed = if viewers > 100.0 { 0.05 } else { 0.0 };
                let (status, error) = if e < shed {
                    (503, "503 Service Unavailable: shed")
                } else if e < shed + 0.002 + self.extra_error_rate {
                    (500, "500 Internal Server Error: influxdb")
                } else if e < shed + 0.003 + self.extra_error_rate {
                    (400, "query error: error parsing query: found EOF, expected FROM at line 1, char 42")
                } else if e < shed + 0.0035 + self.extra_error_rate {
                    (0, "error sending request: operation timed out")
                } else {
                    (200, "")
                };
                let ok = status == 200;
                if name.starts_with("load") && ok {
                    counters.dashboard_loads += 1;
                }
                writeln!(
                    out,
                    "{elapsed},0,viewer,1,,\"GooseRawRequest {{ method: Post, url: \"\"/api/ds/query?n={written}\"\", headers: [], body: \"\"{{\"\"q\"\":\"\"SELECT sum(\"\"hours\"\") FROM entries\"\"}}\"\", custom_method: \"\"\"\" }}\",{name},/api/ds/query,false,{},{status},{ok},false,{},\"{error}\",0,0,{us}",
                    us / 1000,
                    written % 120,
                )
                .map_err(io)?;
                written += 1;
            }
        }
        out.flush().map_err(io)?;
        counters.missed_refreshes = (self.rows / 5000).max(1);
        self.write_ingest(dir, seconds, &mut rng, &mut counters)?;
        meta.counters = counters;
        meta.store(dir)?;
        Ok(meta)
    }

    fn write_ingest(
        &self,
        dir: &Path,
        seconds: u64,
        rng: &mut ChaCha8Rng,
        counters: &mut RunCounters,
    ) -> Result<()> {
        let path = dir.join(files::INGEST);
        let io = |e| Error::io(&path, e);
        let mut out = BufWriter::new(File::create(&path).map_err(io)?);
        writeln!(out, "{INGEST_HEADER}").map_err(io)?;
        for batch in 0..seconds / 2 {
            let points = 5000u64;
            let duration_us =
                (rng.random_range(60_000..140_000) as f64 * self.latency_factor) as u64;
            let ok = rng.random::<f64>() > 0.01;
            writeln!(
                out,
                "{},{points},{},{duration_us},{},{ok}",
                batch * 2000 + rng.random_range(0..500),
                points * 60,
                if ok { 204 } else { 500 }
            )
            .map_err(io)?;
            counters.batches += 1;
            if ok {
                counters.points_written += points;
            }
            counters.entries += points / 4;
        }
        out.flush().map_err(io)
    }
}

/// A synthetic smoke run: the rows of [`write_run`], with `run.json` giving
/// one 10 s ramp and one hold at 20 viewers over the rest, no stress ladder.
pub fn write_smoke(dir: &Path, rows: u64, seed: u64) -> Result<RunMeta> {
    let mut meta = write_run(dir, rows, seed)?;
    let end = meta.windows.iter().map(|w| w.end_ms).max().unwrap_or(0);
    meta.scenario = "synthetic smoke".into();
    meta.test_plan = format!("20,10s;20,{}s;0,0s", end / 1000 - 10);
    meta.windows = vec![
        StageWindow {
            name: "stage 1 ramp".into(),
            kind: WindowKind::Ramp,
            viewers: 20,
            start_ms: 0,
            end_ms: 10_000,
        },
        StageWindow {
            name: "stage 1 hold".into(),
            kind: WindowKind::Hold,
            viewers: 20,
            start_ms: 10_000,
            end_ms: end,
        },
    ];
    meta.store(dir)?;
    Ok(meta)
}

/// A synthetic run of `rows` requests whose `run.json` cuts it into `windows`
/// equal windows: a long stress ladder's shape (ramp, then a hold or a stress
/// step, in turn), for the report's scale with many windows.
pub fn write_many_windows(dir: &Path, rows: u64, windows: usize, seed: u64) -> Result<RunMeta> {
    let mut meta = write_run(dir, rows, seed)?;
    let end = meta.windows.iter().map(|w| w.end_ms).max().unwrap_or(0);
    let n = windows.max(1) as u64;
    meta.windows = (0..n)
        .map(|i| {
            let kind = match i % 4 {
                0 | 2 => WindowKind::Ramp,
                1 => WindowKind::Hold,
                _ => WindowKind::StressStep,
            };
            StageWindow {
                name: format!("window {i}"),
                kind,
                viewers: 1 + i as usize / 2,
                start_ms: i * end / n,
                end_ms: (i + 1) * end / n,
            }
        })
        .collect();
    meta.store(dir)?;
    Ok(meta)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_synthetic_run_is_complete_and_repeatable() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let meta = write_run(a.path(), 5000, 3).unwrap();
        write_run(b.path(), 5000, 3).unwrap();
        let text = std::fs::read_to_string(a.path().join(files::REQUESTS)).unwrap();
        assert_eq!(text.lines().count(), 5001);
        assert_eq!(
            text,
            std::fs::read_to_string(b.path().join(files::REQUESTS)).unwrap()
        );
        assert_eq!(RunMeta::load(a.path()).unwrap(), meta);
        assert_eq!(meta.windows.len(), 8);
        assert!(a.path().join(files::INGEST).exists());
        let mut last = 0;
        for line in text.lines().skip(1) {
            let elapsed: u64 = line.split(',').next().unwrap().parse().unwrap();
            assert!(elapsed + 100 >= last, "elapsed goes forward");
            last = last.max(elapsed);
        }
    }
}
