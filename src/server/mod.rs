//! `cellflow serve`: the HTTP conversation API (docs/SERVER.md).
//!
//! Connections are limited in number, and each must send its headers, and
//! its body, within a deadline, so clients that open connections and never
//! finish a request cannot take the server down. Requests are authenticated
//! with bearer keys, bounded in size (the body, its `text` and `context`,
//! and the conversation state a turn leaves), and rate limited per key.
//!
//! A turn runs on the async worker that received it: it takes the
//! conversation's lock stripe (turns of one conversation in this process
//! queue up, without holding a thread), reads the record (awaiting the
//! store), runs the turn on a copy of the session — right there, since it
//! is microseconds of CPU, or on the blocking pool when the bot has
//! `service` cells, whose HTTP calls block — and writes the result
//! conditionally on the version it read. A conflicting write (another
//! process sharing the Redis or PostgreSQL store won the race) runs the
//! turn again on the new state; a store failure answers 503 and leaves the
//! stored conversation as it was.

mod analytics;
mod api;
mod compat;
mod conversation;
mod metrics;
mod observe;
pub mod store;
pub mod webhooks;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::runtime::{Bot, Request, Response};

pub use store::{
    MemoryStore, PostgresStore, Record, RedisStore, SessionStore, SqliteStore, StoreError,
};

/// Which store keeps the conversations.
#[derive(Clone, Debug)]
pub enum StoreConfig {
    Memory,
    Sqlite(PathBuf),
    Redis(String),
    /// A PostgreSQL connection URL.
    Postgres(String),
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
    /// Longest wait for a request's headers, and for the next request on
    /// an idle connection; the connection is closed after it.
    pub header_timeout: Duration,
    /// Longest wait for a request's whole body (408 beyond).
    pub body_timeout: Duration,
    /// Connections served at once; more wait to be accepted. Keep it under
    /// the process's limit of open files.
    pub max_connections: usize,
    /// Longest wait for one Redis command, and for connecting (503 beyond).
    pub redis_timeout: Duration,
    /// Longest wait for one PostgreSQL statement, and for connecting (503
    /// beyond).
    pub postgres_timeout: Duration,
    /// Most `context` keys in one request (422 beyond).
    pub max_context_keys: usize,
    /// Largest `context` in one request, in bytes of JSON (422 beyond).
    pub max_context_bytes: usize,
    /// Most variables a conversation may hold after a turn (422 beyond;
    /// the turn is not stored).
    pub max_session_vars: usize,
    /// Largest conversation state after a turn, in bytes of JSON (422
    /// beyond; the turn is not stored).
    pub max_session_bytes: usize,
    /// Where analytics events are appended as JSON lines, if anywhere.
    pub events_file: Option<PathBuf>,
    /// How long the server keeps finishing running turns after SIGTERM.
    pub drain: Duration,
    /// Browser origins allowed to call the API.
    pub cors: Cors,
    /// Where events are posted.
    pub webhooks: Vec<webhooks::Webhook>,
}

