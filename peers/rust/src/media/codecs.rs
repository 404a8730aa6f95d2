//! Codecs: what `webrtc` 0.21.1 registers and what `add_media`'s `codecs` may force.
//!
//! The peer registers the crate's defaults (`MediaEngine::register_default_codecs`, rtc 0.21.1
//! configuration/media_engine.rs): audio opus/111, G722/9, PCMU/0, PCMA/8; video VP8/96,
//! VP9 profile-id=0/98 and profile-id=1/100, H264 42001f and 42e01f in packetization-mode 1
//! and 0 plus 640032 mode 1, AV1/41, H265/126, each video codec with an RTX entry. All seven
//! codecs this peer handles are among them; none had to be added. The crate has no public
//! list of what a `MediaEngine` holds, so [`REGISTERED`] restates it for error messages; the
//! forced preferences below are still checked by the crate itself (`set_codec_preferences`
//! fails for a codec it does not have, and that failure is reported as NotSupportedError).
//!
//! Forcing a MIME type forces the entries of it this peer can send: VP9 profile 0 only (its
//! files are profile 0), H.264 packetization-mode 1 only (the H.264 payloader fragments with
//! FU-A, which mode 0 forbids). The crate adds the RTX entries of the kept codecs itself
//! (rtc 0.21.1 rtp_receiver/internal.rs `get_codecs`: "Repair codecs survive the filter").

use interop_protocol::{MediaKind, PeerError};
use rtc::rtp_transceiver::rtp_sender::{RTCRtpCodec, RTCRtpCodecParameters};

use super::source::Codec;
use crate::w3c::named_error;

/// The crate's default registrations as `mime fmtp`, per kind.
pub const REGISTERED: [(MediaKind, &str); 14] = [
    (MediaKind::Audio, "audio/opus"),
    (MediaKind::Audio, "audio/G722"),
    (MediaKind::Audio, "audio/PCMU"),
    (MediaKind::Audio, "audio/PCMA"),
    (MediaKind::Video, "video/VP8"),
    (MediaKind::Video, "video/VP9 profile-id=0"),
    (MediaKind::Video, "video/VP9 profile-id=1"),
    (
        MediaKind::Video,
        "video/H264 profile-level-id=42001f;packetization-mode=1",
    ),
    (
        MediaKind::Video,
        "video/H264 profile-level-id=42001f;packetization-mode=0",
    ),
    (
        MediaKind::Video,
        "video/H264 profile-level-id=42e01f;packetization-mode=1",
    ),
    (
        MediaKind::Video,
        "video/H264 profile-level-id=42e01f;packetization-mode=0",
    ),
    (
        MediaKind::Video,
        "video/H264 profile-level-id=640032;packetization-mode=1",
    ),
    (MediaKind::Video, "video/AV1 profile-id=0"),
    (MediaKind::Video, "video/H265"),
];

/// The evidence for a codec this peer cannot force.
pub fn registered_summary(kind: MediaKind) -> String {
    let registered: Vec<&str> = REGISTERED
        .iter()
        .filter(|(k, _)| *k == kind)
        .map(|(_, c)| *c)
        .collect();
    let handled: Vec<&str> = Codec::ALL
        .iter()
        .filter(|c| c.is_video() == (kind == MediaKind::Video))
        .map(|c| c.mime())
        .collect();
    format!(
        "webrtc 0.21.1 registers (register_default_codecs) {} codecs: {} (+ rtx); the Rust peer \
         sends and checks {}",
        kind.as_str(),
        registered.join(", "),
        handled.join(", ")
    )
}

fn codec(mime: &str, clock_rate: u32, channels: u16, fmtp: &str, pt: u8) -> RTCRtpCodecParameters {
    RTCRtpCodecParameters {
        rtp_codec: RTCRtpCodec {
            mime_type: mime.to_owned(),
            clock_rate,
            channels,
            sdp_fmtp_line: fmtp.to_owned(),
            rtcp_feedback: vec![],
        },
        payload_type: pt,
    }
}

