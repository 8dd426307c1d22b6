//! `cellflow nlu eval` and `cellflow nlu classify`: reports, exit codes,
//! formats.
//!
//! The data files under tests/nlu/ hold a few messages the bots get wrong
//! on purpose (another intent, below the threshold, out of scope taken for
//! an intent), so every section of the report has something in it.

use crate::support::{self, Cmd};

fn eval(args: &[&str]) -> support::Output {
    Cmd::new().args(["nlu", "eval"]).args(args).run()
}

fn json(args: &[&str]) -> serde_json::Value {
    let out = eval(&[args, &["--format", "json"]].concat());
    assert_eq!(out.status, 0, "{}{}", out.stdout, out.stderr);
    serde_json::from_str(&out.stdout).expect("the report is JSON")
}

#[test]
fn the_human_report_on_a_csv_file() {
    let out = eval(&["tests/nlu/travel", "--data", "tests/nlu/travel.csv"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert_eq!(out.stderr, "");
    for section in [
        "accuracy",
        "macro-F1",
        "precision  recall",
        "Most confused pairs",
        "Not understood",
        "Out of scope",
        "Threshold",
    ] {
        assert!(out.stdout.contains(section), "{section}:\n{}", out.stdout);
    }
    support::snapshot("nlu_eval", "travel_human", &out.stdout);
}

#[test]
fn the_human_report_on_a_yaml_file_for_an_example_bot() {
    let out = eval(&["flows/ebank", "--data", "tests/nlu/ebank.yaml"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert!(out.stdout.contains("taken for agent"), "{}", out.stdout);
    support::snapshot("nlu_eval", "ebank_human", &out.stdout);
}

#[test]
fn the_json_report_is_consistent_with_itself() {
    let report = json(&["tests/nlu/travel", "--data", "tests/nlu/travel.csv"]);
    support::snapshot(
        "nlu_eval",
        "travel_json",
        &serde_json::to_string_pretty(&report).unwrap(),
    );
    let messages = report["messages"].as_u64().unwrap();
    let in_scope = report["in_scope"].as_u64().unwrap();
    let out_of_scope = report["out_of_scope"]["messages"].as_u64().unwrap();
    assert_eq!(messages, in_scope + out_of_scope);
    let intents = report["intents"].as_array().unwrap();
    let support: u64 = intents.iter().map(|i| i["support"].as_u64().unwrap()).sum();
    assert_eq!(support, in_scope);
    let correct: u64 = intents.iter().map(|i| i["correct"].as_u64().unwrap()).sum();
    assert_eq!(correct, report["correct"].as_u64().unwrap());
    #[allow(clippy::cast_precision_loss)]
    let accuracy = correct as f64 / in_scope as f64;
    assert!((report["accuracy"].as_f64().unwrap() - accuracy).abs() < 1e-4);
    let f1: Vec<f64> = intents
        .iter()
        .filter(|i| i["support"].as_u64() > Some(0) || i["predicted"].as_u64() > Some(0))
        .map(|i| i["f1"].as_f64().unwrap())
        .collect();
    #[allow(clippy::cast_precision_loss)]
    let macro_f1 = f1.iter().sum::<f64>() / f1.len() as f64;
    assert!((report["macro_f1"].as_f64().unwrap() - macro_f1).abs() < 1e-3);
    // Every message that is not right is a mistake, and only those.
    let wrong = messages - correct - report["out_of_scope"]["rejected"].as_u64().unwrap();
    assert_eq!(report["mistakes"].as_array().unwrap().len() as u64, wrong);
    assert!(!report["confused"].as_array().unwrap().is_empty());
    assert!(report["suggested_threshold"].as_f64().is_some());
}

#[test]
fn the_junit_report_has_a_case_per_message_grouped_by_label() {
    let out = eval(&[
        "tests/nlu/travel",
        "--data",
        "tests/nlu/travel.csv",
        "--format",
        "junit",
    ]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    support::snapshot("nlu_eval", "travel_junit", &out.stdout);
    let xml = roxmltree::Document::parse(&out.stdout).expect("the report is XML");
    let root = xml.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    let cases = root
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .count();
    let failures = root
        .descendants()
        .filter(|n| n.has_tag_name("failure"))
        .count();
    // Twenty messages and the accuracy.
    assert_eq!(cases, 21);
    assert_eq!(root.attribute("tests"), Some("21"));
    assert_eq!(
        root.attribute("failures"),
        Some(failures.to_string().as_str())
    );
    let suites: Vec<&str> = root
        .children()
        .filter(|n| n.has_tag_name("testsuite"))
        .filter_map(|n| n.attribute("name"))
        .collect();
    assert_eq!(
        suites,
        [
            "accuracy",
            "book",
            "change",
            "cancel",
            "baggage",
            "out_of_scope"
        ]
    );
}

#[test]
fn min_accuracy_sets_the_exit_code() {
    let data = ["tests/nlu/travel", "--data", "tests/nlu/travel.csv"];
    let pass = eval(&[&data[..], &["--min-accuracy", "70"]].concat());
    assert_eq!(pass.status, 0, "{}", pass.stderr);
    assert_eq!(pass.stderr, "");
    let fail = eval(&[&data[..], &["--min-accuracy", "90"]].concat());
    assert_eq!(fail.status, 1);
    assert_eq!(
        fail.stderr,
        "accuracy 71.4 % is below --min-accuracy 90 %\n"
    );
    assert!(
        fail.stdout.contains("accuracy"),
        "the report is still printed"
    );
    let junit = eval(&[&data[..], &["--min-accuracy", "90%", "--format", "junit"]].concat());
    assert_eq!(junit.status, 1);
    assert!(
        junit
            .stdout
            .contains("<failure message=\"accuracy 71.4 % is below --min-accuracy 90 %\"/>"),
        "{}",
        junit.stdout
    );
}

#[test]
fn usage_errors_exit_with_2() {
    for (args, says) in [
        (
            &[
                "tests/nlu/travel",
                "--data",
                "tests/nlu/travel.csv",
                "--min-accuracy",
                "150",
            ][..],
            "not a percentage",
        ),
        (&["tests/nlu/travel"][..], "--data"),
        (
            &[
                "tests/nlu/travel",
                "--data",
                "tests/nlu/travel.csv",
                "--folds",
                "3",
            ][..],
            "cannot be used with",
        ),
        (
            &["tests/nlu/travel", "--folds", "1"][..],
            "1 is not in 2..=100",
        ),
        (
            &[
                "tests/nlu/travel",
                "--data",
                "tests/nlu/travel.csv",
                "--plot",
                "m.png",
            ][..],
            "only SVG is supported",
        ),
        (
            &["tests/nlu/travel", "--folds", "30"][..],
            "too few for 30 folds",
        ),
    ] {
        let out = eval(args);
        assert_eq!(out.status, 2, "{args:?}: {}{}", out.stdout, out.stderr);
        assert!(out.stderr.contains(says), "{args:?}: {}", out.stderr);
    }
}

#[test]
fn folds_cross_validate_the_bots_examples() {
    let out = eval(&["flows/pizza", "--folds", "3"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("Intents it cannot tell apart"),
        "{}",
        out.stdout
    );
    support::snapshot("nlu_eval", "pizza_folds", &out.stdout);
    // The same folds every time.
    assert_eq!(eval(&["flows/pizza", "--folds", "3"]).stdout, out.stdout);
    let report = json(&["tests/nlu/travel", "--folds", "5"]);
    // Each of the bot's 21 examples is held out once.
    assert_eq!(report["messages"], 21);
    assert_eq!(report["folds"], 5);
    assert_eq!(report["data"], serde_json::Value::Null);
    let support: u64 = report["intents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["support"].as_u64().unwrap())
        .sum();
    assert_eq!(support, 21);
}

#[test]
fn plot_writes_an_svg_confusion_matrix() {
    let dir = std::env::temp_dir().join(format!("cellflow-nlu-plot-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("matrix.svg");
    let out = Cmd::new()
        .args([
            "nlu",
            "eval",
            "tests/nlu/travel",
            "--data",
            "tests/nlu/travel.csv",
            "--plot",
        ])
        .args([&path])
        .run();
    assert_eq!(out.status, 0, "{}", out.stderr);
    let svg = std::fs::read_to_string(&path).unwrap();
    let doc = roxmltree::Document::parse(&svg).expect("the plot is XML");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    let texts: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .map(str::trim)
        .collect();
    for label in [
        "book",
        "change",
        "cancel",
        "baggage",
        "out_of_scope",
        "(not understood)",
    ] {
        assert!(texts.contains(&label), "{label} missing: {texts:?}");
    }
    // Cells hold their counts: the three `book` rows all taken for book.
    assert!(texts.contains(&"3"), "{texts:?}");
    std::fs::remove_dir_all(&dir).ok();
}

/// Runs `nlu eval` on the travel bot with `content` as a data file named
/// `name`; returns the exit code and standard error with the directory
/// replaced by `<dir>`.
fn bad_data(name: &str, content: &[u8]) -> (i32, String) {
    let dir = std::env::temp_dir().join(format!(
        "cellflow-nlu-data-{}-{}",
        std::process::id(),
        name.replace('.', "-")
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    let out = Cmd::new()
        .args(["nlu", "eval", "tests/nlu/travel", "--data"])
        .args([&path])
        .run();
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(out.stdout, "", "{name}: nothing on stdout");
    (
        out.status,
        out.stderr.replace(&dir.display().to_string(), "<dir>"),
    )
}

#[test]
fn bad_data_gets_a_clear_error() {
    let huge = format!("text,intent\n\"{}\",book\n", "a".repeat(1024 * 1024));
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty.csv", b"".to_vec()),
        ("blank.yaml", b"\n  \n".to_vec()),
        ("columns.csv", b"message,label\nhello,book\n".to_vec()),
        ("header_only.csv", b"text,intent\n".to_vec()),
        (
            "empty_text.csv",
            b"text,intent\nbook a flight,book\n  ,change\n".to_vec(),
        ),
        ("empty_label.csv", b"text,intent\nbook a flight,\n".to_vec()),
        (
            "ragged.csv",
            b"text,intent\nbook a flight,book,extra\n".to_vec(),
        ),
        ("huge.csv", huge.into_bytes()),
        (
            "latin1.csv",
            b"text,intent\nbook a flight,book\ncaf\xe9 please,out_of_scope\n".to_vec(),
        ),
        (
            "unknown.csv",
            b"text,intent\nbook a flight,bok\nmy bags,luggage\nmore bags,luggage\n".to_vec(),
        ),
        ("unknown.yaml", b"bagage: [how many bags]\n".to_vec()),
        ("shape.yaml", b"- text: hello\n  intent: book\n".to_vec()),
        ("not_a_list.yaml", b"book: book a flight\n".to_vec()),
        ("not_text.yaml", b"book: [[a, b]]\n".to_vec()),
        ("broken.yaml", b"book: [unclosed\n".to_vec()),
        ("data.txt", b"text,intent\n".to_vec()),
    ];
    let mut report = String::new();
    for (name, content) in cases {
        let (status, stderr) = bad_data(name, &content);
        assert_eq!(status, 2, "{name}: {stderr}");
        assert!(stderr.starts_with("error: "), "{name}: {stderr}");
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
        report.push_str(&format!("{name}\n{stderr}\n"));
    }
    support::snapshot("nlu_eval", "bad_data", &report);
}

#[test]
fn a_bom_and_the_banking77_header_are_accepted() {
    let dir = std::env::temp_dir().join(format!("cellflow-nlu-bom-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("data.csv");
    std::fs::write(
        &path,
        "\u{feff}category,text\nbook,book me a flight\nbaggage,\"bags, suitcases: how many?\"\n",
    )
    .unwrap();
    let out = Cmd::new()
        .args([
            "nlu",
            "eval",
            "tests/nlu/travel",
            "--format",
            "json",
            "--data",
        ])
        .args([&path])
        .run();
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(out.status, 0, "{}", out.stderr);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(report["messages"], 2);
    assert_eq!(report["intents"][0]["support"], 1);
}

#[test]
fn classify_still_ranks_the_intents() {
    let out = Cmd::new()
        .args([
            "nlu",
            "classify",
            "tests/nlu/travel",
            "I want to cancel my booking",
        ])
        .run();
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert!(out.stdout.contains("→ cancel"), "{}", out.stdout);
}

#[test]
fn classify_and_eval_take_one_of_the_bots_languages() {
    let classify = |language: &str| {
        Cmd::new()
            .args([
                "nlu",
                "classify",
                "flows/support",
                "quiero devolver un producto",
            ])
            .args(["--language", language])
            .run()
    };
    // The support bot has Spanish examples of return_item: in Spanish the
    // message is one of them; the Portuguese model only learnt from its own
    // examples and the shared ones.
    let es = classify("es");
    assert_eq!(es.status, 0, "{}", es.stderr);
    assert!(es.stdout.contains("→ return_item (1.000)"), "{}", es.stdout);
    assert!(es.stdout.contains("a sure hit"), "{}", es.stdout);
    let pt = classify("pt");
    assert_eq!(pt.status, 0, "{}", pt.stderr);
    assert!(!pt.stdout.contains("a sure hit"), "{}", pt.stdout);

    let unknown = classify("fr");
    assert_eq!(unknown.status, 2);
    assert_eq!(
        unknown.stderr,
        "error: the bot does not speak `fr`; it speaks pt, es\n"
    );

    // Cross-validation counts that language's examples and the shared ones.
    let folds = |language: &str| {
        let out = eval(&[
            "flows/support",
            "--folds",
            "3",
            "--format",
            "json",
            "--language",
            language,
        ]);
        assert_eq!(out.status, 0, "{}", out.stderr);
        let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        report["messages"].as_u64().unwrap()
    };
    let (es, pt) = (folds("es"), folds("pt"));
    assert!(es > 0 && pt > 0 && es != pt, "es {es}, pt {pt}");
}
