//! Measuring a classifier on labelled messages: what `cellflow nlu eval`
//! reports (docs/NLU.md).
//!
//! Takes one [`Prediction`] per labelled message (its true class, the most
//! likely intent with its confidence, and whether that reached the bot's
//! threshold) and promises plain figures: a confusion matrix, precision,
//! recall and F1 per intent, accuracy, macro-F1, the pairs of intents most
//! often taken for each other, how many out-of-scope messages were
//! rejected, and the threshold that would have done most good on these
//! messages. How a message is predicted (patterns, exact examples, the
//! model) is the caller's business, so the same figures serve a data file
//! and cross-validation ([`folds`], [`cross_validate`]).
//!
//! Classes are numbered as in training: intents first, then one class for
//! out of scope (the number of intents).

use serde::Serialize;

use super::{Example, Model, train};

/// How the classifier saw one labelled message.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Prediction {
    /// The message's label: an intent's index, or the number of intents for
    /// a message that should be rejected.
    pub truth: u32,
    /// The most likely intent and its confidence; `None` when the
    /// classifier offered none (no model, or an out-of-scope example).
    pub best: Option<(u32, f32)>,
    /// Whether the best intent reached the threshold: the bot acts on it.
    pub accepted: bool,
}

impl Prediction {
    /// The intent the bot acts on; `None` for "not understood".
    #[must_use]
    pub fn predicted(&self) -> Option<u32> {
        self.best
            .filter(|_| self.accepted)
            .map(|(intent, _)| intent)
    }

    /// Whether the bot did the right thing: acted on the labelled intent,
    /// or rejected an out-of-scope message.
    #[must_use]
    pub fn is_right(&self, intents: u32) -> bool {
        match self.predicted() {
            Some(intent) => intent == self.truth,
            None => self.truth == intents,
        }
    }
}

/// Counts of (label, outcome): rows are labels (the intents, then out of
/// scope), columns outcomes (the intents, then not understood).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConfusionMatrix {
    intents: usize,
    counts: Vec<u32>,
}

impl ConfusionMatrix {
    /// Tallies predictions for a classifier of `intents` intents.
    ///
    /// # Panics
    /// If a prediction names a class beyond `intents` (a caller's bug).
    #[must_use]
    pub fn new(intents: usize, predictions: &[Prediction]) -> ConfusionMatrix {
        let side = intents + 1;
        let mut counts = vec![0; side * side];
        for p in predictions {
            let row = p.truth as usize;
            let column = p.predicted().map_or(intents, |i| i as usize);
            assert!(row < side && column < side, "a class beyond the intents");
            counts[row * side + column] += 1;
        }
        ConfusionMatrix { intents, counts }
    }

    /// How many intents (the matrix has one more row and column).
    #[must_use]
    pub fn intents(&self) -> usize {
        self.intents
    }

    /// Messages labelled `truth` that came out as `outcome` (the number of
    /// intents for out of scope / not understood).
    #[must_use]
    pub fn get(&self, truth: usize, outcome: usize) -> u32 {
        self.counts[truth * (self.intents + 1) + outcome]
    }

    /// Messages labelled `truth`.
    #[must_use]
    pub fn row_total(&self, truth: usize) -> u32 {
        (0..=self.intents).map(|o| self.get(truth, o)).sum()
    }

    /// Messages the bot took for `outcome`.
    #[must_use]
    pub fn column_total(&self, outcome: usize) -> u32 {
        (0..=self.intents).map(|t| self.get(t, outcome)).sum()
    }

    /// One intent's figures.
    #[must_use]
    pub fn score(&self, intent: usize) -> IntentScore {
        let correct = self.get(intent, intent);
        let support = self.row_total(intent);
        let predicted = self.column_total(intent);
        let precision = ratio(correct, predicted).unwrap_or(0.0);
        let recall = ratio(correct, support).unwrap_or(0.0);
        let f1 = if precision + recall > 0.0 {
            2.0 * precision * recall / (precision + recall)
        } else {
            0.0
        };
        IntentScore {
            support,
            predicted,
            correct,
            not_understood: self.get(intent, self.intents),
            precision,
            recall,
            f1,
        }
    }

