//! The studio's HTTP routes, beside the conversation API: the page and its
//! two assets, and the `/studio/*` routes (docs/STUDIO.md).
//!
//! The assets are embedded with `include_str!`: three small files that
//! change with the binary, so a crate that walks a folder at build time
//! would bring a proc macro and gain nothing. Nothing is served from disk.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Query, Request as HttpRequest, State as Shared};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response as HttpResponse};
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::picture::{self, node_id};
use super::{Studio, tests_file};

const INDEX: &str = include_str!("../../studio/web/index.html");
const SCRIPT: &str = include_str!("../../studio/web/app.js");
const STYLE: &str = include_str!("../../studio/web/app.css");

/// The page may load only its own assets and talk only to this server;
/// images and media in answers come from wherever the bot points.
const POLICY: &str = "default-src 'self'; img-src * data:; media-src *; \
                      style-src 'self'; script-src 'self'; connect-src 'self'; \
                      frame-ancestors 'none'";

pub(super) fn router(studio: &Arc<Studio>, local: SocketAddr) -> Router {
    let guarded = Router::new()
        .route("/studio/graph", get(graph))
        .route("/studio/source", get(source))
        .route("/studio/coverage", get(coverage))
        .route("/studio/events", get(events))
        .route("/studio/tests", post(save_test))
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(studio),
            authorize,
        ))
        .with_state(Arc::clone(studio));
    let page = Router::new()
        .route("/", get(index))
        .route("/studio/app.js", get(script))
        .route("/studio/app.css", get(style))
        .with_state(Arc::clone(studio));
    crate::server::routes(&studio.server)
        .merge(guarded)
        .merge(page)
        .layer(middleware::from_fn_with_state(
            (Arc::clone(studio), local),
            same_host,
        ))
}

fn problem(status: StatusCode, code: &str, message: impl Into<String>) -> HttpResponse {
    let body = json!({"error": {"code": code, "message": message.into()}});
    (status, axum::Json(body)).into_response()
}

/// On loopback, only requests addressed to this machine by name or
/// address: a page elsewhere that makes a browser resolve its own name to
/// 127.0.0.1 (DNS rebinding) gets nothing.
async fn same_host(
    Shared((studio, local)): Shared<(Arc<Studio>, SocketAddr)>,
    request: HttpRequest,
    next: Next,
) -> HttpResponse {
    if !studio.remote {
        let host = request
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        let port = local.port();
        let allowed = [
            format!("127.0.0.1:{port}"),
            format!("localhost:{port}"),
            format!("[::1]:{port}"),
            local.to_string(),
        ];
        if !allowed.iter().any(|a| a.eq_ignore_ascii_case(host)) {
            return problem(
                StatusCode::MISDIRECTED_REQUEST,
                "wrong_host",
                "the studio answers requests addressed to this machine only",
            );
        }
    }
    next.run(request).await
}

fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

/// The studio's routes ask for the API's key: as a bearer token, or (for
/// the event stream, which browsers open without headers) as `?key=`.
async fn authorize(
    Shared(studio): Shared<Arc<Studio>>,
    request: HttpRequest,
    next: Next,
) -> HttpResponse {
    let bearer = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::to_owned);
    let query = request.uri().query().and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "key")
            .map(|(_, v)| v.into_owned())
    });
    let given = bearer.or(query).unwrap_or_default();
    if same(given.as_bytes(), studio.key.as_bytes()) {
        next.run(request).await
    } else {
        problem(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "the studio's key is missing or wrong",
        )
    }
}

