//! What a pairing negotiated, normalised so that it can be compared across runs and snapshot
//! tested: the features of the offer and the answer (per m-section: kind, protocol, codecs,
//! header extensions, direction, setup role, sctp-port, max-message-size...; BUNDLE groups,
//! session attributes) and each peer's event sequences per kind. Values that change from run
//! to run are left out or replaced: ports, ICE credentials, fingerprints (only the hash
//! algorithm stays), SSRCs, session ids, candidates, times.

use std::collections::BTreeMap;

use interop_protocol::Event;
use serde_json::{json, Value};

/// Attributes whose value identifies the run, not the implementation: kept as `<redacted>`.
const REDACTED: &[&str] = &["ice-ufrag", "ice-pwd", "msid", "ssrc", "ssrc-group", "mid"];
/// Attributes left out entirely (their number or presence depends on timing).
const OMITTED: &[&str] = &["candidate", "end-of-candidates", "ice-gathering"];

/// The negotiated features of one session description.
pub fn description_features(sdp: &str) -> Value {
    let mut session: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut sections: Vec<(String, BTreeMap<String, Vec<String>>)> = Vec::new();
    for line in sdp.lines().map(str::trim_end) {
        if let Some(m) = line.strip_prefix("m=") {
            // m=<media> <port> <proto> <fmt ...>: the port is a placeholder or per run.
            let mut fields = m.split_whitespace();
            let media = fields.next().unwrap_or_default();
            let _port = fields.next();
            let proto = fields.next().unwrap_or_default();
            let fmts: Vec<&str> = fields.collect();
            sections.push((
                format!("{media} {proto} {}", fmts.join(" ")),
                BTreeMap::new(),
            ));
            continue;
        }
        let Some(attr) = line.strip_prefix("a=") else {
            continue; // v=, o=, s=, t=, c=: per run or fixed.
        };
        let (name, value) = attr.split_once(':').unwrap_or((attr, ""));
        if OMITTED.contains(&name) {
            continue;
        }
        let value = if REDACTED.contains(&name) {
            "<redacted>".to_string()
        } else if name == "fingerprint" {
            // The hash algorithm is a negotiated feature; the value is per certificate.
            value
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string()
        } else if name == "group" || name == "msid-semantic" {
            // Mid values can be chosen per run by some stacks; the semantics stay.
            value
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string()
        } else {
            value.to_string()
        };
        let target = match sections.last_mut() {
            Some((_, attrs)) => attrs,
            None => &mut session,
        };
        let values = target.entry(name.to_string()).or_default();
        if !values.contains(&value) {
            values.push(value);
        }
    }
    let flatten = |attrs: BTreeMap<String, Vec<String>>| -> Value {
        attrs
            .into_iter()
            .map(|(k, mut v)| {
                v.sort();
                let value = match v.len() {
                    1 if v[0].is_empty() => Value::Bool(true),
                    1 => Value::String(v.remove(0)),
                    _ => json!(v),
                };
                (k, value)
            })
            .collect::<serde_json::Map<String, Value>>()
            .into()
    };
    json!({
        "session": flatten(session),
        "media": sections
            .into_iter()
            .map(|(m, attrs)| json!({ "m": m, "attributes": flatten(attrs) }))
            .collect::<Vec<_>>(),
    })
}

/// A peer's events, one sequence per kind, consecutive repeats collapsed. Messages, logs,
/// candidates and bulk progress are left out (their number or interleaving is not a property
/// of the implementation), and so is the tear-down (`closed` states, channel `closing` /
/// `close`): whether those arrive before the run ends races with `pc.close()`; the close
/// scenarios check them.
pub fn event_sequences(events: &[(f64, Event)]) -> Value {
    let mut sequences: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (_, event) in events {
        let (kind, item) = match event {
            Event::SignalingStateChange { state } => ("signaling", state.clone()),
            Event::IceGatheringStateChange { state } => ("ice_gathering", state.clone()),
            Event::IceConnectionStateChange { state } => ("ice_connection", state.clone()),
            Event::ConnectionStateChange { state } => ("connection", state.clone()),
            Event::DataChannel { label, .. } => ("data_channel", format!("datachannel {label}")),
            Event::DataChannelOpen { label, .. } => ("data_channel", format!("open {label}")),
            Event::DataChannelError { label, .. } => ("data_channel", format!("error {label}")),
            _ => continue,
        };
        if item == "closed" {
            continue;
        }
        let sequence = sequences.entry(kind).or_default();
        if sequence.last() != Some(&item) {
            sequence.push(item);
        }
    }
    json!(sequences)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHROME_OFFER: &str = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\n\
        t=0 0\r\na=group:BUNDLE 0\r\na=extmap-allow-mixed\r\na=msid-semantic: WMS\r\n\
        m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\n\
        a=candidate:1 1 udp 2122260223 192.0.2.2 54321 typ host\r\n\
        a=ice-ufrag:abcd\r\na=ice-pwd:secretsecretsecret\r\na=ice-options:trickle\r\n\
        a=fingerprint:sha-256 AA:BB:CC\r\na=setup:actpass\r\na=mid:0\r\n\
        a=sctp-port:5000\r\na=max-message-size:262144\r\n";

    #[test]
    fn features_keep_what_was_negotiated_and_drop_what_changes_per_run() {
        let features = description_features(CHROME_OFFER);
        insta::assert_json_snapshot!(features, @r#"
        {
          "media": [
            {
              "attributes": {
                "fingerprint": "sha-256",
                "ice-options": "trickle",
                "ice-pwd": "<redacted>",
                "ice-ufrag": "<redacted>",
                "max-message-size": "262144",
                "mid": "<redacted>",
                "sctp-port": "5000",
                "setup": "actpass"
              },
              "m": "application UDP/DTLS/SCTP webrtc-datachannel"
            }
          ],
          "session": {
            "extmap-allow-mixed": true,
            "group": "BUNDLE",
            "msid-semantic": "WMS"
          }
        }
        "#);
        // Another run of the same implementation: other ports, credentials, certificate.
        let other = CHROME_OFFER
            .replace("54321", "40000")
            .replace("abcd", "wxyz")
            .replace("AA:BB:CC", "11:22:33")
            .replace("4611731400430051336", "1");
        assert_eq!(description_features(&other), features);
    }

    #[test]
    fn event_sequences_are_per_kind_without_repeats() {
        let events = vec![
            (
                1.0,
                Event::SignalingStateChange {
                    state: "have-local-offer".into(),
                },
            ),
            (
                2.0,
                Event::IceGatheringStateChange {
                    state: "gathering".into(),
                },
            ),
            (
                3.0,
                Event::ConnectionStateChange {
                    state: "connecting".into(),
                },
            ),
            (
                4.0,
                Event::IceGatheringStateChange {
                    state: "complete".into(),
                },
            ),
            (
                5.0,
                Event::ConnectionStateChange {
                    state: "connected".into(),
                },
            ),
            (
                6.0,
                Event::ConnectionStateChange {
                    state: "connected".into(),
                },
            ),
            (
                7.0,
                Event::DataChannelOpen {
                    label: "echo".into(),
                    id: Some(1),
                },
            ),
            (
                8.0,
                Event::Log {
                    level: "info".into(),
                    message: "x".into(),
                },
            ),
        ];
        assert_eq!(
            event_sequences(&events),
            json!({
                "signaling": ["have-local-offer"],
                "ice_gathering": ["gathering", "complete"],
                "connection": ["connecting", "connected"],
                "data_channel": ["open echo"],
            })
        );
    }
}
