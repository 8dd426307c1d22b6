//! Exploring a bot's conversation space without a script (`cellflow explore`).
//!
//! A breadth-first walk over conversation states. It starts from `welcome`,
//! from each intent- or entity-triggered flow, and from a message nobody
//! understands; at each state it sends what a user could plausibly send:
//! every option, button and quick-reply value on offer, a valid and an
//! invalid value for a pending input's type, the first example of each
//! intent that could be routed, one message nobody understands, and, where
//! the conversation can time out, the `timeout` event (the user went quiet). Service
//! cells are answered without the network: the first time a path calls a
//! service the walk forks, once with the call succeeding and once failing,
//! and the choice holds for the rest of that path (so a path replays as a
//! conversation test with one mock per service).
//!
//! States are deduplicated by everything that decides what happens next
//! (position, call stack, retries, variables, service outcomes), and the
//! walk stops at `depth` turns per path or `max_states` states in all.
//!
//! It reports turns that failed (a script error, the step limit) and
//! placeholders that rendered with no value, and keeps the paths that reached
//! something new, which [`Exploration::tests_yaml`] writes as a test file.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use serde_json::Value;

use crate::ast::InputType;
use crate::compile::{Entity, Input, IntentIndex, Kind, Program};
use crate::runtime::{
    Bot, Event, FnClient, HttpRequest, HttpResponse, Request, Response, Session, Wait,
};
use crate::source::Span;
use crate::testing::coverage::{Coverage, UnsetRead};
use crate::testing::file::{Expect, Expected, Mock, Step, Test};

/// What nobody understands.
const GIBBERISH: &str = "qzxv wplk";

/// Bounds and inputs of a walk.
#[derive(Clone, Debug)]
pub struct Options {
    /// Most turns in one path.
    pub depth: usize,
    /// Most distinct states visited in all.
    pub max_states: usize,
    /// Context variables sent with each path's first message.
    pub context: BTreeMap<String, Value>,
    /// The language each path's first message asks for.
    pub language: Option<String>,
    /// Answers per service id (status, body), e.g. from the bot's tests.
    /// Each path tries each one; a service with no successful answer also
    /// gets `200 {}`, and one with no server error `503`.
    pub mocks: BTreeMap<String, Vec<(u16, String)>>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            depth: 10,
            max_states: 5_000,
            context: BTreeMap::new(),
            language: None,
            mocks: BTreeMap::new(),
        }
    }
}

/// A message of a path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    User(String),
    Event(String),
    /// An upload, as a channel sends it for a `file` or `image` input.
    File(serde_json::Value),
}

impl std::fmt::Display for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Message::User(text) => write!(f, "{text:?}"),
            Message::Event(name) => write!(f, "event {name}"),
            Message::File(file) => write!(f, "file {file}"),
        }
    }
}

/// One visited state: the message that led to it and what came back.
struct Node {
    parent: Option<usize>,
    message: Message,
    response: Response,
    session: Session,
    /// Service id → which of its answers it gives on this path.
    outcomes: BTreeMap<String, usize>,
    depth: usize,
}

/// Something wrong a path ran into.
#[derive(Clone, Debug)]
pub enum Finding {
    /// The turn failed: a script error or the step limit, in the cell
    /// `at` (with its file and line).
    TurnFailed {
        message: String,
        at: Option<crate::runtime::Place>,
    },
    /// A placeholder rendered with no value.
    Unset(UnsetRead),
}

/// A path from a fresh session: its messages and what each got.
#[derive(Clone, Debug)]
pub struct Path {
    pub turns: Vec<(Message, Response)>,
    /// What each service called on the path answered: (status, body).
    pub outcomes: BTreeMap<String, (u16, String)>,
}

