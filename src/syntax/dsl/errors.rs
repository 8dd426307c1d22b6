//! Syntax errors in the author's words.
//!
//! pest stops at the first place its grammar cannot go on and lists the
//! rules it tried there. This turns that into what a person fixing the file
//! needs: what was expected, named as docs/LANGUAGE.md names it ("an input
//! field (prompt, options, …) or `}`"), what was found, the keyword or field
//! they probably meant, and, when a `{`, `[`, string or code block was left
//! open, the place it opened — with the place the parser gave up as a second
//! label. It runs only when a parse fails, so a correct file pays nothing.
//!
//! To know where the error sits, the file is read again by a small lexer
//! that follows the DSL's tokens and brackets and remembers what each open
//! bracket belongs to (a flow, an input, a list); code blocks are measured
//! with the grammar's own `block` rule, so rhai's strings and comments are
//! skipped exactly as the parser skips them.

use pest::Parser as _;

use crate::ast::CELL_KINDS;
use crate::diagnostic::{Diagnostic, EscapeProblem, Problem, SyntaxError, Unclosed, suggest};
use crate::source::{FileId, Span};

use super::{Grammar, Rule};

use super::keys::{
    ANSWER as ANSWER_FIELDS, BOT as BOT_FIELDS, CARD as CARD_FIELDS, HANDOFF as HANDOFF_FIELDS,
    INACTIVITY as INACTIVITY_FIELDS, INPUT as INPUT_FIELDS, INTENT as INTENT_FIELDS,
    SERVICE as SERVICE_FIELDS, TOP as TOP_ITEMS, TRIGGERS,
};

/// What a bracket opens, as far as the lexer can tell from the words
/// before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Construct {
    Flow,
    Bot,
    Messages,
    Inactivity,
    Intent,
    Entity,
    Answer,
    Input,
    Rule,
    IntentCell,
    Service,
    Handoff,
    Card,
    Json,
    List,
    Other,
}

