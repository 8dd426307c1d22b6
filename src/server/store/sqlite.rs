//! Conversations in a SQLite file.

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::OptionalExtension as _;

use super::{
    DEFAULT_MAX_SESSION_BYTES, DeadLetter, Delivery, Exchange, HISTORY_LIMIT, Record, SessionStore,
    StoreError, StoreFuture, Write, expired, now_secs, ready,
};

/// Conversations in a SQLite file (WAL mode): survives restarts; the
/// embedded default. Table `conversations` holds each session, its version
/// and its inactivity deadline, `exchanges` the history, one row per turn
/// keyed by the version that turn wrote, `outbox` the webhook events
/// waiting for delivery and the dead letters.
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

/// Log frames (pages) left to copy below which upkeep pauses turns to copy
/// the rest, so the log can start over: a pause of a few pages and two
/// small fsyncs, where a second's worth of writes took 45–190 ms.
const SMALL_REMAINDER: i64 = 512;
/// Passes upkeep makes without pausing turns, each copying what turns
/// appended during the one before.
const PASSES: usize = 8;
/// A log this large (frames of 4 KiB: 16 MiB) starts over even if the
/// passes never caught up: the log stays bounded under any load, at the
/// price of a longer pause when writes outrun the disk.
const MOST_FRAMES: i64 = 4_096;

impl SqliteStore {
    /// Opens (or creates) the database file, adding what an older version
    /// of cellflow did not create.
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
                 ) WITHOUT ROWID;
                 CREATE TABLE IF NOT EXISTS outbox (
                     id INTEGER PRIMARY KEY AUTOINCREMENT,
                     conversation TEXT NOT NULL,
                     destination TEXT NOT NULL,
                     body TEXT NOT NULL,
                     created INTEGER NOT NULL,
                     next_at INTEGER NOT NULL,
                     leased_until INTEGER NOT NULL DEFAULT 0,
                     attempts INTEGER NOT NULL DEFAULT 0,
                     error TEXT,
                     dead_at INTEGER
                 );
                 CREATE INDEX IF NOT EXISTS outbox_pairs
                     ON outbox (destination, conversation, id) WHERE dead_at IS NULL;
                 CREATE INDEX IF NOT EXISTS outbox_dead
                     ON outbox (dead_at, id) WHERE dead_at IS NOT NULL;",
            )
            .map_err(|e| sqlite_error(&e))?;
        // Files written before deadlines existed lack the column.
        let has_deadline: bool = connection
            .query_row(
                "SELECT count(*) FROM pragma_table_info('conversations') WHERE name = 'deadline'",
                [],
                |r| r.get::<_, i64>(0).map(|n| n > 0),
            )
            .map_err(|e| sqlite_error(&e))?;
        if !has_deadline {
            connection
                .execute_batch("ALTER TABLE conversations ADD COLUMN deadline INTEGER")
                .map_err(|e| sqlite_error(&e))?;
        }
        connection
            .execute_batch(
                "CREATE INDEX IF NOT EXISTS conversations_deadline
                     ON conversations (deadline) WHERE deadline IS NOT NULL",
            )
            .map_err(|e| sqlite_error(&e))?;
        let checkpointer = rusqlite::Connection::open(path).map_err(|e| sqlite_error(&e))?;
        checkpointer
            // It waits for other readers (another process reading the file)
            // only briefly: a restart that cannot happen now happens a
            // second later.
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

    /// Runs `f` in one immediate transaction on the turns' connection,
    /// committed when it returns `Ok`.
    fn transaction<T>(
        &self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut connection = self.connection()?;
        let tx = connection
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| sqlite_error(&e))?;
        // Dropping the transaction without committing rolls it back.
        let value = f(&tx)?;
        tx.commit().map_err(|e| sqlite_error(&e))?;
        Ok(value)
    }
}

