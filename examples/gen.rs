//! Writes a generated bot: `cargo run --example gen -- CELLS dsl|yaml > bot.flow`.
fn main() {
    let cells: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1000);
    match std::env::args().nth(2).as_deref() {
        Some("yaml") => print!("{}", cellflow::generate::yaml_bot(cells)),
        _ => print!("{}", cellflow::generate::dsl_bot(cells)),
    }
}
