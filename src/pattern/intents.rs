//! Intent patterns, matched against every message the classifier sees.
//!
//! A bot may have thousands of intent patterns. Compiling them into one
//! regex set costs seconds and hundreds of megabytes at 10,000 patterns,
//! and such a set is too big for the fast engines, so every message then
//! pays for the slow one. Instead each pattern is read once for the
//! literal text that any match of it must contain (`\border\b` cannot match
//! without `order`); one Aho-Corasick automaton finds, in a single pass over
//! a message, which of those literals occur, and only the patterns they
//! belong to are run, each compiled on its first use. Patterns without such
//! a literal (`^\d+$`) are run on every message, in small sets.
//!
//! The answer is the same as matching one case-insensitive set of all the
//! patterns: the first pattern, in declaration order, whose intent is
//! allowed and which matches. The literal filter may let through a pattern
//! that does not match (the regex then says no), never hold back one that
//! does: case-insensitive matching follows Unicode simple case folding, so
//! a literal is searched for with every letter that folds to one of its own
//! (`k` also as the Kelvin sign), and a pattern whose literals cannot be
//! spelled out that way is run on every message instead.

use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, MatchKind};
use regex::RegexSet;
use regex_automata::meta;
use regex_automata::nfa::thompson::WhichCaptures;
use regex_syntax::hir::literal::{Extractor, Seq};
use regex_syntax::hir::{ClassUnicode, ClassUnicodeRange, Hir, HirKind};

use super::PatternError;

/// Patterns without a literal are matched together in sets of this many:
/// one set per message instead of one regex per pattern, and small enough
/// for the fast engines (a set of thousands falls back to the slow one).
const SET_SIZE: usize = 32;
/// Largest set of literals one pattern may be filtered by; a pattern that
/// needs more (`(a|b|c)(d|e|f)(g|h|i)…`) is run on every message instead.
const MAX_LITERALS: usize = 64;
/// Largest number of case spellings one literal is searched for in.
const MAX_SPELLINGS: usize = 16;
/// Element positions of a pattern tried as the start of its literal.
const MAX_STARTS: usize = 16;
/// Literals per Aho-Corasick automaton. Building one automaton costs more
/// per literal the more it holds (aho-corasick 1.1, distinct phrases:
/// 26 ms for 4,096, 0.17 s for 30,000, 0.43 s for 60,000), so a bot's
/// literals are split into automata of this many: loading grows linearly
/// with them, and a message is scanned once per automaton (a
/// 10,000-pattern bot has a handful).
const LITERALS_PER_AUTOMATON: usize = 4096;

/// Every intent pattern of a bot, ready to match messages.
#[derive(Debug, Default)]
pub struct IntentPatterns {
    patterns: Vec<IntentPattern>,
    /// Every literal some pattern requires, found case-insensitively for
    /// ASCII letters (other letters are spelled out in each case), in
    /// automata of [`LITERALS_PER_AUTOMATON`]: the `n`th holds literals
    /// from `n * LITERALS_PER_AUTOMATON` on.
    literals: Vec<AhoCorasick>,
    /// Per literal, the patterns requiring it: `owners[starts[l]..starts[l + 1]]`.
    starts: Vec<u32>,
    owners: Vec<u32>,
    /// The patterns without a literal, in declaration order, in sets.
    unfiltered: Vec<PatternSet>,
}

#[derive(Debug)]
struct IntentPattern {
    source: String,
    intent: usize,
    /// Compiled on first use. `None` only for a pattern that
    /// [`super::IntentValidator`] would refuse, which loading refuses first.
    regex: OnceLock<Option<meta::Regex>>,
}

#[derive(Debug)]
struct PatternSet {
    /// Pattern indices, ascending.
    members: Vec<u32>,
    /// Compiled on first use; `None` if the set would not build (its members
    /// are then matched one by one).
    set: OnceLock<Option<RegexSet>>,
}

