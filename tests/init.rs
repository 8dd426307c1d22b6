//! `cellflow init`: every starter bot passes `check --deny-warnings` and
//! `test` as written, in both syntaxes and every language; nothing is ever
//! overwritten.

use std::path::{Path, PathBuf};

use crate::support::Cmd;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cellflow-init-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn cellflow<const N: usize>(args: [&str; N]) -> crate::support::Output {
    Cmd::new().args(args).run()
}

/// The starter in `dir` checks clean and its tests pass, covering every cell.
fn assert_works(dir: &Path) {
    let dir = dir.to_str().unwrap();
    let checked = cellflow(["check", dir, "--deny-warnings"]);
    assert_eq!(checked.status, 0, "{}{}", checked.stdout, checked.stderr);
    let tested = cellflow(["test", dir, "--coverage"]);
    assert_eq!(tested.status, 0, "{}{}", tested.stdout, tested.stderr);
    assert!(
        tested.stdout.contains("4 passed, 0 failed"),
        "{}",
        tested.stdout
    );
    let total = tested
        .stdout
        .lines()
        .find(|l| l.starts_with("total"))
        .unwrap_or_default();
    assert!(
        total.contains(" 8/8 "),
        "every cell is reached: {}",
        tested.stdout
    );
}

#[test]
fn every_starter_passes_check_and_test_as_written() {
    for (lang, dsl) in [
        ("en", false),
        ("en", true),
        ("es", false),
        ("es", true),
        ("pt", false),
        ("pt", true),
    ] {
        let dir = scratch(&format!("{lang}-{dsl}"));
        let mut args = vec!["init", dir.to_str().unwrap(), "--lang", lang];
        if dsl {
            args.push("--dsl");
        }
        let made = Cmd::new().args(&args).run();
        assert_eq!(made.status, 0, "{}", made.stderr);
        let flow = if dsl { "bot.flow" } else { "bot.flow.yaml" };
        for file in [
            flow,
            "bot.test.yaml",
            "README.md",
            ".github/workflows/cellflow.yml",
        ] {
            assert!(dir.join(file).is_file(), "{lang} {dsl}: {file} is written");
        }
        assert_works(&dir);
        let formatted = cellflow(["fmt", dir.join(flow).to_str().unwrap(), "--check"]);
        assert_eq!(formatted.status, 0, "{lang} {dsl}: {}", formatted.stdout);
        // The DSL version is the YAML one converted: converting back gives
        // a bot that behaves the same (the same tests pass).
        if dsl {
            let yaml = cellflow(["fmt", dir.join(flow).to_str().unwrap(), "--to", "yaml"]);
            assert_eq!(yaml.status, 0, "{}", yaml.stderr);
            std::fs::remove_file(dir.join(flow)).unwrap();
            std::fs::write(dir.join("bot.flow.yaml"), yaml.stdout).unwrap();
            assert_works(&dir);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn the_english_starter_and_its_messages() {
    let dir = scratch("snapshot");
    let made = cellflow([
        "init",
        dir.to_str().unwrap(),
        "--name",
        "Dental \"Smile\" Clinic",
    ]);
    assert_eq!(made.status, 0, "{}", made.stderr);
    let listing = made.stdout.replace(dir.to_str().unwrap(), "<dir>");
    let flows = std::fs::read_to_string(dir.join("bot.flow.yaml")).unwrap();
    crate::support::snapshot(
        "init",
        "starter_en",
        &format!("{listing}\n--- bot.flow.yaml\n{flows}"),
    );
    // The name with quotes in it is the bot's name, and its greeting.
    let chat = Cmd::new()
        .args(["run", dir.to_str().unwrap()])
        .stdin("Opening hours\n")
        .run();
    assert!(
        chat.stdout.contains("Hello! I'm Dental \"Smile\" Clinic."),
        "{}",
        chat.stdout
    );
    assert!(chat.stdout.contains("Monday to Friday"), "{}", chat.stdout);

    // The workflow runs the same commands this test does.
    let workflow = std::fs::read_to_string(dir.join(".github/workflows/cellflow.yml")).unwrap();
    let parsed: serde_json::Value = serde_saphyr::from_str(&workflow).unwrap();
    let runs: Vec<&str> = parsed["jobs"]["check"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|step| step["run"].as_str())
        .collect();
    assert!(
        runs.contains(&"cellflow check . --deny-warnings --format github"),
        "{runs:?}"
    );
    assert!(runs.contains(&"cellflow test . --coverage"), "{runs:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn init_never_overwrites() {
    let dir = scratch("clash");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("README.md"), "mine").unwrap();
    std::fs::write(dir.join("bot.test.yaml"), "tests: []\n").unwrap();
    let refused = cellflow(["init", dir.to_str().unwrap()]);
    assert_eq!(refused.status, 2);
    assert!(
        refused
            .stderr
            .contains("already has bot.test.yaml: nothing was written"),
        "{}",
        refused.stderr
    );
    assert!(!dir.join("bot.flow.yaml").exists());
    // The author's README stays as it is; the bot is written beside it.
    std::fs::remove_file(dir.join("bot.test.yaml")).unwrap();
    let made = cellflow(["init", dir.to_str().unwrap()]);
    assert_eq!(made.status, 0, "{}", made.stderr);
    assert!(
        made.stdout
            .contains("README.md is already there: left as it is"),
        "{}",
        made.stdout
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("README.md")).unwrap(),
        "mine"
    );
    assert!(dir.join("bot.flow.yaml").exists());
    for file in ["bot.flow.yaml", "bot.test.yaml", ".github"] {
        let path = dir.join(file);
        if path.is_dir() {
            std::fs::remove_dir_all(path).unwrap();
        } else {
            std::fs::remove_file(path).unwrap();
        }
    }
    std::fs::remove_file(dir.join("README.md")).unwrap();

    // A directory that holds a bot already is refused as a whole.
    std::fs::write(
        dir.join("shop.flow"),
        "flow a on welcome {\n  answer \"Hi\"\n}\n",
    )
    .unwrap();
    let refused = cellflow(["init", dir.to_str().unwrap(), "--dsl"]);
    assert_eq!(refused.status, 2);
    assert!(
        refused.stderr.contains("already holds a bot (shop.flow)"),
        "{}",
        refused.stderr
    );
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);

    let nameless = cellflow(["init", dir.join("x").to_str().unwrap(), "--name", "  "]);
    assert_eq!(nameless.status, 2);
    assert!(
        nameless.stderr.contains("give one with --name"),
        "{}",
        nameless.stderr
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
