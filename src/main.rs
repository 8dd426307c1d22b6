//! The `cellflow` binary: parses arguments, runs a command, maps the result
//! to an exit code. Everything else lives in the library and `cli`.

#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser as _;

mod cli;

// A turn allocates many small, short-lived values on several threads at
// once (the server); mimalloc serves those from per-thread pages.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// When standard output is closed early (`cellflow … | head`), stop quietly
/// with the status a Unix tool killed by SIGPIPE has, instead of reporting a
/// panic: `println!` panics on a broken pipe, and resetting the signal
/// handler would need `unsafe`.
fn quiet_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.contains("Broken pipe") {
            std::process::exit(141);
        }
        default(info);
    }));
}

fn main() -> ExitCode {
    quiet_broken_pipe();
    let args = cli::Args::parse();
    miette::set_hook(Box::new(|_| {
        Box::new(
            miette::MietteHandlerOpts::new()
                .terminal_links(false)
                .build(),
        )
    }))
    .ok();
    match cli::run(args) {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(cli::EXIT_USAGE)
        }
    }
}
