// The browser peer: drives a real RTCPeerConnection for the harness.
//
// Speaks the peer-control protocol of peers/protocol/src/lib.rs over a WebSocket to the harness
// that served this page (ws://<same host>/control?slot=..&token=..). Commands are handled one at
// a time, in order; every outgoing frame (responses and events) goes through one queue so that
// the harness sees them in the order the page observed them, even when a message digest is
// computed asynchronously. `t` is performance.now(): this page's own clock.
//
// The file has two parts. The first (Pattern, Sha256) is pure: no DOM, no globals of the page,
// so it can be loaded and checked outside a browser. The second is the page itself.
"use strict";

// ---------------------------------------------------------------------------------------------
// Pure helpers
// ---------------------------------------------------------------------------------------------

// The protocol's pattern stream (`pattern` / `Pattern` in the protocol crate): xorshift32 from
// 0x9E3779B9 ^ seed (1 if that is 0), one step per byte, the byte being the top 8 bits of the
// state. `x` is kept as an int32 between steps: `^` and `<<` give the same bits as on a uint32,
// and `>>>` reads it as unsigned, so the stream is bit-identical to the Rust one.
class Pattern {
  constructor(seed) {
    const x = (0x9e3779b9 ^ seed) >>> 0;
    this.x = x === 0 ? 1 : x;
  }

  // The next `len` bytes of the stream, as a new Uint8Array.
  next(len) {
    const out = new Uint8Array(len);
    let x = this.x;
    for (let i = 0; i < len; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      out[i] = x >>> 24;
    }
    this.x = x >>> 0;
    return out;
  }
}

function pattern(seed, len) {
  return new Pattern(seed).next(len);
}

// SHA-256 round constants (FIPS 180-4, 4.2.2), as int32.
const SHA256_K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

// Incremental SHA-256. crypto.subtle.digest only hashes one buffer in one go, and is
// asynchronous; bulk transfers need a running digest over many messages, updated synchronously
// in arrival order. Usage: `new Sha256()`, `update(uint8array)` any number of times, `hex()` once.
class Sha256 {
  constructor() {
    this.h = new Int32Array([
      0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
    ]);
    this.w = new Int32Array(64);
    // A partial block carried over between updates.
    this.block = new Uint8Array(64);
    this.blockLen = 0;
    // Total bytes hashed; a Number is exact far beyond any transfer size (2^53).
    this.length = 0;
    this.finished = false;
  }

  update(bytes) {
    if (this.finished) throw new Error("Sha256.update after hex()");
    const n = bytes.length;
    let pos = 0;
    this.length += n;
    if (this.blockLen > 0) {
      const take = Math.min(64 - this.blockLen, n);
      this.block.set(bytes.subarray(0, take), this.blockLen);
      this.blockLen += take;
      pos = take;
      if (this.blockLen < 64) return this;
      this.compress(this.block, 0);
      this.blockLen = 0;
    }
    // Whole blocks straight from the input, without copying.
    for (; pos + 64 <= n; pos += 64) this.compress(bytes, pos);
    if (pos < n) {
      this.block.set(bytes.subarray(pos), 0);
      this.blockLen = n - pos;
    }
    return this;
  }

  // Lowercase hex digest. Pads and finishes the hash: no update afterwards.
  hex() {
    if (!this.finished) {
      const bits = this.length * 8;
      const block = this.block;
      block[this.blockLen++] = 0x80;
      if (this.blockLen > 56) {
        block.fill(0, this.blockLen);
        this.compress(block, 0);
        this.blockLen = 0;
      }
      block.fill(0, this.blockLen);
      // The message length in bits, 64-bit big-endian.
      const hi = Math.floor(bits / 0x100000000);
      const lo = bits >>> 0;
      block[56] = hi >>> 24;
      block[57] = hi >>> 16;
      block[58] = hi >>> 8;
      block[59] = hi;
      block[60] = lo >>> 24;
      block[61] = lo >>> 16;
      block[62] = lo >>> 8;
      block[63] = lo;
      this.compress(block, 0);
      this.finished = true;
    }
    let out = "";
    for (let i = 0; i < 8; i++) out += (this.h[i] >>> 0).toString(16).padStart(8, "0");
    return out;
  }

