//! Codec header checks: what makes a depacketized frame a *valid* keyframe, without a decoder.
//! Pure functions over bytes, unit-tested with bytes from the committed media files.
//!
//! - VP8 (RFC 6386 9.1): frame tag key bit, start code `9d 01 2a`, 14-bit width / height.
//! - VP9 (VP9 bitstream spec 6.2): uncompressed header: frame marker, profile, not
//!   show-existing, key frame type, sync code `49 83 42`, colour config, frame size.
//! - H.264 (Annex B): IDR (NAL 5) together with SPS (7) and PPS (8); SPS profile / constraint /
//!   level and the coded size (cropping applied).
//! - AV1 (low-overhead OBU stream): a sequence header OBU and a frame (header) OBU of type
//!   KEY_FRAME; the sequence header's profile and max frame size.
//! - Opus (RFC 6716 3.1): the TOC byte's configuration.

/// What a valid keyframe header said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keyframe {
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// e.g. `VP8 keyframe 320x240`.
    pub evidence: String,
}

/// MSB-first bit reader; every read past the end fails.
struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Bits<'a> {
    fn new(data: &'a [u8]) -> Self {
        Bits { data, pos: 0 }
    }

    fn bit(&mut self) -> Option<u32> {
        let byte = *self.data.get(self.pos / 8)?;
        let bit = (byte >> (7 - self.pos % 8)) & 1;
        self.pos += 1;
        Some(u32::from(bit))
    }

    fn bits(&mut self, n: u32) -> Option<u32> {
        let mut value: u64 = 0;
        for _ in 0..n {
            value = (value << 1) | u64::from(self.bit()?);
        }
        u32::try_from(value).ok()
    }

    /// Exp-Golomb `ue(v)` (H.264 9.1).
    fn ue(&mut self) -> Option<u32> {
        let mut zeros = 0;
        while self.bit()? == 0 {
            zeros += 1;
            if zeros > 31 {
                return None;
            }
        }
        let rest = self.bits(zeros)?;
        Some(((1u64 << zeros) - 1 + u64::from(rest)) as u32)
    }

    fn se(&mut self) -> Option<i32> {
        let k = self.ue()?;
        Some(if k % 2 == 1 {
            k.div_ceil(2) as i32
        } else {
            -((k / 2) as i32)
        })
    }

    /// AV1 `uvlc()` (AV1 spec 4.10.3).
    fn uvlc(&mut self) -> Option<u32> {
        let mut leading = 0;
        while self.bit()? == 0 {
            leading += 1;
            if leading >= 32 {
                return Some(u32::MAX);
            }
        }
        let value = self.bits(leading)?;
        Some(((1u64 << leading) - 1 + u64::from(value)) as u32)
    }
}

/// A VP8 frame (the VP8 payload, descriptor removed) that is a valid keyframe.
pub fn vp8_keyframe(frame: &[u8]) -> Option<Keyframe> {
    // Frame tag: bit 0 is the frame type, 0 = key frame.
    if frame.len() < 10 || frame[0] & 1 != 0 || frame[3..6] != [0x9d, 0x01, 0x2a] {
        return None;
    }
    let width = u32::from(u16::from_le_bytes([frame[6], frame[7]]) & 0x3fff);
    let height = u32::from(u16::from_le_bytes([frame[8], frame[9]]) & 0x3fff);
    if width == 0 || height == 0 {
        return None;
    }
    Some(Keyframe {
        width: Some(width),
        height: Some(height),
        evidence: format!("VP8 keyframe {width}x{height}"),
    })
}

