//! Saving a chat as a conversation test: the test is written by
//! [`crate::testing::file::write`] (as `cellflow explore` writes its
//! tests) and added at the end of the bot's test file, which is read back
//! before it is replaced, so a file the addition would break is left as it
//! was.

use std::path::{Path, PathBuf};

use crate::runtime::{Request, Response};
use crate::source::SourceMap;
use crate::testing::{Step, Test};

/// The bot's test file: its first `*.test.yaml` (in name order, at the top
/// of its directory), or a new one named after the directory.
pub(crate) fn test_file(dir: &Path) -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.is_file()
                        && p.file_name()
                            .and_then(|n| n.to_str())
                            .is_some_and(|n| n.ends_with(".test.yaml") || n.ends_with(".test.yml"))
                })
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found.into_iter().next().unwrap_or_else(|| {
        let name = dir
            .canonicalize()
            .ok()
            .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "bot".to_owned());
        dir.join(format!("{name}.test.yaml"))
    })
}

/// A chat as a test: each message or event, with what the bot answered.
pub(crate) fn test_of(name: String, turns: &[(Request, Response)]) -> Test {
    let first = turns.first().map(|(r, _)| r);
    Test {
        name,
        language: first.and_then(|r| r.language.clone()),
        context: first.map(|r| r.context.clone()).unwrap_or_default(),
        steps: turns
            .iter()
            .map(|(request, response)| Step::observed(request, response))
            .collect(),
        mocks: Vec::new(),
        span: crate::source::Span::default(),
    }
}

/// The tests a file's text holds, or why it does not read.
fn read(text: &str, services: &[String]) -> Result<Vec<Test>, String> {
    let mut sources = SourceMap::new();
    let id = sources.add("tests", "tests", text.to_owned());
    let (tests, diagnostics) = crate::testing::parse(id, sources.get(id).text(), services);
    match diagnostics.first() {
        None => Ok(tests),
        Some(d) => Err(crate::diagnostic::render(d, &sources, false, 100)),
    }
}

/// Adds `test` at the end of `file`'s `tests:` list (a name the file
/// already has gets a number); returns the name written.
pub(crate) fn append(file: &Path, case: Test, services: &[String]) -> Result<String, String> {
    let existing = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(format!("cannot read {}: {e}", file.display())),
    };
    read(&existing, services)
        .map_err(|e| format!("{} has errors; fix them first:\n{e}", file.display()))?;
    // The file's own mistakes are reported above; these are the ones
    // adding to it would make.
    let (text, name) = crate::testing::file::append(Some(&existing), case, "")
        .map_err(|e| format!("{}: {e}", file.display()))?;
    // Written beside it and renamed, so an editor or `cellflow test`
    // never reads half a file.
    let partial = file.with_extension("yaml.partial");
    std::fs::write(&partial, &text)
        .and_then(|()| std::fs::rename(&partial, file))
        .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn turn(text: &str, answer: &str) -> (Request, Response) {
        let mut response = Response::default();
        response.answers.push(crate::runtime::Answer::text(answer));
        (Request::text(text), response)
    }

    #[test]
    fn a_test_is_added_to_the_list_and_reads_back() {
        let dir = std::env::temp_dir().join(format!("cellflow-studio-save-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let file = test_file(&dir);
        assert!(file.to_string_lossy().ends_with(".test.yaml"));
        let test = test_of("hello".into(), &[turn("hi", "Hello!")]);
        assert_eq!(append(&file, test, &[]).unwrap(), "hello");
        let again = test_of("hello".into(), &[turn("hi", "Hello!")]);
        assert_eq!(append(&file, again, &[]).unwrap(), "hello (2)");
        let saved = std::fs::read_to_string(&file).unwrap();
        let tests = read(&saved, &[]).unwrap();
        assert_eq!(tests.len(), 2);
        assert_eq!(tests[1].steps[0].user.as_deref(), Some("hi"));
        // A file whose list is not last is left alone.
        std::fs::write(
            &file,
            "tests:\n  - name: a\n    steps:\n      - user: x\nother: 1\n",
        )
        .unwrap();
        let third = test_of("x".into(), &[turn("hi", "Hello!")]);
        assert!(append(&file, third, &[]).is_err());
        assert!(
            std::fs::read_to_string(&file)
                .unwrap()
                .ends_with("other: 1\n")
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
