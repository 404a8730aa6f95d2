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

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Version of this protocol; a peer reports the version it speaks in its [`Hello`].
pub const PROTOCOL_VERSION: u32 = 1;

/// The JSON Schema of a frame the harness sends ([`Request`]), generated from the types and
/// committed as `peers/protocol/schema/request.v{PROTOCOL_VERSION}.schema.json` (a test keeps
/// the file equal to the types).
pub fn request_schema() -> serde_json::Value {
    schemars::schema_for!(Request).to_value()
}

/// The JSON Schema of a frame a peer sends ([`PeerMessage`]: Hello, response, event),
/// committed as `peers/protocol/schema/peer-message.v{PROTOCOL_VERSION}.schema.json`.
pub fn peer_message_schema() -> serde_json::Value {
    schemars::schema_for!(PeerMessage).to_value()
}

/// A command from the harness to a peer, answered by one [`Response`] with the same `id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Request {
    pub id: u64,
    pub command: Command,
}

/// Everything a peer can be asked to do. Mirrors the W3C `RTCPeerConnection` API.
///
/// Every command but [`Command::CreatePeerConnection`] and [`Command::Close`] needs a peer
/// connection: without one a peer answers `InvalidStateError`. That includes
/// [`Command::Echo`] and [`Command::ReceiveBulk`], whose modes belong to the connection and
/// end with it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
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
    /// `pc.localDescription` as it is now: once gathering is complete it carries every
    /// candidate (what a peer without trickle ICE sends). Replies [`Reply::Description`];
    /// fails with `InvalidStateError` when there is no local description.
    GetLocalDescription,
    /// `pc.setLocalDescription({type: "rollback"})`: back to `stable` from `have-local-offer`
    /// (perfect negotiation's polite peer in glare). Replies [`Reply::Done`].
    Rollback,
    /// `pc.restartIce()`: the next offer carries new ICE credentials (ufrag / pwd) and the
    /// peer gathers again. Replies [`Reply::Done`].
    RestartIce,
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
    /// From now on, send every message received on the channel with this label back on the same
    /// channel, unchanged (same type, same bytes), as soon as it arrives. The message is still
    /// reported as [`Event::DataChannelMessage`]. The channel may not exist yet (a remote channel
    /// announced later): the peer remembers the label. Replies [`Reply::Done`].
    Echo { label: String },
    /// Send `bytes` bytes of the [`pattern`] stream with `seed` on the open channel `label`, as
    /// binary messages of `chunk` bytes (the last one shorter), with backpressure: keep queueing
    /// while `bufferedAmount` < `high_water`; otherwise set `bufferedAmountLowThreshold` to
    /// `low_water` and wait for `bufferedamountlow` (or the implementation's equivalent) before
    /// queueing more. Replies [`Reply::Done`] at once and sends in the background; ends with
    /// [`Event::BulkSent`], or [`Event::BulkFailed`] if a send fails.
    SendBulk {
        label: String,
        bytes: u64,
        chunk: u32,
        seed: u32,
        high_water: u64,
        low_water: u64,
    },
    /// From now on, do not report the messages received on the channel `label` one by one:
    /// feed them to one running SHA-256 until `bytes` bytes arrived, then report
    /// [`Event::BulkReceived`]. Like [`Command::Echo`], the channel may not exist yet.
    /// Replies [`Reply::Done`].
    ReceiveBulk { label: String, bytes: u64 },
    /// Add a media transceiver named `name` (the harness's handle for it in later commands).
    ///
    /// Like `pc.addTrack`: when the remote description created a transceiver of this `kind`
    /// whose sender never had a track and that no earlier `add_media` claimed, that transceiver
    /// is reused (the answerer's side of an offered m-line) and its direction set to
    /// `direction`; otherwise `pc.addTransceiver(track or kind, {direction, sendEncodings})`.
    /// A track is attached when `direction` sends (`sendrecv`, `sendonly`): in browsers from
    /// `getUserMedia` fake devices, in the Rust peer from its media files (see its README).
    ///
    /// `codecs` (MIME types in preference order, e.g. `["video/VP9"]`) are forced with
    /// `setCodecPreferences` (plus the retransmission / redundancy entries the implementation
    /// pairs with them); empty keeps the defaults. A codec the implementation cannot use in this
    /// direction fails with `NotSupportedError` whose message lists its capabilities (the
    /// evidence for an `unsupported` outcome). `simulcast` non-empty: send one encoding per
    /// layer (`sendEncodings` with `rid` and `scaleResolutionDownBy`). Replies [`Reply::Done`].
    AddMedia {
        name: String,
        kind: MediaKind,
        /// `sendrecv`, `sendonly`, `recvonly` or `inactive`.
        direction: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        codecs: Vec<String>,
        #[serde(default)]
        source: MediaSource,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        simulcast: Vec<SimulcastLayer>,
    },
    /// `transceiver.direction = direction` on the transceiver `name` (takes effect at the next
    /// negotiation). Replies [`Reply::Done`].
    SetDirection { name: String, direction: String },
    /// `sender.replaceTrack(track)` on the transceiver `name` with a new track from `source`
    /// (no renegotiation). Replies [`Reply::Done`].
    ReplaceTrack { name: String, source: MediaSource },
    /// `pc.removeTrack(sender)` of the transceiver `name` (takes effect at the next
    /// negotiation). Replies [`Reply::Done`].
    RemoveTrack { name: String },
    /// Ask the sender of what the transceiver with this `mid` receives for a keyframe: an
    /// RTCP PLI (or FIR) for the received SSRC(s). By mid, not name: the receiving peer often
    /// did not add the transceiver itself. Browsers have no direct API: a peer without one
    /// fails with `NotSupportedError` saying so. Replies [`Reply::Done`] once the request was
    /// sent.
    RequestKeyFrame { mid: String },
    /// What this peer sends and receives, per transceiver. Replies [`Reply::Media`].
    GetMediaReport,
    /// `pc.close()`. The peer stays connected to the harness and may get a new peer connection.
    Close,
}

