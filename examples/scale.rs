//! Prints how long one check of a generated bot takes and how big its graph
//! is: a quick look before running `cargo bench`.
//! `cargo run --release --example scale -- 100000`

use std::path::Path;
use std::time::Instant;

fn main() {
    let cells: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    for (name, text) in [
        ("gen.flow", cellflow::generate::dsl_bot(cells)),
        ("gen.flow.yaml", cellflow::generate::yaml_bot(cells)),
    ] {
        let start = Instant::now();
        let mut project = cellflow::project::Project::new();
        project.add_bytes(name, Path::new(name), text.as_bytes());
        let parsed = start.elapsed();
        let checked = cellflow::check::check(project);
        let total = start.elapsed();
        let graph = &checked.lowered.graph;
        let real_cells = graph.node_count() - 1;
        println!(
            "{name}: {} bytes, {real_cells} cells, parse {parsed:?}, total {total:?}, {} diagnostics, graph {} bytes/cell",
            text.len(),
            checked.diagnostics.len(),
            graph.memory_bytes() / real_cells
        );
    }
}
