//! What the `webrtc` crate reports, turned into protocol [`Event`]s: the peer connection's
//! callbacks ([`EventHandler`]) and one task per data channel polling `DataChannel::poll()`
//! ([`watch_channel`]). The watcher is also where the per-label modes of `channels` (echo,
//! receive-bulk) act on each message, and where `bufferedamountlow` is handed to bulk senders.
//!
//! [`unsupported`] is what this peer declares in its `Hello` it cannot observe at all.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use interop_protocol::{Event, ReceivedMessage};
use sha2::{Digest, Sha256};
use tokio::sync::watch;
use webrtc::data_channel::{DataChannel, DataChannelEvent, RTCDataChannelMessage};
use webrtc::media_stream::track_remote::TrackRemote;
use webrtc::peer_connection::{
    PeerConnectionEventHandler, RTCIceConnectionState, RTCIceGatheringState,
    RTCPeerConnectionIceEvent, RTCPeerConnectionState, RTCSignalingState, RTCStatsReportEntry,
    StatsSelector,
};

use crate::channels::{Channels, Disposition, Signals};
use crate::media::receive::watch_track;
use crate::media::{MediaContext, MediaShared};
use crate::outbox::Outbox;
use crate::slot::PeerConnectionSlot;
use crate::w3c;

/// What the callbacks and the channel watchers of one peer connection share.
#[derive(Clone)]
pub struct Context {
    pub outbox: Outbox,
    pub channels: Channels,
    pub peer_connection: PeerConnectionSlot,
    pub media: MediaShared,
}

impl Context {
    /// The part of it that media's commands and track tasks use.
    pub fn media(&self) -> MediaContext {
        MediaContext {
            outbox: self.outbox.clone(),
            media: self.media.clone(),
            peer_connection: self.peer_connection.clone(),
        }
    }
}

/// The peer connection's event callbacks. They run on the `webrtc` driver task, so each one
/// only queues an event (or spawns a task) and returns at once.
pub struct EventHandler(pub Context);

#[async_trait::async_trait]
impl PeerConnectionEventHandler for EventHandler {
    async fn on_ice_candidate(&self, event: RTCPeerConnectionIceEvent) {
        match event.candidate.to_json() {
            Ok(init) => self.0.outbox.event(Event::IceCandidate {
                candidate: Some(w3c::from_rtc_candidate(init)),
            }),
            Err(e) => self.0.outbox.log(
                "warn",
                format!("local candidate {} not serializable: {e}", event.candidate),
            ),
        }
    }

    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        self.0.outbox.event(Event::IceGatheringStateChange {
            state: w3c::ice_gathering_state(state),
        });
        // The crate has no null candidate; W3C fires one right after gathering completes.
        if state == RTCIceGatheringState::Complete {
            self.0.outbox.event(Event::IceCandidate { candidate: None });
        }
    }

    async fn on_ice_connection_state_change(&self, state: RTCIceConnectionState) {
        self.0.outbox.event(Event::IceConnectionStateChange {
            state: w3c::ice_connection_state(state),
        });
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        self.0
            .media
            .connected
            .send_replace(state == RTCPeerConnectionState::Connected);
        self.0.outbox.event(Event::ConnectionStateChange {
            state: w3c::peer_connection_state(state),
        });
    }

    async fn on_signaling_state_change(&self, state: RTCSignalingState) {
        self.0.outbox.event(Event::SignalingStateChange {
            state: w3c::signaling_state(state),
        });
    }

    /// The crate calls this on the first RTP packet of a new remote track (not at
    /// setRemoteDescription as W3C does); `watch_track` announces it and reads it.
    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        tokio::spawn(watch_track(track, self.0.media()));
    }

    /// The crate calls this when a remote channel is already open (after its DCEP open).
    async fn on_data_channel(&self, channel: Arc<dyn DataChannel>) {
        let context = self.0.clone();
        tokio::spawn(async move {
            // Fails only once the connection is gone; W3C's default label then.
            let label = channel.label().await.unwrap_or_default();
            // Registered before it is announced, so a command reacting to the announcement
            // finds it.
            let signals = context.channels.register(&label, channel.clone());
            announce_remote_channel(&channel, label.clone(), &context).await;
            watch_channel(channel, label, context, signals).await;
        });
    }
}

