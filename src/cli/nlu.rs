//! `cellflow nlu`: look at what the built-in classifier makes of messages.
//!
//! `classify` ranks a bot's intents for each message given, with the
//! entities found, for debugging a bot's examples. `eval` measures the bot
//! on labelled messages (a data file, or its own examples by
//! cross-validation) as the running bot would classify them; the figures
//! come from `cellflow::classifier::eval`, this file reads the data and
//! renders the report (human, JSON, `JUnit`, an SVG confusion matrix).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use cellflow::classifier::eval::{self, ConfusionMatrix, Prediction};
use cellflow::compile::Program;
use cellflow::runtime::{Builtin, Classifier as _};

use super::{CliError, EXIT_OK, EXIT_PROBLEMS};

#[derive(clap::Args, Debug)]
pub(crate) struct NluCmd {
    #[command(subcommand)]
    command: NluCommand,
}

#[derive(clap::Subcommand, Debug)]
enum NluCommand {
    /// Rank a bot's intents for each message, with their confidence and the entities found
    Classify(Classify),
    /// Measure the classifier on labelled messages (--data) or by cross-validating the bot's examples (--folds)
    Eval(Eval),
}

#[derive(clap::Args, Debug)]
struct Classify {
    /// Bot directory, flow file or compiled artifact
    path: PathBuf,
    /// The messages to classify
    #[arg(required = true)]
    texts: Vec<String>,
    /// How many intents to show per message
    #[arg(long, default_value_t = 5)]
    top: usize,
    /// Classify as a conversation in this one of the bot's languages would (default: its first)
    #[arg(long, value_name = "LANG")]
    language: Option<String>,
}

impl NluCmd {
    pub(crate) fn run(self) -> Result<u8, CliError> {
        match self.command {
            NluCommand::Classify(cmd) => cmd.run(),
            NluCommand::Eval(cmd) => cmd.run(),
        }
    }
}

impl Classify {
    fn run(self) -> Result<u8, CliError> {
        let Some(bot) = super::load_bot(&self.path)? else {
            return Ok(EXIT_PROBLEMS);
        };
        let program = bot.program();
        let language = super::language_of(program, self.language.as_deref())?;
        let mut out = String::new();
        for text in &self.texts {
            out.push_str(&render(program, text, self.top, language));
        }
        print!("{out}");
        Ok(EXIT_OK)
    }
}

/// One message's ranking, as `classify` prints it.
fn render(program: &Program, text: &str, top: usize, language: usize) -> String {
    let ranking = cellflow::runtime::rank(program, text, language);
    let nlu = Builtin.classify_in(program, text, language);
    let name = |i: usize| {
        program
            .intents
            .get(i)
            .map_or("out_of_scope", |intent| intent.name.as_str())
    };
    let mut out = String::new();
    let _ = writeln!(out, "{text:?}");
    let verdict = match &nlu.intent {
        Some(intent) if nlu.confidence >= program.threshold => {
            format!("{intent} ({:.3})", nlu.confidence)
        }
        Some(intent) => format!(
            "not understood: {intent} at {:.3} is below the threshold",
            nlu.confidence
        ),
        None => "not understood".to_owned(),
    };
    let _ = writeln!(out, "  → {verdict}; threshold {:.3}", program.threshold);
    if let Some(i) = ranking.pattern {
        let _ = writeln!(out, "  pattern of {} (a sure hit)", name(i));
    }
    for &class in &ranking.exact {
        let _ = writeln!(out, "  an example of {} (a sure hit)", name(class));
    }
    for (i, p) in ranking.intents.iter().take(top) {
        let _ = writeln!(out, "  {p:>6.3}  {}", name(*i));
    }
    if !ranking.intents.is_empty() {
        let _ = writeln!(out, "  {:>6.3}  (none of them)", ranking.out_of_scope);
    } else if program.intents.iter().any(|i| i.example.is_some()) {
        let _ = writeln!(
            out,
            "  (no trained model: the bot has more examples × intents than {}, so only patterns and exact examples match)",
            cellflow::classifier::MAX_TRAINING_SIZE
        );
    }
    for (entity, value) in &nlu.entities {
        let _ = writeln!(out, "  entity {entity} = {value}");
    }
    out
}
/// Largest data file read: far beyond any labelled set an author writes
/// (BANKING77's test split is 0.2 MB), small enough to hold in memory.
const MAX_DATA_BYTES: usize = 64 * 1024 * 1024;
/// The label of a message the bot should reject.
const OUT_OF_SCOPE: &str = "out_of_scope";
/// Messages shown per confused pair.
const EXAMPLES_PER_PAIR: usize = 3;
/// Confused pairs the human report lists (JSON lists them all).
const PAIRS_SHOWN: usize = 10;