fn asset(kind: &'static str, body: &'static str) -> HttpResponse {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

async fn index(Shared(studio): Shared<Arc<Studio>>) -> HttpResponse {
    // On loopback the page gets the key with it (other sites' pages cannot
    // read this answer); a remote studio's page asks the author for it.
    let key = if studio.remote {
        ""
    } else {
        studio.key.as_str()
    };
    let mut response = INDEX.replace("{{KEY}}", key).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(POLICY),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn script() -> HttpResponse {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

async fn style() -> HttpResponse {
    asset("text/css; charset=utf-8", STYLE)
}

#[derive(serde::Deserialize)]
struct GraphQuery {
    flow: Option<String>,
    collapsed: Option<bool>,
}

fn json_bytes(bytes: Vec<u8>) -> HttpResponse {
    let mut response = bytes.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// `GET /studio/graph[?flow=NAME][&collapsed=true|false]`.
async fn graph(
    Shared(studio): Shared<Arc<Studio>>,
    Query(query): Query<GraphQuery>,
) -> HttpResponse {
    let view = studio.view();
    if query.flow.is_none() && query.collapsed.is_none() {
        let mut response = json_bytes(view.picture.as_ref().clone());
        response
            .headers_mut()
            .insert("x-studio-generation", HeaderValue::from(view.generation));
        return response;
    }
    let graph = &view.checked.lowered.graph;
    let only = match &query.flow {
        Some(name) => match graph.flow_named(name) {
            Some(flow) => Some(flow),
            None => {
                return problem(
                    StatusCode::NOT_FOUND,
                    "unknown_flow",
                    format!("the bot has no flow named `{name}`"),
                );
            }
        },
        None => None,
    };
    let options = picture::Options {
        collapsed: query.collapsed,
        only,
    };
    let drawn = tokio::task::spawn_blocking(move || {
        serde_json::to_vec(&picture::draw(&view.checked, options)).unwrap_or_default()
    })
    .await;
    match drawn {
        Ok(bytes) => json_bytes(bytes),
        Err(e) => problem(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()),
    }
}

#[derive(serde::Deserialize)]
struct SourceQuery {
    node: String,
}

/// `GET /studio/source?node=FLOW#POSITION` (or `FLOW`): the lines the cell
/// (or flow) is written on, from the loaded sources.
async fn source(
    Shared(studio): Shared<Arc<Studio>>,
    Query(query): Query<SourceQuery>,
) -> HttpResponse {
    let view = studio.view();
    let graph = &view.checked.lowered.graph;
    let (flow_name, position) = match query.node.rsplit_once('#') {
        Some((flow, position)) => match position.parse::<u32>() {
            Ok(p) => (flow, Some(p)),
            Err(_) => {
                return problem(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "bad_node",
                    format!("`{}` is not FLOW#POSITION", query.node),
                );
            }
        },
        None => (query.node.as_str(), None),
    };
    let Some(flow) = graph.flow_named(flow_name) else {
        return problem(
            StatusCode::NOT_FOUND,
            "unknown_node",
            format!("the bot has no flow named `{flow_name}`"),
        );
    };
    let span = match position {
        None => graph.flow(flow).span,
        Some(p) => match graph
            .flow(flow)
            .cells
            .get(p as usize)
            .and_then(|&c| graph.cell(c))
        {
            Some(cell) => cell.span,
            None => {
                return problem(
                    StatusCode::NOT_FOUND,
                    "unknown_node",
                    format!("flow `{flow_name}` has no cell at position {p}"),
                );
            }
        },
    };
    let (Some(file), Some(range)) = (span.file(), span.range()) else {
        return problem(
            StatusCode::NOT_FOUND,
            "no_source",
            "this part of the bot is not written in a file",
        );
    };
    let source = view.checked.sources.get(file);
    let first = source.line_of(range.start);
    let last = source.line_of(range.end.saturating_sub(1).max(range.start));
    let text = source
        .text()
        .get(source.lines_range(first, last))
        .unwrap_or("");
    axum::Json(json!({
        "node": query.node,
        "file": source.name(),
        "line": first + 1,
        "text": text,
    }))
    .into_response()
}

/// `GET /studio/coverage`: runs the bot's conversation tests and tells,
/// per node, whether they reach it.
async fn coverage(Shared(studio): Shared<Arc<Studio>>) -> HttpResponse {
    if studio.view().checked.has_errors() {
        return problem(
            StatusCode::CONFLICT,
            "bot_has_errors",
            "the bot has errors: fix them to run its tests",
        );
    }
    let bot = studio.server.bot();
    let dir = studio.dir.clone();
    match tokio::task::spawn_blocking(move || run_tests(&bot, &dir)).await {
        Ok(report) => axum::Json(report).into_response(),
        Err(e) => problem(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()),
    }
}

fn test_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with('.') {
            continue;
        }
        if path.is_dir() {
            test_files(&path, out);
        } else if name.ends_with(".test.yaml") || name.ends_with(".test.yml") {
            out.push(path);
        }
    }
}

fn run_tests(bot: &crate::runtime::Bot, dir: &std::path::Path) -> Value {
    let mut files = Vec::new();
    test_files(dir, &mut files);
    let services = crate::testing::services(bot.program());
    let covered = std::cell::RefCell::new(crate::testing::coverage::Coverage::new());
    let (mut passed, mut failures, mut problems) = (0usize, Vec::new(), Vec::new());
    for file in &files {
        let name = crate::project::display_name(file);
        let Ok(text) = std::fs::read_to_string(file) else {
            problems.push(format!("{name}: cannot be read"));
            continue;
        };
        let mut sources = crate::source::SourceMap::new();
        let id = sources.add(name.clone(), file, text);
        let (tests, diagnostics) = crate::testing::parse(id, sources.get(id).text(), &services);
        if let Some(d) = diagnostics.first() {
            problems.push(crate::diagnostic::render(d, &sources, false, 100));
            continue;
        }
        for test in &tests {
            let failed = crate::testing::run_covered(bot, test, &covered);
            if failed.is_empty() {
                passed += 1;
            } else {
                failures.push(json!({
                    "file": name,
                    "test": test.name,
                    "messages": failed
                        .iter()
                        .map(|f| format!("step {} ({}): {}", f.step, f.what, f.message))
                        .collect::<Vec<_>>(),
                }));
            }
        }
    }
    let program = bot.program();
    let covered = covered.into_inner();
    let mut nodes = serde_json::Map::new();
    for (index, cell) in program.cells.iter().enumerate() {
        let Some(cell) = cell else { continue };
        let Some(flow) = program.flows.get(cell.flow.position()) else {
            continue;
        };
        let reached = covered.has_cell(crate::compile::CellIndex::new(index));
        nodes.insert(
            node_id(&flow.name, cell.position),
            Value::from(if reached { "reached" } else { "missed" }),
        );
    }
    let report = covered.report(program);
    json!({
        "files": files.len(),
        "passed": passed,
        "failed": failures.len(),
        "failures": failures,
        "problems": problems,
        "percent": report.combined_percent(),
        "nodes": nodes,
    })
}

#[derive(serde::Deserialize)]
struct EventsQuery {
    /// Read by [`authorize`].
    #[serde(rename = "key")]
    _key: Option<String>,
}

/// `GET /studio/events`: server-sent events, `turn` for every stored turn
/// and `reload` for every load of the bot's files.
async fn events(
    Shared(studio): Shared<Arc<Studio>>,
    Query(_query): Query<EventsQuery>,
) -> Sse<impl futures_util::Stream<Item = Result<SseEvent, Infallible>>> {
    use futures_util::StreamExt as _;
    let receiver = studio.recorder.events.subscribe();
    let hello = json!({"generation": studio.view().generation}).to_string();
    let first = futures_util::stream::once(async move {
        Ok::<_, Infallible>(SseEvent::default().event("hello").data(hello))
    });
    let rest = futures_util::stream::unfold(receiver, |mut receiver| async move {
        use tokio::sync::broadcast::error::RecvError;
        loop {
            match receiver.recv().await {
                Ok(message) => {
                    let (name, data) = &*message;
                    let event = SseEvent::default().event(name.as_str()).data(data.as_str());
                    return Some((Ok(event), receiver));
                }
                // A page that fell behind misses some traces, not the stream.
                Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return None,
            }
        }
    });
    Sse::new(first.chain(rest)).keep_alive(KeepAlive::default())
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Save {
    conversation: String,
    name: Option<String>,
}

/// `POST /studio/tests {"conversation": ID, "name"?: …}`: the chat so far
/// as a test at the end of the bot's test file.
async fn save_test(
    Shared(studio): Shared<Arc<Studio>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> HttpResponse {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !json {
        return problem(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "not_json",
            "send the request as application/json",
        );
    }
    let save: Save = match serde_json::from_slice(&body) {
        Ok(save) => save,
        Err(e) => {
            return problem(
                StatusCode::UNPROCESSABLE_ENTITY,
                "bad_request",
                e.to_string(),
            );
        }
    };
    let turns = match studio.recorder.chats.lock() {
        Ok(guard) => guard.1.get(&save.conversation).map(|c| c.turns.clone()),
        Err(_) => None,
    };
    let Some(turns) = turns.filter(|t| !t.is_empty()) else {
        return problem(
            StatusCode::NOT_FOUND,
            "unknown_conversation",
            format!(
                "the studio has not seen conversation `{}` (it keeps the last {} chats since it started)",
                save.conversation,
                super::CHATS
            ),
        );
    };
    let name = save
        .name
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| default_name(&turns));
    let services = crate::testing::services(studio.server.bot().program());
    let dir = studio.dir.clone();
    let written = tokio::task::spawn_blocking(move || {
        let file = tests_file::test_file(&dir);
        let test = tests_file::test_of(name, &turns);
        tests_file::append(&file, test, &services).map(|name| (file, name))
    })
    .await;
    match written {
        Ok(Ok((file, name))) => (
            StatusCode::CREATED,
            axum::Json(json!({
                "file": crate::project::display_name(&file),
                "name": name,
            })),
        )
            .into_response(),
        Ok(Err(message)) => problem(StatusCode::CONFLICT, "cannot_save", message),
        Err(e) => problem(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()),
    }
}

/// `studio: hi → 2 → 12345678-5`: what the user said, shortened.
fn default_name(turns: &[(crate::runtime::Request, crate::runtime::Response)]) -> String {
    let said: Vec<String> = turns
        .iter()
        .map(|(r, _)| match (&r.text, &r.event) {
            (Some(text), _) => text.clone(),
            (None, Some(event)) => format!("[{event}]"),
            (None, None) => "[…]".to_owned(),
        })
        .collect();
    let mut name = format!("studio: {}", said.join(" → "));
    if name.chars().count() > 80 {
        name = name.chars().take(79).collect::<String>() + "…";
    }
    name
}

#[cfg(test)]
mod tests {
    #[test]
    fn keys_compare_whole() {
        assert!(super::same(b"abc", b"abc"));
        assert!(!super::same(b"abc", b"abd"));
        assert!(!super::same(b"abc", b"ab"));
    }
}
