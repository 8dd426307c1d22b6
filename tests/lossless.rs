//! No edit loses a line: `fmt` keeps comments, byte-order marks and every
//! valid file it is given.

use cellflow::fmt::{self, FormatError};
use cellflow::project::Project;
use cellflow::syntax::Syntax;

use crate::support::Cmd;

/// Parses one in-memory file, asserting it has no problems.
fn parse(name: &str, bytes: &[u8]) -> (Project, cellflow::ast::Module) {
    let mut project = Project::new();
    project.add_bytes(name, std::path::Path::new(name), bytes);
    assert!(
        project.diagnostics.is_empty(),
        "{name}: {:?}",
        project.diagnostics
    );
    let module = project.modules.pop().expect("one file").2;
    (project, module)
}

/// Converts to both syntaxes; neither may be refused as "a cellflow bug".
fn convert_both(name: &str, bytes: &[u8]) -> [Result<String, FormatError>; 2] {
    let (_, module) = parse(name, bytes);
    [Syntax::Dsl, Syntax::Yaml].map(|to| {
        let result = fmt::convert(&module, to);
        assert!(
            !matches!(result, Err(FormatError::NotLossless(_))),
            "{name} to {to:?}: {result:?}"
        );
        result
    })
}

fn tempdir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("cellflow-lossless-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const SERVICE_YAML: &str = "\
flows:
  welcome:  # the first flow
    on: welcome
    cells:
      - answer: hi  # greet
      - id: lookup
        service:
          url: https://example.com/api
          timeout_ms: 3000  # slow
      - answer: \"# not a comment\"
  fallback:
    on: fallback
    cells:
      - code: |
          # rhai text, not a comment
          x = 1
";

#[test]
fn end_of_line_comments_survive_formatting_and_conversion() {
    let [dsl, yaml] = convert_both("svc.flow.yaml", SERVICE_YAML.as_bytes()).map(Result::unwrap);
    for (out, syntax) in [(&dsl, "DSL"), (&yaml, "YAML")] {
        for comment in ["# the first flow", "# greet", "# slow"] {
            assert!(out.contains(comment), "{syntax} lost `{comment}`:\n{out}");
        }
        assert!(
            out.contains("# rhai text, not a comment"),
            "{syntax}:\n{out}"
        );
    }
    // The comment inside the service cell moved above that cell.
    let slow = dsl.find("# slow").unwrap();
    assert!(slow < dsl.find("lookup: service").unwrap(), "{dsl}");
    // Back from the DSL, every comment is still there, once.
    let [back, _] = convert_both("svc.flow", dsl.as_bytes()).map(Result::unwrap);
    assert_eq!(back.matches("# slow").count(), 1, "{back}");
    assert!(back.contains("# greet") && back.contains("# the first flow"));
    // And formatting is idempotent with the comments in their new places.
    let [_, again] = convert_both("svc.flow.yaml", yaml.as_bytes()).map(Result::unwrap);
    assert_eq!(again, yaml);
}

#[test]
fn dsl_end_of_line_comments_are_kept_and_code_hashes_are_not_comments() {
    let text = "\
flow welcome on welcome {  # entry
  answer \"hi # there\"  # greet
  code { m = #{a: 1}; }  # a map
  rule {
    when { m.a == 1 } goto done  # always
  }
  done: end
}

flow fallback on fallback {
  end
}
";
    let [dsl, yaml] = convert_both("c.flow", text.as_bytes()).map(Result::unwrap);
    for out in [&dsl, &yaml] {
        for comment in ["# entry", "# greet", "# a map", "# always"] {
            assert!(out.contains(comment), "lost `{comment}`:\n{out}");
        }
        assert!(out.contains("#{a: 1}"), "{out}");
        assert!(
            !out.contains("\n# there") && !out.contains("  # there"),
            "{out}"
        );
    }
}

#[test]
fn fmt_write_keeps_an_end_of_line_comment() {
    let dir = tempdir("eol");
    let path = dir.join("svc.flow.yaml");
    std::fs::write(&path, SERVICE_YAML).unwrap();
    let out = Cmd::new().args(["fmt", "--write"]).args([&path]).run();
    assert_eq!(out.status, 0, "{}", out.stderr);
    let written = std::fs::read_to_string(&path).unwrap();
    assert!(written.contains("# slow"), "{written}");
    assert!(written.contains("timeout_ms: 3000"), "{written}");
}

#[test]
fn a_comment_yaml_cannot_hold_is_refused_clearly() {
    // A NUL in a DSL comment: fine in the DSL, impossible in a YAML comment.
    let text = b"#\0 header comment with a NUL\nflow welcome on welcome {\n  answer \"hi\"\n}\n";
    let [dsl, yaml] = convert_both("ctrl_char_in_comment.flow", text);
    assert_eq!(
        dsl.unwrap(),
        "#\0 header comment with a NUL\n\nflow welcome on welcome {\n  answer \"hi\"\n}\n"
    );
    let error = yaml.unwrap_err().to_string();
    assert!(
        error.contains("U+0000") && !error.contains("bug"),
        "{error}"
    );
    let dir = tempdir("nul");
    let path = dir.join("nul.flow");
    std::fs::write(&path, text).unwrap();
    let out = Cmd::new().args(["fmt", "--to", "yaml"]).args([&path]).run();
    assert_eq!(out.status, 1, "{}", out.stdout);
    assert!(out.stderr.contains("U+0000"), "{}", out.stderr);
}

#[test]
fn a_script_a_dsl_block_cannot_hold_is_refused_clearly() {
    // Found by the `yaml` fuzz target: YAML holds a script with an unclosed
    // string, but a DSL block would run on to the end of the file. Every
    // other script converts; this one is refused by name, not as a bug.
    let text = b"flows:\n  welcome:\n    on: welcome\n    cells:\n      - code: |\n          verified =\"true;\n      - answer: \"Hi\"\n";
    let [dsl, yaml] = convert_both("unclosed.flow.yaml", text);
    yaml.unwrap();
    let error = dsl.unwrap_err().to_string();
    assert!(
        error.contains("cannot be written as a DSL block") && !error.contains("bug"),
        "{error}"
    );
    for fits in [
        "x = \"}\";",
        "// a } in a comment",
        "if a { b } /* { */",
        "s = `{`;",
    ] {
        assert!(cellflow::syntax::dsl::fits_in_block(fits), "{fits}");
    }
    for unfit in ["x = \"a;", "y = 1; }", "if a {", "/* open"] {
        assert!(!cellflow::syntax::dsl::fits_in_block(unfit), "{unfit}");
    }
    let dir = tempdir("unclosed");
    let path = dir.join("unclosed.flow.yaml");
    std::fs::write(&path, text).unwrap();
    let out = Cmd::new().args(["fmt", "--to", "dsl"]).args([&path]).run();
    assert_eq!(out.status, 1, "{}", out.stdout);
    assert!(
        out.stderr.contains("cannot be written as a DSL block"),
        "{}",
        out.stderr
    );
}

#[test]
fn an_input_type_the_dsl_cannot_name_is_refused_clearly() {
    // Found by the `yaml` fuzz target: `op#x` is one plain YAML scalar (a
    // `#` is a comment only after a space), an unknown type `check`
    // reports, but no DSL name.
    let text = b"flows:\n  welcome:\n    on: welcome\n    cells:\n      - input:\n          var: choice\n          type: op# expect:tions\n";
    let [dsl, yaml] = convert_both("type.flow.yaml", text);
    yaml.unwrap();
    let error = dsl.unwrap_err().to_string();
    assert!(
        error.contains("the input type `op# expect:tions` cannot be written in the DSL")
            && !error.contains("bug"),
        "{error}"
    );
}

#[test]
fn valid_files_are_never_refused_as_a_cellflow_bug() {
    let cases: [(&str, &[u8]); 5] = [
        (
            "yaml_65_brackets_in_text.flow.yaml",
            b"flows:\n  welcome:\n    on: welcome\n    cells:\n      - answer: \"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[ progress bar\"\n  fallback:\n    on: fallback\n    cells:\n      - answer: fb\n",
        ),
        (
            "yaml_code_trailing_line_comment.flow.yaml",
            b"flows:\n  welcome:\n    on: welcome\n    cells:\n      - code: 'total = 1; // the running total'\n      - answer: \"total {{total}}\"\n  fallback:\n    on: fallback\n    cells:\n      - answer: fb\n",
        ),
        (
            "cr_line_breaks.flow",
            b"# header\rflow welcome on welcome {\r  answer \"hi\"\r}\r",
        ),
        (
            "del.flow.yaml",
            b"flows:\n  welcome:\n    on: welcome\n    cells:\n      - answer: \"rub\\x7Fout \\u0085 \\u2028 \\uFFFF\"\n",
        ),
        (
            "del.flow",
            b"flow welcome on welcome {\n  answer \"rub\x7Fout\"\n  code { s = \"\x7F\"; }\n}\n",
        ),
    ];
    for (name, bytes) in cases {
        let [dsl, yaml] = convert_both(name, bytes);
        let (dsl, yaml) = (dsl.unwrap(), yaml.unwrap());
        // Each conversion reads back, and converts back to the same text.
        let [dsl_again, _] = convert_both("again.flow", dsl.as_bytes()).map(Result::unwrap);
        assert_eq!(dsl_again, dsl, "{name}");
        let [_, yaml_again] = convert_both("again.flow.yaml", yaml.as_bytes()).map(Result::unwrap);
        assert_eq!(yaml_again, yaml, "{name}");
    }
    // A CR ends a comment as it ends a line: the flow after it is kept.
    let [dsl, _] = convert_both(
        "cr.flow",
        b"# header\rflow welcome on welcome {\r  answer \"hi\"\r}\r",
    )
    .map(Result::unwrap);
    assert_eq!(
        dsl,
        "# header\n\nflow welcome on welcome {\n  answer \"hi\"\n}\n"
    );
}

#[test]
fn a_byte_order_mark_is_accepted_and_kept() {
    // In canonical layout, so that `fmt --write` must leave them as they are.
    let dsl = "\u{feff}# Important licence header, do not remove\n# second line\n\nflow welcome on welcome {\n  answer \"hi\"\n}\n\nflow fallback on fallback {\n  answer \"fb\"\n}\n";
    let yaml = "\u{feff}# Licence header that fmt drops\n\nflows:\n  welcome:\n    on: welcome\n    cells:\n      - answer: hi\n";
    let (project, module) = parse("bom_header_comment.flow", dsl.as_bytes());
    assert_eq!(module.header.len(), 2, "{:?}", module.header);
    // The mark is not a column: the first line starts at column 1.
    let file = project.sources.iter().next().unwrap().1;
    assert_eq!(file.line_col(3), (1, 1));
    let (_, module) = parse("bom_comment_dropped.flow.yaml", yaml.as_bytes());
    assert_eq!(module.header, ["# Licence header that fmt drops"]);
    let dir = tempdir("bom");
    for (name, text) in [("a.flow", dsl), ("b.flow.yaml", yaml)] {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        let check = Cmd::new().args(["check"]).args([&path]).run();
        assert!(!check.stdout.contains("syntax"), "{}", check.stdout);
        let out = Cmd::new().args(["fmt", "--write"]).args([&path]).run();
        assert_eq!(out.status, 0, "{}", out.stderr);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text, "{name}");
    }
}

