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

use base64::Engine;
use interop_protocol::{Command, Reply, SessionDescription};
use interop_results::Outcome;
use interop_scenario::plan::{Delivery, PairExpectation, PeerId};
use serde_json::{json, Value};
use tokio::time::{Duration, Instant};

use super::{role, Session, Stop};
use crate::sdp;
use crate::turn::TurnServer;

/// How often a stats condition is polled while waiting for it.
const POLL: Duration = Duration::from_millis(250);

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

/// The selected candidate pair in a W3C getStats report (a list of stats objects): the
/// transport's `selectedCandidatePairId`, else a pair flagged `selected` (Firefox), else the
/// nominated succeeded pair that carried the most bytes.
pub fn selected_pair(report: &Value) -> Option<Value> {
    let items = report.as_array()?;
    let by_id = |id: &str| items.iter().find(|s| s["id"].as_str() == Some(id));
    let of_type = |t: &'static str| items.iter().filter(move |s| s["type"].as_str() == Some(t));
    let pair = of_type("transport")
        .find_map(|t| t["selectedCandidatePairId"].as_str().and_then(by_id))
        .or_else(|| of_type("candidate-pair").find(|p| p["selected"].as_bool() == Some(true)))
        .or_else(|| {
            of_type("candidate-pair")
                .filter(|p| {
                    p["nominated"].as_bool() == Some(true)
                        && p["state"].as_str() == Some("succeeded")
                })
                .max_by_key(|p| {
                    p["bytesSent"].as_u64().unwrap_or(0) + p["bytesReceived"].as_u64().unwrap_or(0)
                })
        })?;
    let local = pair["localCandidateId"].as_str().and_then(by_id)?;
    // A peer-reflexive remote candidate may have no stats entry (webrtc 0.21.1): the pair is
    // still the selected one, its remote side reads `unreported`.
    let unreported = json!({ "candidateType": "unreported" });
    let remote = pair["remoteCandidateId"]
        .as_str()
        .and_then(by_id)
        .unwrap_or(&unreported);
    let address = |c: &Value| {
        c["address"]
            .as_str()
            .or(c["ip"].as_str())
            .unwrap_or_default()
            .to_owned()
    };
    let family = |a: &str| {
        if a.ends_with(".local") {
            "mdns"
        } else if a.contains(':') {
            "ipv6"
        } else {
            "ipv4"
        }
    };
    let local_address = address(local);
    let relay_protocol = local["relayProtocol"]
        .as_str()
        .filter(|p| matches!(*p, "udp" | "tcp" | "tls"));
    Some(json!({
        "local": local["candidateType"],
        "remote": remote["candidateType"],
        "protocol": local["protocol"].as_str().map(str::to_ascii_lowercase),
        "family": family(&local_address),
        "local_address": format!("{}:{}", local_address, local["port"]),
        "remote_address": format!("{}:{}", address(remote), remote["port"]),
        "relay_protocol": relay_protocol,
    }))
}

/// Where `pair` (from [`selected_pair`]) differs from `want`.
pub fn pair_mismatches(pair: &Value, want: &PairExpectation) -> Vec<String> {
    let checks = [
        ("local", &want.local),
        ("remote", &want.remote),
        ("protocol", &want.protocol),
        ("family", &want.family),
        ("relay_protocol", &want.relay_protocol),
    ];
    checks
        .iter()
        .filter_map(|(key, want)| {
            let want = want.as_deref()?;
            let got = pair[*key].as_str().unwrap_or("absent");
            (got != want).then(|| format!("{key} is {got}, not {want}"))
        })
        .collect()
}

/// The transport's `dtlsRole`, when reported and known.
pub fn dtls_role(report: &Value) -> Option<String> {
    report
        .as_array()?
        .iter()
        .filter(|s| s["type"].as_str() == Some("transport"))
        .find_map(|t| t["dtlsRole"].as_str())
        .filter(|r| matches!(*r, "client" | "server"))
        .map(str::to_owned)
}

/// The key type of the certificate with the transport's `which` id (`localCertificateId` /
/// `remoteCertificateId`).
pub fn certificate_key(report: &Value, which: &str) -> Option<String> {
    let items = report.as_array()?;
    let id = items
        .iter()
        .filter(|s| s["type"].as_str() == Some("transport"))
        .find_map(|t| t[which].as_str())?;
    let cert = items.iter().find(|s| s["id"].as_str() == Some(id))?;
    let encoded = cert["base64Certificate"].as_str()?;
    // rtc 0.21.1 writes the DER as hex; W3C (and the browsers) as base64.
    let is_hex = encoded.len() % 2 == 0 && encoded.bytes().all(|b| b.is_ascii_hexdigit());
    let der = if is_hex {
        hex::decode(encoded).ok()?
    } else {
        base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .ok()?
    };
    Some(der_key_type(&der).to_owned())
}

