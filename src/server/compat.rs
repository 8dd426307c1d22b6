//! The Syntphony CAI–shaped conversation surface (docs/SERVER.md,
//! "Channel integrations"): the request and response bodies that channel
//! connectors written for that platform send and read, translated to and
//! from a turn's [`Request`] and [`Response`].
//!
//! Nothing here runs a turn or touches a store: the routes share the `/v1`
//! engine and only change the shape of what goes in and comes out. Fields
//! the platform documents but cellflow has no use for are accepted and
//! ignored (so a connector's body is never refused for them); a field that
//! platform does not have either is refused, naming it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;

use super::api::{ApiError, body, bounded, checked, json_body, object};
use super::conversation::{self, Open, Origin, amend};
use super::store::{Exchange, now_secs};
use crate::compile::Program;
use crate::kinds::AnswerType;
use crate::runtime::{Answer, Awaiting, Button, Event, Nlu, Request, Response, Vars};

/// The code a connector sends to open a conversation with the welcome flow.
pub(crate) const WELCOME_CODE: &str = "%EVA_WELCOME_MSG";

/// A turn as a connector sends it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct CompatRequest {
    #[serde(default)]
    pub(crate) text: Option<String>,
    /// `%EVA_WELCOME_MSG`, a flow's name (started as an event) or an
    /// intent's name (routed as a sure hit, skipping the classifier).
    #[serde(default)]
    pub(crate) code: Option<String>,
    /// An intent the connector's own NLU chose.
    #[serde(default)]
    pub(crate) intent: Option<String>,
    #[serde(default)]
    pub(crate) confidence: Option<f64>,
    #[serde(default)]
    pub(crate) context: BTreeMap<String, Value>,
    #[serde(default)]
    pub(crate) entities: BTreeMap<String, Value>,
    // Documented by the platform, without a counterpart here: accepted and
    // ignored.
    #[serde(default)]
    #[allow(dead_code)]
    advanced_options: Option<Value>,
    #[serde(default)]
    #[allow(dead_code)]
    input_text: Option<Value>,
    #[serde(default)]
    #[allow(dead_code)]
    to_apply_multilanguage: Option<Value>,
    #[serde(default)]
    #[allow(dead_code)]
    user_input: Option<Value>,
}

/// Why a connector's request cannot be run.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub(crate) code: &'static str,
    pub(crate) message: String,
}

impl CompatRequest {
    /// The turn this request asks for. `locale` is the `LOCALE` header,
    /// which chooses the conversation's language like a request's
    /// `language` does.
    ///
    /// # Errors
    /// A `code` that is neither the welcome code, nor a flow, nor an intent
    /// of this bot.
    pub(crate) fn into_request(
        self,
        program: &Program,
        locale: Option<&str>,
    ) -> Result<Request, Refusal> {
        let mut request = Request {
            text: self.text.filter(|t| !t.is_empty()),
            intent: self.intent.filter(|i| !i.is_empty()),
            confidence: self.confidence,
            entities: self.entities,
            context: self.context,
            language: locale.map(str::to_owned),
            ..Request::default()
        };
        // Connectors send `"code": ""` or `null` beside a text.
        let code = self
            .code
            .map(|c| c.trim().to_owned())
            .filter(|c| !c.is_empty());
        if let Some(code) = code {
            if code == WELCOME_CODE {
                request.event = Some("welcome".to_owned());
            } else if program.flow(&code).is_some() || code == "resume" {
                request.event = Some(code);
            } else if program.intent_by_name.contains_key(&code) {
                request.text.get_or_insert_with(|| code.clone());
                request.intent = Some(code);
                request.confidence = Some(1.0);
            } else {
                return Err(Refusal {
                    code: "unknown_code",
                    message: format!(
                        "`code` is `{code}`: it is not {WELCOME_CODE}, nor a flow or an intent \
                         of this bot"
                    ),
                });
            }
        }
        Ok(request)
    }
}

