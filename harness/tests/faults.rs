//! Faults injected into real runs, each checked for its outcome, for the rest of the matrix
//! going on, and for no process left behind:
//! - the harness killed with SIGKILL mid-run (results.jsonl keeps every finished run, valid
//!   line by line, and `report` renders them; the reaper kills the browsers);
//! - a browser process killed mid-run (`crash` with the evidence so far; relaunched after);
//! - a peer that stops answering (SIGSTOP: the awaiting step times out, naming what it awaited);
//! - a driver that cannot start (an `error` naming the driver, its output and the fix);
//! - a driver port taken by another process between picking and binding it (started again on
//!   another port).
//!
//! The tests share the machine's browsers and the process scan, so they run one at a time.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::*;
use interop_results::Outcome;

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

/// Scenarios written for a test: a connection with an open channel on which `bob` then waits
/// `wait` for a message nobody sends (the moment to inject a fault), and the shipped echo.
fn scenarios(dir: &Path, wait: &str) -> PathBuf {
    let folder = dir.join("scenarios");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(
        folder.join("1-wait.yaml"),
        format!(
            "feature: data-channels
description: connected, then bob waits for a message that alice sends only after {wait}
peers:
  alice: offerer
  bob: answerer
steps:
  - create_peer_connection: {{ peer: both }}
  - create_data_channel: {{ peer: alice, label: chat }}
  - negotiate: {{ offerer: alice, answerer: bob }}
  - expect_connection_state: {{ peer: both, state: connected, timeout: 15s }}
  - expect_channel_open: {{ peer: alice, label: chat }}
  - expect_message: {{ peer: bob, label: chat, text: never, timeout: {wait} }}
"
        ),
    )
    .unwrap();
    std::fs::copy(
        workspace_root().join("scenarios/data-channels/datachannel-echo.yaml"),
        folder.join("2-echo.yaml"),
    )
    .unwrap();
    folder
}

/// Starts `run` of the [`scenarios`] (bob waiting `wait`) on chrome -> rust, one at a time,
/// and waits until the first run's peers are connected (their stats snapshot is written
/// then). Returns the invocation (dropped last: it checks that nothing of it is left), the
/// harness's process, the output folder and the first run's folder.
fn connected_run(dir: &Path, wait: &str) -> (Interop, Child, PathBuf, PathBuf) {
    let folder = scenarios(dir, wait);
    let out = dir.join("out");
    let mut harness = interop();
    let mut child = harness
        .arg("run")
        .arg(&folder)
        .args(["-p", "chrome:rust", "-j", "1", "--out"])
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let run = out.join("runs/1-wait/chrome-rust");
    wait_for(
        &mut child,
        "a connected run",
        Duration::from_secs(120),
        || run.join("stats-bob-connected.json").is_file(),
    );
    (harness, child, out, run)
}

/// Waits (bounded) until `done` holds, failing with `what` otherwise; `child` must not end.
fn wait_for(child: &mut Child, what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the run ended ({status}) before {what}");
        }
        assert!(Instant::now() < deadline, "no {what} within {timeout:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits (bounded) for `child` to exit; returns its exit code and stderr.
fn finish(mut child: Child, timeout: Duration) -> (Option<i32>, String) {
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            panic!("the harness did not exit within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        use std::io::Read;
        let _ = e.read_to_string(&mut stderr);
    }
    eprintln!("{stderr}");
    (status.code(), stderr)
}

/// Pids of processes whose command line contains `needle` and not `--type=` (for Chromium:
/// the browser process, not its renderers and helpers).
fn pids_of(needle: &str) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let pid: i32 = e.file_name().to_str()?.parse().ok()?;
            let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            (cmdline.contains(needle) && !cmdline.contains("--type=")).then_some(pid)
        })
        .collect()
}

fn signal(pids: &[i32], sig: i32) {
    for &pid in pids {
        // SAFETY: plain syscall.
        unsafe {
            libc::kill(pid, sig);
        }
    }
}

