//! Conversations in Redis.

use std::time::Duration;

use super::{
    DEFAULT_MAX_SESSION_BYTES, Exchange, HISTORY_LIMIT, Record, SessionStore, StoreError, Write,
};

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
