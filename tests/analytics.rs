//! Analytics: what `track` cells report in `Response::tracked`, and the
//! events the runtime reports on its own with `Bot::with_analytics`.

use cellflow::Request;
use cellflow::runtime::Tracked;
use serde_json::json;

use crate::support;

fn events(tracked: &[Tracked]) -> Vec<&str> {
    tracked.iter().map(|t| &*t.event).collect()
}

#[test]
fn a_track_cell_reports_its_event_with_rendered_properties() {
    let bot = support::bot(concat!(
        "flow welcome on welcome {\n",
        "  track opened\n",
        "  ask: input qty integer { prompt \"How many?\" }\n",
        "  chosen: track \"order.chosen\" {\"qty\": \"{{qty}}\", \"text\": \"{{qty}} pies\", ",
        "\"fixed\": [1, true], \"user\": \"{{user.id}}\", \"none\": \"{{nothing}}\"}\n",
        "  answer \"Done.\"\n",
        "}\n",
    ));
    let mut session = cellflow::Session::new("s1");
    let hello = bot.turn(&mut session, Request::event("welcome")).unwrap();
    assert_eq!(events(&hello.tracked), ["opened"]);
    assert_eq!(&*hello.tracked[0].flow, "welcome");
    assert_eq!(hello.tracked[0].cell, None);
    assert!(hello.tracked[0].properties.is_empty());
    let reply = bot.turn(&mut session, Request::text("3")).unwrap();
    let [tracked] = reply.tracked.as_slice() else {
        panic!("one event: {:?}", reply.tracked);
    };
    assert_eq!(&*tracked.event, "order.chosen");
    assert_eq!(tracked.cell.as_deref(), Some("chosen"));
    // A string that is one placeholder keeps the value's type.
    assert_eq!(
        serde_json::Value::Object(tracked.properties.clone()),
        json!({"qty": 3, "text": "3 pies", "fixed": [1, true], "user": "s1", "none": null})
    );
    let written = serde_json::to_value(&reply).unwrap();
    assert_eq!(
        written["tracked"],
        json!([{"event": "order.chosen", "flow": "welcome", "cell": "chosen",
                "properties": {"qty": 3, "text": "3 pies", "fixed": [1, true], "user": "s1", "none": null}}])
    );
    // No event, no field: responses of bots without analytics read as before.
    let quiet = bot.turn(&mut session, Request::text("hi")).unwrap();
    assert!(quiet.tracked.is_empty());
    assert!(
        serde_json::to_value(&quiet)
            .unwrap()
            .get("tracked")
            .is_none()
    );
}

#[test]
fn masked_and_hidden_values_read_as_the_mask() {
    let bot = support::bot(concat!(
        "bot { hidden [token] }\n",
        "flow welcome on welcome {\n",
        "  code { token = \"tok-991\" }\n",
        "  input pin { prompt \"PIN?\" mask }\n",
        "  track pin_given {\"pin\": \"{{pin}}\", \"said\": \"pin {{pin}} ok\", ",
        "\"token\": \"{{token}}\", \"nested\": {\"t\": [\"{{token}}\"]}}\n",
        "  answer \"Thanks.\"\n",
        "}\n",
    ));
    let mut session = bot.new_session();
    bot.turn(&mut session, Request::event("welcome")).unwrap();
    let reply = bot.turn(&mut session, Request::text("4321")).unwrap();
    assert_eq!(
        serde_json::Value::Object(reply.tracked[0].properties.clone()),
        json!({"pin": "******", "said": "pin ****** ok", "token": "******",
               "nested": {"t": ["******"]}})
    );
    let text = serde_json::to_string(&reply).unwrap();
    assert!(
        !text.contains("4321") && !text.contains("tok-991"),
        "{text}"
    );
}

#[test]
fn a_failed_turn_reports_none_of_its_track_cells() {
    let bot = support::bot(concat!(
        "flow welcome on welcome {\n",
        "  track started\n",
        "  code { let x = 1 / 0; }\n",
        "}\n",
    ));
    let mut session = bot.new_session();
    let reply = bot.turn(&mut session, Request::event("welcome")).unwrap();
    assert!(reply.tracked.is_empty(), "{:?}", reply.tracked);
}

/// Each event as `event flow {properties}` (the cell id after `#`).
fn lines(tracked: &[Tracked]) -> Vec<String> {
    tracked
        .iter()
        .map(|t| {
            let cell = t.cell.as_deref().map_or(String::new(), |c| format!("#{c}"));
            let properties = if t.properties.is_empty() {
                String::new()
            } else {
                format!(" {}", serde_json::Value::Object(t.properties.clone()))
            };
            format!("{} {}{cell}{properties}", t.event, t.flow)
        })
        .collect()
}

const ORDERS: &str = concat!(
    "intent order { patterns ['\\border\\b'] }\n",
    "flow welcome on welcome { answer \"Hi\" }\n",
    "flow order on intent order {\n",
    "  jump address return\n",
    "  size: input size { options [\"Small\", \"Large\"] retries 0 on_fail fallback }\n",
    "  desk: handoff { queue \"kitchen\" reason \"size {{size}}\" }\n",
    "  bye: end \"Bye\"\n",
    "}\n",
    "flow address { input street { prompt \"Street?\" } }\n",
    "flow fallback on fallback { answer \"Sorry?\" }\n",
);