/// The crate entries forcing `codec` selects, in preference order.
fn entries(wanted: Codec) -> Vec<RTCRtpCodecParameters> {
    match wanted {
        Codec::Vp8 => vec![codec_entry("video/VP8", "", 96)],
        Codec::Vp9 => vec![codec_entry("video/VP9", "profile-id=0", 98)],
        Codec::H264 => vec![
            codec_entry(
                "video/H264",
                "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
                125,
            ),
            codec_entry(
                "video/H264",
                "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f",
                102,
            ),
        ],
        Codec::Av1 => vec![codec_entry("video/AV1", "profile-id=0", 41)],
        Codec::Opus => vec![codec(
            "audio/opus",
            48_000,
            2,
            "minptime=10;useinbandfec=1",
            111,
        )],
        Codec::Pcmu => vec![codec("audio/PCMU", 8_000, 0, "", 0)],
        Codec::Pcma => vec![codec("audio/PCMA", 8_000, 0, "", 8)],
    }
}

/// The first codec of the kind in the crate's default registrations (VP8, opus).
pub fn default_codec(kind: MediaKind) -> RTCRtpCodec {
    let wanted = match kind {
        MediaKind::Video => Codec::Vp8,
        MediaKind::Audio => Codec::Opus,
    };
    entries(wanted).remove(0).rtp_codec
}

fn codec_entry(mime: &str, fmtp: &str, pt: u8) -> RTCRtpCodecParameters {
    codec(mime, 90_000, 0, fmtp, pt)
}

/// `add_media`'s `codecs` as codec preferences; empty keeps the defaults.
///
/// The payload types are the crate's default numbering; see [`renumber`].
pub fn preferences(
    kind: MediaKind,
    mimes: &[String],
) -> Result<Vec<RTCRtpCodecParameters>, PeerError> {
    let mut out = Vec::new();
    for mime in mimes {
        let codec = Codec::from_mime(mime)
            .filter(|c| c.is_video() == (kind == MediaKind::Video))
            .ok_or_else(|| {
                named_error(
                    "NotSupportedError",
                    format!(
                        "codec {mime:?} cannot be forced on a {} transceiver: {}",
                        kind.as_str(),
                        registered_summary(kind)
                    ),
                )
            })?;
        for entry in entries(codec) {
            if !out.contains(&entry) {
                out.push(entry);
            }
        }
    }
    Ok(out)
}

/// `preferences` with the payload types of the matching codecs in `current` (the sender's
/// codecs, in the crate's numbering), in preference order; a codec `current` lacks keeps its
/// default payload type.
///
/// W3C `setCodecPreferences` takes codecs without payload types. The crate's takes
/// `RTCRtpCodecParameters` and, having checked each against the media engine by MIME type and
/// fmtp only, keeps the list verbatim as the sender's codecs and the receiver's (rtc 0.21.1
/// rtp_transceiver/internal.rs `set_codec_preferences`, rtp_sender/internal.rs and
/// rtp_receiver/internal.rs `set_codec_preferences`). Those give the sender's `get_parameters`
/// (the payload type the player sends), the payload types `RtpSender::write_rtp` accepts and the
/// interceptors are bound with, and the payload type by which an incoming stream is matched to
/// the receiver (peer_connection/handler/interceptor.rs `bind_declared_ssrc`). The SDP does not
/// come from that list: it maps it onto the media engine (rtp_receiver/internal.rs
/// `get_codecs`), which a remote offer renumbers to the offer's payload types (Firefox: VP8 120,
/// opus 109). An answerer forcing a codec with the default payload type therefore answered 120
/// but sent 96 and opened no track for Firefox's 120. A remote offer also set the transceiver's
/// preferences, and so the codecs of a sender added to it, in the offer's numbering
/// (`set_codec_preferences_from_remote_description`); those are `current`. As offerer the
/// preferences are replaced by the answer's codecs when it is applied.
pub fn renumber(
    preferences: Vec<RTCRtpCodecParameters>,
    current: &[RTCRtpCodecParameters],
) -> Vec<RTCRtpCodecParameters> {
    let mut out: Vec<RTCRtpCodecParameters> = Vec::new();
    for preference in preferences {
        let entry = current
            .iter()
            .find(|c| same_codec(&preference.rtp_codec, &c.rtp_codec))
            .cloned()
            .unwrap_or(preference);
        if !out.iter().any(|c| c.payload_type == entry.payload_type) {
            out.push(entry);
        }
    }
    out
}

