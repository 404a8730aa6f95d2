// peer.js: the browser peer's boot: the Hello (with what this browser cannot do,
// unsupportedFeatures), the page's console forwarded to the harness, and connect(), which
// opens the control WebSocket and feeds every request to handle() one at a time. Loaded last.
//
// The browser peer drives a real RTCPeerConnection for the harness. It speaks the peer-control
// protocol of peers/protocol/src/lib.rs over a WebSocket to the harness that served this page
// (ws://<same host>/control?slot=..&token=..). Commands are handled one at a time, in order;
// every outgoing frame (responses and events) goes through one queue so that the harness sees
// them in the order the page observed them, even when a message digest is computed
// asynchronously. `t` is performance.now(): this page's own clock.
//
// It is several classic scripts sharing the page's global scope, loaded in this order by
// peer.html (each says at its top what it owns):
//   pure.js      Pattern, Sha256, sha256hex, selfTestVectors: no DOM, no page state
//   wire.js      page identity, the WebSocket, the frame queue (post / emit / log), errors
//   session.js   the per-connection state (`session`) and its lifecycle
//   channels.js  data channels and bulk transfers
//   media.js     tracks, codecs, received media, key frame requests, the media report
//   handlers.js  the command handlers and handle()
//   peer.js      this file: Hello, console forwarding, connect()
"use strict";

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
