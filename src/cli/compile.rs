//! `cellflow compile PATH -o FILE`: check a bot and write one versioned
//! artifact that `run`, `serve` and `Bot::load` read without parsing or
//! checking again.

use std::io::IsTerminal as _;
use std::path::PathBuf;

use cellflow::project::Project;

use super::check::render_human;
use super::{CliError, EXIT_OK, EXIT_PROBLEMS};

#[derive(clap::Args, Debug)]
pub(crate) struct Compile {
    /// Bot directory or flow file
    path: PathBuf,
    /// Where to write the artifact
    #[arg(short, long)]
    output: PathBuf,
}

impl Compile {
    pub(crate) fn run(self) -> Result<u8, CliError> {
        let project = Project::load(std::slice::from_ref(&self.path))?;
        let checked = cellflow::check::check(project);
        if checked.has_errors() {
            for d in checked.diagnostics.iter().filter(|d| d.is_error()) {
                eprintln!(
                    "{}",
                    render_human(d, &checked.sources, std::io::stderr().is_terminal())
                );
            }
            return Ok(EXIT_PROBLEMS);
        }
        // Compiling proves the artifact will load, and trains the
        // classifier model the artifact carries.
        let program = cellflow::compile::compile(&checked.bot, &checked.lowered, checked.prepared)
            .map_err(|e| CliError::Usage(e.to_string()))?;
        let artifact = cellflow::compile::write_artifact(&checked.bot, &program)
            .map_err(|e| CliError::Usage(e.to_string()))?;
        std::fs::write(&self.output, artifact).map_err(|source| CliError::Write {
            path: self.output.clone(),
            source,
        })?;
        Ok(EXIT_OK)
    }
}
