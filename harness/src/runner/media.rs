//! The media steps of a run: adding and changing transceivers, and checking what arrives.
//!
//! Everything here is judged from what the peers themselves report ([`MediaReport`]: browsers'
//! `getStats` plus a video element, the Rust peer's RTP counters and depacketized keyframes)
//! and, for loss and retransmission, from what the harness's own relay saw on the wire. A name
//! from the scenario (`add_media: { name: cam }`) is resolved to the m-line both peers share
//! (its `mid`) through the report of the peer that added it.
//!
//! Each media expectation is a [`Probe`] of the one wait (wait.rs), polled: the peer is asked
//! for a report, and until the next one the session keeps processing incoming frames (events,
//! candidates), so nothing stalls.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use interop_protocol::{Command, MediaKind, MediaReport, ReceivedStream, Reply, TransceiverReport};
use interop_results::Outcome;
use interop_scenario::plan::{MediaExpectation, PeerId};
use serde_json::json;

use super::expect::connection_state;
use super::session::Session;
use super::wait::{Probe, Verdict, Wait};
use super::{human, role, round, Stop};
use crate::sdp;

/// Media bookkeeping of one run.
#[derive(Debug, Default)]
pub(super) struct MediaState {
    /// Media name -> the peer whose `add_media` introduced it.
    owners: HashMap<String, PeerId>,
    /// Media name -> mid, once negotiated.
    mids: HashMap<String, String>,
    /// `<receiver role> <name>` -> ms from the receiver's `connected` to the first packet/frame.
    pub first_rtp_ms: BTreeMap<String, f64>,
    pub first_frame_ms: BTreeMap<String, f64>,
    /// What the media steps established, for the run record's `observed`.
    pub observed: BTreeMap<String, serde_json::Value>,
    /// The last report of each peer (written to `media-<peer>.json` at the end).
    last_reports: [Option<MediaReport>; 2],
}

impl MediaState {
    /// `peer`'s `add_media` introduced `name`.
    pub fn added(&mut self, name: &str, peer: PeerId) {
        self.owners.insert(name.to_owned(), peer);
    }

    pub fn used(&self) -> bool {
        !self.owners.is_empty()
    }
}

impl Session {
    /// `get_media_report` on `peer`.
    async fn media_report(&mut self, peer: PeerId) -> Result<MediaReport, Stop> {
        let (_, reply) = self
            .command(peer, Command::GetMediaReport, "get media report")
            .await?;
        match reply {
            Reply::Media { report } => {
                self.media.last_reports[peer.0] = Some(report.clone());
                Ok(report)
            }
            other => Err(Stop::new(
                Outcome::Error,
                format!(
                    "{}: get media report answered {other:?}",
                    self.peers[peer.0].label()
                ),
            )),
        }
    }

    /// The mid of the transceiver the scenario calls `name`, `None` until it has one.
    async fn mid_of(&mut self, name: &str) -> Result<Option<String>, Stop> {
        if let Some(mid) = self.media.mids.get(name) {
            return Ok(Some(mid.clone()));
        }
        let Some(&owner) = self.media.owners.get(name) else {
            return Ok(None);
        };
        let report = self.media_report(owner).await?;
        let mid = report
            .transceivers
            .iter()
            .find(|t| t.name.as_deref() == Some(name))
            .and_then(|t| t.mid.clone());
        if let Some(mid) = &mid {
            self.media.mids.insert(name.to_owned(), mid.clone());
        }
        Ok(mid)
    }

    /// The mid of `name`, or a failure saying the transceiver was never negotiated.
    async fn negotiated_mid(&mut self, name: &str, what: &str) -> Result<String, Stop> {
        match self.mid_of(name).await? {
            Some(mid) => Ok(mid),
            None => {
                let owner = self.media.owners.get(name).copied().unwrap_or(PeerId(0));
                Err(Stop::new(
                    Outcome::Fail,
                    format!(
                        "{}: {what}: the transceiver '{name}' has no mid (it was never negotiated)",
                        self.peers[owner.0].label()
                    ),
                ))
            }
        }
    }

    /// `expect_media`: the media named `name` arrives at `wait.peer` as `expect` says.
    pub(super) async fn expect_media(
        &mut self,
        name: &str,
        expect: &MediaExpectation,
        wait: Wait<'_>,
    ) -> Result<(), Stop> {
        let peer = wait.peer;
        if !expect.layers.is_empty() {
            self.require_simulcast_answer(peer, name, wait.what).await?;
        }
        let streams = self
            .wait_until(wait, MediaArrives { peer, name, expect })
            .await?;
        self.record_media(peer, name, &streams);
        Ok(())
    }

