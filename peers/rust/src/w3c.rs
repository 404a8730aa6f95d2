//! Translation between the `webrtc` crate's types and the W3C vocabulary the protocol speaks:
//! state names, DOMException-style error names, descriptions, candidates and data channel
//! options. Pure functions, no I/O, so every mapping is unit-tested here.

use interop_protocol::{
    DataChannelInit, IceCandidate, PeerConnectionConfig, PeerError, SessionDescription,
};
use webrtc::data_channel::RTCDataChannelInit;
use webrtc::error::Error as RtcError;
use webrtc::peer_connection::{
    RTCBundlePolicy, RTCConfigurationBuilder, RTCIceCandidateInit, RTCIceConnectionState,
    RTCIceGatheringState, RTCIceServer, RTCIceTransportPolicy, RTCPeerConnectionState, RTCSdpType,
    RTCSessionDescription, RTCSignalingState,
};

/// `RTCIceGatheringState` as W3C spells it.
pub fn ice_gathering_state(state: RTCIceGatheringState) -> String {
    match state {
        RTCIceGatheringState::New => "new".into(),
        RTCIceGatheringState::Gathering => "gathering".into(),
        RTCIceGatheringState::Complete => "complete".into(),
        other => unspecified(other),
    }
}

/// `RTCIceConnectionState` as W3C spells it.
pub fn ice_connection_state(state: RTCIceConnectionState) -> String {
    match state {
        RTCIceConnectionState::New => "new".into(),
        RTCIceConnectionState::Checking => "checking".into(),
        RTCIceConnectionState::Connected => "connected".into(),
        RTCIceConnectionState::Completed => "completed".into(),
        RTCIceConnectionState::Disconnected => "disconnected".into(),
        RTCIceConnectionState::Failed => "failed".into(),
        RTCIceConnectionState::Closed => "closed".into(),
        other => unspecified(other),
    }
}

/// `RTCPeerConnectionState` as W3C spells it.
pub fn peer_connection_state(state: RTCPeerConnectionState) -> String {
    match state {
        RTCPeerConnectionState::New => "new".into(),
        RTCPeerConnectionState::Connecting => "connecting".into(),
        RTCPeerConnectionState::Connected => "connected".into(),
        RTCPeerConnectionState::Disconnected => "disconnected".into(),
        RTCPeerConnectionState::Failed => "failed".into(),
        RTCPeerConnectionState::Closed => "closed".into(),
        other => unspecified(other),
    }
}

/// `RTCSignalingState` as W3C spells it.
pub fn signaling_state(state: RTCSignalingState) -> String {
    match state {
        RTCSignalingState::Stable => "stable".into(),
        RTCSignalingState::HaveLocalOffer => "have-local-offer".into(),
        RTCSignalingState::HaveRemoteOffer => "have-remote-offer".into(),
        RTCSignalingState::HaveLocalPranswer => "have-local-pranswer".into(),
        RTCSignalingState::HaveRemotePranswer => "have-remote-pranswer".into(),
        RTCSignalingState::Closed => "closed".into(),
        other => unspecified(other),
    }
}

/// A state W3C has no name for (the crate's `Unspecified`, or a variant added later): reported
/// by its Debug name so it shows up in the log rather than being silently dropped.
fn unspecified(state: impl std::fmt::Debug) -> String {
    format!("{state:?}").to_lowercase()
}

/// The DOMException name a browser would use for the same failure.
pub fn error_name(error: &RtcError) -> &'static str {
    match error {
        RtcError::ErrConnectionClosed
        | RtcError::ErrDataChannelClosed
        | RtcError::ErrDataChannelNotOpen
        | RtcError::ErrIncorrectSignalingState
        | RtcError::ErrNoRemoteDescription
        | RtcError::ErrSignalingStateCannotRollback
        | RtcError::ErrSignalingStateProposedTransitionInvalid(_)
        | RtcError::InvalidStateError => "InvalidStateError",
        RtcError::ErrStringSizeLimit
        | RtcError::ErrProtocolTooLarge
        | RtcError::ErrNegotiatedWithoutID
        | RtcError::ErrRetransmitsOrPacketLifeTime
        | RtcError::ErrOutboundPacketTooLarge => "TypeError",
        RtcError::ErrNoTurnCredentials | RtcError::ErrTurnCredentials => "InvalidAccessError",
        _ => "OperationError",
    }
}

/// A crate error as a protocol error.
pub fn peer_error(error: RtcError) -> PeerError {
    PeerError {
        name: error_name(&error).to_owned(),
        message: error.to_string(),
    }
}

