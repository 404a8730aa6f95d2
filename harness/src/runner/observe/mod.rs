//! What a run leaves besides its outcome: getStats snapshots (`stats-<peer>-<when>.json`),
//! `negotiation.json`, `console-<peer>.log`, facts read from the SDPs; timings (timings.rs)
//! and the timeline (timeline.rs).

use std::collections::BTreeMap;

use interop_protocol::{Command, Event, Reply};
use interop_scenario::plan::{PeerId, Role};
use tokio::time::Instant;

use super::expect::connection_state;
use super::session::Session;
use crate::sdp;

mod timeline;
mod timings;

/// How long the harness's own getStats snapshots (at connect, at the end) may take.
const STATS_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

impl Session {
    /// Once both peers reported `connected`, a getStats snapshot of each
    /// (`stats-<peer>-connected.json`).
    pub(in crate::runner) async fn stats_when_connected(&mut self) {
        if self.stats_at_connect
            || !self.peers.iter().all(|p| {
                p.log
                    .events
                    .iter()
                    .any(|(_, e)| connection_state(e) == Some("connected"))
            })
        {
            return;
        }
        self.stats_at_connect = true;
        self.snapshot_stats("connected").await;
    }

    /// A getStats snapshot of each live peer, `stats-<peer>-<when>.json`; a failure is noted,
    /// never a step failure.
    pub(in crate::runner) async fn snapshot_stats(&mut self, when: &str) {
        for i in 0..2 {
            self.snapshot_peer_stats(i, when).await;
        }
    }

    /// The final getStats snapshot of one peer (once): before the scenario closes its peer
    /// connection, or after the last step.
    pub(in crate::runner) async fn end_stats(&mut self, i: usize) {
        if !self.peers[i].end_stats_taken {
            self.peers[i].end_stats_taken = true;
            self.snapshot_peer_stats(i, "end").await;
            // The last media report too, while the peer connection still exists.
            self.final_media_report(PeerId(i)).await;
        }
    }

    pub(in crate::runner) async fn snapshot_peer_stats(&mut self, i: usize, when: &str) {
        {
            if self.peers[i].disconnected || self.peers[i].log.pc_created_at.is_none() {
                return;
            }
            let id = self.send(PeerId(i), Command::GetStats);
            let deadline = Instant::now() + STATS_TIMEOUT;
            let response = loop {
                if let Some(r) = self.peers[i].responses.remove(&id) {
                    break Some(r);
                }
                match self.pump_once(deadline).await {
                    Ok(true) => {}
                    _ => break None,
                }
            };
            let name = format!("stats-{}-{when}.json", self.peers[i].name);
            match response {
                Some((_, Ok(Reply::Stats { report }))) => self.write_artefact(
                    &name,
                    &serde_json::to_string_pretty(&report).unwrap_or_default(),
                ),
                Some((_, Err(e))) => self.peers[i]
                    .notes
                    .push(format!("getStats {when} failed: {}: {}", e.name, e.message)),
                _ => self.peers[i].notes.push(format!(
                    "no getStats answer {when} within {}s",
                    STATS_TIMEOUT.as_secs()
                )),
            }
        }
    }

    /// `negotiation.json`: the normalised features of the offer and the answer and each peer's
    /// event sequences (see `negotiation`), the input of the negotiation snapshots.
    pub(in crate::runner) fn write_negotiation(&self) {
        let description = |d: &Option<(PeerId, String)>| match d {
            Some((by, sdp)) => serde_json::json!({
                "by": self.peers[by.0].name,
                "implementation": self.peers[by.0].implementation.name(),
                "features": crate::negotiation::description_features(sdp),
            }),
            None => serde_json::Value::Null,
        };
        let events: serde_json::Map<String, serde_json::Value> = self
            .peers
            .iter()
            .map(|p| {
                (
                    p.name.clone(),
                    crate::negotiation::event_sequences(&p.log.events),
                )
            })
            .collect();
        let json = serde_json::json!({
            "offer": description(&self.offer),
            "answer": description(&self.answer),
            "events": events,
        });
        self.write_artefact(
            "negotiation.json",
            &serde_json::to_string_pretty(&json).unwrap_or_default(),
        );
    }

    /// Each browser peer's console and the page's own log lines, `console-<peer>.log`.
    pub(in crate::runner) fn write_console_logs(&self) {
        for p in &self.peers {
            if !p.implementation.is_browser() {
                continue; // A process peer's own log is <implementation>-peer-<role>.log.
            }
            let mut text = String::new();
            for ((t, e), _) in p.log.events.iter().zip(&p.log.arrivals) {
                if let Event::Log { level, message } = e {
                    text.push_str(&format!("{t:>10.1} {level:<5} {message}\n"));
                }
            }
            let text = crate::redact::redact(&text);
            self.write_artefact(&format!("console-{}.log", p.name), &text);
        }
    }

    /// Facts read from the SDPs, keyed `<role>.<fact>`.
    pub(in crate::runner) fn observed(&self) -> BTreeMap<String, serde_json::Value> {
        let mut observed = BTreeMap::new();
        for (i, role) in Role::ALL.iter().map(|r| r.as_str()).enumerate() {
            let peer = &self.peers[i];
            if let Some(d) = &peer.last_local_description {
                if sdp::max_message_size(&d.sdp).is_some() {
                    let value = match sdp::announced_max_message_size(&d.sdp) {
                        Some(n) => serde_json::json!(n),
                        None => serde_json::json!("absent (65536 applies)"),
                    };
                    observed.insert(format!("{role}.max_message_size"), value);
                }
            }
            if let Some(client) = self.is_dtls_client(PeerId(i)) {
                let dtls = if client { "client" } else { "server" };
                observed.insert(format!("{role}.dtls_role"), serde_json::json!(dtls));
            }
        }
        observed
    }
}
