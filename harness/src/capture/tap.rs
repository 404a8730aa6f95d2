//! The passive tap: one `AF_PACKET` socket on the loopback interface for the whole process,
//! and one thread reading it. Every run of every worker registers the UDP addresses of its
//! peers (the candidates the harness passes on); the tap files each datagram from or to a
//! registered address with that run: the run's capture records it, counts it and looks for
//! wire events, exactly as the relay does for the datagrams it forwards.
//!
//! All traffic between local addresses (127.0.0.1, ::1 and the test addresses of other local
//! interfaces) goes through `lo`, so one socket sees it all. A classic BPF filter keeps only
//! incoming UDP in the kernel: loopback shows every packet twice to a packet socket, once
//! outgoing and once incoming (libpcap drops the outgoing copy the same way).
//!
//! The kernel hands packets over in a memory-mapped ring (`TPACKET_V3`, as libpcap does):
//! blocks of packets with the kernel's timestamps, a block handed over when full or
//! [`BLOCK_TIMEOUT_MS`] after its first packet. The tap thread wakes once per block, not
//! once per datagram: on a machine whose cores the peers keep busy, a wake-up per datagram
//! is what capture would otherwise cost them. Wire events keep the kernel's times.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, SystemTime};

use super::{account, record, set_socket_option, State};

/// The process's tap, opened on first use; `Err` says why it cannot be (no CAP_NET_RAW...).
static TAP: OnceLock<Result<Arc<Tap>, String>> = OnceLock::new();

/// The tap, opened (and its reading thread started) on first use.
pub(super) fn get() -> Result<Arc<Tap>, String> {
    TAP.get_or_init(open).clone()
}

pub(super) struct Tap {
    /// Registered peer addresses: which run and which of its peers (0 offerer, 1 answerer).
    runs: Mutex<HashMap<SocketAddr, Registered>>,
}

pub(super) struct Registered {
    owner: usize,
    state: Weak<Mutex<State>>,
}

impl Tap {
    /// From now on, datagrams from or to `addr` belong to the run whose state is `state`,
    /// `addr` being one of peer `owner`'s.
    pub(super) fn register(&self, addr: SocketAddr, owner: usize, state: &Arc<Mutex<State>>) {
        let registered = Registered {
            owner,
            state: Arc::downgrade(state),
        };
        lock_runs(&self.runs).insert(addr, registered);
    }

    /// Forgets every address of the run whose state is `state`.
    pub(super) fn unregister(&self, state: &Arc<Mutex<State>>) {
        let ptr = Arc::as_ptr(state);
        lock_runs(&self.runs).retain(|_, r| r.state.as_ptr() != ptr);
    }

    /// Holds the tap thread at its next datagram until the guard is dropped (tests: a tap
    /// that falls behind).
    #[cfg(test)]
    pub(super) fn stall(&self) -> std::sync::MutexGuard<'_, HashMap<SocketAddr, Registered>> {
        lock_runs(&self.runs)
    }

    /// Charges `dropped` packets, lost since the last count, to every run registered now.
    fn note_drops(&self, dropped: u64) {
        let runs = lock_runs(&self.runs);
        let mut charged: Vec<*const Mutex<State>> = Vec::new();
        for r in runs.values() {
            let Some(state) = r.state.upgrade() else {
                continue;
            };
            if charged.contains(&Arc::as_ptr(&state)) {
                continue;
            }
            charged.push(Arc::as_ptr(&state));
            state.lock().unwrap_or_else(|e| e.into_inner()).tap_dropped += dropped;
        }
    }

    /// Files one IP packet captured at `at` with its run, if it carries UDP from or to a
    /// registered address.
    fn dispatch(&self, packet: &[u8], at: SystemTime) {
        let Some((src, dst, payload)) = ip_udp(packet) else {
            return;
        };
        let (state, sender) = {
            let runs = lock_runs(&self.runs);
            if let Some(r) = runs.get(&src) {
                (r.state.clone(), r.owner)
            } else if let Some(r) = runs.get(&dst) {
                (r.state.clone(), 1 - r.owner)
            } else {
                return;
            }
        };
        let Some(state) = state.upgrade() else {
            return;
        };
        account(&state, sender, payload);
        record(&state, sender, src, dst, payload, Some(packet), at);
    }
}

fn lock_runs(
    runs: &Mutex<HashMap<SocketAddr, Registered>>,
) -> std::sync::MutexGuard<'_, HashMap<SocketAddr, Registered>> {
    runs.lock().unwrap_or_else(|e| e.into_inner())
}

