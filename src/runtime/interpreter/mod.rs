//! Running one turn (docs/RUNTIME.md) over a compiled [`Program`].
//!
//! A turn decides where to start (welcome, an event, the pending input or
//! intent cell, or the classifier's choice), then executes cells until one
//! waits, the conversation ends or is handed off, or the flow completes with
//! no caller to return to. Turns are transactional: a script error or the
//! step limit restores the session as it was before the turn and answers
//! with an error, so a failure never leaves a half-changed session.

mod render;
mod scripts;
mod service;

use std::cell::RefCell;
use std::collections::BTreeMap;

use arcstr::{ArcStr, literal};
use serde_json::Value;

use crate::compile::{Branch, CellIndex, FlowIndex, Goto, Input, IntentIndex, Kind, Program};
use crate::kinds::InputType;

use super::input::{Parsed, Payload};
use super::message::{
    Answer, Awaiting, Button, Event, MASK, Nlu, Place, Request, Response, Step, Tracked,
};
use super::session::{Frame, MAX_VALUE_DEPTH, Session, Wait, too_deep};
use super::vars::Var;
use super::{Bot, Observer, TurnError};
use crate::language::Builtin;

/// Most cells one turn may execute before it is stopped as a runaway loop.
pub const MAX_STEPS: usize = 1_000;
/// Longest text a request may carry, in bytes.
pub const MAX_TEXT_BYTES: usize = 16 * 1024;

/// How a cell's execution ends.
enum Next {
    Go(Goto),
    Stop,
}

/// A turn that failed partway; the session is restored.
struct Failure {
    message: String,
    /// For a script or condition: which of the cell's scripts failed (a
    /// rule's arm; 0 for a code cell), and where rhai stopped in it.
    script: Option<(usize, rhai::Position)>,
}

impl Failure {
    fn new(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            script: None,
        }
    }

    /// The failure of the cell's `index`-th script.
    fn in_script(mut self, index: usize) -> Failure {
        if let Some((script, _)) = &mut self.script {
            *script = index;
        }
        self
    }
}

struct Turn<'a> {
    bot: &'a Bot,
    program: &'a Program,
    session: &'a mut Session,
    request: &'a Request,
    response: Response,
    steps: usize,
    /// The `input` built-in (the message and its NLU), built when first used.
    input: std::cell::OnceCell<Value>,
    /// The `user` built-in (id, locale and the host's context), built when first used.
    user: std::cell::OnceCell<Value>,
    trace: bool,
    /// Where cells and branches taken are recorded, when the host asked.
    observer: Option<&'a RefCell<dyn Observer>>,
    /// The cell being run (for what the observer is told).
    at: CellIndex,
    /// What is left of the turn's wall-clock budget for scripts.
    script_time: std::time::Duration,
    /// The conversation's language: a position in `Program::languages`.
    language: usize,
    /// The message answers a masked input: it is a secret, never reported.
    secret_message: bool,
    /// Whether the turn reports automatic analytics events.
    analytics: bool,
    /// The flow control is in (for `flow_started` and `flow_completed`).
    flow: Option<FlowIndex>,
}