/// What a walk found.
#[derive(Debug)]
pub struct Exploration {
    pub coverage: Coverage,
    /// Each finding with the path that shows it.
    pub findings: Vec<(Finding, Path)>,
    /// Paths that reached a cell or branch no earlier path had, none a
    /// prefix of another.
    pub paths: Vec<Path>,
    pub states: usize,
    /// Whether the walk stopped at `max_states` with states left to visit.
    pub truncated: bool,
}

/// Walks the bot's conversation space.
#[must_use]
pub fn explore(bot: &Bot, options: &Options) -> Exploration {
    // As in conversation tests: the walk never reads the environment.
    let bot = &bot
        .clone()
        .with_environment(|name| Some(super::placeholder_env(name)));
    Walker {
        bot,
        program: bot.program(),
        options,
        nodes: Vec::new(),
        seen: HashSet::new(),
        coverage: Coverage::new(),
        findings: Vec::new(),
        new_ground: Vec::new(),
        mocks: Arc::new(options.mocks.clone()),
    }
    .run()
}

struct Walker<'a> {
    bot: &'a Bot,
    program: &'a Program,
    options: &'a Options,
    nodes: Vec<Node>,
    seen: HashSet<String>,
    coverage: Coverage,
    findings: Vec<(Finding, usize)>,
    /// Nodes whose turn reached something new.
    new_ground: Vec<usize>,
    mocks: Arc<BTreeMap<String, Vec<(u16, String)>>>,
}

