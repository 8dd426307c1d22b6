//! Conversations in this process's memory.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use super::{
    DEFAULT_MAX_SESSION_BYTES, Exchange, HISTORY_LIMIT, Record, SessionStore, StoreError, expired,
    now_secs, slot,
};

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
