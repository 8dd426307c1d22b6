//! Times each phase of loading the generated 100k-cell bot with 10,000
//! varied intent patterns (the `patterns` benchmark's bot): parsing,
//! checking, compiling. A quick look before `cargo bench --bench patterns`.
//! `cargo run --release --example loadphases -- [CELLS] [RUNS]`; with
//! `LOADPHASES_SOURCE_ONLY` set, the artifact is not timed (for callgrind).

// The `cellflow` binary's allocator, as in `benches/patterns.rs`.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::Path;
use std::time::{Duration, Instant};

fn main() {
    let mut args = std::env::args().skip(1);
    let cells: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let runs: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(3);
    let text = cellflow::generate::dsl_bot_with(cells, cellflow::generate::varied_pattern);
    let mut best = [Duration::MAX; 3];
    for _ in 0..runs {
        let start = Instant::now();
        let mut project = cellflow::project::Project::new();
        project.add_bytes("gen.flow", Path::new("gen.flow"), text.as_bytes());
        let parsed = start.elapsed();
        let start = Instant::now();
        let checked = cellflow::check::check(project);
        assert!(!checked.has_errors(), "the generated bot is valid");
        let checked_in = start.elapsed();
        let start = Instant::now();
        let program = cellflow::compile::compile(&checked.bot, &checked.lowered, checked.prepared)
            .expect("the generated bot compiles");
        let compiled = start.elapsed();
        std::hint::black_box(&program);
        for (slot, d) in best.iter_mut().zip([parsed, checked_in, compiled]) {
            *slot = (*slot).min(d);
        }
    }
    let [parse, check, compile] = best;
    println!(
        "{cells} cells, best of {runs}: parse {parse:.2?}, check {check:.2?}, compile {compile:.2?}, total {:.2?}",
        parse + check + compile
    );

    if std::env::var_os("LOADPHASES_SOURCE_ONLY").is_some() {
        return;
    }
    // What a runtime host does with the output of `cellflow compile`.
    let mut project = cellflow::project::Project::new();
    project.add_bytes("gen.flow", Path::new("gen.flow"), text.as_bytes());
    let checked = cellflow::check::check(project);
    let program = cellflow::compile::compile(&checked.bot, &checked.lowered, checked.prepared)
        .expect("the generated bot compiles");
    let written = cellflow::compile::write_artifact(&checked.bot, &program).expect("writable");
    drop(program);
    let mut artifact_best = Duration::MAX;
    for _ in 0..runs {
        let start = Instant::now();
        let artifact = cellflow::compile::read_artifact(&written).expect("readable");
        let program = cellflow::compile::load_artifact(artifact).expect("loadable");
        artifact_best = artifact_best.min(start.elapsed());
        std::hint::black_box(&program);
    }
    let bytes = written.len();
    println!(
        "the compiled artifact ({}.{} MB): read and loaded in {artifact_best:.2?}",
        bytes / 1_000_000,
        bytes / 100_000 % 10
    );
}
