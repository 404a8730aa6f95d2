//! Packet capture of a run's UDP traffic to `capture.pcap`, in one of two ways:
//!
//! - **Passive** ([`tap`]): one packet socket on the loopback interface for the whole process
//!   (`AF_PACKET`, needs CAP_NET_RAW, which root has) sees every UDP datagram the peers exchange;
//!   each run registers the candidate addresses the harness passes on, and the tap files each
//!   datagram from or to one of them with that run. Nothing sits in the peers' path: what the
//!   run measures (throughput, round trips) is what the peers do without the harness.
//! - **Relay**: a user-space UDP relay the two peers' traffic passes through (needs no
//!   privilege). Used where the passive tap cannot open, and for runs that need the harness in
//!   the path (`drop_packets` drops datagrams in the relay).
//!
//! How the relay works: the harness is the signaling channel, so it can hand each peer *relay*
//! addresses instead of the other peer's real UDP candidates: for every real candidate address
//! `x` of a peer the relay opens one socket `R(x)`, bound to the same IP as `x` (so the address
//! topology the peers see - loopback, IPv4, IPv6 - is the one they would have seen directly),
//! and the other peer gets `R(x)` in the candidate instead of `x`. A datagram from `y` arriving
//! at `R(x)` is sent on to `x` from `R(y)`: each peer sees its partner's traffic coming from the
//! address it was given for it, so ICE pairs, checks and consent work unchanged. Every
//! forwarded datagram is written with IPv4/IPv6 and UDP headers synthesised from the *original*
//! addresses (`y -> x`), as if the relay were not there: the file reads like a capture of the
//! direct exchange, as a passive capture does.
//!
//! Both ways write LINKTYPE_RAW pcap files with real timestamps and recognise the same wire
//! events (RFC 7983 demultiplexing). Not relayed (documented limits): TCP candidates, TURN
//! `relay` candidates and mDNS (`.local`) host names are passed on unchanged (the passive tap
//! does see the traffic of TURN relay addresses).

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::net::UdpSocket;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::{DataLink, TsResolution};

mod tap;

/// How runs capture their traffic (`--capture`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CaptureMode {
    /// Passive capture where the harness may open a packet socket (root or CAP_NET_RAW), else
    /// the relay; runs with `drop_packets` always use the relay.
    Auto,
    /// Every run through the capture relay (no privilege needed; adds a hop to every datagram).
    Relay,
    /// No capture: the peers exchange datagrams directly, no capture.pcap.
    Off,
}

/// How one run's capture sees the traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Way {
    Passive,
    Relay,
}

impl Way {
    pub fn name(self) -> &'static str {
        match self {
            Way::Passive => "passive",
            Way::Relay => "relay",
        }
    }
}

/// One proxied address: the real candidate address it stands for and its socket.
struct Proxy {
    /// Which peer (0 offerer, 1 answerer) owns the real address.
    owner: usize,
    real: SocketAddr,
    socket: Arc<UdpSocket>,
}

struct State {
    /// By relay (proxy) address.
    by_proxy: HashMap<SocketAddr, Arc<Proxy>>,
    /// By real address.
    by_real: HashMap<SocketAddr, Arc<Proxy>>,
    writer: Option<PcapWriter<BufWriter<File>>>,
    datagrams: u64,
    bytes: u64,
    ip_id: u16,
    /// Problems worth a note in the run's reason (capture write errors, unrelayable sources).
    problems: Vec<String>,
    /// Packets the kernel dropped from the passive tap's ring (it was full) while this run
    /// was registered: the capture may miss some of the run's datagrams.
    tap_dropped: u64,
    /// When the relay was created: wire phases are measured from here.
    started: SystemTime,
    /// The first time each wire event was seen, ms since `started`.
    firsts: Vec<(WireEvent, f64)>,
    /// Per sending peer (0 offerer, 1 answerer): what `drop_packets` asked to drop.
    drops: [Option<DropRule>; 2],
    /// Per sending peer: RTP accounting for the loss and retransmission checks.
    rtp: [RtpCounters; 2],
    /// The peer (0 offerer, 1 answerer) that sent the first DTLS ClientHello: the DTLS client.
    client_hello_from: Option<usize>,
}

/// Drop every `every`-th RTP packet whose payload type is in `payload_types`.
#[derive(Debug, Clone)]
struct DropRule {
    payload_types: Vec<u8>,
    every: u32,
    rtx_payload_types: Vec<u8>,
    matched: u64,
}

/// RTP packets one peer sent through the relay, as far as the clear SRTP header shows them.
#[derive(Debug, Clone, Default)]
struct RtpCounters {
    /// (SSRC, sequence number) of every RTP packet seen from this peer.
    seen: std::collections::HashSet<(u32, u16)>,
    dropped: u64,
    /// Packets whose (SSRC, sequence number) was seen before: retransmissions without RTX.
    repeated: u64,
    /// Packets with an RTX payload type (RFC 4588) of a drop rule.
    rtx: u64,
}

/// What the relay did to and saw of one peer's RTP since `drop_packets`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Retransmissions {
    /// Packets the relay dropped.
    pub dropped: u64,
    /// Packets sent again with the same SSRC and sequence number.
    pub repeated: u64,
    /// Packets with an RTX payload type.
    pub rtx: u64,
}

