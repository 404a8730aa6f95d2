// wire.js: the page's end of the peer-control protocol, and what lives as long as the page:
// who this page is (implementation, version), the WebSocket to the harness (`ws`, opened by
// connect() in peer.js), the one queue every outgoing frame goes through (post, emit, log) and
// the queue of incoming commands, errors as the protocol reports them (errorName, namedError...),
// and the conversions and request-field checks every command handler shares.
"use strict";

const params = new URLSearchParams(location.search);
const implementation = params.get("impl") || "browser";
const PROTOCOL_VERSION = 1;
const versionMatch = navigator.userAgent.match(/(?:Chrome|Chromium|Firefox)\/([0-9.]+)/);
const version = versionMatch ? versionMatch[1] : "unknown";

let ws = null;
let outQueue = Promise.resolve();
let commandQueue = Promise.resolve();

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
