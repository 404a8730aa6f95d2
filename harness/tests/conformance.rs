//! The peer-control protocol's conformance kit: one set of checks run against every peer
//! implementation over its real control connection (the Rust peer as a child process, the
//! browser page in real Chromium and Firefox). What each check demands is written in the
//! protocol crate's documentation (`interop_protocol::Command`, `PeerError`, `PeerMessage`);
//! an external peer joining the matrix is checked with the same functions.
//!
//! Checked for each implementation:
//! - the first frame is a Hello with this protocol version and the implementation's name;
//! - exactly one response per request, and the peer clock `t` never goes backwards over all
//!   of a peer's frames (checked on every frame received);
//! - the Hello names a version of the implementation (not empty, not "unknown");
//! - error names: `InvalidStateError` for every command that needs a peer connection before
//!   `create_peer_connection` (echo and receive_bulk included), `NotSupportedError` for a
//!   command type the protocol does not have, `BadRequest` for a request without a command and
//!   for a known command whose fields do not read (missing, unknown, wrongly typed), whatever
//!   the peer's state; `close` without a connection succeeds;
//! - with a connection: `TypeError` for values a W3C method rejects (maxRetransmits with
//!   maxPacketLifeTime) and for `receive_bulk` of 0 bytes, `BadRequest` for a binary payload
//!   that is not base64, a negotiated channel's reply carries its id;
//! - a frame that is not JSON gets no response but an `error` log event, and the peer goes on;
//! - with a connection: `get_local_description` before any local description is an
//!   `InvalidStateError`; `send`, `send_bulk` and `close_data_channel` on a label no channel
//!   has are an `InvalidAccessError`; an in-band channel's `id` is null until the SCTP
//!   transport exists; a second `create_peer_connection` replaces the first, and its
//!   channels are gone with it;
//! - after close + create_peer_connection, a bare `set_local_description` applies a new
//!   offer of the new connection (not the offer the closed connection created);
//! - one peer alone: an offer applied locally gathers candidates (`candidate:...`), reports
//!   gathering `complete` and the null end-of-candidates (in the order the implementation fires
//!   them), and the local description then carries `a=candidate` lines; signaling goes
//!   `have-local-offer`, and `rollback` back to `stable` with no local description; getStats
//!   answers W3C-shaped objects (string `type` and `id`, `timestamp` in ms since the epoch);
//! - for the page: its command table and handlers name exactly the protocol's commands, and
//!   its pattern generator and both SHA-256 paths (incremental, WebCrypto) give the Rust
//!   vectors' bytes and digests.
//!
//! What two peers do together is not checked here but by the shipped scenarios through the
//! real runner (on `rust:rust` in the browser-free tier, on every pairing in the full suite).

mod common;

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use common::*;
use interop_harness::browser::{BrowserSession, Launch, PRODUCTS};
use interop_harness::control::{ControlServer, Incoming, PeerLink};
use interop_harness::process::ChildGuard;
use interop_protocol::{Event, Hello, PeerError, PeerMessage, PROTOCOL_VERSION};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::time::{timeout, Instant};

/// How long a peer may take to connect and say Hello (a browser session starts first).
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long any one answer or event may take.
const FRAME_TIMEOUT: Duration = Duration::from_secs(20);

