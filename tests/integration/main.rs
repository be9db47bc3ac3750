//! dashload's integration tests: one binary (see STYLE.md), one module per area.
//!
//! - `cli`: exit codes and messages of the built binary.
//! - `book`: the README's length, the book's SUMMARY.md and every relative link and anchor.
//! - `bad_scenarios`: every bad scenario exits 2 with its location and value.
//! - `real_influx`: against a real InfluxDB 1.x (`influxd`), skipped with a message when absent.
//! - `dashboard_vars`: the `vars-*` dashboards settled and sent as Grafana does, against influxd;
//!   `check` snapshots under tests/snapshots/.
//! - `server_counts`: dashload's HTTP counts against influxd's own `SHOW STATS`.
//! - `server_metrics`: `[server_metrics]` scraping influxd's `/debug/vars`, and the report's count check.
//! - `trigger`: the trigger sync source against a stand-in sync service.
//! - `smoke_run`: an end-to-end run of scenarios/smoke.toml against the embedded sandbox.
//! - `progress`: the report's progress bar, on a pseudo-terminal and off one.
//! - `live_status`: a run's live status line on and off a terminal, and `cpu.csv`.
//! - `lifecycle`: a run ends on its plan against a target that never answers; signals
//!   (SIGTERM, a second Ctrl-C, during preflight) and `dashload report`'s recovery.
//! - `refine`: `[stress] refine` narrows the capacity bracket on a slowed sandbox.
//! - `faults`: the binary against `fault_target` (a misbehaving InfluxDB on loopback):
//!   malformed and huge answers, CR/LF in errors, echoed credentials, Retry-After.
//! - `history_baseline`: `--baseline median:N` over a history of real runs, and the
//!   CI outputs (`--junit` against the JUnit schema, `--markdown`, summary.json's schema).
//! - `damaged_runs`: damaged folders in the reports folder never cost the next run, the
//!   index or a report (FIFOs, links to devices, garbage, multi-GB files, absurd spans).
//! - `killed_run`: `kill -9` mid-run loses at most the last second of each log.
//! - `ops_small`: Ctrl-C on a manager waiting for workers (130), a worker's unusable
//!   manager URL (2 at once), `local:N` leaving no temp folder.
//! - `history`: `history.json`, `reports/index.html`, `--keep N` and `dashload index`.
//! - `prometheus_endpoint`: `[server_metrics]` scraping a real Prometheus `/metrics`
//!   (Debian's prometheus-node-exporter).
//! - `scheduled_faults`: `[[faults]]` against the sandbox (each kind in its window only), command
//!   faults (Ctrl-C runs the stop, a failing start stops the run, `tc netem` in a namespace).
//! - `sample_plan`: what `check` plans per hold and figure against what smoke collected; `run`
//!   warns and `check --strict` exits 2 when a hold cannot judge an SLO.
//! - `judged_hold`: a hold "until judged, at most X" that ends once every figure has its
//!   samples, and one that reaches its cap (not judged, and the report says so).
//! - `ladder_stop`: a ladder that stops cites one count and figure in its banner, the
//!   stopped step's row, its SLO and the capacity line.
//! - `request_times`: each panel query's log row is stamped when it ends, not at its load's end.
//! - `old_and_flux_dashboards`: Grafana 2–4 exports migrated and run against influxd; Flux
//!   skipped on influxdb1 (check, summary.json, exit 2) and sent to `/api/v2/query` on influxdb2.
//! - `cluster`: distributed runs on loopback, a manager and worker processes: one exact
//!   report, the merged ladder stop, a killed worker (abort and continue), Ctrl-C on the
//!   manager, SIGTERM on a worker, a vanished manager, refusals, local workers' logs, a
//!   link cut in network namespaces.
//! - `cluster_upload`: a worker's streamed file uploads to a real manager: a 40 MiB file
//!   arrives intact; a corrupted, short or cut body leaves nothing under its name; an
//!   upload in progress keeps its worker alive.
//! - `cluster_workload`: one process and three local workers send the same queries.

mod bad_scenarios;
mod book;
mod busy_refresh;
mod cli;
mod cluster;
mod cluster_trust;
mod cluster_upload;
mod cluster_workload;
mod damaged_runs;
mod dashboard_vars;
mod deploy;
mod env_overrides;
mod export;
mod fault_target;
mod faults;
mod history;
mod history_baseline;
mod influxd;
mod judged_hold;
mod killed_run;
mod ladder_stop;
mod lifecycle;
mod live_official_client;
mod live_status;
mod live_viewers;
mod old_and_flux_dashboards;
mod ops_small;
mod progress;
mod prometheus_endpoint;
mod real_influx;
mod recovery;
mod refine;
mod request_times;
mod sample_plan;
mod scheduled_faults;
mod server_counts;
mod server_metrics;
mod smoke_run;
mod trigger;
mod util;
