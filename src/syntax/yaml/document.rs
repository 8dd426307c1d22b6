//! Reading a flow file's top level: the bot settings, intents, entities and flows.

use crate::ast::{
    Entity, EntityKind, EntityValue, Flow, Intent, Module, Name, Settings, Spanned, Trigger,
};
use crate::diagnostic::{NameKind, Problem};
use crate::syntax::node::{Node, Value};

use super::{Walker, keys};

impl Walker<'_> {
    pub(super) fn module(&mut self, root: &Node) -> Module {
        let mut module = Module::default();
        let Some(fields) = self.fields(root, "file", "a flow file", keys::FILE) else {
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
    pub(super) fn named<T>(
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

    pub(super) fn settings(&mut self, node: &Node) -> Settings {
        let mut settings = Settings {
            span: node.span,
            ..Settings::default()
        };
        let Some(fields) = self.fields(node, "bot", "bot settings", keys::SETTINGS) else {
            return settings;
        };
        settings.name = self.opt_string(&fields, "name");
        settings.locale = self.opt_string(&fields, "locale");
        settings.timezone = self.opt_string(&fields, "timezone");
        if let Some(list) = fields.get("languages") {
            settings.languages = self.strings(list, "languages");
        }
        settings.detect_language = self.bool(&fields, "detect_language");
        if let Some(node) = fields.get("messages")
            && let Some(messages) =
                self.fields(node, "messages", "the built-in messages", keys::MESSAGES)
        {
            for key in crate::ast::BUILTIN_MESSAGES {
                if let (Some(text), Some(span)) =
                    (self.opt_localized(&messages, key), messages.key_span(key))
                {
                    settings
                        .messages
                        .push((Spanned::new(key.to_owned(), span), text));
                }
            }
        }
        if let Some(nlu) = fields.get("nlu")
            && let Some(nlu) = self.fields(nlu, "nlu", "NLU settings", keys::NLU)
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
        if let Some(node) = fields.get("inactivity")
            && let Some(inactivity) = self.fields(
                node,
                "inactivity",
                "the inactivity setting",
                keys::INACTIVITY,
            )
        {
            let after =
                self.required_string(&inactivity, "after", "the inactivity setting", node.span);
            if let Some(after) = after {
                settings.inactivity = Some(crate::ast::Inactivity {
                    after,
                    message: self.opt_localized(&inactivity, "message"),
                    span: node.span,
                });
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

    pub(super) fn intent(&mut self, name: Name, node: &Node) -> Option<Intent> {
        let fields = self.fields(node, &name.value, "an intent", keys::INTENT)?;
        let (examples, examples_by_language) = fields
            .get("examples")
            .map(|n| self.strings_by_language(n, "examples"))
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
            examples_by_language,
            patterns,
            global,
        })
    }

    pub(super) fn entity(&mut self, name: Name, node: &Node) -> Option<Entity> {
        let fields = self.fields(node, &name.value, "an entity", keys::ENTITY)?;
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

    /// A list of strings for every language (`[a, b]`), or one list per
    /// language with `all:` for the shared ones (`{all: [a], es: [b]}`).
    fn strings_by_language(
        &mut self,
        node: &Node,
        field: &'static str,
    ) -> (Vec<Spanned<String>>, crate::ast::ByLanguage) {
        if !matches!(node.value, Value::Map(_)) {
            return (self.strings(node, field), Vec::new());
        }
        let mut shared = Vec::new();
        let mut by_language = Vec::new();
        for (key, list) in self.entries(node, field).unwrap_or_default() {
            if let Some(language) = self.string(key, field) {
                let list = self.strings(list, field);
                if language.value == "all" {
                    shared.extend(list);
                } else {
                    by_language.push((language, list));
                }
            }
        }
        (shared, by_language)
    }

    pub(super) fn entity_values(&mut self, node: &Node) -> Vec<EntityValue> {
        match &node.value {
            // `values: [a, b]`: canonical values with no synonyms.
            Value::Seq(items) => items
                .iter()
                .filter_map(|n| {
                    let name = self.string(n, "values")?;
                    Some(EntityValue {
                        name,
                        synonyms: Vec::new(),
                        synonyms_by_language: Vec::new(),
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
                        let (synonyms, synonyms_by_language) =
                            self.strings_by_language(v, "synonyms");
                        Some(EntityValue {
                            name,
                            synonyms,
                            synonyms_by_language,
                        })
                    })
                    .collect()
            }
        }
    }

    pub(super) fn flow(&mut self, name: Name, node: &Node) -> Option<Flow> {
        let fields = self.fields(node, &name.value, "a flow", keys::FLOW)?;
        let trigger = fields.get("on").and_then(|n| self.trigger(n));
        let timeout = self.opt_string(&fields, "timeout");
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
            timeout,
            cells,
            span: node.span,
        })
    }

    pub(super) fn trigger(&mut self, node: &Node) -> Option<Spanned<Trigger>> {
        const EXPECTED: &str =
            "`welcome`, `fallback`, `timeout`, `{intent: NAME}` or `{entity: NAME}`";
        let trigger = match &node.value {
            Value::Str(s) if s == "welcome" => Trigger::Welcome,
            Value::Str(s) if s == "fallback" => Trigger::Fallback,
            Value::Str(s) if s == "timeout" => Trigger::Timeout,
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
}
