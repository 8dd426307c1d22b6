//! The conversation API's request handling, in process: any body sent to
//! start a conversation, to continue the one the fuzzer's previous input
//! started, and to the other routes: `/v1` (messages, state, deletion,
//! create-or-resume, context, proactive events) and the channel-integration
//! routes (conversations, satisfaction, likes). No request may crash the
//! server or answer 500.
#![no_main]

use std::sync::{LazyLock, Mutex};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use tower::ServiceExt as _;

const KEY: &str = "fuzz-key";

struct Server {
    runtime: tokio::runtime::Runtime,
    app: axum::Router,
    /// A conversation started by an earlier input, to continue.
    code: Mutex<Option<String>>,
}

static SERVER: LazyLock<Server> = LazyLock::new(|| {
    let bot = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../flows/pizza");
    let mut config = cellflow::server::Config::new(bot);
    config.store = cellflow::server::StoreConfig::Memory;
    config.api_keys = vec![KEY.to_owned()];
    config.rate_limit = u32::MAX;
    Server {
        runtime: tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime"),
        app: cellflow::server::app(config).expect("the server starts"),
        code: Mutex::new(None),
    }
});

fn send(method: &str, uri: &str, body: &[u8]) -> (StatusCode, Vec<u8>) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", format!("Bearer {KEY}"))
        .header("content-type", "application/json")
        .body(Body::from(body.to_vec()))
        .expect("a well-formed request");
    SERVER.runtime.block_on(async {
        let response = SERVER
            .app
            .clone()
            .oneshot(request)
            .await
            .expect("infallible");
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("the body is in memory");
        (status, body.to_vec())
    })
}

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    // The first byte picks the route; the rest is the body.
    let Some((&route, body)) = bytes.split_first() else {
        return;
    };
    let code = SERVER.code.lock().expect("not poisoned").clone();
    const CHANNEL: &str = "/eva-broker/org/o/env/e/bot/b/channel/c/v1/conversations";
    const FEEDBACK: &str = "/eva-broker/org/o/env/e/bot/b/conversations";
    let (method, uri) = match (route % 12, &code) {
        (1, Some(code)) => ("POST", format!("/v1/conversations/{code}")),
        (2, Some(code)) => ("GET", format!("/v1/conversations/{code}")),
        (3, Some(code)) => ("DELETE", format!("/v1/conversations/{code}")),
        (4, Some(code)) => ("PUT", format!("/v1/conversations/{code}")),
        (5, Some(code)) => ("PATCH", format!("/v1/conversations/{code}")),
        (6, Some(code)) => ("POST", format!("/v1/conversations/{code}/events")),
        (7, _) => ("POST", CHANNEL.to_owned()),
        (8, Some(code)) => ("POST", format!("{CHANNEL}/{code}")),
        (9, Some(code)) => ("POST", format!("{FEEDBACK}/{code}/satisfactions")),
        (10, Some(code)) => ("POST", format!("{FEEDBACK}/{code}/likable")),
        // A client-chosen id, from the body's first bytes.
        (11, _) => {
            let id: String = body
                .iter()
                .take(8)
                .map(|b| char::from(b'a' + b % 26))
                .collect();
            ("PUT", format!("/v1/conversations/fuzz-{id}"))
        }
        _ => ("POST", "/v1/conversations".to_owned()),
    };
    let (status, answer) = send(method, &uri, body);
    assert_ne!(
        status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "{method} {uri}: {}",
        String::from_utf8_lossy(&answer)
    );
    if status == StatusCode::CREATED
        && let Ok(started) = serde_json::from_slice::<serde_json::Value>(&answer)
        && let Some(code) = started["sessionCode"].as_str()
    {
        *SERVER.code.lock().expect("not poisoned") = Some(code.to_owned());
    }
});
