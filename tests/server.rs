//! `cellflow serve`: the conversation API through real HTTP, its limits,
//! concurrency, restarts, store failures and reloads (the stores' own
//! conformance suite is tests/stores.rs).
//!
//! Redis tests start their own `redis-server` (installed by `.ci/run`) on a
//! free port: they never depend on, or touch, a Redis someone else runs.
//! Without `redis-server` they are skipped with a notice on the terminal,
//! unless `CELLFLOW_REQUIRE_REDIS=1` (CI) makes that a failure.

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::support;

pub(crate) const KEY: &str = "test-key";
pub(crate) const ADMIN: &str = "admin-key";

pub(crate) fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cellflow-server-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A private `redis-server` with an append-only file, so a restart keeps
/// its data.
pub(crate) struct Redis {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
}

impl Redis {
    /// Starts one for the test `test`, or, when `redis-server` is not
    /// installed, says on the terminal that the test is skipped and returns
    /// `None` (with `CELLFLOW_REQUIRE_REDIS=1`, fails instead).
    pub(crate) fn start(test: &str) -> Option<Redis> {
        if !redis_installed() {
            assert!(
                std::env::var_os("CELLFLOW_REQUIRE_REDIS").is_none_or(|v| v != "1"),
                "{test}: redis-server is not installed, and CELLFLOW_REQUIRE_REDIS=1 \
                 requires it (apt-get install redis-server)"
            );
            // Straight to the terminal: the harness captures `eprintln!`
            // of a passing test, and this notice must be seen.
            let _ = writeln!(
                std::io::stderr(),
                "notice: skipped the Redis part of {test}: redis-server is not installed \
                 (apt-get install redis-server, then run cargo test again; \
                 CELLFLOW_REQUIRE_REDIS=1 turns this skip into a failure)"
            );
            return None;
        }
        let mut redis = Redis {
            child: None,
            port: free_port(),
            dir: scratch(&format!("redis-{}", test.replace("::", "-"))),
        };
        redis.spawn();
        Some(redis)
    }

    pub(crate) fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub(crate) fn spawn(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args([
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
            ])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed (apt-get install redis-server; .ci/run does)");
        self.child = Some(child);
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("redis-server did not start on port {}", self.port);
    }

    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    pub(crate) fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Whether `redis-server` can be run.
fn redis_installed() -> bool {
    Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A running `cellflow serve`.
pub(crate) struct Serve {
    child: Child,
    pub(crate) base: String,
    /// What it has written on standard error (its log), read as it comes
    /// so that a full pipe never stops the server.
    log: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Serve {
    pub(crate) fn start(bot: &Path, args: &[&str]) -> Serve {
        Serve::start_limited(bot, args, None)
    }

    /// Starts it with at most `open_files` file descriptors, when given
    /// (what `ulimit -n` sets), so a test can run it out of them.
    pub(crate) fn start_limited(bot: &Path, args: &[&str], open_files: Option<u32>) -> Serve {
        Serve::start_with(bot, args, open_files, &[])
    }

    /// Starts it with more environment variables.
    pub(crate) fn start_with(
        bot: &Path,
        args: &[&str],
        open_files: Option<u32>,
        env: &[(&str, &str)],
    ) -> Serve {
        let binary = env!("CARGO_BIN_EXE_cellflow");
        let mut command = match open_files {
            Some(limit) => {
                let mut shell = Command::new("sh");
                shell
                    .arg("-c")
                    .arg(format!("ulimit -n {limit} && exec \"$0\" \"$@\""))
                    .arg(binary);
                shell
            }
            None => Command::new(binary),
        };
        let mut child = command
            .arg("serve")
            .arg(bot)
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .env("CELLFLOW_API_KEYS", KEY)
            .env("CELLFLOW_ADMIN_KEYS", ADMIN)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary runs");
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let sink = std::sync::Arc::clone(&log);
        let reader = std::thread::spawn(move || {
            let mut line = String::new();
            while stderr.read_line(&mut line).is_ok_and(|n| n > 0) {
                sink.lock().unwrap().push_str(&line);
                line.clear();
            }
        });
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let Some(rest) = line.strip_prefix("listening on ") else {
            let _ = reader.join();
            let err = log.lock().unwrap().clone();
            panic!("serve did not start: {line}{err}");
        };
        let base = rest.split(' ').next().unwrap().to_owned();
        Serve { child, base, log }
    }

    /// Its log so far.
    pub(crate) fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// How it exited, if it has.
    pub(crate) fn try_wait(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    pub(crate) fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        self.kill();
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(20)))
        .build()
        .into()
}

/// Sends a request; returns the status and the body as JSON (`Null` when
/// empty, a string when not JSON).
pub(crate) fn call(method: &str, url: &str, key: Option<&str>, body: Option<&str>) -> (u16, Value) {
    let mut request = ureq::http::Request::builder().method(method).uri(url);
    if let Some(key) = key {
        request = request.header("Authorization", format!("Bearer {key}"));
    }
    let request = request.body(body.unwrap_or("").to_owned()).unwrap();
    let mut response = agent().run(request).expect("the server answers");
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    let value = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, value)
}

impl Serve {
    pub(crate) fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        call(
            "POST",
            &format!("{}{path}", self.base),
            Some(KEY),
            Some(&body.to_string()),
        )
    }

