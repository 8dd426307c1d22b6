//! `cellflow serve`: the HTTP conversation API (docs/SERVER.md).
//!
//! Requests are authenticated with bearer keys, bounded in size, and rate
//! limited per key. A turn runs on the async worker that received it when
//! nothing in it can wait (the memory or SQLite store, a bot without
//! `service` cells), on the blocking pool otherwise: it takes the
//! conversation's lock stripe (turns of one conversation in this process
//! queue up), reads the record, runs the turn on a copy of the session, and
//! writes the result conditionally on the version it read. A conflicting
//! write (another process sharing the Redis store won the race) runs the turn
//! again on the new state; a store failure answers 503 and leaves the stored
//! conversation as it was.

mod api;
mod metrics;
pub mod store;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use crate::runtime::Bot;

pub use store::{MemoryStore, Record, RedisStore, SessionStore, SqliteStore, StoreError};

/// Which store keeps the conversations.
#[derive(Clone, Debug)]
pub enum StoreConfig {
    Memory,
    Sqlite(PathBuf),
    Redis(String),
}

/// Everything `serve` needs; the CLI fills it from flags and the environment.
#[derive(Clone, Debug)]
pub struct Config {
    /// The bot: a directory, a flow file or a compiled artifact.
    pub bot: PathBuf,
    pub listen: SocketAddr,
    pub store: StoreConfig,
    /// Bearer keys for the conversation API.
    pub api_keys: Vec<String>,
    /// Bearer keys for `/admin/*`.
    pub admin_keys: Vec<String>,
    /// A conversation idle this long expires.
    pub idle: Duration,
    /// Largest request body, in bytes (413 beyond).
    pub max_body_bytes: usize,
    /// Longest `text`, in bytes (422 beyond).
    pub max_text_bytes: usize,
    /// Requests per second per API key (429 beyond), with bursts of as many.
    pub rate_limit: u32,
}

