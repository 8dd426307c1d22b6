//! A spanned YAML tree, read under explicit input budgets.
//!
//! The walker in `yaml.rs` needs every scalar, key and collection with its
//! byte range, and must see a whole file to report every problem in it, so
//! the file is first read into this small tree. The tree is built in one pass
//! over the events of `granit_parser`, the YAML parser under serde-saphyr
//! (re-exported by it), with the budgets enforced as the events arrive:
//! nesting depth, node count, alias uses and alias expansion (a "billion
//! laughs" file stops at the expansion limit). Building is iterative — an
//! explicit stack, no recursion — so no input can overflow the stack.
//!
//! An anchor costs nothing until it is used: the builder remembers where the
//! anchored node sits in the tree (a path of child positions) and its size,
//! and copies it only when an alias names it, after charging the copy to the
//! expansion budget. Nested anchors that are never aliased are never copied.
//!
//! Scalars are typed by the YAML 1.2 core schema with only `true`/`false` as
//! booleans: `on`, `yes` and `no` stay strings (`on:` is a flow field, and
//! `yes`/`no` are common intent names).

use std::borrow::Cow;
use std::collections::HashMap;

use serde_saphyr::granit_parser::{Event, Parser, ScalarStyle, ScanError, Tag};

use crate::diagnostic::{Diagnostic, Problem};
use crate::source::{FileId, Span};

/// Largest flow file accepted, in bytes.
pub const MAX_FILE_BYTES: usize = 16 * 1024 * 1024;
/// Deepest nesting of YAML collections accepted.
pub const MAX_DEPTH: usize = 64;
/// Most YAML nodes (scalars and collections) in one file, aliases expanded.
pub const MAX_NODES: usize = 4_000_000;
/// Most alias uses (`*name`) in one file.
pub const MAX_ALIASES: usize = 10_000;
/// Most nodes that alias expansion may add to one file.
pub const MAX_ALIAS_NODES: usize = 100_000;

#[derive(Clone, Debug)]
pub(crate) struct Node {
    pub value: Value,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub(crate) enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// The node as JSON. Map keys the YAML schema read as numbers or booleans
    /// keep the text the author wrote (`text` is the file the node is from).
    pub(crate) fn to_json(&self, text: &str) -> serde_json::Value {
        match &self.value {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Int(i) => serde_json::Value::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f)
                .map_or(serde_json::Value::Null, serde_json::Value::Number),
            Value::Str(s) => serde_json::Value::String(s.clone()),
            Value::Seq(items) => {
                serde_json::Value::Array(items.iter().map(|i| i.to_json(text)).collect())
            }
            Value::Map(entries) => serde_json::Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| {
                        let key = match &k.value {
                            Value::Str(s) => s.clone(),
                            _ => k
                                .span
                                .range()
                                .and_then(|r| text.get(r))
                                .unwrap_or("")
                                .trim()
                                .trim_matches(['"', '\''])
                                .to_owned(),
                        };
                        (key, v.to_json(text))
                    })
                    .collect(),
            ),
        }
    }
}

/// A collection being built.
enum Frame {
    Seq {
        items: Vec<Node>,
        start: usize,
        flow: bool,
        anchor: usize,
        /// Nodes in this collection so far, itself included.
        size: usize,
    },
    Map {
        entries: Vec<(Node, Node)>,
        key: Option<Node>,
        start: usize,
        flow: bool,
        anchor: usize,
        size: usize,
    },
}

impl Frame {
    /// The position the next child will take: an item's index, or for a
    /// map `2 * entry` for a key and `2 * entry + 1` for a value.
    fn next_position(&self) -> usize {
        match self {
            Frame::Seq { items, .. } => items.len(),
            Frame::Map { entries, key, .. } => entries.len() * 2 + usize::from(key.is_some()),
        }
    }

    /// The finished child at a position, if there is one yet.
    fn child(&self, position: usize) -> Option<&Node> {
        match self {
            Frame::Seq { items, .. } => items.get(position),
            Frame::Map { entries, key, .. } => match entries.get(position / 2) {
                Some((k, v)) => Some(if position.is_multiple_of(2) { k } else { v }),
                None if position == entries.len() * 2 => key.as_ref(),
                None => None,
            },
        }
    }

