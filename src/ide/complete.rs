//! Completion: what may be typed where the cursor is.
//!
//! It reads the file as it is now, which is often not a file that parses
//! (the author is in the middle of a line), so it does not use the parser:
//! for the DSL a small scanner tracks which block the cursor is in (a flow,
//! an input, a `code` script, a JSON value…) and the words before it; for
//! YAML the keys above the cursor, by indentation. The names it offers —
//! flows, cells, intents, entities, variables — are those of the last
//! check, so a file with a syntax error still completes them.

use crate::ast::{BUILTIN_MESSAGES, CELL_KINDS};
use crate::kinds::{InputType, MediaKind, Method, Pick, ReplyScope};
use crate::syntax::Syntax;
use crate::syntax::yaml::keys;

use super::{Analysis, Symbol};

/// The kind of thing a completion inserts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompletionKind {
    /// A top-level keyword or a cell kind.
    Keyword,
    /// A field of the construct the cursor is in.
    Field,
    /// One of a field's fixed values (`random`, `POST`, `integer`).
    Value,
    Flow,
    Cell,
    Intent,
    Entity,
    Variable,
}

/// One thing that may be typed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Completion {
    pub label: String,
    pub kind: CompletionKind,
    /// A few words on what it is.
    pub detail: String,
}

/// The completions at a position, and where the word they replace starts
/// (a byte offset; the word ends at the cursor).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Completions {
    pub start: usize,
    pub items: Vec<Completion>,
}

/// The DSL's field keywords in each block, by the grammar rule that lists
/// them.
pub use crate::syntax::dsl::keys::FIELDS as DSL_FIELDS;
use crate::syntax::dsl::keys::{
    ANSWER as DSL_ANSWER, BOT as DSL_BOT, CARD as DSL_CARD, FLAGS, HANDOFF as DSL_HANDOFF,
    INACTIVITY as DSL_INACTIVITY, INPUT as DSL_INPUT, INTENT as DSL_INTENT, SERVICE as DSL_SERVICE,
    TOP as DSL_TOP,
};

pub(super) fn complete(
    text: &str,
    offset: usize,
    syntax: Option<Syntax>,
    analysis: Option<&Analysis>,
) -> Completions {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let start = before
        .char_indices()
        .rev()
        .take_while(|(_, c)| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .last()
        .map_or(offset, |(i, _)| i);
    // `FLOW.` before the word: the cells of that flow.
    let qualifier = before[..start].strip_suffix('.').map(|head| {
        let from = head
            .char_indices()
            .rev()
            .take_while(|(_, c)| c.is_ascii_alphanumeric() || *c == '_' || *c == '-' || *c == '.')
            .last()
            .map_or(head.len(), |(i, _)| i);
        &head[from..]
    });
    let names = Names { analysis };
    let context = if in_template(before) {
        Context::Template
    } else {
        match syntax {
            Some(Syntax::Dsl) => dsl_context(&text[..start - qualifier.map_or(0, |q| q.len() + 1)]),
            Some(Syntax::Yaml) => yaml_context(text, start, false),
            None => yaml_context(text, start, true),
        }
    };
    let items = match (context, qualifier) {
        (Context::Template, Some("input.entities")) | (Context::Entities, None) => names.entities(),
        (Context::Template | Context::Script, None) => names.variables(),
        (Context::Targets(_), Some(flow)) => names.cells_of(flow, true),
        (Context::Targets(flow), None) => {
            let mut items = flow.map(|f| names.cells_of(&f, false)).unwrap_or_default();
            items.extend(names.flows());
            items
        }
        (_, Some(_)) | (Context::Nothing, None) => Vec::new(),
        (Context::Intents { with_else }, None) => {
            let mut items = names.intents();
            if with_else {
                items.push(word(
                    "else",
                    CompletionKind::Keyword,
                    "when no route matches",
                ));
            }
            items
        }
        (Context::Words(words, kind, detail), None) => {
            words.iter().map(|w| word(w, kind, detail)).collect()
        }
        (Context::CellKinds(extra), None) => {
            let mut items: Vec<Completion> = CELL_KINDS
                .iter()
                .map(|k| word(k, CompletionKind::Keyword, "cell kind"))
                .collect();
            items.extend(
                extra
                    .iter()
                    .map(|k| word(k, CompletionKind::Field, "cell field")),
            );
            items
        }
    };
    Completions { start, items }
}

fn word(label: &str, kind: CompletionKind, detail: &str) -> Completion {
    Completion {
        label: label.to_owned(),
        kind,
        detail: detail.to_owned(),
    }
}

/// What the cursor's position calls for.
#[derive(Debug)]
enum Context {
    Nothing,
    /// Inside `{{ … }}`.
    Template,
    /// Inside a script or condition.
    Script,
    /// A target, from inside this flow.
    Targets(Option<String>),
    Intents {
        with_else: bool,
    },
    Entities,
    CellKinds(&'static [&'static str]),
    Words(&'static [&'static str], CompletionKind, &'static str),
}

