//! The compiled program: the immutable types the runtime executes.
//!
//! Everything here is ready to run: successors are cell indexes, texts are
//! parsed templates, scripts are compiled, regexes are built. A program is
//! `Send + Sync` and shared by every session.

use std::collections::HashMap;
use std::sync::Arc;

use regex::Regex;

use super::{CellIndex, EntityIndex, FlowIndex, IntentIndex};
use crate::classifier::Model;
pub use crate::graph::Branch;
use crate::kinds::{AnswerType, InputType, MediaKind, Method, Pick, ReplyScope};
use crate::template::{self, Template};

/// A compiled script or condition, with the variables it touches, so a
/// turn converts only those into and out of the script's scope.
#[derive(Debug)]
pub struct Script {
    pub ast: Arc<rhai::AST>,
    /// Session variables it reads or assigns (temporaries included).
    pub vars: Vec<String>,
    /// Built-ins it reads: `input`, `user`, `bot`, `session`.
    pub builtins: Vec<&'static str>,
}

/// Where control goes next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Goto {
    /// A cell, by index.
    Cell(CellIndex),
    /// The flow completes: return to the caller, or idle.
    Complete,
}

/// One compiled cell.
#[derive(Debug)]
pub struct Cell {
    pub flow: FlowIndex,
    /// Position in its flow's cell list.
    pub position: u32,
    /// The author's id, if any (service mocks and traces use it).
    pub id: Option<String>,
    /// Names this cell across versions of the bot: its flow's name and its
    /// id (or, for a cell without one, its kind and position). A session
    /// paused here resumes on the cell with the same key after a reload.
    pub key: u64,
    pub kind: Kind,
    /// Where the cell is written (empty for a bot read from an artifact).
    pub span: crate::source::Span,
}

#[derive(Debug)]
pub struct Button {
    pub label: Phrase,
    pub value: Option<Template>,
    pub url: Option<Template>,
}

#[derive(Debug)]
pub struct Card {
    pub title: Phrase,
    pub subtitle: Option<Phrase>,
    pub image: Option<Template>,
    pub buttons: Vec<Button>,
}

#[derive(Debug)]
pub struct Media {
    pub kind: MediaKind,
    pub url: Template,
    pub name: Option<Template>,
}

#[derive(Debug)]
pub struct Location {
    pub lat: Template,
    pub lng: Template,
    pub name: Option<Phrase>,
    pub address: Option<Phrase>,
}

#[derive(Debug)]
pub struct Link {
    pub url: Template,
    pub title: Option<Phrase>,
    pub description: Option<Phrase>,
    pub image: Option<Template>,
}

#[derive(Debug)]
pub struct Answer {
    /// The type of the message the content makes (`typing` and `delay`
    /// are sent before it as messages of their own).
    pub kind: AnswerType,
    /// Whether there is a message besides `typing` and `delay`.
    pub has_content: bool,
    pub texts: Vec<Phrase>,
    pub pick: Pick,
    pub buttons: Vec<Button>,
    pub quick_replies: Vec<(Phrase, Option<Template>)>,
    pub scope: ReplyScope,
    pub cards: Vec<Card>,
    pub media: Option<Media>,
    pub location: Option<Location>,
    pub link: Option<Link>,
    pub custom: Option<serde_json::Value>,
    pub evaluable: bool,
    pub typing: Option<u64>,
    pub delay: Option<u64>,
    pub voice: Option<Phrase>,
    pub mask: bool,
}

/// An option of an `options` input: the value it stores (its text in the
/// default language), the text shown in each of the bot's languages, and
/// the normalised forms of all of them, any of which picks it.
#[derive(Debug)]
pub struct Choice {
    pub value: arcstr::ArcStr,
    pub shown: Box<[arcstr::ArcStr]>,
    pub normalized: Vec<String>,
}

impl Choice {
    /// The option as shown in a language (a position in `Program::languages`).
    #[must_use]
    pub fn label(&self, language: usize) -> &arcstr::ArcStr {
        self.shown.get(language).unwrap_or(&self.value)
    }
}

/// Text the user reads, ready in each of the bot's languages: the
/// template for a language is its position in `Program::languages`. A text
/// written once has one template, which every language reads.
#[derive(Debug)]
pub struct Phrase {
    first: Template,
    others: Box<[Template]>,
}

impl Phrase {
    /// One text for every language.
    #[must_use]
    pub fn one(template: Template) -> Phrase {
        Phrase {
            first: template,
            others: Box::default(),
        }
    }

