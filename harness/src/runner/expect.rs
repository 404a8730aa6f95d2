//! Verdicts of the expectations that are judged from a peer's event log alone: connection
//! states, data channel events and messages. Pure: each function reads the `(t, Event)` log a
//! peer reported so far and says whether the expectation is met, still pending, or can no
//! longer be met. The one wait (wait.rs) asks again after every frame until the verdict is
//! final or the deadline passes (`timeout`).

use std::collections::BTreeSet;

use interop_protocol::{Event, ReceivedMessage};
use interop_scenario::plan::{ChannelProperties, PayloadSpec};

pub use super::wait::Verdict;

/// A peer's events, as `(t on its clock, event)` in arrival order.
pub type EventLog = [(f64, Event)];

/// The `connectionState` an event reports, if it is a change of it.
pub fn connection_state(e: &Event) -> Option<&str> {
    match e {
        Event::ConnectionStateChange { state } => Some(state),
        _ => None,
    }
}

/// The `iceConnectionState` an event reports, if it is a change of it.
pub fn ice_connection_state(e: &Event) -> Option<&str> {
    match e {
        Event::IceConnectionStateChange { state } => Some(state),
        _ => None,
    }
}

/// `state` reached; contradicted once the state became `failed` or `closed` instead.
pub fn reached_state(
    events: &EventLog,
    pick: fn(&Event) -> Option<&str>,
    what: &str,
    state: &str,
) -> Verdict {
    let seen: Vec<&str> = events.iter().filter_map(|(_, e)| pick(e)).collect();
    // For the ICE connection state, `completed` implies `connected` was reached.
    if seen.contains(&state) || (state == "connected" && seen.contains(&"completed")) {
        return Verdict::Met(());
    }
    match seen.last() {
        Some(&last) if matches!(last, "failed" | "closed") && state != last => {
            Verdict::Contradicted(format!(
                "{what} became '{last}' while waiting for '{state}'"
            ))
        }
        Some(last) => Verdict::Pending(format!("{what} '{last}'")),
        None => Verdict::Pending(format!("no {what} reported")),
    }
}

/// A `datachannel` event for `label` with the properties `want` gives.
pub fn data_channel(events: &EventLog, label: &str, want: &ChannelProperties) -> Verdict {
    let found = events.iter().find_map(|(_, e)| match e {
        Event::DataChannel { label: l, .. } if l == label => Some(e),
        _ => None,
    });
    match found {
        None => Verdict::pending(),
        Some(e) => match channel_properties_match(e, want) {
            Ok(()) => Verdict::Met(()),
            Err(diff) => Verdict::Contradicted(format!("remote data channel '{label}' has {diff}")),
        },
    }
}

/// The channel's `open`; contradicted by its `close` first.
pub fn channel_open(events: &EventLog, label: &str) -> Verdict {
    for (_, e) in events {
        match e {
            Event::DataChannelOpen { label: l, .. } if l == label => return Verdict::Met(()),
            _ => {}
        }
    }
    let closed = events
        .iter()
        .any(|(_, e)| matches!(e, Event::DataChannelClose { label: l } if l == label));
    if closed {
        Verdict::Contradicted(format!("channel '{label}' closed before it opened"))
    } else {
        Verdict::pending()
    }
}

/// The channel's `closing` event.
pub fn channel_closing(events: &EventLog, label: &str) -> Verdict {
    Verdict::met_if(
        events
            .iter()
            .any(|(_, e)| matches!(e, Event::DataChannelClosing { label: l } if l == label)),
    )
}

/// The channel's `close` event.
pub fn channel_closed(events: &EventLog, label: &str) -> Verdict {
    Verdict::met_if(
        events
            .iter()
            .any(|(_, e)| matches!(e, Event::DataChannelClose { label: l } if l == label)),
    )
}

/// What a message must be: size, kind and SHA-256 of `payload`.
#[derive(Debug, Clone)]
pub struct ExpectedMessage {
    pub binary: bool,
    pub size: u64,
    pub sha256: String,
}

impl ExpectedMessage {
    pub fn of(payload: &PayloadSpec) -> Self {
        let (_, size, sha256) = super::materialize(payload);
        ExpectedMessage {
            binary: payload.is_binary(),
            size,
            sha256,
        }
    }

