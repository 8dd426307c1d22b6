//! Where `cellflow serve` keeps conversations: one trait, three stores.
//!
//! A [`Record`] is a session and a version; beside it each store keeps the
//! conversation's history, a bounded list of [`Exchange`]s appended one per
//! turn (never rewritten, so a turn costs the same at the hundredth
//! exchange as at the first). Writes are conditional on the version read
//! (optimistic concurrency), so two turns of one conversation — in one
//! process or in two sharing a Redis — can never both commit on the same
//! state: the loser sees [`StoreError::Conflict`] and runs its turn again on
//! the new state. A write replaces the session and appends its exchange in
//! one atomic step, so a crash mid-turn leaves the previous state, never
//! half of a new one.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::runtime::Session;

/// One exchange of a conversation's history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Exchange {
    pub turn: u64,
    /// Unix seconds.
    pub at: u64,
    /// What the user sent; masked when it answered a masked input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// The texts the bot answered.
    pub answers: Vec<arcstr::ArcStr>,
}

impl Exchange {
    fn encode(&self) -> Result<Vec<u8>, StoreError> {
        serde_json::to_vec(self).map_err(|e| StoreError::Corrupt(e.to_string()))
    }

    fn decode(bytes: &[u8]) -> Result<Exchange, StoreError> {
        serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))
    }
}

/// A stored conversation: its session (kept as JSON) and its version.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    pub session: Session,
    /// Bumped by every write; a write names the version it read.
    pub version: u64,
}

/// Exchanges kept per conversation; older ones are dropped.
pub const HISTORY_LIMIT: usize = 100;

/// The largest session a store keeps unless told otherwise, in bytes of
/// JSON (`with_max_session_bytes` on each store).
pub const DEFAULT_MAX_SESSION_BYTES: usize = 256 * 1024;

impl Record {
    #[must_use]
    pub fn new(session: Session) -> Record {
        Record {
            session,
            version: 0,
        }
    }

    /// The session as JSON, refused when it is larger than `limit` bytes.
    fn encode(&self, limit: usize) -> Result<Vec<u8>, StoreError> {
        let bytes =
            serde_json::to_vec(&self.session).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        if bytes.len() > limit {
            return Err(StoreError::TooLarge {
                bytes: bytes.len(),
                limit,
            });
        }
        Ok(bytes)
    }

    /// A stored record, with the version its store keeps beside it.
    fn decode(bytes: &[u8], version: u64) -> Result<Record, StoreError> {
        let session =
            serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        Ok(Record { session, version })
    }
}

/// Which of `count` slots a conversation id falls in (lock stripes, shards).
pub(crate) fn slot(id: &str, count: usize) -> usize {
    use std::hash::{BuildHasher as _, Hasher as _};
    let mut hasher = rustc_hash::FxBuildHasher.build_hasher();
    hasher.write(id.as_bytes());
    usize::try_from(hasher.finish() % count.max(1) as u64).unwrap_or(0)
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another turn wrote the conversation since it was read.
    #[error("the conversation changed since it was read")]
    Conflict,
    /// The store cannot be reached or failed.
    #[error("the session store is unavailable: {0}")]
    Unavailable(String),
    /// A stored record cannot be read back.
    #[error("a stored conversation is corrupt: {0}")]
    Corrupt(String),
    /// The session is larger than the store's limit; nothing was written.
    #[error("the conversation's state would take {bytes} bytes; the limit is {limit}")]
    TooLarge { bytes: usize, limit: usize },
    /// The store did not answer a write in time: it may still apply it.
    #[error("the session store did not confirm the write in time: {0}")]
    Unconfirmed(String),
}

/// A place to keep conversations. Implementations are blocking; the server
/// calls them from its blocking thread pool.
pub trait SessionStore: Send + Sync {
    /// The record, or `None` when there is none (or it expired).
    ///
    /// # Errors
    /// The store is unavailable, or the record is corrupt.
    fn load(&self, id: &str) -> Result<Option<Record>, StoreError>;

