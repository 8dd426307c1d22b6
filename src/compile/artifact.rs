//! Artifacts: a checked bot written once by `cellflow compile` and loaded
//! by hosts without parsing or checking it again.

use serde::{Deserialize, Serialize};

use super::Program;
use crate::ast;
use crate::classifier::Model;
use crate::source::Places;

/// The artifact format version; bump when the stored AST or model changes
/// shape.
pub const ARTIFACT_VERSION: u32 = 6;
/// The first line of every artifact.
pub const ARTIFACT_MAGIC: &str = "cellflow-artifact";

/// What an artifact holds: the checked bot's merged AST, the classifier
/// model trained from it (so loading an artifact does not train again), and
/// where its cells were written.
#[derive(Debug, Serialize, Deserialize)]
pub struct Artifact {
    pub bot: ast::Bot,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<Model>,
    /// The models of the bot's languages after the first, when its intents
    /// have examples per language.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub language_models: Vec<Option<Model>>,
    /// Where the bot's cells and scripts were written, so that its runtime
    /// errors name them (the AST keeps no positions). Artifacts written
    /// before it have none, and still load.
    #[serde(default, skip_serializing_if = "Places::is_empty")]
    pub places: Places,
}

/// Writes a checked bot as an artifact: a header line, then the merged AST
/// and the program's classifier model as JSON. The same bot always gives
/// the same bytes.
///
/// # Errors
/// If the bot cannot be serialized (it always can).
pub fn write_artifact(bot: &ast::Bot, program: &Program) -> Result<String, serde_json::Error> {
    #[derive(Serialize)]
    struct Written<'a> {
        bot: &'a ast::Bot,
        #[serde(skip_serializing_if = "Option::is_none")]
        model: Option<&'a Model>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        language_models: Vec<Option<&'a Model>>,
        #[serde(skip_serializing_if = "Places::is_empty")]
        places: &'a Places,
    }
    let written = Written {
        bot,
        model: program.nlu.model.as_ref(),
        language_models: program
            .nlu_languages
            .iter()
            .map(|l| l.model.as_ref())
            .collect(),
        places: &program.places,
    };
    Ok(format!(
        "{ARTIFACT_MAGIC} {ARTIFACT_VERSION}\n{}\n",
        serde_json::to_string(&written)?
    ))
}

/// Why an artifact cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    #[error("not a cellflow artifact (it does not start with `{ARTIFACT_MAGIC}`)")]
    NotAnArtifact,
    #[error(
        "the artifact has format version {found}, this cellflow reads version {ARTIFACT_VERSION}; compile the bot again"
    )]
    Version { found: String },
    #[error("the artifact is corrupt: {0}")]
    Corrupt(String),
}

/// Reads an artifact back.
///
/// # Errors
/// A file that is not an artifact, of another format version, or corrupt.
pub fn read_artifact(text: &str) -> Result<Artifact, ArtifactError> {
    let (header, body) = text.split_once('\n').ok_or(ArtifactError::NotAnArtifact)?;
    let version = header
        .strip_prefix(ARTIFACT_MAGIC)
        .ok_or(ArtifactError::NotAnArtifact)?
        .trim();
    if version != ARTIFACT_VERSION.to_string() {
        return Err(ArtifactError::Version {
            found: version.to_owned(),
        });
    }
    serde_json::from_str(body).map_err(|e| ArtifactError::Corrupt(e.to_string()))
}