/// A protocol error with a given DOMException name.
pub fn named_error(name: &str, message: impl Into<String>) -> PeerError {
    PeerError {
        name: name.to_owned(),
        message: message.into(),
    }
}

/// `RTCConfiguration` from the protocol's subset, as a builder (certificates are added by the
/// caller, see `certificate`). Unknown enum values are a `TypeError`, as they are for a
/// browser's WebIDL enum.
pub fn configuration(config: &PeerConnectionConfig) -> Result<RTCConfigurationBuilder, PeerError> {
    let mut builder = RTCConfigurationBuilder::new().with_ice_servers(
        config
            .ice_servers
            .iter()
            .map(|server| RTCIceServer {
                urls: server.urls.clone(),
                username: server.username.clone().unwrap_or_default(),
                credential: server.credential.clone().unwrap_or_default(),
            })
            .collect(),
    );
    if let Some(policy) = config.ice_transport_policy.as_deref() {
        builder = builder.with_ice_transport_policy(match policy {
            "all" => RTCIceTransportPolicy::All,
            "relay" => RTCIceTransportPolicy::Relay,
            other => return Err(type_error("ice_transport_policy", other)),
        });
    }
    if let Some(policy) = config.bundle_policy.as_deref() {
        builder = builder.with_bundle_policy(match policy {
            "balanced" => RTCBundlePolicy::Balanced,
            "max-compat" => RTCBundlePolicy::MaxCompat,
            "max-bundle" => RTCBundlePolicy::MaxBundle,
            other => return Err(type_error("bundle_policy", other)),
        });
    }
    Ok(builder)
}

fn type_error(field: &str, value: &str) -> PeerError {
    named_error("TypeError", format!("{value:?} is not a valid {field}"))
}

/// `RTCDataChannelInit` from the protocol's. `id` only counts for a negotiated channel, as in
/// W3C; `negotiated: true` without an `id` is a `TypeError`.
pub fn data_channel_init(init: &DataChannelInit) -> Result<RTCDataChannelInit, PeerError> {
    let negotiated = match (init.negotiated.unwrap_or(false), init.id) {
        (true, Some(id)) => Some(id),
        (true, None) => {
            return Err(named_error(
                "TypeError",
                "a negotiated data channel needs an id",
            ))
        }
        (false, _) => None,
    };
    Ok(RTCDataChannelInit {
        ordered: init.ordered.unwrap_or(true),
        max_packet_life_time: init.max_packet_life_time,
        max_retransmits: init.max_retransmits,
        protocol: init.protocol.clone().unwrap_or_default(),
        negotiated,
    })
}

/// A protocol description as the crate's (its SDP is parsed here, so bad SDP fails early).
pub fn to_rtc_description(desc: &SessionDescription) -> Result<RTCSessionDescription, PeerError> {
    let sdp = desc.sdp.clone();
    let parsed = match desc.kind.as_str() {
        "offer" => RTCSessionDescription::offer(sdp),
        "answer" => RTCSessionDescription::answer(sdp),
        "pranswer" => RTCSessionDescription::pranswer(sdp),
        "rollback" => RTCSessionDescription::rollback((!sdp.is_empty()).then_some(sdp)),
        other => return Err(type_error("description type", other)),
    };
    parsed.map_err(peer_error)
}

/// The crate's description as the protocol's.
pub fn from_rtc_description(desc: &RTCSessionDescription) -> SessionDescription {
    let kind = match desc.sdp_type {
        RTCSdpType::Offer => "offer".to_owned(),
        RTCSdpType::Answer => "answer".to_owned(),
        RTCSdpType::Pranswer => "pranswer".to_owned(),
        RTCSdpType::Rollback => "rollback".to_owned(),
        other => unspecified(other),
    };
    SessionDescription {
        kind,
        sdp: desc.sdp.clone(),
    }
}

/// webrtc 0.21.1 skips TURN URLs it cannot use - `turns:` and any transport but UDP - with
/// only a log line (`webrtc-0.21.1/src/peer_connection/transport/turn_relayer.rs:272-279`), and
/// would then gather no relay candidate for them. A browser would use them, so the peer refuses
/// such a configuration with `NotSupportedError` instead of pretending to honour it.
pub fn refuse_ignored_turn_urls(config: &PeerConnectionConfig) -> Result<(), PeerError> {
    for server in &config.ice_servers {
        for url in &server.urls {
            let lower = url.to_ascii_lowercase();
            let turn = lower.starts_with("turn:") || lower.starts_with("turns:");
            let udp = !lower.starts_with("turns:")
                && lower
                    .split_once("?transport=")
                    .is_none_or(|(_, transport)| transport == "udp");
            if turn && !udp {
                return Err(PeerError {
                    name: "NotSupportedError".into(),
                    message: format!(
                        "webrtc {} supports TURN over UDP only: it skips `{url}` (turn_relayer.rs:272-279 \
                         logs \"Skipping unsupported non-UDP TURN url\" / \"secure TURN url\") and would gather \
                         no relay candidate from it",
                        crate::WEBRTC_VERSION
                    ),
                });
            }
        }
    }
    Ok(())
}

