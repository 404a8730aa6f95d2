//! The Rust peer of the interop harness: the `webrtc` crate (webrtc-rs, the async layer over
//! the sans-IO `rtc` crate) driven through the peer-control protocol of `interop-protocol`.
//!
//! This crate owns exactly one thing: turning protocol [`Request`]s into calls on one `webrtc`
//! peer connection with W3C semantics, and turning what that connection reports into protocol
//! events. It knows nothing about scenarios, other peers or signaling; the harness relays
//! descriptions and candidates itself.
//!
//! ```text
//!            harness WebSocket (ws://127.0.0.1:PORT/control?slot=..&token=..)
//!              |  text frames in                          ^ text frames out
//!              v                                          |
//!   run(): read loop --Request--> Peer::handle            writer task (one)
//!              |   (one at a time, in order)                ^
//!              |                      |                     | Outbox (unbounded, stamps `t`)
//!              |                      +--Response-----------+
//!              |                                            |
//!         webrtc driver --callbacks--> EventHandler --------+  state changes, candidates
//!         DataChannel::poll() per channel (watch_channel) --+  open / message / close
//! ```
//!
//! Requests are handled strictly in order, but a slow one never delays events: events are
//! queued by the driver callbacks and channel tasks and written by the writer task while the
//! request loop waits. When the WebSocket closes, the peer connection is closed and [`run`]
//! returns.
//!
//! Modules: `outbox` (clock, queue, writer), `peer` (commands), `events` (callbacks, data
//! channel tasks, what the crate cannot report), `channels` (channels and per-label modes by
//! label), `bulk` (bulk send with backpressure, bulk receive digest), `certificate`
//! (`generateCertificate`: ECDSA P-256 / RSA-2048 certificates), `dtls_setup` (`a=setup` as the
//! crate really decides the DTLS role), `w3c` (names and type conversions, unit-tested),
//! `stats` (`getStats()` normalised to W3C where the crate deviates, unit-tested), `media`
//! (media commands, the sent files, what is sent and received; see its module doc),
//! `loopback_guard` (a workaround keeping loopback and non-loopback candidates from pairing;
//! see there).

use anyhow::Context;
use futures_util::{SinkExt, StreamExt};
use interop_protocol::{Hello, PeerMessage, Request, PROTOCOL_VERSION};
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::Message;

mod bulk;
mod bulk_receive;
mod certificate;
mod channels;
mod dtls_setup;
mod events;
mod keylog;
mod loopback_guard;
mod media;
mod outbox;
mod peer;
mod slot;
mod stats;
mod w3c;

use outbox::{Clock, Outbox};
use peer::Peer;

/// The `webrtc` crate version this peer was built with, read from the workspace Cargo.lock by
/// the build script (`"unknown"` if it could not be read).
pub const WEBRTC_VERSION: &str = env!("WEBRTC_VERSION");

/// The `rtc` (sans-IO core) crate version under `webrtc`, from the same lock file.
pub const RTC_VERSION: &str = env!("RTC_VERSION");

/// How long to keep flushing queued messages once the harness connection has ended.
const FLUSH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// The `Hello` this peer introduces itself with.
pub fn hello() -> Hello {
    Hello {
        protocol_version: PROTOCOL_VERSION,
        implementation: "rust".to_owned(),
        version: WEBRTC_VERSION.to_owned(),
        detail: Some(format!(
            "webrtc-rs webrtc {WEBRTC_VERSION} (rtc {RTC_VERSION})"
        )),
        unsupported: events::unsupported(),
    }
}

