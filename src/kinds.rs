//! The closed sets of names that flow files and the compiled program
//! share: answer picks, media kinds, quick-reply scopes, input types, HTTP
//! methods, the analytics events cellflow sends itself, and how durations
//! are written. They sit below both the syntax tree and the program, so
//! the runtime reads them without reaching into the AST.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Pick {
    Random,
    Sequence,
    First,
}

impl Pick {
    pub const ALL: [(&'static str, Pick); 3] = [
        ("random", Pick::Random),
        ("sequence", Pick::Sequence),
        ("first", Pick::First),
    ];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Pick::Random => "random",
            Pick::Sequence => "sequence",
            Pick::First => "first",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MediaKind {
    Image,
    Audio,
    Video,
    File,
    Document,
    Sticker,
}

impl MediaKind {
    pub const ALL: [(&'static str, MediaKind); 6] = [
        ("image", MediaKind::Image),
        ("audio", MediaKind::Audio),
        ("video", MediaKind::Video),
        ("file", MediaKind::File),
        ("document", MediaKind::Document),
        ("sticker", MediaKind::Sticker),
    ];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            MediaKind::Image => "image",
            MediaKind::Audio => "audio",
            MediaKind::Video => "video",
            MediaKind::File => "file",
            MediaKind::Document => "document",
            MediaKind::Sticker => "sticker",
        }
    }
}

/// How long an answer's quick replies stay offered: until the user's next
/// message (`once`, the default), or until another answer replaces them
/// (`kept`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReplyScope {
    #[default]
    Once,
    Kept,
}

impl ReplyScope {
    pub const ALL: [(&'static str, ReplyScope); 2] =
        [("once", ReplyScope::Once), ("kept", ReplyScope::Kept)];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ReplyScope::Once => "once",
            ReplyScope::Kept => "kept",
        }
    }
}

/// The input types an `input` cell accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InputType {
    Text,
    Number,
    Integer,
    Boolean,
    Email,
    Phone,
    Date,
    Options,
    Pattern,
    Location,
    File,
    Image,
    Time,
    Datetime,
}

impl InputType {
    pub const ALL: [(&'static str, InputType); 14] = [
        ("text", InputType::Text),
        ("number", InputType::Number),
        ("integer", InputType::Integer),
        ("boolean", InputType::Boolean),
        ("email", InputType::Email),
        ("phone", InputType::Phone),
        ("date", InputType::Date),
        ("options", InputType::Options),
        ("pattern", InputType::Pattern),
        ("location", InputType::Location),
        ("file", InputType::File),
        ("image", InputType::Image),
        ("time", InputType::Time),
        ("datetime", InputType::Datetime),
    ];

    #[must_use]
    pub fn parse(name: &str) -> Option<InputType> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
    }

    #[must_use]
    pub fn as_str(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, t)| *t == self)
            .map_or("text", |(n, _)| n)
    }

    /// Whether `min` and `max` are dates (`today`, `today+30`, `2026-12-31`).
    #[must_use]
    pub fn takes_dates(self) -> bool {
        matches!(self, InputType::Date | InputType::Datetime)
    }

    /// Whether the value comes as an upload (`file`, `image`).
    #[must_use]
    pub fn is_upload(self) -> bool {
        matches!(self, InputType::File | InputType::Image)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    pub const ALL: [(&'static str, Method); 5] = [
        ("GET", Method::Get),
        ("POST", Method::Post),
        ("PUT", Method::Put),
        ("PATCH", Method::Patch),
        ("DELETE", Method::Delete),
    ];

    #[must_use]
    pub fn parse(s: &str) -> Option<Method> {
        Self::ALL
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(s))
            .map(|(_, m)| *m)
    }

    #[must_use]
    pub fn as_str(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, m)| *m == self)
            .map_or("GET", |(n, _)| n)
    }
}

/// The longest `typing` or `delay` an answer may ask for, in milliseconds.
pub const MAX_PAUSE_MS: u64 = 60_000;

