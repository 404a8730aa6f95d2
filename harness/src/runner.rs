//! The runner: executes cells and turns each into one [`RunRecord`].
//!
//! ```text
//!  Cell ──start peers──> rust: child process `interop peer --control-url ws://..`
//!                        chrome/firefox: pooled WebDriver session loads /peer.html
//!        each peer connects back to the control server and says Hello
//!  steps ──commands──> peer          peer ──responses/events──> Session::pump
//!                                     │  ICE candidates are relayed to the other peer once it
//!                                     │  has a remote description (the harness is the
//!                                     │  signaling channel); every frame goes to transcript.jsonl
//!  expectations wait on the event log under their timeout
//!  end ──> outcome + timings ──> RunRecord ──> reporters
//! ```
//!
//! Failures are outcomes, never panics: a failed command or contradicted expectation is
//! `fail`, a missed deadline `timeout`, a peer that disconnects `crash`, a peer the harness
//! could not start `error`.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use interop_protocol::{
    Command, Event, IceCandidate, Payload, PeerMessage, Reply, Request, SessionDescription,
};
use interop_results::{FailedStep, Implementation as ImplInfo, Outcome, RunRecord, Timings};
use interop_scenario::plan::{Action, PayloadSpec, PeerId, Step};
use sha2::{Digest, Sha256};
use tokio::time::Instant;

use crate::browser::{BrowserPool, BrowserSession};
use crate::control::{ControlServer, Incoming, PeerLink};
use crate::matrix::{Cell, Implementation};
use crate::process::ChildGuard;
use crate::reporter::{Reporter, RunEvent};

/// How long a peer may take from launch to its Hello.
const PEER_START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long any single command may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(20);
/// How long teardown waits for a peer to close its peer connection.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(3);

/// Runs cells one after another, reusing browser sessions.
pub struct Runner {
    control: ControlServer,
    pool: BrowserPool,
    out: PathBuf,
    /// The executable that becomes the Rust peer with `peer --control-url URL`.
    peer_exe: PathBuf,
    browser_launches: usize,
}

/// Why a run stopped early.
#[derive(Debug)]
struct Stop {
    outcome: Outcome,
    reason: String,
}

impl Stop {
    fn new(outcome: Outcome, reason: impl Into<String>) -> Self {
        Stop {
            outcome,
            reason: reason.into(),
        }
    }
}

enum Backing {
    Rust(ChildGuard),
    Browser(BrowserSession),
}

/// One peer taking part in a run.
struct LivePeer {
    /// The scenario's name for it (`alice`).
    name: String,
    implementation: Implementation,
    info: ImplInfo,
    link: PeerLink,
    backing: Option<Backing>,
    disconnected: bool,
    next_id: u64,
    events: Vec<(f64, Event)>,
    responses: HashMap<u64, (f64, Result<Reply, interop_protocol::PeerError>)>,
    /// Requests the harness sent on its own (candidate relay): id -> what.
    background: HashMap<u64, String>,
    last_local_description: Option<SessionDescription>,
    has_remote_description: bool,
    /// Candidates from the other peer waiting for this peer's remote description.
    pending_candidates: Vec<IceCandidate>,
    /// Messages already matched by `expect_message`, per label.
    matched_messages: HashMap<String, usize>,
    /// Peer clock when `create_peer_connection` completed.
    pc_created_at: Option<f64>,
    /// Problems that are not step failures but explain one (relay errors, malformed frames).
    notes: Vec<String>,
}

impl LivePeer {
    fn label(&self) -> String {
        format!("{} ({})", self.name, self.implementation)
    }

    fn last_state(&self, pick: fn(&Event) -> Option<&str>) -> Option<&str> {
        self.events.iter().rev().find_map(|(_, e)| pick(e))
    }
}

fn connection_state(e: &Event) -> Option<&str> {
    match e {
        Event::ConnectionStateChange { state } => Some(state),
        _ => None,
    }
}

fn ice_connection_state(e: &Event) -> Option<&str> {
    match e {
        Event::IceConnectionStateChange { state } => Some(state),
        _ => None,
    }
}

