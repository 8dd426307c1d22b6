//! Size properties of big bots that do not depend on the machine: a
//! generated 10k-cell bot checks clean in both syntaxes, and its graph stays
//! within 500 bytes per cell. (Timings live in `benches/`, not here.)

use std::path::Path;

use cellflow::project::Project;

fn check(name: &str, text: &str) -> cellflow::check::Checked {
    let mut project = Project::new();
    project.add_bytes(name, Path::new(name), text.as_bytes());
    cellflow::check::check(&mut project)
}

#[test]
fn a_generated_bot_checks_clean_and_its_graph_is_compact() {
    let dsl = cellflow::generate::dsl_bot(10_000);
    let yaml = cellflow::generate::yaml_bot(10_000);
    for (name, text) in [("gen.flow", dsl), ("gen.flow.yaml", yaml)] {
        let checked = check(name, &text);
        assert!(
            checked.diagnostics.is_empty(),
            "{name}: {:?}",
            checked.diagnostics.first()
        );
        let graph = &checked.lowered.graph;
        let cells = graph.node_count() - 1;
        assert!(cells >= 10_000, "{cells}");
        let per_cell = graph.memory_bytes() / cells;
        assert!(per_cell <= 500, "{name}: {per_cell} bytes per cell");
    }
}
