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
/// events under a timeout.
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
    /// Apply the current local description of the other peer, passed through the harness.
    SetRemoteDescription,
    Send {
        label: String,
        payload: PayloadSpec,
    },
    CloseDataChannel {
        label: String,
    },
    Close,
    GetStats,
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
    /// Wait for a `datachannel` event (a channel the remote side opened in-band).
    ExpectDataChannel {
        label: String,
        timeout: Duration,
    },
    /// Wait for the channel's `open` event.
    ExpectChannelOpen {
        label: String,
        timeout: Duration,
    },
    /// Wait for the next not yet matched message on the channel and check its content.
    ExpectMessage {
        label: String,
        payload: PayloadSpec,
        timeout: Duration,
    },
    /// Wait for the channel's `close` event.
    ExpectChannelClosed {
        label: String,
        timeout: Duration,
    },
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
            | Action::ExpectChannelClosed { timeout, .. } => Some(*timeout),
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
            Action::SetRemoteDescription => write!(f, "set remote description"),
            Action::Send { label, payload } => write!(f, "send {payload} on '{label}'"),
            Action::CloseDataChannel { label } => write!(f, "close data channel '{label}'"),
            Action::Close => write!(f, "close peer connection"),
            Action::GetStats => write!(f, "get stats"),
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
            Action::ExpectMessage { label, payload, .. } => {
                write!(f, "expect {payload} on '{label}'")
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
    /// `bytes` bytes of printable ASCII text.
    GeneratedText { bytes: usize },
    /// `bytes` bytes of binary data covering all byte values.
    Binary { bytes: usize },
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
            PayloadSpec::GeneratedText { bytes } => {
                const ALPHABET: &[u8] =
                    b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:-_!?";
                (0..*bytes)
                    .map(|i| ALPHABET[(i * 7 + i / ALPHABET.len()) % ALPHABET.len()])
                    .collect()
            }
            PayloadSpec::Binary { bytes } => {
                // xorshift32: every byte value appears, no period shorter than the message.
                let mut x: u32 = 0x9E37_79B9;
                (0..*bytes)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 17;
                        x ^= x << 5;
                        (x >> 24) as u8
                    })
                    .collect()
            }
        }
    }
}

impl fmt::Display for PayloadSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PayloadSpec::Text(text) if text.len() <= 24 => write!(f, "text {text:?}"),
            PayloadSpec::Text(text) => write!(f, "text of {} bytes", text.len()),
            PayloadSpec::GeneratedText { bytes } => write!(f, "text of {bytes} bytes"),
            PayloadSpec::Binary { bytes } => write!(f, "binary of {bytes} bytes"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_payloads_have_the_requested_size_and_are_stable() {
        let text = PayloadSpec::GeneratedText { bytes: 70_000 }.bytes();
        assert_eq!(text.len(), 70_000);
        assert!(std::str::from_utf8(&text).is_ok());
        let bin = PayloadSpec::Binary { bytes: 4096 }.bytes();
        assert_eq!(bin.len(), 4096);
        assert_eq!(bin, PayloadSpec::Binary { bytes: 4096 }.bytes());
        let distinct: std::collections::HashSet<u8> = bin.iter().copied().collect();
        assert!(distinct.len() > 250, "binary payload covers byte values");
        assert!(PayloadSpec::Binary { bytes: 0 }.bytes().is_empty());
    }
}
