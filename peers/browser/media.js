// media.js: media: local tracks from the fake capture devices (captureTrack), codec
// preferences, received tracks watched and played (watchReceiver, playAudio), key frame
// requests through a pass-through RTCRtpScriptTransform and its worker, the media report
// (transceiverReport: getStats plus what the page saw itself), forgetMedia, and the media
// command handlers (mediaHandlers, merged into `handlers` by handlers.js). The per-connection
// maps are in `session` (session.js); the transform worker is the page's.
"use strict";

// The size a sent video track gets when `source` does not say, and the frame rate of every
// sent video track (low, to spare the CPU: several browsers share two cores).
const DEFAULT_VIDEO_WIDTH = 320;
const DEFAULT_VIDEO_HEIGHT = 240;
const VIDEO_FRAME_RATE = 15;
const DIRECTIONS = ["sendrecv", "sendonly", "recvonly", "inactive"];

// The worker behind every receiver transform (see ensureTransformWorker); terminated when a
// peer connection is forgotten, made again on next use.
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
  const t = session.media.get(name);
  if (!t) throw namedError("InvalidAccessError", `no transceiver named '${name}' (add_media first)`);
  return t;
}

function stopTrack(track) {
  track.stop();
  session.localTracks.delete(track);
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
  session.localTracks.add(track);
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
        !session.transceiverNames.has(t) &&
        t.mid != null &&
        mediaKind(t) === kind &&
        t.direction !== "stopped" &&
        t.currentDirection !== "stopped" &&
        !t.sender.track &&
        !session.sendersWithTrack.has(t.sender),
    ) || null
  );
}

// The first packet and the first frame of a received track, watched from the `track` event:
// `unmute` (the browser unmutes a remote track when its first RTP packet arrives), a stats poll
// per SSRC (the fallback when unmute never fires, and the only per-SSRC view), and a muted,
// autoplaying media element that plays the track, with requestVideoFrameCallback for video.
function watchReceiver(t, track) {
  const old = session.receiving.get(t);
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
  session.receiving.set(t, w);
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
  for (const [t, w] of session.receiving) {
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

// Stops the media of a session being forgotten (forgetPeerConnection): its local tracks, the
// watching and playing of its received tracks, its key frame transforms, and the transform
// worker. The session's maps themselves go with the session.
function forgetMedia(s) {
  for (const track of s.localTracks) track.stop();
  for (const w of s.receiving.values()) unwatchReceiver(w);
  for (const kt of s.keyFrameTransforms.values()) {
    kt.closed = true;
    kt.port.close();
  }
  if (transformWorker) transformWorker.terminate();
  transformWorker = null;
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
  // The first frame through says the transformer is part of its receiver's pipeline: Firefox
  // may refuse sendKeyFrameRequest() before ("not associated with a video receiver"), while
  // Chromium passes no frame until the key frame asked for comes.
  let flowing = false;
  const pass = new TransformStream({
    transform(frame, controller) {
      if (!flowing) {
        flowing = true;
        if (port) port.postMessage({ flowing: true });
      }
      controller.enqueue(frame);
    },
  });
  transformer.readable.pipeThrough(pass).pipeTo(transformer.writable).catch((e) => {
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
  let kt = session.keyFrameTransforms.get(t);
  if (kt) return kt;
  // What the receiver counted so far, in case installing the transform restarts its stats.
  const before = inboundBySsrc(await t.receiver.getStats());
  kt = session.keyFrameTransforms.get(t);
  if (kt) return kt;
  const channel = new MessageChannel();
  let readyResolve;
  let flowingResolve;
  kt = {
    port: channel.port1,
    ready: new Promise((resolve) => (readyResolve = resolve)),
    // Resolved when the first frame has passed the transformer (see TRANSFORM_WORKER).
    flowing: new Promise((resolve) => (flowingResolve = resolve)),
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
    else if (m.flowing) flowingResolve();
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
  session.keyFrameTransforms.set(t, kt);
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
  const ask = () => {
    const id = kt.nextId++;
    const reply = new Promise((resolve) => kt.pending.set(id, resolve));
    kt.port.postMessage({ id });
    return withTimeout(reply, KEY_FRAME_REQUEST_TIMEOUT_MS, "sendKeyFrameRequest() did not settle");
  };
  let m = await ask();
  if (m.error && m.error.name === "InvalidStateError") {
    // Firefox, right after the transform was installed: asked again once a frame has passed it.
    log("info", `sendKeyFrameRequest() on mid ${t.mid}: ${m.error.message}; asking again after the first frame`);
    await withTimeout(kt.flowing, KEY_FRAME_REQUEST_TIMEOUT_MS, `no frame passed the receiver transform of mid ${t.mid}`);
    m = await ask();
  }
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
  if (rstats) received.push(...receivedStreams(rstats, session.receiving.get(t), session.keyFrameTransforms.get(t)));
  return {
    mid,
    name: nullable(session.transceiverNames.get(t)),
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
    if (session.media.has(name)) throw namedError("InvalidStateError", `a transceiver named '${name}' exists already`);
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
    if (captured) session.sendersWithTrack.add(t.sender);
    session.media.set(name, t);
    session.transceiverNames.set(t, name);
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
    session.sendersWithTrack.add(t.sender);
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
