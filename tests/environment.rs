//! `${NAME}` in a service's URL and headers: read from the environment when
//! the bot is made, never stored or reported, and a variable that is not
//! set fails the call (its error path), naming the variable.

use std::sync::{Arc, Mutex};

use cellflow::runtime::{Event, FnClient, HttpRequest, HttpResponse, Place};
use cellflow::{Bot, Request};

use crate::support;

const BANK: &str = concat!(
    "flow welcome on welcome {\n",
    "  lookup: service {\n",
    "    url \"${API_BASE}/accounts/{{account | \\\"7\\\"}}?key=${API_KEY}\"\n",
    "    header \"Authorization\" \"Bearer ${API_TOKEN}\"\n",
    "    header \"X-Home\" \"${HOME}\"\n",
    "    save balance\n",
    "    status code\n",
    "    on_error down\n",
    "  }\n",
    "  answer \"Balance {{balance.amount}}\"\n",
    "  -> done\n",
    "  down: answer \"The bank is not answering ({{code}}).\"\n",
    "  done: end\n",
    "}\n",
);

/// The bot, answering every call with `status` and recording the calls.
fn recorded(bot: Bot, status: u16) -> (Bot, Arc<Mutex<Vec<HttpRequest>>>) {
    let calls: Arc<Mutex<Vec<HttpRequest>>> = Arc::default();
    let seen = Arc::clone(&calls);
    let bot = bot.with_http(FnClient(move |request: &HttpRequest| {
        seen.lock().unwrap().push(request.clone());
        Ok(HttpResponse {
            status,
            body: r#"{"amount": 42}"#.to_owned(),
        })
    }));
    (bot, calls)
}

fn secrets(name: &str) -> Option<String> {
    match name {
        "API_BASE" => Some("https://bank.example".to_owned()),
        "API_KEY" => Some("key-5150".to_owned()),
        "API_TOKEN" => Some("tok-8086".to_owned()),
        _ => None,
    }
}

#[test]
fn variables_are_read_when_the_bot_is_made_and_sent_only_in_the_call() {
    let bot = support::bot(BANK)
        .with_environment(|name| {
            if name == "HOME" {
                Some("/home/ana".to_owned())
            } else {
                secrets(name)
            }
        })
        .with_tracing(true);
    let (bot, calls) = recorded(bot, 200);
    let mut session = bot.new_session();
    let reply = bot.turn(&mut session, Request::event("welcome")).unwrap();
    assert_eq!(reply.answers[0].text, "Balance 42");
    let calls = calls.lock().unwrap();
    assert_eq!(calls[0].url, "https://bank.example/accounts/7?key=key-5150");
    assert_eq!(
        calls[0].headers,
        [
            ("Authorization".to_owned(), "Bearer tok-8086".to_owned()),
            ("X-Home".to_owned(), "/home/ana".to_owned())
        ]
    );
    // Nothing that leaves the turn holds a value: not the response, not
    // its trace, not the session.
    let written = format!(
        "{}{}",
        serde_json::to_string(&reply).unwrap(),
        serde_json::to_string(&session).unwrap()
    );
    for value in ["bank.example", "key-5150", "tok-8086"] {
        assert!(!written.contains(value), "{value} in {written}");
    }
    // The program names the variables, never their values.
    assert_eq!(
        bot.program().env,
        ["API_BASE", "API_KEY", "API_TOKEN", "HOME"]
    );
}

#[test]
fn the_process_environment_is_read_by_default() {
    // HOME is set wherever the tests run; the others are not.
    let home = std::env::var("HOME").expect("HOME is set");
    let (bot, calls) = recorded(support::bot(BANK), 200);
    let mut session = bot.new_session();
    let reply = bot.turn(&mut session, Request::event("welcome")).unwrap();
    assert!(calls.lock().unwrap().is_empty(), "no call without API_BASE");
    assert_eq!(reply.answers[0].text, "The bank is not answering (0).");
    let home_only = support::bot(concat!(
        "flow welcome on welcome {\n",
        "  service { url \"https://x.example/\" header \"X-Home\" \"${HOME}\" }\n",
        "}\n",
    ));
    let (bot, calls) = recorded(home_only, 200);
    bot.turn(&mut bot.new_session(), Request::event("welcome"))
        .unwrap();
    assert_eq!(calls.lock().unwrap()[0].headers[0].1, home);
}

