//! Training: a multinomial (softmax) logistic regression over every class
//! at once, fitted by stochastic gradient descent, then a temperature and
//! a threshold chosen by cross-validation.
//!
//! The loss is what matters most for small bots: a softmax model weighs
//! every intent against the others as it learns, and on BANKING77 with
//! ten examples per intent it classifies 2.5 points more of the rest of
//! the training split right than the one-vs-rest linear SVM (squared
//! hinge loss, dual coordinate descent) that came before it, and 0.2
//! points more with all examples (docs/NLU.md has the figures). Plain SGD
//! suits the job: sparse text features, a few dozen to a few tens of
//! thousands of examples, and a fixed budget of updates that bounds the
//! training time; every update scores the example against every class in
//! one run over contiguous weights. L-BFGS (scikit-learn's solver, and
//! linfa-logistic's) needs far more passes over the data to reach the same
//! accuracy, and linfa's crates work on dense arrays, while BANKING77's
//! 36,000 features × 10,000 examples are 99.5 % zeros.
//!
//! Everything here is deterministic: the example order of each pass comes
//! from a fixed-seed generator, vocabularies are sorted, and no hash map is
//! iterated, so the same bot always gives the same model, byte for byte.

use super::features::{Scratch, Vocabulary};
use super::{Calibration, Model};

/// The SVM's penalty for a margin violation (LIBLINEAR's `C`).
const SVM_C: f32 = 0.5;
/// Most passes of the SVM over the data (5-fold cross-validation on
/// BANKING77's training split: the same accuracy at 5 passes as at 10).
const MAX_PASSES: usize = 5;
/// Stop when the projected gradients span less than this (LIBLINEAR's
/// default for the dual problem).
const TOLERANCE: f32 = 0.1;
/// The inverse of the softmax model's L2 penalty (scikit-learn's `C`): chosen by
/// cross-validation on BANKING77's training set, where 10 to 300 score
/// within 0.05 points of each other; see docs/NLU.md.
const C: f32 = 30.0;
/// The first step size, then divided by `1 + decay × pass`.
const LEARNING_RATE: f32 = 0.5;
/// Updates the passes add up to (a pass is one update per example), so
/// a bot's training time is bounded whatever its size: 60 passes of 770
/// examples, 6 of BANKING77's 10,003.
const UPDATES: usize = 46_000;
const PASSES: (usize, usize) = (6, 60);
/// Most examples cross-validation looks at: beyond this, a stratified
/// sample, so calibration costs a bounded share of the training time.
const CALIBRATION_SAMPLE: usize = 2000;
/// Fewer held-out predictions than this, or fewer examples per intent on
/// average than [`MIN_PER_INTENT`], and the temperature and threshold stay
/// at their defaults: with three examples per intent, the one held out
/// shares little with the other two, so cross-validation would judge the
/// model far less sure than it is on messages like its examples.
const MIN_HELD_OUT: usize = 40;
const MIN_PER_INTENT: usize = 6;
/// The threshold when cross-validation has too little to go on: the point
/// where a calibrated prediction is as likely right as wrong.
pub const DEFAULT_THRESHOLD: f32 = 0.5;
/// The SVM's temperature when cross-validation has too little to go on:
/// an example's own intent (score about +1) then gets most of the
/// probability, and a message that shares nothing with the examples
/// (every score about −1) gets little.
const SVM_TEMPERATURE: f32 = 0.3;
/// The range a chosen temperature is kept in.
const TEMPERATURE_RANGE: (f64, f64) = (0.05, 5.0);
/// The range a chosen threshold is kept in. Without out-of-scope examples,
/// cross-validation sees only messages the bot should understand, so the
/// lowest threshold it may choose is higher.
const THRESHOLD_RANGE: (f32, f32) = (0.15, 0.9);
const THRESHOLD_FLOOR_WITHOUT_OUT_OF_SCOPE: f32 = 0.3;

/// Which model a bot gets.
#[derive(Clone, Copy, Debug)]
enum Solver {
    /// The softmax model, in this many passes: wherever cross-validation
    /// has enough examples to calibrate it.
    Softmax { passes: usize },
    /// One-vs-rest SVMs, for bots with a handful of examples per intent:
    /// their scores have a known scale (about +1 for an example's own
    /// intent, −1 for the others), so a fixed temperature turns them into
    /// confidences that accept typos and one-word messages close to an
    /// example and refuse the rest, where the softmax model's
    /// uncalibrated confidence either takes an unrelated question for an
    /// intent that shares one word with it or refuses a typo.
    Svm,
}