impl Command {
    /// Every command `type` of this protocol version, in declaration order. A peer answers a
    /// request whose `type` is not one of them with `NotSupportedError` (a command it does not
    /// know), and a known `type` with fields it cannot read with `BadRequest`.
    pub const KINDS: [&'static str; 23] = [
        "create_peer_connection",
        "create_data_channel",
        "create_offer",
        "create_answer",
        "set_local_description",
        "set_remote_description",
        "get_local_description",
        "rollback",
        "restart_ice",
        "add_ice_candidate",
        "send",
        "close_data_channel",
        "get_stats",
        "echo",
        "send_bulk",
        "receive_bulk",
        "add_media",
        "set_direction",
        "replace_track",
        "remove_track",
        "request_key_frame",
        "get_media_report",
        "close",
    ];

    /// The command's `type` on the wire (`create_offer`, ...), also the key a peer's Hello
    /// uses to declare it unsupported. Read without serialising the command (a `send` can
    /// carry 16 MiB).
    pub fn kind(&self) -> &'static str {
        match self {
            Command::CreatePeerConnection { .. } => "create_peer_connection",
            Command::CreateDataChannel { .. } => "create_data_channel",
            Command::CreateOffer => "create_offer",
            Command::CreateAnswer => "create_answer",
            Command::SetLocalDescription { .. } => "set_local_description",
            Command::SetRemoteDescription { .. } => "set_remote_description",
            Command::GetLocalDescription => "get_local_description",
            Command::Rollback => "rollback",
            Command::RestartIce => "restart_ice",
            Command::AddIceCandidate { .. } => "add_ice_candidate",
            Command::Send { .. } => "send",
            Command::CloseDataChannel { .. } => "close_data_channel",
            Command::GetStats => "get_stats",
            Command::Echo { .. } => "echo",
            Command::SendBulk { .. } => "send_bulk",
            Command::ReceiveBulk { .. } => "receive_bulk",
            Command::AddMedia { .. } => "add_media",
            Command::SetDirection { .. } => "set_direction",
            Command::ReplaceTrack { .. } => "replace_track",
            Command::RemoveTrack { .. } => "remove_track",
            Command::RequestKeyFrame { .. } => "request_key_frame",
            Command::GetMediaReport => "get_media_report",
            Command::Close => "close",
        }
    }
}

