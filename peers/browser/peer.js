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

// The page's own self-test of the byte pattern and both SHA-256 paths: the values the
// conformance kit (harness/tests/conformance.rs) compares with the protocol crate's generator
// and Rust's sha2. Called through WebDriver only, never by the harness's runs. (A function
// declaration, so that it is reachable from every browser's script-execution scope.)
async function selfTestVectors() {
  const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  const whole = pattern(7, 100000);
  const gen = new Pattern(7);
  const chunked = new Uint8Array(100000);
  chunked.set(gen.next(333), 0);
  chunked.set(gen.next(99667), 333);
  const h = new Sha256();
  h.update(whole.subarray(0, 1000));
  h.update(whole.subarray(1000, 1001));
  h.update(whole.subarray(1001));
  return {
    first: hex(pattern(0, 8)),
    seed1: hex(pattern(1, 16)),
    chunked_equal: hex(chunked) === hex(whole),
    incremental: h.hex(),
    subtle: await sha256hex(whole),
  };
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

// ---------------------------------------------------------------------------------------------
// Media
// ---------------------------------------------------------------------------------------------

// The size a sent video track gets when `source` does not say, and the frame rate of every
// sent video track (low, to spare the CPU: several browsers share two cores).
const DEFAULT_VIDEO_WIDTH = 320;
const DEFAULT_VIDEO_HEIGHT = 240;
const VIDEO_FRAME_RATE = 15;
const DIRECTIONS = ["sendrecv", "sendonly", "recvonly", "inactive"];

// name (the harness's handle from add_media) -> RTCRtpTransceiver, and back.
const media = new Map();
const transceiverNames = new Map();
// Senders this page ever gave a track: such a transceiver is no longer reused by add_media.
let sendersWithTrack = new WeakSet();
// Every track getUserMedia gave this page for the current peer connection; stopped with it.
const localTracks = new Set();
// RTCRtpTransceiver -> what the page observed of its received track (see watchReceiver).
const receiving = new Map();
// RTCRtpTransceiver -> the pass-through receiver transform that sends key frame requests.
const keyFrameTransforms = new Map();
let transformWorker = null;

const who = () => `${implementation} ${version}`;

function mediaKind(t) {
  return t.receiver.track.kind;
}

function sends(direction) {
  return direction === "sendrecv" || direction === "sendonly";
}

function requireName(cmd) {
  if (typeof cmd.name !== "string") throw namedError("BadRequest", `${cmd.type}: 'name' must be a string`);
  return cmd.name;
}

function requireDirection(cmd) {
  if (!DIRECTIONS.includes(cmd.direction)) {
    throw new TypeError(`${cmd.type}: direction ${JSON.stringify(cmd.direction)} is not one of ${DIRECTIONS.join(", ")}`);
  }
  return cmd.direction;
}

function requireTransceiver(cmd) {
  const name = requireName(cmd);
  const t = media.get(name);
  if (!t) throw namedError("InvalidAccessError", `no transceiver named '${name}' (add_media first)`);
  return t;
}

function stopTrack(track) {
  track.stop();
  localTracks.delete(track);
}

// A new local track of `kind` from the fake capture devices the browser was launched with.
// Video asks for exactly the size of `source`; a browser that refuses an exact size gets the
// size as an ideal instead, and the size it picked is logged.
async function captureTrack(kind, source) {
  const s = source || {};
  let constraints;
  let width = null;
  let height = null;
  if (kind === "audio") {
    constraints = { audio: true };
  } else {
    width = s.width ?? DEFAULT_VIDEO_WIDTH;
    height = s.height ?? DEFAULT_VIDEO_HEIGHT;
    constraints = {
      video: { width: { exact: width }, height: { exact: height }, frameRate: { ideal: VIDEO_FRAME_RATE, max: VIDEO_FRAME_RATE } },
    };
  }
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia(constraints);
  } catch (e) {
    if (kind !== "video" || errorName(e) !== "OverconstrainedError") throw e;
    log("warn", `getUserMedia refused exactly ${width}x${height} (${errorText(e)}); asking for it as ideal`);
    constraints.video.width = { ideal: width };
    constraints.video.height = { ideal: height };
    stream = await navigator.mediaDevices.getUserMedia(constraints);
  }
  const track = stream.getTracks()[0];
  localTracks.add(track);
  retryAudiblePlayback();
  if (kind === "video") {
    const got = track.getSettings();
    if (got.width !== width || got.height !== height) {
      log("warn", `getUserMedia gave ${got.width}x${got.height} for ${width}x${height}`);
    }
  }
  return { track, stream };
}

