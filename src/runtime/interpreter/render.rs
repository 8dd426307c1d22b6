//! Rendering: templates to text with the session's values, answers as the
//! channel sees them.

use arcstr::{ArcStr, literal};
use serde_json::Value;

use crate::compile::{Answer as CAnswer, CellIndex, Phrase};
use crate::kinds::MediaKind;
use crate::template::{JsonTemplate, Part, Segment, Template};

use crate::runtime::message::{Answer, AnswerType, Button, Card, Link, Location, Media, Voice};
use crate::runtime::vars::Var;

use super::{Failure, SCRATCH, Turn};

impl Turn<'_> {
    pub(super) fn builtin(&self, name: &str) -> Option<Value> {
        Some(match name {
            "input" => self
                .input
                .get_or_init(|| {
                    let nlu = &self.response.nlu;
                    serde_json::json!({
                        "text": self.request.text.as_deref().map(str::trim),
                        "intent": nlu.intent,
                        "confidence": nlu.confidence,
                        "entities": nlu.entities,
                    })
                })
                .clone(),
            "user" => self
                .user
                .get_or_init(|| {
                    let mut user = serde_json::Map::new();
                    user.insert("id".into(), Value::String(self.session.id.clone()));
                    user.insert("locale".into(), Value::String(self.program.locale.clone()));
                    user.extend(
                        self.request
                            .context
                            .iter()
                            .map(|(k, v)| (k.clone(), v.clone())),
                    );
                    Value::Object(user)
                })
                .clone(),
            "bot" => serde_json::json!({"name": self.program.name, "locale": self.program.locale}),
            "session" => serde_json::json!({
                "id": self.session.id,
                "turn": self.session.turn,
                "language": self.program.languages.get(self.language),
                "timeouts": self.session.timeouts,
            }),
            _ => return None,
        })
    }

    pub(super) fn lookup(&self, path: &[Segment]) -> Option<Value> {
        // A closure, not `Option::cloned`: the callback must accept any lifetime.
        #[allow(clippy::redundant_closure_for_method_calls)]
        self.with_value(path, |value| value.map(super::Var::to_value))
    }

    /// Calls `f` with the value at a path (session variables first, then the
    /// built-ins), without copying session values.
    pub(super) fn with_value<T>(
        &self,
        path: &[Segment],
        f: impl FnOnce(Option<Var<'_>>) -> T,
    ) -> T {
        fn walk<'v>(value: Var<'v>, rest: &[Segment]) -> Option<Var<'v>> {
            if rest.is_empty() {
                return Some(value);
            }
            let Var::Json(mut value) = value else {
                return None;
            };
            for segment in rest {
                value = match segment {
                    Segment::Field(field) => value.get(field)?,
                    Segment::Index(i) => value.get(*i)?,
                };
            }
            Some(Var::from(value))
        }
        let Some(Segment::Field(root)) = path.first() else {
            return f(None);
        };
        match self.session.vars.get(root) {
            Some(value) => f(walk(value, &path[1..])),
            None => match self.builtin(root) {
                Some(owned) => f(walk(Var::from(&owned), &path[1..])),
                None => f(None),
            },
        }
    }

    /// A template as text for a service or an event.
    pub(super) fn render(&self, template: &Template) -> String {
        let mut out = String::new();
        self.render_into(template, &mut out);
        out
    }

    /// A text the user reads, in the conversation's language.
    pub(super) fn phrase(&self, phrase: &Phrase) -> ArcStr {
        self.say(phrase.get(self.language))
    }

    /// A template as text the bot says: literal text is shared with the
    /// compiled bot, and other text is built in a reused buffer, so an
    /// answer costs at most the one allocation that holds its text.
    pub(super) fn say(&self, template: &Template) -> ArcStr {
        match template.parts.as_slice() {
            [] => ArcStr::new(),
            [Part::Text(text)] => text.clone(),
            _ => SCRATCH.with_borrow_mut(|out| {
                out.clear();
                self.render_into(template, out);
                ArcStr::from(out.as_str())
            }),
        }
    }

    pub(super) fn render_into(&self, template: &Template, out: &mut String) {
        for part in &template.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Var(var) => self.with_value(&var.path, |value| match value {
                    None if var.default.is_none() => {
                        if let Some(observer) = self.observer {
                            observer.borrow_mut().unset(self.at, &var.to_string());
                        }
                    }
                    Some(Var::Null) | None => out.push_str(var.default.as_deref().unwrap_or("")),
                    Some(Var::Str(s)) => out.push_str(s),
                    Some(other) => {
                        use std::fmt::Write as _;
                        let _ = write!(out, "{other}");
                    }
                }),
            }
        }
    }

    pub(super) fn render_json(&self, template: &JsonTemplate) -> Value {
        match template {
            JsonTemplate::Literal(value) => value.clone(),
            JsonTemplate::Value(var) => self
                .lookup(&var.path)
                .unwrap_or_else(|| var.default.clone().map_or(Value::Null, Value::String)),
            JsonTemplate::Text(t) => Value::String(self.render(t)),
            JsonTemplate::Array(items) => {
                Value::Array(items.iter().map(|i| self.render_json(i)).collect())
            }
            JsonTemplate::Object(fields) => Value::Object(
                fields
                    .iter()
                    .map(|(k, v)| (k.clone(), self.render_json(v)))
                    .collect(),
            ),
        }
    }

    /// The messages an answer cell sends: a pause and "typing…" when it
    /// asks for them, then its content.
    pub(super) fn answers(&mut self, cell: CellIndex, answer: &CAnswer) -> Result<(), Failure> {
        for (kind, duration) in [
            (AnswerType::Delay, answer.delay),
            (AnswerType::Typing, answer.typing),
        ] {
            if let Some(ms) = duration {
                self.response.answers.push(Answer {
                    kind,
                    duration_ms: Some(ms),
                    ..Answer::default()
                });
            }
        }
        if answer.has_content {
            let rendered = self.answer(cell, answer)?;
            self.response.answers.push(rendered);
        }
        Ok(())
    }

    fn answer(&mut self, cell: CellIndex, answer: &CAnswer) -> Result<Answer, Failure> {
        let text = match answer.texts.len() {
            0 => ArcStr::new(),
            1 => self.phrase(&answer.texts[0]),
            n => {
                let i = match answer.pick {
                    crate::kinds::Pick::First => 0,
                    crate::kinds::Pick::Sequence => {
                        let count = self.session.sequence.entry(cell).or_insert(0);
                        let i = *count as usize % n;
                        *count = count.wrapping_add(1);
                        i
                    }
                    crate::kinds::Pick::Random => {
                        // Deterministic per session and turn: reproducible transcripts.
                        let seed = self
                            .session
                            .id
                            .bytes()
                            .fold(self.session.turn ^ u64::from(cell.number()), |h, b| {
                                h.wrapping_mul(0x0100_0000_01b3) ^ u64::from(b)
                            });
                        usize::try_from(seed % n as u64).unwrap_or(0)
                    }
                };
                self.phrase(&answer.texts[i])
            }
        };
        let button = |b: &crate::compile::Button| Button {
            label: self.phrase(&b.label),
            value: b.value.as_ref().map(|v| self.say(v)),
            url: b.url.as_ref().map(|u| self.say(u)),
        };
        let location = match &answer.location {
            Some(l) => Some(Location {
                lat: self.coordinate(&l.lat, "lat", 90.0)?,
                lng: self.coordinate(&l.lng, "lng", 180.0)?,
                name: l.name.as_ref().map(|n| self.phrase(n)),
                address: l.address.as_ref().map(|a| self.phrase(a)),
            }),
            None => None,
        };
        Ok(Answer {
            kind: answer.kind,
            text,
            buttons: answer.buttons.iter().map(button).collect(),
            quick_replies: answer
                .quick_replies
                .iter()
                .map(|(label, value)| Button {
                    label: self.phrase(label),
                    value: value.as_ref().map(|v| self.say(v)),
                    url: None,
                })
                .collect(),
            quick_replies_scope: (!answer.quick_replies.is_empty()).then_some(answer.scope),
            cards: answer
                .cards
                .iter()
                .map(|c| Card {
                    title: self.phrase(&c.title),
                    subtitle: c.subtitle.as_ref().map(|s| self.phrase(s)),
                    image: c.image.as_ref().map(|s| self.say(s)),
                    buttons: c.buttons.iter().map(button).collect(),
                })
                .collect(),
            media: answer.media.as_ref().map(|m| Media {
                kind: media_kind(m.kind),
                url: self.say(&m.url),
                name: m.name.as_ref().map(|n| self.say(n)),
            }),
            location,
            link: answer.link.as_ref().map(|l| Link {
                url: self.say(&l.url),
                title: l.title.as_ref().map(|t| self.phrase(t)),
                description: l.description.as_ref().map(|d| self.phrase(d)),
                image: l.image.as_ref().map(|i| self.say(i)),
            }),
            duration_ms: None,
            voice: answer.voice.as_ref().map(|v| {
                let text = self.phrase(v);
                Voice {
                    ssml: text.trim_start().starts_with("<speak"),
                    text,
                }
            }),
            custom: answer.custom.clone(),
            evaluable: answer.evaluable,
            mask: answer.mask,
        })
    }

    /// A latitude or longitude, rendered and read as decimal degrees.
    fn coordinate(&self, template: &Template, field: &str, limit: f64) -> Result<f64, Failure> {
        let written = self.say(template);
        match written.trim().parse::<f64>() {
            Ok(n) if n.is_finite() && n.abs() <= limit => Ok(n),
            _ => Err(Failure::new(format!(
                "the location's `{field}` is `{written}`, not a number from -{limit} to {limit}"
            ))),
        }
    }
}

fn media_kind(kind: MediaKind) -> ArcStr {
    match kind {
        MediaKind::Image => literal!("image"),
        MediaKind::Audio => literal!("audio"),
        MediaKind::Video => literal!("video"),
        MediaKind::File => literal!("file"),
        MediaKind::Document => literal!("document"),
        MediaKind::Sticker => literal!("sticker"),
    }
}
