//! `cellflow schema [--settings]`: the JSON Schema (draft 7) of the YAML
//! format, for editors (yaml-language-server, VS Code's YAML extension).
//!
//! The YAML front end reads a spanned tree, not serde types, so these types
//! mirror what it accepts, field for field, for schemars to derive from:
//! `tests/schema.rs` holds their keys equal to `syntax::yaml::keys` (the
//! lists the reader enforces), the checked-in `schema/*.schema.json` equal
//! to what this prints, and every YAML flow of the repository valid
//! against it. Where the reader is lenient the schema is too: a scalar
//! where a string is wanted may be a number or a boolean (the reader takes
//! the text as written), and fixed words it reads in any case (`POST`,
//! `post`) are offered in their usual case and accepted in any.
//!
//! The schema says what the reader accepts, not everything `check` proves:
//! a target that names no cell, an answer with two kinds of content, an
//! unknown language are still for `cellflow check` (and `cellflow lsp`).

// The types exist to be described, never built: no field is read, and
// the map values that describe nothing but a schema take no room.
#![allow(dead_code, clippy::zero_sized_map_values)]

use std::borrow::Cow;
use std::collections::BTreeMap;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};

#[derive(clap::Args, Debug)]
pub(crate) struct SchemaCmd {
    /// The schema of `cellflow.yaml` (bot settings at the top level) instead
    /// of a flow file's
    #[arg(long)]
    settings: bool,
}

impl SchemaCmd {
    pub(crate) fn run(self) -> u8 {
        println!(
            "{}",
            if self.settings {
                settings_schema()
            } else {
                flow_schema()
            }
        );
        super::EXIT_OK
    }
}

fn generator() -> SchemaGenerator {
    schemars::generate::SchemaSettings::draft07().into_generator()
}

fn render(mut schema: Schema, id: &str) -> String {
    if let Some(object) = schema.as_object_mut() {
        object.insert("$id".to_owned(), id.into());
    }
    serde_json::to_string_pretty(&schema).expect("a schema is JSON")
}

/// The schema of a `*.flow.yaml` file.
pub(crate) fn flow_schema() -> String {
    render(
        generator().into_root_schema_for::<File>(),
        "https://cellflow.dev/schema/cellflow.flow.schema.json",
    )
}

/// The schema of `cellflow.yaml`.
pub(crate) fn settings_schema() -> String {
    render(
        generator().into_root_schema_for::<Settings>(),
        "https://cellflow.dev/schema/cellflow.settings.schema.json",
    )
}

const NAME_PATTERN: &str = "^[A-Za-z_][A-Za-z0-9_-]*$";

/// A flow, cell, intent, entity or variable name.
struct Name;

impl JsonSchema for Name {
    fn schema_name() -> Cow<'static, str> {
        "Name".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A name: a letter or `_`, then letters, digits, `_` and `-`.",
            "type": "string",
            "pattern": NAME_PATTERN,
        })
    }
}

/// `NAME` (a cell of this flow, else a flow) or `FLOW.CELL`.
struct Target;

impl JsonSchema for Target {
    fn schema_name() -> Cow<'static, str> {
        "Target".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A cell id of this flow, else a flow name; or `FLOW.CELL`.",
            "type": "string",
            "pattern": "^\\s*[A-Za-z_][A-Za-z0-9_-]*(\\.[A-Za-z_][A-Za-z0-9_-]*)?\\s*$",
        })
    }
}

/// Text as written: the reader takes a number or boolean as its text.
struct Scalar;

impl JsonSchema for Scalar {
    fn schema_name() -> Cow<'static, str> {
        "Scalar".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "Text, which may hold `{{templates}}`.",
            "type": ["string", "number", "boolean"],
        })
    }
}

/// Text the user reads: a string, or one per language.
struct Localized;

impl JsonSchema for Localized {
    fn schema_name() -> Cow<'static, str> {
        "Localized".into()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let scalar = generator.subschema_for::<Scalar>();
        json_schema!({
            "description": "Text the user reads: a string, or a map from language to text (`{es: \"Hola\", pt: \"Olá\"}`).",
            "anyOf": [
                scalar,
                {"type": "object", "additionalProperties": scalar, "minProperties": 1},
            ],
        })
    }
}

/// Strings for every language, or one list per language (`all` for those
/// every language shares).
struct ByLanguage;

