//! Scripting: rhai scripts and conditions run against the session, under
//! the turn's time budget.

use serde_json::Value;

use crate::compile::Script;

use crate::runtime::session::{MAX_VALUE_DEPTH, too_deep};
use crate::runtime::vars::Var;

use super::{Failure, Turn};

impl Turn<'_> {
    /// The scope a script runs in: the built-ins and session variables it
    /// touches (unset ones as `()`), and nothing else.
    pub(super) fn scope(&self, script: &Script) -> Result<rhai::Scope<'static>, Failure> {
        let mut scope = rhai::Scope::new();
        let to_dynamic = |v: &Value| {
            rhai::serde::to_dynamic(v)
                .map_err(|e| Failure::new(format!("a variable cannot be passed to a script: {e}")))
        };
        for name in &script.builtins {
            let value = self.builtin(name).unwrap_or(Value::Null);
            if *name == "session" {
                // A script may set `session.language`; the rest is read back
                // and ignored.
                scope.push_dynamic(*name, to_dynamic(&value)?);
            } else {
                scope.push_constant_dynamic(*name, to_dynamic(&value)?);
            }
        }
        for name in &script.vars {
            let value = match self.session.vars.get(name) {
                None | Some(Var::Null) => rhai::Dynamic::UNIT,
                Some(Var::Bool(b)) => rhai::Dynamic::from_bool(b),
                Some(Var::Int(n)) => rhai::Dynamic::from_int(n),
                Some(Var::Float(x)) => rhai::Dynamic::from_float(x),
                Some(Var::Str(s)) => rhai::Dynamic::from(rhai::ImmutableString::from(s)),
                Some(Var::Json(value)) => to_dynamic(value)?,
            };
            scope.push_dynamic(name.clone(), value);
        }
        Ok(scope)
    }

    /// Runs a script against what is left of the turn's time budget.
    pub(super) fn timed<T>(&mut self, run: impl FnOnce(&rhai::Engine) -> T) -> T {
        let engine = self.bot.engine();
        let started = std::time::Instant::now();
        let budget = self.bot.script_time();
        let deadline = started + self.script_time;
        let result = crate::script::with_deadline(deadline, budget, || run(engine));
        self.script_time = self.script_time.saturating_sub(started.elapsed());
        result
    }

    pub(super) fn condition(&mut self, condition: &Script) -> Result<bool, Failure> {
        let mut scope = self.scope(condition)?;
        let result = self
            .timed(|engine| engine.eval_ast_with_scope::<rhai::Dynamic>(&mut scope, &condition.ast))
            .map_err(script_failure)?;
        result.as_bool().map_err(|t| Failure {
            message: format!("a condition gave a {t}, not true or false"),
            script: Some((0, rhai::Position::NONE)),
        })
    }

    pub(super) fn script(&mut self, script: &Script) -> Result<(), Failure> {
        let mut scope = self.scope(script)?;
        self.timed(|engine| engine.run_ast_with_scope(&mut scope, &script.ast))
            .map_err(script_failure)?;
        for (name, constant, value) in scope.iter_raw() {
            if name == "session" && script.builtins.contains(&"session") {
                self.set_language(value)?;
                continue;
            }
            if constant || name.starts_with('_') {
                continue;
            }
            if value.is_unit() {
                self.session.vars.remove(name);
                continue;
            }
            // Checked before converting: the conversion recurses once per
            // level, and a script can nest a value thousands deep.
            if dynamic_deeper_than(value, MAX_VALUE_DEPTH) {
                return Err(too_deep_failure(name));
            }
            let json: Value = rhai::serde::from_dynamic(value)
                .map_err(|e| Failure::new(format!("`{name}` cannot be stored: {e}")))?;
            if !self.session.vars.get(name).is_some_and(|v| v.is(&json)) {
                storable(name, &json)?;
                self.session.vars.insert(name, json);
            }
        }
        Ok(())
    }
}

impl Turn<'_> {
    /// Takes the language a script set (`session.language = "pt"`): one of
    /// the bot's, matched as a request's is.
    fn set_language(&mut self, session: &rhai::Dynamic) -> Result<(), Failure> {
        let Some(map) = session.read_lock::<rhai::Map>() else {
            return Ok(());
        };
        let Some(wanted) = map.get("language") else {
            return Ok(());
        };
        let current = self.program.languages.get(self.language);
        let Ok(wanted) = wanted.clone().into_immutable_string() else {
            return Err(Failure::new(format!(
                "`session.language` must be a language such as \"{}\", not a {}",
                self.program.languages.first().map_or("en", String::as_str),
                wanted.type_name()
            )));
        };
        if current.is_some_and(|c| *c == wanted.as_str()) {
            return Ok(());
        }
        match crate::language::pick(&wanted, &self.program.languages) {
            Some(i) => {
                self.language = i;
                self.session.language = Some(self.program.languages[i].clone());
                Ok(())
            }
            None => Err(Failure::new(format!(
                "`session.language` is \"{wanted}\", which the bot does not speak (it speaks {})",
                self.program.languages.join(", ")
            ))),
        }
    }
}

/// A value may be kept in a variable only if the session still reads back
/// with it (see [`MAX_VALUE_DEPTH`]).
pub(super) fn storable(name: &str, value: &Value) -> Result<(), Failure> {
    if too_deep(value, MAX_VALUE_DEPTH) {
        return Err(too_deep_failure(name));
    }
    Ok(())
}

fn too_deep_failure(name: &str) -> Failure {
    Failure::new(format!(
        "`{name}` would nest arrays and objects more than {MAX_VALUE_DEPTH} levels deep, \
         which a session cannot keep; it was not changed"
    ))
}

/// Whether a script's value nests arrays and maps more than `limit` levels
/// deep. It recurses, but never more than `limit` calls deep, however deep
/// the value is.
fn dynamic_deeper_than(value: &rhai::Dynamic, limit: usize) -> bool {
    if !value.is_array() && !value.is_map() {
        return false;
    }
    if limit == 0 {
        return true;
    }
    if let Some(items) = value.read_lock::<rhai::Array>() {
        return items.iter().any(|v| dynamic_deeper_than(v, limit - 1));
    }
    if let Some(fields) = value.read_lock::<rhai::Map>() {
        return fields.values().any(|v| dynamic_deeper_than(v, limit - 1));
    }
    false
}

/// A script's error, with where rhai stopped kept apart from the message
/// (the turn names the file's line instead).
fn script_failure(mut error: Box<rhai::EvalAltResult>) -> Failure {
    let position = error.take_position();
    Failure {
        message: script_error(&error),
        script: Some((0, position)),
    }
}

fn script_error(error: &rhai::EvalAltResult) -> String {
    match error {
        rhai::EvalAltResult::ErrorTooManyOperations(_) => {
            format!(
                "a script ran more than {} operations",
                crate::script::MAX_OPERATIONS
            )
        }
        rhai::EvalAltResult::ErrorTerminated(token, _) => match crate::script::time_budget(token) {
            Some(budget) => format!(
                "the turn's scripts ran longer than {} ms",
                budget.as_millis()
            ),
            None => "a script was stopped".to_owned(),
        },
        other => format!("a script failed: {other}"),
    }
}
