//! The editor's queries (`cellflow::ide`) on in-memory bots: what name is
//! where, its definitions and uses, rename edits, hover, and what completion
//! offers in each place of both syntaxes (in files that do not parse, too).

use std::path::Path;

use cellflow::ide::{Role, Symbol, Workspace};
use cellflow::source::Span;

const DSL: &str = r#"flow welcome on welcome {
  answer "Hi {{name | \"there\"}}"
  input name { prompt "Your name?" }
  code { greeting = "Hello " + name; }
  rule {
    when { name == "admin" } goto admin
    else goto menu
  }
  admin: answer "Welcome back"
}

flow menu on intent greet {
  start: answer "{{greeting | \"Hi\"}}, choose:"
  input choice { options ["a", "b"] }
  jump support.ask
}
"#;

const YAML: &str = r#"bot:
  context: [customer]
intents:
  greet:
    examples: ["hello", "hi there", "good morning"]
entities:
  plan:
    values: [basic, premium]
flows:
  support:
    cells:
      - id: ask
        input:
          var: topic
          entity: plan
          on_fail: welcome
      - answer: "About {{topic}} for {{customer}}: {{input.entities.plan}}"
      - jump: menu.start
  fallback:
    on: fallback
    cells:
      - answer: "Sorry?"
"#;

fn workspace() -> Workspace {
    let mut workspace = Workspace::new();
    workspace.set_text(Path::new("bot/main.flow"), DSL.to_owned());
    workspace.set_text(Path::new("bot/more.flow.yaml"), YAML.to_owned());
    workspace.check();
    workspace
}

/// The file and byte offset of the `n`th (0-based) `needle` in a file,
/// plus `into` bytes.
fn at(
    workspace: &Workspace,
    file: &str,
    needle: &str,
    n: usize,
    into: usize,
) -> (cellflow::source::FileId, usize) {
    let id = workspace.file(Path::new(file)).unwrap();
    let text = workspace.sources().get(id).text();
    let offset = text
        .match_indices(needle)
        .nth(n)
        .unwrap_or_else(|| panic!("{needle:?} #{n} in {file}"))
        .0;
    (id, offset + into)
}

/// A span as `file:text` for readable assertions.
fn show(workspace: &Workspace, span: Span) -> String {
    let sources = &workspace.analysis().unwrap().checked.sources;
    let file = sources.get(span.file().unwrap());
    let range = span.range().unwrap();
    let (line, _) = file.line_col(range.start);
    format!("{}:{line}:{}", file.path().display(), &file.text()[range])
}

#[test]
fn the_bot_in_two_syntaxes_checks_clean() {
    let mut workspace = workspace();
    let analysis = workspace.check();
    let rendered: Vec<String> = analysis
        .checked
        .diagnostics
        .iter()
        .map(|d| cellflow::diagnostic::render(d, &analysis.checked.sources, false, 100))
        .collect();
    assert!(rendered.is_empty(), "{}", rendered.join("\n"));
}

#[test]
fn names_resolve_to_their_definitions_across_files() {
    let workspace = workspace();
    let analysis = workspace.analysis().unwrap();
    let cases = [
        // (file, needle, occurrence, bytes into it, expected definition)
        ("bot/main.flow", "goto admin", 0, 6, "bot/main.flow:9:admin"),
        ("bot/main.flow", "goto menu", 0, 6, "bot/main.flow:12:menu"),
        (
            "bot/main.flow",
            "support.ask",
            0,
            2,
            "bot/more.flow.yaml:10:support",
        ),
        (
            "bot/main.flow",
            "support.ask",
            0,
            9,
            "bot/more.flow.yaml:12:ask",
        ),
        (
            "bot/main.flow",
            "intent greet",
            0,
            8,
            "bot/more.flow.yaml:4:greet",
        ),
        (
            "bot/more.flow.yaml",
            "menu.start",
            0,
            6,
            "bot/main.flow:13:start",
        ),
        (
            "bot/more.flow.yaml",
            "on_fail: welcome",
            0,
            10,
            "bot/main.flow:1:welcome",
        ),
        (
            "bot/more.flow.yaml",
            "entity: plan",
            0,
            9,
            "bot/more.flow.yaml:7:plan",
        ),
        (
            "bot/more.flow.yaml",
            "entities.plan",
            0,
            10,
            "bot/more.flow.yaml:7:plan",
        ),
        (
            "bot/more.flow.yaml",
            "{{customer}}",
            0,
            3,
            "bot/more.flow.yaml:2:customer",
        ),
        (
            "bot/more.flow.yaml",
            "{{topic}}",
            0,
            3,
            "bot/more.flow.yaml:14:topic",
        ),
        // A variable a script assigns and a template reads.
        (
            "bot/main.flow",
            "{{greeting",
            0,
            3,
            "bot/main.flow:4:greeting",
        ),
    ];
    for (file, needle, n, into, expected) in cases {
        let (id, offset) = at(&workspace, file, needle, n, into);
        let occurrence = analysis
            .at(id, offset)
            .unwrap_or_else(|| panic!("no name at {needle:?} in {file}"));
        let found: Vec<String> = analysis
            .definitions(&occurrence.symbol)
            .into_iter()
            .map(|s| show(&workspace, s))
            .collect();
        assert_eq!(found, vec![expected.to_owned()], "{needle:?} in {file}");
    }
}