/// Opens the packet socket on `lo` with its filter and starts the reading thread.
fn open() -> Result<Arc<Tap>, String> {
    let protocol = (libc::ETH_P_ALL as u16).to_be();
    // SAFETY: plain socket(2) call; the result is checked before use.
    let fd = unsafe {
        libc::socket(
            libc::AF_PACKET,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
            i32::from(protocol),
        )
    };
    if fd < 0 {
        return Err(format!(
            "cannot open a packet socket for passive capture ({}; it needs root or CAP_NET_RAW)",
            std::io::Error::last_os_error()
        ));
    }
    // SAFETY: fd is a socket we just opened and own.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    attach_filter(&fd).map_err(|e| format!("cannot filter the packet socket: {e}"))?;
    // SAFETY: a NUL-terminated interface name.
    let ifindex = unsafe { libc::if_nametoindex(c"lo".as_ptr()) };
    if ifindex == 0 {
        return Err("no loopback interface `lo` to capture on".into());
    }
    // SAFETY: sockaddr_ll is plain data; all-zero is a valid starting value.
    let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    addr.sll_family = libc::AF_PACKET as u16;
    addr.sll_protocol = protocol;
    addr.sll_ifindex = ifindex as i32;
    // SAFETY: bind(2) with a sockaddr_ll of the size given.
    let bound = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&addr as *const libc::sockaddr_ll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    };
    if bound != 0 {
        return Err(format!(
            "cannot bind the packet socket to lo: {}",
            std::io::Error::last_os_error()
        ));
    }
    let ring = Ring::map(&fd).map_err(|e| format!("cannot map the capture ring: {e}"))?;
    let tap = Arc::new(Tap {
        runs: Mutex::new(HashMap::new()),
    });
    let reader = tap.clone();
    std::thread::Builder::new()
        .name("capture tap".into())
        .spawn(move || read_loop(&fd, &ring, &reader))
        .map_err(|e| format!("cannot start the capture thread: {e}"))?;
    Ok(tap)
}

/// Blocks of the ring: 16 x 1 MiB holds ~1.5 s of a 100 Mbit/s transfer of ~1,200-byte
/// datagrams if the tap thread falls behind.
const BLOCK_SIZE: u32 = 1 << 20;
const BLOCKS: u32 = 16;
/// A block that is not full is handed over this long after its first packet.
const BLOCK_TIMEOUT_MS: u32 = 10;
/// How long a finishing run waits for its last packets: two block timeouts.
pub(super) const DRAIN: Duration = Duration::from_millis(2 * BLOCK_TIMEOUT_MS as u64);

// <linux/if_packet.h>
const SOL_PACKET: libc::c_int = 263;
const PACKET_RX_RING: libc::c_int = 5;
const PACKET_VERSION: libc::c_int = 10;
const PACKET_STATISTICS: libc::c_int = 6;
const TPACKET_V3: libc::c_int = 2;
const TP_STATUS_KERNEL: u32 = 0;
const TP_STATUS_USER: u32 = 1;
/// Offsets in `struct tpacket_block_desc` (version, offset_to_priv, then tpacket_hdr_v1).
const BLOCK_STATUS: usize = 8;
const BLOCK_NUM_PKTS: usize = 12;
const BLOCK_FIRST_PKT: usize = 16;
/// Offsets in `struct tpacket3_hdr`.
const PKT_NEXT: usize = 0;
const PKT_SEC: usize = 4;
const PKT_NSEC: usize = 8;
const PKT_SNAPLEN: usize = 12;
const PKT_MAC: usize = 24;

/// The `TPACKET_V3` receive ring of the packet socket, mapped into this process.
struct Ring {
    base: *mut u8,
    len: usize,
}

// SAFETY: the mapping is only read and its block status words written by the tap thread
// (the struct moves to that thread once); the kernel synchronises through the status word.
unsafe impl Send for Ring {}