/// SQLite integers are `i64`; ours are unix seconds, versions and counts,
/// far inside it.
#[allow(clippy::cast_possible_wrap)]
fn int(n: u64) -> i64 {
    n as i64
}

#[allow(clippy::cast_sign_loss)]
fn uint(n: i64) -> u64 {
    n.max(0) as u64
}

#[allow(clippy::cast_possible_wrap, clippy::cast_sign_loss)]
impl SqliteStore {
    fn load_now(&self, id: &str) -> Result<Option<Record>, StoreError> {
        let mut connection = self.connection()?;
        let row: Option<(i64, i64, Vec<u8>)> = connection
            .prepare_cached("SELECT version, touched, session FROM conversations WHERE id = ?1")
            .and_then(|mut s| {
                s.query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    .optional()
            })
            .map_err(|e| sqlite_error(&e))?;
        match row {
            Some((_, touched, _)) if expired(uint(touched), self.idle) => {
                remove(&mut connection, id).map_err(|e| sqlite_error(&e))?;
                Ok(None)
            }
            Some((version, _, bytes)) => Record::decode(&bytes, uint(version)).map(Some),
            None => Ok(None),
        }
    }

    fn save_now(&self, id: &str, write: &Write<'_>) -> Result<(), StoreError> {
        let bytes = write.record.encode(self.max_session_bytes)?;
        let said = write.exchange.encode()?;
        let now = int(now_secs());
        let deadline = write.deadline.map(int);
        self.transaction(|tx| {
            let apply = || -> rusqlite::Result<bool> {
                let changed = match write.expected {
                    None => tx
                        .prepare_cached(
                            "INSERT INTO conversations (id, version, touched, session, deadline)
                             VALUES (?1, 1, ?2, ?3, ?4) ON CONFLICT (id) DO NOTHING",
                        )?
                        .execute(rusqlite::params![id, now, bytes, deadline])?,
                    Some(version) => tx
                        .prepare_cached(
                            "UPDATE conversations
                             SET version = version + 1, touched = ?2, session = ?3, deadline = ?4
                             WHERE id = ?1 AND version = ?5",
                        )?
                        .execute(rusqlite::params![id, now, bytes, deadline, int(version)])?,
                };
                if changed != 1 {
                    return Ok(false);
                }
                let version = int(write.expected.map_or(1, |v| v + 1));
                tx.prepare_cached(
                    "INSERT OR REPLACE INTO exchanges (id, version, exchange) VALUES (?1, ?2, ?3)",
                )?
                .execute(rusqlite::params![id, version, said])?;
                tx.prepare_cached("DELETE FROM exchanges WHERE id = ?1 AND version <= ?2")?
                    .execute(rusqlite::params![id, version - HISTORY_LIMIT as i64])?;
                for event in write.outbox {
                    tx.prepare_cached(
                        "INSERT INTO outbox (conversation, destination, body, created, next_at)
                         VALUES (?1, ?2, ?3, ?4, ?4)",
                    )?
                    .execute(rusqlite::params![
                        id,
                        event.destination,
                        event.body,
                        now
                    ])?;
                }
                Ok(true)
            };
            match apply() {
                Ok(true) => Ok(()),
                Ok(false) => Err(StoreError::Conflict),
                Err(e) => Err(sqlite_error(&e)),
            }
        })
    }

    fn history_now(&self, id: &str) -> Result<Vec<Exchange>, StoreError> {
        let connection = self.connection()?;
        let rows: Vec<Vec<u8>> = connection
            .prepare_cached("SELECT exchange FROM exchanges WHERE id = ?1 ORDER BY version")
            .and_then(|mut s| s.query_map([id], |r| r.get(0))?.collect())
            .map_err(|e| sqlite_error(&e))?;
        rows.iter().map(|bytes| Exchange::decode(bytes)).collect()
    }