#[test]
fn a_variable_is_defined_where_it_is_assigned_and_used_in_templates_and_scripts() {
    let workspace = workspace();
    let analysis = workspace.analysis().unwrap();
    let name = Symbol::Variable("name".to_owned());
    let uses: Vec<String> = analysis
        .references(&name, true)
        .into_iter()
        .map(|s| show(&workspace, s))
        .collect();
    assert_eq!(
        uses,
        [
            "bot/main.flow:2:name",
            "bot/main.flow:3:name",
            "bot/main.flow:4:name",
            "bot/main.flow:6:name",
        ]
    );
    let (file, offset) = at(&workspace, "bot/main.flow", "input name", 0, 7);
    let occurrence = analysis.at(file, offset).unwrap();
    assert_eq!(occurrence.symbol, name);
    assert_eq!(occurrence.role, Role::Definition);
}

/// Applies edits (spans into the checked sources) to each file's text.
fn apply(workspace: &mut Workspace, edits: Vec<(Span, String)>) {
    let sources = workspace.analysis().unwrap().checked.sources.clone();
    let mut by_file: std::collections::BTreeMap<_, Vec<(std::ops::Range<usize>, String)>> =
        std::collections::BTreeMap::new();
    for (span, text) in edits {
        by_file
            .entry(span.file().unwrap())
            .or_default()
            .push((span.range().unwrap(), text));
    }
    for (file, mut edits) in by_file {
        edits.sort_by_key(|(r, _)| std::cmp::Reverse(r.start));
        let mut text = sources.get(file).text().to_owned();
        for (range, new) in edits {
            text.replace_range(range, &new);
        }
        let path = sources.get(file).path().to_path_buf();
        workspace.set_text(&path, text);
    }
}

#[test]
fn renames_reach_every_file_and_keep_the_bot_clean() {
    let cases: [(&str, &str, usize, &str, &[&str]); 5] = [
        (
            "bot/main.flow",
            "flow menu",
            5,
            "home",
            &["flow home on", "goto home", "jump: home.start"],
        ),
        (
            "bot/more.flow.yaml",
            "id: ask",
            4,
            "question",
            &["id: question", "jump support.question"],
        ),
        (
            "bot/main.flow",
            "intent greet",
            8,
            "hello",
            &["on intent hello", "  hello:"],
        ),
        (
            "bot/main.flow",
            "input name",
            7,
            "who",
            &["{{who |", "input who", "\"Hello \" + who", "when { who =="],
        ),
        (
            "bot/more.flow.yaml",
            "plan:",
            0,
            "tier",
            &["{{input.entities.tier}}", "entity: tier", "  tier:"],
        ),
    ];
    for (file, needle, into, new_name, expected) in cases {
        let mut workspace = workspace();
        let (id, offset) = at(&workspace, file, needle, 0, into);
        let edits = workspace
            .analysis()
            .unwrap()
            .rename(id, offset, new_name)
            .unwrap();
        apply(&mut workspace, edits);
        let analysis = workspace.check();
        let rendered: Vec<String> = analysis
            .checked
            .diagnostics
            .iter()
            .map(|d| cellflow::diagnostic::render(d, &analysis.checked.sources, false, 100))
            .collect();
        assert!(
            rendered.is_empty(),
            "after renaming {needle}:\n{}",
            rendered.join("\n")
        );
        let all: String = analysis
            .checked
            .sources
            .iter()
            .map(|(_, f)| f.text())
            .collect();
        for piece in expected {
            assert!(
                all.contains(piece),
                "after renaming {needle}, no {piece:?} in:\n{all}"
            );
        }
    }
    let workspace = workspace();
    let (id, offset) = at(&workspace, "bot/main.flow", "flow menu", 0, 5);
    assert!(
        workspace
            .analysis()
            .unwrap()
            .rename(id, offset, "not a name")
            .is_err()
    );
}

