//! The features the classifier sees: word unigrams and bigrams and character
//! 2–5-grams inside word boundaries, of the normalised text.
//!
//! Every feature is a substring of one buffer, ` word word word `, so a
//! message is turned into feature ids without allocating: the buffer and the
//! id lists are kept between messages (see [`Scratch`]). Each block (words,
//! characters) is weighted by inverse document frequency and scaled to unit
//! length on its own, so neither block drowns the other.

use foldhash::fast::FixedState;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use std::hash::BuildHasher as _;

/// Shortest and longest character n-gram.
pub const CHAR_NGRAMS: std::ops::RangeInclusive<usize> = 2..=5;

/// Longest word, in characters, that is cut into character n-grams; a
/// longer one (no language's word, but a pasted token or a key held down)
/// counts as a word only, so a long message costs time in proportion to its
/// length and no more.
pub const MAX_NGRAM_WORD_CHARS: usize = 32;

/// The two blocks of features, each hashed with its own fixed seed, so a
/// word and a character n-gram with the same letters are different
/// features.
const WORD_SEED: u64 = 0x0057_4f52_4453;
const CHAR_SEED: u64 = 0x0043_4841_5253;

/// A feature's 64-bit fingerprint. Messages are looked up by fingerprint
/// alone, so a lookup hashes a slice of the message once and compares two
/// integers, never strings. Two of a bot's features with the same
/// fingerprint would share one weight; with 64 bits and a few hundred
/// thousand features that has a chance of about one in 10^8 per bot, and
/// the bot is then classified the same way every time.
fn fingerprint(seed: u64, feature: &str) -> u64 {
    FixedState::with_seed(seed).hash_one(feature)
}

/// The vocabulary: each feature and its id, with its weight.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(from = "Stored", into = "Stored")]
pub struct Vocabulary {
    /// Word unigrams and bigrams (`card`, `my card`), in id order: ids
    /// `0..words.len()`. Kept to write the artifact.
    words: Vec<Box<str>>,
    /// Character n-grams, with the space that marks a word's edge
    /// (` ca`, `card `), in id order after the words.
    chars: Vec<Box<str>>,
    /// Fingerprint → id, for both blocks.
    index: FxHashMap<u64, u32>,
    /// Per feature id: its inverse document frequency.
    pub(crate) idf: Vec<f32>,
    /// The length of the character block beside the word block's 1.
    pub(crate) char_weight: f32,
}

/// The vocabulary as written in an artifact: feature strings in id order.
/// Fingerprints are not stored but computed again when it is read, so the
/// hash function may change without changing artifacts.
#[derive(Serialize, Deserialize)]
struct Stored {
    words: Vec<Box<str>>,
    chars: Vec<Box<str>>,
    idf: Vec<f32>,
    #[serde(default = "one")]
    char_weight: f32,
}

fn one() -> f32 {
    1.0
}

impl From<Stored> for Vocabulary {
    fn from(stored: Stored) -> Vocabulary {
        let mut vocabulary = Vocabulary::new(stored.words, stored.chars, stored.idf);
        vocabulary.char_weight = stored.char_weight;
        vocabulary
    }
}

impl From<Vocabulary> for Stored {
    fn from(vocabulary: Vocabulary) -> Stored {
        Stored {
            words: vocabulary.words,
            chars: vocabulary.chars,
            idf: vocabulary.idf,
            char_weight: vocabulary.char_weight,
        }
    }
}

/// Buffers reused from one message to the next.
#[derive(Debug, Default)]
pub struct Scratch {
    /// The normalised text between spaces: ` word word `.
    padded: String,
    /// Byte offsets of the characters of the word being cut into n-grams.
    bounds: Vec<usize>,
    /// The message's word features, then its character features, each
    /// once, in the order they first occur.
    pub(crate) words: Vec<u32>,
    pub(crate) chars: Vec<u32>,
    /// Per feature id, the last message it was seen in (`generation`):
    /// each feature is kept once without sorting the lists.
    seen: Vec<u32>,
    generation: u32,
    /// The class scores.
    pub(crate) raw: Vec<f32>,
    /// Each intent's probability.
    pub scores: Vec<f32>,
}

impl Scratch {
    /// The normalised text, as the last [`Scratch::load`] left it.
    pub(crate) fn normalized(&self) -> &str {
        self.padded.trim()
    }

