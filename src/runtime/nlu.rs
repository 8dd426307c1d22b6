//! Natural-language understanding: which intent a message expresses, and
//! which entities it mentions.
//!
//! The built-in classifier normalises text (case, accents, punctuation) and
//! scores each intent: a pattern match or an exact example is a sure hit
//! (1.0); otherwise a word-level similarity against each example that ignores
//! word order and tolerates small typos (a Dice coefficient over fuzzily
//! matched words). Hosts with their own NLU implement [`Classifier`], or send
//! pre-classified requests.

use std::collections::BTreeMap;

use crate::compile::{Entity, Program};

use super::message::Nlu;

/// Classifies a message for a program.
pub trait Classifier: Send + Sync {
    fn classify(&self, program: &Program, text: &str) -> Nlu;
}

/// The built-in classifier.
#[derive(Clone, Copy, Debug, Default)]
pub struct Builtin;

/// How alike two words are, in [0, 1]: 1 when equal, less for a typo or two
/// in a long enough word, 0 otherwise.
fn word_similarity(a: &str, b: &str) -> f64 {
    if a == b {
        return 1.0;
    }
    let shortest = a.chars().count().min(b.chars().count());
    let allowed = match shortest {
        0..=3 => 0,
        4..=7 => 1,
        _ => 2,
    };
    if allowed == 0 {
        return 0.0;
    }
    let distance = strsim::levenshtein(a, b);
    if distance <= allowed {
        #[allow(clippy::cast_precision_loss)]
        let penalty = distance as f64 * 0.15;
        1.0 - penalty
    } else {
        0.0
    }
}

/// Dice-style similarity of two word lists, order ignored, typos tolerated.
fn similarity(example: &[String], words: &[&str]) -> f64 {
    if example.is_empty() || words.is_empty() {
        return 0.0;
    }
    let best = |w: &str, pool: &mut dyn Iterator<Item = &str>| {
        pool.map(|p| word_similarity(w, p)).fold(0.0, f64::max)
    };
    let forward: f64 = example
        .iter()
        .map(|e| best(e, &mut words.iter().copied()))
        .sum();
    let backward: f64 = words
        .iter()
        .map(|w| best(w, &mut example.iter().map(String::as_str)))
        .sum();
    #[allow(clippy::cast_precision_loss)]
    let total = (example.len() + words.len()) as f64;
    (forward + backward) / total
}

/// Finds a normalised phrase in the words, exactly or (single long words)
/// with a typo.
fn contains_phrase(words: &[&str], phrase: &str) -> bool {
    let parts: Vec<&str> = phrase.split(' ').filter(|p| !p.is_empty()).collect();
    if parts.is_empty() || parts.len() > words.len() {
        return false;
    }
    if words.windows(parts.len()).any(|w| w == parts.as_slice()) {
        return true;
    }
    parts.len() == 1
        && parts[0].chars().count() >= 5
        && words.iter().any(|w| word_similarity(w, parts[0]) >= 0.85)
}

/// The entities a message mentions, by name.
pub(crate) fn entities(
    program: &Program,
    text: &str,
    words: &[&str],
) -> BTreeMap<String, serde_json::Value> {
    let mut found = BTreeMap::new();
    for entity in &program.entities {
        match entity {
            Entity::List { name, values } => {
                // Longer synonyms first, so "cuenta corriente" beats "corriente".
                let hit = values
                    .iter()
                    .flat_map(|(canonical, synonyms)| synonyms.iter().map(move |s| (canonical, s)))
                    .filter(|(_, s)| contains_phrase(words, s))
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
    if !declared("number")
        && let Some(n) = super::input::number(text, &program.locale)
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

impl Classifier for Builtin {
    fn classify(&self, program: &Program, text: &str) -> Nlu {
        let normalized = crate::text::normalize(text);
        let words: Vec<&str> = normalized.split(' ').filter(|w| !w.is_empty()).collect();
        let mut best: Option<(usize, f64)> = None;
        for (i, intent) in program.intents.iter().enumerate() {
            let score = if intent.patterns.iter().any(|p| p.is_match(text)) {
                1.0
            } else {
                intent
                    .examples
                    .iter()
                    .map(|e| similarity(e, &words))
                    .fold(0.0, f64::max)
            };
            if best.is_none_or(|(_, s)| score > s) {
                best = Some((i, score));
            }
        }
        let entities = entities(program, text, &words);
        match best {
            Some((i, score)) if score > 0.0 => Nlu {
                intent: Some(program.intents[i].name.clone()),
                confidence: (score * 1000.0).round() / 1000.0,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split(' ').map(str::to_owned).collect()
    }

    #[test]
    fn word_order_and_typos_are_tolerated() {
        let example = words("consulta de saldo");
        assert!((similarity(&example, &["saldo", "de", "consulta"]) - 1.0).abs() < 1e-9);
        let typo = similarity(&example, &["consulta", "de", "sldo"]);
        assert!(typo > 0.6 && typo < 1.0, "{typo}");
        assert!(similarity(&example, &["quiero", "pizza"]) < 0.2);
    }

    #[test]
    fn short_words_need_exact_matches() {
        assert!(word_similarity("sim", "sin").abs() < f64::EPSILON);
        assert!(word_similarity("saldo", "saldos") > 0.8);
    }
}
