//! `cellflow run PATH [--trace]`: chat with a bot in the terminal (`--trace`
//! also shows the cells each turn visits and its analytics events).
//!
//! On a terminal it is an interactive chat with line editing and history;
//! otherwise it reads one user message per line from standard input and
//! prints a plain transcript (handy in scripts and tests). Lines starting
//! with `:` are commands: `:vars`, `:reset`, `:event NAME`, `:file URL
//! [MEDIA_TYPE]` (send an upload), `:quit`. Coordinates typed as text
//! (`-33.44, -70.65`) answer a location input.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::PathBuf;

use cellflow::runtime::{Answer, AnswerType, Bot, Event, MASK, Request, Response, Session};

use super::{CliError, EXIT_OK, EXIT_PROBLEMS};

#[derive(clap::Args, Debug)]
pub(crate) struct Run {
    /// Bot directory, flow file or compiled artifact
    path: PathBuf,
    /// Show the cells each turn visits and the variables they change
    #[arg(long)]
    trace: bool,
}

fn show_answer(out: &mut impl std::io::Write, answer: &Answer) {
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
                None => format!("[{}]", b.label),
            })
            .collect();
        let _ = writeln!(out, "     {}", labels.join(" "));
    }
    if !answer.quick_replies.is_empty() {
        let labels: Vec<&str> = answer
            .quick_replies
            .iter()
            .map(|b| b.label.as_str())
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
            let _ = writeln!(out, "       [{}]", b.label);
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

fn show(out: &mut impl std::io::Write, response: &Response, trace: Option<f64>) {
    if let Some(threshold) = trace {
        // What the classifier made of the message, when it saw one.
        if let Some(intent) = &response.nlu.intent {
            let verdict = if response.nlu.confidence >= threshold {
                ""
            } else {
                ", under the threshold: not understood"
            };
            let _ = writeln!(
                out,
                "  · intent {intent} ({:.3}{verdict})",
                response.nlu.confidence
            );
        }
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
    for answer in &response.answers {
        show_answer(out, answer);
    }
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
                match cell {
                    Some(cell) => format!("[service `{cell}` failed{place}: {reason}]"),
                    None => format!("[a service failed{place}: {reason}]"),
                }
            }
        };
        let _ = writeln!(out, "{line}");
    }
}

/// Whether a line is one of the runner's own commands (not a message).
fn is_command(line: &str) -> bool {
    let line = line.trim();
    matches!(line, ":quit" | ":q" | ":vars" | ":reset")
        || line.starts_with(":event ")
        || line.starts_with(":file ")
}

impl Run {
    pub(crate) fn run(self) -> Result<u8, CliError> {
        let Some(bot) = super::load_bot(&self.path)? else {
            return Ok(EXIT_PROBLEMS);
        };
        let bot = bot.with_tracing(self.trace).with_analytics(self.trace);
        let mut session = bot.new_session();
        let stdout = std::io::stdout();
        let mut out = stdout.lock();
        let welcome = bot
            .turn(&mut session, Request::event("welcome"))
            .map_err(|e| CliError::Usage(e.to_string()))?;
        let trace = self.trace.then_some(bot.program().threshold);
        show(&mut out, &welcome, trace);
        if std::io::stdin().is_terminal() {
            drop(out);
            self.interactive(&bot, &mut session)
        } else {
            for line in std::io::stdin().lock().lines() {
                let line =
                    line.map_err(|e| CliError::Usage(format!("cannot read standard input: {e}")))?;
                let line = line.trim_end_matches('\r');
                // A secret typed into a masked input is not echoed.
                if bot.awaits_secret(&session) && !is_command(line) {
                    let _ = writeln!(out, "> {MASK}");
                } else {
                    let _ = writeln!(out, "> {line}");
                }
                if !self.handle(&bot, &mut session, line, &mut out) {
                    break;
                }
            }
            Ok(EXIT_OK)
        }
    }

    fn interactive(&self, bot: &Bot, session: &mut Session) -> Result<u8, CliError> {
        let mut editor =
            rustyline::DefaultEditor::new().map_err(|e| CliError::Usage(e.to_string()))?;
        println!(
            "(chatting with {}; :vars, :reset, :event NAME, :file URL [TYPE], :quit)",
            self.path.display()
        );
        loop {
            match editor.readline("you> ") {
                Ok(line) => {
                    let _ = editor.add_history_entry(line.as_str());
                    let mut out = std::io::stdout().lock();
                    if !self.handle(bot, session, &line, &mut out) {
                        return Ok(EXIT_OK);
                    }
                }
                Err(
                    rustyline::error::ReadlineError::Interrupted
                    | rustyline::error::ReadlineError::Eof,
                ) => return Ok(EXIT_OK),
                Err(e) => return Err(CliError::Usage(e.to_string())),
            }
        }
    }

    /// Handles one line; false to stop.
    fn handle(
        &self,
        bot: &Bot,
        session: &mut Session,
        line: &str,
        out: &mut impl std::io::Write,
    ) -> bool {
        let request = match line.trim() {
            ":quit" | ":q" => return false,
            ":vars" => {
                let vars = bot.shown_vars(session);
                let _ = writeln!(
                    out,
                    "{}",
                    serde_json::to_string_pretty(&vars).unwrap_or_default()
                );
                return true;
            }
            ":reset" => {
                *session = bot.new_session();
                Request::event("welcome")
            }
            command if command.starts_with(":event ") => Request::event(command[7..].trim()),
            command if command.starts_with(":file ") => {
                let mut words = command[6..].split_whitespace();
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
            command if command.starts_with(':') => {
                let _ = writeln!(
                    out,
                    "(unknown command; try :vars, :reset, :event NAME, :file URL [TYPE], :quit)"
                );
                return true;
            }
            text => Request::text(text),
        };
        match bot.turn(session, request) {
            Ok(response) => show(
                out,
                &response,
                self.trace.then_some(bot.program().threshold),
            ),
            Err(e) => {
                let _ = writeln!(out, "(error: {e})");
            }
        }
        true
    }
}
