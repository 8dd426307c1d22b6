//! `cellflow serve PATH|ARTIFACT`: the HTTP conversation API (docs/SERVER.md).

// The flag docs are `--help` text, shown as written: no Markdown backticks.
#![allow(clippy::doc_markdown)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use cellflow::server::{Config, StoreConfig};

use super::{CliError, EXIT_OK};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
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

#[derive(clap::Args, Debug)]
pub(crate) struct Serve {
    /// A bot directory, flow file or compiled artifact
    path: PathBuf,
    /// Address to listen on (port 0 picks a free port)
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Where conversations are kept
    #[arg(long, value_enum, default_value = "sqlite")]
    store: Store,
    /// The SQLite file, with `--store sqlite`
    #[arg(long, value_name = "FILE", default_value = "cellflow-sessions.db")]
    sqlite: PathBuf,
    /// The Redis URL, with `--store redis` (default: $REDIS_URL, else
    /// redis://127.0.0.1:6379)
    #[arg(long, value_name = "URL")]
    redis_url: Option<String>,
    /// The PostgreSQL URL, with `--store postgres` (default:
    /// $DATABASE_URL), e.g. postgres://cellflow:secret@db.internal/cellflow
    #[arg(long, value_name = "URL")]
    postgres_url: Option<String>,
    /// A file of API keys, one per line (also: $CELLFLOW_API_KEYS, comma-separated)
    #[arg(long, value_name = "FILE")]
    api_keys_file: Option<PathBuf>,
    /// A file of admin keys for /admin/reload (also: $CELLFLOW_ADMIN_KEYS)
    #[arg(long, value_name = "FILE")]
    admin_keys_file: Option<PathBuf>,
    /// Minutes of inactivity after which a conversation expires
    #[arg(long, default_value_t = 30)]
    idle_minutes: u64,
    /// Largest request body in bytes (413 beyond)
    #[arg(long, default_value_t = 64 * 1024)]
    max_body_bytes: usize,
    /// Longest message text in bytes (422 beyond)
    #[arg(long, default_value_t = 4 * 1024)]
    max_text_bytes: usize,
    /// Requests per second allowed per API key (429 beyond)
    #[arg(long, default_value_t = 1_000)]
    rate_limit: u32,
    /// Seconds a connection may take to send a request's headers, or stay
    /// idle between requests, before it is closed
    #[arg(long, default_value_t = 10)]
    header_timeout_secs: u64,
    /// Seconds a request may take to send its body (408 beyond)
    #[arg(long, default_value_t = 10)]
    body_timeout_secs: u64,
    /// Connections served at once; more wait to be accepted (keep it under
    /// the limit of open files, `ulimit -n`)
    #[arg(long, default_value_t = 512)]
    max_connections: usize,
    /// Milliseconds a Redis command, or connecting to Redis, may take (503
    /// beyond)
    #[arg(long, default_value_t = 1_000)]
    redis_timeout_ms: u64,
    /// Milliseconds a PostgreSQL statement, or connecting to PostgreSQL,
    /// may take (503 beyond)
    #[arg(long, default_value_t = 2_000)]
    postgres_timeout_ms: u64,
    /// Most keys in one request's `context` (422 beyond)
    #[arg(long, default_value_t = 64)]
    max_context_keys: usize,
    /// Largest `context` in one request, in bytes of JSON (422 beyond)
    #[arg(long, default_value_t = 16 * 1024)]
    max_context_bytes: usize,
    /// Most variables a conversation may hold (422 beyond; the turn is not
    /// stored)
    #[arg(long, default_value_t = 1_000)]
    max_session_vars: usize,
    /// Largest conversation state, in bytes of JSON (422 beyond; the turn is
    /// not stored)
    #[arg(long, default_value_t = 256 * 1024)]
    max_session_bytes: usize,
}

/// Keys from a file (one per line, `#` comments) and an environment variable
/// (comma-separated).
fn keys(file: Option<&PathBuf>, env: &str) -> Result<Vec<String>, CliError> {
    let mut keys: Vec<String> = std::env::var(env)
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(str::to_owned)
        .collect();
    if let Some(file) = file {
        let text =
            std::fs::read_to_string(file).map_err(|source| cellflow::project::ReadError::Io {
                path: file.clone(),
                source,
            })?;
        keys.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_owned),
        );
    }
    Ok(keys)
}

impl Serve {
    pub(crate) fn run(self) -> Result<u8, CliError> {
        let store = match self.store {
            Store::Memory => StoreConfig::Memory,
            Store::Sqlite => StoreConfig::Sqlite(self.sqlite.clone()),
            Store::Redis => StoreConfig::Redis(
                self.redis_url
                    .clone()
                    .or_else(|| std::env::var("REDIS_URL").ok())
                    .unwrap_or_else(|| "redis://127.0.0.1:6379".into()),
            ),
            Store::Postgres => StoreConfig::Postgres(
                self.postgres_url
                    .clone()
                    .or_else(|| std::env::var("DATABASE_URL").ok())
                    .ok_or_else(|| {
                        CliError::Usage(
                            "--store postgres needs --postgres-url URL or $DATABASE_URL".into(),
                        )
                    })?,
            ),
        };
        let idle = self.idle_minutes.checked_mul(60).ok_or_else(|| {
            CliError::Usage(format!(
                "--idle-minutes {} is out of range: it must be from 1 to {}",
                self.idle_minutes,
                u64::MAX / 60
            ))
        })?;
        let config = Config {
            listen: self.listen,
            store,
            api_keys: keys(self.api_keys_file.as_ref(), "CELLFLOW_API_KEYS")?,
            admin_keys: keys(self.admin_keys_file.as_ref(), "CELLFLOW_ADMIN_KEYS")?,
            idle: Duration::from_secs(idle),
            max_body_bytes: self.max_body_bytes,
            max_text_bytes: self.max_text_bytes,
            rate_limit: self.rate_limit,
            header_timeout: Duration::from_secs(self.header_timeout_secs),
            body_timeout: Duration::from_secs(self.body_timeout_secs),
            max_connections: self.max_connections,
            redis_timeout: Duration::from_millis(self.redis_timeout_ms),
            postgres_timeout: Duration::from_millis(self.postgres_timeout_ms),
            max_context_keys: self.max_context_keys,
            max_context_bytes: self.max_context_bytes,
            max_session_vars: self.max_session_vars,
            max_session_bytes: self.max_session_bytes,
            ..Config::new(self.path)
        };
        cellflow::server::serve(config).map_err(|e| CliError::Usage(e.to_string()))?;
        Ok(EXIT_OK)
    }
}
