//! The executor: one cell from start to record. Starts both peers at once (start.rs), runs
//! the scenario's steps in order (steps.rs) until one stops the run, then finishes: final
//! stats and media reports, artefacts (observe/), teardown, and the [`RunRecord`].

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use interop_results::{FailedStep, Implementation as ImplInfo, Outcome, RunRecord, Timings};
use interop_scenario::plan::{Action, PeerCommand, PeerId, Scenario};
use tokio::time::Instant;

use super::session::{Backing, LivePeer, Session};
use super::start::{launch_settings, open_capture, start_peer, PeerStart};
use super::{role, round, Shared, Stop};
use crate::browser::BrowserPool;
use crate::capture::CaptureMode;
use crate::matrix::Cell;

/// One worker: runs one cell at a time, with its own pool of browser sessions (one per
/// implementation and launch settings, two for a browser paired with itself).
pub struct Worker {
    pub(super) shared: Arc<Shared>,
    pub(super) pool: BrowserPool,
    pub(super) capture: CaptureMode,
}

impl Worker {
    /// Sets how the next runs of this worker capture their traffic.
    pub fn set_capture(&mut self, mode: CaptureMode) {
        self.capture = mode;
    }

    /// Ends this worker's browser sessions.
    pub async fn shutdown(&mut self) {
        self.pool.shutdown().await;
    }

    /// Runs one cell to its record. Never panics on peer behaviour.
    pub async fn run_cell(&mut self, cell: &Cell) -> RunRecord {
        let started_at = crate::results_dir::now_rfc3339();
        let t0 = Instant::now();
        let rel_dir = cell.artefact_dir();
        let dir = self.shared.out.join(&rel_dir);
        let mut infos = [cell.offerer, cell.answerer].map(|i| ImplInfo {
            name: i.name().to_string(),
            version: "unknown".into(),
            detail: None,
        });
        let (failed_step, stop, finished) = match self.start(cell, &dir, t0, &mut infos).await {
            Ok(mut session) => {
                let (failed_step, stop) = run_steps(&mut session, &cell.scenario).await;
                tracing::debug!(t = ?t0.elapsed(), "steps done");
                let finished = self.finish(session).await;
                tracing::debug!(t = ?t0.elapsed(), "released");
                (failed_step, stop, finished)
            }
            Err(stop) => (None, Some(stop), Finished::default()),
        };
        let Finished {
            mut timings,
            observed,
            notes,
        } = finished;
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
        let mut record = record(
            cell,
            infos,
            outcome,
            reason,
            failed_step,
            timings,
            started_at,
            rel_dir,
        );
        record.observed = observed;
        self.shared.set_expected(cell, &mut record);
        record
    }

    /// The run's folder, transcript and capture, and both peers started at once (a browser's
    /// page load and a process start are most of a run's overhead). `infos` gets what the
    /// peers that said Hello are; on failure whatever started is released.
    async fn start(
        &mut self,
        cell: &Cell,
        dir: &Path,
        t0: Instant,
        infos: &mut [ImplInfo; 2],
    ) -> Result<Session, Stop> {
        let scenario = &cell.scenario;
        std::fs::create_dir_all(dir).map_err(|e| {
            Stop::new(
                Outcome::Error,
                format!("cannot create {}: {e}", dir.display()),
            )
        })?;
        let transcript = File::create(dir.join("transcript.jsonl"))
            .map_err(|e| Stop::new(Outcome::Error, format!("cannot create transcript: {e}")))?;
        let capture = open_capture(self.capture, scenario, dir, t0)?;
        let [o, a] = [PeerId::OFFERER, PeerId::ANSWERER].map(|id| {
            let implementation = [cell.offerer, cell.answerer][id.0];
            let launch = launch_settings(scenario, id);
            PeerStart {
                implementation,
                name: scenario.peer_name(id),
                role: role(id),
                launch,
                idle: implementation
                    .product()
                    .and_then(|product| self.pool.take_idle(product, launch)),
            }
        });
        let shared = self.shared.clone();
        let keylog = self.capture != CaptureMode::Off;
        let started = tokio::join!(
            start_peer(&shared, o, dir, keylog),
            start_peer(&shared, a, dir, keylog)
        );
        tracing::debug!(t = ?t0.elapsed(), "peers started");
        let (offerer, answerer) = match started {
            (Ok(o), Ok(a)) => (o, a),
            (o, a) => return Err(self.abandon([o, a], infos).await),
        };
        *infos = [offerer.info.clone(), answerer.info.clone()];
        let dir = dir.to_path_buf();
        Ok(Session::new(
            [offerer, answerer],
            transcript,
            dir,
            t0,
            capture,
        ))
    }