impl Walker<'_> {
    fn run(mut self) -> Exploration {
        let mut queue: VecDeque<Option<usize>> = VecDeque::from([None]);
        let mut truncated = false;
        'walk: while let Some(parent) = queue.pop_front() {
            let messages = match parent {
                None => self.openings(),
                Some(node) => self.replies(node),
            };
            for message in messages {
                for child in self.step(parent, &message) {
                    if self.seen.len() >= self.options.max_states {
                        truncated = true;
                        break 'walk;
                    }
                    let node = &self.nodes[child];
                    if node.depth < self.options.depth && !node.session.ended {
                        queue.push_back(Some(child));
                    }
                }
            }
        }
        let paths = self.kept_paths();
        Exploration {
            findings: self
                .findings
                .iter()
                .map(|(finding, node)| (finding.clone(), self.path(*node)))
                .collect(),
            paths,
            states: self.seen.len(),
            truncated,
            coverage: self.coverage,
        }
    }

    /// How paths start: welcome, each triggered flow, and something nobody understands.
    fn openings(&self) -> Vec<Message> {
        let mut messages = Vec::new();
        let mut intents: Vec<IntentIndex> = self.program.intent_flows.keys().copied().collect();
        intents.sort_unstable();
        for intent in intents {
            messages.extend(self.example(intent).map(Message::User));
        }
        for (entity, _) in &self.program.entity_flows {
            match self.program.entity(*entity) {
                Entity::List { values, .. } => {
                    messages.extend(values.first().map(|v| Message::User(v.canonical.clone())));
                }
                Entity::Pattern { regex, .. } => {
                    messages.extend(sample(regex.as_str()).map(Message::User));
                }
            }
        }
        messages.push(Message::User(GIBBERISH.into()));
        messages.dedup();
        if self.program.welcome.is_some() {
            messages.insert(0, Message::Event("welcome".into()));
        }
        messages
    }

    /// What a user could send in the state a node left the session in.
    fn replies(&self, node: usize) -> Vec<Message> {
        let node = &self.nodes[node];
        let mut messages: Vec<Message> = Vec::new();
        let mut upload = None;
        let mut say = |text: String| {
            let message = Message::User(text);
            if !messages.contains(&message) {
                messages.push(message);
            }
        };
        for answer in &node.response.answers {
            let buttons = answer
                .buttons
                .iter()
                .chain(&answer.quick_replies)
                .chain(answer.cards.iter().flat_map(|c| &c.buttons));
            for button in buttons.filter(|b| b.url.is_none()) {
                say(button.value.as_ref().unwrap_or(&button.label).to_string());
            }
        }
        match node.session.waiting {
            Some(Wait::Agent(_)) => return vec![Message::Event("resume".into())],
            Some(Wait::Cell(cell)) => match &self.program.cell(cell).kind {
                Kind::Input { input, .. } => {
                    for value in self.valid_values(input) {
                        say(value);
                    }
                    if input.ty.is_upload() {
                        upload = Some(Message::File(sample_upload(input)));
                    }
                    for intent in &self.program.global_intents {
                        if let Some(example) = self.example(*intent) {
                            say(example);
                        }
                    }
                    if let Some(invalid) = invalid_value(input) {
                        say(invalid);
                    }
                }
                Kind::Intent { routes, .. } => {
                    for (intent, _) in routes {
                        if let Some(example) = self.example(*intent) {
                            say(example);
                        }
                    }
                }
                _ => {}
            },
            None => {
                let mut intents: Vec<IntentIndex> =
                    self.program.intent_flows.keys().copied().collect();
                intents.sort_unstable();
                for intent in intents {
                    if let Some(example) = self.example(intent) {
                        say(example);
                    }
                }
            }
        }
        say(GIBBERISH.into());
        messages.extend(upload);
        // The user goes quiet, where a host would time the conversation out.
        let times_out = self.bot.inactivity(&node.session).is_some()
            || (self.program.timeout.is_some() && node.session.turn > 0);
        if times_out {
            messages.push(Message::Event("timeout".into()));
        }
        messages
    }

    /// Something the classifier recognises as the intent: its first example,
    /// else a string made from its first pattern.
    fn example(&self, intent: IntentIndex) -> Option<String> {
        let nlu = &self.program.nlu;
        let from_pattern = || sample(nlu.patterns.first_of(intent.position())?);
        self.program
            .intent(intent)
            .example
            .clone()
            .or_else(from_pattern)
    }

    fn valid_values(&self, input: &Input) -> Vec<String> {
        if input.ty == InputType::Options {
            if let Some(Entity::List { values, .. }) = input.entity.map(|e| self.program.entity(e))
            {
                return values.iter().map(|v| v.canonical.clone()).collect();
            }
            return input.choices.iter().map(|c| c.value.to_string()).collect();
        }
        let comma = crate::runtime::decimal_comma(&self.program.locale);
        // The bounds, where rules often branch, else an ordinary number.
        let number = |whole: bool| -> Vec<String> {
            let mut values: Vec<f64> = input.min.into_iter().chain(input.max).collect();
            if values.is_empty() {
                values.push(42.0);
            }
            values
                .into_iter()
                .map(|n| {
                    let n = if whole { n.ceil() } else { n };
                    let text = n.to_string();
                    if comma { text.replace('.', ",") } else { text }
                })
                .collect()
        };
        match input.ty {
            InputType::Text => {
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let len = input.min.unwrap_or(5.0).max(1.0) as usize;
                vec!["hello world".chars().cycle().take(len).collect()]
            }
            InputType::Number => number(false),
            InputType::Integer => number(true),
            InputType::Boolean => vec!["yes".into(), "no".into()],
            InputType::Email => vec!["ana@example.com".into()],
            InputType::Phone => vec!["+1 555 010 0200".into()],
            InputType::Date => vec![sample_date(input)],
            InputType::Time => vec!["15:30".into()],
            InputType::Datetime => vec![format!("{} at 15:30", sample_date(input))],
            InputType::Pattern => input
                .pattern
                .as_ref()
                .and_then(|p| sample(p.as_str()))
                .into_iter()
                .collect(),
            // Options are listed above; uploads are sent as files
            // (`sample_upload`).
            InputType::Options | InputType::File | InputType::Image => Vec::new(),
            // Coordinates typed as text, as a channel without a location
            // picker sends them.
            InputType::Location => vec!["-33.4372, -70.6506".into()],
        }
    }

    /// Sends a message from a node's state (or a fresh session); returns the
    /// new nodes (more than one when a service call forks the path).
    fn step(&mut self, parent: Option<usize>, message: &Message) -> Vec<usize> {
        let (session, outcomes, depth) = match parent {
            Some(p) => {
                let node = &self.nodes[p];
                (node.session.clone(), node.outcomes.clone(), node.depth)
            }
            None => (Session::new("test"), BTreeMap::new(), 0),
        };
        let mut children = Vec::new();
        let mut pending = vec![outcomes];
        while let Some(outcomes) = pending.pop() {
            let mut session = session.clone();
            let mut request = match message {
                Message::User(text) => Request::text(text.clone()),
                Message::Event(name) => Request::event(name.clone()),
                Message::File(file) => Request {
                    file: Some(file.clone()),
                    ..Request::default()
                },
            };
            if parent.is_none() {
                request.context.clone_from(&self.options.context);
                request.language.clone_from(&self.options.language);
            }
            let called: Arc<Mutex<Vec<String>>> = Arc::default();
            let bot = self.bot.clone().with_http(client(
                outcomes.clone(),
                Arc::clone(&called),
                Arc::clone(&self.mocks),
            ));
            let turn_coverage = RefCell::new(Coverage::new());
            let Ok(response) = bot.turn_covered(&mut session, request, &turn_coverage) else {
                continue;
            };
            let newly: Vec<String> = called
                .lock()
                .map(|c| c.clone())
                .unwrap_or_default()
                .into_iter()
                .filter(|id| !outcomes.contains_key(id))
                .collect();
            for id in &newly {
                for other in 1..alternatives(&self.mocks, id).len() {
                    let mut forked = outcomes.clone();
                    forked.insert(id.clone(), other);
                    pending.push(forked);
                }
            }
            let mut outcomes = outcomes;
            for id in newly {
                outcomes.insert(id, 0);
            }
            let index = self.nodes.len();
            let turn_coverage = turn_coverage.into_inner();
            let new = turn_coverage.adds_to(&self.coverage);
            let mut found = Vec::new();
            for read in turn_coverage.unset_reads() {
                if !self.coverage.unset_reads().any(|r| r == read) {
                    found.push(Finding::Unset(read.clone()));
                }
            }
            for event in &response.events {
                if let Event::Error { message, at } = event {
                    let known = self.findings.iter().any(|(f, _)| {
                        matches!(f, Finding::TurnFailed { message: m, at: a } if m == message && a == at)
                    });
                    if !known {
                        found.push(Finding::TurnFailed {
                            message: message.clone(),
                            at: at.clone(),
                        });
                    }
                }
            }
            self.coverage.merge(&turn_coverage);
            let fresh = self.seen.insert(state_key(&session, &outcomes));
            // A known state is not walked again, but a turn into it that
            // reached new ground or found a problem still makes a path.
            if !fresh && !new && found.is_empty() {
                continue;
            }
            self.findings.extend(found.into_iter().map(|f| (f, index)));
            if new {
                self.new_ground.push(index);
            }
            self.nodes.push(Node {
                parent,
                message: message.clone(),
                response,
                session,
                outcomes,
                depth: depth + 1,
            });
            if fresh {
                children.push(index);
            }
        }
        children
    }
}

