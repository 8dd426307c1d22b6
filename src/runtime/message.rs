//! What a host sends in a turn ([`Request`]) and gets back ([`Response`]).

use std::collections::BTreeMap;

use arcstr::ArcStr;
use serde::{Deserialize, Serialize};

use super::Vars;
pub use crate::kinds::{AnswerType, ReplyScope};

/// The NLU result for a message: from the built-in classifier, or from the
/// host's own NLU when it sends a pre-classified intent.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Nlu {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub intent: Option<String>,
    pub confidence: f64,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub entities: BTreeMap<String, serde_json::Value>,
}

/// One turn's input.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// What the user typed, or the value of a pressed button.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// A flow name, or `welcome`, `resume` or `timeout` (the user kept the
    /// conversation waiting too long: see `Bot::inactivity`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// A pre-classified intent: cellflow then skips its classifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f64>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub entities: BTreeMap<String, serde_json::Value>,
    /// Variables the host sets or overrides (also visible as `user.*`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub context: BTreeMap<String, serde_json::Value>,
    /// The language the user speaks (`pt`, `pt-BR`; `locale` is read the
    /// same): the conversation goes on in the bot's closest language. One
    /// the bot does not speak leaves the conversation's language as it was.
    #[serde(default, alias = "locale", skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// The user's time zone (`America/Sao_Paulo`), which the conversation
    /// keeps: "today" and times are read there instead of the bot's zone.
    /// A name the time zone database does not know is ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// A location the user shared, `{"lat": …, "lng": …, "name"?, "address"?}`:
    /// the answer to a `location` input. Kept as sent; one that does not fit
    /// is an invalid answer, never a refused request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<serde_json::Value>,
    /// A file the user uploaded, `{"url": …, "name"?, "media_type"?,
    /// "size"?}`: the answer to a `file` or `image` input. Kept as sent,
    /// like `location`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<serde_json::Value>,
}

impl Request {
    /// A message the user typed.
    #[must_use]
    pub fn text(text: impl Into<String>) -> Request {
        Request {
            text: Some(text.into()),
            ..Request::default()
        }
    }

    /// An event: a flow name, `welcome`, `resume` or `timeout`.
    #[must_use]
    pub fn event(name: impl Into<String>) -> Request {
        Request {
            event: Some(name.into()),
            ..Request::default()
        }
    }

    /// Sets a context variable.
    #[must_use]
    pub fn with_context(
        mut self,
        name: impl Into<String>,
        value: impl Into<serde_json::Value>,
    ) -> Request {
        self.context.insert(name.into(), value.into());
        self
    }

    /// A shared location.
    #[must_use]
    pub fn location(lat: f64, lng: f64) -> Request {
        Request {
            location: Some(serde_json::json!({"lat": lat, "lng": lng})),
            ..Request::default()
        }
    }

    /// An uploaded file.
    #[must_use]
    pub fn file(url: impl Into<String>, media_type: impl Into<String>) -> Request {
        Request {
            file: Some(serde_json::json!({"url": url.into(), "media_type": media_type.into()})),
            ..Request::default()
        }
    }

    /// Marks the text as already classified by the host's NLU.
    #[must_use]
    pub fn with_intent(mut self, intent: impl Into<String>, confidence: f64) -> Request {
        self.intent = Some(intent.into());
        self.confidence = Some(confidence);
        self
    }

    /// Adds an entity the host's NLU found.
    #[must_use]
    pub fn with_entity(
        mut self,
        name: impl Into<String>,
        value: impl Into<serde_json::Value>,
    ) -> Request {
        self.entities.insert(name.into(), value.into());
        self
    }
}

/// A button or quick reply in an answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Button {
    pub label: ArcStr,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<ArcStr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<ArcStr>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Card {
    pub title: ArcStr,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subtitle: Option<ArcStr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<ArcStr>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<Button>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Media {
    #[serde(rename = "type")]
    pub kind: ArcStr,
    pub url: ArcStr,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<ArcStr>,
}

/// A pin on a map.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Location {
    pub lat: f64,
    pub lng: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<ArcStr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<ArcStr>,
}

/// A web link, with what its preview shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Link {
    pub url: ArcStr,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<ArcStr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<ArcStr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ArcStr>,
}

/// What a voice channel says: plain text, or SSML when it starts with
/// `<speak`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Voice {
    pub text: ArcStr,
    pub ssml: bool,
}