enum Backing {
    Rust(#[allow(dead_code)] ChildGuard),
    Browser(BrowserSession),
}

/// One peer under test, seen only through its control connection.
struct Peer {
    name: String,
    link: PeerLink,
    backing: Option<Backing>,
    next_id: u64,
    answered: HashSet<u64>,
    last_t: f64,
    /// Events received so far (with their `t`), in arrival order.
    events: Vec<(f64, Event)>,
}

impl Peer {
    async fn start(server: &ControlServer, name: &str, log: &Path) -> (Peer, Hello) {
        let mut ticket = server.register();
        let backing = if name == "rust" {
            let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_interop"));
            cmd.arg("peer")
                .arg("--control-url")
                .arg(server.control_url(&ticket));
            Backing::Rust(ChildGuard::spawn(cmd, "the Rust peer", Some(log)).unwrap())
        } else {
            let product = PRODUCTS
                .iter()
                .find(|p| p.name == name)
                .unwrap_or_else(|| panic!("no browser product {name}"));
            let installation = product.locate().unwrap();
            let session = BrowserSession::launch(&installation, None, log, Launch::default())
                .await
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            session
                .open(&server.page_url(&ticket, product.name))
                .await
                .unwrap();
            Backing::Browser(session)
        };
        let link = timeout(START_TIMEOUT, &mut ticket.connected)
            .await
            .unwrap_or_else(|_| panic!("{name} did not connect within {START_TIMEOUT:?}"))
            .expect("control server alive");
        let mut peer = Peer {
            name: name.to_string(),
            link,
            backing: Some(backing),
            next_id: 1,
            answered: HashSet::new(),
            last_t: f64::NEG_INFINITY,
            events: Vec::new(),
        };
        let hello = match peer.frame().await {
            PeerMessage::Hello(hello) => hello,
            other => panic!("{name}: the first frame is not a Hello: {other:?}"),
        };
        (peer, hello)
    }

    /// The next frame, after the checks every frame must pass.
    async fn frame(&mut self) -> PeerMessage {
        let name = &self.name;
        let incoming = timeout(FRAME_TIMEOUT, self.link.incoming.recv())
            .await
            .unwrap_or_else(|_| panic!("{name}: no frame within {FRAME_TIMEOUT:?}"))
            .unwrap_or_else(|| panic!("{name}: disconnected"));
        let message = match incoming {
            Incoming::Message(m) => m,
            Incoming::Malformed(e) => panic!("{name} sent a frame that is not protocol: {e}"),
        };
        let t = match &message {
            PeerMessage::Hello(_) => None,
            PeerMessage::Response { t, .. } | PeerMessage::Event { t, .. } => Some(*t),
        };
        if let Some(t) = t {
            assert!(
                t >= self.last_t,
                "{name}: t went backwards ({} then {t}) at {message:?}",
                self.last_t
            );
            self.last_t = t;
        }
        match &message {
            PeerMessage::Response { id, ok, error, .. } => {
                assert!(
                    *id < self.next_id,
                    "{name}: a response to request {id}, never sent"
                );
                assert!(
                    self.answered.insert(*id),
                    "{name}: a second response to request {id}"
                );
                assert!(
                    ok.is_some() != error.is_some(),
                    "{name}: response {id} must have exactly one of ok / error"
                );
            }
            PeerMessage::Event { t, event } => self.events.push((*t, event.clone())),
            PeerMessage::Hello(_) => {}
        }
        message
    }

    /// Sends `text` as one frame, as it is.
    fn raw(&self, text: &str) {
        self.link.outgoing.send(text.to_string()).unwrap();
    }

    /// Sends `{"id": N, ...fields}` and waits for its response: `ok` as JSON, or the error.
    async fn request_frame(&mut self, fields: Value) -> Result<Value, PeerError> {
        let id = self.next_id;
        self.next_id += 1;
        let mut frame = json!({ "id": id });
        frame
            .as_object_mut()
            .unwrap()
            .extend(fields.as_object().unwrap().clone());
        self.raw(&frame.to_string());
        let deadline = Instant::now() + FRAME_TIMEOUT;
        loop {
            assert!(
                Instant::now() < deadline,
                "{}: no response to {frame}",
                self.name
            );
            if let PeerMessage::Response {
                id: answered,
                ok,
                error,
                ..
            } = self.frame().await
            {
                if answered == id {
                    return match (ok, error) {
                        (Some(ok), None) => Ok(serde_json::to_value(ok).unwrap()),
                        (None, Some(e)) => Err(e),
                        _ => unreachable!("checked in frame()"),
                    };
                }
            }
        }
    }

    async fn request(&mut self, command: Value) -> Result<Value, PeerError> {
        self.request_frame(json!({ "command": command })).await
    }

    async fn ok(&mut self, command: Value) -> Value {
        let what = command.to_string();
        self.request(command)
            .await
            .unwrap_or_else(|e| panic!("{}: {what} failed: {}: {}", self.name, e.name, e.message))
    }