/// Everything of one run in progress.
struct Session {
    peers: [LivePeer; 2],
    transcript: BufWriter<File>,
    dir: PathBuf,
    t0: Instant,
    sdp_count: usize,
}

impl Runner {
    pub fn new(control: ControlServer, pool: BrowserPool, out: PathBuf, peer_exe: PathBuf) -> Self {
        Runner {
            control,
            pool,
            out,
            peer_exe,
            browser_launches: 0,
        }
    }

    /// Runs every cell in order, reporting to every reporter. Returns the records.
    pub async fn run_all(
        &mut self,
        cells: &[Cell],
        reporters: &mut [&mut dyn Reporter],
    ) -> std::io::Result<Vec<RunRecord>> {
        let total = cells.len();
        for r in reporters.iter_mut() {
            r.report(&RunEvent::Started { total })?;
        }
        let mut records = Vec::with_capacity(total);
        for (i, cell) in cells.iter().enumerate() {
            for r in reporters.iter_mut() {
                r.report(&RunEvent::CellStarted {
                    index: i + 1,
                    total,
                    cell,
                })?;
            }
            let record = self.run_cell(cell).await;
            for r in reporters.iter_mut() {
                r.report(&RunEvent::CellFinished {
                    index: i + 1,
                    total,
                    record: &record,
                })?;
            }
            records.push(record);
        }
        self.pool.shutdown().await;
        Ok(records)
    }

    /// Runs one cell to its record. Never panics on peer behaviour.
    pub async fn run_cell(&mut self, cell: &Cell) -> RunRecord {
        let started_at = now_rfc3339();
        let t0 = Instant::now();
        let rel_dir = cell.artefact_dir();
        let dir = self.out.join(&rel_dir);
        let scenario = &cell.scenario;
        let mut failed_step = None;
        let mut infos = [cell.offerer, cell.answerer].map(|i| ImplInfo {
            name: i.name().to_string(),
            version: "unknown".into(),
            detail: None,
        });

        let result: Result<(Option<Session>, Option<Stop>), Stop> = async {
            std::fs::create_dir_all(&dir).map_err(|e| {
                Stop::new(
                    Outcome::Error,
                    format!("cannot create {}: {e}", dir.display()),
                )
            })?;
            let transcript = File::create(dir.join("transcript.jsonl"))
                .map_err(|e| Stop::new(Outcome::Error, format!("cannot create transcript: {e}")))?;
            let offerer = self
                .start_peer(
                    cell.offerer,
                    scenario.peer_name(PeerId::OFFERER),
                    "offerer",
                    &dir,
                )
                .await?;
            infos[0] = offerer.info.clone();
            let answerer = match self
                .start_peer(
                    cell.answerer,
                    scenario.peer_name(PeerId::ANSWERER),
                    "answerer",
                    &dir,
                )
                .await
            {
                Ok(a) => a,
                Err(stop) => {
                    self.release(offerer).await;
                    return Err(stop);
                }
            };
            infos[1] = answerer.info.clone();
            let mut session = Session {
                peers: [offerer, answerer],
                transcript: BufWriter::new(transcript),
                dir: dir.clone(),
                t0,
                sdp_count: 0,
            };
            let mut stop = None;
            for (index, step) in scenario.steps.iter().enumerate() {
                if let Err(s) = session.execute(step).await {
                    failed_step = Some(FailedStep {
                        index,
                        line: step.line,
                        peer: scenario.peer_name(step.peer).to_string(),
                        step: step.action.to_string(),
                    });
                    stop = Some(s);
                    break;
                }
            }
            Ok((Some(session), stop))
        }
        .await;

        let (session, stop) = match result {
            Ok((session, stop)) => (session, stop),
            Err(stop) => (None, Some(stop)),
        };
        let mut timings = Timings::default();
        let mut notes = Vec::new();
        if let Some(mut session) = session {
            timings = session.timings();
            notes = session
                .peers
                .iter()
                .flat_map(|p| p.notes.iter().map(move |n| format!("{}: {n}", p.label())))
                .collect();
            session.teardown().await;
            let _ = session.transcript.flush();
            let [a, b] = session.peers;
            self.release(a).await;
            self.release(b).await;
        }
        timings.wall_ms = round(t0.elapsed().as_secs_f64() * 1000.0);
        let (outcome, reason) = match stop {
            None => (Outcome::Pass, None),
            // Relay errors and malformed frames often explain a failure: keep them with it.
            Some(s) if notes.is_empty() => (s.outcome, Some(s.reason)),
            Some(s) => (
                s.outcome,
                Some(format!("{}\nnotes: {}", s.reason, notes.join("; "))),
            ),
        };
        record(
            cell,
            infos,
            outcome,
            reason,
            failed_step,
            timings,
            started_at,
            rel_dir,
        )
    }

