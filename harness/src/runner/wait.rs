//! The one wait of the runner. Every expectation step is a [`Probe`]: something the runner
//! looks at (the peer's event log, a getStats report, a media report, the capture) whose
//! [`Verdict`] is met, pending or contradicted. [`Session::wait_until`] looks until the verdict
//! is final or the deadline passes, and [`judge`] (pure) decides how the step ends, the same
//! way for every expectation:
//!
//! | what the last look said                    | the step ends           |
//! |--------------------------------------------|-------------------------|
//! | `Met`                                      | passes (at once)        |
//! | `Contradicted(reason)`                     | `fail` (at once)        |
//! | `Pending(status)`, deadline passed         | `timeout`, with status  |
//! | `Pending`, deadline passed, and the probe's [`Probe::gap`] finds in the peer's own reports that it cannot report what is awaited | `unsupported`, with that evidence |
//! | (before any look) the peer declared in its Hello that it cannot report the event awaited ([`Wait::needs`]) | `unsupported` |
//!
//! A *hold* ([`Goal::Hold`]: nothing may happen during the period, `expect_no_media`) is the
//! same table with the deadline as the pass: `Met` means "nothing contradicts it so far".
//!
//! How often the probe is asked is its [`Cadence`]: event-log probes after every frame a peer
//! sends (no polling delay), probes that ask a peer for a report every [`POLL`]. Frames keep
//! being processed while a step waits either way.

use std::time::Duration;

use interop_results::Outcome;
use interop_scenario::plan::PeerId;
use tokio::time::Instant;

use super::session::Session;
use super::{human, Stop};

/// How often probes that ask a peer for a report (getStats, media) look again.
pub const POLL: Duration = Duration::from_millis(250);

/// What a probe says at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict<T = ()> {
    /// It holds, with what was found.
    Met(T),
    /// Not yet: more time may make it hold. The status says what was seen last (for the
    /// timeout message; may be empty).
    Pending(String),
    /// It can no longer hold, and why.
    Contradicted(String),
}

impl<T> Verdict<T> {
    /// Pending with nothing to say.
    pub fn pending() -> Self {
        Verdict::Pending(String::new())
    }
}

impl Verdict {
    /// `Met` when `met`, else pending with nothing to say.
    pub fn met_if(met: bool) -> Self {
        if met {
            Verdict::Met(())
        } else {
            Verdict::pending()
        }
    }
}

/// When a probe is asked again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cadence {
    /// After every frame from either peer (the verdict reads the event log only).
    EveryFrame,
    /// Every [`POLL`] (the probe asks a peer for a report).
    Poll,
}

/// What the wait is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Goal {
    /// Something must happen before the deadline.
    Reach,
    /// Nothing may contradict it until the deadline.
    Hold,
}

/// How a wait ended, before it becomes a step result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End<T> {
    Met(T),
    Timeout(String),
    Fail(String),
    Unsupported(String),
}

/// How the wait goes on after a look: `None` to look again, else how it ended. `gap` is only
/// asked at a missed deadline.
pub fn judge<T>(
    verdict: Verdict<T>,
    goal: Goal,
    deadline_passed: bool,
    gap: impl FnOnce() -> Option<String>,
) -> Option<End<T>> {
    match (verdict, goal) {
        (Verdict::Contradicted(reason), _) => Some(End::Fail(reason)),
        (Verdict::Met(found), Goal::Reach) => Some(End::Met(found)),
        (Verdict::Met(found), Goal::Hold) => deadline_passed.then_some(End::Met(found)),
        (Verdict::Pending(status), Goal::Reach | Goal::Hold) => {
            deadline_passed.then(|| match gap() {
                Some(evidence) => End::Unsupported(evidence),
                None => End::Timeout(status),
            })
        }
    }
}

/// One wait: whose, for what, how long, how often.
pub struct Wait<'a> {
    pub peer: PeerId,
    /// The step, for messages (`expect connection state 'connected'`).
    pub what: &'a str,
    pub timeout: Duration,
    pub cadence: Cadence,
    pub goal: Goal,
    /// The event the peer must be able to report (a key of its Hello's `unsupported`).
    pub needs: Option<&'static str>,
}

impl<'a> Wait<'a> {
    /// A wait to reach something, asked with `cadence`.
    pub fn reach(peer: PeerId, what: &'a str, timeout: Duration, cadence: Cadence) -> Self {
        Wait {
            peer,
            what,
            timeout,
            cadence,
            goal: Goal::Reach,
            needs: None,
        }
    }

