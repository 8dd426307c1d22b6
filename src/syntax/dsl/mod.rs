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
pub mod keys;
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
    if text.len() >= PARALLEL_BYTES {
        let parts = std::thread::available_parallelism()
            .map_or(1, std::num::NonZero::get)
            .min(MAX_PARTS);
        if parts > 1
            && let Some(parsed) = parse_in_parts(file, text, &split_points(text, parts))
        {
            return parsed;
        }
    }
    let part = parse_part(file, text, 0);
    match part.error {
        Some(error) => (
            Module::default(),
            vec![errors::syntax_error(file, text, &error)],
        ),
        None => {
            let mut diagnostics = part.escapes;
            diagnostics.extend(part.diagnostics);
            (part.module, diagnostics)
        }
    }
}

/// Files at least this long are parsed on several threads.
const PARALLEL_BYTES: usize = 256 * 1024;
/// The most threads one file is parsed on.
const MAX_PARTS: usize = 4;

/// One part of a file parsed on its own: its module, the `\u{...}`
/// escapes it reported, the other problems, or why it did not parse.
struct Part {
    module: Module,
    escapes: Vec<Diagnostic>,
    diagnostics: Vec<Diagnostic>,
    error: Option<pest::error::Error<Rule>>,
}

/// Parses `text`, which starts `offset` bytes into the file.
fn parse_part(file: FileId, text: &str, offset: usize) -> Part {
    let mut parser = DslParser {
        file,
        offset,
        diagnostics: Vec::new(),
    };
    match Grammar::parse(Rule::file, text) {
        Ok(mut pairs) => {
            if text.contains("\\u") {
                parser.check_escapes(pairs.clone());
            }
            let escapes = std::mem::take(&mut parser.diagnostics);
            let module = parser.file(pairs.next().expect("the file rule always yields a pair"));
            Part {
                module,
                escapes,
                diagnostics: parser.diagnostics,
                error: None,
            }
        }
        Err(error) => Part {
            module: Module::default(),
            escapes: Vec::new(),
            diagnostics: Vec::new(),
            error: Some(error),
        },
    }
}

/// Where a big file may be cut into `parts` pieces that each hold whole
/// items, near even sizes apart: before a line that starts `flow `,
/// `intent ` or `entity ` when the last line before it that is not blank
/// is a lone `}` (the way `cellflow fmt` and generated bots lay items
/// out). A cut is only a guess; [`parse_in_parts`] checks it.
fn split_points(text: &str, parts: usize) -> Vec<usize> {
    let mut points: Vec<usize> = Vec::new();
    for part in 1..parts {
        let target = text.len() / parts * part;
        let mut from = target.max(points.last().map_or(0, |p| p + 1));
        while !text.is_char_boundary(from) {
            from += 1;
        }
        // The next item start at or after `target` (a bounded search: a file
        // with no such cut is parsed on one thread).
        while let Some(found) = text.get(from..).and_then(|rest| rest.find("\n}\n")) {
            let close = from + found + 1; // the `}`
            if close > target + text.len() / parts / 2 {
                break;
            }
            let mut at = close + 2;
            while text.as_bytes().get(at) == Some(&b'\n') {
                at += 1;
            }
            let line = &text[at..];
            if ["flow ", "intent ", "entity "]
                .iter()
                .any(|k| line.starts_with(k))
                && safe_cut(text, at)
            {
                points.push(at);
                break;
            }
            from = close + 1;
        }
    }
    points
}

/// Whether no character literal of a block could read past a cut: one
/// reads at most 39 bytes from its `'` (a quote, an escaped character,
/// eight more characters of up to four bytes, a quote).
fn safe_cut(text: &str, at: usize) -> bool {
    !text.as_bytes()[at.saturating_sub(CHAR_LITERAL_BYTES)..at].contains(&b'\'')
}

const CHAR_LITERAL_BYTES: usize = 40;