/// A VP9 frame (descriptor removed; the first frame of a superframe) that is a valid keyframe.
pub fn vp9_keyframe(frame: &[u8]) -> Option<Keyframe> {
    let mut b = Bits::new(frame);
    if b.bits(2)? != 2 {
        return None; // frame_marker
    }
    let low = b.bit()?;
    let high = b.bit()?;
    let profile = (high << 1) | low;
    if profile == 3 && b.bit()? != 0 {
        return None; // reserved_zero
    }
    if b.bit()? == 1 {
        return None; // show_existing_frame
    }
    if b.bit()? != 0 {
        return None; // frame_type: 0 = KEY_FRAME
    }
    let _show_frame = b.bit()?;
    let _error_resilient = b.bit()?;
    if (b.bits(8)?, b.bits(8)?, b.bits(8)?) != (0x49, 0x83, 0x42) {
        return None; // frame_sync_code
    }
    // color_config()
    if profile >= 2 {
        b.bit()?; // ten_or_twelve_bit
    }
    let color_space = b.bits(3)?;
    if color_space != 7 {
        b.bit()?; // color_range
        if profile == 1 || profile == 3 {
            b.bits(3)?; // subsampling_x, subsampling_y, reserved_zero
        }
    } else if profile == 1 || profile == 3 {
        b.bit()?; // reserved_zero
    }
    let width = b.bits(16)? + 1;
    let height = b.bits(16)? + 1;
    Some(Keyframe {
        width: Some(width),
        height: Some(height),
        evidence: format!("VP9 profile {profile} keyframe {width}x{height}"),
    })
}

/// The NAL units of an Annex B byte stream (start codes removed).
pub fn annexb_nals(stream: &[u8]) -> Vec<&[u8]> {
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 3 <= stream.len() {
        if stream[i] == 0 && stream[i + 1] == 0 && stream[i + 2] == 1 {
            starts.push(i + 3);
            i += 3;
        } else {
            i += 1;
        }
    }
    let mut nals = Vec::with_capacity(starts.len());
    for (n, &start) in starts.iter().enumerate() {
        let mut end = match starts.get(n + 1) {
            Some(&next) => next - 3,
            None => stream.len(),
        };
        // A 4-byte start code leaves one zero behind; trailing zeros are not NAL data.
        while end > start && stream[end - 1] == 0 {
            end -= 1;
        }
        if end > start {
            nals.push(&stream[start..end]);
        }
    }
    nals
}

/// An H.264 access unit (Annex B) that is a valid keyframe: IDR with SPS and PPS.
pub fn h264_keyframe(access_unit: &[u8]) -> Option<Keyframe> {
    let nals = annexb_nals(access_unit);
    let has = |t: u8| nals.iter().any(|n| n[0] & 0x1f == t);
    if !(has(5) && has(7) && has(8)) {
        return None;
    }
    let sps = nals.iter().find(|n| n[0] & 0x1f == 7)?;
    if sps.len() < 4 {
        return None;
    }
    let profile = format!("{:02x}{:02x}{:02x}", sps[1], sps[2], sps[3]);
    let size = h264_sps_size(sps);
    let (width, height) = (size.map(|s| s.0), size.map(|s| s.1));
    let evidence = match size {
        Some((w, h)) => format!("H264 IDR with SPS/PPS, profile-level {profile}, {w}x{h}"),
        None => format!("H264 IDR with SPS/PPS, profile-level {profile}"),
    };
    Some(Keyframe {
        width,
        height,
        evidence,
    })
}

/// The coded picture size in an SPS NAL (header byte included), cropping applied. `None` for
/// the SPS features not parsed here (scaling matrices).
pub fn h264_sps_size(sps: &[u8]) -> Option<(u32, u32)> {
    // Remove emulation prevention bytes (00 00 03).
    let mut rbsp = Vec::with_capacity(sps.len());
    let mut zeros = 0;
    for &byte in sps.get(1..)? {
        if zeros >= 2 && byte == 3 {
            zeros = 0;
            continue;
        }
        zeros = if byte == 0 { zeros + 1 } else { 0 };
        rbsp.push(byte);
    }
    let profile_idc = *rbsp.first()?;
    let mut b = Bits::new(rbsp.get(3..)?);
    b.ue()?; // seq_parameter_set_id
    let mut chroma_format_idc = 1;
    if [100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135].contains(&profile_idc) {
        chroma_format_idc = b.ue()?;
        if chroma_format_idc == 3 {
            b.bit()?; // separate_colour_plane_flag
        }
        b.ue()?; // bit_depth_luma_minus8
        b.ue()?; // bit_depth_chroma_minus8
        b.bit()?; // qpprime_y_zero_transform_bypass_flag
        if b.bit()? == 1 {
            return None; // seq_scaling_matrix_present_flag: not parsed
        }
    }
    b.ue()?; // log2_max_frame_num_minus4
    match b.ue()? {
        0 => {
            b.ue()?; // log2_max_pic_order_cnt_lsb_minus4
        }
        1 => {
            b.bit()?;
            b.se()?;
            b.se()?;
            for _ in 0..b.ue()? {
                b.se()?;
            }
        }
        _ => {}
    }
    b.ue()?; // max_num_ref_frames
    b.bit()?; // gaps_in_frame_num_value_allowed_flag
    let width_mbs = b.ue()? + 1;
    let height_units = b.ue()? + 1;
    let frame_mbs_only = b.bit()?;
    if frame_mbs_only == 0 {
        b.bit()?; // mb_adaptive_frame_field_flag
    }
    b.bit()?; // direct_8x8_inference_flag
    let (mut left, mut right, mut top, mut bottom) = (0, 0, 0, 0);
    if b.bit()? == 1 {
        left = b.ue()?;
        right = b.ue()?;
        top = b.ue()?;
        bottom = b.ue()?;
    }
    let (crop_x, crop_y) = match chroma_format_idc {
        0 | 3 => (1, 2 - frame_mbs_only),
        2 => (2, 2 - frame_mbs_only),
        _ => (2, 2 * (2 - frame_mbs_only)),
    };
    let width = (width_mbs * 16).checked_sub(crop_x * (left + right))?;
    let height = ((2 - frame_mbs_only) * height_units * 16).checked_sub(crop_y * (top + bottom))?;
    Some((width, height))
}