    fn matches(&self, m: &ReceivedMessage) -> bool {
        m.binary == self.binary && m.size == self.size && m.sha256 == self.sha256
    }
}

/// A message on `label` not matched before (`matched`: indices in arrival order per label):
/// the next one must be `want`, or with `any_order` any one may be. A match is marked in
/// `matched`; the next unmatched message being another one contradicts it.
pub fn message(
    events: &EventLog,
    matched: &mut BTreeSet<usize>,
    label: &str,
    want: &ExpectedMessage,
    any_order: bool,
) -> Verdict {
    let mut unmatched = events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::DataChannelMessage { label: l, message } if l == label => Some(message),
            _ => None,
        })
        .enumerate()
        .filter(|(i, _)| !matched.contains(i));
    if any_order {
        return match unmatched.find(|(_, m)| want.matches(m)) {
            Some((index, _)) => {
                matched.insert(index);
                Verdict::Met(())
            }
            None => Verdict::pending(),
        };
    }
    let Some((index, next)) = unmatched.next() else {
        return Verdict::pending();
    };
    matched.insert(index);
    if want.matches(next) {
        return Verdict::Met(());
    }
    let kind = |binary: bool| if binary { "binary" } else { "text" };
    Verdict::Contradicted(format!(
        "message {} on '{label}' differs: got {} of {} bytes (sha256 {}), expected {} of {} bytes (sha256 {})",
        index + 1,
        kind(next.binary),
        next.size,
        &next.sha256[..next.sha256.len().min(16)],
        kind(want.binary),
        want.size,
        &want.sha256[..want.sha256.len().min(16)],
    ))
}

