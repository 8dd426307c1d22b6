//! Reading tokens: names, strings, numbers, lists and script blocks.

use pest::iterators::Pair;

use crate::ast::{Localized, Name, Script, Spanned, Target};
use crate::diagnostic::{Problem, SyntaxError};

use super::{DslParser, MAX_NESTING, Rule, unescape};

impl DslParser {
    pub(super) fn ident(&self, pair: Pair<'_, Rule>) -> Name {
        Spanned::new(pair.as_str().to_owned(), self.span(&pair))
    }

    pub(super) fn target(&self, pair: Pair<'_, Rule>) -> Target {
        let span = self.span(&pair);
        let mut parts = pair.into_inner();
        let first = self.ident(parts.next().expect("a target starts with a name"));
        match parts.next() {
            Some(cell) => Target {
                flow: Some(first),
                name: self.ident(cell),
                span,
            },
            None => Target {
                flow: None,
                name: first,
                span,
            },
        }
    }

    pub(super) fn string(&self, pair: Pair<'_, Rule>) -> Spanned<String> {
        let span = self.span(&pair);
        let inner = Self::only(pair);
        let raw = inner.as_str();
        let value = match inner.as_rule() {
            Rule::raw_string => raw[1..raw.len() - 1].to_owned(),
            _ => unescape(&raw[1..raw.len() - 1]),
        };
        Spanned::new(value, span)
    }

    pub(super) fn string_list(&self, pair: Pair<'_, Rule>) -> Vec<Spanned<String>> {
        pair.into_inner().map(|p| self.string(p)).collect()
    }

    /// A `@lang` tag: the language, spanned without its `@`.
    pub(super) fn language_tag(&self, tag: &Pair<'_, Rule>) -> Name {
        let span = self.span(tag).slice(1, tag.as_str().len());
        Spanned::new(tag.as_str()[1..].to_owned(), span)
    }

    /// A `phrase`: a string, or `@es "…" @pt "…"`.
    pub(super) fn phrase(&mut self, pair: Pair<'_, Rule>) -> Localized {
        let span = self.span(&pair);
        let inner = Self::only(pair);
        if inner.as_rule() == Rule::string {
            return Localized::plain(self.string(inner));
        }
        let mut languages: Vec<(Name, Spanned<String>)> = Vec::new();
        for entry in inner.into_inner() {
            let mut parts = entry.into_inner();
            let tag = parts.next().expect("a language text has a tag");
            let language = self.language_tag(&tag);
            let tag_span = language.span;
            let text = self.string(parts.next().expect("a language text has a string"));
            if languages.iter().any(|(l, _)| l.value == language.value) {
                self.report(
                    Problem::DuplicateField {
                        field: language.value,
                    },
                    tag_span,
                );
                continue;
            }
            languages.push((language, text));
        }
        Localized {
            first: languages
                .first()
                .map(|(_, t)| t.value.clone())
                .unwrap_or_default(),
            span,
            languages,
        }
    }

    pub(super) fn phrase_list(&mut self, pair: Pair<'_, Rule>) -> Vec<Localized> {
        pair.into_inner().map(|p| self.phrase(p)).collect()
    }

    pub(super) fn number(&mut self, pair: Pair<'_, Rule>, field: &str) -> Option<Spanned<f64>> {
        let span = self.span(&pair);
        match pair.as_str().parse::<f64>() {
            Ok(n) if n.is_finite() => Some(Spanned::new(n, span)),
            _ => {
                self.report(
                    Problem::InvalidValue {
                        field: field.to_owned(),
                        expected: "a finite number",
                    },
                    span,
                );
                None
            }
        }
    }

    pub(super) fn integer(
        &mut self,
        pair: Pair<'_, Rule>,
        field: &str,
        max: u64,
        expected: &'static str,
    ) -> Option<Spanned<u64>> {
        let span = self.span(&pair);
        match pair.as_str().parse::<u64>() {
            Ok(n) if n <= max => Some(Spanned::new(n, span)),
            _ => {
                self.report(
                    Problem::InvalidValue {
                        field: field.to_owned(),
                        expected,
                    },
                    span,
                );
                None
            }
        }
    }

    pub(super) fn block(&self, pair: Pair<'_, Rule>) -> Script {
        let body = Self::only(pair);
        let span = self.span(&body);
        Script {
            source: Spanned::new(crate::ast::normalize_script(body.as_str()), span),
        }
    }

