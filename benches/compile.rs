//! Compile-side benchmark: parse + lower + check generated bots of 1k, 10k
//! and 100k cells, in YAML and in the DSL. Results: docs/PERFORMANCE.md.

use std::hint::black_box;
use std::path::Path;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

use cellflow::project::Project;

fn check(name: &str, text: &str) -> usize {
    let mut project = Project::new();
    project.add_bytes(name, Path::new(name), text.as_bytes());
    let checked = cellflow::check::check(project);
    assert!(checked.diagnostics.is_empty(), "generated bots are clean");
    checked.lowered.graph.node_count()
}

fn compile(c: &mut Criterion) {
    let mut group = c.benchmark_group("check");
    group.sample_size(10);
    for cells in [1_000, 10_000, 100_000] {
        let dsl = cellflow::generate::dsl_bot(cells);
        let yaml = cellflow::generate::yaml_bot(cells);
        group.throughput(Throughput::Elements(cells as u64));
        group.bench_with_input(BenchmarkId::new("dsl", cells), &dsl, |b, text| {
            b.iter(|| check("bench.flow", black_box(text)));
        });
        group.bench_with_input(BenchmarkId::new("yaml", cells), &yaml, |b, text| {
            b.iter(|| check("bench.flow.yaml", black_box(text)));
        });
    }
    group.finish();
}

criterion_group!(benches, compile);
criterion_main!(benches);
