//! The DSL front end: a `*.flow` file (docs/LANGUAGE.md) to a [`Module`].
//!
//! The grammar is `grammar/flow.pest`. Each grammar rule that carries meaning
//! has one function here that consumes its children in order; pest's `Pair`,
//! `Rule` and spans never leave this file. A syntax error stops the parse of
//! the file (pest cannot resume), but problems in a well-formed file (a
//! repeated field, an unknown `pick`) are collected and parsing goes on.

mod cells;
mod document;
mod tokens;

use pest::Parser as _;
use pest::iterators::Pair;

use crate::ast::Module;
use crate::diagnostic::{Diagnostic, Problem};
use crate::source::{FileId, Span};

#[derive(pest_derive::Parser)]
#[grammar = "../grammar/flow.pest"]
struct Grammar;

/// Parses a flow file written in the DSL.
///
/// # Panics
/// Never: a successful parse of the `file` rule always yields its pair.
#[must_use]
pub fn parse(file: FileId, text: &str) -> (Module, Vec<Diagnostic>) {
    if text.len() > crate::syntax::MAX_FILE_BYTES {
        let problem = Problem::FileTooLarge {
            size: text.len(),
            limit: crate::syntax::MAX_FILE_BYTES,
        };
        return (
            Module::default(),
            vec![Diagnostic::new(problem, Span::new(file, 0, 0))],
        );
    }
    let mut parser = DslParser {
        file,
        diagnostics: Vec::new(),
    };
    let module = match Grammar::parse(Rule::file, text) {
        Ok(mut pairs) => {
            if text.contains("\\u") {
                parser.check_escapes(pairs.clone());
            }
            parser.file(pairs.next().expect("the file rule always yields a pair"))
        }
        Err(error) => {
            parser.diagnostics.push(syntax_error(file, text, &error));
            Module::default()
        }
    };
    (module, parser.diagnostics)
}

/// Whether a script can stand as the body of a DSL block (`code { … }`,
/// `when { … }`) and read back the same: its braces balance and its strings
/// and comments close. A script rhai could not run either may fail this; a
/// YAML file can still hold it.
#[must_use]
pub fn fits_in_block(script: &str) -> bool {
    // The line break keeps a final `//` comment off the closing brace, as
    // the printer does.
    let wrapped = format!("{{{script}\n}}");
    Grammar::parse(Rule::block, &wrapped)
        .ok()
        .and_then(|mut pairs| pairs.next())
        .is_some_and(|block| block.as_span().end() == wrapped.len())
}

/// Deepest nesting of brackets accepted in a JSON value.
pub const MAX_NESTING: usize = 64;

fn syntax_error(file: FileId, text: &str, error: &pest::error::Error<Rule>) -> Diagnostic {
    let start = match error.location {
        pest::error::InputLocation::Pos(p) | pest::error::InputLocation::Span((p, _)) => p,
    }
    .min(text.len());
    let end = text[start..]
        .chars()
        .next()
        .map_or(start, |c| start + c.len_utf8());
    // A misspelt cell keyword is the most common mistake: name it.
    let word: String = text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    let after = text[start + word.len()..].trim_start();
    if !word.is_empty()
        && !after.starts_with(':')
        && !crate::ast::CELL_KINDS.contains(&word.as_str())
        && let Some(suggestion) = crate::diagnostic::suggest(&word, crate::ast::CELL_KINDS)
    {
        let problem = Problem::UnknownCellKind {
            found: word.clone(),
            suggestion: Some(suggestion),
        };
        return Diagnostic::new(problem, Span::new(file, start, start + word.len()));
    }
    // A block that opens but never closes: say so at its brace, rather than
    // "expected a block" where one visibly starts.
    if text[start..].starts_with('{')
        && let pest::error::ErrorVariant::ParsingError { positives, .. } = &error.variant
        && positives.contains(&Rule::block)
    {
        let problem = Problem::DslSyntax {
            expected: "a `}` to close this block (is a string or `/*` comment in it left open?)"
                .to_owned(),
        };
        return Diagnostic::new(problem, Span::new(file, start, start + 1));
    }
    let at_end = text[start..].trim().is_empty();
    let expected = match &error.variant {
        pest::error::ErrorVariant::ParsingError { positives, .. } => {
            let mut names: Vec<&str> = positives.iter().filter_map(|r| describe(*r)).collect();
            names.sort_unstable();
            names.dedup();
            match names.as_slice() {
                [] => "something else here".to_owned(),
                [one] => (*one).to_owned(),
                [init @ .., last] => format!("{} or {last}", init.join(", ")),
            }
        }
        pest::error::ErrorVariant::CustomError { message } => message.clone(),
    };
    let expected = if at_end {
        format!("{expected}, but the file ends here")
    } else {
        expected
    };
    Diagnostic::new(Problem::DslSyntax { expected }, Span::new(file, start, end))
}

