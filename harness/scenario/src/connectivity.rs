//! Pass 2 for the connectivity and negotiation steps: candidate delivery (`candidates`,
//! `release_candidates`), ICE restart, rollback, and the checks of what the connection became
//! (`expect_selected_candidate_pair`, `expect_dtls_role`, `expect_certificate`,
//! `expect_host_candidates`).
//!
//! The harness is the signaling channel, so candidate delivery is a property of the harness,
//! set per sending peer: `candidates: { peer: alice, delivery: held }` holds back what alice
//! gathers until `release_candidates: { peer: alice }`.

use std::time::Duration;

use crate::check::{at, Checker};
use crate::plan::{
    Action, CandidatePolicy, Check, Delivery, Expectation, PairExpectation, PeerCommand, PeerId,
    RelayStep,
};
use crate::raw::{
    RawCandidates, RawExpectCertificate, RawExpectDtlsRole, RawExpectHostCandidates, RawExpectPair,
    RawPeerOnly, RawReleaseCandidates, SString,
};

pub const DELIVERIES: &[&str] = &["trickle", "sdp", "held"];
pub const FAMILIES: &[&str] = &["ipv4", "ipv6"];
/// What `candidates` can filter on: an address family, or `mdns` for host candidates named
/// by a `.local` name (RFC 8828), which carry no address of either family.
pub const CANDIDATE_FAMILIES: &[&str] = &["ipv4", "ipv6", "mdns"];
pub const PROTOCOLS: &[&str] = &["udp", "tcp"];
pub const CANDIDATE_TYPES: &[&str] = &["host", "srflx", "prflx", "relay"];
pub const RELAY_PROTOCOLS: &[&str] = &["udp", "tcp", "tls"];
pub const ORDERS: &[&str] = &["gathered", "reverse"];
pub const SETUPS: &[&str] = &["actpass", "active", "passive"];
pub const DTLS_ROLES: &[&str] = &["client", "server"];
pub const CERTIFICATE_KEYS: &[&str] = &["ecdsa", "rsa"];
pub const TURN_TRANSPORTS: &[&str] = &["udp", "tcp"];

