//! Where a turn's analytics events go (docs/ANALYTICS.md): counters on
//! `/metrics`, and one JSON line each in the events file.
//!
//! The file is written by a thread of its own, fed through a bounded queue,
//! so a slow disk never holds a turn: when the queue is full, events are
//! dropped and counted instead. Lines are written whole and flushed when
//! the queue runs empty.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};

use serde::Serialize;

use crate::compile::Program;
use crate::runtime::Tracked;

/// Events the file writer may fall behind by before new ones are dropped.
pub(crate) const QUEUE: usize = 65_536;

/// One line of the events file.
#[derive(Serialize)]
struct Line<'a> {
    at: &'a str,
    conversation: &'a str,
    bot: &'a str,
    version: &'a str,
    #[serde(flatten)]
    event: &'a Tracked,
}

enum Message {
    Line(Vec<u8>),
    /// Close the file and open it again (after it was rotated).
    Reopen,
}

/// The events file's writer, if the server has one.
pub(crate) struct Sink {
    sender: Option<SyncSender<Message>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Sink {
    /// A sink writing to `path` (appending; created if missing), or one
    /// that writes nowhere.
    ///
    /// # Errors
    /// The file cannot be opened.
    pub(crate) fn open(path: Option<&PathBuf>) -> std::io::Result<Sink> {
        let Some(path) = path else {
            return Ok(Sink {
                sender: None,
                thread: None,
            });
        };
        let file = append(path)?;
        let (sender, receiver) = std::sync::mpsc::sync_channel(QUEUE);
        let path = path.clone();
        let thread = std::thread::Builder::new()
            .name("cellflow-events".into())
            .spawn(move || write_lines(&path, file, &receiver))?;
        Ok(Sink {
            sender: Some(sender),
            thread: Some(thread),
        })
    }

    /// Queues one line per event; whether all were queued.
    pub(crate) fn record(&self, conversation: &str, program: &Program, events: &[Tracked]) -> bool {
        let Some(sender) = &self.sender else {
            return true;
        };
        let at = jiff::Timestamp::now().to_string();
        let version = format!("{:x}", program.version);
        let mut all = true;
        for event in events {
            let line = Line {
                at: &at,
                conversation,
                bot: &program.name,
                version: &version,
                event,
            };
            let Ok(mut bytes) = serde_json::to_vec(&line) else {
                continue;
            };
            bytes.push(b'\n');
            match sender.try_send(Message::Line(bytes)) {
                Ok(()) => {}
                Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => all = false,
            }
        }
        all
    }

    /// Asks the writer to reopen its file (SIGHUP, after a rotation).
    pub(crate) fn reopen(&self) {
        if let Some(sender) = &self.sender {
            let _ = sender.try_send(Message::Reopen);
        }
    }

    /// Writes what is queued and closes the file.
    pub(crate) fn close(&mut self) {
        self.sender = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.close();
    }
}

fn append(path: &PathBuf) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
}

fn write_lines(path: &PathBuf, file: std::fs::File, queue: &Receiver<Message>) {
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, file);
    let mut failing = false;
    while let Ok(message) = queue.recv() {
        let mut next = Some(message);
        // Everything already queued, then one flush.
        while let Some(message) = next {
            match message {
                Message::Line(bytes) => {
                    if let Err(e) = out.write_all(&bytes) {
                        if !failing {
                            tracing::error!(file = %path.display(), error = %e, "writing analytics events failed");
                        }
                        failing = true;
                    }
                }
                Message::Reopen => {
                    let _ = out.flush();
                    match append(path) {
                        Ok(file) => {
                            out = std::io::BufWriter::with_capacity(64 * 1024, file);
                            failing = false;
                        }
                        Err(e) => {
                            tracing::error!(
                                file = %path.display(),
                                error = %e,
                                "reopening the analytics events file failed"
                            );
                        }
                    }
                }
            }
            next = queue.try_recv().ok();
        }
        if let Err(e) = out.flush()
            && !failing
        {
            tracing::error!(file = %path.display(), error = %e, "writing analytics events failed");
            failing = true;
        }
    }
    let _ = out.flush();
}
