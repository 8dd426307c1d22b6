//! `cellflow studio PATH`: the bot as a picture and a chat in the browser
//! (docs/STUDIO.md).

use std::net::SocketAddr;
use std::path::PathBuf;

use super::{CliError, EXIT_OK, EXIT_PROBLEMS};

#[derive(clap::Args, Debug)]
pub(crate) struct Studio {
    /// Bot directory or flow file
    path: PathBuf,
    /// Address to listen on (port 0: any free port)
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Do not open a browser
    #[arg(long)]
    no_open: bool,
    /// Allow an address other than loopback (needs --api-key)
    #[arg(long)]
    remote: bool,
    /// The key the page and the API ask for (a random one on loopback)
    #[arg(long)]
    api_key: Option<String>,
}

impl Studio {
    pub(crate) fn run(self) -> Result<u8, CliError> {
        let options = cellflow::studio::Options {
            bot: self.path,
            listen: self.listen,
            remote: self.remote,
            api_key: self.api_key,
        };
        let open = !self.no_open;
        let outcome = cellflow::studio::run(options, |addr| {
            use std::io::Write as _;
            let url = format!("http://{addr}");
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "studio on {url}");
            let _ = out.flush();
            if open {
                open_browser(&url);
            }
        });
        match outcome {
            Ok(()) => Ok(EXIT_OK),
            Err(cellflow::studio::StudioError::Serve(cellflow::server::ServeError::Bot(
                errors,
            ))) => {
                eprintln!("{errors}");
                Ok(EXIT_PROBLEMS)
            }
            Err(e) => Err(CliError::Usage(e.to_string())),
        }
    }
}

/// Asks the desktop to open `url`; without one (a server, CI) nothing
/// happens and the printed address is enough.
fn open_browser(url: &str) {
    let program = if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(windows) {
        "explorer"
    } else {
        "xdg-open"
    };
    let _ = std::process::Command::new(program)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
}