    /// Writes `record` with version `expected + 1` and appends `exchange` to
    /// the history (dropping the oldest past [`HISTORY_LIMIT`]), both or
    /// neither, if the stored version is `expected` (`None`: only if there
    /// is no record). The conversation expires after `idle` without writes.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the stored version differs; the store
    /// is unavailable.
    fn save(
        &self,
        id: &str,
        record: &Record,
        expected: Option<u64>,
        exchange: &Exchange,
        idle: Duration,
    ) -> Result<(), StoreError>;

    /// The conversation's history, oldest first (empty when there is none).
    ///
    /// # Errors
    /// The store is unavailable, or an exchange is corrupt.
    fn history(&self, id: &str) -> Result<Vec<Exchange>, StoreError>;

    /// Removes a record and its history; whether there was one.
    ///
    /// # Errors
    /// The store is unavailable.
    fn delete(&self, id: &str) -> Result<bool, StoreError>;

    /// Removes records idle longer than `idle`; how many.
    ///
    /// # Errors
    /// The store is unavailable.
    fn purge(&self, idle: Duration) -> Result<usize, StoreError>;

    /// How many records are stored.
    ///
    /// # Errors
    /// The store is unavailable.
    fn count(&self) -> Result<usize, StoreError>;

    /// A short name for logs and metrics.
    fn name(&self) -> &'static str;

    /// Whether every operation is a few microseconds of CPU that never waits
    /// on I/O: the server then runs turns on its async workers instead of
    /// handing them to the blocking pool (a thread switch each way).
    fn never_waits(&self) -> bool {
        false
    }

    /// Upkeep the server runs every second on its blocking pool, off the
    /// path of turns.
    ///
    /// # Errors
    /// The store is unavailable.
    fn maintain(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Takes a conversation's cross-process lock, waiting up to `wait`,
    /// and reads its record: what a turn does first, in one round trip
    /// where the store can. The token names the lock for
    /// [`SessionStore::unlock`] and [`SessionStore::save_and_unlock`].
    /// Stores served by one process need no lock (the server's in-process
    /// lock serializes turns), so the default takes none and only reads.
    /// Writes stay version-checked either way: a lock that expired under a
    /// slow turn cannot lose an update. When it fails no lock is held.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the lock stays taken for `wait`; as
    /// `load`.
    fn lock_and_load(
        &self,
        id: &str,
        _wait: Duration,
    ) -> Result<(Option<String>, Option<Record>), StoreError> {
        Ok((None, self.load(id)?))
    }

    /// Releases a lock taken with [`SessionStore::lock_and_load`], if still
    /// held.
    ///
    /// # Errors
    /// The store is unavailable (the lock then expires on its own).
    fn unlock(&self, _id: &str, _token: &str) -> Result<(), StoreError> {
        Ok(())
    }

    /// [`SessionStore::save`], then, when the write succeeded, releases
    /// the lock `token` names: what a turn does last, in one round trip
    /// where the store can. On a conflict or an error the lock is still
    /// held (the caller retries or releases it). A release that fails
    /// after a good write is not an error: the lock expires on its own.
    ///
    /// # Errors
    /// As `save`.
    fn save_and_unlock(
        &self,
        id: &str,
        write: &Write<'_>,
        token: Option<&str>,
    ) -> Result<(), StoreError> {
        self.save(id, write.record, write.expected, write.exchange, write.idle)?;
        if let Some(token) = token {
            let _ = self.unlock(id, token);
        }
        Ok(())
    }
}

/// One turn's write, as [`SessionStore::save`] takes it.
pub struct Write<'a> {
    pub record: &'a Record,
    pub expected: Option<u64>,
    pub exchange: &'a Exchange,
    pub idle: Duration,
}

pub(crate) fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn expired(record_time: u64, idle: Duration) -> bool {
    now_secs().saturating_sub(record_time) > idle.as_secs()
}

// ---- memory -----------------------------------------------------------------

/// Conversations in this process's memory, as encoded bytes (compact, and
/// the same format the durable stores keep). Lost on restart.
pub struct MemoryStore {
    shards: Vec<Mutex<HashMap<Box<str>, Stored>>>,
    idle: Duration,
    max_session_bytes: usize,
}

struct Stored {
    /// The session, as JSON.
    bytes: Box<[u8]>,
    /// The exchanges, each as JSON, oldest first.
    history: std::collections::VecDeque<Box<[u8]>>,
    version: u64,
    touched: u64,
}

