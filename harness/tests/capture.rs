//! Captures, checked with an independent decoder: every run writes `capture.pcap` through the
//! harness's user-space relay, and tshark must find in it the STUN binding requests and
//! responses and the DTLS handshake of that run, on the same 5-tuple. Also run as an
//! unprivileged user, since capture must not need root.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use common::*;
use interop_results::Outcome;

/// True when tshark is installed; panics under CI=true when it is not.
fn require_tshark() -> bool {
    if Command::new("tshark").arg("--version").output().is_ok() {
        return true;
    }
    let msg = "tshark is missing; run `bash ci/setup`";
    if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
        panic!("CI=true and a capture test cannot run: {msg}");
    }
    eprintln!("SKIPPED (not under CI): {msg}");
    false
}

/// One decoded frame: its 5-tuple (addresses and ports, as text) and what it is.
#[derive(Debug)]
struct Frame {
    src: String,
    dst: String,
    stun_type: String,
    dtls_handshake: String,
}

fn decode(pcap: &Path) -> Vec<Frame> {
    let output = Command::new("tshark")
        .arg("-r")
        .arg(pcap)
        .args(["-T", "fields", "-E", "separator=|"])
        .args(["-e", "ip.src", "-e", "ipv6.src", "-e", "udp.srcport"])
        .args(["-e", "ip.dst", "-e", "ipv6.dst", "-e", "udp.dstport"])
        .args(["-e", "stun.type", "-e", "dtls.handshake.type"])
        .output()
        .expect("tshark runs");
    assert!(
        output.status.success(),
        "tshark cannot read {}: {}",
        pcap.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| {
            let f: Vec<&str> = line.split('|').collect();
            let get = |i: usize| f.get(i).copied().unwrap_or_default();
            Frame {
                src: format!("{}{}:{}", get(0), get(1), get(2)),
                dst: format!("{}{}:{}", get(3), get(4), get(5)),
                stun_type: get(6).to_string(),
                dtls_handshake: get(7).to_string(),
            }
        })
        .collect()
}

/// Checks one run's capture; returns the number of frames.
fn check_capture(pcap: &Path, what: &str) -> usize {
    let frames = decode(pcap);
    let requests: Vec<&Frame> = frames.iter().filter(|f| f.stun_type == "0x0001").collect();
    let responses: Vec<&Frame> = frames.iter().filter(|f| f.stun_type == "0x0101").collect();
    assert!(!requests.is_empty(), "{what}: STUN binding requests");
    assert!(
        !responses.is_empty(),
        "{what}: STUN binding success responses"
    );
    let handshake = |t: &str| -> Vec<&Frame> {
        frames
            .iter()
            .filter(|f| f.dtls_handshake.split(',').any(|x| x == t))
            .collect()
    };
    let (client_hellos, server_hellos) = (handshake("1"), handshake("2"));
    assert!(!client_hellos.is_empty(), "{what}: DTLS ClientHello");
    assert!(!server_hellos.is_empty(), "{what}: DTLS ServerHello");
    // The DTLS handshake runs on pairs ICE checked (the 5-tuple of a binding success). Not
    // necessarily one pair for both hellos: a DTLS server answers on its own selected pair,
    // which may differ from the one the ClientHello came over while nomination settles
    // (seen: webrtc 0.21.1 answering a Chromium ClientHello sent over IPv4 on its ::1 pair).
    let checked: BTreeSet<(String, String)> = responses
        .iter()
        .flat_map(|f| {
            [
                (f.src.clone(), f.dst.clone()),
                (f.dst.clone(), f.src.clone()),
            ]
        })
        .collect();
    let on_checked_pair = |f: &&Frame| checked.contains(&(f.src.clone(), f.dst.clone()));
    assert!(
        client_hellos.iter().any(on_checked_pair) && server_hellos.iter().any(on_checked_pair),
        "{what}: no ClientHello and ServerHello on checked pairs; checked {checked:?}, \
         hellos {client_hellos:?} / {server_hellos:?}"
    );
    frames.len()
}

/// The data channel frames tshark decrypts with the run's key log: (PPID, DCEP type, label,
/// data length) per SCTP DATA chunk.
fn decrypted_data_channel(run: &Path) -> Vec<(String, String, String, String)> {
    let lua = workspace_root().join("harness/wireshark/sctp_over_dtls.lua");
    let output = Command::new("tshark")
        .arg("-r")
        .arg(run.join("capture.pcap"))
        .arg("-X")
        .arg(format!("lua_script:{}", lua.display()))
        .arg("-o")
        .arg(format!(
            "tls.keylog_file:{}",
            run.join("dtls-keys.log").display()
        ))
        .args(["-Y", "rtcdc || data", "-T", "fields", "-E", "separator=|"])
        .args([
            "-e",
            "sctp.data_payload_proto_id",
            "-e",
            "rtcdc.message_type",
        ])
        .args(["-e", "rtcdc.label", "-e", "data.len"])
        .output()
        .expect("tshark runs");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| {
            let f: Vec<String> = l.split('|').map(str::to_string).collect();
            let get = |i: usize| f.get(i).cloned().unwrap_or_default();
            (get(0), get(1), get(2), get(3))
        })
        .collect()
}

