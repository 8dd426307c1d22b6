//! The routes of the conversation API (docs/SERVER.md), their JSON bodies and their errors.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{
    DefaultBodyLimit, FromRequest as _, MatchedPath, Path, Request as HttpRequest, State as Shared,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response as HttpResponse};
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::State;
use super::store::{Exchange, Record, StoreError, Write, now_secs};
use crate::runtime::{Request, TurnError};

/// Attempts at a turn when another writer keeps winning the race.
const ATTEMPTS: usize = 5;
/// Longest session code accepted in a path.
const MAX_CODE: usize = 64;
/// How long a turn waits for another process's turn of the same conversation.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(10);
/// How long `/healthz` waits for the store before it answers 503.
const HEALTH_DEADLINE: std::time::Duration = std::time::Duration::from_secs(2);

/// Releases a conversation's store lock when dropped: on every path but
/// the write that released it, including a turn abandoned mid-await (its
/// client went away).
struct Unlock {
    store: Arc<dyn super::SessionStore>,
    id: String,
    /// `None` once the store released it with the turn's write.
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

/// An error answer: a status and `{"error": {"code", "message"}}`.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    fn store(error: &StoreError) -> ApiError {
        match error {
            StoreError::TooLarge { .. } => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "session_too_large",
                format!("{error} (--max-session-bytes); the turn was not stored"),
            ),
            StoreError::Corrupt(_) => ApiError::corrupt(error),
            StoreError::Unconfirmed(_) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "store_unavailable",
                format!(
                    "{error}; the turn may still be stored, so read the conversation \
                     before sending the message again"
                ),
            ),
            StoreError::Conflict | StoreError::Unavailable(_) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "store_unavailable",
                format!("{error}; the conversation was not changed, try again"),
            ),
        }
    }

    /// A stored conversation that cannot be used: trying again cannot help.
    fn corrupt(error: &dyn std::fmt::Display) -> ApiError {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "conversation_corrupt",
            format!("{error}; it was not changed. Delete it (DELETE on this path) to start over"),
        )
    }

    fn not_found(code: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no conversation `{code}` (it may have ended or expired)"),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> HttpResponse {
        let body = json!({"error": {"code": self.code, "message": self.message}});
        let mut response = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if self.status == StatusCode::TOO_MANY_REQUESTS {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

pub(crate) fn router(state: Arc<State>) -> Router {
    let conversations = Router::new()
        .route("/v1/conversations", post(start))
        .route(
            "/v1/conversations/{code}",
            post(proceed).get(show).delete(remove),
        )
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            authenticate,
        ));
    let admin = Router::new()
        .route("/admin/reload", post(reload))
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            authenticate_admin,
        ));
    let router = Router::new()
        .merge(conversations)
        .merge(admin)
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .fallback(unknown_route)
        .method_not_allowed_fallback(wrong_method)
        .layer(middleware::from_fn_with_state(Arc::clone(&state), count))
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes));
    // Outermost: every answer, errors included, has its request id, its log
    // line and (for configured origins) its CORS headers.
    let router = router.layer(middleware::from_fn(super::observe::trace));
    match super::observe::cors(&state.config.cors) {
        Some(cors) => router.layer(cors).with_state(state),
        None => router.with_state(state),
    }
}

async fn unknown_route() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route")
}

async fn wrong_method() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not take that method",
    )
}

/// Counts every response by route and status.
async fn count(
    Shared(state): Shared<Arc<State>>,
    request: HttpRequest,
    next: Next,
) -> HttpResponse {
    let route = match request
        .extensions()
        .get::<MatchedPath>()
        .map(MatchedPath::as_str)
    {
        Some("/v1/conversations") => "start",
        Some("/v1/conversations/{code}") => "conversation",
        Some("/admin/reload") => "reload",
        Some("/healthz") => "healthz",
        Some("/metrics") => "metrics",
        _ => "other",
    };
    let response = next.run(request).await;
    state.metrics.request(route, response.status().as_u16());
    response
}

/// Equal in time independent of where the first difference is.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The bearer key of a request, if it is one of `keys`.
fn key<'k>(headers: &HeaderMap, keys: &'k [String]) -> Option<&'k String> {
    let given = headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")?
        .trim();
    // Compare with every key, so the time says nothing about which matched.
    keys.iter().fold(None, |found, k| {
        if same(k.as_bytes(), given.as_bytes()) {
            Some(k)
        } else {
            found
        }
    })
}

