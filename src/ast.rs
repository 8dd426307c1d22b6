//! The abstract syntax tree both front ends produce.
//!
//! The YAML loader and the DSL parser each turn one file into a [`Module`];
//! nothing after this point knows which syntax the author used. Every node
//! carries a [`Span`]. Names are not resolved here and nothing is validated
//! beyond shape: a target is still a name, a script is still text. Resolution
//! and checking happen in `lower` and `check`.
//!
//! The tree implements `Serialize` with spans skipped, so two modules are the
//! same program exactly when their serializations are equal (`fmt`'s round
//! trip relies on this).

use serde::{Deserialize, Serialize};

pub use crate::kinds::{InputType, MediaKind, Method, Pick, ReplyScope};
use crate::source::Span;

/// A value with the span it was written at.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Spanned<T> {
    pub value: T,
    #[serde(skip)]
    pub span: Span,
}

impl<T> Spanned<T> {
    pub fn new(value: T, span: Span) -> Self {
        Spanned { value, span }
    }
}

/// A name (flow, cell id, intent, entity, variable).
pub type Name = Spanned<String>;

/// Text that may hold `{{templates}}`.
pub type Text = Spanned<String>;

/// Text the user reads, in the bot's one language or in several: a plain
/// string (`"Hola"`), or one text per language (`{es: "Hola", pt: "Olá"}`
/// in YAML, `@es "Hola" @pt "Olá"` in the DSL).
///
/// It serializes as the string, or as a map from language to text in the
/// order written, so a bot written before languages existed keeps its
/// version.
#[derive(Clone, Debug, Default)]
pub struct Localized {
    /// The plain string; for texts by language, the first one written.
    pub first: String,
    pub span: Span,
    /// Each language's text, in the order written; empty for a plain string.
    pub languages: Vec<(Name, Text)>,
}

impl Localized {
    #[must_use]
    pub fn plain(text: Text) -> Localized {
        Localized {
            first: text.value,
            span: text.span,
            languages: Vec::new(),
        }
    }

    /// Every text written, with its language (`None` for a plain string)
    /// and its span.
    pub fn each(&self) -> impl Iterator<Item = (Option<&Name>, &str, Span)> {
        let plain = self
            .languages
            .is_empty()
            .then_some((None, self.first.as_str(), self.span));
        plain.into_iter().chain(
            self.languages
                .iter()
                .map(|(language, text)| (Some(language), text.value.as_str(), text.span)),
        )
    }

    /// The text written for `language`, if there is one.
    #[must_use]
    pub fn get(&self, language: &str) -> Option<&Text> {
        self.languages
            .iter()
            .find(|(l, _)| l.value == language)
            .map(|(_, t)| t)
    }
}

impl From<Text> for Localized {
    fn from(text: Text) -> Localized {
        Localized::plain(text)
    }
}

