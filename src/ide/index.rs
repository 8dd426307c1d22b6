//! Every name an author wrote, with what it names and whether it defines
//! or uses it: the table behind go-to-definition, references, rename and
//! hover.
//!
//! Targets are resolved as the lowerer resolves them (a cell of the current
//! flow, else a flow; `FLOW.CELL`); a target that names nothing is left out.
//! Variables are found in inputs, services, `bot.context`, `hidden` and
//! `readonly`, in every template (by the placeholder's first name) and in
//! every script and condition (rhai's own AST, `script::mentions`). Each
//! occurrence's span covers exactly the name as written, so replacing it
//! renames it; a name whose place cannot be found exactly (a YAML escape,
//! say) is left out rather than given a wider span.

use std::collections::{HashMap, HashSet};

use crate::ast::{self, Body, CellKind, Localized, Target, Text};
use crate::check::Checked;
use crate::source::{FileId, SourceMap, Span};

/// What a name names.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Symbol {
    Flow(String),
    /// A cell id, within its flow.
    Cell {
        flow: String,
        id: String,
    },
    Intent(String),
    Entity(String),
    /// A session variable.
    Variable(String),
}

impl Symbol {
    /// The name as written.
    #[must_use]
    pub fn name(&self) -> &str {
        match self {
            Symbol::Flow(name)
            | Symbol::Intent(name)
            | Symbol::Entity(name)
            | Symbol::Variable(name)
            | Symbol::Cell { id: name, .. } => name,
        }
    }

    /// What the symbol is, in words (`flow`, `cell`, …).
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Symbol::Flow(_) => "flow",
            Symbol::Cell { .. } => "cell",
            Symbol::Intent(_) => "intent",
            Symbol::Entity(_) => "entity",
            Symbol::Variable(_) => "variable",
        }
    }
}

/// Whether an occurrence defines its symbol or uses it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// A flow's, cell's, intent's or entity's own name; for a variable,
    /// a place that assigns it (an input, a service's `save` or `status`,
    /// a script, `bot.context`).
    Definition,
    Reference,
}

/// One name as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Occurrence {
    pub symbol: Symbol,
    pub span: Span,
    pub role: Role,
}

/// Every occurrence of a bot, by file.
#[derive(Debug, Default)]
pub(super) struct Index {
    by_file: HashMap<FileId, Vec<Occurrence>>,
}

impl Index {
    pub(super) fn build(checked: &Checked) -> Index {
        let mut builder = Builder {
            sources: &checked.sources,
            prepared: &checked.prepared,
            cells: HashMap::new(),
            flows: HashSet::new(),
            found: Vec::new(),
        };
        builder.bot(&checked.bot);
        let mut by_file: HashMap<FileId, Vec<Occurrence>> = HashMap::new();
        for occurrence in builder.found {
            if let Some(file) = occurrence.span.file() {
                by_file.entry(file).or_default().push(occurrence);
            }
        }
        for list in by_file.values_mut() {
            list.sort_by_key(|o| o.span.range().map(|r| (r.start, r.end)));
            list.dedup();
        }
        Index { by_file }
    }

    /// The occurrence at a byte offset of a file (its end counts, so a
    /// cursor just after a name finds it).
    pub(super) fn at(&self, file: FileId, offset: usize) -> Option<&Occurrence> {
        self.by_file.get(&file)?.iter().find(|o| {
            o.span
                .range()
                .is_some_and(|r| r.start <= offset && offset <= r.end)
        })
    }

    pub(super) fn all(&self) -> impl Iterator<Item = &Occurrence> {
        self.by_file.values().flatten()
    }

    /// Occurrences of one file, in order.
    pub(super) fn in_file(&self, file: FileId) -> &[Occurrence] {
        self.by_file.get(&file).map_or(&[], Vec::as_slice)
    }
}

struct Builder<'a> {
    sources: &'a SourceMap,
    prepared: &'a crate::check::Prepared,
    /// Flow name → its cell ids.
    cells: HashMap<&'a str, HashSet<&'a str>>,
    flows: HashSet<&'a str>,
    found: Vec<Occurrence>,
}

/// The byte range of `name` as a whole word in `text`, at or after `from`.
fn find_word(text: &str, name: &str, from: usize) -> Option<usize> {
    let is_name_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    let mut at = from;
    while let Some(found) = text.get(at..)?.find(name) {
        let start = at + found;
        let end = start + name.len();
        let before = text[..start].chars().next_back();
        let after = text[end..].chars().next();
        if !before.is_some_and(is_name_char) && !after.is_some_and(is_name_char) {
            return Some(start);
        }
        at = start + name.len().max(1);
    }
    None
}

impl<'a> Builder<'a> {
    /// Records `name` at the part of `span` that spells it exactly (from
    /// `from` bytes into the span).
    fn add(&mut self, symbol: Symbol, span: Span, from: usize, role: Role) {
        let Some(snippet) = self.sources.snippet(span) else {
            return;
        };
        if let Some(start) = find_word(snippet, symbol.name(), from) {
            let span = span.slice(start, start + symbol.name().len());
            self.found.push(Occurrence { symbol, span, role });
        }
    }

