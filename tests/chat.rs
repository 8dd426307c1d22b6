//! `cellflow run` as a chat that helps: numbered picks, `:help`, `:trace`,
//! `:lang`, `:save`, service mocks and failure reasons, and on a real
//! terminal Ctrl-C clearing the line and a history kept across runs.

use std::io::{Read as _, Write as _};
use std::path::PathBuf;

use crate::support::Cmd;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cellflow-chat-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A bot with a menu, a service and a masked input.
const BOT: &str = r#"bot {
  name "Chat"
  languages [en, es]
}

flow welcome on welcome {
  answer {
    text @en "Hi! Pick one." @es "¡Hola! Elige una."
    quick_reply @en "Balance" @es "Saldo" value "balance"
    quick_reply @en "Help" @es "Ayuda" value "help"
  }
}

intent balance {
  examples ["balance", "my balance", "how much money do I have"]
}

intent help {
  examples ["help", "I need help", "what can you do"]
}

flow balance on intent balance {
  input pin integer {
    prompt @en "Your PIN?" @es "¿Tu PIN?"
    mask
  }
  lookup: service {
    url "SERVICE_URL"
    timeout 300
    save account
    on_error down
  }
  answer @en "You have {{account.balance}}." @es "Tienes {{account.balance}}."
  end
  down: answer @en "The bank is not answering." @es "El banco no responde."
}

flow help on intent help {
  answer {
    text @en "Sizes:" @es "Tamaños:"
    quick_reply @en "Small" @es "Chico" value "10"
    quick_reply @en "Large" @es "Grande" value "20"
  }
  input amount integer {
    prompt @en "How many?" @es "¿Cuántos?"
  }
  answer @en "You chose {{amount}}." @es "Elegiste {{amount}}."
}

flow lost on fallback {
  answer @en "Sorry?" @es "¿Perdón?"
}
"#;

fn bot(name: &str, url: &str) -> PathBuf {
    let dir = scratch(name);
    std::fs::write(dir.join("bot.flow"), BOT.replace("SERVICE_URL", url)).unwrap();
    dir
}

fn chat(dir: &std::path::Path, extra: &[&str], input: &str) -> crate::support::Output {
    let out = Cmd::new()
        .args(["run", dir.to_str().unwrap()])
        .args(extra)
        .stdin(input)
        .run();
    assert_eq!(out.status, 0, "{}", out.stderr);
    out
}

#[test]
fn numbers_pick_what_was_offered_and_commands_help() {
    let dir = bot("picks", "http://127.0.0.1:9/unused");
    let out = chat(
        &dir,
        &[],
        ":help\n2\n3\n:event help\n2\n:lang\n:lang es\n:reset\n:trace on\nmy balance\n:trace off\n:nope\n",
    );
    let transcript = out.stdout.replace(dir.to_str().unwrap(), "<dir>");
    crate::support::snapshot("cli", "chat_picks", &transcript);
    // A number picks the offered choice; in an integer input it is the value.
    assert!(transcript.contains("> 2\n  (→ help)"), "{transcript}");
    assert!(transcript.contains("You chose 2."), "{transcript}");
    assert!(transcript.contains("¡Hola! Elige una."), "{transcript}");
    assert!(transcript.contains("· intent balance ("), "{transcript}");
}

