//! Conversation tests (docs/TESTING.md): `*.test.yaml` files of scripted
//! conversations with expectations, run against a compiled bot.
//!
//! A test file is read through the same spanned YAML tree as flow files, so a
//! mistake in it (an unknown step kind, a mock for a service cell that does
//! not exist, a bad `/regex/`) is a diagnostic with a span. Service cells are
//! answered by the test's mocks, by cell id; a call without a mock fails the
//! test and names the cell — tests never touch the network.

pub mod coverage;
pub mod explore;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use regex::Regex;
use serde_json::Value;

use crate::diagnostic::{Diagnostic, Problem};
use crate::runtime::{
    Awaiting, Bot, Event, FnClient, HttpError, HttpRequest, HttpResponse, MASK, Request, Response,
    Secrets, Session,
};
use crate::source::{FileId, Span};
use crate::syntax::node::{self, Node, Value as Yaml};
use crate::testing::coverage::Coverage;

/// An expected answer.
#[derive(Debug)]
pub enum Expected {
    Exact(String),
    Regex(Regex),
    Contains(String),
}

impl Expected {
    fn matches(&self, text: &str) -> bool {
        match self {
            Expected::Exact(s) => s == text,
            Expected::Regex(r) => r.is_match(text),
            Expected::Contains(s) => text.contains(s.as_str()),
        }
    }

    fn describe(&self) -> String {
        match self {
            Expected::Exact(s) => format!("{s:?}"),
            Expected::Regex(r) => format!("/{}/", r.as_str()),
            Expected::Contains(s) => format!("(contains {s:?})"),
        }
    }
}

/// What a step expects; absent parts are not checked.
#[derive(Debug, Default)]
pub struct Expect {
    pub answers: Option<Vec<Expected>>,
    /// `Some(None)`: nothing awaited. `Some(Some((kind, var)))`: that.
    pub awaiting: Option<Option<(String, Option<String>)>>,
    pub vars: BTreeMap<String, Value>,
    pub events: Vec<String>,
    pub ended: Option<bool>,
}

/// One step: a message or an event, and what should come back.
#[derive(Debug)]
pub struct Step {
    pub user: Option<String>,
    pub event: Option<String>,
    pub expect: Expect,
    pub span: Span,
}

#[derive(Debug)]
pub struct Mock {
    pub service: String,
    pub status: u16,
    pub body: String,
}

#[derive(Debug)]
pub struct Test {
    pub name: String,
    pub context: BTreeMap<String, Value>,
    pub steps: Vec<Step>,
    pub mocks: Vec<Mock>,
    pub span: Span,
}

/// The ids of a bot's service cells: what mocks may name.
#[must_use]
pub fn services(program: &crate::compile::Program) -> Vec<String> {
    program
        .cells
        .iter()
        .flatten()
        .filter(|c| matches!(c.kind, crate::compile::Kind::Service { .. }))
        .filter_map(|c| c.id.clone())
        .collect()
}

/// Reads a test file. Service ids are checked against `services` (the bot's
/// service cell ids).
#[must_use]
pub fn parse(file: FileId, text: &str, services: &[String]) -> (Vec<Test>, Vec<Diagnostic>) {
    let mut reader = Reader {
        text,
        diagnostics: Vec::new(),
        services,
    };
    let tests = match node::parse(file, text) {
        Ok(Some(root)) => reader.file(&root),
        Ok(None) => Vec::new(),
        Err(d) => {
            reader.diagnostics.push(d);
            Vec::new()
        }
    };
    (tests, reader.diagnostics)
}

struct Reader<'a> {
    text: &'a str,
    diagnostics: Vec<Diagnostic>,
    services: &'a [String],
}

impl<'a> Reader<'a> {
    fn report(&mut self, problem: Problem, span: Span) {
        self.diagnostics.push(Diagnostic::new(problem, span));
    }

