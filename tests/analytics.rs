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
