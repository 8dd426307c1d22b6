//! Conversations in a SQLite file.

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use super::{
    DEFAULT_MAX_SESSION_BYTES, Exchange, HISTORY_LIMIT, Record, SessionStore, StoreError, expired,
    now_secs,
};

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
