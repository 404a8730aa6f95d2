//! Media: the protocol's media commands on the `webrtc` 0.21.1 transceiver API, the files the
//! peer sends, and what it observes of the media it sends and receives.
//!
//! ```text
//!  AddMedia ──> reuse (remote-created, never had a track, unclaimed) or add a transceiver
//!      │            └─ sending direction: TrackLocalStaticRTP + send::Player task
//!      │                 (plays media/<codec>-<size> of the negotiated codec, answers PLI/FIR)
//!  on_track ──> receive::watch_track task ──> ReceiveLog (per transceiver, per SSRC)
//!  MediaTap (interceptor) ──> TapCounters: RTP sent, PLI/FIR/NACK in and out, retransmissions
//!  GetMediaReport = transceivers (by id = getTransceivers order) + Player stats + ReceiveLog
//!                   + TapCounters
//! ```
//!
//! Modules: `source` (embedded files -> frames), `send` (the playing task), `receive` (track
//! tasks, frame assembly), `bitstream` (keyframe header checks), `tap` (the counting
//! interceptor), `codecs` (what the crate registers and what this peer can force).

pub mod bitstream;
pub mod codecs;
pub mod receive;
pub mod send;
pub mod source;
pub mod tap;

use std::collections::HashSet;
use std::sync::Arc;

use interop_protocol::{
    MediaKind, MediaReport, MediaSource, PeerError, SentStream, SimulcastLayer, TransceiverReport,
};
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters, RTCRtpEncodingParameters,
    RtpCodecKind,
};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::MediaStreamTrack;
use webrtc::peer_connection::PeerConnection;
use webrtc::rtp_transceiver::{
    RTCRtpTransceiverDirection, RTCRtpTransceiverInit, RtpSender, RtpTransceiver,
};

use crate::outbox::Outbox;
use crate::slot::PeerConnectionSlot;
use crate::w3c::{named_error, peer_error};
use receive::ReceiveLog;
use send::{Player, SendStats, SharedStats};
use tap::TapCounters;

/// What the event handler, the track tasks and the commands share.
#[derive(Clone)]
pub struct MediaShared {
    pub tap: TapCounters,
    pub received: ReceiveLog,
    /// Whether the peer connection is `connected` (the players wait for it).
    pub connected: watch::Sender<bool>,
}

impl Default for MediaShared {
    fn default() -> Self {
        MediaShared {
            tap: TapCounters::default(),
            received: ReceiveLog::default(),
            connected: watch::Sender::new(false),
        }
    }
}

/// What media's commands and track tasks need of their connection: its outbox, the shared
/// media state and the slot of the connection. The connection's event context hands it out
/// (`events::Context::media`), so media does not depend on the event handler.
#[derive(Clone)]
pub struct MediaContext {
    pub outbox: Outbox,
    pub media: MediaShared,
    pub peer_connection: PeerConnectionSlot,
}

/// One `add_media` name.
struct Named {
    name: String,
    kind: MediaKind,
    transceiver: Arc<dyn RtpTransceiver>,
    sending: Option<Sending>,
    /// Kept after `remove_track` (W3C outbound stats outlive the track).
    sent: Option<SentRecord>,
}

#[derive(Clone)]
struct SentRecord {
    ssrc: u32,
    rtx_ssrc: Option<u32>,
    stats: SharedStats,
}

struct Sending {
    sender: Arc<dyn RtpSender>,
    ssrc: u32,
    size: watch::Sender<Option<(u32, u32)>>,
    task: JoinHandle<()>,
    replaced: u32,
    /// The codec `pin_codec` put on the core's copy of the track.
    codec: RTCRtpCodec,
}

