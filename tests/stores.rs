//! The session stores' conformance suite: one set of checks run against
//! every store (memory, SQLite, Redis, PostgreSQL) — versions and
//! conflicts, history limits, expiry, turn locks across two store
//! instances, deadlines, the webhook outbox (order, leases, retries, dead
//! letters) and what survives a restart.
//!
//! Redis and PostgreSQL are started privately for each test, on 127.0.0.1
//! and a free port with a data directory of their own: the tests never
//! touch a server someone else runs. Without `redis-server`, or without
//! PostgreSQL's `initdb` and `postgres` (Debian: `apt-get install
//! postgresql`, binaries in /usr/lib/postgresql/VERSION/bin), their tests
//! are skipped with a notice; `CELLFLOW_REQUIRE_REDIS=1` and
//! `CELLFLOW_REQUIRE_POSTGRES=1` (CI) make that a failure. PostgreSQL
//! refuses to run as root: when the tests run as root, `initdb` and
//! `postgres` run as the `postgres` account the Debian package creates
//! (the data directory is given to it).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::json;

use cellflow::server::store::{DeadLetter, Exchange, HISTORY_LIMIT, Outgoing, StoreFuture, Write};
use cellflow::server::{
    MemoryStore, PostgresStore, Record, RedisStore, SessionStore, SqliteStore, StoreError,
};

use crate::server::{Redis, Serve, counter_bot, free_port, scratch};

// ---- a private PostgreSQL ---------------------------------------------------------

/// A private PostgreSQL server: its own data directory, on 127.0.0.1 and a
/// free port, trusting local connections. Stopped (and its directory
/// removed) when dropped.
pub(crate) struct Postgres {
    child: Option<Child>,
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    /// The account it runs as when the tests run as root.
    owner: Option<(u32, u32)>,
}

/// Where PostgreSQL's server programs are: `pg_config --bindir`, Debian's
/// /usr/lib/postgresql/VERSION/bin (newest first), or the PATH.
fn postgres_bin() -> Option<PathBuf> {
    let has = |dir: &Path| dir.join("initdb").is_file() && dir.join("postgres").is_file();
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if has(&dir) {
            return Some(dir);
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            Some((version, e.path().join("bin")))
        })
        .filter(|(_, dir)| has(dir))
        .collect();
    versions.sort();
    if let Some((_, dir)) = versions.pop() {
        return Some(dir);
    }
    std::env::var_os("PATH").and_then(|path| std::env::split_paths(&path).find(|dir| has(dir)))
}

/// The uid and gid of the `postgres` account, from /etc/passwd.
fn postgres_account() -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.first() == Some(&"postgres") && fields.len() > 3)
            .then(|| Some((fields[2].parse().ok()?, fields[3].parse().ok()?)))
            .flatten()
    })
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

/// Says on the terminal that `test` is skipped, or fails it when
/// `CELLFLOW_REQUIRE_POSTGRES=1`.
fn skip_postgres(test: &str, why: &str) {
    assert!(
        std::env::var_os("CELLFLOW_REQUIRE_POSTGRES").is_none_or(|v| v != "1"),
        "{test}: {why}, and CELLFLOW_REQUIRE_POSTGRES=1 requires PostgreSQL \
         (apt-get install postgresql)"
    );
    // Straight to the terminal: the harness captures `eprintln!` of a
    // passing test, and this notice must be seen.
    let _ = writeln!(
        std::io::stderr(),
        "notice: skipped the PostgreSQL part of {test}: {why} (apt-get install postgresql, \
         then run cargo test again; CELLFLOW_REQUIRE_POSTGRES=1 turns this skip into a failure)"
    );
}