    /// Share of in-scope messages taken for their own intent (a rejection
    /// counts as wrong); `None` without in-scope messages.
    #[must_use]
    pub fn accuracy(&self) -> Option<f64> {
        let correct: u32 = (0..self.intents).map(|i| self.get(i, i)).sum();
        let in_scope: u32 = (0..self.intents).map(|i| self.row_total(i)).sum();
        ratio(correct, in_scope)
    }

    /// The mean F1 over the intents that occur: labelled in some message or
    /// predicted for some message. `None` when none does.
    #[must_use]
    pub fn macro_f1(&self) -> Option<f64> {
        let scores: Vec<f64> = (0..self.intents)
            .map(|i| self.score(i))
            .filter(|s| s.support > 0 || s.predicted > 0)
            .map(|s| s.f1)
            .collect();
        #[allow(clippy::cast_precision_loss)]
        let mean = (!scores.is_empty()).then(|| scores.iter().sum::<f64>() / scores.len() as f64);
        mean
    }

    /// Share of out-of-scope messages rejected; `None` without any.
    #[must_use]
    pub fn out_of_scope_recall(&self) -> Option<f64> {
        let n = self.intents;
        ratio(self.get(n, n), self.row_total(n))
    }

    /// Pairs of different intents, the first labelled and the second
    /// predicted, with their count: most frequent first, then by index.
    #[must_use]
    pub fn confused_pairs(&self) -> Vec<(usize, usize, u32)> {
        let mut pairs: Vec<(usize, usize, u32)> = (0..self.intents)
            .flat_map(|t| (0..self.intents).map(move |p| (t, p)))
            .filter(|(t, p)| t != p)
            .map(|(t, p)| (t, p, self.get(t, p)))
            .filter(|&(_, _, count)| count > 0)
            .collect();
        pairs.sort_by(|a, b| b.2.cmp(&a.2).then((a.0, a.1).cmp(&(b.0, b.1))));
        pairs
    }
}

fn ratio(part: u32, whole: u32) -> Option<f64> {
    (whole > 0).then(|| f64::from(part) / f64::from(whole))
}

/// One intent's figures on the labelled messages.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct IntentScore {
    /// Messages labelled with it.
    pub support: u32,
    /// Messages the bot took for it (whatever their label).
    pub predicted: u32,
    /// Messages labelled with it and taken for it.
    pub correct: u32,
    /// Messages labelled with it that the bot did not understand.
    pub not_understood: u32,
    /// `correct / predicted`; 0 when it was never predicted.
    pub precision: f64,
    /// `correct / support`; 0 without support.
    pub recall: f64,
    /// The harmonic mean of the two; 0 when both are.
    pub f1: f64,
}

/// The threshold that would have done most good on these messages: each
/// right intent accepted counts +1, each wrong one (another intent, or an
/// intent for an out-of-scope message) −1, a rejection 0. Sure hits take
/// part at confidence 1. `None` when no message had a best intent.
#[must_use]
pub fn suggested_threshold(predictions: &[Prediction]) -> Option<f32> {
    let mut scored: Vec<(f32, bool)> = predictions
        .iter()
        .filter_map(|p| {
            p.best
                .map(|(intent, confidence)| (confidence, intent == p.truth))
        })
        .collect();
    if scored.is_empty() {
        return None;
    }
    train::best_threshold(&mut scored)
}

/// Share of in-scope messages whose most likely intent is their label,
/// whatever its confidence: against [`ConfusionMatrix::accuracy`], it
/// tells mistakes the threshold causes from mistakes of the model. `None`
/// without in-scope messages.
#[must_use]
pub fn best_intent_accuracy(predictions: &[Prediction], intents: u32) -> Option<f64> {
    let in_scope = predictions.iter().filter(|p| p.truth < intents);
    let (mut right, mut total) = (0u32, 0u32);
    for p in in_scope {
        total += 1;
        right += u32::from(p.best.is_some_and(|(intent, _)| intent == p.truth));
    }
    ratio(right, total)
}

/// Assigns each labelled row to one of `k` folds, stratified: each class's
/// rows, in the order given, are dealt out in turn, continuing where the
/// previous class stopped, so every fold gets its share of every class and
/// the folds differ in size by at most one. Deterministic: the same labels
/// always give the same folds.
#[must_use]
pub fn folds(labels: &[u32], k: usize) -> Vec<usize> {
    let k = k.max(1);
    let mut order: Vec<usize> = (0..labels.len()).collect();
    order.sort_by_key(|&row| labels[row]);
    let mut fold = vec![0; labels.len()];
    for (turn, row) in order.into_iter().enumerate() {
        fold[row] = turn % k;
    }
    fold
}