/// Protocol events the relay recognises on the wire (RFC 7983 demultiplexing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum WireEvent {
    StunBindingRequest,
    StunBindingSuccess,
    DtlsClientHello,
    DtlsServerHello,
    /// The first DTLS application data record: SCTP after the handshake.
    DtlsApplicationData,
    /// The first RTP or RTCP packet (SRTP / SRTCP).
    Rtp,
}

impl WireEvent {
    pub fn name(self) -> &'static str {
        match self {
            WireEvent::StunBindingRequest => "first STUN binding request",
            WireEvent::StunBindingSuccess => "first STUN binding success response",
            WireEvent::DtlsClientHello => "first DTLS ClientHello",
            WireEvent::DtlsServerHello => "first DTLS ServerHello",
            WireEvent::DtlsApplicationData => "first DTLS application data (SCTP)",
            WireEvent::Rtp => "first SRTP/SRTCP packet",
        }
    }

    /// What a datagram is, by its first bytes (RFC 7983: 0-3 STUN, 20-63 DTLS, 128-191 RTP).
    pub fn classify(datagram: &[u8]) -> Option<WireEvent> {
        match *datagram.first()? {
            0..=3 => match datagram.get(..2)? {
                [0x00, 0x01] => Some(WireEvent::StunBindingRequest),
                [0x01, 0x01] => Some(WireEvent::StunBindingSuccess),
                _ => None,
            },
            // DTLS record: content type, version (2), epoch (2), sequence (6), length (2);
            // a handshake record's fragment starts with the handshake type.
            22 => match datagram.get(13)? {
                1 => Some(WireEvent::DtlsClientHello),
                2 => Some(WireEvent::DtlsServerHello),
                _ => None,
            },
            23 => Some(WireEvent::DtlsApplicationData),
            128..=191 => Some(WireEvent::Rtp),
            _ => None,
        }
    }
}

/// The capture of one run. Dropping it stops forwarding (or unregisters the run from the
/// passive tap) and flushes the capture file.
///
/// In the relay way, each relay socket has a thread of its own doing blocking receive / send: a datagram is
/// forwarded as soon as the kernel has it, without an async runtime's wake-up in between
/// (the relay's added latency shrinks the peers' throughput, which is cwnd / round trip).
pub struct Capture {
    way: Way,
    state: Arc<Mutex<State>>,
    stopped: Arc<AtomicBool>,
}

/// How long a relay thread blocks in one receive before it looks whether the relay stopped
/// (a backstop: `finish` wakes every thread with an empty datagram).
const RELAY_POLL: Duration = Duration::from_millis(500);

/// Datagrams and bytes that went through a relay.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub datagrams: u64,
    pub bytes: u64,
}

impl Capture {
    /// Creates the capture file and an empty relay; wire events are timed from `started`.
    pub fn relay(pcap: &Path, started: std::time::Instant) -> std::io::Result<Capture> {
        Capture::create(pcap, started, Way::Relay)
    }

    /// Creates the capture file of a run the passive tap records; fails when the tap cannot
    /// open (no CAP_NET_RAW), with the reason.
    pub fn passive(pcap: &Path, started: std::time::Instant) -> std::io::Result<Capture> {
        tap::get().map_err(std::io::Error::other)?;
        Capture::create(pcap, started, Way::Passive)
    }

    /// Whether runs can be captured passively here; the reason when not.
    pub fn passive_available() -> Result<(), String> {
        tap::get().map(drop)
    }

    /// How this capture sees the traffic.
    pub fn way(&self) -> Way {
        self.way
    }

    fn create(pcap: &Path, started: std::time::Instant, way: Way) -> std::io::Result<Capture> {
        // A large buffer: fewer write calls on the forwarding path during bulk transfers.
        let file = BufWriter::with_capacity(1 << 20, File::create(pcap)?);
        let header = PcapHeader {
            datalink: DataLink::RAW,
            ts_resolution: TsResolution::MicroSecond,
            ..Default::default()
        };
        let writer = PcapWriter::with_header(file, header).map_err(std::io::Error::other)?;
        Ok(Capture {
            way,
            state: Arc::new(Mutex::new(State {
                by_proxy: HashMap::new(),
                by_real: HashMap::new(),
                writer: Some(writer),
                datagrams: 0,
                bytes: 0,
                ip_id: 0,
                problems: Vec::new(),
                tap_dropped: 0,
                // Datagrams carry wall-clock times (the kernel's, for the passive tap).
                started: SystemTime::now() - started.elapsed(),
                firsts: Vec::new(),
                drops: [None, None],
                rtp: Default::default(),
                client_hello_from: None,
            })),
            stopped: Arc::new(AtomicBool::new(false)),
        })
    }

    /// The relay way: `candidate` with its address replaced by the relay address standing for
    /// it, when it is a UDP candidate with an IP address of peer `owner`; unchanged otherwise
    /// (and when no relay socket can be opened, which is noted in [`Capture::problems`]).
    /// The passive way: `candidate` unchanged; its address is registered with the tap as one of
    /// this run's (peer `owner`'s).
    ///
    /// TURN `relay` candidates pass unchanged: a proxy in front of a TURN allocation would make
    /// the other peer's checks arrive from the proxy, and the allocating peer would then see
    /// its relayed address as peer-reflexive - the selected pair would no longer say `relay`.
    pub fn rewrite_candidate(&self, owner: usize, candidate: &str) -> String {
        if self.way == Way::Passive {
            if let (Some(real), Ok(tap)) = (candidate_address(candidate), tap::get()) {
                tap.register(real, owner.min(1), &self.state);
            }
            return candidate.to_string();
        }
        if candidate
            .split_whitespace()
            .collect::<Vec<_>>()
            .windows(2)
            .any(|w| w == ["typ", "relay"])
        {
            return candidate.to_string();
        }
        let Some(real) = candidate_address(candidate) else {
            return candidate.to_string();
        };
        match self.proxy_for(owner, real) {
            Ok(proxy) => replace_candidate_address(candidate, proxy),
            Err(e) => {
                lock(&self.state).problems.push(format!(
                    "cannot relay candidate {real}: {e}; passed on unchanged"
                ));
                candidate.to_string()
            }
        }
    }

