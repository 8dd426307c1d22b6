//! Every write to a conversation, whichever route or task asks for it: a
//! turn (a user's message, a proactive event, an inactivity timeout), a
//! host's context set between turns, and a channel's feedback.
//!
//! Each takes the conversation's lock stripe in this process and, on the
//! stores several processes share, the conversation's lock in the store;
//! reads the record; changes a copy; and writes it conditionally on the
//! version read, retrying on a conflict. What others must hear of a turn —
//! webhook events, the inactivity deadline — is written in that same write,
//! so a crash can lose neither the turn nor what it announced; analytics
//! go to their sinks once the write succeeded.

use std::sync::Arc;
use std::time::Instant;

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::State;
use super::api::ApiError;
use super::store::{Exchange, Outgoing, Record, StoreError, Write, now_secs};
use super::webhooks::{Notice, Topic};
use crate::runtime::{Bot, Event, Request, Response, Secrets, Session, TurnError};

/// Attempts at a write when another writer keeps winning the race.
const ATTEMPTS: usize = 5;
/// How long a write waits for another process's write of the same
/// conversation.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Which conversation a turn is for.
#[derive(Clone, Debug)]
pub(crate) enum Open {
    /// A new one, under a new random id.
    New,
    /// One that exists (404 otherwise).
    Existing(String),
    /// The one under this id, started if there is none: a client that
    /// names conversations itself (a phone number, a CRM id).
    Ensure(String),
}

/// Who caused a turn: a user's message, or the bot on its own (what it
/// says then reaches the channel through webhooks).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    User,
    /// A host's event (`POST …/events`).
    Proactive,
    /// The inactivity timeout.
    Timeout,
}

/// A turn that was stored.
pub(crate) struct Turned {
    pub(crate) id: String,
    /// Whether this turn started the conversation.
    pub(crate) created: bool,
    /// The conversation's turn number after it.
    pub(crate) turn: u64,
    pub(crate) response: Response,
}

/// Releases a conversation's store lock when dropped: on every path but
/// the write that released it, including a turn abandoned mid-await (its
/// client went away).
struct Unlock {
    store: Arc<dyn super::SessionStore>,
    id: String,
    /// `None` once the store released it with the write.
    token: Option<String>,
}

impl Drop for Unlock {
    fn drop(&mut self) {
        // If this fails, or there is no runtime left to run it on, the
        // lock expires on its own.
        if let Some(token) = self.token.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            let store = Arc::clone(&self.store);
            let id = std::mem::take(&mut self.id);
            runtime.spawn(async move {
                let _ = store.unlock(&id, &token).await;
            });
        }
    }
}

/// Runs a turn on `record`'s session: right here when it is microseconds
/// of CPU, on the blocking pool when the bot has `service` cells (their
/// HTTP calls block the thread they run on).
async fn run_turn(
    bot: &Arc<Bot>,
    mut record: Record,
    request: Request,
) -> Result<(Record, Response), ApiError> {
    if !bot.program().calls_services {
        let response = bot.turn(&mut record.session, request);
        return Ok((record, response.map_err(turn_error)?));
    }
    let bot = Arc::clone(bot);
    let (record, response) = tokio::task::spawn_blocking(move || {
        let response = bot.turn(&mut record.session, request);
        (record, response)
    })
    .await
    .map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("the turn did not finish: {e}"),
        )
    })?;
    Ok((record, response.map_err(turn_error)?))
}

pub(crate) fn turn_error(e: TurnError) -> ApiError {
    match e {
        TurnError::UnknownEvent(_) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_event",
            e.to_string(),
        ),
        TurnError::TextTooLong { .. } => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "text_too_long",
            e.to_string(),
        ),
        TurnError::ValueTooDeep { .. } => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "context_too_deep",
            e.to_string(),
        ),
        TurnError::SessionMismatch(_) => ApiError::corrupt(&e),
        TurnError::ReadOnly { .. } => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "read_only", e.to_string())
        }
    }
}

/// The conversation's lock, taken and read: `None` when there is no record.
async fn lock_and_read(
    state: &State,
    id: &str,
    lock: &mut Unlock,
) -> Result<Option<Record>, ApiError> {
    match state.store.lock_and_load(id, LOCK_WAIT).await {
        Ok((token, record)) => {
            lock.token = token;
            state.metrics.store_op("load", "ok");
            Ok(record)
        }
        Err(StoreError::Conflict) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "busy",
            "another turn of this conversation is still running; try again",
        )),
        Err(e) => {
            state.metrics.store_op("load", "error");
            Err(ApiError::store(&e))
        }
    }
}

