//! Checks over the bot's vocabulary: intents and entities nobody uses, an
//! example sentence claimed by two intents, and a bot with no fallback.

use std::collections::{HashMap, HashSet};

use crate::ast::{self, CellKind, Spanned, Trigger};
use crate::diagnostic::{Diagnostic, Problem};

use super::Context;
use super::embedded::Facts;

pub(crate) fn unused_intents(ctx: &Context<'_>) -> Vec<Diagnostic> {
    let mut used: HashSet<&str> = HashSet::new();
    for flow in &ctx.bot.flows {
        if let Some(ast::Spanned {
            value: Trigger::Intent(name),
            ..
        }) = &flow.trigger
        {
            used.insert(&name.value);
        }
        for cell in &flow.cells {
            if let CellKind::Intent(switch) = &cell.kind {
                used.extend(switch.routes.iter().map(|(n, _)| n.value.as_str()));
            }
        }
    }
    first_definitions(ctx.bot.intents.iter().map(|i| &i.name))
        .filter(|name| !used.contains(name.value.as_str()))
        .map(|name| {
            Diagnostic::new(
                Problem::UnusedIntent {
                    name: name.value.clone(),
                },
                name.span,
            )
        })
        .collect()
}

pub(crate) fn unused_entities(ctx: &Context<'_>, facts: &Facts) -> Vec<Diagnostic> {
    let mut used: HashSet<&str> = facts.properties.iter().map(String::as_str).collect();
    for flow in &ctx.bot.flows {
        if let Some(ast::Spanned {
            value: Trigger::Entity(name),
            ..
        }) = &flow.trigger
        {
            used.insert(&name.value);
        }
        for cell in &flow.cells {
            if let CellKind::Input(input) = &cell.kind
                && let Some(entity) = &input.entity
            {
                used.insert(&entity.value);
            }
        }
    }
    first_definitions(ctx.bot.entities.iter().map(|e| &e.name))
        .filter(|name| !used.contains(name.value.as_str()))
        .map(|name| {
            Diagnostic::new(
                Problem::UnusedEntity {
                    name: name.value.clone(),
                },
                name.span,
            )
        })
        .collect()
}

/// Each name once, at its first definition (duplicates are reported elsewhere).
fn first_definitions<'a>(
    names: impl Iterator<Item = &'a ast::Name>,
) -> impl Iterator<Item = &'a ast::Name> {
    let mut seen = HashSet::new();
    names.filter(move |n| seen.insert(n.value.as_str()))
}

pub(crate) fn duplicate_examples(ctx: &Context<'_>) -> Vec<Diagnostic> {
    let mut seen: HashMap<String, (&str, &ast::Spanned<String>)> = HashMap::new();
    let mut diagnostics = Vec::new();
    for intent in &ctx.bot.intents {
        for example in intent.all_examples() {
            let key = crate::text::normalize(&example.value);
            match seen.get(&key) {
                Some((other, first)) if *other != intent.name.value => diagnostics.push(
                    Diagnostic::new(
                        Problem::DuplicateExample {
                            example: example.value.clone(),
                            first: (*other).to_owned(),
                            second: intent.name.value.clone(),
                        },
                        example.span,
                    )
                    .with_related(first.span, format!("an example of `{other}`")),
                ),
                Some(_) => {}
                None => {
                    seen.insert(key, (&intent.name.value, example));
                }
            }
        }
    }
    diagnostics
}

/// Intents with examples, but too few different ones for the classifier to
/// learn from (patterns are sure hits, so an intent with one needs none).
pub(crate) fn few_examples(ctx: &Context<'_>) -> Vec<Diagnostic> {
    // The first definition of each name only (a second one is reported as
    // a duplicate name), found in one pass.
    let mut seen = HashSet::new();
    let languages = ctx.bot.settings.spoken_languages();
    ctx.bot
        .intents
        .iter()
        .filter(|i| seen.insert(i.name.value.as_str()))
        .filter_map(|intent| {
            let name = &intent.name;
            let distinct = |examples: &mut dyn Iterator<Item = &Spanned<String>>| {
                let texts: HashSet<String> =
                    examples.map(|e| crate::text::normalize(&e.value)).collect();
                texts.len()
            };
            // With examples per language, each language's model learns
            // from the shared ones and its own: the poorest one counts.
            // A language left without any cannot recognise the intent.
            let (count, language) = if intent.examples_by_language.is_empty() {
                (distinct(&mut intent.all_examples()), None)
            } else {
                languages
                    .iter()
                    // An invalid code is reported as such, not as short.
                    .filter(|l| crate::language::is_known(l))
                    .map(|l| (distinct(&mut intent.examples_in(l)), Some(l.clone())))
                    .min_by_key(|(count, _)| *count)
                    .unwrap_or((0, None))
            };
            let has_examples = intent.all_examples().next().is_some();
            (has_examples && count < super::MIN_EXAMPLES && intent.patterns.is_empty()).then(|| {
                Diagnostic::new(
                    Problem::FewExamples {
                        name: name.value.clone(),
                        count,
                        language,
                    },
                    name.span,
                )
            })
        })
        .collect()
}

pub(crate) fn no_fallback(ctx: &Context<'_>) -> Vec<Diagnostic> {
    match (ctx.lowered.fallback, ctx.bot.flows.first()) {
        (None, Some(first)) => vec![Diagnostic::new(Problem::NoFallback, first.name.span)],
        _ => Vec::new(),
    }
}
