//! Conversations in this process's memory.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use super::{
    DEFAULT_MAX_SESSION_BYTES, DeadLetter, Delivery, Exchange, HISTORY_LIMIT, Record, SessionStore,
    StoreError, StoreFuture, Write, expired, now_secs, ready, slot,
};

/// Conversations in this process's memory, as encoded bytes (compact, and
/// the same format the durable stores keep). Lost on restart, outbox
/// included.
pub struct MemoryStore {
    shards: Vec<Mutex<HashMap<Box<str>, Stored>>>,
    outbox: Mutex<Outbox>,
    idle: Duration,
    max_session_bytes: usize,
}

struct Stored {
    /// The session, as JSON.
    bytes: Box<[u8]>,
    /// The exchanges, each as JSON, oldest first.
    history: VecDeque<Box<[u8]>>,
    version: u64,
    touched: u64,
    deadline: Option<u64>,
}

/// Webhook events waiting for delivery, by id (ids grow, so the map's
/// order is the order they were queued in), and the dead letters.
#[derive(Default)]
struct Outbox {
    next_id: u64,
    items: BTreeMap<u64, Item>,
    dead: Vec<DeadLetter>,
}

struct Item {
    delivery: Delivery,
    next_at: u64,
    leased_until: u64,
}

impl Outbox {
    fn push(&mut self, conversation: &str, destination: &str, body: &str, now: u64) {
        self.next_id += 1;
        self.items.insert(
            self.next_id,
            Item {
                delivery: Delivery {
                    id: self.next_id,
                    conversation: conversation.to_owned(),
                    destination: destination.to_owned(),
                    body: body.to_owned(),
                    attempts: 0,
                    created: now,
                },
                next_at: now,
                leased_until: 0,
            },
        );
    }
}

fn poisoned() -> StoreError {
    StoreError::Unavailable("a memory shard is poisoned".into())
}

impl MemoryStore {
    /// Records idle longer than `idle` read as missing.
    #[must_use]
    pub fn new(idle: Duration) -> MemoryStore {
        MemoryStore {
            shards: (0..64).map(|_| Mutex::new(HashMap::new())).collect(),
            outbox: Mutex::new(Outbox::default()),
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
            .map_err(|_| poisoned())
    }

    fn outbox(&self) -> Result<std::sync::MutexGuard<'_, Outbox>, StoreError> {
        self.outbox.lock().map_err(|_| poisoned())
    }

