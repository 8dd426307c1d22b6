//! `cellflow run PATH [--trace] [--mocks PATH]`: chat with a bot in the
//! terminal (`--trace` also shows the cells each turn visits, the intent,
//! confidence and entities of each message and the analytics events).
//!
//! On a terminal it is an interactive chat with line editing and a history
//! kept across runs (Ctrl-C clears the line; Ctrl-D or `:quit` leaves);
//! otherwise it reads one user message per line from standard input and
//! prints a plain transcript (handy in scripts and tests). Lines starting
//! with `:` are commands ([`HELP`]). A number picks one of the buttons or
//! quick replies the bot just offered. Coordinates typed as text
//! (`-33.44, -70.65`) answer a location input.

use std::collections::BTreeMap;
use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use cellflow::runtime::{
    Answer, AnswerType, Awaiting, Bot, Event, HttpClient, HttpError, HttpRequest, HttpResponse,
    MASK, Network, Request, Response, Session,
};
use cellflow::testing::file::{self as test_file, Mock, Step, Test};

use super::{CliError, EXIT_OK, EXIT_PROBLEMS};

#[derive(clap::Args, Debug)]
pub(crate) struct Run {
    /// Bot directory, flow file or compiled artifact
    path: PathBuf,
    /// Show the cells each turn visits, the variables they change, and the
    /// intent, confidence and entities of each message
    #[arg(long)]
    trace: bool,
    /// Answer service cells with the mocks of these conversation tests (a
    /// `*.test.yaml` file, or a directory: the bot's own tests) instead of
    /// calling them; a service with no mock then fails
    #[arg(long, value_name = "PATH")]
    mocks: Option<PathBuf>,
    /// Where the chat history is kept, across runs (default:
    /// `$XDG_STATE_HOME/cellflow/history` or `~/.local/state/cellflow/history`;
    /// `CELLFLOW_HISTORY` also sets it; `-` keeps none)
    #[arg(long, value_name = "FILE")]
    history: Option<PathBuf>,
}

