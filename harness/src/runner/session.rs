//! One run in progress: the two live peers and the protocol client that talks to them. Every
//! frame is logged to `transcript.jsonl`; responses are matched to requests; events go to the
//! peer's [`PeerLog`]; gathered candidates go through the relay policy (relay.rs) to the other
//! peer. `pump_once` is the only place frames are received.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::time::Duration;

use interop_protocol::{
    Command, DataChannelInit, Event, PeerError, PeerMessage, Reply, Request, SessionDescription,
};
use interop_results::{Implementation as ImplInfo, Outcome};
use interop_scenario::plan::PeerId;
use tokio::time::Instant;

use super::frames::FrameRules;
use super::{connectivity, media, relay, round, Stop};
use crate::browser::BrowserSession;
use crate::capture::Capture;
use crate::control::{Incoming, PeerLink};
use crate::implementations::Implementation;
use crate::process::ChildGuard;

/// How long any single command may take.
pub(super) const COMMAND_TIMEOUT: Duration = Duration::from_secs(20);
/// How long teardown waits for a peer to close its peer connection.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(3);

/// What keeps a peer alive: its child process or its browser session.
pub(super) enum Backing {
    Process(ChildGuard),
    Browser(BrowserSession),
}

/// What a peer reported and did during a run, as the pure cores read it (timings, checks):
/// no socket, no process.
#[derive(Debug, Default)]
pub(super) struct PeerLog {
    /// Its events as `(t on its clock, event)`, in arrival order.
    pub(super) events: Vec<(f64, Event)>,
    /// When each of `events` reached the harness, ms since the run started.
    pub(super) arrivals: Vec<f64>,
    /// Channels this peer created, in order: label, peer clock at creation, init.
    pub(super) created: Vec<(String, f64, DataChannelInit)>,
    /// Labels on which this peer echoes what it receives.
    pub(super) echoing: HashSet<String>,
    /// Messages this peer sent: label, peer clock at `send()`, SHA-256.
    pub(super) sent: Vec<(String, f64, String)>,
    /// Peer clock when `create_peer_connection` completed.
    pub(super) pc_created_at: Option<f64>,
}

/// One peer taking part in a run.
pub(super) struct LivePeer {
    /// The scenario's name for it (`alice`).
    pub(super) name: String,
    pub(super) implementation: Implementation,
    pub(super) info: ImplInfo,
    pub(super) link: PeerLink,
    pub(super) backing: Option<Backing>,
    pub(super) disconnected: bool,
    pub(super) next_id: u64,
    /// What it reported and did.
    pub(super) log: PeerLog,
    pub(super) responses: HashMap<u64, (f64, Result<Reply, PeerError>)>,
    /// What the peer declared it cannot do or observe (its Hello): key -> evidence.
    pub(super) unsupported: BTreeMap<String, String>,
    /// Requests the harness sent on its own (candidate relay): id -> what.
    pub(super) background: HashMap<u64, String>,
    pub(super) last_local_description: Option<SessionDescription>,
    /// Indices (in arrival order, per label) of the messages `expect_message` matched.
    pub(super) matched_messages: HashMap<String, BTreeSet<usize>>,
    /// Whether the final getStats snapshot was taken.
    pub(super) end_stats_taken: bool,
    /// Problems that are not step failures but explain one (relay errors, malformed frames).
    pub(super) notes: Vec<String>,
    /// The rules its frames must keep over the run (clock, one response per request).
    pub(super) rules: FrameRules,
}

impl LivePeer {
    /// A peer that just said Hello.
    pub(super) fn new(
        name: &str,
        implementation: Implementation,
        info: ImplInfo,
        link: PeerLink,
        backing: Backing,
        unsupported: BTreeMap<String, String>,
    ) -> Self {
        LivePeer {
            name: name.to_string(),
            implementation,
            info,
            link,
            backing: Some(backing),
            disconnected: false,
            next_id: 1,
            log: PeerLog::default(),
            responses: HashMap::new(),
            unsupported,
            background: HashMap::new(),
            last_local_description: None,
            matched_messages: HashMap::new(),
            end_stats_taken: false,
            notes: Vec::new(),
            rules: FrameRules::default(),
        }
    }

