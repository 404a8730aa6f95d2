//! The command side: one [`Peer`] holds at most one `webrtc` peer connection and carries out
//! each protocol [`Command`] on it with W3C semantics. Errors are the crate's, named by
//! `w3c::error_name`; this side adds no checks of its own that the crate does not make.

use std::sync::{Arc, OnceLock, Weak};
use std::time::Instant;

use base64::Engine;
use bytes::BytesMut;
use interop_protocol::{
    Command, DataChannelInit, IceCandidate, Payload, PeerConnectionConfig, PeerError, Reply,
    SessionDescription,
};
use rtc::ice::mdns::MulticastDnsMode;
use webrtc::peer_connection::{
    register_default_interceptors, MediaEngine, PeerConnection, PeerConnectionBuilder, RTCSdpType,
    RTCSessionDescription, RTCStatsReportEntry, Registry, SettingEngineBuilder, StatsSelector,
};

use crate::bulk::{self, BulkReceive, SendBulk};
use crate::channels::{Channels, Registered};
use crate::events::{self, Context, EventHandler, PeerConnectionSlot};
use crate::loopback_guard::LoopbackGuard;
use crate::media::tap::{MediaTap, TAP_SLOT};
use crate::media::{Media, MediaShared};
use crate::outbox::Outbox;
use crate::w3c::{self, named_error, peer_error};
use rtc::interceptor::Slot;

/// Local UDP binds. The wildcard expands to one socket per non-loopback interface (the
/// machine's own address, e.g. 192.0.2.2), and the crate skips loopback while expanding it, so
/// 127.0.0.1 is bound explicitly: a browser started with loopback candidates only reaches us
/// there. [`LoopbackGuard`] keeps the two from being paired with each other.
const UDP_BINDS: [&str; 2] = ["127.0.0.1:0", "0.0.0.0:0"];

/// The peer's state between commands.
pub struct Peer {
    outbox: Outbox,
    connection: Option<Connection>,
}

struct Connection {
    pc: Arc<dyn PeerConnection>,
    /// What the connection's callbacks and channel watchers share.
    context: Context,
    /// The last offer or answer `create_offer` / `create_answer` returned.
    last_created: Option<RTCSessionDescription>,
    /// Transceivers by `add_media` name and their players.
    media: Media,
}

type CommandResult = Result<Reply, PeerError>;

impl Peer {
    pub fn new(outbox: Outbox) -> Self {
        Peer {
            outbox,
            connection: None,
        }
    }

    /// Carries out one command. Never panics on harness input.
    pub async fn handle(&mut self, command: Command) -> CommandResult {
        match command {
            Command::CreatePeerConnection { configuration } => {
                self.create_peer_connection(&configuration).await
            }
            Command::Close => self.close().await,
            command => {
                let Some(connection) = self.connection.as_mut() else {
                    return Err(named_error(
                        "InvalidStateError",
                        "no peer connection: send create_peer_connection first",
                    ));
                };
                connection.handle(command).await
            }
        }
    }

    /// `new RTCPeerConnection(configuration)`. A peer holds one connection at a time: an
    /// existing one is closed first (as the browser peer page does).
    async fn create_peer_connection(&mut self, config: &PeerConnectionConfig) -> CommandResult {
        let configuration = w3c::configuration(config)?;
        if self.connection.is_some() {
            self.outbox.log(
                "warn",
                "create_peer_connection replaced an open peer connection",
            );
            self.close().await?;
        }

        let mut media_engine = MediaEngine::default();
        media_engine.register_default_codecs().map_err(peer_error)?;
        let media = MediaShared::default();
        // Counts what crosses the interceptor chain (see `media::tap`).
        let registry = register_default_interceptors(Registry::new(), &mut media_engine)
            .map_err(peer_error)?
            .with(Slot::from(TAP_SLOT), MediaTap::new(media.tap.clone()));
        // QueryOnly resolves the `.local` host candidates browsers send by default, while our
        // own host candidates stay plain IPs.
        let mut setting_engine =
            SettingEngineBuilder::new().with_multicast_dns_mode(MulticastDnsMode::QueryOnly);
        // With SSLKEYLOGFILE set (the harness sets it per run), DTLS keys go to that file so
        // that the run's capture can be decrypted.
        if let Some(provider) = crate::keylog::provider_from_env() {
            setting_engine = setting_engine.with_crypto_provider(provider);
        }
        let setting_engine = setting_engine.build();

        let slot: PeerConnectionSlot = Arc::new(OnceLock::new());
        let context = Context {
            outbox: self.outbox.clone(),
            channels: Channels::default(),
            peer_connection: slot.clone(),
            media,
        };
        let handler = EventHandler(context.clone());
        let pc = PeerConnectionBuilder::new()
            .with_configuration(configuration)
            .with_media_engine(media_engine)
            .with_interceptor_registry(registry)
            .with_setting_engine(setting_engine)
            .with_handler(Arc::new(handler))
            .with_runtime(Arc::new(LoopbackGuard::default()))
            .with_udp_addrs(UDP_BINDS.to_vec())
            .build()
            .await
            .map_err(peer_error)?;
        let pc: Arc<dyn PeerConnection> = Arc::new(pc);
        let weak: Weak<dyn PeerConnection> = Arc::downgrade(&pc);
        let _ = slot.set(weak);

        self.connection = Some(Connection {
            pc,
            context,
            last_created: None,
            media: Media::default(),
        });
        Ok(Reply::Done)
    }