thread_local! {
    /// Where templates are rendered before their text is shared.
    static SCRATCH: RefCell<String> = const { RefCell::new(String::new()) };
    /// The session as it was before the turn, kept to restore it on
    /// failure; its buffers are reused from turn to turn.
    static SNAPSHOT: RefCell<Session> = RefCell::new(Session::default());
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

pub(super) fn run(
    bot: &Bot,
    session: &mut Session,
    request: Request,
    observer: Option<&RefCell<dyn Observer>>,
) -> Result<Response, TurnError> {
    if request
        .text
        .as_ref()
        .is_some_and(|t| t.len() > MAX_TEXT_BYTES)
    {
        return Err(TurnError::TextTooLong {
            limit: MAX_TEXT_BYTES,
        });
    }
    let program = bot.program();
    if let Some(event) = &request.event
        && event != "welcome"
        && event != "resume"
        && event != "timeout"
        && program.flow(event).is_none()
    {
        return Err(TurnError::UnknownEvent(event.clone()));
    }
    context_fits(program, session, &request.context)?;
    let timed_out = request.event.as_deref() == Some("timeout");
    if timed_out && (session.ended || session.handed_off() || session.turn == 0) {
        // Nothing waits for the user: a late or stray timeout changes nothing.
        return Ok(Response {
            vars: bot.shown_vars(session),
            awaiting: awaiting(program, session),
            ended: session.ended,
            ..Response::default()
        });
    }
    let secret_message = bot.awaits_secret(session);
    let mut snapshot = SNAPSHOT.take();
    snapshot.clone_from(session);
    let mut events = Vec::new();
    // A session from another version of the bot: cell indexes may now mean
    // other cells. A paused session goes on where it was when every cell it
    // refers to still exists (by key), and restarts cleanly otherwise.
    if session.bot_version != program.version {
        // (A session that never ran has nothing to move, unless it is not
        // what it claims: then it is moved like any other.)
        if !rebase(program, session) {
            session.waiting = None;
            session.stack.clear();
            session.retries = 0;
            events.push(Event::Restarted);
        }
        // Rotation counters are per cell index.
        session.sequence.clear();
        session.bot_version = program.version;
    }
    if session.ended {
        let id = std::mem::take(&mut session.id);
        let language = session.language.take();
        *session = Session {
            id,
            bot_version: program.version,
            turn: session.turn,
            language,
            ..Session::default()
        };
    }
    // The request's own field, else what the host put in its context.
    let requested = request.language.as_deref().or_else(|| {
        ["language", "locale"]
            .iter()
            .find_map(|name| request.context.get(*name)?.as_str())
    });
    if let Some(requested) = requested
        && let Some(i) = crate::language::pick(requested, &program.languages)
        && session.language.as_deref() != Some(program.languages[i].as_str())
    {
        session.language = Some(program.languages[i].clone());
    }
    if let Some(zone) = &request.timezone
        && session.timezone.as_deref() != Some(zone.as_str())
        && jiff::tz::TimeZone::get(zone).is_ok()
    {
        session.timezone = Some(zone.clone());
    }
    if session.language.is_none()
        && requested.is_none()
        && let (Some(detector), Some(text)) = (&program.detector, &request.text)
        && let Some(i) = crate::language::detect(detector, text)
    {
        session.language = Some(program.languages[i].clone());
    }
    let language = session
        .language
        .as_deref()
        .and_then(|l| crate::language::pick(l, &program.languages))
        .unwrap_or(0);
    session.turn += 1;
    let now = now_secs();
    session.last_activity = now;
    if timed_out {
        session.timeouts = session.timeouts.saturating_add(1);
    } else if request.text.is_some() || request.location.is_some() || request.file.is_some() {
        session.timeouts = 0;
    }
    for (name, value) in &request.context {
        session.vars.insert(name, value.clone());
    }
    let mut turn = Turn {
        bot,
        program,
        session,
        request: &request,
        response: Response {
            events,
            ..Response::default()
        },
        steps: 0,
        input: std::cell::OnceCell::new(),
        user: std::cell::OnceCell::new(),
        trace: bot.tracing(),
        observer,
        at: CellIndex::new(0),
        script_time: bot.script_time(),
        language,
        secret_message,
        analytics: bot.analytics(),
        flow: None,
    };
    let restarted = turn.response.events.contains(&Event::Restarted);
    match turn.start(restarted) {
        Ok(()) => {}
        Err(failure) => {
            let nlu = std::mem::take(&mut turn.response.nlu);
            let mut trace = std::mem::take(&mut turn.response.trace);
            let at = turn.place(turn.at, failure.script);
            // Without the file, rhai's own position in the script is all
            // there is to go by.
            let message = match failure.script {
                Some((_, position)) if at.file.is_none() && !position.is_none() => {
                    format!("{} ({position})", failure.message)
                }
                _ => failure.message,
            };
            // An error may quote any value the turn touched: the secrets
            // the session held before the turn, those it gained, and the
            // message itself when it answered a masked input.
            let mut secrets = bot.secrets(turn.session);
            secrets.extend(bot.secrets(&snapshot));
            if secret_message && let Some(text) = &request.text {
                secrets.add(text);
            }
            let message = secrets.redact(&message).into_owned();
            if turn.trace {
                // The cell that failed ends the trace, with why.
                if let Some(cell) = program.cell_at(turn.at) {
                    trace.push(Step {
                        flow: at.flow.clone(),
                        cell: cell.id.clone(),
                        position: cell.position,
                        kind: crate::compile::kind_name(&cell.kind).to_owned(),
                        changed: BTreeMap::new(),
                        file: at.file.clone(),
                        line: at.line,
                        error: Some(message.clone()),
                    });
                }
            }
            turn.session.clone_from(&snapshot);
            // The failed turn still counts: a host numbering its history by
            // turn never sees a number twice.
            turn.session.turn += 1;
            turn.session.last_activity = now;
            turn.response = Response {
                answers: vec![Answer::text(turn.builtin_message(Builtin::Error))],
                nlu,
                trace,
                ..Response::default()
            };
            if turn.analytics {
                let at = program.cell_at(turn.at).map(|c| c.flow);
                turn.automatic("script_error", at, Some(turn.at), |p| {
                    p.insert("message".into(), Value::String(message.clone()));
                });
            }
            turn.response.events.push(Event::Error {
                message,
                at: Some(at),
            });
        }
    }
    turn.finish();
    SNAPSHOT.set(snapshot);
    Ok(turn.response)
}

impl Turn<'_> {
    /// This turn's time where the user is: in the time zone the host gave
    /// for the conversation, else the bot's.
    fn now(&self) -> jiff::ZonedDateTime {
        let zone = self
            .session
            .timezone
            .as_deref()
            .and_then(|name| jiff::tz::TimeZone::get(name).ok())
            .unwrap_or_else(|| self.program.timezone.clone());
        let seconds = i64::try_from(self.session.last_activity).unwrap_or(0);
        jiff::Timestamp::from_second(seconds)
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
            .to_zoned_datetime(zone)
    }

    /// A built-in message in the conversation's language.
    fn builtin_message(&self, message: Builtin) -> ArcStr {
        self.program
            .builtin_messages
            .get(self.language)
            .or_else(|| self.program.builtin_messages.first())
            .map(|m| m[message.position()].clone())
            .unwrap_or_default()
    }

    fn cover(&self, cell: CellIndex, branch: Option<Branch>) {
        if let Some(observer) = self.observer {
            let mut observer = observer.borrow_mut();
            match branch {
                Some(branch) => observer.branch(cell, branch),
                None => observer.cell(cell),
            }
        }
    }

    fn start(&mut self, restarted: bool) -> Result<(), Failure> {
        let request = self.request;
        let text = request
            .text
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty());
        if let Some(text) = text {
            // While an input waits, only global intents can interrupt it, so
            // only they are scored: a turn costs the same in a bot of any size.
            let pending_input = matches!(self.session.waiting, Some(Wait::Cell(c)) if matches!(self.program.cell(c).kind, Kind::Input { .. }));
            self.response.nlu = match &request.intent {
                Some(intent) => Nlu {
                    intent: Some(intent.clone()),
                    confidence: request.confidence.unwrap_or(1.0),
                    entities: request.entities.clone(),
                },
                None if pending_input && request.event.is_none() => {
                    if self.program.global_intents.is_empty() {
                        Nlu::default()
                    } else {
                        self.bot
                            .classifier()
                            .classify_global_in(self.program, text, self.language)
                    }
                }
                None => self
                    .bot
                    .classifier()
                    .classify_in(self.program, text, self.language),
            };
        }
        self.flow = self
            .session
            .waiting
            .and_then(|w| self.program.cell_at(w.cell()))
            .map(|c| c.flow);
        if restarted {
            self.response
                .answers
                .push(Answer::text(self.builtin_message(Builtin::Restarted)));
            return self.start_flow(self.program.welcome, "welcome");
        }
        match request.event.as_deref() {
            Some("resume") => {
                return match self.session.waiting {
                    Some(Wait::Agent(cell)) => {
                        self.session.waiting = None;
                        let Kind::Handoff { resume, .. } = &self.program.cell(cell).kind else {
                            return Ok(());
                        };
                        self.execute(*resume)
                    }
                    _ => Ok(()),
                };
            }
            Some("welcome") => return self.start_flow(self.program.welcome, "welcome"),
            Some("timeout") => return self.time_out(),
            Some(name) => {
                let flow = self.program.flow_by_name.get(name).copied();
                return self.start_flow(flow, "event");
            }
            None => {}
        }
        if self.session.handed_off() {
            // A human agent has the conversation until the host sends `resume`.
            return Ok(());
        }
        let payload = Payload {
            location: request.location.as_ref(),
            file: request.file.as_ref(),
        };
        let has_payload = payload.location.is_some() || payload.file.is_some();
        let Some(text) = text else {
            return match self.session.waiting {
                // A location or a file with no text answers the pending input.
                Some(Wait::Cell(cell)) if has_payload => match &self.program.cell(cell).kind {
                    Kind::Input { input, valid, fail } => {
                        self.answer_input(cell, input, *valid, *fail, "", payload)
                    }
                    _ => self.execute(Goto::Cell(cell)),
                },
                // An empty message to a pending question: ask again.
                Some(Wait::Cell(cell)) => self.execute(Goto::Cell(cell)),
                // A location or file nothing asked for: not understood.
                _ if has_payload => self.route(),
                _ => self.start_flow(self.program.welcome, "welcome"),
            };
        };
        match self.session.waiting {
            Some(Wait::Cell(cell)) => match &self.program.cell(cell).kind {
                Kind::Input { input, valid, fail } => {
                    self.answer_input(cell, input, *valid, *fail, text, payload)
                }
                Kind::Intent { routes, otherwise } => {
                    self.session.waiting = None;
                    let routed = self
                        .confident_intent()
                        .and_then(|i| routes.iter().position(|(r, _)| *r == i));
                    match (routed, otherwise) {
                        (Some(route), _) => {
                            self.cover(cell, Some(Branch::numbered(route, Branch::Route)));
                            let flow = self.program.cell(cell).flow;
                            self.intent_matched(routes[route].0, flow, Some(cell));
                            self.execute(routes[route].1)
                        }
                        (None, Some(to)) => {
                            self.cover(cell, Some(Branch::Unrouted));
                            self.execute(*to)
                        }
                        (None, None) => self.route(),
                    }
                }
                _ => {
                    self.session.waiting = None;
                    self.route()
                }
            },
            _ => self.route(),
        }
    }

    /// The recognised intent, when it clears the threshold.
    fn confident_intent(&self) -> Option<IntentIndex> {
        let nlu = &self.response.nlu;
        if nlu.confidence < self.program.threshold {
            return None;
        }
        let name = nlu.intent.as_deref()?;
        self.program.intent_by_name.get(name).copied()
    }

    fn answer_input(
        &mut self,
        cell: CellIndex,
        input: &Input,
        valid: Goto,
        fail: Goto,
        text: &str,
        payload: Payload<'_>,
    ) -> Result<(), Failure> {
        let language = self.language;
        let parsed =
            super::input::parse(self.program, input, text, payload, language, || self.now());
        // A global intent abandons the question ("cancel" works anywhere),
        // unless the message is a valid answer of a typed question (an
        // option, a number, an email...) and the intent is not a sure hit:
        // picking "Transferencia a Ejecutivo" from a menu answers the menu,
        // even though it sounds like asking for an agent. Any text answers
        // a free-text question, so there the intent always wins.
        if let Some(intent) = self.confident_intent()
            && self.program.intent(intent).global
            && let Some(&flow) = self.program.intent_flows.get(&intent)
            && (self.response.nlu.confidence >= 1.0
                || input.ty == InputType::Text
                || parsed.is_none())
        {
            self.intent_matched(intent, flow, None);
            return self.start_flow(Some(flow), "intent");
        }
        self.at = cell;
        match parsed {
            Some(value) => {
                self.cover(cell, Some(Branch::Valid));
                self.session.waiting = None;
                self.session.retries = 0;
                if input.mask && !self.session.masked.iter().any(|m| *m == input.var) {
                    self.session.masked.push(input.var.to_string());
                }
                let before = self.trace.then(|| self.session.vars.clone());
                match value {
                    Parsed::Text(text) => self.session.vars.set(&input.var, Var::Str(text)),
                    Parsed::Value(value) => self.session.vars.insert(&input.var, value),
                }
                if let Some(before) = before {
                    self.record(cell, &before);
                }
                self.execute(valid)
            }
            None if self.session.retries < input.retries => {
                self.cover(cell, Some(Branch::Invalid));
                self.session.retries += 1;
                if let Some(invalid) = &input.invalid {
                    let text = self.phrase(invalid);
                    self.response.answers.push(Answer::text(text));
                }
                self.ask(cell, input);
                Ok(())
            }
            None => {
                self.cover(cell, Some(Branch::Fail));
                self.session.waiting = None;
                self.session.retries = 0;
                if self.analytics {
                    let flow = self.program.cell(cell).flow;
                    self.automatic("input_failed", Some(flow), Some(cell), |p| {
                        p.insert("var".into(), Value::String(input.var.to_string()));
                    });
                }
                self.execute(fail)
            }
        }
    }

    /// Step 5: the best intent's flow, an entity's flow, the fallback, or the
    /// built-in "not understood".
    fn route(&mut self) -> Result<(), Failure> {
        self.session.stack.clear();
        if let Some(intent) = self.confident_intent()
            && let Some(&flow) = self.program.intent_flows.get(&intent)
        {
            self.intent_matched(intent, flow, None);
            return self.start_flow(Some(flow), "intent");
        }
        let entities = &self.response.nlu.entities;
        if let Some(&(_, flow)) = self
            .program
            .entity_flows
            .iter()
            .find(|(e, _)| entities.contains_key(self.program.entity(*e).name()))
        {
            return self.start_flow(Some(flow), "entity");
        }
        if self.analytics && !self.secret_message {
            let text = self.request.text.as_deref().map_or("", str::trim);
            self.automatic("fallback", self.program.fallback, None, |p| {
                p.insert("text".into(), Value::String(text.to_owned()));
            });
        }
        match self.program.fallback {
            Some(flow) => self.start_flow(Some(flow), "fallback"),
            None => {
                self.response
                    .answers
                    .push(Answer::text(self.builtin_message(Builtin::NotUnderstood)));
                Ok(())
            }
        }
    }

    /// The user kept the conversation waiting too long: the `on: timeout`
    /// flow runs, and when it completes the conversation waits again where
    /// it was, without asking again; with no such flow, it ends.
    fn time_out(&mut self) -> Result<(), Failure> {
        let Some(flow) = self.program.timeout else {
            let text = match &self.program.inactivity_message {
                Some(message) => self.phrase(message),
                None => self.builtin_message(Builtin::InactivityClosed),
            };
            self.response.answers.push(Answer::text(text));
            if self.analytics {
                let cell = self.session.waiting.map(Wait::cell);
                self.automatic("conversation_ended", self.flow, cell, |p| {
                    p.insert("reason".into(), Value::String("timeout".to_owned()));
                });
            }
            self.response.events.push(Event::End);
            self.session.ended = true;
            self.session.waiting = None;
            self.session.stack.clear();
            return Ok(());
        };
        let waiting = self.session.waiting;
        let stack = std::mem::take(&mut self.session.stack);
        let retries = self.session.retries;
        self.start_flow(Some(flow), "timeout")?;
        // The flow completed (it did not wait, end or hand off): back to
        // where the conversation was.
        let completed =
            self.session.waiting.is_none() && !self.session.ended && self.session.stack.is_empty();
        if completed {
            self.session.waiting = waiting;
            self.session.stack = stack;
            self.session.retries = retries;
        }
        Ok(())
    }

    /// Starts a flow afresh (what was pending and the call stack are
    /// dropped); `trigger` says why, for analytics.
    fn start_flow(
        &mut self,
        flow: Option<FlowIndex>,
        trigger: &'static str,
    ) -> Result<(), Failure> {
        self.session.waiting = None;
        self.session.retries = 0;
        self.session.stack.clear();
        match flow {
            Some(flow) => {
                self.flow = Some(flow);
                if self.analytics {
                    self.automatic("flow_started", Some(flow), None, |p| {
                        p.insert("trigger".into(), Value::String(trigger.to_owned()));
                    });
                }
                self.execute(self.program.flow_at(flow).entry)
            }
            None => Ok(()),
        }
    }

    /// Executes cells from `goto` until the turn stops.
    fn execute(&mut self, mut goto: Goto) -> Result<(), Failure> {
        loop {
            let cell = match goto {
                Goto::Cell(cell) => cell,
                Goto::Complete => {
                    if self.analytics && self.flow.is_some() {
                        self.automatic("flow_completed", self.flow, None, |_| {});
                    }
                    match self.session.stack.pop() {
                        Some(Frame {
                            after: Goto::Cell(after),
                            ..
                        }) => {
                            // Back in the caller: not a flow starting.
                            self.flow = Some(self.program.cell(after).flow);
                            after
                        }
                        Some(Frame {
                            after: Goto::Complete,
                            jump_key,
                        }) => {
                            // The call was the caller's last cell: it completes too.
                            self.flow = self
                                .program
                                .cell_by_key
                                .get(&jump_key)
                                .map(|&jump| self.program.cell(jump).flow);
                            continue;
                        }
                        None => {
                            self.flow = None;
                            return Ok(());
                        }
                    }
                }
            };
            let flow = self.program.cell(cell).flow;
            if self.flow != Some(flow) {
                // A jump, a call or a target in another flow enters it.
                self.flow = Some(flow);
                if self.analytics {
                    self.automatic("flow_started", Some(flow), None, |p| {
                        p.insert("trigger".into(), Value::String("jump".to_owned()));
                    });
                }
            }
            self.steps += 1;
            if self.steps > self.bot.max_steps() {
                return Err(Failure::new(format!(
                    "the turn ran more than {} cells without waiting for the user (a loop?)",
                    self.bot.max_steps()
                )));
            }
            self.at = cell;
            self.cover(cell, None);
            let before = self.trace.then(|| self.session.vars.clone());
            let next = self.cell(cell)?;
            if let Some(before) = before {
                self.record(cell, &before);
            }
            match next {
                Next::Go(to) => goto = to,
                Next::Stop => return Ok(()),
            }
        }
    }

    fn record(&mut self, cell: CellIndex, before: &super::Vars) {
        let c = self.program.cell(cell);
        let program = self.program;
        let left_out = |name: &str| name.starts_with('_') || program.is_hidden(name);
        let secrets = super::Secrets::of(program, self.session);
        let mut changed = BTreeMap::new();
        for (name, value) in self.session.vars.iter() {
            if before.get(name) != Some(value) && !left_out(name) {
                let shown = if self.session.is_masked(name) || program.is_masked(name) {
                    Value::String(MASK.into())
                } else {
                    let mut value = value.to_value();
                    secrets.redact_value(&mut value);
                    value
                };
                changed.insert(name.to_owned(), shown);
            }
        }
        for (name, _) in before.iter() {
            if !self.session.vars.contains_key(name) && !left_out(name) {
                changed.insert(name.to_owned(), Value::Null);
            }
        }
        let written = self.program.places.cell(cell.position());
        self.response.trace.push(Step {
            flow: self.program.flow_at(c.flow).name.to_string(),
            cell: c.id.clone(),
            position: c.position,
            kind: crate::compile::kind_name(&c.kind).to_owned(),
            changed,
            file: written.map(|w| w.file.to_owned()),
            line: written.map(|w| w.line),
            error: None,
        });
    }

    /// Where a cell is, for an error there: its flow, id and position, and
    /// the file and line it is written at (for a script, the line rhai
    /// stopped at). Only the error path asks.
    fn place(&self, index: CellIndex, script: Option<(usize, rhai::Position)>) -> Place {
        let program = self.program;
        let Some(cell) = program.cell_at(index) else {
            return Place {
                flow: String::new(),
                cell: None,
                position: 0,
                file: None,
                line: None,
            };
        };
        let written = match script {
            Some((script, position)) => {
                let line = position.line().and_then(|l| u32::try_from(l).ok());
                program
                    .places
                    .script(index.position(), script, line.unwrap_or(0))
            }
            None => program.places.cell(index.position()),
        };
        Place {
            flow: program.flow_at(cell.flow).name.to_string(),
            cell: cell.id.clone(),
            position: cell.position,
            file: written.map(|w| w.file.to_owned()),
            line: written.map(|w| w.line),
        }
    }

    fn ask(&mut self, cell: CellIndex, input: &Input) {
        if let Some(prompt) = &input.prompt {
            let text = self.phrase(prompt);
            let mut answer = Answer::text(text);
            if input.ty == InputType::Options && input.entity.is_none() {
                answer.quick_replies = input
                    .choices
                    .iter()
                    .map(|c| Button {
                        label: c.label(self.language).clone(),
                        value: None,
                        url: None,
                    })
                    .collect();
            }
            self.response.answers.push(answer);
        }
        self.session.waiting = Some(Wait::Cell(cell));
    }

    fn cell(&mut self, index: CellIndex) -> Result<Next, Failure> {
        let program = self.program;
        let cell = program.cell(index);
        Ok(match &cell.kind {
            Kind::Answer { answer, next } => {
                self.answers(index, answer)?;
                Next::Go(*next)
            }
            Kind::Input { input, .. } => {
                self.session.retries = 0;
                self.ask(index, input);
                Next::Stop
            }
            Kind::Rule { arms, otherwise } => {
                for (arm, (condition, to)) in arms.iter().enumerate() {
                    if self.condition(condition).map_err(|f| f.in_script(arm))? {
                        self.cover(index, Some(Branch::numbered(arm, Branch::Arm)));
                        return Ok(Next::Go(*to));
                    }
                }
                self.cover(index, Some(Branch::Else));
                Next::Go(*otherwise)
            }
            Kind::Code { script, next } => {
                self.script(script)?;
                Next::Go(*next)
            }
            Kind::Jump { to, call, after } => {
                if *call {
                    let point = Frame {
                        after: *after,
                        jump_key: cell.key,
                    };
                    if self.session.stack.len() >= 64 {
                        return Err(Failure::new("calls nested more than 64 deep"));
                    }
                    self.session.stack.push(point);
                }
                Next::Go(*to)
            }
            Kind::Intent { .. } => {
                self.session.waiting = Some(Wait::Cell(index));
                Next::Stop
            }
            Kind::Service { service, ok, error } => {
                let success = self.call(index, service)?;
                Next::Go(if success { *ok } else { *error })
            }
            Kind::Track {
                event,
                properties,
                next,
            } => {
                let properties = match properties.as_ref().map(|p| self.render_json(p)) {
                    Some(Value::Object(properties)) => properties,
                    _ => serde_json::Map::new(),
                };
                self.response.tracked.push(Tracked {
                    event: event.clone(),
                    flow: program.flow_at(cell.flow).name.clone(),
                    cell: cell.id.as_deref().map(ArcStr::from),
                    properties,
                });
                Next::Go(*next)
            }
            Kind::Handoff {
                queue,
                reason,
                message,
                ..
            } => {
                if let Some(message) = message {
                    let text = self.phrase(message);
                    self.response.answers.push(Answer::text(text));
                }
                let queue = self.render(queue);
                let reason = reason.as_ref().map(|r| self.render(r));
                if self.analytics {
                    self.automatic("handoff", Some(cell.flow), Some(index), |p| {
                        p.insert("queue".into(), Value::String(queue.clone()));
                        p.insert(
                            "reason".into(),
                            reason.clone().map_or(Value::Null, Value::String),
                        );
                    });
                }
                self.response.events.push(Event::Handoff { queue, reason });
                self.session.waiting = Some(Wait::Agent(index));
                Next::Stop
            }
            Kind::End { message } => {
                if let Some(message) = message {
                    let text = self.phrase(message);
                    self.response.answers.push(Answer::text(text));
                }
                if self.analytics {
                    // Ending the conversation is how its flow completes.
                    self.automatic("flow_completed", Some(cell.flow), None, |_| {});
                    self.automatic("conversation_ended", Some(cell.flow), Some(index), |p| {
                        p.insert("reason".into(), Value::String("end".to_owned()));
                    });
                }
                self.response.events.push(Event::End);
                self.session.ended = true;
                self.session.waiting = None;
                self.session.stack.clear();
                Next::Stop
            }
        })
    }

    // ---- the response ---------------------------------------------------------

    fn finish(&mut self) {
        // A failed turn puts back the session as it came; one from another
        // version of the bot keeps that version's indexes and key (the next
        // turn moves it over).
        if self.session.bot_version == self.program.version {
            self.session.waiting_key = self
                .session
                .waiting
                .and_then(|w| self.program.cell_at(w.cell()))
                .map_or(0, |c| c.key);
        }
        // The session remembers which of its variables hold a masked
        // value, whichever version of the bot it meets next.
        for name in &self.program.masked {
            if self.session.vars.contains_key(name) && !self.session.is_masked(name) {
                self.session.masked.push(name.clone());
            }
        }
        if !self.response.tracked.is_empty() {
            self.redact_tracked();
        }
        self.response.vars = self.bot.shown_vars(self.session);
        self.response.ended = self.session.ended;
        self.response.awaiting = awaiting(self.program, self.session);
    }
}