impl Serialize for Localized {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap as _;
        if self.languages.is_empty() {
            return serializer.serialize_str(&self.first);
        }
        let mut map = serializer.serialize_map(Some(self.languages.len()))?;
        for (language, text) in &self.languages {
            map.serialize_entry(&language.value, &text.value)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Localized {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Localized, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Localized;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string, or a map from language to string")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Localized, E> {
                Ok(Localized {
                    first: v.to_owned(),
                    ..Localized::default()
                })
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Localized, A::Error> {
                let mut languages = Vec::new();
                while let Some((language, text)) = map.next_entry::<String, String>()? {
                    languages.push((
                        Spanned::new(language, Span::default()),
                        Spanned::new(text, Span::default()),
                    ));
                }
                Ok(Localized {
                    first: languages
                        .first()
                        .map(|(_, t): &(Name, Text)| t.value.clone())
                        .unwrap_or_default(),
                    span: Span::default(),
                    languages,
                })
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// One source file.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Module {
    /// Comment lines at the top of the file (kept by `fmt`, not part of the program).
    #[serde(skip)]
    pub header: Vec<String>,
    /// Comment lines after the last item.
    #[serde(skip)]
    pub footer: Vec<String>,
    pub bot: Option<Settings>,
    pub intents: Vec<Intent>,
    pub entities: Vec<Entity>,
    pub flows: Vec<Flow>,
}

/// A whole bot: every module of a project merged into one namespace.
///
/// Names defined twice stay in the lists (the lowerer reports them with both
/// places), so nothing an author wrote is dropped before checking.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Bot {
    pub settings: Settings,
    pub intents: Vec<Intent>,
    pub entities: Vec<Entity>,
    pub flows: Vec<Flow>,
}

/// Bot settings (`bot:` in a flow file, or `cellflow.yaml`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Settings {
    /// Comment lines written just above it (kept by `fmt`).
    #[serde(skip)]
    pub comments: Vec<String>,
    pub name: Option<Text>,
    pub locale: Option<Spanned<String>>,
    /// The time zone "today" and times are read in (`America/Santiago`);
    /// UTC when not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<Spanned<String>>,
    /// The languages the bot speaks (`[es, pt, en]`); the first is the default.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub languages: Vec<Name>,
    /// Take the conversation's language from what the user writes, until a
    /// request or a script chooses one.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub detect_language: bool,
    /// The built-in messages, as this bot words them (`not_understood`,
    /// `error`, `restarted`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<(Name, Localized)>,
    pub threshold: Option<Spanned<f64>>,
    /// Messages that are none of the bot's intents: they train the
    /// classifier's reject class.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub out_of_scope: Vec<Spanned<String>>,
    /// Variables the host promises to set in every request's context.
    pub context: Vec<Name>,
    /// Variables never shown to the channel (`vars`, `context`, traces).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hidden: Vec<Name>,
    /// Variables a request's context cannot change once set (nor set at
    /// all, unless they are in `context`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub readonly: Vec<Name>,
    /// How long a conversation may wait for the user before it times out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inactivity: Option<Inactivity>,
    #[serde(skip)]
    pub span: Span,
}

/// `inactivity: {after: 5m, message: …}`: after how long without a
/// message a conversation times out, and what closes it when no flow
/// answers the timeout.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Inactivity {
    /// The duration as written (`90s`, `5m`, `1h`, `300`); `check` reads it.
    pub after: Spanned<String>,
    /// The closing message (else the built-in `inactivity_closed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<Localized>,
    #[serde(skip)]
    pub span: Span,
}

impl Settings {
    /// The languages the bot speaks, the default first: those it declares,
    /// else the one of its `locale` (`en` without one).
    #[must_use]
    pub fn spoken_languages(&self) -> Vec<String> {
        if self.languages.is_empty() {
            let locale = self.locale.as_ref().map_or("en-US", |l| l.value.as_str());
            vec![crate::language::primary(locale).to_ascii_lowercase()]
        } else {
            self.languages.iter().map(|l| l.value.clone()).collect()
        }
    }
}

/// Lists of strings by language (`examples @pt [...]`), in the order
/// written.
pub type ByLanguage = Vec<(Name, Vec<Spanned<String>>)>;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Intent {
    /// Comment lines written just above it (kept by `fmt`).
    #[serde(skip)]
    pub comments: Vec<String>,
    pub name: Name,
    /// Examples in every language the bot speaks.
    pub examples: Vec<Spanned<String>>,
    /// Examples of one language each (`examples: {es: [...], pt: [...]}`):
    /// that language's classifier learns them, with the shared ones.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub examples_by_language: ByLanguage,
    pub patterns: Vec<Spanned<String>>,
    pub global: bool,
}

impl Intent {
    /// Every example written, whatever its language.
    pub fn all_examples(&self) -> impl Iterator<Item = &Spanned<String>> {
        self.examples
            .iter()
            .chain(self.examples_by_language.iter().flat_map(|(_, e)| e))
    }

