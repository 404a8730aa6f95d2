//! A peer that breaks the control protocol - a frame that is not JSON, a message type the
//! protocol does not have, a frame over the 16 MiB limit - makes its run an `error` naming
//! what it sent; the harness stays up and the rest of the matrix goes on. The misbehaving peer
//! is the real Rust peer, told by `INTEROP_PEER_FAULT` to send one bad frame after its Hello
//! (and by `INTEROP_PEER_FAULT_ONCE` that only the first peer to claim a file does), so the
//! test needs no browser: the hostile cell and the next one are rust -> rust.

mod common;

use std::time::Duration;

use common::*;
use interop_results::Outcome;

#[test]
fn a_peer_sending_malformed_messages_makes_its_run_an_error_and_the_harness_goes_on() {
    for (fault, evidence) in [
        ("bad-json", "EOF while parsing"),
        ("unknown-message", "teleport"),
        ("huge-message", "over the 16 MiB limit"),
    ] {
        let out = tempfile::tempdir().unwrap();
        let output = interop()
            .args([
                "run",
                "-s",
                "connect",
                "-s",
                "datachannel-echo",
                "-p",
                "rust:rust",
                "-j",
                "1",
                "--out",
            ])
            .arg(out.path())
            .env("INTEROP_PEER_FAULT", fault)
            .env("INTEROP_PEER_FAULT_ONCE", out.path().join("fault-claimed"))
            .output()
            .unwrap();
        eprintln!("{}", String::from_utf8_lossy(&output.stderr));
        assert_eq!(
            output.status.code(),
            Some(1),
            "{fault}: an unexpected result"
        );
        let records = read_results(out.path());
        assert_eq!(records.len(), 2, "{fault}");
        let hostile = &records[0];
        assert_eq!(hostile.scenario, "connect", "{fault}");
        assert_eq!(
            hostile.outcome,
            Outcome::Error,
            "{fault}: {:?}",
            hostile.reason
        );
        let reason = hostile.reason.as_deref().unwrap_or("");
        assert!(
            (reason.contains("alice (rust) broke the control protocol")
                || reason.contains("bob (rust) broke the control protocol"))
                && reason.contains(evidence),
            "{fault}: {reason}"
        );
        // The transcript keeps what came (truncated for a huge frame).
        let transcript =
            std::fs::read_to_string(out.path().join(&hostile.artefacts).join("transcript.jsonl"))
                .unwrap();
        assert!(transcript.contains("malformed"), "{fault}");
        assert!(transcript.len() < 1 << 20, "{fault}: not the 17 MiB frame");
        // The harness went on with the next cell.
        assert_eq!(records[1].scenario, "datachannel-echo", "{fault}");
        assert_eq!(
            records[1].outcome,
            Outcome::Pass,
            "{fault}: {:?}",
            records[1].reason
        );
        let left = wait_no_leftovers(Duration::from_secs(15));
        assert!(left.is_empty(), "{fault}: processes left behind: {left:#?}");
    }
}