/// Whether the text before the cursor leaves a `{{` open.
fn in_template(before: &str) -> bool {
    before
        .rfind("{{")
        .is_some_and(|open| !before[open..].contains("}}") && !before[open..].contains('\n'))
}

/// The names the last check knew.
struct Names<'a> {
    analysis: Option<&'a Analysis>,
}

impl Names<'_> {
    fn symbols(&self) -> Vec<&Symbol> {
        let Some(analysis) = self.analysis else {
            return Vec::new();
        };
        let mut symbols: Vec<&Symbol> = analysis.defined().collect();
        symbols.sort();
        symbols.dedup();
        symbols
    }

    fn flows(&self) -> Vec<Completion> {
        let Some(analysis) = self.analysis else {
            return Vec::new();
        };
        analysis
            .checked
            .bot
            .flows
            .iter()
            .map(|f| {
                let detail = match f.trigger.as_ref().map(|t| &t.value) {
                    Some(crate::ast::Trigger::Intent(i)) => format!("flow, on intent {}", i.value),
                    Some(crate::ast::Trigger::Entity(e)) => format!("flow, on entity {}", e.value),
                    Some(crate::ast::Trigger::Welcome) => "flow, on welcome".to_owned(),
                    Some(crate::ast::Trigger::Fallback) => "flow, on fallback".to_owned(),
                    Some(crate::ast::Trigger::Timeout) => "flow, on timeout".to_owned(),
                    None => "flow".to_owned(),
                };
                Completion {
                    label: f.name.value.clone(),
                    kind: CompletionKind::Flow,
                    detail,
                }
            })
            .collect()
    }

    /// The ids of a flow's cells: bare inside it, after `FLOW.` elsewhere.
    fn cells_of(&self, flow: &str, qualified: bool) -> Vec<Completion> {
        let Some(analysis) = self.analysis else {
            return Vec::new();
        };
        let Some(found) = analysis
            .checked
            .bot
            .flows
            .iter()
            .find(|f| f.name.value == flow)
        else {
            return Vec::new();
        };
        found
            .cells
            .iter()
            .filter_map(|cell| {
                let id = cell.id.as_ref()?;
                Some(Completion {
                    label: id.value.clone(),
                    kind: CompletionKind::Cell,
                    detail: if qualified {
                        format!("{} cell of flow {flow}", cell.kind.keyword())
                    } else {
                        format!("{} cell", cell.kind.keyword())
                    },
                })
            })
            .collect()
    }

    fn intents(&self) -> Vec<Completion> {
        self.symbols()
            .into_iter()
            .filter_map(|s| match s {
                Symbol::Intent(name) => Some(word(name, CompletionKind::Intent, "intent")),
                _ => None,
            })
            .collect()
    }

    fn entities(&self) -> Vec<Completion> {
        self.symbols()
            .into_iter()
            .filter_map(|s| match s {
                Symbol::Entity(name) => Some(word(name, CompletionKind::Entity, "entity")),
                _ => None,
            })
            .collect()
    }

    fn variables(&self) -> Vec<Completion> {
        let mut items: Vec<Completion> = self
            .symbols()
            .into_iter()
            .filter_map(|s| match s {
                Symbol::Variable(name) => Some(word(name, CompletionKind::Variable, "variable")),
                _ => None,
            })
            .collect();
        items.extend(
            crate::script::BUILTINS
                .iter()
                .map(|b| word(b, CompletionKind::Variable, "built-in")),
        );
        items
    }
}

