//! `getStats()` as W3C reports it: the crate's stats dictionaries serialized (they carry the
//! W3C `type`, `id`, `timestamp` and member names), with what `rtc` 0.21.1 gets wrong put
//! right: timestamps in seconds, candidate pairs naming candidates by a dangling id, and
//! certificates in hex rather than base64. Each fix leaves a value a fixed crate would write
//! unchanged.

use base64::Engine;
use webrtc::peer_connection::RTCStatsReportEntry;

/// The report as a list of stats objects, normalised as the module doc says.
pub fn w3c_report<'a>(entries: impl Iterator<Item = &'a RTCStatsReportEntry>) -> serde_json::Value {
    let mut entries: Vec<serde_json::Value> = entries.map(stats_entry).collect();
    link_candidate_pairs(&mut entries);
    serde_json::Value::Array(entries)
}

fn stats_entry(entry: &RTCStatsReportEntry) -> serde_json::Value {
    let value = match entry {
        RTCStatsReportEntry::PeerConnection(s) => serde_json::to_value(s),
        RTCStatsReportEntry::Transport(s) => serde_json::to_value(s),
        RTCStatsReportEntry::IceCandidatePair(s) => serde_json::to_value(s),
        RTCStatsReportEntry::LocalCandidate(s) => serde_json::to_value(s),
        RTCStatsReportEntry::RemoteCandidate(s) => serde_json::to_value(s),
        RTCStatsReportEntry::Certificate(s) => serde_json::to_value(s),
        RTCStatsReportEntry::Codec(s) => serde_json::to_value(s),
        RTCStatsReportEntry::DataChannel(s) => serde_json::to_value(s),
        RTCStatsReportEntry::InboundRtp(s) => serde_json::to_value(s),
        RTCStatsReportEntry::OutboundRtp(s) => serde_json::to_value(s),
        RTCStatsReportEntry::RemoteInboundRtp(s) => serde_json::to_value(s),
        RTCStatsReportEntry::RemoteOutboundRtp(s) => serde_json::to_value(s),
        RTCStatsReportEntry::AudioSource(s) => serde_json::to_value(s),
        RTCStatsReportEntry::VideoSource(s) => serde_json::to_value(s),
        RTCStatsReportEntry::AudioPlayout(s) => serde_json::to_value(s),
        // A kind added after 0.21.1: keep at least its identity.
        _ => Ok(serde_json::Value::Null),
    };
    match value {
        Ok(serde_json::Value::Null) | Err(_) => serde_json::json!({
            "type": entry.stats_type(),
            "id": entry.id(),
        }),
        Ok(mut value) => {
            seconds_to_milliseconds(&mut value);
            if matches!(entry, RTCStatsReportEntry::Certificate(_)) {
                hex_certificate_to_base64(&mut value);
            }
            value
        }
    }
}

/// W3C: a candidate pair's `localCandidateId` / `remoteCandidateId` are the ids of candidate
/// stats in the same report. rtc 0.21.1 names the pair's ends by the bare candidate id
/// (`rtc-0.21.1/src/statistics/accumulator/mod.rs:546`) but the candidate stats
/// `RTCLocalIceCandidate_<id>` / `RTCRemoteIceCandidate_<id>` (`peer_connection/internal.rs:1382`,
/// `:1353`), so the references dangle. Pointed at the existing ids here; references that
/// already resolve are left alone.
fn link_candidate_pairs(entries: &mut [serde_json::Value]) {
    let ids: std::collections::HashSet<String> = entries
        .iter()
        .filter_map(|e| e["id"].as_str().map(str::to_owned))
        .collect();
    for entry in entries.iter_mut() {
        if entry["type"] != "candidate-pair" {
            continue;
        }
        for (member, prefix) in [
            ("localCandidateId", "RTCLocalIceCandidate_"),
            ("remoteCandidateId", "RTCRemoteIceCandidate_"),
        ] {
            let Some(id) = entry[member].as_str() else {
                continue;
            };
            let prefixed = format!("{prefix}{id}");
            if !ids.contains(id) && ids.contains(&prefixed) {
                entry[member] = serde_json::json!(prefixed);
            }
        }
    }
}

