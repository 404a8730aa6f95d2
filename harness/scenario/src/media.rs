//! Pass 2 for the media steps (`add_media`, `expect_media`, ...): names, kinds, directions,
//! codecs, sizes and simulcast layers, each error located at the value it is about.
//!
//! A media name is introduced by one `add_media` step of one peer and is the scenario's handle
//! for that transceiver. Steps that change a transceiver (`set_direction`, `replace_track`,
//! `remove_track`) must run on the peer that added it; steps that observe what arrives
//! (`expect_media`, `request_key_frame`, ...) may name it from either peer: the runner
//! resolves the name to the m-line (`mid`) both peers share.

use std::time::Duration;

use interop_protocol::{MediaKind, MediaSource, SimulcastLayer};
use serde_saphyr::Spanned;

use crate::check::{at, Added, Checker};
use crate::plan::{
    Action, Expectation, MediaExpectation, PeerCommand, PeerId, RelayStep, DEFAULT_AUDIO_PACKETS,
    DEFAULT_VIDEO_FRAMES, DEFAULT_VIDEO_PACKETS,
};
use crate::raw::{
    RawAddMedia, RawDropPackets, RawExpectCurrentDirection, RawExpectMedia, RawExpectNoMedia,
    RawMediaName, RawMediaTimeout, RawReplaceTrack, RawSetDirection, RawStep, SString,
};
use crate::suggest::{did_you_mean, quote_list};
use crate::tree::short;

pub const DIRECTIONS: &[&str] = &["sendrecv", "sendonly", "recvonly", "inactive"];
pub const KINDS: &[&str] = &["audio", "video"];
/// Codecs a scenario may force, in their canonical spelling (matched case-insensitively).
pub const CODECS: &[(&str, MediaKind)] = &[
    ("audio/opus", MediaKind::Audio),
    ("audio/PCMU", MediaKind::Audio),
    ("audio/PCMA", MediaKind::Audio),
    ("audio/G722", MediaKind::Audio),
    ("video/VP8", MediaKind::Video),
    ("video/VP9", MediaKind::Video),
    ("video/H264", MediaKind::Video),
    ("video/AV1", MediaKind::Video),
];
const MIN_SIDE: u32 = 16;
const MAX_SIDE: u32 = 3840;
const MAX_LAYERS: usize = 4;
const MAX_DROP_EVERY: u32 = 1000;

