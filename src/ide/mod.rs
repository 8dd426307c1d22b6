//! What an editor asks of a bot: the language-neutral half of `cellflow lsp`.
//!
//! A [`Workspace`] holds one bot's files as the editor has them (open
//! buffers, the rest as read from disk). Changing a file parses that file
//! again and nothing else; [`Workspace::check`] merges the cached modules,
//! runs the whole checker and indexes the result: every name the author
//! wrote — flows, cells, intents, entities, and variables in templates and
//! scripts — with what it names and whether it defines or uses it. The
//! queries on an [`Analysis`] (the symbol at an offset, its definitions and
//! references, a rename's edits, a hover text) and [`Workspace::complete`]
//! speak in byte offsets of the sources; lines, columns and the protocol are
//! the caller's business.

mod complete;
mod hover;
mod index;

use std::path::{Path, PathBuf};

use crate::ast::{Module, Settings};
use crate::check::Checked;
use crate::diagnostic::Diagnostic;
use crate::fmt::FormatError;
use crate::project::{self, Project, ReadError};
use crate::source::{FileId, SourceMap, Span};
use crate::syntax::{self, Syntax};

pub use complete::{Completion, CompletionKind, Completions, DSL_FIELDS};
pub use index::{Occurrence, Role, Symbol};

use index::Index;

/// One bot's files, parsed one by one and checked together.
#[derive(Debug, Default)]
pub struct Workspace {
    sources: SourceMap,
    /// By [`FileId`]: what parsing each file gave.
    parsed: Vec<Parsed>,
    analysis: Option<Analysis>,
    /// A file changed since the last check.
    dirty: bool,
}

#[derive(Clone, Debug)]
enum Parsed {
    Flow {
        syntax: Syntax,
        module: Module,
        diagnostics: Vec<Diagnostic>,
    },
    Settings {
        settings: Settings,
        diagnostics: Vec<Diagnostic>,
    },
}

/// Whether a path is a file of a bot: a flow file in either syntax, or
/// `cellflow.yaml`.
#[must_use]
pub fn is_bot_file(path: &Path) -> bool {
    Syntax::of_path(path).is_some() || is_settings(path)
}

fn is_settings(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|name| name == project::SETTINGS_FILE)
}

impl Workspace {
    /// A workspace with no file.
    #[must_use]
    pub fn new() -> Workspace {
        Workspace::default()
    }

    /// Reads a bot from disk the way `cellflow check PATH` does (a
    /// directory's flow files and `cellflow.yaml`, or one file). Files are
    /// named relative to `path`.
    ///
    /// # Errors
    /// A path that cannot be read or holds no flow file.
    pub fn load(path: &Path) -> Result<Workspace, ReadError> {
        let mut workspace = Workspace::new();
        for file in project::discover(&[path.to_owned()])? {
            let bytes = std::fs::read(&file).map_err(|source| ReadError::Io {
                path: file.clone(),
                source,
            })?;
            workspace.set_text(&file, String::from_utf8_lossy(&bytes).into_owned());
        }
        Ok(workspace)
    }

    /// Sets a file's text (adding the file if it is new) and parses it;
    /// no other file is parsed again.
    pub fn set_text(&mut self, path: &Path, text: String) -> FileId {
        self.dirty = true;
        let file = match self.file(path) {
            Some(file) => {
                self.sources.replace(file, text);
                file
            }
            None => {
                let name = project::display_name(path);
                self.sources.add(name, path, text)
            }
        };
        let parsed = parse(path, file, self.sources.get(file).text());
        match self.parsed.get_mut(file_index(&self.sources, file)) {
            Some(slot) => *slot = parsed,
            None => self.parsed.push(parsed),
        }
        file
    }

    /// Drops a file (deleted, or no longer part of the bot). The other files
    /// are parsed again, since their ids move.
    pub fn remove(&mut self, path: &Path) {
        let Some(gone) = self.file(path) else {
            return;
        };
        let old = std::mem::take(&mut self.sources);
        self.parsed.clear();
        self.analysis = None;
        for (id, file) in old.iter() {
            if id != gone {
                self.set_text(file.path(), file.text().to_owned());
            }
        }
        self.dirty = true;
    }

