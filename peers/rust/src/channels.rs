//! The data channels of one peer connection, by label, and what the harness asked this peer to
//! do with the messages that arrive on a label ([`Command::Echo`], [`Command::ReceiveBulk`]).
//!
//! Both are keyed by label because the protocol addresses channels by label, and because a mode
//! may be set before its channel exists (a channel the remote announces later): modes live apart
//! from the channels and are looked up on every message.
//!
//! Each registered channel also carries a [`Signals`] receiver. The crate's per-channel event
//! stream (`DataChannel::poll`) has exactly one reader, the channel's watcher task in `events`;
//! the watcher publishes `bufferedamountlow` and the channel's end there, which is how a bulk
//! sender (in `bulk`) waits for them.
//!
//! [`Command::Echo`]: interop_protocol::Command::Echo
//! [`Command::ReceiveBulk`]: interop_protocol::Command::ReceiveBulk

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use interop_protocol::Event;
use tokio::sync::watch;
use webrtc::data_channel::DataChannel;

use crate::bulk_receive::BulkReceive;

/// What a channel's watcher has seen that a bulk sender may wait for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Signals {
    /// How many `OnBufferedAmountLow` events the crate delivered so far.
    pub buffered_amount_low: u64,
    /// The channel closed (or its event stream ended with the peer connection).
    pub closed: bool,
}

/// A channel as the command side sees it.
#[derive(Clone)]
pub struct Registered {
    pub channel: Arc<dyn DataChannel>,
    pub signals: watch::Receiver<Signals>,
}

/// What the harness asked for the messages of one label.
#[derive(Default)]
struct Mode {
    echo: bool,
    bulk: Option<BulkReceive>,
}

/// How a received message is to be reported.
#[derive(Debug, PartialEq)]
pub enum Disposition {
    /// As a `data_channel_message` event of its own.
    Report,
    /// Fed to a running receive-bulk digest; nothing to report yet.
    Absorbed,
    /// It completed a receive-bulk of `expected` bytes: report this `bulk_received` event.
    Completed { event: Event, expected: u64 },
}

/// The data channels and per-label modes of one peer connection. Cheap to clone.
///
/// Labels need not be unique in WebRTC; the most recent channel with a label wins, which is
/// what a scenario addressing channels by label can mean. A closed channel stays registered
/// (as the browser peer keeps its `RTCDataChannel`), so a later `send` reaches the crate and
/// reports the crate's own error rather than "unknown label".
#[derive(Clone, Default)]
pub struct Channels(Arc<Inner>);

#[derive(Default)]
struct Inner {
    channels: Mutex<HashMap<String, Registered>>,
    modes: Mutex<HashMap<String, Mode>>,
}

/// Locks a map; a panic while holding one of these locks cannot leave it inconsistent.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Channels {
    /// Registers `channel` under `label`; the returned sender is for its watcher.
    pub fn register(&self, label: &str, channel: Arc<dyn DataChannel>) -> watch::Sender<Signals> {
        let (signals, receiver) = watch::channel(Signals::default());
        lock(&self.0.channels).insert(
            label.to_owned(),
            Registered {
                channel,
                signals: receiver,
            },
        );
        signals
    }

    pub fn get(&self, label: &str) -> Option<Registered> {
        lock(&self.0.channels).get(label).cloned()
    }

    /// Ends an unfinished receive-bulk on `label` because `channel` closed, if `channel` is
    /// still the one registered under it (a newer channel with the label keeps the bulk).
    /// Returns the abandoned bulk.
    pub fn abandon_bulk(&self, label: &str, channel: &Arc<dyn DataChannel>) -> Option<BulkReceive> {
        let current = lock(&self.0.channels)
            .get(label)
            .is_some_and(|r| Arc::ptr_eq(&r.channel, channel));
        if !current {
            return None;
        }
        lock(&self.0.modes).get_mut(label)?.bulk.take()
    }

    /// Forgets every channel and mode (the peer connection is going away).
    pub fn clear(&self) {
        lock(&self.0.channels).clear();
        lock(&self.0.modes).clear();
    }

    /// From now on, echo what arrives on `label`.
    pub fn set_echo(&self, label: &str) {
        lock(&self.0.modes)
            .entry(label.to_owned())
            .or_default()
            .echo = true;
    }

    /// From now on, digest what arrives on `label` into `bulk`. Returns `true` if it replaced
    /// an unfinished one.
    pub fn set_receive_bulk(&self, label: &str, bulk: BulkReceive) -> bool {
        lock(&self.0.modes)
            .entry(label.to_owned())
            .or_default()
            .bulk
            .replace(bulk)
            .is_some()
    }

    /// Applies the label's modes to a message that arrived at peer clock `t`: whether to echo
    /// it, and how to report it.
    pub fn on_message(&self, label: &str, data: &[u8], t: f64) -> (bool, Disposition) {
        let mut modes = lock(&self.0.modes);
        let Some(mode) = modes.get_mut(label) else {
            return (false, Disposition::Report);
        };
        let disposition = match mode.bulk.as_mut() {
            None => Disposition::Report,
            Some(bulk) => {
                if bulk.feed(data, t) {
                    match mode.bulk.take() {
                        Some(done) => {
                            let (_, expected, _) = done.progress();
                            Disposition::Completed {
                                event: done.finish(label),
                                expected,
                            }
                        }
                        None => Disposition::Absorbed,
                    }
                } else {
                    Disposition::Absorbed
                }
            }
        };
        (mode.echo, disposition)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    #[test]
    fn modes_apply_by_label_until_a_bulk_completes() {
        let channels = Channels::default();
        assert_eq!(
            channels.on_message("a", b"x", 1.0),
            (false, Disposition::Report)
        );

        channels.set_echo("a");
        assert_eq!(
            channels.on_message("a", b"x", 1.0),
            (true, Disposition::Report)
        );
        assert_eq!(
            channels.on_message("b", b"x", 1.0),
            (false, Disposition::Report)
        );

        assert!(!channels.set_receive_bulk("a", BulkReceive::new(5)));
        assert_eq!(
            channels.on_message("a", b"abc", 2.0),
            (true, Disposition::Absorbed)
        );
        let (echo, done) = channels.on_message("a", b"de", 3.5);
        assert!(echo);
        assert_eq!(
            done,
            Disposition::Completed {
                event: Event::BulkReceived {
                    label: "a".into(),
                    bytes: 5,
                    messages: 2,
                    sha256: hex::encode(Sha256::digest(b"abcde")),
                    first_t: 2.0,
                    last_t: 3.5,
                },
                expected: 5,
            }
        );
        // Done: messages are reported one by one again.
        assert_eq!(
            channels.on_message("a", b"f", 4.0),
            (true, Disposition::Report)
        );

        channels.clear();
        assert_eq!(
            channels.on_message("a", b"x", 5.0),
            (false, Disposition::Report)
        );
    }
}
