//! The control server: the one listener peers talk to.
//!
//! It serves the browser peer page (`/peer.html` and the scripts it loads, one table:
//! `PEER_SCRIPTS`) and accepts each peer's control WebSocket at
//! `/control?slot=SLOT&token=TOKEN`. The runner registers a slot per peer it is about to start
//! and gets a [`PeerLink`] once that peer connects. A connection with an unknown slot or a wrong
//! token is refused (403) and the refusal is logged. It binds 127.0.0.1 unless told otherwise
//! (`--listen`, with `--advertise` for the address peers are given).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures_util::{SinkExt, StreamExt};
use interop_protocol::PeerMessage;
use rand::Rng;
use serde::Deserialize;
use tokio::sync::{mpsc, oneshot};

const PEER_HTML: &str = include_str!("../../peers/browser/peer.html");

/// `(path served at, text)` of one of peers/browser's scripts.
macro_rules! script {
    ($file:literal) => {
        (
            concat!("/", $file),
            include_str!(concat!("../../peers/browser/", $file)),
        )
    };
}

/// The page's scripts (peers/browser/*.js), by the path each is served at: every one peer.html
/// loads, in its order (a test holds the two to each other).
const PEER_SCRIPTS: &[(&str, &str)] = &[
    script!("pure.js"),
    script!("wire.js"),
    script!("session.js"),
    script!("channels.js"),
    script!("media.js"),
    script!("handlers.js"),
    script!("peer.js"),
];

/// What arrives from a peer.
#[derive(Debug)]
pub enum Incoming {
    Message(PeerMessage),
    /// A frame that is not a valid protocol message, with the parse error.
    Malformed(String),
}

/// The harness's end of one peer's control connection. Dropping it closes the WebSocket.
#[derive(Debug)]
pub struct PeerLink {
    pub outgoing: mpsc::UnboundedSender<String>,
    /// Ends (`None`) when the peer disconnects.
    pub incoming: mpsc::UnboundedReceiver<Incoming>,
}

struct PendingSlot {
    token: String,
    deliver: oneshot::Sender<PeerLink>,
}

#[derive(Clone, Default)]
struct Slots(Arc<Mutex<HashMap<String, PendingSlot>>>);

impl Slots {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, PendingSlot>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A slot waiting for its peer.
pub struct SlotTicket {
    pub slot: String,
    pub token: String,
    pub connected: oneshot::Receiver<PeerLink>,
    slots: Slots,
}

impl Drop for SlotTicket {
    fn drop(&mut self) {
        self.slots.lock().remove(&self.slot);
    }
}

pub struct ControlServer {
    /// The address the listener is bound to.
    pub addr: SocketAddr,
    /// `host:port` in the URLs given to peers: the bound address, or `--advertise`.
    public: String,
    slots: Slots,
    refusals: Refusals,
    task: tokio::task::JoinHandle<()>,
}

/// Control connections refused so far: when, from where, for which slot.
#[derive(Clone, Default)]
struct Refusals(Arc<Mutex<Vec<String>>>);

/// What the control route needs.
#[derive(Clone)]
struct ControlState {
    slots: Slots,
    refusals: Refusals,
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn random_hex(bytes: usize) -> String {
    let mut rng = rand::rng();
    (0..bytes)
        .map(|_| format!("{:02x}", rng.random::<u8>()))
        .collect()
}

impl ControlServer {
    /// Binds `listen` (127.0.0.1:0 by default) and serves in the background. Peers are given
    /// URLs with `advertise` (`HOST` or `HOST:PORT`; the bound port when none is given) when
    /// set, else with the bound address, which then must not be a wildcard.
    pub async fn start(listen: SocketAddr, advertise: Option<&str>) -> std::io::Result<Self> {
        if listen.ip().is_unspecified() && advertise.is_none() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!(
                    "{} is a wildcard address, which a browser cannot load a page from: \
                     add --advertise HOST, the address browsers reach this machine at",
                    listen.ip()
                ),
            ));
        }
        let slots = Slots::default();
        let refusals = Refusals::default();
        let mut app = Router::new()
            .route(
                "/",
                get(|| async { axum::response::Redirect::to("/peer.html") }),
            )
            .route(
                "/peer.html",
                get(|| async {
                    (
                        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                        PEER_HTML,
                    )
                }),
            )
            .route("/control", get(control_socket));
        for &(path, text) in PEER_SCRIPTS {
            app = app.route(
                path,
                get(move || async move {
                    (
                        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
                        text,
                    )
                }),
            );
        }
        let app = app.with_state(ControlState {
            slots: slots.clone(),
            refusals: refusals.clone(),
        });
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let public = match advertise {
            None => addr.to_string(),
            // A port of its own (a forwarded port), or the bound one.
            Some(a) if a.parse::<SocketAddr>().is_ok() || has_port(a) => a.to_string(),
            Some(host) if host.contains(':') => format!("[{host}]:{}", addr.port()),
            Some(host) => format!("{host}:{}", addr.port()),
        };
        let task = tokio::spawn(async move {
            let app = app.into_make_service_with_connect_info::<SocketAddr>();
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!("control server stopped: {e}");
            }
        });
        Ok(ControlServer {
            addr,
            public,
            slots,
            refusals,
            task,
        })
    }

    /// Registers a slot for one peer; the link arrives on the ticket once it connects.
    pub fn register(&self) -> SlotTicket {
        let slot = random_hex(6);
        let token = random_hex(16);
        let (deliver, connected) = oneshot::channel();
        self.slots.lock().insert(
            slot.clone(),
            PendingSlot {
                token: token.clone(),
                deliver,
            },
        );
        SlotTicket {
            slot,
            token,
            connected,
            slots: self.slots.clone(),
        }
    }

    /// Every control connection refused so far (unknown slot or wrong token), one line each:
    /// time, remote address, slot. `run` writes them to `logs/refused-connections.log`.
    pub fn refusals(&self) -> Vec<String> {
        self.refusals
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// `host:port` as peers are told it.
    pub fn public(&self) -> &str {
        &self.public
    }

    /// The URL a browser loads to become the peer of `ticket`.
    pub fn page_url(&self, ticket: &SlotTicket, implementation: &str) -> String {
        format!(
            "http://{}/peer.html?slot={}&token={}&impl={implementation}",
            self.public, ticket.slot, ticket.token
        )
    }

    /// The WebSocket URL a non-browser peer connects to.
    pub fn control_url(&self, ticket: &SlotTicket) -> String {
        format!(
            "ws://{}/control?slot={}&token={}",
            self.public, ticket.slot, ticket.token
        )
    }
}

