//! Reading cells: each kind's fields.

use pest::iterators::Pair;

use crate::ast::{
    Answer, Body, Button, Card, Cell, CellKind, End, Handoff, Input, IntentSwitch, Jump, Limit,
    Link, Location, Media, MediaKind, Method, Pick, QuickReply, ReplyScope, Rule as RuleCell,
    RuleArm, Service, Spanned, Track,
};
use crate::diagnostic::{Diagnostic, Problem};

use super::{DslParser, Rule, set_once};

impl DslParser {
    pub(super) fn cell(&mut self, pair: Pair<'_, Rule>) -> Option<Cell> {
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
                Rule::track => kind = Some(CellKind::Track(self.track(part))),
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

    pub(super) fn answer(&mut self, pair: Pair<'_, Rule>) -> Option<Answer> {
        let span = self.span(&pair);
        let inner = Self::only(pair);
        if inner.as_rule() == Rule::phrase {
            return Some(Answer {
                text: vec![self.phrase(inner)],
                ..Answer::default()
            });
        }
        let mut answer = Answer::default();
        let mut media = None;
        let mut custom = None;
        for field in inner.into_inner() {
            let field_span = self.span(&field);
            match field.as_rule() {
                Rule::text_field => {
                    let text = self.phrase(Self::only(field));
                    answer.text.push(text);
                }
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
                    let label = self.phrase(parts.next().expect("a quick reply has a label"));
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
                Rule::quick_replies_scope => {
                    let word = Self::only(field);
                    if let Some(scope) = self.one_of(
                        &word,
                        "quick_replies_scope",
                        &ReplyScope::ALL,
                        "`once` or `kept`",
                    ) {
                        self.once(
                            &mut answer.quick_replies_scope,
                            scope,
                            "quick_replies_scope",
                            field_span,
                        );
                    }
                }
                Rule::typing | Rule::delay => {
                    let is_typing = field.as_rule() == Rule::typing;
                    let name = if is_typing { "typing" } else { "delay" };
                    if let Some(ms) = self.integer(
                        Self::only(field),
                        name,
                        u64::MAX,
                        "a number of milliseconds",
                    ) {
                        let slot = if is_typing {
                            &mut answer.typing
                        } else {
                            &mut answer.delay
                        };
                        self.once(slot, ms, name, field_span);
                    }
                }
                Rule::location => {
                    let location = self.location(field);
                    self.once(&mut answer.location, location, "location", field_span);
                }
                Rule::link => {
                    let link = self.link(field);
                    self.once(&mut answer.link, link, "link", field_span);
                }
                Rule::voice => {
                    let voice = self.phrase(Self::only(field));
                    self.once(&mut answer.voice, voice, "voice", field_span);
                }
                Rule::answer_mask => answer.mask = true,
                _ => answer.evaluable = true,
            }
        }
        answer.media = media;
        answer.custom = custom;
        if answer.is_empty() {
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

    pub(super) fn button(&mut self, pair: Pair<'_, Rule>) -> Button {
        let mut parts = pair.into_inner();
        let label = self.phrase(parts.next().expect("a button has a label"));
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

    pub(super) fn card(&mut self, pair: Pair<'_, Rule>) -> Card {
        let mut parts = pair.into_inner();
        let title = self.phrase(parts.next().expect("a card has a title"));
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
                    let s = self.phrase(Self::only(field));
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

    fn coordinate(&self, pair: Pair<'_, Rule>) -> Spanned<String> {
        let inner = Self::only(pair);
        if inner.as_rule() == Rule::number {
            Spanned::new(inner.as_str().to_owned(), self.span(&inner))
        } else {
            self.string(inner)
        }
    }

    pub(super) fn location(&mut self, pair: Pair<'_, Rule>) -> Location {
        let span = self.span(&pair);
        let mut parts = pair.into_inner();
        let lat = self.coordinate(parts.next().expect("a location has a latitude"));
        let lng = self.coordinate(parts.next().expect("a location has a longitude"));
        let mut location = Location {
            lat,
            lng,
            name: None,
            address: None,
            span,
        };
        for field in parts {
            let field_span = self.span(&field);
            let is_name = field.as_rule() == Rule::location_name;
            let value = self.phrase(Self::only(field));
            if is_name {
                self.once(&mut location.name, value, "name", field_span);
            } else {
                self.once(&mut location.address, value, "address", field_span);
            }
        }
        location
    }

    pub(super) fn link(&mut self, pair: Pair<'_, Rule>) -> Link {
        let mut parts = pair.into_inner();
        let url = self.string(parts.next().expect("a link has a URL"));
        let mut link = Link {
            url,
            title: None,
            description: None,
            image: None,
        };
        for field in parts {
            let field_span = self.span(&field);
            match field.as_rule() {
                Rule::link_title => {
                    let value = self.phrase(Self::only(field));
                    self.once(&mut link.title, value, "title", field_span);
                }
                Rule::link_description => {
                    let value = self.phrase(Self::only(field));
                    self.once(&mut link.description, value, "description", field_span);
                }
                _ => {
                    let value = self.string(Self::only(field));
                    self.once(&mut link.image, value, "image", field_span);
                }
            }
        }
        link
    }

    pub(super) fn media(&mut self, pair: Pair<'_, Rule>) -> Option<Media> {
        let mut parts = pair.into_inner();
        let kind_word = parts.next().expect("media has a kind");
        let kind = self.one_of(
            &kind_word,
            "media",
            &MediaKind::ALL,
            "`image`, `audio`, `video`, `file`, `document` or `sticker`",
        );
        let url = self.string(parts.next().expect("media has a URL"));
        let name = parts.next().map(|n| self.string(Self::only(n)));
        Some(Media {
            kind: kind?,
            url,
            name,
        })
    }

    pub(super) fn input(&mut self, pair: Pair<'_, Rule>) -> Input {
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
            types: Vec::new(),
            max_size: None,
        };
        let Some(block) = parts.next() else {
            return input;
        };
        let mut options_seen = false;
        for field in block.into_inner() {
            let span = self.span(&field);
            match field.as_rule() {
                Rule::prompt => {
                    let s = self.phrase(Self::only(field));
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
                    input.options = self.phrase_list(Self::only(field));
                }
                Rule::input_entity => {
                    let n = self.ident(Self::only(field));
                    self.once(&mut input.entity, n, "entity", span);
                }
                Rule::input_pattern => {
                    let s = self.string(Self::only(field));
                    self.once(&mut input.pattern, s, "pattern", span);
                }
                Rule::min | Rule::max => {
                    let is_min = field.as_rule() == Rule::min;
                    let name = if is_min { "min" } else { "max" };
                    if let Some(limit) = self.limit(Self::only(field), name) {
                        let slot = if is_min {
                            &mut input.min
                        } else {
                            &mut input.max
                        };
                        self.once(slot, limit, name, span);
                    }
                }
                Rule::invalid => {
                    let s = self.phrase(Self::only(field));
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
                Rule::types => {
                    if !input.types.is_empty() {
                        self.report(
                            Problem::DuplicateField {
                                field: "types".into(),
                            },
                            span,
                        );
                    }
                    input.types = self.string_list(Self::only(field));
                }
                Rule::max_size => {
                    if let Some(n) =
                        self.integer(Self::only(field), "max_size", u64::MAX, "a number of bytes")
                    {
                        self.once(&mut input.max_size, n, "max_size", span);
                    }
                }
                _ => input.mask = true,
            }
        }
        input
    }

    fn limit(&mut self, pair: Pair<'_, Rule>, field: &str) -> Option<Spanned<Limit>> {
        let inner = Self::only(pair);
        match inner.as_rule() {
            Rule::number => self
                .number(inner, field)
                .map(|n| Spanned::new(Limit::Number(n.value), n.span)),
            Rule::string => {
                let text = self.string(inner);
                Some(Spanned::new(Limit::Date(text.value), text.span))
            }
            _ => {
                let word = self.ident(inner);
                Some(Spanned::new(Limit::Date(word.value), word.span))
            }
        }
    }

    pub(super) fn rule(&mut self, pair: Pair<'_, Rule>) -> RuleCell {
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

    pub(super) fn jump(&self, pair: Pair<'_, Rule>) -> Jump {
        let mut parts = pair.into_inner();
        let to = self.target(parts.next().expect("a jump has a target"));
        Jump {
            to,
            returns: parts.next().is_some(),
        }
    }

    pub(super) fn intent_cell(&mut self, pair: Pair<'_, Rule>) -> IntentSwitch {
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

    pub(super) fn service(&mut self, pair: Pair<'_, Rule>) -> Option<Service> {
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

    pub(super) fn track(&mut self, pair: Pair<'_, Rule>) -> Track {
        let mut parts = pair.into_inner();
        let name = Self::only(parts.next().expect("a track has an event"));
        let event = if name.as_rule() == Rule::ident {
            self.ident(name)
        } else {
            self.string(name)
        };
        let properties = parts.next().map(|p| {
            let json = Self::only(p);
            let span = self.span(&json);
            Spanned::new(self.json(json), span)
        });
        Track { event, properties }
    }

    pub(super) fn handoff(&mut self, pair: Pair<'_, Rule>) -> Option<Handoff> {
        let span = self.span(&pair);
        let (mut queue, mut reason, mut message) = (None, None, None);
        for field in pair.into_inner() {
            let field_span = self.span(&field);
            match field.as_rule() {
                Rule::queue => {
                    let value = self.string(Self::only(field));
                    set_once(
                        &mut queue,
                        value,
                        "queue",
                        field_span,
                        &mut self.diagnostics,
                    );
                }
                Rule::reason => {
                    let value = self.string(Self::only(field));
                    set_once(
                        &mut reason,
                        value,
                        "reason",
                        field_span,
                        &mut self.diagnostics,
                    );
                }
                _ => {
                    let value = self.phrase(Self::only(field));
                    set_once(
                        &mut message,
                        value,
                        "message",
                        field_span,
                        &mut self.diagnostics,
                    );
                }
            }
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

    pub(super) fn end(&mut self, pair: Pair<'_, Rule>) -> End {
        End {
            message: pair.into_inner().next().map(|s| self.phrase(s)),
        }
    }
}