impl Solver {
    fn for_bot(examples: &[Example<'_>], intents: u32) -> Solver {
        let in_scope = examples.iter().filter(|e| e.class < intents).count();
        if in_scope < MIN_HELD_OUT || in_scope < MIN_PER_INTENT * intents as usize {
            return Solver::Svm;
        }
        // The folds are trained as the whole is (the empty message
        // included), so calibration costs a bounded share of the time.
        Solver::Softmax {
            passes: UPDATES
                .div_ceil(examples.len() + 1)
                .clamp(PASSES.0, PASSES.1),
        }
    }

    /// The length of the character block beside the word block's 1: for
    /// the softmax model, chosen by cross-validation on BANKING77's
    /// training split (1.5 scores 0.5 points over 1 with ten examples per
    /// intent, and 0.2 over 2); the SVM's defaults were chosen at 1.
    fn char_weight(self) -> f32 {
        match self {
            Solver::Softmax { .. } => 1.5,
            Solver::Svm => 1.0,
        }
    }

    fn fit(
        self,
        matrix: &Matrix,
        rows: &[usize],
        labels: &[u32],
        intents: u32,
        classes: u32,
    ) -> Vec<f32> {
        match self {
            Solver::Softmax { passes } => {
                let mut weights = fit_softmax(matrix, rows, labels, classes, passes);
                adjust_for_priors(&mut weights, matrix.width, rows, labels, intents, classes);
                weights
            }
            Solver::Svm => fit_svm(matrix, rows, labels, classes),
        }
    }

    /// The temperature when cross-validation has too little to go on.
    fn default_temperature(self) -> f32 {
        match self {
            // The model's own probabilities.
            Solver::Softmax { .. } => 1.0,
            Solver::Svm => SVM_TEMPERATURE,
        }
    }
}

/// A labelled text: its class is an intent's index, or the number of intents
/// for an out-of-scope example.
#[derive(Clone, Copy, Debug)]
pub struct Example<'a> {
    pub text: &'a str,
    pub class: u32,
}

/// The examples as sparse rows: feature ids and values, the bias last.
struct Matrix {
    starts: Vec<usize>,
    ids: Vec<u32>,
    values: Vec<f32>,
    /// Per row: its squared length (bias included), for the SVM's steps.
    squared: Vec<f32>,
    /// Number of features plus one (the bias).
    width: usize,
}

impl Matrix {
    fn build(vocabulary: &Vocabulary, texts: impl Iterator<Item = impl AsRef<str>>) -> Matrix {
        let bias = u32::try_from(vocabulary.len()).unwrap_or(u32::MAX);
        let mut matrix = Matrix {
            starts: vec![0],
            ids: Vec::new(),
            values: Vec::new(),
            squared: Vec::new(),
            width: vocabulary.len() + 1,
        };
        let mut scratch = Scratch::default();
        for text in texts {
            scratch.load(text.as_ref());
            scratch.featurize(vocabulary);
            let (word_scale, char_scale) = vocabulary.scales(&scratch);
            let mut squared = 1.0;
            for (ids, scale) in [(&scratch.words, word_scale), (&scratch.chars, char_scale)] {
                for &id in ids {
                    let value = vocabulary.idf[id as usize] * scale;
                    matrix.ids.push(id);
                    matrix.values.push(value);
                    squared += value * value;
                }
            }
            matrix.ids.push(bias);
            matrix.values.push(1.0);
            matrix.squared.push(squared);
            matrix.starts.push(matrix.ids.len());
        }
        matrix
    }

    fn row(&self, row: usize) -> (&[u32], &[f32]) {
        let range = self.starts[row]..self.starts[row + 1];
        (&self.ids[range.clone()], &self.values[range])
    }
}

/// A fixed-seed generator for the order of each pass (SplitMix64): part of
/// the model's definition, so it is spelled out here rather than taken from
/// a crate whose sequence may change between versions.
struct Order(u64);

impl Order {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            #[allow(clippy::cast_possible_truncation)]
            let j = (self.next() % (i as u64 + 1)) as usize;
            items.swap(i, j);
        }
    }
}