  // One 64-byte block of `b` at `off` into the state. Int32 arithmetic throughout: sums of a
  // few int32s are exact doubles, and `| 0` wraps them modulo 2^32.
  compress(b, off) {
    const w = this.w;
    const k = SHA256_K;
    for (let i = 0; i < 16; i++, off += 4) {
      w[i] = (b[off] << 24) | (b[off + 1] << 16) | (b[off + 2] << 8) | b[off + 3];
    }
    for (let i = 16; i < 64; i++) {
      const x = w[i - 15];
      const y = w[i - 2];
      const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
      const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
      w[i] = (w[i - 16] + s0 + w[i - 7] + s1) | 0;
    }
    const h = this.h;
    let a = h[0];
    let bb = h[1];
    let c = h[2];
    let d = h[3];
    let e = h[4];
    let f = h[5];
    let g = h[6];
    let hh = h[7];
    for (let i = 0; i < 64; i++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const ch = (e & f) ^ (~e & g);
      const t1 = (hh + S1 + ch + k[i] + w[i]) | 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const maj = (a & bb) ^ (a & c) ^ (bb & c);
      hh = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = bb;
      bb = a;
      a = (t1 + S0 + maj) | 0;
    }
    h[0] = (h[0] + a) | 0;
    h[1] = (h[1] + bb) | 0;
    h[2] = (h[2] + c) | 0;
    h[3] = (h[3] + d) | 0;
    h[4] = (h[4] + e) | 0;
    h[5] = (h[5] + f) | 0;
    h[6] = (h[6] + g) | 0;
    h[7] = (h[7] + hh) | 0;
  }
}

// ---------------------------------------------------------------------------------------------
// The page
// ---------------------------------------------------------------------------------------------

const params = new URLSearchParams(location.search);
const implementation = params.get("impl") || "browser";
const PROTOCOL_VERSION = 1;
const versionMatch = navigator.userAgent.match(/(?:Chrome|Chromium|Firefox)\/([0-9.]+)/);
const version = versionMatch ? versionMatch[1] : "unknown";

let ws = null;
let pc = null;
let lastCreated = null;
const channels = new Map();
// Labels whose received messages are sent back (`echo`); kept for channels that do not exist yet.
const echoLabels = new Set();
// Label -> running bulk receive (`receive_bulk`), until its byte count arrived.
const bulkReceivers = new Map();
let outQueue = Promise.resolve();
let commandQueue = Promise.resolve();
const textEncoder = new TextEncoder();

const now = () => performance.now();

function status(text) {
  const el = document.getElementById("status");
  if (el) el.textContent = text;
}

// `name: message` of a thrown value, as the browser made it.
function errorName(e) {
  return (e && typeof e === "object" && typeof e.name === "string" && e.name) || "Error";
}
function errorMessage(e) {
  return e && typeof e === "object" && "message" in e ? String(e.message) : String(e);
}
function errorText(e) {
  return `${errorName(e)}: ${errorMessage(e)}`;
}

function namedError(name, message) {
  const e = new Error(message);
  e.name = name;
  return e;
}

// Queue a frame; `frame` may be a promise. Frames leave strictly in the order post() was
// called, whatever order their promises settle in. A frame whose promise fails is replaced by
// a log event saying so, and the queue goes on. Frames while the WebSocket is not open (before
// it connected, after the harness left) have nobody to go to and are dropped.
function post(frame) {
  outQueue = outQueue.then(async () => {
    let value;
    try {
      value = await frame;
    } catch (e) {
      value = {
        kind: "event",
        t: now(),
        event: { type: "log", level: "error", message: `a frame was lost: ${errorText(e)}` },
      };
    }
    if (ws && ws.readyState === WebSocket.OPEN) {
      try {
        ws.send(JSON.stringify(value));
      } catch (e) {
        console.error("sending a frame to the harness failed", e);
      }
    }
  });
}

function emit(event) {
  post({ kind: "event", t: now(), event });
}

function emitAsync(t, eventPromise) {
  post(eventPromise.then((event) => ({ kind: "event", t, event })));
}

function log(level, message) {
  emit({ type: "log", level, message });
}

