//! The `cellflow` binary as CI uses it: exit codes, output formats, `fmt`
//! and `graph`.

use crate::support::Cmd;

#[test]
fn check_passes_on_the_examples_with_deny_warnings() {
    let out = Cmd::new()
        .args([
            "check",
            "flows/ebank",
            "flows/pizza",
            "flows/support",
            "--deny-warnings",
        ])
        .run();
    assert_eq!(out.status, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("0 errors, 0 warnings"),
        "{}",
        out.stdout
    );
}

#[test]
fn errors_exit_1_and_warnings_only_with_deny_warnings() {
    let errors = Cmd::new()
        .args(["check", "tests/diagnostics/unknown_target.flow.yaml"])
        .run();
    assert_eq!(errors.status, 1);
    let warnings = Cmd::new()
        .args(["check", "tests/diagnostics/no_fallback.flow.yaml"])
        .run();
    assert_eq!(warnings.status, 0, "{}", warnings.stdout);
    let denied = Cmd::new()
        .args([
            "check",
            "tests/diagnostics/no_fallback.flow.yaml",
            "--deny-warnings",
        ])
        .run();
    assert_eq!(denied.status, 1);
}

#[test]
fn usage_and_io_errors_exit_2() {
    assert_eq!(Cmd::new().args(["check", "does/not/exist"]).run().status, 2);
    assert_eq!(Cmd::new().args(["check"]).run().status, 2);
    assert_eq!(Cmd::new().args(["check", "Cargo.toml"]).run().status, 2);
    assert_eq!(Cmd::new().args(["check", "src"]).run().status, 2);
}

#[test]
fn json_format_is_one_object_per_diagnostic() {
    let out = Cmd::new()
        .args([
            "check",
            "tests/diagnostics/maybe_unset.flow.yaml",
            "--format",
            "json",
        ])
        .run();
    assert_eq!(out.status, 0);
    let lines: Vec<serde_json::Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{}", out.stdout);
    let first = &lines[0];
    assert_eq!(first["code"], "cellflow::check::maybe_unset");
    assert_eq!(first["severity"], "warning");
    assert_eq!(first["file"], "tests/diagnostics/maybe_unset.flow.yaml");
    assert_eq!(first["line"], 19);
    assert_eq!(first["column"], 24);
    assert!(first["help"].as_str().unwrap().contains("name"));
}

#[test]
fn github_format_is_workflow_annotations() {
    let out = Cmd::new()
        .args([
            "check",
            "tests/diagnostics/unknown_target.flow.yaml",
            "--format",
            "github",
        ])
        .run();
    assert_eq!(out.status, 1);
    crate::support::snapshot("cli", "github_annotations", &out.stdout);
}

#[test]
fn human_format_reports_everything_sorted() {
    let out = Cmd::new()
        .args(["check", "tests/diagnostics/duplicate_name_across_files"])
        .run();
    assert_eq!(out.status, 1);
    crate::support::snapshot("cli", "human_across_files", &out.stdout);
}

#[test]
fn fmt_converts_and_checks() {
    let dsl = Cmd::new()
        .args(["fmt", "flows/support/support.flow.yaml", "--to", "dsl"])
        .run();
    assert_eq!(dsl.status, 0, "{}", dsl.stderr);
    assert!(dsl.stdout.contains("flow track on intent track {"));
    let check = Cmd::new()
        .args(["fmt", "--check", "flows/pizza/pizza.flow"])
        .run();
    assert_eq!(check.status, 0, "{}{}", check.stdout, check.stderr);
    let dir = tempdir("fmt");
    let path = dir.join("messy.flow");
    std::fs::write(&path, "flow   f on welcome {answer \"x\"   end}").unwrap();
    let check = Cmd::new().args(["fmt", "--check"]).args([&path]).run();
    assert_eq!(check.status, 1);
    let write = Cmd::new().args(["fmt", "--write"]).args([&path]).run();
    assert_eq!(write.status, 0);
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "flow f on welcome {\n  answer \"x\"\n  end\n}\n"
    );
    assert_eq!(
        Cmd::new()
            .args(["fmt", "--check"])
            .args([&path])
            .run()
            .status,
        0
    );
    assert_eq!(
        Cmd::new().args(["fmt", "flows"]).run().status,
        2,
        "several files need --write or --check"
    );
}

