// session.js: the page's peer connection and everything that belongs to it, as one object
// (`session`, see newSession), and its lifecycle: requirePc, forgetPeerConnection (which
// stops what must be stopped, then replaces the object), and the RTCConfiguration the
// create_peer_connection command builds (rtcConfiguration, generateCertificate).
//
// Every use reads `session` when it runs (never a copy kept across an await), so that work
// still in flight when a connection is forgotten lands in the new session, as it would in
// cleared state.
"use strict";

// The state of one peer connection; a new one (all empty) replaces it when the connection is
// forgotten. Page-lifetime state (the WebSocket and the frame queues in wire.js, the transform
// worker in media.js, console forwarding in peer.js) is not in here.
function newSession() {
  return {
    pc: null,
    // The description create_offer / create_answer made last: what a bare set_local_description
    // applies.
    lastCreated: null,
    // Label -> RTCDataChannel (see watchChannel).
    channels: new Map(),
    // Labels whose received messages are sent back (`echo`); kept for channels that do not
    // exist yet.
    echoLabels: new Set(),
    // Label -> running bulk receive (`receive_bulk`), until its byte count arrived.
    bulkReceivers: new Map(),
    // name (the harness's handle from add_media) -> RTCRtpTransceiver, and back.
    media: new Map(),
    transceiverNames: new Map(),
    // Senders this page ever gave a track: such a transceiver is no longer reused by add_media.
    sendersWithTrack: new WeakSet(),
    // Every track getUserMedia gave this page for the peer connection; stopped with it.
    localTracks: new Set(),
    // RTCRtpTransceiver -> what the page observed of its received track (see watchReceiver).
    receiving: new Map(),
    // RTCRtpTransceiver -> the pass-through receiver transform that sends key frame requests.
    keyFrameTransforms: new Map(),
  };
}

let session = newSession();

function requirePc() {
  if (!session.pc) throw namedError("InvalidStateError", "no peer connection: send create_peer_connection first");
  return session.pc;
}

// The page's peer connection and everything tied to it go away together: the connection is
// closed, its media stopped (forgetMedia), and a new, empty session replaces the old one (so a
// bare set_local_description on the next connection cannot apply this one's offer, nor echo or
// bulk settings carry over).
function forgetPeerConnection() {
  const old = session;
  if (old.pc) old.pc.close();
  forgetMedia(old);
  session = newSession();
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