    /// Finds expired conversations on the checkpointer's connection (a
    /// reader, which does not stop turns), then deletes them in batches,
    /// each a short transaction on the turns' connection: a purge of many
    /// conversations never pauses turns for long.
    fn purge_now(&self, idle: Duration) -> Result<usize, StoreError> {
        const BATCH: i64 = 256;
        let cutoff = int(now_secs().saturating_sub(idle.as_secs()));
        let mut removed = 0;
        loop {
            let expired: Vec<String> = {
                let reader = self.checkpointer.lock().map_err(|_| {
                    StoreError::Unavailable("the SQLite checkpointer is poisoned".into())
                })?;
                reader
                    .prepare_cached("SELECT id FROM conversations WHERE touched < ?1 LIMIT ?2")
                    .and_then(|mut s| {
                        s.query_map(rusqlite::params![cutoff, BATCH], |r| r.get(0))?
                            .collect()
                    })
                    .map_err(|e| sqlite_error(&e))?
            };
            if expired.is_empty() {
                return Ok(removed);
            }
            let batch = expired.len();
            removed += self.transaction(|tx| {
                let delete = || -> rusqlite::Result<usize> {
                    let mut gone = 0;
                    for id in &expired {
                        // Touched again since it was found: it stays.
                        let deleted = tx
                            .prepare_cached(
                                "DELETE FROM conversations WHERE id = ?1 AND touched < ?2",
                            )?
                            .execute(rusqlite::params![id, cutoff])?;
                        if deleted == 1 {
                            tx.prepare_cached("DELETE FROM exchanges WHERE id = ?1")?
                                .execute([id])?;
                            gone += 1;
                        }
                    }
                    Ok(gone)
                };
                delete().map_err(|e| sqlite_error(&e))
            })?;
            if i64::try_from(batch).unwrap_or(0) < BATCH {
                return Ok(removed);
            }
        }
    }

    fn count_now(&self) -> Result<usize, StoreError> {
        let count: i64 = self
            .connection()?
            .query_row("SELECT count(*) FROM conversations", [], |r| r.get(0))
            .map_err(|e| sqlite_error(&e))?;
        Ok(usize::try_from(count).unwrap_or(0))
    }

    fn due_now(&self, now: u64, lease: Duration, limit: usize) -> Result<Vec<String>, StoreError> {
        let cutoff = int(now_secs().saturating_sub(self.idle.as_secs()));
        let until = int(now.saturating_add(lease.as_secs()));
        self.transaction(|tx| {
            let due = || -> rusqlite::Result<Vec<String>> {
                let ids: Vec<String> = tx
                    .prepare_cached(
                        "SELECT id FROM conversations WHERE deadline <= ?1 AND touched >= ?2
                         ORDER BY deadline LIMIT ?3",
                    )?
                    .query_map(
                        rusqlite::params![int(now), cutoff, int(limit as u64)],
                        |r| r.get(0),
                    )?
                    .collect::<rusqlite::Result<_>>()?;
                for id in &ids {
                    tx.prepare_cached("UPDATE conversations SET deadline = ?2 WHERE id = ?1")?
                        .execute(rusqlite::params![id, until])?;
                }
                Ok(ids)
            };
            due().map_err(|e| sqlite_error(&e))
        })
    }

