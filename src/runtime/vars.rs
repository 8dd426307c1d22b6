//! Session variables, stored compactly.
//!
//! A session lives as long as its conversation and a server keeps many
//! thousands of them, so its variables must be small and cheap to copy (a
//! turn snapshots the session to restore it on failure). [`Vars`] keeps
//! every name and every string value back to back in one text buffer, and
//! one sorted vector of 24-byte entries pointing into it: numbers, booleans
//! and null inline, strings as ranges of the buffer, arrays and objects as
//! boxed JSON values. Twenty variables take two allocations, not forty.
//!
//! It reads and writes as a JSON object (`{"name": value, …}`), in name
//! order, exactly as a map of names to JSON values would.

use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// A range of the text buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Range {
    start: u32,
    len: u32,
}

#[derive(Clone, Debug)]
enum Slot {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Range),
    Json(Box<Value>),
}

#[derive(Clone, Debug)]
struct Entry {
    name: Range,
    value: Slot,
}

/// A variable's value, borrowed from [`Vars`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Var<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(&'a str),
    /// An array, an object, or a number outside `i64` and `f64`.
    Json(&'a Value),
}

impl Var<'_> {
    /// The value as JSON (copies strings and structures).
    #[must_use]
    pub fn to_value(self) -> Value {
        match self {
            Var::Null => Value::Null,
            Var::Bool(b) => Value::Bool(b),
            Var::Int(n) => Value::from(n),
            Var::Float(x) => Value::from(x),
            Var::Str(s) => Value::String(s.to_owned()),
            Var::Json(v) => v.clone(),
        }
    }

    /// Whether this is the same JSON value as `value`.
    #[must_use]
    pub fn is(self, value: &Value) -> bool {
        match (self, value) {
            (Var::Null, Value::Null) => true,
            (Var::Bool(a), Value::Bool(b)) => a == *b,
            (Var::Int(a), Value::Number(b)) => b.as_i64() == Some(a) && !b.is_f64(),
            (Var::Float(a), Value::Number(b)) => b.is_f64() && b.as_f64() == Some(a),
            (Var::Str(a), Value::String(b)) => a == b,
            (Var::Json(a), b) => a == b,
            _ => false,
        }
    }
}

/// A string variable equals its text: `vars.get("name").unwrap() == "Ana"`.
impl PartialEq<&str> for Var<'_> {
    fn eq(&self, other: &&str) -> bool {
        matches!(self, Var::Str(s) if s == other)
    }
}

impl<'a> From<&'a str> for Var<'a> {
    fn from(s: &'a str) -> Var<'a> {
        Var::Str(s)
    }
}

impl<'a> From<&'a Value> for Var<'a> {
    fn from(value: &'a Value) -> Var<'a> {
        match value {
            Value::Null => Var::Null,
            Value::Bool(b) => Var::Bool(*b),
            Value::Number(n) if n.is_i64() => n.as_i64().map_or(Var::Json(value), Var::Int),
            Value::Number(n) if n.is_f64() => n.as_f64().map_or(Var::Json(value), Var::Float),
            Value::String(s) => Var::Str(s),
            _ => Var::Json(value),
        }
    }
}

impl fmt::Display for Var<'_> {
    /// As a template shows it: strings bare, everything else as JSON.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Var::Null => f.write_str("null"),
            Var::Bool(b) => write!(f, "{b}"),
            Var::Int(n) => write!(f, "{n}"),
            Var::Float(x) => write!(f, "{}", Value::from(*x)),
            Var::Str(s) => f.write_str(s),
            Var::Json(v) => write!(f, "{v}"),
        }
    }
}

impl Serialize for Var<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Var::Null => serializer.serialize_unit(),
            Var::Bool(b) => serializer.serialize_bool(*b),
            Var::Int(n) => serializer.serialize_i64(*n),
            Var::Float(x) => Value::from(*x).serialize(serializer),
            Var::Str(s) => serializer.serialize_str(s),
            Var::Json(v) => v.serialize(serializer),
        }
    }
}

