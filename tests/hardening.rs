//! Nothing a client sends takes the server down, and no session can be
//! bricked: timeouts, connection limits, body and context bounds, store
//! failures, sessions that do not fit the program.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use cellflow::runtime::{Bot, Event, MAX_VALUE_DEPTH, Request, Session};

use crate::server::{KEY, Redis, Serve, answers, call, counter_bot, pizza, scratch};
use crate::support;

/// A bot that keeps every message in a linked list: each message nests the
/// history one level deeper (the reproducer that bricked conversations).
fn linked_history(dir: &std::path::Path) -> PathBuf {
    let file = dir.join("linked.flow");
    std::fs::write(
        &file,
        "flow welcome on welcome { answer \"hi\" }\n\
         flow fallback on fallback {\n  code { hist = #{ prev: hist, msg: input.text }; }\n  answer \"noted\"\n}\n",
    )
    .unwrap();
    file
}

// ---- slow and hostile clients ----------------------------------------------------

/// Opens a connection that sends the start of a request and never the
/// blank line that ends its headers.
fn slow_client(base: &str) -> TcpStream {
    let address = base.strip_prefix("http://").unwrap();
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    stream
}

#[test]
fn connections_that_never_finish_their_headers_cannot_take_the_server_down() {
    // In miniature: with 64 open files, 100 such connections exhaust an
    // unbounded server's descriptors, and `/healthz` then never answers.
    // With a limit of 32 connections, each closed after a 1 s header
    // timeout, it answers after a few rounds of them.
    let server = Serve::start_limited(
        &pizza(),
        &[
            "--store",
            "memory",
            "--max-connections",
            "32",
            "--header-timeout-secs",
            "1",
        ],
        Some(64),
    );
    let mut slow: Vec<TcpStream> = (0..100).map(|_| slow_client(&server.base)).collect();
    let (status, health) = call("GET", &format!("{}/healthz", server.base), None, None);
    assert_eq!(status, 200, "{health}");
    // The first of them was closed by the server, not left open forever.
    slow[0]
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut answer = Vec::new();
    let read = slow[0].read_to_end(&mut answer);
    assert!(
        read.is_ok()
            || read
                .as_ref()
                .is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionReset),
        "the slow connection was not closed: {read:?}"
    );
    slow.clear();
    let (status, _) = call("GET", &format!("{}/healthz", server.base), None, None);
    assert_eq!(status, 200);
}

#[test]
fn a_body_that_never_arrives_is_a_408() {
    let server = Serve::start(&pizza(), &["--store", "memory", "--body-timeout-secs", "1"]);
    let address = server.base.strip_prefix("http://").unwrap();
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .write_all(
            format!(
                "POST /v1/conversations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\n\
                 Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"text\": "
            )
            .as_bytes(),
        )
        .unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"body_timeout\""), "{answer}");
}

