//! Outbound webhooks (docs/SERVER.md, "Webhooks"): what happens in a
//! conversation that someone outside the channel must hear about — a
//! handoff a human agent has to pick up, an end, an inactivity timeout, a
//! failed turn, messages the bot sends without a user turn, analytics —
//! posted as JSON to the URLs the operator configures.
//!
//! Events are written to the session store's outbox in the same write as
//! the turn that caused them, so a crash or a restart loses none; a
//! delivery worker takes them out in order per (webhook, conversation),
//! signs each body with the webhook's secret, and retries with growing
//! pauses until the receiver answers 2xx or the attempts run out, when the
//! event moves to the dead-letter list the admin API reads. A receiver may
//! therefore see an event twice (after a timeout that still delivered), and
//! must deduplicate by the `id` in the body.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What a webhook can be told about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Topic {
    /// The conversation was handed to a person (queue, reason, transcript).
    Handoff,
    /// The conversation ended.
    End,
    /// It was idle past its inactivity timeout.
    Timeout,
    /// A turn failed (a script error, the step limit).
    Error,
    /// The bot spoke without a user turn: a timeout flow, a proactive event.
    Message,
    /// Analytics events (automatic ones and `track` cells).
    Analytics,
}

impl Topic {
    /// Every topic but analytics: what a webhook gets unless it lists its
    /// own.
    pub const DEFAULT: [Topic; 5] = [
        Topic::Handoff,
        Topic::End,
        Topic::Timeout,
        Topic::Error,
        Topic::Message,
    ];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Topic::Handoff => "handoff",
            Topic::End => "end",
            Topic::Timeout => "timeout",
            Topic::Error => "error",
            Topic::Message => "message",
            Topic::Analytics => "analytics",
        }
    }
}

/// One configured receiver.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Webhook {
    /// Names the receiver in the outbox, logs and metrics; unique.
    pub name: String,
    /// Where events are posted (http or https).
    pub url: String,
    /// The key the `Cellflow-Signature` header is computed with; without
    /// one, bodies go unsigned.
    #[serde(default, skip_serializing)]
    pub secret: Option<String>,
    /// What it is told about (default: everything but analytics).
    #[serde(default = "default_topics")]
    pub events: Vec<Topic>,
    /// Longest wait for one delivery's answer, in milliseconds.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Deliveries tried before an event is dead-lettered.
    #[serde(default = "default_attempts")]
    pub max_attempts: u32,
}

fn default_topics() -> Vec<Topic> {
    Topic::DEFAULT.to_vec()
}
fn default_timeout_ms() -> u64 {
    5_000
}
fn default_attempts() -> u32 {
    10
}

impl Webhook {
    /// Whether it wants `topic`.
    #[must_use]
    pub fn wants(&self, topic: Topic) -> bool {
        self.events.contains(&topic)
    }

    /// Refuses a configuration that could never deliver, naming the
    /// webhook and the field.
    ///
    /// # Errors
    /// A URL that is not http(s), an empty name, a timeout outside
    /// 1 ms–5 min, or no attempts.
    pub fn check(&self) -> Result<(), String> {
        let name = &self.name;
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(format!(
                "webhook name `{name}`: use letters, digits, `-` and `_`"
            ));
        }
        match url::Url::parse(&self.url) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {}
            _ => {
                return Err(format!(
                    "webhook `{name}`: url `{}` is not an http or https URL",
                    self.url
                ));
            }
        }
        if !(1..=300_000).contains(&self.timeout_ms) {
            return Err(format!(
                "webhook `{name}`: timeout_ms {} must be from 1 to 300000",
                self.timeout_ms
            ));
        }
        if !(1..=100).contains(&self.max_attempts) {
            return Err(format!(
                "webhook `{name}`: max_attempts {} must be from 1 to 100",
                self.max_attempts
            ));
        }
        Ok(())
    }
}

/// The body a webhook receives.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Notice {
    /// Unique per event (not per attempt): receivers deduplicate by it.
    pub id: String,
    #[serde(rename = "type")]
    pub topic: Topic,
    /// The conversation's session code.
    pub conversation: String,
    /// When the event happened (RFC 3339, UTC).
    pub at: String,
    pub bot: String,
    /// The bot's version (hex), as `/healthz` reports it.
    pub version: String,
    /// What happened: per topic (docs/SERVER.md).
    pub data: Value,
}

impl Notice {
    /// A new event about `conversation`, stamped now.
    #[must_use]
    pub fn new(
        topic: Topic,
        conversation: &str,
        bot: &crate::compile::Program,
        data: Value,
    ) -> Notice {
        Notice {
            id: uuid::Uuid::new_v4().to_string(),
            topic,
            conversation: conversation.to_owned(),
            at: jiff::Timestamp::now().to_string(),
            bot: bot.name.clone(),
            version: format!("{:x}", bot.version),
            data,
        }
    }
}

