//! Languages: telling a language tag from a typo, matching the language a
//! request asks for to one the bot speaks, and the built-in messages
//! cellflow ships in English, Spanish and Portuguese.

/// Whether `tag` names a language: an ISO 639 code (`es`, `pt`, `quz`),
/// optionally followed by a region (`pt-BR`, `es-419`) or other subtags of
/// letters and digits.
#[must_use]
pub fn is_known(tag: &str) -> bool {
    let mut parts = tag.split('-');
    let primary = parts.next().unwrap_or("");
    let code_known = match primary.len() {
        2 => isolang::Language::from_639_1(primary).is_some(),
        3 => isolang::Language::from_639_3(primary).is_some(),
        _ => false,
    };
    code_known
        && primary.bytes().all(|b| b.is_ascii_lowercase())
        && parts.all(|p| (2..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// The language without its region: `pt-BR` → `pt`.
#[must_use]
pub fn primary(tag: &str) -> &str {
    tag.split(['-', '_']).next().unwrap_or(tag)
}

/// Which of the bot's languages a requested one means: the same tag
/// (compared without case, `pt_BR` read as `pt-BR`), else the first with
/// the same primary language (`pt-BR` asks for `pt`, `pt` for `pt-PT`).
#[must_use]
pub fn pick(requested: &str, languages: &[String]) -> Option<usize> {
    // Compared in place: a turn asks this of its session's language.
    let requested = requested.trim();
    let same = |a: &str, b: &str| {
        a.len() == b.len()
            && a.bytes().zip(b.bytes()).all(|(x, y)| {
                let fold = |c: u8| {
                    if c == b'_' {
                        b'-'
                    } else {
                        c.to_ascii_lowercase()
                    }
                };
                fold(x) == fold(y)
            })
    };
    languages
        .iter()
        .position(|l| same(l, requested))
        .or_else(|| {
            let wanted = primary(requested);
            languages.iter().position(|l| same(primary(l), wanted))
        })
}

/// A detector for the bot's languages (those the detector knows), and
/// which language each answer it gives means; `None` when fewer than two
/// are left to tell apart.
#[must_use]
pub fn detector(
    languages: &[String],
) -> Option<(whatlang::Detector, Vec<(whatlang::Lang, usize)>)> {
    let known: Vec<(whatlang::Lang, usize)> = languages
        .iter()
        .enumerate()
        .filter_map(|(i, tag)| {
            let code = match primary(tag) {
                two if two.len() == 2 => isolang::Language::from_639_1(two)?.to_639_3(),
                three => three,
            };
            Some((whatlang::Lang::from_code(code)?, i))
        })
        .collect();
    (known.len() >= 2).then(|| {
        let detector = whatlang::Detector::with_allowlist(known.iter().map(|(l, _)| *l).collect());
        (detector, known)
    })
}

/// How sure the detector must be: its own "reliable" mark is out of reach
/// for chat-length messages, and below this it confuses Spanish and
/// Portuguese ("onde está meu pedido" reads as Spanish at 0.015).
const MIN_CONFIDENCE: f64 = 0.35;

/// Which of the bot's languages a message is written in, when the message
/// has three words or more and the detector is sure enough.
#[must_use]
pub fn detect(
    (detector, known): &(whatlang::Detector, Vec<(whatlang::Lang, usize)>),
    text: &str,
) -> Option<usize> {
    // Three words at least.
    text.split_whitespace().nth(2)?;
    let info = detector.detect(text)?;
    if info.confidence() < MIN_CONFIDENCE {
        return None;
    }
    known
        .iter()
        .find(|(lang, _)| *lang == info.lang())
        .map(|(_, i)| *i)
}

/// The locale a language reads numbers, yes/no words and dates by: the tag
/// itself when it names a region, the bot's `locale` when that is the same
/// language, else the language's usual one (`en` reads dates month-first,
/// as `en-US`).
#[must_use]
pub fn parsing_locale(tag: &str, bot_locale: &str) -> String {
    if tag.contains('-') {
        return tag.to_owned();
    }
    if primary(bot_locale).eq_ignore_ascii_case(tag) {
        return bot_locale.to_owned();
    }
    match tag {
        "en" => "en-US".to_owned(),
        other => other.to_owned(),
    }
}

/// A message the runtime says on its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Builtin {
    /// No flow understood the message and the bot has no fallback.
    NotUnderstood,
    /// The turn failed (a script error, a step limit).
    Error,
    /// The bot was updated under the conversation, which starts again.
    Restarted,
    /// The conversation timed out and no flow answers the timeout.
    InactivityClosed,
}

impl Builtin {
    pub const ALL: [Builtin; 4] = [
        Builtin::NotUnderstood,
        Builtin::Error,
        Builtin::Restarted,
        Builtin::InactivityClosed,
    ];

    /// Its position in [`Builtin::ALL`] (and in each language's messages).
    #[must_use]
    pub fn position(self) -> usize {
        self as usize
    }

    /// Its name under `bot.messages`.
    #[must_use]
    pub fn key(self) -> &'static str {
        match self {
            Builtin::NotUnderstood => "not_understood",
            Builtin::Error => "error",
            Builtin::Restarted => "restarted",
            Builtin::InactivityClosed => "inactivity_closed",
        }
    }

    /// The wording cellflow ships for a language, if it ships one (en, es,
    /// pt).
    #[must_use]
    pub fn shipped(self, language: &str) -> Option<&'static str> {
        Some(match (primary(language), self) {
            ("en", Builtin::NotUnderstood) => "Sorry, I did not understand that.",
            ("en", Builtin::Error) => "Sorry, something went wrong on my side. Please try again.",
            ("en", Builtin::Restarted) => "The bot was updated, so let's start again.",
            ("en", Builtin::InactivityClosed) => {
                "I closed this conversation after a while without news from you. Write again whenever you like."
            }
            ("es", Builtin::NotUnderstood) => "Perdón, no entendí eso.",
            ("es", Builtin::Error) => {
                "Perdón, algo falló de mi lado. Por favor, inténtalo de nuevo."
            }
            ("es", Builtin::Restarted) => "El bot se actualizó, así que empecemos de nuevo.",
            ("es", Builtin::InactivityClosed) => {
                "Cerré esta conversación tras un rato sin noticias tuyas. Escríbeme de nuevo cuando quieras."
            }
            ("pt", Builtin::NotUnderstood) => "Desculpe, não entendi.",
            ("pt", Builtin::Error) => {
                "Desculpe, algo deu errado do meu lado. Por favor, tente de novo."
            }
            ("pt", Builtin::Restarted) => "O bot foi atualizado, então vamos começar de novo.",
            ("pt", Builtin::InactivityClosed) => {
                "Encerrei esta conversa depois de um tempo sem notícias suas. Escreva de novo quando quiser."
            }
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_tags_are_known_or_not() {
        for tag in ["es", "pt", "en", "pt-BR", "es-419", "quz", "zh-Hant"] {
            assert!(is_known(tag), "{tag}");
        }
        for tag in ["sp", "EN", "english", "", "pt-", "p", "xx", "es-CL-"] {
            assert!(!is_known(tag), "{tag}");
        }
    }

    #[test]
    fn a_request_picks_the_closest_declared_language() {
        let declared = ["es".to_owned(), "pt-BR".to_owned(), "en".to_owned()];
        assert_eq!(pick("es", &declared), Some(0));
        assert_eq!(pick("pt_BR", &declared), Some(1));
        assert_eq!(pick("pt", &declared), Some(1));
        assert_eq!(pick("en-GB", &declared), Some(2));
        assert_eq!(pick("fr", &declared), None);
    }

    #[test]
    fn parsing_follows_the_region_or_the_bot() {
        assert_eq!(parsing_locale("es", "es-CL"), "es-CL");
        assert_eq!(parsing_locale("pt-BR", "es-CL"), "pt-BR");
        assert_eq!(parsing_locale("en", "es-CL"), "en-US");
        assert_eq!(parsing_locale("pt", "es-CL"), "pt");
    }

    #[test]
    fn detection_is_among_the_bots_languages_and_only_when_sure() {
        let languages = ["es".to_owned(), "pt-BR".to_owned(), "en".to_owned()];
        let found = detector(&languages).unwrap();
        assert_eq!(
            detect(
                &found,
                "Hola, quiero saber el saldo de mi cuenta corriente, por favor"
            ),
            Some(0)
        );
        assert_eq!(
            detect(
                &found,
                "Olá, quero saber o saldo da minha conta corrente, por favor"
            ),
            Some(1)
        );
        assert_eq!(
            detect(
                &found,
                "Hello, I would like to know the balance of my checking account"
            ),
            Some(2)
        );
        assert_eq!(detect(&found, "ok"), None);
        // Too short to tell, and too close to call: left undecided.
        assert_eq!(detect(&found, "hola"), None);
        assert_eq!(detect(&found, "onde está meu pedido"), None);
        assert!(detector(&["es".to_owned(), "tlh".to_owned()]).is_none());
    }

    #[test]
    fn shipped_messages_in_three_languages() {
        for language in ["en", "es", "pt-BR"] {
            for message in Builtin::ALL {
                assert!(
                    message.shipped(language).is_some(),
                    "{language} {message:?}"
                );
            }
        }
        assert_eq!(Builtin::Error.shipped("fr"), None);
    }
}