    /// A text per language, in the order of `Program::languages`.
    #[must_use]
    pub fn by_language(first: Template, others: Vec<Template>) -> Phrase {
        Phrase {
            first,
            others: others.into_boxed_slice(),
        }
    }

    /// The text for a language (a position in `Program::languages`).
    #[must_use]
    pub fn get(&self, language: usize) -> &Template {
        language
            .checked_sub(1)
            .and_then(|i| self.others.get(i))
            .unwrap_or(&self.first)
    }
}

#[derive(Debug)]
pub struct Input {
    pub var: arcstr::ArcStr,
    pub ty: InputType,
    pub prompt: Option<Phrase>,
    pub choices: Vec<Choice>,
    /// `entity:`: synonyms map to the entity's canonical values.
    pub entity: Option<EntityIndex>,
    pub pattern: Option<Regex>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    /// For dates: the first day accepted.
    pub after: Option<crate::when::Bound>,
    /// For dates: the last day accepted.
    pub before: Option<crate::when::Bound>,
    pub invalid: Option<Phrase>,
    pub retries: u32,
    pub mask: bool,
    /// Media types an upload may have (`image/*` matches any image).
    pub types: Vec<arcstr::ArcStr>,
    /// The largest upload accepted, in bytes.
    pub max_size: Option<u64>,
}

#[derive(Debug)]
pub enum Body {
    Template(Template),
    Json(template::JsonTemplate),
}

/// A service's URL or a header's value: templates, and the environment
/// variables it names (`${API_TOKEN}`), each by its position in
/// [`Program::env`]. The values are read when the bot is loaded to run,
/// never stored in the program.
#[derive(Debug)]
pub struct ServiceText {
    pub pieces: Vec<ServicePiece>,
}

#[derive(Debug)]
pub enum ServicePiece {
    Template(Template),
    Env(u32),
}

#[derive(Debug)]
pub struct Service {
    pub method: Method,
    pub url: ServiceText,
    pub headers: Vec<(String, ServiceText)>,
    pub body: Option<Body>,
    pub timeout_ms: u64,
    pub save: Option<String>,
    pub status: Option<String>,
}

/// A cell's behaviour with its successors resolved.
#[derive(Debug)]
pub enum Kind {
    Answer {
        answer: Box<Answer>,
        next: Goto,
    },
    Input {
        input: Box<Input>,
        valid: Goto,
        fail: Goto,
    },
    Rule {
        arms: Vec<(Script, Goto)>,
        otherwise: Goto,
    },
    Code {
        script: Script,
        next: Goto,
    },
    Jump {
        to: Goto,
        call: bool,
        after: Goto,
    },
    Intent {
        routes: Vec<(IntentIndex, Goto)>,
        otherwise: Option<Goto>,
    },
    Service {
        service: Box<Service>,
        ok: Goto,
        error: Goto,
    },
    /// Reports an analytics event and goes on.
    Track {
        event: arcstr::ArcStr,
        /// A JSON object whose strings are templates, if the cell has
        /// properties.
        properties: Option<template::JsonTemplate>,
        next: Goto,
    },
    Handoff {
        queue: Template,
        reason: Option<Template>,
        message: Option<Phrase>,
        resume: Goto,
    },
    End {
        message: Option<Phrase>,
    },
}

/// A flow: its name and where it starts.
#[derive(Debug)]
pub struct Flow {
    /// Shared, so that what reports the flow (analytics) copies nothing.
    pub name: arcstr::ArcStr,
    pub entry: Goto,
    /// The inactivity timeout while the conversation waits in this flow,
    /// in seconds (instead of the bot's).
    pub timeout: Option<u64>,
}

/// What the built-in classifier needs: the trained model, the examples
/// that are sure hits, and the patterns.
#[derive(Debug, Default)]
pub struct NluIndex {
    /// The model trained on the intents' examples (and the out-of-scope
    /// ones); none when no intent has an example.
    pub model: Option<Model>,
    /// Each normalised example → the classes it is an example of, in order
    /// (`intents.len()` for an out-of-scope example): a message equal to
    /// one is a sure hit.
    pub exact: rustc_hash::FxHashMap<Box<str>, Vec<u32>>,
    /// Every intent pattern, and the intent each belongs to.
    pub patterns: crate::pattern::IntentPatterns,
}

