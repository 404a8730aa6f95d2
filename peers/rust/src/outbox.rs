//! Everything the peer sends to the harness goes through one [`Outbox`]: responses from the
//! request loop and events from the `webrtc` driver callbacks and the data channel tasks. It
//! stamps each message with the peer clock when it is queued, so `t` is when the peer observed
//! the thing, not when the socket got around to writing it. Stamping and queueing happen under
//! one lock, so messages from concurrent tasks leave in the order of their `t` (the protocol's
//! rule: `t` never goes backwards). One writer task drains the queue.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures_util::{Sink, SinkExt};
use interop_protocol::{Event, PeerError, PeerMessage, Reply};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

/// The peer's own monotonic clock: milliseconds since `run` started.
#[derive(Debug, Clone, Copy)]
pub struct Clock(Instant);

impl Clock {
    pub fn start() -> Self {
        Clock(Instant::now())
    }

    pub fn now_ms(&self) -> f64 {
        self.0.elapsed().as_secs_f64() * 1000.0
    }
}

/// The sending half of the harness connection. Cheap to clone; never blocks (the queue is
/// unbounded so that a `webrtc` driver callback can never stall on a slow socket).
#[derive(Clone)]
pub struct Outbox {
    tx: mpsc::UnboundedSender<PeerMessage>,
    clock: Clock,
    /// Held while a message is stamped and queued (see the module doc).
    order: Arc<Mutex<()>>,
}

impl Outbox {
    pub fn new(clock: Clock) -> (Self, mpsc::UnboundedReceiver<PeerMessage>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (
            Outbox {
                tx,
                clock,
                order: Arc::default(),
            },
            rx,
        )
    }

    /// The peer clock now, as `t` would stamp it.
    pub fn now_ms(&self) -> f64 {
        self.clock.now_ms()
    }

    pub fn send(&self, message: PeerMessage) {
        // The receiver is gone only once the connection is shutting down; nothing to do then.
        let _ = self.tx.send(message);
    }

    /// Stamps the message `make` builds with the clock now and queues it, in `t` order.
    fn stamped(&self, make: impl FnOnce(f64) -> PeerMessage) {
        let _order = self.order.lock().unwrap_or_else(|e| e.into_inner());
        self.send(make(self.clock.now_ms()));
    }

    pub fn event(&self, event: Event) {
        tracing::debug!(event = event.name(), "event");
        self.stamped(|t| PeerMessage::Event { t, event });
    }

    pub fn log(&self, level: &str, message: impl Into<String>) {
        self.event(Event::Log {
            level: level.to_owned(),
            message: message.into(),
        });
    }

    pub fn respond(&self, id: u64, result: Result<Reply, PeerError>) {
        let (ok, error) = match result {
            Ok(reply) => (Some(reply), None),
            Err(error) => (None, Some(error)),
        };
        self.stamped(|t| PeerMessage::Response { id, t, ok, error });
    }
}

/// Writes queued messages as JSON text frames until the queue ends or `shutdown` fires; on
/// shutdown it first writes whatever is already queued. Closes the sink at the end.
pub async fn write_loop<S>(
    mut sink: S,
    mut queue: mpsc::UnboundedReceiver<PeerMessage>,
    mut shutdown: oneshot::Receiver<()>,
) where
    S: Sink<Message> + Unpin,
    S::Error: std::fmt::Display,
{
    loop {
        let message = tokio::select! {
            biased;
            message = queue.recv() => message,
            _ = &mut shutdown => {
                while let Ok(message) = queue.try_recv() {
                    if write(&mut sink, &message).await.is_err() {
                        break;
                    }
                }
                break;
            }
        };
        let Some(message) = message else { break };
        if write(&mut sink, &message).await.is_err() {
            break;
        }
    }
    let _ = sink.close().await;
}

async fn write<S>(sink: &mut S, message: &PeerMessage) -> Result<(), ()>
where
    S: Sink<Message> + Unpin,
    S::Error: std::fmt::Display,
{
    let text = match serde_json::to_string(message) {
        Ok(text) => text,
        Err(e) => {
            // Only a non-finite f64 could do this; drop the one message, keep the connection.
            tracing::error!("failed to serialize a peer message: {e}");
            return Ok(());
        }
    };
    sink.send(Message::text(text)).await.map_err(|e| {
        tracing::warn!("failed to write to the harness: {e}");
    })
}
