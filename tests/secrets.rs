//! Secrets stay secret: masked values, hidden and read-only variables, and
//! conversation ids.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use cellflow::project::Project;
use cellflow::runtime::{
    Bot, Event, FnClient, HttpRequest, HttpResponse, MASK, Request, Session, TurnError,
};

use crate::server::Serve;
use crate::support::{self, Cmd};

/// What the reproducer's user types as a PIN.
const PIN: &str = "SuperSecretPIN-abcd";
/// What the reproducer's user types as a card number.
const CARD: &str = "4111222233334444";

fn reproducer() -> PathBuf {
    support::root().join("tests/secrets/masked_value_in_error_event.flow")
}

fn inline(text: &str) -> Bot {
    let mut project = Project::new();
    project.add_bytes("bot.flow", Path::new("bot.flow"), text.as_bytes());
    match cellflow::compile::load_project(project).map(cellflow::Bot::new) {
        Ok(bot) => bot,
        Err(e) => panic!("inline bot does not load: {e:?}"),
    }
}

/// A bank bot whose PIN is copied, transformed, sent to a service and
/// said back; whose host token and account reply are hidden; and whose
/// customer id and verification flag are read-only.
const VAULT: &str = r#"
bot {
  name "Vault"
  context [api_token, customer_id]
  hidden [api_token, account]
  readonly [customer_id, verified]
}

flow welcome on welcome {
  input pin text {
    prompt "Your PIN?"
    mask
  }
  code {
    x = pin;
    y = pin.to_upper();
    z = "PIN:" + pin;
  }
  code { plain = "nothing secret"; }
  lookup: service {
    method POST
    url "https://bank.example/check"
    header "Authorization" "Bearer {{api_token}}"
    body {"pin": "{{pin}}"}
    save echo
  }
  account: service {
    url "https://bank.example/accounts/{{customer_id}}"
    save account
  }
  code { verified = true; }
  answer "Saved {{z}}."
  input more text { prompt "Anything else?" }
  code { let n = parse_int(more); }
}

flow fallback on fallback {
  answer "Sorry?"
}
"#;

fn vault() -> Bot {
    inline(VAULT)
        .with_http(FnClient(|request: &HttpRequest| {
            let body = match request.cell.as_deref() {
                // The service echoes what it was sent: a copy of the PIN.
                Some("lookup") => request.body.clone().unwrap_or_default(),
                _ => r#"{"balance": 1250, "owner": "Ana"}"#.to_owned(),
            };
            Ok(HttpResponse { status: 200, body })
        }))
        .with_tracing(true)
}

fn start(bot: &Bot) -> Session {
    let mut session = bot.new_session();
    let request = Request::event("welcome")
        .with_context("api_token", "tok-live-998877")
        .with_context("customer_id", "c-1");
    bot.turn(&mut session, request).expect("welcome runs");
    session
}

fn text_of(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value).unwrap()
}

// ---- masking follows the value ----------------------------------------------

#[test]
fn an_error_event_never_quotes_a_masked_value() {
    let bot = Bot::load(reproducer()).unwrap().with_tracing(true);
    let mut session = bot.new_session();
    bot.turn(&mut session, Request::event("welcome")).unwrap();
    bot.turn(&mut session, Request::text("pin")).unwrap();
    let response = bot.turn(&mut session, Request::text(PIN)).unwrap();
    let message = response
        .events
        .iter()
        .find_map(|e| match e {
            Event::Error { message, .. } => Some(message.clone()),
            _ => None,
        })
        .expect("parsing the PIN as a number fails the turn");
    assert!(message.contains(MASK), "{message}");
    let whole = text_of(&response);
    assert!(!whole.contains(PIN), "{whole}");
    assert!(!whole.contains("abcd"), "{whole}");
}

