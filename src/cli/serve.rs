//! `cellflow serve PATH|ARTIFACT`: the HTTP conversation API (docs/SERVER.md).
//!
//! Settings come from four places, each overriding the one before: the
//! defaults, a configuration file (`--config FILE`, TOML, the keys named
//! like the flags with `_` for `-`), environment variables (`CELLFLOW_` and
//! the key in capitals; a key inside a table joined with `__`, as
//! `CELLFLOW_CORS__ORIGINS`), and the flags given.

// The flag docs are `--help` text, shown as written: no Markdown backticks.
#![allow(clippy::doc_markdown)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use cellflow::server::webhooks::Webhook;
use cellflow::server::{Config, Cors, StoreConfig};
use serde::{Deserialize, Serialize};

use super::{CliError, EXIT_OK};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Store {
    /// In this process's memory: fast, lost on restart
    Memory,
    /// A SQLite file: survives restarts (the default)
    Sqlite,
    /// Redis: shared by several `serve` processes
    Redis,
    /// PostgreSQL: shared by several `serve` processes
    Postgres,
}

/// How log lines are written on standard error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum LogFormat {
    /// One readable line per event (the default)
    Pretty,
    /// One JSON object per line, for log collectors
    Json,
}

/// Browser clients allowed to call the API from other origins.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CorsSettings {
    /// Origins (`https://app.example.com`), or `*` for any.
    #[serde(default)]
    origins: Vec<String>,
    /// How long a browser may cache a preflight answer, in seconds.
    #[serde(default)]
    max_age_secs: Option<u64>,
}

/// Every setting, as the file, the environment and the flags give it.
/// `None` is "not given here".
#[derive(clap::Args, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Settings {
    /// Address to listen on (port 0 picks a free port) [default: 127.0.0.1:8080]
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    listen: Option<SocketAddr>,
    /// Where conversations are kept [default: sqlite]
    #[arg(long, value_enum)]
    #[serde(skip_serializing_if = "Option::is_none")]
    store: Option<Store>,
    /// The SQLite file, with `--store sqlite` [default: cellflow-sessions.db]
    #[arg(long, value_name = "FILE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    sqlite: Option<PathBuf>,
    /// The Redis URL, with `--store redis` (default: $REDIS_URL, else
    /// redis://127.0.0.1:6379)
    #[arg(long, value_name = "URL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    redis_url: Option<String>,
    /// The PostgreSQL URL, with `--store postgres` (default:
    /// $DATABASE_URL), e.g. postgres://cellflow:secret@db.internal/cellflow
    #[arg(long, value_name = "URL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    postgres_url: Option<String>,
    /// API keys (comma-separated; also $CELLFLOW_API_KEYS); prefer the
    /// environment or a file to the command line, which others can read
    #[arg(skip)]
    #[serde(default, skip_serializing, deserialize_with = "keys")]
    api_keys: Option<Vec<String>>,
    /// Admin keys for /admin/* (comma-separated; also $CELLFLOW_ADMIN_KEYS)
    #[arg(skip)]
    #[serde(default, skip_serializing, deserialize_with = "keys")]
    admin_keys: Option<Vec<String>>,
    /// A file of API keys, one per line (adds to $CELLFLOW_API_KEYS)
    #[arg(long, value_name = "FILE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    api_keys_file: Option<PathBuf>,
    /// A file of admin keys for /admin/* (adds to $CELLFLOW_ADMIN_KEYS)
    #[arg(long, value_name = "FILE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    admin_keys_file: Option<PathBuf>,
    /// Minutes of inactivity after which a conversation expires [default: 30]
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    idle_minutes: Option<u64>,
    /// Largest request body in bytes (413 beyond) [default: 65536]
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    max_body_bytes: Option<usize>,
    /// Longest message text in bytes (422 beyond) [default: 4096]
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    max_text_bytes: Option<usize>,
    /// Requests per second allowed per API key (429 beyond) [default: 1000]
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    rate_limit: Option<u32>,
    /// Seconds a connection may take to send a request's headers, or stay
    /// idle between requests, before it is closed [default: 10]
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    header_timeout_secs: Option<u64>,
    /// Seconds a request may take to send its body (408 beyond) [default: 10]
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    body_timeout_secs: Option<u64>,
    /// Connections served at once; more wait to be accepted (keep it under
    /// the limit of open files, `ulimit -n`) [default: 512]
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    max_connections: Option<usize>,
    /// Milliseconds a Redis command, or connecting to Redis, may take (503
    /// beyond) [default: 1000]
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    redis_timeout_ms: Option<u64>,
    /// Milliseconds a PostgreSQL statement, or connecting to PostgreSQL,
    /// may take (503 beyond) [default: 2000]
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    postgres_timeout_ms: Option<u64>,
    /// Most keys in one request's `context` (422 beyond) [default: 64]
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    max_context_keys: Option<usize>,
    /// Largest `context` in one request, in bytes of JSON (422 beyond)
    /// [default: 16384]
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    max_context_bytes: Option<usize>,
    /// Most variables a conversation may hold (422 beyond; the turn is not
    /// stored) [default: 1000]
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    max_session_vars: Option<usize>,
    /// Largest conversation state, in bytes of JSON (422 beyond; the turn is
    /// not stored) [default: 262144]
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    max_session_bytes: Option<usize>,
    /// How log lines are written on standard error (their level comes from
    /// RUST_LOG, `info` by default) [default: pretty]
    #[arg(long, value_enum)]
    #[serde(skip_serializing_if = "Option::is_none")]
    log_format: Option<LogFormat>,
    /// Append analytics events to this file, one JSON object per line (see
    /// `cellflow report`)
    #[arg(long, value_name = "FILE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    events_file: Option<PathBuf>,
    /// Seconds the server keeps finishing running turns after SIGTERM
    /// before it exits [default: 30]
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    drain_secs: Option<u64>,
    /// Browser origins allowed to call the API (configuration file or
    /// CELLFLOW_CORS__ORIGINS only)
    #[arg(skip)]
    #[serde(default, skip_serializing)]
    cors: Option<CorsSettings>,
    /// Where events are POSTed (configuration file or CELLFLOW_WEBHOOKS only)
    #[arg(skip)]
    #[serde(default, skip_serializing)]
    webhooks: Option<Vec<Webhook>>,
}

