//! Size properties of big bots that do not depend on the machine: a
//! generated 10k-cell bot checks clean in both syntaxes, and its graph stays
//! within 500 bytes per cell. (Timings live in `benches/`, not here.)

use std::path::Path;

use cellflow::project::Project;

fn check(name: &str, text: &str) -> cellflow::check::Checked {
    let mut project = Project::new();
    project.add_bytes(name, Path::new(name), text.as_bytes());
    cellflow::check::check(project)
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

#[test]
fn problems_are_found_in_every_part_of_a_big_bot() {
    // Big bots are checked on two threads; errors in either half are reported.
    let text = cellflow::generate::dsl_bot(10_000)
        .replace("code { b3 = a3 * 2; }", "code { b3 = a3 *; }")
        .replace("code { b995 = a995 * 2; }", "code { b995 = a995 *; }");
    let checked = check("gen.flow", &text);
    let scripts = checked
        .diagnostics
        .iter()
        .filter(|d| d.problem.code() == "cellflow::check::script_syntax")
        .count();
    assert_eq!(scripts, 2, "{:?}", checked.diagnostics);
}
