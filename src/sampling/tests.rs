use super::*;

fn scenario(name: &str) -> Scenario {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    Scenario::load(&root.join("scenarios").join(name)).unwrap()
}

fn figure<'a>(w: &'a WindowPlan, name: &str, purpose: Purpose) -> &'a FigurePlan {
    w.figures
        .iter()
        .find(|f| f.name() == name && f.purpose == purpose)
        .unwrap_or_else(|| panic!("no {name}"))
}

#[test]
fn staged_stage_one_is_planned_as_the_issue_measured_it() {
    // Issue 21, staged as it was at b9d6017: the 30 s hold at 50 viewers
    // collected 50 dashboard loads and 12 ingest batches, and three SLOs went
    // unjudged.
    let mut s = scenario("staged.toml");
    s.stages[0] = Stage {
        users: 50,
        ramp: Duration::from_secs(15),
        hold: Duration::from_secs(30),
        until_judged: false,
    };
    s.sync.batch_size = 500;
    let plan = SamplePlan::of(&s);
    let w = &plan.windows[0];
    assert_eq!(
        (w.name.as_str(), w.viewers, w.stage),
        ("stage 1 hold", 50, 0)
    );
    let loads = figure(w, "dashboard_load.error_rate", Purpose::Slo);
    assert!((45.0..=55.0).contains(&loads.planned.unwrap()), "{loads:?}");
    assert_eq!(loads.needed, 100);
    let batches = figure(w, "ingest_batch.p95", Purpose::Slo);
    assert_eq!(batches.planned.map(f64::round), Some(12.0));
    assert_eq!(batches.needed, 20);
    let panels = figure(w, "panel_query.p99", Purpose::Slo).planned.unwrap();
    assert!(
        (panels - loads.planned.unwrap() * 10.0).abs() < 1e-6,
        "10 panels a load"
    );
    let unjudged: Vec<String> = w.unjudged_slos().map(FigurePlan::name).collect();
    assert_eq!(
        unjudged,
        [
            "dashboard_load.error_rate",
            "ingest_batch.p95",
            "ingest_batch.error_rate"
        ]
    );
    // The gate's percentile needs five times an SLO's.
    assert_eq!(
        figure(w, "dashboard_load.p95", Purpose::Regression).needed,
        100
    );
    let warnings = plan.warnings();
    assert!(!warnings.is_empty());
    assert!(
        warnings[0]
            .starts_with("stage 1 hold (50 viewers, 30s) cannot judge dashboard_load.error_rate"),
        "{}",
        warnings[0]
    );
}

#[test]
fn the_shortest_hold_judges_what_the_planned_one_cannot() {
    let mut s = scenario("staged.toml");
    s.stages[0].hold = Duration::from_secs(30);
    let plan = SamplePlan::of(&s);
    let shortest = plan.windows[0].shortest_hold(Some(Purpose::Slo)).unwrap();
    assert!(shortest > Duration::from_secs(30), "{shortest:?}");
    s.stages[0].hold = Duration::from_secs(shortest.as_secs() + 1);
    let longer = SamplePlan::of(&s);
    assert_eq!(
        longer.windows[0].unjudged_slos().count(),
        0,
        "{:?}",
        longer.warnings()
    );
    // A second short of it leaves something unjudged.
    s.stages[0].hold = Duration::from_secs(shortest.as_secs().saturating_sub(2));
    assert!(SamplePlan::of(&s).windows[0].unjudged_slos().count() > 0);
}

#[test]
fn planned_samples_grow_with_the_hold_and_the_viewers() {
    let mut s = scenario("smoke.toml");
    // A fixed hold: what it collects follows its length.
    s.stages[0].until_judged = false;
    let base = SamplePlan::of(&s).windows[0].figures[0].planned.unwrap();
    s.stages[0].hold *= 2;
    let longer = SamplePlan::of(&s).windows[0].figures[0].planned.unwrap();
    assert!(
        longer > base * 1.7 && longer < base * 2.3,
        "{base} → {longer}"
    );
    s.stages[0].users *= 2;
    let more = SamplePlan::of(&s).windows[0].figures[0].planned.unwrap();
    assert!(
        more > longer * 1.7 && more < longer * 2.3,
        "{longer} → {more}"
    );
}