    /// The entries of a map whose keys are among `allowed`.
    fn map<'n>(
        &mut self,
        node: &'n Node,
        context: &'static str,
        allowed: &[&str],
    ) -> Vec<(&'n str, &'n Node)>
    where
        'a: 'n,
    {
        let Yaml::Map(entries) = &node.value else {
            self.report(
                Problem::InvalidValue {
                    field: context.to_owned(),
                    expected: "a map",
                },
                node.span,
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for (k, v) in entries {
            let key = match &k.value {
                Yaml::Str(s) => s.as_str(),
                _ => k.span.range().and_then(|r| self.text.get(r)).unwrap_or(""),
            };
            if allowed.contains(&key) {
                out.push((key, v));
            } else {
                let suggestion = crate::diagnostic::suggest(key, allowed.iter().copied());
                self.report(
                    Problem::UnknownField {
                        field: key.to_owned(),
                        context,
                        suggestion,
                    },
                    k.span,
                );
            }
        }
        out
    }

    fn string(&mut self, node: &Node, field: &str) -> Option<String> {
        match &node.value {
            Yaml::Str(s) => Some(s.clone()),
            Yaml::Int(_) | Yaml::Float(_) | Yaml::Bool(_) => node
                .span
                .range()
                .and_then(|r| self.text.get(r))
                .map(|s| s.trim_matches(['"', '\'']).to_owned()),
            _ => {
                self.report(
                    Problem::InvalidValue {
                        field: field.to_owned(),
                        expected: "a string",
                    },
                    node.span,
                );
                None
            }
        }
    }

    fn file(&mut self, root: &Node) -> Vec<Test> {
        let fields = self.map(root, "a test file", &["tests"]);
        let Some((_, tests)) = fields.first() else {
            self.report(
                Problem::MissingField {
                    field: "tests",
                    context: "a test file",
                },
                root.span,
            );
            return Vec::new();
        };
        let Yaml::Seq(items) = &tests.value else {
            self.report(
                Problem::InvalidValue {
                    field: "tests".into(),
                    expected: "a list of tests",
                },
                tests.span,
            );
            return Vec::new();
        };
        items.iter().filter_map(|t| self.test(t)).collect()
    }

    fn test(&mut self, node: &Node) -> Option<Test> {
        let fields = self.map(node, "a test", &["name", "context", "steps", "mocks"]);
        let mut test = Test {
            name: String::new(),
            context: BTreeMap::new(),
            steps: Vec::new(),
            mocks: Vec::new(),
            span: node.span,
        };
        let mut has_steps = false;
        for (key, value) in fields {
            match key {
                "name" => test.name = self.string(value, "name").unwrap_or_default(),
                "context" => {
                    if let Value::Object(map) = value.to_json(self.text) {
                        test.context = map.into_iter().collect();
                    } else {
                        self.report(
                            Problem::InvalidValue {
                                field: "context".into(),
                                expected: "a map",
                            },
                            value.span,
                        );
                    }
                }
                "steps" => {
                    has_steps = true;
                    if let Yaml::Seq(steps) = &value.value {
                        test.steps = steps.iter().filter_map(|s| self.step(s)).collect();
                    } else {
                        self.report(
                            Problem::InvalidValue {
                                field: "steps".into(),
                                expected: "a list of steps",
                            },
                            value.span,
                        );
                    }
                }
                _ => {
                    if let Yaml::Seq(mocks) = &value.value {
                        test.mocks = mocks.iter().filter_map(|m| self.mock(m)).collect();
                    } else {
                        self.report(
                            Problem::InvalidValue {
                                field: "mocks".into(),
                                expected: "a list of mocks",
                            },
                            value.span,
                        );
                    }
                }
            }
        }
        if !has_steps {
            self.report(
                Problem::MissingField {
                    field: "steps",
                    context: "a test",
                },
                node.span,
            );
            return None;
        }
        if test.name.is_empty() {
            test.name = format!(
                "test at line {}",
                self.text[..node.span.range().map_or(0, |r| r.start)]
                    .lines()
                    .count()
                    + 1
            );
        }
        Some(test)
    }

    fn step(&mut self, node: &Node) -> Option<Step> {
        let fields = self.map(node, "a test step", &["user", "event", "expect"]);
        let mut step = Step {
            user: None,
            event: None,
            expect: Expect::default(),
            span: node.span,
        };
        for (key, value) in fields {
            match key {
                "user" => step.user = self.string(value, "user"),
                "event" => step.event = self.string(value, "event"),
                _ => step.expect = self.expect(value),
            }
        }
        if step.user.is_none() && step.event.is_none() {
            self.report(
                Problem::MissingField {
                    field: "user",
                    context: "a test step (or `event`)",
                },
                node.span,
            );
            return None;
        }
        Some(step)
    }

    fn expect(&mut self, node: &Node) -> Expect {
        let mut expect = Expect::default();
        for (key, value) in self.map(
            node,
            "an expectation",
            &["answers", "awaiting", "vars", "events", "ended"],
        ) {
            match key {
                "answers" => {
                    let Yaml::Seq(items) = &value.value else {
                        self.report(
                            Problem::InvalidValue {
                                field: "answers".into(),
                                expected: "a list of answers",
                            },
                            value.span,
                        );
                        continue;
                    };
                    expect.answers = Some(items.iter().filter_map(|a| self.expected(a)).collect());
                }
                "awaiting" => {
                    expect.awaiting = Some(match &value.value {
                        Yaml::Null => None,
                        Yaml::Str(s) if s == "none" => None,
                        _ => {
                            let fields = self.map(value, "`awaiting`", &["kind", "var", "type"]);
                            let mut kind = None;
                            let mut var = None;
                            for (k, v) in fields {
                                match k {
                                    "kind" => kind = self.string(v, "kind"),
                                    "var" => var = self.string(v, "var"),
                                    _ => {}
                                }
                            }
                            Some((kind.unwrap_or_else(|| "input".into()), var))
                        }
                    });
                }
                "vars" => {
                    if let Value::Object(map) = value.to_json(self.text) {
                        expect.vars = map.into_iter().collect();
                    } else {
                        self.report(
                            Problem::InvalidValue {
                                field: "vars".into(),
                                expected: "a map",
                            },
                            value.span,
                        );
                    }
                }
                "events" => {
                    if let Yaml::Seq(items) = &value.value {
                        expect.events = items
                            .iter()
                            .filter_map(|e| self.string(e, "events"))
                            .collect();
                    }
                }
                _ => match value.value {
                    Yaml::Bool(b) => expect.ended = Some(b),
                    _ => self.report(
                        Problem::InvalidValue {
                            field: "ended".into(),
                            expected: "true or false",
                        },
                        value.span,
                    ),
                },
            }
        }
        expect
    }

    fn expected(&mut self, node: &Node) -> Option<Expected> {
        if let Yaml::Map(_) = node.value {
            let fields = self.map(node, "an expected answer", &["contains"]);
            let (_, text) = fields.first()?;
            return self.string(text, "contains").map(Expected::Contains);
        }
        let text = self.string(node, "answers")?;
        if text.len() >= 2 && text.starts_with('/') && text.ends_with('/') {
            match Regex::new(&text[1..text.len() - 1]) {
                Ok(r) => Some(Expected::Regex(r)),
                Err(e) => {
                    let message = e
                        .to_string()
                        .lines()
                        .last()
                        .unwrap_or("invalid")
                        .trim_start_matches("error: ")
                        .to_owned();
                    self.report(Problem::InvalidRegex { message }, node.span);
                    None
                }
            }
        } else {
            Some(Expected::Exact(text))
        }
    }

    fn mock(&mut self, node: &Node) -> Option<Mock> {
        let mut mock = Mock {
            service: String::new(),
            status: 200,
            body: String::new(),
        };
        let mut service_span = node.span;
        for (key, value) in self.map(node, "a mock", &["service", "status", "body"]) {
            match key {
                "service" => {
                    service_span = value.span;
                    mock.service = self.string(value, "service")?;
                }
                "status" => match value.value {
                    Yaml::Int(i) if (100..600).contains(&i) => {
                        mock.status = u16::try_from(i).unwrap_or(200);
                    }
                    _ => self.report(
                        Problem::InvalidValue {
                            field: "status".into(),
                            expected: "an HTTP status from 100 to 599",
                        },
                        value.span,
                    ),
                },
                _ => {
                    mock.body = match &value.value {
                        Yaml::Str(s) => s.clone(),
                        _ => value.to_json(self.text).to_string(),
                    };
                }
            }
        }
        if mock.service.is_empty() {
            self.report(
                Problem::MissingField {
                    field: "service",
                    context: "a mock",
                },
                node.span,
            );
            return None;
        }
        if !self.services.contains(&mock.service) {
            let suggestion =
                crate::diagnostic::suggest(&mock.service, self.services.iter().map(String::as_str));
            self.report(
                Problem::UnknownMock {
                    name: mock.service.clone(),
                    suggestion,
                },
                service_span,
            );
            return None;
        }
        Some(mock)
    }
}

/// A failed expectation, for the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// 1-based step number.
    pub step: usize,
    pub what: String,
    pub message: String,
}