    /// The examples a language's classifier learns: the shared ones and
    /// that language's.
    pub fn examples_in<'a>(
        &'a self,
        language: &'a str,
    ) -> impl Iterator<Item = &'a Spanned<String>> {
        self.examples.iter().chain(
            self.examples_by_language
                .iter()
                .filter(move |(l, _)| l.value == language)
                .flat_map(|(_, e)| e),
        )
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Entity {
    /// Comment lines written just above it (kept by `fmt`).
    #[serde(skip)]
    pub comments: Vec<String>,
    pub name: Name,
    pub kind: EntityKind,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum EntityKind {
    /// Canonical values, each with synonyms.
    List(Vec<EntityValue>),
    /// A regular expression.
    Pattern(Spanned<String>),
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EntityValue {
    pub name: Name,
    /// Synonyms in every language the bot speaks.
    pub synonyms: Vec<Spanned<String>>,
    /// Synonyms of one language each (`checking: {es: [...], pt: [...]}`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub synonyms_by_language: ByLanguage,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Flow {
    /// Comment lines written just above it (kept by `fmt`).
    #[serde(skip)]
    pub comments: Vec<String>,
    pub name: Name,
    pub trigger: Option<Spanned<Trigger>>,
    /// The inactivity timeout while the conversation waits in this flow,
    /// as written (instead of the bot's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Spanned<String>>,
    pub cells: Vec<Cell>,
    #[serde(skip)]
    pub span: Span,
}

/// What starts a flow on its own (`on:`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Trigger {
    Welcome,
    Fallback,
    Intent(Name),
    Entity(Name),
    /// The conversation waited too long for the user.
    Timeout,
}

/// A reference to a cell: `NAME` (a local cell id, else a flow) or `FLOW.CELL`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Target {
    pub flow: Option<Name>,
    pub name: Name,
    #[serde(skip)]
    pub span: Span,
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.flow {
            Some(flow) => write!(f, "{}.{}", flow.value, self.name.value),
            None => f.write_str(&self.name.value),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Cell {
    /// Comment lines written just above it (kept by `fmt`).
    #[serde(skip)]
    pub comments: Vec<String>,
    pub id: Option<Name>,
    pub next: Option<Target>,
    pub kind: CellKind,
    #[serde(skip)]
    pub span: Span,
}

/// One variant per cell kind a flow can hold (docs/LANGUAGE.md).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum CellKind {
    Answer(Box<Answer>),
    Input(Box<Input>),
    Rule(Rule),
    Code(Script),
    Jump(Jump),
    Intent(IntentSwitch),
    Service(Box<Service>),
    Track(Track),
    Handoff(Handoff),
    End(End),
}

impl CellKind {
    /// The keyword that introduces this kind in both syntaxes.
    #[must_use]
    pub fn keyword(&self) -> &'static str {
        match self {
            CellKind::Answer(_) => "answer",
            CellKind::Input(_) => "input",
            CellKind::Rule(_) => "rule",
            CellKind::Code(_) => "code",
            CellKind::Jump(_) => "jump",
            CellKind::Intent(_) => "intent",
            CellKind::Service(_) => "service",
            CellKind::Track(_) => "track",
            CellKind::Handoff(_) => "handoff",
            CellKind::End(_) => "end",
        }
    }
}

/// The messages the runtime says on its own, which `bot.messages` can word:
/// a message no flow understood, a failed turn, a restart after an update,
/// a conversation closed for inactivity.
pub const BUILTIN_MESSAGES: [&str; 4] =
    ["not_understood", "error", "restarted", "inactivity_closed"];

impl CellKind {
    /// Every text of the cell a user reads (what has a text per language).
    #[must_use]
    pub fn localized(&self) -> Vec<&Localized> {
        let mut out = Vec::new();
        match self {
            CellKind::Answer(answer) => {
                out.extend(&answer.text);
                let buttons = answer
                    .buttons
                    .iter()
                    .chain(answer.cards.iter().flat_map(|c| &c.buttons));
                out.extend(buttons.map(|b| &b.label));
                out.extend(answer.quick_replies.iter().map(|q| &q.label));
                for card in &answer.cards {
                    out.push(&card.title);
                    out.extend(&card.subtitle);
                }
                if let Some(location) = &answer.location {
                    out.extend(&location.name);
                    out.extend(&location.address);
                }
                if let Some(link) = &answer.link {
                    out.extend(&link.title);
                    out.extend(&link.description);
                }
                out.extend(&answer.voice);
            }
            CellKind::Input(input) => {
                out.extend(&input.prompt);
                out.extend(&input.options);
                out.extend(&input.invalid);
            }
            CellKind::Handoff(handoff) => out.extend(&handoff.message),
            CellKind::End(end) => out.extend(&end.message),
            CellKind::Rule(_)
            | CellKind::Code(_)
            | CellKind::Jump(_)
            | CellKind::Intent(_)
            | CellKind::Service(_)
            | CellKind::Track(_) => {}
        }
        out
    }
}