// Codecs that go with the chosen ones (retransmission, redundancy, FEC): kept after them.
function isAuxiliaryCodec(mimeType) {
  const sub = mimeType.slice(mimeType.indexOf("/") + 1).toLowerCase();
  return sub === "rtx" || sub === "red" || sub === "ulpfec" || sub.startsWith("flexfec");
}

function capabilityList(codecs) {
  return `[${[...new Set(codecs.map((c) => c.mimeType))].join(", ")}]`;
}

// The setCodecPreferences list for `codecs` (MIME types in preference order): every receiver
// capability entry of each (all its fmtp variants), then the auxiliary entries. A codec this
// browser cannot receive, or send when `sending`, is a NotSupportedError listing what it can.
function codecPreferences(kind, codecs, sending) {
  const recv = (RTCRtpReceiver.getCapabilities(kind) || { codecs: [] }).codecs;
  const send = sending ? (RTCRtpSender.getCapabilities(kind) || { codecs: [] }).codecs : null;
  const matches = (mime) => (c) => c.mimeType.toLowerCase() === mime.toLowerCase();
  for (const mime of codecs) {
    if (typeof mime !== "string") throw namedError("BadRequest", `add_media: codecs must be MIME type strings, got ${JSON.stringify(mime)}`);
    if (!recv.some(matches(mime))) {
      throw namedError(
        "NotSupportedError",
        `${who()}: ${mime} is not in RTCRtpReceiver.getCapabilities('${kind}'): ${capabilityList(recv)}`,
      );
    }
    if (send && !send.some(matches(mime))) {
      throw namedError(
        "NotSupportedError",
        `${who()}: ${mime} is not in RTCRtpSender.getCapabilities('${kind}') (no encoder): ${capabilityList(send)}`,
      );
    }
  }
  const prefs = [];
  for (const mime of codecs) for (const c of recv.filter(matches(mime))) if (!prefs.includes(c)) prefs.push(c);
  for (const c of recv) if (isAuxiliaryCodec(c.mimeType) && !prefs.includes(c)) prefs.push(c);
  return prefs;
}

// The transceiver add_media reuses, as addTrack does: made by the remote description (this
// page makes transceivers only in add_media, which names them), of this kind, not stopped,
// whose sender never had a track.
function reusableTransceiver(p, kind) {
  return (
    p.getTransceivers().find(
      (t) =>
        !transceiverNames.has(t) &&
        t.mid != null &&
        mediaKind(t) === kind &&
        t.direction !== "stopped" &&
        t.currentDirection !== "stopped" &&
        !t.sender.track &&
        !sendersWithTrack.has(t.sender),
    ) || null
  );
}

// The first packet and the first frame of a received track, watched from the `track` event:
// `unmute` (the browser unmutes a remote track when its first RTP packet arrives), a stats poll
// per SSRC (the fallback when unmute never fires, and the only per-SSRC view), and a muted,
// autoplaying media element that plays the track, with requestVideoFrameCallback for video.
function watchReceiver(t, track) {
  const old = receiving.get(t);
  if (old && old.track === track) return;
  if (old) unwatchReceiver(old);
  const w = {
    track,
    kind: track.kind,
    trackT: now(),
    mutedAtTrack: track.muted,
    unmuteT: null,
    polledT: new Map(), // ssrc -> peer clock of the first stats poll with packetsReceived > 0
    pollTimer: null,
    element: null,
    firstFrameT: null,
    presented: 0,
    width: null,
    height: null,
    stopped: false,
    // Why audible playback was refused, while the audio element plays muted instead.
    autoplayBlocked: null,
    // Every element created for the track (an audio one may be replaced); `element` plays it.
    elements: new Set(),
  };
  receiving.set(t, w);
  track.addEventListener("unmute", () => {
    if (w.unmuteT == null) w.unmuteT = now();
  });
  // A rejected m-line or a stopped transceiver ends the track: nothing more to play or poll
  // (what was seen stays for the report).
  track.addEventListener("ended", () => unwatchReceiver(w));
  if (track.kind === "video") {
    const el = mediaElement(w, t.mid, true);
    w.element = el;
    el.play().catch((e) => {
      if (!w.stopped && track.readyState === "live" && errorName(e) !== "AbortError") {
        log("warn", `playing the received video of mid ${t.mid} failed: ${errorText(e)}`);
      }
    });
    if (typeof el.requestVideoFrameCallback === "function") {
      const onFrame = (_when, meta) => {
        if (w.stopped) return;
        if (w.firstFrameT == null) w.firstFrameT = now();
        w.presented = meta.presentedFrames;
        w.width = meta.width;
        w.height = meta.height;
        el.requestVideoFrameCallback(onFrame);
      };
      el.requestVideoFrameCallback(onFrame);
    }
  } else {
    playAudio(w, t.mid, true);
  }
  const poll = async () => {
    w.pollTimer = null;
    if (w.stopped) return;
    try {
      const stats = await t.receiver.getStats();
      const t1 = now();
      for (const s of stats.values()) {
        if (s.type === "inbound-rtp" && s.packetsReceived > 0 && !w.polledT.has(s.ssrc)) w.polledT.set(s.ssrc, t1);
      }
    } catch {
      // A stopped transceiver or a closed connection: nothing more to see.
      return;
    }
    if (w.stopped) return;
    // Fine-grained while the media is starting, then slower to catch later SSRCs.
    w.pollTimer = setTimeout(poll, now() - w.trackT < 10000 ? 100 : 1000);
  };
  w.pollTimer = setTimeout(poll, 0);
}