#[test]
fn cellflow_run_prints_no_masked_value() {
    // The failed turn leaves the PIN pending: start over for the card.
    let input = format!("pin\n{PIN}\n:reset\ncard\n{CARD}\n:vars\n");
    let out = Cmd::new()
        .args(["run".as_ref(), reproducer().as_os_str(), "--trace".as_ref()])
        .stdin(&input)
        .run();
    assert_eq!(out.status, 0, "{}{}", out.stdout, out.stderr);
    let all = format!("{}{}", out.stdout, out.stderr);
    assert!(!all.contains(PIN) && !all.contains(CARD), "{all}");
    assert!(all.contains("[error:"), "{all}");
    // The card's copies are masked in the trace and in `:vars`.
    assert!(all.contains(&format!("\"copy\": \"{MASK}\"")), "{all}");
    assert!(all.contains(&format!("\"last4\": \"{MASK}\"")), "{all}");
}

#[test]
fn copies_transforms_and_echoes_of_a_masked_value_are_masked() {
    let bot = vault();
    let mut session = start(&bot);
    let response = bot.turn(&mut session, Request::text("abcd-1234")).unwrap();
    // The channel gets what the author wrote...
    assert_eq!(response.answers[0].text, "Saved PIN:abcd-1234.");
    // ...but its view of the variables, and the trace, show no copy of it.
    for name in ["pin", "x", "y", "z"] {
        assert_eq!(
            response.vars.get(name).unwrap(),
            MASK,
            "{name}: {:?}",
            response.vars
        );
    }
    assert_eq!(response.vars.get("plain").unwrap(), "nothing secret");
    // A service reply is the service's, not masked whole; the copy of the
    // PIN it echoes is.
    assert_eq!(response.vars.value("echo"), Some(json!({"pin": MASK})));
    let shown = format!("{}{}", text_of(&response.vars), text_of(&response.trace));
    assert!(
        !shown.contains("abcd") && !shown.contains("ABCD"),
        "{shown}"
    );
    // The library hands hosts the one redaction step it uses itself.
    let secrets = bot.secrets(&session);
    assert_eq!(
        secrets.redact(&response.answers[0].text),
        // `z` holds the whole "PIN:…", and goes as a whole.
        format!("Saved {MASK}.")
    );
    assert_eq!(secrets.redact("upper ABCD-1234"), format!("upper {MASK}"));
    // A later error that quotes a copy is redacted too.
    let failed = bot.turn(&mut session, Request::text("12x")).unwrap();
    assert!(
        failed
            .events
            .iter()
            .any(|e| matches!(e, Event::Error { .. })),
        "{failed:?}"
    );
    assert!(!text_of(&failed).contains("abcd"), "{failed:?}");
}

#[test]
fn a_session_with_no_masked_value_has_nothing_to_redact() {
    let bot = vault();
    let session = Session::new("s");
    let secrets = bot.secrets(&session);
    assert!(secrets.is_empty());
    assert!(matches!(
        secrets.redact("anything"),
        std::borrow::Cow::Borrowed(_)
    ));
}

// ---- hidden and read-only variables ----------------------------------------

#[test]
fn hidden_variables_never_reach_the_channel() {
    let bot = vault();
    let mut session = start(&bot);
    let response = bot.turn(&mut session, Request::text("abcd-1234")).unwrap();
    // The session has them: the bot uses them.
    assert_eq!(session.vars.get("api_token").unwrap(), "tok-live-998877");
    assert!(session.vars.get("account").is_some());
    // What the channel and the trace see does not.
    for name in ["api_token", "account"] {
        assert!(response.vars.get(name).is_none(), "{:?}", response.vars);
        assert!(
            response.trace.iter().all(|s| !s.changed.contains_key(name)),
            "{:?}",
            response.trace
        );
        assert!(bot.shown_vars(&session).get(name).is_none());
    }
    assert_eq!(response.vars.get("customer_id").unwrap(), "c-1");
    assert!(!text_of(&response).contains("tok-live"), "{response:?}");
}

