//! The DSL front end: a `*.flow` file (docs/LANGUAGE.md) to a [`Module`].
//!
//! The grammar is `grammar/flow.pest`. Each grammar rule that carries meaning
//! has one function here that consumes its children in order; pest's `Pair`,
//! `Rule` and spans never leave this file. A syntax error stops the parse of
//! the file (pest cannot resume), but problems in a well-formed file (a
//! repeated field, an unknown `pick`) are collected and parsing goes on.

use pest::Parser as _;
use pest::iterators::Pair;

use crate::ast::{
    Answer, Body, Button, Card, Cell, CellKind, End, Entity, EntityKind, EntityValue, Flow,
    Handoff, Input, Intent, IntentSwitch, Jump, Media, MediaKind, Method, Module, Name, Pick,
    QuickReply, Rule as RuleCell, RuleArm, Script, Service, Settings, Spanned, Target, Trigger,
};
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
        Rule::string_list => "a list of strings `[...]`",
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
        | Rule::handoff
        | Rule::end => "a cell",
        Rule::next => "`->`",
        Rule::trigger => "`on`",
        Rule::on_welcome | Rule::on_fallback | Rule::on_intent | Rule::on_entity => {
            "`welcome`, `fallback`, `intent NAME` or `entity NAME`"
        }
        Rule::bot_field
        | Rule::bot_name
        | Rule::bot_locale
        | Rule::bot_threshold
        | Rule::bot_out_of_scope
        | Rule::bot_context
        | Rule::bot_hidden
        | Rule::bot_readonly => "a bot setting",
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
        | Rule::evaluable => "an answer field",
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
        | Rule::mask => "an input field",
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

    // ---- tokens ------------------------------------------------------------

    fn ident(&self, pair: Pair<'_, Rule>) -> Name {
        Spanned::new(pair.as_str().to_owned(), self.span(&pair))
    }

    fn target(&self, pair: Pair<'_, Rule>) -> Target {
        let span = self.span(&pair);
        let mut parts = pair.into_inner();
        let first = self.ident(parts.next().expect("a target starts with a name"));
        match parts.next() {
            Some(cell) => Target {
                flow: Some(first),
                name: self.ident(cell),
                span,
            },
            None => Target {
                flow: None,
                name: first,
                span,
            },
        }
    }

    fn string(&self, pair: Pair<'_, Rule>) -> Spanned<String> {
        let span = self.span(&pair);
        let inner = Self::only(pair);
        let raw = inner.as_str();
        let value = match inner.as_rule() {
            Rule::raw_string => raw[1..raw.len() - 1].to_owned(),
            _ => unescape(&raw[1..raw.len() - 1]),
        };
        Spanned::new(value, span)
    }

    fn string_list(&self, pair: Pair<'_, Rule>) -> Vec<Spanned<String>> {
        pair.into_inner().map(|p| self.string(p)).collect()
    }

    fn number(&mut self, pair: Pair<'_, Rule>, field: &str) -> Option<Spanned<f64>> {
        let span = self.span(&pair);
        match pair.as_str().parse::<f64>() {
            Ok(n) if n.is_finite() => Some(Spanned::new(n, span)),
            _ => {
                self.report(
                    Problem::InvalidValue {
                        field: field.to_owned(),
                        expected: "a finite number",
                    },
                    span,
                );
                None
            }
        }
    }

    fn integer(
        &mut self,
        pair: Pair<'_, Rule>,
        field: &str,
        max: u64,
        expected: &'static str,
    ) -> Option<Spanned<u64>> {
        let span = self.span(&pair);
        match pair.as_str().parse::<u64>() {
            Ok(n) if n <= max => Some(Spanned::new(n, span)),
            _ => {
                self.report(
                    Problem::InvalidValue {
                        field: field.to_owned(),
                        expected,
                    },
                    span,
                );
                None
            }
        }
    }

    fn block(&self, pair: Pair<'_, Rule>) -> Script {
        let body = Self::only(pair);
        let span = self.span(&body);
        Script {
            source: Spanned::new(crate::ast::normalize_script(body.as_str()), span),
        }
    }

    fn one_of<T: Copy>(
        &mut self,
        pair: &Pair<'_, Rule>,
        field: &str,
        options: &[(&str, T)],
        expected: &'static str,
    ) -> Option<Spanned<T>> {
        let span = self.span(pair);
        match options
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(pair.as_str()))
        {
            Some((_, v)) => Some(Spanned::new(*v, span)),
            None => {
                self.report(
                    Problem::InvalidValue {
                        field: field.to_owned(),
                        expected,
                    },
                    span,
                );
                None
            }
        }
    }

    /// A JSON scalar token as a value.
    fn json_scalar(token: &Pair<'_, Rule>) -> serde_json::Value {
        let text = token.as_str();
        match token.as_rule() {
            Rule::json_string => serde_json::Value::String(unescape(&text[1..text.len() - 1])),
            Rule::json_number => text.parse::<i64>().map_or_else(
                |_| {
                    text.parse::<f64>()
                        .ok()
                        .and_then(serde_json::Number::from_f64)
                        .map_or(serde_json::Value::Null, serde_json::Value::Number)
                },
                serde_json::Value::from,
            ),
            Rule::json_true => serde_json::Value::Bool(true),
            Rule::json_false => serde_json::Value::Bool(false),
            _ => serde_json::Value::Null,
        }
    }

    /// Builds a JSON value from the grammar's flat run of tokens, with an
    /// explicit stack of open containers. The grammar has balanced the
    /// brackets; this checks that each token stands where JSON allows it
    /// (a trailing comma is accepted) and that nesting stays within
    /// [`MAX_NESTING`]. A misplaced token is reported and the value is `null`.
    fn json(&mut self, pair: Pair<'_, Rule>) -> serde_json::Value {
        /// What may come next inside the innermost open container.
        #[derive(Clone, Copy, PartialEq)]
        enum Next {
            /// A value, or the closing bracket (after `[` or a comma).
            ValueOrClose,
            /// A key, or the closing brace (after `{` or a comma).
            KeyOrClose,
            /// The `:` after a key.
            Colon,
            /// The value after a key's `:`.
            Value,
            /// A comma or the closing bracket (after a value).
            CommaOrClose,
        }
        enum Container {
            Array(Vec<serde_json::Value>),
            Object(serde_json::Map<String, serde_json::Value>, String),
        }
        let mut tokens = pair.into_inner();
        let first = tokens.next().expect("a JSON value has at least one token");
        if first.as_rule() != Rule::json_open {
            return Self::json_scalar(&first);
        }
        let container = |open: &Pair<'_, Rule>| match open.as_str() {
            "{" => (
                Container::Object(serde_json::Map::new(), String::new()),
                Next::KeyOrClose,
            ),
            _ => (Container::Array(Vec::new()), Next::ValueOrClose),
        };
        let mut stack = vec![container(&first)];
        let misplaced = |this: &mut Self, token: &Pair<'_, Rule>, expected: &str| {
            let span = this.span(token);
            this.report(
                Problem::DslSyntax {
                    expected: expected.to_owned(),
                },
                span,
            );
            serde_json::Value::Null
        };
        for token in tokens {
            let Some((top, next)) = stack.last_mut() else {
                break;
            };
            let expected = match (&*top, *next) {
                (_, Next::Colon) => "`:`",
                (_, Next::Value) => "a JSON value",
                (Container::Array(_), Next::ValueOrClose) => "a JSON value or `]`",
                (Container::Object(..), Next::KeyOrClose) => "a key string or `}`",
                (Container::Array(_), _) => "`,` or `]`",
                (Container::Object(..), _) => "`,` or `}`",
            };
            // A finished value goes into its container.
            let value = match token.as_rule() {
                Rule::json_comma if *next == Next::CommaOrClose => {
                    *next = match top {
                        Container::Array(_) => Next::ValueOrClose,
                        Container::Object(..) => Next::KeyOrClose,
                    };
                    continue;
                }
                Rule::json_colon if *next == Next::Colon => {
                    *next = Next::Value;
                    continue;
                }
                Rule::json_string if *next == Next::KeyOrClose => {
                    let text = token.as_str();
                    if let Container::Object(_, key) = top {
                        *key = unescape(&text[1..text.len() - 1]);
                    }
                    *next = Next::Colon;
                    continue;
                }
                Rule::json_open if matches!(*next, Next::Value | Next::ValueOrClose) => {
                    if stack.len() >= MAX_NESTING {
                        return misplaced(
                            self,
                            &token,
                            &format!("at most {MAX_NESTING} nested JSON brackets"),
                        );
                    }
                    stack.push(container(&token));
                    continue;
                }
                Rule::json_close
                    if matches!(
                        (&*top, *next, token.as_str()),
                        (
                            Container::Array(_),
                            Next::ValueOrClose | Next::CommaOrClose,
                            "]"
                        ) | (
                            Container::Object(..),
                            Next::KeyOrClose | Next::CommaOrClose,
                            "}"
                        )
                    ) =>
                {
                    match stack.pop().expect("a container is open").0 {
                        Container::Array(items) => serde_json::Value::Array(items),
                        Container::Object(map, _) => serde_json::Value::Object(map),
                    }
                }
                Rule::json_string
                | Rule::json_number
                | Rule::json_true
                | Rule::json_false
                | Rule::json_null
                    if matches!(*next, Next::Value | Next::ValueOrClose) =>
                {
                    Self::json_scalar(&token)
                }
                _ => return misplaced(self, &token, expected),
            };
            match stack.last_mut() {
                Some((Container::Array(items), next)) => {
                    items.push(value);
                    *next = Next::CommaOrClose;
                }
                Some((Container::Object(map, key), next)) => {
                    map.insert(std::mem::take(key), value);
                    *next = Next::CommaOrClose;
                }
                None => return value,
            }
        }
        serde_json::Value::Null
    }

    // ---- top level ---------------------------------------------------------

    fn bot(&mut self, pair: Pair<'_, Rule>) -> Settings {
        let mut settings = Settings {
            span: self.span(&pair),
            ..Settings::default()
        };
        for field in pair.into_inner() {
            let span = self.span(&field);
            let which = field.as_rule();
            let value = Self::only(field);
            match which {
                Rule::bot_name => {
                    let s = self.string(value);
                    self.once(&mut settings.name, s, "name", span);
                }
                Rule::bot_locale => {
                    let s = self.string(value);
                    self.once(&mut settings.locale, s, "locale", span);
                }
                Rule::bot_threshold => {
                    if let Some(n) = self.number(value, "threshold") {
                        if (0.0..=1.0).contains(&n.value) {
                            self.once(&mut settings.threshold, n, "threshold", span);
                        } else {
                            self.report(
                                Problem::InvalidValue {
                                    field: "threshold".into(),
                                    expected: "a number from 0 to 1",
                                },
                                n.span,
                            );
                        }
                    }
                }
                Rule::bot_out_of_scope => settings.out_of_scope.extend(self.string_list(value)),
                Rule::bot_hidden => settings
                    .hidden
                    .extend(value.into_inner().map(|p| self.ident(p))),
                Rule::bot_readonly => settings
                    .readonly
                    .extend(value.into_inner().map(|p| self.ident(p))),
                _ => settings
                    .context
                    .extend(value.into_inner().map(|p| self.ident(p))),
            }
        }
        settings
    }

    fn intent_def(&mut self, pair: Pair<'_, Rule>) -> Intent {
        let mut parts = pair.into_inner();
        let name = self.ident(parts.next().expect("an intent has a name"));
        let mut intent = Intent {
            comments: Vec::new(),
            name,
            examples: Vec::new(),
            patterns: Vec::new(),
            global: false,
        };
        for field in parts {
            match field.as_rule() {
                Rule::examples => intent.examples.extend(self.string_list(Self::only(field))),
                Rule::patterns => intent.patterns.extend(self.string_list(Self::only(field))),
                _ => intent.global = true,
            }
        }
        intent
    }

    fn entity_def(&mut self, pair: Pair<'_, Rule>) -> Entity {
        let mut parts = pair.into_inner();
        let name = self.ident(parts.next().expect("an entity has a name"));
        let body = parts.next().expect("an entity has values or a pattern");
        let kind = match body.as_rule() {
            Rule::entity_pattern => EntityKind::Pattern(self.string(Self::only(body))),
            _ => EntityKind::List(
                body.into_inner()
                    .map(|value| {
                        let mut parts = value.into_inner();
                        let name = self.string(parts.next().expect("a value has a name"));
                        let synonyms = parts
                            .next()
                            .map(|l| self.string_list(l))
                            .unwrap_or_default();
                        EntityValue { name, synonyms }
                    })
                    .collect(),
            ),
        };
        Entity {
            comments: Vec::new(),
            name,
            kind,
        }
    }

    fn flow(&mut self, pair: Pair<'_, Rule>) -> Flow {
        let span = self.span(&pair);
        let mut parts = pair.into_inner().peekable();
        let name = self.ident(parts.next().expect("a flow has a name"));
        let trigger = parts
            .next_if(|p| p.as_rule() == Rule::trigger)
            .map(|p| self.trigger(p));
        let cells = parts
            .map(|p| self.cell(p))
            .collect::<Vec<_>>()
            .into_iter()
            .flatten()
            .collect();
        Flow {
            comments: Vec::new(),
            name,
            trigger,
            cells,
            span,
        }
    }

    fn trigger(&self, pair: Pair<'_, Rule>) -> Spanned<Trigger> {
        let span = self.span(&pair);
        let inner = Self::only(pair);
        let trigger = match inner.as_rule() {
            Rule::on_welcome => Trigger::Welcome,
            Rule::on_fallback => Trigger::Fallback,
            Rule::on_intent => Trigger::Intent(self.ident(Self::only(inner))),
            _ => Trigger::Entity(self.ident(Self::only(inner))),
        };
        Spanned::new(trigger, span)
    }

    // ---- cells -------------------------------------------------------------

    fn cell(&mut self, pair: Pair<'_, Rule>) -> Option<Cell> {
        let span = self.span(&pair);
        let mut id = None;
        let mut next = None;
        let mut kind = None;
        for part in pair.into_inner() {
            match part.as_rule() {
                Rule::label => id = Some(self.ident(Self::only(part))),
                Rule::next => next = Some(self.target(Self::only(part))),
                Rule::answer => kind = self.answer(part).map(|a| CellKind::Answer(Box::new(a))),
                Rule::input => kind = Some(CellKind::Input(Box::new(self.input(part)))),
                Rule::rule => kind = Some(CellKind::Rule(self.rule(part))),
                Rule::code => kind = Some(CellKind::Code(self.block(Self::only(part)))),
                Rule::jump => kind = Some(CellKind::Jump(self.jump(part))),
                Rule::intent_cell => kind = Some(CellKind::Intent(self.intent_cell(part))),
                Rule::service => kind = self.service(part).map(|s| CellKind::Service(Box::new(s))),
                Rule::handoff => kind = self.handoff(part).map(CellKind::Handoff),
                _ => kind = Some(CellKind::End(self.end(part))),
            }
        }
        Some(Cell {
            comments: Vec::new(),
            id,
            next,
            kind: kind?,
            span,
        })
    }

    fn answer(&mut self, pair: Pair<'_, Rule>) -> Option<Answer> {
        let span = self.span(&pair);
        let inner = Self::only(pair);
        if inner.as_rule() == Rule::string {
            return Some(Answer {
                text: vec![self.string(inner)],
                ..Answer::default()
            });
        }
        let mut answer = Answer::default();
        let mut media = None;
        let mut custom = None;
        for field in inner.into_inner() {
            let field_span = self.span(&field);
            match field.as_rule() {
                Rule::text_field => answer.text.push(self.string(Self::only(field))),
                Rule::pick => {
                    let word = Self::only(field);
                    if let Some(p) =
                        self.one_of(&word, "pick", &Pick::ALL, "`random`, `sequence` or `first`")
                    {
                        self.once(&mut answer.pick, p, "pick", field_span);
                    }
                }
                Rule::button => answer.buttons.push(self.button(field)),
                Rule::quick_reply => {
                    let mut parts = field.into_inner();
                    let label = self.string(parts.next().expect("a quick reply has a label"));
                    let value = parts.next().map(|v| self.string(Self::only(v)));
                    answer.quick_replies.push(QuickReply { label, value });
                }
                Rule::card => answer.cards.push(self.card(field)),
                Rule::media => {
                    if let Some(m) = self.media(field) {
                        self.once(&mut media, m, "media", field_span);
                    }
                }
                Rule::custom => {
                    let value = Spanned::new(self.json(Self::only(field)), field_span);
                    self.once(&mut custom, value, "custom", field_span);
                }
                _ => answer.evaluable = true,
            }
        }
        answer.media = media;
        answer.custom = custom;
        if answer.text.is_empty()
            && answer.buttons.is_empty()
            && answer.quick_replies.is_empty()
            && answer.cards.is_empty()
            && answer.media.is_none()
            && answer.custom.is_none()
        {
            self.report(
                Problem::MissingField {
                    field: "text",
                    context: "an answer",
                },
                span,
            );
            return None;
        }
        Some(answer)
    }

    fn button(&mut self, pair: Pair<'_, Rule>) -> Button {
        let mut parts = pair.into_inner();
        let label = self.string(parts.next().expect("a button has a label"));
        let mut button = Button {
            label,
            value: None,
            url: None,
        };
        for opt in parts {
            let span = self.span(&opt);
            let is_url = opt.as_rule() == Rule::url_opt;
            let value = self.string(Self::only(opt));
            if is_url {
                self.once(&mut button.url, value, "url", span);
            } else {
                self.once(&mut button.value, value, "value", span);
            }
        }
        button
    }

    fn card(&mut self, pair: Pair<'_, Rule>) -> Card {
        let mut parts = pair.into_inner();
        let title = self.string(parts.next().expect("a card has a title"));
        let mut card = Card {
            title,
            subtitle: None,
            image: None,
            buttons: Vec::new(),
        };
        for field in parts {
            let span = self.span(&field);
            match field.as_rule() {
                Rule::subtitle => {
                    let s = self.string(Self::only(field));
                    self.once(&mut card.subtitle, s, "subtitle", span);
                }
                Rule::image => {
                    let s = self.string(Self::only(field));
                    self.once(&mut card.image, s, "image", span);
                }
                _ => card.buttons.push(self.button(field)),
            }
        }
        card
    }

    fn media(&mut self, pair: Pair<'_, Rule>) -> Option<Media> {
        let mut parts = pair.into_inner();
        let kind_word = parts.next().expect("media has a kind");
        let kind = self.one_of(
            &kind_word,
            "media",
            &MediaKind::ALL,
            "`image`, `audio`, `video` or `file`",
        );
        let url = self.string(parts.next().expect("media has a URL"));
        let name = parts.next().map(|n| self.string(Self::only(n)));
        Some(Media {
            kind: kind?,
            url,
            name,
        })
    }

    fn input(&mut self, pair: Pair<'_, Rule>) -> Input {
        let mut parts = pair.into_inner().peekable();
        let var = self.ident(parts.next().expect("an input has a variable"));
        let ty = parts
            .next_if(|p| p.as_rule() == Rule::input_type)
            .map(|p| self.ident(Self::only(p)));
        let mut input = Input {
            var,
            ty,
            prompt: None,
            options: Vec::new(),
            entity: None,
            pattern: None,
            min: None,
            max: None,
            invalid: None,
            retries: None,
            on_fail: None,
            mask: false,
        };
        let Some(block) = parts.next() else {
            return input;
        };
        let mut options_seen = false;
        for field in block.into_inner() {
            let span = self.span(&field);
            match field.as_rule() {
                Rule::prompt => {
                    let s = self.string(Self::only(field));
                    self.once(&mut input.prompt, s, "prompt", span);
                }
                Rule::options => {
                    if options_seen {
                        self.report(
                            Problem::DuplicateField {
                                field: "options".into(),
                            },
                            span,
                        );
                    }
                    options_seen = true;
                    input.options = self.string_list(Self::only(field));
                }
                Rule::input_entity => {
                    let n = self.ident(Self::only(field));
                    self.once(&mut input.entity, n, "entity", span);
                }
                Rule::input_pattern => {
                    let s = self.string(Self::only(field));
                    self.once(&mut input.pattern, s, "pattern", span);
                }
                Rule::min => {
                    if let Some(n) = self.number(Self::only(field), "min") {
                        self.once(&mut input.min, n, "min", span);
                    }
                }
                Rule::max => {
                    if let Some(n) = self.number(Self::only(field), "max") {
                        self.once(&mut input.max, n, "max", span);
                    }
                }
                Rule::invalid => {
                    let s = self.string(Self::only(field));
                    self.once(&mut input.invalid, s, "invalid", span);
                }
                Rule::retries => {
                    if let Some(n) = self.integer(
                        Self::only(field),
                        "retries",
                        100,
                        "a whole number from 0 to 100",
                    ) {
                        let n = Spanned::new(u32::try_from(n.value).unwrap_or(100), n.span);
                        self.once(&mut input.retries, n, "retries", span);
                    }
                }
                Rule::on_fail => {
                    let t = self.target(Self::only(field));
                    self.once(&mut input.on_fail, t, "on_fail", span);
                }
                _ => input.mask = true,
            }
        }
        input
    }

    fn rule(&mut self, pair: Pair<'_, Rule>) -> RuleCell {
        let mut rule = RuleCell {
            arms: Vec::new(),
            otherwise: None,
        };
        for arm in pair.into_inner() {
            if arm.as_rule() == Rule::rule_else {
                rule.otherwise = Some(self.target(Self::only(arm)));
            } else {
                let mut parts = arm.into_inner();
                let when = self.block(parts.next().expect("an arm has a condition"));
                let goto = self.target(parts.next().expect("an arm has a target"));
                rule.arms.push(RuleArm { when, goto });
            }
        }
        rule
    }

    fn jump(&self, pair: Pair<'_, Rule>) -> Jump {
        let mut parts = pair.into_inner();
        let to = self.target(parts.next().expect("a jump has a target"));
        Jump {
            to,
            returns: parts.next().is_some(),
        }
    }

    fn intent_cell(&mut self, pair: Pair<'_, Rule>) -> IntentSwitch {
        let mut switch = IntentSwitch {
            routes: Vec::new(),
            otherwise: None,
        };
        for route in pair.into_inner() {
            if route.as_rule() == Rule::intent_else {
                switch.otherwise = Some(self.target(Self::only(route)));
                continue;
            }
            let mut parts = route.into_inner();
            let intent = self.ident(parts.next().expect("a route names an intent"));
            let target = self.target(parts.next().expect("a route has a target"));
            if let Some((first, _)) = switch.routes.iter().find(|(n, _)| n.value == intent.value) {
                let first = first.span;
                self.diagnostics.push(
                    Diagnostic::new(
                        Problem::DuplicateField {
                            field: intent.value.clone(),
                        },
                        intent.span,
                    )
                    .with_related(first, "first routed here"),
                );
                continue;
            }
            switch.routes.push((intent, target));
        }
        switch
    }

    fn service(&mut self, pair: Pair<'_, Rule>) -> Option<Service> {
        let span = self.span(&pair);
        let mut method = None;
        let mut url = None;
        let mut headers = Vec::new();
        let mut body = None;
        let mut timeout_ms = None;
        let mut save = None;
        let mut status = None;
        let mut on_error = None;
        for field in pair.into_inner() {
            let field_span = self.span(&field);
            match field.as_rule() {
                Rule::method => {
                    let word = Self::only(field);
                    if let Some(m) = self.one_of(
                        &word,
                        "method",
                        &Method::ALL,
                        "GET, POST, PUT, PATCH or DELETE",
                    ) {
                        self.once(&mut method, m, "method", field_span);
                    }
                }
                Rule::url => {
                    let s = self.string(Self::only(field));
                    self.once(&mut url, s, "url", field_span);
                }
                Rule::header => {
                    let mut parts = field.into_inner();
                    let name = self.string(parts.next().expect("a header has a name"));
                    let value = self.string(parts.next().expect("a header has a value"));
                    headers.push((name, value));
                }
                Rule::body => {
                    let inner = Self::only(field);
                    let value = if inner.as_rule() == Rule::string {
                        Body::Template(self.string(inner))
                    } else {
                        let s = self.span(&inner);
                        Body::Json(Spanned::new(self.json(inner), s))
                    };
                    self.once(&mut body, value, "body", field_span);
                }
                Rule::timeout => {
                    if let Some(n) = self.integer(
                        Self::only(field),
                        "timeout",
                        3_600_000,
                        "a number of milliseconds up to one hour",
                    ) {
                        self.once(&mut timeout_ms, n, "timeout", field_span);
                    }
                }
                Rule::save => {
                    let n = self.ident(Self::only(field));
                    self.once(&mut save, n, "save", field_span);
                }
                Rule::status => {
                    let n = self.ident(Self::only(field));
                    self.once(&mut status, n, "status", field_span);
                }
                _ => {
                    let t = self.target(Self::only(field));
                    self.once(&mut on_error, t, "on_error", field_span);
                }
            }
        }
        let Some(url) = url else {
            self.report(
                Problem::MissingField {
                    field: "url",
                    context: "a service",
                },
                span,
            );
            return None;
        };
        Some(Service {
            method,
            url,
            headers,
            body,
            timeout_ms,
            save,
            status,
            on_error,
        })
    }

    fn handoff(&mut self, pair: Pair<'_, Rule>) -> Option<Handoff> {
        let span = self.span(&pair);
        let (mut queue, mut reason, mut message) = (None, None, None);
        for field in pair.into_inner() {
            let field_span = self.span(&field);
            let which = field.as_rule();
            let value = self.string(Self::only(field));
            let (slot, name) = match which {
                Rule::queue => (&mut queue, "queue"),
                Rule::reason => (&mut reason, "reason"),
                _ => (&mut message, "message"),
            };
            set_once(slot, value, name, field_span, &mut self.diagnostics);
        }
        let Some(queue) = queue else {
            self.report(
                Problem::MissingField {
                    field: "queue",
                    context: "a handoff",
                },
                span,
            );
            return None;
        };
        Some(Handoff {
            queue,
            reason,
            message,
        })
    }

    fn end(&self, pair: Pair<'_, Rule>) -> End {
        End {
            message: pair.into_inner().next().map(|s| self.string(s)),
        }
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
