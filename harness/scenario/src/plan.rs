//! The validated plan: what the runner executes. Owns no parsing and no I/O.
//!
//! A [`Scenario`] is produced only by [`crate::load_files`] after every check passed, so the
//! runner can trust it: peer references resolve, labels are known, timeouts are positive.
//! A scenario is implementation-agnostic; the harness's matrix module pairs it with implementations.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use interop_protocol::{DataChannelInit, PeerConnectionConfig};

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
}

/// The role a peer plays in the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Offerer,
    Answerer,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Offerer => "offerer",
            Role::Answerer => "answerer",
        })
    }
}

/// A scenario that passed validation.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// Unique name (the `name:` key, or the file stem).
    pub name: String,
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

/// What a step does. Commands are sent to the peer and must succeed; expectations wait for
/// events under a timeout; requirements and checks look at what the run recorded so far.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    CreatePeerConnection {
        configuration: PeerConnectionConfig,
    },
    CreateDataChannel {
        label: String,
        init: DataChannelInit,
    },
    CreateOffer,
    CreateAnswer,
    /// Apply the description this peer created last.
    SetLocalDescription,
    /// Apply the current local description of the other peer, passed through the harness,
    /// after applying `munge` to it.
    SetRemoteDescription {
        munge: SdpMunge,
    },
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
    /// This peer sends `bytes` bytes of the pattern stream on `label` in `chunk`-byte binary
    /// messages with backpressure (`high_water` / `low_water` on `bufferedAmount`); the other
    /// peer digests what arrives. Passes when the other peer received exactly the stream
    /// (size and SHA-256) within `timeout`.
    BulkTransfer {
        label: String,
        bytes: u64,
        chunk: u32,
        high_water: u64,
        low_water: u64,
        timeout: Duration,
    },
    /// The run needs this peer to accept messages of at least `at_least` bytes: the
    /// `a=max-message-size` of its local description (65536 when absent, unlimited when 0).
    /// If it announces less, the outcome is `unsupported`, with its announcement as evidence.
    RequireMaxMessageSize {
        at_least: u64,
    },
    /// Every data channel stream id this peer saw (its own channels' and those the other peer
    /// announced) is unique and has the parity RFC 8832 prescribes: even for channels created
    /// by the DTLS client, odd for the DTLS server (roles from the SDPs' `a=setup`).
    CheckStreamIds,
    /// Wait until `connectionState` has reached `state`.
    ExpectConnectionState {
        state: String,
        timeout: Duration,
    },
    /// Wait until `iceConnectionState` has reached `state`.
    ExpectIceConnectionState {
        state: String,
        timeout: Duration,
    },
    /// Wait for a `datachannel` event (a channel the remote side opened in-band) and check the
    /// new channel's properties that are given.
    ExpectDataChannel {
        label: String,
        properties: ChannelProperties,
        timeout: Duration,
    },
    /// Wait for the channel's `open` event.
    ExpectChannelOpen {
        label: String,
        timeout: Duration,
    },
    /// Wait for a not yet matched message on the channel and check its content: the next one
    /// in arrival order, or with `any_order` any one with this content.
    ExpectMessage {
        label: String,
        payload: PayloadSpec,
        any_order: bool,
        timeout: Duration,
    },
    /// Wait for the channel's `closing` event (fired when the other side started closing it).
    ExpectChannelClosing {
        label: String,
        timeout: Duration,
    },
    /// Wait for the channel's `close` event.
    ExpectChannelClosed {
        label: String,
        timeout: Duration,
    },
}

/// Changes the harness makes to a session description it passes on (it is the signaling
/// channel). Empty by default: the description passes unchanged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SdpMunge {
    /// Replace (or add) the `a=max-message-size` attribute of the application m-section.
    pub max_message_size: Option<u64>,
}

impl SdpMunge {
    pub fn is_empty(&self) -> bool {
        self.max_message_size.is_none()
    }
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
    /// The timeout of an expectation; `None` for commands (they use the runner's command timeout).
    pub fn timeout(&self) -> Option<Duration> {
        match self {
            Action::ExpectConnectionState { timeout, .. }
            | Action::ExpectIceConnectionState { timeout, .. }
            | Action::ExpectDataChannel { timeout, .. }
            | Action::ExpectChannelOpen { timeout, .. }
            | Action::ExpectMessage { timeout, .. }
            | Action::ExpectChannelClosing { timeout, .. }
            | Action::ExpectChannelClosed { timeout, .. }
            | Action::BulkTransfer { timeout, .. } => Some(*timeout),
            _ => None,
        }
    }
}

impl fmt::Display for Action {
    /// A short human description used in failure reasons and progress output.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::CreatePeerConnection { .. } => write!(f, "create peer connection"),
            Action::CreateDataChannel { label, .. } => write!(f, "create data channel '{label}'"),
            Action::CreateOffer => write!(f, "create offer"),
            Action::CreateAnswer => write!(f, "create answer"),
            Action::SetLocalDescription => write!(f, "set local description"),
            Action::SetRemoteDescription { munge } => match munge.max_message_size {
                Some(size) => write!(f, "set remote description (with a=max-message-size:{size})"),
                None => write!(f, "set remote description"),
            },
            Action::Send {
                label,
                payload,
                expect_error: None,
            } => write!(f, "send {payload} on '{label}'"),
            Action::Send {
                label,
                payload,
                expect_error: Some(error),
            } => write!(f, "send {payload} on '{label}', expecting {error}"),
            Action::CloseDataChannel { label } => write!(f, "close data channel '{label}'"),
            Action::Close => write!(f, "close peer connection"),
            Action::GetStats => write!(f, "get stats"),
            Action::Echo { label } => write!(f, "echo messages on '{label}'"),
            Action::BulkTransfer { label, bytes, .. } => {
                write!(f, "bulk transfer of {bytes} bytes on '{label}'")
            }
            Action::RequireMaxMessageSize { at_least } => {
                write!(f, "require max-message-size >= {at_least}")
            }
            Action::CheckStreamIds => write!(f, "check data channel stream ids"),
            Action::ExpectConnectionState { state, .. } => {
                write!(f, "expect connection state '{state}'")
            }
            Action::ExpectIceConnectionState { state, .. } => {
                write!(f, "expect ICE connection state '{state}'")
            }
            Action::ExpectDataChannel { label, .. } => {
                write!(f, "expect remote data channel '{label}'")
            }
            Action::ExpectChannelOpen { label, .. } => write!(f, "expect channel '{label}' open"),
            Action::ExpectMessage {
                label,
                payload,
                any_order,
                ..
            } => {
                let order = if *any_order { " (any order)" } else { "" };
                write!(f, "expect {payload} on '{label}'{order}")
            }
            Action::ExpectChannelClosing { label, .. } => {
                write!(f, "expect channel '{label}' closing")
            }
            Action::ExpectChannelClosed { label, .. } => {
                write!(f, "expect channel '{label}' closed")
            }
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
