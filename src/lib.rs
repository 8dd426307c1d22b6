//! cellflow compiles declarative chatbot flows and checks them.
//!
//! The pipeline, one module per stage, each looking only at the ones before:
//!
//! 1. [`source`] and [`diagnostic`]: files, spans, and problems as data;
//! 2. [`syntax`]: the YAML and DSL front ends, each producing an [`ast::Module`];
//! 3. [`project`]: finds a bot's files and merges their modules;
//! 4. [`lower`]: resolves names and builds the [`graph`] of cells;
//! 5. [`check`]: the static checks (docs/DIAGNOSTICS.md), each a pass over the graph;
//! 6. [`compile`]: the immutable program a runtime host loads;
//! 7. [`runtime`]: sessions and turns (docs/RUNTIME.md), the built-in NLU;
//! 8. [`fmt`] and [`export`]: printing the AST back as YAML or DSL, and the
//!    graph as DOT or Mermaid;
//! 9. [`ide`]: what an editor asks of a bot (names at a position, their
//!    definitions and uses, completion, hover), for `cellflow lsp`;
//! 10. `studio` (feature `studio`): the bot as a picture and a chat in the
//!     browser, over the server, for `cellflow studio`.
//!
//! Running a bot:
//!
//! ```
//! use cellflow::{Bot, Request};
//!
//! let bot = Bot::load("flows/ebank").expect("the example bot loads");
//! let mut session = bot.new_session();
//! let hello = bot.turn(&mut session, Request::event("welcome").with_context("customer_name", "Ana")).unwrap();
//! assert_eq!(hello.answers[0].text, "¡Hola Ana! Soy E-Bank.");
//! let reply = bot.turn(&mut session, Request::text("2")).unwrap();
//! assert_eq!(reply.vars.get("choice").unwrap(), "Consulta de Puntos");
//! assert!(reply.awaiting.is_some()); // it asks for the RUT next
//! ```
#![forbid(unsafe_code)]
#![warn(unreachable_pub)]

pub mod ast;
pub mod check;
pub mod classifier;
pub mod compile;
pub mod diagnostic;
pub mod export;
pub mod fmt;
#[doc(hidden)]
pub mod generate;
pub mod graph;
pub mod ide;
pub mod kinds;
pub mod language;
pub mod lower;
pub mod pattern;
pub mod project;
pub mod runtime;
pub mod script;
#[cfg(feature = "server")]
pub mod server;
pub mod source;
#[cfg(feature = "studio")]
pub mod studio;
pub mod syntax;
pub mod template;
pub mod testing;
pub mod text;
pub mod when;

/// The shared string type of answer texts (re-exported so hosts need not
/// depend on `arcstr` to name it).
pub use arcstr::ArcStr;
pub use runtime::{Bot, Request, Response, Session};
pub use testing::{coverage, explore};
