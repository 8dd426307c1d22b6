//! Bots that must check with no diagnostic at all: the example bots and the
//! patterns in `tests/clean/` a strict checker must not flag.

use crate::support;

fn assert_clean(path: std::path::PathBuf) {
    let project = support::load(&support::root(), std::slice::from_ref(&path));
    let checked = support::check(project);
    assert!(
        checked.diagnostics.is_empty(),
        "{} should be clean:\n{}",
        path.display(),
        support::render_all(&checked)
    );
}

#[test]
fn clean_patterns_have_no_diagnostics() {
    let dir = support::root().join("tests/clean");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 4);
    for file in files {
        assert_clean(file);
    }
}

#[test]
fn example_bots_have_no_diagnostics() {
    let dir = support::root().join("flows");
    let mut bots: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    bots.sort();
    assert!(bots.len() >= 3, "flows/ holds at least three example bots");
    for bot in bots {
        assert_clean(bot);
    }
}
