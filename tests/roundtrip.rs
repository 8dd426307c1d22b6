//! `fmt` converts losslessly: YAML → DSL → YAML (and the reverse) is the
//! identity on the AST for every example bot and clean pattern.

use cellflow::project::Project;
use cellflow::syntax::Syntax;

use crate::support;

fn flow_files() -> Vec<std::path::PathBuf> {
    let root = support::root();
    let files =
        cellflow::project::discover(&[root.join("flows"), root.join("tests/clean")]).unwrap();
    files
        .into_iter()
        .filter(|f| Syntax::of_path(f).is_some())
        .collect()
}

fn ast_json(module: &cellflow::ast::Module) -> serde_json::Value {
    serde_json::to_value(module).unwrap()
}

fn parse(syntax: Syntax, text: &str) -> cellflow::ast::Module {
    let mut project = Project::new();
    let name = match syntax {
        Syntax::Yaml => "x.flow.yaml",
        Syntax::Dsl => "x.flow",
    };
    project.add_bytes(name, std::path::Path::new(name), text.as_bytes());
    assert!(
        project.diagnostics.is_empty(),
        "{text}\n{:?}",
        project.diagnostics
    );
    project.modules.pop().unwrap().2
}

#[test]
fn every_example_round_trips_through_both_syntaxes() {
    let files = flow_files();
    assert!(files.len() >= 8);
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let syntax = Syntax::of_path(&file).unwrap();
        let original = parse(syntax, &text);
        for (there, back) in [(Syntax::Dsl, Syntax::Yaml), (Syntax::Yaml, Syntax::Dsl)] {
            let converted = cellflow::fmt::convert(&original, there).unwrap();
            let middle = parse(there, &converted);
            assert_eq!(
                ast_json(&middle),
                ast_json(&original),
                "{} via {there:?}",
                file.display()
            );
            let returned = cellflow::fmt::convert(&middle, back).unwrap();
            assert_eq!(
                ast_json(&parse(back, &returned)),
                ast_json(&original),
                "{} back via {back:?}",
                file.display()
            );
        }
    }
}

#[test]
fn formatting_is_idempotent() {
    for file in flow_files() {
        let syntax = Syntax::of_path(&file).unwrap();
        let module = parse(syntax, &std::fs::read_to_string(&file).unwrap());
        let once = cellflow::fmt::convert(&module, syntax).unwrap();
        let twice = cellflow::fmt::convert(&parse(syntax, &once), syntax).unwrap();
        assert_eq!(once, twice, "{}", file.display());
    }
}

#[test]
fn the_dsl_example_is_in_canonical_layout() {
    let path = support::root().join("flows/pizza/pizza.flow");
    let text = std::fs::read_to_string(&path).unwrap();
    let formatted = cellflow::fmt::convert(&parse(Syntax::Dsl, &text), Syntax::Dsl).unwrap();
    assert_eq!(formatted, text);
}
