//! Ctrl-C in the middle of a matrix: finished runs stay in results.jsonl, a partial summary is
//! written, the exit code says "interrupted", and no browser, driver or peer is left behind.

mod common;

use std::io::Read;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;

#[test]
fn sigint_keeps_finished_runs_and_leaves_no_process_behind() {
    if !require_browsers() {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let mut harness = interop();
    let mut child = harness
        .args(["run", "--scenario", "datachannel-echo", "--out"])
        .arg(out.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let results = out.path().join("results.jsonl");
    // Interrupt once two runs have finished, while later ones (with browsers) are under way.
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let lines = std::fs::read_to_string(&results)
            .map(|t| t.lines().count())
            .unwrap_or(0);
        if lines >= 2 {
            break;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the run ended ({status}) before it could be interrupted");
        }
        assert!(
            Instant::now() < deadline,
            "no two finished runs within 300s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // SAFETY: plain syscall on our own child.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            panic!("the harness did not exit within 30s of SIGINT");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    eprintln!("{stderr}");
    assert_eq!(status.code(), Some(130), "exit code for an interrupted run");

    let records = read_results(out.path());
    assert!(
        records.len() >= 2,
        "finished runs are kept: {}",
        records.len()
    );
    assert!(records.len() < 9, "the run was interrupted before the end");
    let summary = std::fs::read_to_string(out.path().join("summary.md")).unwrap();
    assert!(summary.contains("Interrupted"), "partial summary says so");
    let left = wait_no_leftovers(Duration::from_secs(10));
    assert!(left.is_empty(), "processes left behind: {left:#?}");
}