    fn name(&mut self, symbol: Symbol, name: &ast::Name, role: Role) {
        self.add(symbol, name.span, 0, role);
    }

    fn bot(&mut self, bot: &'a ast::Bot) {
        for flow in &bot.flows {
            self.flows.insert(&flow.name.value);
            let ids = self.cells.entry(&flow.name.value).or_default();
            ids.extend(
                flow.cells
                    .iter()
                    .filter_map(|c| c.id.as_ref())
                    .map(|n| n.value.as_str()),
            );
        }
        let settings = &bot.settings;
        for name in &settings.context {
            self.name(Symbol::Variable(name.value.clone()), name, Role::Definition);
        }
        for name in settings.hidden.iter().chain(&settings.readonly) {
            self.name(Symbol::Variable(name.value.clone()), name, Role::Reference);
        }
        if let Some(name) = &settings.name {
            self.text(name);
        }
        if let Some(message) = settings
            .inactivity
            .as_ref()
            .and_then(|i| i.message.as_ref())
        {
            self.localized(message);
        }
        for intent in &bot.intents {
            self.name(
                Symbol::Intent(intent.name.value.clone()),
                &intent.name,
                Role::Definition,
            );
        }
        for entity in &bot.entities {
            self.name(
                Symbol::Entity(entity.name.value.clone()),
                &entity.name,
                Role::Definition,
            );
        }
        for flow in &bot.flows {
            let name = &flow.name.value;
            self.name(Symbol::Flow(name.clone()), &flow.name, Role::Definition);
            match flow.trigger.as_ref().map(|t| &t.value) {
                Some(ast::Trigger::Intent(intent)) => {
                    self.name(
                        Symbol::Intent(intent.value.clone()),
                        intent,
                        Role::Reference,
                    );
                }
                Some(ast::Trigger::Entity(entity)) => {
                    self.name(
                        Symbol::Entity(entity.value.clone()),
                        entity,
                        Role::Reference,
                    );
                }
                _ => {}
            }
            for cell in &flow.cells {
                self.cell(name, cell);
            }
        }
    }

    /// A target written in `flow`, as the lowerer resolves it.
    fn target(&mut self, flow: &str, target: &Target) {
        let Some(snippet) = self.sources.snippet(target.span) else {
            return;
        };
        match &target.flow {
            Some(other) => {
                self.add(
                    Symbol::Flow(other.value.clone()),
                    target.span,
                    0,
                    Role::Reference,
                );
                // The cell's name comes after the dot.
                let dot = find_word(snippet, &other.value, 0)
                    .map_or(0, |start| start + other.value.len());
                self.add(
                    Symbol::Cell {
                        flow: other.value.clone(),
                        id: target.name.value.clone(),
                    },
                    target.span,
                    dot,
                    Role::Reference,
                );
            }
            None => {
                let name = &target.name.value;
                let local = self
                    .cells
                    .get(flow)
                    .is_some_and(|ids| ids.contains(name.as_str()));
                let symbol = if local {
                    Symbol::Cell {
                        flow: flow.to_owned(),
                        id: name.clone(),
                    }
                } else if self.flows.contains(name.as_str()) {
                    Symbol::Flow(name.clone())
                } else {
                    return;
                };
                self.add(symbol, target.span, 0, Role::Reference);
            }
        }
    }

    fn variable(&mut self, name: &ast::Name, role: Role) {
        self.name(Symbol::Variable(name.value.clone()), name, role);
    }

