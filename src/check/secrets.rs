//! Secrets: which variables can hold a masked value, and the places where
//! the bot would say a masked or hidden value to the user.
//!
//! Masking follows the value, so it is not only the variable of a `mask`
//! input that holds a secret: a code cell that reads a masked variable may
//! copy or transform it into every variable it assigns (`last4 =
//! card.sub_string(12)`). [`spread`] closes the set of masked variables
//! over those transfers; it is flow-insensitive and errs on the side of
//! masking. (A service's reply is not masked whole for having been asked
//! with a secret; the runtime redacts any copy of the secret inside it by
//! value.)
//! The compiler runs it to tell the runtime what to mask; the checker runs
//! it to warn where an answer templates such a value. The checker also
//! warns about `hidden` and `readonly` names that match no variable.

use crate::ast::CellKind;
use crate::diagnostic::{Diagnostic, Problem};

use super::Context;
use super::embedded::Facts;

/// A cell that may move values: what it reads, and what it assigns from them.
#[derive(Debug, Default)]
pub(crate) struct Transfer<'a> {
    pub reads: Vec<&'a str>,
    pub writes: Vec<&'a str>,
}

/// The masked variables: `seeds` (the variables of masked inputs) and every
/// variable a transfer assigns after reading a masked one, sorted.
pub(crate) fn spread(
    seeds: impl IntoIterator<Item = String>,
    transfers: &[Transfer<'_>],
) -> Vec<String> {
    let mut masked: Vec<String> = seeds.into_iter().collect();
    masked.sort();
    masked.dedup();
    if masked.is_empty() {
        return masked;
    }
    // Each round masks at least one more variable, or ends.
    loop {
        let mut added = Vec::new();
        for transfer in transfers {
            if transfer
                .reads
                .iter()
                .any(|r| masked.binary_search_by(|m| m.as_str().cmp(r)).is_ok())
            {
                for write in &transfer.writes {
                    if masked.binary_search_by(|m| m.as_str().cmp(write)).is_err() {
                        added.push((*write).to_owned());
                    }
                }
            }
        }
        if added.is_empty() {
            return masked;
        }
        masked.extend(added);
        masked.sort();
        masked.dedup();
    }
}

/// Warns about names in `bot.hidden` and `bot.readonly` that no cell
/// assigns and `bot.context` does not list: a typo there would leave the
/// variable it meant unprotected, silently.
pub(crate) fn unknown_variables(ctx: &Context<'_>, facts: &Facts) -> Vec<Diagnostic> {
    let settings = &ctx.bot.settings;
    let known = |name: &str| {
        facts
            .assigned_anywhere
            .binary_search_by(|a| a.as_str().cmp(name))
            .is_ok()
            || settings.context.iter().any(|c| c.value == name)
    };
    let candidates = || {
        facts
            .assigned_anywhere
            .iter()
            .map(String::as_str)
            .chain(settings.context.iter().map(|c| c.value.as_str()))
    };
    let mut diagnostics = Vec::new();
    for (list, names) in [
        ("hidden", &settings.hidden),
        ("readonly", &settings.readonly),
    ] {
        for name in names.iter().filter(|n| !known(&n.value)) {
            diagnostics.push(Diagnostic::new(
                Problem::UnknownVariable {
                    name: name.value.clone(),
                    list,
                    suggestion: crate::diagnostic::suggest(&name.value, candidates()),
                },
                name.span,
            ));
        }
    }
    diagnostics
}

/// The variables of the bot's masked inputs.
fn masked_inputs(ctx: &Context<'_>) -> Vec<String> {
    ctx.bot
        .flows
        .iter()
        .flat_map(|f| &f.cells)
        .filter_map(|c| match &c.kind {
            CellKind::Input(input) if input.mask => Some(input.var.value.clone()),
            _ => None,
        })
        .collect()
}

/// Warns where a text the bot says (an answer, a prompt, an `invalid`
/// message, a handoff's or an end's message) templates a masked or hidden
/// variable: the user's channel receives it in clear.
pub(crate) fn secret_in_answer(ctx: &Context<'_>, facts: &Facts) -> Vec<Diagnostic> {
    let hidden: Vec<&str> = ctx
        .bot
        .settings
        .hidden
        .iter()
        .map(|n| n.value.as_str())
        .collect();
    let seeds = masked_inputs(ctx);
    if seeds.is_empty() && hidden.is_empty() {
        return Vec::new();
    }
    let transfers: Vec<Transfer<'_>> = facts
        .cells
        .iter()
        .filter(|c| !c.writes.is_empty())
        .map(|c| Transfer {
            reads: c.uses.iter().map(|u| u.name.as_str()).collect(),
            writes: c.writes.iter().map(String::as_str).collect(),
        })
        .collect();
    let masked = spread(seeds, &transfers);
    let mut diagnostics = Vec::new();
    for (id, node) in ctx.lowered.graph.cells() {
        let cell = &ctx.bot.flows[node.flow.index()].cells[node.index as usize];
        if !matches!(
            cell.kind,
            CellKind::Answer(_) | CellKind::Input(_) | CellKind::Handoff(_) | CellKind::End(_)
        ) {
            continue;
        }
        let Some(cell_facts) = facts.cells.get(id.index()) else {
            continue;
        };
        // A masked answer may show a masked value: it is sent, never stored.
        let masked_answer = matches!(&cell.kind, CellKind::Answer(a) if a.mask);
        for used in &cell_facts.uses {
            let is_hidden = hidden.contains(&used.name.as_str());
            let is_masked = masked.binary_search(&used.name).is_ok() && !masked_answer;
            if is_masked || is_hidden {
                diagnostics.push(Diagnostic::new(
                    Problem::SecretInAnswer {
                        name: used.name.clone(),
                        hidden: !is_masked,
                    },
                    used.span,
                ));
            }
        }
    }
    diagnostics
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masking_spreads_through_copies_of_copies() {
        let transfers = [
            Transfer {
                reads: vec!["copy"],
                writes: vec!["shout"],
            },
            Transfer {
                reads: vec!["pin", "other"],
                writes: vec!["copy", "n"],
            },
            Transfer {
                reads: vec!["name"],
                writes: vec!["greeting"],
            },
        ];
        assert_eq!(
            spread(["pin".to_owned()], &transfers),
            ["copy", "n", "pin", "shout"]
        );
        assert!(spread([], &transfers).is_empty());
    }
}