/// `audio` or `video`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    Audio,
    Video,
}

impl MediaKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MediaKind::Audio => "audio",
            MediaKind::Video => "video",
        }
    }
}

/// What a sent track carries. Empty: the implementation's default source (video 320x240).
/// Browsers ask `getUserMedia` for this size; the Rust peer plays the media file of this size
/// and fails with `NotSupportedError` when it has none.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MediaSource {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
}

/// One simulcast encoding: `rid` and `scaleResolutionDownBy`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SimulcastLayer {
    pub rid: String,
    pub scale_resolution_down_by: f64,
}

/// The answer to [`Command::GetMediaReport`]: every transceiver of the peer connection, in
/// `pc.getTransceivers()` order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MediaReport {
    pub transceivers: Vec<TransceiverReport>,
}

/// One transceiver: what its sender sent and its receiver received so far. Counters an
/// implementation cannot observe are `None` (never a made-up 0).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TransceiverReport {
    /// `transceiver.mid` (None before negotiation).
    pub mid: Option<String>,
    /// The `name` an [`Command::AddMedia`] on this peer gave it, if any.
    #[serde(default)]
    pub name: Option<String>,
    pub kind: MediaKind,
    /// `transceiver.direction`.
    pub direction: String,
    /// `transceiver.currentDirection`.
    #[serde(default)]
    pub current_direction: Option<String>,
    /// Whether the sender has a track.
    #[serde(default)]
    pub has_track: bool,
    /// One entry per sent RTP stream (one per simulcast layer).
    #[serde(default)]
    pub sent: Vec<SentStream>,
    /// One entry per received RTP stream (SSRC; several for simulcast).
    #[serde(default)]
    pub received: Vec<ReceivedStream>,
}

/// A sent RTP stream (`outbound-rtp` stats, or the Rust peer's own counters).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SentStream {
    pub ssrc: Option<u32>,
    pub rid: Option<String>,
    /// MIME type of the codec in use, e.g. `video/VP8`.
    pub codec: Option<String>,
    pub payload_type: Option<u8>,
    pub packets: u64,
    pub bytes: u64,
    pub frames: Option<u64>,
    pub keyframes: Option<u64>,
    pub frame_width: Option<u32>,
    pub frame_height: Option<u32>,
    pub nack_received: Option<u64>,
    pub pli_received: Option<u64>,
    pub fir_received: Option<u64>,
    pub retransmitted_packets: Option<u64>,
}

/// A received RTP stream (`inbound-rtp` stats plus the video element in browsers; RTP packets
/// and depacketized frames in the Rust peer, which has no decoder).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ReceivedStream {
    pub ssrc: Option<u32>,
    pub rid: Option<String>,
    pub codec: Option<String>,
    pub payload_type: Option<u8>,
    pub packets: u64,
    pub bytes: u64,
    pub packets_lost: Option<i64>,
    /// Frames decoded (browsers: `framesDecoded`) or, in a peer without a decoder, complete
    /// frames depacketized after a valid keyframe.
    pub frames: Option<u64>,
    /// Keyframes decoded (`keyFramesDecoded`) or depacketized keyframes whose codec header is
    /// valid.
    pub keyframes: Option<u64>,
    pub frame_width: Option<u32>,
    pub frame_height: Option<u32>,
    /// `totalAudioEnergy` of an audio receiver.
    pub audio_energy: Option<f64>,
    pub nack_sent: Option<u64>,
    pub pli_sent: Option<u64>,
    pub fir_sent: Option<u64>,
    /// Peer clock (ms) when the first RTP packet / the first decoded (or depacketized) frame
    /// of this stream arrived.
    pub first_packet_t: Option<f64>,
    pub first_frame_t: Option<f64>,
    /// How the peer checked the media itself, e.g. `VP8 keyframe 320x240` or `Opus TOC
    /// config 12 (SILK WB 20 ms)`: what makes `frames` more than a packet count.
    pub evidence: Option<String>,
}

