//! A conversation's life as a channel integration sees it: conversations
//! under the client's own ids, context set between turns, the bot speaking
//! first, inactivity timeouts, and the webhooks that tell a real receiver
//! about handoffs, ends, timeouts and messages — signed, retried, in order,
//! dead-lettered, and kept across a restart.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

use crate::receiver::{Hit, Mode, Receiver};
use crate::server::{ADMIN, KEY, Serve, call, scratch};

const SECRET: &str = "s3cret-for-tests";

/// A help desk that asks two questions, then hands over; idle for a second
/// it closes the chat.
fn desk(dir: &Path) -> PathBuf {
    desk_bot(
        dir,
        "  inactivity:\n    after: 1s\n    message: \"Closing this chat. Write again anytime.\"\n",
    )
}

/// The same desk without an inactivity timeout, for tests whose timing a
/// busy machine must not turn into a timeout.
fn calm_desk(dir: &Path) -> PathBuf {
    desk_bot(dir, "")
}

fn desk_bot(dir: &Path, inactivity: &str) -> PathBuf {
    let bot = dir.join("desk.flow.yaml");
    std::fs::write(
        &bot,
        format!(
            r#"
bot:
  name: Desk
{inactivity}intents:
  agent:
    examples: ["talk to a person", "human please", "I want an agent"]
flows:
  welcome:
    on: welcome
    cells:
      - input: {{var: name, type: text, prompt: "Your name?"}}
      - input: {{var: pin, type: text, prompt: "Your PIN?", mask: true}}
      - input: {{var: topic, type: text, prompt: "What is it about, {{{{name}}}}?"}}
      - handoff: {{queue: billing, reason: "needs a person", message: "A colleague takes over."}}
  reminder:
    cells:
      - answer: "Your appointment is tomorrow at 10."
  agent:
    on: {{intent: agent}}
    cells:
      - handoff: {{queue: general}}
  fallback:
    on: fallback
    cells:
      - answer: "Sorry?"
"#
        ),
    )
    .unwrap();
    bot
}

/// A configuration file with one webhook to `url`.
fn config(dir: &Path, url: &str, extra: &str) -> PathBuf {
    config_with_secret(dir, url, SECRET, extra)
}

/// The same, with the secret as written in the file (`${VAR}` allowed).
fn config_with_secret(dir: &Path, url: &str, secret: &str, extra: &str) -> PathBuf {
    let file = dir.join("cellflow.toml");
    std::fs::write(
        &file,
        format!(
            "[[webhooks]]\nname = \"desk\"\nurl = \"{url}\"\nsecret = \"{secret}\"\n\
             events = [\"handoff\", \"end\", \"timeout\", \"error\", \"message\"]\n\
             timeout_ms = 500\nmax_attempts = 3\n{extra}"
        ),
    )
    .unwrap();
    file
}

fn send(server: &Serve, method: &str, path: &str, body: &Value) -> (u16, Value) {
    call(
        method,
        &format!("{}{path}", server.base),
        Some(KEY),
        Some(&body.to_string()),
    )
}

fn texts(reply: &Value) -> Vec<&str> {
    reply["answers"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["text"].as_str())
        .collect()
}

/// HMAC-SHA256 over `t.body`, as a receiver checks a signature.
fn verify(hit: &Hit) -> bool {
    let Some(header) = hit.headers.get("cellflow-signature") else {
        return false;
    };
    let Some((t, v1)) = header
        .strip_prefix("t=")
        .and_then(|rest| rest.split_once(",v1="))
    else {
        return false;
    };
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, SECRET.as_bytes());
    let mut signed = format!("{t}.").into_bytes();
    signed.extend_from_slice(&hit.raw);
    let Ok(tag) = (0..v1.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&v1[i..i + 2], 16))
        .collect::<Result<Vec<u8>, _>>()
    else {
        return false;
    };
    ring::hmac::verify(&key, &signed, &tag).is_ok()
}

