//! Workload benchmarks: how fast dashload can make what its users send.
//!
//! `toggl`: Toggl entries generated and turned into line protocol (the sync
//! job's and the sandbox backfill's hot path), and each half alone; the goal
//! is ≥ 1,000,000 entries/s on one core for both together (BENCH.md).
//! Seeded, the world and names built outside the timed loop.
//!
//! Run: `cargo bench --bench workload` (or `bench/toggl_throughput.sh`).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use dashload::workload::line_protocol::Names;
use dashload::workload::toggl::{EntryGenerator, TimeEntry, World, WorldConfig};

const SEED: u64 = 42;
/// Wednesday 2025-11-19 14:00 UTC.
const NOW: i64 = 1_763_560_800;
/// Four weeks: ~4,000 entries with the default 50-user world.
const FROM: i64 = NOW - 28 * 86_400;

fn toggl(c: &mut Criterion) {
    let world = World::generate(SEED, &WorldConfig::default());
    let names = Names::from_world(&world);
    let base = EntryGenerator::new(&world, SEED, FROM, NOW);
    let entries: Vec<TimeEntry> = base.clone().collect();
    let n = entries.len() as u64;
    let mut buf = Vec::with_capacity(1 << 20);

    let mut group = c.benchmark_group("toggl");
    group.throughput(Throughput::Elements(n));
    group.bench_function("generate+line_protocol", |b| {
        b.iter(|| {
            buf.clear();
            for e in base.reframe(FROM, NOW, NOW) {
                let _ = names.write_entry(&e, NOW, &mut buf);
            }
            black_box(buf.len())
        })
    });
    group.bench_function("generate", |b| {
        b.iter(|| {
            base.reframe(FROM, NOW, NOW)
                .map(|e| black_box(e).id)
                .sum::<u64>()
        })
    });
    group.bench_function("line_protocol", |b| {
        b.iter(|| {
            buf.clear();
            black_box(names.write_entries(&entries, NOW, &mut buf))
        })
    });
    group.bench_function("count_only", |b| {
        b.iter(|| base.reframe(FROM, NOW, NOW).count())
    });
    group.finish();
}

criterion_group!(benches, toggl);
criterion_main!(benches);