/// Fits a linear SVM for every class against the rest (squared hinge
/// loss, dual coordinate descent: Hsieh et al., ICML 2008, the method
/// behind LIBLINEAR) on the given rows, all at once: one
/// pass visits each example and updates its dual variable for every class.
/// The classes' problems are independent, so this is the same descent as
/// fitting them one by one, but the weights are kept feature by feature
/// (`weights[feature * classes + class]`, the bias as the last feature), so
/// scoring an example for every class and updating every class's weights
/// are contiguous runs the compiler vectorises.
fn fit_svm(matrix: &Matrix, rows: &[usize], labels: &[u32], classes: u32) -> Vec<f32> {
    let k = classes as usize;
    let mut weights = vec![0.0f32; matrix.width * k];
    let diagonal = 0.5 / SVM_C;
    let mut alpha = vec![0.0f32; rows.len() * k];
    let mut index: Vec<usize> = (0..rows.len()).collect();
    let mut order = Order(u64::from(classes));
    let mut scores = vec![0.0f32; k];
    let mut steps: Vec<(usize, f32)> = Vec::with_capacity(k);
    for _ in 0..MAX_PASSES {
        let (mut max_pg, mut min_pg) = (f32::NEG_INFINITY, f32::INFINITY);
        order.shuffle(&mut index);
        for &i in &index {
            let row = rows[i];
            let (ids, values) = matrix.row(row);
            score_into(matrix, row, &weights, &mut scores);
            let alphas = &mut alpha[i * k..(i + 1) * k];
            let q = matrix.squared[row] + diagonal;
            steps.clear();
            for (class, (&s, a)) in scores.iter().zip(alphas.iter_mut()).enumerate() {
                let sign = if labels[row] as usize == class {
                    1.0
                } else {
                    -1.0
                };
                let g = sign * s - 1.0 + diagonal * *a;
                let projected = if *a == 0.0 { g.min(0.0) } else { g };
                max_pg = max_pg.max(projected);
                min_pg = min_pg.min(projected);
                if projected.abs() > 1e-12 {
                    let old = *a;
                    *a = (old - g / q).max(0.0);
                    steps.push((class, (*a - old) * sign));
                }
            }
            // Most classes do not move: update only those that do.
            for (&id, &v) in ids.iter().zip(values) {
                let w = &mut weights[id as usize * k..(id as usize + 1) * k];
                for &(class, step) in &steps {
                    w[class] += step * v;
                }
            }
        }
        if max_pg - min_pg <= TOLERANCE {
            break;
        }
    }
    weights
}

/// Fits a multinomial logistic regression on the given rows by stochastic
/// gradient descent: every class at once, against a "none" option whose
/// score is fixed at [`super::NONE_SCORE`] (the pivot the model's
/// probabilities are taken against), so the row of the empty message, when
/// no out-of-scope class exists, teaches "none".
fn fit_softmax(
    matrix: &Matrix,
    rows: &[usize],
    labels: &[u32],
    classes: u32,
    passes: usize,
) -> Vec<f32> {
    let k = classes as usize;
    // Slower decay for many short passes, faster for a few long ones
    // (0.1 at 60 passes, 0.3 from 20 down).
    #[allow(clippy::cast_precision_loss)]
    let decay = (6.0 / passes as f32).clamp(0.1, 0.3);
    #[allow(clippy::cast_precision_loss)]
    let lambda = 1.0 / (C * rows.len().max(1) as f32);
    let mut weights = vec![0.0f32; matrix.width * k];
    let mut scale = 1.0f32;
    let mut index: Vec<usize> = (0..rows.len()).collect();
    let mut order = Order(u64::from(classes));
    let mut scores = vec![0.0f32; k];
    let none = super::NONE_SCORE;
    for pass in 0..passes {
        order.shuffle(&mut index);
        #[allow(clippy::cast_precision_loss)]
        let eta = LEARNING_RATE / (1.0 + decay * pass as f32);
        for &i in &index {
            let row = rows[i];
            let (ids, values) = matrix.row(row);
            score_into(matrix, row, &weights, &mut scores);
            let top = scores.iter().map(|s| s * scale).fold(none, f32::max);
            let mut total = (none - top).exp();
            for s in &mut scores {
                *s = (*s * scale - top).exp();
                total += *s;
            }
            let label = labels[row] as usize;
            for (class, s) in scores.iter_mut().enumerate() {
                let y = if class == label { 1.0 } else { 0.0 };
                *s = (*s / total - y) * eta / scale;
            }
            scale *= 1.0 - eta * lambda;
            for (&id, &v) in ids.iter().zip(values) {
                let w = &mut weights[id as usize * k..(id as usize + 1) * k];
                for (w, &g) in w.iter_mut().zip(&scores) {
                    *w -= g * v;
                }
            }
            if scale < 1e-4 {
                for w in &mut weights {
                    *w *= scale;
                }
                scale = 1.0;
            }
        }
    }
    for w in &mut weights {
        *w *= scale;
    }
    weights
}