/// The classifier of one of the bot's languages after the first, for a bot
/// whose intents have examples per language (patterns are shared).
#[derive(Debug)]
pub struct LanguageNlu {
    pub model: Option<Model>,
    pub exact: rustc_hash::FxHashMap<Box<str>, Vec<u32>>,
}

/// An intent: its name and whether it may interrupt a pending input.
#[derive(Debug)]
pub struct Intent {
    pub name: String,
    pub global: bool,
    /// The first example as written (tools that talk to the bot use it).
    pub example: Option<String>,
}

/// An entity for the classifier.
#[derive(Debug)]
pub enum Entity {
    /// Canonical values, each with its synonyms.
    List {
        name: String,
        values: Vec<EntityValue>,
    },
    Pattern {
        name: String,
        regex: Regex,
    },
}

/// A canonical value of a list entity and the words that mean it.
#[derive(Debug)]
pub struct EntityValue {
    pub canonical: String,
    /// Normalised, the canonical value first; each with the language it
    /// belongs to (a position in [`Program::languages`]), `None` for every
    /// language.
    pub synonyms: Vec<(Option<usize>, String)>,
}

impl EntityValue {
    /// The normalised synonyms a conversation in `language` understands.
    pub fn synonyms_in(&self, language: usize) -> impl Iterator<Item = &str> {
        self.synonyms
            .iter()
            .filter(move |(l, _)| l.is_none_or(|l| l == language))
            .map(|(_, s)| s.as_str())
    }
}

impl Entity {
    #[must_use]
    pub fn name(&self) -> &str {
        match self {
            Entity::List { name, .. } | Entity::Pattern { name, .. } => name,
        }
    }
}

/// The compiled bot: immutable, shared by all sessions.
#[derive(Debug)]
pub struct Program {
    pub name: String,
    pub locale: String,
    /// The languages the bot speaks, the default first (one, from
    /// `locale`, when the bot declares none).
    pub languages: Vec<String>,
    /// Per language: the locale its numbers, yes/no words and dates are
    /// read by.
    pub parse_locales: Vec<String>,
    /// With `detect_language`: a detector limited to the bot's languages
    /// it knows, and which of `languages` each of its answers means.
    pub detector: Option<(whatlang::Detector, Vec<(whatlang::Lang, usize)>)>,
    /// Where "today" and times are: the bot's `timezone` (UTC without one).
    pub timezone: jiff::tz::TimeZone,
    /// The classifiers of the languages after the first, when intents have
    /// examples per language (else `nlu` serves every language).
    pub nlu_languages: Vec<LanguageNlu>,
    /// Per language: the built-in messages, in `language::Builtin` order.
    pub builtin_messages: Vec<[arcstr::ArcStr; 4]>,
    /// After how many seconds without a message a conversation times out
    /// (`bot.inactivity.after`; a flow's own `timeout` wins while the
    /// conversation waits in it).
    pub inactivity: Option<u64>,
    /// What closes a conversation that timed out with no `on: timeout`
    /// flow (else the built-in `inactivity_closed` message).
    pub inactivity_message: Option<Phrase>,
    pub threshold: f64,
    /// Variables the host sets in every request.
    pub context: Vec<String>,
    /// Variables that can hold a masked value, sorted: those of masked
    /// inputs, and every variable a code cell may copy one into (see
    /// `check::secrets`).
    pub masked: Vec<String>,
    /// Variables never shown to the channel, sorted.
    pub hidden: Vec<String>,
    /// Variables a request's context cannot change once set, sorted.
    pub readonly: Vec<String>,
    pub cells: Vec<Option<Cell>>,
    /// [`Cell::key`] → cell index.
    pub cell_by_key: rustc_hash::FxHashMap<u64, CellIndex>,
    pub flows: Vec<Flow>,
    pub flow_by_name: HashMap<String, FlowIndex>,
    pub welcome: Option<FlowIndex>,
    pub fallback: Option<FlowIndex>,
    /// The flow `on: timeout`.
    pub timeout: Option<FlowIndex>,
    /// Intent index → the flow it triggers.
    pub intent_flows: HashMap<IntentIndex, FlowIndex>,
    /// Global intents that trigger a flow: the only ones that can interrupt
    /// a pending input.
    pub global_intents: Vec<IntentIndex>,
    /// Entity index → the flow it triggers.
    pub entity_flows: Vec<(EntityIndex, FlowIndex)>,
    pub intents: Vec<Intent>,
    /// Intent name → its index: a routed turn finds its intent in constant
    /// time, whatever the number of intents.
    pub intent_by_name: rustc_hash::FxHashMap<String, IntentIndex>,
    pub nlu: NluIndex,
    pub entities: Vec<Entity>,
    /// Every variable some cell may assign (temporaries included): scripts
    /// see them declared, so `x = 1` works before `x` was ever set.
    pub variables: Vec<String>,
    /// Changes whenever the bot's program changes (sessions record it).
    pub version: u64,
    /// Some cell is a `service`: a turn may wait on the network.
    pub calls_services: bool,
    /// The environment variables services name (`${API_TOKEN}`), once
    /// each: names only; a bot reads their values when it is made.
    pub env: Vec<String>,
    /// Where each cell and script is written (file and line), for runtime
    /// errors to name; empty for a bot compiled without its sources.
    pub places: crate::source::Places,
}