    /// `alice (chrome)`, for messages.
    pub(super) fn label(&self) -> String {
        format!("{} ({})", self.name, self.implementation)
    }
}

/// Everything of one run in progress.
pub(super) struct Session {
    pub(super) peers: [LivePeer; 2],
    pub(super) transcript: BufWriter<File>,
    pub(super) dir: PathBuf,
    pub(super) t0: Instant,
    pub(super) sdp_count: usize,
    /// The last offer and answer applied locally, with the peer that created each.
    pub(super) offer: Option<(PeerId, String)>,
    pub(super) answer: Option<(PeerId, String)>,
    /// Bulk transfer throughputs, keyed `<sender role> <label>`.
    pub(super) throughput_mbps: BTreeMap<String, f64>,
    /// The capture of both peers' UDP traffic (passive, or a relay they go through), if on.
    pub(super) capture: Option<Capture>,
    /// Whether the getStats snapshot at connect was taken.
    pub(super) stats_at_connect: bool,
    /// Media names, mids, reports and findings (see `media.rs`).
    pub(super) media: media::MediaState,
    /// Candidate delivery, TURN, and connectivity findings (see `connectivity.rs`).
    pub(super) conn: connectivity::ConnState,
    /// Harness clock (ms since `t0`) when the first command went to a peer.
    pub(super) first_command_at: Option<f64>,
    /// Harness clock when the last step executed so far returned (its last awaited response
    /// or event had arrived).
    pub(super) steps_ended_at: f64,
}

impl Session {
    /// A run whose peers both said Hello.
    pub(super) fn new(
        peers: [LivePeer; 2],
        transcript: File,
        dir: PathBuf,
        t0: Instant,
        capture: Option<Capture>,
    ) -> Self {
        Session {
            peers,
            transcript: BufWriter::new(transcript),
            dir,
            t0,
            sdp_count: 0,
            offer: None,
            answer: None,
            throughput_mbps: BTreeMap::new(),
            capture,
            stats_at_connect: false,
            media: Default::default(),
            conn: Default::default(),
            first_command_at: None,
            steps_ended_at: 0.0,
        }
    }
}

/// The stop of a command the peer answered with an error: `unsupported` for
/// `NotSupportedError` (the implementation refuses it as the spec allows), else `fail`.
pub(super) fn command_failed(who: &str, what: &str, e: &PeerError) -> Stop {
    let outcome = if e.name == "NotSupportedError" {
        Outcome::Unsupported
    } else {
        Outcome::Fail
    };
    Stop::new(
        outcome,
        format!("{who}: {what} failed: {}: {}", e.name, e.message),
    )
}

impl Session {
    pub(super) fn elapsed_ms(&self) -> f64 {
        round(self.t0.elapsed().as_secs_f64() * 1000.0)
    }

    pub(super) fn log(&mut self, peer: PeerId, direction: &str, frame: &serde_json::Value) {
        // One secrets policy (redact.rs) for the whole line: TURN `credential`s included.
        let line = serde_json::json!({
            "t_ms": self.elapsed_ms(),
            "peer": self.peers[peer.0].name,
            "dir": direction,
            "frame": frame,
        });
        let _ = writeln!(
            self.transcript,
            "{}",
            crate::redact::redact(&line.to_string())
        );
    }

    /// Sends a command; returns its request id.
    pub(super) fn send(&mut self, peer: PeerId, command: Command) -> u64 {
        if self.first_command_at.is_none() {
            self.first_command_at = Some(self.elapsed_ms());
        }
        let p = &mut self.peers[peer.0];
        let id = p.next_id;
        p.next_id += 1;
        p.rules.sent(id);
        let request = Request { id, command };
        let value = serde_json::to_value(&request).unwrap_or_default();
        if !p.disconnected {
            let _ = p.link.outgoing.send(value.to_string());
        }
        self.log(peer, "to", &value);
        id
    }

