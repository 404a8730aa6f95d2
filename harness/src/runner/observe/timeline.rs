//! `timeline.json`: wire events from the capture and the peers' events on the harness's
//! clock, and the phase durations (connectivity checks, DTLS, SCTP open, first message, ICE
//! gathering) read from them. [`timeline`] is pure; the session only writes its result.

use std::collections::{BTreeMap, HashSet};

use interop_protocol::Event;

use super::super::round;
use super::super::session::{PeerLog, Session};
use crate::capture::{Capture, WireEvent};

/// One line of the timeline: harness clock (ms), source (`wire` or a peer's name), event.
type Entry = (f64, String, String);

impl Session {
    /// Writes `timeline.json` (wire events from the relay and the peers' events, on the
    /// harness's clock) and returns the phase durations.
    pub(in crate::runner) fn write_timeline(&self, capture: &Capture) -> BTreeMap<String, f64> {
        let peers = self.peers.each_ref().map(|p| (p.name.as_str(), &p.log));
        let (entries, phases) = timeline(&capture.wire_events(), peers);
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

/// The timeline's entries in time order, and the phase durations, from the first time of
/// each wire event and the peers' logs (named).
pub(in crate::runner) fn timeline(
    wire: &[(WireEvent, f64)],
    peers: [(&str, &PeerLog); 2],
) -> (Vec<Entry>, BTreeMap<String, f64>) {
    let mut entries: Vec<Entry> = wire
        .iter()
        .map(|(e, t)| (*t, "wire".to_string(), e.name().to_string()))
        .collect();
    for (name, log) in peers {
        entries.extend(peer_entries(name, log));
    }
    entries.sort_by(|a, b| a.0.total_cmp(&b.0));
    let first_arrival = |pick: fn(&Event) -> bool| {
        peers
            .iter()
            .filter_map(|(_, log)| arrival(log, pick))
            .min_by(f64::total_cmp)
    };
    let first_open = first_arrival(|e| matches!(e, Event::DataChannelOpen { .. }));
    let first_message = first_arrival(|e| matches!(e, Event::DataChannelMessage { .. }));
    let at = |e: WireEvent| wire.iter().find(|(w, _)| *w == e).map(|(_, t)| *t);
    let mut phases = BTreeMap::new();
    let mut span = |name: &str, from: Option<f64>, to: Option<f64>| {
        if let (Some(a), Some(b)) = (from, to) {
            phases.insert(name.to_string(), round((b - a).max(0.0)));
        }
    };
    use WireEvent::*;
    span(
        "connectivity_checks",
        at(StunBindingRequest),
        at(StunBindingSuccess),
    );
    span(
        "dtls_handshake",
        at(DtlsClientHello),
        at(DtlsApplicationData),
    );
    span("sctp_channel_open", at(DtlsApplicationData), first_open);
    if at(DtlsApplicationData).is_none() {
        // DTLS 1.3 encrypts the end of its handshake and its application data alike (the
        // unified header), so the wire does not show where one ends: one span instead.
        let name = "dtls_handshake_and_sctp_channel_open";
        span(name, at(DtlsClientHello), first_open);
    }
    span("first_message", first_open, first_message);
    // ICE gathering per peer: from its first sign of gathering (the `gathering` state, or its
    // first candidate: the Rust peer never reports `gathering`) to `complete`.
    for (name, log) in peers {
        let started = arrival(log, |e| match e {
            Event::IceGatheringStateChange { state } => state == "gathering",
            Event::IceCandidate { candidate } => candidate.is_some(),
            _ => false,
        });
        let complete = arrival(
            log,
            |e| matches!(e, Event::IceGatheringStateChange { state } if state == "complete"),
        );
        span(&format!("ice_gathering.{name}"), started, complete);
    }
    (entries, phases)
}

/// When the first event `pick` accepts reached the harness.
fn arrival(log: &PeerLog, pick: impl Fn(&Event) -> bool) -> Option<f64> {
    log.events
        .iter()
        .zip(&log.arrivals)
        .find_map(|((_, e), at)| pick(e).then_some(*at))
}

/// A peer's events as timeline entries (a channel's messages as its first one only).
fn peer_entries(name: &str, log: &PeerLog) -> Vec<Entry> {
    let mut messages_seen = HashSet::new();
    let mut entries = Vec::new();
    for ((_, event), at) in log.events.iter().zip(&log.arrivals) {
        let what = match event {
            Event::IceCandidate { candidate: Some(c) } => format!("candidate {}", c.candidate),
            Event::IceCandidate { candidate: None } => "end of candidates".into(),
            Event::IceGatheringStateChange { state } => format!("ICE gathering {state}"),
            Event::IceConnectionStateChange { state } => format!("ICE connection {state}"),
            Event::ConnectionStateChange { state } => format!("connection {state}"),
            Event::SignalingStateChange { state } => format!("signaling {state}"),
            Event::DataChannel { label, .. } => format!("datachannel '{label}'"),
            Event::DataChannelOpen { label, .. } => format!("channel '{label}' open"),
            Event::DataChannelMessage { label, .. } => {
                if !messages_seen.insert(label.clone()) {
                    continue;
                }
                format!("first message on '{label}'")
            }
            Event::DataChannelClosing { label } => format!("channel '{label}' closing"),
            Event::DataChannelClose { label } => format!("channel '{label}' closed"),
            other => other.name().to_string(),
        };
        entries.push((*at, name.to_string(), what));
    }
    entries
}

#[cfg(test)]
mod tests {
    use interop_protocol::ReceivedMessage;

    use super::*;

    fn log(events: Vec<(f64, Event)>) -> PeerLog {
        PeerLog {
            arrivals: events.iter().map(|(t, _)| *t).collect(),
            events,
            ..PeerLog::default()
        }
    }

    fn message(label: &str) -> Event {
        let message = ReceivedMessage {
            binary: false,
            size: 2,
            sha256: "ab".into(),
        };
        Event::DataChannelMessage {
            label: label.into(),
            message,
        }
    }

    fn gathering(state: &str) -> Event {
        Event::IceGatheringStateChange {
            state: state.into(),
        }
    }

    #[test]
    fn phases_run_from_wire_events_to_the_first_peer_events() {
        let wire = [
            (WireEvent::StunBindingRequest, 10.0),
            (WireEvent::StunBindingSuccess, 12.5),
            (WireEvent::DtlsClientHello, 20.0),
            (WireEvent::DtlsApplicationData, 50.0),
        ];
        let open = |label: &str| Event::DataChannelOpen {
            label: label.into(),
            id: Some(0),
        };
        let alice = log(vec![
            (1.0, gathering("gathering")),
            (8.0, gathering("complete")),
            (70.0, open("chat")),
            (90.0, message("chat")),
            (95.0, message("chat")),
        ]);
        let bob = log(vec![(65.0, open("chat"))]);
        let (entries, phases) = timeline(&wire, [("alice", &alice), ("bob", &bob)]);
        assert_eq!(phases["connectivity_checks"], 2.5);
        assert_eq!(phases["dtls_handshake"], 30.0);
        // The first open of either peer ends the SCTP phase.
        assert_eq!(phases["sctp_channel_open"], 15.0);
        assert_eq!(phases["first_message"], 25.0);
        assert_eq!(phases["ice_gathering.alice"], 7.0);
        assert!(!phases.contains_key("ice_gathering.bob"));
        assert!(!phases.contains_key("dtls_handshake_and_sctp_channel_open"));
        // In time order; a channel's messages appear once.
        let times: Vec<f64> = entries.iter().map(|e| e.0).collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
        let firsts = entries
            .iter()
            .filter(|e| e.2.starts_with("first message"))
            .count();
        assert_eq!(firsts, 1);
    }

    #[test]
    fn dtls_13_gets_one_span_for_handshake_and_channel_open() {
        let wire = [(WireEvent::DtlsClientHello, 20.0)];
        let candidate = Event::IceCandidate { candidate: None };
        let alice = log(vec![
            (3.0, candidate),
            (
                40.0,
                Event::DataChannelOpen {
                    label: "x".into(),
                    id: None,
                },
            ),
        ]);
        let (_, phases) = timeline(&wire, [("alice", &alice), ("bob", &PeerLog::default())]);
        assert_eq!(phases["dtls_handshake_and_sctp_channel_open"], 20.0);
        assert!(!phases.contains_key("dtls_handshake"));
        // End of candidates is not a sign that gathering started.
        assert!(!phases.contains_key("ice_gathering.alice"));
    }
}