/// Parses the pieces of a file cut at `points` on their own threads and
/// joins them, or `None` when the file should be parsed whole: a piece did
/// not parse (the whole file's parse then reports the error where it
/// really is), or the cuts are not where items are sure to end.
///
/// Why the joined parse equals the whole one: every piece is parsed by the
/// `file` rule, so each holds whole items and ends where its last item's
/// closing `}` line and blank lines end. The grammar reads past an item's
/// end only in a block's character literal (`'x'`: see [`safe_cut`]), so
/// no `'` may stand just before a cut; every other unbounded
/// run (strings, comments) that reached the end of a piece would have
/// failed its parse. A second `bot` item is left to the whole parse, which
/// reports it.
fn parse_in_parts(file: FileId, text: &str, points: &[usize]) -> Option<(Module, Vec<Diagnostic>)> {
    if points.is_empty() {
        return None;
    }
    if !points.iter().all(|&point| safe_cut(text, point)) {
        return None;
    }
    let bounds: Vec<(usize, usize)> = std::iter::once(0)
        .chain(points.iter().copied())
        .zip(points.iter().copied().chain(std::iter::once(text.len())))
        .collect();
    let parts: Vec<Part> = std::thread::scope(|scope| {
        let others: Vec<_> = bounds[1..]
            .iter()
            .map(|&(start, end)| scope.spawn(move || parse_part(file, &text[start..end], start)))
            .collect();
        let first = parse_part(file, &text[..bounds[0].1], 0);
        std::iter::once(first)
            .chain(
                others
                    .into_iter()
                    .map(|h| h.join().expect("a parser thread does not panic")),
            )
            .collect()
    });
    if parts.iter().any(|p| p.error.is_some())
        || parts.iter().filter(|p| p.module.bot.is_some()).count() > 1
    {
        return None;
    }
    let mut module = Module::default();
    let mut diagnostics = Vec::new();
    let mut rest = Vec::new();
    for part in parts {
        diagnostics.extend(part.escapes);
        rest.extend(part.diagnostics);
        if part.module.bot.is_some() {
            module.bot = part.module.bot;
        }
        module.intents.extend(part.module.intents);
        module.entities.extend(part.module.entities);
        module.flows.extend(part.module.flows);
    }
    diagnostics.extend(rest);
    Some((module, diagnostics))
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
    /// Where the text being parsed starts in the file.
    offset: usize,
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
        Span::new(self.file, self.offset + s.start(), self.offset + s.end())
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
            let start = self.offset + quoted.as_span().start();
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt::Write as _;

    fn id() -> FileId {
        crate::source::SourceMap::new().add("t.flow", "t.flow", "")
    }

    fn whole(text: &str) -> String {
        let part = parse_part(id(), text, 0);
        let parsed = match part.error {
            Some(error) => (
                Module::default(),
                vec![errors::syntax_error(id(), text, &error)],
            ),
            None => {
                let mut diagnostics = part.escapes;
                diagnostics.extend(part.diagnostics);
                (part.module, diagnostics)
            }
        };
        format!("{parsed:?}")
    }

    /// Every place a cut could go: before each line starting an item keyword.
    fn cuts(text: &str) -> Vec<usize> {
        let mut at = 0;
        let mut cuts = Vec::new();
        for line in text.split_inclusive('\n') {
            if at > 0
                && ["flow", "intent", "entity", "bot"]
                    .iter()
                    .any(|k| line.starts_with(k))
            {
                cuts.push(at);
            }
            at += line.len();
        }
        cuts
    }

    /// Cut anywhere an item could start, the pieces parsed on their own give
    /// what the whole file gives, or the whole file is parsed.
    fn same_in_parts(text: &str) -> usize {
        let expected = whole(text);
        let mut joined = 0;
        for cut in cuts(text) {
            if let Some(parsed) = parse_in_parts(id(), text, &[cut]) {
                assert_eq!(format!("{parsed:?}"), expected, "cut at {cut} of {text}");
                joined += 1;
            }
        }
        let all = cuts(text);
        if let Some(parsed) = parse_in_parts(id(), text, &all) {
            assert_eq!(format!("{parsed:?}"), expected);
        }
        joined
    }

    #[test]
    fn a_file_parsed_in_parts_is_the_file_parsed_whole() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = Vec::new();
        for dir in [
            "flows/pizza",
            "tests/clean",
            "tests/diagnostics",
            "tests/reproducers",
            "tests/secrets",
            "tests/nlu",
            "tests/explore/buggy",
            "benches/load",
        ] {
            for entry in std::fs::read_dir(root.join(dir)).unwrap() {
                let path = entry.unwrap().path();
                if path.extension().is_some_and(|e| e == "flow") {
                    files.push(std::fs::read_to_string(path).unwrap());
                }
            }
        }
        assert!(files.len() > 15);
        let mut joined = 0;
        for text in &files {
            joined += same_in_parts(text);
        }
        // The files hold cuts that do join: the check above is not empty.
        assert!(joined > 10, "{joined}");
        // A bot laid out as the load benchmarks' generated ones, cut where
        // a big file is cut.
        let mut text = String::from("bot {\n  name \"Big\"\n}\n\n");
        for k in 0..60 {
            let _ = write!(
                text,
                "intent i{k} {{\n  examples [\"item {k}\", \"need {k}\"]\n  patterns ['\\bplan {k}\\b']\n}}\n\n"
            );
        }
        for k in 0..60 {
            let _ = write!(
                text,
                "flow f{k} on intent i{k} {{\n  answer \"Step {k} for {{{{user.id}}}}\"\n  \
                 input a{k} number {{\n    prompt \"A value?\"\n    min 0\n  }}\n  \
                 code {{ b{k} = a{k} * 2; }}\n  rule {{\n    when {{ b{k} > 10 }} goto big\n    \
                 else goto small\n  }}\n  big: answer \"Big\" -> small\n  small: end\n}}\n\n"
            );
        }
        // Every cut before a flow, and the one after the bot; not those
        // after an intent, whose patterns end in a `'` just before them.
        assert_eq!(same_in_parts(&text), 60);
        for parts in 2..=4 {
            let points = split_points(&text, parts);
            assert_eq!(points.len(), parts - 1);
            let parsed = parse_in_parts(id(), &text, &points).unwrap();
            assert_eq!(format!("{parsed:?}"), whole(&text));
        }
    }

    #[test]
    fn cuts_that_are_not_between_items_are_refused() {
        let cases = [
            // Inside a string, a block's string, a comment, a raw string.
            "flow a {\n  answer \"x\n}\n\nflow b {\n  end\n}\n\"\n}\n",
            "flow a {\n  code { let s = \"\n}\n\nflow b {\n\"; }\n}\n",
            "flow a {\n  code { /*\n}\n\nflow b {\n*/ }\n}\n",
            "flow a {\n  answer 'x\n}\n\nflow b {\n'\n}\n",
            // A character literal that could read past the cut.
            "flow a {\n  code { x('}\n}\n\nflow b{'); }\n}\n",
            // An error after the cut, and two bots.
            "flow a {\n  end\n}\n\nflow b {\n  nonsense\n}\n",
            "bot {\n  name \"a\"\n}\n\nbot {\n  name \"b\"\n}\n",
            // An escape that is no character, on each side.
            "flow a {\n  answer \"\\u{d800}\"\n}\n\nflow b {\n  answer \"\\u{110000}\"\n}\n",
        ];
        for text in cases {
            same_in_parts(text);
        }
    }
}
