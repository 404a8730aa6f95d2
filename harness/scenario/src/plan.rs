//! The validated plan: what the runner executes. Owns no parsing and no I/O.
//!
//! A [`Scenario`] is produced only by [`crate::load_files`] after every check passed, so the
//! runner can trust it: peer references resolve, labels are known, timeouts are positive.
//! A scenario is implementation-agnostic; the harness's matrix module pairs it with implementations.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use interop_protocol::{
    DataChannelInit, MediaKind, MediaSource, PeerConnectionConfig, SimulcastLayer,
};

/// Index of a peer inside a scenario: [`PeerId::OFFERER`] takes the matrix's offerer column,
/// [`PeerId::ANSWERER`] the answerer column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerId(pub usize);

impl PeerId {
    pub const OFFERER: PeerId = PeerId(0);
    pub const ANSWERER: PeerId = PeerId(1);

    /// The other peer of the pair.
    pub fn other(self) -> PeerId {
        PeerId(1 - self.0)
    }

    /// The role this peer plays in its cell.
    pub fn role(self) -> Role {
        if self == PeerId::OFFERER {
            Role::Offerer
        } else {
            Role::Answerer
        }
    }
}

/// The role a peer plays in the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Offerer,
    Answerer,
}

impl Role {
    /// Both roles, in peer order (`Role::ALL[peer.0]` is `peer.role()`).
    pub const ALL: [Role; 2] = [Role::Offerer, Role::Answerer];

    /// The role's name in records, `observed` keys and timings: `offerer`, `answerer`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Offerer => "offerer",
            Role::Answerer => "answerer",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A scenario that passed validation.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// Unique name: the `name:` key, or the file stem; for a variant of a parameterised
    /// scenario, `base[name=value,...]`.
    pub name: String,
    /// The name without parameters (the same as `name` for a scenario without parameters).
    pub base_name: String,
    /// The parameter values of this variant, in declaration order; empty without parameters.
    pub parameters: Vec<(String, String)>,
    /// Feature group the scenario belongs to (a row group in reports), e.g. `data-channels`.
    pub feature: String,
    pub description: String,
    /// The file it came from, as given to the loader.
    pub path: PathBuf,
    /// The scenario's own names for its peers: `peer_names[0]` is the offerer, `[1]` the answerer.
    pub peer_names: [String; 2],
    pub steps: Vec<Step>,
}

impl Scenario {
    pub fn peer_name(&self, peer: PeerId) -> &str {
        &self.peer_names[peer.0]
    }
}

/// One executable step for one peer. Steps written for `both` peers, and compound steps such as
/// `negotiate`, are already expanded here.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// 1-based line in the scenario file of the step this came from.
    pub line: usize,
    pub peer: PeerId,
    pub action: Action,
}

/// What a step does, by group: a command the peer must carry out, a change in what the harness
/// (the signaling channel and the network between the peers) does, an expectation that waits
/// under its timeout, or an immediate check of what the run recorded so far. Every match on
/// these types is exhaustive, so a step kind nobody wired up does not compile.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Sent to the peer; it must succeed (unless the command itself names the error it expects).
    Command(PeerCommand),
    /// What the harness does between the peers from now on.
    Relay(RelayStep),
    /// Waits until `what` holds, is contradicted, or `timeout` passes.
    Expect {
        what: Expectation,
        timeout: Duration,
    },
    /// Judges what the run recorded so far, without waiting for anything new (beyond the end of
    /// ICE gathering for host candidates).
    Check(Check),
}

