//! Languages and time zones: the bot's time zone exists, each language the
//! bot names is one, each text by language
//! is in one of the bot's languages, and each text a user reads is there in
//! every language the bot speaks (else that language reads the default's).

use crate::ast::{EntityKind, Localized, Name};
use crate::diagnostic::{Diagnostic, Problem};
use crate::language;

use super::Context;

pub(crate) fn check(ctx: &Context<'_>) -> Vec<Diagnostic> {
    let settings = &ctx.bot.settings;
    let mut diagnostics = Vec::new();
    if let Some(zone) = &settings.timezone
        && jiff::tz::TimeZone::get(&zone.value).is_err()
    {
        diagnostics.push(Diagnostic::new(
            Problem::InvalidValue {
                field: "timezone".into(),
                expected: "a time zone of the IANA database, such as America/Santiago or UTC",
            },
            zone.span,
        ));
    }
    let mut declared: Vec<&str> = Vec::new();
    for name in &settings.languages {
        if !language::is_known(&name.value) {
            diagnostics.push(unknown(name, false, &[]));
        } else if declared.contains(&name.value.as_str()) {
            diagnostics.push(Diagnostic::new(
                Problem::DuplicateField {
                    field: name.value.clone(),
                },
                name.span,
            ));
        } else {
            declared.push(&name.value);
        }
    }
    // The declared languages that are languages, once each.
    let spoken = settings.spoken_languages();
    let speaks: Vec<&str> = if settings.languages.is_empty() {
        spoken.iter().map(String::as_str).collect()
    } else {
        declared
    };
    let keys = |text: &Localized, diagnostics: &mut Vec<Diagnostic>| {
        for (language, _) in &text.languages {
            if !speaks.contains(&language.value.as_str()) {
                let known = language::is_known(&language.value);
                diagnostics.push(unknown(language, known, &speaks));
            }
        }
    };
    for (_, message) in &settings.messages {
        keys(message, &mut diagnostics);
    }
    let closing = settings
        .inactivity
        .as_ref()
        .and_then(|i| i.message.as_ref());
    if let Some(message) = closing {
        keys(message, &mut diagnostics);
        if speaks.len() >= 2 {
            missing(message, "bot.inactivity", &speaks, ctx, &mut diagnostics);
        }
    }
    let values = ctx.bot.entities.iter().flat_map(|e| match &e.kind {
        EntityKind::List(values) => values.as_slice(),
        EntityKind::Pattern(_) => &[],
    });
    let tagged = (ctx.bot.intents.iter())
        .flat_map(|i| &i.examples_by_language)
        .chain(values.flat_map(|v| &v.synonyms_by_language));
    for (language, _) in tagged {
        if !speaks.contains(&language.value.as_str()) {
            let known = language::is_known(&language.value);
            diagnostics.push(unknown(language, known, &speaks));
        }
    }
    for flow in &ctx.bot.flows {
        for (position, cell) in flow.cells.iter().enumerate() {
            let texts = cell.kind.localized();
            if texts.is_empty() {
                continue;
            }
            for text in &texts {
                keys(text, &mut diagnostics);
            }
            if speaks.len() < 2 {
                continue;
            }
            let name = match &cell.id {
                Some(id) => format!("{}.{}", flow.name.value, id.value),
                None => format!("{} (cell {})", flow.name.value, position + 1),
            };
            for text in texts {
                missing(text, &name, &speaks, ctx, &mut diagnostics);
            }
        }
    }
    diagnostics
}

/// Warns for each language `speaks` names that a text lacks (`where_` says
/// whose text it is).
fn missing(
    text: &Localized,
    where_: &str,
    speaks: &[&str],
    ctx: &Context<'_>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    if text.languages.is_empty() && !has_words(&text.first) {
        return;
    }
    for language in speaks {
        let present = if text.languages.is_empty() {
            *language == speaks[0]
        } else {
            text.get(language).is_some()
        };
        if !present {
            diagnostics.push(Diagnostic::new(
                Problem::MissingTranslation {
                    cell: where_.to_owned(),
                    language: (*language).to_owned(),
                },
                text.span.first_line(ctx.sources),
            ));
        }
    }
}

/// Whether a text has words of its own, outside `{{placeholders}}`: one
/// that is only placeholders, numbers or punctuation reads the same in every
/// language.
fn has_words(text: &str) -> bool {
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        if rest[..start].chars().any(char::is_alphabetic) {
            return true;
        }
        match rest[start..].find("}}") {
            Some(end) => rest = &rest[start + end + 2..],
            None => return true,
        }
    }
    rest.chars().any(char::is_alphabetic)
}

fn unknown(name: &Name, known: bool, speaks: &[&str]) -> Diagnostic {
    // Codes are two or three letters: one letter off is the likely slip.
    let lower = name.value.to_ascii_lowercase();
    let close = |candidates: &[&str]| {
        candidates
            .iter()
            .find(|c| **c == lower || strsim::levenshtein(c, &lower) == 1)
            .map(|c| (*c).to_owned())
    };
    let suggestion = if known {
        None
    } else if speaks.is_empty() {
        close(&COMMON)
    } else {
        close(speaks)
    }
    .filter(|s| *s != name.value);
    Diagnostic::new(
        Problem::UnknownLanguage {
            found: name.value.clone(),
            suggestion,
            known,
        },
        name.span,
    )
}

/// Languages a misspelt code most likely meant.
const COMMON: [&str; 10] = ["es", "pt", "en", "fr", "de", "it", "nl", "ca", "gl", "eu"];

#[cfg(test)]
mod tests {
    use super::has_words;

    #[test]
    fn placeholders_alone_need_no_translation() {
        assert!(!has_words("{{point.name}}"));
        assert!(!has_words("{{a}}, {{b}} — 42!"));
        assert!(has_words("Hola {{name}}"));
        assert!(has_words("{{name}}, gracias"));
        assert!(has_words("{{unclosed"));
    }
}
