//! `cellflow studio`: the bot as a picture and a chat in the browser
//! (docs/STUDIO.md).
//!
//! The studio takes a bot's source files and serves, from one HTTP server:
//! the page (plain HTML, CSS and JavaScript embedded in the binary), the
//! conversation API of [`crate::server`] on the memory store (the chat goes
//! through the same engine as `serve`), and routes of its own: the bot's
//! [`picture`] with `check`'s diagnostics placed on their cells, the
//! coverage of the bot's conversation tests, a stream (server-sent events)
//! of every turn's trace and of every reload, and saving a chat as a test.
//!
//! It watches the bot's directory: a change checks the bot again, redraws
//! the picture and, when the bot has no errors, swaps it into the server
//! (conversations go on where their cell still exists). It reads files only
//! to load the bot, and writes only the bot's test file; source lines come
//! from the loaded sources, never from a path a request names.

pub mod picture;
mod routes;
mod tests_file;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use crate::check::Checked;
use crate::runtime::{Bot, Request, Response};
use crate::server::{self, ServeError, StoreConfig, TurnObserver};

pub use picture::{Picture, draw};

/// How to run the studio.
#[derive(Clone, Debug)]
pub struct Options {
    /// The bot: a directory, or one flow file.
    pub bot: PathBuf,
    pub listen: SocketAddr,
    /// Allow an address other than loopback (needs `api_key`).
    pub remote: bool,
    /// The key the page and the API ask for. Without one (on loopback), a
    /// random key is made and handed to the page itself.
    pub api_key: Option<String>,
}

/// Why the studio could not start.
#[derive(Debug, thiserror::Error)]
pub enum StudioError {
    #[error(
        "{0} is reachable from other machines: pass --remote (and --api-key) to serve the studio there"
    )]
    NotLoopback(SocketAddr),
    #[error("--remote needs --api-key KEY: anyone who can reach the address could use the bot")]
    NoKey,
    #[error("the studio needs a bot's source files (a directory or a flow file): {0}")]
    NotSources(String),
    #[error(transparent)]
    Read(#[from] crate::project::ReadError),
    #[error(transparent)]
    Serve(#[from] ServeError),
    #[error("cannot watch {path} for changes: {message}")]
    Watch { path: PathBuf, message: String },
}

/// What the studio knows of the bot's files at the last load.
pub(crate) struct View {
    /// The check's result (its `prepared` given to the compiler).
    checked: Checked,
    /// The picture the page opens with, as JSON.
    picture: Arc<Vec<u8>>,
    /// Counts loads, so the page can tell a redraw is due.
    generation: u64,
}

/// A conversation as the studio saw it, to save as a test.
#[derive(Default)]
struct Chat {
    turns: Vec<(Request, Response)>,
}

/// Conversations kept for saving, and turns kept per conversation.
const CHATS: usize = 256;
const TURNS: usize = 1_000;

/// What the routes share.
pub(crate) struct Studio {
    /// The bot as given.
    bot: PathBuf,
    /// The directory it lives in: what is watched, and where tests go.
    dir: PathBuf,
    server: Arc<server::State>,
    view: RwLock<Arc<View>>,
    recorder: Arc<Recorder>,
    key: String,
    remote: bool,
    /// Serializes loads (the watcher's and a test save's).
    loading: Mutex<()>,
}

/// Hears every stored turn: keeps the chat, and tells the page.
struct Recorder {
    chats: Mutex<(
        std::collections::VecDeque<String>,
        std::collections::HashMap<String, Chat>,
    )>,
    events: tokio::sync::broadcast::Sender<Arc<(String, String)>>,
}

impl Recorder {
    fn publish(&self, name: &str, data: &serde_json::Value) {
        // No page listening is fine.
        let _ = self
            .events
            .send(Arc::new((name.to_owned(), data.to_string())));
    }
}

impl TurnObserver for Recorder {
    fn turned(&self, conversation: &str, request: &Request, response: &Response) {
        if let Ok(mut guard) = self.chats.lock() {
            let (order, chats) = &mut *guard;
            if !chats.contains_key(conversation) {
                if order.len() >= CHATS
                    && let Some(oldest) = order.pop_front()
                {
                    chats.remove(&oldest);
                }
                order.push_back(conversation.to_owned());
            }
            let chat = chats.entry(conversation.to_owned()).or_default();
            if chat.turns.len() < TURNS {
                chat.turns.push((request.clone(), response.clone()));
            }
        }
        let steps: Vec<serde_json::Value> = response
            .trace
            .iter()
            .map(|step| {
                serde_json::json!({
                    "node": picture::node_id(&step.flow, step.position),
                    "flow": step.flow,
                    "cell": step.cell,
                    "kind": step.kind,
                    "changed": step.changed,
                    "file": step.file,
                    "line": step.line,
                    "error": step.error,
                })
            })
            .collect();
        self.publish(
            "turn",
            &serde_json::json!({
                "conversation": conversation,
                "text": request.text,
                "event": request.event,
                "steps": steps,
                "intent": response.nlu.intent,
                "confidence": response.nlu.confidence,
                "entities": response.nlu.entities,
                "awaiting": response.awaiting,
                "ended": response.ended,
            }),
        );
    }
}

/// Checks the bot's files and draws them; compiles them when they have no
/// errors.
fn load(bot: &Path, generation: u64) -> Result<(View, Option<Bot>), StudioError> {
    let project = crate::project::Project::load(&[bot.to_owned()])?;
    let mut checked = crate::check::check(project);
    let drawn = draw(&checked, picture::Options::default());
    let picture = serde_json::to_vec(&drawn).unwrap_or_default();
    let compiled = if checked.has_errors() {
        None
    } else {
        let prepared = std::mem::take(&mut checked.prepared);
        crate::compile::compile(&checked.bot, &checked.lowered, prepared)
            .ok()
            .map(Bot::new)
    };
    Ok((
        View {
            checked,
            picture: Arc::new(picture),
            generation,
        },
        compiled,
    ))
}

/// Whether an address is this machine only.
fn loopback(addr: SocketAddr) -> bool {
    addr.ip().is_loopback()
}

/// A random key for a loopback studio: the page gets it from the server,
/// other sites' pages cannot read it.
fn random_key() -> String {
    let mut bytes = [0u8; 16];
    // Without the system's random source, the time is a key no other site
    // can guess in the life of the process either.
    if getrandom::fill(&mut bytes).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        bytes = nanos.to_le_bytes();
    }
    bytes.iter().fold(String::new(), |mut hex, b| {
        use std::fmt::Write as _;
        let _ = write!(hex, "{b:02x}");
        hex
    })
}

