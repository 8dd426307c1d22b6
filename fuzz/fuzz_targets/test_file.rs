//! Conversation-test files: read against the pizza bot and run.
#![no_main]

use std::sync::LazyLock;

#[path = "common.rs"]
mod common;

static BOT: LazyLock<cellflow::Bot> = LazyLock::new(common::pizza);

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    let mut sources = cellflow::source::SourceMap::new();
    let file = sources.add(
        "fuzz.test.yaml",
        std::path::Path::new("fuzz.test.yaml"),
        text.to_owned(),
    );
    let services = cellflow::testing::services(BOT.program());
    let (tests, diagnostics) = cellflow::testing::parse(file, sources.get(file).text(), &services);
    for diagnostic in &diagnostics {
        let _ = cellflow::diagnostic::render(diagnostic, &sources, false, 80);
    }
    for test in &tests {
        let _ = cellflow::testing::run(&BOT, test);
    }
});
