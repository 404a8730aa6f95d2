//! Bulk transfers: the receiver digests, the sender streams the shared pattern; the digest is
//! compared with the pattern's and the receiver's throughput recorded.

use std::time::Duration;

use interop_protocol::{Command, Event};
use interop_scenario::plan::{Bulk, PeerId};
use sha2::{Digest, Sha256};

use super::expect::EventLog;
use super::session::Session;
use super::wait::{Cadence, Probe, Verdict, Wait};
use super::{role, round, Stop};

/// Seed of the pattern stream of bulk transfers (any fixed value; the peers get it).
const BULK_SEED: u32 = 1;

impl Session {
    /// One bulk transfer: the receiver digests, the sender streams; the receiver's digest must
    /// be the pattern stream's, and the throughput the receiver saw is recorded.
    pub(super) async fn bulk_transfer(
        &mut self,
        sender: PeerId,
        bulk: &Bulk,
        timeout: Duration,
        what: &str,
    ) -> Result<(), Stop> {
        let Bulk {
            label,
            bytes,
            chunk,
            high_water,
            low_water,
        } = bulk;
        let (bytes, chunk, high_water, low_water) = (*bytes, *chunk, *high_water, *low_water);
        let receiver = sender.other();
        let receive = Command::ReceiveBulk {
            label: label.to_string(),
            bytes,
        };
        self.command(receiver, receive, what).await?;
        let send = Command::SendBulk {
            label: label.to_string(),
            bytes,
            chunk,
            seed: BULK_SEED,
            high_water,
            low_water,
        };
        self.command(sender, send, what).await?;
        let probe = Transfer {
            sender,
            label,
            bytes,
            expected: pattern_sha256(bytes),
            buffer_bound: high_water + u64::from(chunk),
        };
        let wait = Wait::reach(receiver, what, timeout, Cadence::EveryFrame);
        let span_ms = self.wait_until(wait, probe).await?;
        if span_ms > 0.0 {
            self.throughput_mbps.insert(
                format!("{} {label}", role(sender)),
                round(bytes as f64 * 8.0 / span_ms / 1000.0),
            );
        }
        Ok(())
    }
}

/// The SHA-256 of the first `bytes` of the pattern stream of [`BULK_SEED`].
fn pattern_sha256(bytes: u64) -> String {
    let mut hasher = Sha256::new();
    let mut generator = interop_protocol::Pattern::new(BULK_SEED);
    let mut buf = Vec::with_capacity(1 << 20);
    let mut left = bytes;
    while left > 0 {
        let n = left.min(1 << 20) as usize;
        buf.clear();
        generator.fill(&mut buf, n);
        hasher.update(&buf);
        left -= n as u64;
    }
    hex::encode(hasher.finalize())
}

/// A bulk transfer under way, judged from both peers' event logs (the wait is the
/// receiver's).
struct Transfer<'a> {
    sender: PeerId,
    label: &'a str,
    bytes: u64,
    expected: String,
    /// What the sender's `max_buffered_amount` must stay below: it stops sending once the
    /// buffered amount reaches `high_water`, so one chunk past it at most.
    buffer_bound: u64,
}

impl Probe for Transfer<'_> {
    /// The receiver's span from first to last message, ms on its clock.
    type Found = f64;

    async fn look(&mut self, session: &mut Session) -> Result<Verdict<f64>, Stop> {
        let (sender, receiver) = (self.sender.0, self.sender.other().0);
        Ok(transfer_verdict(
            self.label,
            self.bytes,
            &self.expected,
            self.buffer_bound,
            &session.peers[sender].log.events,
            &session.peers[receiver].log.events,
        ))
    }
}

/// The verdict on a transfer of `bytes` on `label` whose pattern digest is `expected`:
/// contradicted by the sender's `bulk_failed`, a digest that differs, or a sender whose
/// buffered amount reached `buffer_bound` (it went on sending past the high-water mark), met
/// by the receiver's `bulk_received` with the right one (with its span), pending before. Pure.
fn transfer_verdict(
    label: &str,
    bytes: u64,
    expected: &str,
    buffer_bound: u64,
    sender: &EventLog,
    receiver: &EventLog,
) -> Verdict<f64> {
    let failed = sender.iter().find_map(|(_, e)| match e {
        Event::BulkFailed {
            label: l,
            bytes_sent,
            error,
        } if l == label => Some(format!(
            "the sender's bulk send on '{label}' failed after {bytes_sent} bytes: {error}"
        )),
        _ => None,
    });
    if let Some(reason) = failed {
        return Verdict::Contradicted(reason);
    }
    let sent = sender.iter().find_map(|(_, e)| match e {
        Event::BulkSent {
            label: l,
            sha256,
            max_buffered_amount,
            ..
        } if l == label => Some((sha256.as_str(), *max_buffered_amount)),
        _ => None,
    });
    if let Some((_, max)) = sent.filter(|(_, max)| *max >= buffer_bound) {
        return Verdict::Contradicted(format!(
            "the sender's buffered amount on '{label}' reached {max} bytes: it did not stop \
             sending at the high-water mark (a chunk past it at most: below {buffer_bound})"
        ));
    }
    let sent_digest = sent.map(|(digest, _)| digest);
    let received = receiver.iter().find_map(|(_, e)| match e {
        Event::BulkReceived {
            label: l,
            bytes,
            messages,
            sha256,
            first_t,
            last_t,
        } if l == label => Some((*bytes, *messages, sha256, last_t - first_t)),
        _ => None,
    });
    let Some((got, messages, sha256, span_ms)) = received else {
        return Verdict::Pending(format!(
            "the sender {}",
            if sent_digest.is_some() {
                "had handed all of it to send()"
            } else {
                "had not finished sending"
            }
        ));
    };
    if let Err(diff) = compare_bulk(bytes, expected, got, messages, sha256) {
        return Verdict::Contradicted(format!("bulk data on '{label}' differs: {diff}"));
    }
    if let Some(d) = sent_digest.filter(|d| *d != expected) {
        return Verdict::Contradicted(format!(
            "the sender says it sent data with sha256 {}, expected {}",
            &d[..d.len().min(16)],
            &expected[..16]
        ));
    }
    Verdict::Met(span_ms)
}