    /// The id of the file at `path`, if it is part of the workspace.
    #[must_use]
    pub fn file(&self, path: &Path) -> Option<FileId> {
        self.sources
            .iter()
            .find(|(_, file)| file.path() == path)
            .map(|(id, _)| id)
    }

    /// Every file, with its current text.
    #[must_use]
    pub fn sources(&self) -> &SourceMap {
        &self.sources
    }

    /// A file changed since the last [`check`](Workspace::check).
    #[must_use]
    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// Checks the bot as its files are now, unless nothing changed since
    /// the last check. Only the merge, the checker and the index run: every
    /// file was parsed when it was set.
    pub fn check(&mut self) -> &Analysis {
        match self.analysis.take() {
            Some(analysis) if !self.dirty => self.analysis.insert(analysis),
            _ => {
                let analysis = self.analyse();
                self.dirty = false;
                self.analysis.insert(analysis)
            }
        }
    }

    /// Merges the cached modules, checks them and indexes the result.
    fn analyse(&self) -> Analysis {
        {
            let mut project = Project::new();
            project.sources = self.sources.clone();
            for ((file, _), parsed) in self.sources.iter().zip(&self.parsed) {
                match parsed {
                    Parsed::Flow {
                        syntax,
                        module,
                        diagnostics,
                    } => {
                        project.modules.push((file, *syntax, module.clone()));
                        project.diagnostics.extend(diagnostics.iter().cloned());
                    }
                    Parsed::Settings {
                        settings,
                        diagnostics,
                    } => {
                        project.settings = Some((file, settings.clone()));
                        project.diagnostics.extend(diagnostics.iter().cloned());
                    }
                }
            }
            let checked = crate::check::check(project);
            let index = Index::build(&checked);
            Analysis { checked, index }
        }
    }

    /// The last check's result, which may be older than the files.
    #[must_use]
    pub fn analysis(&self) -> Option<&Analysis> {
        self.analysis.as_ref()
    }

    /// A flow file in `cellflow fmt`'s canonical layout, or `None` when it
    /// already is. A byte-order mark stays; `cellflow.yaml` is left as it is.
    ///
    /// # Errors
    /// The file does not parse, or formatting would lose a comment.
    pub fn format(&self, file: FileId) -> Result<Option<String>, FormatError> {
        let Some(Parsed::Flow {
            syntax,
            module,
            diagnostics,
        }) = self.parsed.get(file_index(&self.sources, file))
        else {
            return Ok(None);
        };
        if !diagnostics.is_empty() {
            return Err(FormatError::Invalid(diagnostics.clone()));
        }
        let original = self.sources.get(file).text();
        let mut formatted = crate::fmt::convert(module, *syntax)?;
        if original.starts_with('\u{feff}') {
            formatted.insert(0, '\u{feff}');
        }
        let lost = crate::fmt::lost_comments(original, &formatted);
        if let Some(first) = lost.first() {
            return Err(FormatError::Unrepresentable(format!(
                "{} comment line(s) would be dropped, e.g. `{first}`; move them onto their own \
                 line above a flow, intent, entity or cell",
                lost.len()
            )));
        }
        Ok((formatted != original).then_some(formatted))
    }

    /// What may be typed at a byte offset of a file: read from the file as
    /// it is now (it need not parse), with the names the last check knew.
    #[must_use]
    pub fn complete(&self, file: FileId, offset: usize) -> Completions {
        let source = self.sources.get(file);
        let syntax = if is_settings(source.path()) {
            None
        } else {
            Some(Syntax::of_path(source.path()).unwrap_or(Syntax::Yaml))
        };
        complete::complete(source.text(), offset, syntax, self.analysis.as_ref())
    }
}

