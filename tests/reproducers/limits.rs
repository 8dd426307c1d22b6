//! Graph walks, the NLU, scripts and regexes, bounded: a flow of any length
//! is walked without deep recursion, a long word costs its length (not its
//! square), a turn's scripts stop at a wall-clock budget, and `check`
//! refuses every regex that loading would refuse.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use cellflow::project::Project;
use cellflow::runtime::{Classifier as _, Event};
use cellflow::{Bot, Request};

use crate::server::Serve;
use crate::support;

fn reproducer(name: &str) -> PathBuf {
    support::root().join("tests/reproducers").join(name)
}

fn project(name: &str, text: &str) -> Project {
    let mut project = Project::new();
    project.add_bytes(name, Path::new(name), text.as_bytes());
    project
}

/// One flow of `cells` answers in a row, and a fallback.
fn chain(cells: usize) -> String {
    let mut text = String::from("flow welcome on welcome {\n");
    for i in 0..cells {
        writeln!(text, "  answer \"c{i}\"").unwrap();
    }
    text.push_str("}\nflow fallback on fallback { answer \"fb\" }\n");
    text
}

fn errors(checked: &cellflow::check::Checked) -> Vec<&'static str> {
    checked
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.problem.code())
        .collect()
}

fn error_messages(response: &cellflow::Response) -> Vec<&str> {
    response
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Error { message, .. } => Some(message.as_str()),
            _ => None,
        })
        .collect()
}

// ---- graph walks --------------------------------------------------------------

#[test]
fn an_80000_cell_flow_checks_compiles_and_runs() {
    // Test threads have 2 MiB stacks: a walk that recursed once per cell
    // would overflow long before 80,000.
    let text = chain(80_000);
    let project = project("chain.flow", &text);
    let checked = support::check(project);
    assert_eq!(errors(&checked), Vec::<&str>::new());
    let compiled = cellflow::compile::load_ast(&checked.bot)
        .map(Bot::new)
        .unwrap();
    let artifact = cellflow::compile::write_artifact(&checked.bot, compiled.program()).unwrap();
    let bot = Bot::from_artifact(cellflow::compile::read_artifact(&artifact).unwrap())
        .unwrap()
        .with_max_steps(100_000);
    let mut session = bot.new_session();
    let reply = bot.turn(&mut session, Request::event("welcome")).unwrap();
    assert_eq!(error_messages(&reply), Vec::<&str>::new());
    assert_eq!(reply.answers.len(), 80_000);
    assert_eq!(&*reply.answers[79_999].text, "c79999");
    let graph = cellflow::export::render(
        &checked.bot,
        &checked.lowered.graph,
        cellflow::export::Format::Dot,
        None,
    );
    assert!(graph.contains("c79999"));
}

#[test]
fn a_20000_cell_flow_checks_on_a_small_stack() {
    // The server reloads a bot on a blocking-pool thread with a 2 MiB stack;
    // give the check less than that.
    let text = chain(20_000);
    let checked = std::thread::Builder::new()
        .stack_size(1 << 20)
        .spawn(move || {
            let project = project("chain.flow", &text);
            let checked = support::check(project);
            errors(&checked).len()
        })
        .unwrap()
        .join()
        .expect("the check did not overflow its stack");
    assert_eq!(checked, 0);
}

#[test]
fn a_long_chain_of_calls_checks_on_a_small_stack() {
    // Each flow calls the next and comes back: what a call assigns is
    // worked out callee first, 5,000 calls deep.
    let mut text =
        String::from("flow welcome on welcome {\n  jump f0 return\n  answer \"{{x0}}\"\n}\n");
    for i in 0..5_000 {
        writeln!(
            text,
            "flow f{i} {{\n  jump f{} return\n  code {{ x{i} = 1; }}\n}}",
            i + 1
        )
        .unwrap();
    }
    text.push_str(
        "flow f5000 { answer \"deepest\" }\nflow fallback on fallback { answer \"fb\" }\n",
    );
    let found = std::thread::Builder::new()
        .stack_size(1 << 20)
        .spawn(move || errors(&support::check(project("calls.flow", &text))).len())
        .unwrap()
        .join()
        .expect("the check did not overflow its stack");
    assert_eq!(found, 0);
}

/// The bot version a server's `/healthz` reports, if it answers.
fn version(server: &Serve) -> Option<serde_json::Value> {
    let (status, body) =
        crate::server::call("GET", &format!("{}/healthz", server.base), None, None);
    (status == 200).then(|| body["version"].clone())
}