impl Drop for Sending {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The media side of one peer connection.
#[derive(Default)]
pub struct Media {
    named: Vec<Named>,
    /// Transceivers `add_media` created or claimed (by `RtpTransceiver::id`).
    claimed: HashSet<usize>,
}

type Result<T> = std::result::Result<T, PeerError>;

pub fn direction(direction: &str) -> Result<RTCRtpTransceiverDirection> {
    match RTCRtpTransceiverDirection::from(direction) {
        RTCRtpTransceiverDirection::Unspecified => Err(named_error(
            "TypeError",
            format!("direction {direction:?} is not one of sendrecv, sendonly, recvonly, inactive"),
        )),
        d => Ok(d),
    }
}

fn rtc_kind(kind: MediaKind) -> RtpCodecKind {
    match kind {
        MediaKind::Audio => RtpCodecKind::Audio,
        MediaKind::Video => RtpCodecKind::Video,
    }
}

fn source_size(kind: MediaKind, source: &MediaSource) -> Result<Option<(u32, u32)>> {
    match (source.width, source.height) {
        (None, None) => Ok(None),
        // A size means nothing to an audio file; the default source is used.
        _ if kind == MediaKind::Audio => Ok(None),
        (Some(w), Some(h)) if source::has_video_size((w, h)) => Ok(Some((w, h))),
        (w, h) => Err(named_error(
            "NotSupportedError",
            format!(
                "the Rust peer sends pre-encoded files and has none of {}x{}; it has {}",
                w.map_or("?".to_owned(), |w| w.to_string()),
                h.map_or("?".to_owned(), |h| h.to_string()),
                source::video_files()
            ),
        )),
    }
}

impl Media {
    fn named(&self, name: &str) -> Result<&Named> {
        self.named.iter().find(|n| n.name == name).ok_or_else(|| {
            named_error(
                "InvalidAccessError",
                format!("no transceiver named {name:?}: add_media first"),
            )
        })
    }

    fn named_mut(&mut self, name: &str) -> Result<&mut Named> {
        self.named
            .iter_mut()
            .find(|n| n.name == name)
            .ok_or_else(|| {
                named_error(
                    "InvalidAccessError",
                    format!("no transceiver named {name:?}: add_media first"),
                )
            })
    }

    /// `add_media`; see the protocol's doc for the semantics.
    #[allow(clippy::too_many_arguments)]
    pub async fn add_media(
        &mut self,
        pc: &Arc<dyn PeerConnection>,
        context: &MediaContext,
        name: String,
        kind: MediaKind,
        direction_name: &str,
        codecs: &[String],
        source: &MediaSource,
        simulcast: &[SimulcastLayer],
    ) -> Result<()> {
        let direction = direction(direction_name)?;
        self.refuse_add(&name, simulcast)?;
        let preferences = codecs::preferences(kind, codecs)?;
        let size = source_size(kind, source)?;
        let sends = direction.has_send();

        let mut transceivers = pc.get_transceivers().await;
        transceivers.sort_by_key(|t| t.id());
        let reusable = self.reusable(pc, context, kind, &transceivers).await;
        let (transceiver, sending) = match (reusable, sends) {
            (Some(transceiver), false) => reuse_receiving(transceiver, direction).await?,
            (Some(transceiver), true) => {
                refuse_unreachable_reuse(pc, context, &transceivers, &transceiver, kind).await?;
                reuse_sending(pc, transceiver, &name, kind, direction).await?
            }
            (None, false) => add_receiving(pc, kind, direction).await?,
            (None, true) => add_sending(pc, &name, kind, direction).await?,
        };
        // What the core binds the sent stream to the interceptors with: see `pin_codec`.
        let pinned = preferences
            .first()
            .map(|p| p.rtp_codec.clone())
            .unwrap_or_else(|| codecs::default_codec(kind));
        if !preferences.is_empty() {
            set_preferences(&transceiver, sending.as_ref(), preferences, codecs, kind).await?;
        }
        self.claimed.insert(transceiver.id());
        let named = name_transceiver(context, name, kind, transceiver, sending, pinned, size);
        self.named.push(named.await?);
        Ok(())
    }

    /// What makes an `add_media` fail before anything is touched: a name in use, or simulcast.
    fn refuse_add(&self, name: &str, simulcast: &[SimulcastLayer]) -> Result<()> {
        if self.named.iter().any(|n| n.name == name) {
            return Err(named_error(
                "InvalidAccessError",
                format!("a transceiver is already named {name:?}"),
            ));
        }
        if !simulcast.is_empty() {
            return Err(named_error(
                "NotSupportedError",
                "sending simulcast is not implemented by the Rust peer: it sends pre-encoded \
                 files (one per size: 320x240, 160x120), not one encoder output per layer \
                 (webrtc 0.21.1 itself accepts RTCRtpTransceiverInit.send_encodings with rids)",
            ));
        }
        Ok(())
    }

