//! The candidate relay policy: which ICE candidate goes to which peer, and when. Pure (no
//! I/O, no clock): the runner feeds it what happened (a candidate gathered, a description set
//! locally or applied remotely, a policy step) and sends what it returns.
//!
//! The harness is the signaling channel, and it keeps the order a real ordered channel keeps:
//! a candidate reaches the other peer only after the description it belongs to. A candidate
//! of a new ICE generation (an ICE restart's new ufrag) waits until the other peer has applied
//! the sender's description with that ufrag; a candidate of the generation the other peer
//! already has, or of an older one, goes at once (once it has any remote description at all).
//! Delivering a restarting peer's new candidates before its restart offer made the other peer
//! take them into its old ICE generation (issue 18: Chromium restarting against Firefox).
//!
//! On top of that, each sending peer's [`CandidatePolicy`] filters by family and transport,
//! and decides between trickle, the description only (`sdp`), and holding until
//! `release_candidates`.

use interop_protocol::IceCandidate;
use interop_scenario::plan::{CandidatePolicy, Delivery, PeerId};

use crate::sdp;

/// A candidate (`None`: the end of candidates) to hand to `to` with `addIceCandidate`.
#[derive(Debug, Clone, PartialEq)]
pub struct Deliver {
    pub to: PeerId,
    pub candidate: Option<IceCandidate>,
}

/// A candidate waiting for its receiver, with the ufrag of the generation it belongs to.
#[derive(Debug, Clone)]
struct Waiting {
    ufrag: Option<String>,
    candidate: Option<IceCandidate>,
}

/// One peer's side: what it sends (policy, held, gathered) and what it has received.
#[derive(Debug, Default)]
struct Side {
    policy: CandidatePolicy,
    /// Candidates held back by `delivery: held`, in gathering order.
    held: Vec<Waiting>,
    /// Every candidate this peer gathered (the attribute text), for the record.
    gathered: Vec<String>,
    /// How many of its candidates the policy's filters kept from the other peer.
    filtered_out: usize,
    /// The ufrags of this peer's local descriptions, oldest first (one per ICE generation).
    generations: Vec<String>,
    /// Whether this peer has a remote description, and the generation (index into the other
    /// peer's `generations`) of the one it applied last.
    remote: Option<Option<usize>>,
    /// Candidates from the other peer waiting for this peer's (right) remote description.
    inbox: Vec<Waiting>,
}

/// The relay state of one run.
#[derive(Debug, Default)]
pub struct CandidateRelay {
    sides: [Side; 2],
}

impl CandidateRelay {
    /// `peer` has a new peer connection: it has no remote description, and its ICE
    /// generations start again.
    pub fn peer_connection_created(&mut self, peer: PeerId) {
        let side = &mut self.sides[peer.0];
        side.remote = None;
        side.generations.clear();
    }

    /// How `peer`'s candidates are delivered from now on.
    pub fn set_policy(&mut self, peer: PeerId, policy: CandidatePolicy) {
        self.sides[peer.0].policy = policy;
    }

    /// The policy of `peer`'s candidates.
    pub fn policy(&self, peer: PeerId) -> &CandidatePolicy {
        &self.sides[peer.0].policy
    }

    /// Every candidate `peer` gathered so far, and how many the filters kept back.
    pub fn gathered(&self, peer: PeerId) -> (&[String], usize) {
        let side = &self.sides[peer.0];
        (&side.gathered, side.filtered_out)
    }

    /// `peer` applied a local description (its SDP as the peer reported it).
    pub fn local_description_set(&mut self, peer: PeerId, sdp: &str) {
        if let Some((ufrag, _)) = sdp::ice_credentials(sdp) {
            let generations = &mut self.sides[peer.0].generations;
            if generations.last() != Some(&ufrag) {
                generations.push(ufrag);
            }
        }
    }