#[test]
fn a_requests_context_cannot_change_a_read_only_variable() {
    let bot = vault();
    let mut session = start(&bot);
    bot.turn(&mut session, Request::text("abcd-1234")).unwrap();
    let before = text_of(&session);
    // Another customer id, or forging the verification, is refused and
    // changes nothing.
    for (name, value) in [("customer_id", json!("c-2")), ("verified", json!(false))] {
        let forged = Request::text("hello").with_context(name, value);
        assert_eq!(
            bot.turn(&mut session, forged),
            Err(TurnError::ReadOnly {
                name: name.to_owned()
            })
        );
        assert_eq!(text_of(&session), before);
    }
    // The same value again (a host sending its context every turn) is fine.
    let same = Request::text("more").with_context("customer_id", "c-1");
    assert!(bot.turn(&mut session, same).is_ok());
    // A read-only variable the host does not provide cannot be set first
    // by a request either.
    let mut fresh = bot.new_session();
    let early = Request::event("welcome").with_context("verified", true);
    assert_eq!(
        bot.turn(&mut fresh, early),
        Err(TurnError::ReadOnly {
            name: "verified".into()
        })
    );
}

#[test]
fn hidden_and_read_only_survive_an_artifact() {
    let project = support::load(
        &support::root(),
        &[support::root().join("tests/clean/secrets_kept_out_of_answers.flow.yaml")],
    );
    let checked = support::check(project);
    let compiled = cellflow::compile::load_ast(&checked.bot)
        .map(Bot::new)
        .unwrap();
    let artifact = cellflow::compile::write_artifact(&checked.bot, compiled.program()).unwrap();
    let loaded = Bot::from_artifact(cellflow::compile::read_artifact(&artifact).unwrap()).unwrap();
    let program = loaded.program();
    assert_eq!(program.hidden, ["account", "api_token"]);
    assert_eq!(program.readonly, ["customer_id", "verified"]);
    assert_eq!(program.masked, ["pin"]);
    // An artifact of the format before these flags is refused, not read
    // without them.
    let magic = cellflow::compile::ARTIFACT_MAGIC;
    let old = artifact.replacen(
        &format!("{magic} {}", cellflow::compile::ARTIFACT_VERSION),
        &format!("{magic} 1"),
        1,
    );
    assert!(cellflow::compile::read_artifact(&old).is_err());
}

// ---- conversation tests ---------------------------------------------------