async fn authenticate(
    Shared(state): Shared<Arc<State>>,
    request: HttpRequest,
    next: Next,
) -> Result<HttpResponse, ApiError> {
    let Some(key) = key(request.headers(), &state.config.api_keys) else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "send a valid API key as `Authorization: Bearer KEY`",
        ));
    };
    if state.limiter.check_key(key).is_err() {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!(
                "more than {} requests per second with this key; retry shortly",
                state.config.rate_limit
            ),
        ));
    }
    Ok(next.run(request).await)
}

async fn authenticate_admin(
    Shared(state): Shared<Arc<State>>,
    request: HttpRequest,
    next: Next,
) -> Result<HttpResponse, ApiError> {
    if key(request.headers(), &state.config.admin_keys).is_none() {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "send a valid admin key as `Authorization: Bearer KEY`",
        ));
    }
    Ok(next.run(request).await)
}

/// Reads a request's body within the body timeout (and, through the
/// router's `DefaultBodyLimit`, the size limit), then the turn request in
/// it.
async fn read(state: &State, request: HttpRequest) -> Result<Request, ApiError> {
    let deadline = state.config.body_timeout;
    match tokio::time::timeout(deadline, Bytes::from_request(request, &())).await {
        Ok(body) => parse(state, body),
        Err(_) => Err(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "body_timeout",
            format!(
                "the body did not arrive within {} s (--body-timeout-secs)",
                deadline.as_secs()
            ),
        )),
    }
}

/// Reads a turn request from a body (an empty body is an empty
/// request: a new conversation's welcome).
fn parse(state: &State, body: Result<Bytes, BytesRejection>) -> Result<Request, ApiError> {
    let bytes = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!(
                    "the body is larger than {} bytes",
                    state.config.max_body_bytes
                ),
            )
        } else {
            ApiError::new(StatusCode::BAD_REQUEST, "bad_body", rejection.body_text())
        }
    })?;
    let Some(&first) = bytes.trim_ascii_start().first() else {
        return Ok(Request::default());
    };
    // serde reads a struct from an array too (`["hi", "welcome"]` as text
    // and event): only an object is a request.
    if first != b'{' {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_json",
            "the body must be a JSON object (a request), not an array, string, number or null",
        ));
    }
    let request: Request = serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_json",
            format!("the body is not a valid request: {e}"),
        )
    })?;
    if let Some(text) = &request.text
        && text.len() > state.config.max_text_bytes
    {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "text_too_long",
            format!(
                "`text` is {} bytes; the limit is {}",
                text.len(),
                state.config.max_text_bytes
            ),
        ));
    }
    if !request.context.is_empty() {
        bounded_context(state, &request.context)?;
    }
    if request
        .confidence
        .is_some_and(|c| !(0.0..=1.0).contains(&c))
    {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_confidence",
            "`confidence` must be between 0 and 1",
        ));
    }
    Ok(request)
}

/// A request's `context` within `--max-context-keys` and
/// `--max-context-bytes` (its JSON size, counted without a copy).
fn bounded_context(
    state: &State,
    context: &std::collections::BTreeMap<String, Value>,
) -> Result<(), ApiError> {
    /// Counts what is written to it.
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0 += bytes.len();
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let too_large =
        |what: String| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "context_too_large", what);
    let keys = state.config.max_context_keys;
    if context.len() > keys {
        return Err(too_large(format!(
            "`context` has {} keys; the limit is {keys} per request (--max-context-keys)",
            context.len()
        )));
    }
    let mut size = Count(0);
    // Writing parsed JSON to a counter cannot fail.
    let _ = serde_json::to_writer(&mut size, context);
    let bytes = state.config.max_context_bytes;
    if size.0 > bytes {
        return Err(too_large(format!(
            "`context` is {} bytes of JSON; the limit is {bytes} per request (--max-context-bytes)",
            size.0
        )));
    }
    Ok(())
}