    /// Simulcast needs the answerer to accept it: an offer with `a=simulcast` answered without
    /// it means the answerer does not receive simulcast (RFC 8853 section 5.3), which makes the
    /// run `unsupported` with the answer's m-section as the evidence.
    async fn require_simulcast_answer(
        &mut self,
        peer: PeerId,
        name: &str,
        what: &str,
    ) -> Result<(), Stop> {
        let mid = self.negotiated_mid(name, what).await?;
        let section = |sdp: &Option<(PeerId, String)>| {
            sdp.as_ref().and_then(|(who, text)| {
                sdp::media_sections(text)
                    .into_iter()
                    .find(|s| s.mid.as_deref() == Some(mid.as_str()))
                    .map(|s| (*who, s))
            })
        };
        let (Some((_, offered)), Some((answerer, answered))) =
            (section(&self.offer), section(&self.answer))
        else {
            return Ok(());
        };
        if offered.simulcast.is_some() && answered.simulcast.is_none() {
            return Err(Stop::new(
                Outcome::Unsupported,
                format!(
                    "{}: {what}: the offer has a=simulcast:{} with rids {:?}, but the answer by \
                     {} has no a=simulcast for mid {mid} (rids answered: {:?}): it does not \
                     receive simulcast",
                    self.peers[peer.0].label(),
                    offered.simulcast.unwrap_or_default(),
                    offered.rids,
                    self.peers[answerer.0].label(),
                    answered.rids,
                ),
            ));
        }
        Ok(())
    }

    /// Timings and observed facts of a met `expect_media`.
    fn record_media(&mut self, peer: PeerId, name: &str, streams: &[ReceivedStream]) {
        let role = peer.role().as_str();
        let key = format!("{role} {name}");
        let connected = self.peers[peer.0]
            .log
            .events
            .iter()
            .find(|(_, e)| connection_state(e) == Some("connected"))
            .map(|(t, _)| *t);
        let first = |pick: fn(&ReceivedStream) -> Option<f64>| {
            streams.iter().filter_map(pick).min_by(f64::total_cmp)
        };
        if let Some(connected) = connected {
            if let Some(t) = first(|s| s.first_packet_t) {
                self.media
                    .first_rtp_ms
                    .insert(key.clone(), round(t - connected));
            }
            if let Some(t) = first(|s| s.first_frame_t) {
                self.media
                    .first_frame_ms
                    .insert(key.clone(), round(t - connected));
            }
        }
        let summary: Vec<serde_json::Value> = streams
            .iter()
            .map(|s| {
                json!({
                    "rid": s.rid,
                    "codec": s.codec,
                    "packets": s.packets,
                    "frames": s.frames,
                    "keyframes": s.keyframes,
                    "frame_size": s.frame_width.zip(s.frame_height).map(|(w, h)| format!("{w}x{h}")),
                    "audio_energy": s.audio_energy,
                    "evidence": s.evidence,
                })
            })
            .collect();
        self.media
            .observed
            .insert(format!("{role}.received.{name}"), json!(summary));
    }

    /// `expect_no_media`: no RTP packet of `name` arrives at `wait.peer` during the wait
    /// (a hold).
    pub(super) async fn expect_no_media(&mut self, name: &str, wait: Wait<'_>) -> Result<(), Stop> {
        let (peer, during) = (wait.peer, wait.timeout);
        let mid = self.mid_of(name).await?;
        let before = packets_on(&self.media_report(peer).await?, mid.as_deref());
        let probe = NoMedia {
            peer,
            mid,
            before,
            during,
        };
        let after = self.wait_until(wait, probe).await?;
        self.media.observed.insert(
            format!("{}.no_media.{name}", role(peer)),
            json!({ "packets_before": before, "packets_after": after, "during_ms": during.as_millis() as u64 }),
        );
        Ok(())
    }

    /// `expect_current_direction`: the peer's transceiver `name` reports `currentDirection`
    /// `direction`. Before negotiation (no mid, or no current direction yet) it is pending;
    /// another negotiated value contradicts it.
    pub(super) async fn expect_current_direction(
        &mut self,
        name: &str,
        direction: &str,
        wait: Wait<'_>,
    ) -> Result<(), Stop> {
        let peer = wait.peer;
        let probe = CurrentDirection {
            peer,
            name,
            direction,
        };
        let found = self.wait_until(wait, probe).await?;
        self.media.observed.insert(
            format!("{}.current_direction.{name}", role(peer)),
            json!(found),
        );
        Ok(())
    }

