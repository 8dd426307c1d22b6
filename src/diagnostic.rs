//! Diagnostics: what every stage reports about a bot, as plain data.
//!
//! A [`Diagnostic`] is a [`Problem`] (what is wrong, with structured fields),
//! the [`Span`] it points at, and optional secondary spans ("first defined
//! here"). Nothing here is pre-rendered: [`Problem`] knows its stable code,
//! severity, label and help, and [`Rendered`] turns a diagnostic plus the
//! [`SourceMap`] into a `miette::Diagnostic` at the edge, so the same data
//! serves the terminal, JSON and GitHub annotations.

use std::fmt;
use std::fmt::Write as _;

use crate::source::{SourceFile, SourceMap, Span};

/// How bad a problem is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Warning,
    Error,
}

impl Severity {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// The kind of name a duplicate or unknown-name problem is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameKind {
    Flow,
    Cell,
    Intent,
    Entity,
    EntityValue,
    Field,
    Trigger,
}

impl fmt::Display for NameKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NameKind::Flow => "flow",
            NameKind::Cell => "cell id",
            NameKind::Intent => "intent",
            NameKind::Entity => "entity",
            NameKind::EntityValue => "entity value",
            NameKind::Field => "field",
            NameKind::Trigger => "trigger",
        })
    }
}

/// What a DSL file opened and never closed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unclosed {
    /// A `{`, and what it opens ("the input `name`", "this rule").
    Brace { of: String },
    /// A `[` of a list.
    Bracket,
    /// A double- or single-quoted string. `runs_to` is the line it runs on
    /// to when it does close, later than meant (a multi-line string is
    /// allowed, so this is a guess); `None` when it never closes.
    String { runs_to: Option<usize> },
    /// A `code` or `when` block, whose braces, strings and comments are
    /// read as rhai reads them.
    Block,
}

impl fmt::Display for Unclosed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unclosed::Brace { of } => write!(f, "the `{{` of {of} is not closed"),
            Unclosed::Bracket => f.write_str("the `[` of this list is not closed"),
            Unclosed::String { runs_to: None } => f.write_str("this string is not closed"),
            Unclosed::String {
                runs_to: Some(line),
            } => write!(
                f,
                "this string may not be closed where it should: it runs on to line {line}"
            ),
            Unclosed::Block => f.write_str("the `{` of this code block is not closed"),
        }
    }
}

/// What a DSL file has where its grammar wanted something else.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    /// What the grammar allows here, in the words of docs/LANGUAGE.md
    /// ("an input field (prompt, options, …) or `}`").
    pub expected: String,
    /// What is there instead ("`menu`", "a string", "the end of the file").
    pub found: String,
    /// The keyword the author probably meant.
    pub suggestion: Option<String>,
    /// How the construct is written, when that says it best.
    pub hint: Option<String>,
}

/// Why a backslash in a double-quoted DSL string is not an escape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EscapeProblem {
    /// `\u{...}` names no Unicode character (a surrogate, or past 10FFFF).
    NotAChar,
    /// A backslash before a character that has no escape (`\b`, `\d`);
    /// `raw` is the string written in single quotes, when it can be.
    Unknown { raw: Option<String> },
    /// `\u` without 1 to 6 hex digits in braces (`\u00E9`).
    Malformed,
}

/// Why an `input` cell's configuration cannot work.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InputProblem {
    UnknownType {
        found: String,
        suggestion: Option<String>,
    },
    NoOptions,
    OptionsAndEntity,
    NoPattern,
    MinAboveMax,
    FieldNotForType {
        field: &'static str,
        ty: &'static str,
    },
    EmptyOption,
    /// An entry of `types` is not a media type (`type/subtype` or `type/*`).
    BadMediaType {
        found: String,
    },
    /// An `image` input's `types` entry that is not an image type.
    NotAnImageType {
        found: String,
    },
    MaxSizeZero,
    /// A `min` or `max` of the wrong kind: a date on a number, or not a date
    /// (`today`, `today+30`, `2026-12-31`) on a date.
    BadLimit {
        found: String,
        dates: bool,
    },
}

/// Why an `answer` cell's content cannot be sent as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AnswerProblem {
    /// Two kinds of content that decide an answer's type.
    MixedContent {
        first: &'static str,
        second: &'static str,
    },
    /// `typing` or `delay` past the limit.
    TooLong { field: &'static str, limit_ms: u64 },
    /// A literal latitude or longitude that is not a number in range.
    BadCoordinate { field: &'static str, found: String },
    /// `quick_replies_scope` on an answer without quick replies.
    ScopeWithoutQuickReplies,
    /// Voice text that opens `<speak>` and never closes it.
    UnclosedSsml,
}

impl fmt::Display for AnswerProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AnswerProblem::MixedContent { first, second } => write!(
                f,
                "an answer has one kind of content, and this one has `{first}` and `{second}`"
            ),
            AnswerProblem::TooLong { field, limit_ms } => {
                write!(f, "`{field}` is longer than {limit_ms} ms")
            }
            AnswerProblem::BadCoordinate { field, found } => {
                let range = if *field == "lat" {
                    "-90 to 90"
                } else {
                    "-180 to 180"
                };
                write!(f, "`{field}` is `{found}`, not a number from {range}")
            }
            AnswerProblem::ScopeWithoutQuickReplies => {
                f.write_str("`quick_replies_scope` on an answer without quick replies")
            }
            AnswerProblem::UnclosedSsml => {
                f.write_str("the voice text opens `<speak>` and does not end with `</speak>`")
            }
        }
    }
}