impl IntentPatterns {
    /// Reads every pattern (each with the intent it belongs to, in
    /// declaration order). Time and memory grow linearly with the patterns;
    /// none is compiled yet.
    ///
    /// # Errors
    /// The first pattern that an [`super::IntentValidator`] refuses, with the reason.
    pub fn new<'a>(
        patterns: impl IntoIterator<Item = (&'a str, usize)>,
    ) -> Result<IntentPatterns, (String, PatternError)> {
        let validator = super::IntentValidator::default();
        let validated = patterns
            .into_iter()
            .map(|(source, intent)| match validator.check(source) {
                Ok(hir) => Ok((source, intent, hir)),
                Err(e) => Err((source.to_owned(), e)),
            })
            .collect::<Result<Vec<_>, _>>()?;
        IntentPatterns::from_validated(validated)
    }

    /// [`IntentPatterns::new`] for patterns an [`super::IntentValidator`]
    /// already accepted, each with what it parsed to (the checker validates
    /// them, and compiling takes its work instead of parsing again).
    ///
    /// # Errors
    /// Only if a literal automaton cannot be built (it always can).
    ///
    /// # Panics
    /// With 2^32 patterns or more (they could not fit in a bot's files).
    pub fn from_validated<'a>(
        patterns: impl IntoIterator<Item = (&'a str, usize, Hir)>,
    ) -> Result<IntentPatterns, (String, PatternError)> {
        let mut out = IntentPatterns::default();
        let mut literal_ids: rustc_hash::FxHashMap<Vec<u8>, u32> = rustc_hash::FxHashMap::default();
        let mut literal_owners: Vec<Vec<u32>> = Vec::new();
        let mut unfiltered: Vec<u32> = Vec::new();
        for (source, intent, hir) in patterns {
            let index = u32::try_from(out.patterns.len()).expect("fewer than 2^32 patterns");
            match required_literals(&hir) {
                Some(literals) => {
                    for literal in literals {
                        let next =
                            u32::try_from(literal_owners.len()).expect("fewer than 2^32 literals");
                        let id = *literal_ids.entry(literal).or_insert(next);
                        if id == next {
                            literal_owners.push(Vec::new());
                        }
                        literal_owners[id as usize].push(index);
                    }
                }
                None => unfiltered.push(index),
            }
            out.patterns.push(IntentPattern {
                source: source.to_owned(),
                intent,
                regex: OnceLock::new(),
            });
        }
        if !literal_ids.is_empty() {
            let mut by_id: Vec<(Vec<u8>, u32)> = literal_ids.into_iter().collect();
            by_id.sort_unstable_by_key(|(_, id)| *id);
            for chunk in by_id.chunks(LITERALS_PER_AUTOMATON) {
                let automaton = AhoCorasick::builder()
                    .ascii_case_insensitive(true)
                    .match_kind(MatchKind::Standard)
                    .build(chunk.iter().map(|(literal, _)| literal))
                    .map_err(|e| {
                        (
                            "(intent patterns)".to_owned(),
                            PatternError::Syntax(e.to_string()),
                        )
                    })?;
                out.literals.push(automaton);
            }
            out.starts.push(0);
            for owners in literal_owners {
                out.owners.extend(owners);
                out.starts
                    .push(u32::try_from(out.owners.len()).expect("fewer than 2^32 owners"));
            }
        }
        out.unfiltered = unfiltered
            .chunks(SET_SIZE)
            .map(|members| PatternSet {
                members: members.to_vec(),
                set: OnceLock::new(),
            })
            .collect();
        Ok(out)
    }

    /// How many patterns there are.
    #[must_use]
    pub fn len(&self) -> usize {
        self.patterns.len()
    }

    /// Whether there is no pattern.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// The first pattern of `intent`, as written.
    #[must_use]
    pub fn first_of(&self, intent: usize) -> Option<&str> {
        self.patterns
            .iter()
            .find(|p| p.intent == intent)
            .map(|p| p.source.as_str())
    }

