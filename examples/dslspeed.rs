//! Times the DSL front end alone: `cargo run --release --example dslspeed -- 100000`.
fn main() {
    let cells: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let text = cellflow::generate::dsl_bot(cells);
    let mut sources = cellflow::source::SourceMap::new();
    let file = sources.add("g.flow", "g.flow", text);
    let t = std::time::Instant::now();
    let (module, diagnostics) = cellflow::syntax::dsl::parse(file, sources.get(file).text());
    println!(
        "{:?}: {} flows, {} diagnostics",
        t.elapsed(),
        module.flows.len(),
        diagnostics.len()
    );
}
