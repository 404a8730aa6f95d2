//! The sent media: the committed files under `peers/rust/media/` (see its README), embedded in
//! the binary so the peer runs from any directory, split into frames with `rtc`'s readers.
//!
//! A [`Clip`] is one file as a list of frames, each with its RTP duration; the sending task
//! loops it. Frame 0 of every video clip is the file's only keyframe.

use std::io::Cursor;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use rtc::media::io::h26x_reader::{H26xNAL, H26xReader};
use rtc::media::io::ivf_reader::IVFReader;
use rtc::media::io::ogg_reader::OggReader;

use super::bitstream::{self, Keyframe};

/// A codec this peer can send and check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    Vp8,
    Vp9,
    H264,
    Av1,
    Opus,
    Pcmu,
    Pcma,
}

impl Codec {
    pub const ALL: [Codec; 7] = [
        Codec::Vp8,
        Codec::Vp9,
        Codec::H264,
        Codec::Av1,
        Codec::Opus,
        Codec::Pcmu,
        Codec::Pcma,
    ];

    pub fn from_mime(mime: &str) -> Option<Codec> {
        Codec::ALL
            .into_iter()
            .find(|c| c.mime().eq_ignore_ascii_case(mime))
    }

    /// The MIME type as the protocol reports it (`video/VP8`, `audio/opus`).
    pub fn mime(self) -> &'static str {
        match self {
            Codec::Vp8 => "video/VP8",
            Codec::Vp9 => "video/VP9",
            Codec::H264 => "video/H264",
            Codec::Av1 => "video/AV1",
            Codec::Opus => "audio/opus",
            Codec::Pcmu => "audio/PCMU",
            Codec::Pcma => "audio/PCMA",
        }
    }

    pub fn is_video(self) -> bool {
        matches!(self, Codec::Vp8 | Codec::Vp9 | Codec::H264 | Codec::Av1)
    }

    /// Checks a depacketized video frame; `None` for audio codecs and non-keyframes.
    pub fn keyframe(self, frame: &[u8]) -> Option<Keyframe> {
        match self {
            Codec::Vp8 => bitstream::vp8_keyframe(frame),
            Codec::Vp9 => bitstream::vp9_keyframe(frame),
            Codec::H264 => bitstream::h264_keyframe(frame),
            Codec::Av1 => bitstream::av1_keyframe(frame),
            Codec::Opus | Codec::Pcmu | Codec::Pcma => None,
        }
    }
}

/// The default video source size (the protocol's default).
pub const DEFAULT_SIZE: (u32, u32) = (320, 240);

/// Video files: (codec, width, height, name, bytes).
const VIDEO_FILES: [(Codec, u32, u32, &str, &[u8]); 8] = [
    (
        Codec::Vp8,
        320,
        240,
        "vp8-320x240.ivf",
        include_bytes!("../../media/vp8-320x240.ivf"),
    ),
    (
        Codec::Vp8,
        160,
        120,
        "vp8-160x120.ivf",
        include_bytes!("../../media/vp8-160x120.ivf"),
    ),
    (
        Codec::Vp9,
        320,
        240,
        "vp9-320x240.ivf",
        include_bytes!("../../media/vp9-320x240.ivf"),
    ),
    (
        Codec::Vp9,
        160,
        120,
        "vp9-160x120.ivf",
        include_bytes!("../../media/vp9-160x120.ivf"),
    ),
    (
        Codec::H264,
        320,
        240,
        "h264-320x240.h264",
        include_bytes!("../../media/h264-320x240.h264"),
    ),
    (
        Codec::H264,
        160,
        120,
        "h264-160x120.h264",
        include_bytes!("../../media/h264-160x120.h264"),
    ),
    (
        Codec::Av1,
        320,
        240,
        "av1-320x240.ivf",
        include_bytes!("../../media/av1-320x240.ivf"),
    ),
    (
        Codec::Av1,
        160,
        120,
        "av1-160x120.ivf",
        include_bytes!("../../media/av1-160x120.ivf"),
    ),
];

const OPUS_FILE: &[u8] = include_bytes!("../../media/opus-48k.ogg");
const PCMU_FILE: &[u8] = include_bytes!("../../media/pcmu-8k.raw");
const PCMA_FILE: &[u8] = include_bytes!("../../media/pcma-8k.raw");

