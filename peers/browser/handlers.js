// handlers.js: the protocol's commands: `handlers` (command type -> async handler returning
// the response's `ok` value; the media ones come from media.js) and handle(), which runs one
// request and posts its one response.
"use strict";

const handlers = {
  async create_peer_connection(cmd) {
    // Echo and bulk settings given before the first peer connection apply to it; those of a
    // previous one do not carry over.
    if (session.pc) forgetPeerConnection();
    session.channels.clear();
    // Awaited before `session` is read: a session replaced meanwhile gets the connection.
    const configuration = await rtcConfiguration(cmd.configuration || {});
    session.pc = new RTCPeerConnection(configuration);
    const p = session.pc;
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
    const offer = await requirePc().createOffer();
    session.lastCreated = offer;
    return { type: "description", description: description(offer) };
  },
  async create_answer() {
    const answer = await requirePc().createAnswer();
    session.lastCreated = answer;
    return { type: "description", description: description(answer) };
  },
  async set_local_description(cmd) {
    const p = requirePc();
    await p.setLocalDescription(cmd.description || session.lastCreated || undefined);
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
    session.echoLabels.add(requireLabel(cmd));
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
    const running = session.bulkReceivers.get(label);
    if (running) {
      log(
        "warn",
        `receive_bulk on '${label}' replaced an unfinished one (${running.received} of ` +
          `${running.bytes} bytes in ${running.messages} messages)`,
      );
    }
    session.bulkReceivers.set(label, { bytes, received: 0, messages: 0, hash: new Sha256(), firstT: 0, lastT: 0 });
    return { type: "done" };
  },
  async close() {
    forgetPeerConnection();
    return { type: "done" };
  },
  ...mediaHandlers,
};

// The commands the page knows, for the conformance kit (a function declaration: scripts a
// WebDriver runs see the page's functions, not its top-level consts, in Firefox).
function commandTables() {
  return { fields: Object.keys(COMMAND_FIELDS).sort(), handlers: Object.keys(handlers).sort() };
}

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
    checkFields(cmd);
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
