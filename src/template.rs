//! Templates: `{{name}}`, `{{user.id}}`, `{{items[0]}}`, `{{name | "amigo"}}`.
//!
//! Parsed once, at compile time, into literal text and variable paths; the
//! checker validates them and the runtime renders the parsed form without
//! scanning the text again. A service's URL and header values may also name
//! environment variables in their literal text (`${API_TOKEN}`):
//! [`env_pieces`] splits a parsed template at them.

use std::ops::Range;

/// A parsed template.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Template {
    pub parts: Vec<Part>,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Part {
    /// Shared with every answer that says it: sending it copies nothing.
    Text(arcstr::ArcStr),
    Var(Var),
}

/// A `{{...}}` placeholder.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Var {
    /// The first segment is the variable; the rest walk into it.
    pub path: Vec<Segment>,
    /// Rendered when the value is unset.
    pub default: Option<String>,
    /// Where the placeholder sits in the template text, braces included.
    pub range: Range<usize>,
}

impl Var {
    /// The session variable the placeholder reads.
    #[must_use]
    pub fn root(&self) -> &str {
        match self.path.first() {
            Some(Segment::Field(name)) => name,
            _ => "",
        }
    }
}

impl std::fmt::Display for Var {
    /// The path as written: `account.balance`, `items[0]`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, segment) in self.path.iter().enumerate() {
            match segment {
                Segment::Field(name) if i == 0 => f.write_str(name)?,
                Segment::Field(name) => write!(f, ".{name}")?,
                Segment::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Segment {
    Field(String),
    Index(usize),
}

/// Why a template does not parse, and where (a byte range of the text).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateError {
    pub reason: String,
    pub range: Range<usize>,
}

impl Template {
    /// True when the template has no placeholders.
    #[must_use]
    pub fn is_literal(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Text(_)))
    }

    pub fn vars(&self) -> impl Iterator<Item = &Var> {
        self.parts.iter().filter_map(|p| match p {
            Part::Var(v) => Some(v),
            Part::Text(_) => None,
        })
    }
}

/// Parses a template.
///
/// # Errors
/// An unclosed `{{`, an empty placeholder, a path that is not `name(.name|[n])*`,
/// or a default that is not a double-quoted string.
pub fn parse(text: &str) -> Result<Template, TemplateError> {
    let mut parts = Vec::new();
    let mut rest = 0;
    while let Some(found) = text[rest..].find("{{") {
        let open = rest + found;
        if open > rest {
            parts.push(Part::Text(text[rest..open].into()));
        }
        let Some(len) = text[open + 2..].find("}}") else {
            return Err(TemplateError {
                reason: "`{{` is never closed by `}}`".into(),
                range: open..open + 2,
            });
        };
        let close = open + 2 + len + 2;
        let inner = &text[open + 2..close - 2];
        parts.push(Part::Var(placeholder(inner, open..close)?));
        rest = close;
    }
    if rest < text.len() {
        parts.push(Part::Text(text[rest..].into()));
    }
    Ok(Template { parts })
}

fn placeholder(inner: &str, range: Range<usize>) -> Result<Var, TemplateError> {
    let error = |reason: &str| TemplateError {
        reason: reason.to_owned(),
        range: range.clone(),
    };
    let (path_text, default) = match inner.split_once('|') {
        Some((path, default)) => {
            let default = default.trim();
            let unquoted = default
                .strip_prefix('"')
                .and_then(|d| d.strip_suffix('"'))
                .filter(|d| !d.contains('"'))
                .ok_or_else(|| error("the default after `|` must be a double-quoted string"))?;
            (path, Some(unquoted.to_owned()))
        }
        None => (inner, None),
    };
    let path_text = path_text.trim();
    if path_text.is_empty() {
        return Err(error("the placeholder is empty"));
    }
    let mut path = Vec::new();
    let mut chars = path_text.char_indices().peekable();
    let bad = || error("a placeholder is a name, then `.name` or `[number]` parts");
    loop {
        // A field name.
        let start = chars.peek().map(|(i, _)| *i).ok_or_else(bad)?;
        let mut end = start;
        while let Some(&(i, c)) = chars.peek() {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                end = i + c.len_utf8();
                chars.next();
            } else {
                break;
            }
        }
        let name = &path_text[start..end];
        if !crate::ast::is_name(name) {
            return Err(bad());
        }
        path.push(Segment::Field(name.to_owned()));
        // Indexes.
        while let Some(&(_, '[')) = chars.peek() {
            chars.next();
            let mut digits = String::new();
            while let Some(&(_, c)) = chars.peek() {
                if c.is_ascii_digit() {
                    digits.push(c);
                    chars.next();
                } else {
                    break;
                }
            }
            if chars.next().map(|(_, c)| c) != Some(']') {
                return Err(bad());
            }
            path.push(Segment::Index(digits.parse().map_err(|_| bad())?));
        }
        match chars.next() {
            None => break,
            Some((_, '.')) => {}
            Some(_) => return Err(bad()),
        }
    }
    Ok(Var {
        path,
        default,
        range,
    })
}