/// Whether `text` is a media type as `types:` lists them: `type/subtype`
/// or `type/*`, each part a token of letters, digits and `!#$&-^_.+`.
#[must_use]
pub fn is_media_type(text: &str) -> bool {
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    match text.split_once('/') {
        Some((kind, "*")) => token(kind),
        Some((kind, sub)) => token(kind) && token(sub),
        None => false,
    }
}

/// What an answer carries, so that a channel adapter can switch on it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnswerType {
    /// Text, with any buttons and quick replies.
    #[default]
    Text,
    /// A carousel of cards.
    Cards,
    /// An image, audio, video, file, document or sticker.
    Media,
    /// A pin on a map.
    Location,
    /// A web link with its preview.
    Link,
    /// JSON the channel understands.
    Custom,
    /// "Typing…" for `duration_ms`.
    Typing,
    /// A pause of `duration_ms`.
    Delay,
}

/// The analytics events the runtime sends on its own (with analytics on):
/// a `track` cell may not take their names, or a report could not tell
/// the author's events from them.
pub const AUTOMATIC_EVENTS: [&str; 8] = [
    "flow_started",
    "flow_completed",
    "intent_matched",
    "fallback",
    "handoff",
    "input_failed",
    "script_error",
    "conversation_ended",
];

/// The longest event name a `track` cell may have, in bytes.
pub const MAX_EVENT_NAME: usize = 64;

/// Whether `name` can name an analytics event: a letter, then letters,
/// digits, `_`, `-` and `.`, at most [`MAX_EVENT_NAME`] bytes
/// (`checkout_started`, `checkout.step-2`). Names like these survive every
/// analytics store and a column header unchanged.
#[must_use]
pub fn is_event_name(name: &str) -> bool {
    name.len() <= MAX_EVENT_NAME
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
}

/// The longest inactivity timeout, in seconds (30 days): longer ones are
/// almost surely a slip of the unit.
pub const MAX_DURATION_SECS: u64 = 30 * 24 * 3600;

/// Why a duration does not read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DurationError {
    /// Not a number with an optional unit.
    Malformed,
    /// Zero: it would fire at once.
    Zero,
    /// More than [`MAX_DURATION_SECS`].
    TooLong,
}

/// Reads a duration as written in a flow file: `90s`, `5m`, `1h`, or a
/// number of seconds (`300`), into seconds.
///
/// # Errors
/// Anything else; zero; more than [`MAX_DURATION_SECS`].
pub fn parse_duration(text: &str) -> Result<u64, DurationError> {
    let text = text.trim();
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let (number, unit) = text.split_at(digits);
    let scale = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        _ => return Err(DurationError::Malformed),
    };
    // Too many digits for a u64 is too long, not malformed.
    let seconds = match number.parse::<u64>() {
        Ok(n) => n.saturating_mul(scale),
        Err(_) if digits > 0 => u64::MAX,
        Err(_) => return Err(DurationError::Malformed),
    };
    match seconds {
        0 => Err(DurationError::Zero),
        s if s > MAX_DURATION_SECS => Err(DurationError::TooLong),
        s => Ok(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_in_seconds_minutes_and_hours() {
        assert_eq!(parse_duration("90s"), Ok(90));
        assert_eq!(parse_duration("5m"), Ok(300));
        assert_eq!(parse_duration("1h"), Ok(3600));
        assert_eq!(parse_duration("300"), Ok(300));
        for bad in ["", "m", "5 m", "5min", "1.5h", "-5m", "1h30m", "5M", "five"] {
            assert_eq!(parse_duration(bad), Err(DurationError::Malformed), "{bad}");
        }
        assert_eq!(parse_duration("0m"), Err(DurationError::Zero));
        assert_eq!(parse_duration("721h"), Err(DurationError::TooLong));
        assert_eq!(
            parse_duration("99999999999999999999999h"),
            Err(DurationError::TooLong)
        );
    }

    #[test]
    fn event_names_are_words_of_a_few_safe_characters() {
        for good in ["checkout_started", "a", "step-2", "checkout.step2"] {
            assert!(is_event_name(good), "{good}");
        }
        for bad in ["", "2fast", "_x", "with space", "ñandú", &"x".repeat(65)] {
            assert!(!is_event_name(bad), "{bad}");
        }
    }
}