/// A command the peer carries out (the W3C API call it stands for in each doc line).
#[derive(Debug, Clone, PartialEq)]
pub enum PeerCommand {
    /// `new RTCPeerConnection(configuration)`. With `turn`, the harness adds its own TURN
    /// server (over `udp` or `tcp`, with per-run credentials) to `iceServers`.
    CreatePeerConnection {
        configuration: PeerConnectionConfig,
        turn: Option<String>,
    },
    CreateDataChannel {
        label: String,
        init: DataChannelInit,
    },
    CreateOffer,
    CreateAnswer,
    /// Apply the description this peer created last; with `setup`, its `a=setup` attributes
    /// replaced first (the DTLS role; the modified description is what is passed on).
    SetLocalDescription {
        setup: Option<String>,
    },
    /// Apply the current local description of the other peer, passed through the harness,
    /// after applying `munge` to it. With `expect_error`, the peer must reject it: the error
    /// it gave is recorded and a description it accepts is a failure.
    SetRemoteDescription {
        munge: SdpMunge,
        expect_error: bool,
    },
    /// `pc.restartIce()`.
    RestartIce,
    /// `pc.setLocalDescription({type: "rollback"})`.
    Rollback,
    /// Send one message. With `expect_error`, the send must fail with that error name
    /// (e.g. `TypeError` for a message above the remote's max-message-size); a send that
    /// succeeds is then a failure.
    Send {
        label: String,
        payload: PayloadSpec,
        expect_error: Option<String>,
    },
    CloseDataChannel {
        label: String,
    },
    Close,
    GetStats,
    /// Make the peer echo every message it receives on the channel back, unchanged.
    Echo {
        label: String,
    },
    /// Add a media transceiver this scenario calls `name` (see
    /// [`interop_protocol::Command::AddMedia`]; the answerer's `add_media` reuses the offered
    /// m-line of the same kind). `codec` (a canonical MIME type such as `video/VP9`) is forced
    /// through codec preferences.
    AddMedia {
        name: String,
        kind: MediaKind,
        direction: String,
        codec: Option<String>,
        source: MediaSource,
        simulcast: Vec<SimulcastLayer>,
    },
    /// `transceiver.direction = direction` (applies at the next negotiation).
    SetDirection {
        name: String,
        direction: String,
    },
    /// `sender.replaceTrack()` with a track from a new source.
    ReplaceTrack {
        name: String,
        source: MediaSource,
    },
    /// `pc.removeTrack(sender)` (applies at the next negotiation).
    RemoveTrack {
        name: String,
    },
}

/// What the harness does between the peers: how it relays this peer's candidates, and what
/// its relay does to this peer's packets.
#[derive(Debug, Clone, PartialEq)]
pub enum RelayStep {
    /// How the harness (the signaling channel) delivers this peer's ICE candidates to the
    /// other peer from now on.
    Candidates(CandidatePolicy),
    /// Deliver the candidates held back since `candidates: { delivery: held }`, in gathering
    /// order or reversed, then trickle again.
    ReleaseCandidates { reverse: bool },
    /// The harness's relay drops every `every`-th RTP packet this peer sends with a payload
    /// type of the m-line of `name` (needs the capture relay; `--capture off` makes the run an
    /// error).
    DropPackets { name: String, every: u32 },
}

/// What an expectation waits for. A missed deadline is `timeout`, a contradiction `fail`, a
/// peer that declared it cannot observe it `unsupported`.
#[derive(Debug, Clone, PartialEq)]
pub enum Expectation {
    /// `connectionState` has reached `state`.
    ConnectionState { state: String },
    /// `iceConnectionState` has reached `state`.
    IceConnectionState { state: String },
    /// A `datachannel` event (a channel the remote side opened in-band), with the new
    /// channel's properties that are given.
    DataChannel {
        label: String,
        properties: ChannelProperties,
    },
    /// This peer's getStats has the `data-channel` stats of `label` with exactly these
    /// `messagesSent` and `messagesReceived` (fewer: pending; more: contradicted).
    DataChannelStats {
        label: String,
        counts: MessageCounts,
    },
    /// The channel's `open` event.
    ChannelOpen { label: String },
    /// A not yet matched message on the channel with this content: the next one in arrival
    /// order, or with `any_order` any one with this content.
    Message {
        label: String,
        payload: PayloadSpec,
        any_order: bool,
    },
    /// The channel's `closing` event (fired when the other side started closing it).
    ChannelClosing { label: String },
    /// The channel's `close` event.
    ChannelClosed { label: String },
    /// This peer's getStats shows a selected candidate pair matching `want`; the pair is
    /// recorded in the results either way.
    SelectedCandidatePair { want: PairExpectation },
    /// This peer's DTLS role (`client` or `server`), from its transport stats, or else from
    /// the wire (who sent the ClientHello, seen by the capture relay).
    DtlsRole { role: String },
    /// This peer presents a certificate with a `key` (`ecdsa` / `rsa`) public key, as its
    /// own or the other peer's certificate stats show it.
    Certificate { key: String },
    /// This peer sends a bulk transfer ([`Bulk`]); the other peer digests what arrives. Met
    /// when the other peer received exactly the stream (size and SHA-256).
    BulkTransfer(Bulk),
    /// This peer's receiver of `name` asks the sender for a keyframe (RTCP PLI/FIR). Met when
    /// a keyframe arrives after the request and the sender counted the request, where it
    /// reports such counters.
    KeyFrameAfterRequest { name: String },
    /// This peer receives media on the transceiver `name` as `expect` says.
    Media {
        name: String,
        expect: MediaExpectation,
    },
    /// This peer receives no RTP on the transceiver `name` for the whole timeout (packet
    /// counters do not move).
    NoMedia { name: String },
    /// This peer's transceiver `name` has the `currentDirection` `direction` (negotiated: set
    /// when the answer was applied). Another negotiated value contradicts it.
    CurrentDirection { name: String, direction: String },
    /// This peer lost packets on `name` (see `drop_packets`) and got them back: the relay saw
    /// the sender retransmit (RTX payload type or a repeated sequence number), and the NACK
    /// counters of both peers moved where they report them.
    Retransmissions { name: String },
}