impl Settings {
    /// `${NAME}` in the settings that hold addresses and secrets replaced
    /// by the environment variable's value, so a file need not hold them.
    fn expand_env(&mut self) -> Result<(), CliError> {
        let expand = |value: &mut String, key: &str| -> Result<(), CliError> {
            *value = cellflow::template::expand_env(value, |name| std::env::var(name).ok())
                .map_err(|why| CliError::Usage(format!("the server's settings: `{key}`: {why}")))?;
            Ok(())
        };
        for (key, value) in [
            ("redis_url", self.redis_url.as_mut()),
            ("postgres_url", self.postgres_url.as_mut()),
        ] {
            if let Some(value) = value {
                expand(value, key)?;
            }
        }
        for hook in self.webhooks.iter_mut().flatten() {
            let name = hook.name.clone();
            expand(&mut hook.url, &format!("webhooks.{name}.url"))?;
            if let Some(secret) = hook.secret.as_mut() {
                expand(secret, &format!("webhooks.{name}.secret"))?;
            }
        }
        Ok(())
    }
}

/// Keys as a list, or as one comma-separated string (how the environment
/// gives them).
fn keys<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Vec<String>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Keys {
        One(String),
        Many(Vec<String>),
    }
    let keys = match Option::<Keys>::deserialize(deserializer)? {
        None => return Ok(None),
        Some(Keys::One(text)) => text.split(',').map(str::to_owned).collect(),
        Some(Keys::Many(list)) => list,
    };
    Ok(Some(
        keys.into_iter()
            .map(|k| k.trim().to_owned())
            .filter(|k| !k.is_empty())
            .collect(),
    ))
}

/// The top-level keys, so that other `CELLFLOW_*` variables (the test
/// suite's, for one) are not read as settings.
const KEYS: &[&str] = &[
    "listen",
    "store",
    "sqlite",
    "redis_url",
    "postgres_url",
    "postgres_timeout_ms",
    "api_keys",
    "admin_keys",
    "api_keys_file",
    "admin_keys_file",
    "idle_minutes",
    "max_body_bytes",
    "max_text_bytes",
    "rate_limit",
    "header_timeout_secs",
    "body_timeout_secs",
    "max_connections",
    "redis_timeout_ms",
    "max_context_keys",
    "max_context_bytes",
    "max_session_vars",
    "max_session_bytes",
    "log_format",
    "events_file",
    "drain_secs",
    "cors",
    "webhooks",
];

#[derive(clap::Args, Debug)]
pub(crate) struct Serve {
    /// A bot directory, flow file or compiled artifact
    path: PathBuf,
    /// A configuration file (TOML; docs/SERVER.md lists its keys)
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(flatten)]
    flags: Settings,
}

/// Keys from a file: one per line, `#` comments.
fn keys_in(file: &PathBuf) -> Result<Vec<String>, CliError> {
    let text =
        std::fs::read_to_string(file).map_err(|source| cellflow::project::ReadError::Io {
            path: file.clone(),
            source,
        })?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect())
}

