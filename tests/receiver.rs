//! A real webhook receiver for the tests: an HTTP server on 127.0.0.1 that
//! records every request it gets and answers as the test tells it to (2xx,
//! an error status, or not at all for a while).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

/// How the receiver answers the next requests.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Mode {
    /// 200.
    Accept,
    /// This status, for the next `n` requests, then 200.
    Fail { status: u16, n: usize },
    /// Waits this long before answering 200 (a receiver that hangs).
    Hang(Duration),
}

/// One request as it arrived.
#[derive(Clone, Debug)]
pub(crate) struct Hit {
    /// Header names in lower case.
    pub(crate) headers: BTreeMap<String, String>,
    pub(crate) raw: Vec<u8>,
    pub(crate) body: Value,
    pub(crate) status: u16,
}

struct Shared {
    mode: Mutex<Mode>,
    hits: Mutex<Vec<Hit>>,
}

pub(crate) struct Receiver {
    pub(crate) url: String,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Receiver {
    pub(crate) fn start(mode: Mode) -> Receiver {
        Receiver::start_on(0, mode)
    }

    /// On a given port (0: any free one).
    pub(crate) fn start_on(port: u16, mode: Mode) -> Receiver {
        let shared = Arc::new(Shared {
            mode: Mutex::new(mode),
            hits: Mutex::new(Vec::new()),
        });
        let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}/hooks", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let state = Arc::clone(&shared);
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let app = axum::Router::new()
                    .route("/hooks", axum::routing::post(receive))
                    .with_state(state);
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .await;
            });
        });
        Receiver {
            url,
            shared,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    pub(crate) fn set(&self, mode: Mode) {
        *self.shared.mode.lock().unwrap() = mode;
    }

    pub(crate) fn hits(&self) -> Vec<Hit> {
        self.shared.hits.lock().unwrap().clone()
    }

    /// Waits until `n` requests were answered 2xx, or `timeout`; returns
    /// every request so far.
    pub(crate) fn wait_accepted(&self, n: usize, timeout: Duration) -> Vec<Hit> {
        let deadline = Instant::now() + timeout;
        loop {
            let hits = self.hits();
            let accepted = hits.iter().filter(|h| h.status < 300).count();
            if accepted >= n || Instant::now() > deadline {
                return hits;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn receive(
    axum::extract::State(shared): axum::extract::State<Arc<Shared>>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> axum::http::StatusCode {
    let mode = {
        let mut mode = shared.mode.lock().unwrap();
        let now = *mode;
        if let Mode::Fail { status, n } = now {
            *mode = if n <= 1 {
                Mode::Accept
            } else {
                Mode::Fail { status, n: n - 1 }
            };
        }
        now
    };
    let status = match mode {
        Mode::Accept | Mode::Hang(_) => 200,
        Mode::Fail { status, .. } => status,
    };
    if let Mode::Hang(delay) = mode {
        tokio::time::sleep(delay).await;
    }
    let hit = Hit {
        headers: headers
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
            .collect(),
        raw: body.to_vec(),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        status,
    };
    shared.hits.lock().unwrap().push(hit);
    axum::http::StatusCode::from_u16(status).unwrap()
}
