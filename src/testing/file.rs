//! Conversation test files (`*.test.yaml`, docs/TESTING.md): what a test
//! is, read from a file with spans on every step, and written back as one
//! (`cellflow explore` writes the conversations it finds through
//! [`write`]). Reading what was written gives the same tests.

use std::collections::BTreeMap;

use regex::Regex;
use serde_json::Value;

use crate::diagnostic::{Diagnostic, Problem};
use crate::source::{FileId, Span};
use crate::syntax::fields;
use crate::syntax::node::{self, Node, Value as Yaml};

/// An expected answer.
#[derive(Clone, Debug)]
pub enum Expected {
    Exact(String),
    Regex(Regex),
    Contains(String),
}

impl Expected {
    pub(super) fn matches(&self, text: &str) -> bool {
        match self {
            Expected::Exact(s) => s == text,
            Expected::Regex(r) => r.is_match(text),
            Expected::Contains(s) => text.contains(s.as_str()),
        }
    }

    /// The expectation as a test file writes it.
    pub(super) fn describe(&self) -> String {
        match self {
            Expected::Exact(s) => quoted(s),
            Expected::Regex(r) => quoted(&format!("/{}/", r.as_str())),
            Expected::Contains(s) => format!("{{contains: {}}}", quoted(s)),
        }
    }
}

/// An analytics event a step expects: its name, and properties it must
/// have (others may come with them).
#[derive(Debug, Clone, PartialEq)]
pub struct ExpectedTracked {
    pub event: String,
    pub properties: BTreeMap<String, Value>,
}

impl ExpectedTracked {
    /// Whether an event the step reported is this one.
    pub(super) fn matches(&self, tracked: &crate::runtime::Tracked) -> bool {
        *tracked.event == *self.event
            && self.properties.iter().all(|(name, value)| {
                tracked
                    .properties
                    .get(name)
                    .is_some_and(|actual| same_json(actual, value))
            })
    }

    pub(super) fn describe(&self) -> String {
        if self.properties.is_empty() {
            format!("`{}`", self.event)
        } else {
            let properties = Value::Object(self.properties.clone().into_iter().collect());
            format!("`{}` with {}", self.event, flow(&properties))
        }
    }
}

/// JSON equality, with numbers compared by value (`2` is `2.0`).
fn same_json(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_json(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_json(v, w)))
        }
        _ => a == b,
    }
}

/// What a step expects; absent parts are not checked.
#[derive(Clone, Debug, Default)]
pub struct Expect {
    pub answers: Option<Vec<Expected>>,
    /// `Some(None)`: nothing awaited. `Some(Some((kind, var)))`: that.
    pub awaiting: Option<Option<(String, Option<String>)>>,
    pub vars: BTreeMap<String, Value>,
    pub events: Vec<String>,
    pub ended: Option<bool>,
    /// Analytics events the step reports, each with the properties given.
    pub tracked: Vec<ExpectedTracked>,
}

impl Expect {
    /// Everything a response showed, as a step would expect it: its
    /// answers in order (a masked one as any text: a secret is never
    /// written down), what it awaits, its events and whether it ended.
    /// How `cellflow explore` and a saved chat write what they saw.
    #[must_use]
    pub fn observed(response: &crate::runtime::Response) -> Expect {
        use crate::runtime::{Awaiting, Event};
        let awaiting = match &response.awaiting {
            Some(Awaiting::Input { var, .. }) => Some(("input".to_owned(), Some(var.to_string()))),
            Some(Awaiting::Intent) => Some(("intent".to_owned(), None)),
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
                    // The test's mocks say how each service answers.
                    Event::Restarted | Event::ServiceFailed { .. } => None,
                })
                .collect(),
            ended: Some(response.ended),
            tracked: Vec::new(),
        }
    }
}

impl Step {
    /// A step that sends `request` and expects everything `response`
    /// showed ([`Expect::observed`]): how a chat is kept as a test.
    #[must_use]
    pub fn observed(
        request: &crate::runtime::Request,
        response: &crate::runtime::Response,
    ) -> Step {
        Step {
            user: request.text.clone(),
            event: request.event.clone(),
            location: request.location.clone(),
            file: request.file.clone(),
            expect: Expect::observed(response),
            span: Span::default(),
        }
    }
}

