//! The command steps of a run: one exhaustive match from [`PeerCommand`] to the protocol
//! command(s) it sends, and what the harness records around each (descriptions it passes on
//! as the signaling channel, channels created, messages sent).

use interop_protocol::{Command, DataChannelInit, PeerConnectionConfig, Reply};
use interop_results::Outcome;
use interop_scenario::plan::{PayloadSpec, PeerCommand, PeerId, SdpMunge};

use super::session::{command_failed, Session};
use super::{materialize, role, Stop};
use crate::sdp;

impl Session {
    /// Runs one command step.
    pub(super) async fn run_command(
        &mut self,
        peer: PeerId,
        command: &PeerCommand,
        what: &str,
    ) -> Result<(), Stop> {
        match command {
            PeerCommand::CreatePeerConnection {
                configuration,
                turn,
            } => {
                self.create_peer_connection(peer, configuration, turn.as_deref(), what)
                    .await
            }
            PeerCommand::CreateDataChannel { label, init } => {
                self.create_data_channel(peer, label, init, what).await
            }
            PeerCommand::CreateOffer => {
                self.create_description(peer, Command::CreateOffer, what)
                    .await
            }
            PeerCommand::CreateAnswer => {
                self.create_description(peer, Command::CreateAnswer, what)
                    .await
            }
            PeerCommand::SetLocalDescription { setup } => {
                self.set_local_description(peer, setup.as_deref(), what)
                    .await
            }
            PeerCommand::SetRemoteDescription {
                munge,
                expect_error,
            } => {
                self.set_remote_description(peer, munge, *expect_error, what)
                    .await
            }
            PeerCommand::RestartIce => self.plain(peer, Command::RestartIce, what).await,
            PeerCommand::Rollback => {
                self.plain(peer, Command::Rollback, what).await?;
                self.peers[peer.0].last_local_description = None;
                Ok(())
            }
            PeerCommand::Send {
                label,
                payload,
                expect_error,
            } => {
                self.send_message(peer, label, payload, expect_error.as_deref(), what)
                    .await
            }
            PeerCommand::CloseDataChannel { label } => {
                let label = label.clone();
                self.plain(peer, Command::CloseDataChannel { label }, what)
                    .await
            }
            PeerCommand::Close => self.plain(peer, Command::Close, what).await,
            PeerCommand::GetStats => self.get_stats(peer, what).await,
            PeerCommand::Echo { label } => self.echo(peer, label, what).await,
            PeerCommand::AddMedia {
                name,
                kind,
                direction,
                codec,
                source,
                simulcast,
            } => {
                self.media.added(name, peer);
                let command = Command::AddMedia {
                    name: name.clone(),
                    kind: *kind,
                    direction: direction.clone(),
                    codecs: codec.iter().cloned().collect(),
                    source: source.clone(),
                    simulcast: simulcast.clone(),
                };
                self.plain(peer, command, what).await
            }
            PeerCommand::SetDirection { name, direction } => {
                let command = Command::SetDirection {
                    name: name.clone(),
                    direction: direction.clone(),
                };
                self.plain(peer, command, what).await
            }
            PeerCommand::ReplaceTrack { name, source } => {
                let command = Command::ReplaceTrack {
                    name: name.clone(),
                    source: source.clone(),
                };
                self.plain(peer, command, what).await
            }
            PeerCommand::RemoveTrack { name } => {
                let name = name.clone();
                self.plain(peer, Command::RemoveTrack { name }, what).await
            }
        }
    }

    /// `echo` on `label`, remembered for the round-trip timings.
    async fn echo(&mut self, peer: PeerId, label: &str, what: &str) -> Result<(), Stop> {
        let command = Command::Echo {
            label: label.to_string(),
        };
        self.plain(peer, command, what).await?;
        self.peers[peer.0].log.echoing.insert(label.to_string());
        Ok(())
    }

