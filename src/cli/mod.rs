//! The commands of the `cellflow` binary, one file each.

use std::path::PathBuf;

mod check;
mod compile;
mod explore;
mod fmt;
mod graph;
mod init;
mod lsp;
mod nlu;
mod report;
mod run;
mod schema;
mod serve;
#[cfg(feature = "studio")]
mod studio;
mod test;

/// Exit code for a clean run.
pub(crate) const EXIT_OK: u8 = 0;
/// Exit code when the bot has errors (or warnings with `--deny-warnings`),
/// or `fmt --check` finds a file to reformat.
pub(crate) const EXIT_PROBLEMS: u8 = 1;
/// Exit code for a usage or I/O error.
pub(crate) const EXIT_USAGE: u8 = 2;

/// A progress bar on standard error for long work — only on a terminal and
/// only past `at_least` items, so scripts and CI logs stay quiet.
pub(crate) fn progress(
    total: usize,
    at_least: usize,
    what: &str,
) -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal as _;
    if total < at_least || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(total as u64);
    let style = indicatif::ProgressStyle::with_template("{prefix} {bar:30} {pos}/{len} {wide_msg}")
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_prefix(what.to_owned());
    Some(bar)
}

/// Loads and checks a bot, keeping its sources (for file and line in
/// reports). A bot with errors has them printed and gives `None`.
pub(crate) fn load_checked(
    path: &std::path::Path,
    colour: bool,
) -> Result<Option<(cellflow::Bot, cellflow::source::SourceMap)>, CliError> {
    let project = cellflow::project::Project::load(&[path.to_owned()])?;
    let checked = cellflow::check::check(project);
    if checked.has_errors() {
        for d in checked.diagnostics.iter().filter(|d| d.is_error()) {
            println!("{}", check::render_human(d, &checked.sources, colour));
        }
        return Ok(None);
    }
    let program = cellflow::compile::compile(&checked.bot, &checked.lowered, checked.prepared)
        .map_err(|e| CliError::Usage(e.to_string()))?;
    Ok(Some((cellflow::Bot::new(program), checked.sources)))
}

/// The position in the bot's languages of `--language` (its first when
/// none is given), or why the bot cannot be run in it.
pub(crate) fn language_of(
    program: &cellflow::compile::Program,
    language: Option<&str>,
) -> Result<usize, CliError> {
    let Some(language) = language else {
        return Ok(0);
    };
    cellflow::language::pick(language, &program.languages).ok_or_else(|| {
        CliError::Usage(format!(
            "the bot does not speak `{language}`; it speaks {}",
            program.languages.join(", ")
        ))
    })
}

/// Loads a bot (a directory, flow file or artifact) for a command that runs
/// it. A bot with errors has them printed on stderr and gives `None`.
pub(crate) fn load_bot(path: &std::path::Path) -> Result<Option<cellflow::Bot>, CliError> {
    use cellflow::runtime::LoadError;
    use std::io::IsTerminal as _;
    match cellflow::Bot::load(path) {
        Ok(bot) => Ok(Some(bot)),
        Err(LoadError::Invalid {
            diagnostics,
            sources,
        }) => {
            for d in diagnostics.iter().filter(|d| d.is_error()) {
                eprintln!(
                    "{}",
                    check::render_human(d, &sources, std::io::stderr().is_terminal())
                );
            }
            Ok(None)
        }
        Err(LoadError::Read(e)) => Err(CliError::Load(e)),
        Err(other) => Err(CliError::Usage(other.to_string())),
    }
}

/// Files at which a run starts showing progress.
pub(crate) const PROGRESS_FILES: usize = 20;

/// A command failed for reasons outside the bot's content.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CliError {
    #[error(transparent)]
    Load(#[from] cellflow::project::ReadError),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Usage(String),
}

#[derive(clap::Parser, Debug)]
#[command(
    name = "cellflow",
    version,
    about = "Compile, check and run declarative chatbot flows"
)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand, Debug)]
enum Command {
    /// Write a starter bot (flows, tests, README, CI workflow) that passes `check` and `test`
    Init(init::Init),
    /// Check bots for errors and warnings
    Check(check::Check),
    /// Print flow files in their canonical layout, or convert between YAML and the DSL
    Fmt(fmt::Fmt),
    /// Print the cell graph as DOT or Mermaid
    Graph(graph::GraphCmd),
    /// Chat with a bot in the terminal (reads lines from stdin when it is not a terminal)
    Run(run::Run),
    /// Check a bot and write a versioned artifact that loads without parsing or checking
    Compile(compile::Compile),
    /// Run conversation tests (*.test.yaml)
    Test(test::TestCmd),
    /// Walk a bot's conversations on its own: report failing turns and what is never reached
    Explore(explore::Explore),
    /// Serve the HTTP conversation API (docs/SERVER.md)
    // Boxed: its many settings make it the largest command by far.
    Serve(Box<serve::Serve>),
    /// Measure and debug the built-in intent classifier (docs/NLU.md)
    Nlu(nlu::NluCmd),
    /// Summarise the analytics events a server wrote: funnels, not-understood messages, handoffs
    Report(report::Report),
    /// Serve the Language Server Protocol on stdin and stdout, for editors (docs/EDITORS.md)
    Lsp(lsp::Lsp),
    /// Print the JSON Schema of the YAML format, for editors (docs/EDITORS.md)
    Schema(schema::SchemaCmd),
    /// See the bot as a picture and chat with it in the browser (docs/STUDIO.md)
    #[cfg(feature = "studio")]
    Studio(studio::Studio),
}

pub(crate) fn run(args: Args) -> Result<u8, CliError> {
    match args.command {
        Command::Init(cmd) => cmd.run(),
        Command::Check(cmd) => cmd.run(),
        Command::Fmt(cmd) => cmd.run(),
        Command::Graph(cmd) => cmd.run(),
        Command::Run(cmd) => cmd.run(),
        Command::Compile(cmd) => cmd.run(),
        Command::Test(cmd) => cmd.run(),
        Command::Explore(cmd) => cmd.run(),
        Command::Serve(cmd) => (*cmd).run(),
        Command::Nlu(cmd) => cmd.run(),
        Command::Report(cmd) => cmd.run(),
        Command::Lsp(cmd) => cmd.run(),
        Command::Schema(cmd) => Ok(cmd.run()),
        #[cfg(feature = "studio")]
        Command::Studio(cmd) => cmd.run(),
    }
}
