//! The runtime: a compiled bot that hosts load once and share, and the
//! sessions it runs turns for.
//!
//! ```
//! use cellflow::runtime::{Bot, Request};
//!
//! let bot = Bot::load("flows/pizza").expect("the example bot loads");
//! let mut session = bot.new_session();
//! let hello = bot.turn(&mut session, Request::event("welcome")).unwrap();
//! assert!(hello.answers[0].text.starts_with("Welcome to Napoli"));
//!
//! let reply = bot.turn(&mut session, Request::text("I want a pizza")).unwrap();
//! assert_eq!(reply.answers[0].text, "Which pizza would you like?");
//!
//! // Sessions are plain data: store them anywhere, resume them later.
//! let stored = serde_json::to_string(&session).unwrap();
//! let mut session: cellflow::runtime::Session = serde_json::from_str(&stored).unwrap();
//! let reply = bot.turn(&mut session, Request::text("funghi")).unwrap();
//! assert_eq!(reply.vars.get("kind").unwrap(), "mushroom");
//! ```
//!
//! [`Bot`] knows only the compiled [`Program`]; it never sees the syntax or
//! the checker. Loading belongs to the compile layer ([`crate::compile::load`]
//! and friends; [`Bot::load`] calls it): a directory is checked first, and a
//! bot with errors is refused.

mod http;
mod input;
mod interpreter;
mod message;
mod nlu;
mod secrets;
mod session;
mod vars;

use std::path::Path;
use std::sync::Arc;

pub use http::{FnClient, HttpClient, HttpError, HttpRequest, HttpResponse, Network};
pub(crate) use input::decimal_comma;
pub use interpreter::{MAX_STEPS, MAX_TEXT_BYTES};
pub use message::{
    Answer, AnswerType, Awaiting, Button, Card, Event, Link, Location, MASK, Media, Nlu, Place,
    ReplyScope, Request, Response, Step, Tracked, Voice,
};
pub use nlu::{Builtin, Classifier, MAX_TYPO_WORD_CHARS, Ranking, rank};
pub use secrets::Secrets;
pub use session::{Frame, MAX_VALUE_DEPTH, Session, Wait};
pub use vars::{Var, Vars};

pub use crate::compile::LoadError;
use crate::compile::{CellIndex, Program};

/// Why a request could not be run (the session is unchanged).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum TurnError {
    #[error("no flow is named `{0}` (events name a flow, `welcome`, `resume` or `timeout`)")]
    UnknownEvent(String),
    #[error("the text is longer than {limit} bytes")]
    TextTooLong { limit: usize },
    /// A `context` value nests deeper than a session can keep (see
    /// [`MAX_VALUE_DEPTH`]).
    #[error("`context.{name}` nests arrays and objects more than {limit} levels deep")]
    ValueTooDeep { name: String, limit: usize },
    /// The session refers to cells this bot does not have where it would
    /// follow them: it is corrupt, or from another bot.
    #[error("the session does not fit this bot: {0}")]
    SessionMismatch(String),
    /// The context tries to change a read-only variable (or to set one
    /// the host does not provide).
    #[error("`{name}` is read-only: a request's context cannot change it")]
    ReadOnly { name: String },
}

/// A compiled bot, ready to run turns. Cheap to clone; share it between
/// threads: it is immutable, and all conversation state lives in [`Session`].
#[derive(Clone)]
pub struct Bot {
    program: Arc<Program>,
    engine: Arc<rhai::Engine>,
    classifier: Arc<dyn Classifier>,
    http: Arc<dyn HttpClient>,
    max_steps: usize,
    script_time: std::time::Duration,
    tracing: bool,
    analytics: bool,
    /// The values of the environment variables the program's services
    /// name (`Program::env`), read when the bot was made.
    env: Arc<[Option<String>]>,
}

impl std::fmt::Debug for Bot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bot")
            .field("name", &self.program.name)
            .field("version", &self.program.version)
            .finish_non_exhaustive()
    }
}

/// What a turn reports as it runs, to a host that asks
/// ([`Bot::turn_covered`]): conversation tests record coverage through it.
pub trait Observer {
    /// A cell ran.
    fn cell(&mut self, cell: CellIndex);
    /// A cell took one of its branches (it ran, too).
    fn branch(&mut self, cell: CellIndex, branch: crate::compile::Branch);
    /// A cell's text read a variable with no value, as `path` (`a.b`).
    fn unset(&mut self, cell: CellIndex, path: &str);
}

