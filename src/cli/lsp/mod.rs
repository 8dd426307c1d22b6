//! `cellflow lsp`: a Language Server on standard input and output
//! (docs/EDITORS.md).
//!
//! The protocol glue over `cellflow::ide`, which knows the bot: here are
//! the JSON-RPC loop (rust-analyzer's `lsp-server`), the mapping of a file
//! to its bot, the protocol's positions and the debounce.
//!
//! A file belongs to the bot of the nearest directory above it that holds
//! `cellflow.yaml` (within the editor's workspace folder); without one, to
//! the bot of its own directory, read as `cellflow check DIR` reads it.
//! Each bot is one `ide::Workspace`: its other files come from disk, the
//! open ones from the editor. An edit parses the edited file at once; the
//! bot is checked again, and its diagnostics published, once the author has
//! paused for `--debounce-ms`. A request that points into the bot (go to
//! definition, references, hover, rename) checks first if an edit is
//! pending, so it never answers from stale positions; completion does not
//! wait, since it reads the text as it is.

mod position;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cellflow::diagnostic::{Diagnostic as CheckDiagnostic, Severity};
use cellflow::ide::{CompletionKind, Workspace};
use cellflow::source::{FileId, SourceMap, Span};
use lsp_server::{Connection, Message, Notification, Request, RequestId, Response};
use lsp_types as lsp;
use lsp_types::notification::Notification as _;
use lsp_types::request::Request as _;

use position::{Encoding, Lines};

use super::{CliError, EXIT_OK, EXIT_PROBLEMS};

#[derive(clap::Args, Debug)]
pub(crate) struct Lsp {
    /// Milliseconds without an edit before the bot is checked again
    #[arg(long, default_value_t = 150)]
    debounce_ms: u64,
    /// Talk over standard input and output (the only transport; accepted
    /// because some clients pass it)
    #[arg(long, hide = true)]
    stdio: bool,
}

impl Lsp {
    pub(crate) fn run(self) -> Result<u8, CliError> {
        let (connection, threads) = Connection::stdio();
        let status = serve(&connection, Duration::from_millis(self.debounce_ms))
            .map_err(|e| CliError::Usage(format!("language server: {e}")))?;
        drop(connection);
        threads
            .join()
            .map_err(|e| CliError::Usage(format!("language server: {e}")))?;
        Ok(status)
    }
}

/// A bot the server has loaded, and its pending check.
struct Bot {
    root: PathBuf,
    workspace: Workspace,
    /// When to check it again (an edit is pending).
    due: Option<Instant>,
    /// The files diagnostics were last published for.
    published: HashSet<PathBuf>,
}

struct Server<'c> {
    connection: &'c Connection,
    encoding: Encoding,
    /// The editor's workspace folders: where the search for
    /// `cellflow.yaml` stops.
    folders: Vec<PathBuf>,
    bots: Vec<Bot>,
    /// Open documents and their versions.
    open: HashMap<PathBuf, i32>,
    debounce: Duration,
}

type Failure = Box<dyn std::error::Error + Send + Sync>;

fn serve(connection: &Connection, debounce: Duration) -> Result<u8, Failure> {
    let (id, params) = connection.initialize_start()?;
    let params: lsp::InitializeParams = serde_json::from_value(params)?;
    let utf8 = params
        .capabilities
        .general
        .as_ref()
        .and_then(|g| g.position_encodings.as_ref())
        .is_some_and(|e| e.contains(&lsp::PositionEncodingKind::UTF8));
    let prepare_rename = params
        .capabilities
        .text_document
        .as_ref()
        .and_then(|t| t.rename.as_ref())
        .and_then(|r| r.prepare_support)
        .unwrap_or(false);
    let mut folders: Vec<PathBuf> = params
        .workspace_folders
        .iter()
        .flatten()
        .filter_map(|f| f.uri.to_file_path().ok())
        .collect();
    #[allow(deprecated)] // older clients send only `rootUri`
    if let Some(root) = params.root_uri.as_ref().and_then(|u| u.to_file_path().ok()) {
        folders.push(root);
    }
    let capabilities = capabilities(utf8, prepare_rename);
    let result = lsp::InitializeResult {
        capabilities,
        server_info: Some(lsp::ServerInfo {
            name: "cellflow".to_owned(),
            version: Some(env!("CARGO_PKG_VERSION").to_owned()),
        }),
    };
    connection.initialize_finish(id, serde_json::to_value(result)?)?;
    let mut server = Server {
        connection,
        encoding: if utf8 {
            Encoding::Utf8
        } else {
            Encoding::Utf16
        },
        folders,
        bots: Vec::new(),
        open: HashMap::new(),
        debounce,
    };
    server.run()
}