    fn claim_now(
        &self,
        now: u64,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        let until = int(now.saturating_add(lease.as_secs()));
        self.transaction(|tx| {
            let claim = || -> rusqlite::Result<Vec<Delivery>> {
                // The oldest live item of each pair, if it may go now.
                let mut found: Vec<Delivery> = tx
                    .prepare_cached(
                        "SELECT o.id, o.conversation, o.destination, o.body, o.attempts, o.created
                         FROM outbox o JOIN (
                             SELECT min(id) AS id FROM outbox WHERE dead_at IS NULL
                             GROUP BY destination, conversation
                         ) head ON head.id = o.id
                         WHERE o.next_at <= ?1 AND o.leased_until <= ?1
                         ORDER BY o.id LIMIT ?2",
                    )?
                    .query_map(rusqlite::params![int(now), int(limit as u64)], |r| {
                        Ok(Delivery {
                            id: uint(r.get(0)?),
                            conversation: r.get(1)?,
                            destination: r.get(2)?,
                            body: r.get(3)?,
                            attempts: u32::try_from(r.get::<_, i64>(4)?).unwrap_or(u32::MAX),
                            created: uint(r.get(5)?),
                        })
                    })?
                    .collect::<rusqlite::Result<_>>()?;
                for delivery in &mut found {
                    delivery.attempts = delivery.attempts.saturating_add(1);
                    tx.prepare_cached(
                        "UPDATE outbox SET leased_until = ?2, attempts = attempts + 1 WHERE id = ?1",
                    )?
                    .execute(rusqlite::params![int(delivery.id), until])?;
                }
                Ok(found)
            };
            claim().map_err(|e| sqlite_error(&e))
        })
    }

    fn execute(&self, sql: &str, params: impl rusqlite::Params) -> Result<usize, StoreError> {
        self.connection()?
            .prepare_cached(sql)
            .and_then(|mut s| s.execute(params))
            .map_err(|e| sqlite_error(&e))
    }

    fn dead_letters_now(&self, limit: usize) -> Result<Vec<DeadLetter>, StoreError> {
        let connection = self.connection()?;
        connection
            .prepare_cached(
                "SELECT id, conversation, destination, body, attempts, created, error, dead_at
                 FROM outbox WHERE dead_at IS NOT NULL ORDER BY dead_at, id LIMIT ?1",
            )
            .and_then(|mut s| {
                s.query_map([int(limit as u64)], |r| {
                    Ok(DeadLetter {
                        delivery: Delivery {
                            id: uint(r.get(0)?),
                            conversation: r.get(1)?,
                            destination: r.get(2)?,
                            body: r.get(3)?,
                            attempts: u32::try_from(r.get::<_, i64>(4)?).unwrap_or(u32::MAX),
                            created: uint(r.get(5)?),
                        },
                        error: r.get::<_, Option<String>>(6)?.unwrap_or_default(),
                        failed_at: uint(r.get(7)?),
                    })
                })?
                .collect()
            })
            .map_err(|e| sqlite_error(&e))
    }

    fn redeliver_now(&self, id: u64) -> Result<bool, StoreError> {
        let now = int(now_secs());
        self.transaction(|tx| {
            // A new id puts it after everything its pair has queued.
            let moved = || -> rusqlite::Result<bool> {
                let copied = tx
                    .prepare_cached(
                        "INSERT INTO outbox (conversation, destination, body, created, next_at)
                         SELECT conversation, destination, body, created, ?2 FROM outbox
                         WHERE id = ?1 AND dead_at IS NOT NULL",
                    )?
                    .execute(rusqlite::params![int(id), now])?;
                tx.prepare_cached("DELETE FROM outbox WHERE id = ?1 AND dead_at IS NOT NULL")?
                    .execute([int(id)])?;
                Ok(copied == 1)
            };
            moved().map_err(|e| sqlite_error(&e))
        })
    }
}

impl SessionStore for SqliteStore {
    fn load<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<Record>> {
        ready(self.load_now(id))
    }

