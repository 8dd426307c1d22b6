//! `cellflow studio`: its routes, driven over HTTP against the binary
//! (docs/STUDIO.md), and in a real browser (`browser`).

#![cfg(feature = "studio")]

mod browser;

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};

/// A small bot with buttons, an input, a branch, a trigger per flow, and a
/// warning (a cell after `end` is never reached).
pub(crate) const BOT: &str = r#"bot {
  name "Cafe"
  locale "en-US"
}

intent hours {
  examples ["when are you open", "opening hours", "what time do you open"]
}

flow welcome on welcome {
  answer {
    text "Hello! Coffee or tea?"
    button "Coffee" value "coffee"
    button "Tea" value "tea"
  }
  input drink options {
    options ["coffee", "tea"]
    invalid "Coffee or tea, please."
  }
  rule {
    when { drink == "coffee" } goto strong
    else goto mild
  }
  strong: answer "A strong coffee coming up." -> done
  mild: answer "A mild tea coming up."
  done: end "Enjoy!"
  answer "never said"
}

flow opening on intent hours {
  answer "We open at 8."
}

flow fallback on fallback {
  answer "Sorry, I did not get that."
}
"#;

/// A fresh directory holding the bot.
pub(crate) fn bot_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cellflow-studio-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("cafe.flow"), BOT).unwrap();
    dir
}

/// A running `cellflow studio`, stopped when dropped.
pub(crate) struct Studio {
    child: Child,
    pub(crate) base: String,
    pub(crate) key: String,
}

impl Studio {
    pub(crate) fn start(bot: &Path) -> Studio {
        let mut child = Command::new(env!("CARGO_BIN_EXE_cellflow"))
            .arg("studio")
            .arg(bot)
            .args(["--listen", "127.0.0.1:0", "--no-open"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary runs");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let Some(base) = line.trim().strip_prefix("studio on ") else {
            let mut err = String::new();
            let _ = std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err);
            panic!("the studio did not start: {line}{err}");
        };
        let base = base.to_owned();
        let (status, page) = raw("GET", &format!("{base}/"), None, None);
        assert_eq!(status, 200);
        let key = page
            .split("name=\"cellflow-key\" content=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("the page carries its key on loopback")
            .to_owned();
        assert_eq!(key.len(), 32, "{key}");
        Studio { child, base, key }
    }

    pub(crate) fn get(&self, path: &str) -> (u16, Value) {
        let (status, body) = raw(
            "GET",
            &format!("{}{path}", self.base),
            Some(&self.key),
            None,
        );
        (status, serde_json::from_str(&body).unwrap_or(Value::Null))
    }

    pub(crate) fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let (status, body) = raw(
            "POST",
            &format!("{}{path}", self.base),
            Some(&self.key),
            Some(body),
        );
        (status, serde_json::from_str(&body).unwrap_or(Value::Null))
    }

    /// Server-sent events as (name, data), read on a thread.
    pub(crate) fn events(&self) -> mpsc::Receiver<(String, Value)> {
        let (send, receive) = mpsc::channel();
        let url = format!("{}/studio/events?key={}", self.base, self.key);
        std::thread::spawn(move || {
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .http_status_as_error(false)
                .build()
                .into();
            let Ok(response) = agent.get(&url).call() else {
                return;
            };
            let reader = BufReader::new(response.into_body().into_reader());
            let mut name = String::new();
            for line in reader.lines() {
                let Ok(line) = line else { return };
                if let Some(event) = line.strip_prefix("event: ") {
                    event.clone_into(&mut name);
                } else if let Some(data) = line.strip_prefix("data: ") {
                    let value = serde_json::from_str(data).unwrap_or(Value::Null);
                    if send.send((std::mem::take(&mut name), value)).is_err() {
                        return;
                    }
                }
            }
        });
        receive
    }
}

impl Drop for Studio {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn raw(method: &str, url: &str, key: Option<&str>, body: Option<&Value>) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let mut request = ureq::http::Request::builder().method(method).uri(url);
    if let Some(key) = key {
        request = request.header("Authorization", format!("Bearer {key}"));
    }
    let response = match body {
        Some(body) => agent.run(
            request
                .header("Content-Type", "application/json")
                .body(body.to_string())
                .unwrap(),
        ),
        None => agent.run(request.body(()).unwrap()),
    }
    .expect("the studio answers");
    let status = response.status().as_u16();
    let text = response.into_body().read_to_string().unwrap_or_default();
    (status, text)
}

