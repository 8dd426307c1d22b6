//! The VS Code extension in `editors/vscode/`: its manifest registers both
//! syntaxes and starts `cellflow lsp`, and its `TextMate` grammar parses and
//! gives a scope to every keyword the DSL's grammar has.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::support;

fn json(file: &str) -> Value {
    let path = support::root().join("editors/vscode").join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

#[test]
fn the_extension_registers_both_syntaxes_and_starts_the_server() {
    let manifest = json("package.json");
    let languages = manifest["contributes"]["languages"].as_array().unwrap();
    let dsl = languages.iter().find(|l| l["id"] == "cellflow").unwrap();
    assert_eq!(dsl["extensions"], serde_json::json!([".flow"]));
    let configuration = json(dsl["configuration"].as_str().unwrap());
    assert_eq!(configuration["comments"]["lineComment"], "#");
    let yaml = languages.iter().find(|l| l["id"] == "yaml").unwrap();
    let patterns: Vec<&str> = yaml["filenamePatterns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert!(patterns.contains(&"*.flow.yaml") && patterns.contains(&"*.flow.yml"));
    let grammar = &manifest["contributes"]["grammars"][0];
    assert_eq!(grammar["scopeName"], "source.cellflow");
    json(grammar["path"].as_str().unwrap());
    let main = manifest["main"].as_str().unwrap();
    let script =
        std::fs::read_to_string(support::root().join("editors/vscode").join(main)).unwrap();
    assert!(script.contains("'lsp'") && script.contains("vscode-languageclient"));
    // The schemas it points the YAML extension at are the checked-in ones,
    // copied in when the extension is packaged.
    for validation in manifest["contributes"]["yamlValidation"]
        .as_array()
        .unwrap()
    {
        let url = validation["url"].as_str().unwrap();
        let file = url.trim_start_matches("./");
        assert!(support::root().join(file).is_file(), "{url}");
    }
    // Dependencies are installed when packaging, never committed.
    let ignored =
        std::fs::read_to_string(support::root().join("editors/vscode/.gitignore")).unwrap();
    assert!(ignored.lines().any(|l| l == "node_modules/"));
}

/// Every `match` of the grammar's rules whose scope starts with `prefix`.
fn matches(rule: &Value, prefix: &str, out: &mut Vec<String>) {
    match rule {
        Value::Object(map) => {
            if let (Some(Value::String(name)), Some(Value::String(pattern))) =
                (map.get("name"), map.get("match"))
                && name.starts_with(prefix)
            {
                out.push(pattern.clone());
            }
            for value in map.values() {
                matches(value, prefix, out);
            }
        }
        Value::Array(items) => {
            for item in items {
                matches(item, prefix, out);
            }
        }
        _ => {}
    }
}

/// The words of a `\b(?:a|b|c)\b` alternation.
fn alternatives(pattern: &str) -> Vec<String> {
    let Some(start) = pattern.find("(?:") else {
        return Vec::new();
    };
    let inner = &pattern[start + 3..];
    let end = inner.find(')').unwrap_or(inner.len());
    inner[..end].split('|').map(str::to_owned).collect()
}

#[test]
fn the_textmate_grammar_scopes_every_keyword_of_the_dsl() {
    let grammar = json("syntaxes/cellflow.tmLanguage.json");
    assert_eq!(grammar["scopeName"], "source.cellflow");
    let mut scoped = BTreeSet::new();
    for prefix in ["keyword.", "variable.parameter.field"] {
        let mut patterns = Vec::new();
        matches(&grammar["repository"], prefix, &mut patterns);
        for pattern in patterns {
            scoped.extend(alternatives(&pattern));
        }
    }
    // The keywords of grammar/flow.pest: its whole-word keyword rules and
    // the field keywords of each block.
    let pest = std::fs::read_to_string(support::root().join("grammar/flow.pest")).unwrap();
    let mut keywords = BTreeSet::new();
    for line in pest.lines() {
        let Some((rule, body)) = line.split_once(" = @{") else {
            continue;
        };
        if rule.starts_with("kw_") || rule.ends_with("_kw") {
            let mut rest = body;
            while let Some(open) = rest.find('"') {
                let after = &rest[open + 1..];
                let close = after.find('"').unwrap();
                keywords.insert(after[..close].to_owned());
                rest = &after[close + 1..];
            }
        }
    }
    assert!(keywords.len() > 50, "{keywords:?}");
    let missing: Vec<&String> = keywords.difference(&scoped).collect();
    assert!(missing.is_empty(), "keywords without a scope: {missing:?}");
    // Comments, strings, templates and embedded scripts have their scopes.
    let text = grammar.to_string();
    for scope in [
        "comment.line.number-sign.cellflow",
        "string.quoted.double.cellflow",
        "string.quoted.single.cellflow",
        "meta.template.expression.cellflow",
        "meta.embedded.block.rhai",
        "entity.name.label.cellflow",
    ] {
        assert!(text.contains(scope), "{scope}");
    }
}