/// A button as connectors read it.
#[derive(Debug, Serialize)]
struct CompatButton<'a> {
    name: &'a str,
    value: &'a str,
    /// `URL` for a link button, `TEXT` for one that sends its value back.
    #[serde(rename = "type")]
    kind: &'static str,
    /// The link a `URL` button opens.
    action: Option<&'a str>,
}

fn buttons(buttons: &[Button]) -> Vec<CompatButton<'_>> {
    buttons
        .iter()
        .map(|b| CompatButton {
            name: &b.label,
            value: b.value.as_deref().unwrap_or(&b.label),
            kind: if b.url.is_some() { "URL" } else { "TEXT" },
            action: b.url.as_deref(),
        })
        .collect()
}

#[derive(Debug, Serialize)]
struct QuickReply<'a> {
    name: &'a str,
    value: &'a str,
}

/// One answer as connectors read it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct CompatAnswer<'a> {
    content: Content<'a>,
    technical_text: Option<&'a Value>,
    buttons: Vec<CompatButton<'a>>,
    quick_reply: Vec<QuickReply<'a>>,
    description: Option<&'a str>,
    #[serde(rename = "type")]
    kind: &'static str,
    interaction_id: InteractionId,
    evaluable: bool,
    masked: bool,
    /// What a voice channel says, when the answer gives it.
    #[serde(skip_serializing_if = "Option::is_none")]
    voice: Option<&'a crate::runtime::Voice>,
}

/// An answer's `content`, serialized from the answer itself.
#[derive(Debug, Serialize)]
#[serde(untagged)]
enum Content<'a> {
    Text(&'a str),
    Cards(Vec<CompatCard<'a>>),
    Media {
        url: &'a str,
        name: Option<&'a str>,
        #[serde(rename = "mediaType")]
        media_type: &'a str,
    },
    Location(Option<&'a crate::runtime::Location>),
    Link(Option<&'a crate::runtime::Link>),
    Pause {
        #[serde(rename = "durationMs")]
        duration_ms: Option<u64>,
    },
    None(()),
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct CompatCard<'a> {
    title: &'a str,
    sub_title: Option<&'a str>,
    image_url: Option<&'a str>,
    buttons: Vec<CompatButton<'a>>,
}

/// The answer's `type`: the platform's names where it has one.
fn answer_type(answer: &Answer) -> &'static str {
    match answer.kind {
        AnswerType::Text if answer.buttons.is_empty() => "TEXT",
        AnswerType::Text => "TEXT_OPTIONS",
        AnswerType::Cards => "CAROUSEL",
        AnswerType::Media => match answer.media.as_ref().map(|m| m.kind.as_str()) {
            Some("image" | "sticker") => "IMAGE",
            Some("video") => "VIDEO",
            Some("audio") => "AUDIO",
            _ => "FILE",
        },
        AnswerType::Location => "LOCATION",
        AnswerType::Link => "LINK",
        AnswerType::Custom => "CUSTOM",
        AnswerType::Typing => "TYPING",
        AnswerType::Delay => "DELAY",
    }
}

/// The answer's `content`: its text, or the structure its type carries.
fn content(answer: &Answer) -> Content<'_> {
    match answer.kind {
        AnswerType::Text | AnswerType::Custom => Content::Text(&answer.text),
        AnswerType::Cards => Content::Cards(
            answer
                .cards
                .iter()
                .map(|card| CompatCard {
                    title: &card.title,
                    sub_title: card.subtitle.as_deref(),
                    image_url: card.image.as_deref(),
                    buttons: buttons(&card.buttons),
                })
                .collect(),
        ),
        AnswerType::Media => answer
            .media
            .as_ref()
            .map_or(Content::None(()), |m| Content::Media {
                url: &m.url,
                name: m.name.as_deref(),
                media_type: &m.kind,
            }),
        AnswerType::Location => Content::Location(answer.location.as_ref()),
        AnswerType::Link => Content::Link(answer.link.as_ref()),
        AnswerType::Typing | AnswerType::Delay => Content::Pause {
            duration_ms: answer.duration_ms,
        },
    }
}

/// What the bot waits for, as `userInput`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct UserInput<'a> {
    #[serde(rename = "type")]
    kind: std::borrow::Cow<'static, str>,
    call_to_action: Option<&'a str>,
    pattern: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    variable: Option<&'a str>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    options: &'a [arcstr::ArcStr],
    #[serde(skip_serializing_if = "Option::is_none")]
    offer: Option<&'a str>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    accept: &'a [arcstr::ArcStr],
    #[serde(skip_serializing_if = "Option::is_none")]
    max_size: Option<u64>,
}