    /// `expect_key_frame_after_request`: after `request_key_frame`, a new keyframe arrives
    /// and the sender counted the request (where it can tell).
    pub(super) async fn request_key_frame(
        &mut self,
        name: &str,
        wait: Wait<'_>,
    ) -> Result<(), Stop> {
        let (peer, what) = (wait.peer, wait.what);
        let mid = self.negotiated_mid(name, what).await?;
        let sender = peer.other();
        let k0 = keyframes(&self.media_report(peer).await?, &mid);
        let p0 = key_frame_requests(&self.media_report(sender).await?, &mid);
        if k0.is_none() {
            let reason = format!("{what}: no received stream on mid {mid} reports keyframes");
            return Err(self.failure(peer, &reason));
        }
        self.command(peer, Command::RequestKeyFrame { mid: mid.clone() }, what)
            .await?;
        let (k, p) = self
            .wait_until(wait, KeyFrame { peer, mid, k0, p0 })
            .await?;
        self.media.observed.insert(
            format!("{}.key_frame_request.{name}", role(peer)),
            json!({
                "keyframes_before": k0, "keyframes_after": k,
                "sender_pli_fir_before": p0, "sender_pli_fir_after": p,
            }),
        );
        Ok(())
    }

    /// The relay, or an error outcome saying the step needs it.
    fn require_relay(&self, what: &str) -> Result<(), Stop> {
        if self.capture.is_none() {
            return Err(Stop::new(
                Outcome::Error,
                format!("{what}: needs the capture relay, which --capture off turned off"),
            ));
        }
        Ok(())
    }

    pub(super) async fn drop_packets(
        &mut self,
        peer: PeerId,
        name: &str,
        every: u32,
        what: &str,
    ) -> Result<(), Stop> {
        self.require_relay(what)?;
        let mid = self.negotiated_mid(name, what).await?;
        let sections: Vec<sdp::MediaSection> = [&self.offer, &self.answer]
            .into_iter()
            .flatten()
            .flat_map(|(_, text)| sdp::media_sections(text))
            .filter(|s| s.mid.as_deref() == Some(mid.as_str()))
            .collect();
        // Every payload type but RTX: Chromium wraps video in RED (RFC 2198) when both sides
        // offer it, so the media travels under the `red` payload type.
        let mut rtx: Vec<u8> = sections
            .iter()
            .flat_map(|s| s.rtx_payload_types())
            .collect();
        let mut media: Vec<u8> = sections
            .iter()
            .flat_map(|s| s.payload_types.clone())
            .filter(|pt| !rtx.contains(pt))
            .collect();
        media.sort_unstable();
        media.dedup();
        rtx.sort_unstable();
        rtx.dedup();
        if media.is_empty() {
            return Err(Stop::new(
                Outcome::Error,
                format!("{what}: no payload types found for mid {mid} in the offer and answer"),
            ));
        }
        if let Some(relay) = &self.capture {
            relay.drop_rtp(peer.0, media.clone(), rtx.clone(), every);
        }
        self.media.observed.insert(
            format!("{}.drop_packets.{name}", role(peer)),
            json!({ "every": every, "payload_types": media, "rtx_payload_types": rtx }),
        );
        Ok(())
    }

    /// `expect_retransmissions`: after the relay dropped packets of `name`, they are
    /// retransmitted (on the wire; NACKs and retransmissions counted where the peers report).
    pub(super) async fn expect_retransmissions(
        &mut self,
        name: &str,
        wait: Wait<'_>,
    ) -> Result<(), Stop> {
        let (peer, what) = (wait.peer, wait.what);
        self.require_relay(what)?;
        let mid = self.negotiated_mid(name, what).await?;
        let found = self.wait_until(wait, Retransmitted { peer, mid }).await?;
        self.media
            .observed
            .insert(format!("{}.retransmissions.{name}", role(peer)), found);
        Ok(())
    }

    /// The peer's media report at the end of the run (before it closes), kept for
    /// `media-<peer>.json`; errors are ignored (the run's outcome is already decided).
    pub(super) async fn final_media_report(&mut self, peer: PeerId) {
        if self.media.used() && !self.peers[peer.0].disconnected {
            let _ = self.media_report(peer).await;
        }
    }

