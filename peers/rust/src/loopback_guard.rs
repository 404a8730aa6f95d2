//! Workaround for `rtc-ice` 0.21.1 pairing loopback with non-loopback candidates.
//!
//! The peer binds `127.0.0.1` next to the machine's own address (see `peer::UDP_BINDS`). The
//! ICE agent pairs every local candidate with every remote one of the same family
//! (`Candidate::can_pair_with` checks only the network type), so it also checks
//! `127.0.0.1 -> 192.0.2.2`. The kernel delivers that, the browser answers, the pair succeeds,
//! and as controlling agent we may nominate it: host pairs tie on priority, so which one wins
//! is a race. Browsers never pair a loopback candidate with a non-loopback one (Firefox's
//! nICEr refuses it), so Firefox then never completes its side and the connection hangs in
//! `checking` (seen in about half of the runs against Firefox ESR 153).
//!
//! Browsers' rule is the fix: a UDP socket bound to a loopback address only talks to loopback
//! addresses, and a socket bound to another concrete address never talks to loopback. The
//! [`LoopbackGuard`] runtime wraps each socket the peer connection binds and silently drops
//! (reports as sent) every datagram that crosses that line, so such pairs just fail their
//! checks, as they would against a browser. Sockets bound to a wildcard (mDNS) are untouched.

use std::fmt;
use std::future::Future;
use std::io::{self, IoSliceMut};
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use webrtc::runtime::{
    AsyncInterval, AsyncTcpListener, AsyncTcpStream, AsyncUdpSocket, JoinHandle, RecvMeta, Runtime,
    TokioRuntime, Transmit,
};

/// The tokio runtime, with every UDP socket wrapped in [`ScopedUdpSocket`].
#[derive(Debug)]
pub struct LoopbackGuard {
    inner: TokioRuntime,
}

impl Default for LoopbackGuard {
    fn default() -> Self {
        LoopbackGuard {
            inner: TokioRuntime,
        }
    }
}

impl Runtime for LoopbackGuard {
    fn spawn(&self, future: Pin<Box<dyn Future<Output = ()> + Send>>) -> Box<dyn JoinHandle> {
        self.inner.spawn(future)
    }

    fn spawn_reactor(
        &self,
        reactor_pool_size: usize,
        future: Pin<Box<dyn Future<Output = ()> + Send>>,
    ) -> Box<dyn JoinHandle> {
        self.inner.spawn_reactor(reactor_pool_size, future)
    }

    fn wrap_udp_socket(&self, socket: std::net::UdpSocket) -> io::Result<Arc<dyn AsyncUdpSocket>> {
        let local = socket.local_addr()?.ip();
        let inner = self.inner.wrap_udp_socket(socket)?;
        Ok(Arc::new(ScopedUdpSocket { inner, local }))
    }

    fn wrap_tcp_listener(
        &self,
        listener: std::net::TcpListener,
    ) -> io::Result<Arc<dyn AsyncTcpListener>> {
        self.inner.wrap_tcp_listener(listener)
    }

    fn connect_tcp<'a>(
        &'a self,
        remote_addr: SocketAddr,
    ) -> Pin<Box<dyn Future<Output = io::Result<Arc<dyn AsyncTcpStream>>> + Send + 'a>> {
        self.inner.connect_tcp(remote_addr)
    }

    fn resolve_host<'a>(
        &'a self,
        host: &'a str,
    ) -> Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send + 'a>> {
        self.inner.resolve_host(host)
    }

    fn now(&self) -> Instant {
        self.inner.now()
    }

    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        self.inner.sleep(duration)
    }

    fn interval(&self, period: Duration) -> Box<dyn AsyncInterval> {
        self.inner.interval(period)
    }

    fn block_on(&self, future: Pin<Box<dyn Future<Output = ()> + '_>>) {
        self.inner.block_on(future)
    }

    fn yield_now(&self) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        self.inner.yield_now()
    }

    fn name(&self) -> &'static str {
        "tokio+loopback-guard"
    }
}

/// A UDP socket that only sends within its own scope (loopback or not).
struct ScopedUdpSocket {
    inner: Arc<dyn AsyncUdpSocket>,
    /// The address the socket is bound to.
    local: IpAddr,
}

impl fmt::Debug for ScopedUdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopedUdpSocket")
            .field("local", &self.local)
            .field("inner", &self.inner)
            .finish()
    }
}

/// Whether a socket bound to `local` may send to `destination`.
pub fn in_scope(local: IpAddr, destination: IpAddr) -> bool {
    local.is_unspecified() || local.is_loopback() == destination.is_loopback()
}

impl AsyncUdpSocket for ScopedUdpSocket {
    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    fn poll_send(&self, cx: &mut Context<'_>, transmit: &Transmit<'_>) -> Poll<io::Result<usize>> {
        if in_scope(self.local, transmit.destination.ip()) {
            self.inner.poll_send(cx, transmit)
        } else {
            tracing::trace!(
                local = %self.local,
                destination = %transmit.destination,
                "dropped a datagram across the loopback boundary"
            );
            Poll::Ready(Ok(transmit.contents.len()))
        }
    }

    fn poll_recv(
        &self,
        cx: &mut Context<'_>,
        bufs: &mut [IoSliceMut<'_>],
        meta: &mut [RecvMeta],
    ) -> Poll<io::Result<usize>> {
        self.inner.poll_recv(cx, bufs, meta)
    }

    fn max_gso_segments(&self) -> usize {
        self.inner.max_gso_segments()
    }

    fn max_gro_segments(&self) -> usize {
        self.inner.max_gro_segments()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_and_other_addresses_do_not_mix() {
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        let eth: IpAddr = "192.0.2.2".parse().unwrap();
        let any: IpAddr = "0.0.0.0".parse().unwrap();
        let mdns: IpAddr = "224.0.0.251".parse().unwrap();
        assert!(in_scope(lo, lo));
        assert!(in_scope(eth, eth));
        assert!(in_scope(eth, mdns));
        assert!(!in_scope(lo, eth));
        assert!(!in_scope(eth, lo));
        assert!(in_scope(any, lo) && in_scope(any, eth));
    }

    #[tokio::test]
    async fn a_loopback_socket_drops_datagrams_to_other_addresses() {
        let runtime = LoopbackGuard::default();
        let receiver = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind receiver");
        receiver
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let receiver_addr = receiver.local_addr().expect("address");
        let sender = runtime
            .wrap_udp_socket(std::net::UdpSocket::bind("127.0.0.1:0").expect("bind sender"))
            .expect("wrap");

        // Out of scope: reported as sent, never delivered. 0.0.0.0 is not a loopback address,
        // yet Linux would deliver it locally, so a broken guard shows up below without any
        // traffic leaving the machine.
        let outside = SocketAddr::new("0.0.0.0".parse().unwrap(), receiver_addr.port());
        assert_eq!(sender.send_to(b"dropped", outside).await.expect("send"), 7);

        // In scope: delivered.
        assert_eq!(
            sender.send_to(b"kept", receiver_addr).await.expect("send"),
            4
        );
        let mut buf = [0u8; 16];
        let (n, _) = receiver.recv_from(&mut buf).expect("receive");
        assert_eq!(
            &buf[..n],
            b"kept",
            "the out-of-scope datagram was delivered"
        );
    }
}
