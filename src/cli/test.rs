//! `cellflow test PATH…`: run conversation tests (docs/TESTING.md).
//!
//! A path is a bot directory (its `*.test.yaml` files are its tests) or a
//! test file (its bot is the directory it sits in). Prints each failure with
//! the step and a diff of the answers, then `N passed, M failed`; exits 1 on
//! any failure or a test file with errors.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};

use cellflow::coverage::Coverage;
use cellflow::source::SourceMap;

use super::check::render_human;
use super::{CliError, EXIT_OK, EXIT_PROBLEMS};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    /// One line per test, failures with a diff
    Human,
    /// An XML report in the format of the `JUnit` test tool (for CI systems)
    Junit,
}

#[derive(clap::Args, Debug)]
pub(crate) struct TestCmd {
    /// Bot directories or `*.test.yaml` files
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Output format
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
    /// Report the cells and branches the tests exercise, per flow, and list
    /// those never reached (on stderr with `--format junit`)
    #[arg(long)]
    coverage: bool,
    /// Fail (exit 1) when a bot's cells and branches together are covered
    /// less than this percentage; implies `--coverage`
    #[arg(long, value_name = "PERCENT")]
    min_coverage: Option<f64>,
}

/// One test's outcome, for the XML report.
struct Outcome {
    file: String,
    name: String,
    failures: Vec<String>,
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn junit(outcomes: &[Outcome], broken: &[String]) -> String {
    use std::fmt::Write as _;
    let failures = outcomes.iter().filter(|o| !o.failures.is_empty()).count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"cellflow\" tests=\"{}\" failures=\"{failures}\" errors=\"{}\">",
        outcomes.len(),
        broken.len()
    );
    let mut files: Vec<&str> = outcomes.iter().map(|o| o.file.as_str()).collect();
    files.dedup();
    for file in files {
        let cases: Vec<&Outcome> = outcomes.iter().filter(|o| o.file == file).collect();
        let failed = cases.iter().filter(|o| !o.failures.is_empty()).count();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failed}\">",
            xml_escape(file),
            cases.len()
        );
        for case in cases {
            let _ = write!(
                out,
                "    <testcase classname=\"{}\" name=\"{}\"",
                xml_escape(file),
                xml_escape(&case.name)
            );
            if case.failures.is_empty() {
                out.push_str("/>\n");
            } else {
                let _ = writeln!(
                    out,
                    ">\n      <failure message=\"{}\">{}</failure>\n    </testcase>",
                    xml_escape(case.failures[0].lines().next().unwrap_or("")),
                    xml_escape(&case.failures.join("\n"))
                );
            }
        }
        out.push_str("  </testsuite>\n");
    }
    for message in broken {
        let _ = writeln!(
            out,
            "  <testsuite name=\"errors\" tests=\"1\" errors=\"1\">\n    <testcase name=\"load\">\n      <error message=\"{}\"/>\n    </testcase>\n  </testsuite>",
            xml_escape(message)
        );
    }
    out.push_str("</testsuites>\n");
    out
}

fn is_test_file(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.ends_with(".test.yaml") || n.ends_with(".test.yml"))
}

pub(crate) fn test_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir()
            && !path
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        {
            test_files(&path, out)?;
        } else if is_test_file(&path) {
            out.push(path);
        }
    }
    Ok(())
}