/// The commands, as `:help` lists them.
pub(crate) const HELP: &str = "\
commands:
  :help                 this list
  :vars                 the conversation's variables (masked ones as ******, hidden ones left out)
  :reset                start a new conversation
  :event NAME           send an event (a flow's name, welcome, resume, timeout)
  :file URL [TYPE]      send an upload
  :trace on|off         show or hide what each turn did
  :lang [CODE]          the conversation's language, or switch it
  :save FILE            write the conversation so far as a test case (added to FILE)
  :quit                 leave (Ctrl-D too; Ctrl-C clears the line)
a number picks one of the buttons or quick replies the bot just offered";

/// Mocked answers by service id: status and body.
type Mocks = BTreeMap<String, (u16, String)>;

/// The longest excerpt of a failing service's body shown.
const BODY_EXCERPT_CHARS: usize = 200;

/// A choice the bot offered, by the number shown beside it: the text a
/// pick sends.
type Choices = Vec<String>;

fn show_answer(out: &mut impl std::io::Write, answer: &Answer, choices: &mut Choices) {
    let mut choose = |label: &str, value: Option<&str>| {
        choices.push(value.unwrap_or(label).to_owned());
        choices.len()
    };
    match (answer.kind, answer.duration_ms) {
        (AnswerType::Typing, Some(ms)) => {
            let _ = writeln!(out, "     (typing… {ms} ms)");
        }
        (AnswerType::Delay, Some(ms)) => {
            let _ = writeln!(out, "     (pause {ms} ms)");
        }
        _ => {}
    }
    if !answer.text.is_empty() {
        let _ = writeln!(out, "bot: {}", answer.text.replace('\n', "\n     "));
    }
    if !answer.buttons.is_empty() {
        let labels: Vec<String> = answer
            .buttons
            .iter()
            .map(|b| match &b.url {
                Some(url) => format!("[{}]({url})", b.label),
                None => format!("[{} {}]", choose(&b.label, b.value.as_deref()), b.label),
            })
            .collect();
        let _ = writeln!(out, "     {}", labels.join(" "));
    }
    if !answer.quick_replies.is_empty() {
        let labels: Vec<String> = answer
            .quick_replies
            .iter()
            .map(|q| format!("{} {}", choose(&q.label, q.value.as_deref()), q.label))
            .collect();
        let _ = writeln!(out, "     ({})", labels.join(" | "));
    }
    for card in &answer.cards {
        let subtitle = card
            .subtitle
            .as_deref()
            .map_or(String::new(), |s| format!(" — {s}"));
        let _ = writeln!(out, "     ▪ {}{subtitle}", card.title);
        for b in &card.buttons {
            match &b.url {
                Some(url) => {
                    let _ = writeln!(out, "       [{}]({url})", b.label);
                }
                None => {
                    let n = choose(&b.label, b.value.as_deref());
                    let _ = writeln!(out, "       [{n} {}]", b.label);
                }
            }
        }
    }
    if let Some(media) = &answer.media {
        let _ = writeln!(out, "     <{} {}>", media.kind, media.url);
    }
    if let Some(location) = &answer.location {
        let name = location
            .name
            .as_deref()
            .map_or(String::new(), |n| format!(" {n}"));
        let address = location
            .address
            .as_deref()
            .map_or(String::new(), |a| format!(", {a}"));
        let _ = writeln!(
            out,
            "     📍{name} ({}, {}){address}",
            location.lat, location.lng
        );
    }
    if let Some(link) = &answer.link {
        let title = link
            .title
            .as_deref()
            .map_or(String::new(), |t| format!("{t} "));
        let _ = writeln!(out, "     🔗 {title}<{}>", link.url);
        if let Some(description) = &link.description {
            let _ = writeln!(out, "        {description}");
        }
    }
    if let Some(custom) = &answer.custom {
        let _ = writeln!(out, "     {custom}");
    }
}

/// What the classifier made of the message, when it saw one.
fn show_nlu(out: &mut impl std::io::Write, response: &Response, threshold: f64) {
    let nlu = &response.nlu;
    if let Some(intent) = &nlu.intent {
        let verdict = if nlu.confidence >= threshold {
            ""
        } else {
            ", under the threshold: not understood"
        };
        let _ = writeln!(out, "  · intent {intent} ({:.3}{verdict})", nlu.confidence);
    }
    if !nlu.entities.is_empty() {
        let found: Vec<String> = nlu
            .entities
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        let _ = writeln!(out, "  · entities {}", found.join(", "));
    }
}

fn show_trace(out: &mut impl std::io::Write, response: &Response) {
    for step in &response.trace {
        let name = step
            .cell
            .as_deref()
            .map_or_else(|| format!("[{}]", step.position), |id| format!(".{id}"));
        let changed = if step.changed.is_empty() {
            String::new()
        } else {
            format!(
                " {}",
                serde_json::to_string(&step.changed).unwrap_or_default()
            )
        };
        let failed = match (&step.error, &step.file, step.line) {
            (Some(error), Some(file), Some(line)) => {
                format!(" failed at {file}:{line}: {error}")
            }
            (Some(error), ..) => format!(" failed: {error}"),
            (None, ..) => String::new(),
        };
        let _ = writeln!(
            out,
            "  · {}{name} ({}){changed}{failed}",
            step.flow, step.kind
        );
    }
    for tracked in &response.tracked {
        let properties = if tracked.properties.is_empty() {
            String::new()
        } else {
            format!(
                " {}",
                serde_json::to_string(&tracked.properties).unwrap_or_default()
            )
        };
        let _ = writeln!(out, "  · analytics {}{properties}", tracked.event);
    }
}

fn show_events(
    out: &mut impl std::io::Write,
    response: &Response,
    calls: &Calls,
    secrets: &cellflow::runtime::Secrets,
) {
    for event in &response.events {
        let line = match event {
            Event::Handoff { queue, .. } => {
                format!("[handed off to {queue}; `:event resume` hands it back]")
            }
            Event::End => "[conversation ended]".to_owned(),
            Event::Restarted => "[the bot changed; restarted]".to_owned(),
            Event::Error { message, at } => match at {
                Some(at) => format!("[error: {at}: {message}]"),
                None => format!("[error: {message}]"),
            },
            Event::ServiceFailed {
                cell, reason, at, ..
            } => {
                let place = at
                    .as_ref()
                    .and_then(|at| Some(format!(" at {}:{}", at.file.as_ref()?, at.line?)))
                    .unwrap_or_default();
                // What the service answered, when it answered: the first
                // characters of its body (the terminal is the author's).
                let body = cell
                    .as_deref()
                    .and_then(|cell| calls.failed_body(cell))
                    .map(|body| format!("; it said: {}", secrets.redact(&body)))
                    .unwrap_or_default();
                match cell {
                    Some(cell) => format!("[service `{cell}` failed{place}: {reason}{body}]"),
                    None => format!("[a service failed{place}: {reason}]"),
                }
            }
        };
        let _ = writeln!(out, "{line}");
    }
}

/// The service calls of a chat, by cell: what they answered (a saved
/// test's mocks) and the body of the last failure (shown with it).
#[derive(Clone, Default)]
struct Calls(Arc<Mutex<CallLog>>);

#[derive(Default)]
struct CallLog {
    /// Since the conversation (re)started, first answer per cell.
    answered: BTreeMap<String, (u16, String)>,
    failed: BTreeMap<String, String>,
}

impl Calls {
    fn record(&self, cell: Option<&str>, outcome: &Result<HttpResponse, HttpError>) {
        let (Some(cell), Ok(mut log)) = (cell, self.0.lock()) else {
            return;
        };
        match outcome {
            Ok(response) => {
                log.answered
                    .entry(cell.to_owned())
                    .or_insert_with(|| (response.status, response.body.clone()));
                if (200..300).contains(&response.status) {
                    log.failed.remove(cell);
                } else {
                    let excerpt: String = response
                        .body
                        .trim()
                        .chars()
                        .take(BODY_EXCERPT_CHARS)
                        .collect();
                    let excerpt = if excerpt.len() < response.body.trim().len() {
                        format!("{excerpt}…")
                    } else {
                        excerpt
                    };
                    log.failed.insert(cell.to_owned(), excerpt);
                }
            }
            Err(_) => {
                log.failed.remove(cell);
            }
        }
    }

    fn failed_body(&self, cell: &str) -> Option<String> {
        let log = self.0.lock().ok()?;
        log.failed.get(cell).filter(|b| !b.is_empty()).cloned()
    }

    fn mocks(&self) -> Vec<Mock> {
        self.0.lock().map_or_else(
            |_| Vec::new(),
            |log| {
                log.answered
                    .iter()
                    .map(|(service, (status, body))| Mock {
                        service: service.clone(),
                        status: *status,
                        body: body.clone(),
                    })
                    .collect()
            },
        )
    }

    fn clear(&self) {
        if let Ok(mut log) = self.0.lock() {
            *log = CallLog::default();
        }
    }
}

/// Service calls answered by mocks (`--mocks`), or made for real; every
/// outcome recorded in [`Calls`].
struct Services {
    /// The mocks by service id, and the file they came from.
    mocks: Option<(Mocks, String)>,
    calls: Calls,
}

impl HttpClient for Services {
    fn call(&self, request: &HttpRequest) -> Result<HttpResponse, HttpError> {
        let outcome = match &self.mocks {
            Some((mocks, from)) => {
                let id = request.cell.clone().unwrap_or_else(|| request.url.clone());
                match mocks.get(&id) {
                    Some((status, body)) => Ok(HttpResponse {
                        status: *status,
                        body: body.clone(),
                    }),
                    None => Err(HttpError::Failed(format!(
                        "no mock for service `{id}` in {from}"
                    ))),
                }
            }
            None => Network.call(request),
        };
        self.calls.record(request.cell.as_deref(), &outcome);
        outcome
    }
}

/// The mocks of every test in `path` (a test file or a directory of
/// them), the first for each service.
fn read_mocks(path: &Path, bot: &Bot) -> Result<Mocks, CliError> {
    let files: Vec<PathBuf> = if path.is_dir() {
        let mut found = Vec::new();
        collect_test_files(path, &mut found);
        found.sort();
        found
    } else {
        vec![path.to_owned()]
    };
    if files.is_empty() {
        return Err(CliError::Usage(format!(
            "--mocks {}: no *.test.yaml file there",
            cellflow::project::display_name(path)
        )));
    }
    let services = test_file::services(bot.program());
    let mut mocks = BTreeMap::new();
    for file in files {
        let name = cellflow::project::display_name(&file);
        let text = std::fs::read_to_string(&file)
            .map_err(|e| CliError::Usage(format!("--mocks {name}: {e}")))?;
        let id = cellflow::source::SourceMap::new().add(&name, &name, "");
        let (tests, diagnostics) = test_file::parse(id, &text, &services);
        if let Some(d) = diagnostics.iter().find(|d| d.is_error()) {
            return Err(CliError::Usage(format!("--mocks {name}: {}", d.problem)));
        }
        for mock in tests.into_iter().flat_map(|t| t.mocks) {
            mocks
                .entry(mock.service)
                .or_insert((mock.status, mock.body));
        }
    }
    Ok(mocks)
}

fn collect_test_files(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if path.is_dir() && !name.starts_with('.') && name != "target" {
            collect_test_files(&path, found);
        } else if name.ends_with(".test.yaml") {
            found.push(path);
        }
    }
}