#[test]
fn with_analytics_the_runtime_reports_flows_intents_and_failures() {
    let bot = support::bot(ORDERS).with_analytics(true);
    let mut session = bot.new_session();
    let mut say = |request: Request| lines(&bot.turn(&mut session, request).unwrap().tracked);
    assert_eq!(
        say(Request::event("welcome")),
        [
            r#"flow_started welcome {"trigger":"welcome"}"#,
            "flow_completed welcome"
        ]
    );
    assert_eq!(
        say(Request::text("an order please")),
        [
            r#"intent_matched order {"intent":"order","confidence":1.0}"#,
            r#"flow_started order {"trigger":"intent"}"#,
            r#"flow_started address {"trigger":"jump"}"#,
        ]
    );
    // The called flow completes and the caller goes on: no new start.
    assert_eq!(say(Request::text("Main St")), ["flow_completed address"]);
    assert_eq!(
        say(Request::text("huge")),
        [
            r#"input_failed order#size {"var":"size"}"#,
            r#"flow_started fallback {"trigger":"jump"}"#,
            "flow_completed fallback",
        ]
    );
    assert_eq!(
        say(Request::text("qzx wplk")),
        [
            r#"fallback fallback {"text":"qzx wplk"}"#,
            r#"flow_started fallback {"trigger":"fallback"}"#,
            "flow_completed fallback",
        ]
    );
    say(Request::text("order"));
    say(Request::text("Elm St"));
    assert_eq!(
        say(Request::text("large")),
        [r#"handoff order#desk {"queue":"kitchen","reason":"size Large"}"#]
    );
    assert_eq!(
        say(Request::event("resume")),
        [
            "flow_completed order",
            r#"conversation_ended order#bye {"reason":"end"}"#
        ]
    );
}

#[test]
fn without_analytics_only_track_cells_report() {
    let bot = support::bot(ORDERS);
    let mut session = bot.new_session();
    for text in ["order", "Main St", "huge", "qzx wplk"] {
        let reply = bot.turn(&mut session, Request::text(text)).unwrap();
        assert!(reply.tracked.is_empty(), "{text}: {:?}", reply.tracked);
    }
}

#[test]
fn a_failed_turn_reports_its_error_redacted_and_nothing_else() {
    let bot = support::bot(concat!(
        "flow welcome on welcome {\n",
        "  input pin { prompt \"PIN?\" mask }\n",
        "  track checked\n",
        "  boom: code { throw \"bad pin \" + pin; }\n",
        "}\n",
    ))
    .with_analytics(true);
    let mut session = bot.new_session();
    bot.turn(&mut session, Request::event("welcome")).unwrap();
    let reply = bot.turn(&mut session, Request::text("4321")).unwrap();
    let lines = lines(&reply.tracked);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with("script_error welcome#boom {\"message\":\"")
            && lines[0].contains("bad pin ******"),
        "{lines:?}"
    );
}

#[test]
fn a_message_to_a_masked_question_is_never_reported_as_not_understood() {
    // A wrong PIN fails over to an intent cell: analytics hear of the
    // failure, never of what was typed.
    let bot = support::bot(concat!(
        "intent yes { patterns ['^yes$'] }\n",
        "flow welcome on welcome {\n",
        "  input pin { prompt \"PIN?\" pattern '^\\d{4}$' mask retries 0 on_fail again }\n",
        "  answer \"ok\"\n",
        "  again: intent { yes goto welcome }\n",
        "}\n",
    ))
    .with_analytics(true);
    let mut session = bot.new_session();
    bot.turn(&mut session, Request::event("welcome")).unwrap();
    let reply = bot.turn(&mut session, Request::text("12ab")).unwrap();
    assert_eq!(
        lines(&reply.tracked),
        [r#"input_failed welcome {"var":"pin"}"#]
    );
    // A message nobody understands, not to a masked input, is reported.
    let reply = bot.turn(&mut session, Request::text("what now")).unwrap();
    assert_eq!(lines(&reply.tracked), [r#"fallback  {"text":"what now"}"#]);
}

#[test]
fn the_graph_labels_a_track_cell_with_its_event() {
    let mut project = cellflow::project::Project::new();
    let text =
        "flow welcome on welcome {\n  track checkout_started {\"n\": 1}\n  answer \"ok\"\n}\n";
    project.add_bytes("a.flow", std::path::Path::new("a.flow"), text.as_bytes());
    let checked = cellflow::check::check(project);
    let graph = &checked.lowered.graph;
    for format in [
        cellflow::export::Format::Dot,
        cellflow::export::Format::Mermaid,
    ] {
        let drawn = cellflow::export::render(&checked.bot, graph, format, None);
        assert!(drawn.contains("track checkout_started"), "{drawn}");
    }
}