impl Postgres {
    /// Creates and starts one for the test `test`, or says it is skipped
    /// and returns `None` when PostgreSQL is not installed.
    pub(crate) fn start(test: &str) -> Option<Postgres> {
        let Some(bin) = postgres_bin() else {
            skip_postgres(test, "PostgreSQL's initdb and postgres are not installed");
            return None;
        };
        let owner = if running_as_root() {
            let Some(account) = postgres_account() else {
                skip_postgres(test, "running as root and there is no `postgres` account");
                return None;
            };
            Some(account)
        } else {
            None
        };
        let dir = scratch(&format!("postgres-{}", test.replace("::", "-")));
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).unwrap();
        }
        let out = Postgres::command(&bin, "initdb", owner)
            .arg("-D")
            .arg(dir.join("data"))
            .args(["-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8"])
            .output()
            .expect("initdb runs");
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut postgres = Postgres {
            child: None,
            bin,
            dir,
            port: free_port(),
            owner,
        };
        postgres.spawn();
        Some(postgres)
    }

    /// A command for one of PostgreSQL's programs, run as `owner` if given.
    fn command(bin: &Path, program: &str, owner: Option<(u32, u32)>) -> Command {
        use std::os::unix::process::CommandExt as _;
        let mut command = Command::new(bin.join(program));
        if let Some((uid, gid)) = owner {
            command.uid(uid).gid(gid);
        }
        command
    }

    /// Starts the server on its data directory (again, after `stop`).
    pub(crate) fn spawn(&mut self) {
        let child = Postgres::command(&self.bin, "postgres", self.owner)
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            // No Unix socket: its path (in the data directory's long
            // name) could pass the system's limit of 107 bytes.
            .args(["-k", ""])
            // The suite's data is thrown away: no waiting for the disk.
            .args(["-c", "fsync=off", "-c", "full_page_writes=off"])
            .args(["-c", "max_connections=100"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("postgres runs");
        self.child = Some(child);
        for _ in 0..200 {
            let ready = Postgres::command(&self.bin, "pg_isready", self.owner)
                .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-q"])
                .status()
                .is_ok_and(|s| s.success());
            if ready {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("postgres did not start on port {}", self.port);
    }

    pub(crate) fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Stops it at once, as a crash would (SIGKILL), and waits.
    pub(crate) fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
            // Its backends notice the postmaster is gone and exit; the
            // next start waits for them through the lock file.
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if let Some(child) = &self.child {
            // A fast shutdown: backends end, nothing is left running.
            let _ = Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status();
            if let Some(mut child) = self.child.take() {
                for _ in 0..100 {
                    if child.try_wait().ok().flatten().is_some() {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

// ---- the suite -------------------------------------------------------------------

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn record(turn: u64) -> Record {
    let mut session = cellflow::Session::new("abc");
    session.turn = turn;
    session.vars.insert("n", json!(turn));
    Record::new(session)
}

fn said(turn: u64) -> Exchange {
    Exchange {
        turn,
        at: 0,
        text: Some(format!("m{turn}")),
        event: None,
        answers: vec!["ok".into()],
        feedback: None,
    }
}

fn texts_of(history: &[Exchange]) -> Vec<String> {
    history.iter().filter_map(|e| e.text.clone()).collect()
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A plain write: no deadline, no events.
fn write<'a>(
    record: &'a Record,
    expected: Option<u64>,
    exchange: &'a Exchange,
    idle: Duration,
) -> Write<'a> {
    Write {
        record,
        expected,
        exchange,
        idle,
        deadline: None,
        outbox: &[],
    }
}

async fn save(
    store: &dyn SessionStore,
    id: &str,
    turn: u64,
    expected: Option<u64>,
    idle: Duration,
) -> Result<(), StoreError> {
    let (record, exchange) = (record(turn), said(turn));
    store
        .save(id, &write(&record, expected, &exchange, idle), None)
        .await
}

/// Opens an instance of the store under test whose records expire after
/// the given idle time (several make a second process's view of it, or
/// the store after a restart).
type Open<'a> = &'a dyn Fn(Duration) -> StoreFuture<'a, Box<dyn SessionStore>>;

/// Long enough that nothing expires while a test runs.
const LONG: Duration = Duration::from_secs(600);

/// Conditional writes, reads of what was written, history, deletes,
/// counts, and expiry after `idle`.
async fn versions_history_and_expiry(store: &dyn SessionStore, idle: Duration) {
    let id = format!("conformance-{}", store.name());
    assert!(store.load(&id).await.unwrap().is_none());
    assert!(store.history(&id).await.unwrap().is_empty());
    save(store, &id, 1, None, idle).await.unwrap();
    assert!(matches!(
        save(store, &id, 9, None, idle).await,
        Err(StoreError::Conflict)
    ));
    let first = store.load(&id).await.unwrap().unwrap();
    assert_eq!((first.session.turn, first.version), (1, 1));
    save(store, &id, 2, Some(first.version), idle)
        .await
        .unwrap();
    // A write based on a stale read is refused, and changes nothing: not
    // the session, not the history.
    assert!(matches!(
        save(store, &id, 3, Some(first.version), idle).await,
        Err(StoreError::Conflict)
    ));
    let second = store.load(&id).await.unwrap().unwrap();
    assert_eq!((second.session.turn, second.version), (2, 2));
    assert_eq!(second.session.vars.value("n"), Some(json!(2)));
    assert_eq!(texts_of(&store.history(&id).await.unwrap()), ["m1", "m2"]);
    assert!(store.count().await.unwrap() >= 1);

    // Feedback is an entry of the history like any other.
    let mut feedback = said(3);
    feedback.text = None;
    feedback.answers.clear();
    feedback.feedback = Some(
        json!({"satisfaction": 4, "likable": true})
            .as_object()
            .unwrap()
            .clone(),
    );
    let third = record(3);
    store
        .save(&id, &write(&third, Some(2), &feedback, idle), None)
        .await
        .unwrap();
    let history = store.history(&id).await.unwrap();
    assert_eq!(history.last(), Some(&feedback));

    // History is kept in order, bounded: the oldest exchanges go.
    let mut version = 3;
    for turn in 4..(HISTORY_LIMIT as u64 + 13) {
        save(store, &id, turn, Some(version), idle).await.unwrap();
        version += 1;
    }
    let history = store.history(&id).await.unwrap();
    assert_eq!(history.len(), HISTORY_LIMIT);
    assert_eq!(history[0].text.as_deref(), Some("m13"));
    assert_eq!(
        history.last().unwrap().text.as_deref(),
        Some(format!("m{}", HISTORY_LIMIT + 12).as_str())
    );
    assert_eq!(store.load(&id).await.unwrap().unwrap().version, version);

    assert!(store.delete(&id).await.unwrap());
    assert!(!store.delete(&id).await.unwrap());
    assert!(store.load(&id).await.unwrap().is_none());
    assert!(store.history(&id).await.unwrap().is_empty());
    // A new conversation under a deleted one's id starts with no history.
    save(store, &id, 1, None, idle).await.unwrap();
    assert_eq!(texts_of(&store.history(&id).await.unwrap()), ["m1"]);
    store.delete(&id).await.unwrap();

    // A session over the store's limit is refused, and nothing is written.
    let mut big = record(1);
    big.session
        .vars
        .insert("blob", json!("x".repeat(300 * 1024)));
    let huge = format!("{id}-huge");
    assert!(matches!(
        store
            .save(&huge, &write(&big, None, &said(1), idle), None)
            .await,
        Err(StoreError::TooLarge { .. })
    ));
    assert!(store.load(&huge).await.unwrap().is_none());

    // Expiry: idle records (and their history) read as missing.
    let old = format!("{id}-idle");
    save(store, &old, 1, None, idle).await.unwrap();
    tokio::time::sleep(idle + Duration::from_millis(1_200)).await;
    let _ = store.purge(idle).await.unwrap();
    assert!(
        store.load(&old).await.unwrap().is_none(),
        "{} kept an idle record",
        store.name()
    );
    assert!(store.history(&old).await.unwrap().is_empty());
}

/// A turn's first and last store calls: lock with the read, release with
/// the write. Stores that need no cross-process lock hand out no token;
/// for the others, a second instance (another process) is kept out while
/// the first holds the lock.
async fn locked_turns(store: &dyn SessionStore, other: &dyn SessionStore, idle: Duration) {
    let id = format!("locked-{}", store.name());
    let short = Duration::from_millis(50);
    save(store, &id, 1, None, idle).await.unwrap();

    let (token, read) = store.lock_and_load(&id, short).await.unwrap();
    let read = read.unwrap();
    assert_eq!((read.session.turn, read.version), (1, 1));
    // Stores served by one process take no lock: only this process's turns
    // contend, and the server's own lock serializes them.
    let other = if token.is_some() { other } else { store };
    if token.is_some() {
        // Held: another turn, in this process or another, waits, then
        // gives up.
        for contender in [store, other] {
            assert!(matches!(
                contender.lock_and_load(&id, short).await,
                Err(StoreError::Conflict)
            ));
        }
    }
    // A stale write is refused and keeps the lock.
    let (two, exchange) = (record(2), said(2));
    assert!(matches!(
        store
            .save(
                &id,
                &write(&two, Some(7), &exchange, idle),
                token.as_deref()
            )
            .await,
        Err(StoreError::Conflict)
    ));
    if token.is_some() {
        assert!(matches!(
            other.lock_and_load(&id, short).await,
            Err(StoreError::Conflict)
        ));
    }
    // A good write is stored and releases it: the other gets in at once.
    store
        .save(
            &id,
            &write(&two, Some(1), &exchange, idle),
            token.as_deref(),
        )
        .await
        .unwrap();
    let (token, read) = other.lock_and_load(&id, short).await.unwrap();
    assert_eq!(read.unwrap().version, 2);
    assert_eq!(texts_of(&store.history(&id).await.unwrap()), ["m1", "m2"]);
    if let Some(token) = &token {
        // A turn that waits longer gets it once the holder lets go.
        let waiter = store.lock_and_load(&id, Duration::from_secs(5));
        let release = async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            other.unlock(&id, token).await.unwrap();
        };
        let (acquired, ()) = tokio::join!(waiter, release);
        let (token, read) = acquired.unwrap();
        assert_eq!(read.unwrap().version, 2);
        store.unlock(&id, &token.unwrap()).await.unwrap();
        // Releasing a lock one no longer holds is harmless.
        other.unlock(&id, "not-the-holder").await.unwrap();
    }
    // A conversation that does not exist takes no lock and reads nothing.
    let (_, missing) = store
        .lock_and_load(&format!("{id}-missing"), short)
        .await
        .unwrap();
    assert!(missing.is_none());
    store.delete(&id).await.unwrap();
}

/// Deadlines: set with a turn's write, handed out once when due (then
/// leased), cleared by a write without one or a delete.
async fn deadlines(store: &dyn SessionStore, idle: Duration) {
    let base = format!("deadline-{}", store.name());
    let (early, late, none) = (
        format!("{base}-early"),
        format!("{base}-late"),
        format!("{base}-none"),
    );
    let t = now();
    for (id, deadline) in [(&late, Some(t + 20)), (&early, Some(t + 10)), (&none, None)] {
        let (r, e) = (record(1), said(1));
        let mut w = write(&r, None, &e, idle);
        w.deadline = deadline;
        store.save(id, &w, None).await.unwrap();
    }
    let lease = Duration::from_secs(60);
    let ours = |ids: Vec<String>| -> Vec<String> {
        ids.into_iter().filter(|id| id.starts_with(&base)).collect()
    };
    assert!(ours(store.due(t, lease, 100).await.unwrap()).is_empty());
    assert_eq!(
        ours(store.due(t + 10, lease, 100).await.unwrap()),
        [early.as_str()]
    );
    // Leased: not handed out again, not even when the other falls due.
    assert_eq!(
        ours(store.due(t + 30, lease, 100).await.unwrap()),
        [late.as_str()]
    );
    assert!(ours(store.due(t + 30, lease, 100).await.unwrap()).is_empty());
    // A timeout turn that never wrote (a crash): due again after the lease.
    assert_eq!(
        ours(store.due(t + 200, lease, 100).await.unwrap()),
        [early.clone(), late.clone()]
    );
    // A write sets the next deadline, or clears it.
    let (r, e) = (record(2), said(2));
    let mut w = write(&r, Some(1), &e, idle);
    w.deadline = Some(t + 1_000);
    store.save(&early, &w, None).await.unwrap();
    let mut w = write(&r, Some(1), &e, idle);
    w.deadline = None;
    store.save(&late, &w, None).await.unwrap();
    assert!(ours(store.due(t + 500, lease, 100).await.unwrap()).is_empty());
    assert_eq!(
        ours(store.due(t + 1_000, lease, 100).await.unwrap()),
        [early.as_str()]
    );
    // The limit holds; a deleted conversation is never due.
    let (r, e) = (record(3), said(3));
    let mut w = write(&r, Some(2), &e, idle);
    w.deadline = Some(t + 5);
    store.save(&early, &w, None).await.unwrap();
    let mut w = write(&r, Some(2), &e, idle);
    w.deadline = Some(t + 6);
    store.save(&late, &w, None).await.unwrap();
    assert_eq!(store.due(t + 7, lease, 1).await.unwrap().len(), 1);
    store.delete(&late).await.unwrap();
    // `early` comes back after its lease; `late` never does.
    let later = ours(store.due(t + 7_000, lease, 100).await.unwrap());
    assert!(!later.contains(&late), "{later:?}");
    for id in [&early, &late, &none] {
        store.delete(id).await.unwrap();
    }
}

fn event(destination: &str, body: &str) -> Outgoing {
    Outgoing {
        destination: destination.into(),
        body: body.into(),
    }
}

/// Writes one turn of `id` with `events` in its outbox.
async fn enqueue(
    store: &dyn SessionStore,
    id: &str,
    version: Option<u64>,
    events: &[Outgoing],
    idle: Duration,
) -> Result<(), StoreError> {
    let turn = version.map_or(1, |v| v + 1);
    let (r, e) = (record(turn), said(turn));
    let mut w = write(&r, version, &e, idle);
    w.outbox = events;
    store.save(id, &w, None).await
}

fn bodies(deliveries: &[cellflow::server::store::Delivery]) -> Vec<&str> {
    deliveries.iter().map(|d| d.body.as_str()).collect()
}

/// The outbox: queued with the write (never by a refused one), handed out
/// one at a time per (destination, conversation) pair in the order queued,
/// leased, retried later, given up on into the dead letters, redelivered.
async fn outbox(store: &dyn SessionStore, idle: Duration) {
    let a = format!("outbox-{}-a", store.name());
    let b = format!("outbox-{}-b", store.name());
    // A little ahead, so what is queued now may go at `t`.
    let t0 = now();
    let t = t0 + 2;
    let lease = Duration::from_secs(1_000);
    enqueue(
        store,
        &a,
        None,
        &[event("crm", "a1"), event("crm", "a2"), event("audit", "a1")],
        idle,
    )
    .await
    .unwrap();
    enqueue(store, &b, None, &[event("crm", "b1")], idle)
        .await
        .unwrap();
    // A refused write queues nothing.
    assert!(matches!(
        enqueue(store, &a, Some(7), &[event("crm", "lost")], idle).await,
        Err(StoreError::Conflict)
    ));
    enqueue(store, &a, Some(1), &[event("crm", "a3")], idle)
        .await
        .unwrap();

    // The head of each pair, and only the heads.
    let mut claimed = store.claim(t, lease, 100).await.unwrap();
    claimed.sort_by(|x, y| (&x.destination, &x.body).cmp(&(&y.destination, &y.body)));
    assert_eq!(bodies(&claimed), ["a1", "a1", "b1"]);
    assert!(claimed.iter().all(|d| d.attempts == 1 && d.created >= t0));
    let crm_a1 = claimed
        .iter()
        .find(|d| d.destination == "crm" && d.conversation == a)
        .unwrap()
        .clone();
    let audit_a1 = claimed
        .iter()
        .find(|d| d.destination == "audit")
        .unwrap()
        .clone();
    let b_head = claimed
        .iter()
        .find(|d| d.conversation == b)
        .unwrap()
        .clone();
    // Leased: nothing more to hand out until something is settled.
    assert!(store.claim(t, lease, 100).await.unwrap().is_empty());

    // Delivered: the next of that pair may go; the others wait.
    store.ack(crm_a1.id).await.unwrap();
    let next = store.claim(t, lease, 100).await.unwrap();
    assert_eq!(bodies(&next), ["a2"]);
    let crm_a2 = next[0].clone();

    // Failed: tried again only at its time, and nothing of its pair
    // overtakes it.
    store
        .retry(crm_a2.id, t + 60, "503 from the receiver")
        .await
        .unwrap();
    assert!(store.claim(t + 59, lease, 100).await.unwrap().is_empty());
    let again = store.claim(t + 60, lease, 100).await.unwrap();
    assert_eq!(bodies(&again), ["a2"]);
    assert_eq!(again[0].attempts, 2);

    // A lease that runs out (the deliverer crashed) hands it out again.
    let expired = store
        .claim(t + 60 + lease.as_secs() + 1, lease, 100)
        .await
        .unwrap();
    let mut expired_bodies = bodies(&expired);
    expired_bodies.sort_unstable();
    assert_eq!(expired_bodies, ["a1", "a2", "b1"]);

    // Given up: it is a dead letter, and the pair moves on.
    store
        .dead(crm_a2.id, "gave up after 2 attempts")
        .await
        .unwrap();
    let letters: Vec<DeadLetter> = store.dead_letters(10).await.unwrap();
    let ours: Vec<&DeadLetter> = letters
        .iter()
        .filter(|l| l.delivery.conversation == a)
        .collect();
    assert_eq!(ours.len(), 1);
    assert_eq!(ours[0].delivery.body, "a2");
    assert_eq!(ours[0].delivery.destination, "crm");
    assert_eq!(ours[0].error, "gave up after 2 attempts");
    assert!(ours[0].failed_at >= t0);
    let later = t + 3 * lease.as_secs();
    let next = store.claim(later, lease, 100).await.unwrap();
    let mut next_bodies = bodies(&next);
    next_bodies.sort_unstable();
    assert_eq!(next_bodies, ["a1", "a3", "b1"]);
    for d in &next {
        store.ack(d.id).await.unwrap();
    }
    store.ack(audit_a1.id).await.unwrap();
    store.ack(b_head.id).await.unwrap();
    assert!(store.claim(later, lease, 100).await.unwrap().is_empty());

    // Redelivered: back in the outbox, attempts from zero, and no longer
    // a dead letter; an unknown id is no dead letter.
    assert!(store.redeliver(ours[0].delivery.id).await.unwrap());
    assert!(!store.redeliver(ours[0].delivery.id).await.unwrap());
    assert!(!store.redeliver(987_654_321).await.unwrap());
    assert!(
        store
            .dead_letters(10)
            .await
            .unwrap()
            .iter()
            .all(|l| l.delivery.conversation != a)
    );
    let back = store.claim(later, lease, 100).await.unwrap();
    assert_eq!(bodies(&back), ["a2"]);
    assert_eq!(back[0].attempts, 1);
    store.ack(back[0].id).await.unwrap();
    assert!(store.claim(later, lease, 100).await.unwrap().is_empty());

    // Events outlive their conversation: a deleted one's still go.
    enqueue(store, &b, Some(1), &[event("crm", "b-end")], idle)
        .await
        .unwrap();
    store.delete(&b).await.unwrap();
    let last = store.claim(later, lease, 100).await.unwrap();
    assert_eq!(bodies(&last), ["b-end"]);
    store.ack(last[0].id).await.unwrap();
    // The limit holds.
    enqueue(
        store,
        &a,
        Some(2),
        &[event("x", "1"), event("y", "2"), event("z", "3")],
        idle,
    )
    .await
    .unwrap();
    assert_eq!(store.claim(later, lease, 2).await.unwrap().len(), 2);
    for d in store.claim(later + 5_000, lease, 100).await.unwrap() {
        store.ack(d.id).await.unwrap();
    }
    store.delete(&a).await.unwrap();
}

/// In order per pair under many writes: 50 turns of one conversation,
/// two events each, delivered one by one, come out in the order written.
async fn outbox_order(store: &dyn SessionStore, idle: Duration) {
    let id = format!("order-{}", store.name());
    let lease = Duration::from_secs(30);
    for turn in 0..50u64 {
        let events = [
            event("hook", &format!("{turn}-first")),
            event("hook", &format!("{turn}-second")),
        ];
        enqueue(store, &id, (turn > 0).then_some(turn), &events, idle)
            .await
            .unwrap();
    }
    let mut seen = Vec::new();
    let t = now() + 2;
    loop {
        let batch = store.claim(t, lease, 10).await.unwrap();
        let ours: Vec<_> = batch.iter().filter(|d| d.conversation == id).collect();
        assert!(ours.len() <= 1, "two items of one pair at once: {ours:?}");
        if batch.is_empty() {
            break;
        }
        for d in &batch {
            if d.conversation == id {
                seen.push(d.body.clone());
            }
            store.ack(d.id).await.unwrap();
        }
    }
    let expected: Vec<String> = (0..50)
        .flat_map(|t| [format!("{t}-first"), format!("{t}-second")])
        .collect();
    assert_eq!(seen, expected);
    store.delete(&id).await.unwrap();
}

/// What a durable store keeps across a restart: conversations, history,
/// deadlines, queued events (a leased one included) and dead letters.
async fn before_restart(store: &dyn SessionStore) -> u64 {
    let id = format!("restart-{}", store.name());
    let idle = LONG;
    // A little ahead, so what is queued now may go at `t`.
    let t = now() + 2;
    let (r, e) = (record(1), said(1));
    let mut w = write(&r, None, &e, idle);
    w.deadline = Some(t + 10);
    let events = [event("crm", "r1"), event("crm", "r2"), event("dead", "r3")];
    w.outbox = &events;
    store.save(&id, &w, None).await.unwrap();
    let claimed = store.claim(t, Duration::from_secs(30), 100).await.unwrap();
    let dead = claimed.iter().find(|d| d.body == "r3").unwrap();
    store.dead(dead.id, "refused").await.unwrap();
    t
}

async fn after_restart(store: &dyn SessionStore, t: u64) {
    let id = format!("restart-{}", store.name());
    assert_eq!(store.load(&id).await.unwrap().unwrap().version, 1);
    assert_eq!(texts_of(&store.history(&id).await.unwrap()), ["m1"]);
    assert_eq!(
        store
            .due(t + 10, Duration::from_secs(60), 100)
            .await
            .unwrap(),
        [id.as_str()]
    );
    // The lease taken before the restart still holds, then runs out.
    assert!(
        store
            .claim(t, Duration::from_secs(30), 100)
            .await
            .unwrap()
            .is_empty()
    );
    let claimed = store
        .claim(t + 31, Duration::from_secs(30), 100)
        .await
        .unwrap();
    assert_eq!(bodies(&claimed), ["r1"]);
    store.ack(claimed[0].id).await.unwrap();
    let claimed = store
        .claim(t + 31, Duration::from_secs(30), 100)
        .await
        .unwrap();
    assert_eq!(bodies(&claimed), ["r2"]);
    let letters = store.dead_letters(10).await.unwrap();
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].delivery.body, "r3");
}

/// The whole suite but restarts.
async fn suite(open: Open<'_>) {
    let store = open(LONG).await.expect("the store opens");
    let other = open(LONG).await.expect("a second instance opens");
    locked_turns(store.as_ref(), other.as_ref(), LONG).await;
    deadlines(store.as_ref(), LONG).await;
    outbox(store.as_ref(), LONG).await;
    outbox_order(store.as_ref(), LONG).await;
    let short = open(IDLE).await.expect("the store opens");
    versions_history_and_expiry(short.as_ref(), IDLE).await;
}

/// What expires in the expiry check.
const IDLE: Duration = Duration::from_secs(1);

#[test]
fn the_memory_store_conforms() {
    runtime().block_on(async {
        let open = |idle| -> StoreFuture<'_, Box<dyn SessionStore>> {
            Box::pin(async move { Ok(Box::new(MemoryStore::new(idle)) as Box<dyn SessionStore>) })
        };
        suite(&open).await;
    });
}

#[test]
fn the_sqlite_store_conforms_and_keeps_everything_across_a_restart() {
    let dir = scratch("stores-sqlite");
    runtime().block_on(async {
        let open = |idle: Duration| -> StoreFuture<'_, Box<dyn SessionStore>> {
            // One file per idle time: the expiry check gets its own.
            let file = dir.join(format!("s{}.db", idle.as_secs()));
            Box::pin(async move {
                Ok(Box::new(SqliteStore::open(&file, idle)?) as Box<dyn SessionStore>)
            })
        };
        suite(&open).await;
        let store = open(LONG).await.unwrap();
        let t = before_restart(store.as_ref()).await;
        drop(store);
        after_restart(open(LONG).await.unwrap().as_ref(), t).await;
    });
}

#[test]
fn the_redis_store_conforms_and_keeps_everything_across_a_restart() {
    let Some(mut redis) =
        Redis::start("stores::the_redis_store_conforms_and_keeps_everything_across_a_restart")
    else {
        return;
    };
    let url = redis.url();
    runtime().block_on(async {
        // Redis takes the idle time with each write.
        let open = |_idle| -> StoreFuture<'_, Box<dyn SessionStore>> {
            let url = url.clone();
            Box::pin(
                async move { Ok(Box::new(RedisStore::open(&url).await?) as Box<dyn SessionStore>) },
            )
        };
        suite(&open).await;
        let store = open(LONG).await.unwrap();
        let t = before_restart(store.as_ref()).await;
        drop(store);
        // Killed, as a crash would: its append-only file keeps every write.
        redis.stop();
        redis.spawn();
        after_restart(open(LONG).await.unwrap().as_ref(), t).await;
    });
}

#[test]
fn the_postgres_store_conforms_and_keeps_everything_across_a_restart() {
    let Some(mut postgres) = Postgres::start(
        "stores::the_postgres_store_conforms_and_keeps_everything_across_a_restart",
    ) else {
        return;
    };
    let url = postgres.url();
    runtime().block_on(async {
        let open = |idle| -> StoreFuture<'_, Box<dyn SessionStore>> {
            let url = url.clone();
            Box::pin(async move {
                let store = PostgresStore::open(&url, idle, Duration::from_secs(5)).await?;
                Ok(Box::new(store) as Box<dyn SessionStore>)
            })
        };
        suite(&open).await;
        let store = open(LONG).await.unwrap();
        let t = before_restart(store.as_ref()).await;
        drop(store);
        postgres.stop();
        postgres.spawn();
        after_restart(open(LONG).await.unwrap().as_ref(), t).await;
    });
}