const INPUT_TYPES: &[&str] = &{
    let mut names = [""; InputType::ALL.len()];
    let mut i = 0;
    while i < names.len() {
        names[i] = InputType::ALL[i].0;
        i += 1;
    }
    names
};
const MEDIA_KINDS: &[&str] = &{
    let mut names = [""; MediaKind::ALL.len()];
    let mut i = 0;
    while i < names.len() {
        names[i] = MediaKind::ALL[i].0;
        i += 1;
    }
    names
};
const METHODS: &[&str] = &{
    let mut names = [""; Method::ALL.len()];
    let mut i = 0;
    while i < names.len() {
        names[i] = Method::ALL[i].0;
        i += 1;
    }
    names
};
const PICKS: &[&str] = &{
    let mut names = [""; Pick::ALL.len()];
    let mut i = 0;
    while i < names.len() {
        names[i] = Pick::ALL[i].0;
        i += 1;
    }
    names
};
const SCOPES: &[&str] = &{
    let mut names = [""; ReplyScope::ALL.len()];
    let mut i = 0;
    while i < names.len() {
        names[i] = ReplyScope::ALL[i].0;
        i += 1;
    }
    names
};
use crate::syntax::dsl::keys::TRIGGERS as TRIGGERS_DSL;
const TRIGGERS_YAML: &[&str] = &["welcome", "fallback", "timeout"];

// ---- the DSL --------------------------------------------------------------

/// A block of a DSL file, by what opened it.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Block {
    Top,
    Bot,
    Messages,
    Inactivity,
    IntentDef,
    EntityDef,
    Flow(String),
    Answer,
    Card,
    Input,
    Rule,
    IntentSwitch,
    Service,
    Handoff,
    Script,
    Json,
    Other,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    Word(String),
    Punct(&'static str),
    Str,
}

struct Level {
    block: Block,
    tokens: Vec<Token>,
}

