//! An interceptor that only counts: what RTP and RTCP actually cross the interceptor chain, per
//! SSRC. It is how this peer observes keyframe requests and NACKs (`webrtc` 0.21.1 ends inbound
//! RTCP inside the chain unless an interceptor marks it for the application, and its stats have
//! no NACK / PLI / FIR counters), so every counter in the media report that it feeds is a
//! packet that really went by.
//!
//! ```text
//!  wire  <- 1000 CC, 2000 TWCC, 3000 pacer | 3500 MediaTap | 4000 NACK responder,
//!           7000 NACK generator, 10000 RR, 11000 SR ...  -> application
//! ```
//!
//! At 3500 the tap is wire-ward of every packet generator that matters: on the write leg it
//! sees the NACK responder's retransmissions, the NACK generator's NACKs and the PLIs the peer
//! writes; on the read leg it sees inbound RTCP before the responder consumes it.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use rtc::interceptor::{Attribute, Interceptor, Packet, StreamInfo, TaggedPacket};
use rtc::rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtcp::transport_feedbacks::transport_layer_nack::TransportLayerNack;
use rtc::sansio::Protocol;
use rtc::shared::error::Error;

/// Where the tap sits in the chain; see the module doc.
pub const TAP_SLOT: usize = 3_500;

/// Counters for one SSRC.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SsrcCounters {
    /// Outbound RTP, first transmissions only.
    pub rtp_packets_sent: u64,
    /// Payload bytes of those (W3C `bytesSent` excludes headers and padding).
    pub rtp_bytes_sent: u64,
    /// Outbound RTP the NACK responder marked as retransmissions (keyed by the SSRC they
    /// went out on: the RTX SSRC when RTX is negotiated).
    pub retransmitted_sent: u64,
    /// Inbound RTCP naming this SSRC as the media source.
    pub pli_received: u64,
    pub fir_received: u64,
    pub nack_received: u64,
    /// Outbound RTCP naming this SSRC as the media source.
    pub pli_sent: u64,
    pub fir_sent: u64,
    pub nack_sent: u64,
}

impl SsrcCounters {
    /// PLIs plus FIRs received: what the sending task answers with a keyframe.
    pub fn keyframe_requests(&self) -> u64 {
        self.pli_received + self.fir_received
    }
}

/// The counters the tap fills and the peer reads. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct TapCounters(Arc<Mutex<HashMap<u32, SsrcCounters>>>);

impl TapCounters {
    pub fn get(&self, ssrc: u32) -> SsrcCounters {
        self.lock().get(&ssrc).copied().unwrap_or_default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u32, SsrcCounters>> {
        // A panic while counting cannot leave a counter half-updated; keep going.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn update(&self, ssrc: u32, f: impl FnOnce(&mut SsrcCounters)) {
        f(self.lock().entry(ssrc).or_default());
    }

    fn count_rtcp(&self, packets: &[Box<dyn rtc::rtcp::Packet>], inbound: bool) {
        for packet in packets {
            let any = packet.as_any();
            if let Some(pli) = any.downcast_ref::<PictureLossIndication>() {
                self.update(pli.media_ssrc, |c| {
                    if inbound {
                        c.pli_received += 1
                    } else {
                        c.pli_sent += 1
                    }
                });
            } else if let Some(fir) = any.downcast_ref::<FullIntraRequest>() {
                for entry in &fir.fir {
                    self.update(entry.ssrc, |c| {
                        if inbound {
                            c.fir_received += 1
                        } else {
                            c.fir_sent += 1
                        }
                    });
                }
            } else if let Some(nack) = any.downcast_ref::<TransportLayerNack>() {
                self.update(nack.media_ssrc, |c| {
                    if inbound {
                        c.nack_received += 1
                    } else {
                        c.nack_sent += 1
                    }
                });
            }
        }
    }
}

/// The interceptor. Passes every packet on unchanged.
pub struct MediaTap {
    counters: TapCounters,
    read_queue: VecDeque<TaggedPacket>,
    write_queue: VecDeque<TaggedPacket>,
}

impl MediaTap {
    pub fn new(counters: TapCounters) -> Self {
        MediaTap {
            counters,
            read_queue: VecDeque::new(),
            write_queue: VecDeque::new(),
        }
    }
}

impl Protocol<TaggedPacket, TaggedPacket, ()> for MediaTap {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = Error;
    type Time = Instant;

    fn handle_read(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        if let Packet::Rtcp(packets) = &msg.message.packet {
            self.counters.count_rtcp(packets, true);
        }
        self.read_queue.push_back(msg);
        Ok(())
    }

    fn poll_read(&mut self) -> Option<Self::Rout> {
        self.read_queue.pop_front()
    }

    fn handle_write(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        match &msg.message.packet {
            Packet::Rtp(rtp) => {
                let retransmission = msg.message.has(&Attribute::Retransmission);
                let bytes = rtp.payload.len() as u64;
                self.counters.update(rtp.header.ssrc, |c| {
                    if retransmission {
                        c.retransmitted_sent += 1;
                    } else {
                        c.rtp_packets_sent += 1;
                        c.rtp_bytes_sent += bytes;
                    }
                });
            }
            Packet::Rtcp(packets) => self.counters.count_rtcp(packets, false),
            _ => {}
        }
        self.write_queue.push_back(msg);
        Ok(())
    }

    fn poll_write(&mut self) -> Option<Self::Wout> {
        self.write_queue.pop_front()
    }
}

impl Interceptor for MediaTap {
    fn bind_local_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_local_stream(&mut self, _info: &StreamInfo) {}
    fn bind_remote_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_remote_stream(&mut self, _info: &StreamInfo) {}
}