async fn read_again(state: &State, id: &str) -> Result<Option<Record>, ApiError> {
    match state.store.load(id).await {
        Ok(record) => {
            state.metrics.store_op("load", "ok");
            Ok(record)
        }
        Err(e) => {
            state.metrics.store_op("load", "error");
            Err(ApiError::store(&e))
        }
    }
}

fn kept_changing() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "busy",
        "the conversation kept changing under this turn; try again",
    )
}

/// When the conversation's inactivity timeout fires, if it has one now.
fn deadline(bot: &Bot, session: &Session) -> Option<u64> {
    let after = bot.inactivity(session)?;
    Some(session.last_activity.saturating_add(after.as_secs().max(1)))
}

/// One turn, stored. See the module head.
pub(crate) async fn converse(
    state: &State,
    bot: &Arc<Bot>,
    open: Open,
    request: Request,
    origin: Origin,
) -> Result<Turned, ApiError> {
    let started = Instant::now();
    let (id, lookup, may_start) = match open {
        Open::New => (bot.new_session().id, false, true),
        Open::Existing(id) => (id, true, false),
        Open::Ensure(id) => (id, true, true),
    };
    let _turns_of_this_conversation = state.stripe(&id).await;
    let mut lock = Unlock {
        store: Arc::clone(&state.store),
        id: id.clone(),
        token: None,
    };
    let mut read = if lookup {
        Some(lock_and_read(state, &id, &mut lock).await?)
    } else {
        None
    };
    let most_vars = state.config.max_session_vars;
    for _ in 0..ATTEMPTS {
        let stored = match read.take() {
            Some(record) => record,
            None if lookup => read_again(state, &id).await?,
            None => None,
        };
        let created = stored.is_none();
        if created && !may_start {
            return Err(ApiError::not_found(&id));
        }
        let current = stored.unwrap_or_else(|| Record::new(Session::new(id.clone())));
        let secret = bot.awaits_secret(&current.session);
        let expected = (!created).then_some(current.version);
        // The turn changes a copy; the store keeps the old record until the
        // write succeeds.
        let (next, response) = run_turn(bot, current, request.clone()).await?;
        // Checked before anything is written: a conversation over the limit
        // never reaches the store (the turn leaves it as it was).
        if next.session.vars.len() > most_vars {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "session_too_large",
                format!(
                    "the turn would leave {} variables in the conversation; the limit is \
                     {most_vars} (--max-session-vars); the turn was not stored",
                    next.session.vars.len()
                ),
            ));
        }
        // History is for operators, not the user: masked values (and
        // copies of them) are stored as the mask, wherever they appear.
        let secrets = bot.secrets(&next.session);
        let exchange = exchange(&next.session, &request, &response, &secrets, secret);
        let outbox = outbox(state, bot, &id, origin, &response, &exchange, &secrets).await?;
        let write = Write {
            record: &next,
            expected,
            exchange: &exchange,
            idle: state.config.idle,
            deadline: deadline(bot, &next.session),
            outbox: &outbox,
        };
        match state.store.save(&id, &write, lock.token.as_deref()).await {
            Ok(()) => {
                lock.token = None;
                state.metrics.store_op("save", "ok");
                if !outbox.is_empty() {
                    state.outbox_ready.notify_one();
                }
                let failed = response
                    .events
                    .iter()
                    .any(|e| matches!(e, Event::Error { .. }));
                state.metrics.turn(
                    if failed { "error" } else { "ok" },
                    started.elapsed().as_secs_f64(),
                );
                if !response.tracked.is_empty() {
                    state.metrics.tracked(&response.tracked);
                    if !state.events.record(&id, bot.program(), &response.tracked) {
                        state.metrics.events_dropped.inc();
                        tracing::warn!(
                            conversation = %id,
                            "the analytics events file is behind; events were dropped"
                        );
                    }
                }
                log_turn(&id, &next.session, &response, &secrets, started);
                state.observe(&id, &request, &response, secret);
                return Ok(Turned {
                    id,
                    created,
                    turn: next.session.turn,
                    response,
                });
            }
            Err(StoreError::Conflict) => {
                // Another process wrote this conversation (or started it
                // under this id): run the turn again on what it wrote.
                state.metrics.store_op("save", "conflict");
            }
            Err(e) => {
                state.metrics.store_op("save", "error");
                return Err(ApiError::store(&e));
            }
        }
    }
    Err(kept_changing())
}

