//! The built-in intent classifier: a linear model over word and character
//! n-grams, trained when the bot is compiled (docs/NLU.md).
//!
//! Scoring a message normalises it, looks its features up in the vocabulary
//! and adds each feature's row of class weights: time proportional to the
//! message's length times the number of classes, whatever the number of
//! examples. Scores become probabilities through a softmax that also has a
//! "none of these" option fixed at score 0 (the margin every class was
//! trained against), at a temperature cross-validation chose, so confidence
//! is a calibrated probability and a message unlike every intent gets a low
//! one.

pub mod eval;
pub mod features;
pub mod train;

use serde::{Deserialize, Serialize};

pub use features::Scratch;
use features::Vocabulary;
pub use train::{Example, train};

/// The fewest different examples an intent without a pattern should have:
/// cross-validation on small bots shows an intent with one or two examples
/// is mostly missed unless a message repeats one (`check::few_examples`
/// warns below it).
pub const MIN_EXAMPLES: usize = 3;

/// Most examples × classes the classifier is trained on. Training costs
/// time in proportion to this (every example is scored against every
/// class on each pass), and memory in proportion to the features times the
/// classes: 5,000,000 is BANKING77 six times over (10,003 × 77), or 1,000
/// intents with 5 examples each, and compiles in seconds. A bigger bot is
/// compiled without a trained model: its messages match patterns and
/// examples exactly, and `cellflow nlu classify` says so.
pub const MAX_TRAINING_SIZE: usize = 5_000_000;

/// Whether a bot with this many examples and classes is trained.
#[must_use]
pub fn fits(examples: usize, classes: usize) -> bool {
    examples.saturating_mul(classes) <= MAX_TRAINING_SIZE
}

/// What cross-validation chose.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// Scores are divided by it before the softmax.
    pub temperature: f32,
    /// The confidence below which a message is not understood, unless the
    /// bot sets its own.
    pub threshold: f32,
}

/// A trained model; part of the compiled program and of its artifact.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Model {
    vocabulary: Vocabulary,
    /// Intent classes; a class after them, if any, is out of scope.
    intents: u32,
    classes: u32,
    /// Per feature, per class: the weight divided by the feature's scale,
    /// rounded to a byte (a model a quarter the size, and no accuracy lost
    /// that we could measure).
    #[serde(with = "bytes")]
    weights: Vec<i8>,
    /// Per feature: what its bytes are multiplied by.
    scales: Vec<f32>,
    /// Per class.
    bias: Vec<f32>,
    pub calibration: Calibration,
}

impl Model {
    /// Rounds feature-major weights (the bias as the last feature) to bytes,
    /// one scale per feature.
    fn quantize(
        vocabulary: Vocabulary,
        intents: u32,
        classes: u32,
        trained: &[f32],
        calibration: Calibration,
    ) -> Model {
        let k = classes as usize;
        let features = vocabulary.len();
        let mut weights = Vec::with_capacity(features * k);
        let mut scales = Vec::with_capacity(features);
        for row in trained.chunks_exact(k).take(features) {
            let largest = row.iter().map(|w| w.abs()).fold(0.0f32, f32::max);
            let scale = largest / 127.0;
            scales.push(scale);
            weights.extend(row.iter().map(|&w| {
                #[allow(clippy::cast_possible_truncation)]
                let q = if scale > 0.0 {
                    (w / scale).round().clamp(-127.0, 127.0) as i8
                } else {
                    0
                };
                q
            }));
        }
        Model {
            vocabulary,
            intents,
            classes,
            weights,
            scales,
            bias: trained[features * k..].to_vec(),
            calibration,
        }
    }

    /// How many intents it tells apart.
    #[must_use]
    pub fn intents(&self) -> usize {
        self.intents as usize
    }

    /// How many features it knows.
    #[must_use]
    pub fn features(&self) -> usize {
        self.vocabulary.len()
    }