/// A check of what the run recorded so far.
#[derive(Debug, Clone, PartialEq)]
pub enum Check {
    /// This peer's current local description has ICE credentials (ufrag and pwd) different
    /// from those of its first one.
    NewIceCredentials,
    /// Once this peer's gathering is complete: with `mdns`, at least one of its host
    /// candidates is an mDNS `.local` name (the mode is in effect); without, none is.
    HostCandidates { mdns: bool },
    /// The run needs this peer to accept messages of at least `at_least` bytes: the
    /// `a=max-message-size` of its local description (65536 when absent, unlimited when 0).
    /// If it announces less, the outcome is `unsupported`, with its announcement as evidence.
    MaxMessageSize { at_least: u64 },
    /// Every data channel stream id this peer saw (its own channels' and those the other peer
    /// announced) is unique and has the parity RFC 8832 prescribes: even for channels created
    /// by the DTLS client, odd for the DTLS server (roles from the SDPs' `a=setup`).
    StreamIds,
}

/// What `expect_media` requires of the received streams of a transceiver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaExpectation {
    /// The codec every received stream must use (canonical MIME type).
    pub codec: Option<String>,
    /// Video: at least this many frames decoded (browsers) / depacketized after a valid
    /// keyframe (the Rust peer) on each stream. 0 for audio.
    pub frames: u64,
    /// At least this many RTP packets on each stream.
    pub packets: u64,
    /// The current frame size of each stream, when given.
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// Simulcast: one received stream per rid, each meeting the minimums.
    pub layers: Vec<String>,
}

/// Default minimums of `expect_media`: about one second of media.
pub const DEFAULT_VIDEO_FRAMES: u64 = 15;
pub const DEFAULT_AUDIO_PACKETS: u64 = 50;
/// Video packets required by default (a frame needs at least one).
pub const DEFAULT_VIDEO_PACKETS: u64 = 15;

/// Changes the harness makes to a session description it passes on (it is the signaling
/// channel). Empty by default: the description passes unchanged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SdpMunge {
    /// Replace (or add) the `a=max-message-size` attribute of the application m-section.
    pub max_message_size: Option<u64>,
    /// Change every `a=fingerprint` hash (one byte flipped) so that it no longer matches the
    /// sender's certificate: DTLS must then fail.
    pub tamper_fingerprint: bool,
    /// Remove every `a=<name>` / `a=<name>:…` line (session and media level).
    pub remove_attribute: Option<String>,
}

impl SdpMunge {
    pub fn is_empty(&self) -> bool {
        self.max_message_size.is_none()
            && !self.tamper_fingerprint
            && self.remove_attribute.is_none()
    }
}

/// How the harness delivers one peer's ICE candidates (see [`RelayStep::Candidates`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CandidatePolicy {
    pub delivery: Delivery,
    /// Only candidates of this address family (`ipv4` / `ipv6`) are delivered.
    pub family: Option<String>,
    /// Only candidates of this transport (`udp` / `tcp`) are delivered.
    pub protocol: Option<String>,
    /// Relay the end of candidates (the peer's null candidate) as `addIceCandidate()`.
    pub end_of_candidates: bool,
}

