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
    run_beside_pizza_with(file, &[])
}

fn run_beside_pizza_with(file: &str, flags: &[&str]) -> (i32, String) {
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
    let out = Cmd::new()
        .args(["test"])
        .args([dir.join(file)])
        .args(flags)
        .run();
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
            .contains(r#"<testsuites name="cellflow" tests="7" failures="0" errors="0">"#),
        "{}",
        ok.stdout
    );
}

#[test]
fn coverage_lists_flows_and_what_was_never_reached() {
    let (status, report) = run_beside_pizza_with("partial.test.yaml", &["--coverage"]);
    assert_eq!(status, 0, "{report}");
    support::snapshot("testing", "coverage_partial", &report);
    assert!(report.contains("never reached:"), "{report}");
    // An unreached cell names its file and line.
    assert!(
        report.contains("<dir>/pizza.flow:138  kitchen_down#1 (answer)"),
        "{report}"
    );
    // A reached input lists the branches it never took.
    assert!(
        report.contains("order#2: an invalid answer (asked again)"),
        "{report}"
    );
}

#[test]
fn min_coverage_fails_a_run_below_the_bar() {
    let (status, report) = run_beside_pizza_with("partial.test.yaml", &["--min-coverage", "90"]);
    assert_eq!(status, 1, "{report}");
    assert!(report.contains("below the required 90%"), "{report}");
}

#[test]
fn every_example_bot_is_covered_at_least_90_percent() {
    for bot in ["flows/ebank", "flows/pizza", "flows/support"] {
        let out = Cmd::new().args(["test", bot, "--min-coverage", "90"]).run();
        assert_eq!(out.status, 0, "{bot}:\n{}{}", out.stdout, out.stderr);
        assert!(out.stdout.contains("coverage of"), "{}", out.stdout);
    }
}

#[test]
fn junit_keeps_stdout_xml_and_puts_coverage_on_stderr() {
    let out = Cmd::new()
        .args(["test", "flows/pizza", "--format", "junit", "--coverage"])
        .run();
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert!(out.stdout.starts_with("<?xml"), "{}", out.stdout);
    assert!(!out.stdout.contains("coverage"), "{}", out.stdout);
    assert!(
        out.stderr.contains("coverage of flows/pizza"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_test_in_a_language_the_bot_does_not_speak_fails_and_says_why() {
    let (status, report) = run_beside_pizza("languages.test.yaml");
    assert_eq!(status, 1, "{report}");
    assert!(
        report.contains("step 0 (language: fr): the bot does not speak `fr`; it speaks en"),
        "{report}"
    );
    assert!(report.contains("1 passed, 1 failed"), "{report}");
}

#[test]
fn steps_assert_analytics_events_and_their_properties() {
    let (status, report) = run_beside_pizza("tracked.test.yaml");
    assert_eq!(status, 1, "{report}");
    assert!(report.contains("1 passed, 1 failed"), "{report}");
    support::snapshot("testing", "tracked_report", &report);
}