#[test]
fn every_run_has_a_capture_that_tshark_decodes() {
    if !require_browsers() || !require_tshark() {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let pairings = ["rust:rust", "rust:chrome", "chrome:firefox", "firefox:rust"];
    let mut cmd = interop();
    cmd.args(["run", "-s", "datachannel-echo", "--out"])
        .arg(out.path());
    for p in pairings {
        cmd.args(["--pairing", p]);
    }
    let output = cmd.output().expect("interop runs");
    eprintln!("{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(output.status.code(), Some(0));
    let records = read_results(out.path());
    assert_eq!(records.len(), pairings.len());
    for r in &records {
        let what = format!("{} {}", r.scenario, r.pairing());
        assert_eq!(r.outcome, Outcome::Pass, "{what}: {:?}", r.reason);
        let pcap = out.path().join(&r.artefacts).join("capture.pcap");
        let frames = check_capture(&pcap, &what);
        // Captured passively where the harness may open a packet socket (CI runs as root).
        let way = if interop_harness::capture::Capture::passive_available().is_ok() {
            "passive"
        } else {
            "relay"
        };
        assert_eq!(r.observed.get("capture.way"), Some(&way.into()), "{what}");
        // The record counts what the capture saw; the pcap holds each of them.
        let counted = r.observed.get("capture.datagrams").and_then(|v| v.as_u64());
        assert_eq!(counted, Some(frames as u64), "{what}");
        // Every artefact of the run is in its folder.
        let dir = out.path().join(&r.artefacts);
        let mut expected = vec![
            "capture.pcap".to_string(),
            "timeline.json".into(),
            "transcript.jsonl".into(),
            "1-alice-offer.sdp".into(),
            "2-bob-answer.sdp".into(),
        ];
        for (role, name, imp) in [
            ("offerer", "alice", &r.offerer),
            ("answerer", "bob", &r.answerer),
        ] {
            expected.push(format!("stats-{name}-connected.json"));
            expected.push(format!("stats-{name}-end.json"));
            if imp.name == "rust" {
                expected.push(format!("rust-peer-{role}.log"));
                expected.push("dtls-keys.log".into());
            } else {
                expected.push(format!("console-{name}.log"));
            }
        }
        for file in &expected {
            assert!(
                dir.join(file).is_file(),
                "{what}: {file} in {}",
                dir.display()
            );
        }
        // The phase timeline of the run.
        let timeline = std::fs::read_to_string(out.path().join(&r.artefacts).join("timeline.json"))
            .expect("timeline.json");
        assert!(timeline.contains("first DTLS ClientHello"), "{what}");
        for phase in ["connectivity_checks", "first_message"] {
            assert!(r.timings.phases_ms.contains_key(phase), "{what}: {phase}");
        }
        let dtls = ["dtls_handshake", "dtls_handshake_and_sctp_channel_open"];
        assert!(
            dtls.iter().any(|p| r.timings.phases_ms.contains_key(*p)),
            "{what}: {:?}",
            r.timings.phases_ms
        );
        // The Rust peer logs its DTLS keys: with them tshark decrypts the data channel.
        if r.offerer.name == "rust" && r.answerer.name == "rust" {
            let dir = out.path().join(&r.artefacts);
            let frames = decrypted_data_channel(&dir);
            assert!(
                frames
                    .iter()
                    .any(|f| f.0 == "50" && f.1 == "3" && f.2 == "echo"),
                "{what}: DCEP DATA_CHANNEL_OPEN for 'echo' decrypted: {frames:?}"
            );
            assert!(
                frames.iter().any(|f| f.0 == "51" && f.3 == "1000"),
                "{what}: the 1000-byte text message decrypted: {frames:?}"
            );
        }
    }
    let left = wait_no_leftovers(std::time::Duration::from_secs(10));
    assert!(left.is_empty(), "processes left behind: {left:#?}");
}

#[test]
fn capture_needs_no_root_through_the_relay() {
    if !require_tshark() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let args = [
        "run",
        "-s",
        "datachannel-echo",
        "--pairing",
        "rust:rust",
        "--out",
    ];
    // As root, run the harness as `nobody` (setpriv, from util-linux);
    // as any other user, the test already runs without root.
    let as_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    let mut cmd = if as_root {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let mut cmd = Command::new("setpriv");
        cmd.args([
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            env!("CARGO_BIN_EXE_interop"),
        ]);
        Interop::new(cmd)
    } else {
        interop()
    };
    cmd.args(args).arg(&out);
    let output = cmd.output().expect("interop runs");
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let records = read_results(&out);
    // Without CAP_NET_RAW there is no passive tap: the run goes through the relay.
    assert_eq!(
        records[0].observed.get("capture.way"),
        Some(&"relay".into())
    );
    let pcap = out.join(&records[0].artefacts).join("capture.pcap");
    if as_root {
        use std::os::unix::fs::MetadataExt;
        assert_ne!(
            std::fs::metadata(&pcap).unwrap().uid(),
            0,
            "written by nobody"
        );
    }
    check_capture(&pcap, "rust -> rust as an unprivileged user");
}