impl Studio {
    pub(crate) fn view(&self) -> Arc<View> {
        match self.view.read() {
            Ok(view) => Arc::clone(&view),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Loads the bot's files again: redraws, swaps the bot in when it has
    /// no errors, and tells the page.
    pub(crate) fn reload(&self) {
        let _one_at_a_time = self.loading.lock();
        let generation = self.view().generation + 1;
        let outcome = load(&self.bot, generation);
        let message = match outcome {
            Ok((view, bot)) => {
                let errors = view
                    .checked
                    .diagnostics
                    .iter()
                    .filter(|d| d.is_error())
                    .count();
                let installed = bot.map(|bot| self.server.install(bot));
                match self.view.write() {
                    Ok(mut current) => *current = Arc::new(view),
                    Err(poisoned) => *poisoned.into_inner() = Arc::new(view),
                }
                serde_json::json!({
                    "generation": generation,
                    "errors": errors,
                    "running": installed.map(|v| format!("{v:x}")),
                })
            }
            Err(e) => serde_json::json!({
                "generation": generation,
                "failed": e.to_string(),
            }),
        };
        self.recorder.publish("reload", &message);
    }
}

/// Runs the studio until interrupted. `ready` is called with the address
/// once it accepts connections.
///
/// # Errors
/// See [`StudioError`].
pub fn run(options: Options, ready: impl FnOnce(SocketAddr)) -> Result<(), StudioError> {
    if !loopback(options.listen) && !options.remote {
        return Err(StudioError::NotLoopback(options.listen));
    }
    let key = match (&options.api_key, options.remote) {
        (Some(key), _) if !key.trim().is_empty() => key.trim().to_owned(),
        (_, true) => return Err(StudioError::NoKey),
        (_, false) => random_key(),
    };
    let artifact = options.bot.is_file()
        && std::fs::read(&options.bot)
            .is_ok_and(|bytes| bytes.starts_with(crate::compile::ARTIFACT_MAGIC.as_bytes()));
    if artifact {
        return Err(StudioError::NotSources(format!(
            "{} is a compiled artifact",
            options.bot.display()
        )));
    }
    let dir = if options.bot.is_dir() {
        options.bot.clone()
    } else {
        options
            .bot
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
    };
    let (view, bot) = load(&options.bot, 0)?;
    let Some(bot) = bot else {
        // The server needs a bot that runs; the page still shows why not
        // once the author fixes it, but something must run first.
        let sources = &view.checked.sources;
        let errors: Vec<String> = view
            .checked
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .map(|d| crate::diagnostic::render(d, sources, false, 100))
            .collect();
        return Err(StudioError::Serve(ServeError::Bot(errors.join("\n"))));
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(8 * 1024 * 1024)
        .build()
        .map_err(ServeError::Io)?;
    runtime.block_on(async move {
        let mut config = server::Config::new(options.bot.clone());
        config.listen = options.listen;
        config.store = StoreConfig::Memory;
        config.api_keys = vec![key.clone()];
        // Page loads and traces are quick; an open trace stream should not
        // hold the process up when the author stops it.
        config.drain = Duration::from_millis(200);
        let (events, _) = tokio::sync::broadcast::channel(1_024);
        let recorder = Arc::new(Recorder {
            chats: Mutex::default(),
            events,
        });
        let observer: Arc<dyn TurnObserver> = recorder.clone();
        let state = server::observed_state(config, bot, Some(observer)).await?;
        let studio = Arc::new(Studio {
            bot: options.bot.clone(),
            dir: dir.clone(),
            server: Arc::clone(&state),
            view: RwLock::new(Arc::new(view)),
            recorder,
            key,
            remote: options.remote,
            loading: Mutex::new(()),
        });
        let _watcher = watch(&studio)?;
        let listener = tokio::net::TcpListener::bind(options.listen)
            .await
            .map_err(|source| ServeError::Listen {
                addr: options.listen,
                source,
            })?;
        let local = listener.local_addr().map_err(ServeError::Io)?;
        server::spawn_background(&state);
        ready(local);
        let router = routes::router(&studio, local);
        server::accept(&listener, router, state.config(), server::shutdown_signal()).await;
        Ok(())
    })
}

/// Watches the bot's directory; reloads a moment after the last change
/// (editors write a file in several steps).
fn watch(studio: &Arc<Studio>) -> Result<notify::RecommendedWatcher, StudioError> {
    use notify::Watcher as _;
    let (tell, changes) = std::sync::mpsc::channel::<()>();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event
            && !matches!(event.kind, notify::EventKind::Access(_))
            && event.paths.iter().any(|p| worth_reloading(p))
        {
            let _ = tell.send(());
        }
    })
    .map_err(|e| StudioError::Watch {
        path: studio.dir.clone(),
        message: e.to_string(),
    })?;
    watcher
        .watch(&studio.dir, notify::RecursiveMode::Recursive)
        .map_err(|e| StudioError::Watch {
            path: studio.dir.clone(),
            message: e.to_string(),
        })?;
    let studio = Arc::clone(studio);
    std::thread::Builder::new()
        .name("studio-reload".into())
        .spawn(move || {
            const QUIET: Duration = Duration::from_millis(120);
            while changes.recv().is_ok() {
                while changes.recv_timeout(QUIET).is_ok() {}
                studio.reload();
            }
        })
        .map_err(|e| StudioError::Watch {
            path: PathBuf::new(),
            message: e.to_string(),
        })?;
    Ok(watcher)
}

/// Flow files and test files, not editors' swap files or hidden folders.
fn worth_reloading(path: &Path) -> bool {
    let hidden = path.components().any(|c| {
        c.as_os_str()
            .to_str()
            .is_some_and(|s| s.starts_with('.') && s.len() > 1 && s != "..")
    });
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    !hidden && matches!(extension.as_str(), "flow" | "yaml" | "yml")
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn only_flow_and_test_files_reload() {
        assert!(worth_reloading(Path::new("bot/main.flow")));
        assert!(worth_reloading(Path::new("bot/a.flow.yaml")));
        assert!(worth_reloading(Path::new("bot/bot.test.yaml")));
        assert!(!worth_reloading(Path::new("bot/.main.flow.swp")));
        assert!(!worth_reloading(Path::new("bot/.git/main.flow")));
        assert!(!worth_reloading(Path::new("bot/main.flow~")));
    }

    #[test]
    fn beyond_loopback_needs_the_flag_and_a_key() {
        let options = |listen: &str, remote, key: Option<&str>| Options {
            bot: PathBuf::from("flows/pizza"),
            listen: listen.parse().unwrap(),
            remote,
            api_key: key.map(str::to_owned),
        };
        assert!(matches!(
            run(options("0.0.0.0:0", false, Some("k")), |_| {}),
            Err(StudioError::NotLoopback(_))
        ));
        assert!(matches!(
            run(options("0.0.0.0:0", true, None), |_| {}),
            Err(StudioError::NoKey)
        ));
        assert_eq!(random_key().len(), 32);
    }
}