/// The media steps as written (see [`crate::validate`]'s one match over `RawStep`).
pub(crate) enum MediaStep<'a> {
    AddMedia(&'a RawAddMedia),
    SetDirection(&'a RawSetDirection),
    ReplaceTrack(&'a RawReplaceTrack),
    RemoveTrack(&'a RawMediaName),
    RequestKeyFrame(&'a RawMediaTimeout),
    ExpectMedia(&'a RawExpectMedia),
    ExpectNoMedia(&'a RawExpectNoMedia),
    ExpectCurrentDirection(&'a RawExpectCurrentDirection),
    DropPackets(&'a RawDropPackets),
    ExpectRetransmissions(&'a RawMediaTimeout),
}

impl Checker<'_> {
    /// Records every media name an `add_media` step introduces, so that later steps can be
    /// checked against it (and earlier ones told where it comes from).
    pub(crate) fn note_added_media(&mut self, steps: &[Spanned<RawStep>]) {
        for (index, step) in steps.iter().enumerate() {
            if let RawStep::AddMedia(args) = &step.value {
                let peer = self.peers.get(&args.peer.value).copied();
                let kind = kind_of(&args.kind.value);
                self.media.entry(args.name.value.clone()).or_insert(Added {
                    index,
                    line: at(&args.name).line,
                    peer,
                    kind,
                });
            }
        }
    }

    /// Validates one media step; `None` when it has errors (they are recorded).
    pub(crate) fn media_step(
        &mut self,
        index: usize,
        step: MediaStep<'_>,
        kind: &'static str,
        default_timeout: Duration,
    ) -> Option<(PeerId, Action)> {
        match step {
            MediaStep::AddMedia(args) => self.add_media(index, args),
            MediaStep::SetDirection(args) => {
                let peer = self.one_peer(&args.peer, "peer");
                let added = self.owned_name(&args.name, index, kind, peer);
                let direction = self.direction(Some(&args.direction));
                Some((
                    peer?,
                    Action::Command(PeerCommand::SetDirection {
                        name: added?,
                        direction: direction?,
                    }),
                ))
            }
            MediaStep::ReplaceTrack(args) => self.replace_track_step(index, args, kind),
            MediaStep::RemoveTrack(args) => {
                let peer = self.one_peer(&args.peer, "peer");
                let name = self.owned_name(&args.name, index, kind, peer);
                Some((
                    peer?,
                    Action::Command(PeerCommand::RemoveTrack { name: name? }),
                ))
            }
            MediaStep::RequestKeyFrame(args) => {
                let (peer, name, timeout) = self.video_wait(index, args, kind, default_timeout)?;
                let what = Expectation::KeyFrameAfterRequest { name };
                Some((peer, Action::Expect { what, timeout }))
            }
            MediaStep::ExpectRetransmissions(args) => {
                let (peer, name, timeout) = self.video_wait(index, args, kind, default_timeout)?;
                let what = Expectation::Retransmissions { name };
                Some((peer, Action::Expect { what, timeout }))
            }
            MediaStep::ExpectMedia(args) => self.expect_media_step(index, args, default_timeout),
            MediaStep::ExpectNoMedia(args) => {
                let peer = self.one_peer(&args.peer, "peer");
                let name = self.known_name(&args.name, index);
                let during = self.duration(&args.during, "during");
                Some((
                    peer?,
                    Action::Expect {
                        what: Expectation::NoMedia { name: name? },
                        timeout: during?,
                    },
                ))
            }
            MediaStep::ExpectCurrentDirection(args) => {
                let peer = self.one_peer(&args.peer, "peer");
                let name = self.known_name(&args.name, index);
                let direction = self.direction(Some(&args.direction));
                let timeout = self.expectation_timeout(args.timeout.as_ref(), default_timeout);
                Some((
                    peer?,
                    Action::Expect {
                        what: Expectation::CurrentDirection {
                            name: name?,
                            direction: direction?,
                        },
                        timeout,
                    },
                ))
            }
            MediaStep::DropPackets(args) => self.drop_packets_step(index, args),
        }
    }

    /// `replace_track`: a size only for a video track.
    fn replace_track_step(
        &mut self,
        index: usize,
        args: &RawReplaceTrack,
        kind: &'static str,
    ) -> Option<(PeerId, Action)> {
        let peer = self.one_peer(&args.peer, "peer");
        let name = self.owned_name(&args.name, index, kind, peer);
        let source = self.source(args.width.as_ref(), args.height.as_ref());
        if let Some(name) = &name {
            if self.media[name].kind == Some(MediaKind::Audio)
                && (args.width.is_some() || args.height.is_some())
            {
                let at = at(args
                    .width
                    .as_ref()
                    .or(args.height.as_ref())
                    .expect("one is set"));
                self.error(
                    at,
                    Some("width"),
                    format!("`{name}` is audio: a size is only for video"),
                );
                return None;
            }
        }
        Some((
            peer?,
            Action::Command(PeerCommand::ReplaceTrack {
                name: name?,
                source: source?,
            }),
        ))
    }

    /// `expect_media`: `frames`, `width`, `height` and `layers` only for video; the defaults
    /// depend on the kind.
    fn expect_media_step(
        &mut self,
        index: usize,
        args: &RawExpectMedia,
        default_timeout: Duration,
    ) -> Option<(PeerId, Action)> {
        let peer = self.one_peer(&args.peer, "peer");
        let name = self.known_name(&args.name, index);
        let media_kind = name.as_ref().and_then(|n| self.media[n].kind);
        let codec = args.codec.as_ref().and_then(|c| self.codec(c, media_kind));
        let video = media_kind != Some(MediaKind::Audio);
        if let (false, Some(frames)) = (video, &args.frames) {
            let message = "`frames` is for video; audio is checked by `packets`";
            self.error(at(frames), Some("frames"), message);
        }
        let size_given = args.width.is_some() || args.height.is_some();
        if !video && size_given {
            let value = args
                .width
                .as_ref()
                .or(args.height.as_ref())
                .expect("one is set");
            self.error(
                at(value),
                Some("width"),
                "`width` and `height` are for video",
            );
        }
        let size = self.source(args.width.as_ref(), args.height.as_ref());
        let layers = match &args.layers {
            Some(layers) if !video => {
                self.error(at(layers), Some("layers"), "`layers` are for video");
                Vec::new()
            }
            Some(layers) => self.rids(layers),
            None => Vec::new(),
        };
        let (frames, packets) = if video {
            (DEFAULT_VIDEO_FRAMES, DEFAULT_VIDEO_PACKETS)
        } else {
            (0, DEFAULT_AUDIO_PACKETS)
        };
        let expect = MediaExpectation {
            codec,
            frames: args.frames.as_ref().map_or(frames, |f| f.value),
            packets: args.packets.as_ref().map_or(packets, |p| p.value),
            width: size.as_ref().and_then(|s| s.width),
            height: size.as_ref().and_then(|s| s.height),
            layers,
        };
        let timeout = self.expectation_timeout(args.timeout.as_ref(), default_timeout);
        Some((
            peer?,
            Action::Expect {
                what: Expectation::Media {
                    name: name?,
                    expect,
                },
                timeout,
            },
        ))
    }

    /// `drop_packets`: `every` from 2 to [`MAX_DROP_EVERY`].
    fn drop_packets_step(
        &mut self,
        index: usize,
        args: &RawDropPackets,
    ) -> Option<(PeerId, Action)> {
        let peer = self.one_peer(&args.peer, "peer");
        let name = self.known_name(&args.name, index);
        let every = args.every.value;
        if !(2..=MAX_DROP_EVERY).contains(&every) {
            let message = format!("`every` must be from 2 to {MAX_DROP_EVERY}, found {every}");
            self.error(at(&args.every), Some("every"), message);
            return None;
        }
        Some((
            peer?,
            Action::Relay(RelayStep::DropPackets { name: name?, every }),
        ))
    }

    /// The peer, video name and timeout of a wait that only video can meet.
    fn video_wait(
        &mut self,
        index: usize,
        args: &RawMediaTimeout,
        kind: &str,
        default_timeout: Duration,
    ) -> Option<(PeerId, String, Duration)> {
        let peer = self.one_peer(&args.peer, "peer");
        let name = self.known_name(&args.name, index);
        let timeout = self.expectation_timeout(args.timeout.as_ref(), default_timeout);
        if let Some(name) = &name {
            if self.media[name].kind == Some(MediaKind::Audio) {
                let message = format!("`{kind}` is for video, and `{name}` is audio");
                self.error(at(&args.name), Some("name"), message);
                return None;
            }
        }
        Some((peer?, name?, timeout))
    }

    fn add_media(&mut self, index: usize, args: &RawAddMedia) -> Option<(PeerId, Action)> {
        let peer = self.one_peer(&args.peer, "peer");
        self.identifier(&args.name, "name", "media name");
        let name = &args.name.value;
        let first = self.media.get(name).map(|a| (a.index, a.line));
        if let Some((first_index, line)) = first {
            if first_index != index {
                let message = format!(
                    "media name `{}` is already added by the `add_media` step on line {line}; \
                     each `add_media` needs its own name",
                    short(name)
                );
                self.error(at(&args.name), Some("name"), message);
            }
        }
        let kind = if self.one_of(&args.kind, "kind", "media kind", KINDS) {
            kind_of(&args.kind.value)
        } else {
            None
        };
        let direction = self.direction(args.direction.as_ref());
        let codec = args.codec.as_ref().and_then(|c| self.codec(c, kind));
        let source = self.source(args.width.as_ref(), args.height.as_ref());
        if kind == Some(MediaKind::Audio) {
            if let Some(value) = args.width.as_ref().or(args.height.as_ref()) {
                self.error(
                    at(value),
                    Some("width"),
                    "`width` and `height` are for video",
                );
            }
        }
        let mut simulcast = Vec::new();
        if let Some(layers) = &args.simulcast {
            if kind == Some(MediaKind::Audio) {
                self.error(at(layers), Some("simulcast"), "`simulcast` is for video");
            } else if layers.value.len() < 2 || layers.value.len() > MAX_LAYERS {
                let message = format!(
                    "`simulcast` needs 2 to {MAX_LAYERS} layers, found {}",
                    layers.value.len()
                );
                self.error(at(layers), Some("simulcast"), message);
            } else {
                for layer in &layers.value {
                    let rid = &layer.value.rid;
                    self.rid(rid);
                    if simulcast
                        .iter()
                        .any(|l: &SimulcastLayer| l.rid == rid.value)
                    {
                        let message =
                            format!("rid `{}` appears twice in `simulcast`", short(&rid.value));
                        self.error(at(rid), Some("rid"), message);
                    }
                    let scale = match &layer.value.scale_down_by {
                        Some(s) if s.value >= 1.0 && s.value <= 16.0 => s.value,
                        Some(s) => {
                            let message =
                                format!("`scale_down_by` must be from 1 to 16, found {}", s.value);
                            self.error(at(s), Some("scale_down_by"), message);
                            1.0
                        }
                        None => 1.0,
                    };
                    simulcast.push(SimulcastLayer {
                        rid: rid.value.clone(),
                        scale_resolution_down_by: scale,
                    });
                }
            }
        }
        Some((
            peer?,
            Action::Command(PeerCommand::AddMedia {
                name: name.clone(),
                kind: kind?,
                direction: direction?,
                codec,
                source: source?,
                simulcast,
            }),
        ))
    }

    fn direction(&mut self, value: Option<&SString>) -> Option<String> {
        match value {
            None => Some("sendrecv".to_owned()),
            Some(d) => self
                .one_of(d, "direction", "direction", DIRECTIONS)
                .then(|| d.value.clone()),
        }
    }

    /// A codec MIME type, canonicalised; it must be of `kind` when that is known.
    fn codec(&mut self, value: &SString, kind: Option<MediaKind>) -> Option<String> {
        let found = CODECS
            .iter()
            .find(|(mime, _)| mime.eq_ignore_ascii_case(&value.value));
        match found {
            Some((mime, codec_kind)) if kind.is_none_or(|k| k == *codec_kind) => {
                Some((*mime).to_owned())
            }
            Some((mime, codec_kind)) => {
                let message = format!(
                    "`{mime}` is an {} codec, but this media is {}",
                    codec_kind.as_str(),
                    kind.map_or("", |k| k.as_str())
                );
                self.error(at(value), Some("codec"), message);
                None
            }
            None => {
                let names: Vec<&str> = CODECS.iter().map(|(m, _)| *m).collect();
                let mut message = format!(
                    "unknown codec `{}`; expected one of {}",
                    short(&value.value),
                    quote_list(&names)
                );
                if let Some(close) = did_you_mean(&value.value, &names) {
                    message.push_str(&format!(" (did you mean `{close}`?)"));
                }
                self.error(at(value), Some("codec"), message);
                None
            }
        }
    }

    /// `width` and `height`: both or neither.
    fn source(
        &mut self,
        width: Option<&Spanned<u32>>,
        height: Option<&Spanned<u32>>,
    ) -> Option<MediaSource> {
        let mut ok = true;
        for (value, key) in [(width, "width"), (height, "height")] {
            if let Some(v) = value {
                if !(MIN_SIDE..=MAX_SIDE).contains(&v.value) {
                    let message = format!(
                        "`{key}` must be from {MIN_SIDE} to {MAX_SIDE}, found {}",
                        v.value
                    );
                    self.error(at(v), Some(key), message);
                    ok = false;
                }
            }
        }
        match (width, height) {
            (Some(w), None) => {
                self.error(at(w), Some("height"), "`width` needs `height` too");
                None
            }
            (None, Some(h)) => {
                self.error(at(h), Some("width"), "`height` needs `width` too");
                None
            }
            _ if !ok => None,
            (w, h) => Some(MediaSource {
                width: w.map(|w| w.value),
                height: h.map(|h| h.value),
            }),
        }
    }

    fn rids(&mut self, layers: &Spanned<Vec<SString>>) -> Vec<String> {
        if layers.value.is_empty() {
            self.error(
                at(layers),
                Some("layers"),
                "`layers` must name at least one rid",
            );
        }
        layers
            .value
            .iter()
            .filter(|rid| self.rid(rid))
            .map(|rid| rid.value.clone())
            .collect()
    }

    /// RFC 8851: a rid is 1 to 16 alphanumeric characters (plus `-` and `_`).
    fn rid(&mut self, rid: &SString) -> bool {
        let ok = !rid.value.is_empty()
            && rid.value.len() <= 16
            && rid
                .value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !ok {
            let message = format!(
                "invalid rid `{}`: 1 to 16 letters, digits, `-` or `_`",
                short(&rid.value)
            );
            self.error(at(rid), Some("rid"), message);
        }
        ok
    }

    /// A name an earlier `add_media` step introduced.
    fn known_name(&mut self, name: &SString, index: usize) -> Option<String> {
        let message = match self.media.get(&name.value) {
            Some(added) if added.index < index => return Some(name.value.clone()),
            Some(added) => format!(
                "media `{}` is used before the `add_media` step on line {} adds it",
                short(&name.value),
                added.line
            ),
            None => {
                let mut known: Vec<(&str, usize)> = self
                    .media
                    .iter()
                    .map(|(n, a)| (n.as_str(), a.index))
                    .collect();
                known.sort_unstable_by_key(|(_, i)| *i);
                let known: Vec<&str> = known.into_iter().map(|(n, _)| n).collect();
                let mut message = format!("unknown media `{}`; ", short(&name.value));
                if known.is_empty() {
                    message.push_str("no `add_media` step adds it");
                } else {
                    message.push_str(&format!("this scenario adds {}", quote_list(&known)));
                    if let Some(close) = did_you_mean(&name.value, &known) {
                        message.push_str(&format!(" (did you mean `{close}`?)"));
                    }
                }
                message
            }
        };
        self.error(at(name), Some("name"), message);
        None
    }

    /// A known name that `peer` added itself (only the peer holding a transceiver changes it).
    fn owned_name(
        &mut self,
        name: &SString,
        index: usize,
        kind: &str,
        peer: Option<PeerId>,
    ) -> Option<String> {
        let known = self.known_name(name, index)?;
        let owner = self.media[&known].peer;
        match (owner, peer) {
            (Some(owner), Some(peer)) if owner != peer => {
                let message = format!(
                    "`{kind}` changes a transceiver of the peer that added it: `{}` was added \
                     by `{}` (line {}), not by `{}`",
                    short(&known),
                    self.peer_name(owner),
                    self.media[&known].line,
                    self.peer_name(peer),
                );
                self.error(at(name), Some("name"), message);
                None
            }
            _ => Some(known),
        }
    }
}

impl Checker<'_> {
    fn peer_name(&self, id: PeerId) -> String {
        self.peers
            .iter()
            .find(|(_, peer)| **peer == id)
            .map_or_else(|| "?".to_owned(), |(name, _)| name.clone())
    }
}

fn kind_of(kind: &str) -> Option<MediaKind> {
    match kind {
        "audio" => Some(MediaKind::Audio),
        "video" => Some(MediaKind::Video),
        _ => None,
    }
}
