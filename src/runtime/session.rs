//! Session state: everything that changes during a conversation, kept apart
//! from the compiled bot (which never changes). Serializable, so hosts can
//! store it anywhere and resume it later, on another process if need be.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::vars::Vars;
use crate::compile::{CellIndex, Goto};

/// How deeply arrays and objects may nest in a variable's value.
///
/// A session must read back after it is stored, and JSON readers refuse
/// deep nesting (`serde_json` stops at 128 levels, two of which are the
/// session's own); a turn that would store a deeper value fails instead,
/// and a request whose `context` carries one is refused. The margin also
/// keeps every response readable by clients with stricter readers.
pub const MAX_VALUE_DEPTH: usize = 64;

/// Whether `value` nests arrays and objects more than `limit` levels deep
/// (a scalar is at depth 0, `[1]` at 1). Iterative, so no value is too
/// deep to measure; scalars cost nothing.
pub(crate) fn too_deep(value: &Value, limit: usize) -> bool {
    fn compound(value: &Value) -> bool {
        matches!(value, Value::Array(_) | Value::Object(_))
    }
    if !compound(value) {
        return false;
    }
    let mut pending = vec![(value, 1)];
    while let Some((value, depth)) = pending.pop() {
        if depth > limit {
            return true;
        }
        let inner = depth + 1;
        match value {
            Value::Array(items) => {
                pending.extend(items.iter().filter(|v| compound(v)).map(|v| (v, inner)));
            }
            Value::Object(fields) => {
                pending.extend(fields.values().filter(|v| compound(v)).map(|v| (v, inner)));
            }
            _ => {}
        }
    }
    false
}

/// What the session is waiting for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Wait {
    /// An `input` or `intent` cell (by index) waits for the user.
    Cell(CellIndex),
    /// A handoff (by index) waits for the host's `resume`.
    Agent(CellIndex),
}

impl Wait {
    /// The waiting cell's index.
    #[must_use]
    pub fn cell(self) -> CellIndex {
        match self {
            Wait::Cell(cell) | Wait::Agent(cell) => cell,
        }
    }
}

/// A return point of a `jump … return: true` call: where to go on when the
/// called flow completes, and the key of the jump that made the call (see
/// [`Session::waiting_key`]), which finds the return point in another
/// version of the bot.
///
/// Stored as `[cell, key]`, with `u32::MAX` for "complete the calling flow
/// too" (no cell index is ever `u32::MAX`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "(u32, u64)", into = "(u32, u64)")]
pub struct Frame {
    pub after: Goto,
    pub jump_key: u64,
}

impl From<(u32, u64)> for Frame {
    fn from((cell, jump_key): (u32, u64)) -> Frame {
        Frame {
            after: CellIndex::from_number(cell).map_or(Goto::Complete, Goto::Cell),
            jump_key,
        }
    }
}

impl From<Frame> for (u32, u64) {
    fn from(frame: Frame) -> (u32, u64) {
        let cell = match frame.after {
            Goto::Cell(cell) => cell.number(),
            Goto::Complete => u32::MAX,
        };
        (cell, frame.jump_key)
    }
}

/// One conversation's state.
#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub id: String,
    /// The cell waiting for the next message, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting: Option<Wait>,
    /// The waiting cell's key, which names it in any version of the bot:
    /// a session saved before a reload resumes on the same cell when it
    /// still exists (indexes may have moved).
    #[serde(default, skip_serializing_if = "is_zero64")]
    pub waiting_key: u64,
    /// Return points of `jump … return: true` calls, innermost last.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stack: Vec<Frame>,
    /// Session variables.
    #[serde(default, skip_serializing_if = "Vars::is_empty")]
    pub vars: Vars,
    /// Bad answers given to the pending input so far.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub retries: u32,
    /// Turns taken.
    #[serde(default)]
    pub turn: u64,
    /// Unix seconds of the last turn.
    #[serde(default)]
    pub last_activity: u64,
    /// The bot version the session last ran on.
    #[serde(default)]
    pub bot_version: u64,
    /// Per cell with `pick: sequence`: how many times it was said.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sequence: BTreeMap<CellIndex, u32>,
    /// Variables that hold a masked value: typed into masked inputs, or
    /// copied from one (kept here so a session shows them masked even
    /// after a reload of the bot).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub masked: Vec<String>,
    /// The conversation ended; the next message starts a new one.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ended: bool,
    /// The language the conversation is in, once a request or a script
    /// chose one (else the bot's default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// The user's time zone, once a request gave one (else the bot's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// How many times in a row the conversation timed out since the user
    /// last wrote (scripts and templates read it as `session.timeouts`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub timeouts: u32,
}

#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_zero(n: &u32) -> bool {
    *n == 0
}

#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_zero64(n: &u64) -> bool {
    *n == 0
}

impl Clone for Session {
    fn clone(&self) -> Session {
        let mut copy = Session::default();
        copy.clone_from(self);
        copy
    }

    /// Reuses this session's buffers (a turn snapshots the session it runs).
    fn clone_from(&mut self, source: &Session) {
        let Session {
            id,
            waiting,
            waiting_key,
            stack,
            vars,
            retries,
            turn,
            last_activity,
            bot_version,
            sequence,
            masked,
            ended,
            language,
            timezone,
            timeouts,
        } = source;
        self.id.clone_from(id);
        self.waiting = *waiting;
        self.waiting_key = *waiting_key;
        self.stack.clone_from(stack);
        self.vars.clone_from(vars);
        self.retries = *retries;
        self.turn = *turn;
        self.last_activity = *last_activity;
        self.bot_version = *bot_version;
        self.sequence.clone_from(sequence);
        self.masked.clone_from(masked);
        self.ended = *ended;
        self.language.clone_from(language);
        self.timezone.clone_from(timezone);
        self.timeouts = *timeouts;
    }
}

impl Session {
    #[must_use]
    pub fn new(id: impl Into<String>) -> Session {
        Session {
            id: id.into(),
            ..Session::default()
        }
    }

    /// Whether the session is handed off to a human agent.
    #[must_use]
    pub fn handed_off(&self) -> bool {
        matches!(self.waiting, Some(Wait::Agent(_)))
    }

    /// Whether the user typed `name` into a masked input.
    #[must_use]
    pub fn is_masked(&self, name: &str) -> bool {
        self.masked.iter().any(|m| m == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_is_stored_as_cell_and_key_with_the_marker_for_completing() {
        let back = Frame {
            after: Goto::Cell(CellIndex::new(12)),
            jump_key: 99,
        };
        let complete = Frame {
            after: Goto::Complete,
            jump_key: 7,
        };
        let stored = serde_json::to_string(&[back, complete]).unwrap();
        assert_eq!(stored, "[[12,99],[4294967295,7]]");
        let read: Vec<Frame> = serde_json::from_str(&stored).unwrap();
        assert_eq!(read, [back, complete]);
    }

    #[test]
    fn sequence_counts_are_keyed_by_cell_number() {
        let mut session = Session::new("s");
        session.sequence.insert(CellIndex::new(5), 2);
        session.waiting = Some(Wait::Cell(CellIndex::new(3)));
        let stored = serde_json::to_value(&session).unwrap();
        assert_eq!(stored["sequence"], serde_json::json!({"5": 2}));
        assert_eq!(stored["waiting"], serde_json::json!({"cell": 3}));
        let read: Session = serde_json::from_value(stored).unwrap();
        assert_eq!(read, session);
    }
}