    /// The relay address that stands for `real`, a UDP candidate address of peer `owner`
    /// (0 offerer, 1 answerer); opened on first use.
    pub fn proxy_for(&self, owner: usize, real: SocketAddr) -> std::io::Result<SocketAddr> {
        if let Some(p) = lock(&self.state).by_real.get(&real) {
            return p.socket.local_addr();
        }
        let socket = Arc::new(relay_socket(real.ip())?);
        let addr = socket.local_addr()?;
        let proxy = Arc::new(Proxy {
            owner,
            real,
            socket,
        });
        {
            let mut state = lock(&self.state);
            if let Some(p) = state.by_real.get(&real) {
                // Opened concurrently: keep the first.
                return p.socket.local_addr();
            }
            state.by_real.insert(real, proxy.clone());
            state.by_proxy.insert(addr, proxy.clone());
        }
        spawn_forwarder(self.state.clone(), self.stopped.clone(), proxy)?;
        Ok(addr)
    }

    /// From now on, drop every `every`-th RTP packet peer `sender` (0 offerer, 1 answerer)
    /// sends with one of `payload_types`; packets with one of `rtx_payload_types` count as
    /// retransmissions. Dropped packets are still written to the capture (it shows what the
    /// sender sent); [`Capture::retransmissions`] counts them. Only the relay way can drop:
    /// in the passive way this only counts retransmissions.
    pub fn drop_rtp(
        &self,
        sender: usize,
        payload_types: Vec<u8>,
        rtx_payload_types: Vec<u8>,
        every: u32,
    ) {
        let mut s = lock(&self.state);
        s.drops[sender.min(1)] = Some(DropRule {
            payload_types,
            every: every.max(2),
            rtx_payload_types,
            matched: 0,
        });
    }

    /// What happened to the RTP of peer `sender` (0 offerer, 1 answerer).
    pub fn retransmissions(&self, sender: usize) -> Retransmissions {
        let s = lock(&self.state);
        let c = &s.rtp[sender.min(1)];
        Retransmissions {
            dropped: c.dropped,
            repeated: c.repeated,
            rtx: c.rtx,
        }
    }

    /// What went through so far.
    pub fn totals(&self) -> Totals {
        let s = lock(&self.state);
        Totals {
            datagrams: s.datagrams,
            bytes: s.bytes,
        }
    }

    /// The first time each recognised wire event was seen, in ms since `started`, in time
    /// order.
    pub fn wire_events(&self) -> Vec<(WireEvent, f64)> {
        lock(&self.state).firsts.clone()
    }

    /// The peer (0 offerer, 1 answerer) whose DTLS ClientHello the relay saw first.
    pub fn dtls_client(&self) -> Option<usize> {
        lock(&self.state).client_hello_from
    }

    /// Problems seen so far (write errors, datagrams from addresses no peer announced).
    pub fn problems(&self) -> Vec<String> {
        lock(&self.state).problems.clone()
    }

    /// Stops forwarding (or recording) and flushes the capture file.
    pub fn finish(&self) {
        if self.stopped.swap(true, Ordering::SeqCst) {
            return;
        }
        if self.way == Way::Passive {
            if let Ok(tap) = tap::get() {
                // The kernel hands packets over a block at a time, at most BLOCK_TIMEOUT_MS
                // after they were seen: let the run's last ones (its teardown) arrive.
                std::thread::sleep(tap::DRAIN);
                tap.unregister(&self.state);
                let mut state = lock(&self.state);
                if state.tap_dropped > 0 {
                    let msg = format!(
                        "the kernel dropped {} packets of the passive tap while this run was \
                         captured (its ring was full; the drops of runs captured at the same \
                         time cannot be told apart): capture.pcap and the wire counts may miss \
                         some of this run's datagrams",
                        state.tap_dropped
                    );
                    state.problems.push(msg);
                }
            }
        }
        // Wake every relay thread: each ends at its next datagram, and this is one.
        let addrs: Vec<SocketAddr> = lock(&self.state).by_proxy.keys().copied().collect();
        for addr in addrs {
            let local = if addr.is_ipv4() {
                "127.0.0.1:0"
            } else {
                "[::1]:0"
            };
            let from = match addr.ip() {
                ip if ip.is_loopback() => local.parse().ok(),
                ip => Some(SocketAddr::new(ip, 0)),
            };
            if let Some(Ok(waker)) = from.map(UdpSocket::bind) {
                let _ = waker.send_to(&[], addr);
            }
        }
        let mut s = lock(&self.state);
        if let Some(w) = s.writer.take() {
            let _ = w.into_writer().flush();
        }
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.finish();
    }
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    // A poisoned lock only means a forwarding task panicked mid-update; the maps stay usable.
    state.lock().unwrap_or_else(|e| e.into_inner())
}