impl JsonSchema for ByLanguage {
    fn schema_name() -> Cow<'static, str> {
        "ByLanguage".into()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let list = generator.subschema_for::<Vec<Scalar>>();
        json_schema!({
            "description": "A list for every language, or a map from language (or `all`) to list.",
            "anyOf": [
                list,
                {"type": "object", "additionalProperties": list},
            ],
        })
    }
}

/// Any JSON value (`custom`, a service `body`, `track` properties).
struct Json;

impl JsonSchema for Json {
    fn schema_name() -> Cow<'static, str> {
        "Json".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({})
    }
}

/// A word from a fixed list, read in any case; offered as usually written.
fn any_case(description: &str, words: &[&str]) -> Schema {
    let alternatives: Vec<String> = words
        .iter()
        .map(|w| {
            w.chars()
                .map(|c| {
                    let (lower, upper) = (c.to_ascii_lowercase(), c.to_ascii_uppercase());
                    if lower == upper {
                        c.to_string()
                    } else {
                        format!("[{lower}{upper}]")
                    }
                })
                .collect()
        })
        .collect();
    json_schema!({
        "description": description,
        "anyOf": [
            {"enum": words},
            {"type": "string", "pattern": format!("^({})$", alternatives.join("|"))},
        ],
    })
}

macro_rules! any_case_type {
    ($name:ident, $description:literal, $all:expr) => {
        struct $name;
        impl JsonSchema for $name {
            fn schema_name() -> Cow<'static, str> {
                stringify!($name).into()
            }
            fn inline_schema() -> bool {
                true
            }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                let words: Vec<&str> = $all.iter().map(|(w, _)| *w).collect();
                any_case($description, &words)
            }
        }
    };
}

any_case_type!(
    PickWord,
    "How a variation is chosen.",
    cellflow::ast::Pick::ALL
);
any_case_type!(MethodWord, "The HTTP method.", cellflow::ast::Method::ALL);
any_case_type!(
    MediaWord,
    "The kind of media.",
    cellflow::ast::MediaKind::ALL
);
any_case_type!(
    ScopeWord,
    "How long the quick replies stay offered.",
    cellflow::ast::ReplyScope::ALL
);

/// An input's type.
struct InputTypeWord;

impl JsonSchema for InputTypeWord {
    fn schema_name() -> Cow<'static, str> {
        "InputType".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let words: Vec<&str> = cellflow::ast::InputType::ALL
            .iter()
            .map(|(w, _)| *w)
            .collect();
        json_schema!({
            "description": "What the input accepts; without it, `options` with options or an entity, `pattern` with a pattern, else `text`.",
            "enum": words,
        })
    }
}

/// A whole number from `min` up.
fn whole(description: &str, min: u64, max: Option<u64>) -> Schema {
    let mut schema = json_schema!({
        "description": description,
        "type": "integer",
        "minimum": min,
    });
    if let Some(max) = max {
        schema.insert("maximum".to_owned(), max.into());
    }
    schema
}

struct Milliseconds;

impl JsonSchema for Milliseconds {
    fn schema_name() -> Cow<'static, str> {
        "Milliseconds".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        whole("Milliseconds.", 0, None)
    }
}

struct Retries;

impl JsonSchema for Retries {
    fn schema_name() -> Cow<'static, str> {
        "Retries".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        whole(
            "How many times the prompt is asked again after a bad value (default 2).",
            0,
            Some(100),
        )
    }
}

struct Bytes;

impl JsonSchema for Bytes {
    fn schema_name() -> Cow<'static, str> {
        "Bytes".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        whole("The largest upload, in bytes.", 0, None)
    }
}

struct Threshold;

impl JsonSchema for Threshold {
    fn schema_name() -> Cow<'static, str> {
        "Threshold".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "The classifier's confidence threshold, from 0 to 1 (chosen from the examples when not given).",
            "type": "number",
            "minimum": 0,
            "maximum": 1,
        })
    }
}

/// An input's `min` or `max`.
struct Limit;

impl JsonSchema for Limit {
    fn schema_name() -> Cow<'static, str> {
        "Limit".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A number (for numbers, and the length of text), or for dates `today`, `today+N`, `today-N` or `YYYY-MM-DD`.",
            "type": ["number", "string"],
        })
    }
}

/// A map whose keys are names.
struct Named<T>(std::marker::PhantomData<T>);

