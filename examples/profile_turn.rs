//! Runs the runtime benchmark's plain turn N times (default 100,000), for
//! profilers: instruction counts under callgrind do not swing with the
//! machine's load the way wall-clock benchmarks do.
//!
//! ```text
//! cargo build --release --example profile_turn
//! valgrind --tool=callgrind target/release/examples/profile_turn 20000
//! ```

use std::path::Path;
use std::time::Instant;

use cellflow::project::Project;
use cellflow::{Bot, Request};

const BOT: &str = "flow welcome on welcome {
  ask: input name text { prompt \"Name?\" }
  answer \"Noted.\"
  answer \"Hi {{name}}\"
  jump ask
}
";

fn main() {
    let turns: u32 = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    let mut project = Project::new();
    project.add_bytes("bench.flow", Path::new("bench.flow"), BOT.as_bytes());
    let bot = cellflow::compile::load_project(project)
        .map(Bot::new)
        .expect("the bot is valid");
    let mut session = bot.new_session();
    bot.turn(&mut session, Request::event("welcome"))
        .expect("welcome runs");
    let started = Instant::now();
    for _ in 0..turns {
        let response = bot
            .turn(&mut session, std::hint::black_box(Request::text("Ana")))
            .expect("the turn runs");
        std::hint::black_box(response);
    }
    eprintln!("{:?} per turn", started.elapsed() / turns.max(1));
}