/// A gathered candidate (`RTCIceCandidate.toJSON()`) as the protocol's.
///
/// The crate always reports `sdpMid: ""` and `sdpMLineIndex: 0`. An empty mid names no media
/// section, so it is reported as absent; the m-line index still locates the candidate (BUNDLE
/// puts every transport on the first section).
pub fn from_rtc_candidate(init: RTCIceCandidateInit) -> IceCandidate {
    IceCandidate {
        candidate: init.candidate,
        sdp_mid: init.sdp_mid.filter(|mid| !mid.is_empty()),
        sdp_m_line_index: init.sdp_mline_index,
        username_fragment: init.username_fragment.filter(|u| !u.is_empty()),
    }
}

/// A remote candidate as the crate's.
pub fn to_rtc_candidate(candidate: &IceCandidate) -> RTCIceCandidateInit {
    RTCIceCandidateInit {
        candidate: candidate.candidate.clone(),
        sdp_mid: candidate.sdp_mid.clone(),
        sdp_mline_index: candidate.sdp_m_line_index,
        username_fragment: candidate.username_fragment.clone(),
        url: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turn_over_tcp_or_tls_is_refused_not_ignored() {
        let with = |url: &str| PeerConnectionConfig {
            ice_servers: vec![interop_protocol::IceServer {
                urls: vec![url.into()],
                username: Some("u".into()),
                credential: Some("p".into()),
            }],
            ..Default::default()
        };
        assert!(refuse_ignored_turn_urls(&with("turn:127.0.0.1:3478?transport=udp")).is_ok());
        assert!(refuse_ignored_turn_urls(&with("turn:127.0.0.1:3478")).is_ok());
        assert!(refuse_ignored_turn_urls(&with("stun:127.0.0.1:3478")).is_ok());
        let e = refuse_ignored_turn_urls(&with("turn:127.0.0.1:3478?transport=tcp")).unwrap_err();
        assert_eq!(e.name, "NotSupportedError");
        assert!(e.message.contains("UDP only"), "{}", e.message);
        assert!(refuse_ignored_turn_urls(&with("turns:127.0.0.1:5349")).is_err());
    }

    #[test]
    fn state_names_are_the_w3c_enum_values() {
        assert_eq!(ice_gathering_state(RTCIceGatheringState::New), "new");
        assert_eq!(
            ice_gathering_state(RTCIceGatheringState::Gathering),
            "gathering"
        );
        assert_eq!(
            ice_gathering_state(RTCIceGatheringState::Complete),
            "complete"
        );
        let ice = [
            (RTCIceConnectionState::New, "new"),
            (RTCIceConnectionState::Checking, "checking"),
            (RTCIceConnectionState::Connected, "connected"),
            (RTCIceConnectionState::Completed, "completed"),
            (RTCIceConnectionState::Disconnected, "disconnected"),
            (RTCIceConnectionState::Failed, "failed"),
            (RTCIceConnectionState::Closed, "closed"),
        ];
        for (state, name) in ice {
            assert_eq!(ice_connection_state(state), name);
        }
        let pc = [
            (RTCPeerConnectionState::New, "new"),
            (RTCPeerConnectionState::Connecting, "connecting"),
            (RTCPeerConnectionState::Connected, "connected"),
            (RTCPeerConnectionState::Disconnected, "disconnected"),
            (RTCPeerConnectionState::Failed, "failed"),
            (RTCPeerConnectionState::Closed, "closed"),
        ];
        for (state, name) in pc {
            assert_eq!(peer_connection_state(state), name);
        }
        let signaling = [
            (RTCSignalingState::Stable, "stable"),
            (RTCSignalingState::HaveLocalOffer, "have-local-offer"),
            (RTCSignalingState::HaveRemoteOffer, "have-remote-offer"),
            (RTCSignalingState::HaveLocalPranswer, "have-local-pranswer"),
            (
                RTCSignalingState::HaveRemotePranswer,
                "have-remote-pranswer",
            ),
            (RTCSignalingState::Closed, "closed"),
        ];
        for (state, name) in signaling {
            assert_eq!(signaling_state(state), name);
        }
    }

    #[test]
    fn unspecified_states_are_reported_not_dropped() {
        assert_eq!(
            peer_connection_state(RTCPeerConnectionState::Unspecified),
            "unspecified"
        );
    }

    #[test]
    fn crate_errors_get_dom_exception_names() {
        assert_eq!(
            error_name(&RtcError::ErrIncorrectSignalingState),
            "InvalidStateError"
        );
        assert_eq!(error_name(&RtcError::ErrNegotiatedWithoutID), "TypeError");
        assert_eq!(
            error_name(&RtcError::ErrNoTurnCredentials),
            "InvalidAccessError"
        );
        assert_eq!(error_name(&RtcError::ErrCodecNotFound), "OperationError");
        let err = peer_error(RtcError::ErrDataChannelClosed);
        assert_eq!(err.name, "InvalidStateError");
        assert_eq!(err.message, "data channel closed");
    }

    #[test]
    fn configuration_rejects_unknown_policies() {
        let bad = PeerConnectionConfig {
            ice_transport_policy: Some("sometimes".into()),
            ..Default::default()
        };
        assert_eq!(
            configuration(&bad).err().map(|e| e.name).as_deref(),
            Some("TypeError")
        );
        let bad = PeerConnectionConfig {
            bundle_policy: Some("max_bundle".into()),
            ..Default::default()
        };
        assert_eq!(
            configuration(&bad).err().map(|e| e.name).as_deref(),
            Some("TypeError")
        );
        let good = PeerConnectionConfig {
            ice_transport_policy: Some("relay".into()),
            bundle_policy: Some("max-bundle".into()),
            ..Default::default()
        };
        let config = configuration(&good).expect("valid configuration").build();
        assert_eq!(config.ice_transport_policy(), RTCIceTransportPolicy::Relay);
        assert_eq!(config.bundle_policy(), RTCBundlePolicy::MaxBundle);
    }

    #[test]
    fn data_channel_init_follows_w3c_defaults() {
        let init = data_channel_init(&DataChannelInit::default()).expect("defaults are valid");
        assert!(init.ordered);
        assert_eq!(init.negotiated, None);
        assert_eq!(init.protocol, "");

        // `id` without `negotiated` is ignored, as in a browser.
        let init = data_channel_init(&DataChannelInit {
            id: Some(4),
            ..Default::default()
        })
        .expect("valid");
        assert_eq!(init.negotiated, None);

        let init = data_channel_init(&DataChannelInit {
            ordered: Some(false),
            max_retransmits: Some(0),
            protocol: Some("chat".into()),
            negotiated: Some(true),
            id: Some(7),
            ..Default::default()
        })
        .expect("valid");
        assert!(!init.ordered);
        assert_eq!(init.max_retransmits, Some(0));
        assert_eq!(init.protocol, "chat");
        assert_eq!(init.negotiated, Some(7));

        let Err(err) = data_channel_init(&DataChannelInit {
            negotiated: Some(true),
            ..Default::default()
        }) else {
            panic!("negotiated without an id must be rejected");
        };
        assert_eq!(err.name, "TypeError");
    }

    #[test]
    fn descriptions_convert_both_ways() {
        let sdp = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n".to_owned();
        let desc = SessionDescription {
            kind: "offer".into(),
            sdp: sdp.clone(),
        };
        let rtc = to_rtc_description(&desc).expect("valid offer");
        assert_eq!(rtc.sdp_type, RTCSdpType::Offer);
        assert_eq!(from_rtc_description(&rtc), desc);

        let bad_kind = SessionDescription {
            kind: "Offer".into(),
            sdp,
        };
        assert_eq!(to_rtc_description(&bad_kind).unwrap_err().name, "TypeError");
    }

    #[test]
    fn empty_mid_is_reported_as_absent() {
        let c = from_rtc_candidate(RTCIceCandidateInit {
            candidate: "candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host".into(),
            sdp_mid: Some(String::new()),
            sdp_mline_index: Some(0),
            username_fragment: None,
            url: None,
        });
        assert_eq!(c.sdp_mid, None);
        assert_eq!(c.sdp_m_line_index, Some(0));
        let back = to_rtc_candidate(&IceCandidate {
            sdp_mid: Some("0".into()),
            ..c
        });
        assert_eq!(back.sdp_mid.as_deref(), Some("0"));
        assert_eq!(back.sdp_mline_index, Some(0));
    }
}