/// Answers service calls per a path's outcomes; an undecided call succeeds
/// and is noted in `called`.
fn client(
    outcomes: BTreeMap<String, usize>,
    called: Arc<Mutex<Vec<String>>>,
    mocks: Arc<BTreeMap<String, Vec<(u16, String)>>>,
) -> FnClient<impl Fn(&HttpRequest) -> Result<HttpResponse, crate::runtime::HttpError>> {
    {
        FnClient(move |request: &HttpRequest| {
            let id = request.cell.clone().unwrap_or_else(|| request.url.clone());
            if let Ok(mut called) = called.lock()
                && !called.contains(&id)
            {
                called.push(id.clone());
            }
            let mut answers = alternatives(&mocks, &id);
            let (status, body) = answers.swap_remove(outcomes.get(&id).copied().unwrap_or(0));
            Ok(HttpResponse { status, body })
        })
    }
}

impl Walker<'_> {
    fn path(&self, mut node: usize) -> Path {
        let mut turns = Vec::new();
        let outcomes = self.nodes[node]
            .outcomes
            .iter()
            .map(|(id, &i)| (id.clone(), alternatives(&self.mocks, id).swap_remove(i)))
            .collect();
        loop {
            let n = &self.nodes[node];
            turns.push((n.message.clone(), n.response.clone()));
            match n.parent {
                Some(parent) => node = parent,
                None => break,
            }
        }
        turns.reverse();
        Path { turns, outcomes }
    }

    /// The paths that reached new ground, without those that are a prefix of
    /// another kept path.
    fn kept_paths(&self) -> Vec<Path> {
        let mut covered_by_longer = vec![false; self.nodes.len()];
        for &node in &self.new_ground {
            let mut at = self.nodes[node].parent;
            while let Some(p) = at {
                covered_by_longer[p] = true;
                at = self.nodes[p].parent;
            }
        }
        self.new_ground
            .iter()
            .filter(|&&n| !covered_by_longer[n])
            .map(|&n| self.path(n))
            .collect()
    }
}

