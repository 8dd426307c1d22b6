//! Inactivity timeouts: `Bot::inactivity` says when a waiting
//! conversation times out, and the `timeout` event runs the `on: timeout`
//! flow (the conversation then waits again where it was) or closes it.

use std::time::Duration;

use cellflow::runtime::{Awaiting, Event};
use cellflow::{Bot, Request, Response, Session};

use crate::support;

fn texts(response: &Response) -> Vec<&str> {
    response.answers.iter().map(|a| &*a.text).collect()
}

fn waits_for(response: &Response) -> Option<&str> {
    match &response.awaiting {
        Some(Awaiting::Input { var, .. }) => Some(var),
        Some(Awaiting::Intent) => Some("(intent)"),
        None => None,
    }
}

const SHOP: &str = concat!(
    "bot { inactivity { after 5m } }\n",
    "flow welcome on welcome {\n",
    "  jump checkout return\n",
    "  answer \"Thanks, {{name}}.\"\n",
    "}\n",
    "flow checkout timeout 90s {\n",
    "  input name { prompt \"Your name?\" }\n",
    "  input qty integer { prompt \"How many?\" min 1 max 9 retries 3 }\n",
    "}\n",
    "flow still_there on timeout {\n",
    "  rule { when { session.timeouts > 1 } goto bye }\n",
    "  answer \"Still there? (reminder {{session.timeouts}})\"\n",
    "  -> done\n",
    "  bye: end \"Closing the chat, bye.\"\n",
    "  done: code { _nothing = 0; }\n",
    "}\n",
    "flow agent { handoff { queue \"people\" } answer \"back\" }\n",
);

#[test]
fn the_timeout_that_applies_is_the_flows_own_else_the_bots() {
    let bot = support::bot(SHOP);
    let mut session = bot.new_session();
    // Nothing started yet: nothing to time out.
    assert_eq!(bot.inactivity(&session), None);
    bot.turn(&mut session, Request::event("welcome")).unwrap();
    // Waiting in `checkout`, which has a timeout of its own.
    assert_eq!(bot.inactivity(&session), Some(Duration::from_secs(90)));
    bot.turn(&mut session, Request::event("agent")).unwrap();
    assert!(session.handed_off());
    assert_eq!(bot.inactivity(&session), None);
    bot.turn(&mut session, Request::event("resume")).unwrap();
    // Idle after the flow completed: the bot's.
    assert_eq!(session.waiting, None);
    assert_eq!(bot.inactivity(&session), Some(Duration::from_secs(300)));
    let mut ended = Session::new("e");
    bot.turn(&mut ended, Request::event("still_there")).unwrap();
    bot.turn(&mut ended, Request::event("timeout")).unwrap();
    bot.turn(&mut ended, Request::event("timeout")).unwrap();
    assert!(ended.ended);
    assert_eq!(bot.inactivity(&ended), None);
    // A bot without any: never.
    let plain = support::bot("flow welcome on welcome { input name }\n");
    let mut session = plain.new_session();
    plain.turn(&mut session, Request::event("welcome")).unwrap();
    assert_eq!(plain.inactivity(&session), None);
}

#[test]
fn a_timeout_flow_runs_and_the_conversation_waits_again_where_it_was() {
    let bot = support::bot(SHOP);
    let mut session = bot.new_session();
    bot.turn(&mut session, Request::event("welcome")).unwrap();
    bot.turn(&mut session, Request::text("Ana")).unwrap();
    let bad = bot.turn(&mut session, Request::text("20")).unwrap();
    assert_eq!(texts(&bad), ["How many?"]);
    let before = (session.stack.clone(), session.retries);
    let nudge = bot.turn(&mut session, Request::event("timeout")).unwrap();
    // The reminder, and not the question again.
    assert_eq!(texts(&nudge), ["Still there? (reminder 1)"]);
    assert_eq!(waits_for(&nudge), Some("qty"));
    assert!(nudge.events.is_empty(), "{:?}", nudge.events);
    assert_eq!((session.stack.clone(), session.retries), before);
    assert_eq!(bot.inactivity(&session), Some(Duration::from_secs(90)));
    // The user answers the question, and the call returns to its caller.
    let done = bot.turn(&mut session, Request::text("2")).unwrap();
    assert_eq!(texts(&done), ["Thanks, Ana."]);
    assert_eq!(session.timeouts, 0);
}

#[test]
fn timeouts_in_a_row_are_counted_until_the_user_writes() {
    let bot = support::bot(SHOP);
    let mut session = bot.new_session();
    bot.turn(&mut session, Request::event("welcome")).unwrap();
    let first = bot.turn(&mut session, Request::event("timeout")).unwrap();
    assert_eq!(texts(&first), ["Still there? (reminder 1)"]);
    bot.turn(&mut session, Request::text("Ana")).unwrap();
    assert_eq!(session.timeouts, 0);
    let again = bot.turn(&mut session, Request::event("timeout")).unwrap();
    assert_eq!(texts(&again), ["Still there? (reminder 1)"]);
    let last = bot.turn(&mut session, Request::event("timeout")).unwrap();
    assert_eq!(texts(&last), ["Closing the chat, bye."]);
    assert_eq!(last.events, [Event::End]);
    assert!(last.ended);
}