    /// A command whose reply carries nothing the harness keeps.
    async fn plain(&mut self, peer: PeerId, command: Command, what: &str) -> Result<(), Stop> {
        self.command(peer, command, what).await.map(|_| ())
    }

    async fn create_peer_connection(
        &mut self,
        peer: PeerId,
        configuration: &PeerConnectionConfig,
        turn: Option<&str>,
        what: &str,
    ) -> Result<(), Stop> {
        let mut configuration = configuration.clone();
        if let Some(transport) = turn {
            let server = self.turn_server(transport).await?;
            configuration.ice_servers.push(server);
        }
        let (t, _) = self
            .command(peer, Command::CreatePeerConnection { configuration }, what)
            .await?;
        let p = &mut self.peers[peer.0];
        p.log.pc_created_at = Some(t);
        p.last_local_description = None;
        self.conn.relay.peer_connection_created(peer);
        Ok(())
    }

    async fn create_data_channel(
        &mut self,
        peer: PeerId,
        label: &str,
        init: &DataChannelInit,
        what: &str,
    ) -> Result<(), Stop> {
        let command = Command::CreateDataChannel {
            label: label.to_owned(),
            init: init.clone(),
        };
        let (t, _) = self.command(peer, command, what).await?;
        self.peers[peer.0]
            .log
            .created
            .push((label.to_owned(), t, init.clone()));
        Ok(())
    }

    /// `create_offer` / `create_answer`: the description is kept for a later
    /// `set_local_description` with `setup`.
    async fn create_description(
        &mut self,
        peer: PeerId,
        command: Command,
        what: &str,
    ) -> Result<(), Stop> {
        let (_, reply) = self.command(peer, command, what).await?;
        if let Reply::Description { description } = reply {
            self.conn.last_created[peer.0] = Some(description);
        }
        Ok(())
    }

    async fn set_local_description(
        &mut self,
        peer: PeerId,
        setup: Option<&str>,
        what: &str,
    ) -> Result<(), Stop> {
        let description = match setup {
            None => None,
            Some(setup) => {
                let Some(mut created) = self.conn.last_created[peer.0].clone() else {
                    return Err(self.failure(peer, "no created description to change a=setup in"));
                };
                created.sdp = sdp::with_setup(&created.sdp, setup);
                Some(created)
            }
        };
        let (_, reply) = self
            .command(peer, Command::SetLocalDescription { description }, what)
            .await?;
        let Reply::Description { mut description } = reply else {
            return Err(self.failure(peer, "set local description did not return the description"));
        };
        // What the scenario asked this peer to apply is what the other peer gets, whatever
        // text the implementation reports back (the Rust peer applies its own offer text and
        // takes its role from the answer's a=setup).
        if let Some(setup) = setup {
            description.sdp = sdp::with_setup(&description.sdp, setup);
        }
        self.sdp_count += 1;
        let name = format!(
            "{}-{}-{}.sdp",
            self.sdp_count, self.peers[peer.0].name, description.kind
        );
        self.write_artefact(&name, &description.sdp);
        match description.kind.as_str() {
            "offer" => self.offer = Some((peer, description.sdp.clone())),
            "answer" => self.answer = Some((peer, description.sdp.clone())),
            _ => {}
        }
        self.conn
            .relay
            .local_description_set(peer, &description.sdp);
        if self.conn.first_credentials[peer.0].is_none() {
            self.conn.first_credentials[peer.0] = sdp::ice_credentials(&description.sdp);
        }
        self.peers[peer.0].last_local_description = Some(description);
        Ok(())
    }