#[cfg(unix)]
#[test]
fn the_server_survives_reloading_a_20000_cell_flow() {
    let dir = std::env::temp_dir().join(format!("cellflow-limits-{}-reload", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let flow = dir.join("bot.flow");
    std::fs::write(&flow, chain(3)).unwrap();
    let mut server = Serve::start(&dir, &["--store", "memory"]);
    let before = version(&server).expect("the server answers");
    std::fs::write(&flow, chain(20_000)).unwrap();
    Command::new("kill")
        .args(["-HUP", &server.pid().to_string()])
        .status()
        .unwrap();
    let mut after = before.clone();
    for _ in 0..600 {
        if let Some(status) = server.try_wait() {
            panic!("the server died reloading: {status}");
        }
        match version(&server) {
            Some(version) if version != before => {
                after = version;
                break;
            }
            _ => std::thread::sleep(Duration::from_millis(100)),
        }
    }
    assert_ne!(after, before, "the reload did not happen");
    let _ = std::fs::remove_dir_all(&dir);
}

// ---- NLU ------------------------------------------------------------------------

#[test]
fn a_long_example_word_is_one_feature_not_thousands() {
    // A 3,000-letter example word once had 3,000 typo keys of 3,000 bytes
    // each; cut into character n-grams it would still be 12,000 features.
    let long: String = ('a'..='z').cycle().take(3_000).collect();
    let short = bot_from(
        "intent hi { examples [\"hello there\"] }\nflow hi on intent hi { answer \"hi\" }\nflow fallback on fallback { answer \"fb\" }\n",
    );
    let bot = bot_from(&format!(
        "intent hi {{ examples [\"{long}\", \"hello there\"] }}\nflow hi on intent hi {{ answer \"hi\" }}\nflow fallback on fallback {{ answer \"fb\" }}\n"
    ));
    let features = |bot: &Bot| bot.program().nlu.model.as_ref().unwrap().features();
    assert!(
        features(&bot) <= features(&short) + 2,
        "{} features, {} without the long word",
        features(&bot),
        features(&short)
    );
    let hi = |text: &str| {
        cellflow::runtime::Builtin
            .classify(bot.program(), text)
            .intent
    };
    assert_eq!(hi(&long).as_deref(), Some("hi"));
    assert_eq!(hi("helo there").as_deref(), Some("hi"));

    // The reproducer: one 20,000-letter word.
    let bot = Bot::load(reproducer("nlu_long_example_word_quadratic.flow")).unwrap();
    let text = std::fs::read_to_string(reproducer("nlu_long_example_word_quadratic.flow")).unwrap();
    let word = text
        .split('"')
        .find(|w| w.len() >= 20_000)
        .expect("the reproducer's long word");
    assert!(word.chars().count() > cellflow::classifier::features::MAX_NGRAM_WORD_CHARS);
    let nlu = cellflow::runtime::Builtin.classify(bot.program(), word);
    assert_eq!(nlu.intent.as_deref(), Some("hi"));
}

#[test]
fn a_long_message_word_costs_one_lookup() {
    // The longest message a turn takes, one word: looked up as a word, not
    // cut into 64,000 character n-grams.
    let word = "y".repeat(cellflow::runtime::MAX_TEXT_BYTES);
    let bot = Bot::load(reproducer("nlu_long_example_word_quadratic.flow")).unwrap();
    let mut session = bot.new_session();
    let reply = bot.turn(&mut session, Request::text(word)).unwrap();
    assert!(
        reply.nlu.confidence < bot.program().threshold,
        "{:?}",
        reply.nlu
    );
    assert_eq!(reply.answers[0].text, "fb");
    // Short words keep their typo tolerance.
    let bot = bot_from(
        "intent hi { examples [\"transfer money\"] }\nintent bye { examples [\"goodbye\"] }\nflow hi on intent hi { answer \"ok\" }\nflow fallback on fallback { answer \"fb\" }\n",
    );
    let mut session = bot.new_session();
    let reply = bot
        .turn(&mut session, Request::text("tranfser mony"))
        .unwrap();
    assert_eq!(reply.nlu.intent.as_deref(), Some("hi"));
}

fn bot_from(text: &str) -> Bot {
    cellflow::compile::load_project(project("a.flow", text))
        .map(Bot::new)
        .expect("a valid bot")
}

// ---- scripts ----------------------------------------------------------------------

const COUNTER: &str = "intent go { examples [\"go\"] }\nflow go on intent go {\n  code { count = 1; let n = 0; for i in 0..2000 { n += i; } total = n; }\n  answer \"{{total}}\"\n}\nflow fallback on fallback { answer \"fb\" }\n";

#[test]
fn a_turn_over_its_script_time_fails_and_keeps_the_session() {
    let bot = bot_from(COUNTER);
    let mut session = bot.new_session();
    let reply = bot.turn(&mut session, Request::text("go")).unwrap();
    assert_eq!(&*reply.answers[0].text, "1999000");
    let before = session.clone();

    // No time at all: the clock is read within the first few operations.
    let hurried = bot.with_script_time(Duration::ZERO);
    let reply = hurried.turn(&mut session, Request::text("go")).unwrap();
    assert_eq!(
        error_messages(&reply),
        ["the turn's scripts ran longer than 0 ms"]
    );
    assert_eq!(session.vars, before.vars);
}

#[test]
fn deep_nesting_in_a_script_is_stopped_in_time() {
    // `m = [m]` 8,000 times copies an ever deeper array each time: 8,000
    // operations, seconds of work. The turn fails within its time budget
    // instead.
    let bot = Bot::load(reproducer("rhai_deep_nesting_8000_cpu.flow")).unwrap();
    let mut session = bot.new_session();
    bot.turn(&mut session, Request::event("welcome")).unwrap();
    let reply = bot.turn(&mut session, Request::text("local deep")).unwrap();
    assert_eq!(
        error_messages(&reply),
        ["the turn's scripts ran longer than 500 ms"]
    );
    // A flat array of the same length is cheap and within every limit.
    let reply = bot.turn(&mut session, Request::text("flat array")).unwrap();
    assert_eq!(error_messages(&reply), Vec::<&str>::new());
    assert_eq!(&*reply.answers[0].text, "flat done");
}

// ---- regexes ------------------------------------------------------------------------

#[test]
fn check_refuses_the_regexes_loading_refuses() {
    let path = reproducer("regex_passes_check_fails_load.flow");
    let out = support::Cmd::new().args(["check"]).args([&path]).run();
    assert_eq!(out.status, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("cellflow::check::regex_too_big"),
        "{}{}",
        out.stdout,
        out.stderr
    );
    // What check accepts, loading accepts: a smaller count fits.
    let text = std::fs::read_to_string(&path).unwrap();
    let fits = text.replace(r"\w{1000}", r"\w{20}");
    let fitting = project("fits.flow", &fits);
    assert_eq!(errors(&support::check(fitting)), Vec::<&str>::new());
    bot_from(&fits);

    // Intent patterns are compiled one by one, under the same limit as any
    // pattern: one over it is pointed at, and refused by loading too.
    let intents = format!(
        "{fits}intent order {{ examples [\"order\"] patterns ['^order \\w{{20000}}$'] }}\nflow order on intent order {{ answer \"ok\" }}\n"
    );
    let project = project("intents.flow", &intents);
    let checked = support::check(project);
    assert_eq!(errors(&checked), ["cellflow::check::regex_too_big"]);
    assert!(
        checked.diagnostics[0].problem.label().contains("1 MiB"),
        "{:?}",
        checked.diagnostics[0]
    );
    assert!(
        cellflow::compile::load_ast(&checked.bot)
            .map(Bot::new)
            .is_err()
    );
}

#[test]
fn a_deeply_nested_script_value_fails_its_turn_on_a_small_stack() {
    // A script may nest a value thousands of levels deep within its time
    // budget; storing it used to convert it level by level, recursively,
    // and overflow a 2 MiB thread (the server's threads had 2 MiB). Its
    // depth is now measured first, never recursing past the session's
    // limit, and the turn fails with the session as it was.
    let bot = bot_from(
        "flow welcome on welcome {\n  input go text { prompt \"go?\" }\n  code { let _m = []; for i in 0..3000 { _m = [_m]; } deep = _m; }\n  answer \"stored\"\n}\n",
    )
    .with_script_time(Duration::from_secs(120));
    let reply = std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(move || {
            let mut session = bot.new_session();
            bot.turn(&mut session, Request::event("welcome")).unwrap();
            let before = session.vars.clone();
            let reply = bot.turn(&mut session, Request::text("yes")).unwrap();
            assert!(session.vars.get("deep").is_none());
            assert_eq!(session.vars.len(), before.len());
            reply
        })
        .unwrap()
        .join()
        .expect("the turn did not overflow its stack");
    assert_eq!(
        error_messages(&reply),
        [
            "`deep` would nest arrays and objects more than 64 levels deep, which a session cannot keep; it was not changed"
        ]
    );
}