impl MemoryStore {
    /// Records idle longer than `idle` read as missing.
    #[must_use]
    pub fn new(idle: Duration) -> MemoryStore {
        MemoryStore {
            shards: (0..64).map(|_| Mutex::new(HashMap::new())).collect(),
            idle,
            max_session_bytes: DEFAULT_MAX_SESSION_BYTES,
        }
    }

    /// Refuses to write a session larger than `bytes` of JSON
    /// ([`StoreError::TooLarge`]).
    #[must_use]
    pub fn with_max_session_bytes(mut self, bytes: usize) -> MemoryStore {
        self.max_session_bytes = bytes;
        self
    }

    fn shard(
        &self,
        id: &str,
    ) -> Result<std::sync::MutexGuard<'_, HashMap<Box<str>, Stored>>, StoreError> {
        self.shards[slot(id, self.shards.len())]
            .lock()
            .map_err(|_| StoreError::Unavailable("a memory shard is poisoned".into()))
    }
}

impl SessionStore for MemoryStore {
    fn load(&self, id: &str) -> Result<Option<Record>, StoreError> {
        let mut shard = self.shard(id)?;
        match shard.get(id) {
            Some(stored) if expired(stored.touched, self.idle) => {
                shard.remove(id);
                Ok(None)
            }
            Some(stored) => Record::decode(&stored.bytes, stored.version).map(Some),
            None => Ok(None),
        }
    }

    fn save(
        &self,
        id: &str,
        record: &Record,
        expected: Option<u64>,
        exchange: &Exchange,
        _idle: Duration,
    ) -> Result<(), StoreError> {
        let bytes = record.encode(self.max_session_bytes)?.into_boxed_slice();
        let said = exchange.encode()?.into_boxed_slice();
        let mut shard = self.shard(id)?;
        match (shard.get_mut(id), expected) {
            (None, None) => {
                shard.insert(
                    id.into(),
                    Stored {
                        bytes,
                        history: std::iter::once(said).collect(),
                        version: 1,
                        touched: now_secs(),
                    },
                );
            }
            (Some(stored), Some(version)) if stored.version == version => {
                stored.bytes = bytes;
                stored.version = version + 1;
                stored.touched = now_secs();
                if stored.history.len() >= HISTORY_LIMIT {
                    stored.history.pop_front();
                }
                stored.history.push_back(said);
            }
            _ => return Err(StoreError::Conflict),
        }
        Ok(())
    }

    fn history(&self, id: &str) -> Result<Vec<Exchange>, StoreError> {
        let shard = self.shard(id)?;
        match shard.get(id) {
            Some(stored) if !expired(stored.touched, self.idle) => stored
                .history
                .iter()
                .map(|bytes| Exchange::decode(bytes))
                .collect(),
            _ => Ok(Vec::new()),
        }
    }

    fn delete(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self.shard(id)?.remove(id).is_some())
    }

    fn purge(&self, idle: Duration) -> Result<usize, StoreError> {
        let mut removed = 0;
        for shard in &self.shards {
            let mut shard = shard
                .lock()
                .map_err(|_| StoreError::Unavailable("a memory shard is poisoned".into()))?;
            let before = shard.len();
            shard.retain(|_, s| !expired(s.touched, idle));
            removed += before - shard.len();
        }
        Ok(removed)
    }

    fn count(&self) -> Result<usize, StoreError> {
        let mut count = 0;
        for shard in &self.shards {
            count += shard
                .lock()
                .map_err(|_| StoreError::Unavailable("a memory shard is poisoned".into()))?
                .len();
        }
        Ok(count)
    }

    fn name(&self) -> &'static str {
        "memory"
    }

    fn never_waits(&self) -> bool {
        true
    }
}

// ---- SQLite -------------------------------------------------------------------

/// Conversations in a SQLite file (WAL mode): survives restarts; the
/// embedded default. Table `conversations` holds each session and its
/// version, `exchanges` the history, one row per turn keyed by the version
/// that turn wrote.
pub struct SqliteStore {
    connection: Mutex<rusqlite::Connection>,
    /// A second connection that copies the write-ahead log into the
    /// database (the only step that waits for the disk), so turns never do.
    checkpointer: Mutex<rusqlite::Connection>,
    idle: Duration,
    max_session_bytes: usize,
}