/// Which browser origins may call the API (none unless configured).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cors {
    /// Origins (`https://app.example.com`), or `*` for any.
    pub origins: Vec<String>,
    /// How long a browser may cache a preflight answer.
    pub max_age: Option<Duration>,
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
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
            max_connections: 512,
            redis_timeout: store::DEFAULT_REDIS_TIMEOUT,
            postgres_timeout: store::DEFAULT_POSTGRES_TIMEOUT,
            max_context_keys: 64,
            max_context_bytes: 16 * 1024,
            max_session_vars: 1_000,
            max_session_bytes: store::DEFAULT_MAX_SESSION_BYTES,
            events_file: None,
            drain: Duration::from_secs(30),
            cors: Cors::default(),
            webhooks: Vec::new(),
        }
    }

    /// Refuses numbers the server or its store cannot honour, naming the
    /// flag that sets each, before anything starts.
    ///
    /// # Errors
    /// [`ServeError::Flag`] for the first number out of range.
    pub fn check(&self) -> Result<(), ServeError> {
        let flag = |name: &str, value: u128, least: u128, most: u128, why: &str| {
            if (least..=most).contains(&value) {
                Ok(())
            } else {
                Err(ServeError::Flag(format!(
                    "--{name} {value} is out of range: it must be from {least} to {most}{why}"
                )))
            }
        };
        let hour = 3_600;
        flag(
            "idle-minutes",
            u128::from(self.idle.as_secs() / 60),
            1,
            u128::from(u64::MAX / 60),
            "",
        )?;
        if let StoreConfig::Redis(_) = self.store {
            // Redis refuses a time to live that, added to its clock in
            // milliseconds, leaves a signed 64-bit integer; keep to a
            // century, far inside that and far beyond any idle timeout.
            let century = 100 * 365 * 24 * 60;
            flag(
                "idle-minutes",
                u128::from(self.idle.as_secs() / 60),
                1,
                century,
                " with the Redis store (Redis refuses longer times to live)",
            )?;
        }
        flag(
            "header-timeout-secs",
            u128::from(self.header_timeout.as_secs()),
            1,
            hour,
            "",
        )?;
        flag(
            "body-timeout-secs",
            u128::from(self.body_timeout.as_secs()),
            1,
            hour,
            "",
        )?;
        flag(
            "redis-timeout-ms",
            self.redis_timeout.as_millis(),
            1,
            hour * 1_000,
            "",
        )?;
        flag(
            "postgres-timeout-ms",
            self.postgres_timeout.as_millis(),
            1,
            hour * 1_000,
            "",
        )?;
        flag(
            "max-connections",
            self.max_connections as u128,
            1,
            1_000_000,
            "",
        )?;
        flag(
            "rate-limit",
            u128::from(self.rate_limit),
            1,
            u128::from(u32::MAX),
            "",
        )?;
        flag(
            "max-body-bytes",
            self.max_body_bytes as u128,
            1,
            usize::MAX as u128,
            "",
        )?;
        flag(
            "max-text-bytes",
            self.max_text_bytes as u128,
            1,
            crate::runtime::MAX_TEXT_BYTES as u128,
            " (the runtime refuses longer texts)",
        )?;
        flag(
            "max-session-vars",
            self.max_session_vars as u128,
            1,
            usize::MAX as u128,
            "",
        )?;
        // A session of a few variables takes a few hundred bytes; the most
        // is what the store can keep in one value.
        let (most, store) = match self.store {
            StoreConfig::Memory => (usize::MAX as u128, ""),
            StoreConfig::Sqlite(_) => (1_000_000_000, " with the SQLite store (its largest value)"),
            StoreConfig::Redis(_) => (512 << 20, " with the Redis store (its largest value)"),
            StoreConfig::Postgres(_) => (
                1_000_000_000,
                " with the PostgreSQL store (its largest value)",
            ),
        };
        flag(
            "max-session-bytes",
            self.max_session_bytes as u128,
            1_024,
            most,
            store,
        )?;
        flag("drain-secs", u128::from(self.drain.as_secs()), 0, hour, "")?;
        let mut names = std::collections::HashSet::new();
        for hook in &self.webhooks {
            hook.check().map_err(ServeError::Flag)?;
            if !names.insert(hook.name.as_str()) {
                return Err(ServeError::Flag(format!(
                    "two webhooks are named `{}`: each needs a name of its own",
                    hook.name
                )));
            }
        }
        for origin in &self.cors.origins {
            if !cors_origin(origin) {
                return Err(ServeError::Flag(format!(
                    "cors origin `{origin}` is not `*` nor an origin such as \
                     https://app.example.com (a scheme and a host, no path)"
                )));
            }
        }
        Ok(())
    }
}

/// Whether `origin` is `*` or a browser origin: a scheme, a host and maybe
/// a port, nothing after.
fn cors_origin(origin: &str) -> bool {
    origin == "*"
        || url::Url::parse(origin).is_ok_and(|url| {
            matches!(url.scheme(), "http" | "https")
                && url.host().is_some()
                && url.origin().ascii_serialization() == origin.trim_end_matches('/')
        })
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
    /// A number in the configuration is out of range.
    #[error("{0}")]
    Flag(String),
}

/// Told of every turn the server stored, after the store has it: how a
/// host in the same process (the studio) watches conversations without
/// polling. With one, the bot runs with tracing on, so each response
/// carries the cells its turn visited.
pub(crate) trait TurnObserver: Send + Sync {
    fn turned(&self, conversation: &str, request: &Request, response: &Response);
}

/// How many lock stripes serialize turns within a process.
const STRIPES: usize = 1024;

/// What the handlers share.
pub(crate) struct State {
    bot: RwLock<Arc<Bot>>,
    config: Config,
    store: Arc<dyn SessionStore>,
    /// Held across the store's awaits: a turn of a conversation waits
    /// for the one before it without holding a thread.
    stripes: Vec<tokio::sync::Mutex<()>>,
    limiter: governor::DefaultKeyedRateLimiter<String>,
    metrics: metrics::Metrics,
    /// The analytics events file, if one is configured.
    events: analytics::Sink,
    /// Wakes the webhook delivery when a write queued events or a delivery
    /// finished.
    outbox_ready: tokio::sync::Notify,
    observer: Option<Arc<dyn TurnObserver>>,
}

