//! The immediate checks of what a run recorded so far (no waiting): the announced
//! a=max-message-size, the DTLS roles from the descriptions, SCTP stream id parity.

use std::collections::BTreeMap;

use interop_protocol::Event;
use interop_results::Outcome;
use interop_scenario::plan::PeerId;

use super::session::{PeerLog, Session};
use super::Stop;
use crate::sdp;

impl Session {
    /// `unsupported` when `peer` announces a smaller a=max-message-size than `at_least`.
    pub(super) fn require_max_message_size(&self, peer: PeerId, at_least: u64) -> Result<(), Stop> {
        let p = &self.peers[peer.0];
        let Some(description) = &p.last_local_description else {
            return Err(Stop::new(
                Outcome::Fail,
                format!(
                    "{}: has no local description to read a=max-message-size from",
                    p.label()
                ),
            ));
        };
        let Some(size) = sdp::max_message_size(&description.sdp) else {
            return Err(Stop::new(
                Outcome::Fail,
                format!(
                    "{}: its {} has no data channel m-section",
                    p.label(),
                    description.kind
                ),
            ));
        };
        if size >= at_least {
            return Ok(());
        }
        let announced = match sdp::announced_max_message_size(&description.sdp) {
            Some(n) => format!("announces a=max-message-size:{n}"),
            None => "announces no a=max-message-size (so 65536 applies)".to_string(),
        };
        Err(Stop::new(
            Outcome::Unsupported,
            format!(
                "{}: {announced} in its {}: it accepts no message of the {at_least} bytes \
                 this scenario sends",
                p.label(),
                description.kind
            ),
        ))
    }

    /// Whether `peer` is the DTLS client, from the offer and answer exchanged so far.
    pub(super) fn is_dtls_client(&self, peer: PeerId) -> Option<bool> {
        let (offerer, offer) = self.offer.as_ref()?;
        let (_, answer) = self.answer.as_ref()?;
        let offerer_is_client = sdp::offerer_is_dtls_client(offer, answer)?;
        Some(if peer == *offerer {
            offerer_is_client
        } else {
            !offerer_is_client
        })
    }

    /// RFC 8832 section 6: the DTLS client uses even stream ids, the server odd ones; ids
    /// are unique per association.
    pub(super) fn check_stream_ids(&self, peer: PeerId) -> Result<(), Stop> {
        let p = &self.peers[peer.0];
        let fail = |reason: String| Stop::new(Outcome::Fail, format!("{}: {reason}", p.label()));
        let Some(client) = self.is_dtls_client(peer) else {
            let reason = "cannot tell the DTLS roles: no offer and answer with a=setup";
            return Err(fail(reason.into()));
        };
        stream_id_problems(&p.log, client).map_err(&fail)?;
        let other = &self.peers[peer.other().0];
        match id_disagreements(&p.log, &other.log).as_slice() {
            [] => Ok(()),
            found => Err(fail(format!(
                "it and {} see different stream ids: {}",
                other.label(),
                found.join("; ")
            ))),
        }
    }
}

/// The stream id each channel had when it opened, by label (from `data_channel_open`).
fn opened_ids(log: &PeerLog) -> BTreeMap<&str, u16> {
    log.events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::DataChannelOpen {
                label,
                id: Some(id),
            } => Some((label.as_str(), *id)),
            _ => None,
        })
        .collect()
}

/// Channels both peers opened whose stream ids differ: one SCTP stream is one channel, so
/// both ends must report the same id. Pure.
fn id_disagreements(mine: &PeerLog, theirs: &PeerLog) -> Vec<String> {
    let theirs = opened_ids(theirs);
    opened_ids(mine)
        .into_iter()
        .filter_map(|(label, id)| {
            let other = *theirs.get(label)?;
            (other != id).then(|| format!("'{label}' is {id} here and {other} there"))
        })
        .collect()
}