/// Connects to the harness at `control_url`, says `Hello`, then serves requests until the
/// WebSocket closes. Returns `Ok` on any close; errors only if the connection cannot be made.
pub async fn run(control_url: &str) -> anyhow::Result<()> {
    let clock = Clock::start();
    let (socket, _) = tokio_tungstenite::connect_async(control_url)
        .await
        .with_context(|| format!("failed to connect to the harness at {control_url}"))?;
    tracing::info!(
        webrtc = WEBRTC_VERSION,
        rtc = RTC_VERSION,
        "connected to the harness"
    );
    let (mut sink, mut frames) = socket.split();
    let fault = fault_frame();
    if let Some(frame) = &fault {
        // Fault injection for the harness's own tests: Hello, then a frame that breaks the
        // protocol (written here, since the outbox only writes valid messages).
        let hello = serde_json::to_string(&PeerMessage::Hello(hello()))?;
        sink.send(Message::text(hello)).await?;
        sink.send(Message::text(frame.as_str())).await?;
    }
    let (outbox, queue) = Outbox::new(clock);
    let (stop_writer, writer_stopped) = oneshot::channel();
    let writer = tokio::spawn(outbox::write_loop(sink, queue, writer_stopped));

    if fault.is_none() {
        outbox.send(PeerMessage::Hello(hello()));
    }
    let mut peer = Peer::new(outbox.clone());

    while let Some(frame) = frames.next().await {
        match frame {
            Ok(Message::Text(text)) => match parse_request(text.as_str()) {
                Ok(request) => {
                    tracing::debug!(id = request.id, command = ?request.command, "request");
                    let result = peer.handle(request.command).await;
                    if let Err(error) = &result {
                        tracing::info!(
                            id = request.id,
                            "request failed: {}: {}",
                            error.name,
                            error.message
                        );
                    }
                    outbox.respond(request.id, result);
                }
                Err(bad) => reject(&outbox, bad),
            },
            Ok(Message::Binary(bytes)) => outbox.log(
                "warn",
                format!(
                    "ignored a {}-byte binary frame: requests are JSON text",
                    bytes.len()
                ),
            ),
            Ok(Message::Close(_)) => break,
            // Pings are answered by tungstenite itself.
            Ok(_) => {}
            Err(e) => {
                tracing::warn!("harness connection failed: {e}");
                break;
            }
        }
    }

    tracing::info!("harness connection closed; closing the peer connection");
    if let Err(error) = peer.close().await {
        tracing::warn!("closing the peer connection failed: {}", error.message);
    }
    let _ = stop_writer.send(());
    let abort_writer = writer.abort_handle();
    if tokio::time::timeout(FLUSH_TIMEOUT, writer).await.is_err() {
        tracing::warn!("gave up flushing messages to the harness after {FLUSH_TIMEOUT:?}");
        abort_writer.abort();
    }
    Ok(())
}

/// The environment variable that makes this peer misbehave, for the harness's tests of hostile
/// peers: `bad-json`, `unknown-message` or `huge-message` (over the harness's 16 MiB limit).
pub const FAULT_ENV: &str = "INTEROP_PEER_FAULT";

/// With [`FAULT_ENV`], a path: only the one peer that creates this file misbehaves, every
/// other peer of the run is healthy (so a test can see the harness go on after the fault).
pub const FAULT_ONCE_ENV: &str = "INTEROP_PEER_FAULT_ONCE";

/// The frame [`FAULT_ENV`] asks for, sent right after the Hello; `None` normally.
fn fault_frame() -> Option<String> {
    let frame = match std::env::var(FAULT_ENV).ok()?.as_str() {
        "bad-json" => r#"{"type": "event", "t": 1, "#.to_string(),
        "unknown-message" => r#"{"type":"teleport","to":"mars"}"#.to_string(),
        "huge-message" => format!("\"{}\"", "x".repeat(17 << 20)),
        _ => return None,
    };
    if let Some(path) = std::env::var_os(FAULT_ONCE_ENV) {
        // create_new is atomic: of the peers started at once, exactly one gets the file.
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .ok()?;
    }
    Some(frame)
}

/// A frame that is not a valid [`Request`]: the id, if one could be read, and why.
#[derive(Debug, PartialEq)]
struct BadRequest {
    id: Option<u64>,
    /// `BadRequest`, or `NotSupportedError` for a command type the protocol does not have.
    name: &'static str,
    message: String,
}

