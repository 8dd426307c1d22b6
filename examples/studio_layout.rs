//! Times the studio's layout (`cellflow::studio::draw`) on the example bots
//! and on generated bots of 1,000, 10,000 and 100,000 cells, and writes
//! each bot's cells and edges to `target/studio-layout/NAME.txt` (`n ID`
//! and `e FROM TO` lines), so a layout crate can be timed on the same
//! graphs, and the 100,000-cell bot's source to
//! `target/studio-layout/generated-100000/gen.flow` (to open in the studio).
//! docs/PERFORMANCE.md has the numbers.
//!
//! `cargo run --release --example studio_layout`

use std::fmt::Write as _;
use std::time::Instant;

use cellflow::project::Project;
use cellflow::studio::picture::{self, Options};

fn main() {
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/studio-layout");
    std::fs::create_dir_all(&out).expect("target/ is writable");
    let mut bots: Vec<(String, Project)> = Vec::new();
    for name in ["pizza", "ebank", "support"] {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("flows")
            .join(name);
        bots.push((
            name.to_owned(),
            Project::load(&[dir]).expect("the example bot reads"),
        ));
    }
    for cells in [1_000, 10_000, 100_000] {
        let mut project = Project::new();
        let text = cellflow::generate::dsl_bot(cells);
        if cells == 100_000 {
            let dir = out.join("generated-100000");
            std::fs::create_dir_all(&dir).expect("target/ is writable");
            std::fs::write(dir.join("gen.flow"), &text).expect("target/ is writable");
        }
        project.add_bytes(
            "gen.flow",
            std::path::Path::new("gen.flow"),
            text.as_bytes(),
        );
        bots.push((format!("generated-{cells}"), project));
    }
    println!("bot | cells | edges | check | layout, expanded | layout, collapsed | JSON, expanded");
    for (name, project) in bots {
        let started = Instant::now();
        let checked = cellflow::check::check(project);
        let check = started.elapsed();
        let started = Instant::now();
        let expanded = picture::draw(
            &checked,
            Options {
                collapsed: Some(false),
                only: None,
            },
        );
        let expanded_time = started.elapsed();
        let started = Instant::now();
        let collapsed = picture::draw(
            &checked,
            Options {
                collapsed: Some(true),
                only: None,
            },
        );
        let collapsed_time = started.elapsed();
        let json = serde_json::to_vec(&expanded).map_or(0, |j| j.len());
        println!(
            "{name} | {} | {} | {:.1} ms | {:.1} ms | {:.1} ms ({} flows) | {} KiB",
            expanded.nodes.len(),
            expanded.edges.len(),
            check.as_secs_f64() * 1e3,
            expanded_time.as_secs_f64() * 1e3,
            collapsed_time.as_secs_f64() * 1e3,
            collapsed.nodes.len(),
            json / 1024
        );
        let mut text = String::new();
        for node in &expanded.nodes {
            let _ = writeln!(text, "n {}", node.id);
        }
        for edge in &expanded.edges {
            let _ = writeln!(text, "e {} {}", edge.from, edge.to);
        }
        std::fs::write(out.join(format!("{name}.txt")), text).expect("target/ is writable");
    }
}
