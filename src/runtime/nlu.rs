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
    /// The best intent and the entities of a message.
    fn classify(&self, program: &Program, text: &str) -> Nlu;

    /// Whether a message is one of the program's global intents (while an
    /// input waits, only they matter). The default classifies fully.
    fn classify_global(&self, program: &Program, text: &str) -> Nlu {
        self.classify(program, text)
    }
}

/// The built-in classifier.
#[derive(Clone, Copy, Debug, Default)]
pub struct Builtin;

/// How alike two words are, in [0, 1]: 1 when equal, less for a typo or two
/// in a long enough word, 0 otherwise. Words longer than
/// [`MAX_TYPO_WORD_CHARS`](crate::compile::MAX_TYPO_WORD_CHARS) are equal
/// or unlike: the edit distance costs the product of the lengths.
fn word_similarity(a: &str, b: &str) -> f64 {
    if a == b {
        return 1.0;
    }
    let (a_chars, b_chars) = (a.chars().count(), b.chars().count());
    if a_chars.max(b_chars) > crate::compile::MAX_TYPO_WORD_CHARS {
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
    let distance = strsim::levenshtein(a, b);
    if distance <= allowed {
        #[allow(clippy::cast_precision_loss)]
        let penalty = distance as f64 * 0.15;
        1.0 - penalty
    } else {
        0.0
    }
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

impl Builtin {
    /// Scores intents against a message through the program's index. With
    /// `only`, intents outside it are ignored. Returns the best intent and
    /// its score.
    fn best(
        program: &Program,
        text: &str,
        words: &[&str],
        only: Option<&[usize]>,
    ) -> Option<(usize, f64)> {
        let index = &program.nlu;
        let allowed = |intent: usize| only.is_none_or(|o| o.binary_search(&intent).is_ok());
        // A pattern match is a sure hit.
        if let Some(hit) = index.patterns.first_match(text, allowed) {
            return Some((hit, 1.0));
        }
        // Each message word's matching vocabulary words, with their similarity.
        let mut matches: Vec<Vec<(u32, f64)>> = Vec::with_capacity(words.len());
        let mut best_for_word: std::collections::HashMap<u32, f64> =
            std::collections::HashMap::new();
        for word in words {
            let mut found: Vec<(u32, f64)> = Vec::new();
            for key in crate::compile::deletions(word) {
                for &id in index.deletes.get(&key).map_or(&[][..], Vec::as_slice) {
                    if found.iter().any(|(f, _)| *f == id) {
                        continue;
                    }
                    let sim = word_similarity(word, &index.words[id as usize]);
                    if sim > 0.0 {
                        found.push((id, sim));
                        let entry = best_for_word.entry(id).or_insert(0.0);
                        *entry = entry.max(sim);
                    }
                }
            }
            matches.push(found);
        }
        // Only examples sharing a (near) word can score; score those.
        let mut candidates: Vec<(u32, u32)> = best_for_word
            .keys()
            .flat_map(|&id| index.postings[id as usize].iter().copied())
            .collect();
        candidates.sort_unstable();
        candidates.dedup();
        let mut best: Option<(usize, f64)> = None;
        for (intent, example) in candidates {
            let intent = intent as usize;
            if !allowed(intent) {
                continue;
            }
            let ids = &index.examples[intent][example as usize];
            let forward: f64 = ids
                .iter()
                .map(|id| best_for_word.get(id).copied().unwrap_or(0.0))
                .sum();
            let backward: f64 = matches
                .iter()
                .map(|m| {
                    m.iter()
                        .filter(|(id, _)| ids.contains(id))
                        .map(|(_, s)| *s)
                        .fold(0.0, f64::max)
                })
                .sum();
            #[allow(clippy::cast_precision_loss)]
            let score = (forward + backward) / (ids.len() + words.len()) as f64;
            // Candidates come in intent order, so a tie keeps the first intent.
            if best.is_none_or(|(_, s)| score > s) {
                best = Some((intent, score));
            }
        }
        best
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
        let normalized = crate::text::normalize(text);
        let words: Vec<&str> = normalized.split(' ').filter(|w| !w.is_empty()).collect();
        let best = Builtin::best(program, text, &words, None);
        Builtin::result(program, best, entities(program, text, &words))
    }

    fn classify_global(&self, program: &Program, text: &str) -> Nlu {
        let normalized = crate::text::normalize(text);
        let words: Vec<&str> = normalized.split(' ').filter(|w| !w.is_empty()).collect();
        let best = Builtin::best(program, text, &words, Some(&program.global_intents));
        Builtin::result(program, best, BTreeMap::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_words_need_exact_matches() {
        assert!(word_similarity("sim", "sin").abs() < f64::EPSILON);
        assert!(word_similarity("saldo", "saldos") > 0.8);
    }

    #[test]
    fn very_long_words_need_exact_matches() {
        let limit = crate::compile::MAX_TYPO_WORD_CHARS;
        let at_limit = "a".repeat(limit);
        assert!(word_similarity(&at_limit, &format!("{}b", "a".repeat(limit - 1))) > 0.8);
        let long = "a".repeat(limit + 1);
        let typo = format!("{}b", "a".repeat(limit));
        assert!(word_similarity(&long, &typo).abs() < f64::EPSILON);
        assert!((word_similarity(&long, &long) - 1.0).abs() < f64::EPSILON);
        assert_eq!(crate::compile::deletions(&at_limit).len(), limit + 1);
        assert_eq!(crate::compile::deletions(&long), vec![long.clone()]);
    }
}
