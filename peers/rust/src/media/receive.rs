//! The receiving side: one task per remote track reads its RTP ([`watch_track`]), counts it per
//! SSRC, reassembles frames with `rtc`'s depacketizers and checks keyframes with
//! [`bitstream`](super::bitstream). There is no decoder: `frames` counts complete frames
//! depacketized after the first valid keyframe.
//!
//! ```text
//!  TrackRemote::poll --OnOpen(init)--> Event::Track {mid, kind}, stream (ssrc, rid)
//!                    --OnRtpPacket--> counters -> Assembler (per SSRC, by timestamp)
//!                                              -> complete frame -> depacketize -> keyframe?
//! ```

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};
use interop_protocol::{Event, MediaKind, ReceivedStream};
use rtc::rtp::codec::av1::Av1Depacketizer;
use rtc::rtp::codec::h264::H264Packet;
use rtc::rtp::codec::vp8::Vp8Packet;
use rtc::rtp::codec::vp9::Vp9Packet;
use rtc::rtp::packetizer::Depacketizer;
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::rtp_transceiver::RtpTransceiver;

use super::bitstream;
use super::source::Codec;
use crate::media::MediaContext;

/// What every remote track received, by transceiver id (`RtpTransceiver::id`), one entry per
/// SSRC in arrival order. Shared by the track tasks and the media report.
#[derive(Debug, Clone, Default)]
pub struct ReceiveLog(Arc<Mutex<BTreeMap<usize, ReceivedTransceiver>>>);

#[derive(Debug, Clone)]
pub struct ReceivedTransceiver {
    pub kind: MediaKind,
    pub streams: Vec<ReceivedStream>,
}

impl ReceiveLog {
    pub fn get(&self, transceiver: usize) -> Option<ReceivedTransceiver> {
        self.lock().get(&transceiver).cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<usize, ReceivedTransceiver>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn stream<R>(
        &self,
        transceiver: usize,
        kind: MediaKind,
        ssrc: u32,
        f: impl FnOnce(&mut ReceivedStream) -> R,
    ) -> R {
        let mut log = self.lock();
        let entry = log.entry(transceiver).or_insert(ReceivedTransceiver {
            kind,
            streams: Vec::new(),
        });
        let index = match entry.streams.iter().position(|s| s.ssrc == Some(ssrc)) {
            Some(index) => index,
            None => {
                entry.streams.push(ReceivedStream {
                    ssrc: Some(ssrc),
                    ..Default::default()
                });
                entry.streams.len() - 1
            }
        };
        f(&mut entry.streams[index])
    }
}

pub fn media_kind(kind: RtpCodecKind) -> Option<MediaKind> {
    match kind {
        RtpCodecKind::Audio => Some(MediaKind::Audio),
        RtpCodecKind::Video => Some(MediaKind::Video),
        _ => None,
    }
}

/// Reads one remote track until it ends. Announces it with `Event::Track` on its first
/// `OnOpen` (which `webrtc` 0.21.1 queues before calling `on_track`: the first RTP packet of
/// the stream opened it).
pub async fn watch_track(track: Arc<dyn TrackRemote>, context: MediaContext) {
    let Some(kind) = media_kind(track.kind().await) else {
        context
            .outbox
            .log("warn", "remote track of unknown kind ignored");
        return;
    };
    let log = context.media.received.clone();
    let mut transceiver: Option<(usize, Option<Arc<dyn RtpTransceiver>>)> = None;
    let mut streams: HashMap<u32, StreamWork> = HashMap::new();
    while let Some(event) = track.poll().await {
        match event {
            TrackRemoteEvent::OnOpen(init) => {
                let id: usize = init.receiver_id.into();
                if transceiver.is_none() {
                    let found = find_transceiver(&context, id).await;
                    let mid = match &found {
                        Some(t) => t.mid().await.ok().flatten(),
                        None => None,
                    };
                    context.outbox.event(Event::Track { mid, kind });
                    transceiver = Some((id, found));
                }
                let rid = init.rid.clone().or(track.rid(init.ssrc).await);
                log.stream(id, kind, init.ssrc, |s| {
                    if s.rid.is_none() {
                        s.rid = rid;
                    }
                });
            }
            TrackRemoteEvent::OnRtpPacket(packet) => {
                let Some((id, found)) = &transceiver else {
                    // The crate sends OnOpen first; without it there is nowhere to file this.
                    continue;
                };
                let ssrc = packet.header.ssrc;
                let pt = packet.header.payload_type;
                if !streams.contains_key(&ssrc) || streams[&ssrc].payload_type != pt {
                    let mime = codec_mime(found.as_ref(), pt).await;
                    if mime
                        .as_deref()
                        .is_some_and(|m| m.to_ascii_lowercase().ends_with("/rtx"))
                    {
                        // A retransmission stream the crate did not fold back: not media.
                        continue;
                    }
                    let rid = track.rid(ssrc).await;
                    let work = streams.entry(ssrc).or_default();
                    work.payload_type = pt;
                    work.codec = mime.as_deref().and_then(Codec::from_mime);
                    log.stream(*id, kind, ssrc, |s| {
                        s.payload_type = Some(pt);
                        s.codec = mime;
                        if s.rid.is_none() {
                            s.rid = rid;
                        }
                        if work.codec.is_some_and(Codec::is_video) {
                            s.frames.get_or_insert(0);
                            s.keyframes.get_or_insert(0);
                        }
                    });
                }
                let Some(work) = streams.get_mut(&ssrc) else {
                    continue;
                };
                let now = context.outbox.now_ms();
                let frame = work.push(&packet);
                log.stream(*id, kind, ssrc, |s| {
                    s.packets += 1;
                    s.bytes += packet.payload.len() as u64;
                    s.first_packet_t.get_or_insert(now);
                    work.report(s, &packet.payload, frame, now);
                });
            }
            TrackRemoteEvent::OnEnded => break,
            _ => {}
        }
    }
}

async fn find_transceiver(context: &MediaContext, id: usize) -> Option<Arc<dyn RtpTransceiver>> {
    let pc = context.peer_connection.get()?.upgrade()?;
    pc.get_transceivers()
        .await
        .into_iter()
        .find(|t| t.id() == id)
}

/// The MIME type the receiver negotiated for payload type `pt`.
async fn codec_mime(transceiver: Option<&Arc<dyn RtpTransceiver>>, pt: u8) -> Option<String> {
    let receiver = transceiver?.receiver().await.ok().flatten()?;
    let parameters = receiver.get_parameters().await.ok()?;
    parameters
        .rtp_parameters
        .codecs
        .iter()
        .find(|c| c.payload_type == pt)
        .map(|c| c.rtp_codec.mime_type.clone())
}

/// Per-SSRC receive state that is not part of the report.
#[derive(Default)]
struct StreamWork {
    payload_type: u8,
    codec: Option<Codec>,
    assembler: Assembler,
    keyframe_seen: bool,
}

impl StreamWork {
    /// Feeds a packet to the assembler; returns the depacketized frame it completed, if any.
    fn push(&mut self, packet: &rtc::rtp::Packet) -> Option<Bytes> {
        let codec = self.codec.filter(|c| c.is_video())?;
        let payloads = self.assembler.push(
            packet.header.sequence_number,
            packet.header.timestamp,
            packet.header.marker,
            packet.payload.clone(),
            |payload| is_partition_head(codec, payload),
        )?;
        depacketize(codec, &payloads)
    }