    /// `pc.close()`. Closing when there is no peer connection is a no-op, as closing a closed
    /// one is in W3C.
    pub async fn close(&mut self) -> CommandResult {
        if let Some(connection) = self.connection.take() {
            connection.context.channels.clear();
            connection.pc.close().await.map_err(peer_error)?;
        }
        Ok(Reply::Done)
    }
}

impl Connection {
    async fn handle(&mut self, command: Command) -> CommandResult {
        match command {
            Command::CreateDataChannel { label, init } => {
                self.create_data_channel(label, &init).await
            }
            Command::CreateOffer => {
                let offer = self.pc.create_offer(None).await.map_err(peer_error)?;
                self.created(offer)
            }
            Command::CreateAnswer => {
                let answer = self.pc.create_answer(None).await.map_err(peer_error)?;
                self.created(answer)
            }
            Command::SetLocalDescription { description } => {
                self.set_local_description(description.as_ref()).await
            }
            Command::SetRemoteDescription { description } => {
                let description = w3c::to_rtc_description(&description)?;
                self.pc
                    .set_remote_description(description)
                    .await
                    .map_err(peer_error)?;
                Ok(Reply::Done)
            }
            Command::AddIceCandidate { candidate } => {
                self.add_ice_candidate(candidate.as_ref()).await
            }
            Command::Send { label, data } => self.send(&label, data).await,
            Command::CloseDataChannel { label } => {
                self.channel(&label)?
                    .channel
                    .close()
                    .await
                    .map_err(peer_error)?;
                Ok(Reply::Done)
            }
            Command::Echo { label } => {
                self.context.channels.set_echo(&label);
                Ok(Reply::Done)
            }
            Command::SendBulk {
                label,
                bytes,
                chunk,
                seed,
                high_water,
                low_water,
            } => {
                let started = Instant::now();
                let params = SendBulk::new(label, bytes, chunk, seed, high_water, low_water)?;
                let target = self.channel(&params.label)?;
                tokio::spawn(bulk::send(
                    target,
                    params,
                    self.context.outbox.clone(),
                    started,
                ));
                Ok(Reply::Done)
            }
            Command::ReceiveBulk { label, bytes } => {
                if bytes == 0 {
                    return Err(named_error("TypeError", "receive_bulk needs bytes > 0"));
                }
                if self
                    .context
                    .channels
                    .set_receive_bulk(&label, BulkReceive::new(bytes))
                {
                    self.context.outbox.log(
                        "warn",
                        format!("receive_bulk on {label:?} replaced an unfinished one"),
                    );
                }
                Ok(Reply::Done)
            }
            Command::GetStats => Ok(Reply::Stats {
                report: self.stats().await,
            }),
            Command::AddMedia {
                name,
                kind,
                direction,
                codecs,
                source,
                simulcast,
            } => {
                self.media
                    .add_media(
                        &self.pc,
                        &self.context,
                        name,
                        kind,
                        &direction,
                        &codecs,
                        &source,
                        &simulcast,
                    )
                    .await?;
                Ok(Reply::Done)
            }
            Command::SetDirection { name, direction } => {
                self.media.set_direction(&name, &direction).await?;
                Ok(Reply::Done)
            }
            Command::ReplaceTrack { name, source } => {
                self.media.replace_track(&name, &source).await?;
                Ok(Reply::Done)
            }
            Command::RemoveTrack { name } => {
                self.media.remove_track(&self.pc, &name).await?;
                Ok(Reply::Done)
            }
            Command::RequestKeyFrame { mid } => {
                self.media
                    .request_key_frame(&self.pc, &self.context, &mid)
                    .await?;
                Ok(Reply::Done)
            }
            Command::GetMediaReport => Ok(Reply::Media {
                report: self.media.report(&self.pc, &self.context).await,
            }),
            // Handled by `Peer`, which owns the connection's lifetime.
            Command::CreatePeerConnection { .. } | Command::Close => Err(named_error(
                "InvalidStateError",
                "internal: lifecycle command routed to the connection",
            )),
        }
    }

