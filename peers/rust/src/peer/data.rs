//! The data channel commands of a [`Connection`]: create and close channels, send, echo, and
//! the bulk transfers (sending in `bulk.rs`, the receiving digest in `bulk_receive.rs`).

use std::time::Instant;

use base64::Engine;
use bytes::BytesMut;
use interop_protocol::{DataChannelInit, Payload, PeerError, Reply};

use crate::bulk::{self, SendBulk};
use crate::bulk_receive::BulkReceive;
use crate::channels::Registered;
use crate::events;
use crate::w3c::{self, named_error, peer_error};

use super::{CommandResult, Connection};

impl Connection {
    pub(super) async fn close_data_channel(&self, label: &str) -> CommandResult {
        self.channel(label)?
            .channel
            .close()
            .await
            .map_err(peer_error)?;
        Ok(Reply::Done)
    }

    pub(super) fn echo(&self, label: &str) -> CommandResult {
        self.context.channels.set_echo(label);
        Ok(Reply::Done)
    }

    /// Starts a bulk send; its progress and result are events, not the reply.
    pub(super) fn send_bulk(
        &self,
        label: String,
        bytes: u64,
        chunk: u32,
        seed: u32,
        high_water: u64,
        low_water: u64,
    ) -> CommandResult {
        let started = Instant::now();
        let params = SendBulk::new(label, bytes, chunk, seed, high_water, low_water)?;
        let target = self.channel(&params.label)?;
        tokio::spawn(bulk::send(
            target,
            params,
            self.context.outbox.clone(),
            started,
        ));
        Ok(Reply::Done)
    }

    pub(super) fn receive_bulk(&self, label: String, bytes: u64) -> CommandResult {
        if bytes == 0 {
            return Err(named_error("TypeError", "receive_bulk needs bytes > 0"));
        }
        if self
            .context
            .channels
            .set_receive_bulk(&label, BulkReceive::new(bytes))
        {
            self.context.outbox.log(
                "warn",
                format!("receive_bulk on {label:?} replaced an unfinished one"),
            );
        }
        Ok(Reply::Done)
    }

    /// `createDataChannel`: every member of the init goes to the crate (`w3c::data_channel_init`).
    pub(super) async fn create_data_channel(
        &mut self,
        label: String,
        init: &DataChannelInit,
    ) -> CommandResult {
        let options = w3c::data_channel_init(init)?;
        // Known now only for a negotiated channel; an in-band channel's stream id depends on
        // the DTLS role (W3C: `id` is null until then).
        let id = options.negotiated;
        let channel = self
            .pc
            .create_data_channel(&label, Some(options))
            .await
            .map_err(peer_error)?;
        let signals = self.context.channels.register(&label, channel.clone());
        tokio::spawn(events::watch_channel(
            channel,
            label.clone(),
            self.context.clone(),
            signals,
        ));
        Ok(Reply::DataChannel { label, id })
    }

    pub(super) fn channel(&self, label: &str) -> Result<Registered, PeerError> {
        self.context.channels.get(label).ok_or_else(|| {
            // The name the browser peer page uses for the same case.
            named_error(
                "InvalidAccessError",
                format!("no data channel labelled {label:?}"),
            )
        })
    }

    /// `channel.send(data)`. The state and size checks are the crate's own
    /// (`RTCDataChannel::ensure_sendable` in `rtc`: `ErrDataChannelNotOpen` while connecting,
    /// `ErrDataChannelClosed` once the channel is gone, `ErrOutboundPacketTooLarge` above the
    /// negotiated max message size), reported under their W3C names; none is added here, so
    /// whatever the crate lets through is what the harness sees.
    pub(super) async fn send(&self, label: &str, data: Payload) -> CommandResult {
        let channel = self.channel(label)?.channel;
        match data {
            Payload::Text(text) => channel.send_text(&text).await,
            Payload::Binary(base64) => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(base64.as_bytes())
                    .map_err(|e| {
                        named_error(
                            "BadRequest",
                            format!("binary payload is not valid base64: {e}"),
                        )
                    })?;
                channel.send(BytesMut::from(&bytes[..])).await
            }
        }
        .map_err(peer_error)?;
        Ok(Reply::Done)
    }
}
