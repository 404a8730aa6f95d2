//! The sending side: one task per sending transceiver plays a [`Clip`] at real-time pace
//! through the sender's bound track, packetizing with `rtc`'s payloader for the codec the
//! sender actually negotiated.
//!
//! ```text
//!  wait: connected + negotiated codec (sender.get_parameters, first non-repair codec)
//!    -> load the file of that codec and the requested size (ReplaceTrack changes the size)
//!    -> each frame: PLI/FIR counted by the tap since the last frame? restart at frame 0
//!       (the file's only keyframe) -> payloader -> RTP (own seq / timestamp, continuous
//!       across loops and restarts) -> TrackLocal::write_rtp -> sleep until the next frame
//! ```

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rtc::rtp;
use rtc::rtp::packetizer::Payloader;
use rtc::rtp_transceiver::rtp_sender::{RTCRtpCodecParameters, RTCRtpSendParameters};
use tokio::sync::watch;
use tokio::time::Instant;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::rtp_transceiver::{RtpSender, RtpTransceiver};

use super::source::{self, Clip, Codec};
use super::tap::TapCounters;
use crate::outbox::Outbox;

/// RTP packet size the payloaders aim for (the crate's own sample track uses 1200).
const RTP_MTU: usize = 1200;
const RTP_HEADER: usize = 12;
/// How often to look again while waiting for the connection or a negotiated codec.
const RECHECK: Duration = Duration::from_millis(20);

/// What the sending task reports.
#[derive(Debug, Clone, Default)]
pub struct SendStats {
    pub codec: Option<Codec>,
    pub payload_type: Option<u8>,
    pub frames: u64,
    pub keyframes: u64,
    pub size: Option<(u32, u32)>,
    pub file: Option<&'static str>,
    /// Keyframe requests (PLI + FIR) answered by restarting at the keyframe.
    pub keyframe_requests_answered: u64,
}

pub type SharedStats = Arc<Mutex<SendStats>>;

/// Everything the task needs.
pub struct Player {
    pub transceiver: Arc<dyn RtpTransceiver>,
    pub sender: Arc<dyn RtpSender>,
    pub track: Arc<TrackLocalStaticRTP>,
    pub ssrc: u32,
    /// Requested video size (`None`: the default).
    pub size: watch::Receiver<Option<(u32, u32)>>,
    pub connected: watch::Receiver<bool>,
    pub tap: TapCounters,
    pub stats: SharedStats,
    pub outbox: Outbox,
    pub name: String,
}

/// The file being played and where.
struct Playing {
    clip: Clip,
    payload_type: u8,
    payloader: Box<dyn Payloader>,
    next: usize,
    requested_size: Option<(u32, u32)>,
}

fn is_repair(mime: &str) -> bool {
    let mime = mime.to_ascii_lowercase();
    ["/rtx", "/red", "/ulpfec", "/flexfec-03", "/flexfec"]
        .iter()
        .any(|suffix| mime.ends_with(suffix))
}

/// RTP numbering and pace: the sequence number and timestamp run on across loops, restarts
/// and file changes; `next_frame` is when the next frame is due.
struct RtpClock {
    sequence: u16,
    timestamp: u32,
    next_frame: Instant,
}

impl RtpClock {
    fn new() -> Self {
        let sequence = rand_u16();
        let timestamp = (u32::from(rand_u16()) << 16) | u32::from(rand_u16());
        RtpClock {
            sequence,
            timestamp,
            next_frame: Instant::now(),
        }
    }

    /// Past the frame `play` is at (sent or not: the timestamp runs on while not sending, as
    /// a live source's would), to the next one and its deadline.
    fn advance(&mut self, play: &mut Playing) {
        let frame_duration = play.clip.frame_duration;
        self.timestamp = self
            .timestamp
            .wrapping_add(play.clip.frames[play.next].ticks);
        play.next = (play.next + 1) % play.clip.frames.len();
        self.next_frame += frame_duration;
        let now = Instant::now();
        if self.next_frame + frame_duration * 5 < now {
            // Far behind (a stalled runtime): resume the pace from now instead of bursting.
            self.next_frame = now;
        }
    }
}

/// The first negotiated codec that is not a repair format: the one media is sent with.
fn negotiated_codec(parameters: &RTCRtpSendParameters) -> Option<RTCRtpCodecParameters> {
    parameters
        .rtp_parameters
        .codecs
        .iter()
        .find(|c| !is_repair(&c.rtp_codec.mime_type))
        .cloned()
}

impl Player {
    pub async fn run(mut self) {
        let mut clock = RtpClock::new();
        let mut playing: Option<Playing> = None;
        let mut answered = self.tap.get(self.ssrc).keyframe_requests();
        let mut complained: Option<String> = None;
        loop {
            if !*self.connected.borrow_and_update() {
                if self.connected.changed().await.is_err() {
                    return;
                }
                continue;
            }
            // The sender goes away with remove_track or close.
            let Ok(parameters) = self.sender.get_parameters().await else {
                return;
            };
            let Some(negotiated) = negotiated_codec(&parameters) else {
                tokio::time::sleep(RECHECK).await;
                continue;
            };
            if let Err(problem) = self.follow(&negotiated, &mut playing, &mut clock) {
                if complained.as_ref() != Some(&problem) {
                    self.outbox.log("error", problem.clone());
                    complained = Some(problem);
                }
                tokio::time::sleep(RECHECK * 10).await;
                continue;
            }
            let Some(play) = playing.as_mut() else {
                continue;
            };
            let sending = self
                .transceiver
                .current_direction()
                .await
                .is_ok_and(|d| d.has_send());
            if sending && !self.send_frame(play, &mut clock, &mut answered).await {
                // Unbound: the track was removed or the connection closed.
                return;
            }
            clock.advance(play);
            tokio::time::sleep_until(clock.next_frame).await;
        }
    }

