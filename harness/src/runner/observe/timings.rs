//! The run's timings, read from the peers' logs: time to `connected`, to the first message,
//! to a channel's open, echo round trips, the span of the steps. Pure over [`PeerLog`]s.

use std::collections::HashSet;

use interop_protocol::Event;
use interop_results::Timings;
use interop_scenario::plan::Role;

use super::super::expect::connection_state;
use super::super::round;
use super::super::session::{PeerLog, Session};

impl Session {
    /// The timings of this run so far (see [`timings`]).
    pub(in crate::runner) fn timings(&self) -> Timings {
        let mut timings = timings([&self.peers[0].log, &self.peers[1].log]);
        timings.throughput_mbps = self.throughput_mbps.clone();
        if let Some(first) = self.first_command_at {
            timings.steps_ms = Some(round(self.steps_ended_at - first));
        }
        timings
    }
}

/// Time to `connected`, to the first message, to the first created channel's open and the
/// median echo round trip, per role (offerer, answerer), each on that peer's clock from its
/// `create_peer_connection`.
pub(in crate::runner) fn timings(logs: [&PeerLog; 2]) -> Timings {
    let mut timings = Timings::default();
    for (i, (role, peer)) in Role::ALL.iter().map(|r| r.as_str()).zip(logs).enumerate() {
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
        if let Some((label, created, _)) = peer.created.first() {
            let open = peer.events.iter().find_map(|(t, e)| match e {
                Event::DataChannelOpen { label: l, .. } if l == label => Some(*t),
                _ => None,
            });
            if let Some(open) = open {
                let ms = round((open - created).max(0.0));
                timings.channel_open_ms.insert(role.to_string(), ms);
            }
        }
        if let Some(ms) = median_round_trip(peer, logs[1 - i]) {
            timings.round_trip_ms.insert(role.to_string(), ms);
        }
    }
    timings
}

/// Median time from `send()` to the arrival of the same bytes on the same channel, for the
/// channels the `other` peer echoes; each arrival answers one send.
fn median_round_trip(peer: &PeerLog, other: &PeerLog) -> Option<f64> {
    let mut used = HashSet::new();
    let mut rtts: Vec<f64> = peer
        .sent
        .iter()
        .filter(|(label, _, _)| other.echoing.contains(label))
        .filter_map(|(label, sent_at, sha256)| {
            let (i, t) = peer
                .events
                .iter()
                .enumerate()
                .find_map(|(i, (t, e))| match e {
                    Event::DataChannelMessage { label: l, message }
                        if l == label
                            && &message.sha256 == sha256
                            && *t >= *sent_at
                            && !used.contains(&i) =>
                    {
                        Some((i, *t))
                    }
                    _ => None,
                })?;
            used.insert(i);
            Some(t - sent_at)
        })
        .collect();
    if rtts.is_empty() {
        return None;
    }
    rtts.sort_by(f64::total_cmp);
    Some(round(rtts[rtts.len() / 2]))
}

#[cfg(test)]
mod tests {
    use interop_protocol::{DataChannelInit, ReceivedMessage};

    use super::*;

    fn message(label: &str, sha256: &str) -> Event {
        Event::DataChannelMessage {
            label: label.into(),
            message: ReceivedMessage {
                binary: false,
                size: 1,
                sha256: sha256.into(),
            },
        }
    }

    fn state(s: &str) -> Event {
        Event::ConnectionStateChange { state: s.into() }
    }

    #[test]
    fn timings_are_on_each_peers_clock_from_its_peer_connection() {
        let offerer = PeerLog {
            pc_created_at: Some(1000.0),
            events: vec![
                (1010.0, state("connecting")),
                (1250.0, state("connected")),
                (
                    1300.0,
                    Event::DataChannelOpen {
                        label: "chat".into(),
                        id: Some(0),
                    },
                ),
                (1400.0, message("chat", "aa")),
            ],
            created: vec![("chat".into(), 1100.0, DataChannelInit::default())],
            ..PeerLog::default()
        };
        // The answerer's clock is another one: only differences on it count.
        let answerer = PeerLog {
            pc_created_at: Some(50.0),
            events: vec![(170.0, state("connected"))],
            ..PeerLog::default()
        };
        let t = timings([&offerer, &answerer]);
        assert_eq!(t.to_connected_ms["offerer"], 250.0);
        assert_eq!(t.to_connected_ms["answerer"], 120.0);
        assert_eq!(t.to_first_message_ms["offerer"], 400.0);
        assert!(!t.to_first_message_ms.contains_key("answerer"));
        assert_eq!(t.channel_open_ms["offerer"], 200.0);
        // A peer that never created a peer connection has no timings.
        let t = timings([&PeerLog::default(), &answerer]);
        assert!(!t.to_connected_ms.contains_key("offerer"));
    }

    #[test]
    fn round_trips_pair_each_echo_with_one_send_and_take_the_median() {
        let mut peer = PeerLog {
            sent: vec![
                ("echo".into(), 100.0, "a".into()),
                ("echo".into(), 200.0, "a".into()),
                ("echo".into(), 300.0, "b".into()),
                ("quiet".into(), 300.0, "c".into()),
            ],
            events: vec![
                (90.0, message("echo", "a")), // before any send: not an echo
                (110.0, message("echo", "a")),
                (260.0, message("echo", "a")),
                (340.0, message("echo", "b")),
                (350.0, message("quiet", "c")),
            ],
            ..PeerLog::default()
        };
        let mut other = PeerLog::default();
        assert_eq!(median_round_trip(&peer, &other), None, "nobody echoes");
        other.echoing.insert("echo".into());
        // 10, 60, 40 -> median 40; 'quiet' is not echoed, so its message does not count.
        assert_eq!(median_round_trip(&peer, &other), Some(40.0));
        peer.events.truncate(2);
        assert_eq!(median_round_trip(&peer, &other), Some(10.0));
    }
}
