//! `cellflow report`: what an analytics events file says, as an author reads it.

use crate::support::{Cmd, snapshot};

#[test]
fn report_shows_funnels_not_understood_messages_and_handoffs() {
    let out = Cmd::new()
        .args(["report", "tests/report/events.jsonl"])
        .run();
    assert_eq!(out.status, 0, "{}", out.stderr);
    snapshot("cli", "report_human", &out.stdout);
}

#[test]
fn report_as_json_counts_the_same() {
    let out = Cmd::new()
        .args([
            "report",
            "tests/report/events.jsonl",
            "--format",
            "json",
            "--top",
            "1",
        ])
        .run();
    assert_eq!(out.status, 0, "{}", out.stderr);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(report["conversations"], 3);
    assert_eq!(report["flows"]["order"]["started"], 3);
    assert_eq!(report["flows"]["order"]["completed"], 1);
    assert_eq!(
        report["flows"]["order"]["steps"][0]["event"],
        "checkout_started"
    );
    assert_eq!(report["flows"]["order"]["steps"][0]["conversations"], 2);
    // Spacing and case do not split a message; --top keeps the first.
    assert_eq!(
        report["not_understood"],
        serde_json::json!([{"text": "where is my parcel", "count": 2}])
    );
    assert_eq!(report["handoff_rate_pct"], 33.3);
    assert_eq!(report["unreadable_lines"], 1);
    assert_eq!(
        report["unreadable"][0],
        "tests/report/events.jsonl:7: expected ident at line 1 column 2"
    );
}

#[test]
fn a_missing_file_is_a_usage_error_and_a_huge_line_is_skipped() {
    let out = Cmd::new().args(["report", "no/such/events.jsonl"]).run();
    assert_eq!(out.status, 2);
    assert!(
        out.stderr.contains("no/such/events.jsonl"),
        "{}",
        out.stderr
    );

    let dir = tempfile_dir();
    let file = dir.join("huge.jsonl");
    let mut text = "x".repeat(3 << 20);
    text.push('\n');
    text.push_str(r#"{"conversation":"a","event":"handoff","properties":{"queue":"q"}}"#);
    std::fs::write(&file, text).unwrap();
    let out = Cmd::new()
        .args(["report", file.to_str().unwrap(), "--format", "json"])
        .run();
    assert_eq!(out.status, 0, "{}", out.stderr);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(report["unreadable_lines"], 1);
    assert_eq!(report["handoffs"], 1);
    let _ = std::fs::remove_dir_all(dir);
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("cellflow-report-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