    fn save<'a>(
        &'a self,
        id: &'a str,
        write: &'a Write<'a>,
        _token: Option<&'a str>,
    ) -> StoreFuture<'a, ()> {
        ready(self.save_now(id, write))
    }

    fn lock_and_load<'a>(
        &'a self,
        id: &'a str,
        _wait: Duration,
    ) -> StoreFuture<'a, (Option<String>, Option<Record>)> {
        ready(self.load_now(id).map(|record| (None, record)))
    }

    fn unlock<'a>(&'a self, _id: &'a str, _token: &'a str) -> StoreFuture<'a, ()> {
        ready(Ok(()))
    }

    fn history<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Vec<Exchange>> {
        ready(self.history_now(id))
    }

    fn delete<'a>(&'a self, id: &'a str) -> StoreFuture<'a, bool> {
        ready(
            self.connection()
                .and_then(|mut c| remove(&mut c, id).map_err(|e| sqlite_error(&e))),
        )
    }

    fn purge(&self, idle: Duration) -> StoreFuture<'_, usize> {
        ready(self.purge_now(idle))
    }

    fn count(&self) -> StoreFuture<'_, usize> {
        ready(self.count_now())
    }

    fn name(&self) -> &'static str {
        "sqlite"
    }

    fn maintain(&self) -> Result<(), StoreError> {
        let checkpointer = self
            .checkpointer
            .lock()
            .map_err(|_| StoreError::Unavailable("the SQLite checkpointer is poisoned".into()))?;
        let checkpoint = || -> Result<(i64, i64), StoreError> {
            // (busy, frames in the log, frames copied into the database)
            checkpointer
                .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                    Ok((r.get(1)?, r.get(2)?))
                })
                .map_err(|e| sqlite_error(&e))
        };
        // Under steady writes a checkpoint never catches up (turns append
        // while it copies), and the log only starts over once all of it
        // is copied: it would grow without bound (75 MB/s under the load
        // test). Each pass copies, without stopping turns, what they
        // appended during the one before, so the remainder shrinks.
        let (mut frames, mut copied) = checkpoint()?;
        if frames == 0 {
            // Nothing written since the log last started over.
            return Ok(());
        }
        // Each pass copies what turns appended during the one before
        // (negative when a turn started the log over meanwhile).
        let mut appended = i64::MAX;
        for _ in 1..PASSES {
            let (now_frames, now_copied) = checkpoint()?;
            appended = now_frames - copied;
            (frames, copied) = (now_frames, now_copied);
            if appended <= SMALL_REMAINDER {
                break;
            }
        }
        if appended > SMALL_REMAINDER && frames < MOST_FRAMES {
            // Turns write faster than the passes copy: try again in a
            // second rather than pause them for long now.
            return Ok(());
        }
        // With turns paused, copy the few frames left: the next turn's
        // write then finds the whole log copied and starts it over from
        // its beginning.
        let _turns_wait = self.connection()?;
        checkpoint().map(drop)
    }

    fn due(&self, now: u64, lease: Duration, limit: usize) -> StoreFuture<'_, Vec<String>> {
        ready(self.due_now(now, lease, limit))
    }

    fn claim(&self, now: u64, lease: Duration, limit: usize) -> StoreFuture<'_, Vec<Delivery>> {
        ready(self.claim_now(now, lease, limit))
    }

    fn ack(&self, id: u64) -> StoreFuture<'_, ()> {
        ready(
            self.execute("DELETE FROM outbox WHERE id = ?1", [int(id)])
                .map(drop),
        )
    }

    fn retry<'a>(&'a self, id: u64, next_at: u64, error: &'a str) -> StoreFuture<'a, ()> {
        ready(
            self.execute(
                "UPDATE outbox SET next_at = ?2, leased_until = 0, error = ?3
                 WHERE id = ?1 AND dead_at IS NULL",
                rusqlite::params![int(id), int(next_at), error],
            )
            .map(drop),
        )
    }

    fn dead<'a>(&'a self, id: u64, error: &'a str) -> StoreFuture<'a, ()> {
        ready(
            self.execute(
                "UPDATE outbox SET dead_at = ?2, leased_until = 0, error = ?3
                 WHERE id = ?1 AND dead_at IS NULL",
                rusqlite::params![int(id), int(now_secs()), error],
            )
            .map(drop),
        )
    }

    fn dead_letters(&self, limit: usize) -> StoreFuture<'_, Vec<DeadLetter>> {
        ready(self.dead_letters_now(limit))
    }

    fn redeliver(&self, id: u64) -> StoreFuture<'_, bool> {
        ready(self.redeliver_now(id))
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