// A (muted, playsinline, autoplay) element for the received track of `w`, in the page.
function mediaElement(w, mid, muted) {
  const el = document.createElement(w.kind === "video" ? "video" : "audio");
  el.muted = muted;
  el.autoplay = true;
  if (w.kind === "video") {
    el.playsInline = true;
    el.width = 160;
    el.height = 120;
  }
  el.dataset.mid = String(mid);
  el.srcObject = new MediaStream([w.track]);
  document.body.appendChild(el);
  w.elements.add(el);
  return el;
}

function dropElement(w, el) {
  el.pause();
  el.srcObject = null;
  el.remove();
  w.elements.delete(el);
}

// Plays a received audio track, audibly if the autoplay policy lets the page: Chromium measures
// a received track's audio level (inbound-rtp totalAudioEnergy) after the playout volume, so a
// muted element makes it read 0, as silence would. A refused audible play() (Chromium without
// user activation or an active capture) falls back to a muted element (a new one: Chromium also
// refuses a muted play() on the element it refused), and audio_energy is then only reported when
// positive (see audioEnergy). Retried audibly when the page starts a capture.
function playAudio(w, mid, audible) {
  const el = mediaElement(w, mid, !audible);
  el.play().then(
    () => {
      if (w.stopped) return;
      if (audible) {
        // The audible element replaces a muted one.
        if (w.element && w.element !== el) dropElement(w, w.element);
        w.element = el;
        w.autoplayBlocked = null;
      } else if (w.element) {
        dropElement(w, el);
      } else {
        w.element = el;
      }
    },
    (e) => {
      dropElement(w, el);
      // AbortError: the element lost its source (the track ended, the page dropped it).
      if (w.stopped || w.track.readyState !== "live" || errorName(e) === "AbortError") return;
      if (errorName(e) === "NotAllowedError") {
        if (audible) {
          w.autoplayBlocked = errorText(e);
          if (!w.element) playAudio(w, mid, false);
        } else if (w.autoplayBlocked) {
          w.autoplayBlocked += "; a muted element was refused too";
        }
        return;
      }
      log("warn", `playing the received audio of mid ${mid} failed (muted: ${!audible}): ${errorText(e)}`);
    },
  );
}

// After a capture started, autoplay policies usually allow audible playback.
function retryAudiblePlayback() {
  for (const [t, w] of receiving) {
    if (w.autoplayBlocked && !w.stopped) playAudio(w, t.mid, true);
  }
}

function unwatchReceiver(w) {
  w.stopped = true;
  if (w.pollTimer) clearTimeout(w.pollTimer);
  w.pollTimer = null;
  for (const el of [...w.elements]) dropElement(w, el);
  w.element = null;
}

function forgetMedia() {
  for (const track of localTracks) track.stop();
  localTracks.clear();
  for (const w of receiving.values()) unwatchReceiver(w);
  receiving.clear();
  for (const kt of keyFrameTransforms.values()) {
    kt.closed = true;
    kt.port.close();
  }
  keyFrameTransforms.clear();
  if (transformWorker) transformWorker.terminate();
  transformWorker = null;
  media.clear();
  transceiverNames.clear();
  sendersWithTrack = new WeakSet();
}

// --- key frame requests through RTCRtpScriptTransform ------------------------------------------