    /// `peer` applied the other peer's description `sdp` as its remote description: the
    /// candidates that waited for it are delivered, in the order they were gathered.
    pub fn remote_description_set(&mut self, peer: PeerId, sdp: &str) -> Vec<Deliver> {
        let from = peer.other();
        let generation = sdp::ice_credentials(sdp)
            .and_then(|(ufrag, _)| self.generation_of(from, &ufrag))
            .or_else(|| self.sides[from.0].generations.len().checked_sub(1));
        self.sides[peer.0].remote = Some(generation);
        let inbox = std::mem::take(&mut self.sides[peer.0].inbox);
        let mut out = Vec::new();
        for waiting in inbox {
            self.route(peer, waiting, &mut out);
        }
        out
    }

    /// `from` gathered `candidate` (`None`: the end of candidates): what to deliver now.
    pub fn gathered_candidate(
        &mut self,
        from: PeerId,
        candidate: Option<IceCandidate>,
    ) -> Vec<Deliver> {
        let side = &mut self.sides[from.0];
        let policy = side.policy.clone();
        match &candidate {
            Some(c) => {
                side.gathered.push(c.candidate.clone());
                if !admits(&policy, &c.candidate) {
                    side.filtered_out += 1;
                    return Vec::new();
                }
            }
            None if !policy.end_of_candidates => return Vec::new(),
            None => {}
        }
        // The generation: the candidate's own ufrag, else the sender's latest local one.
        let ufrag = candidate
            .as_ref()
            .and_then(|c| c.username_fragment.clone())
            .or_else(|| side.generations.last().cloned());
        let waiting = Waiting { ufrag, candidate };
        let mut out = Vec::new();
        match policy.delivery {
            Delivery::Trickle => self.route(from.other(), waiting, &mut out),
            // In the description, fetched once gathering is complete.
            Delivery::Sdp => {}
            Delivery::Held => self.sides[from.0].held.push(waiting),
        }
        out
    }

    /// `release_candidates`: `peer`'s held candidates go out (in gathering order, or reversed
    /// with the end of candidates still last), and it trickles from now on. Returns the
    /// released candidates as delivered, and what to deliver now.
    pub fn release(
        &mut self,
        peer: PeerId,
        reverse: bool,
    ) -> (Vec<Option<IceCandidate>>, Vec<Deliver>) {
        let side = &mut self.sides[peer.0];
        let mut held = std::mem::take(&mut side.held);
        side.policy.delivery = Delivery::Trickle;
        if reverse {
            let end = held
                .iter()
                .position(|w| w.candidate.is_none())
                .map(|i| held.remove(i));
            held.reverse();
            held.extend(end);
        }
        let released = held.iter().map(|w| w.candidate.clone()).collect();
        let mut out = Vec::new();
        for waiting in held {
            self.route(peer.other(), waiting, &mut out);
        }
        (released, out)
    }

    /// Delivers `waiting` to `to` now if `to` has a remote description of its generation (or
    /// a later one), else keeps it in `to`'s inbox.
    fn route(&mut self, to: PeerId, waiting: Waiting, out: &mut Vec<Deliver>) {
        let from = to.other();
        let ready = match self.sides[to.0].remote {
            None => false,
            Some(applied) => match waiting.ufrag.as_deref() {
                None => true,
                // A ufrag of none of the sender's descriptions so far belongs to one the
                // harness has not seen yet: it waits for it.
                Some(ufrag) => match (self.generation_of(from, ufrag), applied) {
                    (Some(generation), Some(applied)) => generation <= applied,
                    (Some(_), None) => true,
                    (None, _) => false,
                },
            },
        };
        if ready {
            out.push(Deliver {
                to,
                candidate: waiting.candidate,
            });
        } else {
            self.sides[to.0].inbox.push(waiting);
        }
    }

    fn generation_of(&self, peer: PeerId, ufrag: &str) -> Option<usize> {
        self.sides[peer.0]
            .generations
            .iter()
            .rposition(|u| u == ufrag)
    }
}

