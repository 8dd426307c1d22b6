//! The runtime as hosts and users see it: whole conversations with the
//! example bots (snapshotted transcripts), and the turn rules of docs/RUNTIME.md.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

use cellflow::project::Project;
use cellflow::runtime::{
    Awaiting, Bot, Event, FnClient, HttpError, HttpRequest, HttpResponse, Request, Response,
    Session, TurnError,
};

use crate::support;

/// Service calls answered by cell id: (status, body); a missing id fails.
fn mocked(bot: Bot, answers: &[(&str, u16, &str)]) -> Bot {
    let answers: HashMap<String, (u16, String)> = answers
        .iter()
        .map(|(id, status, body)| ((*id).to_owned(), (*status, (*body).to_owned())))
        .collect();
    bot.with_http(FnClient(move |request: &HttpRequest| {
        let id = request.cell.clone().unwrap_or_default();
        match answers.get(&id) {
            Some((status, body)) => Ok(HttpResponse {
                status: *status,
                body: body.clone(),
            }),
            None => Err(HttpError::Failed(format!("no mock for {id}"))),
        }
    }))
}

fn example(name: &str) -> Bot {
    Bot::load(support::root().join("flows").join(name)).expect("example bots load")
}

fn inline(text: &str) -> Bot {
    let mut project = Project::new();
    let name = if text.trim_start().starts_with("flows:")
        || text.contains("\n  ") && text.contains(":\n")
    {
        "bot.flow.yaml"
    } else {
        "bot.flow"
    };
    project.add_bytes(name, Path::new(name), text.as_bytes());
    match cellflow::compile::load_project(project).map(cellflow::Bot::new) {
        Ok(bot) => bot,
        Err(cellflow::runtime::LoadError::Invalid {
            diagnostics,
            sources,
        }) => {
            let rendered: Vec<String> = diagnostics
                .iter()
                .map(|d| cellflow::diagnostic::render(d, &sources, false, 100))
                .collect();
            panic!("inline bot has errors:\n{}", rendered.join("\n"))
        }
        Err(e) => panic!("{e}"),
    }
}

fn describe(out: &mut String, response: &Response) {
    for answer in &response.answers {
        let _ = writeln!(out, "bot: {}", answer.text);
        for b in &answer.buttons {
            let _ = writeln!(
                out,
                "     [{}] -> {}",
                b.label,
                b.value.as_deref().or(b.url.as_deref()).unwrap_or("")
            );
        }
        if !answer.quick_replies.is_empty() {
            let labels: Vec<&str> = answer
                .quick_replies
                .iter()
                .map(|q| q.label.as_str())
                .collect();
            let _ = writeln!(out, "     ({})", labels.join(" | "));
        }
        for card in &answer.cards {
            let _ = writeln!(out, "     card: {}", card.title);
        }
    }
    for event in &response.events {
        let _ = writeln!(out, "     event: {}", serde_json::to_string(event).unwrap());
    }
    match &response.awaiting {
        Some(Awaiting::Input { var, ty, .. }) => {
            let _ = writeln!(out, "     awaiting: {var} ({ty})");
        }
        Some(Awaiting::Intent) => {
            let _ = writeln!(out, "     awaiting: an intent");
        }
        None => {}
    }
}

/// Runs a script of lines (`:event NAME` or user text) and returns the
/// transcript, ending with the visible variables.
fn converse(bot: &Bot, lines: &[&str]) -> String {
    converse_with(bot, &[], lines)
}

/// As [`converse`], with context the host passes on the first request.
fn converse_with(bot: &Bot, context: &[(&str, &str)], lines: &[&str]) -> String {
    let mut session = Session::new("transcript");
    let mut out = String::new();
    for (n, line) in lines.iter().enumerate() {
        let mut request = match line.strip_prefix(":event ") {
            Some(event) => Request::event(event),
            None => Request::text(*line),
        };
        if n == 0 {
            for (name, value) in context {
                request = request.with_context(*name, *value);
            }
        }
        let _ = writeln!(out, "> {line}");
        let response = bot.turn(&mut session, request).expect("valid requests");
        describe(&mut out, &response);
    }
    let vars = bot.shown_vars(&session);
    let _ = writeln!(out, "vars: {}", serde_json::to_string(&vars).unwrap());
    out
}

fn transcript(name: &str, text: &str) {
    support::snapshot("transcripts", name, text);
}

// ---- example bots, main paths ----------------------------------------------

