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
//! checker and loading validate them with [`check_intent`], which costs a
//! small fraction of compiling them.

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

/// Compiles an input's or an entity's pattern (or, case-insensitively, one
/// intent pattern on its own).
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

/// Validates one intent pattern as [`IntentPatterns`] will compile it
/// (case-insensitively, with [`build`]), without compiling it: a pattern
/// this accepts always builds.
///
/// Compiling a regex builds several engines; of those only the two
/// automata the limit applies to, forward and reverse, can fail, and they
/// are a small part of the work. This builds just those two with the
/// regex crate's own settings, so checking thousands of intent patterns
/// costs milliseconds, not seconds.
///
/// # Errors
/// Invalid syntax, or more than [`MAX_PATTERN_BYTES`] compiled.
pub fn check_intent(pattern: &str) -> Result<(), PatternError> {
    let syntax = regex_automata::util::syntax::Config::new()
        .case_insensitive(true)
        .utf8(true);
    let hir = regex_automata::util::syntax::parse_with(pattern, &syntax)
        .map_err(|e| PatternError::syntax(&e.to_string()))?;
    let forward = thompson::Config::new()
        .utf8(true)
        .shrink(false)
        .nfa_size_limit(Some(MAX_PATTERN_BYTES));
    let reverse = forward
        .clone()
        .reverse(true)
        .which_captures(thompson::WhichCaptures::None);
    for config in [forward, reverse] {
        thompson::Compiler::new()
            .configure(config)
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
                check_intent(pattern),
                build(pattern, true).map(|_| ()),
                "{pattern}"
            );
        }
    }
}