/// An input type in capitals, as connectors read it (`options` →
/// `OPTIONS`), without an allocation for the types there are.
fn upper(ty: &str) -> std::borrow::Cow<'static, str> {
    const TYPES: &[(&str, &str)] = &[
        ("text", "TEXT"),
        ("number", "NUMBER"),
        ("integer", "INTEGER"),
        ("boolean", "BOOLEAN"),
        ("email", "EMAIL"),
        ("phone", "PHONE"),
        ("date", "DATE"),
        ("time", "TIME"),
        ("datetime", "DATETIME"),
        ("options", "OPTIONS"),
        ("pattern", "PATTERN"),
        ("location", "LOCATION"),
        ("file", "FILE"),
        ("image", "IMAGE"),
    ];
    TYPES.iter().find(|(name, _)| *name == ty).map_or_else(
        || ty.to_ascii_uppercase().into(),
        |(_, upper)| (*upper).into(),
    )
}

fn user_input(awaiting: Option<&Awaiting>) -> Option<UserInput<'_>> {
    Some(match awaiting? {
        Awaiting::Intent => UserInput {
            kind: "INTENT".into(),
            call_to_action: None,
            pattern: None,
            variable: None,
            options: &[],
            offer: None,
            accept: &[],
            max_size: None,
        },
        Awaiting::Input {
            var,
            ty,
            options,
            pattern,
            offer,
            accept,
            max_size,
        } => UserInput {
            kind: upper(ty),
            call_to_action: None,
            pattern: pattern.as_deref(),
            variable: Some(var),
            options,
            offer: offer.as_deref(),
            accept,
            max_size: *max_size,
        },
    })
}

/// The classifier's result as `nlpResponse`.
#[derive(Debug, Serialize)]
struct NlpResponse<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    name: Option<&'a str>,
    score: f64,
    entities: Vec<NlpEntity<'a>>,
}

#[derive(Debug, Serialize)]
struct NlpEntity<'a> {
    name: &'a str,
    value: std::borrow::Cow<'a, str>,
}

fn nlp_response(nlu: &Nlu) -> NlpResponse<'_> {
    NlpResponse {
        kind: if nlu.intent.is_some() {
            "INTENT"
        } else {
            "NONE"
        },
        name: nlu.intent.as_deref(),
        score: nlu.confidence,
        entities: nlu
            .entities
            .iter()
            .map(|(name, value)| NlpEntity {
                name,
                value: match value {
                    Value::String(s) => std::borrow::Cow::Borrowed(s.as_str()),
                    other => std::borrow::Cow::Owned(other.to_string()),
                },
            })
            .collect(),
    }
}

/// The id of the `index`-th answer of turn `turn`: what a like or dislike
/// names. Derived, so the conversation's history is enough to check one.
#[cfg(test)]
fn interaction_id(turn: u64, index: usize) -> String {
    InteractionId {
        turn,
        index: Some(index),
    }
    .to_string()
}

/// An answer's `interactionId`: `TURN-INDEX`, or `TURN-pause` for a
/// pause, which the history does not keep. Written straight into the
/// body (no `String` per answer).
#[derive(Clone, Copy, Debug)]
struct InteractionId {
    turn: u64,
    index: Option<usize>,
}