impl fmt::Display for InputProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InputProblem::UnknownType { found, .. } => write!(f, "unknown input type `{found}`"),
            InputProblem::NoOptions => {
                f.write_str("an `options` input has no options and no entity")
            }
            InputProblem::OptionsAndEntity => {
                f.write_str("an input takes `options` or `entity`, not both")
            }
            InputProblem::NoPattern => f.write_str("a `pattern` input has no pattern"),
            InputProblem::MinAboveMax => f.write_str("`min` is greater than `max`"),
            InputProblem::FieldNotForType { field, ty } => {
                write!(f, "`{field}` does not apply to a `{ty}` input")
            }
            InputProblem::EmptyOption => f.write_str("an option is empty"),
            InputProblem::BadMediaType { found } => {
                write!(f, "`{found}` is not a media type")
            }
            InputProblem::NotAnImageType { found } => {
                write!(f, "an `image` input cannot accept `{found}`")
            }
            InputProblem::MaxSizeZero => f.write_str("`max_size` is 0: no file fits"),
            InputProblem::BadLimit { found, dates: true } => {
                write!(f, "`{found}` is not a date bound")
            }
            InputProblem::BadLimit { found, .. } => write!(f, "`{found}` is not a number"),
        }
    }
}

/// Everything cellflow can find wrong with a bot.
///
/// Each variant has a stable code (see [`Problem::code`]); the codes are the
/// contract with CI scripts and `docs/DIAGNOSTICS.md`, the messages are not.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum Problem {
    // ---- reading files -------------------------------------------------
    #[error("YAML syntax error: {message}")]
    YamlSyntax { message: String },
    #[error("the file is {size} bytes, more than the limit of {limit}")]
    FileTooLarge { size: usize, limit: usize },
    #[error("the file is not UTF-8 text")]
    NotUtf8,
    #[error("expected {}, found {}", .0.expected, .0.found)]
    DslSyntax(Box<SyntaxError>),
    #[error("{}", match problem {
        EscapeProblem::NotAChar => format!("`{escape}` names no Unicode character"),
        EscapeProblem::Unknown { .. } => format!("`{escape}` is not an escape in a double-quoted string"),
        EscapeProblem::Malformed => format!("`{escape}` is not a `\\u{{...}}` escape"),
    })]
    InvalidEscape {
        escape: String,
        problem: EscapeProblem,
    },
    #[error("{what}")]
    Unclosed {
        what: Unclosed,
        /// Where the parser gave up ("`answer` on line 4", "the end of the file").
        gave_up: String,
    },
    #[error("unknown cell kind `{found}`")]
    UnknownCellKind {
        found: String,
        suggestion: Option<String>,
    },
    #[error("a cell needs exactly one kind, but this one has `{first}` and `{second}`")]
    MultipleKinds { first: String, second: String },
    #[error("this cell has no kind")]
    MissingKind,
    #[error("unknown field `{field}` in {context}")]
    UnknownField {
        field: String,
        context: &'static str,
        suggestion: Option<String>,
    },
    #[error("{context} needs a `{field}` field")]
    MissingField {
        field: &'static str,
        context: &'static str,
    },
    #[error("`{field}` is given twice")]
    DuplicateField { field: String },
    #[error("`{field}` must be {expected}")]
    InvalidValue {
        field: String,
        expected: &'static str,
    },
    #[error("`{name}` is not a valid {kind} name")]
    InvalidName { name: String, kind: NameKind },

    // ---- names and references ------------------------------------------
    #[error("the {kind} `{name}` is defined twice")]
    DuplicateName { name: String, kind: NameKind },
    #[error("unknown target `{name}`")]
    UnknownTarget {
        name: String,
        suggestion: Option<String>,
    },
    #[error("the target `{name}` is ambiguous: it is a cell of flow `{flow}` and a flow")]
    AmbiguousTarget { name: String, flow: String },
    #[error("unknown intent `{name}`")]
    UnknownIntent {
        name: String,
        suggestion: Option<String>,
    },
    #[error("unknown entity `{name}`")]
    UnknownEntity {
        name: String,
        suggestion: Option<String>,
    },

    // ---- embedded languages --------------------------------------------
    #[error("script error: {message}")]
    ScriptSyntax { message: String },
    #[error("invalid regular expression: {message}")]
    InvalidRegex { message: String },
    #[error("regular expression too big to compile")]
    RegexTooBig { limit: usize },
    #[error("invalid template: {reason}")]
    InvalidTemplate { reason: String },
    #[error("invalid input: {problem}")]
    InvalidInput { problem: InputProblem },
    #[error("invalid answer: {problem}")]
    InvalidAnswer { problem: AnswerProblem },
    #[error("{}", if *known { format!("`{found}` is not one of the bot's languages") } else { format!("`{found}` is not a language code") })]
    UnknownLanguage {
        found: String,
        suggestion: Option<String>,
        /// A real language the bot does not declare (else not a language at all).
        known: bool,
    },
    #[error("`{cell}` has no `{language}` text")]
    MissingTranslation { cell: String, language: String },
    #[error("invalid service URL: {reason}")]
    InvalidUrl { reason: String },
    #[error("invalid environment variable: {reason}")]
    InvalidEnvVar { reason: String },
    #[error("{}", match problem {
        crate::kinds::DurationError::Malformed => format!("`{found}` is not a duration"),
        crate::kinds::DurationError::Zero => format!("`{found}` is no time at all"),
        crate::kinds::DurationError::TooLong => format!("`{found}` is longer than 30 days"),
    })]
    InvalidDuration {
        found: String,
        problem: crate::kinds::DurationError,
    },
    #[error("{}", if *reserved { format!("`{name}` is the name of an event cellflow sends itself") } else { format!("`{name}` is not an event name") })]
    InvalidEvent {
        name: String,
        /// One of the automatic events' names (else not a name at all).
        reserved: bool,
    },

    // ---- graph ---------------------------------------------------------
    #[error("these cells can loop forever without waiting for the user")]
    WaitlessLoop { cells: Vec<String> },
    #[error("this cell can never be reached")]
    UnreachableCell,
    #[error("`{name}` may be unset here")]
    MaybeUnset {
        name: String,
        never_assigned: bool,
        /// A name that is assigned, close to this one (when it is never
        /// assigned).
        suggestion: Option<String>,
    },
    #[error("`{name}` is never assigned, and the host does not provide it")]
    MisspeltVariable { name: String, suggestion: String },
    #[error("the example \"{example}\" is in intents `{first}` and `{second}`")]
    DuplicateExample {
        example: String,
        first: String,
        second: String,
    },
    #[error("the intent `{name}` has {}{}", match count { 0 => "no examples".to_owned(), 1 => "only 1 different example".to_owned(), n => format!("only {n} different examples") }, language.as_ref().map(|l| format!(" in `{l}`")).unwrap_or_default())]
    FewExamples {
        name: String,
        count: usize,
        /// The language short of examples, when the intent has examples
        /// per language.
        language: Option<String>,
    },
    #[error("the intent `{name}` is never used")]
    UnusedIntent { name: String },
    #[error("the entity `{name}` is never used")]
    UnusedEntity { name: String },
    #[error("the bot has no fallback flow")]
    NoFallback,
    #[error("`{name}` is {}, but the bot says it to the user", if *hidden { "hidden" } else { "masked" })]
    SecretInAnswer { name: String, hidden: bool },
    #[error("`{name}` is declared {list}, but no cell assigns it and the host does not provide it")]
    UnknownVariable {
        name: String,
        list: &'static str,
        suggestion: Option<String>,
    },

    // ---- conversation tests --------------------------------------------
    #[error("the mock names `{name}`, but no service cell has that id")]
    UnknownMock {
        name: String,
        suggestion: Option<String>,
    },
}