/// Shows what is typed into a masked input as `*`s, like a password
/// prompt (the line editor's only help cellflow uses).
#[derive(Default)]
struct Masking(std::cell::Cell<bool>);

impl rustyline::highlight::Highlighter for Masking {
    fn highlight<'l>(&self, line: &'l str, _pos: usize) -> std::borrow::Cow<'l, str> {
        if self.0.get() {
            "*".repeat(line.chars().count()).into()
        } else {
            line.into()
        }
    }

    fn highlight_char(
        &self,
        _line: &str,
        _pos: usize,
        _kind: rustyline::highlight::CmdKind,
    ) -> bool {
        // Redrawn at each key while masking, so no character shows.
        self.0.get()
    }
}

impl rustyline::completion::Completer for Masking {
    type Candidate = String;
}
impl rustyline::hint::Hinter for Masking {
    type Hint = String;
}
impl rustyline::validate::Validator for Masking {}
impl rustyline::Helper for Masking {}

/// Where the history is kept, unless the user said otherwise.
fn default_history() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("CELLFLOW_HISTORY") {
        return Some(PathBuf::from(path));
    }
    let state = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".local/state"))
        })?;
    Some(state.join("cellflow").join("history"))
}

/// One chat: the bot (with and without tracing), the conversation, and
/// what a `:save` writes.
struct Chat {
    plain: Bot,
    traced: Bot,
    trace: bool,
    session: Session,
    /// What the last answers offered, by number.
    choices: Choices,
    /// The conversation so far, as test steps.
    steps: Vec<Step>,
    /// Steps whose message went into a masked input (not written).
    masked_steps: Vec<usize>,
    /// The language the conversation was in when it started.
    language: Option<String>,
    calls: Calls,
}

