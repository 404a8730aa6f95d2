//! The step dispatcher: one exhaustive match per group of [`Action`] (commands, relay policy,
//! expectations, immediate checks); an expectation becomes a [`Probe`] for the one wait
//! (wait.rs). A step kind nobody wired up does not compile.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use interop_scenario::plan::{Action, Check, Expectation, PeerId, RelayStep, Step};

use super::channel_stats::ChannelStats;
use super::session::Session;
use super::wait::{Cadence, Probe, Verdict, Wait};
use super::{connectivity, expect, Stop};

impl Session {
    /// Runs one step: each group of actions has its own exhaustive match (a step kind nobody
    /// wired up does not compile).
    pub(super) async fn execute(&mut self, step: &Step) -> Result<(), Stop> {
        let peer = step.peer;
        let what = step.action.to_string();
        match &step.action {
            Action::Command(command) => self.run_command(peer, command, &what).await,
            Action::Relay(relay) => self.relay_step(peer, relay, &what).await,
            Action::Expect {
                what: expectation,
                timeout,
            } => self.expect(peer, expectation, *timeout, &what).await,
            Action::Check(check) => self.run_check(peer, check).await,
        }
    }

    /// What the harness does between the peers from now on.
    pub(super) async fn relay_step(
        &mut self,
        peer: PeerId,
        step: &RelayStep,
        what: &str,
    ) -> Result<(), Stop> {
        match step {
            RelayStep::Candidates(policy) => {
                self.conn.relay.set_policy(peer, policy.clone());
                Ok(())
            }
            RelayStep::ReleaseCandidates { reverse } => {
                self.release_candidates(peer, *reverse).await
            }
            RelayStep::DropPackets { name, every } => {
                self.drop_packets(peer, name, *every, what).await
            }
        }
    }

    /// An immediate check of what the run recorded.
    pub(super) async fn run_check(&mut self, peer: PeerId, check: &Check) -> Result<(), Stop> {
        match check {
            Check::NewIceCredentials => self.check_new_ice_credentials(peer),
            Check::HostCandidates { mdns } => self.check_host_candidates(peer, *mdns).await,
            Check::MaxMessageSize { at_least } => self.require_max_message_size(peer, *at_least),
            Check::StreamIds => self.check_stream_ids(peer),
        }
    }

    /// Waits for one expectation: each becomes a [`Probe`] for the one wait (wait.rs), so a
    /// missed deadline, a contradiction and a gap end the same way for all of them.
    pub(super) async fn expect(
        &mut self,
        peer: PeerId,
        expectation: &Expectation,
        timeout: Duration,
        what: &str,
    ) -> Result<(), Stop> {
        use expect::{connection_state, ice_connection_state};
        let on_events =
            |event| Wait::reach(peer, what, timeout, Cadence::EveryFrame).needing(event);
        let polled = Wait::reach(peer, what, timeout, Cadence::Poll);
        match expectation {
            Expectation::ConnectionState { state } => {
                let probe = OnEvents::new(peer, |events, _| {
                    expect::reached_state(events, connection_state, "connection state", state)
                });
                self.wait_until(on_events("connection_state_change"), probe)
                    .await
            }
            Expectation::IceConnectionState { state } => {
                let probe = OnEvents::new(peer, |events, _| {
                    let what = "ICE connection state";
                    expect::reached_state(events, ice_connection_state, what, state)
                });
                self.wait_until(on_events("ice_connection_state_change"), probe)
                    .await
            }
            Expectation::DataChannel { label, properties } => {
                let probe = OnEvents::new(peer, |events, _| {
                    expect::data_channel(events, label, properties)
                });
                self.wait_until(on_events("data_channel"), probe).await
            }
            Expectation::DataChannelStats { label, counts } => {
                self.wait_until(polled, ChannelStats::new(peer, label, *counts))
                    .await
            }
            Expectation::ChannelOpen { label } => {
                let probe = OnEvents::new(peer, |events, _| expect::channel_open(events, label));
                self.wait_until(on_events("data_channel_open"), probe).await
            }
            Expectation::Message {
                label,
                payload,
                any_order,
            } => {
                let want = expect::ExpectedMessage::of(payload);
                let probe = OnEvents::new(peer, |events, matched| {
                    let matched = matched.entry(label.clone()).or_default();
                    expect::message(events, matched, label, &want, *any_order)
                });
                self.wait_until(on_events("data_channel_message"), probe)
                    .await
            }
            Expectation::ChannelClosing { label } => {
                let probe = OnEvents::new(peer, |events, _| expect::channel_closing(events, label));
                self.wait_until(on_events("data_channel_closing"), probe)
                    .await
            }
            Expectation::ChannelClosed { label } => {
                let probe = OnEvents::new(peer, |events, _| expect::channel_closed(events, label));
                self.wait_until(on_events("data_channel_close"), probe)
                    .await
            }
            Expectation::SelectedCandidatePair { want } => {
                let probe = connectivity::SelectedPair { peer, want };
                self.wait_until(polled, probe).await
            }
            Expectation::DtlsRole { role } => {
                let probe = connectivity::DtlsRoleProbe { peer, want: role };
                self.wait_until(polled, probe).await
            }
            Expectation::Certificate { key } => {
                let probe = connectivity::CertificateKey::new(peer, key);
                self.wait_until(polled, probe).await
            }
            Expectation::BulkTransfer(bulk) => self.bulk_transfer(peer, bulk, timeout, what).await,
            Expectation::KeyFrameAfterRequest { name } => {
                self.request_key_frame(name, polled).await
            }
            Expectation::Media { name, expect } => self.expect_media(name, expect, polled).await,
            Expectation::NoMedia { name } => self.expect_no_media(name, polled.hold()).await,
            Expectation::CurrentDirection { name, direction } => {
                self.expect_current_direction(name, direction, polled).await
            }
            Expectation::Retransmissions { name } => {
                self.expect_retransmissions(name, polled).await
            }
        }
    }
}

/// Messages an `expect_message` already matched, per label (indices in arrival order).
type Matched = HashMap<String, BTreeSet<usize>>;

/// A probe of one peer's event log: `verdict` is asked after every frame.
struct OnEvents<F> {
    peer: PeerId,
    verdict: F,
}

impl<F: FnMut(&expect::EventLog, &mut Matched) -> Verdict> OnEvents<F> {
    fn new(peer: PeerId, verdict: F) -> Self {
        OnEvents { peer, verdict }
    }
}

impl<F: FnMut(&expect::EventLog, &mut Matched) -> Verdict> Probe for OnEvents<F> {
    type Found = ();

    async fn look(&mut self, session: &mut Session) -> Result<Verdict, Stop> {
        let p = &mut session.peers[self.peer.0];
        Ok((self.verdict)(&p.log.events, &mut p.matched_messages))
    }
}
