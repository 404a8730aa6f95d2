//! The HTML report in a real headless Chromium: the fixture results are rendered to a
//! temporary `index.html`, opened from `file://` through chromedriver, and checked through the
//! DOM - one cell per record with its data attributes, the feature group rows, a cell's details
//! opened by a click, the outcome / unexpected / implementation filters, the seed's table.
//! A full-page screenshot is saved to `target/report-screenshot.png` (and one with a cell's
//! details open to `target/report-screenshot-detail.png`) for a human to look at.
//!
//! Chromium and chromedriver come from `CHROMIUM_BINARY` / `CHROMEDRIVER` or `PATH`. When one
//! is missing the test fails under `CI=true` and otherwise says it skipped, as the harness's
//! browser tests do. chromedriver runs in a process group of its own, owned by a guard that
//! SIGKILLs the group (the driver and the browser it started) on drop, panic included.

use std::future::Future;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use interop_results::{RunInfo, RunRecord};
use serde_json::{json, Value};

/// Session start (the driver starting to listen included).
const SESSION_TIMEOUT: Duration = Duration::from_secs(45);
/// Each WebDriver command.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(20);

fn search_path() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(PathBuf::from(home).join(".cargo/bin"));
    }
    dirs
}

/// `$env` when it names a file, else the first of `names` on `PATH`.
fn locate(env: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(env).map(PathBuf::from) {
        return p.is_file().then_some(p);
    }
    let dirs = search_path();
    names
        .iter()
        .flat_map(|n| dirs.iter().map(move |d| d.join(n)))
        .find(|p| p.is_file())
}

/// Chromium and chromedriver; when one is missing: a panic under CI=true, otherwise `None`
/// after saying why the test does nothing.
fn require_chromium() -> Option<(PathBuf, PathBuf)> {
    let browser = locate(
        "CHROMIUM_BINARY",
        &["chromium", "chromium-browser", "google-chrome"],
    );
    let driver = locate("CHROMEDRIVER", &["chromedriver"]);
    let missing: Vec<&str> = [
        ("chromium", browser.is_none()),
        ("chromedriver", driver.is_none()),
    ]
    .into_iter()
    .filter(|(_, m)| *m)
    .map(|(what, _)| what)
    .collect();
    if missing.is_empty() {
        return browser.zip(driver);
    }
    let msg = format!("missing {}; run `bash ci/setup`", missing.join(", "));
    if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
        panic!("CI=true and a browser test cannot run: {msg}");
    }
    eprintln!("SKIPPED (not under CI): {msg}");
    None
}

/// chromedriver in a process group of its own; dropping the guard SIGKILLs the whole group,
/// which takes the browser the driver started with it.
struct DriverGuard {
    child: Child,
    log: PathBuf,
}

impl DriverGuard {
    fn spawn(driver: &Path, port: u16, log: PathBuf) -> Self {
        let file = std::fs::File::create(&log).expect("create the driver log");
        let mut cmd = Command::new(driver);
        cmd.arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("clone the log handle"))
            .stderr(file)
            .process_group(0);
        // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec. The
        // driver dies with the thread that started it even if this process is SIGKILLed.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", driver.display()));
        DriverGuard { child, log }
    }

    fn exited(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(Some(status)) => Some(format!("chromedriver exited ({status})")),
            Ok(None) => None,
            Err(e) => Some(format!("chromedriver cannot be waited for: {e}")),
        }
    }
}