fn valid_code(code: &str) -> bool {
    !code.is_empty()
        && code.len() <= MAX_CODE
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

async fn start(
    Shared(state): Shared<Arc<State>>,
    body: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let request = read(&state, body).await?;
    let bot = state.bot();
    let body = converse(&state, &bot, None, request).await?;
    Ok(json_body(StatusCode::CREATED, body))
}

async fn proceed(
    Shared(state): Shared<Arc<State>>,
    Path(code): Path<String>,
    body: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    if !valid_code(&code) {
        return Err(ApiError::not_found(&code));
    }
    let request = read(&state, body).await?;
    let bot = state.bot();
    let body = converse(&state, &bot, Some(code), request).await?;
    Ok(json_body(StatusCode::OK, body))
}

/// Runs a turn on `record`'s session: right here when it is microseconds
/// of CPU, on the blocking pool when the bot has `service` cells (their
/// HTTP calls block the thread they run on).
async fn run_turn(
    bot: &Arc<crate::runtime::Bot>,
    mut record: Record,
    request: Request,
) -> Result<(Record, crate::runtime::Response), ApiError> {
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

fn turn_error(e: TurnError) -> ApiError {
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

/// The body of a turn's answer, serialized straight from the
/// turn's response.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Reply<'a> {
    session_code: &'a str,
    answers: &'a [crate::runtime::Answer],
    awaiting: Option<&'a crate::runtime::Awaiting>,
    context: &'a crate::runtime::Vars,
    nlp: &'a crate::runtime::Nlu,
    events: &'a [crate::runtime::Event],
    ended: bool,
}

/// A JSON body with its status.
fn json_body(status: StatusCode, body: Vec<u8>) -> HttpResponse {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        Bytes::from(body),
    )
        .into_response()
}

/// One turn: a new conversation (`code: None`) or the next turn of one.
/// Returns the answer's JSON body.
async fn converse(
    state: &State,
    bot: &Arc<crate::runtime::Bot>,
    code: Option<String>,
    request: Request,
) -> Result<Vec<u8>, ApiError> {
    let started = Instant::now();
    let store = &state.store;
    let idle = state.config.idle;
    let (id, fresh) = match code {
        Some(id) => (id, false),
        None => (bot.new_session().id, true),
    };
    let _turns_of_this_conversation = state.stripe(&id).await;
    // Across processes (Redis, PostgreSQL), a lock with a timeout, taken
    // with the first read and released with the write (one round trip
    // each), or by the guard on every other path.
    let mut lock = Unlock {
        store: Arc::clone(store),
        id: id.clone(),
        token: None,
    };
    let mut first_read = None;
    if !fresh {
        match store.lock_and_load(&id, LOCK_WAIT).await {
            Ok((token, record)) => {
                lock.token = token;
                first_read = Some(record);
            }
            Err(StoreError::Conflict) => {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "busy",
                    "another turn of this conversation is still running; try again",
                ));
            }
            Err(e) => {
                state.metrics.store_op("load", "error");
                return Err(ApiError::store(&e));
            }
        }
    }
    let most_vars = state.config.max_session_vars;
    for _ in 0..ATTEMPTS {
        let current = if fresh {
            Record::new(crate::runtime::Session::new(id.clone()))
        } else {
            let read = match first_read.take() {
                Some(record) => Ok(record),
                None => store.load(&id).await,
            };
            match read {
                Ok(Some(record)) => {
                    state.metrics.store_op("load", "ok");
                    record
                }
                Ok(None) => {
                    state.metrics.store_op("load", "ok");
                    return Err(ApiError::not_found(&id));
                }
                Err(e) => {
                    state.metrics.store_op("load", "error");
                    return Err(ApiError::store(&e));
                }
            }
        };
        let secret = bot.awaits_secret(&current.session);
        let expected = (!fresh).then_some(current.version);
        // The turn changes the record read; the store keeps the old one
        // until the write succeeds.
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
        let exchange = Exchange {
            turn: next.session.turn,
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
        };
        let write = Write {
            record: &next,
            expected,
            exchange: &exchange,
            idle,
            deadline: None,
            outbox: &[],
        };
        match store.save(&id, &write, lock.token.as_deref()).await {
            Ok(()) => {
                lock.token = None;
                state.metrics.store_op("save", "ok");
                let failed = response
                    .events
                    .iter()
                    .any(|e| matches!(e, crate::runtime::Event::Error { .. }));
                state.metrics.turn(
                    if failed { "error" } else { "ok" },
                    started.elapsed().as_secs_f64(),
                );
                log_turn(&id, &next.session, &response, &secrets, started);
                let reply = Reply {
                    session_code: &id,
                    answers: &response.answers,
                    awaiting: response.awaiting.as_ref(),
                    context: &response.vars,
                    nlp: &response.nlu,
                    events: &response.events,
                    ended: response.ended,
                };
                return serde_json::to_vec(&reply).map_err(|e| {
                    ApiError::new(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "internal",
                        format!("the answer cannot be encoded: {e}"),
                    )
                });
            }
            Err(StoreError::Conflict) => {
                // Another process wrote this conversation: run the turn
                // again on what it wrote.
                state.metrics.store_op("save", "conflict");
            }
            Err(e) => {
                state.metrics.store_op("save", "error");
                return Err(ApiError::store(&e));
            }
        }
    }
    Err(ApiError::new(
        StatusCode::CONFLICT,
        "busy",
        "the conversation kept changing under this turn; try again",
    ))
}

