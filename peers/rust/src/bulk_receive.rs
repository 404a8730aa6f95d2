//! The receiving side of a bulk transfer: [`BulkReceive`] digests the messages of one
//! [`Command::ReceiveBulk`] (byte and message counts, SHA-256, first and last arrival) into
//! its `bulk_received` event. Pure: the channel registry (`channels.rs`) feeds it.
//!
//! [`Command::ReceiveBulk`]: interop_protocol::Command::ReceiveBulk

use interop_protocol::Event;
use sha2::{Digest, Sha256};

/// One [`Command::ReceiveBulk`](interop_protocol::Command::ReceiveBulk) in progress.
pub struct BulkReceive {
    expected: u64,
    bytes: u64,
    messages: u64,
    hasher: Sha256,
    first_t: Option<f64>,
    last_t: f64,
}

impl BulkReceive {
    pub fn new(expected: u64) -> Self {
        BulkReceive {
            expected,
            bytes: 0,
            messages: 0,
            hasher: Sha256::new(),
            first_t: None,
            last_t: 0.0,
        }
    }

    /// Adds one message that arrived at peer clock `t`; `true` once `expected` bytes arrived.
    pub fn feed(&mut self, data: &[u8], t: f64) -> bool {
        self.hasher.update(data);
        self.bytes += data.len() as u64;
        self.messages += 1;
        self.first_t.get_or_insert(t);
        self.last_t = t;
        self.bytes >= self.expected
    }

    /// How far it got: (bytes, of expected, messages).
    pub fn progress(&self) -> (u64, u64, u64) {
        (self.bytes, self.expected, self.messages)
    }

    /// The `bulk_received` event. `bytes` is what arrived, which may exceed what was expected
    /// if the last message crossed the mark.
    pub fn finish(self, label: &str) -> Event {
        Event::BulkReceived {
            label: label.to_owned(),
            bytes: self.bytes,
            messages: self.messages,
            sha256: hex::encode(self.hasher.finalize()),
            first_t: self.first_t.unwrap_or(self.last_t),
            last_t: self.last_t,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bulk_receive_digests_in_arrival_order() {
        let data = interop_protocol::pattern(3, 1000);
        let mut bulk = BulkReceive::new(1000);
        assert!(!bulk.feed(&data[..600], 10.0));
        assert!(bulk.feed(&data[600..], 12.5));
        let Event::BulkReceived {
            bytes,
            messages,
            sha256,
            first_t,
            last_t,
            ..
        } = bulk.finish("x")
        else {
            panic!("finish must give bulk_received");
        };
        assert_eq!((bytes, messages), (1000, 2));
        assert_eq!(sha256, hex::encode(Sha256::digest(&data)));
        assert_eq!((first_t, last_t), (10.0, 12.5));
    }
}
