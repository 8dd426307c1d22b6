//! `cellflow fmt PATH… [--to yaml|dsl] [--check] [--write]`.
//!
//! One file: prints it in canonical layout (in its own syntax, or `--to`'s)
//! on standard output. `--write` rewrites files in place; `--check` lists
//! files that are not in canonical layout and exits 1 if there are any.
//! Every conversion is verified to read back as the same bot, a byte-order
//! mark is written back, and a file whose comments could not all be kept is
//! refused (exit 1) rather than rewritten.

use std::path::PathBuf;

use cellflow::fmt;
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
        // One file at a time: each file's text, tree and output are dropped
        // before the next is read, so memory stays that of the largest file.
        for path in files {
            let mut project = Project::new();
            project.add_path(&path)?;
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
            let original = project.sources.get(file).text();
            let formatted = match fmt::convert(&module, to) {
                // A byte-order mark the author's editor wrote stays.
                Ok(text) if original.starts_with('\u{feff}') => format!("\u{feff}{text}"),
                Ok(text) => text,
                Err(error) => {
                    eprintln!("error: {}: {error}", project::display_name(&path));
                    status = EXIT_PROBLEMS;
                    continue;
                }
            };
            let lost = fmt::lost_comments(original, &formatted);
            if !lost.is_empty() {
                eprintln!(
                    "error: {}: {} comment line(s) would be dropped, e.g. `{}`; \
                     move them onto their own line above a flow, intent, entity or cell",
                    project::display_name(&path),
                    lost.len(),
                    lost[0]
                );
                status = EXIT_PROBLEMS;
                continue;
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