    /// Whether a model read from an artifact fits together: every table the
    /// length the others say.
    #[must_use]
    pub fn is_consistent(&self) -> bool {
        let classes = self.classes as usize;
        let features = self.vocabulary.len();
        self.vocabulary.is_consistent()
            && (self.classes == self.intents || self.classes == self.intents + 1)
            && self.bias.len() == classes
            && self.scales.len() == features
            && self.weights.len() == features.saturating_mul(classes)
            && self.calibration.temperature > 0.0
            && self.calibration.temperature.is_finite()
            && self.scales.iter().chain(&self.bias).all(|w| w.is_finite())
    }

    /// Scores the text in `scratch` (after [`Scratch::load`]): leaves each
    /// intent's probability in `scratch.scores` and returns the probability
    /// that the message is none of them.
    pub fn probabilities(&self, scratch: &mut Scratch) -> f32 {
        scratch.featurize(&self.vocabulary);
        if scratch.words.is_empty() && scratch.chars.is_empty() {
            // Nothing in common with any example: none of them.
            scratch.scores.clear();
            scratch.scores.resize(self.intents as usize, 0.0);
            return 1.0;
        }
        let (word_scale, char_scale) = self.vocabulary.scales(scratch);
        let classes = self.classes as usize;
        let mut raw = std::mem::take(&mut scratch.raw);
        raw.clear();
        raw.extend_from_slice(&self.bias);
        let value = |id: u32, scale: f32| {
            let id = id as usize;
            let row = &self.weights[id * classes..(id + 1) * classes];
            (self.vocabulary.idf[id] * scale * self.scales[id], row)
        };
        for (ids, scale) in [(&scratch.words, word_scale), (&scratch.chars, char_scale)] {
            // Two rows at a time: one pass over the scores for both, which
            // is most of the time a message costs.
            let mut pairs = ids.chunks_exact(2);
            for pair in &mut pairs {
                let ((xa, a), (xb, b)) = (value(pair[0], scale), value(pair[1], scale));
                for ((score, &wa), &wb) in raw.iter_mut().zip(a).zip(b) {
                    *score += xa * f32::from(wa) + xb * f32::from(wb);
                }
            }
            for &id in pairs.remainder() {
                let (x, row) = value(id, scale);
                for (score, &w) in raw.iter_mut().zip(row) {
                    *score += x * f32::from(w);
                }
            }
        }
        let reject = softmax(
            &raw,
            self.intents as usize,
            self.calibration.temperature,
            &mut scratch.scores,
        );
        scratch.raw = raw;
        reject
    }
}

/// The score of the "none of these" option. Every class was trained to
/// score +1 or more on its examples and −1 or less on the others', so 0 is
/// where a class's own model is undecided; the option sits below that
/// because a message that shares only part of an example (one word of it, a
/// typo) scores a little under 0 for its intent, and should still win over
/// "none" when nothing else is near.
pub const NONE_SCORE: f32 = -0.3;

/// Turns class scores into intent probabilities in `out` (one per intent),
/// against a "none" option at [`NONE_SCORE`]; returns the rest of the
/// probability: none, plus the out-of-scope class when there is one.
pub(crate) fn softmax(scores: &[f32], intents: usize, temperature: f32, out: &mut Vec<f32>) -> f32 {
    let none = NONE_SCORE / temperature;
    let top = scores.iter().map(|s| s / temperature).fold(none, f32::max);
    out.clear();
    let none = (none - top).exp();
    let mut total = none;
    let mut rest = none;
    for (class, s) in scores.iter().enumerate() {
        let e = (s / temperature - top).exp();
        total += e;
        if class < intents {
            out.push(e);
        } else {
            rest += e;
        }
    }
    for p in out.iter_mut() {
        *p /= total;
    }
    rest / total
}

/// Bytes in JSON as base64.
mod bytes {
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    #[allow(clippy::ptr_arg)]
    pub(super) fn serialize<S: Serializer>(bytes: &Vec<i8>, s: S) -> Result<S::Ok, S::Error> {
        let raw: Vec<u8> = bytes.iter().map(|&b| b.cast_unsigned()).collect();
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(raw))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<i8>, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        let raw = base64::engine::general_purpose::STANDARD
            .decode(text.as_bytes())
            .map_err(serde::de::Error::custom)?;
        Ok(raw.into_iter().map(u8::cast_signed).collect())
    }
}