    /// Launches a peer of `implementation` and waits for its Hello.
    async fn start_peer(
        &mut self,
        implementation: Implementation,
        name: &str,
        role: &str,
        dir: &Path,
    ) -> Result<LivePeer, Stop> {
        let mut ticket = self.control.register();
        let mut backing = match implementation {
            Implementation::Rust => {
                let mut cmd = tokio::process::Command::new(&self.peer_exe);
                cmd.arg("peer")
                    .arg("--control-url")
                    .arg(self.control.control_url(&ticket));
                let log = dir.join(format!("rust-peer-{role}.log"));
                let guard = ChildGuard::spawn(cmd, "the Rust peer", Some(&log)).map_err(|e| {
                    Stop::new(
                        Outcome::Error,
                        format!(
                            "cannot start the Rust peer {}: {e}",
                            self.peer_exe.display()
                        ),
                    )
                })?;
                Backing::Rust(guard)
            }
            Implementation::Browser(product) => {
                let logs = self.out.join("logs");
                let _ = std::fs::create_dir_all(&logs);
                self.browser_launches += 1;
                let log = logs.join(format!(
                    "{}-driver-{}.log",
                    product.name, self.browser_launches
                ));
                let session = self.pool.acquire(product, &log).await.map_err(|e| {
                    Stop::new(Outcome::Error, format!("{name} ({implementation}): {e}"))
                })?;
                if let Err(e) = session
                    .open(&self.control.page_url(&ticket, product.name))
                    .await
                {
                    session.shutdown().await;
                    return Err(Stop::new(
                        Outcome::Error,
                        format!("{name} ({implementation}): {e}"),
                    ));
                }
                Backing::Browser(session)
            }
        };
        let who = format!("{name} ({implementation})");
        let connected = async {
            match &mut backing {
                Backing::Rust(child) => tokio::select! {
                    link = &mut ticket.connected => link.map_err(|_| Stop::new(Outcome::Error, "control server went away")),
                    exit = child.wait_exit() => Err(Stop::new(Outcome::Crash, format!("{who}: {exit} before connecting; see rust-peer-{role}.log"))),
                },
                Backing::Browser(_) => (&mut ticket.connected)
                    .await
                    .map_err(|_| Stop::new(Outcome::Error, "control server went away")),
            }
        };
        let outcome = tokio::time::timeout(PEER_START_TIMEOUT, connected).await;
        let mut link = match outcome {
            Ok(Ok(link)) => link,
            Ok(Err(stop)) => {
                self.release_backing(backing).await;
                return Err(stop);
            }
            Err(_) => {
                self.release_backing(backing).await;
                return Err(Stop::new(
                    Outcome::Error,
                    format!(
                        "{who} did not connect to the harness within {}s",
                        PEER_START_TIMEOUT.as_secs()
                    ),
                ));
            }
        };
        let hello = match tokio::time::timeout(PEER_START_TIMEOUT, link.incoming.recv()).await {
            Ok(Some(Incoming::Message(PeerMessage::Hello(hello)))) => hello,
            other => {
                self.release_backing(backing).await;
                let what = match other {
                    Err(_) => "no hello in time".to_string(),
                    Ok(None) => "disconnected before its hello".to_string(),
                    Ok(Some(m)) => format!("sent {m:?} instead of a hello"),
                };
                return Err(Stop::new(Outcome::Error, format!("{who}: {what}")));
            }
        };
        let (version, detail) = match &backing {
            // The session's capabilities carry the exact build; the page only knows its UA.
            Backing::Browser(s) => (
                s.version.clone(),
                Some(format!(
                    "{}; {}",
                    s.driver_version,
                    hello.detail.unwrap_or_default()
                )),
            ),
            Backing::Rust(_) => (hello.version, hello.detail),
        };
        Ok(LivePeer {
            name: name.to_string(),
            implementation,
            info: ImplInfo {
                name: implementation.name().to_string(),
                version,
                detail,
            },
            link,
            backing: Some(backing),
            disconnected: false,
            next_id: 1,
            events: Vec::new(),
            responses: HashMap::new(),
            background: HashMap::new(),
            last_local_description: None,
            has_remote_description: false,
            pending_candidates: Vec::new(),
            matched_messages: HashMap::new(),
            pc_created_at: None,
            notes: Vec::new(),
        })
    }

