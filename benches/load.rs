//! Load test of `cellflow serve`: a real server process, real
//! HTTP, each simulated user on its own keep-alive connection sending its
//! next message as soon as the last answer arrives (a closed loop).
//!
//! `cargo bench --bench load` runs, for each store (memory, SQLite, Redis
//! when `redis-server` is installed and PostgreSQL when its server programs
//! are; each a private one on a free port), 1, 16 and 128 concurrent
//! conversations for a few seconds each, and prints turns per second,
//! latency percentiles as seen by the client, and the server's threads and
//! peak resident memory. Then it measures the memory store's resident
//! memory per idle conversation over 100,000 conversations. Results:
//! docs/PERFORMANCE.md.
//!
//! Options (after `--`): `--seconds N` per run (default 5), `--stores
//! memory,sqlite,redis,postgres`, `--concurrency 1,16,128`, `--routes
//! v1,channel` (the `/v1` routes, the channel-integration routes, or both,
//! alternating per run), `--sessions N` for the memory measurement (0 skips
//! it), `--webhooks RATE` to measure webhook delivery at RATE events per
//! second instead (0, the default, skips it).
//!
//! The client shares the machine with the server; on a 2-core machine its
//! own CPU time (one thread) is part of what limits throughput.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;

const KEY: &str = "load-test-key";
const WARMUP: Duration = Duration::from_secs(1);

struct Options {
    seconds: u64,
    stores: Vec<String>,
    concurrency: Vec<usize>,
    routes: Vec<Route>,
    sessions: usize,
    webhooks: u32,
}

/// Which surface the simulated users talk to.
#[derive(Clone, Copy, Debug)]
enum Route {
    /// `/v1/conversations`.
    V1,
    /// The channel-integration (Syntphony-shaped) routes.
    Channel,
}

/// Where a channel connector starts conversations.
const CHANNEL: &str = "/eva-broker/org/o/env/e/bot/b/channel/c/v1/conversations";