    /// Processes one frame from a peer: records it and relays candidates. A frame that breaks
    /// the protocol (not JSON, an unknown message, over the size limit) ends the run as an
    /// `error`: the peer can no longer be trusted to report what happened.
    pub(super) fn on_incoming(&mut self, peer: PeerId, incoming: Incoming) -> Result<(), Stop> {
        match incoming {
            Incoming::Malformed(text) => {
                self.log(peer, "from", &serde_json::json!({ "malformed": text }));
                return Err(self.broke_protocol(peer, &text));
            }
            Incoming::Message(message) => {
                let value = serde_json::to_value(&message).unwrap_or_default();
                self.log(peer, "from", &value);
                match message {
                    PeerMessage::Hello(_) => {}
                    PeerMessage::Response { id, t, ok, error } => {
                        if let Err(broken) = self.peers[peer.0].rules.response(id, t) {
                            return Err(self.broke_protocol(peer, &broken));
                        }
                        let p = &mut self.peers[peer.0];
                        if let Some(what) = p.background.remove(&id) {
                            if let Some(e) = error {
                                p.notes
                                    .push(format!("{what} failed: {}: {}", e.name, e.message));
                            }
                            return Ok(());
                        }
                        let result = match (ok, error) {
                            (_, Some(e)) => Err(e),
                            (Some(ok), None) => Ok(ok),
                            (None, None) => Ok(Reply::Done),
                        };
                        p.responses.insert(id, (t, result));
                    }
                    PeerMessage::Event { t, event } => {
                        if let Err(broken) = self.peers[peer.0].rules.event(t) {
                            return Err(self.broke_protocol(peer, &broken));
                        }
                        if let Event::IceCandidate { candidate } = &event {
                            let deliveries =
                                self.conn.relay.gathered_candidate(peer, candidate.clone());
                            self.deliver(deliveries);
                        }
                        let now = self.elapsed_ms();
                        let p = &mut self.peers[peer.0];
                        p.log.events.push((t, event));
                        p.log.arrivals.push(now);
                    }
                }
            }
        }
        Ok(())
    }

    /// The end of a run whose peer broke the control protocol (`what`): an `error`.
    fn broke_protocol(&self, peer: PeerId, what: &str) -> Stop {
        Stop::new(
            Outcome::Error,
            format!(
                "{} broke the control protocol: {what}",
                self.peers[peer.0].label()
            ),
        )
    }

    /// Hands candidates the relay policy let through to their peers (`addIceCandidate`), each
    /// rewritten for the capture relay if there is one.
    pub(super) fn deliver(&mut self, deliveries: Vec<relay::Deliver>) {
        for relay::Deliver { to, mut candidate } in deliveries {
            if let (Some(capture), Some(c)) = (&self.capture, candidate.as_mut()) {
                c.candidate = capture.rewrite_candidate(to.other().0, &c.candidate);
            }
            let what = match &candidate {
                Some(c) => format!("addIceCandidate({})", c.candidate),
                None => "addIceCandidate() (end of candidates)".to_owned(),
            };
            let id = self.send(to, Command::AddIceCandidate { candidate });
            self.peers[to.0].background.insert(id, what);
        }
    }