impl std::fmt::Display for InteractionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.index {
            Some(index) => write!(f, "{}-{index}", self.turn),
            None => write!(f, "{}-pause", self.turn),
        }
    }
}

impl Serialize for InteractionId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Reads an interaction id back as (turn, answer index).
pub(crate) fn parse_interaction_id(id: &str) -> Option<(u64, usize)> {
    let (turn, index) = id.split_once('-')?;
    Some((turn.parse().ok()?, index.parse().ok()?))
}

/// A turn's answer body in the platform's shape, serialized straight from
/// the turn's response.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CompatReply<'a> {
    text: Option<&'a str>,
    session_code: &'a str,
    #[serde(rename = "userInteractionUUID", serialize_with = "as_text")]
    user_interaction_uuid: uuid::Uuid,
    user_input: Option<UserInput<'a>>,
    nlp_response: NlpResponse<'a>,
    answers: Vec<CompatAnswer<'a>>,
    context: Context<'a>,
    context_read_only: Context<'a>,
    /// cellflow's own: handoff, end, restart and error events.
    events: &'a [Event],
    /// cellflow's own: whether the conversation ended.
    ended: bool,
}

/// A UUID as its text, written without a detour through a `String`.
fn as_text<S: serde::Serializer>(id: &uuid::Uuid, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(id)
}

/// The visible variables a request may change (`read_only: false`) or
/// those it may not.
#[derive(Debug)]
struct Context<'a> {
    program: &'a Program,
    vars: &'a Vars,
    read_only: bool,
}

impl Serialize for Context<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap as _;
        let mut map = serializer.serialize_map(None)?;
        for (name, value) in self.vars.iter() {
            if self.program.is_readonly(name) == self.read_only {
                map.serialize_entry(name, &value)?;
            }
        }
        map.end()
    }
}

impl<'a> CompatReply<'a> {
    /// The body for a turn numbered `turn` that answered `response` to a
    /// request whose text was `text`.
    pub(crate) fn new(
        program: &'a Program,
        session_code: &'a str,
        turn: u64,
        text: Option<&'a str>,
        response: &'a Response,
    ) -> CompatReply<'a> {
        let context = |read_only| Context {
            program,
            vars: &response.vars,
            read_only,
        };
        CompatReply {
            text,
            session_code,
            user_interaction_uuid: uuid::Uuid::new_v4(),
            user_input: user_input(response.awaiting.as_ref()),
            nlp_response: nlp_response(&response.nlu),
            answers: response
                .answers
                .iter()
                .scan(0usize, |kept, answer| {
                    // Ids count the answers the history keeps (no pauses),
                    // so a like names one that can be found again.
                    let id = InteractionId {
                        turn,
                        index: (!answer.is_pause()).then(|| {
                            *kept += 1;
                            *kept - 1
                        }),
                    };
                    Some((id, answer))
                })
                .map(|(interaction_id, answer)| CompatAnswer {
                    content: content(answer),
                    technical_text: answer.custom.as_ref(),
                    buttons: buttons(&answer.buttons),
                    quick_reply: answer
                        .quick_replies
                        .iter()
                        .map(|q| QuickReply {
                            name: &q.label,
                            value: q.value.as_deref().unwrap_or(&q.label),
                        })
                        .collect(),
                    description: None,
                    kind: answer_type(answer),
                    interaction_id,
                    evaluable: answer.evaluable,
                    masked: answer.mask,
                    voice: answer.voice.as_ref(),
                })
                .collect(),
            context: context(false),
            context_read_only: context(true),
            events: &response.events,
            ended: response.ended,
        }
    }
}

