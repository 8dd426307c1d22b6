//! The DSL grammar: constructs that must parse, and what they parse to.

use cellflow::ast::{Body, CellKind, EntityKind, Trigger};
use cellflow::project::Project;

fn parse(text: &str) -> (cellflow::ast::Module, Vec<String>) {
    let mut project = Project::new();
    project.add_bytes("t.flow", std::path::Path::new("t.flow"), text.as_bytes());
    let codes = project
        .diagnostics
        .iter()
        .map(|d| format!("{}: {}", d.problem.code(), d.problem))
        .collect();
    (project.modules.pop().unwrap().2, codes)
}

fn parse_ok(text: &str) -> cellflow::ast::Module {
    let (module, problems) = parse(text);
    assert!(problems.is_empty(), "{problems:?}");
    module
}

#[test]
fn keywords_can_be_names() {
    let m = parse_ok("flow end { input text text { prompt \"?\" } answer \"{{text}}\" jump end }");
    assert_eq!(m.flows[0].name.value, "end");
    let CellKind::Input(input) = &m.flows[0].cells[0].kind else {
        panic!()
    };
    assert_eq!(input.var.value, "text");
    assert_eq!(input.ty.as_ref().unwrap().value, "text");
    assert!(matches!(&m.flows[0].cells[2].kind, CellKind::Jump(j) if j.to.name.value == "end"));
}

#[test]
fn a_keyword_prefix_is_not_a_keyword() {
    // `ending` is a label, not `end` followed by garbage.
    let m = parse_ok("flow f { end\n ending: answer \"x\" }");
    assert_eq!(m.flows[0].cells.len(), 2);
    assert_eq!(m.flows[0].cells[1].id.as_ref().unwrap().value, "ending");
}

#[test]
fn an_input_without_type_before_a_labelled_cell() {
    let m = parse_ok("flow f { input name\n menu: answer \"hi {{name}}\" }");
    let CellKind::Input(input) = &m.flows[0].cells[0].kind else {
        panic!()
    };
    assert!(input.ty.is_none());
    assert_eq!(m.flows[0].cells[1].id.as_ref().unwrap().value, "menu");
}

#[test]
fn code_blocks_keep_nested_braces_strings_and_comments() {
    let m = parse_ok(
        "flow f { code {\n  let m = #{ a: \"}\", b: '{' };\n  // } in a comment\n  /* { */ if x { y = `${m.a}`; }\n} }",
    );
    let CellKind::Code(script) = &m.flows[0].cells[0].kind else {
        panic!()
    };
    assert_eq!(
        script.source.value,
        "let m = #{ a: \"}\", b: '{' };\n// } in a comment\n/* { */ if x { y = `${m.a}`; }"
    );
}

#[test]
fn strings_raw_and_escaped() {
    let m = parse_ok(
        "intent i { examples [\"say \\\"hi\\\"\\n\", 'C:\\path'] patterns ['\\bx\\b'] global }",
    );
    assert_eq!(m.intents[0].examples[0].value, "say \"hi\"\n");
    assert_eq!(m.intents[0].examples[1].value, "C:\\path");
    assert_eq!(m.intents[0].patterns[0].value, "\\bx\\b");
    assert!(m.intents[0].global);
}

#[test]
fn comments_are_skipped() {
    let m = parse_ok(
        "# top\nflow f on welcome { # after brace\n  answer \"# not a comment\" # trailing\n}\n",
    );
    let CellKind::Answer(a) = &m.flows[0].cells[0].kind else {
        panic!()
    };
    assert_eq!(a.text[0].first, "# not a comment");
    assert!(matches!(
        m.flows[0].trigger.as_ref().unwrap().value,
        Trigger::Welcome
    ));
}

#[test]
fn targets_next_and_call_return() {
    let m = parse_ok("flow f { a: answer \"x\" -> g.start\n jump g return\n jump g.start }");
    assert_eq!(
        m.flows[0].cells[0].next.as_ref().unwrap().to_string(),
        "g.start"
    );
    assert!(matches!(&m.flows[0].cells[1].kind, CellKind::Jump(j) if j.returns));
    assert!(
        matches!(&m.flows[0].cells[2].kind, CellKind::Jump(j) if !j.returns && j.to.flow.is_some())
    );
}