/// The answers a service gives on some path: successes first.
fn alternatives(mocks: &BTreeMap<String, Vec<(u16, String)>>, id: &str) -> Vec<(u16, String)> {
    let ok = |status: u16| (200..300).contains(&status);
    let mut answers = mocks.get(id).cloned().unwrap_or_default();
    answers.dedup();
    if !answers.iter().any(|(s, _)| ok(*s)) {
        answers.push((200, "{}".into()));
    }
    // A server error can always happen, whatever the tests expect.
    if !answers.iter().any(|(s, _)| *s >= 500) {
        answers.push((503, String::new()));
    }
    answers.sort_by_key(|(s, _)| !ok(*s));
    answers
}

/// What makes two states the same for what can happen next.
fn state_key(session: &Session, outcomes: &BTreeMap<String, usize>) -> String {
    let mut key = serde_json::json!({
        "waiting": session.waiting,
        "stack": session.stack,
        "vars": session.vars,
        "retries": session.retries,
        "sequence": session.sequence,
        "ended": session.ended,
        "timeouts": session.timeouts,
    })
    .to_string();
    for (id, ok) in outcomes {
        let _ = write!(key, "|{id}={ok}");
    }
    key
}

/// A value a pending input rejects, if any.
/// A day a date input accepts, written so that it stays valid whenever the
/// test runs: a fixed day without bounds, else one relative to today
/// within them (or a fixed bound itself).
fn sample_date(input: &Input) -> String {
    use crate::when::Bound;
    let (after, before) = (input.after, input.before);
    if after.is_none() && before.is_none() {
        return "2030-01-15".into();
    }
    let low = match after {
        Some(Bound::FromToday(n)) => Some(n),
        _ => None,
    };
    let high = match before {
        Some(Bound::FromToday(n)) => Some(n),
        _ => None,
    };
    let fits = |k: i32| low.is_none_or(|l| k >= l) && high.is_none_or(|h| k <= h);
    let relative = |k: i32| match k {
        0 => "today".to_owned(),
        1 => "tomorrow".to_owned(),
        -1 => "yesterday".to_owned(),
        k => format!("in {k} days"),
    };
    match (after, before) {
        (Some(Bound::On(day)), _) | (_, Some(Bound::On(day))) => day.to_string(),
        _ => [1, 0, -1, 7, 30]
            .into_iter()
            .find(|k| fits(*k))
            .or(low.filter(|l| *l > 1))
            .map_or_else(|| "today".to_owned(), relative),
    }
}

/// What a masked answer is expected to be in a written test: anything.
static ANYTHING: std::sync::LazyLock<regex::Regex> =
    std::sync::LazyLock::new(|| regex::Regex::new("(?s).*").expect("valid regex"));