/// Compares what a bulk receiver digested with the stream that was sent.
fn compare_bulk(
    bytes: u64,
    expected_sha256: &str,
    got: u64,
    messages: u64,
    sha256: &str,
) -> Result<(), String> {
    if got == bytes && sha256 == expected_sha256 {
        return Ok(());
    }
    Err(format!(
        "got {got} bytes in {messages} messages (sha256 {}), expected {bytes} bytes (sha256 {})",
        &sha256[..sha256.len().min(16)],
        &expected_sha256[..expected_sha256.len().min(16)]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bulk_comparison_catches_size_and_content_differences() {
        let sha = |b: &[u8]| hex::encode(Sha256::digest(b));
        let stream = interop_protocol::pattern(BULK_SEED, 4096);
        let expected = sha(&stream);
        assert!(compare_bulk(4096, &expected, 4096, 1, &expected).is_ok());
        let mut corrupted = stream.clone();
        corrupted[100] ^= 1;
        let err = compare_bulk(4096, &expected, 4096, 1, &sha(&corrupted)).unwrap_err();
        assert!(err.contains("got 4096 bytes"), "{err}");
        assert!(compare_bulk(4096, &expected, 4095, 1, &sha(&stream[..4095])).is_err());
    }

    #[test]
    fn the_expected_digest_is_the_pattern_stream_s() {
        let stream = interop_protocol::pattern(BULK_SEED, 3 << 20 | 5);
        assert_eq!(
            pattern_sha256(stream.len() as u64),
            hex::encode(Sha256::digest(&stream))
        );
    }

    fn received(label: &str, bytes: u64, sha256: &str) -> Event {
        Event::BulkReceived {
            label: label.into(),
            bytes,
            messages: 4,
            sha256: sha256.into(),
            first_t: 100.0,
            last_t: 1100.0,
        }
    }

    fn sent_event(sha256: &str) -> Event {
        Event::BulkSent {
            label: "bulk".into(),
            bytes: 1000,
            messages: 4,
            sha256: sha256.into(),
            elapsed_ms: 10.0,
            max_buffered_amount: 0,
        }
    }

    #[test]
    fn a_transfer_is_met_by_the_right_digest_and_contradicted_by_a_failure_or_a_wrong_one() {
        let want = pattern_sha256(1000);
        let judge = |sender: Vec<Event>, receiver: Vec<Event>| {
            let log = |events: Vec<Event>| events.into_iter().map(|e| (0.0, e)).collect::<Vec<_>>();
            transfer_verdict("bulk", 1000, &want, 300, &log(sender), &log(receiver))
        };
        assert_eq!(
            judge(vec![], vec![]),
            Verdict::Pending("the sender had not finished sending".into())
        );
        let sent = sent_event(&want);
        assert_eq!(
            judge(vec![sent.clone()], vec![]),
            Verdict::Pending("the sender had handed all of it to send()".into())
        );
        // Another channel's result does not count.
        assert!(matches!(
            judge(vec![], vec![received("other", 1000, &want)]),
            Verdict::Pending(_)
        ));
        assert_eq!(
            judge(vec![sent.clone()], vec![received("bulk", 1000, &want)]),
            Verdict::Met(1000.0)
        );
        let failed = Event::BulkFailed {
            label: "bulk".into(),
            bytes_sent: 10,
            error: "closed".into(),
        };
        assert!(
            matches!(judge(vec![failed], vec![]), Verdict::Contradicted(r) if r.contains("after 10 bytes"))
        );
        assert!(matches!(
            judge(vec![sent], vec![received("bulk", 999, &want)]),
            Verdict::Contradicted(r) if r.contains("differs")
        ));
        // A sender that went on sending past the high-water mark.
        let Event::BulkSent {
            label,
            bytes,
            messages,
            sha256,
            elapsed_ms,
            ..
        } = sent_event(&want)
        else {
            unreachable!()
        };
        let flooding = Event::BulkSent {
            label,
            bytes,
            messages,
            sha256,
            elapsed_ms,
            max_buffered_amount: 300,
        };
        assert!(matches!(
            judge(vec![flooding], vec![received("bulk", 1000, &want)]),
            Verdict::Contradicted(r) if r.contains("did not stop sending at the high-water mark")
        ));
        let lying = sent_event(&"00".repeat(32));
        assert!(matches!(
            judge(vec![lying], vec![received("bulk", 1000, &want)]),
            Verdict::Contradicted(r) if r.contains("says it sent")
        ));
    }
}
