//! Every diagnostic code, triggered by a small flow in `tests/diagnostics/`
//! whose first line names the codes it must produce (`# expect: CODE, ...`).
//! Each case's source and rendered diagnostics are snapshotted in
//! `snapshots/diagnostics/`.

use std::path::{Path, PathBuf};

use crate::support;

fn expected_codes(path: &Path) -> Vec<String> {
    let first = if path.is_dir() {
        let mut files: Vec<_> = std::fs::read_dir(path)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        files[0].clone()
    } else {
        path.to_path_buf()
    };
    let bytes = std::fs::read(first).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    let header = text.lines().next().unwrap_or_default();
    let codes = header
        .strip_prefix("# expect:")
        .unwrap_or_else(|| panic!("{} has no `# expect:` header", path.display()));
    codes.split(',').map(|c| c.trim().to_owned()).collect()
}

fn cases() -> Vec<PathBuf> {
    let dir = support::root().join("tests/diagnostics");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    cases.sort();
    cases
}

fn source_of(path: &Path, base: &Path) -> String {
    let files = cellflow::project::discover(&[path.to_path_buf()]).unwrap();
    files
        .iter()
        .map(|f| {
            let name = f
                .strip_prefix(base)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            format!(
                "== {name}\n{}",
                String::from_utf8_lossy(&std::fs::read(f).unwrap())
            )
        })
        .collect()
}

#[test]
fn each_case_produces_its_codes_and_renders_stably() {
    let base = support::root().join("tests/diagnostics");
    for case in cases() {
        let project = support::load(&base, std::slice::from_ref(&case));
        let checked = support::check(project);
        let produced: Vec<&str> = checked
            .diagnostics
            .iter()
            .map(|d| d.problem.code())
            .collect();
        for code in expected_codes(&case) {
            assert!(
                produced.contains(&code.as_str()),
                "{}: expected {code}, got {produced:?}",
                case.display()
            );
        }
        let name = case
            .file_name()
            .unwrap()
            .to_string_lossy()
            .replace('.', "_");
        let snapshot = format!(
            "{}\n---\n{}",
            source_of(&case, &base),
            support::render_all(&checked)
        );
        support::snapshot("diagnostics", &name, &snapshot);
    }
}

#[test]
fn every_code_has_a_case_and_documentation() {
    let covered: Vec<String> = cases().iter().flat_map(|c| expected_codes(c)).collect();
    let docs = std::fs::read_to_string(support::root().join("docs/DIAGNOSTICS.md")).unwrap();
    for code in cellflow::diagnostic::CODES {
        // `too_large` needs a 16 MiB file (`oversized_file_is_reported`); test-file
        // codes are triggered by `tests/testing/` (`testing::mistakes_in_test_files_are_diagnostics`).
        if code != "cellflow::syntax::too_large" && !code.starts_with("cellflow::test::") {
            assert!(
                covered.iter().any(|c| c == code),
                "no case in tests/diagnostics triggers {code}"
            );
        }
        assert!(
            docs.contains(code),
            "docs/DIAGNOSTICS.md does not document {code}"
        );
    }
}

#[test]
fn codes_list_matches_the_source() {
    let source = std::fs::read_to_string(support::root().join("src/diagnostic.rs")).unwrap();
    let (body, _) = source.split_once("pub const CODES").unwrap();
    let mut in_source: Vec<&str> = body
        .match_indices("\"cellflow::")
        .map(|(i, _)| {
            let rest = &body[i + 1..];
            &rest[..rest.find('"').unwrap()]
        })
        .collect();
    in_source.sort_unstable();
    in_source.dedup();
    let mut listed = cellflow::diagnostic::CODES.to_vec();
    listed.sort_unstable();
    assert_eq!(in_source, listed);
}

#[test]
fn oversized_file_is_reported() {
    let mut project = cellflow::project::Project::new();
    let mut text = String::from("# a very large bot\nflows:\n");
    while text.len() <= cellflow::syntax::MAX_FILE_BYTES {
        text.push_str("  # padding padding padding padding padding padding padding padding\n");
    }
    project.add_bytes("big.flow.yaml", Path::new("big.flow.yaml"), text.as_bytes());
    let checked = support::check(project);
    let codes: Vec<&str> = checked
        .diagnostics
        .iter()
        .map(|d| d.problem.code())
        .collect();
    assert_eq!(codes, ["cellflow::syntax::too_large"]);
    let rendered = support::render_all(&checked);
    support::snapshot("diagnostics", "too_large", &rendered);
}
