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

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::runtime::Session;

mod memory;
mod redis;
mod sqlite;

pub use memory::MemoryStore;
pub use redis::{DEFAULT_REDIS_TIMEOUT, RedisStore};
pub use sqlite::SqliteStore;

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