/// The subset of `RTCConfiguration` scenarios use.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
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
    /// `certificates: [await RTCPeerConnection.generateCertificate(keygen)]`: `"ecdsa"` (ECDSA
    /// P-256) or `"rsa"` (RSASSA-PKCS1-v1_5, 2048-bit modulus, SHA-256). `None`: the
    /// implementation's default. A peer that cannot make such a certificate fails with
    /// `NotSupportedError` saying what it can do (the evidence for `unsupported`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<String>,
    /// Not W3C: `Some(true)` gathers host candidates as mDNS `.local` names (RFC 8828 mode 2,
    /// the browsers' default), `Some(false)` as raw IP addresses, `None` the peer's default.
    /// Browsers decide this at launch (a flag / pref the harness sets), so a browser peer
    /// ignores it; the Rust peer applies it to its ICE agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mdns: Option<bool>,
    /// Not W3C: `Some(true)` gathers ICE-TCP candidates (RFC 6544) too. Browsers decide this
    /// themselves (both gather `tcptype active` candidates) and ignore it; the Rust peer, whose
    /// crate gathers no TCP candidate unless told, gathers passive and active ones only then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ice_tcp: Option<bool>,
}

/// One entry of `RTCConfiguration.iceServers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IceServer {
    pub urls: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

/// `RTCDataChannelInit`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionDescription {
    #[serde(rename = "type")]
    pub kind: String,
    pub sdp: String,
}

/// `RTCIceCandidateInit`, with the W3C member names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Payload {
    /// Sent as a text (string) message.
    Text(String),
    /// Sent as a binary message; standard base64 with padding.
    Binary(String),
}

/// What a peer sends to the harness.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
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
    /// What this implementation cannot do or observe at all, as declared by the peer: key
    /// (an [`Event::name`] such as `data_channel_closing`, or a [`Command`] `type`) ->
    /// evidence (why, e.g. "webrtc 0.21.1: RTCDataChannel has no on_closing callback"). The
    /// harness turns a step that needs one of them into the outcome `unsupported` with this
    /// evidence instead of waiting for a timeout.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub unsupported: std::collections::BTreeMap<String, String>,
}

/// A successful response's value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
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
    /// The answer to [`Command::GetMediaReport`].
    Media {
        report: MediaReport,
    },
}

/// A failed command: the DOMException name and its message. Peers use the W3C names
/// (`InvalidStateError`, `OperationError`, `InvalidAccessError` for an unknown channel label,
/// `NotSupportedError` for an unknown command) and `BadRequest` for a request frame they
/// could not parse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PeerError {
    pub name: String,
    pub message: String,
}

