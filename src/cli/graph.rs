//! `cellflow graph PATH --format dot|mermaid [--flow F]`.

use std::path::PathBuf;

use cellflow::export::{self, Format};
use cellflow::project::Project;

use super::check::render_human;
use super::{CliError, EXIT_OK, EXIT_PROBLEMS};

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub(crate) enum GraphFormat {
    Dot,
    Mermaid,
}

#[derive(clap::Args, Debug)]
pub(crate) struct GraphCmd {
    /// Bot directory or flow file
    path: PathBuf,
    #[arg(long, value_enum, default_value = "dot")]
    format: GraphFormat,
    /// Only this flow (and the cells it leads to)
    #[arg(long)]
    flow: Option<String>,
}

impl GraphCmd {
    pub(crate) fn run(self) -> Result<u8, CliError> {
        let project = Project::load(std::slice::from_ref(&self.path))?;
        let checked = cellflow::check::check(project);
        if checked.has_errors() {
            for d in checked.diagnostics.iter().filter(|d| d.is_error()) {
                eprintln!("{}", render_human(d, &checked.sources, false));
            }
            return Ok(EXIT_PROBLEMS);
        }
        let graph = &checked.lowered.graph;
        let only = match &self.flow {
            Some(name) => Some(graph.flow_named(name).ok_or_else(|| {
                let names: Vec<&str> = graph.flows().iter().map(|f| f.name.as_str()).collect();
                CliError::Usage(format!(
                    "no flow named `{name}`; the flows are: {}",
                    names.join(", ")
                ))
            })?),
            None => None,
        };
        let format = match self.format {
            GraphFormat::Dot => Format::Dot,
            GraphFormat::Mermaid => Format::Mermaid,
        };
        print!("{}", export::render(&checked.bot, graph, format, only));
        Ok(EXIT_OK)
    }
}