/// A session's variables: names to JSON values, in name order.
#[derive(Default)]
pub struct Vars {
    /// Names and string values, back to back.
    text: String,
    /// Sorted by name.
    entries: Vec<Entry>,
    /// Bytes of `text` no entry points to any more.
    garbage: usize,
}

impl Vars {
    #[must_use]
    pub fn new() -> Vars {
        Vars::default()
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn str(&self, range: Range) -> &str {
        &self.text[range.start as usize..(range.start + range.len) as usize]
    }

    fn find(&self, name: &str) -> Result<usize, usize> {
        self.entries
            .binary_search_by(|e| self.str(e.name).cmp(name))
    }

    fn var<'a>(&'a self, slot: &'a Slot) -> Var<'a> {
        match slot {
            Slot::Null => Var::Null,
            Slot::Bool(b) => Var::Bool(*b),
            Slot::Int(n) => Var::Int(*n),
            Slot::Float(x) => Var::Float(*x),
            Slot::Str(range) => Var::Str(self.str(*range)),
            Slot::Json(v) => Var::Json(v),
        }
    }

    /// The variable's value, if it is set.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<Var<'_>> {
        self.find(name)
            .ok()
            .map(|i| self.var(&self.entries[i].value))
    }

    /// The variable's value as JSON (a copy), if it is set.
    #[must_use]
    pub fn value(&self, name: &str) -> Option<Value> {
        self.get(name).map(Var::to_value)
    }

    #[must_use]
    pub fn contains_key(&self, name: &str) -> bool {
        self.find(name).is_ok()
    }

    /// Every variable, in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Var<'_>)> {
        self.entries
            .iter()
            .map(|e| (self.str(e.name), self.var(&e.value)))
    }

    /// Appends `s` to the text buffer.
    fn push_text(&mut self, s: &str) -> Range {
        let start = u32::try_from(self.text.len()).unwrap_or(u32::MAX);
        self.text.push_str(s);
        Range {
            start,
            len: u32::try_from(s.len()).unwrap_or(u32::MAX),
        }
    }

    fn slot(&mut self, value: Var<'_>) -> Slot {
        match value {
            Var::Null => Slot::Null,
            Var::Bool(b) => Slot::Bool(b),
            Var::Int(n) => Slot::Int(n),
            Var::Float(x) => Slot::Float(x),
            Var::Str(s) => Slot::Str(self.push_text(s)),
            Var::Json(v) => Slot::Json(Box::new(v.clone())),
        }
    }

    fn forget(&mut self, slot: &Slot) {
        if let Slot::Str(range) = slot {
            self.garbage += range.len as usize;
        }
    }

    /// Sets a variable.
    pub fn insert(&mut self, name: &str, value: Value) {
        match Var::from(&value) {
            // Structures move in whole instead of being copied.
            Var::Json(_) => self.store(name, Slot::Json(Box::new(value))),
            var => self.set(name, var),
        }
    }

    /// Sets a variable to a borrowed value: a string is copied straight
    /// into the buffer, and setting the value a variable already has (a
    /// host sending the same context every turn) changes nothing.
    pub fn set(&mut self, name: &str, value: Var<'_>) {
        if let Ok(i) = self.find(name) {
            let slot = &self.entries[i].value;
            if self.var(slot) == value {
                return;
            }
            // A string of the same length is rewritten where it is.
            if let (Slot::Str(range), Var::Str(new)) = (slot, value)
                && range.len as usize == new.len()
            {
                let at = range.start as usize;
                self.text.replace_range(at..at + new.len(), new);
                return;
            }
        }
        let slot = self.slot(value);
        self.store(name, slot);
    }

    fn store(&mut self, name: &str, slot: Slot) {
        match self.find(name) {
            Ok(i) => {
                let old = std::mem::replace(&mut self.entries[i].value, slot);
                self.forget(&old);
            }
            Err(i) => {
                let name = self.push_text(name);
                // Sessions rarely gain variables after their first turns:
                // exact growth keeps the vector as small as its contents.
                self.entries.reserve_exact(1);
                self.entries.insert(i, Entry { name, value: slot });
            }
        }
        self.compact_if_wasteful();
    }

    /// The variables a host or user may see: no `_temporaries`, none that
    /// is `hidden`, and the values of `masked` ones replaced by
    /// [`super::MASK`].
    #[must_use]
    pub fn visible_with(
        &self,
        is_masked: impl Fn(&str) -> bool,
        is_hidden: impl Fn(&str) -> bool,
    ) -> Vars {
        let left_out = |name: &str| name.starts_with('_') || is_hidden(name);
        if !self
            .iter()
            .any(|(name, _)| left_out(name) || is_masked(name))
        {
            return self.clone();
        }
        let mut shown = Vars::new();
        for (name, value) in self.iter().filter(|(name, _)| !left_out(name)) {
            shown.set(
                name,
                if is_masked(name) {
                    Var::Str(super::MASK)
                } else {
                    value
                },
            );
        }
        shown
    }

    /// Unsets a variable; whether it was set.
    pub fn remove(&mut self, name: &str) -> bool {
        match self.find(name) {
            Ok(i) => {
                let entry = self.entries.remove(i);
                self.garbage += entry.name.len as usize;
                self.forget(&entry.value);
                self.compact_if_wasteful();
                true
            }
            Err(_) => false,
        }
    }

    /// Rewrites the text buffer once more than half of it is unused.
    fn compact_if_wasteful(&mut self) {
        if self.garbage <= 64 || self.garbage * 2 <= self.text.len() {
            return;
        }
        let old = std::mem::take(&mut self.text);
        let mut text = String::with_capacity(old.len() - self.garbage);
        let mut copy = |range: Range| {
            let start = u32::try_from(text.len()).unwrap_or(u32::MAX);
            text.push_str(&old[range.start as usize..(range.start + range.len) as usize]);
            Range {
                start,
                len: range.len,
            }
        };
        for entry in &mut self.entries {
            entry.name = copy(entry.name);
            if let Slot::Str(range) = &mut entry.value {
                *range = copy(*range);
            }
        }
        self.text = text;
        self.garbage = 0;
    }
}

