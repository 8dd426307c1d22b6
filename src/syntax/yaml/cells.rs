//! Reading cells: each kind's fields, checked as they are read.

use crate::ast::{
    Answer, Body, Button, CELL_KINDS, Card, Cell, CellKind, End, Handoff, Input, IntentSwitch,
    Jump, Limit, Link, Localized, Location, Media, MediaKind, Method, Pick, QuickReply, ReplyScope,
    Rule, RuleArm, Service, Spanned, Track,
};
use crate::diagnostic::{Diagnostic, NameKind, Problem, suggest};
use crate::source::Span;
use crate::syntax::node::{Node, Value};

use super::{Fields, Walker, keys};

impl Walker<'_> {
    pub(super) fn cell(&mut self, node: &Node) -> Option<Cell> {
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
            "track" => CellKind::Track(self.track(key, value)?),
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

    pub(super) fn answer(&mut self, node: &Node) -> Option<Answer> {
        if !matches!(node.value, Value::Map(_)) {
            return Some(Answer {
                text: vec![self.localized(node, "answer")?],
                ..Answer::default()
            });
        }
        let fields = self.fields(node, "answer", "an answer", keys::ANSWER)?;
        let mut answer = Answer::default();
        if let Some(text) = fields.get("text") {
            answer.text = match &text.value {
                Value::Seq(_) => self.localized_list(text, "text"),
                _ => self.localized(text, "text").into_iter().collect(),
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
                            self.fields(n, "quick_replies", "a quick reply", keys::QUICK_REPLY)?;
                        let label =
                            self.required_localized(&f, "label", "a quick reply", n.span)?;
                        Some(QuickReply {
                            label,
                            value: self.opt_string(&f, "value"),
                        })
                    } else {
                        Some(QuickReply {
                            label: self.localized(n, "quick_replies")?,
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
                    let f = self.fields(n, "cards", "a card", keys::CARD)?;
                    let title = self.required_localized(&f, "title", "a card", n.span)?;
                    let buttons = f
                        .get("buttons")
                        .map(|b| self.buttons(b))
                        .unwrap_or_default();
                    Some(Card {
                        title,
                        subtitle: self.opt_localized(&f, "subtitle"),
                        image: self.opt_string(&f, "image"),
                        buttons,
                    })
                })
                .collect();
        }
        if let Some(media) = fields.get("media")
            && let Some(f) = self.fields(media, "media", "a media attachment", keys::MEDIA)
        {
            let kind = match f.get("type") {
                Some(n) => self.one_of(
                    n,
                    "type",
                    &MediaKind::ALL,
                    "`image`, `audio`, `video`, `file`, `document` or `sticker`",
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
        answer.quick_replies_scope = fields.get("quick_replies_scope").and_then(|n| {
            self.one_of(
                n,
                "quick_replies_scope",
                &ReplyScope::ALL,
                "`once` or `kept`",
            )
        });
        answer.typing = self.unsigned(&fields, "typing", "a number of milliseconds");
        answer.delay = self.unsigned(&fields, "delay", "a number of milliseconds");
        if let Some(node) = fields.get("location")
            && let Some(f) = self.fields(node, "location", "a location", keys::LOCATION)
        {
            let lat = self.required_string(&f, "lat", "a location", node.span);
            let lng = self.required_string(&f, "lng", "a location", node.span);
            if let (Some(lat), Some(lng)) = (lat, lng) {
                answer.location = Some(Location {
                    lat,
                    lng,
                    name: self.opt_localized(&f, "name"),
                    address: self.opt_localized(&f, "address"),
                    span: node.span,
                });
            }
        }
        if let Some(node) = fields.get("link")
            && let Some(f) = self.fields(node, "link", "a link", keys::LINK)
            && let Some(url) = self.required_string(&f, "url", "a link", node.span)
        {
            answer.link = Some(Link {
                url,
                title: self.opt_localized(&f, "title"),
                description: self.opt_localized(&f, "description"),
                image: self.opt_string(&f, "image"),
            });
        }
        answer.voice = self.opt_localized(&fields, "voice");
        answer.mask = self.bool(&fields, "mask");
        if answer.is_empty() {
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

    pub(super) fn required_string(
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

    pub(super) fn required_localized(
        &mut self,
        fields: &Fields<'_>,
        field: &'static str,
        context: &'static str,
        span: Span,
    ) -> Option<Localized> {
        match fields.get(field) {
            Some(n) => self.localized(n, field),
            None => {
                self.report(Problem::MissingField { field, context }, span);
                None
            }
        }
    }

    pub(super) fn buttons(&mut self, node: &Node) -> Vec<Button> {
        let items = self.items(node, "buttons");
        items
            .iter()
            .filter_map(|n| {
                let f = self.fields(n, "buttons", "a button", keys::BUTTON)?;
                let label = self.required_localized(&f, "label", "a button", n.span)?;
                Some(Button {
                    label,
                    value: self.opt_string(&f, "value"),
                    url: self.opt_string(&f, "url"),
                })
            })
            .collect()
    }

    pub(super) fn input(&mut self, key: &Node, node: &Node) -> Option<Input> {
        let fields = self.fields(node, "input", "an input", keys::INPUT)?;
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
            .map(|n| self.localized_list(n, "options"))
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
            prompt: self.opt_localized(&fields, "prompt"),
            options,
            entity: fields
                .get("entity")
                .and_then(|n| self.name(n, NameKind::Entity, "entity")),
            pattern: self.opt_string(&fields, "pattern"),
            min: self.limit(&fields, "min"),
            max: self.limit(&fields, "max"),
            invalid: self.opt_localized(&fields, "invalid"),
            retries,
            on_fail: self.opt_target(&fields, "on_fail"),
            mask: self.bool(&fields, "mask"),
            types: fields
                .get("types")
                .map(|n| self.strings(n, "types"))
                .unwrap_or_default(),
            max_size: self.unsigned(&fields, "max_size", "a number of bytes"),
        })
    }

    /// `min`/`max`: a number, or a date as written (checked against the
    /// input's type later).
    fn limit(&mut self, fields: &Fields<'_>, field: &str) -> Option<Spanned<Limit>> {
        let node = fields.get(field)?;
        if let Value::Str(text) = &node.value {
            return Some(Spanned::new(Limit::Date(text.clone()), node.span));
        }
        self.number(fields, field)
            .map(|n| Spanned::new(Limit::Number(n.value), n.span))
    }

    pub(super) fn rule(&mut self, node: &Node) -> Rule {
        let items = self.items(node, "rule");
        let mut rule = Rule {
            arms: Vec::new(),
            otherwise: None,
        };
        for item in items {
            let Some(f) = self.fields(item, "rule", "a rule arm", keys::RULE_ARM) else {
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

    pub(super) fn jump(&mut self, node: &Node) -> Option<Jump> {
        if let Value::Map(_) = node.value {
            let f = self.fields(node, "jump", "a jump", keys::JUMP)?;
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

    pub(super) fn intent_switch(&mut self, node: &Node) -> Option<IntentSwitch> {
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

    pub(super) fn service(&mut self, key: &Node, node: &Node) -> Option<Service> {
        let f = self.fields(node, "service", "a service", keys::SERVICE)?;
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

    /// `track: NAME`, or `track: {event: NAME, properties: {...}}`.
    pub(super) fn track(&mut self, key: &Node, node: &Node) -> Option<Track> {
        if !matches!(node.value, Value::Map(_)) {
            return Some(Track {
                event: self.string(node, "track")?,
                properties: None,
            });
        }
        let f = self.fields(node, "track", "a track", keys::TRACK)?;
        let event = self.required_string(&f, "event", "a track", key.span)?;
        let properties = match f.get("properties") {
            Some(n) if matches!(n.value, Value::Map(_)) => Some(Spanned::new(self.json(n), n.span)),
            Some(n) if !matches!(n.value, Value::Null) => {
                self.invalid("properties", "a map of names to values", n.span);
                None
            }
            _ => None,
        };
        Some(Track { event, properties })
    }

    pub(super) fn handoff(&mut self, key: &Node, node: &Node) -> Option<Handoff> {
        let f = self.fields(node, "handoff", "a handoff", keys::HANDOFF)?;
        let queue = self.required_string(&f, "queue", "a handoff", key.span)?;
        Some(Handoff {
            queue,
            reason: self.opt_string(&f, "reason"),
            message: self.opt_localized(&f, "message"),
        })
    }

    pub(super) fn end(&mut self, node: &Node) -> Option<End> {
        if let Value::Null = node.value {
            return Some(End::default());
        }
        let f = self.fields(node, "end", "an end", keys::END)?;
        Some(End {
            message: self.opt_localized(&f, "message"),
        })
    }
}