    fn report(&mut self, s: &mut ReceivedStream, payload: &Bytes, frame: Option<Bytes>, now: f64) {
        match self.codec {
            Some(Codec::Opus) => {
                s.evidence = s.evidence.take().or_else(|| bitstream::opus_toc(payload));
            }
            Some(codec @ (Codec::Pcmu | Codec::Pcma)) => {
                // G.711 has no header: the evidence is the payload size at 8 kHz.
                s.evidence = Some(format!(
                    "{} {}-byte payloads ({} ms at 8 kHz)",
                    if codec == Codec::Pcmu { "PCMU" } else { "PCMA" },
                    payload.len(),
                    payload.len() / 8
                ));
            }
            Some(codec) => {
                let Some(frame) = frame else { return };
                if let Some(key) = codec.keyframe(&frame) {
                    self.keyframe_seen = true;
                    *s.keyframes.get_or_insert(0) += 1;
                    s.frame_width = key.width;
                    s.frame_height = key.height;
                    s.evidence = Some(key.evidence);
                    s.first_frame_t.get_or_insert(now);
                }
                if self.keyframe_seen {
                    *s.frames.get_or_insert(0) += 1;
                }
            }
            None => {}
        }
    }
}

fn is_partition_head(codec: Codec, payload: &Bytes) -> bool {
    match codec {
        Codec::Vp8 => Vp8Packet::default().is_partition_head(payload),
        Codec::Vp9 => Vp9Packet::default().is_partition_head(payload),
        Codec::H264 => H264Packet::default().is_partition_head(payload),
        Codec::Av1 => Av1Depacketizer::new().is_partition_head(payload),
        _ => true,
    }
}

/// One frame's payloads, in sequence order, through a fresh depacketizer.
fn depacketize(codec: Codec, payloads: &[Bytes]) -> Option<Bytes> {
    fn run(d: &mut impl Depacketizer, payloads: &[Bytes]) -> Option<Bytes> {
        let mut frame = BytesMut::new();
        for payload in payloads {
            frame.extend_from_slice(&d.depacketize(payload).ok()?);
        }
        Some(frame.freeze())
    }
    match codec {
        Codec::Vp8 => run(&mut Vp8Packet::default(), payloads),
        Codec::Vp9 => run(&mut Vp9Packet::default(), payloads),
        Codec::H264 => run(&mut H264Packet::default(), payloads),
        Codec::Av1 => run(&mut Av1Depacketizer::new(), payloads),
        _ => None,
    }
}

/// How far behind the newest packet an incomplete frame may fall before it is dropped.
const REORDER_WINDOW: u64 = 512;

/// Collects the packets of each frame (one RTP timestamp) and hands them over once the frame
/// is complete: a marker packet, no gap in sequence numbers, and a first packet that starts a
/// partition and follows a packet of another frame (or starts the stream). Tolerates
/// reordering and late retransmissions within [`REORDER_WINDOW`].
#[derive(Default)]
struct Assembler {
    /// Extended sequence number of the newest packet.
    newest: Option<u64>,
    first: Option<u64>,
    /// Extended sequence number -> RTP timestamp, for recent packets.
    timestamps: BTreeMap<u64, u32>,
    pending: HashMap<u32, BTreeMap<u64, (Bytes, bool)>>,
}

impl Assembler {
    fn extend(&mut self, seq: u16) -> u64 {
        let Some(newest) = self.newest else {
            // Start high so that early reordered packets do not underflow.
            return (1 << 32) + u64::from(seq);
        };
        let base = newest & !0xffff;
        let candidates = [
            base.wrapping_sub(0x1_0000) | u64::from(seq),
            base | u64::from(seq),
            (base + 0x1_0000) | u64::from(seq),
        ];
        candidates
            .into_iter()
            .min_by_key(|c| c.abs_diff(newest))
            .unwrap_or(base | u64::from(seq))
    }