/// Logit adjustment (Menon et al., "Long-tail learning via logit
/// adjustment", ICLR 2021): subtracts from each intent's bias the log of
/// its share of the examples against an even share, so the model no
/// longer prefers an intent for having more examples. A bot's examples
/// say how much its authors wrote for each intent, not how often users
/// ask for it; with as many examples per intent this changes nothing.
/// On BANKING77's training split (5-fold cross-validation, where intents
/// have 35 to 187 examples each) it raises the mean recall per intent by
/// 0.34 points and accuracy by 0.05 (docs/NLU.md). The out-of-scope class
/// and the "none" option keep their scores.
fn adjust_for_priors(
    weights: &mut [f32],
    width: usize,
    rows: &[usize],
    labels: &[u32],
    intents: u32,
    classes: u32,
) {
    let k = classes as usize;
    let n = intents as usize;
    let mut counts = vec![0u32; n];
    for &row in rows {
        if let Some(count) = counts.get_mut(labels[row] as usize) {
            *count += 1;
        }
    }
    let present: Vec<u32> = counts.iter().copied().filter(|&c| c > 0).collect();
    if present.is_empty() {
        return;
    }
    #[allow(clippy::cast_precision_loss)]
    let mean = present.iter().map(|&c| f64::from(c)).sum::<f64>() / present.len() as f64;
    // The intents' biases: the last feature's row, its first `intents`.
    let bias = &mut weights[(width - 1) * k..(width - 1) * k + n];
    for (b, &count) in bias.iter_mut().zip(&counts) {
        if count > 0 {
            #[allow(clippy::cast_possible_truncation)]
            let shift = (f64::from(count) / mean).ln() as f32;
            *b -= shift;
        }
    }
}

/// A row's score for every class, from feature-major weights.
fn scores(matrix: &Matrix, row: usize, weights: &[f32], classes: usize) -> Vec<f32> {
    let mut scores = vec![0.0f32; classes];
    score_into(matrix, row, weights, &mut scores);
    scores
}

/// [`scores`] into a buffer of one score per class.
fn score_into(matrix: &Matrix, row: usize, weights: &[f32], scores: &mut [f32]) {
    let k = scores.len();
    scores.fill(0.0);
    let (ids, values) = matrix.row(row);
    for (&id, &v) in ids.iter().zip(values) {
        let w = &weights[id as usize * k..(id as usize + 1) * k];
        for (s, &w) in scores.iter_mut().zip(w) {
            *s += w * v;
        }
    }
}

/// Trains a model. `intents` is the number of intent classes; examples of
/// class `intents` are out of scope. The row of the message with no known
/// feature is always added, as out of scope: a message the bot has no word
/// for should not be read as one of its intents.
#[must_use]
pub fn train(examples: &[Example<'_>], intents: u32) -> Model {
    let mut vocabulary = Vocabulary::build(examples.iter().map(|e| e.text));
    let out_of_scope = examples.iter().any(|e| e.class == intents);
    let classes = intents + u32::from(out_of_scope);
    let solver = Solver::for_bot(examples, intents);
    vocabulary.char_weight = solver.char_weight();
    let mut matrix = Matrix::build(&vocabulary, examples.iter().map(|e| e.text));
    // The empty message: only the bias.
    matrix
        .ids
        .push(u32::try_from(vocabulary.len()).unwrap_or(u32::MAX));
    matrix.values.push(1.0);
    matrix.squared.push(1.0);
    matrix.starts.push(matrix.ids.len());
    let mut labels: Vec<u32> = examples.iter().map(|e| e.class).collect();
    labels.push(intents);

    let calibration = calibrate(&matrix, &labels, intents, classes, solver);
    let rows: Vec<usize> = (0..labels.len()).collect();
    let weights = solver.fit(&matrix, &rows, &labels, intents, classes);
    Model::quantize(vocabulary, intents, classes, &weights, calibration)
}

/// Splits rows into folds, each class spread evenly, in a fixed shuffled
/// order; classes with one example stay in every training part. At most
/// [`CALIBRATION_SAMPLE`] rows take part.
fn folds(labels: &[u32], classes: u32, count: usize) -> Vec<Vec<usize>> {
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); classes as usize + 1];
    for (row, &label) in labels.iter().enumerate() {
        by_class[label as usize].push(row);
    }
    let mut order = Order(0x5EED);
    #[allow(clippy::cast_precision_loss)]
    let keep = CALIBRATION_SAMPLE as f64 / labels.len().max(1) as f64;
    let mut folds = vec![Vec::new(); count];
    let mut next = 0;
    for rows in &mut by_class {
        order.shuffle(rows);
        if keep < 1.0 {
            #[allow(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                clippy::cast_precision_loss
            )]
            let kept = ((rows.len() as f64 * keep).ceil() as usize).max(2);
            rows.truncate(kept);
        }
        if rows.len() < 2 {
            continue;
        }
        for &row in rows.iter() {
            folds[next % count].push(row);
            next += 1;
        }
    }
    folds
}