impl<T: JsonSchema> JsonSchema for Named<T> {
    fn schema_name() -> Cow<'static, str> {
        format!("Named{}", T::schema_name()).into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let value = generator.subschema_for::<T>();
        json_schema!({
            "type": ["object", "null"],
            "propertyNames": {"pattern": NAME_PATTERN},
            "additionalProperties": value,
        })
    }
}

// ---- the file -------------------------------------------------------------

/// A cellflow flow file (`*.flow.yaml`): bot settings, intents, entities
/// and flows (docs/LANGUAGE.md). Every flow file of a bot's directory is
/// merged into one namespace.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields, title = "cellflow flow file")]
struct File {
    /// Bot settings (at most once in a bot; `cellflow.yaml` may hold them instead).
    bot: Option<Settings>,
    /// Intents by name.
    intents: Option<Named<Intent>>,
    /// Entities by name.
    entities: Option<Named<Entity>>,
    /// Flows by name.
    flows: Option<Named<Flow>>,
}

/// Bot settings.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields, title = "cellflow bot settings")]
struct Settings {
    /// The bot's name.
    name: Option<Scalar>,
    /// A BCP-47 locale (`es-CL`).
    locale: Option<Scalar>,
    /// The time zone "today" is read in (`America/Santiago`); UTC when not given.
    timezone: Option<Scalar>,
    /// The languages the bot speaks (`[es, pt]`), the default first.
    languages: Option<Vec<Scalar>>,
    /// Take the conversation's language from what the user writes.
    detect_language: Option<bool>,
    /// The built-in messages, in this bot's words.
    messages: Option<Messages>,
    /// The intent classifier's settings.
    nlu: Option<Nlu>,
    /// Variables the host sets on every request.
    context: Option<Vec<Name>>,
    /// Variables never shown to the channel.
    hidden: Option<Vec<Name>>,
    /// Variables a request's context cannot change.
    readonly: Option<Vec<Name>>,
    /// When a conversation waiting for the user times out.
    inactivity: Option<Inactivity>,
}

/// The built-in messages, as this bot words them.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
struct Messages {
    /// Said when no flow understood a message.
    not_understood: Option<Localized>,
    /// Said when a turn failed.
    error: Option<Localized>,
    /// Said when a conversation restarts after an update.
    restarted: Option<Localized>,
    /// Said when a conversation is closed for inactivity.
    inactivity_closed: Option<Localized>,
}

/// The intent classifier's settings.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
struct Nlu {
    threshold: Option<Threshold>,
    /// Messages that are none of the bot's intents.
    out_of_scope: Option<Vec<Scalar>>,
}

/// `inactivity: {after: 5m, message: …}`.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
struct Inactivity {
    /// `90s`, `5m`, `1h` or a number of seconds, up to 30 days.
    after: Scalar,
    /// What closes the conversation when no flow answers the timeout.
    message: Option<Localized>,
}

/// An intent.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
struct Intent {
    /// Example sentences, or a map from language (or `all`) to examples.
    examples: Option<ByLanguage>,
    /// Regular expressions; a match is a sure hit.
    patterns: Option<Vec<Scalar>>,
    /// The intent may interrupt a pending input.
    global: Option<bool>,
}

/// An entity: a list of values with synonyms, or a pattern.
#[derive(JsonSchema)]
#[schemars(untagged, deny_unknown_fields)]
enum Entity {
    List {
        /// Canonical values (`[a, b]`), or a map from value to its synonyms
        /// (a list, or a map from language or `all` to list).
        values: EntityValues,
    },
    Pattern {
        /// A regular expression.
        pattern: Scalar,
    },
}

struct EntityValues;

impl JsonSchema for EntityValues {
    fn schema_name() -> Cow<'static, str> {
        "EntityValues".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let list = generator.subschema_for::<Vec<Scalar>>();
        let synonyms = generator.subschema_for::<ByLanguage>();
        json_schema!({
            "anyOf": [
                list,
                {"type": "object", "additionalProperties": {"anyOf": [synonyms, {"type": "null"}]}},
            ],
        })
    }
}

/// A flow.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
struct Flow {
    /// What starts the flow on its own; without it, jumps reach it.
    on: Option<Trigger>,
    /// The inactivity timeout while the conversation waits in this flow.
    timeout: Option<Scalar>,
    /// The cells, run in order.
    cells: Vec<Cell>,
}

