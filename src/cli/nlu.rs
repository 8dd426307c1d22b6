//! `cellflow nlu`: look at what the built-in classifier makes of messages.
//!
//! `classify` ranks a bot's intents for each message given, with the
//! entities found, for debugging a bot's examples.

use std::fmt::Write as _;
use std::path::PathBuf;

use cellflow::runtime::{Builtin, Classifier as _};

use super::{CliError, EXIT_OK, EXIT_PROBLEMS};

#[derive(clap::Args, Debug)]
pub(crate) struct NluCmd {
    #[command(subcommand)]
    command: NluCommand,
}

#[derive(clap::Subcommand, Debug)]
enum NluCommand {
    /// Rank a bot's intents for each message, with their confidence and the entities found
    Classify(Classify),
}

#[derive(clap::Args, Debug)]
struct Classify {
    /// Bot directory, flow file or compiled artifact
    path: PathBuf,
    /// The messages to classify
    #[arg(required = true)]
    texts: Vec<String>,
    /// How many intents to show per message
    #[arg(long, default_value_t = 5)]
    top: usize,
}

impl NluCmd {
    pub(crate) fn run(self) -> Result<u8, CliError> {
        match self.command {
            NluCommand::Classify(cmd) => cmd.run(),
        }
    }
}

impl Classify {
    fn run(self) -> Result<u8, CliError> {
        let Some(bot) = super::load_bot(&self.path)? else {
            return Ok(EXIT_PROBLEMS);
        };
        let program = bot.program();
        let mut out = String::new();
        for text in &self.texts {
            out.push_str(&render(program, text, self.top));
        }
        print!("{out}");
        Ok(EXIT_OK)
    }
}

/// One message's ranking, as `classify` prints it.
fn render(program: &cellflow::compile::Program, text: &str, top: usize) -> String {
    let ranking = cellflow::runtime::rank(program, text);
    let nlu = Builtin.classify(program, text);
    let name = |i: usize| {
        program
            .intents
            .get(i)
            .map_or("out_of_scope", |intent| intent.name.as_str())
    };
    let mut out = String::new();
    let _ = writeln!(out, "{text:?}");
    let verdict = match &nlu.intent {
        Some(intent) if nlu.confidence >= program.threshold => {
            format!("{intent} ({:.3})", nlu.confidence)
        }
        Some(intent) => format!(
            "not understood: {intent} at {:.3} is below the threshold",
            nlu.confidence
        ),
        None => "not understood".to_owned(),
    };
    let _ = writeln!(out, "  → {verdict}; threshold {:.3}", program.threshold);
    if let Some(i) = ranking.pattern {
        let _ = writeln!(out, "  pattern of {} (a sure hit)", name(i));
    }
    for &class in &ranking.exact {
        let _ = writeln!(out, "  an example of {} (a sure hit)", name(class));
    }
    for (i, p) in ranking.intents.iter().take(top) {
        let _ = writeln!(out, "  {p:>6.3}  {}", name(*i));
    }
    if !ranking.intents.is_empty() {
        let _ = writeln!(out, "  {:>6.3}  (none of them)", ranking.out_of_scope);
    }
    for (entity, value) in &nlu.entities {
        let _ = writeln!(out, "  entity {entity} = {value}");
    }
    out
}