/// Cross-validates to choose the temperature and the threshold.
fn calibrate(
    matrix: &Matrix,
    labels: &[u32],
    intents: u32,
    classes: u32,
    solver: Solver,
) -> Calibration {
    let defaults = Calibration {
        temperature: solver.default_temperature(),
        threshold: DEFAULT_THRESHOLD,
    };
    if matches!(solver, Solver::Svm) {
        // Too few examples to learn a calibration from.
        return defaults;
    }
    let count = if labels.len() <= 1000 { 5 } else { 3 };
    let folds = folds(labels, classes, count);
    let sampled: Vec<usize> = {
        let mut all: Vec<usize> = folds.iter().flatten().copied().collect();
        all.sort_unstable();
        all
    };
    // Rows in no fold (classes with one example, rows left out of the
    // sample) train every fold's model only when not sampled out.
    let always: Vec<usize> = {
        let mut counts = vec![0usize; classes as usize + 1];
        for &l in labels {
            counts[l as usize] += 1;
        }
        (0..labels.len())
            .filter(|r| counts[labels[*r] as usize] < 2 && sampled.binary_search(r).is_err())
            .collect()
    };
    let mut held_out: Vec<(Vec<f32>, u32)> = Vec::new();
    for (f, fold) in folds.iter().enumerate() {
        if fold.is_empty() {
            continue;
        }
        let mut rows: Vec<usize> = folds
            .iter()
            .enumerate()
            .filter(|(g, _)| *g != f)
            .flat_map(|(_, rows)| rows.iter().copied())
            .chain(always.iter().copied())
            .collect();
        rows.sort_unstable();
        let weights = solver.fit(matrix, &rows, labels, intents, classes);
        for &row in fold {
            held_out.push((scores(matrix, row, &weights, classes as usize), labels[row]));
        }
    }
    if held_out.len() < MIN_HELD_OUT {
        return defaults;
    }
    let temperature = fit_temperature(&held_out, intents);
    let threshold = choose_threshold(&held_out, intents, temperature);
    Calibration {
        temperature,
        threshold,
    }
}

/// The negative log-likelihood of the held-out labels at a temperature.
fn loss(held_out: &[(Vec<f32>, u32)], intents: u32, temperature: f32) -> f64 {
    let mut probabilities = Vec::new();
    held_out
        .iter()
        .map(|(scores, label)| {
            let reject = super::softmax(scores, intents as usize, temperature, &mut probabilities);
            let p = if *label < intents {
                probabilities[*label as usize]
            } else {
                reject
            };
            -f64::from(p.max(1e-9)).ln()
        })
        .sum()
}

/// The temperature that makes held-out probabilities most likely: a golden
/// section search over its logarithm.
fn fit_temperature(held_out: &[(Vec<f32>, u32)], intents: u32) -> f32 {
    let (mut low, mut high) = (TEMPERATURE_RANGE.0.ln(), TEMPERATURE_RANGE.1.ln());
    let ratio = (5f64.sqrt() - 1.0) / 2.0;
    #[allow(clippy::cast_possible_truncation)]
    let at = |x: f64| loss(held_out, intents, x.exp() as f32);
    let mut a = high - ratio * (high - low);
    let mut b = low + ratio * (high - low);
    let (mut fa, mut fb) = (at(a), at(b));
    for _ in 0..40 {
        if fa < fb {
            high = b;
            b = a;
            fb = fa;
            a = high - ratio * (high - low);
            fa = at(a);
        } else {
            low = a;
            a = b;
            fa = fb;
            b = low + ratio * (high - low);
            fb = at(b);
        }
    }
    #[allow(clippy::cast_possible_truncation)]
    let t = f64::midpoint(low, high).exp() as f32;
    t
}

