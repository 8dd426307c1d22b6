//! The layer rules of docs/ARCHITECTURE.md hold: every module of the
//! library uses (`crate::…`) only what its layer may, apart from the
//! exceptions the page lists, and every listed exception still occurs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A layer's modules, and the layers or modules it may use besides its own.
struct Layer {
    number: usize,
    modules: Vec<String>,
    /// `None`: every lower layer.
    may_use: Option<Vec<String>>,
}

fn cells(line: &str) -> Vec<String> {
    line.trim()
        .trim_matches('|')
        .split('|')
        .map(|cell| cell.trim().to_owned())
        .collect()
}

fn words(cell: &str) -> Vec<String> {
    cell.split(',').map(|w| w.trim().to_owned()).collect()
}

/// The rows of the first table after `heading` (header and rule skipped),
/// up to the end of that table.
fn table<'a>(page: &'a str, after: &str) -> Vec<&'a str> {
    let start = page
        .find(after)
        .unwrap_or_else(|| panic!("{after:?} in the page"));
    page[start..]
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2)
        .collect()
}

fn layers(page: &str) -> Vec<Layer> {
    table(page, "## Layers")
        .into_iter()
        .map(|row| {
            let cells = cells(row);
            Layer {
                number: cells[0].parse().expect("a layer number"),
                modules: words(&cells[1]),
                may_use: (cells[2] != "below").then(|| words(&cells[2])),
            }
        })
        .collect()
}

fn exceptions(page: &str) -> BTreeSet<(String, String)> {
    table(page, "Exceptions, each a debt to pay off")
        .into_iter()
        .map(|row| {
            let cells = cells(row);
            (cells[0].clone(), cells[1].clone())
        })
        .collect()
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level modules a file names with `crate::`, outside comments.
fn uses(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            let after = &rest[at + "crate::".len()..];
            let name: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                found.insert(name);
            }
            rest = after;
        }
    }
    found
}

#[test]
fn modules_use_only_what_their_layer_may() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let page = std::fs::read_to_string(root.join("docs/ARCHITECTURE.md")).unwrap();
    let layers = layers(&page);
    let allowed_exceptions = exceptions(&page);
    let layer_of: BTreeMap<&str, &Layer> = layers
        .iter()
        .flat_map(|l| l.modules.iter().map(move |m| (m.as_str(), l)))
        .collect();
    let may_use = |from: &Layer, to: &Layer, module: &str| {
        if from.number == to.number {
            return true;
        }
        match &from.may_use {
            None => to.number < from.number,
            // A module by name, or a whole layer.
            Some(list) => list.iter().any(|item| {
                item.strip_prefix("layer ")
                    .map_or_else(|| item == module, |n| n == to.number.to_string())
            }),
        }
    };

    let mut files = Vec::new();
    sources(&root.join("src"), &mut files);
    files.sort();
    let mut broken = Vec::new();
    let mut seen_exceptions = BTreeSet::new();
    for file in &files {
        let relative = file
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let inside = relative.strip_prefix("src/").unwrap();
        let module = inside.split('/').next().unwrap().trim_end_matches(".rs");
        // The binary may use everything; the crate root declares modules.
        if matches!(module, "main" | "cli" | "lib") {
            continue;
        }
        let from = layer_of
            .get(module)
            .unwrap_or_else(|| panic!("docs/ARCHITECTURE.md gives {module} ({relative}) no layer"));
        let text = std::fs::read_to_string(file).unwrap();
        for used in uses(&text) {
            let to = layer_of
                .get(used.as_str())
                .unwrap_or_else(|| panic!("{relative} uses crate::{used}, which has no layer"));
            if may_use(from, to, &used) {
                continue;
            }
            let key = (relative.clone(), used.clone());
            if allowed_exceptions.contains(&key) {
                seen_exceptions.insert(key);
            } else {
                broken.push(format!(
                    "{relative} (layer {}) uses crate::{used} (layer {})",
                    from.number, to.number
                ));
            }
        }
    }
    assert!(
        broken.is_empty(),
        "imports that break the layers:\n{}",
        broken.join("\n")
    );
    let stale: Vec<String> = allowed_exceptions
        .difference(&seen_exceptions)
        .map(|(file, used)| format!("{file} uses {used}"))
        .collect();
    assert!(
        stale.is_empty(),
        "exceptions in docs/ARCHITECTURE.md that no longer occur (remove them):\n{}",
        stale.join("\n")
    );
}

#[test]
fn an_upward_import_is_found() {
    // The scanner itself: what a real violation looks like to it.
    assert_eq!(
        uses("use crate::compile::Program;\nlet x = crate::server::f(); // crate::fmt\n"),
        BTreeSet::from(["compile".to_owned(), "server".to_owned()])
    );
}