    fn cell(&mut self, flow: &str, cell: &'a ast::Cell) {
        if let Some(id) = &cell.id {
            let symbol = Symbol::Cell {
                flow: flow.to_owned(),
                id: id.value.clone(),
            };
            self.name(symbol, id, Role::Definition);
        }
        if let Some(next) = &cell.next {
            self.target(flow, next);
        }
        for text in cell.kind.localized() {
            self.localized(text);
        }
        match &cell.kind {
            CellKind::Answer(answer) => {
                let buttons = answer
                    .buttons
                    .iter()
                    .chain(answer.cards.iter().flat_map(|c| &c.buttons));
                for button in buttons {
                    self.opt_text(button.value.as_ref());
                    self.opt_text(button.url.as_ref());
                }
                for reply in &answer.quick_replies {
                    self.opt_text(reply.value.as_ref());
                }
                for card in &answer.cards {
                    self.opt_text(card.image.as_ref());
                }
                if let Some(media) = &answer.media {
                    self.text(&media.url);
                    self.opt_text(media.name.as_ref());
                }
                if let Some(location) = &answer.location {
                    self.text(&location.lat);
                    self.text(&location.lng);
                }
                if let Some(link) = &answer.link {
                    self.text(&link.url);
                    self.opt_text(link.image.as_ref());
                }
            }
            CellKind::Input(input) => {
                self.variable(&input.var, Role::Definition);
                if let Some(entity) = &input.entity {
                    self.name(
                        Symbol::Entity(entity.value.clone()),
                        entity,
                        Role::Reference,
                    );
                }
                if let Some(target) = &input.on_fail {
                    self.target(flow, target);
                }
            }
            CellKind::Rule(rule) => {
                for arm in &rule.arms {
                    self.script(&arm.when, true);
                    self.target(flow, &arm.goto);
                }
                if let Some(target) = &rule.otherwise {
                    self.target(flow, target);
                }
            }
            CellKind::Code(script) => self.script(script, false),
            CellKind::Jump(jump) => self.target(flow, &jump.to),
            CellKind::Intent(switch) => {
                for (intent, target) in &switch.routes {
                    self.name(
                        Symbol::Intent(intent.value.clone()),
                        intent,
                        Role::Reference,
                    );
                    self.target(flow, target);
                }
                if let Some(target) = &switch.otherwise {
                    self.target(flow, target);
                }
            }
            CellKind::Service(service) => {
                self.text(&service.url);
                for (_, value) in &service.headers {
                    self.text(value);
                }
                match &service.body {
                    Some(Body::Template(text)) => self.text(text),
                    Some(Body::Json(json)) => self.json(&json.value, json.span),
                    None => {}
                }
                for name in service.save.iter().chain(&service.status) {
                    self.variable(name, Role::Definition);
                }
                if let Some(target) = &service.on_error {
                    self.target(flow, target);
                }
            }
            CellKind::Track(track) => {
                if let Some(properties) = &track.properties {
                    self.json(&properties.value, properties.span);
                }
            }
            CellKind::Handoff(handoff) => {
                self.text(&handoff.queue);
                self.opt_text(handoff.reason.as_ref());
            }
            CellKind::End(_) => {}
        }
    }

    fn localized(&mut self, text: &Localized) {
        for (_, value, span) in text.each() {
            self.template(value, span);
        }
    }

    fn text(&mut self, text: &Text) {
        self.template(&text.value, text.span);
    }

    fn opt_text(&mut self, text: Option<&Text>) {
        if let Some(text) = text {
            self.text(text);
        }
    }

    fn json(&mut self, value: &serde_json::Value, span: Span) {
        match value {
            serde_json::Value::String(s) => self.template(s, span),
            serde_json::Value::Array(items) => {
                for item in items {
                    self.json(item, span);
                }
            }
            serde_json::Value::Object(map) => {
                for item in map.values() {
                    self.json(item, span);
                }
            }
            _ => {}
        }
    }

    /// The variables (and `input.entities.X` entities) a template names.
    fn template(&mut self, value: &str, span: Span) {
        if !value.contains("{{") {
            return;
        }
        let parsed = match self.prepared.template(value) {
            Some(parsed) => parsed,
            None => match crate::template::parse(value) {
                Ok(parsed) => parsed,
                Err(_) => return,
            },
        };
        for var in parsed.vars() {
            let placeholder = &value[var.range.clone()];
            let mut segments = var.path.iter().filter_map(|s| match s {
                crate::template::Segment::Field(name) => Some(name.as_str()),
                crate::template::Segment::Index(_) => None,
            });
            let root = var.root();
            let (symbol, name) = match (segments.next(), segments.next(), segments.next()) {
                (Some("input"), Some("entities"), Some(entity)) => {
                    (Symbol::Entity(entity.to_owned()), entity)
                }
                _ if crate::script::BUILTINS.contains(&root) || root.is_empty() => continue,
                _ => (Symbol::Variable(root.to_owned()), root),
            };
            let from = if matches!(symbol, Symbol::Entity(_)) {
                placeholder.find("entities").unwrap_or(0)
            } else {
                0
            };
            let Some(at) = find_word(placeholder, name, from) else {
                continue;
            };
            let start = var.range.start + at;
            self.located(
                symbol,
                span,
                value,
                start..start + name.len(),
                Role::Reference,
            );
        }
    }

    /// Records a name found at `range` of an AST string whose text sits at
    /// `span` (through quotes, escapes and block indentation), when its
    /// place in the file spells it exactly.
    fn located(
        &mut self,
        symbol: Symbol,
        span: Span,
        value: &str,
        range: std::ops::Range<usize>,
        role: Role,
    ) {
        let at = crate::check::locate(self.sources, span, value, range);
        if self.sources.snippet(at) == Some(symbol.name()) {
            self.found.push(Occurrence {
                symbol,
                span: at,
                role,
            });
        }
    }

    fn script(&mut self, script: &ast::Script, expression: bool) {
        let source = &script.source;
        let Some(ast) = self.prepared.script(&source.value, expression) else {
            return;
        };
        for mention in crate::script::mentions(&ast) {
            let access = mention.access;
            if crate::script::BUILTINS.contains(&access.name.as_str()) {
                continue;
            }
            let start = crate::source::offset_of(&source.value, access.line, access.column);
            let role = if mention.assigned {
                Role::Definition
            } else {
                Role::Reference
            };
            let range = start..start + access.name.len();
            self.located(
                Symbol::Variable(access.name),
                source.span,
                &source.value,
                range,
                role,
            );
        }
    }
}
