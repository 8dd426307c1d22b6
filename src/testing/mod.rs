//! Conversation tests (docs/TESTING.md): `*.test.yaml` files of scripted
//! conversations with expectations, run against a compiled bot.
//!
//! A test file is read through the same spanned YAML tree as flow files, so a
//! mistake in it (an unknown step kind, a mock for a service cell that does
//! not exist, a bad `/regex/`) is a diagnostic with a span. Service cells are
//! answered by the test's mocks, by cell id; a call without a mock fails the
//! test and names the cell — tests never touch the network, nor read the
//! environment variables services name.

pub mod coverage;
pub mod explore;
pub mod file;

pub use file::{Expect, Expected, ExpectedTracked, Mock, Step, Test, parse, services};

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use crate::runtime::{
    Awaiting, Bot, Event, FnClient, HttpError, HttpRequest, HttpResponse, MASK, Request, Response,
    Secrets, Session,
};
use crate::testing::coverage::Coverage;

/// A failed expectation, for the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// 1-based step number.
    pub step: usize,
    pub what: String,
    pub message: String,
}

/// What tests and exploration send for `${NAME}` in a service's URL or
/// headers: the reference itself. Mocks answer by cell id, so a test needs
/// no credentials and passes the same on every machine.
#[must_use]
pub fn placeholder_env(name: &str) -> String {
    format!("${{{name}}}")
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
    let languages = &bot.program().languages;
    if let Some(language) = &test.language
        && crate::language::pick(language, languages).is_none()
    {
        return vec![Failure {
            step: 0,
            what: format!("language: {language}"),
            message: format!(
                "the bot does not speak `{language}`; it speaks {}",
                languages.join(", ")
            ),
        }];
    }
    let unmocked: Arc<Mutex<Vec<String>>> = Arc::default();
    let mocks: BTreeMap<String, (u16, String)> = test
        .mocks
        .iter()
        .map(|m| (m.service.clone(), (m.status, m.body.clone())))
        .collect();
    let seen = Arc::clone(&unmocked);
    // Analytics on, so that tests can assert the automatic events too.
    let bot = bot
        .clone()
        .with_analytics(true)
        .with_environment(|name| Some(placeholder_env(name)))
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
        let what = match (&step.user, &step.event, &step.location, &step.file) {
            (Some(user), ..) => format!("user: {}", file::quoted(user)),
            (None, Some(event), ..) => format!("event: {event}"),
            (None, None, Some(location), _) => format!("location: {}", file::flow(location)),
            (None, None, None, Some(upload)) => format!("file: {}", file::flow(upload)),
            (None, None, None, None) => String::new(),
        };
        let mut request = match (&step.user, &step.event) {
            (Some(user), _) => Request::text(user.clone()),
            (None, Some(event)) => Request::event(event.clone()),
            (None, None) => Request::default(),
        };
        request.location.clone_from(&step.location);
        request.file.clone_from(&step.file);
        if n == 0 {
            request.context.clone_from(&test.context);
            request.language.clone_from(&test.language);
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
        // A turn that failed says where and why, unless the step expects it
        // to (`events: [error]`): its answers alone would only show the
        // built-in error message.
        if !step.expect.events.iter().any(|e| e == "error") {
            for event in &response.events {
                if let Event::Error { message, at } = event {
                    failures.push(fail(match at {
                        Some(at) => format!("the turn failed at {at}: {message}"),
                        None => format!("the turn failed: {message}"),
                    }));
                }
            }
        }
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
        // "Typing…" and pauses carry no text: expectations list what is said.
        let actual: Vec<&str> = response
            .answers
            .iter()
            .filter(|a| !a.is_pause())
            .map(|a| a.text.as_str())
            .collect();
        let same = expected.len() == actual.len()
            && expected.iter().zip(&actual).all(|(e, a)| e.matches(a));
        if !same {
            let mut diff = String::from("the answers differ:");
            for i in 0..expected.len().max(actual.len()) {
                match (expected.get(i), actual.get(i)) {
                    (Some(e), Some(a)) if e.matches(a) => {
                        let _ = write!(diff, "\n      {}", file::quoted(a));
                    }
                    (e, a) => {
                        if let Some(e) = e {
                            let _ = write!(diff, "\n    - {}", e.describe());
                        }
                        if let Some(a) = a {
                            let _ = write!(diff, "\n    + {}", file::quoted(a));
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
            let show = |awaiting: Option<(&str, Option<&str>)>| match awaiting {
                None => "none".to_owned(),
                Some((kind, Some(var))) => format!("{{kind: {kind}, var: {var}}}"),
                Some((kind, None)) => format!("{{kind: {kind}}}"),
            };
            let expected = expected
                .as_ref()
                .map(|(kind, var)| (kind.as_str(), var.as_deref()));
            problems.push(format!(
                "awaiting: expected {}, got {}",
                show(expected),
                show(actual)
            ));
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
                    "`{name}`: expected {}, got {}",
                    file::flow(value),
                    actual.map_or("nothing".to_owned(), |a| file::flow(&a.to_value()))
                )
            });
        }
    }
    let name = |event: &Event| match event {
        Event::Handoff { .. } => "handoff",
        Event::End => "end",
        Event::Restarted => "restarted",
        Event::Error { .. } => "error",
        Event::ServiceFailed { .. } => "service_failed",
    };
    for event in &expect.events {
        if !response.events.iter().any(|e| name(e) == event) {
            let got: Vec<&str> = response.events.iter().map(name).collect();
            let got = if got.is_empty() {
                "none".to_owned()
            } else {
                format!("[{}]", got.join(", "))
            };
            problems.push(format!("expected the `{event}` event, got {got}"));
        }
    }
    if let Some(ended) = expect.ended
        && ended != response.ended
    {
        problems.push(format!("ended: expected {ended}, got {}", response.ended));
    }
    for expected in &expect.tracked {
        if !response.tracked.iter().any(|t| expected.matches(t)) {
            let got: Vec<String> = response
                .tracked
                .iter()
                .map(|t| {
                    if t.properties.is_empty() {
                        t.event.to_string()
                    } else {
                        let properties = serde_json::Value::Object(t.properties.clone());
                        format!("{} {}", t.event, file::flow(&properties))
                    }
                })
                .collect();
            let got = if got.is_empty() {
                "none".to_owned()
            } else {
                got.join(", ")
            };
            problems.push(format!(
                "expected the analytics event {}, got {got}",
                expected.describe()
            ));
        }
    }
    problems
}