    /// Starts a conversation; returns its code and the first response.
    pub(crate) fn begin(&self, body: &Value) -> (String, Value) {
        let (status, reply) = self.post("/v1/conversations", body);
        assert_eq!(status, 201, "{reply}");
        (reply["sessionCode"].as_str().unwrap().to_owned(), reply)
    }

    pub(crate) fn say(&self, code: &str, text: &str) -> Value {
        let (status, reply) =
            self.post(&format!("/v1/conversations/{code}"), &json!({"text": text}));
        assert_eq!(status, 200, "{reply}");
        reply
    }

    pub(crate) fn get(&self, code: &str) -> (u16, Value) {
        call(
            "GET",
            &format!("{}/v1/conversations/{code}", self.base),
            Some(KEY),
            None,
        )
    }
}

pub(crate) fn answers(reply: &Value) -> Vec<&str> {
    reply["answers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["text"].as_str().unwrap())
        .collect()
}

pub(crate) fn pizza() -> PathBuf {
    support::root().join("flows/pizza")
}

/// A bot that counts the messages it gets: any lost update shows.
pub(crate) fn counter_bot(dir: &Path) -> PathBuf {
    let file = dir.join("counter.flow");
    std::fs::write(
        &file,
        "flow welcome on welcome {\n  ask: input word text {\n    prompt \"Say anything.\"\n  }\n  code {\n    if count == () { count = 0; }\n    count += 1;\n  }\n  answer \"{{count}}\"\n  jump ask\n}\nflow fallback on fallback {\n  answer \"?\"\n}\n",
    )
    .unwrap();
    file
}

// ---- the API ----------------------------------------------------------------

#[test]
fn a_conversation_starts_continues_shows_and_ends() {
    let dir = scratch("api");
    let db = dir.join("sessions.db");
    let server = Serve::start(&pizza(), &["--sqlite", db.to_str().unwrap()]);
    let (code, hello) = server.begin(&json!({}));
    assert_eq!(answers(&hello), ["Welcome to Napoli! 🍕"]);
    assert_eq!(hello["ended"], false);
    let reply = server.say(&code, "I want a pizza");
    assert_eq!(answers(&reply), ["Which pizza would you like?"]);
    assert_eq!(
        reply["awaiting"],
        json!({"kind": "input", "var": "kind", "type": "options"})
    );
    assert_eq!(reply["nlp"]["intent"], "order");
    let reply = server.say(&code, "funghi");
    assert_eq!(reply["context"]["kind"], "mushroom");

    let (status, shown) = server.get(&code);
    assert_eq!(status, 200);
    assert_eq!(shown["state"]["turns"], 3);
    assert_eq!(shown["state"]["context"]["kind"], "mushroom");
    assert_eq!(shown["state"]["awaiting"]["var"], "size");
    let history = shown["history"].as_array().unwrap();
    assert_eq!(history.len(), 3);
    assert_eq!(history[1]["text"], "I want a pizza");
    assert_eq!(history[2]["answers"][0], "What size?");

    // A pre-classified message skips the classifier.
    let (status, reply) = server.post(
        &format!("/v1/conversations/{code}"),
        &json!({"text": "whatever", "intent": "cancel", "confidence": 0.99}),
    );
    assert_eq!(status, 200, "{reply}");
    assert_eq!(answers(&reply), ["No problem, your order is cancelled."]);
    assert_eq!(reply["events"], json!([{"type": "end"}]));
    assert_eq!(reply["ended"], true);

    let (status, body) = call(
        "DELETE",
        &format!("{}/v1/conversations/{code}", server.base),
        Some(KEY),
        None,
    );
    assert_eq!((status, body), (204, Value::Null));
    let (status, body) = server.get(&code);
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "not_found");
    let (status, _) = call(
        "DELETE",
        &format!("{}/v1/conversations/{code}", server.base),
        Some(KEY),
        None,
    );
    assert_eq!(status, 404);
}