/// A relay socket on `ip`, with large buffers and a receive timeout (see [`RELAY_POLL`]).
fn relay_socket(ip: IpAddr) -> std::io::Result<UdpSocket> {
    let socket = UdpSocket::bind(SocketAddr::new(ip, 0))?;
    socket.set_read_timeout(Some(RELAY_POLL))?;
    enlarge_buffers(&socket);
    Ok(socket)
}

fn spawn_forwarder(
    state: Arc<Mutex<State>>,
    stopped: Arc<AtomicBool>,
    to: Arc<Proxy>,
) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name(format!("relay {}", to.real))
        .spawn(move || forward_loop(state, stopped, to))
        .map(drop)
}

/// Receives on `to`'s relay socket and forwards each datagram to `to.real`, from the relay
/// socket standing for the sender, until the relay stops.
fn forward_loop(state: Arc<Mutex<State>>, stopped: Arc<AtomicBool>, to: Arc<Proxy>) {
    let mut buf = vec![0u8; 65536];
    loop {
        let received = to.socket.recv_from(&mut buf);
        if stopped.load(Ordering::SeqCst) {
            return;
        }
        let Ok((n, from)) = received else {
            continue; // the receive timeout, or an ICMP error of an earlier send
        };
        let via = {
            let s = lock(&state);
            s.by_real.get(&from).cloned()
        };
        let via = match via {
            Some(v) => v,
            None => {
                // A source no candidate announced (a peer-reflexive address): give it a relay
                // socket of its own so that the answer goes back the same way.
                match relay_socket(from.ip()) {
                    Ok(socket) => {
                        let proxy = Arc::new(Proxy {
                            owner: 1 - to.owner,
                            real: from,
                            socket: Arc::new(socket),
                        });
                        let mut s = lock(&state);
                        let entry = s.by_real.entry(from).or_insert(proxy.clone()).clone();
                        if let Ok(addr) = entry.socket.local_addr() {
                            s.by_proxy.insert(addr, entry.clone());
                        }
                        drop(s);
                        if Arc::ptr_eq(&entry, &proxy) {
                            if let Err(e) = spawn_forwarder(state.clone(), stopped.clone(), proxy) {
                                lock(&state)
                                    .problems
                                    .push(format!("cannot relay datagrams to {from}: {e}"));
                            }
                        }
                        entry
                    }
                    Err(e) => {
                        lock(&state)
                            .problems
                            .push(format!("cannot relay datagrams from {from}: {e}"));
                        continue;
                    }
                }
            }
        };
        let data = &buf[..n];
        // Forward first, record after: the capture must not add to the datagram's latency.
        if account(&state, via.owner, data) == Verdict::Forward {
            let _ = via.socket.send_to(data, to.real);
        }
        record(
            &state,
            via.owner,
            from,
            to.real,
            data,
            None,
            SystemTime::now(),
        );
    }
}

/// Socket buffers of relay sockets: a bulk transfer arrives in bursts, and a datagram the
/// kernel drops because the relay was a moment late costs the peers a retransmission and
/// shrinks their congestion window: the relay would then measure slower than a direct path.
const RELAY_SOCKET_BUFFER: libc::c_int = 4 << 20;

/// Enlarges `socket`'s receive and send buffers to [`RELAY_SOCKET_BUFFER`]: beyond the
/// system's maximum (`net.core.rmem_max`) when the harness may (`SO_RCVBUFFORCE` needs
/// CAP_NET_ADMIN), else up to that maximum. Best effort: a smaller buffer still works.
fn enlarge_buffers(socket: &impl std::os::fd::AsRawFd) {
    let size: libc::c_int = RELAY_SOCKET_BUFFER;
    for (force, plain) in [
        (libc::SO_RCVBUFFORCE, libc::SO_RCVBUF),
        (libc::SO_SNDBUFFORCE, libc::SO_SNDBUF),
    ] {
        if set_socket_option(socket, libc::SOL_SOCKET, force, &size).is_err() {
            let _ = set_socket_option(socket, libc::SOL_SOCKET, plain, &size);
        }
    }
}

/// `setsockopt(2)` with a plain-data `value` (an int, a C struct, an array of ints).
fn set_socket_option<T>(
    socket: &impl std::os::fd::AsRawFd,
    level: libc::c_int,
    name: libc::c_int,
    value: &T,
) -> std::io::Result<()> {
    // SAFETY: `value` is plain data of the size given, alive for the call.
    let r = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            level,
            name,
            (value as *const T).cast(),
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Forward,
    Drop,
}

/// RTP accounting of a datagram from peer `sender`, and whether a drop rule takes it. Only
/// RTP counts (RFC 7983 first byte 128-191, and not RTCP: RFC 5761 payload types 64-95).
fn account(state: &Mutex<State>, sender: usize, datagram: &[u8]) -> Verdict {
    let Some(header) = rtp_header(datagram) else {
        return Verdict::Forward;
    };
    let mut s = lock(state);
    let sender = sender.min(1);
    let Some(rule) = s.drops[sender].as_mut() else {
        return Verdict::Forward;
    };
    let is_rtx = rule.rtx_payload_types.contains(&header.payload_type);
    let droppable = rule.payload_types.contains(&header.payload_type);
    let drop = droppable && {
        rule.matched += 1;
        rule.matched % u64::from(rule.every) == 0
    };
    let counters = &mut s.rtp[sender];
    if is_rtx {
        counters.rtx += 1;
    } else if !counters.seen.insert((header.ssrc, header.sequence)) && !drop {
        counters.repeated += 1;
    }
    if drop {
        counters.dropped += 1;
        Verdict::Drop
    } else {
        Verdict::Forward
    }
}