    fn created(&mut self, description: RTCSessionDescription) -> CommandResult {
        let reply = Reply::Description {
            description: w3c::from_rtc_description(&description),
        };
        self.last_created = Some(description);
        Ok(reply)
    }

    /// `createDataChannel`: every member of the init goes to the crate (`w3c::data_channel_init`).
    async fn create_data_channel(
        &mut self,
        label: String,
        init: &DataChannelInit,
    ) -> CommandResult {
        let options = w3c::data_channel_init(init)?;
        // Known now only for a negotiated channel; an in-band channel's stream id depends on
        // the DTLS role (W3C: `id` is null until then).
        let id = options.negotiated;
        let channel = self
            .pc
            .create_data_channel(&label, Some(options))
            .await
            .map_err(peer_error)?;
        let signals = self.context.channels.register(&label, channel.clone());
        tokio::spawn(events::watch_channel(
            channel,
            label.clone(),
            self.context.clone(),
            signals,
        ));
        Ok(Reply::DataChannel { label, id })
    }

    async fn set_local_description(
        &mut self,
        description: Option<&SessionDescription>,
    ) -> CommandResult {
        let description = match description {
            Some(description) => w3c::to_rtc_description(description)?,
            None => match self.last_created.clone() {
                Some(created) => created,
                // Nothing created yet: W3C's implicit description, an answer when a remote
                // offer is pending and an offer otherwise.
                None => {
                    let remote_offer = self
                        .pc
                        .pending_remote_description()
                        .await
                        .is_some_and(|d| d.sdp_type == RTCSdpType::Offer);
                    let created = if remote_offer {
                        self.pc.create_answer(None).await
                    } else {
                        self.pc.create_offer(None).await
                    };
                    created.map_err(peer_error)?
                }
            },
        };
        self.pc
            .set_local_description(description)
            .await
            .map_err(peer_error)?;
        Ok(match self.pc.local_description().await {
            Some(local) => Reply::Description {
                description: w3c::from_rtc_description(&local),
            },
            // After a rollback there is no local description to report.
            None => Reply::Done,
        })
    }

    async fn add_ice_candidate(&mut self, candidate: Option<&IceCandidate>) -> CommandResult {
        match candidate {
            // End-of-candidates, as `null` or as an empty candidate string (Firefox's form).
            // The crate has no API for it; ICE simply keeps checking the pairs it has.
            None => Ok(Reply::Done),
            Some(c) if c.candidate.trim().is_empty() => Ok(Reply::Done),
            Some(c) => {
                self.pc
                    .add_ice_candidate(w3c::to_rtc_candidate(c))
                    .await
                    .map_err(peer_error)?;
                Ok(Reply::Done)
            }
        }
    }

    fn channel(&self, label: &str) -> Result<Registered, PeerError> {
        self.context.channels.get(label).ok_or_else(|| {
            // The name the browser peer page uses for the same case.
            named_error(
                "InvalidAccessError",
                format!("no data channel labelled {label:?}"),
            )
        })
    }

    /// `channel.send(data)`. The state and size checks are the crate's own
    /// (`RTCDataChannel::ensure_sendable` in `rtc`: `ErrDataChannelNotOpen` while connecting,
    /// `ErrDataChannelClosed` once the channel is gone, `ErrOutboundPacketTooLarge` above the
    /// negotiated max message size), reported under their W3C names; none is added here, so
    /// whatever the crate lets through is what the harness sees.
    async fn send(&self, label: &str, data: Payload) -> CommandResult {
        let channel = self.channel(label)?.channel;
        match data {
            Payload::Text(text) => channel.send_text(&text).await,
            Payload::Binary(base64) => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(base64.as_bytes())
                    .map_err(|e| {
                        named_error(
                            "BadRequest",
                            format!("binary payload is not valid base64: {e}"),
                        )
                    })?;
                channel.send(BytesMut::from(&bytes[..])).await
            }
        }
        .map_err(peer_error)?;
        Ok(Reply::Done)
    }

    /// `getStats()` as a list of stats objects, each with the W3C `type`, `id`, `timestamp`
    /// and member names (the crate's stats dictionaries serialize that way).
    async fn stats(&self) -> serde_json::Value {
        let report = self.pc.get_stats(Instant::now(), StatsSelector::None).await;
        report.iter().map(stats_entry).collect()
    }
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
            value
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
}