/// The connectivity steps as written (see [`crate::validate`]'s one match over `RawStep`).
pub(crate) enum ConnectivityStep<'a> {
    Candidates(&'a RawCandidates),
    ReleaseCandidates(&'a RawReleaseCandidates),
    RestartIce(&'a RawPeerOnly),
    ExpectNewIceCredentials(&'a RawPeerOnly),
    Rollback(&'a RawPeerOnly),
    ExpectSelectedCandidatePair(&'a RawExpectPair),
    ExpectDtlsRole(&'a RawExpectDtlsRole),
    ExpectCertificate(&'a RawExpectCertificate),
    ExpectHostCandidates(&'a RawExpectHostCandidates),
}

impl Checker<'_> {
    /// Validates one connectivity step; `None` when it has errors (they are recorded).
    pub(crate) fn connectivity_step(
        &mut self,
        step: ConnectivityStep<'_>,
        default_timeout: Duration,
    ) -> Option<(Vec<PeerId>, Action)> {
        match step {
            ConnectivityStep::Candidates(args) => self.candidates_step(args),
            ConnectivityStep::ReleaseCandidates(args) => self.release_candidates_step(args),
            ConnectivityStep::RestartIce(args) => Some((
                self.peer(&args.peer),
                Action::Command(PeerCommand::RestartIce),
            )),
            ConnectivityStep::ExpectNewIceCredentials(args) => Some((
                self.peer(&args.peer),
                Action::Check(Check::NewIceCredentials),
            )),
            ConnectivityStep::Rollback(args) => Some((
                self.peer(&args.peer),
                Action::Command(PeerCommand::Rollback),
            )),
            ConnectivityStep::ExpectSelectedCandidatePair(args) => {
                self.selected_pair_step(args, default_timeout)
            }
            ConnectivityStep::ExpectDtlsRole(args) => self.dtls_role_step(args, default_timeout),
            ConnectivityStep::ExpectCertificate(args) => {
                self.certificate_step(args, default_timeout)
            }
            ConnectivityStep::ExpectHostCandidates(args) => Some((
                self.peer(&args.peer),
                Action::Check(Check::HostCandidates { mdns: args.mdns }),
            )),
        }
    }

    /// `candidates`: how the harness delivers what the peer gathers.
    fn candidates_step(&mut self, args: &RawCandidates) -> Option<(Vec<PeerId>, Action)> {
        let peers = self.peer(&args.peer);
        let mut ok = true;
        let delivery = match args.delivery.as_ref() {
            None => Delivery::Trickle,
            Some(d) => {
                ok &= self.one_of(d, "delivery", "candidate delivery", DELIVERIES);
                match d.value.as_str() {
                    "sdp" => Delivery::Sdp,
                    "held" => Delivery::Held,
                    _ => Delivery::Trickle,
                }
            }
        };
        let family = self.optional_one_of(
            args.family.as_ref(),
            "family",
            "address family",
            CANDIDATE_FAMILIES,
            &mut ok,
        );
        let protocol = self.optional_one_of(
            args.protocol.as_ref(),
            "protocol",
            "transport",
            PROTOCOLS,
            &mut ok,
        );
        let policy = CandidatePolicy {
            delivery,
            family,
            protocol,
            end_of_candidates: args.end_of_candidates.unwrap_or(false),
        };
        ok.then_some((peers, Action::Relay(RelayStep::Candidates(policy))))
    }

    /// `release_candidates`: delivers the held candidates, in `order`.
    fn release_candidates_step(
        &mut self,
        args: &RawReleaseCandidates,
    ) -> Option<(Vec<PeerId>, Action)> {
        let peers = self.peer(&args.peer);
        let mut ok = true;
        let order = self.optional_one_of(args.order.as_ref(), "order", "order", ORDERS, &mut ok);
        ok.then_some((
            peers,
            Action::Relay(RelayStep::ReleaseCandidates {
                reverse: order.as_deref() == Some("reverse"),
            }),
        ))
    }

    /// `expect_selected_candidate_pair`: `relay_protocol` only with a `relay` local candidate.
    fn selected_pair_step(
        &mut self,
        args: &RawExpectPair,
        default_timeout: Duration,
    ) -> Option<(Vec<PeerId>, Action)> {
        let peers = self.peer(&args.peer);
        let mut ok = true;
        let want = PairExpectation {
            local: self.optional_one_of(
                args.local.as_ref(),
                "local",
                "candidate type",
                CANDIDATE_TYPES,
                &mut ok,
            ),
            remote: self.optional_one_of(
                args.remote.as_ref(),
                "remote",
                "candidate type",
                CANDIDATE_TYPES,
                &mut ok,
            ),
            protocol: self.optional_one_of(
                args.protocol.as_ref(),
                "protocol",
                "transport",
                PROTOCOLS,
                &mut ok,
            ),
            family: self.optional_one_of(
                args.family.as_ref(),
                "family",
                "address family",
                FAMILIES,
                &mut ok,
            ),
            relay_protocol: self.optional_one_of(
                args.relay_protocol.as_ref(),
                "relay_protocol",
                "TURN transport",
                RELAY_PROTOCOLS,
                &mut ok,
            ),
        };
        if let (Some(rp), Some(local)) = (&args.relay_protocol, &want.local) {
            if local != "relay" {
                ok = false;
                self.error(
                    at(rp),
                    Some("relay_protocol"),
                    format!("`relay_protocol` applies to a `relay` local candidate, not `{local}`"),
                );
            }
        }
        let timeout = self.expectation_timeout(args.timeout.as_ref(), default_timeout);
        ok.then_some((
            peers,
            Action::Expect {
                what: Expectation::SelectedCandidatePair { want },
                timeout,
            },
        ))
    }

    fn dtls_role_step(
        &mut self,
        args: &RawExpectDtlsRole,
        default_timeout: Duration,
    ) -> Option<(Vec<PeerId>, Action)> {
        let peers = self.peer(&args.peer);
        let ok = self.one_of(&args.role, "role", "DTLS role", DTLS_ROLES);
        let timeout = self.expectation_timeout(args.timeout.as_ref(), default_timeout);
        ok.then(|| {
            (
                peers,
                Action::Expect {
                    what: Expectation::DtlsRole {
                        role: args.role.value.clone(),
                    },
                    timeout,
                },
            )
        })
    }

    fn certificate_step(
        &mut self,
        args: &RawExpectCertificate,
        default_timeout: Duration,
    ) -> Option<(Vec<PeerId>, Action)> {
        let peers = self.peer(&args.peer);
        let ok = self.one_of(&args.key, "key", "certificate key", CERTIFICATE_KEYS);
        let timeout = self.expectation_timeout(args.timeout.as_ref(), default_timeout);
        ok.then(|| {
            (
                peers,
                Action::Expect {
                    what: Expectation::Certificate {
                        key: args.key.value.clone(),
                    },
                    timeout,
                },
            )
        })
    }

    /// A `setup` value of `set_local_description`.
    pub(crate) fn setup(&mut self, value: Option<&SString>) -> Option<Option<String>> {
        let mut ok = true;
        let setup = self.optional_one_of(value, "setup", "DTLS setup", SETUPS, &mut ok);
        ok.then_some(setup)
    }

    /// An optional value from a fixed list; clears `ok` when it is not one of them.
    pub(crate) fn optional_one_of(
        &mut self,
        value: Option<&SString>,
        key: &str,
        what: &str,
        allowed: &[&str],
        ok: &mut bool,
    ) -> Option<String> {
        let value = value?;
        if self.one_of(value, key, what, allowed) {
            Some(value.value.clone())
        } else {
            *ok = false;
            None
        }
    }
}