fn options() -> Options {
    let mut options = Options {
        seconds: 5,
        stores: vec![
            "memory".into(),
            "sqlite".into(),
            "redis".into(),
            "postgres".into(),
        ],
        concurrency: vec![1, 16, 128],
        routes: vec![Route::V1],
        sessions: 100_000,
        webhooks: 0,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut args = args.iter();
    // `cargo bench` passes `--bench`; other flags are ours.
    while let Some(arg) = args.next() {
        let mut value = || args.next().cloned().unwrap_or_default();
        match arg.as_str() {
            "--seconds" => options.seconds = value().parse().expect("--seconds N"),
            "--stores" => options.stores = value().split(',').map(str::to_owned).collect(),
            "--concurrency" => {
                options.concurrency = value()
                    .split(',')
                    .map(|n| n.parse().expect("--concurrency 1,16,128"))
                    .collect();
            }
            "--sessions" => options.sessions = value().parse().expect("--sessions N"),
            "--routes" => {
                options.routes = value()
                    .split(',')
                    .map(|r| match r {
                        "v1" => Route::V1,
                        "channel" => Route::Channel,
                        other => panic!("--routes v1,channel: not `{other}`"),
                    })
                    .collect();
            }
            "--webhooks" => options.webhooks = value().parse().expect("--webhooks RATE"),
            _ => {}
        }
    }
    options
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cellflow-load-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    dir
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A child process killed when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A private `redis-server`, or `None` when it is not installed.
fn redis() -> Option<(Process, String)> {
    let port = free_port();
    let dir = scratch("redis");
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .arg("--dir")
        .arg(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let process = Process(child);
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Some((process, format!("redis://127.0.0.1:{port}/0")));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

/// A private PostgreSQL (default settings: commits wait for the disk), or
/// `None` when its server programs are not installed. As root, it runs as
/// the `postgres` account (PostgreSQL refuses root).
fn postgres() -> Option<(Process, String)> {
    use std::os::unix::process::CommandExt as _;
    let bin = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|dir| dir.join("initdb").is_file())
        .max()?;
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    let owner = if root {
        let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
        passwd.lines().find_map(|line| {
            let f: Vec<&str> = line.split(':').collect();
            (f.first() == Some(&"postgres") && f.len() > 3)
                .then(|| Some((f[2].parse::<u32>().ok()?, f[3].parse::<u32>().ok()?)))
                .flatten()
        })
    } else {
        None
    };
    let command = |program: &str| {
        let mut c = Command::new(bin.join(program));
        if let Some((uid, gid)) = owner {
            c.uid(uid).gid(gid);
        }
        c
    };
    let dir = scratch("postgres");
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).ok()?;
    }
    let data = dir.join("data");
    let ok = command("initdb")
        .arg("-D")
        .arg(&data)
        .args(["-U", "postgres", "--auth=trust", "-E", "UTF8"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .ok()?
        .success();
    if !ok {
        return None;
    }
    let port = free_port().to_string();
    let child = command("postgres")
        .arg("-D")
        .arg(&data)
        .args(["-h", "127.0.0.1", "-p", &port, "-k", ""])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let process = Process(child);
    for _ in 0..200 {
        let ready = command("pg_isready")
            .args(["-h", "127.0.0.1", "-p", &port, "-q"])
            .status()
            .is_ok_and(|s| s.success());
        if ready {
            return Some((
                process,
                format!("postgres://postgres@127.0.0.1:{port}/postgres"),
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

/// Starts `cellflow serve` on a free port; returns it and its address.
fn serve(store_args: &[String]) -> (Process, String) {
    let bot = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/load");
    let mut child = Command::new(env!("CARGO_BIN_EXE_cellflow"))
        .arg("serve")
        .arg(bot)
        .args(["--listen", "127.0.0.1:0", "--rate-limit", "100000000"])
        .args(store_args)
        .env("CELLFLOW_API_KEYS", KEY)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the cellflow binary runs");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("piped stdout"))
        .read_line(&mut line)
        .expect("serve prints its address");
    let address = line
        .strip_prefix("listening on http://")
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("serve did not start: {line}"))
        .to_owned();
    (Process(child), address)
}

/// One keep-alive HTTP/1.1 connection.
async fn connect(address: &str) -> SendRequest<Full<Bytes>> {
    let stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("the server accepts connections");
    stream.set_nodelay(true).expect("TCP_NODELAY");
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("an HTTP/1.1 handshake");
    tokio::spawn(connection);
    sender
}

/// POSTs `body` to `path`; the status and the body.
async fn post(sender: &mut SendRequest<Full<Bytes>>, path: &str, body: Bytes) -> (u16, Bytes) {
    let request = hyper::Request::post(path)
        .header("host", "loadtest")
        .header("authorization", format!("Bearer {KEY}"))
        .header("content-type", "application/json")
        .body(Full::new(body))
        .expect("a valid request");
    sender.ready().await.expect("the connection stays open");
    let response = sender
        .send_request(request)
        .await
        .expect("the server answers");
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("a whole body")
        .to_bytes();
    (status, body)
}

/// Starts a conversation; its code.
async fn begin(sender: &mut SendRequest<Full<Bytes>>) -> String {
    begin_on(sender, Route::V1).await
}

/// Starts a conversation on `route`; its code.
async fn begin_on(sender: &mut SendRequest<Full<Bytes>>, route: Route) -> String {
    let (expected, path, body) = match route {
        Route::V1 => (201, "/v1/conversations", &b"{}"[..]),
        Route::Channel => (200, CHANNEL, &br#"{"code":"%EVA_WELCOME_MSG"}"#[..]),
    };
    let (status, body) = post(sender, path, Bytes::from_static(body)).await;
    assert_eq!(status, expected, "{}", String::from_utf8_lossy(&body));
    let reply: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
    reply["sessionCode"]
        .as_str()
        .expect("a session code")
        .to_owned()
}

const NAMES: [&str; 4] = ["Ana", "Bruno", "Maximilianus Augustus", "Chen"];

/// One simulated user: talks until `end`, recording the latency of every
/// turn that started after `measure_from`.
async fn user(address: String, route: Route, measure_from: Instant, end: Instant) -> Vec<u32> {
    let mut sender = connect(&address).await;
    let code = begin_on(&mut sender, route).await;
    let path = match route {
        Route::V1 => format!("/v1/conversations/{code}"),
        Route::Channel => format!("{CHANNEL}/{code}"),
    };
    let bodies: Vec<Bytes> = NAMES
        .iter()
        .map(|n| Bytes::from(format!(r#"{{"text":"{n}"}}"#)))
        .collect();
    let mut latencies = Vec::with_capacity(200_000);
    let mut n = 0;
    loop {
        let started = Instant::now();
        if started >= end {
            return latencies;
        }
        let (status, body) = post(&mut sender, &path, bodies[n % bodies.len()].clone()).await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        n += 1;
        if started >= measure_from {
            let micros = started.elapsed().as_micros();
            latencies.push(u32::try_from(micros).unwrap_or(u32::MAX));
        }
    }
}

struct Run {
    turns: usize,
    per_second: f64,
    p50: u32,
    p90: u32,
    p99: u32,
    p999: u32,
    max: u32,
}

fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let rank = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn run(
    runtime: &tokio::runtime::Runtime,
    address: &str,
    route: Route,
    users: usize,
    seconds: u64,
) -> Run {
    let measure_from = Instant::now() + WARMUP;
    let end = measure_from + Duration::from_secs(seconds);
    let mut latencies: Vec<u32> = runtime.block_on(async {
        let tasks: Vec<_> = (0..users)
            .map(|_| tokio::spawn(user(address.to_owned(), route, measure_from, end)))
            .collect();
        let mut all = Vec::new();
        for task in tasks {
            all.extend(task.await.expect("a user finished"));
        }
        all
    });
    latencies.sort_unstable();
    #[allow(clippy::cast_precision_loss)]
    let per_second = latencies.len() as f64 / seconds as f64;
    Run {
        turns: latencies.len(),
        per_second,
        p50: percentile(&latencies, 0.50),
        p90: percentile(&latencies, 0.90),
        p99: percentile(&latencies, 0.99),
        p999: percentile(&latencies, 0.999),
        max: latencies.last().copied().unwrap_or(0),
    }
}

/// A number from the process's /proc/PID/status (`VmRSS`, `VmHWM` in
/// KiB, `Threads`).
fn status_of(process: &Process, field: &str) -> u64 {
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", process.0.id())).expect("Linux /proc");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{field} in /proc/PID/status"))
}

fn resident_kib(process: &Process) -> u64 {
    status_of(process, "VmRSS")
}

/// Starts `sessions` conversations on a memory-store server and reports how
/// much its resident memory grew per conversation.
fn idle_memory(runtime: &tokio::runtime::Runtime, sessions: usize) {
    let (server, address) = serve(&["--store".into(), "memory".into()]);
    // Warm the server up (thread pools, the bot's lazy parts) first.
    runtime.block_on(async {
        let mut sender = connect(&address).await;
        for _ in 0..1_000 {
            begin(&mut sender).await;
        }
    });
    let before = resident_kib(&server);
    let started = Instant::now();
    let clients = 32;
    runtime.block_on(async {
        let tasks: Vec<_> = (0..clients)
            .map(|i| {
                let address = address.clone();
                let share = sessions / clients + usize::from(i < sessions % clients);
                tokio::spawn(async move {
                    let mut sender = connect(&address).await;
                    for _ in 0..share {
                        begin(&mut sender).await;
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("a client finished");
        }
    });
    let after = resident_kib(&server);
    #[allow(clippy::cast_precision_loss)]
    let per_session = (after.saturating_sub(before) * 1024) as f64 / sessions as f64;
    println!(
        "\nidle conversations in the memory store: {sessions} started in {:.1} s; \
         resident memory {before} KiB -> {after} KiB: {per_session:.0} bytes per conversation",
        started.elapsed().as_secs_f64()
    );
}

fn main() {
    let options = options();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    if options.webhooks > 0 {
        webhooks(&runtime, options.webhooks, options.seconds);
        return;
    }
    println!(
        "| store | route | concurrent conversations | turns measured | turns/s | p50 | p90 | p99 \
         | p99.9 | max | server threads | server peak RSS |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for store in &options.stores {
        let (_database, args) = match store.as_str() {
            "memory" => (None, vec!["--store".to_owned(), "memory".to_owned()]),
            "sqlite" => {
                let file = scratch("sqlite").join("sessions.db");
                (
                    None,
                    vec![
                        "--store".to_owned(),
                        "sqlite".to_owned(),
                        "--sqlite".to_owned(),
                        file.display().to_string(),
                    ],
                )
            }
            "redis" => match redis() {
                Some((process, url)) => (
                    Some(process),
                    vec![
                        "--store".to_owned(),
                        "redis".to_owned(),
                        "--redis-url".to_owned(),
                        url,
                    ],
                ),
                None => {
                    eprintln!("redis-server is not installed: skipping the Redis store");
                    continue;
                }
            },
            "postgres" => match postgres() {
                Some((process, url)) => (
                    Some(process),
                    vec![
                        "--store".to_owned(),
                        "postgres".to_owned(),
                        "--postgres-url".to_owned(),
                        url,
                    ],
                ),
                None => {
                    eprintln!("PostgreSQL is not installed: skipping the PostgreSQL store");
                    continue;
                }
            },
            other => panic!("unknown store `{other}`"),
        };
        for (&users, route) in options
            .concurrency
            .iter()
            .flat_map(|users| options.routes.iter().map(move |route| (users, *route)))
        {
            // A fresh server per run, so one run's conversations do not
            // weigh on the next.
            let (server, address) = serve(&args);
            let r = run(&runtime, &address, route, users, options.seconds);
            let route = match route {
                Route::V1 => "v1",
                Route::Channel => "channel",
            };
            // Threads just after the run (tokio keeps idle blocking threads
            // for 10 s, so the run's show), and the most memory the
            // process held.
            let threads = status_of(&server, "Threads");
            let peak_mib = status_of(&server, "VmHWM") / 1024;
            println!(
                "| {store} | {route} | {users} | {} | {:.0} | {:.2} ms | {:.2} ms | {:.2} ms \
                 | {:.2} ms | {:.2} ms | {threads} | {peak_mib} MiB |",
                r.turns,
                r.per_second,
                f64::from(r.p50) / 1000.0,
                f64::from(r.p90) / 1000.0,
                f64::from(r.p99) / 1000.0,
                f64::from(r.p999) / 1000.0,
                f64::from(r.max) / 1000.0,
            );
        }
    }
    if options.sessions > 0 {
        idle_memory(&runtime, options.sessions);
    }
}

/// Webhook delivery at `rate` events per second for `seconds`: 50
/// conversations each send a proactive event at an even pace (an open
/// loop, so the rate is the rate asked for), the server (SQLite store, so
/// the outbox is durable) delivers each event's `message` to a receiver in
/// this process, and the receiver notes how long after the event each
/// arrived. Prints what was sent, delivered, the delivery delay
/// percentiles, and how long the outbox took to empty after the load
/// stopped.
fn webhooks(runtime: &tokio::runtime::Runtime, rate: u32, seconds: u64) {
    use std::sync::{Arc, Mutex};
    const CONVERSATIONS: u32 = 50;
    let delays: Arc<Mutex<Vec<u32>>> = Arc::new(Mutex::new(Vec::new()));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.set_nonblocking(true).expect("non-blocking");
    let receiver = format!(
        "http://{}/hooks",
        listener.local_addr().expect("an address")
    );
    let sink = Arc::clone(&delays);
    runtime.spawn(async move {
        let listener = tokio::net::TcpListener::from_std(listener).expect("a tokio listener");
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let sink = Arc::clone(&sink);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(
                    move |request: hyper::Request<hyper::body::Incoming>| {
                        let sink = Arc::clone(&sink);
                        async move {
                            let body = request.into_body().collect().await?.to_bytes();
                            let event: serde_json::Value =
                                serde_json::from_slice(&body).unwrap_or_default();
                            if let Some(at) = event["at"]
                                .as_str()
                                .and_then(|a| a.parse::<jiff::Timestamp>().ok())
                            {
                                let delay = jiff::Timestamp::now().duration_since(at);
                                let micros =
                                    u32::try_from(delay.as_micros().max(0)).unwrap_or(u32::MAX);
                                sink.lock().expect("not poisoned").push(micros);
                            }
                            Ok::<_, hyper::Error>(hyper::Response::new(Full::new(Bytes::new())))
                        }
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    let dir = scratch("webhooks");
    let config = dir.join("cellflow.toml");
    std::fs::write(
        &config,
        format!(
            "[[webhooks]]\nname = \"load\"\nurl = \"{receiver}\"\nsecret = \"load-test\"\n\
             events = [\"message\"]\n"
        ),
    )
    .expect("a writable scratch directory");
    let (server, address) = serve(&[
        "--store".into(),
        "sqlite".into(),
        "--sqlite".into(),
        dir.join("sessions.db").display().to_string(),
        "--config".into(),
        config.display().to_string(),
    ]);
    let started = Instant::now();
    let end = started + Duration::from_secs(seconds);
    let every = Duration::from_secs_f64(f64::from(CONVERSATIONS) / f64::from(rate));
    let sent: u64 = runtime.block_on(async {
        let tasks: Vec<_> = (0..CONVERSATIONS)
            .map(|i| {
                let address = address.clone();
                tokio::spawn(async move {
                    let mut sender = connect(&address).await;
                    let path = format!("/v1/conversations/load-{i}/events");
                    // Spread the conversations over one period.
                    let offset = every * i / CONVERSATIONS;
                    let mut tick =
                        tokio::time::interval_at(tokio::time::Instant::now() + offset, every);
                    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
                    let mut sent = 0u64;
                    while Instant::now() < end {
                        tick.tick().await;
                        let (status, body) = post(
                            &mut sender,
                            &path,
                            Bytes::from_static(br#"{"name":"remind"}"#),
                        )
                        .await;
                        assert!(status < 300, "{}", String::from_utf8_lossy(&body));
                        sent += 1;
                    }
                    sent
                })
            })
            .collect();
        let mut sent = 0;
        for task in tasks {
            sent += task.await.expect("a sender finished");
        }
        sent
    });
    let load_ended = Instant::now();
    let delivered_during = delays.lock().expect("not poisoned").len();
    // Then wait for the outbox to empty (at most a minute).
    let drained = runtime.block_on(async {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let delivered = delays.lock().expect("not poisoned").len() as u64;
            if delivered >= sent || Instant::now() > deadline {
                return Instant::now();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    let mut delays = delays.lock().expect("not poisoned").clone();
    delays.sort_unstable();
    let load_secs = load_ended.duration_since(started).as_secs_f64();
    #[allow(clippy::cast_precision_loss)]
    let (sent_rate, delivered_rate) =
        (sent as f64 / load_secs, delivered_during as f64 / load_secs);
    println!(
        "webhooks at {rate} events/s asked, {seconds} s, SQLite store: sent {sent} ({sent_rate:.0}/s), \
         delivered {delivered_during} during the load ({delivered_rate:.0}/s) and {} in all; \
         outbox empty {:.2} s after the load; delay from event to receiver p50 {:.1} ms, \
         p99 {:.1} ms, max {:.1} ms; server peak RSS {} MiB",
        delays.len(),
        drained.duration_since(load_ended).as_secs_f64(),
        f64::from(percentile(&delays, 0.5)) / 1000.0,
        f64::from(percentile(&delays, 0.99)) / 1000.0,
        f64::from(delays.last().copied().unwrap_or(0)) / 1000.0,
        status_of(&server, "VmHWM") / 1024,
    );
}