/// The history entry of a turn: what the user sent (the mask when it
/// answered a masked input) and what the bot answered, with every masked
/// value redacted; pauses (typing, delays) are not kept.
fn exchange(
    session: &Session,
    request: &Request,
    response: &Response,
    secrets: &Secrets,
    secret: bool,
) -> Exchange {
    Exchange {
        turn: session.turn,
        at: now_secs(),
        text: request.text.as_ref().map(|t| {
            if secret {
                crate::runtime::MASK.to_owned()
            } else {
                secrets.redact(t).into_owned()
            }
        }),
        event: request.event.clone(),
        feedback: None,
        answers: response
            .answers
            .iter()
            .filter(|a| !a.is_pause())
            .map(|a| {
                if a.mask {
                    return arcstr::ArcStr::from(crate::runtime::MASK);
                }
                match secrets.redact(&a.text) {
                    std::borrow::Cow::Borrowed(_) => a.text.clone(),
                    std::borrow::Cow::Owned(clean) => clean.into(),
                }
            })
            .collect(),
    }
}

/// The answers of a turn as a webhook tells them: as the channel would
/// get them, but with masked answers and masked values as the mask (the
/// outbox is storage, and a masked answer is never stored).
fn answers_for_webhook(response: &Response, secrets: &Secrets) -> Value {
    response
        .answers
        .iter()
        .map(|answer| {
            let mut value = serde_json::to_value(answer).unwrap_or(Value::Null);
            if answer.mask {
                value["text"] = Value::from(crate::runtime::MASK);
            }
            secrets.redact_value(&mut value);
            value
        })
        .collect()
}

/// The webhook events a turn causes, one per receiver that wants each.
async fn outbox(
    state: &State,
    bot: &Bot,
    id: &str,
    origin: Origin,
    response: &Response,
    exchange: &Exchange,
    secrets: &Secrets,
) -> Result<Vec<Outgoing>, ApiError> {
    let hooks = &state.config.webhooks;
    if hooks.is_empty() {
        return Ok(Vec::new());
    }
    let wanted = |topic: Topic| hooks.iter().any(|h| h.wants(topic));
    let program = bot.program();
    let mut events: Vec<(Topic, Value)> = Vec::new();
    for event in &response.events {
        match event {
            Event::Handoff { queue, reason } if wanted(Topic::Handoff) => {
                // The person taking over reads the conversation so far.
                let mut transcript = state
                    .store
                    .history(id)
                    .await
                    .map_err(|e| ApiError::store(&e))?;
                transcript.push(exchange.clone());
                events.push((
                    Topic::Handoff,
                    json!({"queue": queue, "reason": reason, "transcript": transcript}),
                ));
            }
            Event::End if wanted(Topic::End) => {
                let reason = if origin == Origin::Timeout {
                    "timeout"
                } else {
                    "end"
                };
                events.push((Topic::End, json!({"reason": reason})));
            }
            Event::Error { message, at } if wanted(Topic::Error) => events.push((
                Topic::Error,
                json!({"kind": "turn", "message": secrets.redact(message), "at": at}),
            )),
            Event::ServiceFailed {
                cell,
                status,
                reason,
                at,
            } if wanted(Topic::Error) => events.push((
                Topic::Error,
                json!({
                    "kind": "service",
                    "cell": cell,
                    "status": status,
                    "message": secrets.redact(reason),
                    "at": at,
                }),
            )),
            _ => {}
        }
    }
    if origin == Origin::Timeout && wanted(Topic::Timeout) {
        events.push((Topic::Timeout, json!({"closed": response.ended})));
    }
    if origin != Origin::User && !response.answers.is_empty() && wanted(Topic::Message) {
        events.push((
            Topic::Message,
            json!({
                "answers": answers_for_webhook(response, secrets),
                "awaiting": response.awaiting,
            }),
        ));
    }
    if wanted(Topic::Analytics) {
        for tracked in &response.tracked {
            events.push((
                Topic::Analytics,
                serde_json::to_value(tracked).unwrap_or(Value::Null),
            ));
        }
    }
    let mut outgoing = Vec::new();
    for (topic, data) in events {
        let delivery = Notice::new(topic, id, program, data);
        let Ok(body) = serde_json::to_string(&delivery) else {
            continue;
        };
        for hook in hooks.iter().filter(|h| h.wants(topic)) {
            outgoing.push(Outgoing {
                destination: hook.name.clone(),
                body: body.clone(),
            });
        }
    }
    Ok(outgoing)
}

