//! Pass 1: the file as written, deserialized by serde-saphyr into strict raw types.
//!
//! Every struct denies unknown fields. Values that pass 2 checks (names, durations, sizes,
//! states) are kept as `Spanned<String>` so their errors point at them; serde only checks
//! the shape here. Steps are an externally tagged enum (the serde default): `- send: {…}`.
//! No `flatten` / `untagged` / internally tagged enums, which would drop the spans.
//!
//! Top-level keys are optional here so that pass 2 can report every missing one together
//! with the other problems of the file.

use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_saphyr::Spanned;

pub(crate) type SString = Spanned<String>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawScenario {
    pub name: Option<SString>,
    pub feature: Option<SString>,
    pub description: Option<SString>,
    pub peers: Option<Spanned<RawPeers>>,
    pub timeout: Option<SString>,
    /// Read from the tree by `params` before this pass; here only accepted.
    #[allow(dead_code)]
    pub parameters: Option<serde::de::IgnoredAny>,
    pub steps: Option<Spanned<Vec<Spanned<RawStep>>>>,
}

/// `peers:` in file order: `(name, role)`.
#[derive(Debug)]
pub(crate) struct RawPeers(pub Vec<(SString, SString)>);

impl<'de> Deserialize<'de> for RawPeers {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PeersVisitor;
        impl<'de> Visitor<'de> for PeersVisitor {
            type Value = RawPeers;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping of peer names to roles")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawPeers, A::Error> {
                let mut peers = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    peers.push(entry);
                }
                Ok(RawPeers(peers))
            }
        }
        deserializer.deserialize_map(PeersVisitor)
    }
}