/// An upload the input accepts: a file of its first accepted type (a
/// wildcard such as `image/*` made concrete), under its size limit.
fn sample_upload(input: &Input) -> serde_json::Value {
    let media_type = match input.types.first() {
        Some(t) if t.ends_with("/*") => format!("{}/sample", &t[..t.len() - 2]),
        Some(t) => t.to_string(),
        None => "application/pdf".to_owned(),
    };
    let size = input.max_size.map_or(1024, |max| max.min(1024));
    serde_json::json!({
        "url": "https://example.com/uploads/sample",
        "name": "sample",
        "media_type": media_type,
        "size": size,
    })
}

fn invalid_value(input: &Input) -> Option<String> {
    match input.ty {
        InputType::Text => match (input.min, input.max) {
            (Some(min), _) if min > 1.0 => Some("x".into()),
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            (_, Some(max)) => Some("x".repeat(max as usize + 1)),
            _ => None,
        },
        InputType::Number | InputType::Integer => match (input.min, input.max) {
            (Some(min), _) => Some((min - 1.0).floor().to_string()),
            (None, Some(max)) => Some((max + 1.0).ceil().to_string()),
            (None, None) => Some(GIBBERISH.into()),
        },
        _ => Some(GIBBERISH.into()),
    }
}

/// A short string the regular expression matches, if one is easy to make:
/// literals as written, the first character of each class, each repetition
/// its minimum times, the first alternative.
#[must_use]
pub fn sample(pattern: &str) -> Option<String> {
    use regex_syntax::hir::{Class, HirKind};
    fn walk(hir: &regex_syntax::hir::Hir, out: &mut String, depth: usize) -> Option<()> {
        if depth > 64 || out.len() > 256 {
            return None;
        }
        match hir.kind() {
            HirKind::Empty | HirKind::Look(_) => {}
            HirKind::Literal(literal) => out.push_str(std::str::from_utf8(&literal.0).ok()?),
            HirKind::Class(Class::Unicode(class)) => {
                // Prefer a letter or digit: the first range's start may be a
                // control character.
                let ranges = class.ranges();
                let pick = ranges
                    .iter()
                    .flat_map(|r| [r.start(), r.end()])
                    .find(char::is_ascii_alphanumeric)
                    .or_else(|| {
                        ranges
                            .first()
                            .map(regex_syntax::hir::ClassUnicodeRange::start)
                    })?;
                out.push(pick);
            }
            HirKind::Class(Class::Bytes(class)) => {
                out.push(char::from(class.ranges().first()?.start()));
            }
            HirKind::Repetition(rep) => {
                for _ in 0..rep.min.min(64) {
                    walk(&rep.sub, out, depth + 1)?;
                }
            }
            HirKind::Capture(capture) => walk(&capture.sub, out, depth + 1)?,
            HirKind::Concat(items) => {
                for item in items {
                    walk(item, out, depth + 1)?;
                }
            }
            HirKind::Alternation(items) => walk(items.first()?, out, depth + 1)?,
        }
        Some(())
    }
    let hir = regex_syntax::parse(pattern).ok()?;
    let mut out = String::new();
    walk(&hir, &mut out, 0)?;
    let regex = regex::Regex::new(pattern).ok()?;
    regex.is_match(&out).then_some(out)
}