/// The crate's fmtp match (rtc 0.21.1 rtp_transceiver/fmtp): same MIME type; H.264 same
/// packetization-mode and profile (profile_idc, profile-iop); otherwise every parameter both
/// name has the same value.
fn same_codec(a: &RTCRtpCodec, b: &RTCRtpCodec) -> bool {
    if !a.mime_type.eq_ignore_ascii_case(&b.mime_type) {
        return false;
    }
    let (pa, pb) = (fmtp(&a.sdp_fmtp_line), fmtp(&b.sdp_fmtp_line));
    if a.mime_type.eq_ignore_ascii_case("video/H264") {
        let profile = |p: &Vec<(String, String)>| {
            let get = |key: &str| p.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
            let level_id = get("profile-level-id")?.to_ascii_lowercase();
            Some((get("packetization-mode")?, level_id.get(..4)?.to_owned()))
        };
        return profile(&pa).is_some() && profile(&pa) == profile(&pb);
    }
    pa.iter().all(|(k, v)| {
        pb.iter()
            .all(|(k2, v2)| k2 != k || v2.eq_ignore_ascii_case(v))
    })
}

fn fmtp(line: &str) -> Vec<(String, String)> {
    line.split(';')
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            let (k, v) = p.trim().split_once('=').unwrap_or((p.trim(), ""));
            (k.to_ascii_lowercase(), v.to_owned())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forcing_h264_keeps_packetization_mode_1_only() {
        let prefs = preferences(MediaKind::Video, &["video/H264".to_owned()]).unwrap();
        assert_eq!(prefs.len(), 2);
        assert!(prefs
            .iter()
            .all(|c| c.rtp_codec.sdp_fmtp_line.contains("packetization-mode=1")));
        assert_eq!(prefs[0].payload_type, 125, "42e01f first");
    }

    #[test]
    fn renumbering_takes_the_payload_types_of_a_remote_offer() {
        let current = vec![
            codec_entry("video/VP8", "max-fs=12288;max-fr=60", 120),
            codec_entry("video/rtx", "apt=120", 124),
            codec_entry(
                "video/H264",
                "profile-level-id=42e01f;level-asymmetry-allowed=1;packetization-mode=0",
                97,
            ),
            codec_entry(
                "video/H264",
                "profile-level-id=42E01F;level-asymmetry-allowed=1;packetization-mode=1",
                126,
            ),
            codec_entry("video/VP9", "max-fs=12288;max-fr=60", 121),
        ];
        let vp8 = renumber(
            preferences(MediaKind::Video, &["video/VP8".to_owned()]).unwrap(),
            &current,
        );
        assert_eq!(vp8.len(), 1);
        assert_eq!(vp8[0].payload_type, 120);
        let vp9 = renumber(
            preferences(MediaKind::Video, &["video/VP9".to_owned()]).unwrap(),
            &current,
        );
        assert_eq!(vp9[0].payload_type, 121);
        let h264 = preferences(MediaKind::Video, &["video/H264".to_owned()]).unwrap();
        let h264 = renumber(h264, &current);
        assert_eq!(h264[0].payload_type, 126, "mode 1, 42e01f");
        assert_eq!(
            h264[1].payload_type, 102,
            "42001f is not in the offer: default kept"
        );
        let av1 = renumber(
            preferences(MediaKind::Video, &["video/AV1".to_owned()]).unwrap(),
            &[],
        );
        assert_eq!(
            av1[0].payload_type, 41,
            "nothing negotiated: the default numbering"
        );
    }

    #[test]
    fn an_unknown_or_wrong_kind_codec_lists_the_registered_ones() {
        let err = preferences(MediaKind::Video, &["video/H265".to_owned()]).unwrap_err();
        assert_eq!(err.name, "NotSupportedError");
        assert!(err.message.contains("video/H265"), "{}", err.message);
        assert!(err.message.contains("video/AV1"), "{}", err.message);
        let err = preferences(MediaKind::Audio, &["video/VP8".to_owned()]).unwrap_err();
        assert!(err.message.contains("audio/PCMA"), "{}", err.message);
        assert!(preferences(MediaKind::Audio, &[]).unwrap().is_empty());
        let prefs = preferences(MediaKind::Audio, &["audio/OPUS".to_owned()]).unwrap();
        assert_eq!(
            prefs[0].payload_type, 111,
            "MIME types compare case-insensitively"
        );
    }
}