    async fn error_name(&mut self, command: Value) -> String {
        let what = command.to_string();
        match self.request(command).await {
            Ok(ok) => panic!("{}: {what} succeeded ({ok}), an error was due", self.name),
            Err(e) => e.name,
        }
    }

    /// Each of `commands` must fail with the error `expected`; `why` ends the message.
    async fn expect_errors(&mut self, expected: &str, why: &str, commands: Vec<Value>) {
        for command in commands {
            let what = command.to_string();
            assert_eq!(
                self.error_name(command).await,
                expected,
                "{}: {what} {why}",
                self.name
            );
        }
    }

    /// Waits for an `error` log event after the events seen so far.
    async fn expect_error_log(&mut self, what: &str) -> String {
        let from = self.events.len();
        let deadline = Instant::now() + FRAME_TIMEOUT;
        loop {
            let found = self.events[from..].iter().find_map(|(_, e)| match e {
                Event::Log { level, message } if level == "error" => Some(message.clone()),
                _ => None,
            });
            if let Some(message) = found {
                return message;
            }
            assert!(
                Instant::now() < deadline,
                "{}: no error log for {what}",
                self.name
            );
            if let PeerMessage::Response { id, .. } = self.frame().await {
                panic!(
                    "{}: a response ({id}) to {what}, which has no id",
                    self.name
                );
            }
        }
    }

    /// Reads frames until `done` holds over the events received since the `from`-th.
    async fn wait_events(&mut self, from: usize, what: &str, done: impl Fn(&[Event]) -> bool) {
        let deadline = Instant::now() + FRAME_TIMEOUT;
        loop {
            let since: Vec<Event> = self.events[from..].iter().map(|(_, e)| e.clone()).collect();
            if done(&since) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{}: no {what} within {FRAME_TIMEOUT:?}; events since: {since:?}",
                self.name
            );
            self.frame().await;
        }
    }

    async fn shutdown(mut self) {
        match self.backing.take() {
            Some(Backing::Browser(session)) => session.shutdown().await,
            Some(Backing::Rust(guard)) => drop(guard),
            None => {}
        }
    }
}

fn ufrag(description: &Value) -> String {
    let sdp = description["description"]["sdp"]
        .as_str()
        .unwrap_or_default();
    sdp.lines()
        .find_map(|l| l.strip_prefix("a=ice-ufrag:"))
        .unwrap_or_else(|| panic!("no a=ice-ufrag in {sdp}"))
        .trim()
        .to_string()
}

