//! Reading a flow file's top level: the bot settings, intents, entities and flows.

use pest::iterators::Pair;

use crate::ast::{
    Entity, EntityKind, EntityValue, Flow, Inactivity, Intent, Settings, Spanned, Trigger,
};
use crate::diagnostic::Problem;

use super::{DslParser, Rule};

impl DslParser {
    pub(super) fn bot(&mut self, pair: Pair<'_, Rule>) -> Settings {
        let mut settings = Settings {
            span: self.span(&pair),
            ..Settings::default()
        };
        for field in pair.into_inner() {
            let span = self.span(&field);
            let which = field.as_rule();
            if which == Rule::bot_detect_language {
                settings.detect_language = true;
                continue;
            }
            if which == Rule::bot_inactivity {
                let inactivity = self.inactivity(field);
                if let Some(inactivity) = inactivity {
                    self.once(&mut settings.inactivity, inactivity, "inactivity", span);
                }
                continue;
            }
            if which == Rule::bot_messages {
                for message in field.into_inner() {
                    let mut parts = message.into_inner();
                    let key = self.ident(parts.next().expect("a message has a name"));
                    let text = self.phrase(parts.next().expect("a message has a text"));
                    if !crate::ast::BUILTIN_MESSAGES.contains(&key.value.as_str()) {
                        let suggestion =
                            crate::diagnostic::suggest(&key.value, crate::ast::BUILTIN_MESSAGES);
                        self.report(
                            Problem::UnknownField {
                                field: key.value,
                                context: "the built-in messages",
                                suggestion,
                            },
                            key.span,
                        );
                    } else if settings.messages.iter().any(|(k, _)| k.value == key.value) {
                        self.report(Problem::DuplicateField { field: key.value }, key.span);
                    } else {
                        settings.messages.push((key, text));
                    }
                }
                continue;
            }
            let value = Self::only(field);
            match which {
                Rule::bot_languages => settings
                    .languages
                    .extend(value.into_inner().map(|p| self.ident(p))),
                Rule::bot_name => {
                    let s = self.string(value);
                    self.once(&mut settings.name, s, "name", span);
                }
                Rule::bot_locale => {
                    let s = self.string(value);
                    self.once(&mut settings.locale, s, "locale", span);
                }
                Rule::bot_timezone => {
                    let s = self.string(value);
                    self.once(&mut settings.timezone, s, "timezone", span);
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

    /// `inactivity { after 5m message "..." }`; `after` is required.
    fn inactivity(&mut self, pair: Pair<'_, Rule>) -> Option<Inactivity> {
        let span = self.span(&pair);
        let (mut after, mut message) = (None, None);
        for field in pair.into_inner() {
            let field_span = self.span(&field);
            if field.as_rule() == Rule::inactivity_after {
                let value = self.duration(Self::only(field));
                self.once(&mut after, value, "after", field_span);
            } else {
                let value = self.phrase(Self::only(field));
                self.once(&mut message, value, "message", field_span);
            }
        }
        let Some(after) = after else {
            self.report(
                Problem::MissingField {
                    field: "after",
                    context: "the inactivity setting",
                },
                span,
            );
            return None;
        };
        Some(Inactivity {
            after,
            message,
            span,
        })
    }

    /// A duration as written: a bare `5m`, or a string.
    fn duration(&self, pair: Pair<'_, Rule>) -> Spanned<String> {
        let inner = Self::only(pair);
        if inner.as_rule() == Rule::duration_word {
            Spanned::new(inner.as_str().to_owned(), self.span(&inner))
        } else {
            self.string(inner)
        }
    }

    pub(super) fn intent_def(&mut self, pair: Pair<'_, Rule>) -> Intent {
        let mut parts = pair.into_inner();
        let name = self.ident(parts.next().expect("an intent has a name"));
        let mut intent = Intent {
            comments: Vec::new(),
            name,
            examples: Vec::new(),
            examples_by_language: Vec::new(),
            patterns: Vec::new(),
            global: false,
        };
        for field in parts {
            match field.as_rule() {
                Rule::examples => {
                    let list = Self::only(field);
                    if list.as_rule() == Rule::string_list {
                        intent.examples.extend(self.string_list(list));
                    } else {
                        let mut parts = list.into_inner();
                        while let (Some(tag), Some(items)) = (parts.next(), parts.next()) {
                            let language = self.language_tag(&tag);
                            intent
                                .examples_by_language
                                .push((language, self.string_list(items)));
                        }
                    }
                }
                Rule::patterns => intent.patterns.extend(self.string_list(Self::only(field))),
                _ => intent.global = true,
            }
        }
        intent
    }

    pub(super) fn entity_def(&mut self, pair: Pair<'_, Rule>) -> Entity {
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
                        let mut value = EntityValue {
                            name,
                            synonyms: Vec::new(),
                            synonyms_by_language: Vec::new(),
                        };
                        for part in parts {
                            if part.as_rule() == Rule::string_list {
                                value.synonyms = self.string_list(part);
                            } else {
                                let mut inner = part.into_inner();
                                let tag = inner.next().expect("synonyms have a language");
                                let list = inner.next().expect("synonyms have a list");
                                let language = self.language_tag(&tag);
                                value
                                    .synonyms_by_language
                                    .push((language, self.string_list(list)));
                            }
                        }
                        value
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

    pub(super) fn flow(&mut self, pair: Pair<'_, Rule>) -> Flow {
        let span = self.span(&pair);
        let mut parts = pair.into_inner().peekable();
        let name = self.ident(parts.next().expect("a flow has a name"));
        let trigger = parts
            .next_if(|p| p.as_rule() == Rule::trigger)
            .map(|p| self.trigger(p));
        let timeout = parts
            .next_if(|p| p.as_rule() == Rule::flow_timeout)
            .map(|p| self.duration(Self::only(p)));
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
            timeout,
            cells,
            span,
        }
    }

    pub(super) fn trigger(&self, pair: Pair<'_, Rule>) -> Spanned<Trigger> {
        let span = self.span(&pair);
        let inner = Self::only(pair);
        let trigger = match inner.as_rule() {
            Rule::on_welcome => Trigger::Welcome,
            Rule::on_fallback => Trigger::Fallback,
            Rule::on_timeout => Trigger::Timeout,
            Rule::on_intent => Trigger::Intent(self.ident(Self::only(inner))),
            _ => Trigger::Entity(self.ident(Self::only(inner))),
        };
        Spanned::new(trigger, span)
    }
}
