//! Synthetic bots of a given size, for benchmarks and scale tests.
//!
//! The shape imitates a large real bot: many intent-triggered flows, each
//! asking for a value, computing with it, branching, calling one of a few
//! shared helper flows and sometimes jumping to another flow. The bot checks
//! with no diagnostic, so a benchmark measures the clean path.

use std::fmt::Write as _;

/// Cells in each generated flow.
pub const CELLS_PER_FLOW: usize = 10;
/// Shared helper flows the generated flows call.
pub const HELPERS: usize = 10;

/// A DSL bot with about `cells` cells.
#[must_use]
pub fn dsl_bot(cells: usize) -> String {
    dsl_bot_with(cells, |k| format!(r"\bitem[- ]?{k}\b"))
}

/// The same bot with intent `k`'s one pattern made by `pattern(k)`.
#[must_use]
pub fn dsl_bot_with(cells: usize, pattern: impl Fn(usize) -> String) -> String {
    let flows = (cells / CELLS_PER_FLOW).max(2);
    let mut out = String::with_capacity(cells * 80);
    let _ = writeln!(
        out,
        "bot {{\n  name \"Generated\"\n  locale \"en-US\"\n}}\n"
    );
    for k in 0..flows {
        let _ = writeln!(
            out,
            "intent i{k} {{\n  examples [\"request number {k}\", \"i need item {k} please\", \"item {k}\"]\n  patterns ['{}']\n}}\n",
            pattern(k)
        );
    }
    for h in 0..HELPERS {
        let _ = writeln!(
            out,
            "flow helper{h} {{\n  input helped{h} text {{\n    prompt \"Helper {h}: anything to add?\"\n    on_fail give_up\n  }}\n}}\n"
        );
    }
    for k in 0..flows {
        let h = k % HELPERS;
        let next = (k + 1) % flows;
        let _ = writeln!(
            out,
            "flow f{k} on intent i{k} {{
  answer \"Step {k} for {{{{user.id}}}}\"
  input a{k} number {{
    prompt \"A value for {k}?\"
    min 0
    max 100
    invalid \"From 0 to 100, please.\"
    on_fail give_up
  }}
  code {{ b{k} = a{k} * 2; }}
  rule {{
    when {{ b{k} > 10 }} goto big
    else goto small
  }}
  big: answer \"Big {{{{b{k}}}}}\" -> join
  small: answer \"Small {{{{a{k}}}}}\"
  join: jump helper{h} return
  answer \"Noted {{{{helped{h}}}}}\"
  rule {{
    when {{ b{k} > 150 }} goto f{next}
  }}
  end \"Bye after {{{{a{k}}}}}\"
}}
"
        );
    }
    out.push_str("flow give_up {\n  end \"Let us try again later.\"\n}\n\n");
    out.push_str("flow fallback on fallback {\n  answer \"Sorry?\"\n}\n");
    out
}

/// Intent pattern number `k` of a varied set, as authors write them: words
/// and numbers with word boundaries, alternations, optional parts, anchors,
/// `\d+`, and one in a hundred with no literal text at all (`^[a-z]{3}\d{4}$`).
/// Each names its own number, as real intents name their own words.
#[must_use]
pub fn varied_pattern(k: usize) -> String {
    match k % 100 {
        9 => format!(r"^[a-z]{{{}}}\d{{{}}}$", 2 + k / 100 % 7, 3 + k / 700 % 5),
        n => match n % 9 {
            0 => format!(r"\border (number )?#?{k}\b"),
            1 => format!(r"^(hi|hello|hey),? agent {k}$"),
            2 => format!(r"\btrack(ing)? (my )?parcel {k}\b"),
            3 => format!(r"\b(cancel|stop|end) plan {k}\b"),
            4 => format!(r"invoice\s*#?{k}\d*"),
            5 => format!(r"^ticket[- ]?{k}$"),
            6 => format!(r"\bcode {k}[a-z]?\b"),
            7 => format!(r"refund (for|of) (item|order) {k}"),
            _ => format!(r"(?:^|\s)promo{k}(?:\s|$)"),
        },
    }
}

/// The same bot in YAML (converted through the AST, so it is the same program).
///
/// # Panics
/// Never for the bots [`dsl_bot`] makes: they parse without problems.
#[must_use]
pub fn yaml_bot(cells: usize) -> String {
    let text = dsl_bot(cells);
    let mut sources = crate::source::SourceMap::new();
    let file = sources.add("gen.flow", "gen.flow", text);
    let (module, diagnostics) = crate::syntax::dsl::parse(file, sources.get(file).text());
    assert!(diagnostics.is_empty(), "the generator makes valid bots");
    crate::fmt::to_yaml(&module)
}
