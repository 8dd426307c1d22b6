#![allow(dead_code)]
// Shared by the fuzz targets (each includes it with `#[path]`).

use cellflow::Bot;
use cellflow::project::Project;
use cellflow::syntax::Syntax;

/// Checks one file of fuzzed bytes as a bot, renders every diagnostic, and,
/// when the file parsed cleanly, formats it in both syntaxes. A formatter
/// that refuses a file it could read is a bug, so that panics too. A bot
/// that checks clean then runs a few turns.
pub fn front_end(name: &str, bytes: &[u8]) {
    let mut project = Project::new();
    project.add_bytes(name, std::path::Path::new(name), bytes);
    if project.diagnostics.is_empty()
        && let Some((_, _, module)) = project.modules.first()
    {
        for to in [Syntax::Yaml, Syntax::Dsl] {
            if let Err(cellflow::fmt::FormatError::NotLossless(what)) =
                cellflow::fmt::convert(module, to)
            {
                panic!("a valid file does not format to {to:?}: {what}");
            }
        }
    }
    let checked = cellflow::check::check(project);
    for diagnostic in &checked.diagnostics {
        let _ = cellflow::diagnostic::render(diagnostic, &checked.sources, false, 80);
    }
    if checked.has_errors() {
        return;
    }
    if let Ok(program) =
        cellflow::compile::compile(&checked.bot, &checked.lowered, checked.prepared)
    {
        converse(&Bot::new(program), &["hello", "1", "yes", ""]);
    }
}

/// Runs a new conversation: welcome, then each message.
pub fn converse(bot: &Bot, messages: &[&str]) {
    let mut session = bot.new_session();
    let _ = bot.turn(&mut session, cellflow::Request::event("welcome"));
    for message in messages {
        let _ = bot.turn(&mut session, cellflow::Request::text(*message));
    }
}

/// The pizza example bot, which the session and test-file targets run
/// against.
pub fn pizza() -> Bot {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../flows/pizza");
    Bot::load(dir).expect("the example bot loads")
}
