//! Dates and times as people write them in a chat, in English, Spanish and
//! Portuguese: "next Tuesday", "14 de diciembre", "amanhã às 15h", "12/03"
//! in the locale's day/month order. Every form accepted is listed in
//! docs/LANGUAGE.md; this module reads them and nothing else.
//!
//! Text is read after [`crate::text::normalize`] (lower case, no accents,
//! punctuation as spaces), so `14/12/2026`, `14-12-2026` and `14.12.2026`
//! are all `14 12 2026`, and `15:30` is `15 30`.

use jiff::civil::{Date, Time, Weekday};

/// What a date is read against: today's date where the user is, and
/// whether the locale writes the day before the month.
#[derive(Clone, Copy, Debug)]
pub struct Context {
    pub today: Date,
    pub day_first: bool,
}

/// Words that carry no meaning for a date or time ("the", "de", "às"…).
const FILLER: [&str; 21] = [
    "the", "on", "of", "this", "at", "el", "la", "los", "de", "del", "este", "esta", "a", "las",
    "o", "do", "da", "no", "na", "as", "em",
];

const MONTHS: [(&str, i8); 36] = [
    ("january", 1),
    ("february", 2),
    ("march", 3),
    ("april", 4),
    ("may", 5),
    ("june", 6),
    ("july", 7),
    ("august", 8),
    ("september", 9),
    ("october", 10),
    ("november", 11),
    ("december", 12),
    ("enero", 1),
    ("febrero", 2),
    ("marzo", 3),
    ("abril", 4),
    ("mayo", 5),
    ("junio", 6),
    ("julio", 7),
    ("agosto", 8),
    ("septiembre", 9),
    ("octubre", 10),
    ("noviembre", 11),
    ("diciembre", 12),
    ("janeiro", 1),
    ("fevereiro", 2),
    ("marco", 3),
    ("maio", 5),
    ("junho", 6),
    ("julho", 7),
    ("setembro", 9),
    ("outubro", 10),
    ("novembro", 11),
    ("dezembro", 12),
    ("setiembre", 9),
    ("sept", 9),
];

/// A month by name or by its first three letters (`dec`, `dic`, `dez`).
fn month(word: &str) -> Option<i8> {
    if let Some((_, m)) = MONTHS.iter().find(|(name, _)| *name == word) {
        return Some(*m);
    }
    if word.len() == 3 {
        return MONTHS
            .iter()
            .find(|(name, _)| name.starts_with(word))
            .map(|(_, m)| *m)
            .or(match word {
                "ene" => Some(1),
                "dic" | "dez" => Some(12),
                _ => None,
            });
    }
    None
}

fn weekday(word: &str) -> Option<Weekday> {
    Some(match word {
        "monday" | "mon" | "lunes" | "segunda" => Weekday::Monday,
        "tuesday" | "tue" | "martes" | "terca" => Weekday::Tuesday,
        "wednesday" | "wed" | "miercoles" | "quarta" => Weekday::Wednesday,
        "thursday" | "thu" | "jueves" | "quinta" => Weekday::Thursday,
        "friday" | "fri" | "viernes" | "sexta" => Weekday::Friday,
        "saturday" | "sat" | "sabado" => Weekday::Saturday,
        "sunday" | "sun" | "domingo" => Weekday::Sunday,
        _ => return None,
    })
}

/// A day of the month written `14`, `14th`, `1st`, `1ro`, `1o`, `1er`.
fn day_number(word: &str) -> Option<i8> {
    let digits = word.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let suffix = &word[digits.len()..];
    if !matches!(
        suffix,
        "" | "st" | "nd" | "rd" | "th" | "o" | "ro" | "er" | "a"
    ) {
        return None;
    }
    digits.parse().ok().filter(|d| (1..=31).contains(d))
}

fn days(date: Date, n: i64) -> Option<Date> {
    date.checked_add(jiff::Span::new().try_days(n).ok()?).ok()
}

fn build(year: i64, month: i8, day: i8) -> Option<Date> {
    Date::new(i16::try_from(year).ok()?, month, day).ok()
}