    /// W3C addTrack's reuse, narrowed as the protocol says: a transceiver the remote
    /// description created (not one add_media made or claimed) whose sender never had a
    /// track. `transceivers` in `id` order; the first such one of `kind`.
    async fn reusable(
        &self,
        pc: &Arc<dyn PeerConnection>,
        context: &MediaContext,
        kind: MediaKind,
        transceivers: &[Arc<dyn RtpTransceiver>],
    ) -> Option<Arc<dyn RtpTransceiver>> {
        for t in transceivers {
            if self.claimed.contains(&t.id()) || t.sender().await.ok().flatten().is_some() {
                continue;
            }
            if transceiver_kind(pc, context, t).await == Some(kind) {
                return Some(t.clone());
            }
        }
        None
    }

    /// `transceiver.direction = direction`.
    pub async fn set_direction(&mut self, name: &str, direction_name: &str) -> Result<()> {
        let direction = direction(direction_name)?;
        self.named(name)?
            .transceiver
            .set_direction(direction)
            .await
            .map_err(peer_error)
    }

    /// `sender.replaceTrack(track from source)`.
    ///
    /// Calls the crate's `RtpSender::replace_track` with a new `MediaStreamTrack` (new track
    /// id, same SSRC: W3C keeps the sender's encodings). In `webrtc` 0.21.1 that swaps the
    /// core's track only; the async sender keeps the `TrackLocal` bound at `add_track`
    /// (rtp_transceiver/rtp_sender.rs `replace_track`), so the player keeps writing through
    /// that binding and switches to the file of the new size, starting at its keyframe.
    pub async fn replace_track(&mut self, name: &str, source: &MediaSource) -> Result<()> {
        let named = self.named_mut(name)?;
        let size = source_size(named.kind, source)?;
        let kind = named.kind;
        let Some(sending) = named.sending.as_mut() else {
            return Err(named_error(
                "InvalidStateError",
                format!("{name:?} has no track to replace (not sending, or removed)"),
            ));
        };
        sending.replaced += 1;
        let parameters = sending.sender.get_parameters().await.map_err(peer_error)?;
        let coding = parameters
            .encodings
            .iter()
            .find(|e| e.rtp_coding_parameters.ssrc == Some(sending.ssrc))
            .cloned()
            .unwrap_or_else(|| encoding(sending.ssrc));
        // Kept, so that the core can unbind the stream it bound (see `pin_codec`).
        let coding = RTCRtpEncodingParameters {
            codec: sending.codec.clone(),
            ..coding
        };
        let track = MediaStreamTrack::new(
            format!("interop-{name}"),
            format!("{name}-{}", sending.replaced),
            format!("{name} (replacement {})", sending.replaced),
            rtc_kind(kind),
            vec![coding],
        );
        sending
            .sender
            .replace_track(Arc::new(TrackLocalStaticRTP::new(track)) as Arc<dyn TrackLocal>)
            .await
            .map_err(peer_error)?;
        let _ = sending.size.send(size);
        Ok(())
    }

    /// `pc.removeTrack(sender)`: the crate drops the sender and clears the send direction.
    pub async fn remove_track(&mut self, pc: &Arc<dyn PeerConnection>, name: &str) -> Result<()> {
        let named = self.named_mut(name)?;
        let Some(sending) = named.sending.take() else {
            // W3C: removing a sender that has no track is a no-op.
            return Ok(());
        };
        pc.remove_track(&sending.sender).await.map_err(peer_error)?;
        drop(sending);
        Ok(())
    }

    /// An RTCP PLI for every SSRC the receiver of the transceiver `mid` receives.
    pub async fn request_key_frame(
        &self,
        pc: &Arc<dyn PeerConnection>,
        context: &MediaContext,
        mid: &str,
    ) -> Result<()> {
        let mut transceiver = None;
        for t in pc.get_transceivers().await {
            if t.mid().await.ok().flatten().as_deref() == Some(mid) {
                transceiver = Some(t);
                break;
            }
        }
        let Some(transceiver) = transceiver else {
            return Err(named_error(
                "InvalidAccessError",
                format!("no transceiver with mid {mid:?}"),
            ));
        };
        let ssrcs: Vec<u32> = context
            .media
            .received
            .get(transceiver.id())
            .map(|r| r.streams.iter().filter_map(|s| s.ssrc).collect())
            .unwrap_or_default();
        let receiver = transceiver.receiver().await.map_err(peer_error)?;
        let (Some(receiver), false) = (receiver, ssrcs.is_empty()) else {
            return Err(named_error(
                "InvalidStateError",
                format!("mid {mid:?} has received no RTP stream yet: no SSRC to send a PLI for"),
            ));
        };
        let packets: Vec<Box<dyn rtc::rtcp::Packet>> = ssrcs
            .into_iter()
            .map(|media_ssrc| {
                Box::new(PictureLossIndication {
                    sender_ssrc: 0,
                    media_ssrc,
                }) as Box<dyn rtc::rtcp::Packet>
            })
            .collect();
        receiver
            .track()
            .write_rtcp(packets)
            .await
            .map_err(peer_error)
    }

