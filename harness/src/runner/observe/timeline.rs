//! `timeline.json`: wire events from the capture and the peers' events on the harness's
//! clock, and the phase durations (connectivity checks, DTLS, SCTP open, first message, ICE
//! gathering) read from them.

use std::collections::{BTreeMap, HashSet};

use interop_protocol::Event;

use super::super::round;
use super::super::session::Session;
use crate::capture::Capture;

impl Session {
    /// Writes `timeline.json` (wire events from the relay and the peers' events, on the
    /// harness's clock) and returns the phase durations.
    pub(in crate::runner) fn write_timeline(&self, capture: &Capture) -> BTreeMap<String, f64> {
        use crate::capture::WireEvent;
        let mut entries: Vec<(f64, String, String)> = capture
            .wire_events()
            .into_iter()
            .map(|(e, t)| (t, "wire".to_string(), e.name().to_string()))
            .collect();
        let mut first_open = None;
        let mut first_message = None;
        for p in &self.peers {
            let mut messages_seen = HashSet::new();
            for ((_, event), at) in p.log.events.iter().zip(&p.log.arrivals) {
                let what = match event {
                    Event::IceCandidate { candidate: Some(c) } => {
                        format!("candidate {}", c.candidate)
                    }
                    Event::IceCandidate { candidate: None } => "end of candidates".into(),
                    Event::IceGatheringStateChange { state } => format!("ICE gathering {state}"),
                    Event::IceConnectionStateChange { state } => format!("ICE connection {state}"),
                    Event::ConnectionStateChange { state } => format!("connection {state}"),
                    Event::SignalingStateChange { state } => format!("signaling {state}"),
                    Event::DataChannel { label, .. } => format!("datachannel '{label}'"),
                    Event::DataChannelOpen { label, .. } => {
                        first_open.get_or_insert(*at);
                        format!("channel '{label}' open")
                    }
                    Event::DataChannelMessage { label, .. } => {
                        first_message.get_or_insert(*at);
                        if !messages_seen.insert(label.clone()) {
                            continue;
                        }
                        format!("first message on '{label}'")
                    }
                    Event::DataChannelClosing { label } => format!("channel '{label}' closing"),
                    Event::DataChannelClose { label } => format!("channel '{label}' closed"),
                    other => other.name().to_string(),
                };
                entries.push((*at, p.name.clone(), what));
            }
        }
        entries.sort_by(|a, b| a.0.total_cmp(&b.0));
        let wire = capture.wire_events();
        let at = |e: WireEvent| wire.iter().find(|(w, _)| *w == e).map(|(_, t)| *t);
        let mut phases = BTreeMap::new();
        let mut span = |name: &str, from: Option<f64>, to: Option<f64>| {
            if let (Some(a), Some(b)) = (from, to) {
                phases.insert(name.to_string(), round((b - a).max(0.0)));
            }
        };
        span(
            "connectivity_checks",
            at(WireEvent::StunBindingRequest),
            at(WireEvent::StunBindingSuccess),
        );
        span(
            "dtls_handshake",
            at(WireEvent::DtlsClientHello),
            at(WireEvent::DtlsApplicationData),
        );
        span(
            "sctp_channel_open",
            at(WireEvent::DtlsApplicationData),
            first_open,
        );
        if at(WireEvent::DtlsApplicationData).is_none() {
            // DTLS 1.3 encrypts the end of its handshake and its application data alike (the
            // unified header), so the wire does not show where one ends: one span instead.
            span(
                "dtls_handshake_and_sctp_channel_open",
                at(WireEvent::DtlsClientHello),
                first_open,
            );
        }
        span("first_message", first_open, first_message);
        // ICE gathering per peer: from its first sign of gathering (the `gathering` state, or
        // its first candidate: the Rust peer never reports `gathering`) to `complete`.
        for p in &self.peers {
            let started =
                p.log
                    .events
                    .iter()
                    .zip(&p.log.arrivals)
                    .find_map(|((_, e), at)| match e {
                        Event::IceGatheringStateChange { state } if state == "gathering" => {
                            Some(*at)
                        }
                        Event::IceCandidate { candidate: Some(_) } => Some(*at),
                        _ => None,
                    });
            let complete =
                p.log
                    .events
                    .iter()
                    .zip(&p.log.arrivals)
                    .find_map(|((_, e), at)| match e {
                        Event::IceGatheringStateChange { state } if state == "complete" => {
                            Some(*at)
                        }
                        _ => None,
                    });
            span(&format!("ice_gathering.{}", p.name), started, complete);
        }
        let json = serde_json::json!({
            "clock": "ms since the run started, on the harness's clock; wire events are when \
                      the capture relay forwarded the datagram, peer events when they reached \
                      the harness",
            "phases_ms": phases,
            "events": entries
                .iter()
                .map(|(t, source, what)| serde_json::json!({ "t_ms": t, "source": source, "event": what }))
                .collect::<Vec<_>>(),
        });
        self.write_artefact(
            "timeline.json",
            &serde_json::to_string_pretty(&json).unwrap_or_default(),
        );
        phases
    }
}