/// One log line per turn: which conversation, what was understood and
/// what happened, never what was said; a failed turn's reason at `warn`.
fn log_turn(
    id: &str,
    session: &crate::runtime::Session,
    response: &crate::runtime::Response,
    secrets: &crate::runtime::Secrets,
    started: Instant,
) {
    use crate::runtime::Event;
    let millis = started.elapsed().as_secs_f64() * 1e3;
    for event in &response.events {
        match event {
            Event::Error { message } => tracing::warn!(
                conversation = id,
                turn = session.turn,
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
            } => tracing::warn!(
                conversation = id,
                cell = cell.as_deref().unwrap_or(""),
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
        millis,
        "turn"
    );
}

async fn show(
    Shared(state): Shared<Arc<State>>,
    Path(code): Path<String>,
) -> Result<axum::Json<Value>, ApiError> {
    if !valid_code(&code) {
        return Err(ApiError::not_found(&code));
    }
    let record = state
        .store
        .load(&code)
        .await
        .map_err(|e| ApiError::store(&e))?
        .ok_or_else(|| ApiError::not_found(&code))?;
    let history = state
        .store
        .history(&code)
        .await
        .map_err(|e| ApiError::store(&e))?;
    let bot = state.bot();
    let session = &record.session;
    Ok(axum::Json(json!({
        "sessionCode": code,
        "state": {
            "awaiting": bot.awaiting(session),
            "context": bot.shown_vars(session),
            "handedOff": session.handed_off(),
            "ended": session.ended,
            "turns": session.turn,
            "lastActivity": session.last_activity,
        },
        "history": history,
    })))
}

async fn remove(
    Shared(state): Shared<Arc<State>>,
    Path(code): Path<String>,
) -> Result<StatusCode, ApiError> {
    if !valid_code(&code) {
        return Err(ApiError::not_found(&code));
    }
    let _turns_of_this_conversation = state.stripe(&code).await;
    match state.store.delete(&code).await {
        Ok(true) => Ok(StatusCode::NO_CONTENT),
        Ok(false) => Err(ApiError::not_found(&code)),
        Err(e) => Err(ApiError::store(&e)),
    }
}

async fn healthz(Shared(state): Shared<Arc<State>>) -> Result<axum::Json<Value>, ApiError> {
    // A store that hangs fails the probe at the deadline.
    let probe = async {
        // A read of a key nobody uses: proves the store answers.
        state
            .store
            .load("healthz-probe")
            .await
            .map_err(|e| ApiError::store(&e))?;
        let bot = state.bot();
        Ok(axum::Json(json!({
            "status": "ok",
            "bot": bot.program().name,
            "version": format!("{:x}", bot.program().version),
            "store": state.store.name(),
        })))
    };
    tokio::time::timeout(HEALTH_DEADLINE, probe)
        .await
        .unwrap_or_else(|_| {
            Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "store_unavailable",
                format!(
                    "the session store did not answer within {} s",
                    HEALTH_DEADLINE.as_secs()
                ),
            ))
        })
}

async fn metrics(Shared(state): Shared<Arc<State>>) -> HttpResponse {
    if let Ok(count) = state.store.count().await {
        state
            .metrics
            .sessions
            .set(i64::try_from(count).unwrap_or(i64::MAX));
    }
    let body = state.metrics.render();
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

async fn reload(Shared(state): Shared<Arc<State>>) -> Result<axum::Json<Value>, ApiError> {
    // Loading a bot compiles it: seconds of CPU for a large one.
    let reloaded = tokio::task::spawn_blocking(move || state.reload())
        .await
        .map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                format!("the reload did not finish: {e}"),
            )
        })?;
    match reloaded {
        Ok(version) => Ok(axum::Json(json!({
            "status": "reloaded",
            "version": format!("{version:x}"),
        }))),
        Err(message) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_bot",
            format!("the new bot was refused; the old one keeps running:\n{message}"),
        )),
    }
}
