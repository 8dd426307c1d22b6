//! `cellflow report EVENTS.jsonl…`: what the analytics events a server
//! wrote say about its conversations (docs/ANALYTICS.md): a funnel per flow,
//! the messages the bot did not understand most often, and how often
//! conversations were handed to a person.
//!
//! The files are read a line at a time, so their size does not matter; a
//! line that is not an event is counted and named (file and line), never
//! fatal, since a server stopped mid-write leaves half a line at the end.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::BufRead as _;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{CliError, EXIT_OK};

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub(crate) enum ReportFormat {
    Human,
    Json,
}

#[derive(clap::Args, Debug)]
pub(crate) struct Report {
    /// Analytics event files (JSON lines, as `cellflow serve --events-file` writes)
    #[arg(required = true)]
    files: Vec<PathBuf>,
    #[arg(long, value_enum, default_value = "human")]
    format: ReportFormat,
    /// How many not-understood messages to list
    #[arg(long, default_value_t = 10)]
    top: usize,
}

/// Longest line read as an event; longer ones are counted as unreadable.
const MAX_LINE_BYTES: usize = 1 << 20;
/// Unreadable lines named one by one; the rest are only counted.
const NAMED_BAD_LINES: usize = 10;

/// The fields of an event the report reads (others are ignored).
#[derive(Deserialize)]
struct Line {
    conversation: String,
    event: String,
    #[serde(default)]
    flow: Option<String>,
    #[serde(default)]
    properties: serde_json::Map<String, serde_json::Value>,
}

/// One flow's funnel: conversations that started it, reached each of its
/// tracked steps (in the order they were first seen), and completed it.
#[derive(Default, Serialize)]
struct Funnel {
    started: usize,
    steps: Vec<Step>,
    completed: usize,
    /// Completed over started, in percent (0 when it never started).
    completion_pct: f64,
    #[serde(skip)]
    seen: HashMap<String, HashSet<String>>,
}

#[derive(Serialize)]
struct Step {
    event: String,
    conversations: usize,
}

#[derive(Default, Serialize)]
struct Summary {
    events: usize,
    conversations: usize,
    /// Event name → how many.
    counts: BTreeMap<String, usize>,
    flows: BTreeMap<String, Funnel>,
    not_understood: Vec<Message>,
    handoffs: usize,
    /// Conversations with at least one handoff over all, in percent.
    handoff_rate_pct: f64,
    /// Queue → handoffs to it.
    handoff_queues: BTreeMap<String, usize>,
    unreadable_lines: usize,
    /// `FILE:LINE: why`, for the first few.
    unreadable: Vec<String>,
}

#[derive(Serialize)]
struct Message {
    text: String,
    count: usize,
}

/// Counts conversations once per key.
#[derive(Default)]
struct Tally {
    started: HashMap<String, HashSet<String>>,
    completed: HashMap<String, HashSet<String>>,
    handed_off: HashSet<String>,
    conversations: HashSet<String>,
    not_understood: HashMap<String, usize>,
}

impl Report {
    pub(crate) fn run(self) -> Result<u8, CliError> {
        let mut summary = Summary::default();
        let mut tally = Tally::default();
        for path in &self.files {
            let file = std::fs::File::open(path).map_err(|source| {
                CliError::Load(cellflow::project::ReadError::Io {
                    path: path.clone(),
                    source,
                })
            })?;
            read(
                std::io::BufReader::new(file),
                &path.display().to_string(),
                &mut summary,
                &mut tally,
            )
            .map_err(|source| {
                CliError::Load(cellflow::project::ReadError::Io {
                    path: path.clone(),
                    source,
                })
            })?;
        }
        summary.finish(tally, self.top);
        match self.format {
            ReportFormat::Human => print!("{}", summary.human()),
            ReportFormat::Json => println!(
                "{}",
                serde_json::to_string_pretty(&summary)
                    .map_err(|e| CliError::Usage(e.to_string()))?
            ),
        }
        Ok(EXIT_OK)
    }
}

/// Reads one file's events into the summary.
fn read(
    mut reader: impl std::io::BufRead,
    name: &str,
    summary: &mut Summary,
    tally: &mut Tally,
) -> std::io::Result<()> {
    let mut line = Vec::new();
    let mut number = 0usize;
    loop {
        line.clear();
        // At most one byte past the limit is kept, so a huge line costs no
        // memory; the rest of it is skipped.
        let read = std::io::Read::take(&mut reader, MAX_LINE_BYTES as u64 + 1)
            .read_until(b'\n', &mut line)?;
        if read == 0 {
            return Ok(());
        }
        number += 1;
        if line.last() != Some(&b'\n') && line.len() > MAX_LINE_BYTES {
            skip_line(&mut reader)?;
            summary.unreadable(name, number, "longer than 1 MiB");
            continue;
        }
        let text = line.trim_ascii();
        if text.is_empty() {
            continue;
        }
        match serde_json::from_slice::<Line>(text) {
            Ok(event) => summary.add(event, tally),
            Err(e) => summary.unreadable(name, number, &e.to_string()),
        }
    }
}