/// When candidates reach the other peer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Delivery {
    /// Each one as it is gathered (trickle ICE), once the other peer has a remote description.
    #[default]
    Trickle,
    /// None trickled: the description passed on is fetched once gathering is complete and
    /// carries every candidate (vanilla ICE).
    Sdp,
    /// Held back until `release_candidates`; descriptions pass without candidates.
    Held,
}

impl Delivery {
    pub fn as_str(self) -> &'static str {
        match self {
            Delivery::Trickle => "trickle",
            Delivery::Sdp => "sdp",
            Delivery::Held => "held",
        }
    }
}

/// What `expect_selected_candidate_pair` requires; `None` is not checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PairExpectation {
    /// Candidate type of the local / remote candidate: host, srflx, prflx, relay.
    pub local: Option<String>,
    pub remote: Option<String>,
    /// Transport of the pair: udp / tcp.
    pub protocol: Option<String>,
    /// Address family of the local candidate: ipv4 / ipv6.
    pub family: Option<String>,
    /// For a relay local candidate: how the peer reaches its TURN server (udp / tcp / tls).
    pub relay_protocol: Option<String>,
}

/// Properties of a remotely announced data channel to check; `None` is not checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChannelProperties {
    pub protocol: Option<String>,
    pub ordered: Option<bool>,
    pub max_retransmits: Option<u16>,
    pub max_packet_life_time: Option<u16>,
    pub id: Option<u16>,
}

impl Action {
    /// The timeout of an expectation; `None` for commands (they use the runner's command
    /// timeout) and checks.
    pub fn timeout(&self) -> Option<Duration> {
        match self {
            Action::Expect { timeout, .. } => Some(*timeout),
            Action::Command(_) | Action::Relay(_) | Action::Check(_) => None,
        }
    }
}

impl fmt::Display for Action {
    /// A short human description used in failure reasons and progress output.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Command(command) => command.fmt(f),
            Action::Relay(step) => step.fmt(f),
            // The only expectation whose description is its duration.
            Action::Expect {
                what: Expectation::NoMedia { name },
                timeout,
            } => write!(
                f,
                "expect no media on '{name}' for {} ms",
                timeout.as_millis()
            ),
            Action::Expect { what, .. } => what.fmt(f),
            Action::Check(check) => check.fmt(f),
        }
    }
}

impl fmt::Display for PeerCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeerCommand::CreatePeerConnection { .. } => write!(f, "create peer connection"),
            PeerCommand::CreateDataChannel { label, .. } => {
                write!(f, "create data channel '{label}'")
            }
            PeerCommand::CreateOffer => write!(f, "create offer"),
            PeerCommand::CreateAnswer => write!(f, "create answer"),
            PeerCommand::SetLocalDescription { setup: None } => write!(f, "set local description"),
            PeerCommand::SetLocalDescription { setup: Some(s) } => {
                write!(f, "set local description (with a=setup:{s})")
            }
            PeerCommand::SetRemoteDescription {
                munge,
                expect_error,
            } => {
                write!(f, "set remote description")?;
                let mut changes = Vec::new();
                if let Some(size) = munge.max_message_size {
                    changes.push(format!("a=max-message-size:{size}"));
                }
                if munge.tamper_fingerprint {
                    changes.push("a tampered a=fingerprint".to_owned());
                }
                if let Some(name) = &munge.remove_attribute {
                    changes.push(format!("no a={name}"));
                }
                if !changes.is_empty() {
                    write!(f, " (with {})", changes.join(", "))?;
                }
                if *expect_error {
                    write!(f, ", expecting a rejection")?;
                }
                Ok(())
            }
            PeerCommand::RestartIce => write!(f, "restart ICE"),
            PeerCommand::Rollback => write!(f, "roll back the local offer"),
            PeerCommand::Send {
                label,
                payload,
                expect_error: None,
            } => write!(f, "send {payload} on '{label}'"),
            PeerCommand::Send {
                label,
                payload,
                expect_error: Some(error),
            } => write!(f, "send {payload} on '{label}', expecting {error}"),
            PeerCommand::CloseDataChannel { label } => write!(f, "close data channel '{label}'"),
            PeerCommand::Close => write!(f, "close peer connection"),
            PeerCommand::GetStats => write!(f, "get stats"),
            PeerCommand::Echo { label } => write!(f, "echo messages on '{label}'"),
            PeerCommand::AddMedia {
                name,
                kind,
                direction,
                codec,
                simulcast,
                ..
            } => {
                write!(f, "add {} '{name}' ({direction}", kind.as_str())?;
                if let Some(codec) = codec {
                    write!(f, ", {codec}")?;
                }
                if !simulcast.is_empty() {
                    write!(f, ", simulcast x{}", simulcast.len())?;
                }
                write!(f, ")")
            }
            PeerCommand::SetDirection { name, direction } => {
                write!(f, "set direction of '{name}' to {direction}")
            }
            PeerCommand::ReplaceTrack { name, .. } => write!(f, "replace the track of '{name}'"),
            PeerCommand::RemoveTrack { name } => write!(f, "remove the track of '{name}'"),
        }
    }
}