/// Emits `data_channel` for a channel the remote side opened, with the properties the crate
/// gives the new channel object. Stamped when queued, after the lookups, so that `t` never
/// goes backwards in the stream.
async fn announce_remote_channel(channel: &Arc<dyn DataChannel>, label: String, context: &Context) {
    // These fail only once the connection is gone; the defaults are what W3C reports then.
    let protocol = channel.protocol().await.unwrap_or_default();
    let ordered = channel.ordered().await.unwrap_or(true);
    // Reported as the crate has them. `rtc` 0.21.1 `RTCDataChannelInternal::accept` builds the
    // accepted channel with `max_retransmits: None, max_packet_life_time: None` whatever the
    // DCEP open said (the reliability parameter only reaches the SCTP stream), so a remote
    // partially reliable channel shows as reliable here.
    let max_retransmits = channel.max_retransmits().await.unwrap_or_default();
    let max_packet_life_time = channel.max_packet_life_time().await.unwrap_or_default();
    let negotiated = channel.negotiated().await.unwrap_or_default();
    let id = stream_id(&context.peer_connection, channel.id()).await;
    context.outbox.event(Event::DataChannel {
        label,
        id,
        protocol,
        ordered,
        max_retransmits,
        max_packet_life_time,
        negotiated,
    });
}

/// The SCTP stream id (W3C `RTCDataChannel.id`) of the channel with crate handle `handle`.
///
/// `webrtc` 0.21.1's `DataChannel::id()` returns the connection-local handle
/// (`RTCDataChannelId`, a `usize`), not the stream id, although its doc describes W3C's `id`;
/// the stream id (`RTCDataChannel::stream_id` in `rtc`) is not exposed by the async API. The
/// stats report has both: its data channel entry is keyed `RTCDataChannel_<handle>` and carries
/// `dataChannelIdentifier`, filled in when the channel opens. `None` before that.
async fn stream_id(peer_connection: &PeerConnectionSlot, handle: usize) -> Option<u16> {
    let pc = peer_connection.get()?.upgrade()?;
    let report = pc.get_stats(Instant::now(), StatsSelector::None).await;
    match report.get(&format!("RTCDataChannel_{handle}"))? {
        RTCStatsReportEntry::DataChannel(stats) => Some(stats.data_channel_identifier),
        _ => None,
    }
}

