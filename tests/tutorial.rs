//! docs/TUTORIAL.md works as written: its `sh` blocks run in order in one
//! shell, with `cellflow` on the `PATH`, and its `yaml file=NAME` blocks
//! are written where the shell stands when they come. Any command that
//! fails fails the test.

use std::path::PathBuf;

/// The tutorial as one shell script.
fn script(tutorial: &str) -> String {
    let mut script = String::from("set -euo pipefail\n");
    let mut lines = tutorial.lines();
    while let Some(line) = lines.next() {
        let Some(info) = line.strip_prefix("```") else {
            continue;
        };
        let body: Vec<&str> = lines
            .by_ref()
            .take_while(|l| !l.starts_with("```"))
            .collect();
        let info: Vec<&str> = info.split_whitespace().collect();
        match info.as_slice() {
            ["sh"] => {
                for command in body {
                    script.push_str(command);
                    script.push('\n');
                }
            }
            ["yaml", file] if file.starts_with("file=") => {
                let file = &file["file=".len()..];
                assert!(
                    !body.contains(&"TUTORIAL_EOF"),
                    "the block cannot hold the heredoc's end"
                );
                script.push_str(&format!("cat > '{file}' <<'TUTORIAL_EOF'\n"));
                for l in body {
                    script.push_str(l);
                    script.push('\n');
                }
                script.push_str("TUTORIAL_EOF\n");
            }
            // Other blocks (installation, outputs) are not run.
            _ => {}
        }
    }
    script
}

#[test]
fn the_tutorial_runs_as_written() {
    let tutorial =
        std::fs::read_to_string(crate::support::root().join("docs/TUTORIAL.md")).unwrap();
    let script = script(&tutorial);
    assert!(script.contains("cellflow init smile-dental"), "{script}");
    assert!(script.contains("cat > 'booking.flow.yaml'"), "{script}");

    let dir: PathBuf =
        std::env::temp_dir().join(format!("cellflow-tutorial-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let binary = PathBuf::from(env!("CARGO_BIN_EXE_cellflow"));
    let path = format!(
        "{}:{}",
        binary.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let output = std::process::Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(&dir)
        .env("PATH", path)
        .env("NO_COLOR", "1")
        .env("CELLFLOW_HISTORY", dir.join("history"))
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");

    // What the page says happens, happens.
    assert!(stdout.contains("Monday to Friday"), "{stdout}");
    assert!(stdout.contains("(→ Afternoon)"), "{stdout}");
    assert!(stdout.contains("Thanks Ana, we will call you"), "{stdout}");
    assert!(stdout.contains("5 passed, 0 failed"), "{stdout}");
    assert!(
        stdout.contains("checked 2 files: 0 errors, 0 warnings"),
        "{stdout}"
    );
    let saved = std::fs::read_to_string(dir.join("smile-dental/bot.test.yaml")).unwrap();
    assert!(
        saved.contains("user: \"I need to see the dentist\""),
        "{saved}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
