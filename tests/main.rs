//! cellflow's integration tests: one binary, a module per area.

// Test code builds small strings and compares exact parsed values; these
// pedantic lints guard production code, not fixtures.
#![allow(clippy::format_collect, clippy::float_cmp, clippy::format_push_string)]

mod allocations;
mod analytics;
mod architecture;
mod channels;
mod chat;
mod clean;
mod cli;
mod diagnostics;
mod editors;
mod environment;
mod explore;
mod grammar;
mod hardening;
mod ide;
mod inactivity;
mod init;
mod lossless;
mod lsp;
mod nlu;
mod nlu_eval;
mod operations;
mod receiver;
mod report;
mod reproducers;
mod robustness;
mod roundtrip;
mod runtime;
mod scale;
mod schema;
mod secrets;
mod server;
mod stores;
mod studio;
mod support;
mod testing;
mod tutorial;
mod webhooks;
