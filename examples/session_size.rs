//! Measures what a session with 20 variables takes: resident memory per
//! session over 100,000 of them (allocator overhead included), and the
//! serialized size. `cargo run --release --example session_size`.

fn resident_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn main() {
    const N: usize = 100_000;
    let mut sessions = Vec::with_capacity(N);
    let before = resident_bytes();
    for n in 0..N {
        let mut session = cellflow::Session::new(format!("{n:032x}"));
        for i in 0..20 {
            session
                .vars
                .insert(&format!("var{i}"), serde_json::json!(format!("value {i}")));
        }
        sessions.push(session);
    }
    let per_session = (resident_bytes() - before) / N;
    let serialized = serde_json::to_string(&sessions[0]).unwrap().len();
    println!(
        "session with 20 string variables: {per_session} bytes resident ({} inline), {serialized} bytes serialized",
        std::mem::size_of::<cellflow::Session>()
    );
}
