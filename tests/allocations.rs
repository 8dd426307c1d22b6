//! A turn allocates little (issue #3: "at most a few allocations"): the
//! test binary counts every allocation each thread makes, and a turn is
//! held to a fixed budget. Counting is exact where timing is noisy.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::Path;

use cellflow::project::Project;
use cellflow::{Bot, Request};

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

#[allow(unsafe_code)]
// SAFETY: every call is forwarded unchanged to the system allocator; the
// counter is a const-initialised thread local, which never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

fn allocations(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

fn bot(text: &str) -> Bot {
    let mut project = Project::new();
    project.add_bytes("a.flow", Path::new("a.flow"), text.as_bytes());
    cellflow::compile::load_project(project)
        .map(cellflow::Bot::new)
        .expect("valid bot")
}

#[test]
fn a_plain_turn_makes_a_handful_of_allocations() {
    // An input answered, a literal answer, a templated answer, a jump back
    // to the input and its prompt: the runtime benchmark's plain turn.
    let bot = bot(
        "flow welcome on welcome {\n  ask: input name text { prompt \"Name?\" }\n  answer \"Noted.\"\n  answer \"Hi {{name}}\"\n  jump ask\n}\n",
    );
    let mut session = bot.new_session();
    bot.turn(&mut session, Request::event("welcome")).unwrap();
    // Warm up: the first turns size the buffers that later turns reuse.
    for _ in 0..3 {
        bot.turn(&mut session, Request::text("Ana")).unwrap();
    }
    let request = Request::text("Bea");
    let mut response = None;
    let n = allocations(|| response = Some(bot.turn(&mut session, request).unwrap()));
    let response = response.unwrap();
    let texts: Vec<&str> = response.answers.iter().map(|a| &*a.text).collect();
    assert_eq!(texts, ["Noted.", "Hi Bea", "Name?"]);
    // The answers' vector, the one rendered text ("Hi Bea"), and the
    // response's copy of the variables (names and values: two buffers).
    assert!(n <= 4, "a plain turn made {n} allocations");
}

#[test]
fn a_turn_in_another_language_costs_no_more() {
    let bot = bot(concat!(
        "bot { languages [es, pt-BR] }\n",
        "flow welcome on welcome {\n",
        "  ask: input name text { prompt @es \"¿Nombre?\" @pt-BR \"Nome?\" }\n",
        "  answer @es \"Anotado.\" @pt-BR \"Anotado.\"\n",
        "  answer @es \"Hola {{name}}\" @pt-BR \"Oi {{name}}\"\n",
        "  jump ask\n}\n",
    ));
    let mut session = bot.new_session();
    let mut first = Request::event("welcome");
    first.language = Some("pt_br".into());
    bot.turn(&mut session, first).unwrap();
    for _ in 0..3 {
        bot.turn(&mut session, Request::text("Ana")).unwrap();
    }
    let request = Request::text("Bea");
    let mut response = None;
    let n = allocations(|| response = Some(bot.turn(&mut session, request).unwrap()));
    let response = response.unwrap();
    let texts: Vec<&str> = response.answers.iter().map(|a| &*a.text).collect();
    assert_eq!(texts, ["Anotado.", "Oi Bea", "Nome?"]);
    assert!(n <= 4, "a turn in Portuguese made {n} allocations");
}

#[test]
fn classifying_a_message_allocates_only_the_answer() {
    // A trained model, list and pattern entities: classifying reuses its
    // thread's buffers, and allocates only what the answer owns.
    let bot = bot(concat!(
        "intent balance { examples [\"what is my balance\", \"how much money do I have\", ",
        "\"show my balance please\", \"balance of my savings account\"] }\n",
        "intent transfer { examples [\"send money to Ana\", \"transfer 20 dollars\", ",
        "\"make a transfer\", \"wire money to my checking account\"] }\n",
        "entity account {\n  value \"savings\" [\"savings account\", \"ahorro\"]\n",
        "  value \"checking\" [\"checking account\"]\n}\n",
        "flow b on intent balance { answer \"b\" }\n",
        "flow t on intent transfer { answer \"t\" }\n",
        "flow fallback on fallback { answer \"?\" }\n",
    ));
    let classify = |text: &str| {
        cellflow::runtime::Classifier::classify(&cellflow::runtime::Builtin, bot.program(), text)
    };
    for _ in 0..3 {
        classify("how much is in my savings account?");
    }
    let mut nlu = None;
    let n = allocations(|| nlu = Some(classify("how much money is in my savngs account")));
    let nlu = nlu.unwrap();
    assert_eq!(nlu.intent.as_deref(), Some("balance"));
    assert!(!nlu.entities.is_empty(), "{nlu:?}");
    // The intent's name, and the entity found (its name, its value and the
    // map's node).
    assert!(n <= 4, "classifying made {n} allocations");
    let mut nlu = None;
    let n = allocations(|| nlu = Some(classify("what about the weather tomorrow")));
    assert!(nlu.unwrap().entities.is_empty());
    assert!(
        n <= 1,
        "classifying a message with no entity made {n} allocations"
    );
}