impl Turn<'_> {
    /// Reports an automatic analytics event (call only with analytics on:
    /// it allocates). `flow` is where it happened, `cell` the cell that
    /// reported it.
    fn automatic(
        &mut self,
        event: &'static str,
        flow: Option<FlowIndex>,
        cell: Option<CellIndex>,
        properties: impl FnOnce(&mut serde_json::Map<String, Value>),
    ) {
        let mut map = serde_json::Map::new();
        properties(&mut map);
        self.response.tracked.push(Tracked {
            event: ArcStr::from(event),
            flow: flow.map_or_else(ArcStr::new, |f| self.program.flow_at(f).name.clone()),
            cell: cell
                .and_then(|c| self.program.cell_at(c))
                .and_then(|c| c.id.as_deref())
                .map(ArcStr::from),
            properties: map,
        });
    }

    /// Reports that the turn follows the message's intent: it starts
    /// `flow`, or an `intent` cell (`cell`, in `flow`) routes on it.
    fn intent_matched(&mut self, intent: IntentIndex, flow: FlowIndex, cell: Option<CellIndex>) {
        if !self.analytics {
            return;
        }
        let name = self.program.intent(intent).name.clone();
        let confidence = self.response.nlu.confidence;
        self.automatic("intent_matched", Some(flow), cell, |p| {
            p.insert("intent".into(), Value::String(name));
            p.insert("confidence".into(), Value::from(confidence));
        });
    }

    /// Masks what the turn's analytics events say of the session's masked
    /// and hidden values, and of a message typed into a masked input.
    fn redact_tracked(&mut self) {
        let mut secrets = self.bot.secrets(self.session);
        if self.secret_message
            && let Some(text) = &self.request.text
        {
            secrets.add(text);
        }
        if secrets.is_empty() {
            return;
        }
        for tracked in &mut self.response.tracked {
            for value in tracked.properties.values_mut() {
                secrets.redact_value(value);
            }
        }
    }
}