#[test]
fn hover_says_what_a_cell_does_where_it_goes_and_what_it_sets() {
    let workspace = workspace();
    let analysis = workspace.analysis().unwrap();
    let (id, offset) = at(&workspace, "bot/main.flow", "input name", 0, 2);
    let hover = analysis.hover(id, offset).unwrap();
    crate::support::snapshot("ide", "hover_input", &hover.markdown);
    let (id, offset) = at(&workspace, "bot/more.flow.yaml", "var: topic", 0, 6);
    let hover = analysis.hover(id, offset).unwrap();
    crate::support::snapshot("ide", "hover_variable", &hover.markdown);
    let (id, offset) = at(&workspace, "bot/main.flow", "goto admin", 0, 6);
    let hover = analysis.hover(id, offset).unwrap();
    crate::support::snapshot("ide", "hover_target", &hover.markdown);
}

/// The labels completion offers where `|` stands in `text`, in a bot
/// whose other file is the YAML above (and whose names a first check of the
/// clean files gave).
fn complete(file: &str, text: &str) -> Vec<String> {
    let mut workspace = workspace();
    let offset = text.find('|').expect("a cursor");
    let text = text.replace('|', "");
    let id = workspace.set_text(Path::new(file), text);
    let completions = workspace.complete(id, offset);
    completions.items.into_iter().map(|c| c.label).collect()
}

fn has(labels: &[String], wanted: &[&str], not: &[&str]) {
    for w in wanted {
        assert!(labels.iter().any(|l| l == w), "{w} missing from {labels:?}");
    }
    for n in not {
        assert!(
            !labels.iter().any(|l| l == n),
            "{n} should not be in {labels:?}"
        );
    }
}

#[test]
fn dsl_completion_follows_the_block_and_the_word_before() {
    let dsl = "bot/main.flow";
    let flow =
        |body: &str| format!("flow welcome on welcome {{\n  admin: answer \"x\"\n{body}\n}}\n");
    // Targets after goto, ->, jump, on_fail; local cells first, then flows.
    for body in [
        "  jump |",
        "  rule { when { x } goto | }",
        "  answer \"a\" -> |",
        "  input x { on_fail | }",
    ] {
        has(
            &complete(dsl, &flow(body)),
            &["admin", "menu", "support"],
            &["answer"],
        );
    }
    // FLOW. offers that flow's cells.
    has(
        &complete(dsl, &flow("  jump support.|")),
        &["ask"],
        &["menu"],
    );
    // Cell kinds where a cell starts, even mid-file with errors after.
    has(
        &complete(dsl, &flow("  |\n  answer {")),
        &["answer", "input", "service", "end"],
        &["menu"],
    );
    // Fields of the block the cursor is in.
    has(
        &complete(dsl, &flow("  input x {\n    |\n  }")),
        &["prompt", "options", "on_fail", "max_size"],
        &["answer"],
    );
    has(
        &complete(dsl, &flow("  answer {\n    |\n  }")),
        &["text", "button", "quick_reply"],
        &["prompt"],
    );
    has(
        &complete(dsl, &flow("  service {\n    |\n  }")),
        &["url", "header", "save"],
        &["prompt"],
    );
    has(
        &complete(
            dsl,
            &flow("  answer {\n    card \"t\" {\n      |\n    }\n  }"),
        ),
        &["subtitle", "image"],
        &["text"],
    );
    has(
        &complete(dsl, "bot {\n  |\n}\n"),
        &["name", "locale", "hidden"],
        &["prompt"],
    );
    has(
        &complete(dsl, "|"),
        &["flow", "intent", "entity", "bot"],
        &["answer"],
    );
    // Values.
    has(
        &complete(dsl, &flow("  input x |")),
        &["integer", "date", "options"],
        &["prompt"],
    );
    has(
        &complete(dsl, &flow("  service {\n    method |\n  }")),
        &["GET", "POST"],
        &[],
    );
    has(
        &complete(dsl, &flow("  answer {\n    pick |\n  }")),
        &["random", "sequence"],
        &[],
    );
    has(
        &complete(dsl, "flow x on |"),
        &["welcome", "intent", "fallback"],
        &[],
    );
    // Intents and entities by name.
    has(&complete(dsl, "flow x on intent |"), &["greet"], &["plan"]);
    has(
        &complete(dsl, &flow("  input x {\n    entity |\n  }")),
        &["plan"],
        &["greet"],
    );
    has(
        &complete(dsl, &flow("  intent {\n    |\n  }")),
        &["greet", "else"],
        &["answer"],
    );
    // Variables in templates and scripts (a `#{` map and braces in strings too).
    has(
        &complete(dsl, &flow("  answer \"Hi {{|")),
        &["name", "greeting", "topic", "customer", "user"],
        &["menu"],
    );
    has(
        &complete(dsl, &flow("  code { let m = #{a: \"}\"}; x = |")),
        &["name", "choice", "session"],
        &["menu"],
    );
    has(&complete(dsl, &flow("  rule { when { |")), &["name"], &[]);
    has(
        &complete(dsl, &flow("  answer \"{{input.entities.|")),
        &["plan"],
        &["name"],
    );
    // Nothing inside a plain string, or after a field that takes a value.
    assert!(complete(dsl, &flow("  answer \"Hi |")).is_empty());
    assert!(complete(dsl, &flow("  input x {\n    prompt |\n  }")).is_empty());
}

