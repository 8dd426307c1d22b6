//! Reading a typed value out of what the user wrote, per the input's type
//! and the bot's locale: numbers with the locale's decimal separator, yes/no
//! words in English, Spanish and Portuguese, dates and times as people write
//! them (`crate::when`), options by text, number or near match.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

use crate::compile::{Entity, Input, Program};
use crate::kinds::InputType;

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
        .expect("valid regex")
});
static NUMBER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[-+]?\d[\d.,]*").expect("valid regex"));

/// The language part of a locale (`es-CL` → `es`).
fn language(locale: &str) -> &str {
    locale.split(['-', '_']).next().unwrap_or("en")
}

/// Whether the locale writes `1.234,5` (decimal comma).
pub(crate) fn decimal_comma(locale: &str) -> bool {
    matches!(language(locale), "es" | "pt" | "de" | "fr" | "it" | "nl")
}

/// The first number in the text, per the locale's separators.
pub(crate) fn number(text: &str, locale: &str) -> Option<Value> {
    let token = NUMBER.find(text)?.as_str().trim_end_matches(['.', ',']);
    let (thousands, decimal) = if decimal_comma(locale) {
        ('.', ',')
    } else {
        (',', '.')
    };
    let mut cleaned: String = token.chars().filter(|c| *c != thousands).collect();
    cleaned = cleaned.replace(decimal, ".");
    let parsed = cleaned.parse::<f64>().ok().filter(|n| n.is_finite())?;
    Some(json_number(parsed))
}

/// A JSON number: an integer when the value is whole.
fn json_number(n: f64) -> Value {
    #[allow(clippy::cast_possible_truncation)]
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        Value::from(n as i64)
    } else {
        serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number)
    }
}

pub(crate) fn find_email(text: &str) -> Option<String> {
    EMAIL.find(text).map(|m| m.as_str().to_owned())
}

/// Yes/no words of English, Spanish and Portuguese, whatever the locale:
/// a bilingual user's "ok" or "sí" should not be rejected.
fn boolean(text: &str) -> Option<bool> {
    const YES: [&str; 14] = [
        "yes", "y", "yeah", "yep", "sure", "ok", "okay", "true", "si", "claro", "dale", "sim",
        "isso", "correcto",
    ];
    const NO: [&str; 9] = [
        "no", "n", "nope", "false", "nao", "nunca", "negativo", "not", "nah",
    ];
    let normalized = crate::text::normalize(text);
    let first = normalized.split(' ').next().unwrap_or("");
    if YES.contains(&normalized.as_str()) || YES.contains(&first) {
        Some(true)
    } else if NO.contains(&normalized.as_str()) || NO.contains(&first) {
        Some(false)
    } else {
        None
    }
}

/// A date, a time or both, as the conversation's locale and time zone read
/// them, within the input's bounds.
fn when(input: &Input, text: &str, locale: &str, now: &jiff::ZonedDateTime) -> Option<Value> {
    let ctx = crate::when::Context {
        today: now.date(),
        day_first: locale != "en-US",
    };
    let within = |day: jiff::civil::Date| {
        input
            .after
            .and_then(|b| b.on(ctx.today))
            .is_none_or(|first| day >= first)
            && input
                .before
                .and_then(|b| b.on(ctx.today))
                .is_none_or(|last| day <= last)
    };
    let written = match input.ty {
        InputType::Date => {
            let day = crate::when::date(text, ctx).filter(|d| within(*d))?;
            day.to_string()
        }
        InputType::Time => crate::when::time(text)?.strftime("%H:%M").to_string(),
        _ => {
            let (day, time) = crate::when::date_time(text, ctx).filter(|(d, _)| within(*d))?;
            let zoned = jiff::civil::DateTime::from_parts(day, time)
                .to_zoned_datetime(now.time_zone().clone())
                .ok()?;
            zoned.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
        }
    };
    Some(Value::String(written))
}

fn phone(text: &str) -> Option<Value> {
    let trimmed = text.trim();
    if !trimmed
        .chars()
        .all(|c| c.is_ascii_digit() || " +-().".contains(c))
    {
        return None;
    }
    let digits: String = trimmed.chars().filter(char::is_ascii_digit).collect();
    let plus = if trimmed.starts_with('+') { "+" } else { "" };
    (7..=15)
        .contains(&digits.len())
        .then(|| Value::String(format!("{plus}{digits}")))
}

