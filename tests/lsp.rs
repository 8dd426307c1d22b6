//! `cellflow lsp` driven over stdio with real protocol messages, as an
//! editor drives it: the JSON a client sees for each request, and the
//! diagnostics it is sent as the author types.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};

/// A client talking to one `cellflow lsp` process.
struct Client {
    child: Child,
    stdin: ChildStdin,
    messages: mpsc::Receiver<Value>,
    /// Notifications that arrived while waiting for something else.
    pending: Vec<Value>,
    next_id: i64,
    /// The bot's directory, replaced by `BOT` in what tests compare.
    dir: PathBuf,
}

impl Client {
    fn start(dir: &Path) -> Client {
        let mut child = Command::new(env!("CARGO_BIN_EXE_cellflow"))
            .args(["lsp", "--debounce-ms", "20"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let (tx, messages) = mpsc::channel();
        std::thread::spawn(move || {
            loop {
                let mut length = None;
                loop {
                    let mut line = String::new();
                    if stdout.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let line = line.trim_end();
                    if line.is_empty() {
                        break;
                    }
                    if let Some(n) = line.strip_prefix("Content-Length: ") {
                        length = n.parse::<usize>().ok();
                    }
                }
                let mut body = vec![0; length.expect("a Content-Length header")];
                stdout.read_exact(&mut body).unwrap();
                if tx.send(serde_json::from_slice(&body).unwrap()).is_err() {
                    return;
                }
            }
        });
        Client {
            child,
            stdin,
            messages,
            pending: Vec::new(),
            next_id: 0,
            dir: dir.to_owned(),
        }
    }

    fn send(&mut self, message: &Value) {
        let body = message.to_string();
        write!(self.stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).unwrap();
        self.stdin.flush().unwrap();
    }

    fn receive(&mut self) -> Value {
        self.messages
            .recv_timeout(Duration::from_secs(60))
            .expect("the server answers within a minute")
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        loop {
            let message = self.receive();
            if message.get("id") == Some(&json!(id)) && message.get("method").is_none() {
                return message;
            }
            self.pending.push(message);
        }
    }

    /// The result of a request, with the bot's directory written `BOT`.
    fn result(&mut self, method: &str, params: Value) -> Value {
        let response = self.request(method, params);
        assert!(response.get("error").is_none(), "{method}: {response}");
        self.relative(&response["result"])
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(&json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    fn uri(&self, file: &str) -> String {
        url(&self.dir.join(file))
    }

    fn relative(&self, value: &Value) -> Value {
        let text = value.to_string().replace(&url(&self.dir), "file:///BOT");
        serde_json::from_str(&text).unwrap()
    }

    /// The next diagnostics published for a file.
    fn diagnostics(&mut self, file: &str) -> Value {
        let uri = self.uri(file);
        let is_it = |m: &Value| {
            m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == uri.as_str()
        };
        if let Some(at) = self.pending.iter().position(is_it) {
            let found = self.pending.remove(at);
            return self.relative(&found["params"]);
        }
        loop {
            let message = self.receive();
            if is_it(&message) {
                return self.relative(&message["params"]);
            }
            self.pending.push(message);
        }
    }

    fn open(&mut self, file: &str) {
        let text = std::fs::read_to_string(self.dir.join(file)).unwrap();
        let uri = self.uri(file);
        let language = if Path::new(file).extension().is_some_and(|e| e == "flow") {
            "cellflow"
        } else {
            "yaml"
        };
        self.notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": uri, "languageId": language, "version": 1, "text": text}}),
        );
    }

    fn at(&self, file: &str, line: u32, character: u32) -> Value {
        json!({"textDocument": {"uri": self.uri(file)}, "position": {"line": line, "character": character}})
    }

    fn shutdown(mut self) -> i32 {
        let response = self.request("shutdown", Value::Null);
        assert_eq!(response["result"], Value::Null);
        self.notify("exit", Value::Null);
        let status = self.child.wait().unwrap();
        status.code().unwrap_or(-1)
    }
}

fn url(path: &Path) -> String {
    format!("file://{}", path.display())
}

const MAIN: &str = r#"flow welcome on welcome {
  answer "Hi {{customer}}!"
  input name { prompt "Your name?" }
  rule {
    when { name == "admin" } goto admin
    else goto menu
  }
  admin: answer "Welcome back, {{name | \"friend\"}}"
}
"#;

const MORE: &str = r#"intents:
  help:
    examples: ["help me", "i need help", "can you help"]
flows:
  menu:
    on: {intent: help}
    cells:
      - id: ask
        input:
          var: topic
          options: [billing, other]
      - answer: "About {{topic}}"
      - jump: welcome.admin
  fallback:
    on: fallback
    cells:
      - answer: "Sorry?"
"#;

/// A bot of three files (settings, DSL, YAML) in a fresh directory.
fn bot(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cellflow-lsp-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("cellflow.yaml"),
        "name: Helper\ncontext: [customer]\n",
    )
    .unwrap();
    std::fs::write(dir.join("main.flow"), MAIN).unwrap();
    std::fs::write(dir.join("more.flow.yaml"), MORE).unwrap();
    dir.canonicalize().unwrap()
}

fn initialize(client: &mut Client) -> Value {
    let root = url(&client.dir);
    let result = client.result(
        "initialize",
        json!({
            "processId": null,
            "rootUri": root,
            "workspaceFolders": [{"uri": root, "name": "bot"}],
            "capabilities": {"textDocument": {"rename": {"prepareSupport": true}}},
        }),
    );
    client.notify("initialized", json!({}));
    result
}

/// Pretty JSON with every object's keys sorted (the server's maps, such
/// as a rename's changes by file, have no order of their own).
fn pretty(value: &Value) -> String {
    fn sorted(value: &Value) -> Value {
        match value {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                Value::Object(
                    keys.into_iter()
                        .map(|k| (k.clone(), sorted(&map[k])))
                        .collect(),
                )
            }
            Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    serde_json::to_string_pretty(&sorted(value)).unwrap()
}

#[test]
fn initialize_announces_what_the_server_answers() {
    let dir = bot("init");
    let mut client = Client::start(&dir);
    let mut result = initialize(&mut client);
    result["serverInfo"]["version"] = json!("VERSION");
    crate::support::snapshot("lsp", "initialize", &pretty(&result));
    assert_eq!(client.shutdown(), 0);
}

#[test]
fn diagnostics_follow_the_edits_and_reach_the_other_files() {
    let dir = bot("diagnostics");
    let mut client = Client::start(&dir);
    initialize(&mut client);
    client.open("main.flow");
    // The whole bot is checked: the open file and those read from disk.
    assert_eq!(client.diagnostics("main.flow")["diagnostics"], json!([]));
    assert_eq!(
        client.diagnostics("more.flow.yaml")["diagnostics"],
        json!([])
    );
    // Typing a misspelt target (line 5, `goto menu` → `goto nenu`).
    client.notify(
        "textDocument/didChange",
        json!({
            "textDocument": {"uri": client.uri("main.flow"), "version": 2},
            "contentChanges": [{"range": {"start": {"line": 5, "character": 14}, "end": {"line": 5, "character": 16}}, "text": "ne"}],
        }),
    );
    let published = client.diagnostics("main.flow");
    crate::support::snapshot("lsp", "diagnostics_unknown_target", &pretty(&published));
    // Renaming the cell `ask` away in the YAML file breaks nothing; breaking
    // `welcome.admin` there is reported in that file.
    client.open("more.flow.yaml");
    client.notify(
        "textDocument/didChange",
        json!({
            "textDocument": {"uri": client.uri("more.flow.yaml"), "version": 2},
            "contentChanges": [{"text": MORE.replace("welcome.admin", "welcome.admn")}],
        }),
    );
    let mut yaml = client.diagnostics("more.flow.yaml");
    while yaml["version"] != json!(2) {
        yaml = client.diagnostics("more.flow.yaml");
    }
    let codes: Vec<&str> = yaml["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["cellflow::check::unknown_target"]);
    assert!(
        yaml["diagnostics"][0]["message"]
            .as_str()
            .unwrap()
            .contains("welcome.admin")
    );
    // Fixing both clears both.
    client.notify(
        "textDocument/didChange",
        json!({
            "textDocument": {"uri": client.uri("main.flow"), "version": 3},
            "contentChanges": [{"text": MAIN}],
        }),
    );
    client.notify(
        "textDocument/didChange",
        json!({
            "textDocument": {"uri": client.uri("more.flow.yaml"), "version": 3},
            "contentChanges": [{"text": MORE}],
        }),
    );
    loop {
        let main = client.diagnostics("main.flow");
        if main["version"] == json!(3) {
            assert_eq!(main["diagnostics"], json!([]));
            break;
        }
    }
    // A syntax error is reported where it is, and the rest still checks.
    client.notify(
        "textDocument/didChange",
        json!({
            "textDocument": {"uri": client.uri("main.flow"), "version": 4},
            "contentChanges": [{"range": {"start": {"line": 1, "character": 2}, "end": {"line": 1, "character": 8}}, "text": "anwser"}],
        }),
    );
    loop {
        let main = client.diagnostics("main.flow");
        if main["version"] == json!(4) {
            assert_eq!(
                main["diagnostics"][0]["code"],
                "cellflow::syntax::unknown_cell_kind"
            );
            assert!(
                main["diagnostics"][0]["message"]
                    .as_str()
                    .unwrap()
                    .contains("did you mean `answer`?")
            );
            break;
        }
    }
    assert_eq!(client.shutdown(), 0);
}

#[test]
fn definition_references_and_hover_point_across_syntaxes() {
    let dir = bot("navigate");
    let mut client = Client::start(&dir);
    initialize(&mut client);
    client.open("main.flow");
    // `goto menu` (line 5) is the flow in the YAML file.
    let definition = client.result("textDocument/definition", client.at("main.flow", 5, 15));
    assert_eq!(
        definition,
        json!([{"uri": "file:///BOT/more.flow.yaml", "range": {"start": {"line": 4, "character": 2}, "end": {"line": 4, "character": 6}}}])
    );
    // `welcome.admin` in YAML (line 12) is the DSL cell `admin:`.
    let definition = client.result(
        "textDocument/definition",
        client.at("more.flow.yaml", 12, 23),
    );
    assert_eq!(
        definition,
        json!([{"uri": "file:///BOT/main.flow", "range": {"start": {"line": 7, "character": 2}, "end": {"line": 7, "character": 7}}}])
    );
    // The variable `name`: assigned by the input, read by a condition and a template.
    let mut params = client.at("main.flow", 2, 9);
    params["context"] = json!({"includeDeclaration": true});
    let references = client.result("textDocument/references", params);
    crate::support::snapshot("lsp", "references_variable", &pretty(&references));
    // The intent `help`: defined in YAML, used by the trigger there.
    let mut params = client.at("more.flow.yaml", 1, 3);
    params["context"] = json!({"includeDeclaration": false});
    let references = client.result("textDocument/references", params);
    assert_eq!(
        references,
        json!([{"uri": "file:///BOT/more.flow.yaml", "range": {"start": {"line": 5, "character": 17}, "end": {"line": 5, "character": 21}}}])
    );
    // Hover on the input cell: its kind, where it goes, what it sets.
    let hover = client.result("textDocument/hover", client.at("main.flow", 2, 3));
    crate::support::snapshot("lsp", "hover_input", &pretty(&hover));
    assert_eq!(client.shutdown(), 0);
}

fn labels(result: &Value) -> Vec<String> {
    result
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["label"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn completion_offers_targets_fields_and_variables_while_typing() {
    let dir = bot("complete");
    let mut client = Client::start(&dir);
    initialize(&mut client);
    client.open("main.flow");
    client.diagnostics("main.flow");
    // Typing `  jump ` on a new line 8 of the DSL file (it does not parse yet).
    client.notify(
        "textDocument/didChange",
        json!({
            "textDocument": {"uri": client.uri("main.flow"), "version": 2},
            "contentChanges": [{"range": {"start": {"line": 8, "character": 0}, "end": {"line": 8, "character": 0}}, "text": "  jump \n"}],
        }),
    );
    let result = client.result("textDocument/completion", client.at("main.flow", 8, 7));
    let found = labels(&result);
    for wanted in ["admin", "welcome", "menu", "fallback"] {
        assert!(found.contains(&wanted.to_owned()), "{wanted} in {found:?}");
    }
    // Each replaces the word typed so far (none yet).
    assert_eq!(
        result[0]["textEdit"]["range"],
        json!({"start": {"line": 8, "character": 7}, "end": {"line": 8, "character": 7}})
    );
    // `welcome.a|`: the cells of that flow, replacing `a`.
    client.notify(
        "textDocument/didChange",
        json!({
            "textDocument": {"uri": client.uri("main.flow"), "version": 3},
            "contentChanges": [{"range": {"start": {"line": 8, "character": 7}, "end": {"line": 8, "character": 7}}, "text": "menu.a"}],
        }),
    );
    let result = client.result("textDocument/completion", client.at("main.flow", 8, 13));
    assert_eq!(
        result,
        json!([{"label": "ask", "kind": 18, "detail": "input cell of flow menu",
                "textEdit": {"range": {"start": {"line": 8, "character": 12}, "end": {"line": 8, "character": 13}}, "newText": "ask"}}])
    );
    // Variables inside a template.
    let result = client.result("textDocument/completion", client.at("main.flow", 1, 15));
    let found = labels(&result);
    for wanted in ["customer", "name", "topic", "session"] {
        assert!(found.contains(&wanted.to_owned()), "{wanted} in {found:?}");
    }
    // A YAML input's fields.
    client.open("more.flow.yaml");
    client.notify(
        "textDocument/didChange",
        json!({
            "textDocument": {"uri": client.uri("more.flow.yaml"), "version": 2},
            "contentChanges": [{"range": {"start": {"line": 10, "character": 0}, "end": {"line": 10, "character": 0}}, "text": "          pr\n"}],
        }),
    );
    let result = client.result(
        "textDocument/completion",
        client.at("more.flow.yaml", 10, 12),
    );
    let found = labels(&result);
    assert!(
        found.contains(&"prompt".to_owned()) && found.contains(&"on_fail".to_owned()),
        "{found:?}"
    );
    assert_eq!(client.shutdown(), 0);
}

#[test]
fn rename_edits_every_file_and_formatting_gives_fmts_layout() {
    let dir = bot("rename");
    let mut client = Client::start(&dir);
    initialize(&mut client);
    client.open("main.flow");
    // Rename the flow `menu` (named in the DSL, defined in YAML).
    let prepared = client.result("textDocument/prepareRename", client.at("main.flow", 5, 15));
    assert_eq!(
        prepared,
        json!({"range": {"start": {"line": 5, "character": 14}, "end": {"line": 5, "character": 18}}, "placeholder": "menu"})
    );
    let mut params = client.at("main.flow", 5, 15);
    params["newName"] = json!("home");
    let edit = client.result("textDocument/rename", params);
    crate::support::snapshot("lsp", "rename_flow", &pretty(&edit));
    // A new name that is not a name is refused with a message.
    let mut params = client.at("main.flow", 5, 15);
    params["newName"] = json!("two words");
    let refused = client.request("textDocument/rename", params);
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("is not a name"),
        "{refused}"
    );
    // Formatting: the canonical layout `cellflow fmt` prints.
    let messy = "flow   welcome on welcome {answer \"Hi {{customer}}!\"\n    input name {prompt \"Your name?\"}\n  rule { when { name == \"admin\" } goto admin\n else goto menu }\n admin: answer \"Welcome back, {{name | \\\"friend\\\"}}\"}\n";
    client.notify(
        "textDocument/didChange",
        json!({
            "textDocument": {"uri": client.uri("main.flow"), "version": 2},
            "contentChanges": [{"text": messy}],
        }),
    );
    let edits = client.result(
        "textDocument/formatting",
        json!({"textDocument": {"uri": client.uri("main.flow")}, "options": {"tabSize": 2, "insertSpaces": true}}),
    );
    assert_eq!(
        edits[0]["newText"],
        MAIN.replace("{ prompt", "{\n    prompt")
            .replace("name?\" }", "name?\"\n  }")
    );
    assert_eq!(
        edits[0]["range"],
        json!({"start": {"line": 0, "character": 0}, "end": {"line": 5, "character": 0}})
    );
    assert_eq!(client.shutdown(), 0);
}

#[test]
fn exit_without_shutdown_is_an_error_and_positions_count_utf16() {
    let dir = bot("exit");
    std::fs::write(
        dir.join("main.flow"),
        MAIN.replace(
            "answer \"Hi {{customer}}!\"",
            "answer \"😀 {{customer}} {{nme}}\"",
        ),
    )
    .unwrap();
    let mut client = Client::start(&dir);
    initialize(&mut client);
    client.open("main.flow");
    // `{{nme}}` starts after the emoji, two UTF-16 units wide.
    let published = client.diagnostics("main.flow");
    let unset = published["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| {
            d["code"] == "cellflow::check::maybe_unset"
                || d["code"] == "cellflow::check::misspelt_variable"
        })
        .cloned()
        .unwrap();
    // (28..35 in bytes, 25..32 in characters.)
    assert_eq!(
        unset["range"],
        json!({"start": {"line": 1, "character": 26}, "end": {"line": 1, "character": 33}})
    );
    client.notify("exit", Value::Null);
    assert_eq!(client.child.wait().unwrap().code(), Some(1));
}
