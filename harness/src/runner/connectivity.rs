//! Connectivity and negotiation steps of a run: how the harness, as the signaling channel,
//! delivers each peer's ICE candidates (trickled, only in the SDP, held back and released
//! late or reversed, filtered by family or transport, with or without end-of-candidates),
//! ICE restart, rollback, the TURN server of a run, and the checks of what the connection
//! became: the selected candidate pair, the DTLS role and the certificate key, read from each
//! peer's own getStats (and the capture relay's view of the wire where stats are silent).
//!
//! Everything found goes into the run's `observed` map under `<role>.candidates`,
//! `<role>.selected_pair`, `<role>.dtls_role_seen`, `<role>.certificate`, `<role>.rejection`.

use std::collections::BTreeMap;

use interop_protocol::{Command, Event, Reply, SessionDescription};
use interop_results::Outcome;
use interop_scenario::plan::{Delivery, PairExpectation, PeerId};
use serde_json::{json, Value};

use super::session::{Session, COMMAND_TIMEOUT};
use super::stats::{
    certificate_key, dtls_role, has_certificate_stats, pair_mismatches, selected_pair,
};
use super::wait::{Cadence, Probe, Verdict, Wait};
use super::{role, Stop};
use crate::sdp;
use crate::turn::TurnServer;

/// What the connectivity steps keep for one run.
#[derive(Default)]
pub struct ConnState {
    /// Which candidate goes to which peer when (the pure relay policy).
    pub relay: super::relay::CandidateRelay,
    /// Per peer: the description its last create_offer / create_answer returned.
    pub last_created: [Option<SessionDescription>; 2],
    /// Per peer: ICE credentials of its first local description.
    pub first_credentials: [Option<(String, String)>; 2],
    /// The run's TURN server, started by the first `create_peer_connection` asking for it.
    pub turn: Option<TurnServer>,
    /// Findings for the run record, keyed `<role>.<what>`.
    pub observed: BTreeMap<String, Value>,
}

impl Session {
    /// The description `from` passes on, as its candidate policy shapes it: fetched after
    /// gathering completed for `sdp` delivery, without candidate lines for `held`, filtered by
    /// family and transport.
    pub(super) async fn outgoing_description(
        &mut self,
        from: PeerId,
        description: SessionDescription,
    ) -> Result<SessionDescription, Stop> {
        let policy = self.conn.relay.policy(from).clone();
        let mut description = description;
        if policy.delivery == Delivery::Sdp {
            self.await_gathering_complete(from).await?;
            let (_, reply) = self
                .command(from, Command::GetLocalDescription, "get local description")
                .await?;
            if let Reply::Description { description: d } = reply {
                description = d;
            }
        }
        let keep_candidates = policy.delivery != Delivery::Held;
        description.sdp = sdp::filter_candidates(
            &description.sdp,
            |c| keep_candidates && super::relay::admits(&policy, c),
            keep_candidates && policy.end_of_candidates,
        );
        Ok(description)
    }

    /// Waits (under the command timeout) until `peer` reports gathering `complete`.
    async fn await_gathering_complete(&mut self, peer: PeerId) -> Result<(), Stop> {
        let what = "complete ICE gathering (vanilla ICE needs every candidate in the description)";
        let wait = Wait::reach(peer, what, COMMAND_TIMEOUT, Cadence::EveryFrame);
        self.wait_until(wait, GatheringComplete(peer)).await
    }

    /// Starts the run's TURN server if needed and returns the ICE server entry for `transport`.
    pub(super) async fn turn_server(
        &mut self,
        transport: &str,
    ) -> Result<interop_protocol::IceServer, Stop> {
        if self.conn.turn.is_none() {
            let log = self.dir.join("turnserver.log");
            let server = TurnServer::start(&self.dir, &log)
                .await
                .map_err(|e| Stop::new(Outcome::Error, e))?;
            self.conn.turn = Some(server);
        }
        let server = self.conn.turn.as_ref().expect("started above");
        self.conn.observed.insert(
            "turn.server".into(),
            json!(format!("coturn on 127.0.0.1:{}", server.port)),
        );
        Ok(interop_protocol::IceServer {
            urls: vec![server.url(transport)],
            username: Some(server.username.clone()),
            credential: Some(server.password.clone()),
        })
    }

    /// `release_candidates`: after the peer's whole gathering (late means all of them arrive
    /// at once), its held candidates go out and it trickles from now on.
    pub(super) async fn release_candidates(
        &mut self,
        peer: PeerId,
        reverse: bool,
    ) -> Result<(), Stop> {
        self.await_gathering_complete(peer).await?;
        let (released, deliveries) = self.conn.relay.release(peer, reverse);
        self.conn.observed.insert(
            format!("{}.released_candidates", role(peer)),
            json!(released
                .iter()
                .map(|c| c
                    .as_ref()
                    .map_or("end-of-candidates".to_owned(), |c| c.candidate.clone()))
                .collect::<Vec<_>>()),
        );
        self.deliver(deliveries);
        Ok(())
    }