// The worker behind every receiver transform of this page: frames pass through unchanged; a
// message on a transform's port asks RTCRtpScriptTransformer.sendKeyFrameRequest(). It first
// reports what it finds of the API (the probe).
const TRANSFORM_WORKER = `"use strict";
self.postMessage({
  probe: {
    transformer: typeof RTCRtpScriptTransformer === "function",
    sendKeyFrameRequest:
      typeof RTCRtpScriptTransformer === "function" && "sendKeyFrameRequest" in RTCRtpScriptTransformer.prototype,
    onrtctransform: "onrtctransform" in self,
  },
});
self.onrtctransform = (event) => {
  const transformer = event.transformer;
  const port = transformer.options && transformer.options.port;
  transformer.readable.pipeTo(transformer.writable).catch((e) => {
    if (port) port.postMessage({ pipeError: String(e && e.name) + ": " + String(e && e.message) });
  });
  if (!port) return;
  port.onmessage = async (m) => {
    const id = m.data.id;
    try {
      await transformer.sendKeyFrameRequest();
      port.postMessage({ id, ok: true });
    } catch (e) {
      port.postMessage({ id, error: { name: String(e && e.name), message: String(e && e.message) } });
    }
  };
  port.postMessage({ ready: true });
};
`;

let keyFrameSupportPromise = null;

// Resolves to null when this browser can send a key frame request from a receiver transform,
// or to the reason why not (what is missing).
function keyFrameSupport() {
  if (!keyFrameSupportPromise) keyFrameSupportPromise = probeKeyFrameSupport();
  return keyFrameSupportPromise;
}

async function probeKeyFrameSupport() {
  const prefix = `${who()}: no receiver-side key frame request`;
  if (typeof RTCRtpScriptTransform !== "function") {
    return `${prefix}: RTCRtpScriptTransform is not exposed to the page`;
  }
  if (typeof RTCRtpReceiver === "undefined" || !("transform" in RTCRtpReceiver.prototype)) {
    return `${prefix}: RTCRtpReceiver has no 'transform' attribute`;
  }
  let probe;
  try {
    probe = await new Promise((resolve, reject) => {
      const worker = ensureTransformWorker();
      const timer = setTimeout(() => reject(new Error("the worker did not answer within 5 s")), 5000);
      worker.addEventListener("message", function onProbe(e) {
        if (!e.data || !e.data.probe) return;
        worker.removeEventListener("message", onProbe);
        clearTimeout(timer);
        resolve(e.data.probe);
      });
    });
  } catch (e) {
    return `${prefix}: probing RTCRtpScriptTransformer in a worker failed: ${errorText(e)}`;
  }
  if (!probe.transformer) return `${prefix}: RTCRtpScriptTransformer is not exposed to workers`;
  if (!probe.sendKeyFrameRequest) return `${prefix}: RTCRtpScriptTransformer has no sendKeyFrameRequest()`;
  if (!probe.onrtctransform) return `${prefix}: workers have no onrtctransform event handler`;
  return null;
}

function ensureTransformWorker() {
  if (!transformWorker) {
    const url = URL.createObjectURL(new Blob([TRANSFORM_WORKER], { type: "text/javascript" }));
    transformWorker = new Worker(url);
    URL.revokeObjectURL(url);
    transformWorker.onerror = (e) => log("error", `transform worker: ${e.message}`);
  }
  return transformWorker;
}

const KEY_FRAME_REQUEST_TIMEOUT_MS = 5000;

// Counters of inbound-rtp that add up over time (restartedCounters carries them over).
const CUMULATIVE_INBOUND = [
  "packetsReceived",
  "bytesReceived",
  "packetsLost",
  "framesDecoded",
  "keyFramesDecoded",
  "nackCount",
  "pliCount",
  "firCount",
];
// How long after installing a transform a restart of the receive stream is looked for.
const RESTART_WINDOW_MS = 2000;

function inboundBySsrc(stats) {
  const out = new Map();
  for (const s of stats.values()) if (s.type === "inbound-rtp") out.set(s.ssrc, s);
  return out;
}

// Firefox (153) rebuilds the receive stream when receiver.transform is set on a running one:
// its inbound-rtp stats vanish and start again from 0 within ~50 ms (same SSRC and id; the new
// stream starts with a keyframe); Chromium keeps counting. Seen as a packet count below the
// one taken just before the transform was installed, within RESTART_WINDOW_MS.
function checkRestart(kt, inbound) {
  if (kt.restarted !== null) return;
  for (const [ssrc, s] of inbound) {
    const before = kt.before.get(ssrc);
    if (before && s.packetsReceived < before.packetsReceived) {
      kt.restarted = true;
      kt.restartT = now();
      return;
    }
  }
  if (now() - kt.installedT > RESTART_WINDOW_MS) kt.restarted = false;
}