/// Whether `host_port` is `name:port` (not a bare IPv6 address).
fn has_port(host_port: &str) -> bool {
    match host_port.rsplit_once(':') {
        Some((host, port)) => {
            port.parse::<u16>().is_ok() && (!host.contains(':') || host.ends_with(']'))
        }
        None => false,
    }
}

#[derive(Deserialize)]
struct ControlQuery {
    slot: String,
    token: String,
}

async fn control_socket(
    State(state): State<ControlState>,
    axum::extract::ConnectInfo(from): axum::extract::ConnectInfo<SocketAddr>,
    Query(q): Query<ControlQuery>,
    ws: WebSocketUpgrade,
) -> Response {
    let pending = {
        let mut map = state.slots.lock();
        match map.get(&q.slot) {
            Some(p) if p.token == q.token => map.remove(&q.slot),
            _ => None,
        }
    };
    let Some(pending) = pending else {
        tracing::warn!(slot = %q.slot, %from, "refused a control connection: unknown slot or wrong token");
        state
            .refusals
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(format!(
                "{} refused a control connection from {from} for slot `{}`: unknown slot or wrong token",
                crate::results_dir::now_rfc3339(),
                crate::redact::redact(&q.slot)
            ));
        return (StatusCode::FORBIDDEN, "unknown slot or wrong token").into_response();
    };
    ws.max_message_size(MAX_MESSAGE)
        .on_upgrade(move |socket| pump(socket, pending.deliver))
}

/// The largest frame a peer may send (a getStats report or a media report is well under 1 MiB;
/// bulk data never crosses the control channel). A larger one ends the run as an `error`.
pub const MAX_MESSAGE: usize = 16 << 20;