/// The cell kinds, for suggestions.
pub const CELL_KINDS: [&str; 10] = [
    "answer", "input", "rule", "code", "jump", "intent", "service", "track", "handoff", "end",
];

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Answer {
    /// One text, or variations to pick from.
    pub text: Vec<Localized>,
    pub pick: Option<Spanned<Pick>>,
    pub buttons: Vec<Button>,
    pub quick_replies: Vec<QuickReply>,
    pub cards: Vec<Card>,
    pub media: Option<Media>,
    pub custom: Option<Spanned<serde_json::Value>>,
    pub evaluable: bool,
    /// How long the quick replies stay offered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quick_replies_scope: Option<Spanned<ReplyScope>>,
    /// Milliseconds of "typing…" shown before the answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub typing: Option<Spanned<u64>>,
    /// Milliseconds of pause before the answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<Spanned<u64>>,
    /// A map pin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    /// A web link with what a preview shows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<Link>,
    /// What a voice channel says instead of the text: plain text or SSML.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voice: Option<Localized>,
    /// The answer's text goes to the channel but is never stored.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub mask: bool,
}

impl Answer {
    /// True when the answer is a single plain text and nothing else: the
    /// short form in both syntaxes.
    #[must_use]
    pub fn is_plain(&self) -> bool {
        self.is_one_text() && self.text[0].languages.is_empty()
    }

    /// True when the answer is one text (maybe by language) and nothing
    /// else: the DSL's short form, `answer @es "…" @pt "…"`.
    #[must_use]
    pub fn is_one_text(&self) -> bool {
        self.text.len() == 1
            && self.pick.is_none()
            && self.buttons.is_empty()
            && self.quick_replies.is_empty()
            && self.cards.is_empty()
            && self.media.is_none()
            && self.custom.is_none()
            && !self.evaluable
            && self.quick_replies_scope.is_none()
            && self.typing.is_none()
            && self.delay.is_none()
            && self.location.is_none()
            && self.link.is_none()
            && self.voice.is_none()
            && !self.mask
    }

    /// True when the answer says and shows nothing: an error in both syntaxes.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        !self.has_content() && self.typing.is_none() && self.delay.is_none()
    }

    /// True when there is a message to send besides `typing` and `delay`.
    #[must_use]
    pub fn has_content(&self) -> bool {
        !self.text.is_empty()
            || !self.buttons.is_empty()
            || !self.quick_replies.is_empty()
            || !self.contents().is_empty()
            || self.voice.is_some()
    }

    /// The content that decides the answer's type, with its field name, in
    /// the order the fields are documented. An answer has at most one.
    #[must_use]
    pub fn contents(&self) -> Vec<(&'static str, Span)> {
        let mut found = Vec::new();
        if let Some(card) = self.cards.first() {
            found.push(("cards", card.title.span));
        }
        if let Some(media) = &self.media {
            found.push(("media", media.kind.span));
        }
        if let Some(location) = &self.location {
            found.push(("location", location.span));
        }
        if let Some(link) = &self.link {
            found.push(("link", link.url.span));
        }
        if let Some(custom) = &self.custom {
            found.push(("custom", custom.span));
        }
        found
    }
}

/// A pin on a map. Coordinates are kept as written (a number or a template
/// such as `{{branch.lat}}`) and read as numbers when the answer is sent.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Location {
    pub lat: Text,
    pub lng: Text,
    pub name: Option<Localized>,
    pub address: Option<Localized>,
    #[serde(skip)]
    pub span: Span,
}