    /// `expect_new_ice_credentials`: the current local description's ufrag and pwd both
    /// differ from the first one's.
    pub(super) fn check_new_ice_credentials(&mut self, peer: PeerId) -> Result<(), Stop> {
        let who = self.peers[peer.0].label();
        let first = self.conn.first_credentials[peer.0].clone();
        let now = self.peers[peer.0]
            .last_local_description
            .as_ref()
            .and_then(|d| sdp::ice_credentials(&d.sdp));
        let (Some(first), Some(now)) = (first, now) else {
            return Err(Stop::new(
                Outcome::Fail,
                format!("{who}: no ICE credentials to compare (a local description before and after the restart is needed)"),
            ));
        };
        self.conn.observed.insert(
            format!("{}.ice_ufrag", role(peer)),
            json!({ "first": first.0, "now": now.0 }),
        );
        if first.0 == now.0 || first.1 == now.1 {
            return Err(Stop::new(
                Outcome::Fail,
                format!(
                    "{who}: the ICE credentials did not change (ufrag {} -> {}, pwd {})",
                    first.0,
                    now.0,
                    if first.1 == now.1 {
                        "unchanged"
                    } else {
                        "changed"
                    }
                ),
            ));
        }
        Ok(())
    }

    /// `expect_host_candidates`: once gathering is complete, mDNS host names are there
    /// (`mdns`) or absent.
    pub(super) async fn check_host_candidates(
        &mut self,
        peer: PeerId,
        mdns: bool,
    ) -> Result<(), Stop> {
        self.await_gathering_complete(peer).await?;
        let hosts: Vec<String> = self
            .conn
            .relay
            .gathered(peer)
            .0
            .iter()
            .filter_map(|c| sdp::candidate_info(c))
            .filter(|c| c.kind == "host")
            .map(|c| format!("{} {}", c.protocol, c.address))
            .collect();
        let named = hosts.iter().filter(|h| h.ends_with(".local")).count();
        if (named > 0) == mdns {
            return Ok(());
        }
        Err(Stop::new(
            Outcome::Fail,
            format!(
                "{}: {} (host candidates gathered: {})",
                self.peers[peer.0].label(),
                if mdns {
                    "no host candidate is an mDNS .local name"
                } else {
                    "mDNS .local host candidates although mDNS is off"
                },
                if hosts.is_empty() {
                    "none".to_owned()
                } else {
                    hosts.join(", ")
                }
            ),
        ))
    }

    /// The peer's getStats report (a JSON list of stats objects).
    pub(super) async fn stats_of(&mut self, peer: PeerId) -> Result<Value, Stop> {
        let (_, reply) = self.command(peer, Command::GetStats, "get stats").await?;
        Ok(match reply {
            Reply::Stats { report } => report,
            _ => Value::Null,
        })
    }

    /// Whether `peer` reported `connectionState` `connected` (for gaps: a connected peer
    /// whose reports still do not show something cannot report it).
    fn has_connected(&self, peer: PeerId) -> bool {
        self.peers[peer.0]
            .log
            .events
            .iter()
            .any(|(_, e)| super::expect::connection_state(e) == Some("connected"))
    }

    /// Findings of the connectivity steps for the run record: candidates gathered per peer by
    /// type, transport and family, and what the delivery policy filtered out.
    pub(super) fn connectivity_observed(&self) -> BTreeMap<String, Value> {
        let mut observed = self.conn.observed.clone();
        for i in 0..2 {
            let (gathered, filtered_out) = self.conn.relay.gathered(PeerId(i));
            if gathered.is_empty() {
                continue;
            }
            let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
            for c in gathered {
                if let Some(info) = sdp::candidate_info(c) {
                    *kinds
                        .entry(format!("{} {} {}", info.kind, info.protocol, info.family()))
                        .or_default() += 1;
                }
            }
            let mut value = json!({ "gathered": kinds });
            if filtered_out > 0 {
                value["not_delivered"] = json!(filtered_out);
            }
            observed.insert(format!("{}.candidates", role(PeerId(i))), value);
        }
        observed
    }
}

/// `peer` reported ICE gathering `complete` (or its end-of-candidates).
struct GatheringComplete(PeerId);

impl Probe for GatheringComplete {
    type Found = ();

    async fn look(&mut self, session: &mut Session) -> Result<Verdict, Stop> {
        let events = &session.peers[self.0 .0].log.events;
        Ok(Verdict::met_if(events.iter().rev().any(|(_, e)| {
            matches!(e, Event::IceGatheringStateChange { state } if state == "complete")
                || matches!(e, Event::IceCandidate { candidate: None })
        })))
    }
}

