//! The DSL's words, block by block: what the grammar (grammar/flow.pest's
//! `*_field_kw` rules) accepts in each. Syntax errors name them and offer
//! the closest; the language server completes them. A unit test in
//! `errors` holds each list equal to its grammar rule.

/// `bot { … }`.
pub const BOT: &[&str] = &[
    "name",
    "locale",
    "timezone",
    "languages",
    "detect_language",
    "messages",
    "threshold",
    "out_of_scope",
    "context",
    "hidden",
    "readonly",
    "inactivity",
];
/// `bot { inactivity { … } }`.
pub const INACTIVITY: &[&str] = &["after", "message"];
/// `intent NAME { … }`.
pub const INTENT: &[&str] = &["examples", "patterns", "global"];
/// `answer { … }`.
pub const ANSWER: &[&str] = &[
    "text",
    "pick",
    "button",
    "quick_reply",
    "quick_replies_scope",
    "card",
    "media",
    "custom",
    "evaluable",
    "typing",
    "delay",
    "location",
    "link",
    "voice",
    "mask",
];
/// `card "…" { … }`.
pub const CARD: &[&str] = &["subtitle", "image", "button"];
/// `input VAR TYPE { … }`.
pub const INPUT: &[&str] = &[
    "prompt", "options", "entity", "pattern", "min", "max", "invalid", "retries", "on_fail",
    "mask", "types", "max_size",
];
/// `service { … }`.
pub const SERVICE: &[&str] = &[
    "method", "url", "header", "body", "timeout", "save", "status", "on_error",
];
/// `handoff { … }`.
pub const HANDOFF: &[&str] = &["queue", "reason", "message"];
/// Fields that stand alone, with no value after them.
pub const FLAGS: &[&str] = &["evaluable", "mask", "global", "detect_language"];
/// Words that start a top-level item of a file.
pub const TOP: &[&str] = &["bot", "intent", "entity", "flow"];
/// What follows `on` in a flow's header.
pub const TRIGGERS: &[&str] = &["welcome", "fallback", "timeout", "intent", "entity"];

/// Each block's fields, by the grammar rule that lists them.
pub const FIELDS: &[(&str, &[&str])] = &[
    ("bot_field_kw", BOT),
    ("inactivity_field_kw", INACTIVITY),
    ("intent_field_kw", INTENT),
    ("answer_field_kw", ANSWER),
    ("card_field_kw", CARD),
    ("input_field_kw", INPUT),
    ("service_field_kw", SERVICE),
    ("handoff_field_kw", HANDOFF),
];
