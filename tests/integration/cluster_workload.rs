//! One workload in every mode (issue 26 item 3): one process and three local
//! workers, with the same scenario and seed, send the same multiset of queries,
//! as the target itself counts them (the sandbox's per-query counters).

use std::collections::BTreeMap;
use std::path::Path;

use dashload::sandbox::{Sandbox, SandboxConfig};

use crate::util::{dashload, text, workspace, ATTACK};

/// Nine viewers that each open the dashboard exactly once within the hold
/// (phase under 1 s, then an hour's think), so what they send depends only on
/// their random streams, not on timing. No sync job: the data stays as seeded.
fn scenario(url: &str) -> String {
    format!(
        r#"name = "one-workload"
seed = 13
[target]
kind = "influxdb1"
url = "{url}"
database = "toggl"
[viewers]
dashboard = "dashboards/toggl-overview.json"
refresh = "1s"
refreshes_per_visit = 0
think_time = "1h..1h"
[[viewers.time_ranges]]
from = "now-24h"
weight = 1
[[viewers.time_ranges]]
from = "now-7d"
weight = 1
[[viewers.time_ranges]]
from = "now-30d"
weight = 1
[viewers.variables.project]
all = 1
one = 2
some = 1
[viewers.variables.user]
all = 1
one = 2
[sync]
users = 0
[[stages]]
users = 9
ramp = "1s"
hold = "5s"
"#
    )
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// What the sandbox counted per query text while `args` ran in `dir`.
fn queries_sent(sandbox: &Sandbox, dir: &Path, args: &[&str]) -> BTreeMap<String, u64> {
    let before = sandbox.counters().queries;
    let out = dashload(dir, args);
    assert!(out.status.success(), "{args:?}\n{}", text(&out));
    let mut sent = sandbox.counters().queries;
    for (q, n) in before {
        let left = sent.get_mut(&q).unwrap();
        *left -= n;
        if *left == 0 {
            sent.remove(&q);
        }
    }
    sent
}

#[test]
fn one_process_and_three_local_workers_send_the_same_queries() {
    let _one = ATTACK.lock().unwrap_or_else(|e| e.into_inner());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let sandbox = runtime
        .block_on(Sandbox::start(SandboxConfig::default()))
        .unwrap();
    let dir = workspace();
    std::fs::write(
        dir.path().join("scenarios/one.toml"),
        scenario(&sandbox.url()),
    )
    .unwrap();
    let single = queries_sent(
        &sandbox,
        dir.path(),
        &["run", "scenarios/one.toml", "--reports-dir", "single"],
    );
    let listen = format!("127.0.0.1:{}", free_port());
    let distributed = queries_sent(
        &sandbox,
        dir.path(),
        &[
            "run",
            "scenarios/one.toml",
            "--reports-dir",
            "distributed",
            "--workers",
            "local:3",
            "--listen",
            &listen,
        ],
    );
    // Each process checks the target once before its load: the only difference.
    let preflight = |mut sent: BTreeMap<String, u64>| (sent.remove("SHOW DATABASES"), sent);
    let (single_checks, single) = preflight(single);
    let (worker_checks, distributed) = preflight(distributed);
    assert_eq!((single_checks, worker_checks), (Some(1), Some(3)));
    // Nine dashboard opens, each with its three variable queries.
    let variables = single
        .iter()
        .filter(|(q, _)| q.starts_with("SHOW TAG VALUES"));
    assert_eq!(variables.map(|(_, n)| n).sum::<u64>(), 27, "{single:#?}");
    assert!(single.len() > 20, "{single:#?}");
    assert_eq!(single, distributed);
    runtime.block_on(sandbox.stop());
}
