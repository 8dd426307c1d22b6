//! Sessions handed back by a host or a store: any JSON read as a session of
//! the pizza bot, then turns on it. A session that does not fit the bot is
//! an error, never a panic.
#![no_main]

use std::sync::LazyLock;

#[path = "common.rs"]
mod common;

static BOT: LazyLock<cellflow::Bot> = LazyLock::new(common::pizza);

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    let Ok(mut session) = serde_json::from_slice::<cellflow::Session>(bytes) else {
        return;
    };
    let _ = BOT.awaiting(&session);
    for message in ["funghi", "2", "yes"] {
        let _ = BOT.turn(&mut session, cellflow::Request::text(message));
    }
    let _ = BOT.turn(&mut session, cellflow::Request::event("welcome"));
});