    /// The intent of the first pattern, in declaration order, whose intent is
    /// `allowed` and which matches somewhere in `text`, case-insensitively.
    pub fn first_match(&self, text: &str, allowed: impl Fn(usize) -> bool) -> Option<usize> {
        let mut best: Option<usize> = None;
        if !self.literals.is_empty() {
            // The patterns whose literal occurs, as a bit set, so that they
            // are tried in declaration order and each once. Allocated only
            // when some literal occurs.
            let mut candidates: Vec<u64> = Vec::new();
            let found = self.literals.iter().enumerate().flat_map(|(n, automaton)| {
                automaton
                    .find_overlapping_iter(text)
                    .map(move |m| n * LITERALS_PER_AUTOMATON + m.pattern().as_usize())
            });
            for literal in found {
                let owners =
                    &self.owners[self.starts[literal] as usize..self.starts[literal + 1] as usize];
                if candidates.is_empty() {
                    candidates = vec![0; self.patterns.len().div_ceil(64)];
                }
                for &p in owners {
                    candidates[p as usize / 64] |= 1 << (p % 64);
                }
            }
            'search: for (word_index, &word) in candidates.iter().enumerate() {
                let mut bits = word;
                while bits != 0 {
                    let p = word_index * 64 + bits.trailing_zeros() as usize;
                    bits &= bits - 1;
                    if allowed(self.patterns[p].intent) && self.is_match(p, text) {
                        best = Some(p);
                        break 'search;
                    }
                }
            }
        }
        for set in &self.unfiltered {
            if best.is_some_and(|b| set.members[0] as usize > b) {
                break;
            }
            if let Some(p) = self.first_in_set(set, text, &allowed, best) {
                best = Some(p);
                break;
            }
        }
        best.map(|p| self.patterns[p].intent)
    }

    /// The first member of `set` before `before` whose intent is allowed and
    /// which matches.
    fn first_in_set(
        &self,
        set: &PatternSet,
        text: &str,
        allowed: &impl Fn(usize) -> bool,
        before: Option<usize>,
    ) -> Option<usize> {
        let earlier = |p: usize| before.is_none_or(|b| p < b);
        let compiled = set.set.get_or_init(|| {
            regex::RegexSetBuilder::new(
                set.members
                    .iter()
                    .map(|&p| self.patterns[p as usize].source.as_str()),
            )
            .case_insensitive(true)
            .size_limit(SET_SIZE * super::MAX_PATTERN_BYTES * 2)
            .build()
            .ok()
        });
        match compiled {
            Some(compiled) => {
                let mut matched = [false; SET_SIZE];
                if !compiled.matches_read_at(&mut matched[..set.members.len()], text, 0) {
                    return None;
                }
                set.members
                    .iter()
                    .map(|&p| p as usize)
                    .zip(matched)
                    .find(|&(p, hit)| hit && earlier(p) && allowed(self.patterns[p].intent))
                    .map(|(p, _)| p)
            }
            None => set.members.iter().map(|&p| p as usize).find(|&p| {
                earlier(p) && allowed(self.patterns[p].intent) && self.is_match(p, text)
            }),
        }
    }

    fn is_match(&self, p: usize, text: &str) -> bool {
        let pattern = &self.patterns[p];
        pattern
            .regex
            .get_or_init(|| compile(&pattern.source))
            .as_ref()
            .is_some_and(|regex| regex.is_match(text))
    }
}

/// Compiles one pattern to answer only whether it matches, as the regex
/// crate would (same syntax, case-insensitive, same size limit), without
/// what only other questions need: capture groups, the one-pass engine,
/// and a literal prefilter (the literals were searched for already). That
/// takes a compiled pattern from about 34 KiB to 19 KiB and its compile
/// time down by a fifth, and keeps the lazy DFA, which matches a long
/// message a hundred times faster than the engines without one.
fn compile(source: &str) -> Option<meta::Regex> {
    meta::Regex::builder()
        .syntax(regex_automata::util::syntax::Config::new().case_insensitive(true))
        .configure(
            meta::Config::new()
                .nfa_size_limit(Some(super::MAX_PATTERN_BYTES))
                .which_captures(WhichCaptures::None)
                .onepass(false)
                .auto_prefilter(false),
        )
        .build(source)
        .ok()
}

