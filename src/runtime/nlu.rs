//! Natural-language understanding: which intent a message expresses, and
//! which entities it mentions.
//!
//! The built-in classifier: a pattern match or a message equal to an example
//! (after normalising case, accents and punctuation) is a sure hit (1.0);
//! otherwise the linear model trained when the bot was compiled gives each
//! intent a calibrated probability (see [`crate::classifier`] and
//! docs/NLU.md). Hosts with their own NLU implement [`Classifier`], or send
//! pre-classified requests.

use std::cell::RefCell;
use std::collections::BTreeMap;

use crate::classifier::Scratch;

use crate::compile::{Entity, Program};

use super::message::Nlu;

/// Classifies a message for a program.
pub trait Classifier: Send + Sync {
    /// The best intent and the entities of a message.
    fn classify(&self, program: &Program, text: &str) -> Nlu;

    /// Whether a message is one of the program's global intents (while an
    /// input waits, only they matter). The default classifies fully.
    fn classify_global(&self, program: &Program, text: &str) -> Nlu {
        self.classify(program, text)
    }

    /// [`Classifier::classify`] for a conversation in one of the bot's
    /// languages (a position in `Program::languages`). The default ignores
    /// the language.
    fn classify_in(&self, program: &Program, text: &str, language: usize) -> Nlu {
        let _ = language;
        self.classify(program, text)
    }

    /// [`Classifier::classify_global`] in one of the bot's languages.
    fn classify_global_in(&self, program: &Program, text: &str, language: usize) -> Nlu {
        let _ = language;
        self.classify_global(program, text)
    }
}

/// The built-in classifier.
#[derive(Clone, Copy, Debug, Default)]
pub struct Builtin;

/// Longest word, in characters, that an entity synonym matches with a typo:
/// the edit distance costs the product of the lengths.
pub const MAX_TYPO_WORD_CHARS: usize = 32;

/// How alike two words are, in [0, 1]: 1 when equal, less for a typo or two
/// in a long enough word, 0 otherwise. Words longer than
/// [`MAX_TYPO_WORD_CHARS`] are equal or unlike.
fn word_similarity(a: &str, b: &str) -> f64 {
    if a == b {
        return 1.0;
    }
    let (a_chars, b_chars) = (a.chars().count(), b.chars().count());
    if a_chars.max(b_chars) > MAX_TYPO_WORD_CHARS {
        return 0.0;
    }
    let allowed = match a_chars.min(b_chars) {
        0..=3 => 0,
        4..=7 => 1,
        _ => 2,
    };
    if allowed == 0 {
        return 0.0;
    }
    if a_chars.abs_diff(b_chars) > allowed {
        return 0.0;
    }
    let distance = typo_distance(a, b);
    if distance <= allowed {
        #[allow(clippy::cast_precision_loss)]
        let penalty = distance as f64 * 0.15;
        1.0 - penalty
    } else {
        0.0
    }
}

/// The edit distance between two words of at most [`MAX_TYPO_WORD_CHARS`]
/// characters, where inserting, deleting or changing a letter, or swapping
/// two neighbours ("corrinete"), is one edit (optimal string alignment, as
/// `strsim::osa_distance` counts), computed on the stack: every word of a
/// message is compared with every one-word synonym of the bot, and this
/// allocates nothing.
fn typo_distance(a: &str, b: &str) -> usize {
    const N: usize = MAX_TYPO_WORD_CHARS + 1;
    let chars = |word: &str| {
        let mut out = ['\0'; MAX_TYPO_WORD_CHARS];
        let mut len = 0;
        for (slot, c) in out.iter_mut().zip(word.chars()) {
            *slot = c;
            len += 1;
        }
        (out, len)
    };
    let ((a, la), (b, lb)) = (chars(a), chars(b));
    // Three rows of the table: two back, the last, this one.
    let (mut before, mut last, mut row) = ([0usize; N], [0usize; N], [0usize; N]);
    for (j, cell) in last.iter_mut().enumerate().take(lb + 1) {
        *cell = j;
    }
    for i in 1..=la {
        row[0] = i;
        for j in 1..=lb {
            let change = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (last[j] + 1).min(row[j - 1] + 1).min(last[j - 1] + change);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(before[j - 2] + 1);
            }
            row[j] = best;
        }
        before = last;
        last = row;
    }
    last[lb]
}

