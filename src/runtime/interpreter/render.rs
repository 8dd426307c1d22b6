//! Rendering: templates to text with the session's values, answers as the
//! channel sees them.

use arcstr::{ArcStr, literal};
use serde_json::Value;

use crate::compile::{Answer as CAnswer, CellIndex};
use crate::kinds::MediaKind;
use crate::template::{JsonTemplate, Part, Segment, Template};

use crate::runtime::message::{Answer, Button, Card, Media};
use crate::runtime::vars::Var;

use super::{SCRATCH, Turn};

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
            "session" => serde_json::json!({"id": self.session.id, "turn": self.session.turn}),
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

    pub(super) fn answer(&mut self, cell: CellIndex, answer: &CAnswer) -> Answer {
        let text = match answer.texts.len() {
            0 => ArcStr::new(),
            1 => self.say(&answer.texts[0]),
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
                self.say(&answer.texts[i])
            }
        };
        let button = |b: &crate::compile::Button| Button {
            label: self.say(&b.label),
            value: b.value.as_ref().map(|v| self.say(v)),
            url: b.url.as_ref().map(|u| self.say(u)),
        };
        Answer {
            text,
            buttons: answer.buttons.iter().map(button).collect(),
            quick_replies: answer
                .quick_replies
                .iter()
                .map(|(label, value)| Button {
                    label: self.say(label),
                    value: value.as_ref().map(|v| self.say(v)),
                    url: None,
                })
                .collect(),
            cards: answer
                .cards
                .iter()
                .map(|c| Card {
                    title: self.say(&c.title),
                    subtitle: c.subtitle.as_ref().map(|s| self.say(s)),
                    image: c.image.as_ref().map(|s| self.say(s)),
                    buttons: c.buttons.iter().map(button).collect(),
                })
                .collect(),
            media: answer.media.as_ref().map(|m| Media {
                kind: media_kind(m.kind),
                url: self.say(&m.url),
                name: m.name.as_ref().map(|n| self.say(n)),
            }),
            custom: answer.custom.clone(),
            evaluable: answer.evaluable,
        }
    }
}

fn media_kind(kind: MediaKind) -> ArcStr {
    match kind {
        MediaKind::Image => literal!("image"),
        MediaKind::Audio => literal!("audio"),
        MediaKind::Video => literal!("video"),
        MediaKind::File => literal!("file"),
    }
}