/// The next event named `name`, skipping others.
pub(crate) fn next(events: &mpsc::Receiver<(String, Value)>, name: &str) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match events.recv_timeout(left) {
            Ok((event, data)) if event == name => return data,
            Ok(_) => {}
            Err(e) => panic!("no `{name}` event within 30 s: {e}"),
        }
    }
}

/// Waits for reloads until the picture satisfies `done`; returns it.
fn reloaded(
    studio: &Studio,
    events: &mpsc::Receiver<(String, Value)>,
    done: impl Fn(&Value) -> bool,
) -> Value {
    for _ in 0..5 {
        next(events, "reload");
        let (_, picture) = studio.get("/studio/graph");
        if done(&picture) {
            return picture;
        }
    }
    panic!("no reload brought the edit");
}

fn node<'a>(picture: &'a Value, id: &str) -> &'a Value {
    picture["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["id"] == id)
        .unwrap_or_else(|| panic!("no node {id}"))
}

#[test]
fn studio_draws_the_bot_with_its_triggers_labels_and_diagnostics() {
    let dir = bot_dir("graph");
    let studio = Studio::start(&dir);
    let (status, picture) = studio.get("/studio/graph");
    assert_eq!(status, 200, "{picture}");
    assert_eq!(picture["bot"], "Cafe");
    assert_eq!(picture["collapsed"], false);
    let triggers: Vec<&str> = picture["flows"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["trigger"].as_str())
        .collect();
    assert_eq!(triggers, ["welcome", "intent hours", "fallback"]);
    let welcome = node(&picture, "welcome#0");
    assert_eq!(welcome["kind"], "answer");
    assert!(welcome["file"].as_str().unwrap().ends_with("cafe.flow"));
    assert_eq!(welcome["line"], 11);
    let labels: Vec<&str> = picture["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["label"].as_str().unwrap())
        .collect();
    for label in ["valid", "drink == \"coffee\"", "else"] {
        assert!(labels.contains(&label), "{label} in {labels:?}");
    }
    let warning = picture["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["code"] == "cellflow::check::unreachable_cell")
        .expect("the cell after `end` is reported");
    assert_eq!(warning["node"], "welcome#6");
    assert_eq!(warning["severity"], "warning");
    // One flow alone, and the bot collapsed on request.
    let (_, one) = studio.get("/studio/graph?flow=opening");
    assert_eq!(one["nodes"].as_array().unwrap().len(), 1);
    let (_, collapsed) = studio.get("/studio/graph?collapsed=true");
    assert_eq!(collapsed["nodes"][0]["kind"], "flow");
    let (status, missing) = studio.get("/studio/graph?flow=nope");
    assert_eq!(status, 404);
    assert!(
        missing["error"]["message"]
            .as_str()
            .unwrap()
            .contains("nope")
    );
    // A cell's source lines come from the loaded sources.
    let (_, source) = studio.get("/studio/source?node=welcome%233");
    assert_eq!(source["line"], 24);
    assert!(source["text"].as_str().unwrap().contains("strong: answer"));
    let (status, _) = studio.get("/studio/source?node=..%2F..%2Fetc%2Fpasswd");
    assert_eq!(status, 404);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn studio_routes_want_the_key_and_this_host() {
    let dir = bot_dir("guard");
    let studio = Studio::start(&dir);
    let (status, _) = raw("GET", &format!("{}/studio/graph", studio.base), None, None);
    assert_eq!(status, 401);
    let (status, _) = raw(
        "GET",
        &format!("{}/studio/graph", studio.base),
        Some("wrong"),
        None,
    );
    assert_eq!(status, 401);
    // The conversation API wants it too.
    let (status, _) = raw(
        "POST",
        &format!("{}/v1/conversations", studio.base),
        None,
        Some(&json!({"event": "welcome"})),
    );
    assert_eq!(status, 401);
    // A page that rebinds its own name to this address gets nothing.
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let request = ureq::http::Request::builder()
        .uri(format!("{}/", studio.base))
        .header("Host", "attacker.example")
        .body(())
        .unwrap();
    assert_eq!(agent.run(request).unwrap().status().as_u16(), 421);
    // The assets are the embedded ones, and nothing else is served.
    let (status, script) = raw("GET", &format!("{}/studio/app.js", studio.base), None, None);
    assert_eq!(status, 200);
    assert!(script.contains("EventSource"));
    let (status, _) = raw(
        "GET",
        &format!("{}/studio/../cafe.flow", studio.base),
        None,
        None,
    );
    assert_eq!(status, 404);
    drop(studio);
    // Beyond loopback needs the flag and a key.
    let out = Command::new(env!("CARGO_BIN_EXE_cellflow"))
        .arg("studio")
        .arg(&dir)
        .args(["--listen", "0.0.0.0:0", "--no-open"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--remote"));
    let out = Command::new(env!("CARGO_BIN_EXE_cellflow"))
        .arg("studio")
        .arg(&dir)
        .args(["--listen", "0.0.0.0:0", "--no-open", "--remote"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--api-key"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn studio_traces_turns_saves_them_as_a_test_and_reloads_on_edits() {
    let dir = bot_dir("chat");
    let studio = Studio::start(&dir);
    let events = studio.events();
    next(&events, "hello");
    let (status, hello) = studio.post("/v1/conversations", &json!({"event": "welcome"}));
    assert_eq!(status, 201, "{hello}");
    assert_eq!(hello["answers"][0]["buttons"][1]["value"], "tea");
    let id = hello["sessionCode"].as_str().unwrap().to_owned();
    let turn = next(&events, "turn");
    assert_eq!(turn["conversation"], id.as_str());
    let visited: Vec<&str> = turn["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["node"].as_str().unwrap())
        .collect();
    assert_eq!(visited, ["welcome#0", "welcome#1"]);
    let (status, reply) = studio.post(&format!("/v1/conversations/{id}"), &json!({"text": "tea"}));
    assert_eq!(status, 200, "{reply}");
    let turn = next(&events, "turn");
    let visited: Vec<&str> = turn["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["node"].as_str().unwrap())
        .collect();
    assert_eq!(
        visited,
        ["welcome#1", "welcome#2", "welcome#4", "welcome#5"]
    );
    assert_eq!(turn["steps"][0]["changed"]["drink"], "tea");
    assert_eq!(turn["ended"], true);

    // Save the chat as a test; `cellflow test` passes it.
    let (status, saved) = studio.post("/studio/tests", &json!({"conversation": id}));
    assert_eq!(status, 201, "{saved}");
    assert_eq!(saved["name"], "studio: [welcome] → tea");
    let file = dir.join(format!(
        "{}.test.yaml",
        dir.file_name().unwrap().to_string_lossy()
    ));
    let written = std::fs::read_to_string(&file).unwrap();
    assert!(written.contains("A mild tea coming up."), "{written}");
    let out = Command::new(env!("CARGO_BIN_EXE_cellflow"))
        .arg("test")
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // Saving again numbers the name; an unknown conversation is refused.
    let (_, again) = studio.post("/studio/tests", &json!({"conversation": id}));
    assert_eq!(again["name"], "studio: [welcome] → tea (2)");
    let (status, _) = studio.post("/studio/tests", &json!({"conversation": "nope"}));
    assert_eq!(status, 404);
    let (status, _) = studio.post("/studio/tests", &json!({"conversation": 1}));
    assert_eq!(status, 422);

    // Coverage: the saved tests reach the tea branch, not the coffee one.
    let (status, coverage) = studio.get("/studio/coverage");
    assert_eq!(status, 200, "{coverage}");
    assert_eq!(coverage["passed"], 2);
    assert_eq!(coverage["nodes"]["welcome#4"], "reached");
    assert_eq!(coverage["nodes"]["welcome#3"], "missed");

    // An edit on disk reloads the picture and the bot.
    // (Saving the tests above reloads too: wait for the reload that
    // has the edit.)
    let edited = BOT.replace("A mild tea coming up.", "A green tea coming up.");
    std::fs::write(dir.join("cafe.flow"), edited).unwrap();
    let picture = reloaded(&studio, &events, |picture| {
        node(picture, "welcome#4")["label"]
            .as_str()
            .unwrap()
            .contains("green tea")
    });
    assert!(
        picture["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["severity"] != "error")
    );
    let (_, hello) = studio.post("/v1/conversations", &json!({"event": "welcome"}));
    let id = hello["sessionCode"].as_str().unwrap();
    let (_, reply) = studio.post(&format!("/v1/conversations/{id}"), &json!({"text": "tea"}));
    assert_eq!(reply["answers"][0]["text"], "A green tea coming up.");
    // An edit with an error is drawn, and the last good bot keeps running.
    std::fs::write(dir.join("cafe.flow"), BOT.replace("-> done", "-> nowhere")).unwrap();
    reloaded(&studio, &events, |picture| {
        picture["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["severity"] == "error" && d["node"] == "welcome#3")
    });
    let (status, _) = studio.get("/studio/coverage");
    assert_eq!(status, 409);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn studio_picture_of_a_small_bot_is_stable() {
    let mut project = cellflow::project::Project::new();
    project.add_bytes("cafe.flow", Path::new("cafe.flow"), BOT.as_bytes());
    let checked = cellflow::check::check(project);
    let picture = cellflow::studio::draw(&checked, cellflow::studio::picture::Options::default());
    let json = serde_json::to_string_pretty(&picture).unwrap();
    crate::support::snapshot("studio", "cafe_picture", &json);
}

#[test]
fn studio_offers_the_languages_of_a_bot_that_speaks_several() {
    let dir =
        std::env::temp_dir().join(format!("cellflow-studio-languages-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("flows/support/support.flow.yaml");
    std::fs::copy(example, dir.join("support.flow.yaml")).unwrap();
    let studio = Studio::start(&dir);
    let (_, picture) = studio.get("/studio/graph");
    assert_eq!(picture["languages"], json!(["pt", "es"]));
    // What the page's selector sends: the conversation's language.
    let greet = |language: &str| {
        let (status, reply) = studio.post(
            "/v1/conversations",
            &json!({"event": "welcome", "language": language}),
        );
        assert_eq!(status, 201, "{reply}");
        reply["answers"][0]["text"].as_str().unwrap().to_owned()
    };
    assert_ne!(greet("pt"), greet("es"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn studio_refuses_what_it_cannot_open() {
    let dir = bot_dir("refuse");
    std::fs::write(dir.join("cafe.flow"), BOT.replace("-> done", "-> nowhere")).unwrap();
    let studio = |path: &Path| {
        Command::new(env!("CARGO_BIN_EXE_cellflow"))
            .arg("studio")
            .arg(path)
            .args(["--listen", "127.0.0.1:0", "--no-open"])
            .output()
            .unwrap()
    };
    // A bot with errors: they are shown, and nothing starts.
    let out = studio(&dir);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown target `nowhere`"));
    // A path that is not there.
    let out = studio(&dir.join("missing"));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn studio_never_shows_or_saves_a_secret() {
    let dir = bot_dir("secret");
    std::fs::write(
        dir.join("cafe.flow"),
        BOT.replace(
            "  input drink options {",
            "  input pin integer {\n    prompt \"Your PIN?\"\n    mask\n  }\n  input drink options {",
        ),
    )
    .unwrap();
    let studio = Studio::start(&dir);
    let events = studio.events();
    next(&events, "hello");
    let (_, hello) = studio.post("/v1/conversations", &json!({"event": "welcome"}));
    let id = hello["sessionCode"].as_str().unwrap().to_owned();
    next(&events, "turn");
    let (status, reply) = studio.post(&format!("/v1/conversations/{id}"), &json!({"text": "4321"}));
    assert_eq!(status, 200, "{reply}");
    // The trace stream has the mask where the PIN was typed and stored.
    let turn = next(&events, "turn");
    assert_eq!(turn["text"], "******", "{turn}");
    assert!(!turn.to_string().contains("4321"), "{turn}");
    // So has the saved test.
    let (status, saved) = studio.post("/studio/tests", &json!({"conversation": id}));
    assert_eq!(status, 201, "{saved}");
    let file = dir.join(format!(
        "{}.test.yaml",
        dir.file_name().unwrap().to_string_lossy()
    ));
    let written = std::fs::read_to_string(&file).unwrap();
    assert!(!written.contains("4321"), "{written}");
    assert!(written.contains("user: \"******\""), "{written}");
    let _ = std::fs::remove_dir_all(&dir);
}