/// One message the bot sends.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    /// What the message carries; channel adapters switch on it.
    #[serde(rename = "type", default)]
    pub kind: AnswerType,
    /// The text (empty when the answer has none, as a `typing` one).
    pub text: ArcStr,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<Button>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quick_replies: Vec<Button>,
    /// How long the quick replies stay offered (given with quick replies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quick_replies_scope: Option<ReplyScope>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cards: Vec<Card>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media: Option<Media>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<Link>,
    /// How long a `typing` or `delay` answer lasts, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voice: Option<Voice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub evaluable: bool,
    /// Send it, but never store it: histories keep the mask instead.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub mask: bool,
}

impl Answer {
    /// Whether it is a `typing` or `delay` message, which carries no text.
    #[must_use]
    pub fn is_pause(&self) -> bool {
        matches!(self.kind, AnswerType::Typing | AnswerType::Delay)
    }

    #[must_use]
    pub fn text(text: impl Into<ArcStr>) -> Answer {
        Answer {
            text: text.into(),
            ..Answer::default()
        }
    }
}

/// What the bot waits for after the turn.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Awaiting {
    Input {
        var: ArcStr,
        #[serde(rename = "type")]
        ty: ArcStr,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        options: Vec<ArcStr>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pattern: Option<ArcStr>,
        /// What the channel should offer besides the keyboard:
        /// `location_picker` or `file_upload`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        offer: Option<ArcStr>,
        /// Media types an upload may have (`image/*` matches any image).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        accept: Vec<ArcStr>,
        /// The largest upload accepted, in bytes.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_size: Option<u64>,
    },
    Intent,
}

/// Something that happened besides answers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// The conversation is handed to a human agent.
    Handoff {
        queue: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// The conversation ended.
    End,
    /// The session was on a cell the reloaded bot no longer has.
    Restarted,
    /// The turn failed (script error, step limit); the session is as it was.
    Error {
        message: String,
        /// The cell that failed, and where it is written.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        at: Option<Place>,
    },
    /// A service call failed, or could not be made (an environment
    /// variable it names is not set): the cell took its error path. The
    /// turn goes on.
    ServiceFailed {
        /// The service cell's id, if it has one.
        #[serde(skip_serializing_if = "Option::is_none")]
        cell: Option<String>,
        /// The HTTP status, or 0 when no response came back.
        status: u16,
        /// What went wrong, without secrets or environment values.
        reason: String,
        /// The service cell, and where it is written.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        at: Option<Place>,
    },
}

/// A cell a runtime error happened in: its flow, its id or position, and
/// the file and line it is written at (when the bot was compiled from its
/// files: an artifact written before they were kept has no file).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Place {
    pub flow: String,
    /// The cell's id, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cell: Option<String>,
    /// The cell's position in its flow, from 0.
    pub position: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// 1-based; for a script, the line of the script that failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
}

impl Place {
    /// The cell as `flow.id`, or `flow#N` (its N-th cell) without an id.
    #[must_use]
    pub fn cell_name(&self) -> String {
        match &self.cell {
            Some(id) => format!("{}.{id}", self.flow),
            None => format!("{}#{}", self.flow, self.position + 1),
        }
    }
}

impl std::fmt::Display for Place {
    /// `bot.flow:12 (welcome.greet)`, or the cell alone without a file.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.file, self.line) {
            (Some(file), Some(line)) => write!(f, "{file}:{line} ({})", self.cell_name()),
            _ => f.write_str(&self.cell_name()),
        }
    }
}

/// A visited cell, with tracing on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub flow: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cell: Option<String>,
    /// Position of the cell in its flow.
    pub position: u32,
    pub kind: String,
    /// Variables the cell changed (masked values hidden).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub changed: BTreeMap<String, serde_json::Value>,
    /// The file and 1-based line the cell is written at (for a script that
    /// failed, the line that failed), when the bot was compiled from its
    /// files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// Why the turn failed here: the last step of a failed turn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// An analytics event: one a `track` cell reports, or one the runtime
/// reports on its own (with [`Bot::with_analytics`](super::Bot::with_analytics)).
/// Masked and hidden values in its properties read as [`MASK`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Tracked {
    pub event: ArcStr,
    /// The flow it happened in (empty when no flow is concerned, as for a
    /// message no flow understood in a bot without a fallback flow).
    pub flow: ArcStr,
    /// The id of the cell that reported it, if it has one.
    pub cell: Option<ArcStr>,
    pub properties: serde_json::Map<String, serde_json::Value>,
}

/// One turn's output.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Response {
    pub answers: Vec<Answer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub awaiting: Option<Awaiting>,
    /// Visible session variables (not `_temporaries`; masked inputs masked).
    pub vars: Vars,
    pub nlu: Nlu,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<Event>,
    pub ended: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trace: Vec<Step>,
    /// Analytics events, in the order they happened.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tracked: Vec<Tracked>,
}

/// What masked values look like wherever they are shown.
pub const MASK: &str = "******";
