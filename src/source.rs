//! Source files and spans: the bottom layer every other stage points into.
//!
//! A [`SourceMap`] owns the text of every file a bot was loaded from; a
//! [`Span`] names a byte range in one of them. Nodes that lowering invents (an
//! implicit fall-through, a default value) carry [`Span::Synthetic`], so code
//! that reports a problem must be ready for a span with no text behind it.

use std::path::{Path, PathBuf};

/// Identifies one file in a [`SourceMap`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId(u32);

/// Where an AST node came from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Span {
    /// A byte range `start..end` of a loaded file.
    Source { file: FileId, start: u32, end: u32 },
    /// Made by the compiler, not written by the author.
    #[default]
    Synthetic,
}

impl Span {
    #[must_use]
    pub fn new(file: FileId, start: usize, end: usize) -> Self {
        let clamp = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        Span::Source {
            file,
            start: clamp(start),
            end: clamp(end.max(start)),
        }
    }

    #[must_use]
    pub fn file(self) -> Option<FileId> {
        match self {
            Span::Source { file, .. } => Some(file),
            Span::Synthetic => None,
        }
    }

    /// The byte range, if the span points into a file.
    #[must_use]
    pub fn range(self) -> Option<std::ops::Range<usize>> {
        match self {
            Span::Source { start, end, .. } => Some(start as usize..end as usize),
            Span::Synthetic => None,
        }
    }

    /// The smallest span covering both, when they are in the same file.
    #[must_use]
    pub fn to(self, other: Span) -> Span {
        match (self, other) {
            (
                Span::Source { file, start, end },
                Span::Source {
                    file: f2,
                    start: s2,
                    end: e2,
                },
            ) if file == f2 => Span::Source {
                file,
                start: start.min(s2),
                end: end.max(e2),
            },
            (Span::Synthetic, other) => other,
            (this, _) => this,
        }
    }

    /// The span cut at the end of its first line (for labelling a
    /// multi-line node by its head).
    #[must_use]
    pub fn first_line(self, sources: &SourceMap) -> Span {
        match sources.snippet(self) {
            Some(text) => self.slice(
                0,
                text.find('\n')
                    .map_or(text.len(), |i| text[..i].trim_end().len()),
            ),
            None => self,
        }
    }

    /// A sub-range of this span, given as offsets relative to its start.
    #[must_use]
    pub fn slice(self, from: usize, to: usize) -> Span {
        match self {
            Span::Source { file, start, end } => {
                let s = (start as usize + from).min(end as usize);
                let e = (start as usize + to).clamp(s, end as usize);
                Span::new(file, s, e)
            }
            Span::Synthetic => Span::Synthetic,
        }
    }
}

/// One loaded file: its name as shown to the user and its text.
#[derive(Clone, Debug)]
pub struct SourceFile {
    name: String,
    path: PathBuf,
    text: String,
    line_starts: Vec<usize>,
}

impl SourceFile {
    /// The name shown in diagnostics (a path relative to where the user ran the tool).
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    #[must_use]
    pub fn text(&self) -> &str {
        &self.text
    }

    /// 1-based line and column (in characters) of a byte offset.
    #[must_use]
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&s| s <= offset) - 1;
        let start = self.line_starts[line];
        let column = self.text.get(start..offset).map_or(offset - start, |s| {
            // A byte-order mark is not a column an editor shows.
            s.strip_prefix('\u{feff}').unwrap_or(s).chars().count()
        });
        (line + 1, column + 1)
    }

    /// The 0-based line of a byte offset (clamped to the file).
    #[must_use]
    pub fn line_of(&self, offset: usize) -> usize {
        self.line_starts
            .partition_point(|&s| s <= offset.min(self.text.len()))
            - 1
    }

    /// The bytes of 0-based lines `first..=last` (clamped to the file), each
    /// with its line break.
    #[must_use]
    pub fn lines_range(&self, first: usize, last: usize) -> std::ops::Range<usize> {
        let start = self
            .line_starts
            .get(first)
            .copied()
            .unwrap_or(self.text.len());
        let end = self
            .line_starts
            .get(last.saturating_add(1))
            .copied()
            .unwrap_or(self.text.len());
        start..end.max(start)
    }

    /// The byte offset of a 1-based line and column (in characters), clamped to the file.
    #[must_use]
    pub fn offset_of(&self, line: usize, column: usize) -> usize {
        let Some(&start) = self.line_starts.get(line.saturating_sub(1)) else {
            return self.text.len();
        };
        let rest = &self.text[start..];
        let line_text = rest.split('\n').next().unwrap_or("");
        start
            + line_text
                .char_indices()
                .nth(column.saturating_sub(1))
                .map_or(line_text.len(), |(i, _)| i)
    }
}

/// Every file of one bot, addressed by [`FileId`].
#[derive(Clone, Debug, Default)]
pub struct SourceMap {
    files: Vec<SourceFile>,
}