impl fmt::Display for RelayStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RelayStep::Candidates(policy) => {
                write!(f, "deliver candidates: {}", policy.delivery.as_str())?;
                if let Some(family) = &policy.family {
                    write!(f, ", {family} only")?;
                }
                if let Some(protocol) = &policy.protocol {
                    write!(f, ", {protocol} only")?;
                }
                if policy.end_of_candidates {
                    write!(f, ", with end-of-candidates")?;
                }
                Ok(())
            }
            RelayStep::ReleaseCandidates { reverse: false } => write!(f, "release held candidates"),
            RelayStep::ReleaseCandidates { reverse: true } => {
                write!(f, "release held candidates in reverse order")
            }
            RelayStep::DropPackets { name, every } => {
                write!(f, "drop every {every}th RTP packet sent on '{name}'")
            }
        }
    }
}

/// `bytes` bytes of the pattern stream sent on `label` in `chunk`-byte binary messages, with
/// backpressure: the sender stops while `bufferedAmount` is at or above `high_water` and
/// resumes once it fell to `low_water`.
#[derive(Debug, Clone, PartialEq)]
pub struct Bulk {
    pub label: String,
    pub bytes: u64,
    pub chunk: u32,
    pub high_water: u64,
    pub low_water: u64,
}

/// A data channel's message counters (`RTCDataChannelStats` `messagesSent`,
/// `messagesReceived`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageCounts {
    pub sent: u64,
    pub received: u64,
}

impl fmt::Display for Expectation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expectation::ConnectionState { state } => {
                write!(f, "expect connection state '{state}'")
            }
            Expectation::IceConnectionState { state } => {
                write!(f, "expect ICE connection state '{state}'")
            }
            Expectation::DataChannel { label, .. } => {
                write!(f, "expect remote data channel '{label}'")
            }
            Expectation::DataChannelStats { label, counts } => write!(
                f,
                "expect getStats of '{label}': {} messages sent, {} received",
                counts.sent, counts.received
            ),
            Expectation::ChannelOpen { label } => write!(f, "expect channel '{label}' open"),
            Expectation::Message {
                label,
                payload,
                any_order,
            } => {
                let order = if *any_order { " (any order)" } else { "" };
                write!(f, "expect {payload} on '{label}'{order}")
            }
            Expectation::ChannelClosing { label } => write!(f, "expect channel '{label}' closing"),
            Expectation::ChannelClosed { label } => write!(f, "expect channel '{label}' closed"),
            Expectation::SelectedCandidatePair { want } => {
                write!(f, "expect selected candidate pair")?;
                let parts: Vec<String> = [
                    want.local.as_ref().map(|v| format!("local {v}")),
                    want.remote.as_ref().map(|v| format!("remote {v}")),
                    want.protocol.clone(),
                    want.family.clone(),
                    want.relay_protocol
                        .as_ref()
                        .map(|v| format!("TURN over {v}")),
                ]
                .into_iter()
                .flatten()
                .collect();
                if !parts.is_empty() {
                    write!(f, " ({})", parts.join(", "))?;
                }
                Ok(())
            }
            Expectation::DtlsRole { role } => write!(f, "expect DTLS role {role}"),
            Expectation::Certificate { key } => write!(f, "expect a certificate with an {key} key"),
            Expectation::BulkTransfer(Bulk { label, bytes, .. }) => {
                write!(f, "bulk transfer of {bytes} bytes on '{label}'")
            }
            Expectation::KeyFrameAfterRequest { name } => {
                write!(f, "request a keyframe on '{name}'")
            }
            Expectation::Media { name, expect } => {
                write!(f, "expect media on '{name}'")?;
                if let Some(codec) = &expect.codec {
                    write!(f, " ({codec})")?;
                }
                Ok(())
            }
            Expectation::NoMedia { name } => write!(f, "expect no media on '{name}'"),
            Expectation::CurrentDirection { name, direction } => {
                write!(f, "expect the current direction {direction} on '{name}'")
            }
            Expectation::Retransmissions { name } => {
                write!(f, "expect retransmissions on '{name}'")
            }
        }
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Check::NewIceCredentials => write!(f, "expect new ICE credentials"),
            Check::HostCandidates { mdns: true } => write!(f, "expect mDNS host candidates"),
            Check::HostCandidates { mdns: false } => {
                write!(f, "expect host candidates with IP addresses")
            }
            Check::MaxMessageSize { at_least } => {
                write!(f, "require max-message-size >= {at_least}")
            }
            Check::StreamIds => write!(f, "check data channel stream ids"),
        }
    }
}