/// Byte strings, one of which occurs in any text that a pattern matches
/// case-insensitively, spelled for an ASCII-case-insensitive search; `None`
/// when there is no such set small enough to be worth searching for.
///
/// `hir` is the pattern parsed as written (case-sensitively): the literals
/// come out as written, and each is then spelled in every case below,
/// instead of the extractor multiplying out a class per letter.
fn required_literals(hir: &Hir) -> Option<Vec<Vec<u8>>> {
    let seq = covering(hir)?;
    let mut out: Vec<Vec<u8>> = Vec::new();
    for literal in seq.literals()? {
        for spelling in spellings(literal.as_bytes())? {
            if !out.contains(&spelling) {
                out.push(spelling);
            }
        }
        if out.len() > MAX_LITERALS {
            return None;
        }
    }
    Some(out)
}

/// Literals one of which is in every match of `hir`, or `None`.
fn covering(hir: &Hir) -> Option<Seq> {
    match hir.kind() {
        HirKind::Capture(capture) => covering(&capture.sub),
        HirKind::Alternation(branches) => {
            let mut all = Seq::empty();
            for branch in branches {
                let mut seq = covering(branch)?;
                all.union(&mut seq);
            }
            usable(all)
        }
        // Any match of the whole contains a match of each tail of it, which
        // starts with one of the tail's prefixes: take the best tail, so
        // that `(^|\s)order` is filtered by `order`. A tail's prefixes are
        // its parts' prefixes multiplied out, as the extractor does for a
        // whole concatenation, with each part extracted once.
        HirKind::Concat(parts) => {
            let extractor = Extractor::new();
            let prefixes: Vec<Seq> = parts.iter().map(|part| extractor.extract(part)).collect();
            (0..parts.len().min(MAX_STARTS))
                .filter_map(|start| {
                    let mut seq = prefixes[start].clone();
                    for next in &prefixes[start + 1..] {
                        if !seq.is_exact()
                            || seq.max_cross_len(next).is_none_or(|n| n > MAX_LITERALS)
                        {
                            break;
                        }
                        seq.cross_forward(&mut next.clone());
                    }
                    usable(seq)
                })
                .max_by_key(quality)
        }
        _ => usable(Extractor::new().extract(hir)),
    }
}

/// `seq` if it is finite, small and holds no empty literal (which would
/// match everywhere).
fn usable(seq: Seq) -> Option<Seq> {
    let literals = seq.literals()?;
    (!literals.is_empty()
        && literals.len() <= MAX_LITERALS
        && literals.iter().all(|l| !l.is_empty()))
    .then_some(seq)
}

/// Longer literals let fewer messages through; fewer literals cost less.
fn quality(seq: &Seq) -> (usize, std::cmp::Reverse<usize>) {
    (
        seq.min_literal_len().unwrap_or(0).min(8),
        std::cmp::Reverse(seq.len().unwrap_or(usize::MAX)),
    )
}