fn sqlite_error(e: &rusqlite::Error) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

impl SqliteStore {
    /// Opens (or creates) the database file.
    ///
    /// # Errors
    /// The file cannot be opened or is not a cellflow session database.
    pub fn open(path: &Path, idle: Duration) -> Result<SqliteStore, StoreError> {
        let connection = rusqlite::Connection::open(path).map_err(|e| sqlite_error(&e))?;
        // WAL with `synchronous = NORMAL`: a commit is a write to the log,
        // not an fsync; a crash of the process loses nothing, a power loss
        // at most the last commits. Checkpoints (which fsync) run on their
        // own connection from `maintain`, not inside a turn's commit.
        connection
            .execute_batch(
                "PRAGMA journal_mode = WAL;
                 PRAGMA synchronous = NORMAL;
                 PRAGMA busy_timeout = 5000;
                 PRAGMA wal_autocheckpoint = 0;
                 PRAGMA journal_size_limit = 67108864;
                 CREATE TABLE IF NOT EXISTS conversations (
                     id TEXT PRIMARY KEY,
                     version INTEGER NOT NULL,
                     touched INTEGER NOT NULL,
                     session BLOB NOT NULL
                 ) WITHOUT ROWID;
                 CREATE TABLE IF NOT EXISTS exchanges (
                     id TEXT NOT NULL,
                     version INTEGER NOT NULL,
                     exchange BLOB NOT NULL,
                     PRIMARY KEY (id, version)
                 ) WITHOUT ROWID;",
            )
            .map_err(|e| sqlite_error(&e))?;
        let checkpointer = rusqlite::Connection::open(path).map_err(|e| sqlite_error(&e))?;
        checkpointer
            // It waits for other readers (another process reading the file)
            // only briefly: turns are paused while it restarts the log, and
            // a restart that cannot happen now happens a second later.
            .execute_batch("PRAGMA busy_timeout = 100; PRAGMA synchronous = NORMAL;")
            .map_err(|e| sqlite_error(&e))?;
        Ok(SqliteStore {
            connection: Mutex::new(connection),
            checkpointer: Mutex::new(checkpointer),
            idle,
            max_session_bytes: DEFAULT_MAX_SESSION_BYTES,
        })
    }

    /// Refuses to write a session larger than `bytes` of JSON
    /// ([`StoreError::TooLarge`]).
    #[must_use]
    pub fn with_max_session_bytes(mut self, bytes: usize) -> SqliteStore {
        self.max_session_bytes = bytes;
        self
    }

    fn connection(&self) -> Result<std::sync::MutexGuard<'_, rusqlite::Connection>, StoreError> {
        self.connection
            .lock()
            .map_err(|_| StoreError::Unavailable("the SQLite connection is poisoned".into()))
    }
}

#[allow(
    clippy::cast_possible_wrap,
    clippy::cast_sign_loss,
    clippy::cast_possible_truncation
)]
impl SessionStore for SqliteStore {
    fn load(&self, id: &str) -> Result<Option<Record>, StoreError> {
        use rusqlite::OptionalExtension as _;
        let mut connection = self.connection()?;
        let row: Option<(i64, i64, Vec<u8>)> = connection
            .prepare_cached("SELECT version, touched, session FROM conversations WHERE id = ?1")
            .and_then(|mut s| {
                s.query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    .optional()
            })
            .map_err(|e| sqlite_error(&e))?;
        match row {
            Some((_, touched, _)) if expired(touched as u64, self.idle) => {
                remove(&mut connection, id).map_err(|e| sqlite_error(&e))?;
                Ok(None)
            }
            Some((version, _, bytes)) => Record::decode(&bytes, version as u64).map(Some),
            None => Ok(None),
        }
    }