/// W3C `RTCCertificateStats.base64Certificate` is the base64 of the DER certificate; rtc
/// 0.21.1 fills it with `hex::encode(der)` (`rtc-0.21.1/src/peer_connection/handler/dtls.rs:145`
/// for the local certificate, `:180` for the remote one). Re-encoded here. A value that is not
/// hex is left alone: base64 of DER (a SEQUENCE, 0x30) starts with `M`, never a hex digit, so a
/// fixed crate passes through unchanged.
fn hex_certificate_to_base64(stats: &mut serde_json::Value) {
    if let Some(value) = stats.get_mut("base64Certificate") {
        if let Some(der) = value.as_str().and_then(|hex| hex::decode(hex).ok()) {
            *value = serde_json::json!(base64::engine::general_purpose::STANDARD.encode(der));
        }
    }
}

/// The stats members that are W3C `DOMHighResTimeStamp`s.
const TIMESTAMP_MEMBERS: [&str; 5] = [
    "timestamp",
    "lastPacketSentTimestamp",
    "lastPacketReceivedTimestamp",
    "remoteTimestamp",
    "estimatedPlayoutTimestamp",
];

/// W3C stats timestamps are milliseconds since the Unix epoch; `rtc-shared` 0.21.1
/// (`serde::instant_to_epoch`) writes seconds (with millisecond resolution) despite documenting
/// milliseconds. Scaled here so the report compares with a browser's.
fn seconds_to_milliseconds(stats: &mut serde_json::Value) {
    for member in TIMESTAMP_MEMBERS {
        if let Some(value) = stats.get_mut(member) {
            if let Some(seconds) = value.as_f64() {
                *value = serde_json::json!((seconds * 1000.0).round());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_timestamps_become_milliseconds() {
        let mut stats = serde_json::json!({
            "type": "candidate-pair",
            "id": "p",
            "timestamp": 1795591542.434,
            "lastPacketSentTimestamp": 1795591542.5,
            "bytesSent": 10,
        });
        seconds_to_milliseconds(&mut stats);
        assert_eq!(stats["timestamp"], 1795591542434.0);
        assert_eq!(stats["lastPacketSentTimestamp"], 1795591542500.0);
        assert_eq!(stats["bytesSent"], 10, "other members are left alone");
    }

    #[test]
    fn candidate_pairs_point_at_the_candidate_stats() {
        let mut entries = vec![
            serde_json::json!({"type": "candidate-pair", "id": "p",
                "localCandidateId": "candidate:a", "remoteCandidateId": "candidate:b"}),
            serde_json::json!({"type": "local-candidate", "id": "RTCLocalIceCandidate_candidate:a"}),
            serde_json::json!({"type": "remote-candidate", "id": "RTCRemoteIceCandidate_candidate:b"}),
            serde_json::json!({"type": "candidate-pair", "id": "q",
                "localCandidateId": "RTCLocalIceCandidate_candidate:a", "remoteCandidateId": "gone"}),
        ];
        link_candidate_pairs(&mut entries);
        assert_eq!(
            entries[0]["localCandidateId"],
            "RTCLocalIceCandidate_candidate:a"
        );
        assert_eq!(
            entries[0]["remoteCandidateId"],
            "RTCRemoteIceCandidate_candidate:b"
        );
        assert_eq!(
            entries[3]["localCandidateId"],
            "RTCLocalIceCandidate_candidate:a"
        );
        assert_eq!(
            entries[3]["remoteCandidateId"], "gone",
            "unresolvable: left alone"
        );
    }

    #[test]
    fn certificate_stats_carry_base64_der() {
        let der = [0x30u8, 0x82, 0x01, 0x0a, 0xff, 0x00];
        let mut stats = serde_json::json!({
            "type": "certificate",
            "id": "c",
            "fingerprint": "ab:cd",
            "base64Certificate": hex::encode(der),
        });
        hex_certificate_to_base64(&mut stats);
        assert_eq!(stats["base64Certificate"], "MIIBCv8A");
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(stats["base64Certificate"].as_str().unwrap())
            .unwrap();
        assert_eq!(decoded, der);
        // Already base64 (a fixed crate): unchanged.
        hex_certificate_to_base64(&mut stats);
        assert_eq!(stats["base64Certificate"], "MIIBCv8A");
        assert_eq!(stats["fingerprint"], "ab:cd");
    }
}
