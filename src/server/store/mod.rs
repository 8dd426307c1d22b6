//! Where `cellflow serve` keeps conversations: one trait, four stores.
//!
//! A [`Record`] is a session and a version; beside it each store keeps the
//! conversation's history, a bounded list of [`Exchange`]s appended one per
//! turn (never rewritten, so a turn costs the same at the hundredth
//! exchange as at the first). Writes are conditional on the version read
//! (optimistic concurrency), so two turns of one conversation — in one
//! process or in two sharing a Redis or a PostgreSQL — can never both commit on the same
//! state: the loser sees [`StoreError::Conflict`] and runs its turn again on
//! the new state. A write replaces the session and appends its exchange in
//! one atomic step, so a crash mid-turn leaves the previous state, never
//! half of a new one.
//!
//! The same write sets the conversation's inactivity deadline and enqueues
//! its webhook events in an outbox, so a turn's events are queued if and
//! only if the turn is stored; the outbox hands them out in order per
//! (destination, conversation) and keeps what failed for good as dead
//! letters. The durable stores keep both across restarts.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::runtime::Session;

mod memory;
mod postgres;
mod redis;
mod sqlite;

pub use memory::MemoryStore;
pub use postgres::{DEFAULT_POSTGRES_TIMEOUT, PostgresStore};
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
    /// What the user thought of the conversation (a satisfaction score, a
    /// "likable" vote), when this entry records feedback rather than a
    /// message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feedback: Option<serde_json::Map<String, serde_json::Value>>,
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

/// What a store operation gives back, later: a boxed future, so the trait
/// stays usable as `dyn SessionStore` (the server picks the store at run
/// time). The stores that never wait (memory, SQLite) return ready futures.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// A future that is ready at once, for stores whose operations are a few
/// microseconds of CPU.
fn ready<'a, T: Send + 'a>(result: Result<T, StoreError>) -> StoreFuture<'a, T> {
    Box::pin(std::future::ready(result))
}

/// A webhook event to enqueue with a turn's write (delivered by the
/// server, in order per destination and conversation).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outgoing {
    /// Which configured receiver gets it.
    pub destination: String,
    /// The exact bytes to send (JSON), kept as written so a retry is signed
    /// alike.
    pub body: String,
}

/// An outbox item handed out by [`SessionStore::claim`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Delivery {
    pub id: u64,
    pub conversation: String,
    pub destination: String,
    pub body: String,
    /// Claims so far, this one included.
    pub attempts: u32,
    /// Unix seconds when it was enqueued.
    pub created: u64,
}

/// An item given up on ([`SessionStore::dead`]), kept until redelivered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeadLetter {
    #[serde(flatten)]
    pub delivery: Delivery,
    /// Why the last attempt failed.
    pub error: String,
    /// Unix seconds.
    pub failed_at: u64,
}

/// One turn's write, as [`SessionStore::save`] takes it.
pub struct Write<'a> {
    pub record: &'a Record,
    /// The version read (`None`: only if there is no record).
    pub expected: Option<u64>,
    /// Appended to the history.
    pub exchange: &'a Exchange,
    /// The conversation expires after this long without writes.
    pub idle: Duration,
    /// Unix seconds when the conversation's inactivity timeout fires
    /// ([`SessionStore::due`]); `None` clears it.
    pub deadline: Option<u64>,
    /// Webhook events enqueued with the turn, all or none.
    pub outbox: &'a [Outgoing],
}

/// A place to keep conversations. Every operation is a future: the
/// network stores (Redis, PostgreSQL) wait on I/O without holding a
/// thread; memory and SQLite answer at once.
///
/// Times (`now`, deadlines, `next_at`) are unix seconds.
pub trait SessionStore: Send + Sync {
    /// The record, or `None` when there is none (or it expired).
    ///
    /// # Errors
    /// The store is unavailable, or the record is corrupt.
    fn load<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<Record>>;