fn choose(program: &Program, input: &Input, text: &str, language: usize) -> Option<Value> {
    let normalized = crate::text::normalize(text);
    if let Some(entity) = input.entity.map(|e| program.entity(e)) {
        if let Entity::List { values, .. } = entity {
            for value in values {
                if value.synonyms_in(language).any(|s| s == normalized) {
                    return Some(Value::String(value.canonical.clone()));
                }
            }
            let padded = format!(" {normalized} ");
            let found = super::nlu::entities(program, text, &padded, language);
            return found.get(entity.name()).cloned();
        }
        return None;
    }
    if let Some(choice) = input
        .choices
        .iter()
        .find(|c| c.normalized.contains(&normalized))
    {
        return Some(Value::String(choice.value.to_string()));
    }
    if let Ok(n) = normalized.parse::<usize>()
        && let Some(choice) = n.checked_sub(1).and_then(|i| input.choices.get(i))
    {
        return Some(Value::String(choice.value.to_string()));
    }
    // A near match: the closest option within a small edit distance, if unique.
    let mut scored: Vec<(usize, &str)> = input
        .choices
        .iter()
        .map(|c| {
            let distance = c
                .normalized
                .iter()
                .map(|n| strsim::levenshtein(n, &normalized))
                .min()
                .unwrap_or(usize::MAX);
            (distance, c.value.as_str())
        })
        .collect();
    scored.sort_unstable();
    match scored.as_slice() {
        [(d, value), rest @ ..]
            if *d <= (normalized.chars().count() / 4).clamp(1, 3)
                && rest.first().is_none_or(|(d2, _)| d2 > d) =>
        {
            Some(Value::String((*value).to_owned()))
        }
        _ => None,
    }
}

/// A parsed answer: text as the user typed it (trimmed) is borrowed, so
/// storing it copies it once, into the session.
pub(crate) enum Parsed<'a> {
    Text(&'a str),
    Value(Value),
}

/// What came with the message besides its text: a shared location and an
/// uploaded file, as the host sent them.
#[derive(Clone, Copy, Default)]
pub(crate) struct Payload<'a> {
    pub location: Option<&'a Value>,
    pub file: Option<&'a Value>,
}

/// Two decimal numbers, latitude then longitude: `-33.4372, -70.6506`.
static COORDINATES: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*([-+]?\d{1,3}(?:\.\d+)?)\s*[,; ]\s*([-+]?\d{1,3}(?:\.\d+)?)\s*$")
        .expect("valid regex")
});

/// A number in a payload: a JSON number, or a string holding one.
fn payload_number(value: Option<&Value>) -> Option<f64> {
    match value? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|n: &f64| n.is_finite())
}

/// A short string field of a payload; anything else is left out.
fn payload_text<'v>(object: &'v serde_json::Map<String, Value>, key: &str) -> Option<&'v str> {
    object
        .get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty() && s.len() <= MAX_PAYLOAD_TEXT)
}

/// The longest name, address, URL or media type a payload may carry.
pub(crate) const MAX_PAYLOAD_TEXT: usize = 2048;

fn coordinates(lat: f64, lng: f64) -> Option<serde_json::Map<String, Value>> {
    if lat.abs() > 90.0 || lng.abs() > 180.0 {
        return None;
    }
    let mut out = serde_json::Map::new();
    out.insert("lat".into(), serde_json::Number::from_f64(lat)?.into());
    out.insert("lng".into(), serde_json::Number::from_f64(lng)?.into());
    Some(out)
}

/// A location: the payload a channel's location picker sends, else
/// coordinates typed as text.
fn location(text: &str, payload: Option<&Value>) -> Option<Value> {
    if let Some(payload) = payload {
        let object = payload.as_object()?;
        let lat = payload_number(object.get("lat").or_else(|| object.get("latitude")))?;
        let lng = payload_number(
            object
                .get("lng")
                .or_else(|| object.get("lon"))
                .or_else(|| object.get("longitude")),
        )?;
        let mut out = coordinates(lat, lng)?;
        for key in ["name", "address"] {
            if let Some(v) = payload_text(object, key) {
                out.insert(key.into(), Value::String(v.to_owned()));
            }
        }
        return Some(Value::Object(out));
    }
    let caps = COORDINATES.captures(text)?;
    let lat = caps[1].parse().ok()?;
    let lng = caps[2].parse().ok()?;
    coordinates(lat, lng).map(Value::Object)
}

/// Whether `media_type` (`image/png; q=1`) is one of `accepted`
/// (`image/*`, `application/pdf`); no list accepts anything.
fn accepts(accepted: &[arcstr::ArcStr], media_type: Option<&str>) -> bool {
    if accepted.is_empty() {
        return true;
    }
    let Some(media_type) = media_type else {
        return false;
    };
    let essence = media_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    accepted.iter().any(|a| {
        let a = a.to_ascii_lowercase();
        match a.strip_suffix("/*") {
            Some(kind) => essence
                .split_once('/')
                .is_some_and(|(k, sub)| k == kind && !sub.is_empty()),
            None => essence == a,
        }
    })
}