/// Sets a host's context variables without running a turn: the same
/// checks as a request's `context` (depth, read-only variables), all or
/// none.
pub(super) fn set_context(
    program: &Program,
    session: &mut Session,
    context: &BTreeMap<String, Value>,
) -> Result<(), TurnError> {
    context_fits(program, session, context)?;
    for (name, value) in context {
        session.vars.insert(name, value.clone());
    }
    Ok(())
}

/// Whether a host's `context` may be applied to `session`: no value too
/// deep to store, a session that fits this bot, no read-only variable
/// changed.
fn context_fits(
    program: &Program,
    session: &Session,
    context: &BTreeMap<String, Value>,
) -> Result<(), TurnError> {
    if let Some((name, _)) = context
        .iter()
        .find(|(_, value)| too_deep(value, MAX_VALUE_DEPTH))
    {
        return Err(TurnError::ValueTooDeep {
            name: name.clone(),
            limit: MAX_VALUE_DEPTH,
        });
    }
    if let Some(reason) = misfit(program, session) {
        return Err(TurnError::SessionMismatch(reason));
    }
    if !program.readonly.is_empty() {
        read_only_untouched(program, session, context)?;
    }
    Ok(())
}

/// Refuses a request whose context would change a read-only variable: one
/// the session has (to another value), or one the host does not provide
/// (not in `bot.context`) at all.
fn read_only_untouched(
    program: &Program,
    session: &Session,
    context: &BTreeMap<String, Value>,
) -> Result<(), TurnError> {
    for (name, value) in context {
        if !program.is_readonly(name) {
            continue;
        }
        let current = if session.ended {
            None
        } else {
            session.vars.get(name)
        };
        let allowed = match current {
            Some(current) => current.is(value),
            None => program.context.iter().any(|c| c == name),
        };
        if !allowed {
            return Err(TurnError::ReadOnly { name: name.clone() });
        }
    }
    Ok(())
}