    /// At the end of a run that used media: each peer's last report (taken before `close`) as
    /// `media-<peer>.json`,
    /// and the negotiated media facts of the answer in `observed`.
    pub(super) async fn finish_media(&mut self) {
        if !self.media.used() {
            return;
        }
        for i in 0..2 {
            if let Some(report) = &self.media.last_reports[i] {
                let name = format!("media-{}.json", self.peers[i].name);
                self.write_artefact(
                    &name,
                    &serde_json::to_string_pretty(report).unwrap_or_default(),
                );
            }
        }
        if let Some((_, answer)) = &self.answer {
            for section in sdp::media_sections(answer) {
                let Some(mid) = &section.mid else { continue };
                let codec_pt = section.media_payload_types().first().copied();
                let value = json!({
                    "kind": section.kind,
                    "direction": section.direction,
                    "rejected": section.rejected,
                    "codec": section.first_codec(),
                    "rtcp_fb": codec_pt.map(|pt| section.feedback_of(pt)),
                    "header_extensions": section.extensions,
                    "simulcast": section.simulcast,
                });
                self.media
                    .observed
                    .insert(format!("answer.media.{mid}"), value);
            }
        }
    }
}

/// The sum of the counters that are reported; `None` when no stream reports one.
/// `expect_media`: what arrives on the transceiver of `name` meets `expect`.
struct MediaArrives<'a> {
    peer: PeerId,
    name: &'a str,
    expect: &'a MediaExpectation,
}

impl Probe for MediaArrives<'_> {
    type Found = Vec<ReceivedStream>;

    async fn look(&mut self, session: &mut Session) -> Result<Verdict<Self::Found>, Stop> {
        let Some(mid) = session.mid_of(self.name).await? else {
            return Ok(Verdict::Pending(format!(
                "the transceiver '{}' has no mid yet (not negotiated)",
                self.name
            )));
        };
        let report = session.media_report(self.peer).await?;
        Ok(evaluate(&report, &mid, self.expect))
    }
}

/// `expect_current_direction`: `currentDirection` of the transceiver `name` at `peer`.
struct CurrentDirection<'a> {
    peer: PeerId,
    name: &'a str,
    direction: &'a str,
}

impl Probe for CurrentDirection<'_> {
    /// The current direction seen.
    type Found = String;

    async fn look(&mut self, session: &mut Session) -> Result<Verdict<String>, Stop> {
        let Some(mid) = session.mid_of(self.name).await? else {
            return Ok(Verdict::Pending(format!(
                "the transceiver '{}' has no mid yet (not negotiated)",
                self.name
            )));
        };
        let report = session.media_report(self.peer).await?;
        Ok(current_direction_verdict(
            transceiver(&report, Some(&mid)),
            self.direction,
        ))
    }
}

/// The verdict on one report's transceiver for `expect_current_direction` (pure).
fn current_direction_verdict(t: Option<&TransceiverReport>, want: &str) -> Verdict<String> {
    let Some(t) = t else {
        return Verdict::Pending("no transceiver with that mid in the report".into());
    };
    match t.current_direction.as_deref() {
        Some(current) if current == want => Verdict::Met(current.to_string()),
        Some(current) => Verdict::Contradicted(format!(
            "current direction {current}, not {want} (direction {})",
            t.direction
        )),
        None => Verdict::Pending(format!(
            "no current direction yet (direction {})",
            t.direction
        )),
    }
}

/// `expect_no_media` (a hold): no more RTP packets than `before` on `mid`.
struct NoMedia {
    peer: PeerId,
    mid: Option<String>,
    before: u64,
    during: Duration,
}

impl Probe for NoMedia {
    /// The packet count at the last look.
    type Found = u64;

    async fn look(&mut self, session: &mut Session) -> Result<Verdict<u64>, Stop> {
        let report = session.media_report(self.peer).await?;
        let after = packets_on(&report, self.mid.as_deref());
        if after <= self.before {
            return Ok(Verdict::Met(after));
        }
        let t = transceiver(&report, self.mid.as_deref());
        Ok(Verdict::Contradicted(format!(
            "{} RTP packets arrived within {} (direction {}, current direction {})",
            after - self.before,
            human(self.during),
            t.map_or("?", |t| t.direction.as_str()),
            t.and_then(|t| t.current_direction.as_deref())
                .unwrap_or("none"),
        )))
    }
}

