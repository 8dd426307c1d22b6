//! `cellflow check PATH…`: report every problem, exit 0, 1 or 2.

use std::io::{IsTerminal as _, Write as _};
use std::path::PathBuf;

use cellflow::diagnostic::{Diagnostic, Rendered};
use cellflow::project::Project;
use cellflow::source::SourceMap;

use super::{CliError, EXIT_OK, EXIT_PROBLEMS};

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub(crate) enum OutputFormat {
    /// Labelled source snippets for people
    Human,
    /// One JSON object per line, one per diagnostic
    Json,
    /// GitHub Actions workflow annotations
    Github,
}

#[derive(clap::Args, Debug)]
pub(crate) struct Check {
    /// Bots to check: each is a directory (all its flow files) or a single file
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// How to print diagnostics
    #[arg(long, value_enum, default_value = "human")]
    format: OutputFormat,
    /// Fail on warnings too
    #[arg(long)]
    deny_warnings: bool,
}

impl Check {
    pub(crate) fn run(self) -> Result<u8, CliError> {
        // Each path is one bot; load them all first so an I/O error stops
        // the run before anything is printed.
        let total: usize = self
            .paths
            .iter()
            .map(|p| cellflow::project::discover(std::slice::from_ref(p)).map_or(0, |f| f.len()))
            .sum();
        let bar = super::progress(total, super::PROGRESS_FILES, "checking");
        let mut done_before = 0;
        let mut projects = Vec::with_capacity(self.paths.len());
        for path in &self.paths {
            let project =
                Project::load_with_progress(std::slice::from_ref(path), &mut |done, _| {
                    if let Some(bar) = &bar {
                        bar.set_position((done_before + done) as u64);
                    }
                })?;
            done_before += project.sources.iter().count();
            projects.push(project);
        }
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        let stdout = std::io::stdout();
        let colour = stdout.is_terminal() && std::env::var_os("NO_COLOR").is_none();
        let mut out = stdout.lock();
        let (mut errors, mut warnings, mut files) = (0, 0, 0);
        for project in projects {
            let checked = cellflow::check::check(project);
            for diagnostic in &checked.diagnostics {
                let line = match self.format {
                    OutputFormat::Human => render_human(diagnostic, &checked.sources, colour),
                    OutputFormat::Json => render_json(diagnostic, &checked.sources),
                    OutputFormat::Github => render_github(diagnostic, &checked.sources),
                };
                let _ = writeln!(out, "{line}");
            }
            errors += checked.diagnostics.iter().filter(|d| d.is_error()).count();
            warnings += checked.warning_count();
            files += checked.sources.iter().count();
        }
        if matches!(self.format, OutputFormat::Human) {
            let _ = writeln!(out, "{}", summary(errors, warnings, files));
        }
        let failed = errors > 0 || (self.deny_warnings && warnings > 0);
        Ok(if failed { EXIT_PROBLEMS } else { EXIT_OK })
    }
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

fn summary(errors: usize, warnings: usize, files: usize) -> String {
    format!(
        "checked {}: {}, {}",
        plural(files, "file"),
        plural(errors, "error"),
        plural(warnings, "warning")
    )
}

/// Renders one diagnostic for a terminal (colours only on a TTY).
pub(crate) fn render_human(diagnostic: &Diagnostic, sources: &SourceMap, colour: bool) -> String {
    cellflow::diagnostic::render(diagnostic, sources, colour, 100)
}

fn render_json(diagnostic: &Diagnostic, sources: &SourceMap) -> String {
    let rendered = Rendered::new(diagnostic, sources);
    let (file, start, end) = rendered
        .location()
        .map_or((None, None, None), |(f, s, e)| (Some(f), Some(s), Some(e)));
    serde_json::json!({
        "code": diagnostic.problem.code(),
        "severity": diagnostic.severity().as_str(),
        "message": diagnostic.problem.to_string(),
        "file": file,
        "line": start.map(|s| s.0),
        "column": start.map(|s| s.1),
        "end_line": end.map(|e| e.0),
        "end_column": end.map(|e| e.1),
        "label": diagnostic.problem.label(),
        "help": diagnostic.problem.help(),
    })
    .to_string()
}

/// GitHub's workflow-command escaping for property values and messages.
fn escape_github(s: &str, property: bool) -> String {
    let s = s
        .replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A");
    if property {
        s.replace(':', "%3A").replace(',', "%2C")
    } else {
        s
    }
}

fn render_github(diagnostic: &Diagnostic, sources: &SourceMap) -> String {
    let level = if diagnostic.is_error() {
        "error"
    } else {
        "warning"
    };
    let rendered = Rendered::new(diagnostic, sources);
    let mut properties = Vec::new();
    if let Some((file, (line, col), (end_line, end_col))) = rendered.location() {
        properties.push(format!("file={}", escape_github(file, true)));
        properties.push(format!(
            "line={line},col={col},endLine={end_line},endColumn={end_col}"
        ));
    }
    properties.push(format!(
        "title={}",
        escape_github(diagnostic.problem.code(), true)
    ));
    let message = format!(
        "{} (help: {})",
        diagnostic.problem,
        diagnostic.problem.help()
    );
    format!(
        "::{level} {}::{}",
        properties.join(","),
        escape_github(&message, false)
    )
}
