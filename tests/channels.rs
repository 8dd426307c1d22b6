//! The routes channel connectors written for the Syntphony CAI API call,
//! driven with requests shaped as that API's documentation shows them.

use serde_json::{Value, json};

use crate::server::{KEY, Serve, pizza};

const START: &str = "/eva-broker/org/7c2b1f0e-0000-4000-8000-000000000001/env/\
    7c2b1f0e-0000-4000-8000-000000000002/bot/7c2b1f0e-0000-4000-8000-000000000003/\
    channel/7c2b1f0e-0000-4000-8000-000000000004/v1/conversations";

/// A POST with the headers connectors send: the key in `API-KEY` (no
/// bearer), `OS`, `USER-REF`, `LOCALE`, `BUSINESS-KEY` in odd casing.
fn post(server: &Serve, path: &str, body: &str) -> (u16, Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let request = ureq::http::Request::builder()
        .method("POST")
        .uri(format!("{}{path}", server.base))
        .header("API-KEY", KEY)
        .header("OS", "Windows")
        .header("USER-REF", "10.0.0.7")
        .header("LOCALE", "en-US")
        .header("business-Key", "crm-42")
        .header("Content-Type", "application/json")
        .body(body.to_owned())
        .unwrap();
    let mut response = agent.run(request).unwrap();
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[test]
fn a_connector_opens_with_the_welcome_code_and_reads_typed_answers() {
    let server = Serve::start(&pizza(), &["--store", "memory"]);
    let (status, hello) = post(&server, START, r#"{"code": "%EVA_WELCOME_MSG"}"#);
    assert_eq!(status, 200, "{hello}");
    let code = hello["sessionCode"].as_str().unwrap().to_owned();
    assert_eq!(hello["text"], Value::Null);
    assert!(
        hello["userInteractionUUID"].as_str().unwrap().len() == 36,
        "{hello}"
    );
    let answer = &hello["answers"][0];
    assert_eq!(answer["type"], "TEXT");
    assert_eq!(answer["content"], "Welcome to Napoli! 🍕");
    assert_eq!(
        answer["quickReply"],
        json!([
            {"name": "Order a pizza", "value": "order a pizza"},
            {"name": "See the menu", "value": "menu"},
        ])
    );
    assert_eq!(answer["interactionId"], "1-0");
    assert_eq!(answer["evaluable"], false);
    assert_eq!(answer["masked"], false);
    assert_eq!(hello["nlpResponse"]["type"], "NONE");
    assert_eq!(hello["userInput"], Value::Null);
    assert!(hello["context"].is_object() && hello["contextReadOnly"].is_object());

    // Continuing: the session code appended, `code` null beside the text.
    let (status, reply) = post(
        &server,
        &format!("{START}/{code}"),
        r#"{"text": "I want a pizza", "code": null, "context": {}}"#,
    );
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["text"], "I want a pizza");
    assert_eq!(reply["sessionCode"], code.as_str());
    assert_eq!(reply["nlpResponse"]["type"], "INTENT");
    assert_eq!(reply["nlpResponse"]["name"], "order");
    assert_eq!(reply["nlpResponse"]["score"], 1.0);
    // What the bot waits for, as the channel should offer it.
    assert_eq!(reply["userInput"]["type"], "OPTIONS");
    assert_eq!(reply["userInput"]["variable"], "kind");
    assert_eq!(reply["userInput"]["pattern"], Value::Null);
    assert_eq!(reply["answers"][0]["interactionId"], "2-0");
}

#[test]
fn the_menu_is_a_carousel_and_buttons_carry_their_values() {
    let server = Serve::start(&pizza(), &["--store", "memory"]);
    let (_, hello) = post(&server, START, r#"{"code": "%EVA_WELCOME_MSG"}"#);
    let code = hello["sessionCode"].as_str().unwrap();
    let (status, menu) = post(&server, &format!("{START}/{code}"), r#"{"text": "menu"}"#);
    assert_eq!(status, 200, "{menu}");
    let carousel = menu["answers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["type"] == "CAROUSEL")
        .unwrap_or_else(|| panic!("no carousel in {menu}"));
    let first = &carousel["content"][0];
    assert_eq!(first["title"], "Pepperoni");
    assert_eq!(first["subTitle"], "Tomato, mozzarella, pepperoni");
    assert_eq!(
        first["imageUrl"],
        "https://napoli.example/img/pepperoni.jpg"
    );
    assert_eq!(
        first["buttons"][0],
        json!({"name": "Order", "value": "order a pizza", "type": "TEXT", "action": null})
    );
}

#[test]
fn every_documented_route_shape_reaches_the_same_engine() {
    let server = Serve::start(&pizza(), &["--store", "memory"]);
    for start in [
        START,
        "/eva-broker/org/o/env/e/bot/b/conversations",
        "/conversations",
    ] {
        let (status, hello) = post(&server, start, r#"{"code": "%EVA_WELCOME_MSG"}"#);
        assert_eq!(status, 200, "{start}: {hello}");
        let code = hello["sessionCode"].as_str().unwrap();
        let (status, reply) = post(&server, &format!("{start}/{code}"), r#"{"text": "menu"}"#);
        assert_eq!(status, 200, "{start}: {reply}");
        // The same conversation on the /v1 routes.
        let (status, state) = crate::server::call(
            "GET",
            &format!("{}/v1/conversations/{code}", server.base),
            Some(KEY),
            None,
        );
        assert_eq!(status, 200);
        assert_eq!(state["state"]["turns"], 2, "{start}: {state}");
    }
}

#[test]
fn codes_name_flows_or_intents_and_a_host_may_classify_itself() {
    let server = Serve::start(&pizza(), &["--store", "memory"]);
    // An intent's name as the code: routed as a sure hit.
    let (status, reply) = post(&server, START, r#"{"code": "menu"}"#);
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["nlpResponse"]["name"], "menu");
    // The connector's own NLU.
    let (status, reply) = post(
        &server,
        START,
        r#"{"text": "quiero una pizza", "intent": "order", "confidence": 0.93, "entities": {}}"#,
    );
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["nlpResponse"]["name"], "order");
    assert_eq!(reply["nlpResponse"]["score"], 0.93);
}

#[test]
fn bad_connector_requests_get_clear_errors() {
    let server = Serve::start(&pizza(), &["--store", "memory"]);
    let (status, error) = post(&server, START, r#"{"code": "%EVA_TIMEOUT"}"#);
    assert_eq!(status, 422);
    assert_eq!(error["error"]["code"], "unknown_code");
    let (status, error) = post(&server, START, r#"{"txt": "hi"}"#);
    assert_eq!(status, 400);
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("unknown field `txt`"),
        "{error}"
    );
    let (status, _) = post(&server, START, r#"{"text": 5}"#);
    assert_eq!(status, 400);
    let huge = json!({"text": "x".repeat(100_000)}).to_string();
    let (status, error) = post(&server, START, &huge);
    assert_eq!(status, 413, "{error}");
    let long = json!({"text": "x".repeat(5_000)}).to_string();
    let (status, error) = post(&server, START, &long);
    assert_eq!(status, 422, "{error}");
    assert_eq!(error["error"]["code"], "text_too_long");
    let (status, _) = post(&server, START, "[\"hi\"]");
    assert_eq!(status, 400);
    let (status, _) = post(
        &server,
        &format!("{START}/nobody-here"),
        r#"{"text": "hi"}"#,
    );
    assert_eq!(status, 404);
    let (status, _) = post(
        &server,
        &format!("{START}/..%2F..%2Fetc"),
        r#"{"text": "hi"}"#,
    );
    assert_eq!(status, 404);
    // Neither key.
    let (status, error) =
        crate::server::call("POST", &format!("{}{START}", server.base), None, Some("{}"));
    assert_eq!(status, 401, "{error}");
    // Bearer works too.
    let (status, _) = crate::server::call(
        "POST",
        &format!("{}{START}", server.base),
        Some(KEY),
        Some(r#"{"code": "%EVA_WELCOME_MSG"}"#),
    );
    assert_eq!(status, 200);
}

#[test]
fn satisfaction_and_likes_are_kept_with_the_conversation() {
    let server = Serve::start(&pizza(), &["--store", "memory"]);
    let (_, hello) = post(&server, START, r#"{"code": "%EVA_WELCOME_MSG"}"#);
    let code = hello["sessionCode"].as_str().unwrap();
    let interaction = hello["answers"][0]["interactionId"].as_str().unwrap();
    let feedback = format!("/eva-broker/org/o/env/e/bot/b/conversations/{code}");

    let (status, saved) = post(
        &server,
        &format!("{feedback}/satisfactions"),
        r#"{"evaluation": 5, "comment": "quick and friendly"}"#,
    );
    assert_eq!(status, 200, "{saved}");
    let (status, liked) = post(
        &server,
        &format!("{feedback}/likable"),
        &json!({"interactionId": interaction, "evaluation": false}).to_string(),
    );
    assert_eq!(status, 200, "{liked}");
    let (status, unknown) = post(
        &server,
        &format!("{feedback}/likable"),
        r#"{"interactionId": "9-9", "evaluation": true}"#,
    );
    assert_eq!(status, 422);
    assert_eq!(unknown["error"]["code"], "unknown_interaction");
    let (status, _) = post(
        &server,
        &format!("{feedback}/satisfactions"),
        r#"{"evaluation": 99}"#,
    );
    assert_eq!(status, 422);

    let (_, state) = crate::server::call(
        "GET",
        &format!("{}/v1/conversations/{code}", server.base),
        Some(KEY),
        None,
    );
    let kept: Vec<&Value> = state["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e.get("feedback"))
        .collect();
    assert_eq!(
        kept,
        [
            &json!({"kind": "satisfaction", "rating": 5.0, "comment": "quick and friendly"}),
            &json!({"kind": "likable", "interactionId": "1-0", "liked": false, "comment": null}),
        ]
    );
    // Feedback is not a turn.
    assert_eq!(state["state"]["turns"], 1);
}
