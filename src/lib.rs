//! cellflow compiles declarative chatbot flows and checks them.
//!
//! The pipeline, one module per stage, each looking only at the ones before:
//!
//! 1. [`source`] and [`diagnostic`]: files, spans, and problems as data;
//! 2. [`syntax`]: the YAML and DSL front ends, each producing an [`ast::Module`];
//! 3. [`project`]: finds a bot's files and merges their modules;
//! 4. [`lower`]: resolves names and builds the [`graph`] of cells;
//! 5. [`check`]: the static checks of SPEC §4, each a pass over the graph;
//! 6. [`fmt`] and [`export`]: printing the AST back as YAML or DSL, and the
//!    graph as DOT or Mermaid.
#![forbid(unsafe_code)]
#![warn(unreachable_pub)]

pub mod ast;
pub mod check;
pub mod compile;
pub mod diagnostic;
pub mod export;
pub mod fmt;
#[doc(hidden)]
pub mod generate;
pub mod graph;
pub mod lower;
pub mod project;
pub mod runtime;
pub mod script;
pub mod source;
pub mod syntax;
pub mod template;
pub mod text;

pub use runtime::{Bot, Request, Response, Session};
