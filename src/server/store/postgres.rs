//! Conversations in PostgreSQL.

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;

use super::{
    DEFAULT_MAX_SESSION_BYTES, DeadLetter, Delivery, Exchange, HISTORY_LIMIT, Record, SessionStore,
    StoreError, StoreFuture, Write, expired, now_secs,
};

/// Conversations in PostgreSQL, shared by every `serve` process pointed at
/// it. Tables `cellflow_conversations` (session, version, deadline, and
/// the turn lock), `cellflow_exchanges` (the history) and
/// `cellflow_outbox` (webhook events and dead letters), created on first
/// use with two functions that make a turn's first read and its write one
/// round trip each, atomically.
///
/// Turns of one conversation are serialized across processes by a lock in
/// the conversation's row (a token and an expiry, taken with the first
/// read and released with the write, like the Redis store's), not by an
/// advisory lock: an advisory lock belongs to a database session, so a
/// turn would hold a pooled connection for as long as it runs (a service
/// call included), and 128 turns would need 128 connections; the row lock
/// holds none between its two statements, and a crashed process's lock
/// expires after 10 s.
pub struct PostgresStore {
    pool: Pool,
    timeout: Duration,
    idle: Duration,
    max_session_bytes: usize,
}

/// How long a PostgreSQL statement, or connecting, may take unless told
/// otherwise.
pub const DEFAULT_POSTGRES_TIMEOUT: Duration = Duration::from_secs(2);

/// Connections kept per process: statements are short (one round trip a
/// turn step) and the two cores are shared with the database.
const CONNECTIONS: usize = 16;

/// A lock a crashed process left behind frees itself after this long.
const LOCK_TTL: Duration = Duration::from_secs(10);

/// Created on first use; taken under a transaction-level advisory lock so
/// two processes starting together do not race on `CREATE`.
const SCHEMA: &str = r"
SELECT pg_advisory_xact_lock(7366240318);

CREATE TABLE IF NOT EXISTS cellflow_conversations (
    id TEXT PRIMARY KEY,
    version BIGINT NOT NULL,
    touched BIGINT NOT NULL,
    session BYTEA NOT NULL,
    deadline BIGINT,
    lock_token TEXT,
    lock_until BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS cellflow_conversations_deadline
    ON cellflow_conversations (deadline) WHERE deadline IS NOT NULL;

CREATE TABLE IF NOT EXISTS cellflow_exchanges (
    id TEXT NOT NULL,
    version BIGINT NOT NULL,
    exchange BYTEA NOT NULL,
    PRIMARY KEY (id, version)
);

CREATE TABLE IF NOT EXISTS cellflow_outbox (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    conversation TEXT NOT NULL,
    destination TEXT NOT NULL,
    body TEXT NOT NULL,
    created BIGINT NOT NULL,
    next_at BIGINT NOT NULL,
    leased_until BIGINT NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    dead_at BIGINT
);
CREATE INDEX IF NOT EXISTS cellflow_outbox_pairs
    ON cellflow_outbox (destination, conversation, seq) WHERE dead_at IS NULL;
CREATE INDEX IF NOT EXISTS cellflow_outbox_dead
    ON cellflow_outbox (dead_at, seq) WHERE dead_at IS NOT NULL;

-- A turn's first step: take the conversation's lock (free, or expired)
-- and read it. o_state: 0 no such conversation, 1 locked and read, 2 held
-- by another turn. The lock is worth nothing after a crash, so its commit
-- does not wait for the disk.
CREATE OR REPLACE FUNCTION cellflow_lock_load(p_id TEXT, p_token TEXT, p_ttl_ms BIGINT,
    OUT o_state INTEGER, OUT o_version BIGINT, OUT o_touched BIGINT, OUT o_session BYTEA)
AS $$
DECLARE
    now_ms BIGINT := (extract(epoch FROM clock_timestamp()) * 1000)::BIGINT;
BEGIN
    PERFORM set_config('synchronous_commit', 'off', true);
    UPDATE cellflow_conversations c
        SET lock_token = p_token, lock_until = now_ms + p_ttl_ms
        WHERE c.id = p_id AND c.lock_until <= now_ms
        RETURNING c.version, c.touched, c.session INTO o_version, o_touched, o_session;
    IF FOUND THEN
        o_state := 1;
    ELSIF EXISTS (SELECT 1 FROM cellflow_conversations c WHERE c.id = p_id) THEN
        o_state := 2;
    ELSE
        o_state := 0;
    END IF;
END
$$ LANGUAGE plpgsql;

-- A turn's last step: the version-checked write, its exchange (the history
-- kept to p_keep), its deadline and its webhook events, all or none; then
-- the release of the lock p_token names, if the turn still holds it.
CREATE OR REPLACE FUNCTION cellflow_save(p_id TEXT, p_expected BIGINT, p_session BYTEA,
    p_touched BIGINT, p_exchange BYTEA, p_keep BIGINT, p_deadline BIGINT, p_token TEXT,
    p_destinations TEXT[], p_bodies TEXT[])