impl Problem {
    /// The stable code, e.g. `cellflow::check::unknown_target`.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Problem::YamlSyntax { .. } => "cellflow::syntax::yaml",
            Problem::FileTooLarge { .. } => "cellflow::syntax::too_large",
            Problem::NotUtf8 => "cellflow::syntax::encoding",
            Problem::DslSyntax(_) => "cellflow::syntax::dsl",
            Problem::InvalidEscape { .. } => "cellflow::syntax::invalid_escape",
            Problem::Unclosed { .. } => "cellflow::syntax::unclosed",
            Problem::UnknownCellKind { .. } => "cellflow::syntax::unknown_cell_kind",
            Problem::MultipleKinds { .. } => "cellflow::syntax::multiple_kinds",
            Problem::MissingKind => "cellflow::syntax::missing_kind",
            Problem::UnknownField { .. } => "cellflow::syntax::unknown_field",
            Problem::MissingField { .. } => "cellflow::syntax::missing_field",
            Problem::DuplicateField { .. } => "cellflow::syntax::duplicate_field",
            Problem::InvalidValue { .. } => "cellflow::syntax::invalid_value",
            Problem::InvalidName { .. } => "cellflow::syntax::invalid_name",
            Problem::DuplicateName { .. } => "cellflow::check::duplicate_name",
            Problem::UnknownTarget { .. } => "cellflow::check::unknown_target",
            Problem::AmbiguousTarget { .. } => "cellflow::check::ambiguous_target",
            Problem::UnknownIntent { .. } => "cellflow::check::unknown_intent",
            Problem::UnknownEntity { .. } => "cellflow::check::unknown_entity",
            Problem::ScriptSyntax { .. } => "cellflow::check::script_syntax",
            Problem::InvalidRegex { .. } => "cellflow::check::invalid_regex",
            Problem::RegexTooBig { .. } => "cellflow::check::regex_too_big",
            Problem::InvalidTemplate { .. } => "cellflow::check::invalid_template",
            Problem::InvalidInput { .. } => "cellflow::check::invalid_input",
            Problem::InvalidAnswer { .. } => "cellflow::check::invalid_answer",
            Problem::UnknownLanguage { .. } => "cellflow::check::unknown_language",
            Problem::MissingTranslation { .. } => "cellflow::check::missing_translation",
            Problem::InvalidUrl { .. } => "cellflow::check::invalid_url",
            Problem::InvalidEvent { .. } => "cellflow::check::invalid_event",
            Problem::InvalidDuration { .. } => "cellflow::check::invalid_duration",
            Problem::InvalidEnvVar { .. } => "cellflow::check::invalid_env_var",
            Problem::WaitlessLoop { .. } => "cellflow::check::waitless_loop",
            Problem::UnreachableCell => "cellflow::check::unreachable_cell",
            Problem::MaybeUnset { .. } => "cellflow::check::maybe_unset",
            Problem::MisspeltVariable { .. } => "cellflow::check::misspelt_variable",
            Problem::DuplicateExample { .. } => "cellflow::check::duplicate_example",
            Problem::FewExamples { .. } => "cellflow::check::few_examples",
            Problem::UnusedIntent { .. } => "cellflow::check::unused_intent",
            Problem::UnusedEntity { .. } => "cellflow::check::unused_entity",
            Problem::NoFallback => "cellflow::check::no_fallback",
            Problem::SecretInAnswer { .. } => "cellflow::check::secret_in_answer",
            Problem::UnknownVariable { .. } => "cellflow::check::unknown_variable",
            Problem::UnknownMock { .. } => "cellflow::test::unknown_mock",
        }
    }

    #[must_use]
    pub fn severity(&self) -> Severity {
        match self {
            Problem::UnreachableCell
            | Problem::MaybeUnset { .. }
            | Problem::DuplicateExample { .. }
            | Problem::FewExamples { .. }
            | Problem::UnusedIntent { .. }
            | Problem::UnusedEntity { .. }
            | Problem::NoFallback
            | Problem::SecretInAnswer { .. }
            | Problem::UnknownVariable { .. }
            | Problem::InvalidAnswer {
                problem: AnswerProblem::ScopeWithoutQuickReplies,
            }
            | Problem::MissingTranslation { .. } => Severity::Warning,
            _ => Severity::Error,
        }
    }

    /// The text under the main span.
    #[must_use]
    pub fn label(&self) -> String {
        match self {
            Problem::YamlSyntax { .. } => "here".into(),
            Problem::DslSyntax(error) => {
                if error.found == "the end of the file" {
                    "the file ends here".into()
                } else {
                    // The head of the expectation: "an input field", "`goto`".
                    let head = error.expected.split(" (").next().unwrap_or_default();
                    format!("expected {head}")
                }
            }
            Problem::FileTooLarge { .. } => "this file".into(),
            Problem::NotUtf8 => "invalid UTF-8 starts here".into(),
            Problem::InvalidEscape { problem, .. } => match problem {
                EscapeProblem::NotAChar => "not a Unicode scalar value",
                EscapeProblem::Unknown { .. } => "not an escape",
                EscapeProblem::Malformed => "not `\\u{...}`",
            }
            .into(),
            Problem::Unclosed { what, .. } => match what {
                Unclosed::String { .. } => "the string starts here",
                _ => "opened here",
            }
            .into(),
            Problem::UnknownCellKind { .. } => "not a cell kind".into(),
            Problem::MultipleKinds { second, .. } => format!("`{second}` is a second kind"),
            Problem::MissingKind => "no kind key in this cell".into(),
            Problem::UnknownField { .. } => "not a field here".into(),
            Problem::MissingField { field, .. } => format!("`{field}` is missing"),
            Problem::DuplicateField { .. } => "given again here".into(),
            Problem::InvalidValue { expected, .. } => format!("expected {expected}"),
            Problem::InvalidName { .. } => "not a name".into(),
            Problem::DuplicateName { .. } => "defined again here".into(),
            Problem::UnknownTarget { .. } => "no cell or flow has this name".into(),
            Problem::AmbiguousTarget { .. } => "ambiguous".into(),
            Problem::UnknownIntent { .. } => "no intent has this name".into(),
            Problem::UnknownEntity { .. } => "no entity has this name".into(),
            Problem::ScriptSyntax { message } | Problem::InvalidRegex { message } => {
                message.clone()
            }
            Problem::RegexTooBig { limit } => {
                format!("compiles to more than {}", crate::pattern::size(*limit))
            }
            Problem::InvalidTemplate { reason } | Problem::InvalidUrl { reason } => reason.clone(),
            Problem::InvalidEnvVar { .. } => "not a `${NAME}` reference".into(),
            Problem::InvalidEvent { reserved: true, .. } => "an automatic event".into(),
            Problem::InvalidEvent { .. } => "not an event name".into(),
            Problem::InvalidDuration { problem, .. } => match problem {
                crate::kinds::DurationError::Malformed => "not a duration",
                crate::kinds::DurationError::Zero => "it would time out at once",
                crate::kinds::DurationError::TooLong => "too long",
            }
            .into(),
            Problem::InvalidInput { problem } => problem.to_string(),
            Problem::UnknownLanguage { known: true, .. } => "not in `bot.languages`".into(),
            Problem::UnknownLanguage { .. } => "not a language".into(),
            Problem::MissingTranslation { language, .. } => format!("no `{language}` here"),
            Problem::InvalidAnswer { problem } => match problem {
                AnswerProblem::MixedContent { second, .. } => {
                    format!("`{second}` is a second kind")
                }
                AnswerProblem::TooLong { .. } => "too long".into(),
                AnswerProblem::BadCoordinate { .. } => "not a coordinate".into(),
                AnswerProblem::ScopeWithoutQuickReplies => "nothing to keep".into(),
                AnswerProblem::UnclosedSsml => "SSML left open".into(),
            },
            Problem::WaitlessLoop { .. } => "the loop starts here".into(),
            Problem::UnreachableCell => "no path leads here".into(),
            Problem::MaybeUnset {
                never_assigned: true,
                ..
            } => "never assigned anywhere".into(),
            Problem::MaybeUnset { .. } => "read here".into(),
            Problem::MisspeltVariable { suggestion, .. } => format!("a typo of `{suggestion}`?"),
            Problem::DuplicateExample { .. } => "also an example here".into(),
            Problem::FewExamples { .. } => "too few to learn from".into(),
            Problem::UnusedIntent { .. } | Problem::UnusedEntity { .. } => "defined here".into(),
            Problem::NoFallback => "no flow here has `on: fallback`".into(),
            Problem::SecretInAnswer { hidden: false, .. } => "a masked value, sent in clear".into(),
            Problem::SecretInAnswer { hidden: true, .. } => "a hidden value, sent in clear".into(),
            Problem::UnknownVariable { .. } => "no such variable".into(),
            Problem::UnknownMock { .. } => "no service cell has this id".into(),
        }
    }

    /// One line telling the author how to fix it.
    #[must_use]
    pub fn help(&self) -> String {
        let did_you_mean = |s: &Option<String>, otherwise: &str| match s {
            Some(s) => format!("did you mean `{s}`?"),
            None => otherwise.to_owned(),
        };
        match self {
            Problem::YamlSyntax { .. } => "fix the YAML syntax; check indentation and quoting".into(),
            Problem::FileTooLarge { limit, .. } => format!("split the bot into files of at most {limit} bytes"),
            Problem::NotUtf8 => "save the file as UTF-8".into(),
            Problem::DslSyntax(error) => match (&error.suggestion, &error.hint) {
                (Some(s), _) => format!("did you mean `{s}`?"),
                (None, Some(hint)) => hint.clone(),
                (None, None) => "see docs/LANGUAGE.md for the DSL syntax".into(),
            },
            Problem::InvalidEscape { problem, escape } => match problem {
                EscapeProblem::NotAChar => {
                    "`\\u{...}` takes 1 to 6 hex digits up to 10FFFF, outside the surrogates D800-DFFF".into()
                }
                EscapeProblem::Unknown { raw } => {
                    let single = raw.as_ref().map_or_else(
                        || "single quotes".to_owned(),
                        |raw| format!("single quotes, {raw},"),
                    );
                    format!(
                        "only \\\" \\\\ \\/ \\n \\t \\r and \\u{{...}} are escapes in double quotes: write the string in {single} which keep every character as written, or double the backslash: \\{escape}"
                    )
                }
                EscapeProblem::Malformed => "write the character's code point in braces: `\\u{E9}` (1 to 6 hex digits)".into(),
            },
            Problem::Unclosed { what, gave_up } => match what {
                Unclosed::Brace { .. } => format!("add the `}}` it needs before {gave_up}"),
                Unclosed::Bracket => format!("add the `]` it needs before {gave_up}"),
                Unclosed::String { runs_to: None } => "close it with the same quote it opens with".into(),
                Unclosed::String { .. } => {
                    "a string may span lines, so it ends only at the next quote: close it on its own line if it should end there".into()
                }
                Unclosed::Block => format!(
                    "add the `}}` it needs before {gave_up}; a string or `/*` comment left open in it runs to the end of the file"
                ),
            },
            Problem::UnknownCellKind { suggestion, .. } => did_you_mean(
                suggestion,
                "a cell is one of: answer, input, rule, code, jump, intent, service, track, handoff, end",
            ),
            Problem::MultipleKinds { .. } => "split it into two cells, one per kind".into(),
            Problem::MissingKind => {
                "add one of: answer, input, rule, code, jump, intent, service, track, handoff, end".into()
            }
            Problem::UnknownField { suggestion, context, .. } => {
                did_you_mean(suggestion, &format!("remove it; see docs/LANGUAGE.md for the fields of {context}"))
            }
            Problem::MissingField { field, .. } => format!("add `{field}:`"),
            Problem::DuplicateField { .. } => "keep only one of them".into(),
            Problem::InvalidValue { field, expected } => format!("give `{field}` {expected}"),
            Problem::InvalidName { .. } => {
                "names start with a letter or `_` and hold letters, digits, `_` and `-`".into()
            }
            Problem::DuplicateName { kind, .. } => format!("rename one of the two, or merge them: each {kind} name must be unique"),
            Problem::UnknownTarget { suggestion, .. } => {
                did_you_mean(suggestion, "a target is a cell id of this flow, a flow name, or FLOW.CELL")
            }
            Problem::AmbiguousTarget { name, flow } => {
                format!("write `{flow}.{name}` for the cell or rename one of them; `{name}.<cell>` reaches into the flow")
            }
            Problem::UnknownIntent { suggestion, .. } => did_you_mean(suggestion, "define it under `intents:`"),
            Problem::UnknownEntity { suggestion, .. } => did_you_mean(suggestion, "define it under `entities:`"),
            Problem::ScriptSyntax { .. } => "scripts and conditions are rhai; see https://rhai.rs/book/".into(),
            Problem::InvalidRegex { .. } => "patterns use Rust regex syntax; escape special characters with `\\`".into(),
            Problem::RegexTooBig { .. } => {
                "a counted repetition copies what it repeats (`\\w{1000}` is 1000 Unicode classes): use a smaller count or `+`, or `[a-zA-Z0-9_]` for `\\w`".into()
            }
            Problem::InvalidTemplate { .. } => {
                "a template is `{{name}}`, `{{a.b}}` or `{{name | \"default\"}}`".into()
            }
            Problem::InvalidInput { problem } => match problem {
                InputProblem::UnknownType { suggestion, .. } => did_you_mean(
                    suggestion,
                    "types: text, number, integer, boolean, email, phone, date, options, pattern, location, file, image",
                ),
                InputProblem::NoOptions => "add `options: [...]` or `entity: NAME`".into(),
                InputProblem::OptionsAndEntity => "remove one of them".into(),
                InputProblem::NoPattern => "add `pattern: '...'`".into(),
                InputProblem::MinAboveMax => "swap `min` and `max`".into(),
                InputProblem::FieldNotForType { .. } => "remove the field or change `type`".into(),
                InputProblem::EmptyOption => "remove the empty option".into(),
                InputProblem::BadMediaType { .. } => {
                    "write media types as `type/subtype` (`application/pdf`) or `type/*` (`image/*`)".into()
                }
                InputProblem::NotAnImageType { .. } => {
                    "list image types (`image/png`, `image/*`), or make it a `file` input".into()
                }
                InputProblem::MaxSizeZero => "give the largest size in bytes (5000000 is 5 MB)".into(),
                InputProblem::BadLimit { dates: true, .. } => {
                    "a date bound is `today`, `today+30` or `today-7` (days), or a date `2026-12-31`".into()
                }
                InputProblem::BadLimit { .. } => {
                    "`min` and `max` are numbers here; dates bound `date` and `datetime` inputs".into()
                }
            },
            Problem::UnknownLanguage { suggestion, known: true, .. } => did_you_mean(
                suggestion,
                "add it to `bot.languages`, or remove this text",
            ),
            Problem::UnknownLanguage { suggestion, .. } => did_you_mean(
                suggestion,
                "a language is an ISO 639 code (`es`, `pt`, `en`), with a region if it matters (`pt-BR`)",
            ),
            Problem::MissingTranslation { language, .. } => format!(
                "give it a `{language}` text beside the others; until then `{language}` reads the default language's"
            ),
            Problem::InvalidAnswer { problem } => match problem {
                AnswerProblem::MixedContent { .. } => {
                    "put each in an answer of its own: cards, media, location, link and custom are each an answer type".into()
                }
                AnswerProblem::TooLong { limit_ms, .. } => {
                    format!("give it in milliseconds, at most {limit_ms} (a minute)")
                }
                AnswerProblem::BadCoordinate { .. } => {
                    "write decimal degrees (`-33.4372`), or a template (`\"{{branch.lat}}\"`)".into()
                }
                AnswerProblem::ScopeWithoutQuickReplies => {
                    "add `quick_replies`, or remove `quick_replies_scope`".into()
                }
                AnswerProblem::UnclosedSsml => "end the voice text with `</speak>`".into(),
            },
            Problem::InvalidUrl { .. } => "a URL is http(s)://host/path, with `{{templates}}` allowed in the path and query".into(),
            Problem::InvalidEvent { reserved: true, .. } => format!(
                "with analytics on, cellflow sends {} itself: give this event another name",
                crate::kinds::AUTOMATIC_EVENTS.join(", ")
            ),
            Problem::InvalidEnvVar { .. } => {
                "write `${NAME}` (`${API_TOKEN}`): the variable is read from the environment the bot runs in".into()
            }
            Problem::InvalidDuration { .. } => {
                "write `90s`, `5m` or `1h`, or a number of seconds (`300`), from 1 second to 30 days (`720h`)".into()
            }
            Problem::InvalidEvent { .. } => format!(
                "an event name starts with a letter and holds letters, digits, `_`, `-` and `.`, at most {} of them (`checkout_started`)",
                crate::kinds::MAX_EVENT_NAME
            ),
            Problem::WaitlessLoop { .. } => {
                "add an `input` or `intent` cell on the loop, or a `rule` that leaves it".into()
            }
            Problem::UnreachableCell => "remove it, or give it an `id` and point a target at it".into(),
            Problem::MaybeUnset { suggestion: Some(suggestion), never_assigned: true, name } => {
                format!("did you mean `{suggestion}`? Otherwise assign `{name}` in an input or code cell, or declare it in `bot.context`")
            }
            Problem::MaybeUnset { name, never_assigned: true, .. } => {
                format!("assign `{name}` in an input or code cell, declare it in `bot.context`, or use `{{{{{name} | \"default\"}}}}`")
            }
            Problem::MaybeUnset { name, .. } => {
                format!("assign `{name}` on every path before this, or give the template a default: `{{{{{name} | \"...\"}}}}`")
            }
            Problem::MisspeltVariable { name, suggestion } => format!(
                "write `{suggestion}`; or, if the host sets `{name}`, list it in `bot.context`"
            ),
            Problem::DuplicateExample { .. } => "keep the example in one intent, or the classifier cannot tell them apart".into(),
            Problem::FewExamples { language: None, .. } => format!(
                "give it at least {} different ways people say it (10 or more is better; see docs/NLU.md), or a pattern",
                crate::classifier::MIN_EXAMPLES
            ),
            Problem::FewExamples { language: Some(language), .. } => format!(
                "each language learns from its own examples and the shared ones: give `{language}` at least {} different ways people say it (10 or more is better; see docs/NLU.md)",
                crate::classifier::MIN_EXAMPLES
            ),
            Problem::UnusedIntent { .. } => "trigger a flow with `on: {intent: ...}`, route it in an `intent` cell, or remove it".into(),
            Problem::UnusedEntity { .. } => "use it in an input, a trigger or a template, or remove it".into(),
            Problem::NoFallback => "add a flow with `on: fallback` to answer messages the bot does not understand".into(),
            Problem::SecretInAnswer { hidden: false, .. } => "answers reach the user's channel as written (history and logs keep them masked): leave the value out unless the user must see it".into(),
            Problem::SecretInAnswer { hidden: true, .. } => "hidden variables stay out of what the channel sees, but answers reach it as written: leave the value out, or remove it from `bot.hidden`".into(),
            Problem::UnknownVariable { suggestion, list, .. } => did_you_mean(suggestion, &format!("a name in `bot.{list}` protects nothing unless an input, a code cell or a service assigns it, or `bot.context` lists it")),
            Problem::UnknownMock { suggestion, .. } => did_you_mean(suggestion, "mocks answer service cells by their `id`"),
        }
    }
}

