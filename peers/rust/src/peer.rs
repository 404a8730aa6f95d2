//! The command side: one [`Peer`] holds at most one `webrtc` peer connection and carries out
//! each protocol [`Command`] on it with W3C semantics. Errors are the crate's, named by
//! `w3c::error_name`; this side adds no checks of its own that the crate does not make.

use std::sync::{Arc, OnceLock, Weak};
use std::time::Instant;

use base64::Engine;
use bytes::BytesMut;
use interop_protocol::{
    Command, DataChannelInit, IceCandidate, MediaKind, MediaSource, Payload, PeerConnectionConfig,
    PeerError, Reply, SessionDescription, SimulcastLayer,
};
use rtc::crypto::RTCCryptoProvider;
use rtc::ice::mdns::MulticastDnsMode;
use rtc::shared::ifaces::ifaces;
use webrtc::peer_connection::{
    register_default_interceptors, MediaEngine, PeerConnection, PeerConnectionBuilder,
    RTCCertificate, RTCSdpType, RTCSessionDescription, Registry, SettingEngine,
    SettingEngineBuilder, StatsSelector,
};

use crate::bulk::{self, SendBulk};
use crate::bulk_receive::BulkReceive;
use crate::certificate::{self, Keygen};
use crate::channels::{Channels, Registered};
use crate::dtls_setup;
use crate::events::{self, Context, EventHandler};
use crate::loopback_guard::LoopbackGuard;
use crate::media::tap::{MediaTap, TAP_SLOT};
use crate::media::{Media, MediaShared};
use crate::outbox::Outbox;
use crate::slot::PeerConnectionSlot;
use crate::stats;
use crate::w3c::{self, named_error, peer_error};
use rtc::interceptor::Slot;

/// Local UDP binds. A wildcard expands to one socket per non-loopback, non-link-local
/// interface address of its family (the machine's own addresses, e.g. 192.0.2.2 and fd00::2),
/// and the crate skips loopback while expanding it (`webrtc-0.21.1/src/peer_connection/driver.rs`
/// `expand_wildcard`), so 127.0.0.1 and ::1 are bound explicitly: a browser started with
/// loopback candidates only reaches us there. [`LoopbackGuard`] keeps loopback and
/// non-loopback candidates from being paired with each other. An address that cannot be bound
/// (no IPv6 on the machine) is skipped by the crate with a log line, not an error.
const UDP_BINDS: [&str; 4] = ["127.0.0.1:0", "0.0.0.0:0", "[::1]:0", "[::]:0"];

