//! Static checks: everything that can be known about a bot
//! without running it.
//!
//! [`check`] merges a project, lowers it, and runs independent passes over
//! the AST and the graph, each returning its own diagnostics; the results are
//! sorted by position so a run reports every problem once, in reading order.
//! The passes:
//!
//! - `embedded`: rhai scripts and conditions, templates, regexes, input
//!   configuration and service URLs; it also records what each cell reads
//!   and assigns, for `dataflow`;
//! - `flow`: loops that never wait for the user, unreachable cells;
//! - `dataflow`: variables that may be unset where they are read, and
//!   reads of a name nothing assigns that is close to one that is;
//! - `names`: unused intents and entities, shared examples, no fallback;
//! - `languages`: language codes, texts by language, missing translations;
//! - `secrets`: answers that would show a masked or hidden value, and
//!   hidden or read-only names that match no variable;
//! - `timeouts`: inactivity durations.

mod dataflow;
mod embedded;
mod flow;
mod languages;
mod names;
mod prepared;
pub(crate) mod secrets;
mod timeouts;

use crate::ast;
use crate::diagnostic::{self, Diagnostic};
use crate::lower::{self, Lowered};
use crate::project::Project;
use crate::source::SourceMap;

pub use embedded::locate;
pub use prepared::Prepared;

/// Fewer different examples than this (and no pattern) and an intent gets
/// `check::few_examples`.
pub use crate::classifier::MIN_EXAMPLES;

/// A checked bot: its AST, its graph, every problem found, the sources
/// the problems point into, and what the checks compiled on the way (for
/// compiling, which takes it instead of doing the work again).
#[derive(Debug)]
pub struct Checked {
    pub bot: ast::Bot,
    pub lowered: Lowered,
    pub diagnostics: Vec<Diagnostic>,
    pub sources: SourceMap,
    pub prepared: Prepared,
}

impl Checked {
    #[must_use]
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    #[must_use]
    pub fn warning_count(&self) -> usize {
        self.diagnostics.iter().filter(|d| !d.is_error()).count()
    }
}

/// What the passes share.
pub(crate) struct Context<'a> {
    pub bot: &'a ast::Bot,
    pub lowered: &'a Lowered,
    pub sources: &'a SourceMap,
}

/// Where each cell, and the first line of each of its scripts, is
/// written, by the cells' indexes in the graph (which compiling keeps).
fn places(ctx: &Context<'_>) -> crate::source::Places {
    let mut places = crate::source::Places::default();
    let mut scripts = Vec::new();
    for (id, node) in ctx.lowered.graph.cells() {
        let cell = &ctx.bot.flows[node.flow.index()].cells[node.index as usize];
        scripts.clear();
        let start = |script: &ast::Script| {
            let source = &script.source;
            embedded::locate(ctx.sources, source.span, &source.value, 0..0)
        };
        match &cell.kind {
            ast::CellKind::Code(script) => scripts.push(start(script)),
            ast::CellKind::Rule(rule) => {
                scripts.extend(rule.arms.iter().map(|arm| start(&arm.when)));
            }
            _ => {}
        }
        places.set_cell(id.index(), ctx.sources, cell.span, &scripts);
    }
    places
}

/// Runs every check on a loaded project.
#[must_use]
pub fn check(mut project: Project) -> Checked {
    let bot = project.merge();
    let lowered = lower::lower(&bot);
    let mut diagnostics = std::mem::take(&mut project.diagnostics);
    diagnostics.extend(lowered.diagnostics.iter().cloned());
    let prepared = {
        let ctx = Context {
            bot: &bot,
            lowered: &lowered,
            sources: &project.sources,
        };
        let (embedded_diagnostics, facts, prepared) = embedded::run(&ctx);
        diagnostics.extend(embedded_diagnostics);
        diagnostics.extend(flow::waitless_loops(&ctx));
        // Which calls eventually return: reachability and data-flow both need it.
        let calls = flow::Calls::new(&lowered.graph, false);
        diagnostics.extend(flow::unreachable(&ctx, &calls));
        let misspelt = dataflow::misspelt(&ctx, &facts);
        diagnostics.extend(dataflow::misspelt_variables(&facts, &misspelt));
        diagnostics.extend(dataflow::maybe_unset(&ctx, &facts, &calls, &misspelt));
        diagnostics.extend(names::unused_intents(&ctx));
        diagnostics.extend(names::unused_entities(&ctx, &facts));
        diagnostics.extend(names::duplicate_examples(&ctx));
        diagnostics.extend(names::few_examples(&ctx));
        diagnostics.extend(names::no_fallback(&ctx));
        diagnostics.extend(languages::check(&ctx));
        diagnostics.extend(secrets::secret_in_answer(&ctx, &facts));
        diagnostics.extend(secrets::unknown_variables(&ctx, &facts));
        diagnostics.extend(timeouts::durations(&ctx));
        let mut prepared = prepared;
        prepared.set_places(places(&ctx));
        prepared
    };
    diagnostic::sort(&mut diagnostics, &project.sources);
    diagnostics.dedup();
    Checked {
        bot,
        lowered,
        diagnostics,
        sources: project.sources,
        prepared,
    }
}
