//! The peer-control protocol: the one language every peer implementation speaks.
//!
//! The harness drives a peer (the Rust peer process, a browser page, a future external peer) by
//! sending [`Request`]s and receives [`PeerMessage`]s back. The runner never knows which
//! implementation is on the other end except through the [`Hello`] a peer sends first.
//!
//! Transport: JSON text frames over a WebSocket that the **peer** opens to the harness at
//! `ws://HOST:PORT/control?slot=SLOT&token=TOKEN` (one connection per peer). The first frame a
//! peer sends is [`PeerMessage::Hello`]. After that the harness sends requests, each answered by
//! exactly one [`PeerMessage::Response`] with the same `id`; [`PeerMessage::Event`]s arrive at
//! any time, in the order the peer observed them.
//!
//! Time: every response and event carries `t`, milliseconds on **the peer's own clock**
//! (`performance.now()` in a page, a monotonic `Instant` in Rust) since the peer started. The
//! harness only ever subtracts two `t`s of the same peer, so clocks of different peers never mix.
//!
//! Payloads: messages a peer *receives* on a data channel are reported by size and SHA-256, so
//! the harness checks content without shipping large payloads back. Messages the harness asks a
//! peer to *send* carry their bytes (text as-is, binary as base64).
//!
//! ```text
//!  harness                                   peer
//!     |  <-------- Hello {implementation} ------  |
//!     |  --- Request {id:1, CreatePeerConnection} |
//!     |  <-------- Response {id:1, t, Ok} -------  |
//!     |  <-------- Event {t, IceCandidate} ------  |   (any time)
//! ```

use serde::{Deserialize, Serialize};

/// Version of this protocol; a peer reports the version it speaks in its [`Hello`].
pub const PROTOCOL_VERSION: u32 = 1;

/// A command from the harness to a peer, answered by one [`Response`] with the same `id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    pub id: u64,
    pub command: Command,
}

/// Everything a peer can be asked to do. Mirrors the W3C `RTCPeerConnection` API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Command {
    /// `new RTCPeerConnection(configuration)`. A peer holds at most one peer connection.
    CreatePeerConnection {
        #[serde(default)]
        configuration: PeerConnectionConfig,
    },
    /// `pc.createDataChannel(label, init)`. Replies [`Reply::DataChannel`].
    CreateDataChannel {
        label: String,
        #[serde(default)]
        init: DataChannelInit,
    },
    /// `pc.createOffer()`. Replies [`Reply::Description`].
    CreateOffer,
    /// `pc.createAnswer()`. Replies [`Reply::Description`].
    CreateAnswer,
    /// `pc.setLocalDescription(description)`; with `None`, the description last created by
    /// `create_offer` / `create_answer` on this peer. Replies [`Reply::Description`] with the
    /// local description now in effect (it may hold candidates gathered so far).
    SetLocalDescription {
        #[serde(default)]
        description: Option<SessionDescription>,
    },
    /// `pc.setRemoteDescription(description)`.
    SetRemoteDescription { description: SessionDescription },
    /// `pc.addIceCandidate(candidate)`; `None` signals end-of-candidates.
    AddIceCandidate {
        #[serde(default)]
        candidate: Option<IceCandidate>,
    },
    /// `channel.send(data)` on the open channel with this label.
    Send { label: String, data: Payload },
    /// `channel.close()` on the channel with this label.
    CloseDataChannel { label: String },
    /// `pc.getStats()`. Replies [`Reply::Stats`].
    GetStats,
    /// `pc.close()`. The peer stays connected to the harness and may get a new peer connection.
    Close,
}

/// The subset of `RTCConfiguration` scenarios use.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerConnectionConfig {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ice_servers: Vec<IceServer>,
    /// `"all"` (default) or `"relay"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ice_transport_policy: Option<String>,
    /// `"balanced"`, `"max-compat"` or `"max-bundle"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle_policy: Option<String>,
}

/// One entry of `RTCConfiguration.iceServers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IceServer {
    pub urls: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

/// `RTCDataChannelInit`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataChannelInit {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ordered: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_retransmits: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_packet_life_time: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub negotiated: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u16>,
}

/// `RTCSessionDescriptionInit`: `type` is `"offer"`, `"answer"`, `"pranswer"` or `"rollback"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionDescription {
    #[serde(rename = "type")]
    pub kind: String,
    pub sdp: String,
}

/// `RTCIceCandidateInit`, with the W3C member names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IceCandidate {
    pub candidate: String,
    #[serde(rename = "sdpMid", default, skip_serializing_if = "Option::is_none")]
    pub sdp_mid: Option<String>,
    #[serde(
        rename = "sdpMLineIndex",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub sdp_m_line_index: Option<u16>,
    #[serde(
        rename = "usernameFragment",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub username_fragment: Option<String>,
}

/// Bytes for a peer to send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Payload {
    /// Sent as a text (string) message.
    Text(String),
    /// Sent as a binary message; standard base64 with padding.
    Binary(String),
}

/// What a peer sends to the harness.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum PeerMessage {
    /// The first message on a connection.
    Hello(Hello),
    /// The answer to the request with the same `id`.
    Response {
        id: u64,
        /// Peer clock, ms.
        t: f64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ok: Option<Reply>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<PeerError>,
    },
    /// Something the peer observed.
    Event {
        /// Peer clock, ms.
        t: f64,
        event: Event,
    },
}