/// Local TCP listeners for ICE-TCP (RFC 6544), expanded like [`UDP_BINDS`]; bound only when
/// the configuration asks for ICE-TCP (`ice_tcp`), as the crate gathers no TCP candidate by
/// default: a webrtc-rs application gets UDP only unless it opts in. The crate gathers a
/// `tcptype passive` candidate (the listener) and a `tcptype active` one (port 9) per listener,
/// dials remote passive candidates and ignores remote active ones; it has no simultaneous-open
/// (`webrtc-0.21.1/src/peer_connection/transport/tcp_transport.rs` `gather_candidates` /
/// `connect`, `rtc-ice-0.21.1/src/agent/mod.rs` `add_remote_candidate`). TCP candidates have a
/// lower local preference than UDP ones (`rtc-ice` `Candidate::local_preference`), so ICE picks
/// UDP when both work. An outgoing connection's source address is the kernel's choice, so a
/// loopback candidate never ends up talking to a non-loopback one over TCP either.
const TCP_BINDS: [&str; 4] = UDP_BINDS;

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
            // Every other command needs a connection (named, so that a new command must be
            // placed here or above before this compiles).
            Command::CreateDataChannel { .. }
            | Command::CreateOffer
            | Command::CreateAnswer
            | Command::SetLocalDescription { .. }
            | Command::GetLocalDescription
            | Command::Rollback
            | Command::RestartIce
            | Command::SetRemoteDescription { .. }
            | Command::AddIceCandidate { .. }
            | Command::Send { .. }
            | Command::CloseDataChannel { .. }
            | Command::Echo { .. }
            | Command::SendBulk { .. }
            | Command::ReceiveBulk { .. }
            | Command::GetStats
            | Command::AddMedia { .. }
            | Command::SetDirection { .. }
            | Command::ReplaceTrack { .. }
            | Command::RemoveTrack { .. }
            | Command::RequestKeyFrame { .. }
            | Command::GetMediaReport => {
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
        w3c::refuse_ignored_turn_urls(config)?;
        let configuration = w3c::configuration(config)?;
        let keygen = config
            .certificate
            .as_deref()
            .map(Keygen::parse)
            .transpose()?;
        if self.connection.is_some() {
            self.outbox.log(
                "warn",
                "create_peer_connection replaced an open peer connection",
            );
            self.close().await?;
        }

        // With SSLKEYLOGFILE set (the harness sets it per run), DTLS keys go to that file so
        // that the run's capture can be decrypted.
        let keylog = crate::keylog::provider_from_env();
        let certificates = certificates(keygen, keylog.as_ref()).await?;
        let configuration = configuration.with_certificates(certificates).build();
        let media = MediaShared::default();
        let (media_engine, registry) = engines(&media)?;
        let setting_engine = setting_engine(config, keylog);

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
            .with_tcp_addrs(if config.ice_tcp == Some(true) {
                TCP_BINDS.to_vec()
            } else {
                Vec::new()
            })
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
    /// Carries out one command on the connection: each arm is the one method of that name.
    async fn handle(&mut self, command: Command) -> CommandResult {
        match command {
            Command::CreateDataChannel { label, init } => {
                self.create_data_channel(label, &init).await
            }
            Command::CreateOffer => self.create_offer().await,
            Command::CreateAnswer => self.create_answer().await,
            Command::SetLocalDescription { description } => {
                self.set_local_description(description.as_ref()).await
            }
            Command::GetLocalDescription => self.get_local_description().await,
            Command::Rollback => self.rollback().await,
            Command::RestartIce => self.restart_ice().await,
            Command::SetRemoteDescription { description } => {
                self.set_remote_description(&description).await
            }
            Command::AddIceCandidate { candidate } => {
                self.add_ice_candidate(candidate.as_ref()).await
            }
            Command::Send { label, data } => self.send(&label, data).await,
            Command::CloseDataChannel { label } => self.close_data_channel(&label).await,
            Command::Echo { label } => self.echo(&label),
            Command::SendBulk {
                label,
                bytes,
                chunk,
                seed,
                high_water,
                low_water,
            } => self.send_bulk(label, bytes, chunk, seed, high_water, low_water),
            Command::ReceiveBulk { label, bytes } => self.receive_bulk(label, bytes),
            Command::GetStats => self.get_stats().await,
            Command::AddMedia {
                name,
                kind,
                direction,
                codecs,
                source,
                simulcast,
            } => {
                self.add_media(name, kind, &direction, &codecs, &source, &simulcast)
                    .await
            }
            Command::SetDirection { name, direction } => {
                self.set_direction(&name, &direction).await
            }
            Command::ReplaceTrack { name, source } => self.replace_track(&name, &source).await,
            Command::RemoveTrack { name } => self.remove_track(&name).await,
            Command::RequestKeyFrame { mid } => self.request_key_frame(&mid).await,
            Command::GetMediaReport => self.get_media_report().await,
            // Handled by `Peer`, which owns the connection's lifetime.
            Command::CreatePeerConnection { .. } | Command::Close => Err(named_error(
                "InvalidStateError",
                "internal: lifecycle command routed to the connection",
            )),
        }
    }

    async fn create_offer(&mut self) -> CommandResult {
        let offer = self.pc.create_offer(None).await.map_err(peer_error)?;
        self.created(offer)
    }

    async fn create_answer(&mut self) -> CommandResult {
        let answer = self.pc.create_answer(None).await.map_err(peer_error)?;
        let reply = Reply::Description {
            description: self.reported(&answer).await,
        };
        self.last_created = Some(answer);
        Ok(reply)
    }

    async fn get_local_description(&self) -> CommandResult {
        match self.pc.local_description().await {
            Some(local) => Ok(Reply::Description {
                description: self.reported(&local).await,
            }),
            None => Err(named_error(
                "InvalidStateError",
                "there is no local description",
            )),
        }
    }

    async fn rollback(&self) -> CommandResult {
        let rollback = RTCSessionDescription::rollback(None).map_err(peer_error)?;
        self.pc
            .set_local_description(rollback)
            .await
            .map_err(peer_error)?;
        Ok(Reply::Done)
    }

    async fn restart_ice(&self) -> CommandResult {
        // The crate stages the restart; the next `create_offer` carries new credentials
        // and `set_local_description` applies it, gathering again on the same sockets
        // (`discard_local_candidates_during_ice_restart` is off).
        self.pc.restart_ice().await.map_err(peer_error)?;
        Ok(Reply::Done)
    }

    async fn set_remote_description(&self, description: &SessionDescription) -> CommandResult {
        let description = w3c::to_rtc_description(description)?;
        self.pc
            .set_remote_description(description)
            .await
            .map_err(peer_error)?;
        Ok(Reply::Done)
    }

    async fn close_data_channel(&self, label: &str) -> CommandResult {
        self.channel(label)?
            .channel
            .close()
            .await
            .map_err(peer_error)?;
        Ok(Reply::Done)
    }

    fn echo(&self, label: &str) -> CommandResult {
        self.context.channels.set_echo(label);
        Ok(Reply::Done)
    }

    /// Starts a bulk send; its progress and result are events, not the reply.
    fn send_bulk(
        &self,
        label: String,
        bytes: u64,
        chunk: u32,
        seed: u32,
        high_water: u64,
        low_water: u64,
    ) -> CommandResult {
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

    fn receive_bulk(&self, label: String, bytes: u64) -> CommandResult {
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

    async fn get_stats(&self) -> CommandResult {
        Ok(Reply::Stats {
            report: self.stats().await,
        })
    }

    async fn add_media(
        &mut self,
        name: String,
        kind: MediaKind,
        direction: &str,
        codecs: &[String],
        source: &MediaSource,
        simulcast: &[SimulcastLayer],
    ) -> CommandResult {
        self.media
            .add_media(
                &self.pc,
                &self.context.media(),
                name,
                kind,
                direction,
                codecs,
                source,
                simulcast,
            )
            .await?;
        Ok(Reply::Done)
    }

    async fn set_direction(&mut self, name: &str, direction: &str) -> CommandResult {
        self.media.set_direction(name, direction).await?;
        Ok(Reply::Done)
    }

    async fn replace_track(&mut self, name: &str, source: &MediaSource) -> CommandResult {
        self.media.replace_track(name, source).await?;
        Ok(Reply::Done)
    }

    async fn remove_track(&mut self, name: &str) -> CommandResult {
        self.media.remove_track(&self.pc, name).await?;
        Ok(Reply::Done)
    }

    async fn request_key_frame(&self, mid: &str) -> CommandResult {
        self.media
            .request_key_frame(&self.pc, &self.context.media(), mid)
            .await?;
        Ok(Reply::Done)
    }

    async fn get_media_report(&self) -> CommandResult {
        Ok(Reply::Media {
            report: self.media.report(&self.pc, &self.context.media()).await,
        })
    }

    /// A local description as reported to the harness: an answer's `a=setup` says the DTLS
    /// role the crate really takes (it writes `active` even when the offer said `active`; see
    /// `dtls_setup`). The crate itself keeps its own text: it refuses any other
    /// (`rtc-0.21.1/src/peer_connection/internal.rs:489`).
    async fn reported(&self, local: &RTCSessionDescription) -> SessionDescription {
        let mut reported = w3c::from_rtc_description(local);
        if local.sdp_type == RTCSdpType::Answer {
            if let Some(remote) = self.pc.remote_description().await {
                if let Some(setup) = dtls_setup::explicit_answer_setup(&remote.sdp) {
                    reported.sdp = dtls_setup::with_setup(&reported.sdp, setup);
                }
            }
        }
        reported
    }

    /// What to apply for a `set_local_description(description)` from the harness. The crate
    /// applies only the exact text it created (`internal.rs:471` offers, `:489` answers), so a
    /// description that differs from the last created one in `a=setup` only is mapped back to
    /// it when the crate does what the munged `a=setup` says (see `dtls_setup`), and refused
    /// with the evidence when it cannot.
    async fn unmunge_setup(
        &self,
        description: RTCSessionDescription,
    ) -> Result<RTCSessionDescription, PeerError> {
        let Some(created) = self.last_created.as_ref() else {
            return Ok(description);
        };
        let Some(setup) = dtls_setup::media_setup(&description.sdp) else {
            return Ok(description);
        };
        let created_setup = dtls_setup::media_setup(&created.sdp).unwrap_or_default();
        if description.sdp_type != created.sdp_type
            || description.sdp == created.sdp
            || dtls_setup::with_setup(&description.sdp, created_setup) != created.sdp
        {
            return Ok(description);
        }
        match description.sdp_type {
            // The offerer's role is the inverse of the answer's a=setup (transport/dtls/
            // mod.rs:158-164): an answerer that answers this offer as RFC 5763 says makes it so.
            RTCSdpType::Offer => {
                self.context.outbox.log(
                    "warn",
                    format!(
                        "local offer with a=setup:{setup}: the crate applies only its own text \
                         (a=setup:{created_setup}) and takes its DTLS role from the answer's \
                         a=setup, so a=setup:{setup} holds if the answer says the inverse"
                    ),
                );
                Ok(created.clone())
            }
            RTCSdpType::Answer => {
                let offer = self.pc.remote_description().await;
                let role = offer
                    .as_ref()
                    .map_or("active", |offer| dtls_setup::answer_setup(&offer.sdp));
                if setup == role {
                    return Ok(created.clone());
                }
                Err(named_error(
                    "NotSupportedError",
                    format!(
                        "webrtc {} (rtc {}) cannot honour a=setup:{setup} in a local answer: its \
                         DTLS role ({role}) was fixed when the remote offer (a=setup:{}) was \
                         applied (rtc src/peer_connection/mod.rs:1582 -> transport/dtls/\
                         mod.rs:158-179 derive_role reads only the remote a=setup, then the \
                         SettingEngine's answering_dtls_role, fixed when the peer connection is \
                         built), and set_local_description refuses any answer text but its own \
                         (internal.rs:489 ErrSDPDoesNotMatchAnswer)",
                        crate::WEBRTC_VERSION,
                        crate::RTC_VERSION,
                        offer
                            .as_ref()
                            .and_then(|o| dtls_setup::media_setup(&o.sdp))
                            .unwrap_or("none"),
                    ),
                ))
            }
            _ => Ok(description),
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
            Some(description) => {
                self.unmunge_setup(w3c::to_rtc_description(description)?)
                    .await?
            }
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
                description: self.reported(&local).await,
            },
            // After a rollback there is no local description to report.
            None => Reply::Done,
        })
    }

    async fn add_ice_candidate(&mut self, candidate: Option<&IceCandidate>) -> CommandResult {
        match candidate {
            // End-of-candidates (W3C `addIceCandidate(null)`, or an empty candidate string,
            // Firefox's form): a documented no-op. webrtc 0.21.1 has no remote end-of-candidates
            // API: `PeerConnection::add_ice_candidate` (webrtc-0.21.1/src/peer_connection/
            // mod.rs:1287-1310) forwards to `RTCPeerConnection::add_remote_candidate`
            // (rtc-0.21.1/src/peer_connection/mod.rs:1714-1729), which accepts an empty
            // candidate and does nothing with it (and fails without a remote description,
            // which W3C does not ask of a null candidate here); `rtc-ice` has no notion of the
            // remote side being done. ICE simply keeps checking the pairs it has.
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
    /// and member names (the crate's stats dictionaries serialize that way; see `stats`).
    async fn stats(&self) -> serde_json::Value {
        let report = self.pc.get_stats(Instant::now(), StatsSelector::None).await;
        stats::w3c_report(report.iter())
    }
}

/// The connection's certificate: generated as `config.certificate` asks (with the key-logging
/// provider when there is one), or none, and the crate generates its own (ECDSA P-256).
async fn certificates(
    keygen: Option<Keygen>,
    keylog: Option<&Arc<dyn RTCCryptoProvider>>,
) -> Result<Vec<RTCCertificate>, PeerError> {
    let Some(keygen) = keygen else {
        return Ok(Vec::new());
    };
    let provider = match keylog {
        Some(provider) => provider.clone(),
        None => rtc::crypto::default_provider()
            .map_err(|e| named_error("OperationError", format!("no crypto provider: {e}")))?,
    };
    Ok(vec![certificate::generate(keygen, &provider).await?])
}

/// The crate's default codecs and interceptors, plus the tap that counts what crosses the
/// interceptor chain (see `media::tap`).
fn engines(media: &MediaShared) -> Result<(MediaEngine, Registry), PeerError> {
    let mut media_engine = MediaEngine::default();
    media_engine.register_default_codecs().map_err(peer_error)?;
    let registry = register_default_interceptors(Registry::new(), &mut media_engine)
        .map_err(peer_error)?
        .with(Slot::from(TAP_SLOT), MediaTap::new(media.tap.clone()));
    Ok((media_engine, registry))
}

/// mDNS as the configuration asks, and the key-logging provider when there is one.
fn setting_engine(
    config: &PeerConnectionConfig,
    keylog: Option<Arc<dyn RTCCryptoProvider>>,
) -> SettingEngine {
    let mut setting_engine = if config.mdns == Some(true) {
        // Host candidates as `.local` names. The crate names one IPv4 address only
        // (`rtc-ice-0.21.1/src/agent/mod.rs:411-425`: UDP4 host candidates whose address is
        // `mdns_local_ip`, default 127.0.0.1), so it is the machine's own address, the one a
        // browser would hide; loopback, IPv6 and TCP candidates stay plain addresses.
        SettingEngineBuilder::new()
            .with_multicast_dns_mode(MulticastDnsMode::QueryAndGather)
            .with_multicast_dns_local_ip(mdns_local_ip())
    } else {
        // QueryOnly resolves the `.local` host candidates browsers send by default, while
        // our own host candidates stay plain IPs.
        SettingEngineBuilder::new().with_multicast_dns_mode(MulticastDnsMode::QueryOnly)
    };
    if let Some(provider) = keylog {
        setting_engine = setting_engine.with_crypto_provider(provider);
    }
    setting_engine.build()
}

/// The address the crate names in `.local` host candidates: the first IPv4 address a `0.0.0.0`
/// bind expands to (not loopback, not link-local). `None` leaves the crate's default.
fn mdns_local_ip() -> Option<std::net::IpAddr> {
    ifaces().ok()?.into_iter().find_map(|interface| {
        let ip = interface.addr?.ip();
        let usable = match ip {
            std::net::IpAddr::V4(v4) => {
                !v4.is_loopback() && !v4.is_unspecified() && !v4.is_link_local()
            }
            std::net::IpAddr::V6(_) => false,
        };
        usable.then_some(ip)
    })
}
