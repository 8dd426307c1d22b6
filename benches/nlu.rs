//! The built-in classifier: training (compiling a bot), and classifying one
//! message, on BANKING77 and on a generated bot of 150 intents × 100
//! examples. Results: docs/PERFORMANCE.md.
//!
//! BANKING77 is read from `../shared/data/banking77` (or the directory in
//! `CELLFLOW_BANKING77`); without it, those cases are skipped.

use std::fmt::Write as _;
use std::hint::black_box;
use std::path::{Path, PathBuf};

use criterion::{Criterion, criterion_group, criterion_main};

use cellflow::project::Project;
use cellflow::runtime::{Builtin, Classifier as _};
use cellflow::{Bot, Request};

fn load(text: &str) -> Bot {
    let mut project = Project::new();
    project.add_bytes("bench.flow", Path::new("bench.flow"), text.as_bytes());
    cellflow::compile::load_project(project)
        .map(cellflow::Bot::new)
        .expect("the benchmark bot is valid")
}

fn quoted(text: &str) -> String {
    serde_json::to_string(text).expect("a string")
}

/// A bot whose intents are `(name, examples)`.
fn bot_source(intents: &[(String, Vec<String>)]) -> String {
    let mut text = String::new();
    for (i, (name, examples)) in intents.iter().enumerate() {
        let list: Vec<String> = examples.iter().map(|e| quoted(e)).collect();
        let _ = writeln!(
            text,
            "intent {name} {{ examples [{}] }}\nflow f{i} on intent {name} {{ answer \"{name}\" }}",
            list.join(", ")
        );
    }
    text.push_str("flow fallback on fallback { answer \"?\" }\n");
    text
}

/// Intents with their examples, and messages to classify.
type Data = (Vec<(String, Vec<String>)>, Vec<String>);

fn banking77() -> Option<Data> {
    let dir = std::env::var_os("CELLFLOW_BANKING77")
        .map_or_else(|| PathBuf::from("../shared/data/banking77"), PathBuf::from);
    let read = |name: &str| -> Option<Vec<(String, String)>> {
        let mut reader = csv::Reader::from_path(dir.join(name)).ok()?;
        Some(
            reader
                .records()
                .filter_map(Result::ok)
                .map(|r| (r[0].to_owned(), r[1].to_owned()))
                .collect(),
        )
    };
    let train = read("train.csv")?;
    let test = read("test.csv")?;
    let mut intents: Vec<(String, Vec<String>)> = Vec::new();
    for (text, label) in train {
        let name: String = label
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        match intents.iter_mut().find(|(n, _)| *n == name) {
            Some((_, examples)) => examples.push(text),
            None => intents.push((name, vec![text])),
        }
    }
    Some((intents, test.into_iter().map(|(t, _)| t).collect()))
}

/// 150 intents × 100 examples over a generated vocabulary: each intent has
/// a few words of its own, and every example mixes them with words all
/// intents share, so a message shares words with every intent.
fn generated() -> Data {
    let mut state = 42u64;
    let mut next = move |n: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        usize::try_from(state % n).expect("small")
    };
    let shared = [
        "i", "want", "to", "my", "the", "please", "can", "you", "how", "do", "a", "for", "is",
        "what", "with", "help", "need", "about", "me", "account",
    ];
    let syllables = [
        "ka", "lo", "mi", "ren", "tas", "vo", "qui", "zen", "dar", "pol",
    ];
    let word = |next: &mut dyn FnMut(u64) -> usize| {
        (0..3)
            .map(|_| syllables[next(syllables.len() as u64)])
            .collect::<String>()
    };
    let mut intents = Vec::new();
    let mut messages = Vec::new();
    for i in 0..150 {
        let own: Vec<String> = (0..6).map(|_| word(&mut next)).collect();
        let mut examples = Vec::new();
        for e in 0..101 {
            let mut words: Vec<&str> = Vec::new();
            for _ in 0..(4 + next(6)) {
                if next(3) == 0 {
                    words.push(&own[next(own.len() as u64)]);
                } else {
                    words.push(shared[next(shared.len() as u64)]);
                }
            }
            words.push(&own[e % own.len()]);
            let sentence = words.join(" ");
            if e == 100 {
                messages.push(sentence);
            } else {
                examples.push(sentence);
            }
        }
        intents.push((format!("intent{i}"), examples));
    }
    (intents, messages)
}

fn nlu(c: &mut Criterion) {
    let mut cases = vec![("150x100", generated())];
    match banking77() {
        Some(data) => cases.push(("banking77", data)),
        None => eprintln!("BANKING77 not found: its cases are skipped"),
    }
    let mut group = c.benchmark_group("nlu");
    group.sample_size(10);
    for (name, (intents, messages)) in &cases {
        let source = bot_source(intents);
        group.bench_function(format!("train/{name}"), |b| {
            b.iter(|| load(black_box(&source)));
        });
        let bot = load(&source);
        let mut at = 0;
        group.bench_function(format!("classify/{name}"), |b| {
            b.iter(|| {
                at = (at + 1) % messages.len();
                Builtin.classify(bot.program(), black_box(&messages[at]))
            });
        });
        let mut at = 0;
        group.bench_function(format!("turn/{name}"), |b| {
            let mut session = bot.new_session();
            b.iter(|| {
                at = (at + 1) % messages.len();
                bot.turn(&mut session, Request::text(messages[at].as_str()))
                    .expect("a turn")
            });
        });
    }
    group.finish();
}

criterion_group!(benches, nlu);
criterion_main!(benches);
