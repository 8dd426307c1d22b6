//! Intent patterns at scale: loading a 100k-cell bot with 10,000 varied
//! intent patterns, and what a text message costs there. Results:
//! docs/PERFORMANCE.md.

// The `cellflow` binary's allocator (src/main.rs), so loading is timed as
// `cellflow serve`, `run` and `compile` load a bot from source. glibc's
// malloc makes the same load about twice as slow here (docs/PERFORMANCE.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::hint::black_box;
use std::path::Path;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};

use cellflow::generate::{dsl_bot_with, varied_pattern};
use cellflow::project::Project;
use cellflow::{Bot, Request};

/// A pattern of intent 4321 (`\b(cancel|stop|end) plan 4321\b`).
const MATCHING: &str = "Please cancel plan 4321 now";
/// Shares words with many patterns (`order`, `parcel`) but matches none.
const NOT_MATCHING: &str = "where is my parcel, I ordered it weeks ago";

fn load(text: &str) -> Bot {
    let mut project = Project::new();
    project.add_bytes("bench.flow", Path::new("bench.flow"), text.as_bytes());
    cellflow::compile::load_project(project)
        .map(cellflow::Bot::new)
        .expect("the generated bot is valid")
}

fn patterns(c: &mut Criterion) {
    let text = dsl_bot_with(100_000, varied_pattern);
    let mut group = c.benchmark_group("patterns");
    group.sample_size(10);
    group.bench_function("load_100k_cells_10k_patterns", |b| {
        // The bot is dropped outside the measurement: loading is what is timed.
        b.iter_with_large_drop(|| load(black_box(&text)));
    });
    group.finish();

    let bot = load(&text);
    let patterns = &bot.program().nlu.patterns;
    assert_eq!(patterns.len(), 10_000);
    assert!(patterns.first_match(MATCHING, |_| true).is_some());
    assert!(patterns.first_match(NOT_MATCHING, |_| true).is_none());
    let mut group = c.benchmark_group("patterns");
    for (name, message) in [("match", MATCHING), ("no_match", NOT_MATCHING)] {
        group.bench_function(format!("first_match/{name}"), |b| {
            b.iter(|| patterns.first_match(black_box(message), |_| true));
        });
        // A whole turn with nothing pending: the pattern starts its flow,
        // or the examples are scored and the fallback answers.
        group.bench_function(format!("turn/{name}"), |b| {
            b.iter_batched(
                || bot.new_session(),
                |mut session| bot.turn(&mut session, Request::text(message)).unwrap(),
                BatchSize::SmallInput,
            );
        });
    }
    group.finish();
}

criterion_group!(benches, patterns);
criterion_main!(benches);