/// Skips to the start of the next line.
fn skip_line(reader: &mut impl std::io::BufRead) -> std::io::Result<()> {
    loop {
        let buffer = reader.fill_buf()?;
        if buffer.is_empty() {
            return Ok(());
        }
        if let Some(at) = buffer.iter().position(|&b| b == b'\n') {
            reader.consume(at + 1);
            return Ok(());
        }
        let all = buffer.len();
        reader.consume(all);
    }
}

impl Summary {
    fn unreadable(&mut self, file: &str, line: usize, why: &str) {
        self.unreadable_lines += 1;
        if self.unreadable.len() < NAMED_BAD_LINES {
            self.unreadable.push(format!("{file}:{line}: {why}"));
        }
    }

    fn add(&mut self, event: Line, tally: &mut Tally) {
        self.events += 1;
        *self.counts.entry(event.event.clone()).or_default() += 1;
        tally.conversations.insert(event.conversation.clone());
        let flow = event.flow.unwrap_or_default();
        match event.event.as_str() {
            "flow_started" => {
                tally
                    .started
                    .entry(flow.clone())
                    .or_default()
                    .insert(event.conversation);
                self.flows.entry(flow).or_default();
            }
            "flow_completed" => {
                tally
                    .completed
                    .entry(flow.clone())
                    .or_default()
                    .insert(event.conversation);
                self.flows.entry(flow).or_default();
            }
            "handoff" => {
                self.handoffs += 1;
                tally.handed_off.insert(event.conversation);
                let queue = event
                    .properties
                    .get("queue")
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or("")
                    .to_owned();
                *self.handoff_queues.entry(queue).or_default() += 1;
            }
            "fallback" => {
                if let Some(text) = event
                    .properties
                    .get("text")
                    .and_then(serde_json::Value::as_str)
                {
                    let said = text.split_whitespace().collect::<Vec<_>>().join(" ");
                    if !said.is_empty() {
                        *tally.not_understood.entry(said.to_lowercase()).or_default() += 1;
                    }
                }
            }
            // An author's `track` event: a step of its flow's funnel.
            name if !cellflow::kinds::AUTOMATIC_EVENTS.contains(&name) => {
                let funnel = self.flows.entry(flow).or_default();
                funnel
                    .seen
                    .entry(event.event.clone())
                    .or_insert_with(|| {
                        funnel.steps.push(Step {
                            event: event.event.clone(),
                            conversations: 0,
                        });
                        HashSet::new()
                    })
                    .insert(event.conversation);
            }
            _ => {}
        }
    }

    fn finish(&mut self, tally: Tally, top: usize) {
        self.conversations = tally.conversations.len();
        for (name, funnel) in &mut self.flows {
            funnel.started = tally.started.get(name).map_or(0, HashSet::len);
            funnel.completed = tally.completed.get(name).map_or(0, HashSet::len);
            funnel.completion_pct = percent(funnel.completed, funnel.started);
            for step in &mut funnel.steps {
                step.conversations = funnel.seen.get(&step.event).map_or(0, HashSet::len);
            }
        }
        self.handoff_rate_pct = percent(tally.handed_off.len(), self.conversations);
        let mut messages: Vec<Message> = tally
            .not_understood
            .into_iter()
            .map(|(text, count)| Message { text, count })
            .collect();
        messages.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.text.cmp(&b.text)));
        messages.truncate(top);
        self.not_understood = messages;
    }

    fn human(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{} events from {} conversations",
            self.events, self.conversations
        );
        if self.unreadable_lines > 0 {
            let _ = if self.unreadable_lines == 1 {
                writeln!(out, "1 line was not an event:")
            } else {
                writeln!(out, "{} lines were not events:", self.unreadable_lines)
            };
            for line in &self.unreadable {
                let _ = writeln!(out, "  {line}");
            }
        }
        let _ = writeln!(out, "\nFlows (conversations)");
        if self.flows.is_empty() {
            let _ = writeln!(out, "  none started");
        }
        for (name, funnel) in &self.flows {
            let shown = if name.is_empty() { "(no flow)" } else { name };
            let _ = writeln!(
                out,
                "  {shown}: {} started, {} completed ({:.1} %)",
                funnel.started, funnel.completed, funnel.completion_pct
            );
            for step in &funnel.steps {
                let _ = writeln!(
                    out,
                    "    {:<30} {:>6} ({:.1} % of started)",
                    step.event,
                    step.conversations,
                    percent(step.conversations, funnel.started)
                );
            }
        }
        let _ = writeln!(out, "\nNot understood (most frequent first)");
        if self.not_understood.is_empty() {
            let _ = writeln!(out, "  none");
        }
        for message in &self.not_understood {
            let _ = writeln!(out, "  {:>6}  {}", message.count, message.text);
        }
        let _ = writeln!(
            out,
            "\nHandoffs: {} ({:.1} % of conversations)",
            self.handoffs, self.handoff_rate_pct
        );
        for (queue, count) in &self.handoff_queues {
            let shown = if queue.is_empty() {
                "(no queue)"
            } else {
                queue
            };
            let _ = writeln!(out, "  {shown}: {count}");
        }
        let _ = writeln!(out, "\nEvents");
        for (name, count) in &self.counts {
            let _ = writeln!(out, "  {name:<30} {count:>6}");
        }
        out
    }
}

#[allow(clippy::cast_precision_loss)]
fn percent(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        (part as f64 * 1000.0 / whole as f64).round() / 10.0
    }
}