/// The `Cellflow-Signature` header's value for `body` sent at unix second
/// `timestamp`: `t=TIMESTAMP,v1=HEX`, HEX being HMAC-SHA256 with the
/// secret over `TIMESTAMP.BODY`. The timestamp inside the signed text lets
/// a receiver refuse old bodies replayed at it.
#[must_use]
pub fn signature(secret: &str, timestamp: u64, body: &[u8]) -> String {
    use std::fmt::Write as _;
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let mut context = ring::hmac::Context::with_key(&key);
    context.update(timestamp.to_string().as_bytes());
    context.update(b".");
    context.update(body);
    let tag = context.sign();
    let mut hex = String::with_capacity(64);
    for byte in tag.as_ref() {
        let _ = write!(hex, "{byte:02x}");
    }
    format!("t={timestamp},v1={hex}")
}

/// How a delivery attempt went.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// The receiver answered 2xx.
    Delivered,
    /// Anything else: a status, a timeout, a refused connection; the
    /// reason, for the dead-letter list.
    Failed(String),
}

/// Posts one event body to a webhook. Blocking: run it off the async
/// workers. Redirects are not followed (a receiver that moved must be
/// configured again), and only a short excerpt of an error answer is read.
fn post(agent: &ureq::Agent, hook: &Webhook, delivery: &str, topic: Topic, body: &[u8]) -> Outcome {
    let mut request = ureq::http::Request::builder()
        .method("POST")
        .uri(&hook.url)
        .header("content-type", "application/json")
        .header(
            "user-agent",
            concat!("cellflow/", env!("CARGO_PKG_VERSION")),
        )
        .header("cellflow-event", topic.as_str())
        .header("cellflow-delivery", delivery);
    if let Some(secret) = &hook.secret {
        let now = crate::server::store::now_secs();
        request = request.header("cellflow-signature", signature(secret, now, body));
    }
    let request = match request.body(body.to_vec()) {
        Ok(request) => request,
        Err(e) => return Outcome::Failed(format!("the request cannot be built: {e}")),
    };
    let config = agent
        .configure_request(request)
        .timeout_global(Some(Duration::from_millis(hook.timeout_ms)))
        .http_status_as_error(false)
        .max_redirects(0)
        .build();
    match agent.run(config) {
        Ok(mut response) => {
            let status = response.status();
            if status.is_success() {
                return Outcome::Delivered;
            }
            let excerpt = response
                .body_mut()
                .with_config()
                .limit(512)
                .read_to_string()
                .unwrap_or_default();
            let excerpt: String = excerpt.chars().take(200).collect();
            Outcome::Failed(if excerpt.trim().is_empty() {
                format!("the receiver answered {status}")
            } else {
                format!("the receiver answered {status}: {}", excerpt.trim())
            })
        }
        Err(ureq::Error::Timeout(_)) => Outcome::Failed(format!(
            "the receiver did not answer within {} ms",
            hook.timeout_ms
        )),
        Err(e) => Outcome::Failed(format!("the call failed: {e}")),
    }
}

/// The pause before attempt `attempt + 1` after `attempt` failures: 1 s,
/// doubling, at most 10 minutes, with up to a quarter more at random so
/// receivers that come back are not hit by every event at once.
#[must_use]
pub(crate) fn backoff(attempt: u32) -> Duration {
    let base = Duration::from_secs(1u64 << attempt.saturating_sub(1).min(10))
        .min(Duration::from_secs(600));
    let mut byte = [0u8; 1];
    let _ = getrandom::fill(&mut byte);
    base + base * u32::from(byte[0]) / 1024
}

/// Deliveries under way at once, across webhooks.
const CONCURRENCY: usize = 32;
/// Outbox items claimed per round.
const BATCH: usize = 256;