fn capabilities(utf8: bool, prepare_rename: bool) -> lsp::ServerCapabilities {
    lsp::ServerCapabilities {
        position_encoding: Some(if utf8 {
            lsp::PositionEncodingKind::UTF8
        } else {
            lsp::PositionEncodingKind::UTF16
        }),
        text_document_sync: Some(lsp::TextDocumentSyncCapability::Options(
            lsp::TextDocumentSyncOptions {
                open_close: Some(true),
                change: Some(lsp::TextDocumentSyncKind::INCREMENTAL),
                ..lsp::TextDocumentSyncOptions::default()
            },
        )),
        definition_provider: Some(lsp::OneOf::Left(true)),
        references_provider: Some(lsp::OneOf::Left(true)),
        hover_provider: Some(lsp::HoverProviderCapability::Simple(true)),
        completion_provider: Some(lsp::CompletionOptions {
            trigger_characters: Some(vec!["{".to_owned(), ".".to_owned()]),
            ..lsp::CompletionOptions::default()
        }),
        rename_provider: Some(if prepare_rename {
            lsp::OneOf::Right(lsp::RenameOptions {
                prepare_provider: Some(true),
                work_done_progress_options: lsp::WorkDoneProgressOptions::default(),
            })
        } else {
            lsp::OneOf::Left(true)
        }),
        document_formatting_provider: Some(lsp::OneOf::Left(true)),
        ..lsp::ServerCapabilities::default()
    }
}

/// A request the server does not answer with a result.
#[derive(Debug)]
struct RequestFailed(String);

fn path_of(uri: &lsp::Url) -> Option<PathBuf> {
    uri.to_file_path().ok()
}

fn uri_of(path: &Path) -> Option<lsp::Url> {
    lsp::Url::from_file_path(path).ok()
}

