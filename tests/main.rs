//! cellflow's integration tests: one binary, a module per area.

mod cli;
mod clean;
mod diagnostics;
mod grammar;
mod robustness;
mod roundtrip;
mod scale;
mod support;
