//! `expect_data_channel_stats`: a data channel's message counters as the peer's getStats
//! reports them (W3C `RTCDataChannelStats`: `messagesSent`, `messagesReceived`). The probe
//! asks for the report; the verdict on it is pure.

use interop_scenario::plan::{MessageCounts, PeerId};
use serde_json::{json, Value};

use super::session::Session;
use super::wait::{Probe, Verdict};
use super::{role, Stop};

/// The counters `expect_data_channel_stats` waits for on one peer's channel `label`.
pub(super) struct ChannelStats<'a> {
    pub peer: PeerId,
    pub label: &'a str,
    pub want: MessageCounts,
    /// The stats types of the last report, for the gap at a missed deadline.
    last_types: Option<Vec<String>>,
}

impl<'a> ChannelStats<'a> {
    pub fn new(peer: PeerId, label: &'a str, want: MessageCounts) -> Self {
        ChannelStats {
            peer,
            label,
            want,
            last_types: None,
        }
    }
}

impl Probe for ChannelStats<'_> {
    type Found = ();

    async fn look(&mut self, session: &mut Session) -> Result<Verdict, Stop> {
        let report = session.stats_of(self.peer).await?;
        self.last_types = Some(stats_types(&report));
        let verdict = counters_verdict(&report, self.label, self.want);
        if let Some(entry) = channel_entry(&report, self.label) {
            session.conn.observed.insert(
                format!("{}.data_channel_stats.{}", role(self.peer), self.label),
                json!({
                    "messagesSent": entry["messagesSent"],
                    "messagesReceived": entry["messagesReceived"],
                }),
            );
        }
        Ok(verdict)
    }

    /// A peer whose getStats has no `data-channel` object at all cannot report the counters.
    fn gap(&self, _session: &Session) -> Option<String> {
        no_channel_stats(self.last_types.as_ref()?)
    }
}

/// The evidence that a report whose stats types are `types` has no `data-channel` stats. Pure.
fn no_channel_stats(types: &[String]) -> Option<String> {
    (!types.iter().any(|t| t == "data-channel")).then(|| {
        format!(
            "its getStats reports no data-channel stats (RTCDataChannelStats); types it \
             reports: {}",
            types.join(", ")
        )
    })
}

/// The distinct `type`s of a getStats report, sorted.
fn stats_types(report: &Value) -> Vec<String> {
    let mut types: Vec<String> = report
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["type"].as_str().map(str::to_owned))
        .collect();
    types.sort();
    types.dedup();
    types
}

/// The `data-channel` stats object of the channel `label`.
fn channel_entry<'r>(report: &'r Value, label: &str) -> Option<&'r Value> {
    report
        .as_array()?
        .iter()
        .find(|s| s["type"].as_str() == Some("data-channel") && s["label"].as_str() == Some(label))
}

/// Met when the channel's counters are exactly `want`; a counter above its value contradicts
/// it (more messages than the scenario sent or delivered); pending while one is below, or
/// while the channel has no stats. Pure.
fn counters_verdict(report: &Value, label: &str, want: MessageCounts) -> Verdict {
    let MessageCounts { sent, received } = want;
    let Some(entry) = channel_entry(report, label) else {
        return Verdict::Pending(format!("no data-channel stats for '{label}'"));
    };
    let counter = |key: &str| entry[key].as_u64();
    let (Some(got_sent), Some(got_received)) =
        (counter("messagesSent"), counter("messagesReceived"))
    else {
        return Verdict::Pending(format!(
            "the data-channel stats of '{label}' lack messagesSent or messagesReceived: {entry}"
        ));
    };
    let seen = format!("messagesSent {got_sent}, messagesReceived {got_received}");
    if got_sent > sent || got_received > received {
        return Verdict::Contradicted(format!(
            "{seen}: more than the {sent} sent and {received} received expected"
        ));
    }
    if (got_sent, got_received) == (sent, received) {
        return Verdict::Met(());
    }
    Verdict::Pending(seen)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(sent: Value, received: Value) -> Value {
        json!([
            {"type": "peer-connection", "id": "P", "timestamp": 1.7e12},
            {"type": "data-channel", "id": "D1", "timestamp": 1.7e12, "label": "other",
             "messagesSent": 99, "messagesReceived": 99},
            {"type": "data-channel", "id": "D2", "timestamp": 1.7e12, "label": "counted",
             "messagesSent": sent, "messagesReceived": received},
        ])
    }

    #[test]
    fn counters_are_met_exactly_pending_below_and_contradicted_above() {
        let want = MessageCounts {
            sent: 3,
            received: 2,
        };
        let judge = |s, r| counters_verdict(&report(s, r), "counted", want);
        assert_eq!(judge(json!(3), json!(2)), Verdict::Met(()));
        assert_eq!(
            judge(json!(3), json!(1)),
            Verdict::Pending("messagesSent 3, messagesReceived 1".into())
        );
        assert!(matches!(
            judge(json!(4), json!(2)),
            Verdict::Contradicted(r) if r.contains("messagesSent 4")
        ));
        assert!(matches!(
            judge(json!(3), json!(3)),
            Verdict::Contradicted(_)
        ));
        assert!(matches!(judge(json!(3), Value::Null), Verdict::Pending(r) if r.contains("lack")));
        assert!(matches!(
            counters_verdict(&report(json!(3), json!(2)), "absent", want),
            Verdict::Pending(r) if r.contains("no data-channel stats for 'absent'")
        ));
    }

    #[test]
    fn a_report_without_data_channel_stats_is_a_gap() {
        let types = stats_types(&json!([
            {"type": "transport", "id": "T"},
            {"type": "candidate-pair", "id": "C"},
            {"type": "transport", "id": "T2"},
        ]));
        assert_eq!(types, ["candidate-pair", "transport"]);
        let gap = no_channel_stats(&types).expect("a gap");
        assert!(
            gap.ends_with("types it reports: candidate-pair, transport"),
            "{gap}"
        );
        let types = stats_types(&report(json!(0), json!(0)));
        assert_eq!(no_channel_stats(&types), None);
    }
}