#[test]
fn ebank_balance_through_the_menu() {
    let bot = mocked(
        example("ebank"),
        &[("get_balance", 200, r#"{"balance": 1250000}"#)],
    );
    let t = converse_with(
        &bot,
        &[("customer_name", "Ana")],
        &[
            ":event welcome",
            "Consulta de Saldo",
            "12345678-9",
            "cuenta corriente",
            "sí",
            "2",
            "no",
        ],
    );
    transcript("ebank_balance", &t);
    assert!(t.contains("El saldo de tu cuenta es 1250000 pesos."), "{t}");
}

#[test]
fn ebank_points_agent_and_api_failure() {
    let bot = mocked(example("ebank"), &[]);
    let t = converse_with(
        &bot,
        &[("customer_name", "Ana")],
        &[
            "cuántos puntos tengo",
            "12345678-9",
            "sí",
            "Consulta de Saldo",
            "ahorro",
            "hola?",
            ":event resume",
            "quiero hablar con un ejecutivo",
            ":event resume",
            "1",
        ],
    );
    transcript("ebank_points_agent", &t);
    assert!(t.contains("Tienes 250 puntos"), "{t}");
    assert!(t.contains("(código 0)"), "the service failure path: {t}");
}

#[test]
fn pizza_order_with_retries_and_a_global_cancel() {
    let bot = mocked(example("pizza"), &[("place", 201, r#"{"id": "NP-1042"}"#)]);
    let t = converse(
        &bot,
        &[
            ":event welcome",
            "I'd like to order a pizza",
            "funghi",
            "larg",
            "fifty",
            "25",
            "2",
            "12 Baker Street",
            "+1 555 123 4567",
            "yes",
        ],
    );
    transcript("pizza_order", &t);
    assert!(t.contains("Order NP-1042 is in the oven"), "{t}");
    assert!(t.contains(r#""phone":"******""#), "masked: {t}");
    let cancelled = converse(&bot, &["I want a pizza", "pepperoni", "never mind"]);
    transcript("pizza_cancel", &cancelled);
    assert!(cancelled.contains("your order is cancelled"), "{cancelled}");
}

#[test]
fn pizza_menu_cards_and_fallback() {
    let bot = example("pizza");
    let t = converse(
        &bot,
        &["show me the menu", "asdf qwerty", "what is the weather"],
    );
    transcript("pizza_menu_fallback", &t);
    assert!(t.contains("card: Pepperoni"), "{t}");
}

#[test]
fn support_tracking_returns_and_handoff() {
    let bot = mocked(
        example("support"),
        &[
            ("lookup", 200, r#"{"eta": "amanhã", "carrier": "Correios"}"#),
            ("create_return", 200, r#"{"code": "DEV-77"}"#),
        ],
    );
    let t = converse(
        &bot,
        &[
            ":event welcome",
            "meu pedido AB123456 não chegou",
            "não",
            "quero devolver um produto",
            "AB123456",
            "21/11/2026",
            "ana@example.com",
            "nada",
        ],
    );
    transcript("support_track_return", &t);
    assert!(t.contains("Seu pedido AB123456 está com a Correios"), "{t}");
    assert!(
        t.contains("Enviei a etiqueta DEV-77 para ana@example.com"),
        "{t}"
    );
    let agent = converse(
        &bot,
        &["falar com um atendente", "alô?", ":event resume", "não"],
    );
    transcript("support_handoff", &agent);
    assert!(agent.contains("suporte-n1"), "{agent}");
}

// ---- turn rules -----------------------------------------------------------

#[test]
fn a_new_session_without_text_runs_welcome() {
    let bot = example("pizza");
    let mut session = bot.new_session();
    let response = bot.turn(&mut session, Request::default()).unwrap();
    assert!(response.answers[0].text.starts_with("Welcome"));
}

#[test]
fn options_match_by_text_number_accents_and_near_misses() {
    let bot = example("ebank");
    for (answer, expected) in [
        ("consulta de puntos", "Consulta de Puntos"),
        ("2", "Consulta de Puntos"),
        ("CONSULTA DE PÚNTOS", "Consulta de Puntos"),
        ("consulta de puntso", "Consulta de Puntos"),
        ("Transferencia a Ejecutivo", "Transferencia a Ejecutivo"),
    ] {
        let mut session = bot.new_session();
        bot.turn(&mut session, Request::event("welcome")).unwrap();
        let response = bot.turn(&mut session, Request::text(answer)).unwrap();
        assert_eq!(
            response.vars.get("choice"),
            Some(expected.into()),
            "{answer}"
        );
    }
}

#[test]
fn an_invalid_answer_is_asked_again_then_fails_over() {
    let bot = example("ebank");
    let mut session = bot.new_session();
    bot.turn(&mut session, Request::event("welcome")).unwrap();
    for _ in 0..2 {
        let r = bot.turn(&mut session, Request::text("pizza")).unwrap();
        assert_eq!(r.answers[0].text, "Elige una opción del menú.");
        assert_eq!(r.answers[1].text, "¿Cómo te puedo ayudar?");
    }
    // retries: 2, so the third bad value goes to on_fail (agent) without `invalid`.
    let r = bot.turn(&mut session, Request::text("pizza")).unwrap();
    assert!(
        matches!(&r.events[0], Event::Handoff { queue, .. } if queue == "ejecutivos"),
        "{r:?}"
    );
    assert!(
        r.answers
            .iter()
            .all(|a| a.text != "Elige una opción del menú.")
    );
}

#[test]
fn the_classifier_scores_near_misses_and_rejects_noise() {
    let bot = example("ebank");
    let mut session = bot.new_session();
    bot.turn(&mut session, Request::event("goodbye")).unwrap();
    let near = bot
        .turn(&mut session, Request::text("cuanto tengo en mi cueta"))
        .unwrap();
    assert_eq!(near.nlu.intent.as_deref(), Some("balance"));
    let threshold = bot.program().threshold;
    assert!(
        near.nlu.confidence >= threshold && near.nlu.confidence < 1.0,
        "{:?} (threshold {threshold})",
        near.nlu
    );
    let mut session = bot.new_session();
    let noise = bot.turn(&mut session, Request::text("zzz qqq")).unwrap();
    assert!(noise.nlu.confidence < threshold, "{:?}", noise.nlu);
    assert_eq!(noise.answers[0].text, "No entendí tu mensaje.");
    let sure = bot
        .turn(&mut session, Request::text("mi saldo por favor"))
        .unwrap();
    assert_eq!(
        (sure.nlu.intent.as_deref(), sure.nlu.confidence),
        (Some("balance"), 1.0),
        "pattern hit"
    );
}

#[test]
fn a_pre_classified_request_skips_the_classifier() {
    let bot = example("ebank");
    let mut session = bot.new_session();
    let r = bot
        .turn(
            &mut session,
            Request::text("whatever").with_intent("points", 0.9),
        )
        .unwrap();
    assert_eq!(r.nlu.intent.as_deref(), Some("points"));
    assert!(r.answers[0].text.starts_with("Para continuar"), "{r:?}");
}

#[test]
fn unknown_events_and_oversized_text_are_rejected_without_changing_the_session() {
    let bot = example("pizza");
    let mut session = bot.new_session();
    bot.turn(&mut session, Request::text("I want a pizza"))
        .unwrap();
    let before = session.clone();
    assert_eq!(
        bot.turn(&mut session, Request::event("nope")),
        Err(TurnError::UnknownEvent("nope".into()))
    );
    let long = "x".repeat(cellflow::runtime::MAX_TEXT_BYTES + 1);
    assert!(matches!(
        bot.turn(&mut session, Request::text(long)),
        Err(TurnError::TextTooLong { .. })
    ));
    assert_eq!(session, before);
}

#[test]
fn the_step_limit_stops_a_long_turn_and_keeps_the_session() {
    let bot = inline(
        "flow welcome on welcome {\n  answer \"1\"\n  answer \"2\"\n  answer \"3\"\n  answer \"4\"\n}\nflow fallback on fallback {\n  answer \"?\"\n}\n",
    )
    .with_max_steps(3);
    let mut session = bot.new_session();
    let before = session.clone();
    let r = bot.turn(&mut session, Request::event("welcome")).unwrap();
    assert!(
        matches!(&r.events[0], Event::Error { message, .. } if message.contains("more than 3 cells")),
        "{r:?}"
    );
    assert_eq!(r.answers.len(), 1, "only the error answer: {r:?}");
    assert_eq!(session, counted(before, &session));
}

/// `before`, with the failed turn counted (as `after` counted it): a turn
/// that fails changes nothing else.
fn counted(mut before: Session, after: &Session) -> Session {
    before.turn += 1;
    before.last_activity = after.last_activity;
    before
}

#[test]
fn script_limits_fail_the_turn_cleanly() {
    let bot = inline(
        "flow welcome on welcome {\n  code { counter = 1; }\n  input go boolean { prompt \"Go?\" }\n  code {\n    counter = 2;\n    loop { counter += 1; }\n  }\n  answer \"never\"\n}\nflow fallback on fallback {\n  answer \"?\"\n}\n",
    );
    let mut session = bot.new_session();
    bot.turn(&mut session, Request::event("welcome")).unwrap();
    let before = session.clone();
    let r = bot.turn(&mut session, Request::text("yes")).unwrap();
    assert!(
        matches!(&r.events[0], Event::Error { message, .. } if message.contains("operations")),
        "{r:?}"
    );
    assert_eq!(
        session,
        counted(before, &session),
        "the session is as it was before the turn"
    );
    assert_eq!(session.vars.value("counter"), Some(serde_json::json!(1)));
}

#[test]
fn calls_return_in_order_when_nested() {
    let bot = inline(
        "flow welcome on welcome {\n  answer \"a1\"\n  jump b return\n  answer \"a2\"\n}\nflow b {\n  answer \"b1\"\n  jump c return\n  answer \"b2\"\n}\nflow c {\n  answer \"c1\"\n  input x { prompt \"x?\" }\n  answer \"c2 {{x}}\"\n}\nflow fallback on fallback {\n  answer \"?\"\n}\n",
    );
    let mut session = bot.new_session();
    let first = bot.turn(&mut session, Request::event("welcome")).unwrap();
    let texts: Vec<&str> = first.answers.iter().map(|a| a.text.as_str()).collect();
    assert_eq!(texts, ["a1", "b1", "c1", "x?"]);
    assert_eq!(session.stack.len(), 2);
    let second = bot.turn(&mut session, Request::text("hi")).unwrap();
    let texts: Vec<&str> = second.answers.iter().map(|a| a.text.as_str()).collect();
    assert_eq!(texts, ["c2 hi", "b2", "a2"]);
    assert!(session.stack.is_empty());
}

#[test]
fn handoff_holds_the_conversation_until_resume() {
    let bot = example("support");
    let mut session = bot.new_session();
    let r = bot
        .turn(&mut session, Request::text("quero falar com uma pessoa"))
        .unwrap();
    assert!(matches!(&r.events[0], Event::Handoff { queue, .. } if queue == "suporte-n1"));
    assert!(session.handed_off());
    let during = bot.turn(&mut session, Request::text("olá")).unwrap();
    assert!(during.answers.is_empty(), "the agent answers, not the bot");
    let resumed = bot.turn(&mut session, Request::event("resume")).unwrap();
    assert_eq!(
        resumed.answers[0].text,
        "Posso ajudar em mais alguma coisa?"
    );
    assert!(!session.handed_off());
}

#[test]
fn a_restored_session_continues_identically() {
    let bot = mocked(example("pizza"), &[("place", 201, r#"{"id": "NP-1"}"#)]);
    let script = [
        "I want a pizza",
        "veggie",
        "small",
        "2",
        "1 Main St",
        "555 123 4567",
        "yes",
    ];
    let mut straight = bot.new_session();
    let mut restored = straight.clone();
    let mut a = Vec::new();
    let mut b = Vec::new();
    for line in script {
        a.push(bot.turn(&mut straight, Request::text(line)).unwrap());
        // Serialize and restore between every turn, as a host with a store would.
        let json = serde_json::to_string(&restored).unwrap();
        restored = serde_json::from_str(&json).unwrap();
        b.push(bot.turn(&mut restored, Request::text(line)).unwrap());
    }
    assert_eq!(a, b);
    assert_eq!(straight.vars, restored.vars);
}

#[test]
fn masked_values_stay_out_of_responses_and_traces() {
    let bot = example("pizza").with_tracing(true);
    let mut session = bot.new_session();
    for line in ["I want a pizza", "veggie", "small", "2", "1 Main St"] {
        bot.turn(&mut session, Request::text(line)).unwrap();
    }
    let r = bot
        .turn(&mut session, Request::text("555 123 4567"))
        .unwrap();
    let json = serde_json::to_string(&r).unwrap();
    assert!(!json.contains("5551234567"), "{json}");
    assert_eq!(r.vars.get("phone").unwrap(), cellflow::runtime::MASK);
}

#[test]
fn a_session_from_another_bot_version_restarts_at_welcome() {
    let old = inline(
        "flow welcome on welcome {\n  input name { prompt \"Name?\" }\n  answer \"Hi {{name}}\"\n}\nflow fallback on fallback {\n  answer \"?\"\n}\n",
    );
    let new = inline(
        "flow welcome on welcome {\n  answer \"Welcome back\"\n}\nflow fallback on fallback {\n  answer \"?\"\n}\n",
    );
    let mut session = old.new_session();
    old.turn(&mut session, Request::event("welcome")).unwrap();
    assert!(session.waiting.is_some());
    let r = new.turn(&mut session, Request::text("Ana")).unwrap();
    assert_eq!(r.events, [Event::Restarted]);
    let texts: Vec<&str> = r.answers.iter().map(|a| a.text.as_str()).collect();
    assert_eq!(texts[1], "Welcome back");
}

fn texts(r: &Response) -> Vec<&str> {
    r.answers.iter().map(|a| a.text.as_str()).collect()
}

#[test]
fn a_session_goes_on_after_an_edit_that_keeps_its_cell() {
    let old = inline(
        "flow welcome on welcome {\n  input name { prompt \"Name?\" }\n  jump city_of return\n  answer \"Hi {{name}} from {{city}}\"\n}\nflow city_of {\n  input city { prompt \"City?\" }\n}\n",
    );
    // Cells added before both waiting places, a flow added in front, the
    // answers reworded: the inputs and the return point are still there.
    let new = inline(
        "flow extra {\n  answer \"unused\"\n}\nflow welcome on welcome {\n  answer \"Hello!\"\n  input name { prompt \"Your name?\" }\n  jump city_of return\n  answer \"Hello {{name}} from {{city}}\"\n}\nflow city_of {\n  answer \"One more thing.\"\n  input city { prompt \"Your city?\" }\n}\n",
    );
    let mut session = old.new_session();
    old.turn(&mut session, Request::event("welcome")).unwrap();
    let r = old.turn(&mut session, Request::text("Ana")).unwrap();
    assert_eq!(texts(&r), ["City?"]);
    // Saved and restored, as a host does across a reload.
    let json = serde_json::to_string(&session).unwrap();
    let mut session: Session = serde_json::from_str(&json).unwrap();
    let r = new.turn(&mut session, Request::text("Porto")).unwrap();
    assert!(r.events.is_empty(), "{:?}", r.events);
    assert_eq!(texts(&r), ["Hello Ana from Porto"]);
}

#[test]
fn a_call_returns_through_its_jump_and_restarts_when_the_jump_no_longer_calls() {
    let old = inline(
        "flow welcome on welcome {\n  jump city_of return\n  bye: answer \"Bye\"\n}\nflow city_of {\n  input city { prompt \"City?\" }\n}\n",
    );
    // The cell after the call renamed: the call still returns after its jump.
    let renamed = inline(
        "flow welcome on welcome {\n  jump city_of return\n  farewell: answer \"Goodbye\"\n}\nflow city_of {\n  input city { prompt \"City?\" }\n}\n",
    );
    let mut session = old.new_session();
    old.turn(&mut session, Request::event("welcome")).unwrap();
    let r = renamed
        .turn(&mut session.clone(), Request::text("Porto"))
        .unwrap();
    assert!(r.events.is_empty(), "{:?}", r.events);
    assert_eq!(texts(&r), ["Goodbye"]);
    // The jump no longer calls: there is nothing to return to.
    let plain = inline(
        "flow welcome on welcome {\n  jump city_of\n}\nflow city_of {\n  input city { prompt \"City?\" }\n}\n",
    );
    let r = plain.turn(&mut session, Request::text("Porto")).unwrap();
    assert_eq!(r.events, [Event::Restarted]);
    assert_eq!(texts(&r)[0], "The bot was updated, so let's start again.");
    assert_eq!(texts(&r)[1], "City?");
}

#[test]
fn a_handoff_survives_an_edit_only_while_it_is_still_a_handoff() {
    let source = |tail: &str| {
        format!("flow welcome on welcome {{\n  agent: handoff {{ queue \"q\" }}\n  {tail}\n}}\n")
    };
    let old = inline(&source("answer \"Back with the bot\""));
    let kept = inline(&source("answer \"Welcome back\""));
    let mut session = old.new_session();
    old.turn(&mut session, Request::event("welcome")).unwrap();
    assert!(session.handed_off());
    let r = kept
        .turn(&mut session.clone(), Request::event("resume"))
        .unwrap();
    assert!(r.events.is_empty(), "{:?}", r.events);
    assert_eq!(texts(&r), ["Welcome back"]);
    // The same id on a cell that can no longer wait for an agent.
    let changed = inline("flow welcome on welcome {\n  agent: answer \"Hi\"\n}\n");
    let r = changed
        .turn(&mut session, Request::event("resume"))
        .unwrap();
    assert_eq!(r.events, [Event::Restarted]);
}

#[test]
fn an_ended_conversation_starts_over() {
    let bot = example("pizza");
    let mut session = bot.new_session();
    let r = bot.turn(&mut session, Request::text("cancel")).unwrap();
    assert!(r.ended);
    let r = bot
        .turn(&mut session, Request::text("menu please"))
        .unwrap();
    assert!(!r.ended);
    assert_eq!(r.answers[0].text, "Here is what we bake today:");
}

#[test]
fn the_bot_is_shared_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Bot>();
    let bot = example("pizza");
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let bot = bot.clone();
            std::thread::spawn(move || {
                let mut session = bot.new_session();
                bot.turn(&mut session, Request::text("I want a pizza"))
                    .unwrap()
                    .answers[0]
                    .text
                    .clone()
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), "Which pizza would you like?");
    }
}

#[test]
fn service_cells_call_a_real_http_server_with_timeouts() {
    use std::io::{Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let mut requests = Vec::new();
        for (i, stream) in listener.incoming().take(2).enumerate() {
            let mut stream = stream.unwrap();
            // Read the head, then as much body as Content-Length says.
            let mut data = Vec::new();
            let mut buf = [0u8; 4096];
            loop {
                let n = stream.read(&mut buf).unwrap();
                data.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&data).to_lowercase();
                if let Some(head_end) = text.find("\r\n\r\n") {
                    let length = text
                        .lines()
                        .find_map(|l| {
                            l.strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if data.len() >= head_end + 4 + length {
                        break;
                    }
                }
                if n == 0 {
                    break;
                }
            }
            requests.push(String::from_utf8_lossy(&data).into_owned());
            if i == 0 {
                let body = r#"{"greeting": "hola"}"#;
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            } else {
                // Slower than the cell's timeout.
                std::thread::sleep(std::time::Duration::from_millis(800));
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
                );
            }
        }
        requests
    });
    let bot = inline(&format!(
        "bot {{ context [who] }}\nflow welcome on welcome {{\n  hello: service {{\n    method POST\n    url \"http://127.0.0.1:{port}/hello/{{{{who}}}}\"\n    header \"X-Test\" \"yes\"\n    body {{\"who\": \"{{{{who}}}}\"}}\n    save reply\n    status code\n    on_error failed\n  }}\n  answer \"{{{{reply.greeting}}}} {{{{code}}}}\"\n  slow: service {{\n    url \"http://127.0.0.1:{port}/slow\"\n    timeout 200\n    status slow_code\n    on_error failed\n  }}\n  answer \"not reached\"\n}}\nflow failed {{\n  answer \"failed with {{{{slow_code | \\\"-\\\"}}}}\"\n}}\nflow fallback on fallback {{\n  answer \"?\"\n}}\n"
    ));
    let mut session = bot.new_session();
    let started = std::time::Instant::now();
    let r = bot
        .turn(
            &mut session,
            Request::event("welcome").with_context("who", "ana"),
        )
        .unwrap();
    let texts: Vec<&str> = r.answers.iter().map(|a| a.text.as_str()).collect();
    assert_eq!(texts, ["hola 200", "failed with 0"]);
    assert!(
        started.elapsed() < std::time::Duration::from_millis(750),
        "the 200 ms timeout applied"
    );
    let requests = server.join().unwrap();
    assert!(
        requests[0].starts_with("POST /hello/ana HTTP/1.1"),
        "{}",
        requests[0]
    );
    assert!(
        requests[0].to_lowercase().contains("x-test: yes"),
        "{}",
        requests[0]
    );
    assert!(requests[0].contains(r#"{"who":"ana"}"#), "{}", requests[0]);
    assert!(requests[1].starts_with("GET /slow"), "{}", requests[1]);
}

#[test]
fn a_json_body_fills_placeholders_and_keeps_their_types() {
    let bot = inline(
        "flow welcome on welcome {\n  code { amount = 42; tags = [\"a\", \"b\"]; who = \"Ana\"; }\n  pay: service {\n    method POST\n    url \"http://bank.test/pay\"\n    body {\"amount\": \"{{amount}}\", \"note\": \"for {{who}}\", \"tags\": \"{{tags}}\", \"nested\": [{\"x\": \"{{missing | \\\"none\\\"}}\"}, 1, \"plain\"], \"fixed\": {\"k\": true}}\n    save reply\n    on_error failed\n  }\n  answer \"paid\"\n}\nflow failed {\n  answer \"failed\"\n}\nflow fallback on fallback {\n  answer \"?\"\n}\n",
    );
    let seen = std::sync::Arc::new(std::sync::Mutex::new(None));
    let record = seen.clone();
    let bot = bot.with_http(FnClient(move |request: &HttpRequest| {
        *record.lock().unwrap() = request.body.clone();
        Ok(HttpResponse {
            status: 200,
            body: "{}".into(),
        })
    }));
    let mut session = bot.new_session();
    let response = bot.turn(&mut session, Request::event("welcome")).unwrap();
    assert_eq!(response.answers[0].text, "paid");
    let body: serde_json::Value =
        serde_json::from_str(seen.lock().unwrap().as_deref().unwrap()).unwrap();
    assert_eq!(
        body,
        serde_json::json!({
            "amount": 42,
            "note": "for Ana",
            "tags": ["a", "b"],
            "nested": [{"x": "none"}, 1, "plain"],
            "fixed": {"k": true}
        })
    );
}

// ---- intent patterns at scale --------------------------------------------------------

/// The first answer of a text turn in a fresh session.
fn first_answer(bot: &Bot, text: &str) -> String {
    let mut session = bot.new_session();
    let response = bot.turn(&mut session, Request::text(text)).unwrap();
    response.answers.first().map_or_else(
        || format!("no answer: {response:?}"),
        |a| a.text.to_string(),
    )
}

#[test]
fn ten_thousand_intent_patterns_load_and_route_by_pattern() {
    // Intents with patterns only (no examples), so only a pattern routes.
    let mut text = String::new();
    for k in 0..10_000 {
        let _ = writeln!(
            text,
            "intent i{k} {{ patterns ['{}'] }}\nflow f{k} on intent i{k} {{ answer \"f{k}\" }}",
            cellflow::generate::varied_pattern(k)
        );
    }
    text.push_str("flow fallback on fallback { answer \"fallback\" }\n");
    let bot = inline(&text);
    assert_eq!(bot.program().nlu.patterns.len(), 10_000);
    for (message, answer) in [
        // `\b(cancel|stop|end) plan 4321\b`, in any case.
        ("Please cancel plan 4321 now", "f4321"),
        ("PLEASE STOP PLAN 4321", "f4321"),
        ("cancel plan 43210", "fallback"),
        // `^(hi|hello|hey),? agent 1$`
        ("Hello, agent 1", "f1"),
        ("hello agent 1 please", "fallback"),
        // `\btrack(ing)? (my )?parcel 2\b`, with a Kelvin sign for the k.
        ("trac\u{212a}ing my parcel 2", "f2"),
        // The first of the patterns with no literal that matches:
        // `^[a-z]{3}\d{4}$` (intent 809; 109 is `^[a-z]{3}\d{3}$`).
        ("abc1234", "f809"),
        ("xyz123", "f109"),
        ("where is my parcel, I ordered it weeks ago", "fallback"),
    ] {
        assert_eq!(first_answer(&bot, message), answer, "{message:?}");
    }
}

#[test]
fn a_pending_input_is_interrupted_only_by_a_global_intents_pattern() {
    // `order` is declared first and its pattern matches too; while the
    // input waits only the global `help` may interrupt it.
    let bot = inline(
        "intent order { patterns ['\\border\\b'] }\n\
         intent help { patterns ['\\bhelp\\b'] global }\n\
         flow welcome on welcome { input name text { prompt \"Name?\" } answer \"Hi {{name}}\" }\n\
         flow ordering on intent order { answer \"ordering\" }\n\
         flow helping on intent help { answer \"helping\" }\n\
         flow fallback on fallback { answer \"fallback\" }\n",
    );
    assert_eq!(first_answer(&bot, "order help"), "ordering");
    let t = converse(&bot, &[":event welcome", "an order? help"]);
    assert!(t.contains("> an order? help\nbot: helping"), "{t}");
    let t = converse(&bot, &[":event welcome", "order"]);
    assert!(t.contains("> order\nbot: Hi order"), "{t}");
}

// ---- channel content ---------------------------------------------------------

const CHANNEL_BOT: &str = r#"
bot { name "Branches" locale "es-CL" }

flow welcome on welcome {
  answer {
    delay 300
    typing 1200
    text "Hola, soy {{bot.name}}."
    quick_reply "Sucursales"
    quick_reply "Reclamos"
    quick_replies_scope kept
    voice "<speak>Hola, soy <emphasis>{{bot.name}}</emphasis>.</speak>"
  }
  input where location { prompt "¿Dónde estás?" invalid "No pude leer esa ubicación." }
  code { branch = #{ name: "Providencia", lat: -33.4255, lng: "-70.6143" }; }
  answer {
    text "La más cercana:"
    location "{{branch.lat}}" "{{branch.lng}}" name "Sucursal {{branch.name}}" address "Av. Providencia 1234"
  }
  answer {
    link "https://bank.example/sucursales" title "Todas las sucursales" description "Horarios y servicios"
  }
  answer { media sticker "https://bank.example/ok.webp" }
  answer {
    text "Tu clave temporal es 4821."
    mask
  }
  input receipt file {
    prompt "Sube el comprobante."
    types ["application/pdf", "image/*"]
    max_size 2000000
    invalid "Un PDF o una foto de hasta 2 MB."
    retries 5
  }
  answer "Recibido: {{receipt.name}}"
}

flow fallback on fallback {
  answer "¿Perdón?"
}
"#;

#[test]
fn channel_content_is_typed_for_adapters() {
    let bot = inline(CHANNEL_BOT);
    let mut session = bot.new_session();
    let mut turns = Vec::new();
    let mut send = |request: Request| {
        let response = bot.turn(&mut session, request).unwrap();
        assert!(
            !response
                .events
                .iter()
                .any(|e| matches!(e, Event::Error { .. })),
            "{response:?}"
        );
        turns.push(serde_json::json!({
            "answers": response.answers,
            "awaiting": response.awaiting,
        }));
    };
    send(Request::event("welcome"));
    // Malformed payloads re-prompt; they never fail the turn.
    send(Request {
        location: Some(serde_json::json!({"lat": "north", "lng": 3})),
        ..Request::default()
    });
    send(Request {
        location: Some(serde_json::json!([1, 2])),
        ..Request::default()
    });
    send(Request::location(-33.4372, -70.6506));
    send(Request {
        file: Some(
            serde_json::json!({"url": "ftp://files.example/x.pdf", "media_type": "application/pdf"}),
        ),
        ..Request::default()
    });
    send(Request {
        file: Some(
            serde_json::json!({"url": "https://files.example/x.zip", "media_type": "application/zip"}),
        ),
        ..Request::default()
    });
    send(Request::text("https://files.example/x.pdf"));
    send(Request {
        file: Some(serde_json::json!({
            "url": "https://files.example/boleta.jpg",
            "name": "boleta.jpg",
            "media_type": "image/jpeg; charset=binary",
            "size": 150_000
        })),
        ..Request::default()
    });
    support::snapshot(
        "transcripts",
        "channel_content",
        &serde_json::to_string_pretty(&turns).unwrap(),
    );
}

#[test]
fn a_location_template_that_is_no_coordinate_fails_the_turn_with_a_reason() {
    let bot = inline(
        r#"
flow welcome on welcome {
  code { spot = "somewhere"; }
  answer { location "{{spot}}" 10 name "?" }
}
flow fallback on fallback { answer "?" }
"#,
    );
    let mut session = bot.new_session();
    let response = bot.turn(&mut session, Request::event("welcome")).unwrap();
    let errors: Vec<&Event> = response.events.iter().collect();
    assert_eq!(
        errors,
        [&Event::Error {
            message: "the location's `lat` is `somewhere`, not a number from -90 to 90".into(),
            at: Some(cellflow::runtime::Place {
                flow: "welcome".into(),
                cell: None,
                position: 1,
                file: Some("bot.flow".into()),
                line: Some(4),
            }),
        }]
    );
}

// ---- languages -----------------------------------------------------------------

const BILINGUAL: &str = r#"
bot {
  name "Banco"
  locale "es-CL"
  languages [es, en]
  messages {
    not_understood @es "No te entendí." @en "I didn't get that."
  }
}

flow welcome on welcome {
  answer {
    text @es "Hola, soy {{bot.name}}." @en "Hi, I'm {{bot.name}}."
    quick_reply @es "Saldo" @en "Balance" value "saldo"
  }
  input amount number {
    prompt @es "¿Cuánto quieres transferir?" @en "How much do you want to send?"
    invalid @es "Un monto, por favor." @en "An amount, please."
  }
  input size {
    prompt "¿Talla? / Size?"
    options [@es "Pequeña" @en "Small", @es "Grande" @en "Large"]
  }
  answer "{{amount}} {{size}} {{session.language}}"
}

flow english {
  code { session.language = "en"; }
  answer @es "Cambiado." @en "Switched."
}

flow klingon {
  code { session.language = "tlh"; }
}

flow broken {
  code { throw "boom"; }
}
"#;

#[test]
fn a_conversation_speaks_the_language_it_is_in() {
    let bot = inline(BILINGUAL);
    // The default language, and numbers read the es-CL way.
    let mut session = bot.new_session();
    let r = bot.turn(&mut session, Request::event("welcome")).unwrap();
    assert_eq!(
        texts(&r),
        ["Hola, soy Banco.", "¿Cuánto quieres transferir?"]
    );
    assert_eq!(r.answers[0].quick_replies[0].label, "Saldo");
    let r = bot.turn(&mut session, Request::text("1.234,5")).unwrap();
    assert_eq!(texts(&r), ["¿Talla? / Size?"]);
    assert_eq!(r.answers[0].quick_replies[0].label, "Pequeña");
    // Options answer in any of the bot's languages and store the default's.
    let r = bot.turn(&mut session, Request::text("small")).unwrap();
    assert_eq!(texts(&r), ["1234.5 Pequeña es"]);

    // A request's locale picks the closest language; numbers follow it.
    let mut session = bot.new_session();
    let mut request = Request::event("welcome");
    request.language = Some("en_GB".into());
    let r = bot.turn(&mut session, request).unwrap();
    assert_eq!(
        texts(&r),
        ["Hi, I'm Banco.", "How much do you want to send?"]
    );
    assert_eq!(r.answers[0].quick_replies[0].label, "Balance");
    let r = bot.turn(&mut session, Request::text("lots")).unwrap();
    assert_eq!(
        texts(&r),
        ["An amount, please.", "How much do you want to send?"]
    );
    let r = bot.turn(&mut session, Request::text("1,234.5")).unwrap();
    assert_eq!(r.answers[0].quick_replies[1].label, "Large");
    let r = bot.turn(&mut session, Request::text("grande")).unwrap();
    assert_eq!(texts(&r), ["1234.5 Grande en"]);
    // The language stays with the session, and the built-in messages follow.
    let r = bot.turn(&mut session, Request::text("qwzx")).unwrap();
    assert_eq!(texts(&r), ["I didn't get that."]);
    let r = bot.turn(&mut session, Request::event("broken")).unwrap();
    assert_eq!(
        texts(&r),
        ["Sorry, something went wrong on my side. Please try again."]
    );

    // `locale` is read as `language`; one the bot does not speak changes nothing.
    let request: Request =
        serde_json::from_str(r#"{"event": "welcome", "locale": "fr-FR"}"#).unwrap();
    let mut session = bot.new_session();
    let r = bot.turn(&mut session, request).unwrap();
    assert_eq!(texts(&r)[0], "Hola, soy Banco.");
    let r = bot.turn(&mut session, Request::event("broken")).unwrap();
    assert_eq!(
        texts(&r),
        ["Perdón, algo falló de mi lado. Por favor, inténtalo de nuevo."]
    );

    // A host that keeps the user's locale in the context chooses with it,
    // unless the request names a language itself.
    let mut session = bot.new_session();
    let r = bot
        .turn(
            &mut session,
            Request::event("welcome").with_context("locale", "en-US"),
        )
        .unwrap();
    assert_eq!(session.language.as_deref(), Some("en"));
    assert_eq!(texts(&r)[0], "Hi, I'm Banco.");
    let mut request = Request::event("welcome").with_context("language", "en");
    request.language = Some("es".into());
    let mut session = bot.new_session();
    let r = bot.turn(&mut session, request).unwrap();
    assert_eq!(texts(&r)[0], "Hola, soy Banco.");
}

#[test]
fn a_script_changes_the_language_or_fails_with_the_bots_languages() {
    // The code cell of `flow klingon`, counted from the text's first line.
    let klingon = BILINGUAL.find("flow klingon").unwrap();
    let line = BILINGUAL[..klingon].matches('\n').count() + 2;
    let klingon_line = u32::try_from(line).unwrap();
    let bot = inline(BILINGUAL);
    let mut session = bot.new_session();
    let r = bot.turn(&mut session, Request::event("english")).unwrap();
    assert_eq!(texts(&r), ["Switched."]);
    assert_eq!(session.language.as_deref(), Some("en"));
    let r = bot.turn(&mut session, Request::event("klingon")).unwrap();
    assert_eq!(
        r.events,
        [Event::Error {
            message:
                "`session.language` is \"tlh\", which the bot does not speak (it speaks es, en)"
                    .into(),
            at: Some(cellflow::runtime::Place {
                flow: "klingon".into(),
                cell: None,
                position: 0,
                file: Some("bot.flow".into()),
                line: Some(klingon_line),
            }),
        }]
    );
    // The failed turn left the language as it was, and says so in it.
    assert_eq!(session.language.as_deref(), Some("en"));
    assert_eq!(
        texts(&r),
        ["Sorry, something went wrong on my side. Please try again."]
    );
}

// ---- dates and times -----------------------------------------------------------

const CLINIC: &str = r#"
bot { name "Clínica" locale "es-CL" timezone "America/Santiago" }

flow welcome on welcome {
  input day date {
    prompt "¿Qué día?"
    min today
    max "today+60"
    invalid "Un día de los próximos dos meses."
    retries 5
  }
  input hour time { prompt "¿A qué hora?" invalid "¿A qué hora, por ejemplo 15:30?" }
  input visit datetime { prompt "¿Cuándo vuelves?" min "today+1" retries 5 }
  answer "{{day}} {{hour}} {{visit}}"
}

flow fallback on fallback { answer "?" }
"#;

/// Today's date in a time zone, plus some days, as the runtime writes it.
fn day_in(zone: &str, plus: i64) -> jiff::civil::Date {
    let tz = jiff::tz::TimeZone::get(zone).unwrap();
    jiff::Timestamp::now()
        .to_zoned_datetime(tz)
        .date()
        .checked_add(jiff::Span::new().days(plus))
        .unwrap()
}

fn offset_of(zone: &str, day: jiff::civil::Date, hour: i8, minute: i8) -> String {
    let tz = jiff::tz::TimeZone::get(zone).unwrap();
    day.to_datetime(jiff::civil::Time::new(hour, minute, 0, 0).unwrap())
        .to_zoned_datetime(tz)
        .unwrap()
        .strftime("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

#[test]
fn dates_and_times_are_read_as_people_write_them_where_the_bot_is() {
    let bot = inline(CLINIC);
    let mut session = bot.new_session();
    bot.turn(&mut session, Request::event("welcome")).unwrap();
    let said = |session: &mut Session, text: &str| {
        texts(&bot.turn(session, Request::text(text)).unwrap()).join(" | ")
    };
    // Before `min` and after `max`: asked again.
    assert_eq!(
        said(&mut session, "ayer"),
        "Un día de los próximos dos meses. | ¿Qué día?"
    );
    assert_eq!(
        said(&mut session, "en 90 días"),
        "Un día de los próximos dos meses. | ¿Qué día?"
    );
    assert_eq!(said(&mut session, "pasado mañana"), "¿A qué hora?");
    assert_eq!(
        said(&mut session, "a las 25"),
        "¿A qué hora, por ejemplo 15:30? | ¿A qué hora?"
    );
    assert_eq!(said(&mut session, "3 de la tarde"), "¿Cuándo vuelves?");
    assert_eq!(said(&mut session, "hoy a las 10"), "¿Cuándo vuelves?");
    let day = day_in("America/Santiago", 2);
    let visit = offset_of("America/Santiago", day_in("America/Santiago", 7), 10, 30);
    assert_eq!(said(&mut session, "cuando pueda"), "¿Cuándo vuelves?");
    let answer = said(&mut session, "en una semana a las 10:30");
    assert_eq!(answer, format!("{day} 15:00 {visit}"));
}

#[test]
fn the_users_time_zone_moves_today_and_the_offset() {
    let bot = inline(CLINIC);
    let mut session = bot.new_session();
    let mut first = Request::event("welcome");
    first.timezone = Some("Asia/Tokyo".into());
    bot.turn(&mut session, first).unwrap();
    assert_eq!(session.timezone.as_deref(), Some("Asia/Tokyo"));
    bot.turn(&mut session, Request::text("hoy")).unwrap();
    assert_eq!(
        session
            .vars
            .get("day")
            .map(cellflow::runtime::Var::to_value),
        Some(serde_json::json!(day_in("Asia/Tokyo", 0).to_string()))
    );
    bot.turn(&mut session, Request::text("15h")).unwrap();
    bot.turn(&mut session, Request::text("mañana 9:00"))
        .unwrap();
    assert_eq!(
        session
            .vars
            .get("visit")
            .map(cellflow::runtime::Var::to_value),
        Some(serde_json::json!(offset_of(
            "Asia/Tokyo",
            day_in("Asia/Tokyo", 1),
            9,
            0
        )))
    );
    // A zone the database does not know is ignored.
    let mut request = Request::text("x");
    request.timezone = Some("Mars/Olympus".into());
    bot.turn(&mut session, request).unwrap();
    assert_eq!(session.timezone.as_deref(), Some("Asia/Tokyo"));
}

#[test]
fn a_bot_that_detects_takes_the_language_of_what_the_user_writes() {
    let bot = inline(
        r#"
bot { languages [es, en] detect_language }
flow welcome on welcome { answer @es "Hola." @en "Hello." }
flow fallback on fallback { answer @es "No entendí." @en "I did not get that." }
"#,
    );
    // Too short to tell: the default, and still undecided.
    let mut session = bot.new_session();
    let r = bot.turn(&mut session, Request::text("hi")).unwrap();
    assert_eq!(texts(&r), ["No entendí."]);
    assert_eq!(session.language, None);
    let r = bot
        .turn(
            &mut session,
            Request::text("I would like to know the balance of my checking account"),
        )
        .unwrap();
    assert_eq!(texts(&r), ["I did not get that."]);
    assert_eq!(session.language.as_deref(), Some("en"));
    // Once chosen, it stays.
    let r = bot
        .turn(
            &mut session,
            Request::text("quiero saber el saldo de mi cuenta corriente"),
        )
        .unwrap();
    assert_eq!(texts(&r), ["I did not get that."]);
    // A request's language wins over detection.
    let mut session = bot.new_session();
    let mut request = Request::text("I would like to know the balance of my checking account");
    request.language = Some("es".into());
    let r = bot.turn(&mut session, request).unwrap();
    assert_eq!(texts(&r), ["No entendí."]);
}

const BILINGUAL_NLU: &str = r#"
bot { languages [es, en] }

intent balance {
  examples ["saldo", "balance"]
  examples @es ["cuánto dinero tengo", "quiero ver mi saldo", "saldo de mi cuenta", "cuánta plata me queda"]
  examples @en ["how much money do I have", "show me my balance", "balance of my account", "what is left in my account"]
}
intent transfer {
  examples @es ["quiero transferir dinero", "enviar plata a Ana", "hacer una transferencia", "pasar dinero a otra cuenta"]
  examples @en ["I want to send money", "transfer money to Ana", "make a transfer", "move money to another account"]
}

flow balance on intent balance { answer @es "Tu saldo es 10." @en "Your balance is 10." }
flow transfer on intent transfer { answer @es "¿A quién?" @en "To whom?" }
flow fallback on fallback { answer @es "No entendí." @en "I did not get that." }
"#;

#[test]
fn each_language_classifies_with_its_own_examples() {
    let bot = inline(BILINGUAL_NLU);
    let program = bot.program();
    assert_eq!(
        program.nlu_languages.len(),
        1,
        "a model for English beside Spanish's"
    );
    let turn_in = |bot: &Bot, language: &str, text: &str| {
        let mut session = bot.new_session();
        let mut request = Request::text(text);
        request.language = Some(language.into());
        let r = bot.turn(&mut session, request).unwrap();
        (texts(&r).join(" "), r.nlu.intent.clone())
    };
    assert_eq!(
        turn_in(&bot, "en", "I would like to move some money to my sister")
            .1
            .as_deref(),
        Some("transfer")
    );
    assert_eq!(
        turn_in(&bot, "es", "quisiera pasar plata a mi hermana").0,
        "¿A quién?"
    );
    assert_eq!(
        turn_in(&bot, "en", "show my balance please").0,
        "Your balance is 10."
    );
    // Shared examples serve every language.
    assert_eq!(turn_in(&bot, "es", "saldo").0, "Tu saldo es 10.");
    assert_eq!(turn_in(&bot, "en", "balance").0, "Your balance is 10.");

    // The artifact keeps every language's model: loading it trains nothing
    // and classifies the same.
    let mut project = Project::new();
    project.add_bytes("bot.flow", Path::new("bot.flow"), BILINGUAL_NLU.as_bytes());
    let checked = cellflow::check::check(project);
    let compiled =
        cellflow::compile::compile(&checked.bot, &checked.lowered, checked.prepared).unwrap();
    let written = cellflow::compile::write_artifact(&checked.bot, &compiled).unwrap();
    let artifact = cellflow::compile::read_artifact(&written).unwrap();
    assert_eq!(artifact.language_models.len(), 1);
    assert!(artifact.language_models[0].is_some());
    let loaded = Bot::new(cellflow::compile::load_artifact(artifact).unwrap());
    assert_eq!(
        turn_in(
            &loaded,
            "en",
            "I would like to move some money to my sister"
        ),
        turn_in(&bot, "en", "I would like to move some money to my sister")
    );
}

#[test]
fn entity_synonyms_belong_to_their_language() {
    let bot = inline(
        r#"
bot { languages [es, pt] }
entity account {
  value "checking" ["cc"] @es ["cuenta corriente", "corriente"] @pt ["conta corrente"]
  value "savings" @es ["ahorro", "cuenta de ahorro"] @pt ["poupança"]
}
flow welcome on welcome {
  input kind { entity account prompt @es "¿Qué cuenta?" @pt "Qual conta?" invalid @es "¿Cuál?" @pt "Qual?" }
  answer @es "Cuenta {{kind}}" @pt "Conta {{kind}}"
}
"#,
    );
    let say = |language: &str, lines: &[&str]| {
        let mut session = bot.new_session();
        let request = Request {
            language: Some(language.into()),
            ..Request::default()
        };
        bot.turn(&mut session, request).unwrap();
        lines
            .iter()
            .map(|line| texts(&bot.turn(&mut session, Request::text(*line)).unwrap()).join(" "))
            .collect::<Vec<_>>()
    };
    // Each language knows its own synonyms, and the shared ones.
    assert_eq!(say("es", &["mi corriente"]), ["Cuenta checking"]);
    assert_eq!(say("pt", &["poupança"]), ["Conta savings"]);
    assert_eq!(say("pt", &["cc"]), ["Conta checking"]);
    // A Spanish synonym means nothing in Portuguese; the canonical value
    // is understood in every language.
    assert_eq!(
        say("pt", &["ahorro", "savings"]),
        ["Qual? Qual conta?", "Conta savings"]
    );
}