/// The clear part of an (S)RTP header.
#[derive(Debug, PartialEq, Eq)]
pub struct RtpHeader {
    pub payload_type: u8,
    pub sequence: u16,
    pub ssrc: u32,
}

/// The RTP header of a datagram, `None` for anything else (STUN, DTLS, RTCP).
pub fn rtp_header(datagram: &[u8]) -> Option<RtpHeader> {
    if datagram.len() < 12 || !(128..=191).contains(&datagram[0]) {
        return None;
    }
    let payload_type = datagram[1] & 0x7f;
    if (64..=95).contains(&payload_type) {
        return None; // RTCP (RFC 5761 section 4)
    }
    Some(RtpHeader {
        payload_type,
        sequence: u16::from_be_bytes([datagram[2], datagram[3]]),
        ssrc: u32::from_be_bytes([datagram[8], datagram[9], datagram[10], datagram[11]]),
    })
}

/// Records one datagram `payload` from peer `sender` (`src -> dst`) seen at `at`: wire events,
/// totals and the pcap record, `packet` as captured or (`None`) an IP packet synthesised
/// around it.
fn record(
    state: &Mutex<State>,
    sender: usize,
    src: SocketAddr,
    dst: SocketAddr,
    payload: &[u8],
    packet: Option<&[u8]>,
    at: SystemTime,
) {
    let ts = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let mut s = lock(state);
    if let Some(event) = WireEvent::classify(payload) {
        if !s.firsts.iter().any(|(e, _)| *e == event) {
            let since = at.duration_since(s.started).unwrap_or_default();
            let ms = since.as_secs_f64() * 1000.0;
            s.firsts.push((event, (ms * 10.0).round() / 10.0));
        }
        if event == WireEvent::DtlsClientHello {
            s.client_hello_from.get_or_insert(sender.min(1));
        }
    }
    s.datagrams += 1;
    s.bytes += payload.len() as u64;
    s.ip_id = s.ip_id.wrapping_add(1);
    let synthesised;
    let packet = match packet {
        Some(p) => p,
        None => match ip_udp_packet(src, dst, payload, s.ip_id) {
            Some(p) => {
                synthesised = p;
                &synthesised
            }
            None => return,
        },
    };
    if let Some(w) = s.writer.as_mut() {
        let p = PcapPacket::new(ts, packet.len() as u32, packet);
        if let Err(e) = w.write_packet(&p) {
            let msg = format!("capture write failed: {e}");
            s.writer = None;
            s.problems.push(msg);
        }
    }
}

/// An IPv4 or IPv6 packet carrying one UDP datagram from `src` to `dst`; `None` when the
/// two addresses are of different families.
pub fn ip_udp_packet(
    src: SocketAddr,
    dst: SocketAddr,
    payload: &[u8],
    ip_id: u16,
) -> Option<Vec<u8>> {
    let udp_len = 8 + payload.len();
    let mut udp = Vec::with_capacity(udp_len);
    udp.extend_from_slice(&src.port().to_be_bytes());
    udp.extend_from_slice(&dst.port().to_be_bytes());
    udp.extend_from_slice(&(udp_len as u16).to_be_bytes());
    udp.extend_from_slice(&[0, 0]);
    udp.extend_from_slice(payload);
    match (src.ip(), dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let mut pseudo = Vec::with_capacity(12);
            pseudo.extend_from_slice(&s.octets());
            pseudo.extend_from_slice(&d.octets());
            pseudo.extend_from_slice(&[0, 17]);
            pseudo.extend_from_slice(&(udp_len as u16).to_be_bytes());
            let sum = checksum(&[&pseudo, &udp]);
            udp[6..8].copy_from_slice(&(if sum == 0 { 0xffff } else { sum }).to_be_bytes());
            let total = 20 + udp_len;
            let mut ip = vec![0x45, 0];
            ip.extend_from_slice(&(total as u16).to_be_bytes());
            ip.extend_from_slice(&ip_id.to_be_bytes());
            ip.extend_from_slice(&[0x40, 0, 64, 17, 0, 0]);
            ip.extend_from_slice(&s.octets());
            ip.extend_from_slice(&d.octets());
            let sum = checksum(&[&ip]);
            ip[10..12].copy_from_slice(&sum.to_be_bytes());
            ip.extend_from_slice(&udp);
            Some(ip)
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let mut pseudo = Vec::with_capacity(40);
            pseudo.extend_from_slice(&s.octets());
            pseudo.extend_from_slice(&d.octets());
            pseudo.extend_from_slice(&(udp_len as u32).to_be_bytes());
            pseudo.extend_from_slice(&[0, 0, 0, 17]);
            let sum = checksum(&[&pseudo, &udp]);
            udp[6..8].copy_from_slice(&(if sum == 0 { 0xffff } else { sum }).to_be_bytes());
            let mut ip = vec![0x60, 0, 0, 0];
            ip.extend_from_slice(&(udp_len as u16).to_be_bytes());
            ip.extend_from_slice(&[17, 64]);
            ip.extend_from_slice(&s.octets());
            ip.extend_from_slice(&d.octets());
            ip.extend_from_slice(&udp);
            Some(ip)
        }
        _ => None,
    }
}