    /// Every transceiver, in `getTransceivers()` order (the crate's ids are indices into its
    /// transceiver list; `get_transceivers` returns them unordered).
    pub async fn report(
        &self,
        pc: &Arc<dyn PeerConnection>,
        context: &MediaContext,
    ) -> MediaReport {
        let mut transceivers = pc.get_transceivers().await;
        transceivers.sort_by_key(|t| t.id());
        let tap = &context.media.tap;
        let mut report = MediaReport::default();
        for t in transceivers {
            let id = t.id();
            let named = self.named.iter().find(|n| n.transceiver.id() == id);
            let received = context.media.received.get(id);
            let kind = match (named, &received) {
                (Some(n), _) => Some(n.kind),
                (None, Some(r)) => Some(r.kind),
                (None, None) => transceiver_kind(pc, context, &t).await,
            };
            let Some(kind) = kind else {
                context.outbox.log(
                    "warn",
                    format!("transceiver {id}: kind unknown; left out of the report"),
                );
                continue;
            };
            let has_track = t.sender().await.ok().flatten().is_some();
            let direction = t
                .direction()
                .await
                .map(|d| d.to_string())
                .unwrap_or_else(|_| "stopped".to_owned());
            let current_direction = match t.current_direction().await {
                Ok(RTCRtpTransceiverDirection::Unspecified) | Err(_) => None,
                Ok(d) => Some(d.to_string()),
            };
            let sent = named
                .and_then(|n| n.sent.clone())
                .map(|record| vec![sent_stream(kind, &record, tap)])
                .unwrap_or_default();
            let received = received
                .map(|r| {
                    r.streams
                        .into_iter()
                        .map(|mut s| {
                            if let Some(ssrc) = s.ssrc {
                                let c = tap.get(ssrc);
                                s.nack_sent = Some(c.nack_sent);
                                s.pli_sent = Some(c.pli_sent);
                                s.fir_sent = Some(c.fir_sent);
                            }
                            s
                        })
                        .collect()
                })
                .unwrap_or_default();
            report.transceivers.push(TransceiverReport {
                mid: t.mid().await.ok().flatten(),
                name: named.map(|n| n.name.clone()),
                kind,
                direction,
                current_direction,
                has_track,
                sent,
                received,
            });
        }
        report
    }
}

/// A sender `add_media` made: the sender, its bound track and the track's SSRC.
type NewSender = (Arc<dyn RtpSender>, Arc<TrackLocalStaticRTP>, u32);

/// The transceiver `add_media` uses, and its new sender when it sends.
type Attached = (Arc<dyn RtpTransceiver>, Option<NewSender>);

/// `add_media` reusing a transceiver without sending: only its direction changes.
async fn reuse_receiving(
    transceiver: Arc<dyn RtpTransceiver>,
    direction: RTCRtpTransceiverDirection,
) -> Result<Attached> {
    transceiver
        .set_direction(direction)
        .await
        .map_err(peer_error)?;
    Ok((transceiver, None))
}

/// The crate attaches a track to an existing transceiver only through add_track, which takes
/// the FIRST non-stopped sender-less transceiver of the kind (rtc 0.21.1
/// peer_connection/mod.rs, add_track). It must be `transceiver`; refused otherwise.
async fn refuse_unreachable_reuse(
    pc: &Arc<dyn PeerConnection>,
    context: &MediaContext,
    transceivers: &[Arc<dyn RtpTransceiver>],
    transceiver: &Arc<dyn RtpTransceiver>,
    kind: MediaKind,
) -> Result<()> {
    for t in transceivers {
        if t.id() == transceiver.id() {
            break;
        }
        if t.sender().await.ok().flatten().is_none()
            && transceiver_kind(pc, context, t).await == Some(kind)
        {
            return Err(named_error(
                "NotSupportedError",
                format!(
                    "webrtc 0.21.1 add_track attaches a track to the first \
                     sender-less {} transceiver, which is not the one to reuse \
                     (mid {:?}); reuse of a later one cannot be expressed",
                    kind.as_str(),
                    transceiver.mid().await.ok().flatten()
                ),
            ));
        }
    }
    Ok(())
}

/// `add_media` reusing a transceiver to send: `add_track` (which lands on it, see
/// [`refuse_unreachable_reuse`]), then the direction.
async fn reuse_sending(
    pc: &Arc<dyn PeerConnection>,
    transceiver: Arc<dyn RtpTransceiver>,
    name: &str,
    kind: MediaKind,
    direction: RTCRtpTransceiverDirection,
) -> Result<Attached> {
    let (track, ssrc) = new_track(name, kind, 0);
    let sender = pc
        .add_track(track.clone() as Arc<dyn TrackLocal>)
        .await
        .map_err(peer_error)?;
    transceiver
        .set_direction(direction)
        .await
        .map_err(peer_error)?;
    Ok((transceiver, Some((sender, track, ssrc))))
}

/// `add_media` adding a transceiver that does not send.
async fn add_receiving(
    pc: &Arc<dyn PeerConnection>,
    kind: MediaKind,
    direction: RTCRtpTransceiverDirection,
) -> Result<Attached> {
    // The crate's add_transceiver_from_kind takes recvonly only without
    // sendEncodings; inactive is recvonly then set.
    let transceiver = pc
        .add_transceiver_from_kind(
            rtc_kind(kind),
            Some(RTCRtpTransceiverInit {
                direction: RTCRtpTransceiverDirection::Recvonly,
                streams: vec![],
                send_encodings: vec![],
            }),
        )
        .await
        .map_err(peer_error)?;
    if direction != RTCRtpTransceiverDirection::Recvonly {
        transceiver
            .set_direction(direction)
            .await
            .map_err(peer_error)?;
    }
    Ok((transceiver, None))
}

/// `add_media` adding a transceiver that sends, from a new track.
async fn add_sending(
    pc: &Arc<dyn PeerConnection>,
    name: &str,
    kind: MediaKind,
    direction: RTCRtpTransceiverDirection,
) -> Result<Attached> {
    let (track, ssrc) = new_track(name, kind, 0);
    let transceiver = pc
        .add_transceiver_from_track(
            track.clone() as Arc<dyn TrackLocal>,
            Some(RTCRtpTransceiverInit {
                direction,
                streams: vec![],
                send_encodings: vec![],
            }),
        )
        .await
        .map_err(peer_error)?;
    let sender = transceiver
        .sender()
        .await
        .map_err(peer_error)?
        .ok_or_else(|| named_error("OperationError", "the new transceiver has no sender"))?;
    Ok((transceiver, Some((sender, track, ssrc))))
}

/// `transceiver.setCodecPreferences(preferences)`, `codecs` as the harness named them.
async fn set_preferences(
    transceiver: &Arc<dyn RtpTransceiver>,
    sending: Option<&NewSender>,
    preferences: Vec<RTCRtpCodecParameters>,
    codecs: &[String],
    kind: MediaKind,
) -> Result<()> {
    // The crate keeps the payload types of the preferences as given (see
    // `codecs::renumber`): give it those its sender already uses.
    let current = match sending {
        Some((sender, _, _)) => sender
            .get_parameters()
            .await
            .map(|p| p.rtp_parameters.codecs)
            .unwrap_or_default(),
        None => Vec::new(),
    };
    transceiver
        .set_codec_preferences(codecs::renumber(preferences, &current))
        .await
        .map_err(|e| {
            named_error(
                "NotSupportedError",
                format!(
                    "set_codec_preferences({codecs:?}) failed: {e}; {}",
                    codecs::registered_summary(kind)
                ),
            )
        })
}

/// The [`Named`] entry for a transceiver `add_media` set up; a sending one gets its codec
/// pinned and its player started.
async fn name_transceiver(
    context: &MediaContext,
    name: String,
    kind: MediaKind,
    transceiver: Arc<dyn RtpTransceiver>,
    sending: Option<NewSender>,
    pinned: RTCRtpCodec,
    size: Option<(u32, u32)>,
) -> Result<Named> {
    let mut named = Named {
        name: name.clone(),
        kind,
        transceiver: transceiver.clone(),
        sending: None,
        sent: None,
    };
    if let Some((sender, track, ssrc)) = sending {
        pin_codec(&sender, &name, kind, ssrc, &pinned).await?;
        let (mut sending, record) =
            start_player(context, &name, transceiver, sender, track, ssrc, size).await;
        sending.codec = pinned;
        named.sending = Some(sending);
        named.sent = Some(record);
    }
    Ok(named)
}

fn sent_stream(kind: MediaKind, record: &SentRecord, tap: &TapCounters) -> SentStream {
    let stats: SendStats = record
        .stats
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let c = tap.get(record.ssrc);
    let rtx = record.rtx_ssrc.map(|s| tap.get(s)).unwrap_or_default();
    let video = kind == MediaKind::Video;
    SentStream {
        ssrc: Some(record.ssrc),
        rid: None,
        codec: stats.codec.map(|c| c.mime().to_owned()),
        payload_type: stats.payload_type,
        packets: c.rtp_packets_sent,
        bytes: c.rtp_bytes_sent,
        frames: video.then_some(stats.frames),
        keyframes: video.then_some(stats.keyframes),
        frame_width: stats.size.map(|s| s.0),
        frame_height: stats.size.map(|s| s.1),
        nack_received: Some(c.nack_received),
        pli_received: Some(c.pli_received),
        fir_received: Some(c.fir_received),
        retransmitted_packets: Some(c.retransmitted_sent + rtx.retransmitted_sent),
    }
}

fn encoding(ssrc: u32) -> RTCRtpEncodingParameters {
    RTCRtpEncodingParameters {
        rtp_coding_parameters: RTCRtpCodingParameters {
            ssrc: Some(ssrc),
            ..Default::default()
        },
        active: true,
        // No codec here: a codec in the track's encodings would become the transceiver's
        // codec preferences (rtc 0.21.1 codec_preferences_from_encodings).
        ..Default::default()
    }
}

/// Puts `codec` on the encoding of the core's copy of the sender's track (same ids, same
/// SSRC and RTX SSRC), through `replace_track`, which swaps the core's track only.
///
/// The core binds a sent stream to the interceptors (NACK responder send buffer, RTX, sender
/// reports) only if the track encoding's codec matches a negotiated one (rtc 0.21.1
/// rtp_sender/internal.rs `interceptor_local_streams_op`: `codec_parameters_fuzzy_search(
/// &coding.codec, ..)` then `match_type != CodecMatch::None`); with the codec-less encoding of
/// `new_track` it binds nothing, and NACKs find no buffered packet to resend. The codec cannot
/// go in `new_track`'s encoding instead: add_track / add_transceiver_from_track would turn it
/// into codec preferences (`codec_preferences_from_encodings`). It is the first forced codec,
/// else the kind's first default (VP8 / opus), the first codec of the offers the peers make;
/// the player sends the first negotiated one.
async fn pin_codec(
    sender: &Arc<dyn RtpSender>,
    name: &str,
    kind: MediaKind,
    ssrc: u32,
    codec: &RTCRtpCodec,
) -> Result<()> {
    let parameters = sender.get_parameters().await.map_err(peer_error)?;
    let coding = parameters
        .encodings
        .iter()
        .find(|e| e.rtp_coding_parameters.ssrc == Some(ssrc))
        .cloned()
        .unwrap_or_else(|| encoding(ssrc));
    let track = MediaStreamTrack::new(
        format!("interop-{name}"),
        format!("{name}-0"),
        name.to_owned(),
        rtc_kind(kind),
        vec![RTCRtpEncodingParameters {
            codec: codec.clone(),
            ..coding
        }],
    );
    sender
        .replace_track(Arc::new(TrackLocalStaticRTP::new(track)) as Arc<dyn TrackLocal>)
        .await
        .map_err(peer_error)
}

/// A local track for `name` with a fresh SSRC; the codec is chosen by negotiation.
fn new_track(name: &str, kind: MediaKind, generation: u32) -> (Arc<TrackLocalStaticRTP>, u32) {
    let ssrc = loop {
        let ssrc = (u32::from(send_rand()) << 16) | u32::from(send_rand());
        if ssrc != 0 {
            break ssrc;
        }
    };
    let track = MediaStreamTrack::new(
        format!("interop-{name}"),
        format!("{name}-{generation}"),
        name.to_owned(),
        rtc_kind(kind),
        vec![encoding(ssrc)],
    );
    (Arc::new(TrackLocalStaticRTP::new(track)), ssrc)
}

fn send_rand() -> u16 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u8(0);
    hasher.finish() as u16
}