/// A date written without its year: the one nearest today (last week's
/// "14 de diciembre" is last week, not next year).
fn nearest(today: Date, month: i8, day: i8) -> Option<Date> {
    let year = i64::from(today.year());
    [year - 1, year, year + 1]
        .into_iter()
        .filter_map(|y| build(y, month, day))
        .min_by_key(|d| {
            today
                .until(*d)
                .map_or(i64::MAX, |span| i64::from(span.get_days()).abs())
        })
}

fn full_year(y: i64) -> i64 {
    if y < 100 { 2000 + y } else { y }
}

fn meaningful(text: &str) -> Vec<&str> {
    text.split(' ')
        .filter(|w| !w.is_empty() && !FILLER.contains(w))
        .collect()
}

/// Reads a date: relative words, weekdays, day and month names, or numbers.
#[must_use]
pub fn date(text: &str, ctx: Context) -> Option<Date> {
    let normalized = crate::text::normalize(text);
    date_words(&meaningful(&normalized), ctx)
}

fn date_words(words: &[&str], ctx: Context) -> Option<Date> {
    let today = ctx.today;
    match words {
        ["today" | "hoy" | "hoje"] => return Some(today),
        ["tomorrow" | "manana" | "amanha"] => return days(today, 1),
        ["yesterday" | "ayer" | "ontem"] => return days(today, -1),
        ["pasado", "manana"] | ["depois", "amanha"] | ["day", "after", "tomorrow"] => {
            return days(today, 2);
        }
        ["anteayer" | "antier" | "anteontem"] | ["day", "before", "yesterday"] => {
            return days(today, -2);
        }
        _ => {}
    }
    // "in 3 days", "en 2 semanas", "em 10 dias", "dentro de 3 dias".
    let rest = match words {
        ["in" | "en" | "dentro" | "daqui", rest @ ..] => rest,
        _ => words,
    };
    let (count, unit) = match rest {
        [n, unit] => (Some(*n), Some(*unit)),
        // "in a week": the `a` is a filler word, so the unit stands alone.
        [unit] if !words.is_empty() && words.len() > rest.len() => (None, Some(*unit)),
        _ => (None, None),
    };
    let factor = match unit {
        Some("day" | "days" | "dia" | "dias") => Some(1),
        Some("week" | "weeks" | "semana" | "semanas") => Some(7),
        _ => None,
    };
    if let Some(factor) = factor {
        let n: i64 = match count {
            None | Some("one" | "un" | "una" | "uno" | "um" | "uma") => 1,
            Some("two" | "dos" | "dois" | "duas") => 2,
            Some("three" | "tres") => 3,
            Some(n) => n.parse().ok().filter(|n| *n <= 3660)?,
        };
        return days(today, n * factor);
    }
    // Weekdays: "tuesday", "next tuesday", "el proximo martes",
    // "martes que viene", "na terca feira", "proxima sexta".
    let without: Vec<&str> = words
        .iter()
        .copied()
        .filter(|w| {
            !matches!(
                *w,
                "next" | "proximo" | "proxima" | "que" | "viene" | "feira"
            )
        })
        .collect();
    if let [day] = without.as_slice()
        && let Some(wanted) = weekday(day)
    {
        let ahead = (i64::from(wanted.to_monday_one_offset())
            - i64::from(today.weekday().to_monday_one_offset()))
        .rem_euclid(7);
        return days(today, if ahead == 0 { 7 } else { ahead });
    }
    // "14 december [2026]", "december 14[th] [2026]", "14 de dezembro de 2026".
    match words {
        [d, m] | [m, d] if month(m).is_some() && day_number(d).is_some() => {
            return nearest(today, month(m)?, day_number(d)?);
        }
        [d, m, y] | [m, d, y] if month(m).is_some() && day_number(d).is_some() => {
            return build(full_year(y.parse().ok()?), month(m)?, day_number(d)?);
        }
        _ => {}
    }
    // Numbers: "2026 12 14", "14 12 2026" (or month first), "14 12".
    let numbers: Vec<i64> = words
        .iter()
        .map(|w| w.parse::<i64>().ok())
        .collect::<Option<_>>()?;
    let small = |n: i64| i8::try_from(n).ok();
    match (numbers.as_slice(), words.first().map(|w| w.len())) {
        ([y, m, d], Some(4)) => build(*y, small(*m)?, small(*d)?),
        ([first, second, year], _) => {
            let (day, month) = if ctx.day_first {
                (*first, *second)
            } else {
                (*second, *first)
            };
            build(full_year(*year), small(month)?, small(day)?)
        }
        ([first, second], _) => {
            let (day, month) = if ctx.day_first {
                (*first, *second)
            } else {
                (*second, *first)
            };
            nearest(today, small(month)?, small(day)?)
        }
        _ => None,
    }
}