/// A secondary span with its own label ("first defined here").
#[derive(Clone, Debug, PartialEq)]
pub struct Related {
    pub span: Span,
    pub label: String,
}

/// A problem at a place in the sources.
#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    pub problem: Problem,
    pub span: Span,
    pub related: Vec<Related>,
}

impl Diagnostic {
    #[must_use]
    pub fn new(problem: Problem, span: Span) -> Self {
        Diagnostic {
            problem,
            span,
            related: Vec::new(),
        }
    }

    #[must_use]
    pub fn with_related(mut self, span: Span, label: impl Into<String>) -> Self {
        self.related.push(Related {
            span,
            label: label.into(),
        });
        self
    }

    #[must_use]
    pub fn severity(&self) -> Severity {
        self.problem.severity()
    }

    #[must_use]
    pub fn is_error(&self) -> bool {
        self.severity() == Severity::Error
    }
}

/// Orders diagnostics by file and position, as users read them.
pub fn sort(diagnostics: &mut [Diagnostic], sources: &SourceMap) {
    diagnostics.sort_by(|a, b| {
        let key = |d: &Diagnostic| match d.span {
            Span::Source { file, start, .. } => (0, sources.get(file).name().to_owned(), start),
            Span::Synthetic => (1, String::new(), 0),
        };
        key(a)
            .cmp(&key(b))
            .then_with(|| a.problem.code().cmp(b.problem.code()))
    });
}