    fn save(
        &self,
        id: &str,
        record: &Record,
        expected: Option<u64>,
        exchange: &Exchange,
        _idle: Duration,
    ) -> Result<(), StoreError> {
        let bytes = record.encode(self.max_session_bytes)?;
        let said = exchange.encode()?;
        let now = now_secs() as i64;
        let mut connection = self.connection()?;
        let write = |tx: &rusqlite::Transaction<'_>| -> rusqlite::Result<bool> {
            let changed = match expected {
                None => tx
                    .prepare_cached(
                        "INSERT INTO conversations (id, version, touched, session)
                         VALUES (?1, 1, ?2, ?3) ON CONFLICT (id) DO NOTHING",
                    )?
                    .execute(rusqlite::params![id, now, bytes])?,
                Some(version) => tx
                    .prepare_cached(
                        "UPDATE conversations SET version = version + 1, touched = ?2, session = ?3
                         WHERE id = ?1 AND version = ?4",
                    )?
                    .execute(rusqlite::params![id, now, bytes, version as i64])?,
            };
            if changed != 1 {
                return Ok(false);
            }
            let version = expected.map_or(1, |v| v + 1) as i64;
            tx.prepare_cached("INSERT INTO exchanges (id, version, exchange) VALUES (?1, ?2, ?3)")?
                .execute(rusqlite::params![id, version, said])?;
            tx.prepare_cached("DELETE FROM exchanges WHERE id = ?1 AND version <= ?2")?
                .execute(rusqlite::params![id, version - HISTORY_LIMIT as i64])?;
            Ok(true)
        };
        let tx = connection
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| sqlite_error(&e))?;
        // Dropping the transaction without committing rolls it back.
        match write(&tx) {
            Ok(true) => tx.commit().map_err(|e| sqlite_error(&e)),
            Ok(false) => Err(StoreError::Conflict),
            Err(e) => Err(sqlite_error(&e)),
        }
    }

    fn history(&self, id: &str) -> Result<Vec<Exchange>, StoreError> {
        let connection = self.connection()?;
        let rows: Vec<Vec<u8>> = connection
            .prepare_cached("SELECT exchange FROM exchanges WHERE id = ?1 ORDER BY version")
            .and_then(|mut s| s.query_map([id], |r| r.get(0))?.collect())
            .map_err(|e| sqlite_error(&e))?;
        rows.iter().map(|bytes| Exchange::decode(bytes)).collect()
    }

    fn delete(&self, id: &str) -> Result<bool, StoreError> {
        let mut connection = self.connection()?;
        remove(&mut connection, id).map_err(|e| sqlite_error(&e))
    }

    fn purge(&self, idle: Duration) -> Result<usize, StoreError> {
        let cutoff = now_secs().saturating_sub(idle.as_secs()) as i64;
        let mut connection = self.connection()?;
        let mut purge = || -> rusqlite::Result<usize> {
            let tx = connection.transaction()?;
            tx.prepare_cached(
                "DELETE FROM exchanges WHERE id IN
                 (SELECT id FROM conversations WHERE touched < ?1)",
            )?
            .execute([cutoff])?;
            let removed = tx
                .prepare_cached("DELETE FROM conversations WHERE touched < ?1")?
                .execute([cutoff])?;
            tx.commit()?;
            Ok(removed)
        };
        purge().map_err(|e| sqlite_error(&e))
    }

    fn count(&self) -> Result<usize, StoreError> {
        let count: i64 = self
            .connection()?
            .query_row("SELECT count(*) FROM conversations", [], |r| r.get(0))
            .map_err(|e| sqlite_error(&e))?;
        Ok(count as usize)
    }

    fn name(&self) -> &'static str {
        "sqlite"
    }

    /// Commits only append to the log in the page cache (see `open`).
    fn never_waits(&self) -> bool {
        true
    }

    fn maintain(&self) -> Result<(), StoreError> {
        let checkpointer = self
            .checkpointer
            .lock()
            .map_err(|_| StoreError::Unavailable("the SQLite checkpointer is poisoned".into()))?;
        // First the bulk of the log, without stopping turns.
        checkpointer
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
            .map_err(|e| sqlite_error(&e))?;
        // Under steady writes a PASSIVE checkpoint never catches up (turns
        // append while it copies), and the log only starts over once all
        // of it is copied: it would grow without bound (75 MB/s under the
        // load test). So with turns paused, copy what they appended
        // meanwhile and restart the log from its beginning.
        let _turns_wait = self.connection()?;
        checkpointer
            .query_row("PRAGMA wal_checkpoint(RESTART)", [], |_| Ok(()))
            .map_err(|e| sqlite_error(&e))
    }
}