/// Any text, for a masked answer.
static ANYTHING: std::sync::LazyLock<Regex> =
    std::sync::LazyLock::new(|| Regex::new("(?s).*").expect("valid regex"));

/// One step: a message or an event, and what should come back.
#[derive(Clone, Debug)]
pub struct Step {
    pub user: Option<String>,
    pub event: Option<String>,
    /// A shared location, sent as the request's `location`.
    pub location: Option<Value>,
    /// An uploaded file, sent as the request's `file`.
    pub file: Option<Value>,
    pub expect: Expect,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct Mock {
    pub service: String,
    pub status: u16,
    pub body: String,
}

#[derive(Clone, Debug)]
pub struct Test {
    pub name: String,
    /// The language the conversation is in (sent with the first message).
    pub language: Option<String>,
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
        yaml: fields::Reader::new(text),
        services,
    };
    let tests = match node::parse(file, text) {
        Ok(Some(root)) => reader.file(&root),
        Ok(None) => Vec::new(),
        Err(d) => {
            reader.yaml.diagnostics.push(d);
            Vec::new()
        }
    };
    (tests, reader.yaml.diagnostics)
}

/// Reads a test file with the same field rules as a flow file (unknown
/// fields with a did-you-mean, repeated ones reported, scalars as written).
struct Reader<'a> {
    yaml: fields::Reader<'a>,
    services: &'a [String],
}

impl<'a> Reader<'a> {
    fn report(&mut self, problem: Problem, span: Span) {
        self.yaml.report(problem, span);
    }

