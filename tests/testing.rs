//! `cellflow test`: the example bots' conversation tests pass, failures are
//! reported with the step and a diff, and mistakes in test files are
//! diagnostics.

use crate::support::{self, Cmd};

#[test]
fn every_example_bot_has_passing_conversation_tests() {
    let out = Cmd::new()
        .args(["test", "flows/ebank", "flows/pizza", "flows/support"])
        .run();
    assert_eq!(out.status, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.ends_with("0 failed\n"), "{}", out.stdout);
    let passed: usize = out
        .stdout
        .lines()
        .last()
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(passed >= 12, "{}", out.stdout);
}

/// Runs `cellflow test` on `tests/testing/<file>` placed next to a copy of
/// the pizza bot; returns the exit code and the report with the directory
/// replaced by `<dir>`.
fn run_beside_pizza(file: &str) -> (i32, String) {
    let dir = std::env::temp_dir().join(format!("cellflow-testing-{}-{file}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(
        support::root().join("flows/pizza/pizza.flow"),
        dir.join("pizza.flow"),
    )
    .unwrap();
    std::fs::copy(
        support::root().join("tests/testing").join(file),
        dir.join(file),
    )
    .unwrap();
    let out = Cmd::new().args(["test"]).args([dir.join(file)]).run();
    (
        out.status,
        out.stdout.replace(&dir.display().to_string(), "<dir>"),
    )
}

#[test]
fn failures_name_the_step_and_show_a_diff() {
    let (status, report) = run_beside_pizza("failing.test.yaml");
    assert_eq!(status, 1);
    support::snapshot("testing", "failure_report", &report);
    assert!(
        report.contains("the service cell `place` was called, but the test has no mock for it"),
        "{report}"
    );
}

#[test]
fn mistakes_in_test_files_are_diagnostics() {
    let (status, report) = run_beside_pizza("mistakes.test.yaml");
    assert_eq!(status, 1);
    for code in [
        "cellflow::syntax::unknown_field",
        "cellflow::syntax::missing_field",
        "cellflow::check::invalid_regex",
        "cellflow::test::unknown_mock",
    ] {
        assert!(report.contains(code), "{code} missing:\n{report}");
    }
    support::snapshot("testing", "test_file_diagnostics", &report);
}

#[test]
fn junit_reports_for_ci() {
    let ok = Cmd::new()
        .args(["test", "flows/pizza", "--format", "junit"])
        .run();
    assert_eq!(ok.status, 0, "{}", ok.stderr);
    support::snapshot("testing", "junit_pizza", &ok.stdout);
    assert!(
        ok.stdout
            .contains(r#"<testsuites name="cellflow" tests="4" failures="0" errors="0">"#),
        "{}",
        ok.stdout
    );
}
