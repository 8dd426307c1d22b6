#![allow(clippy::cast_precision_loss, clippy::doc_markdown)]
//! Trains the built-in classifier on BANKING77 and reports top-1 accuracy on
//! its test split, with the time training took: the protocol behind the
//! figures in docs/NLU.md.
//!
//! `cargo run --release --example banking77 -- DIR [--per-intent N] [--folds K]`
//!
//! DIR holds `train.csv` and `test.csv` (columns `text,category`). With
//! `--per-intent N`, a fixed seeded sample of N training examples per intent.
//! With `--folds K`, the test split is not read: K-fold cross-validation on
//! the training split instead (for tuning). With `--per-intent N --rest S`,
//! the test split is not read either: for each of S seeds, a sample of N
//! per intent is trained on and the rest of the training split classified
//! (tuning for small bots).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use cellflow::classifier::{Example, Model, Scratch, train};

fn read(path: &Path) -> Vec<(String, String)> {
    let mut reader = csv::Reader::from_path(path).expect("a readable CSV file");
    reader
        .records()
        .map(|r| {
            let r = r.expect("a CSV record");
            (r[0].to_owned(), r[1].to_owned())
        })
        .collect()
}

/// A fixed shuffle (SplitMix64), so the sample is the same on every run.
fn shuffled<T>(mut items: Vec<T>, seed: u64) -> Vec<T> {
    let mut state = seed;
    for i in (1..items.len()).rev() {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        let j = usize::try_from(z % (i as u64 + 1)).unwrap();
        items.swap(i, j);
    }
    items
}

fn examples(rows: &[(String, u32)]) -> Vec<Example<'_>> {
    rows.iter()
        .map(|(text, class)| Example {
            text,
            class: *class,
        })
        .collect()
}

/// Top-1 accuracy, the mean of the per-intent recalls (balanced
/// accuracy: what a test set with as many messages per intent measures),
/// and the share of messages accepted at the model's threshold.
fn accuracy(model: &Model, data: &[(String, u32)]) -> (f64, f64, f64) {
    let mut scratch = Scratch::default();
    let (mut right, mut accepted) = (0, 0);
    let mut per_class: BTreeMap<u32, (u32, u32)> = BTreeMap::new();
    for (text, class) in data {
        scratch.load(text);
        model.probabilities(&mut scratch);
        let (best, p) = scratch
            .scores
            .iter()
            .enumerate()
            .fold((0, -1.0f32), |b, (i, &p)| if p > b.1 { (i, p) } else { b });
        let counts = per_class.entry(*class).or_default();
        counts.1 += 1;
        if best == *class as usize {
            right += 1;
            counts.0 += 1;
        }
        if p >= model.calibration.threshold {
            accepted += 1;
        }
    }
    let balanced = per_class
        .values()
        .map(|&(r, n)| f64::from(r) / f64::from(n))
        .sum::<f64>()
        / per_class.len().max(1) as f64;
    (
        f64::from(right) / data.len() as f64,
        balanced,
        f64::from(accepted) / data.len() as f64,
    )
}

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().expect("the BANKING77 directory"));
    let (mut per_intent, mut folds, mut rest) = (None, None, None);
    while let Some(flag) = args.next() {
        let value: usize = args.next().and_then(|v| v.parse().ok()).expect("a number");
        match flag.as_str() {
            "--per-intent" => per_intent = Some(value),
            "--folds" => folds = Some(value),
            "--rest" => rest = Some(value),
            other => panic!("unknown flag {other}"),
        }
    }
    let train_rows = read(&dir.join("train.csv"));
    let mut classes: BTreeMap<String, u32> = BTreeMap::new();
    for (_, label) in &train_rows {
        let next = u32::try_from(classes.len()).unwrap();
        classes.entry(label.clone()).or_insert(next);
    }
    let labelled = |rows: Vec<(String, String)>| -> Vec<(String, u32)> {
        rows.into_iter()
            .map(|(t, l)| {
                let class = classes[&l];
                (t, class)
            })
            .collect()
    };
    let mut training = labelled(train_rows);
    let intents = u32::try_from(classes.len()).unwrap();
    if let (Some(n), Some(seeds)) = (per_intent, rest) {
        let (mut total, mut total_balanced) = (0.0, 0.0);
        for seed in 0..seeds as u64 {
            let mut taken = vec![0; classes.len()];
            let (sample, others): (Vec<_>, Vec<_>) = shuffled(training.clone(), 1000 + seed)
                .into_iter()
                .partition(|(_, c)| {
                    taken[*c as usize] += 1;
                    taken[*c as usize] <= n
                });
            let model = train(&examples(&sample), intents);
            let (acc, balanced, _) = accuracy(&model, &others);
            println!(
                "seed {seed}: {:.2} % (balanced {:.2} %)",
                acc * 100.0,
                balanced * 100.0
            );
            total += acc;
            total_balanced += balanced;
        }
        println!(
            "mean: {:.2} % (balanced {:.2} %)",
            total / seeds as f64 * 100.0,
            total_balanced / seeds as f64 * 100.0
        );
        return;
    }
    if let Some(n) = per_intent {
        let mut taken = vec![0; classes.len()];
        training = shuffled(training, 77)
            .into_iter()
            .filter(|(_, c)| {
                taken[*c as usize] += 1;
                taken[*c as usize] <= n
            })
            .collect();
    }
    if let Some(k) = folds {
        let data = shuffled(training, 7);
        let (mut total, mut total_balanced) = (0.0, 0.0);
        for f in 0..k {
            let (test, train_part): (Vec<_>, Vec<_>) =
                data.iter().enumerate().partition(|(i, _)| i % k == f);
            let examples: Vec<Example<'_>> = train_part
                .iter()
                .map(|(_, (text, class))| Example {
                    text,
                    class: *class,
                })
                .collect();
            let start = Instant::now();
            let model = train(&examples, intents);
            let took = start.elapsed();
            let test: Vec<(String, u32)> = test.into_iter().map(|(_, r)| r.clone()).collect();
            let (acc, balanced, _) = accuracy(&model, &test);
            println!(
                "fold {f}: {:.2} % (balanced {:.2} %), trained in {:.2} s",
                acc * 100.0,
                balanced * 100.0,
                took.as_secs_f64()
            );
            total += acc;
            total_balanced += balanced;
        }
        println!(
            "mean: {:.2} % (balanced {:.2} %)",
            total / k as f64 * 100.0,
            total_balanced / k as f64 * 100.0
        );
        return;
    }
    let examples = examples(&training);
    let start = Instant::now();
    let model = train(&examples, intents);
    let took = start.elapsed();
    let test = labelled(read(&dir.join("test.csv")));
    let (acc, _, accepted) = accuracy(&model, &test);
    let size = serde_json::to_string(&model).unwrap().len();
    println!(
        "{} training examples, {} features: top-1 {:.2} % on {} test messages; \
         {:.1} % accepted at the chosen threshold {:.3} (temperature {:.3}); \
         trained in {:.2} s; model {:.1} MB in the artifact",
        examples.len(),
        model.features(),
        acc * 100.0,
        test.len(),
        accepted * 100.0,
        model.calibration.threshold,
        model.calibration.temperature,
        took.as_secs_f64(),
        size as f64 / 1e6
    );
}
