//! Reading the spanned YAML tree the way every cellflow YAML file is read
//! (flow files, `cellflow.yaml`, conversation tests): maps with a fixed set
//! of fields (an unknown one gets a did-you-mean, a repeated one is
//! reported), scalars taken as the author wrote them, lists. Each problem
//! becomes a diagnostic and reading goes on.

use crate::ast::{Localized, Spanned};
use crate::diagnostic::{Diagnostic, Problem, suggest};
use crate::source::Span;
use crate::syntax::node::{Node, Value};

/// Reads spanned YAML nodes, collecting a diagnostic for each problem.
pub(crate) struct Reader<'t> {
    pub(crate) text: &'t str,
    pub(crate) diagnostics: Vec<Diagnostic>,
}

/// The entries of a YAML map, after unknown and repeated keys were reported.
pub(crate) struct Fields<'n> {
    entries: Vec<(&'n str, &'n Node, &'n Node)>,
}

impl<'n> Fields<'n> {
    pub(crate) fn get(&self, key: &str) -> Option<&'n Node> {
        self.entries
            .iter()
            .find(|(k, _, _)| *k == key)
            .map(|(_, _, v)| *v)
    }

    /// The entries in the order they were written.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&'n str, &'n Node)> + '_ {
        self.entries.iter().map(|(k, _, v)| (*k, *v))
    }

    pub(crate) fn key_span(&self, key: &str) -> Option<Span> {
        self.entries
            .iter()
            .find(|(k, _, _)| *k == key)
            .map(|(_, k, _)| k.span)
    }
}

impl<'t> Reader<'t> {
    pub(crate) fn new(text: &'t str) -> Reader<'t> {
        Reader {
            text,
            diagnostics: Vec::new(),
        }
    }

    pub(crate) fn report(&mut self, problem: Problem, span: Span) {
        self.diagnostics.push(Diagnostic::new(problem, span));
    }

    pub(crate) fn invalid(&mut self, field: &str, expected: &'static str, span: Span) {
        self.report(
            Problem::InvalidValue {
                field: field.to_owned(),
                expected,
            },
            span,
        );
    }

    /// The text of a scalar as the author wrote it. A plain `yes` or `12`
    /// arrives as a boolean or number; where a string is wanted, the source
    /// text is what the author meant.
    pub(crate) fn scalar_text(&self, node: &Node) -> Option<String> {
        match &node.value {
            Value::Str(s) => Some(s.clone()),
            Value::Bool(_) | Value::Int(_) | Value::Float(_) => {
                let range = node.span.range()?;
                self.text
                    .get(range)
                    .map(|s| s.trim().trim_matches(['"', '\'']).to_owned())
            }
            Value::Null | Value::Seq(_) | Value::Map(_) => None,
        }
    }

    pub(crate) fn entries<'n>(
        &mut self,
        node: &'n Node,
        field: &str,
    ) -> Option<&'n [(Node, Node)]> {
        match &node.value {
            Value::Map(entries) => Some(entries),
            Value::Null => Some(&[]),
            _ => {
                self.invalid(field, "a map", node.span);
                None
            }
        }
    }

    pub(crate) fn items<'n>(&mut self, node: &'n Node, field: &str) -> &'n [Node] {
        match &node.value {
            Value::Seq(items) => items,
            Value::Null => &[],
            _ => {
                self.invalid(field, "a list", node.span);
                &[]
            }
        }
    }

    /// Reads a map with a fixed set of fields, reporting unknown and repeated keys.
    pub(crate) fn fields<'n>(
        &mut self,
        node: &'n Node,
        field: &str,
        context: &'static str,
        allowed: &[&str],
    ) -> Option<Fields<'n>>
    where
        't: 'n,
    {
        let entries = self.entries(node, field)?;
        let mut fields = Fields {
            entries: Vec::with_capacity(entries.len()),
        };
        for (key, value) in entries {
            let Some(name) = self.key(key) else { continue };
            if !allowed.contains(&name) {
                let suggestion = suggest(name, allowed.iter().copied());
                self.report(
                    Problem::UnknownField {
                        field: name.to_owned(),
                        context,
                        suggestion,
                    },
                    key.span,
                );
            } else if fields.get(name).is_some() {
                self.report(
                    Problem::DuplicateField {
                        field: name.to_owned(),
                    },
                    key.span,
                );
            } else {
                fields.entries.push((name, key, value));
            }
        }
        Some(fields)
    }

    /// A map key as written. A plain key the YAML schema read as a number
    /// or boolean is taken by its source text.
    pub(crate) fn key<'n>(&mut self, key: &'n Node) -> Option<&'n str>
    where
        't: 'n,
    {
        match &key.value {
            Value::Str(s) => Some(s),
            Value::Bool(_) | Value::Int(_) | Value::Float(_) => {
                let range = key.span.range()?;
                self.text
                    .get(range)
                    .map(|s| s.trim_matches(['"', '\'', ' ']))
            }
            _ => {
                self.invalid("key", "a string", key.span);
                None
            }
        }
    }

    pub(crate) fn string(&mut self, node: &Node, field: &str) -> Option<Spanned<String>> {
        match self.scalar_text(node) {
            Some(s) => Some(Spanned::new(s, node.span)),
            None => {
                self.invalid(field, "a string", node.span);
                None
            }
        }
    }

    pub(crate) fn opt_string(
        &mut self,
        fields: &Fields<'_>,
        field: &str,
    ) -> Option<Spanned<String>> {
        fields.get(field).and_then(|n| self.string(n, field))
    }

    pub(crate) fn strings(&mut self, node: &Node, field: &str) -> Vec<Spanned<String>> {
        let items = self.items(node, field);
        items.iter().filter_map(|n| self.string(n, field)).collect()
    }

    /// Text the user reads: a string, or a map from language to string
    /// (`{es: "Hola", pt: "Olá"}`). Which languages exist is checked later,
    /// against the bot's `languages`.
    pub(crate) fn localized(&mut self, node: &Node, field: &str) -> Option<Localized> {
        let Value::Map(entries) = &node.value else {
            return self.string(node, field).map(Localized::plain);
        };
        let mut languages: Vec<(Spanned<String>, Spanned<String>)> = Vec::new();
        for (key, value) in entries {
            let (Some(language), Some(text)) = (self.string(key, field), self.string(value, field))
            else {
                continue;
            };
            if languages.iter().any(|(l, _)| l.value == language.value) {
                self.report(
                    Problem::DuplicateField {
                        field: language.value,
                    },
                    key.span,
                );
                continue;
            }
            languages.push((language, text));
        }
        let Some((_, first)) = languages.first() else {
            self.invalid(
                field,
                "a string, or a map from language to string",
                node.span,
            );
            return None;
        };
        Some(Localized {
            first: first.value.clone(),
            span: node.span,
            languages,
        })
    }

    pub(crate) fn opt_localized(&mut self, fields: &Fields<'_>, field: &str) -> Option<Localized> {
        fields.get(field).and_then(|n| self.localized(n, field))
    }

    pub(crate) fn localized_list(&mut self, node: &Node, field: &str) -> Vec<Localized> {
        let items = self.items(node, field);
        items
            .iter()
            .filter_map(|n| self.localized(n, field))
            .collect()
    }
}