impl Chat {
    fn bot(&self) -> &Bot {
        if self.trace {
            &self.traced
        } else {
            &self.plain
        }
    }

    /// Starts over: a new conversation in the language of the last one,
    /// greeted.
    fn restart(&mut self, out: &mut impl std::io::Write) {
        self.language = self.session.language.take();
        self.session = self.plain.new_session();
        self.session.language.clone_from(&self.language);
        self.steps.clear();
        self.masked_steps.clear();
        self.calls.clear();
        self.send(Request::event("welcome"), out);
    }

    /// Sends one request and shows what came back.
    fn send(&mut self, request: Request, out: &mut impl std::io::Write) {
        let secret = self.plain.awaits_secret(&self.session);
        let sent = request.clone();
        let bot = self.bot().clone();
        match bot.turn(&mut self.session, request) {
            Ok(response) => {
                if self.trace {
                    let threshold = bot.program().threshold;
                    show_nlu(out, &response, threshold);
                    show_trace(out, &response);
                }
                self.choices.clear();
                for answer in &response.answers {
                    show_answer(out, answer, &mut self.choices);
                }
                show_events(out, &response, &self.calls, &bot.secrets(&self.session));
                if response.answers.is_empty() && response.events.is_empty() {
                    let _ = writeln!(out, "  (no answer)");
                }
                if secret {
                    self.masked_steps.push(self.steps.len());
                }
                let mut step = Step::observed(&sent, &response);
                if secret {
                    step.user = step.user.map(|_| MASK.to_owned());
                }
                self.steps.push(step);
            }
            Err(e) => {
                let _ = writeln!(out, "(error: {e})");
            }
        }
    }

    /// What a number typed now means: the choice it picks, unless the bot
    /// waits for a value a number answers (a quantity, a date…).
    fn pick(&self, line: &str) -> Option<&str> {
        let n: usize = line.trim().parse().ok()?;
        let choice = self.choices.get(n.checked_sub(1)?)?;
        let typed_value = match self.plain.awaiting(&self.session) {
            Some(Awaiting::Input { ty, .. }) => !matches!(&*ty, "options" | "boolean"),
            _ => false,
        };
        (!typed_value).then_some(choice.as_str())
    }