    async fn release(&mut self, mut peer: LivePeer) {
        if let Some(b) = peer.backing.take() {
            drop(peer.link);
            self.release_backing(b).await;
        }
    }

    async fn release_backing(&mut self, backing: Backing) {
        match backing {
            Backing::Rust(guard) => drop(guard),
            Backing::Browser(session) => self.pool.release(session).await,
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn record(
    cell: &Cell,
    infos: [ImplInfo; 2],
    outcome: Outcome,
    reason: Option<String>,
    failed_step: Option<FailedStep>,
    timings: Timings,
    started_at: String,
    artefacts: String,
) -> RunRecord {
    let [offerer, answerer] = infos;
    RunRecord {
        schema_version: interop_results::SCHEMA_VERSION,
        scenario: cell.scenario.name.clone(),
        feature: cell.scenario.feature.clone(),
        offerer,
        answerer,
        outcome,
        reason,
        failed_step,
        timings,
        started_at,
        artefacts,
    }
}

fn round(ms: f64) -> f64 {
    (ms * 10.0).round() / 10.0
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "unknown".into())
}

/// The content of a payload as the protocol carries it, with its digest.
fn materialize(spec: &PayloadSpec) -> (Payload, u64, String) {
    let bytes = spec.bytes();
    let digest = hex::encode(Sha256::digest(&bytes));
    let size = bytes.len() as u64;
    let payload = if spec.is_binary() {
        Payload::Binary(base64::engine::general_purpose::STANDARD.encode(&bytes))
    } else {
        Payload::Text(String::from_utf8_lossy(&bytes).into_owned())
    };
    (payload, size, digest)
}

impl Session {
    /// Time to `connected` and to the first message, per role, each on that peer's clock.
    fn timings(&self) -> Timings {
        let mut timings = Timings::default();
        for (role, peer) in ["offerer", "answerer"].iter().zip(&self.peers) {
            let Some(base) = peer.pc_created_at else {
                continue;
            };
            let first = |pick: &dyn Fn(&Event) -> bool| {
                peer.events
                    .iter()
                    .find(|(_, e)| pick(e))
                    .map(|(t, _)| round(t - base))
            };
            if let Some(ms) = first(&|e| connection_state(e) == Some("connected")) {
                timings.to_connected_ms.insert(role.to_string(), ms);
            }
            if let Some(ms) = first(&|e| matches!(e, Event::DataChannelMessage { .. })) {
                timings.to_first_message_ms.insert(role.to_string(), ms);
            }
        }
        timings
    }

    fn elapsed_ms(&self) -> f64 {
        round(self.t0.elapsed().as_secs_f64() * 1000.0)
    }

    fn log(&mut self, peer: PeerId, direction: &str, frame: &serde_json::Value) {
        let line = serde_json::json!({
            "t_ms": self.elapsed_ms(),
            "peer": self.peers[peer.0].name,
            "dir": direction,
            "frame": frame,
        });
        let _ = writeln!(self.transcript, "{line}");
    }

    /// Sends a command; returns its request id.
    fn send(&mut self, peer: PeerId, command: Command) -> u64 {
        let p = &mut self.peers[peer.0];
        let id = p.next_id;
        p.next_id += 1;
        let request = Request { id, command };
        let value = serde_json::to_value(&request).unwrap_or_default();
        if !p.disconnected {
            let _ = p.link.outgoing.send(value.to_string());
        }
        self.log(peer, "to", &value);
        id
    }

    /// Processes one frame from a peer: records it and relays candidates.
    fn on_incoming(&mut self, peer: PeerId, incoming: Incoming) {
        match incoming {
            Incoming::Malformed(text) => {
                self.log(peer, "from", &serde_json::json!({ "malformed": text }));
                self.peers[peer.0]
                    .notes
                    .push(format!("malformed frame: {text}"));
            }
            Incoming::Message(message) => {
                let value = serde_json::to_value(&message).unwrap_or_default();
                self.log(peer, "from", &value);
                match message {
                    PeerMessage::Hello(_) => {}
                    PeerMessage::Response { id, t, ok, error } => {
                        let p = &mut self.peers[peer.0];
                        if let Some(what) = p.background.remove(&id) {
                            if let Some(e) = error {
                                p.notes
                                    .push(format!("{what} failed: {}: {}", e.name, e.message));
                            }
                            return;
                        }
                        let result = match (ok, error) {
                            (_, Some(e)) => Err(e),
                            (Some(ok), None) => Ok(ok),
                            (None, None) => Ok(Reply::Done),
                        };
                        p.responses.insert(id, (t, result));
                    }
                    PeerMessage::Event { t, event } => {
                        if let Event::IceCandidate { candidate: Some(c) } = &event {
                            self.relay_candidate(peer.other(), c.clone());
                        }
                        self.peers[peer.0].events.push((t, event));
                    }
                }
            }
        }
    }

    /// Delivers `candidate` to `to` now if it can take it, or once it has a remote description.
    fn relay_candidate(&mut self, to: PeerId, candidate: IceCandidate) {
        if self.peers[to.0].has_remote_description {
            let what = format!("addIceCandidate({})", candidate.candidate);
            let id = self.send(
                to,
                Command::AddIceCandidate {
                    candidate: Some(candidate),
                },
            );
            self.peers[to.0].background.insert(id, what);
        } else {
            self.peers[to.0].pending_candidates.push(candidate);
        }
    }

    /// Waits for the next frame from either peer until `deadline`. `Ok(false)` on timeout.
    async fn pump_once(&mut self, deadline: Instant) -> Result<bool, Stop> {
        let [a, b] = &mut self.peers;
        let (a_open, b_open) = (!a.disconnected, !b.disconnected);
        let received = tokio::select! {
            m = a.link.incoming.recv(), if a_open => (PeerId(0), m),
            m = b.link.incoming.recv(), if b_open => (PeerId(1), m),
            _ = tokio::time::sleep_until(deadline) => return Ok(false),
        };
        match received {
            (peer, Some(incoming)) => {
                self.on_incoming(peer, incoming);
                Ok(true)
            }
            (peer, None) => {
                let p = &mut self.peers[peer.0];
                p.disconnected = true;
                let why = match p.backing.as_mut() {
                    Some(Backing::Rust(child)) => {
                        // Give the exit status a moment to be observable.
                        match tokio::time::timeout(Duration::from_millis(500), child.wait_exit())
                            .await
                        {
                            Ok(exit) => exit,
                            Err(_) => "its control connection closed".into(),
                        }
                    }
                    _ => "its page closed the control connection (browser or page crashed?)".into(),
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

    /// Sends a command and waits for its response.
    async fn command(
        &mut self,
        peer: PeerId,
        command: Command,
        what: &str,
    ) -> Result<(f64, Reply), Stop> {
        let id = self.send(peer, command);
        let deadline = Instant::now() + COMMAND_TIMEOUT;
        loop {
            if let Some((t, result)) = self.peers[peer.0].responses.remove(&id) {
                return result.map(|r| (t, r)).map_err(|e| {
                    Stop::new(
                        Outcome::Fail,
                        format!(
                            "{}: {what} failed: {}: {}",
                            self.peers[peer.0].label(),
                            e.name,
                            e.message
                        ),
                    )
                });
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

    fn write_artefact(&self, name: &str, contents: &str) {
        let _ = std::fs::write(self.dir.join(name), contents);
    }

    /// Runs one step.
    async fn execute(&mut self, step: &Step) -> Result<(), Stop> {
        let peer = step.peer;
        let what = step.action.to_string();
        match &step.action {
            Action::CreatePeerConnection { configuration } => {
                let (t, _) = self
                    .command(
                        peer,
                        Command::CreatePeerConnection {
                            configuration: configuration.clone(),
                        },
                        &what,
                    )
                    .await?;
                let p = &mut self.peers[peer.0];
                p.pc_created_at = Some(t);
                p.has_remote_description = false;
                p.last_local_description = None;
            }
            Action::CreateDataChannel { label, init } => {
                self.command(
                    peer,
                    Command::CreateDataChannel {
                        label: label.clone(),
                        init: init.clone(),
                    },
                    &what,
                )
                .await?;
            }
            Action::CreateOffer => {
                self.command(peer, Command::CreateOffer, &what).await?;
            }
            Action::CreateAnswer => {
                self.command(peer, Command::CreateAnswer, &what).await?;
            }
            Action::SetLocalDescription => {
                let (_, reply) = self
                    .command(
                        peer,
                        Command::SetLocalDescription { description: None },
                        &what,
                    )
                    .await?;
                if let Reply::Description { description } = reply {
                    self.sdp_count += 1;
                    let name = format!(
                        "{}-{}-{}.sdp",
                        self.sdp_count, self.peers[peer.0].name, description.kind
                    );
                    self.write_artefact(&name, &description.sdp);
                    self.peers[peer.0].last_local_description = Some(description);
                } else {
                    return Err(Stop::new(
                        Outcome::Fail,
                        format!(
                            "{}: set local description did not return the description",
                            self.peers[peer.0].label()
                        ),
                    ));
                }
            }
            Action::SetRemoteDescription => {
                let from = peer.other();
                let Some(description) = self.peers[from.0].last_local_description.clone() else {
                    return Err(Stop::new(
                        Outcome::Fail,
                        format!(
                            "{} has no local description to pass on",
                            self.peers[from.0].label()
                        ),
                    ));
                };
                self.command(peer, Command::SetRemoteDescription { description }, &what)
                    .await?;
                self.peers[peer.0].has_remote_description = true;
                for candidate in std::mem::take(&mut self.peers[peer.0].pending_candidates) {
                    self.relay_candidate(peer, candidate);
                }
            }
            Action::Send { label, payload } => {
                let (data, _, _) = materialize(payload);
                self.command(
                    peer,
                    Command::Send {
                        label: label.clone(),
                        data,
                    },
                    &what,
                )
                .await?;
            }
            Action::CloseDataChannel { label } => {
                self.command(
                    peer,
                    Command::CloseDataChannel {
                        label: label.clone(),
                    },
                    &what,
                )
                .await?;
            }
            Action::Close => {
                self.command(peer, Command::Close, &what).await?;
            }
            Action::GetStats => {
                let (_, reply) = self.command(peer, Command::GetStats, &what).await?;
                if let Reply::Stats { report } = reply {
                    let name = format!(
                        "stats-{}-{}.json",
                        self.peers[peer.0].name,
                        self.elapsed_ms() as u64
                    );
                    self.write_artefact(
                        &name,
                        &serde_json::to_string_pretty(&report).unwrap_or_default(),
                    );
                }
            }
            expectation => {
                let timeout = expectation.timeout().unwrap_or(COMMAND_TIMEOUT);
                self.expect(peer, expectation, timeout).await?;
            }
        }
        Ok(())
    }

    /// Waits until `check` says the expectation holds (`Some(Ok)`) or is contradicted
    /// (`Some(Err)`), or the timeout passes.
    async fn expect(
        &mut self,
        peer: PeerId,
        action: &Action,
        timeout: Duration,
    ) -> Result<(), Stop> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(result) = check(&mut self.peers[peer.0], action) {
                return result.map_err(|reason| {
                    Stop::new(
                        Outcome::Fail,
                        format!("{}: {reason}", self.peers[peer.0].label()),
                    )
                });
            }
            if !self.pump_once(deadline).await? {
                let p = &self.peers[peer.0];
                let last = match action {
                    Action::ExpectConnectionState { .. } => {
                        format!(
                            "; last connection state: {}",
                            p.last_state(connection_state).unwrap_or("none reported")
                        )
                    }
                    Action::ExpectIceConnectionState { .. } => format!(
                        "; last ICE connection state: {}",
                        p.last_state(ice_connection_state)
                            .unwrap_or("none reported")
                    ),
                    _ => String::new(),
                };
                return Err(Stop::new(
                    Outcome::Timeout,
                    format!(
                        "{}: timed out after {} waiting to {action}{last}",
                        p.label(),
                        human(timeout)
                    ),
                ));
            }
        }
    }

    /// Asks each live peer to close its peer connection (best effort, bounded).
    async fn teardown(&mut self) {
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

fn human(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// Whether `action` holds for `peer` given its events so far.
fn check(peer: &mut LivePeer, action: &Action) -> Option<Result<(), String>> {
    match action {
        Action::ExpectConnectionState { state, .. } => {
            let seen: Vec<&str> = peer
                .events
                .iter()
                .filter_map(|(_, e)| connection_state(e))
                .collect();
            if seen.contains(&state.as_str()) {
                return Some(Ok(()));
            }
            let last = seen.last().copied()?;
            (matches!(last, "failed" | "closed") && state != last).then(|| {
                Err(format!(
                    "connection state became '{last}' while waiting for '{state}'"
                ))
            })
        }
        Action::ExpectIceConnectionState { state, .. } => {
            let seen: Vec<&str> = peer
                .events
                .iter()
                .filter_map(|(_, e)| ice_connection_state(e))
                .collect();
            // `completed` implies `connected` was reached.
            if seen.contains(&state.as_str())
                || (state == "connected" && seen.contains(&"completed"))
            {
                return Some(Ok(()));
            }
            let last = seen.last().copied()?;
            (matches!(last, "failed" | "closed") && state != last).then(|| {
                Err(format!(
                    "ICE connection state became '{last}' while waiting for '{state}'"
                ))
            })
        }
        Action::ExpectDataChannel { label, .. } => peer
            .events
            .iter()
            .any(|(_, e)| matches!(e, Event::DataChannel { label: l, .. } if l == label))
            .then_some(Ok(())),
        Action::ExpectChannelOpen { label, .. } => {
            if peer
                .events
                .iter()
                .any(|(_, e)| matches!(e, Event::DataChannelOpen { label: l } if l == label))
            {
                return Some(Ok(()));
            }
            peer.events.iter().find_map(|(_, e)| match e {
                Event::DataChannelClose { label: l } if l == label => {
                    Some(Err(format!("channel '{label}' closed before it opened")))
                }
                _ => None,
            })
        }
        Action::ExpectChannelClosed { label, .. } => peer
            .events
            .iter()
            .any(|(_, e)| matches!(e, Event::DataChannelClose { label: l } if l == label))
            .then_some(Ok(())),
        Action::ExpectMessage { label, payload, .. } => {
            let matched = peer.matched_messages.get(label).copied().unwrap_or(0);
            let next = peer
                .events
                .iter()
                .filter_map(|(_, e)| match e {
                    Event::DataChannelMessage { label: l, message } if l == label => Some(message),
                    _ => None,
                })
                .nth(matched)?
                .clone();
            *peer.matched_messages.entry(label.clone()).or_default() += 1;
            let (_, size, sha256) = materialize(payload);
            let kind = |binary: bool| if binary { "binary" } else { "text" };
            if next.binary == payload.is_binary() && next.size == size && next.sha256 == sha256 {
                Some(Ok(()))
            } else {
                Some(Err(format!(
                    "message {} on '{label}' differs: got {} of {} bytes (sha256 {}), expected {} of {size} bytes (sha256 {})",
                    matched + 1,
                    kind(next.binary),
                    next.size,
                    &next.sha256[..next.sha256.len().min(16)],
                    kind(payload.is_binary()),
                    &sha256[..16],
                )))
            }
        }
        _ => Some(Ok(())),
    }
}