/// `expect_key_frame_after_request`: more keyframes than `k0`, and more PLI/FIR counted by
/// the sender than `p0` where it counts them.
struct KeyFrame {
    peer: PeerId,
    mid: String,
    k0: Option<u64>,
    p0: Option<u64>,
}

impl Probe for KeyFrame {
    /// Keyframes received and requests counted by the sender at the last look.
    type Found = (Option<u64>, Option<u64>);

    async fn look(&mut self, session: &mut Session) -> Result<Verdict<Self::Found>, Stop> {
        let k = keyframes(&session.media_report(self.peer).await?, &self.mid);
        let sent = session.media_report(self.peer.other()).await?;
        let p = key_frame_requests(&sent, &self.mid);
        let request_seen = match (self.p0, p) {
            (_, None) => true, // the sender cannot tell; the keyframe is the evidence
            (p0, Some(p)) => p > p0.unwrap_or(0),
        };
        if k > self.k0 && request_seen {
            return Ok(Verdict::Met((k, p)));
        }
        Ok(Verdict::Pending(format!(
            "keyframes received {} -> {}, PLI+FIR counted by the sender {} -> {}",
            show(self.k0),
            show(k),
            show(self.p0),
            show(p),
        )))
    }
}

/// `expect_retransmissions`: the relay dropped packets and then saw them again (same SSRC and
/// sequence, or RTX), with NACKs and retransmissions where the peers count them.
struct Retransmitted {
    peer: PeerId,
    mid: String,
}

impl Probe for Retransmitted {
    /// The findings for `observed`.
    type Found = serde_json::Value;

    async fn look(&mut self, session: &mut Session) -> Result<Verdict<Self::Found>, Stop> {
        let sender = self.peer.other();
        let wire = session
            .capture
            .as_ref()
            .map(|r| r.retransmissions(sender.0))
            .unwrap_or_default();
        let receiver = session.media_report(self.peer).await?;
        let sent = session.media_report(sender).await?;
        let nack_sent = transceiver(&receiver, Some(&self.mid))
            .and_then(|t| sum_known(t.received.iter().map(|s| s.nack_sent)));
        let sender_t = transceiver(&sent, Some(&self.mid));
        let nack_received =
            sender_t.and_then(|t| sum_known(t.sent.iter().map(|s| s.nack_received)));
        let retransmitted =
            sender_t.and_then(|t| sum_known(t.sent.iter().map(|s| s.retransmitted_packets)));
        let on_wire = wire.repeated + wire.rtx;
        let ok = wire.dropped > 0
            && on_wire > 0
            && nack_sent.is_none_or(|n| n > 0)
            && nack_received.is_none_or(|n| n > 0)
            && retransmitted.is_none_or(|n| n > 0);
        if ok {
            return Ok(Verdict::Met(json!({
                "dropped": wire.dropped, "repeated": wire.repeated, "rtx": wire.rtx,
                "nack_sent": nack_sent, "nack_received": nack_received,
                "retransmitted_packets": retransmitted,
            })));
        }
        Ok(Verdict::Pending(format!(
            "relay dropped {} packets, then saw {} retransmitted (same SSRC and sequence) and \
             {} RTX packets; receiver NACKs sent {}, sender NACKs received {}, sender \
             retransmitted packets {}",
            wire.dropped,
            wire.repeated,
            wire.rtx,
            show(nack_sent),
            show(nack_received),
            show(retransmitted)
        )))
    }
}

/// RTP packets received on the transceiver of `mid` (0 without one).
fn packets_on(report: &MediaReport, mid: Option<&str>) -> u64 {
    transceiver(report, mid)
        .map(|t| t.received.iter().map(|s| s.packets).sum())
        .unwrap_or(0)
}

/// Keyframes received on `mid`, if its streams count them.
fn keyframes(report: &MediaReport, mid: &str) -> Option<u64> {
    let t = transceiver(report, Some(mid))?;
    t.received.iter().map(|s| s.keyframes).sum()
}

/// PLI + FIR the sender on `mid` counted, if it counts them.
fn key_frame_requests(report: &MediaReport, mid: &str) -> Option<u64> {
    let t = transceiver(report, Some(mid))?;
    sum_known(t.sent.iter().flat_map(|s| [s.pli_received, s.fir_received]))
}