/// A 1-based line and column.
pub type LineCol = (usize, usize);

/// A diagnostic joined with its sources, ready for miette to draw.
pub struct Rendered<'a> {
    diagnostic: &'a Diagnostic,
    sources: &'a SourceMap,
    /// The main span's file, unless its snippet cannot be drawn.
    source: Option<FileSource<'a>>,
    related: Vec<RelatedRendered<'a>>,
}

/// A secondary span in another file, drawn as a related note.
#[derive(Debug)]
struct RelatedRendered<'a> {
    label: String,
    span: miette::SourceSpan,
    source: Option<FileSource<'a>>,
}

impl fmt::Display for RelatedRendered<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label)
    }
}
impl std::error::Error for RelatedRendered<'_> {}
impl miette::Diagnostic for RelatedRendered<'_> {
    fn severity(&self) -> Option<miette::Severity> {
        Some(miette::Severity::Advice)
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source.as_ref().map(|s| s as &dyn miette::SourceCode)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        self.source.as_ref()?;
        Some(Box::new(std::iter::once(
            miette::LabeledSpan::new_with_span(Some(self.label.clone()), self.span),
        )))
    }
}

/// The widest column (in bytes from the start of its line) at which a label
/// may start or end under a source snippet. miette pads to a label's column
/// with a format width, which cannot exceed 65,535 (tabs count four); past
/// this bound the diagnostic is drawn without its snippet, and its location
/// is printed as `file:line:column` instead.
pub const MAX_SNIPPET_COLUMN: usize = 4096;