/// One OBU of a low-overhead AV1 bitstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Obu<'a> {
    pub obu_type: u8,
    /// The whole OBU, header included.
    pub bytes: &'a [u8],
    /// The OBU payload.
    pub payload: &'a [u8],
}

pub const OBU_SEQUENCE_HEADER: u8 = 1;
pub const OBU_TEMPORAL_DELIMITER: u8 = 2;
pub const OBU_FRAME_HEADER: u8 = 3;
pub const OBU_FRAME: u8 = 6;

/// Splits a low-overhead AV1 bitstream (every OBU but the last has a size field) into OBUs.
pub fn av1_obus(data: &[u8]) -> Option<Vec<Obu<'_>>> {
    let mut obus = Vec::new();
    let mut at = 0;
    while at < data.len() {
        let header = data[at];
        if header & 0x80 != 0 {
            return None; // obu_forbidden_bit
        }
        let obu_type = (header >> 3) & 0x0f;
        let has_extension = header & 0x04 != 0;
        let has_size = header & 0x02 != 0;
        let mut p = at + 1 + usize::from(has_extension);
        let size = if has_size {
            let mut value: u64 = 0;
            let mut i = 0;
            loop {
                let byte = *data.get(p)?;
                value |= u64::from(byte & 0x7f) << (7 * i);
                p += 1;
                i += 1;
                if byte & 0x80 == 0 {
                    break;
                }
                if i == 8 {
                    return None;
                }
            }
            usize::try_from(value).ok()?
        } else {
            data.len().checked_sub(p)?
        };
        let end = p.checked_add(size)?;
        if end > data.len() {
            return None;
        }
        obus.push(Obu {
            obu_type,
            bytes: &data[at..end],
            payload: &data[p..end],
        });
        at = end;
    }
    Some(obus)
}

/// What an AV1 sequence header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Av1SequenceHeader {
    pub profile: u32,
    pub reduced_still_picture_header: bool,
    /// `max_frame_width_minus_1 + 1` and height; `None` when the header uses a feature not
    /// parsed here.
    pub max_size: Option<(u32, u32)>,
}