/// The blocks open at the end of `text` and the words in the innermost
/// one; `None` when the text ends inside a string or comment.
fn scan(text: &str) -> Option<Vec<Level>> {
    let mut stack = vec![Level {
        block: Block::Top,
        tokens: Vec::new(),
    }];
    let bytes = text.as_bytes();
    let mut i = 0;
    let closes = |i: usize, quote: u8, escapes: bool| -> Option<usize> {
        let mut j = i + 1;
        while j < bytes.len() {
            match bytes[j] {
                b'\\' if escapes => j += 2,
                b if b == quote => return Some(j + 1),
                _ => j += 1,
            }
        }
        None
    };
    while i < bytes.len() {
        let depth = stack.len();
        let top = stack.last_mut().expect("the top level is never closed");
        let c = bytes[i];
        match top.block {
            Block::Script => match c {
                b'/' if bytes.get(i + 1) == Some(&b'/') => {
                    i = text[i..].find('\n').map_or(bytes.len(), |n| i + n);
                }
                b'/' if bytes.get(i + 1) == Some(&b'*') => {
                    i = text[i + 2..].find("*/").map(|n| i + 2 + n + 2)?;
                }
                b'"' | b'`' => i = closes(i, c, c == b'"')?,
                b'{' => {
                    stack.push(Level {
                        block: Block::Script,
                        tokens: Vec::new(),
                    });
                    i += 1;
                }
                b'}' => {
                    stack.pop();
                    if let Some(parent) = stack.last_mut() {
                        parent.tokens.push(Token::Punct("}"));
                    }
                    i += 1;
                }
                _ => i += 1,
            },
            Block::Json => match c {
                b'"' => i = closes(i, c, true)?,
                b'{' | b'[' => {
                    stack.push(Level {
                        block: Block::Json,
                        tokens: Vec::new(),
                    });
                    i += 1;
                }
                b'}' | b']' => {
                    stack.pop();
                    if let Some(parent) = stack.last_mut() {
                        parent.tokens.push(Token::Punct("}"));
                    }
                    i += 1;
                }
                _ => i += 1,
            },
            _ => match c {
                b'#' => i = text[i..].find(['\n', '\r']).map_or(bytes.len(), |n| i + n),
                b'"' => {
                    i = closes(i, c, true)?;
                    top.tokens.push(Token::Str);
                }
                b'\'' => {
                    i = closes(i, c, false)?;
                    top.tokens.push(Token::Str);
                }
                b'{' => {
                    let block = opener(&top.block, &top.tokens, depth);
                    stack.push(Level {
                        block,
                        tokens: Vec::new(),
                    });
                    i += 1;
                }
                b'}' => {
                    if stack.len() > 1 {
                        stack.pop();
                    }
                    stack
                        .last_mut()
                        .expect("the top level stays")
                        .tokens
                        .push(Token::Punct("}"));
                    i += 1;
                }
                b'-' if bytes.get(i + 1) == Some(&b'>') => {
                    top.tokens.push(Token::Punct("->"));
                    i += 2;
                }
                b'[' | b']' | b',' | b':' => {
                    top.tokens.push(Token::Punct(match c {
                        b'[' => "[",
                        b']' => "]",
                        b',' => ",",
                        _ => ":",
                    }));
                    i += 1;
                }
                c if c.is_ascii_alphanumeric() || c == b'_' || c == b'@' || c == b'-' => {
                    let end = text[i..]
                        .find(|ch: char| {
                            !(ch.is_ascii_alphanumeric() || matches!(ch, '_' | '-' | '.' | '@'))
                        })
                        .map_or(bytes.len(), |n| i + n);
                    top.tokens.push(Token::Word(text[i..end].to_owned()));
                    i = end.max(i + 1);
                }
                _ => i += 1,
            },
        }
    }
    Some(stack)
}

/// What a `{` opens, from the block it is in and the words before it.
fn opener(block: &Block, tokens: &[Token], depth: usize) -> Block {
    let words = || {
        tokens.iter().rev().filter_map(|t| match t {
            Token::Word(w) => Some(w.as_str()),
            _ => None,
        })
    };
    let nearest = |among: &[&str]| words().find(|w| among.contains(w));
    match block {
        Block::Top if depth == 1 => {
            // The item's first word, after the last one closed.
            let statement = tokens
                .iter()
                .rposition(|t| *t == Token::Punct("}"))
                .map_or(tokens, |at| &tokens[at + 1..]);
            let mut words = statement.iter().filter_map(|t| match t {
                Token::Word(w) => Some(w.as_str()),
                _ => None,
            });
            match words.next() {
                Some("bot") => Block::Bot,
                Some("intent") => Block::IntentDef,
                Some("entity") => Block::EntityDef,
                Some("flow") => Block::Flow(words.next().unwrap_or_default().to_owned()),
                _ => Block::Other,
            }
        }
        Block::Flow(_) => {
            match nearest(&[
                "answer", "input", "rule", "code", "service", "intent", "track", "handoff",
            ]) {
                Some("answer") => Block::Answer,
                Some("input") => Block::Input,
                Some("rule") => Block::Rule,
                Some("code") => Block::Script,
                Some("service") => Block::Service,
                Some("intent") => Block::IntentSwitch,
                Some("track") => Block::Json,
                Some("handoff") => Block::Handoff,
                _ => Block::Other,
            }
        }
        Block::Answer => match nearest(&["card", "custom"]) {
            Some("card") if tokens.last() != Some(&Token::Word("custom".into())) => Block::Card,
            _ => Block::Json,
        },
        Block::Service => Block::Json,
        Block::Rule => Block::Script,
        Block::Bot => match nearest(&["messages", "inactivity"]) {
            Some("messages") => Block::Messages,
            Some("inactivity") => Block::Inactivity,
            _ => Block::Other,
        },
        _ => Block::Other,
    }
}