impl Bot {
    /// Loads a bot from a directory, a flow file, or a compiled artifact
    /// (see [`crate::compile::load`]).
    ///
    /// # Errors
    /// The path cannot be read, the bot has errors (the check diagnostics),
    /// or the artifact is of another version or corrupt.
    pub fn load(path: impl AsRef<Path>) -> Result<Bot, LoadError> {
        crate::compile::load(path.as_ref()).map(Bot::new)
    }

    /// Loads a compiled artifact (see [`crate::compile::load_artifact`]).
    ///
    /// # Errors
    /// The artifact's AST does not compile, or its model does not fit it.
    pub fn from_artifact(artifact: crate::compile::Artifact) -> Result<Bot, LoadError> {
        crate::compile::load_artifact(artifact).map(Bot::new)
    }

    /// A bot that runs a compiled program (from [`crate::compile`]'s
    /// loading functions), with the built-in classifier and the network.
    #[must_use]
    pub fn new(program: Program) -> Bot {
        let env = read_env(&program, |name| std::env::var(name).ok());
        Bot {
            env,
            program: Arc::new(program),
            engine: Arc::new(crate::script::engine()),
            classifier: Arc::new(Builtin),
            http: Arc::new(Network),
            max_steps: MAX_STEPS,
            script_time: crate::script::MAX_SCRIPT_TIME,
            tracing: false,
            analytics: false,
        }
    }

    /// Reads the environment variables services name (`${API_TOKEN}` in a
    /// URL or header) from `read` instead of the process environment
    /// ([`Bot::new`] reads that): `None` leaves a variable unset, and a
    /// service that needs it fails without calling.
    #[must_use]
    pub fn with_environment(mut self, read: impl Fn(&str) -> Option<String>) -> Bot {
        self.env = read_env(&self.program, read);
        self
    }

    /// Uses another classifier (the host's NLU).
    #[must_use]
    pub fn with_classifier(mut self, classifier: impl Classifier + 'static) -> Bot {
        self.classifier = Arc::new(classifier);
        self
    }

    /// Answers `service` calls with another client (tests, proxies).
    #[must_use]
    pub fn with_http(mut self, http: impl HttpClient + 'static) -> Bot {
        self.http = Arc::new(http);
        self
    }

    /// Records the cells each turn visits in [`Response::trace`].
    #[must_use]
    pub fn with_tracing(mut self, on: bool) -> Bot {
        self.tracing = on;
        self
    }

    /// Reports the runtime's own analytics events in
    /// [`Response::tracked`], besides those of `track` cells (which are
    /// always reported): `flow_started` (with its `trigger`),
    /// `flow_completed`, `intent_matched`, `fallback`, `handoff`,
    /// `input_failed`, `script_error` and `conversation_ended`
    /// (docs/RUNTIME.md). Off by default: a turn then builds none of them.
    #[must_use]
    pub fn with_analytics(mut self, on: bool) -> Bot {
        self.analytics = on;
        self
    }

    /// Changes the per-turn step limit.
    #[must_use]
    pub fn with_max_steps(mut self, steps: usize) -> Bot {
        self.max_steps = steps.max(1);
        self
    }

    /// Changes how long the scripts and conditions of one turn may run
    /// together, by the wall clock (default
    /// [`MAX_SCRIPT_TIME`](crate::script::MAX_SCRIPT_TIME)). A turn over it
    /// fails like any script error: an error answer, the session as before.
    #[must_use]
    pub fn with_script_time(mut self, budget: std::time::Duration) -> Bot {
        self.script_time = budget;
        self
    }

    #[must_use]
    pub fn program(&self) -> &Program {
        &self.program
    }

    /// A fresh session with a new random id.
    #[must_use]
    pub fn new_session(&self) -> Session {
        Session::new(new_id())
    }

    /// Runs one turn.
    ///
    /// A script error or the step limit is not an `Err`: the response carries
    /// an error answer and an [`Event::Error`], and the session is left as it
    /// was before the turn.
    ///
    /// # Errors
    /// The request names an unknown event, its text is too long or its
    /// context too deep, or the session does not fit this bot (corrupt, or
    /// from another bot, with a cell index the bot does not have); the
    /// session is not changed.
    pub fn turn(&self, session: &mut Session, request: Request) -> Result<Response, TurnError> {
        interpreter::run(self, session, request, None)
    }

    /// Runs one turn like [`Bot::turn`], telling `observer` the cells and
    /// branches it takes and the placeholders that rendered with no value
    /// (conversation tests pass their coverage).
    ///
    /// # Errors
    /// As [`Bot::turn`].
    pub fn turn_covered(
        &self,
        session: &mut Session,
        request: Request,
        observer: &std::cell::RefCell<dyn Observer>,
    ) -> Result<Response, TurnError> {
        interpreter::run(self, session, request, Some(observer))
    }