    fn add_size(&mut self, n: usize) {
        match self {
            Frame::Seq { size, .. } | Frame::Map { size, .. } => *size += n,
        }
    }
}

/// The child of a finished node at a position (see [`Frame::next_position`]).
fn child(node: &Node, position: usize) -> Option<&Node> {
    match &node.value {
        Value::Seq(items) => items.get(position),
        Value::Map(entries) => entries
            .get(position / 2)
            .map(|(k, v)| if position.is_multiple_of(2) { k } else { v }),
        _ => None,
    }
}

/// Where an anchored node is: its path of positions from the root, and its
/// size in nodes.
struct Anchored {
    path: Vec<usize>,
    size: usize,
}

struct Builder<'t> {
    file: FileId,
    text: &'t str,
    stack: Vec<Frame>,
    /// Where each anchored node is, by anchor id.
    anchors: HashMap<usize, Anchored>,
    nodes: usize,
    aliases: usize,
    alias_nodes: usize,
    /// Nodes copied for aliases, all within the alias budget.
    copied: usize,
    root: Option<Node>,
}

/// A YAML problem at one character of the file.
fn syntax_error(file: FileId, text: &str, message: String, at: usize) -> Diagnostic {
    let at = at.min(text.len());
    let end = text[at..].chars().next().map_or(at, |c| at + c.len_utf8());
    Diagnostic::new(Problem::YamlSyntax { message }, Span::new(file, at, end))
}

impl<'t> Builder<'t> {
    fn new(file: FileId, text: &'t str) -> Self {
        Builder {
            file,
            text,
            stack: Vec::new(),
            anchors: HashMap::new(),
            nodes: 0,
            aliases: 0,
            alias_nodes: 0,
            copied: 0,
            root: None,
        }
    }

    fn error(&self, message: String, at: usize) -> Diagnostic {
        syntax_error(self.file, self.text, message, at)
    }

    fn count_node(&mut self, at: usize) -> Result<(), Diagnostic> {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err(self.error(
                format!("the file is too large (at most {MAX_NODES} YAML nodes)"),
                at,
            ));
        }
        Ok(())
    }

    fn open(&mut self, frame: Frame, at: usize) -> Result<(), Diagnostic> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(self.error(format!("nested more than {MAX_DEPTH} levels deep"), at));
        }
        self.count_node(at)?;
        self.stack.push(frame);
        Ok(())
    }

    /// Places a finished node of `size` nodes in its parent (or as the root).
    fn place(&mut self, node: Node, size: usize, anchor: usize) {
        if anchor != 0 {
            // The path to where the node is about to go: each open
            // collection's position in its parent, then the node's own.
            let path = self
                .stack
                .windows(2)
                .map(|pair| pair[0].next_position())
                .chain(self.stack.last().map(Frame::next_position))
                .collect();
            self.anchors.insert(anchor, Anchored { path, size });
        }
        if let Some(parent) = self.stack.last_mut() {
            parent.add_size(size);
        }
        match self.stack.last_mut() {
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { entries, key, .. }) => match key.take() {
                Some(k) => entries.push((k, node)),
                None => *key = Some(node),
            },
            None => self.root = Some(node),
        }
    }

    fn close(&mut self, end: usize) {
        let Some(frame) = self.stack.pop() else {
            return;
        };
        let (value, start, flow, anchor, size) = match frame {
            Frame::Seq {
                items,
                start,
                flow,
                anchor,
                size,
            } => (Value::Seq(items), start, flow, anchor, size),
            Frame::Map {
                entries,
                start,
                flow,
                anchor,
                size,
                ..
            } => (Value::Map(entries), start, flow, anchor, size),
        };
        // A flow collection ends at its bracket; a block collection ends
        // where its last child does (its end event sits at the next token).
        let last_child = match &value {
            Value::Seq(items) => items.last().and_then(|n| n.span.range()).map(|r| r.end),
            Value::Map(entries) => entries
                .last()
                .and_then(|(_, v)| v.span.range())
                .map(|r| r.end),
            _ => None,
        };
        let end = if flow {
            end
        } else {
            last_child.unwrap_or(start)
        };
        self.place(
            Node {
                value,
                span: Span::new(self.file, start, end.max(start)),
            },
            size,
            anchor,
        );
    }

    /// The anchored node at `path`: down the open collections while the
    /// path leads into one, then down finished nodes.
    fn resolve(&self, path: &[usize]) -> Option<&Node> {
        let mut node: Option<&Node> = None;
        for (depth, &position) in path.iter().enumerate() {
            node = Some(match node {
                Some(parent) => child(parent, position)?,
                None => match self.stack.get(depth)?.child(position) {
                    Some(found) => found,
                    // Still open: the path goes on in the next frame.
                    None => continue,
                },
            });
        }
        match node {
            Some(found) => Some(found),
            None if path.is_empty() => self.root.as_ref(),
            None => None,
        }
    }

    fn alias(&mut self, id: usize, start: usize, end: usize) -> Result<(), Diagnostic> {
        self.aliases += 1;
        let Some(Anchored { path, size }) = self.anchors.get(&id) else {
            return Err(self.error("an alias refers to an unknown anchor".into(), start));
        };
        let size = *size;
        self.alias_nodes += size;
        if self.aliases > MAX_ALIASES || self.alias_nodes > MAX_ALIAS_NODES {
            return Err(self.error(
                format!("too many alias expansions (at most {MAX_ALIAS_NODES} nodes); is this a YAML alias bomb?"),
                start,
            ));
        }
        self.nodes += size;
        if self.nodes > MAX_NODES {
            return Err(self.error(
                format!("the file is too large (at most {MAX_NODES} YAML nodes)"),
                start,
            ));
        }
        // Charged to the budget above: only now is the node copied.
        let Some(node) = self.resolve(path) else {
            return Err(self.error("an alias refers to an unknown anchor".into(), start));
        };
        let mut copy = node.clone();
        copy.span = Span::new(self.file, start, end);
        self.copied += size;
        self.place(copy, size, 0);
        Ok(())
    }
}