/// What a user would call a grammar rule, for "expected ..." messages.
fn describe(grammar_rule: Rule) -> Option<&'static str> {
    Some(match grammar_rule {
        Rule::EOI => "end of file",
        Rule::ident | Rule::label => "a name",
        Rule::target => "a target (NAME or FLOW.CELL)",
        Rule::string | Rule::quoted | Rule::raw_string => "a string",
        Rule::number | Rule::integer => "a number",
        Rule::string_list | Rule::phrase_list => "a list of strings `[...]`",
        Rule::name_list => "a list of names `[...]`",
        Rule::block => "a `{ ... }` block",
        Rule::json | Rule::json_open | Rule::json_string | Rule::json_number => "a JSON value",
        Rule::json_close => "`]` or `}`",
        Rule::json_comma => "`,`",
        Rule::json_colon => "`:`",
        Rule::item | Rule::bot | Rule::intent_def | Rule::entity_def | Rule::flow => {
            "`flow`, `intent`, `entity` or `bot`"
        }
        Rule::cell
        | Rule::cell_body
        | Rule::answer
        | Rule::input
        | Rule::rule
        | Rule::code
        | Rule::jump
        | Rule::intent_cell
        | Rule::service
        | Rule::track
        | Rule::handoff
        | Rule::end => "a cell",
        Rule::next => "`->`",
        Rule::trigger => "`on`",
        Rule::on_welcome
        | Rule::on_fallback
        | Rule::on_timeout
        | Rule::on_intent
        | Rule::on_entity => "`welcome`, `fallback`, `timeout`, `intent NAME` or `entity NAME`",
        Rule::flow_timeout => "`timeout`",
        Rule::duration | Rule::duration_word => "a duration (`90s`, `5m`, `1h`)",
        Rule::inactivity_field | Rule::inactivity_after | Rule::inactivity_message => {
            "`after` or `message`"
        }
        Rule::bot_field
        | Rule::bot_name
        | Rule::bot_locale
        | Rule::bot_threshold
        | Rule::bot_out_of_scope
        | Rule::bot_context
        | Rule::bot_hidden
        | Rule::bot_readonly
        | Rule::bot_languages
        | Rule::bot_timezone
        | Rule::bot_detect_language
        | Rule::bot_messages
        | Rule::bot_inactivity => "a bot setting",
        Rule::limit => "a number, or a date (`today`, `\"today+30\"`, `\"2026-12-31\"`)",
        Rule::bot_message => {
            "a built-in message: `not_understood`, `error`, `restarted` or `inactivity_closed`"
        }
        Rule::phrase | Rule::by_language | Rule::language_text => {
            "a string, or texts by language (`@es \"…\" @pt \"…\"`)"
        }
        Rule::language_tag => "a language (`@es`)",
        Rule::examples_by_language => "`@language [\"...\"]`",
        Rule::intent_field | Rule::examples | Rule::patterns | Rule::global => {
            "`examples`, `patterns` or `global`"
        }
        Rule::entity_values | Rule::entity_pattern => "`{` or `pattern`",
        Rule::entity_value => "`value`",
        Rule::answer_field
        | Rule::text_field
        | Rule::pick
        | Rule::button
        | Rule::quick_reply
        | Rule::card
        | Rule::media
        | Rule::custom
        | Rule::evaluable
        | Rule::quick_replies_scope
        | Rule::typing
        | Rule::delay
        | Rule::location
        | Rule::link
        | Rule::voice
        | Rule::answer_mask => "an answer field",
        Rule::coordinate => "a coordinate (a number or a string)",
        Rule::location_name | Rule::location_address => "`name` or `address`",
        Rule::link_title | Rule::link_description => "`title`, `description` or `image`",
        Rule::value_opt | Rule::url_opt => "`value` or `url`",
        Rule::card_field | Rule::subtitle | Rule::image => "a card field",
        Rule::media_name => "`name`",
        Rule::input_type => "an input type",
        Rule::answer_block | Rule::input_block => "`{`",
        Rule::input_field
        | Rule::prompt
        | Rule::options
        | Rule::input_entity
        | Rule::input_pattern
        | Rule::min
        | Rule::max
        | Rule::invalid
        | Rule::retries
        | Rule::on_fail
        | Rule::mask
        | Rule::types
        | Rule::max_size => "an input field",
        Rule::rule_arm => "`when`",
        Rule::rule_else | Rule::intent_else => "`else`",
        Rule::jump_return => "`return`",
        Rule::intent_route => "an intent route `NAME goto TARGET`",
        Rule::service_field
        | Rule::method
        | Rule::url
        | Rule::header
        | Rule::body
        | Rule::timeout
        | Rule::save
        | Rule::status
        | Rule::on_error => "a service field",
        Rule::track_event => "an event name",
        Rule::track_properties => "`{` and the event's properties",
        Rule::handoff_field | Rule::queue | Rule::reason | Rule::message => {
            "`queue`, `reason` or `message`"
        }
        _ => return None,
    })
}