/// One file as miette reads it. miette finds a span's lines by scanning the
/// text from its start, so drawing many diagnostics of one big file would be
/// quadratic; this hands it only the lines around the span, found with the
/// file's line index, and shifts the line numbers back.
#[derive(Debug)]
struct FileSource<'a> {
    file: &'a SourceFile,
}

impl<'a> FileSource<'a> {
    /// The file of `span`, if every one of `spans` in it can be drawn.
    fn of(sources: &'a SourceMap, span: Span, spans: &[Span]) -> Option<Self> {
        let file = sources.get(span.file()?);
        // Bytes bound characters from above, so counting bytes is safe.
        let column_ok = |at: usize| {
            let at = at.min(file.text().len());
            at - file.lines_range(file.line_of(at), file.line_of(at)).start <= MAX_SNIPPET_COLUMN
        };
        let drawable = |s: &Span| {
            s.range()
                .is_none_or(|r| column_ok(r.start) && column_ok(r.end))
        };
        spans
            .iter()
            .filter(|s| s.file() == span.file())
            .all(drawable)
            .then_some(FileSource { file })
    }
}

impl miette::SourceCode for FileSource<'_> {
    fn read_span<'b>(
        &'b self,
        span: &miette::SourceSpan,
        before: usize,
        after: usize,
    ) -> Result<Box<dyn miette::SpanContents<'b> + 'b>, miette::MietteError> {
        let text = self.file.text();
        if span.offset() > text.len() {
            return Err(miette::MietteError::OutOfBounds);
        }
        let end = (span.offset() + span.len()).min(text.len());
        // One line more on each side than asked for, so miette's scan of the
        // window stops exactly where its scan of the whole file would.
        let first = self.file.line_of(span.offset()).saturating_sub(before + 1);
        let last = self.file.line_of(end).saturating_add(after + 1);
        let window = self.file.lines_range(first, last);
        let shifted = miette::SourceSpan::new((span.offset() - window.start).into(), span.len());
        let inner = miette::SourceCode::read_span(&text[window.clone()], &shifted, before, after)?;
        let lines_before = self.file.line_of(window.start);
        Ok(Box::new(
            miette::MietteSpanContents::new_named(
                self.file.name().to_owned(),
                inner.data(),
                miette::SourceSpan::new(
                    (inner.span().offset() + window.start).into(),
                    inner.span().len(),
                ),
                inner.line() + lines_before,
                inner.column(),
                inner.line_count() + lines_before,
            )
            .with_language("yaml"),
        ))
    }
}

