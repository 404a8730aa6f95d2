//! The offer/answer commands of a [`Connection`]: create, set and read descriptions, rollback,
//! ICE restart and remote candidates, with W3C semantics. The crate applies only the exact
//! local description it created, so `unmunge_setup` maps a harness description that differs
//! in `a=setup` only back to it, or refuses it with the evidence (see `dtls_setup.rs`).

use interop_protocol::{IceCandidate, PeerError, Reply, SessionDescription};
use webrtc::peer_connection::{RTCSdpType, RTCSessionDescription};

use crate::dtls_setup;
use crate::w3c::{self, named_error, peer_error};

use super::{CommandResult, Connection};

impl Connection {
    pub(super) async fn create_offer(&mut self) -> CommandResult {
        let offer = self.pc.create_offer(None).await.map_err(peer_error)?;
        self.created(offer)
    }

    pub(super) async fn create_answer(&mut self) -> CommandResult {
        let answer = self.pc.create_answer(None).await.map_err(peer_error)?;
        let reply = Reply::Description {
            description: self.reported(&answer).await,
        };
        self.last_created = Some(answer);
        Ok(reply)
    }

    pub(super) async fn get_local_description(&self) -> CommandResult {
        match self.pc.local_description().await {
            Some(local) => Ok(Reply::Description {
                description: self.reported(&local).await,
            }),
            None => Err(named_error(
                "InvalidStateError",
                "there is no local description",
            )),
        }
    }

    pub(super) async fn rollback(&self) -> CommandResult {
        let rollback = RTCSessionDescription::rollback(None).map_err(peer_error)?;
        self.pc
            .set_local_description(rollback)
            .await
            .map_err(peer_error)?;
        Ok(Reply::Done)
    }

    pub(super) async fn restart_ice(&self) -> CommandResult {
        // The crate stages the restart; the next `create_offer` carries new credentials
        // and `set_local_description` applies it, gathering again on the same sockets
        // (`discard_local_candidates_during_ice_restart` is off).
        self.pc.restart_ice().await.map_err(peer_error)?;
        Ok(Reply::Done)
    }

    pub(super) async fn set_remote_description(
        &self,
        description: &SessionDescription,
    ) -> CommandResult {
        let description = w3c::to_rtc_description(description)?;
        self.pc
            .set_remote_description(description)
            .await
            .map_err(peer_error)?;
        Ok(Reply::Done)
    }

    /// A local description as reported to the harness: an answer's `a=setup` says the DTLS
    /// role the crate really takes (it writes `active` even when the offer said `active`; see
    /// `dtls_setup`). The crate itself keeps its own text: it refuses any other
    /// (`rtc-0.21.1/src/peer_connection/internal.rs:489`).
    pub(super) async fn reported(&self, local: &RTCSessionDescription) -> SessionDescription {
        let mut reported = w3c::from_rtc_description(local);
        if local.sdp_type == RTCSdpType::Answer {
            if let Some(remote) = self.pc.remote_description().await {
                if let Some(setup) = dtls_setup::explicit_answer_setup(&remote.sdp) {
                    reported.sdp = dtls_setup::with_setup(&reported.sdp, setup);
                }
            }
        }
        reported
    }

