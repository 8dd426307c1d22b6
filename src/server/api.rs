//! The routes of the conversation API (docs/SERVER.md), their JSON bodies and their errors.

use std::sync::Arc;

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
use super::conversation::{Open, Origin, Turned, amend, converse};
use super::store::{Exchange, StoreError, now_secs};
use crate::runtime::Request;

/// How long `/healthz` waits for the store before it answers 503.
const HEALTH_DEADLINE: std::time::Duration = std::time::Duration::from_secs(2);

/// An error answer: a status and `{"error": {"code", "message"}}`.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    pub(crate) fn new(
        status: StatusCode,
        code: &'static str,
        message: impl Into<String>,
    ) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    pub(crate) fn status(&self) -> StatusCode {
        self.status
    }

    pub(crate) fn message(&self) -> &str {
        &self.message
    }

    pub(crate) fn store(error: &StoreError) -> ApiError {
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
    pub(crate) fn corrupt(error: &dyn std::fmt::Display) -> ApiError {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "conversation_corrupt",
            format!("{error}; it was not changed. Delete it (DELETE on this path) to start over"),
        )
    }

    pub(crate) fn not_found(code: &str) -> ApiError {
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
            post(proceed)
                .put(ensure)
                .patch(patch)
                .get(show)
                .delete(remove),
        )
        .route("/v1/conversations/{code}/events", post(event))
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            authenticate,
        ));
    let channels = super::compat::routes().route_layer(middleware::from_fn_with_state(
        Arc::clone(&state),
        authenticate_channel,
    ));
    let admin = Router::new()
        .route("/admin/reload", post(reload))
        .route("/admin/webhooks/dead-letters", get(dead_letters))
        .route(
            "/admin/webhooks/dead-letters/{id}/redeliver",
            post(redeliver),
        )
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            authenticate_admin,
        ));
    let router = Router::new()
        .merge(conversations)
        .merge(channels)
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
        Some("/v1/conversations/{code}/events") => "event",
        Some("/admin/reload") => "reload",
        Some(admin) if admin.starts_with("/admin/") => "admin",
        Some(feedback)
            if feedback.ends_with("/satisfactions") || feedback.ends_with("/likable") =>
        {
            "channel_feedback"
        }
        Some(channel)
            if channel.starts_with("/eva-broker/") || channel.starts_with("/conversations") =>
        {
            "channel"
        }
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
    one_of(given, keys)
}

/// A channel connector's key: a bearer key, or the key in its `API-KEY`
/// header (how connectors written for the Syntphony API send theirs).
fn channel_key<'k>(headers: &HeaderMap, keys: &'k [String]) -> Option<&'k String> {
    key(headers, keys).or_else(|| {
        let given = headers.get("api-key")?.to_str().ok()?.trim();
        one_of(given, keys)
    })
}

/// `given` if it is one of `keys`.
fn one_of<'k>(given: &str, keys: &'k [String]) -> Option<&'k String> {
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
    limited(&state, key)?;
    Ok(next.run(request).await)
}

/// As [`authenticate`], taking the key from `API-KEY` too.
async fn authenticate_channel(
    Shared(state): Shared<Arc<State>>,
    request: HttpRequest,
    next: Next,
) -> Result<HttpResponse, ApiError> {
    let Some(key) = channel_key(request.headers(), &state.config.api_keys) else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "send a valid API key as `Authorization: Bearer KEY` or `API-KEY: KEY`",
        ));
    };
    limited(&state, key)?;
    Ok(next.run(request).await)
}

/// 429 past the key's rate.
fn limited(state: &State, key: &String) -> Result<(), ApiError> {
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
    Ok(())
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
/// router's `DefaultBodyLimit`, the size limit).
pub(crate) async fn body(state: &State, request: HttpRequest) -> Result<Bytes, ApiError> {
    let deadline = state.config.body_timeout;
    let read = tokio::time::timeout(deadline, Bytes::from_request(request, &()))
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "body_timeout",
                format!(
                    "the body did not arrive within {} s (--body-timeout-secs)",
                    deadline.as_secs()
                ),
            )
        })?;
    read.map_err(|rejection: BytesRejection| {
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
    })
}

