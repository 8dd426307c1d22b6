//! `cellflow fmt PATH… [--to yaml|dsl] [--check] [--write]`.
//!
//! One file: prints it in canonical layout (in its own syntax, or `--to`'s)
//! on standard output. `--write` rewrites files in place; `--check` lists
//! files that are not in canonical layout and exits 1 if there are any.
//! Every conversion is verified to read back as the same bot.

use std::path::PathBuf;

use cellflow::fmt::{self, FormatError};
use cellflow::project::{self, Project};
use cellflow::syntax::Syntax;

use super::check::render_human;
use super::{CliError, EXIT_OK, EXIT_PROBLEMS};

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub(crate) enum Target {
    Yaml,
    Dsl,
}

#[derive(clap::Args, Debug)]
pub(crate) struct Fmt {
    /// Flow files or bot directories
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Convert to this syntax (prints the converted file)
    #[arg(long)]
    to: Option<Target>,
    /// Do not print or write; exit 1 if a file is not in canonical layout
    #[arg(long, conflicts_with_all = ["write", "to"])]
    check: bool,
    /// Rewrite files in place
    #[arg(long, conflicts_with = "to")]
    write: bool,
}

impl Fmt {
    pub(crate) fn run(self) -> Result<u8, CliError> {
        let files: Vec<PathBuf> = project::discover(&self.paths)?
            .into_iter()
            .filter(|p| p.file_name().is_none_or(|n| n != project::SETTINGS_FILE))
            .collect();
        if files.len() > 1 && !self.check && !self.write {
            return Err(CliError::Usage(
                "several files: use --write to rewrite them or --check to verify them".into(),
            ));
        }
        let mut status = EXIT_OK;
        for path in files {
            let mut project = Project::new();
            let bytes = std::fs::read(&path).map_err(|source| project::LoadError::Io {
                path: path.clone(),
                source,
            })?;
            project.add_bytes(&project::display_name(&path), &path, &bytes);
            if !project.diagnostics.is_empty() {
                for d in &project.diagnostics {
                    eprintln!("{}", render_human(d, &project.sources, false));
                }
                status = EXIT_PROBLEMS;
                continue;
            }
            let (file, syntax, module) = project.modules.pop().expect("one file was added");
            let to = match self.to {
                Some(Target::Yaml) => Syntax::Yaml,
                Some(Target::Dsl) => Syntax::Dsl,
                None => syntax,
            };
            let formatted = match fmt::convert(&module, to) {
                Ok(text) => text,
                Err(FormatError::Invalid(_) | FormatError::NotLossless(_)) => {
                    eprintln!(
                        "error: {}: {}",
                        path.display(),
                        fmt::convert(&module, to)
                            .err()
                            .map(|e| e.to_string())
                            .unwrap_or_default()
                    );
                    status = EXIT_PROBLEMS;
                    continue;
                }
            };
            let original = project.sources.get(file).text();
            let lost = fmt::lost_comments(original, &formatted);
            if !lost.is_empty() {
                eprintln!(
                    "{}: {} comment line(s) sit inside a cell or between fields and would be dropped, e.g. `{}`; \
                     move them onto their own line above a flow, intent, entity or cell",
                    project::display_name(&path),
                    lost.len(),
                    lost[0]
                );
                if self.check || self.write {
                    status = EXIT_PROBLEMS;
                    continue;
                }
            }
            if self.check {
                if formatted != original {
                    println!("{}", project::display_name(&path));
                    status = EXIT_PROBLEMS;
                }
            } else if self.write {
                if formatted != original {
                    std::fs::write(&path, formatted).map_err(|source| CliError::Write {
                        path: path.clone(),
                        source,
                    })?;
                }
            } else {
                print!("{formatted}");
            }
        }
        Ok(status)
    }
}