/// Who the peer is. Versions are reported by the peer itself, never assumed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hello {
    pub protocol_version: u32,
    /// Short implementation name: `rust`, `chrome`, `firefox`...
    pub implementation: String,
    /// The implementation's exact version (browser build, or the `webrtc` crate version).
    pub version: String,
    /// Free-form detail: a user agent string, a crate list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// A successful response's value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Reply {
    Done,
    Description {
        description: SessionDescription,
    },
    DataChannel {
        label: String,
        id: Option<u16>,
    },
    /// The `getStats()` report as a list of stats objects.
    Stats {
        report: serde_json::Value,
    },
}

/// A failed command: the DOMException name and its message. Peers use the W3C names
/// (`InvalidStateError`, `OperationError`, `InvalidAccessError` for an unknown channel label,
/// `NotSupportedError` for an unknown command) and `BadRequest` for a request frame they
/// could not parse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerError {
    pub name: String,
    pub message: String,
}

/// Events a peer reports, named after the W3C events they mirror.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Event {
    /// `icecandidate`; `None` is the end-of-candidates (null candidate / gathering complete).
    IceCandidate {
        candidate: Option<IceCandidate>,
    },
    IceGatheringStateChange {
        state: String,
    },
    IceConnectionStateChange {
        state: String,
    },
    ConnectionStateChange {
        state: String,
    },
    SignalingStateChange {
        state: String,
    },
    /// `datachannel`: the remote side opened an in-band channel.
    DataChannel {
        label: String,
        id: Option<u16>,
        protocol: String,
        ordered: bool,
    },
    DataChannelOpen {
        label: String,
    },
    DataChannelMessage {
        label: String,
        message: ReceivedMessage,
    },
    DataChannelClosing {
        label: String,
    },
    DataChannelClose {
        label: String,
    },
    DataChannelError {
        label: String,
        message: String,
    },
    /// Anything worth keeping in the run's log (console errors, warnings from the stack).
    Log {
        level: String,
        message: String,
    },
}

/// A message received on a data channel, reported by digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceivedMessage {
    /// `true` for a binary message, `false` for text.
    pub binary: bool,
    /// Size in bytes (UTF-8 bytes for text).
    pub size: u64,
    /// Lowercase hex SHA-256 of the bytes.
    pub sha256: String,
}

impl Event {
    /// The event's `type` name as it appears on the wire.
    pub fn name(&self) -> &'static str {
        match self {
            Event::IceCandidate { .. } => "ice_candidate",
            Event::IceGatheringStateChange { .. } => "ice_gathering_state_change",
            Event::IceConnectionStateChange { .. } => "ice_connection_state_change",
            Event::ConnectionStateChange { .. } => "connection_state_change",
            Event::SignalingStateChange { .. } => "signaling_state_change",
            Event::DataChannel { .. } => "data_channel",
            Event::DataChannelOpen { .. } => "data_channel_open",
            Event::DataChannelMessage { .. } => "data_channel_message",
            Event::DataChannelClosing { .. } => "data_channel_closing",
            Event::DataChannelClose { .. } => "data_channel_close",
            Event::DataChannelError { .. } => "data_channel_error",
            Event::Log { .. } => "log",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_wire_format_is_stable() {
        let req = Request {
            id: 7,
            command: Command::CreateDataChannel {
                label: "echo".into(),
                init: DataChannelInit {
                    ordered: Some(false),
                    max_retransmits: Some(0),
                    ..Default::default()
                },
            },
        };
        let json = serde_json::to_string(&req).unwrap();
        assert_eq!(
            json,
            r#"{"id":7,"command":{"type":"create_data_channel","label":"echo","init":{"ordered":false,"max_retransmits":0}}}"#
        );
        assert_eq!(serde_json::from_str::<Request>(&json).unwrap(), req);
    }

    #[test]
    fn peer_messages_round_trip() {
        let msgs = [
            PeerMessage::Hello(Hello {
                protocol_version: PROTOCOL_VERSION,
                implementation: "chrome".into(),
                version: "156.0".into(),
                detail: None,
            }),
            PeerMessage::Response {
                id: 1,
                t: 12.5,
                ok: Some(Reply::Done),
                error: None,
            },
            PeerMessage::Event {
                t: 20.0,
                event: Event::IceCandidate { candidate: None },
            },
            PeerMessage::Event {
                t: 21.0,
                event: Event::DataChannelMessage {
                    label: "x".into(),
                    message: ReceivedMessage {
                        binary: true,
                        size: 3,
                        sha256: "ab".into(),
                    },
                },
            },
        ];
        for m in msgs {
            let json = serde_json::to_string(&m).unwrap();
            assert_eq!(
                serde_json::from_str::<PeerMessage>(&json).unwrap(),
                m,
                "{json}"
            );
        }
    }

    #[test]
    fn unknown_command_is_rejected() {
        let err = serde_json::from_str::<Request>(r#"{"id":1,"command":{"type":"explode"}}"#);
        assert!(err.is_err());
    }
}