impl Drop for DriverGuard {
    fn drop(&mut self) {
        if let Ok(pgid) = i32::try_from(self.child.id()) {
            // SAFETY: kill(2) on our own child's process group.
            unsafe {
                libc::kill(-pgid, libc::SIGKILL);
            }
        }
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind a free port")
        .port()
}

/// Awaits one WebDriver command under [`COMMAND_TIMEOUT`], panicking with `what` on error or
/// timeout.
async fn step<T, E: std::fmt::Debug>(what: &str, command: impl Future<Output = Result<T, E>>) -> T {
    match tokio::time::timeout(COMMAND_TIMEOUT, command).await {
        Ok(Ok(value)) => value,
        Ok(Err(e)) => panic!("{what}: {e:?}"),
        Err(_) => panic!("{what}: no answer within {COMMAND_TIMEOUT:?}"),
    }
}

async fn js(client: &Client, what: &str, script: &str) -> Value {
    step(what, client.execute(script, Vec::new())).await
}

async fn start_session(
    driver: &mut DriverGuard,
    port: u16,
    browser: &Path,
    profile: &Path,
) -> Client {
    let args: Vec<String> = [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,900",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([format!("--user-data-dir={}", profile.display())])
    .collect();
    let caps = json!({
        "browserName": "chrome",
        "goog:chromeOptions": { "args": args, "binary": browser },
    });
    let caps = caps
        .as_object()
        .cloned()
        .expect("capabilities are an object");
    let url = format!("http://127.0.0.1:{port}");
    let deadline = tokio::time::Instant::now() + SESSION_TIMEOUT;
    loop {
        let mut builder = ClientBuilder::new(HttpConnector::new());
        builder.capabilities(caps.clone());
        match tokio::time::timeout_at(deadline, builder.connect(&url)).await {
            Ok(Ok(client)) => return client,
            Ok(Err(e)) => {
                // The driver needs a moment to listen: retry while the connection is refused.
                let refused = matches!(
                    e,
                    fantoccini::error::NewSessionError::Failed(_)
                        | fantoccini::error::NewSessionError::FailedC(_)
                );
                if let Some(exit) = driver.exited() {
                    panic!(
                        "{exit} before a session started: see {}",
                        driver.log.display()
                    );
                }
                if !refused || tokio::time::Instant::now() >= deadline {
                    panic!(
                        "cannot start a Chromium session at {url}: {e} (driver log: {})",
                        driver.log.display()
                    );
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(_) => panic!(
                "no Chromium session within {SESSION_TIMEOUT:?} (driver log: {})",
                driver.log.display()
            ),
        }
    }
}

fn fixture() -> (Vec<RunInfo>, Vec<RunRecord>) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/results");
    let text = std::fs::read_to_string(dir.join(interop_results::RESULTS_FILE)).unwrap();
    let (records, errors) = interop_results::parse_jsonl(&text);
    assert!(errors.is_empty(), "unparsable fixture lines: {errors:?}");
    let info = std::fs::read_to_string(dir.join(interop_results::RUN_INFO_FILE)).unwrap();
    (vec![serde_json::from_str(&info).unwrap()], records)
}

/// Counts the cells (`td[data-scenario]`) that are rendered and not hidden, in total and by
/// outcome.
const VISIBLE_CELLS: &str = r#"
  var counts = { total: 0 };
  document.querySelectorAll('td[data-scenario]').forEach(function (td) {
    var visible = getComputedStyle(td).visibility !== 'hidden' && td.getClientRects().length > 0;
    if (visible) {
      counts.total++;
      var o = td.getAttribute('data-outcome');
      counts[o] = (counts[o] || 0) + 1;
    }
  });
  return counts;
"#;

/// Whether the table's layout follows its visible columns: every visible offerer group as wide
/// as its visible answerer columns, every group row as wide as the table, no column without
/// width. Returns what differs.
const LAYOUT_PROBLEMS: &str = r#"
  var problems = [];
  var table = document.querySelector('table.compat');
  var tableWidth = table.getBoundingClientRect().width;
  var cols = Array.from(table.querySelectorAll('thead th.col')).filter(function (th) {
    return th.getClientRects().length > 0;
  });
  table.querySelectorAll('thead th.offerer-group').forEach(function (g) {
    if (g.getClientRects().length === 0) { return; }
    var sum = 0;
    cols.forEach(function (c) {
      if (c.getAttribute('data-group') === g.getAttribute('data-group')) { sum += c.getBoundingClientRect().width; }
    });
    var w = g.getBoundingClientRect().width;
    if (Math.abs(w - sum) > 2) { problems.push('offerer group ' + g.textContent + ': ' + w + ' != ' + sum); }
  });
  table.querySelectorAll('tbody.feature tr.group').forEach(function (tr) {
    if (tr.getClientRects().length === 0) { return; }
    var w = tr.getBoundingClientRect().width;
    if (Math.abs(w - tableWidth) > 2) { problems.push('group row ' + tr.textContent + ': ' + w + ' != ' + tableWidth); }
  });
  var corner = table.querySelector('thead th.corner').getBoundingClientRect().width;
  var expected = (tableWidth - corner) / cols.length;
  cols.forEach(function (c) {
    var w = c.getBoundingClientRect().width;
    if (Math.abs(w - expected) > 2) { problems.push('column ' + c.title + ': ' + w + ' != ' + expected); }
  });
  return problems;
"#;

async fn assert_layout(client: &Client, when: &str) {
    let problems = js(client, "check the layout", LAYOUT_PROBLEMS).await;
    assert_eq!(problems, json!([]), "layout {when}");
}

fn count(counts: &Value, key: &str) -> u64 {
    counts.get(key).and_then(Value::as_u64).unwrap_or(0)
}

/// Width and height from a PNG's IHDR chunk.
fn png_size(png: &[u8]) -> (u32, u32) {
    assert!(
        png.len() > 24 && png.starts_with(b"\x89PNG\r\n\x1a\n") && &png[12..16] == b"IHDR",
        "not a PNG"
    );
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    (be(&png[16..20]), be(&png[20..24]))
}

fn target_dir() -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().unwrap_or(tmp).to_path_buf()
}

#[tokio::test]
async fn the_report_works_in_headless_chromium() {
    let Some((browser, driver_path)) = require_chromium() else {
        return;
    };
    let (infos, records) = fixture();
    let dir = tempfile::Builder::new()
        .prefix("interop-report-html-")
        .tempdir()
        .unwrap();
    let page = dir.path().join("index.html");
    std::fs::write(&page, interop_reports::html::render(&infos, &records, "")).unwrap();
    let profile = dir.path().join("chromium-profile");
    std::fs::create_dir(&profile).unwrap();

    let port = free_port();
    let mut driver = DriverGuard::spawn(&driver_path, port, dir.path().join("chromedriver.log"));
    let client = start_session(&mut driver, port, &browser, &profile).await;
    step(
        "open index.html",
        client.goto(&format!("file://{}", page.display())),
    )
    .await;

    assert_layout(&client, "as loaded").await;

    // One cell per record.
    let cells = js(
        &client,
        "count cells",
        "return document.querySelectorAll('td[data-scenario]').length",
    )
    .await;
    assert_eq!(cells.as_u64(), Some(records.len() as u64));
    assert_eq!(records.len(), 90);

    // A known cell and its attributes.
    let selector = "td[data-scenario='datachannel-large-messages'][data-offerer='chrome']\
                    [data-answerer='rust']";
    let cell = step("find the cell", client.find(Locator::Css(selector))).await;
    let attr = |name: &'static str| {
        let cell = cell.clone();
        async move { step(name, cell.attr(name)).await }
    };
    assert_eq!(attr("data-outcome").await.as_deref(), Some("unsupported"));
    assert_eq!(attr("data-expected").await.as_deref(), Some("unsupported"));
    assert_eq!(attr("data-unexpected").await.as_deref(), Some("false"));
    let run = attr("data-run").await.expect("the cell names its run");

    // The feature group rows, in first-seen order.
    let mut features: Vec<&str> = Vec::new();
    for r in &records {
        if !features.contains(&r.feature.as_str()) {
            features.push(&r.feature);
        }
    }
    let groups = js(
        &client,
        "read the feature groups",
        "return Array.from(document.querySelectorAll('tbody.feature tr.group th .feature-name'))\
         .map(function (e) { return e.textContent; })",
    )
    .await;
    assert_eq!(groups, json!(features));

    // A click on the cell shows its details, with the reason.
    let panel = step("find the panel", client.find(Locator::Css("#panel"))).await;
    assert!(!step("panel hidden", panel.is_displayed()).await);
    step("click the cell", cell.click()).await;
    assert!(step("panel shown", panel.is_displayed()).await);
    let detail = step(
        "find the shown details",
        client.find(Locator::Css("#panel .detail.shown")),
    )
    .await;
    assert_eq!(
        step("details id", detail.attr("id")).await.as_deref(),
        Some(format!("run-{run}").as_str())
    );
    let reason = step("read the reason", async {
        step("find the reason", detail.find(Locator::Css("pre.reason")))
            .await
            .text()
            .await
    })
    .await;
    assert!(
        reason.contains("a=max-message-size:65536"),
        "reason shown: {reason}"
    );
    let class = step("cell class", cell.attr("class"))
        .await
        .unwrap_or_default();
    assert!(class.contains("selected"), "{class}");
    let links = js(
        &client,
        "read the artefact links",
        "return Array.from(document.querySelectorAll('#panel .detail.shown ul.artefacts a'))\
         .map(function (a) { return a.getAttribute('href'); })",
    )
    .await;
    assert_eq!(
        links[1],
        json!("runs/datachannel-large-messages/chrome-rust/transcript.jsonl")
    );
    // Keep a picture of the details for a human.
    let detail_png = step("screenshot with the details", client.screenshot()).await;
    png_size(&detail_png);
    let detail_path = target_dir().join("report-screenshot-detail.png");
    std::fs::write(&detail_path, &detail_png).unwrap();
    step("close the panel", async {
        step("find close", client.find(Locator::Css("#panel .close")))
            .await
            .click()
            .await
    })
    .await;
    assert!(!step("panel closed", panel.is_displayed()).await);

    // The outcome filter: without `pass`, no pass cell is visible, every other one is.
    let all = js(&client, "count visible cells", VISIBLE_CELLS).await;
    assert_eq!(count(&all, "total"), 90);
    let passed = records
        .iter()
        .filter(|r| r.outcome == interop_results::Outcome::Pass)
        .count() as u64;
    let pass_box = step(
        "find the pass filter",
        client.find(Locator::Css("#filters input[name='outcome'][value='pass']")),
    )
    .await;
    step("untick pass", pass_box.click()).await;
    let shown = js(&client, "count visible cells", VISIBLE_CELLS).await;
    assert_eq!(count(&shown, "pass"), 0, "{shown}");
    assert_eq!(count(&shown, "total"), 90 - passed, "{shown}");
    assert!(count(&shown, "unsupported") > 0, "{shown}");
    // A scenario that only passed has no row left.
    let connect_row = js(
        &client,
        "connect row",
        "return getComputedStyle(document.querySelector('tr[data-row=\"connect\"]')).display",
    )
    .await;
    assert_eq!(connect_row, json!("none"));
    let status = js(
        &client,
        "filter status",
        "return document.getElementById('f-status').textContent",
    )
    .await;
    assert_eq!(status, json!(format!("showing {} of 90 runs", 90 - passed)));
    step("tick pass again", pass_box.click()).await;

    // Only unexpected: the fixture has none.
    let unexpected_box = step(
        "find only unexpected",
        client.find(Locator::Css("#f-unexpected")),
    )
    .await;
    step("tick only unexpected", unexpected_box.click()).await;
    let shown = js(&client, "count visible cells", VISIBLE_CELLS).await;
    assert_eq!(count(&shown, "total"), 0, "{shown}");
    let none = step("find no-match", client.find(Locator::Css("#no-match"))).await;
    assert!(step("no-match shown", none.is_displayed()).await);
    step("untick only unexpected", unexpected_box.click()).await;

    // The implementation filter: the pairings with firefox only.
    let option = step(
        "find the firefox option",
        client.find(Locator::Css("#f-impl option[value='firefox']")),
    )
    .await;
    step("choose firefox", option.click()).await;
    let shown = js(&client, "count visible cells", VISIBLE_CELLS).await;
    let with_firefox = records
        .iter()
        .filter(|r| r.offerer.name == "firefox" || r.answerer.name == "firefox")
        .count() as u64;
    assert_eq!(count(&shown, "total"), with_firefox, "{shown}");
    let columns = js(
        &client,
        "count visible columns",
        "return Array.from(document.querySelectorAll('thead th.col'))\
         .filter(function (th) { return th.getClientRects().length > 0; }).length",
    )
    .await;
    assert_eq!(columns, json!(5));
    assert_layout(&client, "with the pairings with firefox only").await;
    let all_option = step(
        "find the all option",
        client.find(Locator::Css("#f-impl option[value='']")),
    )
    .await;
    step("choose all", all_option.click()).await;
    let shown = js(&client, "count visible cells", VISIBLE_CELLS).await;
    assert_eq!(count(&shown, "total"), 90, "{shown}");
    assert_layout(&client, "after the filters were reset").await;

    // The seed's table: MDN's three rows, one column per implementation version.
    let seed = js(
        &client,
        "read the seed table",
        "var s = document.querySelector('section#seed');\
         return s && { title: s.querySelector('h2').textContent,\
           rows: s.querySelectorAll('table.seed tbody tr').length,\
           columns: s.querySelectorAll('table.seed thead th').length - 1,\
           rust: (s.querySelector('td[data-seed-feature=\"data-channels\"][data-implementation=\"rust\"]') || {}).textContent }",
    )
    .await;
    assert_eq!(
        seed["title"],
        json!("The seed's table: MDN's WebRTC compatibility, from runs")
    );
    assert_eq!(seed["rows"], json!(3));
    assert_eq!(seed["columns"], json!(3));
    let rust = seed["rust"].as_str().unwrap_or_default();
    assert!(
        ["yes ", "partial ", "no "]
            .iter()
            .any(|w| rust.starts_with(w)),
        "{seed}"
    );

    // A full-page screenshot: the window as tall as the page.
    let height = js(
        &client,
        "page height",
        "return document.documentElement.scrollHeight",
    )
    .await
    .as_u64()
    .unwrap_or(2000)
    .clamp(900, 12_000) as u32;
    step("resize", client.set_window_size(1280, height + 100)).await;
    js(
        &client,
        "scroll to the top",
        "window.scrollTo(0, 0); return true",
    )
    .await;
    let png = step("screenshot", client.screenshot()).await;
    let (width, shot_height) = png_size(&png);
    assert!(width >= 1200, "screenshot {width}x{shot_height}");
    assert!(shot_height >= 1500, "screenshot {width}x{shot_height}");
    assert!(png.len() > 50_000, "a screenshot of {} bytes", png.len());
    let path = target_dir().join("report-screenshot.png");
    std::fs::write(&path, &png).unwrap();
    println!(
        "screenshot: {} ({width}x{shot_height}); with details: {}",
        path.display(),
        detail_path.display()
    );

    step("end the session", client.close()).await;
    drop(driver);
}