impl Ring {
    fn map(fd: &OwnedFd) -> std::io::Result<Ring> {
        set_socket_option(fd, SOL_PACKET, PACKET_VERSION, &TPACKET_V3)?;
        let frame_size: u32 = 2048;
        // struct tpacket_req3
        let req: [u32; 7] = [
            BLOCK_SIZE,
            BLOCKS,
            frame_size,
            BLOCK_SIZE / frame_size * BLOCKS,
            BLOCK_TIMEOUT_MS,
            0,
            0,
        ];
        set_socket_option(fd, SOL_PACKET, PACKET_RX_RING, &req)?;
        let len = (BLOCK_SIZE * BLOCKS) as usize;
        // SAFETY: maps the ring the kernel just set up for this socket.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Ring {
            base: base.cast(),
            len,
        })
    }

    /// The status word of block `i`, shared with the kernel.
    fn status(&self, i: u32) -> &AtomicU32 {
        // SAFETY: inside the mapping, 4-byte aligned (blocks are page aligned).
        unsafe {
            &*self
                .base
                .add((i * BLOCK_SIZE) as usize + BLOCK_STATUS)
                .cast::<AtomicU32>()
        }
    }

    /// Block `i`, once the kernel handed it over.
    fn block(&self, i: u32) -> &[u8] {
        // SAFETY: inside the mapping; the kernel does not write a block the user owns.
        unsafe {
            std::slice::from_raw_parts(
                self.base.add((i * BLOCK_SIZE) as usize),
                BLOCK_SIZE as usize,
            )
        }
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `map`.
        unsafe { libc::munmap(self.base.cast(), self.len) };
    }
}

fn u32_at(b: &[u8], at: usize) -> usize {
    u32::from_ne_bytes(b[at..at + 4].try_into().expect("4 bytes")) as usize
}

/// Walks the ring for the life of the process: every packet of every block the kernel hands
/// over goes to [`Tap::dispatch`], then the block goes back to the kernel.
fn read_loop(fd: &OwnedFd, ring: &Ring, tap: &Tap) {
    let mut i = 0;
    loop {
        if ring.status(i).load(Ordering::Acquire) & TP_STATUS_USER == 0 {
            let mut pfd = libc::pollfd {
                fd: fd.as_raw_fd(),
                events: libc::POLLIN | libc::POLLERR,
                revents: 0,
            };
            // SAFETY: poll(2) on one pollfd. Woken when a block is handed over.
            unsafe { libc::poll(&mut pfd, 1, -1) };
            continue;
        }
        let block = ring.block(i);
        let mut at = u32_at(block, BLOCK_FIRST_PKT);
        for _ in 0..u32_at(block, BLOCK_NUM_PKTS) {
            let Some(header) = block.get(at..) else {
                break;
            };
            let mac = usize::from(u16::from_ne_bytes([header[PKT_MAC], header[PKT_MAC + 1]]));
            let len = u32_at(header, PKT_SNAPLEN);
            let time = SystemTime::UNIX_EPOCH
                + Duration::new(
                    u32_at(header, PKT_SEC) as u64,
                    u32_at(header, PKT_NSEC) as u32,
                );
            if let Some(packet) = header.get(mac..mac + len) {
                tap.dispatch(packet, time);
            }
            match u32_at(header, PKT_NEXT) {
                0 => break,
                next => at += next,
            }
        }
        ring.status(i).store(TP_STATUS_KERNEL, Ordering::Release);
        i = (i + 1) % BLOCKS;
        match dropped_since_last_call(fd) {
            Ok(0) => {}
            Ok(dropped) => tap.note_drops(dropped),
            Err(e) => tracing::debug!("cannot read the tap's drop count: {e}"),
        }
    }
}

/// Packets the kernel dropped because the ring was full, since the last call (reading
/// `PACKET_STATISTICS` resets it).
fn dropped_since_last_call(fd: &OwnedFd) -> std::io::Result<u64> {
    // struct tpacket_stats_v3: tp_packets, tp_drops, tp_freeze_q_cnt.
    let mut stats = [0u32; 3];
    let mut len = std::mem::size_of_val(&stats) as libc::socklen_t;
    // SAFETY: getsockopt(2) into a buffer of the size given.
    let r = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            SOL_PACKET,
            PACKET_STATISTICS,
            stats.as_mut_ptr().cast(),
            &mut len,
        )
    };
    if r != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(u64::from(stats[1]))
}