/// Moves frames between the WebSocket and the link's channels until either side goes away.
async fn pump(socket: WebSocket, deliver: oneshot::Sender<PeerLink>) {
    let (out_tx, mut out_rx) = mpsc::unbounded_channel::<String>();
    let (in_tx, in_rx) = mpsc::unbounded_channel();
    if deliver
        .send(PeerLink {
            outgoing: out_tx,
            incoming: in_rx,
        })
        .is_err()
    {
        return; // Nobody waits for this peer any more.
    }
    let (mut sink, mut stream) = socket.split();
    let writer = async {
        while let Some(text) = out_rx.recv().await {
            if sink.send(Message::Text(text.into())).await.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    };
    let reader = async {
        while let Some(frame) = stream.next().await {
            let incoming = match frame {
                Ok(Message::Text(text)) => match serde_json::from_str::<PeerMessage>(&text) {
                    Ok(m) => Incoming::Message(m),
                    Err(e) => Incoming::Malformed(format!("{e}: {}", truncate(&text, 200))),
                },
                Ok(Message::Binary(_)) => Incoming::Malformed("unexpected binary frame".into()),
                Ok(Message::Close(_)) => break,
                Ok(_) => continue,
                Err(e) => {
                    // A frame over MAX_MESSAGE is the peer's fault; any other error (a reset
                    // when the peer's process dies) is a disconnection, which the runner
                    // reports as a crash.
                    let text = e.to_string();
                    if text.contains("too long") || text.contains("Space limit") {
                        let _ = in_tx.send(Incoming::Malformed(format!(
                            "a frame over the {} MiB limit ({text})",
                            MAX_MESSAGE >> 20
                        )));
                    }
                    break;
                }
            };
            if in_tx.send(incoming).is_err() {
                break;
            }
        }
    };
    // Whichever side ends first ends the connection; dropping `in_tx` tells the runner.
    tokio::select! {
        _ = writer => {}
        _ = reader => {}
    }
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn public_of(listen: &str, advertise: Option<&str>) -> Result<String, String> {
        ControlServer::start(listen.parse().unwrap(), advertise)
            .await
            .map(|c| {
                let ticket = c.register();
                let url = c.control_url(&ticket);
                assert!(c.page_url(&ticket, "chrome").contains(&c.public));
                assert_eq!(
                    url,
                    format!(
                        "ws://{}/control?slot={}&token={}",
                        c.public, ticket.slot, ticket.token
                    )
                );
                c.public.replace(&c.addr.port().to_string(), "PORT")
            })
            .map_err(|e| e.to_string())
    }

    #[tokio::test]
    async fn peers_get_the_bound_or_the_advertised_address() {
        assert_eq!(
            public_of("127.0.0.1:0", None).await.unwrap(),
            "127.0.0.1:PORT"
        );
        assert_eq!(
            public_of("127.0.0.1:0", Some("harness.example"))
                .await
                .unwrap(),
            "harness.example:PORT"
        );
        assert_eq!(
            public_of("127.0.0.1:0", Some("192.0.2.2:8443"))
                .await
                .unwrap(),
            "192.0.2.2:8443"
        );
        assert_eq!(
            public_of("127.0.0.1:0", Some("2001:db8::2")).await.unwrap(),
            "[2001:db8::2]:PORT"
        );
        let err = public_of("0.0.0.0:0", None).await.unwrap_err();
        assert!(err.contains("--advertise"), "{err}");
        assert_eq!(
            public_of("0.0.0.0:0", Some("192.0.2.2")).await.unwrap(),
            "192.0.2.2:PORT"
        );
    }

    #[tokio::test]
    async fn a_wrong_token_is_refused() {
        let c = ControlServer::start("127.0.0.1:0".parse().unwrap(), None)
            .await
            .unwrap();
        let ticket = c.register();
        let url = format!("http://{}/control?slot={}&token=wrong", c.addr, ticket.slot);
        let (status, _) = tokio::task::spawn_blocking(move || http_get(&url))
            .await
            .unwrap();
        assert_eq!(status, 403);
        // The refusal is logged with where it came from; the slot stays open for its peer.
        let refusals = c.refusals();
        assert_eq!(refusals.len(), 1, "{refusals:?}");
        assert!(
            refusals[0].contains("from 127.0.0.1:")
                && refusals[0].contains(&format!("slot `{}`", ticket.slot)),
            "{refusals:?}"
        );
        assert!(c.slots.lock().contains_key(&ticket.slot));
    }

    /// The page loads exactly the scripts served, in the table's order.
    #[test]
    fn the_page_loads_every_script_served() {
        let loaded: Vec<String> = PEER_HTML
            .split("<script src=\"")
            .skip(1)
            .map(|rest| format!("/{}", rest.split('"').next().unwrap()))
            .collect();
        let served: Vec<&str> = PEER_SCRIPTS.iter().map(|(path, _)| *path).collect();
        assert_eq!(loaded, served);
    }

    #[tokio::test]
    async fn every_script_is_served_as_javascript() {
        let c = ControlServer::start("127.0.0.1:0".parse().unwrap(), None)
            .await
            .unwrap();
        for &(path, text) in PEER_SCRIPTS {
            let url = format!("http://{}{path}", c.addr);
            let (status, head) = tokio::task::spawn_blocking(move || http_get(&url))
                .await
                .unwrap();
            assert_eq!(status, 200, "{path}: {head}");
            assert!(
                head.to_ascii_lowercase()
                    .contains("content-type: text/javascript; charset=utf-8"),
                "{path}: {head}"
            );
            assert!(text.contains("\"use strict\";"), "{path}");
        }
    }

    /// A bare HTTP/1.1 GET with a WebSocket upgrade request; returns the status code.
    fn http_get(url: &str) -> (u16, String) {
        use std::io::{Read, Write};
        let rest = url.strip_prefix("http://").unwrap();
        let (host, path) = rest.split_once('/').unwrap();
        let mut s = std::net::TcpStream::connect(host).unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        write!(
            s,
            "GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
        )
        .unwrap();
        let mut buf = vec![0u8; 1024];
        let n = s.read(&mut buf).unwrap();
        let text = String::from_utf8_lossy(&buf[..n]).to_string();
        let status = text.split_whitespace().nth(1).unwrap().parse().unwrap();
        (status, text)
    }
}
