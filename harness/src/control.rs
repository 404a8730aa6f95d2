//! The control server: the one listener peers talk to.
//!
//! It serves the browser peer page (`/peer.html`, `/peer.js`) and accepts each peer's control
//! WebSocket at `/control?slot=SLOT&token=TOKEN`. The runner registers a slot per peer it is
//! about to start and gets a [`PeerLink`] once that peer connects. A connection with an unknown
//! slot or a wrong token is refused (403) and the refusal is logged. It binds 127.0.0.1.

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
const PEER_JS: &str = include_str!("../../peers/browser/peer.js");

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
    pub addr: SocketAddr,
    slots: Slots,
    task: tokio::task::JoinHandle<()>,
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
    /// Binds `listen` (127.0.0.1:0 by default) and serves in the background.
    pub async fn start(listen: SocketAddr) -> std::io::Result<Self> {
        let slots = Slots::default();
        let app = Router::new()
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
            .route(
                "/peer.js",
                get(|| async {
                    (
                        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
                        PEER_JS,
                    )
                }),
            )
            .route("/control", get(control_socket))
            .with_state(slots.clone());
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!("control server stopped: {e}");
            }
        });
        Ok(ControlServer { addr, slots, task })
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

    /// The URL a browser loads to become the peer of `ticket`.
    pub fn page_url(&self, ticket: &SlotTicket, implementation: &str) -> String {
        format!(
            "http://{}/peer.html?slot={}&token={}&impl={implementation}",
            self.addr, ticket.slot, ticket.token
        )
    }

    /// The WebSocket URL a non-browser peer connects to.
    pub fn control_url(&self, ticket: &SlotTicket) -> String {
        format!(
            "ws://{}/control?slot={}&token={}",
            self.addr, ticket.slot, ticket.token
        )
    }
}

#[derive(Deserialize)]
struct ControlQuery {
    slot: String,
    token: String,
}

async fn control_socket(
    State(slots): State<Slots>,
    Query(q): Query<ControlQuery>,
    ws: WebSocketUpgrade,
) -> Response {
    let pending = {
        let mut map = slots.lock();
        match map.get(&q.slot) {
            Some(p) if p.token == q.token => map.remove(&q.slot),
            _ => None,
        }
    };
    let Some(pending) = pending else {
        tracing::warn!(slot = %q.slot, "refused a control connection: unknown slot or wrong token");
        return (StatusCode::FORBIDDEN, "unknown slot or wrong token").into_response();
    };
    ws.max_message_size(64 << 20)
        .on_upgrade(move |socket| pump(socket, pending.deliver))
}

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
        while let Some(Ok(msg)) = stream.next().await {
            let incoming = match msg {
                Message::Text(text) => match serde_json::from_str::<PeerMessage>(&text) {
                    Ok(m) => Incoming::Message(m),
                    Err(e) => Incoming::Malformed(format!("{e}: {}", truncate(&text, 200))),
                },
                Message::Binary(_) => Incoming::Malformed("unexpected binary frame".into()),
                Message::Close(_) => break,
                _ => continue,
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