impl Server<'_> {
    fn run(&mut self) -> Result<u8, Failure> {
        loop {
            let due = self.bots.iter().filter_map(|b| b.due).min();
            let message = match due {
                Some(due) => {
                    match self
                        .connection
                        .receiver
                        .recv_timeout(due.saturating_duration_since(Instant::now()))
                    {
                        Ok(message) => message,
                        Err(e) if e.is_timeout() => {
                            self.check_due()?;
                            continue;
                        }
                        Err(_) => return Ok(EXIT_PROBLEMS),
                    }
                }
                None => match self.connection.receiver.recv() {
                    Ok(message) => message,
                    Err(_) => return Ok(EXIT_PROBLEMS),
                },
            };
            match message {
                Message::Request(request) => {
                    if self.connection.handle_shutdown(&request)? {
                        return Ok(EXIT_OK);
                    }
                    self.request(request)?;
                }
                Message::Notification(notification) => {
                    if notification.method == lsp::notification::Exit::METHOD {
                        // `exit` without `shutdown` first.
                        return Ok(EXIT_PROBLEMS);
                    }
                    self.notification(notification);
                }
                Message::Response(_) => {}
            }
        }
    }

    // ---- files and bots -------------------------------------------------

    /// The directory of the bot a file belongs to.
    fn bot_root(&self, path: &Path) -> PathBuf {
        let folder = self
            .folders
            .iter()
            .filter(|f| path.starts_with(f))
            .max_by_key(|f| f.as_os_str().len());
        let own = path.parent().unwrap_or(path).to_path_buf();
        let mut dir = path.parent();
        while let Some(here) = dir {
            if here.join(cellflow::project::SETTINGS_FILE).is_file() {
                return here.to_path_buf();
            }
            if Some(here) == folder.map(PathBuf::as_path) {
                break;
            }
            dir = here.parent();
        }
        own
    }

    /// The bot a file belongs to, loading it from disk the first time.
    fn bot_for(&mut self, path: &Path) -> usize {
        if let Some(at) = self
            .bots
            .iter()
            .position(|b| b.workspace.file(path).is_some())
        {
            return at;
        }
        let root = self.bot_root(path);
        if let Some(at) = self.bots.iter().position(|b| b.root == root) {
            return at;
        }
        // A new file, or a directory with no flow file yet, starts empty.
        let workspace = Workspace::load(&root).unwrap_or_default();
        self.bots.push(Bot {
            root,
            workspace,
            due: None,
            published: HashSet::new(),
        });
        self.bots.len() - 1
    }

    /// The bot and id of a file the server knows.
    fn find(&self, path: &Path) -> Option<(usize, FileId)> {
        self.bots
            .iter()
            .enumerate()
            .find_map(|(i, b)| b.workspace.file(path).map(|f| (i, f)))
    }

    fn schedule(&mut self, bot: usize, after: Duration) {
        let at = Instant::now() + after;
        self.bots[bot].due = Some(at);
    }

    // ---- notifications --------------------------------------------------

    fn notification(&mut self, notification: Notification) {
        use lsp::notification::{
            DidChangeTextDocument, DidChangeWatchedFiles, DidCloseTextDocument, DidOpenTextDocument,
        };
        match notification.method.as_str() {
            DidOpenTextDocument::METHOD => {
                let Ok(params) = notification
                    .extract::<lsp::DidOpenTextDocumentParams>(DidOpenTextDocument::METHOD)
                else {
                    return;
                };
                let Some(path) = path_of(&params.text_document.uri) else {
                    return;
                };
                if !cellflow::ide::is_bot_file(&path) {
                    return;
                }
                let bot = self.bot_for(&path);
                self.bots[bot]
                    .workspace
                    .set_text(&path, params.text_document.text);
                self.open.insert(path, params.text_document.version);
                self.schedule(bot, Duration::ZERO);
            }
            DidChangeTextDocument::METHOD => {
                let Ok(params) = notification
                    .extract::<lsp::DidChangeTextDocumentParams>(DidChangeTextDocument::METHOD)
                else {
                    return;
                };
                let Some(path) = path_of(&params.text_document.uri) else {
                    return;
                };
                let Some((bot, file)) = self.find(&path) else {
                    return;
                };
                let mut text = self.bots[bot]
                    .workspace
                    .sources()
                    .get(file)
                    .text()
                    .to_owned();
                for change in params.content_changes {
                    match change.range {
                        Some(range) => {
                            let lines = Lines::new(&text, self.encoding);
                            let (start, end) = (lines.offset(range.start), lines.offset(range.end));
                            text.replace_range(start..end.max(start), &change.text);
                        }
                        None => text = change.text,
                    }
                }
                self.bots[bot].workspace.set_text(&path, text);
                self.open.insert(path, params.text_document.version);
                self.schedule(bot, self.debounce);
            }
            DidCloseTextDocument::METHOD => {
                let Ok(params) = notification
                    .extract::<lsp::DidCloseTextDocumentParams>(DidCloseTextDocument::METHOD)
                else {
                    return;
                };
                let Some(path) = path_of(&params.text_document.uri) else {
                    return;
                };
                self.open.remove(&path);
                self.reload(&path);
            }
            DidChangeWatchedFiles::METHOD => {
                let Ok(params) = notification
                    .extract::<lsp::DidChangeWatchedFilesParams>(DidChangeWatchedFiles::METHOD)
                else {
                    return;
                };
                for change in params.changes {
                    if let Some(path) = path_of(&change.uri)
                        && cellflow::ide::is_bot_file(&path)
                        && !self.open.contains_key(&path)
                    {
                        self.reload(&path);
                    }
                }
            }
            _ => {}
        }
    }

    /// Takes a file that is not open as it is on disk (or drops it).
    fn reload(&mut self, path: &Path) {
        let bot = match self.find(path) {
            Some((bot, _)) => bot,
            None => match self.bots.iter().position(|b| b.root == self.bot_root(path)) {
                Some(bot) => bot,
                None => return,
            },
        };
        match std::fs::read(path) {
            Ok(bytes) => {
                let text = String::from_utf8_lossy(&bytes).into_owned();
                self.bots[bot].workspace.set_text(path, text);
            }
            Err(_) => self.bots[bot].workspace.remove(path),
        }
        self.schedule(bot, Duration::ZERO);
    }

    // ---- diagnostics -----------------------------------------------------

    fn check_due(&mut self) -> Result<(), Failure> {
        let now = Instant::now();
        for bot in 0..self.bots.len() {
            if self.bots[bot].due.is_some_and(|due| due <= now) {
                self.bots[bot].due = None;
                self.publish(bot)?;
            }
        }
        Ok(())
    }

    /// Checks a bot if an edit is pending, so answers use current positions.
    fn flush(&mut self, bot: usize) -> Result<(), Failure> {
        if self.bots[bot].due.is_some() || self.bots[bot].workspace.analysis().is_none() {
            self.bots[bot].due = None;
            self.publish(bot)?;
        }
        Ok(())
    }

    /// Checks a bot and publishes the diagnostics of each of its files
    /// (an empty list for a file that has none now).
    fn publish(&mut self, bot: usize) -> Result<(), Failure> {
        let encoding = self.encoding;
        let state = &mut self.bots[bot];
        let analysis = state.workspace.check();
        let sources = &analysis.checked.sources;
        let mut by_file: HashMap<FileId, Vec<lsp::Diagnostic>> =
            sources.iter().map(|(id, _)| (id, Vec::new())).collect();
        let first = sources.iter().next().map(|(id, _)| id);
        for diagnostic in &analysis.checked.diagnostics {
            // A problem of the whole bot (no fallback flow) shows at the top
            // of its first file.
            let Some(file) = diagnostic.span.file().or(first) else {
                continue;
            };
            by_file
                .entry(file)
                .or_default()
                .push(to_lsp_diagnostic(diagnostic, sources, encoding));
        }
        let mut published = HashSet::new();
        let mut notes = Vec::new();
        for (file, diagnostics) in by_file {
            let path = sources.get(file).path().to_path_buf();
            let Some(uri) = uri_of(&path) else { continue };
            notes.push((
                path.clone(),
                lsp::PublishDiagnosticsParams {
                    uri,
                    diagnostics,
                    version: self.open.get(&path).copied(),
                },
            ));
            published.insert(path);
        }
        // Files that left the bot lose their diagnostics.
        for gone in state.published.difference(&published) {
            if let Some(uri) = uri_of(gone) {
                notes.push((
                    gone.clone(),
                    lsp::PublishDiagnosticsParams {
                        uri,
                        diagnostics: Vec::new(),
                        version: None,
                    },
                ));
            }
        }
        state.published = published;
        notes.sort_by(|a, b| a.0.cmp(&b.0));
        for (_, params) in notes {
            self.send(Notification::new(
                lsp::notification::PublishDiagnostics::METHOD.to_owned(),
                params,
            ))?;
        }
        Ok(())
    }

    fn send(&self, message: impl Into<Message>) -> Result<(), Failure> {
        self.connection.sender.send(message.into())?;
        Ok(())
    }

    // ---- requests --------------------------------------------------------

    fn request(&mut self, request: Request) -> Result<(), Failure> {
        use lsp::request::{
            Completion, Formatting, GotoDefinition, HoverRequest, PrepareRenameRequest, References,
            Rename,
        };
        let id = request.id.clone();
        let result = match request.method.as_str() {
            GotoDefinition::METHOD => extract(request).and_then(|p| self.definition(p)),
            References::METHOD => extract(request).and_then(|p| self.references(p)),
            HoverRequest::METHOD => extract(request).and_then(|p| self.hover(p)),
            Completion::METHOD => extract(request).map(|p| self.completion(&p)),
            PrepareRenameRequest::METHOD => extract(request).and_then(|p| self.prepare_rename(p)),
            Rename::METHOD => extract(request).and_then(|p| self.rename(p)),
            Formatting::METHOD => extract(request).and_then(|p| self.formatting(&p)),
            _ => {
                return self.send(Response::new_err(
                    id,
                    lsp_server::ErrorCode::MethodNotFound as i32,
                    format!("cellflow lsp does not answer {}", request.method),
                ));
            }
        };
        match result {
            Ok(value) => self.send(Response::new_ok(id, value)),
            Err(RequestFailed(message)) => self.send(Response::new_err(
                id,
                lsp_server::ErrorCode::RequestFailed as i32,
                message,
            )),
        }
    }

    /// The bot and file of a document, checked if an edit is pending, and
    /// the byte offset of a position in it.
    fn locate(
        &mut self,
        uri: &lsp::Url,
        position: lsp::Position,
    ) -> Result<Option<(usize, FileId, usize)>, RequestFailed> {
        let Some((bot, file)) = path_of(uri).and_then(|p| self.find(&p)) else {
            return Ok(None);
        };
        self.flush(bot).map_err(|e| RequestFailed(e.to_string()))?;
        let text = self.bots[bot].workspace.sources().get(file).text();
        let offset = Lines::new(text, self.encoding).offset(position);
        Ok(Some((bot, file, offset)))
    }

    fn location(&self, sources: &SourceMap, span: Span) -> Option<lsp::Location> {
        location(sources, span, self.encoding)
    }

    fn definition(
        &mut self,
        params: lsp::GotoDefinitionParams,
    ) -> Result<serde_json::Value, RequestFailed> {
        let at = params.text_document_position_params;
        let Some((bot, file, offset)) = self.locate(&at.text_document.uri, at.position)? else {
            return Ok(serde_json::Value::Null);
        };
        let Some(analysis) = self.bots[bot].workspace.analysis() else {
            return Ok(serde_json::Value::Null);
        };
        let Some(occurrence) = analysis.at(file, offset) else {
            return Ok(serde_json::Value::Null);
        };
        let locations: Vec<lsp::Location> = analysis
            .definitions(&occurrence.symbol)
            .into_iter()
            .filter_map(|span| self.location(&analysis.checked.sources, span))
            .collect();
        Ok(json(lsp::GotoDefinitionResponse::Array(locations)))
    }

    fn references(
        &mut self,
        params: lsp::ReferenceParams,
    ) -> Result<serde_json::Value, RequestFailed> {
        let at = params.text_document_position;
        let Some((bot, file, offset)) = self.locate(&at.text_document.uri, at.position)? else {
            return Ok(serde_json::Value::Null);
        };
        let Some(analysis) = self.bots[bot].workspace.analysis() else {
            return Ok(serde_json::Value::Null);
        };
        let Some(occurrence) = analysis.at(file, offset) else {
            return Ok(serde_json::Value::Null);
        };
        let locations: Vec<lsp::Location> = analysis
            .references(&occurrence.symbol, params.context.include_declaration)
            .into_iter()
            .filter_map(|span| self.location(&analysis.checked.sources, span))
            .collect();
        Ok(json(locations))
    }

    fn hover(&mut self, params: lsp::HoverParams) -> Result<serde_json::Value, RequestFailed> {
        let at = params.text_document_position_params;
        let Some((bot, file, offset)) = self.locate(&at.text_document.uri, at.position)? else {
            return Ok(serde_json::Value::Null);
        };
        let Some(analysis) = self.bots[bot].workspace.analysis() else {
            return Ok(serde_json::Value::Null);
        };
        let Some(hover) = analysis.hover(file, offset) else {
            return Ok(serde_json::Value::Null);
        };
        let range = self
            .location(&analysis.checked.sources, hover.span)
            .map(|l| l.range);
        Ok(json(lsp::Hover {
            contents: lsp::HoverContents::Markup(lsp::MarkupContent {
                kind: lsp::MarkupKind::Markdown,
                value: hover.markdown,
            }),
            range,
        }))
    }

    fn completion(&mut self, params: &lsp::CompletionParams) -> serde_json::Value {
        let at = &params.text_document_position;
        let Some((bot, file)) = path_of(&at.text_document.uri).and_then(|p| self.find(&p)) else {
            return serde_json::Value::Null;
        };
        let workspace = &self.bots[bot].workspace;
        // Names come from the last check, even one older than this text.
        let text = workspace.sources().get(file).text();
        let lines = Lines::new(text, self.encoding);
        let offset = lines.offset(at.position);
        let completions = workspace.complete(file, offset);
        let range = lines.range(completions.start..offset);
        let items: Vec<lsp::CompletionItem> = completions
            .items
            .into_iter()
            .map(|item| lsp::CompletionItem {
                label: item.label.clone(),
                kind: Some(match item.kind {
                    CompletionKind::Keyword => lsp::CompletionItemKind::KEYWORD,
                    CompletionKind::Field => lsp::CompletionItemKind::FIELD,
                    CompletionKind::Value => lsp::CompletionItemKind::ENUM_MEMBER,
                    CompletionKind::Flow => lsp::CompletionItemKind::MODULE,
                    CompletionKind::Cell => lsp::CompletionItemKind::REFERENCE,
                    CompletionKind::Intent => lsp::CompletionItemKind::EVENT,
                    CompletionKind::Entity => lsp::CompletionItemKind::ENUM,
                    CompletionKind::Variable => lsp::CompletionItemKind::VARIABLE,
                }),
                detail: Some(item.detail),
                text_edit: Some(lsp::CompletionTextEdit::Edit(lsp::TextEdit {
                    range,
                    new_text: item.label,
                })),
                ..lsp::CompletionItem::default()
            })
            .collect();
        json(lsp::CompletionResponse::Array(items))
    }

    fn prepare_rename(
        &mut self,
        params: lsp::TextDocumentPositionParams,
    ) -> Result<serde_json::Value, RequestFailed> {
        let Some((bot, file, offset)) = self.locate(&params.text_document.uri, params.position)?
        else {
            return Ok(serde_json::Value::Null);
        };
        let Some(analysis) = self.bots[bot].workspace.analysis() else {
            return Ok(serde_json::Value::Null);
        };
        let Some(occurrence) = analysis.at(file, offset) else {
            return Ok(serde_json::Value::Null);
        };
        let Some(location) = self.location(&analysis.checked.sources, occurrence.span) else {
            return Ok(serde_json::Value::Null);
        };
        Ok(json(lsp::PrepareRenameResponse::RangeWithPlaceholder {
            range: location.range,
            placeholder: occurrence.symbol.name().to_owned(),
        }))
    }

    fn rename(&mut self, params: lsp::RenameParams) -> Result<serde_json::Value, RequestFailed> {
        let at = params.text_document_position;
        let Some((bot, file, offset)) = self.locate(&at.text_document.uri, at.position)? else {
            return Ok(serde_json::Value::Null);
        };
        let Some(analysis) = self.bots[bot].workspace.analysis() else {
            return Ok(serde_json::Value::Null);
        };
        let edits = analysis
            .rename(file, offset, &params.new_name)
            .map_err(|e| RequestFailed(e.to_string()))?;
        let mut changes: HashMap<lsp::Url, Vec<lsp::TextEdit>> = HashMap::new();
        for (span, new_text) in edits {
            if let Some(location) = self.location(&analysis.checked.sources, span) {
                changes
                    .entry(location.uri)
                    .or_default()
                    .push(lsp::TextEdit {
                        range: location.range,
                        new_text,
                    });
            }
        }
        Ok(json(lsp::WorkspaceEdit {
            changes: Some(changes),
            ..lsp::WorkspaceEdit::default()
        }))
    }

    fn formatting(
        &mut self,
        params: &lsp::DocumentFormattingParams,
    ) -> Result<serde_json::Value, RequestFailed> {
        let Some((bot, file)) = path_of(&params.text_document.uri).and_then(|p| self.find(&p))
        else {
            return Ok(serde_json::Value::Null);
        };
        let workspace = &self.bots[bot].workspace;
        let formatted = match workspace.format(file) {
            Ok(Some(formatted)) => formatted,
            // Already canonical, or a file that does not parse (its
            // diagnostics say why): nothing to change.
            Ok(None) | Err(cellflow::fmt::FormatError::Invalid(_)) => {
                return Ok(json(Vec::<lsp::TextEdit>::new()));
            }
            Err(error) => return Err(RequestFailed(error.to_string())),
        };
        let text = workspace.sources().get(file).text();
        let range = Lines::new(text, self.encoding).range(0..text.len());
        Ok(json(vec![lsp::TextEdit {
            range,
            new_text: formatted,
        }]))
    }
}