fn dsl_context(text: &str) -> Context {
    let Some(stack) = scan(text) else {
        return Context::Nothing;
    };
    let flow = stack.iter().find_map(|l| match &l.block {
        Block::Flow(name) => Some(name.clone()),
        _ => None,
    });
    let level = stack.last().expect("the top level stays");
    let tokens = &level.tokens;
    let word_at = |back: usize| match tokens.len().checked_sub(back + 1).map(|i| &tokens[i]) {
        Some(Token::Word(w)) => Some(w.as_str()),
        _ => None,
    };
    let prev = tokens.last();
    let (prev_word, before) = (word_at(0), word_at(1));
    if prev == Some(&Token::Punct("->"))
        || matches!(prev_word, Some("goto" | "jump" | "on_fail" | "on_error"))
            && level.block != Block::Top
    {
        return Context::Targets(flow);
    }
    let fields: &'static [&'static str] = match &level.block {
        Block::Top => DSL_TOP,
        Block::Bot => DSL_BOT,
        Block::Messages => &BUILTIN_MESSAGES,
        Block::Inactivity => DSL_INACTIVITY,
        Block::IntentDef => DSL_INTENT,
        Block::EntityDef => &["value"],
        Block::Answer => DSL_ANSWER,
        Block::Card => DSL_CARD,
        Block::Input => DSL_INPUT,
        Block::Service => DSL_SERVICE,
        Block::Handoff => DSL_HANDOFF,
        Block::Rule => &["when", "else"],
        Block::Script => return Context::Script,
        Block::Json | Block::Other => return Context::Nothing,
        Block::Flow(_) | Block::IntentSwitch => &[],
    };
    match (&level.block, prev_word, before) {
        (Block::Top, Some("on"), _) => {
            Context::Words(TRIGGERS_DSL, CompletionKind::Value, "trigger")
        }
        (Block::Top, Some("intent"), Some("on")) => Context::Intents { with_else: false },
        (Block::Top, Some("entity"), Some("on")) | (Block::Input, Some("entity"), _) => {
            Context::Entities
        }
        (Block::Top, Some(_), _) | (Block::Flow(_), Some("input"), _) => Context::Nothing,
        (Block::Answer, Some("pick"), _) => Context::Words(PICKS, CompletionKind::Value, "pick"),
        (Block::Answer, Some("media"), _) => {
            Context::Words(MEDIA_KINDS, CompletionKind::Value, "media kind")
        }
        (Block::Answer, Some("quick_replies_scope"), _) => {
            Context::Words(SCOPES, CompletionKind::Value, "scope")
        }
        (Block::Service, Some("method"), _) => {
            Context::Words(METHODS, CompletionKind::Value, "HTTP method")
        }
        (Block::Rule | Block::IntentSwitch, Some("else"), _) => {
            Context::Words(&["goto"], CompletionKind::Keyword, "goto")
        }
        (Block::Flow(_), Some(_), Some("input")) => {
            Context::Words(INPUT_TYPES, CompletionKind::Value, "input type")
        }
        (Block::Flow(_), _, _) => Context::CellKinds(&[]),
        (Block::IntentSwitch, Some(w), _)
            if w != "else" && prev == Some(&Token::Word(w.into())) =>
        {
            // `INTENT |`: the `goto` comes next.
            Context::Words(&["goto"], CompletionKind::Keyword, "goto")
        }
        (Block::IntentSwitch, _, _) => Context::Intents { with_else: true },
        (_, Some(w), _) if fields.contains(&w) && !FLAGS.contains(&w) => Context::Nothing,
        _ => Context::Words(fields, CompletionKind::Field, "field"),
    }
}

