//! The JSON Schema of the YAML format (`cellflow schema`, checked in under
//! `schema/`): the checked-in files are what the binary prints, its keys
//! are exactly those the YAML reader accepts, and every YAML flow of the
//! repository validates against it while misspelt fields do not.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::{self, Cmd};

const FLOW: &str = "schema/cellflow.flow.schema.json";
const SETTINGS: &str = "schema/cellflow.settings.schema.json";

fn printed(settings: bool) -> String {
    let mut args = vec!["schema"];
    if settings {
        args.push("--settings");
    }
    let out = Cmd::new().args(args).run();
    assert_eq!(out.status, 0, "{}", out.stderr);
    out.stdout
}

#[test]
fn checked_in_schemas_are_what_cellflow_schema_prints() {
    for (file, settings) in [(FLOW, false), (SETTINGS, true)] {
        let checked_in = std::fs::read_to_string(support::root().join(file)).unwrap();
        assert!(
            checked_in == printed(settings),
            "{file} is not what `cellflow schema{}` prints; regenerate it with \
             `cargo run -- schema{} > {file}`",
            if settings { " --settings" } else { "" },
            if settings { " --settings" } else { "" },
        );
    }
}

fn load(file: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(support::root().join(file)).unwrap()).unwrap()
}

/// The property names a schema allows: its own and those of the
/// alternatives it lists (following `$ref`s into the definitions).
fn properties(schema: &Value, definitions: &Value, out: &mut BTreeSet<String>) {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let name = reference.trim_start_matches("#/definitions/");
        properties(&definitions[name], definitions, out);
        return;
    }
    if let Some(map) = schema.get("properties").and_then(Value::as_object) {
        out.extend(map.keys().cloned());
    }
    for list in ["anyOf", "oneOf", "allOf"] {
        for branch in schema
            .get(list)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            properties(branch, definitions, out);
        }
    }
}

#[test]
fn schema_keys_are_the_keys_the_yaml_reader_accepts() {
    use cellflow::syntax::yaml::keys;
    let root = load(FLOW);
    let definitions = &root["definitions"];
    for (name, accepted) in keys::ALL {
        let schema = if *name == "File" {
            &root
        } else {
            definitions
                .get(*name)
                .unwrap_or_else(|| panic!("the schema has no definition `{name}`"))
        };
        let mut found = BTreeSet::new();
        properties(schema, definitions, &mut found);
        let mut expected: BTreeSet<String> = accepted.iter().map(|k| (*k).to_owned()).collect();
        if *name == "Cell" {
            expected.extend(cellflow::ast::CELL_KINDS.iter().map(|k| (*k).to_owned()));
        }
        assert_eq!(found, expected, "the keys of `{name}`");
    }
    // And the other way: every construct of the schema with keys is one the
    // reader reads with a fixed set of keys.
    let named: BTreeSet<&str> = keys::ALL.iter().map(|(n, _)| *n).collect();
    for (name, schema) in definitions.as_object().unwrap() {
        let mut found = BTreeSet::new();
        properties(schema, definitions, &mut found);
        assert!(
            found.is_empty() || named.contains(name.as_str()),
            "the schema's `{name}` has keys {found:?}, but syntax::yaml::keys lists no such construct"
        );
    }
    // cellflow.yaml holds the bot settings at its top level.
    let settings = load(SETTINGS);
    let mut found = BTreeSet::new();
    properties(&settings, &settings["definitions"], &mut found);
    let expected: BTreeSet<String> = keys::SETTINGS.iter().map(|k| (*k).to_owned()).collect();
    assert_eq!(found, expected);
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            yaml_files(&path, out);
        } else if cellflow::ide::is_bot_file(&path)
            && path.extension().is_some_and(|e| e == "yaml" || e == "yml")
        {
            out.push(path);
        }
    }
}

struct Validator {
    schemas: boon::Schemas,
    flow: boon::SchemaIndex,
    settings: boon::SchemaIndex,
}

impl Validator {
    fn new() -> Validator {
        let mut schemas = boon::Schemas::new();
        let mut compiler = boon::Compiler::new();
        compiler.set_default_draft(boon::Draft::V7);
        compiler.add_resource("flow.json", load(FLOW)).unwrap();
        compiler
            .add_resource("settings.json", load(SETTINGS))
            .unwrap();
        let flow = compiler.compile("flow.json", &mut schemas).unwrap();
        let settings = compiler.compile("settings.json", &mut schemas).unwrap();
        Validator {
            schemas,
            flow,
            settings,
        }
    }

    /// Validates YAML text; the error lists where it fails.
    fn validate(&self, text: &str, settings: bool) -> Result<(), String> {
        let value: Value = serde_saphyr::from_str(text).map_err(|e| e.to_string())?;
        let index = if settings { self.settings } else { self.flow };
        self.schemas
            .validate(&value, index)
            .map_err(|e| format!("{e:#}"))
    }
}

#[test]
fn every_yaml_flow_validates_against_the_schema() {
    let validator = Validator::new();
    let mut files = Vec::new();
    for dir in ["flows", "tests/clean"] {
        yaml_files(&support::root().join(dir), &mut files);
    }
    assert!(files.len() >= 10, "found {files:?}");
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let settings = file.ends_with(cellflow::project::SETTINGS_FILE);
        if let Err(e) = validator.validate(&text, settings) {
            panic!("{} does not validate:\n{e}", file.display());
        }
    }
}

#[test]
fn the_schema_refuses_what_the_reader_refuses() {
    let validator = Validator::new();
    let refused = [
        "flows:\n  main:\n    cells:\n      - anwser: hi\n",
        "flows:\n  main:\n    cells:\n      - input: {var: x, promt: \"?\"}\n",
        "flows:\n  main:\n    cells:\n      - answer: hi\n        end: {}\n",
        "flows:\n  main:\n    on: wellcome\n    cells: []\n",
        "flows:\n  main:\n    cells:\n      - id: main menu\n        answer: hi\n",
        "flows:\n  main:\n    cells:\n      - rule:\n          - when: x\n",
        "flows:\n  main: {}\n",
        "bot:\n  nlu: {threshold: 1.5}\n",
        "entities:\n  e: {values: [a], pattern: b}\n",
        "flows:\n  main:\n    cells:\n      - service: {url: x, method: FETCH}\n",
    ];
    for text in refused {
        assert!(
            validator.validate(text, false).is_err(),
            "accepted:\n{text}"
        );
    }
    let accepted = [
        "flows:\n  main:\n    cells:\n      - end\n      - answer: 42\n      - service: {url: x, method: post}\n",
        "flows:\n  main:\n    on: {intent: hi}\n    cells:\n      - jump: {to: other.start, return: true}\n      - intent: {yes: a, else: b}\n",
    ];
    for text in accepted {
        if let Err(e) = validator.validate(text, false) {
            panic!("refused:\n{text}\n{e}");
        }
    }
}
