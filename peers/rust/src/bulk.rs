//! Bulk sends: [`send`] runs one [`Command::SendBulk`] in the background, with
//! `bufferedamountlow` backpressure (the receiving side's digest is `bulk_receive.rs`).
//!
//! Backpressure with `webrtc` 0.21.1: the async `DataChannel` has no `buffered_amount()`. Its
//! counter is `outstanding_bytes()`: bytes handed to `send()` that SCTP has not yet released
//! (acknowledged or abandoned), including bytes still on their way into SCTP. That is at least
//! W3C's `bufferedAmount` (bytes queued but not yet transmitted), so it is what is compared
//! with the high-water mark and reported as `max_buffered_amount`. The low event is the crate's
//! `OnBufferedAmountLow`, which SCTP fires when its own per-stream buffered amount falls from
//! above the low threshold to at or below it.
//!
//! [`Command::SendBulk`]: interop_protocol::Command::SendBulk

use std::time::{Duration, Instant};

use bytes::BytesMut;
use interop_protocol::{Event, Pattern, PeerError};
use sha2::{Digest, Sha256};
use tokio::sync::watch;

use crate::channels::{Registered, Signals};
use crate::outbox::Outbox;
use crate::w3c::{named_error, peer_error};

/// How long a bulk sender waits for one `bufferedamountlow` before giving up.
pub const LOW_EVENT_TIMEOUT: Duration = Duration::from_secs(60);

/// The parameters of one [`Command::SendBulk`](interop_protocol::Command::SendBulk).
#[derive(Debug, Clone)]
pub struct SendBulk {
    pub label: String,
    pub bytes: u64,
    pub chunk: usize,
    pub seed: u32,
    pub high_water: u64,
    pub low_water: u32,
}

impl SendBulk {
    /// Checks what would make the transfer meaningless or endless; a `TypeError`, as for a
    /// value a browser's WebIDL conversion would reject.
    pub fn new(
        label: String,
        bytes: u64,
        chunk: u32,
        seed: u32,
        high_water: u64,
        low_water: u64,
    ) -> Result<Self, PeerError> {
        if bytes == 0 || chunk == 0 || high_water == 0 {
            return Err(named_error(
                "TypeError",
                "send_bulk needs bytes, chunk and high_water > 0",
            ));
        }
        // `bufferedAmountLowThreshold` is an `unsigned long`, as is the crate's threshold.
        let low_water = u32::try_from(low_water).map_err(|_| {
            named_error(
                "TypeError",
                format!("low_water {low_water} does not fit bufferedAmountLowThreshold (u32)"),
            )
        })?;
        let chunk = usize::try_from(chunk)
            .map_err(|_| named_error("TypeError", "chunk does not fit this platform"))?;
        Ok(SendBulk {
            label,
            bytes,
            chunk,
            seed,
            high_water,
            low_water,
        })
    }
}

/// What a bulk sender has done so far.
struct Progress {
    sent: u64,
    messages: u64,
    max_buffered: u64,
    hasher: Sha256,
    last_send: Instant,
}

/// Sends the whole transfer on `target`, then reports `bulk_sent` or `bulk_failed`. `started`
/// is when the command arrived.
pub async fn send(target: Registered, params: SendBulk, outbox: Outbox, started: Instant) {
    let mut progress = Progress {
        sent: 0,
        messages: 0,
        max_buffered: 0,
        hasher: Sha256::new(),
        last_send: started,
    };
    let result = send_all(&target, &params, &mut progress).await;
    outbox.event(match result {
        Ok(()) => Event::BulkSent {
            label: params.label,
            bytes: progress.sent,
            messages: progress.messages,
            sha256: hex::encode(progress.hasher.finalize()),
            elapsed_ms: progress.last_send.duration_since(started).as_secs_f64() * 1000.0,
            max_buffered_amount: progress.max_buffered,
        },
        Err(error) => Event::BulkFailed {
            label: params.label,
            bytes_sent: progress.sent,
            error,
        },
    });
}