/// A JSON object of type `T` (`None` for an empty body). serde reads a
/// struct from an array too (`["hi", "welcome"]` as text and event): only
/// an object is accepted.
pub(crate) fn object<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    what: &str,
) -> Result<Option<T>, ApiError> {
    let Some(&first) = bytes.trim_ascii_start().first() else {
        return Ok(None);
    };
    if first != b'{' {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_json",
            format!(
                "the body must be a JSON object ({what}), not an array, string, number or null"
            ),
        ));
    }
    serde_json::from_slice(bytes).map(Some).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_json",
            format!("the body is not a valid {what}: {e}"),
        )
    })
}

/// Reads a turn request from a request's body (an empty body is an empty
/// request: a new conversation's welcome).
async fn read(state: &State, request: HttpRequest) -> Result<Request, ApiError> {
    let bytes = body(state, request).await?;
    let request: Request = object(&bytes, "request")?.unwrap_or_default();
    bounded(state, &request)?;
    Ok(request)
}

/// A turn request within the server's limits.
pub(crate) fn bounded(state: &State, request: &Request) -> Result<(), ApiError> {
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
    Ok(())
}

/// A request's `context` within `--max-context-keys` and
/// `--max-context-bytes` (its JSON size, counted without a copy).
pub(crate) fn bounded_context(
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

/// Longest conversation id accepted in a path.
const MAX_CODE: usize = 128;

/// A conversation id: the server's (32 hex digits) or a client's own (a
/// phone number, a CRM id): letters, digits and `- _ . : + @`, at most
/// [`MAX_CODE`], not starting with a dot, so it is never a path step.
pub(crate) fn valid_code(code: &str) -> bool {
    !code.is_empty()
        && code.len() <= MAX_CODE
        && !code.starts_with('.')
        && code.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':' | b'+' | b'@')
        })
}

/// 404 for an id that cannot be a conversation's.
pub(crate) fn checked(code: String) -> Result<String, ApiError> {
    if valid_code(&code) {
        Ok(code)
    } else {
        Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!(
                "`{}` cannot be a conversation id: use at most {MAX_CODE} letters, digits and \
                 `- _ . : + @`, not starting with a dot",
                code.chars().take(MAX_CODE).collect::<String>()
            ),
        ))
    }
}

/// A turn's answer on the `/v1` routes.
fn reply(status: StatusCode, turned: &Turned) -> Result<HttpResponse, ApiError> {
    let response = &turned.response;
    let reply = Reply {
        session_code: &turned.id,
        answers: &response.answers,
        awaiting: response.awaiting.as_ref(),
        context: &response.vars,
        nlp: &response.nlu,
        events: &response.events,
        ended: response.ended,
    };
    let body = serde_json::to_vec(&reply).map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("the answer cannot be encoded: {e}"),
        )
    })?;
    Ok(json_body(status, body))
}

async fn start(
    Shared(state): Shared<Arc<State>>,
    body: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let request = read(&state, body).await?;
    let bot = state.bot();
    let turned = converse(&state, &bot, Open::New, request, Origin::User).await?;
    reply(StatusCode::CREATED, &turned)
}

async fn proceed(
    Shared(state): Shared<Arc<State>>,
    Path(code): Path<String>,
    body: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let code = checked(code)?;
    let request = read(&state, body).await?;
    let bot = state.bot();
    let turned = converse(&state, &bot, Open::Existing(code), request, Origin::User).await?;
    reply(StatusCode::OK, &turned)
}

/// `PUT`: the turn of the conversation under this id, started when there
/// is none (201) or continued (200).
async fn ensure(
    Shared(state): Shared<Arc<State>>,
    Path(code): Path<String>,
    body: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let code = checked(code)?;
    let request = read(&state, body).await?;
    let bot = state.bot();
    let turned = converse(&state, &bot, Open::Ensure(code), request, Origin::User).await?;
    reply(created_or_ok(&turned), &turned)
}

/// 201 for a turn that started its conversation, 200 otherwise.
fn created_or_ok(turned: &Turned) -> StatusCode {
    if turned.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    }
}

