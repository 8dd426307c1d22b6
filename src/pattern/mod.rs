//! Regular expressions, built one way for the checker and the compiler.
//!
//! A bot's patterns (input `pattern:`, pattern entities, intent `patterns:`)
//! are compiled with a size limit, because a short pattern can expand into a
//! huge automaton (`\w{1000}` is a thousand copies of every Unicode word
//! character). The checker builds each pattern with these same functions, so
//! a bot that `check` accepts always loads: there is no second, laxer notion
//! of a valid pattern.
//!
//! Intent patterns, of which a bot may have thousands, are matched through
//! [`IntentPatterns`] (in `intents`), which compiles each on first use; the
//! checker and loading validate them with an [`IntentValidator`], which
//! costs a small fraction of compiling them.

mod intents;

pub use intents::IntentPatterns;

use regex::{Regex, RegexBuilder};
use regex_automata::nfa::thompson;

/// Most memory one compiled pattern may take, in bytes.
pub const MAX_PATTERN_BYTES: usize = 1 << 20;

/// Why a pattern cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    /// Not valid regex syntax; the reason in one line.
    #[error("{0}")]
    Syntax(String),
    /// Valid, but compiles to more than `limit` bytes.
    #[error("it compiles to more than {}", size(*limit))]
    TooBig { limit: usize },
}

/// A size limit as people write it: `1 MiB`, `640 KiB`.
#[must_use]
pub fn size(bytes: usize) -> String {
    if bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else {
        format!("{} KiB", bytes.div_ceil(1024))
    }
}

impl PatternError {
    fn from_regex(error: regex::Error, limit: usize) -> PatternError {
        match error {
            regex::Error::CompiledTooBig(_) => PatternError::TooBig { limit },
            other => PatternError::syntax(&other.to_string()),
        }
    }

    /// The syntax error's last line says what is wrong; the lines above
    /// repeat the pattern with a caret under the place.
    fn syntax(message: &str) -> PatternError {
        PatternError::Syntax(
            message
                .lines()
                .last()
                .unwrap_or("invalid syntax")
                .trim_start_matches("error: ")
                .to_owned(),
        )
    }
}

/// Compiles an input's or an entity's pattern.
///
/// # Errors
/// Invalid syntax, or more than [`MAX_PATTERN_BYTES`] compiled.
pub fn build(pattern: &str, case_insensitive: bool) -> Result<Regex, PatternError> {
    RegexBuilder::new(pattern)
        .case_insensitive(case_insensitive)
        .size_limit(MAX_PATTERN_BYTES)
        .build()
        .map_err(|e| PatternError::from_regex(e, MAX_PATTERN_BYTES))
}

/// Validates intent patterns as [`IntentPatterns`] will compile them
/// (case-insensitively, under the limit [`build`] applies), without
/// compiling them: a pattern this accepts always builds.
///
/// Compiling a regex builds several engines, of which only the two
/// automata the size limit applies to, forward and reverse, can fail. A
/// pattern is parsed (as written, which is also what the literal prefilter
/// needs) and its automata's size bounded from above by walking its syntax
/// tree; only a pattern whose bound exceeds the limit, rare in practice
/// (`\w{50}`), has the two automata built with the regex crate's own
/// settings for the exact answer. Thousands of patterns take milliseconds
/// instead of seconds.
#[derive(Debug)]
pub struct IntentValidator {
    syntax: regex_automata::util::syntax::Config,
    forward: thompson::Compiler,
    reverse: thompson::Compiler,
}

/// Bytes an automaton may take besides its states.
const AUTOMATON_OVERHEAD: usize = 8 << 10;
/// Upper bound on the bytes one state or one transition takes.
const BYTES_PER_UNIT: usize = 32;
/// Upper bound on the states and transitions one contiguous range of
/// characters compiles to: up to 9 UTF-8 byte sequences of up to 4 byte
/// ranges, each a state and a transition.
const UNITS_PER_RANGE: usize = 9 * 4 * 2;

impl Default for IntentValidator {
    fn default() -> IntentValidator {
        let forward = thompson::Config::new()
            .utf8(true)
            .shrink(false)
            .nfa_size_limit(Some(MAX_PATTERN_BYTES));
        let reverse = forward
            .clone()
            .reverse(true)
            .which_captures(thompson::WhichCaptures::None);
        // Reused from one pattern to the next: the first non-ASCII class a
        // builder meets allocates a cache that costs more than a small
        // pattern's whole automaton; a reused builder only clears it.
        let compiler = |config| {
            let mut compiler = thompson::Compiler::new();
            compiler.configure(config);
            compiler
        };
        IntentValidator {
            syntax: regex_automata::util::syntax::Config::new()
                .case_insensitive(true)
                .utf8(true),
            forward: compiler(forward),
            reverse: compiler(reverse),
        }
    }
}

impl IntentValidator {
    /// `pattern` parsed as written (case-sensitively), if it is a valid
    /// intent pattern.
    ///
    /// # Errors
    /// Invalid syntax, or more than [`MAX_PATTERN_BYTES`] compiled.
    pub fn check(&self, pattern: &str) -> Result<regex_syntax::hir::Hir, PatternError> {
        // Case changes what a pattern matches, never whether it parses.
        let hir = regex_automata::util::syntax::parse(pattern)
            .map_err(|e| PatternError::syntax(&e.to_string()))?;
        let bound = AUTOMATON_OVERHEAD
            .saturating_add(pattern.len())
            .saturating_add(units(&hir).saturating_mul(BYTES_PER_UNIT));
        if bound > MAX_PATTERN_BYTES {
            self.check_exactly(pattern)?;
        }
        Ok(hir)
    }