    pub(super) fn one_of<T: Copy>(
        &mut self,
        pair: &Pair<'_, Rule>,
        field: &str,
        options: &[(&str, T)],
        expected: &'static str,
    ) -> Option<Spanned<T>> {
        let span = self.span(pair);
        match options
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(pair.as_str()))
        {
            Some((_, v)) => Some(Spanned::new(*v, span)),
            None => {
                self.report(
                    Problem::InvalidValue {
                        field: field.to_owned(),
                        expected,
                    },
                    span,
                );
                None
            }
        }
    }

    /// A JSON scalar token as a value.
    pub(super) fn json_scalar(token: &Pair<'_, Rule>) -> serde_json::Value {
        let text = token.as_str();
        match token.as_rule() {
            Rule::json_string => serde_json::Value::String(unescape(&text[1..text.len() - 1])),
            Rule::json_number => text.parse::<i64>().map_or_else(
                |_| {
                    text.parse::<f64>()
                        .ok()
                        .and_then(serde_json::Number::from_f64)
                        .map_or(serde_json::Value::Null, serde_json::Value::Number)
                },
                serde_json::Value::from,
            ),
            Rule::json_true => serde_json::Value::Bool(true),
            Rule::json_false => serde_json::Value::Bool(false),
            _ => serde_json::Value::Null,
        }
    }

    /// Builds a JSON value from the grammar's flat run of tokens, with an
    /// explicit stack of open containers. The grammar has balanced the
    /// brackets; this checks that each token stands where JSON allows it
    /// (a trailing comma is accepted) and that nesting stays within
    /// [`MAX_NESTING`]. A misplaced token is reported and the value is `null`.
    pub(super) fn json(&mut self, pair: Pair<'_, Rule>) -> serde_json::Value {
        /// What may come next inside the innermost open container.
        #[derive(Clone, Copy, PartialEq)]
        enum Next {
            /// A value, or the closing bracket (after `[` or a comma).
            ValueOrClose,
            /// A key, or the closing brace (after `{` or a comma).
            KeyOrClose,
            /// The `:` after a key.
            Colon,
            /// The value after a key's `:`.
            Value,
            /// A comma or the closing bracket (after a value).
            CommaOrClose,
        }
        enum Container {
            Array(Vec<serde_json::Value>),
            Object(serde_json::Map<String, serde_json::Value>, String),
        }
        let mut tokens = pair.into_inner();
        let first = tokens.next().expect("a JSON value has at least one token");
        if first.as_rule() != Rule::json_open {
            return Self::json_scalar(&first);
        }
        let container = |open: &Pair<'_, Rule>| match open.as_str() {
            "{" => (
                Container::Object(serde_json::Map::new(), String::new()),
                Next::KeyOrClose,
            ),
            _ => (Container::Array(Vec::new()), Next::ValueOrClose),
        };
        let mut stack = vec![container(&first)];
        let misplaced = |this: &mut Self, token: &Pair<'_, Rule>, expected: &str| {
            let span = this.span(token);
            this.report(
                Problem::DslSyntax(Box::new(SyntaxError {
                    expected: expected.to_owned(),
                    found: format!("`{}`", token.as_str()),
                    suggestion: None,
                    hint: None,
                })),
                span,
            );
            serde_json::Value::Null
        };
        for token in tokens {
            let Some((top, next)) = stack.last_mut() else {
                break;
            };
            let expected = match (&*top, *next) {
                (_, Next::Colon) => "`:`",
                (_, Next::Value) => "a JSON value",
                (Container::Array(_), Next::ValueOrClose) => "a JSON value or `]`",
                (Container::Object(..), Next::KeyOrClose) => "a key string or `}`",
                (Container::Array(_), _) => "`,` or `]`",
                (Container::Object(..), _) => "`,` or `}`",
            };
            // A finished value goes into its container.
            let value = match token.as_rule() {
                Rule::json_comma if *next == Next::CommaOrClose => {
                    *next = match top {
                        Container::Array(_) => Next::ValueOrClose,
                        Container::Object(..) => Next::KeyOrClose,
                    };
                    continue;
                }
                Rule::json_colon if *next == Next::Colon => {
                    *next = Next::Value;
                    continue;
                }
                Rule::json_string if *next == Next::KeyOrClose => {
                    let text = token.as_str();
                    if let Container::Object(_, key) = top {
                        *key = unescape(&text[1..text.len() - 1]);
                    }
                    *next = Next::Colon;
                    continue;
                }
                Rule::json_open if matches!(*next, Next::Value | Next::ValueOrClose) => {
                    if stack.len() >= MAX_NESTING {
                        return misplaced(
                            self,
                            &token,
                            &format!("at most {MAX_NESTING} nested JSON brackets"),
                        );
                    }
                    stack.push(container(&token));
                    continue;
                }
                Rule::json_close
                    if matches!(
                        (&*top, *next, token.as_str()),
                        (
                            Container::Array(_),
                            Next::ValueOrClose | Next::CommaOrClose,
                            "]"
                        ) | (
                            Container::Object(..),
                            Next::KeyOrClose | Next::CommaOrClose,
                            "}"
                        )
                    ) =>
                {
                    match stack.pop().expect("a container is open").0 {
                        Container::Array(items) => serde_json::Value::Array(items),
                        Container::Object(map, _) => serde_json::Value::Object(map),
                    }
                }
                Rule::json_string
                | Rule::json_number
                | Rule::json_true
                | Rule::json_false
                | Rule::json_null
                    if matches!(*next, Next::Value | Next::ValueOrClose) =>
                {
                    Self::json_scalar(&token)
                }
                _ => return misplaced(self, &token, expected),
            };
            match stack.last_mut() {
                Some((Container::Array(items), next)) => {
                    items.push(value);
                    *next = Next::CommaOrClose;
                }
                Some((Container::Object(map, key), next)) => {
                    map.insert(std::mem::take(key), value);
                    *next = Next::CommaOrClose;
                }
                None => return value,
            }
        }
        serde_json::Value::Null
    }
}