/// One log line per turn: which conversation, what was understood and
/// what happened, never what was said; failures at `warn`.
fn log_turn(id: &str, session: &Session, response: &Response, secrets: &Secrets, started: Instant) {
    let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    for event in &response.events {
        match event {
            Event::Error { message, at } => tracing::warn!(
                conversation = id,
                turn = session.turn,
                at = %at.as_ref().map(ToString::to_string).unwrap_or_default(),
                reason = %secrets.redact(message),
                "the turn failed; the conversation is as it was before it"
            ),
            Event::Handoff { queue, .. } => {
                tracing::info!(conversation = id, queue = %queue, "handed off to a person");
            }
            Event::Restarted => tracing::info!(
                conversation = id,
                "restarted: its cell is gone from the reloaded bot"
            ),
            Event::ServiceFailed {
                cell,
                status,
                reason,
                at,
            } => tracing::warn!(
                conversation = id,
                cell = cell.as_deref().unwrap_or(""),
                at = %at.as_ref().map(ToString::to_string).unwrap_or_default(),
                status,
                reason = %secrets.redact(reason),
                "a service call failed"
            ),
            Event::End => {}
        }
    }
    tracing::debug!(
        conversation = id,
        turn = session.turn,
        intent = response.nlu.intent.as_deref().unwrap_or(""),
        confidence = response.nlu.confidence,
        answers = response.answers.len(),
        ended = response.ended,
        micros,
        "turn"
    );
}

/// A change to a stored conversation that is not a turn: `change` edits the
/// session (it may read the history) and gives the history entry that
/// records it. The inactivity deadline stays where the last turn put it.
pub(crate) async fn amend(
    state: &State,
    bot: &Bot,
    id: &str,
    change: impl Fn(&mut Session, &[Exchange]) -> Result<Exchange, ApiError>,
    needs_history: bool,
) -> Result<Session, ApiError> {
    let _turns_of_this_conversation = state.stripe(id).await;
    let mut lock = Unlock {
        store: Arc::clone(&state.store),
        id: id.to_owned(),
        token: None,
    };
    let mut read = Some(lock_and_read(state, id, &mut lock).await?);
    for _ in 0..ATTEMPTS {
        let stored = match read.take() {
            Some(record) => record,
            None => read_again(state, id).await?,
        };
        let Some(mut next) = stored else {
            return Err(ApiError::not_found(id));
        };
        let history = if needs_history {
            state
                .store
                .history(id)
                .await
                .map_err(|e| ApiError::store(&e))?
        } else {
            Vec::new()
        };
        let expected = Some(next.version);
        let entry = change(&mut next.session, &history)?;
        if next.session.vars.len() > state.config.max_session_vars {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "session_too_large",
                format!(
                    "the change would leave {} variables in the conversation; the limit is {} \
                     (--max-session-vars); it was not stored",
                    next.session.vars.len(),
                    state.config.max_session_vars
                ),
            ));
        }
        let write = Write {
            record: &next,
            expected,
            exchange: &entry,
            idle: state.config.idle,
            deadline: deadline(bot, &next.session),
            outbox: &[],
        };
        match state.store.save(id, &write, lock.token.as_deref()).await {
            Ok(()) => {
                lock.token = None;
                state.metrics.store_op("save", "ok");
                return Ok(next.session);
            }
            Err(StoreError::Conflict) => state.metrics.store_op("save", "conflict"),
            Err(e) => {
                state.metrics.store_op("save", "error");
                return Err(ApiError::store(&e));
            }
        }
    }
    Err(kept_changing())
}

/// Runs the inactivity timeouts that are due, every second, in every
/// process: the store hands each due conversation to one of them (with a
/// lease, so a crashed process's conversations come back), and its timeout
/// turn goes through [`converse`] like any other.
pub(crate) fn spawn_timeouts(state: &Arc<State>) {
    /// How long a claimed timeout may take before another process may
    /// claim it again.
    const LEASE: std::time::Duration = std::time::Duration::from_secs(60);
    /// Timeouts taken per round.
    const BATCH: usize = 256;
    let state = Arc::clone(state);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            loop {
                let due = match state.store.due(now_secs(), LEASE, BATCH).await {
                    Ok(due) => due,
                    Err(e) => {
                        tracing::warn!(error = %e, "reading the due inactivity timeouts failed");
                        break;
                    }
                };
                let more = due.len() == BATCH;
                for id in due {
                    let state = Arc::clone(&state);
                    tokio::spawn(async move {
                        let bot = state.bot();
                        let timeout = Request::event("timeout");
                        match converse(
                            &state,
                            &bot,
                            Open::Existing(id.clone()),
                            timeout,
                            Origin::Timeout,
                        )
                        .await
                        {
                            Ok(turned) => {
                                state.metrics.timeouts.inc();
                                tracing::info!(
                                    conversation = %id,
                                    closed = turned.response.ended,
                                    "inactivity timeout"
                                );
                            }
                            Err(e) if e.status() == StatusCode::NOT_FOUND => {}
                            Err(e) => tracing::warn!(
                                conversation = %id,
                                error = %e.message(),
                                "an inactivity timeout failed; it is tried again later"
                            ),
                        }
                    });
                }
                if !more {
                    break;
                }
            }
        }
    });
}
