//! What the `webrtc` crate reports, turned into protocol [`Event`]s: the peer connection's
//! callbacks ([`EventHandler`]) and one task per data channel polling `DataChannel::poll()`
//! ([`watch_channel`]). Data channels are tracked by label in [`Channels`] so `send` /
//! `close_data_channel` commands can find them, whichever side opened them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Instant;

use interop_protocol::{Event, ReceivedMessage};
use sha2::{Digest, Sha256};
use webrtc::data_channel::{DataChannel, DataChannelEvent, RTCDataChannelMessage};
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionEventHandler, RTCIceConnectionState, RTCIceGatheringState,
    RTCPeerConnectionIceEvent, RTCPeerConnectionState, RTCSignalingState, RTCStatsReportEntry,
    StatsSelector,
};

use crate::outbox::Outbox;
use crate::w3c;

/// The data channels of one peer connection, by label. Labels need not be unique in WebRTC;
/// the most recent channel with a label wins, which is what a scenario addressing channels by
/// label can mean.
#[derive(Clone, Default)]
pub struct Channels(Arc<Mutex<HashMap<String, Arc<dyn DataChannel>>>>);

impl Channels {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<dyn DataChannel>>> {
        // A panic while holding this lock cannot leave the map inconsistent.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn insert(&self, label: &str, channel: Arc<dyn DataChannel>) {
        self.lock().insert(label.to_owned(), channel);
    }

    pub fn get(&self, label: &str) -> Option<Arc<dyn DataChannel>> {
        self.lock().get(label).cloned()
    }

    /// Forgets `channel` if it is still the one registered under `label`.
    fn remove(&self, label: &str, channel: &Arc<dyn DataChannel>) {
        let mut map = self.lock();
        if map.get(label).is_some_and(|c| Arc::ptr_eq(c, channel)) {
            map.remove(label);
        }
    }

    pub fn clear(&self) {
        self.lock().clear();
    }
}

/// Set once the peer connection is built; lets the handler reach the connection it belongs to
/// without keeping it alive.
pub type PeerConnectionSlot = Arc<OnceLock<Weak<dyn PeerConnection>>>;

/// The peer connection's event callbacks. They run on the `webrtc` driver task, so each one
/// only queues an event (or spawns a task) and returns at once.
pub struct EventHandler {
    pub outbox: Outbox,
    pub channels: Channels,
    pub peer_connection: PeerConnectionSlot,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for EventHandler {
    async fn on_ice_candidate(&self, event: RTCPeerConnectionIceEvent) {
        match event.candidate.to_json() {
            Ok(init) => self.outbox.event(Event::IceCandidate {
                candidate: Some(w3c::from_rtc_candidate(init)),
            }),
            Err(e) => self.outbox.log(
                "warn",
                format!("local candidate {} not serializable: {e}", event.candidate),
            ),
        }
    }

    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        self.outbox.event(Event::IceGatheringStateChange {
            state: w3c::ice_gathering_state(state),
        });
        // The crate has no null candidate; W3C fires one right after gathering completes.
        if state == RTCIceGatheringState::Complete {
            self.outbox.event(Event::IceCandidate { candidate: None });
        }
    }

    async fn on_ice_connection_state_change(&self, state: RTCIceConnectionState) {
        self.outbox.event(Event::IceConnectionStateChange {
            state: w3c::ice_connection_state(state),
        });
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        self.outbox.event(Event::ConnectionStateChange {
            state: w3c::peer_connection_state(state),
        });
    }

    async fn on_signaling_state_change(&self, state: RTCSignalingState) {
        self.outbox.event(Event::SignalingStateChange {
            state: w3c::signaling_state(state),
        });
    }

    async fn on_data_channel(&self, channel: Arc<dyn DataChannel>) {
        let outbox = self.outbox.clone();
        let channels = self.channels.clone();
        let peer_connection = self.peer_connection.get().cloned();
        tokio::spawn(async move {
            let label =
                announce_remote_channel(&channel, &outbox, &channels, peer_connection).await;
            watch_channel(channel, label, outbox, channels).await;
        });
    }
}