fn extract<P: serde::de::DeserializeOwned>(request: Request) -> Result<P, RequestFailed> {
    let method = request.method.clone();
    request
        .extract(&method)
        .map(|(_, params): (RequestId, P)| params)
        .map_err(|e| RequestFailed(format!("{method}: invalid parameters: {e:?}")))
}

fn json(value: impl serde::Serialize) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
}

fn location(sources: &SourceMap, span: Span, encoding: Encoding) -> Option<lsp::Location> {
    let file = span.file()?;
    let source = sources.get(file);
    let uri = uri_of(source.path())?;
    let range = Lines::new(source.text(), encoding).range(span.range()?);
    Some(lsp::Location { uri, range })
}

fn to_lsp_diagnostic(
    diagnostic: &CheckDiagnostic,
    sources: &SourceMap,
    encoding: Encoding,
) -> lsp::Diagnostic {
    let range = location(sources, diagnostic.span, encoding).map_or_else(
        || lsp::Range::new(lsp::Position::new(0, 0), lsp::Position::new(0, 0)),
        |l| l.range,
    );
    let problem = &diagnostic.problem;
    let help = problem.help();
    let message = if help.is_empty() {
        problem.to_string()
    } else {
        format!("{problem}\nhelp: {help}")
    };
    let related: Vec<lsp::DiagnosticRelatedInformation> = diagnostic
        .related
        .iter()
        .filter_map(|r| {
            Some(lsp::DiagnosticRelatedInformation {
                location: location(sources, r.span, encoding)?,
                message: r.label.clone(),
            })
        })
        .collect();
    lsp::Diagnostic {
        range,
        severity: Some(match diagnostic.severity() {
            Severity::Error => lsp::DiagnosticSeverity::ERROR,
            Severity::Warning => lsp::DiagnosticSeverity::WARNING,
        }),
        code: Some(lsp::NumberOrString::String(problem.code().to_owned())),
        source: Some("cellflow".to_owned()),
        message,
        related_information: (!related.is_empty()).then_some(related),
        ..lsp::Diagnostic::default()
    }
}
