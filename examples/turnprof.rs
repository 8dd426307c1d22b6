//! Runs one kind of turn many times, for profilers: `cargo run --release --example turnprof`.
use std::path::Path;
fn main() {
    let text = "flow welcome on welcome {\n  ask: input name text { prompt \"Name?\" }\n  answer \"Noted.\"\n  answer \"Hi {{name}}\"\n  jump ask\n}\nflow fallback on fallback {\n  answer \"?\"\n}\n";
    let mut project = cellflow::project::Project::new();
    project.add_bytes("b.flow", Path::new("b.flow"), text.as_bytes());
    let bot = cellflow::compile::load_project(project)
        .map(cellflow::Bot::new)
        .unwrap();
    let mut session = bot.new_session();
    bot.turn(&mut session, cellflow::Request::event("welcome"))
        .unwrap();
    let n: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200_000);
    let start = std::time::Instant::now();
    for _ in 0..n {
        std::hint::black_box(
            bot.turn(&mut session, cellflow::Request::text("Ana"))
                .unwrap(),
        );
    }
    println!("{:?} per turn", start.elapsed() / n);
}