#[test]
fn a_stopped_postgres_fails_operations_then_comes_back() {
    let Some(mut postgres) =
        Postgres::start("stores::a_stopped_postgres_fails_operations_then_comes_back")
    else {
        return;
    };
    let url = postgres.url();
    runtime().block_on(async {
        let idle = Duration::from_secs(600);
        let store = PostgresStore::open(&url, idle, Duration::from_millis(500))
            .await
            .unwrap();
        save(&store, "kept", 1, None, idle).await.unwrap();
        postgres.stop();
        assert!(matches!(
            store.load("kept").await,
            Err(StoreError::Unavailable(_))
        ));
        let failed = save(&store, "kept", 2, Some(1), idle).await;
        assert!(
            matches!(
                failed,
                Err(StoreError::Unavailable(_) | StoreError::Unconfirmed(_))
            ),
            "{failed:?}"
        );
        postgres.spawn();
        // The pool replaces its dead connections.
        let mut read = None;
        for _ in 0..50 {
            if let Ok(found) = store.load("kept").await {
                read = found;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(read.unwrap().version, 1);
    });
    // Opening one where nothing listens is a clear error, in time.
    let started = std::time::Instant::now();
    let port = free_port();
    let error = runtime()
        .block_on(PostgresStore::open(
            &format!("postgres://postgres@127.0.0.1:{port}/postgres"),
            IDLE,
            Duration::from_millis(500),
        ))
        .err()
        .unwrap();
    assert!(
        error
            .to_string()
            .contains("the session store is unavailable"),
        "{error}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn an_unreachable_postgres_is_a_clear_error_at_start() {
    let port = free_port();
    let out = Command::new(env!("CARGO_BIN_EXE_cellflow"))
        .args(["serve", "flows/pizza", "--store", "postgres"])
        .args(["--listen", "127.0.0.1:0"])
        .current_dir(crate::support::root())
        .env("CELLFLOW_API_KEYS", "k")
        .env(
            "DATABASE_URL",
            format!("postgres://cellflow@127.0.0.1:{port}/cellflow"),
        )
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("the session store is unavailable"), "{err}");
}

#[test]
fn two_servers_sharing_postgres_serialize_turns_of_one_conversation() {
    let Some(postgres) =
        Postgres::start("stores::two_servers_sharing_postgres_serialize_turns_of_one_conversation")
    else {
        return;
    };
    let dir = scratch("shared-postgres");
    let bot = counter_bot(&dir);
    let url = postgres.url();
    let args = ["--store", "postgres", "--postgres-url", url.as_str()];
    let a = Serve::start(&bot, &args);
    let b = Serve::start(&bot, &args);
    let (code, _) = a.begin(&json!({}));
    crate::server::hammer(&[&a, &b], &code, 40);
    assert_eq!(crate::server::count_of(&a, &code), (40, 41));
    assert_eq!(crate::server::count_of(&b, &code), (40, 41));
    // Without --postgres-url the URL comes from DATABASE_URL.
    let out = Command::new(env!("CARGO_BIN_EXE_cellflow"))
        .args(["serve", "flows/pizza", "--store", "postgres"])
        .current_dir(crate::support::root())
        .env("CELLFLOW_API_KEYS", "k")
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--postgres-url URL or $DATABASE_URL"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn sqlites_log_stays_bounded_under_steady_writes() {
    // Turns write without pause while the server's upkeep checkpoints: the
    // write-ahead log must start over instead of growing with every turn.
    let idle = Duration::from_secs(600);
    let dir = scratch("wal");
    let file = dir.join("s.db");
    let store = SqliteStore::open(&file, idle).unwrap();
    let wal = dir.join("s.db-wal");
    let writing = std::sync::atomic::AtomicBool::new(true);
    let mut largest = 0;
    std::thread::scope(|scope| {
        let store = &store;
        let writing = &writing;
        scope.spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            rt.block_on(async {
                for n in 0..400u64 {
                    let id = format!("c{n}");
                    save(store, &id, 1, None, idle).await.unwrap();
                    for version in 1..10 {
                        save(store, &id, version + 1, Some(version), idle)
                            .await
                            .unwrap();
                    }
                }
            });
            writing.store(false, std::sync::atomic::Ordering::Relaxed);
        });
        while writing.load(std::sync::atomic::Ordering::Relaxed) {
            store.maintain().unwrap();
            largest = largest.max(std::fs::metadata(&wal).map_or(0, |m| m.len()));
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    store.maintain().unwrap();
    // 4,000 writes of three or more pages each: about 40 MB of log if it
    // never starts over (measured with upkeep left out). With upkeep it
    // peaked at 5.6–8.4 MB run alone, and at 16.8 MB once beside the rest
    // of the suite on two busy cores, when upkeep ran less often.
    assert!(largest < 28 << 20, "the log grew to {largest} bytes");
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert_eq!(rt.block_on(store.count()).unwrap(), 400);
    assert_eq!(
        rt.block_on(store.load("c399")).unwrap().unwrap().version,
        10
    );
}

#[test]
fn an_older_sqlite_file_gains_what_it_lacks() {
    // A file written before deadlines and the outbox existed, with one
    // conversation at version 3.
    let dir = scratch("sqlite-upgrade");
    let file = dir.join("old.db");
    let session = serde_json::to_vec(&record(3).session).unwrap();
    let old = rusqlite::Connection::open(&file).unwrap();
    old.execute_batch(
        "CREATE TABLE conversations (id TEXT PRIMARY KEY, version INTEGER NOT NULL,
             touched INTEGER NOT NULL, session BLOB NOT NULL) WITHOUT ROWID;
         CREATE TABLE exchanges (id TEXT NOT NULL, version INTEGER NOT NULL,
             exchange BLOB NOT NULL, PRIMARY KEY (id, version)) WITHOUT ROWID;",
    )
    .unwrap();
    old.execute(
        "INSERT INTO conversations VALUES ('old', 3, ?1, ?2)",
        rusqlite::params![i64::try_from(now()).unwrap(), session],
    )
    .unwrap();
    drop(old);
    let store = SqliteStore::open(&file, Duration::from_secs(600)).unwrap();
    runtime().block_on(async {
        let old = store.load("old").await.unwrap().unwrap();
        assert_eq!(old.version, 3);
        let (r, e) = (record(4), said(4));
        let mut w = write(&r, Some(3), &e, Duration::from_secs(600));
        w.deadline = Some(5);
        let events = [event("crm", "x")];
        w.outbox = &events;
        store.save("old", &w, None).await.unwrap();
        assert_eq!(
            store.due(5, Duration::from_secs(1), 10).await.unwrap(),
            ["old"]
        );
        let claimed = store
            .claim(now(), Duration::from_secs(1), 10)
            .await
            .unwrap();
        assert_eq!(bodies(&claimed), ["x"]);
    });
    // Opening it again changes nothing more.
    drop(store);
    SqliteStore::open(&file, Duration::from_secs(600)).unwrap();
}

#[test]
fn sqlite_purges_many_expired_conversations_in_batches_and_keeps_fresh_ones() {
    let dir = scratch("sqlite-purge");
    let store = SqliteStore::open(&dir.join("p.db"), IDLE).unwrap();
    runtime().block_on(async {
        for n in 0..600 {
            save(&store, &format!("old{n}"), 1, None, IDLE)
                .await
                .unwrap();
        }
        tokio::time::sleep(IDLE + Duration::from_millis(1_200)).await;
        for n in 0..3 {
            save(&store, &format!("new{n}"), 1, None, IDLE)
                .await
                .unwrap();
        }
        assert_eq!(store.purge(IDLE).await.unwrap(), 600);
        assert_eq!(store.count().await.unwrap(), 3);
        assert!(store.history("old599").await.unwrap().is_empty());
        assert_eq!(store.history("new2").await.unwrap().len(), 1);
    });
}