/// Every check of the kit against the implementation `name`.
async fn check_implementation(name: &str) {
    let dir = tempfile::tempdir().unwrap();
    let server = ControlServer::start("127.0.0.1:0".parse().unwrap(), None)
        .await
        .unwrap();
    let log = dir.path().join(format!("{name}.log"));
    let (mut peer, hello) = Peer::start(&server, name, &log).await;
    assert_eq!(hello.protocol_version, PROTOCOL_VERSION, "{name}");
    assert_eq!(hello.implementation, name);
    assert!(
        !hello.version.is_empty() && hello.version != "unknown",
        "{name}: the Hello names no version of the implementation: {hello:?}"
    );

    // Before create_peer_connection: close is a no-op, everything else needs a connection.
    assert_eq!(peer.ok(json!({"type": "close"})).await["type"], "done");
    let commands = vec![
        json!({"type": "create_offer"}),
        json!({"type": "create_answer"}),
        json!({"type": "set_local_description"}),
        json!({"type": "get_local_description"}),
        json!({"type": "restart_ice"}),
        json!({"type": "add_ice_candidate"}),
        json!({"type": "get_stats"}),
        json!({"type": "get_media_report"}),
        json!({"type": "create_data_channel", "label": "a"}),
        json!({"type": "send", "label": "a", "data": {"text": "x"}}),
        json!({"type": "echo", "label": "a"}),
        json!({"type": "receive_bulk", "label": "a", "bytes": 10}),
    ];
    peer.expect_errors(
        "InvalidStateError",
        "before create_peer_connection",
        commands,
    )
    .await;

    // Frames the protocol does not have.
    assert_eq!(
        peer.error_name(json!({"type": "no_such_command"})).await,
        "NotSupportedError",
        "{name}: an unknown command type"
    );
    let bad = peer.request_frame(json!({})).await;
    assert_eq!(
        bad.map_err(|e| e.name),
        Err("BadRequest".to_string()),
        "{name}: a request without a command"
    );
    check_requests_that_do_not_read(&mut peer).await;
    peer.raw("{this is not json");
    let message = peer.expect_error_log("a frame that is not JSON").await;
    assert!(!message.is_empty(), "{name}");

    // The peer goes on. With a connection: what does not exist yet is named as such.
    peer.ok(json!({"type": "create_peer_connection"})).await;
    assert_eq!(
        peer.error_name(json!({"type": "get_local_description"}))
            .await,
        "InvalidStateError",
        "{name}: get_local_description before any local description"
    );
    let commands = vec![
        json!({"type": "send", "label": "nope", "data": {"text": "x"}}),
        json!({"type": "close_data_channel", "label": "nope"}),
        json!({"type": "send_bulk", "label": "nope", "bytes": 10, "chunk": 4, "seed": 1,
               "high_water": 100, "low_water": 10}),
    ];
    peer.expect_errors("InvalidAccessError", "on a label no channel has", commands)
        .await;
    let channel = peer
        .ok(json!({"type": "create_data_channel", "label": "a"}))
        .await;
    assert_eq!(channel["type"], "data_channel", "{name}: {channel}");
    assert_eq!(channel["label"], "a", "{name}: {channel}");
    assert_eq!(
        channel["id"],
        Value::Null,
        "{name}: an in-band channel has no id before the SCTP transport exists: {channel}"
    );
    // A second create_peer_connection replaces the first, channels included.
    peer.ok(json!({"type": "create_peer_connection"})).await;
    assert_eq!(
        peer.error_name(json!({"type": "send", "label": "a", "data": {"text": "x"}}))
            .await,
        "InvalidAccessError",
        "{name}: a channel of the connection that create_peer_connection replaced"
    );
    // A closed connection leaves nothing behind for the next one.
    let channel = peer
        .ok(json!({"type": "create_data_channel", "label": "a"}))
        .await;
    assert_eq!(channel["type"], "data_channel", "{name}: {channel}");
    let first = peer.ok(json!({"type": "create_offer"})).await;
    assert_eq!(first["description"]["type"], "offer", "{name}: {first}");
    peer.ok(json!({"type": "close"})).await;
    assert_eq!(
        peer.error_name(json!({"type": "get_stats"})).await,
        "InvalidStateError",
        "{name}: get_stats after close"
    );
    peer.ok(json!({"type": "create_peer_connection"})).await;
    peer.ok(json!({"type": "create_data_channel", "label": "a"}))
        .await;
    let applied = peer.ok(json!({"type": "set_local_description"})).await;
    assert_eq!(applied["description"]["type"], "offer", "{name}: {applied}");
    assert_ne!(
        ufrag(&applied),
        ufrag(&first),
        "{name}: a bare set_local_description after close + create applied the closed connection's offer"
    );
    let local = peer.ok(json!({"type": "get_local_description"})).await;
    assert_eq!(ufrag(&local), ufrag(&applied), "{name}");
    peer.ok(json!({"type": "close"})).await;

    check_values_a_command_cannot_use(&mut peer).await;
    check_gathering_rollback_and_stats(&mut peer).await;

    if let Some(Backing::Browser(session)) = &peer.backing {
        check_page_pattern_and_digests(session).await;
        check_page_command_table(session).await;
    }

    // Exactly one response per request: every id sent was answered (a second answer to any
    // of them failed in `frame`).
    let sent: HashSet<u64> = (1..peer.next_id).collect();
    assert_eq!(peer.answered, sent, "{name}: requests without a response");
    peer.shutdown().await;
}