#[test]
fn only_a_json_object_is_a_request() {
    let dir = scratch("object-bodies");
    let server = Serve::start(&counter_bot(&dir), &["--store", "memory"]);
    let (code, _) = server.begin(&json!({}));
    let path = format!("{}/v1/conversations/{code}", server.base);
    // serde would read this array as {"text": "inc", "event": "welcome"}.
    for body in [r#"["inc", "welcome"]"#, r#""inc""#, "42", "null", "true"] {
        let (status, reply) = call("POST", &path, Some(KEY), Some(body));
        assert_eq!(status, 400, "{body}: {reply}");
        assert_eq!(reply["error"]["code"], "bad_json", "{body}");
    }
    let (status, reply) = call(
        "POST",
        &format!("{}/v1/conversations", server.base),
        Some(KEY),
        Some(r#"["inc", "welcome"]"#),
    );
    assert_eq!(status, 400, "{reply}");
    let (_, shown) = server.get(&code);
    assert_eq!(shown["state"]["turns"], 1, "no refused body ran a turn");
}

// ---- context bounds ------------------------------------------------------------

fn context_of(keys: std::ops::Range<usize>, value: &str) -> Value {
    Value::Object(keys.map(|k| (format!("k{k}"), json!(value))).collect())
}

#[test]
fn context_is_bounded_per_request_in_keys_and_bytes() {
    let server = Serve::start(&pizza(), &["--store", "memory"]);
    let (code, _) = server.begin(&json!({}));
    let path = format!("/v1/conversations/{code}");

    let (status, reply) = server.post(&path, &json!({"context": context_of(0..65, "x")}));
    assert_eq!(status, 422, "{reply}");
    assert_eq!(reply["error"]["code"], "context_too_large");
    assert!(
        reply["error"]["message"]
            .as_str()
            .unwrap()
            .contains("--max-context-keys"),
        "{reply}"
    );

    let big = "x".repeat(17 * 1024);
    let (status, reply) = server.post(&path, &json!({"context": {"big": big}}));
    assert_eq!(status, 422, "{reply}");
    assert_eq!(reply["error"]["code"], "context_too_large");

    // Nested deeper than a session can keep: refused before the turn.
    let mut deep = json!(1);
    for _ in 0..=MAX_VALUE_DEPTH {
        deep = json!([deep]);
    }
    let (status, reply) = server.post(&path, &json!({"context": {"deep": deep}}));
    assert_eq!(status, 422, "{reply}");
    assert_eq!(reply["error"]["code"], "context_too_deep");

    // At the limits it is taken.
    let (status, reply) = server.post(&path, &json!({"context": context_of(0..64, "x")}));
    assert_eq!(status, 200, "{reply}");
    let (_, shown) = server.get(&code);
    assert_eq!(shown["state"]["turns"], 2);
}

#[test]
fn context_is_bounded_per_conversation_in_variables_and_bytes() {
    let server = Serve::start(&pizza(), &["--store", "memory"]);
    let (code, _) = server.begin(&json!({}));
    let path = format!("/v1/conversations/{code}");
    // 64 new keys a request: the 16th would leave 1,024 variables.
    for round in 0..15 {
        let keys = round * 64..round * 64 + 64;
        let (status, reply) = server.post(&path, &json!({"context": context_of(keys, "v")}));
        assert_eq!(status, 200, "round {round}: {reply}");
    }
    let (status, reply) = server.post(&path, &json!({"context": context_of(960..1024, "v")}));
    assert_eq!(status, 422, "{reply}");
    assert_eq!(reply["error"]["code"], "session_too_large");
    assert!(
        reply["error"]["message"]
            .as_str()
            .unwrap()
            .contains("--max-session-vars"),
        "{reply}"
    );
    let (status, shown) = server.get(&code);
    assert_eq!(status, 200);
    assert_eq!(
        shown["state"]["turns"], 16,
        "the refused turn was not stored"
    );
    assert!(shown["state"]["context"].get("k960").is_none());

    // Bytes: 15 KiB of context a request passes the per-request limit, but
    // the conversation outgrows 256 KiB on the 18th.
    let (code, _) = server.begin(&json!({}));
    let path = format!("/v1/conversations/{code}");
    let value = "y".repeat(15 * 1024);
    let mut refused = None;
    for round in 0..20 {
        let (status, reply) = server.post(
            &path,
            &json!({"context": {format!("big{round}"): value.clone()}}),
        );
        if status != 200 {
            assert_eq!(status, 422, "{reply}");
            assert_eq!(reply["error"]["code"], "session_too_large");
            assert!(
                reply["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("--max-session-bytes"),
                "{reply}"
            );
            refused = Some(round);
            break;
        }
    }
    assert_eq!(refused, Some(17));
    // The conversation goes on at its last good state.
    let (status, reply) = server.post(&path, &json!({"text": "I want a pizza"}));
    assert_eq!(status, 200, "{reply}");
    assert_eq!(answers(&reply), ["Which pizza would you like?"]);
}

// ---- numeric flags -----------------------------------------------------------------

fn serve_refuses(args: &[&str], expected: &str) {
    let out = Command::new(env!("CARGO_BIN_EXE_cellflow"))
        .args(["serve", "flows/pizza", "--listen", "127.0.0.1:0"])
        .args(args)
        .current_dir(support::root())
        .env("CELLFLOW_API_KEYS", KEY)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert!(err.contains(expected), "{args:?}: {err}");
}

#[test]
fn numbers_a_store_cannot_take_are_refused_at_start() {
    // Redis refuses this time to live on every write: before it was
    // checked, every request answered 503. No Redis is needed to refuse it.
    serve_refuses(
        &[
            "--store",
            "redis",
            "--redis-url",
            "redis://127.0.0.1:1",
            "--idle-minutes",
            "153722867280912930",
        ],
        "--idle-minutes 153722867280912930 is out of range: it must be from 1 to 52560000 \
         with the Redis store",
    );
    serve_refuses(
        &[
            "--store",
            "memory",
            "--idle-minutes",
            "18446744073709551615",
        ],
        "--idle-minutes 18446744073709551615 is out of range",
    );
    serve_refuses(
        &[
            "--store",
            "postgres",
            "--postgres-url",
            "postgres://cellflow@127.0.0.1:1/cellflow",
            "--postgres-timeout-ms",
            "0",
        ],
        "--postgres-timeout-ms 0 is out of range",
    );
    serve_refuses(
        &["--store", "memory", "--idle-minutes", "0"],
        "--idle-minutes 0 is out of range",
    );
    serve_refuses(
        &["--store", "memory", "--rate-limit", "0"],
        "--rate-limit 0 is out of range",
    );
    serve_refuses(
        &["--store", "memory", "--max-connections", "0"],
        "--max-connections 0 is out of range",
    );
    serve_refuses(
        &["--store", "memory", "--max-text-bytes", "100000"],
        "--max-text-bytes 100000 is out of range: it must be from 1 to 16384",
    );
    serve_refuses(
        &[
            "--store",
            "redis",
            "--redis-url",
            "redis://127.0.0.1:1",
            "--max-session-bytes",
            "1000000000",
        ],
        "with the Redis store (its largest value)",
    );
    serve_refuses(
        &[
            "--store",
            "memory",
            "--header-timeout-secs",
            "18446744073709551615",
        ],
        "--header-timeout-secs 18446744073709551615 is out of range",
    );
}

// ---- a frozen store ------------------------------------------------------------------

/// Sends SIGCONT when dropped, so a failing test never leaves Redis frozen.
struct Thaw(u32);

impl Drop for Thaw {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-CONT", &self.0.to_string()])
            .status();
    }
}

#[test]
fn a_frozen_redis_fails_requests_within_their_deadlines() {
    let Some(redis) =
        Redis::start("hardening::a_frozen_redis_fails_requests_within_their_deadlines")
    else {
        return;
    };
    let url = redis.url();
    let server = Serve::start(
        &pizza(),
        &[
            "--store",
            "redis",
            "--redis-url",
            url.as_str(),
            "--redis-timeout-ms",
            "300",
        ],
    );
    let (code, _) = server.begin(&json!({}));
    server.say(&code, "I want a pizza");

    let pid = redis.pid().unwrap();
    let thaw = Thaw(pid);
    assert!(
        Command::new("kill")
            .args(["-STOP", &pid.to_string()])
            .status()
            .unwrap()
            .success()
    );
    // Frozen for as long as the test takes: each request must give up on
    // its own (the client would wait 20 s).
    let started = Instant::now();
    let (status, health) = call("GET", &format!("{}/healthz", server.base), None, None);
    assert_eq!(status, 503, "{health}");
    assert_eq!(health["error"]["code"], "store_unavailable");
    let (status, body) = server.post(
        &format!("/v1/conversations/{code}"),
        &json!({"text": "veggie"}),
    );
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "store_unavailable");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "requests waited {:?} on a frozen Redis",
        started.elapsed()
    );
    drop(thaw);

    // Thawed, the conversation is where it was (the failed turn never
    // read its record, so it wrote nothing); its lock, if the frozen Redis
    // took it late, frees itself.
    let mut reply = Value::Null;
    for _ in 0..100 {
        let (status, body) = server.post(
            &format!("/v1/conversations/{code}"),
            &json!({"text": "veggie"}),
        );
        reply = body;
        if status == 200 {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(answers(&reply), ["What size?"], "{reply}");
    let (status, _) = call("GET", &format!("{}/healthz", server.base), None, None);
    assert_eq!(status, 200);
}

// ---- sessions that cannot be bricked -----------------------------------------------------

#[test]
fn a_value_too_deep_to_read_back_fails_its_turn_and_is_never_stored() {
    let dir = scratch("linked-history");
    let server = Serve::start(&linked_history(&dir), &["--store", "memory"]);
    let (code, _) = server.begin(&json!({}));
    let path = format!("/v1/conversations/{code}");
    // One level deeper each message: past the limit every message fails
    // its turn cleanly; before the limit existed, the 127th was stored and
    // the conversation could never be read again (503 "corrupt").
    let mut failed = 0;
    for n in 1..=130 {
        let (status, reply) = server.post(&path, &json!({"text": format!("m{n}")}));
        assert_eq!(status, 200, "message {n}: {reply}");
        if let Some(error) = reply["events"].as_array().unwrap().first() {
            assert_eq!(error["type"], "error", "{reply}");
            assert!(
                error["message"].as_str().unwrap().contains("levels deep"),
                "{reply}"
            );
            failed += 1;
        }
    }
    assert_eq!(failed, 130 - MAX_VALUE_DEPTH);
    let (status, shown) = server.get(&code);
    assert_eq!(status, 200, "{shown}");
    assert_eq!(shown["state"]["turns"], 131);
    // Turn numbers never repeat, failed turns included.
    let turns: Vec<u64> = shown["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["turn"].as_u64().unwrap())
        .collect();
    let mut unique = turns.clone();
    unique.dedup();
    assert_eq!(turns, unique);
    assert_eq!(turns.last(), Some(&131));
    // Other flows still run.
    let (status, reply) = server.post(&path, &json!({"event": "welcome"}));
    assert_eq!(status, 200, "{reply}");
    assert_eq!(answers(&reply), ["hi"]);
}

#[test]
fn library_sessions_always_read_back_and_count_failed_turns() {
    let dir = scratch("linked-library");
    let bot = Bot::load(linked_history(&dir)).unwrap();
    let mut session = bot.new_session();
    bot.turn(&mut session, Request::event("welcome")).unwrap();
    for n in 2..=130u64 {
        let reply = bot
            .turn(&mut session, Request::text(format!("m{n}")))
            .unwrap();
        assert_eq!(session.turn, n, "every turn counts, failed or not");
        let failed = reply
            .events
            .iter()
            .any(|e| matches!(e, Event::Error { .. }));
        assert_eq!(failed, n > MAX_VALUE_DEPTH as u64 + 1, "turn {n}");
        let stored = serde_json::to_string(&session).unwrap();
        let back: Session = serde_json::from_str(&stored)
            .unwrap_or_else(|e| panic!("turn {n} left a session that does not read back: {e}"));
        assert_eq!(back, session);
    }
}

#[test]
fn a_session_that_does_not_fit_the_bot_is_an_error_not_a_panic() {
    let bot = Bot::load(pizza()).unwrap();
    let mut good = bot.new_session();
    bot.turn(&mut good, Request::event("welcome")).unwrap();
    bot.turn(&mut good, Request::text("I want a pizza"))
        .unwrap();
    let version = bot.program().version;
    let stored = serde_json::to_value(&good).unwrap();

    let mut waits_nowhere = stored.clone();
    waits_nowhere["waiting"] = json!({"cell": 4_000_000});
    let mut returns_nowhere = stored.clone();
    returns_nowhere["stack"] = json!([[4_000_000, 7]]);
    let mut agent_at_an_input = stored.clone();
    agent_at_an_input["waiting"] = json!({"agent": good.waiting.unwrap().cell()});
    for (what, value) in [
        ("a wait at a cell out of range", waits_nowhere),
        ("a return point out of range", returns_nowhere),
        ("a wait of the wrong kind", agent_at_an_input),
    ] {
        let mut session: Session = serde_json::from_value(value).unwrap();
        let before = session.clone();
        // What it waits for, as a host asks before a turn: nothing, when
        // the wait itself is what does not fit.
        let awaiting = bot.awaiting(&session);
        assert_eq!(awaiting.is_none(), what.contains("wait"), "{what}");
        let _ = bot.awaits_secret(&session);
        let error = bot
            .turn(&mut session, Request::text("funghi"))
            .expect_err(what);
        assert!(
            error
                .to_string()
                .starts_with("the session does not fit this bot"),
            "{what}: {error}"
        );
        assert_eq!(session, before, "{what}: the session is not changed");
    }
    // A session of another version of the bot (or of none: a "new" one
    // that waits) is moved over by key, never trusted by index: it goes on
    // where its key says, or restarts.
    for claimed in [version ^ 1, 0] {
        let mut foreign: Session = serde_json::from_value(stored.clone()).unwrap();
        foreign.bot_version = claimed;
        foreign.waiting = Some(cellflow::runtime::Wait::Cell(
            cellflow::compile::CellIndex::new(4_000_000),
        ));
        let reply = bot.turn(&mut foreign, Request::text("funghi")).unwrap();
        assert_eq!(answers_of(&reply), ["What size?"], "{claimed}");
        foreign.waiting_key = 0;
        foreign.bot_version = claimed;
        foreign.waiting = Some(cellflow::runtime::Wait::Cell(
            cellflow::compile::CellIndex::new(4_000_000),
        ));
        let reply = bot.turn(&mut foreign, Request::text("funghi")).unwrap();
        assert!(
            reply.events.contains(&Event::Restarted),
            "{claimed}: {reply:?}"
        );
    }
}

#[test]
fn a_session_from_another_version_whose_turn_fails_is_kept_as_it_came() {
    // The failed turn puts the session back as it was: still the other
    // version's, with that version's indexes and key, which the next turn
    // moves over. Nothing may look its indexes up in this program.
    let mut project = cellflow::project::Project::new();
    project.add_bytes(
        "a.flow",
        std::path::Path::new("a.flow"),
        b"flow welcome on welcome {\n  code { n = 1 / 0; }\n  answer \"never\"\n}\n",
    );
    let bot = Bot::new(cellflow::compile::load_project(project).unwrap());
    let mut session = bot.new_session();
    session.bot_version = bot.program().version ^ 1;
    session.waiting = Some(cellflow::runtime::Wait::Cell(
        cellflow::compile::CellIndex::new(50),
    ));
    session.waiting_key = 12_345;
    let before = session.clone();
    let reply = bot.turn(&mut session, Request::text("hello")).unwrap();
    assert!(
        reply
            .events
            .iter()
            .any(|e| matches!(e, Event::Error { .. })),
        "{reply:?}"
    );
    assert_eq!(session.waiting, before.waiting);
    assert_eq!(session.waiting_key, before.waiting_key);
    assert_eq!(session.bot_version, before.bot_version);
    assert_eq!(session.turn, before.turn + 1);
}

fn answers_of(response: &cellflow::runtime::Response) -> Vec<&str> {
    response.answers.iter().map(|a| a.text.as_str()).collect()
}

#[test]
fn a_stored_session_that_does_not_fit_is_a_clear_error() {
    // A SQLite file edited by hand (or written for another bot): the
    // server answers with what is wrong instead of failing the request.
    let dir = scratch("misfit-store");
    let db = dir.join("s.db");
    let args = ["--sqlite", db.to_str().unwrap()];
    let (code, _) = {
        let server = Serve::start(&pizza(), &args);
        let begun = server.begin(&json!({}));
        server.say(&begun.0, "I want a pizza");
        begun
    };
    misplace_the_wait(&db, &code);
    let server = Serve::start(&pizza(), &args);
    let (status, reply) = server.post(
        &format!("/v1/conversations/{code}"),
        &json!({"text": "funghi"}),
    );
    assert_eq!(status, 500, "{reply}");
    assert_eq!(reply["error"]["code"], "conversation_corrupt");
    assert!(
        reply["error"]["message"]
            .as_str()
            .unwrap()
            .contains("does not fit this bot"),
        "{reply}"
    );
    let (status, shown) = server.get(&code);
    assert_eq!(status, 200, "reading it still works: {shown}");
    assert_eq!(shown["state"]["awaiting"], Value::Null);
    // Deleting it starts over.
    let (status, _) = call(
        "DELETE",
        &format!("{}/v1/conversations/{code}", server.base),
        Some(KEY),
        None,
    );
    assert_eq!(status, 204);
}

/// Points the stored conversation's wait at a cell the bot does not have.
fn misplace_the_wait(db: &std::path::Path, code: &str) {
    let connection = rusqlite::Connection::open(db).unwrap();
    let session: Vec<u8> = connection
        .query_row(
            "SELECT session FROM conversations WHERE id = ?1",
            [code],
            |row| row.get(0),
        )
        .unwrap();
    let mut session: Value = serde_json::from_slice(&session).unwrap();
    session["waiting"] = json!({"cell": 4_000_000});
    connection
        .execute(
            "UPDATE conversations SET session = ?1 WHERE id = ?2",
            rusqlite::params![serde_json::to_vec(&session).unwrap(), code],
        )
        .unwrap();
}