/// Whether `program` can wait at `wait` (a cell of the right kind there).
fn can_wait(program: &Program, wait: Wait) -> bool {
    matches!(
        (wait, program.cell_at(wait.cell()).map(|c| &c.kind)),
        (
            Wait::Cell(_),
            Some(Kind::Input { .. } | Kind::Intent { .. })
        ) | (Wait::Agent(_), Some(Kind::Handoff { .. }))
    )
}

/// Why a session cannot run on `program`, if it cannot: a host's session
/// (or a store's) may be corrupt, or from another bot, and its cell
/// indexes are followed without a lookup. Only a session that claims this
/// version of the bot is checked here; one from another version (or none)
/// is moved over by key (see [`rebase`]), which never trusts its indexes.
fn misfit(program: &Program, session: &Session) -> Option<String> {
    if session.bot_version != program.version {
        return None;
    }
    if let Some(wait) = session.waiting
        && !can_wait(program, wait)
    {
        return Some(format!(
            "it waits on cell {}, where this bot has no cell that can wait that way",
            wait.cell()
        ));
    }
    session
        .stack
        .iter()
        .find_map(|frame| match frame.after {
            Goto::Cell(after) if program.cell_at(after).is_none() => Some(after),
            _ => None,
        })
        .map(|after| format!("it returns to cell {after}, which this bot does not have"))
}