    /// Makes `playing` the file of the `negotiated` codec and the requested size, loading it
    /// when either changed (a new file starts at its keyframe, as an encoder restarts). The
    /// error is the problem to log: no file or payloader for the codec.
    fn follow(
        &self,
        negotiated: &RTCRtpCodecParameters,
        playing: &mut Option<Playing>,
        clock: &mut RtpClock,
    ) -> Result<(), String> {
        let requested_size = *self.size.borrow();
        let current = playing
            .as_ref()
            .map(|p| (p.clip.codec.mime(), p.payload_type, p.requested_size));
        let Some(codec) = Codec::from_mime(&negotiated.rtp_codec.mime_type) else {
            return Err(format!(
                "{}: negotiated {} but the Rust peer has no file for it; sending nothing",
                self.name, negotiated.rtp_codec.mime_type
            ));
        };
        if current == Some((codec.mime(), negotiated.payload_type, requested_size)) {
            return Ok(());
        }
        let loaded = source::load(codec, requested_size).and_then(|clip| {
            let payloader = negotiated
                .rtp_codec
                .payloader()
                .map_err(|e| format!("no payloader for {}: {e}", codec.mime()))?;
            Ok((clip, payloader))
        });
        let (clip, payloader) = loaded.map_err(|problem| format!("{}: {problem}", self.name))?;
        {
            let mut stats = self.stats.lock().unwrap_or_else(|e| e.into_inner());
            stats.codec = Some(codec);
            stats.payload_type = Some(negotiated.payload_type);
            stats.file = Some(clip.file);
        }
        *playing = Some(Playing {
            clip,
            payload_type: negotiated.payload_type,
            payloader,
            next: 0,
            requested_size,
        });
        clock.next_frame = Instant::now();
        Ok(())
    }

    /// Sends the frame `play` is at, after going back to the keyframe if a keyframe request
    /// came in since the last frame (`answered` counts those seen). `false` when the track is
    /// no longer bound.
    async fn send_frame(
        &self,
        play: &mut Playing,
        clock: &mut RtpClock,
        answered: &mut u64,
    ) -> bool {
        let requests = self.tap.get(self.ssrc).keyframe_requests();
        let restart = restart_for_requests(requests, answered, play.clip.codec.is_video());
        if restart {
            play.next = 0;
        }
        let frame = &play.clip.frames[play.next];
        let payloads = match play.payloader.payload(RTP_MTU - RTP_HEADER, &frame.data) {
            Ok(payloads) => payloads,
            Err(e) => {
                self.outbox
                    .log("error", format!("{}: packetizing failed: {e}", self.name));
                Vec::new()
            }
        };
        let count = payloads.len();
        for (i, payload) in payloads.into_iter().enumerate() {
            let packet = rtp::Packet {
                header: rtp::header::Header {
                    version: 2,
                    marker: i + 1 == count,
                    payload_type: play.payload_type,
                    sequence_number: clock.sequence,
                    timestamp: clock.timestamp,
                    ssrc: self.ssrc,
                    ..Default::default()
                },
                payload,
            };
            clock.sequence = clock.sequence.wrapping_add(1);
            if self.track.write_rtp(packet).await.is_err() {
                return false;
            }
        }
        let mut stats = self.stats.lock().unwrap_or_else(|e| e.into_inner());
        if restart {
            stats.keyframe_requests_answered += 1;
        }
        if play.clip.codec.is_video() {
            stats.frames += 1;
            if let Some(key) = &frame.keyframe {
                stats.keyframes += 1;
                stats.size = key.width.zip(key.height);
            }
        }
        true
    }
}

/// Whether the next video frame goes back to the clip's keyframe (its frame 0): a keyframe
/// request (PLI or FIR) came in since the last frame. `requests` is the count received so far,
/// `answered` the count already seen, brought up to date. Audio has no keyframes to go back to.
fn restart_for_requests(requests: u64, answered: &mut u64, video: bool) -> bool {
    let new = requests > *answered;
    *answered = (*answered).max(requests);
    new && video
}

/// A random 16-bit value from the std hasher's per-process keys (no `rand` dependency).
fn rand_u16() -> u16 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or_default(),
    );
    hasher.finish() as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_keyframe_request_restarts_video_at_the_keyframe_once() {
        let mut answered = 0;
        assert!(
            !restart_for_requests(0, &mut answered, true),
            "no request yet"
        );
        assert!(
            restart_for_requests(1, &mut answered, true),
            "a new request"
        );
        assert_eq!(answered, 1);
        assert!(
            !restart_for_requests(1, &mut answered, true),
            "answered already"
        );
        assert!(
            restart_for_requests(3, &mut answered, true),
            "two more at once"
        );
        assert!(!restart_for_requests(4, &mut answered, false), "audio");
        assert_eq!(answered, 4, "audio's requests count as seen");
    }

    #[test]
    fn repair_codecs_are_not_media() {
        assert!(is_repair("video/rtx"));
        assert!(is_repair("video/RTX"));
        assert!(is_repair("audio/red"));
        assert!(!is_repair("video/VP8"));
    }
}
