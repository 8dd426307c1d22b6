//! `cellflow explore`: it finds failing turns and placeholders with no
//! value, reaches every cell of the example bots, and the tests it writes
//! pass as written.

use crate::support::{self, Cmd};

/// A scratch directory holding copies of `files` (repository paths).
fn scratch(name: &str, files: &[&str]) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("cellflow-explore-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for file in files {
        let from = support::root().join(file);
        std::fs::copy(&from, dir.join(from.file_name().unwrap())).unwrap();
    }
    dir
}

#[test]
fn finds_failing_turns_and_placeholders_with_no_value() {
    let out = Cmd::new().args(["explore", "tests/explore/buggy"]).run();
    assert_eq!(out.status, 1, "{}{}", out.stdout, out.stderr);
    support::snapshot("explore", "buggy", &out.stdout);
    assert!(
        out.stdout
            .contains("turn failed: a script failed: Division by zero"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(
            "tests/explore/buggy/bot.flow:20  welcome#4: `{{profile.name}}` had no value"
        ),
        "{}",
        out.stdout
    );
}

#[test]
fn example_bots_explore_clean_and_completely() {
    for bot in ["flows/ebank", "flows/pizza", "flows/support"] {
        let out = Cmd::new().args(["explore", bot]).run();
        assert_eq!(out.status, 0, "{bot}:\n{}{}", out.stdout, out.stderr);
        assert!(
            out.stdout.contains("reached 100.0% of cells and branches"),
            "{bot}:\n{}",
            out.stdout
        );
    }
}

#[test]
fn emitted_tests_pass_and_cover_what_explore_reached() {
    let dir = scratch(
        "support",
        &[
            "flows/support/support.flow.yaml",
            "flows/support/support.test.yaml",
        ],
    );
    let emitted = dir.join("explored.test.yaml");
    let out = Cmd::new()
        .args(["explore"])
        .args([&dir])
        .args(["--emit-tests"])
        .args([&emitted])
        .run();
    assert_eq!(out.status, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("wrote "), "{}", out.stdout);
    let tests = Cmd::new()
        .args(["test"])
        .args([&emitted])
        .args(["--coverage"])
        .run();
    assert_eq!(tests.status, 0, "{}{}", tests.stdout, tests.stderr);
    assert!(
        tests.stdout.contains("100.0% of cells and branches"),
        "{}",
        tests.stdout
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn the_walk_stops_at_max_states_and_says_so() {
    let out = Cmd::new()
        .args(["explore", "flows/ebank", "--max-states", "20"])
        .run();
    assert_eq!(out.status, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.starts_with(
            "explored 20 conversation states, up to 10 turns deep (stopped at --max-states)"
        ),
        "{}",
        out.stdout
    );
}

#[test]
fn depth_bounds_each_conversation() {
    let dir = scratch("depth", &["flows/pizza/pizza.flow"]);
    let emitted = dir.join("explored.test.yaml");
    let out = Cmd::new()
        .args(["explore"])
        .args([&dir])
        .args(["--depth", "2", "--emit-tests"])
        .args([&emitted])
        .run();
    assert_eq!(out.status, 0, "{}{}", out.stdout, out.stderr);
    let text = std::fs::read_to_string(&emitted).unwrap();
    for test in text.split("  - name:").skip(1) {
        let steps = test.matches("      - user:").count() + test.matches("      - event:").count();
        assert!((1..=2).contains(&steps), "{test}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn emitted_tests_are_written_in_the_test_file_format() {
    // The written file is the reviewable artifact: its layout is pinned.
    let dir = scratch("emitted", &["flows/support/support.flow.yaml"]);
    let emitted = dir.join("explored.test.yaml");
    let out = Cmd::new()
        .args(["explore"])
        .args([&dir])
        .args(["--emit-tests"])
        .args([&emitted])
        .run();
    // It finds a placeholder with no value (exit 1), and writes the tests.
    assert_eq!(out.status, 1, "{}{}", out.stdout, out.stderr);
    let written = std::fs::read_to_string(&emitted).unwrap();
    support::snapshot("explore", "support_emitted", &written);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn explore_walks_a_bot_in_one_of_its_languages() {
    let dir = scratch("language", &["flows/support/support.flow.yaml"]);
    let emitted = dir.join("es.test.yaml");
    let out = Cmd::new()
        .args(["explore"])
        .args([dir.join("support.flow.yaml")])
        .args(["--language", "es", "--max-states", "40", "--emit-tests"])
        .args([&emitted])
        .run();
    // 1: it found the turns an unmocked service breaks, as it should.
    assert_eq!(out.status, 1, "{}{}", out.stdout, out.stderr);
    let written = std::fs::read_to_string(&emitted).unwrap();
    assert!(written.contains("language: \"es\""), "{written}");
    assert!(written.contains("¡Hola! Soy ShopHelp"), "{written}");
    assert!(!written.contains("Olá! Sou o ShopHelp"), "{written}");
    // What it wrote passes as it was written.
    let run = Cmd::new().args(["test"]).args([&emitted]).run();
    assert_eq!(run.status, 0, "{}{}", run.stdout, run.stderr);

    let out = Cmd::new()
        .args(["explore", "flows/support", "--language", "fr"])
        .run();
    assert_eq!(out.status, 2, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .contains("the bot does not speak `fr`; it speaks pt, es"),
        "{}",
        out.stderr
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn explore_goes_quiet_where_a_conversation_can_time_out() {
    let bot = support::bot(concat!(
        "bot { inactivity { after 5m } }\n",
        "flow welcome on welcome { input name { prompt \"Name?\" } answer \"Hi {{name}}\" }\n",
        "flow idle on timeout {\n",
        "  rule { when { session.timeouts > 1 } goto bye }\n",
        "  answer \"Still there?\"\n",
        "  -> done\n",
        "  bye: end \"Bye\"\n",
        "  done: track reminded\n",
        "}\n",
        "flow fallback on fallback { answer \"Sorry?\" }\n",
    ));
    let found = cellflow::explore::explore(&bot, &cellflow::explore::Options::default());
    assert!(found.findings.is_empty(), "{:?}", found.findings);
    let report = found.coverage.report(bot.program());
    assert_eq!(report.combined_percent(), 100.0);
    // The tests it writes send the timeout as an event.
    let written = found.tests_yaml(&cellflow::explore::Options::default());
    assert!(written.contains("event: \"timeout\""), "{written}");
}
