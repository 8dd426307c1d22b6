//! What `cellflow lsp` does after an edit, timed on a generated bot:
//! parsing the edited file again, then checking and indexing the whole bot
//! (`ide::Workspace`), against parsing every file again.
//!
//! `cargo run --release --example ide_timing -- [CELLS] [FILES] [DIR]`
//! (defaults: 10,000 cells in 100 files). With DIR, the files are also
//! written there, to time `cellflow lsp` on them from an editor's side.
//! docs/PERFORMANCE.md records the figures.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use cellflow::ide::Workspace;

/// The generated bot's top-level items, dealt into `files` DSL files.
fn split(text: &str, files: usize) -> Vec<String> {
    let mut items: Vec<String> = Vec::new();
    for line in text.lines() {
        let starts_item = ["bot ", "intent ", "flow "]
            .iter()
            .any(|k| line.starts_with(k));
        if starts_item || items.is_empty() {
            items.push(String::new());
        }
        let item = items.last_mut().expect("an item");
        item.push_str(line);
        item.push('\n');
    }
    let per_file = items.len().div_ceil(files);
    items.chunks(per_file).map(<[String]>::concat).collect()
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let cells: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let count: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100);
    let files = split(&cellflow::generate::dsl_bot(cells), count);
    if let Some(dir) = args.next() {
        std::fs::create_dir_all(&dir).expect("the directory can be made");
        for (i, text) in files.iter().enumerate() {
            std::fs::write(format!("{dir}/part{i:03}.flow"), text)
                .expect("the file can be written");
        }
    }
    let paths: Vec<PathBuf> = (0..files.len())
        .map(|i| PathBuf::from(format!("bot/part{i:03}.flow")))
        .collect();

    let start = Instant::now();
    let mut workspace = Workspace::new();
    for (path, text) in paths.iter().zip(&files) {
        workspace.set_text(path, text.clone());
    }
    let parse_all = start.elapsed();
    let start = Instant::now();
    let diagnostics = workspace.check().checked.diagnostics.len();
    let first_check = start.elapsed();
    assert_eq!(diagnostics, 0, "the generated bot is clean");

    // Edit one file in the middle, as an author types: parse it again,
    // then check the bot.
    let edited = files.len() / 2;
    let (mut parse_one, mut check) = (Vec::new(), Vec::new());
    for round in 0..7 {
        let text = files[edited].replacen("Step", if round % 2 == 0 { "Stop" } else { "Step" }, 1);
        let start = Instant::now();
        workspace.set_text(&paths[edited], text);
        parse_one.push(start.elapsed());
        let start = Instant::now();
        let analysis = workspace.check();
        check.push(start.elapsed());
        assert!(analysis.checked.diagnostics.is_empty());
    }
    let (parse_one, check) = (median(parse_one), median(check));
    println!(
        "{cells} cells in {} files ({} bytes)",
        files.len(),
        files.iter().map(String::len).sum::<usize>()
    );
    println!("parse every file: {}", ms(parse_all));
    println!("first check and index: {}", ms(first_check));
    println!("after an edit (median of 7):");
    println!("  parse the edited file: {}", ms(parse_one));
    println!("  check and index the bot: {}", ms(check));
    println!("  together: {}", ms(parse_one + check));
}