fn of_type<'a>(hits: &'a [Hit], kind: &str) -> Vec<&'a Hit> {
    hits.iter()
        .filter(|h| h.status < 300 && h.body["type"] == kind)
        .collect()
}

#[test]
fn a_conversation_under_a_clients_id_is_started_resumed_and_patched() {
    let dir = scratch("lifecycle");
    let server = Serve::start(&calm_desk(&dir), &["--store", "memory"]);
    // A phone number names the conversation.
    let id = "+34600111222";
    let (status, hello) = send(
        &server,
        "PUT",
        &format!("/v1/conversations/{id}"),
        &json!({}),
    );
    assert_eq!(status, 201, "{hello}");
    assert_eq!(hello["sessionCode"], id);
    assert_eq!(texts(&hello), ["Your name?"]);
    let (status, next) = send(
        &server,
        "PUT",
        &format!("/v1/conversations/{id}"),
        &json!({"text": "Ana"}),
    );
    assert_eq!(status, 200, "{next}");
    assert_eq!(texts(&next), ["Your PIN?"]);

    // Context between turns: no turn runs, nothing is answered.
    let (status, patched) = send(
        &server,
        "PATCH",
        &format!("/v1/conversations/{id}"),
        &json!({"context": {"vip": true, "plan": "gold"}}),
    );
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["context"]["vip"], true);
    assert_eq!(patched["context"]["name"], "Ana");
    let (_, state) = call(
        "GET",
        &format!("{}/v1/conversations/{id}", server.base),
        Some(KEY),
        None,
    );
    assert_eq!(state["state"]["turns"], 2, "{state}");
    assert_eq!(state["state"]["context"]["plan"], "gold");
    assert_eq!(state["state"]["awaiting"]["var"], "pin");

    // Bad requests on the new routes.
    let patch = |id: &str, body: &str| {
        call(
            "PATCH",
            &format!("{}/v1/conversations/{id}", server.base),
            Some(KEY),
            Some(body),
        )
    };
    assert_eq!(patch("nobody", r#"{"context": {"a": 1}}"#).0, 404);
    assert_eq!(patch(id, r#"{"context": 5}"#).0, 400);
    assert_eq!(patch(id, r#"{"ctx": {}}"#).0, 400);
    assert_eq!(patch(id, "").0, 400);
    let (status, error) = patch(id, r#"{"context": {"a": 1}, "extra": true}"#);
    assert_eq!(status, 400);
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("extra"),
        "{error}"
    );
    let huge: serde_json::Map<String, Value> =
        (0..100).map(|i| (format!("k{i}"), json!(i))).collect();
    assert_eq!(
        patch(id, &json!({"context": huge}).to_string()).0,
        422,
        "over --max-context-keys"
    );
    for bad in [".hidden", "a%2Fb", &"x".repeat(129)] {
        let (status, _) = call(
            "PUT",
            &format!("{}/v1/conversations/{bad}", server.base),
            Some(KEY),
            Some("{}"),
        );
        assert_eq!(status, 404, "{bad}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_handoff_reaches_the_receiver_signed_with_its_masked_transcript() {
    let dir = scratch("webhook-handoff");
    let receiver = Receiver::start(Mode::Accept);
    // The secret stays out of the file: the environment gives it.
    let file = config_with_secret(&dir, &receiver.url, "${DESK_WEBHOOK_SECRET}", "");
    let server = Serve::start_with(
        &calm_desk(&dir),
        &["--store", "memory", "--config", file.to_str().unwrap()],
        None,
        &[("DESK_WEBHOOK_SECRET", SECRET)],
    );
    let (_, hello) = send(&server, "POST", "/v1/conversations", &json!({}));
    let code = hello["sessionCode"].as_str().unwrap().to_owned();
    for text in ["Ana", "PIN-4711-secret", "my invoice"] {
        send(
            &server,
            "POST",
            &format!("/v1/conversations/{code}"),
            &json!({"text": text}),
        );
    }
    let hits = receiver.wait_accepted(1, Duration::from_secs(10));
    let handoffs = of_type(&hits, "handoff");
    assert_eq!(handoffs.len(), 1, "{hits:#?}");
    let hit = handoffs[0];
    assert!(
        verify(hit),
        "the signature does not verify: {:?}",
        hit.headers
    );
    assert_eq!(hit.headers["cellflow-event"], "handoff");
    assert_eq!(
        hit.headers["cellflow-delivery"],
        hit.body["id"].as_str().unwrap()
    );
    let body = &hit.body;
    assert_eq!(body["conversation"], code.as_str());
    assert_eq!(body["bot"], "Desk");
    assert_eq!(body["data"]["queue"], "billing");
    assert_eq!(body["data"]["reason"], "needs a person");
    let said: Vec<&str> = body["data"]["transcript"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["text"].as_str())
        .collect();
    assert_eq!(said, ["Ana", "******", "my invoice"]);
    assert!(
        !String::from_utf8_lossy(&hit.raw).contains("PIN-4711"),
        "a masked value reached the receiver"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn the_bot_speaks_first_and_the_channel_hears_it() {
    let dir = scratch("webhook-proactive");
    let receiver = Receiver::start(Mode::Accept);
    let file = config(&dir, &receiver.url, "");
    let server = Serve::start(
        &calm_desk(&dir),
        &["--store", "memory", "--config", file.to_str().unwrap()],
    );
    let (status, reply) = send(
        &server,
        "POST",
        "/v1/conversations/crm-991/events",
        &json!({"name": "reminder"}),
    );
    assert_eq!(status, 201, "{reply}");
    assert_eq!(texts(&reply), ["Your appointment is tomorrow at 10."]);
    let hits = receiver.wait_accepted(1, Duration::from_secs(10));
    let messages = of_type(&hits, "message");
    assert_eq!(messages.len(), 1, "{hits:#?}");
    assert_eq!(messages[0].body["conversation"], "crm-991");
    assert_eq!(
        messages[0].body["data"]["answers"][0]["text"],
        "Your appointment is tomorrow at 10."
    );
    // Again, on the same conversation: 200 now.
    let (status, _) = send(
        &server,
        "POST",
        "/v1/conversations/crm-991/events",
        &json!({"name": "reminder"}),
    );
    assert_eq!(status, 200);
    let (status, error) = send(
        &server,
        "POST",
        "/v1/conversations/crm-991/events",
        &json!({"name": "no_such_flow"}),
    );
    assert_eq!(status, 422, "{error}");
    let (status, _) = send(
        &server,
        "POST",
        "/v1/conversations/crm-991/events",
        &json!({"flow": "reminder"}),
    );
    assert_eq!(status, 400);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn an_idle_conversation_times_out_and_closes_with_its_message() {
    let dir = scratch("webhook-timeout");
    let receiver = Receiver::start(Mode::Accept);
    let file = config(&dir, &receiver.url, "");
    let server = Serve::start(
        &desk(&dir),
        &[
            "--store",
            "sqlite",
            "--sqlite",
            dir.join("s.db").to_str().unwrap(),
            "--config",
            file.to_str().unwrap(),
        ],
    );
    let (_, hello) = send(&server, "POST", "/v1/conversations", &json!({}));
    let code = hello["sessionCode"].as_str().unwrap().to_owned();
    // Idle past a second: the timeout runs without a request.
    let hits = receiver.wait_accepted(3, Duration::from_secs(15));
    let timeout = of_type(&hits, "timeout");
    assert_eq!(timeout.len(), 1, "{hits:#?}");
    assert_eq!(timeout[0].body["data"]["closed"], true);
    let end = of_type(&hits, "end");
    assert_eq!(end[0].body["data"]["reason"], "timeout");
    let message = of_type(&hits, "message");
    assert_eq!(
        message[0].body["data"]["answers"][0]["text"],
        "Closing this chat. Write again anytime."
    );
    let (_, state) = call(
        "GET",
        &format!("{}/v1/conversations/{code}", server.base),
        Some(KEY),
        None,
    );
    assert_eq!(state["state"]["ended"], true, "{state}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_failing_receiver_gets_the_events_again_in_order_then_dead_letters() {
    let dir = scratch("webhook-retry");
    let receiver = Receiver::start(Mode::Fail { status: 500, n: 2 });
    let file = config(&dir, &receiver.url, "");
    let server = Serve::start(
        &calm_desk(&dir),
        &["--store", "memory", "--config", file.to_str().unwrap()],
    );
    for _ in 0..3 {
        send(
            &server,
            "POST",
            "/v1/conversations/order-7/events",
            &json!({"name": "reminder"}),
        );
    }
    // Two failures (1 s, then 2 s pauses), then all three, in order. (The
    // desk's inactivity timeout adds its own events later: only the
    // reminders are counted.)
    let reminders = |hits: &[Hit]| -> Vec<(u16, String)> {
        hits.iter()
            .filter(|h| {
                h.body["data"]["answers"][0]["text"] == "Your appointment is tomorrow at 10."
            })
            .map(|h| (h.status, h.body["id"].as_str().unwrap_or("").to_owned()))
            .collect()
    };
    let mut seen = Vec::new();
    for _ in 0..200 {
        seen = reminders(&receiver.hits());
        if seen.iter().filter(|(status, _)| *status < 300).count() >= 3 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let statuses: Vec<u16> = seen.iter().map(|(status, _)| *status).collect();
    assert_eq!(statuses, [500, 500, 200, 200, 200], "{seen:?}");
    // The failed attempts were of the first event (the others waited for
    // it), then each was delivered once, in the order they were queued.
    assert_eq!(seen[0].1, seen[1].1);
    assert_eq!(seen[1].1, seen[2].1);
    assert!(seen[2].1 != seen[3].1 && seen[3].1 != seen[4].1 && seen[2].1 != seen[4].1);
    let stamps: Vec<jiff::Timestamp> = receiver
        .hits()
        .iter()
        .filter(|h| {
            h.status < 300 && h.body["conversation"] == "order-7" && h.body["type"] == "message"
        })
        .take(3)
        .map(|h| h.body["at"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(stamps.windows(2).all(|w| w[0] < w[1]), "{stamps:?}");

    // A receiver that hangs past the webhook's timeout: three attempts,
    // then the dead-letter list.
    receiver.set(Mode::Hang(Duration::from_secs(2)));
    send(
        &server,
        "POST",
        "/v1/conversations/order-8/events",
        &json!({"name": "reminder"}),
    );
    let admin = |method: &str, path: &str| {
        call(method, &format!("{}{path}", server.base), Some(ADMIN), None)
    };
    let mut letters = Value::Null;
    for _ in 0..100 {
        let (_, listed) = admin("GET", "/admin/webhooks/dead-letters");
        if listed["deadLetters"]
            .as_array()
            .is_some_and(|l| !l.is_empty())
        {
            letters = listed;
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let letter = &letters["deadLetters"][0];
    assert_eq!(letter["conversation"], "order-8", "{letters}");
    assert_eq!(letter["destination"], "desk");
    assert_eq!(letter["attempts"], 3);
    assert!(
        letter["error"]
            .as_str()
            .unwrap()
            .contains("did not answer within 500 ms"),
        "{letter}"
    );
    // The API key is not an admin key.
    let (status, _) = call(
        "GET",
        &format!("{}/admin/webhooks/dead-letters", server.base),
        Some(KEY),
        None,
    );
    assert_eq!(status, 401);

    // Back up: the operator redelivers it.
    receiver.set(Mode::Accept);
    let before = receiver.hits().len();
    let id = letter["id"].as_u64().unwrap();
    let (status, _) = admin(
        "POST",
        &format!("/admin/webhooks/dead-letters/{id}/redeliver"),
    );
    assert_eq!(status, 202);
    let hits = receiver.wait_accepted(before + 1, Duration::from_secs(10));
    assert!(
        hits[before..]
            .iter()
            .any(|h| h.status < 300 && h.body["conversation"] == "order-8"),
        "{hits:#?}"
    );
    let (status, _) = admin("POST", "/admin/webhooks/dead-letters/999999/redeliver");
    assert_eq!(status, 404);
    let (_, listed) = admin("GET", "/admin/webhooks/dead-letters");
    assert_eq!(listed["deadLetters"], json!([]));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn events_queued_while_the_receiver_is_down_survive_a_restart() {
    let dir = scratch("webhook-restart");
    let port = crate::server::free_port();
    let url = format!("http://127.0.0.1:{port}/hooks");
    let file = config(&dir, &url, "");
    let db = dir.join("sessions.db");
    let args = [
        "--store",
        "sqlite",
        "--sqlite",
        db.to_str().unwrap(),
        "--config",
        file.to_str().unwrap(),
    ];
    let mut server = Serve::start(&calm_desk(&dir), &args);
    let (status, _) = send(
        &server,
        "POST",
        "/v1/conversations/p-1/events",
        &json!({"name": "reminder"}),
    );
    assert_eq!(status, 201);
    // Nobody listens yet: the first attempt fails, the event waits.
    std::thread::sleep(Duration::from_millis(300));
    server.kill();
    let receiver = Receiver::start_on(port, Mode::Accept);
    let _server = Serve::start(&calm_desk(&dir), &args);
    let hits = receiver.wait_accepted(1, Duration::from_secs(15));
    // The reminder, queued before the restart, arrives after it.
    let first = hits.iter().find(|h| h.status < 300).expect("a delivery");
    assert_eq!(first.body["type"], "message", "{hits:#?}");
    assert_eq!(first.body["conversation"], "p-1");
    assert_eq!(
        first.body["data"]["answers"][0]["text"],
        "Your appointment is tomorrow at 10."
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn analytics_go_to_the_events_file_and_the_metrics() {
    let dir = scratch("analytics-file");
    let events = dir.join("events.jsonl");
    let server = Serve::start(
        &calm_desk(&dir),
        &[
            "--store",
            "memory",
            "--events-file",
            events.to_str().unwrap(),
        ],
    );
    let (_, hello) = send(&server, "POST", "/v1/conversations", &json!({}));
    let code = hello["sessionCode"].as_str().unwrap().to_owned();
    for text in ["Ana", "PIN-4711-secret", "billing"] {
        send(
            &server,
            "POST",
            &format!("/v1/conversations/{code}"),
            &json!({"text": text}),
        );
    }
    let (_, metrics) = call("GET", &format!("{}/metrics", server.base), None, None);
    let metrics = metrics.as_str().unwrap_or_default().to_owned();
    assert!(
        metrics.contains(r#"cellflow_flow_events_total{flow="welcome",event="started"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"cellflow_analytics_events_total{event="handoff"} 1"#),
        "{metrics}"
    );
    // Lines arrive from the writer thread, flushed as its queue empties.
    let mut text = String::new();
    for _ in 0..100 {
        text = std::fs::read_to_string(&events).unwrap_or_default();
        if text.contains("\"handoff\"") {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(server);
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        lines
            .iter()
            .all(|l| l["conversation"] == code.as_str() && l["bot"] == "Desk")
    );
    let names: Vec<&str> = lines.iter().map(|l| l["event"].as_str().unwrap()).collect();
    assert_eq!(names[0], "flow_started");
    assert!(names.contains(&"handoff"), "{names:?}");
    assert!(!text.contains("PIN-4711"));
    let report = crate::support::Cmd::new()
        .args(["report", events.to_str().unwrap(), "--format", "json"])
        .run();
    let report: Value = serde_json::from_str(&report.stdout).unwrap();
    assert_eq!(report["handoffs"], 1);
    assert_eq!(report["handoff_rate_pct"], 100.0);
    let _ = std::fs::remove_dir_all(dir);
}