impl Config {
    /// A configuration with the documented defaults.
    #[must_use]
    pub fn new(bot: PathBuf) -> Config {
        Config {
            bot,
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            store: StoreConfig::Sqlite(PathBuf::from("cellflow-sessions.db")),
            api_keys: Vec::new(),
            admin_keys: Vec::new(),
            idle: Duration::from_secs(30 * 60),
            max_body_bytes: 64 * 1024,
            max_text_bytes: 4 * 1024,
            rate_limit: 1_000,
        }
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("no API keys are configured: set CELLFLOW_API_KEYS or pass --api-keys-file")]
    NoKeys,
    #[error("the bot cannot be loaded: {0}")]
    Bot(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("the server failed: {0}")]
    Io(#[from] std::io::Error),
}

/// How many lock stripes serialize turns within a process.
const STRIPES: usize = 1024;

/// What the handlers share.
pub(crate) struct State {
    bot: RwLock<Arc<Bot>>,
    config: Config,
    store: Arc<dyn SessionStore>,
    stripes: Vec<Mutex<()>>,
    limiter: governor::DefaultKeyedRateLimiter<String>,
    metrics: metrics::Metrics,
}

impl State {
    fn bot(&self) -> Arc<Bot> {
        match self.bot.read() {
            Ok(bot) => Arc::clone(&bot),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Whether a turn of `bot` can run on an async worker: nothing in it
    /// can wait (see [`SessionStore::never_waits`]; a `service` cell waits
    /// on the network).
    fn turns_never_wait(&self, bot: &Bot) -> bool {
        self.store.never_waits() && !bot.program().calls_services
    }

    fn stripe(&self, id: &str) -> std::sync::MutexGuard<'_, ()> {
        // The guarded data is `()`: a poisoned stripe is still a lock.
        self.stripes[store::slot(id, STRIPES)]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Loads the bot again and swaps it in; requests in flight finish on the
    /// old one. Returns the new bot's version.
    pub(crate) fn reload(&self) -> Result<u64, String> {
        let bot = load_bot(&self.config.bot)?;
        let version = bot.program().version;
        match self.bot.write() {
            Ok(mut current) => *current = Arc::new(bot),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(bot),
        }
        self.metrics.reloads.inc();
        Ok(version)
    }
}

fn load_bot(path: &std::path::Path) -> Result<Bot, String> {
    match Bot::load(path) {
        Ok(bot) => Ok(bot),
        Err(crate::runtime::LoadError::Invalid {
            diagnostics,
            sources,
        }) => Err(diagnostics
            .iter()
            .filter(|d| d.is_error())
            .map(|d| crate::diagnostic::render(d, &sources, false, 100))
            .collect::<Vec<_>>()
            .join("\n")),
        Err(other) => Err(other.to_string()),
    }
}

fn open_store(config: &Config) -> Result<Arc<dyn SessionStore>, StoreError> {
    Ok(match &config.store {
        StoreConfig::Memory => Arc::new(MemoryStore::new(config.idle)),
        StoreConfig::Sqlite(path) => Arc::new(SqliteStore::open(path, config.idle)?),
        StoreConfig::Redis(url) => {
            let store = RedisStore::open(url)?;
            // Fail at start, not at the first request, when Redis is down.
            store.count()?;
            Arc::new(store)
        }
    })
}

/// Builds the shared state: loads the bot and opens the store.
///
/// # Errors
/// No API keys, a bot with errors, or a store that cannot be opened.
pub(crate) fn state(config: Config) -> Result<Arc<State>, ServeError> {
    if config.api_keys.is_empty() {
        return Err(ServeError::NoKeys);
    }
    let bot = load_bot(&config.bot).map_err(ServeError::Bot)?;
    let store = open_store(&config)?;
    let rate =
        std::num::NonZeroU32::new(config.rate_limit.max(1)).unwrap_or(std::num::NonZeroU32::MIN);
    Ok(Arc::new(State {
        bot: RwLock::new(Arc::new(bot)),
        store,
        stripes: (0..STRIPES).map(|_| Mutex::new(())).collect(),
        limiter: governor::RateLimiter::keyed(governor::Quota::per_second(rate)),
        metrics: metrics::Metrics::new(),
        config,
    }))
}

/// Runs the server until SIGINT or SIGTERM; SIGHUP reloads the bot.
/// Prints `listening on http://ADDR` on standard output once it accepts
/// connections (with `--listen 127.0.0.1:0`, ADDR has the chosen port).
///
/// # Errors
/// See [`ServeError`].
pub fn serve(config: Config) -> Result<(), ServeError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let addr = config.listen;
        let state = state(config)?;
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| ServeError::Listen { addr, source })?;
        let local = listener.local_addr()?;
        spawn_housekeeping(&state);
        spawn_reload_on_hangup(&state);
        {
            use std::io::Write as _;
            let mut out = std::io::stdout().lock();
            let _ = writeln!(
                out,
                "listening on http://{local} (store: {}, bot: {})",
                state.store.name(),
                state.bot().program().name
            );
            let _ = out.flush();
        }
        // Answers go out at once: with Nagle's algorithm a response written
        // in two parts can wait for the client's delayed ACK.
        let listener = axum::serve::ListenerExt::tap_io(listener, |stream| {
            let _ = stream.set_nodelay(true);
        });
        axum::serve(listener, api::router(Arc::clone(&state)))
            .with_graceful_shutdown(shutdown_signal())
            .await?;
        Ok(())
    })
}

/// Store upkeep every second; removes expired conversations every minute.
fn spawn_housekeeping(state: &Arc<State>) {
    let state = Arc::clone(state);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        for second in 0u64.. {
            tick.tick().await;
            let state = Arc::clone(&state);
            let _ = tokio::task::spawn_blocking(move || {
                if let Err(e) = state.store.maintain() {
                    eprintln!("cellflow serve: store upkeep failed: {e}");
                }
                if second % 60 == 59
                    && let Err(e) = state.store.purge(state.config.idle)
                {
                    eprintln!("cellflow serve: purging expired conversations failed: {e}");
                }
            })
            .await;
        }
    });
}

fn spawn_reload_on_hangup(state: &Arc<State>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let state = Arc::clone(state);
        tokio::spawn(async move {
            let Ok(mut hangups) = signal(SignalKind::hangup()) else {
                return;
            };
            while hangups.recv().await.is_some() {
                let state = Arc::clone(&state);
                let outcome = tokio::task::spawn_blocking(move || state.reload()).await;
                match outcome {
                    Ok(Ok(version)) => {
                        eprintln!("cellflow serve: reloaded the bot (version {version:x})");
                    }
                    Ok(Err(message)) => {
                        eprintln!(
                            "cellflow serve: reload refused, the old bot keeps running:\n{message}"
                        );
                    }
                    Err(e) => eprintln!("cellflow serve: reload failed: {e}"),
                }
            }
        });
    }
    #[cfg(not(unix))]
    let _ = state;
}

async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
}

/// The conversation API as a router, without a listener or background
/// tasks: for fuzzing the request handling in process.
///
/// # Errors
/// See [`ServeError`].
#[doc(hidden)]
pub fn app(config: Config) -> Result<axum::Router, ServeError> {
    Ok(api::router(state(config)?))
}