#[test]
fn conversation_test_reports_show_no_masked_value() {
    let dir = std::env::temp_dir().join(format!("cellflow-secrets-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("vault.flow"), VAULT).unwrap();
    std::fs::write(
        dir.join("vault.test.yaml"),
        r#"
tests:
  - name: the pin is said back
    context: {api_token: tok-live-998877, customer_id: c-1}
    mocks:
      - service: lookup
        status: 200
        body: '{"pin": "abcd-1234"}'
      - service: account
        status: 200
        body: '{"balance": 1}'
    steps:
      - event: welcome
      - user: abcd-1234
        expect:
          answers: ["Saved abcd-1234."]
          vars: {pin: "abcd-1235", z: "PIN:abcd-1234x", api_token: "tok-live-000"}
"#,
    )
    .unwrap();
    for format in ["human", "junit"] {
        let out = Cmd::new()
            .args([
                "test".as_ref(),
                dir.as_os_str(),
                "--format".as_ref(),
                format.as_ref(),
            ])
            .run();
        let all = format!("{}{}", out.stdout, out.stderr);
        assert_eq!(out.status, 1, "{all}");
        assert!(
            !all.contains("abcd") && !all.contains("tok-live"),
            "{format}:\n{all}"
        );
        assert!(all.contains(MASK), "{format}:\n{all}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

// ---- the server ------------------------------------------------------------

/// Calls a server's conversation API with its key.
fn call(serve: &Serve, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    let body = body.map(Value::to_string);
    crate::server::call(
        method,
        &format!("{}{path}", serve.base),
        Some(crate::server::KEY),
        body.as_deref(),
    )
}

fn serve(bot: &Path) -> Serve {
    Serve::start(bot, &["--store", "memory"])
}

#[test]
fn the_server_keeps_masked_and_hidden_values_out_of_history_and_state() {
    let serve = serve(&reproducer());
    let (status, reply) = call(&serve, "POST", "/v1/conversations", Some(&json!({})));
    assert_eq!(status, 201, "{reply}");
    let code = reply["sessionCode"].as_str().unwrap().to_owned();
    let path = format!("/v1/conversations/{code}");
    for text in ["card", CARD] {
        let (status, reply) = call(&serve, "POST", &path, Some(&json!({"text": text})));
        assert_eq!(status, 200, "{reply}");
    }
    // The answer templates the card's last digits: the channel got them...
    let (_, reply) = call(&serve, "POST", &path, Some(&json!({"text": "card"})));
    assert_eq!(reply["context"]["last4"], MASK, "{reply}");
    assert_eq!(reply["context"]["copy"], MASK, "{reply}");
    // ...and the stored history has the mask in their place.
    let (status, shown) = call(&serve, "GET", &path, None);
    assert_eq!(status, 200, "{shown}");
    let all = shown.to_string();
    assert!(!all.contains(CARD) && !all.contains("4444"), "{all}");
    assert!(all.contains(&format!("Card ending {MASK} saved")), "{all}");
    assert_eq!(shown["state"]["context"]["cardno"], MASK, "{shown}");
    assert_eq!(shown["state"]["context"]["last4"], MASK, "{shown}");
}

#[test]
fn the_server_refuses_a_read_only_change_and_hides_hidden_context() {
    let dir = std::env::temp_dir().join(format!("cellflow-secrets-serve-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("vault.flow");
    std::fs::write(
        &file,
        "bot {\n  context [api_token, customer_id]\n  hidden [api_token]\n  readonly [customer_id]\n}\nflow welcome on welcome {\n  input word text { prompt \"Say something.\" }\n  answer \"Hi {{customer_id}}\"\n}\nflow fallback on fallback {\n  answer \"?\"\n}\n",
    )
    .unwrap();
    let serve = serve(&file);
    let context = json!({"api_token": "tok-live-1", "customer_id": "c-1"});
    let (status, reply) = call(
        &serve,
        "POST",
        "/v1/conversations",
        Some(&json!({"context": context})),
    );
    assert_eq!(status, 201, "{reply}");
    assert!(reply["context"].get("api_token").is_none(), "{reply}");
    assert_eq!(reply["context"]["customer_id"], "c-1", "{reply}");
    let path = format!(
        "/v1/conversations/{}",
        reply["sessionCode"].as_str().unwrap()
    );
    let forged = json!({"text": "hi", "context": {"customer_id": "c-2"}});
    let (status, error) = call(&serve, "POST", &path, Some(&forged));
    assert_eq!(status, 422, "{error}");
    assert_eq!(error["error"]["code"], "read_only", "{error}");
    let (_, shown) = call(&serve, "GET", &path, None);
    assert_eq!(shown["state"]["context"]["customer_id"], "c-1", "{shown}");
    assert!(!shown.to_string().contains("tok-live"), "{shown}");
    drop(serve);
    let _ = std::fs::remove_dir_all(&dir);
}

// ---- conversation ids --------------------------------------------------------

#[test]
fn conversation_ids_are_well_formed_and_distinct() {
    let bot = Bot::load(reproducer()).unwrap();
    let mut seen = HashSet::new();
    for _ in 0..2_000 {
        let id = bot.new_session().id;
        assert_eq!(id.len(), 32, "{id}");
        assert!(
            id.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
            "{id}"
        );
        assert!(seen.insert(id), "an id repeated");
    }
    // Every bit varies: no half of the id is a counter or a constant.
    let ones = seen
        .iter()
        .fold(0u128, |acc, id| acc | u128::from_str_radix(id, 16).unwrap());
    let zeros = seen.iter().fold(0u128, |acc, id| {
        acc | !u128::from_str_radix(id, 16).unwrap()
    });
    assert_eq!((ones, zeros), (u128::MAX, u128::MAX));
}

#[test]
fn explore_shows_no_message_typed_into_a_masked_input() {
    let out = Cmd::new()
        .args(["explore".as_ref(), reproducer().as_os_str()])
        .run();
    let all = format!("{}{}", out.stdout, out.stderr);
    // The PIN it tried fails to parse: the finding and its path say so
    // without the value.
    let failed = all
        .lines()
        .find(|l| l.contains("turn failed:"))
        .unwrap_or_else(|| panic!("{all}"));
    assert!(failed.contains(MASK), "{all}");
    assert!(
        all.contains(&format!("after: \"set pin\" → \"{MASK}\"")),
        "{all}"
    );
}