/// RFC 8832 section 6 over what a peer logged: its own in-band channels' ids (from their
/// `open`) have the parity of its DTLS role (`client`: even), the remote's channels the
/// other parity, and no two channels share an id. Pure.
fn stream_id_problems(log: &PeerLog, client: bool) -> Result<(), String> {
    let p = log;
    let fail = Err::<(), String>;
    let role = if client { "client" } else { "server" };
    let parity = |even: bool| if even { "even" } else { "odd" };
    let mut problems = Vec::new();
    let mut ids: BTreeMap<u16, String> = BTreeMap::new();
    let mut seen = |id: u16, label: &str, problems: &mut Vec<String>| {
        if let Some(other) = ids.insert(id, label.to_string()) {
            problems.push(format!("'{label}' and '{other}' share stream id {id}"));
        }
    };
    let mut checked = 0;
    for (label, _, init) in &p.created {
        if init.negotiated == Some(true) {
            if let Some(id) = init.id {
                seen(id, label, &mut problems);
            }
            continue;
        }
        let opened = p.events.iter().find_map(|(_, e)| match e {
            Event::DataChannelOpen { label: l, id } if l == label => Some(*id),
            _ => None,
        });
        if let Some(Some(id)) = opened {
            checked += 1;
            seen(id, label, &mut problems);
            if (id % 2 == 0) != client {
                problems.push(format!(
                    "its own channel '{label}' has id {id}, but the DTLS {role} must use {} ids",
                    parity(client)
                ));
            }
        }
    }
    for (_, e) in &p.events {
        if let Event::DataChannel {
            label,
            id: Some(id),
            ..
        } = e
        {
            checked += 1;
            seen(*id, label, &mut problems);
            if (id % 2 == 0) == client {
                problems.push(format!(
            "the remote's channel '{label}' has id {id}, but the remote is the DTLS {} and must use {} ids",
            if client { "server" } else { "client" },
            parity(!client)
            ));
            }
        }
    }
    if checked == 0 {
        return fail("reported no stream id of any in-band channel".into());
    }
    if !problems.is_empty() {
        let more = if problems.len() > 5 {
            format!(" (and {} more)", problems.len() - 5)
        } else {
            String::new()
        };
        problems.truncate(5);
        return fail(format!(
            "stream ids break RFC 8832: {}{more}",
            problems.join("; ")
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use interop_protocol::DataChannelInit;

    use super::*;

    fn open(label: &str, id: u16) -> (f64, Event) {
        let label = label.into();
        (
            0.0,
            Event::DataChannelOpen {
                label,
                id: Some(id),
            },
        )
    }

    fn remote(label: &str, id: u16) -> (f64, Event) {
        let event = Event::DataChannel {
            label: label.into(),
            id: Some(id),
            ordered: true,
            protocol: String::new(),
            negotiated: false,
            max_retransmits: None,
            max_packet_life_time: None,
        };
        (0.0, event)
    }

    fn created(labels: &[&str]) -> Vec<(String, f64, DataChannelInit)> {
        labels
            .iter()
            .map(|l| (l.to_string(), 0.0, DataChannelInit::default()))
            .collect()
    }

    #[test]
    fn stream_ids_follow_the_dtls_role_and_are_unique() {
        let client = PeerLog {
            created: created(&["a", "b"]),
            events: vec![open("a", 0), open("b", 2), remote("r", 1)],
            ..PeerLog::default()
        };
        assert_eq!(stream_id_problems(&client, true), Ok(()));
        // The same log from a DTLS server breaks the rule both ways.
        let err = stream_id_problems(&client, false).unwrap_err();
        assert!(err.contains("its own channel 'a' has id 0"), "{err}");
        assert!(err.contains("the remote's channel 'r' has id 1"), "{err}");
        let shared = PeerLog {
            events: vec![remote("x", 1), remote("y", 1)],
            ..PeerLog::default()
        };
        let err = stream_id_problems(&shared, true).unwrap_err();
        assert!(err.contains("'y' and 'x' share stream id 1"), "{err}");
        let err = stream_id_problems(&PeerLog::default(), true).unwrap_err();
        assert!(err.contains("no stream id"), "{err}");
    }

    #[test]
    fn both_ends_of_a_channel_must_report_the_same_id() {
        let log = |events| PeerLog {
            events,
            ..PeerLog::default()
        };
        let alice = log(vec![open("a", 0), open("b", 2), open("only-here", 4)]);
        let agreeing = log(vec![open("a", 0), open("b", 2)]);
        assert!(id_disagreements(&alice, &agreeing).is_empty());
        let swapped = log(vec![open("a", 2), open("b", 2)]);
        assert_eq!(
            id_disagreements(&alice, &swapped),
            ["'a' is 0 here and 2 there"]
        );
    }
}