#[test]
fn harness_killed_with_sigkill_keeps_finished_runs_and_leaves_no_process() {
    if !require_browsers() {
        return;
    }
    let _serial = serial();
    let out = tempfile::tempdir().unwrap();
    let mut harness = interop();
    let mut child = harness
        .args(["run", "-s", "datachannel-echo", "-j", "1", "--out"])
        .arg(out.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let results = out.path().join("results.jsonl");
    // Kill once two runs are on disk and browsers are up for a later one.
    wait_for(
        &mut child,
        "two finished runs with a browser running",
        Duration::from_secs(300),
        || {
            let lines = std::fs::read_to_string(&results)
                .map(|t| t.lines().count())
                .unwrap_or(0);
            lines >= 2 && leftover_processes().iter().any(|p| p.contains("/interop-"))
        },
    );
    child.kill().unwrap(); // SIGKILL
    let (code, _) = finish(child, Duration::from_secs(10));
    assert_eq!(code, None, "killed by a signal");
    // The reaper kills the drivers, the browsers and the Rust peers.
    let left = wait_no_leftovers(Duration::from_secs(15));
    assert!(left.is_empty(), "processes left behind: {left:#?}");
    // Every finished run is there, each line a whole record.
    let text = std::fs::read_to_string(&results).unwrap();
    assert!(text.ends_with('\n'), "no half-written line");
    let records = read_results(out.path());
    assert!(records.len() >= 2 && records.len() < 9, "{}", records.len());
    // `report` renders what there is.
    let report = interop().arg("report").arg(out.path()).output().unwrap();
    assert_eq!(
        report.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&report.stderr)
    );
    let summary = std::fs::read_to_string(out.path().join("summary.md")).unwrap();
    assert!(
        summary.contains(&format!("{} runs", records.len())),
        "{summary}"
    );
    let html = std::fs::read_to_string(out.path().join("index.html")).unwrap();
    assert!(html.contains("datachannel-echo"));
}

#[test]
fn a_browser_killed_mid_run_is_a_crash_and_the_matrix_goes_on() {
    if !require_browsers() {
        return;
    }
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let (_harness, child, out, run) = connected_run(dir.path(), "60s");
    // Both peers are connected: kill Chromium.
    let browsers = pids_of("/interop-chrome-");
    assert!(!browsers.is_empty(), "a Chromium browser process");
    signal(&browsers, libc::SIGKILL);
    let (code, _) = finish(child, Duration::from_secs(120));
    assert_eq!(code, Some(1), "a crash is an unexpected result");
    let records = read_results(&out);
    assert_eq!(records.len(), 2);
    let crashed = &records[0];
    assert_eq!(crashed.outcome, Outcome::Crash, "{:?}", crashed.reason);
    let reason = crashed.reason.as_deref().unwrap_or("");
    assert!(
        reason.contains("alice (chrome) disconnected from the harness"),
        "{reason}"
    );
    // The evidence gathered before the crash stays.
    for file in [
        "transcript.jsonl",
        "1-alice-offer.sdp",
        "stats-alice-connected.json",
    ] {
        assert!(run.join(file).is_file(), "{file}");
    }
    let transcript = std::fs::read_to_string(run.join("transcript.jsonl")).unwrap();
    assert!(
        transcript.contains("disconnected"),
        "the transcript says so"
    );
    // Chromium was started again for the next run, which passes.
    assert_eq!(records[1].scenario, "2-echo");
    assert_eq!(records[1].outcome, Outcome::Pass, "{:?}", records[1].reason);
    let left = wait_no_leftovers(Duration::from_secs(15));
    assert!(left.is_empty(), "processes left behind: {left:#?}");
}

#[test]
fn a_peer_that_stops_answering_times_out_naming_what_was_awaited() {
    if !require_browsers() {
        return;
    }
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let (_harness, child, out, _) = connected_run(dir.path(), "5s");
    // The Rust peer (bob) freezes: its connection stays open, nothing comes from it.
    let peers = pids_of(" peer --control-url ");
    assert_eq!(peers.len(), 1, "one Rust peer");
    signal(&peers, libc::SIGSTOP);
    let (code, _) = finish(child, Duration::from_secs(180));
    assert_eq!(code, Some(1), "a timeout is an unexpected result");
    let records = read_results(&out);
    assert_eq!(records.len(), 2);
    let stalled = &records[0];
    assert_eq!(stalled.outcome, Outcome::Timeout, "{:?}", stalled.reason);
    let reason = stalled.reason.as_deref().unwrap_or("");
    // Whichever step was waiting when bob froze (alice's channel open, or bob's message)
    // times out, and the reason names what it waited for.
    let step = stalled.failed_step.as_ref().expect("the awaiting step");
    assert!(step.step.contains("'chat'"), "{step:?}");
    assert!(
        reason.contains("timed out after") && reason.contains("'chat'"),
        "{reason}"
    );
    // The frozen peer was killed (SIGKILL ends a stopped process too); the next run has a
    // peer of its own and passes.
    assert_eq!(records[1].outcome, Outcome::Pass, "{:?}", records[1].reason);
    let left = wait_no_leftovers(Duration::from_secs(15));
    assert!(left.is_empty(), "processes left behind: {left:#?}");
}

