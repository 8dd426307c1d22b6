//! The studio in a real browser: headless Chromium driven over the
//! `WebDriver` protocol (chromedriver, through `fantoccini`). Each step leaves a screenshot in
//! `target/studio-screenshots/`.
//!
//! Without `chromium` and `chromedriver` the test says so and passes; with
//! `CELLFLOW_REQUIRE_BROWSER=1` (CI) their absence fails it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use super::{BOT, Studio, bot_dir};

fn find(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in names {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    None
}

/// Chromium and its driver, or `None` (after a notice) when the machine
/// has none and no one asked for them.
fn browser() -> Option<(PathBuf, PathBuf)> {
    let chromium = find(&["chromium", "chromium-browser", "google-chrome"]);
    let driver = find(&["chromedriver"]);
    match (chromium, driver) {
        (Some(chromium), Some(driver)) => Some((chromium, driver)),
        _ => {
            assert!(
                std::env::var("CELLFLOW_REQUIRE_BROWSER").as_deref() != Ok("1"),
                "CELLFLOW_REQUIRE_BROWSER=1 but chromium or chromedriver is not installed"
            );
            eprintln!(
                "notice: the studio's browser test is skipped: install chromium and chromium-driver to run it"
            );
            None
        }
    }
}

/// A chromedriver on a free port, stopped when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    fn start(binary: &Path) -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let child = Command::new(binary)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver runs");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn connect(driver: &Driver, chromium: &Path, profile: &Path) -> Client {
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".to_owned(),
        json!({
            "binary": chromium,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1500,950",
                format!("--user-data-dir={}", profile.display()),
            ],
        }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&driver.url)
        .await
        .expect("a browser session")
}

fn shots() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/studio-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn shoot(client: &Client, name: &str) {
    let png = client.screenshot().await.expect("a screenshot");
    std::fs::write(shots().join(name), png).unwrap();
}

/// Waits for `css` to match an element.
async fn wait_for(client: &Client, css: &str) {
    client
        .wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css} never showed: {e}"));
}

