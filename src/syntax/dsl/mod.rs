//! The DSL front end: a `*.flow` file (docs/LANGUAGE.md) to a [`Module`].
//!
//! The grammar is `grammar/flow.pest`. Each grammar rule that carries meaning
//! has one function here that consumes its children in order; pest's `Pair`,
//! `Rule` and spans never leave this file. A syntax error stops the parse of
//! the file (pest cannot resume), but problems in a well-formed file (a
//! repeated field, an unknown `pick`) are collected and parsing goes on.

mod cells;
mod document;
mod errors;
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
            parser
                .diagnostics
                .push(errors::syntax_error(file, text, &error));
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
                            problem: crate::diagnostic::EscapeProblem::NotAChar,
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