#[test]
fn a_driver_that_cannot_start_is_an_error_naming_the_fix_and_the_matrix_goes_on() {
    if !require_browsers() {
        return;
    }
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let driver = dir.path().join("chromedriver");
    std::fs::write(
        &driver,
        "#!/bin/sh\necho 'chromedriver: error while loading shared libraries: libnss3.so' >&2\nexit 127\n",
    )
    .unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&driver, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let out = dir.path().join("out");
    let mut harness = interop();
    let child = harness
        .args([
            "run",
            "-s",
            "connect",
            "-p",
            "rust:chrome",
            "-p",
            "rust:rust",
            "--out",
        ])
        .arg(&out)
        .env("CHROMEDRIVER", &driver)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Not a hang: the run ends (the bound is for a broken harness, not a speed check).
    let (code, _) = finish(child, Duration::from_secs(120));
    assert_eq!(code, Some(1));
    let records = read_results(&out);
    assert_eq!(records.len(), 2);
    let failed = records
        .iter()
        .find(|r| r.answerer.name == "chrome")
        .unwrap();
    assert_eq!(failed.outcome, Outcome::Error);
    let reason = failed.reason.as_deref().unwrap_or("");
    for needle in [
        "before a session started",
        "libnss3.so",
        "CHROMEDRIVER",
        "apt-get install -y chromium chromium-driver",
    ] {
        assert!(reason.contains(needle), "{needle} in: {reason}");
    }
    // The rest of the matrix goes on.
    let other = records.iter().find(|r| r.answerer.name == "rust").unwrap();
    assert_eq!(other.outcome, Outcome::Pass, "{:?}", other.reason);
    let left = wait_no_leftovers(Duration::from_secs(15));
    assert!(left.is_empty(), "processes left behind: {left:#?}");
}

#[test]
fn a_driver_port_taken_by_another_process_is_retried_on_another_port() {
    if !require_browsers() {
        return;
    }
    let _serial = serial();
    use interop_harness::browser::{BrowserSession, Launch, CHROME, FIREFOX};
    // Another process holds the port the harness picked (it accepts connections and never
    // answers, the worst case): the driver cannot listen there and exits.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    for product in [&CHROME, &FIREFOX] {
        let installation = product.locate().unwrap();
        let log = dir.path().join(format!("{}-driver.log", product.name));
        let mut picked = Vec::new();
        let mut ports = || {
            let next = if picked.is_empty() {
                port
            } else {
                let free = std::net::TcpListener::bind("127.0.0.1:0")?;
                free.local_addr()?.port()
            };
            picked.push(next);
            Ok(next)
        };
        let session = runtime
            .block_on(BrowserSession::launch_on_ports(
                &installation,
                None,
                &log,
                Launch::default(),
                &mut ports,
            ))
            .unwrap_or_else(|e| panic!("{}: {e}", product.name));
        assert!(
            session
                .version
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_digit()),
            "{}: a real session: {}",
            product.name,
            session.version
        );
        runtime.block_on(session.shutdown());
        assert_eq!(picked.len(), 2, "{}: one retry: {picked:?}", product.name);
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(
            text.contains(&format!(
                "127.0.0.1:{port} was taken; starting the driver again on another port"
            )),
            "{}: the retry is noted in the driver log: {text}",
            product.name
        );
    }
    drop(taken);
    let left = wait_no_leftovers(Duration::from_secs(20));
    assert!(left.is_empty(), "left behind: {left:?}");
}