/// A web link, with what a channel's link preview shows.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Link {
    pub url: Text,
    pub title: Option<Localized>,
    pub description: Option<Localized>,
    pub image: Option<Text>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Button {
    pub label: Localized,
    pub value: Option<Text>,
    pub url: Option<Text>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct QuickReply {
    pub label: Localized,
    pub value: Option<Text>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Card {
    pub title: Localized,
    pub subtitle: Option<Localized>,
    pub image: Option<Text>,
    pub buttons: Vec<Button>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Media {
    pub kind: Spanned<MediaKind>,
    pub url: Text,
    pub name: Option<Text>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Input {
    pub var: Name,
    /// The type as written; `None` means `text`. Unknown names are kept so
    /// the checker can report them with a suggestion.
    pub ty: Option<Spanned<String>>,
    pub prompt: Option<Localized>,
    pub options: Vec<Localized>,
    pub entity: Option<Name>,
    pub pattern: Option<Spanned<String>>,
    pub min: Option<Spanned<Limit>>,
    pub max: Option<Spanned<Limit>>,
    pub invalid: Option<Localized>,
    pub retries: Option<Spanned<u32>>,
    pub on_fail: Option<Target>,
    pub mask: bool,
    /// Media types a `file` or `image` input accepts (`application/pdf`,
    /// `image/*`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub types: Vec<Spanned<String>>,
    /// The largest upload a `file` or `image` input accepts, in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_size: Option<Spanned<u64>>,
}

impl Input {
    /// The type in effect: the one written, else `options` when options or an
    /// entity are given, `pattern` when a pattern is, else `text`. `None`
    /// for an unknown type name.
    #[must_use]
    pub fn effective_type(&self) -> Option<InputType> {
        match &self.ty {
            Some(ty) => InputType::parse(&ty.value),
            None if !self.options.is_empty() || self.entity.is_some() => Some(InputType::Options),
            None if self.pattern.is_some() => Some(InputType::Pattern),
            None => Some(InputType::Text),
        }
    }
}

/// An input's `min` or `max`: a number (for numbers, and the length of
/// text), or a date as written (`today`, `today+30`, `2026-12-31`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Limit {
    Number(f64),
    Date(String),
}

impl Limit {
    #[must_use]
    pub fn number(&self) -> Option<f64> {
        match self {
            Limit::Number(n) => Some(*n),
            Limit::Date(_) => None,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Rule {
    pub arms: Vec<RuleArm>,
    pub otherwise: Option<Target>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RuleArm {
    pub when: Script,
    pub goto: Target,
}

/// Rhai source: a `code` cell's script or a `when:` expression.
///
/// Both front ends store it normalised: common indentation removed, blank
/// lines at either end dropped, whitespace-only lines emptied. `span` covers
/// the text in the file; `check` maps rhai's line/column back through it.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Script {
    pub source: Spanned<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Jump {
    pub to: Target,
    /// `return: true`: come back to the next cell when the flow completes.
    pub returns: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct IntentSwitch {
    pub routes: Vec<(Name, Target)>,
    pub otherwise: Option<Target>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Service {
    pub method: Option<Spanned<Method>>,
    pub url: Text,
    pub headers: Vec<(Spanned<String>, Text)>,
    pub body: Option<Body>,
    pub timeout_ms: Option<Spanned<u64>>,
    pub save: Option<Name>,
    pub status: Option<Name>,
    pub on_error: Option<Target>,
}

/// A request body: a template, or JSON whose strings are templates.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Body {
    Template(Text),
    Json(Spanned<serde_json::Value>),
}

/// An analytics event the bot reports when the cell runs (`track:
/// checkout_started`), with properties whose strings are templates.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Track {
    /// The event's name as written (`check` says whether it is one).
    pub event: Spanned<String>,
    /// A JSON object: each value is plain JSON, and each string in it a
    /// template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<Spanned<serde_json::Value>>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Handoff {
    pub queue: Text,
    pub reason: Option<Text>,
    pub message: Option<Localized>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct End {
    pub message: Option<Localized>,
}

/// Whether `name` is a valid flow, cell, intent, entity or variable name.
#[must_use]
pub fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Normalises script text as both front ends store it (see [`Script`]).
#[must_use]
pub fn normalize_script(text: &str) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(|l| {
            if l.trim().is_empty() {
                ""
            } else {
                l.trim_end()
            }
        })
        .collect();
    let first = lines.iter().position(|l| !l.is_empty());
    let Some(first) = first else {
        return String::new();
    };
    let last = lines.iter().rposition(|l| !l.is_empty()).unwrap_or(first);
    let lines = &lines[first..=last];
    let indent = lines
        .iter()
        .filter(|l| !l.is_empty())
        .map(|l| l.len() - l.trim_start_matches([' ', '\t']).len())
        .min()
        .unwrap_or(0);
    let mut out = String::with_capacity(text.len());
    for (i, line) in lines.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(line.get(indent..).unwrap_or(""));
    }
    out
}