/// Delivers the outbox, in every process: claims what is due (the store
/// hands each item to one process, leased, only the oldest of its webhook
/// and conversation), posts each on the blocking pool (at most
/// [`CONCURRENCY`] at once), and acknowledges, schedules a retry, or
/// dead-letters it. Woken when a turn queues events or a delivery ends;
/// otherwise it looks every second (retries come due).
pub(crate) fn spawn_delivery(state: &std::sync::Arc<super::State>) {
    use std::sync::Arc;
    let hooks: Arc<std::collections::HashMap<String, Webhook>> = Arc::new(
        state
            .config
            .webhooks
            .iter()
            .map(|h| (h.name.clone(), h.clone()))
            .collect(),
    );
    if hooks.is_empty() {
        return;
    }
    // A claim outlives the slowest receiver's timeout, so an item is not
    // handed out again while its delivery still runs.
    let longest = hooks.values().map(|h| h.timeout_ms).max().unwrap_or(5_000);
    let lease = Duration::from_millis(longest) + Duration::from_secs(60);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let slots = Arc::new(tokio::sync::Semaphore::new(CONCURRENCY));
    let state = Arc::clone(state);
    tokio::spawn(async move {
        loop {
            let claimed = match state
                .store
                .claim(super::store::now_secs(), lease, BATCH)
                .await
            {
                Ok(claimed) => claimed,
                Err(e) => {
                    tracing::warn!(error = %e, "reading the webhook outbox failed");
                    Vec::new()
                }
            };
            if claimed.is_empty() {
                let _ = tokio::time::timeout(Duration::from_secs(1), state.outbox_ready.notified())
                    .await;
                continue;
            }
            for item in claimed {
                let Ok(permit) = Arc::clone(&slots).acquire_owned().await else {
                    return;
                };
                let state = Arc::clone(&state);
                let hooks = Arc::clone(&hooks);
                let agent = agent.clone();
                tokio::spawn(async move {
                    deliver(&state, &hooks, agent, item).await;
                    drop(permit);
                    state.outbox_ready.notify_one();
                });
            }
        }
    });
}

/// One attempt at one item, and what the store is told of it.
async fn deliver(
    state: &super::State,
    hooks: &std::collections::HashMap<String, Webhook>,
    agent: ureq::Agent,
    item: super::store::Delivery,
) {
    let store = &state.store;
    let Some(hook) = hooks.get(&item.destination).cloned() else {
        let why = format!(
            "no webhook named `{}` is configured any more",
            item.destination
        );
        let _ = store.dead(item.id, &why).await;
        state.metrics.delivery(&item.destination, "dead");
        return;
    };
    // The body was written by this server; an unreadable one (another
    // version's) is still sent, as what it says it is not known.
    let (topic, delivery_id) = serde_json::from_str::<Notice>(&item.body)
        .map_or((Topic::Error, String::new()), |n| (n.topic, n.id));
    let body = item.body.clone();
    let name = hook.name.clone();
    let outcome = tokio::task::spawn_blocking(move || {
        post(&agent, &hook, &delivery_id, topic, body.as_bytes())
    })
    .await
    .unwrap_or_else(|e| Outcome::Failed(format!("the delivery did not finish: {e}")));
    let max_attempts = hooks.get(&name).map_or(1, |h| h.max_attempts);
    let result = match outcome {
        Outcome::Delivered => {
            state.metrics.delivery(&name, "delivered");
            store.ack(item.id).await
        }
        Outcome::Failed(why) if item.attempts >= max_attempts => {
            state.metrics.delivery(&name, "dead");
            tracing::warn!(
                webhook = %name,
                conversation = %item.conversation,
                attempts = item.attempts,
                error = %why,
                "a webhook event was given up on (dead letter)"
            );
            store.dead(item.id, &why).await
        }
        Outcome::Failed(why) => {
            state.metrics.delivery(&name, "failed");
            let pause = backoff(item.attempts);
            tracing::info!(
                webhook = %name,
                conversation = %item.conversation,
                attempts = item.attempts,
                retry_in_secs = pause.as_secs(),
                error = %why,
                "a webhook delivery failed; it will be retried"
            );
            store
                .retry(
                    item.id,
                    super::store::now_secs() + pause.as_secs().max(1),
                    &why,
                )
                .await
        }
    };
    if let Err(e) = result {
        // The lease runs out and the item is delivered again: at least once.
        tracing::warn!(webhook = %name, error = %e, "recording a webhook delivery failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_is_hmac_sha256_over_the_timestamp_and_the_body() {
        // HMAC-SHA256("key", "1700000000.{}"), computed independently
        // (Python's hmac module).
        assert_eq!(
            signature("key", 1_700_000_000, b"{}"),
            "t=1700000000,v1=9d713ed406bb7076d4123f0dc2c39d2df5c654ed4b0cd56b52c8b4c940bd63ae"
        );
    }

    #[test]
    fn pauses_grow_to_ten_minutes() {
        assert!(backoff(1) >= Duration::from_secs(1) && backoff(1) < Duration::from_millis(1_250));
        assert!(backoff(3) >= Duration::from_secs(4));
        assert!(backoff(40) <= Duration::from_secs(750));
    }

    #[test]
    fn a_webhook_that_could_never_deliver_is_refused() {
        let good = Webhook {
            name: "crm".into(),
            url: "https://crm.example.com/hooks".into(),
            secret: None,
            events: default_topics(),
            timeout_ms: 5_000,
            max_attempts: 10,
        };
        assert_eq!(good.check(), Ok(()));
        let ftp = Webhook {
            url: "ftp://x".into(),
            ..good.clone()
        };
        assert!(ftp.check().unwrap_err().contains("not an http"));
        let zero = Webhook {
            max_attempts: 0,
            ..good
        };
        assert!(zero.check().unwrap_err().contains("max_attempts"));
    }
}