fn sum_known(values: impl Iterator<Item = Option<u64>>) -> Option<u64> {
    values
        .flatten()
        .fold(None, |sum, n| Some(sum.unwrap_or(0) + n))
}

fn show(n: Option<u64>) -> String {
    n.map_or_else(|| "not reported".to_owned(), |n| n.to_string())
}

fn transceiver<'a>(report: &'a MediaReport, mid: Option<&str>) -> Option<&'a TransceiverReport> {
    let mid = mid?;
    report
        .transceivers
        .iter()
        .find(|t| t.mid.as_deref() == Some(mid))
}

/// Whether what `report` says the transceiver `mid` received meets `expect`.
fn evaluate(
    report: &MediaReport,
    mid: &str,
    expect: &MediaExpectation,
) -> Verdict<Vec<ReceivedStream>> {
    let Some(t) = transceiver(report, Some(mid)) else {
        return Verdict::Pending(format!("no transceiver with mid {mid} yet"));
    };
    let flowing: Vec<&ReceivedStream> = t.received.iter().filter(|s| s.packets > 0).collect();
    if flowing.is_empty() {
        return Verdict::Pending(format!(
            "no RTP packet received on mid {mid} (direction {}, current direction {})",
            t.direction,
            t.current_direction.as_deref().unwrap_or("none")
        ));
    }
    if let Some(want) = &expect.codec {
        let want_name = want.split('/').nth(1).unwrap_or(want);
        for s in &flowing {
            if let Some(codec) = &s.codec {
                let name = codec.split('/').nth(1).unwrap_or(codec);
                if !name.eq_ignore_ascii_case(want_name) {
                    return Verdict::Contradicted(format!(
                        "received {codec} on mid {mid}, expected {want}"
                    ));
                }
            }
        }
    }
    let targets: Vec<(String, Option<&ReceivedStream>)> = if expect.layers.is_empty() {
        let best = flowing.iter().copied().max_by_key(|s| s.packets);
        vec![(String::new(), best)]
    } else {
        expect
            .layers
            .iter()
            .map(|rid| {
                let stream = flowing
                    .iter()
                    .copied()
                    .find(|s| s.rid.as_deref() == Some(rid.as_str()));
                (format!("layer {rid}: "), stream)
            })
            .collect()
    };
    let mut pending = Vec::new();
    let mut met = Vec::new();
    for (prefix, stream) in targets {
        let Some(s) = stream else {
            let rids: Vec<String> = flowing
                .iter()
                .map(|s| s.rid.clone().unwrap_or_else(|| "none".into()))
                .collect();
            pending.push(format!(
                "{prefix}no stream with this rid (rids seen: {})",
                rids.join(", ")
            ));
            continue;
        };
        let mut short = Vec::new();
        if s.packets < expect.packets {
            short.push(format!("{}/{} packets", s.packets, expect.packets));
        }
        if t.kind == MediaKind::Video && expect.frames > 0 {
            let frames = s.frames.unwrap_or(0);
            if frames < expect.frames {
                short.push(format!("{frames}/{} frames", expect.frames));
            }
        }
        if let (Some(w), Some(h)) = (expect.width, expect.height) {
            if (s.frame_width, s.frame_height) != (Some(w), Some(h)) {
                short.push(format!(
                    "frame size {} (want {w}x{h})",
                    s.frame_width
                        .zip(s.frame_height)
                        .map_or("unknown".into(), |(w, h)| format!("{w}x{h}"))
                ));
            }
        }
        if t.kind == MediaKind::Audio && s.audio_energy == Some(0.0) {
            short.push("audio energy 0 (silence)".into());
        }
        if short.is_empty() {
            met.push(s.clone());
        } else {
            pending.push(format!("{prefix}{} ({})", short.join(", "), describe(s)));
        }
    }
    if pending.is_empty() {
        Verdict::Met(met)
    } else {
        Verdict::Pending(pending.join("; "))
    }
}