/// Finds a normalised phrase in a normalised text with a space before and
/// after it (` word word `): as a run of whole words, or (a single word of
/// five characters or more) as one word with a typo. Allocates nothing.
fn contains_phrase(padded: &str, phrase: &str) -> bool {
    if phrase.is_empty() {
        return false;
    }
    let bytes = padded.as_bytes();
    let whole = padded.match_indices(phrase).any(|(at, _)| {
        at > 0 && bytes[at - 1] == b' ' && bytes.get(at + phrase.len()) == Some(&b' ')
    });
    if whole {
        return true;
    }
    !phrase.contains(' ')
        && phrase.chars().nth(4).is_some()
        && padded
            .split(' ')
            .filter(|w| !w.is_empty())
            .any(|w| word_similarity(w, phrase) >= 0.85)
}

/// The entities a message in one of the bot's languages (a position in
/// [`Program::languages`]) mentions, by name. `padded` is the message
/// normalised, with a space before and after it.
pub(crate) fn entities(
    program: &Program,
    text: &str,
    padded: &str,
    language: usize,
) -> BTreeMap<String, serde_json::Value> {
    let mut found = BTreeMap::new();
    for entity in &program.entities {
        match entity {
            Entity::List { name, values } => {
                // Longer synonyms first, so "cuenta corriente" beats "corriente".
                let hit = values
                    .iter()
                    .flat_map(|v| v.synonyms_in(language).map(move |s| (&v.canonical, s)))
                    .filter(|(_, s)| contains_phrase(padded, s))
                    .max_by_key(|(_, s)| s.len());
                if let Some((canonical, _)) = hit {
                    found.insert(name.clone(), serde_json::Value::String(canonical.clone()));
                }
            }
            Entity::Pattern { name, regex } => {
                if let Some(m) = regex.find(text) {
                    found.insert(
                        name.clone(),
                        serde_json::Value::String(m.as_str().to_owned()),
                    );
                }
            }
        }
    }
    let declared = |n: &str| program.entities.iter().any(|e| e.name() == n);
    let locale = program.locale_in(language);
    if !declared("number")
        && let Some(n) = super::input::number(text, locale)
    {
        found.insert("number".into(), n);
    }
    if !declared("email")
        && let Some(e) = super::input::find_email(text)
    {
        found.insert("email".into(), serde_json::Value::String(e));
    }
    found
}