#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["data", "folds"])))]
struct Eval {
    /// Bot directory, flow file or compiled artifact
    path: PathBuf,
    /// Labelled messages: CSV with a `text,intent` (or `text,category`) header, or YAML
    /// mapping each intent to a list of messages; label `out_of_scope` the messages the bot
    /// should reject
    #[arg(long, value_name = "FILE")]
    data: Option<PathBuf>,
    /// Cross-validate the bot's own examples in K stratified folds instead of reading --data
    #[arg(long, value_name = "K", value_parser = clap::value_parser!(u32).range(2..=100))]
    folds: Option<u32>,
    /// Report format
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Exit with 1 when accuracy, in percent, is below this
    #[arg(long, value_name = "PCT", value_parser = percent)]
    min_accuracy: Option<f64>,
    /// Also write the confusion matrix as an SVG picture
    #[arg(long, value_name = "FILE")]
    plot: Option<PathBuf>,
    /// Measure the model of this one of the bot's languages (default: its first); with
    /// --folds, its examples are that language's and the shared ones
    #[arg(long, value_name = "LANG")]
    language: Option<String>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Human,
    Json,
    Junit,
}

fn percent(text: &str) -> Result<f64, String> {
    let value: f64 = text
        .trim_end_matches('%')
        .parse()
        .map_err(|_| format!("`{text}` is not a number"))?;
    if (0.0..=100.0).contains(&value) {
        Ok(value)
    } else {
        Err(format!("{value} is not a percentage between 0 and 100"))
    }
}

/// A labelled message and where it came from.
struct Labelled {
    /// "line 4" of a CSV file, "`greet` #2" in YAML, "example of `greet`".
    place: String,
    text: String,
    /// An intent's index, or the number of intents for out of scope.
    class: u32,
}

impl Eval {
    fn run(self) -> Result<u8, CliError> {
        if let Some(plot) = &self.plot {
            check_plot_name(plot)?;
        }
        let Some(bot) = super::load_bot(&self.path)? else {
            return Ok(EXIT_PROBLEMS);
        };
        let program = bot.program();
        let language = super::language_of(program, self.language.as_deref())?;
        let intents = u32::try_from(program.intents.len())
            .map_err(|_| CliError::Usage("the bot has too many intents".into()))?;
        let (rows, predictions) = match (&self.data, self.folds) {
            (Some(data), _) => {
                let rows = resolve(data, read_data(data)?, program)?;
                let predictions = (rows.iter())
                    .map(|row| predict(program, row, language))
                    .collect();
                (rows, predictions)
            }
            (None, Some(k)) => cross_validate(program, intents, k as usize, language)?,
            (None, None) => {
                return Err(CliError::Usage("give --data FILE or --folds K".into()));
            }
        };
        let report = Report::new(&self, program, &rows, &predictions);
        let matrix = ConfusionMatrix::new(program.intents.len(), &predictions);
        if let Some(plot) = &self.plot {
            write_plot(plot, program, &matrix)?;
        }
        let below = match (self.min_accuracy, report.accuracy) {
            (Some(min), Some(accuracy)) => accuracy * 100.0 < min,
            (Some(_), None) => true,
            (None, _) => false,
        };
        match self.format {
            Format::Human => print!("{}", report.human()),
            Format::Json => {
                let json = serde_json::to_string_pretty(&report)
                    .map_err(|e| CliError::Usage(format!("cannot render the report: {e}")))?;
                println!("{json}");
            }
            Format::Junit => print!("{}", report.junit(self.min_accuracy, below)),
        }
        if below {
            let min = self.min_accuracy.unwrap_or_default();
            match report.accuracy {
                Some(accuracy) => eprintln!(
                    "accuracy {:.1} % is below --min-accuracy {min} %",
                    accuracy * 100.0
                ),
                None => eprintln!(
                    "no message is labelled with an intent, so there is no accuracy to hold to --min-accuracy {min} %"
                ),
            }
            return Ok(EXIT_PROBLEMS);
        }
        Ok(EXIT_OK)
    }
}

/// How the running bot takes a message: patterns and exact examples are
/// sure hits, then the model; below the bot's threshold it is not
/// understood.
fn predict(program: &Program, row: &Labelled, language: usize) -> Prediction {
    let nlu = Builtin.classify_in(program, &row.text, language);
    let best = nlu.intent.as_deref().and_then(|name| {
        let index = program.intents.iter().position(|i| i.name == name)?;
        #[allow(clippy::cast_possible_truncation)]
        let confidence = nlu.confidence as f32;
        Some((u32::try_from(index).ok()?, confidence))
    });
    Prediction {
        truth: row.class,
        best,
        accepted: best.is_some() && nlu.confidence >= program.threshold,
    }
}