/// `welcome`, `fallback`, `timeout`, `{intent: NAME}` or `{entity: NAME}`.
#[derive(JsonSchema)]
#[schemars(untagged, deny_unknown_fields)]
enum Trigger {
    Event(TriggerEvent),
    Intent {
        /// The intent that starts the flow.
        intent: Name,
    },
    Entity {
        /// The entity that starts the flow.
        entity: Name,
    },
}

#[derive(JsonSchema)]
#[schemars(rename_all = "lowercase")]
enum TriggerEvent {
    Welcome,
    Fallback,
    Timeout,
}

/// A cell: `end`, or a map with one kind key, and maybe `id` and `next`.
struct Cell;

impl JsonSchema for Cell {
    fn schema_name() -> Cow<'static, str> {
        "Cell".into()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let name = generator.subschema_for::<Name>();
        let target = generator.subschema_for::<Target>();
        let scalar = generator.subschema_for::<Scalar>();
        let kinds: Vec<(&str, &str, Schema)> = vec![
            (
                "answer",
                "Says something: a text, or a map of the answer's content.",
                json_schema!({"anyOf": [scalar, generator.subschema_for::<Answer>()]}),
            ),
            (
                "input",
                "Asks for a value and stores it in `var`.",
                generator.subschema_for::<Input>(),
            ),
            (
                "rule",
                "Goes to the first arm whose `when` holds (`else` when none does).",
                generator.subschema_for::<Vec<RuleArm>>(),
            ),
            ("code", "A rhai script.", scalar.clone()),
            (
                "jump",
                "Continues at a target (`{to, return: true}` calls it and comes back).",
                json_schema!({"anyOf": [target, generator.subschema_for::<Jump>()]}),
            ),
            (
                "intent",
                "Routes the next message by intent: intent name → target, and `else`.",
                json_schema!({
                    "type": "object",
                    "propertyNames": {"pattern": NAME_PATTERN},
                    "additionalProperties": target,
                }),
            ),
            (
                "service",
                "Calls an HTTP service.",
                generator.subschema_for::<Service>(),
            ),
            (
                "track",
                "Reports an analytics event: its name, or `{event, properties}`.",
                json_schema!({"anyOf": [scalar, generator.subschema_for::<Track>()]}),
            ),
            (
                "handoff",
                "Hands the conversation to a person.",
                generator.subschema_for::<Handoff>(),
            ),
            (
                "end",
                "Ends the conversation (maybe with a message).",
                json_schema!({"anyOf": [{"type": "null"}, generator.subschema_for::<End>()]}),
            ),
        ];
        let mut alternatives =
            vec![json_schema!({"const": "end", "description": "Ends the conversation."})];
        for (kind, description, schema) in kinds {
            let mut value = schema;
            value.insert("description".to_owned(), description.into());
            alternatives.push(json_schema!({
                "type": "object",
                "properties": {
                    "id": name,
                    "next": target,
                    kind: value,
                },
                "required": [kind],
                "additionalProperties": false,
            }));
        }
        json_schema!({
            "description": "A cell: one kind key (answer, input, rule, code, jump, intent, service, track, handoff, end), an optional `id` that targets name, and an optional `next` that overrides falling through.",
            "anyOf": alternatives,
        })
    }
}

/// An answer's content.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
struct Answer {
    /// One text, or variations to pick from.
    text: Option<TextOrTexts>,
    /// How a variation is chosen: `random`, `sequence` or `first`.
    pick: Option<PickWord>,
    buttons: Option<Vec<Button>>,
    /// Quick replies: a text, or `{label, value}`.
    quick_replies: Option<Vec<QuickReplyItem>>,
    /// A carousel of cards.
    cards: Option<Vec<Card>>,
    media: Option<Media>,
    /// Any JSON, passed through to the channel.
    custom: Option<Json>,
    evaluable: Option<bool>,
    /// `once` (the default) or `kept`.
    quick_replies_scope: Option<ScopeWord>,
    /// Milliseconds of "typing…" before the answer (at most 60000).
    typing: Option<Milliseconds>,
    /// Milliseconds of pause before the answer (at most 60000).
    delay: Option<Milliseconds>,
    location: Option<Location>,
    link: Option<Link>,
    /// What a voice channel says instead: plain text or SSML.
    voice: Option<Localized>,
    /// The answer is sent but never stored.
    mask: Option<bool>,
}

struct TextOrTexts;

impl JsonSchema for TextOrTexts {
    fn schema_name() -> Cow<'static, str> {
        "TextOrTexts".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let one = generator.subschema_for::<Localized>();
        json_schema!({"anyOf": [one, {"type": "array", "items": one}]})
    }
}