#[test]
fn every_cell_kind_and_field() {
    let m = parse_ok(
        r#"
bot { name "B" locale "es-CL" threshold 0.7 context [user_name, plan] }
entity color { value "red" ["crimson"] value "blue" }
entity code pattern '[A-Z]{3}'
flow all on entity color {
  answer {
    text "one" text "two" pick sequence
    button "Open" url "https://x.example" value "open"
    quick_reply "Yes" value "yes" quick_reply "No"
    card "Card" { subtitle "Sub" image "https://x.example/i.png" button "Go" value "go" }
    media image "https://x.example/m.png" name "m.png"
    custom {"kind": "map", "zoom": 3, "tags": ["a", true, null], "nested": {"x": -1.5}}
    evaluable
  }
  input c options { prompt "Color?" entity color invalid "No." retries 3 on_fail all mask }
  input n number { min 1 max 9.5 }
  input p pattern { pattern '^\d+$' }
  rule { when { n > 3 } goto all else goto all }
  intent { yes goto all no goto all else goto all }
  s: service { method POST url "https://api.example/{{n}}" header "X-Key" "k" body {"n": "{{n}}"} timeout 1500 save out status st on_error all }
  service { url "https://api.example" body "raw {{n}}" }
  handoff { queue "agents" reason "asked" message "Wait" }
  end "Bye"
}
"#,
    );
    let settings = m.bot.as_ref().unwrap();
    assert_eq!(settings.threshold.as_ref().unwrap().value, 0.7);
    assert_eq!(settings.context.len(), 2);
    assert!(
        matches!(&m.entities[0].kind, EntityKind::List(v) if v.len() == 2 && v[1].synonyms.is_empty())
    );
    assert!(matches!(&m.entities[1].kind, EntityKind::Pattern(_)));
    let cells = &m.flows[0].cells;
    assert_eq!(cells.len(), 10);
    let CellKind::Answer(a) = &cells[0].kind else {
        panic!()
    };
    assert_eq!(
        (
            a.text.len(),
            a.buttons.len(),
            a.quick_replies.len(),
            a.cards.len()
        ),
        (2, 1, 2, 1)
    );
    assert_eq!(
        a.custom.as_ref().unwrap().value["nested"]["x"],
        serde_json::json!(-1.5)
    );
    assert!(a.evaluable && a.media.is_some());
    let CellKind::Service(s) = &cells[6].kind else {
        panic!()
    };
    assert!(matches!(&s.body, Some(Body::Json(_))));
    assert_eq!(s.timeout_ms.as_ref().unwrap().value, 1500);
    let CellKind::Service(s) = &cells[7].kind else {
        panic!()
    };
    assert!(matches!(&s.body, Some(Body::Template(_))));
}

#[test]
fn syntax_errors_name_what_was_expected() {
    let (_, problems) = parse("flow f {\n  answr \"x\"\n}");
    assert_eq!(problems.len(), 1);
    assert!(
        problems[0].starts_with("cellflow::syntax::unknown_cell_kind"),
        "{problems:?}"
    );
    let (_, problems) = parse("flow f {\n  answer \"x\"\n");
    assert_eq!(
        problems,
        ["cellflow::syntax::unclosed: the `{` of the flow `f` is not closed"]
    );
    let (_, problems) = parse("flow f { jump }");
    assert!(problems[0].contains("expected a target"), "{problems:?}");
    let (_, problems) = parse("flow f { input x { promt \"?\" } }");
    assert_eq!(
        problems,
        ["cellflow::syntax::unknown_field: unknown field `promt` in an input"]
    );
    let (_, problems) = parse("flow f { rule { else f } }");
    assert_eq!(
        problems,
        ["cellflow::syntax::dsl: expected `goto` after `else`, found `f`"]
    );
}

#[test]
fn repeated_fields_are_reported_and_parsing_goes_on() {
    let (m, problems) =
        parse("flow f { input x { prompt \"a\" prompt \"b\" } handoff { reason \"r\" } }");
    assert!(
        problems.iter().any(|p| p.contains("duplicate_field")),
        "{problems:?}"
    );
    assert!(
        problems.iter().any(|p| p.contains("missing_field")),
        "{problems:?}"
    );
    assert_eq!(m.flows[0].cells.len(), 1);
}