/// Events a peer reports, named after the W3C events they mirror.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
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
    /// `datachannel`: the remote side opened an in-band channel. The properties are those of
    /// the new `RTCDataChannel` object, as the remote's DCEP open message set them.
    DataChannel {
        label: String,
        id: Option<u16>,
        protocol: String,
        ordered: bool,
        #[serde(default)]
        max_retransmits: Option<u16>,
        #[serde(default)]
        max_packet_life_time: Option<u16>,
        #[serde(default)]
        negotiated: bool,
    },
    /// `open` on a channel; `id` is the channel's stream id when the implementation exposes it.
    DataChannelOpen {
        label: String,
        #[serde(default)]
        id: Option<u16>,
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
    /// [`Command::SendBulk`] finished: every chunk was handed to `send()`. `elapsed_ms` runs
    /// from the command to the last `send()`; `max_buffered_amount` is the highest
    /// `bufferedAmount` seen (shows the backpressure worked).
    BulkSent {
        label: String,
        bytes: u64,
        messages: u64,
        sha256: String,
        elapsed_ms: f64,
        max_buffered_amount: u64,
    },
    /// [`Command::SendBulk`] stopped: a `send()` failed or the channel closed.
    BulkFailed {
        label: String,
        bytes_sent: u64,
        error: String,
    },
    /// [`Command::ReceiveBulk`] finished: `bytes` bytes in `messages` messages arrived; `sha256`
    /// covers them all in arrival order. `first_t` / `last_t`: peer clock (ms) at the first and
    /// the last message.
    BulkReceived {
        label: String,
        bytes: u64,
        messages: u64,
        sha256: String,
        first_t: f64,
        last_t: f64,
    },
    /// `track`: the remote description added a receiving track on the transceiver `mid`.
    Track {
        mid: Option<String>,
        kind: MediaKind,
    },
    /// Anything worth keeping in the run's log (console errors, warnings from the stack).
    Log {
        level: String,
        message: String,
    },
}

/// A message received on a data channel, reported by digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
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
            Event::BulkSent { .. } => "bulk_sent",
            Event::BulkFailed { .. } => "bulk_failed",
            Event::BulkReceived { .. } => "bulk_received",
            Event::Track { .. } => "track",
            Event::Log { .. } => "log",
        }
    }
}

/// The deterministic byte stream every peer and the harness generate for bulk transfers and
/// seeded payloads: xorshift32 from `0x9E37_79B9 ^ seed` (1 if that is 0), one step per byte,
/// the byte being the top 8 bits of the state. In JavaScript, with `x` kept unsigned:
/// `x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; byte = x >>> 24`.
pub fn pattern(seed: u32, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    let mut gen = Pattern::new(seed);
    gen.fill(&mut out, len);
    out
}

/// The [`pattern`] stream as a generator, for producing it chunk by chunk.
#[derive(Debug, Clone)]
pub struct Pattern {
    x: u32,
}

impl Pattern {
    pub fn new(seed: u32) -> Self {
        let x = 0x9E37_79B9 ^ seed;
        Pattern {
            x: if x == 0 { 1 } else { x },
        }
    }