    /// Builds both automata of `pattern` under the limit.
    fn check_exactly(&self, pattern: &str) -> Result<(), PatternError> {
        let hir = regex_automata::util::syntax::parse_with(pattern, &self.syntax)
            .map_err(|e| PatternError::syntax(&e.to_string()))?;
        for compiler in [&self.forward, &self.reverse] {
            compiler
                .build_from_hir(&hir)
                .map_err(|e| match e.size_limit() {
                    Some(_) => PatternError::TooBig {
                        limit: MAX_PATTERN_BYTES,
                    },
                    None => PatternError::syntax(&e.to_string()),
                })?;
        }
        Ok(())
    }
}

/// An upper bound on the states and transitions `hir`, parsed as written,
/// compiles to case-insensitively, in either direction.
fn units(hir: &regex_syntax::hir::Hir) -> usize {
    use regex_syntax::hir::{Class, ClassUnicode, ClassUnicodeRange, HirKind};
    let unicode_class = |class: &ClassUnicode| {
        let mut class = class.clone();
        class.case_fold_simple();
        class.ranges().len().saturating_mul(UNITS_PER_RANGE) + 4
    };
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => 4,
        HirKind::Literal(literal) => match std::str::from_utf8(&literal.0) {
            Ok(text) => text
                .chars()
                .map(|c| unicode_class(&ClassUnicode::new([ClassUnicodeRange::new(c, c)])))
                .fold(4, usize::saturating_add),
            // Bytes outside UTF-8 (with `(?-u)`): each a state, ASCII letters
            // in both cases.
            Err(_) => literal.0.len().saturating_mul(4) + 4,
        },
        HirKind::Class(Class::Unicode(class)) => unicode_class(class),
        HirKind::Class(Class::Bytes(class)) => class.ranges().len().saturating_mul(8) + 4,
        HirKind::Repetition(repetition) => {
            let copies = repetition
                .max
                .unwrap_or(repetition.min.saturating_add(1))
                .max(1);
            units(&repetition.sub)
                .saturating_add(8)
                .saturating_mul(copies as usize)
        }
        HirKind::Capture(capture) => units(&capture.sub).saturating_add(16),
        HirKind::Concat(parts) | HirKind::Alternation(parts) => parts
            .iter()
            .map(|part| units(part).saturating_add(8))
            .fold(4, usize::saturating_add),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_patterns_build_and_big_ones_are_refused() {
        assert!(build(r"^\d{4}$", false).is_ok());
        assert_eq!(
            build(r"\w{1000}", false).unwrap_err(),
            PatternError::TooBig {
                limit: MAX_PATTERN_BYTES
            }
        );
        assert!(matches!(build("[a-", false), Err(PatternError::Syntax(_))));
    }

    #[test]
    fn intent_patterns_are_refused_exactly_when_they_would_not_build() {
        let validator = IntentValidator::default();
        for pattern in [
            r"^\d{4}$",
            r"\w{1000}",
            r"\w{100}",
            r"(?-i)\w{150}",
            r"[a-z]{5000}",
            r"\bitem[- ]?42\b",
            "[a-",
            "(",
            "a{2,1}",
            r"\p{Greek}{300}",
            "x{1000}y{1000}",
            "",
        ] {
            assert_eq!(
                validator.check(pattern).map(|_| ()),
                build(pattern, true).map(|_| ()),
                "{pattern}"
            );
        }
    }

    #[test]
    fn the_size_bound_is_never_below_the_real_size() {
        // Patterns checked without building their automata must really be
        // small: the bound is compared with the built automata.
        let validator = IntentValidator::default();
        let pieces = [
            "a",
            "k",
            "é",
            "ß",
            "ſ",
            r"\w",
            r"\d",
            r"\s",
            ".",
            "[^a]",
            r"\p{Greek}",
            r"\p{L}",
            "[a-z]",
            "(?-u:[a-z])",
            r"(?-u:\x7f)",
            r"\b",
            "^",
            "x*",
            "(?:ab)+",
            "(a|bc)",
            "(q)",
            "o{3}",
            r"\w{2,4}",
            "(?i)K",
            "[kK]{0,2}",
            " ",
        ];
        let mut state = 3_u64;
        let mut next = || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            usize::try_from(state >> 33).unwrap()
        };
        let mut checked = 0;
        for _ in 0..500 {
            let pattern: String = (0..=next() % 6)
                .map(|_| pieces[next() % pieces.len()])
                .collect();
            // Case never decides whether a pattern parses.
            let cs = regex_automata::util::syntax::parse(&pattern);
            let ci = regex_automata::util::syntax::parse_with(&pattern, &validator.syntax);
            assert_eq!(cs.is_ok(), ci.is_ok(), "{pattern}");
            let (Ok(hir), Ok(ci)) = (cs, ci) else {
                continue;
            };
            let bound = AUTOMATON_OVERHEAD + pattern.len() + units(&hir) * BYTES_PER_UNIT;
            for compiler in [&validator.forward, &validator.reverse] {
                if let Ok(nfa) = compiler.build_from_hir(&ci) {
                    assert!(
                        nfa.memory_usage() <= bound,
                        "{pattern}: {} > {bound}",
                        nfa.memory_usage()
                    );
                    checked += 1;
                }
            }
        }
        assert!(checked > 700, "{checked}");
    }
}