#[test]
fn graph_prints_dot_and_mermaid() {
    let dot = Cmd::new()
        .args(["graph", "flows/pizza", "--flow", "address"])
        .run();
    assert_eq!(dot.status, 0, "{}", dot.stderr);
    crate::support::snapshot("cli", "graph_dot_address", &dot.stdout);
    let mermaid = Cmd::new()
        .args([
            "graph",
            "flows/support",
            "--format",
            "mermaid",
            "--flow",
            "more_help",
        ])
        .run();
    assert_eq!(mermaid.status, 0, "{}", mermaid.stderr);
    crate::support::snapshot("cli", "graph_mermaid_more_help", &mermaid.stdout);
    let whole = Cmd::new()
        .args(["graph", "flows/ebank", "--format", "mermaid"])
        .run();
    assert!(
        whole.stdout.contains("-->|\"on_fail\"|"),
        "{}",
        whole.stdout
    );
    let unknown = Cmd::new()
        .args(["graph", "flows/pizza", "--flow", "nope"])
        .run();
    assert_eq!(unknown.status, 2);
    assert!(unknown.stderr.contains("address"), "{}", unknown.stderr);
}

fn tempdir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("cellflow-test-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn run_reads_messages_from_stdin_and_prints_a_transcript() {
    let out = Cmd::new()
        .args(["run", "flows/pizza", "--trace"])
        .stdin("I want a pizza\nfunghi\n:vars\n:event cancelled\n")
        .run();
    assert_eq!(out.status, 0, "{}", out.stderr);
    crate::support::snapshot("cli", "run_transcript", &out.stdout);
    assert!(out.stdout.contains("> funghi"));
    assert!(
        out.stdout.contains("\"kind\": \"mushroom\""),
        "{}",
        out.stdout
    );
}

#[test]
fn run_refuses_a_bot_with_errors() {
    let out = Cmd::new()
        .args(["run", "tests/diagnostics/unknown_target.flow.yaml"])
        .stdin("hi\n")
        .run();
    assert_eq!(out.status, 1);
    assert!(
        out.stderr.contains("cellflow::check::unknown_target"),
        "{}",
        out.stderr
    );
}

#[test]
fn compile_writes_an_artifact_that_runs_and_rejects_bad_ones() {
    let dir = tempdir("compile");
    let artifact = dir.join("pizza.cfa");
    let out = Cmd::new()
        .args(["compile", "flows/pizza", "-o"])
        .args([&artifact])
        .run();
    assert_eq!(out.status, 0, "{}", out.stderr);
    let run = Cmd::new()
        .args(["run"])
        .args([&artifact])
        .stdin("menu please\n")
        .run();
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("Here is what we bake today"),
        "{}",
        run.stdout
    );
    let bot = cellflow::Bot::load(&artifact).expect("the artifact loads");
    assert_eq!(bot.program().name, "Napoli");

    let text = std::fs::read_to_string(&artifact).unwrap();
    let old = dir.join("old.cfa");
    std::fs::write(
        &old,
        text.replacen(
            &format!("cellflow-artifact {}", cellflow::compile::ARTIFACT_VERSION),
            "cellflow-artifact 0",
            1,
        ),
    )
    .unwrap();
    let err = cellflow::Bot::load(&old).unwrap_err().to_string();
    assert!(err.contains("format version 0"), "{err}");
    let corrupt = dir.join("corrupt.cfa");
    std::fs::write(&corrupt, &text[..text.len() / 2]).unwrap();
    let err = cellflow::Bot::load(&corrupt).unwrap_err().to_string();
    assert!(err.contains("corrupt"), "{err}");
    let run = Cmd::new().args(["run"]).args([&corrupt]).stdin("").run();
    assert_eq!(run.status, 2, "{}", run.stderr);

    let failed = Cmd::new()
        .args([
            "compile",
            "tests/diagnostics/unknown_target.flow.yaml",
            "-o",
        ])
        .args([dir.join("x")])
        .run();
    assert_eq!(failed.status, 1);
    assert!(!dir.join("x").exists());
}

#[test]
fn long_runs_stay_quiet_when_not_on_a_terminal() {
    let dir = tempdir("many");
    for i in 0..25 {
        std::fs::write(dir.join(format!("f{i}.flow")), format!("flow f{i} on intent i{i} {{\n  answer \"hi\"\n}}\nintent i{i} {{\n  examples [\"hello number {i}\", \"hi number {i}\", \"hey number {i}\"]\n}}\n")).unwrap();
    }
    std::fs::write(
        dir.join("fallback.flow"),
        "flow fallback on fallback {\n  answer \"?\"\n}\n",
    )
    .unwrap();
    let out = Cmd::new().args(["check"]).args([&dir]).run();
    assert_eq!(out.status, 0, "{}", out.stdout);
    assert_eq!(out.stderr, "", "no progress bar without a terminal");
    assert_eq!(out.stdout, "checked 26 files: 0 errors, 0 warnings\n");
}
