//! The one redaction step: what a session holds that must never leave the
//! server in clear, and how a text is cleaned of it.
//!
//! Masking follows the value. The compiler knows which variables can hold
//! a masked value (masked inputs, and whatever code cells and services may
//! copy them into); [`Secrets`] collects the values those variables hold
//! now, plus the text of hidden string variables, and replaces every
//! occurrence of any of them in a text with [`MASK`]. Everything that
//! leaves toward storage or operators (error events, traces, stored
//! history, conversation-test reports) passes through it. Answers sent to
//! the user's channel do not: the bot says what its author wrote.
//!
//! A session that holds no masked or hidden value yields an empty set,
//! without allocating, and redaction then returns its input borrowed.

use std::borrow::Cow;

use serde_json::Value;

use super::message::MASK;
use super::session::Session;
use super::vars::Var;
use crate::compile::Program;

/// Texts to keep out of everything but the user's channel.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Secrets {
    /// Longest first, so a secret that contains another is replaced whole.
    values: Vec<String>,
}

impl Secrets {
    /// The secrets a session holds under `program`: the values of its
    /// masked variables (every string and number inside them) and of its
    /// hidden variables (strings and numbers).
    #[must_use]
    pub fn of(program: &Program, session: &Session) -> Secrets {
        let mut secrets = Secrets::default();
        if program.masked.is_empty() && program.hidden.is_empty() && session.masked.is_empty() {
            return secrets;
        }
        for (name, value) in session.vars.iter() {
            if session.is_masked(name) || program.is_masked(name) {
                secrets.add_value(value, true);
            } else if program.is_hidden(name) {
                secrets.add_value(value, false);
            }
        }
        secrets.settle();
        secrets
    }

    /// Adds a text (the message that answered a masked input).
    pub fn add(&mut self, text: &str) {
        let text = text.trim();
        if !text.is_empty() {
            self.values.push(text.to_owned());
            self.settle();
        }
    }

    /// Adds every secret of `other`.
    pub fn extend(&mut self, other: Secrets) {
        if !other.values.is_empty() {
            self.values.extend(other.values);
            self.settle();
        }
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// `text` with every secret in it replaced by [`MASK`].
    #[must_use]
    pub fn redact<'t>(&self, text: &'t str) -> Cow<'t, str> {
        let mut out = Cow::Borrowed(text);
        for value in &self.values {
            if out.contains(value.as_str()) {
                out = Cow::Owned(out.replace(value.as_str(), MASK));
            }
        }
        out
    }

    /// Redacts every string inside a JSON value, in place.
    pub fn redact_value(&self, value: &mut Value) {
        if self.values.is_empty() {
            return;
        }
        match value {
            Value::String(s) => {
                if let Cow::Owned(clean) = self.redact(s) {
                    *s = clean;
                }
            }
            Value::Number(n) => {
                let text = n.to_string();
                if self.values.contains(&text) {
                    *value = Value::String(MASK.to_owned());
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|i| self.redact_value(i)),
            Value::Object(map) => map.values_mut().for_each(|i| self.redact_value(i)),
            Value::Null | Value::Bool(_) => {}
        }
    }

    /// Records a variable's text: strings and numbers (inside structures
    /// too when `deep`). Booleans and null say nothing worth hiding.
    fn add_value(&mut self, value: Var<'_>, deep: bool) {
        match value {
            Var::Str(s) => {
                let s = s.trim();
                if !s.is_empty() {
                    self.values.push(s.to_owned());
                }
            }
            Var::Int(_) | Var::Float(_) => self.values.push(value.to_string()),
            Var::Json(json) if deep => self.add_json(json),
            Var::Null | Var::Bool(_) | Var::Json(_) => {}
        }
    }

    fn add_json(&mut self, json: &Value) {
        match json {
            Value::Null | Value::Bool(_) => {}
            Value::String(s) => self.add_value(Var::Str(s), true),
            Value::Number(n) => self.values.push(n.to_string()),
            Value::Array(items) => items.iter().for_each(|i| self.add_json(i)),
            Value::Object(map) => map.values().for_each(|i| self.add_json(i)),
        }
    }

    fn settle(&mut self) {
        self.values
            .sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        self.values.dedup();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets(values: &[&str]) -> Secrets {
        let mut s = Secrets::default();
        for v in values {
            s.add(v);
        }
        s
    }

    #[test]
    fn every_occurrence_is_replaced_and_the_longest_first() {
        let s = secrets(&["1234", "PIN-1234"]);
        assert_eq!(
            s.redact("got PIN-1234, then 1234 and 1234"),
            format!("got {MASK}, then {MASK} and {MASK}")
        );
    }

    #[test]
    fn text_without_secrets_is_borrowed() {
        let s = secrets(&["1234"]);
        assert!(matches!(s.redact("nothing here"), Cow::Borrowed(_)));
        assert!(matches!(Secrets::default().redact("x"), Cow::Borrowed(_)));
    }

    #[test]
    fn json_values_are_redacted_inside() {
        let s = secrets(&["4111", "secret"]);
        let mut value = serde_json::json!({"a": ["my secret"], "n": 4111, "ok": true});
        s.redact_value(&mut value);
        assert_eq!(
            value,
            serde_json::json!({"a": [format!("my {MASK}")], "n": MASK, "ok": true})
        );
    }
}
