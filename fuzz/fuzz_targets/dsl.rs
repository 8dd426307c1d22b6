//! The DSL front end, the checker, the formatter and the runtime on any
//! bytes.
#![no_main]

#[path = "common.rs"]
mod common;

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    common::front_end("fuzz.flow", bytes);
});