/// Whether `policy` lets `candidate` through (family and transport filters).
pub fn admits(policy: &CandidatePolicy, candidate: &str) -> bool {
    let Some(info) = sdp::candidate_info(candidate) else {
        return policy.family.is_none() && policy.protocol.is_none();
    };
    policy.family.as_deref().is_none_or(|f| f == info.family())
        && policy
            .protocol
            .as_deref()
            .is_none_or(|p| p == info.protocol)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALICE: PeerId = PeerId::OFFERER;
    const BOB: PeerId = PeerId::ANSWERER;

    fn sdp(ufrag: &str) -> String {
        format!("v=0\r\na=ice-ufrag:{ufrag}\r\na=ice-pwd:pwd-{ufrag}\r\n")
    }

    fn candidate(port: u16, ufrag: Option<&str>) -> Option<IceCandidate> {
        Some(IceCandidate {
            candidate: format!("candidate:1 1 udp 1 127.0.0.1 {port} typ host"),
            sdp_mid: Some("0".into()),
            sdp_m_line_index: Some(0),
            username_fragment: ufrag.map(str::to_owned),
        })
    }

    fn ports(delivered: &[Deliver]) -> Vec<(usize, Option<String>)> {
        delivered
            .iter()
            .map(|d| {
                let port = d.candidate.as_ref().map(|c| {
                    c.candidate
                        .split_whitespace()
                        .nth(5)
                        .unwrap_or_default()
                        .to_owned()
                });
                (d.to.0, port)
            })
            .collect()
    }

    /// Both peers negotiated once (alice offered with ufrag a1, bob answered with b1).
    fn connected() -> CandidateRelay {
        let mut relay = CandidateRelay::default();
        relay.local_description_set(ALICE, &sdp("a1"));
        assert!(relay.remote_description_set(BOB, &sdp("a1")).is_empty());
        relay.local_description_set(BOB, &sdp("b1"));
        assert!(relay.remote_description_set(ALICE, &sdp("b1")).is_empty());
        relay
    }

    #[test]
    fn candidates_wait_for_the_first_remote_description() {
        let mut relay = CandidateRelay::default();
        relay.local_description_set(ALICE, &sdp("a1"));
        assert!(relay
            .gathered_candidate(ALICE, candidate(1, Some("a1")))
            .is_empty());
        assert!(relay
            .gathered_candidate(ALICE, candidate(2, None))
            .is_empty());
        let delivered = relay.remote_description_set(BOB, &sdp("a1"));
        assert_eq!(
            ports(&delivered),
            [(1, Some("1".into())), (1, Some("2".into()))]
        );
        // Now they trickle.
        let delivered = relay.gathered_candidate(ALICE, candidate(3, Some("a1")));
        assert_eq!(ports(&delivered), [(1, Some("3".into()))]);
    }

    #[test]
    fn a_restart_candidate_waits_for_the_restart_offer() {
        let mut relay = connected();
        // Alice restarts: her new offer (ufrag a2) is set locally; bob has not applied it.
        relay.local_description_set(ALICE, &sdp("a2"));
        assert!(relay
            .gathered_candidate(ALICE, candidate(5, Some("a2")))
            .is_empty());
        // Without its own ufrag, a candidate belongs to the sender's latest description.
        assert!(relay
            .gathered_candidate(ALICE, candidate(6, None))
            .is_empty());
        // A late candidate of the generation bob has still goes at once.
        let late = relay.gathered_candidate(ALICE, candidate(4, Some("a1")));
        assert_eq!(ports(&late), [(1, Some("4".into()))]);
        let delivered = relay.remote_description_set(BOB, &sdp("a2"));
        assert_eq!(
            ports(&delivered),
            [(1, Some("5".into())), (1, Some("6".into()))]
        );
    }

    #[test]
    fn a_candidate_whose_description_is_not_set_yet_waits_for_it() {
        // The peer's candidate event can reach the harness before the answer to its
        // set_local_description: an unknown ufrag belongs to a description still to come.
        let mut relay = connected();
        assert!(relay
            .gathered_candidate(ALICE, candidate(7, Some("a2")))
            .is_empty());
        relay.local_description_set(ALICE, &sdp("a2"));
        let delivered = relay.remote_description_set(BOB, &sdp("a2"));
        assert_eq!(ports(&delivered), [(1, Some("7".into()))]);
    }

    #[test]
    fn a_new_peer_connection_needs_a_remote_description_again() {
        let mut relay = connected();
        relay.peer_connection_created(BOB);
        assert!(relay
            .gathered_candidate(ALICE, candidate(8, Some("a1")))
            .is_empty());
        let delivered = relay.remote_description_set(BOB, &sdp("a1"));
        assert_eq!(ports(&delivered), [(1, Some("8".into()))]);
    }

    #[test]
    fn policies_filter_hold_and_release() {
        let mut relay = connected();
        relay.set_policy(
            ALICE,
            CandidatePolicy {
                delivery: Delivery::Held,
                family: Some("ipv4".into()),
                end_of_candidates: true,
                ..Default::default()
            },
        );
        let v6 = IceCandidate {
            candidate: "candidate:1 1 udp 1 ::1 9 typ host".into(),
            ..candidate(9, None).unwrap()
        };
        assert!(relay.gathered_candidate(ALICE, Some(v6)).is_empty());
        assert!(relay
            .gathered_candidate(ALICE, candidate(10, Some("a1")))
            .is_empty());
        assert!(relay
            .gathered_candidate(ALICE, candidate(11, Some("a1")))
            .is_empty());
        assert!(relay.gathered_candidate(ALICE, None).is_empty());
        assert_eq!(relay.gathered(ALICE).0.len(), 3);
        assert_eq!(relay.gathered(ALICE).1, 1);
        let (released, delivered) = relay.release(ALICE, true);
        assert_eq!(released.len(), 3);
        assert_eq!(
            ports(&delivered),
            [(1, Some("11".into())), (1, Some("10".into())), (1, None)]
        );
        assert_eq!(relay.policy(ALICE).delivery, Delivery::Trickle);
        // Without end_of_candidates, the null candidate is not relayed.
        relay.set_policy(ALICE, CandidatePolicy::default());
        assert!(relay.gathered_candidate(ALICE, None).is_empty());
    }

    #[test]
    fn sdp_delivery_trickles_nothing() {
        let mut relay = connected();
        relay.set_policy(
            BOB,
            CandidatePolicy {
                delivery: Delivery::Sdp,
                ..Default::default()
            },
        );
        assert!(relay
            .gathered_candidate(BOB, candidate(12, Some("b1")))
            .is_empty());
        assert!(relay.remote_description_set(ALICE, &sdp("b1")).is_empty());
    }

    #[test]
    fn family_and_transport_filters() {
        let policy = CandidatePolicy {
            family: Some("ipv6".into()),
            protocol: Some("udp".into()),
            ..Default::default()
        };
        assert!(admits(&policy, "candidate:1 1 udp 1 ::1 5 typ host"));
        assert!(!admits(&policy, "candidate:1 1 udp 1 127.0.0.1 5 typ host"));
        assert!(!admits(
            &policy,
            "candidate:1 1 tcp 1 ::1 9 typ host tcptype active"
        ));
        assert!(admits(
            &CandidatePolicy::default(),
            "candidate:1 1 tcp 1 x.local 9 typ host"
        ));
        // `mdns`: only `.local` names, which are neither IPv4 nor IPv6.
        let mdns = CandidatePolicy {
            family: Some("mdns".into()),
            ..Default::default()
        };
        assert!(admits(&mdns, "candidate:1 1 udp 1 x.local 5 typ host"));
        assert!(!admits(&mdns, "candidate:1 1 udp 1 127.0.0.1 5 typ host"));
        assert!(!admits(&mdns, "candidate:1 1 udp 1 ::1 5 typ host"));
        let ipv4 = CandidatePolicy {
            family: Some("ipv4".into()),
            ..Default::default()
        };
        assert!(!admits(&ipv4, "candidate:1 1 udp 1 x.local 5 typ host"));
    }
}