    /// Waits for the next frame from either peer until `deadline`. `Ok(false)` on timeout.
    pub(super) async fn pump_once(&mut self, deadline: Instant) -> Result<bool, Stop> {
        let [a, b] = &mut self.peers;
        let (a_open, b_open) = (!a.disconnected, !b.disconnected);
        let received = tokio::select! {
            m = a.link.incoming.recv(), if a_open => (PeerId(0), m),
            m = b.link.incoming.recv(), if b_open => (PeerId(1), m),
            _ = tokio::time::sleep_until(deadline) => return Ok(false),
        };
        match received {
            (peer, Some(incoming)) => {
                self.on_incoming(peer, incoming)?;
                Ok(true)
            }
            (peer, None) => {
                let p = &mut self.peers[peer.0];
                p.disconnected = true;
                let why = match p.backing.as_mut() {
                    Some(Backing::Process(child)) => {
                        // Give the exit status a moment to be observable.
                        match tokio::time::timeout(Duration::from_millis(500), child.wait_exit())
                            .await
                        {
                            Ok(exit) => exit,
                            Err(_) => "its control connection closed".into(),
                        }
                    }
                    Some(Backing::Browser(_)) | None => {
                        "its page closed the control connection (browser or page crashed?)".into()
                    }
                };
                self.log(peer, "from", &serde_json::json!({ "disconnected": why }));
                Err(Stop::new(
                    Outcome::Crash,
                    format!(
                        "{} disconnected from the harness: {why}",
                        self.peers[peer.0].label()
                    ),
                ))
            }
        }
    }

    /// Sends a command and waits for its response. A command the peer declared unsupported,
    /// or one it refuses with `NotSupportedError`, makes the run `unsupported`; any other
    /// error makes it `fail`.
    pub(super) async fn command(
        &mut self,
        peer: PeerId,
        command: Command,
        what: &str,
    ) -> Result<(f64, Reply), Stop> {
        let (t, result) = self.command_result(peer, command, what).await?;
        result
            .map(|r| (t, r))
            .map_err(|e| command_failed(&self.peers[peer.0].label(), what, &e))
    }

    /// Fails with `unsupported` when `peer` declared in its Hello that it cannot do or
    /// observe `key` (a command type or an event name).
    pub(super) fn require(&self, peer: PeerId, key: &str, what: &str) -> Result<(), Stop> {
        match self.peers[peer.0].unsupported.get(key) {
            Some(evidence) => Err(Stop::new(
                Outcome::Unsupported,
                format!(
                    "{}: cannot {what}: the peer declares `{key}` unsupported: {evidence}",
                    self.peers[peer.0].label()
                ),
            )),
            None => Ok(()),
        }
    }

    /// Sends a command and waits for its response, success or error. Only a timeout or a
    /// disconnection is a `Stop`.
    pub(super) async fn command_result(
        &mut self,
        peer: PeerId,
        command: Command,
        what: &str,
    ) -> Result<(f64, Result<Reply, PeerError>), Stop> {
        self.require(peer, command.kind(), what)?;
        let id = self.send(peer, command);
        let deadline = Instant::now() + COMMAND_TIMEOUT;
        loop {
            if let Some(response) = self.peers[peer.0].responses.remove(&id) {
                return Ok(response);
            }
            if !self.pump_once(deadline).await? {
                return Err(Stop::new(
                    Outcome::Timeout,
                    format!(
                        "{}: no answer to {what} within {}s",
                        self.peers[peer.0].label(),
                        COMMAND_TIMEOUT.as_secs()
                    ),
                ));
            }
        }
    }

    pub(super) fn write_artefact(&self, name: &str, contents: &str) {
        let _ = std::fs::write(self.dir.join(name), contents);
    }

    /// Asks each live peer to close its peer connection (best effort, bounded).
    pub(super) async fn teardown(&mut self) {
        for i in 0..2 {
            if !self.peers[i].disconnected {
                let id = self.send(PeerId(i), Command::Close);
                self.peers[i].background.insert(id, "close".into());
            }
        }
        let deadline = Instant::now() + CLOSE_TIMEOUT;
        while self
            .peers
            .iter()
            .any(|p| !p.disconnected && !p.background.is_empty())
        {
            match self.pump_once(deadline).await {
                Ok(true) => {}
                _ => break,
            }
        }
    }
}
