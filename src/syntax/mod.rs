//! Syntax: the two front ends, each turning one file into an [`ast::Module`].
//!
//! `yaml` reads the YAML format; `dsl` reads the text DSL with the
//! pest grammar in `grammar/flow.pest`. Both report problems as diagnostics
//! and keep going, and both produce the same AST for the same bot.
//!
//! [`ast::Module`]: crate::ast::Module

pub mod comments;
pub mod dsl;
pub(crate) mod fields;
pub(crate) mod node;
pub mod yaml;

pub use node::{MAX_ALIAS_NODES, MAX_ALIASES, MAX_DEPTH, MAX_FILE_BYTES, MAX_NODES};

/// Which front end reads a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Syntax {
    Yaml,
    Dsl,
}

impl Syntax {
    /// The syntax a flow file's name implies, if it is a flow file.
    ///
    /// Flow file extensions are matched as written: `bot.FLOW.YAML` is not a
    /// flow file, as `BUILD.RS` is not a build script.
    #[must_use]
    #[allow(clippy::case_sensitive_file_extension_comparisons)]
    pub fn of_path(path: &std::path::Path) -> Option<Syntax> {
        let name = path.file_name()?.to_str()?;
        if name.ends_with(".flow.yaml") || name.ends_with(".flow.yml") {
            Some(Syntax::Yaml)
        } else if name.ends_with(".flow") {
            Some(Syntax::Dsl)
        } else {
            None
        }
    }
}

/// Parses one file with the front end for `syntax`.
#[must_use]
pub fn parse(
    syntax: Syntax,
    file: crate::source::FileId,
    text: &str,
) -> (crate::ast::Module, Vec<crate::diagnostic::Diagnostic>) {
    let (mut module, diagnostics) = match syntax {
        Syntax::Yaml => yaml::parse(file, text),
        Syntax::Dsl => dsl::parse(file, text),
    };
    comments::attach(syntax, text, &mut module);
    (module, diagnostics)
}