    /// What to apply for a `set_local_description(description)` from the harness. The crate
    /// applies only the exact text it created (`internal.rs:471` offers, `:489` answers), so a
    /// description that differs from the last created one in `a=setup` only is mapped back to
    /// it when the crate does what the munged `a=setup` says (see `dtls_setup`), and refused
    /// with the evidence when it cannot.
    pub(super) async fn unmunge_setup(
        &self,
        description: RTCSessionDescription,
    ) -> Result<RTCSessionDescription, PeerError> {
        let Some(created) = self.last_created.as_ref() else {
            return Ok(description);
        };
        let Some(setup) = dtls_setup::media_setup(&description.sdp) else {
            return Ok(description);
        };
        let created_setup = dtls_setup::media_setup(&created.sdp).unwrap_or_default();
        if description.sdp_type != created.sdp_type
            || description.sdp == created.sdp
            || dtls_setup::with_setup(&description.sdp, created_setup) != created.sdp
        {
            return Ok(description);
        }
        match description.sdp_type {
            // The offerer's role is the inverse of the answer's a=setup (transport/dtls/
            // mod.rs:158-164): an answerer that answers this offer as RFC 5763 says makes it so.
            RTCSdpType::Offer => {
                self.context.outbox.log(
                    "warn",
                    format!(
                        "local offer with a=setup:{setup}: the crate applies only its own text \
                         (a=setup:{created_setup}) and takes its DTLS role from the answer's \
                         a=setup, so a=setup:{setup} holds if the answer says the inverse"
                    ),
                );
                Ok(created.clone())
            }
            RTCSdpType::Answer => {
                let offer = self.pc.remote_description().await;
                let role = offer
                    .as_ref()
                    .map_or("active", |offer| dtls_setup::answer_setup(&offer.sdp));
                if setup == role {
                    return Ok(created.clone());
                }
                Err(named_error(
                    "NotSupportedError",
                    format!(
                        "webrtc {} (rtc {}) cannot honour a=setup:{setup} in a local answer: its \
                         DTLS role ({role}) was fixed when the remote offer (a=setup:{}) was \
                         applied (rtc src/peer_connection/mod.rs:1582 -> transport/dtls/\
                         mod.rs:158-179 derive_role reads only the remote a=setup, then the \
                         SettingEngine's answering_dtls_role, fixed when the peer connection is \
                         built), and set_local_description refuses any answer text but its own \
                         (internal.rs:489 ErrSDPDoesNotMatchAnswer)",
                        crate::WEBRTC_VERSION,
                        crate::RTC_VERSION,
                        offer
                            .as_ref()
                            .and_then(|o| dtls_setup::media_setup(&o.sdp))
                            .unwrap_or("none"),
                    ),
                ))
            }
            _ => Ok(description),
        }
    }

    pub(super) fn created(&mut self, description: RTCSessionDescription) -> CommandResult {
        let reply = Reply::Description {
            description: w3c::from_rtc_description(&description),
        };
        self.last_created = Some(description);
        Ok(reply)
    }

    pub(super) async fn set_local_description(
        &mut self,
        description: Option<&SessionDescription>,
    ) -> CommandResult {
        let description = match description {
            Some(description) => {
                self.unmunge_setup(w3c::to_rtc_description(description)?)
                    .await?
            }
            None => match self.last_created.clone() {
                Some(created) => created,
                // Nothing created yet: W3C's implicit description, an answer when a remote
                // offer is pending and an offer otherwise.
                None => {
                    let remote_offer = self
                        .pc
                        .pending_remote_description()
                        .await
                        .is_some_and(|d| d.sdp_type == RTCSdpType::Offer);
                    let created = if remote_offer {
                        self.pc.create_answer(None).await
                    } else {
                        self.pc.create_offer(None).await
                    };
                    created.map_err(peer_error)?
                }
            },
        };
        self.pc
            .set_local_description(description)
            .await
            .map_err(peer_error)?;
        Ok(match self.pc.local_description().await {
            Some(local) => Reply::Description {
                description: self.reported(&local).await,
            },
            // After a rollback there is no local description to report.
            None => Reply::Done,
        })
    }

    pub(super) async fn add_ice_candidate(
        &mut self,
        candidate: Option<&IceCandidate>,
    ) -> CommandResult {
        match candidate {
            // End-of-candidates (W3C `addIceCandidate(null)`, or an empty candidate string,
            // Firefox's form): a documented no-op. webrtc 0.21.1 has no remote end-of-candidates
            // API: `PeerConnection::add_ice_candidate` (webrtc-0.21.1/src/peer_connection/
            // mod.rs:1287-1310) forwards to `RTCPeerConnection::add_remote_candidate`
            // (rtc-0.21.1/src/peer_connection/mod.rs:1714-1729), which accepts an empty
            // candidate and does nothing with it (and fails without a remote description,
            // which W3C does not ask of a null candidate here); `rtc-ice` has no notion of the
            // remote side being done. ICE simply keeps checking the pairs it has.
            None => Ok(Reply::Done),
            Some(c) if c.candidate.trim().is_empty() => Ok(Reply::Done),
            Some(c) => {
                self.pc
                    .add_ice_candidate(w3c::to_rtc_candidate(c))
                    .await
                    .map_err(peer_error)?;
                Ok(Reply::Done)
            }
        }
    }
}