#[test]
fn the_gate_needs_four_blocks_whatever_the_counts() {
    let mut s = scenario("smoke.toml");
    s.stages[0].hold = Duration::from_secs(6);
    let plan = SamplePlan::of(&s);
    let rate = figure(
        &plan.windows[0],
        "panel_query.error_rate",
        Purpose::Regression,
    );
    assert!(rate.planned.unwrap() > 1.0);
    assert!(
        !rate.judged(plan.windows[0].length),
        "6 s is 3 blocks of 2 s"
    );
    assert!(rate.judged(Duration::from_secs(8)));
}

#[test]
fn goose_launches_a_steps_users_evenly_sync_users_first() {
    let plan = Plan::build(
        &[Stage {
            users: 4,
            ramp: Duration::from_secs(10),
            hold: Duration::from_secs(10),
            until_judged: false,
        }],
        None,
        1,
    );
    let l = lifetimes(&plan);
    assert_eq!(l.sync, [(0, 20_800)], "stopped last by the final ramp down");
    let starts: Vec<u64> = l.viewers.iter().map(|v| v.0).collect();
    assert_eq!(starts, [2_000, 4_000, 6_000, 8_000]);
}

#[test]
fn the_hold_line_is_found_for_strict_errors() {
    let s = scenario("staged.toml");
    let text = std::fs::read_to_string(&s.path).unwrap();
    let at = hold_location(&s, 1);
    let line: usize = at.rsplit(':').nth(1).unwrap().parse().unwrap();
    assert_eq!(text.lines().nth(line - 1).unwrap().trim(), "hold = \"30s\"");
}

#[test]
fn every_shipped_scenario_plans_the_samples_of_every_slo_on_its_holds() {
    for name in ["smoke.toml", "staged.toml", "resilience.toml", "soak.toml"] {
        let plan = SamplePlan::of(&scenario(name));
        assert!(!plan.windows.is_empty(), "{name}");
        assert_eq!(plan.warnings(), Vec::<String>::new(), "{name}");
    }
}

#[test]
fn an_until_judged_hold_is_planned_at_the_shortest_hold_that_judges_it() {
    let mut s = scenario("smoke.toml");
    assert!(s.stages[0].until_judged);
    let w = SamplePlan::of(&s).windows[0].clone();
    let judged = w.shortest_hold(None).unwrap();
    assert!(w.length < s.stages[0].hold, "{w:?}");
    assert_eq!(w.length, Duration::from_secs(judged.as_secs() + 1));
    assert!(w.figures.iter().all(|f| f.judged(w.length)), "{w:?}");
    // A cap below it: planned at the cap, and not judged.
    s.stages[0].hold = Duration::from_secs(10);
    let capped = SamplePlan::of(&s).windows[0].clone();
    assert_eq!(capped.length, Duration::from_secs(10));
    assert!(capped.figures.iter().any(|f| !f.judged(capped.length)));
}

#[test]
fn check_names_the_percentile_the_gate_judges_in_place_of_one_it_lacks_samples_for() {
    let mut s = scenario("smoke.toml");
    s.stages[0].until_judged = false;
    s.stages[0].hold = Duration::from_secs(20);
    let plan = SamplePlan::of(&s);
    let w = &plan.windows[0];
    let p95 = figure(w, "dashboard_load.p95", Purpose::Regression);
    let loads = p95.planned.unwrap();
    assert!(loads < 100.0, "{p95:?}");
    // The gate's own rule, on the loads expected.
    let gate = crate::report::baseline::window_plan(
        &[SloMetric::P50, SloMetric::P95, SloMetric::ErrorRate]
            .into_iter()
            .collect(),
        Some(loads as u64),
        true,
    );
    assert!(
        matches!(
            gate.iter().find(|(m, _)| *m == SloMetric::P95),
            Some((
                _,
                Choice::Replaced {
                    instead: SloMetric::P50,
                    ..
                }
            ))
        ),
        "{gate:?}"
    );
    assert_eq!(p95.instead, Some(SloMetric::P50));
    assert!(!p95.judged(w.length));
    assert!(figure(w, "dashboard_load.p50", Purpose::Regression).judged(w.length));
    let table = plan.table();
    let row = table
        .lines()
        .find(|l| l.contains("dashboard_load.p95") && l.contains("regression"))
        .unwrap();
    assert!(row.contains("→ p50") && !row.contains("NO"), "{row}");
    assert!(
        table.contains(
            "too few for dashboard_load.p95 (100 needed): the gate judges p50 in its place"
        ),
        "{table}"
    );
    // Panel queries have their samples: judged as they are.
    assert_eq!(
        figure(w, "panel_query.p95", Purpose::Regression).instead,
        None
    );
    // Held until judged, p95 has its loads and is judged itself.
    let judged = SamplePlan::of(&scenario("smoke.toml"));
    let p95 = figure(
        &judged.windows[0],
        "dashboard_load.p95",
        Purpose::Regression,
    );
    assert_eq!(p95.instead, None, "{p95:?}");
    assert!(p95.judged(judged.windows[0].length));
}

