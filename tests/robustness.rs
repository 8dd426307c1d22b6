//! Nothing a user can feed the front ends makes them panic or hang:
//! truncated files, deep nesting, huge scalars, alias bombs, binary garbage.

use proptest::prelude::*;

use cellflow::project::Project;

use crate::support;

fn check_bytes(name: &str, bytes: &[u8]) -> usize {
    let mut project = Project::new();
    project.add_bytes(name, std::path::Path::new(name), bytes);
    let checked = cellflow::check::check(&mut project);
    // Rendering must not panic either.
    let _ = support::render_all(&checked, &project);
    checked.diagnostics.len()
}

#[test]
fn every_truncation_of_the_examples_is_handled() {
    let files = cellflow::project::discover(&[support::root().join("flows")]).unwrap();
    for file in files {
        let bytes = std::fs::read(&file).unwrap();
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        for cut in (0..bytes.len()).step_by(23) {
            check_bytes(&name, &bytes[..cut]);
        }
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let deep_yaml = format!("flows: {}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(check_bytes("deep.flow.yaml", deep_yaml.as_bytes()) > 0);
    let deep_block = format!(
        "flows:\n{}",
        (0..200)
            .map(|i| format!("{}- \n", " ".repeat(i * 2)))
            .collect::<String>()
    );
    assert!(check_bytes("deep2.flow.yaml", deep_block.as_bytes()) > 0);
    let deep_dsl = format!("flow f {{ code {{ {} }} }}", "{".repeat(100_000));
    assert!(check_bytes("deep.flow", deep_dsl.as_bytes()) > 0);
    let deep_json = format!(
        "flow f {{ answer {{ custom {}1{} }} }}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    assert!(check_bytes("deep2.flow", deep_json.as_bytes()) > 0);
    let deep_script = format!(
        "flows:\n  f:\n    cells:\n      - code: '{}1{}'\n",
        "(".repeat(10_000),
        ")".repeat(10_000)
    );
    assert!(check_bytes("deep3.flow.yaml", deep_script.as_bytes()) > 0);
}

#[test]
fn huge_scalars_are_handled() {
    let huge = "x".repeat(4 * 1024 * 1024);
    let yaml = format!("flows:\n  f:\n    cells:\n      - answer: \"{huge}\"\n");
    check_bytes("huge.flow.yaml", yaml.as_bytes());
    let dsl = format!("flow f {{ answer \"{huge}\" }}");
    check_bytes("huge.flow", dsl.as_bytes());
}

#[test]
fn alias_bombs_are_stopped() {
    let mut yaml = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        let refs = vec![format!("*a{}", i - 1); 10].join(", ");
        yaml.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
    }
    yaml.push_str("flows: *a11\n");
    assert!(check_bytes("bomb.flow.yaml", yaml.as_bytes()) > 0);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        check_bytes("garbage.flow.yaml", &bytes);
        check_bytes("garbage.flow", &bytes);
    }

    #[test]
    fn arbitrary_text_from_flow_tokens_never_panics(tokens in proptest::collection::vec(
        proptest::sample::select(vec![
            "flow", "f", "{", "}", "answer", "\"x {{y}}\"", "input", "v", "number", "rule", "when", "goto",
            "else", "code", "jump", "return", "intent", "service", "url", "handoff", "queue", "end", "->", ":",
            "[", "]", ",", "on", "welcome", "'re(gex'", "\n", "#", "-", "cells", "flows:", "  - ", "id:",
        ]), 0..80)) {
        let text = tokens.join(" ");
        check_bytes("tokens.flow", text.as_bytes());
        check_bytes("tokens.flow.yaml", text.as_bytes());
    }
}