/// Moves a session saved by another version of the bot onto `program`'s
/// cell indexes, by key. False (and the session unchanged) when a cell it
/// waits on or returns to no longer exists, or is no longer of a kind that
/// can wait the same way.
fn rebase(program: &Program, session: &mut Session) -> bool {
    let waiting = match (session.waiting, waiting(program, session)) {
        (None, _) => None,
        (Some(_), Some(moved)) => Some(moved),
        (Some(_), None) => return false,
    };
    let mut stack = session.stack.clone();
    for frame in &mut stack {
        // The calling jump, found by key, says where to return.
        let jump = program
            .cell_by_key
            .get(&frame.jump_key)
            .map(|&c| &program.cell(c).kind);
        match jump {
            Some(Kind::Jump {
                call: true, after, ..
            }) => frame.after = *after,
            _ => return false,
        }
    }
    session.waiting = waiting;
    session.stack = stack;
    true
}

/// The session's wait on `program`'s indexes: as stored when the session
/// last ran on this program, found by key when it ran on another version
/// (`None` when that cell is gone or can no longer wait the same way).
pub(crate) fn waiting(program: &Program, session: &Session) -> Option<Wait> {
    let wait = session.waiting?;
    if session.bot_version == program.version {
        return can_wait(program, wait).then_some(wait);
    }
    let &cell = program.cell_by_key.get(&session.waiting_key)?;
    let kind = &program.cell(cell).kind;
    match wait {
        Wait::Cell(_) if matches!(kind, Kind::Input { .. } | Kind::Intent { .. }) => {
            Some(Wait::Cell(cell))
        }
        Wait::Agent(_) if matches!(kind, Kind::Handoff { .. }) => Some(Wait::Agent(cell)),
        _ => None,
    }
}