/// The position of a file among the workspace's files.
fn file_index(sources: &SourceMap, file: FileId) -> usize {
    sources
        .iter()
        .position(|(id, _)| id == file)
        .unwrap_or(usize::MAX)
}

fn parse(path: &Path, file: FileId, text: &str) -> Parsed {
    if is_settings(path) {
        let (settings, diagnostics) = syntax::yaml::parse_settings(file, text);
        return Parsed::Settings {
            settings,
            diagnostics,
        };
    }
    let syntax = Syntax::of_path(path).unwrap_or(Syntax::Yaml);
    let (module, diagnostics) = syntax::parse(syntax, file, text);
    Parsed::Flow {
        syntax,
        module,
        diagnostics,
    }
}

/// A checked bot and the index of its names.
#[derive(Debug)]
pub struct Analysis {
    pub checked: Checked,
    index: Index,
}

/// Why a rename cannot be made.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RenameError {
    #[error("there is no flow, cell, intent, entity or variable name here")]
    NothingHere,
    #[error(
        "`{0}` is not a name: names start with a letter or `_` and hold letters, digits, `_` and `-`"
    )]
    InvalidName(String),
}

/// What a hover shows: Markdown, and the span it is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hover {
    pub span: Span,
    pub markdown: String,
}

impl Analysis {
    /// The diagnostics whose main span is in `file`.
    pub fn diagnostics_in(&self, file: FileId) -> impl Iterator<Item = &Diagnostic> {
        self.checked
            .diagnostics
            .iter()
            .filter(move |d| d.span.file() == Some(file))
    }

    /// The name at a byte offset, if one is written there.
    #[must_use]
    pub fn at(&self, file: FileId, offset: usize) -> Option<&Occurrence> {
        self.index.at(file, offset)
    }

    /// Where a symbol is defined (for a variable, every place that assigns
    /// it), in source order.
    #[must_use]
    pub fn definitions(&self, symbol: &Symbol) -> Vec<Span> {
        self.spans(symbol, |role| role == Role::Definition)
    }

    /// Where a symbol is written, its definitions too when asked.
    #[must_use]
    pub fn references(&self, symbol: &Symbol, with_definitions: bool) -> Vec<Span> {
        self.spans(symbol, |role| with_definitions || role == Role::Reference)
    }

    fn spans(&self, symbol: &Symbol, keep: impl Fn(Role) -> bool) -> Vec<Span> {
        let mut spans: Vec<Span> = self
            .index
            .all()
            .filter(|o| &o.symbol == symbol && keep(o.role))
            .map(|o| o.span)
            .collect();
        spans.sort_by_key(|s| (s.file(), s.range().map(|r| r.start)));
        spans
    }

    /// The edits that rename the symbol at an offset everywhere it is
    /// written: each replaces exactly the old name.
    ///
    /// # Errors
    /// No name at the offset, or a new name that is not a name.
    pub fn rename(
        &self,
        file: FileId,
        offset: usize,
        new_name: &str,
    ) -> Result<Vec<(Span, String)>, RenameError> {
        let occurrence = self.at(file, offset).ok_or(RenameError::NothingHere)?;
        if !crate::ast::is_name(new_name) {
            return Err(RenameError::InvalidName(new_name.to_owned()));
        }
        Ok(self
            .references(&occurrence.symbol, true)
            .into_iter()
            .map(|span| (span, new_name.to_owned()))
            .collect())
    }

    /// What to show for the position: the cell, flow, intent, entity or
    /// variable there.
    #[must_use]
    pub fn hover(&self, file: FileId, offset: usize) -> Option<Hover> {
        hover::hover(self, file, offset)
    }

    /// Every symbol the bot defines, for completion.
    fn defined(&self) -> impl Iterator<Item = &Symbol> {
        self.index
            .all()
            .filter(|o| o.role == Role::Definition)
            .map(|o| &o.symbol)
    }

    /// Paths of the files the analysis saw, by id.
    #[must_use]
    pub fn path(&self, file: FileId) -> PathBuf {
        self.checked.sources.get(file).path().to_path_buf()
    }
}
