//! Regular expressions, built one way for the checker and the compiler.
//!
//! A bot's patterns (input `pattern:`, pattern entities, intent `patterns:`)
//! are compiled with a size limit, because a short pattern can expand into a
//! huge automaton (`\w{1000}` is a thousand copies of every Unicode word
//! character). The checker builds each pattern with these same functions, so
//! a bot that `check` accepts always loads: there is no second, laxer notion
//! of a valid pattern.

use regex::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};

/// Most memory one compiled pattern may take, in bytes.
pub const MAX_PATTERN_BYTES: usize = 1 << 20;
/// Most memory the bot's intent patterns may take together, in bytes: they
/// are compiled into one set that a message is matched against once.
pub const MAX_INTENT_PATTERNS_BYTES: usize = 64 << 20;

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
            // The syntax error's last line says what is wrong; the lines
            // above repeat the pattern with a caret under the place.
            other => PatternError::Syntax(
                other
                    .to_string()
                    .lines()
                    .last()
                    .unwrap_or("invalid syntax")
                    .trim_start_matches("error: ")
                    .to_owned(),
            ),
        }
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

/// Compiles every intent pattern into the one set the classifier matches a
/// message against, case-insensitively.
///
/// # Errors
/// A pattern with invalid syntax, or more than
/// [`MAX_INTENT_PATTERNS_BYTES`] compiled for the whole set.
pub fn intent_set<'a>(
    patterns: impl IntoIterator<Item = &'a str>,
) -> Result<RegexSet, PatternError> {
    RegexSetBuilder::new(patterns)
        .case_insensitive(true)
        .size_limit(MAX_INTENT_PATTERNS_BYTES)
        .build()
        .map_err(|e| PatternError::from_regex(e, MAX_INTENT_PATTERNS_BYTES))
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
        assert!(intent_set(["^hi$", "hello"]).is_ok());
    }
}