impl Construct {
    /// Whether it holds fields (not cells, not a list, not JSON).
    fn has_fields(self) -> bool {
        matches!(
            self,
            Construct::Answer
                | Construct::Input
                | Construct::Rule
                | Construct::IntentCell
                | Construct::Service
                | Construct::Handoff
                | Construct::Card
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tok {
    Word,
    Str,
    Number,
    Tag,
    Open,
    Close,
    Punct,
    /// A `code { … }` or `when { … }` block, whole.
    Code,
    Other,
}

#[derive(Clone, Copy, Debug)]
struct Token {
    tok: Tok,
    start: usize,
    end: usize,
    /// For strings and code blocks: whether they end before the file does.
    closed: bool,
}

/// A bracket that is open at some point of the file.
#[derive(Clone, Debug)]
struct Opened {
    construct: Construct,
    at: usize,
    /// Its index among the tokens.
    token: usize,
    /// The indentation of its line.
    indent: usize,
    /// The name it opens for (`flow NAME`, `input VAR`), as a byte range.
    name: Option<(usize, usize)>,
}

struct Lexer<'t> {
    text: &'t str,
    at: usize,
    /// Where the line of `at` starts (kept as the lexer goes, so that no
    /// question about lines scans back through a long one).
    line: usize,
    tokens: Vec<Token>,
    open: Vec<Opened>,
    /// The first bracket that was closed by a `}` indented like an outer
    /// one: most likely the one whose own `}` is missing.
    misclosed: Option<Opened>,
}

fn is_word_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

impl<'t> Lexer<'t> {
    fn new(text: &'t str) -> Lexer<'t> {
        let at = if text.starts_with('\u{feff}') { 3 } else { 0 };
        Lexer {
            text,
            at,
            line: at,
            tokens: Vec::new(),
            open: Vec::new(),
            misclosed: None,
        }
    }

    fn word(&self, index: usize) -> Option<&'t str> {
        let token = self.tokens.get(index)?;
        (token.tok == Tok::Word).then(|| &self.text[token.start..token.end])
    }

    fn skip_space(&mut self) {
        let bytes = self.text.as_bytes();
        while let Some(&b) = bytes.get(self.at) {
            match b {
                b' ' | b'\t' => self.at += 1,
                b'\n' | b'\r' => {
                    self.at += 1;
                    self.line = self.at;
                }
                b'#' => {
                    while let Some(&b) = bytes.get(self.at) {
                        if b == b'\n' || b == b'\r' {
                            break;
                        }
                        self.at += 1;
                    }
                }
                _ => break,
            }
        }
    }

    /// The next token, without taking it (brackets are not pushed or
    /// popped until [`Lexer::take`]).
    fn lex(&mut self) -> Option<Token> {
        self.skip_space();
        let start = self.at;
        let rest = &self.text[start..];
        let c = rest.chars().next()?;
        let bytes = rest.as_bytes();
        let token = |tok, len: usize| Token {
            tok,
            start,
            end: start + len,
            closed: true,
        };
        Some(match c {
            '"' | '\'' => {
                let mut i = 1;
                let mut closed = false;
                while i < bytes.len() {
                    if bytes[i] == c as u8 {
                        closed = true;
                        i += 1;
                        break;
                    }
                    // Escapes only in double quotes; a backslash never
                    // starts a multi-byte character, so stepping a byte
                    // and then to the next boundary is safe.
                    i += if c == '"' && bytes[i] == b'\\' { 2 } else { 1 };
                    while i < bytes.len() && !rest.is_char_boundary(i) {
                        i += 1;
                    }
                }
                Token {
                    tok: Tok::Str,
                    start,
                    end: start + i.min(bytes.len()),
                    closed,
                }
            }
            '{' if self.opens_code() => match Grammar::parse(Rule::block, rest) {
                Ok(mut pairs) => token(Tok::Code, pairs.next().map_or(1, |p| p.as_str().len())),
                Err(_) => Token {
                    tok: Tok::Code,
                    start,
                    end: self.text.len(),
                    closed: false,
                },
            },
            '{' | '[' => token(Tok::Open, 1),
            '}' | ']' => token(Tok::Close, 1),
            '-' if rest.starts_with("->") => token(Tok::Punct, 2),
            '-' | '0'..='9'
                if rest
                    .trim_start_matches('-')
                    .starts_with(|c: char| c.is_ascii_digit()) =>
            {
                let len = 1 + rest[1..]
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.'))
                    .unwrap_or(rest.len() - 1);
                token(Tok::Number, len)
            }
            '@' => {
                let len = 1 + rest[1..]
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
                    .unwrap_or(rest.len() - 1);
                token(Tok::Tag, len)
            }
            c if is_word_start(c) => {
                let mut len = 1;
                while let Some(&b) = bytes.get(len) {
                    let continues = b.is_ascii_alphanumeric()
                        || b == b'_'
                        || (b == b'-' && bytes.get(len + 1) != Some(&b'>'));
                    if !continues {
                        break;
                    }
                    len += 1;
                }
                token(Tok::Word, len)
            }
            ':' | ',' | '.' => token(Tok::Punct, 1),
            c => token(Tok::Other, c.len_utf8()),
        })
    }

    /// Whether a `{` here opens a code block: after `code` in a flow (not
    /// an input's variable named `code`) or after `when` in a rule.
    fn opens_code(&self) -> bool {
        let n = self.tokens.len();
        let Some(before) = n.checked_sub(1).and_then(|i| self.word(i)) else {
            return false;
        };
        let within = self.open.last().map(|o| o.construct);
        let is_var = |i: Option<usize>| i.and_then(|i| self.word(i)) == Some("input");
        match before {
            "code" => {
                within == Some(Construct::Flow)
                    && !is_var(n.checked_sub(2))
                    && !is_var(n.checked_sub(3))
            }
            "when" => within == Some(Construct::Rule),
            _ => false,
        }
    }

    /// Takes a token: pushes or pops the bracket it is.
    /// Whether the token at `index` is the first on its line.
    fn starts_line(&self, index: usize) -> bool {
        let Some(token) = self.tokens.get(index) else {
            return false;
        };
        let before = index.checked_sub(1).map_or(0, |i| self.tokens[i].end);
        self.text[before..token.start].contains(['\n', '\r']) || index == 0
    }

    fn take(&mut self, token: Token) {
        let first_on_line = self.tokens.last().is_none_or(|t| t.end <= self.line);
        self.at = token.end;
        if let Some(newline) = self.text[token.start..token.end].rfind(['\n', '\r']) {
            self.line = token.start + newline + 1;
        }
        let index = self.tokens.len();
        if token.tok == Tok::Open {
            let (construct, name) = if &self.text[token.start..token.end] == "[" {
                (Construct::List, None)
            } else {
                self.brace()
            };
            let indent = self.indentation();
            self.open.push(Opened {
                construct,
                at: token.start,
                token: index,
                indent,
                name,
            });
        } else if token.tok == Tok::Close {
            self.close(token, first_on_line);
        }
        self.tokens.push(token);
    }

    /// The indentation of the current line, in characters.
    fn indentation(&self) -> usize {
        self.text[self.line..]
            .chars()
            .take_while(|c| *c == ' ' || *c == '\t' || *c == '\u{feff}')
            .count()
    }

    fn close(&mut self, token: Token, first_on_line: bool) {
        let text = self.text;
        if &text[token.start..token.end] == "]" {
            if self
                .open
                .last()
                .is_some_and(|o| o.construct == Construct::List)
            {
                self.open.pop();
            }
            return;
        }
        // A `}` also closes a list left open inside its braces.
        while let Some(list) = self.open.pop_if(|o| o.construct == Construct::List) {
            self.misclosed.get_or_insert(list);
        }
        let Some(opened) = self.open.pop() else {
            return;
        };
        if first_on_line {
            let column = self.indentation();
            if opened.indent > column && self.open.iter().any(|o| o.indent == column) {
                self.misclosed.get_or_insert(opened);
            }
        }
    }

    /// What a `{` opens, from the words before it in the same brackets.
    fn brace(&self) -> (Construct, Option<(usize, usize)>) {
        let within = self.open.last().map_or(0, |o| o.token + 1);
        let next_name = |i: usize| {
            self.tokens
                .get(i + 1)
                .filter(|t| t.tok == Tok::Word)
                .map(|t| (t.start, t.end))
        };
        let mut words = (within..self.tokens.len())
            .rev()
            .filter_map(|i| Some((i, self.word(i)?)));
        match self.open.last().map(|o| o.construct) {
            Some(Construct::Json | Construct::List) => (Construct::Json, None),
            None => {
                for (i, word) in words {
                    if !self.starts_line(i) {
                        continue;
                    }
                    let construct = match word {
                        "flow" => Construct::Flow,
                        "intent" => Construct::Intent,
                        "entity" => Construct::Entity,
                        "bot" => Construct::Bot,
                        _ => continue,
                    };
                    return (construct, next_name(i));
                }
                (Construct::Other, None)
            }
            Some(Construct::Flow) => {
                for (i, word) in words {
                    // `input intent { … }` asks for a variable named `intent`.
                    if i > 0 && self.word(i - 1) == Some("input") {
                        continue;
                    }
                    let construct = match word {
                        "answer" => Construct::Answer,
                        "input" => Construct::Input,
                        "rule" => Construct::Rule,
                        "intent" => Construct::IntentCell,
                        "service" => Construct::Service,
                        "handoff" => Construct::Handoff,
                        "track" => Construct::Json,
                        _ => continue,
                    };
                    return (construct, next_name(i).filter(|_| word == "input"));
                }
                (Construct::Other, None)
            }
            Some(outer) => {
                let construct = words
                    .find_map(|(_, word)| match (outer, word) {
                        (Construct::Answer, "card") => Some(Construct::Card),
                        (Construct::Answer, "custom") | (Construct::Service, "body") => {
                            Some(Construct::Json)
                        }
                        (Construct::Bot, "messages") => Some(Construct::Messages),
                        (Construct::Bot, "inactivity") => Some(Construct::Inactivity),
                        _ => None,
                    })
                    .unwrap_or(Construct::Other);
                (construct, None)
            }
        }
    }
}

/// The indentation (in characters) of the line holding `at`.
fn indentation(text: &str, at: usize) -> usize {
    let start = line_start(text, at);
    text[start..]
        .chars()
        .take_while(|c| *c == ' ' || *c == '\t' || *c == '\u{feff}')
        .count()
}

fn line_start(text: &str, at: usize) -> usize {
    text[..at].rfind(['\n', '\r']).map_or(0, |i| i + 1)
}

/// Whether only spaces come before `at` on its line.
fn first_on_line(text: &str, at: usize) -> bool {
    text[line_start(text, at)..at]
        .chars()
        .all(|c| c == ' ' || c == '\t' || c == '\u{feff}')
}

/// The 1-based line of a byte offset.
fn line_of(text: &str, at: usize) -> usize {
    let text = &text[..at];
    // CRLF counts once: count LFs, and CRs that no LF follows.
    text.bytes().filter(|&b| b == b'\n').count()
        + text
            .match_indices('\r')
            .filter(|(i, _)| text.as_bytes().get(i + 1) != Some(&b'\n'))
            .count()
        + 1
}

/// What the grammar wanted at the error, in the words of docs/LANGUAGE.md.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Want {
    TopItem,
    Cell,
    Trigger,
    TriggerKind,
    FlowTimeout,
    Field(Field),
    Goto,
    RuleArm,
    Else,
    IntentRoute,
    Return,
    Next,
    EntityBody,
    EntityValue,
    ButtonOption,
    MediaName,
    LocationField,
    LinkField,
    Message,
    Text,
    Name,
    Target,
    String,
    Number,
    Strings,
    Texts,
    Names,
    LanguageLists,
    LanguageTag,
    Duration,
    Limit,
    Coordinate,
    Block,
    Json,
    JsonClose,
    Comma,
    Colon,
    EventName,
    EventProperties,
    InputType,
    AnswerBody,
    EndOfFile,
}

/// A block whose fields the grammar lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Field {
    Bot,
    Inactivity,
    Intent,
    Answer,
    Card,
    Input,
    Service,
    Handoff,
}