/// A crate error as `bulk_failed` reports it: the W3C name it maps to, and the crate's message.
fn describe(error: webrtc::error::Error) -> String {
    let error = peer_error(error);
    format!("{}: {}", error.name, error.message)
}

async fn send_all(
    target: &Registered,
    params: &SendBulk,
    progress: &mut Progress,
) -> Result<(), String> {
    let channel = &target.channel;
    let mut signals = target.signals.clone();
    // The threshold never changes during a transfer, so it is set once, before the first
    // send: every fall of the buffer to the low-water mark then fires an event, including one
    // that happens between reading the buffered amount and starting to wait.
    channel
        .set_buffered_amount_low_threshold(params.low_water)
        .await
        .map_err(describe)?;
    let mut pattern = Pattern::new(params.seed);
    let mut chunk = Vec::with_capacity(params.chunk);
    while progress.sent < params.bytes {
        // Low events delivered before this reading say nothing about a wait that follows it.
        signals.borrow_and_update();
        let buffered = buffered_amount(target).await?;
        progress.max_buffered = progress.max_buffered.max(buffered);
        // With odd water marks (buffered amount at or below `low_water` yet at or above
        // `high_water`) there is no fall to wait for: the chunk goes out, as in a browser.
        if buffered >= params.high_water && buffered > u64::from(params.low_water) {
            wait_for_low(&mut signals, params, buffered).await?;
            // A low event may be stale (its fall happened before this reading, delivered
            // after it): the loop reads the buffered amount again either way.
            continue;
        }
        let len = params.chunk.min((params.bytes - progress.sent) as usize);
        chunk.clear();
        pattern.fill(&mut chunk, len);
        progress.hasher.update(&chunk);
        channel
            .send(BytesMut::from(&chunk[..]))
            .await
            .map_err(describe)?;
        progress.last_send = Instant::now();
        progress.sent += len as u64;
        progress.messages += 1;
    }
    // The peak may be right after the last send.
    if let Ok(buffered) = buffered_amount(target).await {
        progress.max_buffered = progress.max_buffered.max(buffered);
    }
    Ok(())
}

async fn buffered_amount(target: &Registered) -> Result<u64, String> {
    let bytes = target.channel.outstanding_bytes().await.map_err(describe)?;
    Ok(u64::try_from(bytes).unwrap_or(u64::MAX))
}

/// Waits for the next `bufferedamountlow`, failing if the channel closes or none comes within
/// [`LOW_EVENT_TIMEOUT`].
async fn wait_for_low(
    signals: &mut watch::Receiver<Signals>,
    params: &SendBulk,
    buffered: u64,
) -> Result<(), String> {
    let closed = || "the data channel closed during the transfer".to_owned();
    if signals.borrow().closed {
        return Err(closed());
    }
    let wait = async {
        match signals.changed().await {
            // The watcher is gone: the channel's event stream ended.
            Err(_) => Err(closed()),
            Ok(()) if signals.borrow_and_update().closed => Err(closed()),
            Ok(()) => Ok(()),
        }
    };
    tokio::time::timeout(LOW_EVENT_TIMEOUT, wait)
        .await
        .map_err(|_| {
            format!(
                "no bufferedamountlow within {LOW_EVENT_TIMEOUT:?}: buffered amount {buffered} >= \
                 high water {}, low threshold {}",
                params.high_water, params.low_water
            )
        })?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn send_bulk_parameters_are_checked() {
        let ok = SendBulk::new("b".into(), 10, 4, 1, 100, 10).expect("valid");
        assert_eq!(ok.chunk, 4);
        assert_eq!(ok.low_water, 10);
        for (bytes, chunk, high) in [(0, 4, 100), (10, 0, 100), (10, 4, 0)] {
            let err = SendBulk::new("b".into(), bytes, chunk, 1, high, 10).unwrap_err();
            assert_eq!(err.name, "TypeError");
        }
        let err = SendBulk::new("b".into(), 10, 4, 1, 100, 1 << 32).unwrap_err();
        assert_eq!(err.name, "TypeError");
    }
}
