//! The protocol's rules on a peer's frames that hold over a whole run (pure): the peer clock
//! `t` never goes backwards over its responses and events, and each request gets exactly one
//! response (`interop_protocol::PeerMessage`). The session checks every frame against them; a
//! frame that breaks one ends the run as an `error`, like a malformed frame.

use std::collections::HashSet;

/// What one peer's frames must still respect.
#[derive(Debug, Default)]
pub(super) struct FrameRules {
    last_t: Option<f64>,
    /// Requests sent and not answered yet.
    pending: HashSet<u64>,
}

impl FrameRules {
    /// The harness sent request `id`.
    pub(super) fn sent(&mut self, id: u64) {
        self.pending.insert(id);
    }

    /// A response to `id` stamped `t`.
    pub(super) fn response(&mut self, id: u64, t: f64) -> Result<(), String> {
        self.clock(t)?;
        if self.pending.remove(&id) {
            Ok(())
        } else {
            Err(format!(
                "a response to request {id}, which was answered already or never sent"
            ))
        }
    }

    /// An event stamped `t`.
    pub(super) fn event(&mut self, t: f64) -> Result<(), String> {
        self.clock(t)
    }

    fn clock(&mut self, t: f64) -> Result<(), String> {
        if let Some(last) = self.last_t.filter(|last| t < *last) {
            return Err(format!("its clock went backwards: t {t} after t {last}"));
        }
        self.last_t = Some(t);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_response_per_request_and_a_clock_that_never_goes_back() {
        let mut rules = FrameRules::default();
        rules.sent(1);
        rules.sent(2);
        assert_eq!(rules.event(1.0), Ok(()));
        assert_eq!(rules.event(1.0), Ok(()), "equal stamps are fine");
        assert_eq!(rules.response(2, 2.5), Ok(()));
        assert_eq!(
            rules.response(1, 3.0),
            Ok(()),
            "answers may come in any order"
        );
        let second = rules.response(1, 4.0).unwrap_err();
        assert!(
            second.contains("request 1, which was answered already"),
            "{second}"
        );
        assert!(rules.response(9, 5.0).is_err(), "never sent");
        let back = rules.event(4.5).unwrap_err();
        assert!(back.contains("t 4.5 after t 5"), "{back}");
    }
}