#[test]
fn masked_inputs_stay_masked_in_responses_and_history() {
    let dir = scratch("masked");
    let server = Serve::start(
        &support::root().join("flows/ebank"),
        &["--sqlite", dir.join("s.db").to_str().unwrap()],
    );
    let (code, _) = server.begin(&json!({"context": {"customer_name": "Ana"}}));
    server.say(&code, "Consulta de Puntos");
    let reply = server.say(&code, "11111111-1");
    assert_eq!(reply["context"]["rut"], "******");
    let (_, shown) = server.get(&code);
    assert_eq!(shown["state"]["context"]["rut"], "******");
    let history = shown["history"].to_string();
    assert!(!history.contains("11111111"), "{history}");
    assert!(history.contains(r#""text":"******""#), "{history}");
}

#[test]
fn masked_answers_are_sent_but_not_kept_and_content_is_typed() {
    let dir = scratch("masked-answers");
    let bot = dir.join("otp.flow");
    std::fs::write(
        &bot,
        r#"
bot { languages [en, es] }
flow welcome on welcome {
  answer { typing 500 text @en "One moment." @es "Un momento." }
  answer { text @en "Your code is 482913." @es "Tu código es 482913." mask }
  input spot location { prompt @en "Where are you?" @es "¿Dónde estás?" }
  answer @en "Thanks." @es "Gracias."
}
flow fallback on fallback { answer @en "Sorry?" @es "¿Perdón?" }
"#,
    )
    .unwrap();
    let server = Serve::start(&bot, &["--store", "memory"]);
    let (code, reply) = server.begin(&json!({"language": "es"}));
    let answers = reply["answers"].as_array().unwrap();
    let kinds: Vec<&str> = answers
        .iter()
        .map(|a| a["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["typing", "text", "text", "text"], "{reply}");
    assert_eq!(answers[0]["duration_ms"], 500);
    assert_eq!(answers[2]["text"], "Tu código es 482913.");
    assert_eq!(answers[2]["mask"], true);
    assert_eq!(reply["awaiting"]["offer"], "location_picker");
    // A malformed location is asked again, never refused.
    let (status, reply) = server.post(
        &format!("/v1/conversations/{code}"),
        &json!({"location": {"lat": "north"}}),
    );
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["answers"][0]["text"], "¿Dónde estás?");
    let (status, reply) = server.post(
        &format!("/v1/conversations/{code}"),
        &json!({"location": {"lat": -33.44, "lng": -70.65}}),
    );
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["answers"][0]["text"], "Gracias.");
    let (_, shown) = server.get(&code);
    let history = shown["history"].to_string();
    assert!(!history.contains("482913"), "{history}");
    assert!(history.contains(r#""Un momento.","******""#), "{history}");
}

#[test]
fn requests_without_a_valid_key_are_refused() {
    let dir = scratch("auth");
    let server = Serve::start(&pizza(), &["--store", "memory"]);
    let url = format!("{}/v1/conversations", server.base);
    for key in [None, Some("wrong"), Some(ADMIN)] {
        let (status, body) = call("POST", &url, key, Some("{}"));
        assert_eq!(status, 401, "{key:?}");
        assert_eq!(body["error"]["code"], "unauthorized");
    }
    let (status, _) = call(
        "POST",
        &format!("{}/admin/reload", server.base),
        Some(KEY),
        None,
    );
    assert_eq!(status, 401, "an API key is not an admin key");
    // Health and metrics are open (for load balancers and scrapers).
    let (status, health) = call("GET", &format!("{}/healthz", server.base), None, None);
    assert_eq!(status, 200);
    assert_eq!(health["status"], "ok");
    assert_eq!(health["store"], "memory");
    drop(dir);
}

#[test]
fn serve_refuses_to_start_without_keys() {
    let out = Command::new(env!("CARGO_BIN_EXE_cellflow"))
        .args([
            "serve",
            "flows/pizza",
            "--store",
            "memory",
            "--listen",
            "127.0.0.1:0",
        ])
        .current_dir(support::root())
        .env_remove("CELLFLOW_API_KEYS")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no API keys are configured"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn bad_bodies_get_clear_json_errors() {
    let server = Serve::start(
        &pizza(),
        &[
            "--store",
            "memory",
            "--max-body-bytes",
            "2048",
            "--max-text-bytes",
            "100",
        ],
    );
    let (code, _) = server.begin(&json!({}));
    let path = format!("{}/v1/conversations/{code}", server.base);
    let send = |body: &str| call("POST", &path, Some(KEY), Some(body));

    let (status, body) = send("{\"text\": ");
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "bad_json");

    let (status, body) = send(r#"{"text": "hi", "txet": "typo"}"#);
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("unknown field `txet`"),
        "{body}"
    );

    let (status, body) = send(&format!("{{\"text\": \"{}\"}}", "a".repeat(101)));
    assert_eq!(status, 422);
    assert_eq!(body["error"]["code"], "text_too_long");

    let (status, body) = send(&format!("{{\"text\": \"{}\"}}", "a".repeat(3000)));
    assert_eq!(status, 413);
    assert_eq!(body["error"]["code"], "body_too_large");

    let (status, body) = send(r#"{"event": "no_such_flow"}"#);
    assert_eq!(status, 422);
    assert_eq!(body["error"]["code"], "unknown_event");

    let (status, body) = send(r#"{"text": "hi", "intent": "order", "confidence": 7}"#);
    assert_eq!(status, 422);
    assert_eq!(body["error"]["code"], "bad_confidence");

    let (status, body) = send("[1, 2, 3]");
    assert_eq!(status, 400, "{body}");

    // A session code that could never exist is simply not found.
    let (status, _) = call(
        "GET",
        &format!("{}/v1/conversations/..%2F..%2Fetc", server.base),
        Some(KEY),
        None,
    );
    assert_eq!(status, 404);
    // Nothing above changed the conversation.
    let (_, shown) = server.get(&code);
    assert_eq!(shown["state"]["turns"], 1);
}

#[test]
fn each_key_is_rate_limited() {
    let server = Serve::start(&pizza(), &["--store", "memory", "--rate-limit", "3"]);
    let statuses: Vec<u16> = (0..10)
        .map(|_| server.post("/v1/conversations", &json!({})).0)
        .collect();
    assert!(statuses.contains(&201), "{statuses:?}");
    assert!(statuses.contains(&429), "{statuses:?}");
    let (status, body) = server.post("/v1/conversations", &json!({}));
    if status == 429 {
        assert_eq!(body["error"]["code"], "rate_limited");
    }
}

#[test]
fn metrics_count_turns_requests_and_store_operations() {
    let server = Serve::start(&pizza(), &["--store", "memory"]);
    let (code, _) = server.begin(&json!({}));
    server.say(&code, "I want a pizza");
    let (status, text) = call("GET", &format!("{}/metrics", server.base), None, None);
    assert_eq!(status, 200);
    let text = text.as_str().unwrap().to_owned();
    for line in [
        "cellflow_turns_total{outcome=\"ok\"} 2",
        "cellflow_http_requests_total{route=\"start\",status=\"201\"} 1",
        "cellflow_store_operations_total{op=\"save\",outcome=\"ok\"} 2",
        "cellflow_sessions 1",
        "cellflow_turn_duration_seconds_count 2",
    ] {
        assert!(text.contains(line), "missing {line}:\n{text}");
    }
}

// ---- concurrency, restarts, failures, reloads ----------------------------------

/// Sends `n` messages to one conversation from `n` threads at once, spread
/// over the servers; every one must be counted exactly once.
pub(crate) fn hammer(servers: &[&Serve], code: &str, n: usize) {
    std::thread::scope(|scope| {
        for i in 0..n {
            let server = servers[i % servers.len()];
            scope.spawn(move || {
                let (status, reply) = server.post(
                    &format!("/v1/conversations/{code}"),
                    &json!({"text": format!("message {i}")}),
                );
                assert_eq!(status, 200, "{reply}");
            });
        }
    });
}

pub(crate) fn count_of(server: &Serve, code: &str) -> (u64, usize) {
    let (_, shown) = server.get(code);
    (
        shown["state"]["context"]["count"].as_u64().unwrap(),
        shown["history"].as_array().unwrap().len(),
    )
}

#[test]
fn concurrent_messages_to_one_conversation_never_lose_an_update() {
    let dir = scratch("concurrent");
    let bot = counter_bot(&dir);
    for store in [
        vec!["--store", "memory"],
        vec!["--sqlite", dir.join("s.db").to_str().unwrap()],
    ] {
        let server = Serve::start(&bot, &store.iter().map(|s| &**s).collect::<Vec<_>>());
        let (code, _) = server.begin(&json!({}));
        hammer(&[&server], &code, 40);
        assert_eq!(count_of(&server, &code), (40, 41), "{store:?}");
    }
}

#[test]
fn two_servers_sharing_redis_serialize_turns_of_one_conversation() {
    let Some(redis) =
        Redis::start("server::two_servers_sharing_redis_serialize_turns_of_one_conversation")
    else {
        return;
    };
    let dir = scratch("shared");
    let bot = counter_bot(&dir);
    let url = redis.url();
    let args = ["--store", "redis", "--redis-url", url.as_str()];
    let a = Serve::start(&bot, &args);
    let b = Serve::start(&bot, &args);
    let (code, _) = a.begin(&json!({}));
    hammer(&[&a, &b], &code, 40);
    assert_eq!(count_of(&a, &code), (40, 41));
    assert_eq!(count_of(&b, &code), (40, 41));
}

#[test]
fn a_killed_server_restarts_on_sqlite_with_its_conversations() {
    let dir = scratch("restart");
    let db = dir.join("sessions.db");
    let args = ["--sqlite", db.to_str().unwrap()];
    let mut server = Serve::start(&pizza(), &args);
    let (code, _) = server.begin(&json!({}));
    server.say(&code, "I want a pizza");
    server.say(&code, "veggie");
    server.kill(); // SIGKILL: no graceful shutdown
    let server = Serve::start(&pizza(), &args);
    let (status, shown) = server.get(&code);
    assert_eq!(status, 200, "{shown}");
    assert_eq!(shown["state"]["turns"], 3);
    let reply = server.say(&code, "large");
    assert_eq!(answers(&reply), ["How many Large veggie pizzas?"]);
}

#[test]
fn a_store_failure_answers_503_and_leaves_the_conversation_as_it_was() {
    let Some(mut redis) =
        Redis::start("server::a_store_failure_answers_503_and_leaves_the_conversation_as_it_was")
    else {
        return;
    };
    let url = redis.url();
    let server = Serve::start(&pizza(), &["--store", "redis", "--redis-url", url.as_str()]);
    let (code, _) = server.begin(&json!({}));
    server.say(&code, "I want a pizza");
    redis.stop();
    let (status, body) = server.post(
        &format!("/v1/conversations/{code}"),
        &json!({"text": "veggie"}),
    );
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "store_unavailable");
    let (status, _) = call("GET", &format!("{}/healthz", server.base), None, None);
    assert_eq!(status, 503);
    redis.spawn();
    // The failed turn left nothing behind: the bot still waits for the pizza.
    let (status, shown) = server.get(&code);
    assert_eq!(status, 200, "{shown}");
    assert_eq!(shown["state"]["turns"], 2);
    assert_eq!(shown["state"]["awaiting"]["var"], "kind");
    let reply = server.say(&code, "veggie");
    assert_eq!(answers(&reply), ["What size?"]);
}

#[test]
fn reload_swaps_the_bot_and_restarts_only_conversations_paused_on_a_removed_cell() {
    let dir = scratch("reload");
    let flow = dir.join("pizza.flow");
    std::fs::copy(pizza().join("pizza.flow"), &flow).unwrap();
    let server = Serve::start(&dir, &["--store", "memory"]);
    let (code, _) = server.begin(&json!({}));
    server.say(&code, "I want a pizza");

    // A broken bot is refused; the old one keeps answering.
    std::fs::write(&flow, "flow welcome on welcome {\n  jump nowhere\n}\n").unwrap();
    let (status, body) = call(
        "POST",
        &format!("{}/admin/reload", server.base),
        Some(ADMIN),
        None,
    );
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "invalid_bot");

    // A changed bot, through SIGHUP.
    let text = std::fs::read_to_string(pizza().join("pizza.flow"))
        .unwrap()
        .replace(
            "Welcome to {{bot.name}}! 🍕",
            "Welcome back to {{bot.name}}!",
        );
    std::fs::write(&flow, &text).unwrap();
    let version =
        |s: &Serve| call("GET", &format!("{}/healthz", s.base), None, None).1["version"].clone();
    let before = version(&server);
    Command::new("kill")
        .args(["-HUP", &server.pid().to_string()])
        .status()
        .unwrap();
    for _ in 0..100 {
        if version(&server) != before {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_ne!(version(&server), before, "SIGHUP did not reload");
    // The input this conversation waits on is still there: it goes on.
    let reply = server.say(&code, "veggie");
    assert_eq!(answers(&reply), ["What size?"]);
    assert_eq!(reply["events"], json!([]));
    // New conversations get the new bot.
    let (_, hello) = server.begin(&json!({}));
    assert_eq!(answers(&hello), ["Welcome back to Napoli!"]);

    // Now the input it waits on is replaced by another one.
    let renamed = text
        .replace("input size options", "input pizza_size options")
        .replace("{{size}}", "{{pizza_size}}")
        .replace("prices[size]", "prices[pizza_size]");
    std::fs::write(&flow, renamed).unwrap();
    let (status, body) = call(
        "POST",
        &format!("{}/admin/reload", server.base),
        Some(ADMIN),
        None,
    );
    assert_eq!(status, 200, "{body}");
    let reply = server.say(&code, "small");
    assert_eq!(
        answers(&reply),
        [
            "The bot was updated, so let's start again.",
            "Welcome back to Napoli!"
        ]
    );
    assert_eq!(reply["events"], json!([{"type": "restarted"}]));
}

#[test]
fn an_unreachable_redis_is_a_clear_error_at_start() {
    let port = free_port();
    let out = Command::new(env!("CARGO_BIN_EXE_cellflow"))
        .args([
            "serve",
            "flows/pizza",
            "--store",
            "redis",
            "--listen",
            "127.0.0.1:0",
        ])
        .args(["--redis-url", &format!("redis://127.0.0.1:{port}")])
        .current_dir(support::root())
        .env("CELLFLOW_API_KEYS", KEY)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("the session store is unavailable"), "{err}");
}

// ---- the OpenAPI document --------------------------------------------------------

/// Checks a JSON body against a schema's `required` properties (following
/// `$ref`s into `components`, and into nested objects that declare them).
fn conforms(doc: &Value, schema: &Value, body: &Value, at: &str) {
    let schema = match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let name = reference.rsplit('/').next().unwrap();
            &doc["components"]["schemas"][name]
        }
        None => schema,
    };
    let is = |kind: &str| match kind {
        "object" => body.is_object(),
        "array" => body.is_array(),
        "string" => body.is_string(),
        "number" => body.is_number(),
        "integer" => body.is_i64() || body.is_u64(),
        "boolean" => body.is_boolean(),
        "null" => body.is_null(),
        _ => true,
    };
    match schema.get("type") {
        Some(Value::String(kind)) => assert!(is(kind), "{at}: {body} is not {kind}"),
        Some(Value::Array(kinds)) => assert!(
            kinds.iter().any(|k| is(k.as_str().unwrap())),
            "{at}: {body} is none of {kinds:?}"
        ),
        _ => {}
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        assert!(
            values.contains(body),
            "{at}: {body} is not one of {values:?}"
        );
    }
    if let Some(required) = schema.get("required").and_then(Value::as_array) {
        for key in required {
            let key = key.as_str().unwrap();
            assert!(body.get(key).is_some(), "{at}: `{key}` missing from {body}");
        }
    }
    if let (Some(properties), Some(object)) = (schema.get("properties"), body.as_object()) {
        for (key, sub) in properties.as_object().unwrap() {
            if let Some(value) = object.get(key)
                && !value.is_null()
            {
                conforms(doc, sub, value, &format!("{at}.{key}"));
            }
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), body.as_array()) {
        for (i, item) in array.iter().enumerate() {
            conforms(doc, items, item, &format!("{at}[{i}]"));
        }
    }
}

/// (method, documented path, real path, key, body)
type Call<'a> = (&'a str, &'a str, String, Option<&'a str>, Option<String>);

#[test]
fn the_openapi_document_matches_the_server() {
    let doc: Value = serde_json::from_str(
        &std::fs::read_to_string(support::root().join("docs/openapi.json")).unwrap(),
    )
    .unwrap();
    // Every route the server has is documented, and nothing more.
    let mut documented: Vec<String> = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| *k != "parameters")
        {
            documented.push(format!("{} {path}", method.to_uppercase()));
        }
    }
    documented.sort();
    let channel = "/eva-broker/org/{org}/env/{env}/bot/{bot}";
    let mut expected = vec![
        "DELETE /v1/conversations/{sessionCode}".to_owned(),
        "GET /admin/webhooks/dead-letters".to_owned(),
        "GET /healthz".to_owned(),
        "GET /metrics".to_owned(),
        "GET /v1/conversations/{sessionCode}".to_owned(),
        "PATCH /v1/conversations/{sessionCode}".to_owned(),
        "POST /admin/reload".to_owned(),
        "POST /admin/webhooks/dead-letters/{id}/redeliver".to_owned(),
        "POST /conversations".to_owned(),
        "POST /conversations/{code}".to_owned(),
        format!("POST {channel}/channel/{{channel}}/v1/conversations"),
        format!("POST {channel}/channel/{{channel}}/v1/conversations/{{code}}"),
        format!("POST {channel}/conversations"),
        format!("POST {channel}/conversations/{{code}}"),
        format!("POST {channel}/conversations/{{code}}/likable"),
        format!("POST {channel}/conversations/{{code}}/satisfactions"),
        "POST /v1/conversations".to_owned(),
        "POST /v1/conversations/{sessionCode}".to_owned(),
        "POST /v1/conversations/{sessionCode}/events".to_owned(),
        "PUT /v1/conversations/{sessionCode}".to_owned(),
    ];
    expected.sort();
    assert_eq!(documented, expected);

    let server = Serve::start(&pizza(), &["--store", "memory"]);
    let (code, _) = server.begin(&json!({}));
    let conversation = format!("/v1/conversations/{code}");
    let calls: Vec<Call> = vec![
        (
            "POST",
            "/v1/conversations",
            "/v1/conversations".into(),
            Some(KEY),
            Some("{}".into()),
        ),
        (
            "POST",
            "/v1/conversations",
            "/v1/conversations".into(),
            None,
            Some("{}".into()),
        ),
        (
            "POST",
            "/v1/conversations",
            "/v1/conversations".into(),
            Some(KEY),
            Some("{".into()),
        ),
        (
            "POST",
            "/v1/conversations",
            "/v1/conversations".into(),
            Some(KEY),
            Some(r#"{"event": "nope"}"#.into()),
        ),
        (
            "POST",
            "/v1/conversations",
            "/v1/conversations".into(),
            Some(KEY),
            Some(r#"["hi", "welcome"]"#.into()),
        ),
        (
            "POST",
            "/v1/conversations/{sessionCode}",
            conversation.clone(),
            Some(KEY),
            Some(r#"{"text": "I want a pizza"}"#.into()),
        ),
        (
            "POST",
            "/v1/conversations/{sessionCode}",
            "/v1/conversations/missing".into(),
            Some(KEY),
            Some("{}".into()),
        ),
        (
            "GET",
            "/v1/conversations/{sessionCode}",
            conversation.clone(),
            Some(KEY),
            None,
        ),
        (
            "GET",
            "/v1/conversations/{sessionCode}",
            "/v1/conversations/missing".into(),
            Some(KEY),
            None,
        ),
        (
            "PUT",
            "/v1/conversations/{sessionCode}",
            "/v1/conversations/crm-7".into(),
            Some(KEY),
            Some("{}".into()),
        ),
        (
            "PUT",
            "/v1/conversations/{sessionCode}",
            "/v1/conversations/crm-7".into(),
            Some(KEY),
            Some(r#"{"text": "menu"}"#.into()),
        ),
        (
            "PATCH",
            "/v1/conversations/{sessionCode}",
            "/v1/conversations/crm-7".into(),
            Some(KEY),
            Some(r#"{"context": {"vip": true}}"#.into()),
        ),
        (
            "PATCH",
            "/v1/conversations/{sessionCode}",
            "/v1/conversations/missing".into(),
            Some(KEY),
            Some(r#"{"context": {"vip": true}}"#.into()),
        ),
        (
            "POST",
            "/v1/conversations/{sessionCode}/events",
            "/v1/conversations/crm-8/events".into(),
            Some(KEY),
            Some(r#"{"name": "show_menu"}"#.into()),
        ),
        (
            "POST",
            "/v1/conversations/{sessionCode}/events",
            "/v1/conversations/crm-8/events".into(),
            Some(KEY),
            Some(r#"{"name": "nope"}"#.into()),
        ),
        (
            "POST",
            "/eva-broker/org/{org}/env/{env}/bot/{bot}/channel/{channel}/v1/conversations",
            "/eva-broker/org/o/env/e/bot/b/channel/c/v1/conversations".into(),
            Some(KEY),
            Some(r#"{"code": "%EVA_WELCOME_MSG"}"#.into()),
        ),
        (
            "POST",
            "/eva-broker/org/{org}/env/{env}/bot/{bot}/channel/{channel}/v1/conversations/{code}",
            "/eva-broker/org/o/env/e/bot/b/channel/c/v1/conversations/crm-7".into(),
            Some(KEY),
            Some(r#"{"text": "I want a pizza"}"#.into()),
        ),
        (
            "POST",
            "/eva-broker/org/{org}/env/{env}/bot/{bot}/conversations",
            "/eva-broker/org/o/env/e/bot/b/conversations".into(),
            Some(KEY),
            Some(r#"{"code": "%EVA_NOPE"}"#.into()),
        ),
        (
            "POST",
            "/eva-broker/org/{org}/env/{env}/bot/{bot}/conversations/{code}",
            "/eva-broker/org/o/env/e/bot/b/conversations/missing".into(),
            Some(KEY),
            Some(r#"{"text": "hi"}"#.into()),
        ),
        (
            "POST",
            "/conversations",
            "/conversations".into(),
            Some(KEY),
            Some(r#"{"txt": "hi"}"#.into()),
        ),
        (
            "POST",
            "/conversations/{code}",
            "/conversations/crm-7".into(),
            None,
            Some(r#"{"text": "hi"}"#.into()),
        ),
        (
            "POST",
            "/eva-broker/org/{org}/env/{env}/bot/{bot}/conversations/{code}/satisfactions",
            "/eva-broker/org/o/env/e/bot/b/conversations/crm-7/satisfactions".into(),
            Some(KEY),
            Some(r#"{"evaluation": 4}"#.into()),
        ),
        (
            "POST",
            "/eva-broker/org/{org}/env/{env}/bot/{bot}/conversations/{code}/likable",
            "/eva-broker/org/o/env/e/bot/b/conversations/crm-7/likable".into(),
            Some(KEY),
            Some(r#"{"interactionId": "1-0", "evaluation": true}"#.into()),
        ),
        (
            "POST",
            "/eva-broker/org/{org}/env/{env}/bot/{bot}/conversations/{code}/likable",
            "/eva-broker/org/o/env/e/bot/b/conversations/crm-7/likable".into(),
            Some(KEY),
            Some(r#"{"interactionId": "77-0", "evaluation": true}"#.into()),
        ),
        (
            "GET",
            "/admin/webhooks/dead-letters",
            "/admin/webhooks/dead-letters".into(),
            Some(ADMIN),
            None,
        ),
        (
            "GET",
            "/admin/webhooks/dead-letters",
            "/admin/webhooks/dead-letters?limit=x".into(),
            Some(ADMIN),
            None,
        ),
        (
            "POST",
            "/admin/webhooks/dead-letters/{id}/redeliver",
            "/admin/webhooks/dead-letters/5/redeliver".into(),
            Some(ADMIN),
            None,
        ),
        ("GET", "/healthz", "/healthz".into(), None, None),
        ("GET", "/metrics", "/metrics".into(), None, None),
        (
            "POST",
            "/admin/reload",
            "/admin/reload".into(),
            Some(ADMIN),
            None,
        ),
        (
            "POST",
            "/admin/reload",
            "/admin/reload".into(),
            Some(KEY),
            None,
        ),
        (
            "DELETE",
            "/v1/conversations/{sessionCode}",
            conversation.clone(),
            Some(KEY),
            None,
        ),
        (
            "DELETE",
            "/v1/conversations/{sessionCode}",
            conversation.clone(),
            Some(KEY),
            None,
        ),
    ];
    for (method, path, real, key, body) in calls {
        let (status, reply) = call(
            method,
            &format!("{}{real}", server.base),
            key,
            body.as_deref(),
        );
        let at = format!("{method} {real} → {status}");
        let response = &doc["paths"][path][method.to_lowercase()]["responses"][status.to_string()];
        assert!(response.is_object(), "{at} is not documented");
        if let Some(schema) = response
            .get("content")
            .and_then(|c| c.get("application/json"))
            .map(|c| &c["schema"])
        {
            conforms(&doc, schema, &reply, &at);
        }
    }
}