    /// The same wait, for an event the peer must be able to report.
    pub fn needing(self, event: &'static str) -> Self {
        Wait {
            needs: Some(event),
            ..self
        }
    }

    /// The same wait as a hold.
    pub fn hold(self) -> Self {
        Wait {
            goal: Goal::Hold,
            ..self
        }
    }
}

/// Something an expectation looks at.
pub(super) trait Probe {
    /// What a met verdict found.
    type Found;
    /// Looks once. May send commands (getStats); frames keep being processed meanwhile.
    async fn look(&mut self, session: &mut Session) -> Result<Verdict<Self::Found>, Stop>;
    /// At a missed deadline: evidence, from the peers' own reports, that what is awaited
    /// cannot be observed at all (the outcome is then `unsupported`, not `timeout`).
    fn gap(&self, _session: &Session) -> Option<String> {
        None
    }
}

impl Session {
    /// Looks at `probe` (see the module doc) until its verdict is final or the deadline
    /// passes; the end becomes the step's result.
    pub(super) async fn wait_until<P: Probe>(
        &mut self,
        wait: Wait<'_>,
        mut probe: P,
    ) -> Result<P::Found, Stop> {
        if let Some(event) = wait.needs {
            self.require(wait.peer, event, wait.what)?;
        }
        let deadline = Instant::now() + wait.timeout;
        loop {
            let verdict = probe.look(self).await?;
            let passed = Instant::now() >= deadline;
            if let Some(end) = judge(verdict, wait.goal, passed, || probe.gap(self)) {
                return self.ended(&wait, end);
            }
            match wait.cadence {
                Cadence::EveryFrame => {
                    self.pump_once(deadline).await?;
                }
                Cadence::Poll => {
                    self.idle_until((Instant::now() + POLL).min(deadline))
                        .await?
                }
            }
        }
    }

    /// The step result of a wait's end, with the one wording of each outcome.
    fn ended<T>(&self, wait: &Wait<'_>, end: End<T>) -> Result<T, Stop> {
        let who = self.peers[wait.peer.0].label();
        let what = wait.what;
        match end {
            End::Met(found) => Ok(found),
            End::Fail(reason) => Err(Stop::new(Outcome::Fail, format!("{who}: {reason}"))),
            End::Unsupported(evidence) => Err(Stop::new(
                Outcome::Unsupported,
                format!("{who}: cannot {what}: {evidence}"),
            )),
            End::Timeout(status) => Err(Stop::new(
                Outcome::Timeout,
                format!(
                    "{who}: timed out after {} waiting to {what}{}",
                    human(wait.timeout),
                    if status.is_empty() {
                        String::new()
                    } else {
                        format!("; last seen: {status}")
                    }
                ),
            )),
        }
    }

    /// Processes incoming frames until `until` (events keep flowing while a step polls or
    /// holds).
    pub(super) async fn idle_until(&mut self, until: Instant) -> Result<(), Stop> {
        while self.pump_once(until).await? {}
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_gap() -> Option<String> {
        None
    }

    #[test]
    fn every_verdict_ends_the_same_way_for_every_expectation() {
        use End::*;
        use Goal::*;
        // Met passes at once; a contradiction fails at once, deadline or not.
        assert_eq!(judge(Verdict::Met(7), Reach, false, no_gap), Some(Met(7)));
        let c = || Verdict::<()>::Contradicted("closed".into());
        assert_eq!(
            judge(c(), Reach, false, no_gap),
            Some(Fail("closed".into()))
        );
        assert_eq!(judge(c(), Hold, true, no_gap), Some(Fail("closed".into())));
        // Pending goes on until the deadline, then times out with its status...
        let p = || Verdict::<()>::Pending("0/15 frames".into());
        assert_eq!(judge(p(), Reach, false, no_gap), None);
        assert_eq!(
            judge(p(), Reach, true, no_gap),
            Some(Timeout("0/15 frames".into()))
        );
        // ...unless the peer's own reports show it cannot be observed.
        let gap = || Some("no certificate stats".to_string());
        assert_eq!(
            judge(p(), Reach, true, gap),
            Some(Unsupported("no certificate stats".into()))
        );
        // The gap is only asked at the deadline.
        assert_eq!(
            judge(p(), Reach, false, || -> Option<String> {
                panic!("asked early")
            }),
            None
        );
        // A hold: met so far goes on; the deadline is the pass.
        assert_eq!(judge(Verdict::Met(()), Hold, false, no_gap), None);
        assert_eq!(judge(Verdict::Met(()), Hold, true, no_gap), Some(Met(())));
    }
}