impl Exploration {
    /// The kept paths as conversation tests: each message with what the bot
    /// answered at the time, and the mocks the path's service calls got.
    #[must_use]
    pub fn tests(&self, options: &Options) -> Vec<Test> {
        self.paths
            .iter()
            .enumerate()
            .map(|(n, path)| {
                let summary: Vec<String> = path.turns.iter().map(|(m, _)| m.to_string()).collect();
                let failing: Vec<String> = path
                    .outcomes
                    .iter()
                    .filter(|(_, (status, _))| !(200..300).contains(status))
                    .map(|(id, (status, _))| format!("{id} answers {status}"))
                    .collect();
                let mut name = format!("explored {}: {}", n + 1, summary.join(" → "));
                if !failing.is_empty() {
                    let _ = write!(name, " ({})", failing.join(", "));
                }
                if name.chars().count() > 100 {
                    name = name.chars().take(99).collect::<String>() + "…";
                }
                Test {
                    name,
                    language: options.language.clone(),
                    context: options.context.clone(),
                    steps: path.turns.iter().map(|(m, r)| step(m, r)).collect(),
                    mocks: path
                        .outcomes
                        .iter()
                        .map(|(id, (status, body))| Mock {
                            service: id.clone(),
                            status: *status,
                            body: body.clone(),
                        })
                        .collect(),
                    span: Span::default(),
                }
            })
            .collect()
    }

    /// The kept paths as a conversation-test file (docs/TESTING.md) to review and keep.
    #[must_use]
    pub fn tests_yaml(&self, options: &Options) -> String {
        crate::testing::file::write(
            &self.tests(options),
            "# Written by `cellflow explore`: conversations it found, with what the bot\n\
             # answered at the time. Review them before keeping them as tests.\n",
        )
    }
}

/// A step of an explored path: the message, and everything the bot did.
fn step(message: &Message, response: &Response) -> Step {
    let (user, event, file) = match message {
        Message::User(text) => (Some(text.clone()), None, None),
        Message::Event(name) => (None, Some(name.clone()), None),
        Message::File(file) => (None, None, Some(file.clone())),
    };
    Step {
        user,
        event,
        location: None,
        file,
        expect: expectation(response),
        span: Span::default(),
    }
}

/// What a test expects of a turn that answered `response`: its answers
/// exactly (a masked one as anything), what it awaits, its events, and
/// whether it ended. `cellflow explore` and the studio write tests with it.
pub(crate) fn expectation(response: &Response) -> Expect {
    let awaiting = match &response.awaiting {
        Some(crate::runtime::Awaiting::Input { var, .. }) => {
            Some(("input".to_owned(), Some(var.to_string())))
        }
        Some(crate::runtime::Awaiting::Intent) => Some(("intent".to_owned(), None)),
        None => None,
    };
    Expect {
        answers: Some(
            response
                .answers
                .iter()
                .filter(|a| !a.is_pause())
                .map(|a| {
                    if a.mask {
                        // A masked answer is never written down.
                        Expected::Regex(ANYTHING.clone())
                    } else {
                        Expected::Exact(a.text.to_string())
                    }
                })
                .collect(),
        ),
        awaiting: Some(awaiting),
        vars: BTreeMap::new(),
        events: response
            .events
            .iter()
            .filter_map(|e| match e {
                Event::Handoff { .. } => Some("handoff".to_owned()),
                Event::End => Some("end".to_owned()),
                Event::Error { .. } => Some("error".to_owned()),
                // The path's mocks say how each service answers.
                Event::Restarted | Event::ServiceFailed { .. } => None,
            })
            .collect(),
        ended: Some(response.ended),
        tracked: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::sample;

    #[test]
    fn samples_match_their_patterns() {
        for pattern in [
            r"^\d{7,8}-[\dkK]$",
            r"\b[A-Z]{2}\d{6}\b",
            r"(?i)^(hi|hello)\s+there$",
            r"^[a-z]+@[a-z]+\.(com|org)$",
            r"x*y?z+",
        ] {
            let text = sample(pattern).unwrap_or_else(|| panic!("no sample for {pattern}"));
            assert!(
                regex::Regex::new(pattern).unwrap().is_match(&text),
                "{pattern}: {text}"
            );
        }
        assert_eq!(sample(r"^\d{3}$").as_deref(), Some("000"));
        // Unsupported or impossible patterns give nothing, not a wrong sample.
        assert_eq!(sample(r"(").as_deref(), None);
        assert_eq!(sample(r"a\bb").as_deref(), None);
    }
}