/// The threshold that does most good on the held-out predictions: each
/// accepted right answer counts +1, each accepted wrong one (another intent,
/// or an out-of-scope message taken for an intent) −1, a rejection 0. With
/// calibrated probabilities this lands near 0.5, lower when the bot's
/// mistakes come with low confidence, higher when they come with high.
fn choose_threshold(held_out: &[(Vec<f32>, u32)], intents: u32, temperature: f32) -> f32 {
    let mut probabilities = Vec::new();
    let mut predictions: Vec<(f32, bool)> = held_out
        .iter()
        .map(|(scores, label)| {
            super::softmax(scores, intents as usize, temperature, &mut probabilities);
            let (best, p) = probabilities.iter().enumerate().fold(
                (0, f32::NEG_INFINITY),
                |(bi, bp), (i, &p)| {
                    if p > bp { (i, p) } else { (bi, bp) }
                },
            );
            let right = *label < intents && best == *label as usize;
            (p, right)
        })
        .collect();
    let threshold = best_threshold(&mut predictions).unwrap_or(DEFAULT_THRESHOLD);
    // (The empty message always trains, never is held out.)
    let out_of_scope = held_out.iter().any(|(_, l)| *l >= intents);
    let floor = if out_of_scope {
        THRESHOLD_RANGE.0
    } else {
        THRESHOLD_FLOOR_WITHOUT_OUT_OF_SCOPE
    };
    threshold.clamp(floor, THRESHOLD_RANGE.1)
}

/// The confidence threshold that does most good on labelled predictions
/// (the top intent's confidence, and whether accepting it would be right):
/// each accepted right answer counts +1, each accepted wrong one −1, a
/// rejection 0. Halfway between the last prediction accepted and the first
/// rejected; `None` without predictions.
#[must_use]
pub fn best_threshold(predictions: &mut [(f32, bool)]) -> Option<f32> {
    predictions.sort_unstable_by(|a, b| b.0.total_cmp(&a.0));
    let (mut best_gain, mut best_at, mut gain) = (0, 0, 0);
    for (i, (_, right)) in predictions.iter().enumerate() {
        gain += if *right { 1 } else { -1 };
        if gain > best_gain {
            best_gain = gain;
            best_at = i + 1;
        }
    }
    Some(match best_at {
        0 => predictions.first()?.0,
        n if n == predictions.len() => predictions[n - 1].0 * 0.9,
        n => f32::midpoint(predictions[n - 1].0, predictions[n].0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn examples<'a>(data: &'a [(&'a str, u32)]) -> Vec<Example<'a>> {
        data.iter()
            .map(|&(text, class)| Example { text, class })
            .collect()
    }

    #[test]
    fn the_same_examples_give_the_same_model() {
        let data = [
            ("what is my balance", 0),
            ("how much money do I have", 0),
            ("show my balance please", 0),
            ("send money to Ana", 1),
            ("transfer 20 dollars", 1),
            ("make a transfer", 1),
        ];
        let a = serde_json::to_string(&train(&examples(&data), 2)).unwrap();
        let b = serde_json::to_string(&train(&examples(&data), 2)).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn priors_move_only_intent_biases() {
        // Two features and the bias; three classes, the last out of scope.
        let (width, classes) = (3usize, 3u32);
        let mut weights = vec![0.0f32; width * 3];
        let labels = [0, 1, 1, 1, 2, 2];
        let rows: Vec<usize> = (0..labels.len()).collect();
        adjust_for_priors(&mut weights, width, &rows, &labels, 2, classes);
        let bias = &weights[(width - 1) * 3..];
        // Intent 0 has one example and intent 1 three: half and one and a
        // half times their mean of two.
        assert!((bias[0] - 2f32.ln()).abs() < 1e-6);
        assert!((bias[1] + 1.5f32.ln()).abs() < 1e-6);
        assert!(bias[2].abs() < f32::EPSILON);
        assert!(weights[..(width - 1) * 3].iter().all(|w| *w == 0.0));
        // As many examples per intent: nothing moves.
        let mut even = vec![0.0f32; width * 3];
        adjust_for_priors(&mut even, width, &rows[..5], &[0, 0, 1, 1, 2], 2, classes);
        assert!(even.iter().all(|w| *w == 0.0));
    }

    #[test]
    fn the_generator_is_fixed() {
        let mut order = Order(1);
        // SplitMix64's published first output for seed 1.
        assert_eq!(order.next(), 0x910A_2DEC_8902_5CC1);
    }
}