RETURNS BOOLEAN AS $$
DECLARE
    v BIGINT;
BEGIN
    IF p_expected IS NULL THEN
        INSERT INTO cellflow_conversations (id, version, touched, session, deadline)
            VALUES (p_id, 1, p_touched, p_session, p_deadline)
            ON CONFLICT (id) DO NOTHING;
        IF NOT FOUND THEN
            RETURN FALSE;
        END IF;
        DELETE FROM cellflow_exchanges e WHERE e.id = p_id;
        v := 1;
    ELSE
        UPDATE cellflow_conversations c
            SET version = c.version + 1, touched = p_touched, session = p_session,
                deadline = p_deadline,
                lock_token = CASE WHEN c.lock_token = p_token THEN NULL ELSE c.lock_token END,
                lock_until = CASE WHEN c.lock_token = p_token THEN 0 ELSE c.lock_until END
            WHERE c.id = p_id AND c.version = p_expected;
        IF NOT FOUND THEN
            RETURN FALSE;
        END IF;
        v := p_expected + 1;
    END IF;
    INSERT INTO cellflow_exchanges (id, version, exchange) VALUES (p_id, v, p_exchange);
    DELETE FROM cellflow_exchanges e WHERE e.id = p_id AND e.version <= v - p_keep;
    INSERT INTO cellflow_outbox (conversation, destination, body, created, next_at)
        SELECT p_id, d, b, p_touched, p_touched
        FROM unnest(p_destinations, p_bodies) WITH ORDINALITY AS t(d, b, n) ORDER BY n;
    RETURN TRUE;
END
$$ LANGUAGE plpgsql;
";

fn pg_error(e: &tokio_postgres::Error) -> StoreError {
    StoreError::Unavailable(match e.as_db_error() {
        Some(db) => format!("PostgreSQL: {}", db.message()),
        None => format!("PostgreSQL: {e}"),
    })
}

fn pool_error(e: &deadpool_postgres::PoolError) -> StoreError {
    match e {
        deadpool_postgres::PoolError::Backend(e) => pg_error(e),
        other => StoreError::Unavailable(format!("PostgreSQL: {other}")),
    }
}

/// A column of a row, or [`StoreError::Corrupt`] when it does not have the
/// type this store gives it (a table of that name that cellflow did not
/// create, say): never a panic.
fn col<'a, T: tokio_postgres::types::FromSql<'a>>(
    row: &'a tokio_postgres::Row,
    index: usize,
) -> Result<T, StoreError> {
    row.try_get(index)
        .map_err(|e| StoreError::Corrupt(format!("PostgreSQL: an unexpected column: {e}")))
}

/// The count in a statement's first row.
fn first_count(rows: &[tokio_postgres::Row]) -> Result<u64, StoreError> {
    rows.first().map_or(Ok(0), |r| col::<i64>(r, 0).map(uint))
}