    /// `:lang`: the conversation's language, or a switch to another.
    fn lang(&mut self, code: &str, out: &mut impl std::io::Write) {
        let languages = &self.plain.program().languages;
        if code.is_empty() {
            let now = self
                .session
                .language
                .clone()
                .unwrap_or_else(|| languages[0].clone());
            let _ = writeln!(
                out,
                "(speaking {now}; the bot speaks {})",
                languages.join(", ")
            );
            return;
        }
        match cellflow::language::pick(code, languages) {
            Some(i) => {
                self.session.language = Some(languages[i].clone());
                if self.steps.len() <= 1 {
                    self.language = Some(languages[i].clone());
                }
                let _ = writeln!(out, "(now speaking {})", languages[i]);
            }
            None => {
                let _ = writeln!(
                    out,
                    "(the bot does not speak `{code}`; it speaks {})",
                    languages.join(", ")
                );
            }
        }
    }

    /// `:save FILE`: the conversation so far as a test case, added to FILE.
    fn save(&self, file: &str, out: &mut impl std::io::Write) {
        if file.is_empty() {
            let _ = writeln!(out, "(:save needs a file, e.g. :save bot.test.yaml)");
            return;
        }
        let path = Path::new(file);
        let existing = match std::fs::read_to_string(path) {
            Ok(text) => Some(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                let _ = writeln!(out, "(cannot read {file}: {e})");
                return;
            }
        };
        let name = format!(
            "saved chat: {}",
            self.steps
                .iter()
                .filter_map(|s| s.user.as_deref().or(s.event.as_deref()))
                .take(4)
                .collect::<Vec<_>>()
                .join(" → ")
        );
        let name: String = name.chars().take(90).collect();
        let test = Test {
            name,
            language: self.language.clone(),
            context: BTreeMap::new(),
            steps: self.steps.clone(),
            mocks: self.calls.mocks(),
            span: cellflow::source::Span::default(),
        };
        let header = "# Conversation tests (docs/TESTING.md); `cellflow test` runs them.\n";
        let written = match test_file::append(existing.as_deref(), test, header) {
            Ok((written, _)) => written,
            Err(e) => {
                let _ = writeln!(out, "(cannot add to {file}: {e})");
                return;
            }
        };
        match std::fs::write(path, written) {
            Ok(()) => {
                let _ = writeln!(
                    out,
                    "(saved {} steps as a test in {file})",
                    self.steps.len()
                );
                if !file.ends_with(".test.yaml") {
                    let _ = writeln!(
                        out,
                        "(`cellflow test` runs files named *.test.yaml; rename it to run it)"
                    );
                }
                for n in &self.masked_steps {
                    let _ = writeln!(
                        out,
                        "(step {} answered a masked input: it is written as {MASK}; \
                         put a test value there)",
                        n + 1
                    );
                }
            }
            Err(e) => {
                let _ = writeln!(out, "(cannot write {file}: {e})");
            }
        }
    }

    /// Handles one line; false to stop.
    fn handle(&mut self, line: &str, out: &mut impl std::io::Write) -> bool {
        let line = line.trim();
        let (command, argument) = line
            .split_once(char::is_whitespace)
            .map_or((line, ""), |(c, a)| (c, a.trim()));
        let request = match command {
            ":quit" | ":q" => return false,
            ":help" | ":h" | ":?" => {
                let _ = writeln!(out, "{HELP}");
                return true;
            }
            ":vars" => {
                let vars = self.plain.shown_vars(&self.session);
                let _ = writeln!(
                    out,
                    "{}",
                    serde_json::to_string_pretty(&vars).unwrap_or_default()
                );
                return true;
            }
            ":reset" => {
                self.restart(out);
                return true;
            }
            ":trace" => {
                match argument {
                    "on" => self.trace = true,
                    "off" => self.trace = false,
                    _ => {
                        let _ = writeln!(out, "(:trace on or :trace off)");
                        return true;
                    }
                }
                let _ = writeln!(out, "(trace {argument})");
                return true;
            }
            ":lang" => {
                self.lang(argument, out);
                return true;
            }
            ":save" => {
                self.save(argument, out);
                return true;
            }
            ":event" if !argument.is_empty() => Request::event(argument),
            ":file" if !argument.is_empty() => {
                let mut words = argument.split_whitespace();
                let url = words.next().unwrap_or_default();
                let mut file = serde_json::json!({ "url": url });
                if let Some(media_type) = words.next() {
                    file["media_type"] = media_type.into();
                }
                Request {
                    file: Some(file),
                    ..Request::default()
                }
            }
            _ if line.starts_with(':') => {
                let _ = writeln!(out, "(unknown command `{command}`; :help lists them)");
                return true;
            }
            _ => match self.pick(line) {
                Some(choice) => {
                    let choice = choice.to_owned();
                    let _ = writeln!(out, "  (→ {choice})");
                    Request::text(choice)
                }
                None => Request::text(line),
            },
        };
        self.send(request, out);
        true
    }
}