#[test]
fn without_a_timeout_flow_the_conversation_closes() {
    let closing = |settings: &str, language: Option<&str>| {
        let bot = support::bot(&format!(
            "bot {{ languages [en, es, pt] {settings} }}\nflow welcome on welcome {{ input name {{ prompt @en \"Name?\" @es \"¿Nombre?\" @pt \"Nome?\" }} }}\n"
        ));
        let mut session = bot.new_session();
        let mut first = Request::event("welcome");
        first.language = language.map(str::to_owned);
        bot.turn(&mut session, first).unwrap();
        let closed = bot.turn(&mut session, Request::event("timeout")).unwrap();
        assert_eq!(closed.events, [Event::End]);
        assert!(closed.ended && session.ended);
        assert_eq!(closed.awaiting, None);
        texts(&closed).join("|")
    };
    assert_eq!(
        closing("", None),
        "I closed this conversation after a while without news from you. Write again whenever you like."
    );
    assert_eq!(
        closing("", Some("es")),
        "Cerré esta conversación tras un rato sin noticias tuyas. Escríbeme de nuevo cuando quieras."
    );
    assert_eq!(
        closing("", Some("pt")),
        "Encerrei esta conversa depois de um tempo sem notícias suas. Escreva de novo quando quiser."
    );
    let worded = "messages { inactivity_closed @en \"Bye.\" @es \"Chao.\" }";
    assert_eq!(closing(worded, Some("es")), "Chao.");
    // `inactivity.message` wins over `bot.messages`, and is a template.
    let own = format!(
        "{worded} inactivity {{ after 5m message @en \"Bye {{{{name | \\\"friend\\\"}}}}\" @es \"Adiós\" @pt \"Tchau\" }}"
    );
    assert_eq!(closing(&own, None), "Bye friend");
    assert_eq!(closing(&own, Some("pt")), "Tchau");
}

#[test]
fn a_timeout_with_nothing_waiting_changes_nothing() {
    let bot = support::bot(SHOP);
    // A new session, a handed-off one, an ended one.
    let mut fresh = bot.new_session();
    let reply = bot.turn(&mut fresh, Request::event("timeout")).unwrap();
    assert!(reply.answers.is_empty() && reply.events.is_empty());
    assert_eq!(fresh, Session::new(fresh.id.clone()));
    let mut agent = bot.new_session();
    bot.turn(&mut agent, Request::event("agent")).unwrap();
    let before = agent.clone();
    let reply = bot.turn(&mut agent, Request::event("timeout")).unwrap();
    assert!(reply.answers.is_empty() && reply.events.is_empty());
    assert_eq!(agent, before);
    let mut ended = bot.new_session();
    bot.turn(&mut ended, Request::event("still_there")).unwrap();
    bot.turn(&mut ended, Request::event("timeout")).unwrap();
    bot.turn(&mut ended, Request::event("timeout")).unwrap();
    let before = ended.clone();
    let reply = bot.turn(&mut ended, Request::event("timeout")).unwrap();
    assert!(reply.ended && reply.answers.is_empty());
    assert_eq!(ended, before);
}

#[test]
fn a_timeout_flow_that_asks_takes_the_conversation_over() {
    let bot = support::bot(concat!(
        "flow welcome on welcome { input name { prompt \"Name?\" } answer \"Hi {{name}}\" }\n",
        "flow idle on timeout { input go boolean { prompt \"Continue?\" } answer \"ok\" }\n",
    ));
    let mut session = bot.new_session();
    bot.turn(&mut session, Request::event("welcome")).unwrap();
    let asked = bot.turn(&mut session, Request::event("timeout")).unwrap();
    assert_eq!(texts(&asked), ["Continue?"]);
    assert_eq!(waits_for(&asked), Some("go"));
    let done = bot.turn(&mut session, Request::text("yes")).unwrap();
    assert_eq!(texts(&done), ["ok"]);
    assert_eq!(done.awaiting, None);
}

#[test]
fn analytics_say_a_timeout_started_a_flow_or_ended_the_conversation() {
    let bot = support::bot(SHOP).with_analytics(true);
    let mut session = bot.new_session();
    bot.turn(&mut session, Request::event("welcome")).unwrap();
    let events = |r: &Response| -> Vec<String> {
        r.tracked
            .iter()
            .map(|t| {
                format!(
                    "{} {} {}",
                    t.event,
                    t.flow,
                    serde_json::Value::Object(t.properties.clone())
                )
            })
            .collect()
    };
    let nudge = bot.turn(&mut session, Request::event("timeout")).unwrap();
    assert_eq!(
        events(&nudge),
        [
            r#"flow_started still_there {"trigger":"timeout"}"#,
            "flow_completed still_there {}"
        ]
    );
    let plain = support::bot("flow welcome on welcome { ask: input name }\n").with_analytics(true);
    let mut session = plain.new_session();
    plain.turn(&mut session, Request::event("welcome")).unwrap();
    let closed = plain.turn(&mut session, Request::event("timeout")).unwrap();
    assert_eq!(
        events(&closed),
        [r#"conversation_ended welcome {"reason":"timeout"}"#]
    );
    assert_eq!(closed.tracked[0].cell.as_deref(), Some("ask"));
}

#[test]
fn a_stored_session_keeps_its_count_and_reads_back() {
    let bot: Bot = support::bot(SHOP);
    let mut session = bot.new_session();
    bot.turn(&mut session, Request::event("welcome")).unwrap();
    bot.turn(&mut session, Request::event("timeout")).unwrap();
    let stored = serde_json::to_value(&session).unwrap();
    assert_eq!(stored["timeouts"], 1);
    let mut back: Session = serde_json::from_value(stored).unwrap();
    let last = bot.turn(&mut back, Request::event("timeout")).unwrap();
    assert_eq!(texts(&last), ["Closing the chat, bye."]);
}
