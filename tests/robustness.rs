//! Nothing a user can feed the front ends makes them panic or hang:
//! truncated files, deep nesting, huge scalars, alias bombs, binary garbage.

use proptest::prelude::*;

use cellflow::project::Project;

use crate::support;

fn check_bytes(name: &str, bytes: &[u8]) -> usize {
    let mut project = Project::new();
    project.add_bytes(name, std::path::Path::new(name), bytes);
    let checked = cellflow::check::check(project);
    // Rendering must not panic either.
    let _ = support::render_all(&checked);
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

/// The codes of a checked in-memory file, after rendering each diagnostic.
fn codes(name: &str, text: &str) -> Vec<&'static str> {
    let mut project = Project::new();
    project.add_bytes(name, std::path::Path::new(name), text.as_bytes());
    let checked = cellflow::check::check(project);
    let _ = support::render_all(&checked);
    checked
        .diagnostics
        .iter()
        .map(|d| d.problem.code())
        .collect()
}

// Guards against DSL parsing that retried an unclosed `/*` or string at
// every later `/*` or quote: quadratic, so 48 KB took 16 s with an optimised
// build and minutes with a debug one. Read once, an unclosed comment or
// string runs to the end of the file, and the block is reported unclosed.
#[test]
fn unclosed_comments_and_strings_in_code_are_read_once() {
    // `"` then escaped quotes only: each quote would start a string anew.
    for (first, piece) in [("/* ", "/* "), ("\" ", "\\\" ")] {
        let body = format!("{first}{}", piece.repeat(48 * 1024 / piece.len()));
        for text in [
            format!("flow f on welcome {{ code {{ {body} }} }}"),
            format!("flow f on welcome {{ rule {{ when {{ {body} }} goto f }} }}"),
        ] {
            let mut project = Project::new();
            project.add_bytes("q.flow", std::path::Path::new("q.flow"), text.as_bytes());
            let [d] = project.diagnostics.as_slice() else {
                panic!("{:?}", project.diagnostics);
            };
            assert_eq!(d.problem.code(), "cellflow::syntax::unclosed");
            assert!(
                d.problem.to_string().contains("code block is not closed"),
                "{}",
                d.problem
            );
        }
    }
}