/// Types a scalar by the YAML 1.2 core schema (strict booleans).
fn resolve(text: Cow<'_, str>, style: ScalarStyle, tag: Option<&Tag>) -> Value {
    if let Some(tag) = tag
        && tag.is_yaml_core_schema_tag("str")
    {
        return Value::Str(text.into_owned());
    }
    if style != ScalarStyle::Plain {
        return Value::Str(text.into_owned());
    }
    match text.as_ref() {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Value::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Value::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Value::Float(f64::NAN),
        _ => {}
    }
    let s = text.as_ref();
    let unsigned = s.strip_prefix(['-', '+']).unwrap_or(s);
    if !unsigned.is_empty() && unsigned.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(i) = s.parse::<i64>() {
            return Value::Int(i);
        }
    } else if let Some(hex) = s.strip_prefix("0x") {
        if let Ok(i) = i64::from_str_radix(hex, 16) {
            return Value::Int(i);
        }
    } else if let Some(oct) = s.strip_prefix("0o")
        && let Ok(i) = i64::from_str_radix(oct, 8)
    {
        return Value::Int(i);
    }
    if is_core_float(unsigned)
        && let Ok(f) = s.parse::<f64>()
    {
        return Value::Float(f);
    }
    Value::Str(text.into_owned())
}

/// `(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`, the core schema's float.
fn is_core_float(s: &str) -> bool {
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some(("", frac)) => digits(frac),
        Some((int, frac)) => digits(int) && (frac.is_empty() || digits(frac)),
        None => digits(mantissa),
    };
    let exponent_ok = exponent.is_none_or(|e| digits(e.strip_prefix(['-', '+']).unwrap_or(e)));
    mantissa_ok && exponent_ok
}

fn scan_error(file: FileId, text: &str, error: &ScanError) -> Diagnostic {
    let marker = error.marker();
    let at = marker.byte_offset().unwrap_or_else(|| {
        text.char_indices()
            .nth(marker.index())
            .map_or(text.len(), |(i, _)| i)
    });
    let info = error.info();
    let first = info.lines().next().unwrap_or("invalid YAML");
    let message = if first.contains("recursion limit") || first.contains("nesting limit") {
        format!("nested more than {MAX_DEPTH} levels deep")
    } else {
        first.trim_end_matches(['.', ':']).to_owned()
    };
    syntax_error(file, text, message, at)
}

