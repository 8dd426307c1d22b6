//! What checking builds on its way and compiling needs: every script and
//! condition compiled, every template parsed, every regex built, every
//! intent pattern parsed, and where each cell and script is written (by
//! line, for the compiled bot's runtime errors). The checker has to do all of it to find errors;
//! [`Prepared`] keeps the results so the compiler takes them by value
//! instead of doing the work a second time.

use std::sync::Arc;

use regex::Regex;
use regex_syntax::hir::Hir;
use rustc_hash::FxHashMap;

use crate::source::Places;
use crate::template::Template;

/// The checker's compiled pieces of one bot, by source text (a bot repeats
/// texts and patterns; each distinct one is kept once).
///
/// Built by [`check`](super::check) and consumed by compiling. A piece that
/// is missing (a bot read from an artifact was never checked; a piece with
/// an error never compiled) is simply built again, so an empty `Prepared`
/// is always correct, only slower.
#[derive(Debug, Default)]
pub struct Prepared {
    scripts: FxHashMap<Box<str>, Arc<rhai::AST>>,
    expressions: FxHashMap<Box<str>, Arc<rhai::AST>>,
    templates: FxHashMap<Box<str>, Template>,
    /// Input and entity patterns, built case-sensitively as written.
    regexes: FxHashMap<Box<str>, Regex>,
    /// Every intent pattern parsed, in declaration order (intent by intent),
    /// when all of them are valid.
    intent_patterns: Option<Vec<Hir>>,
    /// Where each cell and script is written, for runtime errors.
    places: Places,
}

impl Prepared {
    /// A compiled script (`expression: false`) or condition.
    #[must_use]
    pub fn script(&self, source: &str, expression: bool) -> Option<Arc<rhai::AST>> {
        let map = if expression {
            &self.expressions
        } else {
            &self.scripts
        };
        map.get(source).cloned()
    }

    /// A parsed template.
    #[must_use]
    pub fn template(&self, source: &str) -> Option<Template> {
        self.templates.get(source).cloned()
    }

    /// A built input or entity pattern.
    #[must_use]
    pub fn regex(&self, pattern: &str) -> Option<Regex> {
        self.regexes.get(pattern).cloned()
    }

    /// The parsed intent patterns, if there are `count` of them (the
    /// bot's), leaving none behind.
    pub fn take_intent_patterns(&mut self, count: usize) -> Option<Vec<Hir>> {
        self.intent_patterns.take().filter(|p| p.len() == count)
    }

    /// Where the bot's cells and scripts are written, leaving none behind.
    pub fn take_places(&mut self) -> Places {
        std::mem::take(&mut self.places)
    }

    pub(super) fn set_places(&mut self, places: Places) {
        self.places = places;
    }

    pub(super) fn has_regex(&self, pattern: &str) -> bool {
        self.regexes.contains_key(pattern)
    }

    /// Keeps a compiled script, and returns it shared.
    pub(super) fn add_script(
        &mut self,
        source: &str,
        expression: bool,
        ast: rhai::AST,
    ) -> Arc<rhai::AST> {
        let map = if expression {
            &mut self.expressions
        } else {
            &mut self.scripts
        };
        Arc::clone(map.entry(source.into()).or_insert_with(|| Arc::new(ast)))
    }

    pub(super) fn add_template(&mut self, source: &str, template: Template) {
        if !self.templates.contains_key(source) {
            self.templates.insert(source.into(), template);
        }
    }

    pub(super) fn add_regex(&mut self, pattern: &str, regex: Regex) {
        if !self.regexes.contains_key(pattern) {
            self.regexes.insert(pattern.into(), regex);
        }
    }

    pub(super) fn set_intent_patterns(&mut self, patterns: Vec<Hir>) {
        self.intent_patterns = Some(patterns);
    }

    /// Takes in what a checker thread prepared.
    pub(super) fn merge(&mut self, other: Prepared) {
        for (key, ast) in other.scripts {
            self.scripts.entry(key).or_insert(ast);
        }
        for (key, ast) in other.expressions {
            self.expressions.entry(key).or_insert(ast);
        }
        for (key, template) in other.templates {
            self.templates.entry(key).or_insert(template);
        }
        for (key, regex) in other.regexes {
            self.regexes.entry(key).or_insert(regex);
        }
        if self.intent_patterns.is_none() {
            self.intent_patterns = other.intent_patterns;
        }
    }
}