/// What a session waits for, as a response tells the host.
pub(crate) fn awaiting(program: &Program, session: &Session) -> Option<Awaiting> {
    match waiting(program, session) {
        Some(Wait::Cell(cell)) => match &program.cell(cell).kind {
            Kind::Input { input, .. } => Some(Awaiting::Input {
                var: input.var.clone(),
                ty: input_type(input.ty),
                options: input.choices.iter().map(|c| c.value.clone()).collect(),
                pattern: input.pattern.as_ref().map(|p| ArcStr::from(p.as_str())),
                offer: match input.ty {
                    InputType::Location => Some(literal!("location_picker")),
                    InputType::File | InputType::Image => Some(literal!("file_upload")),
                    _ => None,
                },
                accept: input.types.clone(),
                max_size: input.max_size,
            }),
            _ => Some(Awaiting::Intent),
        },
        _ => None,
    }
}

/// An input type's name, as the response shows it (no allocation).
fn input_type(ty: InputType) -> ArcStr {
    match ty {
        InputType::Text => literal!("text"),
        InputType::Number => literal!("number"),
        InputType::Integer => literal!("integer"),
        InputType::Boolean => literal!("boolean"),
        InputType::Email => literal!("email"),
        InputType::Phone => literal!("phone"),
        InputType::Date => literal!("date"),
        InputType::Options => literal!("options"),
        InputType::Pattern => literal!("pattern"),
        InputType::Location => literal!("location"),
        InputType::File => literal!("file"),
        InputType::Image => literal!("image"),
        InputType::Time => literal!("time"),
        InputType::Datetime => literal!("datetime"),
    }
}