#[test]
fn yaml_completion_follows_the_keys_above() {
    let yaml = "bot/more.flow.yaml";
    let cells = |body: &str| {
        format!("flows:\n  support:\n    cells:\n      - id: ask\n        answer: hi\n{body}\n")
    };
    has(
        &complete(yaml, "|"),
        &["bot", "intents", "entities", "flows"],
        &[],
    );
    has(
        &complete(yaml, "bot:\n  |"),
        &["name", "context", "inactivity"],
        &["flows"],
    );
    has(
        &complete(yaml, "bot:\n  nlu:\n    |"),
        &["threshold", "out_of_scope"],
        &["name"],
    );
    has(
        &complete(yaml, "flows:\n  x:\n    |"),
        &["on", "timeout", "cells"],
        &[],
    );
    has(
        &complete(yaml, "flows:\n  x:\n    on: |"),
        &["welcome", "fallback", "timeout"],
        &[],
    );
    has(
        &complete(yaml, "flows:\n  x:\n    on: {intent: |"),
        &["greet"],
        &[],
    );
    has(
        &complete(yaml, "flows:\n  x:\n    on:\n      intent: |"),
        &["greet"],
        &[],
    );
    has(
        &complete(yaml, "intents:\n  x:\n    |"),
        &["examples", "patterns", "global"],
        &[],
    );
    // Cell kinds at a new item, and beside an id.
    has(
        &complete(yaml, &cells("      - |")),
        &["answer", "input", "id", "next"],
        &["prompt"],
    );
    has(
        &complete(yaml, &cells("      - id: x\n        |")),
        &["answer", "jump"],
        &[],
    );
    // Fields of a cell kind, and of its parts.
    has(
        &complete(
            yaml,
            &cells("      - input:\n          var: x\n          |"),
        ),
        &["prompt", "on_fail", "types"],
        &["text"],
    );
    has(
        &complete(yaml, &cells("      - answer:\n          |")),
        &["text", "buttons", "voice"],
        &["var"],
    );
    has(
        &complete(
            yaml,
            &cells("      - answer:\n          buttons:\n            - |"),
        ),
        &["label", "value", "url"],
        &[],
    );
    has(
        &complete(yaml, &cells("      - service:\n          |")),
        &["url", "headers", "timeout_ms"],
        &[],
    );
    has(
        &complete(yaml, &cells("      - rule:\n          - |")),
        &["when", "goto", "else"],
        &[],
    );
    // Targets, intents, entities, values.
    has(
        &complete(yaml, &cells("      - jump: |")),
        &["ask", "menu", "welcome"],
        &[],
    );
    has(
        &complete(
            yaml,
            &cells("      - rule:\n          - when: x\n            goto: |"),
        ),
        &["ask", "fallback"],
        &[],
    );
    has(
        &complete(yaml, &cells("      - jump: menu.|")),
        &["start"],
        &["ask"],
    );
    has(
        &complete(yaml, &cells("      - intent:\n          greet: |")),
        &["ask", "menu"],
        &[],
    );
    has(
        &complete(yaml, &cells("      - intent:\n          |")),
        &["greet", "else"],
        &[],
    );
    has(
        &complete(yaml, &cells("      - input: {var: x, entity: |")),
        &["plan"],
        &[],
    );
    has(
        &complete(
            yaml,
            &cells("      - input:\n          var: x\n          type: |"),
        ),
        &["integer", "email"],
        &[],
    );
    has(
        &complete(yaml, &cells("      - service:\n          method: |")),
        &["GET", "DELETE"],
        &[],
    );
    // Variables in templates and in a block scalar script.
    has(
        &complete(yaml, &cells("      - answer: \"{{|")),
        &["topic", "name", "input"],
        &[],
    );
    has(
        &complete(yaml, &cells("      - code: |\n          total = |")),
        &["topic", "greeting"],
        &[],
    );
    // cellflow.yaml holds the settings at the top.
    has(
        &complete("bot/cellflow.yaml", "|"),
        &["name", "locale", "languages"],
        &["flows"],
    );
}