/// Compares a `datachannel` event with the properties a scenario expects; `Err` lists the
/// differences.
pub fn channel_properties_match(event: &Event, want: &ChannelProperties) -> Result<(), String> {
    let Event::DataChannel {
        id,
        protocol,
        ordered,
        max_retransmits,
        max_packet_life_time,
        ..
    } = event
    else {
        return Err("no properties".into());
    };
    let mut diffs = Vec::new();
    if let Some(p) = &want.protocol {
        if p != protocol {
            diffs.push(format!("protocol {protocol:?} instead of {p:?}"));
        }
    }
    if let Some(o) = want.ordered {
        if o != *ordered {
            diffs.push(format!("ordered {ordered} instead of {o}"));
        }
    }
    let opt = |v: &Option<u16>| v.map_or("null".to_string(), |v| v.to_string());
    if want.max_retransmits.is_some() && want.max_retransmits != *max_retransmits {
        diffs.push(format!(
            "maxRetransmits {} instead of {}",
            opt(max_retransmits),
            opt(&want.max_retransmits)
        ));
    }
    if want.max_packet_life_time.is_some() && want.max_packet_life_time != *max_packet_life_time {
        diffs.push(format!(
            "maxPacketLifeTime {} instead of {}",
            opt(max_packet_life_time),
            opt(&want.max_packet_life_time)
        ));
    }
    if want.id.is_some() && want.id != *id {
        diffs.push(format!("id {} instead of {}", opt(id), opt(&want.id)));
    }
    if diffs.is_empty() {
        Ok(())
    } else {
        Err(diffs.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(s: &str) -> Event {
        Event::ConnectionStateChange { state: s.into() }
    }

    fn log(events: Vec<Event>) -> Vec<(f64, Event)> {
        events
            .into_iter()
            .enumerate()
            .map(|(i, e)| (i as f64 * 10.0, e))
            .collect()
    }

    fn received(payload: &PayloadSpec) -> Event {
        let want = ExpectedMessage::of(payload);
        Event::DataChannelMessage {
            label: "chat".into(),
            message: ReceivedMessage {
                binary: want.binary,
                size: want.size,
                sha256: want.sha256,
            },
        }
    }

    #[test]
    fn states_are_met_pending_or_contradicted() {
        let pick = connection_state;
        let events = log(vec![state("new"), state("connecting")]);
        assert_eq!(
            reached_state(&events, pick, "x", "connected"),
            Verdict::Pending("x 'connecting'".into())
        );
        assert_eq!(
            reached_state(&log(vec![]), pick, "x", "connected"),
            Verdict::Pending("no x reported".into())
        );
        let events = log(vec![state("connecting"), state("connected")]);
        assert_eq!(
            reached_state(&events, pick, "x", "connected"),
            Verdict::Met(())
        );
        let events = log(vec![state("connecting"), state("failed")]);
        assert_eq!(
            reached_state(&events, pick, "connection state", "connected"),
            Verdict::Contradicted(
                "connection state became 'failed' while waiting for 'connected'".into()
            )
        );
        // Waiting for `failed` is met by it, not contradicted.
        assert_eq!(
            reached_state(&events, pick, "x", "failed"),
            Verdict::Met(())
        );
        // `completed` implies `connected` (ICE connection state).
        let ice = log(vec![Event::IceConnectionStateChange {
            state: "completed".into(),
        }]);
        assert_eq!(
            reached_state(&ice, ice_connection_state, "x", "connected"),
            Verdict::Met(())
        );
    }

    #[test]
    fn a_channel_that_closes_before_opening_contradicts_open() {
        let close = Event::DataChannelClose {
            label: "chat".into(),
        };
        let open = Event::DataChannelOpen {
            label: "chat".into(),
            id: Some(1),
        };
        assert_eq!(channel_open(&log(vec![]), "chat"), Verdict::pending());
        assert_eq!(
            channel_open(&log(vec![open.clone()]), "chat"),
            Verdict::Met(())
        );
        assert!(matches!(
            channel_open(&log(vec![close.clone()]), "chat"),
            Verdict::Contradicted(_)
        ));
        assert_eq!(channel_closed(&log(vec![close]), "chat"), Verdict::Met(()));
        assert_eq!(
            channel_closing(&log(vec![open]), "chat"),
            Verdict::pending()
        );
    }

    #[test]
    fn messages_are_matched_in_order_or_in_any_order_once_each() {
        let a = PayloadSpec::Text("a".into());
        let b = PayloadSpec::Text("b".into());
        let events = log(vec![received(&a), received(&b)]);
        let mut matched = BTreeSet::new();
        let want_b = ExpectedMessage::of(&b);
        let want_a = ExpectedMessage::of(&a);
        // In order, `b` first is contradicted by `a` arriving first.
        assert!(matches!(
            message(&events, &mut matched.clone(), "chat", &want_b, false),
            Verdict::Contradicted(m) if m.starts_with("message 1 on 'chat' differs")
        ));
        // Any order: `b` matches the second, then `a` the first; a third `a` is pending.
        assert_eq!(
            message(&events, &mut matched, "chat", &want_b, true),
            Verdict::Met(())
        );
        assert_eq!(
            message(&events, &mut matched, "chat", &want_a, false),
            Verdict::Met(())
        );
        assert_eq!(
            message(&events, &mut matched, "chat", &want_a, true),
            Verdict::pending()
        );
        // Another label's messages do not count.
        assert_eq!(
            message(&events, &mut BTreeSet::new(), "other", &want_a, false),
            Verdict::pending()
        );
    }

    #[test]
    fn channel_properties_are_compared_only_where_given() {
        let event = Event::DataChannel {
            label: "x".into(),
            id: Some(1),
            protocol: "chat".into(),
            ordered: false,
            max_retransmits: Some(0),
            max_packet_life_time: None,
            negotiated: false,
        };
        assert!(channel_properties_match(&event, &ChannelProperties::default()).is_ok());
        let want = ChannelProperties {
            protocol: Some("chat".into()),
            ordered: Some(false),
            max_retransmits: Some(0),
            ..Default::default()
        };
        assert!(channel_properties_match(&event, &want).is_ok());
        assert_eq!(
            data_channel(&log(vec![event.clone()]), "x", &want),
            Verdict::Met(())
        );
        let wrong = ChannelProperties {
            max_retransmits: Some(1),
            max_packet_life_time: Some(100),
            ..want
        };
        let err = channel_properties_match(&event, &wrong).unwrap_err();
        assert_eq!(
            err,
            "maxRetransmits 0 instead of 1, maxPacketLifeTime null instead of 100"
        );
        assert!(matches!(
            data_channel(&log(vec![event]), "x", &wrong),
            Verdict::Contradicted(_)
        ));
    }
}
