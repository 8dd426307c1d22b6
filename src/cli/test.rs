//! `cellflow test PATH…`: run conversation tests (SPEC §7).
//!
//! A path is a bot directory (its `*.test.yaml` files are its tests) or a
//! test file (its bot is the directory it sits in). Prints each failure with
//! the step and a diff of the answers, then `N passed, M failed`; exits 1 on
//! any failure or a test file with errors.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};

use cellflow::Bot;
use cellflow::compile::Kind;
use cellflow::runtime::LoadError;
use cellflow::source::SourceMap;

use super::check::render_human;
use super::{CliError, EXIT_OK, EXIT_PROBLEMS};

#[derive(clap::Args, Debug)]
pub(crate) struct TestCmd {
    /// Bot directories or `*.test.yaml` files
    #[arg(required = true)]
    paths: Vec<PathBuf>,
}

fn is_test_file(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.ends_with(".test.yaml") || n.ends_with(".test.yml"))
}

fn test_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
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
                    cellflow::project::LoadError::Io {
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
                let bot = path
                    .parent()
                    .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
                suites.push((bot, vec![path.clone()]));
            } else {
                return Err(CliError::Usage(format!(
                    "{} is not a bot directory or a *.test.yaml file",
                    path.display()
                )));
            }
        }
        let colour = std::io::stdout().is_terminal();
        let (mut passed, mut failed, mut broken) = (0usize, 0usize, false);
        for (bot_path, files) in suites {
            let bot = match Bot::load(&bot_path) {
                Ok(bot) => bot,
                Err(LoadError::Invalid {
                    diagnostics,
                    sources,
                }) => {
                    for d in diagnostics.iter().filter(|d| d.is_error()) {
                        println!("{}", render_human(d, &sources, colour));
                    }
                    broken = true;
                    continue;
                }
                Err(LoadError::Read(e)) => return Err(CliError::Load(e)),
                Err(other) => return Err(CliError::Usage(other.to_string())),
            };
            let services: Vec<String> = bot
                .program()
                .cells
                .iter()
                .flatten()
                .filter(|c| matches!(c.kind, Kind::Service { .. }))
                .filter_map(|c| c.id.clone())
                .collect();
            for file in files {
                let name = cellflow::project::display_name(&file);
                let text = std::fs::read_to_string(&file).map_err(|source| {
                    cellflow::project::LoadError::Io {
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
                        println!("{}", render_human(d, &sources, colour));
                    }
                    broken = true;
                    continue;
                }
                for test in &tests {
                    let failures = cellflow::testing::run(&bot, test);
                    if failures.is_empty() {
                        passed += 1;
                        println!("ok      {name}: {}", test.name);
                    } else {
                        failed += 1;
                        println!("FAILED  {name}: {}", test.name);
                        for f in failures {
                            println!("  step {} ({}): {}", f.step, f.what, f.message);
                        }
                    }
                }
            }
        }
        println!("{passed} passed, {failed} failed");
        Ok(if failed > 0 || broken {
            EXIT_PROBLEMS
        } else {
            EXIT_OK
        })
    }
}
