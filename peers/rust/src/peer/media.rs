//! The media and statistics commands of a [`Connection`]: `add_media` and the transceiver
//! commands (carried out by `media/`), the media report and W3C getStats (`stats.rs`).

use std::time::Instant;

use interop_protocol::{MediaKind, MediaSource, Reply, SimulcastLayer};
use webrtc::peer_connection::StatsSelector;

use crate::stats;

use super::{CommandResult, Connection};

impl Connection {
    pub(super) async fn get_stats(&self) -> CommandResult {
        Ok(Reply::Stats {
            report: self.stats().await,
        })
    }

    /// `getStats()` as a list of stats objects, each with the W3C `type`, `id`, `timestamp`
    /// and member names (the crate's stats dictionaries serialize that way; see `stats`).
    pub(super) async fn stats(&self) -> serde_json::Value {
        let report = self.pc.get_stats(Instant::now(), StatsSelector::None).await;
        stats::w3c_report(report.iter())
    }

    pub(super) async fn add_media(
        &mut self,
        name: String,
        kind: MediaKind,
        direction: &str,
        codecs: &[String],
        source: &MediaSource,
        simulcast: &[SimulcastLayer],
    ) -> CommandResult {
        self.media
            .add_media(
                &self.pc,
                &self.context.media(),
                name,
                kind,
                direction,
                codecs,
                source,
                simulcast,
            )
            .await?;
        Ok(Reply::Done)
    }

    pub(super) async fn set_direction(&mut self, name: &str, direction: &str) -> CommandResult {
        self.media.set_direction(name, direction).await?;
        Ok(Reply::Done)
    }

    pub(super) async fn replace_track(
        &mut self,
        name: &str,
        source: &MediaSource,
    ) -> CommandResult {
        self.media.replace_track(name, source).await?;
        Ok(Reply::Done)
    }

    pub(super) async fn remove_track(&mut self, name: &str) -> CommandResult {
        self.media.remove_track(&self.pc, name).await?;
        Ok(Reply::Done)
    }

    pub(super) async fn request_key_frame(&self, mid: &str) -> CommandResult {
        self.media
            .request_key_frame(&self.pc, &self.context.media(), mid)
            .await?;
        Ok(Reply::Done)
    }

    pub(super) async fn get_media_report(&self) -> CommandResult {
        Ok(Reply::Media {
            report: self.media.report(&self.pc, &self.context.media()).await,
        })
    }
}