/// `expect_selected_candidate_pair`: the pair the peer's getStats selects matches `want`.
pub(super) struct SelectedPair<'a> {
    pub peer: PeerId,
    pub want: &'a PairExpectation,
}

impl Probe for SelectedPair<'_> {
    type Found = ();

    async fn look(&mut self, session: &mut Session) -> Result<Verdict, Stop> {
        let report = session.stats_of(self.peer).await?;
        let Some(pair) = selected_pair(&report) else {
            return Ok(Verdict::Pending(
                "no selected candidate pair in getStats".into(),
            ));
        };
        session
            .conn
            .observed
            .insert(format!("{}.selected_pair", role(self.peer)), pair.clone());
        let mismatches = pair_mismatches(&pair, self.want);
        if mismatches.is_empty() {
            return Ok(Verdict::Met(()));
        }
        Ok(Verdict::Pending(format!(
            "selected pair {pair}: {}",
            mismatches.join(", ")
        )))
    }
}

/// `expect_dtls_role`: the role from the peer's transport stats (`dtlsRole`), else from the
/// wire (who sent the ClientHello, when the capture is on).
pub(super) struct DtlsRoleProbe<'a> {
    pub peer: PeerId,
    pub want: &'a str,
}

impl Probe for DtlsRoleProbe<'_> {
    type Found = ();

    async fn look(&mut self, session: &mut Session) -> Result<Verdict, Stop> {
        let peer = self.peer;
        let report = session.stats_of(peer).await?;
        let from_stats = dtls_role(&report);
        let from_wire = session
            .capture
            .as_ref()
            .and_then(|r| r.dtls_client())
            .map(|client| if client == peer.0 { "client" } else { "server" }.to_owned());
        let seen = from_stats
            .clone()
            .map(|r| (r, "its transport stats (dtlsRole)"))
            .or(from_wire
                .clone()
                .map(|r| (r, "the wire (who sent the DTLS ClientHello)")));
        let Some((got, source)) = seen else {
            return Ok(Verdict::Pending(
                "no dtlsRole in its transport stats, no ClientHello on the wire".into(),
            ));
        };
        session.conn.observed.insert(
            format!("{}.dtls_role_seen", role(peer)),
            json!({ "role": got, "source": source, "stats": from_stats, "wire": from_wire }),
        );
        if got == self.want {
            return Ok(Verdict::Met(()));
        }
        Ok(Verdict::Contradicted(format!(
            "DTLS role is {got}, not {} (from {source})",
            self.want
        )))
    }

    fn gap(&self, session: &Session) -> Option<String> {
        session.has_connected(self.peer).then(|| {
            format!(
                "the DTLS role cannot be observed: connected, yet no dtlsRole in its transport \
                 stats and no ClientHello seen on the wire{}",
                if session.capture.is_none() {
                    " (capture is off)"
                } else {
                    ""
                }
            )
        })
    }
}

/// `expect_certificate`: the key type of the certificate the peer presents, from its own
/// certificate stats or the other peer's view of it.
pub(super) struct CertificateKey<'a> {
    peer: PeerId,
    want: &'a str,
    /// Whether either peer's last report had any `certificate` entry at all.
    any_certificate_stats: bool,
}

impl<'a> CertificateKey<'a> {
    pub fn new(peer: PeerId, want: &'a str) -> Self {
        CertificateKey {
            peer,
            want,
            any_certificate_stats: false,
        }
    }
}

impl Probe for CertificateKey<'_> {
    type Found = ();

    async fn look(&mut self, session: &mut Session) -> Result<Verdict, Stop> {
        let peer = self.peer;
        let own = session.stats_of(peer).await?;
        let other = session.stats_of(peer.other()).await?;
        self.any_certificate_stats = has_certificate_stats(&own) || has_certificate_stats(&other);
        let as_own = certificate_key(&own, "localCertificateId");
        let as_seen = certificate_key(&other, "remoteCertificateId");
        if as_own.is_none() && as_seen.is_none() {
            return Ok(Verdict::Pending(
                "no certificate in either peer's certificate stats".into(),
            ));
        }
        session.conn.observed.insert(
            format!("{}.certificate", role(peer)),
            json!({ "own_stats": as_own, "other_peer_stats": as_seen }),
        );
        for got in [&as_seen, &as_own].into_iter().flatten() {
            if got != self.want {
                return Ok(Verdict::Contradicted(format!(
                    "presents a certificate with an {got} key, not {} (certificate stats)",
                    self.want
                )));
            }
        }
        Ok(Verdict::Met(()))
    }

    fn gap(&self, session: &Session) -> Option<String> {
        (session.has_connected(self.peer) && !self.any_certificate_stats).then(|| {
            "the certificate cannot be observed: connected, yet neither peer reports it in \
             certificate stats (no `certificate` entry in either getStats report)"
                .to_owned()
        })
    }
}