#[test]
fn an_unset_variable_fails_the_call_and_names_the_variable() {
    let bot = support::bot(BANK).with_environment(|name| {
        (name != "API_TOKEN")
            .then(|| secrets(name))
            .flatten()
            .or_else(|| (name == "HOME").then(String::new))
    });
    let (bot, calls) = recorded(bot, 200);
    let mut session = bot.new_session();
    let reply = bot.turn(&mut session, Request::event("welcome")).unwrap();
    assert!(calls.lock().unwrap().is_empty());
    assert_eq!(reply.answers[0].text, "The bank is not answering (0).");
    assert_eq!(
        reply.events[0],
        Event::ServiceFailed {
            cell: Some("lookup".to_owned()),
            status: 0,
            reason: "the environment variable `API_TOKEN` is not set".to_owned(),
            at: Some(Place {
                flow: "welcome".to_owned(),
                cell: Some("lookup".to_owned()),
                position: 0,
                file: Some("bot.flow".to_owned()),
                line: Some(2),
            }),
        }
    );
    let written = serde_json::to_value(&reply.events[0]).unwrap();
    assert_eq!(written["type"], "service_failed");
}

#[test]
fn a_failed_call_says_why_without_the_values_it_was_made_with() {
    let bot =
        support::bot(BANK).with_environment(|name| secrets(name).or_else(|| Some(String::new())));
    let (answering, _) = recorded(bot.clone(), 503);
    let reply = answering
        .turn(&mut answering.new_session(), Request::event("welcome"))
        .unwrap();
    assert!(
        matches!(&reply.events[0], Event::ServiceFailed { status: 503, reason, .. } if reason == "the service answered 503"),
        "{:?}",
        reply.events
    );
    // A transport error that quotes the URL and a header.
    let failing = bot.with_http(FnClient(|request: &HttpRequest| {
        Err(cellflow::runtime::HttpError::Failed(format!(
            "cannot reach {} with {}",
            request.url, request.headers[0].1
        )))
    }));
    let reply = failing
        .turn(&mut failing.new_session(), Request::event("welcome"))
        .unwrap();
    let Event::ServiceFailed { reason, .. } = &reply.events[0] else {
        panic!("{:?}", reply.events);
    };
    assert_eq!(
        reason,
        "the call failed: cannot reach ******/accounts/7?key=****** with Bearer ******"
    );
}

#[test]
fn artifacts_keep_the_names_and_conversation_tests_need_no_environment() {
    let mut project = cellflow::project::Project::new();
    project.add_bytes(
        "bank.flow",
        std::path::Path::new("bank.flow"),
        BANK.as_bytes(),
    );
    let checked = cellflow::check::check(project);
    let program = cellflow::compile::compile(
        &checked.bot,
        &checked.lowered,
        cellflow::check::Prepared::default(),
    )
    .unwrap();
    let artifact = cellflow::compile::write_artifact(&checked.bot, &program).unwrap();
    assert!(artifact.contains("${API_TOKEN}"), "{artifact}");
    // A test's mocks answer by cell id, whatever the environment holds.
    let text = "tests:\n  - name: balance\n    steps:\n      - event: welcome\n        expect: {answers: [\"Balance 42\"]}\n    mocks:\n      - {service: lookup, body: {amount: 42}}\n";
    let bot = Bot::new(program);
    let services = cellflow::testing::services(bot.program());
    let file = cellflow::source::SourceMap::default().add("t.test.yaml", "t.test.yaml", text);
    let (tests, diagnostics) = cellflow::testing::parse(file, text, &services);
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    assert_eq!(cellflow::testing::run(&bot, &tests[0]), []);
}