// ---- YAML ----------------------------------------------------------------

/// One line of YAML, as far as completion cares.
struct YamlLine<'t> {
    /// The column of its key (after any `- `).
    column: usize,
    key: Option<&'t str>,
    /// It starts a list item.
    item: bool,
    /// What follows the key's colon, trimmed.
    value: Option<&'t str>,
}

fn yaml_line(line: &str) -> Option<YamlLine<'_>> {
    let mut column = line.len() - line.trim_start_matches(' ').len();
    let mut rest = &line[column..];
    let mut item = false;
    while let Some(after) = rest
        .strip_prefix('-')
        .filter(|a| a.is_empty() || a.starts_with(' '))
    {
        item = true;
        let spaces = after.len() - after.trim_start_matches(' ').len();
        column += 1 + spaces;
        rest = &after[spaces..];
    }
    if rest.starts_with('#') || rest.trim().is_empty() {
        return item.then_some(YamlLine {
            column,
            key: None,
            item,
            value: None,
        });
    }
    let (key, value) = split_key(rest);
    Some(YamlLine {
        column,
        key,
        item,
        value,
    })
}

/// A line's key and what follows its colon, when it has one.
fn split_key(rest: &str) -> (Option<&str>, Option<&str>) {
    let bytes = rest.as_bytes();
    let mut quote = None;
    for (i, &b) in bytes.iter().enumerate() {
        match (quote, b) {
            (Some(q), b) if b == q => quote = None,
            (None, b'"' | b'\'') if i == 0 => quote = Some(b),
            (None, b'{' | b'[') if i == 0 => return (None, None),
            (None, b':') if bytes.get(i + 1).is_none_or(|n| *n == b' ') => {
                let key = rest[..i].trim().trim_matches(['"', '\'']);
                return (Some(key), Some(rest[i + 1..].trim()));
            }
            _ => {}
        }
    }
    (None, None)
}

fn yaml_context(text: &str, start: usize, settings_file: bool) -> Context {
    let line_start = text[..start].rfind(['\n', '\r']).map_or(0, |i| i + 1);
    let current = &text[line_start..start];
    // A line of spaces only: a key at this column.
    let here = yaml_line(current).unwrap_or(YamlLine {
        column: current.len(),
        key: None,
        item: false,
        value: None,
    });
    // The keys above, from the nearest parent up.
    let mut parents: Vec<&str> = Vec::new();
    let mut in_item = here.item;
    let mut threshold = here.column;
    let mut first_parent_value: Option<Option<&str>> = None;
    for line in text[..line_start].lines().rev() {
        let Some(above) = yaml_line(line) else {
            continue;
        };
        if above.column < threshold {
            if first_parent_value.is_none() {
                first_parent_value = Some(above.value);
            }
            if let Some(key) = above.key {
                parents.push(key);
            }
            threshold = above.column;
            if threshold == 0 {
                break;
            }
        } else if above.column == here.column && above.item && parents.is_empty() {
            in_item = true;
        }
    }
    parents.reverse();
    if settings_file {
        parents.insert(0, "bot");
    }
    // Inside a block scalar (`code: |`): its text.
    if let Some(Some(value)) = first_parent_value
        && (value.starts_with('|') || value.starts_with('>'))
        && here.key.is_none()
    {
        return match parents.last() {
            Some(&("code" | "when")) => Context::Script,
            _ => Context::Nothing,
        };
    }
    let flow = match parents.as_slice() {
        ["flows", flow, ..] => Some((*flow).to_owned()),
        _ => None,
    };
    match (here.key, here.value) {
        (Some(key), Some(value)) => {
            // `on: {intent: ` and `jump: {to: `: the key inside the braces.
            let (key, parents) = match value.rfind('{') {
                Some(open) => match split_key(
                    value[open + 1..]
                        .rsplit(',')
                        .next()
                        .unwrap_or("")
                        .trim_start(),
                ) {
                    (Some(inner), Some(_)) => {
                        let mut parents = parents.clone();
                        parents.push(key);
                        (inner, parents)
                    }
                    _ => return Context::Nothing,
                },
                None => (key, parents),
            };
            yaml_value(key, &parents, flow)
        }
        _ => yaml_keys(&parents, in_item),
    }
}