/// Cross-validates: for each of `k` stratified [`folds`], trains a model on
/// the other folds' examples and lets `predict` classify the held-out ones
/// with it. Returns one prediction per example, in the order given; each
/// from a model that never saw it.
///
/// # Panics
/// Never: every row falls in exactly one of the `k` folds.
pub fn cross_validate(
    examples: &[Example<'_>],
    intents: u32,
    k: usize,
    mut predict: impl FnMut(&Model, &Example<'_>) -> Prediction,
) -> Vec<Prediction> {
    let labels: Vec<u32> = examples.iter().map(|e| e.class).collect();
    let assigned = folds(&labels, k);
    let mut predictions: Vec<Option<Prediction>> = vec![None; examples.len()];
    for fold in 0..k {
        let training: Vec<Example<'_>> = examples
            .iter()
            .zip(&assigned)
            .filter(|&(_, &f)| f != fold)
            .map(|(e, _)| *e)
            .collect();
        if training.len() == examples.len() {
            continue;
        }
        let model = train(&training, intents);
        for (row, example) in examples.iter().enumerate() {
            if assigned[row] == fold {
                predictions[row] = Some(predict(&model, example));
            }
        }
    }
    predictions
        .into_iter()
        .map(|p| p.expect("every row is in exactly one fold"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(truth: u32, best: Option<(u32, f32)>, accepted: bool) -> Prediction {
        Prediction {
            truth,
            best,
            accepted,
        }
    }

    /// Two intents (0, 1) and out of scope (2).
    fn sample() -> Vec<Prediction> {
        vec![
            p(0, Some((0, 0.9)), true),
            p(0, Some((0, 0.8)), true),
            p(0, Some((1, 0.7)), true),
            p(0, Some((0, 0.2)), false),
            p(1, Some((1, 0.9)), true),
            p(1, Some((1, 0.6)), true),
            p(2, Some((1, 0.3)), false),
            p(2, Some((0, 0.7)), true),
        ]
    }

    #[test]
    fn the_matrix_counts_labels_against_outcomes() {
        let m = ConfusionMatrix::new(2, &sample());
        assert_eq!(m.get(0, 0), 2);
        assert_eq!(m.get(0, 1), 1);
        assert_eq!(m.get(0, 2), 1, "a rejection is the last column");
        assert_eq!(m.get(2, 2), 1);
        assert_eq!(m.get(2, 0), 1);
        assert_eq!(m.row_total(0), 4);
        assert_eq!(m.column_total(0), 3);
    }

    #[test]
    fn precision_recall_and_f1_per_intent() {
        let m = ConfusionMatrix::new(2, &sample());
        let a = m.score(0);
        assert_eq!(
            (a.support, a.predicted, a.correct, a.not_understood),
            (4, 3, 2, 1)
        );
        assert!((a.precision - 2.0 / 3.0).abs() < 1e-9);
        assert!((a.recall - 0.5).abs() < 1e-9);
        assert!((a.f1 - 4.0 / 7.0).abs() < 1e-9);
        let b = m.score(1);
        assert!((b.precision - 2.0 / 3.0).abs() < 1e-9);
        assert!((b.recall - 1.0).abs() < 1e-9);
        assert!((b.f1 - 0.8).abs() < 1e-9);
    }

    #[test]
    fn accuracy_counts_rejections_as_wrong_and_ignores_out_of_scope() {
        let m = ConfusionMatrix::new(2, &sample());
        assert!((m.accuracy().unwrap() - 4.0 / 6.0).abs() < 1e-9);
        assert!((m.macro_f1().unwrap() - f64::midpoint(4.0 / 7.0, 0.8)).abs() < 1e-9);
        assert!((m.out_of_scope_recall().unwrap() - 0.5).abs() < 1e-9);
    }

    #[test]
    fn macro_f1_skips_intents_that_never_occur() {
        let m = ConfusionMatrix::new(3, &[p(0, Some((0, 0.9)), true)]);
        assert!((m.macro_f1().unwrap() - 1.0).abs() < 1e-9);
        let never_right = ConfusionMatrix::new(3, &[p(0, Some((1, 0.9)), true)]);
        assert!(never_right.macro_f1().unwrap().abs() < 1e-9);
    }

    #[test]
    fn empty_data_has_no_figures() {
        let m = ConfusionMatrix::new(2, &[]);
        assert_eq!(m.accuracy(), None);
        assert_eq!(m.macro_f1(), None);
        assert_eq!(m.out_of_scope_recall(), None);
        assert_eq!(suggested_threshold(&[]), None);
        let s = m.score(0);
        assert_eq!((s.precision, s.recall, s.f1), (0.0, 0.0, 0.0));
    }

    #[test]
    fn confused_pairs_are_most_frequent_first() {
        let mut predictions = sample();
        predictions.push(p(1, Some((0, 0.9)), true));
        predictions.push(p(1, Some((0, 0.9)), true));
        let m = ConfusionMatrix::new(2, &predictions);
        assert_eq!(m.confused_pairs(), vec![(1, 0, 2), (0, 1, 1)]);
    }

    #[test]
    fn the_suggested_threshold_separates_right_from_wrong() {
        // Right answers at 0.9 and 0.8, wrong ones at 0.3 and 0.2.
        let predictions = [
            p(0, Some((0, 0.9)), true),
            p(0, Some((0, 0.8)), true),
            p(0, Some((1, 0.3)), true),
            p(2, Some((1, 0.2)), false),
        ];
        let t = suggested_threshold(&predictions).unwrap();
        assert!(t > 0.3 && t < 0.8, "{t}");
    }

    #[test]
    fn a_prediction_is_right_when_the_bot_does_the_right_thing() {
        assert!(p(0, Some((0, 0.9)), true).is_right(2));
        assert!(!p(0, Some((0, 0.2)), false).is_right(2));
        assert!(p(2, Some((0, 0.2)), false).is_right(2));
        assert!(p(2, None, false).is_right(2));
        assert!(!p(2, Some((0, 0.9)), true).is_right(2));
    }

    #[test]
    fn best_intent_accuracy_ignores_the_threshold() {
        // Three of the four messages labelled 0 have it as their best
        // intent, one of them below the threshold.
        let accuracy = best_intent_accuracy(&sample(), 2).unwrap();
        assert!((accuracy - 5.0 / 6.0).abs() < 1e-9);
        assert_eq!(best_intent_accuracy(&[p(2, None, false)], 2), None);
    }

    #[test]
    fn folds_are_stratified_balanced_and_deterministic() {
        let labels = [0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 2, 2];
        let assigned = folds(&labels, 3);
        assert_eq!(assigned, folds(&labels, 3));
        for fold in 0..3 {
            let size = assigned.iter().filter(|&&f| f == fold).count();
            assert_eq!(size, 4);
            let ones = (0..labels.len())
                .filter(|&r| labels[r] == 1 && assigned[r] == fold)
                .count();
            assert_eq!(ones, 2, "class 1's six rows, two per fold");
        }
    }

    #[test]
    fn cross_validation_predicts_each_example_with_a_model_that_never_saw_it() {
        let texts = [
            ("what is my balance", 0),
            ("how much money do I have", 0),
            ("show my balance please", 0),
            ("my account balance", 0),
            ("send money to Ana", 1),
            ("transfer 20 dollars", 1),
            ("make a transfer", 1),
            ("transfer money to my sister", 1),
        ];
        let examples: Vec<Example<'_>> = texts
            .iter()
            .map(|&(text, class)| Example { text, class })
            .collect();
        let mut seen = Vec::new();
        let predictions = cross_validate(&examples, 2, 4, |model, example| {
            seen.push(example.text.to_owned());
            let mut scratch = crate::classifier::Scratch::default();
            scratch.load(example.text);
            model.probabilities(&mut scratch);
            let (best, confidence) = scratch
                .scores
                .iter()
                .enumerate()
                .fold((0, f32::MIN), |b, (i, &p)| if p > b.1 { (i, p) } else { b });
            Prediction {
                truth: example.class,
                best: Some((u32::try_from(best).unwrap(), confidence)),
                accepted: true,
            }
        });
        assert_eq!(predictions.len(), examples.len());
        seen.sort();
        let mut all: Vec<String> = texts.iter().map(|t| t.0.to_owned()).collect();
        all.sort();
        assert_eq!(seen, all, "each example is held out exactly once");
        for (p, e) in predictions.iter().zip(&examples) {
            assert_eq!(p.truth, e.class);
        }
    }
}
