//! Running the server as an operator does: one configuration file whose
//! keys the environment and flags override, log lines with request ids that
//! never carry what users said, CORS for browser clients, and a drain on
//! SIGTERM that finishes the turns running.

use std::io::{Read as _, Write as _};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::server::{KEY, Serve, call, pizza, scratch};
use crate::support::Cmd;

fn texts(reply: &Value) -> Vec<String> {
    reply["answers"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|x| x["text"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn the_file_is_overridden_by_the_environment_and_the_environment_by_flags() {
    let dir = scratch("config-precedence");
    let file = dir.join("cellflow.toml");
    std::fs::write(
        &file,
        "# longest text, in bytes\nmax_text_bytes = 10\nstore = \"memory\"\n",
    )
    .unwrap();
    let config = file.to_str().unwrap();
    let long = |server: &Serve, bytes: usize| {
        call(
            "POST",
            &format!("{}/v1/conversations", server.base),
            Some(KEY),
            Some(&json!({"text": "x".repeat(bytes)}).to_string()),
        )
        .0
    };

    let from_file = Serve::start(&pizza(), &["--config", config]);
    assert_eq!(long(&from_file, 10), 201);
    assert_eq!(long(&from_file, 11), 422);

    let from_env = Serve::start_with(
        &pizza(),
        &["--config", config],
        None,
        &[("CELLFLOW_MAX_TEXT_BYTES", "20")],
    );
    assert_eq!(long(&from_env, 20), 201);
    assert_eq!(long(&from_env, 21), 422);

    let from_flag = Serve::start_with(
        &pizza(),
        &["--config", config, "--max-text-bytes", "30"],
        None,
        &[("CELLFLOW_MAX_TEXT_BYTES", "20")],
    );
    assert_eq!(long(&from_flag, 30), 201);
    assert_eq!(long(&from_flag, 31), 422);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_bad_configuration_is_refused_naming_the_key_and_the_file() {
    let dir = scratch("config-bad");
    let file = dir.join("cellflow.toml");
    let run = |text: &str, env: &[(&str, &str)]| {
        std::fs::write(&file, text).unwrap();
        let mut cmd = Cmd::new().args(["serve", "flows/pizza", "--config", file.to_str().unwrap()]);
        for (k, v) in env {
            cmd = cmd.env(k, v);
        }
        cmd.env("CELLFLOW_API_KEYS", KEY).run()
    };
    let unknown = run("max_txt_bytes = 10\n", &[]);
    assert_eq!(unknown.status, 2);
    assert!(
        unknown.stderr.contains("max_txt_bytes") && unknown.stderr.contains("cellflow.toml"),
        "{}",
        unknown.stderr
    );
    let wrong_type = run("rate_limit = \"fast\"\n", &[]);
    assert_eq!(wrong_type.status, 2);
    assert!(
        wrong_type.stderr.contains("rate_limit"),
        "{}",
        wrong_type.stderr
    );
    let bad_env = run("", &[("CELLFLOW_IDLE_MINUTES", "soon")]);
    assert_eq!(bad_env.status, 2);
    assert!(
        bad_env.stderr.contains("IDLE_MINUTES") && bad_env.stderr.contains("CELLFLOW_"),
        "{}",
        bad_env.stderr
    );
    let bad_webhook = run(
        "[[webhooks]]\nname = \"crm\"\nurl = \"ftp://crm.example.com\"\n",
        &[],
    );
    assert_eq!(bad_webhook.status, 2);
    assert!(
        bad_webhook.stderr.contains("webhook `crm`"),
        "{}",
        bad_webhook.stderr
    );
    let unset = run(
        "[[webhooks]]\nname = \"crm\"\nurl = \"https://crm.example.com\"\nsecret = \"${NOT_SET_ANYWHERE_42}\"\n",
        &[],
    );
    assert_eq!(unset.status, 2);
    assert!(
        unset.stderr.contains("webhooks.crm.secret")
            && unset.stderr.contains("NOT_SET_ANYWHERE_42"),
        "{}",
        unset.stderr
    );
    let bad_origin = run("[cors]\norigins = [\"app.example.com/path\"]\n", &[]);
    assert_eq!(bad_origin.status, 2);
    assert!(
        bad_origin.stderr.contains("cors origin"),
        "{}",
        bad_origin.stderr
    );
    let missing = Cmd::new()
        .args(["serve", "flows/pizza", "--config", "no/such.toml"])
        .env("CELLFLOW_API_KEYS", KEY)
        .run();
    assert_eq!(missing.status, 2);
    assert!(
        missing.stderr.contains("no/such.toml"),
        "{}",
        missing.stderr
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// A bot whose script fails on the masked PIN it was given, quoting it.
fn leaky_bot(dir: &std::path::Path) -> std::path::PathBuf {
    let bot = dir.join("bot.flow.yaml");
    std::fs::write(
        &bot,
        r#"
flows:
  welcome:
    on: welcome
    cells:
      - input: {var: pin, type: text, prompt: "Your PIN?", mask: true}
      - code: 'throw "refused PIN " + pin;'
      - answer: "never"
  fallback:
    on: fallback
    cells:
      - answer: "Sorry?"
"#,
    )
    .unwrap();
    bot
}

#[test]
fn log_lines_carry_request_ids_and_failures_but_never_what_users_said() {
    let dir = scratch("logs");
    let bot = leaky_bot(&dir);
    let server = Serve::start_with(
        &bot,
        &["--store", "memory", "--log-format", "json"],
        None,
        &[("RUST_LOG", "info")],
    );
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut response = agent
        .post(&format!("{}/v1/conversations", server.base))
        .header("Authorization", format!("Bearer {KEY}"))
        .header("x-request-id", "lb-42")
        .send("{}")
        .unwrap();
    assert_eq!(
        response.headers().get("x-request-id").unwrap(),
        "lb-42",
        "a caller's request id comes back"
    );
    let started: Value =
        serde_json::from_str(&response.body_mut().read_to_string().unwrap()).unwrap();
    let code = started["sessionCode"].as_str().unwrap();
    let (status, reply) = call(
        "POST",
        &format!("{}/v1/conversations/{code}", server.base),
        Some(KEY),
        Some(r#"{"text": "SuperSecretPIN-4711"}"#),
    );
    assert_eq!(status, 200);
    assert!(
        reply["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["type"] == "error"),
        "{reply}"
    );
    // The log is written as it happens; give it a moment to arrive.
    let deadline = Instant::now() + Duration::from_secs(5);
    let log = loop {
        let log = server.log();
        if log.contains("the turn failed") || Instant::now() > deadline {
            break log;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let lines: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let request = lines
        .iter()
        .find(|l| l["message"] == "request" && l["span"]["request_id"] == "lb-42")
        .unwrap_or_else(|| panic!("no request line with the caller's id:\n{log}"));
    assert_eq!(request["route"], "/v1/conversations");
    assert_eq!(request["status"], 201);
    let failed = lines
        .iter()
        .find(|l| {
            l["message"]
                .as_str()
                .unwrap_or_default()
                .contains("the turn failed")
        })
        .unwrap();
    assert_eq!(failed["level"], "WARN");
    assert_eq!(failed["conversation"], code);
    assert!(
        failed["reason"].as_str().unwrap().contains("refused PIN"),
        "{failed}"
    );
    assert!(
        !log.contains("SuperSecretPIN"),
        "the masked value reached the log:\n{log}"
    );
    assert!(!log.contains(KEY), "the API key reached the log:\n{log}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn browsers_from_configured_origins_may_call_and_others_may_not() {
    let dir = scratch("cors");
    let file = dir.join("cellflow.toml");
    std::fs::write(
        &file,
        "[cors]\norigins = [\"https://app.example.com\"]\nmax_age_secs = 600\n",
    )
    .unwrap();
    let server = Serve::start(
        &pizza(),
        &["--store", "memory", "--config", file.to_str().unwrap()],
    );
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let preflight = |origin: &str| {
        let request = ureq::http::Request::builder()
            .method("OPTIONS")
            .uri(format!("{}/v1/conversations", server.base))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .header(
                "Access-Control-Request-Headers",
                "authorization, content-type",
            )
            .body(())
            .unwrap();
        agent.run(request).unwrap()
    };
    let allowed = preflight("https://app.example.com");
    assert_eq!(
        allowed
            .headers()
            .get("access-control-allow-origin")
            .unwrap(),
        "https://app.example.com"
    );
    assert_eq!(
        allowed.headers().get("access-control-max-age").unwrap(),
        "600"
    );
    let methods = allowed
        .headers()
        .get("access-control-allow-methods")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        methods.contains("POST") && methods.contains("PATCH"),
        "{methods}"
    );
    let refused = preflight("https://evil.example.com");
    assert!(
        refused
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );

    // Without configured origins, no CORS headers at all.
    let closed = Serve::start(&pizza(), &["--store", "memory"]);
    let request = ureq::http::Request::builder()
        .method("POST")
        .uri(format!("{}/v1/conversations", closed.base))
        .header("Origin", "https://app.example.com")
        .header("Authorization", format!("Bearer {KEY}"))
        .body("{}".to_owned())
        .unwrap();
    let response = agent.run(request).unwrap();
    assert_eq!(response.status(), 201);
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// A receiver that answers each request after `delay`, counting them.
fn slow_receiver(delay: Duration) -> (u16, std::thread::JoinHandle<()>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        if let Ok((mut stream, _)) = listener.accept() {
            let mut buffer = [0u8; 4096];
            let _ = stream.read(&mut buffer);
            std::thread::sleep(delay);
            let body = r#"{"ok": true}"#;
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (port, handle)
}

#[test]
#[cfg(unix)]
fn sigterm_finishes_the_turns_running_then_exits() {
    let dir = scratch("drain");
    let (port, receiver) = slow_receiver(Duration::from_millis(1_500));
    let bot = dir.join("bot.flow.yaml");
    std::fs::write(
        &bot,
        format!(
            r#"
flows:
  welcome:
    on: welcome
    cells:
      - answer: "Hello"
  slow:
    cells:
      - id: lookup
        service:
          url: "http://127.0.0.1:{port}/slow"
          timeout_ms: 10000
          save: reply
      - answer: "The service answered."
  fallback:
    on: fallback
    cells:
      - answer: "Sorry?"
"#
        ),
    )
    .unwrap();
    let mut server = Serve::start(&bot, &["--store", "memory", "--drain-secs", "20"]);
    let base = server.base.clone();
    let turn = std::thread::spawn(move || {
        call(
            "POST",
            &format!("{base}/v1/conversations"),
            Some(KEY),
            Some(r#"{"event": "slow"}"#),
        )
    });
    // The turn is waiting on the service when the signal arrives.
    std::thread::sleep(Duration::from_millis(500));
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &server.pid().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let (status, reply) = turn.join().unwrap();
    assert_eq!(status, 201, "{reply}");
    assert_eq!(texts(&reply), ["The service answered."]);
    let deadline = Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(exit) = server.try_wait() {
            break exit;
        }
        assert!(
            Instant::now() < deadline,
            "the server did not exit after draining"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "{exit:?}");
    assert!(
        server.log().contains("finishing the requests in flight"),
        "{}",
        server.log()
    );
    let _ = receiver.join();
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn the_shipped_configuration_file_is_valid() {
    let dir = scratch("shipped-config");
    let db = dir.join("sessions.db");
    // Its address and file are the production ones; the flags move them.
    let server = Serve::start(
        &pizza(),
        &[
            "--config",
            "deploy/cellflow.toml",
            "--sqlite",
            db.to_str().unwrap(),
        ],
    );
    let (status, _) = call("GET", &format!("{}/healthz", server.base), None, None);
    assert_eq!(status, 200);
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn the_systemd_unit_passes_systemd_analyze() {
    let analyze = std::process::Command::new("systemd-analyze")
        .arg("--version")
        .output();
    if analyze.is_err() {
        eprintln!(
            "notice: skipped checking deploy/cellflow.service: systemd-analyze is not installed"
        );
        return;
    }
    let dir = scratch("systemd");
    let unit = std::fs::read_to_string(crate::support::root().join("deploy/cellflow.service"))
        .unwrap()
        .replace("/usr/local/bin/cellflow", env!("CARGO_BIN_EXE_cellflow"));
    let file = dir.join("cellflow.service");
    std::fs::write(&file, unit).unwrap();
    let out = std::process::Command::new("systemd-analyze")
        .arg("verify")
        .arg(&file)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{said}");
    assert!(!said.contains("cellflow.service:"), "{said}");
    let _ = std::fs::remove_dir_all(dir);
}
