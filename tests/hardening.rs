//! Nothing a client sends takes the server down, and no session can be
//! bricked: timeouts, connection limits, body and context bounds, store
//! failures, sessions that do not fit the program.

use std::path::PathBuf;

use serde_json::json;

use cellflow::runtime::{Bot, Event, MAX_VALUE_DEPTH, Request, Session};

use crate::server::{Serve, answers, pizza, scratch};

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
        foreign.waiting = Some(cellflow::runtime::Wait::Cell(4_000_000));
        let reply = bot.turn(&mut foreign, Request::text("funghi")).unwrap();
        assert_eq!(answers_of(&reply), ["What size?"], "{claimed}");
        foreign.waiting_key = 0;
        foreign.bot_version = claimed;
        foreign.waiting = Some(cellflow::runtime::Wait::Cell(4_000_000));
        let reply = bot.turn(&mut foreign, Request::text("funghi")).unwrap();
        assert!(
            reply.events.contains(&Event::Restarted),
            "{claimed}: {reply:?}"
        );
    }
}

fn answers_of(response: &cellflow::runtime::Response) -> Vec<&str> {
    response.answers.iter().map(|a| a.text.as_str()).collect()
}