#[test]
fn a_chat_saved_as_a_test_passes_and_keeps_secrets_out() {
    let dir = bot("save", "http://127.0.0.1:9/unused");
    let tests = dir.join("tests.test.yaml");
    std::fs::write(
        &tests,
        "# mine\ntests:\n- name: mine\n  steps:\n  - user: help\n    expect:\n      answers: [\"Sizes:\", \"How many?\"]\n  mocks:\n  - {service: lookup, status: 200, body: {balance: 120}}\n",
    )
    .unwrap();
    let save = format!(":save {}\n", tests.display());
    let out = chat(
        &dir,
        &["--mocks", tests.to_str().unwrap()],
        &format!("1\n4321\n{save}"),
    );
    assert!(out.stdout.contains("You have 120."), "{}", out.stdout);
    assert!(out.stdout.contains("> ******"), "{}", out.stdout);
    assert!(
        out.stdout.contains("saved 3 steps as a test"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("step 3 answered a masked input"),
        "{}",
        out.stdout
    );
    let written = std::fs::read_to_string(&tests).unwrap();
    assert!(
        written.starts_with("# mine\ntests:\n- name: mine\n"),
        "{written}"
    );
    assert!(
        !written.contains("4321"),
        "the PIN is never written: {written}"
    );
    // The saved test holds the service's answer as its mock, and passes
    // once the masked step holds a test value again.
    std::fs::write(&tests, written.replace("\"******\"", "\"1111\"")).unwrap();
    let tested = Cmd::new().args(["test", dir.to_str().unwrap()]).run();
    assert_eq!(tested.status, 0, "{}{}", tested.stdout, tested.stderr);
    assert!(
        tested.stdout.contains("2 passed, 0 failed"),
        "{}",
        tested.stdout
    );

    // A file that is not a test list is left alone.
    let other = dir.join("other.yaml");
    std::fs::write(&other, "name: x\n").unwrap();
    let out = chat(&dir, &[], &format!(":save {}\n", other.display()));
    assert!(
        out.stdout.contains("no top-level `tests:` list"),
        "{}",
        out.stdout
    );
    assert_eq!(std::fs::read_to_string(&other).unwrap(), "name: x\n");
}

#[test]
fn failing_services_say_why() {
    // Refused: nothing listens on the port.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let dir = bot("refused", &format!("http://127.0.0.1:{port}/balance"));
    let out = chat(&dir, &[], "balance\n1234\n");
    assert!(
        out.stdout.contains("[service `lookup` failed at "),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains(": the call failed: "), "{}", out.stdout);
    assert!(
        out.stdout.contains("The bank is not answering."),
        "{}",
        out.stdout
    );

    // Timed out: a server that takes the connection and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dir = bot(
        "timeout",
        &format!("http://{}/balance", silent.local_addr().unwrap()),
    );
    let out = chat(&dir, &[], "balance\n1234\n");
    assert!(out.stdout.contains("the call timed out"), "{}", out.stdout);
    drop(silent);

    // A 500 with a body: the reason and the body's first characters.
    let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dir = bot(
        "status",
        &format!("http://{}/balance", server.local_addr().unwrap()),
    );
    let answering = std::thread::spawn(move || {
        let (mut stream, _) = server.accept().unwrap();
        let mut request = [0u8; 4096];
        let _ = stream.read(&mut request);
        let body = format!(
            "{{\"error\": \"ledger offline\", \"pin\": 1234, \"detail\": \"{}\"}}",
            "x".repeat(400)
        );
        let _ = write!(
            stream,
            "HTTP/1.1 500 Internal Server Error\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
    });
    let out = chat(&dir, &[], "balance\n1234\n");
    answering.join().unwrap();
    assert!(
        out.stdout
            .contains("the service answered 500; it said: {\"error\": \"ledger offline\""),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("xxx…]"),
        "a long body is cut: {}",
        out.stdout
    );
    // The PIN the service echoed back is not shown.
    assert!(out.stdout.contains("\"pin\": ******"), "{}", out.stdout);
    assert!(!out.stdout.contains("1234,"), "{}", out.stdout);

    // With --mocks, a service without one fails saying so, offline.
    let tests = dir.join("empty.test.yaml");
    std::fs::write(
        &tests,
        "tests:\n  - name: t\n    steps:\n      - user: help\n",
    )
    .unwrap();
    let out = chat(
        &dir,
        &["--mocks", tests.to_str().unwrap()],
        "balance\n1234\n",
    );
    assert!(
        out.stdout.contains("no mock for service `lookup` in"),
        "{}",
        out.stdout
    );
}

/// Runs the chat on a pseudo-terminal (`script` from util-linux), typing
/// `keys`; None when `script` is not installed.
fn on_terminal(dir: &std::path::Path, history: &std::path::Path, keys: &[&str]) -> Option<String> {
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("NOTICE: `script` (util-linux) is not installed; the terminal test is skipped");
        return None;
    }
    let command = format!("{} run {}", env!("CARGO_BIN_EXE_cellflow"), dir.display());
    let mut child = std::process::Command::new("script")
        .args(["-qfec", &command, "/dev/null"])
        .env("CELLFLOW_HISTORY", history)
        .env("NO_COLOR", "1")
        .env("TERM", "xterm")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    for key in keys {
        // Typed one at a time, as a person would: the chat answers each
        // line before it reads the next.
        std::thread::sleep(std::time::Duration::from_millis(300));
        stdin.write_all(key.as_bytes()).unwrap();
        stdin.flush().unwrap();
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    drop(stdin);
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{output:?}");
    Some(String::from_utf8_lossy(&output.stdout).into_owned())
}

#[test]
fn on_a_terminal_ctrl_c_clears_the_line_and_history_is_kept() {
    let dir = bot("terminal", "http://127.0.0.1:9/unused");
    let history = dir.join("history");
    let Some(screen) = on_terminal(&dir, &history, &["some half-typed text\x03", "2\r", "\x04"])
    else {
        return;
    };
    assert!(
        screen.contains("(line cleared; Ctrl-D or :quit leaves)"),
        "{screen}"
    );
    assert!(screen.contains("How many?"), "{screen}");
    let kept = std::fs::read_to_string(&history).unwrap();
    assert!(kept.lines().any(|l| l == "2"), "{kept}");
    assert!(!kept.contains("half-typed"), "{kept}");

    // A PIN typed into a masked input shows as stars, and stays out of
    // the history.
    let screen = on_terminal(&dir, &history, &["balance\r", "9876\r", ":quit\r"]).unwrap();
    assert!(screen.contains("you> ****"), "{screen}");
    assert!(!screen.contains("9876"), "{screen}");
    let kept = std::fs::read_to_string(&history).unwrap();
    assert!(kept.lines().any(|l| l == "balance"), "{kept}");
    assert!(!kept.contains("9876"), "{kept}");
}

#[test]
fn saving_twice_numbers_the_second_test() {
    let dir = bot("twice", "http://127.0.0.1:9/unused");
    let file = dir.join("bot.test.yaml");
    let save = format!(":save {}\n", file.display());
    chat(&dir, &[], &format!("2\n{save}{save}"));
    let written = std::fs::read_to_string(&file).unwrap();
    assert!(
        written.contains("name: \"saved chat: welcome → help\"\n"),
        "{written}"
    );
    assert!(
        written.contains("name: \"saved chat: welcome → help (2)\"\n"),
        "{written}"
    );
    let tested = Cmd::new().args(["test", file.to_str().unwrap()]).run();
    assert!(
        tested.stdout.contains("2 passed, 0 failed"),
        "{}",
        tested.stdout
    );

    // A bot with errors runs none of its tests, and says so.
    std::fs::write(
        dir.join("broken.flow.yaml"),
        "flows: {a: {cells: [{jump: nowhere}]}}\n",
    )
    .unwrap();
    let tested = Cmd::new().args(["test", dir.to_str().unwrap()]).run();
    assert_eq!(tested.status, 1);
    assert!(
        tested
            .stdout
            .contains("the bot has errors (above); none of its tests ran"),
        "{}",
        tested.stdout
    );
}