/// Cross-validates the bot's examples (as the bot indexes them: normalised,
/// each once per intent). Patterns stay sure hits; exact examples do not,
/// since every held-out message is one.
fn cross_validate(
    program: &Program,
    intents: u32,
    k: usize,
    language: usize,
) -> Result<(Vec<Labelled>, Vec<Prediction>), CliError> {
    let (exact, _) = program.classifier_in(language);
    let mut examples: Vec<(u32, &str)> = exact
        .iter()
        .flat_map(|(text, classes)| classes.iter().map(move |&c| (c, &**text)))
        .collect();
    examples.sort_unstable();
    if examples.len() < k {
        return Err(CliError::Usage(format!(
            "the bot has {} examples: too few for {k} folds",
            examples.len()
        )));
    }
    let training: Vec<cellflow::classifier::Example<'_>> = examples
        .iter()
        .map(|&(class, text)| cellflow::classifier::Example { text, class })
        .collect();
    let mut scratch = cellflow::classifier::Scratch::default();
    let threshold = program.threshold;
    let predictions = eval::cross_validate(&training, intents, k, |model, example| {
        let pattern = program.nlu.patterns.first_match(example.text, |_| true);
        let best = if let Some(intent) = pattern {
            u32::try_from(intent).ok().map(|i| (i, 1.0))
        } else {
            scratch.load(example.text);
            model.probabilities(&mut scratch);
            scratch
                .scores
                .iter()
                .enumerate()
                .fold(None, |best: Option<(usize, f32)>, (i, &p)| {
                    if best.is_none_or(|(_, b)| p > b) {
                        Some((i, p))
                    } else {
                        best
                    }
                })
                .and_then(|(i, p)| Some((u32::try_from(i).ok()?, p)))
        };
        Prediction {
            truth: example.class,
            best,
            accepted: best.is_some_and(|(_, p)| f64::from(p) >= threshold),
        }
    });
    let rows = examples
        .iter()
        .map(|&(class, text)| Labelled {
            place: format!("example of `{}`", class_name(program, class as usize)),
            text: text.to_owned(),
            class,
        })
        .collect();
    Ok((rows, predictions))
}

fn class_name(program: &Program, class: usize) -> &str {
    program
        .intents
        .get(class)
        .map_or(OUT_OF_SCOPE, |i| i.name.as_str())
}

/// A labelled row as read, before its label is checked against the bot.
struct Raw {
    place: String,
    text: String,
    label: String,
}

/// Reads a data file: CSV or YAML by its extension.
fn read_data(path: &Path) -> Result<Vec<Raw>, CliError> {
    let shown = path.display();
    let bad = |message: String| CliError::Usage(format!("{shown}: {message}"));
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let csv = match extension.as_deref() {
        Some("csv") => true,
        Some("yaml" | "yml") => false,
        _ => {
            return Err(bad(
                "give labelled messages as a .csv, .yaml or .yml file".into()
            ));
        }
    };
    let size = std::fs::metadata(path)
        .map_err(|e| CliError::Usage(format!("cannot read {shown}: {e}")))?
        .len();
    if size > MAX_DATA_BYTES as u64 {
        return Err(bad(format!(
            "the file has {size} bytes; at most {MAX_DATA_BYTES} are read"
        )));
    }
    let bytes =
        std::fs::read(path).map_err(|e| CliError::Usage(format!("cannot read {shown}: {e}")))?;
    let text = match std::str::from_utf8(&bytes) {
        Ok(text) => text.strip_prefix('\u{feff}').unwrap_or(text),
        Err(e) => {
            let line = std::str::from_utf8(&bytes[..e.valid_up_to()])
                .map_or(0, |valid| valid.matches('\n').count())
                + 1;
            return Err(bad(format!(
                "line {line} is not UTF-8 text; save the file as UTF-8"
            )));
        }
    };
    if text.trim().is_empty() {
        return Err(bad(if csv {
            "the file is empty; expected a `text,intent` header and a row per message".into()
        } else {
            "the file is empty; expected each intent mapped to a list of messages".into()
        }));
    }
    let rows = if csv {
        read_csv(text).map_err(bad)?
    } else {
        read_yaml(text).map_err(bad)?
    };
    if rows.is_empty() {
        return Err(bad("no labelled message in the file".into()));
    }
    for row in &rows {
        if row.text.trim().is_empty() {
            return Err(bad(format!("{}: the message is empty", row.place)));
        }
        if row.text.len() > cellflow::runtime::MAX_TEXT_BYTES {
            return Err(bad(format!(
                "{}: the message has {} bytes; the bot refuses messages over {}",
                row.place,
                row.text.len(),
                cellflow::runtime::MAX_TEXT_BYTES
            )));
        }
        if row.label.trim().is_empty() {
            return Err(bad(format!("{}: the label is empty", row.place)));
        }
    }
    Ok(rows)
}

fn read_csv(text: &str) -> Result<Vec<Raw>, String> {
    let mut reader = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    let header = reader
        .headers()
        .map_err(|e| format!("cannot read the header: {e}"))?
        .clone();
    let column = |names: &[&str]| {
        header
            .iter()
            .position(|h| names.iter().any(|n| h.trim().eq_ignore_ascii_case(n)))
    };
    let (Some(text_at), Some(label_at)) = (column(&["text"]), column(&["intent", "category"]))
    else {
        return Err(format!(
            "the header is `{}`; expected the columns `text` and `intent` (or `category`)",
            header.iter().collect::<Vec<_>>().join(",")
        ));
    };
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| match e.position() {
            Some(p) => format!("line {}: {}", p.line(), csv_reason(&e)),
            None => csv_reason(&e),
        })?;
        let line = record.position().map_or(0, csv::Position::line);
        rows.push(Raw {
            place: format!("line {line}"),
            text: record.get(text_at).unwrap_or_default().to_owned(),
            label: record.get(label_at).unwrap_or_default().trim().to_owned(),
        });
    }
    Ok(rows)
}