/// Polls one data channel until it ends, emitting its events and applying the label's modes.
/// Runs for local and remote channels alike, so a locally created channel reports
/// `data_channel_open` too. `signals` tells bulk senders about low events and the end.
pub async fn watch_channel(
    channel: Arc<dyn DataChannel>,
    label: String,
    context: Context,
    signals: watch::Sender<Signals>,
) {
    let outbox = &context.outbox;
    let mut closed = false;
    while let Some(event) = channel.poll().await {
        match event {
            DataChannelEvent::OnOpen => outbox.event(Event::DataChannelOpen {
                label: label.clone(),
                id: stream_id(&context.peer_connection, channel.id()).await,
            }),
            DataChannelEvent::OnMessage(message) => {
                on_message(&channel, &label, &context, message).await;
            }
            // Never emitted by `rtc` 0.21.1 (see `unsupported`); mapped in case it ever is.
            DataChannelEvent::OnClosing => outbox.event(Event::DataChannelClosing {
                label: label.clone(),
            }),
            // Never emitted by `rtc` 0.21.1 either (see `unsupported`).
            DataChannelEvent::OnError => outbox.event(Event::DataChannelError {
                label: label.clone(),
                // The crate's event carries no detail.
                message: "data channel error".to_owned(),
            }),
            DataChannelEvent::OnBufferedAmountLow => {
                signals.send_modify(|s| s.buffered_amount_low += 1);
            }
            DataChannelEvent::OnClose => {
                closed = true;
                outbox.event(Event::DataChannelClose {
                    label: label.clone(),
                });
                if let Some(bulk) = context.channels.abandon_bulk(&label, &channel) {
                    let (bytes, expected, messages) = bulk.progress();
                    outbox.log(
                        "error",
                        format!(
                            "bulk receive on {label:?} incomplete: the channel closed after \
                             {bytes} of {expected} bytes ({messages} messages)"
                        ),
                    );
                }
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
    signals.send_modify(|s| s.closed = true);
}

/// One received message: reported (one by one or as part of a bulk), then echoed if asked.
async fn on_message(
    channel: &Arc<dyn DataChannel>,
    label: &str,
    context: &Context,
    message: RTCDataChannelMessage,
) {
    let outbox = &context.outbox;
    let (echo, disposition) = context
        .channels
        .on_message(label, &message.data, outbox.now_ms());
    match disposition {
        Disposition::Report => outbox.event(Event::DataChannelMessage {
            label: label.to_owned(),
            message: digest(&message),
        }),
        Disposition::Absorbed => {}
        Disposition::Completed { event, expected } => {
            if let Event::BulkReceived { bytes, .. } = &event {
                if *bytes > expected {
                    outbox.log(
                        "warn",
                        format!(
                            "bulk receive on {label:?}: {bytes} bytes arrived, {expected} expected"
                        ),
                    );
                }
            }
            outbox.event(event);
        }
    }
    if echo {
        if let Err(problem) = echo_back(channel, message).await {
            outbox.log("error", format!("echo on {label:?} failed: {problem}"));
        }
    }
}

/// Sends `message` back unchanged: same type, same bytes.
async fn echo_back(
    channel: &Arc<dyn DataChannel>,
    message: RTCDataChannelMessage,
) -> Result<(), String> {
    let sent = if message.is_string {
        // `send_text` takes a `&str`: a text message that is not UTF-8 cannot go back
        // unchanged, so it does not go back at all.
        let text = std::str::from_utf8(&message.data)
            .map_err(|e| format!("the text message is not UTF-8 ({e})"))?;
        channel.send_text(text).await
    } else {
        channel.send(message.data).await
    };
    sent.map_err(|e| {
        let e = w3c::peer_error(e);
        format!("{}: {}", e.name, e.message)
    })
}

/// A received message as the protocol reports it: kind, size and SHA-256.
pub fn digest(message: &RTCDataChannelMessage) -> ReceivedMessage {
    ReceivedMessage {
        binary: !message.is_string,
        size: message.data.len() as u64,
        sha256: hex::encode(Sha256::digest(&message.data)),
    }
}

/// What this peer declares unobservable in its `Hello`: event name -> evidence. Each entry was
/// checked against the `webrtc` / `rtc` 0.21.1 sources (a unit test pins the version, so a
/// bump makes someone check them again).
pub fn unsupported() -> BTreeMap<String, String> {
    [
        (
            "data_channel_closing",
            "webrtc 0.21.1: DataChannelEvent::OnClosing exists but rtc 0.21.1 never emits \
             RTCDataChannelEvent::OnClosing (no code constructs it); a stream reset by the \
             remote is reported only as OnClose, so `closing` cannot be observed",
        ),
        (
            "data_channel_error",
            "webrtc 0.21.1: DataChannelEvent::OnError exists but rtc 0.21.1 never emits \
             RTCDataChannelEvent::OnError (no code constructs it), so a data channel `error` \
             event cannot be observed",
        ),
    ]
    .into_iter()
    .map(|(key, evidence)| (key.to_owned(), evidence.to_owned()))
    .collect()
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