/// Runs one test; returns its failures (empty when it passed).
#[must_use]
pub fn run(bot: &Bot, test: &Test) -> Vec<Failure> {
    run_inner(bot, test, None)
}

/// Runs one test, recording the cells and branches it exercises.
#[must_use]
pub fn run_covered(bot: &Bot, test: &Test, coverage: &RefCell<Coverage>) -> Vec<Failure> {
    run_inner(bot, test, Some(coverage))
}

fn run_inner(bot: &Bot, test: &Test, coverage: Option<&RefCell<Coverage>>) -> Vec<Failure> {
    let unmocked: Arc<Mutex<Vec<String>>> = Arc::default();
    let mocks: BTreeMap<String, (u16, String)> = test
        .mocks
        .iter()
        .map(|m| (m.service.clone(), (m.status, m.body.clone())))
        .collect();
    let seen = Arc::clone(&unmocked);
    let bot = bot
        .clone()
        .with_http(FnClient(move |request: &HttpRequest| {
            let id = request.cell.clone().unwrap_or_else(|| request.url.clone());
            match mocks.get(&id) {
                Some((status, body)) => Ok(HttpResponse {
                    status: *status,
                    body: body.clone(),
                }),
                None => {
                    seen.lock().map(|mut s| s.push(id.clone())).ok();
                    Err(HttpError::Failed(format!("no mock for service `{id}`")))
                }
            }
        }));
    let mut session = Session::new("test");
    let mut failures = Vec::new();
    // Every masked value the conversation held, and every message typed
    // into a masked input: the report never shows them.
    let mut secrets = Secrets::default();
    for (n, step) in test.steps.iter().enumerate() {
        if let Some(user) = &step.user
            && bot.awaits_secret(&session)
        {
            secrets.add(user);
        }
        let what = match (&step.user, &step.event) {
            (Some(user), _) => format!("user: {user:?}"),
            (None, Some(event)) => format!("event: {event}"),
            (None, None) => String::new(),
        };
        let mut request = match (&step.user, &step.event) {
            (Some(user), _) => Request::text(user.clone()),
            (None, Some(event)) => Request::event(event.clone()),
            (None, None) => Request::default(),
        };
        if n == 0 {
            request.context.clone_from(&test.context);
        }
        let fail = |message: String| Failure {
            step: n + 1,
            what: what.clone(),
            message,
        };
        let turn = match coverage {
            Some(coverage) => bot.turn_covered(&mut session, request, coverage),
            None => bot.turn(&mut session, request),
        };
        let response = match turn {
            Ok(r) => r,
            Err(e) => {
                failures.push(fail(e.to_string()));
                break;
            }
        };
        if let Ok(mut calls) = unmocked.lock()
            && !calls.is_empty()
        {
            for id in calls.drain(..) {
                failures.push(fail(format!(
                    "the service cell `{id}` was called, but the test has no mock for it"
                )));
            }
        }
        secrets.extend(bot.secrets(&session));
        failures.extend(
            check(&bot, &step.expect, &response, &session)
                .into_iter()
                .map(fail),
        );
    }
    if !secrets.is_empty() {
        for failure in &mut failures {
            failure.what = secrets.redact(&failure.what).into_owned();
            failure.message = secrets.redact(&failure.message).into_owned();
        }
    }
    failures
}