async fn start_player(
    context: &MediaContext,
    name: &str,
    transceiver: Arc<dyn RtpTransceiver>,
    sender: Arc<dyn RtpSender>,
    track: Arc<TrackLocalStaticRTP>,
    ssrc: u32,
    size: Option<(u32, u32)>,
) -> (Sending, SentRecord) {
    let rtx_ssrc = sender.get_parameters().await.ok().and_then(|p| {
        p.encodings
            .iter()
            .find(|e| e.rtp_coding_parameters.ssrc == Some(ssrc))
            .and_then(|e| e.rtp_coding_parameters.rtx.as_ref().map(|r| r.ssrc))
    });
    let stats = SharedStats::default();
    let (size_tx, size_rx) = watch::channel(size);
    let player = Player {
        transceiver,
        sender: sender.clone(),
        track,
        ssrc,
        size: size_rx,
        connected: context.media.connected.subscribe(),
        tap: context.media.tap.clone(),
        stats: stats.clone(),
        outbox: context.outbox.clone(),
        name: name.to_owned(),
    };
    let task = tokio::spawn(player.run());
    (
        Sending {
            sender,
            ssrc,
            size: size_tx,
            task,
            replaced: 0,
            codec: RTCRtpCodec::default(),
        },
        SentRecord {
            ssrc,
            rtx_ssrc,
            stats,
        },
    )
}