/// Every way a case-insensitive regex could find `literal`, as byte strings
/// for an ASCII-case-insensitive search: letters whose case variants are all
/// ASCII stay as they are (lowercased), others are spelled out in each
/// variant. A literal with too many spellings is cut short (any prefix of
/// a required literal is required too); `None` if nothing is left.
fn spellings(literal: &[u8]) -> Option<Vec<Vec<u8>>> {
    // Extracted literals may be cut inside a character.
    let text = match std::str::from_utf8(literal) {
        Ok(text) => text,
        Err(e) => std::str::from_utf8(&literal[..e.valid_up_to()]).expect("valid up to here"),
    };
    let mut out: Vec<Vec<u8>> = vec![Vec::new()];
    for c in text.chars() {
        let variants = case_variants(c);
        if out.len() * variants.len() > MAX_SPELLINGS {
            break;
        }
        out = out
            .iter()
            .flat_map(|prefix| {
                variants.iter().map(move |v| {
                    let mut longer = prefix.clone();
                    let mut buffer = [0; 4];
                    longer.extend_from_slice(v.encode_utf8(&mut buffer).as_bytes());
                    longer
                })
            })
            .collect();
    }
    (!out[0].is_empty()).then_some(out)
}

/// The characters a case-insensitive regex treats as `c`, with all ASCII
/// ones represented by the lowercase one.
fn case_variants(c: char) -> Vec<char> {
    static ASCII: OnceLock<Vec<Vec<char>>> = OnceLock::new();
    if c.is_ascii() {
        let ascii = ASCII.get_or_init(|| ('\0'..='\x7f').map(fold).collect());
        return ascii[c as usize].clone();
    }
    fold(c)
}