/// A CSV error without the position the caller already gives.
fn csv_reason(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("{len} fields where the header has {expected_len}"),
        _ => e.to_string(),
    }
}

fn read_yaml(text: &str) -> Result<Vec<Raw>, String> {
    let value: serde_json::Value =
        serde_saphyr::from_str(text).map_err(|e| format!("not valid YAML: {e}"))?;
    let serde_json::Value::Object(map) = value else {
        return Err(
            "expected each intent mapped to a list of messages (`greet: [hello, hi]`)".into(),
        );
    };
    let mut rows = Vec::new();
    for (label, messages) in map {
        let serde_json::Value::Array(messages) = messages else {
            return Err(format!("`{label}` should be a list of messages"));
        };
        for (n, message) in messages.into_iter().enumerate() {
            let serde_json::Value::String(message) = message else {
                return Err(format!(
                    "`{label}` #{}: a message should be text (quote it)",
                    n + 1
                ));
            };
            rows.push(Raw {
                place: format!("`{label}` #{}", n + 1),
                text: message,
                label: label.clone(),
            });
        }
    }
    Ok(rows)
}

/// Checks every label against the bot's intents; an unknown one is an
/// error naming where it first occurs, with a near name if there is one.
fn resolve(data: &Path, rows: Vec<Raw>, program: &Program) -> Result<Vec<Labelled>, CliError> {
    let names: Vec<&str> = program.intents.iter().map(|i| i.name.as_str()).collect();
    let out_of_scope = u32::try_from(names.len()).unwrap_or(u32::MAX);
    let mut unknown: Vec<(String, String)> = Vec::new();
    let mut resolved = Vec::with_capacity(rows.len());
    for row in rows {
        let class = match names.iter().position(|n| *n == row.label) {
            Some(i) => u32::try_from(i).unwrap_or(u32::MAX),
            None if row.label == OUT_OF_SCOPE => out_of_scope,
            None => {
                if !unknown.iter().any(|(l, _)| *l == row.label) {
                    unknown.push((row.label.clone(), row.place.clone()));
                }
                continue;
            }
        };
        resolved.push(Labelled {
            place: row.place,
            text: row.text,
            class,
        });
    }
    if unknown.is_empty() {
        return Ok(resolved);
    }
    let mut message = String::new();
    for (label, place) in &unknown {
        let near = names
            .iter()
            .chain(std::iter::once(&OUT_OF_SCOPE))
            .map(|n| (strsim::jaro_winkler(label, n), *n))
            .filter(|(similarity, _)| *similarity >= 0.85)
            .max_by(|a, b| a.0.total_cmp(&b.0));
        // A YAML place already names the label.
        let place = if place.starts_with(&format!("`{label}`")) {
            String::new()
        } else {
            format!("{place}: ")
        };
        let _ = write!(
            message,
            "{}: {place}`{label}` is not an intent of the bot",
            data.display()
        );
        if let Some((_, name)) = near {
            let _ = write!(message, " (did you mean `{name}`?)");
        }
        message.push('\n');
    }
    let _ = write!(
        message,
        "the bot's intents: {}; label `{OUT_OF_SCOPE}` the messages it should reject",
        if names.is_empty() {
            "none".to_owned()
        } else {
            names.join(", ")
        }
    );
    Err(CliError::Usage(message))
}

/// Rounds a figure for the report, so JSON shows `0.8333` rather than
/// every bit of a float.
fn round(value: f64) -> f64 {
    (value * 10_000.0).round() / 10_000.0
}

/// What `nlu eval` reports; its JSON is documented in docs/NLU.md, and
/// fields are only ever added.
#[derive(serde::Serialize)]
struct Report {
    bot: String,
    data: Option<String>,
    folds: Option<u32>,
    messages: usize,
    in_scope: u32,
    correct: u32,
    accuracy: Option<f64>,
    best_intent_accuracy: Option<f64>,
    macro_f1: Option<f64>,
    threshold: f64,
    suggested_threshold: Option<f64>,
    intents: Vec<IntentRow>,
    confused: Vec<Confused>,
    out_of_scope: OutOfScope,
    mistakes: Vec<Mistake>,
    /// For `JUnit`: every message's label, text and failure if any.
    #[serde(skip)]
    cases: Vec<(String, String, Option<String>)>,
}

#[derive(serde::Serialize)]
struct IntentRow {
    intent: String,
    support: u32,
    predicted: u32,
    correct: u32,
    not_understood: u32,
    precision: f64,
    recall: f64,
    f1: f64,
}

#[derive(serde::Serialize)]
struct Confused {
    intent: String,
    predicted: String,
    count: u32,
    examples: Vec<String>,
}

#[derive(serde::Serialize)]
struct OutOfScope {
    messages: u32,
    rejected: u32,
    recall: Option<f64>,
}