// Nesting in code blocks and JSON no longer recurses in the parser, so depth
// is bounded only where it matters: JSON values (64), and rhai's own limits.
#[test]
fn deep_nesting_in_code_and_json_never_overflows() {
    let code = format!(
        "flow f on welcome {{ code {{ {}{} }} }}\nflow g on fallback {{ end }}",
        "{".repeat(100_000),
        "}".repeat(100_000)
    );
    assert!(!codes("deep.flow", &code).is_empty());
    let json = format!(
        "flow f on welcome {{ answer {{ custom {}1{} }} }}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    assert!(codes("json.flow", &json).contains(&"cellflow::syntax::dsl"));
    // Brackets that close inside strings never hide real nesting.
    let tricky = format!(
        "flow f on welcome {{ answer {{ custom {}1{} }} }}",
        "[\"]\", ".repeat(100_000),
        "]".repeat(100_000)
    );
    assert!(codes("tricky.flow", &tricky).contains(&"cellflow::syntax::dsl"));
    // 64 levels are fine, 65 are not; misplaced tokens are reported.
    let ok = format!(
        "flow f on welcome {{ answer {{ custom {}{{\"k\": [1, 2,]}}{} }} }}\nflow g on fallback {{ end }}",
        "[".repeat(62),
        "]".repeat(62)
    );
    assert_eq!(codes("ok.flow", &ok), Vec::<&str>::new());
    let over = ok
        .replacen("custom [", "custom [[", 1)
        .replacen("] } }", "]] } }", 1);
    assert_eq!(codes("over.flow", &over), ["cellflow::syntax::dsl"]);
    for bad in [
        "[1 2]",
        "{\"a\" 1}",
        "{1: 2}",
        "[1,,2]",
        "[1}",
        "{\"a\": 1]",
    ] {
        let text = format!(
            "flow f on welcome {{ answer {{ custom {bad} }} }}\nflow g on fallback {{ end }}"
        );
        assert_eq!(codes("bad.flow", &text), ["cellflow::syntax::dsl"], "{bad}");
    }
}

// Guards against copying every anchored node when it is defined: 60 nested
// anchors over 300,000 items peaked at ~1 GiB. Anchors are now copied only
// when aliased, within the alias budget, so this parses like a plain file.
#[test]
fn nested_anchors_are_not_copied_until_aliased() {
    let depth = 60;
    let items = vec!["x"; 300_000].join(",");
    let text = format!(
        "flows:\n  f:\n    cells: {}{items}{}\n",
        (0..depth).map(|i| format!("&a{i} [")).collect::<String>(),
        "]".repeat(depth)
    );
    // A list is not a cell: every problem is reported, and nothing blew up.
    assert!(!codes("anchors.flow.yaml", &text).is_empty());
    // Aliases still copy, nested ones included, and the budget still holds.
    let aliased = "\
x: &outer [&inner [a, b], c]
flows:
  f:
    on: welcome
    cells:
      - answer: hi
  g:
    on: fallback
    cells:
      - end
y: [*inner, *outer, *inner]
";
    let found = codes("aliased.flow.yaml", aliased);
    assert!(
        found
            .iter()
            .all(|c| *c == "cellflow::syntax::unknown_field"),
        "{found:?}"
    );
    let bomb = format!(
        "a: &a [{}]\nb: [{}]\n",
        vec!["x"; 1000].join(","),
        vec!["*a"; 200].join(",")
    );
    assert!(check_bytes("bomb2.flow.yaml", bomb.as_bytes()) > 0);
}

// miette pads to a label's column with a format width, which panics past
// 65,535: such a diagnostic is drawn without its snippet, with its location.
#[test]
fn a_diagnostic_at_any_column_renders() {
    let wide = format!(
        "flow f on welcome {{ answer \"{}\" jump nowhere }}\nflow g on fallback {{ end }}\n",
        "x".repeat(70_000)
    );
    let name = "k".repeat(65_600);
    let long_name =
        format!("flows:\n  {name}:\n    on: welcome\n    cells:\n      - jump: nowhere\n");
    // The long YAML key is too long for an implicit key: a syntax error
    // past the key, drawn without its snippet.
    for (file, text, location) in [
        (
            "wide.flow",
            wide.as_str(),
            "at wide.flow:1:70036: no cell or flow",
        ),
        (
            "long.flow.yaml",
            long_name.as_str(),
            "at long.flow.yaml:2:65603: here",
        ),
    ] {
        let mut project = Project::new();
        project.add_bytes(file, std::path::Path::new(file), text.as_bytes());
        let checked = cellflow::check::check(project);
        let rendered = support::render_all(&checked);
        assert!(
            rendered.contains(location),
            "{}",
            &rendered[..rendered.len().min(2000)]
        );
    }
}

// Guards against rendering that scanned (and copied) the whole file for each
// diagnostic: quadratic in their number. Each drawing now reads only the
// lines around its span, so thousands of errors in one file render as one
// would, and every one still names its right line.
#[test]
fn many_diagnostics_in_one_file_render_with_their_lines() {
    let n = 8_000;
    let mut text = String::from("flow f on welcome {\n");
    for i in 0..n {
        text.push_str(&format!("  jump nowhere{i}\n"));
    }
    text.push_str("}\nflow g on fallback { end }\n");
    let mut project = Project::new();
    project.add_bytes(
        "many.flow",
        std::path::Path::new("many.flow"),
        text.as_bytes(),
    );
    let checked = cellflow::check::check(project);
    let unknown: Vec<_> = checked
        .diagnostics
        .iter()
        .filter(|d| d.problem.code() == "cellflow::check::unknown_target")
        .collect();
    assert_eq!(unknown.len(), n);
    for (i, d) in unknown.iter().enumerate().step_by(997) {
        let out = cellflow::diagnostic::render(d, &checked.sources, false, 100);
        assert!(out.contains(&format!("[many.flow:{}:8]", i + 2)), "{out}");
        assert!(out.contains(&format!("jump nowhere{i}")), "{out}");
    }
}

// A file over the size limit is refused after reading at most one byte
// past the limit: a sparse 1 GiB file is never read whole.
#[test]
fn files_over_the_limit_are_refused_before_being_read() {
    let dir = std::env::temp_dir().join(format!("cellflow-big-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("big.flow");
    let file = std::fs::File::create(&path).unwrap();
    file.set_len(1 << 30).unwrap();
    let project = Project::load(std::slice::from_ref(&path)).unwrap();
    let codes: Vec<_> = project
        .diagnostics
        .iter()
        .map(|d| d.problem.code())
        .collect();
    assert_eq!(codes, ["cellflow::syntax::too_large"]);
    assert!(project.sources.iter().all(|(_, f)| f.text().is_empty()));
    let out = support::Cmd::new()
        .args(["fmt", "--check"])
        .args([&path])
        .run();
    assert_eq!(out.status, 1, "{}", out.stderr);
    assert!(out.stderr.contains("too_large"), "{}", out.stderr);
    std::fs::remove_file(&path).unwrap();
}