    /// Passes the other peer's current local description to `peer` (as its candidate policy
    /// and `munge` shape it), then the candidates that waited for it.
    async fn set_remote_description(
        &mut self,
        peer: PeerId,
        munge: &SdpMunge,
        expect_error: bool,
        what: &str,
    ) -> Result<(), Stop> {
        let from = peer.other();
        let Some(description) = self.peers[from.0].last_local_description.clone() else {
            return Err(Stop::new(
                Outcome::Fail,
                format!(
                    "{} has no local description to pass on",
                    self.peers[from.0].label()
                ),
            ));
        };
        let mut description = self.outgoing_description(from, description).await?;
        if let Some(capture) = &self.capture {
            description.sdp =
                sdp::map_candidates(&description.sdp, |c| capture.rewrite_candidate(from.0, c));
        }
        if let Some(size) = munge.max_message_size {
            description.sdp = sdp::with_max_message_size(&description.sdp, size);
        }
        if munge.tamper_fingerprint {
            description.sdp = sdp::with_tampered_fingerprint(&description.sdp);
        }
        if let Some(name) = &munge.remove_attribute {
            description.sdp = sdp::without_attribute(&description.sdp, name);
        }
        if !munge.is_empty() {
            self.sdp_count += 1;
            let name = format!(
                "{}-{}-{}-as-given-to-{}.sdp",
                self.sdp_count, self.peers[from.0].name, description.kind, self.peers[peer.0].name
            );
            self.write_artefact(&name, &description.sdp);
        }
        let applied_sdp = description.sdp.clone();
        let command = Command::SetRemoteDescription { description };
        if expect_error {
            let who = self.peers[peer.0].label();
            return match self.command_result(peer, command, what).await?.1 {
                Ok(_) => Err(Stop::new(
                    Outcome::Fail,
                    format!("{who} accepted the description; it had to reject it"),
                )),
                Err(e) => {
                    self.conn.observed.insert(
                        format!("{}.rejection", role(peer)),
                        serde_json::json!({ "name": e.name, "message": e.message }),
                    );
                    Ok(())
                }
            };
        }
        self.command(peer, command, what).await?;
        let deliveries = self.conn.relay.remote_description_set(peer, &applied_sdp);
        self.deliver(deliveries);
        Ok(())
    }

    /// One message; with `expect_error`, the send must fail with that error name.
    async fn send_message(
        &mut self,
        peer: PeerId,
        label: &str,
        payload: &PayloadSpec,
        expect_error: Option<&str>,
        what: &str,
    ) -> Result<(), Stop> {
        let (data, _, sha256) = materialize(payload);
        let command = Command::Send {
            label: label.to_owned(),
            data,
        };
        let who = self.peers[peer.0].label();
        match (
            expect_error,
            self.command_result(peer, command, what).await?,
        ) {
            (None, (t, Ok(_))) => {
                self.peers[peer.0]
                    .log
                    .sent
                    .push((label.to_owned(), t, sha256));
                Ok(())
            }
            (None, (_, Err(e))) => Err(command_failed(&who, what, &e)),
            (Some(name), (_, Err(e))) if e.name == name => Ok(()),
            (Some(name), (_, Err(e))) => Err(Stop::new(
                Outcome::Fail,
                format!(
                    "{who}: {what}: failed with {}: {} instead of {name}",
                    e.name, e.message
                ),
            )),
            (Some(name), (_, Ok(_))) => Err(Stop::new(
                Outcome::Fail,
                format!("{who}: {what}: the send succeeded instead of throwing {name}"),
            )),
        }
    }

    /// `get_stats` as a step: the report becomes `stats-<peer>-<ms>.json`.
    async fn get_stats(&mut self, peer: PeerId, what: &str) -> Result<(), Stop> {
        let (_, reply) = self.command(peer, Command::GetStats, what).await?;
        if let Reply::Stats { report } = reply {
            let name = format!(
                "stats-{}-{}.json",
                self.peers[peer.0].name,
                self.elapsed_ms() as u64
            );
            self.write_artefact(
                &name,
                &serde_json::to_string_pretty(&report).unwrap_or_default(),
            );
        }
        Ok(())
    }

    /// A `fail` naming `peer`.
    pub(super) fn failure(&self, peer: PeerId, reason: &str) -> Stop {
        Stop::new(
            Outcome::Fail,
            format!("{}: {reason}", self.peers[peer.0].label()),
        )
    }
}