/// One step as written. Variant names are the step kinds users write.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RawStep {
    CreatePeerConnection(RawCreatePeerConnection),
    CreateDataChannel(RawCreateDataChannel),
    Negotiate(RawNegotiate),
    CreateOffer(RawPeerOnly),
    CreateAnswer(RawPeerOnly),
    SetLocalDescription(RawSetLocalDescription),
    SetRemoteDescription(RawSetRemoteDescription),
    ExpectConnectionState(RawExpectState),
    ExpectIceConnectionState(RawExpectState),
    ExpectDataChannel(RawExpectDataChannel),
    ExpectDataChannelStats(RawExpectDataChannelStats),
    ExpectChannelOpen(RawExpectChannel),
    Send(RawSend),
    ExpectMessage(RawExpectMessage),
    Echo(RawChannel),
    BulkTransfer(RawBulkTransfer),
    CloseDataChannel(RawChannel),
    ExpectChannelClosing(RawExpectChannel),
    ExpectChannelClosed(RawExpectChannel),
    RequireMaxMessageSize(RawRequireMaxMessageSize),
    CheckStreamIds(RawPeerOnly),
    GetStats(RawPeerOnly),
    Close(RawPeerOnly),
    AddMedia(RawAddMedia),
    SetDirection(RawSetDirection),
    ReplaceTrack(RawReplaceTrack),
    RemoveTrack(RawMediaName),
    RequestKeyFrame(RawMediaTimeout),
    ExpectMedia(RawExpectMedia),
    ExpectNoMedia(RawExpectNoMedia),
    ExpectCurrentDirection(RawExpectCurrentDirection),
    DropPackets(RawDropPackets),
    ExpectRetransmissions(RawMediaTimeout),
    Candidates(RawCandidates),
    ReleaseCandidates(RawReleaseCandidates),
    RestartIce(RawPeerOnly),
    ExpectNewIceCredentials(RawPeerOnly),
    Rollback(RawPeerOnly),
    ExpectSelectedCandidatePair(RawExpectPair),
    ExpectDtlsRole(RawExpectDtlsRole),
    ExpectCertificate(RawExpectCertificate),
    ExpectHostCandidates(RawExpectHostCandidates),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawExpectHostCandidates {
    pub peer: SString,
    pub mdns: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSetLocalDescription {
    pub peer: SString,
    pub setup: Option<SString>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCandidates {
    pub peer: SString,
    pub delivery: Option<SString>,
    pub family: Option<SString>,
    pub protocol: Option<SString>,
    pub end_of_candidates: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawReleaseCandidates {
    pub peer: SString,
    pub order: Option<SString>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawExpectPair {
    pub peer: SString,
    pub local: Option<SString>,
    pub remote: Option<SString>,
    pub protocol: Option<SString>,
    pub family: Option<SString>,
    pub relay_protocol: Option<SString>,
    pub timeout: Option<SString>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawExpectDtlsRole {
    pub peer: SString,
    pub role: SString,
    pub timeout: Option<SString>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawExpectCertificate {
    pub peer: SString,
    pub key: SString,
    pub timeout: Option<SString>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPeerOnly {
    pub peer: SString,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCreatePeerConnection {
    pub peer: SString,
    pub ice_servers: Option<Vec<Spanned<RawIceServer>>>,
    pub ice_transport_policy: Option<SString>,
    pub bundle_policy: Option<SString>,
    pub certificate: Option<SString>,
    pub turn: Option<SString>,
    pub mdns: Option<bool>,
    pub ice_tcp: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawIceServer {
    pub urls: Spanned<Vec<SString>>,
    pub username: Option<String>,
    pub credential: Option<String>,
}

/// `count` is kept as written (pass 2 checks its range) on every step that takes a `label`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCreateDataChannel {
    pub peer: SString,
    pub label: SString,
    pub count: Option<Spanned<u32>>,
    pub ordered: Option<bool>,
    pub max_retransmits: Option<Spanned<u16>>,
    pub max_packet_life_time: Option<Spanned<u16>>,
    pub protocol: Option<SString>,
    pub negotiated: Option<Spanned<bool>>,
    pub id: Option<Spanned<u16>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawNegotiate {
    pub offerer: SString,
    pub answerer: SString,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawExpectState {
    pub peer: SString,
    pub state: SString,
    pub timeout: Option<SString>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSetRemoteDescription {
    pub peer: SString,
    pub max_message_size: Option<SString>,
    pub tamper_fingerprint: Option<bool>,
    pub remove_attribute: Option<SString>,
    pub expect_error: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawChannel {
    pub peer: SString,
    pub label: SString,
    pub count: Option<Spanned<u32>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawExpectChannel {
    pub peer: SString,
    pub label: SString,
    pub count: Option<Spanned<u32>>,
    pub timeout: Option<SString>,
}

/// `expect_data_channel_stats`: the channel's message counters in getStats.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawExpectDataChannelStats {
    pub peer: SString,
    pub label: SString,
    pub messages_sent: Spanned<u64>,
    pub messages_received: Spanned<u64>,
    pub timeout: Option<SString>,
}

/// `expect_data_channel`: the properties given are checked on the announced channel.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawExpectDataChannel {
    pub peer: SString,
    pub label: SString,
    pub count: Option<Spanned<u32>>,
    pub protocol: Option<SString>,
    pub ordered: Option<bool>,
    pub max_retransmits: Option<Spanned<u16>>,
    pub max_packet_life_time: Option<Spanned<u16>>,
    pub id: Option<Spanned<u16>>,
    pub timeout: Option<SString>,
}

/// The payload keys shared by `send` and `expect_message`; exactly one must be set.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSend {
    pub peer: SString,
    pub label: SString,
    pub count: Option<Spanned<u32>>,
    pub text: Option<SString>,
    pub text_bytes: Option<SString>,
    pub binary_bytes: Option<SString>,
    pub expect_error: Option<SString>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawExpectMessage {
    pub peer: SString,
    pub label: SString,
    pub count: Option<Spanned<u32>>,
    pub text: Option<SString>,
    pub text_bytes: Option<SString>,
    pub binary_bytes: Option<SString>,
    pub unordered: Option<bool>,
    pub timeout: Option<SString>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBulkTransfer {
    pub peer: SString,
    pub label: SString,
    pub bytes: SString,
    pub chunk: Option<SString>,
    pub high_water: Option<SString>,
    pub low_water: Option<SString>,
    pub timeout: Option<SString>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRequireMaxMessageSize {
    pub peer: SString,
    pub at_least: SString,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAddMedia {
    pub peer: SString,
    pub name: SString,
    pub kind: SString,
    pub direction: Option<SString>,
    pub codec: Option<SString>,
    pub width: Option<Spanned<u32>>,
    pub height: Option<Spanned<u32>>,
    pub simulcast: Option<Spanned<Vec<Spanned<RawLayer>>>>,
}

/// One simulcast layer: `{ rid: q, scale_down_by: 4 }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLayer {
    pub rid: SString,
    pub scale_down_by: Option<Spanned<f64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSetDirection {
    pub peer: SString,
    pub name: SString,
    pub direction: SString,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawReplaceTrack {
    pub peer: SString,
    pub name: SString,
    pub width: Option<Spanned<u32>>,
    pub height: Option<Spanned<u32>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMediaName {
    pub peer: SString,
    pub name: SString,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMediaTimeout {
    pub peer: SString,
    pub name: SString,
    pub timeout: Option<SString>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawExpectMedia {
    pub peer: SString,
    pub name: SString,
    pub codec: Option<SString>,
    pub frames: Option<Spanned<u64>>,
    pub packets: Option<Spanned<u64>>,
    pub width: Option<Spanned<u32>>,
    pub height: Option<Spanned<u32>>,
    pub layers: Option<Spanned<Vec<SString>>>,
    pub timeout: Option<SString>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawExpectNoMedia {
    pub peer: SString,
    pub name: SString,
    pub during: SString,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawExpectCurrentDirection {
    pub peer: SString,
    pub name: SString,
    pub direction: SString,
    pub timeout: Option<SString>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDropPackets {
    pub peer: SString,
    pub name: SString,
    pub every: Spanned<u32>,
}