/// The kind of a transceiver: its sender's track, else its `m=` line in the descriptions (the
/// crate's transceiver handle has no `kind`).
async fn transceiver_kind(
    pc: &Arc<dyn PeerConnection>,
    context: &MediaContext,
    t: &Arc<dyn RtpTransceiver>,
) -> Option<MediaKind> {
    if let Some(sender) = t.sender().await.ok().flatten() {
        return receive::media_kind(sender.track().kind().await);
    }
    if let Some(r) = context.media.received.get(t.id()) {
        return Some(r.kind);
    }
    let mid = t.mid().await.ok().flatten()?;
    for description in [pc.remote_description().await, pc.local_description().await]
        .into_iter()
        .flatten()
    {
        if let Some(kind) = kind_of_mid(&description.sdp, &mid) {
            return Some(kind);
        }
    }
    None
}

/// The media kind of the `m=` section with `a=mid:<mid>` in an SDP.
fn kind_of_mid(sdp: &str, mid: &str) -> Option<MediaKind> {
    let mut kind = None;
    for line in sdp.lines() {
        let line = line.trim_end();
        if let Some(media) = line.strip_prefix("m=") {
            kind = match media.split(' ').next() {
                Some("audio") => Some(MediaKind::Audio),
                Some("video") => Some(MediaKind::Video),
                _ => None,
            };
        } else if line.strip_prefix("a=mid:") == Some(mid) {
            return kind;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_of_mid_reads_the_m_line_of_the_mid() {
        let sdp = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n\
                   m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\n\
                   m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:2\r\n";
        assert_eq!(kind_of_mid(sdp, "0"), Some(MediaKind::Audio));
        assert_eq!(kind_of_mid(sdp, "1"), Some(MediaKind::Video));
        assert_eq!(kind_of_mid(sdp, "2"), None);
        assert_eq!(kind_of_mid(sdp, "9"), None);
    }

    #[test]
    fn directions_are_the_w3c_names() {
        assert_eq!(
            direction("sendrecv").unwrap(),
            RTCRtpTransceiverDirection::Sendrecv
        );
        assert_eq!(direction("inactive").unwrap().to_string(), "inactive");
        assert_eq!(direction("both").unwrap_err().name, "TypeError");
    }

    #[test]
    fn a_size_without_a_file_is_not_supported() {
        let err = source_size(
            MediaKind::Video,
            &MediaSource {
                width: Some(640),
                height: Some(480),
            },
        )
        .unwrap_err();
        assert_eq!(err.name, "NotSupportedError");
        assert!(err.message.contains("vp8-160x120.ivf"), "{}", err.message);
        assert_eq!(
            source_size(
                MediaKind::Video,
                &MediaSource {
                    width: Some(160),
                    height: Some(120)
                }
            )
            .unwrap(),
            Some((160, 120))
        );
    }
}