/// A satisfaction survey's answer, or a like or dislike of one answer, as
/// connectors send it; stored in the conversation's history.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct Satisfaction {
    /// The rating (`evaluation`, `rating` and `score` are read alike).
    #[serde(alias = "rating", alias = "score")]
    pub(crate) evaluation: f64,
    #[serde(default)]
    pub(crate) comment: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    user_ref: Option<Value>,
}

/// A like or dislike of one answer.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct Likable {
    pub(crate) interaction_id: String,
    /// `true` for a like (`like` and `liked` are read alike).
    #[serde(alias = "like", alias = "liked")]
    pub(crate) evaluation: bool,
    #[serde(default)]
    pub(crate) comment: Option<String>,
}

/// Longest feedback comment kept, in bytes; longer ones are refused.
pub(crate) const MAX_COMMENT_BYTES: usize = 2_000;

impl Satisfaction {
    /// The stored form, or why it cannot be stored.
    ///
    /// # Errors
    /// A rating outside 0–10, or a comment over [`MAX_COMMENT_BYTES`].
    pub(crate) fn feedback(&self) -> Result<Value, Refusal> {
        if !(0.0..=10.0).contains(&self.evaluation) {
            return Err(Refusal {
                code: "bad_feedback",
                message: "`evaluation` must be a number from 0 to 10".into(),
            });
        }
        comment_fits(self.comment.as_deref())?;
        Ok(json!({"kind": "satisfaction", "rating": self.evaluation, "comment": self.comment}))
    }
}

impl Likable {
    /// The stored form, once the interaction it names is known to exist
    /// (`answers(turn)` says how many answers that turn had, if any).
    ///
    /// # Errors
    /// An interaction id this conversation never gave, or a comment over
    /// [`MAX_COMMENT_BYTES`].
    pub(crate) fn feedback(
        &self,
        answers: impl Fn(u64) -> Option<usize>,
    ) -> Result<Value, Refusal> {
        let known = parse_interaction_id(&self.interaction_id)
            .is_some_and(|(turn, index)| answers(turn).is_some_and(|n| index < n));
        if !known {
            return Err(Refusal {
                code: "unknown_interaction",
                message: format!(
                    "`interactionId` `{}` is not an answer of this conversation",
                    self.interaction_id.chars().take(80).collect::<String>()
                ),
            });
        }
        comment_fits(self.comment.as_deref())?;
        Ok(json!({
            "kind": "likable",
            "interactionId": self.interaction_id,
            "liked": self.evaluation,
            "comment": self.comment,
        }))
    }
}

fn comment_fits(comment: Option<&str>) -> Result<(), Refusal> {
    match comment {
        Some(c) if c.len() > MAX_COMMENT_BYTES => Err(Refusal {
            code: "bad_feedback",
            message: format!(
                "`comment` is {} bytes; the limit is {MAX_COMMENT_BYTES}",
                c.len()
            ),
        }),
        _ => Ok(()),
    }
}

/// The routes connectors call (docs/SERVER.md, "Channel integrations"):
/// the current path with org, environment, bot and channel, the earlier
/// one without the channel, and the 3.x one at the root. The ids in the
/// paths are accepted and not checked: this server serves one bot.
pub(crate) fn routes() -> axum::Router<std::sync::Arc<super::State>> {
    use axum::routing::post;
    const BOT: &str = "/eva-broker/org/{org}/env/{env}/bot/{bot}";
    axum::Router::new()
        .route(
            &format!("{BOT}/channel/{{channel}}/v1/conversations"),
            post(converse),
        )
        .route(
            &format!("{BOT}/channel/{{channel}}/v1/conversations/{{code}}"),
            post(converse),
        )
        .route(&format!("{BOT}/conversations"), post(converse))
        .route(&format!("{BOT}/conversations/{{code}}"), post(converse))
        .route("/conversations", post(converse))
        .route("/conversations/{code}", post(converse))
        .route(
            &format!("{BOT}/conversations/{{code}}/satisfactions"),
            post(satisfaction),
        )
        .route(
            &format!("{BOT}/conversations/{{code}}/likable"),
            post(likable),
        )
}

