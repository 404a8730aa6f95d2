//! The executor: one cell from start to record. Starts both peers at once (start.rs), runs
//! the scenario's steps in order (steps.rs) until one stops the run, then finishes: final
//! stats and media reports, artefacts (observe/), teardown, and the [`RunRecord`].

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::sync::Arc;

use interop_results::{FailedStep, Implementation as ImplInfo, Outcome, RunRecord, Timings};
use interop_scenario::plan::{Action, PeerCommand, PeerId};
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
            let capture = open_capture(self.capture, scenario, &dir, t0)?;
            // Both peers start at once: a browser's page load and a Rust peer's process
            // start are most of a run's overhead.
            let starts = [PeerId::OFFERER, PeerId::ANSWERER].map(|id| {
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
            let [o, a] = starts;
            let (offerer, answerer) = tokio::join!(
                start_peer(&shared, o, &dir, self.capture != CaptureMode::Off),
                start_peer(&shared, a, &dir, self.capture != CaptureMode::Off)
            );
            tracing::debug!(t = ?t0.elapsed(), "peers started");
            let (offerer, answerer) = match (offerer, answerer) {
                (Ok(o), Ok(a)) => (o, a),
                (o, a) => {
                    let mut first_stop = None;
                    for (k, started) in [o, a].into_iter().enumerate() {
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
                    return Err(first_stop.expect("one peer failed to start"));
                }
            };
            infos = [offerer.info.clone(), answerer.info.clone()];
            let mut session =
                Session::new([offerer, answerer], transcript, dir.clone(), t0, capture);
            let mut stop = None;
            for (index, step) in scenario.steps.iter().enumerate() {
                if matches!(step.action, Action::Command(PeerCommand::Close)) {
                    session.end_stats(step.peer.0).await;
                }
                let result = session.execute(step).await;
                session.steps_ended_at = session.elapsed_ms();
                session.stats_when_connected().await;
                if let Err(s) = result {
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
        let mut observed = BTreeMap::new();
        if let Some(mut session) = session {
            timings = session.timings();
            observed = session.observed();
            observed.append(&mut session.connectivity_observed());
            notes = session
                .peers
                .iter()
                .flat_map(|p| p.notes.iter().map(move |n| format!("{}: {n}", p.label())))
                .collect();
            tracing::debug!(t = ?t0.elapsed(), "steps done");
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
                observed.insert(
                    "capture.way".into(),
                    serde_json::json!(capture.way().name()),
                );
                observed.insert(
                    "capture.datagrams".into(),
                    serde_json::json!(totals.datagrams),
                );
                observed.insert("capture.bytes".into(), serde_json::json!(totals.bytes));
                notes.extend(
                    capture
                        .problems()
                        .into_iter()
                        .map(|p| format!("capture: {p}")),
                );
            }
            let [a, b] = session.peers;
            self.release(a).await;
            self.release(b).await;
            tracing::debug!(t = ?t0.elapsed(), "released");
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