/// Reads one YAML document. `Ok(None)` for a file with no content.
pub(crate) fn parse(file: FileId, text: &str) -> Result<Option<Node>, Diagnostic> {
    build(file, text).map(|builder| builder.root)
}

fn build(file: FileId, text: &str) -> Result<Builder<'_>, Diagnostic> {
    if text.len() > MAX_FILE_BYTES {
        return Err(Diagnostic::new(
            Problem::FileTooLarge {
                size: text.len(),
                limit: MAX_FILE_BYTES,
            },
            Span::new(file, 0, 0),
        ));
    }
    let mut options = serde_saphyr::granit_parser::Options::default();
    options.emit_comments = false;
    options.block_nesting_limit = MAX_DEPTH + 1;
    let mut builder = Builder::new(file, text);
    let mut documents = 0;
    for item in Parser::new_from_str_with_options(text, options) {
        let (event, span) = item.map_err(|e| scan_error(file, text, &e))?;
        let start = span.start.byte_offset().unwrap_or(0).min(text.len());
        let end = span
            .end
            .byte_offset()
            .unwrap_or(start)
            .clamp(start, text.len());
        match event {
            Event::DocumentStart(..) => {
                documents += 1;
                if documents > 1 {
                    return Err(builder.error(
                        "a flow file holds one YAML document; remove the `---`".into(),
                        start,
                    ));
                }
            }
            Event::Scalar(value, style, anchor, tag) => {
                builder.count_node(start)?;
                let value = resolve(value, style, tag.as_deref());
                builder.place(
                    Node {
                        value,
                        span: Span::new(file, start, end),
                    },
                    1,
                    anchor,
                );
            }
            Event::SequenceStart(_, anchor, _) => {
                let flow = text[start..].starts_with('[');
                builder.open(
                    Frame::Seq {
                        items: Vec::new(),
                        start,
                        flow,
                        anchor,
                        size: 1,
                    },
                    start,
                )?;
            }
            Event::MappingStart(_, anchor, _) => {
                let flow = text[start..].starts_with('{');
                builder.open(
                    Frame::Map {
                        entries: Vec::new(),
                        key: None,
                        start,
                        flow,
                        anchor,
                        size: 1,
                    },
                    start,
                )?;
            }
            Event::SequenceEnd | Event::MappingEnd => builder.close(end),
            Event::Alias(id) => builder.alias(id, start, end)?,
            Event::UnresolvedAlias(name) => {
                return Err(
                    builder.error(format!("the alias `*{name}` refers to no anchor"), start)
                );
            }
            _ => {}
        }
    }
    Ok(builder)
}

#[cfg(test)]
#[allow(clippy::format_collect)]
mod tests {
    use super::*;

    fn file() -> FileId {
        crate::source::SourceMap::new().add("t.yaml", "t.yaml", "")
    }

    #[test]
    fn anchors_are_copied_only_when_aliased() {
        // 60 nested anchors over 10,000 items: copying each anchored node
        // when it is defined would copy some 600,000 nodes.
        let text = format!(
            "cells: {}{}{}\n",
            (0..60).map(|i| format!("&a{i} [")).collect::<String>(),
            vec!["x"; 10_000].join(","),
            "]".repeat(60)
        );
        assert_eq!(build(file(), &text).unwrap().copied, 0);
        // One alias of an inner anchor copies exactly its nodes, nested
        // anchors and open collections included.
        let text = "a: &outer [&inner [x, y], {k: &v z, w: *v}, *inner]\nb: [*outer, *inner]\n";
        let builder = build(file(), text).unwrap();
        // *v: 1; *inner in outer: 3; *outer: 1 + 3 + (1 + 4) + 3 = 12; *inner: 3.
        assert_eq!(builder.copied, 1 + 3 + 12 + 3);
        let root = builder.root.unwrap();
        let json = root.to_json(text);
        assert_eq!(
            json,
            serde_json::json!({
                "a": [["x", "y"], {"k": "z", "w": "z"}, ["x", "y"]],
                "b": [[["x", "y"], {"k": "z", "w": "z"}, ["x", "y"]], ["x", "y"]],
            })
        );
    }
}
