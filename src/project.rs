//! Projects: finding a bot's files, parsing each, and merging them.
//!
//! A bot is a directory (every `*.flow.yaml`, `*.flow.yml` and `*.flow`
//! under it, plus `cellflow.yaml` at its root) or a single file.
//! Loading reads and parses every file and merges the modules into one
//! [`ast::Bot`]; parse problems are collected, not fatal. Only I/O problems
//! (a path that does not exist, a directory with no flow files) are errors.

use std::path::{Path, PathBuf};

use crate::ast::{self, Module, Settings};
use crate::diagnostic::{Diagnostic, Problem};
use crate::source::{FileId, SourceMap, Span};
use crate::syntax::{self, Syntax};

/// The settings file at a bot's root.
pub const SETTINGS_FILE: &str = "cellflow.yaml";

/// A problem reading the bot from disk (not a problem with its content).
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} holds no flow files (*.flow.yaml, *.flow.yml, *.flow)")]
    NoFlowFiles { path: PathBuf },
    #[error("{path} is not a flow file (*.flow.yaml, *.flow.yml, *.flow) or {SETTINGS_FILE}")]
    NotAFlowFile { path: PathBuf },
}

/// The parsed files of one bot.
#[derive(Debug)]
pub struct Project {
    pub sources: SourceMap,
    /// Each flow file's module, in load order (sorted paths).
    pub modules: Vec<(FileId, Syntax, Module)>,
    /// `cellflow.yaml`, if there is one.
    pub settings: Option<(FileId, Settings)>,
    /// Problems found while parsing.
    pub diagnostics: Vec<Diagnostic>,
}

/// The files a set of command-line paths names, in a stable order.
///
/// # Errors
/// A path that cannot be read, or names no flow file.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<PathBuf>, ReadError> {
    let mut files = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|source| ReadError::Io {
            path: path.clone(),
            source,
        })?;
        if meta.is_dir() {
            let before = files.len();
            let settings = path.join(SETTINGS_FILE);
            if settings.is_file() {
                files.push(settings);
            }
            walk(path, &mut files)?;
            if !files[before..].iter().any(|f| Syntax::of_path(f).is_some()) {
                return Err(ReadError::NoFlowFiles { path: path.clone() });
            }
        } else if Syntax::of_path(path).is_some()
            || is_settings(path)
            || explicit_syntax(path).is_some()
        {
            files.push(path.clone());
        } else {
            return Err(ReadError::NotAFlowFile { path: path.clone() });
        }
    }
    Ok(files)
}

fn is_settings(path: &Path) -> bool {
    path.file_name().is_some_and(|n| n == SETTINGS_FILE)
}

/// A file named on the command line may use any `.yaml`/`.yml` name.
fn explicit_syntax(path: &Path) -> Option<Syntax> {
    Syntax::of_path(path).or_else(|| match path.extension()?.to_str()? {
        "yaml" | "yml" if !path.to_string_lossy().ends_with(".test.yaml") => Some(Syntax::Yaml),
        _ => None,
    })
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), ReadError> {
    let entries = std::fs::read_dir(dir).map_err(|source| ReadError::Io {
        path: dir.to_owned(),
        source,
    })?;
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for path in entries {
        let hidden = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.') || n == "target");
        if hidden {
            continue;
        }
        if path.is_dir() {
            walk(&path, files)?;
        } else if Syntax::of_path(&path).is_some() {
            files.push(path);
        }
    }
    Ok(())
}

/// The name a diagnostic shows for a path: relative to the working
/// directory when it is under it, with `/` separators.
#[must_use]
pub fn display_name(path: &Path) -> String {
    let relative = std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(&cwd).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| path.to_path_buf());
    let name = relative.to_string_lossy().replace('\\', "/");
    name.strip_prefix("./").map(str::to_owned).unwrap_or(name)
}

impl Project {
    /// Reads and parses every file the paths name.
    ///
    /// # Errors
    /// Only when a file cannot be read; problems in the content are diagnostics.
    pub fn load(paths: &[PathBuf]) -> Result<Project, ReadError> {
        Project::load_with_progress(paths, &mut |_, _| {})
    }