fn is_web_url(text: &str) -> bool {
    url::Url::parse(text).is_ok_and(|u| {
        matches!(u.scheme(), "http" | "https") && u.host_str().is_some_and(|h| !h.is_empty())
    })
}

/// An uploaded file: the payload, or a link typed as text when the input
/// accepts any type.
fn file(input: &Input, text: &str, payload: Option<&Value>) -> Option<Value> {
    let Some(payload) = payload else {
        let text = text.trim();
        return (input.types.is_empty() && text.len() <= MAX_PAYLOAD_TEXT && is_web_url(text))
            .then(|| serde_json::json!({ "url": text }));
    };
    let object = payload.as_object()?;
    let url = payload_text(object, "url").filter(|u| is_web_url(u))?;
    let media_type = payload_text(object, "media_type");
    if !accepts(&input.types, media_type) {
        return None;
    }
    let size = match object.get("size") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_u64()?),
    };
    if let (Some(size), Some(limit)) = (size, input.max_size)
        && size > limit
    {
        return None;
    }
    let mut out = serde_json::Map::new();
    out.insert("url".into(), Value::String(url.to_owned()));
    if let Some(name) = payload_text(object, "name") {
        out.insert("name".into(), Value::String(name.to_owned()));
    }
    if let Some(media_type) = media_type {
        out.insert("media_type".into(), Value::String(media_type.to_owned()));
    }
    if let Some(size) = size {
        out.insert("size".into(), Value::from(size));
    }
    Some(Value::Object(out))
}

/// Parses the user's message, in one of the bot's languages (a position in
/// [`Program::languages`]), for an input; `None` when it is not a valid
/// value.
pub(crate) fn parse<'a>(
    program: &Program,
    input: &Input,
    text: &'a str,
    payload: Payload<'_>,
    language: usize,
    now: impl FnOnce() -> jiff::ZonedDateTime,
) -> Option<Parsed<'a>> {
    let locale = program.locale_in(language);
    let within = |n: f64| input.min.is_none_or(|m| n >= m) && input.max.is_none_or(|m| n <= m);
    let value = match input.ty {
        InputType::Text | InputType::Pattern => {
            let text = text.trim();
            #[allow(clippy::cast_precision_loss)]
            let len = text.chars().count() as f64;
            let matches = if input.ty == InputType::Text {
                !text.is_empty()
            } else {
                input.pattern.as_ref().is_some_and(|p| p.is_match(text))
            };
            return (matches && within(len)).then_some(Parsed::Text(text));
        }
        InputType::Number => number(text, locale).filter(|v| v.as_f64().is_some_and(within)),
        InputType::Integer => {
            number(text, locale).filter(|v| v.is_i64() && v.as_f64().is_some_and(within))
        }
        InputType::Boolean => boolean(text).map(Value::Bool),
        InputType::Email => {
            let text = text.trim();
            let whole = EMAIL.find(text).is_some_and(|m| m.as_str() == text);
            return whole.then_some(Parsed::Text(text));
        }
        InputType::Phone => phone(text),
        // The clock and the time zone are read only for these.
        InputType::Date | InputType::Time | InputType::Datetime => {
            when(input, text, locale, &now())
        }
        InputType::Options => choose(program, input, text, language),
        InputType::Location => location(text, payload.location),
        InputType::File | InputType::Image => file(input, text, payload.file),
    };
    value.map(Parsed::Value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_follow_the_locale() {
        assert_eq!(
            number("1.234,5 pesos", "es-CL"),
            Some(serde_json::json!(1234.5))
        );
        assert_eq!(
            number("1,234.5 dollars", "en-US"),
            Some(serde_json::json!(1234.5))
        );
        assert_eq!(number("tengo 3", "es-CL"), Some(serde_json::json!(3)));
        assert_eq!(number("R$ 10,50", "pt-BR"), Some(serde_json::json!(10.5)));
        assert_eq!(number("none", "en-US"), None);
    }

    #[test]
    fn yes_and_no_in_three_languages() {
        for yes in ["yes", "Sí", "si claro", "sim", "OK"] {
            assert_eq!(boolean(yes), Some(true), "{yes}");
        }
        for no in ["no", "Não", "nope"] {
            assert_eq!(boolean(no), Some(false), "{no}");
        }
        assert_eq!(boolean("maybe"), None);
    }

    #[test]
    fn phones_and_emails() {
        assert_eq!(
            phone("+1 (555) 123-4567"),
            Some(Value::String("+15551234567".into()))
        );
        assert_eq!(phone("call me"), None);
        assert_eq!(
            find_email("write to ana@example.com please").as_deref(),
            Some("ana@example.com")
        );
    }
}
