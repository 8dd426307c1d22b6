//! Loading: from a bot's files, its merged AST or a compiled artifact to a
//! [`Program`], through one path. Files are parsed, checked (a bot with
//! errors is refused with its diagnostics) and compiled with what the
//! checker prepared; an artifact, checked when it was written, is lowered
//! and compiled with the classifier model it carries.

use std::path::Path;

use super::{ArtifactError, CompileError, Program};
use crate::check::Prepared;
use crate::diagnostic::Diagnostic;
use crate::project::{self, Project};
use crate::source::SourceMap;

/// Why a bot could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A file cannot be read, or the path names no flow file.
    #[error(transparent)]
    Read(#[from] project::ReadError),
    /// The bot has errors; the diagnostics and their sources say which.
    #[error("the bot has {} error(s)", .diagnostics.iter().filter(|d| d.is_error()).count())]
    Invalid {
        diagnostics: Vec<Diagnostic>,
        sources: Box<SourceMap>,
    },
    #[error(transparent)]
    Artifact(#[from] ArtifactError),
    #[error(transparent)]
    Compile(#[from] CompileError),
}

/// Loads a bot from a directory, a flow file, or a compiled artifact.
///
/// # Errors
/// The path cannot be read, the bot has errors (the check diagnostics),
/// or the artifact is of another version or corrupt.
pub fn load(path: &Path) -> Result<Program, LoadError> {
    if path.is_file() {
        let bytes = std::fs::read(path).map_err(|source| project::ReadError::Io {
            path: path.to_owned(),
            source,
        })?;
        if bytes.starts_with(super::ARTIFACT_MAGIC.as_bytes()) {
            let text =
                String::from_utf8(bytes).map_err(|e| ArtifactError::Corrupt(e.to_string()))?;
            return load_artifact(super::read_artifact(&text)?);
        }
    }
    load_project(Project::load(&[path.to_owned()])?)
}

/// Checks and compiles a project (files read or added in memory).
///
/// # Errors
/// The bot has errors.
pub fn load_project(project: Project) -> Result<Program, LoadError> {
    let checked = crate::check::check(project);
    if checked.has_errors() {
        return Err(LoadError::Invalid {
            diagnostics: checked.diagnostics,
            sources: Box::new(checked.sources),
        });
    }
    Ok(super::compile(
        &checked.bot,
        &checked.lowered,
        checked.prepared,
    )?)
}

/// Compiles a bot's merged AST without checking it (for an AST that was
/// checked before, like an artifact's).
///
/// # Errors
/// The AST does not lower and compile.
pub fn load_ast(bot: &crate::ast::Bot) -> Result<Program, LoadError> {
    let lowered = crate::lower::lower(bot);
    Ok(super::compile(bot, &lowered, Prepared::default())?)
}

/// Compiles an artifact's AST with the classifier model it carries
/// (trained when it was written), without checking or training again.
///
/// # Errors
/// The AST does not lower and compile, or the model does not fit it.
pub fn load_artifact(artifact: super::Artifact) -> Result<Program, LoadError> {
    let lowered = crate::lower::lower(&artifact.bot);
    let mut program = super::compile_with_models(
        &artifact.bot,
        &lowered,
        Prepared::default(),
        artifact.model,
        artifact.language_models,
    )?;
    program.places = artifact.places;
    Ok(program)
}