struct DslParser {
    file: FileId,
    diagnostics: Vec<Diagnostic>,
}

/// Sets an optional field once, reporting a second occurrence.
fn set_once<T>(
    slot: &mut Option<T>,
    value: T,
    field: &str,
    span: Span,
    diagnostics: &mut Vec<Diagnostic>,
) {
    if slot.is_some() {
        diagnostics.push(Diagnostic::new(
            Problem::DuplicateField {
                field: field.to_owned(),
            },
            span,
        ));
    } else {
        *slot = Some(value);
    }
}

impl DslParser {
    fn span(&self, pair: &Pair<'_, Rule>) -> Span {
        let s = pair.as_span();
        Span::new(self.file, s.start(), s.end())
    }

    fn report(&mut self, problem: Problem, span: Span) {
        self.diagnostics.push(Diagnostic::new(problem, span));
    }

    fn once<T>(&mut self, slot: &mut Option<T>, value: T, field: &str, span: Span) {
        set_once(slot, value, field, span, &mut self.diagnostics);
    }

    /// Reports every `\\u{...}` escape in a double-quoted string that names
    /// no Unicode scalar value (a surrogate, or a number past U+10FFFF).
    fn check_escapes(&mut self, pairs: pest::iterators::Pairs<'_, Rule>) {
        for quoted in pairs.flatten().filter(|p| p.as_rule() == Rule::quoted) {
            let start = quoted.as_span().start();
            let raw = quoted.as_str();
            // Escapes start with an ASCII backslash, which no multi-byte
            // character contains, so stepping through bytes is safe.
            let bytes = raw.as_bytes();
            let mut i = 0;
            while i < bytes.len() {
                if bytes[i] != b'\\' {
                    i += 1;
                    continue;
                }
                if bytes.get(i + 1) != Some(&b'u') {
                    i += 2;
                    continue;
                }
                // The grammar admits only `\\u{`, 1 to 6 hex digits and `}`.
                let close = raw[i..].find('}').map_or(raw.len() - 1, |e| i + e);
                let hex = raw.get(i + 3..close).unwrap_or("");
                if u32::from_str_radix(hex, 16)
                    .ok()
                    .and_then(char::from_u32)
                    .is_none()
                {
                    self.report(
                        Problem::InvalidEscape {
                            escape: raw[i..=close].to_owned(),
                        },
                        Span::new(self.file, start + i, start + close + 1),
                    );
                }
                i = close + 1;
            }
        }
    }

    /// The single meaningful child of a pair whose grammar guarantees one.
    fn only(pair: Pair<'_, Rule>) -> Pair<'_, Rule> {
        pair.into_inner()
            .next()
            .expect("the grammar gives this rule exactly one child")
    }

    fn file(&mut self, pair: Pair<'_, Rule>) -> Module {
        let mut module = Module::default();
        for item in pair.into_inner() {
            match item.as_rule() {
                Rule::bot => {
                    let span = self.span(&item);
                    let settings = self.bot(item);
                    self.once(&mut module.bot, settings, "bot", span);
                }
                Rule::intent_def => module.intents.push(self.intent_def(item)),
                Rule::entity_def => module.entities.push(self.entity_def(item)),
                Rule::flow => module.flows.push(self.flow(item)),
                _ => {} // EOI
            }
        }
        module
    }
}

/// Decodes the escapes of a double-quoted string. The grammar admits only
/// valid escapes, so each is decoded without failure paths.
fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('u') => {
                let hex: String = chars.by_ref().skip(1).take_while(|c| *c != '}').collect();
                out.push(
                    u32::from_str_radix(&hex, 16)
                        .ok()
                        .and_then(char::from_u32)
                        .unwrap_or('\u{fffd}'),
                );
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}