/// Deletes a conversation and its history in one transaction; whether it
/// existed.
fn remove(connection: &mut rusqlite::Connection, id: &str) -> rusqlite::Result<bool> {
    let tx = connection.transaction()?;
    tx.prepare_cached("DELETE FROM exchanges WHERE id = ?1")?
        .execute([id])?;
    let removed = tx
        .prepare_cached("DELETE FROM conversations WHERE id = ?1")?
        .execute([id])?;
    tx.commit()?;
    Ok(removed > 0)
}

// ---- Redis --------------------------------------------------------------------

/// Conversations in Redis, shared by every `serve` process pointed at it.
/// Records are hashes (`version`, `session`) under `cellflow:session:{ID}`,
/// histories lists under `cellflow:history:{ID}` (the braces put both in
/// one Redis Cluster slot), each with a time to live of the idle timeout; a
/// Lua script makes compare-version, write and append atomic across
/// processes.
pub struct RedisStore {
    pool: r2d2::Pool<RedisConnector>,
    save: redis::Script,
    unlock: redis::Script,
    lock_load: redis::Script,
    max_session_bytes: usize,
}

/// How long a Redis command may take unless told otherwise.
pub const DEFAULT_REDIS_TIMEOUT: Duration = Duration::from_secs(1);

/// Connections the Redis pool keeps open while idle; it grows to 64 under
/// load.
const REDIS_IDLE_CONNECTIONS: u32 = 4;

/// Opens the pool's connections with a time limit on connecting and on
/// every command after, so a Redis that stops answering (frozen, or cut
/// off by the network) fails requests after that long instead of holding
/// them for as long as it is gone.
struct RedisConnector {
    client: redis::Client,
    timeout: Duration,
}

impl r2d2::ManageConnection for RedisConnector {
    type Connection = redis::Connection;
    type Error = redis::RedisError;

    fn connect(&self) -> Result<redis::Connection, redis::RedisError> {
        let connection = self.client.get_connection_with_timeout(self.timeout)?;
        connection.set_read_timeout(Some(self.timeout))?;
        connection.set_write_timeout(Some(self.timeout))?;
        Ok(connection)
    }

    fn is_valid(&self, connection: &mut redis::Connection) -> Result<(), redis::RedisError> {
        redis::cmd("PING").query::<String>(connection).map(drop)
    }

    fn has_broken(&self, connection: &mut redis::Connection) -> bool {
        !redis::ConnectionLike::is_open(connection)
    }
}

const REDIS_PREFIX: &str = "cellflow:session:";
const REDIS_HISTORY_PREFIX: &str = "cellflow:history:";
const REDIS_LOCK_PREFIX: &str = "cellflow:lock:";
/// A lock a crashed process left behind frees itself after this long.
const REDIS_LOCK_TTL: Duration = Duration::from_secs(10);

/// KEYS[1] the lock; ARGV[1] the holder's token.
const REDIS_UNLOCK: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
";

/// KEYS[1] the lock, KEYS[2] the record; ARGV[1] the token, ARGV[2] the
/// lock's time to live (ms). Nil when the lock is taken; otherwise the
/// record's version and session (each nil when there is no record).
const REDIS_LOCK_LOAD: &str = r"
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return false
end
return redis.call('HMGET', KEYS[2], 'version', 'session')
";

/// KEYS[1] the record, KEYS[2] the history, KEYS[3] (optional) the lock;
/// ARGV: expected version ("" for none), session, ttl ms, exchange, history
/// limit, the lock's token. The lock is released only after a write.
const REDIS_SAVE: &str = r"
local current = redis.call('HGET', KEYS[1], 'version')
if ARGV[1] == '' then
  if current then return 0 end
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], 'version', 1, 'session', ARGV[2])
else
  if current ~= ARGV[1] then return 0 end
  redis.call('HSET', KEYS[1], 'version', tonumber(ARGV[1]) + 1, 'session', ARGV[2])
end
redis.call('RPUSH', KEYS[2], ARGV[4])
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[5]), -1)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
if KEYS[3] and redis.call('GET', KEYS[3]) == ARGV[6] then
  redis.call('DEL', KEYS[3])
end
return 1
";