/// A piece of a service URL or header value: a template, or the
/// environment variable a `${NAME}` names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EnvPiece {
    Template(Template),
    Env(String),
}

/// Splits a template at the `${NAME}` references in its literal text
/// (inside a `{{placeholder}}` a `${` is the placeholder's text). Returns
/// the pieces in order, and what is wrong with each `${` that names no
/// variable (that one stays literal text).
#[must_use]
pub fn env_pieces(template: &Template) -> (Vec<EnvPiece>, Vec<TemplateError>) {
    let mut pieces = Vec::new();
    let mut errors = Vec::new();
    let mut current: Vec<Part> = Vec::new();
    // Where each part starts in the text: literal parts fill the gaps
    // between placeholders exactly.
    let mut at = 0;
    for part in &template.parts {
        let text = match part {
            Part::Var(var) => {
                at = var.range.end;
                current.push(part.clone());
                continue;
            }
            Part::Text(text) => text,
        };
        let mut rest = 0;
        while let Some(found) = text[rest..].find("${") {
            let open = rest + found;
            let reference = env_reference(&text[open..]);
            // The whole `${...}`, or the `${` that never closes.
            let len = text[open..].find('}').map_or(2, |close| close + 1);
            let range = at + open..at + open + len;
            match reference {
                Ok((name, len)) => {
                    if open > rest {
                        current.push(Part::Text(text[rest..open].into()));
                    }
                    if !current.is_empty() {
                        pieces.push(EnvPiece::Template(Template {
                            parts: std::mem::take(&mut current),
                        }));
                    }
                    pieces.push(EnvPiece::Env(name.to_owned()));
                    rest = open + len;
                }
                Err(reason) => {
                    errors.push(TemplateError { reason, range });
                    current.push(Part::Text(text[rest..open + 2].into()));
                    rest = open + 2;
                }
            }
        }
        if rest < text.len() {
            current.push(Part::Text(text[rest..].into()));
        }
        at += text.len();
    }
    if !current.is_empty() || pieces.is_empty() {
        pieces.push(EnvPiece::Template(Template { parts: current }));
    }
    (pieces, errors)
}