async function sha256hex(bytes) {
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

function base64ToBytes(b64) {
  let bin;
  try {
    bin = atob(b64);
  } catch (e) {
    throw namedError("BadRequest", `binary payload is not valid base64: ${errorText(e)}`);
  }
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function candidateInit(c) {
  // An empty candidate string is an end-of-candidates indication.
  if (!c || c.candidate === "") return null;
  const j = c.toJSON();
  const init = { candidate: j.candidate };
  if (j.sdpMid != null) init.sdpMid = j.sdpMid;
  if (j.sdpMLineIndex != null) init.sdpMLineIndex = j.sdpMLineIndex;
  if (j.usernameFragment != null) init.usernameFragment = j.usernameFragment;
  return init;
}

function description(d) {
  return d ? { type: d.type, sdp: d.sdp } : null;
}

// A nullable attribute as JSON: `undefined` (an attribute the browser lacks) becomes null too.
function nullable(v) {
  return v == null ? null : v;
}

function watchChannel(ch) {
  // Binary messages as ArrayBuffer (Firefox defaults to Blob, which can only be read
  // asynchronously). Set before the first message can be dispatched.
  ch.binaryType = "arraybuffer";
  channels.set(ch.label, ch);
  const label = ch.label;
  ch.onopen = () => emit({ type: "data_channel_open", label, id: nullable(ch.id) });
  ch.onclosing = () => emit({ type: "data_channel_closing", label });
  ch.onclose = () => {
    emit({ type: "data_channel_close", label });
    const bulk = bulkReceivers.get(label);
    if (bulk && channels.get(label) === ch) {
      bulkReceivers.delete(label);
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
  const bulk = bulkReceivers.get(label);
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
  if (echoLabels.has(label)) {
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
  bulkReceivers.delete(label);
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

function requirePc() {
  if (!pc) throw namedError("InvalidStateError", "no peer connection: send create_peer_connection first");
  return pc;
}

function requireChannel(label) {
  const ch = channels.get(label);
  if (!ch) throw namedError("InvalidAccessError", `no data channel labelled '${label}'`);
  return ch;
}

// Checks of request fields the page relies on (the harness sends well-formed requests; this
// turns a malformed one into a BadRequest response instead of a confusing failure later).
function requireLabel(cmd) {
  if (typeof cmd.label !== "string") throw namedError("BadRequest", `${cmd.type}: 'label' must be a string`);
  return cmd.label;
}
function requireCount(cmd, field) {
  const v = cmd[field];
  if (!Number.isSafeInteger(v) || v < 0) {
    throw namedError("BadRequest", `${cmd.type}: '${field}' must be a non-negative integer, got ${JSON.stringify(v)}`);
  }
  return v;
}
// A well-formed value the command cannot work with: a TypeError, as for a value a browser's
// WebIDL conversion would reject (the Rust peer does the same).
function requireValue(ok, message) {
  if (!ok) throw new TypeError(message);
}

// The page's peer connection and everything tied to it go away together.
function forgetPeerConnection() {
  if (pc) pc.close();
  pc = null;
  channels.clear();
  echoLabels.clear();
  bulkReceivers.clear();
}

function rtcConfiguration(c) {
  const cfg = {};
  if (c.ice_servers) cfg.iceServers = c.ice_servers;
  if (c.ice_transport_policy) cfg.iceTransportPolicy = c.ice_transport_policy;
  if (c.bundle_policy) cfg.bundlePolicy = c.bundle_policy;
  return cfg;
}

const handlers = {
  async create_peer_connection(cmd) {
    // Echo and bulk settings given before the first peer connection apply to it; those of a
    // previous one do not carry over.
    if (pc) forgetPeerConnection();
    channels.clear();
    pc = new RTCPeerConnection(rtcConfiguration(cmd.configuration || {}));
    const p = pc;
    p.onicecandidate = (e) => emit({ type: "ice_candidate", candidate: candidateInit(e.candidate) });
    p.onicegatheringstatechange = () =>
      emit({ type: "ice_gathering_state_change", state: p.iceGatheringState });
    p.oniceconnectionstatechange = () =>
      emit({ type: "ice_connection_state_change", state: p.iceConnectionState });
    p.onconnectionstatechange = () =>
      emit({ type: "connection_state_change", state: p.connectionState });
    p.onsignalingstatechange = () =>
      emit({ type: "signaling_state_change", state: p.signalingState });
    p.ondatachannel = (e) => {
      const ch = e.channel;
      emit({
        type: "data_channel",
        label: ch.label,
        id: nullable(ch.id),
        protocol: ch.protocol,
        ordered: ch.ordered,
        max_retransmits: nullable(ch.maxRetransmits),
        max_packet_life_time: nullable(ch.maxPacketLifeTime),
        negotiated: ch.negotiated,
      });
      watchChannel(ch);
    };
    return { type: "done" };
  },
  async create_data_channel(cmd) {
    const init = {};
    const i = cmd.init || {};
    if (i.ordered != null) init.ordered = i.ordered;
    if (i.max_retransmits != null) init.maxRetransmits = i.max_retransmits;
    if (i.max_packet_life_time != null) init.maxPacketLifeTime = i.max_packet_life_time;
    if (i.protocol != null) init.protocol = i.protocol;
    if (i.negotiated != null) init.negotiated = i.negotiated;
    if (i.id != null) init.id = i.id;
    const ch = requirePc().createDataChannel(cmd.label, init);
    watchChannel(ch);
    return { type: "data_channel", label: ch.label, id: nullable(ch.id) };
  },
  async create_offer() {
    lastCreated = await requirePc().createOffer();
    return { type: "description", description: description(lastCreated) };
  },
  async create_answer() {
    lastCreated = await requirePc().createAnswer();
    return { type: "description", description: description(lastCreated) };
  },
  async set_local_description(cmd) {
    const p = requirePc();
    await p.setLocalDescription(cmd.description || lastCreated || undefined);
    return { type: "description", description: description(p.localDescription) };
  },
  async set_remote_description(cmd) {
    await requirePc().setRemoteDescription(cmd.description);
    return { type: "done" };
  },
  async add_ice_candidate(cmd) {
    if (cmd.candidate) await requirePc().addIceCandidate(cmd.candidate);
    else await requirePc().addIceCandidate();
    return { type: "done" };
  },
  async send(cmd) {
    const ch = requireChannel(cmd.label);
    const data = cmd.data || {};
    // send() throws what the browser throws (InvalidStateError when the channel is not open,
    // TypeError above the remote's max-message-size...); handle() reports its name and message.
    // Empty payloads ("" and a 0-byte ArrayBuffer) go to send() like any other.
    if (typeof data.text === "string") ch.send(data.text);
    else if (typeof data.binary === "string") ch.send(base64ToBytes(data.binary).buffer);
    else throw namedError("BadRequest", "send: 'data' must be {\"text\": ...} or {\"binary\": ...}");
    return { type: "done" };
  },
  async close_data_channel(cmd) {
    requireChannel(cmd.label).close();
    return { type: "done" };
  },
  async get_stats() {
    const report = await requirePc().getStats();
    return { type: "stats", report: Array.from(report.values()) };
  },
  async echo(cmd) {
    echoLabels.add(requireLabel(cmd));
    return { type: "done" };
  },
  async send_bulk(cmd) {
    const t0 = now();
    const label = requireLabel(cmd);
    for (const field of ["bytes", "chunk", "seed", "high_water", "low_water"]) requireCount(cmd, field);
    requireValue(cmd.bytes > 0 && cmd.chunk > 0 && cmd.high_water > 0, "send_bulk needs bytes, chunk and high_water > 0");
    // bufferedAmountLowThreshold is an `unsigned long`: a larger value would silently wrap.
    requireValue(
      cmd.low_water <= 0xffffffff,
      `low_water ${cmd.low_water} does not fit bufferedAmountLowThreshold (unsigned long)`,
    );
    const ch = requireChannel(label);
    // A channel that is not open is not refused here: the first send() throws, as the browser
    // decides, and the transfer ends as bulk_failed with that error.
    // Started from a new task: handle() posts the `done` response from a microtask of this
    // one, so it is queued before anything the transfer emits (even a transfer that completes
    // without ever waiting).
    setTimeout(() => {
      sendBulk(ch, cmd, t0).catch((e) =>
        emit({ type: "bulk_failed", label, bytes_sent: 0, error: `page error: ${errorText(e)}` }),
      );
    }, 0);
    return { type: "done" };
  },
  async receive_bulk(cmd) {
    const label = requireLabel(cmd);
    const bytes = requireCount(cmd, "bytes");
    // With nothing to wait for there would be no message to time first_t / last_t.
    requireValue(bytes > 0, "receive_bulk needs bytes > 0");
    const running = bulkReceivers.get(label);
    if (running) {
      log(
        "warn",
        `receive_bulk on '${label}' replaced an unfinished one (${running.received} of ` +
          `${running.bytes} bytes in ${running.messages} messages)`,
      );
    }
    bulkReceivers.set(label, { bytes, received: 0, messages: 0, hash: new Sha256(), firstT: 0, lastT: 0 });
    return { type: "done" };
  },
  async close() {
    forgetPeerConnection();
    return { type: "done" };
  },
};

async function handle(request) {
  if (!request || typeof request !== "object" || !Number.isSafeInteger(request.id)) {
    log("error", `malformed request without a usable id: ${JSON.stringify(request)}`);
    return;
  }
  const cmd = request.command;
  try {
    if (!cmd || typeof cmd !== "object" || typeof cmd.type !== "string") {
      throw namedError("BadRequest", "malformed request: 'command' must be an object with a string 'type'");
    }
    const handler = Object.prototype.hasOwnProperty.call(handlers, cmd.type) ? handlers[cmd.type] : null;
    if (!handler) throw namedError("NotSupportedError", `unknown command '${cmd.type}'`);
    const ok = await handler(cmd);
    post({ kind: "response", id: request.id, t: now(), ok });
  } catch (e) {
    post({
      kind: "response",
      id: request.id,
      t: now(),
      error: { name: errorName(e), message: errorMessage(e) },
    });
  }
}

// What this browser cannot do at all, found by looking at its API (not by its name): keys are
// event names or command types of the protocol. Empty on current Chromium and Firefox.
function unsupportedFeatures() {
  const missing = {};
  const who = `${implementation} ${version}`;
  const proto = typeof RTCDataChannel === "function" ? RTCDataChannel.prototype : {};
  if (!("onclosing" in proto)) {
    missing.data_channel_closing = `${who}: RTCDataChannel has no onclosing event handler`;
  }
  if (!("bufferedAmountLowThreshold" in proto) || !("onbufferedamountlow" in proto)) {
    missing.send_bulk = `${who}: RTCDataChannel has no bufferedAmountLowThreshold / onbufferedamountlow for backpressure`;
  }
  return missing;
}

function consoleText(value) {
  if (typeof value === "string") return value;
  if (value instanceof Error) return errorText(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

// The page's console goes to the harness too (the run folder's console-<peer>.log), keeping
// the browser's own output. A failure inside forwarding must not loop back into it.
let forwardingConsole = false;
for (const level of ["debug", "log", "info", "warn", "error"]) {
  const original = console[level].bind(console);
  console[level] = (...args) => {
    original(...args);
    if (forwardingConsole) return;
    forwardingConsole = true;
    try {
      log(level === "log" ? "info" : level, args.map(consoleText).join(" "));
    } finally {
      forwardingConsole = false;
    }
  };
}
window.addEventListener("error", (e) => log("error", String(e.message)));
window.addEventListener("unhandledrejection", (e) => log("error", `unhandled rejection: ${e.reason}`));

function connect() {
  const url = `ws://${location.host}/control?slot=${encodeURIComponent(params.get("slot"))}&token=${encodeURIComponent(params.get("token"))}`;
  ws = new WebSocket(url);
  ws.onopen = () => {
    status("connected to harness");
    const hello = {
      kind: "hello",
      protocol_version: PROTOCOL_VERSION,
      implementation,
      version,
      detail: navigator.userAgent,
    };
    const unsupported = unsupportedFeatures();
    if (Object.keys(unsupported).length > 0) hello.unsupported = unsupported;
    post(hello);
  };
  ws.onmessage = (e) => {
    let request;
    try {
      request = JSON.parse(e.data);
    } catch (err) {
      log("error", `bad request frame: ${err}`);
      return;
    }
    commandQueue = commandQueue.then(() => handle(request));
  };
  ws.onclose = () => {
    status("harness went away");
    forgetPeerConnection();
  };
}

connect();