#[test]
fn an_invalid_unicode_escape_is_a_diagnostic_not_a_replacement_character() {
    let text =
        "flow welcome on welcome {\n  answer \"\\u{D800} and \\u{110000} but \\u{1F600}\"\n}\n";
    let mut project = Project::new();
    project.add_bytes("e.flow", std::path::Path::new("e.flow"), text.as_bytes());
    let found: Vec<(&str, &str)> = project
        .diagnostics
        .iter()
        .map(|d| {
            (
                d.problem.code(),
                project.sources.snippet(d.span).unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            ("cellflow::syntax::invalid_escape", "\\u{D800}"),
            ("cellflow::syntax::invalid_escape", "\\u{110000}"),
        ]
    );
    let dir = tempdir("escape");
    let path = dir.join("e.flow");
    std::fs::write(&path, text).unwrap();
    let out = Cmd::new().args(["fmt", "--to", "yaml"]).args([&path]).run();
    assert_eq!(out.status, 1);
    assert!(!out.stdout.contains('\u{fffd}'), "{}", out.stdout);
}

// Comments that move (end-of-line ones, ones that end up at the top) land
// where a second run leaves them: formatting is idempotent in both syntaxes.
#[test]
fn moved_comments_stay_put_on_a_second_run() {
    let yaml = "\
bot:  # settings
  name: X  # the name
intents:
  hello:  # hi
    examples: [hi]  # ex
flows:
  welcome:
    on: welcome  # trig
    cells:  # list
      - answer: hi
      - intent:
          hello: welcome  # route
  fallback:
    on: fallback
    cells:
      - end  # done
# footer
";
    let [dsl, yaml_once] = convert_both("m.flow.yaml", yaml.as_bytes()).map(Result::unwrap);
    let [dsl_twice, yaml_from_dsl] = convert_both("m.flow", dsl.as_bytes()).map(Result::unwrap);
    assert_eq!(dsl_twice, dsl);
    assert_eq!(yaml_from_dsl, yaml_once);
    let [_, yaml_twice] = convert_both("m2.flow.yaml", yaml_once.as_bytes()).map(Result::unwrap);
    assert_eq!(yaml_twice, yaml_once);
    for comment in [
        "# settings",
        "# the name",
        "# hi",
        "# ex",
        "# trig",
        "# list",
        "# route",
        "# done",
        "# footer",
    ] {
        assert_eq!(dsl.matches(comment).count(), 1, "{comment}\n{dsl}");
        assert_eq!(
            yaml_once.matches(comment).count(),
            1,
            "{comment}\n{yaml_once}"
        );
    }
    // A comment that ends on the line after a DSL cell belongs to the next.
    let route = dsl.find("# route").unwrap();
    assert!(dsl[route..].starts_with("# route\n  intent {"), "{dsl}");
}

#[test]
fn analytics_and_timeouts_convert_both_ways_whatever_is_written() {
    let cases: [(&str, &str); 3] = [
        (
            "track.flow.yaml",
            concat!(
                "bot:\n  inactivity:\n    after: 300  # seconds\n",
                "flows:\n  welcome:\n    on: timeout\n    timeout: \"5m\"\n    cells:\n",
                "      - track: \"checkout started\"\n",
                "      - track: end\n",
                "      - track: {event: \"2fast\", properties: {}}\n",
                "      - track: {event: a.b, properties: null}\n",
                "      - id: t\n        track:\n          event: plan\n          # the plan\n",
                "          properties: {plan: \"{{plan}}\", n: 2, x: [1.5, null, {deep: \"#not a comment\"}]}\n",
                "        next: welcome\n",
            ),
        ),
        (
            "track.flow",
            concat!(
                "bot { inactivity { after \"1.5 h\" message @es \"Chao\" @pt 'Tchau' } }\n",
                "flow welcome on timeout timeout 45s {\n",
                "  track end -> x\n",
                "  x: track \"a.b c\" {\"k\": \"{{v | \\\"d\\\"}}\", \"#\": \"#\"}  # why\n",
                "  track x-y {}\n",
                "}\n",
                "flow other timeout 1.5h { }\n",
            ),
        ),
        (
            "durations.flow.yaml",
            "flows:\n  a:\n    timeout: 0x10\n    cells: []\n  b:\n    timeout: 1e3\n    cells: []\n  c:\n    timeout: \"007\"\n    cells: []\n",
        ),
    ];
    for (name, text) in cases {
        let [dsl, yaml] = convert_both(name, text.as_bytes());
        let (dsl, yaml) = (dsl.unwrap(), yaml.unwrap());
        let [dsl_again, _] = convert_both("again.flow", dsl.as_bytes()).map(Result::unwrap);
        assert_eq!(dsl_again, dsl, "{name}");
        let [_, yaml_again] = convert_both("again.flow.yaml", yaml.as_bytes()).map(Result::unwrap);
        assert_eq!(yaml_again, yaml, "{name}");
        for comment in ["# seconds", "# the plan", "# why"] {
            if text.contains(comment) {
                assert!(
                    dsl.contains(comment) && yaml.contains(comment),
                    "{name}: {comment}\n{dsl}\n{yaml}"
                );
            }
        }
    }
}