/// A known command whose fields do not read (a wrong type, a missing or unknown field) is a
/// `BadRequest` whatever the peer's state: a peer reads the whole request before it runs it.
/// Checked before `create_peer_connection`, where running it would be an `InvalidStateError`.
async fn check_requests_that_do_not_read(peer: &mut Peer) {
    let commands = vec![
        json!({"type": "send", "label": 7, "data": {"text": "x"}}),
        json!({"type": "send", "label": "a"}),
        json!({"type": "create_data_channel"}),
        json!({"type": "receive_bulk", "label": "a", "bytes": "ten"}),
        json!({"type": "receive_bulk", "label": "a", "bytes": -1}),
        json!({"type": "echo", "label": "a", "loud": true}),
    ];
    peer.expect_errors("BadRequest", "does not read", commands)
        .await;
}

/// With a connection: values a command reads but cannot use are a `TypeError` (as a W3C
/// method rejects them), a binary payload that is not base64 a `BadRequest`, and a negotiated
/// channel's reply carries the id it was given.
async fn check_values_a_command_cannot_use(peer: &mut Peer) {
    let name = peer.name.clone();
    peer.ok(json!({"type": "create_peer_connection"})).await;
    let commands = vec![
        // W3C createDataChannel: maxPacketLifeTime and maxRetransmits both set.
        json!({"type": "create_data_channel", "label": "both",
               "init": {"max_retransmits": 1, "max_packet_life_time": 1}}),
        json!({"type": "receive_bulk", "label": "a", "bytes": 0}),
    ];
    peer.expect_errors("TypeError", "is a TypeError", commands)
        .await;
    let pinned = peer
        .ok(json!({"type": "create_data_channel", "label": "pinned",
                    "init": {"negotiated": true, "id": 7}}))
        .await;
    assert_eq!(
        pinned["id"], 7,
        "{name}: a negotiated channel's id: {pinned}"
    );
    assert_eq!(
        peer.error_name(json!({"type": "send", "label": "pinned",
                               "data": {"binary": "*not base64*"}}))
            .await,
        "BadRequest",
        "{name}: a binary payload that is not base64"
    );
    peer.ok(json!({"type": "close"})).await;
}

/// One peer alone: an offer applied locally gathers candidates, each `candidate:...`, and
/// reports the gathering state `complete` and the null end-of-candidates; the local
/// description then carries the candidates; signaling goes `have-local-offer`, and a
/// rollback takes it back to `stable` with no local description. getStats answers a list of
/// W3C stats objects (string `type` and `id`, `timestamp` in ms since the Unix epoch).
async fn check_gathering_rollback_and_stats(peer: &mut Peer) {
    let name = peer.name.clone();
    peer.ok(json!({"type": "create_peer_connection"})).await;
    peer.ok(json!({"type": "create_data_channel", "label": "g"}))
        .await;
    let mark = peer.events.len();
    let offer = peer.ok(json!({"type": "create_offer"})).await;
    peer.ok(json!({"type": "set_local_description", "description": offer["description"]}))
        .await;
    let complete = Event::IceGatheringStateChange {
        state: "complete".into(),
    };
    let end = Event::IceCandidate { candidate: None };
    peer.wait_events(mark, "gathering complete and end-of-candidates", |e| {
        e.contains(&complete) && e.contains(&end)
    })
    .await;
    // Their order is the implementation's, reported as it fires them: W3C ("update the ICE
    // gathering state") fires icegatheringstatechange `complete` and then the null candidate,
    // as Chromium and the Rust peer do; Firefox ESR 153 fires the null candidate first.
    let events: Vec<Event> = peer.events[mark..].iter().map(|(_, e)| e.clone()).collect();
    let candidates: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            Event::IceCandidate { candidate: Some(c) } => Some(c.candidate.as_str()),
            _ => None,
        })
        .collect();
    assert!(!candidates.is_empty(), "{name}: no candidate: {events:?}");
    assert!(
        candidates.iter().all(|c| c.starts_with("candidate:")),
        "{name}: {candidates:?}"
    );
    let signaling = |events: &[Event]| -> Vec<String> {
        events
            .iter()
            .filter_map(|e| match e {
                Event::SignalingStateChange { state } => Some(state.clone()),
                _ => None,
            })
            .collect()
    };
    assert_eq!(signaling(&events), ["have-local-offer"], "{name}");
    let local = peer.ok(json!({"type": "get_local_description"})).await;
    let sdp = local["description"]["sdp"].as_str().unwrap_or_default();
    assert!(
        sdp.contains("a=candidate:"),
        "{name}: the local description after gathering has no candidates: {sdp}"
    );

    let stats = peer.ok(json!({"type": "get_stats"})).await;
    let entries = stats["report"]
        .as_array()
        .unwrap_or_else(|| panic!("{name}: get_stats answered no list: {stats}"));
    assert!(!entries.is_empty(), "{name}: an empty stats report");
    for entry in entries {
        assert!(
            entry["type"].is_string() && entry["id"].is_string(),
            "{name}: a stats object without a string type and id: {entry}"
        );
        // Milliseconds since the Unix epoch: after 2001-09-09 that is above 1e12.
        assert!(
            entry["timestamp"].as_f64().is_some_and(|t| t > 1e12),
            "{name}: a stats timestamp that is not ms since the epoch: {entry}"
        );
    }

    let mark = peer.events.len();
    peer.ok(json!({"type": "rollback"})).await;
    peer.wait_events(mark, "signaling back to stable", |e| {
        signaling(e).iter().any(|s| s == "stable")
    })
    .await;
    assert_eq!(
        peer.error_name(json!({"type": "get_local_description"}))
            .await,
        "InvalidStateError",
        "{name}: a local description after rollback"
    );
    peer.ok(json!({"type": "close"})).await;
}