impl Field {
    fn names(self) -> &'static [&'static str] {
        match self {
            Field::Bot => BOT_FIELDS,
            Field::Inactivity => INACTIVITY_FIELDS,
            Field::Intent => INTENT_FIELDS,
            Field::Answer => ANSWER_FIELDS,
            Field::Card => CARD_FIELDS,
            Field::Input => INPUT_FIELDS,
            Field::Service => SERVICE_FIELDS,
            Field::Handoff => HANDOFF_FIELDS,
        }
    }

    /// What the block is called in an `unknown_field` message.
    fn context(self) -> &'static str {
        match self {
            Field::Bot => "the bot settings",
            Field::Inactivity => "the inactivity setting",
            Field::Intent => "an intent",
            Field::Answer => "an answer",
            Field::Card => "a card",
            Field::Input => "an input",
            Field::Service => "a service",
            Field::Handoff => "a handoff",
        }
    }

    fn what(self) -> &'static str {
        match self {
            Field::Bot => "a bot setting",
            Field::Inactivity => "an inactivity field",
            Field::Intent => "an intent field",
            Field::Answer => "an answer field",
            Field::Card => "a card field",
            Field::Input => "an input field",
            Field::Service => "a service field",
            Field::Handoff => "a handoff field",
        }
    }
}

fn want(grammar_rule: Rule) -> Option<Want> {
    Some(match grammar_rule {
        Rule::EOI => Want::EndOfFile,
        // `intent` and `entity` also start triggers (`on intent NAME`):
        // `expected` tells them apart by the company they keep.
        Rule::file
        | Rule::bot
        | Rule::kw_bot
        | Rule::intent_def
        | Rule::entity_def
        | Rule::flow
        | Rule::kw_flow
        | Rule::kw_intent
        | Rule::kw_entity => Want::TopItem,
        Rule::cell
        | Rule::label
        | Rule::cell_body_kw
        | Rule::answer
        | Rule::input
        | Rule::rule
        | Rule::code
        | Rule::jump
        | Rule::intent_cell
        | Rule::service
        | Rule::track
        | Rule::handoff
        | Rule::end => Want::Cell,
        Rule::trigger | Rule::kw_on => Want::Trigger,
        Rule::on_welcome
        | Rule::on_fallback
        | Rule::on_timeout
        | Rule::on_intent
        | Rule::on_entity
        | Rule::kw_welcome
        | Rule::kw_fallback => Want::TriggerKind,
        // `timeout` is also a trigger (`on timeout`), told apart the same way.
        Rule::flow_timeout | Rule::kw_timeout => Want::FlowTimeout,
        Rule::bot_field_kw => Want::Field(Field::Bot),
        Rule::inactivity_field_kw => Want::Field(Field::Inactivity),
        Rule::intent_field_kw => Want::Field(Field::Intent),
        Rule::answer_field_kw => Want::Field(Field::Answer),
        Rule::card_field_kw => Want::Field(Field::Card),
        Rule::input_field_kw => Want::Field(Field::Input),
        Rule::service_field_kw => Want::Field(Field::Service),
        Rule::handoff_field_kw => Want::Field(Field::Handoff),
        Rule::kw_goto => Want::Goto,
        Rule::rule_arm | Rule::kw_when => Want::RuleArm,
        Rule::rule_else | Rule::intent_else | Rule::kw_else => Want::Else,
        Rule::intent_route => Want::IntentRoute,
        Rule::jump_return | Rule::kw_return => Want::Return,
        Rule::next => Want::Next,
        Rule::entity_values | Rule::entity_pattern | Rule::kw_pattern => Want::EntityBody,
        // `kw_value` is also a button's `value`: `expected` decides by the
        // brackets it is in.
        Rule::entity_value | Rule::kw_value => Want::EntityValue,
        Rule::value_opt | Rule::url_opt | Rule::kw_url => Want::ButtonOption,
        Rule::media_name | Rule::kw_name => Want::MediaName,
        Rule::location_name | Rule::location_address | Rule::kw_address => Want::LocationField,
        Rule::link_title
        | Rule::link_description
        | Rule::image
        | Rule::kw_title
        | Rule::kw_description => Want::LinkField,
        Rule::bot_message => Want::Message,
        Rule::phrase | Rule::by_language | Rule::language_text => Want::Text,
        Rule::ident => Want::Name,
        Rule::target => Want::Target,
        Rule::string | Rule::quoted | Rule::raw_string => Want::String,
        Rule::number | Rule::integer => Want::Number,
        Rule::string_list => Want::Strings,
        Rule::phrase_list => Want::Texts,
        Rule::name_list => Want::Names,
        Rule::examples_by_language | Rule::synonyms_by_language => Want::LanguageLists,
        Rule::language_tag => Want::LanguageTag,
        Rule::duration | Rule::duration_word => Want::Duration,
        Rule::limit => Want::Limit,
        Rule::coordinate => Want::Coordinate,
        Rule::block => Want::Block,
        Rule::json | Rule::json_open | Rule::json_string | Rule::json_number => Want::Json,
        Rule::json_close => Want::JsonClose,
        Rule::json_comma => Want::Comma,
        Rule::json_colon => Want::Colon,
        Rule::track_event => Want::EventName,
        Rule::track_properties => Want::EventProperties,
        Rule::input_type => Want::InputType,
        Rule::answer_block | Rule::input_block => Want::AnswerBody,
        _ => return None,
    })
}

