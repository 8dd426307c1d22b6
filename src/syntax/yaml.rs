//! The YAML front end: a `*.flow.yaml` file (docs/LANGUAGE.md) to a [`Module`].
//!
//! It reads the file into a spanned tree (`node.rs`) and walks it, checking
//! the shape of every construct: unknown or missing fields, values of the
//! wrong type, names that are not names. Each problem becomes a diagnostic and
//! the walk goes on, so one run reports them all. What it promises: every AST
//! node it returns carries the span of the YAML it came from.

use crate::ast::{
    Answer, Body, Button, CELL_KINDS, Card, Cell, CellKind, End, Entity, EntityKind, EntityValue,
    Flow, Handoff, Input, Intent, IntentSwitch, Jump, Media, MediaKind, Method, Module, Name, Pick,
    QuickReply, Rule, RuleArm, Script, Service, Settings, Spanned, Target, Trigger,
};
use crate::diagnostic::{Diagnostic, NameKind, Problem, suggest};
use crate::source::{FileId, Span};
use crate::syntax::node::{self, Node, Value};

/// Parses a flow file written in YAML.
#[must_use]
pub fn parse(file: FileId, text: &str) -> (Module, Vec<Diagnostic>) {
    let mut walker = Walker {
        text,
        diagnostics: Vec::new(),
    };
    let module = match node::parse(file, text) {
        Ok(Some(root)) => walker.module(&root),
        Ok(None) => Module::default(),
        Err(diagnostic) => {
            walker.diagnostics.push(diagnostic);
            Module::default()
        }
    };
    (module, walker.diagnostics)
}

/// Parses `cellflow.yaml`: bot settings at the top level.
#[must_use]
pub fn parse_settings(file: FileId, text: &str) -> (Settings, Vec<Diagnostic>) {
    let mut walker = Walker {
        text,
        diagnostics: Vec::new(),
    };
    let settings = match node::parse(file, text) {
        Ok(Some(root)) => walker.settings(&root),
        Ok(None) => Settings::default(),
        Err(diagnostic) => {
            walker.diagnostics.push(diagnostic);
            Settings::default()
        }
    };
    (settings, walker.diagnostics)
}

struct Walker<'t> {
    text: &'t str,
    diagnostics: Vec<Diagnostic>,
}

/// The entries of a YAML map, after unknown and repeated keys were reported.
struct Fields<'n> {
    entries: Vec<(&'n str, &'n Node, &'n Node)>,
}

impl<'n> Fields<'n> {
    fn get(&self, key: &str) -> Option<&'n Node> {
        self.entries
            .iter()
            .find(|(k, _, _)| *k == key)
            .map(|(_, _, v)| *v)
    }

    fn key_span(&self, key: &str) -> Option<Span> {
        self.entries
            .iter()
            .find(|(k, _, _)| *k == key)
            .map(|(_, k, _)| k.span)
    }
}

impl<'t> Walker<'t> {
    fn report(&mut self, problem: Problem, span: Span) {
        self.diagnostics.push(Diagnostic::new(problem, span));
    }

    fn invalid(&mut self, field: &str, expected: &'static str, span: Span) {
        self.report(
            Problem::InvalidValue {
                field: field.to_owned(),
                expected,
            },
            span,
        );
    }

    /// The text of a scalar as the author wrote it. A plain `yes` or `12`
    /// arrives as a boolean or number; where a string is wanted, the source
    /// text is what the author meant.
    fn scalar_text(&self, node: &Node) -> Option<String> {
        match &node.value {
            Value::Str(s) => Some(s.clone()),
            Value::Bool(_) | Value::Int(_) | Value::Float(_) => {
                let range = node.span.range()?;
                self.text
                    .get(range)
                    .map(|s| s.trim().trim_matches(['"', '\'']).to_owned())
            }
            Value::Null | Value::Seq(_) | Value::Map(_) => None,
        }
    }