    /// Releases what started of a run whose other peer did not; the first reason comes back.
    async fn abandon(
        &mut self,
        started: [Result<LivePeer, (Stop, Option<Backing>)>; 2],
        infos: &mut [ImplInfo; 2],
    ) -> Stop {
        let mut first_stop = None;
        for (k, started) in started.into_iter().enumerate() {
            match started {
                Ok(peer) => {
                    infos[k] = peer.info.clone();
                    self.release(peer).await;
                }
                Err((stop, backing)) => {
                    if let Some(b) = backing {
                        self.release_backing(b).await;
                    }
                    first_stop.get_or_insert(stop);
                }
            }
        }
        first_stop.expect("one peer failed to start")
    }

    /// After the steps: what the run observed and timed, the final snapshots and artefacts,
    /// teardown, the capture's totals, and both peers released.
    async fn finish(&mut self, mut session: Session) -> Finished {
        let mut timings = session.timings();
        let mut observed = session.observed();
        observed.append(&mut session.connectivity_observed());
        let mut notes: Vec<String> = session
            .peers
            .iter()
            .flat_map(|p| p.notes.iter().map(move |n| format!("{}: {n}", p.label())))
            .collect();
        session.end_stats(0).await;
        session.end_stats(1).await;
        session.finish_media().await;
        observed.append(&mut session.media.observed);
        timings.first_rtp_ms = std::mem::take(&mut session.media.first_rtp_ms);
        timings.first_frame_ms = std::mem::take(&mut session.media.first_frame_ms);
        session.write_console_logs();
        session.write_negotiation();
        session.teardown().await;
        let _ = session.transcript.flush();
        if let Some(capture) = session.capture.take() {
            capture.finish();
            timings.phases_ms = session.write_timeline(&capture);
            let totals = capture.totals();
            let way = capture.way().name();
            observed.insert("capture.way".into(), serde_json::json!(way));
            let datagrams = serde_json::json!(totals.datagrams);
            observed.insert("capture.datagrams".into(), datagrams);
            observed.insert("capture.bytes".into(), serde_json::json!(totals.bytes));
            let problems = capture.problems().into_iter();
            notes.extend(problems.map(|p| format!("capture: {p}")));
        }
        let [a, b] = session.peers;
        self.release(a).await;
        self.release(b).await;
        Finished {
            timings,
            observed,
            notes,
        }
    }

    async fn release(&mut self, mut peer: LivePeer) {
        if let Some(b) = peer.backing.take() {
            drop(peer.link);
            self.release_backing(b).await;
        }
    }

    async fn release_backing(&mut self, backing: Backing) {
        match backing {
            Backing::Process(guard) => drop(guard),
            Backing::Browser(session) => self.pool.release(session).await,
        }
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) fn record(
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
        parameters: cell.scenario.parameters.iter().cloned().collect(),
        repeat: cell.repeat,
        feature: cell.scenario.feature.clone(),
        offerer,
        answerer,
        outcome,
        expected: Outcome::Pass,
        known_intermittent: Vec::new(),
        expectation: None,
        reason: reason.map(|r| crate::redact::redact(&r).into_owned()),
        failed_step,
        timings,
        started_at,
        artefacts,
        observed: BTreeMap::new(),
    }
}

/// What a finished run leaves for its record besides the outcome.
#[derive(Default)]
struct Finished {
    timings: Timings,
    observed: BTreeMap<String, serde_json::Value>,
    /// Problems that explain a failure (relay errors, malformed frames, capture problems).
    notes: Vec<String>,
}

/// The scenario's steps in order until one stops the run: which step, and why. The final
/// getStats snapshot of a peer is taken before a step closes its peer connection.
async fn run_steps(
    session: &mut Session,
    scenario: &Scenario,
) -> (Option<FailedStep>, Option<Stop>) {
    for (index, step) in scenario.steps.iter().enumerate() {
        if matches!(step.action, Action::Command(PeerCommand::Close)) {
            session.end_stats(step.peer.0).await;
        }
        let result = session.execute(step).await;
        session.steps_ended_at = session.elapsed_ms();
        session.stats_when_connected().await;
        if let Err(stop) = result {
            let failed = FailedStep {
                index,
                line: step.line,
                peer: scenario.peer_name(step.peer).to_string(),
                step: step.action.to_string(),
            };
            return (Some(failed), Some(stop));
        }
    }
    (None, None)
}