fn source_span(span: Span) -> miette::SourceSpan {
    let range = span.range().unwrap_or(0..0);
    (range.start, range.end - range.start).into()
}

impl<'a> Rendered<'a> {
    #[must_use]
    pub fn new(diagnostic: &'a Diagnostic, sources: &'a SourceMap) -> Self {
        let spans: Vec<Span> = std::iter::once(diagnostic.span)
            .chain(diagnostic.related.iter().map(|r| r.span))
            .collect();
        let source = FileSource::of(sources, diagnostic.span, &spans);
        let related = diagnostic
            .related
            .iter()
            .filter(|r| r.span.file().is_some() && r.span.file() != diagnostic.span.file())
            .map(|r| RelatedRendered {
                label: r.label.clone(),
                span: source_span(r.span),
                source: FileSource::of(sources, r.span, &[r.span]),
            })
            .collect();
        Rendered {
            diagnostic,
            sources,
            source,
            related,
        }
    }

    /// The file name and the 1-based (line, column) where the main span
    /// starts and ends, if it points into a file.
    #[must_use]
    pub fn location(&self) -> Option<(&'a str, LineCol, LineCol)> {
        let file = self.sources.get(self.diagnostic.span.file()?);
        let range = self.diagnostic.span.range()?;
        Some((
            file.name(),
            file.line_col(range.start),
            file.line_col(range.end),
        ))
    }
}

impl fmt::Debug for Rendered<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.diagnostic, f)
    }
}

impl fmt::Display for Rendered<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.diagnostic.problem, f)
    }
}

impl std::error::Error for Rendered<'_> {}