/// Polls a script until it returns true.
async fn wait_until(client: &Client, script: &str, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let value = client.execute(script, vec![]).await.unwrap();
        if value == json!(true) {
            return;
        }
        assert!(Instant::now() < deadline, "{what} did not happen");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn cellflow_test(dir: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_cellflow"))
        .arg("test")
        .arg(dir)
        .output()
        .unwrap()
}

#[test]
fn studio_in_a_browser_chats_highlights_reloads_and_saves_a_test() {
    let Some((chromium, driver_binary)) = browser() else {
        return;
    };
    let dir = bot_dir("browser");
    let studio = Studio::start(&dir);
    let big = std::env::temp_dir().join(format!("cellflow-studio-big-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&big);
    std::fs::create_dir_all(&big).unwrap();
    std::fs::write(big.join("gen.flow"), cellflow::generate::dsl_bot(1_000)).unwrap();
    let big_studio = Studio::start(&big);
    let multilingual =
        std::env::temp_dir().join(format!("cellflow-studio-pt-es-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&multilingual);
    std::fs::create_dir_all(&multilingual).unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("flows/support/support.flow.yaml"),
        multilingual.join("support.flow.yaml"),
    )
    .unwrap();
    let multilingual_studio = Studio::start(&multilingual);
    let profile =
        std::env::temp_dir().join(format!("cellflow-studio-chromium-{}", std::process::id()));
    let driver = Driver::start(&driver_binary);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = connect(&driver, &chromium, &profile).await;

        // Open the bot: the picture, and the welcome turn in the chat.
        client.goto(&format!("{}/", studio.base)).await.unwrap();
        wait_for(&client, "body[data-ready=yes]").await;
        wait_for(&client, "#messages .message.bot").await;
        wait_for(&client, "g.node[data-id='welcome#0']").await;
        // The diagnostic sits on its cell.
        wait_for(&client, "g.node[data-id='welcome#6'].has-warning .badge.warning").await;
        shoot(&client, "1-open.png").await;

        // Chat through the flow with a button; the cells light up.
        client
            .find(Locator::XPath("//div[@id='messages']//button[text()='Tea']"))
            .await
            .expect("the Tea button")
            .click()
            .await
            .unwrap();
        wait_for(&client, "g.node[data-id='welcome#4'].visited").await;
        wait_for(&client, "g.node[data-id='welcome#5'].visited").await;
        wait_until(
            &client,
            "return [...document.querySelectorAll('#messages .message.bot')].some(m => m.textContent.includes('A mild tea coming up.'))",
            "the tea answer",
        )
        .await;
        let coffee = client
            .find(Locator::Css("g.node[data-id='welcome#3']"))
            .await
            .unwrap()
            .attr("class")
            .await
            .unwrap()
            .unwrap_or_default();
        assert!(!coffee.contains("visited"), "the coffee branch was not taken: {coffee}");
        wait_for(&client, "#steps li").await;
        shoot(&client, "2-chat.png").await;

        // Click the cell with the diagnostic: its source and the warning.
        client
            .find(Locator::Css("g.node[data-id='welcome#6']"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_for(&client, "#details-diagnostics li.warning").await;
        wait_until(
            &client,
            "return document.getElementById('details-source').textContent.includes('never said')",
            "the cell's source lines",
        )
        .await;
        shoot(&client, "3-diagnostic.png").await;

        // Save the chat as a test; `cellflow test` passes it.
        client
            .find(Locator::Id("save-test"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_until(
            &client,
            "return [...document.querySelectorAll('#messages .note')].some(m => m.textContent.startsWith('Saved as test'))",
            "saving the test",
        )
        .await;
        let out = cellflow_test(&dir);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("1 passed"));

        // An edit on disk redraws the picture.
        std::fs::write(
            dir.join("cafe.flow"),
            BOT.replace("A mild tea coming up.", "A green tea coming up."),
        )
        .unwrap();
        wait_until(
            &client,
            "const l = document.querySelector(\"g.node[data-id='welcome#4'] .label\"); return !!l && l.textContent.includes('green tea')",
            "the reload",
        )
        .await;
        shoot(&client, "4-reloaded.png").await;

        // Coverage painted from the saved test.
        client
            .find(Locator::Id("coverage-button"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_for(&client, "g.node[data-id='welcome#3'].missed").await;
        shoot(&client, "5-coverage.png").await;

        // A bot that speaks Portuguese and Spanish: the selector offers
        // both, and picking one starts the chat again in it.
        client
            .goto(&format!("{}/", multilingual_studio.base))
            .await
            .unwrap();
        wait_for(&client, "body[data-ready=yes]").await;
        wait_for(&client, "#language:not([hidden]) option[value=es]").await;
        wait_for(&client, "#messages .message.bot").await;
        let portuguese = client
            .find(Locator::Css("#messages .message.bot"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        client
            .find(Locator::Css("#language option[value=es]"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_until(
            &client,
            &format!(
                "const m = document.querySelector('#messages .message.bot'); return !!m && m.textContent !== {}",
                serde_json::to_string(&portuguese).unwrap()
            ),
            "the chat starting again in Spanish",
        )
        .await;
        shoot(&client, "6-languages.png").await;

        // A 1,000-cell bot: how long the page takes to be ready (recorded
        // in docs/PERFORMANCE.md, not asserted: timings vary by machine).
        let started = Instant::now();
        client.goto(&format!("{}/", big_studio.base)).await.unwrap();
        wait_for(&client, "body[data-ready=yes]").await;
        let wall = started.elapsed();
        let ready = client
            .execute("return [document.body.dataset.readyMs, document.body.dataset.drawnMs, document.querySelectorAll('g.node').length]", vec![])
            .await
            .unwrap();
        println!(
            "studio page with a 1,000-cell bot: ready {} ms after navigation (picture fetched and drawn in {} ms, {} nodes); {} ms as WebDriver saw it",
            ready[0].as_str().unwrap_or("?"),
            ready[1].as_str().unwrap_or("?"),
            ready[2],
            wall.as_millis()
        );
        shoot(&client, "7-thousand-cells.png").await;
        client.close().await.unwrap();
    });
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&big);
    let _ = std::fs::remove_dir_all(&multilingual);
    let _ = std::fs::remove_dir_all(&profile);
}