impl SourceMap {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a file. `name` is what diagnostics show; `path` is where it lives.
    ///
    /// # Panics
    /// If the map already holds 4 billion files.
    pub fn add(
        &mut self,
        name: impl Into<String>,
        path: impl Into<PathBuf>,
        text: impl Into<String>,
    ) -> FileId {
        let text = text.into();
        let line_starts = line_starts(&text);
        let id = FileId(u32::try_from(self.files.len()).expect("fewer than 4 billion files"));
        self.files.push(SourceFile {
            name: name.into(),
            path: path.into(),
            text,
            line_starts,
        });
        id
    }

    /// Replaces a file's text, keeping its id: an editor's new version of
    /// a file, which is parsed again under the same id while the spans of
    /// the other files stay valid.
    pub fn replace(&mut self, id: FileId, text: impl Into<String>) {
        let file = &mut self.files[id.0 as usize];
        file.text = text.into();
        file.line_starts = line_starts(&file.text);
    }

    #[must_use]
    pub fn get(&self, id: FileId) -> &SourceFile {
        &self.files[id.0 as usize]
    }

    pub fn iter(&self) -> impl Iterator<Item = (FileId, &SourceFile)> {
        self.files
            .iter()
            .enumerate()
            .map(|(i, f)| (FileId(u32::try_from(i).unwrap_or(u32::MAX)), f))
    }

    /// The number of files.
    #[must_use]
    pub fn len(&self) -> usize {
        self.files.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The text a span covers, if it points into a file.
    #[must_use]
    pub fn snippet(&self, span: Span) -> Option<&str> {
        match span {
            Span::Source { file, start, end } => {
                self.get(file).text.get(start as usize..end as usize)
            }
            Span::Synthetic => None,
        }
    }
}

fn line_starts(text: &str) -> Vec<usize> {
    let mut starts = vec![0];
    starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
    starts
}

/// Where a bot's cells and scripts are written, by file and line: what a
/// compiled bot keeps of its sources, so that a runtime error can name the
/// place (the error path reads it; a turn that goes well never does). The
/// checker builds it, as it has the sources; a bot compiled without them
/// has none, and its errors name only the cell.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Places {
    /// The files' names, as diagnostics show them.
    files: Vec<String>,
    /// Per cell, by its index in the compiled program.
    cells: Vec<CellPlace>,
}

/// A cell's file (an index into [`Places::files`]), its 1-based line (0
/// when it has none), and the line each of its scripts starts on: a code
/// cell's script, or a rule's conditions in order. A tuple, so an artifact
/// writes each as a short array.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct CellPlace(u32, u32, Vec<u32>);

/// A line in one of a bot's files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileLine<'p> {
    pub file: &'p str,
    /// 1-based.
    pub line: u32,
}

impl std::fmt::Display for FileLine<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

impl Places {
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// Records where the cell at `index` is written (`span`), and where
    /// each of its scripts starts (`scripts`, spans of their first line).
    pub fn set_cell(&mut self, index: usize, sources: &SourceMap, span: Span, scripts: &[Span]) {
        let Some(file) = span.file() else {
            return;
        };
        let source = sources.get(file);
        let name = source.name();
        // Cells come flow by flow, so mostly from the file before.
        let last = self
            .files
            .len()
            .checked_sub(1)
            .filter(|&i| self.files[i] == name);
        let at = match last.or_else(|| self.files.iter().position(|f| f == name)) {
            Some(at) => at,
            None => {
                self.files.push(name.to_owned());
                self.files.len() - 1
            }
        };
        let line = |span: Span| {
            span.range().map_or(0, |r| {
                u32::try_from(source.line_of(r.start) + 1).unwrap_or(u32::MAX)
            })
        };
        if self.cells.len() <= index {
            self.cells.resize(index + 1, CellPlace::default());
        }
        self.cells[index] = CellPlace(
            u32::try_from(at).unwrap_or(u32::MAX),
            line(span),
            scripts.iter().map(|s| line(*s)).collect(),
        );
    }

    /// Where the cell at `index` is written.
    #[must_use]
    pub fn cell(&self, index: usize) -> Option<FileLine<'_>> {
        let CellPlace(file, line, _) = self.cells.get(index)?;
        let file = self.files.get(*file as usize)?;
        (*line > 0).then_some(FileLine { file, line: *line })
    }

    /// Where line `line` (1-based) of the cell's `script`-th script is,
    /// else where the cell is.
    #[must_use]
    pub fn script(&self, index: usize, script: usize, line: u32) -> Option<FileLine<'_>> {
        let place = self.cell(index)?;
        let first = self.cells[index].2.get(script).copied().unwrap_or(0);
        if first == 0 || line == 0 {
            return Some(place);
        }
        Some(FileLine {
            line: first.saturating_add(line - 1),
            ..place
        })
    }
}

/// The byte offset of a 1-based line and column (in characters) in `text`.
pub(crate) fn offset_of(text: &str, line: usize, column: usize) -> usize {
    let mut start = 0;
    for _ in 1..line {
        match text[start..].find('\n') {
            Some(i) => start += i + 1,
            None => return text.len(),
        }
    }
    let line_text = text[start..].split('\n').next().unwrap_or("");
    start
        + line_text
            .char_indices()
            .nth(column.saturating_sub(1))
            .map_or(line_text.len(), |(i, _)| i)
}