/// `POST …/events`: the bot speaks first, or later (a reminder): starts
/// the named flow in the conversation under this id, starting the
/// conversation if there is none. What it says is the answer, and reaches
/// the channel's webhooks as a `message`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Proactive {
    /// A flow, `welcome`, `resume` or `timeout`.
    name: String,
    #[serde(default)]
    context: std::collections::BTreeMap<String, Value>,
    #[serde(default, alias = "locale")]
    language: Option<String>,
    #[serde(default)]
    timezone: Option<String>,
}

async fn event(
    Shared(state): Shared<Arc<State>>,
    Path(code): Path<String>,
    body: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let code = checked(code)?;
    let bytes = self::body(&state, body).await?;
    let Some(proactive) = object::<Proactive>(&bytes, "event (`{\"name\": FLOW}`)")? else {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_json",
            "the body must name the event: {\"name\": FLOW}",
        ));
    };
    let request = Request {
        event: Some(proactive.name),
        context: proactive.context,
        language: proactive.language,
        timezone: proactive.timezone,
        ..Request::default()
    };
    bounded(&state, &request)?;
    let bot = state.bot();
    let turned = converse(&state, &bot, Open::Ensure(code), request, Origin::Proactive).await?;
    reply(created_or_ok(&turned), &turned)
}

/// `PATCH`: sets context variables without running a turn.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Patch {
    context: std::collections::BTreeMap<String, Value>,
}

async fn patch(
    Shared(state): Shared<Arc<State>>,
    Path(code): Path<String>,
    body: HttpRequest,
) -> Result<axum::Json<Value>, ApiError> {
    let code = checked(code)?;
    let bytes = self::body(&state, body).await?;
    let Some(patch) = object::<Patch>(&bytes, "patch (`{\"context\": {…}}`)")? else {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_json",
            "the body must give the variables: {\"context\": {…}}",
        ));
    };
    bounded_context(&state, &patch.context)?;
    let bot = state.bot();
    let session = amend(
        &state,
        &bot,
        &code,
        |session, _| {
            bot.set_context(session, &patch.context)
                .map_err(super::conversation::turn_error)?;
            Ok(Exchange {
                turn: session.turn,
                at: now_secs(),
                text: None,
                event: Some("context".to_owned()),
                answers: Vec::new(),
                feedback: None,
            })
        },
        false,
    )
    .await?;
    Ok(axum::Json(json!({
        "sessionCode": code,
        "context": bot.shown_vars(&session),
    })))
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

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Page {
    #[serde(default)]
    limit: Option<usize>,
}

/// Most dead letters one listing gives.
const DEAD_LETTERS_PAGE: usize = 1_000;

/// The webhook events given up on, oldest first.
async fn dead_letters(
    Shared(state): Shared<Arc<State>>,
    query: Result<axum::extract::Query<Page>, axum::extract::rejection::QueryRejection>,
) -> Result<axum::Json<Value>, ApiError> {
    let axum::extract::Query(page) =
        query.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_query", e.body_text()))?;
    let limit = page.limit.unwrap_or(100).clamp(1, DEAD_LETTERS_PAGE);
    let letters = state
        .store
        .dead_letters(limit)
        .await
        .map_err(|e| ApiError::store(&e))?;
    Ok(axum::Json(json!({ "deadLetters": letters })))
}

/// Puts a dead letter back in the outbox.
async fn redeliver(
    Shared(state): Shared<Arc<State>>,
    Path(id): Path<String>,
) -> Result<(StatusCode, axum::Json<Value>), ApiError> {
    let missing = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!(
                "no dead letter `{}`",
                id.chars().take(40).collect::<String>()
            ),
        )
    };
    let number: u64 = id.parse().map_err(|_| missing())?;
    if state
        .store
        .redeliver(number)
        .await
        .map_err(|e| ApiError::store(&e))?
    {
        state.outbox_ready.notify_one();
        Ok((
            StatusCode::ACCEPTED,
            axum::Json(json!({"redelivered": number})),
        ))
    } else {
        Err(missing())
    }
}
