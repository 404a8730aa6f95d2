// channels.js: data channels: watching a channel (watchChannel: its events, and every
// received message in arrival order, echoed when asked), bulk transfers (receive: a running
// digest per label; send: sendBulk with backpressure through bufferDrained), and
// requireChannel. The per-connection maps they use are in `session` (session.js).
"use strict";

const textEncoder = new TextEncoder();

function watchChannel(ch) {
  // Binary messages as ArrayBuffer (Firefox defaults to Blob, which can only be read
  // asynchronously). Set before the first message can be dispatched.
  ch.binaryType = "arraybuffer";
  session.channels.set(ch.label, ch);
  const label = ch.label;
  ch.onopen = () => emit({ type: "data_channel_open", label, id: nullable(ch.id) });
  ch.onclosing = () => emit({ type: "data_channel_closing", label });
  ch.onclose = () => {
    emit({ type: "data_channel_close", label });
    const bulk = session.bulkReceivers.get(label);
    if (bulk && session.channels.get(label) === ch) {
      session.bulkReceivers.delete(label);
      log(
        "error",
        `bulk receive on '${label}' incomplete: the channel closed after ${bulk.received} of ` +
          `${bulk.bytes} bytes (${bulk.messages} messages)`,
      );
    }
  };
  ch.onerror = (e) =>
    emit({
      type: "data_channel_error",
      label,
      message: (e.error && `${e.error.name}: ${e.error.message}`) || "error",
    });
  ch.onmessage = (e) => onChannelMessage(ch, label, e.data);
}

// One received message. Everything here is synchronous, so messages are handled strictly in
// arrival order: the bulk digest is updated in place, and a normal message's frame takes its
// place in the out queue now even though its digest is computed later.
function onChannelMessage(ch, label, data) {
  const t = now();
  const binary = typeof data !== "string";
  if (binary && !(data instanceof ArrayBuffer)) {
    // Cannot happen with binaryType "arraybuffer"; reading a Blob would be asynchronous and
    // could reorder messages, so say so instead of guessing.
    log("error", `message on '${label}' arrived as ${Object.prototype.toString.call(data)}, not ArrayBuffer`);
    return;
  }
  const bytes = binary ? new Uint8Array(data) : textEncoder.encode(data);
  const bulk = session.bulkReceivers.get(label);
  if (bulk) {
    bulkReceive(label, bulk, bytes, t);
  } else {
    emitAsync(
      t,
      sha256hex(bytes).then((sha256) => ({
        type: "data_channel_message",
        label,
        message: { binary, size: bytes.length, sha256 },
      })),
    );
  }
  if (session.echoLabels.has(label)) {
    // The same value back: a string stays a string, an ArrayBuffer goes as the same bytes.
    try {
      ch.send(data);
    } catch (e) {
      log("error", `echo on '${label}' failed to send a ${bytes.length}-byte message back: ${errorText(e)}`);
    }
  }
}

function bulkReceive(label, bulk, bytes, t) {
  if (bulk.messages === 0) bulk.firstT = t;
  bulk.lastT = t;
  bulk.messages += 1;
  bulk.received += bytes.length;
  bulk.hash.update(bytes);
  if (bulk.received >= bulk.bytes) finishBulkReceive(label, bulk);
}

// Reports a bulk receive that got all its bytes; later messages on the label are reported one
// by one again. Posted after every frame of earlier messages, so it follows them.
function finishBulkReceive(label, bulk) {
  session.bulkReceivers.delete(label);
  if (bulk.received > bulk.bytes) {
    log("warn", `bulk receive on '${label}': ${bulk.received} bytes arrived, ${bulk.bytes} expected`);
  }
  emit({
    type: "bulk_received",
    label,
    bytes: bulk.received,
    messages: bulk.messages,
    sha256: bulk.hash.hex(),
    first_t: bulk.firstT,
    last_t: bulk.lastT,
  });
}

// Sends a bulk transfer in the background (see `send_bulk`). Ends with bulk_sent or bulk_failed.
async function sendBulk(ch, cmd, t0) {
  const { label, bytes, chunk, high_water: highWater, low_water: lowWater } = cmd;
  const gen = new Pattern(cmd.seed);
  const hash = new Sha256();
  let sent = 0;
  let messages = 0;
  let maxBuffered = ch.bufferedAmount;
  let lastSend = t0;
  try {
    while (sent < bytes) {
      // After a wait, one chunk goes out whatever bufferedAmount is: with odd water marks
      // (low_water >= high_water, so the wait returns at once) the loop still progresses
      // instead of spinning on microtasks.
      if (ch.bufferedAmount >= highWater) await bufferDrained(ch, lowWater, highWater);
      const part = gen.next(Math.min(chunk, bytes - sent));
      // Throws as the browser decides (InvalidStateError once the channel is not open,
      // OperationError when its send queue is full...): reported as is.
      ch.send(part.buffer);
      lastSend = now();
      hash.update(part);
      sent += part.length;
      messages += 1;
      if (ch.bufferedAmount > maxBuffered) maxBuffered = ch.bufferedAmount;
    }
  } catch (e) {
    emit({ type: "bulk_failed", label, bytes_sent: sent, error: errorText(e) });
    return;
  }
  emit({
    type: "bulk_sent",
    label,
    bytes: sent,
    messages,
    sha256: hash.hex(),
    elapsed_ms: lastSend - t0,
    max_buffered_amount: maxBuffered,
  });
}

// How long a bulk sender waits for one `bufferedamountlow` (as the Rust peer): every wait has
// a timeout, and a stalled transfer ends as bulk_failed with the numbers that explain it.
const LOW_EVENT_TIMEOUT_MS = 60000;

// Resolves once `bufferedamountlow` fired with the threshold at `lowWater`; rejects if the
// channel stops being open first, or after LOW_EVENT_TIMEOUT_MS. pc.close() closes channels
// without a close event, so the state is also polled.
function bufferDrained(ch, lowWater, highWater) {
  return new Promise((resolve, reject) => {
    ch.bufferedAmountLowThreshold = lowWater;
    // The event fires only when bufferedAmount falls to the threshold; if it already is there
    // (low_water >= high_water) there is nothing to wait for.
    if (ch.bufferedAmount <= lowWater) {
      resolve();
      return;
    }
    const finish = (error) => {
      ch.removeEventListener("bufferedamountlow", onLow);
      ch.removeEventListener("close", check);
      clearInterval(timer);
      if (error) reject(error);
      else resolve();
    };
    const onLow = () => finish(null);
    const since = now();
    const check = () => {
      if (now() - since >= LOW_EVENT_TIMEOUT_MS) {
        finish(
          namedError(
            "TimeoutError",
            `no bufferedamountlow within ${LOW_EVENT_TIMEOUT_MS / 1000} s: buffered amount ` +
              `${ch.bufferedAmount} >= high water ${highWater}, low threshold ${lowWater}`,
          ),
        );
      } else if (ch.readyState !== "open") {
        finish(
          namedError(
            "InvalidStateError",
            `data channel '${ch.label}' is ${ch.readyState} (while waiting for bufferedamountlow ` +
              `with ${ch.bufferedAmount} bytes buffered)`,
          ),
        );
      }
    };
    ch.addEventListener("bufferedamountlow", onLow);
    ch.addEventListener("close", check);
    const timer = setInterval(check, 250);
  });
}

function requireChannel(label) {
  const ch = session.channels.get(label);
  if (!ch) throw namedError("InvalidAccessError", `no data channel labelled '${label}'`);
  return ch;
}