#[derive(serde::Serialize)]
struct Mistake {
    #[serde(rename = "where")]
    place: String,
    text: String,
    intent: String,
    /// What the bot did: an intent, or `None` for not understood.
    predicted: Option<String>,
    /// The most likely intent, accepted or not, and its confidence.
    best: Option<String>,
    confidence: Option<f64>,
}

impl Report {
    fn new(cmd: &Eval, program: &Program, rows: &[Labelled], predictions: &[Prediction]) -> Report {
        let n = program.intents.len();
        let matrix = ConfusionMatrix::new(n, predictions);
        let name = |class: u32| class_name(program, class as usize).to_owned();
        let intents = (0..n)
            .map(|i| {
                let s = matrix.score(i);
                IntentRow {
                    intent: name(u32::try_from(i).unwrap_or(u32::MAX)),
                    support: s.support,
                    predicted: s.predicted,
                    correct: s.correct,
                    not_understood: s.not_understood,
                    precision: round(s.precision),
                    recall: round(s.recall),
                    f1: round(s.f1),
                }
            })
            .collect();
        // Cross-validation's models learn from fewer examples than the
        // bot, so they are less sure of themselves: there, which intent
        // comes first tells the intents it cannot tell apart, whatever the
        // threshold makes of it.
        let ranked: Vec<Prediction> = predictions
            .iter()
            .map(|p| Prediction {
                accepted: p.accepted || (cmd.folds.is_some() && p.best.is_some()),
                ..*p
            })
            .collect();
        let confused = ConfusionMatrix::new(n, &ranked)
            .confused_pairs()
            .into_iter()
            .map(|(truth, predicted, count)| Confused {
                intent: class_name(program, truth).to_owned(),
                predicted: class_name(program, predicted).to_owned(),
                count,
                examples: rows
                    .iter()
                    .zip(&ranked)
                    .filter(|(_, p)| {
                        p.truth as usize == truth
                            && p.predicted().map(|i| i as usize) == Some(predicted)
                    })
                    .take(EXAMPLES_PER_PAIR)
                    .map(|(row, _)| row.text.clone())
                    .collect(),
            })
            .collect();
        let mistakes = rows
            .iter()
            .zip(predictions)
            .filter(|(_, p)| !p.is_right(u32::try_from(n).unwrap_or(u32::MAX)))
            .map(|(row, p)| Mistake {
                place: row.place.clone(),
                text: row.text.clone(),
                intent: name(row.class),
                predicted: p.predicted().map(name),
                best: p.best.map(|(i, _)| name(i)),
                confidence: p.best.map(|(_, c)| round(f64::from(c))),
            })
            .collect();
        let cases = rows
            .iter()
            .zip(predictions)
            .map(|(row, p)| {
                let failure = (!p.is_right(u32::try_from(n).unwrap_or(u32::MAX)))
                    .then(|| failure(p, &name, program.threshold));
                (name(row.class), row.text.clone(), failure)
            })
            .collect();
        let in_scope: u32 = (0..n).map(|i| matrix.row_total(i)).sum();
        Report {
            bot: cmd.path.display().to_string(),
            data: cmd.data.as_ref().map(|d| d.display().to_string()),
            folds: cmd.folds,
            messages: rows.len(),
            in_scope,
            correct: (0..n).map(|i| matrix.get(i, i)).sum(),
            accuracy: matrix.accuracy().map(round),
            best_intent_accuracy: eval::best_intent_accuracy(
                predictions,
                u32::try_from(n).unwrap_or(u32::MAX),
            )
            .map(round),
            macro_f1: matrix.macro_f1().map(round),
            threshold: round(program.threshold),
            suggested_threshold: eval::suggested_threshold(predictions)
                .map(|t| (f64::from(t) * 1000.0).round() / 1000.0),
            intents,
            confused,
            out_of_scope: OutOfScope {
                messages: matrix.row_total(n),
                rejected: matrix.get(n, n),
                recall: matrix.out_of_scope_recall().map(round),
            },
            mistakes,
            cases,
        }
    }