thread_local! {
    /// The classifier's buffers, reused by every message on this thread.
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// How the classifier saw a message: what `cellflow nlu classify` shows.
#[derive(Clone, Debug, PartialEq)]
pub struct Ranking {
    /// The intent whose pattern matched, if one did (a sure hit).
    pub pattern: Option<usize>,
    /// The classes the message is an example of, if it is one (a sure hit;
    /// `intents.len()` for an out-of-scope example).
    pub exact: Vec<usize>,
    /// Every intent with its probability, most likely first.
    pub intents: Vec<(usize, f64)>,
    /// The probability that it is none of them.
    pub out_of_scope: f64,
}

/// Ranks every intent for a message in one of the bot's languages (a
/// position in [`Program::languages`]).
#[must_use]
pub fn rank(program: &Program, text: &str, language: usize) -> Ranking {
    let pattern = program.nlu.patterns.first_match(text, |_| true);
    let (exact, model) = program.classifier_in(language);
    SCRATCH.with_borrow_mut(|scratch| {
        scratch.load(text);
        let exact = exact
            .get(scratch.normalized())
            .map(|classes| classes.iter().map(|&c| c as usize).collect())
            .unwrap_or_default();
        let (mut intents, out_of_scope) = match model {
            Some(model) => {
                let rest = model.probabilities(scratch);
                let ranked: Vec<(usize, f64)> = scratch
                    .scores
                    .iter()
                    .enumerate()
                    .map(|(i, &p)| (i, f64::from(p)))
                    .collect();
                (ranked, f64::from(rest))
            }
            None => (Vec::new(), 1.0),
        };
        intents.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        Ranking {
            pattern,
            exact,
            intents,
            out_of_scope,
        }
    })
}

impl Builtin {
    /// The best intent for a message and its confidence. With `only`
    /// (sorted), intents outside it are ignored, but probabilities stay
    /// those of the whole model: a message that is clearly another intent
    /// is not forced into one of these. `scratch` holds the message
    /// ([`Scratch::load`]).
    fn best(
        program: &Program,
        language: usize,
        text: &str,
        scratch: &mut Scratch,
        only: Option<&[crate::compile::IntentIndex]>,
    ) -> Option<(usize, f64)> {
        let index = &program.nlu;
        let (exact, model) = program.classifier_in(language);
        let allowed = |intent: usize| {
            only.is_none_or(|o| {
                o.binary_search(&crate::compile::IntentIndex::new(intent))
                    .is_ok()
            })
        };
        // A pattern match is a sure hit.
        if let Some(hit) = index.patterns.first_match(text, allowed) {
            return Some((hit, 1.0));
        }
        // So is an example, unless it is an out-of-scope one.
        if let Some(classes) = exact.get(scratch.normalized()) {
            let intents = program.intents.len();
            if classes.iter().any(|&c| c as usize == intents) {
                return None;
            }
            if let Some(&class) = classes.iter().find(|&&c| allowed(c as usize)) {
                return Some((class as usize, 1.0));
            }
        }
        let model = model?;
        model.probabilities(scratch);
        scratch
            .scores
            .iter()
            .enumerate()
            .filter(|(i, _)| allowed(*i))
            .fold(None, |best: Option<(usize, f64)>, (i, &p)| {
                let p = f64::from(p);
                // Ties keep the first intent.
                if best.is_none_or(|(_, b)| p > b) {
                    Some((i, p))
                } else {
                    best
                }
            })
    }

    fn result(
        program: &Program,
        best: Option<(usize, f64)>,
        entities: BTreeMap<String, serde_json::Value>,
    ) -> Nlu {
        match best {
            Some((i, score)) if score > 0.0 => Nlu {
                intent: Some(program.intents[i].name.clone()),
                confidence: (score.min(1.0) * 1000.0).round() / 1000.0,
                entities,
            },
            _ => Nlu {
                intent: None,
                confidence: 0.0,
                entities,
            },
        }
    }
}

impl Classifier for Builtin {
    fn classify(&self, program: &Program, text: &str) -> Nlu {
        self.classify_in(program, text, 0)
    }

    fn classify_global(&self, program: &Program, text: &str) -> Nlu {
        self.classify_global_in(program, text, 0)
    }

    fn classify_in(&self, program: &Program, text: &str, language: usize) -> Nlu {
        SCRATCH.with_borrow_mut(|scratch| {
            scratch.load(text);
            let best = Builtin::best(program, language, text, scratch, None);
            // The entities read the same normalised text.
            Builtin::result(
                program,
                best,
                entities(program, text, scratch.padded(), language),
            )
        })
    }

    fn classify_global_in(&self, program: &Program, text: &str, language: usize) -> Nlu {
        SCRATCH.with_borrow_mut(|scratch| {
            scratch.load(text);
            let best = Builtin::best(
                program,
                language,
                text,
                scratch,
                Some(&program.global_intents),
            );
            Builtin::result(program, best, BTreeMap::new())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phrases_are_whole_words_or_one_long_word_with_a_typo() {
        assert!(contains_phrase(" cuenta corriente ", "cuenta corriente"));
        assert!(contains_phrase(" mi cuenta corriente ", "corriente"));
        assert!(!contains_phrase(" cuentas corrientes ", "cuenta corriente"));
        assert!(!contains_phrase(" subcuenta ", "cuenta"));
        assert!(contains_phrase(" la corrinete ", "corriente"));
        assert!(!contains_phrase(" la corrinete ", "la corriente"));
        assert!(!contains_phrase(" ahorro ", ""));
        assert!(!contains_phrase(" ", "ahorro"));
    }

    #[test]
    fn typo_distance_counts_as_strsim_does() {
        let words = [
            "",
            "a",
            "ab",
            "ba",
            "corriente",
            "corrinete",
            "coriente",
            "savings",
            "savngs",
            "ahorro",
            "ahorros",
            "pepperoni",
            "peperoni",
            "ñandú",
            "nandu",
            "abcdef",
            "badcfe",
        ];
        for a in words {
            for b in words {
                assert_eq!(typo_distance(a, b), strsim::osa_distance(a, b), "{a} / {b}");
            }
        }
    }

    #[test]
    fn short_words_need_exact_matches() {
        assert!(word_similarity("sim", "sin").abs() < f64::EPSILON);
        assert!(word_similarity("saldo", "saldos") > 0.8);
    }

    #[test]
    fn very_long_words_need_exact_matches() {
        let limit = MAX_TYPO_WORD_CHARS;
        let at_limit = "a".repeat(limit);
        assert!(word_similarity(&at_limit, &format!("{}b", "a".repeat(limit - 1))) > 0.8);
        let long = "a".repeat(limit + 1);
        let typo = format!("{}b", "a".repeat(limit));
        assert!(word_similarity(&long, &typo).abs() < f64::EPSILON);
        assert!((word_similarity(&long, &long) - 1.0).abs() < f64::EPSILON);
    }
}