/// The Internet checksum (RFC 1071) over the concatenation of `parts`.
fn checksum(parts: &[&[u8]]) -> u16 {
    let mut sum: u32 = 0;
    let mut odd: Option<u8> = None;
    for part in parts {
        for &b in *part {
            match odd.take() {
                Some(hi) => sum += u32::from(u16::from_be_bytes([hi, b])),
                None => odd = Some(b),
            }
        }
    }
    if let Some(hi) = odd {
        sum += u32::from(u16::from_be_bytes([hi, 0]));
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// The address of a UDP candidate with an IP address (`candidate:...`, without `a=`); `None`
/// for candidates the relay leaves alone (TCP, mDNS host names, malformed).
pub fn candidate_address(candidate: &str) -> Option<SocketAddr> {
    let fields: Vec<&str> = candidate.split_whitespace().collect();
    if fields.len() < 8 || !fields[2].eq_ignore_ascii_case("udp") {
        return None;
    }
    let ip: IpAddr = fields[4].parse().ok()?;
    let port: u16 = fields[5].parse().ok()?;
    Some(SocketAddr::new(ip, port))
}

/// The candidate line with its address replaced by `with`.
pub fn replace_candidate_address(candidate: &str, with: SocketAddr) -> String {
    let mut fields: Vec<String> = candidate.split(' ').map(str::to_string).collect();
    if fields.len() >= 6 {
        fields[4] = with.ip().to_string();
        fields[5] = with.port().to_string();
    }
    fields.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidate_addresses_are_found_and_replaced() {
        let c = "candidate:1 1 UDP 2122252543 192.0.2.2 54321 typ host generation 0";
        assert_eq!(
            candidate_address(c),
            Some("192.0.2.2:54321".parse().unwrap())
        );
        let v6 = "candidate:2 1 udp 2122262783 fd00::2 40000 typ host";
        assert_eq!(
            candidate_address(v6),
            Some("[fd00::2]:40000".parse().unwrap())
        );
        assert_eq!(
            candidate_address("candidate:3 1 tcp 1518280447 127.0.0.1 9 typ host tcptype active"),
            None
        );
        assert_eq!(
            candidate_address("candidate:4 1 udp 1 abc.local 5000 typ host"),
            None
        );
        assert_eq!(
            replace_candidate_address(c, "127.0.0.1:9".parse().unwrap()),
            "candidate:1 1 UDP 2122252543 127.0.0.1 9 typ host generation 0"
        );
    }

    #[test]
    fn rtp_headers_are_read_and_rtcp_is_not_rtp() {
        let mut rtp = vec![0x80, 0x60, 0x01, 0x02, 0, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef];
        rtp.extend_from_slice(&[1, 2, 3]);
        assert_eq!(
            rtp_header(&rtp),
            Some(RtpHeader {
                payload_type: 96,
                sequence: 0x0102,
                ssrc: 0xdead_beef
            })
        );
        // Marker bit set: same payload type.
        rtp[1] = 0xe0;
        assert_eq!(rtp_header(&rtp).map(|h| h.payload_type), Some(96));
        // RTCP receiver report (PT 201 = 0xc9: 73 with the marker bit masked).
        let rtcp = [0x81, 0xc9, 0, 7, 0, 0, 0, 1, 0, 0, 0, 2];
        assert_eq!(rtp_header(&rtcp), None);
        assert_eq!(rtp_header(&[0x16, 0xfe, 0xfd]), None);
    }

    #[test]
    fn datagrams_are_classified_as_rfc_7983_says() {
        assert_eq!(
            WireEvent::classify(&[0x00, 0x01, 0x00, 0x08]),
            Some(WireEvent::StunBindingRequest)
        );
        assert_eq!(
            WireEvent::classify(&[0x01, 0x01, 0x00, 0x0c]),
            Some(WireEvent::StunBindingSuccess)
        );
        let mut hello = vec![22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 100, 1];
        assert_eq!(
            WireEvent::classify(&hello),
            Some(WireEvent::DtlsClientHello)
        );
        hello[13] = 2;
        assert_eq!(
            WireEvent::classify(&hello),
            Some(WireEvent::DtlsServerHello)
        );
        assert_eq!(
            WireEvent::classify(&[23, 0xfe, 0xfd]),
            Some(WireEvent::DtlsApplicationData)
        );
        assert_eq!(WireEvent::classify(&[0x80, 96]), Some(WireEvent::Rtp));
        assert_eq!(WireEvent::classify(&[]), None);
        assert_eq!(WireEvent::classify(&[64]), None);
    }

    #[test]
    fn synthesised_packets_have_valid_checksums() {
        let src: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let dst: SocketAddr = "127.0.0.1:6000".parse().unwrap();
        let p = ip_udp_packet(src, dst, b"hello", 1).unwrap();
        assert_eq!(p.len(), 20 + 8 + 5);
        assert_eq!(checksum(&[&p[..20]]), 0, "IPv4 header checksum verifies");
        let v6 = ip_udp_packet(
            "[::1]:1".parse().unwrap(),
            "[::1]:2".parse().unwrap(),
            b"x",
            1,
        )
        .unwrap();
        assert_eq!(v6.len(), 40 + 8 + 1);
        assert_eq!(v6[0] >> 4, 6);
        assert!(ip_udp_packet(src, "[::1]:2".parse().unwrap(), b"x", 1).is_none());
    }

    /// The process has one tap: its tests run one at a time (one stalls it on purpose).
    static TAP_TESTS: Mutex<()> = Mutex::new(());

    /// The test's turn at the tap and a passive capture into a fresh folder; `None` (the test
    /// is skipped) without root or CAP_NET_RAW, which under CI (run as root) is a failure.
    fn passive_capture() -> Option<(
        std::sync::MutexGuard<'static, ()>,
        tempfile::TempDir,
        Capture,
    )> {
        let one = TAP_TESTS.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(why) = Capture::passive_available() {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI runs as root, where passive capture must work: {why}"
            );
            eprintln!("skipped: {why}");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let capture =
            Capture::passive(&dir.path().join("c.pcap"), std::time::Instant::now()).unwrap();
        Some((one, dir, capture))
    }

    /// The passive tap records a run's datagrams where they go, without touching them: what
    /// the peers send reaches the other directly, and only registered addresses are recorded.
    #[test]
    fn passive_tap_records_registered_traffic_only() {
        let Some((_one, dir, capture)) = passive_capture() else {
            return;
        };
        assert_eq!(capture.way(), Way::Passive);
        let [a, b, v6a, v6b, stranger, stranger2] = [
            "127.0.0.1:0",
            "127.0.0.1:0",
            "[::1]:0",
            "[::1]:0",
            "127.0.0.1:0",
            "127.0.0.1:0",
        ]
        .map(|addr| UdpSocket::bind(addr).unwrap());
        let host = |s: &UdpSocket| {
            let addr = s.local_addr().unwrap();
            format!(
                "candidate:1 1 udp 2122252543 {} {} typ host",
                addr.ip(),
                addr.port()
            )
        };
        assert_eq!(
            capture.rewrite_candidate(0, &host(&a)),
            host(&a),
            "unchanged"
        );
        for (owner, socket) in [(1, &b), (0, &v6a), (1, &v6b)] {
            capture.rewrite_candidate(owner, &host(socket));
        }
        v6a.send_to(b"v6", v6b.local_addr().unwrap()).unwrap();
        // A DTLS ClientHello from b (the answerer) and plain datagrams both ways.
        let mut hello = vec![22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 10];
        hello.extend_from_slice(&[1; 10]);
        b.send_to(&hello, a.local_addr().unwrap()).unwrap();
        a.send_to(b"ping", b.local_addr().unwrap()).unwrap();
        // Between two unregistered addresses: not this run's.
        stranger
            .send_to(b"not ours", stranger2.local_addr().unwrap())
            .unwrap();
        let mut buf = [0u8; 64];
        b.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let (n, from) = b.recv_from(&mut buf).unwrap();
        assert_eq!((&buf[..n], from), (&b"ping"[..], a.local_addr().unwrap()));
        // The kernel hands packets over in blocks (at most BLOCK_TIMEOUT_MS late): wait,
        // bounded, for all three of this run's datagrams.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while capture.totals().datagrams < 3 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(
            capture.totals(),
            Totals {
                datagrams: 3,
                bytes: 2 + hello.len() as u64 + 4
            }
        );
        assert_eq!(capture.dtls_client(), Some(1));
        capture.finish();
        let bytes = std::fs::read(dir.path().join("c.pcap")).unwrap();
        let mut reader = pcap_file::pcap::PcapReader::new(&bytes[..]).unwrap();
        let mut seen = Vec::new();
        while let Some(packet) = reader.next_packet() {
            let packet = packet.unwrap();
            let (src, dst, payload) = tap::ip_udp(&packet.data).unwrap();
            seen.push((src, dst, payload.to_vec()));
        }
        assert_eq!(seen.len(), 3, "{seen:?}");
        assert!(seen.contains(&(
            a.local_addr().unwrap(),
            b.local_addr().unwrap(),
            b"ping".to_vec()
        )));
        assert!(seen.iter().any(|(src, ..)| src.is_ipv6()));
        assert!(!seen.iter().any(|(.., p)| p == b"not ours"));
    }

    /// When the tap falls behind and its ring fills, the kernel drops packets: every run
    /// captured then says so in its problems (which go into the run's reason).
    #[test]
    fn passive_tap_drops_are_reported_to_the_runs_captured_then() {
        let Some((_one, _dir, capture)) = passive_capture() else {
            return;
        };
        let [a, b] = ["127.0.0.1:0", "127.0.0.1:0"].map(|addr| UdpSocket::bind(addr).unwrap());
        for (owner, socket) in [(0, &a), (1, &b)] {
            let addr = socket.local_addr().unwrap();
            capture.rewrite_candidate(
                owner,
                &format!(
                    "candidate:1 1 udp 2122252543 {} {} typ host",
                    addr.ip(),
                    addr.port()
                ),
            );
        }
        {
            // The tap thread stops at this run's first datagram while 28 MiB more arrive:
            // more than its ring holds (16 MiB).
            let tap = tap::get().unwrap();
            let _stalled = tap.stall();
            let to = b.local_addr().unwrap();
            for _ in 0..24_000 {
                let _ = a.send_to(&[0u8; 1200], to);
            }
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while lock(&capture.state).tap_dropped == 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        capture.finish();
        let problems = capture.problems();
        assert!(
            problems
                .iter()
                .any(|p| p.contains("the kernel dropped") && p.contains("passive tap")),
            "{problems:?}"
        );
        let totals = capture.totals();
        assert!(
            totals.datagrams > 0 && totals.datagrams < 24_000,
            "{totals:?}"
        );
    }

    #[tokio::test]
    async fn relays_both_ways_and_records_every_datagram() {
        let dir = tempfile::tempdir().unwrap();
        let relay = Capture::relay(&dir.path().join("c.pcap"), std::time::Instant::now()).unwrap();
        let a = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let a_for_b = relay.proxy_for(0, a.local_addr().unwrap()).unwrap();
        let b_for_a = relay.proxy_for(1, b.local_addr().unwrap()).unwrap();
        // TURN relay candidates are not proxied (the pair must stay `relay`); host ones are.
        let turn = "candidate:9 1 udp 16777215 127.0.0.1 40001 typ relay raddr 127.0.0.1 rport 5";
        assert_eq!(relay.rewrite_candidate(0, turn), turn);
        let host = format!(
            "candidate:1 1 udp 2122252543 127.0.0.1 {} typ host",
            a.local_addr().unwrap().port()
        );
        assert!(relay
            .rewrite_candidate(0, &host)
            .contains(&format!(" {} typ host", a_for_b.port())));
        a.send_to(b"ping", b_for_a).await.unwrap();
        let mut buf = [0u8; 16];
        let (n, from) =
            tokio::time::timeout(std::time::Duration::from_secs(5), b.recv_from(&mut buf))
                .await
                .unwrap()
                .unwrap();
        assert_eq!(&buf[..n], b"ping");
        assert_eq!(from, a_for_b, "b sees a's traffic from a's relay address");
        b.send_to(b"pong", from).await.unwrap();
        let (n, from) =
            tokio::time::timeout(std::time::Duration::from_secs(5), a.recv_from(&mut buf))
                .await
                .unwrap()
                .unwrap();
        assert_eq!(&buf[..n], b"pong");
        assert_eq!(from, b_for_a);
        // A datagram is recorded just after it is forwarded: wait (bounded) for the second.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while relay.totals().datagrams < 2 && std::time::Instant::now() < deadline {
            tokio::task::yield_now().await;
        }
        assert_eq!(
            relay.totals(),
            Totals {
                datagrams: 2,
                bytes: 8
            }
        );
        relay.finish();
        let bytes = std::fs::read(dir.path().join("c.pcap")).unwrap();
        let mut reader = pcap_file::pcap::PcapReader::new(&bytes[..]).unwrap();
        // Original addresses, as if there were no relay: a -> b for the ping, b -> a for the
        // pong. (Each relay thread records after forwarding, so on a busy machine the pong
        // can be written first: the order in the file is not checked.)
        let mut seen = Vec::new();
        while let Some(packet) = reader.next_packet() {
            let packet = packet.unwrap();
            let (src, dst, payload) = tap::ip_udp(&packet.data).unwrap();
            seen.push((src, dst, payload.to_vec()));
        }
        let (a, b) = (a.local_addr().unwrap(), b.local_addr().unwrap());
        seen.sort();
        let mut want = vec![(a, b, b"ping".to_vec()), (b, a, b"pong".to_vec())];
        want.sort();
        assert_eq!(seen, want);
    }
    #[tokio::test]
    async fn drops_every_nth_rtp_packet_and_counts_retransmissions() {
        let dir = tempfile::tempdir().unwrap();
        let relay = Capture::relay(&dir.path().join("c.pcap"), std::time::Instant::now()).unwrap();
        let a = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        relay.proxy_for(0, a.local_addr().unwrap()).unwrap();
        let b_for_a = relay.proxy_for(1, b.local_addr().unwrap()).unwrap();
        let rtp = |pt: u8, seq: u16| {
            let mut p = vec![0x80, pt, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7, 0xab];
            p[2..4].copy_from_slice(&seq.to_be_bytes());
            p
        };
        relay.drop_rtp(0, vec![96], vec![97], 3);
        // Six media packets: the 3rd and the 6th are dropped; an RTCP packet is never counted.
        for seq in 1..=6 {
            a.send_to(&rtp(96, seq), b_for_a).await.unwrap();
        }
        a.send_to(&[0x81, 0xc9, 0, 7, 0, 0, 0, 1, 0, 0, 0, 2], b_for_a)
            .await
            .unwrap();
        // The retransmission of 3 (same sequence number) and an RTX packet both get through.
        a.send_to(&rtp(96, 3), b_for_a).await.unwrap();
        a.send_to(&rtp(97, 1), b_for_a).await.unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 64];
        while got.len() < 7 {
            let (n, _) =
                tokio::time::timeout(std::time::Duration::from_secs(5), b.recv_from(&mut buf))
                    .await
                    .expect("datagram forwarded")
                    .unwrap();
            got.push(buf[..n].to_vec());
        }
        let seqs: Vec<(u8, u16)> = got
            .iter()
            .filter_map(|d| rtp_header(d).map(|h| (h.payload_type, h.sequence)))
            .collect();
        assert_eq!(seqs, [(96, 1), (96, 2), (96, 4), (96, 5), (96, 3), (97, 1)]);
        assert_eq!(
            relay.retransmissions(0),
            Retransmissions {
                dropped: 2,
                repeated: 1,
                rtx: 1
            }
        );
        assert_eq!(relay.retransmissions(1), Retransmissions::default());
    }
}