    fn load_now(&self, id: &str) -> Result<Option<Record>, StoreError> {
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

    fn save_now(&self, id: &str, write: &Write<'_>) -> Result<(), StoreError> {
        let bytes = write
            .record
            .encode(self.max_session_bytes)?
            .into_boxed_slice();
        let said = write.exchange.encode()?.into_boxed_slice();
        let now = now_secs();
        let mut shard = self.shard(id)?;
        // The outbox is locked before the write is applied, so a poisoned
        // outbox cannot leave a turn written without its events.
        let mut outbox = if write.outbox.is_empty() {
            None
        } else {
            Some(self.outbox()?)
        };
        match (shard.get_mut(id), write.expected) {
            (None, None) => {
                shard.insert(
                    id.into(),
                    Stored {
                        bytes,
                        history: std::iter::once(said).collect(),
                        version: 1,
                        touched: now,
                        deadline: write.deadline,
                    },
                );
            }
            (Some(stored), Some(version)) if stored.version == version => {
                stored.bytes = bytes;
                stored.version = version + 1;
                stored.touched = now;
                stored.deadline = write.deadline;
                if stored.history.len() >= HISTORY_LIMIT {
                    stored.history.pop_front();
                }
                stored.history.push_back(said);
            }
            _ => return Err(StoreError::Conflict),
        }
        if let Some(outbox) = &mut outbox {
            for event in write.outbox {
                outbox.push(id, &event.destination, &event.body, now);
            }
        }
        Ok(())
    }

    fn history_now(&self, id: &str) -> Result<Vec<Exchange>, StoreError> {
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

    fn purge_now(&self, idle: Duration) -> Result<usize, StoreError> {
        let mut removed = 0;
        for shard in &self.shards {
            let mut shard = shard.lock().map_err(|_| poisoned())?;
            let before = shard.len();
            shard.retain(|_, s| !expired(s.touched, idle));
            removed += before - shard.len();
        }
        Ok(removed)
    }

    fn count_now(&self) -> Result<usize, StoreError> {
        let mut count = 0;
        for shard in &self.shards {
            count += shard.lock().map_err(|_| poisoned())?.len();
        }
        Ok(count)
    }

    /// Scans every conversation: the memory store is for one process and
    /// development, where that is a few milliseconds at most.
    fn due_now(&self, now: u64, lease: Duration, limit: usize) -> Result<Vec<String>, StoreError> {
        let mut found: Vec<(u64, String)> = Vec::new();
        for shard in &self.shards {
            let shard = shard.lock().map_err(|_| poisoned())?;
            found.extend(shard.iter().filter_map(|(id, s)| {
                s.deadline
                    .filter(|&d| d <= now && !expired(s.touched, self.idle))
                    .map(|d| (d, id.to_string()))
            }));
        }
        found.sort_unstable();
        found.truncate(limit);
        let until = now.saturating_add(lease.as_secs());
        for (_, id) in &found {
            if let Some(stored) = self.shard(id)?.get_mut(id.as_str()) {
                stored.deadline = Some(until);
            }
        }
        Ok(found.into_iter().map(|(_, id)| id).collect())
    }

    fn claim_now(
        &self,
        now: u64,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        let mut outbox = self.outbox()?;
        let mut seen: HashSet<(&str, &str)> = HashSet::new();
        let mut heads = Vec::new();
        for (&id, item) in &outbox.items {
            let d = &item.delivery;
            // Only the first item of a pair counts, claimable or not.
            if seen.insert((&d.destination, &d.conversation))
                && item.next_at <= now
                && item.leased_until <= now
            {
                heads.push(id);
                if heads.len() == limit {
                    break;
                }
            }
        }
        let until = now.saturating_add(lease.as_secs());
        Ok(heads
            .into_iter()
            .filter_map(|id| {
                let item = outbox.items.get_mut(&id)?;
                item.leased_until = until;
                item.delivery.attempts = item.delivery.attempts.saturating_add(1);
                Some(item.delivery.clone())
            })
            .collect())
    }

    fn dead_now(&self, id: u64, error: &str) -> Result<(), StoreError> {
        let mut outbox = self.outbox()?;
        if let Some(item) = outbox.items.remove(&id) {
            outbox.dead.push(DeadLetter {
                delivery: item.delivery,
                error: error.to_owned(),
                failed_at: now_secs(),
            });
        }
        Ok(())
    }

    fn redeliver_now(&self, id: u64) -> Result<bool, StoreError> {
        let mut outbox = self.outbox()?;
        let Some(at) = outbox.dead.iter().position(|d| d.delivery.id == id) else {
            return Ok(false);
        };
        let letter = outbox.dead.remove(at);
        let d = letter.delivery;
        outbox.push(&d.conversation, &d.destination, &d.body, now_secs());
        if let Some(item) = outbox.items.values_mut().next_back() {
            item.delivery.created = d.created;
        }
        Ok(true)
    }
}

impl SessionStore for MemoryStore {
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
        ready(self.shard(id).map(|mut shard| shard.remove(id).is_some()))
    }

    fn purge(&self, idle: Duration) -> StoreFuture<'_, usize> {
        ready(self.purge_now(idle))
    }

    fn count(&self) -> StoreFuture<'_, usize> {
        ready(self.count_now())
    }

    fn name(&self) -> &'static str {
        "memory"
    }

    fn due(&self, now: u64, lease: Duration, limit: usize) -> StoreFuture<'_, Vec<String>> {
        ready(self.due_now(now, lease, limit))
    }

    fn claim(&self, now: u64, lease: Duration, limit: usize) -> StoreFuture<'_, Vec<Delivery>> {
        ready(self.claim_now(now, lease, limit))
    }

    fn ack(&self, id: u64) -> StoreFuture<'_, ()> {
        ready(self.outbox().map(|mut outbox| {
            outbox.items.remove(&id);
        }))
    }

    /// The error is not kept: nothing in this process reads it back.
    fn retry<'a>(&'a self, id: u64, next_at: u64, _error: &'a str) -> StoreFuture<'a, ()> {
        ready(self.outbox().map(|mut outbox| {
            if let Some(item) = outbox.items.get_mut(&id) {
                item.next_at = next_at;
                item.leased_until = 0;
            }
        }))
    }

    fn dead<'a>(&'a self, id: u64, error: &'a str) -> StoreFuture<'a, ()> {
        ready(self.dead_now(id, error))
    }

    fn dead_letters(&self, limit: usize) -> StoreFuture<'_, Vec<DeadLetter>> {
        ready(
            self.outbox()
                .map(|outbox| outbox.dead.iter().take(limit).cloned().collect()),
        )
    }

    fn redeliver(&self, id: u64) -> StoreFuture<'_, bool> {
        ready(self.redeliver_now(id))
    }
}