#[test]
fn ladder_steps_are_planned_with_their_slos_and_stop_rule() {
    let s = scenario("staged.toml");
    let stress = s.stress.clone().unwrap();
    let plan = SamplePlan::of(&s);
    let steps: Vec<&WindowPlan> = plan.windows.iter().filter(|w| w.step.is_some()).collect();
    let last = s.stages.last().unwrap().users;
    let expected = (stress.ceiling - last).div_ceil(stress.step);
    assert_eq!(steps.len(), expected, "{:?}", plan.windows);
    for (i, w) in steps.iter().enumerate() {
        assert_eq!(w.step, Some(i + 1));
        assert_eq!(w.name, format!("step {}", i + 1));
        assert_eq!(
            w.viewers,
            (last + (i + 1) * stress.step).min(stress.ceiling)
        );
        assert_eq!(w.length, stress.hold);
        // Every SLO, then every stop-rule term; no regression figure.
        assert_eq!(
            w.figures.len(),
            s.slos.len() + stress.stop_when.len(),
            "{w:?}"
        );
        assert!(w.figures.iter().all(|f| f.purpose != Purpose::Regression));
        let stop = w
            .figures
            .iter()
            .find(|f| f.purpose == Purpose::StopRule && f.metric == SloMetric::ErrorRate)
            .unwrap();
        let term = stress
            .stop_when
            .iter()
            .find(|t| t.metric == SloMetric::ErrorRate)
            .unwrap();
        assert_eq!(
            stop.needed,
            samples_needed(term),
            "the judgement's own rule"
        );
        assert_eq!(stop.max, Some(term.max));
    }
    // More viewers, more loads over the same hold.
    let loads = |w: &WindowPlan| {
        figure(w, "dashboard_load.error_rate", Purpose::Slo)
            .planned
            .unwrap()
    };
    assert!(
        loads(steps[1]) > loads(steps[0]) * 1.3,
        "{} → {}",
        loads(steps[0]),
        loads(steps[1])
    );
    // A step is planned as the same load written as one more stage would be.
    let mut staged = s.clone();
    staged.stress = None;
    staged.recovery = None;
    staged.stages.push(Stage {
        users: steps[0].viewers,
        ramp: stress.ramp,
        hold: stress.hold,
        until_judged: false,
    });
    let as_stage = SamplePlan::of(&staged);
    let stage = as_stage.windows.last().unwrap();
    assert_eq!(stage.viewers, steps[0].viewers);
    assert!(
        (loads(stage) - loads(steps[0])).abs() < 1e-9,
        "{} vs {}",
        loads(stage),
        loads(steps[0])
    );
    let table = plan.table();
    assert!(
        table
            .lines()
            .any(|l| l.trim_start().starts_with("step 1 ") && l.contains("stop rule")),
        "{table}"
    );
    assert!(
        table.contains("step 1 (30s): every SLO judged from a"),
        "{table}"
    );
    // `--strict` errors point at [stress]'s hold.
    let text = std::fs::read_to_string(&s.path).unwrap();
    let at = steps[0].location(&s);
    let line: usize = at.rsplit(':').nth(1).unwrap().parse().unwrap();
    assert_eq!(text.lines().nth(line - 1).unwrap().trim(), "hold = \"30s\"");
    assert!(text.lines().take(line).any(|l| l.trim() == "[stress]"));
    assert!(text
        .lines()
        .take(line)
        .skip_while(|l| l.trim() != "[stress]")
        .all(|l| !l.trim().starts_with("[[stages]]")));
}