fn describe(s: &ReceivedStream) -> String {
    let mut parts = vec![s.codec.clone().unwrap_or_else(|| "codec unknown".into())];
    parts.push(format!("{} packets", s.packets));
    if let Some(f) = s.frames {
        parts.push(format!("{f} frames"));
    }
    if let Some((w, h)) = s.frame_width.zip(s.frame_height) {
        parts.push(format!("{w}x{h}"));
    }
    if let Some(e) = &s.evidence {
        parts.push(e.clone());
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn current_direction_is_met_pending_before_negotiation_and_contradicted_otherwise() {
        let r = report(MediaKind::Video, Vec::new());
        let t = r.transceivers.first();
        assert_eq!(
            current_direction_verdict(t, "recvonly"),
            Verdict::Met("recvonly".to_string())
        );
        let Verdict::Contradicted(reason) = current_direction_verdict(t, "inactive") else {
            panic!("another negotiated direction contradicts");
        };
        assert!(
            reason.contains("current direction recvonly, not inactive"),
            "{reason}"
        );
        let mut unnegotiated = r.transceivers[0].clone();
        unnegotiated.current_direction = None;
        assert!(matches!(
            current_direction_verdict(Some(&unnegotiated), "inactive"),
            Verdict::Pending(_)
        ));
        assert!(matches!(
            current_direction_verdict(None, "inactive"),
            Verdict::Pending(_)
        ));
    }

    fn report(kind: MediaKind, streams: Vec<ReceivedStream>) -> MediaReport {
        MediaReport {
            transceivers: vec![TransceiverReport {
                mid: Some("0".into()),
                name: None,
                kind,
                direction: "recvonly".into(),
                current_direction: Some("recvonly".into()),
                has_track: false,
                sent: vec![],
                received: streams,
            }],
        }
    }

    fn video(frames: u64) -> MediaExpectation {
        MediaExpectation {
            codec: Some("video/VP8".into()),
            frames,
            packets: 10,
            width: None,
            height: None,
            layers: vec![],
        }
    }

    #[test]
    fn media_that_does_not_flow_is_never_met() {
        let empty = report(MediaKind::Video, vec![]);
        assert!(matches!(
            evaluate(&empty, "0", &video(15)),
            Verdict::Pending(_)
        ));
        let zero = report(MediaKind::Video, vec![ReceivedStream::default()]);
        assert!(matches!(
            evaluate(&zero, "0", &video(15)),
            Verdict::Pending(_)
        ));
        // Packets but no decoded frame (e.g. a muted track, or undecodable data).
        let undecoded = report(
            MediaKind::Video,
            vec![ReceivedStream {
                packets: 500,
                frames: Some(0),
                codec: Some("video/VP8".into()),
                ..Default::default()
            }],
        );
        match evaluate(&undecoded, "0", &video(15)) {
            Verdict::Pending(why) => assert!(why.contains("0/15 frames"), "{why}"),
            _ => panic!("frames are required"),
        }
        // Silence is not audio.
        let silent = report(
            MediaKind::Audio,
            vec![ReceivedStream {
                packets: 100,
                audio_energy: Some(0.0),
                ..Default::default()
            }],
        );
        let audio = MediaExpectation {
            codec: None,
            frames: 0,
            packets: 50,
            width: None,
            height: None,
            layers: vec![],
        };
        assert!(matches!(
            evaluate(&silent, "0", &audio),
            Verdict::Pending(_)
        ));
    }

    #[test]
    fn the_wrong_codec_fails_at_once_and_enough_media_is_met() {
        let stream = ReceivedStream {
            packets: 100,
            frames: Some(30),
            codec: Some("video/VP9".into()),
            ..Default::default()
        };
        let r = report(MediaKind::Video, vec![stream.clone()]);
        assert!(matches!(
            evaluate(&r, "0", &video(15)),
            Verdict::Contradicted(_)
        ));
        let vp8 = ReceivedStream {
            codec: Some("video/vp8".into()),
            ..stream
        };
        let r = report(MediaKind::Video, vec![vp8]);
        assert!(matches!(evaluate(&r, "0", &video(15)), Verdict::Met(_)));
    }

    #[test]
    fn every_simulcast_layer_must_arrive() {
        let layer = |rid: &str| ReceivedStream {
            rid: Some(rid.into()),
            packets: 100,
            frames: Some(30),
            ..Default::default()
        };
        let mut expect = video(15);
        expect.codec = None;
        expect.layers = vec!["q".into(), "h".into(), "f".into()];
        let two = report(MediaKind::Video, vec![layer("q"), layer("h")]);
        match evaluate(&two, "0", &expect) {
            Verdict::Pending(why) => assert!(why.contains("layer f"), "{why}"),
            _ => panic!("layer f is missing"),
        }
        let three = report(MediaKind::Video, vec![layer("q"), layer("h"), layer("f")]);
        assert!(matches!(evaluate(&three, "0", &expect), Verdict::Met(s) if s.len() == 3));
    }
}
