//! A panel query's request-log row is stamped when that query completes, not
//! when its whole dashboard load does: Goose stamps a custom request with the
//! time it is recorded, and recording every query after the load put them all
//! at the load's end (wrong second, wrong window near an edge, and a count
//! check against the server's counters that failed under load).

use crate::util::{dashload, text, workspace};

/// 3 viewers for 8 s against a sandbox whose queries cost 3× their calibrated
/// time, so a load's panels end tens of ms apart.
const SLOWED: &str = "name = \"times\"\nseed = 5\n[viewers]\ndashboard = \"dashboards/toggl-overview.json\"\n\
    refresh = \"1s\"\n[sync]\nusers = 0\n[sandbox]\nquery_cost = 3.0\n[[stages]]\nusers = 3\nramp = \"1s\"\nhold = \"8s\"\n";

#[test]
fn each_panel_query_is_logged_when_it_ends_not_when_its_load_ends() {
    let dir = workspace();
    std::fs::write(dir.path().join("scenarios/times.toml"), SLOWED).unwrap();
    let out = dashload(dir.path(), &["run", "scenarios/times.toml", "--no-report"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let run = std::fs::read_dir(dir.path().join("reports"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_dir())
        .unwrap();
    let mut log = csv::Reader::from_path(run.join("requests.csv")).unwrap();
    let headers = log.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (elapsed, name, user) = (col("elapsed"), col("name"), col("user"));
    // Per user, the panel rows since its last load row belong to the next load.
    let mut pending: std::collections::HashMap<String, Vec<u64>> = Default::default();
    let (mut loads, mut spread) = (0, 0);
    for row in log.records() {
        let row = row.unwrap();
        let t: u64 = row[elapsed].parse().unwrap();
        if row[name].starts_with("panel ") {
            pending.entry(row[user].to_string()).or_default().push(t);
        } else if row[name].starts_with("load ") {
            let panels = pending.remove(&row[user]).unwrap_or_default();
            assert!(
                panels.iter().all(|&p| p <= t),
                "a panel ended after its load: {panels:?} > {t}"
            );
            if panels.len() >= 2 {
                loads += 1;
                // The first panel to finish ended well before the load did.
                if t - panels.iter().min().unwrap() >= 10 {
                    spread += 1;
                }
            }
        }
    }
    assert!(loads >= 5, "only {loads} loads with several panels");
    assert!(
        spread * 2 >= loads,
        "in {spread} of {loads} loads the first panel row ended ≥ 10 ms before the load's row"
    );
}