    fn push(
        &mut self,
        seq: u16,
        timestamp: u32,
        marker: bool,
        payload: Bytes,
        is_head: impl Fn(&Bytes) -> bool,
    ) -> Option<Vec<Bytes>> {
        let ext = self.extend(seq);
        self.newest = Some(self.newest.map_or(ext, |n| n.max(ext)));
        self.first = Some(self.first.map_or(ext, |f| f.min(ext)));
        self.timestamps.insert(ext, timestamp);
        self.pending
            .entry(timestamp)
            .or_default()
            .insert(ext, (payload, marker));
        self.prune();

        let packets = self.pending.get(&timestamp)?;
        let (&lowest, (head, _)) = packets.first_key_value()?;
        let (&highest, (_, last_marker)) = packets.last_key_value()?;
        let contiguous = (highest - lowest + 1) as usize == packets.len();
        let starts_frame = Some(lowest) == self.first
            || self
                .timestamps
                .get(&(lowest - 1))
                .is_some_and(|&ts| ts != timestamp);
        if !(*last_marker && contiguous && starts_frame && is_head(head)) {
            return None;
        }
        let packets = self.pending.remove(&timestamp)?;
        Some(packets.into_values().map(|(payload, _)| payload).collect())
    }

    fn prune(&mut self) {
        let Some(newest) = self.newest else { return };
        let horizon = newest.saturating_sub(REORDER_WINDOW);
        self.pending.retain(|_, packets| {
            packets
                .last_key_value()
                .is_some_and(|(&last, _)| last >= horizon)
        });
        while self
            .timestamps
            .first_key_value()
            .is_some_and(|(&seq, _)| seq + 2 * REORDER_WINDOW < newest)
        {
            self.timestamps.pop_first();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push(a: &mut Assembler, seq: u16, ts: u32, marker: bool, byte: u8) -> Option<Vec<u8>> {
        a.push(seq, ts, marker, Bytes::from(vec![byte]), |_| true)
            .map(|p| p.iter().map(|b| b[0]).collect())
    }

    #[test]
    fn frames_complete_in_order_across_the_sequence_wrap() {
        let mut a = Assembler::default();
        assert_eq!(push(&mut a, 65534, 100, false, 1), None);
        assert_eq!(push(&mut a, 65535, 100, true, 2), Some(vec![1, 2]));
        assert_eq!(push(&mut a, 0, 200, false, 3), None);
        assert_eq!(push(&mut a, 1, 200, true, 4), Some(vec![3, 4]));
    }

    #[test]
    fn a_reordered_frame_completes_when_its_gap_fills() {
        let mut a = Assembler::default();
        assert_eq!(push(&mut a, 10, 100, true, 1), Some(vec![1]));
        assert_eq!(push(&mut a, 11, 200, false, 2), None);
        assert_eq!(push(&mut a, 13, 200, true, 4), None, "12 missing");
        assert_eq!(push(&mut a, 12, 200, false, 3), Some(vec![2, 3, 4]));
    }

    #[test]
    fn a_frame_whose_start_is_lost_never_completes() {
        let mut a = Assembler::default();
        assert_eq!(push(&mut a, 10, 100, true, 1), Some(vec![1]));
        // 11 (the start of frame 200) is lost; 12 alone is not a frame.
        assert_eq!(push(&mut a, 12, 200, true, 3), None);
        assert_eq!(push(&mut a, 13, 300, true, 4), Some(vec![4]));
    }
}
