//! The command side: one [`Peer`] holds at most one `webrtc` peer connection and carries out
//! each protocol [`Command`] on it with W3C semantics. Errors are the crate's, named by
//! `w3c::error_name`; this side adds no checks of its own that the crate does not make.
//!
//! This file owns the lifecycle (`create_peer_connection`, `close`, the connection's engines
//! and binds) and the dispatch of every other command to its [`Connection`] method, which
//! lives with its topic: `negotiation.rs` (descriptions, rollback, ICE restart, candidates),
//! `data.rs` (data channels, echo, bulk transfers) and `media.rs` (media, reports, getStats).

mod data;
mod media;
mod negotiation;

use std::sync::{Arc, OnceLock, Weak};

use interop_protocol::{Command, PeerConnectionConfig, PeerError, Reply};
use rtc::crypto::RTCCryptoProvider;
use rtc::ice::mdns::MulticastDnsMode;
use rtc::shared::ifaces::ifaces;
use webrtc::peer_connection::{
    register_default_interceptors, MediaEngine, PeerConnection, PeerConnectionBuilder,
    RTCCertificate, RTCSessionDescription, Registry, SettingEngine, SettingEngineBuilder,
};

use crate::certificate::{self, Keygen};
use crate::channels::Channels;
use crate::events::{Context, EventHandler};
use crate::loopback_guard::LoopbackGuard;
use crate::media::tap::{MediaTap, TAP_SLOT};
use crate::media::{Media, MediaShared};
use crate::outbox::Outbox;
use crate::slot::PeerConnectionSlot;
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
