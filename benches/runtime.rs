//! Runtime benchmarks: one turn in common shapes, classification, sessions.
//! Results: docs/PERFORMANCE.md.

use std::fmt::Write as _;
use std::hint::black_box;
use std::path::Path;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};

use cellflow::project::Project;
use cellflow::{Bot, Request, Session};

fn bot(text: &str) -> Bot {
    let mut project = Project::new();
    project.add_bytes("bench.flow", Path::new("bench.flow"), text.as_bytes());
    cellflow::compile::load_project(project)
        .map(cellflow::Bot::new)
        .expect("benchmark bots are valid")
}

/// A bot whose turn answers a pending input and comes back to it through
/// `cells` more cells, so every iteration runs the same turn.
fn looping_bot(middle: &str) -> Bot {
    bot(&format!(
        "flow welcome on welcome {{\n  ask: input name text {{ prompt \"Name?\" }}\n{middle}\n  answer \"Hi {{{{name}}}}\"\n  jump ask\n}}\nflow fallback on fallback {{\n  answer \"?\"\n}}\n"
    ))
}

fn ready(bot: &Bot) -> Session {
    let mut session = bot.new_session();
    bot.turn(&mut session, Request::event("welcome")).unwrap();
    session
}

fn turns(c: &mut Criterion) {
    let mut group = c.benchmark_group("turn");
    let cases = [
        ("plain", looping_bot("  answer \"Noted.\"")),
        (
            "rule",
            looping_bot("  rule {\n    when { name == \"admin\" } goto ask\n  }"),
        ),
        (
            "code",
            looping_bot("  code { count = if count == () { 1 } else { count + 1 }; }"),
        ),
    ];
    for (name, bot) in &cases {
        let mut session = ready(bot);
        group.bench_function(*name, |b| {
            b.iter(|| {
                bot.turn(&mut session, black_box(Request::text("Ana")))
                    .unwrap()
            });
        });
    }
    // The same plain turn inside a 100k-cell bot.
    let mut big = cellflow::generate::dsl_bot(100_000);

    big.push_str("flow bench {\n  ask: input name text { prompt \"Name?\" }\n  answer \"Noted.\"\n  answer \"Hi {{name}}\"\n  jump ask\n}\n");
    let big = bot(&big);
    let mut session = big.new_session();
    big.turn(&mut session, Request::event("bench")).unwrap();
    group.bench_function("plain_in_100k_cell_bot", |b| {
        b.iter(|| {
            big.turn(&mut session, black_box(Request::text("Ana")))
                .unwrap()
        });
    });
    group.finish();
}

fn classification(c: &mut Criterion) {
    let mut group = c.benchmark_group("classify");
    for intents in [50, 500] {
        let mut text = String::new();
        for i in 0..intents {
            let _ = writeln!(
                text,
                "intent i{i} {{ examples [\"check order number {i}\", \"where is parcel {i}\", \"status of shipment {i} please\"] }}\nflow f{i} on intent i{i} {{ answer \"{i}\" }}"
            );
        }
        text.push_str("flow fallback on fallback { answer \"?\" }\n");
        let bot = bot(&text);
        let mut session = bot.new_session();
        group.bench_with_input(BenchmarkId::from_parameter(intents), &intents, |b, _| {
            b.iter(|| {
                bot.turn(
                    &mut session,
                    black_box(Request::text("wher is my parcel 7 pls")),
                )
                .unwrap()
            });
        });
    }
    group.finish();
}

fn sessions(c: &mut Criterion) {
    let mut session = Session::new("0123456789abcdef0123456789abcdef");
    for i in 0..20 {
        session
            .vars
            .insert(&format!("var{i}"), serde_json::json!(format!("value {i}")));
    }
    let json = serde_json::to_string(&session).unwrap();
    println!("session with 20 variables: {} bytes serialized", json.len());
    c.bench_function("session/serialize", |b| {
        b.iter(|| serde_json::to_string(black_box(&session)).unwrap());
    });
    c.bench_function("session/deserialize", |b| {
        b.iter(|| serde_json::from_str::<Session>(black_box(&json)).unwrap());
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(std::time::Duration::from_secs(3));
    targets = turns, classification, sessions
}
criterion_main!(benches);