    fn human(&self) -> String {
        let mut out = String::new();
        let source = match (&self.data, self.folds) {
            (Some(data), _) => format!("on {data}"),
            (None, Some(k)) => format!("by {k}-fold cross-validation of its examples"),
            (None, None) => String::new(),
        };
        let _ = writeln!(
            out,
            "{} {source}: {} messages, {} in scope, {} out of scope\n",
            self.bot, self.messages, self.in_scope, self.out_of_scope.messages
        );
        match self.accuracy {
            Some(a) => {
                let _ = writeln!(
                    out,
                    "accuracy  {:5.1} %  {} of {} in-scope messages taken for their intent",
                    a * 100.0,
                    self.correct,
                    self.in_scope
                );
            }
            None => out.push_str("accuracy      –    no message is labelled with an intent\n"),
        }
        if let Some(best) = self.best_intent_accuracy {
            let _ = writeln!(
                out,
                "best      {:5.1} %  had their intent ranked first, at any confidence",
                best * 100.0
            );
        }
        if let Some(f1) = self.macro_f1 {
            let _ = writeln!(
                out,
                "macro-F1  {f1:7.3}  the mean F1 of the intents that occur"
            );
        }
        let shown: Vec<&IntentRow> = self
            .intents
            .iter()
            .filter(|i| i.support > 0 || i.predicted > 0)
            .collect();
        if !shown.is_empty() {
            let width = shown
                .iter()
                .map(|i| i.intent.chars().count())
                .max()
                .unwrap_or(0)
                .max("intent".len());
            let _ = writeln!(
                out,
                "\n{:width$}  precision  recall     F1  support  not understood",
                "intent"
            );
            for i in shown {
                let _ = writeln!(
                    out,
                    "{:width$}  {:9.3}  {:6.3}  {:5.3}  {:7}  {:14}",
                    i.intent, i.precision, i.recall, i.f1, i.support, i.not_understood
                );
            }
        }
        if !self.confused.is_empty() {
            let heading = if self.folds.is_some() {
                "Intents it cannot tell apart (labelled → ranked first, at any confidence)"
            } else {
                "Most confused pairs (labelled → taken for)"
            };
            let _ = writeln!(out, "\n{heading}");
            for pair in self.confused.iter().take(PAIRS_SHOWN) {
                let _ = writeln!(
                    out,
                    "  {} → {}: {}",
                    pair.intent, pair.predicted, pair.count
                );
                for example in &pair.examples {
                    let _ = writeln!(out, "      {example:?}");
                }
            }
            if self.confused.len() > PAIRS_SHOWN {
                let _ = writeln!(
                    out,
                    "  and {} more pairs (--format json lists them all)",
                    self.confused.len() - PAIRS_SHOWN
                );
            }
        }
        let rejected: Vec<&Mistake> = self
            .mistakes
            .iter()
            .filter(|m| m.intent != OUT_OF_SCOPE && m.predicted.is_none())
            .collect();
        if !rejected.is_empty() {
            let _ = writeln!(out, "\nNot understood (below the threshold)");
            for m in rejected.iter().take(PAIRS_SHOWN) {
                let best = match (&m.best, m.confidence) {
                    (Some(best), Some(c)) => format!("best {best} at {c:.3}"),
                    _ => "no intent".to_owned(),
                };
                let _ = writeln!(out, "  {}: {best}: {:?}", m.intent, m.text);
            }
            if rejected.len() > PAIRS_SHOWN {
                let _ = writeln!(
                    out,
                    "  and {} more (--format json lists them all)",
                    rejected.len() - PAIRS_SHOWN
                );
            }
        }
        let oos = &self.out_of_scope;
        if let Some(recall) = oos.recall {
            let _ = writeln!(
                out,
                "\nOut of scope: {} of {} rejected ({:.1} %)",
                oos.rejected,
                oos.messages,
                recall * 100.0
            );
            for m in self
                .mistakes
                .iter()
                .filter(|m| m.intent == OUT_OF_SCOPE && m.predicted.is_some())
            {
                let _ = writeln!(
                    out,
                    "  taken for {} ({:.3}): {:?}",
                    m.predicted.as_deref().unwrap_or_default(),
                    m.confidence.unwrap_or_default(),
                    m.text
                );
            }
        }
        let _ = write!(out, "\nThreshold: {:.3}", self.threshold);
        match self.suggested_threshold {
            Some(t) => {
                let _ = writeln!(
                    out,
                    "; {t:.3} would have done most good on these messages (set it as `nlu: {{threshold: {t:.2}}}` in the bot's settings)"
                );
            }
            None => out.push('\n'),
        }
        out
    }

    /// One test suite per label, one test case per message: a CI server
    /// shows each misread message with what it was taken for, grouped by
    /// intent. A first suite holds the accuracy, failing under
    /// `--min-accuracy`.
    fn junit(&self, min_accuracy: Option<f64>, below: bool) -> String {
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let failures = self.mistakes.len() + usize::from(below);
        let _ = writeln!(
            out,
            "<testsuites name=\"cellflow nlu eval\" tests=\"{}\" failures=\"{failures}\">",
            self.messages + 1
        );
        let accuracy = self
            .accuracy
            .map_or_else(|| "–".to_owned(), |a| format!("{:.1} %", a * 100.0));
        let _ = writeln!(
            out,
            "  <testsuite name=\"accuracy\" tests=\"1\" failures=\"{}\">",
            usize::from(below)
        );
        let _ = write!(
            out,
            "    <testcase classname=\"accuracy\" name=\"accuracy {}\"",
            xml_escape(&accuracy)
        );
        if below {
            let _ = writeln!(
                out,
                ">\n      <failure message=\"accuracy {} is below --min-accuracy {} %\"/>\n    </testcase>",
                xml_escape(&accuracy),
                min_accuracy.unwrap_or_default()
            );
        } else {
            out.push_str("/>\n");
        }
        out.push_str("  </testsuite>\n");
        let mut labels: Vec<&str> = self
            .intents
            .iter()
            .filter(|i| i.support > 0)
            .map(|i| i.intent.as_str())
            .collect();
        if self.out_of_scope.messages > 0 {
            labels.push(OUT_OF_SCOPE);
        }
        for label in labels {
            let cases: Vec<&(String, String, Option<String>)> =
                self.cases.iter().filter(|r| r.0 == label).collect();
            let failed = cases.iter().filter(|c| c.2.is_some()).count();
            let _ = writeln!(
                out,
                "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failed}\">",
                xml_escape(label),
                cases.len()
            );
            for (_, text, failure) in cases {
                let _ = write!(
                    out,
                    "    <testcase classname=\"{}\" name=\"{}\"",
                    xml_escape(label),
                    xml_escape(text)
                );
                match failure {
                    Some(message) => {
                        let _ = writeln!(
                            out,
                            ">\n      <failure message=\"{}\"/>\n    </testcase>",
                            xml_escape(message)
                        );
                    }
                    None => out.push_str("/>\n"),
                }
            }
            out.push_str("  </testsuite>\n");
        }
        out.push_str("</testsuites>\n");
        out
    }
}