fn check(bot: &Bot, expect: &Expect, response: &Response, session: &Session) -> Vec<String> {
    let mut problems = Vec::new();
    if let Some(expected) = &expect.answers {
        let actual: Vec<&str> = response.answers.iter().map(|a| a.text.as_str()).collect();
        let same = expected.len() == actual.len()
            && expected.iter().zip(&actual).all(|(e, a)| e.matches(a));
        if !same {
            let mut diff = String::from("the answers differ:");
            for i in 0..expected.len().max(actual.len()) {
                match (expected.get(i), actual.get(i)) {
                    (Some(e), Some(a)) if e.matches(a) => {
                        let _ = write!(diff, "\n      {a:?}");
                    }
                    (e, a) => {
                        if let Some(e) = e {
                            let _ = write!(diff, "\n    - {}", e.describe());
                        }
                        if let Some(a) = a {
                            let _ = write!(diff, "\n    + {a:?}");
                        }
                    }
                }
            }
            problems.push(diff);
        }
    }
    if let Some(expected) = &expect.awaiting {
        let actual = match &response.awaiting {
            Some(Awaiting::Input { var, .. }) => Some(("input", Some(var.as_str()))),
            Some(Awaiting::Intent) => Some(("intent", None)),
            None => None,
        };
        let same = match (expected, actual) {
            (None, None) => true,
            (Some((kind, var)), Some((k, v))) => {
                kind == k && var.as_deref().is_none_or(|var| Some(var) == v)
            }
            _ => false,
        };
        if !same {
            problems.push(format!("awaiting: expected {expected:?}, got {actual:?}"));
        }
    }
    let program = bot.program();
    for (name, value) in &expect.vars {
        let actual = session.vars.get(name);
        if !actual.is_some_and(|a| a.is(value)) {
            let secret =
                session.is_masked(name) || program.is_masked(name) || program.is_hidden(name);
            problems.push(if secret {
                format!(
                    "`{name}` (masked or hidden): expected {MASK}, got {}",
                    if actual.is_some() {
                        "another value"
                    } else {
                        "nothing"
                    }
                )
            } else {
                format!(
                    "`{name}`: expected {value}, got {}",
                    actual.map_or("nothing".to_owned(), |a| a.to_value().to_string())
                )
            });
        }
    }
    for event in &expect.events {
        let found = response.events.iter().any(|e| {
            let name = match e {
                Event::Handoff { .. } => "handoff",
                Event::End => "end",
                Event::Restarted => "restarted",
                Event::Error { .. } => "error",
            };
            name == event
        });
        if !found {
            problems.push(format!(
                "expected a `{event}` event, got {:?}",
                response.events
            ));
        }
    }
    if let Some(ended) = expect.ended
        && ended != response.ended
    {
        problems.push(format!("ended: expected {ended}, got {}", response.ended));
    }
    problems
}