#[test]
fn the_dsl_fields_completion_offers_are_the_grammars() {
    let grammar =
        std::fs::read_to_string(crate::support::root().join("grammar/flow.pest")).unwrap();
    let listed: Vec<&str> = cellflow::ide::DSL_FIELDS.iter().map(|(r, _)| *r).collect();
    for line in grammar.lines() {
        if let Some((rule, _)) = line.split_once(" = @{")
            && rule.ends_with("_field_kw")
        {
            assert!(
                listed.contains(&rule),
                "completion does not offer the fields of {rule}"
            );
        }
    }
    for (rule, fields) in cellflow::ide::DSL_FIELDS {
        let line = grammar
            .lines()
            .find(|l| l.starts_with(&format!("{rule} =")))
            .unwrap_or_else(|| panic!("grammar/flow.pest has no rule {rule}"));
        let inside = &line[line.find('(').unwrap() + 1..line.rfind(')').unwrap()];
        let mut in_grammar: Vec<&str> = inside
            .split('|')
            .map(|w| w.trim().trim_matches('"'))
            .collect();
        let mut offered: Vec<&str> = fields.to_vec();
        in_grammar.sort_unstable();
        offered.sort_unstable();
        assert_eq!(offered, in_grammar, "{rule}");
    }
}

#[test]
fn a_file_is_parsed_again_alone_and_a_syntax_error_keeps_the_rest_checked() {
    let mut workspace = workspace();
    let file = workspace.file(Path::new("bot/main.flow")).unwrap();
    assert!(!workspace.is_dirty());
    workspace.set_text(
        Path::new("bot/main.flow"),
        "flow welcome on welcome {\n  answr \"x\"\n}\n".to_owned(),
    );
    assert!(workspace.is_dirty());
    let analysis = workspace.check();
    let codes: Vec<&str> = analysis
        .diagnostics_in(file)
        .map(|d| d.problem.code())
        .collect();
    assert_eq!(codes, ["cellflow::syntax::unknown_cell_kind"]);
    // The YAML file's names are still indexed.
    let yaml = workspace.file(Path::new("bot/more.flow.yaml")).unwrap();
    let analysis = workspace.analysis().unwrap();
    assert!(
        !analysis
            .references(&Symbol::Intent("greet".into()), true)
            .is_empty()
    );
    assert!(
        analysis.diagnostics_in(yaml).count() > 0,
        "menu.start no longer exists"
    );
    // Formatting refuses a file that does not parse, and formats one that does.
    assert!(workspace.format(file).is_err());
    workspace.set_text(
        Path::new("bot/main.flow"),
        "flow   welcome on welcome {answer \"x\"}".to_owned(),
    );
    let formatted = workspace.format(file).unwrap().unwrap();
    assert_eq!(formatted, "flow welcome on welcome {\n  answer \"x\"\n}\n");
    workspace.set_text(Path::new("bot/main.flow"), formatted);
    assert_eq!(workspace.format(file).unwrap(), None);
    // Removing a file keeps the others.
    workspace.remove(Path::new("bot/main.flow"));
    assert!(workspace.file(Path::new("bot/main.flow")).is_none());
    assert!(workspace.file(Path::new("bot/more.flow.yaml")).is_some());
    let analysis = workspace.check();
    assert!(
        analysis
            .checked
            .diagnostics
            .iter()
            .any(|d| d.problem.code() == "cellflow::check::unknown_target")
    );
}