/// Keeps incoming UDP over IPv4 and IPv6 only (offsets from the network header: the socket
/// is `SOCK_DGRAM`).
fn attach_filter(fd: &OwnedFd) -> std::io::Result<()> {
    const LD_W_ABS: u16 = 0x20;
    const LD_B_ABS: u16 = 0x30;
    const AND_K: u16 = 0x54;
    const JEQ_K: u16 = 0x15;
    const JA: u16 = 0x05;
    const RET_K: u16 = 0x06;
    const PKTTYPE: u32 = 0xfffff000 + 4; // SKF_AD_OFF + SKF_AD_PKTTYPE
    let op = |code, jt, jf, k| libc::sock_filter { code, jt, jf, k };
    let mut program = [
        op(LD_W_ABS, 0, 0, PKTTYPE),                   // 0
        op(JEQ_K, 9, 0, libc::PACKET_OUTGOING as u32), // 1: outgoing copy -> 11
        op(LD_B_ABS, 0, 0, 0),                         // 2: version nibble
        op(AND_K, 0, 0, 0xf0),                         // 3
        op(JEQ_K, 0, 2, 0x40),                         // 4: IPv4 -> 5, else 7
        op(LD_B_ABS, 0, 0, 9),                         // 5: IPv4 protocol
        op(JA, 0, 0, 2),                               // 6: -> 9
        op(JEQ_K, 0, 3, 0x60),                         // 7: IPv6 -> 8, else 11
        op(LD_B_ABS, 0, 0, 6),                         // 8: IPv6 next header
        op(JEQ_K, 0, 1, 17),                           // 9: UDP -> 10, else 11
        op(RET_K, 0, 0, 1 << 16),                      // 10: keep the whole packet
        op(RET_K, 0, 0, 0),                            // 11: drop
    ];
    let fprog = libc::sock_fprog {
        len: program.len() as u16,
        filter: program.as_mut_ptr(),
    };
    set_socket_option(fd, libc::SOL_SOCKET, libc::SO_ATTACH_FILTER, &fprog)
}

/// Source, destination and payload of an IPv4 or IPv6 packet carrying a whole UDP datagram
/// (no IPv6 extension headers, no fragments: what loopback carries).
pub(super) fn ip_udp(packet: &[u8]) -> Option<(SocketAddr, SocketAddr, &[u8])> {
    let version = packet.first()? >> 4;
    let (src, dst, udp): (IpAddr, IpAddr, &[u8]) = match version {
        4 => {
            let ihl = usize::from(packet[0] & 0x0f) * 4;
            let fragment = u16::from_be_bytes([*packet.get(6)?, *packet.get(7)?]);
            if packet.len() < 20 || ihl < 20 || packet[9] != 17 || fragment & 0x3fff != 0 {
                return None; // not UDP, or a fragment
            }
            let src: [u8; 4] = packet[12..16].try_into().ok()?;
            let dst: [u8; 4] = packet[16..20].try_into().ok()?;
            (
                Ipv4Addr::from(src).into(),
                Ipv4Addr::from(dst).into(),
                packet.get(ihl..)?,
            )
        }
        6 => {
            if packet.len() < 40 || packet[6] != 17 {
                return None;
            }
            let src: [u8; 16] = packet[8..24].try_into().ok()?;
            let dst: [u8; 16] = packet[24..40].try_into().ok()?;
            (
                Ipv6Addr::from(src).into(),
                Ipv6Addr::from(dst).into(),
                &packet[40..],
            )
        }
        _ => return None,
    };
    if udp.len() < 8 {
        return None;
    }
    let sport = u16::from_be_bytes([udp[0], udp[1]]);
    let dport = u16::from_be_bytes([udp[2], udp[3]]);
    let len = usize::from(u16::from_be_bytes([udp[4], udp[5]]));
    let payload = udp.get(8..len.max(8))?;
    Some((
        SocketAddr::new(src, sport),
        SocketAddr::new(dst, dport),
        payload,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::ip_udp_packet;

    #[test]
    fn udp_in_ipv4_and_ipv6_is_parsed_back() {
        for (src, dst) in [
            ("127.0.0.1:5000", "192.0.2.2:6000"),
            ("[::1]:5000", "[fd00::2]:6000"),
        ] {
            let (src, dst): (SocketAddr, SocketAddr) = (src.parse().unwrap(), dst.parse().unwrap());
            let packet = ip_udp_packet(src, dst, b"hello", 7).unwrap();
            assert_eq!(ip_udp(&packet), Some((src, dst, &b"hello"[..])));
        }
        assert_eq!(ip_udp(&[0x45, 0, 0]), None);
        assert_eq!(ip_udp(&[]), None);
        let mut tcp = ip_udp_packet(
            "127.0.0.1:1".parse().unwrap(),
            "127.0.0.1:2".parse().unwrap(),
            b"x",
            1,
        )
        .unwrap();
        tcp[9] = 6;
        assert_eq!(ip_udp(&tcp), None);
    }
}