impl State {
    pub(crate) fn bot(&self) -> Arc<Bot> {
        match self.bot.read() {
            Ok(bot) => Arc::clone(&bot),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    async fn stripe(&self, id: &str) -> tokio::sync::MutexGuard<'_, ()> {
        self.stripes[store::slot(id, STRIPES)].lock().await
    }

    /// Loads the bot again and swaps it in; requests in flight finish on the
    /// old one. Returns the new bot's version.
    pub(crate) fn reload(&self) -> Result<u64, String> {
        let bot = load_bot(&self.config.bot)?;
        Ok(self.install(bot))
    }

    /// Swaps in a bot loaded elsewhere (with analytics, and tracing when
    /// turns are observed); returns its version. Conversations go on by
    /// the runtime's rules: where their cell still exists, or from the
    /// start.
    pub(crate) fn install(&self, bot: Bot) -> u64 {
        let bot = bot
            .with_analytics(true)
            .with_tracing(self.observer.is_some());
        let version = bot.program().version;
        match self.bot.write() {
            Ok(mut current) => *current = Arc::new(bot),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(bot),
        }
        self.metrics.reloads.inc();
        version
    }

    /// Tells the observer, if any, of a stored turn. A message typed into
    /// a masked input (`secret`) reaches it as the mask, as it reaches the
    /// history: an observer never sees a secret the channel would not.
    pub(crate) fn observe(
        &self,
        conversation: &str,
        request: &Request,
        response: &Response,
        secret: bool,
    ) {
        let Some(observer) = &self.observer else {
            return;
        };
        if secret && request.text.is_some() {
            let shown = Request {
                text: Some(crate::runtime::MASK.to_owned()),
                ..request.clone()
            };
            observer.turned(conversation, &shown, response);
        } else {
            observer.turned(conversation, request, response);
        }
    }

    #[cfg(feature = "studio")]
    pub(crate) fn config(&self) -> &Config {
        &self.config
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

async fn open_store(config: &Config) -> Result<Arc<dyn SessionStore>, StoreError> {
    let most = config.max_session_bytes;
    Ok(match &config.store {
        StoreConfig::Memory => Arc::new(MemoryStore::new(config.idle).with_max_session_bytes(most)),
        StoreConfig::Sqlite(path) => {
            Arc::new(SqliteStore::open(path, config.idle)?.with_max_session_bytes(most))
        }
        // Connecting fails at start, not at the first request, when Redis
        // is down.
        StoreConfig::Redis(url) => Arc::new(
            RedisStore::open_with_timeout(url, config.redis_timeout)
                .await?
                .with_max_session_bytes(most),
        ),
        StoreConfig::Postgres(url) => Arc::new(
            PostgresStore::open(url, config.idle, config.postgres_timeout)
                .await?
                .with_max_session_bytes(most),
        ),
    })
}

/// Builds the shared state: loads the bot and opens the store (on the
/// tokio runtime that will serve it: the network stores keep their
/// connections on it).
///
/// # Errors
/// A number out of range, no API keys, a bot with errors, or a store that
/// cannot be opened.
pub(crate) async fn state(config: Config) -> Result<Arc<State>, ServeError> {
    let bot = load_bot(&config.bot).map_err(ServeError::Bot)?;
    observed_state(config, bot, None).await
}

/// [`state`] for a bot the caller loaded, with an observer of turns.
///
/// # Errors
/// As [`state`], but the bot's own.
pub(crate) async fn observed_state(
    config: Config,
    bot: Bot,
    observer: Option<Arc<dyn TurnObserver>>,
) -> Result<Arc<State>, ServeError> {
    config.check()?;
    if config.api_keys.is_empty() {
        return Err(ServeError::NoKeys);
    }
    let bot = bot.with_analytics(true).with_tracing(observer.is_some());
    let store = open_store(&config).await?;
    let rate =
        std::num::NonZeroU32::new(config.rate_limit.max(1)).unwrap_or(std::num::NonZeroU32::MIN);
    Ok(Arc::new(State {
        bot: RwLock::new(Arc::new(bot)),
        store,
        stripes: (0..STRIPES).map(|_| tokio::sync::Mutex::new(())).collect(),
        limiter: governor::RateLimiter::keyed(governor::Quota::per_second(rate)),
        metrics: metrics::Metrics::new(),
        events: analytics::Sink::open(config.events_file.as_ref()).map_err(|e| {
            ServeError::Flag(format!(
                "events file {}: {e}",
                config
                    .events_file
                    .as_ref()
                    .map_or(String::new(), |p| p.display().to_string())
            ))
        })?,
        outbox_ready: tokio::sync::Notify::new(),
        observer,
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
    // Turns (scripts, parsers) get the stack a main thread has, not tokio's
    // 2 MiB: a script may nest values as deep as its time budget allows.
    // Untouched stack pages cost no memory.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(8 * 1024 * 1024)
        .build()?;
    runtime.block_on(async move {
        let addr = config.listen;
        let state = state(config).await?;
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| ServeError::Listen { addr, source })?;
        let local = listener.local_addr()?;
        spawn_housekeeping(&state);
        spawn_reload_on_hangup(&state);
        conversation::spawn_timeouts(&state);
        webhooks::spawn_delivery(&state);
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
        accept(
            &listener,
            api::router(Arc::clone(&state)),
            &state.config,
            shutdown_signal(),
        )
        .await;
        Ok(())
    })
}

/// Serves connections from `listener` until `shutdown`, then lets the
/// requests in flight finish.
///
/// At most `max_connections` are served at once: past that, new ones wait
/// in the listen queue until one closes, so the process never runs out of
/// file descriptors (which would also stop `/healthz`). Every connection
/// must send a request's headers within `header_timeout`, and while idle
/// between requests the next one within as long, or it is closed: a client
/// that opens connections and never finishes its headers holds a slot that
/// long at most.
pub(crate) async fn accept(
    listener: &tokio::net::TcpListener,
    router: axum::Router,
    config: &Config,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let slots = Arc::new(tokio::sync::Semaphore::new(config.max_connections));
    let connections = hyper_util::server::graceful::GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(config.header_timeout);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = Arc::clone(&slots).acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors or a connection reset before
                    // it was accepted: pause rather than spin.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Answers go out at once: with Nagle's algorithm a response written
        // in two parts can wait for the client's delayed ACK.
        let _ = stream.set_nodelay(true);
        let connection = http.serve_connection(
            hyper_util::rt::TokioIo::new(stream),
            hyper_util::service::TowerToHyperService::new(router.clone()),
        );
        let connection = connections.watch(connection);
        tokio::spawn(async move {
            // A failed connection (a timeout, a reset) concerns only its client.
            let _ = connection.await;
            drop(slot);
        });
    }
    tracing::info!(
        drain_secs = config.drain.as_secs(),
        "stopping: no new connections; finishing the requests in flight"
    );
    if tokio::time::timeout(config.drain, connections.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            drain_secs = config.drain.as_secs(),
            "requests still running after the drain time were cut off"
        );
    }
}

/// Store upkeep every second (on the blocking pool: SQLite's waits for
/// the disk); removes expired conversations every minute.
fn spawn_housekeeping(state: &Arc<State>) {
    let state = Arc::clone(state);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        for second in 0u64.. {
            tick.tick().await;
            let upkeep = Arc::clone(&state);
            let _ = tokio::task::spawn_blocking(move || {
                if let Err(e) = upkeep.store.maintain() {
                    tracing::warn!(error = %e, "store upkeep failed");
                }
            })
            .await;
            if second % 60 == 59
                && let Err(e) = state.store.purge(state.config.idle).await
            {
                tracing::warn!(error = %e, "purging expired conversations failed");
            }
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
                // A rotated events file is let go of with the reload.
                state.events.reopen();
                let state = Arc::clone(&state);
                let outcome = tokio::task::spawn_blocking(move || state.reload()).await;
                match outcome {
                    Ok(Ok(version)) => {
                        tracing::info!(version = %format_args!("{version:x}"), "reloaded the bot");
                    }
                    Ok(Err(message)) => {
                        tracing::error!(
                            diagnostics = %message,
                            "reload refused, the old bot keeps running"
                        );
                    }
                    Err(e) => tracing::error!(error = %e, "reload failed"),
                }
            }
        });
    }
    #[cfg(not(unix))]
    let _ = state;
}