/// Reads a time of day: `15:30`, `15h30`, `15h`, `3pm`, `3:30 pm`,
/// `15 horas`, `3 de la tarde`, `noon`, `mediodía`, `meia-noite`.
#[must_use]
pub fn time(text: &str) -> Option<Time> {
    let normalized = crate::text::normalize(text);
    time_words(&meaningful(&normalized))
}

fn time_words(words: &[&str]) -> Option<Time> {
    match words {
        ["noon" | "mediodia" | "midday"] | ["meio", "dia"] => return Time::new(12, 0, 0, 0).ok(),
        ["midnight" | "medianoche"] | ["meia", "noite"] => return Time::new(0, 0, 0, 0).ok(),
        _ => {}
    }
    // The part of the day, which moves 1–11 into the afternoon or night.
    let (words, later) = match words {
        [rest @ .., "tarde" | "noche" | "noite"] | [rest @ .., "in", "afternoon" | "evening"] => {
            (rest, true)
        }
        [rest @ .., "manana" | "manha"] | [rest @ .., "in", "morning"] => (rest, false),
        _ => (words, false),
    };
    let (words, meridiem) = match words {
        [rest @ .., "pm" | "p" | "p m"] => (rest, Some(true)),
        [rest @ .., "am" | "a m"] => (rest, Some(false)),
        [rest @ .., last] if last.ends_with("pm") || last.ends_with("am") => {
            // "3pm", "3:30pm" (the minutes a token of their own).
            let pm = last.ends_with("pm");
            let number = &last[..last.len() - 2];
            return clock(rest, number, Some(pm), later);
        }
        _ => (words, None),
    };
    let words: Vec<&str> = words
        .iter()
        .copied()
        .filter(|w| {
            !matches!(
                *w,
                "horas" | "hours" | "hora" | "o" | "clock" | "hrs" | "hs"
            )
        })
        .collect();
    match words.as_slice() {
        [single] => clock(&[], single, meridiem, later),
        [h, m] => clock(&[h], m, meridiem, later),
        _ => None,
    }
}

/// `hour`/`minute` from `["15"] "30"`, `[] "15h30"`, `[] "15h"`, `[] "15"`.
fn clock(before: &[&str], last: &str, pm: Option<bool>, later: bool) -> Option<Time> {
    let (hour, minute): (i8, i8) = match before {
        [] => match last.split_once('h') {
            Some((h, "")) => (h.parse().ok()?, 0),
            Some((h, m)) => (h.parse().ok()?, m.parse().ok()?),
            None if last.len() == 4 && last.bytes().all(|b| b.is_ascii_digit()) => {
                (last[..2].parse().ok()?, last[2..].parse().ok()?)
            }
            None => (last.parse().ok()?, 0),
        },
        [h] => (h.trim_end_matches('h').parse().ok()?, last.parse().ok()?),
        _ => return None,
    };
    if !(0..=59).contains(&minute) {
        return None;
    }
    let hour = match pm {
        Some(_) if !(1..=12).contains(&hour) => return None,
        Some(true) if hour < 12 => hour + 12,
        Some(false) if hour == 12 => 0,
        None if later && (1..12).contains(&hour) => hour + 12,
        _ => hour,
    };
    Time::new(hour, minute, 0, 0).ok()
}