pub fn av1_sequence_header(payload: &[u8]) -> Option<Av1SequenceHeader> {
    let mut b = Bits::new(payload);
    let profile = b.bits(3)?;
    let _still_picture = b.bit()?;
    let reduced = b.bit()? == 1;
    let header = |max_size| Av1SequenceHeader {
        profile,
        reduced_still_picture_header: reduced,
        max_size,
    };
    let size = (|| {
        if reduced {
            b.bits(5)?; // seq_level_idx[0]
        } else {
            let timing_info_present = b.bit()? == 1;
            let mut decoder_model_info_present = false;
            let mut buffer_delay_length = 0;
            if timing_info_present {
                b.bits(32)?; // num_units_in_display_tick
                b.bits(32)?; // time_scale
                if b.bit()? == 1 {
                    b.uvlc()?; // num_ticks_per_picture_minus_1
                }
                decoder_model_info_present = b.bit()? == 1;
                if decoder_model_info_present {
                    buffer_delay_length = b.bits(5)? + 1;
                    b.bits(32)?; // num_units_in_decoding_tick
                    b.bits(5)?; // buffer_removal_time_length_minus_1
                    b.bits(5)?; // frame_presentation_time_length_minus_1
                }
            }
            let initial_display_delay_present = b.bit()? == 1;
            let operating_points = b.bits(5)? + 1;
            for _ in 0..operating_points {
                b.bits(12)?; // operating_point_idc
                if b.bits(5)? > 7 {
                    b.bit()?; // seq_tier
                }
                if decoder_model_info_present && b.bit()? == 1 {
                    b.bits(buffer_delay_length)?; // decoder_buffer_delay
                    b.bits(buffer_delay_length)?; // encoder_buffer_delay
                    b.bit()?; // low_delay_mode_flag
                }
                if initial_display_delay_present && b.bit()? == 1 {
                    b.bits(4)?;
                }
            }
        }
        let width_bits = b.bits(4)? + 1;
        let height_bits = b.bits(4)? + 1;
        let width = b.bits(width_bits)? + 1;
        let height = b.bits(height_bits)? + 1;
        Some((width, height))
    })();
    Some(header(size))
}

/// An AV1 temporal unit (low-overhead OBUs) that is a valid keyframe: a sequence header and a
/// frame (header) OBU whose frame type is KEY_FRAME.
pub fn av1_keyframe(temporal_unit: &[u8]) -> Option<Keyframe> {
    let obus = av1_obus(temporal_unit)?;
    let sequence = obus
        .iter()
        .find(|o| o.obu_type == OBU_SEQUENCE_HEADER)
        .and_then(|o| av1_sequence_header(o.payload))?;
    let frame = obus
        .iter()
        .find(|o| o.obu_type == OBU_FRAME || o.obu_type == OBU_FRAME_HEADER)?;
    if !sequence.reduced_still_picture_header {
        let mut b = Bits::new(frame.payload);
        if b.bit()? == 1 {
            return None; // show_existing_frame
        }
        if b.bits(2)? != 0 {
            return None; // frame_type: 0 = KEY_FRAME
        }
    }
    let profile = sequence.profile;
    let (width, height, evidence) = match sequence.max_size {
        Some((w, h)) => (
            Some(w),
            Some(h),
            format!("AV1 keyframe, sequence header profile {profile}, max {w}x{h}"),
        ),
        None => (
            None,
            None,
            format!("AV1 keyframe, sequence header profile {profile}"),
        ),
    };
    Some(Keyframe {
        width,
        height,
        evidence,
    })
}