impl Want {
    /// What to call it in "expected …".
    fn describe(self) -> String {
        let list = |what: &str, names: &[&str]| format!("{what} ({})", names.join(", "));
        match self {
            Want::TopItem => "`flow`, `intent`, `entity` or `bot`".into(),
            Want::Cell => list("a cell", &CELL_KINDS),
            Want::Trigger => "`on`".into(),
            Want::TriggerKind => list(
                "a trigger",
                &[
                    "welcome",
                    "fallback",
                    "timeout",
                    "intent NAME",
                    "entity NAME",
                ],
            ),
            Want::FlowTimeout => "`timeout`".into(),
            Want::Field(field) => list(field.what(), field.names()),
            Want::Goto => "`goto`".into(),
            Want::RuleArm => "`when { CONDITION } goto TARGET`".into(),
            Want::Else => "`else goto TARGET`".into(),
            Want::IntentRoute => "a route `INTENT goto TARGET`".into(),
            Want::Return => "`return`".into(),
            Want::Next => "`-> TARGET`".into(),
            Want::EntityBody => "`{ value … }` or `pattern '…'`".into(),
            Want::EntityValue => "`value \"…\"`".into(),
            Want::ButtonOption => "`value` or `url`".into(),
            Want::MediaName => "`name`".into(),
            Want::LocationField => "`name` or `address`".into(),
            Want::LinkField => "`title`, `description` or `image`".into(),
            Want::Message => list("a built-in message", &crate::ast::BUILTIN_MESSAGES),
            Want::Text => "a string, or texts by language (`@es \"…\" @pt \"…\"`)".into(),
            Want::Name => "a name".into(),
            Want::Target => "a target (a cell's or a flow's name, or FLOW.CELL)".into(),
            Want::String => "a string (`\"…\"`, or `'…'` taken as written)".into(),
            Want::Number => "a number".into(),
            Want::Strings => "a list of strings `[\"…\", \"…\"]`".into(),
            Want::Texts => "a list of texts `[\"…\", \"…\"]`".into(),
            Want::Names => "a list of names `[a, b]`".into(),
            Want::LanguageLists => "`@language [\"…\"]`".into(),
            Want::LanguageTag => "a language (`@es`)".into(),
            Want::Duration => "a duration (`90s`, `5m`, `1h`)".into(),
            Want::Limit => "a number, or a date (`today`, `\"today+30\"`, `\"2026-12-31\"`)".into(),
            Want::Coordinate => "a coordinate (a number, or a string with a template)".into(),
            Want::Block => "a `{ … }` block".into(),
            Want::Json => "a JSON value".into(),
            Want::JsonClose => "`]` or `}`".into(),
            Want::Comma => "`,`".into(),
            Want::Colon => "`:`".into(),
            Want::EventName => "an event name".into(),
            Want::EventProperties => "the event's properties `{\"name\": value}`".into(),
            Want::InputType => "an input type".into(),
            Want::AnswerBody => "`{`".into(),
            Want::EndOfFile => "the end of the file".into(),
        }
    }

    /// The keywords a misspelt word may have meant.
    fn keywords(self) -> &'static [&'static str] {
        match self {
            Want::TopItem => TOP_ITEMS,
            Want::Cell => &CELL_KINDS,
            Want::Trigger => &["on"],
            Want::TriggerKind => TRIGGERS,
            Want::FlowTimeout => &["timeout"],
            Want::Field(field) => field.names(),
            Want::Goto => &["goto"],
            Want::RuleArm => &["when"],
            Want::Else => &["else"],
            Want::Return => &["return"],
            Want::EntityBody => &["pattern"],
            Want::EntityValue => &["value"],
            Want::ButtonOption => &["value", "url"],
            Want::MediaName => &["name"],
            Want::LocationField => &["name", "address"],
            Want::LinkField => &["title", "description", "image"],
            Want::Message => &crate::ast::BUILTIN_MESSAGES,
            _ => &[],
        }
    }

    /// Whether a block may also end where this is wanted.
    fn may_close(self) -> bool {
        matches!(
            self,
            Want::Cell
                | Want::Field(_)
                | Want::RuleArm
                | Want::Else
                | Want::IntentRoute
                | Want::EntityValue
                | Want::Message
        )
    }
}

/// Turns a failed parse into one diagnostic.
pub(super) fn syntax_error(
    file: FileId,
    text: &str,
    error: &pest::error::Error<Rule>,
) -> Diagnostic {
    let pos = match error.location {
        pest::error::InputLocation::Pos(p) | pest::error::InputLocation::Span((p, _)) => p,
    }
    .min(text.len());
    let positives: Vec<Rule> = match &error.variant {
        pest::error::ErrorVariant::ParsingError { positives, .. } => positives.clone(),
        pest::error::ErrorVariant::CustomError { message } => {
            let problem = Problem::DslSyntax(Box::new(SyntaxError {
                expected: "a smaller file".into(),
                found: message.clone(),
                suggestion: None,
                hint: None,
            }));
            return Diagnostic::new(problem, Span::new(file, pos, pos));
        }
    };
    let mut lexer = Lexer::new(text);
    let found = loop {
        match lexer.lex() {
            Some(token) if token.end <= pos => lexer.take(token),
            other => break other,
        }
    };
    Analysis {
        file,
        text,
        positives,
        lexer,
        found,
    }
    .diagnose()
}

struct Analysis<'t> {
    file: FileId,
    text: &'t str,
    positives: Vec<Rule>,
    /// Everything before the error taken, with the brackets open there.
    lexer: Lexer<'t>,
    /// The token at the error; `None` at the end of the file.
    found: Option<Token>,
}