/// What went wrong with a message, for a `JUnit` failure.
fn failure(p: &Prediction, name: &impl Fn(u32) -> String, threshold: f64) -> String {
    match (p.predicted(), p.best) {
        (Some(intent), Some((_, confidence))) => {
            format!("taken for {} ({confidence:.3})", name(intent))
        }
        (_, Some((intent, confidence))) => format!(
            "not understood: {} at {confidence:.3} is below the threshold {threshold:.3}",
            name(intent)
        ),
        _ => "not understood".to_owned(),
    }
}

fn xml_escape(s: &str) -> String {
    s.chars()
        .filter(|&c| matches!(c, '\t' | '\n' | '\r') || c >= ' ')
        .collect::<String>()
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Refuses, before any work, a picture format `--plot` cannot write.
fn check_plot_name(path: &Path) -> Result<(), CliError> {
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match extension.as_deref() {
        Some("svg") => Ok(()),
        Some(other) => Err(CliError::Usage(format!(
            "--plot {}: only SVG is supported, not {other}; name the file .svg (any browser opens it, \
             and `rsvg-convert` turns it into a PNG)",
            path.display()
        ))),
        None => Err(CliError::Usage(format!(
            "--plot {}: name the file .svg (only SVG is supported)",
            path.display()
        ))),
    }
}

fn write_plot(path: &Path, program: &Program, matrix: &ConfusionMatrix) -> Result<(), CliError> {
    let names: Vec<&str> = program.intents.iter().map(|i| i.name.as_str()).collect();
    let svg = confusion_svg(&names, matrix)
        .map_err(|e| CliError::Usage(format!("cannot draw the confusion matrix: {e}")))?;
    std::fs::write(path, svg).map_err(|source| CliError::Write {
        path: path.to_owned(),
        source,
    })
}

/// The colour of a share in [0, 1]: white to dark blue for right
/// answers, white to dark red for mistakes. The square root lifts small
/// shares: one mistake in forty messages still shows.
fn shade(share: f64, right: bool) -> plotters::style::RGBColor {
    let (r, g, b) = if right {
        (8.0, 48.0, 107.0)
    } else {
        (165.0, 15.0, 21.0)
    };
    let t = share.clamp(0.0, 1.0).sqrt();
    let mix = |high: f64| {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let channel = (255.0 + (high - 255.0) * t).round() as u8;
        channel
    };
    plotters::style::RGBColor(mix(r), mix(g), mix(b))
}

/// The confusion matrix as an SVG picture: a row per label that occurs
/// (out of scope last), a column per intent and one for "not understood";
/// each cell shaded by its share of the row (blue where the bot was right,
/// red where it was wrong), with the count written in it while the cells
/// are big enough to hold it, and the two colour scales beside.
fn confusion_svg(
    names: &[&str],
    matrix: &ConfusionMatrix,
) -> Result<String, Box<dyn std::error::Error>> {
    use plotters::prelude::*;
    use plotters::style::text_anchor::{HPos, Pos, VPos};

    let n = matrix.intents();
    let shown: Vec<usize> = (0..n)
        .filter(|&i| matrix.row_total(i) > 0 || matrix.column_total(i) > 0)
        .collect();
    let mut rows = shown.clone();
    if matrix.row_total(n) > 0 {
        rows.push(n);
    }
    let mut columns = shown;
    columns.push(n);
    let row_label = |class: usize| names.get(class).copied().unwrap_or(OUT_OF_SCOPE);
    let column_label = |class: usize| names.get(class).copied().unwrap_or("(not understood)");

    let cell: i32 = match rows.len().max(columns.len()) {
        0..=20 => 28,
        21..=50 => 18,
        _ => 12,
    };
    let font = f64::from(cell.clamp(10, 16)) * 0.8 * 1.24;
    #[allow(clippy::cast_possible_truncation)]
    let char_width = (font / 1.24 * 0.62).ceil() as i32;
    let longest = |labels: &mut dyn Iterator<Item = &str>| {
        labels
            .map(|l| i32::try_from(l.chars().count()).unwrap_or(i32::MAX / 64))
            .max()
            .unwrap_or(0)
            .min(40)
    };
    let left = 40 + char_width * longest(&mut rows.iter().map(|&r| row_label(r)));
    let top = 60 + char_width * longest(&mut columns.iter().map(|&c| column_label(c)));
    let size = |count: usize| i32::try_from(count).unwrap_or(i32::MAX / 64) * cell;
    let (grid_w, grid_h) = (size(columns.len()), size(rows.len()));
    let width = (left + grid_w + 130).max(560);
    let height = (top + grid_h + 40).max(top + 240);

    let mut svg = String::new();
    {
        let dims = (
            u32::try_from(width).unwrap_or(4096),
            u32::try_from(height).unwrap_or(4096),
        );
        let root = SVGBackend::with_string(&mut svg, dims).into_drawing_area();
        root.fill(&WHITE)?;
        let style = |size: f64, h: HPos| {
            TextStyle::from(("sans-serif", size).into_font())
                .pos(Pos::new(h, VPos::Center))
                .color(&BLACK)
        };
        root.draw(&Text::new(
            "Confusion matrix: rows are labels, columns what the bot took them for",
            (10, 18),
            style(14.0 * 1.24, HPos::Left),
        ))?;
        root.draw(&Text::new(
            "labelled ↓   taken for →",
            (10, top - 10),
            style(font * 0.9, HPos::Left),
        ))?;
        let rotated = TextStyle::from(
            ("sans-serif", font)
                .into_font()
                .transform(FontTransform::Rotate270),
        )
        .pos(Pos::new(HPos::Left, VPos::Center))
        .color(&BLACK);
        for (c, &class) in columns.iter().enumerate() {
            let x = left + size(c) + cell / 2;
            root.draw(&Text::new(
                column_label(class),
                (x, top - 6),
                rotated.clone(),
            ))?;
        }
        for (r, &truth) in rows.iter().enumerate() {
            let y = top + size(r);
            root.draw(&Text::new(
                row_label(truth),
                (left - 6, y + cell / 2),
                style(font, HPos::Right),
            ))?;
            let total = f64::from(matrix.row_total(truth));
            for (c, &outcome) in columns.iter().enumerate() {
                let count = matrix.get(truth, outcome);
                let share = if total > 0.0 {
                    f64::from(count) / total
                } else {
                    0.0
                };
                let x = left + size(c);
                root.draw(&Rectangle::new(
                    [(x, y), (x + cell, y + cell)],
                    shade(share, truth == outcome).filled(),
                ))?;
                // The diagonal, outlined, is where right answers fall.
                let (outline, line) = if truth == outcome {
                    (RGBColor(90, 90, 90), 1)
                } else {
                    (RGBColor(225, 225, 225), 1)
                };
                root.draw(&Rectangle::new(
                    [(x, y), (x + cell, y + cell)],
                    outline.stroke_width(line),
                ))?;
                if count > 0 && cell >= 18 {
                    let colour = if share > 0.3 { WHITE } else { BLACK };
                    root.draw(&Text::new(
                        count.to_string(),
                        (x + cell / 2, y + cell / 2),
                        TextStyle::from(("sans-serif", font * 0.9).into_font())
                            .pos(Pos::new(HPos::Center, VPos::Center))
                            .color(&colour),
                    ))?;
                }
            }
        }
        // The colour scales: the share of a row's messages.
        let (bar_x, bar_y, bar_h) = (left + grid_w + 24, top, 200);
        for (n, (label, right)) in [("right", true), ("wrong", false)].into_iter().enumerate() {
            let x = bar_x + 22 * i32::try_from(n).unwrap_or(0);
            for step in 0..bar_h {
                let share = 1.0 - f64::from(step) / f64::from(bar_h - 1);
                root.draw(&Rectangle::new(
                    [(x, bar_y + step), (x + 16, bar_y + step + 1)],
                    shade(share, right).filled(),
                ))?;
            }
            root.draw(&Rectangle::new(
                [(x, bar_y), (x + 16, bar_y + bar_h)],
                RGBColor(90, 90, 90).stroke_width(1),
            ))?;
            root.draw(&Text::new(label, (x + 8, bar_y - 6), rotated.clone()))?;
        }
        for (label, share) in [
            ("100 %", 1.0f64),
            ("25 %", 0.25),
            ("5 %", 0.05),
            ("0 %", 0.0),
        ] {
            // Where the square-root scale puts this share.
            #[allow(clippy::cast_possible_truncation)]
            let at = (f64::from(bar_h) * (1.0 - share.sqrt())).round() as i32;
            root.draw(&Text::new(
                label,
                (bar_x + 46, bar_y + at),
                style(font, HPos::Left),
            ))?;
        }
        root.draw(&Text::new(
            "of the row",
            (bar_x, bar_y + bar_h + 16),
            style(font, HPos::Left),
        ))?;
        root.present()?;
    }
    Ok(svg)
}
