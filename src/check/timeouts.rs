//! Inactivity timeouts: the bot's `inactivity.after` and each flow's
//! `timeout` read as durations.
//!
//! A flow may have a `timeout` without the bot having `inactivity`: it then
//! applies while the conversation waits in that flow, and nowhere else.
//! Two flows `on: timeout` are a duplicate trigger, which lowering reports.

use crate::ast::Spanned;
use crate::diagnostic::{Diagnostic, Problem};

use super::Context;

pub(crate) fn durations(ctx: &Context<'_>) -> Vec<Diagnostic> {
    let settings = ctx.bot.settings.inactivity.iter().map(|i| &i.after);
    let flows = ctx.bot.flows.iter().filter_map(|f| f.timeout.as_ref());
    settings.chain(flows).filter_map(duration).collect()
}

fn duration(written: &Spanned<String>) -> Option<Diagnostic> {
    let problem = crate::kinds::parse_duration(&written.value).err()?;
    Some(Diagnostic::new(
        Problem::InvalidDuration {
            found: written.value.clone(),
            problem,
        },
        written.span,
    ))
}
