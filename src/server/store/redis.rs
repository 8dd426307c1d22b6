//! Conversations in Redis.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::{
    DEFAULT_MAX_SESSION_BYTES, DeadLetter, Delivery, Exchange, HISTORY_LIMIT, Record, SessionStore,
    StoreError, StoreFuture, Write, now_secs,
};

/// Conversations in Redis, shared by every `serve` process pointed at it.
/// Records are hashes (`version`, `session`) under `cellflow:session:{ID}`,
/// histories lists under `cellflow:history:{ID}`, each with a time to live
/// of the idle timeout; Lua scripts make compare-version, write, append,
/// deadline and outbox atomic across processes. Deadlines are one sorted
/// set, `cellflow:deadlines`; the outbox keeps each event in a hash
/// `cellflow:outbox:item:N`, a list of ids per (destination,
/// conversation) pair, a sorted set of the pairs by when their oldest
/// event may go (`cellflow:outbox:ready`) and a list of dead letters.
///
/// All processes share one multiplexed connection each (commands from
/// every turn are pipelined on it), which reconnects by itself after Redis
/// comes back.
pub struct RedisStore {
    connection: ConnectionManager,
    scripts: Scripts,
    max_session_bytes: usize,
}

struct Scripts {
    save: redis::Script,
    unlock: redis::Script,
    lock_load: redis::Script,
    due: redis::Script,
    claim: redis::Script,
    ack: redis::Script,
    retry: redis::Script,
    dead: redis::Script,
    dead_letters: redis::Script,
    redeliver: redis::Script,
}

/// How long a Redis command may take unless told otherwise.
pub const DEFAULT_REDIS_TIMEOUT: Duration = Duration::from_secs(1);

const REDIS_PREFIX: &str = "cellflow:session:";
const REDIS_HISTORY_PREFIX: &str = "cellflow:history:";
const REDIS_LOCK_PREFIX: &str = "cellflow:lock:";
const DEADLINES: &str = "cellflow:deadlines";
const OUTBOX_SEQ: &str = "cellflow:outbox:seq";
const OUTBOX_READY: &str = "cellflow:outbox:ready";
const OUTBOX_DEAD: &str = "cellflow:outbox:dead";
const OUTBOX_ITEM: &str = "cellflow:outbox:item:";
const OUTBOX_QUEUE: &str = "cellflow:outbox:queue:";
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

/// KEYS: the record, the history, the lock, the deadlines, the outbox's
/// sequence, its ready set, then one pair queue per event. ARGV: expected
/// version ("" for none), session, ttl ms, exchange, history limit, the
/// lock's token ("" for none), the deadline ("" for none), the
/// conversation id, now, the item key prefix, then destination and body
/// per event. The lock is released only after a write.
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
if ARGV[7] == '' then
  redis.call('ZREM', KEYS[4], ARGV[8])
else
  redis.call('ZADD', KEYS[4], ARGV[7], ARGV[8])
end
for i = 7, #KEYS do
  local seq = redis.call('INCR', KEYS[5])
  local a = 11 + (i - 7) * 2
  redis.call('HSET', ARGV[10] .. seq, 'conversation', ARGV[8], 'destination', ARGV[a],
    'body', ARGV[a + 1], 'created', ARGV[9], 'attempts', 0, 'queue', KEYS[i])
  if redis.call('RPUSH', KEYS[i], seq) == 1 then
    redis.call('ZADD', KEYS[6], ARGV[9], KEYS[i])
  end
end
if ARGV[6] ~= '' and redis.call('GET', KEYS[3]) == ARGV[6] then
  redis.call('DEL', KEYS[3])
end
return 1
";