struct QuickReplyItem;

impl JsonSchema for QuickReplyItem {
    fn schema_name() -> Cow<'static, str> {
        "QuickReplyItem".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        json_schema!({"anyOf": [generator.subschema_for::<Scalar>(), generator.subschema_for::<QuickReply>()]})
    }
}

/// A quick reply with a value other than its label.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
struct QuickReply {
    label: Localized,
    /// What choosing it sends.
    value: Option<Scalar>,
}

/// A button.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
struct Button {
    label: Localized,
    /// What pressing it sends.
    value: Option<Scalar>,
    /// A link button's URL.
    url: Option<Scalar>,
}

/// A card of a carousel.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
struct Card {
    title: Localized,
    subtitle: Option<Localized>,
    /// An image URL.
    image: Option<Scalar>,
    buttons: Option<Vec<Button>>,
}

/// An image, audio, video, file, document or sticker.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
struct Media {
    #[schemars(rename = "type")]
    kind: MediaWord,
    url: Scalar,
    /// A file name.
    name: Option<Scalar>,
}

/// A pin on a map.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
struct Location {
    /// Latitude in decimal degrees, or a template.
    lat: Scalar,
    /// Longitude in decimal degrees, or a template.
    lng: Scalar,
    name: Option<Localized>,
    address: Option<Localized>,
}

/// A web link with what a preview shows.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
struct Link {
    url: Scalar,
    title: Option<Localized>,
    description: Option<Localized>,
    /// An image URL.
    image: Option<Scalar>,
}

/// An input cell.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
struct Input {
    /// The variable the value is stored in.
    var: Name,
    #[schemars(rename = "type")]
    ty: Option<InputTypeWord>,
    /// What the bot asks.
    prompt: Option<Localized>,
    /// The options of an `options` input.
    options: Option<Vec<Localized>>,
    /// An entity whose values are the options.
    entity: Option<Name>,
    /// The regular expression of a `pattern` input.
    pattern: Option<Scalar>,
    min: Option<Limit>,
    max: Option<Limit>,
    /// Said after a bad value.
    invalid: Option<Localized>,
    retries: Option<Retries>,
    /// Where to go after the last retry (default: the fallback flow).
    on_fail: Option<Target>,
    /// The value is a secret: shown as `******` everywhere but in answers.
    mask: Option<bool>,
    /// Media types a `file` or `image` input accepts (`image/*`).
    types: Option<Vec<Scalar>>,
    max_size: Option<Bytes>,
}

/// An arm of a rule: `{when, goto}`, or `{else}` alone.
#[derive(JsonSchema)]
#[schemars(untagged, deny_unknown_fields)]
enum RuleArm {
    When {
        /// A rhai condition.
        when: Scalar,
        goto: Target,
    },
    Else {
        /// Where to go when no arm holds.
        #[schemars(rename = "else")]
        otherwise: Target,
    },
}

/// A jump written as a map.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
struct Jump {
    to: Target,
    /// Come back to the next cell when the flow completes.
    #[schemars(rename = "return")]
    returns: Option<bool>,
}

/// A service call.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
struct Service {
    /// GET (the default), POST, PUT, PATCH or DELETE.
    method: Option<MethodWord>,
    /// The URL: templates and `${ENV}` variables allowed.
    url: Scalar,
    /// Header name → value (templates and `${ENV}` allowed).
    headers: Option<BTreeMap<String, Scalar>>,
    /// A template string, or JSON whose strings are templates.
    body: Option<Json>,
    /// The timeout in milliseconds (default 5000).
    timeout_ms: Option<Milliseconds>,
    /// The variable the parsed reply is stored in (on success).
    save: Option<Name>,
    /// The variable the HTTP status is stored in (0 without a reply).
    status: Option<Name>,
    /// Where to go when the call fails (default: the next cell).
    on_error: Option<Target>,
}

/// An analytics event with properties.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
struct Track {
    /// The event's name.
    event: Scalar,
    /// A map of values; each string is a template.
    properties: Option<BTreeMap<String, Json>>,
}

/// A handoff to a person.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
struct Handoff {
    /// The queue to hand the conversation to.
    queue: Scalar,
    reason: Option<Scalar>,
    /// What the bot says before handing off.
    message: Option<Localized>,
}

/// The end of the conversation, with a message.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
struct End {
    message: Option<Localized>,
}
