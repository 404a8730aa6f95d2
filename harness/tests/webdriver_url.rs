//! `--webdriver-url`: browser peers on a WebDriver endpoint the harness did not start (here a
//! chromedriver this test starts itself, standing in for a Selenium Grid or a cloud grid).

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;
use interop_results::Outcome;

/// Kills the driver (and whatever browser it still runs) when the test ends, however it ends.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn browser_peers_run_on_an_external_webdriver_endpoint() {
    if !require_browsers() {
        return;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let tmp = tempfile::Builder::new()
        .prefix("interop-chrome-ext-")
        .tempdir()
        .unwrap();
    let _driver = KillOnDrop(
        Command::new("chromedriver")
            .arg(format!("--port={port}"))
            // Marks the driver and the browser it starts as this test's (see leftover_processes).
            .env("TMPDIR", tmp.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts"),
    );
    let out = tempfile::tempdir().unwrap();
    let output = interop()
        .args([
            "run",
            "-s",
            "connect",
            "--pairing",
            "rust:chrome",
            "--pairing",
            "chrome:chrome",
        ])
        .arg(format!("--webdriver-url=chrome=http://127.0.0.1:{port}"))
        .arg("--out")
        .arg(out.path())
        .output()
        .unwrap();
    eprintln!("{}", String::from_utf8_lossy(&output.stderr));
    let records = read_results(out.path());
    assert_eq!(records.len(), 2);
    for r in &records {
        assert_eq!(r.outcome, Outcome::Pass, "{}: {:?}", r.pairing(), r.reason);
        assert!(
            r.answerer.version.starts_with(|c: char| c.is_ascii_digit()),
            "version from the session"
        );
    }
    assert_eq!(output.status.code(), Some(0));
    // The harness ends its sessions on the external driver; the driver itself is ours to stop.
    drop(_driver);
    let left = wait_no_leftovers(Duration::from_secs(10));
    assert!(left.is_empty(), "processes left behind: {left:#?}");
}