/// PostgreSQL's integers are signed; ours (unix seconds, versions,
/// counts, ids) are far inside `i64`.
fn int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn uint(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user:password@host:port/database`,
    /// or `host=… user=… dbname=…`) and creates the tables and functions
    /// it does not find. Connecting and each statement fail after
    /// `timeout`. Records idle longer than `idle` read as missing.
    ///
    /// # Errors
    /// The URL is invalid, the server does not answer, or the schema
    /// cannot be created.
    pub async fn open(
        url: &str,
        idle: Duration,
        timeout: Duration,
    ) -> Result<PostgresStore, StoreError> {
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| StoreError::Unavailable(format!("PostgreSQL: a bad URL: {e}")))?;
        config.connect_timeout(timeout);
        if config.get_application_name().is_none() {
            config.application_name("cellflow");
        }
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(CONNECTIONS)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(timeout))
            .create_timeout(Some(timeout))
            .recycle_timeout(Some(timeout))
            .build()
            .map_err(|e| StoreError::Unavailable(format!("PostgreSQL: {e}")))?;
        let store = PostgresStore {
            pool,
            timeout,
            idle,
            max_session_bytes: DEFAULT_MAX_SESSION_BYTES,
        };
        store
            .within(async {
                let mut client = store.client().await?;
                let tx = client.transaction().await.map_err(|e| pg_error(&e))?;
                tx.batch_execute(SCHEMA).await.map_err(|e| pg_error(&e))?;
                tx.commit().await.map_err(|e| pg_error(&e))
            })
            .await?;
        Ok(store)
    }

    /// Refuses to write a session larger than `bytes` of JSON
    /// ([`StoreError::TooLarge`]).
    #[must_use]
    pub fn with_max_session_bytes(mut self, bytes: usize) -> PostgresStore {
        self.max_session_bytes = bytes;
        self
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool.get().await.map_err(|e| pool_error(&e))
    }

    /// `work`, or [`StoreError::Unavailable`] if it takes longer than the
    /// timeout (a frozen server, a cut network).
    async fn within<T>(
        &self,
        work: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        tokio::time::timeout(self.timeout, work)
            .await
            .unwrap_or_else(|_| {
                Err(StoreError::Unavailable(format!(
                    "PostgreSQL did not answer within {} ms",
                    self.timeout.as_millis()
                )))
            })
    }

    /// Runs one statement; its rows.
    async fn rows(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<tokio_postgres::Row>, StoreError> {
        self.within(async {
            let client = self.client().await?;
            let statement = client.prepare_cached(sql).await.map_err(|e| pg_error(&e))?;
            client
                .query(&statement, params)
                .await
                .map_err(|e| pg_error(&e))
        })
        .await
    }

    /// Runs one statement; how many rows it changed.
    async fn execute(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<u64, StoreError> {
        self.within(async {
            let client = self.client().await?;
            let statement = client.prepare_cached(sql).await.map_err(|e| pg_error(&e))?;
            client
                .execute(&statement, params)
                .await
                .map_err(|e| pg_error(&e))
        })
        .await
    }

    /// Removes a conversation and its history, in one statement; whether
    /// it existed.
    async fn remove(&self, id: &str) -> Result<bool, StoreError> {
        let rows = self
            .rows(
                "WITH gone AS (DELETE FROM cellflow_conversations WHERE id = $1 RETURNING id),
                 history AS (DELETE FROM cellflow_exchanges WHERE id = $1)
                 SELECT count(*) FROM gone",
                &[&id],
            )
            .await?;
        Ok(first_count(&rows)? > 0)
    }

    async fn load_now(&self, id: &str) -> Result<Option<Record>, StoreError> {
        let rows = self
            .rows(
                "SELECT version, touched, session FROM cellflow_conversations WHERE id = $1",
                &[&id],
            )
            .await?;
        let Some(row) = rows.first() else {
            return Ok(None);
        };
        if expired(uint(col(row, 1)?), self.idle) {
            self.remove(id).await?;
            return Ok(None);
        }
        Record::decode(col::<&[u8]>(row, 2)?, uint(col(row, 0)?)).map(Some)
    }

    async fn save_now(
        &self,
        id: &str,
        write: &Write<'_>,
        token: Option<&str>,
    ) -> Result<(), StoreError> {
        let bytes = write.record.encode(self.max_session_bytes)?;
        let said = write.exchange.encode()?;
        let destinations: Vec<&str> = write
            .outbox
            .iter()
            .map(|e| e.destination.as_str())
            .collect();
        let bodies: Vec<&str> = write.outbox.iter().map(|e| e.body.as_str()).collect();
        let expected = write.expected.map(int);
        let deadline = write.deadline.map(int);
        let keep = int(HISTORY_LIMIT as u64);
        let work = async {
            let client = self.client().await?;
            let statement = client
                .prepare_cached("SELECT cellflow_save($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
                .await
                .map_err(|e| pg_error(&e))?;
            // Sent from here on: a failure may come after the commit.
            let row = client
                .query_one(
                    &statement,
                    &[
                        &id,
                        &expected,
                        &bytes,
                        &int(now_secs()),
                        &said,
                        &keep,
                        &deadline,
                        &token,
                        &destinations,
                        &bodies,
                    ],
                )
                .await
                .map_err(|e| {
                    if e.as_db_error().is_some() {
                        pg_error(&e)
                    } else {
                        StoreError::Unconfirmed(format!("PostgreSQL: {e}"))
                    }
                })?;
            if col::<bool>(&row, 0)? {
                Ok(())
            } else {
                Err(StoreError::Conflict)
            }
        };
        tokio::time::timeout(self.timeout, work)
            .await
            .unwrap_or_else(|_| {
                Err(StoreError::Unconfirmed(format!(
                    "PostgreSQL did not answer within {} ms",
                    self.timeout.as_millis()
                )))
            })
    }

    async fn lock_and_load_now(
        &self,
        id: &str,
        wait: Duration,
    ) -> Result<(Option<String>, Option<Record>), StoreError> {
        let token = crate::runtime::new_id();
        let ttl = int(u64::try_from(LOCK_TTL.as_millis()).unwrap_or(10_000));
        let deadline = tokio::time::Instant::now() + wait;
        let mut pause = Duration::from_micros(200);
        loop {
            let rows = self
                .rows(
                    "SELECT o_state, o_version, o_touched, o_session
                     FROM cellflow_lock_load($1, $2, $3)",
                    &[&id, &token, &ttl],
                )
                .await?;
            let row = rows
                .first()
                .ok_or_else(|| StoreError::Unavailable("PostgreSQL returned no row".into()))?;
            match col::<i32>(row, 0)? {
                0 => return Ok((None, None)),
                1 => {
                    let decoded = match (col::<i64>(row, 1), col::<i64>(row, 2)) {
                        (Ok(_), Ok(touched)) if expired(uint(touched), self.idle) => {
                            self.remove(id).await.map(|_| None)
                        }
                        (Ok(version), Ok(_)) => col::<&[u8]>(row, 3)
                            .and_then(|bytes| Record::decode(bytes, uint(version)))
                            .map(Some),
                        (Err(e), _) | (_, Err(e)) => Err(e),
                    };
                    return match decoded {
                        Ok(Some(record)) => Ok((Some(token), Some(record))),
                        Ok(None) => Ok((None, None)),
                        Err(e) => {
                            let _ = self.unlock_now(id, &token).await;
                            Err(e)
                        }
                    };
                }
                _ => {}
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(StoreError::Conflict);
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(5));
        }
    }

    async fn unlock_now(&self, id: &str, token: &str) -> Result<(), StoreError> {
        self.execute(
            "UPDATE cellflow_conversations SET lock_token = NULL, lock_until = 0
             WHERE id = $1 AND lock_token = $2",
            &[&id, &token],
        )
        .await
        .map(drop)
    }

    async fn history_now(&self, id: &str) -> Result<Vec<Exchange>, StoreError> {
        let rows = self
            .rows(
                "SELECT exchange FROM cellflow_exchanges WHERE id = $1 ORDER BY version",
                &[&id],
            )
            .await?;
        rows.iter()
            .map(|row| Exchange::decode(col::<&[u8]>(row, 0)?))
            .collect()
    }

    async fn due_now(
        &self,
        now: u64,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        let cutoff = int(now_secs().saturating_sub(self.idle.as_secs()));
        let until = int(now.saturating_add(lease.as_secs()));
        let rows = self
            .rows(
                "WITH d AS MATERIALIZED (
                     SELECT id, deadline FROM cellflow_conversations
                     WHERE deadline <= $1 AND touched >= $4
                     ORDER BY deadline LIMIT $3 FOR UPDATE SKIP LOCKED
                 )
                 UPDATE cellflow_conversations c SET deadline = $2
                 FROM d WHERE c.id = d.id
                 RETURNING c.id, d.deadline",
                &[&int(now), &until, &int(limit as u64), &cutoff],
            )
            .await?;
        let mut due: Vec<(i64, String)> = rows
            .iter()
            .map(|r| Ok((col(r, 1)?, col(r, 0)?)))
            .collect::<Result<_, StoreError>>()?;
        due.sort_unstable();
        Ok(due.into_iter().map(|(_, id)| id).collect())
    }

    async fn claim_now(
        &self,
        now: u64,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        // The oldest live item of each pair, if it may go now; one claimer
        // at a time per item (SKIP LOCKED), and the lease checked again on
        // the row as the update finds it. MATERIALIZED: a subquery with a
        // LIMIT and SKIP LOCKED that the plan ran again could pick other
        // rows, and take more than the limit.
        let rows = self
            .rows(
                "WITH ready AS MATERIALIZED (
                     SELECT i.seq FROM cellflow_outbox i
                     JOIN (SELECT min(seq) AS seq FROM cellflow_outbox WHERE dead_at IS NULL
                           GROUP BY destination, conversation) head ON head.seq = i.seq
                     WHERE i.next_at <= $1 AND i.leased_until <= $1
                     ORDER BY i.seq LIMIT $3
                     FOR UPDATE OF i SKIP LOCKED
                 )
                 UPDATE cellflow_outbox o
                 SET leased_until = $1 + $2, attempts = o.attempts + 1
                 FROM ready
                 WHERE o.seq = ready.seq AND o.leased_until <= $1 AND o.dead_at IS NULL
                 RETURNING o.seq, o.conversation, o.destination, o.body, o.attempts, o.created",
                &[&int(now), &int(lease.as_secs()), &int(limit as u64)],
            )
            .await?;
        let mut claimed: Vec<Delivery> = rows.iter().map(delivery).collect::<Result<_, _>>()?;
        claimed.sort_unstable_by_key(|d| d.id);
        Ok(claimed)
    }

    async fn dead_letters_now(&self, limit: usize) -> Result<Vec<DeadLetter>, StoreError> {
        let rows = self
            .rows(
                "SELECT seq, conversation, destination, body, attempts, created, error, dead_at
                 FROM cellflow_outbox WHERE dead_at IS NOT NULL
                 ORDER BY dead_at, seq LIMIT $1",
                &[&int(limit as u64)],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(DeadLetter {
                    delivery: delivery(r)?,
                    error: col::<Option<String>>(r, 6)?.unwrap_or_default(),
                    failed_at: uint(col(r, 7)?),
                })
            })
            .collect()
    }
}

/// An outbox row's first six columns.
fn delivery(r: &tokio_postgres::Row) -> Result<Delivery, StoreError> {
    Ok(Delivery {
        id: uint(col(r, 0)?),
        conversation: col(r, 1)?,
        destination: col(r, 2)?,
        body: col(r, 3)?,
        attempts: u32::try_from(col::<i32>(r, 4)?).unwrap_or(0),
        created: uint(col(r, 5)?),
    })
}

impl SessionStore for PostgresStore {
    fn load<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<Record>> {
        Box::pin(self.load_now(id))
    }

    fn save<'a>(
        &'a self,
        id: &'a str,
        write: &'a Write<'a>,
        token: Option<&'a str>,
    ) -> StoreFuture<'a, ()> {
        Box::pin(self.save_now(id, write, token))
    }

    fn lock_and_load<'a>(
        &'a self,
        id: &'a str,
        wait: Duration,
    ) -> StoreFuture<'a, (Option<String>, Option<Record>)> {
        Box::pin(self.lock_and_load_now(id, wait))
    }

    fn unlock<'a>(&'a self, id: &'a str, token: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(self.unlock_now(id, token))
    }

    fn history<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Vec<Exchange>> {
        Box::pin(self.history_now(id))
    }

    fn delete<'a>(&'a self, id: &'a str) -> StoreFuture<'a, bool> {
        Box::pin(self.remove(id))
    }

    fn purge(&self, idle: Duration) -> StoreFuture<'_, usize> {
        Box::pin(async move {
            let cutoff = int(now_secs().saturating_sub(idle.as_secs()));
            let rows = self
                .rows(
                    "WITH gone AS (DELETE FROM cellflow_conversations WHERE touched < $1
                                   RETURNING id),
                     history AS (DELETE FROM cellflow_exchanges e USING gone WHERE e.id = gone.id)
                     SELECT count(*) FROM gone",
                    &[&cutoff],
                )
                .await?;
            Ok(usize::try_from(first_count(&rows)?).unwrap_or(usize::MAX))
        })
    }

    fn count(&self) -> StoreFuture<'_, usize> {
        Box::pin(async move {
            let rows = self
                .rows("SELECT count(*) FROM cellflow_conversations", &[])
                .await?;
            Ok(usize::try_from(first_count(&rows)?).unwrap_or(usize::MAX))
        })
    }

    fn name(&self) -> &'static str {
        "postgres"
    }

    fn due(&self, now: u64, lease: Duration, limit: usize) -> StoreFuture<'_, Vec<String>> {
        Box::pin(self.due_now(now, lease, limit))
    }

    fn claim(&self, now: u64, lease: Duration, limit: usize) -> StoreFuture<'_, Vec<Delivery>> {
        Box::pin(self.claim_now(now, lease, limit))
    }

    fn ack(&self, id: u64) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            self.execute(
                "DELETE FROM cellflow_outbox WHERE seq = $1 AND dead_at IS NULL",
                &[&int(id)],
            )
            .await
            .map(drop)
        })
    }

    fn retry<'a>(&'a self, id: u64, next_at: u64, error: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            self.execute(
                "UPDATE cellflow_outbox SET next_at = $2, leased_until = 0, error = $3
                 WHERE seq = $1 AND dead_at IS NULL",
                &[&int(id), &int(next_at), &error],
            )
            .await
            .map(drop)
        })
    }

    fn dead<'a>(&'a self, id: u64, error: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            self.execute(
                "UPDATE cellflow_outbox SET dead_at = $2, leased_until = 0, error = $3
                 WHERE seq = $1 AND dead_at IS NULL",
                &[&int(id), &int(now_secs()), &error],
            )
            .await
            .map(drop)
        })
    }

    fn dead_letters(&self, limit: usize) -> StoreFuture<'_, Vec<DeadLetter>> {
        Box::pin(self.dead_letters_now(limit))
    }

    fn redeliver(&self, id: u64) -> StoreFuture<'_, bool> {
        Box::pin(async move {
            // A new id puts it after everything its pair has queued.
            let moved = self
                .execute(
                    "WITH moved AS (DELETE FROM cellflow_outbox
                                    WHERE seq = $1 AND dead_at IS NOT NULL
                                    RETURNING conversation, destination, body, created)
                     INSERT INTO cellflow_outbox (conversation, destination, body, created, next_at)
                     SELECT conversation, destination, body, created, $2 FROM moved",
                    &[&int(id), &int(now_secs())],
                )
                .await?;
            Ok(moved == 1)
        })
    }
}