/// The public key algorithm of a DER certificate, by the OID of its SubjectPublicKeyInfo.
pub fn der_key_type(der: &[u8]) -> &'static str {
    const RSA: &[u8] = &[
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
    ];
    const EC: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
    const ED25519: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x70];
    let has = |oid: &[u8]| der.windows(oid.len()).any(|w| w == oid);
    if has(RSA) {
        "rsa"
    } else if has(EC) {
        "ecdsa"
    } else if has(ED25519) {
        "ed25519"
    } else {
        "unknown"
    }
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
        let deadline = Instant::now() + super::COMMAND_TIMEOUT;
        loop {
            let complete = self.peers[peer.0].events.iter().rev().any(|(_, e)| {
                matches!(e, interop_protocol::Event::IceGatheringStateChange { state } if state == "complete")
                    || matches!(e, interop_protocol::Event::IceCandidate { candidate: None })
            });
            if complete {
                return Ok(());
            }
            if !self.pump_once(deadline).await? {
                return Err(Stop::new(
                    Outcome::Timeout,
                    format!(
                        "{}: ICE gathering did not complete within {:?} (vanilla ICE needs every candidate in the description)",
                        self.peers[peer.0].label(),
                        super::COMMAND_TIMEOUT
                    ),
                ));
            }
        }
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

    async fn stats_of(&mut self, peer: PeerId) -> Result<Value, Stop> {
        let (_, reply) = self.command(peer, Command::GetStats, "get stats").await?;
        Ok(match reply {
            Reply::Stats { report } => report,
            _ => Value::Null,
        })
    }

    pub(super) async fn expect_selected_pair(
        &mut self,
        peer: PeerId,
        want: &PairExpectation,
        timeout: Duration,
    ) -> Result<(), Stop> {
        let deadline = Instant::now() + timeout;
        let who = self.peers[peer.0].label();
        let mut last = "no selected candidate pair in getStats".to_owned();
        loop {
            let report = self.stats_of(peer).await?;
            if let Some(pair) = selected_pair(&report) {
                self.conn
                    .observed
                    .insert(format!("{}.selected_pair", role(peer)), pair.clone());
                let mismatches = pair_mismatches(&pair, want);
                if mismatches.is_empty() {
                    return Ok(());
                }
                last = format!("selected pair {pair}: {}", mismatches.join(", "));
            }
            if !self.next_poll(deadline).await? {
                return Err(Stop::new(
                    Outcome::Fail,
                    format!("{who}: {last} (after {timeout:?})"),
                ));
            }
        }
    }

    /// Waits one poll interval, processing frames meanwhile; `false` when `deadline` leaves no
    /// room for another poll.
    async fn next_poll(&mut self, deadline: Instant) -> Result<bool, Stop> {
        if Instant::now() + POLL >= deadline {
            return Ok(false);
        }
        self.idle_until(Instant::now() + POLL).await?;
        Ok(true)
    }

    pub(super) async fn expect_dtls_role(
        &mut self,
        peer: PeerId,
        want: &str,
        timeout: Duration,
    ) -> Result<(), Stop> {
        let deadline = Instant::now() + timeout;
        let who = self.peers[peer.0].label();
        loop {
            let report = self.stats_of(peer).await?;
            let from_stats = dtls_role(&report);
            let from_wire = self
                .capture
                .as_ref()
                .and_then(|r| r.dtls_client())
                .map(|client| {
                    if client == peer.0 {
                        "client".to_owned()
                    } else {
                        "server".to_owned()
                    }
                });
            let seen = from_stats
                .clone()
                .map(|r| (r, "its transport stats (dtlsRole)"))
                .or(from_wire
                    .clone()
                    .map(|r| (r, "the wire (who sent the DTLS ClientHello)")));
            if let Some((got, source)) = seen {
                self.conn.observed.insert(
                    format!("{}.dtls_role_seen", role(peer)),
                    json!({ "role": got, "source": source, "stats": from_stats, "wire": from_wire }),
                );
                if got == want {
                    return Ok(());
                }
                return Err(Stop::new(
                    Outcome::Fail,
                    format!("{who}: DTLS role is {got}, not {want} (from {source})"),
                ));
            }
            if !self.next_poll(deadline).await? {
                return Err(Stop::new(
                    Outcome::Unsupported,
                    format!(
                        "{who}: the DTLS role cannot be observed: no dtlsRole in its transport stats and no ClientHello seen on the wire{}",
                        if self.capture.is_none() { " (capture is off)" } else { "" }
                    ),
                ));
            }
        }
    }

    pub(super) async fn expect_certificate(
        &mut self,
        peer: PeerId,
        want: &str,
        timeout: Duration,
    ) -> Result<(), Stop> {
        let deadline = Instant::now() + timeout;
        let who = self.peers[peer.0].label();
        loop {
            let own = self.stats_of(peer).await?;
            let other = self.stats_of(peer.other()).await?;
            let as_own = certificate_key(&own, "localCertificateId");
            let as_seen = certificate_key(&other, "remoteCertificateId");
            if as_own.is_some() || as_seen.is_some() {
                self.conn.observed.insert(
                    format!("{}.certificate", role(peer)),
                    json!({ "own_stats": as_own, "other_peer_stats": as_seen }),
                );
                for got in [&as_seen, &as_own].into_iter().flatten() {
                    if got != want {
                        return Err(Stop::new(
                            Outcome::Fail,
                            format!("{who}: presents a certificate with an {got} key, not {want} (certificate stats)"),
                        ));
                    }
                }
                return Ok(());
            }
            if !self.next_poll(deadline).await? {
                return Err(Stop::new(
                    Outcome::Unsupported,
                    format!(
                        "{who}: the certificate cannot be observed: neither peer reports it in certificate stats"
                    ),
                ));
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn stats() -> Value {
        json!([
            { "type": "transport", "id": "T", "selectedCandidatePairId": "P", "dtlsRole": "client",
              "localCertificateId": "C1", "remoteCertificateId": "C2" },
            { "type": "candidate-pair", "id": "P", "localCandidateId": "L", "remoteCandidateId": "R",
              "nominated": true, "state": "succeeded" },
            { "type": "local-candidate", "id": "L", "candidateType": "relay", "protocol": "udp",
              "address": "127.0.0.1", "port": 40001, "relayProtocol": "tcp" },
            { "type": "remote-candidate", "id": "R", "candidateType": "relay", "protocol": "udp",
              "address": "127.0.0.1", "port": 40002 },
            // A DER fragment with the rsaEncryption OID, as base64.
            { "type": "certificate", "id": "C1", "base64Certificate": "MA0GCSqGSIb3DQEBAQUA" },
            // The same kind of fragment with id-ecPublicKey, hex-encoded (rtc 0.21.1 does that).
            { "type": "certificate", "id": "C2", "base64Certificate": "301306072a8648ce3d0201" },
        ])
    }

    #[test]
    fn the_selected_pair_dtls_role_and_certificates_are_read_from_stats() {
        let report = stats();
        let pair = selected_pair(&report).unwrap();
        assert_eq!(pair["local"], "relay");
        assert_eq!(pair["relay_protocol"], "tcp");
        assert_eq!(pair["family"], "ipv4");
        let want = PairExpectation {
            local: Some("relay".into()),
            remote: Some("host".into()),
            ..Default::default()
        };
        assert_eq!(pair_mismatches(&pair, &want), ["remote is relay, not host"]);
        assert_eq!(dtls_role(&report).as_deref(), Some("client"));
        assert_eq!(
            certificate_key(&report, "localCertificateId").as_deref(),
            Some("rsa")
        );
        assert_eq!(
            certificate_key(&report, "remoteCertificateId").as_deref(),
            Some("ecdsa")
        );
    }

    #[test]
    fn firefox_style_pairs_are_found_without_transport_stats() {
        let report = json!([
            { "type": "candidate-pair", "id": "P1", "localCandidateId": "L", "remoteCandidateId": "R",
              "nominated": true, "state": "succeeded", "selected": true },
            { "type": "local-candidate", "id": "L", "candidateType": "host", "protocol": "tcp",
              "address": "::1", "port": 9 },
            { "type": "remote-candidate", "id": "R", "candidateType": "prflx", "protocol": "tcp",
              "address": "::1", "port": 5000 },
        ]);
        let pair = selected_pair(&report).unwrap();
        assert_eq!(
            (pair["local"].as_str(), pair["family"].as_str()),
            (Some("host"), Some("ipv6"))
        );
        assert_eq!(pair["protocol"], "tcp");
        assert_eq!(dtls_role(&report), None);
    }
}
