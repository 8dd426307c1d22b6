//! The keys each YAML construct accepts, in the order docs/LANGUAGE.md
//! shows them. The reader refuses any other key (with a did-you-mean); the
//! JSON Schema of the format (`cellflow schema`) and the editor's
//! completion offer exactly these, and a test holds the three together.

/// A flow file's top level.
pub const FILE: &[&str] = &["bot", "intents", "entities", "flows"];
/// `bot:` (and `cellflow.yaml`'s top level).
pub const SETTINGS: &[&str] = &[
    "name",
    "locale",
    "timezone",
    "languages",
    "detect_language",
    "messages",
    "nlu",
    "context",
    "hidden",
    "readonly",
    "inactivity",
];
/// `bot.nlu`.
pub const NLU: &[&str] = &["threshold", "out_of_scope"];
/// `bot.inactivity`.
pub const INACTIVITY: &[&str] = &["after", "message"];
/// `bot.messages`: the built-in messages a bot may word.
pub const MESSAGES: &[&str] = &crate::ast::BUILTIN_MESSAGES;
/// An intent under `intents:`.
pub const INTENT: &[&str] = &["examples", "patterns", "global"];
/// An entity under `entities:`.
pub const ENTITY: &[&str] = &["values", "pattern"];
/// A flow under `flows:`.
pub const FLOW: &[&str] = &["on", "timeout", "cells"];
/// A trigger written as a map (`on: {intent: NAME}`); one key only.
pub const TRIGGER: &[&str] = &["intent", "entity"];
/// The keys every cell may have besides its kind.
pub const CELL: &[&str] = &["id", "next"];
/// An answer written as a map.
pub const ANSWER: &[&str] = &[
    "text",
    "pick",
    "buttons",
    "quick_replies",
    "cards",
    "media",
    "custom",
    "evaluable",
    "quick_replies_scope",
    "typing",
    "delay",
    "location",
    "link",
    "voice",
    "mask",
];
/// A quick reply written as a map.
pub const QUICK_REPLY: &[&str] = &["label", "value"];
/// A card of an answer's `cards`.
pub const CARD: &[&str] = &["title", "subtitle", "image", "buttons"];
/// An answer's `media`.
pub const MEDIA: &[&str] = &["type", "url", "name"];
/// An answer's `location`.
pub const LOCATION: &[&str] = &["lat", "lng", "name", "address"];
/// An answer's `link`.
pub const LINK: &[&str] = &["url", "title", "description", "image"];
/// A button of an answer or a card.
pub const BUTTON: &[&str] = &["label", "value", "url"];
/// An input cell.
pub const INPUT: &[&str] = &[
    "var", "type", "prompt", "options", "entity", "pattern", "min", "max", "invalid", "retries",
    "on_fail", "mask", "types", "max_size",
];
/// An arm of a rule cell (`else` stands alone in its arm).
pub const RULE_ARM: &[&str] = &["when", "goto", "else"];
/// A jump written as a map.
pub const JUMP: &[&str] = &["to", "return"];
/// A service cell.
pub const SERVICE: &[&str] = &[
    "method",
    "url",
    "headers",
    "body",
    "timeout_ms",
    "save",
    "status",
    "on_error",
];
/// A track cell written as a map.
pub const TRACK: &[&str] = &["event", "properties"];
/// A handoff cell.
pub const HANDOFF: &[&str] = &["queue", "reason", "message"];
/// An end cell written as a map.
pub const END: &[&str] = &["message"];

/// Every construct with fixed keys, by a name for it (the schema's
/// definition names).
pub const ALL: &[(&str, &[&str])] = &[
    ("File", FILE),
    ("Settings", SETTINGS),
    ("Nlu", NLU),
    ("Inactivity", INACTIVITY),
    ("Messages", MESSAGES),
    ("Intent", INTENT),
    ("Entity", ENTITY),
    ("Flow", FLOW),
    ("Trigger", TRIGGER),
    ("Cell", CELL),
    ("Answer", ANSWER),
    ("QuickReply", QUICK_REPLY),
    ("Card", CARD),
    ("Media", MEDIA),
    ("Location", LOCATION),
    ("Link", LINK),
    ("Button", BUTTON),
    ("Input", INPUT),
    ("RuleArm", RULE_ARM),
    ("Jump", JUMP),
    ("Service", SERVICE),
    ("Track", TRACK),
    ("Handoff", HANDOFF),
    ("End", END),
];