    /// As [`Project::load`], calling `progress(files_done, files_total)`
    /// after each file, for hosts that show progress on long loads.
    ///
    /// # Errors
    /// Only when a file cannot be read.
    pub fn load_with_progress(
        paths: &[PathBuf],
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Project, ReadError> {
        let files = discover(paths)?;
        let total = files.len();
        let mut project = Project {
            sources: SourceMap::new(),
            modules: Vec::new(),
            settings: None,
            diagnostics: Vec::new(),
        };
        for (done, path) in files.into_iter().enumerate() {
            project.add_path(&path)?;
            progress(done + 1, total);
        }
        Ok(project)
    }

    /// An empty project, to add in-memory files to.
    #[must_use]
    pub fn new() -> Project {
        Project {
            sources: SourceMap::new(),
            modules: Vec::new(),
            settings: None,
            diagnostics: Vec::new(),
        }
    }

    /// Reads and parses one file. A file larger than
    /// [`MAX_FILE_BYTES`](syntax::MAX_FILE_BYTES) is refused with a diagnostic
    /// without being read whole: at most one byte past the limit is read, so
    /// a huge file (or an endless one, like a device) costs no memory.
    ///
    /// # Errors
    /// Only when the file cannot be read.
    pub fn add_path(&mut self, path: &Path) -> Result<FileId, ReadError> {
        use std::io::Read as _;
        let io = |source| ReadError::Io {
            path: path.to_owned(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        let declared = file.metadata().map_or(0, |m| m.len());
        let limit = syntax::MAX_FILE_BYTES;
        let mut bytes = Vec::new();
        if declared <= limit as u64 {
            bytes.reserve_exact(usize::try_from(declared).unwrap_or(0));
        }
        file.take(limit as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(io)?;
        if bytes.len() > limit {
            let size = usize::try_from(declared)
                .unwrap_or(usize::MAX)
                .max(bytes.len());
            let id = self.sources.add(display_name(path), path, String::new());
            self.diagnostics.push(Diagnostic::new(
                Problem::FileTooLarge { size, limit },
                Span::new(id, 0, 0),
            ));
            return Ok(id);
        }
        Ok(self.add_bytes(&display_name(path), path, &bytes))
    }

    /// Parses one file's content; its name decides the syntax (as on disk).
    pub fn add_bytes(&mut self, name: &str, path: &Path, bytes: &[u8]) -> FileId {
        let (text, bad_utf8) = match std::str::from_utf8(bytes) {
            Ok(text) => (text.to_owned(), None),
            Err(e) => (
                String::from_utf8_lossy(bytes).into_owned(),
                Some(e.valid_up_to()),
            ),
        };
        let file = self.sources.add(name, path, text);
        if let Some(offset) = bad_utf8 {
            self.diagnostics.push(Diagnostic::new(
                Problem::NotUtf8,
                Span::new(file, offset, offset + 1),
            ));
            return file;
        }
        let text = self.sources.get(file).text();
        if is_settings(path) {
            let (settings, diagnostics) = syntax::yaml::parse_settings(file, text);
            self.diagnostics.extend(diagnostics);
            self.settings = Some((file, settings));
        } else {
            let syntax = explicit_syntax(path).unwrap_or(Syntax::Yaml);
            let (module, diagnostics) = syntax::parse(syntax, file, text);
            self.diagnostics.extend(diagnostics);
            self.modules.push((file, syntax, module));
        }
        file
    }

    /// Merges every module into one bot. Settings come from `cellflow.yaml`
    /// and `bot:` sections; a second `bot:` is reported.
    ///
    /// The modules are moved into the bot (a big bot is not copied), so
    /// `modules` is empty afterwards; the sources stay.
    pub fn merge(&mut self) -> ast::Bot {
        let mut bot = ast::Bot::default();
        let mut settings_span: Option<Span> = None;
        let mut all_settings: Vec<Settings> = Vec::new();
        if let Some((_, settings)) = self.settings.take() {
            all_settings.push(settings);
        }
        for (_, _, module) in std::mem::take(&mut self.modules) {
            all_settings.extend(module.bot);
            bot.intents.extend(module.intents);
            bot.entities.extend(module.entities);
            bot.flows.extend(module.flows);
        }
        for settings in all_settings {
            match settings_span {
                Some(first) => self.diagnostics.push(
                    Diagnostic::new(
                        Problem::DuplicateField {
                            field: "bot".into(),
                        },
                        settings.span,
                    )
                    .with_related(first, "bot settings first given here"),
                ),
                None => {
                    settings_span = Some(settings.span);
                    bot.settings = settings;
                }
            }
        }
        bot
    }
}

impl Default for Project {
    fn default() -> Self {
        Project::new()
    }
}
