// The browser peer: drives a real RTCPeerConnection for the harness.
//
// Speaks the peer-control protocol of peers/protocol/src/lib.rs over a WebSocket to the harness
// that served this page (ws://<same host>/control?slot=..&token=..). Commands are handled one at
// a time, in order; every outgoing frame (responses and events) goes through one queue so that
// the harness sees them in the order the page observed them, even when a message digest is
// computed asynchronously. `t` is performance.now(): this page's own clock.
"use strict";

const params = new URLSearchParams(location.search);
const implementation = params.get("impl") || "browser";
const PROTOCOL_VERSION = 1;

let ws = null;
let pc = null;
let lastCreated = null;
const channels = new Map();
let outQueue = Promise.resolve();
let commandQueue = Promise.resolve();

const now = () => performance.now();

function status(text) {
  const el = document.getElementById("status");
  if (el) el.textContent = text;
}

// Queue a frame; `frame` may be a promise (resolved in order).
function post(frame) {
  outQueue = outQueue
    .then(async () => {
      const value = await frame;
      if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(value));
    })
    .catch((e) => console.error("post failed", e));
}

function emit(event) {
  post({ kind: "event", t: now(), event });
}

function emitAsync(t, eventPromise) {
  post(eventPromise.then((event) => ({ kind: "event", t, event })));
}

async function sha256hex(bytes) {
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

function base64ToBytes(b64) {
  const bin = atob(b64);
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

function watchChannel(ch) {
  ch.binaryType = "arraybuffer";
  channels.set(ch.label, ch);
  const label = ch.label;
  ch.onopen = () => emit({ type: "data_channel_open", label });
  ch.onclosing = () => emit({ type: "data_channel_closing", label });
  ch.onclose = () => emit({ type: "data_channel_close", label });
  ch.onerror = (e) =>
    emit({
      type: "data_channel_error",
      label,
      message: (e.error && `${e.error.name}: ${e.error.message}`) || "error",
    });
  ch.onmessage = (e) => {
    const t = now();
    const binary = typeof e.data !== "string";
    const bytes = binary ? new Uint8Array(e.data) : new TextEncoder().encode(e.data);
    emitAsync(
      t,
      sha256hex(bytes).then((sha256) => ({
        type: "data_channel_message",
        label,
        message: { binary, size: bytes.length, sha256 },
      })),
    );
  };
}

function requirePc() {
  if (!pc) {
    const e = new Error("no peer connection: send create_peer_connection first");
    e.name = "InvalidStateError";
    throw e;
  }
  return pc;
}

function requireChannel(label) {
  const ch = channels.get(label);
  if (!ch) {
    const e = new Error(`no data channel labelled '${label}'`);
    e.name = "InvalidAccessError";
    throw e;
  }
  return ch;
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
    if (pc) pc.close();
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
      emit({ type: "data_channel", label: ch.label, id: ch.id, protocol: ch.protocol, ordered: ch.ordered });
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
    return { type: "data_channel", label: ch.label, id: ch.id };
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
    if (cmd.data.text != null) ch.send(cmd.data.text);
    else ch.send(base64ToBytes(cmd.data.binary));
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
  async close() {
    if (pc) pc.close();
    pc = null;
    channels.clear();
    return { type: "done" };
  },
};

async function handle(request) {
  const handler = handlers[request.command && request.command.type];
  try {
    if (!handler) {
      const e = new Error(`unknown command '${request.command && request.command.type}'`);
      e.name = "NotSupportedError";
      throw e;
    }
    const ok = await handler(request.command);
    post({ kind: "response", id: request.id, t: now(), ok });
  } catch (e) {
    post({
      kind: "response",
      id: request.id,
      t: now(),
      error: { name: (e && e.name) || "Error", message: String((e && e.message) || e) },
    });
  }
}

window.addEventListener("error", (e) => emit({ type: "log", level: "error", message: String(e.message) }));
window.addEventListener("unhandledrejection", (e) =>
  emit({ type: "log", level: "error", message: `unhandled rejection: ${e.reason}` }),
);

function connect() {
  const url = `ws://${location.host}/control?slot=${encodeURIComponent(params.get("slot"))}&token=${encodeURIComponent(params.get("token"))}`;
  ws = new WebSocket(url);
  ws.onopen = () => {
    status("connected to harness");
    const m = navigator.userAgent.match(/(?:Chrome|Chromium|Firefox)\/([0-9.]+)/);
    post({
      kind: "hello",
      protocol_version: PROTOCOL_VERSION,
      implementation,
      version: m ? m[1] : "unknown",
      detail: navigator.userAgent,
    });
  };
  ws.onmessage = (e) => {
    let request;
    try {
      request = JSON.parse(e.data);
    } catch (err) {
      emit({ type: "log", level: "error", message: `bad request frame: ${err}` });
      return;
    }
    commandQueue = commandQueue.then(() => handle(request));
  };
  ws.onclose = () => {
    status("harness went away");
    if (pc) pc.close();
    pc = null;
  };
}

connect();