/// Reads a date and a time: "tomorrow at 3pm", "el martes a las 10:30",
/// "amanhã às 15h", "14/12 15:30". A time alone is today's.
#[must_use]
pub fn date_time(text: &str, ctx: Context) -> Option<(Date, Time)> {
    let normalized = crate::text::normalize(text);
    let words: Vec<&str> = normalized.split(' ').filter(|w| !w.is_empty()).collect();
    // Split at the word that introduces the time, when there is one.
    if let Some(at) = words
        .iter()
        .position(|w| matches!(*w, "at" | "as" | "las" | "la" | "@"))
    {
        let date = meaningful_slice(&words[..at]);
        let time = meaningful_slice(&words[at + 1..]);
        let day = if date.is_empty() {
            ctx.today
        } else {
            date_words(&date, ctx)?
        };
        return Some((day, time_words(&time)?));
    }
    // Else the time is the last one, two or three words.
    for split in (words.len().saturating_sub(3)..words.len()).rev() {
        let (date, time) = (
            meaningful_slice(&words[..split]),
            meaningful_slice(&words[split..]),
        );
        let Some(time) = time_words(&time) else {
            continue;
        };
        if date.is_empty() {
            return Some((ctx.today, time));
        }
        if let Some(day) = date_words(&date, ctx) {
            return Some((day, time));
        }
    }
    None
}

fn meaningful_slice<'a>(words: &[&'a str]) -> Vec<&'a str> {
    words
        .iter()
        .copied()
        .filter(|w| !FILLER.contains(w))
        .collect()
}

/// A bound on a date input as written in a flow: `today`, `today+30`,
/// `today-7` (days), or `2026-12-31`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bound {
    FromToday(i32),
    On(Date),
}

impl Bound {
    #[must_use]
    pub fn parse(text: &str) -> Option<Bound> {
        let text = text.trim();
        if let Some(rest) = text.strip_prefix("today") {
            let rest = rest.trim();
            if rest.is_empty() {
                return Some(Bound::FromToday(0));
            }
            let (sign, n) = rest.split_at(1);
            let n: i32 = n.trim().parse().ok().filter(|n| *n <= 36_600)?;
            return match sign {
                "+" => Some(Bound::FromToday(n)),
                "-" => Some(Bound::FromToday(-n)),
                _ => None,
            };
        }
        text.parse::<Date>().ok().map(Bound::On)
    }

