//! A spanned YAML tree, read with serde-saphyr under explicit input budgets.
//!
//! Deserializing straight into the AST with serde would stop at the first
//! mistake and lose the spans of map keys; instead the file is read into this
//! small tree, where every scalar, key and collection knows its byte range,
//! and `yaml.rs` walks it reporting every problem it finds.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned as Located;

use crate::diagnostic::{Diagnostic, Problem};
use crate::source::{FileId, Span};

/// Largest flow file accepted, in bytes.
pub const MAX_FILE_BYTES: usize = 16 * 1024 * 1024;
/// Deepest nesting of YAML collections accepted.
pub const MAX_DEPTH: usize = 64;
/// Most YAML nodes (scalars and collections) accepted in one file.
pub const MAX_NODES: usize = 4_000_000;
/// Most alias expansions in one file: an alias bomb stops here.
pub const MAX_ALIASES: usize = 10_000;

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

/// The tree as serde-saphyr hands it over, before spans become ours.
enum Raw {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Located<Raw>>),
    Map(Vec<(Located<Raw>, Located<Raw>)>),
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RawVisitor;
        impl<'de> Visitor<'de> for RawVisitor {
            type Value = Raw;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("any YAML value")
            }
            fn visit_unit<E>(self) -> Result<Raw, E> {
                Ok(Raw::Null)
            }
            fn visit_none<E>(self) -> Result<Raw, E> {
                Ok(Raw::Null)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Raw, D::Error> {
                Raw::deserialize(d)
            }
            fn visit_bool<E>(self, v: bool) -> Result<Raw, E> {
                Ok(Raw::Bool(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Raw, E> {
                Ok(Raw::Int(v))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Raw, E> {
                Ok(i64::try_from(v).map_or(Raw::Float(v as f64), Raw::Int))
            }
            fn visit_i128<E>(self, v: i128) -> Result<Raw, E> {
                Ok(i64::try_from(v).map_or(Raw::Float(v as f64), Raw::Int))
            }
            fn visit_u128<E>(self, v: u128) -> Result<Raw, E> {
                Ok(i64::try_from(v).map_or(Raw::Float(v as f64), Raw::Int))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Raw, E> {
                Ok(Raw::Float(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<Raw, E> {
                Ok(Raw::Str(v.to_owned()))
            }
            fn visit_string<E>(self, v: String) -> Result<Raw, E> {
                Ok(Raw::Str(v))
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Raw, E> {
                Ok(Raw::Str(String::from_utf8_lossy(v).into_owned()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Raw, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Raw::Seq(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Raw, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    entries.push(entry);
                }
                Ok(Raw::Map(entries))
            }
        }
        // Each nesting level costs serde several frames; grow the stack on
        // demand so a deeply nested file is a budget error, never an overflow.
        stacker::maybe_grow(64 * 1024, 1024 * 1024, || deserializer.deserialize_any(RawVisitor))
    }
}

fn span_of(file: FileId, located: &Located<Raw>, text_len: usize) -> Span {
    let span = located.referenced.span();
    match (span.byte_offset(), span.byte_len()) {
        (Some(start), Some(len)) => {
            let start = usize::try_from(start).unwrap_or(text_len).min(text_len);
            let end = usize::try_from(len)
                .map_or(text_len, |len| start.saturating_add(len).min(text_len));
            Span::new(file, start, end)
        }
        _ => Span::new(file, 0, 0),
    }
}

fn convert(file: FileId, raw: Located<Raw>, text_len: usize) -> Node {
    let mut span = span_of(file, &raw, text_len);
    let value = match raw.value {
        Raw::Null => Value::Null,
        Raw::Bool(b) => Value::Bool(b),
        Raw::Int(i) => Value::Int(i),
        Raw::Float(f) => Value::Float(f),
        Raw::Str(s) => Value::Str(s),
        Raw::Seq(items) => Value::Seq(
            items
                .into_iter()
                .map(|i| convert(file, i, text_len))
                .collect(),
        ),
        Raw::Map(entries) => Value::Map(
            entries
                .into_iter()
                .map(|(k, v)| (convert(file, k, text_len), convert(file, v, text_len)))
                .collect(),
        ),
    };
    // serde-saphyr gives a collection only its opening position; widen it to
    // cover the children so labels and lookups inside it work.
    let children_end = match &value {
        Value::Seq(items) => items.iter().filter_map(|n| n.span.range()).map(|r| r.end).max(),
        Value::Map(entries) => entries.iter().filter_map(|(_, v)| v.span.range()).map(|r| r.end).max(),
        _ => None,
    };
    if let (Some(end), Some(range)) = (children_end, span.range())
        && end > range.end
    {
        span = Span::new(file, range.start, end);
    }
    Node { value, span }
}

/// Reads one YAML document. `Ok(None)` for a file with no content.
pub(crate) fn parse(file: FileId, text: &str) -> Result<Option<Node>, Diagnostic> {
    if text.len() > MAX_FILE_BYTES {
        return Err(Diagnostic::new(
            Problem::FileTooLarge {
                size: text.len(),
                limit: MAX_FILE_BYTES,
            },
            Span::new(file, 0, 0),
        ));
    }
    if text.lines().all(|l| {
        let l = l.trim();
        l.is_empty() || l.starts_with('#') || l == "---" || l == "..."
    }) {
        return Ok(None);
    }
    let mut options = serde_saphyr::Options::default();
    options.budget = Some({
        let mut budget = serde_saphyr::Budget::default();
        budget.max_depth = MAX_DEPTH;
        budget.max_nodes = MAX_NODES;
        budget.max_events = MAX_NODES * 3;
        budget.max_aliases = MAX_ALIASES;
        budget.max_documents = 1;
        budget
    });
    options.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::PassThrough;
    options.with_snippet = false;
    // YAML 1.2 booleans: `on`, `yes` and `no` stay strings (`on:` is a flow
    // field, and `yes`/`no` are common intent names).
    options.strict_booleans = true;
    match serde_saphyr::from_str_with_options::<Located<Raw>>(text, options) {
        Ok(raw) => Ok(Some(convert(file, raw, text.len()))),
        Err(error) => {
            let start = error
                .location()
                .and_then(|l| l.span().byte_offset())
                .and_then(|o| usize::try_from(o).ok())
                .unwrap_or(0)
                .min(text.len());
            let end = text[start..]
                .chars()
                .next()
                .map_or(start, |c| start + c.len_utf8());
            Err(Diagnostic::new(
                Problem::YamlSyntax {
                    message: clean_message(&error.to_string()),
                },
                Span::new(file, start, end),
            ))
        }
    }
}

/// serde-saphyr's messages end with the position, which the span already shows.
fn clean_message(message: &str) -> String {
    let first = message.lines().next().unwrap_or(message).trim();
    if first.contains("budget breached") || first.contains("recursion limit") {
        return if first.contains("Alias") || first.contains("Replay") || first.contains("Anchor") {
            format!("too many alias expansions (at most {MAX_ALIASES}); is this a YAML alias bomb?")
        } else if first.contains("Depth") || first.contains("recursion") {
            format!("nested more than {MAX_DEPTH} levels deep")
        } else {
            format!("the file is too large (at most {MAX_NODES} YAML nodes)")
        };
    }
    let cut = first.find(" at line ").map_or(first, |i| &first[..i]);
    cut.trim_end_matches(['.', ':']).to_owned()
}