/// Whether a line is one of the runner's own commands (not a message).
fn is_command(line: &str) -> bool {
    line.trim_start().starts_with(':')
}

impl Run {
    pub(crate) fn run(self) -> Result<u8, CliError> {
        let Some(bot) = super::load_bot(&self.path)? else {
            return Ok(EXIT_PROBLEMS);
        };
        let calls = Calls::default();
        let mocks = match &self.mocks {
            Some(path) => Some((
                read_mocks(path, &bot)?,
                cellflow::project::display_name(path),
            )),
            None => None,
        };
        // With mocks, the services' `${NAME}` references need no value
        // (mocks answer by cell id), as in conversation tests.
        let bot = if mocks.is_some() {
            bot.with_environment(|name| Some(cellflow::testing::placeholder_env(name)))
        } else {
            bot
        };
        let bot = bot.with_http(Services {
            mocks,
            calls: calls.clone(),
        });
        let mut chat = Chat {
            plain: bot.clone(),
            traced: bot.with_tracing(true).with_analytics(true),
            trace: self.trace,
            session: Session::new("terminal"),
            choices: Vec::new(),
            steps: Vec::new(),
            masked_steps: Vec::new(),
            language: None,
            calls,
        };
        if std::io::stdin().is_terminal() {
            return self.interactive(&mut chat);
        }
        let stdout = std::io::stdout();
        let mut out = stdout.lock();
        chat.restart(&mut out);
        for line in std::io::stdin().lock().lines() {
            let line =
                line.map_err(|e| CliError::Usage(format!("cannot read standard input: {e}")))?;
            let line = line.trim_end_matches('\r');
            // A secret typed into a masked input is not echoed.
            if chat.plain.awaits_secret(&chat.session) && !is_command(line) {
                let _ = writeln!(out, "> {MASK}");
            } else {
                let _ = writeln!(out, "> {line}");
            }
            if !chat.handle(line, &mut out) {
                break;
            }
        }
        Ok(EXIT_OK)
    }

    fn interactive(&self, chat: &mut Chat) -> Result<u8, CliError> {
        use rustyline::error::ReadlineError;
        let mut editor: rustyline::Editor<Masking, rustyline::history::DefaultHistory> =
            rustyline::Editor::new().map_err(|e| CliError::Usage(e.to_string()))?;
        editor.set_helper(Some(Masking::default()));
        let history = self
            .history
            .clone()
            .or_else(default_history)
            .filter(|p| p.as_os_str() != "-");
        if let Some(path) = &history {
            // A first run has none yet; any other problem only costs the history.
            let _ = editor.load_history(path);
        }
        println!(
            "(chatting with {} from {}; :help lists the commands, Ctrl-D leaves)",
            chat.plain.program().name,
            self.path.display()
        );
        chat.restart(&mut std::io::stdout().lock());
        loop {
            let secret = chat.plain.awaits_secret(&chat.session);
            if let Some(masking) = editor.helper_mut() {
                masking.0.set(secret);
            }
            match editor.readline("you> ") {
                Ok(line) => {
                    // A secret typed into a masked input stays out of the history.
                    if !secret && !line.trim().is_empty() {
                        let _ = editor.add_history_entry(line.as_str());
                    }
                    let mut out = std::io::stdout().lock();
                    if !chat.handle(&line, &mut out) {
                        break;
                    }
                }
                Err(ReadlineError::Interrupted) => {
                    println!("(line cleared; Ctrl-D or :quit leaves)");
                }
                Err(ReadlineError::Eof) => break,
                Err(e) => return Err(CliError::Usage(e.to_string())),
            }
        }
        if let Some(path) = &history {
            if let Some(dir) = path.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            if let Err(e) = editor.save_history(path) {
                eprintln!("(the history was not kept in {}: {e})", path.display());
            }
        }
        Ok(EXIT_OK)
    }
}