impl Program {
    /// The exact examples and the model a language (a position in
    /// [`Program::languages`]) classifies with: its own when the bot's
    /// intents have examples per language, else the shared ones.
    #[must_use]
    pub fn classifier_in(
        &self,
        language: usize,
    ) -> (&rustc_hash::FxHashMap<Box<str>, Vec<u32>>, Option<&Model>) {
        match language
            .checked_sub(1)
            .and_then(|i| self.nlu_languages.get(i))
        {
            Some(own) => (&own.exact, own.model.as_ref()),
            None => (&self.nlu.exact, self.nlu.model.as_ref()),
        }
    }

    /// The locale numbers and dates are read with in a language (a
    /// position in [`Program::languages`]).
    #[must_use]
    pub fn locale_in(&self, language: usize) -> &str {
        self.parse_locales
            .get(language)
            .map_or(self.locale.as_str(), String::as_str)
    }

    /// Whether `name` can hold a masked value.
    #[must_use]
    pub fn is_masked(&self, name: &str) -> bool {
        self.masked
            .binary_search_by(|m| m.as_str().cmp(name))
            .is_ok()
    }

    /// Whether `name` is never shown to the channel.
    #[must_use]
    pub fn is_hidden(&self, name: &str) -> bool {
        self.hidden
            .binary_search_by(|m| m.as_str().cmp(name))
            .is_ok()
    }

    /// Whether a request's context cannot change `name` once it is set.
    #[must_use]
    pub fn is_readonly(&self, name: &str) -> bool {
        self.readonly
            .binary_search_by(|m| m.as_str().cmp(name))
            .is_ok()
    }

    /// The cell at an index. Indexes come from this program, so a missing
    /// cell is a broken invariant.
    ///
    /// # Panics
    /// If `index` is not a cell of this program.
    #[must_use]
    pub fn cell(&self, index: CellIndex) -> &Cell {
        self.cell_at(index)
            .expect("cell indexes come from this program")
    }

    /// The cell at an index that may not be this program's (one a session
    /// stored, perhaps for another version of the bot).
    #[must_use]
    pub fn cell_at(&self, index: CellIndex) -> Option<&Cell> {
        self.cells.get(index.position()).and_then(Option::as_ref)
    }

    /// A flow by index.
    ///
    /// # Panics
    /// If `index` is not a flow of this program.
    #[must_use]
    pub fn flow_at(&self, index: FlowIndex) -> &Flow {
        &self.flows[index.position()]
    }

    /// The flow a trigger-less event or target name starts.
    #[must_use]
    pub fn flow(&self, name: &str) -> Option<&Flow> {
        self.flow_by_name.get(name).map(|&i| self.flow_at(i))
    }

    /// An entity by index.
    ///
    /// # Panics
    /// If `index` is not an entity of this program.
    #[must_use]
    pub fn entity(&self, index: EntityIndex) -> &Entity {
        &self.entities[index.position()]
    }

    /// An intent by index.
    ///
    /// # Panics
    /// If `index` is not an intent of this program.
    #[must_use]
    pub fn intent(&self, index: IntentIndex) -> &Intent {
        &self.intents[index.position()]
    }
}

/// The name of a cell kind, as the languages spell it.
#[must_use]
pub fn kind_name(kind: &Kind) -> &'static str {
    match kind {
        Kind::Answer { .. } => "answer",
        Kind::Input { .. } => "input",
        Kind::Rule { .. } => "rule",
        Kind::Code { .. } => "code",
        Kind::Jump { .. } => "jump",
        Kind::Intent { .. } => "intent",
        Kind::Service { .. } => "service",
        Kind::Track { .. } => "track",
        Kind::Handoff { .. } => "handoff",
        Kind::End { .. } => "end",
    }
}