impl Serve {
    /// The settings from the defaults, the file, the environment and the
    /// flags, in that order.
    fn settings(&self) -> Result<Settings, CliError> {
        use figment::providers::{Env, Format as _, Serialized, Toml};
        let mut figment = figment::Figment::new();
        if let Some(file) = &self.config {
            if !file.is_file() {
                return Err(CliError::Usage(format!(
                    "--config {}: no such file",
                    file.display()
                )));
            }
            figment = figment.merge(Toml::file_exact(file));
        }
        let env = Env::prefixed("CELLFLOW_")
            .filter(|key| {
                let top = key.as_str().split("__").next().unwrap_or_default();
                KEYS.iter().any(|k| k.eq_ignore_ascii_case(top))
            })
            .split("__");
        figment
            .merge(env)
            .merge(Serialized::defaults(&self.flags))
            .extract()
            .map_err(|e| CliError::Usage(format!("the server's settings: {e}")))
    }

    pub(crate) fn run(self) -> Result<u8, CliError> {
        let mut settings = self.settings()?;
        settings.expand_env()?;
        let defaults = Config::new(self.path.clone());
        let store = match settings.store.unwrap_or(Store::Sqlite) {
            Store::Memory => StoreConfig::Memory,
            Store::Sqlite => StoreConfig::Sqlite(
                settings
                    .sqlite
                    .clone()
                    .unwrap_or_else(|| PathBuf::from("cellflow-sessions.db")),
            ),
            Store::Redis => StoreConfig::Redis(
                settings
                    .redis_url
                    .clone()
                    .or_else(|| std::env::var("REDIS_URL").ok())
                    .unwrap_or_else(|| "redis://127.0.0.1:6379".into()),
            ),
            Store::Postgres => StoreConfig::Postgres(
                settings
                    .postgres_url
                    .clone()
                    .or_else(|| std::env::var("DATABASE_URL").ok())
                    .ok_or_else(|| {
                        CliError::Usage(
                            "--store postgres needs --postgres-url URL or $DATABASE_URL".into(),
                        )
                    })?,
            ),
        };
        let idle_minutes = settings.idle_minutes.unwrap_or(30);
        let idle = idle_minutes.checked_mul(60).ok_or_else(|| {
            CliError::Usage(format!(
                "--idle-minutes {idle_minutes} is out of range: it must be from 1 to {}",
                u64::MAX / 60
            ))
        })?;
        let mut api_keys = settings.api_keys.clone().unwrap_or_default();
        if let Some(file) = &settings.api_keys_file {
            api_keys.extend(keys_in(file)?);
        }
        let mut admin_keys = settings.admin_keys.clone().unwrap_or_default();
        if let Some(file) = &settings.admin_keys_file {
            admin_keys.extend(keys_in(file)?);
        }
        let cors = settings.cors.clone().unwrap_or_default();
        let config = Config {
            listen: settings.listen.unwrap_or(defaults.listen),
            store,
            api_keys,
            admin_keys,
            idle: Duration::from_secs(idle),
            max_body_bytes: settings.max_body_bytes.unwrap_or(defaults.max_body_bytes),
            max_text_bytes: settings.max_text_bytes.unwrap_or(defaults.max_text_bytes),
            rate_limit: settings.rate_limit.unwrap_or(defaults.rate_limit),
            header_timeout: settings
                .header_timeout_secs
                .map_or(defaults.header_timeout, Duration::from_secs),
            body_timeout: settings
                .body_timeout_secs
                .map_or(defaults.body_timeout, Duration::from_secs),
            max_connections: settings.max_connections.unwrap_or(defaults.max_connections),
            redis_timeout: settings
                .redis_timeout_ms
                .map_or(defaults.redis_timeout, Duration::from_millis),
            postgres_timeout: settings
                .postgres_timeout_ms
                .map_or(defaults.postgres_timeout, Duration::from_millis),
            max_context_keys: settings
                .max_context_keys
                .unwrap_or(defaults.max_context_keys),
            max_context_bytes: settings
                .max_context_bytes
                .unwrap_or(defaults.max_context_bytes),
            max_session_vars: settings
                .max_session_vars
                .unwrap_or(defaults.max_session_vars),
            max_session_bytes: settings
                .max_session_bytes
                .unwrap_or(defaults.max_session_bytes),
            events_file: settings.events_file.clone(),
            drain: settings
                .drain_secs
                .map_or(defaults.drain, Duration::from_secs),
            cors: Cors {
                origins: cors.origins,
                max_age: cors.max_age_secs.map(Duration::from_secs),
            },
            webhooks: settings.webhooks.clone().unwrap_or_default(),
            ..defaults
        };
        init_logging(settings.log_format.unwrap_or(LogFormat::Pretty));
        cellflow::server::serve(config).map_err(|e| CliError::Usage(e.to_string()))?;
        Ok(EXIT_OK)
    }
}

/// Log lines on standard error, at the level `RUST_LOG` sets (`info`
/// unless it says otherwise).
fn init_logging(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    // A second initialisation (none happens in the binary) would only fail.
    let _ = match format {
        LogFormat::Pretty => builder.with_ansi(false).try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}