/// KEYS[1] the deadlines; ARGV: now, the lease's end, limit, the record
/// key prefix. Conversations that expired leave the set.
const REDIS_DUE: &str = r"
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for _, id in ipairs(ids) do
  if redis.call('EXISTS', ARGV[4] .. '{' .. id .. '}') == 1 then
    redis.call('ZADD', KEYS[1], ARGV[2], id)
    out[#out + 1] = id
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
return out
";

/// KEYS[1] the ready set; ARGV: now, lease (s), limit, item prefix. Each
/// ready pair's oldest event, leased.
const REDIS_CLAIM: &str = r"
local queues = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for _, queue in ipairs(queues) do
  local id = redis.call('LINDEX', queue, 0)
  local f = id and redis.call('HMGET', ARGV[4] .. id, 'conversation', 'destination', 'body', 'created')
  if not id then
    redis.call('ZREM', KEYS[1], queue)
  elseif not f[1] then
    redis.call('LPOP', queue)
  else
    local attempts = redis.call('HINCRBY', ARGV[4] .. id, 'attempts', 1)
    redis.call('ZADD', KEYS[1], tonumber(ARGV[1]) + tonumber(ARGV[2]), queue)
    out[#out + 1] = {id, f[1], f[2], f[3], f[4], attempts}
  end
end
return out
";

/// KEYS[1] the ready set, KEYS[2] the dead letters; ARGV: item prefix,
/// id, now. Removes a delivered event; its pair's next may go now.
const REDIS_ACK: &str = r"
local item = ARGV[1] .. ARGV[2]
local queue = redis.call('HGET', item, 'queue')
if not queue or redis.call('LPOS', KEYS[2], ARGV[2]) then return 0 end
local head = redis.call('LINDEX', queue, 0) == ARGV[2]
redis.call('LREM', queue, 1, ARGV[2])
redis.call('DEL', item)
if redis.call('LLEN', queue) == 0 then
  redis.call('ZREM', KEYS[1], queue)
elseif head then
  redis.call('ZADD', KEYS[1], ARGV[3], queue)
end
return 1
";

/// KEYS[1] the ready set, KEYS[2] the dead letters; ARGV: item prefix,
/// id, next attempt, error.
const REDIS_RETRY: &str = r"
local item = ARGV[1] .. ARGV[2]
local queue = redis.call('HGET', item, 'queue')
if not queue or redis.call('LPOS', KEYS[2], ARGV[2]) then return 0 end
redis.call('HSET', item, 'error', ARGV[4])
if redis.call('LINDEX', queue, 0) == ARGV[2] then
  redis.call('ZADD', KEYS[1], ARGV[3], queue)
end
return 1
";

/// KEYS[1] the ready set, KEYS[2] the dead letters; ARGV: item prefix,
/// id, now, error.
const REDIS_DEAD: &str = r"
local item = ARGV[1] .. ARGV[2]
local queue = redis.call('HGET', item, 'queue')
if not queue or redis.call('LPOS', KEYS[2], ARGV[2]) then return 0 end
local head = redis.call('LINDEX', queue, 0) == ARGV[2]
redis.call('LREM', queue, 1, ARGV[2])
redis.call('HSET', item, 'error', ARGV[4], 'failed_at', ARGV[3])
redis.call('RPUSH', KEYS[2], ARGV[2])
if redis.call('LLEN', queue) == 0 then
  redis.call('ZREM', KEYS[1], queue)
elseif head then
  redis.call('ZADD', KEYS[1], ARGV[3], queue)
end
return 1
";

/// KEYS[1] the dead letters; ARGV: item prefix, limit.
const REDIS_DEAD_LETTERS: &str = r"
local ids = redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[2]) - 1)
local out = {}
for _, id in ipairs(ids) do
  local f = redis.call('HMGET', ARGV[1] .. id, 'conversation', 'destination', 'body', 'created',
    'attempts', 'error', 'failed_at')
  if f[1] then
    out[#out + 1] = {id, f[1], f[2], f[3], f[4], f[5], f[6] or '', f[7] or '0'}
  end
end
return out
";

/// KEYS[1] the ready set, KEYS[2] the dead letters; ARGV: item prefix,
/// id, now. Back at the end of its pair's queue.
const REDIS_REDELIVER: &str = r"
if redis.call('LREM', KEYS[2], 1, ARGV[2]) == 0 then return 0 end
local item = ARGV[1] .. ARGV[2]
local queue = redis.call('HGET', item, 'queue')
if not queue then return 0 end
redis.call('HSET', item, 'attempts', 0)
redis.call('HDEL', item, 'error', 'failed_at')
if redis.call('RPUSH', queue, ARGV[2]) == 1 then
  redis.call('ZADD', KEYS[1], ARGV[3], queue)
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

/// A pair's queue; the destination's length keeps any two pairs apart.
fn queue_key(destination: &str, conversation: &str) -> String {
    format!(
        "{OUTBOX_QUEUE}{}:{destination}:{conversation}",
        destination.len()
    )
}

fn redis_error(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

impl RedisStore {
    /// Connects to `url` (e.g. `redis://127.0.0.1:6379/0`), with commands
    /// limited to [`DEFAULT_REDIS_TIMEOUT`].
    ///
    /// # Errors
    /// The URL is invalid or the server does not answer.
    pub async fn open(url: &str) -> Result<RedisStore, StoreError> {
        RedisStore::open_with_timeout(url, DEFAULT_REDIS_TIMEOUT).await
    }

    /// Connects to `url`; connecting and each command fail after
    /// `timeout`. Must run on a tokio runtime, which keeps the connection
    /// (and reconnects it) in the background.
    ///
    /// # Errors
    /// The URL is invalid or the server does not answer.
    pub async fn open_with_timeout(url: &str, timeout: Duration) -> Result<RedisStore, StoreError> {
        let client = redis::Client::open(url).map_err(redis_error)?;
        // One reconnection attempt per failed command: a Redis that is
        // down fails requests at once instead of queueing them behind a
        // schedule of retries.
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(10))
            .set_max_delay(Duration::from_millis(100));
        let connection = client
            .get_connection_manager_with_config(config)
            .await
            .map_err(redis_error)?;
        Ok(RedisStore {
            connection,
            scripts: Scripts {
                save: redis::Script::new(REDIS_SAVE),
                unlock: redis::Script::new(REDIS_UNLOCK),
                lock_load: redis::Script::new(REDIS_LOCK_LOAD),
                due: redis::Script::new(REDIS_DUE),
                claim: redis::Script::new(REDIS_CLAIM),
                ack: redis::Script::new(REDIS_ACK),
                retry: redis::Script::new(REDIS_RETRY),
                dead: redis::Script::new(REDIS_DEAD),
                dead_letters: redis::Script::new(REDIS_DEAD_LETTERS),
                redeliver: redis::Script::new(REDIS_REDELIVER),
            },
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

    /// Runs a script. When the connection was refused (Redis was down and
    /// the connection has not been made again yet) the command was never
    /// sent, so it is sent once more on the connection made meanwhile.
    async fn invoke<T: redis::FromRedisValue>(
        &self,
        invocation: &redis::ScriptInvocation<'_>,
    ) -> Result<T, redis::RedisError> {
        let mut connection = self.connection.clone();
        match invocation.invoke_async(&mut connection).await {
            Err(e) if e.is_connection_refusal() => invocation.invoke_async(&mut connection).await,
            other => other,
        }
    }

    /// Sends a command, as `invoke` does; only for commands that are safe
    /// to send twice.
    async fn query<T: redis::FromRedisValue>(
        &self,
        command: &redis::Cmd,
    ) -> Result<T, redis::RedisError> {
        let mut connection = self.connection.clone();
        match command.query_async(&mut connection).await {
            Err(e) if e.is_connection_refusal() => command.query_async(&mut connection).await,
            other => other,
        }
    }

    /// A version-checked write, releasing the lock `token` names after it.
    async fn write(
        &self,
        id: &str,
        write: &Write<'_>,
        token: Option<&str>,
    ) -> Result<(), StoreError> {
        let bytes = write.record.encode(self.max_session_bytes)?;
        let said = write.exchange.encode()?;
        let (key, history) = redis_keys(id);
        let mut invocation = self.scripts.save.key(key);
        invocation
            .key(history)
            .key(redis_lock_key(id))
            .key(DEADLINES)
            .key(OUTBOX_SEQ)
            .key(OUTBOX_READY);
        for event in write.outbox {
            invocation.key(queue_key(&event.destination, id));
        }
        invocation
            .arg(write.expected.map_or(String::new(), |v| v.to_string()))
            .arg(bytes)
            .arg(millis(write.idle))
            .arg(said)
            .arg(HISTORY_LIMIT)
            .arg(token.unwrap_or(""))
            .arg(write.deadline.map_or(String::new(), |d| d.to_string()))
            .arg(id)
            .arg(now_secs())
            .arg(OUTBOX_ITEM);
        for event in write.outbox {
            invocation.arg(&event.destination).arg(&event.body);
        }
        let written: i64 = self.invoke(&invocation).await.map_err(|e| {
            // Sent but not answered: Redis may still run the script.
            if e.is_timeout() || (e.is_connection_dropped() && !e.is_connection_refusal()) {
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

    async fn lock_and_load_now(
        &self,
        id: &str,
        wait: Duration,
    ) -> Result<(Option<String>, Option<Record>), StoreError> {
        let token = crate::runtime::new_id();
        let mut invocation = self.scripts.lock_load.key(redis_lock_key(id));
        invocation
            .key(redis_keys(id).0)
            .arg(&token)
            .arg(millis(REDIS_LOCK_TTL));
        // Pauses 0.2 ms, then twice as long each time up to 5 ms, for at
        // most `wait`; then a conflict.
        let deadline = tokio::time::Instant::now() + wait;
        let mut pause = Duration::from_micros(200);
        let found = loop {
            let free: Option<(Option<u64>, Option<Vec<u8>>)> =
                self.invoke(&invocation).await.map_err(redis_error)?;
            if let Some(found) = free {
                break found;
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(StoreError::Conflict);
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(5));
        };
        let record = match found {
            (Some(version), Some(bytes)) => match Record::decode(&bytes, version) {
                Ok(record) => Some(record),
                Err(e) => {
                    let _ = self.unlock_now(id, &token).await;
                    return Err(e);
                }
            },
            _ => None,
        };
        Ok((Some(token), record))
    }

    async fn unlock_now(&self, id: &str, token: &str) -> Result<(), StoreError> {
        let mut invocation = self.scripts.unlock.key(redis_lock_key(id));
        invocation.arg(token);
        self.invoke::<i64>(&invocation)
            .await
            .map(drop)
            .map_err(redis_error)
    }

    async fn count_now(&self) -> Result<usize, StoreError> {
        let mut cursor: u64 = 0;
        let mut count = 0;
        loop {
            let mut scan = redis::cmd("SCAN");
            scan.arg(cursor)
                .arg("MATCH")
                .arg(format!("{REDIS_PREFIX}*"))
                .arg("COUNT")
                .arg(1000);
            let (next, keys): (u64, Vec<String>) = self.query(&scan).await.map_err(redis_error)?;
            count += keys.len();
            cursor = next;
            if cursor == 0 {
                return Ok(count);
            }
        }
    }

    /// Runs one of the outbox scripts that take the ready set, the dead
    /// letters, the item prefix and an id, then `rest`.
    async fn outbox_call(
        &self,
        script: &redis::Script,
        id: u64,
        rest: &[&str],
    ) -> Result<i64, StoreError> {
        let mut invocation = script.key(OUTBOX_READY);
        invocation.key(OUTBOX_DEAD).arg(OUTBOX_ITEM).arg(id);
        for arg in rest {
            invocation.arg(*arg);
        }
        self.invoke(&invocation).await.map_err(redis_error)
    }
}

impl SessionStore for RedisStore {
    fn load<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<Record>> {
        Box::pin(async move {
            let mut command = redis::cmd("HMGET");
            command.arg(redis_keys(id).0).arg("version").arg("session");
            let (version, bytes): (Option<u64>, Option<Vec<u8>>) =
                self.query(&command).await.map_err(redis_error)?;
            match (version, bytes) {
                (Some(version), Some(bytes)) => Record::decode(&bytes, version).map(Some),
                _ => Ok(None),
            }
        })
    }

    fn save<'a>(
        &'a self,
        id: &'a str,
        write: &'a Write<'a>,
        token: Option<&'a str>,
    ) -> StoreFuture<'a, ()> {
        Box::pin(self.write(id, write, token))
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
        Box::pin(async move {
            let mut command = redis::cmd("LRANGE");
            command.arg(redis_keys(id).1).arg(0).arg(-1);
            let rows: Vec<Vec<u8>> = self.query(&command).await.map_err(redis_error)?;
            rows.iter().map(|bytes| Exchange::decode(bytes)).collect()
        })
    }

    fn delete<'a>(&'a self, id: &'a str) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let (key, history) = redis_keys(id);
            // The record first: whether it existed is the answer.
            let mut pipe = redis::pipe();
            pipe.atomic()
                .cmd("DEL")
                .arg(key)
                .cmd("DEL")
                .arg(history)
                .cmd("ZREM")
                .arg(DEADLINES)
                .arg(id);
            let mut connection = self.connection.clone();
            let (removed, _, _): (i64, i64, i64) = pipe
                .query_async(&mut connection)
                .await
                .map_err(redis_error)?;
            Ok(removed > 0)
        })
    }

    fn purge(&self, _idle: Duration) -> StoreFuture<'_, usize> {
        // Redis expires records itself (each write sets the time to live).
        Box::pin(std::future::ready(Ok(0)))
    }

    fn count(&self) -> StoreFuture<'_, usize> {
        Box::pin(self.count_now())
    }

    fn name(&self) -> &'static str {
        "redis"
    }

    fn due(&self, now: u64, lease: Duration, limit: usize) -> StoreFuture<'_, Vec<String>> {
        Box::pin(async move {
            let mut invocation = self.scripts.due.key(DEADLINES);
            invocation
                .arg(now)
                .arg(now.saturating_add(lease.as_secs()))
                .arg(limit)
                .arg(REDIS_PREFIX);
            self.invoke(&invocation).await.map_err(redis_error)
        })
    }

    fn claim(&self, now: u64, lease: Duration, limit: usize) -> StoreFuture<'_, Vec<Delivery>> {
        Box::pin(async move {
            let mut invocation = self.scripts.claim.key(OUTBOX_READY);
            invocation
                .arg(now)
                .arg(lease.as_secs())
                .arg(limit)
                .arg(OUTBOX_ITEM);
            let rows: Vec<(u64, String, String, String, u64, u32)> =
                self.invoke(&invocation).await.map_err(redis_error)?;
            Ok(rows
                .into_iter()
                .map(
                    |(id, conversation, destination, body, created, attempts)| Delivery {
                        id,
                        conversation,
                        destination,
                        body,
                        attempts,
                        created,
                    },
                )
                .collect())
        })
    }

    fn ack(&self, id: u64) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            self.outbox_call(&self.scripts.ack, id, &[&now_secs().to_string()])
                .await
                .map(drop)
        })
    }

    fn retry<'a>(&'a self, id: u64, next_at: u64, error: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            self.outbox_call(&self.scripts.retry, id, &[&next_at.to_string(), error])
                .await
                .map(drop)
        })
    }

    fn dead<'a>(&'a self, id: u64, error: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            self.outbox_call(&self.scripts.dead, id, &[&now_secs().to_string(), error])
                .await
                .map(drop)
        })
    }

    fn dead_letters(&self, limit: usize) -> StoreFuture<'_, Vec<DeadLetter>> {
        type Row = (u64, String, String, String, u64, u32, String, u64);
        Box::pin(async move {
            let mut invocation = self.scripts.dead_letters.key(OUTBOX_DEAD);
            invocation.arg(OUTBOX_ITEM).arg(limit);
            let rows: Vec<Row> = self.invoke(&invocation).await.map_err(redis_error)?;
            Ok(rows
                .into_iter()
                .map(
                    |(id, conversation, destination, body, created, attempts, error, failed_at)| {
                        DeadLetter {
                            delivery: Delivery {
                                id,
                                conversation,
                                destination,
                                body,
                                attempts,
                                created,
                            },
                            error,
                            failed_at,
                        }
                    },
                )
                .collect())
        })
    }

    fn redeliver(&self, id: u64) -> StoreFuture<'_, bool> {
        Box::pin(async move {
            self.outbox_call(&self.scripts.redeliver, id, &[&now_secs().to_string()])
                .await
                .map(|n| n == 1)
        })
    }
}
