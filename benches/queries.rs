//! Time to expand every panel query of the shipped dashboard for one dashboard
//! load: what each simulated viewer pays per refresh before sending anything.
//!
//! Setup (load, parse, compile templates) is outside the timed loop; the loop
//! covers resolving the range, interpolating variables, expanding backend
//! macros and, for the Grafana path, building every `/api/ds/query` body.
//! Also judging an answer, which every panel query pays on its way back.

use std::hint::black_box;
use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion};
use dashload::runfolder::AnswerTotals;
use dashload::target::body::{BodyScan, Format, Reading, DEFAULT_MAX_BODY};
use dashload::target::judge_query;
use dashload::workload::dashboard::{self, Selection, Trigger, View};

const NOW: i64 = 1_763_856_000_000;

fn bench(c: &mut Criterion) {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/dashboards/toggl-overview.json");
    let dash = dashboard::load(&path).expect("shipped dashboard loads");
    let all = dash.saved_selections();
    let mut picked = dash.saved_selections();
    let some = |v: &[&str]| Selection::Values(v.iter().map(|s| s.to_string()).collect());
    picked
        .set(&dash.variables, "client", some(&["Acme Corp", "Globex"]))
        .unwrap();
    picked
        .set(
            &dash.variables,
            "user",
            some(&["alice", "bob.smith", "carol"]),
        )
        .unwrap();

    let mut g = c.benchmark_group("dashboard_load");
    for (label, sel) in [("all", &all), ("picked", &picked)] {
        g.bench_function(format!("influxql_12_panels/{label}"), |b| {
            b.iter(|| {
                let view = View::new(&dash, &dash.time, black_box(NOW), sel);
                black_box(view.panel_requests())
            })
        });
        g.bench_function(format!("ds_query_bodies_12_panels/{label}"), |b| {
            b.iter(|| {
                let view = View::new(&dash, &dash.time, black_box(NOW), sel);
                let reqs = view.panel_requests();
                let bodies: Vec<String> = reqs.iter().map(|r| view.ds_query_body(r)).collect();
                black_box((reqs, bodies))
            })
        });
    }
    g.bench_function("variable_queries_on_load", |b| {
        b.iter(|| {
            let view = View::new(&dash, &dash.time, black_box(NOW), &picked);
            black_box(view.variable_requests(Trigger::Load))
        })
    });
    g.finish();

    c.bench_function("load_and_compile_dashboard", |b| {
        b.iter(|| black_box(dashboard::load(&path).unwrap()))
    });

    // A clean 1 MB InfluxDB answer (the common case), read as it streams in
    // 16 KB chunks: shape-checked and its series counted, then judged.
    let mut answer = String::from(
        r#"{"results":[{"statement_id":0,"series":[{"name":"time_entry","columns":["time","hours"],"values":["#,
    );
    while answer.len() < 1 << 20 {
        answer.push_str("[1763856000000,12.5],");
    }
    answer.push_str("[1763856000000,1]]}]}]}");
    c.bench_function("judge_clean_1mb_answer", |b| {
        b.iter(|| {
            let reading = Reading::query(Format::Json, DEFAULT_MAX_BODY, false)
                .counting(Some(AnswerTotals::INFLUX_SERIES));
            let mut scan = BodyScan::new(reading);
            for chunk in answer.as_bytes().chunks(16 * 1024) {
                scan.feed(chunk);
            }
            black_box(judge_query(200, &scan.finish(), false))
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