fn fold(c: char) -> Vec<char> {
    let mut class = ClassUnicode::new([ClassUnicodeRange::new(c, c)]);
    class.case_fold_simple();
    let mut out: Vec<char> = Vec::new();
    for range in class.iter() {
        for v in range.start()..=range.end() {
            let v = v.to_ascii_lowercase();
            if !out.contains(&v) {
                out.push(v);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patterns(sources: &[&str]) -> IntentPatterns {
        IntentPatterns::new(sources.iter().enumerate().map(|(i, s)| (*s, i))).unwrap()
    }

    #[test]
    fn literals_are_found_in_every_automaton() {
        // More literals than one automaton holds: those of the later
        // automata find their patterns too, and the first in declaration
        // order still wins.
        let count = LITERALS_PER_AUTOMATON * 2 + 10;
        let sources: Vec<String> = (0..count).map(|i| format!(r"\bcode{i}x\b")).collect();
        let mut all: Vec<&str> = sources.iter().map(String::as_str).collect();
        all.push(r"code9000x");
        let set = patterns(&all);
        assert_eq!(set.literals.len(), 3);
        for i in [
            0,
            LITERALS_PER_AUTOMATON - 1,
            LITERALS_PER_AUTOMATON,
            count - 1,
        ] {
            let message = format!("please CODE{i}X now");
            assert_eq!(set.first_match(&message, |_| true), Some(i), "{message}");
        }
        assert_eq!(set.first_match("code9000x", |i| i == count), Some(count));
        assert_eq!(set.first_match("code999999x", |_| true), None);
    }

    #[test]
    fn literals_are_found_inside_patterns() {
        let lits = |p: &str| {
            required_literals(&regex_automata::util::syntax::parse(p).unwrap()).map(|ls| {
                let mut ls: Vec<String> = ls
                    .into_iter()
                    .map(|l| String::from_utf8(l).unwrap())
                    .collect();
                ls.sort();
                ls
            })
        };
        assert_eq!(lits(r"\border\b"), Some(vec!["order".to_owned()]));
        assert_eq!(lits(r"(^|\s)Order"), Some(vec!["order".to_owned()]));
        assert_eq!(
            lits(r"\bitem[- ]?42\b"),
            Some(vec!["item 42".into(), "item-42".into(), "item42".into()])
        );
        // `k` also folds from the Kelvin sign, `é` from `É`.
        assert_eq!(
            lits("kö"),
            Some(vec![
                "kÖ".into(),
                "kö".into(),
                "\u{212a}Ö".into(),
                "\u{212a}ö".into()
            ])
        );
        assert_eq!(lits(r"^\d+$"), None);
        assert_eq!(lits(r"\w+"), None);
        assert_eq!(lits(r"a|\d"), None);
        assert_eq!(lits(""), None);
    }

    #[test]
    fn the_first_allowed_pattern_in_declaration_order_wins() {
        let set = patterns(&[r"\bhello\b", r"^\d+$", "hello there", r"\d"]);
        assert_eq!(set.first_match("HELLO there", |_| true), Some(0));
        assert_eq!(set.first_match("HELLO there", |i| i != 0), Some(2));
        assert_eq!(set.first_match("42", |_| true), Some(1));
        assert_eq!(set.first_match("42", |i| i != 1), Some(3));
        assert_eq!(set.first_match("hello 4", |i| i != 0), Some(3));
        assert_eq!(set.first_match("nothing", |_| true), None);
        assert_eq!(set.first_match("", |_| true), None);
        assert_eq!(set.first_of(2), Some("hello there"));
        assert_eq!(set.first_of(9), None);
    }

    #[test]
    fn folded_letters_are_not_missed() {
        // The Kelvin sign and the long s fold to ASCII letters.
        let set = patterns(&["kiss", "café", "straße"]);
        assert_eq!(
            set.first_match("\u{212a}i\u{17f}\u{17f}", |_| true),
            Some(0)
        );
        assert_eq!(set.first_match("CAFÉ", |_| true), Some(1));
        assert_eq!(set.first_match("STRAẞE", |_| true), Some(2));
    }

    /// Patterns built from pieces that exercise literals, classes,
    /// alternations, anchors, repetitions, case and non-ASCII letters.
    fn generated(seed: u64, count: usize) -> Vec<String> {
        const PIECES: &[&str] = &[
            "order",
            "Kiss",
            "café",
            "ß",
            r"\d+",
            r"\b",
            "^",
            "$",
            "(a|bc)",
            "[- ]?",
            "x*",
            r"\s",
            "ſ",
            "K",
            "(?:no|yes)",
            "é",
            r"\w",
            "[kq]",
            "42",
            " ",
            "(?i)Ab",
            "(?-i)Ab",
            "[^a]",
            ".",
            "o{2}",
        ];
        let mut state = seed;
        let mut next = move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            usize::try_from(state >> 33).unwrap()
        };
        (0..count)
            .map(|_| {
                let n = 1 + next() % 4;
                (0..n).map(|_| PIECES[next() % PIECES.len()]).collect()
            })
            .collect()
    }

    #[test]
    fn matches_as_one_regex_set_would() {
        let sources = generated(7, 400);
        let set = IntentPatterns::new(
            sources
                .iter()
                .enumerate()
                .map(|(i, s)| (s.as_str(), i % 37)),
        )
        .unwrap();
        let reference = regex::RegexSetBuilder::new(&sources)
            .case_insensitive(true)
            .build()
            .unwrap();
        let mut messages: Vec<String> = generated(11, 300)
            .into_iter()
            .map(|m| {
                m.replace(
                    [
                        '\\', '(', ')', '[', ']', '?', '*', '^', '$', '|', '{', '}', ':', '+',
                    ],
                    "",
                )
            })
            .collect();
        messages.extend(
            [
                "",
                "ORDER 42",
                "KISS",
                "\u{212a}i\u{17f}\u{17f}",
                "CAFÉ",
                "STRASSE",
                "ẞ",
                "no",
                "x",
            ]
            .map(str::to_owned),
        );
        // Both groups are exercised.
        assert!(!set.literals.is_empty() && set.unfiltered.len() > 1);
        let mut found = 0;
        let filters: [&dyn Fn(usize) -> bool; 3] = [&|_| true, &|i| i % 2 == 0, &|i| i % 5 == 3];
        for message in &messages {
            for allowed in filters {
                let expected = reference
                    .matches(message)
                    .iter()
                    .map(|p| p % 37)
                    .find(|&i| allowed(i));
                assert_eq!(
                    set.first_match(message, allowed),
                    expected,
                    "message {message:?}"
                );
                found += usize::from(expected.is_some());
            }
        }
        assert!(found > messages.len(), "{found} matches");
    }
}