/// The page's table of command fields (`COMMAND_FIELDS` in wire.js) and its handlers name
/// exactly the protocol's commands (`commandTables` in handlers.js).
async fn check_page_command_table(session: &BrowserSession) {
    let got = session
        .execute_async("const done = arguments[arguments.length - 1]; done(commandTables());")
        .await
        .unwrap();
    let mut kinds: Vec<&str> = interop_protocol::Command::KINDS.to_vec();
    kinds.sort_unstable();
    let product = session.product.name;
    assert_eq!(got["fields"], json!(kinds), "{product}: COMMAND_FIELDS");
    assert_eq!(got["handlers"], json!(kinds), "{product}: handlers");
}

/// The page's self-test (`selfTestVectors` in pure.js: its xorshift32 pattern, whole and in
/// parts, and its two SHA-256 paths) against the protocol crate's generator and `sha2`.
async fn check_page_pattern_and_digests(session: &BrowserSession) {
    let script = r#"
        const done = arguments[arguments.length - 1];
        selfTestVectors().then(done, (e) => done({ error: String(e) }));
    "#;
    let got = session.execute_async(script).await.unwrap();
    let product = session.product.name;
    assert!(got.get("error").is_none(), "{product}: {got}");
    let whole = interop_protocol::pattern(7, 100_000);
    let digest = hex::encode(Sha256::digest(&whole));
    assert_eq!(
        got["first"],
        hex::encode(interop_protocol::pattern(0, 8)),
        "{product}"
    );
    assert_eq!(
        got["seed1"],
        hex::encode(interop_protocol::pattern(1, 16)),
        "{product}"
    );
    assert_eq!(
        got["chunked_equal"], true,
        "{product}: the stream in two parts"
    );
    assert_eq!(
        got["incremental"], digest,
        "{product}: the page's incremental SHA-256"
    );
    assert_eq!(got["subtle"], digest, "{product}: WebCrypto's SHA-256");
}

#[tokio::test]
async fn the_rust_peer_keeps_the_protocol() {
    check_implementation("rust").await;
}

#[tokio::test]
async fn the_chromium_page_keeps_the_protocol() {
    if !require_browsers() {
        return;
    }
    check_implementation("chrome").await;
}

#[tokio::test]
async fn the_firefox_page_keeps_the_protocol() {
    if !require_browsers() {
        return;
    }
    check_implementation("firefox").await;
}