/// The Opus TOC byte, described: `Opus TOC config 12 (Hybrid SWB 10 ms)`. `None` for an
/// empty packet.
pub fn opus_toc(packet: &[u8]) -> Option<String> {
    let config = packet.first()? >> 3;
    let (mode, bandwidth, durations): (&str, &str, [&str; 4]) = match config {
        0..=3 => ("SILK", "NB", ["10", "20", "40", "60"]),
        4..=7 => ("SILK", "MB", ["10", "20", "40", "60"]),
        8..=11 => ("SILK", "WB", ["10", "20", "40", "60"]),
        12..=13 => ("Hybrid", "SWB", ["10", "20", "10", "20"]),
        14..=15 => ("Hybrid", "FB", ["10", "20", "10", "20"]),
        16..=19 => ("CELT", "NB", ["2.5", "5", "10", "20"]),
        20..=23 => ("CELT", "WB", ["2.5", "5", "10", "20"]),
        24..=27 => ("CELT", "SWB", ["2.5", "5", "10", "20"]),
        _ => ("CELT", "FB", ["2.5", "5", "10", "20"]),
    };
    let duration = if (12..=15).contains(&config) {
        durations[usize::from(config % 2)]
    } else {
        durations[usize::from(config % 4)]
    };
    Some(format!(
        "Opus TOC config {config} ({mode} {bandwidth} {duration} ms)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::source::{self, Codec};

    fn first_frame(codec: Codec, size: (u32, u32)) -> Vec<u8> {
        let clip = source::load(codec, Some(size)).expect("committed media file");
        clip.frames[0].data.to_vec()
    }

    #[test]
    fn vp8_keyframe_header_from_the_committed_file() {
        let key = vp8_keyframe(&first_frame(Codec::Vp8, (320, 240))).expect("keyframe");
        assert_eq!(key.evidence, "VP8 keyframe 320x240");
        let key = vp8_keyframe(&first_frame(Codec::Vp8, (160, 120))).expect("keyframe");
        assert_eq!((key.width, key.height), (Some(160), Some(120)));
        let clip = source::load(Codec::Vp8, None).unwrap();
        assert!(
            vp8_keyframe(&clip.frames[1].data).is_none(),
            "an interframe"
        );
        // The key bit alone is not enough: a broken start code is rejected.
        let mut broken = first_frame(Codec::Vp8, (320, 240));
        broken[4] ^= 0xff;
        assert!(vp8_keyframe(&broken).is_none());
    }

    #[test]
    fn vp9_keyframe_header_from_the_committed_file() {
        let key = vp9_keyframe(&first_frame(Codec::Vp9, (320, 240))).expect("keyframe");
        assert_eq!(key.evidence, "VP9 profile 0 keyframe 320x240");
        let clip = source::load(Codec::Vp9, Some((160, 120))).unwrap();
        assert_eq!(vp9_keyframe(&clip.frames[0].data).unwrap().width, Some(160));
        assert!(vp9_keyframe(&clip.frames[1].data).is_none());
    }

    #[test]
    fn h264_keyframe_and_sps_from_the_committed_file() {
        let key = h264_keyframe(&first_frame(Codec::H264, (320, 240))).expect("keyframe");
        assert_eq!(
            key.evidence,
            "H264 IDR with SPS/PPS, profile-level 42c01f, 320x240"
        );
        let key = h264_keyframe(&first_frame(Codec::H264, (160, 120))).expect("keyframe");
        assert_eq!((key.width, key.height), (Some(160), Some(120)));
        let clip = source::load(Codec::H264, None).unwrap();
        assert!(h264_keyframe(&clip.frames[1].data).is_none());
        // High profile 1920x1080 (1088 coded rows, cropped), from libx264 via ffmpeg.
        let sps = [
            0x67, 0x64, 0x00, 0x28, 0xac, 0xd9, 0x40, 0x78, 0x02, 0x27, 0xe5, 0xc0, 0x44, 0x00,
            0x00, 0x03, 0x00, 0x04, 0x00, 0x00, 0x03, 0x00, 0x08, 0x3c, 0x60, 0xc6, 0x58,
        ];
        assert_eq!(h264_sps_size(&sps), Some((1920, 1080)));
    }

    #[test]
    fn av1_keyframe_from_the_committed_file() {
        let frame = first_frame(Codec::Av1, (320, 240));
        let obus = av1_obus(&frame).expect("OBUs");
        assert!(
            obus.iter().all(|o| o.obu_type != OBU_TEMPORAL_DELIMITER),
            "the loader strips temporal delimiters (AV1 RTP spec 5)"
        );
        let key = av1_keyframe(&frame).expect("keyframe");
        assert_eq!(
            key.evidence,
            "AV1 keyframe, sequence header profile 0, max 320x240"
        );
        let clip = source::load(Codec::Av1, Some((160, 120))).unwrap();
        assert_eq!(
            av1_keyframe(&clip.frames[0].data).unwrap().height,
            Some(120)
        );
        assert!(av1_keyframe(&clip.frames[1].data).is_none());
    }

    #[test]
    fn opus_toc_from_the_committed_file() {
        let clip = source::load(Codec::Opus, None).unwrap();
        let described = opus_toc(&clip.frames[0].data).expect("TOC");
        assert!(described.ends_with(" 20 ms)"), "{described}");
        assert_eq!(
            opus_toc(&[12 << 3]).unwrap(),
            "Opus TOC config 12 (Hybrid SWB 10 ms)"
        );
        assert_eq!(
            opus_toc(&[31 << 3]).unwrap(),
            "Opus TOC config 31 (CELT FB 20 ms)"
        );
        assert_eq!(opus_toc(&[]), None);
    }

    #[test]
    fn exp_golomb() {
        // 1 -> 0, 010 -> 1, 011 -> 2, 00100 -> 3
        let mut b = Bits::new(&[0b1010_0110, 0b0100_0000]);
        assert_eq!(b.ue(), Some(0));
        assert_eq!(b.ue(), Some(1));
        assert_eq!(b.ue(), Some(2));
        assert_eq!(b.ue(), Some(3));
    }
}
