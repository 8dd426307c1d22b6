//! The cost of a turn through the whole HTTP handling, in process: the
//! `/v1` routes against the channel-integration routes, on the memory
//! store and the load test's bot (benches/load), without sockets or a
//! client in the way. Prints the time per turn of each, alternating blocks;
//! under `valgrind --tool=callgrind` (one route at a time: `v1` or
//! `channel` as the argument) the instruction counts, which a shared
//! machine does not disturb, compare the two exactly.
//!
//! `cargo run --release --example routes [v1|channel] [TURNS]`

use axum::body::Body;
use axum::http::Request;
use tower::ServiceExt as _;

const KEY: &str = "routes-key";
const CHANNEL: &str = "/eva-broker/org/o/env/e/bot/b/channel/c/v1/conversations";

/// Sends one request; the answer's body (read whole, not parsed: the
/// client's work is not what is measured).
fn send(
    runtime: &tokio::runtime::Runtime,
    app: &axum::Router,
    uri: &str,
    body: &str,
) -> axum::body::Bytes {
    let request = Request::builder()
        .method("POST")
        .uri(uri)
        .header("authorization", format!("Bearer {KEY}"))
        .header("content-type", "application/json")
        .body(Body::from(body.to_owned()))
        .expect("a well-formed request");
    runtime.block_on(async {
        let response = app.clone().oneshot(request).await.expect("infallible");
        assert!(
            response.status().is_success(),
            "{uri}: {}",
            response.status()
        );
        axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("the body is in memory")
    })
}

/// Runs `turns` turns of one conversation on `route`; seconds per turn.
fn turns(runtime: &tokio::runtime::Runtime, app: &axum::Router, route: &str, turns: usize) -> f64 {
    let (start, path) = match route {
        "v1" => ("/v1/conversations", "/v1/conversations"),
        _ => (CHANNEL, CHANNEL),
    };
    let body = if route == "v1" {
        "{}"
    } else {
        r#"{"code":"%EVA_WELCOME_MSG"}"#
    };
    let hello: serde_json::Value =
        serde_json::from_slice(&send(runtime, app, start, body)).expect("JSON");
    let code = hello["sessionCode"].as_str().expect("a code").to_owned();
    let uri = format!("{path}/{code}");
    let names = [r#"{"text":"Ana"}"#, r#"{"text":"Maximilianus Augustus"}"#];
    let started = std::time::Instant::now();
    for n in 0..turns {
        send(runtime, app, &uri, names[n % 2]);
    }
    started.elapsed().as_secs_f64() / f64::from(u32::try_from(turns).unwrap_or(u32::MAX))
}

fn main() {
    let mut args = std::env::args().skip(1);
    let only = args.next();
    let count: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(20_000);
    let bot = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/load");
    let mut config = cellflow::server::Config::new(bot);
    config.store = cellflow::server::StoreConfig::Memory;
    config.api_keys = vec![KEY.to_owned()];
    config.rate_limit = u32::MAX;
    let app = cellflow::server::app(config).expect("the server starts");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    if let Some(route) = only.as_deref().filter(|r| *r == "v1" || *r == "channel") {
        let per = turns(&runtime, &app, route, count);
        println!("{route}: {:.2} µs per turn over {count} turns", per * 1e6);
        return;
    }
    // Warm up both, then alternate.
    turns(&runtime, &app, "v1", 2_000);
    turns(&runtime, &app, "channel", 2_000);
    for _ in 0..3 {
        let v1 = turns(&runtime, &app, "v1", count);
        let channel = turns(&runtime, &app, "channel", count);
        println!(
            "v1 {:.2} µs, channel {:.2} µs per turn ({:+.1} %)",
            v1 * 1e6,
            channel * 1e6,
            (channel / v1 - 1.0) * 100.0
        );
    }
}