    /// The normalised text with a space before and after it: a phrase is
    /// one of its words or runs of words when ` phrase ` occurs in it.
    pub(crate) fn padded(&self) -> &str {
        &self.padded
    }

    /// Normalises a message into the buffer.
    pub fn load(&mut self, text: &str) {
        self.padded.clear();
        self.padded.push(' ');
        crate::text::normalize_into(text, &mut self.padded);
        self.padded.push(' ');
    }

    /// Calls `each` with every feature string of the loaded text: first
    /// `true` and each word feature, then `false` and each character n-gram.
    /// Duplicates are passed as often as they occur.
    pub(crate) fn for_each_feature(&mut self, mut each: impl FnMut(bool, &str)) {
        let text = self.padded.as_str();
        let inner = text.trim();
        if inner.is_empty() {
            return;
        }
        let mut previous: Option<usize> = None; // start of the previous word
        let mut start = 1; // byte offset of the current word in `text`
        for word in inner.split(' ') {
            each(true, word);
            if let Some(p) = previous {
                each(true, &text[p..start + word.len()]);
            }
            previous = Some(start);
            // The word with its edge spaces, cut into character n-grams.
            let edged = &text[start - 1..=start + word.len()];
            start += word.len() + 1;
            // ASCII is one byte a character: no offsets to collect.
            let ascii = edged.is_ascii();
            if !ascii {
                self.bounds.clear();
                self.bounds.extend(edged.char_indices().map(|(i, _)| i));
                self.bounds.push(edged.len());
            }
            let count = if ascii {
                edged.len()
            } else {
                self.bounds.len() - 1
            };
            if count > MAX_NGRAM_WORD_CHARS + 2 {
                continue;
            }
            let offset = |at: usize| if ascii { at } else { self.bounds[at] };
            for n in CHAR_NGRAMS {
                if n > count {
                    break;
                }
                for at in 0..=count - n {
                    each(false, &edged[offset(at)..offset(at + n)]);
                }
            }
        }
    }

    /// Turns the loaded text into the distinct ids of its known features.
    pub(crate) fn featurize(&mut self, vocabulary: &Vocabulary) {
        let (mut words, mut chars, mut seen) = (
            std::mem::take(&mut self.words),
            std::mem::take(&mut self.chars),
            std::mem::take(&mut self.seen),
        );
        words.clear();
        chars.clear();
        if seen.len() < vocabulary.len() {
            seen.resize(vocabulary.len(), 0);
        }
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            seen.fill(0);
            self.generation = 1;
        }
        let generation = self.generation;
        self.for_each_feature(|is_word, feature| {
            let (block_seed, ids) = if is_word {
                (WORD_SEED, &mut words)
            } else {
                (CHAR_SEED, &mut chars)
            };
            if let Some(&id) = vocabulary.index.get(&fingerprint(block_seed, feature)) {
                let stamp = &mut seen[id as usize];
                if *stamp != generation {
                    *stamp = generation;
                    ids.push(id);
                }
            }
        });
        self.words = words;
        self.chars = chars;
        self.seen = seen;
    }
}

impl Vocabulary {
    /// A vocabulary of these features in id order, words first.
    fn new(words: Vec<Box<str>>, chars: Vec<Box<str>>, idf: Vec<f32>) -> Vocabulary {
        let mut index = FxHashMap::default();
        index.reserve(words.len() + chars.len());
        let mut id = 0u32;
        for (seed, block) in [(WORD_SEED, &words), (CHAR_SEED, &chars)] {
            for feature in block {
                index.insert(fingerprint(seed, feature), id);
                id = id.saturating_add(1);
            }
        }
        Vocabulary {
            words,
            chars,
            index,
            idf,
            char_weight: 1.0,
        }
    }