impl TestCmd {
    pub(crate) fn run(self) -> Result<u8, CliError> {
        // (bot directory, its test files)
        let mut suites: Vec<(PathBuf, Vec<PathBuf>)> = Vec::new();
        for path in &self.paths {
            if path.is_dir() {
                let mut files = Vec::new();
                test_files(path, &mut files).map_err(|source| {
                    cellflow::project::ReadError::Io {
                        path: path.clone(),
                        source,
                    }
                })?;
                if files.is_empty() {
                    return Err(CliError::Usage(format!(
                        "{} holds no *.test.yaml files",
                        path.display()
                    )));
                }
                suites.push((path.clone(), files));
            } else if is_test_file(path) {
                // A bare file name's parent is "": the current directory.
                let bot = path
                    .parent()
                    .filter(|dir| !dir.as_os_str().is_empty())
                    .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
                suites.push((bot, vec![path.clone()]));
            } else {
                return Err(CliError::Usage(format!(
                    "{} is not a bot directory or a *.test.yaml file",
                    path.display()
                )));
            }
        }
        let human = self.format == Format::Human;
        let colour = human && std::io::stdout().is_terminal();
        let bar = super::progress(
            suites.iter().map(|(_, f)| f.len()).sum(),
            super::PROGRESS_FILES,
            "testing",
        );
        // Lines go through the bar when there is one, so they do not garble it.
        let say = |line: &str| match &bar {
            Some(bar) => bar.println(line),
            None => println!("{line}"),
        };
        let (mut passed, mut failed, mut broken) = (0usize, 0usize, false);
        let mut outcomes: Vec<Outcome> = Vec::new();
        let mut errors: Vec<String> = Vec::new();
        let coverage = self.coverage || self.min_coverage.is_some();
        let mut below = false;
        for (bot_path, files) in suites {
            let Some((bot, sources)) = super::load_checked(&bot_path, colour)? else {
                let shown = cellflow::project::display_name(&bot_path);
                if human {
                    println!("{shown}: the bot has errors (above); none of its tests ran");
                } else {
                    errors.push(format!(
                        "{shown}: the bot has errors; none of its tests ran"
                    ));
                }
                broken = true;
                continue;
            };
            let services = cellflow::testing::services(bot.program());
            let covered = RefCell::new(Coverage::new());
            for file in files {
                let name = cellflow::project::display_name(&file);
                let text = std::fs::read_to_string(&file).map_err(|source| {
                    cellflow::project::ReadError::Io {
                        path: file.clone(),
                        source,
                    }
                })?;
                let mut sources = SourceMap::new();
                let id = sources.add(name.clone(), &file, text);
                let (tests, diagnostics) =
                    cellflow::testing::parse(id, sources.get(id).text(), &services);
                if !diagnostics.is_empty() {
                    for d in &diagnostics {
                        if human {
                            say(&render_human(d, &sources, colour));
                        } else {
                            errors.push(format!("{name}: {} ({})", d.problem, d.problem.code()));
                        }
                    }
                    broken = true;
                    continue;
                }
                for test in &tests {
                    let failures: Vec<String> =
                        cellflow::testing::run_covered(&bot, test, &covered)
                            .into_iter()
                            .map(|f| format!("step {} ({}): {}", f.step, f.what, f.message))
                            .collect();
                    if failures.is_empty() {
                        passed += 1;
                        if human {
                            say(&format!("ok      {name}: {}", test.name));
                        }
                    } else {
                        failed += 1;
                        if human {
                            say(&format!("FAILED  {name}: {}", test.name));
                            for f in &failures {
                                say(&format!("  {f}"));
                            }
                        }
                    }
                    outcomes.push(Outcome {
                        file: name.clone(),
                        name: test.name.clone(),
                        failures,
                    });
                }
            }
            if coverage {
                let report = covered.borrow().report(bot.program());
                let percent = report.combined_percent();
                let mut text = format!(
                    "coverage of {}: {percent:.1}% of cells and branches\n{}",
                    cellflow::project::display_name(&bot_path),
                    report.render(bot.program(), &sources)
                );
                if let Some(min) = self.min_coverage
                    && percent < min
                {
                    below = true;
                    let _ = writeln!(text, "below the required {min}%");
                }
                if human {
                    say(text.trim_end());
                } else {
                    eprint!("{text}");
                }
            }
        }
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        if human {
            println!("{passed} passed, {failed} failed");
        } else {
            print!("{}", junit(&outcomes, &errors));
        }
        Ok(if failed > 0 || broken || below {
            EXIT_PROBLEMS
        } else {
            EXIT_OK
        })
    }
}