fn refused(refusal: Refusal) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        refusal.code,
        refusal.message,
    )
}

/// A turn: a new conversation, or the next turn of the one in the path.
async fn converse(
    State(state): State<Arc<super::State>>,
    axum::extract::Path(Code { code }): axum::extract::Path<Code>,
    request: axum::extract::Request,
) -> Result<axum::response::Response, ApiError> {
    let code = code.map(checked).transpose()?;
    // Read before the body takes the request (no copy of the headers).
    let language = request
        .headers()
        .get("locale")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let bytes = body(&state, request).await?;
    let asked: CompatRequest = object(&bytes, "conversation request")?.unwrap_or_default();
    let bot = state.bot();
    let text = asked.text.clone();
    let request = asked
        .into_request(bot.program(), language.as_deref())
        .map_err(refused)?;
    bounded(&state, &request)?;
    let open = code.map_or(Open::New, Open::Existing);
    let turned = conversation::converse(&state, &bot, open, request, Origin::User).await?;
    let reply = CompatReply::new(
        bot.program(),
        &turned.id,
        turned.turn,
        text.as_deref(),
        &turned.response,
    );
    encoded(&reply)
}

/// The conversation's code in a route's path, if the route has one; the
/// org, environment, bot and channel are not read.
#[derive(serde::Deserialize)]
struct Code {
    #[serde(default)]
    code: Option<String>,
}

/// A body serialized once into one buffer (a growing `BytesMut`, as
/// `axum::Json` writes, costs a third more for a turn's answer).
fn encoded(reply: &CompatReply<'_>) -> Result<axum::response::Response, ApiError> {
    // Room for a usual answer, so the buffer is not grown step by step.
    let mut body = Vec::with_capacity(1024);
    serde_json::to_writer(&mut body, reply).map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("the answer cannot be encoded: {e}"),
        )
    })?;
    Ok(json_body(StatusCode::OK, body))
}

/// A history entry that records feedback.
fn feedback_entry(session: &crate::runtime::Session, feedback: Value) -> Exchange {
    Exchange {
        turn: session.turn,
        at: now_secs(),
        text: None,
        event: None,
        answers: Vec::new(),
        feedback: match feedback {
            Value::Object(map) => Some(map),
            _ => None,
        },
    }
}

/// A satisfaction survey's answer, kept in the conversation's history.
async fn satisfaction(
    State(state): State<Arc<super::State>>,
    axum::extract::Path(Code { code }): axum::extract::Path<Code>,
    request: axum::extract::Request,
) -> Result<axum::Json<Value>, ApiError> {
    let code = checked(code.unwrap_or_default())?;
    let bytes = body(&state, request).await?;
    let Some(asked) = object::<Satisfaction>(&bytes, "satisfaction (`{\"evaluation\": 1-10}`)")?
    else {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_json",
            "the body must give the rating: {\"evaluation\": 1-10}",
        ));
    };
    let feedback = asked.feedback().map_err(refused)?;
    let bot = state.bot();
    let stored = feedback.clone();
    amend(
        &state,
        &bot,
        &code,
        move |session, _| Ok(feedback_entry(session, stored.clone())),
        false,
    )
    .await?;
    Ok(axum::Json(
        json!({"sessionCode": code, "feedback": feedback}),
    ))
}