    fn entries<'n>(&mut self, node: &'n Node, field: &str) -> Option<&'n [(Node, Node)]> {
        match &node.value {
            Value::Map(entries) => Some(entries),
            Value::Null => Some(&[]),
            _ => {
                self.invalid(field, "a map", node.span);
                None
            }
        }
    }

    fn items<'n>(&mut self, node: &'n Node, field: &str) -> &'n [Node] {
        match &node.value {
            Value::Seq(items) => items,
            Value::Null => &[],
            _ => {
                self.invalid(field, "a list", node.span);
                &[]
            }
        }
    }

    /// Reads a map with a fixed set of fields, reporting unknown and repeated keys.
    fn fields<'n>(
        &mut self,
        node: &'n Node,
        field: &str,
        context: &'static str,
        allowed: &[&str],
    ) -> Option<Fields<'n>>
    where
        't: 'n,
    {
        let entries = self.entries(node, field)?;
        let mut fields = Fields {
            entries: Vec::with_capacity(entries.len()),
        };
        for (key, value) in entries {
            let Some(name) = self.key(key) else { continue };
            if !allowed.contains(&name) {
                let suggestion = suggest(name, allowed.iter().copied());
                self.report(
                    Problem::UnknownField {
                        field: name.to_owned(),
                        context,
                        suggestion,
                    },
                    key.span,
                );
            } else if fields.get(name).is_some() {
                self.report(
                    Problem::DuplicateField {
                        field: name.to_owned(),
                    },
                    key.span,
                );
            } else {
                fields.entries.push((name, key, value));
            }
        }
        Some(fields)
    }

    /// A map key as written. A plain key the YAML schema read as a number
    /// or boolean is taken by its source text.
    fn key<'n>(&mut self, key: &'n Node) -> Option<&'n str>
    where
        't: 'n,
    {
        match &key.value {
            Value::Str(s) => Some(s),
            Value::Bool(_) | Value::Int(_) | Value::Float(_) => {
                let range = key.span.range()?;
                self.text
                    .get(range)
                    .map(|s| s.trim_matches(['"', '\'', ' ']))
            }
            _ => {
                self.invalid("key", "a string", key.span);
                None
            }
        }
    }

    fn string(&mut self, node: &Node, field: &str) -> Option<Spanned<String>> {
        match self.scalar_text(node) {
            Some(s) => Some(Spanned::new(s, node.span)),
            None => {
                self.invalid(field, "a string", node.span);
                None
            }
        }
    }

    fn opt_string(&mut self, fields: &Fields<'_>, field: &str) -> Option<Spanned<String>> {
        fields.get(field).and_then(|n| self.string(n, field))
    }

    fn strings(&mut self, node: &Node, field: &str) -> Vec<Spanned<String>> {
        let items = self.items(node, field);
        items.iter().filter_map(|n| self.string(n, field)).collect()
    }

    fn name(&mut self, node: &Node, kind: NameKind, field: &str) -> Option<Name> {
        let text = self.string(node, field)?;
        if crate::ast::is_name(&text.value) {
            Some(text)
        } else {
            self.report(
                Problem::InvalidName {
                    name: text.value,
                    kind,
                },
                node.span,
            );
            None
        }
    }

    fn bool(&mut self, fields: &Fields<'_>, field: &str) -> bool {
        match fields.get(field).map(|n| (&n.value, n.span)) {
            None | Some((Value::Null, _)) => false,
            Some((Value::Bool(b), _)) => *b,
            Some((_, span)) => {
                self.invalid(field, "true or false", span);
                false
            }
        }
    }

    fn number(&mut self, fields: &Fields<'_>, field: &str) -> Option<Spanned<f64>> {
        let node = fields.get(field)?;
        match node.value {
            #[allow(clippy::cast_precision_loss)]
            Value::Int(i) => Some(Spanned::new(i as f64, node.span)),
            Value::Float(f) if f.is_finite() => Some(Spanned::new(f, node.span)),
            _ => {
                self.invalid(field, "a number", node.span);
                None
            }
        }
    }

    fn unsigned(
        &mut self,
        fields: &Fields<'_>,
        field: &str,
        expected: &'static str,
    ) -> Option<Spanned<u64>> {
        let node = fields.get(field)?;
        match node.value {
            Value::Int(i) if i >= 0 => Some(Spanned::new(i.unsigned_abs(), node.span)),
            _ => {
                self.invalid(field, expected, node.span);
                None
            }
        }
    }

    fn one_of<T: Copy>(
        &mut self,
        node: &Node,
        field: &str,
        options: &[(&str, T)],
        expected: &'static str,
    ) -> Option<Spanned<T>> {
        let text = self.string(node, field)?;
        match options
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(&text.value))
        {
            Some((_, value)) => Some(Spanned::new(*value, node.span)),
            None => {
                self.invalid(field, expected, node.span);
                None
            }
        }
    }

    fn target(&mut self, node: &Node, field: &str) -> Option<Target> {
        let text = self.string(node, field)?;
        parse_target(&text.value, node.span).or_else(|| {
            self.report(
                Problem::InvalidName {
                    name: text.value,
                    kind: NameKind::Cell,
                },
                node.span,
            );
            None
        })
    }

    fn opt_target(&mut self, fields: &Fields<'_>, field: &str) -> Option<Target> {
        fields.get(field).and_then(|n| self.target(n, field))
    }

    fn script(&mut self, node: &Node, field: &str) -> Option<Script> {
        let text = self.string(node, field)?;
        Some(Script {
            source: Spanned::new(crate::ast::normalize_script(&text.value), text.span),
        })
    }

    fn json(&self, node: &Node) -> serde_json::Value {
        node.to_json(self.text)
    }

    // ---- the document ----------------------------------------------------

    fn module(&mut self, root: &Node) -> Module {
        let mut module = Module::default();
        let Some(fields) = self.fields(
            root,
            "file",
            "a flow file",
            &["bot", "intents", "entities", "flows"],
        ) else {
            return module;
        };
        if let Some(bot) = fields.get("bot") {
            module.bot = Some(self.settings(bot));
        }
        if let Some(intents) = fields.get("intents") {
            module.intents = self.named(intents, "intents", NameKind::Intent, Self::intent);
        }
        if let Some(entities) = fields.get("entities") {
            module.entities = self.named(entities, "entities", NameKind::Entity, Self::entity);
        }
        if let Some(flows) = fields.get("flows") {
            module.flows = self.named(flows, "flows", NameKind::Flow, Self::flow);
        }
        module
    }

    /// Walks a map of `NAME: definition`, in order.
    fn named<T>(
        &mut self,
        node: &Node,
        field: &str,
        kind: NameKind,
        each: fn(&mut Self, Name, &Node) -> Option<T>,
    ) -> Vec<T> {
        let Some(entries) = self.entries(node, field) else {
            return Vec::new();
        };
        entries
            .iter()
            .filter_map(|(key, value)| {
                let name = self.name(key, kind, field)?;
                each(self, name, value)
            })
            .collect()
    }

    fn settings(&mut self, node: &Node) -> Settings {
        let mut settings = Settings {
            span: node.span,
            ..Settings::default()
        };
        let Some(fields) = self.fields(
            node,
            "bot",
            "bot settings",
            &["name", "locale", "nlu", "context", "hidden", "readonly"],
        ) else {
            return settings;
        };
        settings.name = self.opt_string(&fields, "name");
        settings.locale = self.opt_string(&fields, "locale");
        if let Some(nlu) = fields.get("nlu")
            && let Some(nlu) =
                self.fields(nlu, "nlu", "NLU settings", &["threshold", "out_of_scope"])
        {
            if let Some(list) = nlu.get("out_of_scope") {
                settings.out_of_scope = self.strings(list, "out_of_scope");
            }
            settings.threshold = self.number(&nlu, "threshold");
            if let Some(t) = &settings.threshold
                && !(0.0..=1.0).contains(&t.value)
            {
                self.invalid("threshold", "a number from 0 to 1", t.span);
                settings.threshold = None;
            }
        }
        for (field, names) in [
            ("context", &mut settings.context),
            ("hidden", &mut settings.hidden),
            ("readonly", &mut settings.readonly),
        ] {
            if let Some(list) = fields.get(field) {
                let items = self.items(list, field);
                *names = items
                    .iter()
                    .filter_map(|n| self.name(n, NameKind::Field, field))
                    .collect();
            }
        }
        settings
    }

    fn intent(&mut self, name: Name, node: &Node) -> Option<Intent> {
        let fields = self.fields(
            node,
            &name.value,
            "an intent",
            &["examples", "patterns", "global"],
        )?;
        let examples = fields
            .get("examples")
            .map(|n| self.strings(n, "examples"))
            .unwrap_or_default();
        let patterns = fields
            .get("patterns")
            .map(|n| self.strings(n, "patterns"))
            .unwrap_or_default();
        let global = self.bool(&fields, "global");
        Some(Intent {
            comments: Vec::new(),
            name,
            examples,
            patterns,
            global,
        })
    }

    fn entity(&mut self, name: Name, node: &Node) -> Option<Entity> {
        let fields = self.fields(node, &name.value, "an entity", &["values", "pattern"])?;
        let kind = match (fields.get("values"), fields.get("pattern")) {
            (Some(_), Some(_)) => {
                let span = fields.key_span("pattern").unwrap_or(node.span);
                self.invalid("pattern", "absent when `values` is given", span);
                return None;
            }
            (None, Some(pattern)) => EntityKind::Pattern(self.string(pattern, "pattern")?),
            (Some(values), None) => EntityKind::List(self.entity_values(values)),
            (None, None) => {
                self.report(
                    Problem::MissingField {
                        field: "values",
                        context: "an entity",
                    },
                    name.span,
                );
                return None;
            }
        };
        Some(Entity {
            comments: Vec::new(),
            name,
            kind,
        })
    }

    fn entity_values(&mut self, node: &Node) -> Vec<EntityValue> {
        match &node.value {
            // `values: [a, b]`: canonical values with no synonyms.
            Value::Seq(items) => items
                .iter()
                .filter_map(|n| {
                    let name = self.string(n, "values")?;
                    Some(EntityValue {
                        name,
                        synonyms: Vec::new(),
                    })
                })
                .collect(),
            _ => {
                let Some(entries) = self.entries(node, "values") else {
                    return Vec::new();
                };
                entries
                    .iter()
                    .filter_map(|(k, v)| {
                        let name = self.string(k, "values")?;
                        let synonyms = self.strings(v, "synonyms");
                        Some(EntityValue { name, synonyms })
                    })
                    .collect()
            }
        }
    }

    fn flow(&mut self, name: Name, node: &Node) -> Option<Flow> {
        let fields = self.fields(node, &name.value, "a flow", &["on", "cells"])?;
        let trigger = fields.get("on").and_then(|n| self.trigger(n));
        let cells = match fields.get("cells") {
            Some(cells) => {
                let items = self.items(cells, "cells");
                items.iter().filter_map(|n| self.cell(n)).collect()
            }
            None => {
                self.report(
                    Problem::MissingField {
                        field: "cells",
                        context: "a flow",
                    },
                    name.span,
                );
                Vec::new()
            }
        };
        Some(Flow {
            comments: Vec::new(),
            name,
            trigger,
            cells,
            span: node.span,
        })
    }

    fn trigger(&mut self, node: &Node) -> Option<Spanned<Trigger>> {
        const EXPECTED: &str = "`welcome`, `fallback`, `{intent: NAME}` or `{entity: NAME}`";
        let trigger = match &node.value {
            Value::Str(s) if s == "welcome" => Trigger::Welcome,
            Value::Str(s) if s == "fallback" => Trigger::Fallback,
            Value::Map(entries) if entries.len() == 1 => {
                let (key, value) = &entries[0];
                match self.scalar_text(key).as_deref() {
                    Some("intent") => {
                        Trigger::Intent(self.name(value, NameKind::Intent, "intent")?)
                    }
                    Some("entity") => {
                        Trigger::Entity(self.name(value, NameKind::Entity, "entity")?)
                    }
                    _ => {
                        self.invalid("on", EXPECTED, node.span);
                        return None;
                    }
                }
            }
            _ => {
                self.invalid("on", EXPECTED, node.span);
                return None;
            }
        };
        Some(Spanned::new(trigger, node.span))
    }

    // ---- cells -------------------------------------------------------------

    fn cell(&mut self, node: &Node) -> Option<Cell> {
        let entries: &[(Node, Node)] = match &node.value {
            Value::Str(s) if s == "end" => {
                return Some(Cell {
                    comments: Vec::new(),
                    id: None,
                    next: None,
                    kind: CellKind::End(End::default()),
                    span: node.span,
                });
            }
            Value::Str(s) => {
                let suggestion = suggest(s, CELL_KINDS);
                self.report(
                    Problem::UnknownCellKind {
                        found: s.clone(),
                        suggestion,
                    },
                    node.span,
                );
                return None;
            }
            Value::Map(entries) => entries,
            _ => {
                self.invalid("cells", "a list of cells", node.span);
                return None;
            }
        };
        let mut id = None;
        let mut next = None;
        let mut kind: Option<(&str, &Node, &Node)> = None;
        let mut unknown = Vec::new();
        for (key, value) in entries {
            let Some(name) = self.key(key) else { continue };
            match name {
                "id" => id = self.name(value, NameKind::Cell, "id"),
                "next" => next = self.target(value, "next"),
                k if CELL_KINDS.contains(&k) => match kind {
                    Some((first, _, _)) => self.report(
                        Problem::MultipleKinds {
                            first: first.to_owned(),
                            second: k.to_owned(),
                        },
                        key.span,
                    ),
                    None => kind = Some((k, key, value)),
                },
                other => unknown.push((other, key.span)),
            }
        }
        let Some((keyword, key, value)) = kind else {
            // A single unknown key is most likely a misspelt kind.
            match unknown.as_slice() {
                [(found, span)] => {
                    let suggestion = suggest(found, CELL_KINDS);
                    self.report(
                        Problem::UnknownCellKind {
                            found: (*found).to_owned(),
                            suggestion,
                        },
                        *span,
                    );
                }
                _ => {
                    for (field, span) in &unknown {
                        let suggestion = suggest(field, CELL_KINDS);
                        self.report(
                            Problem::UnknownField {
                                field: (*field).to_owned(),
                                context: "a cell",
                                suggestion,
                            },
                            *span,
                        );
                    }
                    self.report(Problem::MissingKind, node.span);
                }
            }
            return None;
        };
        for (field, span) in unknown {
            let suggestion = suggest(field, ["id", "next"]);
            self.report(
                Problem::UnknownField {
                    field: field.to_owned(),
                    context: "a cell",
                    suggestion,
                },
                span,
            );
        }
        let kind = match keyword {
            "answer" => CellKind::Answer(Box::new(self.answer(value)?)),
            "input" => CellKind::Input(Box::new(self.input(key, value)?)),
            "rule" => CellKind::Rule(self.rule(value)),
            "code" => CellKind::Code(self.script(value, "code")?),
            "jump" => CellKind::Jump(self.jump(value)?),
            "intent" => CellKind::Intent(self.intent_switch(value)?),
            "service" => CellKind::Service(Box::new(self.service(key, value)?)),
            "handoff" => CellKind::Handoff(self.handoff(key, value)?),
            _ => CellKind::End(self.end(value)?),
        };
        Some(Cell {
            comments: Vec::new(),
            id,
            next,
            kind,
            span: node.span,
        })
    }

    fn answer(&mut self, node: &Node) -> Option<Answer> {
        if !matches!(node.value, Value::Map(_)) {
            return Some(Answer {
                text: vec![self.string(node, "answer")?],
                ..Answer::default()
            });
        }
        let fields = self.fields(
            node,
            "answer",
            "an answer",
            &[
                "text",
                "pick",
                "buttons",
                "quick_replies",
                "cards",
                "media",
                "custom",
                "evaluable",
            ],
        )?;
        let mut answer = Answer::default();
        if let Some(text) = fields.get("text") {
            answer.text = match &text.value {
                Value::Seq(_) => self.strings(text, "text"),
                _ => self.string(text, "text").into_iter().collect(),
            };
        }
        answer.pick = fields
            .get("pick")
            .and_then(|n| self.one_of(n, "pick", &Pick::ALL, "`random`, `sequence` or `first`"));
        if let Some(buttons) = fields.get("buttons") {
            answer.buttons = self.buttons(buttons);
        }
        if let Some(replies) = fields.get("quick_replies") {
            let items = self.items(replies, "quick_replies");
            answer.quick_replies = items
                .iter()
                .filter_map(|n| {
                    if let Value::Map(_) = n.value {
                        let f =
                            self.fields(n, "quick_replies", "a quick reply", &["label", "value"])?;
                        let label = self.required_string(&f, "label", "a quick reply", n.span)?;
                        Some(QuickReply {
                            label,
                            value: self.opt_string(&f, "value"),
                        })
                    } else {
                        Some(QuickReply {
                            label: self.string(n, "quick_replies")?,
                            value: None,
                        })
                    }
                })
                .collect();
        }
        if let Some(cards) = fields.get("cards") {
            let items = self.items(cards, "cards");
            answer.cards = items
                .iter()
                .filter_map(|n| {
                    let f = self.fields(
                        n,
                        "cards",
                        "a card",
                        &["title", "subtitle", "image", "buttons"],
                    )?;
                    let title = self.required_string(&f, "title", "a card", n.span)?;
                    let buttons = f
                        .get("buttons")
                        .map(|b| self.buttons(b))
                        .unwrap_or_default();
                    Some(Card {
                        title,
                        subtitle: self.opt_string(&f, "subtitle"),
                        image: self.opt_string(&f, "image"),
                        buttons,
                    })
                })
                .collect();
        }
        if let Some(media) = fields.get("media")
            && let Some(f) = self.fields(
                media,
                "media",
                "a media attachment",
                &["type", "url", "name"],
            )
        {
            let kind = match f.get("type") {
                Some(n) => self.one_of(
                    n,
                    "type",
                    &MediaKind::ALL,
                    "`image`, `audio`, `video` or `file`",
                ),
                None => {
                    self.report(
                        Problem::MissingField {
                            field: "type",
                            context: "a media attachment",
                        },
                        media.span,
                    );
                    None
                }
            };
            let url = self.required_string(&f, "url", "a media attachment", media.span);
            if let (Some(kind), Some(url)) = (kind, url) {
                answer.media = Some(Media {
                    kind,
                    url,
                    name: self.opt_string(&f, "name"),
                });
            }
        }
        answer.custom = fields
            .get("custom")
            .map(|n| Spanned::new(self.json(n), n.span));
        answer.evaluable = self.bool(&fields, "evaluable");
        if answer.text.is_empty()
            && answer.buttons.is_empty()
            && answer.cards.is_empty()
            && answer.media.is_none()
            && answer.custom.is_none()
            && answer.quick_replies.is_empty()
        {
            self.report(
                Problem::MissingField {
                    field: "text",
                    context: "an answer",
                },
                node.span,
            );
            return None;
        }
        Some(answer)
    }

    fn required_string(
        &mut self,
        fields: &Fields<'_>,
        field: &'static str,
        context: &'static str,
        span: Span,
    ) -> Option<Spanned<String>> {
        match fields.get(field) {
            Some(n) => self.string(n, field),
            None => {
                self.report(Problem::MissingField { field, context }, span);
                None
            }
        }
    }

    fn buttons(&mut self, node: &Node) -> Vec<Button> {
        let items = self.items(node, "buttons");
        items
            .iter()
            .filter_map(|n| {
                let f = self.fields(n, "buttons", "a button", &["label", "value", "url"])?;
                let label = self.required_string(&f, "label", "a button", n.span)?;
                Some(Button {
                    label,
                    value: self.opt_string(&f, "value"),
                    url: self.opt_string(&f, "url"),
                })
            })
            .collect()
    }

    fn input(&mut self, key: &Node, node: &Node) -> Option<Input> {
        let fields = self.fields(
            node,
            "input",
            "an input",
            &[
                "var", "type", "prompt", "options", "entity", "pattern", "min", "max", "invalid",
                "retries", "on_fail", "mask",
            ],
        )?;
        let Some(var) = fields
            .get("var")
            .and_then(|n| self.name(n, NameKind::Field, "var"))
        else {
            if fields.get("var").is_none() {
                self.report(
                    Problem::MissingField {
                        field: "var",
                        context: "an input",
                    },
                    key.span,
                );
            }
            return None;
        };
        let options = fields
            .get("options")
            .map(|n| self.strings(n, "options"))
            .unwrap_or_default();
        let retries = self
            .unsigned(&fields, "retries", "a whole number from 0 to 100")
            .and_then(|r| {
                if r.value > 100 {
                    self.invalid("retries", "a whole number from 0 to 100", r.span);
                    None
                } else {
                    Some(Spanned::new(u32::try_from(r.value).unwrap_or(100), r.span))
                }
            });
        Some(Input {
            var,
            ty: self.opt_string(&fields, "type"),
            prompt: self.opt_string(&fields, "prompt"),
            options,
            entity: fields
                .get("entity")
                .and_then(|n| self.name(n, NameKind::Entity, "entity")),
            pattern: self.opt_string(&fields, "pattern"),
            min: self.number(&fields, "min"),
            max: self.number(&fields, "max"),
            invalid: self.opt_string(&fields, "invalid"),
            retries,
            on_fail: self.opt_target(&fields, "on_fail"),
            mask: self.bool(&fields, "mask"),
        })
    }

    fn rule(&mut self, node: &Node) -> Rule {
        let items = self.items(node, "rule");
        let mut rule = Rule {
            arms: Vec::new(),
            otherwise: None,
        };
        for item in items {
            let Some(f) = self.fields(item, "rule", "a rule arm", &["when", "goto", "else"]) else {
                continue;
            };
            if let Some(otherwise) = f.get("else") {
                if f.get("when").is_some() || f.get("goto").is_some() {
                    self.invalid(
                        "else",
                        "alone in its arm, without `when` or `goto`",
                        item.span,
                    );
                    continue;
                }
                let target = self.target(otherwise, "else");
                if rule.otherwise.is_some() {
                    self.report(
                        Problem::DuplicateField {
                            field: "else".into(),
                        },
                        f.key_span("else").unwrap_or(item.span),
                    );
                } else {
                    rule.otherwise = target;
                }
                continue;
            }
            let when = match f.get("when") {
                Some(n) => self.script(n, "when"),
                None => {
                    self.report(
                        Problem::MissingField {
                            field: "when",
                            context: "a rule arm",
                        },
                        item.span,
                    );
                    None
                }
            };
            let goto = match f.get("goto") {
                Some(n) => self.target(n, "goto"),
                None => {
                    self.report(
                        Problem::MissingField {
                            field: "goto",
                            context: "a rule arm",
                        },
                        item.span,
                    );
                    None
                }
            };
            if let (Some(when), Some(goto)) = (when, goto) {
                rule.arms.push(RuleArm { when, goto });
            }
        }
        rule
    }

    fn jump(&mut self, node: &Node) -> Option<Jump> {
        if let Value::Map(_) = node.value {
            let f = self.fields(node, "jump", "a jump", &["to", "return"])?;
            let Some(to) = f.get("to") else {
                self.report(
                    Problem::MissingField {
                        field: "to",
                        context: "a jump",
                    },
                    node.span,
                );
                return None;
            };
            let to = self.target(to, "to")?;
            let returns = self.bool(&f, "return");
            return Some(Jump { to, returns });
        }
        Some(Jump {
            to: self.target(node, "jump")?,
            returns: false,
        })
    }

    fn intent_switch(&mut self, node: &Node) -> Option<IntentSwitch> {
        let entries = self.entries(node, "intent")?;
        let mut switch = IntentSwitch {
            routes: Vec::new(),
            otherwise: None,
        };
        for (key, value) in entries {
            let Some(name) = self.scalar_text(key) else {
                self.invalid("intent", "a map of intent names to targets", key.span);
                continue;
            };
            if name == "else" {
                switch.otherwise = self.target(value, "else");
                continue;
            }
            let Some(intent) = self.name(key, NameKind::Intent, "intent") else {
                continue;
            };
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
            if let Some(target) = self.target(value, &intent.value) {
                switch.routes.push((intent, target));
            }
        }
        Some(switch)
    }

    fn service(&mut self, key: &Node, node: &Node) -> Option<Service> {
        let f = self.fields(
            node,
            "service",
            "a service",
            &[
                "method",
                "url",
                "headers",
                "body",
                "timeout_ms",
                "save",
                "status",
                "on_error",
            ],
        )?;
        let Some(url) = f.get("url") else {
            self.report(
                Problem::MissingField {
                    field: "url",
                    context: "a service",
                },
                key.span,
            );
            return None;
        };
        let url = self.string(url, "url")?;
        let method = f.get("method").and_then(|n| {
            self.one_of(n, "method", &Method::ALL, "GET, POST, PUT, PATCH or DELETE")
        });
        let mut headers = Vec::new();
        if let Some(h) = f.get("headers")
            && let Some(entries) = self.entries(h, "headers")
        {
            for (k, v) in entries {
                if let (Some(k), Some(v)) = (self.string(k, "headers"), self.string(v, "headers")) {
                    headers.push((k, v));
                }
            }
        }
        let body = f.get("body").map(|n| match &n.value {
            Value::Str(s) => Body::Template(Spanned::new(s.clone(), n.span)),
            _ => Body::Json(Spanned::new(self.json(n), n.span)),
        });
        let timeout_ms = self.unsigned(&f, "timeout_ms", "a number of milliseconds");
        Some(Service {
            method,
            url,
            headers,
            body,
            timeout_ms,
            save: f
                .get("save")
                .and_then(|n| self.name(n, NameKind::Field, "save")),
            status: f
                .get("status")
                .and_then(|n| self.name(n, NameKind::Field, "status")),
            on_error: self.opt_target(&f, "on_error"),
        })
    }

    fn handoff(&mut self, key: &Node, node: &Node) -> Option<Handoff> {
        let f = self.fields(
            node,
            "handoff",
            "a handoff",
            &["queue", "reason", "message"],
        )?;
        let queue = self.required_string(&f, "queue", "a handoff", key.span)?;
        Some(Handoff {
            queue,
            reason: self.opt_string(&f, "reason"),
            message: self.opt_string(&f, "message"),
        })
    }

    fn end(&mut self, node: &Node) -> Option<End> {
        if let Value::Null = node.value {
            return Some(End::default());
        }
        let f = self.fields(node, "end", "an end", &["message"])?;
        Some(End {
            message: self.opt_string(&f, "message"),
        })
    }
}

/// Parses `NAME` or `FLOW.CELL`; `None` if it is neither.
#[must_use]
pub fn parse_target(text: &str, span: Span) -> Option<Target> {
    let text_trimmed = text.trim();
    match text_trimmed.split_once('.') {
        Some((flow, cell)) if crate::ast::is_name(flow) && crate::ast::is_name(cell) => {
            let flow_span = span.slice(0, flow.len());
            Some(Target {
                flow: Some(Spanned::new(flow.to_owned(), flow_span)),
                name: Spanned::new(cell.to_owned(), span),
                span,
            })
        }
        None if crate::ast::is_name(text_trimmed) => Some(Target {
            flow: None,
            name: Spanned::new(text_trimmed.to_owned(), span),
            span,
        }),
        _ => None,
    }
}