    /// The entries of a map whose keys are among `allowed`, in order.
    fn map<'n>(
        &mut self,
        node: &'n Node,
        context: &'static str,
        allowed: &[&str],
    ) -> Vec<(&'n str, &'n Node)>
    where
        'a: 'n,
    {
        self.yaml
            .fields(node, context, context, allowed)
            .map(|fields| fields.iter().collect())
            .unwrap_or_default()
    }

    fn string(&mut self, node: &Node, field: &str) -> Option<String> {
        self.yaml.string(node, field).map(|s| s.value)
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
        let fields = self.map(
            node,
            "a test",
            &["name", "language", "context", "steps", "mocks"],
        );
        let mut test = Test {
            name: String::new(),
            language: None,
            context: BTreeMap::new(),
            steps: Vec::new(),
            mocks: Vec::new(),
            span: node.span,
        };
        let mut has_steps = false;
        for (key, value) in fields {
            match key {
                "name" => test.name = self.string(value, "name").unwrap_or_default(),
                "language" => test.language = self.string(value, "language"),
                "context" => {
                    if let Value::Object(map) = value.to_json(self.yaml.text) {
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
                self.yaml.text[..node.span.range().map_or(0, |r| r.start)]
                    .lines()
                    .count()
                    + 1
            );
        }
        Some(test)
    }

    fn step(&mut self, node: &Node) -> Option<Step> {
        let fields = self.map(
            node,
            "a test step",
            &["user", "event", "location", "file", "expect"],
        );
        let mut step = Step {
            user: None,
            event: None,
            location: None,
            file: None,
            expect: Expect::default(),
            span: node.span,
        };
        for (key, value) in fields {
            match key {
                "user" => step.user = self.string(value, "user"),
                "event" => step.event = self.string(value, "event"),
                "location" | "file" => {
                    let json = value.to_json(self.yaml.text);
                    if !json.is_object() {
                        self.report(
                            Problem::InvalidValue {
                                field: key.into(),
                                expected: "a map (`{lat: …, lng: …}` or `{url: …, media_type: …}`)",
                            },
                            value.span,
                        );
                    } else if key == "location" {
                        step.location = Some(json);
                    } else {
                        step.file = Some(json);
                    }
                }
                _ => step.expect = self.expect(value),
            }
        }
        if step.user.is_none()
            && step.event.is_none()
            && step.location.is_none()
            && step.file.is_none()
        {
            self.report(
                Problem::MissingField {
                    field: "user",
                    context: "a test step (or `event`, `location`, `file`)",
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
            &["answers", "awaiting", "vars", "events", "ended", "tracked"],
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
                    if let Value::Object(map) = value.to_json(self.yaml.text) {
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
                "tracked" => {
                    if let Yaml::Seq(items) = &value.value {
                        expect.tracked = items.iter().filter_map(|e| self.tracked(e)).collect();
                    } else {
                        self.report(
                            Problem::InvalidValue {
                                field: "tracked".into(),
                                expected: "a list of event names or `{event: …, properties: …}`",
                            },
                            value.span,
                        );
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

    /// An expected analytics event: `NAME`, or `{event: NAME, properties: {…}}`.
    fn tracked(&mut self, node: &Node) -> Option<ExpectedTracked> {
        if !matches!(node.value, Yaml::Map(_)) {
            return self.string(node, "tracked").map(|event| ExpectedTracked {
                event,
                properties: BTreeMap::new(),
            });
        }
        let mut event = None;
        let mut properties = BTreeMap::new();
        for (key, value) in self.map(node, "an expected event", &["event", "properties"]) {
            if key == "event" {
                event = self.string(value, "event");
            } else if let Value::Object(map) = value.to_json(self.yaml.text) {
                properties = map.into_iter().collect();
            } else {
                self.report(
                    Problem::InvalidValue {
                        field: "properties".into(),
                        expected: "a map",
                    },
                    value.span,
                );
            }
        }
        if event.is_none() {
            self.report(
                Problem::MissingField {
                    field: "event",
                    context: "an expected event",
                },
                node.span,
            );
        }
        Some(ExpectedTracked {
            event: event?,
            properties,
        })
    }

    fn expected(&mut self, node: &Node) -> Option<Expected> {
        if let Yaml::Map(_) = node.value {
            let fields = self.map(node, "an expected answer", &["contains"]);
            let (_, text) = fields.first()?;
            return self.string(text, "contains").map(Expected::Contains);
        }
        let text = self.string(node, "answers")?;
        if let Some(pattern) = regex_in(&text) {
            match Regex::new(pattern) {
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
                        _ => value.to_json(self.yaml.text).to_string(),
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

/// Writes tests as a test file that [`parse`] reads back to the same tests,
/// after `header` (comment lines, each starting with `#`, or nothing).
///
/// Strings are written as JSON strings (valid YAML, with every character
/// escaped that needs it); an exact answer that would read as a `/regex/`
/// is written as the regex that matches exactly it.
#[must_use]
pub fn write(tests: &[Test], header: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::from(header);
    out.push_str("tests:\n");
    for test in tests {
        let _ = writeln!(out, "  - name: {}", quoted(&test.name));
        if let Some(language) = &test.language {
            let _ = writeln!(out, "    language: {}", quoted(language));
        }
        if !test.context.is_empty() {
            let context = Value::Object(test.context.clone().into_iter().collect());
            let _ = writeln!(out, "    context: {context}");
        }
        out.push_str("    steps:\n");
        for step in &test.steps {
            let mut fields = Vec::new();
            if let Some(text) = &step.user {
                fields.push(format!("user: {}", quoted(text)));
            }
            if let Some(name) = &step.event {
                fields.push(format!("event: {}", quoted(name)));
            }
            if let Some(location) = &step.location {
                fields.push(format!("location: {location}"));
            }
            if let Some(file) = &step.file {
                fields.push(format!("file: {file}"));
            }
            if fields.is_empty() {
                continue;
            }
            for (i, field) in fields.iter().enumerate() {
                let lead = if i == 0 { "      - " } else { "        " };
                let _ = writeln!(out, "{lead}{field}");
            }
            write_expect(&mut out, &step.expect);
        }
        if !test.mocks.is_empty() {
            out.push_str("    mocks:\n");
            for mock in &test.mocks {
                // A JSON object or list is written as one; any other body
                // as the string it is, so it reads back to the same text
                // (a body `"123"`, quotes and all, stays that).
                let body = match serde_json::from_str::<Value>(&mock.body) {
                    Ok(v @ (Value::Object(_) | Value::Array(_))) => v.to_string(),
                    _ => quoted(&mock.body),
                };
                let _ = writeln!(
                    out,
                    "      - {{service: {}, status: {}, body: {body}}}",
                    quoted(&mock.service),
                    mock.status,
                );
            }
        }
    }
    out
}

/// Why tests could not be added to a test file.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    #[error("it has no top-level `tests:` list to add to")]
    NoTests,
    #[error("adding to it would not give a valid test file ({0}); save to a new file instead")]
    Unreadable(String),
}

/// The text of the test file `existing` with `test` added at the end of
/// its `tests:` list, everything already there (comments, layout) kept; or
/// a new file's text when `existing` is `None` or empty. A name the file
/// already has gets a number (`name (2)`); the name written comes back
/// with the text. The result is read back to make sure it holds every
/// test it held plus the new one. How `cellflow run`'s `:save` and the
/// studio add a chat to a test file.
///
/// # Errors
/// When `existing` has no `tests:` list at the top level, does not read,
/// or its list is not the file's last part (adding at the end would not
/// extend it).
pub fn append(
    existing: Option<&str>,
    mut test: Test,
    header: &str,
) -> Result<(String, String), AppendError> {
    let Some(existing) = existing.filter(|e| !e.trim().is_empty()) else {
        let written = write(std::slice::from_ref(&test), header);
        return Ok((written, test.name));
    };
    if !existing.lines().any(|l| l.trim_end() == "tests:") {
        return Err(AppendError::NoTests);
    }
    let read = |text: &str| -> Result<Vec<String>, String> {
        let file = crate::source::SourceMap::new().add("tests", "tests", "");
        let (read, diagnostics) = parse(file, text, &[]);
        // Mocks are checked against the bot elsewhere; any other mistake
        // means the text does not read (or did not join up).
        match diagnostics
            .iter()
            .find(|d| d.is_error() && !matches!(d.problem, Problem::UnknownMock { .. }))
        {
            Some(d) => Err(d.problem.to_string()),
            None => Ok(read.into_iter().map(|t| t.name).collect()),
        }
    };
    let before = read(existing).map_err(AppendError::Unreadable)?;
    let base = test.name.clone();
    let mut n = 1;
    while before.contains(&test.name) {
        n += 1;
        test.name = format!("{base} ({n})");
    }
    let block = write(std::slice::from_ref(&test), "");
    let items = block.strip_prefix("tests:\n").unwrap_or(&block);
    // The list's own indentation: the first item's `-` after `tests:`.
    let indent = existing
        .lines()
        .skip_while(|l| l.trim_end() != "tests:")
        .find(|l| l.trim_start().starts_with('-'))
        .map_or(2, |l| l.len() - l.trim_start().len());
    let mut out = existing.to_owned();
    if !out.ends_with('\n') {
        out.push('\n');
    }
    // A blank line between the tests, as people write them.
    if !out.ends_with("\n\n") {
        out.push('\n');
    }
    for line in items.lines() {
        // `write` indents items by two spaces.
        let line = line.strip_prefix("  ").unwrap_or(line);
        if !line.is_empty() {
            out.extend(std::iter::repeat_n(' ', indent));
        }
        out.push_str(line);
        out.push('\n');
    }
    match read(&out) {
        Ok(after) if after.len() == before.len() + 1 => Ok((out, test.name)),
        Ok(_) => Err(AppendError::Unreadable(
            "its `tests:` list is not its last part".into(),
        )),
        Err(why) => Err(AppendError::Unreadable(why)),
    }
}

fn write_expect(out: &mut String, expect: &Expect) {
    use std::fmt::Write as _;
    let nothing = expect.answers.is_none()
        && expect.awaiting.is_none()
        && expect.vars.is_empty()
        && expect.events.is_empty()
        && expect.ended.is_none()
        && expect.tracked.is_empty();
    if nothing {
        return;
    }
    out.push_str("        expect:\n");
    if let Some(answers) = &expect.answers {
        let answers: Vec<String> = answers
            .iter()
            .map(|answer| match answer {
                Expected::Exact(text) if regex_in(text).is_some() => {
                    quoted(&format!("/^{}$/", regex::escape(text)))
                }
                Expected::Exact(text) => quoted(text),
                Expected::Regex(regex) => quoted(&format!("/{}/", regex.as_str())),
                Expected::Contains(text) => format!("{{contains: {}}}", quoted(text)),
            })
            .collect();
        let _ = writeln!(out, "          answers: [{}]", answers.join(", "));
    }
    if let Some(awaiting) = &expect.awaiting {
        let awaiting = match awaiting {
            None => "none".to_owned(),
            Some((kind, Some(var))) => {
                format!("{{kind: {}, var: {}}}", word(kind), quoted(var))
            }
            Some((kind, None)) => format!("{{kind: {}}}", word(kind)),
        };
        let _ = writeln!(out, "          awaiting: {awaiting}");
    }
    if !expect.vars.is_empty() {
        let vars = Value::Object(expect.vars.clone().into_iter().collect());
        let _ = writeln!(out, "          vars: {vars}");
    }
    if !expect.events.is_empty() {
        let events: Vec<String> = expect.events.iter().map(|e| word(e)).collect();
        let _ = writeln!(out, "          events: [{}]", events.join(", "));
    }
    if let Some(ended) = expect.ended {
        let _ = writeln!(out, "          ended: {ended}");
    }
    if !expect.tracked.is_empty() {
        let tracked: Vec<String> = expect
            .tracked
            .iter()
            .map(|t| {
                if t.properties.is_empty() {
                    quoted(&t.event)
                } else {
                    let properties = Value::Object(t.properties.clone().into_iter().collect());
                    format!("{{event: {}, properties: {properties}}}", quoted(&t.event))
                }
            })
            .collect();
        let _ = writeln!(out, "          tracked: [{}]", tracked.join(", "));
    }
}

/// The pattern of an answer written as a `/regex/`, if it is one.
fn regex_in(text: &str) -> Option<&str> {
    text.strip_prefix('/')?.strip_suffix('/')
}

/// A value as a test file writes it, in YAML's flow style: `{plan: Gold,
/// step: 2}`, `[a, "b c: d"]`, a string bare where YAML reads it back as
/// the same string, quoted where it would read as something else (`"1"`,
/// `"yes"`, `""`).
pub(crate) fn flow(value: &Value) -> String {
    match value {
        Value::String(s) => plain(s),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(flow).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Object(fields) => {
            let fields: Vec<String> = fields
                .iter()
                .map(|(k, v)| format!("{}: {}", plain(k), flow(v)))
                .collect();
            format!("{{{}}}", fields.join(", "))
        }
        other => other.to_string(),
    }
}

/// A string bare when YAML's flow style reads it back as that string:
/// letters first, then letters, digits, spaces and `_ - . / @ +`, and not a
/// word YAML reads as a boolean or null. Anything else quoted.
fn plain(text: &str) -> String {
    let bare = text.starts_with(char::is_alphabetic)
        && !text.ends_with(' ')
        && text
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, ' ' | '_' | '-' | '.' | '/' | '@' | '+'))
        && !matches!(
            text.to_ascii_lowercase().as_str(),
            "true" | "false" | "null" | "yes" | "no" | "on" | "off" | "y" | "n"
        );
    if bare { text.to_owned() } else { quoted(text) }
}

/// A double-quoted string YAML reads back as `text`: JSON's escapes, and
/// `\u` escapes for the characters YAML does not allow written out (DEL,
/// the C1 controls but NEL, U+FFFE and U+FFFF).
pub(crate) fn quoted(text: &str) -> String {
    let json = Value::String(text.to_owned()).to_string();
    let unprintable =
        |c: char| matches!(c, '\u{7f}'..='\u{84}' | '\u{86}'..='\u{9f}' | '\u{fffe}' | '\u{ffff}');
    if !json.contains(unprintable) {
        return json;
    }
    let mut out = String::with_capacity(json.len() + 8);
    for c in json.chars() {
        if unprintable(c) {
            use std::fmt::Write as _;
            let _ = write!(out, "\\u{:04X}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    out
}

/// A keyword-like value (`input`, `handoff`) bare, as people write it;
/// anything else quoted.
fn word(text: &str) -> String {
    let plain = text.starts_with(|c: char| c.is_ascii_lowercase())
        && text.chars().all(|c| c.is_ascii_lowercase() || c == '_')
        && !matches!(
            text,
            "true" | "false" | "null" | "yes" | "no" | "on" | "off" | "y" | "n"
        );
    if plain { text.to_owned() } else { quoted(text) }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"tests:
  - name: "every expectation"
    context: {"customer":"Ana","tier":2}
    steps:
      - event: "welcome"
        expect:
          answers: ["Hi \"Ana\"", "/^\\d+ points$/", {contains: "menu"}]
          awaiting: {kind: input, var: "choice"}
      - user: "/help/"
        expect:
          answers: ["/^/help/$/"]
          awaiting: none
          vars: {"choice":"help","n":3}
          events: [handoff, end]
          ended: true
          tracked: ["order_placed", {event: "plan_chosen", properties: {"plan":"Gold","step":2}}]
    mocks:
      - {service: "lookup", status: 503, body: "down"}
      - {service: "lookup", status: 200, body: {"balance":10}}
"#;

    fn file(text: &str) -> FileId {
        crate::source::SourceMap::default().add("a.test.yaml", "a.test.yaml", text)
    }

    fn read(text: &str) -> Vec<Test> {
        let (tests, diagnostics) = parse(file(text), text, &["lookup".to_owned()]);
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        tests
    }

    #[test]
    fn what_is_written_reads_back_as_the_same_tests() {
        let tests = read(FILE);
        assert_eq!(tests.len(), 1);
        let written = write(&tests, "");
        assert_eq!(written, FILE);
        let again = read(&written);
        assert_eq!(write(&again, ""), written);
        assert_eq!(again[0].steps[1].expect.ended, Some(true));
        assert_eq!(again[0].mocks[1].body, r#"{"balance":10}"#);
    }

    #[test]
    fn an_exact_answer_that_looks_like_a_regex_is_written_to_match_only_itself() {
        let mut tests = read(FILE);
        tests[0].steps[0].expect.answers = Some(vec![Expected::Exact("/x.y/".into())]);
        let again = read(&write(&tests, ""));
        let Some(answers) = &again[0].steps[0].expect.answers else {
            panic!("answers are written");
        };
        assert!(answers[0].matches("/x.y/"));
        assert!(!answers[0].matches("/xzy/"));
    }

    #[test]
    fn a_repeated_field_is_reported_as_in_flow_files() {
        let text = "tests:\n  - name: a\n    name: b\n    steps:\n      - user: hi\n";
        let (_, diagnostics) = parse(file(text), text, &[]);
        let codes: Vec<&str> = diagnostics.iter().map(|d| d.problem.code()).collect();
        assert_eq!(
            codes,
            ["cellflow::syntax::duplicate_field"],
            "{diagnostics:?}"
        );
    }

    #[test]
    fn any_text_and_any_body_reads_back_as_written() {
        let mut tests = read(FILE);
        let odd = "del\u{7f} c1\u{9b} nel\u{85} \u{fffe} tab\t \"q\" \\ é 🍕";
        tests[0].name = odd.to_owned();
        tests[0].steps[0].user = Some(odd.to_owned());
        tests[0].steps[0].event = Some("welcome".to_owned());
        tests[0].steps[0].expect.answers = Some(vec![Expected::Exact(odd.to_owned())]);
        tests[0].mocks[0].body = "\"123\"".to_owned();
        tests[0].mocks[1].body = "true".to_owned();
        let written = write(&tests, "");
        let again = read(&written);
        assert_eq!(again[0].name, odd);
        assert_eq!(again[0].steps[0].user.as_deref(), Some(odd));
        assert_eq!(again[0].steps[0].event.as_deref(), Some("welcome"));
        let Some(answers) = &again[0].steps[0].expect.answers else {
            panic!("answers are written");
        };
        assert!(answers[0].matches(odd));
        assert_eq!(again[0].mocks[0].body, "\"123\"");
        assert_eq!(again[0].mocks[1].body, "true");
        assert_eq!(write(&again, ""), written);
    }
}