    /// Builds the vocabulary of a corpus: every feature of every text, with
    /// ids in sorted order (so the same texts always give the same ids).
    pub(crate) fn build<'a>(texts: impl IntoIterator<Item = &'a str>) -> Vocabulary {
        let mut scratch = Scratch::default();
        // Feature → (number of texts it occurs in, the last text it was seen in).
        let mut words: FxHashMap<Box<str>, (u32, u32)> = FxHashMap::default();
        let mut chars: FxHashMap<Box<str>, (u32, u32)> = FxHashMap::default();
        let mut documents = 0u32;
        for text in texts {
            documents += 1;
            scratch.load(text);
            scratch.for_each_feature(|is_word, feature| {
                let map = if is_word { &mut words } else { &mut chars };
                if let Some((df, last)) = map.get_mut(feature) {
                    if *last != documents {
                        *df += 1;
                        *last = documents;
                    }
                } else {
                    map.insert(feature.into(), (1, documents));
                }
            });
        }
        // Smoothed: as if one more text held every feature.
        #[allow(clippy::cast_precision_loss)]
        let idf = |df: u32| ((1.0 + documents as f32) / (1.0 + df as f32)).ln() + 1.0;
        let sorted = |map: FxHashMap<Box<str>, (u32, u32)>| {
            let mut pairs: Vec<(Box<str>, u32)> =
                map.into_iter().map(|(f, (df, _))| (f, df)).collect();
            pairs.sort_unstable();
            pairs
        };
        let mut weights = Vec::with_capacity(words.len() + chars.len());
        let mut block = |map| -> Vec<Box<str>> {
            sorted(map)
                .into_iter()
                .map(|(feature, df)| {
                    weights.push(idf(df));
                    feature
                })
                .collect()
        };
        let words = block(words);
        let chars = block(chars);
        Vocabulary::new(words, chars, weights)
    }

    /// Whether every feature string has an id with a weight.
    pub(crate) fn is_consistent(&self) -> bool {
        self.words.len() + self.chars.len() == self.idf.len()
            && self.idf.iter().all(|w| w.is_finite())
    }

    /// How many features there are.
    #[must_use]
    pub fn len(&self) -> usize {
        self.idf.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.idf.is_empty()
    }

    /// Each featurized block's value per feature: idf, scaled so the word
    /// block has unit length and the character block `char_weight`.
    /// Returns the scale of the word block and of the character block.
    pub(crate) fn scales(&self, scratch: &Scratch) -> (f32, f32) {
        let norm = |ids: &[u32]| {
            let sum: f32 = ids
                .iter()
                .map(|&id| self.idf[id as usize] * self.idf[id as usize])
                .sum();
            if sum > 0.0 { 1.0 / sum.sqrt() } else { 0.0 }
        };
        (
            norm(&scratch.words),
            self.char_weight * norm(&scratch.chars),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn features(text: &str) -> Vec<(bool, String)> {
        let mut scratch = Scratch::default();
        scratch.load(text);
        let mut out = Vec::new();
        scratch.for_each_feature(|w, f| out.push((w, f.to_owned())));
        out
    }

    #[test]
    fn words_bigrams_and_edge_marked_char_ngrams() {
        let got = features("¡My CARD!");
        let words: Vec<&str> = got
            .iter()
            .filter(|(w, _)| *w)
            .map(|(_, f)| f.as_str())
            .collect();
        assert_eq!(words, ["my", "card", "my card"]);
        let chars: Vec<&str> = got
            .iter()
            .filter(|(w, _)| !*w)
            .map(|(_, f)| f.as_str())
            .collect();
        assert_eq!(
            chars,
            [
                " m", "my", "y ", " my", "my ", " my ", // my
                " c", "ca", "ar", "rd", "d ", " ca", "car", "ard", "rd ", " car", "card", "ard ",
                " card", "card ",
            ]
        );
    }

    #[test]
    fn multibyte_characters_are_cut_on_their_boundaries() {
        let got = features("日本");
        assert!(got.contains(&(false, " 日".to_owned())));
        assert!(got.contains(&(false, " 日本 ".to_owned())));
        assert!(features("  ?! ").is_empty());
    }

    #[test]
    fn ids_are_sorted_and_survive_storage() {
        let vocabulary = Vocabulary::build(["my card", "card arrived"]);
        let stored = serde_json::to_string(&vocabulary).unwrap();
        let back: Vocabulary = serde_json::from_str(&stored).unwrap();
        assert_eq!(serde_json::to_string(&back).unwrap(), stored);
        let mut scratch = Scratch::default();
        scratch.load("Card, arrived!");
        scratch.featurize(&back);
        assert_eq!(scratch.words.len(), 3);
        let mut distinct = scratch.words.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), 3);
    }
}
