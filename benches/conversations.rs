//! Conversation tests at scale: 1,000 conversations of the example bots'
//! test files, parsed once, run against bots loaded once (what `cellflow
//! test` does per file after loading). Results: docs/PERFORMANCE.md.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};

use cellflow::Bot;
use cellflow::source::SourceMap;
use cellflow::testing::Test;

/// A bot and its tests.
fn suite(dir: &str) -> (Bot, Vec<Test>) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let bot = Bot::load(&root).expect("the example bots load");
    let services = cellflow::testing::services(bot.program());
    let mut tests = Vec::new();
    let mut sources = SourceMap::new();
    for entry in std::fs::read_dir(&root).expect("the bot directory exists") {
        let path = entry.expect("readable").path();
        if path.to_string_lossy().ends_with(".test.yaml") {
            let text = std::fs::read_to_string(&path).expect("readable");
            let id = sources.add(path.display().to_string(), &path, text);
            let (parsed, diagnostics) =
                cellflow::testing::parse(id, sources.get(id).text(), &services);
            assert!(diagnostics.is_empty(), "{dir}: test file has mistakes");
            tests.extend(parsed);
        }
    }
    (bot, tests)
}

fn conversations(c: &mut Criterion) {
    let suites: Vec<(Bot, Vec<Test>)> = ["flows/ebank", "flows/pizza", "flows/support"]
        .into_iter()
        .map(suite)
        .collect();
    // 1,000 conversations, taken round-robin over every example test.
    let all: Vec<(&Bot, &Test)> = suites
        .iter()
        .flat_map(|(bot, tests)| tests.iter().map(move |t| (bot, t)))
        .collect();
    let plan: Vec<(&Bot, &Test)> = all.iter().copied().cycle().take(1_000).collect();
    let turns: usize = plan.iter().map(|(_, t)| t.steps.len()).sum();
    eprintln!(
        "1,000 conversations = {turns} turns over {} distinct tests",
        all.len()
    );
    let mut group = c.benchmark_group("conversations");
    group.sample_size(20);
    group.bench_function("1000_tests", |b| {
        b.iter(|| {
            for (bot, test) in &plan {
                let failures = cellflow::testing::run(bot, test);
                assert!(failures.is_empty(), "{}", test.name);
                black_box(failures);
            }
        });
    });
    group.finish();
}

criterion_group!(benches, conversations);
criterion_main!(benches);