// `s` (an inbound-rtp stats object) with the counters from before a restart added.
function restartedCounters(kt, s) {
  const before = kt && kt.restarted ? kt.before.get(s.ssrc) : null;
  if (!before) return s;
  const sum = Object.assign({}, s);
  for (const k of CUMULATIVE_INBOUND) {
    if (typeof s[k] === "number" && typeof before[k] === "number") sum[k] = s[k] + before[k];
  }
  return sum;
}

// The pass-through receiver transform of `t`, installed on first use (frames keep flowing to
// the decoder unchanged). Resolves once the worker's transformer is ready.
async function keyFrameTransform(t) {
  let kt = keyFrameTransforms.get(t);
  if (kt) return kt;
  // What the receiver counted so far, in case installing the transform restarts its stats.
  const before = inboundBySsrc(await t.receiver.getStats());
  kt = keyFrameTransforms.get(t);
  if (kt) return kt;
  const channel = new MessageChannel();
  let readyResolve;
  kt = {
    port: channel.port1,
    ready: new Promise((resolve) => (readyResolve = resolve)),
    nextId: 1,
    pending: new Map(),
    before,
    installedT: 0,
    restarted: null,
    restartT: null,
    closed: false,
  };
  kt.port.onmessage = (e) => {
    const m = e.data || {};
    if (m.ready) readyResolve();
    else if (m.pipeError) log("error", `receiver transform of mid ${t.mid}: frames stopped: ${m.pipeError}`);
    else if (kt.pending.has(m.id)) {
      kt.pending.get(m.id)(m);
      kt.pending.delete(m.id);
    }
  };
  t.receiver.transform = new RTCRtpScriptTransform(
    ensureTransformWorker(),
    { side: "receiver", port: channel.port2 },
    [channel.port2],
  );
  kt.installedT = now();
  keyFrameTransforms.set(t, kt);
  const watch = async () => {
    if (kt.closed || kt.restarted !== null) return;
    try {
      checkRestart(kt, inboundBySsrc(await t.receiver.getStats()));
    } catch {
      return;
    }
    setTimeout(watch, 20);
  };
  setTimeout(watch, 0);
  return kt;
}

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(namedError("TimeoutError", `${what} within ${ms / 1000} s`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

async function requestKeyFrame(t) {
  const kt = await keyFrameTransform(t);
  await withTimeout(kt.ready, KEY_FRAME_REQUEST_TIMEOUT_MS, `the receiver transform of mid ${t.mid} did not start`);
  const id = kt.nextId++;
  const reply = new Promise((resolve) => kt.pending.set(id, resolve));
  kt.port.postMessage({ id });
  const m = await withTimeout(reply, KEY_FRAME_REQUEST_TIMEOUT_MS, "sendKeyFrameRequest() did not settle");
  if (m.error) throw namedError(m.error.name, `sendKeyFrameRequest(): ${m.error.message}`);
}

// --- the media report ---------------------------------------------------------------------------

// A counter as JSON: a number the browser reported, else null (never a made-up 0).
function num(v) {
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}
function str(v) {
  return typeof v === "string" ? v : null;
}

async function statsOf(what, mid, getter) {
  try {
    return await getter();
  } catch (e) {
    log("warn", `${what}.getStats() of mid ${mid} failed: ${errorText(e)}`);
    return null;
  }
}

function codecOf(stats, s) {
  const c = s.codecId ? stats.get(s.codecId) : null;
  return { codec: c ? str(c.mimeType) : null, payload_type: c ? num(c.payloadType) : null };
}

function sentStream(stats, s) {
  const { codec, payload_type } = codecOf(stats, s);
  return {
    ssrc: num(s.ssrc),
    rid: str(s.rid),
    codec,
    payload_type,
    packets: num(s.packetsSent) ?? 0,
    bytes: num(s.bytesSent) ?? 0,
    frames: num(s.framesEncoded),
    keyframes: num(s.keyFramesEncoded),
    frame_width: num(s.frameWidth),
    frame_height: num(s.frameHeight),
    nack_received: num(s.nackCount),
    pli_received: num(s.pliCount),
    fir_received: num(s.firCount),
    retransmitted_packets: num(s.retransmittedPacketsSent),
  };
}

// What the page saw of a received stream itself: the media element (video) or the audio
// counters, and where first_packet_t comes from.
function receivedEvidence(w, s, firstPacketHow, kt) {
  const parts = [];
  const before = kt && kt.restarted ? kt.before.get(s.ssrc) : null;
  if (before) {
    parts.push(
      `inbound-rtp restarted from 0 when the key frame transform was installed at t=${kt.installedT.toFixed(1)}: ` +
        `counters include the ${before.packetsReceived} packets / ${before.framesDecoded ?? "?"} frames before`,
    );
  }
  if (w && w.kind === "video") {
    const el = w.element;
    const q = el && typeof el.getVideoPlaybackQuality === "function" ? el.getVideoPlaybackQuality() : null;
    if (w.firstFrameT != null) {
      parts.push(`video element: ${w.presented} frames presented, ${w.width}x${w.height}`);
    } else if (typeof HTMLVideoElement.prototype.requestVideoFrameCallback !== "function") {
      parts.push("video element: no requestVideoFrameCallback in this browser");
    } else {
      parts.push("video element: no frame presented yet");
    }
    if (el) {
      parts.push(
        `element ${el.videoWidth}x${el.videoHeight}, readyState ${el.readyState}` +
          (q ? `, ${q.totalVideoFrames} total / ${q.droppedVideoFrames} dropped frames (getVideoPlaybackQuality)` : ""),
      );
    }
  } else if (w && w.kind === "audio") {
    const samples = num(s.totalSamplesReceived);
    const energy = num(s.totalAudioEnergy);
    parts.push(
      `audio: ${samples ?? "?"} samples received, ${num(s.concealedSamples) ?? "?"} concealed, ` +
        `total energy ${energy ?? "?"}, element readyState ${w.element ? w.element.readyState : "-"}` +
        (w.element && w.element.muted ? " (muted)" : ""),
    );
    if (w.autoplayBlocked) {
      parts.push(
        `audible playback was refused (${w.autoplayBlocked}), the element ${w.element ? "plays muted" : "does not play"}` +
          (audioEnergy(w, s) == null
            ? "; audio_energy withheld: a browser that measures after the playout volume (Chromium) reads 0 then"
            : ""),
      );
    }
  }
  if (firstPacketHow) parts.push(`first_packet_t from ${firstPacketHow}`);
  return parts.length ? parts.join("; ") : null;
}

// totalAudioEnergy, except a 0 read while audible playback is refused (the element plays muted,
// or not at all): some browsers (Chromium) measure after the playout volume, so that 0 says
// nothing about what arrived. A positive value proves sound whatever the volume (Firefox
// measures before it).
function audioEnergy(w, s) {
  const energy = num(s.totalAudioEnergy);
  if (w && w.autoplayBlocked && !(energy > 0)) return null;
  return energy;
}

function receivedStreams(stats, w, kt) {
  if (kt) checkRestart(kt, inboundBySsrc(stats));
  const inbound = Array.from(stats.values())
    .filter((s) => s.type === "inbound-rtp")
    .map((s) => restartedCounters(kt, s));
  // unmute tells when the track's first packet arrived: that of the first SSRC the poll saw
  // (or of the only one).
  let firstSsrc = null;
  if (w) {
    let best = Infinity;
    for (const [ssrc, t] of w.polledT) if (t < best) [best, firstSsrc] = [t, ssrc];
  }
  return inbound.map((s) => {
    const { codec, payload_type } = codecOf(stats, s);
    let firstPacketT = null;
    let how = null;
    if (w && w.unmuteT != null && (inbound.length === 1 || s.ssrc === firstSsrc)) {
      firstPacketT = w.unmuteT;
      how = "the track's unmute";
    } else if (w && w.polledT.has(s.ssrc)) {
      firstPacketT = w.polledT.get(s.ssrc);
      how = `the first stats poll with packetsReceived > 0 (${w.mutedAtTrack ? "no unmute" : "track unmuted at the track event"})`;
    }
    const video = w && w.kind === "video";
    return {
      ssrc: num(s.ssrc),
      rid: str(s.rid),
      codec,
      payload_type,
      packets: num(s.packetsReceived) ?? 0,
      bytes: num(s.bytesReceived) ?? 0,
      packets_lost: num(s.packetsLost),
      frames: num(s.framesDecoded),
      keyframes: num(s.keyFramesDecoded),
      frame_width: num(s.frameWidth),
      frame_height: num(s.frameHeight),
      audio_energy: audioEnergy(w, s),
      nack_sent: num(s.nackCount),
      pli_sent: num(s.pliCount),
      fir_sent: num(s.firCount),
      first_packet_t: firstPacketT,
      // The element plays the track, whichever SSRC feeds it: its frames count for a stream
      // that decoded frames (or the only one).
      first_frame_t: video && (inbound.length === 1 || s.framesDecoded > 0) ? w.firstFrameT : null,
      evidence: receivedEvidence(w, s, how, kt),
    };
  });
}

async function transceiverReport(t) {
  const mid = nullable(t.mid);
  const sent = [];
  const received = [];
  const sstats = await statsOf("sender", mid, () => t.sender.getStats());
  if (sstats) {
    // In the order of the sender's encodings (simulcast layers as given), then by SSRC.
    const rids = (t.sender.getParameters().encodings || []).map((e) => e.rid);
    const rank = (s) => (s.rid != null && rids.includes(s.rid) ? rids.indexOf(s.rid) : rids.length);
    const outbound = Array.from(sstats.values()).filter((s) => s.type === "outbound-rtp");
    outbound.sort((x, y) => rank(x) - rank(y) || x.ssrc - y.ssrc);
    for (const s of outbound) sent.push(sentStream(sstats, s));
  }
  const rstats = await statsOf("receiver", mid, () => t.receiver.getStats());
  if (rstats) received.push(...receivedStreams(rstats, receiving.get(t), keyFrameTransforms.get(t)));
  return {
    mid,
    name: nullable(transceiverNames.get(t)),
    kind: mediaKind(t),
    direction: t.direction,
    current_direction: nullable(t.currentDirection),
    has_track: !!t.sender.track,
    sent,
    received,
  };
}

const mediaHandlers = {
  async add_media(cmd) {
    const p = requirePc();
    const name = requireName(cmd);
    if (media.has(name)) throw namedError("InvalidStateError", `a transceiver named '${name}' exists already`);
    const kind = cmd.kind;
    if (kind !== "audio" && kind !== "video") throw new TypeError(`add_media: kind ${JSON.stringify(kind)} is not audio or video`);
    const direction = requireDirection(cmd);
    const codecs = cmd.codecs || [];
    const layers = cmd.simulcast || [];
    const prefs = codecs.length > 0 ? codecPreferences(kind, codecs, sends(direction)) : null;
    const reuse = reusableTransceiver(p, kind);
    if (reuse && layers.length > 0) {
      throw namedError(
        "NotSupportedError",
        `add_media '${name}' reuses the ${kind} transceiver of the remote description (mid ${reuse.mid}); ` +
          "its encodings follow the offer, so simulcast layers can only be set on a new transceiver (addTransceiver sendEncodings)",
      );
    }
    const captured = sends(direction) ? await captureTrack(kind, cmd.source) : null;
    let t;
    try {
      if (reuse) {
        t = reuse;
        if (captured) {
          await t.sender.replaceTrack(captured.track);
          if (typeof t.sender.setStreams === "function") t.sender.setStreams(captured.stream);
        }
        t.direction = direction;
      } else {
        const init = { direction };
        if (captured) init.streams = [captured.stream];
        if (layers.length > 0) {
          init.sendEncodings = layers.map((l) => ({ rid: l.rid, scaleResolutionDownBy: l.scale_resolution_down_by }));
        }
        t = p.addTransceiver(captured ? captured.track : kind, init);
      }
      if (prefs) t.setCodecPreferences(prefs);
    } catch (e) {
      if (captured) stopTrack(captured.track);
      throw e;
    }
    if (captured) sendersWithTrack.add(t.sender);
    media.set(name, t);
    transceiverNames.set(t, name);
    return { type: "done" };
  },
  async set_direction(cmd) {
    const t = requireTransceiver(cmd);
    t.direction = requireDirection(cmd);
    return { type: "done" };
  },
  async replace_track(cmd) {
    const t = requireTransceiver(cmd);
    const captured = await captureTrack(mediaKind(t), cmd.source);
    const old = t.sender.track;
    try {
      await t.sender.replaceTrack(captured.track);
    } catch (e) {
      stopTrack(captured.track);
      throw e;
    }
    sendersWithTrack.add(t.sender);
    if (old) stopTrack(old);
    return { type: "done" };
  },
  async remove_track(cmd) {
    const t = requireTransceiver(cmd);
    requirePc().removeTrack(t.sender);
    return { type: "done" };
  },
  // By mid: the receiving page often did not add the transceiver itself.
  async request_key_frame(cmd) {
    if (typeof cmd.mid !== "string") throw namedError("BadRequest", "request_key_frame: 'mid' must be a string");
    const t = requirePc()
      .getTransceivers()
      .find((x) => x.mid === cmd.mid);
    if (!t) throw namedError("InvalidAccessError", `no transceiver with mid '${cmd.mid}'`);
    const missing = await keyFrameSupport();
    if (missing) throw namedError("NotSupportedError", missing);
    if (mediaKind(t) !== "video") {
      throw namedError("InvalidAccessError", `the transceiver of mid '${cmd.mid}' is ${mediaKind(t)}: key frames are video`);
    }
    await requestKeyFrame(t);
    return { type: "done" };
  },
  async get_media_report() {
    const transceivers = [];
    for (const t of requirePc().getTransceivers()) transceivers.push(await transceiverReport(t));
    return { type: "media", report: { transceivers } };
  },
};

// The page's peer connection and everything tied to it go away together.
function forgetPeerConnection() {
  if (pc) pc.close();
  pc = null;
  // A bare set_local_description on the next connection must not apply this one's offer.
  lastCreated = null;
  forgetMedia();
  channels.clear();
  echoLabels.clear();
  bulkReceivers.clear();
}

async function rtcConfiguration(c) {
  const cfg = {};
  if (c.ice_servers) cfg.iceServers = c.ice_servers;
  if (c.ice_transport_policy) cfg.iceTransportPolicy = c.ice_transport_policy;
  if (c.bundle_policy) cfg.bundlePolicy = c.bundle_policy;
  // `mdns` is decided at launch for a browser (a flag / pref the harness sets): ignored here.
  if (c.certificate) cfg.certificates = [await generateCertificate(c.certificate)];
  return cfg;
}

// RTCPeerConnection.generateCertificate for the protocol's `certificate` names. A browser that
// refuses the algorithm fails with NotSupportedError carrying its own error as evidence.
async function generateCertificate(kind) {
  const keygen = {
    ecdsa: { name: "ECDSA", namedCurve: "P-256" },
    rsa: {
      name: "RSASSA-PKCS1-v1_5",
      modulusLength: 2048,
      publicExponent: new Uint8Array([1, 0, 1]),
      hash: "SHA-256",
    },
  }[kind];
  if (!keygen) throw namedError("NotSupportedError", `unknown certificate kind '${kind}'`);
  try {
    return await RTCPeerConnection.generateCertificate(keygen);
  } catch (e) {
    throw namedError(
      "NotSupportedError",
      `RTCPeerConnection.generateCertificate(${JSON.stringify(keygen)}) failed: ${e.name}: ${e.message}`,
    );
  }
}

const handlers = {
  async create_peer_connection(cmd) {
    // Echo and bulk settings given before the first peer connection apply to it; those of a
    // previous one do not carry over.
    if (pc) forgetPeerConnection();
    channels.clear();
    pc = new RTCPeerConnection(await rtcConfiguration(cmd.configuration || {}));
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
    p.ontrack = (e) => {
      emit({ type: "track", mid: nullable(e.transceiver.mid), kind: e.track.kind });
      watchReceiver(e.transceiver, e.track);
    };
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
  async get_local_description() {
    const d = requirePc().localDescription;
    if (!d) throw namedError("InvalidStateError", "there is no local description");
    return { type: "description", description: description(d) };
  },
  async rollback() {
    await requirePc().setLocalDescription({ type: "rollback" });
    return { type: "done" };
  },
  async restart_ice() {
    requirePc().restartIce();
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
  ...mediaHandlers,
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
    // The protocol's rule (interop_protocol::Command), as in the Rust peer: every command but
    // these two needs a peer connection, echo and receive_bulk included (their modes belong to
    // the connection and go with it).
    if (cmd.type !== "create_peer_connection" && cmd.type !== "close") requirePc();
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
// event names or command types of the protocol.
async function unsupportedFeatures() {
  const missing = {};
  const who = `${implementation} ${version}`;
  const proto = typeof RTCDataChannel === "function" ? RTCDataChannel.prototype : {};
  if (!("onclosing" in proto)) {
    missing.data_channel_closing = `${who}: RTCDataChannel has no onclosing event handler`;
  }
  if (!("bufferedAmountLowThreshold" in proto) || !("onbufferedamountlow" in proto)) {
    missing.send_bulk = `${who}: RTCDataChannel has no bufferedAmountLowThreshold / onbufferedamountlow for backpressure`;
  }
  const keyFrames = await keyFrameSupport();
  if (keyFrames) missing.request_key_frame = keyFrames;
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
    // Posted as a promise: the key frame probe asks a worker, and nothing may precede the hello.
    post(
      unsupportedFeatures().then(
        (unsupported) => {
          if (Object.keys(unsupported).length > 0) hello.unsupported = unsupported;
          return hello;
        },
        (e) => {
          console.error("looking for unsupported features failed", e);
          return hello;
        },
      ),
    );
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