    /// Sets variables as a request's `context` would, without running a
    /// turn (a host that learns something between messages).
    ///
    /// # Errors
    /// A value nests too deep, a read-only variable would change, or the
    /// session does not fit this bot; the session is not changed.
    pub fn set_context(
        &self,
        session: &mut Session,
        context: &std::collections::BTreeMap<String, serde_json::Value>,
    ) -> Result<(), TurnError> {
        interpreter::set_context(&self.program, session, context)
    }

    /// What the session waits for (as [`Response::awaiting`] says).
    #[must_use]
    pub fn awaiting(&self, session: &Session) -> Option<Awaiting> {
        interpreter::awaiting(&self.program, session)
    }

    /// How long the conversation may now wait for the user before the host
    /// sends it the `timeout` event (`Request::event("timeout")`): the
    /// timeout of the flow it waits in, else the bot's
    /// `inactivity.after`. `None` when nothing is configured, and when
    /// nothing waits for the user: the conversation ended, is handed off,
    /// or never started.
    #[must_use]
    pub fn inactivity(&self, session: &Session) -> Option<std::time::Duration> {
        if session.ended || session.handed_off() || session.turn == 0 {
            return None;
        }
        let program = &self.program;
        let own = interpreter::waiting(program, session)
            .and_then(|wait| program.cell_at(wait.cell()))
            .and_then(|cell| program.flow_at(cell.flow).timeout);
        own.or(program.inactivity)
            .map(std::time::Duration::from_secs)
    }

    /// Whether the session waits on a masked input: the next message is a
    /// secret, so hosts keep it out of logs and history.
    #[must_use]
    pub fn awaits_secret(&self, session: &Session) -> bool {
        match interpreter::waiting(&self.program, session) {
            Some(Wait::Cell(cell)) => matches!(
                &self.program.cell(cell).kind,
                crate::compile::Kind::Input { input, .. } if input.mask
            ),
            _ => false,
        }
    }

    /// The session's variables as the channel may see them: no
    /// `_temporaries`, no hidden variables, every variable that can hold a
    /// masked value (copies included) shown as [`MASK`], and any masked
    /// value inside another (a service reply that echoes it) redacted.
    #[must_use]
    pub fn shown_vars(&self, session: &Session) -> Vars {
        let program = &self.program;
        let shown = session.vars.visible_with(
            |name| session.is_masked(name) || program.is_masked(name),
            |name| program.is_hidden(name),
        );
        let secrets = Secrets::of(program, session);
        if secrets.is_empty() {
            return shown;
        }
        shown
            .iter()
            .map(|(name, value)| {
                let mut value = value.to_value();
                secrets.redact_value(&mut value);
                (name, value)
            })
            .collect()
    }

    /// What the session holds that must not leave the server in clear:
    /// redact with it anything stored or logged about the conversation
    /// (the server's history does).
    #[must_use]
    pub fn secrets(&self, session: &Session) -> Secrets {
        Secrets::of(&self.program, session)
    }

    pub(crate) fn engine(&self) -> &rhai::Engine {
        &self.engine
    }
    pub(crate) fn classifier(&self) -> &dyn Classifier {
        self.classifier.as_ref()
    }
    pub(crate) fn http(&self) -> &dyn HttpClient {
        self.http.as_ref()
    }
    pub(crate) fn max_steps(&self) -> usize {
        self.max_steps
    }
    pub(crate) fn script_time(&self) -> std::time::Duration {
        self.script_time
    }
    pub(crate) fn tracing(&self) -> bool {
        self.tracing
    }
    pub(crate) fn analytics(&self) -> bool {
        self.analytics
    }
    pub(crate) fn env_value(&self, at: u32) -> Option<&str> {
        self.env.get(at as usize)?.as_deref()
    }
    pub(crate) fn env_values(&self) -> impl Iterator<Item = &str> {
        self.env.iter().flatten().map(String::as_str)
    }
}

/// The values of a program's environment variables, in its order.
fn read_env(program: &Program, read: impl Fn(&str) -> Option<String>) -> Arc<[Option<String>]> {
    program.env.iter().map(|name| read(name)).collect()
}

/// A session id: 128 bits from the operating system's cryptographic random
/// source, as 32 lowercase hex digits. Whoever knows an id can continue the
/// conversation (with an API key), so it must not be guessable.
///
/// # Panics
/// If the operating system has no random source to give (a machine that
/// cannot be trusted with sessions at all).
pub(crate) fn new_id() -> String {
    use std::fmt::Write as _;
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the operating system's random source works");
    let mut id = String::with_capacity(32);
    for byte in bytes {
        let _ = write!(id, "{byte:02x}");
    }
    id
}
