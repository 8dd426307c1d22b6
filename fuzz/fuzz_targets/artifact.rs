//! Compiled artifacts: any text read as one, and a bot it yields run.
#![no_main]

#[path = "common.rs"]
mod common;

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    if let Ok(artifact) = cellflow::compile::read_artifact(text)
        && let Ok(bot) = cellflow::Bot::from_artifact(artifact)
    {
        common::converse(&bot, &["hello", "1", "yes"]);
    }
});