    /// The day the bound stands for, seen from `today`.
    #[must_use]
    pub fn on(self, today: Date) -> Option<Date> {
        match self {
            Bound::FromToday(n) => days(today, i64::from(n)),
            Bound::On(date) => Some(date),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(day_first: bool) -> Context {
        // A Thursday.
        Context {
            today: Date::new(2026, 12, 3).unwrap(),
            day_first,
        }
    }

    fn d(text: &str) -> Option<String> {
        date(text, ctx(true)).map(|d| d.to_string())
    }

    #[test]
    fn relative_days_and_weekdays() {
        assert_eq!(d("hoy").as_deref(), Some("2026-12-03"));
        assert_eq!(d("Mañana").as_deref(), Some("2026-12-04"));
        assert_eq!(d("amanhã").as_deref(), Some("2026-12-04"));
        assert_eq!(d("pasado mañana").as_deref(), Some("2026-12-05"));
        assert_eq!(d("depois de amanhã").as_deref(), Some("2026-12-05"));
        assert_eq!(d("ontem").as_deref(), Some("2026-12-02"));
        assert_eq!(d("next Tuesday").as_deref(), Some("2026-12-08"));
        assert_eq!(d("el próximo martes").as_deref(), Some("2026-12-08"));
        assert_eq!(d("martes que viene").as_deref(), Some("2026-12-08"));
        assert_eq!(d("na terça-feira").as_deref(), Some("2026-12-08"));
        assert_eq!(d("thursday").as_deref(), Some("2026-12-10"));
        assert_eq!(d("in 3 days").as_deref(), Some("2026-12-06"));
        assert_eq!(d("en 2 semanas").as_deref(), Some("2026-12-17"));
        assert_eq!(d("em 10 dias").as_deref(), Some("2026-12-13"));
        assert_eq!(d("in a week").as_deref(), Some("2026-12-10"));
        assert_eq!(d("en una semana").as_deref(), Some("2026-12-10"));
        assert_eq!(d("daqui a duas semanas").as_deref(), Some("2026-12-17"));
        assert_eq!(d("semana").as_deref(), None);
    }

    #[test]
    fn named_months_and_numbers() {
        assert_eq!(d("14 de diciembre").as_deref(), Some("2026-12-14"));
        assert_eq!(d("14 de dezembro de 2027").as_deref(), Some("2027-12-14"));
        assert_eq!(d("December 14th").as_deref(), Some("2026-12-14"));
        assert_eq!(d("dec 1st 2026").as_deref(), Some("2026-12-01"));
        assert_eq!(d("1ro de enero").as_deref(), Some("2027-01-01"));
        assert_eq!(d("20 de noviembre").as_deref(), Some("2026-11-20"));
        assert_eq!(d("2026-12-14").as_deref(), Some("2026-12-14"));
        assert_eq!(d("14/12/2026").as_deref(), Some("2026-12-14"));
        assert_eq!(d("14.12.26").as_deref(), Some("2026-12-14"));
        assert_eq!(d("12/03").as_deref(), Some("2027-03-12"));
        assert_eq!(
            date("12/03", ctx(false)).map(|d| d.to_string()).as_deref(),
            Some("2026-12-03")
        );
        for bad in [
            "31/02/2026",
            "someday",
            "14 de nada",
            "32 de enero",
            "99/99",
            "",
        ] {
            assert_eq!(d(bad), None, "{bad}");
        }
    }

    fn t(text: &str) -> Option<String> {
        time(text).map(|t| t.strftime("%H:%M").to_string())
    }

    #[test]
    fn times_of_day() {
        assert_eq!(t("15:30").as_deref(), Some("15:30"));
        assert_eq!(t("15h30").as_deref(), Some("15:30"));
        assert_eq!(t("15h").as_deref(), Some("15:00"));
        assert_eq!(t("3pm").as_deref(), Some("15:00"));
        assert_eq!(t("3:30 pm").as_deref(), Some("15:30"));
        assert_eq!(t("12 am").as_deref(), Some("00:00"));
        assert_eq!(t("15 horas").as_deref(), Some("15:00"));
        assert_eq!(t("3 de la tarde").as_deref(), Some("15:00"));
        assert_eq!(t("9 da manhã").as_deref(), Some("09:00"));
        assert_eq!(t("8 da noite").as_deref(), Some("20:00"));
        assert_eq!(t("mediodía").as_deref(), Some("12:00"));
        assert_eq!(t("meia-noite").as_deref(), Some("00:00"));
        for bad in ["25:00", "13pm", "10:75", "later", ""] {
            assert_eq!(t(bad), None, "{bad}");
        }
    }

    #[test]
    fn dates_with_times() {
        let dt = |text: &str| {
            date_time(text, ctx(true)).map(|(d, t)| format!("{d} {}", t.strftime("%H:%M")))
        };
        assert_eq!(dt("amanhã às 15h").as_deref(), Some("2026-12-04 15:00"));
        assert_eq!(dt("tomorrow at 3pm").as_deref(), Some("2026-12-04 15:00"));
        assert_eq!(
            dt("el martes a las 10:30").as_deref(),
            Some("2026-12-08 10:30")
        );
        assert_eq!(dt("14/12 15:30").as_deref(), Some("2026-12-14 15:30"));
        assert_eq!(
            dt("14 de diciembre 9 am").as_deref(),
            Some("2026-12-14 09:00")
        );
        assert_eq!(dt("at noon").as_deref(), Some("2026-12-03 12:00"));
        assert_eq!(dt("mañana").as_deref(), None);
    }

    #[test]
    fn bounds() {
        let today = ctx(true).today;
        assert_eq!(Bound::parse("today").and_then(|b| b.on(today)), Some(today));
        assert_eq!(
            Bound::parse("today+30")
                .and_then(|b| b.on(today))
                .map(|d| d.to_string()),
            Some("2027-01-02".into())
        );
        assert_eq!(
            Bound::parse("today - 1")
                .and_then(|b| b.on(today))
                .map(|d| d.to_string()),
            Some("2026-12-02".into())
        );
        assert_eq!(
            Bound::parse("2026-12-31"),
            Some(Bound::On(Date::new(2026, 12, 31).unwrap()))
        );
        assert_eq!(Bound::parse("soon"), None);
        assert_eq!(Bound::parse("today*2"), None);
    }
}
