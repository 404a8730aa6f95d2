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

// The fields of every command and the JSON types each may have (interop_protocol::Command):
// "absent" marks an optional field. Checked before a command runs, as the Rust peer
// deserializes a whole request before it runs it: a known command whose fields do not read
// (a missing or unknown field, a wrong type) is a BadRequest, whatever the page's state.
// What is inside an object field is checked where it is used.
const INTEGER = ["integer"];
const STRING = ["string"];
const COMMAND_FIELDS = {
  create_peer_connection: { configuration: ["object", "absent"] },
  create_data_channel: { label: STRING, init: ["object", "absent"] },
  create_offer: {},
  create_answer: {},
  set_local_description: { description: ["object", "null", "absent"] },
  set_remote_description: { description: ["object"] },
  get_local_description: {},
  rollback: {},
  restart_ice: {},
  add_ice_candidate: { candidate: ["object", "null", "absent"] },
  send: { label: STRING, data: ["object"] },
  close_data_channel: { label: STRING },
  get_stats: {},
  echo: { label: STRING },
  send_bulk: { label: STRING, bytes: INTEGER, chunk: INTEGER, seed: INTEGER, high_water: INTEGER, low_water: INTEGER },
  receive_bulk: { label: STRING, bytes: INTEGER },
  add_media: {
    name: STRING,
    kind: STRING,
    direction: STRING,
    codecs: ["array", "absent"],
    source: ["object", "absent"],
    simulcast: ["array", "absent"],
  },
  set_direction: { name: STRING, direction: STRING },
  replace_track: { name: STRING, source: ["object"] },
  remove_track: { name: STRING },
  request_key_frame: { mid: STRING },
  get_media_report: {},
  close: {},
};

function jsonType(v) {
  if (v === undefined) return "absent";
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  if (Number.isSafeInteger(v) && v >= 0) return "integer";
  return typeof v;
}

// Throws BadRequest unless `cmd` (of a type in COMMAND_FIELDS) has exactly that command's
// fields with allowed types.
function checkFields(cmd) {
  const fields = COMMAND_FIELDS[cmd.type];
  for (const key of Object.keys(cmd)) {
    if (key !== "type" && !Object.prototype.hasOwnProperty.call(fields, key)) {
      throw namedError("BadRequest", `${cmd.type}: unknown field '${key}'`);
    }
  }
  for (const [key, allowed] of Object.entries(fields)) {
    const got = jsonType(cmd[key]);
    if (!allowed.includes(got)) {
      throw namedError(
        "BadRequest",
        `${cmd.type}: '${key}' must be ${allowed.join(" or ")}, got ${got === "absent" ? "nothing" : JSON.stringify(cmd[key])}`,
      );
    }
  }
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