pub(crate) async fn shutdown_signal() {
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

/// The conversation API's router over a state built here, for a host in
/// the crate that mounts routes of its own beside it (the studio).
#[cfg(feature = "studio")]
pub(crate) fn routes(state: &Arc<State>) -> axum::Router {
    api::router(Arc::clone(state))
}

/// Starts the background tasks `serve` runs beside the routes: store
/// upkeep and inactivity timeouts.
#[cfg(feature = "studio")]
pub(crate) fn spawn_background(state: &Arc<State>) {
    spawn_housekeeping(state);
    conversation::spawn_timeouts(state);
}

/// The conversation API as a router, without a listener or background
/// tasks: for fuzzing the request handling in process.
///
/// # Errors
/// See [`ServeError`].
#[doc(hidden)]
pub fn app(config: Config) -> Result<axum::Router, ServeError> {
    // The in-process stores open without waiting; a network store would
    // keep its connection on this short-lived runtime, so it is refused.
    if !matches!(config.store, StoreConfig::Memory | StoreConfig::Sqlite(_)) {
        return Err(ServeError::Flag(
            "an in-process router serves the memory and SQLite stores only".into(),
        ));
    }
    let runtime = tokio::runtime::Builder::new_current_thread().build()?;
    Ok(api::router(runtime.block_on(state(config))?))
}