impl Analysis<'_> {
    fn span(&self, start: usize, end: usize) -> Span {
        Span::new(self.file, start, end)
    }

    fn at(&self, token: Token) -> Span {
        self.span(token.start, token.end)
    }

    fn slice(&self, token: Token) -> &str {
        &self.text[token.start..token.end]
    }

    /// The end of the file, as a place to label.
    fn end(&self) -> Span {
        let end = self.text.trim_end().len();
        self.span(end, end)
    }

    /// What a token is, for "found …" and "before …".
    fn found_words(&self, token: Option<Token>) -> String {
        let Some(token) = token else {
            return "the end of the file".into();
        };
        match token.tok {
            Tok::Str => "a string".into(),
            Tok::Code => "`{`".into(),
            _ => {
                let text = self.slice(token);
                let shown: String = text.chars().take(40).collect();
                format!("`{shown}`")
            }
        }
    }

    /// Where the parser gave up, for help texts: "`answer` on line 4".
    fn gave_up(&self, token: Option<Token>) -> String {
        match token {
            None => "the end of the file".into(),
            Some(t) => format!(
                "{} on line {}",
                self.found_words(Some(t)),
                line_of(self.text, t.start)
            ),
        }
    }

    fn unclosed(&self, what: Unclosed, opener: Span, gave_up: Option<Token>) -> Diagnostic {
        let (label, place) = match gave_up {
            None => ("the file ends here", self.end()),
            Some(t) => ("the parser gave up here", self.at(t)),
        };
        Diagnostic::new(
            Problem::Unclosed {
                what,
                gave_up: self.gave_up(gave_up),
            },
            opener,
        )
        .with_related(place, label)
    }

    /// An open `{` or `[`, reported at its opener.
    fn unclosed_bracket(&self, opened: &Opened, gave_up: Option<Token>) -> Diagnostic {
        let what = if opened.construct == Construct::List {
            Unclosed::Bracket
        } else {
            let name = opened
                .name
                .map(|(start, end)| &self.text[start..end])
                .unwrap_or_default();
            let of = match opened.construct {
                Construct::Flow => format!("the flow `{name}`"),
                Construct::Bot => "the bot settings".into(),
                Construct::Messages => "the built-in messages".into(),
                Construct::Inactivity => "the inactivity setting".into(),
                Construct::Intent => format!("the intent `{name}`"),
                Construct::Entity => format!("the entity `{name}`"),
                Construct::Answer => "this answer".into(),
                Construct::Input if !name.is_empty() => format!("the input `{name}`"),
                Construct::Input => "this input".into(),
                Construct::Rule => "this rule".into(),
                Construct::IntentCell => "this intent cell".into(),
                Construct::Service => "this service".into(),
                Construct::Handoff => "this handoff".into(),
                Construct::Card => "this card".into(),
                Construct::Json => "this JSON value".into(),
                Construct::List | Construct::Other => "this block".into(),
            };
            Unclosed::Brace { of }
        };
        self.unclosed(what, self.span(opened.at, opened.at + 1), gave_up)
    }

    fn diagnose(mut self) -> Diagnostic {
        if let Some(token) = self.found {
            match token.tok {
                Tok::Str => {
                    if let Some(diagnostic) = self.escape(token) {
                        return diagnostic;
                    }
                    if !token.closed {
                        let opener = self.span(token.start, token.start + 1);
                        return self.unclosed(Unclosed::String { runs_to: None }, opener, None);
                    }
                }
                Tok::Code if !token.closed => return self.unclosed_code(token),
                _ => {}
            }
        }
        if let Some(diagnostic) = self.swallowed_quote() {
            return diagnostic;
        }
        if let Some(token) = self.found
            && self.slice(token) == "["
            && let Some(diagnostic) = self.list(token)
        {
            return diagnostic;
        }
        if self.found.is_none()
            && let Some(opened) = self
                .lexer
                .misclosed
                .clone()
                .or_else(|| self.lexer.open.last().cloned())
        {
            return self.unclosed_bracket(&opened, None);
        }
        if let Some(diagnostic) = self.new_construct() {
            return diagnostic;
        }
        self.expected()
    }

    /// A bad escape in the double-quoted string at the error.
    fn escape(&self, token: Token) -> Option<Diagnostic> {
        let raw = self.slice(token);
        if !raw.starts_with('"') {
            return None;
        }
        let bytes = raw.as_bytes();
        let mut i = 1;
        while i < bytes.len() {
            if bytes[i] != b'\\' {
                i += 1;
                continue;
            }
            let next = raw[i + 1..].chars().next()?;
            let end = i + 1 + next.len_utf8();
            let problem = match next {
                '"' | '\\' | '/' | 'n' | 't' | 'r' => None,
                'u' => {
                    let digits = raw[end..]
                        .strip_prefix('{')
                        .and_then(|r| r.find('}').map(|e| &r[..e]))
                        .filter(|d| {
                            (1..=6).contains(&d.len()) && d.chars().all(|c| c.is_ascii_hexdigit())
                        });
                    digits.is_none().then_some(EscapeProblem::Malformed)
                }
                _ => {
                    let body = &raw[1..raw.len() - usize::from(token.closed)];
                    let single = (!body.contains('\'')).then(|| format!("'{body}'"));
                    Some(EscapeProblem::Unknown { raw: single })
                }
            };
            if let Some(problem) = problem {
                let escape = raw[i..end].to_owned();
                let span = self.span(token.start + i, token.start + end);
                return Some(Diagnostic::new(
                    Problem::InvalidEscape { escape, problem },
                    span,
                ));
            }
            i = end;
        }
        None
    }

    /// A code block that runs to the end of the file: at its `{`, with the
    /// string or comment left open in it, if one is.
    fn unclosed_code(&self, token: Token) -> Diagnostic {
        let opener = self.span(token.start, token.start + 1);
        let mut diagnostic = self.unclosed(Unclosed::Block, opener, None);
        if let Some((at, what)) = open_in_code(&self.text[token.start..]) {
            let at = token.start + at;
            let width = if what.starts_with("this comment") {
                2
            } else {
                1
            };
            diagnostic = diagnostic.with_related(self.span(at, at + width), what);
        }
        diagnostic
    }

    /// A string that runs over a line break and ends just before the
    /// error, on the error's line: most likely its own closing quote is
    /// missing, and the quote that opened the next string closed it.
    fn swallowed_quote(&self) -> Option<Diagnostic> {
        let string = *self.lexer.tokens.last()?;
        let found = self.found?;
        let body = self.slice(string);
        if string.tok != Tok::Str || !body.contains(['\n', '\r']) {
            return None;
        }
        let last = line_of(self.text, string.end);
        if last != line_of(self.text, found.start) {
            return None;
        }
        let opener = self.span(string.start, string.start + 1);
        Some(self.unclosed(
            Unclosed::String {
                runs_to: Some(last),
            },
            opener,
            Some(found),
        ))
    }

    /// A list at the error: where it goes wrong, or is never closed.
    fn list(&mut self, open: Token) -> Option<Diagnostic> {
        let items = if self.positives.contains(&Rule::name_list) {
            Want::Name
        } else if self.positives.contains(&Rule::phrase_list) {
            Want::Text
        } else if self.positives.contains(&Rule::string_list) {
            Want::String
        } else {
            return None;
        };
        self.lexer.take(open);
        let depth = self.lexer.open.len();
        let mut after_item = false;
        loop {
            let token = self.lexer.lex();
            let Some(t) = token else {
                let opened = self.lexer.open.get(depth - 1)?.clone();
                return Some(self.unclosed_bracket(&opened, None));
            };
            let text = self.slice(t);
            let fits = match t.tok {
                Tok::Close if text == "]" => return None,
                Tok::Punct if text == "," => after_item,
                Tok::Str if !after_item => {
                    if let Some(diagnostic) = self.escape(t) {
                        return Some(diagnostic);
                    }
                    if !t.closed {
                        let opener = self.span(t.start, t.start + 1);
                        return Some(self.unclosed(
                            Unclosed::String { runs_to: None },
                            opener,
                            None,
                        ));
                    }
                    items != Want::Name
                }
                Tok::Tag if !after_item => items == Want::Text,
                Tok::Word if !after_item => items == Want::Name,
                _ => false,
            };
            if !fits {
                let ends_block = matches!(t.tok, Tok::Close)
                    || (t.tok == Tok::Word && first_on_line(self.text, t.start));
                if ends_block {
                    let opened = self.lexer.open.get(depth - 1)?.clone();
                    return Some(self.unclosed_bracket(&opened, Some(t)));
                }
                let (expected, hint) = if after_item {
                    (
                        "`,` or `]`".to_owned(),
                        Some(
                            "items of a list are separated by commas: `[\"a\", \"b\"]`".to_owned(),
                        ),
                    )
                } else {
                    let what = items.describe();
                    let hint = (t.tok == Tok::Word && items != Want::Name)
                        .then(|| format!("write it as a string: `\"{text}\"`"));
                    (format!("{what} or `]`"), hint)
                };
                let problem = Problem::DslSyntax(Box::new(SyntaxError {
                    expected,
                    found: self.found_words(Some(t)),
                    suggestion: None,
                    hint,
                }));
                return Some(Diagnostic::new(problem, self.at(t)));
            }
            // `@es "…" @pt "…"`: a tag and its string are one item.
            if t.tok != Tok::Tag {
                after_item = t.tok != Tok::Punct;
            }
            self.lexer.take(t);
        }
    }

    /// A construct starting where a `}` was still missing: a new flow
    /// (or intent, entity, bot settings) at the start of a line inside a
    /// flow, or a cell at the start of a line inside a cell's block.
    fn new_construct(&self) -> Option<Diagnostic> {
        let found = self.found?;
        if found.tok != Tok::Word || !first_on_line(self.text, found.start) {
            return None;
        }
        let word = self.slice(found);
        let innermost = self.lexer.open.last()?;
        let top_level = match word {
            "flow" | "entity" | "bot" => true,
            "intent" => indentation(self.text, found.start) == 0,
            _ => false,
        };
        let after = self.text[found.end..].trim_start();
        let starts_cell =
            CELL_KINDS.contains(&word) || (after.starts_with(':') && !after.starts_with("::"));
        let unclosed = if top_level {
            self.lexer.misclosed.as_ref().unwrap_or(innermost)
        } else if starts_cell && innermost.construct.has_fields() {
            innermost
        } else {
            return None;
        };
        Some(self.unclosed_bracket(unclosed, Some(found)))
    }

    /// "expected …, found …", from the rules pest tried.
    fn expected(&self) -> Diagnostic {
        let mut wants: Vec<Want> = self.positives.iter().filter_map(|r| want(*r)).collect();
        if wants.contains(&Want::TriggerKind) {
            // `on timeout`, `on intent NAME`: the same keywords as a flow's
            // timeout and the top-level items.
            wants.retain(|w| !matches!(w, Want::FlowTimeout | Want::TopItem));
        }
        let innermost = self.lexer.open.last().map(|o| o.construct);
        if innermost != Some(Construct::Entity) {
            for w in &mut wants {
                if *w == Want::EntityValue {
                    *w = Want::ButtonOption;
                }
            }
        }
        wants.sort_unstable();
        wants.dedup();
        if wants.len() > 1 {
            wants.retain(|w| *w != Want::EndOfFile);
        }
        if let Some(diagnostic) = self.header(&wants) {
            return diagnostic;
        }
        if let Some(diagnostic) = self.field_as_type() {
            return diagnostic;
        }
        if wants.is_empty()
            && let Some(diagnostic) = self.dedent()
        {
            return diagnostic;
        }
        if matches!(innermost, Some(Construct::Json))
            || (innermost == Some(Construct::List) && wants.contains(&Want::Json))
        {
            return self.json();
        }
        // `-> TARGET` may follow any cell; naming it beside "a cell" only
        // distracts from the cell that was meant.
        if wants.len() > 1 {
            wants.retain(|w| *w != Want::Next);
        }
        let found = self.found;
        let word = found.filter(|t| t.tok == Tok::Word).map(|t| self.slice(t));
        // A label's cell: judge the word after `NAME:`.
        if wants.contains(&Want::Cell)
            && let Some(label) = found.filter(|t| t.tok == Tok::Word)
            && self.text[label.end..].trim_start().starts_with(':')
        {
            let mut lexer = Lexer::new(self.text);
            lexer.at = label.end;
            let colon = lexer.lex();
            if let Some(colon) = colon {
                lexer.take(colon);
            }
            let after = lexer.lex();
            return self.not_a_cell(after);
        }
        if wants.contains(&Want::Cell) && (word.is_some() || wants.len() == 1) {
            return self.not_a_cell(found);
        }
        let span = found.map_or_else(|| self.end(), |t| self.at(t));
        if let (Some(word), Some(Want::Field(field))) =
            (word, wants.iter().find(|w| matches!(w, Want::Field(_))))
        {
            let candidates = wants.iter().flat_map(|w| w.keywords().iter().copied());
            let problem = Problem::UnknownField {
                field: word.to_owned(),
                context: field.context(),
                suggestion: suggest(word, candidates),
            };
            return Diagnostic::new(problem, span);
        }
        let suggestion =
            word.and_then(|w| suggest(w, wants.iter().flat_map(|w| w.keywords().iter().copied())));
        let mut hint = None;
        let mut expected = self.describe(&wants);
        if wants.contains(&Want::Goto) {
            let (after, form) = self.goto_context();
            expected = format!("`goto` {after}");
            hint = Some(match word {
                Some(target) if suggestion.is_none() => {
                    format!("write `goto` before the target: `goto {target}`")
                }
                _ => form.to_owned(),
            });
        } else if wants.contains(&Want::FlowTimeout)
            && found.is_some_and(|t| first_on_line(self.text, t.start))
        {
            hint = Some("a flow's cells go in braces: `flow NAME on welcome { … }`".into());
        } else if wants.contains(&Want::Block) {
            hint = match self.lexer.tokens.last().map(|t| self.slice(*t)) {
                Some("when") => {
                    Some("a condition goes in braces: `when { CONDITION } goto TARGET`".into())
                }
                Some("code") => Some("a script goes in braces: `code { … }`".into()),
                _ => None,
            };
        } else if wants == [Want::Name]
            && let Some(before) = self.lexer.tokens.last().map(|t| self.slice(*t))
            && matches!(before, "jump" | "goto" | "on_fail" | "on_error" | "->")
        {
            expected = Want::Target.describe();
        } else if let Some(w) = word
            && wants.contains(&Want::AnswerBody)
            && (ANSWER_FIELDS.contains(&w) || INPUT_FIELDS.contains(&w))
        {
            hint = Some(format!(
                "a cell's fields go inside its braces: `{{ {w} … }}`"
            ));
        } else if let Some(w) = word
            && wants
                .iter()
                .any(|w| matches!(w, Want::String | Want::Text | Want::Strings | Want::Texts))
        {
            hint = Some(format!("write it as a string: `\"{w}\"`"));
        } else if found.is_some_and(|t| t.tok == Tok::Str)
            && wants
                .iter()
                .any(|w| matches!(w, Want::Strings | Want::Texts | Want::Names))
        {
            hint = Some("a list is written in brackets: `[\"…\", \"…\"]`".into());
        } else if wants == [Want::TopItem] || wants.is_empty() && self.lexer.open.is_empty() {
            expected = Want::TopItem.describe();
            if let Some(w) = word
                && CELL_KINDS.contains(&w)
            {
                hint = Some("a cell goes inside a flow: `flow NAME on welcome { … }`".into());
            }
        }
        let problem = Problem::DslSyntax(Box::new(SyntaxError {
            expected,
            found: self.found_words(found),
            suggestion,
            hint,
        }));
        Diagnostic::new(problem, span)
    }

    /// Joins what is wanted, adding the `}` or `{` that may come instead.
    fn describe(&self, wants: &[Want]) -> String {
        let mut parts: Vec<String> = wants.iter().map(|w| w.describe()).collect();
        if wants
            .iter()
            .any(|w| matches!(w, Want::Trigger | Want::FlowTimeout))
        {
            parts.push("`{`".into());
        } else if wants.iter().any(|w| w.may_close()) && !self.lexer.open.is_empty() {
            // First: after the long lists, it would be lost (and wrapped).
            parts.insert(0, "`}`".into());
        }
        parts.dedup();
        match parts.as_slice() {
            [] => match self.lexer.open.last() {
                Some(opened) if opened.construct == Construct::List => "`,` or `]`".into(),
                Some(_) => "`}`".into(),
                None => Want::TopItem.describe(),
            },
            [one] => one.clone(),
            [init @ .., last] => format!("{} or {last}", init.join(", ")),
        }
    }

    /// A top-level item whose header is incomplete: pest then only says
    /// that no item could start here, so the header is read again here.
    fn header(&self, wants: &[Want]) -> Option<Diagnostic> {
        let found = self.found?;
        let keyword = self.slice(found);
        if wants != [Want::TopItem] || !TOP_ITEMS.contains(&keyword) {
            return None;
        }
        let mut lexer = Lexer::new(self.text);
        lexer.at = found.end;
        let mut next = || {
            let token = lexer.lex();
            if let Some(t) = token {
                lexer.take(t);
            }
            token
        };
        let named = |t: Option<Token>| t.filter(|t| t.tok == Tok::Word);
        let (token, expected, form) = match keyword {
            "bot" => (next(), "`{`", "bot { name \"…\" locale \"…\" }"),
            "intent" => match named(next()) {
                Some(_) => (next(), "`{`", "intent NAME { examples [\"…\"] }"),
                other => (other, "a name", "intent NAME { examples [\"…\"] }"),
            },
            "entity" => match named(next()) {
                Some(_) => (
                    next(),
                    "`{` or `pattern`",
                    "entity NAME { value \"…\" } or entity NAME pattern '…'",
                ),
                other => (other, "a name", "entity NAME { value \"…\" }"),
            },
            _ => return None,
        };
        let problem = Problem::DslSyntax(Box::new(SyntaxError {
            expected: format!("{expected} after `{keyword}`"),
            found: self.found_words(token),
            suggestion: None,
            hint: Some(format!("it is written `{form}`")),
        }));
        let span = token.map_or_else(|| self.end(), |t| self.at(t));
        Some(Diagnostic::new(problem, span))
    }

    /// `input name` and a field without braces: the grammar read the
    /// field's keyword as the input's type, and gave up after it.
    fn field_as_type(&self) -> Option<Diagnostic> {
        let tokens = &self.lexer.tokens;
        let [.., input, _, ty] = tokens.as_slice() else {
            return None;
        };
        let word = self.slice(*ty);
        if ty.tok != Tok::Word
            || self.slice(*input) != "input"
            || !INPUT_FIELDS.contains(&word)
            || self.lexer.open.last().map(|o| o.construct) != Some(Construct::Flow)
        {
            return None;
        }
        let problem = Problem::DslSyntax(Box::new(SyntaxError {
            expected: "an input type or `{`".into(),
            found: format!("`{word}`, {}", Field::Input.what()),
            suggestion: None,
            hint: Some(format!(
                "an input's fields go inside its braces: `input NAME {{ {word} … }}`"
            )),
        }));
        Some(Diagnostic::new(problem, self.at(*ty)))
    }

    /// Where pest cannot say what it wanted (a closing brace is a literal,
    /// not a rule), the brackets and the indentation can: the first line
    /// after the error that is indented no deeper than the line the
    /// innermost `{` opened on, in a block whose lines are indented, is
    /// where its `}` is missing.
    fn dedent(&self) -> Option<Diagnostic> {
        let opened = self.lexer.open.last()?.clone();
        let found = self.found?;
        let mut lexer = Lexer::new(self.text);
        lexer.at = found.start;
        lexer.line = line_start(self.text, found.start);
        let error_line = lexer.line;
        let mut depth = 0usize;
        while let Some(token) = lexer.lex() {
            let starts_line = lexer.tokens.last().is_none_or(|t| t.end <= lexer.line);
            let text = self.slice(token);
            if starts_line
                && lexer.line > error_line
                && depth == 0
                && text != "}"
                && lexer.indentation() <= opened.indent
            {
                let indented = indentation(self.text, found.start) > opened.indent;
                if !indented {
                    return None;
                }
                let mut diagnostic = self.unclosed_bracket(&opened, None);
                diagnostic.related.clear();
                return Some(
                    diagnostic.with_related(self.at(token), "a `}` is missing before this"),
                );
            }
            match (token.tok, text) {
                (Tok::Open, _) => depth += 1,
                (Tok::Close, "}" | "]") if depth == 0 => return None,
                (Tok::Close, _) => depth -= 1,
                _ => {}
            }
            lexer.take(token);
        }
        None
    }

    /// Something that is no JSON token inside a JSON value.
    fn json(&self) -> Diagnostic {
        let found = self.found;
        let hint = match found {
            Some(t) if t.tok == Tok::Word => {
                let word = self.slice(t);
                Some(format!(
                    "JSON strings and keys are written in double quotes: `\"{word}\"`"
                ))
            }
            Some(t) if t.tok == Tok::Str && self.slice(t).starts_with('\'') => {
                Some("JSON strings are written in double quotes".into())
            }
            _ => None,
        };
        let problem = Problem::DslSyntax(Box::new(SyntaxError {
            expected: "JSON (a string in double quotes, a number, `true`, `false`, `null`, `[`, `{`, `,` or `:`) or its closing bracket".into(),
            found: self.found_words(found),
            suggestion: None,
            hint,
        }));
        let span = found.map_or_else(|| self.end(), |t| self.at(t));
        Diagnostic::new(problem, span)
    }

    /// Where a `goto` was wanted: after a condition, `else`, or an intent.
    fn goto_context(&self) -> (&'static str, &'static str) {
        let before = self.lexer.tokens.last().map(|t| (t.tok, self.slice(*t)));
        match before {
            Some((Tok::Word, "else")) => ("after `else`", "it reads `else goto TARGET`"),
            Some((Tok::Code, _)) => (
                "after the condition",
                "a rule arm reads `when { CONDITION } goto TARGET`",
            ),
            _ => (
                "after the intent's name",
                "an intent route reads `INTENT goto TARGET`",
            ),
        }
    }

    /// Something that is not a cell where a cell (or the flow's `}`) goes.
    fn not_a_cell(&self, token: Option<Token>) -> Diagnostic {
        let span = token.map_or_else(|| self.end(), |t| self.at(t));
        if let Some(t) = token.filter(|t| t.tok == Tok::Word) {
            let word = self.slice(t);
            let owner = [
                Field::Answer,
                Field::Input,
                Field::Service,
                Field::Handoff,
                Field::Card,
            ]
            .into_iter()
            .find(|f| f.names().contains(&word));
            if let Some(owner) = owner
                && suggest(word, CELL_KINDS).is_none()
            {
                let cell = match owner {
                    Field::Input => "input NAME",
                    Field::Service => "service",
                    Field::Handoff => "handoff",
                    _ => "answer",
                };
                let problem = Problem::DslSyntax(Box::new(SyntaxError {
                    expected: format!("`}}` or {}", Want::Cell.describe()),
                    found: format!("`{word}`, {}", owner.what()),
                    suggestion: None,
                    hint: Some(format!(
                        "a cell's fields go inside its braces: `{cell} {{ {word} … }}`"
                    )),
                }));
                return Diagnostic::new(problem, span);
            }
            let problem = Problem::UnknownCellKind {
                found: word.to_owned(),
                suggestion: suggest(word, CELL_KINDS),
            };
            return Diagnostic::new(problem, span);
        }
        let problem = Problem::DslSyntax(Box::new(SyntaxError {
            expected: format!("`}}` or {}", Want::Cell.describe()),
            found: self.found_words(token),
            suggestion: None,
            hint: None,
        }));
        Diagnostic::new(problem, span)
    }
}