    /// Appends the next `len` bytes of the stream to `out`.
    pub fn fill(&mut self, out: &mut Vec<u8>, len: usize) {
        out.reserve(len);
        for _ in 0..len {
            let mut x = self.x;
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            self.x = x;
            out.push((x >> 24) as u8);
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn pattern_is_stable_and_chunkable() {
        // Pinned: peers/browser/pure.js implements the same generator; the conformance kit
        // runs the page's self-test against these vectors, and every bulk scenario compares
        // the page's SHA-256 with the harness's own.
        assert_eq!(
            pattern(0, 8),
            [0x51, 0xe0, 0x7b, 0x01, 0xe6, 0xf9, 0xba, 0xfc]
        );
        let whole = pattern(7, 1000);
        let mut gen = Pattern::new(7);
        let mut parts = Vec::new();
        gen.fill(&mut parts, 300);
        gen.fill(&mut parts, 700);
        assert_eq!(whole, parts);
        assert_ne!(pattern(1, 16), pattern(2, 16));
    }

    use super::*;

    #[test]
    fn command_kind_is_its_wire_type() {
        let desc = r#"{"type": "offer", "sdp": "v=0\r\n"}"#;
        let commands = [
            r#"{"type": "create_peer_connection"}"#.to_string(),
            r#"{"type": "create_data_channel", "label": "a"}"#.to_string(),
            r#"{"type": "create_offer"}"#.to_string(),
            r#"{"type": "create_answer"}"#.to_string(),
            r#"{"type": "set_local_description"}"#.to_string(),
            format!(r#"{{"type": "set_remote_description", "description": {desc}}}"#),
            r#"{"type": "get_local_description"}"#.to_string(),
            r#"{"type": "rollback"}"#.to_string(),
            r#"{"type": "restart_ice"}"#.to_string(),
            r#"{"type": "add_ice_candidate"}"#.to_string(),
            r#"{"type": "send", "label": "a", "data": {"text": "x"}}"#.to_string(),
            r#"{"type": "close_data_channel", "label": "a"}"#.to_string(),
            r#"{"type": "get_stats"}"#.to_string(),
            r#"{"type": "echo", "label": "a"}"#.to_string(),
            r#"{"type": "send_bulk", "label": "a", "bytes": 1, "chunk": 1, "seed": 1, "high_water": 1, "low_water": 0}"#.to_string(),
            r#"{"type": "receive_bulk", "label": "a", "bytes": 1}"#.to_string(),
            r#"{"type": "add_media", "name": "m", "kind": "audio", "direction": "sendrecv"}"#.to_string(),
            r#"{"type": "set_direction", "name": "m", "direction": "inactive"}"#.to_string(),
            r#"{"type": "replace_track", "name": "m", "source": {}}"#.to_string(),
            r#"{"type": "remove_track", "name": "m"}"#.to_string(),
            r#"{"type": "request_key_frame", "mid": "0"}"#.to_string(),
            r#"{"type": "get_media_report"}"#.to_string(),
            r#"{"type": "close"}"#.to_string(),
        ];
        assert_eq!(commands.len(), Command::KINDS.len());
        for (json, kind) in commands.iter().zip(Command::KINDS) {
            let command: Command =
                serde_json::from_str(json).unwrap_or_else(|e| panic!("{json}: {e}"));
            let wire = serde_json::to_value(&command).unwrap();
            assert_eq!(wire["type"], command.kind(), "{json}");
            assert_eq!(
                command.kind(),
                kind,
                "KINDS lists the commands in declaration order"
            );
        }
    }

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
                unsupported: Default::default(),
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

    /// The committed schemas are the ones the types generate (`INTEROP_BLESS=1` rewrites
    /// them), and frames of every kind validate against them while wrong ones do not.
    #[test]
    fn committed_json_schemas_match_the_types_and_validate_frames() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schema");
        let request_file = format!("request.v{PROTOCOL_VERSION}.schema.json");
        let message_file = format!("peer-message.v{PROTOCOL_VERSION}.schema.json");
        for (file, schema) in [
            (&request_file, request_schema()),
            (&message_file, peer_message_schema()),
        ] {
            let path = dir.join(file);
            let text = serde_json::to_string_pretty(&schema).unwrap() + "\n";
            if std::env::var("INTEROP_BLESS").is_ok_and(|v| v == "1") {
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(&path, &text).unwrap();
            }
            let committed = std::fs::read_to_string(&path).unwrap_or_default();
            assert!(
                committed == text,
                "{} differs from the schema the types generate: review the change, then run \
                 `INTEROP_BLESS=1 cargo test -p interop-protocol` (and raise PROTOCOL_VERSION \
                 if a peer written against the old one would not understand it)",
                path.display()
            );
        }
        let requests = jsonschema::validator_for(&request_schema()).unwrap();
        let desc = r#"{"type": "offer", "sdp": "v=0\r\n"}"#;
        for command in [
            r#"{"type": "create_peer_connection", "configuration": {"ice_servers": [{"urls": ["turn:127.0.0.1"]}]}}"#.to_string(),
            r#"{"type": "create_data_channel", "label": "a", "init": {"negotiated": true, "id": 7}}"#.to_string(),
            format!(r#"{{"type": "set_remote_description", "description": {desc}}}"#),
            r#"{"type": "set_local_description", "description": null}"#.to_string(),
            r#"{"type": "add_ice_candidate", "candidate": {"candidate": "candidate:1 1 UDP 1 127.0.0.1 9 typ host", "sdpMid": "0"}}"#.to_string(),
            r#"{"type": "send", "label": "a", "data": {"binary": "AAE="}}"#.to_string(),
            r#"{"type": "add_media", "name": "m", "kind": "video", "direction": "sendrecv", "source": {"width": 160, "height": 120}}"#.to_string(),
            r#"{"type": "close"}"#.to_string(),
        ] {
            let frame: serde_json::Value =
                serde_json::from_str(&format!(r#"{{"id": 1, "command": {command}}}"#)).unwrap();
            assert!(requests.is_valid(&frame), "{frame}");
            serde_json::from_value::<Request>(frame).unwrap();
        }
        for wrong in [
            r#"{"id": 1, "command": {"type": "send", "label": 7, "data": {"text": "x"}}}"#,
            r#"{"id": 1, "command": {"type": "explode"}}"#,
            r#"{"id": 1, "command": {"type": "echo", "label": "a", "loud": true}}"#,
            r#"{"id": -1, "command": {"type": "close"}}"#,
            r#"{"command": {"type": "close"}}"#,
        ] {
            let frame: serde_json::Value = serde_json::from_str(wrong).unwrap();
            assert!(!requests.is_valid(&frame), "{wrong} must not validate");
            assert!(serde_json::from_value::<Request>(frame).is_err(), "{wrong}");
        }
        let messages = jsonschema::validator_for(&peer_message_schema()).unwrap();
        for frame in [
            r#"{"kind": "hello", "protocol_version": 1, "implementation": "x", "version": "1.0", "unsupported": {"data_channel_closing": "why"}}"#,
            r#"{"kind": "response", "id": 3, "t": 1.5, "ok": {"type": "data_channel", "label": "a", "id": null}}"#,
            r#"{"kind": "response", "id": 4, "t": 2.0, "error": {"name": "InvalidStateError", "message": "no pc"}}"#,
            r#"{"kind": "response", "id": 5, "t": 2.0, "ok": {"type": "stats", "report": [{"type": "peer-connection", "id": "P", "timestamp": 1.7e12}]}}"#,
            r#"{"kind": "event", "t": 3.0, "event": {"type": "ice_candidate", "candidate": null}}"#,
            r#"{"kind": "event", "t": 3.5, "event": {"type": "data_channel_message", "label": "a", "message": {"binary": false, "size": 2, "sha256": "ab"}}}"#,
            r#"{"kind": "event", "t": 4.0, "event": {"type": "bulk_sent", "label": "b", "bytes": 10, "messages": 1, "sha256": "cd", "elapsed_ms": 1.0, "max_buffered_amount": 10}}"#,
        ] {
            let value: serde_json::Value = serde_json::from_str(frame).unwrap();
            assert!(messages.is_valid(&value), "{frame}");
            serde_json::from_value::<PeerMessage>(value).unwrap();
        }
        for wrong in [
            r#"{"kind": "hello", "implementation": "x", "version": "1.0"}"#,
            r#"{"kind": "event", "t": 1.0, "event": {"type": "ice_candidate", "candidate": "c"}}"#,
            r#"{"kind": "response", "id": 1, "ok": {"type": "done"}}"#,
        ] {
            let value: serde_json::Value = serde_json::from_str(wrong).unwrap();
            assert!(!messages.is_valid(&value), "{wrong} must not validate");
        }
    }

    #[test]
    fn unknown_command_is_rejected() {
        let err = serde_json::from_str::<Request>(r#"{"id":1,"command":{"type":"explode"}}"#);
        assert!(err.is_err());
    }
}