fn redis_keys(id: &str) -> (String, String) {
    (
        format!("{REDIS_PREFIX}{{{id}}}"),
        format!("{REDIS_HISTORY_PREFIX}{{{id}}}"),
    )
}

fn redis_lock_key(id: &str) -> String {
    format!("{REDIS_LOCK_PREFIX}{{{id}}}")
}

fn redis_error(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

impl RedisStore {
    /// Connects to `url` (e.g. `redis://127.0.0.1:6379/0`), with commands
    /// limited to [`DEFAULT_REDIS_TIMEOUT`].
    ///
    /// # Errors
    /// The URL is invalid or the server does not answer.
    pub fn open(url: &str) -> Result<RedisStore, StoreError> {
        RedisStore::open_with_timeout(url, DEFAULT_REDIS_TIMEOUT)
    }

    /// Connects to `url`; connecting and each command fail after `timeout`.
    /// Taking a connection from the pool (which checks it with a `PING`)
    /// waits at most 2 s, or twice `timeout` if that is longer.
    ///
    /// # Errors
    /// The URL is invalid or the server does not answer.
    pub fn open_with_timeout(url: &str, timeout: Duration) -> Result<RedisStore, StoreError> {
        let client = redis::Client::open(url).map_err(redis_error)?;
        let pool = r2d2::Pool::builder()
            .max_size(64)
            // Keep a few connections open, and open the rest as turns need
            // them: by default the pool keeps all 64 open, so starting
            // meant 64 connections within the deadline, which a busy
            // machine can miss with a short --redis-timeout-ms.
            .min_idle(Some(REDIS_IDLE_CONNECTIONS))
            .connection_timeout((timeout * 2).max(Duration::from_secs(2)))
            .build(RedisConnector { client, timeout })
            .map_err(redis_error)?;
        Ok(RedisStore {
            pool,
            save: redis::Script::new(REDIS_SAVE),
            unlock: redis::Script::new(REDIS_UNLOCK),
            lock_load: redis::Script::new(REDIS_LOCK_LOAD),
            max_session_bytes: DEFAULT_MAX_SESSION_BYTES,
        })
    }

    /// Refuses to write a session larger than `bytes` of JSON
    /// ([`StoreError::TooLarge`]).
    #[must_use]
    pub fn with_max_session_bytes(mut self, bytes: usize) -> RedisStore {
        self.max_session_bytes = bytes;
        self
    }

    fn connection(&self) -> Result<r2d2::PooledConnection<RedisConnector>, StoreError> {
        self.pool.get().map_err(redis_error)
    }
}

impl RedisStore {
    /// A version-checked write, releasing the lock `token` names after it.
    fn write(&self, id: &str, write: &Write<'_>, token: Option<&str>) -> Result<(), StoreError> {
        let bytes = write.record.encode(self.max_session_bytes)?;
        let said = write.exchange.encode()?;
        let (key, history) = redis_keys(id);
        let mut connection = self.connection()?;
        let mut invocation = self.save.key(key);
        invocation
            .key(history)
            .arg(write.expected.map_or(String::new(), |v| v.to_string()))
            .arg(bytes)
            .arg(
                u64::try_from(write.idle.as_millis())
                    .unwrap_or(u64::MAX)
                    .max(1),
            )
            .arg(said)
            .arg(HISTORY_LIMIT);
        if let Some(token) = token {
            invocation.key(redis_lock_key(id)).arg(token);
        }
        let written: i64 = invocation.invoke(&mut *connection).map_err(|e| {
            // Sent but not answered: Redis may still run the script.
            if e.is_timeout() {
                StoreError::Unconfirmed(e.to_string())
            } else {
                redis_error(e)
            }
        })?;
        if written == 1 {
            Ok(())
        } else {
            Err(StoreError::Conflict)
        }
    }
}

/// Calls `attempt` until it gives `Some`, pausing 0.2 ms, then twice as
/// long each time up to 5 ms, for at most `wait`; then a conflict.
fn backoff<T>(
    wait: Duration,
    mut attempt: impl FnMut() -> Result<Option<T>, StoreError>,
) -> Result<T, StoreError> {
    let deadline = std::time::Instant::now() + wait;
    let mut pause = Duration::from_micros(200);
    loop {
        if let Some(done) = attempt()? {
            return Ok(done);
        }
        if std::time::Instant::now() >= deadline {
            return Err(StoreError::Conflict);
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(5));
    }
}

impl SessionStore for RedisStore {
    fn load(&self, id: &str) -> Result<Option<Record>, StoreError> {
        let mut connection = self.connection()?;
        let (version, bytes): (Option<u64>, Option<Vec<u8>>) = redis::cmd("HMGET")
            .arg(redis_keys(id).0)
            .arg("version")
            .arg("session")
            .query(&mut *connection)
            .map_err(redis_error)?;
        match (version, bytes) {
            (Some(version), Some(bytes)) => Record::decode(&bytes, version).map(Some),
            _ => Ok(None),
        }
    }

    fn save(
        &self,
        id: &str,
        record: &Record,
        expected: Option<u64>,
        exchange: &Exchange,
        idle: Duration,
    ) -> Result<(), StoreError> {
        let write = Write {
            record,
            expected,
            exchange,
            idle,
        };
        self.write(id, &write, None)
    }

    fn save_and_unlock(
        &self,
        id: &str,
        write: &Write<'_>,
        token: Option<&str>,
    ) -> Result<(), StoreError> {
        self.write(id, write, token)
    }

    fn lock_and_load(
        &self,
        id: &str,
        wait: Duration,
    ) -> Result<(Option<String>, Option<Record>), StoreError> {
        let token = crate::runtime::new_id();
        let lock = redis_lock_key(id);
        let key = redis_keys(id).0;
        let ttl = u64::try_from(REDIS_LOCK_TTL.as_millis()).unwrap_or(10_000);
        let mut connection = self.connection()?;
        let mut invocation = self.lock_load.key(lock);
        invocation.key(key).arg(&token).arg(ttl);
        let found = backoff(wait, || {
            invocation
                .invoke::<Option<(Option<u64>, Option<Vec<u8>>)>>(&mut *connection)
                .map_err(redis_error)
        })?;
        let record = match found {
            (Some(version), Some(bytes)) => match Record::decode(&bytes, version) {
                Ok(record) => Some(record),
                Err(e) => {
                    let _ = self.unlock(id, &token);
                    return Err(e);
                }
            },
            _ => None,
        };
        Ok((Some(token), record))
    }

    fn history(&self, id: &str) -> Result<Vec<Exchange>, StoreError> {
        let mut connection = self.connection()?;
        let rows: Vec<Vec<u8>> = redis::cmd("LRANGE")
            .arg(redis_keys(id).1)
            .arg(0)
            .arg(-1)
            .query(&mut *connection)
            .map_err(redis_error)?;
        rows.iter().map(|bytes| Exchange::decode(bytes)).collect()
    }

    fn delete(&self, id: &str) -> Result<bool, StoreError> {
        let mut connection = self.connection()?;
        let (key, history) = redis_keys(id);
        // The record first: whether it existed is the answer.
        let (removed, _): (i64, i64) = redis::pipe()
            .atomic()
            .cmd("DEL")
            .arg(key)
            .cmd("DEL")
            .arg(history)
            .query(&mut *connection)
            .map_err(redis_error)?;
        Ok(removed > 0)
    }

    fn purge(&self, _idle: Duration) -> Result<usize, StoreError> {
        // Redis expires records itself (each write sets the time to live).
        Ok(0)
    }

    fn count(&self) -> Result<usize, StoreError> {
        let mut connection = self.connection()?;
        let mut cursor: u64 = 0;
        let mut count = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(format!("{REDIS_PREFIX}*"))
                .arg("COUNT")
                .arg(1000)
                .query(&mut *connection)
                .map_err(redis_error)?;
            count += keys.len();
            cursor = next;
            if cursor == 0 {
                return Ok(count);
            }
        }
    }

    fn name(&self) -> &'static str {
        "redis"
    }

    fn unlock(&self, id: &str, token: &str) -> Result<(), StoreError> {
        let mut connection = self.connection()?;
        let _: i64 = self
            .unlock
            .key(redis_lock_key(id))
            .arg(token)
            .invoke(&mut *connection)
            .map_err(redis_error)?;
        Ok(())
    }
}