impl miette::Diagnostic for Rendered<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        Some(Box::new(self.diagnostic.problem.code()))
    }
    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.diagnostic.severity() {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }
    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        Some(Box::new(self.diagnostic.problem.help()))
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source.as_ref().map(|s| s as &dyn miette::SourceCode)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        self.source.as_ref()?;
        let main = miette::LabeledSpan::new_primary_with_span(
            Some(self.diagnostic.problem.label()),
            source_span(self.diagnostic.span),
        );
        let same_file = self
            .diagnostic
            .related
            .iter()
            .filter(|r| r.span.file() == self.diagnostic.span.file())
            .map(|r| {
                miette::LabeledSpan::new_with_span(Some(r.label.clone()), source_span(r.span))
            });
        Some(Box::new(std::iter::once(main).chain(same_file)))
    }
    fn related<'b>(&'b self) -> Option<Box<dyn Iterator<Item = &'b dyn miette::Diagnostic> + 'b>> {
        if self.related.is_empty() {
            return None;
        }
        Some(Box::new(
            self.related.iter().map(|r| r as &dyn miette::Diagnostic),
        ))
    }
}

/// Renders a diagnostic as text with miette's graphical handler: a labelled
/// source snippet, the code and the help line. `colour` adds ANSI colours.
#[must_use]
pub fn render(diagnostic: &Diagnostic, sources: &SourceMap, colour: bool, width: usize) -> String {
    let theme = if colour {
        miette::GraphicalTheme::unicode()
    } else {
        miette::GraphicalTheme::unicode_nocolor()
    };
    let handler = miette::GraphicalReportHandler::new_themed(theme)
        .with_width(width)
        .with_links(false);
    let rendered = Rendered::new(diagnostic, sources);
    let mut out = String::new();
    if handler.render_report(&mut out, &rendered).is_err() {
        out = format!("{}: {}", diagnostic.problem.code(), diagnostic.problem);
    }
    // Too wide to draw: say where, and what the label would have said.
    if rendered.source.is_none()
        && let Some((file, (line, column), _)) = rendered.location()
    {
        let _ = write!(
            out,
            "\n  at {file}:{line}:{column}: {}",
            diagnostic.problem.label()
        );
    }
    out
}

/// Every diagnostic code, in the order of `docs/DIAGNOSTICS.md`.
pub const CODES: [&str; 43] = [
    "cellflow::syntax::yaml",
    "cellflow::syntax::too_large",
    "cellflow::syntax::encoding",
    "cellflow::syntax::dsl",
    "cellflow::syntax::unclosed",
    "cellflow::syntax::invalid_escape",
    "cellflow::syntax::unknown_cell_kind",
    "cellflow::syntax::multiple_kinds",
    "cellflow::syntax::missing_kind",
    "cellflow::syntax::unknown_field",
    "cellflow::syntax::missing_field",
    "cellflow::syntax::duplicate_field",
    "cellflow::syntax::invalid_value",
    "cellflow::syntax::invalid_name",
    "cellflow::check::duplicate_name",
    "cellflow::check::unknown_target",
    "cellflow::check::ambiguous_target",
    "cellflow::check::unknown_intent",
    "cellflow::check::unknown_entity",
    "cellflow::check::script_syntax",
    "cellflow::check::invalid_regex",
    "cellflow::check::regex_too_big",
    "cellflow::check::invalid_template",
    "cellflow::check::invalid_input",
    "cellflow::check::invalid_answer",
    "cellflow::check::unknown_language",
    "cellflow::check::missing_translation",
    "cellflow::check::invalid_url",
    "cellflow::check::invalid_env_var",
    "cellflow::check::invalid_event",
    "cellflow::check::invalid_duration",
    "cellflow::check::waitless_loop",
    "cellflow::check::unreachable_cell",
    "cellflow::check::maybe_unset",
    "cellflow::check::misspelt_variable",
    "cellflow::check::duplicate_example",
    "cellflow::check::few_examples",
    "cellflow::check::unused_intent",
    "cellflow::check::unused_entity",
    "cellflow::check::no_fallback",
    "cellflow::check::secret_in_answer",
    "cellflow::check::unknown_variable",
    "cellflow::test::unknown_mock",
];

/// The name among `candidates` closest to `name`, if one is close enough to
/// be a likely typo.
pub fn suggest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let mut best: Option<(f64, &str)> = None;
    for candidate in candidates {
        if candidate == name {
            continue;
        }
        let score = strsim::jaro_winkler(&name.to_lowercase(), &candidate.to_lowercase());
        if score >= 0.8 && best.is_none_or(|(s, _)| score > s) {
            best = Some((score, candidate));
        }
    }
    best.map(|(_, c)| c.to_owned())
}

#[cfg(test)]
#[allow(clippy::format_collect)]
mod tests {
    use super::*;

    #[test]
    fn a_snippet_reads_only_the_lines_around_its_span() {
        let mut sources = SourceMap::new();
        let text: String = (0..100_000).map(|i| format!("line {i}\n")).collect();
        let offset = text.find("line 99990").unwrap();
        let id = sources.add("big", "big", text);
        let source = FileSource {
            file: sources.get(id),
        };
        let contents = miette::SourceCode::read_span(&source, &(offset, 4).into(), 1, 1).unwrap();
        // Only the span's line and one on each side, with the right numbers.
        assert_eq!(
            std::str::from_utf8(contents.data()).unwrap(),
            "line 99989\nline 99990\nline 99991\n"
        );
        assert_eq!(contents.name(), Some("big"));
        // And miette reading the whole file finds the same lines and numbers.
        let whole =
            miette::SourceCode::read_span(sources.get(id).text(), &(offset, 4).into(), 1, 1)
                .unwrap();
        assert_eq!(contents.data(), whole.data());
        assert_eq!(contents.span(), whole.span());
        assert_eq!(
            (contents.line(), contents.column(), contents.line_count()),
            (whole.line(), whole.column(), whole.line_count())
        );
    }
}