fn parse_request(text: &str) -> Result<Request, BadRequest> {
    serde_json::from_str::<Request>(text).map_err(|e| {
        let value = serde_json::from_str::<serde_json::Value>(text).ok();
        let id = value.as_ref().and_then(|v| v.get("id")?.as_u64());
        let kind = value
            .as_ref()
            .and_then(|v| v.get("command")?.get("type")?.as_str().map(str::to_owned));
        match kind {
            // The protocol's rule (interop_protocol::Command::KINDS), as in the browser page.
            Some(kind) if !interop_protocol::Command::KINDS.contains(&kind.as_str()) => {
                BadRequest {
                    id,
                    name: "NotSupportedError",
                    message: format!("unknown command '{kind}'"),
                }
            }
            _ => BadRequest {
                id,
                name: "BadRequest",
                message: format!("malformed request: {e}"),
            },
        }
    })
}

/// Answers a malformed frame: a `BadRequest` response when it has an id, else a log event.
fn reject(outbox: &Outbox, bad: BadRequest) {
    tracing::warn!(id = ?bad.id, "{}", bad.message);
    match bad.id {
        Some(id) => outbox.respond(
            id,
            Err(interop_protocol::PeerError {
                name: bad.name.to_owned(),
                message: bad.message,
            }),
        ),
        None => outbox.log("error", bad.message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use interop_protocol::Command;

    #[test]
    fn a_valid_request_parses() {
        let request =
            parse_request(r#"{"id":3,"command":{"type":"create_offer"}}"#).expect("valid request");
        assert_eq!(request.id, 3);
        assert_eq!(request.command, Command::CreateOffer);
    }

    #[test]
    fn a_bad_request_keeps_its_id_when_it_has_one() {
        let bad = parse_request(r#"{"id":9,"command":{"type":"explode"}}"#).unwrap_err();
        assert_eq!(bad.id, Some(9));
        assert!(bad.message.contains("explode"), "{}", bad.message);
        // A command type the protocol does not have is not supported; a known one with
        // fields that do not read is a bad request.
        assert_eq!(bad.name, "NotSupportedError");
        let bad = parse_request(r#"{"id":4,"command":{"type":"send","label":3}}"#).unwrap_err();
        assert_eq!((bad.id, bad.name), (Some(4), "BadRequest"));

        let bad = parse_request(r#"{"id":"nine","command":{"type":"close"}}"#).unwrap_err();
        assert_eq!(bad.id, None);

        let bad = parse_request("{not json").unwrap_err();
        assert_eq!(bad.id, None);
    }

    #[test]
    fn hello_reports_the_locked_webrtc_version() {
        let hello = hello();
        assert_eq!(hello.implementation, "rust");
        assert_eq!(hello.protocol_version, PROTOCOL_VERSION);
        assert!(
            hello.version.starts_with("0.21."),
            "version from Cargo.lock: {}",
            hello.version
        );
        assert_ne!(RTC_VERSION, "unknown");
        assert_eq!(
            hello.detail.as_deref(),
            Some(format!("webrtc-rs webrtc {WEBRTC_VERSION} (rtc {RTC_VERSION})").as_str())
        );
    }

    #[test]
    fn unsupported_evidence_matches_the_locked_versions() {
        // The evidence in `events::unsupported` was checked against these sources. After a
        // version bump, check each entry again (the crate may have gained the API), then
        // update this test.
        assert_eq!((WEBRTC_VERSION, RTC_VERSION), ("0.21.1", "0.21.1"));
        let unsupported = hello().unsupported;
        let keys: Vec<&str> = unsupported.keys().map(String::as_str).collect();
        let names = [
            interop_protocol::Event::DataChannelClosing {
                label: String::new(),
            }
            .name(),
            interop_protocol::Event::DataChannelError {
                label: String::new(),
                message: String::new(),
            }
            .name(),
        ];
        assert_eq!(keys, names, "keys are protocol event names");
        for (key, evidence) in &unsupported {
            assert!(evidence.starts_with("webrtc 0.21.1: "), "{key}: {evidence}");
        }
    }
}