/// A like or dislike of one answer, kept in the conversation's history.
async fn likable(
    State(state): State<Arc<super::State>>,
    axum::extract::Path(Code { code }): axum::extract::Path<Code>,
    request: axum::extract::Request,
) -> Result<axum::Json<Value>, ApiError> {
    let code = checked(code.unwrap_or_default())?;
    let bytes = body(&state, request).await?;
    let Some(asked) = object::<Likable>(
        &bytes,
        "vote (`{\"interactionId\": …, \"evaluation\": true}`)",
    )?
    else {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_json",
            "the body must name the answer: {\"interactionId\": …, \"evaluation\": true}",
        ));
    };
    let bot = state.bot();
    let session = amend(
        &state,
        &bot,
        &code,
        |session, history| {
            let answers = |turn: u64| {
                history
                    .iter()
                    .find(|e| {
                        e.turn == turn
                            && e.feedback.is_none()
                            && e.event.as_deref() != Some("context")
                    })
                    .map(|e| e.answers.len())
            };
            let feedback = asked.feedback(answers).map_err(refused)?;
            Ok(feedback_entry(session, feedback))
        },
        true,
    )
    .await?;
    Ok(axum::Json(json!({
        "sessionCode": code,
        "interactionId": asked.interaction_id,
        "liked": asked.evaluation,
        "turns": session.turn,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pizza() -> crate::runtime::Bot {
        crate::runtime::Bot::load(concat!(env!("CARGO_MANIFEST_DIR"), "/flows/pizza"))
            .expect("the pizza bot loads")
    }

    fn request(body: &str) -> CompatRequest {
        serde_json::from_str(body).expect("a valid body")
    }

    #[test]
    fn the_welcome_code_starts_the_welcome_flow_and_the_locale_picks_the_language() {
        let bot = pizza();
        let turn = request(r#"{"code": "%EVA_WELCOME_MSG", "text": null}"#)
            .into_request(bot.program(), Some("pt-BR"))
            .unwrap();
        assert_eq!(turn.event.as_deref(), Some("welcome"));
        assert_eq!(turn.language.as_deref(), Some("pt-BR"));
        assert_eq!(turn.text, None);
    }

    #[test]
    fn a_code_names_a_flow_or_an_intent_and_anything_else_is_refused() {
        let bot = pizza();
        let program = bot.program();
        let flow = program.flows[0].name.to_string();
        let as_flow = request(&format!(r#"{{"code": "{flow}"}}"#))
            .into_request(program, None)
            .unwrap();
        assert_eq!(as_flow.event.as_deref(), Some(flow.as_str()));
        // A name that is both a flow's and an intent's starts the flow.
        let intent = program
            .intents
            .iter()
            .map(|i| i.name.clone())
            .find(|name| program.flow(name).is_none())
            .expect("the pizza bot has an intent named unlike its flows");
        let as_intent = request(&format!(r#"{{"code": "{intent}", "text": ""}}"#))
            .into_request(program, None)
            .unwrap();
        assert_eq!(as_intent.intent.as_deref(), Some(intent.as_str()));
        assert_eq!(as_intent.confidence, Some(1.0));
        let refused = request(r#"{"code": "%EVA_NOPE"}"#)
            .into_request(program, None)
            .unwrap_err();
        assert_eq!(refused.code, "unknown_code");
    }

    #[test]
    fn documented_fields_without_a_counterpart_are_accepted_and_others_refused() {
        request(
            r#"{"text": "hi", "advancedOptions": {"multilanguage": {"translateInput": true}},
                "inputText": true, "toApplyMultilanguage": false, "userInput": "x"}"#,
        );
        let error = serde_json::from_str::<CompatRequest>(r#"{"txt": "hi"}"#).unwrap_err();
        assert!(error.to_string().contains("unknown field `txt`"), "{error}");
    }

    #[test]
    fn interaction_ids_read_back_and_name_only_answers_that_were_given() {
        assert_eq!(parse_interaction_id(&interaction_id(7, 2)), Some((7, 2)));
        assert_eq!(parse_interaction_id("7-x"), None);
        let like = Likable {
            interaction_id: interaction_id(3, 1),
            evaluation: true,
            comment: None,
        };
        assert!(like.feedback(|turn| (turn == 3).then_some(2)).is_ok());
        assert_eq!(
            like.feedback(|turn| (turn == 3).then_some(1))
                .unwrap_err()
                .code,
            "unknown_interaction"
        );
    }
}