/// The string or comment a code block leaves open, if one runs to the end
/// of the file: its offset in `block` and a label. The scan follows the
/// grammar's `block_item`.
fn open_in_code(block: &str) -> Option<(usize, &'static str)> {
    let bytes = block.as_bytes();
    // A `"` string may not span lines in rhai: the first that does is
    // where the trouble started, even if a later quote closes it.
    let mut spans_lines = None;
    let mut i = 1;
    while i < bytes.len() {
        match bytes[i] {
            b'"' | b'`' => {
                let quote = bytes[i];
                let start = i;
                i += 1;
                loop {
                    match bytes.get(i) {
                        None => {
                            return Some(
                                spans_lines.unwrap_or((start, "this string is never closed")),
                            );
                        }
                        Some(&b) if b == quote => break,
                        Some(b'\n') if quote == b'"' => {
                            spans_lines
                                .get_or_insert((start, "this string is not closed on its line"));
                            i += 1;
                        }
                        Some(b'\\') if quote == b'"' => i += 2,
                        Some(_) => i += 1,
                    }
                }
                i += 1;
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                let start = i;
                match block[i + 2..].find("*/") {
                    Some(end) => i += end + 4,
                    None => return Some((start, "this comment is never closed")),
                }
            }
            _ => i += 1,
        }
    }
    spans_lines
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The alternatives of a `*_field_kw` rule in the grammar.
    fn grammar_keywords(rule: &str) -> Vec<String> {
        let grammar = include_str!("../../../grammar/flow.pest");
        let line = grammar
            .lines()
            .find(|l| l.starts_with(&format!("{rule} =")))
            .unwrap_or_else(|| panic!("no rule {rule}"));
        let mut words: Vec<String> = line
            .split('"')
            .skip(1)
            .step_by(2)
            .map(str::to_owned)
            .collect();
        words.sort();
        words
    }

    #[test]
    fn field_lists_match_the_grammar() {
        for (rule, names) in [
            ("input_field_kw", INPUT_FIELDS),
            ("answer_field_kw", ANSWER_FIELDS),
            ("service_field_kw", SERVICE_FIELDS),
            ("handoff_field_kw", HANDOFF_FIELDS),
            ("card_field_kw", CARD_FIELDS),
            ("intent_field_kw", INTENT_FIELDS),
            ("bot_field_kw", BOT_FIELDS),
            ("inactivity_field_kw", INACTIVITY_FIELDS),
            ("cell_body_kw", &CELL_KINDS),
        ] {
            let mut listed: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
            listed.sort();
            assert_eq!(listed, grammar_keywords(rule), "{rule}");
        }
    }

    /// Cuts, doubles and replaces pieces of a real bot at every position:
    /// whatever breaks, the parse reports one diagnostic and never panics.
    #[test]
    fn any_broken_file_gets_one_diagnostic() {
        let text = include_str!("../../../flows/pizza/pizza.flow");
        let cuts = |i: usize| text.is_char_boundary(i);
        let mut broken = 0;
        let file = crate::source::SourceMap::new().add("t.flow", "t.flow", String::new());
        for at in (0..text.len()).filter(|&i| cuts(i)).step_by(7) {
            let next = (at + 1..=text.len())
                .find(|&i| cuts(i))
                .unwrap_or(text.len());
            for edited in [
                format!("{}{}", &text[..at], &text[next..]),
                format!(
                    "{}{}",
                    &text[..at],
                    &text[at..].replacen(['{', '}', '"', '[', ']'], "", 1)
                ),
                format!("{}\\q{}", &text[..at], &text[at..]),
                text[..at].to_owned(),
            ] {
                let (_, diagnostics) = super::super::parse(file, &edited);
                if diagnostics.iter().any(|d| {
                    matches!(
                        d.problem.code(),
                        "cellflow::syntax::dsl" | "cellflow::syntax::unclosed"
                    )
                }) {
                    broken += 1;
                }
            }
        }
        assert!(broken > 100, "{broken}");
    }

    #[test]
    fn lines_count_every_line_break() {
        assert_eq!(line_of("a\nb\r\nc\rd", 8), 4);
        assert_eq!(line_of("abc", 2), 1);
    }
}