/// The content of a data channel message, generated deterministically so that sender and
/// checker agree without storing payloads in scenario files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayloadSpec {
    /// This exact text.
    Text(String),
    /// `bytes` bytes of printable ASCII text; different seeds give different texts.
    GeneratedText { bytes: usize, seed: u32 },
    /// `bytes` bytes of binary data covering all byte values: the protocol's
    /// [`interop_protocol::pattern`] stream with this seed.
    Binary { bytes: usize, seed: u32 },
}

impl PayloadSpec {
    /// Whether the message is sent as binary.
    pub fn is_binary(&self) -> bool {
        matches!(self, PayloadSpec::Binary { .. })
    }

    /// The exact bytes of the message.
    pub fn bytes(&self) -> Vec<u8> {
        match self {
            PayloadSpec::Text(text) => text.as_bytes().to_vec(),
            PayloadSpec::GeneratedText { bytes, seed } => {
                const ALPHABET: &[u8] =
                    b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:-_!?";
                let seed = *seed as usize;
                (0..*bytes)
                    .map(|i| ALPHABET[(i * 7 + i / ALPHABET.len() + seed) % ALPHABET.len()])
                    .collect()
            }
            // xorshift32: every byte value appears, no period shorter than the message.
            PayloadSpec::Binary { bytes, seed } => interop_protocol::pattern(*seed, *bytes),
        }
    }
}

impl fmt::Display for PayloadSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PayloadSpec::Text(text) if text.len() <= 24 => write!(f, "text {text:?}"),
            PayloadSpec::Text(text) => write!(f, "text of {} bytes", text.len()),
            PayloadSpec::GeneratedText { bytes, seed: 0 } => write!(f, "text of {bytes} bytes"),
            PayloadSpec::GeneratedText { bytes, seed } => {
                write!(f, "text of {bytes} bytes (seed {seed})")
            }
            PayloadSpec::Binary { bytes, seed: 0 } => write!(f, "binary of {bytes} bytes"),
            PayloadSpec::Binary { bytes, seed } => {
                write!(f, "binary of {bytes} bytes (seed {seed})")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_payloads_have_the_requested_size_and_are_stable() {
        let text = PayloadSpec::GeneratedText {
            bytes: 70_000,
            seed: 0,
        }
        .bytes();
        assert_eq!(text.len(), 70_000);
        assert!(std::str::from_utf8(&text).is_ok());
        let bin = PayloadSpec::Binary {
            bytes: 4096,
            seed: 0,
        }
        .bytes();
        assert_eq!(bin.len(), 4096);
        assert_eq!(
            bin,
            PayloadSpec::Binary {
                bytes: 4096,
                seed: 0
            }
            .bytes()
        );
        assert_ne!(
            bin,
            PayloadSpec::Binary {
                bytes: 4096,
                seed: 1
            }
            .bytes()
        );
        let distinct: std::collections::HashSet<u8> = bin.iter().copied().collect();
        assert!(distinct.len() > 250, "binary payload covers byte values");
        assert!(PayloadSpec::Binary { bytes: 0, seed: 0 }.bytes().is_empty());
    }
}