    /// Writes `write.record` with version `write.expected + 1`, appends
    /// `write.exchange` to the history (dropping the oldest past
    /// [`HISTORY_LIMIT`]), sets the deadline and enqueues the outbox, all
    /// or none, if the stored version is `write.expected` (`None`: only if
    /// there is no record). Then, when the write succeeded, releases the
    /// lock `token` names ([`SessionStore::lock_and_load`]): what a turn
    /// does last, in one round trip. On a conflict or an error the lock is
    /// still held (the caller retries or releases it). A release that fails
    /// after a good write is not an error: the lock expires on its own.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the stored version differs;
    /// [`StoreError::TooLarge`]; the store is unavailable;
    /// [`StoreError::Unconfirmed`] when it may have written.
    fn save<'a>(
        &'a self,
        id: &'a str,
        write: &'a Write<'a>,
        token: Option<&'a str>,
    ) -> StoreFuture<'a, ()>;

    /// Takes a conversation's cross-process lock, waiting up to `wait`,
    /// and reads its record: what a turn does first, in one round trip
    /// where the store can. The token names the lock for
    /// [`SessionStore::unlock`] and [`SessionStore::save`]. Stores served
    /// by one process need no lock (the server's in-process lock
    /// serializes turns): they hand out no token. Writes stay
    /// version-checked either way: a lock that expired under a slow turn
    /// cannot lose an update. When it fails no lock is held.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the lock stays taken for `wait`; as
    /// `load`.
    fn lock_and_load<'a>(
        &'a self,
        id: &'a str,
        wait: Duration,
    ) -> StoreFuture<'a, (Option<String>, Option<Record>)>;

    /// Releases a lock taken with [`SessionStore::lock_and_load`], if still
    /// held.
    ///
    /// # Errors
    /// The store is unavailable (the lock then expires on its own).
    fn unlock<'a>(&'a self, id: &'a str, token: &'a str) -> StoreFuture<'a, ()>;

    /// The conversation's history, oldest first (empty when there is none).
    ///
    /// # Errors
    /// The store is unavailable, or an exchange is corrupt.
    fn history<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Vec<Exchange>>;

    /// Removes a record, its history and its deadline; whether there was
    /// one. Its queued webhook events stay queued.
    ///
    /// # Errors
    /// The store is unavailable.
    fn delete<'a>(&'a self, id: &'a str) -> StoreFuture<'a, bool>;

    /// Removes records idle longer than `idle`; how many.
    ///
    /// # Errors
    /// The store is unavailable.
    fn purge(&self, idle: Duration) -> StoreFuture<'_, usize>;

    /// How many records are stored.
    ///
    /// # Errors
    /// The store is unavailable.
    fn count(&self) -> StoreFuture<'_, usize>;

    /// A short name for logs and metrics.
    fn name(&self) -> &'static str;

    /// Upkeep the server runs every second on its blocking pool, off the
    /// path of turns. It may block.
    ///
    /// # Errors
    /// The store is unavailable.
    fn maintain(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Up to `limit` conversations whose deadline is at or before `now`,
    /// earliest first. Each one's deadline moves to `now + lease`, so a
    /// second call (this process or another) does not hand it out again
    /// while its timeout turn runs; that turn's write sets the next
    /// deadline, and if it never comes (a crash) the conversation is due
    /// again after the lease. Expired conversations are left out.
    ///
    /// # Errors
    /// The store is unavailable.
    fn due(&self, now: u64, lease: Duration, limit: usize) -> StoreFuture<'_, Vec<String>>;

    /// Up to `limit` outbox items to deliver now, oldest first: for each
    /// (destination, conversation) pair only its oldest item, and only when
    /// it is not leased and its `next_at` has come. Each is leased until
    /// `now + lease` (its pair waits meanwhile) and its attempts counted; a
    /// lease that runs out (a crash mid-delivery) makes it claimable again:
    /// delivery is at least once, in order per pair.
    ///
    /// # Errors
    /// The store is unavailable.
    fn claim(&self, now: u64, lease: Duration, limit: usize) -> StoreFuture<'_, Vec<Delivery>>;

    /// Delivered: removes the item; the next of its pair becomes claimable.
    ///
    /// # Errors
    /// The store is unavailable.
    fn ack(&self, id: u64) -> StoreFuture<'_, ()>;

    /// Failed, to be tried again at `next_at`; its pair waits until then.
    ///
    /// # Errors
    /// The store is unavailable.
    fn retry<'a>(&'a self, id: u64, next_at: u64, error: &'a str) -> StoreFuture<'a, ()>;

    /// Given up: moves the item to the dead letters; the next of its pair
    /// becomes claimable.
    ///
    /// # Errors
    /// The store is unavailable.
    fn dead<'a>(&'a self, id: u64, error: &'a str) -> StoreFuture<'a, ()>;

    /// Up to `limit` dead letters, oldest death first.
    ///
    /// # Errors
    /// The store is unavailable, or one is corrupt.
    fn dead_letters(&self, limit: usize) -> StoreFuture<'_, Vec<DeadLetter>>;

    /// Puts a dead letter back in the outbox, after what its pair has
    /// queued, with its attempts reset; whether there was one. It may come
    /// back under a new id.
    ///
    /// # Errors
    /// The store is unavailable.
    fn redeliver(&self, id: u64) -> StoreFuture<'_, bool>;
}

pub(crate) fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn expired(record_time: u64, idle: Duration) -> bool {
    now_secs().saturating_sub(record_time) > idle.as_secs()
}