/// `text` with each `${NAME}` replaced by `lookup(NAME)`: for settings
/// that keep secrets out of files (a server's configuration), where the
/// text is plain, not a template.
///
/// # Errors
/// A malformed reference, or a variable `lookup` does not know (named).
pub fn expand_env(text: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find("${") {
        out.push_str(&rest[..open]);
        let (name, len) = env_reference(&rest[open..])?;
        let value =
            lookup(name).ok_or_else(|| format!("the environment variable `{name}` is not set"))?;
        out.push_str(&value);
        rest = &rest[open + len..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The variable a text starting with `${` names, and the length of the
/// reference.
fn env_reference(text: &str) -> Result<(&str, usize), String> {
    let Some(close) = text.find('}') else {
        return Err("`${` is never closed by `}`".to_owned());
    };
    let name = &text[2..close];
    let valid = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if valid {
        Ok((name, close + 1))
    } else if name.is_empty() {
        Err("`${}` names no variable".to_owned())
    } else {
        Err(format!(
            "`{name}` is not an environment variable's name: letters, digits and `_`, not starting with a digit"
        ))
    }
}

/// A JSON value whose strings may hold placeholders (a service's body),
/// parsed once like any template.
#[derive(Clone, Debug, PartialEq)]
pub enum JsonTemplate {
    /// Nothing inside to fill in.
    Literal(serde_json::Value),
    /// A string that is exactly one placeholder: it keeps its value's type
    /// (`"{{amount}}"` sends a number when `amount` is one).
    Value(Var),
    Text(Template),
    Array(Vec<JsonTemplate>),
    Object(Vec<(String, JsonTemplate)>),
}

impl JsonTemplate {
    /// Parses every string of `value`; a string that is not a valid
    /// template (the checker reports it) is sent as written.
    #[must_use]
    pub fn new(value: &serde_json::Value) -> JsonTemplate {
        use serde_json::Value;
        let parsed = match value {
            Value::String(s) => match parse(s) {
                Ok(t) if t.is_literal() => None,
                Ok(mut t) if t.parts.len() == 1 => match t.parts.pop() {
                    Some(Part::Var(var)) => Some(JsonTemplate::Value(var)),
                    _ => None,
                },
                Ok(t) => Some(JsonTemplate::Text(t)),
                Err(_) => None,
            },
            Value::Array(items) => {
                let items: Vec<_> = items.iter().map(JsonTemplate::new).collect();
                items
                    .iter()
                    .any(|i| !matches!(i, JsonTemplate::Literal(_)))
                    .then_some(JsonTemplate::Array(items))
            }
            Value::Object(map) => {
                let fields: Vec<_> = map
                    .iter()
                    .map(|(k, v)| (k.clone(), JsonTemplate::new(v)))
                    .collect();
                fields
                    .iter()
                    .any(|(_, v)| !matches!(v, JsonTemplate::Literal(_)))
                    .then_some(JsonTemplate::Object(fields))
            }
            _ => None,
        };
        parsed.unwrap_or_else(|| JsonTemplate::Literal(value.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(text: &str) -> (Vec<String>, Vec<String>) {
        let (pieces, errors) = env_pieces(&parse(text).unwrap());
        let pieces = pieces
            .iter()
            .map(|p| match p {
                EnvPiece::Env(name) => format!("${name}"),
                EnvPiece::Template(t) => t
                    .parts
                    .iter()
                    .map(|part| match part {
                        Part::Text(t) => t.to_string(),
                        Part::Var(v) => format!("{{{v}}}"),
                    })
                    .collect(),
            })
            .collect();
        let errors = errors
            .iter()
            .map(|e| format!("{}@{:?}", e.reason, e.range))
            .collect();
        (pieces, errors)
    }

    #[test]
    fn environment_variables_split_a_template_where_they_stand() {
        assert_eq!(
            pieces("${API}/v1/{{id}}?key=${KEY_2}"),
            (
                vec!["$API".into(), "/v1/{id}?key=".into(), "$KEY_2".into()],
                vec![]
            )
        );
        assert_eq!(pieces("plain"), (vec!["plain".into()], vec![]));
        assert_eq!(pieces(""), (vec![String::new()], vec![]));
        // A `${` inside a placeholder's default is its text.
        assert_eq!(pieces("{{a | \"${X}\"}}"), (vec!["{a}".into()], vec![]));
        let (_, errors) = pieces("{{a}}x${}y${1A}z${OPEN");
        assert_eq!(
            errors,
            [
                "`${}` names no variable@6..9",
                "`1A` is not an environment variable's name: letters, digits and `_`, not starting with a digit@10..15",
                "`${` is never closed by `}`@16..18"
            ]
        );
    }

    #[test]
    fn parses_text_vars_paths_and_defaults() {
        let t = parse(r#"Hi {{ name | "amigo" }}, {{user.id}} {{items[0].x}}!"#).unwrap();
        let vars: Vec<_> = t.vars().collect();
        assert_eq!(vars.len(), 3);
        assert_eq!(vars[0].root(), "name");
        assert_eq!(vars[0].default.as_deref(), Some("amigo"));
        assert_eq!(
            vars[2].path,
            vec![
                Segment::Field("items".into()),
                Segment::Index(0),
                Segment::Field("x".into())
            ]
        );
        assert!(parse("plain").unwrap().is_literal());
    }

    #[test]
    fn rejects_broken_placeholders() {
        for bad in [
            "{{",
            "{{}}",
            "{{ a b }}",
            "{{a.}}",
            "{{a | amigo}}",
            "{{a[x]}}",
            "{{1a}}",
        ] {
            assert!(parse(bad).is_err(), "{bad} should not parse");
        }
    }
}
