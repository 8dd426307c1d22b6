//! The YAML front end: a `*.flow.yaml` file (docs/LANGUAGE.md) to a [`Module`].
//!
//! It reads the file into a spanned tree (`node.rs`) and walks it, checking
//! the shape of every construct: unknown or missing fields, values of the
//! wrong type, names that are not names. Each problem becomes a diagnostic and
//! the walk goes on, so one run reports them all. What it promises: every AST
//! node it returns carries the span of the YAML it came from.

mod cells;
mod document;
pub mod keys;

use crate::ast::{Module, Name, Script, Settings, Spanned, Target};
use crate::diagnostic::{Diagnostic, NameKind, Problem};
use crate::source::{FileId, Span};
use crate::syntax::fields::{Fields, Reader as Walker};
use crate::syntax::node::{self, Node, Value};

/// Parses a flow file written in YAML.
#[must_use]
pub fn parse(file: FileId, text: &str) -> (Module, Vec<Diagnostic>) {
    let mut walker = Walker::new(text);
    let module = match node::parse(file, text) {
        Ok(Some(root)) => walker.module(&root),
        Ok(None) => Module::default(),
        Err(diagnostic) => {
            walker.diagnostics.push(diagnostic);
            Module::default()
        }
    };
    (module, walker.diagnostics)
}

/// Parses `cellflow.yaml`: bot settings at the top level.
#[must_use]
pub fn parse_settings(file: FileId, text: &str) -> (Settings, Vec<Diagnostic>) {
    let mut walker = Walker::new(text);
    let settings = match node::parse(file, text) {
        Ok(Some(root)) => walker.settings(&root),
        Ok(None) => Settings::default(),
        Err(diagnostic) => {
            walker.diagnostics.push(diagnostic);
            Settings::default()
        }
    };
    (settings, walker.diagnostics)
}

impl Walker<'_> {
    fn name(&mut self, node: &Node, kind: NameKind, field: &str) -> Option<Name> {
        let text = self.string(node, field)?;
        if crate::ast::is_name(&text.value) {
            Some(text)
        } else {
            self.report(
                Problem::InvalidName {
                    name: text.value,
                    kind,
                },
                node.span,
            );
            None
        }
    }

    fn bool(&mut self, fields: &Fields<'_>, field: &str) -> bool {
        match fields.get(field).map(|n| (&n.value, n.span)) {
            None | Some((Value::Null, _)) => false,
            Some((Value::Bool(b), _)) => *b,
            Some((_, span)) => {
                self.invalid(field, "true or false", span);
                false
            }
        }
    }

    fn number(&mut self, fields: &Fields<'_>, field: &str) -> Option<Spanned<f64>> {
        let node = fields.get(field)?;
        match node.value {
            #[allow(clippy::cast_precision_loss)]
            Value::Int(i) => Some(Spanned::new(i as f64, node.span)),
            Value::Float(f) if f.is_finite() => Some(Spanned::new(f, node.span)),
            _ => {
                self.invalid(field, "a number", node.span);
                None
            }
        }
    }

    fn unsigned(
        &mut self,
        fields: &Fields<'_>,
        field: &str,
        expected: &'static str,
    ) -> Option<Spanned<u64>> {
        let node = fields.get(field)?;
        match node.value {
            Value::Int(i) if i >= 0 => Some(Spanned::new(i.unsigned_abs(), node.span)),
            _ => {
                self.invalid(field, expected, node.span);
                None
            }
        }
    }

    fn one_of<T: Copy>(
        &mut self,
        node: &Node,
        field: &str,
        options: &[(&str, T)],
        expected: &'static str,
    ) -> Option<Spanned<T>> {
        let text = self.string(node, field)?;
        match options
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(&text.value))
        {
            Some((_, value)) => Some(Spanned::new(*value, node.span)),
            None => {
                self.invalid(field, expected, node.span);
                None
            }
        }
    }

    fn target(&mut self, node: &Node, field: &str) -> Option<Target> {
        let text = self.string(node, field)?;
        parse_target(&text.value, node.span).or_else(|| {
            self.report(
                Problem::InvalidName {
                    name: text.value,
                    kind: NameKind::Cell,
                },
                node.span,
            );
            None
        })
    }

    fn opt_target(&mut self, fields: &Fields<'_>, field: &str) -> Option<Target> {
        fields.get(field).and_then(|n| self.target(n, field))
    }

    fn script(&mut self, node: &Node, field: &str) -> Option<Script> {
        let text = self.string(node, field)?;
        Some(Script {
            source: Spanned::new(crate::ast::normalize_script(&text.value), text.span),
        })
    }

    fn json(&self, node: &Node) -> serde_json::Value {
        node.to_json(self.text)
    }
}

/// Parses `NAME` or `FLOW.CELL`; `None` if it is neither.
#[must_use]
pub fn parse_target(text: &str, span: Span) -> Option<Target> {
    let text_trimmed = text.trim();
    match text_trimmed.split_once('.') {
        Some((flow, cell)) if crate::ast::is_name(flow) && crate::ast::is_name(cell) => {
            let flow_span = span.slice(0, flow.len());
            Some(Target {
                flow: Some(Spanned::new(flow.to_owned(), flow_span)),
                name: Spanned::new(cell.to_owned(), span),
                span,
            })
        }
        None if crate::ast::is_name(text_trimmed) => Some(Target {
            flow: None,
            name: Spanned::new(text_trimmed.to_owned(), span),
            span,
        }),
        _ => None,
    }
}