/// What may follow `key:` under `parents`.
fn yaml_value(key: &str, parents: &[&str], flow: Option<String>) -> Context {
    let parent = parents.last().copied();
    let in_cells = parents.contains(&"cells");
    match key {
        "goto" | "next" | "on_fail" | "on_error" | "else" | "to" | "jump" if in_cells => {
            Context::Targets(flow)
        }
        "intent" if parent == Some("on") => Context::Intents { with_else: false },
        "entity" if parent == Some("on") || parent == Some("input") => Context::Entities,
        "on" if parents.len() == 2 => {
            Context::Words(TRIGGERS_YAML, CompletionKind::Value, "trigger")
        }
        "type" if parent == Some("media") => {
            Context::Words(MEDIA_KINDS, CompletionKind::Value, "media kind")
        }
        "type" if parent == Some("input") => {
            Context::Words(INPUT_TYPES, CompletionKind::Value, "input type")
        }
        "pick" => Context::Words(PICKS, CompletionKind::Value, "pick"),
        "method" => Context::Words(METHODS, CompletionKind::Value, "HTTP method"),
        "quick_replies_scope" => Context::Words(SCOPES, CompletionKind::Value, "scope"),
        "code" | "when" if in_cells => Context::Script,
        _ if parent == Some("intent") && in_cells => Context::Targets(flow),
        _ => Context::Nothing,
    }
}

/// The keys that may be written under `parents`.
fn yaml_keys(parents: &[&str], in_item: bool) -> Context {
    let fields =
        |list: &'static [&'static str]| Context::Words(list, CompletionKind::Field, "field");
    match parents {
        [] => Context::Words(keys::FILE, CompletionKind::Keyword, "section"),
        ["bot"] => fields(keys::SETTINGS),
        ["bot", "nlu"] => fields(keys::NLU),
        ["bot", "inactivity"] => fields(keys::INACTIVITY),
        ["bot", "messages"] => fields(keys::MESSAGES),
        ["intents", _] => fields(keys::INTENT),
        ["entities", _] => fields(keys::ENTITY),
        ["flows", _] => fields(keys::FLOW),
        ["flows", _, "on"] => fields(keys::TRIGGER),
        ["flows", _, "cells"] if in_item => Context::CellKinds(keys::CELL),
        ["flows", _, "cells", kind, rest @ ..] => match (*kind, rest) {
            ("answer", []) => fields(keys::ANSWER),
            ("input", []) => fields(keys::INPUT),
            ("service", []) => fields(keys::SERVICE),
            ("track", []) => fields(keys::TRACK),
            ("handoff", []) => fields(keys::HANDOFF),
            ("end", []) => fields(keys::END),
            ("jump", []) => fields(keys::JUMP),
            ("rule", []) => fields(keys::RULE_ARM),
            ("intent", []) => Context::Intents { with_else: true },
            (_, [.., "buttons"]) => fields(keys::BUTTON),
            (_, [.., "cards"]) => fields(keys::CARD),
            (_, [.., "quick_replies"]) => fields(keys::QUICK_REPLY),
            (_, [.., "media"]) => fields(keys::MEDIA),
            (_, [.., "location"]) => fields(keys::LOCATION),
            (_, [.., "link"]) => fields(keys::LINK),
            _ => Context::Nothing,
        },
        _ => Context::Nothing,
    }
}