/// Every video file: what a `NotSupportedError` for a missing size names.
pub fn video_files() -> String {
    VIDEO_FILES
        .iter()
        .map(|f| f.3)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether some video file has this size.
pub fn has_video_size(size: (u32, u32)) -> bool {
    VIDEO_FILES.iter().any(|f| (f.1, f.2) == size)
}

/// One frame (video) or packet (audio) to send.
#[derive(Debug, Clone)]
pub struct Frame {
    pub data: Bytes,
    /// RTP clock ticks until the next frame.
    pub ticks: u32,
    /// Set on a valid keyframe (checked with the same parsers the receiver uses).
    pub keyframe: Option<Keyframe>,
}

/// One media file as frames.
#[derive(Debug, Clone)]
pub struct Clip {
    pub codec: Codec,
    pub file: &'static str,
    pub frames: Vec<Frame>,
    /// Wall-clock time per frame (the sending pace).
    pub frame_duration: Duration,
}

/// Video frame rate of every committed video file.
const VIDEO_FPS: u32 = 15;
const VIDEO_CLOCK: u32 = 90_000;

/// Loads the file for `codec` (video: of `size`, default [`DEFAULT_SIZE`]).
pub fn load(codec: Codec, size: Option<(u32, u32)>) -> Result<Clip, String> {
    if codec.is_video() {
        let size = size.unwrap_or(DEFAULT_SIZE);
        let (_, _, _, file, bytes) = VIDEO_FILES
            .iter()
            .find(|f| f.0 == codec && (f.1, f.2) == size)
            .ok_or_else(|| {
                format!(
                    "no {} file of {}x{}; the Rust peer has {}",
                    codec.mime(),
                    size.0,
                    size.1,
                    video_files()
                )
            })?;
        let datas = match codec {
            Codec::H264 => h264_access_units(bytes)?,
            Codec::Av1 => ivf_frames(bytes)?
                .into_iter()
                .map(strip_temporal_delimiters)
                .collect::<Result<_, _>>()?,
            _ => ivf_frames(bytes)?,
        };
        let frames = datas
            .into_iter()
            .map(|data| Frame {
                keyframe: codec.keyframe(&data),
                data,
                ticks: VIDEO_CLOCK / VIDEO_FPS,
            })
            .collect();
        return Ok(Clip {
            codec,
            file,
            frames,
            frame_duration: Duration::from_secs(1) / VIDEO_FPS,
        });
    }
    let (file, frames) = match codec {
        Codec::Opus => ("opus-48k.ogg", opus_packets(OPUS_FILE)?),
        Codec::Pcmu => ("pcmu-8k.raw", g711_packets(PCMU_FILE)),
        Codec::Pcma => ("pcma-8k.raw", g711_packets(PCMA_FILE)),
        _ => unreachable!("video handled above"),
    };
    Ok(Clip {
        codec,
        file,
        frames,
        frame_duration: Duration::from_millis(20),
    })
}

fn ivf_frames(bytes: &[u8]) -> Result<Vec<Bytes>, String> {
    let (mut reader, _header) =
        IVFReader::new(Cursor::new(bytes)).map_err(|e| format!("bad IVF file: {e}"))?;
    let mut frames = Vec::new();
    while let Ok((frame, _)) = reader.parse_next_frame() {
        frames.push(frame.freeze());
    }
    if frames.is_empty() {
        return Err("IVF file without frames".to_owned());
    }
    Ok(frames)
}

/// The AV1 RTP payload format says temporal delimiters SHOULD be removed before packetizing.
fn strip_temporal_delimiters(temporal_unit: Bytes) -> Result<Bytes, String> {
    let obus = bitstream::av1_obus(&temporal_unit).ok_or("bad AV1 OBU stream")?;
    let mut out = BytesMut::with_capacity(temporal_unit.len());
    for obu in obus {
        if obu.obu_type != bitstream::OBU_TEMPORAL_DELIMITER {
            out.extend_from_slice(obu.bytes);
        }
    }
    Ok(out.freeze())
}

/// Groups the NAL units of an Annex B file into access units: parameter sets and SEI go with
/// the next picture; each coded slice (NAL 1 or 5) ends one (the files have one slice per
/// picture). Each access unit is re-emitted as Annex B, which the H.264 payloader splits.
fn h264_access_units(bytes: &[u8]) -> Result<Vec<Bytes>, String> {
    let mut reader = H26xReader::new(Cursor::new(bytes), 1 << 16, false);
    let mut units = Vec::new();
    let mut current = BytesMut::new();
    while let Ok(nal) = reader.next_nal() {
        let H26xNAL::H264(mut nal) = nal else {
            return Err("not an H.264 stream".to_owned());
        };
        if nal.data.is_empty() {
            continue;
        }
        nal.parse_header();
        let nal_type = nal.data[0] & 0x1f;
        current.extend_from_slice(&[0, 0, 0, 1]);
        current.extend_from_slice(&nal.data);
        if nal_type == 1 || nal_type == 5 {
            units.push(std::mem::take(&mut current).freeze());
        }
    }
    if units.is_empty() {
        return Err("H.264 file without pictures".to_owned());
    }
    Ok(units)
}

/// One Opus packet per Ogg page (the file was written with 20 ms pages); the header pages are
/// skipped.
fn opus_packets(bytes: &[u8]) -> Result<Vec<Frame>, String> {
    let (mut reader, header) =
        OggReader::new(Cursor::new(bytes), true).map_err(|e| format!("bad Ogg file: {e}"))?;
    if header.sample_rate != 48_000 {
        return Err(format!("Opus file at {} Hz", header.sample_rate));
    }
    let mut frames = Vec::new();
    while let Ok((page, _)) = reader.parse_next_page() {
        if page.starts_with(b"OpusTags") || page.is_empty() {
            continue;
        }
        frames.push(Frame {
            data: page.freeze(),
            ticks: 960, // 20 ms at 48 kHz
            keyframe: None,
        });
    }
    if frames.is_empty() {
        return Err("Ogg file without Opus packets".to_owned());
    }
    Ok(frames)
}

/// 160 bytes = 20 ms at 8 kHz per packet.
fn g711_packets(bytes: &'static [u8]) -> Vec<Frame> {
    bytes
        .chunks_exact(160)
        .map(|chunk| Frame {
            data: Bytes::from_static(chunk),
            ticks: 160,
            keyframe: None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_parses_with_one_keyframe_at_the_start() {
        for (codec, w, h, file, _) in VIDEO_FILES {
            let clip = load(codec, Some((w, h))).unwrap_or_else(|e| panic!("{file}: {e}"));
            assert_eq!(clip.frames.len(), 75, "{file}: 5 s at 15 fps");
            let keyframes: Vec<usize> = clip
                .frames
                .iter()
                .enumerate()
                .filter(|(_, f)| f.keyframe.is_some())
                .map(|(i, _)| i)
                .collect();
            assert_eq!(keyframes, [0], "{file}: only the first frame is a keyframe");
            let key = clip.frames[0].keyframe.as_ref().unwrap();
            assert_eq!((key.width, key.height), (Some(w), Some(h)), "{file}");
            assert!(
                clip.frames.iter().map(|f| f.data.len()).sum::<usize>() <= 150_000,
                "{file}: small"
            );
        }
    }

    #[test]
    fn audio_files_are_20_ms_packets() {
        let opus = load(Codec::Opus, None).unwrap();
        assert!(opus.frames.len() >= 245, "~5 s: {}", opus.frames.len());
        for frame in &opus.frames {
            let toc = bitstream::opus_toc(&frame.data).unwrap();
            assert!(toc.ends_with(" 20 ms)"), "{toc}");
        }
        for codec in [Codec::Pcmu, Codec::Pcma] {
            let clip = load(codec, None).unwrap();
            assert_eq!(clip.frames.len(), 250);
            assert!(clip.frames.iter().all(|f| f.data.len() == 160));
        }
    }

    #[test]
    fn a_missing_size_names_the_files_that_exist() {
        let err = load(Codec::Vp8, Some((640, 480))).unwrap_err();
        assert!(err.contains("640x480"), "{err}");
        assert!(err.contains("vp8-160x120.ivf"), "{err}");
        assert!(has_video_size((160, 120)));
        assert!(!has_video_size((640, 480)));
    }
}