/// Registers a channel the remote side opened and emits `data_channel` for it.
async fn announce_remote_channel(
    channel: &Arc<dyn DataChannel>,
    outbox: &Outbox,
    channels: &Channels,
    peer_connection: Option<Weak<dyn PeerConnection>>,
) -> String {
    // These fail only once the connection is gone; the defaults are what W3C reports then.
    let label = channel.label().await.unwrap_or_default();
    let protocol = channel.protocol().await.unwrap_or_default();
    let ordered = channel.ordered().await.unwrap_or(true);
    let id = match peer_connection {
        Some(pc) => stream_id(&pc, channel.id()).await,
        None => None,
    };
    channels.insert(&label, channel.clone());
    outbox.event(Event::DataChannel {
        label: label.clone(),
        id,
        protocol,
        ordered,
    });
    label
}

/// The SCTP stream id (W3C `RTCDataChannel.id`) of the channel with crate handle `handle`.
///
/// The async `DataChannel` API exposes only the connection-local handle, not the stream id.
/// The stats report has both: its data channel entry is keyed `RTCDataChannel_<handle>` and
/// carries `dataChannelIdentifier`, filled in once the channel is open.
async fn stream_id(peer_connection: &Weak<dyn PeerConnection>, handle: usize) -> Option<u16> {
    let pc = peer_connection.upgrade()?;
    let report = pc.get_stats(Instant::now(), StatsSelector::None).await;
    match report.get(&format!("RTCDataChannel_{handle}"))? {
        RTCStatsReportEntry::DataChannel(stats) => Some(stats.data_channel_identifier),
        _ => None,
    }
}

/// Polls one data channel until it ends, emitting its events. Runs for local and remote
/// channels alike, so a locally created channel reports `data_channel_open` too.
pub async fn watch_channel(
    channel: Arc<dyn DataChannel>,
    label: String,
    outbox: Outbox,
    channels: Channels,
) {
    let mut closed = false;
    while let Some(event) = channel.poll().await {
        match event {
            DataChannelEvent::OnOpen => outbox.event(Event::DataChannelOpen {
                label: label.clone(),
            }),
            DataChannelEvent::OnMessage(message) => outbox.event(Event::DataChannelMessage {
                label: label.clone(),
                message: digest(&message),
            }),
            DataChannelEvent::OnClosing => outbox.event(Event::DataChannelClosing {
                label: label.clone(),
            }),
            DataChannelEvent::OnError => outbox.event(Event::DataChannelError {
                label: label.clone(),
                // The crate's event carries no detail.
                message: "data channel error".to_owned(),
            }),
            DataChannelEvent::OnClose => {
                closed = true;
                outbox.event(Event::DataChannelClose {
                    label: label.clone(),
                });
                break;
            }
            other => tracing::trace!(label, "data channel event {other:?}"),
        }
    }
    if !closed {
        // The stream ended without a close: the peer connection was closed, which in W3C does
        // not fire `close` on its channels either.
        tracing::debug!(label, "data channel event stream ended");
    }
    channels.remove(&label, &channel);
}

/// A received message as the protocol reports it: kind, size and SHA-256.
pub fn digest(message: &RTCDataChannelMessage) -> ReceivedMessage {
    ReceivedMessage {
        binary: !message.is_string,
        size: message.data.len() as u64,
        sha256: hex::encode(Sha256::digest(&message.data)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;

    #[test]
    fn digest_reports_kind_size_and_sha256() {
        let text = digest(&RTCDataChannelMessage {
            is_string: true,
            data: BytesMut::from(&b"hello"[..]),
        });
        assert!(!text.binary);
        assert_eq!(text.size, 5);
        assert_eq!(
            text.sha256,
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        let empty = digest(&RTCDataChannelMessage {
            is_string: false,
            data: BytesMut::new(),
        });
        assert!(empty.binary);
        assert_eq!(empty.size, 0);
        assert_eq!(
            empty.sha256,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