impl Clone for Vars {
    fn clone(&self) -> Vars {
        Vars {
            text: self.text.clone(),
            entries: self.entries.clone(),
            garbage: self.garbage,
        }
    }

    /// Reuses this one's buffers: a turn's snapshot costs no allocation
    /// once its buffers are large enough.
    fn clone_from(&mut self, source: &Vars) {
        self.text.clone_from(&source.text);
        self.entries.clone_from(&source.entries);
        self.garbage = source.garbage;
    }
}

impl PartialEq for Vars {
    fn eq(&self, other: &Vars) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl fmt::Debug for Vars {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<S: AsRef<str>> FromIterator<(S, Value)> for Vars {
    fn from_iter<I: IntoIterator<Item = (S, Value)>>(iter: I) -> Vars {
        let mut vars = Vars::new();
        for (name, value) in iter {
            vars.insert(name.as_ref(), value);
        }
        vars
    }
}

impl Serialize for Vars {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.len()))?;
        for (name, value) in self.iter() {
            map.serialize_entry(name, &value)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Vars {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Vars, D::Error> {
        struct VarsVisitor;
        impl<'de> Visitor<'de> for VarsVisitor {
            type Value = Vars;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of variables")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vars, A::Error> {
                let mut vars = Vars::new();
                while let Some((name, value)) =
                    map.next_entry::<std::borrow::Cow<'de, str>, Value>()?
                {
                    vars.insert(&name, value);
                }
                Ok(vars)
            }
        }
        deserializer.deserialize_map(VarsVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_back_what_was_written_in_name_order() {
        let mut vars = Vars::new();
        vars.insert("b", json!("two"));
        vars.insert("a", json!(1));
        vars.insert("c", json!({"x": [1, 2]}));
        vars.insert("d", json!(2.5));
        vars.insert("e", json!(null));
        vars.insert("f", json!(true));
        vars.insert("g", json!(u64::MAX));
        assert_eq!(vars.get("a"), Some(Var::Int(1)));
        assert_eq!(vars.get("b"), Some(Var::Str("two")));
        assert_eq!(vars.value("c"), Some(json!({"x": [1, 2]})));
        assert_eq!(vars.get("d"), Some(Var::Float(2.5)));
        assert_eq!(vars.value("g"), Some(json!(u64::MAX)));
        assert_eq!(vars.get("zz"), None);
        let names: Vec<&str> = vars.iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["a", "b", "c", "d", "e", "f", "g"]);
        let text = serde_json::to_string(&vars).unwrap();
        assert_eq!(
            text,
            r#"{"a":1,"b":"two","c":{"x":[1,2]},"d":2.5,"e":null,"f":true,"g":18446744073709551615}"#
        );
        let back: Vars = serde_json::from_str(&text).unwrap();
        assert_eq!(back, vars);
    }

    #[test]
    fn overwrites_and_removals_do_not_grow_the_buffer_without_bound() {
        let mut vars = Vars::new();
        vars.insert("name", json!("x"));
        for n in 0..10_000 {
            vars.insert("name", json!(format!("a longer value number {n}")));
            vars.insert("other", json!(n));
            assert!(vars.remove("other"));
        }
        assert_eq!(
            vars.value("name"),
            Some(json!("a longer value number 9999"))
        );
        assert!(vars.text.len() < 200, "{}", vars.text.len());
        assert!(!vars.remove("other"));
    }

    #[test]
    fn rewriting_a_value_in_place_keeps_every_other_variable() {
        let mut vars = Vars::new();
        vars.insert("a", json!("añ"));
        vars.insert("b", json!("bee"));
        let used = vars.text.len();
        // The same value, and another of the same byte length, reuse the
        // buffer; a value of another type or length is appended.
        vars.set("a", Var::Str("añ"));
        vars.set("a", Var::Str("xyz"));
        assert_eq!(vars.text.len(), used);
        assert_eq!(vars.get("a"), Some(Var::Str("xyz")));
        vars.set("a", Var::Str("ñ"));
        vars.set("b", Var::Int(3));
        assert_eq!(vars.get("a").unwrap(), "ñ");
        assert_eq!(vars.get("b"), Some(Var::Int(3)));
        let back: Vars = serde_json::from_str(&serde_json::to_string(&vars).unwrap()).unwrap();
        assert_eq!(back, vars);
    }

    #[test]
    fn visible_variables_hide_temporaries_and_mask_secrets() {
        let mut vars = Vars::new();
        vars.insert("_tmp", json!(1));
        vars.insert("pin", json!("1234"));
        vars.insert("name", json!("Ana"));
        let shown = vars.visible_with(|name| name == "pin", |_| false);
        assert_eq!(
            serde_json::to_value(&shown).unwrap(),
            json!({"name": "Ana", "pin": super::super::MASK})
        );
        vars.remove("_tmp");
        assert_eq!(vars.visible_with(|_| false, |_| false), vars);
    }

    #[test]
    fn a_copy_into_an_old_one_is_equal_to_its_source() {
        let mut source = Vars::new();
        source.insert("a", json!("x"));
        source.insert("j", json!([1]));
        let mut copy = Vars::new();
        copy.insert("old", json!("a much longer value that leaves room"));
        copy.clone_from(&source);
        assert_eq!(copy, source);
    }

    #[test]
    fn compares_values_as_json_does() {
        let mut vars = Vars::new();
        vars.insert("n", json!(1));
        assert!(vars.get("n").unwrap().is(&json!(1)));
        assert!(!vars.get("n").unwrap().is(&json!(1.0)));
        assert!(!vars.get("n").unwrap().is(&json!("1")));
    }
}
