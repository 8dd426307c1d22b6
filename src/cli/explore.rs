//! `cellflow explore PATH`: walk a bot's conversations on its own and report
//! turns that fail, placeholders with no value, and what was never reached.
//!
//! Mocks and context come from the bot's own `*.test.yaml` files when it has
//! them (every answer the tests' mocks give, the first test's context), so
//! explored service calls answer like the tests' do.

use std::collections::BTreeMap;
use std::io::IsTerminal as _;
use std::path::PathBuf;

use cellflow::Bot;
use cellflow::explore::{Finding, Message, Options, Path};
use cellflow::project::ReadError;
use cellflow::runtime::Awaiting;
use cellflow::source::SourceMap;

use super::{CliError, EXIT_OK, EXIT_PROBLEMS};

#[derive(clap::Args, Debug)]
pub(crate) struct Explore {
    /// A bot directory or flow file
    path: PathBuf,
    /// Most turns in one conversation
    #[arg(long, default_value_t = 10)]
    depth: usize,
    /// Most distinct conversation states to visit
    #[arg(long, default_value_t = 5_000)]
    max_states: usize,
    /// Write the conversations that reached new cells or branches as a test file
    #[arg(long, value_name = "FILE")]
    emit_tests: Option<PathBuf>,
    /// Explore the conversations in one of the bot's languages (default: its first)
    #[arg(long, value_name = "LANGUAGE")]
    language: Option<String>,
}

/// `event welcome → "2" → "yes"`; a message typed into a masked input
/// shows as the mask.
fn describe(bot: &Bot, path: &Path) -> String {
    let program = bot.program();
    let mut awaited: Option<&str> = None;
    let mut said = Vec::with_capacity(path.turns.len());
    for (message, response) in &path.turns {
        let secret = matches!(message, Message::User(_))
            && awaited.is_some_and(|var| program.is_masked(var));
        said.push(if secret {
            format!("{:?}", cellflow::runtime::MASK)
        } else {
            message.to_string()
        });
        awaited = match &response.awaiting {
            Some(Awaiting::Input { var, .. }) => Some(var.as_str()),
            _ => None,
        };
    }
    said.join(" → ")
}

impl Explore {
    pub(crate) fn run(self) -> Result<u8, CliError> {
        let colour = std::io::stdout().is_terminal();
        let Some((bot, sources)) = super::load_checked(&self.path, colour)? else {
            return Ok(EXIT_PROBLEMS);
        };
        super::language_of(bot.program(), self.language.as_deref())?;
        let mut options = Options {
            depth: self.depth.max(1),
            max_states: self.max_states.max(1),
            language: self.language.clone(),
            ..Options::default()
        };
        if self.path.is_dir() {
            read_tests(&self.path, &bot, &mut options)?;
        }
        // Context the host would send, where no test says what.
        for name in &bot.program().context {
            options
                .context
                .entry(name.clone())
                .or_insert_with(|| serde_json::Value::String(format!("sample {name}")));
        }
        let exploration = cellflow::explore::explore(&bot, &options);
        let program = bot.program();
        println!(
            "explored {} conversation states, up to {} turns deep{}",
            exploration.states,
            options.depth,
            if exploration.truncated {
                " (stopped at --max-states)"
            } else {
                ""
            }
        );
        for (finding, path) in &exploration.findings {
            match finding {
                Finding::TurnFailed { message, at } => match at {
                    Some(at) => match (&at.file, at.line) {
                        (Some(file), Some(line)) => {
                            println!("{file}:{line}  {}: turn failed: {message}", at.cell_name());
                        }
                        _ => println!("{}: turn failed: {message}", at.cell_name()),
                    },
                    None => println!("turn failed: {message}"),
                },
                Finding::Unset(read) => println!(
                    "{}  {}: `{{{{{}}}}}` had no value",
                    cellflow::coverage::location(program.cell(read.cell).span, &sources),
                    cellflow::coverage::cell_name(program, read.cell),
                    read.path
                ),
            }
            println!("  after: {}", describe(&bot, path));
        }
        let report = exploration.coverage.report(program);
        println!(
            "reached {:.1}% of cells and branches\n{}",
            report.combined_percent(),
            report.render(program, &sources).trim_end()
        );
        if let Some(file) = &self.emit_tests {
            std::fs::write(file, exploration.tests_yaml(&options)).map_err(|source| {
                CliError::Write {
                    path: file.clone(),
                    source,
                }
            })?;
            println!(
                "wrote {} conversations to {}",
                exploration.paths.len(),
                file.display()
            );
        }
        Ok(if exploration.findings.is_empty() {
            EXIT_OK
        } else {
            EXIT_PROBLEMS
        })
    }
}

/// Mocks and context from the bot's test files, so explored calls answer as
/// the tests' do.
fn read_tests(dir: &std::path::Path, bot: &Bot, options: &mut Options) -> Result<(), CliError> {
    let mut files = Vec::new();
    super::test::test_files(dir, &mut files).map_err(|source| ReadError::Io {
        path: dir.to_owned(),
        source,
    })?;
    let services = cellflow::testing::services(bot.program());
    let mut mocks: BTreeMap<String, Vec<(u16, String)>> = BTreeMap::new();
    for file in files {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        let mut sources = SourceMap::new();
        let id = sources.add(cellflow::project::display_name(&file), &file, text);
        // A test file with mistakes is `cellflow test`'s to report.
        let (tests, _) = cellflow::testing::parse(id, sources.get(id).text(), &services);
        for test in tests {
            if options.context.is_empty() {
                options.context.clone_from(&test.context);
            }
            for mock in test.mocks {
                let answers = mocks.entry(mock.service).or_default();
                if !answers.contains(&(mock.status, mock.body.clone())) {
                    answers.push((mock.status, mock.body));
                }
            }
        }
    }
    options.mocks = mocks;
    Ok(())
}
